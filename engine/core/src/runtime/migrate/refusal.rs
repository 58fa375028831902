//! Why a case (or a whole request) cannot move to another version, with a stable code.

use crate::definition::StepId;

/// Why a case (or a whole request) cannot move. Nothing changes when this is returned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MigrationRefusal {
    /// The case runs on another version than the one named.
    #[error("办件运行在第 {actual} 版，不是第 {from} 版")]
    OtherVersion {
        /// The version the case runs on.
        actual: u32,
        /// The version the request moves from.
        from: u32,
    },
    /// The request moves a version onto itself.
    #[error("迁出和迁入的版本相同（第 {version} 版）")]
    SameVersion {
        /// The version named twice.
        version: u32,
    },
    /// The case named runs another process.
    #[error("办件属于流程 {process}，不是要迁移的流程")]
    OtherProcess {
        /// The process it runs.
        process: String,
    },
    /// The case has ended; only running cases move.
    #[error("办件已结束，不迁移")]
    Ended,
    /// A token is at a step the new version does not have, and the mapping names none.
    #[error(
        "办件停在步骤“{name}”（{step}），第 {version} 版没有这个步骤：请用 --map {step}=新步骤 指定去向"
    )]
    StepRemoved {
        /// The step.
        step: StepId,
        /// Its name in the old version.
        name: String,
        /// The new version.
        version: u32,
    },
    /// A token would move to a step of another kind (a task to a wait, …).
    #[error("步骤“{from}”是{from_kind}，第 {version} 版的“{to}”是{to_kind}，不能迁移过去")]
    KindChanged {
        /// The step the token is at.
        from: StepId,
        /// Its kind in words.
        from_kind: &'static str,
        /// The step it would move to.
        to: StepId,
        /// That step's kind in words.
        to_kind: &'static str,
        /// The new version.
        version: u32,
    },
    /// A token is inside a split whose branch no longer exists in the new version.
    #[error(
        "办件在分支“{split}”中停在“{step}”，第 {version} 版中该分支已不存在（或不再经过该步骤）"
    )]
    BranchGone {
        /// The split (old id).
        split: StepId,
        /// The step the token is at (old id).
        step: StepId,
        /// The new version.
        version: u32,
    },
    /// A task step of the new version names a role it does not define.
    #[error("第 {version} 版步骤“{step}”的角色 `{role}` 未定义")]
    UnknownRole {
        /// The step.
        step: StepId,
        /// The role.
        role: String,
        /// The new version.
        version: u32,
    },
    /// The mapping names a step the old version does not have.
    #[error("--map {from}={to}：第 {version} 版没有步骤 `{from}`")]
    MapFromUnknown {
        /// The old step named.
        from: StepId,
        /// The new step named.
        to: StepId,
        /// The old version.
        version: u32,
    },
    /// The mapping names a step the new version does not have.
    #[error("--map {from}={to}：第 {version} 版没有步骤 `{to}`")]
    MapToUnknown {
        /// The old step named.
        from: StepId,
        /// The new step named.
        to: StepId,
        /// The new version.
        version: u32,
    },
}

impl MigrationRefusal {
    /// A stable code beside the Chinese message.
    pub fn code(&self) -> &'static str {
        match self {
            MigrationRefusal::OtherVersion { .. } => "other-version",
            MigrationRefusal::SameVersion { .. } => "same-version",
            MigrationRefusal::OtherProcess { .. } => "other-process",
            MigrationRefusal::Ended => "case-ended",
            MigrationRefusal::StepRemoved { .. } => "step-removed",
            MigrationRefusal::KindChanged { .. } => "step-kind-changed",
            MigrationRefusal::BranchGone { .. } => "branch-gone",
            MigrationRefusal::UnknownRole { .. } => "unknown-role",
            MigrationRefusal::MapFromUnknown { .. } => "map-from-unknown",
            MigrationRefusal::MapToUnknown { .. } => "map-to-unknown",
        }
    }
}
