//! `clawguard confirm`: a login on the new port proves it works; the move is completed
//! (or an uninstall goes on).

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{CommandError, color_on, progress_bar, target, uninstall};
use crate::apply;
use crate::cli::TargetArgs;
use crate::host;
use crate::report;
use crate::session;

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
    let done = session::complete_move(&root, &runner, ssh.as_deref(), &pending, &mut progress_bar())?;
    // One report for both steps (the drop-in, then the old port's rule).
    if let Some(o) = &done {
        print!("{}", report::ansi(&report::outcome(o, 0), color_on(std::io::stdout().is_terminal())));
    }
    if let Some(old) = (!pending.old_ports.is_empty()).then_some(&pending.old_ports) {
        say!("The old SSH port(s) {old:?} are closed now.");
    }
    Ok(ExitCode::SUCCESS)
}
