//! Backward: what takes a generation back — an interrupted apply found on the next run
//! (`recover`), `rollback`, the watchdog at its deadline, and `confirm`, which disarms it.

use std::fs;

use super::store::{self, FileRecord, GenerationState, Manifest, Pending, Store};
use super::{ApplyError, io_err, lock};
use crate::host::SshConnection;
use crate::plan::preview::shell_words;
use crate::target::{Ran, Root, Runner, atomic, gist, now, sha256};

/// Puts back every file of generation `m` and takes back its commands (those in `ran`, or
/// all of them), then re-runs its reloads so services read the old files; marks the
/// generation rolled back. Returns what it did, ending with the verification.
pub(super) fn rollback_generation(
    store: &Store,
    root: &Root,
    runner: &Runner,
    m: &Manifest,
    ran: Option<&[usize]>,
) -> Result<Vec<String>, ApplyError> {
    rollback_generation_as(store, root, runner, m, ran, Reloads::MustWork)
}

/// Whether a service reloaded after its files are restored must come up for the rollback to
/// count as complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Reloads {
    /// A rollback: the host keeps running on the restored files; a service that does not
    /// come up is a failed rollback.
    MustWork,
    /// An uninstall: the files are the host's own from before clawguard (and the packages
    /// clawguard installed go next). A service other than sshd that does not come up with
    /// them — Debian's fail2ban without auth.log — is said, not a failure: it is the host
    /// as it was. sshd must still reload.
    HostsOwn,
}

fn rollback_generation_as(
    store: &Store,
    root: &Root,
    runner: &Runner,
    m: &Manifest,
    ran: Option<&[usize]>,
    reloads: Reloads,
) -> Result<Vec<String>, ApplyError> {
    let done = undo(store, root, runner, m, ran, None, reloads)?;
    store.mark(m.number, "rolled-back").map_err(io_err("recording the rollback"))?;
    store.journal(&format!("rolled back {}", m.number)).map_err(io_err("writing the journal"))?;
    Ok(done)
}

/// Takes back what generation `m` did — only the layers in `only` when given — leaving
/// alone the layers it already gave up. Returns what it did, ending with the verification.
pub(super) fn undo(
    store: &Store,
    root: &Root,
    runner: &Runner,
    m: &Manifest,
    ran: Option<&[usize]>,
    only: Option<&[String]>,
    reloads: Reloads,
) -> Result<Vec<String>, ApplyError> {
    let mine = |layer: &String| !m.given_up.contains(layer) && only.is_none_or(|o| o.contains(layer));
    let mut done = Vec::new();
    let did_run = |i: usize| ran.is_none_or(|r| r.contains(&i)) && mine(&m.commands[i].layer);
    let run = |argv: &[String], done: &mut Vec<String>| match runner.run(argv) {
        Ran::Ok(_) => done.push(format!("ran {}", shell_words(argv))),
        Ran::Skipped => {}
        Ran::Failed { status, output } => {
            done.push(format!("FAILED to run {} ({status}: {})", shell_words(argv), gist(&output)))
        }
    };
    // What this generation started from new files is stopped while those files exist.
    for (i, c) in m.commands.iter().enumerate().rev() {
        if let (true, true, Some(undo)) = (c.starts_new, did_run(i), &c.undo) {
            run(undo, &mut done);
        }
    }
    let files: Vec<&FileRecord> = m.files.iter().filter(|f| mine(&f.layer)).collect();
    for f in files.iter().rev() {
        let real = root.entry(&f.path);
        atomic::sweep(&real);
        if f.existed {
            let data =
                store.backup_of(m.number, &f.path).map_err(io_err(format!("reading the backup of {}", f.path)))?;
            if root.read_managed(&f.path).ok().flatten().as_deref() != Some(data.as_slice())
                || root.mode(&f.path) != f.old_mode
            {
                atomic::write(&real, &data, f.old_mode.unwrap_or(f.mode))
                    .map_err(io_err(format!("restoring {}", f.path)))?;
                done.push(format!("restored {}", f.path));
            }
        } else {
            if fs::symlink_metadata(&real).is_ok() {
                atomic::remove(&real).map_err(io_err(format!("removing {}", f.path)))?;
                done.push(format!("removed {}", f.path));
            }
            // The directories it made go too, once empty (another file may still be there).
            for dir in f.made_dirs.iter().rev() {
                let real = root.entry(dir);
                if fs::symlink_metadata(&real).is_ok_and(|m| m.is_dir())
                    && fs::read_dir(&real).is_ok_and(|mut d| d.next().is_none())
                {
                    fs::remove_dir(&real).map_err(io_err(format!("removing {dir}")))?;
                }
            }
        }
    }
    for (i, c) in m.commands.iter().enumerate().rev() {
        if let (true, false, Some(undo)) = (did_run(i), c.starts_new, &c.undo) {
            run(undo, &mut done);
        }
    }
    // Reloads run again so services read the old files; a check or a signal only where one
    // of its files is back (for files the rollback removed there is nothing to act on).
    let restored = |p: &String| m.files.iter().any(|f| &f.path == p && f.existed);
    for (i, c) in m.commands.iter().enumerate() {
        if c.reload && !c.starts_new && did_run(i) && (!c.rerun_needs_old || c.when_changed.iter().any(restored)) {
            let ran = runner.run(&c.argv);
            // For `status`: how the reload went with the old files (a reload is not undone).
            let how = if matches!(ran, Ran::Failed { .. }) { "failed" } else { "ok" };
            store.journal(&format!("reran {} {i} {how}", m.number)).map_err(io_err("writing the journal"))?;
            match ran {
                Ran::Failed { status, output } if reloads == Reloads::HostsOwn && c.layer != "Ssh" => {
                    done.push(format!(
                        "note: {} failed with the host's own settings ({status}: {}): as before clawguard",
                        shell_words(&c.argv),
                        gist(&output).replace('\n', " / ")
                    ))
                }
                Ran::Ok(_) => done.push(format!("ran {}", shell_words(&c.argv))),
                Ran::Skipped => {}
                Ran::Failed { status, output } => {
                    done.push(format!("FAILED to run {} ({status}: {})", shell_words(&c.argv), gist(&output)))
                }
            }
        }
    }
    // Verify: every file is as it was before the generation, every undo step succeeded.
    let wrong: Vec<&str> = files
        .iter()
        .filter(|f| root.read_managed(&f.path).ok().flatten().as_deref().map(sha256) != f.old_sha)
        .map(|f| f.path.as_str())
        .collect();
    let failed = done.iter().filter(|l| l.starts_with("FAILED")).count();
    if !wrong.is_empty() {
        done.push(format!("NOT restored: {}", wrong.join(", ")));
    }
    if failed > 0 {
        done.push(format!("NOT verified: {failed} step(s) of the rollback of generation {} failed (above)", m.number));
    } else if wrong.is_empty() {
        done.push(format!("verified: all {} file(s) of generation {} are as before", files.len(), m.number));
    }
    Ok(done)
}

/// Rolls back generations an interrupted apply left unfinished (found by their missing
/// `committed` marker), undoing the commands the journal says ran.
pub fn recover(root: &Root, runner: &Runner) -> Result<Vec<String>, ApplyError> {
    let store = Store::new(root);
    let gens = store.generations().map_err(io_err("reading clawguard's records"))?;
    let mut out = Vec::new();
    for g in gens.iter().filter(|g| g.state == GenerationState::Unfinished) {
        let n = g.manifest.number;
        // A command announced but not recorded as done may have run (the kill came while it
        // ran): it is taken back too, and every undo is safe to run when its command did not.
        // Without the generation's `begin` in the journal nothing is known: all are taken back.
        let trace = store.trace(n).map_err(io_err("reading the journal"))?;
        let maybe = trace.maybe_ran(g.manifest.commands.len());
        out.push(format!("generation {n} was interrupted and has been rolled back"));
        if !trace.began {
            out.push(format!("the journal has no record of generation {n}: every command it planned was taken back"));
        }
        out.append(&mut rollback_generation(&store, root, runner, &g.manifest, Some(&maybe))?);
        if store.pending().map_err(io_err("reading the pending confirmation"))?.is_some_and(|p| p.generation == n) {
            store.clear_pending().map_err(io_err("clearing the pending confirmation"))?;
        }
    }
    Ok(out)
}

/// `clawguard rollback`: takes back the last committed generation.
pub fn rollback_last(root: &Root, runner: &Runner) -> Result<Vec<String>, ApplyError> {
    let store = Store::new(root);
    let _lock = lock(&store, false, false)?;
    let mut out = recover(root, runner)?;
    let gens = store.generations().map_err(io_err("reading clawguard's records"))?;
    let Some(last) = gens.iter().rev().find(|g| g.state == GenerationState::Committed) else {
        if out.is_empty() {
            return Err(ApplyError::Confirm("there is nothing to roll back: no applied generation".into()));
        }
        // What there was to roll back was an interrupted apply, and that is done.
        return if incomplete(&out) { Err(ApplyError::RollbackIncomplete(out)) } else { Ok(out) };
    };
    // A generation `confirm` wrote completes an earlier one's SSH move: both are one change.
    let first = last.manifest.completes.unwrap_or(last.manifest.number);
    let chain: Vec<&store::Generation> =
        gens.iter().rev().filter(|g| g.state == GenerationState::Committed && g.manifest.number >= first).collect();
    if chain.len() > 1 {
        let later: Vec<String> = chain[..chain.len() - 1].iter().map(|g| g.manifest.number.to_string()).collect();
        out.push(format!(
            "generation{} {} completed the SSH move of generation {first} when it was confirmed: rolling back the move as a whole",
            if later.len() > 1 { "s" } else { "" },
            later.join(" and ")
        ));
    }
    for g in chain {
        out.append(&mut rollback_generation(&store, root, runner, &g.manifest, None)?);
        if incomplete(&out) {
            return Err(ApplyError::RollbackIncomplete(out));
        }
    }
    let last = gens.iter().find(|g| g.manifest.number == first).unwrap_or(last);
    if store
        .pending()
        .map_err(io_err("reading the pending confirmation"))?
        .is_some_and(|p| p.generation >= last.manifest.number)
    {
        store.clear_pending().map_err(io_err("clearing the pending confirmation"))?;
    }
    if incomplete(&out) {
        return Err(ApplyError::RollbackIncomplete(out));
    }
    Ok(out)
}

/// `clawguard uninstall`'s last step: takes back every applied generation, newest first,
/// each exactly as `clawguard rollback` would. Between two of them the host is as it was
/// after the older one (a state it was in, and confirmed, before): a kill anywhere leaves
/// a host that works, and running `uninstall` again goes on. Stops at the first rollback
/// that does not complete, with the records kept.
///
/// The files in `spare` stay as they are (and out of the verification).
pub fn roll_back_all(root: &Root, runner: &Runner, spare: &[String]) -> Result<Vec<String>, ApplyError> {
    let store = Store::new(root);
    let _lock = lock(&store, false, false)?;
    let mut out = recover(root, runner)?;
    if let Some(p) = store.pending().map_err(io_err("reading the pending confirmation"))? {
        return Err(ApplyError::Confirm(format!(
            "generation {} is waiting for its confirmation: `sudo clawguard confirm` from a new login (or `sudo clawguard rollback`) first",
            p.generation
        )));
    }
    let gens = store.generations().map_err(io_err("reading clawguard's records"))?;
    for g in gens.iter().rev().filter(|g| g.state == GenerationState::Committed) {
        let mut m = g.manifest.clone();
        m.files.retain(|f| !spare.contains(&f.path));
        out.append(&mut rollback_generation_as(&store, root, runner, &m, None, Reloads::HostsOwn)?);
        if incomplete(&out) {
            return Err(ApplyError::RollbackIncomplete(out));
        }
    }
    Ok(out)
}

/// Whether a rollback's own report says it did not complete.
pub fn incomplete(lines: &[String]) -> bool {
    lines.iter().any(|l| l.starts_with("NOT ") || l.starts_with("FAILED"))
}

/// Rolls back every generation from the pending one on, newest first.
fn rollback_pending(store: &Store, root: &Root, runner: &Runner, from: u32) -> Result<Vec<String>, ApplyError> {
    let gens = store.generations().map_err(io_err("reading clawguard's records"))?;
    let mut out = Vec::new();
    for g in gens.iter().rev().filter(|g| g.state == GenerationState::Committed && g.manifest.number >= from) {
        out.append(&mut rollback_generation(store, root, runner, &g.manifest, None)?);
    }
    store.clear_pending().map_err(io_err("clearing the pending confirmation"))?;
    Ok(out)
}

/// `clawguard watchdog`: waits for the pending deadline; rolls back unless confirmed.
/// Returns None when the change was confirmed (or nothing was pending).
///
/// `armed` is the generation and deadline it was started for: when the pending record is
/// damaged, those are what it acts on — a damaged record never means "nothing pending".
/// An apply killed after arming left its generation unfinished: that is rolled back first.
pub fn watchdog(root: &Root, runner: &Runner, armed: Option<(u32, u64)>) -> Result<Option<Vec<String>>, ApplyError> {
    let store = Store::new(root);
    loop {
        let pending = match store.pending() {
            Ok(p) => p,
            Err(e) => {
                let Some((n, deadline)) = armed else { return Err(io_err("reading the pending confirmation")(e)) };
                if now() < deadline {
                    std::thread::sleep(std::time::Duration::from_millis(500));
                    continue;
                }
                let _lock = lock(&store, true, false)?;
                let mut done = vec![format!(
                    "the pending confirmation cannot be read ({e}): rolling back from generation {n}, the one this watchdog was armed for"
                )];
                done.append(&mut recover(root, runner)?);
                done.append(&mut rollback_pending(&store, root, runner, n)?);
                let text = format!("{}: {}\n", now(), done.join("\n"));
                store.set_last_rollback(&text).map_err(io_err("recording the rollback"))?;
                return Ok(Some(done));
            }
        };
        let Some(p) = pending else { return Ok(None) };
        if !p.automatic() {
            return Ok(None);
        }
        let now = now();
        if now >= p.deadline {
            let _lock = lock(&store, true, false)?;
            // An apply killed after it armed this watchdog left its generation unfinished.
            let mut done = recover(root, runner)?;
            // A confirmation, or a later apply with a new deadline, may have come while we
            // waited for the lock.
            let Some(p) =
                store.pending().map_err(io_err("reading the pending confirmation"))?.filter(Pending::automatic)
            else {
                if done.is_empty() {
                    return Ok(None);
                }
                let text = format!("{}: the apply was interrupted before it finished:\n{}\n", now, done.join("\n"));
                store.set_last_rollback(&text).map_err(io_err("recording the rollback"))?;
                return Ok(Some(done));
            };
            if crate::target::now() < p.deadline {
                continue;
            }
            done.append(&mut rollback_pending(&store, root, runner, p.generation)?);
            let text = format!(
                "{}: not confirmed within the time limit; rolled back from generation {}:\n{}\n",
                now,
                p.generation,
                done.join("\n")
            );
            store.set_last_rollback(&text).map_err(io_err("recording the rollback"))?;
            return Ok(Some(done));
        }
        std::thread::sleep(std::time::Duration::from_millis(((p.deadline - now) * 1000).clamp(100, 1000)));
    }
}

/// `clawguard confirm`: accepts the pending change if this process runs in a *new* SSH
/// session on the new port (or the change was made from a console).
pub fn confirm(root: &Root, ssh_connection: Option<&str>) -> Result<Pending, ApplyError> {
    let store = Store::new(root);
    let _lock = lock(&store, false, false)?;
    let Some(p) = store.pending().map_err(io_err("reading the pending confirmation"))? else {
        return Err(ApplyError::Confirm("nothing is waiting for confirmation (see `clawguard status`)".into()));
    };
    if let Some(from) = &p.applied_from {
        let port_hint = p.new_port.map(|np| format!(" -p {np}")).unwrap_or_default();
        let Some(conn) = ssh_connection.and_then(SshConnection::parse) else {
            return Err(ApplyError::Confirm(format!(
                "run `clawguard confirm` from a new SSH login (ssh{port_hint} user@host): that login is the proof the change works"
            )));
        };
        if Some(from.as_str()) == ssh_connection {
            return Err(ApplyError::Confirm(format!(
                "this is the session that applied the change; open a new one (ssh{port_hint} user@host) and run `clawguard confirm` there"
            )));
        }
        if let Some(np) = p.new_port
            && conn.server_port != np
        {
            return Err(ApplyError::Confirm(format!(
                "this login came in on port {}, not on the new port {np}: log in with ssh -p {np} and confirm from there",
                conn.server_port
            )));
        }
    }
    store.clear_pending().map_err(io_err("clearing the pending confirmation"))?;
    store.journal(&format!("confirmed {}", p.generation)).map_err(io_err("writing the journal"))?;
    disarm_timers(root);
    Ok(p)
}

/// Stops the systemd timers that would start a watchdog (`arm`): once confirmed, it would
/// only find nothing to do — or, after an uninstall, no clawguard to run.
fn disarm_timers(root: &Root) {
    if root.is_live() && std::path::Path::new("/run/systemd/system").exists() {
        let argv: Vec<String> = ["systemctl", "stop", "clawguard-rollback-*.timer"].map(String::from).to_vec();
        if let Ran::Failed { status, output } = Runner::Live.run(&argv) {
            eprintln!(
                "note: the automatic rollback's timer could not be stopped ({status}: {}); when it fires it finds nothing to roll back.",
                crate::sink::terminal(&gist(&output))
            );
        }
    }
}
