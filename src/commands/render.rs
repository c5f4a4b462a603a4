//! `clawguard render`: the files an apply would write, into a directory to read.

use std::process::ExitCode;

use super::{CommandError, load};
use crate::cli::RenderArgs;
use crate::session::Keys;
use crate::target::{Root, Runner};

pub fn render(args: &RenderArgs) -> Result<ExitCode, CommandError> {
    let out = &args.out;
    // `..` is refused as typed (`/new/..` names `/` before it exists); what exists is
    // compared once resolved.
    if out.as_os_str().is_empty() || out.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(CommandError::OutIsRoot(out.display().to_string()));
    }
    let l = load(&args.common)?;
    // The files an apply would write (with the keys it would make), final SSH stage.
    let source = l.source.clone();
    let mut req = l.request(Runner::Skip, Keys::new(), 0, false);
    let plan = req.prepare()?;
    std::fs::create_dir_all(out).map_err(|source| CommandError::Write { path: out.display().to_string(), source })?;
    let out_root = Root::new(out);
    if out_root.is_live() {
        return Err(CommandError::OutIsRoot(out.display().to_string()));
    }
    for f in &plan.files {
        // Directories are resolved inside the output; a file that is a symlink is refused.
        let target = out_root.managed(&f.path).map_err(|why| CommandError::Write {
            path: out_root.entry(&f.path).display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.explain(&f.path)),
        })?;
        crate::target::atomic::write(&target, f.content.as_bytes(), f.mode)
            .map_err(|source| CommandError::Write { path: target.display().to_string(), source })?;
        say!("{}", target.display());
    }
    say_err!("{} file(s) written under {} (answers from {}).", plan.files.len(), out.display(), source);
    Ok(ExitCode::SUCCESS)
}
