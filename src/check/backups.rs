//! Backups: the last run and the last verification, and whether they are overdue.

use super::{Finding, finding};
use crate::answers::Answers;
use crate::layers;
use crate::plan::Severity;
use crate::target::Root;
use crate::target::now;

/// The backups: the last run (failed, files it could not read, too old) and the last
/// drill (`backup verify`), from what those commands recorded.
pub(super) fn backups(
    answers: &Answers,
    root: &Root,
    managed: &std::collections::BTreeMap<String, String>,
) -> Vec<Finding> {
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
