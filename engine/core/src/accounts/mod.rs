//! Accounts of the people who work cases: who they are (department, roles), what they may
//! see and do (`cases`: who may start and withdraw a case; `absence`: absences, substitutes
//! and reassignment), how their passwords are hashed and how failed logins slow down and lock.
//! Pure: no storage and no HTTP; `store` keeps the rows, `web` asks the questions here.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use chrono::{DateTime, Utc};
use uuid::Uuid;

mod absence;
mod apikey;
mod cases;
mod password;

pub use absence::{Absence, AbsenceError, ReassignRefusal, absence_day, check_absence};
pub use apikey::{API_KEY_PREFIX, api_key_hash, new_api_key, valid_key_name};
pub use cases::Refusal;
pub use password::{PasswordError, hash_password, validate_password, verify_password};

/// Identifier of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct UserId(pub Uuid);

impl fmt::Display for UserId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// What an account may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Role {
    /// 经办人: works the tasks of their department's roles.
    Clerk,
    /// 科室负责人: sees everything of their department and can release others' claims.
    Supervisor,
    /// 管理员: manages accounts and definitions.
    Admin,
    /// 收件系统: another system receiving applications (一网通办) through an intake key
    /// (`lianban apikey create --intake`). It starts cases of its county and reads only
    /// those it started; it works no task. Never an account's role.
    Intake,
}

impl Role {
    /// The word stored and typed on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Clerk => "clerk",
            Role::Supervisor => "supervisor",
            Role::Admin => "admin",
            Role::Intake => "intake",
        }
    }

    /// The Chinese name shown to people.
    pub fn label(self) -> &'static str {
        match self {
            Role::Clerk => "经办人",
            Role::Supervisor => "负责人",
            Role::Admin => "管理员",
            Role::Intake => "收件系统",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A role word that is not `clerk`, `supervisor` or `admin`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("未知角色 `{0}`，可选：clerk（经办人）、supervisor（负责人）、admin（管理员）")]
pub struct UnknownRole(pub String);

impl FromStr for Role {
    type Err = UnknownRole;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "clerk" => Ok(Role::Clerk),
            "supervisor" => Ok(Role::Supervisor),
            "admin" => Ok(Role::Admin),
            other => Err(UnknownRole(other.to_owned())),
        }
    }
}

/// Parses `clerk,supervisor` into sorted, distinct roles.
///
/// # Errors
/// [`UnknownRole`] for the first word that is not a role.
pub fn parse_roles(text: &str) -> Result<Vec<Role>, UnknownRole> {
    let mut roles = text
        .split(',')
        .filter(|w| !w.trim().is_empty())
        .map(Role::from_str)
        .collect::<Result<Vec<_>, _>>()?;
    roles.sort();
    roles.dedup();
    Ok(roles)
}

/// Roles as stored: `clerk,supervisor`.
pub fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

/// An account as stored (without its password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// Its id.
    pub id: UserId,
    /// Login name, unique.
    pub username: String,
    /// Name shown in the history and on notices.
    pub name: String,
    /// Department key (as in the definitions: `shebao`, `yibao` …).
    pub department: String,
    /// The county whose processes the account works on (`yangcheng`); `None` for every
    /// county (a single-county deployment).
    pub county: Option<String>,
    /// What the account may do.
    pub roles: Vec<Role>,
    /// A disabled account cannot sign in and its sessions stop working.
    pub disabled: bool,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// Failed logins since the last successful one.
    pub failed_logins: i32,
    /// Locked until this time after too many failed logins.
    pub locked_until: Option<DateTime<Utc>>,
}

impl Account {
    /// Whether the account is locked at `now`.
    pub fn is_locked(&self, now: DateTime<Utc>) -> bool {
        self.locked_until.is_some_and(|until| until > now)
    }
}

/// The signed-in person a request acts for: what permissions are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// Login name (also the history's actor).
    pub user: String,
    /// Display name.
    pub name: String,
    /// Department key.
    pub department: String,
    /// County the principal is limited to; `None` for every county.
    pub county: Option<String>,
    /// Roles.
    pub roles: Vec<Role>,
}

impl Principal {
    /// The principal of an account.
    pub fn of(account: &Account) -> Self {
        Principal {
            user: account.username.clone(),
            name: account.name.clone(),
            department: account.department.clone(),
            county: account.county.clone(),
            roles: account.roles.clone(),
        }
    }

    /// Who the history records for the principal's commands: an intake key belongs to no
    /// department.
    pub fn actor(&self) -> crate::runtime::Actor {
        crate::runtime::Actor {
            user: self.user.clone(),
            department: (!self.is_intake()).then(|| self.department.clone()),
            on_behalf_of: None,
        }
    }

    /// Whether the principal is another system's intake key ([`Role::Intake`]).
    pub fn is_intake(&self) -> bool {
        self.has(Role::Intake)
    }

    /// Whether the principal has this role.
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// Whether the principal works cases at all (clerk or supervisor).
    pub fn works_cases(&self) -> bool {
        self.has(Role::Clerk) || self.has(Role::Supervisor)
    }

    /// Whether the principal works in `county` (always, without a county of its own).
    pub fn in_county(&self, county: &str) -> bool {
        self.county.as_deref().is_none_or(|c| c == county)
    }

    /// Whether the principal may see and act on a task of `department` in a process of
    /// `county`: clerks and supervisors of that department (and county) only.
    pub fn may_work_task(&self, department: &str, county: &str) -> bool {
        self.works_cases() && self.department == department && self.in_county(county)
    }

    /// Whether the principal may see a case of a process of `county` in which these
    /// departments take part (had a task, or started it), started by `started_by`: a clerk
    /// or supervisor of a department taking part; an intake key only a case it started
    /// itself (another system learns nothing of cases it did not hand in).
    pub fn may_see_case<'a>(
        &self,
        departments: impl IntoIterator<Item = &'a str>,
        started_by: Option<&str>,
        county: &str,
    ) -> bool {
        if self.is_intake() {
            return self.in_county(county) && started_by == Some(self.user.as_str());
        }
        self.works_cases()
            && self.in_county(county)
            && departments.into_iter().any(|d| d == self.department)
    }

    /// Whether the principal may give back a task that someone else claimed.
    pub fn may_release_others(&self) -> bool {
        self.has(Role::Supervisor)
    }

    /// Whether the principal manages accounts and definitions.
    pub fn is_admin(&self) -> bool {
        self.has(Role::Admin)
    }

    /// Whether the principal may see a push table (附件4) sent to `receiving` by the
    /// process's lead department `issuing`: anyone of the receiving department, and
    /// supervisors and admins of the issuing one, always within the process's county. The
    /// table lists ID numbers in full, so other departments' clerks do not see it.
    pub fn may_see_push_table(&self, receiving: &str, issuing: Option<&str>, county: &str) -> bool {
        self.in_county(county)
            && (self.department == receiving
                || (issuing == Some(self.department.as_str())
                    && (self.has(Role::Supervisor) || self.has(Role::Admin))))
    }
}

/// The county of a process: the first segment of its id (`yangcheng.retirement` →
/// `yangcheng`), which is also its folder under `processes/`. Department keys are unique
/// only within one county.
pub fn county_of(process_id: &str) -> &str {
    process_id.split('.').next().unwrap_or(process_id)
}

/// Why a department (and county) given for an account or API key does not fit the loaded
/// definitions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScopeError {
    /// No definition of any county declares the department.
    #[error("没有任何流程定义声明部门 `{department}`；已声明的部门：{known}")]
    UnknownDepartment {
        /// The department given.
        department: String,
        /// The departments declared, `county.department`, comma separated.
        known: String,
    },
    /// No definition of the county declares the department.
    #[error("县区 `{county}` 的流程定义没有部门 `{department}`；声明了该部门的县区：{counties}")]
    NotInCounty {
        /// The department given.
        department: String,
        /// The county given.
        county: String,
        /// Counties that do declare it (may be empty: `无`).
        counties: String,
    },
    /// Several counties declare the department and no county was given.
    #[error("部门 `{department}` 在多个县区的流程定义中都有：{counties}；请用 --county 指定县区")]
    Ambiguous {
        /// The department given.
        department: String,
        /// The counties declaring it.
        counties: String,
    },
}

/// Checks a department (and optional county) against the `(county, department)` pairs the
/// loaded definitions declare. A bare department is fine when one county declares it.
///
/// # Errors
/// [`ScopeError`] naming what the definitions do declare.
pub fn check_scope<'a>(
    department: &str,
    county: Option<&str>,
    declared: impl IntoIterator<Item = (&'a str, &'a str)>,
) -> Result<(), ScopeError> {
    let declared: Vec<(&str, &str)> = declared.into_iter().collect();
    let mut counties: Vec<&str> = declared
        .iter()
        .filter(|(_, d)| *d == department)
        .map(|(c, _)| *c)
        .collect();
    counties.sort_unstable();
    counties.dedup();
    match county {
        Some(county) if counties.contains(&county) => Ok(()),
        Some(county) => Err(ScopeError::NotInCounty {
            department: department.to_owned(),
            county: county.to_owned(),
            counties: if counties.is_empty() {
                "无".to_owned()
            } else {
                counties.join("、")
            },
        }),
        None if counties.is_empty() => {
            let mut known: Vec<String> = declared.iter().map(|(c, d)| format!("{c}.{d}")).collect();
            known.sort();
            known.dedup();
            Err(ScopeError::UnknownDepartment {
                department: department.to_owned(),
                known: known.join("、"),
            })
        }
        None if counties.len() > 1 => Err(ScopeError::Ambiguous {
            department: department.to_owned(),
            counties: counties.join("、"),
        }),
        None => Ok(()),
    }
}

/// Failed logins before each further attempt is answered more slowly.
pub const SLOW_AFTER: i32 = 5;
/// Failed logins that lock the account.
pub const LOCK_AFTER: i32 = 10;
/// How long a locked account stays locked.
pub const LOCK_FOR: chrono::Duration = chrono::Duration::minutes(15);
/// The longest pause before answering a login.
pub const MAX_DELAY: Duration = Duration::from_secs(8);

/// How long to pause before answering a login after `failures` recent failures (of the
/// account or of the client address, whichever is higher): nothing up to [`SLOW_AFTER`],
/// then doubling from half a second, at most [`MAX_DELAY`].
pub fn login_delay(failures: i32) -> Duration {
    if failures < SLOW_AFTER {
        return Duration::ZERO;
    }
    let steps = u32::try_from(failures - SLOW_AFTER)
        .unwrap_or(u32::MAX)
        .min(8);
    Duration::from_millis(500u64.saturating_mul(1u64 << steps)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_parse_sorted_and_distinct() {
        assert_eq!(
            parse_roles("supervisor, clerk,clerk").expect("roles"),
            [Role::Clerk, Role::Supervisor]
        );
        assert!(parse_roles("boss").is_err());
        assert_eq!(roles_text(&[Role::Clerk, Role::Admin]), "clerk,admin");
    }

    #[test]
    fn delays_grow_then_cap() {
        assert_eq!(login_delay(4), Duration::ZERO);
        assert_eq!(login_delay(5), Duration::from_millis(500));
        assert_eq!(login_delay(6), Duration::from_secs(1));
        assert_eq!(login_delay(50), MAX_DELAY);
    }

    #[test]
    fn clerks_see_only_their_department() {
        let p = Principal {
            user: "yibao_clerk".into(),
            name: "医保经办".into(),
            department: "yibao".into(),
            county: None,
            roles: vec![Role::Clerk],
        };
        assert!(p.may_work_task("yibao", "qinshui"));
        assert!(!p.may_work_task("gongjijin", "qinshui"));
        assert!(p.may_see_case(["shebao", "yibao"], None, "qinshui"));
        assert!(!p.may_see_case(["shebao"], Some("yibao_clerk"), "qinshui"));
        let admin = Principal {
            roles: vec![Role::Admin],
            ..p.clone()
        };
        assert!(!admin.may_work_task("yibao", "qinshui"));
        let scoped = Principal {
            county: Some("yangcheng".into()),
            ..p
        };
        assert!(scoped.may_work_task("yibao", "yangcheng"));
        assert!(!scoped.may_work_task("yibao", "qinshui"));
        assert!(!scoped.may_see_case(["yibao"], None, "qinshui"));
    }

    #[test]
    fn intake_keys_see_only_what_they_started() {
        let intake = Principal {
            user: "apikey:一网通办".into(),
            name: "一网通办（系统对接）".into(),
            department: String::new(),
            county: Some("yangcheng".into()),
            roles: vec![Role::Intake],
        };
        assert!(!intake.works_cases());
        assert!(!intake.may_work_task("", "yangcheng"));
        assert!(intake.may_see_case(["shebao"], Some("apikey:一网通办"), "yangcheng"));
        assert!(!intake.may_see_case(["shebao"], Some("apikey:other"), "yangcheng"));
        assert!(!intake.may_see_case([""], None, "yangcheng"));
        assert!(!intake.may_see_case(["shebao"], Some("apikey:一网通办"), "qinshui"));
        assert_eq!(intake.actor().department, None);
        assert!(
            "intake".parse::<Role>().is_err(),
            "no account is given the role"
        );
    }

    #[test]
    fn counties_come_from_process_ids() {
        assert_eq!(county_of("yangcheng.retirement"), "yangcheng");
        assert_eq!(county_of("examples.demo"), "examples");
        assert_eq!(county_of("plain"), "plain");
    }

    #[test]
    fn scopes_are_checked_against_the_definitions() {
        let declared = [
            ("yangcheng", "shebao"),
            ("qinshui", "shebao"),
            ("qinshui", "gongan"),
        ];
        assert_eq!(check_scope("gongan", None, declared), Ok(()));
        assert_eq!(check_scope("shebao", Some("qinshui"), declared), Ok(()));
        let ambiguous = check_scope("shebao", None, declared).expect_err("two counties");
        assert!(
            ambiguous.to_string().contains("qinshui、yangcheng"),
            "{ambiguous}"
        );
        let wrong = check_scope("gongan", Some("yangcheng"), declared).expect_err("not there");
        assert!(wrong.to_string().contains("qinshui"), "{wrong}");
        let unknown = check_scope("caizheng", None, declared).expect_err("nobody");
        assert!(unknown.to_string().contains("qinshui.gongan"), "{unknown}");
    }
}
