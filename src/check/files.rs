//! The managed files: each as clawguard last wrote it, or edited by hand, missing, or not
//! applied yet.

use super::{Finding, finding};
use crate::plan::Severity;
use crate::target::Root;
use crate::target::sha256;

/// Each file the plan manages against what is on disk and what clawguard recorded.
pub(super) fn managed_files(
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
