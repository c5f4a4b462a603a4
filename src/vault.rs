//! The credential vault: each key encrypted with age to this host's own identity, one file
//! per service under `/etc/clawguard/vault/`. The identity lives apart, in
//! `/var/lib/clawguard/` (mode 0600), which the backups do not include — a backup never
//! carries the key that opens it (PITFALLS 16). At boot `clawguard secrets unlock` decrypts
//! the keys into `/run/clawguard/secrets` (a tmpfs), as files the agent's container mounts;
//! they are never environment variables.
//!
//! Values are never printed, logged or passed on a command line.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use age::secrecy::ExposeSecret;

use crate::answers::Ident;
use crate::target::Root;
use crate::target::atomic;

pub const DIR: &str = "/etc/clawguard/vault";
/// During a rotation, the key being replaced (sealed as before), kept until the user says
/// the old key is revoked at the provider: the way back if the new one does not work.
pub const PREVIOUS_DIR: &str = "/etc/clawguard/vault-previous";
pub const IDENTITY: &str = "/var/lib/clawguard/vault-identity.txt";
/// The new identity while [`Vault::rotate_identity`] re-seals the keys: until it replaces
/// [`IDENTITY`], keys open with either, so a kill half-way loses nothing.
pub const IDENTITY_NEXT: &str = "/var/lib/clawguard/vault-identity.next.txt";
fn parse_identity(text: &str) -> Option<age::x25519::Identity> {
    text.lines().find(|l| l.starts_with("AGE-SECRET-KEY-")).and_then(|l| l.trim().parse().ok())
}

fn identity_file(id: &age::x25519::Identity) -> String {
    format!(
        "# clawguard vault identity: opens /etc/clawguard/vault. Keep it off the backups.\n{}\n",
        id.to_string().expose_secret()
    )
}

/// Takes back a [`Vault::set_all`] batch.
pub struct Undo<'a> {
    vault: &'a Vault,
    before: Vec<(Ident, Option<Vec<u8>>)>,
}

impl Undo<'_> {
    /// Puts every key of the batch back as it was (best effort: each is tried).
    pub fn undo(self) {
        for (name, old) in self.before.iter().rev() {
            let file = self.vault.file(name.as_str());
            let path = format!("{DIR}/{name}.age");
            let _ = match old {
                Some(bytes) => atomic::write(&file, bytes, 0o600).ok().map(|_| self.vault.record(&path, Some(bytes))),
                None => atomic::remove(&file).ok().map(|_| self.vault.record(&path, None)),
            };
        }
    }
}

/// `N` bytes from the kernel's random source, for keys clawguard makes itself (the backup
/// repository's password, OpenClaw's gateway token).
pub fn random_bytes<const N: usize>() -> io::Result<[u8; N]> {
    use std::io::Read;
    let mut bytes = [0u8; N];
    fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes)
}

/// What clawguard last wrote of the vault and the unlocked keys, by path: sha256 of each
/// file. The daily check compares them (a key changed or added behind clawguard's back).
pub const WRITTEN: &str = "/var/lib/clawguard/credentials-written.toml";

#[derive(Debug, thiserror::Error)]
pub enum VaultError {
    #[error("{what}: {source}")]
    Io { what: String, source: io::Error },
    #[error(
        "the vault's identity {0} is damaged: restore it from where you keep it, or remove the vault and set every key again"
    )]
    BadIdentity(String),
    #[error("there is no vault identity at {0}: nothing was ever stored here (use `clawguard secrets set NAME`)")]
    NoIdentity(String),
    #[error("cannot encrypt: {0}")]
    Encrypt(String),
    #[error(
        "cannot decrypt {0}: it was not encrypted with this host's identity, or it is damaged; set it again with `clawguard secrets set`"
    )]
    Decrypt(String),
    #[error("no key named `{0}` is in the vault (`clawguard secrets list` shows what is)")]
    Missing(String),
    #[error(
        "a rotation of the vault's identity was cut short: finish it first with `clawguard secrets rotate-identity`"
    )]
    IdentityRotating,
    #[error("no rotation of `{0}` is under way (`clawguard secrets rotate {0}` starts one)")]
    NotRotating(String),
    #[error("the key for `{0}` is empty: give the value on standard input or at the prompt")]
    Empty(String),
    #[error(
        "the vault's identity {path} is gone, and the keys it opened are lost with it: {keys}. Put the identity back (it is in your recovery kit: `clawguard restore --kit`, or a copy you keep), or remove those keys (`clawguard secrets rm NAME`) and set them again. No new identity is made while they are there."
    )]
    IdentityLost { path: String, keys: String },
    #[error(
        "this host already has another vault identity ({0}): it is not replaced, or the keys it opens would be lost. Restore onto a fresh host, or move that file away first if you are sure"
    )]
    OtherIdentity(String),
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> VaultError {
    let what = what.into();
    move |source| VaultError::Io { what, source }
}

/// One stored key (never its value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub modified: SystemTime,
}

impl Entry {
    /// Whole days since the key was last set.
    pub fn age_days(&self) -> u64 {
        SystemTime::now().duration_since(self.modified).map(|d| d.as_secs() / 86_400).unwrap_or(0)
    }
}

pub struct Vault {
    root: Root,
}

impl Vault {
    pub fn new(root: &Root) -> Vault {
        Vault { root: root.clone() }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.root.entry(&format!("{DIR}/{name}.age"))
    }

    /// Records what clawguard wrote at `path` (on the target); None: it removed it.
    fn record(&self, path: &str, bytes: Option<&[u8]>) -> Result<(), VaultError> {
        let mut map = written(&self.root).map_err(io_err(format!("reading {WRITTEN}")))?;
        match bytes {
            Some(b) => map.insert(path.to_owned(), crate::target::sha256(b)),
            None => map.remove(path),
        };
        let file = self.root.entry(WRITTEN);
        if let Some(dir) = file.parent() {
            fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        }
        let text = toml::to_string(&map).expect("a map of strings");
        atomic::write(&file, text.as_bytes(), 0o600).map_err(io_err(format!("writing {}", file.display())))
    }

    fn identity(&self, create: bool) -> Result<age::x25519::Identity, VaultError> {
        let path = self.root.path(IDENTITY);
        match atomic::read_string_nofollow(&path) {
            Ok(text) => parse_identity(&text).ok_or_else(|| VaultError::BadIdentity(path.display().to_string())),
            // Gone while keys it sealed are still here: those keys are lost, and a new
            // identity would hide that (every later unlock would fail). Said, never papered over.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let names: Vec<String> = self.list()?.into_iter().map(|e| e.name).collect();
                if !names.is_empty() {
                    return Err(VaultError::IdentityLost { path: path.display().to_string(), keys: names.join(", ") });
                }
                if !create {
                    return Err(VaultError::NoIdentity(path.display().to_string()));
                }
                let id = age::x25519::Identity::generate();
                atomic::write(&path, identity_file(&id).as_bytes(), 0o600)
                    .map_err(io_err(format!("writing {}", path.display())))?;
                Ok(id)
            }
            Err(e) => Err(io_err(format!("reading {}", path.display()))(e)),
        }
    }

    /// Stores `value` for `name`, encrypted (mode 0600).
    pub fn set(&self, name: &Ident, value: &[u8]) -> Result<(), VaultError> {
        if value.is_empty() {
            return Err(VaultError::Empty(name.to_string()));
        }
        if self.next_identity()?.is_some() {
            return Err(VaultError::IdentityRotating);
        }
        let id = self.identity(true)?;
        let sealed = age::encrypt(&id.to_public(), value).map_err(|e| VaultError::Encrypt(e.to_string()))?;
        let file = self.file(name.as_str());
        atomic::write(&file, &sealed, 0o600).map_err(io_err(format!("writing {}", file.display())))?;
        self.record(&format!("{DIR}/{name}.age"), Some(&sealed))
    }

    /// Stores every key or none: when one cannot be written, those already written are put
    /// back as they were (the old sealed file, or none) and the error is returned. On
    /// success, the [`Undo`] takes the whole batch back if a later step fails.
    pub fn set_all(&self, keys: &[(Ident, Vec<u8>)]) -> Result<Undo<'_>, VaultError> {
        let mut undo = Undo { vault: self, before: Vec::new() };
        // What is there now is read first: what cannot be read could not be put back.
        for (name, _) in keys {
            let file = self.file(name.as_str());
            let old = match atomic::read_nofollow(&file) {
                Ok(b) => Some(b),
                Err(e) if e.kind() == io::ErrorKind::NotFound => None,
                Err(e) => return Err(io_err(format!("reading {}", file.display()))(e)),
            };
            undo.before.push((name.clone(), old));
        }
        for (i, (name, value)) in keys.iter().enumerate() {
            if let Err(e) = self.set(name, value) {
                undo.before.truncate(i + 1);
                undo.undo();
                return Err(e);
            }
        }
        Ok(undo)
    }

    /// Rotation, step 2: the new value replaces the key; the old one is kept apart (see
    /// [`PREVIOUS_DIR`]). A rotation already under way keeps its first old value.
    pub fn rotate(&self, name: &Ident, new: &[u8]) -> Result<(), VaultError> {
        let file = self.file(name.as_str());
        let old = match atomic::read_nofollow(&file) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(VaultError::Missing(name.to_string())),
            Err(e) => return Err(io_err(format!("reading {}", file.display()))(e)),
        };
        let previous = self.previous_file(name.as_str());
        if self.rotating(name)?.is_none() {
            atomic::write(&previous, &old, 0o600).map_err(io_err(format!("writing {}", previous.display())))?;
        }
        self.set(name, new)
    }

    /// When the rotation of `name` began (the old value kept since); None when none is under way.
    pub fn rotating(&self, name: &Ident) -> Result<Option<SystemTime>, VaultError> {
        let previous = self.previous_file(name.as_str());
        match fs::symlink_metadata(&previous) {
            Ok(m) if m.file_type().is_file() => Ok(m.modified().ok()),
            Ok(_) => Err(VaultError::Io {
                what: format!("reading {}", previous.display()),
                source: io::Error::new(io::ErrorKind::InvalidData, "not a regular file"),
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(format!("reading {}", previous.display()))(e)),
        }
    }

    /// Rotation, step 4 (the old key is revoked at the provider): the old value goes.
    pub fn finish_rotation(&self, name: &Ident) -> Result<(), VaultError> {
        let previous = self.previous_file(name.as_str());
        self.rotating(name)?.ok_or_else(|| VaultError::NotRotating(name.to_string()))?;
        atomic::remove(&previous).map_err(io_err(format!("removing {}", previous.display())))
    }

    /// The way back from a rotation whose new key does not work: the old value again.
    pub fn undo_rotation(&self, name: &Ident) -> Result<(), VaultError> {
        let previous = self.previous_file(name.as_str());
        self.rotating(name)?.ok_or_else(|| VaultError::NotRotating(name.to_string()))?;
        let old = atomic::read_nofollow(&previous).map_err(io_err(format!("reading {}", previous.display())))?;
        let file = self.file(name.as_str());
        atomic::write(&file, &old, 0o600).map_err(io_err(format!("writing {}", file.display())))?;
        self.record(&format!("{DIR}/{name}.age"), Some(&old))?;
        atomic::remove(&previous).map_err(io_err(format!("removing {}", previous.display())))
    }

    fn previous_file(&self, name: &str) -> PathBuf {
        self.root.entry(&format!("{PREVIOUS_DIR}/{name}.age"))
    }

    /// The stored keys, by name.
    pub fn list(&self) -> Result<Vec<Entry>, VaultError> {
        let dir = self.root.path(DIR);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err(format!("reading {}", dir.display()))(e)),
        };
        let mut out: Vec<Entry> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().strip_suffix(".age")?.to_owned();
                let modified = e.metadata().ok()?.modified().ok()?;
                Some(Entry { name, modified })
            })
            .collect();
        // A key's name becomes a file name under the secrets directory: only names clawguard
        // itself would have given.
        if let Some(bad) = out.iter().find(|e| e.name.parse::<Ident>().is_err()) {
            return Err(io_err(format!("reading {}", dir.display()))(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "`{}.age` is not a key clawguard stored (its name is not one clawguard gives): remove it",
                    bad.name.escape_debug()
                ),
            )));
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    pub fn remove(&self, name: &Ident) -> Result<(), VaultError> {
        let file = self.file(name.as_str());
        if !file.exists() {
            return Err(VaultError::Missing(name.to_string()));
        }
        atomic::remove(&file).map_err(io_err(format!("removing {}", file.display())))?;
        self.record(&format!("{DIR}/{name}.age"), None)
    }

    /// The key stored for `name`, decrypted (clawguard's own use: the alert bot's token).
    pub fn get(&self, name: &Ident) -> Result<Vec<u8>, VaultError> {
        let file = self.file(name.as_str());
        let sealed = match atomic::read_nofollow(&file) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(VaultError::Missing(name.to_string())),
            other => other.map_err(io_err(format!("reading the key for {name}")))?,
        };
        self.open(name.as_str(), &sealed)
    }

    /// Decrypts a sealed key with this host's identity (or, during an identity rotation,
    /// the new one).
    fn open(&self, name: &str, sealed: &[u8]) -> Result<Vec<u8>, VaultError> {
        let mut ids = vec![self.identity(false)?];
        ids.extend(self.next_identity()?);
        ids.iter().find_map(|id| age::decrypt(id, sealed).ok()).ok_or_else(|| VaultError::Decrypt(name.to_owned()))
    }

    fn next_identity(&self) -> Result<Option<age::x25519::Identity>, VaultError> {
        let path = self.root.path(IDENTITY_NEXT);
        match atomic::read_string_nofollow(&path) {
            Ok(text) => {
                parse_identity(&text).map(Some).ok_or_else(|| VaultError::BadIdentity(path.display().to_string()))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(format!("reading {}", path.display()))(e)),
        }
    }

    /// Re-seals every key (and every old key kept by a rotation) to a new identity, then
    /// puts the new identity in place. Resumes one that was cut short. Returns how many.
    pub fn rotate_identity(&self) -> Result<usize, VaultError> {
        self.identity(false)?;
        let next = match self.next_identity()? {
            Some(id) => id,
            None => {
                let id = age::x25519::Identity::generate();
                let path = self.root.path(IDENTITY_NEXT);
                atomic::write(&path, identity_file(&id).as_bytes(), 0o600)
                    .map_err(io_err(format!("writing {}", path.display())))?;
                id
            }
        };
        let mut files: Vec<(String, PathBuf)> = Vec::new();
        for e in self.list()? {
            files.push((format!("{DIR}/{}.age", e.name), self.file(&e.name)));
            let name: Ident = e.name.parse().map_err(|_| VaultError::Missing(e.name.clone()))?;
            if self.rotating(&name)?.is_some() {
                files.push((String::new(), self.previous_file(&e.name)));
            }
        }
        // Every key opened first: one that opens with neither identity stops it here.
        let mut opened = Vec::new();
        for (record, file) in files {
            let sealed = atomic::read_nofollow(&file).map_err(io_err(format!("reading {}", file.display())))?;
            let value = self.open(&file.display().to_string(), &sealed)?;
            opened.push((record, file, value));
        }
        for (record, file, value) in &opened {
            let sealed = age::encrypt(&next.to_public(), value).map_err(|e| VaultError::Encrypt(e.to_string()))?;
            atomic::write(file, &sealed, 0o600).map_err(io_err(format!("writing {}", file.display())))?;
            if !record.is_empty() {
                self.record(record, Some(&sealed))?;
            }
        }
        let (from, to) = (self.root.path(IDENTITY_NEXT), self.root.path(IDENTITY));
        fs::rename(&from, &to).map_err(io_err(format!("moving {} to {}", from.display(), to.display())))?;
        Ok(opened.len())
    }

    /// The identity's public key (what a recovery kit is recorded against; never secret).
    pub fn public(&self) -> Result<String, VaultError> {
        Ok(self.identity(false)?.to_public().to_string())
    }

    /// The identity's text, to seal into the recovery kit (it never goes into a backup).
    pub fn identity_text(&self) -> Result<String, VaultError> {
        Ok(identity_file(&self.identity(false)?))
    }

    /// Puts a vault identity in place (a restore from the recovery kit). One that is already
    /// here and differs is never replaced: its keys would no longer open.
    pub fn install_identity(&self, text: &str) -> Result<(), VaultError> {
        let path = self.root.path(IDENTITY);
        let wanted: age::x25519::Identity = text
            .lines()
            .find(|l| l.starts_with("AGE-SECRET-KEY-"))
            .and_then(|l| l.trim().parse().ok())
            .ok_or_else(|| VaultError::BadIdentity("the recovery kit's identity".into()))?;
        match self.identity(false) {
            Ok(here) if here.to_public().to_string() == wanted.to_public().to_string() => return Ok(()),
            Ok(_) => return Err(VaultError::OtherIdentity(path.display().to_string())),
            // None here, or the one that opened the keys still here is lost: the kit's goes in.
            Err(VaultError::NoIdentity(_) | VaultError::IdentityLost { .. }) => {}
            Err(e) => return Err(e),
        }
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(io_err(format!("creating {}", dir.display())))?;
        }
        atomic::write(&path, text.as_bytes(), 0o600).map_err(io_err(format!("writing {}", path.display())))
    }

    /// Records the vault's files as clawguard's own (after a restore put them here): the
    /// daily check compares them from now on. Returns how many.
    pub fn adopt(&self) -> Result<usize, VaultError> {
        let entries = self.list()?;
        for e in &entries {
            let sealed = atomic::read_nofollow(&self.file(&e.name))
                .map_err(io_err(format!("reading the key for {}", e.name)))?;
            self.record(&format!("{DIR}/{}.age", e.name), Some(&sealed))?;
        }
        Ok(entries.len())
    }

    /// Decrypts the keys of `services` into `dest` (normally `/run/clawguard/secrets`, a
    /// tmpfs): one file per key, mode 0400, owned by the agent's uid and gid. Keys of other
    /// names (clawguard's own, such as the alert bot's) stay sealed. Returns the names written.
    pub fn unlock(&self, dest: &Path, uid: u32, gid: u32, services: &[Ident]) -> Result<Vec<String>, VaultError> {
        let entries: Vec<Entry> =
            self.list()?.into_iter().filter(|e| services.iter().any(|s| s.as_str() == e.name)).collect();
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        self.identity(false)?;
        // Every key is opened before any is written: all of them reach the agent, or none.
        let mut opened = Vec::new();
        for e in entries {
            let sealed = atomic::read_nofollow(&self.file(&e.name))
                .map_err(io_err(format!("reading the key for {}", e.name)))?;
            let value = self.open(&e.name, &sealed)?;
            opened.push((e.name, value));
        }
        fs::create_dir_all(dest).map_err(io_err(format!("creating {}", dest.display())))?;
        let mut names = Vec::new();
        let write = |name: &str, value: &[u8]| -> Result<(), VaultError> {
            let target = dest.join(name);
            atomic::write(&target, value, 0o400).map_err(io_err(format!("writing {}", target.display())))?;
            if atomic::running_as_root() {
                std::os::unix::fs::lchown(&target, Some(uid), Some(gid))
                    .map_err(io_err(format!("giving {} to uid {uid}", target.display())))?;
            }
            // Recorded when unlocked where the agent reads them (on the target).
            if let Ok(rel) = target.strip_prefix(self.root.dir()) {
                self.record(&format!("/{}", rel.display()), Some(value))?;
            }
            Ok(())
        };
        for (name, value) in &opened {
            if let Err(e) = write(name, value) {
                for done in &names {
                    let _ = atomic::remove(&dest.join(done));
                }
                return Err(e);
            }
            names.push(name.clone());
        }
        Ok(names)
    }
}

/// What clawguard last wrote of the vault and the unlocked keys (path → sha256); empty
/// before the first key.
pub fn written(root: &Root) -> io::Result<BTreeMap<String, String>> {
    Ok(atomic::read_toml(&root.entry(WRITTEN))?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_stored_encrypted_and_unlocked_as_a_file() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(d.path());
        let v = Vault::new(&root);
        let name: Ident = "openai".parse().unwrap();
        v.set(&name, b"sk-secret-value").unwrap();
        let stored = fs::read(root.path("/etc/clawguard/vault/openai.age")).unwrap();
        assert!(!stored.windows(15).any(|w| w == b"sk-secret-value"), "the key is on disk in plaintext");
        assert_eq!(v.list().unwrap().iter().map(|e| e.name.as_str()).collect::<Vec<_>>(), ["openai"]);
        let out = d.path().join("run");
        v.set(&"telegram".parse().unwrap(), b"bot-token").unwrap();
        assert_eq!(v.unlock(&out, 1000, 1000, std::slice::from_ref(&name)).unwrap(), ["openai"]);
        assert!(!out.join("telegram").exists(), "a key the agent was not given was unlocked for it");
        assert_eq!(v.get(&"telegram".parse().unwrap()).unwrap(), b"bot-token");
        assert_eq!(fs::read(out.join("openai")).unwrap(), b"sk-secret-value");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(out.join("openai")).unwrap().permissions().mode() & 0o777, 0o400);
        v.remove(&name).unwrap();
        assert_eq!(v.list().unwrap().len(), 1);
        assert!(matches!(v.remove(&name), Err(VaultError::Missing(_))));
        assert!(matches!(v.set(&name, b""), Err(VaultError::Empty(_))));
    }

    #[test]
    fn another_hosts_identity_cannot_open_the_vault() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(d.path());
        let v = Vault::new(&root);
        v.set(&"slack".parse().unwrap(), b"xoxb-1").unwrap();
        fs::remove_file(root.path(IDENTITY)).unwrap();
        // Gone: said, with the keys lost; no new identity is made behind the user's back.
        let e = v.set(&"openai".parse().unwrap(), b"sk-1").unwrap_err();
        assert!(matches!(&e, VaultError::IdentityLost { keys, .. } if keys == "slack"), "{e}");
        assert!(!root.path(IDENTITY).exists());
        assert!(matches!(v.get(&"slack".parse().unwrap()), Err(VaultError::IdentityLost { .. })));
        // Another host's identity put there instead: its keys do not open.
        let other = age::x25519::Identity::generate();
        fs::write(root.path(IDENTITY), format!("{}\n", other.to_string().expose_secret())).unwrap();
        assert!(matches!(
            v.unlock(&d.path().join("run"), 0, 0, &["slack".parse().unwrap()]),
            Err(VaultError::Decrypt(_))
        ));
    }

    #[test]
    fn set_all_stores_every_key_or_puts_back_what_was_there() {
        let d = tempfile::tempdir().unwrap();
        let vault = Vault::new(&Root::new(d.path()));
        let id = |n: &str| -> Ident { n.parse().unwrap() };
        vault.set(&id("anthropic"), b"old-anthropic").unwrap();
        // The third key fails (empty) after two were written: both are taken back.
        let err = vault
            .set_all(&[
                (id("openai"), b"new-openai".to_vec()),
                (id("anthropic"), b"new".to_vec()),
                (id("slack"), Vec::new()),
            ])
            .err()
            .expect("an empty key fails");
        assert!(matches!(err, VaultError::Empty(_)), "{err}");
        assert_eq!(vault.get(&id("anthropic")).unwrap(), b"old-anthropic");
        assert!(matches!(vault.get(&id("openai")), Err(VaultError::Missing(_))));
        // And the whole batch, then taken back by its undo.
        let undo = vault.set_all(&[(id("openai"), b"o".to_vec()), (id("anthropic"), b"a".to_vec())]).unwrap();
        assert_eq!(vault.get(&id("anthropic")).unwrap(), b"a");
        undo.undo();
        assert_eq!(vault.get(&id("anthropic")).unwrap(), b"old-anthropic");
        assert!(matches!(vault.get(&id("openai")), Err(VaultError::Missing(_))));
    }

    #[test]
    fn unlock_writes_every_key_or_none() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(d.path());
        let v = Vault::new(&root);
        let id = |n: &str| -> Ident { n.parse().unwrap() };
        v.set(&id("anthropic"), b"sk-ant").unwrap();
        v.set(&id("openai"), b"sk-oai").unwrap();
        fs::write(v.file("openai"), b"damaged").unwrap();
        let dest = d.path().join("run");
        let e = v.unlock(&dest, 0, 0, &[id("anthropic"), id("openai")]).unwrap_err();
        assert!(matches!(e, VaultError::Decrypt(ref n) if n == "openai"), "{e}");
        assert!(!dest.join("anthropic").exists(), "one key was handed over without the other");
    }

    #[test]
    fn a_rotation_keeps_the_old_key_until_it_is_revoked_and_can_go_back() {
        let d = tempfile::tempdir().unwrap();
        let v = Vault::new(&Root::new(d.path()));
        let id: Ident = "openai".parse().unwrap();
        assert!(matches!(v.rotate(&id, b"new"), Err(VaultError::Missing(_))));
        v.set(&id, b"old").unwrap();
        v.rotate(&id, b"new").unwrap();
        assert!(v.rotating(&id).unwrap().is_some());
        assert_eq!(v.get(&id).unwrap(), b"new");
        // A second new value (the first did not work either): the old one stays the first.
        v.rotate(&id, b"newer").unwrap();
        v.undo_rotation(&id).unwrap();
        assert_eq!(v.get(&id).unwrap(), b"old");
        assert!(v.rotating(&id).unwrap().is_none());
        v.rotate(&id, b"new").unwrap();
        v.finish_rotation(&id).unwrap();
        assert_eq!(v.get(&id).unwrap(), b"new");
        assert!(matches!(v.finish_rotation(&id), Err(VaultError::NotRotating(_))));
    }

    #[test]
    fn the_identity_rotates_every_key_and_a_kill_half_way_loses_none() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(d.path());
        let v = Vault::new(&root);
        let id = |n: &str| -> Ident { n.parse().unwrap() };
        v.set(&id("openai"), b"sk-o").unwrap();
        v.set(&id("slack"), b"xoxb").unwrap();
        v.rotate(&id("slack"), b"xoxb-new").unwrap();
        let before = fs::read_to_string(root.path(IDENTITY)).unwrap();
        // Killed after the new identity was written and one key re-sealed.
        let next = age::x25519::Identity::generate();
        fs::write(root.path(IDENTITY_NEXT), identity_file(&next)).unwrap();
        let resealed = age::encrypt(&next.to_public(), b"sk-o").unwrap();
        fs::write(v.file("openai"), resealed).unwrap();
        assert_eq!(v.get(&id("openai")).unwrap(), b"sk-o");
        assert_eq!(v.get(&id("slack")).unwrap(), b"xoxb-new");
        assert!(matches!(v.set(&id("github"), b"x"), Err(VaultError::IdentityRotating)));
        // Run again: it finishes with the same new identity.
        assert_eq!(v.rotate_identity().unwrap(), 3);
        let after = fs::read_to_string(root.path(IDENTITY)).unwrap();
        assert!(after != before && after.contains(next.to_string().expose_secret()));
        assert!(!root.path(IDENTITY_NEXT).exists());
        assert_eq!(v.get(&id("openai")).unwrap(), b"sk-o");
        v.undo_rotation(&id("slack")).unwrap();
        assert_eq!(v.get(&id("slack")).unwrap(), b"xoxb", "the old key kept by a rotation was re-sealed too");
        // The old identity opens nothing any more.
        let old = parse_identity(&before).unwrap();
        assert!(age::decrypt(&old, &fs::read(v.file("openai")).unwrap()).is_err());
    }
}
