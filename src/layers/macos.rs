//! The parts of the layers that a Mac does its own way. The layers call these where the
//! platform differs — how SSH's port is opened, the firewall, keeping the host up, the
//! container runtime — and share everything else (sshd's drop-in and its lockout checks,
//! the compose project, squid, the vault, restic, the daily check).
//!
//! What differs, and why:
//! - **SSH's port**: launchd owns sshd's socket (`sshd -i` per connection, which reads no
//!   `Port`). Apple's Remote Login is port 22 in a plist on the sealed system volume;
//!   clawguard's own LaunchDaemon listens on the answers' port. During a move both
//!   listen; `clawguard confirm` turns Remote Login's port 22 off (disabled, so it stays
//!   off after a restart); a rollback takes clawguard's daemon away.
//! - **Firewall**: pf rules in clawguard's own anchor, loaded at boot by its own
//!   LaunchDaemon (an OS update that resets /etc/pf.conf leaves both alone); pf's
//!   connection-rate `overload` table and an expiry job do what fail2ban does on Linux;
//!   the application firewall on, in stealth mode.
//! - **Always on**: no sleep, restart after a power failure, automatic security updates.

use super::launchd::{self, Daemon, When};
use super::pf::{self, Limit, Rule};
use super::{Builder, firewall};
use crate::answers::Answers;
use crate::host::Facts;
use crate::host::platform::{APPLE_SSHD_LABEL, APPLE_SSHD_PLIST, MacFacts, SSHD_LABEL, UPDATE_KEYS};
use crate::plan::{Layer, Refusal, Severity, Stage, Validator};
use crate::render::RenderError;

use crate::host::platform::SOCKETFILTERFW;
const PFCTL: &str = "/sbin/pfctl";
/// pf's equivalent of ufw's `limit`: more than 6 new connections in 30 s from one address.
pub const SSH_RATE: Limit = Limit { conns: 6, secs: 30 };

fn argv(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| s.to_string()).collect()
}

/// The plist that carries SSH's port: Apple's for 22, clawguard's for any other.
pub fn sshd_daemon_path(port: u16) -> String {
    if port == 22 { APPLE_SSHD_PLIST.to_owned() } else { launchd::path(SSHD_LABEL) }
}

/// SSH's port the launchd way (see the module's comment).
pub(super) fn sshd_port(f: &Facts, mac: &MacFacts, port: u16, b: &mut Builder) {
    let layer = Layer::Ssh;
    if let Some(why) = &mac.accounts_unreadable {
        b.block(layer, Refusal::Lockout, format!("The local accounts cannot be read ({why}): who may log in cannot be checked. macOS keeps them in /var/db/dslocal, which only root reads: run clawguard with sudo (a damaged record named here needs repair first)."));
    }
    let remote_login = match &mac.remote_login {
        Ok(on) => *on,
        Err(why) => {
            b.block(layer, Refusal::Lockout, format!("Whether Remote Login (port 22) is on cannot be read ({why}): moving SSH without knowing it could close the way in. Run clawguard with sudo."));
            return;
        }
    };
    if port == 22 {
        if let Some(own) = mac.own_sshd_port {
            b.block(layer, Refusal::Unsafe, format!("SSH listens on clawguard's port {own}: going back to Remote Login's port 22 is `sudo clawguard rollback` (to the generation before the move) or `sudo clawguard uninstall`; or choose another port."));
        }
        if !remote_login {
            apple_sshd(b, true);
        }
        return;
    }
    if let Some(own) = mac.own_sshd_port.filter(|p| *p != port) {
        // Loading clawguard's sshd daemon again (bootout, bootstrap) may end the sessions
        // it serves — the one applying among them — before the new port is proven.
        b.block(layer, Refusal::Lockout, format!("SSH listens on clawguard's port {own} already; moving it again on a Mac is not done in place (reloading clawguard's sshd daemon may end the session on it before port {port} is proven). `sudo clawguard rollback` to the generation before the move (Remote Login comes back as it was), then apply with ssh.port {port}."));
    }
    let daemon = Daemon {
        label: SSHD_LABEL.into(),
        argv: argv(&["/usr/sbin/sshd", "-i"]),
        when: When::Connection { port },
        user: "root".into(),
        interactive: true,
        home: None,
    };
    b.launch_daemon(layer, &daemon, &format!("launchd listens on port {port} for sshd"), &[]);
    if remote_login && mac.keeps_remote_login() {
        b.warn(layer, Severity::Note, format!("On macOS {} with FileVault{} Remote Login stays on: it is what lets FileVault be unlocked over SSH on port 22 before login (apple_ssh_and_filevault(7)), the only remote way back after a power cut. clawguard's LaunchDaemon {} opens port {port}; once you confirm from a new login there, pf blocks port 22 while macOS runs, and port 22 answers only for FileVault's unlock before login. To turn Remote Login off anyway: System Settings › General › Sharing.", mac.version, if mac.filevault.is_none() { " (its state not known: counted as on)" } else { " on" }, launchd::path(SSHD_LABEL)));
    } else if remote_login {
        if b.stage == Stage::Complete {
            apple_sshd(b, false);
        }
        b.warn(layer, Severity::Note, format!("On macOS launchd listens for sshd: clawguard's LaunchDaemon {} opens port {port}, and Remote Login keeps port 22 until you confirm from a new login on {port}; then port 22 is turned off (System Settings shows Remote Login off — the port is clawguard's now).", launchd::path(SSHD_LABEL)));
    } else if f.sshd.ports().is_empty() {
        b.warn(layer, Severity::Note, format!("Remote Login is off on this Mac: SSH starts on port {port} only, through clawguard's LaunchDaemon. Confirm from a new login on {port}, or it is taken back."));
    }
}

/// Turns Remote Login (Apple's sshd on port 22) on or off, now and after a restart: two
/// commands, each undone by its opposite. Loading goes through `clawguard launchd`, which
/// waits for launchd to let a label go: a rollback soon after `confirm` bootstraps the job
/// launchd is still freeing ("5: Input/output error").
fn apple_sshd(b: &mut Builder, on: bool) {
    let service = format!("system/{APPLE_SSHD_LABEL}");
    let enable = argv(&["launchctl", "enable", &service]);
    let disable = argv(&["launchctl", "disable", &service]);
    let own = b.own.clone();
    let load = argv(&[own.as_str(), "launchd", "load", APPLE_SSHD_PLIST]);
    let unload = argv(&[own.as_str(), "launchd", "unload", APPLE_SSHD_LABEL]);
    // launchd refuses to bootstrap a disabled label ("119: Service is disabled"): enable
    // comes before bootstrap in both directions — a rollback runs the undos newest first.
    let steps = if on {
        [(enable, disable, "turn Remote Login on (port 22)"), (load, unload, "launchd listens on port 22 for sshd")]
    } else {
        [
            (unload, load, "close port 22 (Remote Login's sshd; sessions on it end)"),
            (disable, enable, "Remote Login's port 22 stays off after a restart"),
        ]
    };
    for (run, undo, why) in steps {
        b.on_change(Layer::Ssh, &run, why, &[]).undo = Some(undo);
    }
}

/// The firewall layer on a Mac: pf's anchor, its LaunchDaemons, the application firewall.
pub(super) fn firewall(a: &Answers, f: &Facts, mac: &MacFacts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Firewall;
    match &mac.pf_apple_anchor {
        Ok(true) => {}
        Ok(false) => b.block(layer, Refusal::Unsafe, "/etc/pf.conf does not evaluate `anchor \"com.apple/*\"`, where clawguard loads its rules: they would be loaded and never used. Put macOS's own pf.conf back (it has that line; an OS update restores it too), or add the line to yours."),
        Err(why) => b.block(layer, Refusal::Unsafe, format!("/etc/pf.conf cannot be read ({why}): whether clawguard's rules would be used is unknown. Run clawguard with sudo.")),
    }
    let ports = firewall::ssh_ports(a, f);
    // The port(s) SSH listens on today stay open until the move is confirmed, without
    // state: a session open on them before pf was enabled goes on.
    let old: Vec<u16> = match b.stage {
        Stage::Move => f.sshd.ports().into_iter().filter(|p| !ports.contains(p)).collect(),
        Stage::Complete => Vec::new(),
    };
    let mut trusted: Vec<String> = vec!["127.0.0.0/8".into(), "::1".into()];
    trusted.extend(a.fail2ban.ignoreip.iter().map(|n| n.to_string()));
    if let Some(conn) = &f.ssh_connection
        && !a.fail2ban.ignoreip.iter().any(|n| n.contains(conn.client))
    {
        trusted.push(conn.client.to_string());
    }
    // Trusted addresses first (never blocked, never counted), then whoever overloaded SSH
    // is dropped, then the default and what passes (`quick`: the first match decides).
    let mut rules = vec![
        Rule::Table { name: pf::ABUSE_TABLE, addresses: vec![] },
        Rule::Table { name: pf::TRUSTED_TABLE, addresses: trusted },
    ];
    rules.extend(ports.iter().chain(&old).map(|&p| Rule::PassTcpFrom { table: pf::TRUSTED_TABLE, port: p }));
    rules.extend(old.iter().map(|&p| Rule::PassTcpStateless { port: p }));
    rules.extend([
        Rule::BlockFromTable(pf::ABUSE_TABLE),
        Rule::BlockIn,
        Rule::PassLoopback,
        Rule::PassOut,
        Rule::PassIcmp6,
        Rule::PassDhcp,
    ]);
    rules.extend(ports.iter().map(|&p| Rule::PassTcp { port: p, limit: Some(SSH_RATE) }));
    rules.extend(a.firewall.extra_ports.iter().map(|p| Rule::PassTcp { port: p.get(), limit: None }));
    b.raw_file(layer, pf::ANCHOR_FILE, pf::render(&rules), 0o644);
    b.validate_last(Validator::Pf);
    let load = b.on_change(
        layer,
        &[PFCTL, "-E", "-a", pf::ANCHOR, "-f", pf::ANCHOR_FILE],
        "pf loads clawguard's rules (and is enabled)",
        &[pf::ANCHOR_FILE],
    );
    load.undo = Some(argv(&[PFCTL, "-a", pf::ANCHOR, "-F", "all"]));
    load.rerun_needs_old = true;
    let at_boot = Daemon::root("pf", argv(&[PFCTL, "-E", "-a", pf::ANCHOR, "-f", pf::ANCHOR_FILE]), When::Boot);
    b.launch_daemon(layer, &at_boot, "load clawguard's pf rules at every boot", &[]);
    let bantime = a.fail2ban.bantime.to_string();
    let expire = Daemon::root(
        "pf-expire",
        argv(&[PFCTL, "-a", pf::ANCHOR, "-t", pf::ABUSE_TABLE, "-T", "expire", &bantime]),
        When::Every(60),
    );
    b.launch_daemon(layer, &expire, &format!("let blocked addresses in again after {bantime} s"), &[]);
    // 1 is on; 2 (block all incoming) is stronger and stays as it is. Only a state known
    // to be off is put back off by a rollback: one that could not be read may have been on.
    if !matches!(mac.alf_state, Some(1 | 2)) {
        b.command(layer, &[SOCKETFILTERFW, "--setglobalstate", "on"], "the application firewall on").undo =
            (mac.alf_state == Some(0)).then(|| argv(&[SOCKETFILTERFW, "--setglobalstate", "off"]));
    }
    if mac.alf_stealth != Some(true) {
        b.command(
            layer,
            &[SOCKETFILTERFW, "--setstealthmode", "on"],
            "stealth mode: no answer to probes (ping, closed ports)",
        )
        .undo = (mac.alf_stealth == Some(false)).then(|| argv(&[SOCKETFILTERFW, "--setstealthmode", "off"]));
    }
    if mac.alf_state.is_none() || mac.alf_stealth.is_none() {
        b.warn(layer, Severity::Note, "The application firewall's state could not be read (not in com.apple.alf.plist since macOS 15, and socketfilterfw was not asked: run clawguard on the Mac itself): it is turned on, and a rollback or uninstall leaves it on rather than turn off one that may have been on.");
    }
    b.warn(layer, Severity::Note, "Turning pf on for the first time can cut connections that are open now and that its rules do not let in — Screen Sharing, file sharing, a VPN — (SSH on the ports clawguard opens is kept), and it blocks incoming Bonjour/mDNS (UDP 5353), so this Mac is no longer found by name on the local network. List what must stay reachable in firewall.extra_ports.");
    b.warn(layer, Severity::Note, format!(
        "On macOS pf does fail2ban's job, and pf counts connections, not failed logins: an address that opens more than {} SSH connections in {} s is blocked for {} s (fail2ban.bantime; fail2ban.maxretry and findtime have no pf equivalent). fail2ban.ignoreip{} are never blocked. Everything else that comes in is blocked, Screen Sharing and file sharing included: list their ports in firewall.extra_ports to keep them.",
        SSH_RATE.conns, SSH_RATE.secs, a.fail2ban.bantime,
        if f.ssh_connection.is_some() { " and your address" } else { "" }
    ));
    Ok(())
}

/// An always-on Mac: no sleep, back after a power cut, security updates by themselves;
/// FileVault's state said (a FileVault Mac waits at the unlock screen after a restart).
pub(super) fn always_on(mac: &MacFacts, b: &mut Builder) {
    let layer = Layer::Monitoring;
    if mac.sleep_minutes != Some(0) {
        let old = mac.sleep_minutes.unwrap_or(1).to_string();
        b.command(layer, &["pmset", "-a", "sleep", "0"], "never sleep (the agent and SSH stay reachable)").undo =
            Some(argv(&["pmset", "-a", "sleep", &old]));
    }
    if mac.autorestart != Some(true) {
        b.command(layer, &["pmset", "-a", "autorestart", "1"], "start again by itself after a power failure").undo =
            Some(argv(&["pmset", "-a", "autorestart", "0"]));
    }
    for key in UPDATE_KEYS {
        let now = mac.updates.get(*key).copied().flatten();
        if now == Some(true) {
            continue;
        }
        let undo = match now {
            Some(old) => argv(&[
                "defaults",
                "write",
                crate::host::platform::SOFTWARE_UPDATE,
                key,
                "-bool",
                if old { "true" } else { "false" },
            ]),
            None => argv(&["defaults", "delete", crate::host::platform::SOFTWARE_UPDATE, key]),
        };
        b.command(
            layer,
            &["defaults", "write", crate::host::platform::SOFTWARE_UPDATE, key, "-bool", "true"],
            format!("automatic updates: {key}"),
        )
        .undo = Some(undo);
    }
    match mac.filevault {
        Some(true) => b.warn(layer, Severity::Note, "FileVault is on (good: the vault's identity and the agent's data are encrypted at rest). A Mac that restarts after a power failure then waits at the unlock screen, without SSH, until someone types the password: use `sudo fdesetup authrestart` for planned restarts, and have a person nearby for power cuts."),
        Some(false) => b.warn(layer, Severity::Warning, "FileVault is off: whoever takes this Mac's disk reads the vault's identity, the keys unlocked in /var/run and the agent's data. Turn it on (System Settings › Privacy & Security › FileVault); unattended restarts then wait at the unlock screen (`sudo fdesetup authrestart` for planned ones)."),
        None => b.warn(layer, Severity::Note, "FileVault: `fdesetup status` says whether it is on (not asked: this is not the live Mac). With FileVault on (recommended: the vault's identity and the agent's data are on this disk), a Mac that restarts after a power failure waits at the unlock screen, without SSH, until someone types the password — plan an `fdesetup authrestart` for updates, and a person nearby for power cuts."),
    }
}

/// Where a directory can be made on a Mac: the data volume's firmlinks and /private's
/// links (/etc, /var, /tmp). Anything else is on the sealed, read-only system volume.
const MAC_WRITABLE: &[&str] =
    &["/opt/", "/Users/", "/private/", "/var/", "/etc/", "/tmp/", "/usr/local/", "/Library/", "/Volumes/"];
/// What Docker Desktop shares with its VM unless told otherwise.
const DESKTOP_SHARED: &[&str] = &["/Users/", "/Volumes/", "/private/", "/tmp/", "/var/folders/"];

/// The directories the agent's containers mount: (answer, path, writable).
fn mounted(a: &Answers) -> Vec<(&'static str, String, bool)> {
    let s = &a.sandbox;
    vec![
        ("sandbox.project_dir", s.project_dir.to_string(), true),
        ("sandbox.state_dir", s.state_dir.to_string(), true),
        ("sandbox.workspace", s.workspace.to_string(), true),
        ("sandbox.config_dir", s.config_dir.to_string(), false),
        ("monitoring.log_dir", a.monitoring.log_dir.to_string(), true),
    ]
}

/// A Mac's own secrets and the places whose files run as root, for the agent's
/// directories (besides the answers' own list, which names Linux's).
const MAC_SECRET_PLACES: &[&str] = &[
    "/var/db",
    "/Library/Keychains",
    "/Library/LaunchDaemons",
    "/Library/LaunchAgents",
    "/Library/Preferences",
    "/System",
    "/Users/Shared",
];

/// The path as a Mac resolves it: `/etc`, `/var` and `/tmp` are links into `/private`,
/// so `/private/etc/ssh` is `/etc/ssh` — the answers' own checks compare names only.
fn mac_alias(path: &str) -> String {
    for top in ["etc", "var", "tmp"] {
        let private = format!("/private/{top}");
        if path == private || path.starts_with(&format!("{private}/")) {
            return path["/private".len()..].to_owned();
        }
    }
    path.to_owned()
}

/// The path a Mac resolves `path` to: `/etc`, `/var` and `/tmp` are links into `/private`.
pub(super) fn resolved(path: &str) -> String {
    for top in ["/etc", "/var", "/tmp"] {
        if path == top || path.starts_with(&format!("{top}/")) {
            return format!("/private{path}");
        }
    }
    path.to_owned()
}

fn overlaps(a: &str, b: &str) -> bool {
    let (a, b) = (a.trim_end_matches('/'), b.trim_end_matches('/'));
    a == b || a.starts_with(&format!("{b}/")) || b.starts_with(&format!("{a}/")) || a.is_empty() || b.is_empty()
}

/// The container runtime: what Docker on a Mac is, and what it changes.
pub(super) fn engine(a: &Answers, mac: &MacFacts, b: &mut Builder) {
    let layer = Layer::Sandbox;
    for (field, path, writable) in mounted(a).into_iter().filter(|(f, _, _)| *f != "sandbox.project_dir") {
        let real = mac_alias(&path);
        let system: &[&str] = if writable { crate::answers::SYSTEM_PLACES } else { &[] };
        let hit = crate::answers::SECRET_PLACES
            .iter()
            .chain(system)
            .chain(MAC_SECRET_PLACES)
            .find(|p| overlaps(&real, p) || overlaps(&path, p));
        if let Some(place) = hit {
            b.block(layer, Refusal::Unsafe, format!("{field} `{path}` is mounted into the agent's container and on a Mac is {place} or holds it (/etc, /var and /tmp are /private's), which the agent must never reach: give it a directory of its own, such as {}/{}.", crate::answers::MAC_DATA_DIR, path.rsplit('/').next().unwrap_or("data")));
        }
    }
    for (field, path, _) in mounted(a) {
        if !MAC_WRITABLE.iter().any(|w| format!("{path}/").starts_with(w)) {
            let name = path.rsplit('/').next().unwrap_or("data");
            b.block(layer, Refusal::Unsafe, format!("{field} `{path}` cannot be made on a Mac: its system volume is read-only (only /opt, /Users, /usr/local, /Library, /private and its /etc, /var, /tmp can be written). Use {}/{name}, for instance.", crate::answers::MAC_DATA_DIR));
        }
    }
    if mac.docker == Some(crate::host::platform::DockerRuntime::DockerDesktop) {
        let unshared: Vec<String> = mounted(a)
            .into_iter()
            .map(|(_, p, _)| resolved(&p))
            .filter(|p| !DESKTOP_SHARED.iter().any(|s| format!("{p}/").starts_with(s)))
            .collect();
        if !unshared.is_empty() {
            b.warn(layer, Severity::Warning, format!("Docker Desktop shares only /Users, /Volumes, /private and /tmp with its VM: add {} in Settings › Resources › File sharing, or the agent's containers see empty directories there.", unshared.join(", ")));
        }
    }
    match mac.docker {
        None => b.block(layer, Refusal::Unsafe, "No container runtime on this Mac: install OrbStack, Docker Desktop, or colima (`brew install colima docker docker-compose`), start it once, then run clawguard again."),
        Some(rt) => {
            match mac.engine_socket.as_deref() {
                Some(crate::host::platform::DEFAULT_DOCKER_SOCKET) => {}
                Some(socket) => b.warn(layer, Severity::Note, format!("{}'s engine listens at {socket}, in its user's home, where root's `docker` does not look: clawguard points every engine command there (DOCKER_HOST), its LaunchDaemons included.", rt.name())),
                None => b.warn(layer, Severity::Warning, format!("{} does not seem to be running: its engine's socket is neither {} nor ~/{} of a local user. Start it ({}) before applying: the apply asks the engine first and stops if it does not answer.", rt.name(), crate::host::platform::DEFAULT_DOCKER_SOCKET, rt.user_socket(), match rt { crate::host::platform::DockerRuntime::Colima => "`colima start` as its user", _ => "open the app as its user" })),
            }
            b.warn(layer, Severity::Note, format!("{} runs the agent's containers in a Linux VM: the compose project and its squid proxy are the same as on Linux, but there is no DOCKER-USER chain (pf on this Mac does not see the VM's traffic: the proxy is what limits the agent's egress), and the VM has its own network.", rt.name()));
            if rt != crate::host::platform::DockerRuntime::Colima {
                b.warn(layer, Severity::Warning, format!("{} starts when its user logs in, not at boot: after a restart the agent stays down until someone logs in. colima, started by a LaunchDaemon as its user, runs without a login.", rt.name()));
            }
        }
    }
    if let (Some(crate::host::platform::DockerRuntime::Colima), Some(hb)) = (mac.docker, &mac.homebrew) {
        match &hb.owner {
            Some(user) => {
                // colima shares only the user's home with its VM unless told: each directory
                // the containers mount is named (`:w` where the agent writes). Started once
                // at boot through clawguard, which first removes what a power cut left
                // (abiosoft/colima#381); not kept alive: a failing start respawned by
                // launchd leaks limactl processes by the thousand (abiosoft/colima#1490).
                let mut argv = vec![
                    b.own.clone(),
                    "launchd".into(),
                    "colima-start".into(),
                    format!("{}/bin/colima", hb.prefix),
                    "start".into(),
                    "--foreground".into(),
                ];
                for (_, path, writable) in mounted(a) {
                    let path = resolved(&path);
                    argv.push("--mount".into());
                    argv.push(if writable { format!("{path}:w") } else { path });
                }
                // The keys unlocked for the agent, which its compose file binds read-only.
                argv.push("--mount".into());
                argv.push(resolved(super::MAC_SECRETS_DIR));
                let daemon = Daemon {
                    label: launchd::label("colima"),
                    argv,
                    when: When::Boot,
                    user: user.clone(),
                    interactive: false,
                    home: hb.home.clone(),
                };
                b.launch_daemon(layer, &daemon, &format!("colima starts at boot as {user}, without a login"), &[]);
            }
            None => b.warn(layer, Severity::Warning, "colima's owner cannot be told (the local accounts are root's): run clawguard with sudo so colima gets a LaunchDaemon that starts it at boot."),
        }
    }
}
