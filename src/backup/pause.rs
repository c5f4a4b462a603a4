//! Whether the agent was paused for a snapshot, and how that went: its databases are
//! never copied mid-write.

use serde::{Deserialize, Serialize};

/// The agent's container around a snapshot: stopped so its databases are not copied
/// mid-write, then started again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Pause {
    /// No engine to ask here (another root), or no agent.
    #[default]
    NotAsked,
    /// Stopped for the snapshot and started again.
    Paused,
    /// It could not be stopped: its databases may have been copied mid-write.
    StopFailed(String),
    /// It did not start again.
    StartFailed(String),
    /// OpenClaw made its own consistent archive (the live databases are not copied); it
    /// kept running.
    Archived(String),
    /// OpenClaw could not make its archive (why): the agent was stopped for the snapshot
    /// instead, and started again.
    PausedNoArchive(String),
}

impl std::fmt::Display for Pause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pause::NotAsked => Ok(()),
            Pause::Paused => f.write_str("The agent was stopped for the snapshot and started again."),
            Pause::StopFailed(why) => write!(
                f,
                "The agent could not be stopped for the snapshot ({why}): its databases may have been copied mid-write."
            ),
            Pause::StartFailed(why) => {
                write!(f, "THE AGENT DID NOT START AGAIN after the snapshot ({why}): `sudo clawguard apply` starts it.")
            }
            Pause::PausedNoArchive(why) => write!(
                f,
                "OpenClaw could not make its own archive ({why}), so the agent was stopped for the snapshot instead and started again."
            ),
            Pause::Archived(name) => write!(
                f,
                "OpenClaw made its own verified archive ({name}) for the snapshot, and kept running; its live databases were not copied."
            ),
        }
    }
}
