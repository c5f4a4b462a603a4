//! `clawguard apply`: the review, a yes, the apply with a progress bar, the outcome.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{CommandError, color_on, load, progress_bar, runner_for};
use crate::cli::ApplyArgs;
use crate::plan::preview;
use crate::report;
use crate::session::{self, Keys, Request};

pub fn apply(args: &ApplyArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let runner = runner_for(&l.root, &args.runner);
    let mut req = l.request(runner, Keys::new(), args.confirm_timeout, args.force);
    let plan = req.prepare()?;
    let p = preview::preview(&plan, &req.root);
    if p.has_changes() && !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CommandError::NeedYes);
        }
        show_review(&p)?;
        ask_yes(&format!("Apply these {} change(s) to {}?", p.change_count(), req.root.dir().display()))?;
    }
    run(&req)
}

/// Asks `question`, no by default; anything but yes (Esc and Ctrl-C too) declines.
pub(super) fn ask_yes(question: &str) -> Result<(), CommandError> {
    match inquire::Confirm::new(question).with_default(false).prompt() {
        Ok(true) => Ok(()),
        Ok(false) | Err(inquire::InquireError::OperationCanceled | inquire::InquireError::OperationInterrupted) => {
            Err(CommandError::Declined)
        }
        Err(e) => Err(CommandError::Prompt(e.to_string())),
    }
}

/// Applies `req` with a progress bar and prints the outcome: the end of every front end
/// outside the full-screen wizard.
pub(super) fn run(req: &Request) -> Result<ExitCode, CommandError> {
    say_on_interrupt();
    applied(&session::run(req, &mut progress_bar())?)
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
pub(super) fn show_review(p: &preview::Preview) -> Result<(), CommandError> {
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
pub(super) fn applied(o: &session::Outcome) -> Result<ExitCode, CommandError> {
    print!("{}", report::ansi(&report::outcome(o, crate::target::now()), color_on(std::io::stdout().is_terminal())));
    Ok(if o.report.not_applied.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(4) })
}
