//! Durations as written in definitions: `N workday(s)`, `N day(s)`, `N hour(s)`.

use std::fmt;

use super::model::Duration;

/// Why a duration text was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("无法识别的时限 `{text}`")]
pub struct ParseDurationError {
    /// The text as written.
    pub text: String,
}

impl Duration {
    /// Parses `N workday(s)`, `N day(s)` or `N hour(s)` with N a positive integer.
    ///
    /// # Errors
    /// [`ParseDurationError`] for any other text, and for N = 0.
    pub fn parse(text: &str) -> Result<Duration, ParseDurationError> {
        let error = || ParseDurationError {
            text: text.to_owned(),
        };
        let mut words = text.split_whitespace();
        let (Some(n), Some(unit), None) = (words.next(), words.next(), words.next()) else {
            return Err(error());
        };
        let n: u32 = n.parse().map_err(|_| error())?;
        if n == 0 {
            return Err(error());
        }
        match unit {
            "workday" | "workdays" => Ok(Duration::Workdays(n)),
            "day" | "days" => Ok(Duration::Days(n)),
            "hour" | "hours" => Ok(Duration::Hours(n)),
            _ => Err(error()),
        }
    }
}

impl fmt::Display for Duration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (n, unit) = match *self {
            Duration::Workdays(n) => (n, "workday"),
            Duration::Days(n) => (n, "day"),
            Duration::Hours(n) => (n, "hour"),
        };
        write!(f, "{n} {unit}{}", if n == 1 { "" } else { "s" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit_singular_and_plural() {
        assert_eq!(Duration::parse("1 workday"), Ok(Duration::Workdays(1)));
        assert_eq!(Duration::parse("5 workdays"), Ok(Duration::Workdays(5)));
        assert_eq!(Duration::parse(" 2  days "), Ok(Duration::Days(2)));
        assert_eq!(Duration::parse("48 hours"), Ok(Duration::Hours(48)));
    }

    #[test]
    fn rejects_zero_negative_and_unknown_units() {
        for text in [
            "0 days",
            "-1 day",
            "5",
            "5 weeks",
            "five days",
            "1 day later",
            "",
        ] {
            assert!(Duration::parse(text).is_err(), "{text}");
        }
    }

    #[test]
    fn display_round_trips() {
        for d in [
            Duration::Workdays(1),
            Duration::Days(3),
            Duration::Hours(12),
        ] {
            assert_eq!(Duration::parse(&d.to_string()), Ok(d));
        }
    }
}
