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

mod apply;
mod backup;
mod check;
mod confirm;
mod docs;
mod egress;
mod example;
mod export;
mod import;
mod incident;
mod launchd;
mod plan;
mod render;
mod rollback;
mod rotate;
mod secrets;
mod status;
mod uninstall;
mod watchdog;
mod wizard;

use std::io::IsTerminal;

pub use apply::apply;
pub use backup::{backup, restore};
pub use check::check;
pub use confirm::confirm;
pub use docs::{completions, man};
pub use egress::egress;
pub use example::example;
pub use export::export;
pub use incident::incident;
pub use launchd::launchd;
pub use plan::plan;
pub use render::render;
pub use rollback::rollback;
pub use secrets::secrets;
pub use status::status;
pub use uninstall::uninstall;
pub use watchdog::watchdog;
pub use wizard::wizard;

use crate::answers::AnswersError;
use crate::apply::{ApplyError, Event};
use crate::cli::{Common, TargetArgs};
use crate::session::{self, Loaded};
use crate::target::{Root, Runner};

/// What can stop a command. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Answers(#[from] AnswersError),
    #[error(transparent)]
    Load(#[from] session::LoadError),
    #[error(transparent)]
    Kept(#[from] session::KeptError),
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
    #[error("{0}")]
    Import(String),
    #[error(transparent)]
    Uninstall(#[from] crate::uninstall::UninstallError),
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    #[error(transparent)]
    Kit(#[from] crate::backup::kit::KitError),
    #[error(transparent)]
    Egress(#[from] crate::egress::EgressError),
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
