//! Steps: the kind each `type` selects, the keys that kind takes, and the references it
//! makes (steps, roles, documents) and the expressions it holds.

use std::collections::HashMap;

use indexmap::IndexMap;

use super::diagnostic::{Code, did_you_mean};
use super::form::fields;
use super::model::{
    Assignment, AutoStep, Branch, ChoiceStep, Duration, EndStep, EscalateAction, EscalateOn,
    Escalation, JoinStep, Outcome, SplitStep, Step, StepId, StepKind, TaskStep, WaitStep,
};
use super::raw::{RawBranch, RawEscalation, RawOutcome, RawStep};
use super::source_map::{child, item};
use super::validate::Cx;

/// Step kinds with the keys each takes besides `id`, `name` and `type`.
const KINDS: [(&str, &[&str]); 8] = [
    (
        "task",
        &[
            "role",
            "due",
            "due_date",
            "warn",
            "escalate",
            "form",
            "outcomes",
            "not_same_as",
        ],
    ),
    ("auto", &["set", "next"]),
    ("choice", &["branches", "otherwise"]),
    ("multi_choice", &["branches", "join", "otherwise"]),
    ("parallel", &["branches", "join"]),
    ("join", &["next"]),
    ("wait", &["on", "due", "pauses_clock", "escalate"]),
    ("end", &["result"]),
];

/// Builds every step; a step whose id or type is unusable is reported and left out.
pub(super) fn build(
    cx: &mut Cx<'_>,
    raw: Vec<RawStep>,
    indices: &[usize],
) -> IndexMap<StepId, Step> {
    let mut seen = HashMap::new();
    let mut ids = Vec::new();
    for (s, i) in raw.iter().zip(indices) {
        let path = item("steps", *i);
        if let Some(id) = cx.required(s.id.clone(), &path, "id") {
            cx.unique(&mut seen, "步骤", &id, &child(&path, "id"));
            ids.push(Some(id));
        } else {
            ids.push(None);
        }
    }
    cx.steps = ids.iter().flatten().cloned().collect();
    cx.task_steps = raw
        .iter()
        .zip(&ids)
        .filter(|(s, _)| s.kind.as_deref() == Some("task"))
        .filter_map(|(_, id)| id.clone())
        .collect();
    for (id, i) in ids.iter().zip(indices) {
        if let Some(id) = id {
            cx.step_paths
                .entry(id.clone())
                .or_insert_with(|| item("steps", *i));
        }
    }
    let mut steps = IndexMap::new();
    for ((s, i), id) in raw.into_iter().zip(indices).zip(ids) {
        let path = item("steps", *i);
        let name = cx
            .required(s.name.clone(), &path, "name")
            .unwrap_or_default();
        let Some(kind) = cx.required(s.kind.clone(), &path, "type") else {
            continue;
        };
        let Some(id) = id else { continue };
        let Some(kind) = step_kind(cx, s, &kind, &id, &path, &name) else {
            continue;
        };
        steps.entry(StepId(id.clone())).or_insert(Step {
            id: StepId(id),
            name,
            kind,
        });
    }
    steps
}

fn step_kind(
    cx: &mut Cx<'_>,
    s: RawStep,
    kind: &str,
    id: &str,
    path: &str,
    name: &str,
) -> Option<StepKind> {
    let Some((_, allowed)) = KINDS.iter().find(|(k, _)| *k == kind) else {
        let at = child(path, "type");
        let names = KINDS.map(|(k, _)| k);
        cx.sink.push(
            cx.map.value_pos(&at),
            Code::Type,
            &at,
            format!("未知的步骤类型 `{kind}`"),
            did_you_mean(kind, names).or_else(|| Some(format!("可用的类型：{}", names.join("、")))),
        );
        return None;
    };
    let present = [
        ("role", s.role.is_some()),
        ("due", s.due.is_some()),
        ("due_date", s.due_date.is_some()),
        ("warn", s.warn.is_some()),
        ("escalate", s.escalate.is_some()),
        ("form", s.form.is_some()),
        ("outcomes", s.outcomes.is_some()),
        ("set", s.set.is_some()),
        ("next", s.next.is_some()),
        ("branches", s.branches.is_some()),
        ("otherwise", s.otherwise.is_some()),
        ("join", s.join.is_some()),
        ("on", s.on.is_some()),
        ("pauses_clock", s.pauses_clock.is_some()),
        ("result", s.result.is_some()),
        ("not_same_as", s.not_same_as.is_some()),
    ];
    for (key, _) in present
        .iter()
        .filter(|(k, there)| *there && !allowed.contains(k))
    {
        let at = child(path, key);
        cx.sink.push(
            cx.map.key_pos(&at),
            Code::UnknownKey,
            &at,
            format!("`{key}` 不适用于 `{kind}` 类型的步骤"),
            Some(format!(
                "`{kind}` 步骤可以写的键：id、name、type、{}",
                allowed.join("、")
            )),
        );
    }
    let mut s = s;
    let mut step = StepCx { cx, id, path };
    Some(match kind {
        "task" => StepKind::Task(step.task(&mut s)),
        "auto" => StepKind::Auto(AutoStep {
            set: step.assignments(s.set.take(), "set"),
            next: step.target(s.next, "next").unwrap_or_else(nowhere),
        }),
        "choice" => StepKind::Choice(ChoiceStep {
            branches: step.branches(s.branches.take(), true),
            otherwise: s.otherwise.map(|o| step.link(o, "otherwise")),
        }),
        "multi_choice" | "parallel" => {
            let conditional = kind == "multi_choice";
            let split = SplitStep {
                branches: step.branches(s.branches.take(), conditional),
                join: step.target(s.join.take(), "join").unwrap_or_else(nowhere),
                otherwise: s.otherwise.map(|o| step.link(o, "otherwise")),
            };
            if conditional {
                StepKind::MultiChoice(split)
            } else {
                StepKind::Parallel(split)
            }
        }
        // The split is filled in by the graph checks, which see every step.
        "join" => StepKind::Join(JoinStep {
            split: StepId(String::new()),
            next: step.target(s.next, "next").unwrap_or_else(nowhere),
        }),
        "wait" => {
            let on = step.events(s.on.take());
            let due = step.duration(s.due.take());
            let escalate = step.wait_escalations(s.escalate.take(), due.is_some());
            StepKind::Wait(WaitStep {
                on,
                due,
                pauses_clock: s.pauses_clock.unwrap_or(false),
                escalate,
            })
        }
        _ => StepKind::End(EndStep {
            result: s.result.take().unwrap_or_else(|| name.to_owned()),
        }),
    })
}

/// Placeholder for a required step reference that is missing (already reported).
fn nowhere() -> StepId {
    StepId(String::new())
}

/// One step being built: the context plus where the step is.
struct StepCx<'c, 'a> {
    cx: &'c mut Cx<'a>,
    id: &'c str,
    path: &'c str,
}

impl StepCx<'_, '_> {
    fn owner(&self) -> String {
        format!("步骤 `{}`", self.id)
    }

    /// A required step reference under `key`.
    fn target(&mut self, value: Option<String>, key: &str) -> Option<StepId> {
        let value = self.cx.required(value, self.path, key)?;
        Some(self.link(value, key))
    }

    /// A step reference written at `<step>.<rel>`.
    fn link(&mut self, to: String, rel: &str) -> StepId {
        let owner = self.owner();
        self.cx.reference(
            Code::UnknownStep,
            &owner,
            "步骤",
            &to,
            &child(self.path, rel),
        );
        StepId(to)
    }

    fn task(&mut self, s: &mut RawStep) -> TaskStep {
        let role = self
            .cx
            .required(s.role.take(), self.path, "role")
            .unwrap_or_default();
        if !role.is_empty() {
            let owner = self.owner();
            self.cx.reference(
                Code::UnknownRole,
                &owner,
                "角色",
                &role,
                &child(self.path, "role"),
            );
        }
        let raw_outcomes = self
            .cx
            .required(s.outcomes.take(), self.path, "outcomes")
            .unwrap_or_default();
        if raw_outcomes.is_empty() && self.cx.map.contains(&child(self.path, "outcomes")) {
            let at = child(self.path, "outcomes");
            self.cx.sink.push(
                self.cx.map.value_pos(&at),
                Code::MissingKey,
                &at,
                "任务步骤至少要有一个结果（outcomes）".into(),
                Some("例如 `outcomes: {done: {label: 办结, to: end}}`".into()),
            );
        }
        let outcomes: IndexMap<String, Outcome> = raw_outcomes
            .into_iter()
            .map(|(key, o)| (key.clone(), self.outcome(key, o)))
            .collect();
        let form_path = child(self.path, "form");
        let form = fields(self.cx, s.form.take().unwrap_or_default(), &form_path, &[]);
        for (i, field) in form.iter().enumerate() {
            for (j, key) in field.outcomes.iter().enumerate() {
                if outcomes.contains_key(key) {
                    continue;
                }
                let at = item(&child(&item(&form_path, i), "outcomes"), j);
                let known: Vec<&str> = outcomes.keys().map(String::as_str).collect();
                self.cx.sink.push(
                    self.cx.map.value_pos(&at),
                    Code::Field,
                    &at,
                    format!(
                        "字段 `{}` 的 `outcomes` 里有本步骤没有的结果 `{key}`",
                        field.key
                    ),
                    did_you_mean(key, known.iter().copied())
                        .or_else(|| Some(format!("本步骤的结果：{}", known.join("、")))),
                );
            }
        }
        let due = self.duration(s.due.take());
        let date_at = child(self.path, "due_date");
        let due_date = s.due_date.take().and_then(|e| self.cx.expr(&e, &date_at));
        if due.is_some() && due_date.is_some() {
            self.cx.sink.push(
                self.cx.map.key_pos(&date_at),
                Code::Duration,
                &date_at,
                "`due` 和 `due_date` 只能写一个".into(),
                Some(
                    "固定时限写 `due: N workdays`；按规则算出到期日期时写 `due_date: '表达式'`"
                        .into(),
                ),
            );
        }
        let dated = due.is_some() || self.cx.map.contains(&date_at);
        let own_warn = s.warn.take();
        let warn_at = child(self.path, "warn");
        let warn = match own_warn {
            Some(text) => self.cx.duration(&text, &warn_at),
            None => self.cx.default_warn,
        };
        let escalate = self.escalations(s.escalate.take(), &outcomes);
        if !dated && !self.cx.sink.reported(&child(self.path, "due")) {
            // Without a due time there is neither a warning period nor an overdue moment.
            for (key, given) in [
                ("warn", self.cx.map.contains(&warn_at)),
                ("escalate", !escalate.is_empty()),
            ] {
                if given {
                    let at = child(self.path, key);
                    self.cx.sink.push(
                        self.cx.map.key_pos(&at),
                        Code::Duration,
                        &at,
                        format!("步骤 `{}` 没有时限（due），`{key}` 不会生效", self.id),
                        Some("先给步骤写 `due: N workdays`".into()),
                    );
                }
            }
        }
        let not_same_as = super::duties::names(self.cx, self.id, self.path, s.not_same_as.take());
        TaskStep {
            role,
            outcomes,
            form,
            due,
            due_date,
            warn: warn.filter(|_| dated),
            escalate,
            not_same_as,
        }
    }

    /// A wait step's `escalate:`: the same syntax, but only `on: overdue` with `notify` — a
    /// wait has no warning period, and whether the case moves on stays with a person.
    fn wait_escalations(
        &mut self,
        raw: Option<Vec<RawEscalation>>,
        has_due: bool,
    ) -> Vec<Escalation> {
        let given = raw.is_some();
        let list = self.escalations(raw, &IndexMap::new());
        let at = child(self.path, "escalate");
        if given && !has_due && !self.cx.sink.reported(&child(self.path, "due")) {
            self.cx.sink.push(
                self.cx.map.key_pos(&at),
                Code::Duration,
                &at,
                format!("步骤 `{}` 没有时限（due），`escalate` 不会生效", self.id),
                Some("先给步骤写 `due: N workdays`".into()),
            );
        }
        let (kept, refused): (Vec<_>, Vec<_>) = list.into_iter().partition(|e| {
            e.on == EscalateOn::Overdue && e.action == EscalateAction::NotifySupervisor
        });
        if !refused.is_empty() {
            self.cx.sink.push(
                self.cx.map.value_pos(&at),
                Code::Escalation,
                &at,
                "等待步骤只能在超期时通知负责人：`{on: overdue, notify: supervisor}`".into(),
                Some("等待申请人或其他部门时，是否退件、转办由人决定".into()),
            );
        }
        kept
    }

    /// `escalate:` entries: `on: warning|overdue` and exactly one of `notify: supervisor`,
    /// `reassign: <role>`, `outcome: <key>` (with `reason` when the outcome needs one).
    fn escalations(
        &mut self,
        raw: Option<Vec<RawEscalation>>,
        outcomes: &IndexMap<String, Outcome>,
    ) -> Vec<Escalation> {
        let list = child(self.path, "escalate");
        let mut out = Vec::new();
        for (i, e) in raw.unwrap_or_default().into_iter().enumerate() {
            let path = item(&list, i);
            let on = match self.cx.required(e.on, &path, "on").as_deref() {
                Some("warning") => Some(EscalateOn::Warning),
                Some("overdue") => Some(EscalateOn::Overdue),
                Some(other) => {
                    let at = child(&path, "on");
                    self.cx.sink.push(
                        self.cx.map.value_pos(&at),
                        Code::Escalation,
                        &at,
                        format!("未知的升级时机 `{other}`"),
                        Some("写 `on: warning`（进入预警期）或 `on: overdue`（超期）".into()),
                    );
                    None
                }
                None => None,
            };
            let given = [
                e.notify.is_some(),
                e.reassign.is_some(),
                e.outcome.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                self.cx.sink.push(
                    self.cx.map.value_pos(&path),
                    Code::Escalation,
                    &path,
                    "每条升级规则只能做一件事：`notify`、`reassign`、`outcome` 三选一".into(),
                    Some("例如 `{on: overdue, notify: supervisor}`".into()),
                );
                continue;
            }
            if e.reason.is_some() && e.outcome.is_none() {
                let at = child(&path, "reason");
                self.cx.sink.push(
                    self.cx.map.key_pos(&at),
                    Code::Escalation,
                    &at,
                    "`reason` 只用于 `outcome` 升级规则".into(),
                    None,
                );
            }
            let action = if let Some(who) = e.notify {
                if who != "supervisor" {
                    let at = child(&path, "notify");
                    self.cx.sink.push(
                        self.cx.map.value_pos(&at),
                        Code::Escalation,
                        &at,
                        format!("不能通知 `{who}`"),
                        Some("目前只能写 `notify: supervisor`（任务所在部门的负责人）".into()),
                    );
                    continue;
                }
                EscalateAction::NotifySupervisor
            } else if let Some(role) = e.reassign {
                let owner = self.owner();
                let at = child(&path, "reassign");
                if !self
                    .cx
                    .reference(Code::UnknownRole, &owner, "角色", &role, &at)
                {
                    continue;
                }
                EscalateAction::Reassign(role)
            } else {
                let key = e.outcome.unwrap_or_default();
                let at = child(&path, "outcome");
                let Some(outcome) = outcomes.get(&key) else {
                    let hint =
                        did_you_mean(&key, outcomes.keys().map(String::as_str)).or_else(|| {
                            Some(format!(
                                "可选的结果：{}",
                                outcomes.keys().cloned().collect::<Vec<_>>().join("、")
                            ))
                        });
                    self.cx.sink.push(
                        self.cx.map.value_pos(&at),
                        Code::Escalation,
                        &at,
                        format!("步骤 `{}` 没有办理结果 `{key}`", self.id),
                        hint,
                    );
                    continue;
                };
                let reason = e.reason.filter(|r| !r.trim().is_empty());
                if outcome.reason_required && reason.is_none() {
                    self.cx.sink.push(
                        self.cx.map.value_pos(&path),
                        Code::Escalation,
                        &path,
                        format!("办理结果 `{key}` 需要书面理由，自动办理时也要写 `reason`"),
                        Some(format!(
                            "例如 `{{on: overdue, outcome: {key}, reason: \"逾期未补正\"}}`"
                        )),
                    );
                    continue;
                }
                EscalateAction::Outcome { key, reason }
            };
            if let Some(on) = on {
                out.push(Escalation { on, action });
            }
        }
        out
    }

    fn outcome(&mut self, key: String, o: RawOutcome) -> Outcome {
        let rel = format!("outcomes.{key}");
        let path = child(self.path, &rel);
        let label = self
            .cx
            .required(o.label, &path, "label")
            .unwrap_or_default();
        let target = self
            .target(o.to, &format!("{rel}.to"))
            .unwrap_or_else(nowhere);
        let owner = self.owner();
        for (i, doc) in o.documents.iter().enumerate() {
            let at = item(&child(&path, "documents"), i);
            self.cx
                .reference(Code::UnknownDocument, &owner, "文书", doc, &at);
        }
        let set = self.assignments(Some(o.set), &format!("{rel}.set"));
        let check = o
            .check
            .and_then(|source| self.cx.expr(&source, &child(&path, "check")));
        Outcome {
            key,
            label,
            target,
            reason_required: o.reason,
            documents: o.documents,
            set,
            check,
        }
    }

    fn assignments(&mut self, set: Option<IndexMap<String, String>>, rel: &str) -> Vec<Assignment> {
        let base = child(self.path, rel);
        set.unwrap_or_default()
            .into_iter()
            .filter_map(|(key, source)| {
                let expr = self.cx.expr(&source, &child(&base, &key))?;
                Some(Assignment { key, expr })
            })
            .collect()
    }

    fn branches(&mut self, raw: Option<Vec<RawBranch>>, conditional: bool) -> Vec<Branch> {
        let raw = self
            .cx
            .required(raw, self.path, "branches")
            .unwrap_or_default();
        let list = child(self.path, "branches");
        let mut out = Vec::new();
        for (i, b) in raw.into_iter().enumerate() {
            let path = item(&list, i);
            let when = match (conditional, b.when) {
                (true, None) => {
                    self.cx.required(None::<()>, &path, "when");
                    None
                }
                (true, Some(w)) => self.cx.expr(&w, &child(&path, "when")),
                (false, Some(_)) => {
                    let at = child(&path, "when");
                    self.cx.sink.push(
                        self.cx.map.key_pos(&at),
                        Code::UnknownKey,
                        &at,
                        "`parallel` 步骤的每个分支都会执行，分支不写 `when`".into(),
                        Some("需要按条件选择分支时，改用 `type: multi_choice`".into()),
                    );
                    None
                }
                (false, None) => None,
            };
            let rel = format!("branches[{i}].to");
            if let Some(to) = self.target(b.to, &rel) {
                out.push(Branch {
                    when,
                    label: b.label,
                    to,
                });
            }
        }
        out
    }

    fn events(&mut self, on: Option<IndexMap<String, String>>) -> IndexMap<String, StepId> {
        let on = self.cx.required(on, self.path, "on").unwrap_or_default();
        on.into_iter()
            .map(|(event, to)| (event.clone(), self.link(to, &format!("on.{event}"))))
            .collect()
    }

    fn duration(&mut self, due: Option<String>) -> Option<Duration> {
        let text = due?;
        let at = child(self.path, "due");
        self.cx.duration(&text, &at)
    }
}
