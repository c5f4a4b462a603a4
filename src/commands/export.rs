//! `clawguard export cloud-init`: read the answers and the package, print the user-data.

use std::io::Read;
use std::process::ExitCode;

use super::CommandError;
use crate::answers::Answers;
use crate::cli::ExportWhat;

pub fn export(what: &ExportWhat) -> Result<ExitCode, CommandError> {
    match what {
        ExportWhat::CloudInit { answers, package, package_url } => {
            let a = Answers::load(answers)?;
            let sha = deb_sha256(package)?;
            print!("{}", crate::export::cloud_init(&a, package_url, &sha));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The SHA-256 of a Debian package (an `ar` archive whose first member is debian-binary).
fn deb_sha256(path: &std::path::Path) -> Result<String, CommandError> {
    let shown = path.display().to_string();
    let mut data = Vec::new();
    std::fs::File::open(path)
        .and_then(|mut f| f.read_to_end(&mut data))
        .map_err(|e| CommandError::Failed(format!("cannot read the package {shown}: {e}. Give the .deb that scripts/package built (target/debian/clawguard_*.deb).")))?;
    if !data.starts_with(b"!<arch>\ndebian-binary") {
        return Err(CommandError::Failed(format!(
            "{shown} is not a Debian package: give the .deb that scripts/package built (target/debian/clawguard_*.deb)."
        )));
    }
    Ok(crate::target::sha256(&data))
}
