//! Which operating system the target runs — Linux (Debian, Ubuntu) or macOS — and the
//! facts only a Mac has. Read through the root like every other fact: on a live Mac,
//! `System/Library/CoreServices/SystemVersion.plist` is the very file `sw_vers` prints,
//! and the state `launchctl print-disabled system`, `socketfilterfw` and `pmset -g` show
//! is kept in the property lists read here, so a fixture root or a mounted disk is probed
//! the same way as the live host.
//!
//! What cannot be read is an `Err` with the reason, never a default: Remote Login's state
//! decides whether moving SSH can lock its user out.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;

use plist::Value;

use super::users::Entry;
use crate::target::{Kind, Root};

/// Where macOS says what it is (what `sw_vers` reads).
pub const SYSTEM_VERSION: &str = "/System/Library/CoreServices/SystemVersion.plist";
/// launchd's record of which system services are disabled (`launchctl disable`).
pub const LAUNCHD_DISABLED: &str = "/var/db/com.apple.xpc.launchd/disabled.plist";
/// Apple's sshd job (Remote Login): launchd listens on port 22 and starts `sshd -i`.
pub const APPLE_SSHD_LABEL: &str = "com.openssh.sshd";
pub const APPLE_SSHD_PLIST: &str = "/System/Library/LaunchDaemons/ssh.plist";
/// The application firewall's settings.
pub const ALF: &str = "/Library/Preferences/com.apple.alf.plist";
/// The application firewall's own tool. From macOS 15 its state is no longer in [`ALF`]
/// (macOS 15 release notes; fleetdm/fleet#21802): on the running Mac it is asked.
pub const SOCKETFILTERFW: &str = "/usr/libexec/ApplicationFirewall/socketfilterfw";
pub const SOFTWARE_UPDATE: &str = "/Library/Preferences/com.apple.SoftwareUpdate.plist";
pub const PF_CONF: &str = "/etc/pf.conf";
/// The label of clawguard's LaunchDaemon for sshd on the new port (Remote Login keeps
/// Apple's, [`APPLE_SSHD_LABEL`]).
pub const SSHD_LABEL: &str = "com.clawguard.sshd";
/// The LaunchDaemons of the system's administrator (clawguard's go here).
pub const LAUNCH_DAEMONS: &str = "/Library/LaunchDaemons";

/// The operating system of the target.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum Platform {
    /// Linux: what `/etc/os-release` says is in `Facts::os`.
    #[default]
    Linux,
    MacOs(Box<MacFacts>),
}

impl Platform {
    pub fn kind(&self) -> Kind {
        match self {
            Platform::Linux => Kind::Linux,
            Platform::MacOs(_) => Kind::MacOs,
        }
    }

    pub fn mac(&self) -> Option<&MacFacts> {
        match self {
            Platform::MacOs(m) => Some(m),
            Platform::Linux => None,
        }
    }
}

impl MacFacts {
    /// The major release (`26` of `26.1`); 0 when the version cannot be read.
    pub fn major(&self) -> u32 {
        self.version.split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0)
    }

    /// Remote Login stays on when SSH moves: from macOS 26, with FileVault on, it is what
    /// lets FileVault be unlocked over SSH before login (`apple_ssh_and_filevault(7)`:
    /// only while Remote Login is on) — after a power cut, the only remote way back.
    /// FileVault's state unknown counts as on: a way back is not taken on a guess.
    pub fn keeps_remote_login(&self) -> bool {
        self.major() >= 26 && self.filevault != Some(false)
    }

    /// What differs on this Mac from the Linux servers clawguard was first made for, in a
    /// few lines (the wizard's Welcome says them).
    pub fn differences(&self) -> Vec<String> {
        let remote = match &self.remote_login {
            Ok(true) => "Remote Login is on (port 22)".to_owned(),
            Ok(false) => "Remote Login is off".to_owned(),
            Err(e) => format!("Remote Login's state cannot be read ({e})"),
        };
        vec![
            format!("SSH: launchd owns sshd's port; {remote}. clawguard's own LaunchDaemon opens the new port, and port 22 closes once you confirm."),
            "Firewall: pf, in clawguard's own anchor, loaded by its LaunchDaemon (an OS update that resets /etc/pf.conf keeps it); pf's connection limit does fail2ban's job; the application firewall in stealth mode.".to_owned(),
            "Schedules: LaunchDaemons (the daily check, backups, the keys at boot); the Mac is kept awake and restarts after a power cut.".to_owned(),
            match self.docker {
                Some(rt) => format!("Containers: {} (a Linux VM) runs the agent's compose project.", rt.name()),
                None => "Containers: no runtime found — OrbStack, Docker Desktop or colima is needed.".to_owned(),
            },
            match &self.homebrew {
                Some(h) => format!("Tools: from Homebrew ({}), installed as its owner.", h.prefix),
                None => "Tools: no Homebrew found — restic for backups comes from it.".to_owned(),
            },
        ]
    }
}

/// What a Mac's configuration says, as far as the layers need it.
#[derive(Debug, Clone, PartialEq)]
pub struct MacFacts {
    /// `ProductVersion` (`14.6.1`).
    pub version: String,
    /// `ProductBuildVersion`.
    pub build: String,
    /// Remote Login (Apple's sshd on port 22) is on: launchd's disabled list says
    /// `com.openssh.sshd` is not disabled. Off when the list does not name it (a fresh Mac).
    pub remote_login: Result<bool, String>,
    /// The port of clawguard's own sshd LaunchDaemon, when it is installed.
    pub own_sshd_port: Option<u16>,
    /// The application firewall: `globalstate` (0 off, 1 on, 2 essential services only)
    /// and stealth mode; None when the preferences do not say (the defaults: off).
    pub alf_state: Option<i64>,
    pub alf_stealth: Option<bool>,
    /// /etc/pf.conf evaluates `anchor "com.apple/*"` (macOS's own pf.conf does, and an
    /// OS update puts it back): clawguard's rules load as `com.apple/clawguard`.
    pub pf_apple_anchor: Result<bool, String>,
    /// `pmset`'s settings on AC power, from PowerManagement's preferences.
    pub sleep_minutes: Option<i64>,
    pub autorestart: Option<bool>,
    /// The automatic update settings clawguard turns on, as the preferences hold them
    /// (None: not set, which is macOS's own default).
    pub updates: BTreeMap<String, Option<bool>>,
    pub homebrew: Option<Homebrew>,
    pub docker: Option<DockerRuntime>,
    /// The local accounts could not be read (they are root's: `sudo` reads them).
    pub accounts_unreadable: Option<String>,
    /// FileVault is on: asked on the live Mac (`fdesetup status`); None for another root
    /// or when it cannot be asked.
    pub filevault: Option<bool>,
    /// Where the engine listens: the default socket, the runtime's socket in its user's
    /// home ([`engine_socket`]), or None when neither is there (the runtime is not running).
    pub engine_socket: Option<String>,
    /// The local user the runtime runs as ([`runtime_user`]).
    pub runtime_user: Option<RuntimeUser>,
}

/// The user a Mac's container runtime runs as: its VM reads the files it shares with that
/// user's rights, whoever the container's process is inside.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeUser {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
}

impl Default for MacFacts {
    /// A fresh Mac: Remote Login off, macOS's own pf.conf.
    fn default() -> Self {
        MacFacts {
            version: String::new(),
            build: String::new(),
            remote_login: Ok(false),
            own_sshd_port: None,
            alf_state: None,
            alf_stealth: None,
            pf_apple_anchor: Ok(true),
            sleep_minutes: None,
            autorestart: None,
            updates: BTreeMap::new(),
            homebrew: None,
            docker: None,
            accounts_unreadable: None,
            filevault: None,
            engine_socket: None,
            runtime_user: None,
        }
    }
}

/// Homebrew, which refuses to run as root: clawguard installs with it as its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Homebrew {
    /// `/opt/homebrew` (Apple silicon) or `/usr/local` (Intel).
    pub prefix: String,
    pub owner_uid: u32,
    /// The owner's name and home, when the local accounts could be read.
    pub owner: Option<String>,
    pub home: Option<String>,
}

impl Homebrew {
    pub fn brew(&self) -> String {
        format!("{}/bin/brew", self.prefix)
    }
}

/// The container runtime a Mac runs Docker in (always a Linux VM).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DockerRuntime {
    DockerDesktop,
    OrbStack,
    Colima,
}

impl DockerRuntime {
    pub fn name(self) -> &'static str {
        match self {
            DockerRuntime::DockerDesktop => "Docker Desktop",
            DockerRuntime::OrbStack => "OrbStack",
            DockerRuntime::Colima => "colima",
        }
    }

    /// The engine's socket under the home of the user who runs the runtime, as each
    /// documents it: colima's FAQ (`~/.colima/default/docker.sock`, and no
    /// /var/run/docker.sock), OrbStack's (`~/.orbstack/run/docker.sock`), Docker Desktop's
    /// (`~/.docker/run/docker.sock`; /var/run/docker.sock only when its privileged helper
    /// is allowed to make the link).
    pub fn user_socket(self) -> &'static str {
        match self {
            DockerRuntime::DockerDesktop => ".docker/run/docker.sock",
            DockerRuntime::OrbStack => ".orbstack/run/docker.sock",
            DockerRuntime::Colima => ".colima/default/docker.sock",
        }
    }
}

/// Where `docker` looks when DOCKER_HOST is not set.
pub const DEFAULT_DOCKER_SOCKET: &str = "/var/run/docker.sock";

/// The engine's socket root's `docker` must be pointed at on this Mac (DOCKER_HOST), when
/// the default one is not there: the runtime's socket in the home of a local user, taken
/// only when it is a socket owned by that user (not a link: the home is the user's to
/// arrange). Homebrew's owner first (colima is theirs), then by uid. None when the
/// default socket is there, or when no runtime runs.
pub fn engine_socket(root: &Root, mac: &MacFacts, users: &[Entry]) -> Option<String> {
    let rt = mac.docker?;
    if default_socket_here(root) {
        return None;
    }
    let mut users: Vec<&Entry> = users.iter().filter(|e| e.uid >= 500 && e.home.starts_with("/Users/")).collect();
    let brew = mac.homebrew.as_ref().map(|h| h.owner_uid);
    users.sort_by_key(|e| (Some(e.uid) != brew, e.uid));
    users.iter().find_map(|e| {
        let path = format!("{}/{}", e.home.trim_end_matches('/'), rt.user_socket());
        let m = std::fs::symlink_metadata(root.path(&path)).ok()?;
        (std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()) && m.uid() == e.uid).then_some(path)
    })
}

/// /var/run/docker.sock is a socket (or leads to one: the runtimes' helpers make it a link).
fn default_socket_here(root: &Root) -> bool {
    std::fs::metadata(root.path(DEFAULT_DOCKER_SOCKET))
        .is_ok_and(|m| std::os::unix::fs::FileTypeExt::is_socket(&m.file_type()))
}

/// Who runs the runtime: the owner of the home its socket is in (the default socket is a
/// link there when Docker Desktop's or OrbStack's helper made it); for colima without a
/// socket yet, Homebrew's owner, as whom clawguard's LaunchDaemon starts it.
pub fn runtime_user(root: &Root, mac: &MacFacts, users: &[Entry]) -> Option<RuntimeUser> {
    let rt = mac.docker?;
    let in_home = |path: &str| {
        users
            .iter()
            .filter(|e| e.uid >= 500 && e.home.starts_with("/Users/"))
            .find(|e| path.starts_with(&format!("{}/", e.home.trim_end_matches('/'))))
    };
    let socket = match mac.engine_socket.as_deref() {
        Some(DEFAULT_DOCKER_SOCKET) => {
            std::fs::read_link(root.path(DEFAULT_DOCKER_SOCKET)).ok().map(|t| t.to_string_lossy().into_owned())
        }
        other => other.map(str::to_owned),
    };
    let entry = match socket.as_deref().and_then(in_home) {
        Some(e) => Some(e),
        None if rt == DockerRuntime::Colima => {
            let owner = mac.homebrew.as_ref()?.owner_uid;
            users.iter().find(|e| e.uid == owner)
        }
        None => None,
    }?;
    Some(RuntimeUser { name: entry.name.clone(), uid: entry.uid, gid: entry.gid })
}

/// On a live Mac whose runtime's socket is not the default one, the `DOCKER_HOST` every
/// engine command of this process needs (`docker`, `docker compose`, the checks, the
/// backups — and the LaunchDaemons that run clawguard get it the same way). None when
/// DOCKER_HOST is set already, or this is not a Mac.
pub fn live_docker_host() -> Option<String> {
    if std::env::var_os("DOCKER_HOST").is_some() {
        return None;
    }
    let root = Root::new("/");
    let Platform::MacOs(mac) = probe_system(&root) else { return None };
    let users = super::users::mac_directory(&root).ok()?.entries;
    engine_socket(&root, &mac, &users).map(|p| format!("unix://{p}"))
}

/// The settings of `com.apple.SoftwareUpdate` that keep a Mac patched without a person:
/// check, download, and install security responses and system data files.
pub const UPDATE_KEYS: &[&str] = &[
    "AutomaticCheckEnabled",
    "AutomaticDownload",
    "CriticalUpdateInstall",
    "ConfigDataInstall",
    // What installs macOS's point releases (mSCP system_settings_install_macos_updates_enforce,
    // CIS 1.4): the others cover only security responses and data files.
    "AutomaticallyInstallMacOSUpdates",
];

/// The platform family of `root`, from its files alone (no command asked).
pub fn kind(root: &Root) -> Kind {
    probe_system(root).kind()
}

/// What `probe` reads from files alone (no command asked): enough to find the runtime.
fn probe_system(root: &Root) -> Platform {
    let Some(version) = read_plist(root, SYSTEM_VERSION).ok().flatten() else {
        return Platform::Linux;
    };
    let name = version.as_dictionary().and_then(|d| d.get("ProductName")).and_then(Value::as_string);
    if !name.is_some_and(|n| n.contains("macOS") || n.contains("Mac OS")) {
        return Platform::Linux;
    }
    let homebrew = homebrew(root);
    Platform::MacOs(Box::new(MacFacts {
        docker: docker_runtime(root, homebrew.as_ref()),
        homebrew,
        ..MacFacts::default()
    }))
}

/// The platform of `root`: macOS when its SystemVersion.plist names macOS.
pub fn probe(root: &Root) -> Platform {
    let Some(version) = read_plist(root, SYSTEM_VERSION).ok().flatten() else {
        return Platform::Linux;
    };
    let text = |key: &str| version.as_dictionary().and_then(|d| d.get(key)).and_then(Value::as_string);
    if !text("ProductName").is_some_and(|n| n.contains("macOS") || n.contains("Mac OS")) {
        return Platform::Linux;
    }
    let homebrew = homebrew(root);
    let mut mac = MacFacts {
        version: text("ProductVersion").unwrap_or_default().to_owned(),
        build: text("ProductBuildVersion").unwrap_or_default().to_owned(),
        remote_login: remote_login(root),
        own_sshd_port: own_sshd_port(root),
        pf_apple_anchor: match root.read_result(PF_CONF) {
            Ok(Some(t)) => Ok(pf_has_apple_anchor(&t)),
            Ok(None) => Ok(false),
            Err(e) => Err(e),
        },
        docker: docker_runtime(root, homebrew.as_ref()),
        homebrew,
        ..MacFacts::default()
    };
    if let Ok(Some(alf)) = read_plist(root, ALF) {
        let d = alf.as_dictionary();
        mac.alf_state = d.and_then(|d| d.get("globalstate")).and_then(Value::as_signed_integer);
        mac.alf_stealth = d.and_then(|d| d.get("stealthenabled")).and_then(Value::as_signed_integer).map(|v| v == 1);
    }
    if mac.alf_state.is_none() && root.is_live() {
        let ask = |flag: &str| {
            duct::cmd(SOCKETFILTERFW, [flag])
                .stderr_null()
                .stdout_capture()
                .unchecked()
                .run()
                .ok()
                .filter(|o| o.status.success())
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        };
        mac.alf_state = ask("--getglobalstate").as_deref().and_then(alf_global_state);
        mac.alf_stealth = ask("--getstealthmode").as_deref().and_then(alf_stealth);
    }
    if let Some(pm) = power_management(root) {
        let ac = pm.as_dictionary().and_then(|d| d.get("AC Power")).and_then(Value::as_dictionary);
        mac.sleep_minutes = ac.and_then(|d| d.get("System Sleep Timer")).and_then(Value::as_signed_integer);
        mac.autorestart = ac
            .and_then(|d| d.get("Automatic Restart On Power Loss"))
            .and_then(Value::as_signed_integer)
            .map(|v| v == 1);
    }
    let su = read_plist(root, SOFTWARE_UPDATE).ok().flatten();
    for key in UPDATE_KEYS {
        let v = su.as_ref().and_then(|v| v.as_dictionary()).and_then(|d| d.get(key)).and_then(|v| match v {
            Value::Boolean(b) => Some(*b),
            Value::Integer(i) => i.as_signed().map(|i| i != 0),
            _ => None,
        });
        mac.updates.insert((*key).to_owned(), v);
    }
    if root.is_live() {
        mac.filevault = duct::cmd!("fdesetup", "status")
            .stderr_null()
            .unchecked()
            .read()
            .ok()
            .and_then(|out| filevault_state(&out));
    }
    // The local accounts, read once (each record is a property list).
    let directory = super::users::mac_directory(root);
    let users: &[Entry] = directory.as_ref().map(|d| d.entries.as_slice()).unwrap_or_default();
    mac.engine_socket = if mac.docker.is_none() {
        None
    } else {
        engine_socket(root, &mac, users).or_else(|| default_socket_here(root).then(|| DEFAULT_DOCKER_SOCKET.to_owned()))
    };
    mac.runtime_user = runtime_user(root, &mac, users);
    // Any record that cannot be read makes the accounts unknown (never "no users").
    match &directory {
        Err(e) => mac.accounts_unreadable = Some(e.clone()),
        Ok(d) => {
            if let Some(hb) = mac.homebrew.as_mut()
                && let Some(e) = d.entries.iter().find(|e| e.uid == hb.owner_uid)
            {
                hb.owner = Some(e.name.clone());
                hb.home = Some(e.home.clone()).filter(|h| h.starts_with('/'));
            }
        }
    }
    Platform::MacOs(Box::new(mac))
}

/// A property list under the root (XML or binary): Ok(None) when there is none.
pub fn read_plist(root: &Root, path: &str) -> Result<Option<Value>, String> {
    match std::fs::read(root.path(path)) {
        Ok(bytes) => Value::from_reader(std::io::Cursor::new(bytes)).map(Some).map_err(|e| format!("{path}: {e}")),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("{path}: {e}")),
    }
}

/// launchd keeps every Mac's disabled list (Apple's own services are in it): a missing or
/// odd one is unknown, never "off" — moving SSH on a wrong guess could close the way in.
fn remote_login(root: &Root) -> Result<bool, String> {
    let disabled = read_plist(root, LAUNCHD_DISABLED)?
        .ok_or_else(|| format!("{LAUNCHD_DISABLED} is not there, so Remote Login's state is unknown"))?;
    let list = disabled.as_dictionary().ok_or_else(|| format!("{LAUNCHD_DISABLED} is not a dictionary"))?;
    match list.get(APPLE_SSHD_LABEL) {
        Some(Value::Boolean(disabled)) => Ok(!disabled),
        None => Ok(false),
        Some(other) => Err(format!("{LAUNCHD_DISABLED} says {other:?} for {APPLE_SSHD_LABEL}")),
    }
}

fn own_sshd_port(root: &Root) -> Option<u16> {
    let path = format!("{LAUNCH_DAEMONS}/{SSHD_LABEL}.plist");
    let v = read_plist(root, &path).ok().flatten()?;
    let listeners = v.as_dictionary()?.get("Sockets")?.as_dictionary()?.get("Listeners")?.as_dictionary()?;
    listeners.get("SockServiceName")?.as_string()?.parse().ok()
}

/// `fdesetup status`: "FileVault is On." / "FileVault is Off." (other lines follow while
/// it encrypts).
pub fn filevault_state(out: &str) -> Option<bool> {
    let first = out.lines().next()?.trim();
    match first.strip_prefix("FileVault is ")?.trim_end_matches('.') {
        "On" => Some(true),
        "Off" => Some(false),
        _ => None,
    }
}

/// Whether pf.conf evaluates the `com.apple/*` anchors (outside comments).
pub fn pf_has_apple_anchor(text: &str) -> bool {
    text.lines().map(|l| l.split('#').next().unwrap_or("").trim()).any(|l| l == "anchor \"com.apple/*\"")
}

/// PowerManagement's preferences: `com.apple.PowerManagement.plist`, or the per-machine
/// `com.apple.PowerManagement.<UUID>.plist` of newer Macs.
fn power_management(root: &Root) -> Option<Value> {
    let mut names: Vec<String> = root
        .list("/Library/Preferences")
        .into_iter()
        .filter(|n| n.starts_with("com.apple.PowerManagement") && n.ends_with(".plist"))
        .collect();
    names.sort();
    names.iter().find_map(|n| read_plist(root, &format!("/Library/Preferences/{n}")).ok().flatten())
}

fn homebrew(root: &Root) -> Option<Homebrew> {
    ["/opt/homebrew", "/usr/local"].iter().find_map(|prefix| {
        let brew = format!("{prefix}/bin/brew");
        if !root.exists(&brew) {
            return None;
        }
        let owner_uid = std::fs::metadata(root.path(prefix)).ok()?.uid();
        Some(Homebrew { prefix: (*prefix).to_owned(), owner_uid, owner: None, home: None })
    })
}

fn docker_runtime(root: &Root, brew: Option<&Homebrew>) -> Option<DockerRuntime> {
    if root.exists("/Applications/OrbStack.app") {
        Some(DockerRuntime::OrbStack)
    } else if root.exists("/Applications/Docker.app") {
        Some(DockerRuntime::DockerDesktop)
    } else if brew.is_some_and(|b| root.exists(&format!("{}/bin/colima", b.prefix))) {
        Some(DockerRuntime::Colima)
    } else {
        None
    }
}

/// `socketfilterfw --getglobalstate`: "Firewall is enabled. (State = 1)" → 1.
pub fn alf_global_state(out: &str) -> Option<i64> {
    let at = out.find("State = ")? + "State = ".len();
    out[at..].split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
}

/// `socketfilterfw --getstealthmode`: "Firewall stealth mode is on" (older) or "Stealth
/// mode enabled"/"disabled" (newer) → whether it is on.
pub fn alf_stealth(out: &str) -> Option<bool> {
    let o = out.to_ascii_lowercase();
    if o.contains("is on") || o.contains("enabled") {
        Some(true)
    } else if o.contains("is off") || o.contains("disabled") {
        Some(false)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn probe_mac(dir: &std::path::Path) -> MacFacts {
        match probe(&Root::new(dir)) {
            Platform::MacOs(m) => *m,
            Platform::Linux => panic!("not found as a Mac"),
        }
    }

    #[test]
    fn filevaults_state_is_read_from_fdesetup() {
        assert_eq!(filevault_state("FileVault is On.\n"), Some(true));
        assert_eq!(filevault_state("FileVault is Off.\n"), Some(false));
        assert_eq!(filevault_state("FileVault is On.\nEncryption in progress: Percent completed = 12.3\n"), Some(true));
        assert_eq!(filevault_state("fdesetup: command not found"), None);
    }

    #[test]
    fn the_apple_anchor_counts_only_outside_comments() {
        assert!(pf_has_apple_anchor(
            "scrub-anchor \"com.apple/*\"\nanchor \"com.apple/*\"\nload anchor \"com.apple\" from \"/etc/pf.anchors/com.apple\"\n"
        ));
        assert!(!pf_has_apple_anchor("# anchor \"com.apple/*\"\npass all\n"));
        assert!(!pf_has_apple_anchor("anchor \"com.apple/*\" in\n"));
    }

    #[test]
    fn a_linux_root_is_linux_and_a_system_version_that_is_not_macos_too() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(probe(&Root::new(dir.path())), Platform::Linux);
        let p = dir.path().join("System/Library/CoreServices");
        std::fs::create_dir_all(&p).unwrap();
        let mut d = plist::Dictionary::new();
        d.insert("ProductName".into(), "iPhone OS".into());
        plist::to_file_xml(p.join("SystemVersion.plist"), &d).unwrap();
        assert_eq!(probe(&Root::new(dir.path())), Platform::Linux);
        d.insert("ProductName".into(), "macOS".into());
        d.insert("ProductVersion".into(), "14.6.1".into());
        plist::to_file_binary(p.join("SystemVersion.plist"), &d).unwrap();
        let Platform::MacOs(m) = probe(&Root::new(dir.path())) else { panic!("not macOS") };
        assert_eq!(m.version, "14.6.1");
        assert!(m.remote_login.as_ref().unwrap_err().contains("is not there"), "no disabled list: unknown, not off");
        let db = dir.path().join("var/db/com.apple.xpc.launchd");
        std::fs::create_dir_all(&db).unwrap();
        let mut list = plist::Dictionary::new();
        list.insert("com.apple.ftpd".into(), true.into());
        plist::to_file_binary(db.join("disabled.plist"), &list).unwrap();
        assert_eq!(probe_mac(dir.path()).remote_login, Ok(false), "not named: off, as on a fresh Mac");
        list.insert(APPLE_SSHD_LABEL.into(), false.into());
        plist::to_file_binary(db.join("disabled.plist"), &list).unwrap();
        assert_eq!(probe_mac(dir.path()).remote_login, Ok(true));
        list.insert(APPLE_SSHD_LABEL.into(), "yes".into());
        plist::to_file_binary(db.join("disabled.plist"), &list).unwrap();
        assert!(probe_mac(dir.path()).remote_login.is_err());
        std::fs::write(db.join("disabled.plist"), "<plist><array/></plist>").unwrap();
        assert!(probe_mac(dir.path()).remote_login.is_err());
    }
}
