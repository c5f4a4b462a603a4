//! `clawguard rollback`: the last change taken back.

use std::process::ExitCode;

use super::{CommandError, target};
use crate::apply;
use crate::cli::TargetArgs;

pub fn rollback(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(args)?;
    for line in apply::rollback_last(&root, &runner)? {
        say!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}
