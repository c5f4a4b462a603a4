//! Forward: an apply as one transaction — recover what an earlier run left, refuse
//! blockers and hand edits, install the packages, the readiness checks and the services'
//! own checkers, then a new generation: arm the watchdog, back up, write under the
//! journal, activate, commit.

use std::io;

use super::backward::{Reloads, recover, rollback_generation, undo};
use super::store::{CommandRecord, FileRecord, Manifest, Pending, Store};
use super::{ApplyError, Conflict, Event, Keys, Options, Report, indent, io_err, lock, step};
use crate::layers::ssh;
use crate::plan::preview::{self, FileChange, shell_words};
use crate::plan::{CommandStep, Layer, Phase, Plan, Refusal};
use crate::target::{CRASH_ENV, Kind, Ran, Root, Runner, atomic, boundary, gist, now, sha256};
use crate::validate;

/// The answers a plan writes, kept with each generation (`confirm` re-plans from them).
fn answers_of(plan: &Plan) -> &str {
    plan.files.iter().find(|f| f.is_answers()).map_or("", |f| f.content.as_str())
}

/// Applies `plan` to `root`: exactly its files and commands, nothing else.
pub fn apply(plan: &Plan, root: &Root, opts: &Options, progress: &mut dyn FnMut(Event)) -> Result<Report, ApplyError> {
    let store = Store::new(root);
    // Nothing is written (not even the lock) before the checks pass on a fresh target.
    let mut held = lock(&store, false, false)?;
    let mut report = Report { recovered: recover(root, &opts.runner)?, ..Report::default() };
    let preview = preview::preview(plan, root);
    if !preview.has_changes() {
        return Ok(report);
    }

    // A managed path that is a symlink or a directory is never read, backed up or replaced.
    let refused: Vec<String> = preview
        .files
        .iter()
        .filter_map(|f| match f.change {
            FileChange::Refused(why) => Some(why.explain(&f.step.path)),
            _ => None,
        })
        .collect();
    if !refused.is_empty() {
        return Err(ApplyError::NotAFile(refused));
    }

    // What the plan itself refuses: a lockout first, then the rest (an agent uid that is a
    // login user, …), as plainly.
    let refused = |kind: Refusal| -> Vec<String> {
        plan.blockers.iter().filter(|b| b.kind == kind).map(|b| b.text.clone()).collect()
    };
    let lockout = refused(Refusal::Lockout);
    if !lockout.is_empty() {
        return Err(ApplyError::Lockout(lockout));
    }
    let unsafe_ = refused(Refusal::Unsafe);
    if !unsafe_.is_empty() {
        return Err(ApplyError::Blocked(unsafe_));
    }

    let mut changed: Vec<&preview::FileDiff> =
        preview.files.iter().filter(|f| f.change != FileChange::Unchanged).collect();
    if changed.is_empty() && !opts.runner.runs_commands() {
        report.skipped = preview.commands.iter().map(|c| shell_words(&c.argv)).collect();
        return Ok(report);
    }
    let managed = store.managed().map_err(io_err("reading clawguard's records"))?;
    let mut conflicts = Vec::new();
    for f in changed.iter().filter(|f| !f.step.is_answers()) {
        let Some(recorded) = managed.get(&f.step.path) else { continue };
        let Ok(Some(disk)) = root.read_managed(&f.step.path) else { continue };
        if &sha256(&disk) != recorded {
            let disk = String::from_utf8_lossy(&disk);
            let diff = crate::plan::preview::unified(
                "on disk (edited by hand)",
                "clawguard would write",
                disk.as_ref(),
                f.step.content.as_str(),
            );
            conflicts.push(Conflict { path: f.step.path.clone(), diff });
        }
    }
    if !conflicts.is_empty() && !opts.force {
        return Err(ApplyError::Conflicts(conflicts));
    }

    let total = 2 + changed.len() + preview.commands.len();
    progress(Event::Start { steps: total });
    // What the plan installs comes first, as a generation of its own: a bare host has no
    // checkers yet. The packages stay when the checks then refuse (the engine is needed to
    // build the agent's image, for one); `clawguard rollback` takes them back.
    let runs = opts.runner.runs_commands();
    let prepare: Vec<&CommandStep> =
        preview.commands.iter().copied().filter(|c| runs && c.phase == Phase::Prepare).collect();
    let changed_paths: Vec<String> = changed.iter().map(|f| f.step.path.clone()).collect();
    let changed_paths: Vec<&str> = changed_paths.iter().map(String::as_str).collect();
    let mut installed = None;
    if !prepare.is_empty() {
        // What does not depend on the packages (systemd, a free SSH port) refuses before
        // anything is installed.
        let early = readiness(plan, root, &opts.runner, &changed_paths, |c| !c.needs_packages());
        if !early.is_empty() {
            return Err(ApplyError::NotReady {
                problems: early.into_iter().map(|(_, e)| e).collect(),
                installed: None,
            });
        }
        if held.is_none() {
            held = lock(&store, false, true)?;
        }
        installed = Some(install(&store, root, opts, answers_of(plan), &prepare, &mut report, progress)?);
    }
    let mut commands: Vec<&CommandStep> =
        preview.commands.iter().copied().filter(|c| !runs || c.phase == Phase::Activate).collect();

    // Everything that would fail late is found now, before anything is written.
    let not_ready =
        checks(plan, root, opts, &changed_paths, installed.is_some(), progress).map_err(|e| e.into_error(installed))?;
    if let Some((layers, why)) = not_ready {
        changed.retain(|f| !f.step.layer.is_some_and(|l| layers.contains(&l)));
        commands.retain(|c| !layers.contains(&c.layer));
        report.not_applied.push((layers, why));
    }
    store_keys(root, &opts.keys)?;
    if changed.is_empty() && commands.is_empty() {
        progress(Event::Finish);
        return Ok(report);
    }

    let n = store.next_number().map_err(io_err("reading clawguard's records"))?;
    let files: Vec<FileRecord> = changed
        .iter()
        .map(|f| {
            // What cannot be read cannot be backed up: a stop, not a file taken as absent
            // (a rollback would then delete it).
            let old = root.read_managed(&f.step.path).map_err(io_err(format!("reading {}", f.step.path)))?;
            Ok(FileRecord {
                path: f.step.path.clone(),
                existed: old.is_some(),
                old_mode: root.mode(&f.step.path),
                old_sha: old.as_deref().map(sha256),
                new_sha: sha256(f.step.content.as_bytes()),
                mode: f.step.mode,
                layer: f.step.layer.map_or_else(|| "Answers".to_owned(), |l| format!("{l:?}")),
                made_dirs: missing_dirs(root, &f.step.path),
            })
        })
        .collect::<Result<_, ApplyError>>()?;
    let mut manifest = Manifest {
        number: n,
        created: now(),
        files,
        commands: commands
            .iter()
            .filter(|_| runs)
            .map(|c| CommandRecord {
                argv: c.argv.clone(),
                undo: c.undo.clone(),
                layer: format!("{:?}", c.layer),
                reload: c.is_reload(),
                starts_new: c.is_reload()
                    && c.undo.is_some()
                    && c.when_changed
                        .iter()
                        .all(|p| preview.files.iter().any(|f| f.step.path == *p && f.change == FileChange::New)),
                when_changed: c.when_changed.clone(),
                rerun_needs_old: c.rerun_needs_old,
            })
            .collect(),
        interim_ssh: plan.ssh_move.as_ref().is_some_and(|m| m.interim),
        given_up: Vec::new(),
        completes: opts.completes,
    };
    if held.is_none() {
        held = lock(&store, false, true)?;
    }
    let _held = held;
    progress(Event::Step { label: format!("backing up into generation {n}") });
    store.create(&manifest, answers_of(plan)).map_err(io_err(format!("creating generation {n}")))?;
    step(&store, &format!("begin {n}"))?;

    // A change to SSH or the firewall can cut the session running this apply (and kill
    // it): the automatic rollback is armed before anything is written, so a kill at any
    // later point is still undone without the user.
    let risky = Plan::needs_confirmation(changed.iter().map(|f| f.step), commands.iter().copied());
    let guard = risky && runs && opts.confirm_timeout > 0;
    let before = store.pending().map_err(io_err("reading the pending confirmation"))?;
    // What this apply waits for: from the first unconfirmed generation on.
    let waiting_for = |deadline: u64| Pending {
        generation: before.as_ref().map_or(n, |p| p.generation),
        deadline,
        new_port: plan.ssh_move.as_ref().map(|m| m.new_port),
        old_ports: plan.ssh_move.as_ref().map(|m| m.old_ports.clone()).unwrap_or_default(),
        applied_from: opts.ssh_connection.clone(),
        then: opts.then,
    };
    if guard {
        let pending = waiting_for(now() + opts.confirm_timeout);
        store.set_pending(&pending).map_err(io_err("recording the pending confirmation"))?;
        report.armed_with = Some(arm(root, opts, n).map_err(io_err("arming the automatic rollback"))?);
        step(&store, &format!("armed {n}"))?;
    }
    // After a failed step is rolled back, the confirmation waited for is the one before.
    let disarm = |store: &Store| -> Result<(), ApplyError> {
        if !guard {
            return Ok(());
        }
        match &before {
            Some(p) => store.set_pending(p),
            None => store.clear_pending(),
        }
        .map_err(io_err("restoring the pending confirmation"))
    };

    for f in &changed {
        progress(Event::Step { label: format!("writing {}", f.step.path) });
        let real = root.entry(&f.step.path);
        store.journal(&format!("write {}", f.step.path)).map_err(io_err("writing the journal"))?;
        let label = format!("write {}", f.step.path);
        let owner = match f.step.owner {
            crate::plan::Owner::Root => (0, 0),
            crate::plan::Owner::Uid(u, g) => (u, g),
        };
        atomic::write_with(&real, f.step.content.as_bytes(), f.step.mode, owner, |_| {
            boundary(&label);
            Ok(())
        })
        .map_err(io_err(format!("writing {}", real.display())))?;
        step(&store, &format!("wrote {}", f.step.path))?;
        report.written.push(f.step.path.clone());
    }

    let mut ran = Vec::new();
    for i in 0..commands.len() {
        let layer = commands[i].layer;
        if manifest.given_up.contains(&format!("{layer:?}")) {
            continue;
        }
        let Err(failure) = run_step(&store, opts, &commands, i, &mut ran, &mut report, progress)? else { continue };
        // A compose `up` that failed may have started part of the project: its `down`
        // runs in the rollback like that of one that succeeded.
        if manifest.commands.get(i).is_some_and(|c| c.starts_new) {
            ran.push(i);
        }
        // The agent's layers and the backup fail alone: the hardening around them stays
        // (and is still confirmed or rolled back as usual), with the answers typed.
        // Anything else takes the whole generation back.
        if let Some(group) = fails_alone(layer) {
            let names: Vec<String> = group.iter().map(|l| format!("{l:?}")).collect();
            let undone = undo(&store, root, &opts.runner, &manifest, Some(&ran), Some(&names), Reloads::MustWork)?;
            manifest.given_up.extend(names);
            store.update_manifest(&manifest).map_err(io_err("recording the layers given up"))?;
            report
                .written
                .retain(|p| !manifest.files.iter().any(|f| &f.path == p && manifest.given_up.contains(&f.layer)));
            report.not_applied.push((group.to_vec(), format!("{failure} Taken back: {}", undone.join("; "))));
            continue;
        }
        let rolled_back = rollback_generation(&store, root, &opts.runner, &manifest, Some(&ran))?;
        disarm(&store)?;
        return Err(ApplyError::StepFailed {
            step: failure.step,
            status: failure.status,
            output: failure.output,
            rolled_back,
        });
    }

    // The new SSH port must really listen before anything depends on it (ssh.socket).
    if let Some(mv) = &plan.ssh_move
        && opts.runner.runs_commands()
        && changed.iter().any(|f| {
            f.step.path == ssh::DROPIN || f.step.path == crate::layers::launchd::path(crate::host::platform::SSHD_LABEL)
        })
        && let Err(why) = wait_listening(&opts.runner, plan.platform, mv.new_port)
    {
        let rolled_back = rollback_generation(&store, root, &opts.runner, &manifest, Some(&ran))?;
        disarm(&store)?;
        return Err(ApplyError::StepFailed {
            step: format!("check that sshd listens on port {}", mv.new_port),
            status: why,
            output: String::new(),
            rolled_back,
        });
    }

    let kept = |layer: &String| !manifest.given_up.contains(layer);
    if !manifest.given_up.is_empty()
        && !manifest.files.iter().any(|f| kept(&f.layer))
        && !ran.iter().any(|&i| kept(&manifest.commands[i].layer))
    {
        // Everything this generation did was taken back with the agent's layers.
        store.mark(n, "rolled-back").map_err(io_err("recording the rollback"))?;
        store.journal(&format!("rolled back {n}")).map_err(io_err("writing the journal"))?;
        disarm(&store)?;
        report.armed_with = None;
        progress(Event::Finish);
        return Ok(report);
    }
    store.mark(n, "committed").map_err(io_err("committing"))?;
    step(&store, &format!("commit {n}"))?;
    report.generation = Some(n);

    let moved = plan.ssh_move.as_ref().is_some_and(|m| m.interim) && changed.iter().any(|f| f.step.path == ssh::DROPIN);
    if !guard && runs && moved {
        // No automatic rollback was asked for (`--confirm-timeout 0`), but the old port
        // still stays open until a login on the new one is confirmed.
        let pending = waiting_for(0);
        store.set_pending(&pending).map_err(io_err("recording the pending confirmation"))?;
        report.pending = Some(pending);
    }
    if guard {
        // The full time to confirm counts from now, once everything is in place.
        let mut pending = store
            .pending()
            .map_err(io_err("reading the pending confirmation"))?
            .ok_or_else(|| ApplyError::Confirm("the pending confirmation disappeared during the apply".into()))?;
        pending.deadline = now() + opts.confirm_timeout;
        store.set_pending(&pending).map_err(io_err("recording the pending confirmation"))?;
        report.pending = Some(pending);
    }
    progress(Event::Finish);
    Ok(report)
}

/// Runs command `i` of `commands` under the journal, retrying it for its `retry_secs`.
/// `Ok(Err(failure))` when the command failed; the caller decides what to take back.
fn run_step(
    store: &Store,
    opts: &Options,
    commands: &[&CommandStep],
    i: usize,
    ran: &mut Vec<usize>,
    report: &mut Report,
    progress: &mut dyn FnMut(Event),
) -> Result<Result<(), Failure>, ApplyError> {
    let c = commands[i];
    let shown = shell_words(&c.argv);
    let verb = if opts.runner.runs_commands() { "running" } else { "not running" };
    progress(Event::Step { label: format!("{verb} {shown}") });
    step(store, &format!("run {i}"))?;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(c.retry_secs.into());
    loop {
        match opts.runner.run(&c.argv) {
            Ran::Ok(_) => {
                // The command ran; the journal does not know yet (a kill here is the case
                // recovery must treat as "may have run").
                boundary(&format!("did {i}"));
                ran.push(i);
                step(store, &format!("ran {i}"))?;
                report.ran.push(shown);
                return Ok(Ok(()));
            }
            Ran::Skipped => {
                report.skipped.push(shown);
                return Ok(Ok(()));
            }
            // A command that cannot run at all (126: not executable, 127: not found — an
            // image without the program a check calls) will not start to, however long
            // it is retried.
            Ran::Failed { ref status, .. }
                if std::time::Instant::now() < deadline
                    && status != "exit status 126"
                    && status != "exit status 127" =>
            {
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
            Ran::Failed { status, output } => return Ok(Err(Failure { step: shown, status, output: gist(&output) })),
        }
    }
}

/// A command that failed: what ran, how it ended, the gist of what it said.
#[derive(Debug)]
struct Failure {
    step: String,
    status: String,
    output: String,
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "`{}` failed ({}): {}.", self.step, self.status, self.output.replace('\n', " / "))
    }
}

/// Installs the plan's packages as a generation of its own (journaled; its undo removes
/// them again). Returns the generation's number.
fn install(
    store: &Store,
    root: &Root,
    opts: &Options,
    answers: &str,
    prepare: &[&CommandStep],
    report: &mut Report,
    progress: &mut dyn FnMut(Event),
) -> Result<u32, ApplyError> {
    let n = store.next_number().map_err(io_err("reading clawguard's records"))?;
    let before = crate::host::installed_packages(root);
    let mut manifest = Manifest {
        number: n,
        created: now(),
        files: Vec::new(),
        commands: prepare
            .iter()
            .map(|c| CommandRecord {
                argv: c.argv.clone(),
                undo: c.undo.clone(),
                layer: format!("{:?}", c.layer),
                reload: false,
                starts_new: false,
                when_changed: Vec::new(),
                rerun_needs_old: false,
            })
            .collect(),
        interim_ssh: false,
        given_up: Vec::new(),
        completes: None,
    };
    store.create(&manifest, answers).map_err(io_err(format!("creating generation {n}")))?;
    step(store, &format!("begin {n}"))?;
    let mut ran = Vec::new();
    for i in 0..prepare.len() {
        if let Err(failure) = run_step(store, opts, prepare, i, &mut ran, report, progress)? {
            let rolled_back = rollback_generation(store, root, &opts.runner, &manifest, Some(&ran))?;
            return Err(ApplyError::StepFailed {
                step: failure.step,
                status: failure.status,
                output: failure.output,
                rolled_back,
            });
        }
    }
    // What apt pulled in with the packages asked for (containerd, runc… with docker.io)
    // goes with them on the way back; what was there before stays.
    let pulled: Vec<String> = crate::host::installed_packages(root).difference(&before).cloned().collect();
    let apt_remove = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "-q"];
    let mut widened = false;
    for c in manifest.commands.iter_mut() {
        if !pulled.is_empty() && c.undo.as_ref().is_some_and(|u| u.starts_with(&apt_remove.map(String::from))) {
            let mut undo: Vec<String> = apt_remove.map(String::from).to_vec();
            undo.extend(pulled.iter().cloned());
            c.undo = Some(undo);
            widened = true;
        }
    }
    if widened {
        store.update_manifest(&manifest).map_err(io_err("recording what the install pulled in"))?;
    }
    store.mark(n, "committed").map_err(io_err("committing"))?;
    step(store, &format!("commit {n}"))?;
    report.installed = Some(n);
    Ok(n)
}

/// Why the checks before writing refused; becomes an [`ApplyError`] once it is known what
/// had to be taken back.
enum Stop {
    NotReady(Vec<String>),
    Validation(Vec<String>),
}

impl Stop {
    fn into_error(self, installed: Option<u32>) -> ApplyError {
        match self {
            Stop::NotReady(problems) => ApplyError::NotReady { problems, installed },
            Stop::Validation(failures) => ApplyError::Validation { failures, installed },
        }
    }
}

/// The agent's layers: they share the compose project, and when they cannot be applied
/// (no engine, no image, a failed `up`) the rest of the hardening goes on without them.
pub const AGENT_LAYERS: [Layer; 2] = [Layer::Sandbox, Layer::Egress];

/// The layers whose failing command takes back only themselves, not the generation: the
/// agent's (together: they share the compose project), and the backup (a destination that
/// does not answer yet — a typo, a server not set up — must not undo the SSH, firewall
/// and monitoring that work, nor throw away what was typed).
fn fails_alone(layer: Layer) -> Option<&'static [Layer]> {
    if AGENT_LAYERS.contains(&layer) {
        Some(&AGENT_LAYERS)
    } else if layer == Layer::Backup {
        Some(&[Layer::Backup])
    } else {
        None
    }
}

/// Everything that would fail late, checked before anything is written: the host's
/// readiness (systemd, the engine, images, free ports), then the services' own checkers
/// on the files that change (and the rest of their layer), side by side. A readiness
/// problem of the agent's layers does not stop the others: it comes back as the layers
/// to leave out and why.
fn checks(
    plan: &Plan,
    root: &Root,
    opts: &Options,
    changed: &[&str],
    early_done: bool,
    progress: &mut dyn FnMut(Event),
) -> Result<Option<(Vec<Layer>, String)>, Stop> {
    let mut left_out = None;
    if opts.runner.runs_commands() {
        progress(Event::Step { label: "checking that the host is ready".into() });
        let problems = readiness(plan, root, &opts.runner, changed, |c| !early_done || c.needs_packages());
        let (agent, rest): (Vec<_>, Vec<_>) = problems.into_iter().partition(|(l, _)| AGENT_LAYERS.contains(l));
        if !rest.is_empty() {
            return Err(Stop::NotReady(rest.into_iter().map(|(_, e)| e).collect()));
        }
        if !agent.is_empty() {
            left_out = Some((AGENT_LAYERS.to_vec(), agent.into_iter().map(|(_, e)| e).collect::<Vec<_>>().join("; ")));
        }
    }
    progress(Event::Step { label: "checking the new configuration with the services' own tools".into() });
    let skip: Vec<Layer> = left_out.as_ref().map(|(l, _)| l.clone()).unwrap_or_default();
    let layers: Vec<Layer> = plan
        .files
        .iter()
        .filter(|f| changed.contains(&f.path.as_str()))
        .filter_map(|f| f.layer.filter(|l| !skip.contains(l)))
        .collect();
    let outcomes = validate::run_for(plan, root, |f| f.layer.is_some_and(|l| layers.contains(&l)))
        .map_err(|e| Stop::Validation(vec![format!("cannot create a staging directory: {e}")]))?;
    let failures: Vec<String> = outcomes
        .iter()
        .filter_map(|o| o.result.as_ref().err().map(|e| format!("{} ({}):\n{}", o.file, o.checker, indent(e))))
        .collect();
    if failures.is_empty() { Ok(left_out) } else { Err(Stop::Validation(failures)) }
}

/// The plan's readiness checks that `which` selects and the changed files make needed,
/// side by side (an image pull may take a while): the failed ones, with their layer.
fn readiness(
    plan: &Plan,
    root: &Root,
    runner: &Runner,
    changed: &[&str],
    which: impl Fn(&crate::plan::Check) -> bool,
) -> Vec<(Layer, String)> {
    let needed = |when: &[String]| when.is_empty() || when.iter().any(|p| changed.contains(&p.as_str()));
    let wanted: Vec<_> = plan.preflight.iter().filter(|p| which(&p.check) && needed(&p.when_changed)).collect();
    std::thread::scope(|s| {
        let handles: Vec<_> = wanted
            .iter()
            .map(|p| {
                s.spawn(|| super::preflight::check(&p.check, root, runner, plan.platform).err().map(|e| (p.layer, e)))
            })
            .collect();
        // A check that panicked is a refusal, never a pass (and not an agent-only one).
        handles
            .into_iter()
            .filter_map(|h| h.join().unwrap_or_else(|_| Some((Layer::Ssh, "a readiness check panicked".into()))))
            .collect()
    })
}

/// Polls until `port` is listening (through the runner), for up to 5 seconds: `ss` on
/// Linux, `lsof` on a Mac (which has no `ss`; there launchd holds sshd's socket).
pub(crate) fn wait_listening(runner: &Runner, platform: Kind, port: u16) -> Result<(), String> {
    let argv: Vec<String> = match platform {
        Kind::Linux => ["ss", "-Htln", &format!("sport = :{port}")].iter().map(|s| s.to_string()).collect(),
        Kind::MacOs => {
            ["lsof", "-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN"].iter().map(|s| s.to_string()).collect()
        }
    };
    for _ in 0..50 {
        match runner.run(&argv) {
            Ran::Ok(out) if !out.trim().is_empty() => return Ok(()),
            Ran::Skipped => return Ok(()),
            _ => std::thread::sleep(std::time::Duration::from_millis(100)),
        }
    }
    Err(format!("nothing listens on port {port} after the reload"))
}

/// Starts the watchdog that rolls back unless `clawguard confirm` comes first. It outlives
/// this process: a systemd timer on systemd hosts, else a detached session (`setsid`).
pub(super) fn arm(root: &Root, opts: &Options, n: u32) -> io::Result<String> {
    let mut args: Vec<String> = vec![
        "watchdog".into(),
        "--root".into(),
        root.dir().display().to_string(),
        "--generation".into(),
        n.to_string(),
        "--deadline".into(),
        (now() + opts.confirm_timeout).to_string(),
    ];
    if let Runner::Program(p) = &opts.runner {
        args.push("--runner".into());
        args.push(p.display().to_string());
    }
    let exe = opts.exe.display().to_string();
    if root.is_live() && std::path::Path::new("/run/systemd/system").exists() {
        let mut argv = vec![
            "systemd-run".to_string(),
            format!("--on-active={}s", opts.confirm_timeout),
            format!("--unit=clawguard-rollback-{n}"),
            "--description=clawguard: roll back unless confirmed".into(),
            exe,
        ];
        argv.extend(args);
        return match Runner::Live.run(&argv) {
            Ran::Ok(_) => Ok(format!("systemd timer clawguard-rollback-{n}")),
            Ran::Failed { status, output } => Err(io::Error::other(format!("systemd-run: {status}: {output}"))),
            Ran::Skipped => unreachable!("the live runner runs"),
        };
    }
    // A session of its own (setsid(2), here rather than setsid(1), which macOS lacks): the
    // end of this login's session does not reach it.
    let mut cmd = std::process::Command::new(&exe);
    cmd.args(&args)
        .env_remove(CRASH_ENV)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    // SAFETY: setsid is async-signal-safe, the only call between fork and exec.
    unsafe {
        std::os::unix::process::CommandExt::pre_exec(&mut cmd, || {
            if libc::setsid() == -1 { Err(io::Error::last_os_error()) } else { Ok(()) }
        });
    }
    cmd.spawn().map_err(|e| io::Error::other(format!("the watchdog could not start: {e}")))?;
    Ok("a detached watchdog process".into())
}

/// The directories above `path` that do not exist yet, outermost first (what writing it
/// creates).
fn missing_dirs(root: &Root, path: &str) -> Vec<String> {
    let mut out: Vec<String> = std::path::Path::new(path)
        .ancestors()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .filter(|a| a != "/" && !a.is_empty())
        .take_while(|a| !root.exists(a))
        .collect();
    out.reverse();
    out
}

fn store_keys(root: &Root, keys: &Keys) -> Result<(), ApplyError> {
    let vault = crate::vault::Vault::new(root);
    for (name, value) in keys {
        let id: crate::answers::Ident =
            name.parse().map_err(|e: crate::answers::Invalid| ApplyError::KeyName(name.clone(), e.0))?;
        vault.set(&id, value.as_bytes())?;
    }
    Ok(())
}
