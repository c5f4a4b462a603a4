//! `clawguard status`: the generations and what waits for a confirmation.

use std::process::ExitCode;

use super::{CommandError, target};
use crate::cli::TargetArgs;

pub fn status(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, _) = target(args)?;
    print!("{}", crate::report::status(&root)?);
    Ok(ExitCode::SUCCESS)
}
