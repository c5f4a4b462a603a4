//! Security updates the package manager has and the host has not installed: apt's own
//! simulation (`apt-get --simulate dist-upgrade`, which changes nothing), from the package
//! lists as they are (the check does not refresh them; apt's daily timer does).

use super::{Finding, finding};
use crate::plan::Severity;
use crate::target::{Ran, Runner};

/// The argv the check runs.
pub const SIMULATE: [&str; 3] = ["apt-get", "--simulate", "dist-upgrade"];

/// The packages of `apt-get --simulate` output whose new version comes from a security
/// suite (`Debian-Security:12/stable-security`, `Ubuntu:24.04/noble-security`).
pub fn security_updates(simulation: &str) -> Vec<String> {
    simulation
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("Inst ")?;
            let name = rest.split_whitespace().next()?;
            let (_, origins) = rest.split_once(" (")?;
            origins
                .to_ascii_lowercase()
                .contains("security")
                .then(|| name.chars().filter(|c| c.is_ascii_alphanumeric() || "+-.:_".contains(*c)).take(64).collect())
        })
        .collect()
}

/// `unattended`: whether the target has unattended-upgrades installed (what the message
/// may promise depends on it).
pub fn check(runner: &Runner, unattended: bool) -> Vec<Finding> {
    let argv: Vec<String> = SIMULATE.iter().map(|s| s.to_string()).collect();
    match runner.run(&argv) {
        Ran::Ok(out) => {
            let pending = security_updates(&out);
            if pending.is_empty() {
                return Vec::new();
            }
            let mut named: Vec<&str> = pending.iter().map(String::as_str).take(12).collect();
            let more = format!("and {} more", pending.len().saturating_sub(12));
            if pending.len() > 12 {
                named.push(&more);
            }
            let by_itself = if unattended {
                " (unattended-upgrades, installed here, does it daily by itself)"
            } else {
                "; unattended-upgrades is not installed, so nothing installs them by itself: `sudo apt-get install unattended-upgrades` does it daily from now on"
            };
            vec![finding(
                "host.updates-pending",
                Severity::Warning,
                format!(
                    "{} security update(s) are waiting: {}. `sudo apt-get update && sudo apt-get upgrade` installs them{by_itself}.",
                    pending.len(),
                    named.join(", ")
                ),
            )]
        }
        // No apt here (not Debian's family), or no runner for this root.
        Ran::Failed { status, .. } if status.starts_with("could not start") => Vec::new(),
        Ran::Skipped => Vec::new(),
        Ran::Failed { status, output } => vec![finding(
            "host.updates-unknown",
            Severity::Warning,
            format!(
                "Pending security updates cannot be asked (`apt-get --simulate dist-upgrade`: {status}: {}).",
                output.lines().last().unwrap_or_default()
            ),
        )],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_updates_from_a_security_suite_count() {
        let sim = "\
NOTE: This is only a simulation!
Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
Inst cowsay [1.0-1] (1.1-1 Debian:12.8/stable [all])
Inst openssh-server [1:9.6p1-3ubuntu13] (1:9.6p1-3ubuntu13.5 Ubuntu:24.04/noble-updates, Ubuntu:24.04/noble-security [amd64])
Conf libssl3 (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])
";
        assert_eq!(security_updates(sim), ["libssl3", "openssh-server"]);
        assert!(security_updates("0 upgraded, 0 newly installed, 0 to remove and 0 not upgraded.\n").is_empty());
    }
}
