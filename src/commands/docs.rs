//! `clawguard completions SHELL` and `clawguard man`: made from the same clap definitions
//! as `--help`, so the manual and the completions cannot drift from the commands.

use std::path::Path;
use std::process::ExitCode;

use clap::CommandFactory;

use super::CommandError;
use crate::cli::Cli;

pub fn completions(shell: clap_complete::Shell) -> Result<ExitCode, CommandError> {
    clap_complete::generate(shell, &mut Cli::command(), "clawguard", &mut std::io::stdout());
    Ok(ExitCode::SUCCESS)
}

/// The main page on stdout, or every page (one per command, hidden ones left out) in `out`.
pub fn man(out: Option<&Path>) -> Result<ExitCode, CommandError> {
    let cmd = Cli::command();
    match out {
        None => clap_mangen::Man::new(cmd)
            .render(&mut std::io::stdout())
            .map_err(|source| CommandError::Write { path: "standard output".into(), source })?,
        Some(dir) => {
            let write = |source| CommandError::Write { path: dir.display().to_string(), source };
            std::fs::create_dir_all(dir).map_err(write)?;
            clap_mangen::generate_to(cmd, dir).map_err(write)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
