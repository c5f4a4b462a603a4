//! `clawguard status`: the last generations (what each changed and what the journal says
//! ran) and what waits for a confirmation, read from clawguard's records.

use std::fmt::Write as _;

use crate::apply::ApplyError;
use crate::apply::store::{After, GenerationState, Pending, Store};
use crate::plan::preview::shell_words;
use crate::target::{Root, now};

fn io_err(what: &str) -> impl FnOnce(std::io::Error) -> ApplyError {
    let what = what.to_owned();
    move |source| ApplyError::Io { what, source }
}

/// The generations and the pending confirmation, for `clawguard status`.
pub fn status(root: &Root) -> Result<String, ApplyError> {
    let store = Store::new(root);
    let gens = store.generations().map_err(io_err("reading clawguard's records"))?;
    let mut s = String::new();
    if gens.is_empty() {
        s.push_str("Nothing applied yet on this target.\n");
    }
    for g in gens.iter().rev().take(5) {
        let state = match g.state {
            GenerationState::Committed => "applied",
            GenerationState::RolledBack => "rolled back",
            GenerationState::Unfinished => "INTERRUPTED (the next run rolls it back)",
        };
        let _ = writeln!(
            s,
            "generation {} ({state}, {}): {} file(s), {} command(s)",
            g.manifest.number,
            humantime::format_rfc3339_seconds(
                std::time::UNIX_EPOCH + std::time::Duration::from_secs(g.manifest.created)
            ),
            g.manifest.files.len(),
            g.manifest.commands.len()
        );
        for f in &g.manifest.files {
            let _ = writeln!(s, "  {} {}", if f.existed { "changed" } else { "created" }, f.path);
        }
        // What ran is what the journal recorded, not what was planned.
        let trace = store.trace(g.manifest.number).map_err(io_err("reading the journal"))?;
        for (i, c) in g.manifest.commands.iter().enumerate() {
            let back = g.manifest.given_up.contains(&c.layer) || g.state == GenerationState::RolledBack;
            let what = match (trace.ran.contains(&i), trace.started.contains(&i)) {
                _ if !trace.began => "planned (the journal has no record of this generation)",
                // A reload is not undone: it runs again so the service reads the old files.
                (true, _) if back && c.reload => match trace.reran.iter().find(|(j, _)| *j == i) {
                    Some((_, true)) => "ran; run again with the old files after the rollback",
                    Some((_, false)) => "ran; run again with the old files after the rollback, and that FAILED",
                    None => "ran; not run again after the rollback (its files were new)",
                },
                (true, _) if back && c.undo.is_some() => "ran, then taken back",
                (true, _) if back => "ran (nothing to take back)",
                (true, _) => "ran",
                (false, true) => "FAILED or interrupted",
                (false, false) => "not run",
            };
            let _ = writeln!(s, "  {what}: {}", shell_words(&c.argv));
        }
    }
    let pending = match store.pending() {
        Ok(p) => p,
        Err(e) => {
            let _ = writeln!(
                s,
                "\nDAMAGED: {e}.\nThe automatic rollback armed for it still acts at its deadline. If you are logged in on the new settings, `sudo clawguard rollback` or re-apply; see /etc/clawguard/RECOVERY.md."
            );
            return Err(ApplyError::Damaged(s));
        }
    };
    match pending {
        Some(p) if !p.automatic() => {
            let _ = writeln!(
                s,
                "\nWAITING FOR CONFIRMATION: generation {} keeps the old SSH port(s) {:?} open until you log in with ssh -p {} user@host from a new terminal and run `sudo clawguard confirm` (no automatic rollback: it was applied with --confirm-timeout 0).",
                p.generation,
                p.old_ports,
                p.new_port.unwrap_or_default()
            );
        }
        Some(p) => {
            let left = p.deadline.saturating_sub(now());
            let how = p
                .new_port
                .map(|np| {
                    format!("log in from a new terminal with ssh -p {np} user@host and run `sudo clawguard confirm`")
                })
                .unwrap_or_else(|| "log in from a new terminal and run `sudo clawguard confirm`".into());
            let _ = writeln!(
                s,
                "\nWAITING FOR CONFIRMATION: generation {} rolls back in {left} s unless you {how}.",
                p.generation
            );
        }
        None => s.push_str("\nNo change is waiting for confirmation.\n"),
    }
    if let Ok(Some(Pending { then: After::Uninstall { .. }, .. })) = store.pending() {
        s.push_str("This is the first step of `clawguard uninstall`: confirming puts everything else back as it was before clawguard.\n");
    }
    if let Some(r) = store.last_rollback() {
        let _ = write!(s, "\nLast automatic rollback: {r}");
    }
    Ok(s)
}
