//! `clawguard launchd load|unload` (internal, macOS): loading a LaunchDaemon again is two
//! launchctl calls — `bootout` when it is loaded, then `bootstrap` — and a plan's command
//! is one argv, never a shell line. Only clawguard's own daemons are touched.

use std::process::ExitCode;

use super::CommandError;
use crate::cli::LaunchdAction;
use crate::host::platform::LAUNCH_DAEMONS;

const PREFIX: &str = "com.clawguard.";

pub fn launchd(action: &LaunchdAction) -> Result<ExitCode, CommandError> {
    match action {
        LaunchdAction::Load { plist } => {
            let label = label_of(plist)?;
            unload(&label)?;
            launchctl(&["bootstrap", "system", plist])?;
            say!("loaded {label}");
        }
        LaunchdAction::Unload { label } => {
            if !valid_label(label) {
                return Err(CommandError::Stop(format!(
                    "`{label}` is not one of clawguard's daemons (com.clawguard.NAME): nothing unloaded"
                )));
            }
            unload(label)?;
            say!("unloaded {label}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn valid_label(label: &str) -> bool {
    label
        .strip_prefix(PREFIX)
        .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'))
}

/// `/Library/LaunchDaemons/com.clawguard.NAME.plist` → `com.clawguard.NAME`.
fn label_of(plist: &str) -> Result<String, CommandError> {
    plist
        .strip_prefix(LAUNCH_DAEMONS)
        .and_then(|r| r.strip_prefix('/'))
        .and_then(|r| r.strip_suffix(".plist"))
        .filter(|l| valid_label(l))
        .map(str::to_owned)
        .ok_or_else(|| {
            CommandError::Stop(format!(
                "`{plist}` is not one of clawguard's daemons ({LAUNCH_DAEMONS}/com.clawguard.NAME.plist): nothing loaded"
            ))
        })
}

fn unload(label: &str) -> Result<(), CommandError> {
    let target = format!("system/{label}");
    let loaded = duct::cmd("launchctl", ["print", target.as_str()])
        .stdout_null()
        .stderr_null()
        .unchecked()
        .run()
        .map_err(|e| CommandError::Stop(format!("cannot run launchctl: {e}")))?
        .status
        .success();
    if loaded {
        launchctl(&["bootout", &target])?;
    }
    Ok(())
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
            "/System/Library/LaunchDaemons/ssh.plist",
            "/Library/LaunchDaemons/com.clawguard..plist",
            "/Library/LaunchDaemons/com.clawguard.x/../../evil.plist",
            "/tmp/com.clawguard.pf.plist",
        ] {
            assert!(label_of(bad).is_err(), "{bad}");
        }
        assert!(!valid_label("com.apple.pfctl"));
        assert!(valid_label("com.clawguard.pf-expire"));
    }
}
