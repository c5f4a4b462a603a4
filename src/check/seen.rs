//! What the check saw on its last run — the accounts that can log in, the SSH keys sshd
//! reads for each, the TCP ports something listens on, the SSH logins (`logins.rs`) — so
//! the next run names what is new: a user, a key, a listener, a container or a login
//! nobody planned is what a takeover leaves. The first run learns and says so; what is new is reported once
//! and then learned (a finding that persists is not news every day).

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::logins::{self, Source};
use super::{Finding, finding};
use crate::answers::Answers;
use crate::apply::Store;
use crate::host::Facts;
use crate::host::authorized_keys::KeyLine;
use crate::layers;
use crate::plan::Severity;
use crate::target::{Ran, Root, Runner};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// Accounts with a login shell, and their uid.
    pub users: BTreeMap<String, u32>,
    /// Per user, the keys sshd reads: fingerprint → comment.
    pub keys: BTreeMap<String, BTreeMap<String, String>>,
    /// Local addresses with a TCP listener (`0.0.0.0:22`, `[::]:2222`), as `ss` shows them.
    #[serde(default)]
    pub listening: BTreeSet<String>,
    /// Containers running outside the agent's compose project: name → image.
    #[serde(default)]
    pub containers: BTreeMap<String, String>,
    /// How far the proxy's access log was read, and which file that was.
    #[serde(default)]
    pub proxy_log: super::tail::Mark,
    /// The SSH logins seen, and how far the logs were read.
    #[serde(default)]
    pub logins: logins::Known,
}

/// The local addresses of `ss -Htln` output.
/// The same from `lsof -nP -iTCP -sTCP:LISTEN` (a Mac has no `ss`): the address before
/// `(LISTEN)` on each line (`*:2222`, `127.0.0.1:631`, `[::1]:631`).
pub fn listening_lsof(lsof: &str) -> BTreeSet<String> {
    lsof.lines()
        .filter(|l| l.trim_end().ends_with("(LISTEN)"))
        .filter_map(|l| l.split_whitespace().rev().nth(1))
        .map(str::to_owned)
        .collect()
}

pub fn listening(ss: &str) -> BTreeSet<String> {
    ss.lines().filter_map(|l| l.split_whitespace().nth(3)).map(str::to_owned).collect()
}

/// A container the engine runs: `docker ps --format` [`CONTAINERS_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Container {
    pub name: String,
    pub image: String,
    /// Its compose project, if any.
    pub project: String,
    /// Its compose service, if any.
    pub service: String,
    /// What it publishes, as `docker ps` says (`0.0.0.0:8080->80/tcp, …`).
    pub ports: String,
}

/// The `docker ps --format` the check asks for.
pub const CONTAINERS_FORMAT: &str = "{{.Names}}\t{{.Image}}\t{{.Label \"com.docker.compose.project\"}}\t{{.Label \"com.docker.compose.service\"}}\t{{.Ports}}";

/// The containers in `docker ps --format CONTAINERS_FORMAT` output (other lines ignored).
pub fn containers(ps: &str) -> Vec<Container> {
    let clean = |s: &str| s.chars().filter(|c| !c.is_control()).take(128).collect::<String>();
    ps.lines()
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, image, project, service) = (f.next()?, f.next()?, f.next()?, f.next()?);
            let ports = f.next().unwrap_or_default();
            (!name.is_empty()).then(|| Container {
                name: clean(name),
                image: clean(image),
                project: clean(project),
                service: clean(service),
                ports: clean(ports),
            })
        })
        .collect()
}

/// Whether `c` is one of the agent's containers as the plan makes them: its compose
/// project and one of its services. Anything else (a `miner` service slipped into the
/// project's label) is a container like any other: new, and checked for what it publishes.
fn made_by_the_plan(c: &Container, services: &[&str]) -> bool {
    c.project == crate::layers::sandbox::PROJECT && services.contains(&c.service.as_str())
}

/// The published ports of a `docker ps` Ports column that are reachable from outside
/// (Docker's own iptables rules put them in front of ufw).
fn published_outside(ports: &str) -> Vec<&str> {
    ports
        .split(", ")
        .filter(|p| p.contains("->") && !p.starts_with("127.") && !p.starts_with("[::1]") && !p.starts_with("::1"))
        .collect()
}

fn port_of(addr: &str) -> Option<u16> {
    addr.rsplit_once(':')?.1.parse().ok()
}

impl Seen {
    /// What the facts show; None when a user's keys cannot be read (not root).
    pub fn of(facts: &Facts) -> Option<Seen> {
        let mut seen = Seen::default();
        for a in facts.accounts.iter().filter(|a| a.login_shell) {
            seen.users.insert(a.name.clone(), a.uid);
        }
        for u in &facts.users {
            let keys = u.keys.as_ref()?;
            let keys: BTreeMap<String, String> = keys
                .iter()
                .filter_map(|k| match k {
                    KeyLine::Key(k) => Some((k.fingerprint.clone(), k.comment.clone())),
                    KeyLine::Invalid { .. } => None,
                })
                .collect();
            if !keys.is_empty() {
                seen.keys.insert(u.name.clone(), keys);
            }
        }
        Some(seen)
    }

    /// What `now` has that `self` did not; listeners on `planned` ports are expected.
    pub fn news(&self, now: &Seen, planned: &[u16]) -> Vec<Finding> {
        let mut out = Vec::new();
        for addr in now.listening.difference(&self.listening) {
            if port_of(addr).is_some_and(|p| planned.contains(&p)) {
                continue;
            }
            out.push(finding("host.listener-new", Severity::Warning, format!("Something new listens on TCP {addr} since the last check (`sudo ss -tlnp` names the program). If you did not start it, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.")));
        }
        for (name, image) in &now.containers {
            if self.containers.get(name) == Some(image) {
                continue;
            }
            out.push(finding("host.container-new", Severity::Warning, format!("A new container `{name}` (image {image}) runs since the last check, outside the agent's compose project (`sudo docker ps -a`, `sudo docker inspect {name}`). If you did not start it, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.")));
        }
        for (name, uid) in now.users.iter().filter(|(n, _)| !self.users.contains_key(*n)) {
            let (severity, what) = if *uid == 0 {
                (Severity::Danger, "with uid 0: it is root under another name")
            } else {
                (Severity::Warning, "that can log in")
            };
            out.push(finding("host.account-new", severity, format!("A new account `{name}` (uid {uid}) {what}, since the last check. If you did not create it, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.")));
        }
        for (user, keys) in &now.keys {
            let before = self.keys.get(user);
            let new: BTreeSet<_> = keys.iter().filter(|(f, _)| before.is_none_or(|b| !b.contains_key(*f))).collect();
            for (fp, comment) in new {
                let who = if comment.is_empty() { "no comment".to_owned() } else { format!("`{comment}`") };
                out.push(finding("ssh.key-new", Severity::Danger, format!("A new SSH key lets `{user}` log in ({fp}, {who}), since the last check. If you did not add it, remove it from ~{user}/.ssh/authorized_keys and treat it as an intrusion: see /etc/clawguard/RECOVERY.md.")));
            }
        }
        for (user, keys) in &self.keys {
            let gone = keys.keys().filter(|f| now.keys.get(user).is_none_or(|k| !k.contains_key(*f))).count();
            if gone > 0 {
                out.push(finding(
                    "ssh.key-removed",
                    Severity::Note,
                    format!("{gone} SSH key(s) of `{user}` were removed since the last check."),
                ));
            }
        }
        out
    }
}

/// What this run asked the live target, besides the facts.
pub struct Live<'a> {
    /// Local addresses with a TCP listener; None when the target's ports cannot be asked.
    pub listening: Option<BTreeSet<String>>,
    /// Ports the answers open: a listener there is expected.
    pub planned: &'a [u16],
    /// The users clawguard's drop-in allows to log in.
    pub allowed: &'a [String],
    /// The containers the engine runs; None when it cannot be asked.
    pub containers: Option<Vec<Container>>,
    /// The services of the agent's compose project the plan makes: a container labelled
    /// with the project but another service was not made by clawguard.
    pub agent_services: &'a [&'static str],
    /// The proxy's access log, when the answers have a proxy.
    pub proxy_log: Option<ProxyLog>,
}

pub struct ProxyLog {
    /// Under the root.
    pub path: std::path::PathBuf,
    /// Destinations this run's own checks sent through the proxy to be refused (OpenClaw's
    /// loopback canary): one refused request each is not counted.
    pub canaries: Vec<String>,
    /// The agent's own services (host, what it is): refused requests there are said apart.
    pub agent_hosts: &'static [(&'static str, &'static str)],
    /// The proxy was applied here, on a target whose engine runs it: a missing log is news.
    pub applied: bool,
}

/// Compares the accounts, keys and listeners with the last run's and records what is there
/// now. `listening` is None when the target's ports cannot be asked (another root).
/// `logs` is where this run reads SSH logins from; `allowed` the users the drop-in allows.
pub fn check(store: &Store, facts: &Facts, live: Live, logs: Source) -> Vec<Finding> {
    // Nothing applied here yet: nothing to guard, and no records to start.
    if !store.dir().exists() {
        return Vec::new();
    }
    let Some(mut now) = Seen::of(facts) else {
        return vec![finding(
            "host.keys-need-root",
            Severity::Note,
            "The users' SSH keys cannot be read without root: new keys, accounts, listeners and SSH logins are not looked for (`sudo clawguard check` does).",
        )];
    };
    let damaged = |e: &dyn std::fmt::Display| {
        vec![finding(
            "host.seen-unreadable",
            Severity::Danger,
            format!(
                "What the last check saw ({}) cannot be read ({e}): new keys, accounts and listeners cannot be told apart from old ones this time. If nobody edited it, treat it as tampering; it is written anew now.",
                store.seen_path().display()
            ),
        )]
    };
    let before = store.seen::<Seen>();
    // Ports not asked this time (another root): what was known stays known.
    // Logins: learned on the first run that reads the logs.
    let known = match &before {
        Ok(Some(b)) => b.logins.clone(),
        _ => logins::Known::default(),
    };
    let first = known == logins::Known::default();
    let (login_news, known) = known.update(logs, live.allowed, first, crate::target::now());
    now.logins = known;
    now.listening = match (live.listening, &before) {
        (Some(l), _) => l,
        (None, Ok(Some(b))) => b.listening.clone(),
        (None, _) => BTreeSet::new(),
    };
    let mut published = Vec::new();
    now.containers = match (live.containers, &before) {
        (Some(c), _) => {
            let ours = |c: &Container| made_by_the_plan(c, live.agent_services);
            for c in c.iter().filter(|c| !ours(c)) {
                let outside = published_outside(&c.ports);
                if !outside.is_empty() {
                    published.push(finding("firewall.container-published", Severity::Warning, format!("The container `{}` publishes {} to every address: Docker's rules come before ufw's, so the firewall does not guard it. Publish on 127.0.0.1 only (`127.0.0.1:PORT:PORT`) unless the world should reach it.", c.name, outside.join(", "))));
                }
            }
            c.into_iter().filter(|c| !ours(c)).map(|c| (c.name, c.image)).collect()
        }
        (None, Ok(Some(b))) => b.containers.clone(),
        (None, _) => BTreeMap::new(),
    };
    now.proxy_log = match &before {
        Ok(Some(b)) => b.proxy_log.clone(),
        _ => Default::default(),
    };
    let mut out = match &before {
        Ok(Some(before)) => before.news(&now, live.planned),
        Err(e) => damaged(e),
        Ok(None) => vec![finding(
            "host.first-check",
            Severity::Note,
            format!(
                "First check here: learned {} account(s) that can log in, {} SSH key(s), {} TCP listener(s) and {} container(s) besides the agent's; from now on a new one is reported.",
                now.users.len(),
                now.keys.values().map(BTreeMap::len).sum::<usize>(),
                now.listening.len(),
                now.containers.len()
            ),
        )],
    };
    out.extend(login_news);
    out.extend(published);
    if let Some(ProxyLog { path, applied, agent_hosts, canaries }) = &live.proxy_log {
        match super::tail::read_since(path, &now.proxy_log, super::proxy::MAX_READ) {
            Ok(t) => {
                now.proxy_log = t.mark;
                let mut refused = super::proxy::refused(&t.text);
                for c in canaries {
                    if let Some(n) = refused.get_mut(c) {
                        *n -= 1;
                        if *n == 0 {
                            refused.remove(c);
                        }
                    }
                }
                out.extend(super::proxy::findings_for(&refused, agent_hosts));
                if t.skipped > 0 {
                    out.push(finding("egress.proxy-log-skipped", Severity::Warning, format!("The agent's proxy wrote more to its access log since the last check than the {} MiB a run reads: its oldest {} KiB were not looked at, so requests it refused there were not counted (a flood of allowed requests can bury a refused one). `sudo grep TCP_DENIED {}` lists them all.", super::proxy::MAX_READ >> 20, t.skipped.div_ceil(1024), path.display())));
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !applied => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => out.push(finding("egress.proxy-log-missing", Severity::Warning, format!("The agent's proxy keeps no access log at {} : refused requests cannot be counted. Is the proxy running (`sudo docker ps`)? If the engine's data-root moved, apply again so clawguard knows.", path.display()))),
            Err(e) => out.push(finding("egress.proxy-log-unreadable", Severity::Danger, format!("The agent's proxy's access log {} cannot be read ({e}): refused requests cannot be counted. The proxy's user owns that directory: if the log was replaced by a link or something else, treat it as tampering (see /etc/clawguard/RECOVERY.md).", path.display()))),
        }
    }
    let text = toml::to_string(&now).expect("seen always serializes");
    if let Err(e) = store.set_seen(&text) {
        out.push(finding(
            "host.seen-unwritable",
            Severity::Warning,
            format!("Could not record what this check saw ({e}): the next run will report the same news again."),
        ));
    }
    out
}

/// What is new since the last run: listeners, SSH logins (auth.log or the journal),
/// containers, requests the proxy refused; accounts and keys (`seen`).
pub(super) fn seen_since_last_run(
    answers: &Answers,
    facts: &Facts,
    root: &Root,
    runner: &Runner,
    store: &Store,
    managed: &std::collections::BTreeMap<String, String>,
    canaries: &[String],
) -> Vec<Finding> {
    let mut out = Vec::new();
    let mac = facts.platform.mac().is_some();
    let argv: &[&str] = if mac { &["lsof", "-nP", "-iTCP", "-sTCP:LISTEN"] } else { &["ss", "-Htln"] };
    let listening = match runner.run(argv) {
        Ran::Ok(out) if mac => Some(listening_lsof(&out)),
        Ran::Ok(out) => Some(listening(&out)),
        // lsof exits 1 when nothing listens at all.
        Ran::Failed { output, .. } if mac && output.trim().is_empty() => Some(Default::default()),
        Ran::Skipped => None,
        Ran::Failed { status, output } => {
            out.push(finding(
                "firewall.listeners-unchecked",
                Severity::Warning,
                format!(
                    "`{}` failed ({status}: {}): new listeners are not looked for this time.",
                    argv.join(" "),
                    output.lines().last().unwrap_or_default()
                ),
            ));
            None
        }
    };
    // Ports the answers open are expected to appear (a moved SSH port, the gateway).
    let mut planned = layers::firewall::ssh_ports(answers, facts);
    planned.extend(facts.sshd.ports());
    planned.extend(answers.firewall.extra_ports.iter().map(|p| p.get()));
    planned.push(answers.sandbox.gateway_port.get());
    let allowed = layers::ssh::allowed_users(answers, facts);
    let journal = |since: u64| match runner.run(&journal_argv(since)) {
        Ran::Ok(out) => Some(out),
        _ => None,
    };
    let journal_files = |since: u64| {
        let mut argv = journal_argv(since);
        argv.splice(1..1, ["-D".to_owned(), root.path("/var/log/journal").display().to_string()]);
        duct::cmd(&argv[0], &argv[1..]).stdin_null().stderr_null().read().ok()
    };
    let logs = if mac {
        // macOS logs sshd to its unified log, not read yet (README says so).
        logins::Source::Nothing
    } else if facts.auth_log {
        logins::Source::AuthLog(root.path("/var/log").join("auth.log"))
    } else if runner.runs_commands() {
        logins::Source::Journal(&journal)
    } else if root.exists("/var/log/journal") {
        // Another root (a mounted disk) without a runner: its journal files, read here.
        logins::Source::Journal(&journal_files)
    } else {
        logins::Source::Nothing
    };
    // No engine, or one that does not answer: the sandbox's own check says so when it
    // matters; what was known stays known.
    let containers = match runner.run(&["docker", "ps", "--format", CONTAINERS_FORMAT]) {
        Ran::Ok(ps) => Some(containers(&ps)),
        _ => None,
    };
    use crate::answers::Layer as L;
    let proxy_log = (!answers.skip.contains(&L::Egress) && !answers.skip.contains(&L::Sandbox)).then(|| ProxyLog {
        path: root.path(&layers::egress::proxy_access_log(facts)),
        // Applied, and on a target whose engine was asked to start it.
        applied: managed.contains_key(&layers::sandbox::squid_conf(answers)) && runner.runs_commands(),
        canaries: canaries.to_vec(),
        agent_hosts: match answers.sandbox.profile {
            crate::answers::Profile::Openclaw => &layers::openclaw::SERVICE_HOSTS,
            crate::answers::Profile::Generic => &[],
        },
    });
    let agent_services = layers::sandbox::services(answers);
    let live = Live {
        listening,
        planned: &planned,
        allowed: &allowed,
        containers,
        agent_services: &agent_services,
        proxy_log,
    };
    out.extend(check(store, facts, live, logs));
    out
}

/// sshd's journal entries since `since`, with their times (OpenSSH 9.8+ logs from
/// `sshd-session`).
fn journal_argv(since: u64) -> Vec<String> {
    let since = format!("@{since}");
    ["journalctl", "--no-pager", "-q", "-o", "json", "--since", &since, "_COMM=sshd", "+", "_COMM=sshd-session"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

#[cfg(test)]
mod lsof_tests {
    use super::*;

    #[test]
    fn lsof_listeners_are_the_addresses_before_listen() {
        let out = "COMMAND PID USER FD TYPE DEVICE SIZE/OFF NODE NAME\nlaunchd 1 root 9u IPv6 0x1 0t0 TCP *:2222 (LISTEN)\ncupsd 300 root 5u IPv6 0x3 0t0 TCP [::1]:631 (LISTEN)\nssh 9 alice 3u IPv4 0x4 0t0 TCP 10.0.0.2:50000->10.0.0.1:22 (ESTABLISHED)\n";
        assert_eq!(listening_lsof(out).into_iter().collect::<Vec<_>>(), ["*:2222", "[::1]:631"]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(users: &[(&str, u32)], keys: &[(&str, &str)]) -> Seen {
        let mut s = Seen::default();
        for (n, u) in users {
            s.users.insert(n.to_string(), *u);
        }
        for (user, fp) in keys {
            s.keys.entry(user.to_string()).or_default().insert(fp.to_string(), "me@laptop".into());
        }
        s
    }

    #[test]
    fn what_is_new_is_named_and_what_was_there_is_not() {
        let before = seen(&[("root", 0), ("debian", 1000)], &[("debian", "SHA256:a")]);
        assert!(before.news(&before, &[]).is_empty());
        let after =
            seen(&[("root", 0), ("debian", 1000), ("toor", 0)], &[("debian", "SHA256:a"), ("debian", "SHA256:b")]);
        let news = before.news(&after, &[]);
        assert_eq!(news.len(), 2, "{news:?}");
        assert!(news.iter().all(|f| f.severity == Severity::Danger));
        assert!(news[0].text.contains("`toor` (uid 0)") && news[1].text.contains("SHA256:b"), "{news:?}");
        let fewer = seen(&[("root", 0), ("debian", 1000)], &[]);
        let news = before.news(&fewer, &[]);
        assert_eq!(news.len(), 1);
        assert_eq!(news[0].severity, Severity::Note);
    }

    #[test]
    fn a_new_container_is_news_and_publishing_past_ufw_is_named() {
        let ps = "clawguard-agent-agent-1\topenclaw:local\tclawguard-agent\tagent\t\nminer\txmrig:latest\t\t\t0.0.0.0:9999->80/tcp, :::9999->80/tcp\nlocal\tnginx\t\t\t127.0.0.1:8081->80/tcp\nclawguard-agent-miner-1\txmrig\tclawguard-agent\tminer\t0.0.0.0:3333->3333/tcp\nno container engine here\n";
        let c = containers(ps);
        assert_eq!(c.len(), 4, "{c:?}");
        // The project's label alone does not make a container the plan's.
        let services = ["agent", "proxy"];
        assert!(made_by_the_plan(&c[0], &services));
        assert!(!made_by_the_plan(&c[3], &services) && !made_by_the_plan(&c[1], &services));
        assert_eq!(published_outside(&c[3].ports), ["0.0.0.0:3333->3333/tcp"]);
        assert_eq!(c[1].name, "miner");
        assert_eq!(published_outside(&c[1].ports), ["0.0.0.0:9999->80/tcp", ":::9999->80/tcp"]);
        assert!(published_outside(&c[2].ports).is_empty());
        let before = Seen::default();
        let mut now = Seen::default();
        now.containers.insert("miner".into(), "xmrig:latest".into());
        let news = before.news(&now, &[]);
        assert_eq!(news.len(), 1, "{news:?}");
        assert!(news[0].text.contains("`miner` (image xmrig:latest)"), "{news:?}");
        assert!(now.news(&now, &[]).is_empty());
    }

    #[test]
    fn a_new_listener_is_news_unless_its_port_is_planned() {
        let ss = "LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\nLISTEN 0 128 [::]:22 [::]:*\n";
        let before = Seen { listening: listening(ss), ..Seen::default() };
        assert_eq!(before.listening.len(), 2);
        let more = format!("{ss}LISTEN 0 5 0.0.0.0:4444 0.0.0.0:*\nLISTEN 0 5 0.0.0.0:2222 0.0.0.0:*\n");
        let now = Seen { listening: listening(&more), ..Seen::default() };
        let news = before.news(&now, &[2222]);
        assert_eq!(news.len(), 1, "{news:?}");
        assert!(news[0].text.contains("TCP 0.0.0.0:4444"), "{news:?}");
    }
}
