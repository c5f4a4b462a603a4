//! The user's choices: one TOML file with a section per layer, every value a validating
//! type (see [`types`]), defaults from the seed, unknown keys refused.
//!
//! Owns loading, defaults and the checks that span several fields (overlapping hosts, a
//! backup on this same machine). Does not know about the host or about config files.

mod backup_target;
mod image;
mod net;
pub mod types;

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use backup_target::*;
pub use image::*;
pub use net::*;
pub use types::*;

/// Where an installed clawguard keeps its answers.
/// Where the agent's config lives by default (OpenClaw reads it read-only).
pub const DEFAULT_CONFIG_DIR: &str = "/srv/openclaw/config";
pub const DEFAULT_PATH: &str = "/etc/clawguard/answers.toml";

/// The answers-file format this build reads and writes.
pub const VERSION: u32 = 1;

/// The documented example, the same as the defaults (a test keeps them in step).
pub const EXAMPLE: &str = include_str!("../../assets/answers.example.toml");

/// The answers file could not be used. Says which field, what was wrong and what to type.
#[derive(Debug, thiserror::Error)]
pub enum AnswersError {
    #[error("cannot read the answers file {path}: {source}\n  {}", read_hint(.source))]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{origin}: `{field}`: {message}")]
    Field { origin: String, field: String, message: String },
    #[error("{origin}: {message}")]
    Syntax { origin: String, message: String },
}

fn read_hint(e: &std::io::Error) -> &'static str {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        "Run it with sudo, or make the file readable: it holds no secrets (`sudo chmod 644 FILE`; clawguard writes it 0644 from 0.2 on)."
    } else {
        "Give an existing file with --answers FILE, or leave --answers out to use the saved answers or the defaults."
    }
}

/// The whole set of answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Answers {
    /// Format version of this file; this build reads version 1.
    pub version: u32,
    /// Layers not to set up (the plan says what that leaves unprotected).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub skip: Vec<Layer>,
    #[serde(default)]
    pub sandbox: Sandbox,
    #[serde(default)]
    pub credentials: Credentials,
    #[serde(default)]
    pub ssh: Ssh,
    #[serde(default)]
    pub firewall: Firewall,
    #[serde(default)]
    pub fail2ban: Fail2ban,
    #[serde(default)]
    pub egress: Egress,
    #[serde(default)]
    pub monitoring: Monitoring,
    #[serde(default)]
    pub backup: Backup,
}

impl Default for Answers {
    fn default() -> Self {
        Answers {
            version: VERSION,
            skip: Vec::new(),
            sandbox: Sandbox::default(),
            credentials: Credentials::default(),
            ssh: Ssh::default(),
            firewall: Firewall::default(),
            fail2ban: Fail2ban::default(),
            egress: Egress::default(),
            monitoring: Monitoring::default(),
            backup: Backup::default(),
        }
    }
}

/// The seven layers, in the order the wizard walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Layer {
    Sandbox,
    Credentials,
    Ssh,
    Firewall,
    Egress,
    Monitoring,
    Backup,
}

impl Layer {
    pub const ALL: [Layer; 7] = [
        Layer::Sandbox,
        Layer::Credentials,
        Layer::Ssh,
        Layer::Firewall,
        Layer::Egress,
        Layer::Monitoring,
        Layer::Backup,
    ];

    pub fn number(self) -> usize {
        Layer::ALL.iter().position(|l| *l == self).expect("listed") + 1
    }

    pub fn title(self) -> &'static str {
        match self {
            Layer::Sandbox => "Agent sandbox",
            Layer::Credentials => "Credentials",
            Layer::Ssh => "SSH",
            Layer::Firewall => "Firewall and fail2ban",
            Layer::Egress => "Egress allow-list",
            Layer::Monitoring => "Monitoring",
            Layer::Backup => "Backup and recovery",
        }
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}. {}", self.number(), self.title())
    }
}

/// Which agent runs in the sandbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// OpenClaw: its image, state directory layout and gateway port.
    Openclaw,
    /// Any image with any command.
    Generic,
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Profile::Openclaw => "openclaw",
            Profile::Generic => "generic",
        })
    }
}

/// OpenClaw's official image at the version clawguard was tested with (OpenClaw's
/// docs/install/docker.md: `ghcr.io/openclaw/openclaw:<version>`).
pub const OPENCLAW_IMAGE: &str = "ghcr.io/openclaw/openclaw:2026.9.6";

/// Layer 1: the agent's container.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sandbox {
    pub profile: Profile,
    /// The image: OpenClaw's official one at a pinned version by default (pulled by the
    /// digest its registry gives, which the compose file records), or one built on this
    /// host (`openclaw:local`), or any other.
    pub image: ImageRef,
    /// The command for the generic profile (empty: the image's own).
    pub command: Vec<Arg>,
    /// Numeric uid and gid the agent runs as (never 0).
    pub uid: Count<1, 65534>,
    pub gid: Count<1, 65534>,
    /// Where the compose project is rendered.
    pub project_dir: AbsPath,
    /// The agent's state (databases, sessions): mounted read-write.
    pub state_dir: AbsPath,
    /// The agent's workspace: mounted read-write.
    pub workspace: AbsPath,
    /// The agent's configuration: mounted read-only.
    pub config_dir: AbsPath,
    pub cpus: Cpus,
    pub memory: ByteSize,
    pub pids: Count<16, 65536>,
    /// Start the agent only where the engine enforces the CPU, memory and pids limits
    /// (a VPS that is itself a container often cannot). False: run it without a CPU
    /// limit, and with the others only where the kernel supports them.
    pub require_limits: bool,
    /// Size of the `noexec` tmpfs on /tmp.
    pub tmpfs_size: ByteSize,
    /// The agent's gateway port inside the container (OpenClaw: 18789).
    pub gateway_port: Port,
    /// Publish the gateway on 127.0.0.1 (never on other addresses).
    pub publish_gateway: bool,
    /// Capabilities given back after dropping all (usually none).
    pub cap_add: Vec<Capability>,
    /// The image of the forwarder that publishes the gateway on 127.0.0.1 (socat).
    pub gateway_image: ImageRef,
}

/// Where the agent's data goes on a Mac by default: /srv cannot be made there (the system
/// volume is read-only), /opt can (it is one of the data volume's firmlinks).
pub const MAC_DATA_DIR: &str = "/opt/openclaw";

impl Answers {
    /// The built-in defaults for a platform: Linux's, with the agent's data under
    /// [`MAC_DATA_DIR`] on a Mac.
    pub fn defaults_for(platform: crate::target::Kind) -> Answers {
        let mut a = Answers::default();
        if platform == crate::target::Kind::MacOs {
            a.sandbox.state_dir = format!("{MAC_DATA_DIR}/state").parse().expect("default path");
            a.sandbox.workspace = format!("{MAC_DATA_DIR}/workspace").parse().expect("default path");
            a.sandbox.config_dir = format!("{MAC_DATA_DIR}/config").parse().expect("default path");
        }
        a
    }
}

impl Default for Sandbox {
    fn default() -> Self {
        Sandbox {
            profile: Profile::Openclaw,
            image: OPENCLAW_IMAGE.parse().expect("default image"),
            command: Vec::new(),
            uid: Count::of(64000),
            gid: Count::of(64000),
            project_dir: "/opt/clawguard/agent".parse().expect("default path"),
            state_dir: "/srv/openclaw/state".parse().expect("default path"),
            workspace: "/srv/openclaw/workspace".parse().expect("default path"),
            config_dir: DEFAULT_CONFIG_DIR.parse().expect("default path"),
            cpus: "2".parse().expect("default cpus"),
            memory: ByteSize::mib(2048),
            pids: Count::of(256),
            require_limits: true,
            tmpfs_size: ByteSize::mib(100),
            gateway_port: Port::new_unchecked(18789),
            publish_gateway: false,
            cap_add: Vec::new(),
            gateway_image: "alpine/socat:latest".parse().expect("default image"),
        }
    }
}

/// Layer 2: which services have keys in the vault. Names only, never values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Credentials {
    pub services: Vec<Ident>,
    /// Days after which a key is due for rotation.
    pub rotate_days: Count<1, 3650>,
}

impl Default for Credentials {
    fn default() -> Self {
        Credentials {
            services: ["anthropic", "openai", "gmail", "slack"]
                .iter()
                .map(|s| s.parse().expect("default name"))
                .collect(),
            rotate_days: Count::of(90),
        }
    }
}

/// Layer 3: sshd.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ssh {
    pub port: Port,
    /// Who may log in. Empty: the users that have an authorized key on the host.
    pub allowed_users: Vec<UnixUser>,
    pub max_auth_tries: Count<1, 10>,
    pub client_alive_interval: Count<0, 3600>,
    pub client_alive_count_max: Count<0, 100>,
    /// Allow `ssh -L` tunnels to the agent's gateway on 127.0.0.1 (and nowhere else).
    /// Off: no forwarding at all (what Lynis asks for).
    pub gateway_tunnel: bool,
    /// Also offer the classic curve25519 key exchange, for clients without post-quantum
    /// key exchange (OpenSSH before 8.5, PuTTY before 0.78, paramiko); ssh-audit then
    /// reports it. Off: post-quantum key exchange only.
    pub classic_kex: bool,
}

impl Default for Ssh {
    fn default() -> Self {
        Ssh {
            port: Port::new_unchecked(2222),
            allowed_users: Vec::new(),
            max_auth_tries: Count::of(3),
            client_alive_interval: Count::of(300),
            client_alive_count_max: Count::of(2),
            gateway_tunnel: false,
            classic_kex: false,
        }
    }
}

/// Layer 4a: ufw.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Firewall {
    /// Ports open to the world besides SSH (e.g. 443 for a reverse proxy).
    pub extra_ports: Vec<Port>,
    /// Use ufw's `limit` (6 connections in 30 s per address) on the SSH port.
    pub limit_ssh: bool,
}

impl Default for Firewall {
    fn default() -> Self {
        Firewall { extra_ports: Vec::new(), limit_ssh: true }
    }
}

/// Layer 4b: fail2ban's sshd jail.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Fail2ban {
    pub maxretry: Count<1, 100>,
    /// Seconds in which `maxretry` failures lead to a ban.
    pub findtime: Count<1, 604800>,
    /// Seconds of the first ban.
    pub bantime: Count<1, 31536000>,
    /// Longer bans for repeat offenders.
    pub incremental: bool,
    /// Addresses never banned (the admin's own address is added when connected over SSH).
    pub ignoreip: Vec<IpNet>,
}

impl Default for Fail2ban {
    fn default() -> Self {
        Fail2ban {
            maxretry: Count::of(3),
            findtime: Count::of(600),
            bantime: Count::of(3600),
            incremental: true,
            ignoreip: Vec::new(),
        }
    }
}

/// Layer 5: the squid allow-list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Egress {
    pub allowed_hosts: Vec<DomainPattern>,
    pub proxy_port: Port,
    /// The squid image of the proxy sidecar.
    pub proxy_image: ImageRef,
    /// Names the proxy resolves without DNS (`name=address`).
    pub static_hosts: Vec<StaticHost>,
}

impl Default for Egress {
    fn default() -> Self {
        Egress {
            allowed_hosts: [
                "api.anthropic.com",
                "api.openai.com",
                "gmail.googleapis.com",
                "slack.com",
                "www.googleapis.com",
            ]
            .iter()
            .map(|h| h.parse().expect("default host"))
            .collect(),
            proxy_port: Port::new_unchecked(3128),
            proxy_image: "ubuntu/squid:latest".parse().expect("default image"),
            static_hosts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Error,
    Warn,
    Info,
    Debug,
    Trace,
}

impl fmt::Display for LogLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LogLevel::Error => "error",
            LogLevel::Warn => "warn",
            LogLevel::Info => "info",
            LogLevel::Debug => "debug",
            LogLevel::Trace => "trace",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Rotation {
    Daily,
    Weekly,
    Monthly,
}

impl fmt::Display for Rotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Rotation::Daily => "daily",
            Rotation::Weekly => "weekly",
            Rotation::Monthly => "monthly",
        })
    }
}

/// How the daily check's alert is posted: each service's own webhook format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertFormat {
    /// `{"text": …}`: Slack, Mattermost, Rocket.Chat, Google Chat.
    Slack,
    /// `{"content": …}`, cut to Discord's 2000 characters.
    Discord,
    /// The text as the body, with ntfy's Title, Priority and Tags headers.
    Ntfy,
    /// The Bot API's `sendMessage` at `alert_webhook` (https://api.telegram.org), with the
    /// bot token from the vault (`clawguard secrets set clawguard-telegram`).
    Telegram,
    /// The findings as `clawguard check --json` prints them, plus what is new and resolved.
    Json,
}

impl AlertFormat {
    pub const ALL: [&'static str; 5] = ["slack", "discord", "ntfy", "telegram", "json"];
}

impl fmt::Display for AlertFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = [AlertFormat::Slack, AlertFormat::Discord, AlertFormat::Ntfy, AlertFormat::Telegram, AlertFormat::Json]
            .iter()
            .position(|a| a == self)
            .expect("listed");
        f.write_str(AlertFormat::ALL[i])
    }
}

impl FromStr for AlertFormat {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let all =
            [AlertFormat::Slack, AlertFormat::Discord, AlertFormat::Ntfy, AlertFormat::Telegram, AlertFormat::Json];
        AlertFormat::ALL.iter().position(|a| *a == s.trim()).map(|i| all[i]).ok_or_else(|| {
            Invalid(format!("`{}` is not an alert format: type one of {}", s.trim(), AlertFormat::ALL.join(", ")))
        })
    }
}

/// Layer 6: logs and the daily check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Monitoring {
    pub log_level: LogLevel,
    /// Directory on the host for the agent's log files.
    pub log_dir: AbsPath,
    pub rotation: Rotation,
    pub retain_days: Count<1, 3650>,
    /// What the agent logs (its own category names).
    pub categories: Vec<Ident>,
    /// Where the daily check sends alerts (none: only the log and `clawguard status`).
    pub alert_webhook: Option<WebhookUrl>,
    pub alert_format: AlertFormat,
    /// Telegram: the chat the bot posts to (a number; its token is in the vault).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub telegram_chat: Option<i64>,
    /// Send a short "still alive" alert when a week passed without one (a silent check
    /// could also be a dead one).
    pub alert_still_alive: bool,
    /// TLS services whose certificates the check watches (expiry, chain, name).
    pub certificates: Vec<TlsEndpoint>,
    /// A certificate expiring within this many days is reported.
    pub certificate_days: Count<1, 365>,
    /// When the daily security check runs.
    pub check_time: TimeOfDay,
}

impl Default for Monitoring {
    fn default() -> Self {
        Monitoring {
            log_level: LogLevel::Info,
            log_dir: "/var/log/clawguard-agent".parse().expect("default path"),
            rotation: Rotation::Daily,
            retain_days: Count::of(30),
            categories: ["auth", "tools", "network", "config"]
                .iter()
                .map(|s| s.parse().expect("default name"))
                .collect(),
            alert_webhook: None,
            alert_format: AlertFormat::Slack,
            telegram_chat: None,
            alert_still_alive: false,
            certificates: Vec::new(),
            certificate_days: Count::of(21),
            check_time: TimeOfDay::new(6, 0),
        }
    }
}

/// Layer 7: restic backups.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Backup {
    /// The restic repository. None: backups are not set up (the plan warns).
    pub destination: Option<BackupTarget>,
    /// Accept a destination on this same machine (it protects against mistakes, not against
    /// losing or losing control of the server).
    pub allow_same_machine: bool,
    pub schedule: TimeOfDay,
    pub keep_daily: Count<1, 3650>,
    pub keep_weekly: Count<0, 520>,
    pub keep_monthly: Count<0, 120>,
    /// Left out of every snapshot (caches, build output): names or globs anywhere, or
    /// absolute paths on the target.
    pub exclude: Vec<ExcludePattern>,
}

impl Default for Backup {
    fn default() -> Self {
        Backup {
            destination: None,
            allow_same_machine: false,
            schedule: TimeOfDay::new(3, 0),
            keep_daily: Count::of(7),
            keep_weekly: Count::of(4),
            keep_monthly: Count::of(6),
            exclude: Vec::new(),
        }
    }
}

impl Answers {
    /// Reads and checks an answers file.
    pub fn load(path: &Path) -> Result<Answers, AnswersError> {
        Answers::load_for(path, crate::target::Kind::Linux)
    }

    /// [`load`](Self::load) for a platform: what the file leaves out takes that platform's
    /// default ([`defaults_for`](Self::defaults_for)) — an answers file written on Linux or
    /// by hand on a Mac does not put the agent's data under /srv, which a Mac cannot make.
    pub fn load_for(path: &Path, platform: crate::target::Kind) -> Result<Answers, AnswersError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| AnswersError::Read { path: path.to_owned(), source })?;
        let origin = path.display().to_string();
        let mut answers = Answers::parse(&text, &origin)?;
        if platform == crate::target::Kind::MacOs {
            let given: toml::Table = toml::from_str(&text).unwrap_or_default();
            let sandbox = given.get("sandbox").and_then(toml::Value::as_table);
            let set = |key: &str| sandbox.is_some_and(|s| s.contains_key(key));
            let mac = Answers::defaults_for(platform).sandbox;
            if !set("state_dir") {
                answers.sandbox.state_dir = mac.state_dir;
            }
            if !set("workspace") {
                answers.sandbox.workspace = mac.workspace;
            }
            if !set("config_dir") {
                answers.sandbox.config_dir = mac.config_dir;
            }
            answers.check().map_err(|m| AnswersError::Field { origin, field: m.field(), message: m.message })?;
        }
        Ok(answers)
    }

    /// Parses and checks answers text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Answers, AnswersError> {
        let de = toml::Deserializer::parse(text)
            .map_err(|e| AnswersError::Syntax { origin: origin.to_owned(), message: cut_long_words(&e.to_string()) })?;
        let answers: Answers = serde_path_to_error::deserialize(de).map_err(|e| {
            let field = cut_long_words(&e.path().to_string());
            let inner = e.into_inner();
            let message = cut_long_words(inner.message());
            let message = match inner.span() {
                Some(span) => format!("{message} (line {})", line_of(text, span.start)),
                None => message,
            };
            if field == "." || field.is_empty() {
                AnswersError::Syntax { origin: origin.to_owned(), message: explain_top(&message) }
            } else {
                AnswersError::Field { origin: origin.to_owned(), field, message }
            }
        })?;
        answers.check().map_err(|m| AnswersError::Field {
            origin: origin.to_owned(),
            field: m.field(),
            message: m.message,
        })?;
        Ok(answers)
    }

    /// The checks that span several values: the first problem, with its field.
    pub fn check(&self) -> Result<(), Mismatch> {
        if self.version != VERSION {
            return Err(Mismatch::new(
                "version",
                format!("{} is not a version this clawguard reads: write `version = {VERSION}`", self.version),
            ));
        }
        check_hosts(&self.egress.allowed_hosts)?;
        self.check_mounts()?;
        if let Some(dup) = first_duplicate(&self.ssh.allowed_users) {
            return Err(Mismatch::new("ssh.allowed_users", format!("`{dup}` is listed twice: keep one")));
        }
        if let Some(dup) = first_duplicate(&self.credentials.services) {
            return Err(Mismatch::new("credentials.services", format!("`{dup}` is listed twice: keep one")));
        }
        if let Some((i, own)) = self.credentials.services.iter().enumerate().find(|(_, s)| s.is_clawguards()) {
            return Err(Mismatch::item(
                "credentials.services",
                i,
                format!(
                    "`{own}` is one of clawguard's own keys ({}…: its alerts, its backups), never the agent's: remove it from the list, and keep the agent's key under a name of its own (such as `{}`)",
                    types::OWN_KEY_PREFIX,
                    own.as_str().trim_start_matches(types::OWN_KEY_PREFIX)
                ),
            ));
        }
        for (i, p) in self.firewall.extra_ports.iter().enumerate() {
            if *p == self.ssh.port {
                return Err(Mismatch::item(
                    "firewall.extra_ports",
                    i,
                    format!("{p} is the SSH port, which is always open: remove it from extra_ports"),
                ));
            }
        }
        if let Some(dup) = first_duplicate(&self.firewall.extra_ports) {
            return Err(Mismatch::new("firewall.extra_ports", format!("{dup} is listed twice: keep one")));
        }
        if self.sandbox.profile == Profile::Openclaw && !self.sandbox.command.is_empty() {
            return Err(Mismatch::new(
                "sandbox.command",
                "the openclaw profile runs OpenClaw's own gateway command: remove `command`, or set `profile = \"generic\"`",
            ));
        }
        if self.sandbox.memory < ByteSize::mib(256) {
            return Err(Mismatch::new(
                "sandbox.memory",
                format!(
                    "{} is too little for an agent: give at least 256M (OpenClaw needs about 1G to start; 2G is the default)",
                    self.sandbox.memory
                ),
            ));
        }
        if self.sandbox.tmpfs_size >= self.sandbox.memory {
            return Err(Mismatch::new(
                "sandbox.tmpfs_size",
                format!(
                    "{} is not smaller than the memory limit {}: /tmp lives in memory; give a smaller size such as 100M",
                    self.sandbox.tmpfs_size, self.sandbox.memory
                ),
            ));
        }
        if self.monitoring.alert_format == AlertFormat::Telegram && self.monitoring.telegram_chat.is_none() {
            return Err(Mismatch::new(
                "monitoring.telegram_chat",
                "alerts to Telegram need the chat to post to: set `telegram_chat` to its id, such as -1001234567890 (the bot's token goes in the vault: `clawguard secrets set clawguard-telegram`)",
            ));
        }
        if let Some(dest) = &self.backup.destination
            && dest.is_this_machine(&[])
            && !self.backup.allow_same_machine
        {
            return Err(Mismatch::new(
                "backup.destination",
                format!(
                    "`{dest}` is on this same machine: a backup there is lost with the server and can be deleted by whoever takes it over. Give an off-server repository such as `sftp:backup@backup.example.net:/srv/restic/myhost`, or set `allow_same_machine = true` if you really mean it"
                ),
            ));
        }
        Ok(())
    }

    /// The answers as TOML, ready to save.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("answers always serialize")
    }
}

/// `text` (an answers file) with `names` added to `credentials.services`, everything else
/// — the user's comments, order and spacing — left as it was. The result is parsed again
/// as answers (`origin` names the file in an error), so an edit never saves answers that
/// do not load.
pub fn add_services(text: &str, names: &[Ident], origin: &str) -> Result<String, AnswersError> {
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| AnswersError::Syntax {
        origin: origin.to_owned(),
        message: e.to_string(),
    })?;
    let credentials = doc.entry("credentials").or_insert_with(toml_edit::table);
    let Some(credentials) = credentials.as_table_like_mut() else {
        return Err(AnswersError::Syntax { origin: origin.to_owned(), message: "`credentials` is not a table".into() });
    };
    let services = credentials.entry("services").or_insert(toml_edit::value(toml_edit::Array::new()));
    let Some(list) = services.as_array_mut() else {
        return Err(AnswersError::Syntax {
            origin: origin.to_owned(),
            message: "`credentials.services` is not a list".into(),
        });
    };
    for n in names {
        if !list.iter().any(|v| v.as_str() == Some(n.as_str())) {
            list.push(n.as_str());
        }
    }
    let edited = doc.to_string();
    Answers::parse(&edited, origin)?;
    Ok(edited)
}

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
    fn new(key: &'static str, message: impl Into<String>) -> Mismatch {
        Mismatch { key, item: None, message: message.into() }
    }
    fn item(key: &'static str, item: usize, message: impl Into<String>) -> Mismatch {
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
    fn check_mounts(&self) -> Result<(), Mismatch> {
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
fn check_hosts(hosts: &[DomainPattern]) -> Result<(), Mismatch> {
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

/// An error quotes what it refuses, but not a megabyte of it: every run of more than 60
/// characters without a space is cut to its first 60 and its length.
fn cut_long_words(text: &str) -> String {
    const MAX: usize = 60;
    let mut out = String::with_capacity(text.len().min(4096));
    let mut word = String::new();
    let flush = |word: &mut String, out: &mut String| {
        let n = word.chars().count();
        if n > MAX {
            out.extend(word.chars().take(MAX));
            out.push_str(&format!("… ({n} characters)"));
        } else {
            out.push_str(word);
        }
        word.clear();
    };
    for c in text.chars() {
        if c.is_whitespace() {
            flush(&mut word, &mut out);
            out.push(c);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut out);
    out
}

fn first_duplicate<T: PartialEq>(items: &[T]) -> Option<&T> {
    items.iter().enumerate().find(|(i, a)| items[..*i].contains(a)).map(|(_, a)| a)
}

fn line_of(text: &str, byte: usize) -> usize {
    text[..byte.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Makes serde's top-level messages (unknown section, missing version) say what to do.
fn explain_top(message: &str) -> String {
    if message.contains("missing field `version`") {
        format!("{message}: add `version = {VERSION}` at the top of the file")
    } else if message.contains("unknown field") {
        format!(
            "{message}: check the spelling; the sections are listed in the example answers file (`clawguard example` prints it)"
        )
    } else {
        message.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answers_file_read_for_a_mac_leaves_the_agents_data_where_a_mac_can_make_it() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("answers.toml");
        std::fs::write(&file, "version = 1\n[sandbox]\nworkspace = \"/Users/alice/agent-work\"\n").unwrap();
        let mac = Answers::load_for(&file, crate::target::Kind::MacOs).unwrap();
        assert_eq!(mac.sandbox.state_dir.as_str(), "/opt/openclaw/state");
        assert_eq!(mac.sandbox.config_dir.as_str(), "/opt/openclaw/config");
        assert_eq!(mac.sandbox.workspace.as_str(), "/Users/alice/agent-work", "what the file says stays");
        let linux = Answers::load_for(&file, crate::target::Kind::Linux).unwrap();
        assert_eq!(linux.sandbox.state_dir, Answers::default().sandbox.state_dir);
    }

    #[test]
    fn the_example_file_is_the_defaults() {
        let parsed = Answers::parse(EXAMPLE, "example").unwrap();
        assert_eq!(parsed, Answers::default());
    }

    #[test]
    fn the_defaults_round_trip_through_toml() {
        let a = Answers::default();
        assert_eq!(Answers::parse(&a.to_toml(), "saved").unwrap(), a);
    }

    #[test]
    fn a_minimal_file_takes_the_seed_defaults() {
        let a = Answers::parse("version = 1\n", "t").unwrap();
        assert_eq!(a.ssh.port.get(), 2222);
        assert_eq!(a.ssh.max_auth_tries.get(), 3);
        assert_eq!(a.fail2ban.bantime.get(), 3600);
        assert_eq!(a.egress.allowed_hosts.len(), 5);
        assert_eq!(a.backup.schedule.to_string(), "03:00");
    }

    fn field_err(text: &str) -> (String, String) {
        match Answers::parse(text, "t") {
            Err(AnswersError::Field { field, message, .. }) => (field, message),
            other => panic!("expected a field error, got {other:?}"),
        }
    }

    #[test]
    fn errors_name_the_field_and_the_value() {
        let (f, m) = field_err("version = 1\n[ssh]\nport = 0\n");
        assert_eq!(f, "ssh.port");
        assert!(m.contains("from 1 to 65535") && m.contains("line 3"), "{m}");
        let (f, m) = field_err("version = 1\n[ssh]\nallowed_users = [\"ok\", \"bad user\"]\n");
        assert_eq!(f, "ssh.allowed_users[1]");
        assert!(m.contains("\"bad user\""), "{m}");
        let (f, m) = field_err("version = 1\n[ssh]\nprot = 22\n");
        assert_eq!(f, "ssh.prot");
        assert!(m.contains("unknown field"), "{m}");
    }

    #[test]
    fn overlapping_hosts_are_refused() {
        let (f, m) = field_err("version = 1\n[egress]\nallowed_hosts = [\".example.com\", \"sub.example.com\"]\n");
        assert_eq!(f, "egress.allowed_hosts[1]");
        assert!(m.contains("covered by `.example.com`"), "{m}");
    }

    #[test]
    fn a_backup_on_this_machine_needs_the_flag() {
        let (f, m) = field_err("version = 1\n[backup]\ndestination = \"/srv/backup\"\n");
        assert_eq!(f, "backup.destination");
        assert!(m.contains("allow_same_machine"), "{m}");
        let ok =
            Answers::parse("version = 1\n[backup]\ndestination = \"/srv/backup\"\nallow_same_machine = true\n", "t");
        assert!(ok.is_ok());
    }

    #[test]
    fn version_is_required_and_checked() {
        assert!(
            matches!(Answers::parse("[ssh]\nport = 22\n", "t"), Err(AnswersError::Syntax { message, .. }) if message.contains("version = 1"))
        );
        let (f, _) = field_err("version = 7\n");
        assert_eq!(f, "version");
    }
}
