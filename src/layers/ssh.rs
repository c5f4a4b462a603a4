//! Layer 3: the sshd drop-in that wins over every other, cloud-init's `ssh_pwauth`, and the
//! lines elsewhere that would undo it (an extra `Port`, settings read before the drop-ins).

use serde::Serialize;

use super::Builder;
use crate::answers::{Answers, UnixUser};
use crate::host::authorized_keys::{self, KeyLine, wildcard};
use crate::host::sshd::{DROPIN_DIR, Directive, MAIN};
use crate::host::{Facts, UserFacts};
use crate::plan::{Check, Layer, Refusal, Severity, SshMove, Stage, Validator};
use crate::render::RenderError;

pub const DROPIN: &str = "/etc/ssh/sshd_config.d/00-clawguard.conf";
const DROPIN_NAME: &str = "00-clawguard.conf";
pub const CLOUD_INIT: &str = "/etc/cloud/cloud.cfg.d/99-clawguard-ssh.cfg";

/// Post-quantum key exchange (OpenSSH 8.5+: Debian 12 and 13, Ubuntu 22.04+): the only
/// kind ssh-audit 3 rates good.
pub const KEX: &[&str] = &["sntrup761x25519-sha512@openssh.com"];
/// Added with `ssh.classic_kex`, for clients without post-quantum key exchange.
pub const CLASSIC_KEX: &[&str] = &["curve25519-sha256", "curve25519-sha256@libssh.org"];
/// Host key algorithms when the host has an Ed25519 key (ssh-audit fails NIST curves and
/// short RSA keys; every Debian and Ubuntu host has an Ed25519 host key).
pub const HOST_KEY_ALGORITHMS: &[&str] = &["ssh-ed25519-cert-v01@openssh.com", "ssh-ed25519"];
pub const CIPHERS: &[&str] = &[
    "chacha20-poly1305@openssh.com",
    "aes256-gcm@openssh.com",
    "aes128-gcm@openssh.com",
    "aes256-ctr",
    "aes192-ctr",
    "aes128-ctr",
];
pub const MACS: &[&str] =
    &["hmac-sha2-512-etm@openssh.com", "hmac-sha2-256-etm@openssh.com", "umac-128-etm@openssh.com"];

/// The keywords our drop-in sets; the same keyword read before it would win.
const OURS: &[&str] = &[
    "port",
    "permitrootlogin",
    "passwordauthentication",
    "kbdinteractiveauthentication",
    "permitemptypasswords",
    "pubkeyauthentication",
    "authenticationmethods",
    "allowusers",
    "maxauthtries",
    "logingracetime",
    "clientaliveinterval",
    "clientalivecountmax",
    "x11forwarding",
    "allowagentforwarding",
    "permituserenvironment",
    "kexalgorithms",
    "ciphers",
    "macs",
    "hostkeyalgorithms",
    "permittunnel",
    "gatewayports",
    "allowtcpforwarding",
    "permitopen",
    "maxsessions",
    "compression",
    "tcpkeepalive",
    "loglevel",
];

#[derive(Serialize)]
struct Ctx<'a> {
    /// On macOS, the LaunchDaemon whose socket carries the port (no `Port` line then).
    launchd: Option<String>,
    port: u16,
    /// The ports sshd keeps until the move is confirmed ([`Stage::Move`]).
    keep_ports: Vec<u16>,
    allowed_users: Vec<&'a str>,
    max_auth_tries: u32,
    client_alive_interval: u32,
    client_alive_count_max: u32,
    gateway_tunnel: bool,
    gateway_port: u16,
    classic_kex: bool,
    host_key_algorithms: &'static [&'static str],
    kex: Vec<&'static str>,
    ciphers: &'static [&'static str],
    macs: &'static [&'static str],
}

/// The users allowed to log in: the answers, or else everyone sshd would let in with a key
/// (or whose keys cannot be read without root); root excluded: root logins are refused.
pub fn allowed_users(a: &Answers, f: &Facts) -> Vec<String> {
    if !a.ssh.allowed_users.is_empty() {
        return a.ssh.allowed_users.iter().map(UnixUser::to_string).collect();
    }
    f.users.iter().filter(|u| u.uid != 0 && login(u, f).blockers.is_empty()).map(|u| u.name.clone()).collect()
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Ssh;
    let users = allowed_users(a, f);
    let port = a.ssh.port.get();
    if users.is_empty() {
        // Say why each user with keys still could not get in.
        let why: Vec<String> = f
            .users
            .iter()
            .filter(|u| {
                u.uid != 0
                    && (u.keys.as_ref().is_some_and(|k| !k.is_empty())
                        || !u.unreadable.is_empty()
                        || !u.strict_modes_problems.is_empty())
            })
            .flat_map(|u| login(u, f).blockers)
            .collect();
        if why.is_empty() {
            let reads = match f.sshd.effective("authorizedkeysfile") {
                Some(d) => format!(
                    " (sshd reads keys only from `AuthorizedKeysFile {}`, set in {}:{})",
                    d.value, d.file, d.line
                ),
                None => String::new(),
            };
            b.block(layer, Refusal::Lockout, format!("No user other than root has an SSH key{reads}, and no allowed user is set: with root and password logins off, nobody could log in. Add your public key to a normal user's ~/.ssh/authorized_keys (ssh-copy-id user@host), then run clawguard again. Apply refuses until then."));
        } else {
            b.block(layer, Refusal::Lockout, format!("No user other than root could log in with a key once root and password logins are off, and no allowed user is set. {} Apply refuses until then.", why.join(" ")));
        }
    }
    for name in &users {
        match f.users.iter().find(|u| &u.name == name) {
            Some(u) => {
                let l = login(u, f);
                for text in l.blockers {
                    b.block(layer, Refusal::Lockout, text);
                }
                for (severity, text) in l.notes {
                    b.warn(layer, severity, text);
                }
            }
            None => match f.accounts.iter().find(|acc| &acc.name == name) {
                Some(acc) if !acc.login_shell => b.block(layer, Refusal::Lockout, format!("Allowed user `{name}` has no login shell: it could not log in. Use a user with a shell, or give it one (chsh -s /bin/bash {name}).")),
                Some(_) => b.block(layer, Refusal::Lockout, format!("Allowed user `{name}` is a system account (uid below 1000): log in as a normal user instead.")),
                None => b.block(layer, Refusal::Lockout, format!("Allowed user `{name}` does not exist on this host: create it and give it your SSH key, or remove it from ssh.allowed_users.")),
            },
        }
    }
    warn_match_blocks(f, b);
    if f.sshd.main_present && !f.sshd.ed25519_host_key {
        b.warn(layer, Severity::Note, "sshd has no Ed25519 host key, so its host key algorithms are left as they are (ssh-audit may rate them down). `ssh-keygen -A` makes the missing keys; run clawguard again after.");
    }
    let current = f.sshd.ports();
    let old_ports: Vec<u16> = current.iter().copied().filter(|p| *p != port).collect();
    let moving = f.sshd.main_present && current != [port];
    let interim = moving && b.stage == Stage::Move && !old_ports.is_empty();
    let mac = f.platform.mac();
    let ctx = Ctx {
        launchd: mac.map(|_| super::macos::sshd_daemon_path(port)),
        port,
        keep_ports: if interim { old_ports.clone() } else { Vec::new() },
        allowed_users: if users.is_empty() {
            vec!["nobody-has-a-key-yet"]
        } else {
            users.iter().map(String::as_str).collect()
        },
        max_auth_tries: a.ssh.max_auth_tries.get(),
        client_alive_interval: a.ssh.client_alive_interval.get(),
        client_alive_count_max: a.ssh.client_alive_count_max.get(),
        gateway_tunnel: a.ssh.gateway_tunnel,
        gateway_port: a.sandbox.gateway_port.get(),
        classic_kex: a.ssh.classic_kex,
        host_key_algorithms: if f.sshd.ed25519_host_key { HOST_KEY_ALGORITHMS } else { &[] },
        kex: KEX.iter().chain(if a.ssh.classic_kex { CLASSIC_KEX } else { &[] }).copied().collect(),
        ciphers: CIPHERS,
        macs: MACS,
    };
    let mut expect: Vec<(&str, String)> = Vec::new();
    if mac.is_none() {
        expect.extend(ctx.keep_ports.iter().map(|p| ("port", p.to_string())));
        expect.push(("port", port.to_string()));
    }
    expect.extend([
        ("permitrootlogin", "no".into()),
        ("passwordauthentication", "no".into()),
        ("kbdinteractiveauthentication", "no".into()),
        ("maxauthtries", ctx.max_auth_tries.to_string()),
        ("clientaliveinterval", ctx.client_alive_interval.to_string()),
        ("clientalivecountmax", ctx.client_alive_count_max.to_string()),
        ("kexalgorithms", ctx.kex.join(",")),
        ("allowtcpforwarding", if ctx.gateway_tunnel { "local" } else { "no" }.into()),
        ("maxsessions", "2".into()),
        ("compression", "no".into()),
        ("tcpkeepalive", "no".into()),
        ("loglevel", "VERBOSE".into()),
        ("ciphers", CIPHERS.join(",")),
        ("macs", MACS.join(",")),
    ]);
    expect.extend(ctx.allowed_users.iter().map(|u| ("allowusers", u.to_string())));
    let expect = expect.into_iter().map(|(k, v)| (k.to_owned(), v)).collect();
    let client = f.ssh_connection.as_ref().map(|c| c.client.to_string());
    b.file(layer, DROPIN, "ssh/00-clawguard.conf", &ctx, 0o644, Some(Validator::Sshd { expect, client }))?;

    neutralise(f, port, b);
    if moving {
        b.plan.ssh_move = Some(SshMove { new_port: port, old_ports, interim });
    }

    if !current.contains(&port) {
        let owners = match mac {
            // launchd holds the socket of every sshd job on a Mac.
            Some(_) => vec!["launchd".into()],
            None => vec!["sshd".into(), "systemd".into()],
        };
        b.preflight(layer, Check::PortFree { port, owners, what: format!("ssh.port {port}") }, &[DROPIN]);
    }
    if let Some(mac) = mac {
        super::macos::sshd_port(f, mac, port, b);
    } else {
        if f.cloud_init {
            b.file(layer, CLOUD_INIT, "ssh/99-clawguard-ssh.cfg", minijinja::context! {}, 0o644, None)?;
        }
        let mut touched = vec![DROPIN];
        if f.sshd.main_present && !f.sshd.includes_dropins {
            touched.push(MAIN);
        }
        if f.ssh_socket {
            b.warn(layer, Severity::Note, "ssh.socket owns the SSH port here (Ubuntu 22.10+): a port change takes effect through `systemctl daemon-reload` and a restart of ssh.socket, not of ssh.service; clawguard does both and checks the port really listens.");
            b.on_change(layer, &["systemctl", "daemon-reload"], "ssh.socket takes its port from sshd_config", &touched);
            b.on_change(layer, &["systemctl", "restart", "ssh.socket"], "listen on the new SSH port", &touched);
        } else {
            b.on_change(layer, &["systemctl", "reload", "ssh"], "sshd reads its new settings", &touched);
        }
    }
    if let Some(conn) = &f.ssh_connection
        && conn.server_port != port
    {
        b.warn(layer, Severity::Warning, format!(
            "You are connected on port {}. It stays open until you confirm a login on port {port} from a new terminal: ssh -o IdentitiesOnly=yes -p {port} {}@{}",
            conn.server_port,
            users.first().map(String::as_str).unwrap_or("USER"),
            conn.server,
        ));
    }
    if a.ssh.max_auth_tries.get() <= 3 {
        b.warn(layer, Severity::Note, format!("MaxAuthTries {} counts every key your SSH agent offers: if you have many keys, log in with `-o IdentitiesOnly=yes -i KEY`, or the server answers \"Too many authentication failures\" (and fail2ban may ban you).", a.ssh.max_auth_tries));
    }
    Ok(())
}

/// Keywords that, inside a `Match` block, can change whether a login gets in.
const LOGIN_KEYWORDS: &[&str] = &[
    "authorizedkeysfile",
    "authorizedkeyscommand",
    "pubkeyacceptedalgorithms",
    "pubkeyacceptedkeytypes",
    "pubkeyauthentication",
    "authenticationmethods",
    "permitrootlogin",
    "denyusers",
    "allowusers",
    "allowgroups",
    "denygroups",
    "forcecommand",
];

/// What stands between a user and a key login, once the drop-in is in place.
#[derive(Debug, Default)]
struct Login {
    /// Each a reason sshd would refuse every key login of the user.
    blockers: Vec<String>,
    notes: Vec<(Severity, String)>,
}

/// Whether `u` can still log in once the drop-in is in place, decided the way sshd will
/// decide it (its access lists, which key files it reads and as whom, which key types it
/// accepts, each key's options for this client). Every way in that fails is a blocker
/// that says why.
fn login(u: &UserFacts, f: &Facts) -> Login {
    let mut out = Login::default();
    let name = &u.name;
    if u.uid == 0 {
        out.blockers.push(format!("`{name}` is root, and clawguard's drop-in sets PermitRootLogin no: root could not log in. Give a normal user your key and sudo, and list that user in ssh.allowed_users."));
        return out;
    }
    // sshd's other access lists still apply next to clawguard's AllowUsers.
    let elsewhere =
        |key: &'static str| f.sshd.directives.iter().filter(move |d| !d.in_match && d.key == key && d.file != DROPIN);
    for d in elsewhere("denyusers") {
        if let Some(p) = d.value.split_whitespace().find(|p| wildcard(p.split('@').next().unwrap_or(p), name)) {
            out.blockers.push(format!(
                "{}:{} has `DenyUsers {}`, which refuses `{name}`: remove it there, or allow another user.",
                d.file, d.line, p
            ));
        }
    }
    if let Some(d) = elsewhere("allowgroups").next()
        && !d.value.split_whitespace().any(|p| u.groups.iter().any(|g| wildcard(p, g)))
    {
        out.blockers.push(format!("{}:{} has `AllowGroups {}`, and `{name}` is in none of them (its groups: {}): add it to one (usermod -aG GROUP {name}) or change that line.", d.file, d.line, d.value, u.groups.join(", ")));
    }
    for d in elsewhere("denygroups") {
        if let Some(g) = u.groups.iter().find(|g| d.value.split_whitespace().any(|p| wildcard(p, g))) {
            out.blockers.push(format!("{}:{} has `DenyGroups {}`, which refuses `{name}` (member of {g}): change that line or the user's groups.", d.file, d.line, d.value));
        }
    }
    if let Some(acc) = u.account {
        let today =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() / 86400);
        if let Some(day) = acc.expires.filter(|d| *d <= today) {
            out.blockers.push(format!("The account `{name}` expired (day {day} in /etc/shadow): no login gets in, with or without a key. `sudo chage -E -1 {name}` lifts the expiry."));
        }
        // sshd's own default is `UsePAM no`; Debian's sshd_config sets yes.
        let pam = f.sshd.effective("usepam").is_some_and(|d| d.value.eq_ignore_ascii_case("yes"));
        if acc.locked && !pam {
            out.blockers.push(format!("The account `{name}` is locked in /etc/shadow and sshd does not use PAM (UsePAM no), so it refuses the account even with a key: `sudo usermod -p '*' {name}` leaves it without a password but not locked, or set UsePAM yes."));
        }
    }
    let key_command = elsewhere("authorizedkeyscommand").next().is_some_and(|d| !d.value.eq_ignore_ascii_case("none"));
    let files =
        if u.key_files.is_empty() { "no file (AuthorizedKeysFile none)".to_owned() } else { u.key_files.join(", ") };
    let Some(lines) = &u.keys else {
        out.notes.push((Severity::Note, format!("{files} cannot be read without root, so whether `{name}` can log in with a key is not checked here (apply, as root, checks it).")));
        return out;
    };
    if !u.unreadable.is_empty() {
        out.blockers.push(format!("sshd reads `{name}`'s keys as {name}, and {name} cannot read {}: the home, ~/.ssh or the file is closed to its owner. Fix it (chmod u+rx the directories, u+r the file), then run clawguard again.", u.unreadable.join(", ")));
    }
    let accepted = authorized_keys::accepted_algorithms(
        elsewhere("pubkeyacceptedalgorithms")
            .chain(elsewhere("pubkeyacceptedkeytypes"))
            .next()
            .map(|d| d.value.as_str()),
    );
    let client = f.ssh_connection.as_ref().map(|c| c.client);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let mut usable = 0;
    // Usable only if the admin's address is one its `from=` allows, which is not known
    // here (no SSH session found: a console, cloud-init, a pipe).
    let mut only_from: Vec<String> = Vec::new();
    let mut refused = Vec::new();
    for l in lines {
        match l {
            KeyLine::Key(k) => match k.refusal(&accepted, client, now) {
                None if client.is_none() && k.from_limit().is_some() => {
                    usable += 1;
                    only_from.push(k.from_limit().unwrap_or_default());
                }
                None => usable += 1,
                Some(why) => refused.push(format!("line {}: {why}", k.line)),
            },
            KeyLine::Invalid { line, why } => refused.push(format!("line {line} is not a key: {why}")),
        }
    }
    let why = if refused.is_empty() { String::new() } else { format!(" ({})", refused.join("; ")) };
    if usable == 0 && key_command {
        out.notes.push((Severity::Warning, format!("No key in {files} lets `{name}` log in{why}; an AuthorizedKeysCommand may supply one, which clawguard cannot check: make sure it does before you apply.")));
    } else if usable == 0 {
        out.blockers.push(format!("No key in {files} lets `{name}` log in{why}: with passwords off it could not log in. Add a key it can use (ssh-copy-id -p PORT {name}@host) first."));
    } else if !refused.is_empty() {
        out.notes.push((
            Severity::Note,
            format!("`{name}` logs in with {usable} key(s); sshd will not use the others{why}."),
        ));
    }
    if usable > 0 && usable == only_from.len() {
        out.notes.push((
            Severity::Warning,
            format!(
                "`{name}` can log in only with key(s) limited to from=\"{}\", and the address you connect from is not known here (no SSH session was found: run clawguard from your SSH login, with sudo): if that address is not one they allow, you will be locked out once passwords are off.",
                only_from.join("\", \"")
            ),
        ));
    }
    for p in &u.strict_modes_problems {
        out.blockers.push(format!("sshd would ignore `{name}`'s keys (StrictModes): {p}"));
    }
    out
}

/// `Match` blocks that change who gets in: clawguard cannot tell which logins they apply
/// to, so it says so.
fn warn_match_blocks(f: &Facts, b: &mut Builder) {
    for d in f.sshd.directives.iter().filter(|d| d.in_match && LOGIN_KEYWORDS.contains(&d.key.as_str())) {
        b.warn(Layer::Ssh, Severity::Warning, format!("{}:{} sets `{} {}` inside a Match block: it may change whether your login gets in, which clawguard does not evaluate. Check it before you apply.", d.file, d.line, d.key, d.value));
    }
}

/// Rewrites other files where a line would override or add to our settings: a keyword we
/// set that sshd reads *before* our drop-in, and any other `Port` (ports add up, so an old
/// `Port 22` would keep 22 open). Lines read after ours lose anyway and are only reported.
fn neutralise(f: &Facts, port: u16, b: &mut Builder) {
    let sshd = &f.sshd;
    if !sshd.main_present {
        b.warn(
            Layer::Ssh,
            Severity::Warning,
            format!(
                "{MAIN} does not exist on the target: is openssh-server installed? (apt-get install openssh-server)"
            ),
        );
        return;
    }
    let include_line = include_line(sshd.text_of(MAIN).unwrap_or_default());
    let mut by_file: Vec<(String, Vec<&Directive>)> = Vec::new();
    for d in sshd.directives.iter().filter(|d| !d.in_match && d.file != DROPIN && OURS.contains(&d.key.as_str())) {
        let before_ours = if d.file == MAIN {
            include_line.is_some_and(|l| d.line < l)
        } else if let Some(name) = d.file.strip_prefix(&format!("{DROPIN_DIR}/")) {
            name < DROPIN_NAME
        } else {
            false
        };
        let extra_port = d.key == "port" && d.value != port.to_string();
        if before_ours || extra_port {
            match by_file.iter_mut().find(|(file, _)| *file == d.file) {
                Some((_, v)) => v.push(d),
                None => by_file.push((d.file.clone(), vec![d])),
            }
        } else if d.file != MAIN {
            b.warn(
                Layer::Ssh,
                Severity::Note,
                format!(
                    "{}:{} sets `{} {}`; clawguard's drop-in is read first and wins.",
                    d.file, d.line, d.key, d.value
                ),
            );
        }
    }
    if include_line.is_none() {
        b.warn(Layer::Ssh, Severity::Warning, format!("{MAIN} does not include {DROPIN_DIR}/*.conf: clawguard adds the Include line at its top so the drop-in is read first."));
    }
    let mut main_done = false;
    for (file, directives) in by_file {
        let text = sshd.text_of(&file).unwrap_or_default();
        let lines: Vec<usize> = directives.iter().map(|d| d.line).collect();
        let mut new = comment_out(text, &lines);
        if file == MAIN && include_line.is_none() {
            new = add_include(&new);
            main_done = true;
        }
        for d in &directives {
            b.warn(
                Layer::Ssh,
                Severity::Warning,
                format!(
                    "{file}:{} sets `{} {}`, which would {} clawguard's setting: the line is commented out.",
                    d.line,
                    d.key,
                    d.value,
                    if d.key == "port" { "add a port to" } else { "override" }
                ),
            );
        }
        b.raw_file(Layer::Ssh, file, new, 0o644);
    }
    if include_line.is_none() && !main_done {
        let text = sshd.text_of(MAIN).unwrap_or_default();
        b.raw_file(Layer::Ssh, MAIN, add_include(text), 0o644);
    }
}

/// The line number of the `Include` that reads our drop-in directory.
fn include_line(main: &str) -> Option<usize> {
    main.lines().enumerate().find_map(|(n, l)| {
        let (k, v) = crate::host::sshd::split_line(l)?;
        (k == "include"
            // Debian's `*.conf`; macOS's `*` reads the drop-in too.
            && v.split_whitespace().any(|p| {
                [format!("{DROPIN_DIR}/*.conf"), format!("{DROPIN_DIR}/*")].iter().any(|w| p == w)
                    || p == "sshd_config.d/*.conf"
                    || p == "sshd_config.d/*"
            }))
        .then_some(n + 1)
    })
}

fn comment_out(text: &str, lines: &[usize]) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for (n, l) in text.lines().enumerate() {
        if lines.contains(&(n + 1)) {
            out.push_str("# disabled by clawguard (see ");
            out.push_str(DROPIN);
            out.push_str("): ");
        }
        out.push_str(l);
        out.push('\n');
    }
    out
}

fn add_include(text: &str) -> String {
    format!(
        "# added by clawguard: read the drop-ins first, so their settings win\nInclude {DROPIN_DIR}/*.conf\n\n{text}"
    )
}
