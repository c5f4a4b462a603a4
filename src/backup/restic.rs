//! restic, run for clawguard: the repository and its password in restic's environment
//! (never on the command line), paths relative to the target's root (a snapshot holds
//! `/etc/clawguard/…` whatever root it was taken from, so it restores onto any root), and
//! restic's answers read as they are meant — exit 3 is a snapshot with some files
//! unreadable, a wrong password or a missing repository is said as such.

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// Why restic did not do what was asked.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("restic is not installed (`sudo apt-get install restic`; `sudo clawguard apply` installs it)")]
    NotInstalled,
    #[error("the password does not open the repository at {0} (wrong password, or another host's repository)")]
    WrongPassword(String),
    #[error("there is no restic repository at {0} yet (`sudo clawguard backup init` creates it)")]
    NoRepository(String),
    #[error("the repository at {repository} cannot be reached: {why}")]
    Unreachable { repository: String, why: String },
    #[error("no space left where restic writes ({0})")]
    DiskFull(String),
    #[error("the repository is locked by another restic run ({0}); if none runs, `restic unlock` removes a stale lock")]
    Locked(String),
    #[error("restic {what} failed ({status}): {output}")]
    Other { what: String, status: String, output: String },
}

/// One snapshot, as `restic snapshots --json` lists it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
pub struct Snapshot {
    pub id: String,
    pub short_id: String,
    /// RFC 3339.
    pub time: String,
    #[serde(default)]
    pub paths: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub hostname: String,
}

/// What a backup run made.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Made {
    pub snapshot: String,
    pub files: u64,
    pub bytes_added: u64,
    /// restic's exit 3: the snapshot was made, these could not be read.
    pub unreadable: Vec<String>,
    /// Whether the agent was stopped for it, and how that went.
    pub agent: super::pause::Pause,
}

/// What restic (or ssh under it) says when the repository's host does not answer.
const UNREACHABLE: &[&str] = &[
    "connection refused",
    "no route to host",
    "unable to start the sftp session",
    "dial tcp",
    "could not resolve",
    "no such host",
    "connection timed out",
    "i/o timeout",
];

/// restic's `sftp.command` as one string. restic splits it itself
/// (`backend.SplitShellStrings`: at whitespace, a quote starting or ending a field, a
/// backslash), so a path with a space or a quote would become more arguments — ssh
/// options (`-oProxyCommand=…` runs a command as root). So every element is checked to a
/// shape that splitting gives back unchanged and ssh reads as a value: paths of
/// `[A-Za-z0-9/._+@-]` (no `%` or `~`, which ssh expands), a user and a host that cannot
/// start with `-`, the host after `--`.
pub fn sftp_command(key: &Path, known_hosts: &Path, user: &str, host: &str) -> Result<String, String> {
    let plain = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"/._+@-".contains(&b));
    for (what, p) in [("the backup's SSH key", key), ("its known_hosts file", known_hosts)] {
        let s = p.to_str().unwrap_or_default();
        if !s.starts_with('/') || !plain(s) {
            return Err(format!(
                "{what} is at {}, a path restic cannot hand to ssh safely (only letters, digits and `/ . _ + @ -`): run clawguard on a root whose path has none of the others",
                p.display()
            ));
        }
    }
    for (what, v) in [("user", user), ("host", host)] {
        if !plain(v) || v.starts_with('-') || v.contains('/') {
            return Err(format!(
                "the sftp {what} `{}` could be read by ssh as an option: give a plain name",
                v.escape_debug()
            ));
        }
    }
    Ok(format!(
        "ssh -i {} -o IdentitiesOnly=yes -o BatchMode=yes -o StrictHostKeyChecking=accept-new -o UserKnownHostsFile={} -s -l {user} -- {host} sftp",
        key.display(),
        known_hosts.display()
    ))
}

pub struct Restic {
    /// As restic takes it (`sftp:user@host:/path`, `rest:https://…`, a local path).
    pub repository: String,
    password: String,
    /// The target's root: restic runs there, with paths relative to it.
    root: PathBuf,
    /// restic's cache, on the target (root's /var/cache/clawguard/restic).
    cache: PathBuf,
    program: String,
    /// restic's `sftp.command` (clawguard's own SSH key), when set.
    sftp_command: Option<String>,
}

impl std::fmt::Debug for Restic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Restic").field("repository", &self.repository).field("root", &self.root).finish()
    }
}

/// How far a backup is, from restic's `--json` status lines.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Progress {
    /// 0.0 to 1.0.
    pub done: f64,
    pub files: u64,
    pub total_files: u64,
    pub bytes: u64,
    pub total_bytes: u64,
}

impl Progress {
    fn parse(line: &str) -> Option<Progress> {
        let v: serde_json::Value = serde_json::from_str(line).ok()?;
        (v.get("message_type")?.as_str()? == "status").then(|| Progress {
            done: v["percent_done"].as_f64().unwrap_or(0.0),
            files: v["files_done"].as_u64().unwrap_or(0),
            total_files: v["total_files"].as_u64().unwrap_or(0),
            bytes: v["bytes_done"].as_u64().unwrap_or(0),
            total_bytes: v["total_bytes"].as_u64().unwrap_or(0),
        })
    }
}

impl Restic {
    pub fn new(repository: String, password: String, root: &Path) -> Restic {
        Restic {
            repository,
            password,
            root: root.to_owned(),
            cache: root.join("var/cache/clawguard/restic"),
            program: std::env::var("CLAWGUARD_RESTIC").unwrap_or_else(|_| "restic".into()),
            sftp_command: None,
        }
    }

    fn run(&self, what: &str, args: &[&str]) -> Result<(i32, String, String), Failure> {
        self.run_with(what, args, &mut |_| {})
    }

    /// Like [`Restic::run`], handing each line of restic's output to `line` as it comes
    /// (`--json` status lines drive a progress bar).
    /// Reaches an `sftp:` repository with clawguard's own key (see `backup::SSH_KEY`):
    /// restic runs `ssh` with it, batch mode, host key learned on first use and then held.
    /// An element that restic's splitting would change is an error ([`sftp_command`]).
    pub fn with_ssh(mut self, key: &Path, known_hosts: &Path, user: &str, host: &str) -> Result<Restic, String> {
        self.sftp_command = Some(sftp_command(key, known_hosts, user, host)?);
        Ok(self)
    }

    fn run_with(
        &self,
        what: &str,
        args: &[&str],
        line: &mut dyn FnMut(&str),
    ) -> Result<(i32, String, String), Failure> {
        use std::io::{BufRead, Read};
        let not_started = |e: std::io::Error| match e.kind() {
            std::io::ErrorKind::NotFound => Failure::NotInstalled,
            _ => Failure::Other { what: what.into(), status: "could not start".into(), output: e.to_string() },
        };
        let sftp = self.sftp_command.as_ref().map(|c| format!("sftp.command={c}"));
        let mut child = crate::target::runner::own_session(&mut std::process::Command::new(&self.program))
            .args(sftp.iter().flat_map(|o| ["-o", o.as_str()]))
            .args(args)
            .current_dir(&self.root)
            .env("RESTIC_REPOSITORY", &self.repository)
            .env("RESTIC_PASSWORD", &self.password)
            .env("RESTIC_CACHE_DIR", &self.cache)
            .env_remove("RESTIC_PASSWORD_FILE")
            .env_remove("RESTIC_PASSWORD_COMMAND")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .map_err(not_started)?;
        let mut stderr = child.stderr.take().expect("piped");
        let errors = std::thread::spawn(move || {
            let mut buf = Vec::new();
            let _ = stderr.read_to_end(&mut buf);
            String::from_utf8_lossy(&buf).into_owned()
        });
        let mut out = String::new();
        for l in std::io::BufReader::new(child.stdout.take().expect("piped")).lines() {
            let Ok(l) = l else { break };
            line(&l);
            out.push_str(&l);
            out.push('\n');
        }
        let status = child.wait().map_err(not_started)?;
        let err = errors.join().unwrap_or_default();
        Ok((status.code().unwrap_or(-1), out, err))
    }

    /// What restic's failure output says, as a [`Failure`].
    fn failure(&self, what: &str, code: i32, stderr: &str) -> Failure {
        let last = stderr.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or_default().trim().to_owned();
        let has = |s: &str| stderr.to_ascii_lowercase().contains(s);
        let repository = self.repository.clone();
        // restic 0.17 gives these their own exit codes; older ones only say them. A
        // connection that fails also says "Is there a repository…": that is asked last.
        if code == 12 || has("wrong password") {
            Failure::WrongPassword(repository)
        } else if let Some(why) = stderr.lines().find(|l| {
            let l = l.to_ascii_lowercase();
            UNREACHABLE.iter().any(|m| l.contains(m))
        }) {
            Failure::Unreachable { repository, why: why.trim().to_owned() }
        } else if code == 10
            || has("is there a repository at the following location")
            || has("repository does not exist")
            || has("unable to open config file")
        {
            Failure::NoRepository(repository)
        } else if has("no space left on device") {
            Failure::DiskFull(last)
        } else if code == 11 || has("repository is already locked") {
            Failure::Locked(last)
        } else {
            Failure::Other { what: what.into(), status: format!("exit {code}"), output: last }
        }
    }

    fn ok(&self, what: &str, args: &[&str]) -> Result<String, Failure> {
        let (code, out, err) = self.run(what, args)?;
        if code == 0 { Ok(out) } else { Err(self.failure(what, code, &err)) }
    }

    /// Whether a repository that this password opens is there (`restic cat config`).
    pub fn opens(&self) -> Result<bool, Failure> {
        match self.ok("cat config", &["cat", "config", "--no-lock"]) {
            Ok(_) => Ok(true),
            Err(Failure::NoRepository(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    pub fn init(&self) -> Result<(), Failure> {
        self.ok("init", &["init", "--quiet"]).map(|_| ())
    }

    /// Backs up `paths` (relative to the root), tagged; excludes by pattern.
    pub fn backup(&self, paths: &[String], excludes: &[String], tag: &str) -> Result<Made, Failure> {
        self.backup_with(paths, excludes, tag, &mut |_| {})
    }

    /// [`Restic::backup`], reporting how far it is as restic says it (`status` lines).
    pub fn backup_with(
        &self,
        paths: &[String],
        excludes: &[String],
        tag: &str,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Made, Failure> {
        let mut args: Vec<&str> = vec!["backup", "--json", "--one-file-system", "--exclude-caches", "--tag", tag];
        for e in excludes {
            args.extend(["--exclude", e]);
        }
        args.push("--");
        args.extend(paths.iter().map(String::as_str));
        let (code, out, err) = self.run_with("backup", &args, &mut |line| {
            if let Some(p) = Progress::parse(line) {
                progress(&p);
            }
        })?;
        if code != 0 && code != 3 {
            return Err(self.failure("backup", code, &err));
        }
        let mut made = Made::default();
        for line in out.lines() {
            let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            match v.get("message_type").and_then(|m| m.as_str()) {
                Some("summary") => {
                    made.snapshot = v["snapshot_id"].as_str().unwrap_or_default().chars().take(8).collect();
                    made.files = v["total_files_processed"].as_u64().unwrap_or(0);
                    made.bytes_added = v["data_added"].as_u64().unwrap_or(0);
                }
                Some("error") => {
                    let item = v["item"].as_str().unwrap_or_default();
                    let during = v["during"].as_str().unwrap_or_default();
                    made.unreadable.push(format!("{item} ({during})"));
                }
                _ => {}
            }
        }
        if code == 3 && made.unreadable.is_empty() {
            made.unreadable.push(err.lines().last().unwrap_or("some files").trim().to_owned());
        }
        if made.snapshot.is_empty() {
            return Err(Failure::Other {
                what: "backup".into(),
                status: format!("exit {code}"),
                output: "restic made no snapshot".into(),
            });
        }
        Ok(made)
    }

    /// Applies the retention: keeps this many daily, weekly and monthly snapshots of `tag`,
    /// and frees what nothing keeps.
    pub fn forget(&self, tag: &str, daily: u32, weekly: u32, monthly: u32) -> Result<(), Failure> {
        let (d, w, m) = (daily.to_string(), weekly.to_string(), monthly.to_string());
        self.ok(
            "forget",
            &[
                "forget",
                "--quiet",
                "--prune",
                "--tag",
                tag,
                "--keep-daily",
                &d,
                "--keep-weekly",
                &w,
                "--keep-monthly",
                &m,
            ],
        )
        .map(|_| ())
    }

    pub fn snapshots(&self, tag: &str) -> Result<Vec<Snapshot>, Failure> {
        let out = self.ok("snapshots", &["snapshots", "--json", "--no-lock", "--tag", tag])?;
        serde_json::from_str(&out).map_err(|e| Failure::Other {
            what: "snapshots".into(),
            status: "unreadable answer".into(),
            output: e.to_string(),
        })
    }

    /// The size of a snapshot's files (`restic stats`).
    pub fn size(&self, snapshot: &str) -> Result<u64, Failure> {
        let out = self.ok("stats", &["stats", "--json", "--no-lock", snapshot])?;
        let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
        Ok(v["total_size"].as_u64().unwrap_or(0))
    }

    /// restic's own check of the repository, reading `subset` of the data (`5%`).
    pub fn check(&self, subset: &str) -> Result<(), Failure> {
        self.ok("check", &["check", "--read-data-subset", subset]).map(|_| ())
    }

    /// Restores `snapshot` into `target` (a directory; the snapshot's paths land below it).
    pub fn restore(&self, snapshot: &str, target: &Path) -> Result<(), Failure> {
        let t = target.display().to_string();
        self.ok("restore", &["restore", snapshot, "--target", &t]).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r() -> Restic {
        Restic::new("sftp:b@backup.example:/r".into(), "pw".into(), Path::new("/"))
    }

    #[test]
    fn restics_failures_are_told_apart() {
        let f = |code, err: &str| r().failure("x", code, err);
        assert!(matches!(f(1, "Fatal: wrong password or no key found\n"), Failure::WrongPassword(_)));
        assert!(matches!(f(12, ""), Failure::WrongPassword(_)));
        assert!(matches!(
            f(
                1,
                "Fatal: unable to open config file: Stat: stat /r/config: no such file or directory\nIs there a repository at the following location?\n/r\n"
            ),
            Failure::NoRepository(_)
        ));
        assert!(matches!(
            f(1, "Fatal: unable to save snapshot: write /r/data/x: no space left on device\n"),
            Failure::DiskFull(_)
        ));
        assert!(matches!(
            f(
                1,
                "ssh: connect to host backup.example port 22: Connection refused\nFatal: unable to open repo at sftp:b@backup.example:/r: unable to start the sftp session, error: EOF\n"
            ),
            Failure::Unreachable { .. }
        ));
        assert!(matches!(f(1, "Fatal: something else\n"), Failure::Other { .. }));
        // The password never shows in what is said.
        assert!(!format!("{:?}", r()).contains("pw"));
    }
}
