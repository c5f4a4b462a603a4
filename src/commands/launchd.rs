//! `clawguard launchd load|unload` (internal, macOS): loading a LaunchDaemon again is two
//! launchctl calls — `bootout` when it is loaded, then `bootstrap` — and a plan's command
//! is one argv, never a shell line. Only clawguard's own daemons are touched, and Apple's
//! Remote Login job (`com.openssh.sshd`), which a port move turns off and a rollback on:
//! it races launchd the same way.

use std::process::ExitCode;

use super::CommandError;
use crate::cli::LaunchdAction;
use crate::host::platform::{APPLE_SSHD_LABEL, APPLE_SSHD_PLIST, LAUNCH_DAEMONS};

const PREFIX: &str = "com.clawguard.";

pub fn launchd(action: &LaunchdAction) -> Result<ExitCode, CommandError> {
    match action {
        LaunchdAction::Load { plist } => {
            let label = label_of(plist)?;
            unload(&label)?;
            bootstrap(plist)?;
            say!("loaded {label}");
        }
        LaunchdAction::ColimaStart { argv } => return colima_start(argv),
        LaunchdAction::Unload { label } => {
            if !valid_label(label) {
                return Err(CommandError::Stop(format!(
                    "`{label}` is not one of clawguard's daemons (com.clawguard.NAME) nor Remote Login's ({APPLE_SSHD_LABEL}): nothing unloaded"
                )));
            }
            unload(label)?;
            say!("unloaded {label}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// clawguard's own daemons, or Remote Login's job.
fn valid_label(label: &str) -> bool {
    label == APPLE_SSHD_LABEL || own_label(label)
}

fn own_label(label: &str) -> bool {
    label
        .strip_prefix(PREFIX)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
}

/// `/Library/LaunchDaemons/com.clawguard.NAME.plist` → `com.clawguard.NAME`.
fn label_of(plist: &str) -> Result<String, CommandError> {
    if plist == APPLE_SSHD_PLIST {
        return Ok(APPLE_SSHD_LABEL.to_owned());
    }
    plist
        .strip_prefix(LAUNCH_DAEMONS)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_suffix(".plist"))
        .filter(|l| own_label(l))
        .map(str::to_owned)
        .ok_or_else(|| {
            CommandError::Stop(format!(
                "`{plist}` is not one of clawguard's daemons ({LAUNCH_DAEMONS}/com.clawguard.NAME.plist): nothing loaded"
            ))
        })
}

/// launchd frees a label after `bootout` returns, asynchronously: a `bootstrap` within a
/// few seconds fails with "5: Input/output error" (tuist/tuist#10143,
/// DeterminateSystems/nix-installer#1157). So unloading waits until `launchctl print` no
/// longer finds the label, and loading retries those two errors, each for up to this long.
const SETTLE: std::time::Duration = std::time::Duration::from_secs(15);

fn loaded(target: &str) -> Result<bool, CommandError> {
    Ok(duct::cmd("launchctl", ["print", target])
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .map_err(|e| CommandError::Stop(format!("cannot run launchctl: {e}")))?
        .status
        .success())
}

fn unload(label: &str) -> Result<(), CommandError> {
    let target = format!("system/{label}");
    if !loaded(&target)? {
        return Ok(());
    }
    launchctl(&["bootout", &target])?;
    let deadline = std::time::Instant::now() + SETTLE;
    while loaded(&target)? {
        if std::time::Instant::now() > deadline {
            return Err(CommandError::Stop(format!(
                "launchd still has {label} {} s after `launchctl bootout`: run `sudo launchctl bootout {target}`, then clawguard again",
                SETTLE.as_secs()
            )));
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    Ok(())
}

/// `bootstrap`, again while launchd answers that it is still letting the label go
/// (5: Input/output error, 37: Operation already in progress).
fn bootstrap(plist: &str) -> Result<(), CommandError> {
    let deadline = std::time::Instant::now() + SETTLE;
    loop {
        match launchctl(&["bootstrap", "system", plist]) {
            Err(CommandError::Stop(why))
                if (why.contains("5: Input/output error") || why.contains("37: Operation already in progress"))
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(500));
            }
            other => return other,
        }
    }
}

fn launchctl(args: &[&str]) -> Result<(), CommandError> {
    let out = duct::cmd("launchctl", args)
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(|e| CommandError::Stop(format!("cannot run launchctl: {e}")))?;
    if !out.status.success() {
        return Err(CommandError::Stop(format!(
            "launchctl {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout).trim()
        )));
    }
    Ok(())
}

/// What a hard power-off leaves in each of colima's Lima instances
/// (`~/.colima/_lima/NAME/`): pid files naming processes that are gone (or, after the
/// reboot, someone else's) and sockets nobody listens on. `colima start` reads them, finds
/// the VM "running" and fails on every attempt (abiosoft/colima#381, "errors inspecting
/// instance … ha.sock: connection refused").
const LIMA_RUNTIME_FILES: &[&str] = &["ha.pid", "ha.sock", "vz.pid", "qemu.pid", "ssh.sock"];

/// `clawguard launchd colima-start COLIMA ARGS…`, run at boot as colima's user: the runtime
/// files older than this boot are stale by definition, removed; then COLIMA runs in this
/// process's place. Nothing newer than the boot is touched (a VM its user started since is
/// left alone).
fn colima_start(argv: &[String]) -> Result<ExitCode, CommandError> {
    let home = std::env::var_os("HOME")
        .map(std::path::PathBuf::from)
        .ok_or_else(|| CommandError::Stop("HOME is not set: colima keeps its VM under ~/.colima".into()))?;
    let boot = boot_time()?;
    let lima = home.join(".colima/_lima");
    for instance in std::fs::read_dir(&lima).into_iter().flatten().flatten() {
        for name in LIMA_RUNTIME_FILES {
            let path = instance.path().join(name);
            // Not followed: a link here is removed as the link.
            let Ok(m) = std::fs::symlink_metadata(&path) else { continue };
            if std::os::unix::fs::MetadataExt::mtime(&m) < boot {
                std::fs::remove_file(&path).map_err(|e| {
                    CommandError::Stop(format!(
                        "{} is from before this boot and cannot be removed: {e}",
                        path.display()
                    ))
                })?;
                say!("removed {} (left from before this boot)", path.display());
            }
        }
    }
    let (program, args) = argv.split_first().ok_or_else(|| CommandError::Stop("no colima to start".into()))?;
    let err = std::os::unix::process::CommandExt::exec(std::process::Command::new(program).args(args));
    Err(CommandError::Stop(format!("cannot run {program}: {err}")))
}

/// When this Mac booted, in seconds since the epoch: `sysctl -n kern.boottime` prints
/// `{ sec = 1733560000, usec = 123456 } Sat Dec  7 08:26:40 2024` (sysctl(8)).
fn boot_time() -> Result<i64, CommandError> {
    let out = duct::cmd!("sysctl", "-n", "kern.boottime")
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked()
        .run()
        .map_err(|e| CommandError::Stop(format!("cannot run sysctl: {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    boot_seconds(&text).ok_or_else(|| {
        CommandError::Stop(format!("`sysctl -n kern.boottime` said `{}`: when this Mac booted is unknown", text.trim()))
    })
}

fn boot_seconds(text: &str) -> Option<i64> {
    let at = text.find("sec = ")? + "sec = ".len();
    text[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_clawguards_own_daemons_are_touched() {
        assert_eq!(label_of("/Library/LaunchDaemons/com.clawguard.pf.plist").unwrap(), "com.clawguard.pf");
        for bad in [
            "/Library/LaunchDaemons/com.openssh.sshd.plist",
            "/System/Library/LaunchDaemons/ssh.plist/../evil.plist",
            "/Library/LaunchDaemons/com.clawguard..plist",
            "/Library/LaunchDaemons/com.clawguard.x/../../evil.plist",
            "/tmp/com.clawguard.pf.plist",
        ] {
            assert!(label_of(bad).is_err(), "{bad}");
        }
        // Remote Login's job, by its one path and label only.
        assert_eq!(label_of(APPLE_SSHD_PLIST).unwrap(), APPLE_SSHD_LABEL);
        assert!(valid_label(APPLE_SSHD_LABEL));
        assert!(!valid_label("com.apple.pfctl"));
        assert_eq!(boot_seconds("{ sec = 1733560000, usec = 123456 } Sat Dec  7 08:26:40 2024\n"), Some(1733560000));
        assert_eq!(boot_seconds("sysctl: unknown oid 'kern.boottime'"), None);
        assert!(valid_label("com.clawguard.pf-expire"));
    }
}
