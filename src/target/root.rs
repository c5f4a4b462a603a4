//! The target root: every path clawguard reads or writes on the target goes through here.
//!
//! Paths are resolved the way `chroot` (or `openat2(RESOLVE_IN_ROOT)`) would: a symlink in
//! the target is followed *inside* the target (an absolute link target starts again at the
//! root, `..` stops at the root), so nothing a crafted image contains can make clawguard
//! read or write outside the directory it was given. On the live root (`/`) this is plain
//! path resolution.
//!
//! The files clawguard manages are stricter still ([`Root::managed`]): they must be regular
//! files or absent. A managed file that is a symlink would have its target's content shown
//! in the plan's diff, copied into the backups and turned into a regular file by a rollback.

use std::ffi::OsString;
use std::fs;
use std::io::{self, Read};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

/// How many symlinks one resolution may follow (Linux's own limit).
const MAX_LINKS: usize = 40;

/// A view of a target root.
#[derive(Debug, Clone)]
pub struct Root {
    dir: PathBuf,
}

/// Why a managed file cannot be handled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotAFile {
    Symlink,
    /// A directory, socket, device…
    Other,
}

impl NotAFile {
    /// What to tell the user, for `path`.
    pub fn explain(self, path: &str) -> String {
        match self {
            NotAFile::Symlink => format!(
                "{path} is a symbolic link: clawguard replaces only regular files (a link could point at a secret or outside the target, and a rollback would turn it into a copy). Remove the link, or put the file it points to in its place, then run clawguard again."
            ),
            NotAFile::Other => format!(
                "{path} is not a regular file (a directory or a special file): clawguard will not replace it. Move it out of the way, then run clawguard again."
            ),
        }
    }
}

impl Root {
    /// The root at `dir`, made absolute and free of symlinks and `..` (so a path such as
    /// `/tmp/..` is recognised as the live root it is).
    pub fn new(dir: impl Into<PathBuf>) -> Root {
        let dir = dir.into();
        Root { dir: fs::canonicalize(&dir).unwrap_or(dir) }
    }

    /// The root directory itself.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Whether this is the running system's own root.
    pub fn is_live(&self) -> bool {
        self.dir == Path::new("/")
    }

    /// The real location of absolute path `abs` inside the root, every symlink on the way
    /// (the last one too) followed inside the root: the result contains no symlink, so
    /// joining more onto it cannot leave the root either. A symlink loop yields a path under
    /// the root that does not exist.
    pub fn path(&self, abs: &str) -> PathBuf {
        self.walk(abs, true, false).unwrap_or_else(|_| self.dir.join(".clawguard-symlink-loop"))
    }

    /// The directory entry `abs` names: its directories resolved inside the root, the last
    /// component itself not followed (what a rename replaces, what `managed` inspects).
    pub fn entry(&self, abs: &str) -> PathBuf {
        self.walk(abs, false, false).unwrap_or_else(|_| self.dir.join(".clawguard-symlink-loop"))
    }

    /// Where a file that someone other than root controls lives (in a user's home, the
    /// agent's directories, a log): its directories resolved inside the root, following
    /// only links that root owns (`/var/run → /run` is the system's; `~/.openclaw →
    /// /etc` is not), the last component not followed. A link that another user or the
    /// agent owns is an error that names it. Open the result with
    /// [`super::untrusted::open_no_links`], which refuses a link swapped in since.
    pub fn untrusted(&self, abs: &str) -> io::Result<PathBuf> {
        self.walk(abs, false, true)
    }

    /// Reads a file of the target that others control ([`Root::untrusted`]): at most
    /// `limit` bytes, and whether there was more.
    pub fn read_untrusted(&self, abs: &str, limit: u64) -> io::Result<(Vec<u8>, bool)> {
        let path = self.untrusted(abs)?;
        super::untrusted::read_capped(super::untrusted::open_no_links(&path)?, limit)
    }

    fn walk(&self, abs: &str, follow_last: bool, only_roots_links: bool) -> io::Result<PathBuf> {
        let mut done: Vec<OsString> = Vec::new();
        let mut todo: Vec<OsString> = Vec::new(); // reversed: the next component is last
        push_components(&mut todo, Path::new(abs));
        let mut links = 0;
        while let Some(c) = todo.pop() {
            if c == ".." {
                done.pop();
                continue;
            }
            done.push(c);
            if todo.is_empty() && !follow_last {
                break;
            }
            let real = self.join(&done);
            let Ok(meta) = fs::symlink_metadata(&real) else {
                // Absent: nothing below it can be a link either; the rest is taken as written.
                while let Some(c) = todo.pop() {
                    if c == ".." {
                        done.pop();
                    } else {
                        done.push(c);
                    }
                }
                break;
            };
            if meta.file_type().is_symlink() {
                use std::os::unix::fs::MetadataExt;
                if only_roots_links && meta.uid() != 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidInput,
                        format!(
                            "{} is a symbolic link that uid {} owns: not followed (it could point anywhere)",
                            Path::new("/")
                                .join(self.join(&done).strip_prefix(&self.dir).unwrap_or(Path::new("")))
                                .display(),
                            meta.uid()
                        ),
                    ));
                }
                links += 1;
                if links > MAX_LINKS {
                    return Err(io::Error::other(format!("too many symbolic links under {}", real.display())));
                }
                let target = fs::read_link(&real)?;
                done.pop();
                if target.is_absolute() {
                    done.clear();
                }
                push_components(&mut todo, &target);
            }
        }
        Ok(self.join(&done))
    }

    fn join(&self, parts: &[OsString]) -> PathBuf {
        let mut p = self.dir.clone();
        p.extend(parts);
        p
    }

    /// Reads a file of the target (links followed inside the root); `None` when it cannot be
    /// read.
    pub fn read(&self, abs: &str) -> Option<String> {
        fs::read_to_string(self.path(abs)).ok()
    }

    /// Reads a file of the target: `Ok(None)` when it is not there, `Err` (the reason) when
    /// it is there but cannot be read — for state whose absence would mean something.
    pub fn read_result(&self, abs: &str) -> Result<Option<String>, String> {
        match fs::read_to_string(self.path(abs)) {
            Ok(t) => Ok(Some(t)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("{abs}: {e}")),
        }
    }

    pub fn exists(&self, abs: &str) -> bool {
        fs::symlink_metadata(self.entry(abs)).is_ok()
    }

    pub fn mode(&self, abs: &str) -> Option<u32> {
        fs::metadata(self.path(abs)).ok().map(|m| m.permissions().mode() & 0o7777)
    }

    /// Names in a directory, sorted (empty when it does not exist).
    pub fn list(&self, abs: &str) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.path(abs))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// Where the managed file `abs` lives, if it is a regular file or absent.
    pub fn managed(&self, abs: &str) -> Result<PathBuf, NotAFile> {
        let real = self.entry(abs);
        match fs::symlink_metadata(&real) {
            Ok(m) if m.file_type().is_symlink() => Err(NotAFile::Symlink),
            Ok(m) if !m.file_type().is_file() => Err(NotAFile::Other),
            _ => Ok(real),
        }
    }

    /// The content of the managed file `abs`: `Ok(None)` when absent, an error when it is not
    /// a regular file or cannot be read. Opened without following a last-moment symlink.
    pub fn read_managed(&self, abs: &str) -> io::Result<Option<Vec<u8>>> {
        let real = self.managed(abs).map_err(|why| io::Error::new(io::ErrorKind::InvalidInput, why.explain(abs)))?;
        let file = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW).open(&real);
        match file {
            Ok(mut f) => {
                let mut buf = Vec::new();
                f.read_to_end(&mut buf)?;
                Ok(Some(buf))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

fn push_components(todo: &mut Vec<OsString>, p: &Path) {
    let mut parts: Vec<OsString> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => parts.push(n.to_owned()),
            Component::ParentDir => parts.push("..".into()),
            Component::RootDir | Component::CurDir | Component::Prefix(_) => {}
        }
    }
    todo.extend(parts.into_iter().rev());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn setup() -> (tempfile::TempDir, tempfile::TempDir, Root) {
        let outside = tempfile::tempdir().unwrap();
        fs::write(outside.path().join("secret"), "SECRET").unwrap();
        let d = tempfile::tempdir().unwrap();
        fs::create_dir_all(d.path().join("etc/ssh")).unwrap();
        let root = Root::new(d.path());
        (d, outside, root)
    }

    #[test]
    fn an_absolute_link_is_followed_inside_the_root() {
        let (d, outside, root) = setup();
        symlink(outside.path(), d.path().join("etc/fail2ban")).unwrap();
        let p = root.entry("/etc/fail2ban/jail.d/x.local");
        assert!(p.starts_with(root.dir()), "{}", p.display());
        assert_eq!(p, root.dir().join(outside.path().strip_prefix("/").unwrap()).join("jail.d/x.local"));
    }

    #[test]
    fn dot_dot_stops_at_the_root() {
        let (d, _outside, root) = setup();
        symlink("../../../../../../../../..", d.path().join("etc/up")).unwrap();
        assert_eq!(root.entry("/etc/up/etc/passwd"), root.dir().join("etc/passwd"));
        assert_eq!(root.entry("/../../etc/passwd"), root.dir().join("etc/passwd"));
        symlink("/", d.path().join("etc/state")).unwrap();
        assert_eq!(root.path("/etc/state"), root.dir().to_path_buf());
        assert!(root.read("/etc/up/tmp/../etc/shadow").is_none());
    }

    #[test]
    fn a_relative_link_inside_the_root_still_works() {
        let (d, _outside, root) = setup();
        fs::create_dir_all(d.path().join("usr/lib")).unwrap();
        fs::write(d.path().join("usr/lib/os-release"), "ID=debian\n").unwrap();
        symlink("../usr/lib/os-release", d.path().join("etc/os-release")).unwrap();
        assert_eq!(root.read("/etc/os-release").as_deref(), Some("ID=debian\n"));
    }

    #[test]
    fn a_link_to_a_secret_outside_is_not_read() {
        let (d, outside, root) = setup();
        symlink(outside.path().join("secret"), d.path().join("etc/ssh/sshd_config")).unwrap();
        assert_eq!(root.read("/etc/ssh/sshd_config"), None);
        let err = root.read_managed("/etc/ssh/sshd_config").unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // positive control: a regular file is read
        fs::write(d.path().join("etc/ssh/other"), "x").unwrap();
        assert_eq!(root.read_managed("/etc/ssh/other").unwrap().as_deref(), Some(&b"x"[..]));
        assert_eq!(root.read_managed("/etc/ssh/absent").unwrap(), None);
    }

    #[test]
    fn a_managed_path_that_is_a_directory_is_refused() {
        let (_d, _outside, root) = setup();
        assert_eq!(root.managed("/etc/ssh"), Err(NotAFile::Other));
    }

    #[test]
    fn a_symlink_loop_is_not_followed_out() {
        let (d, _outside, root) = setup();
        symlink("b", d.path().join("etc/a")).unwrap();
        symlink("a", d.path().join("etc/b")).unwrap();
        let p = root.path("/etc/a/x");
        assert!(p.starts_with(root.dir()) && !p.exists());
    }

    #[test]
    fn a_root_given_with_dot_dot_is_what_it_names() {
        assert!(Root::new("/tmp/..").is_live());
        assert!(Root::new("/").is_live());
    }
}
