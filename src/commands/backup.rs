//! `clawguard backup …` and `clawguard restore`: read the inputs, call `crate::backup`,
//! print what happened and what to do next.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use super::{CommandError, load};
use crate::backup::kit::{self, Kit};
use crate::backup::{self, BackupError, Init};
use crate::cli::{BackupAction, BackupArgs, RestoreArgs};
use crate::target::Root;

pub fn backup(args: &BackupArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let own: Vec<String> = l.facts.hostname.iter().cloned().collect();
    match &args.action {
        BackupAction::Init => match backup::init(&l.answers, &l.root, &own)? {
            Init::Created => say!(
                "Created the restic repository at {} (its password is in the vault).\nNow make the recovery kit and keep it off this server: sudo clawguard backup kit --out FILE",
                destination(&l.answers)
            ),
            Init::AlreadyThere => {
                say!("The repository at {} is there and opens with this host's password.", destination(&l.answers))
            }
        },
        BackupAction::Key => {
            let host = l.facts.hostname.clone().unwrap_or_else(|| "this-server".into());
            let public = backup::ssh_key(&l.root, &host)?;
            let (user, server) = match &l.answers.backup.destination {
                Some(crate::answers::BackupTarget::Sftp { user, host, .. }) => (user.to_string(), host.clone()),
                _ => ("USER".into(), "BACKUP-SERVER".into()),
            };
            say!("{public}");
            say_err!(
                "This host reaches an sftp repository with its own key ({}; the recovery kit carries it, backups never do). On the backup server, add the line above to ~{user}/.ssh/authorized_keys, prefixed so that it can do nothing but sftp — for example:\n  echo 'restrict,command=\"internal-sftp\" {public}' | ssh {user}@{server} 'cat >> ~/.ssh/authorized_keys'\nThen `sudo clawguard backup test`.",
                backup::SSH_KEY
            );
        }
        BackupAction::Test => {
            let at = destination(&l.answers);
            match backup::reach(&l.answers, &l.root, &own)? {
                backup::Reach::Opens => say!("{at} answers: its repository opens with this host's password."),
                backup::Reach::Empty => say!(
                    "{at} answers and holds no repository yet: `sudo clawguard apply` (or `backup init`) creates it."
                ),
                backup::Reach::Foreign => {
                    say!(
                        "{at} answers, but holds a repository this host's password does not open (another host's?): clawguard will not write over it. Choose another path, or restore from its kit."
                    );
                    return Ok(ExitCode::from(3));
                }
            }
        }
        BackupAction::Now => {
            let runner = super::runner_for(&l.root, &args.runner);
            // A bar on a terminal (restic's own count of files and bytes); nothing in a log.
            let bar = std::io::stderr().is_terminal().then(|| {
                let bar = indicatif::ProgressBar::new(1000);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:40} {percent:>3}%  {msg}")
                        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                );
                bar
            });
            let made = backup::now(&l.answers, &l.facts, &l.root, &runner, &mut |p| {
                if let Some(bar) = &bar {
                    bar.set_position((p.done * 1000.0) as u64);
                    bar.set_message(format!("{}/{} files, {}", p.files, p.total_files, bytes(p.bytes)));
                }
            });
            if let Some(bar) = &bar {
                bar.finish_and_clear();
            }
            let made = made?;
            say!(
                "Snapshot {} of {} file(s) ({} new) at {}.",
                made.snapshot,
                made.files,
                bytes(made.bytes_added),
                destination(&l.answers)
            );
            if made.agent != backup::Pause::NotAsked {
                say!("{}", made.agent);
            }
            if matches!(made.agent, backup::Pause::StartFailed(_)) {
                return Ok(ExitCode::from(3));
            }
            if !made.unreadable.is_empty() {
                say!("warning: the snapshot is missing what could not be read:");
                for u in &made.unreadable {
                    say!("  {u}");
                }
                return Ok(ExitCode::from(3));
            }
        }
        BackupAction::List => {
            let restic = backup::open(&l.answers, &l.root, &own)?;
            let snapshots = restic.snapshots(backup::TAG).map_err(BackupError::from)?;
            if snapshots.is_empty() {
                say!("No snapshots at {} yet: `sudo clawguard backup now` makes one.", restic.repository);
            }
            let now = std::time::SystemTime::now();
            for s in &snapshots {
                let size = restic.size(&s.id).map(bytes).unwrap_or_else(|_| "?".into());
                let age = humantime::parse_rfc3339_weak(&s.time[..19.min(s.time.len())])
                    .ok()
                    .and_then(|t| now.duration_since(t).ok())
                    .map(|d| age(d.as_secs()))
                    .unwrap_or_default();
                say!(
                    "{}  {}  {:>10}  {:>9}  {}",
                    s.short_id,
                    &s.time[..19.min(s.time.len())],
                    size,
                    age,
                    s.paths.join(" ")
                );
            }
        }
        BackupAction::Verify => {
            let spin = spinner(
                "verifying: restic checks the repository and reads a tenth of it, then the latest snapshot is restored and compared…",
            );
            let v = backup::verify(&l.answers, &l.root, &own);
            drop(spin);
            let v = v?;
            say!(
                "Snapshot {}: the repository's check passed (a tenth of its data read), and its {} file(s) restored into a scratch directory.",
                v.snapshot,
                v.files
            );
            if v.differences.is_empty() {
                say!("The restored files are identical to the host's.");
            } else {
                say!(
                    "{} difference(s) with the host now (what changed since the snapshot was taken, or a damaged backup):",
                    v.differences.len()
                );
                for d in &v.differences {
                    say!("  {d}");
                }
            }
        }
        BackupAction::Password => {
            let vault = crate::vault::Vault::new(&l.root);
            let password = vault.get(&backup::PASSWORD_KEY.parse().expect("a name"))?;
            std::io::Write::write_all(&mut std::io::stdout(), &password)
                .map_err(|e| CommandError::Failed(format!("cannot print the password: {e}")))?;
        }
        BackupAction::Kit { out, passphrase_file } => {
            let restic = backup::open(&l.answers, &l.root, &own)?;
            let vault = crate::vault::Vault::new(&l.root);
            let password = String::from_utf8(vault.get(&backup::PASSWORD_KEY.parse().expect("a name"))?)
                .map_err(|_| BackupError::NoPassword)?;
            let opened =
                kit::Opened { password, identity: vault.identity_text()?, ssh_key: backup::ssh_key_text(&l.root)? };
            let passphrase = passphrase(passphrase_file.as_deref(), true)?;
            let host = l.facts.hostname.clone().unwrap_or_else(|| "this-server".into());
            let made = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
            let kit = Kit::seal(&host, &made, &restic.repository, &opened, &passphrase)?;
            let record = || backup::record_kit(&l.root, &restic.repository, &vault.public()?);
            match out {
                Some(path) => {
                    // Yours, not root's, when you ran sudo: `scp` it off as yourself.
                    let owner = super::sudo_user(&l).map(|(uid, gid, _)| (uid, gid));
                    write_new(path, kit.to_text().as_bytes(), owner)?;
                    record()?;
                    let whose = if owner.is_some() { " (yours, mode 600)" } else { " (mode 600)" };
                    say!(
                        "Wrote the recovery kit to {}{whose}. Copy it OFF this server now (and delete it here), and keep the passphrase apart from it: without both, the backups cannot be opened when this server is gone.",
                        std::fs::canonicalize(path).unwrap_or_else(|_| path.clone()).display()
                    );
                }
                None => {
                    print!("{}", kit.to_text());
                    record()?;
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn restore(args: &RestoreArgs) -> Result<ExitCode, CommandError> {
    if !args.root.is_dir() {
        return Err(CommandError::NoRoot(args.root.display().to_string()));
    }
    let root = Root::new(&args.root);
    let text = std::fs::read_to_string(&args.kit)
        .map_err(|e| CommandError::Failed(format!("cannot read the kit {}: {e}", args.kit.display())))?;
    let kit = Kit::parse(&text)?;
    let passphrase = passphrase(args.passphrase_file.as_deref(), false)?;
    let opened = kit.open(&passphrase)?;
    if root.is_live() && !on_path("restic") {
        install_restic(&root)?;
    }
    say!("Restoring {} of {} (kit made {}) from {}…", args.snapshot, kit.host, kit.made, kit.repository);
    let spin = spinner("restoring the snapshot from the repository…");
    let done = backup::restore(&kit.repository, &opened, &args.snapshot, &root);
    drop(spin);
    let done = done?;
    for p in &done.paths {
        say!("  restored {p}");
        if p.ends_with("/openclaw-backups") {
            say!(
                "  OpenClaw's databases are in its own archive there (a snapshot never copies them mid-write): once `sudo clawguard apply` runs the agent, bring them back with OpenClaw's `openclaw backup restore` (see `openclaw backup restore --help`)."
            );
        }
    }
    for (was, now) in &done.moved_aside {
        say!("  what was at {was} is now at {now}");
    }
    for dir in &done.earlier {
        say!(
            "  an earlier restore was cut short: {dir} holds what it had not put in place (kept; remove it once you have looked)"
        );
    }
    say!(
        "The vault's identity, clawguard's answers and the agent's data are back. Next: `clawguard plan` shows the hardening to re-apply, `sudo clawguard apply` does it."
    );
    Ok(ExitCode::SUCCESS)
}

/// Whether `program` is in a directory of PATH (as `sudo` sets it: its secure_path).
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH").is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

/// A fresh host has no restic (and, on a cloud image, no package lists): it is installed
/// the way an apply installs what the layers need — fresh lists, then the package, as a
/// generation of its own that `clawguard rollback` and `uninstall` take back.
fn install_restic(root: &Root) -> Result<(), CommandError> {
    if !crate::target::atomic::running_as_root() {
        return Err(CommandError::Failed(
            "restic is not installed, and installing it needs root: run `sudo clawguard restore …`".into(),
        ));
    }
    say!("restic is not installed: installing it first (apt-get update, then the package).");
    let facts = crate::host::probe(root, None);
    let plan =
        crate::layers::packages_only(&facts, crate::answers::Layer::Backup, &[("restic", "restores the snapshot")]);
    let opts = crate::apply::Options {
        force: false,
        runner: crate::target::Runner::Live,
        confirm_timeout: 0,
        ssh_connection: None,
        exe: std::env::current_exe().unwrap_or_else(|_| "clawguard".into()),
        keys: Default::default(),
        then: crate::apply::After::Complete,
        completes: None,
    };
    let report = crate::apply::apply(&plan, root, &opts, &mut super::progress_bar())?;
    if let Some(n) = report.installed {
        say!("Installed restic (generation {n}).");
    }
    Ok(())
}

fn destination(a: &crate::answers::Answers) -> String {
    a.backup.destination.as_ref().map(|d| d.to_string()).unwrap_or_default()
}

/// The passphrase: the first line of `file`, or asked (twice when making a kit).
fn passphrase(file: Option<&Path>, confirm: bool) -> Result<String, CommandError> {
    if let Some(f) = file {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CommandError::Failed(format!("cannot read the passphrase file {}: {e}", f.display())))?;
        return Ok(text.lines().next().unwrap_or_default().to_owned());
    }
    if !std::io::stdin().is_terminal() {
        return Err(CommandError::Failed(
            "stdin is not a terminal, so the passphrase cannot be asked: give --passphrase-file FILE".into(),
        ));
    }
    let help = format!("at least {} characters; keep it apart from the kit", kit::MIN_PASSPHRASE);
    let mut prompt = inquire::Password::new("The recovery kit's passphrase:")
        .with_display_mode(inquire::PasswordDisplayMode::Masked)
        .with_help_message(&help);
    if !confirm {
        prompt = prompt.without_confirmation();
    }
    prompt.prompt().map_err(|e| CommandError::Prompt(e.to_string()))
}

/// Writes a new file (never over one, never through a link), mode 600.
/// A new file, mode 0600, never through a link; `owner` (uid, gid) gets it.
fn write_new(path: &Path, bytes: &[u8], owner: Option<(u32, u32)>) -> Result<(), CommandError> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(libc::O_NOFOLLOW)
        .open(path)
        .map_err(|e| CommandError::Failed(format!("cannot create {} ({e}): give a new file's name", path.display())))?;
    if let Some((uid, gid)) = owner {
        std::os::unix::fs::fchown(&f, Some(uid), Some(gid))
            .map_err(|e| CommandError::Failed(format!("cannot give {} to you: {e}", path.display())))?;
    }
    f.write_all(bytes).map_err(|e| CommandError::Failed(format!("cannot write {}: {e}", path.display())))
}

fn bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} B"),
    }
}

fn age(secs: u64) -> String {
    match secs {
        s if s >= 86_400 => format!("{} d ago", s / 86_400),
        s if s >= 3_600 => format!("{} h ago", s / 3_600),
        s => format!("{} min ago", s / 60),
    }
}

/// A spinner on stderr while a long restic run without progress of its own goes on (only
/// on a terminal); cleared when dropped.
fn spinner(msg: &str) -> Option<Spinner> {
    std::io::stderr().is_terminal().then(|| {
        let bar = indicatif::ProgressBar::new_spinner();
        bar.set_message(msg.to_owned());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        Spinner(bar)
    })
}

struct Spinner(indicatif::ProgressBar);

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
