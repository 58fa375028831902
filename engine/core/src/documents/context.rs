//! What a document template sees: the context built from a case, the process, the issuing
//! task and the materials still missing; and how document numbers are written. The shape is
//! the contract documented in `docs/documents.md`; templates render with strict undefined
//! values, so every key listed there is always present (possibly `null`).

use chrono::NaiveDate;
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::{Map, Value, json};

use crate::definition::{Duration, Outcome, Process, RequiredMaterial, StepId, StepKind};
use crate::rules::{Facts, RuleError};

/// The parts of a case a document shows. Plain borrowed data, so documents need nothing of
/// the runtime (which depends on this module, not the other way round).
#[derive(Debug, Clone, Copy)]
pub struct CaseView<'a> {
    /// Case id as text.
    pub id: &'a str,
    /// Application form values.
    pub form: &'a Map<String, Value>,
    /// Case data written by steps and decisions.
    pub data: &'a Map<String, Value>,
    /// Keys of the materials received.
    pub materials: &'a [String],
    /// When the case started.
    pub started_at: DateTime<Utc>,
    /// Its readable number (办件编号), when it has one.
    pub number: Option<&'a str>,
}

/// The task whose outcome issues a document.
#[derive(Debug, Clone)]
pub struct TaskView {
    /// The step of the task.
    pub step: StepId,
    /// The outcome chosen.
    pub outcome: String,
    /// The written reason given with it.
    pub reason: Option<String>,
    /// Who completed the task.
    pub clerk: String,
}

/// A material the rules require that has not been received, as a notice lists it.
pub type MissingMaterial = RequiredMaterial;

/// The materials whose `when` holds (or that have none) over the case, minus those received,
/// in definition order. This is the complete list a supplement notice owes the applicant.
///
/// # Errors
/// [`RuleError`] when a material's condition fails to evaluate.
pub fn missing_materials(
    process: &Process,
    case: &CaseView<'_>,
    today: NaiveDate,
) -> Result<Vec<MissingMaterial>, RuleError> {
    let params = process.parameter_values();
    let tables = process.table_values();
    let facts = Facts {
        form: case.form,
        data: case.data,
        params: &params,
        tables: &tables,
        materials: case.materials,
        today,
    };
    let mut missing = process.required_materials(&facts)?;
    missing.retain(|m| !case.materials.contains(&m.key));
    Ok(missing)
}

/// Whether choosing this outcome is a supplement request (补正): it issues at least one
/// document and leads to a wait step that stops the legal clock. Kept as one predicate so
/// it can later be replaced by an explicit flag in the definition.
pub fn is_supplement_request(process: &Process, outcome: &Outcome) -> bool {
    !outcome.documents.is_empty()
        && process
            .step(&outcome.target)
            .is_some_and(|step| matches!(&step.kind, StepKind::Wait(wait) if wait.pauses_clock))
}

/// A document number: `阳社补〔2026〕第0001号`.
pub fn format_number(prefix: &str, year: i32, seq: i64) -> String {
    format!("{prefix}〔{year}〕第{seq:04}号")
}

/// The number shown on a preview, which never draws from the sequence.
pub fn preview_number(prefix: &str, year: i32) -> String {
    format!("{}（预览）", format_number(prefix, year, 0))
}

/// The year a document issued at `at` is numbered in: the county's (Beijing time) year, so
/// a notice issued on 1 January at 07:00 local time is not numbered in the old year.
pub fn numbering_year(at: DateTime<Utc>) -> i32 {
    at.with_timezone(&Shanghai).year()
}

/// `5 workdays` → `5个工作日`, as a notice's deadline reads.
pub fn duration_text(duration: Duration) -> String {
    match duration {
        Duration::Workdays(n) => format!("{n}个工作日"),
        Duration::Days(n) => format!("{n}日"),
        Duration::Hours(n) => format!("{n}小时"),
    }
}

/// Everything of a document's context except `document.number`, which is drawn later,
/// inside the transaction that stores the document.
pub(super) struct Parts<'a> {
    pub(super) process: &'a Process,
    pub(super) key: &'a str,
    pub(super) name: &'a str,
    pub(super) case: &'a CaseView<'a>,
    pub(super) task: Option<&'a TaskView>,
    pub(super) missing: &'a [MissingMaterial],
    pub(super) issued_at: DateTime<Utc>,
}

/// Builds the context (see `docs/documents.md`).
pub(super) fn build(parts: &Parts<'_>) -> Value {
    let Parts {
        process,
        key,
        name,
        case,
        task,
        missing,
        issued_at,
    } = parts;
    let local = issued_at.with_timezone(&Shanghai);
    let parameters = process.parameter_values();
    let deadline = task.and_then(|t| deadline_date(process, t, local.date_naive()));
    json!({
        "case": {
            "id": case.id,
            // What papers print as 办件编号; `null` for a case without one (a preview).
            "number": case.number,
            "process": process.id,
            "version": process.version,
            "form": case.form,
            "data": case.data,
            "materials": case.materials,
            "started_at": case.started_at.with_timezone(&Shanghai).to_rfc3339(),
            "started_on": case.started_at.with_timezone(&Shanghai).format("%Y年%m月%d日").to_string(),
        },
        "process": {
            "id": process.id,
            "version": process.version,
            "name": process.name,
            "metadata": process.metadata,
            "departments": process.departments,
            "joint_items": process.joint_items,
            "parameters": parameters,
        },
        "document": {
            "key": key,
            "name": name,
            "number": Value::Null,
            "issued_at": local.format("%Y年%m月%d日").to_string(),
            "issued_at_iso": local.to_rfc3339(),
            "deadline": deadline.as_ref().map(|(date, _)| date),
            // The date was counted in a year whose holiday notice is not out yet: 暂定.
            "deadline_provisional": deadline.is_some_and(|(_, provisional)| provisional),
        },
        "missing": missing,
        "task": task.map(|task| task_context(process, task)),
        // The case's refusals so far (see `docs/documents.md`), filled in by the service,
        // which knows the notices already issued.
        "refusals": [],
        // The process map (附件3 流程图) as inline SVG, for the 一次性告知单 print pack.
        "flow_svg": crate::diagram::svg(process),
    })
}

/// The wait step the issuing outcome leads to, with its time limit.
fn following_wait_due(process: &Process, task: &TaskView) -> Option<Duration> {
    let step = process.step(&task.step)?;
    let StepKind::Task(spec) = &step.kind else {
        return None;
    };
    let target = process.step(&spec.outcomes.get(&task.outcome)?.target)?;
    match &target.kind {
        StepKind::Wait(wait) => wait.due,
        _ => None,
    }
}

/// The last day (`YYYY-MM-DD`, Beijing) to answer a notice: its issue date plus the wait
/// step's time limit, counted in the process calendar. `None` when there is no limit or the
/// calendar cannot count that far — the notice then shows only "N个工作日", never a guess.
/// With it, whether the count used provisional working days (a year without notice).
fn deadline_date(process: &Process, task: &TaskView, issued: NaiveDate) -> Option<(String, bool)> {
    let (date, provisional) = match following_wait_due(process, task)? {
        Duration::Workdays(n) => {
            let calendar = process.calendar_data.as_ref()?;
            let date = calendar.add_workdays(issued, i64::from(n)).ok()?;
            (date, calendar.is_provisional(date))
        }
        Duration::Days(n) => (
            issued.checked_add_days(chrono::Days::new(u64::from(n)))?,
            false,
        ),
        Duration::Hours(_) => return None,
    };
    Some((date.format("%Y-%m-%d").to_string(), provisional))
}

fn task_context(process: &Process, task: &TaskView) -> Value {
    let step = process.step(&task.step);
    let outcome = step.and_then(|step| match &step.kind {
        StepKind::Task(spec) => spec.outcomes.get(&task.outcome),
        _ => None,
    });
    let department = step
        .and_then(|step| match &step.kind {
            StepKind::Task(spec) => process.roles.get(&spec.role),
            _ => None,
        })
        .and_then(|role| process.departments.get(&role.department));
    // The wait step the outcome leads to carries the supplement deadline (请于N日内提交).
    let deadline = following_wait_due(process, task).map(duration_text);
    json!({
        "step": task.step,
        "step_name": step.map(|s| s.name.as_str()),
        "outcome": task.outcome,
        "outcome_label": outcome.map(|o| o.label.as_str()),
        "reason": task.reason,
        "clerk": task.clerk,
        "department": department,
        "deadline": deadline,
    })
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    #[test]
    fn numbers_read_as_on_the_notice_and_count_in_beijing_years() {
        assert_eq!(format_number("阳社补", 2026, 1), "阳社补〔2026〕第0001号");
        assert_eq!(
            format_number("阳社补", 2026, 12345),
            "阳社补〔2026〕第12345号"
        );
        assert_eq!(
            preview_number("阳社补", 2026),
            "阳社补〔2026〕第0000号（预览）"
        );
        // 2026-12-31 23:30 UTC is already 2027-01-01 07:30 in Yangcheng.
        let new_year = Utc
            .with_ymd_and_hms(2026, 12, 31, 23, 30, 0)
            .single()
            .expect("time");
        assert_eq!(numbering_year(new_year), 2027);
        assert_eq!(duration_text(Duration::Workdays(5)), "5个工作日");
    }

    /// A notice issued in late December whose answer period reaches a year without a
    /// holiday notice prints its date as 暂定; one issued earlier does not.
    #[test]
    fn a_deadline_reaching_a_year_without_notice_is_marked_provisional() {
        struct NoTemplates;
        impl crate::definition::TemplateCheck for NoTemplates {
            fn check_template(&self, _: &str) -> Result<(), crate::definition::TemplateProblem> {
                Err(crate::definition::TemplateProblem::Missing)
            }
        }
        let repo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir(dir.path().join("calendars")).expect("calendars dir");
        std::fs::copy(
            repo.join("processes/calendars/cn-mainland.yaml"),
            dir.path().join("calendars/cn-mainland.yaml"),
        )
        .expect("calendar");
        std::fs::copy(
            repo.join("tests/fixtures/deadlines/flow.yaml"),
            dir.path().join("flow.yaml"),
        )
        .expect("flow");
        let process = crate::definition::load_file(&dir.path().join("flow.yaml"), &NoTemplates)
            .expect("the fixture loads");
        let (form, data) = (Map::new(), Map::new());
        let case = CaseView {
            id: "c",
            form: &form,
            data: &data,
            materials: &[],
            started_at: Utc::now(),
            number: None,
        };
        // 接受 → 一次性告知补正 leads to the 5-working-day supplement wait.
        let task = TaskView {
            step: StepId::from("accept"),
            outcome: "supplement".into(),
            reason: None,
            clerk: "王芳".into(),
        };
        let document = |issued_at| {
            build(&Parts {
                process: &process,
                key: "supplement_notice",
                name: "补正告知书",
                case: &case,
                task: Some(&task),
                missing: &[],
                issued_at,
            })["document"]
                .clone()
        };
        let beijing = |m, d| {
            chrono::FixedOffset::east_opt(8 * 3600)
                .and_then(|tz| tz.with_ymd_and_hms(2026, m, d, 10, 0, 0).single())
                .expect("time")
                .with_timezone(&Utc)
        };
        // Monday 2026-12-28: 12-29, 12-30, 12-31, (2027-01-01 off), 01-04, 01-05.
        let late = document(beijing(12, 28));
        assert_eq!(late["deadline"], "2027-01-05");
        assert_eq!(late["deadline_provisional"], true);
        let early = document(beijing(12, 1));
        assert_eq!(early["deadline"], "2026-12-08");
        assert_eq!(early["deadline_provisional"], false);
    }
}
