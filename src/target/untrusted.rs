//! Opening files that others control — the agent's directories and logs (the agent is
//! the thing assumed compromised), a user's home, sshd's and squid's logs, clawguard's own
//! records on a target someone else prepared — so that what they put there is read as
//! data and nothing more:
//!
//! - only a regular file is read: a FIFO would block a read for ever (the daily check
//!   would silently stop), a device could be endless; both are refused after an open that
//!   cannot block (`O_NONBLOCK`) and an `fstat` of what was opened;
//! - the last component is never followed (`O_NOFOLLOW`): a link `app.log → /etc/shadow`
//!   in the agent's log directory stays a link;
//! - with [`open_no_links`], no component is (Linux's `openat2(RESOLVE_NO_SYMLINKS)`, in
//!   the kernel, so a link swapped in between a check and the open is refused too);
//!   [`super::Root::untrusted`] gives the path to open that way.
//!
//! What it does not do: decide whose a file is. Callers that act on a file's content say
//! what they read, and parse it into a type before it steers anything.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// The most a caller reads of one file it does not control, unless it says otherwise.
pub const MAX_READ: u64 = 64 * 1024 * 1024;

fn not_regular(path: &Path, meta: &std::fs::Metadata) -> io::Error {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    let what = if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() || t.is_block_device() {
        "a device"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    };
    io::Error::new(io::ErrorKind::InvalidData, format!("{} is {what}: only a regular file is read", path.display()))
}

fn checked(path: &Path, f: File) -> io::Result<File> {
    let meta = f.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(path, &meta));
    }
    Ok(f)
}

fn link_error(path: &Path, e: io::Error) -> io::Error {
    // O_NOFOLLOW on a link fails with ELOOP; RESOLVE_NO_SYMLINKS too.
    if e.raw_os_error() == Some(libc::ELOOP) {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{} is reached through a symbolic link: not followed", path.display()),
        )
    } else {
        e
    }
}

/// Opens `path` to read as a regular file, its last component not followed, without
/// blocking on a FIFO.
pub fn open_file(path: &Path) -> io::Result<File> {
    let f = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| link_error(path, e))?;
    checked(path, f)
}

/// Like [`open_file`], and no component of `path` may be a symbolic link. `path` is
/// absolute and already free of links (what [`super::Root::untrusted`] returns): a link
/// found now was put there since.
#[cfg(target_os = "linux")]
pub fn open_no_links(path: &Path) -> io::Result<File> {
    use std::ffi::CString;
    use std::os::fd::FromRawFd;
    use std::os::unix::ffi::OsStrExt;
    let c = CString::new(path.as_os_str().as_bytes())
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "a path with a NUL byte"))?;
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `c` is a valid C string, `how` a zeroed open_how of the size passed.
    let fd = unsafe {
        libc::syscall(
            libc::SYS_openat2,
            libc::AT_FDCWD,
            c.as_ptr(),
            &how as *const libc::open_how,
            size_of::<libc::open_how>(),
        )
    };
    if fd < 0 {
        let e = io::Error::last_os_error();
        // A kernel before 5.6 has no openat2: the walk that made `path` and O_NOFOLLOW
        // on its last component are what remains.
        if e.raw_os_error() == Some(libc::ENOSYS) {
            return open_file(path);
        }
        return Err(link_error(path, e));
    }
    // SAFETY: a new descriptor that nothing else owns.
    checked(path, unsafe { File::from_raw_fd(fd as i32) })
}

/// Like [`open_file`] where there is no `openat2` (macOS): the walk that made `path`
/// followed no link it did not trust, and the last component is not followed.
#[cfg(not(target_os = "linux"))]
pub fn open_no_links(path: &Path) -> io::Result<File> {
    open_file(path)
}

/// At most `limit` bytes of an opened file; whether there was more.
pub fn read_capped(f: File, limit: u64) -> io::Result<(Vec<u8>, bool)> {
    let mut buf = Vec::new();
    f.take(limit + 1).read_to_end(&mut buf)?;
    let more = buf.len() as u64 > limit;
    buf.truncate(limit as usize);
    Ok((buf, more))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn a_fifo_a_link_or_a_directory_is_refused_at_once_and_a_file_is_read() {
        let d = tempfile::tempdir().unwrap();
        let fifo = d.path().join("fifo");
        let c = std::ffi::CString::new(fifo.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        let e = open_file(&fifo).unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
        assert!(open_no_links(&fifo).unwrap_err().to_string().contains("is a FIFO"));

        std::fs::write(d.path().join("secret"), "s").unwrap();
        symlink(d.path().join("secret"), d.path().join("link")).unwrap();
        assert!(open_file(&d.path().join("link")).unwrap_err().to_string().contains("symbolic link"));
        assert!(open_file(d.path()).unwrap_err().to_string().contains("a directory"));
        assert!(open_file(Path::new("/dev/zero")).unwrap_err().to_string().contains("a device"));

        // A directory on the way that is a link: open_file follows it, open_no_links not.
        std::fs::create_dir(d.path().join("real")).unwrap();
        std::fs::write(d.path().join("real/.env"), "K=v").unwrap();
        symlink(d.path().join("real"), d.path().join("dir")).unwrap();
        assert!(open_file(&d.path().join("dir/.env")).is_ok(), "control");
        let e = open_no_links(&d.path().join("dir/.env")).unwrap_err();
        assert!(e.to_string().contains("symbolic link"), "{e}");

        let (bytes, more) = read_capped(open_no_links(&d.path().join("real/.env")).unwrap(), 2).unwrap();
        assert_eq!((bytes.as_slice(), more), (&b"K="[..], true));
        let (bytes, more) = read_capped(open_file(&d.path().join("real/.env")).unwrap(), 3).unwrap();
        assert_eq!((bytes.as_slice(), more), (&b"K=v"[..], false));
    }
}
