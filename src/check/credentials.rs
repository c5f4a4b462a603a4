//! The vault's keys: what clawguard handed over is where it wrote it, and nothing else.

use super::{Finding, finding};
use crate::plan::Severity;
use crate::target::Root;
use crate::target::sha256;

/// The vault and the keys unlocked for the agent against what clawguard last wrote: a key
/// replaced (pointing the agent at an attacker's endpoint) or slipped in.
pub(super) fn credentials(root: &Root) -> Vec<Finding> {
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
