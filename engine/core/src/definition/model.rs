//! The validated process model: what a definition means once every reference is resolved,
//! every script compiled and every schedule parsed. Nothing here knows YAML or storage.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};

use super::calendar::Calendar;
use super::example_model::Example;
use crate::rules::Expr;

/// Identifier of a step inside one process definition.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct StepId(pub String);

impl StepId {
    /// The step id as written in the definition.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for StepId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for StepId {
    fn from(s: &str) -> Self {
        StepId(s.to_owned())
    }
}

/// A validated process definition at one version.
#[derive(Debug, Clone)]
pub struct Process {
    /// Stable id, e.g. `yangcheng.retirement`.
    pub id: String,
    /// Version number; (id, version) is immutable once a case started on it.
    pub version: u32,
    /// Human name (Chinese).
    pub name: String,
    /// SHA-256 (hex) over the definition file, the bases it extends and every rules and
    /// table file they use: changing a base changes every definition extending it.
    pub content_hash: String,
    /// A base only (`abstract: true`): loaded and checked, other definitions extend it,
    /// but it is not in force by itself — no case starts on it and intake does not list it.
    pub is_abstract: bool,
    /// The ids of the definitions this one extends (`extends:`), the nearest first.
    pub extends: Vec<String>,
    /// Where each value of the (merged) definition is written: YAML path (as in
    /// diagnostics, `steps[3].due`) → `file:line`, so a resolved definition shows whether a
    /// value comes from the base or the overlay.
    pub origins: BTreeMap<String, String>,
    /// The merged definition as written (base and overlays together), before decoding:
    /// with `origins`, what [`Process::resolved_lines`] shows.
    pub resolved: serde_yaml::Value,
    /// Path of the definition file as given to the loader (for messages).
    pub file: String,
    /// Name of the working-day calendar the definition counts in.
    pub calendar: Option<String>,
    /// The prefix of its cases' numbers (`阳城退休` → `阳城退休〔2026〕0012`, see
    /// [`crate::case_number`]); cases of a definition without one get no number.
    pub case_prefix: Option<String>,
    /// The calendar named by `calendar`, resolved when the definition loaded. It is not
    /// part of the version: a year added to the calendar applies to running cases too.
    pub calendar_data: Option<Arc<Calendar>>,
    /// Issuing authority, legal basis, contacts and other descriptive data.
    pub metadata: Metadata,
    /// Departments by key (e.g. `shebao`).
    pub departments: IndexMap<String, Department>,
    /// Roles by key; each role belongs to one department.
    pub roles: IndexMap<String, Role>,
    /// The application form.
    pub form: Vec<Field>,
    /// Materials the applicant hands in.
    pub materials: Vec<Material>,
    /// The items (联办事项) bundled beside the main line, each asked for by a form field;
    /// papers list them from here.
    pub joint_items: Vec<super::JointItem>,
    /// Named constants with their source.
    pub parameters: IndexMap<String, Parameter>,
    /// Named data for rules (`tables.<name>` in expressions), by name.
    pub tables: IndexMap<String, Table>,
    /// The `evaluate:` expression: a map merged into `lianban evaluate` output.
    pub evaluate: Option<Expr>,
    /// The step a new case starts at.
    pub start: StepId,
    /// Steps by id, in file order.
    pub steps: IndexMap<StepId, Step>,
    /// Documents (notices, letters, tables) by key.
    pub documents: IndexMap<String, Document>,
    /// Cron schedules.
    pub schedules: Vec<Schedule>,
    /// The case's legal and promised time limits and the default task warning period.
    pub time_limits: TimeLimits,
    /// Chinese labels of case data keys that no form field names (`labels:`), e.g. the
    /// values outcomes and automatic steps `set:` (`accepted_on: 受理日期`).
    pub labels: IndexMap<String, String>,
    /// Example cases: those under `tests:`, then those of the sibling `<name>.tests.yaml`.
    pub tests: Vec<Example>,
    /// The files the definition was loaded from (definition YAML first, then the bases it
    /// extends, nearest first, then rules and table files by path), kept so that cases started on this version can run after the files
    /// on disk moved on. The `*.tests.yaml` file is not among them: it is not part of the
    /// version.
    pub sources: Vec<SourceFile>,
}

/// One source file of a definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SourceFile {
    /// Path relative to the processes directory (or as given).
    pub path: String,
    /// Full text.
    pub text: String,
}

impl Process {
    /// Returns the step with this id.
    ///
    /// # Errors
    /// None: a missing step is `None`; validation guarantees every reference resolves.
    pub fn step(&self, id: &StepId) -> Option<&Step> {
        self.steps.get(id)
    }

    /// Parameter values by key, as rules see them in `params`.
    pub fn parameter_values(&self) -> serde_json::Map<String, serde_json::Value> {
        self.parameters
            .iter()
            .map(|(key, p)| (key.clone(), p.value.clone()))
            .collect()
    }

    /// The Chinese label of a case data key: a task's decision field of that key, then
    /// `labels:`, then an application form field; `None` when the definition names it
    /// nowhere.
    pub fn data_label(&self, key: &str) -> Option<&str> {
        let decision = self.steps.values().find_map(|s| match &s.kind {
            StepKind::Task(t) => t.form.iter().find(|f| f.key == key),
            _ => None,
        });
        decision
            .map(|f| f.label.as_str())
            .or_else(|| self.labels.get(key).map(String::as_str))
            .or_else(|| {
                self.form
                    .iter()
                    .find(|f| f.key == key)
                    .map(|f| f.label.as_str())
            })
    }

    /// The case data keys that outcomes and automatic steps write (`set:`) without a
    /// Chinese label anywhere in the definition, each with the YAML path that writes it:
    /// a page would show them under their raw key (`lianban check`: W-UNLABELED-DATA).
    pub fn unlabeled_data(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = Vec::new();
        for (index, step) in self.steps.values().enumerate() {
            let written: Vec<(String, &str)> = match &step.kind {
                StepKind::Task(t) => t
                    .outcomes
                    .values()
                    .flat_map(|o| {
                        o.set.iter().map(move |a| {
                            (format!("outcomes.{}.set.{}", o.key, a.key), a.key.as_str())
                        })
                    })
                    .collect(),
                StepKind::Auto(a) => a
                    .set
                    .iter()
                    .map(|s| (format!("set.{}", s.key), s.key.as_str()))
                    .collect(),
                _ => Vec::new(),
            };
            for (rel, key) in written {
                if self.data_label(key).is_none() && !out.iter().any(|(k, _)| k == key) {
                    out.push((key.to_owned(), format!("steps[{index}].{rel}")));
                }
            }
        }
        out
    }

    /// Table data by name, as rules see it in `tables`.
    pub fn table_values(&self) -> serde_json::Map<String, serde_json::Value> {
        self.tables
            .iter()
            .map(|(key, t)| (key.clone(), t.data.clone()))
            .collect()
    }
}

/// Named data for rules, e.g. bank BIN prefixes; read-only in expressions.
#[derive(Debug, Clone)]
pub struct Table {
    /// Name, available to rules as `tables.<key>`.
    pub key: String,
    /// Where the data comes from.
    pub source: String,
    /// The data file (relative to the definition) when it was not written inline.
    pub file: Option<String>,
    /// The data.
    pub data: serde_json::Value,
}

/// Descriptive metadata of a definition.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Metadata {
    /// Issuing authorities (发文机关).
    pub authority: Vec<String>,
    /// Document number, e.g. 阳人社字〔2023〕45号.
    pub document_number: Option<String>,
    /// Legal basis entries (法律依据).
    pub legal_basis: Vec<String>,
    /// Acceptance condition (受理条件) in prose.
    pub acceptance: Option<String>,
    /// Where to apply (办理地点).
    pub location: Option<String>,
    /// Contacts: label → phone or address.
    pub contacts: IndexMap<String, String>,
}

/// A department taking part in the process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Department {
    /// Key other systems use, e.g. `shebao`.
    pub key: String,
    /// Full name.
    pub name: String,
    /// The name it signs and seals papers with (阳城县社会保险服务中心), when that is not
    /// `name`: a 股 or a 窗口 does not seal. Required of every department whose role does a
    /// task with an outcome that issues a document (`lianban check`, outside bases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub issuer: Option<String>,
    /// Service window / office.
    pub window: Option<String>,
    /// Phone number.
    pub phone: Option<String>,
    /// The department's own system, when messages are pushed to it (`docs/push.md`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<DepartmentSystem>,
}

/// Where a department's system receives pushed messages. The secret itself is never in a
/// definition: only the name of the environment variable that holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DepartmentSystem {
    /// `https://…` (or `http://` for a receiver on the same machine) endpoint.
    pub url: String,
    /// Name of the environment variable holding the HMAC signing secret.
    pub secret_env: String,
}

/// A role that human tasks are assigned to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Role {
    /// Role key.
    pub key: String,
    /// Human name.
    pub name: String,
    /// Department key the role belongs to.
    pub department: String,
}

/// Type of a form field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Free text.
    Text,
    /// One of `options`.
    Choice,
    /// Any subset of `options`.
    MultiChoice,
    /// Yes / no.
    Bool,
    /// A calendar date, `YYYY-MM-DD`.
    Date,
    /// A month, `YYYY-MM`.
    YearMonth,
    /// A number.
    Number,
    /// An amount of money in yuan, two decimals.
    Money,
    /// A mainland mobile or landline number.
    Phone,
    /// A resident ID number (GB 11643).
    CnId,
    /// A bank card number (Luhn).
    BankCard,
    /// A postal address.
    Address,
}

/// One field of a form (the application form or a task's decision form).
#[derive(Debug, Clone)]
pub struct Field {
    /// Key in case data.
    pub key: String,
    /// Label shown to people.
    pub label: String,
    /// Value type.
    pub field_type: FieldType,
    /// Whether a value is required (when the field applies).
    pub required: bool,
    /// The field applies only when this is true.
    pub when: Option<Expr>,
    /// Allowed values for choice fields.
    pub options: Vec<String>,
    /// Cross-field check: `()` or `""` when fine, otherwise the message shown at the field.
    pub check: Option<Expr>,
    /// Help text.
    pub help: Option<String>,
    /// A task's decision form only: the outcome keys this field belongs to; empty for every
    /// outcome. A field of other outcomes is neither required nor shown as theirs, so a
    /// confirmation can require what a refusal does not ask for.
    pub outcomes: Vec<String>,
    /// Bounds on the value beyond its type; what the definition leaves out takes the
    /// type's default (`definition/limits.rs`).
    pub limits: FieldLimits,
}

/// What a definition writes to bound a field's value (`max_length:`, `min:`, `max:`,
/// `multiline:`); `None` means the default of the field's type, see
/// [`FieldLimits::max_chars`], [`FieldLimits::number_range`], [`FieldLimits::date_range`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FieldLimits {
    /// The longest text, in characters (`text` and `address`).
    pub max_length: Option<usize>,
    /// The smallest value (`number`, `money`, `date`, `year_month`).
    pub min: Option<Bound>,
    /// The largest value (`number`, `money`, `date`, `year_month`).
    pub max: Option<Bound>,
    /// A `text` field that may span lines (drawn as a text area; longer by default).
    pub multiline: bool,
}

/// One end of a field's range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// A number or amount.
    Number(f64),
    /// A date; for a `year_month` field, its month counts.
    Date(chrono::NaiveDate),
    /// The day the value is checked (`today`), e.g. a birth month may not be later.
    Today,
}

impl Field {
    /// Whether the field belongs to the decision `outcome`.
    pub fn serves(&self, outcome: &str) -> bool {
        self.outcomes.is_empty() || self.outcomes.iter().any(|o| o == outcome)
    }
}

/// A material the applicant hands in.
#[derive(Debug, Clone)]
pub struct Material {
    /// Key.
    pub key: String,
    /// Name as on the notice.
    pub name: String,
    /// Number of copies, if counted.
    pub copies: Option<u32>,
    /// What the copies are counted in (张 for photos); `份` when not written.
    pub unit: Option<String>,
    /// Required only when this is true.
    pub when: Option<Expr>,
    /// Why it is (or is not) required, shown on notices.
    pub note: Option<String>,
    /// Why it applies (shown on the notice beside the material).
    pub why: Option<String>,
}

/// A named constant.
#[derive(Debug, Clone)]
pub struct Parameter {
    /// Key, available to rules as `params.<key>`.
    pub key: String,
    /// Value.
    pub value: serde_json::Value,
    /// Where the value comes from (regulation, or "local setting").
    pub source: String,
    /// Whether the value is a local setting rather than a published rule.
    pub local: bool,
}

/// A working-time duration as written in a definition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Duration {
    /// N working days in the process calendar.
    Workdays(u32),
    /// N calendar days.
    Days(u32),
    /// N hours.
    Hours(u32),
}

/// One step of a process.
#[derive(Debug, Clone)]
pub struct Step {
    /// Step id.
    pub id: StepId,
    /// Human name (e.g. 受理).
    pub name: String,
    /// What the step does.
    pub kind: StepKind,
}

/// What a step does.
#[derive(Debug, Clone)]
pub enum StepKind {
    /// A person of a role decides.
    Task(TaskStep),
    /// A rule computes case data, then the case moves on.
    Auto(AutoStep),
    /// Exactly one branch: the first whose condition holds, else `otherwise`.
    Choice(ChoiceStep),
    /// Every branch whose condition holds; the join waits for the branches taken.
    MultiChoice(SplitStep),
    /// Every branch; the join waits for all.
    Parallel(SplitStep),
    /// Synchronizes the branches of one split.
    Join(JoinStep),
    /// Waits for an external event.
    Wait(WaitStep),
    /// Ends the case with a result.
    End(EndStep),
}

/// A human task step.
#[derive(Debug, Clone)]
pub struct TaskStep {
    /// Role the task is assigned to.
    pub role: String,
    /// Outcomes the clerk can choose, in file order.
    pub outcomes: IndexMap<String, Outcome>,
    /// The task's own decision form.
    pub form: Vec<Field>,
    /// Due time after the task is created.
    pub due: Option<Duration>,
    /// Instead of `due`: an expression computing the due date (`"YYYY-MM-DD"`) when the
    /// task is created; the task is due at the end of that day, Beijing time.
    pub due_date: Option<Expr>,
    /// How long before the due time the task enters its warning period (the step's own
    /// `warn`, else the definition's `time_limits.warn`).
    pub warn: Option<Duration>,
    /// What the engine does when the task's warning period starts or it becomes overdue.
    pub escalate: Vec<Escalation>,
    /// Earlier task steps whose completers may not work this one on the same case
    /// (`not_same_as:`, 受审分离): whoever completed any of them in the case can neither
    /// claim nor complete a task of this step.
    pub not_same_as: Vec<StepId>,
}

/// The case-level time limits of a definition (`time_limits:`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TimeLimits {
    /// The legal time limit (法定时限), counted from the start of the case.
    pub legal: Option<Duration>,
    /// The promised time limit (承诺时限), usually shorter than the legal one.
    pub promised: Option<Duration>,
    /// Default warning period of task steps that do not set `warn` themselves.
    pub warn: Option<Duration>,
}

/// When an escalation applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EscalateOn {
    /// The task entered its warning period.
    Warning,
    /// The task passed its due time.
    Overdue,
}

impl EscalateOn {
    /// The key as written in definitions.
    pub fn as_str(self) -> &'static str {
        match self {
            EscalateOn::Warning => "warning",
            EscalateOn::Overdue => "overdue",
        }
    }
}

/// One `escalate:` entry of a task step.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Escalation {
    /// When it applies.
    pub on: EscalateOn,
    /// What the engine does.
    pub action: EscalateAction,
}

/// What an escalation does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EscalateAction {
    /// Leave an in-app notice for the supervisors of the task's department.
    NotifySupervisor,
    /// Give the task to another role (unclaimed), e.g. a reviewer.
    Reassign(String),
    /// Complete the task with this outcome, as the system, with this written reason.
    Outcome {
        /// Outcome key of the step.
        key: String,
        /// Written reason (required when the outcome requires one).
        reason: Option<String>,
    },
}

/// An outcome of a human task.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// Outcome key (e.g. `accept`).
    pub key: String,
    /// Button label (e.g. 受理).
    pub label: String,
    /// Step the case moves to.
    pub target: StepId,
    /// Whether a written reason is required (refusals).
    pub reason_required: bool,
    /// Documents issued when this outcome is chosen.
    pub documents: Vec<String>,
    /// Case data written when this outcome is chosen.
    pub set: Vec<Assignment>,
    /// What must hold before a person may choose this outcome (`check:`), e.g. the
    /// acceptance condition on 受理: an expression over the case (`form`, `data`, `params`,
    /// `tables`, `today`) giving the problems that stop it — a list of texts, or one text;
    /// `()`, `[]`, `""` and `true` mean none.
    pub check: Option<Expr>,
}

/// `data.<key> = <expr>`.
#[derive(Debug, Clone)]
pub struct Assignment {
    /// Key in case data.
    pub key: String,
    /// Expression computing the value.
    pub expr: Expr,
}

/// An automatic step.
#[derive(Debug, Clone)]
pub struct AutoStep {
    /// Values to compute and write into case data, in order.
    pub set: Vec<Assignment>,
    /// Next step.
    pub next: StepId,
}

/// A conditional branch.
#[derive(Debug, Clone)]
pub struct Branch {
    /// Condition; `None` means always.
    pub when: Option<Expr>,
    /// Label shown on the process map (defaults to the condition text).
    pub label: Option<String>,
    /// Target step.
    pub to: StepId,
}

/// Exclusive choice.
#[derive(Debug, Clone)]
pub struct ChoiceStep {
    /// Branches tried in order.
    pub branches: Vec<Branch>,
    /// Taken when no branch condition holds.
    pub otherwise: Option<StepId>,
}

/// Parallel or multi-choice split.
#[derive(Debug, Clone)]
pub struct SplitStep {
    /// Branches (for parallel, conditions are absent).
    pub branches: Vec<Branch>,
    /// The join that synchronizes the branches taken.
    pub join: StepId,
    /// Where to go when a multi-choice takes no branch (defaults to the join's next step).
    pub otherwise: Option<StepId>,
}

/// A synchronizing join.
#[derive(Debug, Clone)]
pub struct JoinStep {
    /// The split whose branches it waits for (resolved during validation).
    pub split: StepId,
    /// Next step once all branches taken have arrived.
    pub next: StepId,
}

/// Wait for an external event.
#[derive(Debug, Clone)]
pub struct WaitStep {
    /// Event name → next step.
    pub on: IndexMap<String, StepId>,
    /// Due time (e.g. the supplement deadline).
    pub due: Option<Duration>,
    /// Whether the case's legal clock stops while waiting (补正, replies).
    pub pauses_clock: bool,
    /// What the engine does when `due` passes while the case still waits (only
    /// `on: overdue` with `notify`: a wait never decides by itself).
    pub escalate: Vec<Escalation>,
}

/// Clerks' words for the events wait steps name (the map's edges, the case page's
/// buttons); an event without one shows its key.
pub fn event_label(event: &str) -> &str {
    match event {
        "supplied" => "补正材料已收齐",
        "replied" => "已收到答复",
        "withdrawn" => "申请人撤回",
        other => other,
    }
}

/// End of the case.
#[derive(Debug, Clone)]
pub struct EndStep {
    /// Result, e.g. 办结 / 不予受理 / 撤件.
    pub result: String,
}

/// A document a case can issue.
#[derive(Debug, Clone)]
pub struct Document {
    /// Key.
    pub key: String,
    /// Name (e.g. 一次性补正材料告知书).
    pub name: String,
    /// Template name under `templates/`.
    pub template: String,
    /// Number prefix when documents of this kind are numbered.
    pub numbered: Option<String>,
}

/// The actions a schedule can name; an unknown one is a definition error.
pub const ACTIONS: &[&str] = &["push_tables"];

/// A cron schedule.
#[derive(Debug, Clone)]
pub struct Schedule {
    /// Schedule id.
    pub id: String,
    /// The expression as the policy officer wrote it (5 or 6 fields).
    pub cron_text: String,
    /// Parsed schedule. For a 5-field crontab text a seconds field is added and weekday
    /// numbers are moved to the `cron` crate's counting (crontab 1 = Monday is its 2).
    pub cron: cron::Schedule,
    /// Action name the scheduler performs (one of [`ACTIONS`]).
    pub action: String,
    /// The table document an action such as `push_tables` issues (defaults to
    /// `push_table`).
    pub document: Option<String>,
    /// Fire only on working days of the definition's calendar; the day of the week then
    /// comes from the calendar (调休 weekend working days fire, holidays do not).
    pub workdays_only: bool,
    /// After downtime, run a missed firing once (true) or skip it (false).
    pub catch_up: bool,
}
