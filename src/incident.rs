//! `clawguard incident`: the recovery playbook's first steps as one command, for when the
//! agent (or the host) may have been taken over. It contains — the agent's compose project
//! is stopped, so the agent runs no more and its proxy, its only way out, is gone; SSH and
//! the firewall are not touched, so the admin keeps their way in — then it collects the
//! evidence into one archive before anything is rebuilt, and lists every key to rotate
//! with where it is revoked.

use std::path::PathBuf;

use crate::answers::Answers;
use crate::host::Facts;
use crate::target::{Ran, Root, Runner};

/// What `incident` did.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// How stopping the agent's project went: None when there was nothing to stop here.
    pub stopped: Option<Result<(), String>>,
    /// The evidence directory and its archive, on the target.
    pub evidence: PathBuf,
    pub archive: PathBuf,
    /// What went in, and what could not be had (with why).
    pub collected: Vec<String>,
    pub missing: Vec<String>,
    /// The keys unlocked for the agent, removed from where it read them (the vault keeps
    /// them): how many, or why not.
    pub keys_removed: Option<Result<(String, usize), String>>,
    /// The vault's keys: (name, where to revoke it).
    pub rotate: Vec<(String, &'static str)>,
}

#[derive(Debug, thiserror::Error)]
pub enum IncidentError {
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
    #[error("the vault's keys cannot be listed: {0}")]
    Vault(#[from] crate::vault::VaultError),
}

/// Removes every file in the directory the keys are unlocked into; None when there is none.
fn remove_unlocked(root: &Root, dir: &str) -> Option<Result<usize, String>> {
    let path = root.untrusted(dir).ok()?;
    let entries = match std::fs::read_dir(&path) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
        Err(e) => return Some(Err(e.to_string())),
    };
    let mut n = 0;
    for e in entries.flatten() {
        // Entries, never followed: a link is removed as a link.
        if e.file_type().is_ok_and(|t| !t.is_dir()) {
            if let Err(err) = std::fs::remove_file(e.path()) {
                return Some(Err(format!("{}: {err}", e.path().display())));
            }
            n += 1;
        }
    }
    Some(Ok(n))
}

pub fn run(a: &Answers, facts: &Facts, root: &Root, runner: &Runner) -> Result<Report, IncidentError> {
    let mut report = Report::default();
    // 1. Contain: every container of the agent's project stops — the agent, its proxy, its
    // gateway — found by the engine's labels, not by the compose file (which may be gone);
    // the containers are kept, for their logs and state. Nothing else is touched.
    let label = format!("label=com.docker.compose.project={}", crate::layers::sandbox::PROJECT);
    let ids = match runner.run(&["docker", "ps", "-aq", "--filter", &label]) {
        Ran::Ok(out) => crate::layers::sandbox::container_ids(&out),
        _ => Vec::new(),
    };
    if !ids.is_empty() {
        let argv = argv(&["docker", "stop", "-t", "10"], &ids);
        report.stopped = Some(match runner.run(&argv) {
            Ran::Failed { status, output } => Err(format!("{status}: {}", output.lines().last().unwrap_or_default())),
            _ => Ok(()),
        });
    }
    // The keys unlocked for the agent are taken away from it too: a stopped container can
    // be started again, and the files are plaintext. The vault keeps them.
    let unlocked = crate::layers::secrets_dir(facts.platform.kind());
    report.keys_removed = remove_unlocked(root, unlocked).map(|r| r.map(|n| (unlocked.to_owned(), n)));
    // 2. The evidence, before anything is rebuilt.
    let stamp = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string().replace(':', "");
    let name = format!("incident-{stamp}");
    let dir = root.path(&format!("/var/lib/clawguard/{name}"));
    let io = |what: String| move |source| IncidentError::Io { what, source };
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&dir)
            .map_err(io(format!("creating {}", dir.display())))?;
    }
    let mut files: Vec<String> = vec![
        "/var/log/auth.log".into(),
        "/var/log/auth.log.1".into(),
        "/var/log/syslog".into(),
        crate::answers::DEFAULT_PATH.into(),
    ];
    for f in ["journal", "seen.toml", "last-alert.toml", "backup-last.toml", "pending.toml", "last-rollback"] {
        files.push(format!("{}/{f}", crate::target::STATE_DIR));
    }
    let proxy_log = crate::layers::egress::proxy_access_log(facts);
    files.push(proxy_log.clone());
    files.push(format!("{proxy_log}.1"));
    for entry in root.list(a.monitoring.log_dir.as_str()) {
        files.push(format!("{}/{entry}", a.monitoring.log_dir));
    }
    // The agent writes its logs and the proxy's; a stranger writes into sshd's. What is
    // there is copied as data: a link (to /etc/shadow, say) is not followed, a FIFO not
    // waited on, a file past the cap cut and said.
    for f in files {
        match root.read_untrusted(&f, crate::target::untrusted::MAX_READ) {
            Ok((bytes, more)) => {
                if more {
                    report.missing.push(format!(
                        "{f}: only its first {} MiB were copied",
                        crate::target::untrusted::MAX_READ >> 20
                    ));
                }
                let to = dir.join("files").join(f.trim_start_matches('/'));
                if let Some(p) = to.parent() {
                    std::fs::create_dir_all(p).map_err(io(format!("creating {}", p.display())))?;
                }
                std::fs::write(&to, bytes).map_err(io(format!("writing {}", to.display())))?;
                report.collected.push(f);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => report.missing.push(format!("{f}: {e}")),
        }
    }
    if runner.runs_commands() {
        let mut commands: Vec<(String, Vec<String>)> = [
            ("containers.txt", argv(&["docker", "ps", "-a", "--no-trunc"], &[])),
            ("listening.txt", argv(&["ss", "-tulpn"], &[])),
            ("processes.txt", argv(&["ps", "auxwwf"], &[])),
            ("ufw.txt", argv(&["ufw", "status", "verbose"], &[])),
            ("fail2ban.txt", argv(&["fail2ban-client", "status", "sshd"], &[])),
        ]
        .into_iter()
        .map(|(f, a)| (f.to_owned(), a))
        .collect();
        if !facts.auth_log {
            commands.push((
                "sshd-journal.txt".into(),
                argv(
                    &["journalctl", "--no-pager", "-q", "-o", "short-iso", "_COMM=sshd", "+", "_COMM=sshd-session"],
                    &[],
                ),
            ));
        }
        if !ids.is_empty() {
            commands.push(("project-inspect.json".into(), argv(&["docker", "inspect"], &ids)));
            for id in &ids {
                commands.push((
                    format!("logs-{}.txt", &id[..12]),
                    argv(&["docker", "logs", "--timestamps"], std::slice::from_ref(id)),
                ));
            }
        }
        for (file, argv) in commands {
            let text = match runner.run(&argv) {
                Ran::Ok(out) => {
                    report.collected.push(argv.join(" "));
                    out
                }
                Ran::Failed { status, output } => {
                    report.missing.push(format!("{}: {status}", argv.join(" ")));
                    format!("# {} failed ({status})\n{output}", argv.join(" "))
                }
                Ran::Skipped => continue,
            };
            let to = dir.join(file);
            std::fs::write(&to, text).map_err(io(format!("writing {}", to.display())))?;
        }
    }
    let archive = dir.with_file_name(format!("{name}.tar.gz"));
    let tar = duct::cmd!("tar", "-czf", &archive, "-C", dir.parent().unwrap_or(&dir), &name)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(io("running tar".into()))?;
    if !tar.status.success() {
        report.missing.push(format!("the archive: {}", String::from_utf8_lossy(&tar.stdout).trim()));
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&archive, std::fs::Permissions::from_mode(0o600))
            .map_err(io(format!("protecting {}", archive.display())))?;
    }
    report.evidence = dir;
    report.archive = archive;
    // 3. Every key the agent or clawguard held: rotate them all.
    report.rotate = crate::vault::Vault::new(root)
        .list()?
        .into_iter()
        .map(|e| (e.name.clone(), crate::services::revoke_at(&e.name)))
        .collect();
    Ok(report)
}

/// A command followed by the ids it acts on.
fn argv(command: &[&str], ids: &[String]) -> Vec<String> {
    command.iter().map(|s| s.to_string()).chain(ids.iter().cloned()).collect()
}
