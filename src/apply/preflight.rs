//! The host-readiness checks a plan asks for ([`Check`]): what would otherwise fail after
//! files were written — no systemd, no engine, a missing image, a port in use. Each either
//! holds or says what to do. Runs through the runner, like every command on the target.

use std::path::Path;

use crate::plan::{BUILT_FROM_LABEL, Check};
use crate::target::Kind;
use crate::target::Root;
use crate::target::{Ran, Runner};

pub fn check(check: &Check, root: &Root, runner: &Runner, platform: Kind) -> Result<(), String> {
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
        Check::Engine => match runner.run(&["docker", "info", "--format", "{{.ServerVersion}}"]) {
            Ran::Ok(_) | Ran::Skipped => Ok(()),
            Ran::Failed { output, .. } if platform == Kind::MacOs => Err(format!(
                "the Docker engine does not answer ({}): start your runtime (OrbStack, Docker Desktop, or `colima start`), then run clawguard again",
                last_line(&output)
            )),
            Ran::Failed { output, .. } => Err(format!(
                "the Docker engine does not answer ({}): start it with `sudo systemctl start docker` (see `journalctl -u docker` if it does not start), then run clawguard again",
                last_line(&output)
            )),
        },
        Check::Limits => {
            let out =
                match runner.run(&["docker", "info", "--format", "{{.CPUCfsQuota}} {{.MemoryLimit}} {{.PidsLimit}}"]) {
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
            if matches!(
                runner.run(&["docker", "image", "inspect", "--format", "{{.Id}}", image]),
                Ran::Ok(_) | Ran::Skipped
            ) {
                return Ok(());
            }
            // `:local` is the tag of an image built on this host (OpenClaw's convention):
            // no registry has it, so there is nothing to pull.
            if image.ends_with(":local") {
                return Err(format!("the image `{image}` is not on this host: {how}"));
            }
            match runner.run(&["docker", "pull", "-q", image]) {
                Ran::Ok(_) | Ran::Skipped => Ok(()),
                Ran::Failed { output, .. } => Err(format!(
                    "the image `{image}` is not on this host and cannot be pulled ({}): {how}",
                    last_line(&output)
                )),
            }
        }
        Check::ProxyImage { image, dockerfile } => proxy_image(image, dockerfile, root, runner),
        Check::PortFree { port, owners, what } if platform == Kind::MacOs => {
            // lsof exits 1 when nothing listens; its lines are COMMAND PID USER ….
            let out = match runner.run(&["lsof", "-nP", &format!("-iTCP:{port}"), "-sTCP:LISTEN"]) {
                Ran::Ok(out) => out,
                Ran::Skipped | Ran::Failed { .. } => return Ok(()),
            };
            let others: Vec<String> = out
                .lines()
                .skip(1)
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let (cmd, user) = (f.first()?, f.get(2)?);
                    // launchd (sshd's socket) must be root's; a runtime forwarding the
                    // gateway runs as its user.
                    let ours = owners.iter().any(|o| o == cmd) && (*cmd != "launchd" || *user == "root");
                    (!ours).then(|| format!("{cmd} (pid {}, {user})", f.get(1).unwrap_or(&"?")))
                })
                .collect();
            if others.is_empty() {
                return Ok(());
            }
            Err(format!(
                "port {port} is already in use ({}), so {what} cannot take it: choose another port in the answers, or stop what listens there",
                others.join(", ")
            ))
        }
        Check::PortFree { port, owners, what } => {
            let filter = format!("sport = :{port}");
            let out = match runner.run(&["ss", "-Htlnp", &filter]) {
                Ran::Ok(out) => out,
                Ran::Skipped => return Ok(()),
                Ran::Failed { output, .. } => {
                    return Err(format!("cannot tell whether port {port} is free (ss: {})", last_line(&output)));
                }
            };
            // A listener counts as the expected owner by its name — and, on this host, only
            // when it really is that program, run by root (any process can call itself
            // "sshd"; taking its port for sshd's would move SSH onto it).
            let live = *runner == Runner::Live;
            let others: Vec<&str> = out
                .lines()
                .filter(|l| !l.trim().is_empty())
                .filter(|l| {
                    !owners
                        .iter()
                        .any(|o| l.contains(&format!("\"{o}\"")) && (!live || genuine(l, o, Path::new("/proc"))))
                })
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

/// Where the programs a port may belong to really live.
fn executables(owner: &str) -> &'static [&'static str] {
    match owner {
        "sshd" => &["/usr/sbin/sshd", "/usr/bin/sshd", "/usr/sbin/sshd-session"],
        "systemd" => &["/usr/lib/systemd/systemd", "/lib/systemd/systemd"],
        _ => &[],
    }
}

/// Whether every process of `owner` in an `ss -p` line is that program, run by root.
fn genuine(line: &str, owner: &str, proc_dir: &Path) -> bool {
    genuine_as(line, owner, executables(owner), proc_dir)
}

fn genuine_as(line: &str, owner: &str, exes: &[&str], proc_dir: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let tag = format!("(\"{owner}\",pid=");
    let pids: Vec<&str> =
        line.match_indices(&tag).filter_map(|(i, _)| line[i + tag.len()..].split([',', ')']).next()).collect();
    !pids.is_empty()
        && pids.iter().all(|pid| {
            let dir = proc_dir.join(pid);
            let exe = std::fs::read_link(dir.join("exe")).unwrap_or_default();
            let exe = exe.to_string_lossy();
            let exe = exe.trim_end_matches(" (deleted)");
            exes.contains(&exe) && std::fs::metadata(&dir).is_ok_and(|m| m.uid() == 0)
        })
}

/// `users:(("nginx",pid=1,fd=3))` of an `ss -p` line, or the whole line.
fn users(line: &str) -> String {
    line.split_whitespace().find(|w| w.starts_with("users:")).unwrap_or(line.trim()).to_owned()
}

fn last_line(s: &str) -> &str {
    s.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("no output").trim()
}

/// The proxy's image as clawguard builds it: kept when the host has it built from this very
/// `dockerfile`, else built from it (the file is written under clawguard's state directory,
/// the build's whole context). The build fetches Debian's packages, so it needs the network.
fn proxy_image(image: &str, dockerfile: &str, root: &Root, runner: &Runner) -> Result<(), String> {
    let want = crate::target::sha256(dockerfile.as_bytes());
    let format = format!("{{{{index .Config.Labels \"{BUILT_FROM_LABEL}\"}}}}");
    match runner.run(&["docker", "image", "inspect", "--format", &format, image]) {
        Ran::Skipped => return Ok(()),
        Ran::Ok(out) if out.trim() == want => return Ok(()),
        _ => {}
    }
    let file = crate::host::PROXY_DOCKERFILE;
    let dir = file.rsplit_once('/').map_or("/", |(d, _)| d);
    let write = || -> std::io::Result<()> {
        std::fs::create_dir_all(root.path(dir))?;
        crate::target::atomic::write(&root.path(file), dockerfile.as_bytes(), 0o644)
    };
    write().map_err(|e| format!("cannot write the proxy's Dockerfile to {file}: {e}"))?;
    let label = format!("{BUILT_FROM_LABEL}={want}");
    match runner.run(&["docker", "build", "--quiet", "--label", &label, "--tag", image, dir]) {
        Ran::Ok(_) | Ran::Skipped => Ok(()),
        Ran::Failed { output, .. } => Err(format!(
            "the proxy's image `{image}` could not be built from Debian's squid-openssl ({}): the build needs Docker Hub (debian:12-slim) and deb.debian.org; check that this host reaches them, or set egress.proxy_image to an image whose squid is built with OpenSSL",
            last_line(&output)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// This machine's own root, read only: the check says plainly when systemd is not PID 1
    /// (as in the CI containers) and what to do, and passes where it is.
    #[test]
    fn a_system_without_systemd_gets_a_clear_message() {
        let result = check(&Check::Systemd, &Root::new("/"), &Runner::Live, Kind::Linux);
        if std::path::Path::new("/run/systemd/system").exists() {
            assert_eq!(result, Ok(()));
        } else {
            let e = result.unwrap_err();
            assert!(e.contains("does not run systemd") && e.contains("--runner PROGRAM"), "{e}");
        }
        // Through a runner program the program decides: never refused here.
        assert_eq!(check(&Check::Systemd, &Root::new("/"), &Runner::Program("/bin/true".into()), Kind::Linux), Ok(()));
    }

    /// A runner that prints `lsof` output as a Mac would.
    fn lsof_runner(dir: &Path, lines: &str) -> Runner {
        let script = dir.join("runner.sh");
        std::fs::write(
            &script,
            format!("#!/bin/sh\ncat <<'EOF'\nCOMMAND PID USER FD TYPE DEVICE SIZE/OFF NODE NAME\n{lines}EOF\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        Runner::Program(script)
    }

    #[test]
    fn on_a_mac_a_port_is_free_for_launchd_as_root_and_for_the_runtime_as_its_user() {
        let d = tempfile::tempdir().unwrap();
        let root = Root::new(d.path());
        let sshd = Check::PortFree { port: 2222, owners: vec!["launchd".into()], what: "ssh.port 2222".into() };
        let mine = lsof_runner(d.path(), "launchd 1 root 9u IPv6 0x1 0t0 TCP *:2222 (LISTEN)\n");
        assert_eq!(check(&sshd, &root, &mine, Kind::MacOs), Ok(()));
        let squatter = lsof_runner(d.path(), "launchd 666 alice 9u IPv6 0x1 0t0 TCP *:2222 (LISTEN)\n");
        let e = check(&sshd, &root, &squatter, Kind::MacOs).unwrap_err();
        assert!(e.contains("port 2222 is already in use (launchd (pid 666, alice))"), "{e}");
        let gateway =
            Check::PortFree { port: 18789, owners: vec!["OrbStack".into()], what: "sandbox.gateway_port 18789".into() };
        let runtime = lsof_runner(d.path(), "OrbStack 812 alice 40u IPv4 0x2 0t0 TCP 127.0.0.1:18789 (LISTEN)\n");
        assert_eq!(check(&gateway, &root, &runtime, Kind::MacOs), Ok(()));
        let other = lsof_runner(d.path(), "nc 900 alice 3u IPv4 0x3 0t0 TCP *:18789 (LISTEN)\n");
        assert!(check(&gateway, &root, &other, Kind::MacOs).unwrap_err().contains("nc (pid 900, alice)"));
    }

    #[test]
    fn a_process_that_only_calls_itself_sshd_does_not_own_sshds_port() {
        // A copy of `sleep` named sshd: its name says sshd, its executable does not.
        let d = tempfile::tempdir().unwrap();
        let fake = d.path().join("sshd");
        std::fs::copy("/bin/sleep", &fake).unwrap();
        // Another test's fork may hold the copy's write end for a moment (ETXTBSY).
        let mut child = (0..50)
            .find_map(|_| match std::process::Command::new(&fake).arg("30").spawn() {
                Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) => {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    None
                }
                other => Some(other.unwrap()),
            })
            .expect("the copy of sleep starts");
        let line = format!("LISTEN 0 128 0.0.0.0:2222 0.0.0.0:* users:((\"sshd\",pid={},fd=3))", child.id());
        assert!(!genuine(&line, "sshd", Path::new("/proc")));
        // positive control: the same process passes when its real executable is expected
        let exe = fake.to_string_lossy().into_owned();
        let as_root = crate::target::atomic::running_as_root();
        assert_eq!(genuine_as(&line, "sshd", &[exe.as_str()], Path::new("/proc")), as_root);
        let _ = child.kill();
        let _ = child.wait();
        assert!(!genuine("LISTEN 0 128 0.0.0.0:2222 users:((\"sshd\",fd=3))", "sshd", Path::new("/proc")));
    }
}
