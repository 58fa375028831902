//! Separation of duties (受审分离): a task step's `not_same_as:` names earlier task steps
//! whose completers may not work it on the same case. Here the names are read and checked
//! against the steps; the runtime enforces them (`runtime::tasks`).

use super::diagnostic::{Code, did_you_mean};
use super::model::StepId;
use super::raw::StepNames;
use super::source_map::{child, item};
use super::validate::Cx;

/// The step ids a task step's `not_same_as` names. A name that is no step, no task step or
/// the step itself is reported where it was written (with the nearest task step as a
/// hint) and left out; a name written twice counts once.
pub(super) fn names(cx: &mut Cx<'_>, id: &str, path: &str, raw: Option<StepNames>) -> Vec<StepId> {
    let at = child(path, "not_same_as");
    let mut out: Vec<StepId> = Vec::new();
    for (index, name) in raw.map(|n| n.0).unwrap_or_default().into_iter().enumerate() {
        // A single name may be written as a scalar instead of a list.
        let listed = item(&at, index);
        let here = if cx.map.contains(&listed) {
            listed
        } else {
            at.clone()
        };
        let owner = format!("步骤 `{id}` 的 `not_same_as`");
        if !cx.reference(Code::UnknownStep, &owner, "步骤", &name, &here) {
            continue;
        }
        let others = || {
            cx.task_steps
                .iter()
                .map(String::as_str)
                .filter(|t| *t != id)
        };
        let problem = if name == id {
            Some((
                format!("步骤 `{id}` 的 `not_same_as` 不能写它自己"),
                "写要与本步骤分开办理的前一个任务步骤，例如受理步骤 `accept`".to_owned(),
            ))
        } else if !cx.task_steps.contains(&name) {
            Some((
                format!(
                    "步骤 `{id}` 的 `not_same_as` 写的 `{name}` 不是人工任务步骤（type: task），没有办理人可比"
                ),
                did_you_mean(&name, others()).unwrap_or_else(|| {
                    format!(
                        "可以写的任务步骤：{}",
                        others().collect::<Vec<_>>().join("、")
                    )
                }),
            ))
        } else {
            None
        };
        if let Some((message, hint)) = problem {
            cx.sink.push(
                cx.map.value_pos(&here),
                Code::NotSameAs,
                &here,
                message,
                Some(hint),
            );
        } else if !out.iter().any(|s| s.0 == name) {
            out.push(StepId(name));
        }
    }
    out
}
