//! The binary: parse the command line, run the command, report an error once, pick the
//! exit code (0 ok / no changes, 2 changes planned, 1 error).

use std::process::ExitCode;

use clap::Parser;
use clawguard::cli::{Cli, Command};
use clawguard::commands;

fn main() -> ExitCode {
    // A Mac's container runtime listens in its user's home, where root's `docker` does not
    // look: every engine command this process runs is pointed there.
    if let Some(host) = clawguard::host::platform::live_docker_host() {
        // SAFETY: set before any other thread exists.
        unsafe { std::env::set_var("DOCKER_HOST", host) };
    }
    let cli = Cli::parse();
    let result = match &cli.command {
        None => commands::wizard(&cli.wizard),
        Some(Command::Plan(args)) => commands::plan(args),
        Some(Command::Render(args)) => commands::render(args),
        Some(Command::Apply(args)) => commands::apply(args),
        Some(Command::Confirm(args)) => commands::confirm(args),
        Some(Command::Rollback(args)) => commands::rollback(args),
        Some(Command::Status(args)) => commands::status(args),
        Some(Command::Uninstall(args)) => commands::uninstall(args),
        Some(Command::Watchdog(args)) => commands::watchdog(args),
        Some(Command::Launchd(action)) => commands::launchd(action),
        Some(Command::Check(args)) => commands::check(args),
        Some(Command::Secrets(args)) => commands::secrets(args),
        Some(Command::Egress(args)) => commands::egress(args),
        Some(Command::Backup(args)) => commands::backup(args),
        Some(Command::Restore(args)) => commands::restore(args),
        Some(Command::Incident(args)) => commands::incident(args),
        Some(Command::Example) => Ok(commands::example()),
        Some(Command::Export(what)) => commands::export(what),
        Some(Command::Completions { shell }) => commands::completions(*shell),
        Some(Command::Man { out }) => commands::man(out.as_deref()),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", clawguard::sink::terminal(&e.to_string()));
            ExitCode::FAILURE
        }
    }
}
