//! Who completes a task: completing claims a task nobody holds in the same transition, and
//! separation of duties (`not_same_as`, 受审分离) keeps whoever completed an earlier step
//! from claiming, being handed or completing a later one of the same case.

use serde_json::json;

use super::*;
use crate::runtime::{Effect, Event};

/// 受理 (or 补正 and back) → 复核, which must be done by someone other than the 受理人.
fn reviewed() -> Process {
    let review = TaskStep {
        not_same_as: vec!["accept".into()],
        ..spec("shebao_clerk", vec![outcome("ok", "done")])
    };
    Flow::new()
        .task(
            "accept",
            "shebao_clerk",
            &[("accept", "review"), ("supplement", "supplement_wait")],
        )
        .wait("supplement_wait", &[("supplied", "accept")])
        .task_spec("review", review)
        .end("done", "办结")
        .build()
}

fn act(
    process: &Process,
    state: &CaseState,
    user: &str,
    command: Command,
) -> Result<Transition, RuntimeError> {
    apply(process, state, &clerk(user), command, now())
}

fn complete(step: &str, state: &CaseState, outcome: &str) -> Command {
    Command::Complete {
        task: task_at(state, step),
        outcome: outcome.into(),
        data: Map::new(),
        reason: None,
    }
}

#[test]
fn completing_an_unclaimed_task_claims_it_in_the_same_transition() {
    let process = reviewed();
    let state = begin(&process, json!({})).state;
    let task = task_at(&state, "accept");
    let done = act(
        &process,
        &state,
        "张三",
        complete("accept", &state, "accept"),
    )
    .expect("completes");
    assert_eq!(
        done.events[..2],
        [
            Event::TaskClaimed {
                task,
                user: "张三".into()
            },
            Event::TaskCompleted {
                task,
                outcome: "accept".into()
            },
        ]
    );
    let closed = done
        .state
        .tasks
        .iter()
        .find(|t| t.id == task)
        .expect("task");
    assert_eq!(closed.claimed_by.as_deref(), Some("张三"));
    assert_eq!(closed.completed_by.as_deref(), Some("张三"));
    assert_eq!(
        done.effects
            .iter()
            .filter(|e| **e == Effect::UpdateTask { task })
            .count(),
        2,
        "the store upserts the task once, whatever the count"
    );
}

#[test]
fn a_refused_completion_claims_nothing() {
    let process = reviewed();
    let state = begin(&process, json!({})).state;
    let err = act(&process, &state, "张三", complete("accept", &state, "nope"));
    assert!(matches!(err, Err(RuntimeError::UnknownOutcome { .. })));
    assert_eq!(state.tasks[0].status, TaskStatus::Open);
    assert_eq!(state.tasks[0].claimed_by, None);
}

#[test]
fn who_accepted_may_neither_claim_nor_complete_nor_be_handed_the_review() {
    let process = reviewed();
    let state = begin(&process, json!({})).state;
    let state = act(
        &process,
        &state,
        "张三",
        complete("accept", &state, "accept"),
    )
    .expect("accepts")
    .state;
    let review = task_at(&state, "review");
    let refused = |result: Result<Transition, RuntimeError>| match result {
        Err(e @ RuntimeError::SamePerson { .. }) => {
            assert_eq!(e.code(), "separation-of-duties");
            let text = e.to_string();
            assert!(
                text.contains("张三") && text.contains("“accept”") && text.contains("“review”"),
                "{text}"
            );
        }
        other => panic!("expected a separation-of-duties refusal, got {other:?}"),
    };
    refused(act(
        &process,
        &state,
        "张三",
        Command::Claim { task: review },
    ));
    refused(act(
        &process,
        &state,
        "张三",
        complete("review", &state, "ok"),
    ));
    let hand = |to: &str| Command::Reassign {
        task: review,
        to: Some(to.into()),
        reason: None,
    };
    refused(act(&process, &state, "科长", hand("张三")));

    // Someone else claims it; even handed back to the role nothing changed for 张三.
    let claimed = act(&process, &state, "李四", Command::Claim { task: review }).expect("claims");
    let handed = act(&process, &state, "科长", hand("李四")).expect("hands over");
    assert_eq!(handed.state.tasks, claimed.state.tasks);
    let done = act(
        &process,
        &claimed.state,
        "李四",
        complete("review", &claimed.state, "ok"),
    )
    .expect("reviews");
    assert!(matches!(
        done.state.status,
        crate::runtime::CaseStatus::Completed { .. }
    ));
}

#[test]
fn every_completion_of_the_earlier_step_counts() {
    let process = reviewed();
    let state = begin(&process, json!({})).state;
    // 张三 asks for supplements, the papers come, 李四 accepts.
    let state = act(
        &process,
        &state,
        "张三",
        complete("accept", &state, "supplement"),
    )
    .expect("supplement requested")
    .state;
    let state = deliver(&process, &state, "supplied", json!({}), &[])
        .expect("supplied")
        .state;
    let state = act(
        &process,
        &state,
        "李四",
        complete("accept", &state, "accept"),
    )
    .expect("accepts")
    .state;
    for user in ["张三", "李四"] {
        let err = act(&process, &state, user, complete("review", &state, "ok"));
        assert!(
            matches!(err, Err(RuntimeError::SamePerson { .. })),
            "{user}: {err:?}"
        );
    }
    act(&process, &state, "王五", complete("review", &state, "ok")).expect("王五 reviews");
}

#[test]
fn steps_without_the_rule_are_done_by_anyone() {
    let process = reviewed();
    let state = begin(&process, json!({})).state;
    let state = act(
        &process,
        &state,
        "张三",
        complete("accept", &state, "supplement"),
    )
    .expect("supplement requested")
    .state;
    let state = deliver(&process, &state, "supplied", json!({}), &[])
        .expect("supplied")
        .state;
    // 受理 again by the same clerk: `accept` itself names no earlier step.
    act(
        &process,
        &state,
        "张三",
        complete("accept", &state, "accept"),
    )
    .expect("accepts again");
}
