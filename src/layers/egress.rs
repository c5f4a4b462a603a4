//! Layer 5: squid's allow-list for the agent's proxy sidecar.

use serde::Serialize;

use super::Builder;
use super::sandbox::{compose_file, squid_conf, squid_main};
use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{Layer, Severity, Validator};
use crate::render::RenderError;

/// The compose volume that holds squid's logs (`/var/log/squid` in the proxy).
pub const PROXY_LOG_VOLUME: &str = "proxy-logs";

/// Where the proxy's access log is on the host: in the named volume, under the engine's
/// data root (compose names the volume `PROJECT_VOLUME`).
pub fn proxy_access_log(f: &Facts) -> String {
    let data = if f.docker_data_root.is_empty() { "/var/lib/docker" } else { &f.docker_data_root };
    format!("{data}/volumes/{}_{PROXY_LOG_VOLUME}/_data/access.log", super::sandbox::PROJECT)
}

/// Where the proxy sees the project's proxy directory (`sandbox::proxy_dir`).
pub const PROXY_DIR_IN_PROXY: &str = "/etc/squid/clawguard";

/// Where the proxy finds the certificate its ssl-bump port needs (see [`TUNNEL_PEM`]).
pub const TUNNEL_CERT_IN_PROXY: &str = "/etc/squid/clawguard/tunnel.pem";

/// The certificate and key squid's ssl-bump port must have, though it never decrypts: the
/// proxy only peeks at a tunnel's ClientHello, then splices or closes it. squid shows it
/// to a client whose CONNECT was refused (its way of closing such a tunnel), and nobody
/// trusts it — so it is the same for everyone, not a secret, and never goes into the agent.
pub const TUNNEL_PEM: &str = include_str!("../../assets/egress/tunnel.pem");

/// The tunnel certificate on the host, next to squid.conf in the proxy's directory.
pub fn tunnel_pem(a: &Answers) -> String {
    format!("{}/tunnel.pem", super::sandbox::proxy_dir(a))
}

/// The image the proxy's own image is built on ([`crate::answers::PROXY_IMAGE`]).
pub const PROXY_BASE: &str = "debian:12-slim";

/// [`PROXY_BASE`] as a reference.
pub fn proxy_base() -> crate::answers::ImageRef {
    PROXY_BASE.parse().expect("a valid reference")
}

/// The Dockerfile of the proxy's own image: Debian's squid-openssl on `base` (as pinned,
/// with the tag it was resolved from when it is pinned by digest).
pub fn proxy_dockerfile(base: &str, base_tag: Option<&str>) -> Result<String, RenderError> {
    #[derive(Serialize)]
    struct Build {
        base: String,
        base_tag: Option<String>,
    }
    let ctx = Build { base: base.to_owned(), base_tag: base_tag.map(super::images::comment) };
    crate::render::render("egress/Dockerfile", ctx)
}

#[derive(Serialize)]
struct Ctx {
    proxy_port: u16,
    tunnel_cert: &'static str,
    allowed_hosts: Vec<String>,

    internal_ranges: &'static [&'static str],
    /// static_hosts that point at an internal address: reachable only by their name, at
    /// that address, when the name is also allowed.
    static_exceptions: Vec<Static>,
}

#[derive(Serialize)]
struct Static {
    name: String,
    addr: String,
}

/// Destinations the agent never reaches whatever name leads there: loopback, private,
/// shared (CGNAT), link-local (cloud metadata), benchmarking, multicast and reserved
/// ranges, IPv4 and IPv6. (NAT64's 64:ff9b::/96 is not in it: on an IPv6-only host every
/// IPv4 API would be behind it.)
pub const INTERNAL_RANGES: &[&str] = &[
    "0.0.0.0/8",
    "10.0.0.0/8",
    "100.64.0.0/10",
    "127.0.0.0/8",
    "169.254.0.0/16",
    "172.16.0.0/12",
    "192.0.0.0/24",
    "192.168.0.0/16",
    "198.18.0.0/15",
    "224.0.0.0/3",
    // squid keeps IPv4 as IPv4-mapped IPv6: `::ffff:0:0/96` would be every IPv4 address,
    // and the IPv4 ranges above already cover the mapped ones.
    "::/128",
    "::1",
    "fc00::/7",
    "fe80::/10",
    "ff00::/8",
];

/// Whether `addr` lies in one of [`INTERNAL_RANGES`].
pub fn is_internal(addr: std::net::IpAddr) -> bool {
    use std::net::IpAddr;
    match addr {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            o[0] == 0
                || o[0] == 10
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || o[0] == 127
                || (o[0] == 169 && o[1] == 254)
                || (o[0] == 172 && (16..32).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 192 && o[1] == 168)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 224
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            v6.is_unspecified()
                || v6.is_loopback()
                || v6.to_ipv4_mapped().is_some_and(|v4| is_internal(IpAddr::V4(v4)))
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] & 0xff00) == 0xff00
        }
    }
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Egress;
    if a.skip.contains(&Layer::Sandbox) {
        // The proxy is the sidecar of the agent's compose project: without it there is
        // nothing to run the allow-list, so nothing is written that would pretend to.
        b.warn(layer, Severity::Warning, "The allow-list is enforced by the proxy next to the agent's container, and the sandbox (layer 1) is skipped: nothing is written for it, and the agent can reach any host.");
        return Ok(());
    }
    let mut static_exceptions = Vec::new();
    for h in a.egress.static_hosts.iter().filter(|h| is_internal(h.addr)) {
        let allowed = a.egress.allowed_hosts.iter().any(|p| h.name.covered_by(p));
        b.warn(
            layer,
            Severity::Warning,
            if allowed {
                format!("static_hosts: `{}` points inside ({}), and the agent may reach it there: an exception to the rule that the agent never reaches this host's or its networks' addresses. Remove it if the agent does not need it.", h.name, h.addr)
            } else {
                format!("static_hosts: `{}` points inside ({}) and is not in allowed_hosts: the agent cannot reach it (add it to allowed_hosts to make it an exception).", h.name, h.addr)
            },
        );
        static_exceptions.push(Static { name: h.name.to_string(), addr: h.addr.to_string() });
    }
    let ctx = Ctx {
        proxy_port: a.egress.proxy_port.get(),
        tunnel_cert: TUNNEL_CERT_IN_PROXY,
        allowed_hosts: a.egress.allowed_hosts.iter().map(|h| h.to_string()).collect(),
        internal_ranges: INTERNAL_RANGES,
        static_exceptions,
    };
    if ctx.allowed_hosts.is_empty() {
        b.warn(
            layer,
            Severity::Warning,
            "The allow-list is empty: the agent can reach no host at all (not even its model's API).",
        );
        // squid needs at least one value in an acl; a name under .invalid never resolves.
    }
    let hosts =
        if ctx.allowed_hosts.is_empty() { Ctx { allowed_hosts: vec!["nothing.invalid".into()], ..ctx } } else { ctx };
    let conf = squid_conf(a);
    let pem = tunnel_pem(a);
    b.raw_file(layer, &pem, TUNNEL_PEM.to_owned(), 0o644);
    b.raw_file(
        layer,
        squid_main(a),
        format!("# Managed by clawguard: the proxy's configuration is {PROXY_DIR_IN_PROXY}/squid.conf (the project's\n# proxy/squid.conf), mounted with its directory so that a new one is read on reconfigure.\ninclude {PROXY_DIR_IN_PROXY}/squid.conf\n"),
        0o644,
    );
    b.file(
        layer,
        &conf,
        "egress/squid.conf",
        &hosts,
        0o644,
        // The image as the compose file pins it (what runs), pulled before the checks.
        Some(Validator::Squid { image: super::images::reference(&a.egress.proxy_image, f) }),
    )?;
    let compose = compose_file(a);
    // SIGHUP is squid's reconfigure; it works whatever PID squid has in its container
    // (`squid -k reconfigure` refuses to signal PID 1).
    let reconf = super::sandbox::project_argv(f, &compose, &["kill", "-s", "HUP", "proxy"]);
    b.on_change(
        layer,
        &reconf,
        "the proxy reads the new allow-list (the agent keeps running)",
        &[conf.as_str(), pem.as_str()],
    )
    .rerun_needs_old = true;
    Ok(())
}
