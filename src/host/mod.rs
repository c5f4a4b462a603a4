//! Facts read from a target root (`/`, or a mounted image, or a test fixture): OS, sshd
//! configuration and its drop-ins, ssh.socket, users and their keys, installed tools, ufw
//! state, plaintext secrets lying around, and the caller's SSH connection.
//!
//! Read-only: nothing here writes. Every path goes through the root. Whatever cannot be read
//! is recorded as absent, not guessed.

pub mod agent;
pub mod authorized_keys;
pub mod login;
pub mod own_binary;
pub mod platform;
pub mod sshd;
pub mod users;

use std::fs;
use std::net::IpAddr;
use std::path::Path;

use crate::target::{Root, untrusted};

pub use agent::{AGENT_CONFIG_MAX, AgentConfig, FileFact, agent_config};
pub use platform::Platform;
pub use sshd::SshdFacts;
pub use users::UserFacts;

/// clawguard's fail2ban jail (the firewall layer writes it; the probe reads back the
/// admin addresses recorded in it).
pub const FAIL2BAN_JAIL: &str = "/etc/fail2ban/jail.d/zz-clawguard.local";
/// The comment that records an address the admin applied from.
pub const FAIL2BAN_ADMIN_MARKER: &str = "# clawguard: an address you applied from:";

/// Everything the layers may know about the host.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Facts {
    /// Linux, or macOS with what only a Mac has.
    pub platform: Platform,
    pub os: OsInfo,
    pub hostname: Option<String>,
    pub sshd: SshdFacts,
    /// `ssh.socket` owns the SSH port (Ubuntu 22.10+): a port change needs the socket restarted.
    pub ssh_socket: bool,
    pub users: Vec<UserFacts>,
    /// Every account, with login shells and privileged groups (the agent's uid must be
    /// none of the powerful ones).
    pub accounts: Vec<users::Account>,
    /// The gids of sudo, adm, docker, wheel, admin.
    pub privileged_gids: Vec<(String, u32)>,
    pub tools: Tools,
    /// clawguard itself, where its units call it.
    pub clawguard: own_binary::OwnBinary,
    pub ufw: UfwFacts,
    /// `/var/log/auth.log` exists; without it fail2ban must read the systemd journal.
    pub auth_log: bool,
    /// cloud-init is installed (it may turn password logins back on).
    pub cloud_init: bool,
    /// The SSH connection this process runs in, from `SSH_CONNECTION`.
    pub ssh_connection: Option<SshConnection>,
    /// Plaintext `.env` files that hold agent keys.
    pub plaintext_env_files: Vec<EnvFile>,
    /// Addresses earlier runs added to fail2ban's ignoreip because the admin applied from them.
    pub fail2ban_admin_ips: Vec<IpAddr>,
    /// The Docker engine's version from the package database (`docker.io`, `docker-ce`).
    pub docker_version: Option<String>,
    /// The engine's own settings file (/etc/docker/daemon.json) as it is, when there is one:
    /// the sandbox layer adds gVisor's runtime to it and keeps the rest.
    pub docker_daemon_json: Option<String>,
    /// The engine's data root (`data-root` in /etc/docker/daemon.json, else
    /// `/var/lib/docker`): where the proxy's log volume lives.
    pub docker_data_root: String,
    /// The services that have a key in the vault (names only).
    pub vault_keys: Vec<String>,
    /// Each stored key's age and whether a rotation is under way (never a value).
    pub key_states: std::collections::BTreeMap<String, KeyState>,
    /// Debian packages installed on the target (from dpkg's database; empty without one).
    pub packages: std::collections::BTreeSet<String>,
    /// The agent's own config files in its config directory (read for the openclaw
    /// profile, whose config clawguard writes around the user's settings).
    pub agent_config: AgentConfig,
    /// The agent's directories (as the answers give them) that the target resolves to
    /// another place, through a link: (as answered, where it really is). Docker follows
    /// the link when it mounts, so the real place is what the agent gets.
    pub linked_mounts: Vec<(String, String)>,
    /// What is known of the agent's image before anything is pulled, by reference as the
    /// answers give it (asked by the front door: `session::Request::ask_images`).
    pub images: std::collections::BTreeMap<String, ImageFact>,
    /// The host's memory (MemTotal), when the target is this running host.
    pub memory_mib: Option<u64>,
    /// The applied answers file's text (`/etc/clawguard/answers.toml`), comments and all:
    /// kept as it is by the next apply when it says what that apply applies.
    pub applied_answers: Option<String>,
    /// The images the applied files pin, by the tag as the answers give it: its digest
    /// (the compose file's images; the base of the proxy's own image, in its Dockerfile).
    pub recorded_images: std::collections::BTreeMap<String, String>,
}

/// An image as the front door found it: on the host already, or what its registry says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageFact {
    /// On the host (`docker image inspect`); the digest it was pulled at, when a registry
    /// gave it one.
    Here { digest: Option<String> },
    /// Not on the host; its registry gave its digest and download size.
    Remote(crate::registry::Resolved),
    /// Neither could be found out (no engine yet and no registry answer, a local build): why.
    Unknown(String),
    /// Not looked for: the target is not this running host and no runner reaches its engine
    /// (an image under `--root`), so nothing is pulled either.
    NotAsked,
}

/// A stored key's state, for the wizard's credentials screen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeyState {
    pub age_days: u64,
    /// `secrets rotate` stored a new key and keeps the old one until `--done`.
    pub rotating: bool,
}

fn key_states(root: &Root) -> std::collections::BTreeMap<String, KeyState> {
    let vault = crate::vault::Vault::new(root);
    vault
        .list()
        .unwrap_or_default()
        .into_iter()
        .map(|e| {
            let rotating = e.name.parse().ok().is_some_and(|id| vault.rotating(&id).unwrap_or(None).is_some());
            (e.name.clone(), KeyState { age_days: e.age_days(), rotating })
        })
        .collect()
}

impl Facts {
    /// The facts for these answers: the agent's config directory is read again when the
    /// answers name another one than the probe read.
    pub fn for_answers(mut self, root: &Root, answers: &crate::answers::Answers) -> Facts {
        let dir = answers.sandbox.config_dir.as_str();
        if self.agent_config.dir != dir {
            self.agent_config = agent_config(root, dir);
        }
        self.linked_mounts = linked_mounts(root, answers);
        self.applied_answers = root.read(crate::answers::DEFAULT_PATH);
        self.recorded_images = recorded_images(root, &answers.sandbox.project_dir.join("docker-compose.yml"));
        self
    }
}

/// Where clawguard writes the Dockerfile of the proxy's own image (under its state
/// directory): the build's whole context, and the record of its base's pin.
pub const PROXY_DOCKERFILE: &str = "/var/lib/clawguard/proxy-image/Dockerfile";

/// The images the applied files pin: (the tag it was resolved from, as the answers give
/// it; the digest), from the comments clawguard wrote next to them
/// ([`crate::answers::recorded_pins`]). What clawguard wrote there is its record of the
/// resolution, so a re-run without the registry or the engine (offline, without root)
/// plans the same files.
fn recorded_images(root: &Root, compose: &str) -> std::collections::BTreeMap<String, String> {
    [compose, PROXY_DOCKERFILE]
        .into_iter()
        .filter_map(|f| root.read(f))
        .flat_map(|text| crate::answers::recorded_pins(&text))
        .collect()
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsInfo {
    /// `debian`, `ubuntu`, … (empty when unknown).
    pub id: String,
    pub version_id: String,
    pub pretty_name: String,
    /// `NAME` (`Debian GNU/Linux`), for an os-release without PRETTY_NAME.
    pub name: String,
    /// An os-release file was there at all.
    pub found: bool,
}

#[cfg(test)]
mod os_tests {
    use super::OsInfo;

    #[test]
    fn an_os_release_without_pretty_name_is_described_by_name_and_version() {
        let os = OsInfo {
            id: "debian".into(),
            version_id: "12".into(),
            name: "Debian GNU/Linux".into(),
            found: true,
            ..Default::default()
        };
        assert_eq!(os.describe(), "Debian GNU/Linux 12");
        let os = OsInfo { id: "alpine".into(), found: true, ..Default::default() };
        assert_eq!(os.describe(), "alpine");
        assert_eq!(OsInfo::default().describe(), "an unknown OS (no /etc/os-release)");
    }
}

impl OsInfo {
    /// PRETTY_NAME, else what NAME or ID and VERSION_ID say.
    pub fn describe(&self) -> String {
        if !self.pretty_name.is_empty() {
            return self.pretty_name.clone();
        }
        let name = if self.name.is_empty() { &self.id } else { &self.name };
        match (self.found, name.is_empty()) {
            (false, _) => "an unknown OS (no /etc/os-release)".into(),
            (true, true) => "an unknown OS (its os-release names none)".into(),
            (true, false) => format!("{name} {}", self.version_id).trim_end().to_owned(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tools {
    pub ufw: bool,
    pub fail2ban: bool,
    pub squid: bool,
    pub docker: bool,
    /// `docker-compose` (v1) or the `docker compose` plugin (v2).
    pub compose: bool,
    /// The `docker compose` v2 plugin specifically.
    pub compose_plugin: bool,
    pub restic: bool,
    pub logrotate: bool,
    pub systemd: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UfwFacts {
    /// `ENABLED=yes` in ufw.conf.
    pub enabled: bool,
    /// Default incoming policy from /etc/default/ufw (`DROP`, `ACCEPT`, `REJECT`).
    pub default_input: String,
    pub default_output: String,
    /// The user rules as ufw records them (`limit tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in`), v4 and v6.
    pub rules: Vec<String>,
    /// ufw's state could not be read (its rules files are root's, mode 640): unknown, not
    /// empty.
    pub unreadable: bool,
}

impl UfwFacts {
    /// Whether a rule with this action (`allow`/`limit`) exists for a TCP port, v4 and v6.
    pub fn has_port_rule(&self, action: &str, port: u16) -> bool {
        let want = |net: &str| format!("{action} tcp {port} {net} any {net} in");
        self.rules.iter().any(|r| r.starts_with(&want("0.0.0.0/0")))
            && self.rules.iter().any(|r| r.starts_with(&want("::/0")))
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshConnection {
    pub client: IpAddr,
    pub server: IpAddr,
    pub server_port: u16,
}

impl SshConnection {
    /// Parses `SSH_CONNECTION` ("client_ip client_port server_ip server_port").
    pub fn parse(s: &str) -> Option<SshConnection> {
        let parts: Vec<&str> = s.split_whitespace().collect();
        match parts.as_slice() {
            [c, _, srv, port] => Some(SshConnection {
                client: c.parse().ok()?,
                server: srv.parse().ok()?,
                server_port: port.parse().ok()?,
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvFile {
    /// Path inside the root.
    pub path: String,
    /// How many `KEY=value` lines it has (values are never read into memory beyond this).
    pub keys: usize,
    pub world_readable: bool,
}

/// Reads the facts of `root`. `ssh_connection` is the caller's `SSH_CONNECTION` value
/// (passed in so tests can set it).
pub fn probe(root: &Root, ssh_connection: Option<&str>) -> Facts {
    let platform = platform::probe(root);
    let mut sshd = sshd::probe(root);
    let key_files = sshd.effective("authorizedkeysfile").map(|d| d.value.clone());
    let directory = match &platform {
        Platform::Linux => users::passwd_directory(root),
        // Unreadable accounts are said by `MacFacts::accounts_unreadable`; the SSH layer
        // refuses to guess who may log in.
        Platform::MacOs(_) => users::mac_directory(root).unwrap_or_default(),
    };
    if let Some(mac) = platform.mac() {
        // launchd owns sshd's socket on a Mac: `Port` in sshd_config moves nothing.
        let mut ports = Vec::new();
        // Remote Login kept for FileVault's unlock before login (see `keeps_remote_login`)
        // is not the way in once clawguard's own sshd listens: pf blocks 22 after boot.
        if mac.remote_login == Ok(true) && !(mac.own_sshd_port.is_some() && mac.keeps_remote_login()) {
            ports.push(22);
        }
        ports.extend(mac.own_sshd_port.filter(|p| !ports.contains(p)));
        sshd.launchd_ports = Some(ports);
    }
    let os = match platform.mac() {
        Some(mac) => OsInfo {
            id: "macos".into(),
            version_id: mac.version.clone(),
            pretty_name: format!("macOS {}", mac.version).trim_end().to_owned(),
            name: "macOS".into(),
            found: true,
        },
        None => os_release(root),
    };
    let defaults = crate::answers::Answers::defaults_for(platform.kind());
    let default_config = defaults.sandbox.config_dir.to_string();
    Facts {
        os,
        hostname: root.read("/etc/hostname").map(|h| h.trim().to_owned()).filter(|h| !h.is_empty()),
        users: users::probe(root, &directory, key_files.as_deref()),
        sshd,
        ssh_socket: ssh_socket(root),
        accounts: users::accounts(&directory),
        privileged_gids: users::privileged_gids(&directory),
        tools: tools(root, &platform),
        platform,
        clawguard: own_binary::probe(root),
        ufw: ufw(root),
        auth_log: root.exists("/var/log/auth.log"),
        cloud_init: root.exists("/etc/cloud/cloud.cfg"),
        ssh_connection: ssh_connection.and_then(SshConnection::parse),
        plaintext_env_files: env_files(root),
        docker_version: docker_version(root),
        docker_data_root: docker_data_root(root),
        docker_daemon_json: root.read(DOCKER_DAEMON_JSON),
        packages: installed_packages(root),
        agent_config: agent_config(root, default_config.as_str()),
        linked_mounts: linked_mounts(root, &defaults),
        images: Default::default(),
        recorded_images: Default::default(),
        applied_answers: None,
        memory_mib: root
            .read("/proc/meminfo")
            .and_then(|m| {
                m.lines().find_map(|l| {
                    l.strip_prefix("MemTotal:").map(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                })
            })
            .flatten()
            .map(|kb| kb / 1024),
        key_states: key_states(root),
        vault_keys: root
            .list("/etc/clawguard/vault")
            .into_iter()
            .filter_map(|n| n.strip_suffix(".age").map(str::to_owned))
            .collect(),
        fail2ban_admin_ips: root
            .read(FAIL2BAN_JAIL)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.strip_prefix(FAIL2BAN_ADMIN_MARKER)?.trim().parse().ok())
            .collect(),
    }
}

fn os_release(root: &Root) -> OsInfo {
    let text = root.read("/etc/os-release").or_else(|| root.read("/usr/lib/os-release"));
    let mut os = OsInfo { found: text.is_some(), ..OsInfo::default() };
    let text = text.unwrap_or_default();
    for line in text.lines() {
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim().trim_matches('"').to_owned();
            match k.trim() {
                "ID" => os.id = v,
                "VERSION_ID" => os.version_id = v,
                "PRETTY_NAME" => os.pretty_name = v,
                "NAME" => os.name = v,
                _ => {}
            }
        }
    }
    os
}

/// ssh.socket is in charge when it is enabled (a `sockets.target.wants` link), or — on the
/// live system with systemd running — when systemd says it is active.
fn ssh_socket(root: &Root) -> bool {
    if root.exists("/etc/systemd/system/sockets.target.wants/ssh.socket")
        || root.exists("/etc/systemd/system/ssh.service.requires/ssh.socket")
    {
        return true;
    }
    if root.is_live() && root.exists("/run/systemd/system") {
        return duct::cmd!("systemctl", "is-active", "--quiet", "ssh.socket")
            .unchecked()
            .stderr_null()
            .stdout_null()
            .run()
            .is_ok_and(|o| o.status.success());
    }
    false
}

fn tools(root: &Root, platform: &Platform) -> Tools {
    let any = |paths: &[&str]| paths.iter().any(|p| root.exists(p));
    if let Some(mac) = platform.mac() {
        // Homebrew's and the container runtimes' places; the system has no ufw,
        // fail2ban, logrotate or systemd (pf, newsyslog and launchd do their jobs).
        let brew = |tool: &str| mac.homebrew.as_ref().is_some_and(|h| root.exists(&format!("{}/{tool}", h.prefix)));
        let plugin = any(&[
            "/usr/local/lib/docker/cli-plugins/docker-compose",
            "/Applications/Docker.app/Contents/Resources/cli-plugins/docker-compose",
        ]) || brew("lib/docker/cli-plugins/docker-compose");
        return Tools {
            squid: brew("sbin/squid") || brew("bin/squid"),
            docker: any(&["/usr/local/bin/docker"]) || brew("bin/docker"),
            compose: plugin || any(&["/usr/local/bin/docker-compose"]) || brew("bin/docker-compose"),
            compose_plugin: plugin,
            restic: brew("bin/restic") || any(&["/usr/local/bin/restic"]),
            ..Tools::default()
        };
    }
    Tools {
        ufw: any(&["/usr/sbin/ufw"]),
        fail2ban: any(&["/usr/bin/fail2ban-client"]),
        squid: any(&["/usr/sbin/squid"]),
        docker: any(&["/usr/bin/docker", "/usr/local/bin/docker"]),
        compose: any(&[
            "/usr/bin/docker-compose",
            "/usr/local/bin/docker-compose",
            "/usr/libexec/docker/cli-plugins/docker-compose",
            "/usr/lib/docker/cli-plugins/docker-compose",
            "/usr/local/lib/docker/cli-plugins/docker-compose",
        ]),
        compose_plugin: any(&[
            "/usr/libexec/docker/cli-plugins/docker-compose",
            "/usr/lib/docker/cli-plugins/docker-compose",
            "/usr/local/lib/docker/cli-plugins/docker-compose",
        ]),
        restic: any(&["/usr/bin/restic", "/usr/local/bin/restic"]),
        logrotate: any(&["/usr/sbin/logrotate"]),
        systemd: any(&["/lib/systemd/systemd", "/usr/lib/systemd/systemd"]),
    }
}

fn ufw(root: &Root) -> UfwFacts {
    let conf = root.read("/etc/ufw/ufw.conf").unwrap_or_default();
    let defaults = root.read("/etc/default/ufw").unwrap_or_default();
    let value = |text: &str, key: &str| {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(key).and_then(|r| r.strip_prefix('=')))
            .map(|v| v.trim().trim_matches('"').to_owned())
            .unwrap_or_default()
    };
    let mut rules = Vec::new();
    let mut unreadable = false;
    for file in ["/etc/ufw/user.rules", "/etc/ufw/user6.rules"] {
        if let Err(e) = fs::read(root.path(file))
            && e.kind() == std::io::ErrorKind::PermissionDenied
        {
            unreadable = true;
        }
        for line in root.read(file).unwrap_or_default().lines() {
            if let Some(t) = line.strip_prefix("### tuple ### ") {
                rules.push(t.trim().to_owned());
            }
        }
    }
    UfwFacts {
        enabled: value(&conf, "ENABLED").eq_ignore_ascii_case("yes"),
        default_input: value(&defaults, "DEFAULT_INPUT_POLICY"),
        default_output: value(&defaults, "DEFAULT_OUTPUT_POLICY"),
        rules,
        unreadable,
    }
}

/// The names of the packages dpkg records as installed.
/// The Debian packages installed on `root` (dpkg's database; empty without one).
pub fn installed_packages(root: &Root) -> std::collections::BTreeSet<String> {
    let status = root.read("/var/lib/dpkg/status").unwrap_or_default();
    status
        .split("\n\n")
        .filter_map(|stanza| {
            let field = |name: &str| stanza.lines().find_map(|l| l.strip_prefix(name).map(str::trim));
            let installed = field("Status:").is_some_and(|s| s.ends_with(" installed"));
            installed.then(|| field("Package:").map(str::to_owned)).flatten()
        })
        .collect()
}

/// The Docker engine's settings file.
pub const DOCKER_DAEMON_JSON: &str = "/etc/docker/daemon.json";

/// `data-root` from the engine's daemon.json; its default when the file or the key is not
/// there (or the file is not JSON: the engine would refuse to start with it, and the check
/// says when the proxy's log is not where this points).
fn docker_data_root(root: &Root) -> String {
    root.read("/etc/docker/daemon.json")
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("data-root").and_then(|d| d.as_str()).map(|d| d.trim_end_matches('/').to_owned()))
        .filter(|d| d.starts_with('/') && !d.split('/').any(|c| c == "..") && !d.contains(['\n', '\r']))
        .unwrap_or_else(|| "/var/lib/docker".to_owned())
}

/// The installed Docker engine's upstream version (`20.10.24` of `20.10.24+dfsg1-1+deb12u1`),
/// read from dpkg's database so it works for any root.
fn docker_version(root: &Root) -> Option<String> {
    let status = root.read("/var/lib/dpkg/status")?;
    status.split("\n\n").find_map(|stanza| {
        let field = |name: &str| stanza.lines().find_map(|l| l.strip_prefix(name).map(str::trim));
        let package = field("Package:")?;
        let installed = field("Status:").is_some_and(|s| s.ends_with("installed") && !s.contains("not-installed"));
        if !matches!(package, "docker.io" | "docker-ce" | "moby-engine") || !installed {
            return None;
        }
        let v = field("Version:")?;
        let v = v.split_once(':').map(|(_, r)| r).unwrap_or(v);
        Some(v.split(['+', '~', '-']).next().unwrap_or(v).to_owned())
    })
}

/// Whether a Docker engine version has the fix for CVE-2024-29018 (DNS of containers on
/// internal networks reaching out): 26.0.0, 25.0.4, 23.0.11 and later.
pub fn docker_dns_fixed(version: &str) -> bool {
    let n: Vec<u32> = version.split('.').map(|p| p.parse().unwrap_or(0)).collect();
    let (major, minor, patch) =
        (n.first().copied().unwrap_or(0), n.get(1).copied().unwrap_or(0), n.get(2).copied().unwrap_or(0));
    major >= 26 || (major == 25 && minor == 0 && patch >= 4) || (major == 23 && minor == 0 && patch >= 11)
}

/// The agent's directories that resolve elsewhere on the target ([`Facts::linked_mounts`]).
fn linked_mounts(root: &Root, answers: &crate::answers::Answers) -> Vec<(String, String)> {
    answers
        .agent_mounts()
        .iter()
        .map(|(_, d, _)| d.as_str())
        .filter_map(|d| {
            let real = root.path(d);
            let real = Path::new("/").join(real.strip_prefix(root.dir()).ok()?);
            let real = real.to_str()?.to_owned();
            (real != d.trim_end_matches('/') && d != "/").then(|| (d.to_owned(), real))
        })
        .collect()
}

/// Plaintext `.env` files where OpenClaw keeps keys by default (`~/.openclaw/.env`).
fn env_files(root: &Root) -> Vec<EnvFile> {
    let mut homes = vec!["/root".to_owned()];
    homes.extend(root.list("/home").into_iter().map(|h| format!("/home/{h}")));
    // A Mac's homes.
    homes.extend(root.list("/Users").into_iter().filter(|h| h != "Shared").map(|h| format!("/Users/{h}")));
    homes
        .iter()
        .map(|h| format!("{h}/.openclaw/.env"))
        .filter_map(|p| {
            // The user's own directory: a `.openclaw` that is a link elsewhere is not read.
            let (bytes, _) = root.read_untrusted(&p, untrusted::MAX_READ).ok()?;
            let text = String::from_utf8_lossy(&bytes);
            let keys = text.lines().filter(|l| !l.trim_start().starts_with('#') && l.contains('=')).count();
            let world_readable = root.mode(&p).is_some_and(|m| m & 0o004 != 0);
            Some(EnvFile { path: p, keys, world_readable })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ssh_connection_parses_the_four_fields() {
        let c = SshConnection::parse("203.0.113.9 51234 10.0.0.5 22").unwrap();
        assert_eq!(c.client.to_string(), "203.0.113.9");
        assert_eq!(c.server_port, 22);
        assert!(SshConnection::parse("garbage").is_none());
    }

    #[test]
    fn docker_versions_with_the_dns_fix() {
        assert!(!docker_dns_fixed("20.10.24"));
        assert!(!docker_dns_fixed("24.0.9"));
        assert!(!docker_dns_fixed("25.0.3"));
        assert!(docker_dns_fixed("25.0.4"));
        assert!(!docker_dns_fixed("23.0.10"));
        assert!(docker_dns_fixed("23.0.11"));
        assert!(docker_dns_fixed("26.0.0"));
        assert!(docker_dns_fixed("28.2.2"));
    }
}
