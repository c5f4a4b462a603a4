//! The apply engine: the only code that changes a target. It executes a plan as one
//! transaction — guards, conflict check, the services' own checkers, backups into a new
//! generation, atomic writes under a journal, activation, commit — and rolls back what it
//! did when a step fails, when it was interrupted (found on the next run), or when an SSH
//! or firewall change is not confirmed in time.

mod preflight;
pub mod store;

use std::fs;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

pub use store::{After, GenerationState, Pending, STATE_DIR, Store};

use crate::host::SshConnection;
use crate::layers::ssh;
use crate::plan::preview::{self, FileChange, shell_words};
use crate::plan::{CommandStep, Layer, Phase, Plan, Refusal};
use crate::target::{CRASH_ENV, Kind, Ran, Root, Runner, atomic, boundary, gist, now, sha256};
use crate::validate;
use store::{CommandRecord, FileRecord, Manifest};

/// Keys typed in a front end, by service name: stored in the vault when the apply starts,
/// never shown, never in the answers.
pub type Keys = std::collections::BTreeMap<String, String>;

/// Default time to confirm an SSH or firewall change before it is rolled back.
pub const DEFAULT_CONFIRM_SECS: u64 = 120;

#[derive(Debug, Clone)]
pub struct Options {
    /// Overwrite managed files that were edited by hand.
    pub force: bool,
    pub runner: Runner,
    /// Seconds to confirm an SSH or firewall change; 0 does not arm a rollback.
    pub confirm_timeout: u64,
    /// `SSH_CONNECTION` of this process.
    pub ssh_connection: Option<String>,
    /// How to start the watchdog: this program's path.
    pub exe: PathBuf,
    /// Keys for the vault (typed in a front end, or made by clawguard), stored once the
    /// checks have passed and before any file is written: an apply that refuses stores
    /// nothing. The plan already counts them as in the vault.
    pub keys: Keys,
    /// What confirming this apply's change leads to.
    pub then: After,
    /// The generation whose confirmed SSH move this apply completes (see
    /// [`Manifest::completes`]).
    pub completes: Option<u32>,
}

/// Progress, for the front ends (indicatif when headless, a gauge in the wizard).
#[derive(Debug, Clone)]
pub enum Event {
    Start { steps: usize },
    Step { label: String },
    Finish,
}

#[derive(Debug, Clone, Default)]
pub struct Report {
    pub generation: Option<u32>,
    pub written: Vec<String>,
    pub ran: Vec<String>,
    /// Commands not run because there is no way to reach the target's services.
    pub skipped: Vec<String>,
    /// What the start of this run recovered from an interrupted apply.
    pub recovered: Vec<String>,
    /// The confirmation this apply waits for.
    pub pending: Option<Pending>,
    /// The generation that installed the plan's packages, when one did.
    pub installed: Option<u32>,
    /// Layers left out of this apply, and why (one clear line, with what to do).
    pub not_applied: Vec<(Vec<Layer>, String)>,
    pub armed_with: Option<String>,
}

impl Report {
    pub fn changes(&self) -> usize {
        self.written.len() + self.ran.len() + self.skipped.len()
    }

    /// Takes in what a later apply of the same command did (`confirm` applies twice: the
    /// final drop-in, then the old port's rule): one report for both.
    pub fn absorb(&mut self, later: Report) {
        self.generation = later.generation.or(self.generation);
        self.written.extend(later.written);
        self.ran.extend(later.ran);
        self.skipped.extend(later.skipped);
        self.recovered.extend(later.recovered);
        self.pending = later.pending.or(self.pending.take());
        self.installed = later.installed.or(self.installed);
        self.not_applied.extend(later.not_applied);
        self.armed_with = later.armed_with.or(self.armed_with.take());
    }
}

#[derive(Debug, Clone)]
pub struct Conflict {
    pub path: String,
    /// What the hand edit looks like against what clawguard would write.
    pub diff: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(
        "refusing to apply: this would lock you out of SSH.\n{}\nNothing was changed.",
        .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    Lockout(Vec<String>),
    #[error(
        "refusing to apply:\n{}\nNothing was changed.",
        .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    Blocked(Vec<String>),
    #[error(
        "{} managed file(s) were edited by hand since clawguard wrote them:\n{}\nNothing was changed. Put your change into the answers and re-run, or run again with --force to overwrite the edits (they are kept in the backup).",
        .0.len(),
        .0.iter().map(|c| format!("  {}\n{}", c.path, indent(&c.diff))).collect::<Vec<_>>().join("\n")
    )]
    Conflicts(Vec<Conflict>),
    #[error(
        "refusing to apply:\n{}\nNothing was changed.",
        .0.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n")
    )]
    NotAFile(Vec<String>),
    #[error(
        "the services' own checks refused the new configuration:\n{}\n{}",
        .failures.iter().map(|d| indent(d)).collect::<Vec<_>>().join("\n"),
        nothing_changed(*.installed)
    )]
    Validation { failures: Vec<String>, installed: Option<u32> },
    #[error(
        "this host is not ready for the plan:\n{}\n{}",
        .problems.iter().map(|d| format!("  - {d}")).collect::<Vec<_>>().join("\n"),
        nothing_changed(*.installed)
    )]
    NotReady { problems: Vec<String>, installed: Option<u32> },
    #[error(
        "step `{step}` failed ({status}){}\nRolled back: {}",
        if .output.is_empty() { String::new() } else { format!(":\n{}", indent(.output)) },
        .rolled_back.join("; ")
    )]
    StepFailed { step: String, status: String, output: String, rolled_back: Vec<String> },
    #[error("{0}")]
    Confirm(String),
    #[error(
        "the rollback did not complete:\n{}\nSee /etc/clawguard/RECOVERY.md; `clawguard status` shows what each generation did.",
        .0.iter().map(|d| format!("  {d}")).collect::<Vec<_>>().join("\n")
    )]
    RollbackIncomplete(Vec<String>),
    #[error(transparent)]
    Plan(#[from] crate::render::RenderError),
    #[error("cannot store the key you typed: {0}")]
    Vault(#[from] crate::vault::VaultError),
    #[error("`{0}` cannot name a key: {1}")]
    KeyName(String, String),
    /// clawguard's own records cannot be read: the report so far, ending with what is damaged.
    #[error("{0}")]
    Damaged(String),
}

/// The last line of a refusal: nothing changed, or only the packages were installed.
fn nothing_changed(installed: Option<u32>) -> String {
    match installed {
        None => "Nothing was changed.".to_owned(),
        Some(n) => format!(
            "No configuration was changed. The packages the plan needs were installed (generation {n}) and stay, so the next run does not wait for them; `sudo clawguard rollback` removes them."
        ),
    }
}

fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> ApplyError {
    let what = what.into();
    move |source| ApplyError::Io { what, source }
}

/// Journals a step boundary, then offers it to fault injection.
fn step(store: &Store, label: &str) -> Result<(), ApplyError> {
    store.journal(label).map_err(io_err("writing the journal"))?;
    boundary(label);
    Ok(())
}

/// Holds clawguard's lock on a target: one apply, confirm, rollback or watchdog at a time.
struct Lock(#[allow(dead_code)] fs::File);

/// Takes the lock. With `create` false, a target where nothing was ever applied is left
/// untouched (no state directory is created) and no lock is needed yet.
fn lock(store: &Store, wait: bool, create: bool) -> Result<Option<Lock>, ApplyError> {
    if !create && !store.dir().exists() {
        return Ok(None);
    }
    fs::create_dir_all(store.dir()).map_err(io_err("creating clawguard's state directory"))?;
    let path = store.lock_path();
    let f = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&path)
        .map_err(|e| atomic::link(&path, e))
        .map_err(io_err(format!("opening {}", path.display())))?;
    if wait {
        f.lock().map_err(io_err("waiting for clawguard's lock"))?;
    } else {
        match f.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(ApplyError::Confirm(
                    "another clawguard apply, confirm or rollback is running on this target: wait for it to finish (see `clawguard status`)".into(),
                ));
            }
            Err(fs::TryLockError::Error(e)) => return Err(io_err("taking clawguard's lock")(e)),
        }
    }
    Ok(Some(Lock(f)))
}

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
            .map(|p| s.spawn(|| preflight::check(&p.check, root, runner, plan.platform).err().map(|e| (p.layer, e))))
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
fn arm(root: &Root, opts: &Options, n: u32) -> io::Result<String> {
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

/// Puts back every file of generation `m` and takes back its commands (those in `ran`, or
/// all of them), then re-runs its reloads so services read the old files; marks the
/// generation rolled back. Returns what it did, ending with the verification.
fn rollback_generation(
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
enum Reloads {
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
fn undo(
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

/// The generations and the pending confirmation, for `clawguard status`.
pub fn status(root: &Root) -> Result<String, ApplyError> {
    use std::fmt::Write as _;
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

fn store_keys(root: &Root, keys: &Keys) -> Result<(), ApplyError> {
    let vault = crate::vault::Vault::new(root);
    for (name, value) in keys {
        let id: crate::answers::Ident =
            name.parse().map_err(|e: crate::answers::Invalid| ApplyError::KeyName(name.clone(), e.0))?;
        vault.set(&id, value.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::gist;

    #[test]
    fn compose_output_is_reduced_to_its_errors_once() {
        let out = "Creating clawguard-agent_proxy_1 ... done\nCreating clawguard-agent_agent_1 ... error\n\nERROR: for clawguard-agent_agent_1  Cannot create container for service agent: NanoCPUs can not be set\nERROR: for agent  Cannot create container for service agent: NanoCPUs can not be set\nEncountered errors while bringing up the project.\n";
        assert_eq!(gist(out), "Cannot create container for service agent: NanoCPUs can not be set");
        let tb =
            "Traceback (most recent call last):\n  File \"x\", line 1\nrequests.exceptions.ConnectionError: refused\n";
        assert_eq!(gist(tb), "requests.exceptions.ConnectionError: refused");
    }
}
