//! The binary: parse the command line, run the command, report an error once, pick the
//! exit code (0 ok / no changes, 2 changes planned, 1 error).

use std::process::ExitCode;

use clap::Parser;
use clawguard::cli::{Cli, Command};
use clawguard::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Plan(args) => commands::plan(args),
        Command::Render(args) => commands::render(args),
        Command::Apply(args) => commands::apply(args),
        Command::Confirm(args) => commands::confirm(args),
        Command::Rollback(args) => commands::rollback(args),
        Command::Status(args) => commands::status(args),
        Command::Watchdog(args) => commands::watchdog(args),
        Command::Example => Ok(commands::example()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
