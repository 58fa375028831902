//! Transitions: how each command moves tokens through the steps of a process.

use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

use super::{Actor, CaseId, CaseState, Command, RuntimeError, Transition};
use crate::definition::Process;

/// Starts a case at the process's start step and runs it until it waits on a person or an
/// event (or ends).
///
/// # Errors
/// [`RuntimeError`] when a rule fails on the way; nothing is created then.
pub fn start(
    process: &Process,
    id: CaseId,
    form: Map<String, Value>,
    materials: Vec<String>,
    actor: &Actor,
    now: DateTime<Utc>,
) -> Result<Transition, RuntimeError> {
    let _ = (process, id, form, materials, actor, now);
    Err(RuntimeError::NotWaiting("unimplemented".into()))
}

/// Applies one command to a case.
///
/// # Errors
/// [`RuntimeError`] when the command is not allowed in this state; the state is unchanged.
pub fn apply(
    process: &Process,
    state: &CaseState,
    actor: &Actor,
    command: Command,
    now: DateTime<Utc>,
) -> Result<Transition, RuntimeError> {
    let _ = (process, state, actor, command, now);
    Err(RuntimeError::NotWaiting("unimplemented".into()))
}
