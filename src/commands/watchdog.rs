//! `clawguard watchdog`: what the armed timer runs at the deadline (and at boot).

use std::process::ExitCode;

use super::{CommandError, target};
use crate::apply;
use crate::cli::WatchdogArgs;

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
