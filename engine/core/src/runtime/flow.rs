//! Advancing tokens: a token entering a step, and on through automatic steps (auto, choice,
//! splits, joins) until every token waits on a person or an event, or the case ends. Human
//! task bookkeeping lives in `tasks`; this file only decides where tokens go.

use super::run::Run;
use super::{CaseStatus, Event, Frame, RuntimeError, Token};
use crate::definition::{
    AutoStep, Branch, ChoiceStep, EndStep, JoinStep, SplitStep, Step, StepId, StepKind,
};

impl Token {
    /// The same thread of control, now at `step`.
    pub(super) fn moved_to(self, step: StepId) -> Token {
        // A wait's due time belongs to that visit of that wait.
        Token {
            step,
            due_at: None,
            ..self
        }
    }
}

impl Run<'_> {
    /// Moves `token` into its step and on until it, and every token split off from it, waits
    /// on a person or an event, or the case ends.
    ///
    /// # Errors
    /// [`RuntimeError::Rule`] when a condition or value fails, [`RuntimeError::NoBranch`] when
    /// a choice has nowhere to go, [`RuntimeError::Runaway`] when automatic steps loop.
    pub(super) fn advance(&mut self, token: Token) -> Result<(), RuntimeError> {
        // Depth first, in branch order: each branch of a split runs until it waits before the
        // next one starts, so tasks are created in the order the definition lists them.
        let mut pending = vec![token];
        while let Some(token) = pending.pop() {
            // An end step reached by one branch ends the case; the other branches die with it.
            if self.state.status != CaseStatus::Active {
                break;
            }
            let next = self.step_into(token)?;
            pending.extend(next.into_iter().rev());
        }
        Ok(())
    }

    /// Lets one token enter its step; returns the tokens that move on at once.
    fn step_into(&mut self, token: Token) -> Result<Vec<Token>, RuntimeError> {
        // The process outlives this run, so steps borrowed from it do not hold `self`.
        let process = self.process;
        let step = process
            .step(&token.step)
            .ok_or_else(|| RuntimeError::UnknownStep(token.step.clone()))?;
        self.enter(&step.id)?;
        match &step.kind {
            StepKind::Task(spec) => {
                self.open_task(step, spec, token)?;
                Ok(Vec::new())
            }
            StepKind::Auto(auto) => self.run_auto(step, auto, token),
            StepKind::Choice(choice) => self.choose(step, choice, token),
            StepKind::Parallel(split) => {
                let taken = split.branches.iter().collect();
                self.split(step, split, token, taken)
            }
            StepKind::MultiChoice(split) => {
                let taken = self.holding(&split.branches)?;
                self.split(step, split, token, taken)
            }
            StepKind::Join(join) => self.join(step, join, token),
            StepKind::Wait(wait) => {
                // Parked until `Deliver` brings one of the events the step waits for.
                let due = wait
                    .due
                    .and_then(|due| super::tasks::due_at(self.process, due, self.now).ok());
                self.state.tokens.push(Token {
                    due_at: due.map(|d| d.at),
                    provisional: due.is_some_and(|d| d.provisional),
                    ..token
                });
                if wait.pauses_clock {
                    self.pause_clock(&step.id);
                }
                Ok(Vec::new())
            }
            StepKind::End(end) => {
                self.end(step, end);
                Ok(Vec::new())
            }
        }
    }

    /// Computes case data, then moves on.
    fn run_auto(
        &mut self,
        step: &Step,
        auto: &AutoStep,
        token: Token,
    ) -> Result<Vec<Token>, RuntimeError> {
        let mut written = serde_json::Map::new();
        self.assign(&auto.set, &mut written)?;
        self.data_written(&step.id, written);
        Ok(vec![token.moved_to(auto.next.clone())])
    }

    /// Exclusive choice: the first branch that holds, else `otherwise`.
    fn choose(
        &mut self,
        step: &Step,
        choice: &ChoiceStep,
        token: Token,
    ) -> Result<Vec<Token>, RuntimeError> {
        let mut target = None;
        for branch in &choice.branches {
            if self.holds(branch)? {
                target = Some(branch.to.clone());
                break;
            }
        }
        let to = target
            .or_else(|| choice.otherwise.clone())
            .ok_or_else(|| RuntimeError::NoBranch(step.id.clone()))?;
        self.branch_taken(&step.id, &to);
        Ok(vec![token.moved_to(to)])
    }

    /// Parallel or multi-choice split: one token per branch taken, inside a new frame so
    /// the join waits for exactly those.
    fn split(
        &mut self,
        step: &Step,
        split: &SplitStep,
        token: Token,
        taken: Vec<&Branch>,
    ) -> Result<Vec<Token>, RuntimeError> {
        if taken.is_empty() {
            // Only a multi-choice gets here: nothing to synchronize, so no frame at all.
            let to = match &split.otherwise {
                Some(otherwise) => otherwise.clone(),
                None => self.join_next(&split.join)?,
            };
            self.branch_taken(&step.id, &to);
            return Ok(vec![token.moved_to(to)]);
        }
        let frame = Frame {
            id: self.next_seq(),
            split: step.id.clone(),
            join: split.join.clone(),
            expected: u32::try_from(taken.len()).unwrap_or(u32::MAX),
            arrived: 0,
        };
        let mut frames = token.frames;
        frames.push(frame.id);
        self.state.frames.push(frame);
        let mut tokens = Vec::with_capacity(taken.len());
        for branch in taken {
            self.branch_taken(&step.id, &branch.to);
            tokens.push(Token {
                id: self.next_seq(),
                step: branch.to.clone(),
                frames: frames.clone(),
                due_at: None,
                provisional: false,
            });
        }
        Ok(tokens)
    }

    /// Synchronizing merge: counts the arriving token in its innermost frame for this join
    /// and lets one token continue once every branch taken has arrived.
    fn join(
        &mut self,
        step: &Step,
        join: &JoinStep,
        mut token: Token,
    ) -> Result<Vec<Token>, RuntimeError> {
        let found = token
            .frames
            .iter()
            .enumerate()
            .rev()
            .find_map(|(depth, id)| {
                let index = self
                    .state
                    .frames
                    .iter()
                    .position(|f| f.id == *id && f.join == step.id)?;
                Some((depth, index))
            });
        let Some((depth, index)) = found else {
            // A token that this join's split never counted (e.g. a multi-choice `otherwise`
            // routed to the join) has nothing to wait for: it passes straight through.
            return Ok(vec![token.moved_to(join.next.clone())]);
        };
        // `index` was found in this very vector just above.
        let frame = &mut self.state.frames[index];
        frame.arrived += 1;
        let (arrived, expected) = (frame.arrived, frame.expected);
        self.events.push(Event::BranchJoined {
            join: step.id.clone(),
            arrived,
            expected,
        });
        if arrived < expected {
            // This branch is done; its token is absorbed by the frame.
            return Ok(Vec::new());
        }
        self.state.frames.remove(index);
        token.frames.truncate(depth);
        Ok(vec![token.moved_to(join.next.clone())])
    }

    /// Explicit termination: the case is completed and everything still open is cancelled.
    fn end(&mut self, step: &Step, end: &EndStep) {
        self.cancel_open_tasks();
        self.state.tokens.clear();
        self.state.frames.clear();
        self.state.status = CaseStatus::Completed {
            result: end.result.clone(),
            step: step.id.clone(),
        };
        self.state.ended_at = Some(self.now);
        self.events.push(Event::CaseCompleted {
            result: end.result.clone(),
        });
    }

    /// The branches whose condition holds, in order.
    fn holding<'b>(&self, branches: &'b [Branch]) -> Result<Vec<&'b Branch>, RuntimeError> {
        let mut taken = Vec::new();
        for branch in branches {
            if self.holds(branch)? {
                taken.push(branch);
            }
        }
        Ok(taken)
    }

    /// Whether a branch is taken; a branch without a condition always is.
    fn holds(&self, branch: &Branch) -> Result<bool, RuntimeError> {
        match &branch.when {
            None => Ok(true),
            Some(when) => Ok(when.eval_bool(&self.facts())?),
        }
    }

    /// The step after a join.
    fn join_next(&self, join: &StepId) -> Result<StepId, RuntimeError> {
        match self.process.step(join).map(|s| &s.kind) {
            Some(StepKind::Join(j)) => Ok(j.next.clone()),
            _ => Err(RuntimeError::UnknownStep(join.clone())),
        }
    }

    fn branch_taken(&mut self, step: &StepId, to: &StepId) {
        self.events.push(Event::BranchTaken {
            step: step.clone(),
            to: to.clone(),
        });
    }
}
