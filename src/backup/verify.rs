//! `backup verify`: the latest snapshot restored into a scratch directory and compared
//! with what is on the host, recorded for the check.

use serde::{Deserialize, Serialize};

use super::{BackupError, TAG, open, read_record, relative_sources, write_record};
use crate::answers::Answers;
use crate::target::Root;

/// How the last `backup verify` went, for `clawguard check`.
pub const VERIFIED: &str = "/var/lib/clawguard/backup-verified.toml";

/// One way the latest snapshot and the host differ.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Difference {
    /// Absolute, on the target.
    pub path: String,
    pub kind: DiffKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DiffKind {
    /// Both have it; the contents (or the kind of file) differ.
    Changed,
    /// The snapshot has it; the host no longer does.
    OnlyInSnapshot,
    /// The host has it; the snapshot does not (new since).
    OnlyOnHost,
}

impl std::fmt::Display for Difference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self.kind {
            DiffKind::Changed => "differs",
            DiffKind::OnlyInSnapshot => "is in the snapshot, no longer on the host",
            DiffKind::OnlyOnHost => "is on the host, not in the snapshot",
        };
        write!(f, "{} {what}", self.path)
    }
}

/// What `backup verify` found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verified {
    /// Seconds since the epoch.
    pub at: u64,
    pub snapshot: String,
    /// Files compared.
    pub files: usize,
    pub differences: Vec<Difference>,
    /// Why it could not verify.
    pub error: Option<String>,
}

/// The drill: restic's own check of the repository (reading a tenth of the data), then
/// the latest snapshot restored into a directory on the target and compared, file by
/// file, with what is on the host now. Records the result in [`VERIFIED`] either way.
pub fn verify(a: &Answers, root: &Root, own_names: &[String]) -> Result<Verified, BackupError> {
    let result = run_verify(a, root, own_names);
    let record = match &result {
        Ok(v) => v.clone(),
        Err(e) => Verified { at: crate::target::now(), error: Some(e.to_string()), ..Default::default() },
    };
    write_record(root, VERIFIED, &toml::to_string(&record).expect("a record serializes"))?;
    result
}

fn run_verify(a: &Answers, root: &Root, own_names: &[String]) -> Result<Verified, BackupError> {
    let restic = open(a, root, own_names)?;
    restic.check("10%")?;
    let latest = restic.snapshots(TAG)?.pop().ok_or_else(|| BackupError::NoSnapshot(restic.repository.clone()))?;
    let stamp = crate::target::now();
    let staging = root.path(&format!("/var/lib/clawguard/verify-{stamp}"));
    std::fs::create_dir_all(&staging)
        .map_err(|source| BackupError::Io { what: format!("creating {}", staging.display()), source })?;
    let compared = (|| {
        restic.restore(&latest.id, &staging)?;
        let mut out = Verified { at: stamp, snapshot: latest.short_id.clone(), ..Default::default() };
        for rel in relative_sources(a, root) {
            let host = tree(&root.dir().join(&rel));
            let snap = tree(&staging.join(&rel));
            out.files += snap.len().max(host.len());
            let base = format!("/{rel}");
            for (p, h) in &snap {
                match host.get(p) {
                    Some(x) if x == h => {}
                    Some(_) => out.differences.push(Difference { path: format!("{base}{p}"), kind: DiffKind::Changed }),
                    None => {
                        out.differences.push(Difference { path: format!("{base}{p}"), kind: DiffKind::OnlyInSnapshot })
                    }
                }
            }
            for p in
                host.keys().filter(|p| !snap.contains_key(*p) && !excluded(&a.backup.exclude, &format!("{base}{p}")))
            {
                out.differences.push(Difference { path: format!("{base}{p}"), kind: DiffKind::OnlyOnHost });
            }
        }
        Ok(out)
    })();
    let _ = std::fs::remove_dir_all(&staging);
    compared
}

/// Whether `path` (absolute, on the target) is left out by one of `patterns`, as restic
/// reads them: a pattern without `/` matches any one component; an absolute one matches
/// the path or a directory above it.
pub(super) fn excluded(patterns: &[crate::answers::ExcludePattern], path: &str) -> bool {
    patterns.iter().any(|p| {
        let p = p.as_str();
        if p.starts_with('/') {
            let mut prefix = String::new();
            path.split('/').skip(1).any(|c| {
                prefix.push('/');
                prefix.push_str(c);
                glob(p, &prefix)
            })
        } else {
            path.split('/').any(|c| glob(p, c))
        }
    })
}

/// `*`, `?` and `[…]` (no `/` in `*`), over bytes.
pub(super) fn glob(pattern: &str, text: &str) -> bool {
    fn m(p: &[u8], t: &[u8]) -> bool {
        match p.first() {
            None => t.is_empty(),
            Some(b'*') => (0..=t.len()).take_while(|&i| i == 0 || t[i - 1] != b'/').any(|i| m(&p[1..], &t[i..])),
            Some(b'?') => !t.is_empty() && t[0] != b'/' && m(&p[1..], &t[1..]),
            Some(b'[') => match p.iter().position(|&b| b == b']') {
                Some(end) if !t.is_empty() => p[1..end].contains(&t[0]) && m(&p[end + 1..], &t[1..]),
                _ => false,
            },
            Some(c) => t.first() == Some(c) && m(&p[1..], &t[1..]),
        }
    }
    m(pattern.as_bytes(), text.as_bytes())
}

/// Every entry under `dir` (relative, with a leading `/`; `` for `dir` itself): what it is
/// and, for a file, its sha256; a link's target. Never follows a link.
fn tree(dir: &std::path::Path) -> std::collections::BTreeMap<String, String> {
    fn walk(base: &std::path::Path, dir: &std::path::Path, out: &mut std::collections::BTreeMap<String, String>) {
        let Ok(entries) = std::fs::read_dir(dir) else { return };
        for e in entries.flatten() {
            let path = e.path();
            let rel = format!("/{}", path.strip_prefix(base).unwrap_or(&path).display());
            let Ok(meta) = std::fs::symlink_metadata(&path) else { continue };
            let what = if meta.is_dir() {
                walk(base, &path, out);
                "dir".to_owned()
            } else if meta.file_type().is_symlink() {
                format!("link {}", std::fs::read_link(&path).map(|t| t.display().to_string()).unwrap_or_default())
            } else if meta.is_file() {
                match crate::target::atomic::read_nofollow(&path) {
                    Ok(bytes) => format!("file {}", crate::target::sha256(&bytes)),
                    Err(e) => format!("unreadable {e}"),
                }
            } else {
                "special".to_owned()
            };
            out.insert(rel, what);
        }
    }
    let mut out = std::collections::BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// How the last `backup verify` went; None before the first.
pub fn last_verified(root: &Root) -> std::io::Result<Option<Verified>> {
    read_record(root, VERIFIED)
}
