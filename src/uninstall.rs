//! What `clawguard uninstall` puts back: every file clawguard manages as it was before
//! clawguard first touched it (its content and mode from the backup of the first
//! generation that wrote it, or gone when it did not exist), and the commands that take
//! back what the generations ran (newest first). Read from clawguard's records only; what
//! cannot be read is an error, never an empty default — an uninstall that silently skips
//! a file would leave the host half-changed.

use std::collections::BTreeSet;
use std::io;

use crate::apply::ApplyError;
use crate::apply::store::{GenerationState, Store};
use crate::plan::preview::shell_words;
use crate::plan::preview::unified;
use crate::target::Root;
use crate::target::sha256;
use crate::target::{Ran, Runner};

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
    /// Changed since clawguard last wrote it (by hand, or by the agent).
    pub edited: bool,
}

impl Restore {
    /// A file clawguard created that someone has changed since (OpenClaw's
    /// `settings.json5`, which clawguard makes once and the user then owns): the uninstall
    /// leaves it as it is rather than delete someone's work. clawguard's own answers file
    /// goes regardless.
    pub fn kept(&self) -> bool {
        self.edited && self.original == Original::Absent && self.layer != "Answers"
    }

    /// Whether putting it back changes anything.
    pub fn changes(&self) -> bool {
        if self.kept() {
            return false;
        }
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
        unified(&self.path, &to, &now, &before)
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
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(
        "--purge could not remove the agent's project and its volumes: `{0}`. The agent may be stopped; nothing else was changed. Run `sudo clawguard uninstall` again without --purge to keep the volumes."
    )]
    Volumes(String),
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
    let managed = store.managed().map_err(records)?;
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
            let edited = current.as_deref().is_some_and(|c| managed.get(&f.path) != Some(&sha256(c)));
            out.files.push(Restore {
                path: f.path.clone(),
                layer: f.layer.clone(),
                generation: n,
                original,
                current,
                edited,
            });
        }
    }
    let mut undone = BTreeSet::new();
    for g in committed.iter().rev() {
        // What a given-up layer ran was taken back when it was given up.
        for c in g.manifest.commands.iter().rev().filter(|c| !g.manifest.given_up.contains(&c.layer)) {
            if let Some(argv) = &c.undo
                && undone.insert(argv.clone())
            {
                out.undo.push(Undo { argv: argv.clone(), layer: c.layer.clone(), undoes: c.argv.clone() });
            }
        }
    }
    Ok(out)
}

impl Restoration {
    /// The ports sshd listened on before clawguard: its config files as this restoration
    /// puts them back, read the way sshd reads them (in a scratch copy: nothing of the
    /// target is touched).
    pub fn ssh_ports(&self, root: &Root) -> io::Result<Vec<u16>> {
        let scratch = tempfile::tempdir()?;
        let copy = Root::new(scratch.path());
        let now = crate::host::sshd::probe(root);
        let mut files: Vec<(String, Option<Vec<u8>>)> =
            now.files.iter().map(|(p, t)| (p.clone(), Some(t.clone().into_bytes()))).collect();
        for r in self.files.iter().filter(|r| r.path.starts_with("/etc/ssh/")) {
            files.retain(|(p, _)| p != &r.path);
            if let Original::Content { data, .. } = &r.original {
                files.push((r.path.clone(), Some(data.clone())));
            }
        }
        for (path, data) in files {
            let Some(data) = data else { continue };
            let at = copy.path(&path);
            if let Some(dir) = at.parent() {
                std::fs::create_dir_all(dir)?;
            }
            std::fs::write(at, data)?;
        }
        Ok(crate::host::sshd::probe(&copy).ports())
    }

    /// The files put back that change something.
    pub fn changing(&self) -> impl Iterator<Item = &Restore> {
        self.files.iter().filter(|r| r.changes())
    }

    /// The files left as they are (see [`Restore::kept`]).
    pub fn kept(&self) -> impl Iterator<Item = &Restore> {
        self.files.iter().filter(|r| r.kept())
    }
}

/// What `clawguard uninstall` leaves, unless `--purge`: the vault and its identity (the
/// agent's keys may exist nowhere else), what reaches the off-server backups, and the
/// evidence `clawguard incident` collected. Names inside the state directory, and paths.
pub const KEPT_STATE: &[&str] =
    &["vault-identity.txt", "vault-identity.next.txt", "backup_ed25519", "backup_ed25519.pub", "backup_known_hosts"];
/// Kept directories under `/etc/clawguard` (the vault), unless `--purge`.
pub const KEPT_ETC: &[&str] = &[crate::vault::DIR, crate::vault::PREVIOUS_DIR];

/// Where `clawguard secrets unlock` puts the keys for the agent (see `layers::SECRETS_DIR`).
const UNLOCKED: &str = "/run/clawguard";
/// The same on macOS (`layers::MAC_SECRETS_DIR`).
const MAC_UNLOCKED: &str = "/var/run/clawguard";

/// What the last step of an uninstall did.
#[derive(Debug, Clone, Default)]
pub struct Finished {
    /// The rollbacks, then sshd's ports checked.
    pub lines: Vec<String>,
    /// What stays on the host (without `--purge`).
    pub kept: Vec<String>,
    /// sshd does not listen where it did before clawguard (reported loudly).
    pub ssh_problem: Option<String>,
}

/// The last step of `clawguard uninstall`: every generation taken back (newest first, each
/// as `clawguard rollback` does), sshd checked on the ports it has now, then clawguard's
/// records removed — the vault, the backups' key and incident evidence too with `purge`.
pub fn finish(root: &Root, runner: &Runner, purge: bool) -> Result<Finished, UninstallError> {
    let restoring = restoration(root)?;
    let spared: Vec<String> = restoring.kept().map(|r| r.path.clone()).collect();
    let mut purged = Vec::new();
    if purge && runner.runs_commands() {
        // The agent's project with its volumes (the proxy's logs): its recorded `down`
        // with `-v`, before the rollbacks, whose own `down` then has nothing left to stop.
        let project = crate::layers::sandbox::PROJECT;
        for u in restoring
            .undo
            .iter()
            .filter(|u| u.argv.iter().any(|a| a == project) && u.argv.last().is_some_and(|a| a == "down"))
        {
            let mut argv = u.argv.clone();
            argv.push("-v".into());
            match runner.run(&argv) {
                Ran::Ok(_) => purged.push(format!("ran {} (the agent's volumes go with --purge)", shell_words(&argv))),
                Ran::Skipped => {}
                Ran::Failed { status, output } => {
                    return Err(UninstallError::Volumes(format!(
                        "{} ({status}: {})",
                        shell_words(&argv),
                        crate::target::gist(&output)
                    )));
                }
            }
        }
    }
    // Read before the records go: the answers the host ran with (where the agent's data
    // is) and the directories clawguard made.
    let leftovers = Leftovers::read(root)?;
    let mut out = Finished { lines: purged, ..Finished::default() };
    out.lines.extend(crate::apply::roll_back_all(root, runner, &spared)?);
    out.kept.extend(spared);
    if runner.runs_commands() && root.exists(crate::host::sshd::MAIN) {
        let facts = crate::host::probe(root, None);
        for port in facts.sshd.ports() {
            match crate::apply::wait_listening(runner, facts.platform.kind(), port) {
                Ok(()) => out.lines.push(format!("sshd listens on port {port}, as before clawguard")),
                Err(why) => {
                    out.ssh_problem = Some(format!(
                        "{why}: sshd does not listen on port {port}, where it did before clawguard. Do not close this session; `systemctl status ssh` says why."
                    ));
                }
            }
        }
    }
    let io = |what: String| move |source| ApplyError::Io { what, source };
    // The records' directory as it is (a link there is never followed: what it points to
    // is not clawguard's to remove).
    let state = root.entry(crate::target::STATE_DIR);
    if std::fs::symlink_metadata(&state).is_ok_and(|m| m.file_type().is_symlink()) {
        return Err(UninstallError::Apply(ApplyError::Damaged(format!(
            "{} is a symbolic link, not clawguard's directory: every generation was taken back, but the records were not removed. Look at where it points, then remove it yourself.",
            crate::target::STATE_DIR
        ))));
    }
    let keep = |name: &str| !purge && (KEPT_STATE.contains(&name) || name.starts_with("incident-"));
    if state.is_dir() {
        let mut names: Vec<String> = std::fs::read_dir(&state)
            .map_err(io(format!("listing {}", state.display())))?
            .map(|e| e.map(|e| e.file_name().to_string_lossy().into_owned()))
            .collect::<io::Result<_>>()
            .map_err(io(format!("listing {}", state.display())))?;
        names.sort();
        let mut kept_here = 0;
        for name in names {
            let path = state.join(&name);
            if keep(&name) {
                out.kept.push(format!("{}/{name}", crate::target::STATE_DIR));
                kept_here += 1;
                continue;
            }
            remove(&path).map_err(io(format!("removing {}", path.display())))?;
        }
        out.lines.push(format!("removed clawguard's records ({})", crate::target::STATE_DIR));
        if kept_here == 0 {
            std::fs::remove_dir(&state).map_err(io(format!("removing {}", state.display())))?;
            // A Mac has no /var/lib of its own: clawguard made it for its records.
            let var_lib = root.entry("/var/lib");
            if crate::host::platform::probe(root).mac().is_some()
                && std::fs::symlink_metadata(&var_lib).is_ok_and(|m| m.is_dir())
                && std::fs::read_dir(&var_lib).is_ok_and(|mut d| d.next().is_none())
            {
                std::fs::remove_dir(&var_lib).map_err(io(format!("removing {}", var_lib.display())))?;
            }
        }
    }
    for dir in KEPT_ETC {
        let path = root.entry(dir);
        if std::fs::symlink_metadata(&path).is_err() {
            continue;
        }
        if purge {
            remove(&path).map_err(io(format!("removing {}", path.display())))?;
            out.lines.push(format!("removed {dir}"));
        } else {
            out.kept.push((*dir).to_owned());
        }
    }
    leftovers.clear(root, purge, &mut out)?;
    // The keys unlocked for the agent (a tmpfs until the next boot): copies of the vault's,
    // nothing reads them any more.
    for dir in [UNLOCKED, MAC_UNLOCKED] {
        let unlocked = root.entry(dir);
        if std::fs::symlink_metadata(&unlocked).is_ok() {
            remove(&unlocked).map_err(io(format!("removing {}", unlocked.display())))?;
            out.lines.push(format!("removed {dir} (the keys unlocked for the agent)"));
        }
    }
    // /etc/clawguard itself, once nothing is left in it.
    let etc = root.entry(crate::layers::ETC);
    if std::fs::symlink_metadata(&etc).is_ok_and(|m| m.is_dir())
        && std::fs::read_dir(&etc).is_ok_and(|mut d| d.next().is_none())
    {
        std::fs::remove_dir(&etc).map_err(io(format!("removing {}", etc.display())))?;
    }
    Ok(out)
}

/// What clawguard leaves outside its managed files: state of its own (restic's cache,
/// systemd's stamps of its timers), always removed; the agent's data (OpenClaw's own
/// archives, the agent's logs in the default log directory), removed with `--purge`
/// only; then the directories clawguard made, once empty.
struct Leftovers {
    data: Vec<String>,
    made_dirs: Vec<String>,
}

/// restic's cache (see `backup::restic`).
const CACHE: &str = "/var/cache/clawguard";
/// Where systemd keeps the last run of a persistent timer.
const TIMER_STAMPS: &str = "/var/lib/systemd/timers";

impl Leftovers {
    fn read(root: &Root) -> Result<Leftovers, UninstallError> {
        let store = Store::new(root);
        let records = |source| UninstallError::Records { dir: store.dir().display().to_string(), source };
        let generations = store.generations().map_err(records)?;
        let committed: Vec<_> = generations.iter().filter(|g| g.state == GenerationState::Committed).collect();
        let mut made_dirs: Vec<String> =
            committed.iter().flat_map(|g| g.manifest.files.iter().flat_map(|f| f.made_dirs.clone())).collect();
        made_dirs.sort();
        made_dirs.dedup();
        let mut data = Vec::new();
        if let Some(last) = committed.last() {
            let text = store.answers_of(last.manifest.number).map_err(records)?;
            // Answers that no longer parse (an older clawguard) name no data: nothing is
            // removed on their word.
            if let Ok(a) = crate::answers::Answers::parse(&text, "the applied answers") {
                data.push(crate::layers::openclaw::backups_dir(&a));
                let default = crate::answers::Answers::default();
                if a.monitoring.log_dir == default.monitoring.log_dir {
                    data.push(a.monitoring.log_dir.to_string());
                }
            }
        }
        Ok(Leftovers { data, made_dirs })
    }

    fn clear(&self, root: &Root, purge: bool, out: &mut Finished) -> Result<(), UninstallError> {
        let io = |what: String| move |source| UninstallError::Apply(ApplyError::Io { what, source });
        let exists = |p: &std::path::Path| std::fs::symlink_metadata(p).is_ok();
        let cache = root.entry(CACHE);
        if exists(&cache) {
            remove(&cache).map_err(io(format!("removing {}", cache.display())))?;
        }
        let stamps = root.path(TIMER_STAMPS);
        for name in root.list(TIMER_STAMPS).into_iter().filter(|n| n.starts_with("stamp-clawguard-")) {
            let p = stamps.join(&name);
            std::fs::remove_file(&p).map_err(io(format!("removing {}", p.display())))?;
        }
        for dir in &self.data {
            let p = root.entry(dir);
            if !exists(&p) {
                continue;
            }
            if purge {
                remove(&p).map_err(io(format!("removing {}", p.display())))?;
                out.lines.push(format!("removed {dir} (the agent's data)"));
            } else {
                out.kept.push(format!("{dir} (the agent's data)"));
            }
        }
        for dir in self.made_dirs.iter().rev() {
            let p = root.entry(dir);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_dir())
                && std::fs::read_dir(&p).is_ok_and(|mut d| d.next().is_none())
            {
                std::fs::remove_dir(&p).map_err(io(format!("removing {}", p.display())))?;
            }
        }
        Ok(())
    }
}

/// Removes a file, a link (never what it points to) or a whole directory.
fn remove(path: &std::path::Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path)? {
        m if m.is_dir() => std::fs::remove_dir_all(path),
        _ => std::fs::remove_file(path),
    }
}
