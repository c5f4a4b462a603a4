//! The apply engine: the only code that changes a target. It executes a plan as one
//! transaction — guards, conflict check, the services' own checkers, backups into a new
//! generation, atomic writes under a journal, activation, commit — and rolls back what it
//! did when a step fails, when it was interrupted (found on the next run), or when an SSH
//! or firewall change is not confirmed in time.

mod backward;
mod forward;
mod preflight;
pub mod store;

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

pub use backward::{confirm, incomplete, recover, roll_back_all, rollback_last, watchdog};
pub(crate) use forward::wait_listening;
pub use forward::{AGENT_LAYERS, apply};
pub use store::{After, GenerationState, Pending, STATE_DIR, Store};

use crate::plan::Layer;
use crate::target::{Runner, atomic, boundary};

/// Keys typed in a front end, by service name: stored in the vault when the apply starts,
/// never shown, never in the answers.
pub type Keys = std::collections::BTreeMap<String, String>;

/// Default time to confirm an SSH or firewall change before it is rolled back.
pub const DEFAULT_CONFIRM_SECS: u64 = 120;

#[derive(Debug, Clone)]
pub struct Options {
    /// Overwrite managed files that were edited by hand.
    pub force: bool,
    pub runner: Runner,
    /// Seconds to confirm an SSH or firewall change; 0 does not arm a rollback.
    pub confirm_timeout: u64,
    /// `SSH_CONNECTION` of this process.
    pub ssh_connection: Option<String>,
    /// How to start the watchdog: this program's path.
    pub exe: PathBuf,
    /// Keys for the vault (typed in a front end, or made by clawguard), stored once the
    /// checks have passed and before any file is written: an apply that refuses stores
    /// nothing. The plan already counts them as in the vault.
    pub keys: Keys,
    /// What confirming this apply's change leads to.
    pub then: After,
    /// The generation whose confirmed SSH move this apply completes (see
    /// [`Manifest::completes`]).
    pub completes: Option<u32>,
}

/// Progress, for the front ends (indicatif when headless, a gauge in the wizard).
#[derive(Debug, Clone)]
pub enum Event {
    Start { steps: usize },
    Step { label: String },
    Finish,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub generation: Option<u32>,
    pub written: Vec<String>,
    pub ran: Vec<String>,
    /// Commands not run because there is no way to reach the target's services.
    pub skipped: Vec<String>,
    /// What the start of this run recovered from an interrupted apply.
    pub recovered: Vec<String>,
    /// The confirmation this apply waits for.
    pub pending: Option<Pending>,
    /// The generation that installed the plan's packages, when one did.
    pub installed: Option<u32>,
    /// Layers left out of this apply, and why (one clear line, with what to do).
    pub not_applied: Vec<(Vec<Layer>, String)>,
    pub armed_with: Option<String>,
}

impl Report {
    pub fn changes(&self) -> usize {
        self.written.len() + self.ran.len() + self.skipped.len()
    }

    /// Takes in what a later apply of the same command did (`confirm` applies twice: the
    /// final drop-in, then the old port's rule): one report for both.
    pub fn absorb(&mut self, later: Report) {
        self.generation = later.generation.or(self.generation);
        self.written.extend(later.written);
        self.ran.extend(later.ran);
        self.skipped.extend(later.skipped);
        self.recovered.extend(later.recovered);
        self.pending = later.pending.or(self.pending.take());
        self.installed = later.installed.or(self.installed);
        self.not_applied.extend(later.not_applied);
        self.armed_with = later.armed_with.or(self.armed_with.take());
    }
}

#[derive(Debug, Clone)]
pub struct Conflict {
    pub path: String,
    /// What the hand edit looks like against what clawguard would write.
    pub diff: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(
        "refusing to apply: this would lock you out of SSH.\n{}\nNothing was changed.",
        .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    Lockout(Vec<String>),
    #[error(
        "refusing to apply:\n{}\nNothing was changed.",
        .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    Blocked(Vec<String>),
    #[error(
        "{} managed file(s) were edited by hand since clawguard wrote them:\n{}\nNothing was changed. Put your change into the answers and re-run, or run again with --force to overwrite the edits (they are kept in the backup).",
        .0.len(),
        .0.iter().map(|c| format!("  {}\n{}", c.path, indent(&c.diff))).collect::<Vec<_>>().join("\n")
    )]
    Conflicts(Vec<Conflict>),
    #[error(
        "refusing to apply:\n{}\nNothing was changed.",
        .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    NotAFile(Vec<String>),
    #[error(
        "the services' own checks refused the new configuration:\n{}\n{}",
        .failures.iter().map(|d| indent(d)).collect::<Vec<_>>().join("\n"),
        nothing_changed(*.installed)
    )]
    Validation { failures: Vec<String>, installed: Option<u32> },
    #[error(
        "this host is not ready for the plan:\n{}\n{}",
        .problems.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"),
        nothing_changed(*.installed)
    )]
    NotReady { problems: Vec<String>, installed: Option<u32> },
    #[error(
        "step `{step}` failed ({status}){}\nRolled back: {}",
        if .output.is_empty() { String::new() } else { format!(":\n{}", indent(.output)) },
        .rolled_back.join("; ")
    )]
    StepFailed { step: String, status: String, output: String, rolled_back: Vec<String> },
    #[error("{0}")]
    Confirm(String),
    #[error(
        "the rollback did not complete:\n{}\nSee /etc/clawguard/RECOVERY.md; `clawguard status` shows what each generation did.",
        .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
    )]
    RollbackIncomplete(Vec<String>),
    #[error(transparent)]
    Plan(#[from] crate::render::RenderError),
    #[error("cannot store the key you typed: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("`{0}` cannot name a key: {1}")]
    KeyName(String, String),
    /// clawguard's own records cannot be read: the report so far, ending with what is damaged.
    #[error("{0}")]
    Damaged(String),
    /// The apply's thread ended without saying how the apply went (the wizard runs it in one).
    #[error("the apply stopped without a word (its thread ended): `sudo clawguard status` says what it did")]
    Vanished,
}

/// The last line of a refusal: nothing changed, or only the packages were installed.
fn nothing_changed(installed: Option<u32>) -> String {
    match installed {
        None => "Nothing was changed.".to_owned(),
        Some(n) => format!(
            "No configuration was changed. The packages the plan needs were installed (generation {n}) and stay, so the next run does not wait for them; `sudo clawguard rollback` removes them."
        ),
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ApplyError {
    let what = what.into();
    move |source| ApplyError::Io { what, source }
}

/// Journals a step boundary, then offers it to fault injection.
fn step(store: &Store, label: &str) -> Result<(), ApplyError> {
    store.journal(label).map_err(io_err("writing the journal"))?;
    boundary(label);
    Ok(())
}

/// Holds clawguard's lock on a target: one apply, confirm, rollback or watchdog at a time.
struct Lock(#[allow(dead_code)] fs::File);

/// Takes the lock. With `create` false, a target where nothing was ever applied is left
/// untouched (no state directory is created) and no lock is needed yet.
fn lock(store: &Store, wait: bool, create: bool) -> Result<Option<Lock>, ApplyError> {
    if !create && !store.dir().exists() {
        return Ok(None);
    }
    fs::create_dir_all(store.dir()).map_err(io_err("creating clawguard's state directory"))?;
    let path = store.lock_path();
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| atomic::link(&path, e))
        .map_err(io_err(format!("opening {}", path.display())))?;
    if wait {
        f.lock().map_err(io_err("waiting for clawguard's lock"))?;
    } else {
        match f.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(ApplyError::Confirm(
                    "another clawguard apply, confirm or rollback is running on this target: wait for it to finish (see `clawguard status`)".into(),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err("taking clawguard's lock")(e)),
        }
    }
    Ok(Some(Lock(f)))
}
