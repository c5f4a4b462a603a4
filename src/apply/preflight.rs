//! The host-readiness checks a plan asks for ([`Check`]): what would otherwise fail after
//! files were written — no systemd, no engine, a missing image, a port in use. Each either
//! holds or says what to do. Runs through the runner, like every command on the target.

use super::runner::{Ran, Runner};
use crate::host::Root;
use crate::plan::Check;

pub fn check(check: &Check, root: &Root, runner: &Runner) -> Result<(), String> {
    let run = |argv: &[&str]| runner.run(&argv.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    match check {
        Check::Systemd => {
            // Through a runner program, the program decides how services are reached.
            if *runner != Runner::Live || root.path("/run/systemd/system").exists() {
                return Ok(());
            }
            let pid1 = std::fs::read_to_string("/proc/1/comm").map(|s| s.trim().to_owned()).unwrap_or_default();
            Err(format!(
                "this system does not run systemd (PID 1 is `{}`), and clawguard reloads services and installs timers with systemctl. Run clawguard on the server itself (not in a container or chroot); for a root without systemd, give --runner PROGRAM, which gets each command and runs it where the services are.",
                if pid1.is_empty() { "unknown" } else { &pid1 }
            ))
        }
        Check::Engine => match run(&["docker", "info", "--format", "{{.ServerVersion}}"]) {
            Ran::Ok(_) | Ran::Skipped => Ok(()),
            Ran::Failed { output, .. } => Err(format!(
                "the Docker engine does not answer ({}): start it with `sudo systemctl start docker` (see `journalctl -u docker` if it does not start), then run clawguard again",
                last_line(&output)
            )),
        },
        Check::Limits => {
            let out = match run(&["docker", "info", "--format", "{{.CPUCfsQuota}} {{.MemoryLimit}} {{.PidsLimit}}"]) {
                Ran::Ok(out) => out,
                Ran::Skipped => return Ok(()),
                Ran::Failed { output, .. } => {
                    return Err(format!("cannot ask the engine which limits it enforces ({})", last_line(&output)));
                }
            };
            let missing: Vec<&str> = ["CPU", "memory", "pids"]
                .into_iter()
                .zip(out.split_whitespace())
                .filter(|(_, ok)| *ok != "true")
                .map(|(what, _)| what)
                .collect();
            if missing.is_empty() {
                return Ok(());
            }
            Err(format!(
                "this host's kernel does not let Docker enforce the agent's {} limit(s) (no cgroup controller for them; common on a VPS that is itself a container, LXC or OpenVZ), so the sandbox would run without them. Move to a host that has them, or set sandbox.require_limits = false in the answers to run the agent without a CPU limit and with the others only where supported",
                missing.join(", ")
            ))
        }
        Check::Image { image, how } => {
            if matches!(run(&["docker", "image", "inspect", "--format", "{{.Id}}", image]), Ran::Ok(_) | Ran::Skipped) {
                return Ok(());
            }
            // `:local` is the tag of an image built on this host (OpenClaw's convention):
            // no registry has it, so there is nothing to pull.
            if image.ends_with(":local") {
                return Err(format!("the image `{image}` is not on this host: {how}"));
            }
            match run(&["docker", "pull", "-q", image]) {
                Ran::Ok(_) | Ran::Skipped => Ok(()),
                Ran::Failed { output, .. } => Err(format!(
                    "the image `{image}` is not on this host and cannot be pulled ({}): {how}",
                    last_line(&output)
                )),
            }
        }
        Check::PortFree { port, owners, what } => {
            let filter = format!("sport = :{port}");
            let out = match run(&["ss", "-Htlnp", &filter]) {
                Ran::Ok(out) => out,
                Ran::Skipped => return Ok(()),
                Ran::Failed { output, .. } => {
                    return Err(format!("cannot tell whether port {port} is free (ss: {})", last_line(&output)));
                }
            };
            let others: Vec<&str> = out
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter(|l| !owners.iter().any(|o| l.contains(&format!("\"{o}\""))))
                .collect();
            if others.is_empty() {
                return Ok(());
            }
            let who: Vec<String> = others.iter().map(|l| users(l)).collect();
            Err(format!(
                "port {port} is already in use ({}), so {what} cannot take it: choose another port in the answers, or stop what listens there",
                who.join(", ")
            ))
        }
    }
}

/// `users:(("nginx",pid=1,fd=3))` of an `ss -p` line, or the whole line.
fn users(line: &str) -> String {
    line.split_whitespace().find(|w| w.starts_with("users:")).unwrap_or(line.trim()).to_owned()
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's own root, read only: the check says plainly when systemd is not PID 1
    /// (as in the CI containers) and what to do, and passes where it is.
    #[test]
    fn a_system_without_systemd_gets_a_clear_message() {
        let result = check(&Check::Systemd, &Root::new("/"), &Runner::Live);
        if std::path::Path::new("/run/systemd/system").exists() {
            assert_eq!(result, Ok(()));
        } else {
            let e = result.unwrap_err();
            assert!(e.contains("does not run systemd") && e.contains("--runner PROGRAM"), "{e}");
        }
        // Through a runner program the program decides: never refused here.
        assert_eq!(check(&Check::Systemd, &Root::new("/"), &Runner::Program("/bin/true".into())), Ok(()));
    }
}
