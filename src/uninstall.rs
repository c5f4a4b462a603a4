//! What `clawguard uninstall` puts back: every file clawguard manages as it was before
//! clawguard first touched it (its content and mode from the backup of the first
//! generation that wrote it, or gone when it did not exist), and the commands that take
//! back what the generations ran (newest first). Read from clawguard's records only; what
//! cannot be read is an error, never an empty default — an uninstall that silently skips
//! a file would leave the host half-changed.

use std::collections::BTreeSet;

use similar::TextDiff;

use crate::apply::store::{GenerationState, Store};
use crate::host::Root;

/// A managed file before clawguard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Original {
    /// It existed: these bytes, this mode.
    Content { data: Vec<u8>, mode: u32 },
    /// clawguard created it.
    Absent,
}

/// One file to put back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Restore {
    pub path: String,
    /// The layer that wrote it (as recorded).
    pub layer: String,
    /// The generation whose backup holds the original.
    pub generation: u32,
    pub original: Original,
    /// What is there now (None: nothing).
    pub current: Option<Vec<u8>>,
}

impl Restore {
    /// Whether putting it back changes anything.
    pub fn changes(&self) -> bool {
        match &self.original {
            Original::Content { data, .. } => self.current.as_deref() != Some(data.as_slice()),
            Original::Absent => self.current.is_some(),
        }
    }

    /// A unified diff from what is there to what was there before clawguard.
    pub fn diff(&self) -> String {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let now = self.current.as_deref().map(text).unwrap_or_default();
        let (before, to) = match &self.original {
            Original::Content { data, .. } => (text(data), format!("{} (before clawguard)", self.path)),
            Original::Absent => (String::new(), "/dev/null".to_owned()),
        };
        TextDiff::from_lines(&now, &before).unified_diff().context_radius(3).header(&self.path, &to).to_string()
    }
}

/// A command that takes back one a generation ran.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    pub argv: Vec<String>,
    pub layer: String,
    /// What it takes back.
    pub undoes: Vec<String>,
}

/// Everything an uninstall puts back.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Restoration {
    /// In the order clawguard first wrote them.
    pub files: Vec<Restore>,
    /// Newest first, each once.
    pub undo: Vec<Undo>,
}

#[derive(Debug, thiserror::Error)]
pub enum UninstallError {
    #[error("cannot read clawguard's records under {dir}: {source}. Nothing was changed; fix or restore them first.")]
    Records { dir: String, source: std::io::Error },
    #[error(
        "cannot read what {path} was before clawguard (generation {generation}'s backup): {source}. Nothing was changed: without it the file cannot be put back."
    )]
    Backup { path: String, generation: u32, source: std::io::Error },
    #[error("cannot read {path} as it is now: {source}. Nothing was changed.")]
    Current { path: String, source: std::io::Error },
    #[error(
        "a change (generation {0}) is waiting for its confirmation: `sudo clawguard confirm` from a new login (or `sudo clawguard rollback`) first."
    )]
    Pending(u32),
    #[error("generation {0} was interrupted and not yet rolled back: `sudo clawguard rollback` finishes that first.")]
    Unfinished(u32),
    #[error("clawguard has applied nothing here: there is nothing to uninstall.")]
    Nothing,
}

/// Reads what an uninstall of `root` would put back.
pub fn restoration(root: &Root) -> Result<Restoration, UninstallError> {
    let store = Store::new(root);
    let records = |source| UninstallError::Records { dir: store.dir().display().to_string(), source };
    if let Some(p) = store.pending().map_err(records)? {
        return Err(UninstallError::Pending(p.generation));
    }
    let generations = store.generations().map_err(records)?;
    if let Some(g) = generations.iter().find(|g| g.state == GenerationState::Unfinished) {
        return Err(UninstallError::Unfinished(g.manifest.number));
    }
    let committed: Vec<_> = generations.iter().filter(|g| g.state == GenerationState::Committed).collect();
    if committed.is_empty() {
        return Err(UninstallError::Nothing);
    }
    let mut out = Restoration::default();
    let mut seen = BTreeSet::new();
    for g in &committed {
        let n = g.manifest.number;
        for f in &g.manifest.files {
            if !seen.insert(f.path.clone()) {
                continue;
            }
            let original = if f.existed {
                let data = store.backup_of(n, &f.path).map_err(|source| UninstallError::Backup {
                    path: f.path.clone(),
                    generation: n,
                    source,
                })?;
                let mode = f.old_mode.unwrap_or(f.mode);
                Original::Content { data, mode }
            } else {
                Original::Absent
            };
            let current = root
                .read_managed(&f.path)
                .map_err(|source| UninstallError::Current { path: f.path.clone(), source })?;
            out.files.push(Restore { path: f.path.clone(), layer: f.layer.clone(), generation: n, original, current });
        }
    }
    let mut undone = BTreeSet::new();
    for g in committed.iter().rev() {
        for c in g.manifest.commands.iter().rev() {
            if let Some(argv) = &c.undo
                && undone.insert(argv.clone())
            {
                out.undo.push(Undo { argv: argv.clone(), layer: c.layer.clone(), undoes: c.argv.clone() });
            }
        }
    }
    Ok(out)
}
