//! clawguard's own records: a confirmation waiting or overdue, an apply cut off, an
//! automatic rollback.

use super::{Finding, finding};
use crate::apply::Store;
use crate::apply::store::GenerationState;
use crate::plan::Severity;
use crate::target::now;

/// clawguard's own records: a confirmation waiting or overdue, an automatic rollback, an
/// alert that did not arrive.
pub(super) fn records(store: &Store) -> Vec<Finding> {
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
    match store.last_alert::<super::alert::LastAlert>() {
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
