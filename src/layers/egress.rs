//! Layer 5: squid's allow-list for the agent's proxy sidecar.

use serde::Serialize;

use super::sandbox::{compose_file, squid_conf};
use super::{Builder, compose_argv};
use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{Layer, Severity, Validator};
use crate::render::RenderError;

#[derive(Serialize)]
struct Ctx {
    proxy_port: u16,
    allowed_hosts: Vec<String>,
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Egress;
    if a.skip.contains(&Layer::Sandbox) {
        // The proxy is the sidecar of the agent's compose project: without it there is
        // nothing to run the allow-list, so nothing is written that would pretend to.
        b.warn(layer, Severity::Warning, "The allow-list is enforced by the proxy next to the agent's container, and the sandbox (layer 1) is skipped: nothing is written for it, and the agent can reach any host.");
        return Ok(());
    }
    let ctx = Ctx {
        proxy_port: a.egress.proxy_port.get(),
        allowed_hosts: a.egress.allowed_hosts.iter().map(|h| h.to_string()).collect(),
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
    b.file(
        layer,
        &conf,
        "egress/squid.conf",
        &hosts,
        0o644,
        Some(Validator::Squid { image: a.egress.proxy_image.to_string() }),
    )?;
    let compose = compose_file(a);
    let mut reconf = compose_argv(f);
    // SIGHUP is squid's reconfigure; it works whatever PID squid has in its container
    // (`squid -k reconfigure` refuses to signal PID 1).
    reconf.extend(["-p", "clawguard-agent", "-f", compose.as_str(), "kill", "-s", "HUP", "proxy"]);
    b.on_change(layer, &reconf, "the proxy reads the new allow-list (the agent keeps running)", &[conf.as_str()])
        .rerun_needs_old = true;
    Ok(())
}
