//! Disk space where the host writes: the root, the logs, the engine, the agent's logs.

use super::{Finding, finding};
use crate::plan::Severity;
use crate::target::Root;

/// The file systems holding `paths` (under the root; each once), filled to 90% or more
/// of their space or inodes: a full /var/log stops the logs the check reads, a full Docker
/// data root stops the agent.
pub(super) fn disks(root: &Root, paths: &[&str]) -> Vec<Finding> {
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
