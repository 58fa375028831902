//! The flow as a graph: every join belongs to exactly one split, every step is reachable
//! from the start, and every reachable step can still reach an end.

use std::collections::{HashMap, HashSet, VecDeque};

use indexmap::IndexMap;

use super::diagnostic::Code;
use super::model::{Process, Step, StepId, StepKind};
use super::source_map::child;
use super::validate::Cx;

/// Runs the graph checks and fills in each join's split.
pub(super) fn check(
    cx: &mut Cx<'_>,
    mut steps: IndexMap<StepId, Step>,
    start: &StepId,
) -> IndexMap<StepId, Step> {
    resolve_joins(cx, &mut steps);
    if !steps.contains_key(start) {
        return steps; // an unknown start is already reported; reachability would only echo it
    }
    let forward = reach(&steps, [start.clone()], successors);
    for id in steps.keys().filter(|id| !forward.contains(*id)) {
        report(
            cx,
            id,
            Code::Unreachable,
            format!("从开始步骤无法到达步骤 `{id}`"),
            "检查是否有步骤的 `to`、`next` 或分支指向它；不需要的步骤可以删除",
        );
    }
    let ends: Vec<StepId> = steps
        .values()
        .filter(|s| matches!(s.kind, StepKind::End(_)))
        .map(|s| s.id.clone())
        .collect();
    if ends.is_empty() {
        cx.sink.push(
            cx.map.key_pos("steps"),
            Code::NoEnd,
            "steps",
            "流程没有结束步骤".into(),
            Some("至少写一个 `type: end` 的步骤，例如 `{id: done, name: 办结, type: end, result: 办结}`".into()),
        );
        return steps;
    }
    let mut predecessors: HashMap<StepId, Vec<StepId>> = HashMap::new();
    for step in steps.values() {
        for next in successors(step) {
            predecessors.entry(next).or_default().push(step.id.clone());
        }
    }
    let backward = reach(&steps, ends, |s| {
        predecessors.get(&s.id).cloned().unwrap_or_default()
    });
    for id in steps
        .keys()
        .filter(|id| forward.contains(*id) && !backward.contains(*id))
    {
        report(
            cx,
            id,
            Code::NoEnd,
            format!("步骤 `{id}` 无法到达任何结束步骤"),
            "从这一步往后的每条路都应走到一个 `type: end` 的步骤；检查是否形成了出不去的循环",
        );
    }
    steps
}

fn report(cx: &mut Cx<'_>, id: &StepId, code: Code, message: String, hint: &str) {
    let path = cx
        .step_paths
        .get(id.as_str())
        .map(|p| child(p, "id"))
        .unwrap_or_default();
    cx.sink.push(
        cx.map.value_pos(&path),
        code,
        &path,
        message,
        Some(hint.to_owned()),
    );
}

/// Where a case can go from a step. A split may take no branch and go on after its join.
impl Process {
    /// The departments that receive a new case: those of the task steps a case can reach
    /// first from the start, through automatic steps, choices, splits, joins and waits
    /// (for the retirement process, 社保, whose window holds 受理). Sorted, distinct.
    /// When no task can be reached (a process that only runs by itself), every department
    /// of the process.
    pub fn intake_departments(&self) -> Vec<&str> {
        let mut seen: HashSet<&StepId> = HashSet::new();
        let mut queue: VecDeque<&StepId> = VecDeque::from([&self.start]);
        let mut out: Vec<&str> = Vec::new();
        while let Some(id) = queue.pop_front() {
            if !seen.insert(id) {
                continue;
            }
            let Some(step) = self.steps.get(id) else {
                continue;
            };
            if let StepKind::Task(task) = &step.kind {
                out.extend(self.roles.get(&task.role).map(|r| r.department.as_str()));
                continue;
            }
            for next in successors_of(step) {
                queue.push_back(next);
            }
        }
        if out.is_empty() {
            out = self.departments.keys().map(String::as_str).collect();
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    /// Whether the flow can go from step `from` to step `to` (a step reaches itself). A
    /// case moved to another version uses it to tell whether a token is still on a branch
    /// of its split.
    pub fn reaches(&self, from: &StepId, to: &StepId) -> bool {
        reach(&self.steps, [from.clone()], successors).contains(to)
    }
}

/// The steps a step leads to, borrowed.
fn successors_of(step: &Step) -> Vec<&StepId> {
    match &step.kind {
        StepKind::Task(t) => t.outcomes.values().map(|o| &o.target).collect(),
        StepKind::Auto(a) => vec![&a.next],
        StepKind::Choice(c) => c
            .branches
            .iter()
            .map(|b| &b.to)
            .chain(&c.otherwise)
            .collect(),
        StepKind::MultiChoice(s) | StepKind::Parallel(s) => s
            .branches
            .iter()
            .map(|b| &b.to)
            .chain(&s.otherwise)
            .chain([&s.join])
            .collect(),
        StepKind::Join(j) => vec![&j.next],
        StepKind::Wait(w) => w.on.values().collect(),
        StepKind::End(_) => Vec::new(),
    }
}

fn successors(step: &Step) -> Vec<StepId> {
    successors_of(step).into_iter().cloned().collect()
}

fn reach(
    steps: &IndexMap<StepId, Step>,
    from: impl IntoIterator<Item = StepId>,
    next: impl Fn(&Step) -> Vec<StepId>,
) -> HashSet<StepId> {
    let mut seen: HashSet<StepId> = HashSet::new();
    let mut queue: VecDeque<StepId> = from.into_iter().collect();
    while let Some(id) = queue.pop_front() {
        let Some(step) = steps.get(&id) else { continue };
        if seen.insert(id) {
            queue.extend(next(step));
        }
    }
    seen
}

/// Each join gets the one split that names it; splits must name a join step.
fn resolve_joins(cx: &mut Cx<'_>, steps: &mut IndexMap<StepId, Step>) {
    let mut splits_of: HashMap<StepId, Vec<StepId>> = HashMap::new();
    for step in steps.values() {
        let (StepKind::MultiChoice(split) | StepKind::Parallel(split)) = &step.kind else {
            continue;
        };
        match steps.get(&split.join).map(|j| &j.kind) {
            Some(StepKind::Join(_)) => splits_of
                .entry(split.join.clone())
                .or_default()
                .push(step.id.clone()),
            Some(_) => {
                let path = cx
                    .step_paths
                    .get(step.id.as_str())
                    .map(|p| child(p, "join"))
                    .unwrap_or_default();
                cx.sink.push(
                    cx.map.value_pos(&path),
                    Code::SplitJoin,
                    &path,
                    format!(
                        "步骤 `{}` 的 `join` 应当指向 `type: join` 的汇合步骤，`{}` 不是",
                        step.id, split.join
                    ),
                    Some("新增一个 `type: join` 的步骤，让各分支在那里汇合".into()),
                );
            }
            None => {} // unknown step: already reported
        }
    }
    for step in steps.values_mut() {
        let StepKind::Join(join) = &mut step.kind else {
            continue;
        };
        match splits_of.get(&step.id).map(Vec::as_slice) {
            Some([split]) => join.split = split.clone(),
            found => {
                let path = cx
                    .step_paths
                    .get(step.id.as_str())
                    .map(|p| child(p, "id"))
                    .unwrap_or_default();
                let (message, hint) = match found {
                    Some(many) => (
                        format!(
                            "汇合步骤 `{}` 被多个分支步骤指向：{}",
                            step.id,
                            many.iter()
                                .map(StepId::as_str)
                                .collect::<Vec<_>>()
                                .join("、")
                        ),
                        "每个汇合步骤只能属于一个 parallel 或 multi_choice 步骤".to_owned(),
                    ),
                    None => (
                        format!("汇合步骤 `{}` 没有对应的分支步骤", step.id),
                        format!("在 parallel 或 multi_choice 步骤里写 `join: {}`", step.id),
                    ),
                };
                cx.sink.push(
                    cx.map.value_pos(&path),
                    Code::JoinWithoutSplit,
                    &path,
                    message,
                    Some(hint),
                );
            }
        }
    }
}
