//! The plan: what clawguard would do, as data. Built purely from answers and facts by the
//! layers; shown by [`preview`]; executed (later) by the apply engine exactly as it is.

pub mod preview;

use std::fmt;

pub use crate::answers::Layer;

/// Who owns a file, by name (resolved on the target at apply time) or by number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    Root,
    Uid(u32, u32),
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Root => f.write_str("root:root"),
            Owner::Uid(u, g) => write!(f, "{u}:{g}"),
        }
    }
}

/// The service's own checker for a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Validator {
    /// `sshd -t` on the whole assembled config, then `sshd -T` compared with these
    /// (keyword, value) pairs.
    Sshd { expect: Vec<(String, String)> },
    /// `squid -k parse`; any WARNING or ERROR fails.
    Squid,
    /// `fail2ban-client -t` on the config dir, then `-d` compared with these
    /// (jail, key, value) triples.
    Fail2ban { expect: Vec<(String, String, String)> },
    /// `docker compose config -q` (or `docker-compose config -q`).
    Compose,
    /// `logrotate --debug` on the file.
    Logrotate,
}

impl Validator {
    pub fn name(&self) -> &'static str {
        match self {
            Validator::Sshd { .. } => "sshd -t / sshd -T",
            Validator::Squid => "squid -k parse",
            Validator::Fail2ban { .. } => "fail2ban-client -t / -d",
            Validator::Compose => "docker compose config",
            Validator::Logrotate => "logrotate --debug",
        }
    }
}

/// A file the plan wants on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStep {
    pub layer: Layer,
    /// Absolute path on the target (resolved through the target root).
    pub path: String,
    pub content: String,
    pub mode: u32,
    pub owner: Owner,
    pub validator: Option<Validator>,
}

/// A command to run (an argv, never a shell string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandStep {
    pub layer: Layer,
    pub argv: Vec<String>,
    /// Why, in a few words.
    pub why: String,
    /// Run only when one of these files changes (empty: the layer decided it is needed).
    pub when_changed: Vec<String>,
    /// The command that takes it back, for the rollback (None: nothing to undo, e.g. a reload).
    pub undo: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// Worth knowing.
    Note,
    /// Something is left unprotected or needs the user's action.
    Warning,
    /// Would lock the user out or lose data.
    Danger,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    pub layer: Layer,
    pub severity: Severity,
    pub text: String,
}

/// An SSH port move: sshd keeps listening on the old ports (and ufw keeps them open)
/// until a login on the new port is confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMove {
    pub new_port: u16,
    pub old_ports: Vec<u16>,
}

/// Everything the answers ask of this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<FileStep>,
    pub commands: Vec<CommandStep>,
    pub warnings: Vec<Warning>,
    /// Set when the SSH port changes.
    pub ssh_move: Option<SshMove>,
}

impl CommandStep {
    /// A reload or restart that makes a service read its files (it runs again after a
    /// rollback so the service reads the old ones).
    pub fn is_reload(&self) -> bool {
        !self.when_changed.is_empty()
    }
}

impl Plan {
    pub fn file(&self, path: &str) -> Option<&FileStep> {
        self.files.iter().find(|f| f.path == path)
    }
}
