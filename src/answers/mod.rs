//! The user's choices: one TOML file with a section per layer, every value a validating
//! type (see [`types`]), defaults from the seed, unknown keys refused.
//!
//! Owns loading, defaults and the checks that span several fields (overlapping hosts, a
//! backup on this same machine). Does not know about the host or about config files.

mod backup_target;
mod consistency;
mod image;
mod net;
mod sections;
pub mod types;

use std::fmt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use backup_target::*;
use consistency::check_hosts;
pub use consistency::{Mismatch, SECRET_PLACES, SYSTEM_PLACES, forbidden_mount};
pub use image::*;
pub use net::*;
pub use sections::*;
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
        Answers::parse_for(&text, &path.display().to_string(), platform)
    }

    /// Parses and checks answers text for a target of `platform` (whose defaults fill what
    /// the text leaves out); `origin` names it in errors.
    pub fn parse_for(text: &str, origin: &str, platform: crate::target::Kind) -> Result<Answers, AnswersError> {
        let origin = origin.to_owned();
        let mut answers = Answers::parse(text, &origin)?;
        if platform == crate::target::Kind::MacOs {
            let given: toml::Table = toml::from_str(text).unwrap_or_default();
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
    let names: Vec<&str> = names.iter().map(Ident::as_str).collect();
    add_to_list(text, ("credentials", "services"), &[], &names, origin)
}

/// `text` (an answers file) with `hosts` added to `egress.allowed_hosts`, comments and all
/// kept ([`add_services`]). When the file does not set the list, it starts from `current`
/// (the defaults it stood for), so allowing one host never drops the others.
pub fn allow_hosts(
    text: &str,
    current: &[DomainPattern],
    hosts: &[DomainPattern],
    origin: &str,
) -> Result<String, AnswersError> {
    let current: Vec<String> = current.iter().map(ToString::to_string).collect();
    let hosts: Vec<String> = hosts.iter().map(ToString::to_string).collect();
    let current: Vec<&str> = current.iter().map(String::as_str).collect();
    let hosts: Vec<&str> = hosts.iter().map(String::as_str).collect();
    add_to_list(text, ("egress", "allowed_hosts"), &current, &hosts, origin)
}

/// `text` with `new` added to the list `table.key` (made from `current` when the file has
/// none), everything else left as it was; parsed again before it is returned.
fn add_to_list(
    text: &str,
    (table, key): (&str, &str),
    current: &[&str],
    new: &[&str],
    origin: &str,
) -> Result<String, AnswersError> {
    let syntax = |message: String| AnswersError::Syntax { origin: origin.to_owned(), message };
    let mut doc: toml_edit::DocumentMut = text.parse().map_err(|e: toml_edit::TomlError| syntax(e.to_string()))?;
    let section = doc.entry(table).or_insert_with(toml_edit::table);
    let Some(section) = section.as_table_like_mut() else {
        return Err(syntax(format!("`{table}` is not a table")));
    };
    let list = section.entry(key).or_insert_with(|| {
        let mut a = toml_edit::Array::new();
        a.extend(current.iter().copied());
        toml_edit::value(a)
    });
    let Some(list) = list.as_array_mut() else {
        return Err(syntax(format!("`{table}.{key}` is not a list")));
    };
    for n in new {
        if !list.iter().any(|v| v.as_str() == Some(n)) {
            list.push(*n);
        }
    }
    let edited = doc.to_string();
    Answers::parse(&edited, origin)?;
    Ok(edited)
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
    fn allowing_a_host_keeps_the_files_comments_and_the_hosts_it_stood_for() {
        let host: DomainPattern = "api.mistral.ai".parse().unwrap();
        let text = "version = 1\n# my VPS\n[egress]\nproxy_port = 3128 # the default\n";
        let defaults = Answers::default().egress.allowed_hosts;
        let edited = allow_hosts(text, &defaults, std::slice::from_ref(&host), "t").unwrap();
        assert!(edited.contains("# my VPS") && edited.contains("proxy_port = 3128 # the default"), "{edited}");
        let a = Answers::parse(&edited, "t").unwrap();
        assert_eq!(a.egress.allowed_hosts.len(), defaults.len() + 1, "{edited}");
        assert!(a.egress.allowed_hosts.contains(&host));
        // A list the file sets is added to; a host already there is not doubled.
        let text = "version = 1\n[egress]\nallowed_hosts = [\"api.openai.com\"] # mine\n";
        let edited = allow_hosts(text, &defaults, &[host.clone(), host.clone()], "t").unwrap();
        assert_eq!(Answers::parse(&edited, "t").unwrap().egress.allowed_hosts.len(), 2, "{edited}");
        assert!(edited.contains("# mine"));
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
