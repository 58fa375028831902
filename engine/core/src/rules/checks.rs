//! Pure checks of identifiers and months that both rules (as Rhai host functions) and the
//! form validator use: resident ID numbers (GB 11643-1999), Luhn for bank cards, and month
//! arithmetic. Messages are Chinese because they reach applicants and clerks unchanged.

use chrono::{Datelike, NaiveDate};

/// GB 11643-1999 weights of the first 17 digits.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for `S mod 11`.
const CHECK: &[u8; 11] = b"10X98765432";
/// Province-level codes of GB/T 2260 (mainland, then 台湾 71, 香港 81, 澳门 82).
pub(crate) const PROVINCES: [u32; 34] = [
    11, 12, 13, 14, 15, 21, 22, 23, 31, 32, 33, 34, 35, 36, 37, 41, 42, 43, 44, 45, 46, 50, 51, 52,
    53, 54, 61, 62, 63, 64, 65, 71, 81, 82,
];

/// What a valid resident ID number says about its holder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CnId {
    /// The number, with a lowercase `x` made uppercase.
    pub number: String,
    /// Date of birth.
    pub birth: NaiveDate,
    /// `男` (odd sequence) or `女` (even sequence).
    pub gender: &'static str,
    /// The 6-digit region code, e.g. `140522`.
    pub region: String,
    /// The 2-digit province code, e.g. `14`.
    pub province: String,
}

/// Checks a resident ID number: 18 characters, a known province, a real date of birth and
/// the check character. Surrounding spaces are ignored and `x` counts as `X`.
///
/// # Errors
/// The reason it is not valid, in Chinese.
pub fn cn_id(text: &str) -> Result<CnId, String> {
    let number = text.trim().to_uppercase();
    let chars: Vec<char> = number.chars().collect();
    if chars.len() == 15 && chars.iter().all(char::is_ascii_digit) {
        return Err("这是15位的旧身份证号码，请填写18位的居民身份证号码".to_owned());
    }
    if chars.len() != 18 {
        return Err(format!("居民身份证号码应为18位，这里是{}位", chars.len()));
    }
    let (body, last) = chars.split_at(17);
    let digits: Vec<u32> = body.iter().filter_map(|c| c.to_digit(10)).collect();
    if digits.len() != 17 || !(last[0].is_ascii_digit() || last[0] == 'X') {
        return Err("居民身份证号码前17位应为数字，最后一位为数字或X".to_owned());
    }
    let province = digits[0] * 10 + digits[1];
    if !PROVINCES.contains(&province) {
        return Err(format!(
            "居民身份证号码的前两位 {province:02} 不是有效的省级行政区代码"
        ));
    }
    let birth = NaiveDate::parse_from_str(&number[6..14], "%Y%m%d")
        .ok()
        .filter(|d| d.year() >= 1900)
        .ok_or_else(|| format!("居民身份证号码中的出生日期 {} 不存在", &number[6..14]))?;
    let sum: u32 = digits.iter().zip(WEIGHTS).map(|(d, w)| d * w).sum();
    let expected = char::from(CHECK[(sum % 11) as usize]);
    if last[0] != expected {
        return Err("居民身份证号码校验位不正确，请核对号码是否抄错".to_owned());
    }
    Ok(CnId {
        gender: if digits[16] % 2 == 1 { "男" } else { "女" },
        region: number[..6].to_owned(),
        province: number[..2].to_owned(),
        birth,
        number,
    })
}

/// Whether `text` (digits, spaces allowed between groups) passes the Luhn check. Empty
/// text and any other character fail.
pub fn luhn(text: &str) -> bool {
    let digits: Vec<u32> = text
        .chars()
        .filter(|c| *c != ' ')
        .map(|c| c.to_digit(10))
        .collect::<Option<_>>()
        .unwrap_or_default();
    if digits.is_empty() {
        return false;
    }
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2, d * 2) {
            (0, _) => d,
            (_, doubled) if doubled > 9 => doubled - 9,
            (_, doubled) => doubled,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// `"YYYY-MM"` or `"YYYY-MM-DD"` → month index `year * 12 + month - 1`.
///
/// # Errors
/// A Chinese message when the text is neither form or names no real month (or day).
pub fn month_index(text: &str) -> Result<i64, String> {
    let text = text.trim();
    let date = match text.len() {
        7 => NaiveDate::parse_from_str(&format!("{text}-01"), "%Y-%m-%d").ok(),
        10 => NaiveDate::parse_from_str(text, "%Y-%m-%d").ok(),
        _ => None,
    }
    .ok_or_else(|| format!("`{text}` 不是年月（YYYY-MM）或日期（YYYY-MM-DD）"))?;
    Ok(i64::from(date.year()) * 12 + i64::from(date.month0()))
}

/// Month index → `"YYYY-MM"` (years before 1 are clamped to keep the text four digits).
pub fn month_text(index: i64) -> String {
    let index = index.clamp(12, 9999 * 12 + 11);
    format!(
        "{:04}-{:02}",
        index.div_euclid(12),
        index.rem_euclid(12) + 1
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_published_example_is_valid_and_describes_its_holder() {
        let id = cn_id("11010519491231002X").expect("valid");
        assert_eq!(
            id.birth,
            NaiveDate::from_ymd_opt(1949, 12, 31).expect("date")
        );
        assert_eq!(
            (id.gender, id.region.as_str(), id.province.as_str()),
            ("女", "110105", "11")
        );
        assert_eq!(
            cn_id(" 11010519491231002x ").expect("lowercase x").number,
            "11010519491231002X"
        );
    }

    #[test]
    fn a_wrong_check_character_is_refused() {
        let e = cn_id("110105194912310021").expect_err("bad check");
        assert!(e.contains("校验位"), "{e}");
    }

    #[test]
    fn dates_must_exist_and_leap_years_count() {
        // 2000-02-29 is real (leap year); checksum computed for each body.
        assert!(cn_id(&with_check("14052220000229001")).is_ok());
        let e = cn_id(&with_check("14052219000229001")).expect_err("1900 is not a leap year");
        assert!(e.contains("出生日期"), "{e}");
        assert!(cn_id(&with_check("14052219651301001")).is_err());
    }

    #[test]
    fn provinces_must_be_real_and_legacy_numbers_get_a_hint() {
        let e = cn_id(&with_check("99052219650101001")).expect_err("province 99");
        assert!(e.contains("省级"), "{e}");
        assert!(cn_id(&with_check("82052219650101001")).is_ok());
        let e = cn_id("110105491231002").expect_err("15 digits");
        assert!(e.contains("18位"), "{e}");
        assert!(cn_id("1101051949123100").is_err());
        assert!(cn_id("1101051949123100Y2").is_err());
        assert!(cn_id("").is_err());
        assert!(cn_id("一二三").is_err());
    }

    #[test]
    fn gender_follows_the_sequence_number() {
        assert_eq!(
            cn_id(&with_check("14052219650101001"))
                .expect("valid")
                .gender,
            "男"
        );
    }

    #[test]
    fn luhn_accepts_valid_card_numbers_only() {
        assert!(luhn("4111111111111111"));
        assert!(luhn("6222 0200 0000 0000 006") == luhn("6222020000000000006"));
        assert!(luhn("79927398713"));
        assert!(!luhn("79927398710"));
        assert!(!luhn(""));
        assert!(!luhn("4111-1111"));
    }

    #[test]
    fn months_round_trip() {
        assert_eq!(month_index("1965-01"), Ok(1965 * 12));
        assert_eq!(month_index("1965-12-31"), Ok(1965 * 12 + 11));
        assert_eq!(month_text(1965 * 12 + 11), "1965-12");
        assert_eq!(
            month_text(month_index("2024-12").expect("ok") + 2),
            "2025-02"
        );
        assert!(month_index("1965-13").is_err());
        assert!(month_index("196501").is_err());
        assert!(month_index("2025-02-30").is_err());
    }

    /// Appends the right check character to 17 digits.
    fn with_check(body: &str) -> String {
        let sum: u32 = body
            .chars()
            .filter_map(|c| c.to_digit(10))
            .zip(WEIGHTS)
            .map(|(d, w)| d * w)
            .sum();
        format!("{body}{}", char::from(CHECK[(sum % 11) as usize]))
    }
}
