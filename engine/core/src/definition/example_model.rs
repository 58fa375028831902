//! The validated example cases of a definition (`tests:` and `<name>.tests.yaml`), as the
//! example runner consumes them. Checked in `examples.rs`.

use super::model::StepId;

/// An example case written next to the definition (or in its `*.tests.yaml`).
#[derive(Debug, Clone)]
pub struct Example {
    /// Name of the example.
    pub name: String,
    /// The file it is written in.
    pub file: String,
    /// The line its entry starts on.
    pub line: usize,
    /// `today` for the rules; `None` means the real date.
    pub at: Option<chrono::NaiveDate>,
    /// Application form input.
    pub input: serde_json::Map<String, serde_json::Value>,
    /// Expectations on the `lianban evaluate` output, as written: dotted paths to values,
    /// plus `materials_include`, `materials_exclude` and `error_fields`.
    pub expect: serde_json::Map<String, serde_json::Value>,
    /// Materials received at intake (for runs).
    pub materials: Vec<String>,
    /// Commands to drive the flow with, in order.
    pub run: Vec<RunAction>,
    /// What the flow must look like after `run`.
    pub expect_run: Option<ExpectRun>,
}

/// One command of an example's `run:`.
#[derive(Debug, Clone, PartialEq)]
pub enum RunAction {
    /// Complete the open task at `step` with `outcome`.
    Complete {
        /// The step whose open task is completed.
        step: StepId,
        /// The outcome key.
        outcome: String,
        /// Decision form values.
        data: serde_json::Map<String, serde_json::Value>,
        /// Written reason, for outcomes that need one.
        reason: Option<String>,
    },
    /// Deliver an external event to a waiting case.
    Deliver {
        /// The event name (a key of some wait step's `on:`).
        event: String,
        /// Materials received with it.
        materials: Vec<String>,
        /// Data that comes with the event.
        data: serde_json::Map<String, serde_json::Value>,
    },
    /// Cancel the case.
    Cancel {
        /// Why.
        reason: String,
    },
}

/// The expected state after an example's `run:`; absent parts are not checked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExpectRun {
    /// The end result (e.g. 办结), or `active` / `cancelled`.
    pub result: Option<String>,
    /// Steps with open tasks at the end, exactly.
    pub open_tasks: Option<Vec<StepId>>,
    /// Documents issued along the way, exactly.
    pub documents: Option<Vec<String>>,
    /// Case data values that must be equal.
    pub data: serde_json::Map<String, serde_json::Value>,
}
