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

/// What every stand-in shares: its call log, and the property lists it keeps the way the
/// Mac keeps them (rewritten whole from the state: XML, which clawguard reads as it reads
/// the binary form macOS writes).
const LIB: &str = r#"S=/private/var/standin
log_call() { echo "$*" >> $S/calls; }
plist_head() { printf '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n<plist version="1.0">\n<dict>\n'; }
plist_tail() { printf '</dict>\n</plist>\n'; }
bools() { while read -r k v; do [ -n "$k" ] && printf '\t<key>%s</key>\n\t<%s/>\n' "$k" "$v"; done < "$1"; }
write_disabled() { { plist_head; bools $S/disabled; plist_tail; } > /var/db/com.apple.xpc.launchd/disabled.plist; }
write_softwareupdate() {
  [ -s $S/softwareupdate ] || [ -f /Library/Preferences/com.apple.SoftwareUpdate.plist ] || return 0
  { plist_head; bools $S/softwareupdate; plist_tail; } > /Library/Preferences/com.apple.SoftwareUpdate.plist
}
write_pmset() {
  f=$(cat $S/pmset.file)
  { plist_head; printf '\t<key>AC Power</key>\n\t<dict>\n\t\t<key>Automatic Restart On Power Loss</key>\n\t\t<integer>%s</integer>\n\t\t<key>System Sleep Timer</key>\n\t\t<integer>%s</integer>\n\t</dict>\n' "$(cat $S/pmset.autorestart)" "$(cat $S/pmset.sleep)"; plist_tail; } > "$f"
}
# A property list's string value for KEY (XML as plutil and the plist crate write it).
plist_string() { sed -n "/<key>$2<\/key>/{n;s:.*<string>\(.*\)</string>.*:\1:p;q}" "$1"; }
"#;

/// launchctl(1). Behaviour from Apple's manual page (`bootstrap`, `bootout`, `enable`,
/// `disable`, `print`, `print-disabled`, `kickstart`) and from what others hit on real
/// Macs: `bootout` returns before launchd has let the label go, and a `bootstrap` in that
/// window fails with "5: Input/output error" (tuist/tuist#10143,
/// DeterminateSystems/nix-installer#1157); `print` of an unknown label exits 113, "Could not
/// find service"; a disabled label cannot be bootstrapped ("119: Service is disabled").
/// launchd opens a job's StandardOutPath/StandardErrorPath before it starts it, and a job
/// whose log cannot be opened exits at once with EX_CONFIG (78), which `print` shows.
const LAUNCHCTL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call launchctl "$@"
L=$S/launchd
now() { date +%s; }
label_of() { plist_string "$1" Label; }
loaded() { [ -f $L/$1.loaded ] || { [ -f $L/$1.freed_at ] && [ $(now) -lt $(cat $L/$1.freed_at) ]; }; }
is_disabled() { grep -qx "$1 true" $S/disabled; }
set_disabled() { grep -v "^$1 " $S/disabled > $S/disabled.new; echo "$1 $2" >> $S/disabled.new; mv $S/disabled.new $S/disabled; write_disabled; }
service() { case "$1" in system/*) echo "${1#system/}" ;; *) echo "launchctl: a service target is system/LABEL, not $1" >&2; exit 64 ;; esac; }
case "$1" in
  bootstrap)
    [ "$2" = system ] || { echo "Bootstrap failed: 125: Domain does not support specified action" >&2; exit 125; }
    [ -f "$3" ] || { echo "Bootstrap failed: 2: No such file or directory" >&2; exit 2; }
    grep -q '<plist' "$3" || { echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; }
    label=$(label_of "$3")
    is_disabled "$label" && { echo "Bootstrap failed: 119: Service is disabled" >&2; exit 119; }
    loaded "$label" && { echo "Bootstrap failed: 5: Input/output error" >&2; exit 5; }
    echo "$3" > $L/$label.loaded; rm -f $L/$label.freed_at $L/$label.exit
    port=$(plist_string "$3" SockServiceName); [ "$port" = ssh ] && port=22
    [ -n "$port" ] && echo "$port" > $L/$label.port
    for key in StandardOutPath StandardErrorPath; do
      log=$(plist_string "$3" $key)
      [ -n "$log" ] && [ ! -d "$(dirname "$log")" ] && echo 78 > $L/$label.exit
    done
    exit 0 ;;
  bootout)
    label=$(service "$2") || exit 64
    [ -f $L/$label.loaded ] || { echo "Boot-out failed: 3: No such process" >&2; exit 3; }
    rm -f $L/$label.loaded $L/$label.port; echo $(( $(now) + 2 )) > $L/$label.freed_at
    exit 0 ;;
  print)
    label=$(service "$2") || exit 64
    loaded "$label" || { echo "Could not find service \"$label\" in domain for system" >&2; exit 113; }
    echo "system/$label = {"
    if [ -f $L/$label.exit ]; then echo "	state = not running"; echo "	last exit code = $(cat $L/$label.exit): EX_CONFIG"; else echo "	state = running"; fi
    echo "}"; exit 0 ;;
  enable) label=$(service "$2") || exit 64; set_disabled "$label" false; exit 0 ;;
  disable) label=$(service "$2") || exit 64; set_disabled "$label" true; exit 0 ;;
  print-disabled)
    echo "disabled services = {"; while read -r k v; do [ "$v" = true ] && s=disabled || s=enabled; echo "	\"$k\" => $s"; done < $S/disabled; echo "}"; exit 0 ;;
  kickstart)
    for a in "$@"; do case "$a" in system/*) label=${a#system/} ;; esac; done
    loaded "$label" || { echo "Could not find service \"$label\" in domain for system" >&2; exit 113; }
    exit 0 ;;
  *) echo "launchctl stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// pfctl(8): `-vnf` parses without loading (the rules are printed), `-E` enables pf (and
/// says so, with the reference token), `-a ANCHOR -f FILE` loads an anchor's rules,
/// `-F all` flushes them, `-s rules`/`-sr` and `-s info` show them, `-T expire` expires a
/// table's entries. The grammar itself is checked by clawguard's own checker in the tests
/// that render pf's rules; this stand-in keeps what is loaded.
const PFCTL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call pfctl "$@"
P=$S/pf
anchor=main; file=; flush=; show=; parse=; table=; texp=
while [ $# -gt 0 ]; do
  case "$1" in
    -E) touch $P/enabled; echo "pf enabled" >&2; echo "Token : 9251" >&2 ;;
    -vnf) parse=1; file=$2; shift ;;
    -a) anchor=$2; shift ;;
    -f) file=$2; shift ;;
    -F) flush=$2; shift ;;
    -s) show=$2; shift ;;
    -sr) show=rules ;;
    -si) show=info ;;
    -t) table=$2; shift ;;
    -T) texp=$2; shift; [ $# -gt 1 ] && shift ;;
    *) echo "pfctl stand-in: '$1' is not in it" >&2; exit 99 ;;
  esac
  shift
done
key=$(echo "$anchor" | tr / _)
if [ -n "$file" ]; then
  [ -f "$file" ] || { echo "pfctl: $file: No such file or directory" >&2; exit 1; }
  if [ -n "$parse" ]; then grep -v '^#' "$file" | grep -v '^$'; exit 0; fi
  cp "$file" $P/$key.rules
fi
[ "$flush" = all ] && { rm -f $P/$key.rules; echo "rules cleared" >&2; echo "0 tables deleted." >&2; }
case "$show" in
  rules) [ -f $P/$key.rules ] && grep -v '^#' $P/$key.rules | grep -v '^$'; exit 0 ;;
  info) [ -f $P/enabled ] && echo "Status: Enabled for 0 days 00:00:12" || echo "Status: Disabled"; exit 0 ;;
esac
[ -n "$table" ] && [ "$texp" = expire ] && echo "0/0 addresses expired." >&2
exit 0
"#;

/// socketfilterfw, the application firewall's tool (`--help`). Its answers as real Macs
/// print them: "Firewall is enabled. (State = 1)" (ParetoSecurity/pareto-mac#139), State 2
/// "Firewall is blocking all non-essential incoming connections." (momenbasel/PureMac#176),
/// `--setstealthmode on` → "Stealth mode enabled" (pareto-mac#139). On macOS 14 it also
/// keeps the state in com.apple.alf.plist; from 15 only in itself (macOS 15 release notes,
/// fleetdm/fleet#21802).
const SOCKETFILTERFW: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call socketfilterfw "$@"
say_state() {
  case $(cat $S/alf.state) in
    0) echo "Firewall is disabled. (State = 0)" ;;
    1) echo "Firewall is enabled. (State = 1)" ;;
    2) echo "Firewall is blocking all non-essential incoming connections. (State = 2)" ;;
  esac
}
say_stealth() { [ "$(cat $S/alf.stealth)" = 1 ] && echo "Stealth mode enabled" || echo "Stealth mode disabled"; }
alf_plist() {
  [ @RELEASE@ = 14 ] || return 0
  sed -i "/<key>$1<\/key>/{n;s:<integer>[0-9]*</integer>:<integer>$2</integer>:}" /Library/Preferences/com.apple.alf.plist
}
case "$1" in
  --getglobalstate) say_state ;;
  --getstealthmode) say_stealth ;;
  --setglobalstate)
    case "$2" in on) echo 1 > $S/alf.state ;; off) echo 0 > $S/alf.state ;; *) echo "usage: --setglobalstate on | off" >&2; exit 1 ;; esac
    alf_plist globalstate $(cat $S/alf.state); say_state ;;
  --setstealthmode)
    case "$2" in on) echo 1 > $S/alf.stealth ;; off) echo 0 > $S/alf.stealth ;; *) echo "usage: --setstealthmode on | off" >&2; exit 1 ;; esac
    alf_plist stealthenabled $(cat $S/alf.stealth); say_stealth ;;
  *) echo "socketfilterfw stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// pmset(1): `-a SETTING VALUE` for every power source; `-g` lists them. The settings are
/// kept in PowerManagement's preferences (what clawguard reads back).
const PMSET: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call pmset "$@"
case "$1" in
  -a) case "$2" in
        sleep|autorestart) echo "$3" > $S/pmset.$2; write_pmset ;;
        *) echo "pmset stand-in: '$2' is not in it" >&2; exit 99 ;;
      esac ;;
  -g) echo "System-wide power settings:"; echo "Currently in use:"; echo " sleep                $(cat $S/pmset.sleep)"; echo " autorestart          $(cat $S/pmset.autorestart)" ;;
  *) echo "pmset stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// defaults(1): `write DOMAIN KEY -bool true|false`, `delete DOMAIN KEY` on
/// com.apple.SoftwareUpdate given as the path of its property list (defaults(1): "a domain
/// may also be specified as a path to an arbitrary plist file").
const DEFAULTS: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call defaults "$@"
case "$2" in
  /Library/Preferences/com.apple.SoftwareUpdate|/Library/Preferences/com.apple.SoftwareUpdate.plist) ;;
  *) echo "defaults stand-in: domain '$2' is not in it" >&2; exit 99 ;;
esac
case "$1" in
  write)
    [ "$4" = -bool ] || { echo "defaults stand-in: only -bool" >&2; exit 99; }
    case "$5" in true|YES|yes|1) v=true ;; false|NO|no|0) v=false ;; *) echo "defaults: bad boolean $5" >&2; exit 1 ;; esac
    grep -v "^$3 " $S/softwareupdate > $S/su.new; echo "$3 $v" >> $S/su.new; mv $S/su.new $S/softwareupdate; write_softwareupdate ;;
  delete)
    grep -q "^$3 " $S/softwareupdate || { echo "Domain (${2}) not found." >&2; echo "Defaults have not been changed." >&2; exit 1; }
    grep -v "^$3 " $S/softwareupdate > $S/su.new; mv $S/su.new $S/softwareupdate; write_softwareupdate ;;
  read) v=$(grep "^$3 " $S/softwareupdate | cut -d' ' -f2); [ -n "$v" ] || exit 1; [ "$v" = true ] && echo 1 || echo 0 ;;
  *) echo "defaults stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// fdesetup(8) `status`: "FileVault is On." or "FileVault is Off.".
const FDESETUP: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call fdesetup "$@"
[ "$1" = status ] || { echo "fdesetup stand-in: '$1' is not in it" >&2; exit 99; }
echo "FileVault is $(cat $S/filevault)."
"#;

/// lsof(8) for the listening TCP sockets: on a Mac launchd holds the socket of an
/// inetd-style job (Apple's Remote Login, clawguard's sshd) from its bootstrap on, so lsof
/// names launchd (PID 1) as the listener. Exits 1 with no output when nothing matches.
const LSOF: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call lsof "$@"
want=
for a in "$@"; do case "$a" in -iTCP:*) want=${a#-iTCP:} ;; esac; done
found=
for f in $S/launchd/*.port; do
  [ -f "$f" ] || continue
  label=$(basename "$f" .port); [ -f $S/launchd/$label.loaded ] || continue
  p=$(cat "$f")
  if [ -z "$want" ] || [ "$want" = "$p" ]; then
    [ -z "$found" ] && echo "COMMAND PID USER   FD   TYPE             DEVICE SIZE/OFF NODE NAME"
    found=1
    echo "launchd   1 root   12u  IPv6 0x5b7e0d2a1c3f9e01      0t0  TCP *:$p (LISTEN)"
    echo "launchd   1 root   13u  IPv4 0x5b7e0d2a1c3f9e02      0t0  TCP *:$p (LISTEN)"
  fi
done
[ -n "$found" ] || exit 1
"#;

/// plutil(1) `-lint FILE…`: "FILE: OK" for each property list that parses.
const PLUTIL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call plutil "$@"
[ "$1" = -lint ] || { echo "plutil stand-in: '$1' is not in it" >&2; exit 99; }
shift; rc=0
for f in "$@"; do
  if head -c 200 "$f" | grep -q '<plist' && grep -q '</plist>' "$f"; then echo "$f: OK"; else echo "$f: Unexpected character at line 1"; rc=1; fi
done
exit $rc
"#;

/// ps(1) as root sees processes on a Mac (no /proc there): `-o FIELD= -p PID` with `ppid`,
/// `ruid`, `ucomm`, and `-E -o command=` (the command, then the environment it started
/// with). A login over SSH (`MacRoot::sudo_over_ssh`) is shown as a Mac shows it: the
/// command's parent is sudo, then alice's zsh that sshd started (its environment has
/// SSH_CONNECTION), then root's `sshd`. Without one, the command's parent is launchd.
const PS: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call ps "$@"
field=; pid=; env=
while [ $# -gt 0 ]; do
  case "$1" in -ww) ;; -E) env=1 ;; -o) field=${2%=}; shift ;; -p) pid=$2; shift ;; *) echo "ps stand-in: '$1' is not in it" >&2; exit 99 ;; esac
  shift
done
[ -n "$pid" ] || exit 1
login=$(cat $S/login 2>/dev/null)
case "$pid" in
  9001) ppid=9002; ruid=0; comm=sudo; cmd="sudo /usr/local/bin/clawguard" ;;
  9002) ppid=9003; ruid=501; comm=zsh; cmd="-zsh"; envs="SSH_CONNECTION=$login USER=alice" ;;
  9003) ppid=1; ruid=0; comm=sshd; cmd="sshd: alice [priv]" ;;
  1) ppid=0; ruid=0; comm=launchd; cmd=/sbin/launchd ;;
  *) [ -n "$login" ] && ppid=9001 || ppid=1; ruid=0; comm=clawguard; cmd="/usr/local/bin/clawguard" ;;
esac
[ -n "$login" ] || case "$pid" in 900[123]) exit 1 ;; esac
case "$field" in
  ppid) echo "$ppid" ;;
  ruid) echo "$ruid" ;;
  ucomm) echo "$comm" ;;
  command) [ -n "$env" ] && echo "$cmd $envs" || echo "$cmd" ;;
  *) echo "ps stand-in: field '$field' is not in it" >&2; exit 99 ;;
esac
"#;

/// install(1) as BSD's (busybox's static build has none): `-d` makes directories, `-m`
/// sets the mode, `-o`/`-g` the owner and group; otherwise copies a file.
const INSTALL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call install "$@"
dir=; mode=; owner=; group=
while [ $# -gt 0 ]; do
  case "$1" in -d) dir=1 ;; -m) mode=$2; shift ;; -o) owner=$2; shift ;; -g) group=$2; shift ;; -c|-p) ;; -*) echo "install stand-in: '$1' is not in it" >&2; exit 99 ;; *) break ;; esac
  shift
done
set_attrs() {
  [ -n "$mode" ] && { chmod "$mode" "$1" || exit 1; }
  [ -n "$owner" ] && { chown "$owner" "$1" || exit 1; }
  [ -n "$group" ] && { chown ":$group" "$1" || exit 1; }
  return 0
}
if [ -n "$dir" ]; then
  for d in "$@"; do mkdir -p "$d" || exit 1; set_attrs "$d"; done
else
  [ $# -eq 2 ] || { echo "usage: install [-m mode] [-o owner] [-g group] file target" >&2; exit 64; }
  cp "$1" "$2" || exit 1; set_attrs "$2"
fi
"#;

/// The Docker CLI and Compose against a runtime's engine: the engine is reached only
/// through DOCKER_HOST's socket, which must be there (docker(1), "DOCKER_HOST: daemon
/// socket to connect to"); without it the CLI's own error. What it keeps: the images
/// pulled and tagged, whether the compose project is up. Each call is logged with the
/// DOCKER_HOST it saw.
const ENGINE: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
tool=$1; shift
log_call "$tool" "$@" "[DOCKER_HOST=$DOCKER_HOST]"
E=$S/engine
sock=${DOCKER_HOST#unix://}
if [ -z "$DOCKER_HOST" ] || [ ! -S "$sock" ]; then
  echo "Cannot connect to the Docker daemon at ${DOCKER_HOST:-unix:///var/run/docker.sock}. Is the docker daemon running?" >&2
  exit 1
fi
if [ "$tool" = docker ] && [ "$1" = compose ]; then shift; tool=docker-compose; fi
if [ "$tool" = docker-compose ]; then
  file=; verb=
  while [ $# -gt 0 ]; do
    case "$1" in -p|--project-name) shift ;; -f|--file) file=$2; shift ;; -*) ;; *) verb=$1; shift; break ;; esac
    shift
  done
  case "$verb" in
    version) echo "Docker Compose version v2.31.0" ;;
    config) [ -f "$file" ] || { echo "open $file: no such file or directory" >&2; exit 1; } ;;
    up) touch $E/up; echo "Container clawguard-agent-1  Started" >&2 ;;
    down) rm -f $E/up ;;
    restart|kill|stop|start|pull) ;;
    exec) [ -f $E/up ] || { echo "service \"agent\" is not running" >&2; exit 1; } ;;
    ps) [ -f $E/up ] && echo "3f2a9c1d8b7e" ;;
    *) echo "compose stand-in: '$verb' is not in it" >&2; exit 99 ;;
  esac
  exit 0
fi
case "$1" in
  info)
    case "$3" in
      *ServerVersion*) echo "27.4.0" ;;
      *CPUCfsQuota*) echo "true true true" ;;
      *) echo "Server Version: 27.4.0" ;;
    esac ;;
  version) echo "Docker version 27.4.0, build bde2b89" ;;
  pull) shift; [ "$1" = -q ] && shift; echo "$1" >> $E/images; echo "$1" ;;
  tag) echo "$3" >> $E/images ;;
  image)
    [ "$2" = inspect ] || { echo "docker stand-in: image $2 is not in it" >&2; exit 99; }
    img=$(eval echo \${$#})
    grep -qxF "$img" $E/images 2>/dev/null || { echo "Error response from daemon: No such image: $img" >&2; exit 1; }
    echo "sha256:5d0da3dc976460b72c77d94c8a1ad043720b0416bfc16c52c45d4847e53fadb6" ;;
  ps) [ -f $E/up ] && echo "3f2a9c1d8b7e" ;;
  inspect) echo "[]" ;;
  run)
    # colima's VM sees only what it mounts: its user's home and /tmp/colima by default
    # (colima's FAQ); a bind mount of anything else is an empty directory inside.
    prev=
    for a in "$@"; do
      if [ "$prev" = -v ]; then
        src=${a%%:*}
        case "$src" in /Users/alice/*|/tmp/colima/*) ;; *) echo "FATAL: $src is not shared with colima's VM: the container sees an empty directory" >&2; exit 1 ;; esac
      fi
      prev=$a
    done
    case "$*" in
      *"--entrypoint squid"*"-f /dev/stdin"*) while read -r line; do echo "Processing: $line"; done ;;
      *) echo "docker stand-in: run $* is not in it" >&2; exit 99 ;;
    esac ;;
  *) echo "docker stand-in: '$1' is not in it" >&2; exit 99 ;;
esac
"#;

/// sysctl(8) `-n kern.boottime`: `{ sec = N, usec = 0 } DATE` — when this Mac booted.
const SYSCTL: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call sysctl "$@"
[ "$1 $2" = "-n kern.boottime" ] || { echo "sysctl stand-in: '$*' is not in it" >&2; exit 99; }
echo "{ sec = $(cat $S/boottime), usec = 0 } Mon Dec  7 10:30:00 2026"
"#;

/// colima after a hard power-off, as abiosoft/colima#381 shows it: while the Lima
/// instance's `ha.sock` from before is there, `colima start` fails ("errors inspecting
/// instance … ha.sock: connect: connection refused"); without it, it starts.
pub const COLIMA: &str = r#"#!/bin/sh
. /usr/libexec/standin/lib.sh
log_call colima "$@" "[HOME=$HOME uid=$(id -u)]"
if [ -e "$HOME/.colima/_lima/colima/ha.sock" ]; then
  echo "FATA[0000] errors inspecting instance: [failed to get Info from \"$HOME/.colima/_lima/colima/ha.sock\": dial unix: connect: connection refused]" >&2
  exit 1
fi
echo "INFO[0000] starting colima"
"#;
