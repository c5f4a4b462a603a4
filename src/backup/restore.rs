//! `backup restore`: a snapshot put back from the kit, each path set aside before the
//! restored one takes its place (a kill in between leaves one or the other).

use super::{BackupError, install_ssh_key, kit, restic_for, sources};
use crate::answers::{Answers, BackupTarget};
use crate::target::Root;
use crate::vault::Vault;

/// What a restore put back.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Restored {
    /// The trees put in place (absolute paths on the target).
    pub paths: Vec<String>,
    /// What was there before, moved aside rather than overwritten: (was, now at).
    pub moved_aside: Vec<(String, String)>,
    /// Staging directories of earlier restores that were cut short, with what they had
    /// not put in place (kept, never deleted).
    pub earlier: Vec<String>,
}

/// Restores `snapshot` onto `root` with what the kit holds: the vault's identity first
/// (refused if the host has another one), then the snapshot into a staging directory on
/// the target, then each backed-up tree moved into place (what is already there is moved
/// aside, never overwritten); the restored vault is recorded as clawguard's own.
pub fn restore(repository: &str, opened: &kit::Opened, snapshot: &str, root: &Root) -> Result<Restored, BackupError> {
    // The kit's repository is data until it parses as a destination the answers would
    // take (restic reads an `sftp:` host into ssh's arguments): before anything is put
    // in place.
    let dest: BackupTarget = repository.parse().map_err(|e: crate::answers::types::Invalid| {
        BackupError::Unsafe(format!(
            "the kit's repository is not a destination clawguard takes ({e}): nothing was restored"
        ))
    })?;
    let vault = Vault::new(root);
    vault.install_identity(&opened.identity)?;
    if let Some(key) = &opened.ssh_key {
        install_ssh_key(root, key)?;
    }
    let restic = restic_for(&dest, repository.to_owned(), opened.password.clone(), root)?;
    let stamp = crate::target::now();
    let staging = root.path(&format!("/var/lib/clawguard/restore-{stamp}"));
    let io = |what: String| move |source| BackupError::Io { what, source };
    std::fs::create_dir_all(&staging).map_err(io(format!("creating {}", staging.display())))?;
    // An earlier restore that was cut short left what it had not placed: said, kept.
    let earlier: Vec<String> = std::fs::read_dir(root.path("/var/lib/clawguard"))
        .map(|d| {
            d.flatten()
                .filter(|e| e.file_name().to_string_lossy().starts_with("restore-") && holds_files(&e.path()))
                .map(|e| e.path().display().to_string())
                .collect()
        })
        .unwrap_or_default();
    let result = (|| {
        restic.restore(snapshot, &staging)?;
        crate::target::boundary("restore staged");
        // The snapshot's own answers say where the agent's trees were.
        // Unreadable, they would send the agent's data nowhere: a stop, not the defaults.
        let answers = match std::fs::read_to_string(staging.join("etc/clawguard/answers.toml")) {
            Ok(t) => Answers::parse(&t, "the restored answers.toml")
                .map_err(|e| BackupError::RestoredAnswers(e.to_string()))?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Answers::default(),
            Err(e) => return Err(BackupError::RestoredAnswers(e.to_string())),
        };
        let mut done = Restored::default();
        // With the agent's trees, OpenClaw's own archives when the snapshot has them: they
        // hold its databases (the live files are never in a snapshot made while it ran).
        let mut places = sources(&answers);
        if answers.sandbox.profile == crate::answers::Profile::Openclaw {
            places.push(crate::layers::openclaw::backups_dir(&answers));
        }
        for src in places {
            let from = staging.join(src.trim_start_matches('/'));
            // What the snapshot holds is its maker's: a link on the way (its `srv` → the
            // host's /etc) would move a host directory, one at the end would put a link
            // where the agent's directory goes (mounted where it leads). Neither is taken.
            if let Some(link) = link_on_the_way(&staging, &src) {
                return Err(BackupError::Unsafe(format!(
                    "the snapshot holds {link} as a symbolic link: a restore puts no link where the agent's or clawguard's directories go (it could lead to the host's own files). Nothing more was put in place; restore another snapshot, or take what you need from the staging directory by hand"
                )));
            }
            if !from.exists() {
                continue;
            }
            let to = root.entry(&src);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(io(format!("creating {}", parent.display())))?;
            }
            let occupied = std::fs::read_dir(&to).map(|mut d| d.next().is_some()).unwrap_or(to.exists());
            if occupied {
                let aside = format!("{src}.before-restore-{stamp}");
                std::fs::rename(&to, root.entry(&aside)).map_err(io(format!("moving {} aside", to.display())))?;
                done.moved_aside.push((src.clone(), aside));
                crate::target::boundary(&format!("restore aside {src}"));
            } else if to.exists() {
                std::fs::remove_dir(&to).map_err(io(format!("replacing the empty {}", to.display())))?;
            }
            std::fs::rename(&from, &to).map_err(io(format!("putting {} in place", to.display())))?;
            crate::target::boundary(&format!("restore placed {src}"));
            done.paths.push(src);
        }
        vault.adopt()?;
        done.earlier = earlier;
        Ok(done)
    })();
    // Whatever the restore did not put in place stays where it is, and is said: never
    // deleted with the staging directory.
    if holds_files(&staging) {
        return result.and(Err(BackupError::LeftInStaging(staging.display().to_string())));
    }
    let _ = std::fs::remove_dir_all(&staging);
    result
}

/// The first component of `src` under `staging` that is a symbolic link (as an absolute
/// path of the snapshot), if any.
pub(super) fn link_on_the_way(staging: &std::path::Path, src: &str) -> Option<String> {
    let mut at = staging.to_path_buf();
    let mut shown = String::new();
    for part in src.split('/').filter(|p| !p.is_empty()) {
        at.push(part);
        shown.push('/');
        shown.push_str(part);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.file_type().is_symlink() => return Some(shown),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

/// Whether `dir` holds anything but (empty) directories.
pub(super) fn holds_files(dir: &std::path::Path) -> bool {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().any(|e| match e.file_type() {
                Ok(t) if t.is_dir() => holds_files(&e.path()),
                _ => true,
            })
        })
        .unwrap_or(false)
}
