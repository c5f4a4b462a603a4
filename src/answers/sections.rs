//! One section per layer of the answers file, with its defaults.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::DEFAULT_CONFIG_DIR;
use super::backup_target::BackupTarget;
use super::image::ImageRef;
use super::net::{DomainPattern, IpNet, StaticHost, TlsEndpoint, WebhookUrl};
use super::types::{
    AbsPath, Arg, ByteSize, Capability, Count, Cpus, ExcludePattern, Ident, Invalid, Port, TimeOfDay, UnixUser,
};

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

/// What runs the agent's container: the engine's default (runc: the host's kernel answers
/// the agent's system calls), or gVisor (runsc: a kernel of its own, in user space, answers
/// them, so a kernel bug the agent can reach is gVisor's, not the host's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Runtime {
    Runc,
    Runsc,
}

impl fmt::Display for Runtime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Runtime::Runc => "runc",
            Runtime::Runsc => "runsc",
        })
    }
}

/// OpenClaw's official image at the version clawguard was tested with (OpenClaw's
/// docs/install/docker.md: `ghcr.io/openclaw/openclaw:<version>`).
pub const OPENCLAW_IMAGE: &str = "ghcr.io/openclaw/openclaw:2026.9.6";

/// The proxy's image by default: built on the host from Debian 12's `squid-openssl` (the
/// squid that can peek at a tunnel's TLS name; Debian's and Ubuntu's plain `squid`, and so
/// `ubuntu/squid`, are built with GnuTLS and cannot). Its tag is `local`: no registry has it.
pub const PROXY_IMAGE: &str = "clawguard/squid-openssl:local";

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
    /// What runs the agent's container: `runc` (the engine's default) or `runsc` (gVisor).
    pub runtime: Runtime,
}

/// Where the agent's data goes on a Mac by default: /srv cannot be made there (the system
/// volume is read-only), /opt can (it is one of the data volume's firmlinks).
pub const MAC_DATA_DIR: &str = "/opt/openclaw";

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
            runtime: Runtime::Runc,
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
    /// The squid image of the proxy sidecar: [`PROXY_IMAGE`] (built here) or one whose
    /// squid is built with OpenSSL.
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
            proxy_image: PROXY_IMAGE.parse().expect("default image"),
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
