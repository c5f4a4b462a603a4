//! Atomic file replacement: a temporary file in the same directory, fsync, rename over the
//! target, fsync the directory. A crash at any point leaves the old file or the new one,
//! never a mix (PITFALLS 18).

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// The prefix of temporary files, so a recovery can sweep the ones a crash left.
pub const TMP_PREFIX: &str = ".clawguard-tmp-";

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    fs::File::open(dir)?.sync_all()
}

/// Replaces `path` with `data`, mode `mode`, owned by root when running as root.
pub fn write(path: &Path, data: &[u8], mode: u32) -> io::Result<()> {
    write_with(path, data, mode, (0, 0), |_| Ok(()))
}

/// Like [`write`], owned by `(uid, gid)` (when run as root), calling `before_rename` once the temporary file is complete and durable
/// (the fault-injection tests stop the process there).
pub fn write_with(
    path: &Path,
    data: &[u8],
    mode: u32,
    (uid, gid): (u32, u32),
    before_rename: impl FnOnce(&Path) -> io::Result<()>,
) -> io::Result<()> {
    let dir = path.parent().ok_or_else(|| io::Error::other(format!("{} has no directory", path.display())))?;
    fs::create_dir_all(dir)?;
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!("{TMP_PREFIX}{}-{name}.tmp", std::process::id()));
    let result = (|| {
        // A leftover (or planted) file of that name is removed, and the new one is created
        // exclusively: a symlink put there cannot redirect the write.
        match fs::remove_file(&tmp) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        let mut f =
            fs::OpenOptions::new().write(true).create_new(true).custom_flags(libc::O_NOFOLLOW).mode(mode).open(&tmp)?;
        f.write_all(data)?;
        f.set_permissions(fs::Permissions::from_mode(mode))?;
        if running_as_root() {
            std::os::unix::fs::fchown(&f, Some(uid), Some(gid))?;
        }
        f.sync_all()?;
        drop(f);
        before_rename(&tmp)?;
        fs::rename(&tmp, path)?;
        sync_dir(dir)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Reads a regular file without following a symlink in its last component (the
/// directories on the way are the caller's: resolved inside the target root). A FIFO or a
/// device is refused at once, never waited on (`untrusted::open_file`).
pub fn read_nofollow(path: &Path) -> io::Result<Vec<u8>> {
    use std::io::Read;
    let mut f = crate::target::untrusted::open_file(path).map_err(|e| match e.kind() {
        io::ErrorKind::InvalidInput => link(path, io::Error::from_raw_os_error(libc::ELOOP)),
        _ => e,
    })?;
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

/// Like [`read_nofollow`], as text.
pub fn read_string_nofollow(path: &Path) -> io::Result<String> {
    String::from_utf8(read_nofollow(path)?).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Reads one of clawguard's TOML records without following a link: `None` when there is
/// none yet; a record that exists but cannot be read or parsed is an error naming the
/// file (never an empty default: a safety net that vanishes silently is worse than a stop).
pub fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> io::Result<Option<T>> {
    match read_string_nofollow(path) {
        Ok(text) => toml::from_str(&text).map(Some).map_err(|e| {
            io::Error::new(io::ErrorKind::InvalidData, format!("{} is damaged: {}", path.display(), e.message()))
        }),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// Opens a file to append to (creating it), never through a symlink.
pub fn open_append_nofollow(path: &Path) -> io::Result<fs::File> {
    fs::OpenOptions::new()
        .create(true)
        .append(true)
        .custom_flags(libc::O_NOFOLLOW)
        .mode(0o644)
        .open(path)
        .map_err(|e| link(path, e))
}

/// `O_NOFOLLOW`'s ELOOP, said plainly.
pub fn link(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!(
                "{} is a symbolic link, where clawguard keeps a file of its own: remove the link (and find out who put it there)",
                path.display()
            ),
        )
    } else {
        e
    }
}

/// Removes `path` (a file clawguard created) durably.
pub fn remove(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Ok(()) => sync_dir(path.parent().unwrap_or(Path::new("/"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes temporary files a crash left next to `path`.
pub fn sweep(path: &Path) {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else { return };
    let suffix = format!("-{}.tmp", name.to_string_lossy());
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.filter_map(|e| e.ok()) {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(TMP_PREFIX) && n.ends_with(&suffix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

/// This process runs with root's powers: its effective uid is 0 (what `sudo` gives).
/// Asked of the kernel, not read from /proc, which a Mac does not have.
pub fn running_as_root() -> bool {
    // SAFETY: geteuid(2) cannot fail and touches no memory.
    unsafe { libc::geteuid() == 0 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_with_the_mode_and_leaves_no_temp_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.conf");
        fs::write(&p, "old").unwrap();
        write(&p, b"new", 0o600).unwrap();
        assert_eq!(fs::read_to_string(&p).unwrap(), "new");
        assert_eq!(fs::metadata(&p).unwrap().permissions().mode() & 0o777, 0o600);
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_failure_before_the_rename_keeps_the_old_file() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f.conf");
        fs::write(&p, "old").unwrap();
        let err = write_with(&p, b"new", 0o644, (0, 0), |_| Err(io::Error::other("stop"))).unwrap_err();
        assert_eq!(err.to_string(), "stop");
        assert_eq!(fs::read_to_string(&p).unwrap(), "old");
        assert_eq!(fs::read_dir(d.path()).unwrap().count(), 1);
    }
}
