//! A booted bare Debian for the first-run tests: `tests/booted/nspawn-vps.sh` boots a
//! debootstrapped base (cached in /var/cache/clawguard-tests) with systemd as PID 1 in
//! network namespaces of its own, so units, timers, `systemctl reload`, `systemd-run`, the
//! journal, apt (through a relay to the Debian mirror), ufw, fail2ban and Docker are real.
//! It holds what a cloud image holds: the cloud user `debian` (uid 1000, sudo without a
//! password, a key), cloud-init's `50-cloud-init.conf` turning passwords on, sudo with its
//! default `env_reset`. The tests drive it only over real SSH from the host-side namespace,
//! as a user does. Powered off and removed on drop.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// The cloud user's password (only used to prove password logins are refused).
pub const PASSWORD: &str = "Cg-cloud-pass-472";

pub struct Booted {
    name: String,
    suite: String,
    pub host_ip: String,
    pub vps_ip: String,
    /// A second address on the host side: an "attacker" that may get banned.
    pub other_ip: String,
    pub work: tempfile::TempDir,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/booted/nspawn-vps.sh")
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

impl Booted {
    /// Builds the base for `suite` if it is not cached, boots it and makes it a cloud image.
    pub fn up(suite: &str, net: u8) -> Booted {
        for tool in ["debootstrap", "systemd-nspawn", "socat", "ssh", "sshpass"] {
            let found = std::env::var_os("PATH")
                .map(|p| {
                    std::env::split_paths(&p).chain(["/usr/sbin".into(), "/sbin".into()]).any(|d| d.join(tool).exists())
                })
                .unwrap_or(false);
            assert!(
                found,
                "`{tool}` is not installed: scripts/test installs it (debootstrap systemd-container socat openssh-client sshpass)"
            );
        }
        let name = format!("cgfh{net}-{}", std::process::id() % 100000);
        let b = Booted {
            name,
            suite: suite.to_owned(),
            host_ip: format!("10.233.{net}.1"),
            vps_ip: format!("10.233.{net}.2"),
            other_ip: format!("10.233.{net}.3"),
            work: tempfile::Builder::new().prefix("clawguard-booted-").tempdir().unwrap(),
        };
        let o = b.script_cmd(&["base"]).output().unwrap();
        assert!(o.status.success(), "building the {suite} base failed: {}", text(&o));
        let o = b.script_cmd(&["up"]).output().unwrap();
        assert!(o.status.success(), "booting the {suite} VPS failed: {}", text(&o));
        b.make_cloud_image();
        b
    }

    pub fn script_cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(script());
        c.args(args)
            .env("VPS_NAME", &self.name)
            .env("VPS_SUITE", &self.suite)
            .env("VPS_HOSTIP", format!("{}/24", self.host_ip))
            .env("VPS_IP", format!("{}/24", self.vps_ip))
            .stdin(Stdio::null());
        c
    }

    /// Runs `argv` inside the VPS as root — only to set it up as a cloud image is set up,
    /// and to read what a test cannot see over SSH. Never to drive clawguard.
    pub fn exec(&self, argv: &[&str]) -> (bool, String) {
        let mut args = vec!["exec"];
        args.extend_from_slice(argv);
        let o = self.script_cmd(&args).output().unwrap();
        (o.status.success(), text(&o))
    }

    fn must_exec(&self, argv: &[&str]) -> String {
        let (ok, out) = self.exec(argv);
        assert!(ok, "{argv:?} in the VPS failed: {out}");
        out
    }

    pub fn key(&self) -> PathBuf {
        self.work.path().join("id_ed25519")
    }

    fn make_cloud_image(&self) {
        let key = self.key();
        let o = Command::new("ssh-keygen")
            .args(["-q", "-t", "ed25519", "-N", "", "-C", "admin@laptop", "-f", key.to_str().unwrap()])
            .output()
            .unwrap();
        assert!(o.status.success(), "ssh-keygen: {}", text(&o));
        let public = fs::read_to_string(key.with_extension("pub")).unwrap();
        let setup = format!(
            r#"set -e
useradd -m -s /bin/bash -u 1000 -G sudo debian
echo 'debian:{PASSWORD}' | chpasswd
install -d -m 700 -o debian -g debian /home/debian/.ssh
printf '%s' '{public}' > /home/debian/.ssh/authorized_keys
chown debian:debian /home/debian/.ssh/authorized_keys; chmod 600 /home/debian/.ssh/authorized_keys
install -d -m 700 /root/.ssh; printf '%s' '{public}' > /root/.ssh/authorized_keys
echo 'debian ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/90-cloud-init-users
printf 'PasswordAuthentication yes\n' > /etc/ssh/sshd_config.d/50-cloud-init.conf
systemctl restart ssh
"#
        );
        self.must_exec(&["sh", "-c", &setup]);
        self.hostns(&["ip", "addr", "add", &format!("{}/24", self.other_ip), "dev", &format!("{}-v", self.name)]);
    }

    /// An ssh `ProxyCommand` that reaches this VPS from anywhere on this machine, through
    /// its host-side namespace (for a controller that drives several VPSes, like Ansible).
    pub fn proxy_command(&self) -> String {
        format!(
            "env VPS_NAME={} VPS_SUITE={} VPS_HOSTIP={}/24 VPS_IP={}/24 {} hostns nc %h %p",
            self.name,
            self.suite,
            self.host_ip,
            self.vps_ip,
            script().display()
        )
    }

    /// The VPS's own network namespace (it outlives a reboot): where a test runs what the
    /// VPS should find on its 127.0.0.1, as a registry.
    pub fn netns(&self) -> String {
        format!("/run/netns/{}", self.name)
    }

    /// A shell command line that runs `argv` in the host-side namespace (for a terminal
    /// the test drives, such as tmux: `ssh -t … sudo clawguard` as the admin types it).
    pub fn hostns_command(&self, argv: &[String]) -> String {
        let quote = |a: &str| format!("'{}'", a.replace('\'', "'\\''"));
        let mut words = vec![
            "env".to_owned(),
            format!("VPS_NAME={}", self.name),
            format!("VPS_SUITE={}", self.suite),
            format!("VPS_HOSTIP={}/24", self.host_ip),
            format!("VPS_IP={}/24", self.vps_ip),
            quote(&script().display().to_string()),
            "hostns".to_owned(),
        ];
        words.extend(argv.iter().map(|a| quote(a)));
        words.join(" ")
    }

    /// Runs `argv` in the host-side namespace (the admin's laptop).
    pub fn hostns(&self, argv: &[&str]) -> (bool, String) {
        let mut args = vec!["hostns"];
        args.extend_from_slice(argv);
        let o = self.script_cmd(&args).output().unwrap();
        (o.status.success(), text(&o))
    }

    /// The ssh options for a login as `user` on `port` (a fresh connection each time unless
    /// `control` names a master connection to share).
    pub fn ssh_args(&self, user: &str, port: u16, control: Option<&str>) -> Vec<String> {
        let mut a: Vec<String> = vec![
            "ssh".into(),
            "-o".into(),
            "StrictHostKeyChecking=no".into(),
            "-o".into(),
            format!("UserKnownHostsFile={}", self.work.path().join("known_hosts").display()),
            "-o".into(),
            "BatchMode=yes".into(),
            "-o".into(),
            "IdentitiesOnly=yes".into(),
            "-o".into(),
            "ConnectTimeout=5".into(),
            "-i".into(),
            self.key().display().to_string(),
            "-p".into(),
            port.to_string(),
        ];
        if let Some(c) = control {
            a.extend([
                "-o".into(),
                "ControlMaster=auto".into(),
                "-o".into(),
                format!("ControlPath={}", self.work.path().join(c).display()),
                "-o".into(),
                "ControlPersist=600".into(),
            ]);
        }
        a.push(format!("{user}@{}", self.vps_ip));
        a
    }

    /// Runs a shell command line as `user` over SSH on `port` (through the master
    /// connection `control` when given). Returns (exit code, stdout+stderr).
    pub fn ssh(&self, user: &str, port: u16, control: Option<&str>, cmd: &str) -> (i32, String) {
        let mut argv = self.ssh_args(user, port, control);
        argv.push(cmd.to_owned());
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut args = vec!["hostns"];
        args.extend_from_slice(&refs);
        let o = self.script_cmd(&args).output().unwrap();
        (o.status.code().unwrap_or(-1), text(&o))
    }

    /// Copies a local file to the user's home over SSH (`cat > name`).
    pub fn upload(&self, user: &str, port: u16, control: Option<&str>, local: &Path, name: &str) {
        let mut argv = self.ssh_args(user, port, control);
        argv.push(format!("cat > {name}"));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut args = vec!["hostns"];
        args.extend_from_slice(&refs);
        let f = fs::File::open(local).unwrap();
        let o = self.script_cmd(&args).stdin(f).output().unwrap();
        assert!(o.status.success(), "uploading {}: {}", local.display(), text(&o));
    }

    /// Runs `cmd` over SSH and writes what it prints to `local`, byte for byte (a tar of a
    /// directory, a file the user copies off the server).
    pub fn download(&self, user: &str, port: u16, control: Option<&str>, cmd: &str, local: &Path) {
        let mut argv = self.ssh_args(user, port, control);
        argv.push(cmd.to_owned());
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut args = vec!["hostns"];
        args.extend_from_slice(&refs);
        let f = fs::File::create(local).unwrap();
        let o = self.script_cmd(&args).stdout(f).output().unwrap();
        assert!(o.status.success(), "`{cmd}` into {}: {}", local.display(), text(&o));
    }

    /// Pipes a tar of `rootfs` into `sudo docker import` over SSH: the image a user would
    /// have built or pulled.
    pub fn import_image(&self, port: u16, control: Option<&str>, rootfs: &Path, name: &str, changes: &[&str]) {
        self.import_tree(port, control, rootfs, &[], name, changes);
    }

    /// The Debian this VPS was booted from, as a Docker base image `name` (what
    /// `debian:12-slim` is to a build: apt and dpkg, no documentation, no kept packages),
    /// with `changes` (`ENV http_proxy=…`: the provider's mirror, as the VPS's own apt uses).
    pub fn import_debian_base(&self, port: u16, control: Option<&str>, name: &str, changes: &[&str]) {
        let base = Path::new("/var/cache/clawguard-tests").join(format!("vps-base-{}", self.suite));
        let slim = ["./usr/share/doc", "./usr/share/man", "./usr/share/locale", "./var/cache/apt/archives/*.deb"];
        self.import_tree(port, control, &base, &slim, name, changes);
    }

    fn import_tree(
        &self,
        port: u16,
        control: Option<&str>,
        rootfs: &Path,
        excludes: &[&str],
        name: &str,
        changes: &[&str],
    ) {
        let tar = self.work.path().join("image.tar");
        let excludes: Vec<String> = excludes.iter().map(|e| format!("--exclude={e}")).collect();
        let o = Command::new("tar")
            .args(["-C", rootfs.to_str().unwrap(), "-cf", tar.to_str().unwrap()])
            .args(&excludes)
            .arg(".")
            .output()
            .unwrap();
        assert!(o.status.success(), "tar: {}", text(&o));
        let mut argv = self.ssh_args("debian", port, control);
        let changes: Vec<String> = changes.iter().map(|c| format!("--change '{c}'")).collect();
        argv.push(format!("sudo docker import {} - {name}", changes.join(" ")));
        let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
        let mut args = vec!["hostns"];
        args.extend_from_slice(&refs);
        let o = self.script_cmd(&args).stdin(fs::File::open(&tar).unwrap()).output().unwrap();
        assert!(o.status.success(), "docker import {name}: {}", text(&o));
    }

    /// Waits until a TCP connection to the VPS's `port` succeeds (true) or `secs` pass.
    pub fn wait_port(&self, port: u16, secs: u64) -> bool {
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(secs) {
            let (ok, _) = self.hostns(&["nc", "-z", "-w", "1", &self.vps_ip, &port.to_string()]);
            if ok {
                return true;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
        false
    }

    /// Asks the VPS to reboot (as the user would, over SSH) and waits until it is running
    /// again and SSH answers on `port`.
    pub fn reboot(&self, port: u16, control: Option<&str>) {
        let pid1 = || {
            let o = self.script_cmd(&["pid1"]).output().unwrap();
            String::from_utf8_lossy(&o.stdout).trim().to_owned()
        };
        let old = pid1();
        assert!(!old.is_empty(), "the VPS has no PID 1 before the reboot");
        let _ = self.ssh("debian", port, control, "sudo systemctl reboot");
        if let Some(c) = control {
            let _ = fs::remove_file(self.work.path().join(c));
        }
        // The old system goes down, then the nspawn loop boots it again. Nothing enters the
        // old one while it shuts down: systemd-shutdown stops every process it finds
        // (SIGSTOP, then SIGTERM), and one that entered between the two stays stopped and
        // holds the shutdown forever.
        let t = Instant::now();
        loop {
            let now = pid1();
            if !now.is_empty() && now != old {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(180), "the VPS did not boot again after the reboot");
            std::thread::sleep(Duration::from_millis(500));
        }
        let t = Instant::now();
        loop {
            let (ok, state) = self.exec(&["systemctl", "is-system-running"]);
            if ok || state.contains("degraded") {
                break;
            }
            assert!(t.elapsed() < Duration::from_secs(120), "the VPS did not come back after the reboot: {state}");
            std::thread::sleep(Duration::from_millis(500));
        }
        assert!(self.wait_port(port, 60), "SSH did not come back on port {port} after the reboot");
    }
}

impl Drop for Booted {
    fn drop(&mut self) {
        let _ = self.script_cmd(&["down"]).output();
    }
}

/// Makes `path` executable (helper for scripts the tests write).
pub fn executable(path: &Path) {
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
}
