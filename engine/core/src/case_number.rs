//! A case's readable number (办件编号), such as `阳城退休〔2026〕0012`: the county's prefix
//! from its definition (`case_prefix:`), the year the case started in (Beijing time) and a
//! sequence that counts from 1 in each prefix and year without gaps. The store draws the
//! sequence in the transaction that creates the case; this module only writes and reads
//! the text, so the store, the service and the pages agree on it. The case's UUID stays its
//! internal identity (URLs, the API); the number is what people read, print and search.

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Asia::Shanghai;
use serde::{Deserialize, Serialize};

/// A case number as printed: `阳城退休〔2026〕0012`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct CaseNumber(String);

impl CaseNumber {
    /// The number `seq` of `prefix` in `year`, at least four digits (`0012`).
    pub fn new(prefix: &str, year: i32, seq: i64) -> CaseNumber {
        CaseNumber(format!("{prefix}〔{year}〕{seq:04}"))
    }

    /// The number as printed.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The year a case started at `at` is numbered in: the county's (Beijing) year, so a
    /// case started on 1 January at 07:00 local time counts in the new year.
    pub fn year_of(at: DateTime<Utc>) -> i32 {
        at.with_timezone(&Shanghai).year()
    }

    /// What a clerk typed into a search box, written as a stored number would be, when it
    /// looks like one: the brackets may be typed as `[]`, `()`, `（）` or `【】`, spaces
    /// anywhere, and the sequence without its leading zeros (`阳城退休[2026]12`). `None`
    /// when the text has no `prefix〔year〕sequence` shape.
    pub fn from_search(term: &str) -> Option<CaseNumber> {
        let text: String = term.chars().filter(|c| !c.is_whitespace()).collect();
        let open = text.find(['〔', '[', '(', '（', '【'])?;
        let prefix = &text[..open];
        let rest = &text[open..];
        let rest = rest.get(rest.chars().next()?.len_utf8()..)?;
        let close = rest.find(['〕', ']', ')', '）', '】'])?;
        let year = &rest[..close];
        let seq = &rest[close..];
        let seq = seq.get(seq.chars().next()?.len_utf8()..)?;
        let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
        if prefix.is_empty() || year.len() != 4 || !digits(year) || !digits(seq) {
            return None;
        }
        Some(CaseNumber::new(
            prefix,
            year.parse().ok()?,
            seq.trim_start_matches('0').parse().unwrap_or(0),
        ))
    }
}

impl fmt::Display for CaseNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<CaseNumber> for String {
    fn from(number: CaseNumber) -> String {
        number.0
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn numbers_read_as_on_the_papers() {
        assert_eq!(
            CaseNumber::new("阳城退休", 2026, 12).as_str(),
            "阳城退休〔2026〕0012"
        );
        assert_eq!(
            CaseNumber::new("阳城退休", 2026, 12345).to_string(),
            "阳城退休〔2026〕12345"
        );
        let new_year = Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 30, 0)
            .single()
            .expect("time");
        assert_eq!(CaseNumber::year_of(new_year), 2027);
    }

    #[test]
    fn a_number_typed_loosely_is_found() {
        let want = Some(CaseNumber::new("阳城退休", 2026, 12));
        for typed in [
            "阳城退休〔2026〕0012",
            " 阳城退休[2026]12 ",
            "阳城退休（2026）012",
            "阳城退休 【2026】 0012",
            "阳城退休(2026)0012",
        ] {
            assert_eq!(CaseNumber::from_search(typed), want, "{typed}");
        }
        for not in [
            "张三",
            "140522196501151012",
            "〔2026〕0012",
            "阳城退休〔26〕1",
            "阳城退休〔2026〕",
            "阳城退休〔2026〕12a",
        ] {
            assert_eq!(CaseNumber::from_search(not), None, "{not}");
        }
    }
}
