//! A Mac-shaped root that the real clawguard binary runs in as root, entered with chroot:
//! the fixture's layout (`/etc`, `/var`, `/tmp` as links into `/private`, the local
//! accounts in dslocal, launchd's disabled list), **no /proc**, and Apple's tools as
//! stand-ins at Apple's paths. Each stand-in's behaviour is taken from Apple's manual page
//! or a cited public report, and says so in its header; each logs its calls, and keeps its
//! state under `/private/var/standin` (read by the tests from outside).
//!
//! What is not a Mac, and why it does not matter for what is tested here: the binary is
//! the Linux build, so its loader and libraries are copied to `/lib*` (a Mac has none);
//! the shell and the small commands (`cat`, `sed`, `date`…) are busybox's, as Apple's are
//! BSD's; `sshd` is this machine's OpenSSH with its libraries (Apple ships OpenSSH too),
//! which needs Debian's privilege-separation directory `/run/sshd` and its user by
//! Debian's name (`sshd`, added to /etc/passwd with `_sshd`'s uid). `/dev` holds `null`,
//! `zero`, `urandom` and `tty` made with mknod. The root runs in a network namespace of its own
//! (`unshare --net`): nothing it does reaches a network.
//!
//! What a real Mac would still find: launchd actually starting jobs, pf actually filtering,
//! Apple's sshd with its PAM. Those are in `.github/workflows/macos.yml`.

use super::standins::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The macOS release the root says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Release {
    /// macOS 14: the application firewall's state is in `com.apple.alf.plist`.
    Sonoma,
    /// macOS 15: it is not (macOS 15 release notes, "Application Firewall settings are no
    /// longer contained in a property list"; fleetdm/fleet#21802): only `socketfilterfw`.
    Sequoia,
    /// macOS 26: as 15, and FileVault can be unlocked over SSH before login only while
    /// Remote Login is on (`apple_ssh_and_filevault(7)`).
    Tahoe,
}

impl Release {
    fn version(self) -> (&'static str, &'static str) {
        match self {
            Release::Sonoma => ("14.6.1", "23G93"),
            Release::Sequoia => ("15.1", "24B83"),
            Release::Tahoe => ("26.1", "25B78"),
        }
    }
}

/// Where the stand-ins keep their state (a Mac path).
pub const STATE: &str = "/private/var/standin";

pub struct MacRoot {
    dir: tempfile::TempDir,
    pub release: Release,
}

/// How the test starts the state the Mac is in.
#[derive(Debug, Clone)]
pub struct Start {
    /// `socketfilterfw`'s global state (0 off, 1 on, 2 essential only) and stealth mode.
    pub alf: (u8, bool),
    pub filevault: bool,
}

impl Default for Start {
    fn default() -> Self {
        Start { alf: (0, false), filevault: true }
    }
}

impl MacRoot {
    /// A copy of fixture `name` (`macos-fresh`, `macos-remote-login`) as `release`, with the
    /// binary, the stand-ins and what the chroot needs.
    pub fn new(name: &str, release: Release, start: Start) -> MacRoot {
        let dir = tempfile::Builder::new().prefix(&format!("clawguard-chroot-{name}-")).tempdir().unwrap();
        let root = dir.path();
        super::copy_tree(&super::fixtures().join(name), root);
        let chown = |p: &str, uid: u32, gid: u32| {
            let out = Command::new("chown").args(["-R", &format!("{uid}:{gid}")]).arg(root.join(p)).output().unwrap();
            assert!(out.status.success(), "chown {p}: {}", String::from_utf8_lossy(&out.stderr));
        };
        chown("Users/alice", 501, 20);
        chown("opt/homebrew", 501, 80);
        let mode = |p: &str, m: u32| fs::set_permissions(root.join(p), fs::Permissions::from_mode(m)).unwrap();
        mode("Users/alice", 0o750);
        mode("Users/alice/.ssh", 0o700);
        mode("Users/alice/.ssh/authorized_keys", 0o600);
        mode("private/var/db/dslocal", 0o700);
        fs::create_dir_all(root.join("private/tmp")).unwrap();
        mode("private/tmp", 0o1777);
        let mac = MacRoot { dir, release };
        mac.set_release(release);
        mac.install_runtime();
        mac.install_stand_ins(&start);
        mac
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The path outside of Mac path `p` (`/etc/…` is `/private/etc/…`, as on a Mac).
    pub fn path(&self, p: &str) -> PathBuf {
        let p = p.trim_start_matches('/');
        let p = ["etc", "var", "tmp"]
            .iter()
            .find_map(|top| (p == *top || p.starts_with(&format!("{top}/"))).then(|| format!("private/{p}")))
            .unwrap_or_else(|| p.to_owned());
        self.dir.path().join(p)
    }

    pub fn read(&self, p: &str) -> String {
        fs::read_to_string(self.path(p)).unwrap_or_default()
    }

    /// What the stand-ins were asked, one call per line (`tool args…`).
    pub fn calls(&self) -> String {
        self.read(&format!("{STATE}/calls"))
    }

    /// Forgets the calls so far (the next step's are then its own).
    pub fn clear_calls(&self) {
        fs::write(self.path(&format!("{STATE}/calls")), "").unwrap();
    }

    /// One stand-in's state value (`launchd/LABEL.loaded`, `alf.state`, …), trimmed.
    pub fn state(&self, name: &str) -> Option<String> {
        fs::read_to_string(self.path(&format!("{STATE}/{name}"))).ok().map(|s| s.trim().to_owned())
    }

    /// Whether launchd has `label` loaded (as `launchctl print` would find it).
    pub fn loaded(&self, label: &str) -> bool {
        self.path(&format!("{STATE}/launchd/{label}.loaded")).exists()
    }

    /// `sudo clawguard ARGS` typed in Terminal by alice: sudo's reset environment (macOS's
    /// sudoers keeps no SSH_* variable), and the PATH her login shell has (`path_helper`
    /// puts /usr/local/bin in; Homebrew's shellenv adds its own).
    pub fn sudo(&self, args: &[&str]) -> Output {
        self.run(
            "/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
            "/usr/local/bin/clawguard",
            args,
        )
    }

    /// `ssh alice@mac sudo /usr/local/bin/clawguard ARGS` from `from`, arriving on `port`: sshd
    /// runs a command with its own PATH, which has no /usr/local/bin (sshd(8), "PATH: set to
    /// the default PATH, as specified when compiling ssh": /usr/bin:/bin:/usr/sbin:/sbin on
    /// macOS). The `ps` stand-in then shows the login above this process, as ps(1) shows it
    /// to root (`-E`: the environment the login started with).
    pub fn sudo_over_ssh(&self, from: &str, port: u16, args: &[&str]) -> Output {
        fs::write(self.path(&format!("{STATE}/login")), format!("{from} 50022 192.168.64.2 {port}\n")).unwrap();
        let o = self.run("/usr/bin:/bin:/usr/sbin:/sbin", "/usr/local/bin/clawguard", args);
        let _ = fs::remove_file(self.path(&format!("{STATE}/login")));
        o
    }

    /// A command as the user `uid:gid` with `home` as HOME, as launchd starts a daemon
    /// with `UserName` (and the HOME clawguard's property list sets).
    pub fn run_as(&self, uid: u32, gid: u32, home: &str, program: &str, args: &[&str]) -> Output {
        Command::new("unshare")
            .args(["--net", "chroot", &format!("--userspec={uid}:{gid}")])
            .arg(self.dir.path())
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", clawguard::layers::launchd::PATH)
            .env("HOME", home)
            .output()
            .expect("unshare and chroot run the root")
    }

    /// A command as root in the root with `path` as PATH (what `sudo` leaves).
    pub fn run(&self, path: &str, program: &str, args: &[&str]) -> Output {
        Command::new("unshare")
            .args(["--net", "chroot"])
            .arg(self.dir.path())
            .arg(program)
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", "/var/root")
            .env("USER", "root")
            .env("LOGNAME", "root")
            .env("SHELL", "/bin/zsh")
            .env("SUDO_USER", "alice")
            .env("SUDO_UID", "501")
            .env("SUDO_GID", "20")
            .env("TERM", "dumb")
            .env("NO_COLOR", "1")
            .output()
            .expect("unshare and chroot (util-linux, coreutils) run the root")
    }

    fn set_release(&self, release: Release) {
        let file = self.path("/System/Library/CoreServices/SystemVersion.plist");
        let mut v = plist::Value::from_file(&file).unwrap();
        let d = v.as_dictionary_mut().unwrap();
        let (version, build) = release.version();
        d.insert("ProductVersion".into(), version.into());
        d.insert("ProductBuildVersion".into(), build.into());
        v.to_file_xml(&file).unwrap();
        if release != Release::Sonoma {
            let _ = fs::remove_file(self.path("/Library/Preferences/com.apple.alf.plist"));
        }
    }

    /// The binary, its loader and libraries, busybox for the shell and small commands,
    /// this machine's sshd, /dev's nodes.
    fn install_runtime(&self) {
        let bin = self.path("/usr/local/bin/clawguard");
        fs::create_dir_all(bin.parent().unwrap()).unwrap();
        fs::copy(super::bin(), &bin).unwrap();
        // Apple ships OpenSSH at these paths.
        for (tool, at) in [("sshd", "/usr/sbin/sshd"), ("ssh-keygen", "/usr/bin/ssh-keygen")] {
            let to = self.path(at);
            fs::create_dir_all(to.parent().unwrap()).unwrap();
            fs::copy(which(tool), &to).unwrap_or_else(|e| panic!("this machine's {tool} (openssh-server): {e}"));
        }
        for exe in
            [super::bin().to_owned(), which("sshd").display().to_string(), which("ssh-keygen").display().to_string()]
        {
            for lib in libraries(Path::new(&exe)) {
                let to = self.dir.path().join(lib.strip_prefix("/").unwrap());
                fs::create_dir_all(to.parent().unwrap()).unwrap();
                if !to.exists() {
                    fs::copy(&lib, &to).unwrap_or_else(|e| panic!("{}: {e}", lib.display()));
                }
            }
        }
        let busybox = Path::new("/usr/bin/busybox");
        assert!(
            busybox.exists(),
            "busybox-static is needed for the Mac-shaped root's shell (scripts/test installs it)"
        );
        let bb = self.path("/usr/libexec/standin/busybox");
        fs::create_dir_all(bb.parent().unwrap()).unwrap();
        fs::copy(busybox, &bb).unwrap();
        // Apple's own /bin and /usr/bin have these (BSD's); `ps` is a stand-in below.
        for (dir, names) in [
            (
                "/bin",
                &[
                    "sh", "cat", "date", "sleep", "rm", "mkdir", "chmod", "ln", "ls", "cp", "mv", "echo", "test",
                    "kill", "zsh",
                ][..],
            ),
            (
                "/usr/bin",
                &[
                    "env", "sed", "grep", "head", "tail", "tr", "cut", "awk", "id", "touch", "wc", "sort", "basename",
                    "dirname", "mktemp", "printf", "expr", "stat", "true", "false",
                ][..],
            ),
            ("/usr/sbin", &["chown"][..]),
        ] {
            fs::create_dir_all(self.path(dir)).unwrap();
            for n in names {
                let link = self.path(&format!("{dir}/{n}"));
                let _ = fs::remove_file(&link);
                std::os::unix::fs::symlink("/usr/libexec/standin/busybox", &link).unwrap();
            }
        }
        fs::create_dir_all(self.path("/dev")).unwrap();
        for (name, major, minor) in [("null", 1, 3), ("zero", 1, 5), ("urandom", 1, 9), ("tty", 5, 0)] {
            let out = Command::new("mknod")
                .args(["-m", "666"])
                .arg(self.path(&format!("/dev/{name}")))
                .args(["c", &major.to_string(), &minor.to_string()])
                .output()
                .unwrap();
            assert!(out.status.success(), "mknod /dev/{name}: {}", String::from_utf8_lossy(&out.stderr));
        }
        fs::create_dir_all(self.dir.path().join("run/sshd")).unwrap();
        // Debian's build names its privilege-separation user `sshd`; Apple's is `_sshd`
        // (uid 75), which macOS's /etc/passwd lists: the same account by the name this sshd asks.
        let mut passwd = fs::read_to_string(self.path("/etc/passwd")).unwrap();
        passwd.push_str("sshd:*:75:75:sshd Privilege separation:/var/empty:/usr/bin/false\n");
        fs::write(self.path("/etc/passwd"), passwd).unwrap();
        fs::create_dir_all(self.path("/var/empty")).unwrap();
        fs::create_dir_all(self.path("/var/root")).unwrap();
        fs::create_dir_all(self.path("/var/log")).unwrap();
        // Host keys, as a Mac has them once Remote Login has been on (sshd-keygen-wrapper).
        if !self.path("/etc/ssh/ssh_host_ed25519_key").exists() {
            let out = Command::new("ssh-keygen")
                .args(["-q", "-t", "ed25519", "-N", "", "-f"])
                .arg(self.path("/etc/ssh/ssh_host_ed25519_key"))
                .output()
                .unwrap();
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        }
        fs::set_permissions(self.path("/etc/ssh/ssh_host_ed25519_key"), fs::Permissions::from_mode(0o600)).unwrap();
    }

    fn install_stand_ins(&self, start: &Start) {
        let state = self.path(STATE);
        fs::create_dir_all(state.join("launchd")).unwrap();
        fs::create_dir_all(state.join("pf")).unwrap();
        fs::write(state.join("calls"), "").unwrap();
        // launchd's disabled list, as `launchctl enable/disable` keep it (XML: the stand-in
        // rewrites it; macOS writes it binary, which clawguard reads as well).
        let disabled = plist::Value::from_file(self.path(crate_paths::DISABLED)).unwrap();
        let mut lines = String::new();
        for (k, v) in disabled.as_dictionary().unwrap() {
            lines.push_str(&format!("{k} {}\n", v.as_boolean().unwrap()));
        }
        fs::write(state.join("disabled"), &lines).unwrap();
        // Remote Login on: launchd holds port 22 for Apple's sshd.
        if lines.lines().any(|l| l == "com.openssh.sshd false") {
            fs::write(state.join("launchd/com.openssh.sshd.loaded"), "/System/Library/LaunchDaemons/ssh.plist\n")
                .unwrap();
            fs::write(state.join("launchd/com.openssh.sshd.port"), "22\n").unwrap();
        }
        // The application firewall: in com.apple.alf.plist on 14, socketfilterfw's alone after.
        let (alf, stealth) = match plist::Value::from_file(self.path(crate_paths::ALF)) {
            Ok(v) => {
                let d = v.as_dictionary().unwrap();
                let get = |k: &str| d.get(k).and_then(plist::Value::as_signed_integer).unwrap_or(0);
                v.to_file_xml(self.path(crate_paths::ALF)).unwrap();
                (get("globalstate") as u8, get("stealthenabled") == 1)
            }
            Err(_) => start.alf,
        };
        fs::write(state.join("alf.state"), format!("{alf}\n")).unwrap();
        fs::write(state.join("alf.stealth"), format!("{}\n", u8::from(stealth))).unwrap();
        fs::write(state.join("filevault"), if start.filevault { "On\n" } else { "Off\n" }).unwrap();
        // This Mac booted ten minutes ago.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        fs::write(state.join("boottime"), format!("{}\n", now - 600)).unwrap();
        // pmset's settings on AC power, where PowerManagement keeps them.
        let pm_dir = self.path("/Library/Preferences");
        fs::create_dir_all(&pm_dir).unwrap();
        let pm = fs::read_dir(&pm_dir)
            .unwrap()
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .find(|n| n.starts_with("com.apple.PowerManagement"));
        let (sleep, restart) = pm
            .as_ref()
            .and_then(|n| plist::Value::from_file(pm_dir.join(n)).ok())
            .and_then(|v| v.as_dictionary()?.get("AC Power")?.as_dictionary().cloned())
            .map(|ac| {
                let get = |k: &str| ac.get(k).and_then(plist::Value::as_signed_integer).unwrap_or(0);
                (get("System Sleep Timer"), get("Automatic Restart On Power Loss"))
            })
            .unwrap_or((1, 0));
        fs::write(
            state.join("pmset.file"),
            format!("/Library/Preferences/{}\n", pm.unwrap_or("com.apple.PowerManagement.plist".into())),
        )
        .unwrap();
        fs::write(state.join("pmset.sleep"), format!("{sleep}\n")).unwrap();
        fs::write(state.join("pmset.autorestart"), format!("{restart}\n")).unwrap();
        // SoftwareUpdate's booleans, as `defaults` keeps them.
        let su = plist::Value::from_file(self.path(crate_paths::SOFTWARE_UPDATE)).ok();
        let mut su_lines = String::new();
        if let Some(d) = su.as_ref().and_then(plist::Value::as_dictionary) {
            for (k, v) in d {
                if let Some(b) = v.as_boolean() {
                    su_lines.push_str(&format!("{k} {b}\n"));
                }
            }
        }
        fs::write(state.join("softwareupdate"), su_lines).unwrap();

        let lib = self.path("/usr/libexec/standin/lib.sh");
        fs::write(&lib, LIB).unwrap();
        for (path, script) in [
            ("/bin/launchctl", LAUNCHCTL),
            ("/sbin/pfctl", PFCTL),
            ("/usr/libexec/ApplicationFirewall/socketfilterfw", SOCKETFILTERFW),
            ("/usr/bin/pmset", PMSET),
            ("/usr/bin/defaults", DEFAULTS),
            ("/usr/bin/fdesetup", FDESETUP),
            ("/usr/sbin/lsof", LSOF),
            ("/usr/bin/plutil", PLUTIL),
            ("/bin/ps", PS),
            ("/usr/bin/install", INSTALL),
            ("/usr/sbin/sysctl", SYSCTL),
            ("/usr/libexec/standin/engine", ENGINE),
        ] {
            let p = self.path(path);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            let text = script.replace(
                "@RELEASE@",
                match self.release {
                    Release::Sonoma => "14",
                    Release::Sequoia => "15",
                    Release::Tahoe => "26",
                },
            );
            fs::write(&p, text).unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        // The plists the stand-ins rewrite start as what they hold now.
        let out = self.run(
            "/usr/bin:/bin:/usr/sbin:/sbin",
            "/bin/sh",
            &["-c", ". /usr/libexec/standin/lib.sh && write_disabled && write_pmset && write_softwareupdate"],
        );
        assert!(out.status.success(), "the stand-ins' first state: {}", String::from_utf8_lossy(&out.stderr));
        self.clear_calls();
        // Stand-ins run as users too (colima's daemon runs as its user): all may log.
        fs::set_permissions(self.path(&format!("{STATE}/calls")), fs::Permissions::from_mode(0o666)).unwrap();
    }

    /// colima started by `user` (uid, home): its engine's socket in the home, where colima's
    /// FAQ says it is (`~/.colima/default/docker.sock`; no /var/run/docker.sock), and
    /// Homebrew's `docker` and `docker-compose` as stand-ins that reach the engine only
    /// through that socket — as the Docker CLI does, which otherwise says "Cannot connect to
    /// the Docker daemon at unix:///var/run/docker.sock".
    pub fn start_colima(&self, uid: u32, home: &str) {
        let dir = self.path(&format!("{home}/.colima/default"));
        fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("docker.sock");
        let _ = fs::remove_file(&sock);
        drop(std::os::unix::net::UnixListener::bind(&sock).unwrap());
        for p in [self.path(&format!("{home}/.colima")), dir.clone(), sock.clone()] {
            std::os::unix::fs::lchown(&p, Some(uid), Some(20)).unwrap();
        }
        for tool in ["docker", "docker-compose"] {
            let p = self.path(&format!("/opt/homebrew/bin/{tool}"));
            let _ = fs::remove_file(&p);
            fs::write(
                &p,
                format!(
                    "#!/bin/sh
exec /usr/libexec/standin/engine {tool} \"$@\"\n"
                ),
            )
            .unwrap();
            fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
        }
        fs::create_dir_all(self.path(&format!("{STATE}/engine"))).unwrap();
    }

    /// Processes still running in the root (the detached watchdog), ended.
    fn end_processes(&self) {
        let Ok(procs) = fs::read_dir("/proc") else { return };
        for p in procs.flatten() {
            let Ok(pid) = p.file_name().to_string_lossy().parse::<i32>() else { continue };
            if fs::read_link(p.path().join("root")).is_ok_and(|r| r == self.dir.path()) {
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
    }
}

impl Drop for MacRoot {
    fn drop(&mut self) {
        self.end_processes();
    }
}

mod crate_paths {
    pub const DISABLED: &str = clawguard::host::platform::LAUNCHD_DISABLED;
    pub const ALF: &str = clawguard::host::platform::ALF;
    pub const SOFTWARE_UPDATE: &str = clawguard::host::platform::SOFTWARE_UPDATE;
}

fn which(name: &str) -> PathBuf {
    for dir in ["/usr/sbin", "/usr/bin", "/sbin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("{name} is not on this machine (scripts/test installs it)")
}

/// The loader and the shared libraries `exe` needs (`ldd`).
fn libraries(exe: &Path) -> Vec<PathBuf> {
    let out = Command::new("ldd").arg(exe).output().expect("ldd (libc-bin)");
    assert!(out.status.success(), "ldd {}: {}", exe.display(), String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let l = l.trim();
            let path = match l.split_once("=>") {
                Some((_, right)) => right.split_whitespace().next()?,
                None => l.split_whitespace().next()?,
            };
            path.starts_with('/').then(|| PathBuf::from(path))
        })
        .collect()
}
