//! Backups off the server (layer 7 at work): the restic repository and its password (a
//! key of clawguard's own in the vault, never unlocked for the agent), what goes in (the
//! agent's config, state and workspace; clawguard's answers and vault — never the vault's
//! identity, which lives apart and travels only in the recovery kit), the nightly run, the
//! list. restic does the work (`restic.rs`); the kit is `kit.rs`.

pub mod kit;
mod pause;
pub mod restic;
mod restore;
mod verify;

use serde::{Deserialize, Serialize};

use crate::answers::{Answers, BackupTarget, Ident};
use crate::target::Root;
use crate::vault::{Vault, VaultError};
pub use pause::Pause;
pub use restic::{Failure, Made, Restic, Snapshot};
pub use restore::{Restored, restore};
pub use verify::{DiffKind, Difference, VERIFIED, Verified, last_verified, verify};

/// The tag on every snapshot clawguard makes (retention applies to these only).
pub const TAG: &str = "clawguard";
/// The vault's name for the repository password.
pub const PASSWORD_KEY: &str = "clawguard-restic";
/// How the last `backup now` went, for `clawguard check`.
pub const LAST: &str = "/var/lib/clawguard/backup-last.toml";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// A value that would reach ssh or restic as something other than a value.
    #[error("{0}")]
    Unsafe(String),
    #[error(
        "no backup destination is set: set backup.destination in the answers to an off-server restic repository (`sftp:user@host:/path`, `rest:https://host:8000/repo`, `s3:https://…`), then run this again"
    )]
    NoDestination,
    #[error(
        "backup.destination {0} is on this same machine: it dies with the disk and whoever takes the server over can delete it. Use an off-server repository, or set backup.allow_same_machine = true if you accept that"
    )]
    SameMachine(String),
    #[error(
        "the repository password is not in the vault: `sudo clawguard backup init` makes one (or `clawguard restore --kit FILE` brings it back)"
    )]
    NoPassword,
    #[error(transparent)]
    Vault(#[from] VaultError),
    #[error(transparent)]
    Restic(#[from] Failure),
    #[error(
        "a repository is already at {0}, and this host's password does not open it: it belongs to another host or was made with another password. Choose another backup.destination, or restore from that repository's kit"
    )]
    Foreign(String),
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("none of the paths to back up exist under {0}: nothing to back up")]
    Nothing(String),
    #[error("there is no snapshot at {0} yet: `sudo clawguard backup now` makes one")]
    NoSnapshot(String),
    #[error("the snapshot's answers.toml cannot be read ({0}): the restore cannot know where the agent's data goes")]
    RestoredAnswers(String),
    #[error(
        "the restore did not put everything in place: what is left is kept in {0} (nothing was deleted); move what you need from there by hand"
    )]
    LeftInStaging(String),
}

/// The restic repository string for `target`: a local one lies under the root.
/// clawguard's own SSH key for an `sftp:` repository: on the target, beside the vault's
/// identity and like it never in a backup (the recovery kit carries it).
pub const SSH_KEY: &str = "/var/lib/clawguard/backup_ed25519";
/// The backup server's host key, learned on the first connection and then held.
pub const KNOWN_HOSTS: &str = "/var/lib/clawguard/backup_known_hosts";

/// restic for `dest`; an sftp repository is reached with [`SSH_KEY`] once it exists
/// (before that, with root's own ssh settings).
fn restic_for(dest: &BackupTarget, repository: String, password: String, root: &Root) -> Result<Restic, BackupError> {
    let restic = Restic::new(repository, password, root.dir());
    match dest {
        BackupTarget::Sftp { user, host, .. } if root.path(SSH_KEY).is_file() => restic
            .with_ssh(&root.path(SSH_KEY), &root.path(KNOWN_HOSTS), user.as_str(), host)
            .map_err(BackupError::Unsafe),
        _ => Ok(restic),
    }
}

/// The public half of [`SSH_KEY`], made on first use (ed25519, no passphrase: the nightly
/// unit runs unattended; mode 0600, root's).
pub fn ssh_key(root: &Root, host: &str) -> Result<String, BackupError> {
    let key = root.path(SSH_KEY);
    let io = |what: String| move |source| BackupError::Io { what, source };
    if !key.is_file() {
        if let Some(dir) = key.parent() {
            std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        }
        let out = crate::target::runner::own_session(&mut std::process::Command::new("ssh-keygen"))
            .args(["-q", "-t", "ed25519", "-N", "", "-C", &format!("clawguard-backup@{host}"), "-f"])
            .arg(&key)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(io("running ssh-keygen (apt-get install openssh-client)".into()))?;
        if !out.status.success() {
            return Err(BackupError::Io {
                what: "making the backup key with ssh-keygen".into(),
                source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_owned()),
            });
        }
    }
    let public = key.with_extension("pub");
    std::fs::read_to_string(&public).map(|t| t.trim().to_owned()).map_err(io(format!("reading {}", public.display())))
}

/// The private key for the recovery kit, when there is one.
pub fn ssh_key_text(root: &Root) -> Result<Option<String>, BackupError> {
    match crate::target::atomic::read_string_nofollow(&root.path(SSH_KEY)) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(BackupError::Io { what: format!("reading {SSH_KEY}"), source }),
    }
}

/// Puts the kit's SSH key in place on a fresh host; one already there is kept.
fn install_ssh_key(root: &Root, text: &str) -> Result<(), BackupError> {
    let key = root.path(SSH_KEY);
    if key.exists() {
        return Ok(());
    }
    crate::target::atomic::write(&key, text.as_bytes(), 0o600)
        .map_err(|source| BackupError::Io { what: format!("writing {}", key.display()), source })
}

pub fn repository(target: &BackupTarget, root: &Root) -> String {
    match target {
        BackupTarget::Local { path } => root.path(path.as_str()).display().to_string(),
        other => other.to_string(),
    }
}

/// What is backed up, as absolute paths on the target: the agent's state, workspace and
/// config, and clawguard's answers and vault (/etc/clawguard).
pub fn sources(a: &Answers) -> Vec<String> {
    let s = &a.sandbox;
    let mut out: Vec<String> = vec![s.config_dir.to_string(), s.state_dir.to_string(), s.workspace.to_string()];
    out.push(crate::layers::ETC.to_owned());
    out.sort();
    out.dedup();
    // A path inside another one is already in it.
    let all = out.clone();
    out.retain(|p| !all.iter().any(|q| q != p && p.starts_with(&format!("{}/", q.trim_end_matches('/')))));
    out
}

/// The destination, refused when it is this machine and that was not accepted.
fn destination(a: &Answers, own_names: &[String]) -> Result<BackupTarget, BackupError> {
    let dest = a.backup.destination.clone().ok_or(BackupError::NoDestination)?;
    if dest.is_this_machine(own_names) && !a.backup.allow_same_machine {
        return Err(BackupError::SameMachine(dest.to_string()));
    }
    Ok(dest)
}

fn password_key() -> Ident {
    PASSWORD_KEY.parse().expect("a valid name")
}

/// restic for this host's repository, with the password from the vault.
pub fn open(a: &Answers, root: &Root, own_names: &[String]) -> Result<Restic, BackupError> {
    let dest = destination(a, own_names)?;
    let password = match Vault::new(root).get(&password_key()) {
        Ok(p) => String::from_utf8(p).map_err(|_| BackupError::NoPassword)?,
        Err(VaultError::Missing(_)) | Err(VaultError::NoIdentity(_)) => return Err(BackupError::NoPassword),
        Err(e) => return Err(e.into()),
    };
    restic_for(&dest, repository(&dest, root), password, root)
}

/// What the destination answers, before anything is created there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reach {
    /// A repository is there and this host's password opens it.
    Opens,
    /// Reachable, no repository yet: `init` (or apply) creates it.
    Empty,
    /// A repository is there that this host's password does not open (another host's).
    Foreign,
}

/// Asks the destination the answers name (with this host's password when the vault has
/// one, else a throwaway one: enough to tell a repository from none). Writes nothing.
pub fn reach(a: &Answers, root: &Root, own_names: &[String]) -> Result<Reach, BackupError> {
    let dest = destination(a, own_names)?;
    let vault = Vault::new(root);
    let password = match vault.get(&password_key()) {
        Ok(p) => String::from_utf8(p).map_err(|_| BackupError::NoPassword)?,
        Err(VaultError::Missing(_)) | Err(VaultError::NoIdentity(_)) => "clawguard-reach-test".to_owned(),
        Err(e) => return Err(e.into()),
    };
    let restic = restic_for(&dest, repository(&dest, root), password, root)?;
    match restic.opens() {
        Ok(true) => Ok(Reach::Opens),
        Ok(false) => Ok(Reach::Empty),
        // With a throwaway password every existing repository is "foreign": said as such,
        // and `init` will refuse to write over it either way.
        Err(Failure::WrongPassword(_)) => Ok(Reach::Foreign),
        Err(e) => Err(e.into()),
    }
}

/// What `init` found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Init {
    Created,
    AlreadyThere,
}

/// Creates the repository at the destination with a new password kept in the vault; a
/// repository that this host's password already opens is left as it is.
pub fn init(a: &Answers, root: &Root, own_names: &[String]) -> Result<Init, BackupError> {
    destination(a, own_names)?;
    let vault = Vault::new(root);
    match vault.get(&password_key()) {
        Ok(_) => {}
        Err(VaultError::Missing(_)) | Err(VaultError::NoIdentity(_)) => {
            vault.set(&password_key(), new_password()?.as_bytes())?;
        }
        Err(e) => return Err(e.into()),
    }
    let restic = open(a, root, own_names)?;
    match restic.opens() {
        Ok(true) => return Ok(Init::AlreadyThere),
        Ok(false) => {}
        Err(Failure::WrongPassword(r)) => return Err(BackupError::Foreign(r)),
        Err(e) => return Err(e.into()),
    }
    if let BackupTarget::Local { path } = destination(a, own_names)? {
        let dir = root.path(path.as_str());
        std::fs::create_dir_all(dir.parent().unwrap_or(&dir))
            .map_err(|source| BackupError::Io { what: format!("creating {}", dir.display()), source })?;
    }
    restic.init()?;
    Ok(Init::Created)
}

/// 32 random bytes, base64: the repository password.
fn new_password() -> Result<String, BackupError> {
    use base64::Engine;
    let bytes = crate::vault::random_bytes::<32>()
        .map_err(|source| BackupError::Io { what: "reading /dev/urandom".into(), source })?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// How the last `backup now` went (`LAST`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Last {
    /// Seconds since the epoch.
    pub at: u64,
    /// The snapshot made, if one was.
    pub snapshot: Option<String>,
    /// restic's exit 3: what it could not read.
    #[serde(default)]
    pub unreadable: Vec<String>,
    /// Why no snapshot was made.
    pub error: Option<String>,
    #[serde(default)]
    pub agent: Pause,
}

/// Backs up what [`sources`] names (those that exist), applies the retention, and records
/// how it went in [`LAST`] either way. The agent's databases are never copied mid-write:
/// where `runner` reaches the engine, the agent's container is stopped for the snapshot
/// and started again, whatever happened. `progress` hears how far restic is.
pub fn now(
    a: &Answers,
    facts: &crate::host::Facts,
    root: &Root,
    runner: &crate::target::Runner,
    progress: &mut dyn FnMut(&restic::Progress),
) -> Result<Made, BackupError> {
    let own_names: Vec<String> = facts.hostname.iter().cloned().collect();
    let compose = crate::layers::sandbox::compose_file(a);
    let pause = runner.runs_commands() && !a.skip.contains(&crate::answers::Layer::Sandbox) && root.exists(&compose);
    let agent = |verb: &str| runner.run(&crate::layers::sandbox::project_argv(facts, &compose, &[verb, "agent"]));
    let mut paused = Pause::NotAsked;
    let mut no_archive = None;
    // OpenClaw snapshots its own databases consistently while it runs: no stop.
    if pause && a.sandbox.profile == crate::answers::Profile::Openclaw {
        match runner.run(&openclaw_archive_argv(a, facts)) {
            crate::target::Ran::Ok(out) => {
                paused = Pause::Archived(archive_name(&out).unwrap_or_else(|| "its archive".into()))
            }
            crate::target::Ran::Failed { status, output } => {
                no_archive = Some(output.lines().last().filter(|l| !l.trim().is_empty()).unwrap_or(&status).to_owned())
            }
            crate::target::Ran::Skipped => {}
        }
    }
    let pause = pause && paused == Pause::NotAsked;
    if pause {
        paused = match agent("stop") {
            crate::target::Ran::Failed { output, .. } => {
                Pause::StopFailed(output.lines().last().unwrap_or_default().to_owned())
            }
            _ => no_archive.map(Pause::PausedNoArchive).unwrap_or(Pause::Paused),
        };
    }
    let archived = matches!(paused, Pause::Archived(_));
    let result = run_backup(a, root, &own_names, archived, progress);
    if archived && result.is_ok() {
        prune_archives(a, root);
    }
    if pause && let crate::target::Ran::Failed { output, .. } = agent("start") {
        paused = Pause::StartFailed(output.lines().last().unwrap_or_default().to_owned());
    }
    let result = result.map(|mut m| {
        m.agent = paused.clone();
        m
    });
    let at = crate::target::now();
    let last = match &result {
        Ok(m) => Last {
            at,
            snapshot: Some(m.snapshot.clone()),
            unreadable: m.unreadable.clone(),
            error: None,
            agent: paused,
        },
        Err(e) => Last { at, snapshot: None, unreadable: Vec::new(), error: Some(e.to_string()), agent: paused },
    };
    record(root, &last)?;
    result
}

fn run_backup(
    a: &Answers,
    root: &Root,
    own_names: &[String],
    archived: bool,
    progress: &mut dyn FnMut(&restic::Progress),
) -> Result<Made, BackupError> {
    let restic = open(a, root, own_names)?;
    let paths = relative_sources(a, root);
    if paths.is_empty() {
        return Err(BackupError::Nothing(root.dir().display().to_string()));
    }
    // An absolute pattern names a path on the target: restic matches it under the root.
    let base = root.dir().display().to_string();
    let excludes: Vec<String> = a
        .backup
        .exclude
        .iter()
        .map(|p| match p.as_str().strip_prefix('/') {
            Some(rest) => format!("{}/{rest}", base.trim_end_matches('/')),
            None => p.to_string(),
        })
        .collect();
    let mut paths = paths;
    let mut excludes = excludes;
    if archived {
        // The archive holds the databases' consistent snapshots; the live files are not
        // copied mid-write.
        let spool = root.path(&crate::layers::openclaw::backups_dir(a));
        if let Ok(rel) = spool.strip_prefix(root.dir()) {
            paths.push(rel.display().to_string());
        }
        excludes.extend(["*.sqlite", "*.sqlite-wal", "*.sqlite-shm"].map(String::from));
    }
    let made = restic.backup_with(&paths, &excludes, TAG, progress)?;
    restic.forget(TAG, a.backup.keep_daily.get(), a.backup.keep_weekly.get(), a.backup.keep_monthly.get())?;
    Ok(made)
}

/// `openclaw backup create` in the running agent, into its backups directory, verified.
/// Its verification extracts the databases under TMPDIR and wants 256 MiB spare there:
/// the agent's /tmp is a small tmpfs, so it extracts beside the archives, on the disk.
pub fn openclaw_archive_argv(a: &Answers, facts: &crate::host::Facts) -> Vec<String> {
    let compose = crate::layers::sandbox::compose_file(a);
    crate::layers::sandbox::project_argv(
        facts,
        &compose,
        &[
            "exec",
            "-T",
            "-e",
            &format!("TMPDIR={}", crate::layers::openclaw::CONTAINER_BACKUPS),
            "agent",
            "openclaw",
            "backup",
            "create",
            "--output",
            crate::layers::openclaw::CONTAINER_BACKUPS,
            "--verify",
            "--json",
        ],
    )
}

/// The archive's file name from `openclaw backup create --json`.
fn archive_name(out: &str) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&out[out.find('{')?..]).ok()?;
    let path = ["archivePath", "archive", "path", "output"].iter().find_map(|k| v[*k].as_str())?;
    Some(path.rsplit('/').next().unwrap_or(path).to_owned())
}

/// Keeps the newest OpenClaw archive in its directory (the snapshots keep the others).
fn prune_archives(a: &Answers, root: &Root) {
    let dir = root.path(&crate::layers::openclaw::backups_dir(a));
    let Ok(entries) = std::fs::read_dir(&dir) else { return };
    let mut archives: Vec<(std::time::SystemTime, std::path::PathBuf)> = entries
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tar.gz"))
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .collect();
    archives.sort();
    archives.pop();
    for (_, p) in archives {
        let _ = std::fs::remove_file(p);
    }
}

/// [`sources`] that exist, relative to the root, every symlink on the way resolved inside
/// it (restic runs in the root: a relative path must not leave it).
pub fn relative_sources(a: &Answers, root: &Root) -> Vec<String> {
    sources(a)
        .iter()
        .map(|p| root.path(p))
        .filter(|p| p.exists())
        .filter_map(|p| p.strip_prefix(root.dir()).ok().map(|r| r.display().to_string()))
        .map(|r| if r.is_empty() { ".".to_owned() } else { r })
        .collect()
}

fn record(root: &Root, last: &Last) -> Result<(), BackupError> {
    write_record(root, LAST, &toml::to_string(last).expect("a record serializes"))
}

fn write_record(root: &Root, file: &str, text: &str) -> Result<(), BackupError> {
    let path = root.entry(file);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|source| BackupError::Io { what: format!("creating {}", dir.display()), source })?;
    }
    crate::target::atomic::write(&path, text.as_bytes(), 0o600)
        .map_err(|source| BackupError::Io { what: format!("writing {}", path.display()), source })
}

/// How the last `backup now` went; None before the first.
pub fn last(root: &Root) -> std::io::Result<Option<Last>> {
    read_record(root, LAST)
}

/// One of the records this module keeps (`LAST`, `VERIFIED`); None before the first.
fn read_record<T: serde::de::DeserializeOwned>(root: &Root, file: &str) -> std::io::Result<Option<T>> {
    crate::target::atomic::read_toml(&root.entry(file))
}

/// When the recovery kit was last made, and for what (never its content).
pub const KIT: &str = "/var/lib/clawguard/backup-kit.toml";

/// What the last recovery kit holds the means to open.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KitMade {
    /// Seconds since the epoch.
    pub at: u64,
    pub repository: String,
    /// The vault identity's public key sealed in it.
    pub identity: String,
}

/// Records that a kit was made for `repository` with the vault identity `identity`.
pub fn record_kit(root: &Root, repository: &str, identity: &str) -> Result<(), BackupError> {
    let made = KitMade { at: crate::target::now(), repository: repository.to_owned(), identity: identity.to_owned() };
    write_record(root, KIT, &toml::to_string(&made).expect("a record serializes"))
}

/// Why a recovery kit is needed now, in a sentence; None when the last kit still opens
/// this host's backups and vault (or backups are not set up here).
pub fn kit_needed(a: &Answers, root: &Root) -> Option<String> {
    if a.skip.contains(&crate::answers::Layer::Backup) {
        return None;
    }
    let dest = a.backup.destination.as_ref()?;
    let vault = Vault::new(root);
    // No repository password yet: nothing to lose until the repository exists.
    vault.get(&password_key()).ok()?;
    let identity = vault.public().ok()?;
    let why = match read_record::<KitMade>(root, KIT) {
        Ok(None) => "no recovery kit was made for these backups yet".to_owned(),
        Err(e) => format!("the record of the last recovery kit cannot be read ({e})"),
        Ok(Some(k)) if k.identity != identity => "the vault's identity changed since the last recovery kit".to_owned(),
        Ok(Some(k)) if k.repository != repository(dest, root) => {
            "the backup destination changed since the last recovery kit".to_owned()
        }
        Ok(Some(_)) => return None,
    };
    Some(format!(
        "{why}: make one and keep it OFF this server — `sudo clawguard backup kit --out kit.toml`. Without it, losing this server loses the backups too (their password is in its vault) and every key in the vault."
    ))
}

#[cfg(test)]
mod tests {
    use super::restore::{holds_files, link_on_the_way};
    use super::verify::{excluded, glob};
    use super::*;

    #[test]
    fn a_link_in_a_snapshot_where_a_directory_goes_is_found() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("srv/openclaw/workspace")).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("srv/openclaw/state")).unwrap();
        assert_eq!(link_on_the_way(d.path(), "/srv/openclaw/workspace"), None, "control");
        assert_eq!(link_on_the_way(d.path(), "/srv/openclaw/state").as_deref(), Some("/srv/openclaw/state"));
        assert_eq!(link_on_the_way(d.path(), "/srv/openclaw/state/sub").as_deref(), Some("/srv/openclaw/state"));
        std::fs::create_dir_all(d.path().join("opt")).unwrap();
        std::os::unix::fs::symlink("/etc", d.path().join("opt/x")).unwrap();
        assert_eq!(link_on_the_way(d.path(), "/opt/x/clawguard").as_deref(), Some("/opt/x"));
        assert_eq!(link_on_the_way(d.path(), "/nothing/here"), None);
    }

    #[test]
    fn a_staging_directory_with_a_file_left_is_kept() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("srv/openclaw")).unwrap();
        assert!(!holds_files(d.path()), "empty directories only");
        std::fs::write(d.path().join("srv/openclaw/left"), "x").unwrap();
        assert!(holds_files(d.path()));
    }

    #[test]
    fn excludes_match_as_restic_reads_them() {
        let pats: Vec<crate::answers::ExcludePattern> =
            ["*.tmp", "/srv/openclaw/state/cache", "node_modules"].iter().map(|p| p.parse().unwrap()).collect();
        assert!(excluded(&pats, "/srv/openclaw/workspace/scratch.tmp"));
        assert!(excluded(&pats, "/srv/openclaw/state/cache"));
        assert!(excluded(&pats, "/srv/openclaw/state/cache/blob"));
        assert!(excluded(&pats, "/srv/openclaw/workspace/app/node_modules/x.js"));
        assert!(!excluded(&pats, "/srv/openclaw/state/agent.sqlite"));
        assert!(!excluded(&pats, "/srv/openclaw/state/cachet"));
        assert!(!excluded(&pats, "/srv/openclaw/workspace/tmp"));
        assert!(glob("[ab]c?", "bcd") && !glob("[ab]c?", "ccd"));
    }

    #[test]
    fn the_sources_are_the_agents_trees_and_clawguards_own_each_once() {
        let mut a = Answers::default();
        let s = sources(&a);
        assert!(s.contains(&"/etc/clawguard".to_owned()), "{s:?}");
        assert!(s.contains(&a.sandbox.state_dir.to_string()), "{s:?}");
        // A workspace inside the state directory is not listed twice.
        a.sandbox.workspace = format!("{}/workspace", a.sandbox.state_dir).parse().unwrap();
        let s = sources(&a);
        assert!(!s.contains(&a.sandbox.workspace.to_string()), "{s:?}");
        assert!(!s.iter().any(|p| p.contains("vault-identity")), "{s:?}");
    }
}
