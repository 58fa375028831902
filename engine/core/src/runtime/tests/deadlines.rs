//! Task due times: calendar days and hours, working days in the process calendar, and a
//! working-day count that cannot be made (no calendar, or a year without data), which
//! leaves the due time unknown and says so in the events instead of guessing. Also due
//! dates computed by rules, warning times, and the case clock stopping at a wait.

use std::sync::Arc;

use chrono::{TimeDelta, TimeZone};
use serde_json::json;

use super::*;
use crate::definition::{Duration, SourceFile, parse_calendar};
use crate::runtime::{CaseClock, Effect, Event, recount};

fn process(due: Option<Duration>, calendar: bool) -> Process {
    let task = TaskStep {
        due,
        ..spec("shebao_clerk", vec![outcome("ok", "done")])
    };
    let mut process = Flow::new().task_spec("t", task).end("done", "办结").build();
    if calendar {
        let file = SourceFile {
            path: "calendars/cn-mainland.yaml".into(),
            text: include_str!("../../../../../processes/calendars/cn-mainland.yaml").into(),
        };
        process.calendar = Some("cn-mainland".into());
        process.calendar_data = Some(Arc::new(parse_calendar(&file).expect("calendar")));
    }
    process
}

fn started(process: &Process, at: DateTime<Utc>) -> Transition {
    start(
        process,
        case_id(),
        map(json!({})),
        Vec::new(),
        &clerk("张三"),
        at,
    )
    .expect("starts")
}

fn beijing(y: i32, m: u32, d: u32, h: u32, min: u32, s: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Shanghai
        .with_ymd_and_hms(y, m, d, h, min, s)
        .single()
        .expect("valid time")
        .with_timezone(&Utc)
}

fn unknown_deadlines(t: &Transition) -> Vec<&Event> {
    t.events
        .iter()
        .filter(|e| matches!(e, Event::DeadlineUnknown { .. }))
        .collect()
}

#[test]
fn days_and_hours_are_added_to_the_creation_time() {
    let due = |d| started(&process(Some(d), false), now()).state.tasks[0].due_at;
    assert_eq!(due(Duration::Days(3)), Some(now() + TimeDelta::days(3)));
    assert_eq!(due(Duration::Hours(4)), Some(now() + TimeDelta::hours(4)));
    let none = started(&process(None, false), now());
    assert_eq!(none.state.tasks[0].due_at, None);
    assert!(unknown_deadlines(&none).is_empty());
}

#[test]
fn working_days_end_at_the_close_of_the_nth_working_day_in_beijing() {
    let p = process(Some(Duration::Workdays(1)), true);
    // Monday 2026-03-02 09:00 → end of Tuesday.
    let t = started(&p, now());
    assert_eq!(
        t.state.tasks[0].due_at,
        Some(beijing(2026, 3, 3, 23, 59, 59))
    );
    assert!(unknown_deadlines(&t).is_empty());
    // 国庆 2026: Wednesday 09-30 16:00 → Thursday 10-08, after the holiday.
    let t = started(&p, beijing(2026, 9, 30, 16, 0, 0));
    assert_eq!(
        t.state.tasks[0].due_at,
        Some(beijing(2026, 10, 8, 23, 59, 59))
    );
    // Friday 2025-09-26 afternoon → the 调休 Sunday 09-28; five days → 10-10.
    let t = started(&p, beijing(2025, 9, 26, 15, 0, 0));
    assert_eq!(
        t.state.tasks[0].due_at,
        Some(beijing(2025, 9, 28, 23, 59, 59))
    );
    let p5 = process(Some(Duration::Workdays(5)), true);
    let t = started(&p5, beijing(2025, 9, 26, 15, 0, 0));
    assert_eq!(
        t.state.tasks[0].due_at,
        Some(beijing(2025, 10, 10, 23, 59, 59))
    );
    // 春节 2026: Friday 02-13 → 调休 Saturday 02-14 → after the break, 02-24.
    let p2 = process(Some(Duration::Workdays(2)), true);
    let t = started(&p2, beijing(2026, 2, 13, 17, 0, 0));
    assert_eq!(
        t.state.tasks[0].due_at,
        Some(beijing(2026, 2, 24, 23, 59, 59))
    );
}

#[test]
fn a_count_into_a_year_without_data_starts_the_case_and_records_why() {
    let p = process(Some(Duration::Workdays(3)), true);
    // The shipped calendar counts 2027…2037 provisionally; 2038 is past its horizon.
    let t = started(&p, beijing(2037, 12, 29, 10, 0, 0));
    assert_eq!(t.state.tasks[0].due_at, None);
    let task = t.state.tasks[0].id;
    match unknown_deadlines(&t).as_slice() {
        [
            Event::DeadlineUnknown {
                task: id,
                due,
                reason,
            },
        ] => {
            assert_eq!((*id, *due), (task, Duration::Workdays(3)));
            assert!(reason.contains("2038 年"), "{reason}");
        }
        other => panic!("expected one DeadlineUnknown, got {other:?}"),
    }
    // The event follows the task's creation, so the history reads in order.
    let created = t
        .events
        .iter()
        .position(|e| matches!(e, Event::TaskCreated { .. }));
    let unknown = t
        .events
        .iter()
        .position(|e| matches!(e, Event::DeadlineUnknown { .. }));
    assert!(created < unknown);
}

#[test]
fn working_days_without_a_calendar_are_unknown_not_guessed() {
    let t = started(&process(Some(Duration::Workdays(1)), false), now());
    assert_eq!(t.state.tasks[0].due_at, None);
    match unknown_deadlines(&t).as_slice() {
        [Event::DeadlineUnknown { reason, .. }] => assert!(reason.contains("calendar"), "{reason}"),
        other => panic!("expected one DeadlineUnknown, got {other:?}"),
    }
}

fn dated(source: &str, warn: Option<Duration>) -> Process {
    let mut p = process(None, true);
    if let Some(StepKind::Task(task)) = p.steps.get_mut(&StepId::from("t")).map(|s| &mut s.kind) {
        task.due_date = Some(expr(source));
        task.warn = warn;
    }
    p
}

#[test]
fn a_due_date_computed_by_a_rule_ends_that_day_and_warns_before_it() {
    let p = dated(r#""2026-03-20""#, Some(Duration::Workdays(1)));
    let t = started(&p, now());
    assert_eq!(
        t.state.tasks[0].due_at,
        Some(beijing(2026, 3, 20, 23, 59, 59))
    );
    assert_eq!(
        t.state.tasks[0].warn_at,
        Some(beijing(2026, 3, 19, 23, 59, 59))
    );
    assert!(
        !t.events
            .iter()
            .any(|e| matches!(e, Event::DueDateUnknown { .. }))
    );
}

#[test]
fn a_due_date_rule_without_a_date_leaves_the_due_time_empty_and_says_why() {
    let t = started(&dated("42", None), now());
    assert_eq!(t.state.tasks[0].due_at, None);
    match t
        .events
        .iter()
        .filter(|e| matches!(e, Event::DueDateUnknown { .. }))
        .collect::<Vec<_>>()
        .as_slice()
    {
        [Event::DueDateUnknown { reason, .. }] => {
            assert!(reason.contains("YYYY-MM-DD"), "{reason}")
        }
        other => panic!("expected one DueDateUnknown, got {other:?}"),
    }
}

#[test]
fn a_task_born_inside_its_warning_period_is_in_it_from_the_start() {
    let mut p = process(Some(Duration::Hours(4)), false);
    if let Some(StepKind::Task(task)) = p.steps.get_mut(&StepId::from("t")).map(|s| &mut s.kind) {
        task.warn = Some(Duration::Days(1));
    }
    let t = started(&p, now());
    assert_eq!(t.state.tasks[0].warn_at, Some(now()));
}

#[test]
fn without_a_calendar_a_stopped_clock_moves_the_limits_by_the_time_that_passed() {
    let mut p = Flow::new()
        .task("t", "shebao_clerk", &[("wait", "w")])
        .wait("w", &[("back", "done")])
        .end("done", "办结")
        .build();
    p.time_limits.legal = Some(Duration::Days(10));
    let t = started(&p, now());
    assert_eq!(t.state.clock.legal_due, Some(now() + TimeDelta::days(10)));
    let waiting = finished(&p, &t.state, "t", "wait");
    assert_eq!(waiting.clock.paused_since, Some(now()));
    let later = now() + TimeDelta::days(2);
    let command = Command::Deliver {
        event: "back".into(),
        data: Map::new(),
        materials: Vec::new(),
        joint_items: Vec::new(),
    };
    let resumed = apply(&p, &waiting, &Actor::system(), command, later).expect("delivered");
    let clock = &resumed.state.clock;
    assert_eq!(clock.paused_since, None);
    assert_eq!(clock.legal_due, Some(now() + TimeDelta::days(12)));
    assert!(resumed.events.iter().any(
        |e| matches!(e, Event::ClockResumed { workdays: 2, step, .. } if step.as_str() == "w")
    ));
}

#[test]
fn a_case_without_time_limits_never_stops_a_clock() {
    let p = Flow::new()
        .task("t", "shebao_clerk", &[("wait", "w")])
        .wait("w", &[("back", "done")])
        .end("done", "办结")
        .build();
    let t = started(&p, now());
    let waiting = finished(&p, &t.state, "t", "wait");
    assert_eq!(waiting.clock, CaseClock::default());
}

/// A due time counted into 2027 before its notice is provisional; once the calendar holds a
/// 2027 notice, `recount` counts it again from the task's creation, drops the mark and asks
/// for the task row to be written.
#[test]
fn a_provisional_due_time_is_counted_again_in_the_changed_calendar() {
    let p = process(Some(Duration::Workdays(3)), true);
    // Thursday 2026-12-31: 2027-01-01 off, then 01-04, 01-05, 01-06.
    let t = started(&p, beijing(2026, 12, 31, 10, 0, 0));
    let task = &t.state.tasks[0];
    assert_eq!(task.due_at, Some(beijing(2027, 1, 6, 23, 59, 59)));
    assert!(task.provisional);
    // Nothing changed in the calendar: nothing to record.
    assert!(
        recount(&p, &t.state, beijing(2026, 12, 31, 11, 0, 0))
            .events
            .is_empty()
    );

    let mut noticed = p.clone();
    let text = format!(
        "{}  2027:\n    source: 测试\n    holidays:\n      - {{name: 元旦, from: 2027-01-01, to: 2027-01-04}}\n",
        include_str!("../../../../../processes/calendars/cn-mainland.yaml")
    );
    let file = SourceFile {
        path: "calendars/cn-mainland.yaml".into(),
        text,
    };
    noticed.calendar_data = Some(Arc::new(parse_calendar(&file).expect("calendar")));
    let r = recount(&noticed, &t.state, beijing(2026, 12, 31, 11, 0, 0));
    let task = &r.state.tasks[0];
    assert_eq!(task.due_at, Some(beijing(2027, 1, 7, 23, 59, 59)));
    assert!(!task.provisional);
    assert!(matches!(
        r.events.as_slice(),
        [Event::DeadlineRecounted {
            provisional: false,
            ..
        }]
    ));
    assert!(r.effects.contains(&Effect::UpdateTask { task: task.id }));
}
