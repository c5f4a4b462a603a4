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
        assert!(valid_label("com.clawguard.pf-expire"));
    }
}
