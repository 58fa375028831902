//! Control-flow patterns: splits and joins, choices, loops, waiting, termination, guards.

use serde_json::json;

use super::*;
use crate::definition::Material;
use crate::runtime::{CaseStatus, Command, Effect, Event, RuntimeError, apply};

#[test]
fn a_sequence_runs_task_by_task_to_the_end() {
    let process = Flow::new()
        .task("accept", "shebao_clerk", &[("ok", "confirm")])
        .task("confirm", "shebao_clerk", &[("ok", "done")])
        .end("done", "办结")
        .build();
    let started = begin(&process, json!({}));
    assert_eq!(open_steps(&started.state), ["accept"]);
    let state = finished(&process, &started.state, "accept", "ok");
    assert_eq!(open_steps(&state), ["confirm"]);
    let state = finished(&process, &state, "confirm", "ok");
    assert_eq!(
        state.status,
        CaseStatus::Completed {
            result: "办结".into(),
            step: "done".into()
        }
    );
    assert_eq!(state.ended_at, Some(now()));
    assert!(state.tokens.is_empty());
    assert_eq!(trail(&state), ["accept", "confirm", "done"]);
}

/// 受理 → 联办 (parallel or multi-choice) → 医保 / 公积金 → 汇合 → 归档.
fn joint(split: &str, multi: bool, otherwise: Option<&str>) -> Process {
    let flow = Flow::new()
        .fields(&[
            ("joint_medical", FieldType::Bool),
            ("joint_fund", FieldType::Bool),
        ])
        .task("accept", "shebao_clerk", &[("accept", split)]);
    let flow = if multi {
        flow.multi(
            split,
            &[
                ("form.joint_medical", "medical"),
                ("form.joint_fund", "fund"),
            ],
            "joined",
            otherwise,
        )
    } else {
        flow.parallel(split, &["medical", "fund"], "joined")
    };
    flow.task(
        "medical",
        "yibao_clerk",
        &[("done", "joined"), ("reject", "refused")],
    )
    .task("fund", "gjj_clerk", &[("done", "joined")])
    .join("joined", split, "archive")
    .task("archive", "shebao_clerk", &[("done", "done")])
    .end("done", "办结")
    .end("refused", "不予办理")
    .end("no_joint", "办结（未申请联办）")
    .build()
}

#[test]
fn parallel_split_waits_for_every_branch() {
    let process = joint("split", false, None);
    let state = begin(&process, json!({})).state;
    let state = finished(&process, &state, "accept", "accept");
    assert_eq!(open_steps(&state), ["medical", "fund"]);
    assert_eq!(state.frames.len(), 1);
    assert_eq!(state.frames[0].expected, 2);
    let medical = task_at(&state, "medical");
    assert_eq!(
        state
            .tasks
            .iter()
            .find(|t| t.id == medical)
            .map(|t| t.department.as_str()),
        Some("yibao")
    );

    let half = finish(&process, &state, "medical", "done").expect("medical completes");
    assert!(half.events.contains(&Event::BranchJoined {
        join: "joined".into(),
        arrived: 1,
        expected: 2
    }));
    assert_eq!(open_steps(&half.state), ["fund"]);
    assert_eq!(half.state.status, CaseStatus::Active);

    let state = finished(&process, &half.state, "fund", "done");
    assert_eq!(open_steps(&state), ["archive"]);
    assert!(state.frames.is_empty());
    assert_eq!(state.tokens.len(), 1);
    assert!(state.tokens[0].frames.is_empty());
}

#[test]
fn exclusive_choice_takes_the_first_branch_that_holds_and_paths_merge() {
    let process = Flow::new()
        .fields(&[("years", FieldType::Number)])
        .param("min_years", json!(15))
        .auto(
            "compute",
            &[("eligible", "form.years >= params.min_years")],
            "route",
        )
        .choice(
            "route",
            &[(Some("data.eligible"), "confirm")],
            Some("explain"),
        )
        .task("confirm", "shebao_clerk", &[("ok", "archive")])
        .task("explain", "shebao_clerk", &[("ok", "archive")])
        .task("archive", "shebao_clerk", &[("ok", "done")])
        .end("done", "办结")
        .build();

    let eligible = begin(&process, json!({"years": 20}));
    assert_eq!(eligible.state.data.get("eligible"), Some(&json!(true)));
    assert!(eligible.events.contains(&Event::BranchTaken {
        step: "route".into(),
        to: "confirm".into()
    }));
    let state = finished(&process, &eligible.state, "confirm", "ok");
    assert_eq!(open_steps(&state), ["archive"]);

    let short = begin(&process, json!({"years": 10}));
    assert_eq!(open_steps(&short.state), ["explain"]);
    let state = finished(&process, &short.state, "explain", "ok");
    assert_eq!(trail(&state), ["compute", "route", "explain", "archive"]);
}

#[test]
fn a_choice_with_no_branch_and_no_otherwise_is_an_error() {
    let process = Flow::new()
        .fields(&[("years", FieldType::Number)])
        .choice("route", &[(Some("form.years > 100"), "done")], None)
        .end("done", "办结")
        .build();
    let err = start(
        &process,
        case_id(),
        map(json!({"years": 1})),
        Vec::new(),
        &clerk("张三"),
        now(),
    );
    assert!(matches!(err, Err(RuntimeError::NoBranch(step)) if step.as_str() == "route"));
}

#[test]
fn multi_choice_with_no_branch_goes_to_the_joins_next_step() {
    let process = joint("split", true, None);
    let state = begin(
        &process,
        json!({"joint_medical": false, "joint_fund": false}),
    )
    .state;
    let state = finished(&process, &state, "accept", "accept");
    assert_eq!(open_steps(&state), ["archive"]);
    assert!(state.frames.is_empty());
    assert!(state.tokens[0].frames.is_empty());
}

#[test]
fn multi_choice_with_no_branch_goes_to_otherwise_when_set() {
    let process = joint("split", true, Some("no_joint"));
    let state = begin(
        &process,
        json!({"joint_medical": false, "joint_fund": false}),
    )
    .state;
    let state = finished(&process, &state, "accept", "accept");
    assert!(
        matches!(state.status, CaseStatus::Completed { result, .. } if result == "办结（未申请联办）")
    );
}

#[test]
fn multi_choice_with_one_branch_waits_only_for_that_one() {
    let process = joint("split", true, None);
    let state = begin(
        &process,
        json!({"joint_medical": false, "joint_fund": true}),
    )
    .state;
    let state = finished(&process, &state, "accept", "accept");
    assert_eq!(open_steps(&state), ["fund"]);
    assert_eq!(state.frames[0].expected, 1);
    let state = finished(&process, &state, "fund", "done");
    assert_eq!(open_steps(&state), ["archive"]);
    assert!(state.frames.is_empty());
}

#[test]
fn multi_choice_with_two_branches_synchronizes_both() {
    let process = joint("split", true, None);
    let state = begin(&process, json!({"joint_medical": true, "joint_fund": true})).state;
    let state = finished(&process, &state, "accept", "accept");
    assert_eq!(open_steps(&state), ["medical", "fund"]);
    let state = finished(&process, &state, "fund", "done");
    assert_eq!(open_steps(&state), ["medical"]);
    let state = finished(&process, &state, "medical", "done");
    assert_eq!(open_steps(&state), ["archive"]);
}

#[test]
fn nested_splits_join_innermost_first() {
    let process = Flow::new()
        .parallel("outer", &["inner", "fund"], "outer_join")
        .parallel("inner", &["medical", "review"], "inner_join")
        .task("medical", "yibao_clerk", &[("done", "inner_join")])
        .task("review", "shebao_clerk", &[("done", "inner_join")])
        .join("inner_join", "inner", "outer_join")
        .task("fund", "gjj_clerk", &[("done", "outer_join")])
        .join("outer_join", "outer", "done")
        .end("done", "办结")
        .build();
    let state = begin(&process, json!({})).state;
    assert_eq!(open_steps(&state), ["medical", "review", "fund"]);
    assert_eq!(state.frames.len(), 2);
    let state = finished(&process, &state, "medical", "done");
    let state = finished(&process, &state, "review", "done");
    assert_eq!(state.frames.len(), 1, "the inner frame is popped");
    assert_eq!(state.status, CaseStatus::Active);
    let state = finished(&process, &state, "fund", "done");
    assert!(matches!(state.status, CaseStatus::Completed { .. }));
}

/// 受理 → 补正 → 等待补正 → 受理 again (a new task), or 撤件.
fn supplement_loop() -> Process {
    let mut accept = spec(
        "shebao_clerk",
        vec![
            outcome("accept", "done"),
            outcome("supplement", "wait_supply"),
        ],
    );
    if let Some(supplement) = accept.outcomes.get_mut("supplement") {
        supplement.documents = vec!["supplement_notice".into()];
    }
    Flow::new()
        .materials(&["roster"])
        .task_spec("accept", accept)
        .wait(
            "wait_supply",
            &[("supplied", "accept"), ("withdrawn", "withdrawn")],
        )
        .end("done", "办结")
        .end("withdrawn", "撤件")
        .build()
}

#[test]
fn a_supplement_loop_creates_a_second_task() {
    let process = supplement_loop();
    let started = begin(&process, json!({}));
    let first = task_at(&started.state, "accept");

    let asked = finish(&process, &started.state, "accept", "supplement").expect("supplement");
    // The roster (declared so that it may be handed in) is what the notice asks for.
    assert!(asked.effects.contains(&Effect::IssueDocument {
        document: "supplement_notice".into(),
        step: "accept".into(),
        missing: Some(vec!["roster".into()]),
    }));
    assert_eq!(asked.state.first_supplement, Some(vec!["roster".into()]));
    assert!(open_steps(&asked.state).is_empty());
    assert_eq!(asked.state.tokens[0].step.as_str(), "wait_supply");

    let supplied = deliver(
        &process,
        &asked.state,
        "supplied",
        json!({"note": "已补"}),
        &["roster"],
    )
    .expect("supplied");
    let second = task_at(&supplied.state, "accept");
    assert_ne!(first, second);
    assert_eq!(supplied.state.tasks.len(), 2);
    assert_eq!(supplied.state.materials, ["roster"]);
    assert_eq!(supplied.state.data.get("note"), Some(&json!("已补")));
    assert_eq!(trail(&supplied.state), ["accept", "wait_supply", "accept"]);
    assert_eq!(supplied.effects, [Effect::CreateTask { task: second }]);
}

#[test]
fn a_wait_step_moves_only_on_its_own_events() {
    let process = supplement_loop();
    let state = begin(&process, json!({})).state;
    let err = deliver(&process, &state, "supplied", json!({}), &[]);
    assert!(
        matches!(err, Err(RuntimeError::NotWaiting(e)) if e == "supplied"),
        "not yet waiting"
    );

    let state = finished(&process, &state, "accept", "supplement");
    let err = deliver(&process, &state, "paid", json!({}), &[]);
    assert!(matches!(err, Err(RuntimeError::NotWaiting(e)) if e == "paid"));

    let withdrawn = deliver(&process, &state, "withdrawn", json!({}), &[]).expect("withdrawn");
    assert!(withdrawn.events.contains(&Event::EventReceived {
        event: "withdrawn".into()
    }));
    assert!(
        matches!(withdrawn.state.status, CaseStatus::Completed { result, .. } if result == "撤件")
    );
}

#[test]
fn cancelling_a_case_cancels_its_open_tasks() {
    let process = joint("split", false, None);
    let state = begin(&process, json!({})).state;
    let state = finished(&process, &state, "accept", "accept");
    let (medical, fund) = (task_at(&state, "medical"), task_at(&state, "fund"));
    let cancel = |reason: &str| {
        let command = Command::Cancel {
            reason: reason.into(),
        };
        apply(&process, &state, &clerk("张三"), command, now())
    };
    assert!(matches!(
        cancel(" "),
        Err(RuntimeError::ReasonRequired { .. })
    ));

    let cancelled = cancel("申请人撤回").expect("cancels");
    assert_eq!(
        cancelled.state.status,
        CaseStatus::Cancelled {
            reason: "申请人撤回".into()
        }
    );
    assert!(open_steps(&cancelled.state).is_empty());
    assert!(cancelled.state.tokens.is_empty() && cancelled.state.frames.is_empty());
    assert_eq!(
        cancelled.events,
        [
            Event::TaskCancelled { task: medical },
            Event::TaskCancelled { task: fund },
            Event::CaseCancelled {
                reason: "申请人撤回".into()
            },
        ]
    );
    assert_eq!(
        cancelled.effects,
        [
            Effect::UpdateTask { task: medical },
            Effect::UpdateTask { task: fund }
        ]
    );
    let claim = Command::Claim { task: fund };
    let err = apply(&process, &cancelled.state, &clerk("张三"), claim, now());
    assert!(matches!(err, Err(RuntimeError::CaseEnded(_))));
}

#[test]
fn an_end_reached_in_one_branch_terminates_the_case() {
    let process = joint("split", false, None);
    let state = begin(&process, json!({})).state;
    let state = finished(&process, &state, "accept", "accept");
    let fund = task_at(&state, "fund");

    let ended = finish(&process, &state, "medical", "reject").expect("rejects");
    assert!(
        matches!(&ended.state.status, CaseStatus::Completed { result, .. } if result == "不予办理")
    );
    assert!(ended.events.contains(&Event::TaskCancelled { task: fund }));
    assert!(ended.effects.contains(&Effect::UpdateTask { task: fund }));
    assert!(ended.state.tokens.is_empty() && ended.state.frames.is_empty());
    assert_eq!(
        open_steps(&state),
        ["medical", "fund"],
        "the input state is untouched"
    );
    let command = Command::Claim { task: fund };
    let err = apply(&process, &ended.state, &clerk("王五"), command, now());
    assert!(matches!(err, Err(RuntimeError::CaseEnded(r)) if r == "不予办理"));
}

#[test]
fn an_end_in_an_earlier_branch_stops_later_branches_from_starting() {
    let process = Flow::new()
        .parallel("split", &["quick", "fund"], "joined")
        .auto("quick", &[], "done")
        .task("fund", "gjj_clerk", &[("done", "joined")])
        .join("joined", "split", "done")
        .end("done", "办结")
        .build();
    let started = begin(&process, json!({}));
    assert!(started.state.tasks.is_empty());
    assert!(matches!(started.state.status, CaseStatus::Completed { .. }));
}

#[test]
fn automatic_steps_in_a_circle_are_stopped() {
    let process = Flow::new()
        .auto("a", &[("n", "1")], "b")
        .auto("b", &[], "a")
        .build();
    let err = start(
        &process,
        case_id(),
        Map::new(),
        Vec::new(),
        &clerk("张三"),
        now(),
    );
    assert!(matches!(err, Err(RuntimeError::Runaway(_))));
}

#[test]
fn the_same_commands_give_the_same_transitions() {
    let run = || {
        let process = joint("split", true, None);
        let form = json!({"joint_medical": true, "joint_fund": true});
        let started = begin(&process, form);
        let accepted = finish(&process, &started.state, "accept", "accept").expect("accept");
        (started, accepted)
    };
    assert_eq!(run(), run());
    let (_, accepted) = run();
    let ids: Vec<_> = accepted.state.tasks.iter().map(|t| t.id).collect();
    assert_eq!(ids.len(), 3);
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
}

/// The supplement loop with two materials: the roster always, the fund's list only when the
/// case asks for the fund's joint item.
fn supplement_loop_with_materials() -> Process {
    let mut process = supplement_loop();
    let material = |key: &str, name: &str, when: Option<&str>| Material {
        key: key.into(),
        name: name.into(),
        copies: None,
        unit: None,
        when: when.map(expr),
        note: None,
        why: None,
    };
    process.materials = vec![
        material("roster", "花名表", None),
        material("fund_list", "汇缴变更清册", Some("data.joint_fund == true")),
    ];
    process
}

#[test]
fn a_second_supplement_request_needs_a_reason_and_is_recorded() {
    let process = supplement_loop_with_materials();
    let started = begin(&process, json!({}));
    let asked = finish(&process, &started.state, "accept", "supplement").expect("first request");
    assert_eq!(
        asked.state.first_supplement,
        Some(vec!["roster".to_owned()])
    );
    let supplied = deliver(
        &process,
        &asked.state,
        "supplied",
        json!({"joint_fund": true}),
        &["roster"],
    )
    .expect("supplied");

    // The fund's list was not on the first notice: a second request (二次补正).
    let refused = finish(&process, &supplied.state, "accept", "supplement")
        .expect_err("a second request without a reason");
    assert!(
        matches!(&refused, RuntimeError::SecondSupplementReasonRequired { items } if items == "汇缴变更清册"),
        "{refused:?}"
    );

    let task = task_at(&supplied.state, "accept");
    let asked_again = apply(
        &process,
        &supplied.state,
        &clerk("李四"),
        Command::Complete {
            task,
            outcome: "supplement".into(),
            data: serde_json::Map::new(),
            reason: Some("申请人新增提取住房公积金".into()),
        },
        now(),
    )
    .expect("a second request with a reason");
    assert!(
        asked_again
            .events
            .contains(&Event::SecondSupplementRequested {
                items: vec!["fund_list".into()],
                reason: "申请人新增提取住房公积金".into(),
            })
    );
    assert!(asked_again.effects.contains(&Effect::IssueDocument {
        document: "supplement_notice".into(),
        step: "accept".into(),
        missing: Some(vec!["fund_list".into()]),
    }));
    // The promise stays the first request's.
    assert_eq!(
        asked_again.state.first_supplement,
        Some(vec!["roster".to_owned()])
    );
}
