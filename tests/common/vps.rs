//! A throw-away "VPS" for the tests: a network namespace joined to the host by a private
//! veth pair, and a target root whose users, sshd config, ufw state, logs and /run are
//! bind-mounted over the real ones in a private mount namespace — so sshd, ufw and
//! fail2ban run for real without touching this machine's own users, sshd, firewall or
//! network. Everything is removed on drop.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// The password of the test user (only used to prove password logins are refused).
pub const PASSWORD: &str = "Cg-test-pass-123";

pub struct Vps {
    pub ns: String,
    host_if: String,
    pub host_ip: String,
    pub vps_ip: String,
    pub root: tempfile::TempDir,
    pub work: tempfile::TempDir,
    children: Vec<Child>,
}

/// Runs a command and returns (success, stdout+stderr).
pub fn sh(cmd: &mut Command) -> (bool, String) {
    let o =
        cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (is it installed? scripts/test installs it)"));
    (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

fn must(cmd: &mut Command) -> String {
    let (ok, out) = sh(cmd);
    assert!(ok, "{cmd:?} failed: {out}");
    out
}

impl Vps {
    /// A namespace and a root made from fixture `fixture`, with a user `debian` that has
    /// the client key, host keys, shadow, ufw's package state and the package's fail2ban
    /// config.
    pub fn new(fixture: &str) -> Vps {
        let k = NEXT.fetch_add(1, Ordering::SeqCst);
        let pid = std::process::id();
        let net = 100 + (pid % 40) * 3 + k;
        assert!(net < 255, "too many namespaces in one test binary");
        let ns = format!("cgtest-{pid}-{k}");
        let host_if = format!("cg{}h{k}", pid % 100000);
        let vps_if = format!("cg{}v{k}", pid % 100000);
        let (host_ip, vps_ip) = (format!("10.231.{net}.1"), format!("10.231.{net}.2"));
        let root = super::fixture_root(fixture);
        let work = tempfile::Builder::new().prefix("clawguard-vps-").tempdir().unwrap();
        let vps = Vps { ns: ns.clone(), host_if: host_if.clone(), host_ip, vps_ip, root, work, children: Vec::new() };
        must(Command::new("ip").args(["netns", "add", &ns]));
        must(Command::new("ip").args(["link", "add", &host_if, "type", "veth", "peer", "name", &vps_if]));
        must(Command::new("ip").args(["link", "set", &vps_if, "netns", &ns]));
        must(Command::new("ip").args(["addr", "add", &format!("{}/30", vps.host_ip), "dev", &host_if]));
        must(Command::new("ip").args(["link", "set", &host_if, "up"]));
        must(&mut vps.exec(&["ip", "addr", "add", &format!("{}/30", vps.vps_ip), "dev", &vps_if]));
        must(&mut vps.exec(&["ip", "link", "set", &vps_if, "up"]));
        must(&mut vps.exec(&["ip", "link", "set", "lo", "up"]));
        vps.prepare_root();
        vps
    }

    fn prepare_root(&self) {
        let r = self.root.path();
        let hash = must(Command::new("openssl").args(["passwd", "-6", PASSWORD])).trim().to_owned();
        fs::write(r.join("etc/shadow"), format!("root:*:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\nsshd:*:19000:0:99999:7:::\ndebian:{hash}:19000:0:99999:7:::\n")).unwrap();
        fs::set_permissions(r.join("etc/shadow"), fs::Permissions::from_mode(0o640)).unwrap();
        fs::write(r.join("etc/group"), "root:x:0:\ndebian:x:1000:\nnogroup:x:65534:\n").unwrap();
        for t in ["ed25519", "rsa"] {
            let key = r.join(format!("etc/ssh/ssh_host_{t}_key"));
            must(Command::new("ssh-keygen").args(["-q", "-t", t, "-N", "", "-f", key.to_str().unwrap()]));
        }
        let client = self.client_key();
        must(Command::new("ssh-keygen").args([
            "-q",
            "-t",
            "ed25519",
            "-N",
            "",
            "-C",
            "clawguard-test",
            "-f",
            client.to_str().unwrap(),
        ]));
        fs::copy(client.with_extension("pub"), r.join("home/debian/.ssh/authorized_keys")).unwrap();
        fs::set_permissions(r.join("home/debian/.ssh/authorized_keys"), fs::Permissions::from_mode(0o600)).unwrap();
        must(Command::new("chown").args(["-R", "1000:1000", r.join("home/debian").to_str().unwrap()]));
        // root has the same key, so "root refused" is really PermitRootLogin/AllowUsers.
        fs::create_dir_all(r.join("root/.ssh")).unwrap();
        fs::copy(client.with_extension("pub"), r.join("root/.ssh/authorized_keys")).unwrap();
        fs::create_dir_all(r.join("run/sshd")).unwrap();
        fs::create_dir_all(r.join("var/log")).unwrap();
        // ufw as the package ships it, with its sysctl writes pointed at a blank file.
        super::copy_tree(Path::new("/etc/ufw"), &r.join("etc/ufw"));
        fs::create_dir_all(r.join("etc/default")).unwrap();
        let sysctl = r.join("etc/ufw/clawguard-test-sysctl.conf");
        fs::write(&sysctl, "").unwrap();
        let defaults = fs::read_to_string("/etc/default/ufw").unwrap();
        let defaults: String = defaults
            .lines()
            .map(|l| {
                if l.starts_with("IPT_SYSCTL=") {
                    format!("IPT_SYSCTL={}\n", sysctl.display())
                } else {
                    format!("{l}\n")
                }
            })
            .collect();
        fs::write(r.join("etc/default/ufw"), defaults).unwrap();
        // The tools the plan would otherwise install.
        super::fake_tools(r);
        super::copy_tree(Path::new("/etc/fail2ban"), &r.join("etc/fail2ban"));
    }

    pub fn client_key(&self) -> PathBuf {
        self.work.path().join("client_key")
    }

    /// `ip netns exec NS argv…`
    pub fn exec(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(argv);
        c
    }

    /// The shell prologue that makes the root's files the real ones, in a private mount
    /// namespace inside the VPS namespace.
    fn mounts(&self) -> String {
        let r = self.root.path().display();
        [
            "etc/passwd",
            "etc/shadow",
            "etc/group",
            "etc/ssh",
            "etc/fail2ban",
            "home",
            "root",
            "run",
            "var/log",
            "etc/ufw",
            "etc/default/ufw",
        ]
        .iter()
        .map(|p| format!("mount --bind {r}/{p} /{p} && "))
        .collect()
    }

    /// argv inside the VPS: its network namespace and the root's files.
    pub fn in_vps(&self, argv: &[&str]) -> Command {
        let mut c = self.exec(&["unshare", "--mount", "--propagation", "private", "--", "sh", "-c"]);
        c.arg(format!("{}exec \"$@\"", self.mounts())).arg("vps").args(argv);
        c
    }

    /// Starts a background process that lives as long as this VPS.
    fn spawn(&mut self, mut cmd: Command) {
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        self.children.push(child);
    }

    /// Starts sshd from the root's config, its log stamped like syslog into the root's
    /// /var/log/auth.log (fail2ban's sshd filter needs the stamp).
    pub fn start_sshd(&mut self) {
        let auth_log = self.root.path().join("var/log/auth.log");
        let script = format!(
            "{}exec /usr/sbin/sshd -D -e 2>&1 | while IFS= read -r l; do printf '%(%b %e %H:%M:%S)T vps sshd[4242]: %s\\n' -1 \"$l\"; done >> {}",
            self.mounts(),
            auth_log.display()
        );
        let cmd = self.exec(&["unshare", "--mount", "--propagation", "private", "--", "bash", "-c", &script]);
        self.spawn(cmd);
    }

    /// Starts fail2ban from the root's config, its socket and log under the root's /run.
    pub fn start_fail2ban(&mut self) {
        let r = self.root.path();
        fs::write(
            r.join("etc/fail2ban/fail2ban.local"),
            "[Definition]\nloglevel = INFO\nlogtarget = /run/fail2ban.log\nsocket = /run/fail2ban.sock\npidfile = /run/fail2ban.pid\ndbfile = :memory:\n",
        )
        .unwrap();
        let cmd = self.in_vps(&["fail2ban-client", "-x", "-f", "start"]);
        self.spawn(cmd);
        // From now on a fail2ban that does not answer is a failure, not "not in this test".
        fs::write(self.work.path().join("fail2ban-started"), "").unwrap();
        super::wait("fail2ban to answer", 20, || self.fail2ban(&["ping"]).0);
    }

    pub fn fail2ban(&self, args: &[&str]) -> (bool, String) {
        let mut argv = vec!["fail2ban-client", "-s", "/run/fail2ban.sock"];
        argv.extend_from_slice(args);
        sh(&mut self.in_vps(&argv))
    }

    /// A runner script for `clawguard --runner`: ufw, ss and fail2ban reach the VPS;
    /// `systemctl reload ssh` sends sshd its HUP; apt reads the root's package state.
    /// Commands of layers this test does not
    /// run (the container engine, systemd timers) are logged and succeed.
    pub fn runner(&self) -> PathBuf {
        let path = self.work.path().join("runner.sh");
        let log = self.work.path().join("runner.log");
        let script = format!(
            r#"#!/bin/bash
# clawguard test runner: the target is the namespace {ns} with root {root}
echo "$*" >> {log}
invps() {{ ip netns exec {ns} unshare --mount --propagation private -- sh -c '{mounts}exec "$@"' vps "$@"; }}
case "$1" in
  ufw|ss|sshd) invps "$@" ;;
  systemctl)
    case "$2 $3" in
      "reload ssh") kill -HUP "$(cat {root}/run/sshd.pid)" ;;
      "reload-or-restart fail2ban")
        if [ -S {root}/run/fail2ban.sock ]; then invps fail2ban-client -s /run/fail2ban.sock reload
        else echo "fail2ban is not running in this test VPS" ; fi ;;
      *) echo "no systemd in the test VPS: $*" ;;
    esac ;;
  fail2ban-client)
    if [ -S {root}/run/fail2ban.sock ]; then shift; invps fail2ban-client -s /run/fail2ban.sock "$@"
    elif [ -f {work}/fail2ban-started ]; then echo "fail2ban was started in this VPS and is not running" >&2; exit 1
    else echo "fail2ban is not running in this test VPS" ; fi ;;
  docker|docker-compose) echo "no container engine in this test (tests/sandbox.rs has one): $*" ;;
  apt-get) APT_CONFIG={work}/apt.conf exec "$@" ;;
  *) echo "the test runner does not know: $*" >&2; exit 99 ;;
esac
"#,
            ns = self.ns,
            root = self.root.path().display(),
            log = log.display(),
            mounts = self.mounts(),
            work = self.work.path().display(),
        );
        fs::write(&path, script).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        // apt, on the root's own package state and sources.
        fs::write(self.work.path().join("apt.conf"), self.apt_conf()).unwrap();
        path
    }

    /// An apt configuration whose every path is under the VPS's root.
    pub fn apt_conf(&self) -> String {
        format!("Dir \"{}/\";\nAPT::Architecture \"amd64\";\n", self.root.path().display())
    }

    pub fn auth_log(&self) -> String {
        fs::read_to_string(self.root.path().join("var/log/auth.log")).unwrap_or_default()
    }

    pub fn runner_log(&self) -> String {
        fs::read_to_string(self.work.path().join("runner.log")).unwrap_or_default()
    }

    /// Whether a TCP connection to the VPS on `port` is accepted.
    pub fn port_open(&self, port: u16) -> bool {
        sh(Command::new("nc").args(["-z", "-w", "2", &self.vps_ip, &port.to_string()])).0
    }

    /// `ssh -p PORT user@vps COMMAND` with the client key; (success, output).
    pub fn ssh(&self, user: &str, port: u16, command: &str) -> (bool, String) {
        sh(Command::new("ssh")
            .args(ssh_opts())
            .args(["-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-i", self.client_key().to_str().unwrap()])
            .args(["-p", &port.to_string(), &format!("{user}@{}", self.vps_ip), command]))
    }

    /// A password login attempt (must be refused after apply).
    pub fn ssh_password(&self, user: &str, port: u16, password: &str) -> (bool, String) {
        sh(Command::new("sshpass")
            .args(["-p", password, "ssh"])
            .args(ssh_opts())
            .args(["-o", "PubkeyAuthentication=no", "-o", "PreferredAuthentications=password,keyboard-interactive"])
            .args([
                "-o",
                "NumberOfPasswordPrompts=1",
                "-p",
                &port.to_string(),
                &format!("{user}@{}", self.vps_ip),
                "true",
            ]))
    }
}

pub fn ssh_opts() -> [&'static str; 8] {
    [
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=5",
        "-o",
        "LogLevel=ERROR",
    ]
}

impl Drop for Vps {
    fn drop(&mut self) {
        let pids = |ns: &str| -> Vec<String> {
            let o = Command::new("ip").args(["netns", "pids", ns]).output().ok();
            o.map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(String::from).collect())
                .unwrap_or_default()
        };
        for p in pids(&self.ns) {
            let _ = Command::new("kill").arg(&p).status();
        }
        for _ in 0..30 {
            if pids(&self.ns).is_empty() {
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        for p in pids(&self.ns) {
            let _ = Command::new("kill").args(["-9", &p]).status();
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).stderr(Stdio::null()).status();
    }
}

/// The host's netfilter rules, to prove a test left them alone.
pub fn host_ruleset() -> String {
    let nft = Command::new("nft").args(["list", "ruleset"]).output().map(|o| o.stdout).unwrap_or_default();
    let legacy = Command::new("iptables-legacy").arg("-S").output().map(|o| o.stdout).unwrap_or_default();
    let ipt = Command::new("iptables").arg("-S").output().map(|o| o.stdout).unwrap_or_default();
    format!("{}{}{}", String::from_utf8_lossy(&nft), String::from_utf8_lossy(&legacy), String::from_utf8_lossy(&ipt))
}

pub fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}
