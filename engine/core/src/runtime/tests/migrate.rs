//! Moving a case to another version ([`plan_migration`]): tokens inside a parallel split,
//! claims kept, roles following the new step, and the refusals that leave a case as it was.

use std::collections::BTreeMap;

use serde_json::json;

use super::*;
use crate::runtime::{Effect, Event, MigrationRefusal, plan_migration};

/// 受理 → 并行 (医保, 公积金) → 汇合 → 归档, as version `version`, with 公积金's step id
/// `fund` and its role `fund_role`.
fn joint(version: u32, split: &str, fund: &str, fund_role: &str) -> Process {
    let mut process = Flow::new()
        .task("accept", "shebao_clerk", &[("accept", split)])
        .parallel(split, &["medical", fund], "joined")
        .task("medical", "yibao_clerk", &[("done", "joined")])
        .task(fund, fund_role, &[("done", "joined")])
        .join("joined", split, "archive")
        .task("archive", "shebao_clerk", &[("done", "done")])
        .end("done", "办结")
        .build();
    process.version = version;
    process
}

/// A case of version 1 inside the split, its 医保 task claimed by 李四.
fn in_split(v1: &Process) -> CaseState {
    let state = begin(v1, json!({})).state;
    let state = finished(v1, &state, "accept", "accept");
    let medical = task_at(&state, "medical");
    apply(
        v1,
        &state,
        &clerk("李四"),
        Command::Claim { task: medical },
        now(),
    )
    .expect("claimed")
    .state
}

fn mapping(pairs: &[(&str, &str)]) -> BTreeMap<StepId, StepId> {
    pairs
        .iter()
        .map(|(a, b)| (StepId((*a).into()), StepId((*b).into())))
        .collect()
}

#[test]
fn a_case_inside_a_split_moves_with_its_claims_and_frames() {
    let v1 = joint(1, "split", "fund", "gjj_clerk");
    let v2 = joint(2, "split", "fund_withdraw", "shebao_clerk");
    let state = in_split(&v1);
    let (plan, transition) = plan_migration(
        &v1,
        &v2,
        &state,
        &mapping(&[("fund", "fund_withdraw")]),
        now(),
    )
    .expect("moves");
    assert_eq!((plan.from_version, plan.to_version), (1, 2));
    let moved = transition.state;
    assert_eq!(moved.version, 2);
    assert_eq!(moved.frames, state.frames, "the split's bookkeeping stays");
    let medical = moved
        .tasks
        .iter()
        .find(|t| t.step.as_str() == "medical")
        .expect("医保");
    assert_eq!(medical.claimed_by.as_deref(), Some("李四"), "a claim stays");
    assert_eq!(medical.status, TaskStatus::Claimed);
    let fund = moved
        .tasks
        .iter()
        .find(|t| t.step.as_str() == "fund_withdraw")
        .expect("公积金 moved");
    assert_eq!(fund.department, "shebao", "the role of the new step");
    assert_eq!(
        transition
            .effects
            .iter()
            .filter(|e| matches!(e, Effect::UpdateTask { .. }))
            .count(),
        2
    );
    assert!(matches!(
        transition.events.as_slice(),
        [Event::CaseMigrated {
            from_version: 1,
            to_version: 2,
            ..
        }]
    ));
    // And the case goes on in version 2: both branches join.
    let state = finished(&v2, &moved, "medical", "done");
    let state = finished(&v2, &state, "fund_withdraw", "done");
    assert_eq!(open_steps(&state), ["archive"]);
}

#[test]
fn a_removed_step_without_a_mapping_is_refused() {
    let v1 = joint(1, "split", "fund", "gjj_clerk");
    let v2 = joint(2, "split", "fund_withdraw", "gjj_clerk");
    let refusal = plan_migration(&v1, &v2, &in_split(&v1), &BTreeMap::new(), now())
        .expect_err("fund has no place");
    assert!(
        matches!(&refusal, MigrationRefusal::StepRemoved { step, version: 2, .. } if step.as_str() == "fund"),
        "{refusal}"
    );
    assert!(refusal.to_string().contains("--map fund="), "{refusal}");
}

#[test]
fn a_split_that_no_longer_exists_is_refused() {
    let v1 = joint(1, "split", "fund", "gjj_clerk");
    let v2 = joint(2, "other_split", "fund", "gjj_clerk");
    let refusal = plan_migration(&v1, &v2, &in_split(&v1), &BTreeMap::new(), now())
        .expect_err("the branch is gone");
    assert_eq!(refusal.code(), "branch-gone", "{refusal}");
}

#[test]
fn a_task_mapped_to_a_step_of_another_kind_is_refused() {
    let v1 = joint(1, "split", "fund", "gjj_clerk");
    let v2 = joint(2, "split", "fund", "gjj_clerk");
    let refusal = plan_migration(
        &v1,
        &v2,
        &in_split(&v1),
        &mapping(&[("medical", "joined")]),
        now(),
    )
    .expect_err("a task is no join");
    assert_eq!(refusal.code(), "step-kind-changed", "{refusal}");
}

#[test]
fn a_task_mapped_off_its_branch_is_refused() {
    let v1 = joint(1, "split", "fund", "gjj_clerk");
    let v2 = joint(2, "split", "fund", "gjj_clerk");
    let refusal = plan_migration(
        &v1,
        &v2,
        &in_split(&v1),
        &mapping(&[("medical", "archive")]),
        now(),
    )
    .expect_err("归档 is after the join");
    assert_eq!(refusal.code(), "branch-gone", "{refusal}");
}

#[test]
fn a_case_on_another_version_or_ended_is_refused() {
    let v1 = joint(1, "split", "fund", "gjj_clerk");
    let v2 = joint(2, "split", "fund", "gjj_clerk");
    let state = in_split(&v1);
    let refusal =
        plan_migration(&v2, &v1, &state, &BTreeMap::new(), now()).expect_err("not on version 2");
    assert_eq!(refusal.code(), "other-version");
    let mut ended = state;
    ended.status = crate::runtime::CaseStatus::Cancelled {
        reason: "撤件".into(),
    };
    let refusal = plan_migration(&v1, &v2, &ended, &BTreeMap::new(), now()).expect_err("ended");
    assert_eq!(refusal.code(), "case-ended");
}
