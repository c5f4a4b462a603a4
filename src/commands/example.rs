//! `clawguard example`: a documented answers file.

use std::process::ExitCode;

use crate::answers;

pub fn example() -> ExitCode {
    print!("{}", answers::EXAMPLE);
    ExitCode::SUCCESS
}
