//! The times in a case's state, written and read as RFC 3339 text without chrono's
//! formatting machinery.
//!
//! A state holds a dozen times, and the writer serializes the whole state on every
//! transition: chrono's `Display`-based writer cost about 2,500 instructions per time, more
//! than half of serializing a state (`docs/performance.md`, session 12). The text is
//! exactly chrono's (`to_rfc3339_opts(SecondsFormat::AutoSi, true)`: `Z`, and as many
//! fractional digits as the nanoseconds need, 0, 3, 6 or 9), so states written before and
//! after read the same, and a test holds the two together. Times chrono writes in another
//! shape (years outside 0–9999, leap seconds) go through chrono, as does reading any text
//! that is not in this exact shape.

use chrono::{DateTime, Datelike as _, NaiveDate, Timelike as _, Utc};
use serde::{Deserializer, Serializer};

/// The longest text written here: `2026-12-06T08:00:00.123456789+00:00`.
const LONGEST: usize = 35;

/// The date and the time to the second (`2026-12-06T08:00:00`) into `out[..19]`; the
/// nanoseconds, or `None` when chrono writes `at` in another shape (a year outside
/// 0–9999, a leap second).
fn write_seconds(at: &DateTime<Utc>, out: &mut [u8; LONGEST]) -> Option<u32> {
    let year = u32::try_from(at.year()).ok().filter(|y| *y <= 9999)?;
    let nanos = at.nanosecond();
    if nanos >= 1_000_000_000 {
        return None;
    }
    put(out, 0, year, 4);
    put(out, 5, at.month(), 2);
    put(out, 8, at.day(), 2);
    put(out, 11, at.hour(), 2);
    put(out, 14, at.minute(), 2);
    put(out, 17, at.second(), 2);
    for (i, c) in [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')] {
        out[i] = c;
    }
    Some(nanos)
}

/// `value`'s last `digits` decimal digits into `out` from `at`.
fn put(out: &mut [u8; LONGEST], at: usize, value: u32, digits: usize) {
    let mut value = value;
    for i in (0..digits).rev() {
        out[at + i] = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// The fraction (`digits` of them, after a `.`, none without) and then `zone`, after the
/// seconds; the length written.
fn write_fraction(out: &mut [u8; LONGEST], fraction: u32, digits: usize, zone: &[u8]) -> usize {
    let mut end = 19;
    if digits > 0 {
        out[19] = b'.';
        put(out, 20, fraction, digits);
        end = 20 + digits;
    }
    out[end..end + zone.len()].copy_from_slice(zone);
    end + zone.len()
}

/// As few fractional digits as `nanos` needs, of 0, 3, 6 or 9 (chrono's `AutoSi`).
fn auto_si(nanos: u32) -> (u32, usize) {
    if nanos == 0 {
        (0, 0)
    } else if nanos.is_multiple_of(1_000_000) {
        (nanos / 1_000_000, 3)
    } else if nanos.is_multiple_of(1_000) {
        (nanos / 1_000, 6)
    } else {
        (nanos, 9)
    }
}

/// `at` as chrono writes it, into `out`; `None` when chrono writes it in another shape.
fn write(at: &DateTime<Utc>, out: &mut [u8; LONGEST]) -> Option<usize> {
    let (fraction, digits) = auto_si(write_seconds(at, out)?);
    Some(write_fraction(out, fraction, digits, b"Z"))
}

/// The written bytes as text: always, as only ASCII digits and separators are written.
fn text(out: &[u8]) -> Option<String> {
    std::str::from_utf8(out).ok().map(str::to_owned)
}

/// `at` as chrono's `to_rfc3339_opts(SecondsFormat::AutoSi, false)` writes it
/// (`2026-12-06T08:00:00.123+00:00`): the text the store binds for a time on SQLite, as
/// the pooled driver does, several times on every transition.
#[must_use]
pub fn rfc3339_offset(at: &DateTime<Utc>) -> String {
    let mut out = [0u8; LONGEST];
    write_seconds(at, &mut out)
        .and_then(|nanos| {
            let (fraction, digits) = auto_si(nanos);
            let len = write_fraction(&mut out, fraction, digits, b"+00:00");
            text(&out[..len])
        })
        .unwrap_or_else(|| at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false))
}

/// `at` with exactly six fractional digits, as chrono's `%Y-%m-%dT%H:%M:%S%.6fZ` writes
/// it: fixed-width text whose order is the times' order (the inbox's sort key).
#[must_use]
pub fn micros(at: &DateTime<Utc>) -> String {
    const FORMAT: &str = "%Y-%m-%dT%H:%M:%S%.6fZ";
    let mut out = [0u8; LONGEST];
    write_seconds(at, &mut out)
        .and_then(|nanos| {
            let len = write_fraction(&mut out, nanos / 1_000, 6, b"Z");
            text(&out[..len])
        })
        .unwrap_or_else(|| at.format(FORMAT).to_string())
}

/// `text` read back, when it has exactly the shape [`write`] gives; `None` otherwise.
fn read(text: &[u8]) -> Option<DateTime<Utc>> {
    let number = |from: usize, digits: usize| -> Option<u32> {
        let part = text.get(from..from + digits)?;
        part.iter().try_fold(0u32, |n, c| {
            c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
        })
    };
    let fixed = [(4, b'-'), (7, b'-'), (10, b'T'), (13, b':'), (16, b':')];
    if text.len() < 20 || fixed.iter().any(|(i, c)| text[*i] != *c) {
        return None;
    }
    let nanos = match (text[19], text.len()) {
        (b'Z', 20) => 0,
        (b'.', 24) => number(20, 3)? * 1_000_000,
        (b'.', 27) => number(20, 6)? * 1_000,
        (b'.', 30) => number(20, 9)?,
        _ => return None,
    };
    if text.last() != Some(&b'Z') {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(
        i32::try_from(number(0, 4)?).ok()?,
        number(5, 2)?,
        number(8, 2)?,
    )?;
    let time = date.and_hms_nano_opt(number(11, 2)?, number(14, 2)?, number(17, 2)?, nanos)?;
    Some(time.and_utc())
}

/// For `#[serde(with = "moment")]` on a `DateTime<Utc>`.
///
/// # Errors
/// The serializer's.
pub fn serialize<S: Serializer>(at: &DateTime<Utc>, serializer: S) -> Result<S::Ok, S::Error> {
    let mut out = [0u8; LONGEST];
    match write(at, &mut out) {
        Some(len) => {
            // Only ASCII digits and separators were written.
            let text = std::str::from_utf8(&out[..len]).map_err(serde::ser::Error::custom)?;
            serializer.serialize_str(text)
        }
        None => serde::Serialize::serialize(at, serializer),
    }
}

/// For `#[serde(with = "moment")]` on a `DateTime<Utc>`.
///
/// # Errors
/// Text that is not an RFC 3339 time.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DateTime<Utc>, D::Error> {
    deserializer.deserialize_str(Text)
}

/// Reads the text where the deserializer holds it, without a `String` of its own.
struct Text;

impl serde::de::Visitor<'_> for Text {
    type Value = DateTime<Utc>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an RFC 3339 time")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<DateTime<Utc>, E> {
        match read(text.as_bytes()) {
            Some(at) => Ok(at),
            // What chrono's own `Deserialize` does.
            None => text
                .parse::<DateTime<chrono::FixedOffset>>()
                .map(|at| at.with_timezone(&Utc))
                .map_err(E::custom),
        }
    }
}

/// For `#[serde(with = "moment::option")]` on an `Option<DateTime<Utc>>`.
pub mod option {
    use chrono::{DateTime, Utc};
    use serde::{Deserialize, Deserializer, Serializer};

    /// Writes `None` as null, a time as [`super::serialize`] does.
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<S: Serializer>(
        at: &Option<DateTime<Utc>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        match at {
            Some(at) => super::serialize(at, serializer),
            None => serializer.serialize_none(),
        }
    }

    /// Reads null as `None`, a time as [`super::deserialize`] does.
    ///
    /// # Errors
    /// Text that is not an RFC 3339 time.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<DateTime<Utc>>, D::Error> {
        #[derive(Deserialize)]
        struct Moment(#[serde(with = "super")] DateTime<Utc>);
        Ok(Option::<Moment>::deserialize(deserializer)?.map(|Moment(at)| at))
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone as _};
    use serde::{Deserialize, Serialize};

    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Ours {
        #[serde(with = "super")]
        at: DateTime<Utc>,
        #[serde(with = "super::option")]
        maybe: Option<DateTime<Utc>>,
    }

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Chronos {
        at: DateTime<Utc>,
        maybe: Option<DateTime<Utc>>,
    }

    /// Times of every shape: whole seconds, milli-, micro- and nanoseconds, the ends of the
    /// years written with four digits and past them, a leap second, and a spread between.
    fn times() -> Vec<DateTime<Utc>> {
        let base = Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0).unwrap();
        let mut times = vec![
            base,
            base + Duration::milliseconds(120),
            base + Duration::microseconds(123_400),
            base + Duration::nanoseconds(123_456_789),
            base + Duration::nanoseconds(1),
            Utc.with_ymd_and_hms(0, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(9999, 12, 31, 23, 59, 59).unwrap(),
            Utc.with_ymd_and_hms(10_000, 1, 1, 0, 0, 0).unwrap(),
            Utc.with_ymd_and_hms(-1, 1, 1, 0, 0, 0).unwrap(),
            NaiveDate::from_ymd_opt(2016, 12, 31)
                .and_then(|d| d.and_hms_nano_opt(23, 59, 59, 1_500_000_000))
                .expect("a leap second")
                .and_utc(),
        ];
        // A fixed walk through the years, with every kind of fraction.
        let mut step: i64 = 1;
        for i in 0..2000 {
            step = step.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let nanos = match i % 4 {
                0 => 0,
                1 => (step >> 20).rem_euclid(1000) * 1_000_000,
                2 => (step >> 20).rem_euclid(1_000_000) * 1_000,
                _ => (step >> 20).rem_euclid(1_000_000_000),
            };
            let seconds = (step >> 8).rem_euclid(4_000_000_000);
            times.push(
                Utc.timestamp_opt(seconds, u32::try_from(nanos).expect("below a second"))
                    .unwrap(),
            );
        }
        times
    }

    #[test]
    fn writes_exactly_what_chrono_writes() {
        for at in times() {
            for maybe in [None, Some(at)] {
                let ours = serde_json::to_string(&Ours { at, maybe }).expect("writes");
                let chrono = serde_json::to_string(&Chronos { at, maybe }).expect("writes");
                assert_eq!(ours, chrono, "{at:?}");
            }
        }
    }

    #[test]
    fn micros_and_offsets_are_chronos_text() {
        for at in times() {
            let chrono = at.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string();
            assert_eq!(micros(&at), chrono, "{at:?}");
            let chrono = at.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, false);
            assert_eq!(rfc3339_offset(&at), chrono, "{at:?}");
        }
    }

    #[test]
    fn reads_back_what_either_wrote() {
        for at in times() {
            let text = serde_json::to_string(&Chronos {
                at,
                maybe: Some(at),
            })
            .expect("writes");
            let ours: Ours = serde_json::from_str(&text).expect("reads");
            assert_eq!(
                ours,
                Ours {
                    at,
                    maybe: Some(at)
                },
                "{text}"
            );
        }
    }

    #[test]
    fn reads_other_offsets_and_refuses_what_is_no_time() {
        let ours: Ours =
            serde_json::from_str(r#"{"at": "2026-12-06T16:00:00+08:00", "maybe": null}"#)
                .expect("reads");
        assert_eq!(ours.at, Utc.with_ymd_and_hms(2026, 12, 6, 8, 0, 0).unwrap());
        assert_eq!(ours.maybe, None);
        for bad in ["2026-13-06T08:00:00Z", "2026-02-30T08:00:00Z", "昨天", ""] {
            let text = format!(r#"{{"at": "{bad}", "maybe": null}}"#);
            assert!(serde_json::from_str::<Ours>(&text).is_err(), "{bad}");
        }
    }
}
