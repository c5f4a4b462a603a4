//! The wizard: full screen (`ui::tui`), or line by line with `--plain` (`ui::plain`).

use std::io::IsTerminal;
use std::process::ExitCode;

use super::apply::{applied, ask_yes, run, show_review};
use super::{CommandError, load, runner_for};
use crate::apply;
use crate::cli::WizardArgs;
use crate::plan::preview;
use crate::session::Loaded;

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
    let unsaved = app.unsaved();
    match app.into_finished() {
        Some(Ok(outcome)) => applied(&outcome),
        // The wizard showed it; the terminal keeps it, and the exit says it.
        Some(Err(e)) => Err(CommandError::Apply(e)),
        None if unsaved => {
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
    let plan = req.prepare()?;
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
    ask_yes(&format!("Apply these {} change(s)?", p.change_count()))?;
    run(&req)
}
