//! clawguard's own records on the target, under `/var/lib/clawguard/` (through the root):
//! one directory per generation (its manifest, the backups of what it replaced, the answers
//! it applied, and a `committed` or `rolled-back` marker), the journal, and the pending
//! confirmation.
//!
//! The `committed` marker is the commit point of an apply: a generation without it was
//! interrupted, and the next run rolls it back.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use crate::target::STATE_DIR;
use crate::target::{Root, atomic, now};

/// What one file was before a generation replaced it, and what it became.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    pub path: String,
    /// The file existed before (its content is in the generation's backup).
    pub existed: bool,
    pub old_mode: Option<u32>,
    pub old_sha: Option<String>,
    pub new_sha: String,
    pub mode: u32,
    /// The layer that planned it (`Sandbox`, …); empty in records older than 0.2.
    #[serde(default)]
    pub layer: String,
    /// The directories writing it created, outermost first: a rollback that removes the
    /// file removes them again when they are empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub made_dirs: Vec<String>,
}

/// A command a generation ran, with what takes it back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandRecord {
    pub argv: Vec<String>,
    pub undo: Option<Vec<String>>,
    /// A layer name, for the report.
    pub layer: String,
    /// A reload: it runs again after a rollback so the service reads the old files.
    #[serde(default)]
    pub reload: bool,
    /// A reload with an undo whose files did not exist before (a new compose project): a
    /// rollback runs its undo (`down`) while those files are still there, and does not run
    /// it again. (A reload without an undo, like sshd's, runs again after the restore.)
    #[serde(default)]
    pub starts_new: bool,
    /// The files whose change made it run (a reload runs again after a rollback only when
    /// one of them was there before: there is nothing to reload for files it removed).
    #[serde(default)]
    pub when_changed: Vec<String>,
    /// See `CommandStep::rerun_needs_old`.
    #[serde(default)]
    pub rerun_needs_old: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    pub number: u32,
    /// Seconds since the epoch.
    pub created: u64,
    pub files: Vec<FileRecord>,
    pub commands: Vec<CommandRecord>,
    /// Whether the SSH drop-in was written in its interim form (old and new port).
    #[serde(default)]
    pub interim_ssh: bool,
    /// Layers this generation took back on its own after one of their steps failed (the
    /// agent's layers), while the rest stayed: a later rollback leaves them alone.
    #[serde(default)]
    pub given_up: Vec<String>,
    /// Written by `confirm` to complete generation N's SSH move (the final drop-in, the old
    /// port closed): part of that change, so `rollback` takes it back with N in one go — a
    /// rollback that reopened the old port and left the new one would not be what the user
    /// asked for.
    #[serde(default)]
    pub completes: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GenerationState {
    /// Begun, never committed: an interrupted apply.
    Unfinished,
    Committed,
    RolledBack,
}

#[derive(Debug, Clone)]
pub struct Generation {
    pub manifest: Manifest,
    pub state: GenerationState,
}

/// What the journal recorded of one generation's commands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The journal has the generation's `begin` (without it, nothing is known).
    pub began: bool,
    /// Commands announced (`run i`): they may have run even without a `ran i`.
    pub started: Vec<usize>,
    /// Commands that completed (`ran i`).
    pub ran: Vec<usize>,
    /// Reloads a rollback ran again with the old files, and whether that worked
    /// (`reran N i ok|failed`, wherever the rollback came in the journal).
    pub reran: Vec<(usize, bool)>,
}

impl Trace {
    /// The commands that may have run, for a rollback: those started, or all of them
    /// when the journal knows nothing of the generation.
    pub fn maybe_ran(&self, commands: usize) -> Vec<usize> {
        if self.began { self.started.clone() } else { (0..commands).collect() }
    }
}

/// A confirmation the apply is waiting for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    pub generation: u32,
    /// Seconds since the epoch after which the watchdog rolls back.
    pub deadline: u64,
    pub new_port: Option<u16>,
    pub old_ports: Vec<u16>,
    /// `SSH_CONNECTION` of the session that applied (the confirmation must come from another).
    pub applied_from: Option<String>,
    /// What `clawguard confirm` does once the login is proven.
    #[serde(default)]
    pub then: After,
}

/// What a confirmed change leads to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum After {
    /// Complete the port move: the final SSH drop-in, the old port closed.
    #[default]
    Complete,
    /// The first step of `clawguard uninstall` (SSH back on its port from before
    /// clawguard, proven by this login): put everything else back.
    Uninstall {
        /// Also remove the vault and its identity, the backups' SSH key, incident evidence,
        /// the agent's data and its compose volumes.
        purge: bool,
    },
}

impl Pending {
    /// Whether a watchdog rolls the change back at the deadline. `--confirm-timeout 0`
    /// records a port move without one (deadline 0): it still completes only with
    /// `clawguard confirm`, and nothing rolls it back by itself.
    pub fn automatic(&self) -> bool {
        self.deadline != 0
    }
}

/// The records of one target root.
#[derive(Debug, Clone)]
pub struct Store {
    root: Root,
}

impl Store {
    pub fn new(root: &Root) -> Store {
        Store { root: root.clone() }
    }

    pub fn dir(&self) -> PathBuf {
        self.root.path(STATE_DIR)
    }

    /// A directory of the records, resolved inside the target root (a symlink planted in
    /// the records cannot lead out of it).
    fn at(&self, rel: &str) -> PathBuf {
        self.root.path(&format!("{STATE_DIR}/{rel}"))
    }

    /// A file of the records: its directories resolved inside the root, the file itself
    /// opened without following a link.
    fn file(&self, rel: &str) -> PathBuf {
        self.root.entry(&format!("{STATE_DIR}/{rel}"))
    }

    fn gen_dir(&self, n: u32) -> PathBuf {
        self.at(&format!("generations/{n:06}"))
    }

    /// Where generation `n` keeps the old content of `path`.
    pub fn backup_path(&self, n: u32, path: &str) -> PathBuf {
        self.file(&format!("generations/{n:06}/backup/{}", path.trim_start_matches('/')))
    }

    /// The old content of `path` kept by generation `n`.
    pub fn backup_of(&self, n: u32, path: &str) -> io::Result<Vec<u8>> {
        atomic::read_nofollow(&self.backup_path(n, path))
    }

    /// The lock file.
    pub fn lock_path(&self) -> PathBuf {
        self.file("lock")
    }

    /// All generations, oldest first.
    pub fn generations(&self) -> io::Result<Vec<Generation>> {
        let dir = self.at("generations");
        let mut out = Vec::new();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        let mut names: Vec<String> =
            entries.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        for name in names {
            if name.parse::<u32>().is_err() {
                continue; // a half-made generation (…tmp) from a crash before it began
            }
            let g = self.at(&format!("generations/{name}"));
            let text = atomic::read_string_nofollow(&self.file(&format!("generations/{name}/manifest.toml")))?;
            let manifest: Manifest = toml::from_str(&text)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", g.display())))?;
            let state = if g.join("rolled-back").exists() {
                GenerationState::RolledBack
            } else if g.join("committed").exists() {
                GenerationState::Committed
            } else {
                GenerationState::Unfinished
            };
            out.push(Generation { manifest, state });
        }
        Ok(out)
    }

    /// The hash clawguard last wrote for each file it manages.
    pub fn managed(&self) -> io::Result<BTreeMap<String, String>> {
        let mut map = BTreeMap::new();
        for g in self.generations()?.into_iter().filter(|g| g.state == GenerationState::Committed) {
            // A layer given up in that generation (the agent's, a backup destination that
            // did not answer) had its files taken back: what it wrote is not on disk.
            for f in g.manifest.files.into_iter().filter(|f| !g.manifest.given_up.contains(&f.layer)) {
                map.insert(f.path, f.new_sha);
            }
        }
        Ok(map)
    }

    pub fn next_number(&self) -> io::Result<u32> {
        Ok(self.generations()?.last().map(|g| g.manifest.number + 1).unwrap_or(1))
    }

    /// Creates generation `m.number` with its backups and the answers it applies. The
    /// directory appears whole (built under a temporary name, then renamed).
    pub fn create(&self, m: &Manifest, answers_toml: &str) -> io::Result<()> {
        let final_dir = self.gen_dir(m.number);
        let tmp = final_dir.with_extension("tmp");
        let _ = fs::remove_dir_all(&tmp);
        fs::create_dir_all(&tmp)?;
        for f in m.files.iter().filter(|f| f.existed) {
            // Read as a managed file (never through a symlink), written with the file's mode.
            let data = self.root.read_managed(&f.path)?.ok_or_else(|| {
                io::Error::new(io::ErrorKind::NotFound, format!("{} disappeared while it was backed up", f.path))
            })?;
            let dst = tmp.join("backup").join(f.path.trim_start_matches('/'));
            atomic::write(&dst, &data, f.old_mode.unwrap_or(0o600) & 0o777)?;
        }
        // The records hold paths, hashes and answers, no secrets: readable, so that `check`
        // and `status` work without root. The backups keep their files' own modes.
        atomic::write(&tmp.join("answers.toml"), answers_toml.as_bytes(), 0o644)?;
        let text = toml::to_string(m).map_err(|e| io::Error::other(e.to_string()))?;
        atomic::write(&tmp.join("manifest.toml"), text.as_bytes(), 0o644)?;
        fs::rename(&tmp, &final_dir)?;
        atomic::sync_dir(final_dir.parent().expect("has parent"))
    }

    /// Rewrites the manifest of an existing generation (after layers were given up).
    pub fn update_manifest(&self, m: &Manifest) -> io::Result<()> {
        let text = toml::to_string(m).map_err(|e| io::Error::other(e.to_string()))?;
        atomic::write(&self.file(&format!("generations/{:06}/manifest.toml", m.number)), text.as_bytes(), 0o644)
    }

    pub fn answers_of(&self, n: u32) -> io::Result<String> {
        atomic::read_string_nofollow(&self.file(&format!("generations/{n:06}/answers.toml")))
    }

    /// Marks a generation `committed` or `rolled-back`.
    pub fn mark(&self, n: u32, marker: &str) -> io::Result<()> {
        atomic::write(&self.file(&format!("generations/{n:06}/{marker}")), format!("{}\n", now()).as_bytes(), 0o644)
    }

    /// Appends a line to the journal and makes it durable before the step it announces.
    pub fn journal(&self, line: &str) -> io::Result<()> {
        fs::create_dir_all(self.dir())?;
        let mut f = atomic::open_append_nofollow(&self.file("journal"))?;
        writeln!(f, "{} {line}", now())?;
        f.sync_all()
    }

    /// The journal's entries (without their times). A journal that does not exist is empty;
    /// one that cannot be read is an error.
    pub fn journal_lines(&self) -> io::Result<Vec<String>> {
        let text = match atomic::read_string_nofollow(&self.file("journal")) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(io::Error::new(e.kind(), format!("reading the journal: {e}"))),
        };
        Ok(text.lines().map(|l| l.split_once(' ').map(|(_, rest)| rest.to_owned()).unwrap_or_default()).collect())
    }

    /// What the journal says about generation `n`'s commands.
    pub fn trace(&self, n: u32) -> io::Result<Trace> {
        let lines = self.journal_lines()?;
        let prefix = format!("reran {n} ");
        let reran = lines
            .iter()
            .filter_map(|l| l.strip_prefix(&prefix))
            .filter_map(|r| r.split_once(' '))
            .filter_map(|(i, how)| Some((i.parse().ok()?, how == "ok")))
            .collect();
        let Some(begin) = lines.iter().rposition(|l| *l == format!("begin {n}")) else {
            return Ok(Trace { began: false, started: Vec::new(), ran: Vec::new(), reran });
        };
        let own = lines[begin + 1..].iter().take_while(|l| !l.starts_with("begin "));
        let (mut started, mut ran) = (Vec::new(), Vec::new());
        for l in own {
            if let Some(i) = l.strip_prefix("run ").and_then(|i| i.parse().ok()) {
                started.push(i);
            } else if let Some(i) = l.strip_prefix("ran ").and_then(|i| i.parse().ok()) {
                ran.push(i);
            }
        }
        Ok(Trace { began: true, started, ran, reran })
    }

    /// The confirmation waited for: `None` when nothing is pending; an error when the record
    /// exists but cannot be read or parsed (never "nothing pending": that would silently
    /// drop the automatic rollback).
    pub fn pending(&self) -> io::Result<Option<Pending>> {
        let path = self.file("pending.toml");
        atomic::read_toml(&path).map_err(|e| match e.kind() {
            io::ErrorKind::InvalidData => {
                io::Error::new(e.kind(), format!("{e}: a change may still be waiting for its confirmation"))
            }
            _ => io::Error::new(e.kind(), format!("{}: {e}", path.display())),
        })
    }

    pub fn set_pending(&self, p: &Pending) -> io::Result<()> {
        fs::create_dir_all(self.dir())?;
        let text = toml::to_string(p).map_err(|e| io::Error::other(e.to_string()))?;
        atomic::write(&self.file("pending.toml"), text.as_bytes(), 0o644)
    }

    pub fn clear_pending(&self) -> io::Result<()> {
        match fs::remove_file(self.file("pending.toml")) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
            _ => atomic::sync_dir(&self.dir()),
        }
    }

    /// The outcome of the last automatic rollback, for `status`.
    pub fn set_last_rollback(&self, text: &str) -> io::Result<()> {
        atomic::write(&self.file("last-rollback"), text.as_bytes(), 0o644)
    }

    pub fn last_rollback(&self) -> Option<String> {
        atomic::read_string_nofollow(&self.file("last-rollback")).ok()
    }

    /// What the last alert of the daily check covered; None before the first.
    pub fn last_alert<T: serde::de::DeserializeOwned>(&self) -> io::Result<Option<T>> {
        atomic::read_toml(&self.file("last-alert.toml"))
    }

    pub fn set_last_alert(&self, text: &str) -> io::Result<()> {
        fs::create_dir_all(self.dir())?;
        atomic::write(&self.file("last-alert.toml"), text.as_bytes(), 0o600)
    }

    /// Where the daily check keeps what it saw (accounts and SSH keys).
    pub fn seen_path(&self) -> PathBuf {
        self.file("seen.toml")
    }

    /// What the last check saw; None before the first.
    pub fn seen<T: serde::de::DeserializeOwned>(&self) -> io::Result<Option<T>> {
        atomic::read_toml(&self.seen_path())
    }

    pub fn set_seen(&self, text: &str) -> io::Result<()> {
        fs::create_dir_all(self.dir())?;
        atomic::write(&self.seen_path(), text.as_bytes(), 0o600)
    }
}
