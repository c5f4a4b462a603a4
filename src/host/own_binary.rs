//! Where clawguard itself is on the target. Its systemd units (the daily check, the
//! backups, the key unlock at boot) and its files call it by this path, as root: so the
//! path they call must be a file that only root can replace — a binary in a user's
//! `~/.cargo/bin` would hand that user root at the next timer.

use std::os::unix::fs::MetadataExt;
use std::path::Path;

use crate::target::root::Root;

/// Where the units call clawguard when it is not installed where they can trust it.
pub const DEFAULT: &str = "/usr/local/bin/clawguard";
/// Where an install puts it: by hand (`/usr/local/bin`, found first, as PATH does), the
/// Debian package (`/usr/bin`).
pub const PLACES: [&str; 2] = [DEFAULT, "/usr/bin/clawguard"];

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum OwnBinary {
    /// Here, and only root can replace it (nor any directory on the way to it).
    Installed(String),
    /// clawguard runs from `path`, which someone else can replace (`why`), and no trusted
    /// copy is installed: the units call [`DEFAULT`], which is not there.
    Replaceable { path: String, why: String },
    /// Not on the target (an image, a test root).
    #[default]
    Missing,
}

impl OwnBinary {
    /// The path the units call.
    pub fn path(&self) -> &str {
        match self {
            OwnBinary::Installed(p) => p,
            _ => DEFAULT,
        }
    }
}

/// On the live host, the running binary (a package's `/usr/bin`, `/usr/local/bin`, root's
/// `cargo install`: wherever it really is), when only root can replace it; otherwise (and
/// for another root) the first of [`PLACES`] that is installed there.
pub fn probe(root: &Root) -> OwnBinary {
    let mut running = None;
    if root.is_live()
        && let Ok(exe) = std::env::current_exe().and_then(|p| p.canonicalize())
    {
        let shown = exe.display().to_string();
        let plain = shown.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._+-".contains(&b));
        let why = if plain {
            replaceable(Path::new("/"), &exe)
        } else {
            Some("its path has characters a unit's command line cannot carry as they are".to_owned())
        };
        match why {
            None => return OwnBinary::Installed(shown),
            Some(why) => running = Some(OwnBinary::Replaceable { path: shown, why }),
        }
    }
    for place in PLACES {
        // The file it leads to, and the directory of the name itself (a link there can be
        // pointed elsewhere by whoever can write that directory).
        let path = root.path(place);
        let entry_dir = root.entry(place).parent().map(Path::to_path_buf).unwrap_or_else(|| root.dir().to_path_buf());
        if path.is_file() && replaceable(root.dir(), &path).is_none() && replaceable(root.dir(), &entry_dir).is_none() {
            return OwnBinary::Installed(place.to_owned());
        }
    }
    running.unwrap_or(OwnBinary::Missing)
}

/// Why someone other than root could replace `file` (or a directory above it, up to and
/// including `top`); None when only root can. Symlinks are resolved by the caller.
fn replaceable(top: &Path, file: &Path) -> Option<String> {
    for p in file.ancestors().take_while(|p| p.starts_with(top)) {
        let m = match std::fs::symlink_metadata(p) {
            Ok(m) => m,
            Err(e) => return Some(format!("{} cannot be read ({e})", p.display())),
        };
        let sticky_dir = m.is_dir() && m.mode() & 0o1000 != 0;
        let shown = if p == file { "it".to_owned() } else { p.display().to_string() };
        if m.uid() != 0 {
            return Some(format!("{shown} belongs to uid {}", m.uid()));
        }
        if m.mode() & 0o002 != 0 && !sticky_dir {
            return Some(format!("{shown} is writable by every user"));
        }
        if m.mode() & 0o020 != 0 && m.gid() != 0 && !sticky_dir {
            return Some(format!("{shown} is writable by group {}", m.gid()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt;

    use super::*;

    fn root_with(mode: u32, owner: Option<u32>) -> (tempfile::TempDir, Root) {
        let d = tempfile::tempdir().unwrap();
        let bin = d.path().join("usr/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::fs::write(bin.join("clawguard"), "x").unwrap();
        std::fs::set_permissions(bin.join("clawguard"), std::fs::Permissions::from_mode(mode)).unwrap();
        if let Some(uid) = owner {
            std::os::unix::fs::chown(bin.join("clawguard"), Some(uid), None).unwrap();
        }
        let r = Root::new(d.path());
        (d, r)
    }

    #[test]
    fn the_packaged_binary_is_found_and_called_where_it_is() {
        let (_d, r) = root_with(0o755, None);
        assert_eq!(probe(&r), OwnBinary::Installed("/usr/bin/clawguard".into()));
        assert_eq!(probe(&r).path(), "/usr/bin/clawguard");
    }

    #[test]
    fn a_binary_others_can_replace_is_never_what_the_units_call() {
        let (_d, r) = root_with(0o757, None);
        assert_eq!(probe(&r), OwnBinary::Missing);
        let (_d, r) = root_with(0o755, Some(1000));
        assert_eq!(probe(&r), OwnBinary::Missing);
        assert_eq!(probe(&r).path(), DEFAULT);
        let (d, _) = root_with(0o755, None);
        std::fs::set_permissions(d.path().join("usr"), std::fs::Permissions::from_mode(0o777)).unwrap();
        let why = replaceable(d.path(), &d.path().join("usr/bin/clawguard")).unwrap();
        assert!(why.ends_with("/usr is writable by every user"), "{why}");
    }

    #[test]
    fn a_link_in_a_directory_others_can_write_is_not_trusted_either() {
        let d = tempfile::tempdir().unwrap();
        let real = d.path().join("opt/clawguard");
        std::fs::create_dir_all(&real).unwrap();
        std::fs::write(real.join("clawguard"), "x").unwrap();
        std::fs::set_permissions(real.join("clawguard"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let bin = d.path().join("usr/local/bin");
        std::fs::create_dir_all(&bin).unwrap();
        std::os::unix::fs::symlink("/opt/clawguard/clawguard", bin.join("clawguard")).unwrap();
        let r = Root::new(d.path());
        assert_eq!(probe(&r), OwnBinary::Installed("/usr/local/bin/clawguard".into()));
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert_eq!(probe(&r), OwnBinary::Missing);
    }

    #[test]
    fn nothing_installed_is_missing() {
        let d = tempfile::tempdir().unwrap();
        assert_eq!(probe(&Root::new(d.path())), OwnBinary::Missing);
    }
}
