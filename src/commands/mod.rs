//! The commands: each builds its inputs, calls the core, and prints. Errors go back to
//! `main`, which reports them once.

/// Prints a line for the person at the terminal. What it says may carry what the target
/// holds (a name in the agent's directories, a restic or engine message, a hostname):
/// it goes through [`crate::sink::terminal`], so an escape sequence is shown, not obeyed.
/// Every front-end message uses it; the report lines are escaped by `report::ansi`.
macro_rules! say {
    () => { println!() };
    ($($t:tt)*) => { println!("{}", $crate::sink::terminal(&format!($($t)*))) };
}

/// [`say!`] on standard error.
macro_rules! say_err {
    ($($t:tt)*) => { eprintln!("{}", $crate::sink::terminal(&format!($($t)*))) };
}

mod backup;
mod docs;
mod export;
mod import;
mod incident;
mod launchd;
mod rotate;
mod uninstall;

use std::io::IsTerminal;
use std::process::ExitCode;

pub use backup::{backup, restore};
pub use docs::{completions, man};
pub use export::export;
pub use incident::incident;
pub use uninstall::uninstall;

use crate::answers::{self, Answers, AnswersError};
use crate::apply::{self, ApplyError, Event};
use crate::cli::{
    ApplyArgs, CheckArgs, Common, PlanArgs, RenderArgs, SecretsAction, SecretsArgs, TargetArgs, WatchdogArgs,
    WizardArgs,
};
use crate::host;
use crate::plan::preview;
use crate::session::{self, Keys, Loaded, Request};
use crate::target::{Root, Runner};
use crate::{report, validate};

/// What can stop a command. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Answers(#[from] AnswersError),
    #[error(transparent)]
    Load(#[from] session::LoadError),
    #[error(
        "the target root {0} is not a directory: give an existing directory with --root DIR (or leave it out for /)"
    )]
    NoRoot(String),
    #[error(
        "refusing to render into {0}: `render` writes a copy to read; give an empty directory such as --out ./rendered (use `apply` to change the system)"
    )]
    OutIsRoot(String),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("{0} check(s) failed: see above. Nothing was written.")]
    Validation(usize),
    #[error("cannot create a staging directory for the checks: {0}")]
    Stage(std::io::Error),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(
        "not applied: stdin is not a terminal, so clawguard cannot ask. Review with `clawguard plan`, then run `clawguard apply --yes`."
    )]
    NeedYes,
    #[error("not applied: you did not say yes.")]
    Declined,
    #[error(
        "stdin is not a terminal, so the wizard cannot ask anything. Preview with `clawguard plan --answers FILE`, apply with `clawguard apply --answers FILE --yes` (`clawguard example` prints a documented answers file)."
    )]
    NoTerminal,
    #[error(
        "applying changes this system and needs root: run `sudo clawguard`, or look around first with `clawguard --dry-run`."
    )]
    NeedRoot,
    #[error("the terminal failed: {0}")]
    Terminal(std::io::Error),
    #[error("the prompt failed: {0}")]
    Prompt(String),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error("`{0}`: {1}")]
    BadName(String, String),
    #[error("cannot read the key: {0}")]
    ReadSecret(String),
    /// The wizard already showed it; this carries it to the exit code and the terminal.
    #[error("{0}")]
    Failed(String),
    #[error("the answers kept with generation {0} cannot be read: {1}")]
    KeptAnswers(u32, String),
    #[error("{0}")]
    Import(String),
    #[error(transparent)]
    Uninstall(#[from] crate::uninstall::UninstallError),
    /// A stop whose message says what happened and what to do.
    #[error("{0}")]
    Stop(String),
}

/// The person who ran clawguard through `sudo` (sudo's own `SUDO_UID`, `SUDO_GID`, which
/// it sets whatever it resets), as an account of the target: (uid, gid, home). None when
/// clawguard was not run through sudo, or by root itself.
pub(super) fn sudo_user(l: &Loaded) -> Option<(u32, u32, String)> {
    let uid: u32 = std::env::var("SUDO_UID").ok()?.parse().ok()?;
    let gid: u32 = std::env::var("SUDO_GID").ok()?.parse().ok()?;
    let u = l.facts.users.iter().find(|u| u.uid == uid && uid != 0)?;
    Some((uid, gid, u.home.clone()))
}

/// A copy of the file at `from` for the person behind `sudo`, in their home as `name`:
/// theirs, mode 0600 — what they must copy off the server (`scp`) is where they can read
/// it. Written as a new file that follows no link (their home is theirs to booby-trap).
/// None when there is nobody behind sudo.
pub(super) fn give_to_sudo_user(l: &Loaded, from: &std::path::Path, name: &str) -> Option<Result<String, String>> {
    use std::os::unix::fs::OpenOptionsExt;
    let (uid, gid, home) = sudo_user(l)?;
    let shown = format!("{}/{name}", home.trim_end_matches('/'));
    let copy = || -> std::io::Result<()> {
        let to = l.root.untrusted(&shown)?;
        let mut src = crate::target::untrusted::open_file(from)?;
        let mut dst = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(&to)?;
        std::os::unix::fs::fchown(&dst, Some(uid), Some(gid))?;
        std::io::copy(&mut src, &mut dst)?;
        dst.sync_all()
    };
    Some(copy().map(|()| shown.clone()).map_err(|e| format!("{shown}: {e}")))
}

/// The target and answers `common` names (see [`session::load`]).
pub fn load(common: &Common) -> Result<Loaded, CommandError> {
    Ok(session::load(&common.root, common.answers.as_deref())?)
}

pub(super) fn color_on(stream_is_tty: bool) -> bool {
    std::env::var_os("NO_COLOR").is_none() && stream_is_tty
}

pub fn plan(args: &PlanArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let color = !args.no_color && color_on(std::io::stdout().is_terminal());
    say!("clawguard plan for {} ({}), answers from {}\n", l.root.dir().display(), l.facts.os.describe(), l.source);
    let runner = runner_for(&l.root, &None);
    let mut req = l.request(runner, Keys::new(), 0, false);
    req.ask_images();
    let plan = req.plan()?;
    let p = preview::preview(&plan, &req.root);
    print!("{}", report::ansi(&report::summary(&p), color));
    say!("\nEvery change:\n");
    print!("{}", report::ansi(&report::review(&p), color));
    if args.validate {
        let outcomes = validate::run(&plan, &req.root).map_err(CommandError::Stage)?;
        say!("\nChecks by the services' own tools:");
        let mut failed = 0;
        for o in &outcomes {
            match &o.result {
                Ok(summary) => say!("  ok    {}: {summary}", o.file),
                Err(why) => {
                    failed += 1;
                    say!("  FAIL  {} ({}):", o.file, o.checker);
                    for line in why.lines() {
                        say!("          {line}");
                    }
                }
            }
        }
        if failed > 0 {
            return Err(CommandError::Validation(failed));
        }
    }
    Ok(if p.has_changes() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}

pub fn render(args: &RenderArgs) -> Result<ExitCode, CommandError> {
    let out = &args.out;
    // `..` is refused as typed (`/new/..` names `/` before it exists); what exists is
    // compared once resolved.
    if out.as_os_str().is_empty() || out.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(CommandError::OutIsRoot(out.display().to_string()));
    }
    let l = load(&args.common)?;
    // The files an apply would write (with the keys it would make), final SSH stage.
    let source = l.source.clone();
    let mut req = l.request(Runner::Skip, Keys::new(), 0, false);
    req.ask_images();
    let plan = req.plan()?;
    std::fs::create_dir_all(out).map_err(|source| CommandError::Write { path: out.display().to_string(), source })?;
    let out_root = Root::new(out);
    if out_root.is_live() {
        return Err(CommandError::OutIsRoot(out.display().to_string()));
    }
    for f in &plan.files {
        // Directories are resolved inside the output; a file that is a symlink is refused.
        let target = out_root.managed(&f.path).map_err(|why| CommandError::Write {
            path: out_root.entry(&f.path).display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.explain(&f.path)),
        })?;
        crate::target::atomic::write(&target, f.content.as_bytes(), f.mode)
            .map_err(|source| CommandError::Write { path: target.display().to_string(), source })?;
        say!("{}", target.display());
    }
    say_err!("{} file(s) written under {} (answers from {}).", plan.files.len(), out.display(), source);
    Ok(ExitCode::SUCCESS)
}

pub fn check(args: &CheckArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let runner = runner_for(&l.root, &args.runner);
    let findings = crate::check::run(&l.answers, &l.facts, &l.root, &runner)?;
    let host = l.facts.hostname.clone().unwrap_or_else(|| "this host".into());
    let text = crate::check::report(&host, &findings);
    if args.json {
        // JSON is for machines: escaped the JSON way (a `say!` escape would not parse).
        println!("{}", crate::sink::json(&crate::check::json(&host, &findings)));
    } else {
        say!("{text}");
    }
    let attention = crate::check::needs_attention(&findings);
    if !args.no_alert
        && let Err(e) = crate::check::alert::deliver(&l.answers, &l.root, &host, &findings)
    {
        say_err!("warning: {e}");
    }
    Ok(if attention { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

pub fn secrets(args: &SecretsArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let vault = crate::vault::Vault::new(&l.root);
    let ident = |name: &str| -> Result<crate::answers::Ident, CommandError> {
        name.parse().map_err(|e: crate::answers::Invalid| CommandError::BadName(name.to_owned(), e.0))
    };
    match &args.action {
        SecretsAction::Set { name } => {
            let id = ident(name)?;
            if !l.answers.credentials.services.contains(&id) {
                say_err!(
                    "note: `{id}` is not in credentials.services, so the agent does not get it until you add it there."
                );
            }
            let value = read_key(&format!("Key for {id}:"))?;
            // The same value again changes nothing (a fleet run sets every key each time).
            if vault.get(&id).is_ok_and(|old| old == value.as_bytes()) {
                say!("The vault already holds this key for {id}: unchanged.");
                return Ok(ExitCode::SUCCESS);
            }
            vault.set(&id, value.as_bytes())?;
            say!("Stored the key for {id} in the vault (encrypted). `clawguard secrets unlock` hands it to the agent.");
        }
        SecretsAction::List => {
            let entries = vault.list()?;
            let rotate = u64::from(l.answers.credentials.rotate_days.get());
            for e in &entries {
                let rotating = vault.rotating(&ident(&e.name)?)?;
                let due = if rotating.is_some() {
                    format!(
                        "  ROTATING: revoke the old key at {}, then `clawguard secrets rotate {} --done`",
                        crate::services::revoke_at(&e.name),
                        e.name
                    )
                } else if e.age_days() >= rotate {
                    format!("  ROTATE: older than {rotate} days (`clawguard secrets rotate {}`)", e.name)
                } else {
                    String::new()
                };
                say!("{:<20} set {} day(s) ago{due}", e.name, e.age_days());
            }
            for s in &l.answers.credentials.services {
                if !entries.iter().any(|e| e.name == s.as_str()) {
                    say!("{:<20} not set (clawguard secrets set {s})", s);
                }
            }
        }
        SecretsAction::Rm { name } => {
            vault.remove(&ident(name)?)?;
            say!("Removed the key for {name}.");
        }
        SecretsAction::Import { file, yes } => {
            return import::import(&l, file.as_deref(), args.common.answers.as_deref(), *yes);
        }
        SecretsAction::Rotate { name, done, back } => return rotate::rotate(&l, &ident(name)?, *done, *back),
        SecretsAction::RotateIdentity => {
            let n = vault.rotate_identity()?;
            say!("Re-sealed {n} key(s) to a new vault identity; the old identity is gone from this host.");
            say!(
                "Your recovery kit holds the old identity: it still opens older backups, not this vault. Make a new kit now: `sudo clawguard backup kit`."
            );
        }
        SecretsAction::Unlock => {
            let names = unlock(&l)?;
            let dir = crate::layers::secrets_dir(l.facts.platform.kind());
            say!("Unlocked {} key(s) into {}.", names.len(), l.root.path(dir).display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A key's value: asked masked on a terminal, else read from standard input (never from
/// the command line, where other users and the shell history would see it).
fn read_key(prompt: &str) -> Result<String, CommandError> {
    if std::io::stdin().is_terminal() {
        inquire::Password::new(prompt)
            .with_display_mode(inquire::PasswordDisplayMode::Masked)
            .without_confirmation()
            .prompt()
            .map_err(|e| CommandError::ReadSecret(e.to_string()))
    } else {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CommandError::ReadSecret(e.to_string()))?;
        Ok(s.trim_end_matches(['\n', '\r']).to_owned())
    }
}

/// The agent's keys (the answers' services and, for OpenClaw, its gateway token) into
/// the secrets directory, as files for the agent's uid.
fn unlock(l: &Loaded) -> Result<Vec<String>, CommandError> {
    let dest = l.root.path(crate::layers::secrets_dir(l.facts.platform.kind()));
    let mut services = l.answers.credentials.services.clone();
    if crate::layers::openclaw::wants_gateway_key(&l.answers) {
        services.push(crate::layers::openclaw::GATEWAY_KEY.parse().expect("a valid name"));
    }
    let vault = crate::vault::Vault::new(&l.root);
    let (uid, gid) = crate::layers::sandbox::agent_ids(&l.answers, &l.facts);
    Ok(vault.unlock(&dest, uid, gid, &services)?)
}

pub fn example() -> ExitCode {
    print!("{}", answers::EXAMPLE);
    ExitCode::SUCCESS
}

fn runner_for(root: &Root, runner: &Option<std::path::PathBuf>) -> Runner {
    match runner {
        Some(p) => Runner::Program(p.clone()),
        None if root.is_live() => Runner::Live,
        None => Runner::Skip,
    }
}

pub(super) fn target(args: &TargetArgs) -> Result<(Root, Runner), CommandError> {
    if !args.root.is_dir() {
        return Err(CommandError::NoRoot(args.root.display().to_string()));
    }
    let root = Root::new(&args.root);
    let runner = runner_for(&root, &args.runner);
    Ok((root, runner))
}

/// A progress bar on a terminal; plain lines otherwise.
pub(super) fn progress_bar() -> impl FnMut(Event) {
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::hidden();
    move |e| match e {
        Event::Start { steps } => {
            if tty {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(steps as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {wide_msg}")
                        .expect("valid template"),
                );
            }
        }
        Event::Step { label } => {
            if tty {
                bar.inc(1);
                bar.set_message(crate::sink::terminal_line(&label).into_owned());
            } else {
                say_err!("  {label}");
            }
        }
        Event::Finish => bar.finish_and_clear(),
    }
}

pub fn apply(args: &ApplyArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let runner = runner_for(&l.root, &args.runner);
    let mut req = l.request(runner, Keys::new(), args.confirm_timeout, args.force);
    req.ask_images();
    let plan = req.plan()?;
    let p = preview::preview(&plan, &req.root);
    if p.has_changes() && !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CommandError::NeedYes);
        }
        show_review(&p)?;
        let ok = inquire::Confirm::new(&format!(
            "Apply these {} change(s) to {}?",
            p.change_count(),
            req.root.dir().display()
        ))
        .with_default(false)
        .prompt()
        .unwrap_or(false);
        if !ok {
            return Err(CommandError::Declined);
        }
    }
    say_on_interrupt();
    applied(&session::run(&req, &mut progress_bar())?)
}

/// What Ctrl-C during an apply leaves behind: the apply stops where it is, but a change to
/// SSH or the firewall already made is taken back by the armed rollback only at its
/// deadline — said, so nobody logs out believing nothing happened.
fn say_on_interrupt() {
    extern "C" fn interrupted(_: libc::c_int) {
        const TEXT: &[u8] = b"\nclawguard apply was interrupted. What it had applied stays until the automatic rollback takes back an unconfirmed SSH or firewall change at its deadline; `sudo clawguard status` says what is waiting, `sudo clawguard rollback` takes it back now, and the next `sudo clawguard apply` finishes or undoes a half-done step first.\n";
        // SAFETY: write(2) and _exit(2) are async-signal-safe.
        unsafe {
            libc::write(2, TEXT.as_ptr().cast(), TEXT.len());
            libc::_exit(130);
        }
    }
    // SAFETY: installing a handler that only calls async-signal-safe functions.
    unsafe {
        libc::signal(libc::SIGINT, interrupted as *const () as libc::sighandler_t);
        libc::signal(libc::SIGTERM, interrupted as *const () as libc::sighandler_t);
    }
}

/// The review before a question: the summary on one screen, every diff only when asked.
fn show_review(p: &preview::Preview) -> Result<(), CommandError> {
    let color = color_on(std::io::stdout().is_terminal());
    print!("{}", report::ansi(&report::summary(p), color));
    if !p.has_changes() {
        return Ok(());
    }
    let diffs = inquire::Confirm::new("Show every file's diff and every command first?")
        .with_default(false)
        .with_help_message("`clawguard plan` prints them too")
        .prompt()
        .map_err(|e| CommandError::Prompt(e.to_string()))?;
    if diffs {
        print!("{}", report::ansi(&report::review(p), color));
    }
    Ok(())
}

/// Prints what an apply did and what comes next; 0 when everything was applied, 4 when
/// some layers were left out (the report says why).
fn applied(o: &session::Outcome) -> Result<ExitCode, CommandError> {
    print!("{}", report::ansi(&report::outcome(o, crate::target::now()), color_on(std::io::stdout().is_terminal())));
    Ok(if o.report.not_applied.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(4) })
}

pub fn confirm(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(args)?;
    let ssh = host::login::ssh_connection(root.is_live());
    let pending = apply::confirm(&root, ssh.as_deref())?;
    if let apply::After::Uninstall { purge } = pending.then {
        say!(
            "Confirmed: SSH works on port {}. Putting everything else back.",
            pending.new_port.map_or_else(|| "its old port".to_owned(), |p| p.to_string())
        );
        return uninstall::finish(&root, &runner, purge);
    }
    say!("Confirmed: generation {} stays.", pending.generation);
    // Complete the move: the final SSH drop-in (new port only), then close the old port.
    let store = apply::Store::new(&root);
    let gens = store.generations().map_err(|e| CommandError::KeptAnswers(pending.generation, e.to_string()))?;
    let last = gens.last().map(|g| g.manifest.number).unwrap_or(pending.generation);
    let text = store.answers_of(last).map_err(|e| CommandError::KeptAnswers(last, e.to_string()))?;
    let answers = Answers::parse(&text, "the applied answers")?;
    let mut done: Option<session::Outcome> = None;
    for _ in 0..2 {
        let req = Request {
            answers: answers.clone(),
            facts: host::probe(&root, ssh.as_deref()).for_answers(&root, &answers),
            root: root.clone(),
            runner: runner.clone(),
            stage: crate::plan::Stage::Complete,
            keys: Keys::new(),
            confirm_timeout: 0,
            force: false,
            session: ssh.clone(),
            then: apply::After::Complete,
            only: Some(vec![crate::answers::Layer::Ssh, crate::answers::Layer::Firewall]),
            completes: Some(pending.generation),
        };
        let o = session::run(&req, &mut progress_bar())?;
        if o.report.generation.is_some() {
            done = Some(match done.take() {
                None => o,
                Some(mut first) => {
                    first.report.absorb(o.report);
                    first
                }
            });
        }
    }
    // One report for both steps (the drop-in, then the old port's rule).
    if let Some(o) = &done {
        print!("{}", report::ansi(&report::outcome(o, 0), color_on(std::io::stdout().is_terminal())));
    }
    if let Some(old) = (!pending.old_ports.is_empty()).then_some(&pending.old_ports) {
        say!("The old SSH port(s) {old:?} are closed now.");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rollback(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(args)?;
    for line in apply::rollback_last(&root, &runner)? {
        say!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, _) = target(args)?;
    print!("{}", apply::status(&root)?);
    Ok(ExitCode::SUCCESS)
}

pub use launchd::launchd;

pub fn watchdog(args: &WatchdogArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(&args.target)?;
    let armed = args.generation.zip(args.deadline);
    if let Some(done) = apply::watchdog(&root, &runner, armed)? {
        for line in &done {
            say!("{line}");
        }
        if apply::incomplete(&done) {
            return Err(apply::ApplyError::RollbackIncomplete(done).into());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn wizard(args: &WizardArgs) -> Result<ExitCode, CommandError> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CommandError::NoTerminal);
    }
    let l = load(&args.common)?;
    if !args.dry_run && l.root.is_live() && !crate::target::atomic::running_as_root() {
        return Err(CommandError::NeedRoot);
    }
    if args.plain {
        return plain(args, l);
    }
    let app = crate::ui::tui::App::new(l, args.dry_run);
    let app = crate::ui::tui::run(app).map_err(CommandError::Terminal)?;
    match app.finished() {
        Some(Ok(outcome)) => applied(outcome),
        // The wizard showed it; the terminal keeps it, and the exit says it.
        Some(Err(e)) => Err(CommandError::Failed(e.clone())),
        None if app.unsaved() => {
            say!("Quit without saving; nothing was written.");
            Ok(ExitCode::SUCCESS)
        }
        None => {
            say!("Nothing was written to the system.");
            Ok(ExitCode::SUCCESS)
        }
    }
}

fn plain(args: &WizardArgs, l: Loaded) -> Result<ExitCode, CommandError> {
    let prompt_err = |e: inquire::InquireError| CommandError::Prompt(e.to_string());
    let Some((answers, keys)) = crate::ui::plain::ask(l.answers.clone()).map_err(prompt_err)? else {
        say!("Stopped; nothing was written.");
        return Ok(ExitCode::SUCCESS);
    };
    if args.dry_run && !keys.is_empty() {
        say!("Dry run: the {} key(s) you typed are not stored anywhere.", keys.len());
    }
    let runner = runner_for(&l.root, &None);
    let mut req = Loaded { answers, ..l }.request(runner, keys, apply::DEFAULT_CONFIRM_SECS, false);
    req.ask_images();
    let plan = req.plan()?;
    let p = preview::preview(&plan, &req.root);
    say!();
    show_review(&p)?;
    if args.dry_run {
        let path = inquire::Text::new("Save the answers to (empty: do not save):")
            .with_default("./answers.toml")
            .with_help_message("A file to reuse with --answers FILE; the answers hold no secrets")
            .prompt_skippable()
            .map_err(prompt_err)?
            .unwrap_or_default();
        if !path.trim().is_empty() {
            let path = std::path::PathBuf::from(path.trim());
            std::fs::write(&path, req.answers.to_toml())
                .map_err(|source| CommandError::Write { path: path.display().to_string(), source })?;
            say!("Saved to {}. Reuse them with --answers {}", path.display(), path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !p.has_changes() && req.keys.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    let ok = inquire::Confirm::new(&format!("Apply these {} change(s)?", p.change_count()))
        .with_default(false)
        .prompt()
        .map_err(prompt_err)?;
    if !ok {
        return Err(CommandError::Declined);
    }
    applied(&session::run(&req, &mut progress_bar())?)
}
