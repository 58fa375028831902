//! The definition as written: serde structs that mirror `docs/definition-format.md` key for
//! key and reject unknown keys. Nothing is resolved or checked here beyond value types;
//! required keys are `Option` so that the validator can report every missing one at once.

use indexmap::IndexMap;
use serde::Deserialize;

/// A whole definition file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawProcess {
    pub(super) id: Option<String>,
    pub(super) version: Option<i64>,
    pub(super) name: Option<String>,
    /// The id of the definition this one is an overlay of; resolved by the loader.
    pub(super) extends: Option<String>,
    #[serde(rename = "abstract")]
    pub(super) is_abstract: Option<bool>,
    pub(super) calendar: Option<String>,
    pub(super) case_prefix: Option<String>,
    #[serde(default)]
    pub(super) metadata: RawMetadata,
    pub(super) departments: Option<IndexMap<String, RawDepartment>>,
    pub(super) roles: Option<IndexMap<String, RawRole>>,
    #[serde(default)]
    pub(super) rules: Vec<String>,
    #[serde(default)]
    pub(super) parameters: IndexMap<String, RawParameter>,
    #[serde(default)]
    pub(super) form: Vec<RawField>,
    #[serde(default)]
    pub(super) materials: Vec<RawMaterial>,
    #[serde(default)]
    pub(super) joint_items: Vec<super::joint::RawJointItem>,
    #[serde(default)]
    pub(super) documents: IndexMap<String, RawDocument>,
    pub(super) start: Option<String>,
    pub(super) steps: Option<Vec<RawStep>>,
    #[serde(default)]
    pub(super) schedules: Vec<RawSchedule>,
    #[serde(default)]
    pub(super) tests: Vec<RawExample>,
    #[serde(default)]
    pub(super) tables: IndexMap<String, RawTable>,
    pub(super) evaluate: Option<String>,
    pub(super) time_limits: Option<RawTimeLimits>,
    #[serde(default)]
    pub(super) labels: IndexMap<String, String>,
}

/// `time_limits:`: durations as text, resolved like a step's `due`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTimeLimits {
    pub(super) legal: Option<String>,
    pub(super) promised: Option<String>,
    pub(super) warn: Option<String>,
}

/// One entry of a task step's `escalate:`; `on` plus exactly one of `notify`, `reassign`,
/// `outcome`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEscalation {
    pub(super) on: Option<String>,
    pub(super) notify: Option<String>,
    pub(super) reassign: Option<String>,
    pub(super) outcome: Option<String>,
    pub(super) reason: Option<String>,
}

/// One entry of `tables:`: inline `data` or a `file` relative to the definition.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawTable {
    pub(super) source: Option<String>,
    pub(super) data: Option<serde_json::Value>,
    pub(super) file: Option<String>,
}

/// `metadata:`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetadata {
    #[serde(default)]
    pub(super) authority: Vec<String>,
    pub(super) document_number: Option<String>,
    #[serde(default)]
    pub(super) legal_basis: Vec<String>,
    pub(super) acceptance: Option<String>,
    pub(super) location: Option<String>,
    #[serde(default)]
    pub(super) contacts: IndexMap<String, String>,
}

/// One entry of `departments:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDepartment {
    pub(super) name: Option<String>,
    pub(super) issuer: Option<String>,
    pub(super) window: Option<String>,
    pub(super) phone: Option<String>,
    pub(super) system: Option<RawSystem>,
}

/// A department's `system:`: where its own system receives pushed messages. Only
/// non-secret data lives in the definition; the signing key is read from `secret_env`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSystem {
    pub(super) url: Option<String>,
    pub(super) secret_env: Option<String>,
}

/// One entry of `roles:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawRole {
    pub(super) name: Option<String>,
    pub(super) department: Option<String>,
}

/// One entry of `parameters:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParameter {
    pub(super) value: Option<serde_json::Value>,
    pub(super) source: Option<String>,
    #[serde(default)]
    pub(super) local: bool,
}

/// A form field (application form or a task's decision form).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawField {
    pub(super) key: Option<String>,
    pub(super) label: Option<String>,
    #[serde(rename = "type")]
    pub(super) field_type: Option<String>,
    #[serde(default)]
    pub(super) required: bool,
    pub(super) when: Option<String>,
    pub(super) options: Option<Vec<String>>,
    pub(super) help: Option<String>,
    pub(super) check: Option<String>,
    /// Task forms only: the outcomes the field belongs to (all when absent).
    pub(super) outcomes: Option<Vec<String>>,
    pub(super) max_length: Option<usize>,
    pub(super) min: Option<serde_json::Value>,
    pub(super) max: Option<serde_json::Value>,
    #[serde(default)]
    pub(super) multiline: bool,
}

/// One entry of `materials:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMaterial {
    pub(super) key: Option<String>,
    pub(super) name: Option<String>,
    pub(super) copies: Option<u32>,
    pub(super) unit: Option<String>,
    pub(super) when: Option<String>,
    pub(super) note: Option<String>,
    pub(super) why: Option<String>,
}

/// One entry of `documents:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawDocument {
    pub(super) name: Option<String>,
    pub(super) template: Option<String>,
    pub(super) numbered: Option<String>,
}

/// One step; which keys apply depends on `type` (checked by the validator, which can then
/// say "`role` does not apply to an `auto` step" instead of a bare "unknown key").
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawStep {
    pub(super) id: Option<String>,
    pub(super) name: Option<String>,
    #[serde(rename = "type")]
    pub(super) kind: Option<String>,
    pub(super) role: Option<String>,
    pub(super) due: Option<String>,
    pub(super) due_date: Option<String>,
    pub(super) warn: Option<String>,
    pub(super) escalate: Option<Vec<RawEscalation>>,
    pub(super) form: Option<Vec<RawField>>,
    pub(super) outcomes: Option<IndexMap<String, RawOutcome>>,
    pub(super) set: Option<IndexMap<String, String>>,
    pub(super) next: Option<String>,
    pub(super) branches: Option<Vec<RawBranch>>,
    pub(super) otherwise: Option<String>,
    pub(super) join: Option<String>,
    pub(super) on: Option<IndexMap<String, String>>,
    pub(super) pauses_clock: Option<bool>,
    pub(super) result: Option<String>,
    pub(super) not_same_as: Option<StepNames>,
}

/// One step id or a list of them: `not_same_as: accept` and `not_same_as: [accept, check]`
/// both read.
#[derive(Debug, Default)]
pub(super) struct StepNames(pub(super) Vec<String>);

impl<'de> Deserialize<'de> for StepNames {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Names;
        impl<'de> serde::de::Visitor<'de> for Names {
            type Value = StepNames;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a step id or a list of step ids")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<StepNames, E> {
                Ok(StepNames(vec![v.to_owned()]))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<StepNames, A::Error> {
                let mut names = Vec::new();
                while let Some(name) = seq.next_element::<String>()? {
                    names.push(name);
                }
                Ok(StepNames(names))
            }
        }
        deserializer.deserialize_any(Names)
    }
}

/// One outcome of a task.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawOutcome {
    pub(super) label: Option<String>,
    pub(super) to: Option<String>,
    #[serde(default)]
    pub(super) reason: bool,
    #[serde(default)]
    pub(super) documents: Vec<String>,
    #[serde(default)]
    pub(super) set: IndexMap<String, String>,
    pub(super) check: Option<String>,
}

/// One branch of a choice, multi-choice or parallel step.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawBranch {
    pub(super) when: Option<String>,
    pub(super) to: Option<String>,
    pub(super) label: Option<String>,
}

/// One entry of `schedules:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSchedule {
    pub(super) id: Option<String>,
    pub(super) cron: Option<String>,
    pub(super) action: Option<String>,
    pub(super) document: Option<String>,
    #[serde(default)]
    pub(super) workdays_only: bool,
    #[serde(default)]
    pub(super) catch_up: bool,
}

/// One entry of `tests:` (or of a `*.tests.yaml` list).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExample {
    pub(super) name: Option<String>,
    pub(super) at: Option<String>,
    #[serde(default)]
    pub(super) input: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub(super) expect: serde_json::Map<String, serde_json::Value>,
    #[serde(default)]
    pub(super) materials: Vec<String>,
    #[serde(default)]
    pub(super) run: Vec<RawAction>,
    pub(super) expect_run: Option<RawExpectRun>,
}

/// One entry of an example's `run:`; exactly one of `complete`, `deliver`, `cancel`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawAction {
    pub(super) complete: Option<String>,
    pub(super) outcome: Option<String>,
    pub(super) reason: Option<String>,
    pub(super) deliver: Option<String>,
    pub(super) materials: Option<Vec<String>>,
    pub(super) data: Option<serde_json::Map<String, serde_json::Value>>,
    pub(super) cancel: Option<String>,
}

/// An example's `expect_run:`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawExpectRun {
    pub(super) result: Option<String>,
    pub(super) open_tasks: Option<Vec<String>>,
    pub(super) documents: Option<Vec<String>>,
    #[serde(default)]
    pub(super) data: serde_json::Map<String, serde_json::Value>,
}
