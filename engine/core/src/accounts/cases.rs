//! Who may start, withdraw (撤件) or hand in papers for a case: the one rule the JSON API
//! and the pages share, carried out by the service (`Engine::start_case_for`,
//! `Engine::cancel_for`, `Engine::deliver_for`). Seeing a case at all is [`Principal::may_see_case`], asked first.

use super::{Principal, Role, county_of};
use crate::definition::Process;
use crate::runtime::{CaseState, TaskStatus};

/// Why a person may not start or withdraw a case. Nothing changes when it is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// Only clerks and supervisors work cases (an admin manages, and works no case).
    #[error("只有经办人和负责人可以受理或撤回办件")]
    NotCaseWorker,
    /// The process belongs to another county than the person's.
    #[error("“{process}”不是本县区的事项，不能办理")]
    OtherCounty {
        /// The process's name.
        process: String,
    },
    /// The person's department is not the window that receives the process's cases.
    #[error("本部门不是“{process}”的受理窗口，该事项由{departments}受理")]
    NotIntakeDepartment {
        /// The process's name.
        process: String,
        /// The names of the departments that receive it, joined with 、.
        departments: String,
    },
    /// The person's department does not hold the case's current step, and the person is
    /// no supervisor.
    #[error("办件当前由{departments}办理，只有该部门或负责人可以撤件")]
    NotHoldingCase {
        /// The names of the departments holding the case now, joined with 、.
        departments: String,
    },
    /// The person's department does not hold the case's current step, and the person is
    /// no supervisor, so it may not hand in what the case waits for.
    #[error("办件当前由{departments}办理，只有该部门或负责人可以登记收到的材料或答复")]
    NotHoldingWait {
        /// The names of the departments holding the case now, joined with 、.
        departments: String,
    },
}

impl Refusal {
    /// A stable code for the refusal, beside the Chinese message.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NotCaseWorker => "not-case-worker",
            Refusal::OtherCounty { .. } => "other-county",
            Refusal::NotIntakeDepartment { .. } => "not-intake-department",
            Refusal::NotHoldingCase { .. } | Refusal::NotHoldingWait { .. } => {
                "not-current-department"
            }
        }
    }
}

/// The display names of `keys` in `process` (the key where it has none), joined with 、.
fn names(process: &Process, keys: &[&str]) -> String {
    keys.iter()
        .map(|k| process.departments.get(*k).map_or(*k, |d| d.name.as_str()))
        .collect::<Vec<_>>()
        .join("、")
}

impl Principal {
    /// Clerks and supervisors of the process's county: the checks every rule here starts
    /// with.
    fn works_in(&self, process: &Process) -> Result<(), Refusal> {
        if !self.works_cases() {
            return Err(Refusal::NotCaseWorker);
        }
        if !self.in_county(county_of(&process.id)) {
            return Err(Refusal::OtherCounty {
                process: process.name.clone(),
            });
        }
        Ok(())
    }

    /// Whether the person may start a case of `process`: a clerk or supervisor of a
    /// department that receives its cases ([`Process::intake_departments`], the window
    /// of the first task), in the process's county, or an intake key of that county
    /// ([`Role::Intake`]). A supervisor of another department may not: a case is started
    /// where the applicant's papers are received.
    ///
    /// # Errors
    /// The [`Refusal`] saying why not.
    pub fn may_start(&self, process: &Process) -> Result<(), Refusal> {
        // Another system's intake key hands in applications for every process of its
        // county: receiving them is all it is for.
        if self.is_intake() {
            return if self.in_county(county_of(&process.id)) {
                Ok(())
            } else {
                Err(Refusal::OtherCounty {
                    process: process.name.clone(),
                })
            };
        }
        self.works_in(process)?;
        let intake = process.intake_departments();
        if intake.contains(&self.department.as_str()) {
            return Ok(());
        }
        Err(Refusal::NotIntakeDepartment {
            process: process.name.clone(),
            departments: names(process, &intake),
        })
    }

    /// Whether the person may withdraw (撤件) a case of `process` in `state`: a clerk or
    /// supervisor of a department holding one of the case's open tasks, or, while no task
    /// is open (the case waits for the applicant's papers), of a department receiving the
    /// process's cases; or any supervisor of the county whose department takes part in the
    /// case (the caller checks that first, answering "not found" otherwise).
    ///
    /// # Errors
    /// The [`Refusal`] saying why not.
    pub fn may_withdraw(&self, process: &Process, state: &CaseState) -> Result<(), Refusal> {
        match self.holders_unless_own(process, state)? {
            None => Ok(()),
            Some(departments) => Err(Refusal::NotHoldingCase { departments }),
        }
    }

    /// Whether the person may hand in what a case waits for (补正 papers received, a
    /// department's reply): the same people as may withdraw it. A department that only
    /// takes part in the case elsewhere may read it, but not move it on.
    ///
    /// # Errors
    /// The [`Refusal`] saying why not.
    pub fn may_deliver(&self, process: &Process, state: &CaseState) -> Result<(), Refusal> {
        match self.holders_unless_own(process, state)? {
            None => Ok(()),
            Some(departments) => Err(Refusal::NotHoldingWait { departments }),
        }
    }

    /// `None` when the person's department holds the case now (an open task, or the intake
    /// window while it only waits) or the person is a supervisor; otherwise the names of
    /// the departments that do.
    fn holders_unless_own(
        &self,
        process: &Process,
        state: &CaseState,
    ) -> Result<Option<String>, Refusal> {
        self.works_in(process)?;
        let mut holders: Vec<&str> = state
            .tasks
            .iter()
            .filter(|t| matches!(t.status, TaskStatus::Open | TaskStatus::Claimed))
            .map(|t| t.department.as_str())
            .collect();
        holders.sort_unstable();
        holders.dedup();
        if holders.is_empty() {
            holders = process.intake_departments();
        }
        if holders.contains(&self.department.as_str()) || self.has(Role::Supervisor) {
            return Ok(None);
        }
        Ok(Some(names(process, &holders)))
    }
}
