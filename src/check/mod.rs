//! The daily security check (`clawguard check`, run by `clawguard-check.timer`): what
//! changed since clawguard applied — files edited by hand or missing, answers not applied
//! yet, sshd's effective settings — what a takeover leaves (ufw off, fail2ban down, a new
//! account or SSH key: `seen.rs`), and what needs a person: an overdue confirmation, an
//! automatic rollback, keys in plaintext, a full disk. It changes nothing on the host; it
//! records what it saw, for the next run. An alert goes to the webhook when one is set.

pub mod alert;
pub mod certificates;
pub mod container;
pub mod logins;
pub mod openclaw;
pub mod proxy;
pub mod seen;
pub mod tail;
pub mod updates;

use crate::answers::Answers;
use crate::apply::Store;
use crate::apply::store::GenerationState;
use crate::host::Facts;
use crate::layers;
use crate::plan::Severity;
use crate::render::RenderError;
use crate::target::Root;
use crate::target::{Ran, Runner};
use crate::target::{now, sha256};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of finding this is, stable across releases and wording
    /// (`firewall.ufw-inactive`): a family (a layer's key, or `host`), a dot, the kind.
    pub id: &'static str,
    /// The layer it concerns: the family's, or — for a managed file — the file's layer.
    pub layer: Option<crate::answers::Layer>,
    pub severity: Severity,
    pub text: String,
}

pub(crate) fn finding(id: &'static str, severity: Severity, text: impl Into<String>) -> Finding {
    Finding { id, layer: layer_of(id), severity, text: text.into() }
}

/// The layer an id's family names (None: `host`, the host or clawguard itself).
fn layer_of(id: &str) -> Option<crate::answers::Layer> {
    use crate::answers::Layer;
    match id.split('.').next()? {
        "sandbox" => Some(Layer::Sandbox),
        "credentials" => Some(Layer::Credentials),
        "ssh" => Some(Layer::Ssh),
        "firewall" => Some(Layer::Firewall),
        "egress" => Some(Layer::Egress),
        "monitoring" => Some(Layer::Monitoring),
        "backup" => Some(Layer::Backup),
        _ => None,
    }
}

impl Finding {
    /// The same finding, about a file of `layer` (a managed file's findings are its layer's).
    fn in_layer(mut self, layer: Option<crate::answers::Layer>) -> Finding {
        if layer.is_some() {
            self.layer = layer;
        }
        self
    }
}

/// Runs every check against `root`; the services are asked through `runner`.
pub fn run(answers: &Answers, facts: &Facts, root: &Root, runner: &Runner) -> Result<Vec<Finding>, RenderError> {
    let mut out = Vec::new();
    let plan = layers::plan(answers, facts)?;
    let store = Store::new(root);
    // The records are what the check compares with: unreadable records are a finding, not
    // an empty list (that would hide every hand edit).
    let managed = match store.managed() {
        Ok(m) => m,
        Err(e) => {
            out.push(finding("host.records-unreadable", Severity::Danger, format!("clawguard's records under {} cannot be read ({e}): nothing could be compared with what was applied. Run `sudo clawguard check`; if it fails there too, the records were damaged: see /etc/clawguard/RECOVERY.md.", crate::target::STATE_DIR)));
            Default::default()
        }
    };
    out.extend(managed_files(&plan, root, &managed));
    out.extend(records(&store));
    out.extend(services(answers, facts, root, runner, &managed));
    out.extend(credentials(root));
    let compose_applied = managed.contains_key(&crate::layers::sandbox::compose_file(answers));
    out.extend(container::check(answers, crate::layers::sandbox::agent_ids(answers, facts), runner, compose_applied));
    // OpenClaw's proxy check sends its loopback canary through the proxy, which refuses
    // it: that one request is ours, not the agent reaching off its list.
    let own = openclaw::check(answers, facts, runner);
    out.extend(own.findings);
    out.extend(certificates::check(&answers.monitoring.certificates, answers.monitoring.certificate_days.get()));
    out.extend(sshd_drift(&plan, runner, &managed));
    out.extend(seen_since_last_run(answers, facts, root, runner, &store, &managed, &own.canaries));
    out.extend(updates::check(runner, facts.packages.contains("unattended-upgrades")));
    for e in &facts.plaintext_env_files {
        out.push(finding(
            "credentials.plaintext-env",
            Severity::Warning,
            format!("{} holds {} key(s) in plaintext.", e.path, e.keys),
        ));
    }
    out.extend(disks(root, &["/", "/var/log", "/var/lib/docker", answers.monitoring.log_dir.as_str()]));
    out.extend(backups(answers, root, &managed));
    Ok(out)
}

/// Each file the plan manages against what is on disk and what clawguard recorded.
fn managed_files(
    plan: &crate::plan::Plan,
    root: &Root,
    managed: &std::collections::BTreeMap<String, String>,
) -> Vec<Finding> {
    plan.files.iter().filter_map(|f| managed_file(f, root, managed).map(|x| x.in_layer(f.layer))).collect()
}

/// One managed file against what is on disk and what clawguard recorded.
fn managed_file(
    f: &crate::plan::FileStep,
    root: &Root,
    managed: &std::collections::BTreeMap<String, String>,
) -> Option<Finding> {
    let disk = match root.read_managed(&f.path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Some(finding("host.managed-refused", Severity::Danger, e.to_string()));
        }
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return Some(finding(
                "host.managed-needs-root",
                Severity::Note,
                format!("{} cannot be read without root: not checked (`sudo clawguard check` checks it).", f.path),
            ));
        }
        Err(_) => None,
    };
    let recorded = managed.get(&f.path);
    let x = match (disk, recorded) {
        (None, Some(_)) => finding(
            "host.managed-missing",
            Severity::Danger,
            format!(
                "{} is missing: it was applied and has been removed since. Run `clawguard plan` to see it, `clawguard apply` to put it back.",
                f.path
            ),
        ),
        (None, None) => finding(
            "host.managed-not-applied",
            Severity::Note,
            format!("{} is not applied yet (`clawguard apply`).", f.path),
        ),
        (Some(d), _) if d == f.content.as_bytes() => return None,
        // The answers are edited by hand by design: news, not an intrusion.
        (Some(_), _) if f.is_answers() => finding(
            "host.answers-edited",
            Severity::Note,
            format!(
                "{} was edited since the last apply: `clawguard plan` shows what it changes, `sudo clawguard apply` applies it.",
                f.path
            ),
        ),
        (Some(d), Some(h)) if &sha256(&d) != h => finding(
            "host.managed-changed",
            Severity::Danger,
            format!(
                "{} was changed since clawguard wrote it (not by clawguard). If you did not change it, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.",
                f.path
            ),
        ),
        (Some(_), Some(_)) => finding(
            "host.managed-outdated",
            Severity::Note,
            format!(
                "{} differs from the current answers: the answers changed since the last apply (`clawguard plan`).",
                f.path
            ),
        ),
        (Some(_), None) => finding(
            "host.managed-not-yet",
            Severity::Note,
            format!("{} is not managed by clawguard yet (`clawguard apply`).", f.path),
        ),
    };
    Some(x)
}

/// clawguard's own records: a confirmation waiting or overdue, an automatic rollback, an
/// alert that did not arrive.
fn records(store: &Store) -> Vec<Finding> {
    let mut out = Vec::new();
    let pending = match store.pending() {
        Ok(p) => p,
        Err(e) => {
            out.push(finding("host.pending-unreadable", Severity::Danger, format!("{e}. The automatic rollback cannot know what to wait for: run `sudo clawguard status`; see /etc/clawguard/RECOVERY.md.")));
            None
        }
    };
    if let Some(p) = pending.as_ref().filter(|p| !p.automatic()) {
        out.push(finding("ssh.old-port-open", 
            Severity::Warning,
            format!("SSH still listens on the old port(s) {:?} too: generation {} waits for `clawguard confirm` from a login on port {} (it was applied without an automatic rollback).", p.old_ports, p.generation, p.new_port.unwrap_or_default()),
        ));
    }
    if let Some(p) = pending.filter(|p| p.automatic())
        && p.deadline < now().saturating_sub(60)
    {
        out.push(finding("ssh.confirm-overdue", 
            Severity::Danger,
            format!("Generation {} has waited for confirmation past its deadline and was not rolled back: run `clawguard status`, then `clawguard confirm` or `clawguard rollback`.", p.generation),
        ));
    }
    // A generation begun and never committed: an apply that was cut off (a crash, a kill,
    // a reboot) left the host between the old and the new — unless one runs right now,
    // which holds clawguard's lock.
    if let Ok(generations) = store.generations() {
        let unfinished: Vec<u32> =
            generations.iter().filter(|g| g.state == GenerationState::Unfinished).map(|g| g.manifest.number).collect();
        if let Some(n) = unfinished.last() {
            if apply_running(store) {
                out.push(finding(
                    "host.apply-running",
                    Severity::Note,
                    format!("An apply is running (generation {n}): what it changes is checked next time."),
                ));
            } else {
                out.push(finding("host.apply-interrupted", Severity::Danger, format!("An apply was interrupted: generation {n} was begun and never committed, so some of its files and commands may be in place and others not. Run `sudo clawguard apply` (it finishes the recovery first, then applies) or `sudo clawguard rollback`; `clawguard status` shows what it did.")));
            }
        }
    }
    // An automatic rollback is news until a later apply was committed.
    if let Some(r) = store.last_rollback() {
        let first = r.lines().next().unwrap_or_default();
        let at: u64 = first.split(':').next().and_then(|t| t.trim().parse().ok()).unwrap_or(0);
        let later = store
            .generations()
            .map(|g| g.iter().any(|g| g.state == GenerationState::Committed && g.manifest.created > at))
            .unwrap_or(false);
        if !later {
            out.push(finding(
                "host.rolled-back",
                Severity::Warning,
                format!("An unconfirmed change was rolled back automatically ({first}). See `clawguard status`."),
            ));
        }
    }
    match store.last_alert::<alert::LastAlert>() {
        Ok(Some(last)) => {
            if let Some(why) = last.failed {
                out.push(finding(
                    "monitoring.alert-failed",
                    Severity::Warning,
                    format!("The last alert did not reach you: {why}. Check `monitoring.alert_webhook`."),
                ));
            }
        }
        Ok(None) => {}
        // Unreadable: the next alert repeats every finding rather than drop one.
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {}
        Err(e) => out.push(finding(
            "monitoring.alert-unreadable",
            Severity::Warning,
            format!("What the last alert said cannot be read ({e}): the next alert repeats every finding."),
        )),
    }
    out
}

/// What is new since the last run: listeners, SSH logins (auth.log or the journal),
/// containers, requests the proxy refused; accounts and keys (`seen`).
fn seen_since_last_run(
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
        Ran::Ok(out) if mac => Some(seen::listening_lsof(&out)),
        Ran::Ok(out) => Some(seen::listening(&out)),
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
    let containers = match runner.run(&["docker", "ps", "--format", seen::CONTAINERS_FORMAT]) {
        Ran::Ok(ps) => Some(seen::containers(&ps)),
        _ => None,
    };
    use crate::answers::Layer as L;
    let proxy_log =
        (!answers.skip.contains(&L::Egress) && !answers.skip.contains(&L::Sandbox)).then(|| seen::ProxyLog {
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
    let live = seen::Live {
        listening,
        planned: &planned,
        allowed: &allowed,
        containers,
        agent_services: &agent_services,
        proxy_log,
    };
    out.extend(seen::check(store, facts, live, logs));
    out
}

/// What an attacker turns off first: the firewall and fail2ban, asked live (the files
/// can be intact while the services are not). Only for what clawguard applied.
fn services(
    answers: &Answers,
    facts: &Facts,
    root: &Root,
    runner: &Runner,
    managed: &std::collections::BTreeMap<String, String>,
) -> Vec<Finding> {
    use crate::answers::Layer as L;
    let mut out = Vec::new();
    if facts.platform.mac().is_some() {
        if !answers.skip.contains(&L::Firewall)
            && managed.contains_key(layers::pf::ANCHOR_FILE)
            && runner.runs_commands()
        {
            out.extend(pf(runner, &layers::firewall::ssh_ports(answers, facts)));
        }
        return out;
    }
    let firewall = !answers.skip.contains(&L::Firewall) && managed.contains_key(crate::host::FAIL2BAN_JAIL);
    if !firewall {
        return out;
    }
    if !runner.runs_commands() {
        out.push(finding(
            "firewall.not-root-target",
            Severity::Note,
            format!(
                "ufw and fail2ban were not asked: {} is not this system's root (give --runner to reach its services).",
                root.dir().display()
            ),
        ));
        return out;
    }
    // On the live system, only root may ask ufw and fail2ban: without it their failures
    // say nothing about the firewall (and are not the DANGER they would be as root).
    if *runner == Runner::Live && unsafe { libc::geteuid() } != 0 {
        out.push(finding(
            "firewall.needs-root",
            Severity::Note,
            "ufw and fail2ban were not asked: they answer only root. `sudo clawguard check` asks them.",
        ));
        return out;
    }
    let ports = layers::firewall::ssh_ports(answers, facts);
    match runner.run(&["ufw", "status"]) {
        Ran::Ok(status) if status.lines().any(|l| l.trim() == "Status: active") => {
            for port in ports {
                let open = status.lines().any(|l| {
                    let w: Vec<&str> = l.split_whitespace().collect();
                    w.first().is_some_and(|p| *p == format!("{port}/tcp") || *p == port.to_string())
                        && w.get(1).is_some_and(|a| *a == "ALLOW" || *a == "LIMIT")
                });
                if !open {
                    out.push(finding("firewall.ufw-no-ssh-rule", Severity::Danger, format!("ufw has no rule that lets SSH in on port {port}: a changed firewall, and the next reboot or reload may lock you out. `sudo clawguard apply` puts it back.")));
                }
            }
        }
        Ran::Ok(_) => out.push(finding("firewall.ufw-inactive", Severity::Danger, "ufw is not active: every port of this host is open to the world. If you did not turn it off, treat it as an intrusion (see /etc/clawguard/RECOVERY.md); `sudo clawguard apply` turns it back on, SSH rule first.")),
        Ran::Failed { status, output } => out.push(finding("firewall.ufw-unknown", Severity::Danger, format!("ufw cannot be asked ({status}: {}): the firewall's state is unknown.", output.lines().last().unwrap_or_default()))),
        Ran::Skipped => {}
    }
    match runner.run(&["fail2ban-client", "status", "sshd"]) {
        Ran::Ok(status) if status.contains("Status for the jail: sshd") => {
            out.extend(fail2ban_ports(runner, &layers::firewall::ssh_ports(answers, facts)))
        }
        Ran::Ok(_) | Ran::Skipped => {}
        Ran::Failed { output, .. } => out.push(finding("firewall.fail2ban-jail-down", Severity::Danger, format!("fail2ban's sshd jail is not running ({}): password guessing is not banned. `sudo systemctl restart fail2ban`, then `sudo fail2ban-client status sshd`; if it was stopped on purpose by nobody you know, see /etc/clawguard/RECOVERY.md.", output.lines().last().unwrap_or("no answer").trim()))),
    }
    out
}

/// The ports the live sshd jail bans on (each action's `port`), against SSH's: a jail
/// On a Mac, what an attacker turns off first is pf, or clawguard's anchor in it.
fn pf(runner: &Runner, ssh: &[u16]) -> Vec<Finding> {
    let mut out = Vec::new();
    match runner.run(&["pfctl", "-s", "info"]) {
        Ran::Ok(info) if info.lines().any(|l| l.trim_start().starts_with("Status: Enabled")) => {}
        Ran::Ok(_) => out.push(finding("firewall.pf-disabled", Severity::Danger, "pf is disabled: every port of this Mac is open to its network. If you did not turn it off, treat it as an intrusion (see /etc/clawguard/RECOVERY.md); `sudo clawguard launchd load /Library/LaunchDaemons/com.clawguard.pf.plist` loads and enables it again.")),
        Ran::Failed { status, output } => out.push(finding("firewall.pf-unknown", Severity::Danger, format!("pf cannot be asked ({status}: {}): the firewall's state is unknown.", output.lines().last().unwrap_or_default()))),
        Ran::Skipped => {}
    }
    match runner.run(&["pfctl", "-a", layers::pf::ANCHOR, "-s", "rules"]) {
        Ran::Ok(rules) => {
            for port in ssh {
                if !rules
                    .lines()
                    .any(|l| l.contains(&format!("port = {port}")) || (l.contains("port = ssh") && *port == 22))
                {
                    out.push(finding("firewall.pf-no-ssh-rule", Severity::Danger, format!("clawguard's pf anchor {} has no rule that lets SSH in on port {port}: its rules were flushed or changed. `sudo clawguard launchd load /Library/LaunchDaemons/com.clawguard.pf.plist` loads them again; if nobody you know did it, see /etc/clawguard/RECOVERY.md.", layers::pf::ANCHOR)));
                }
            }
        }
        Ran::Failed { status, output } => out.push(finding(
            "firewall.pf-unreadable",
            Severity::Danger,
            format!("clawguard's pf rules cannot be read ({status}: {}).", output.lines().last().unwrap_or_default()),
        )),
        Ran::Skipped => {}
    }
    out
}

/// moved to another port (`fail2ban-client set sshd action … port 22`) still runs and
/// still counts failures, and bans nothing that matters.
fn fail2ban_ports(runner: &Runner, ssh: &[u16]) -> Vec<Finding> {
    let unknown = |why: String| {
        vec![finding(
            "firewall.fail2ban-ports-unknown",
            Severity::Warning,
            format!(
                "Which ports fail2ban's sshd jail bans on cannot be read ({why}): a jail moved off the SSH port would not be seen."
            ),
        )]
    };
    let actions = match runner.run(&["fail2ban-client", "get", "sshd", "actions"]) {
        Ran::Ok(o) => match o.split_once("has the following actions:") {
            Some((_, list)) => {
                list.split([',', '\n']).map(str::trim).filter(|a| !a.is_empty()).map(str::to_owned).collect::<Vec<_>>()
            }
            None => return unknown(format!("unexpected answer {:?}", o.trim())),
        },
        Ran::Failed { status, output } => {
            return unknown(format!("{status}: {}", output.lines().last().unwrap_or_default()));
        }
        Ran::Skipped => return Vec::new(),
    };
    let mut out = Vec::new();
    for action in actions.iter().filter(|a| a.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))) {
        // An action without a `port` (the allports kind) bans on every port.
        let Ran::Ok(value) = runner.run(&["fail2ban-client", "get", "sshd", "action", action, "port"]) else {
            continue;
        };
        let value = value.trim();
        let missing: Vec<String> = ssh.iter().filter(|p| !ports_cover(value, **p)).map(|p| p.to_string()).collect();
        if !missing.is_empty() {
            out.push(finding("firewall.fail2ban-wrong-port", 
                Severity::Danger,
                format!(
                    "fail2ban's sshd jail bans on port {value} ({action}), not on SSH's port {}: password guessing there is counted and never blocked. `sudo systemctl restart fail2ban` loads the applied jail again; if nobody you know changed it, see /etc/clawguard/RECOVERY.md.",
                    missing.join(", ")
                ),
            ));
        }
    }
    out
}

/// Whether fail2ban's port list (`2222`, `ssh,2222`, `1:65535`) includes `port`.
fn ports_cover(list: &str, port: u16) -> bool {
    list.split(',').map(str::trim).any(|item| match item.split_once(':') {
        Some((a, b)) => matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&port)),
        None if item == "ssh" => port == 22,
        None if item == "all" => true,
        None => item.parse() == Ok(port),
    })
}

/// The backups: the last run (failed, files it could not read, too old) and the last
/// drill (`backup verify`), from what those commands recorded.
fn backups(answers: &Answers, root: &Root, managed: &std::collections::BTreeMap<String, String>) -> Vec<Finding> {
    use crate::backup;
    use std::io::ErrorKind;
    if answers.skip.contains(&crate::answers::Layer::Backup) {
        return Vec::new();
    }
    if answers.backup.destination.is_none() {
        return vec![finding("backup.none", Severity::Note, "No backup destination is set: nothing is backed up.")];
    }
    if !managed.contains_key(layers::backup::SERVICE) {
        return Vec::new();
    }
    let mut out = Vec::new();
    let now = now();
    let days = |at: u64| now.saturating_sub(at) / 86_400;
    let schedule = &answers.backup.schedule;
    match backup::last(root) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        Err(e) => out.push(finding(
            "backup.last-unreadable",
            Severity::Warning,
            format!(
                "How the last backup went cannot be read ({}: {e}): `sudo clawguard backup list` shows the snapshots.",
                backup::LAST
            ),
        )),
        Ok(None) => out.push(finding(
            "backup.never-run",
            Severity::Note,
            format!(
                "No backup has run yet (the timer runs one at {schedule}; `sudo clawguard backup now` runs one now)."
            ),
        )),
        Ok(Some(l)) => {
            if let Some(e) = &l.error {
                out.push(finding("backup.last-failed", Severity::Warning, format!("The last backup failed {} day(s) ago: {e}. Nothing new is backed up until it is fixed; `sudo clawguard backup now` tries again.", days(l.at))));
            } else if !l.unreadable.is_empty() {
                out.push(finding(
                    "backup.unreadable-files",
                    Severity::Warning,
                    format!(
                        "The last snapshot ({}) lacks {} file(s) restic could not read: {}.",
                        l.snapshot.as_deref().unwrap_or("?"),
                        l.unreadable.len(),
                        l.unreadable.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
                    ),
                ));
            }
            match &l.agent {
                backup::Pause::StartFailed(_) => {
                    out.push(finding("backup.agent-not-restarted", Severity::Danger, l.agent.to_string()))
                }
                backup::Pause::StopFailed(_) => {
                    out.push(finding("backup.agent-not-stopped", Severity::Warning, l.agent.to_string()))
                }
                // Still consistent (the agent was stopped): worth knowing, nothing to do now.
                backup::Pause::PausedNoArchive(_) => {
                    out.push(finding("backup.agent-paused", Severity::Note, l.agent.to_string()))
                }
                _ => {}
            }
            // Daily, with a day's slack: two missed runs are news.
            if l.error.is_none() && now.saturating_sub(l.at) > 50 * 3600 {
                out.push(finding("backup.stale", Severity::Warning, format!("The last backup ran {} day(s) ago: the nightly timer is not running it (`systemctl status clawguard-backup.timer`).", days(l.at))));
            }
        }
    }
    if let Some(why) = backup::kit_needed(answers, root) {
        out.push(finding("backup.kit-needed", Severity::Warning, format!("{}{}", why[..1].to_uppercase(), &why[1..])));
    }
    match backup::last_verified(root) {
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {}
        Err(e) => out.push(finding("backup.verify-unreadable", Severity::Warning, format!("How the last drill went cannot be read ({}: {e}).", backup::VERIFIED))),
        Ok(None) => out.push(finding("backup.never-verified", Severity::Note, "The backups were never verified: `sudo clawguard backup verify` restores the latest snapshot into a scratch directory and compares it with this host.")),
        Ok(Some(v)) => {
            if let Some(e) = &v.error {
                out.push(finding("backup.verify-failed", Severity::Warning, format!("The last `backup verify` ({} day(s) ago) failed: {e}. A backup that does not restore is no backup.", days(v.at))));
            } else if days(v.at) > 35 {
                out.push(finding("backup.verify-old", Severity::Note, format!("The backups were last verified {} days ago: `sudo clawguard backup verify`.", days(v.at))));
            }
        }
    }
    out
}

/// The vault and the keys unlocked for the agent against what clawguard last wrote: a key
/// replaced (pointing the agent at an attacker's endpoint) or slipped in.
fn credentials(root: &Root) -> Vec<Finding> {
    use std::io::ErrorKind;
    let written = match crate::vault::written(root) {
        Ok(w) => w,
        Err(e) if e.kind() == ErrorKind::PermissionDenied => {
            return vec![finding(
                "credentials.needs-root",
                Severity::Note,
                "The vault's records need root: the keys are not compared (`sudo clawguard check` does).",
            )];
        }
        Err(e) => {
            return vec![finding(
                "credentials.records-unreadable",
                Severity::Danger,
                format!(
                    "{} cannot be read ({e}): the keys cannot be compared with what clawguard wrote. If nobody edited it, treat it as tampering.",
                    crate::vault::WRITTEN
                ),
            )];
        }
    };
    let mut out = Vec::new();
    for (path, sha) in &written {
        match crate::target::atomic::read_nofollow(&root.entry(path)) {
            Ok(bytes) if sha256(&bytes) == *sha => {}
            Ok(_) => out.push(finding("credentials.file-changed", Severity::Danger, format!("{path} was changed since clawguard wrote it: a key may have been replaced. If you did not do it (`clawguard secrets set` records its own changes), treat it as an intrusion: see /etc/clawguard/RECOVERY.md."))),
            Err(e) if e.kind() == ErrorKind::NotFound && (path.starts_with(crate::layers::SECRETS_DIR) || path.starts_with(crate::layers::MAC_SECRETS_DIR)) => out.push(finding("credentials.file-locked", Severity::Warning, format!("{path} is not unlocked: the agent runs without that key. `sudo clawguard secrets unlock` (clawguard-secrets.service does it at boot)."))),
            Err(e) if e.kind() == ErrorKind::NotFound => out.push(finding("credentials.file-removed", Severity::Danger, format!("{path} was removed, not by clawguard (`clawguard secrets rm` records its own). If you did not do it, treat it as an intrusion: see /etc/clawguard/RECOVERY.md."))),
            Err(e) => out.push(finding("credentials.file-unreadable", Severity::Warning, format!("{path} cannot be read ({e}): not compared."))),
        }
    }
    if !written.is_empty()
        && let Ok(entries) = std::fs::read_dir(root.path(crate::vault::DIR))
    {
        for e in entries.flatten() {
            let path = format!("{}/{}", crate::vault::DIR, e.file_name().to_string_lossy());
            if !written.contains_key(&path) {
                out.push(finding("credentials.unknown-key", Severity::Danger, format!("{} is in the vault but clawguard did not put it there. If you did not do it, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.", path.escape_debug())));
            }
        }
    }
    out
}

/// Whether an apply, confirm or rollback holds clawguard's lock now (a shared lock taken
/// and let go at once cannot be had while one runs).
fn apply_running(store: &Store) -> bool {
    use std::os::unix::fs::OpenOptionsExt;
    let Ok(f) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(store.lock_path())
    else {
        return false;
    };
    matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock))
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

/// sshd's effective settings (`sshd -T`, every file it reads: a drop-in slipped in before
/// clawguard's wins) against what the applied drop-in asks for.
fn sshd_drift(
    plan: &crate::plan::Plan,
    runner: &Runner,
    managed: &std::collections::BTreeMap<String, String>,
) -> Vec<Finding> {
    let dropin = crate::layers::ssh::DROPIN;
    let Some(crate::plan::Validator::Sshd { expect, .. }) = plan.file(dropin).and_then(|f| f.validator.as_ref()) else {
        return Vec::new();
    };
    if !managed.contains_key(dropin) || !runner.runs_commands() {
        return Vec::new();
    }
    if *runner == Runner::Live && !crate::target::atomic::running_as_root() {
        return vec![finding(
            "ssh.effective-needs-root",
            Severity::Note,
            "sshd's effective settings need root to read (`sudo clawguard check` compares them).",
        )];
    }
    match runner.run(&["sshd", "-T"]) {
        Ran::Ok(out) => match crate::validate::compare_effective(&out, expect) {
            Ok(_) => Vec::new(),
            Err(why) => vec![finding(
                "ssh.effective-drift",
                Severity::Danger,
                format!(
                    "sshd's effective settings are not the ones clawguard applied — {}. Some file sshd reads was changed or added outside clawguard (`sudo sshd -T` shows them; `grep -r . /etc/ssh/sshd_config.d/`). If you did not do it, treat it as an intrusion (see /etc/clawguard/RECOVERY.md); `sudo clawguard apply` puts them back.",
                    why.replace('\n', "; ")
                ),
            )],
        },
        Ran::Failed { status, output } => vec![finding(
            "ssh.config-broken",
            Severity::Danger,
            format!(
                "`sshd -T` failed ({status}: {}): sshd's configuration may not even load.",
                output.lines().last().unwrap_or_default()
            ),
        )],
        Ran::Skipped => Vec::new(),
    }
}

/// The file systems holding `paths` (under the root; each once), filled to 90% or more
/// of their space or inodes: a full /var/log stops the logs the check reads, a full Docker
/// data root stops the agent.
fn disks(root: &Root, paths: &[&str]) -> Vec<Finding> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for p in paths {
        let path = root.path(p);
        let Ok(meta) = std::fs::metadata(&path) else { continue };
        if !seen.insert(meta.dev()) {
            continue;
        }
        let Some(usage) = usage(&path) else { continue };
        for (what, used) in [("space", usage.0), ("inodes", usage.1)] {
            if used < 90 {
                continue;
            }
            let severity = if used >= 98 { Severity::Danger } else { Severity::Warning };
            out.push(finding("host.disk-full", 
                severity,
                format!(
                    "The file system holding {p} has used {used}% of its {what}: logs, the journal and the agent stop writing when it is full. `sudo du -xh {p} | sort -h | tail` shows what takes it{}.",
                    if *p == "/var/lib/docker" { "; `sudo docker system prune` frees unused images" } else { "" }
                ),
            ));
        }
    }
    out
}

/// Percent of space and of inodes used (as `df` counts: what non-root users may use).
fn usage(path: &std::path::Path) -> Option<(u64, u64)> {
    let st = rustix::fs::statvfs(path).ok()?;
    let pct = |used: u64, avail: u64| if used + avail == 0 { 0 } else { (used * 100).div_ceil(used + avail) };
    let space = pct(st.f_blocks - st.f_bfree, st.f_bavail);
    let inodes = pct(st.f_files - st.f_ffree, st.f_favail);
    Some((space, inodes))
}

/// Whether the findings need a person (anything above a note).
pub fn needs_attention(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity >= Severity::Warning)
}

/// How JSON names a severity.
pub(crate) fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Note => "note",
        Severity::Warning => "warning",
        Severity::Danger => "danger",
    }
}

/// The findings as JSON, for machines.
pub fn json(host: &str, findings: &[Finding]) -> String {
    let items: Vec<serde_json::Value> =
        findings.iter().map(|f| serde_json::json!({ "id": f.id, "layer": f.layer.map(|l| serde_json::to_value(l).unwrap_or_default()), "severity": severity_word(f.severity), "text": f.text })).collect();
    serde_json::json!({ "host": host, "needs_attention": needs_attention(findings), "findings": items }).to_string()
}

/// The findings as text, one per line.
pub fn report(host: &str, findings: &[Finding]) -> String {
    let mut s = format!("clawguard check on {host}: ");
    let serious = findings.iter().filter(|f| f.severity >= Severity::Warning).count();
    s.push_str(&if serious == 0 { "nothing needs you.".to_owned() } else { format!("{serious} finding(s) need you.") });
    for f in findings {
        let tag = match f.severity {
            Severity::Note => "note",
            Severity::Warning => "WARNING",
            Severity::Danger => "DANGER",
        };
        s.push_str(&format!("\n{tag}: {}", f.text));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::ports_cover;

    /// Each finding's id is written once, shaped `family.kind`, its family a layer's or
    /// `host`: machines rely on them staying put.
    #[test]
    fn finding_ids_are_unique_and_name_their_family() {
        let sources = [
            include_str!("mod.rs"),
            include_str!("alert.rs"),
            include_str!("certificates.rs"),
            include_str!("container.rs"),
            include_str!("logins.rs"),
            include_str!("openclaw.rs"),
            include_str!("proxy.rs"),
            include_str!("seen.rs"),
            include_str!("updates.rs"),
        ];
        let mut seen = std::collections::BTreeSet::new();
        for src in sources {
            let code = src.split("#[cfg(test)]").next().unwrap();
            for (at, _) in code.match_indices("finding(") {
                let rest = code[at + "finding(".len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else { continue };
                let id = &rest[..rest.find('"').unwrap()];
                let (family, kind) = id.split_once('.').unwrap_or_else(|| panic!("{id}: no family"));
                assert!(family == "host" || super::layer_of(id).is_some(), "{id}: unknown family");
                assert!(
                    !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{id}"
                );
                assert!(seen.insert(id.to_owned()), "{id} is used twice");
            }
        }
        assert!(seen.len() > 90, "{} ids found: the scan missed calls", seen.len());
    }

    #[test]
    fn fail2ban_port_lists() {
        assert!(ports_cover("2222", 2222));
        assert!(ports_cover("ssh, 2222", 2222));
        assert!(ports_cover("ssh", 22));
        assert!(ports_cover("1:65535", 2222));
        assert!(!ports_cover("22", 2222));
        assert!(!ports_cover("ssh", 2222));
        assert!(!ports_cover("2223:3000", 2222));
        assert!(!ports_cover("", 2222));
        assert!(!ports_cover("22222", 2222));
    }
}
