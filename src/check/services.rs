//! The services the layers run: up and enabled, ufw or pf active, fail2ban's live jails
//! on the ports sshd listens on.

use super::{Finding, finding};
use crate::answers::Answers;
use crate::host::Facts;
use crate::layers;
use crate::plan::Severity;
use crate::target::Root;
use crate::target::{Ran, Runner};

/// What an attacker turns off first: the firewall and fail2ban, asked live (the files
/// can be intact while the services are not). Only for what clawguard applied.
pub(super) fn services(
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
pub(super) fn ports_cover(list: &str, port: u16) -> bool {
    list.split(',').map(str::trim).any(|item| match item.split_once(':') {
        Some((a, b)) => matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if (a..=b).contains(&port)),
        None if item == "ssh" => port == 22,
        None if item == "all" => true,
        None => item.parse() == Ok(port),
    })
}
