//! The checks that span several answers: the agent's directories against secret and
//! system places, and duplicates and overlaps in the allow-list.

use super::net::DomainPattern;
use super::types::AbsPath;
use super::{Answers, DEFAULT_CONFIG_DIR};

/// A problem that spans several answers, found by [`Answers::check`], with the field it
/// belongs to: `key` as the answers file names it (`egress.allowed_hosts`), and `item`
/// when it is one entry of that list. The wizard and `--plain` find the question by `key`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub key: &'static str,
    pub item: Option<usize>,
    pub message: String,
}

impl Mismatch {
    pub(super) fn new(key: &'static str, message: impl Into<String>) -> Mismatch {
        Mismatch { key, item: None, message: message.into() }
    }
    pub(super) fn item(key: &'static str, item: usize, message: impl Into<String>) -> Mismatch {
        Mismatch { key, item: Some(item), message: message.into() }
    }
    /// The field as the answers file names it: `egress.allowed_hosts[3]`.
    pub fn field(&self) -> String {
        match self.item {
            Some(i) => format!("{}[{i}]", self.key),
            None => self.key.to_owned(),
        }
    }
}

/// Places on the host no directory of the agent (mounted into its container) may be,
/// contain or lie inside: secrets (clawguard's vault and state, shadow, sshd's host keys,
/// root's home), the container engine's socket and data, the kernel's views.
pub const SECRET_PLACES: &[&str] = &[
    "/etc/clawguard",
    "/etc/shadow",
    "/etc/gshadow",
    "/etc/ssh",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/root",
    "/boot",
    "/proc",
    "/sys",
    "/dev",
    "/run/docker.sock",
    "/var/run",
    "/run/containerd",
    "/run/clawguard",
    "/var/lib/docker",
    "/var/lib/containerd",
    "/var/lib/clawguard",
];

/// Places a directory the agent may *write* must also stay out of: the host's own system
/// (a writable /etc or /usr is root on the host).
pub const SYSTEM_PLACES: &[&str] = &["/etc", "/usr", "/bin", "/sbin", "/lib", "/lib64", "/var/spool/cron"];

impl Answers {
    /// The agent's directories against [`SECRET_PLACES`], [`SYSTEM_PLACES`] (those it
    /// writes) and the compose project.
    pub(super) fn check_mounts(&self) -> Result<(), Mismatch> {
        let s = &self.sandbox;
        // (field, directory, an example, mounted writable)
        let dirs = [
            ("sandbox.state_dir", &s.state_dir, "/srv/openclaw/state", true),
            ("sandbox.workspace", &s.workspace, "/srv/openclaw/workspace", true),
            ("sandbox.config_dir", &s.config_dir, DEFAULT_CONFIG_DIR, false),
            ("monitoring.log_dir", &self.monitoring.log_dir, "/var/log/clawguard-agent", true),
        ];
        let project = s.project_dir.to_string();
        for (field, dir, example, writable) in dirs {
            if let Some(what) = forbidden_mount(dir.as_str(), writable, &project) {
                return Err(Mismatch::new(
                    field,
                    format!(
                        "`{dir}` is mounted into the agent's container and would give it {what}: give it a directory of its own, such as {example}"
                    ),
                ));
            }
        }
        Ok(())
    }

    /// The agent's directories: (field, directory, mounted writable).
    pub fn agent_mounts(&self) -> [(&'static str, &AbsPath, bool); 4] {
        let s = &self.sandbox;
        [
            ("sandbox.state_dir", &s.state_dir, true),
            ("sandbox.workspace", &s.workspace, true),
            ("sandbox.config_dir", &s.config_dir, false),
            ("monitoring.log_dir", &self.monitoring.log_dir, true),
        ]
    }
}

/// What mounting `dir` into the agent's container would give it, when that is a place it
/// must never reach ([`SECRET_PLACES`], [`SYSTEM_PLACES`] when `writable`, the compose
/// project at `project`). For a directory as typed and as the target resolves it.
pub fn forbidden_mount(dir: &str, writable: bool, project: &str) -> Option<String> {
    let inside = |a: &str, b: &str| a == b || b == "/" || a.starts_with(&format!("{}/", b.trim_end_matches('/')));
    let overlaps = |p: &str| inside(dir, p) || inside(p, dir);
    let system: &[&str] = if writable { SYSTEM_PLACES } else { &[] };
    let place = SECRET_PLACES.iter().chain(system).copied().chain([project]).find(|p| overlaps(p))?;
    Some(if place == project {
        "the agent's compose project (its own allow-list and limits)".to_owned()
    } else if dir == "/" {
        "the whole host".to_owned()
    } else {
        format!("{place}, which the agent must never reach")
    })
}

/// Duplicates and overlaps in the allow-list, in one pass over each name's parent domains
/// (not every pair: a list of 50 000 hosts is checked at once).
pub(super) fn check_hosts(hosts: &[DomainPattern]) -> Result<(), Mismatch> {
    use std::collections::HashMap;
    let mut exact: HashMap<(&str, bool), usize> = HashMap::new();
    let mut domains: HashMap<&str, usize> = HashMap::new();
    for (i, h) in hosts.iter().enumerate() {
        if let Some(j) = exact.insert((h.name(), h.subdomains()), i) {
            return Err(Mismatch::item("egress.allowed_hosts", i.max(j), format!("`{h}` is listed twice: keep one")));
        }
        if h.subdomains() {
            domains.insert(h.name(), i);
        }
    }
    for (i, h) in hosts.iter().enumerate() {
        // Every domain above this name (and the name itself, for a plain host).
        let name = h.name();
        let mut parents: Vec<&str> =
            name.char_indices().filter(|(_, c)| *c == '.').map(|(k, _)| &name[k + 1..]).collect();
        if !h.subdomains() {
            parents.push(name);
        }
        if let Some(&j) = parents.iter().find_map(|p| domains.get(p).filter(|&&j| j != i)) {
            let b = &hosts[j];
            return Err(Mismatch::item(
                "egress.allowed_hosts",
                i.max(j),
                format!(
                    "`{h}` is already covered by `{b}` (squid would ignore one of them): keep only `{b}`, or replace it by the exact host names you need"
                ),
            ));
        }
    }
    Ok(())
}
