//! Absences (请假、出差) and substitutes (代办人): who may record one, whether one is in force
//! at a time, on whose behalf a person acts on a task, and to whom a task may be handed.
//! Pure: the store keeps the rows, the service asks these questions at the engine clock's
//! time, so a test's manual clock decides as the real one would.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Asia::Shanghai;

use super::{Account, Principal, Role};

/// The day `now` falls on where absences are counted (Beijing time).
pub fn absence_day(now: DateTime<Utc>) -> NaiveDate {
    now.with_timezone(&Shanghai).date_naive()
}

/// An absence as recorded: `user` is away from `from` to `to` (whole days, Beijing time,
/// both included) and `substitute` works their claimed tasks meanwhile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Absence {
    /// Its id (a UUID, as stored).
    pub id: String,
    /// Login of the absent person.
    pub user: String,
    /// Login of the substitute.
    pub substitute: String,
    /// First day away.
    pub from: NaiveDate,
    /// Last day away.
    pub to: NaiveDate,
    /// Login of whoever recorded it (the person, a supervisor, or `cli`).
    pub recorded_by: String,
    /// When it was recorded.
    pub recorded_at: DateTime<Utc>,
    /// Set when the person came back early (`lianban user back`, 销假): the absence no
    /// longer holds from then on.
    pub ended_at: Option<DateTime<Utc>>,
}

impl Absence {
    /// Whether the absence holds at `now`: `now`'s day in Beijing lies within `from..=to`
    /// and the person has not come back early.
    pub fn holds_at(&self, now: DateTime<Utc>) -> bool {
        let today = absence_day(now);
        self.from <= today && today <= self.to && self.ended_at.is_none_or(|end| end > now)
    }

    /// Whether the absence still matters at `now`: in force, or starting later.
    pub fn is_current(&self, now: DateTime<Utc>) -> bool {
        let today = absence_day(now);
        today <= self.to && self.ended_at.is_none_or(|end| end > now)
    }
}

/// Why an absence cannot be recorded. Nothing is stored when it is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AbsenceError {
    /// The last day is before the first.
    #[error("请假结束日期 {to} 早于开始日期 {from}")]
    Backwards {
        /// First day.
        from: NaiveDate,
        /// Last day.
        to: NaiveDate,
    },
    /// The last day is already over.
    #[error("请假结束日期 {to} 已经过去")]
    Past {
        /// Last day.
        to: NaiveDate,
    },
    /// No account has this login.
    #[error("没有用户 {0}")]
    UnknownUser(String),
    /// Someone named themselves as their own substitute.
    #[error("代办人不能是请假人本人")]
    SelfSubstitute,
    /// The substitute works in another department or county.
    #[error("代办人“{substitute}”与“{user}”不在同一部门和县区")]
    OtherDepartment {
        /// The absent person's name.
        user: String,
        /// The substitute's name.
        substitute: String,
    },
    /// The substitute cannot work cases (an admin, a disabled account).
    #[error("“{0}”不能办理业务（已停用或不是经办人、负责人），不能作为代办人")]
    SubstituteCannotWork(String),
    /// The absent person does not work cases.
    #[error("“{0}”不是经办人或负责人，无需登记请假")]
    NotCaseWorker(String),
    /// The substitute is away on some of the days.
    #[error("代办人“{substitute}”在 {from} 至 {to} 也请假，不能代办")]
    SubstituteAway {
        /// The substitute's name.
        substitute: String,
        /// First day of the substitute's own absence.
        from: NaiveDate,
        /// Last day of it.
        to: NaiveDate,
    },
    /// The person already has an absence on some of the days.
    #[error("“{user}”在 {from} 至 {to} 已登记请假，请先销假再重新登记")]
    Overlaps {
        /// The absent person's name.
        user: String,
        /// First day of the absence already recorded.
        from: NaiveDate,
        /// Last day of it.
        to: NaiveDate,
    },
    /// The person records an absence for someone else without being their supervisor.
    #[error("只能为本人登记请假；负责人可以为本部门人员登记")]
    NotAllowed,
}

impl AbsenceError {
    /// A stable code beside the Chinese message.
    pub fn code(&self) -> &'static str {
        match self {
            AbsenceError::Backwards { .. } | AbsenceError::Past { .. } => "absence-dates",
            AbsenceError::SelfSubstitute
            | AbsenceError::OtherDepartment { .. }
            | AbsenceError::SubstituteCannotWork(_)
            | AbsenceError::SubstituteAway { .. } => "absence-substitute",
            AbsenceError::NotCaseWorker(_) => "not-case-worker",
            AbsenceError::UnknownUser(_) => "unknown-user",
            AbsenceError::Overlaps { .. } => "absence-overlaps",
            AbsenceError::NotAllowed => "forbidden",
        }
    }
}

fn works_cases(account: &Account) -> bool {
    !account.disabled
        && (account.roles.contains(&Role::Clerk) || account.roles.contains(&Role::Supervisor))
}

fn overlaps(a: &Absence, from: NaiveDate, to: NaiveDate, now: DateTime<Utc>) -> bool {
    a.is_current(now) && a.from <= to && from <= a.to
}

/// Checks an absence of `user` from `from` to `to` with `substitute`, against the absences
/// already recorded for both (`existing`, any order, of anyone) at `now`.
///
/// # Errors
/// The first [`AbsenceError`] found.
pub fn check_absence(
    user: &Account,
    substitute: &Account,
    from: NaiveDate,
    to: NaiveDate,
    existing: &[Absence],
    now: DateTime<Utc>,
) -> Result<(), AbsenceError> {
    if to < from {
        return Err(AbsenceError::Backwards { from, to });
    }
    if to < absence_day(now) {
        return Err(AbsenceError::Past { to });
    }
    if !works_cases(user) {
        return Err(AbsenceError::NotCaseWorker(user.name.clone()));
    }
    if user.username == substitute.username {
        return Err(AbsenceError::SelfSubstitute);
    }
    if !works_cases(substitute) {
        return Err(AbsenceError::SubstituteCannotWork(substitute.name.clone()));
    }
    if user.department != substitute.department || user.county != substitute.county {
        return Err(AbsenceError::OtherDepartment {
            user: user.name.clone(),
            substitute: substitute.name.clone(),
        });
    }
    if let Some(a) = existing
        .iter()
        .find(|a| a.user == user.username && overlaps(a, from, to, now))
    {
        return Err(AbsenceError::Overlaps {
            user: user.name.clone(),
            from: a.from,
            to: a.to,
        });
    }
    if let Some(a) = existing
        .iter()
        .find(|a| a.user == substitute.username && overlaps(a, from, to, now))
    {
        return Err(AbsenceError::SubstituteAway {
            substitute: substitute.name.clone(),
            from: a.from,
            to: a.to,
        });
    }
    Ok(())
}

/// Why a task may not be handed to someone. Nothing changes when it is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReassignRefusal {
    /// Only supervisors hand tasks to others.
    #[error("只有负责人可以改派任务")]
    NotSupervisor,
    /// The reason is empty.
    #[error("改派须填写原因")]
    ReasonRequired,
    /// The person named is not a clerk or supervisor of the task's department and county.
    #[error("“{0}”不是本部门可以办理该任务的人员")]
    OtherDepartment(String),
    /// The person named is away now: new work goes to their substitute instead.
    #[error(
        "“{user}”{from} 至 {to} 请假，新任务不能交给其办理，请改派给代办人“{substitute}”或其他人员"
    )]
    Away {
        /// The absent person's name.
        user: String,
        /// The substitute's login.
        substitute: String,
        /// First day away.
        from: NaiveDate,
        /// Last day away.
        to: NaiveDate,
    },
}

impl ReassignRefusal {
    /// A stable code beside the Chinese message.
    pub fn code(&self) -> &'static str {
        match self {
            ReassignRefusal::NotSupervisor => "forbidden",
            ReassignRefusal::ReasonRequired => "reason-required",
            ReassignRefusal::OtherDepartment(_) => "reassign-target",
            ReassignRefusal::Away { .. } => "assignee-away",
        }
    }
}

impl Principal {
    /// On whose behalf the principal acts on a task held by `holder` at `now`: the holder,
    /// when the holder is away and named the principal as substitute (`absences` are the
    /// holder's, or any superset). `None` when the principal acts for themselves.
    pub fn on_behalf_of(
        &self,
        holder: Option<&str>,
        absences: &[Absence],
        now: DateTime<Utc>,
    ) -> Option<String> {
        let holder = holder.filter(|h| *h != self.user)?;
        absences
            .iter()
            .any(|a| a.user == holder && a.substitute == self.user && a.holds_at(now))
            .then(|| holder.to_owned())
    }

    /// The people the principal stands in for at `now`, of `absences`.
    pub fn standing_in_for<'a>(
        &self,
        absences: &'a [Absence],
        now: DateTime<Utc>,
    ) -> Vec<&'a Absence> {
        absences
            .iter()
            .filter(|a| a.substitute == self.user && a.holds_at(now))
            .collect()
    }

    /// Whether the principal oversees `department`'s deadlines (the 超期督办 page and the
    /// escalation notices) at `now`: its supervisors, and whoever stands in for one of them
    /// while away. `supervisors` are the department's supervisors' logins.
    pub fn oversees_at(
        &self,
        supervisors: &[String],
        absences: &[Absence],
        now: DateTime<Utc>,
    ) -> bool {
        if self.has(Role::Supervisor) || self.has(Role::Admin) {
            return true;
        }
        self.works_cases()
            && self
                .standing_in_for(absences, now)
                .iter()
                .any(|a| supervisors.contains(&a.user))
    }

    /// Whether the principal may record or end an absence of `user`: the person
    /// themselves, or a supervisor of their department and county.
    ///
    /// # Errors
    /// [`AbsenceError::NotAllowed`].
    pub fn may_record_absence(&self, user: &Account) -> Result<(), AbsenceError> {
        if !self.works_cases() {
            return Err(AbsenceError::NotAllowed);
        }
        let own = self.user == user.username;
        let supervises = self.has(Role::Supervisor)
            && self.department == user.department
            && self.county == user.county;
        if own || supervises {
            Ok(())
        } else {
            Err(AbsenceError::NotAllowed)
        }
    }

    /// Whether the principal may hand a task of `department` in `county` to `to` with
    /// `reason` at `now`: a supervisor of the department, to a clerk or supervisor of the
    /// same department who is not away (`absences` of `to`, or any superset).
    ///
    /// # Errors
    /// The [`ReassignRefusal`] saying why not.
    pub fn may_reassign(
        &self,
        department: &str,
        county: &str,
        to: &Account,
        reason: &str,
        absences: &[Absence],
        now: DateTime<Utc>,
    ) -> Result<(), ReassignRefusal> {
        if !(self.has(Role::Supervisor) && self.may_work_task(department, county)) {
            return Err(ReassignRefusal::NotSupervisor);
        }
        if reason.trim().is_empty() {
            return Err(ReassignRefusal::ReasonRequired);
        }
        let target = Principal::of(to);
        if to.disabled || !target.may_work_task(department, county) {
            return Err(ReassignRefusal::OtherDepartment(to.name.clone()));
        }
        if let Some(a) = absences
            .iter()
            .find(|a| a.user == to.username && a.holds_at(now))
        {
            return Err(ReassignRefusal::Away {
                user: to.name.clone(),
                substitute: a.substitute.clone(),
                from: a.from,
                to: a.to,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::accounts::UserId;

    fn account(user: &str, department: &str, roles: &[Role]) -> Account {
        Account {
            id: UserId(uuid::Uuid::nil()),
            username: user.into(),
            name: user.to_uppercase(),
            department: department.into(),
            county: Some("yangcheng".into()),
            roles: roles.to_vec(),
            disabled: false,
            created_at: at(1, 0),
            failed_logins: 0,
            locked_until: None,
        }
    }

    /// December `day`, `hour` o'clock Beijing time.
    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Shanghai
            .with_ymd_and_hms(2026, 12, day, hour, 0, 0)
            .single()
            .expect("valid time")
            .with_timezone(&Utc)
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 12, d).expect("valid day")
    }

    fn away(user: &str, substitute: &str, from: u32, to: u32) -> Absence {
        Absence {
            id: "a".into(),
            user: user.into(),
            substitute: substitute.into(),
            from: day(from),
            to: day(to),
            recorded_by: user.into(),
            recorded_at: at(1, 9),
            ended_at: None,
        }
    }

    #[test]
    fn an_absence_holds_on_its_days_in_beijing_time() {
        let a = away("lina", "wangqiang", 7, 11);
        assert!(!a.holds_at(at(6, 23)));
        assert!(a.holds_at(at(7, 0)));
        assert!(a.holds_at(at(11, 23)));
        assert!(!a.holds_at(at(12, 0)));
        let back = Absence {
            ended_at: Some(at(9, 8)),
            ..a
        };
        assert!(back.holds_at(at(9, 7)));
        assert!(!back.holds_at(at(9, 9)));
    }

    #[test]
    fn the_substitute_acts_on_behalf_only_while_the_absence_holds() {
        let wang = Principal::of(&account("wangqiang", "shebao", &[Role::Clerk]));
        let absences = [away("lina", "wangqiang", 7, 11)];
        assert_eq!(
            wang.on_behalf_of(Some("lina"), &absences, at(8, 10)),
            Some("lina".into())
        );
        assert_eq!(wang.on_behalf_of(Some("lina"), &absences, at(12, 10)), None);
        assert_eq!(wang.on_behalf_of(Some("zhao"), &absences, at(8, 10)), None);
        assert_eq!(wang.on_behalf_of(None, &absences, at(8, 10)), None);
        let zhao = Principal::of(&account("zhao", "shebao", &[Role::Clerk]));
        assert_eq!(zhao.on_behalf_of(Some("lina"), &absences, at(8, 10)), None);
    }

    #[test]
    fn absences_are_checked_before_they_are_recorded() {
        let lina = account("lina", "shebao", &[Role::Clerk]);
        let wang = account("wangqiang", "shebao", &[Role::Clerk]);
        let other = account("yb", "yibao", &[Role::Clerk]);
        let admin = account("root", "shebao", &[Role::Admin]);
        let now = at(6, 9);
        assert_eq!(
            check_absence(&lina, &wang, day(7), day(11), &[], now),
            Ok(())
        );
        let e = |r: Result<(), AbsenceError>| r.expect_err("refused").code();
        assert_eq!(
            e(check_absence(&lina, &wang, day(11), day(7), &[], now)),
            "absence-dates"
        );
        assert_eq!(
            e(check_absence(&lina, &wang, day(1), day(5), &[], now)),
            "absence-dates"
        );
        assert_eq!(
            e(check_absence(&lina, &lina, day(7), day(11), &[], now)),
            "absence-substitute"
        );
        assert_eq!(
            e(check_absence(&lina, &other, day(7), day(11), &[], now)),
            "absence-substitute"
        );
        assert_eq!(
            e(check_absence(&lina, &admin, day(7), day(11), &[], now)),
            "absence-substitute"
        );
        let busy = [away("wangqiang", "zhao", 10, 12)];
        assert_eq!(
            e(check_absence(&lina, &wang, day(7), day(11), &busy, now)),
            "absence-substitute"
        );
        let twice = [away("lina", "zhao", 9, 9)];
        assert_eq!(
            e(check_absence(&lina, &wang, day(7), day(11), &twice, now)),
            "absence-overlaps"
        );
    }

    #[test]
    fn supervisors_record_for_their_department_and_reassign_to_who_is_there() {
        let lina = account("lina", "shebao", &[Role::Clerk]);
        let wang = account("wangqiang", "shebao", &[Role::Clerk]);
        let boss = Principal::of(&account("boss", "shebao", &[Role::Clerk, Role::Supervisor]));
        assert_eq!(boss.may_record_absence(&lina), Ok(()));
        assert!(Principal::of(&wang).may_record_absence(&lina).is_err());
        assert_eq!(Principal::of(&lina).may_record_absence(&lina), Ok(()));
        let absences = [away("lina", "wangqiang", 7, 11)];
        let now = at(8, 10);
        let refuse = |p: &Principal, to: &Account, reason: &str| {
            p.may_reassign("shebao", "yangcheng", to, reason, &absences, now)
                .map_err(|e| e.code())
        };
        assert_eq!(refuse(&boss, &wang, "均衡工作量"), Ok(()));
        assert_eq!(refuse(&boss, &lina, "均衡工作量"), Err("assignee-away"));
        assert_eq!(refuse(&boss, &wang, "  "), Err("reason-required"));
        assert_eq!(refuse(&Principal::of(&wang), &wang, "x"), Err("forbidden"));
        let yb = account("yb", "yibao", &[Role::Clerk]);
        assert_eq!(refuse(&boss, &yb, "x"), Err("reassign-target"));
    }

    #[test]
    fn a_substitute_of_a_supervisor_oversees_while_they_are_away() {
        let wang = Principal::of(&account("wangqiang", "shebao", &[Role::Clerk]));
        let absences = [away("boss", "wangqiang", 7, 11)];
        let supervisors = ["boss".to_owned()];
        assert!(wang.oversees_at(&supervisors, &absences, at(8, 10)));
        assert!(!wang.oversees_at(&supervisors, &absences, at(12, 10)));
        assert!(!wang.oversees_at(&[], &absences, at(8, 10)));
    }
}
