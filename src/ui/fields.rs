//! The questions, one form per layer, each bound to the answers and checked by the same
//! types as the answers file. Shared by the full-screen wizard and `--plain`.

use crate::answers::{Answers, Invalid, Layer, LogLevel, Profile, Rotation};

/// Stores a whole list, or names the item that is wrong.
pub type SetList = fn(&mut Answers, &[String]) -> Result<(), (usize, Invalid)>;
/// Reads and writes a yes/no answer.
type BoolAccess = (fn(&Answers) -> bool, fn(&mut Answers, bool));

/// How a question is answered.
pub enum Kind {
    /// One value typed as text; `set` parses it with the answer's own type.
    Text { get: fn(&Answers) -> String, set: fn(&mut Answers, &str) -> Result<(), Invalid> },
    /// Yes or no.
    Bool { get: fn(&Answers) -> bool, set: fn(&mut Answers, bool) },
    /// A list of values; `item` checks one, `set` stores them all (or names the bad one).
    List { get: fn(&Answers) -> Vec<String>, item: fn(&str) -> Result<(), Invalid>, set: SetList },
    /// One of a few words.
    Choice { options: &'static [&'static str], get: fn(&Answers) -> String, set: fn(&mut Answers, &str) },
    /// The keys of the listed services, typed masked and never shown again; they go to the
    /// vault on apply, never into the answers.
    Keys { services: fn(&Answers) -> Vec<String> },
    /// The hosts the agent's proxy refused since the last decision about each
    /// (`crate::egress`): one allowed joins the list field `into` of the same form; one
    /// dismissed leaves the list and stays refused.
    Refused { into: &'static str },
}

pub struct Field {
    /// The answers-file path (`ssh.port`), which is also how errors find their field.
    pub key: &'static str,
    pub label: &'static str,
    /// What the setting does and why, in one paragraph.
    pub help: &'static str,
    pub kind: Kind,
}

pub struct Form {
    pub layer: Layer,
    /// What this layer protects against, shown at the top of its screen.
    pub intro: &'static str,
    pub fields: Vec<Field>,
}

macro_rules! text {
    ($key:literal, $label:literal, $help:literal, $($path:ident).+) => {
        Field {
            key: $key,
            label: $label,
            help: $help,
            kind: Kind::Text {
                get: |a| a.$($path).+.to_string(),
                set: |a, v| {
                    a.$($path).+ = v.trim().parse()?;
                    Ok(())
                },
            },
        }
    };
}

macro_rules! optional {
    ($key:literal, $label:literal, $help:literal, $($path:ident).+) => {
        Field {
            key: $key,
            label: $label,
            help: $help,
            kind: Kind::Text {
                get: |a| a.$($path).+.as_ref().map(|v| v.to_string()).unwrap_or_default(),
                set: |a, v| {
                    a.$($path).+ = if v.trim().is_empty() { None } else { Some(v.trim().parse()?) };
                    Ok(())
                },
            },
        }
    };
}

macro_rules! flag {
    ($key:literal, $label:literal, $help:literal, $($path:ident).+) => {
        Field { key: $key, label: $label, help: $help, kind: Kind::Bool { get: |a| a.$($path).+, set: |a, v| a.$($path).+ = v } }
    };
}

macro_rules! list {
    ($key:literal, $label:literal, $help:literal, $ty:ty, $($path:ident).+) => {
        Field {
            key: $key,
            label: $label,
            help: $help,
            kind: Kind::List {
                get: |a| a.$($path).+.iter().map(|v| v.to_string()).collect(),
                item: |s| s.trim().parse::<$ty>().map(|_| ()),
                set: |a, items| {
                    let mut out = Vec::with_capacity(items.len());
                    for (i, s) in items.iter().enumerate() {
                        out.push(s.trim().parse::<$ty>().map_err(|e| (i, e))?);
                    }
                    a.$($path).+ = out;
                    Ok(())
                },
            },
        }
    };
}

/// The "set up this layer" switch at the top of every form.
fn enabled(layer: Layer) -> Field {
    let (get, set): BoolAccess = match layer {
        Layer::Sandbox => (|a| !a.skip.contains(&Layer::Sandbox), |a, v| toggle(a, Layer::Sandbox, v)),
        Layer::Credentials => (|a| !a.skip.contains(&Layer::Credentials), |a, v| toggle(a, Layer::Credentials, v)),
        Layer::Ssh => (|a| !a.skip.contains(&Layer::Ssh), |a, v| toggle(a, Layer::Ssh, v)),
        Layer::Firewall => (|a| !a.skip.contains(&Layer::Firewall), |a, v| toggle(a, Layer::Firewall, v)),
        Layer::Egress => (|a| !a.skip.contains(&Layer::Egress), |a, v| toggle(a, Layer::Egress, v)),
        Layer::Monitoring => (|a| !a.skip.contains(&Layer::Monitoring), |a, v| toggle(a, Layer::Monitoring, v)),
        Layer::Backup => (|a| !a.skip.contains(&Layer::Backup), |a, v| toggle(a, Layer::Backup, v)),
    };
    Field {
        key: "skip",
        label: "Set up this layer",
        help: "Uncheck to skip this layer: clawguard then leaves it as it is, and the review says what stays unprotected.",
        kind: Kind::Bool { get, set },
    }
}

fn toggle(a: &mut Answers, layer: Layer, on: bool) {
    a.skip.retain(|l| *l != layer);
    if !on {
        a.skip.push(layer);
        a.skip.sort();
    }
}

/// The seven forms, in the order of the wizard.
pub fn forms() -> Vec<Form> {
    vec![
        Form {
            layer: Layer::Sandbox,
            intro: "The agent runs in a container: not root, a read-only filesystem, no capabilities, limits on CPU, memory and processes, and a network with no way out but the proxy.",
            fields: vec![
                enabled(Layer::Sandbox),
                Field {
                    key: "sandbox.profile",
                    label: "Agent",
                    help: "openclaw uses OpenClaw's image, state directory and gateway port; generic runs any image with any command.",
                    kind: Kind::Choice {
                        options: &["openclaw", "generic"],
                        get: |a| a.sandbox.profile.to_string(),
                        set: |a, v| {
                            a.sandbox.profile = if v == "generic" { Profile::Generic } else { Profile::Openclaw }
                        },
                    },
                },
                text!(
                    "sandbox.image",
                    "Image",
                    "The container image. The default is OpenClaw's official image at a tested version: clawguard asks its registry for the digest, pins the compose file to it and pulls it at apply. `openclaw:local` is one you build on this machine (2 GB of memory).",
                    sandbox.image
                ),
                list!(
                    "sandbox.command",
                    "Command (generic)",
                    "The command and its arguments for the generic profile, one argument per item; empty keeps the image's own command.",
                    crate::answers::Arg,
                    sandbox.command
                ),
                text!(
                    "sandbox.uid",
                    "User id",
                    "The agent never runs as root: a process that escapes the container as root owns the host. OpenClaw's image runs as node, uid 1000.",
                    sandbox.uid
                ),
                text!("sandbox.gid", "Group id", "The agent's group id inside the container.", sandbox.gid),
                text!(
                    "sandbox.state_dir",
                    "State directory",
                    "Read-write: the agent's databases and sessions. It must belong to the agent's uid.",
                    sandbox.state_dir
                ),
                text!(
                    "sandbox.workspace",
                    "Workspace",
                    "Read-write: the files the agent works on. Everything else in the container is read-only.",
                    sandbox.workspace
                ),
                text!(
                    "sandbox.config_dir",
                    "Config directory",
                    "Read-only: the agent's configuration, so a hijacked agent cannot change its own rules.",
                    sandbox.config_dir
                ),
                text!(
                    "sandbox.cpus",
                    "CPUs",
                    "A cap on CPU, so a runaway agent cannot starve SSH and the rest of the host.",
                    sandbox.cpus
                ),
                text!(
                    "sandbox.memory",
                    "Memory",
                    "A hard memory cap (e.g. 2G). Node's heap is set below it so the agent is not killed at start.",
                    sandbox.memory
                ),
                text!(
                    "sandbox.pids",
                    "Processes",
                    "A cap on processes: a fork bomb stops at this number.",
                    sandbox.pids
                ),
                flag!(
                    "sandbox.require_limits",
                    "Require the limits",
                    "Start the agent only where the engine enforces these limits. Off: also where it cannot (a VPS that is itself a container), without a CPU limit.",
                    sandbox.require_limits
                ),
                text!(
                    "sandbox.tmpfs_size",
                    "/tmp size",
                    "/tmp lives in memory, mounted noexec: nothing downloaded there can be run.",
                    sandbox.tmpfs_size
                ),
                text!(
                    "sandbox.gateway_port",
                    "Gateway port",
                    "The agent's own port inside the container (OpenClaw's gateway: 18789).",
                    sandbox.gateway_port
                ),
                list!(
                    "sandbox.cap_add",
                    "Capabilities back",
                    "Capabilities given back after dropping all of them; usually none. NET_BIND_SERVICE lets the agent listen on a port below 1024.",
                    crate::answers::Capability,
                    sandbox.cap_add
                ),
                flag!(
                    "sandbox.publish_gateway",
                    "Reach the gateway locally",
                    "Publish the gateway on 127.0.0.1 only, for an SSH tunnel or a local reverse proxy. It is never published on other addresses.",
                    sandbox.publish_gateway
                ),
                text!(
                    "sandbox.gateway_image",
                    "Forwarder image",
                    "The small socat container that publishes the gateway on 127.0.0.1 (the agent's own network has no way in or out).",
                    sandbox.gateway_image
                ),
                Field {
                    key: "sandbox.runtime",
                    label: "Runtime",
                    help: "runc: the engine's default; the host's kernel answers the agent. runsc: gVisor (Debian's runsc) puts a kernel of its own in between, so a kernel bug the agent can reach is not the host's; it costs start time and some speed (the review says how much). Linux only.",
                    kind: Kind::Choice {
                        options: &["runc", "runsc"],
                        get: |a| a.sandbox.runtime.to_string(),
                        set: |a, v| {
                            a.sandbox.runtime = if v == "runsc" {
                                crate::answers::Runtime::Runsc
                            } else {
                                crate::answers::Runtime::Runc
                            }
                        },
                    },
                },
            ],
        },
        Form {
            layer: Layer::Credentials,
            intro: "API keys live encrypted in the vault and reach the agent as files, never as environment variables (those leak through docker inspect, /proc and logs).",
            fields: vec![
                enabled(Layer::Credentials),
                list!(
                    "credentials.services",
                    "Services with keys",
                    "The names of the services whose keys the agent gets (openai, anthropic, gmail, slack…). Only the names are saved here, never the keys.",
                    crate::answers::Ident,
                    credentials.services
                ),
                Field {
                    key: "credentials.keys",
                    label: "Keys",
                    help: "Type a service's key (it is masked and never shown again) and press Enter. Keys are stored encrypted in the vault when you apply — never in the answers file, never in a dry run.",
                    kind: Kind::Keys { services: |a| a.credentials.services.iter().map(|s| s.to_string()).collect() },
                },
                text!(
                    "credentials.rotate_days",
                    "Rotate after (days)",
                    "The daily check reminds you to rotate a key older than this. 90 days limits how long a leaked key is useful.",
                    credentials.rotate_days
                ),
            ],
        },
        Form {
            layer: Layer::Ssh,
            intro: "Keys only, no root, few tries, modern ciphers — and a port change that keeps the old port open until you have logged in on the new one.",
            fields: vec![
                enabled(Layer::Ssh),
                text!(
                    "ssh.port",
                    "SSH port",
                    "Moving SSH off port 22 cuts most automated scanning and log noise. It is not a defence on its own; keys and fail2ban are.",
                    ssh.port
                ),
                list!(
                    "ssh.allowed_users",
                    "Allowed users",
                    "Only these users may log in over SSH. Empty: the users that already have a key. Root logins are always refused.",
                    crate::answers::UnixUser,
                    ssh.allowed_users
                ),
                text!(
                    "ssh.max_auth_tries",
                    "Max auth tries",
                    "Attempts per connection. 3 slows guessing; your SSH agent's keys count too, so use -o IdentitiesOnly=yes.",
                    ssh.max_auth_tries
                ),
                text!(
                    "ssh.client_alive_interval",
                    "Keep-alive (s)",
                    "Seconds between keep-alive checks; with the count below, dead sessions close instead of lingering.",
                    ssh.client_alive_interval
                ),
                text!(
                    "ssh.client_alive_count_max",
                    "Keep-alive count",
                    "Missed keep-alives before a session is closed (300 s x 2 = 10 minutes).",
                    ssh.client_alive_count_max
                ),
                flag!(
                    "ssh.gateway_tunnel",
                    "Gateway tunnel",
                    "Allow `ssh -L` tunnels to the agent's gateway on 127.0.0.1, and to nothing else. Off: no SSH forwarding at all.",
                    ssh.gateway_tunnel
                ),
                flag!(
                    "ssh.classic_kex",
                    "Old SSH clients",
                    "Also offer curve25519 key exchange, for clients without post-quantum key exchange (OpenSSH < 8.5, PuTTY < 0.78, paramiko). Off: post-quantum only.",
                    ssh.classic_kex
                ),
            ],
        },
        Form {
            layer: Layer::Firewall,
            intro: "ufw refuses every incoming connection but SSH and the ports you list; fail2ban bans addresses that keep failing to log in.",
            fields: vec![
                enabled(Layer::Firewall),
                list!(
                    "firewall.extra_ports",
                    "Extra open ports",
                    "Ports open to the world besides SSH, e.g. 443 for a reverse proxy. Each one is a way in: list only what must be public.",
                    crate::answers::Port,
                    firewall.extra_ports
                ),
                flag!(
                    "firewall.limit_ssh",
                    "Rate-limit SSH",
                    "ufw's limit: more than 6 new connections in 30 s from one address are refused, which slows brute force.",
                    firewall.limit_ssh
                ),
                text!(
                    "fail2ban.maxretry",
                    "Ban after failures",
                    "Failed logins within the window below that get an address banned.",
                    fail2ban.maxretry
                ),
                text!(
                    "fail2ban.findtime",
                    "Window (s)",
                    "The window in which the failures are counted.",
                    fail2ban.findtime
                ),
                text!(
                    "fail2ban.bantime",
                    "Ban time (s)",
                    "How long the first ban lasts (3600 = an hour).",
                    fail2ban.bantime
                ),
                flag!(
                    "fail2ban.incremental",
                    "Longer bans for repeat offenders",
                    "Each new ban of the same address lasts twice as long, up to a week.",
                    fail2ban.incremental
                ),
                list!(
                    "fail2ban.ignoreip",
                    "Never ban",
                    "Addresses or networks that are never banned, such as your office. The address you apply from is added for you.",
                    crate::answers::IpNet,
                    fail2ban.ignoreip
                ),
            ],
        },
        Form {
            layer: Layer::Egress,
            intro: "The agent can reach only these hosts, through a proxy: a hijacked agent cannot send your data anywhere else.",
            fields: vec![
                enabled(Layer::Egress),
                list!(
                    "egress.allowed_hosts",
                    "Allowed hosts",
                    "Host names the agent may reach (its model's API, mail, chat). `.example.com` allows a domain and all its subdomains. Names only: no URLs, no IP addresses.",
                    crate::answers::DomainPattern,
                    egress.allowed_hosts
                ),
                Field {
                    key: "egress.refused",
                    label: "Refused hosts",
                    help: "Hosts the agent's proxy refused since the last decision about each, from its access log. a allows the selected one (it joins Allowed hosts, applied with the rest); d dismisses it (it stays refused, and is listed again if it is refused again). Nothing is let out until you allow it.",
                    kind: Kind::Refused { into: "egress.allowed_hosts" },
                },
                text!(
                    "egress.proxy_port",
                    "Proxy port",
                    "The proxy's port on the agent's internal network.",
                    egress.proxy_port
                ),
                text!(
                    "egress.proxy_image",
                    "Proxy image",
                    "The squid image of the proxy next to the agent. Its squid must be built with OpenSSL (to check the TLS name inside a tunnel): the default is built on this host from Debian's squid-openssl.",
                    egress.proxy_image
                ),
                list!(
                    "egress.static_hosts",
                    "Fixed addresses",
                    "Names the proxy resolves without DNS, as name=address (an internal service, or a host pinned to a known address).",
                    crate::answers::StaticHost,
                    egress.static_hosts
                ),
            ],
        },
        Form {
            layer: Layer::Monitoring,
            intro: "Logs that are kept but do not fill the disk, and a daily check that tells you when something changed.",
            fields: vec![
                enabled(Layer::Monitoring),
                Field {
                    key: "monitoring.log_level",
                    label: "Log level",
                    help: "How much the agent logs. info is enough to see what it did; debug may log message contents.",
                    kind: Kind::Choice {
                        options: &["error", "warn", "info", "debug", "trace"],
                        get: |a| a.monitoring.log_level.to_string(),
                        set: |a, v| {
                            a.monitoring.log_level = match v {
                                "error" => LogLevel::Error,
                                "warn" => LogLevel::Warn,
                                "debug" => LogLevel::Debug,
                                "trace" => LogLevel::Trace,
                                _ => LogLevel::Info,
                            }
                        },
                    },
                },
                text!(
                    "monitoring.log_dir",
                    "Log directory",
                    "Where the agent's logs are kept on the host.",
                    monitoring.log_dir
                ),
                Field {
                    key: "monitoring.rotation",
                    label: "Rotate logs",
                    help: "How often logs are rotated and compressed.",
                    kind: Kind::Choice {
                        options: &["daily", "weekly", "monthly"],
                        get: |a| a.monitoring.rotation.to_string(),
                        set: |a, v| {
                            a.monitoring.rotation = match v {
                                "weekly" => Rotation::Weekly,
                                "monthly" => Rotation::Monthly,
                                _ => Rotation::Daily,
                            }
                        },
                    },
                },
                text!(
                    "monitoring.retain_days",
                    "Keep logs (days)",
                    "Older logs are deleted: enough to investigate an incident, not enough to fill the disk.",
                    monitoring.retain_days
                ),
                list!(
                    "monitoring.categories",
                    "Log categories",
                    "What the agent logs (its own category names).",
                    crate::answers::Ident,
                    monitoring.categories
                ),
                optional!(
                    "monitoring.alert_webhook",
                    "Alert webhook",
                    "An https:// URL (Slack, Discord, ntfy…) the daily check posts its findings to. Empty: findings only in the journal.",
                    monitoring.alert_webhook
                ),
                Field {
                    key: "monitoring.alert_format",
                    label: "Alert format",
                    help: "How the webhook is posted to: slack (also Mattermost and others: {\"text\"}), discord, ntfy, json (the findings as data), or telegram (webhook https://api.telegram.org, the chat below, the bot token in the vault: clawguard secrets set clawguard-telegram).",
                    kind: Kind::Choice {
                        options: &crate::answers::AlertFormat::ALL,
                        get: |a| a.monitoring.alert_format.to_string(),
                        set: |a, v| a.monitoring.alert_format = v.parse().unwrap_or(a.monitoring.alert_format),
                    },
                },
                Field {
                    key: "monitoring.telegram_chat",
                    label: "Telegram chat",
                    help: "For Telegram alerts: the id of the chat the bot posts to, such as -1001234567890. Empty for the other formats.",
                    kind: Kind::Text {
                        get: |a| a.monitoring.telegram_chat.map(|c| c.to_string()).unwrap_or_default(),
                        set: |a, v| {
                            a.monitoring.telegram_chat = match v.trim() {
                                "" => None,
                                t => Some(t.parse().map_err(|_| {
                                    crate::answers::Invalid(
                                        "not a chat id: type its number, such as -1001234567890".into(),
                                    )
                                })?),
                            };
                            Ok(())
                        },
                    },
                },
                flag!(
                    "monitoring.alert_still_alive",
                    "Weekly alive alert",
                    "Send a short \"still alive\" alert when a week passed without one: a check that never speaks could also be one that no longer runs.",
                    monitoring.alert_still_alive
                ),
                list!(
                    "monitoring.certificates",
                    "Certificates",
                    "TLS services whose certificates the daily check watches (expiry, chain, name), as host:port such as mail.example.com:993, or a host alone for 443.",
                    crate::answers::TlsEndpoint,
                    monitoring.certificates
                ),
                text!(
                    "monitoring.certificate_days",
                    "Warn days before",
                    "A watched certificate expiring within this many days is reported.",
                    monitoring.certificate_days
                ),
                text!(
                    "monitoring.check_time",
                    "Daily check at",
                    "When the daily security check runs (HH:MM).",
                    monitoring.check_time
                ),
            ],
        },
        Form {
            layer: Layer::Backup,
            intro: "Backups off this server, and a recovery playbook written for this host — for the day it is lost or taken over.",
            fields: vec![
                enabled(Layer::Backup),
                optional!(
                    "backup.destination",
                    "Destination",
                    "A restic repository on another machine: sftp:user@host:/path, rest:https://host:8000/repo or s3:https://…/bucket. A backup on this same machine dies with it.",
                    backup.destination
                ),
                flag!(
                    "backup.allow_same_machine",
                    "Allow this machine",
                    "Accept a destination on this same machine. It protects against mistakes, not against losing the server.",
                    backup.allow_same_machine
                ),
                text!("backup.schedule", "Back up at", "When the daily backup runs (HH:MM).", backup.schedule),
                text!("backup.keep_daily", "Keep daily", "Daily snapshots to keep.", backup.keep_daily),
                text!("backup.keep_weekly", "Keep weekly", "Weekly snapshots to keep.", backup.keep_weekly),
                text!("backup.keep_monthly", "Keep monthly", "Monthly snapshots to keep.", backup.keep_monthly),
            ],
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_round_trips_the_defaults() {
        let defaults = Answers::default();
        for form in forms() {
            for f in &form.fields {
                let mut a = defaults.clone();
                match &f.kind {
                    Kind::Text { get, set } => {
                        set(&mut a, &get(&defaults)).unwrap_or_else(|e| panic!("{}: {e}", f.key))
                    }
                    Kind::Bool { get, set } => set(&mut a, get(&defaults)),
                    Kind::List { get, set, .. } => {
                        set(&mut a, &get(&defaults)).unwrap_or_else(|e| panic!("{}: {:?}", f.key, e))
                    }
                    Kind::Choice { get, set, options } => {
                        assert!(options.contains(&get(&defaults).as_str()), "{}", f.key);
                        set(&mut a, &get(&defaults))
                    }
                    Kind::Keys { services } => {
                        assert_eq!(services(&defaults).len(), defaults.credentials.services.len())
                    }
                    // Allowing goes into the list field it names, in the same form.
                    Kind::Refused { into } => assert!(
                        form.fields.iter().any(|g| g.key == *into && matches!(g.kind, Kind::List { .. })),
                        "{} names no list field {into}",
                        f.key
                    ),
                }
                assert_eq!(a, defaults, "{} changed the answers", f.key);
            }
        }
    }

    #[test]
    fn fields_refuse_what_the_answers_file_refuses() {
        let forms = forms();
        let port = forms[2].fields.iter().find(|f| f.key == "ssh.port").unwrap();
        let Kind::Text { set, .. } = &port.kind else { panic!() };
        let mut a = Answers::default();
        assert!(set(&mut a, "22a").unwrap_err().0.contains("not a whole number"));
        assert!(set(&mut a, "2200").is_ok());
        assert_eq!(a.ssh.port.get(), 2200);
    }

    #[test]
    fn every_answer_section_has_its_form() {
        let forms = forms();
        assert_eq!(forms.iter().map(|f| f.layer).collect::<Vec<_>>(), Layer::ALL.to_vec());
    }
}
