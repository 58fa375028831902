//! Commands on tasks: claiming, completing with outcomes, reasons and decision forms,
//! deadlines, the facts rules see, and refusals that leave the state untouched.

use chrono::TimeZone;
use serde_json::json;

use super::*;
use crate::runtime::{Effect, Event};

fn single() -> Process {
    Flow::new()
        .task(
            "accept",
            "shebao_clerk",
            &[("accept", "done"), ("reject", "done")],
        )
        .end("done", "办结")
        .build()
}

fn claim(process: &Process, state: &CaseState, user: &str) -> Result<Transition, RuntimeError> {
    let task = task_at(state, "accept");
    apply(process, state, &clerk(user), Command::Claim { task }, now())
}

fn complete(
    process: &Process,
    state: &CaseState,
    user: &str,
    outcome: &str,
    data: Value,
    reason: Option<&str>,
) -> Result<Transition, RuntimeError> {
    let command = Command::Complete {
        task: task_at(state, "accept"),
        outcome: outcome.into(),
        data: map(data),
        reason: reason.map(str::to_owned),
    };
    apply(process, state, &clerk(user), command, now())
}

#[test]
fn a_second_user_cannot_claim_a_claimed_task() {
    let process = single();
    let state = begin(&process, json!({})).state;
    let claimed = claim(&process, &state, "张三").expect("claims");
    let task = task_at(&state, "accept");
    assert_eq!(claimed.effects, [Effect::UpdateTask { task }]);
    assert_eq!(claimed.state.tasks[0].status, TaskStatus::Claimed);

    let err = claim(&process, &claimed.state, "李四");
    assert!(matches!(err, Err(RuntimeError::ClaimedByOther { holder, .. }) if holder == "张三"));

    let again = claim(&process, &claimed.state, "张三").expect("idempotent");
    assert_eq!(again.state, claimed.state);
    assert!(again.events.is_empty() && again.effects.is_empty());
}

#[test]
fn only_the_holder_gives_a_task_back() {
    let process = single();
    let state = begin(&process, json!({})).state;
    let task = task_at(&state, "accept");
    let state = claim(&process, &state, "张三").expect("claims").state;
    let unclaim = |user: &str| {
        apply(
            &process,
            &state,
            &clerk(user),
            Command::Unclaim { task },
            now(),
        )
    };
    assert!(matches!(
        unclaim("李四"),
        Err(RuntimeError::ClaimedByOther { .. })
    ));
    let back = unclaim("张三").expect("unclaims");
    assert_eq!(back.state.tasks[0].status, TaskStatus::Open);
    assert_eq!(back.state.tasks[0].claimed_by, None);
    assert_eq!(back.events, [Event::TaskUnclaimed { task }]);
}

#[test]
fn reassigning_hands_the_task_over_or_back() {
    let process = single();
    let state = begin(&process, json!({})).state;
    let task = task_at(&state, "accept");
    let reassign = |state: &CaseState, to: Option<&str>| {
        let command = Command::Reassign {
            task,
            to: to.map(str::to_owned),
            reason: None,
        };
        apply(&process, state, &clerk("科长"), command, now()).expect("reassigns")
    };
    let to_wang = reassign(&state, Some("王五"));
    assert_eq!(to_wang.state.tasks[0].claimed_by.as_deref(), Some("王五"));
    assert_eq!(to_wang.state.tasks[0].status, TaskStatus::Claimed);
    let back = reassign(&to_wang.state, None);
    assert_eq!(back.state.tasks[0].status, TaskStatus::Open);
    assert_eq!(back.effects, [Effect::UpdateTask { task }]);
}

#[test]
fn only_the_holder_completes_a_claimed_task() {
    let process = single();
    let state = begin(&process, json!({})).state;
    let state = claim(&process, &state, "张三").expect("claims").state;
    let err = complete(&process, &state, "李四", "accept", json!({}), None);
    assert!(matches!(err, Err(RuntimeError::ClaimedByOther { .. })));
    let done = complete(&process, &state, "张三", "accept", json!({}), None).expect("completes");
    let task = &done.state.tasks[0];
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.completed_by.as_deref(), Some("张三"));
    assert_eq!(task.outcome.as_deref(), Some("accept"));
    assert_eq!(task.closed_at, Some(now()));
    let claim_closed = claim(&process, &state, "王五");
    assert!(claim_closed.is_err());
    let command = Command::Claim { task: task.id };
    let err = apply(&process, &done.state, &clerk("王五"), command, now());
    assert!(matches!(err, Err(RuntimeError::CaseEnded(_))));
}

#[test]
fn a_substitute_works_the_absent_holders_task_and_the_claim_stays_theirs() {
    let process = single();
    let state = begin(&process, json!({})).state;
    let state = claim(&process, &state, "李娜").expect("claims").state;
    let task = task_at(&state, "accept");
    let substitute = Actor {
        on_behalf_of: Some("李娜".into()),
        ..clerk("王强")
    };
    let again = Command::Claim { task };
    let kept = apply(&process, &state, &substitute, again, now()).expect("claims on behalf");
    assert_eq!(kept.state.tasks[0].claimed_by.as_deref(), Some("李娜"));
    let command = Command::Complete {
        task,
        outcome: "accept".into(),
        data: map(json!({})),
        reason: None,
    };
    let done = apply(&process, &state, &substitute, command.clone(), now()).expect("completes");
    assert_eq!(done.state.tasks[0].completed_by.as_deref(), Some("王强"));
    let someone_else = Actor {
        on_behalf_of: Some("赵六".into()),
        ..clerk("王强")
    };
    let err = apply(&process, &state, &someone_else, command, now());
    assert!(matches!(err, Err(RuntimeError::ClaimedByOther { .. })));
}

#[test]
fn an_unknown_outcome_lists_the_allowed_ones() {
    let process = single();
    let state = begin(&process, json!({})).state;
    let err = complete(&process, &state, "张三", "approve", json!({}), None);
    match err {
        Err(RuntimeError::UnknownOutcome {
            outcome, allowed, ..
        }) => {
            assert_eq!(outcome, "approve");
            assert_eq!(allowed, "accept, reject");
        }
        other => panic!("expected UnknownOutcome, got {other:?}"),
    }
}

#[test]
fn a_refusal_needs_a_written_reason() {
    let mut accept = spec(
        "shebao_clerk",
        vec![outcome("accept", "done"), outcome("reject", "refused")],
    );
    if let Some(reject) = accept.outcomes.get_mut("reject") {
        reject.reason_required = true;
        reject.label = "不予受理".into();
    }
    let process = Flow::new()
        .task_spec("accept", accept)
        .end("done", "办结")
        .end("refused", "不予受理")
        .build();
    let state = begin(&process, json!({})).state;
    for reason in [None, Some("  ")] {
        let err = complete(&process, &state, "张三", "reject", json!({}), reason);
        assert!(
            matches!(err, Err(RuntimeError::ReasonRequired { outcome }) if outcome == "不予受理")
        );
    }
    let done = complete(
        &process,
        &state,
        "张三",
        "reject",
        json!({}),
        Some("未达到退休年龄"),
    )
    .expect("refuses");
    assert_eq!(
        done.state.tasks[0].reason.as_deref(),
        Some("未达到退休年龄")
    );
}

/// 审核 with a decision form: opinion (required), verdict (choice), detail (required when the
/// verdict is 不符合), amount (money), start (year-month).
fn review() -> Process {
    let mut task = spec("shebao_clerk", vec![outcome("accept", "done")]);
    let verdict = Field {
        options: vec!["符合".into(), "不符合".into()],
        ..field("verdict", FieldType::Choice, true)
    };
    let detail = Field {
        when: Some(expr(r#"data.verdict == "不符合""#)),
        ..field("detail", FieldType::Text, true)
    };
    let opinion = Field {
        check: Some(expr(
            r#"if data.opinion.len() > 20 { "意见请控制在20字以内" }"#,
        )),
        ..field("opinion", FieldType::Text, true)
    };
    task.form = vec![
        opinion,
        verdict,
        detail,
        field("amount", FieldType::Money, false),
        field("start", FieldType::YearMonth, false),
    ];
    if let Some(accept) = task.outcomes.get_mut("accept") {
        accept.set = assignments(&[("pension", "data.amount * 12.0")]);
    }
    Flow::new()
        .task_spec("accept", task)
        .end("done", "办结")
        .build()
}

fn field_error(result: Result<Transition, RuntimeError>) -> String {
    match result {
        Err(RuntimeError::InvalidField { field, .. }) => field,
        other => panic!("expected InvalidField, got {other:?}"),
    }
}

#[test]
fn the_decision_form_is_checked_before_anything_changes() {
    let process = review();
    let state = begin(&process, json!({})).state;
    let try_with = |data: Value| complete(&process, &state, "张三", "accept", data, None);

    assert_eq!(field_error(try_with(json!({"verdict": "符合"}))), "opinion");
    assert_eq!(
        field_error(try_with(json!({"opinion": " ", "verdict": "符合"}))),
        "opinion"
    );
    let wrong_choice = json!({"opinion": "同意", "verdict": "可以"});
    assert_eq!(field_error(try_with(wrong_choice)), "verdict");
    let needs_detail = json!({"opinion": "不同意", "verdict": "不符合"});
    assert_eq!(field_error(try_with(needs_detail)), "detail");
    let text_amount = json!({"opinion": "同意", "verdict": "符合", "amount": "三千"});
    assert_eq!(field_error(try_with(text_amount)), "amount");
    let bad_month = json!({"opinion": "同意", "verdict": "符合", "start": "2026-13"});
    assert_eq!(field_error(try_with(bad_month)), "start");
    let unknown = json!({"opinion": "同意", "verdict": "符合", "eligible": true});
    assert_eq!(field_error(try_with(unknown)), "eligible");
    let long = json!({"opinion": "同意".repeat(11), "verdict": "符合"});
    match try_with(long) {
        Err(RuntimeError::InvalidField { field, message, .. }) => {
            assert_eq!(
                (field.as_str(), message.as_str()),
                ("opinion", "意见请控制在20字以内")
            );
        }
        other => panic!("expected the check to refuse, got {other:?}"),
    }
}

#[test]
fn decision_values_and_outcome_values_are_written_to_case_data() {
    let process = review();
    let state = begin(&process, json!({})).state;
    let data = json!({"opinion": "同意", "verdict": "符合", "amount": 3000.5, "start": "2026-04"});
    let done = complete(&process, &state, "张三", "accept", data, None).expect("completes");
    assert_eq!(done.state.data.get("opinion"), Some(&json!("同意")));
    assert_eq!(done.state.data.get("pension"), Some(&json!(36006.0)));
    let written = done.events.iter().find_map(|e| match e {
        Event::DataWritten { step, values } if step.as_str() == "accept" => Some(values),
        _ => None,
    });
    let keys: Vec<_> = written
        .map(|v| v.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(keys, ["opinion", "verdict", "amount", "start", "pension"]);
}

#[test]
fn a_failing_rule_refuses_the_command_and_leaves_the_state_as_it_was() {
    let process = review();
    let state = begin(&process, json!({})).state;
    let before = state.clone();
    // `data.amount` is absent, so `() * 12.0` fails inside the outcome's `set`.
    let data = json!({"opinion": "同意", "verdict": "符合"});
    let err = complete(&process, &state, "张三", "accept", data, None);
    assert!(matches!(err, Err(RuntimeError::Rule(_))), "got {err:?}");
    assert_eq!(state, before);
    let retry = json!({"opinion": "同意", "verdict": "符合", "amount": 1});
    assert!(complete(&process, &state, "张三", "accept", retry, None).is_ok());

    let failing_start = Flow::new()
        .fields(&[("years", FieldType::Number)])
        .auto("compute", &[("x", "form.years / 0")], "done")
        .end("done", "办结")
        .build();
    let form = map(json!({"years": 3}));
    let err = start(
        &failing_start,
        case_id(),
        form,
        Vec::new(),
        &clerk("张三"),
        now(),
    );
    assert!(matches!(err, Err(RuntimeError::Rule(_))));
}

#[test]
fn rules_see_form_data_params_materials_and_the_local_date() {
    let process = Flow::new()
        .fields(&[("years", FieldType::Number)])
        .materials(&["roster"])
        .param("min_years", json!(15))
        .auto(
            "compute",
            &[
                ("eligible", "form.years >= params.min_years"),
                ("again", "data.eligible"),
                ("has_roster", r#"materials.contains("roster")"#),
                ("day", "today"),
            ],
            "done",
        )
        .end("done", "办结")
        .build();
    // 2026-03-01 20:00 UTC is already 2026-03-02 04:00 in Beijing.
    let evening = Utc
        .with_ymd_and_hms(2026, 3, 1, 20, 0, 0)
        .single()
        .expect("valid time");
    let form = map(json!({"years": 16}));
    let started = start(
        &process,
        case_id(),
        form,
        vec!["roster".into()],
        &clerk("张三"),
        evening,
    )
    .expect("starts");
    let data = &started.state.data;
    assert_eq!(data.get("eligible"), Some(&json!(true)));
    assert_eq!(data.get("again"), Some(&json!(true)));
    assert_eq!(data.get("has_roster"), Some(&json!(true)));
    assert_eq!(data.get("day"), Some(&json!("2026-03-02")));
}

#[test]
fn start_records_events_and_effects_in_order() {
    let process = single();
    let started = begin(&process, json!({}));
    let task = task_at(&started.state, "accept");
    assert_eq!(
        started.events,
        [
            Event::CaseStarted,
            Event::StepEntered {
                step: "accept".into()
            },
            Event::TaskCreated {
                task,
                step: "accept".into()
            },
        ]
    );
    assert_eq!(started.effects, [Effect::CreateTask { task }]);
    assert_eq!(started.state.tasks[0].department, "shebao");
    assert_eq!(started.state.tasks[0].created_at, now());
    let missing = TaskId(Uuid::nil());
    let command = Command::Claim { task: missing };
    let err = apply(&process, &started.state, &clerk("张三"), command, now());
    assert!(matches!(err, Err(RuntimeError::NoSuchTask(id)) if id == missing));
}

/// 退休信息确认: the retirement date is required to confirm, not to refuse.
#[test]
fn a_field_of_one_outcome_is_required_only_for_that_outcome() {
    let mut task = spec(
        "shebao_clerk",
        vec![outcome("confirm", "done"), outcome("refuse", "declined")],
    );
    task.form = vec![Field {
        outcomes: vec!["confirm".into()],
        ..field("retirement_date", FieldType::YearMonth, true)
    }];
    let process = Flow::new()
        .task_spec("accept", task)
        .end("done", "办结")
        .end("declined", "不予办理")
        .build();
    let state = begin(&process, json!({})).state;
    assert_eq!(
        field_error(complete(&process, &state, "李", "confirm", json!({}), None)),
        "retirement_date"
    );
    let refused = complete(&process, &state, "李", "refuse", json!({}), None).expect("refuses");
    assert!(matches!(
        refused.state.status,
        crate::runtime::CaseStatus::Completed { .. }
    ));
    let confirmed = complete(
        &process,
        &state,
        "李",
        "confirm",
        json!({"retirement_date": "2025-02"}),
        None,
    )
    .expect("confirms");
    assert_eq!(
        confirmed.state.data.get("retirement_date"),
        Some(&json!("2025-02"))
    );
}

#[test]
fn an_outcome_check_blocks_the_outcome_until_its_problems_are_gone() {
    let mut accept = spec(
        "shebao_clerk",
        vec![outcome("accept", "done"), outcome("reject", "refused")],
    );
    if let Some(ok) = accept.outcomes.get_mut("accept") {
        ok.label = "受理".into();
        ok.check = Some(expr(
            r#"if form.insured == false { ["未在本县参保"] } else { [] }"#,
        ));
    }
    let process = Flow::new()
        .fields(&[("insured", FieldType::Bool)])
        .task_spec("accept", accept)
        .end("done", "办结")
        .end("refused", "不予受理")
        .build();
    let blocked = begin(&process, json!({"insured": false})).state;
    let err = complete(&process, &blocked, "张三", "accept", json!({}), None);
    assert!(
        matches!(&err, Err(RuntimeError::OutcomeBlocked { outcome, problems })
            if outcome == "受理" && problems == &["未在本县参保"]),
        "{err:?}"
    );
    // The other outcomes are not held to it; an applicant who passes is accepted.
    assert!(complete(&process, &blocked, "张三", "reject", json!({}), None).is_ok());
    let fine = begin(&process, json!({"insured": true})).state;
    assert!(complete(&process, &fine, "张三", "accept", json!({}), None).is_ok());
    // What the pages ask beforehand is the same answer.
    let step = process.step(&"accept".into()).map(|s| &s.kind);
    let Some(StepKind::Task(task)) = step else {
        panic!("a task step");
    };
    let today = chrono::NaiveDate::from_ymd_opt(2026, 12, 1).expect("a date");
    let check = &task.outcomes["accept"];
    assert_eq!(
        crate::runtime::outcome_problems(&process, &blocked, check, today).ok(),
        Some(vec!["未在本县参保".to_owned()])
    );
    assert_eq!(
        crate::runtime::outcome_problems(&process, &fine, check, today).ok(),
        Some(Vec::new())
    );
}
