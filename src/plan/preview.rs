//! What a plan would change on a target root: unified diffs of every file, the commands
//! that would run. Reads the root; writes nothing.

use std::os::unix::fs::PermissionsExt;

use similar::TextDiff;

use super::{CommandStep, FileStep, Plan};
use crate::target::{NotAFile, Root};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileChange {
    New,
    Changed,
    /// Same content, other mode.
    Mode {
        from: u32,
    },
    /// This process may not read the file (a `plan` without root): not compared, and
    /// counted as a change, since it may be one.
    Unreadable,
    /// The target's file is a symlink or not a file at all: never read, never replaced.
    Refused(NotAFile),
    Unchanged,
}

/// One file of the plan compared with the target.
#[derive(Debug, Clone)]
pub struct FileDiff<'p> {
    pub step: &'p FileStep,
    pub change: FileChange,
    /// Unified diff (empty when unchanged), with keys masked ([`crate::sink::mask_keys`]).
    pub diff: String,
    /// The file on the target holds what looks like a key in plaintext (masked here).
    pub plaintext_keys: bool,
}

/// The plan against one target.
#[derive(Debug, Clone)]
pub struct Preview<'p> {
    pub plan: &'p Plan,
    pub files: Vec<FileDiff<'p>>,
    /// The commands that would run, in order.
    pub commands: Vec<&'p CommandStep>,
}

impl Preview<'_> {
    /// Files that would change plus commands that would run.
    pub fn change_count(&self) -> usize {
        self.files.iter().filter(|f| f.change != FileChange::Unchanged).count() + self.commands.len()
    }
    pub fn has_changes(&self) -> bool {
        self.change_count() > 0
    }
}

/// Compares every planned file with what is on `root`.
pub fn preview<'p>(plan: &'p Plan, root: &Root) -> Preview<'p> {
    let files: Vec<FileDiff> = plan.files.iter().map(|step| compare(step, root)).collect();
    let changed = |path: &str| files.iter().any(|f| f.step.path == path && f.change != FileChange::Unchanged);
    let commands = plan
        .commands
        .iter()
        .filter(|c| c.when_changed.is_empty() || c.when_changed.iter().any(|p| changed(p)))
        .collect();
    Preview { plan, files, commands }
}

fn compare<'p>(step: &'p FileStep, root: &Root) -> FileDiff<'p> {
    let real = match root.managed(&step.path) {
        Ok(real) => real,
        Err(why) => {
            return FileDiff { step, change: FileChange::Refused(why), diff: String::new(), plaintext_keys: false };
        }
    };
    let old = match root.read_managed(&step.path) {
        Ok(bytes) => bytes.map(|b| String::from_utf8_lossy(&b).into_owned()),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            return FileDiff { step, change: FileChange::Unreadable, diff: String::new(), plaintext_keys: false };
        }
        Err(_) => None,
    };
    let (change, diff) = match &old {
        None => (FileChange::New, unified("/dev/null", &step.path, "", &step.content)),
        Some(old) if *old != step.content => (FileChange::Changed, unified(&step.path, &step.path, old, &step.content)),
        Some(_) => {
            let mode = std::fs::metadata(&real).map(|m| m.permissions().mode() & 0o7777).unwrap_or(step.mode);
            if mode != step.mode {
                (FileChange::Mode { from: mode }, String::new())
            } else {
                (FileChange::Unchanged, String::new())
            }
        }
    };
    let plaintext_keys =
        old.as_deref().is_some_and(|o| matches!(crate::sink::mask_keys(o), std::borrow::Cow::Owned(_)));
    FileDiff { step, change, diff, plaintext_keys }
}

/// A unified diff from `old` (named `a`) to `new` (named `b`), three lines of context, the
/// values of key-like settings masked on both sides: a diff is shown, logged and handed
/// to Ansible; a key in a file on the target must not ride along.
pub fn unified(a: &str, b: &str, old: &str, new: &str) -> String {
    let (old_m, new_m) = (crate::sink::mask_keys(old), crate::sink::mask_keys(new));
    if old_m == new_m && old != new {
        return format!("--- {a}\n+++ {b}\n (only a masked value — a key — differs)\n");
    }
    TextDiff::from_lines(old_m.as_ref(), new_m.as_ref()).unified_diff().context_radius(3).header(a, b).to_string()
}

/// An argv shown the way a person would type it.
pub fn shell_words(argv: &[String]) -> String {
    argv.iter()
        .map(|a| {
            if !a.is_empty() && a.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./:=@,+%".contains(&b)) {
                a.clone()
            } else {
                format!("'{}'", a.replace('\'', "'\\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}
