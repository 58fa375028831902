//! Absences and substitutes as callers use them: recording and ending an absence (the web's
//! account page and `lianban user away` / `back` share [`record_absence`] and
//! [`end_absence`]), the actor a person acts as on a task (on behalf of an absent holder),
//! a supervisor's reassignment with a reason, and who oversees a department's deadlines.
//! Every rule is `lianban_core::accounts`'s, judged at the engine clock's time; this reads
//! what the rules need and writes what they allow.

use chrono::{DateTime, NaiveDate, Utc};

use super::records::TaskRecord;
use super::{Engine, EngineError};
use lianban_core::accounts::{
    Absence, AbsenceError, Account, Principal, ReassignRefusal, Role, check_absence,
};
use lianban_core::runtime::{Actor, TaskId, Transition};
use lianban_store::{Missing, NewAbsence, Store, StoreError};

/// The account of `login`, or [`AbsenceError::UnknownUser`].
async fn account(store: &Store, login: &str) -> Result<Account, EngineError> {
    store
        .accounts()
        .get(login)
        .await?
        .ok_or_else(|| EngineError::Absence(AbsenceError::UnknownUser(login.to_owned())))
}

/// Records that `user` is away from `from` to `to` with `substitute` standing in, if
/// `recorder` may (the person, or a supervisor of their department; `None` is the operator
/// on the command line) and [`check_absence`] finds nothing wrong at `now`.
///
/// # Errors
/// [`EngineError::Absence`] saying why not (nothing is written), [`EngineError::Store`].
pub async fn record_absence(
    store: &Store,
    recorder: Option<&Principal>,
    user: &str,
    substitute: &str,
    (from, to): (NaiveDate, NaiveDate),
    now: DateTime<Utc>,
) -> Result<Absence, EngineError> {
    let absent = account(store, user).await?;
    if let Some(recorder) = recorder {
        recorder
            .may_record_absence(&absent)
            .map_err(EngineError::Absence)?;
    }
    let stand_in = account(store, substitute).await?;
    let existing = store
        .accounts()
        .current_absences(&[user, substitute], now)
        .await?;
    check_absence(&absent, &stand_in, from, to, &existing, now).map_err(EngineError::Absence)?;
    let new = NewAbsence {
        user: absent.username,
        substitute: stand_in.username,
        from,
        to,
        recorded_by: recorder.map_or_else(|| "cli".to_owned(), |p| p.user.clone()),
    };
    Ok(store.accounts().record_absence(&new, now).await?)
}

/// Ends `user`'s absences that are not over yet (销假), if `recorder` may (as for
/// [`record_absence`]). Returns how many were ended: everything the substitute held for
/// them is theirs again from `now`.
///
/// # Errors
/// [`EngineError::Absence`], [`EngineError::Store`].
pub async fn end_absence(
    store: &Store,
    recorder: Option<&Principal>,
    user: &str,
    now: DateTime<Utc>,
) -> Result<u64, EngineError> {
    let absent = account(store, user).await?;
    if let Some(recorder) = recorder {
        recorder
            .may_record_absence(&absent)
            .map_err(EngineError::Absence)?;
    }
    Ok(store.accounts().end_absences(&absent.username, now).await?)
}

impl Engine {
    /// [`record_absence`] at the engine clock's time.
    ///
    /// # Errors
    /// As [`record_absence`].
    pub async fn record_absence_for(
        &self,
        recorder: &Principal,
        user: &str,
        substitute: &str,
        days: (NaiveDate, NaiveDate),
    ) -> Result<Absence, EngineError> {
        record_absence(
            self.store(),
            Some(recorder),
            user,
            substitute,
            days,
            self.now(),
        )
        .await
    }

    /// [`end_absence`] at the engine clock's time.
    ///
    /// # Errors
    /// As [`end_absence`].
    pub async fn end_absence_for(
        &self,
        recorder: &Principal,
        user: &str,
    ) -> Result<u64, EngineError> {
        end_absence(self.store(), Some(recorder), user, self.now()).await
    }

    /// The absences not over yet (in force or later) in which any of `users` is away or
    /// stands in.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn current_absences(&self, users: &[&str]) -> Result<Vec<Absence>, EngineError> {
        Ok(self
            .store()
            .accounts()
            .current_absences(users, self.now())
            .await?)
    }

    /// The people of `principal`'s department and county who work cases (clerks and
    /// supervisors, not disabled), by login: whom an absence can name as substitute and a
    /// task be handed to.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn colleagues(&self, principal: &Principal) -> Result<Vec<Account>, EngineError> {
        Ok(self
            .store()
            .accounts()
            .list()
            .await?
            .into_iter()
            .filter(|a| {
                !a.disabled
                    && a.department == principal.department
                    && a.county == principal.county
                    && (a.roles.contains(&Role::Clerk) || a.roles.contains(&Role::Supervisor))
            })
            .collect())
    }

    /// The absences not over yet that `principal` may see: their own and those they stand
    /// in for; a supervisor sees every one of their department.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn visible_absences(
        &self,
        principal: &Principal,
    ) -> Result<Vec<Absence>, EngineError> {
        if !principal.has(Role::Supervisor) {
            return self.current_absences(&[principal.user.as_str()]).await;
        }
        let people = self.colleagues(principal).await?;
        let logins: Vec<&str> = people.iter().map(|a| a.username.as_str()).collect();
        let mut absences = self.current_absences(&logins).await?;
        absences.retain(|a| logins.contains(&a.user.as_str()));
        Ok(absences)
    }

    /// The logins `principal` stands in for now (代办).
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn standing_in_for(&self, principal: &Principal) -> Result<Vec<String>, EngineError> {
        let absences = self.current_absences(&[principal.user.as_str()]).await?;
        Ok(principal
            .standing_in_for(&absences, self.now())
            .into_iter()
            .map(|a| a.user.clone())
            .collect())
    }

    /// Who `principal` acts as on `task` now: themselves, on behalf of the task's holder
    /// when the holder is away and named them substitute
    /// ([`Principal::on_behalf_of`]). The history and the documents' 经办人 show both.
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn actor_on(
        &self,
        principal: &Principal,
        task: &TaskRecord,
    ) -> Result<Actor, EngineError> {
        let mut actor = principal.actor();
        let Some(holder) = task.claimed_by.as_deref().filter(|h| *h != principal.user) else {
            return Ok(actor);
        };
        let absences = self.current_absences(&[holder]).await?;
        actor.on_behalf_of = principal.on_behalf_of(Some(holder), &absences, self.now());
        Ok(actor)
    }

    /// Whether `principal` oversees the deadlines of their department now (the 超期督办
    /// page and the notices escalations leave): its supervisors and admins, and whoever
    /// stands in for an absent supervisor ([`Principal::oversees_at`]).
    ///
    /// # Errors
    /// [`EngineError::Store`].
    pub async fn oversees(&self, principal: &Principal) -> Result<bool, EngineError> {
        if principal.has(Role::Supervisor) || principal.has(Role::Admin) {
            return Ok(true);
        }
        let absences = self.current_absences(&[principal.user.as_str()]).await?;
        if principal.standing_in_for(&absences, self.now()).is_empty() {
            return Ok(false);
        }
        let supervisors: Vec<String> = self
            .store()
            .accounts()
            .list()
            .await?
            .into_iter()
            .filter(|a| {
                a.department == principal.department
                    && a.county == principal.county
                    && a.roles.contains(&Role::Supervisor)
            })
            .map(|a| a.username)
            .collect();
        Ok(principal.oversees_at(&supervisors, &absences, self.now()))
    }

    /// A supervisor hands an open task of their department to `to` with a reason (改派),
    /// if [`Principal::may_reassign`] lets them now: never to someone who is away. The
    /// reason goes into the history with the `TaskReassigned` event.
    ///
    /// # Errors
    /// [`EngineError::Reassign`] (nothing is written), then as [`Engine::reassign`].
    pub async fn reassign_for(
        &self,
        principal: &Principal,
        task: TaskId,
        to: &str,
        reason: &str,
    ) -> Result<Transition, EngineError> {
        let record = self
            .get_task(task)
            .await?
            .ok_or(StoreError::NotFound(Missing::Task(task)))?;
        let target = self.store().accounts().get(to).await?.ok_or_else(|| {
            EngineError::Reassign(ReassignRefusal::OtherDepartment(to.to_owned()))
        })?;
        let absences = self.current_absences(&[to]).await?;
        principal
            .may_reassign(
                &record.department,
                &record.county,
                &target,
                reason,
                &absences,
                self.now(),
            )
            .map_err(EngineError::Reassign)?;
        self.reassign_with_reason(
            task,
            Some(target.username),
            Some(reason.trim().to_owned()),
            &principal.actor(),
        )
        .await
    }
}
