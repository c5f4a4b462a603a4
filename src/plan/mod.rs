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
    /// (keyword, value) pairs; then, for each allowed user logging in from `client` (the
    /// admin's address when known), `sshd -T -C` — with every `Match` block evaluated by
    /// sshd itself — must still let a key login in.
    Sshd { expect: Vec<(String, String)>, client: Option<String> },
    /// `squid -k parse`; any WARNING or ERROR fails. Run by this host's squid when it has
    /// one, else by the squid in the proxy's own `image` (the one that will run the file):
    /// the host never needs a squid daemon of its own.
    Squid { image: String },
    /// `fail2ban-client -t` on the config dir, then `-d` compared with these
    /// (jail, key, value) triples.
    Fail2ban { expect: Vec<(String, String, String)> },
    /// `docker compose config -q` (or `docker-compose config -q`).
    Compose,
    /// `logrotate --debug` on the file.
    Logrotate,
    /// pf's rules: the grammar subset clawguard writes (`layers::pf::check`), and
    /// `pfctl -vnf` where this machine has pfctl (a Mac).
    Pf,
    /// A LaunchDaemon: parsed as a property list with the keys launchd needs
    /// (`layers::launchd::lint`), and `plutil -lint` where this machine has plutil.
    Launchd,
}

impl Validator {
    pub fn name(&self) -> &'static str {
        match self {
            Validator::Sshd { .. } => "sshd -t / sshd -T",
            Validator::Squid { .. } => "squid -k parse",
            Validator::Fail2ban { .. } => "fail2ban-client -t / -d",
            Validator::Compose => "docker compose config",
            Validator::Logrotate => "logrotate --debug",
            Validator::Pf => "pf grammar / pfctl -vnf",
            Validator::Launchd => "property list / plutil -lint",
        }
    }
}

/// A file the plan wants on the target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileStep {
    /// The layer that writes it; None for clawguard's own answers file.
    pub layer: Option<Layer>,
    /// Absolute path on the target (resolved through the target root).
    pub path: String,
    pub content: String,
    pub mode: u32,
    pub owner: Owner,
    pub validator: Option<Validator>,
}

/// When a command runs. A bare host has none of the services' checkers, so what the plan
/// installs comes first, then the checks, then the files, then activation (DESIGN 7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Before the checks and before any file is written (installing packages).
    Prepare,
    /// After the files are written (reloads, restarts, enabling units, ufw rules).
    Activate,
}

/// A command to run (an argv, never a shell string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandStep {
    pub layer: Layer,
    pub phase: Phase,
    pub argv: Vec<String>,
    /// Why, in a few words.
    pub why: String,
    /// Run only when one of these files changes (empty: the layer decided it is needed).
    pub when_changed: Vec<String>,
    /// The command that takes it back, for the rollback (None: nothing to undo, e.g. a reload).
    pub undo: Option<Vec<String>>,
    /// Seconds to keep retrying a command that fails (a check that a service came up);
    /// 0 runs it once.
    pub retry_secs: u32,
    /// After a rollback, a reload runs again so its service reads the old files. A step
    /// with this set (a check, a signal to the agent's proxy, enabling a unit) runs again
    /// only when one of its files was there before and is back: for files the rollback
    /// removed there is nothing for it to act on.
    pub rerun_needs_old: bool,
    /// A step that prepares (makes a directory, pulls an image) rather than makes a
    /// service read its files: it never runs again in a rollback.
    pub prepares: bool,
}

/// A package a layer needs on the target, with why (installed in one prepare step).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    pub layer: Layer,
    pub name: String,
    pub why: String,
}

/// Something that must hold on the live target before anything changes, because it would
/// otherwise fail late (after files were written). Checked by apply, after the packages
/// are installed and before the services' checkers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Check {
    /// systemd runs as PID 1 (the plan calls systemctl).
    Systemd,
    /// The Docker engine answers.
    Engine,
    /// The engine can enforce the agent's CPU, memory and pids limits.
    Limits,
    /// An image is on the host, or can be pulled; `how` says how to get it otherwise.
    Image { image: String, how: String },
    /// The proxy's image clawguard builds itself ([`BUILT_FROM_LABEL`] names its Dockerfile) ([`crate::answers::PROXY_IMAGE`]) is on
    /// the host, built from this `dockerfile`; else it is built (Debian's squid-openssl).
    ProxyImage { image: String, dockerfile: String },
    /// Nothing but one of `owners` (process names) listens on this TCP port.
    PortFree { port: u16, owners: Vec<String>, what: String },
}

/// The label on an image clawguard built: the SHA-256 of the Dockerfile it was built from.
pub const BUILT_FROM_LABEL: &str = "org.clawguard.dockerfile";

impl Check {
    /// Whether the check needs what the plan installs (the engine): those run after the
    /// packages, the others before anything at all.
    pub fn needs_packages(&self) -> bool {
        matches!(self, Check::Engine | Check::Limits | Check::Image { .. } | Check::ProxyImage { .. })
    }
}

/// A [`Check`] and the files whose change makes it needed (empty: always).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    pub layer: Layer,
    pub check: Check,
    pub when_changed: Vec<String>,
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

/// Why apply refuses a plan, before anything changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The change would lock the user out of SSH.
    Lockout,
    /// The answers would give the agent power over the host (a login user's uid, ~/.ssh).
    Unsafe,
}

/// What apply refuses to go ahead with, and why, in words that say what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Blocker {
    pub layer: Layer,
    pub kind: Refusal,
    pub text: String,
}

/// Which step of an SSH port move a plan is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// An apply that can reach the services: when the port moves, sshd keeps listening on
    /// the old ports too (and ufw keeps them open) until a login on the new port is
    /// confirmed.
    Move,
    /// `confirm`, or a target whose services are not run (an image): the new port only.
    Complete,
}

/// An SSH port move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMove {
    pub new_port: u16,
    pub old_ports: Vec<u16>,
    /// The drop-in keeps the old ports until `confirm` ([`Stage::Move`]).
    pub interim: bool,
}

/// Everything the answers ask of this host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub files: Vec<FileStep>,
    pub commands: Vec<CommandStep>,
    /// What the layers need installed (the prepare commands install exactly these).
    pub packages: Vec<Package>,
    pub preflight: Vec<Preflight>,
    pub warnings: Vec<Warning>,
    /// What apply refuses to go ahead with (the report leads with them).
    pub blockers: Vec<Blocker>,
    /// Set when the SSH port changes.
    pub ssh_move: Option<SshMove>,
    /// The target's platform: apply asks it how to see that a port listens.
    pub platform: crate::target::Kind,
}

impl CommandStep {
    /// A reload or restart that makes a service read its files (it runs again after a
    /// rollback so the service reads the old ones).
    pub fn is_reload(&self) -> bool {
        !self.when_changed.is_empty() && !self.prepares
    }
}

impl FileStep {
    /// The answers file: edited by hand by design (its edits are the input of the next
    /// plan), so an edit there is neither a conflict nor an intrusion.
    pub fn is_answers(&self) -> bool {
        self.layer.is_none() && self.path == crate::answers::DEFAULT_PATH
    }
}

impl Plan {
    /// Whether applying the changed part of this plan touches SSH or the firewall, so it
    /// must be confirmed from a new login or it rolls back.
    pub fn needs_confirmation<'a>(
        changed_files: impl IntoIterator<Item = &'a FileStep>,
        commands: impl IntoIterator<Item = &'a CommandStep>,
    ) -> bool {
        let risky = |l: Layer| matches!(l, Layer::Ssh | Layer::Firewall);
        changed_files.into_iter().any(|f| f.layer.is_some_and(risky)) || commands.into_iter().any(|c| risky(c.layer))
    }

    /// Keeps only what `layers` do (and clawguard's answers file).
    pub fn retain_layers(&mut self, layers: &[Layer]) {
        self.files.retain(|f| f.layer.is_none_or(|l| layers.contains(&l)));
        self.commands.retain(|c| layers.contains(&c.layer));
        self.packages.retain(|p| layers.contains(&p.layer));
        self.preflight.retain(|p| layers.contains(&p.layer));
        self.warnings.retain(|w| layers.contains(&w.layer));
        self.blockers.retain(|b| layers.contains(&b.layer));
    }

    pub fn file(&self, path: &str) -> Option<&FileStep> {
        self.files.iter().find(|f| f.path == path)
    }
}
