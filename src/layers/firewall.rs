//! Layer 4: ufw (deny incoming, allow the SSH port and the extra ports) and fail2ban's
//! sshd jail on the right port and backend.
//!
//! ufw is driven by commands; each one is planned only when the host's ufw state (read
//! from /etc/ufw) shows it is still needed, so a second run plans nothing.

use std::net::IpAddr;

use serde::Serialize;

use super::Builder;
use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{Layer, Severity, Validator};
use crate::render::RenderError;

pub use crate::host::{FAIL2BAN_ADMIN_MARKER as ADMIN_MARKER, FAIL2BAN_JAIL as JAIL};
/// The comment on every ufw rule clawguard adds, so it can find its own rules again.
const COMMENT: &str = "clawguard";
/// The comment on the rule that keeps the old SSH port open during a move.
pub const OLD_SSH: &str = "current SSH port until the new one is confirmed";

#[derive(Serialize)]
struct JailCtx {
    port: String,
    backend: &'static str,
    maxretry: u32,
    findtime: u32,
    bantime: u32,
    incremental: bool,
    ignoreip: Vec<String>,
    admin: Vec<String>,
    admin_marker: &'static str,
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    if let Some(mac) = f.platform.mac() {
        return super::macos::firewall(a, f, mac, b);
    }
    let layer = Layer::Firewall;
    if !f.tools.ufw {
        b.package(layer, "ufw", "the firewall");
    }
    if !f.tools.fail2ban {
        b.package(layer, "fail2ban", "bans addresses after repeated failed logins");
    }
    ufw(a, f, b);

    // Without /var/log/auth.log (Debian 12, Ubuntu 24.04 without rsyslog) sshd logs only
    // to the journal (PITFALLS 9).
    let journal = !f.auth_log;
    // fail2ban's journal backend needs python3-systemd, which Debian's fail2ban only
    // recommends: without it the jail does not start while `-t` passes (PITFALLS 24).
    if journal && !f.packages.contains("python3-systemd") {
        b.package(layer, "python3-systemd", "lets fail2ban read the systemd journal");
    }
    let mut ignoreip = vec!["127.0.0.1/8".to_owned(), "::1".to_owned()];
    ignoreip.extend(a.fail2ban.ignoreip.iter().map(|n| n.to_string()));
    // The address the admin applied from, kept across runs (a later run from a console or
    // a timer must not drop it, nor rewrite the jail).
    let mut admin: Vec<IpAddr> = f.fail2ban_admin_ips.clone();
    if let Some(conn) = &f.ssh_connection
        && !admin.contains(&conn.client)
    {
        admin.push(conn.client);
    }
    admin.retain(|ip| !a.fail2ban.ignoreip.iter().any(|n| n.contains(*ip)));
    for ip in &admin {
        ignoreip.push(ip.to_string());
    }
    if let Some(conn) = &f.ssh_connection
        && admin.contains(&conn.client)
    {
        b.warn(layer, Severity::Note, format!("Your address {} is in fail2ban's ignoreip so a few mistyped logins cannot ban you. If it changes often, list your network in fail2ban.ignoreip instead.", conn.client));
    }
    let ctx = JailCtx {
        port: ssh_ports(a, f).iter().map(u16::to_string).collect::<Vec<_>>().join(","),
        backend: if journal { "systemd" } else { "auto" },
        maxretry: a.fail2ban.maxretry.get(),
        findtime: a.fail2ban.findtime.get(),
        bantime: a.fail2ban.bantime.get(),
        incremental: a.fail2ban.incremental,
        ignoreip,
        admin: admin.iter().map(|a| a.to_string()).collect(),
        admin_marker: ADMIN_MARKER,
    };
    if journal {
        b.warn(
            layer,
            Severity::Note,
            "No /var/log/auth.log on this host: the sshd jail reads the systemd journal (backend = systemd).",
        );
    }
    let expect = vec![
        ("sshd".to_owned(), "maxretry".to_owned(), ctx.maxretry.to_string()),
        ("sshd".to_owned(), "findtime".to_owned(), ctx.findtime.to_string()),
        ("sshd".to_owned(), "bantime".to_owned(), ctx.bantime.to_string()),
    ];
    b.file(layer, JAIL, "firewall/zz-clawguard.local", &ctx, 0o644, Some(Validator::Fail2ban { expect }))?;
    b.on_change(
        layer,
        &["systemctl", "reload-or-restart", "fail2ban"],
        "fail2ban reads the new jail (started if it was not running)",
        &[JAIL],
    );
    // A jail that parses may still not run (no journal backend): check the one that runs.
    let check =
        b.on_change(layer, &["fail2ban-client", "status", "sshd"], "check that the sshd jail really runs", &[JAIL]);
    check.retry_secs = 15;
    check.rerun_needs_old = true;
    Ok(())
}

/// The ports SSH ends up on: the answers' port, or — when the SSH layer is skipped and
/// sshd stays as it is — every port sshd listens on now (opening another one would lock
/// the user out behind the default deny).
pub fn ssh_ports(a: &Answers, f: &Facts) -> Vec<u16> {
    if a.skip.contains(&Layer::Ssh) { f.sshd.ports() } else { vec![a.ssh.port.get()] }
}

/// The ufw commands still needed, in the only safe order: allow rules first, the default
/// deny after them, enable last. Each records the command that takes it back.
fn ufw(a: &Answers, f: &Facts, b: &mut Builder) {
    let layer = Layer::Firewall;
    let ports = ssh_ports(a, f);
    let ssh = ports[0];
    let ufw = &f.ufw;
    if ufw.unreadable {
        b.warn(layer, Severity::Note, "ufw's rules cannot be read without root: the ufw commands below are planned as if none of the rules existed. `sudo clawguard plan` compares with the real ones.");
    }
    let comment = |what: &str| format!("{COMMENT}: {what}");
    let argv = |parts: &[&str]| -> Vec<String> { parts.iter().map(|s| s.to_string()).collect() };
    let mut wanted: Vec<u16> = ports.clone();

    // The port(s) sshd listens on today stay open until the move to the new one is confirmed.
    for old in f.sshd.ports().into_iter().filter(|p| !ports.contains(p)) {
        wanted.push(old);
        if !ufw.has_port_rule("allow", old) && !ufw.has_port_rule("limit", old) {
            let port = format!("{old}/tcp");
            let why = format!("keep port {old} open while you move to {ssh}");
            b.command(layer, &["ufw", "allow", &port, "comment", &comment(OLD_SSH)], why).undo =
                Some(argv(&["ufw", "delete", "allow", &port]));
        }
    }
    let action = if a.firewall.limit_ssh { "limit" } else { "allow" };
    for &ssh in ports.iter().filter(|p| !ufw.has_port_rule(action, **p)) {
        let port = format!("{ssh}/tcp");
        let why = format!("{} SSH on port {ssh}", if action == "limit" { "allow (rate-limited)" } else { "allow" });
        b.command(layer, &["ufw", action, &port, "comment", &comment("SSH")], why).undo =
            Some(argv(&["ufw", "delete", action, &port]));
    }
    for p in &a.firewall.extra_ports {
        wanted.push(p.get());
        if !ufw.has_port_rule("allow", p.get()) {
            let port = format!("{p}/tcp");
            b.command(layer, &["ufw", "allow", &port, "comment", &comment("extra port")], format!("open port {p}"))
                .undo = Some(argv(&["ufw", "delete", "allow", &port]));
        }
    }
    // Rules clawguard added before that the answers no longer ask for (v4 and v6 go together).
    let mut stale: Vec<(String, u16, String)> = Vec::new();
    for rule in &ufw.rules {
        let Some((tuple, hex)) = rule.split_once(" comment=") else { continue };
        let Some(text) = decode_hex(hex).filter(|c| c.starts_with(COMMENT)) else { continue };
        let parts: Vec<&str> = tuple.split_whitespace().collect();
        if let [action, "tcp", port, ..] = parts.as_slice()
            && let Ok(port) = port.parse::<u16>()
            && !wanted.contains(&port)
            && !stale.iter().any(|(a, p, _)| a == action && *p == port)
        {
            stale.push((action.to_string(), port, text));
        }
    }
    for (action, port, text) in stale {
        let p = format!("{port}/tcp");
        b.command(layer, &["ufw", "delete", &action, &p], format!("close port {port}, no longer asked for")).undo =
            Some(argv(&["ufw", &action, &p, "comment", &text]));
    }
    let policy = |p: &str| match p.to_ascii_uppercase().as_str() {
        "DROP" => "deny",
        "REJECT" => "reject",
        _ => "allow",
    };
    if !ufw.default_input.eq_ignore_ascii_case("DROP") {
        // Taken back to the policy the host had; when ufw was not installed yet (nothing
        // recorded), that is the package's own default, deny — never "allow".
        b.command(layer, &["ufw", "default", "deny", "incoming"], "refuse every other incoming connection").undo =
            (!ufw.default_input.is_empty()).then(|| argv(&["ufw", "default", policy(&ufw.default_input), "incoming"]));
    }
    if !ufw.default_output.is_empty() && !ufw.default_output.eq_ignore_ascii_case("ACCEPT") {
        b.command(layer, &["ufw", "default", "allow", "outgoing"], "let the host itself reach out").undo =
            Some(argv(&["ufw", "default", policy(&ufw.default_output), "outgoing"]));
    }
    if !ufw.enabled {
        b.command(layer, &["ufw", "--force", "enable"], "turn the firewall on (after the SSH rule exists)").undo =
            Some(argv(&["ufw", "--force", "disable"]));
    }
    b.warn(
        layer,
        Severity::Note,
        format!("If your provider has a cloud firewall (security group), open TCP {ssh} there too, or the new SSH port is unreachable."),
    );
}

fn decode_hex(hex: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> =
        (0..hex.len()).step_by(2).map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok())).collect();
    String::from_utf8(bytes?).ok()
}
