//! One command's working copy of a case: the cloned state, the events and effects gathered
//! so far, and the facts rules see. A command either finishes it into a [`Transition`] or
//! drops it, so a refused command never changes the state it was given.

use chrono::{DateTime, Utc};
use chrono_tz::Asia::Shanghai;
use serde_json::{Map, Value};

use super::{CaseState, CaseStatus, Effect, Event, RuntimeError, Transition, Visit};
use crate::definition::{Assignment, Process, StepId};
use crate::rules::Facts;

/// The most steps one command may enter before the flow is declared to run in a circle.
pub(super) const MAX_STEPS: u32 = 1000;

/// A case being changed by one command.
pub(super) struct Run<'p> {
    /// The definition the case runs on.
    pub(super) process: &'p Process,
    /// The state being changed (a clone of the caller's).
    pub(super) state: CaseState,
    /// What happened so far, in order.
    pub(super) events: Vec<Event>,
    /// What the caller must do so far, in order.
    pub(super) effects: Vec<Effect>,
    /// The command's time.
    pub(super) now: DateTime<Utc>,
    /// `params` for rules, built once from the definition's parameters.
    params: Map<String, Value>,
    /// `tables` for rules, built once from the definition's tables.
    tables: Map<String, Value>,
    /// Steps entered by this command, for the runaway guard.
    steps_entered: u32,
}

impl<'p> Run<'p> {
    /// Starts a working copy of `state`.
    pub(super) fn new(process: &'p Process, state: CaseState, now: DateTime<Utc>) -> Self {
        let params = process.parameter_values();
        let tables = process.table_values();
        Run {
            process,
            state,
            events: Vec::new(),
            effects: Vec::new(),
            now,
            params,
            tables,
            steps_entered: 0,
        }
    }

    /// The transition the command produced.
    pub(super) fn finish(self) -> Transition {
        Transition {
            state: self.state,
            events: self.events,
            effects: self.effects,
        }
    }

    /// Refuses commands on a case that has ended.
    ///
    /// # Errors
    /// [`RuntimeError::CaseEnded`] unless the case is active.
    pub(super) fn ensure_active(&self) -> Result<(), RuntimeError> {
        match &self.state.status {
            CaseStatus::Active => Ok(()),
            CaseStatus::Completed { result, .. } => Err(RuntimeError::CaseEnded(result.clone())),
            CaseStatus::Cancelled { .. } => Err(RuntimeError::CaseEnded("已撤销".into())),
        }
    }

    /// Hands out the next number for a token, frame or task.
    pub(super) fn next_seq(&mut self) -> u32 {
        let seq = self.state.next_seq;
        self.state.next_seq += 1;
        seq
    }

    /// The facts rules see now, with `data` as given (case data, or case data plus a
    /// decision being checked).
    pub(super) fn facts_with<'a>(&'a self, data: &'a Map<String, Value>) -> Facts<'a> {
        Facts {
            form: &self.state.form,
            data,
            params: &self.params,
            tables: &self.tables,
            materials: &self.state.materials,
            today: self.today(),
        }
    }

    /// Today's date in Beijing time, where the county works; a UTC date would flip at
    /// 08:00 local time.
    pub(super) fn today(&self) -> chrono::NaiveDate {
        self.now.with_timezone(&Shanghai).date_naive()
    }

    /// The facts rules see now.
    pub(super) fn facts(&self) -> Facts<'_> {
        self.facts_with(&self.state.data)
    }

    /// Records that a token entered `step`, counting towards the runaway guard.
    ///
    /// # Errors
    /// [`RuntimeError::Runaway`] when this command has entered more than [`MAX_STEPS`] steps.
    pub(super) fn enter(&mut self, step: &StepId) -> Result<(), RuntimeError> {
        self.steps_entered += 1;
        if self.steps_entered > MAX_STEPS {
            return Err(RuntimeError::Runaway(step.clone()));
        }
        self.state.trail.push(Visit {
            step: step.clone(),
            at: self.now,
        });
        self.events.push(Event::StepEntered { step: step.clone() });
        Ok(())
    }

    /// Evaluates assignments in order, each seeing the values written before it, and writes
    /// them into case data.
    ///
    /// # Errors
    /// [`RuntimeError::Rule`] when an expression fails.
    pub(super) fn assign(
        &mut self,
        assignments: &[Assignment],
        written: &mut Map<String, Value>,
    ) -> Result<(), RuntimeError> {
        for assignment in assignments {
            let value = assignment.expr.eval(&self.facts())?;
            self.state
                .data
                .insert(assignment.key.clone(), value.clone());
            written.insert(assignment.key.clone(), value);
        }
        Ok(())
    }

    /// Emits `DataWritten` for `step` unless nothing was written.
    pub(super) fn data_written(&mut self, step: &StepId, values: Map<String, Value>) {
        if !values.is_empty() {
            self.events.push(Event::DataWritten {
                step: step.clone(),
                values,
            });
        }
    }
}
