//! Reading a log from where the last run stopped, the file followed by its identity, not
//! its name: logrotate renames it (`create`: a new file, the old one is `.1`) or copies
//! and empties it (`copytruncate`: the same file starts again). A new file that has grown
//! past the old offset before the next run still is a new file: its start (where a
//! stranger's key logged in, say) is read, and so is the rest of the old one.
//!
//! What is too much to read in one run is not skipped in silence: [`Tail::skipped`] says
//! how many bytes were left out, and the caller says so as a finding.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The start of a file that identifies it (with its inode).
const HEAD: u64 = 4096;

/// How far a log was read, and which file that was.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Mark {
    pub inode: u64,
    /// Bytes read.
    pub read: u64,
    /// SHA-256 of the first `min(read, 4096)` bytes (hex).
    pub head: String,
}

/// What a run reads of a log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tail {
    /// The text not read before, oldest first (the rotated copy's rest, then the file).
    pub text: String,
    /// Where the next run starts.
    pub mark: Mark,
    /// Bytes not read because there was more than the cap (the oldest are left out).
    pub skipped: u64,
}

fn head_of(f: &mut File, n: u64) -> io::Result<String> {
    f.seek(SeekFrom::Start(0))?;
    let mut buf = Vec::new();
    f.take(n).read_to_end(&mut buf)?;
    Ok(Sha256::digest(&buf).iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether `f` (of `len` bytes, inode `inode`) is the file `mark` was taken of: same
/// inode, at least as long, the same first bytes. A copy (`copytruncate`'s `.1`) is the
/// same file by its content alone.
fn is_marked(f: &mut File, len: u64, inode: u64, mark: &Mark, by_content_alone: bool) -> io::Result<bool> {
    if len < mark.read || (!by_content_alone && inode != mark.inode) {
        return Ok(false);
    }
    Ok(head_of(f, mark.read.min(HEAD))? == mark.head)
}

fn read_range(f: &mut File, from: u64, to: u64) -> io::Result<Vec<u8>> {
    f.seek(SeekFrom::Start(from))?;
    let mut buf = Vec::new();
    f.take(to.saturating_sub(from)).read_to_end(&mut buf)?;
    Ok(buf)
}

/// Reads `path` since `mark` — never through a link, never a FIFO — at most `cap` bytes
/// (the newest). A `mark` of nothing reads the whole file.
pub fn read_since(path: &Path, mark: &Mark, cap: u64) -> io::Result<Tail> {
    let mut current = crate::target::untrusted::open_file(path)?;
    let meta = current.metadata()?;
    let (len, inode) = (meta.len(), meta.ino());
    let next = Mark { inode, read: len, head: head_of(&mut current, len.min(HEAD))? };
    // The ranges to read, oldest first: (file, from, to).
    let mut ranges: Vec<(File, u64, u64)> = Vec::new();
    let fresh = *mark == Mark::default();
    if !fresh && is_marked(&mut current, len, inode, mark, false)? {
        ranges.push((current, mark.read, len));
    } else {
        if !fresh {
            let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
            if let Ok(mut old) = crate::target::untrusted::open_file(&path.with_file_name(format!("{name}.1"))) {
                let m = old.metadata()?;
                if is_marked(&mut old, m.len(), m.ino(), mark, true)? {
                    ranges.push((old, mark.read, m.len()));
                }
            }
        }
        ranges.push((current, 0, len));
    }
    let total: u64 = ranges.iter().map(|(_, from, to)| to - from).sum();
    let mut skip = total.saturating_sub(cap);
    let skipped = skip;
    let mut bytes = Vec::new();
    for (mut f, from, to) in ranges {
        let start = from + skip.min(to - from);
        skip -= start - from;
        bytes.extend(read_range(&mut f, start, to)?);
    }
    Ok(Tail { text: String::from_utf8_lossy(&bytes).into_owned(), mark: next, skipped })
}

/// The newest `cap` bytes of a log and of the copy logrotate left before it (`path.1`:
/// `delaycompress` keeps it plain), oldest first: what a listing of the last day or two
/// shows, right after a rotation too. Neither is opened through a link or read as a
/// FIFO; a `.1` that cannot be read is an error like the log itself, not nothing. A log
/// with neither file is `NotFound`.
pub fn read_newest(path: &Path, cap: u64) -> io::Result<Tail> {
    let open = |p: &Path| match crate::target::untrusted::open_file(p) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let (old, current) = (open(&path.with_file_name(format!("{name}.1")))?, open(path)?);
    if old.is_none() && current.is_none() {
        return Err(io::Error::new(io::ErrorKind::NotFound, format!("{} does not exist", path.display())));
    }
    let mut mark = Mark::default();
    let (mut ranges, mut left, mut total) = (Vec::new(), cap, 0);
    // Newest first while the cap lasts, then read oldest first.
    for (f, is_current) in [(current, true), (old, false)] {
        let Some(mut f) = f else { continue };
        let meta = f.metadata()?;
        if is_current {
            mark = Mark { inode: meta.ino(), read: meta.len(), head: head_of(&mut f, meta.len().min(HEAD))? };
        }
        let from = meta.len().saturating_sub(left);
        left -= meta.len() - from;
        total += meta.len();
        ranges.push((f, from, meta.len()));
    }
    let mut bytes = Vec::new();
    for (mut f, from, to) in ranges.into_iter().rev() {
        bytes.extend(read_range(&mut f, from, to)?);
    }
    let skipped = total.saturating_sub(bytes.len() as u64);
    Ok(Tail { text: String::from_utf8_lossy(&bytes).into_owned(), mark, skipped })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::io::Write;

    fn append(p: &Path, s: &str) {
        fs::OpenOptions::new().create(true).append(true).open(p).unwrap().write_all(s.as_bytes()).unwrap();
    }

    #[test]
    fn appended_lines_are_read_once() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("auth.log");
        append(&log, "a\nb\n");
        let t = read_since(&log, &Mark::default(), 1 << 20).unwrap();
        assert_eq!((t.text.as_str(), t.skipped), ("a\nb\n", 0));
        append(&log, "c\n");
        let t = read_since(&log, &t.mark, 1 << 20).unwrap();
        assert_eq!(t.text, "c\n");
        let t = read_since(&log, &t.mark, 1 << 20).unwrap();
        assert_eq!(t.text, "");
    }

    /// logrotate's `create`: the old file renamed to `.1`, a new one that grows past the
    /// old offset before the next run. Before, the new file was read from the old offset
    /// (its first lines never); now the rest of `.1` and all of the new file.
    #[test]
    fn a_renamed_log_and_a_new_one_grown_past_the_old_offset_are_both_read() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("auth.log");
        append(&log, "old 1\nold 2\n");
        let mark = read_since(&log, &Mark::default(), 1 << 20).unwrap().mark;
        append(&log, "old 3\n");
        fs::rename(&log, d.path().join("auth.log.1")).unwrap();
        append(&log, "NEW KEY LOGIN\nnew 2 ...............................\nnew 3\n");
        let t = read_since(&log, &mark, 1 << 20).unwrap();
        assert_eq!(t.text, "old 3\nNEW KEY LOGIN\nnew 2 ...............................\nnew 3\n");
        assert_eq!(read_since(&log, &t.mark, 1 << 20).unwrap().text, "");
    }

    /// `copytruncate`: the same inode starts again, grows past the old offset; the copy is
    /// `.1`, a new inode with the old content.
    #[test]
    fn a_copied_and_emptied_log_grown_past_the_old_offset_is_read_from_its_start() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        append(&log, "r1\nr2\n");
        let mark = read_since(&log, &Mark::default(), 1 << 20).unwrap().mark;
        append(&log, "r3\n");
        fs::copy(&log, d.path().join("access.log.1")).unwrap();
        fs::OpenOptions::new().write(true).truncate(true).open(&log).unwrap();
        append(&log, "DENIED one\nallowed two ..............\n");
        let t = read_since(&log, &mark, 1 << 20).unwrap();
        assert_eq!(t.text, "r3\nDENIED one\nallowed two ..............\n");
    }

    #[test]
    fn a_log_replaced_by_a_symlink_or_a_fifo_is_refused_without_hanging() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        std::os::unix::fs::symlink("/etc/shadow", &log).unwrap();
        assert!(read_since(&log, &Mark::default(), 1 << 20).unwrap_err().to_string().contains("symbolic link"));
        fs::remove_file(&log).unwrap();
        assert!(std::process::Command::new("mkfifo").arg(&log).status().unwrap().success());
        let e = read_since(&log, &Mark::default(), 1 << 20).unwrap_err();
        assert!(e.to_string().contains("is a FIFO"), "{e}");
    }

    #[test]
    fn more_than_the_cap_is_said_with_the_bytes_left_out() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        append(&log, &"x".repeat(100));
        let t = read_since(&log, &Mark::default(), 30).unwrap();
        assert_eq!((t.text.len(), t.skipped, t.mark.read), (30, 70, 100));
    }

    /// `clawguard egress` the morning after a rotation: yesterday's refusals are in the
    /// plain `.1` (delaycompress), the log is empty.
    #[test]
    fn the_newest_bytes_span_the_rotated_copy_and_the_log() {
        let d = tempfile::tempdir().unwrap();
        let log = d.path().join("access.log");
        assert_eq!(read_newest(&log, 100).unwrap_err().kind(), io::ErrorKind::NotFound);
        append(&d.path().join("access.log.1"), "old 1\nold 2\n");
        assert_eq!(read_newest(&log, 100).unwrap().text, "old 1\nold 2\n", "the log not made again yet");
        append(&log, "new\n");
        let t = read_newest(&log, 100).unwrap();
        assert_eq!((t.text.as_str(), t.skipped), ("old 1\nold 2\nnew\n", 0));
        let t = read_newest(&log, 10).unwrap();
        assert_eq!((t.text.as_str(), t.skipped), ("old 2\nnew\n", 6), "the newest bytes, the oldest left out");
        let t = read_newest(&log, 3).unwrap();
        assert_eq!((t.text.as_str(), t.skipped), ("ew\n", 13));
        // A `.1` put there as a link is refused, not skipped.
        fs::remove_file(d.path().join("access.log.1")).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", d.path().join("access.log.1")).unwrap();
        assert!(read_newest(&log, 100).unwrap_err().to_string().contains("symbolic link"));
    }
}
