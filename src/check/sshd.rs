//! sshd's effective settings (`sshd -T`) against what the SSH layer wrote.

use super::{Finding, finding};
use crate::plan::Severity;
use crate::target::{Ran, Runner};

/// sshd's effective settings (`sshd -T`, every file it reads: a drop-in slipped in before
/// clawguard's wins) against what the applied drop-in asks for.
pub(super) fn sshd_drift(
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
