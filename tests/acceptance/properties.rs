//! Property tests of the checks every form and rule relies on: resident ID numbers
//! (GB 11643-1999 check character), bank cards (Luhn), year-month dates, and working-day
//! arithmetic on the shipped `cn-mainland` calendar. Each property runs a fixed number of
//! cases from a fixed seed, so a failure reproduces exactly.

use chrono::{Datelike, NaiveDate};
use lianban::definition::{Calendar, SourceFile, parse_calendar};
use lianban::rules::{cn_id, luhn, month_index, month_text};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

/// Weights and check characters of GB 11643-1999, written out again here (not taken from
/// the code under test) so a wrong table in the code cannot agree with itself.
const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// A runner with a fixed seed and `cases` cases.
fn runner(cases: u32) -> TestRunner {
    let config = Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    };
    let seed = [7u8; 32];
    TestRunner::new_with_rng(config, TestRng::from_seed(RngAlgorithm::ChaCha, &seed))
}

fn check_char(body: &str) -> char {
    let sum: u32 = body
        .chars()
        .filter_map(|c| c.to_digit(10))
        .zip(WEIGHTS)
        .map(|(d, w)| d * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

/// Valid 18-character ID numbers: a real province and county code, a real birth date
/// between 1900 and 2025, any sequence, and the right check character.
fn valid_id() -> impl Strategy<Value = (String, NaiveDate)> {
    let provinces = prop::sample::select(vec![11u32, 14, 31, 44, 65, 71, 81, 82]);
    (
        provinces,
        0u32..10_000,
        1900i32..2026,
        1u32..=366,
        0u32..1000,
    )
        .prop_filter_map("a real day of the year", |(p, county, year, day, seq)| {
            let birth = NaiveDate::from_yo_opt(year, day)?;
            let body = format!(
                "{p:02}{county:04}{:04}{:02}{:02}{seq:03}",
                birth.year(),
                birth.month(),
                birth.day()
            );
            let check = check_char(&body);
            Some((format!("{body}{check}"), birth))
        })
}

#[test]
fn every_generated_valid_id_number_is_accepted_with_its_birth_date_and_gender() {
    runner(500)
        .run(&valid_id(), |(number, birth)| {
            let id = cn_id(&number).map_err(|e| TestCaseError::fail(format!("{number}: {e}")))?;
            prop_assert_eq!(id.birth, birth);
            prop_assert_eq!(&id.number, &number);
            let sequence_digit = number[16..17].parse::<u32>().unwrap_or(0);
            let gender = if sequence_digit % 2 == 1 {
                "男"
            } else {
                "女"
            };
            prop_assert_eq!(id.gender, gender);
            // A lowercase x and surrounding spaces are the same number.
            let loose = format!("  {}  ", number.to_lowercase());
            prop_assert!(cn_id(&loose).is_ok(), "{loose}");
            Ok(())
        })
        .expect("valid ID numbers are accepted");
}

#[test]
fn any_single_character_change_of_a_valid_id_number_is_refused() {
    // GB 11643's ISO 7064 MOD 11-2 detects every single substitution, so no change of one
    // character (digit or check character) may pass, whatever else it does to the date.
    let strategy = (valid_id(), 0usize..18, 0u32..11);
    runner(500)
        .run(&strategy, |((number, _), at, pick)| {
            let old = number.as_bytes()[at] as char;
            let new = if pick == 10 {
                'X'
            } else {
                char::from_digit(pick, 10).unwrap_or('0')
            };
            prop_assume!(new != old);
            // An X is only allowed as the check character: elsewhere it is refused anyway.
            let mut changed: Vec<char> = number.chars().collect();
            changed[at] = new;
            let changed: String = changed.into_iter().collect();
            prop_assert!(
                cn_id(&changed).is_err(),
                "{changed} (from {number}) was accepted"
            );
            Ok(())
        })
        .expect("single-character changes are refused");
}

#[test]
fn old_fifteen_digit_numbers_letters_and_wrong_lengths_are_refused_with_a_reason() {
    let strategy = prop_oneof![
        "[0-9]{15}",
        "[0-9]{0,14}",
        "[0-9]{19,30}",
        "[0-9]{6}[A-WYZa-wyz][0-9]{11}",
        "[0-9]{17}[A-WYZ]",
        "[^0-9Xx ]{18}",
    ];
    runner(400)
        .run(&strategy, |text| {
            match cn_id(&text) {
                Ok(id) => prop_assert!(false, "{text} accepted as {id:?}"),
                Err(reason) => prop_assert!(reason.contains("身份证"), "{text}: {reason}"),
            }
            Ok(())
        })
        .expect("malformed numbers are refused");
    let fifteen = cn_id("110105491231002").expect_err("15 digits");
    assert!(fifteen.contains("15位"), "{fifteen}");
}

/// The Luhn check digit for `body`, computed the long way round (try all ten).
fn luhn_digit(body: &str) -> char {
    for d in 0..10u32 {
        let digits: Vec<u32> = body
            .chars()
            .filter_map(|c| c.to_digit(10))
            .chain(std::iter::once(d))
            .collect();
        let sum: u32 = digits
            .iter()
            .rev()
            .enumerate()
            .map(|(i, &x)| {
                if i % 2 == 1 {
                    (x * 2) / 10 + (x * 2) % 10
                } else {
                    x
                }
            })
            .sum();
        if sum.is_multiple_of(10) {
            return char::from_digit(d, 10).unwrap_or('0');
        }
    }
    unreachable!("one of ten digits completes any Luhn sum")
}

#[test]
fn bank_cards_pass_luhn_exactly_when_their_check_digit_is_right() {
    let strategy = ("[0-9]{12,18}", 0u32..10);
    runner(500)
        .run(&strategy, |(body, other)| {
            let right = luhn_digit(&body);
            let card = format!("{body}{right}");
            prop_assert!(luhn(&card), "{card}");
            // Spaces between groups of four are how cards are printed.
            let grouped: Vec<String> = card
                .as_bytes()
                .chunks(4)
                .map(|c| String::from_utf8_lossy(c).into_owned())
                .collect();
            prop_assert!(luhn(&grouped.join(" ")), "{}", grouped.join(" "));
            let wrong = char::from_digit(other, 10).unwrap_or('0');
            if wrong != right {
                let bad = format!("{body}{wrong}");
                prop_assert!(!luhn(&bad), "{bad}");
            }
            Ok(())
        })
        .expect("Luhn");
    for text in [
        "",
        " ",
        "4111-1111-1111-1111",
        "411111111111111a",
        "４１１１",
    ] {
        assert!(!luhn(text), "{text:?} passed Luhn");
    }
}

#[test]
fn year_months_round_trip_and_impossible_dates_are_refused() {
    let strategy = (1900i64..2200, 1i64..=12, 1u32..=31);
    runner(500)
        .run(&strategy, |(year, month, day)| {
            let text = format!("{year:04}-{month:02}");
            let index = month_index(&text).map_err(TestCaseError::fail)?;
            prop_assert_eq!(index, year * 12 + month - 1);
            prop_assert_eq!(month_text(index), text.clone());
            let date = format!("{text}-{day:02}");
            let real = NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok();
            match month_index(&date) {
                Ok(i) => {
                    prop_assert!(real, "{date} accepted");
                    prop_assert_eq!(i, index);
                }
                Err(reason) => {
                    prop_assert!(!real, "{date} refused: {reason}");
                    prop_assert!(reason.contains(&date), "{reason}");
                }
            }
            Ok(())
        })
        .expect("year-months");
    for text in [
        "2025-13",
        "2025-00",
        "2025-1",
        "25-01",
        "2025/01",
        "2025-02-30",
        "",
    ] {
        assert!(month_index(text).is_err(), "{text:?} accepted");
    }
}

fn calendar() -> Calendar {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../processes/calendars/cn-mainland.yaml");
    let text = std::fs::read_to_string(&path).expect("the shipped calendar");
    parse_calendar(&SourceFile {
        path: path.display().to_string(),
        text,
    })
    .expect("the shipped calendar loads")
}

/// A day in the calendar's years (2025 and 2026), from the 30th day on so that counting back
/// to the working day before it stays in 2025, and before the 600th so that adding up to 60
/// working days stays within the data.
fn day_in_data() -> impl Strategy<Value = NaiveDate> {
    (30i64..600).prop_map(|n| {
        NaiveDate::from_ymd_opt(2025, 1, 1).unwrap_or_default() + chrono::Duration::days(n)
    })
}

#[test]
fn adding_n_working_days_lands_on_a_working_day_n_working_days_later() {
    let cal = calendar();
    let strategy = (day_in_data(), 1i64..60);
    runner(300)
        .run(&strategy, |(start, n)| {
            let end = cal
                .add_workdays(start, n)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(end > start);
            // Across holidays too, the result is a working day (a 调休 Saturday counts).
            prop_assert!(cal.is_workday(end).unwrap_or(false), "{end}");
            prop_assert_eq!(cal.workdays_between(start, end).ok(), Some(n));
            // And back again: going n working days back from `end` never passes `start`.
            let back = cal
                .add_workdays(end, -n)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(back <= start, "{back} after {start}");
            prop_assert_eq!(cal.workdays_between(end, back).ok(), Some(-n));
            Ok(())
        })
        .expect("add then between");
}

#[test]
fn working_day_arithmetic_is_monotonic() {
    let cal = calendar();
    let strategy = (day_in_data(), 0i64..40, 0i64..40);
    runner(300)
        .run(&strategy, |(start, a, b)| {
            let (small, large) = (a.min(b), a.max(b));
            let x = cal.add_workdays(start, small).ok();
            let y = cal.add_workdays(start, large).ok();
            prop_assert!(x <= y, "{start}+{small}={x:?} > {start}+{large}={y:?}");
            if small < large {
                prop_assert!(x < y);
            }
            // between(start, ·) grows with the end day.
            let d1 = start + chrono::Duration::days(small);
            let d2 = start + chrono::Duration::days(large);
            prop_assert!(
                cal.workdays_between(start, d1).ok() <= cal.workdays_between(start, d2).ok()
            );
            Ok(())
        })
        .expect("monotonic");
}

#[test]
fn counting_into_a_year_without_data_is_an_error_never_a_guess() {
    // Without its `provisional:` rule the shipped calendar holds 2025 and 2026 only.
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../processes/calendars/cn-mainland.yaml");
    let text = std::fs::read_to_string(&path)
        .expect("the shipped calendar")
        .replace("provisional: cn-statutory-2025\n", "");
    let cal = parse_calendar(&SourceFile {
        path: path.display().to_string(),
        text,
    })
    .expect("the strict calendar loads");
    let strategy = (0i64..365, 1i64..400);
    runner(100)
        .run(&strategy, |(offset, n)| {
            let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default()
                + chrono::Duration::days(offset);
            match cal.add_workdays(start, n) {
                Ok(end) => prop_assert!(end.year() == 2026, "{end}"),
                Err(e) => prop_assert!(e.to_string().contains("2027"), "{e}"),
            }
            Ok(())
        })
        .expect("no guessing past the data");
}
