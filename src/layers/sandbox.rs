//! Layer 1: the agent's compose project — non-root, read-only, no capabilities, limits,
//! an internal network whose only way out is the proxy, secrets as files.

use serde::Serialize;

use super::{Builder, compose_argv, openclaw};
use crate::answers::{Answers, Profile};
use crate::host::{Facts, ImageFact};
use crate::plan::{Check, Layer, Refusal, Severity, Validator};
use crate::render::RenderError;

/// Inside the container, where the agent's log directory is mounted.
pub const CONTAINER_LOG_DIR: &str = "/var/log/agent";

pub fn compose_file(a: &Answers) -> String {
    a.sandbox.project_dir.join("docker-compose.yml")
}

/// The services of the agent's compose project, as the plan's compose file has them.
pub fn services(a: &Answers) -> Vec<&'static str> {
    let mut out = vec!["agent"];
    if !a.skip.contains(&Layer::Egress) {
        out.push("proxy");
    }
    if a.sandbox.publish_gateway {
        out.push("gateway");
    }
    out
}

/// The proxy's own directory in the project, mounted whole into the proxy at
/// [`super::egress::PROXY_DIR_IN_PROXY`]: a file clawguard replaces there (written anew and
/// renamed into place) is what squid reads on its next reconfigure. A file mounted by
/// itself stays the old file in the container until the container is recreated.
pub fn proxy_dir(a: &Answers) -> String {
    a.sandbox.project_dir.join("proxy")
}

/// squid.conf: the allow-list and the tunnel rules, in [`proxy_dir`].
pub fn squid_conf(a: &Answers) -> String {
    format!("{}/squid.conf", proxy_dir(a))
}

/// What the proxy's image reads as /etc/squid/squid.conf: one line that includes
/// [`squid_conf`]. It never changes, so its single-file mount never goes stale.
pub fn squid_main(a: &Answers) -> String {
    a.sandbox.project_dir.join("squid.conf")
}

pub fn logging_env(a: &Answers) -> String {
    a.sandbox.project_dir.join("agent-logging.env")
}

#[derive(Serialize)]
struct Ctx {
    profile: String,
    image: String,
    /// The tags the digests were resolved from (a comment next to each, the record a
    /// re-run reads: `answers::recorded_pins`).
    image_tag: Option<String>,
    proxy_tag: Option<String>,
    gateway_tag: Option<String>,
    /// The agent's health probe (the openclaw profile's).
    healthcheck: Option<Vec<String>>,
    command: Vec<String>,
    user: String,
    tmpfs_size: String,
    cpus: Option<String>,
    memory: String,
    pids: u32,
    environment: Vec<(String, String)>,
    mounts: Vec<String>,
    secrets: Vec<String>,
    secrets_dir: String,
    publish: bool,
    gateway_port: u16,
    proxy_image: String,
    cap_add: Vec<String>,
    extra_hosts: Vec<String>,
    gateway_image: String,
    gateway_command: Vec<String>,
    /// The proxy sidecar and the internal network (the egress layer is on).
    egress: bool,
    /// The agent's runtime when it is not the engine's default (`runsc`).
    runtime: Option<String>,
    proxy_log_volume: &'static str,
    /// Where the proxy finds its own directory (squid.conf, the tunnel certificate).
    proxy_dir_in_proxy: &'static str,
    /// The logging settings file (the monitoring layer writes it).
    logging_env: bool,
}

/// The agent's compose project (`docker compose -p`): its containers carry this label.
pub const PROJECT: &str = "clawguard-agent";

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let s = &a.sandbox;
    let layer = Layer::Sandbox;
    // Without the egress layer there is no proxy: the agent gets an ordinary network (the
    // plan says it can reach any host), never a proxy variable that points at nothing.
    let egress = !a.skip.contains(&Layer::Egress);
    let proxy = format!("http://proxy:{}", a.egress.proxy_port);
    let proxy_env = proxy.clone();
    // A directory of the agent that is, holds or lies in a login user's ~/.ssh would let
    // the agent add a key there and log in as that user.
    for (field, dir) in [
        ("state_dir", &s.state_dir),
        ("workspace", &s.workspace),
        ("config_dir", &s.config_dir),
        ("log_dir", &a.monitoring.log_dir),
    ] {
        for u in f.users.iter().filter(|u| dir.overlaps(&format!("{}/.ssh", u.home.trim_end_matches('/')))) {
            b.block(layer, Refusal::Unsafe, format!("{field} `{dir}` would put {}'s ~/.ssh (where SSH keys that log in as {} live) inside the agent's container: give the agent a directory of its own, such as /srv/openclaw/{field}", u.name, u.name));
        }
    }
    // A directory that is a link (put there by hand, by the agent through a parent it
    // writes, or by a restore) is mounted where it leads: the real place is checked.
    let project = s.project_dir.to_string();
    for (field, dir, writable) in a.agent_mounts() {
        let Some((_, real)) = f.linked_mounts.iter().find(|(d, _)| d == dir.as_str()) else { continue };
        let ssh = f.users.iter().find(|u| {
            let real: crate::answers::types::AbsPath = real.parse().unwrap_or_else(|_| "/".parse().expect("a path"));
            real.overlaps(&format!("{}/.ssh", u.home.trim_end_matches('/')))
        });
        let what = crate::answers::forbidden_mount(real, writable, &project)
            .or_else(|| ssh.map(|u| format!("{}'s ~/.ssh", u.name)));
        if let Some(what) = what {
            b.block(layer, Refusal::Unsafe, format!("{field} `{dir}` is a symbolic link to `{real}`: Docker mounts where the link leads, which would give the agent {what}. Remove the link (and find out who made it), then run clawguard again."));
        }
    }
    let mut environment: Vec<(String, String)> = Vec::new();
    if egress {
        environment.extend([
            ("HTTP_PROXY".into(), proxy.clone()),
            ("HTTPS_PROXY".into(), proxy.clone()),
            ("http_proxy".into(), proxy.clone()),
            ("https_proxy".into(), proxy_env),
            ("NO_PROXY".into(), "localhost,127.0.0.1,::1,proxy".into()),
            ("no_proxy".into(), "localhost,127.0.0.1,::1,proxy".into()),
        ]);
    }
    let src = |p: &dyn std::fmt::Display| bind_source(f, &p.to_string());
    let log_mount = format!("{}:{CONTAINER_LOG_DIR}:rw", src(&a.monitoring.log_dir));
    let keys = agent_keys(a, f);
    let mounts = match s.profile {
        Profile::Openclaw => {
            // Node's fetch ignores the proxy variables without this (OpenClaw #20549), and
            // the heap must stay below the container's memory limit or it is OOM-killed.
            if egress {
                environment.push(("NODE_USE_ENV_PROXY".into(), "1".into()));
            }
            environment.push(("NODE_OPTIONS".into(), format!("--max-old-space-size={}", s.memory.as_mib() * 3 / 4)));
            // The agent's uid has no passwd entry in the image: its home is set here.
            environment.push(("HOME".into(), "/home/node".into()));
            environment.push(("OPENCLAW_STATE_DIR".into(), "/home/node/.openclaw".into()));
            environment.push((
                "OPENCLAW_CONFIG_PATH".into(),
                format!("{}/{}", openclaw::CONTAINER_CONFIG_DIR, crate::host::agent::CONFIG),
            ));
            // What OpenClaw writes besides its state: caches (control UI assets, npm's
            // cache for plugin and skill installs), on the /tmp tmpfs — not over the
            // home's .cache, where a -browser image keeps its Chromium.
            environment.push(("XDG_CACHE_HOME".into(), "/tmp/cache".into()));
            environment.push(("npm_config_cache".into(), "/tmp/npm".into()));
            openclaw::plan(a, f, b, &keys, egress.then_some(proxy.as_str()));
            vec![
                format!("{}:/home/node/.openclaw:rw", src(&s.state_dir)),
                format!("{}:/home/node/.openclaw/workspace:rw", src(&s.workspace)),
                format!("{}:{}:ro", src(&s.config_dir), openclaw::CONTAINER_CONFIG_DIR),
                format!("{}:{}:rw", src(&openclaw::backups_dir(a)), openclaw::CONTAINER_BACKUPS),
                log_mount,
            ]
        }
        Profile::Generic => vec![
            format!("{}:/state:rw", src(&s.state_dir)),
            format!("{}:/workspace:rw", src(&s.workspace)),
            format!("{}:/config:ro", src(&s.config_dir)),
            log_mount,
        ],
    };
    let compose = compose_file(a);
    let what = match s.profile {
        Profile::Openclaw => "OpenClaw's image",
        Profile::Generic => "the agent's image",
    };
    let image = super::images::get(&s.image, what, &image_how(a, f), f, b, &compose);
    // The parts that enforce the sandbox are pinned like the agent: the proxy (unless
    // clawguard builds it here) and the forwarder.
    let proxy = (egress && a.egress.proxy_image.as_str() != crate::answers::PROXY_IMAGE).then(|| {
        let how = "set egress.proxy_image to a squid image built with OpenSSL that you can pull, or leave it at its default (built here)";
        let pinned = super::images::get(&a.egress.proxy_image, "the proxy's image", how, f, b, &compose);
        // squid.conf's checker runs this very image: it is pulled (by its digest) before
        // the checks, not only before `up`.
        if pinned.pull.is_some() {
            b.preflight(layer, Check::Image { image: pinned.reference.clone(), how: how.to_owned() }, &[compose.as_str()]);
        }
        pinned
    });
    let gateway = s.publish_gateway.then(|| {
        super::images::get(
            &s.gateway_image,
            "the forwarder's image",
            "set sandbox.gateway_image to a socat image you can pull",
            f,
            b,
            &compose,
        )
    });
    let ctx = Ctx {
        profile: s.profile.to_string(),
        image: image.reference.clone(),
        image_tag: image.tag.clone(),
        healthcheck: (s.profile == Profile::Openclaw)
            .then(|| HEALTHCHECK.iter().map(|a| a.replace("{port}", &s.gateway_port.to_string())).collect()),
        command: s.command.iter().map(|c| c.to_string()).collect(),
        user: {
            let (uid, gid) = agent_ids(a, f);
            format!("{uid}:{gid}")
        },
        tmpfs_size: s.tmpfs_size.to_string(),
        // compose refuses to start where CPU quotas are not supported, whatever else.
        cpus: s.require_limits.then(|| s.cpus.to_string()),
        memory: s.memory.to_string(),
        pids: s.pids.get(),
        environment,
        mounts,
        secrets: keys,
        secrets_dir: bind_source(f, super::secrets_dir(f.platform.kind())),
        publish: s.publish_gateway,
        gateway_port: s.gateway_port.get(),
        proxy_image: proxy.as_ref().map_or_else(|| a.egress.proxy_image.to_string(), |p| p.reference.clone()),
        proxy_tag: proxy.as_ref().and_then(|p| p.tag.clone()),
        cap_add: s.cap_add.iter().map(|c| c.to_string()).collect(),
        extra_hosts: a.egress.static_hosts.iter().map(|h| format!("{}:{}", h.name, h.addr)).collect(),
        gateway_image: gateway.as_ref().map_or_else(|| s.gateway_image.to_string(), |g| g.reference.clone()),
        gateway_tag: gateway.as_ref().and_then(|g| g.tag.clone()),
        gateway_command: vec![
            format!("TCP-LISTEN:{},fork,reuseaddr", s.gateway_port),
            format!("TCP:agent:{}", s.gateway_port),
        ],
        egress,
        runtime: (s.runtime == crate::answers::Runtime::Runsc && f.platform.mac().is_none())
            .then(|| s.runtime.to_string()),
        proxy_log_volume: super::egress::PROXY_LOG_VOLUME,
        proxy_dir_in_proxy: super::egress::PROXY_DIR_IN_PROXY,
        logging_env: !a.skip.contains(&Layer::Monitoring),
    };
    agent_identity(a, f, b);
    b.file(layer, &compose, "sandbox/docker-compose.yml", &ctx, 0o644, Some(Validator::Compose))?;

    if let Some(mac) = f.platform.mac() {
        super::macos::engine(a, mac, b);
    } else if !f.tools.docker {
        b.package(layer, "docker.io", "the container engine that runs the agent");
        // From Debian 13 on, the `docker` command is a package of its own that docker.io
        // only recommends.
        let major = f.os.version_id.split('.').next().and_then(|v| v.parse::<u32>().ok());
        if f.os.id == "debian" && major.is_none_or(|v| v >= 13) {
            b.package(layer, "docker-cli", "the `docker` command (a package of its own since Debian 13)");
        }
    }
    if !f.tools.compose && f.platform.mac().is_none() {
        b.package(layer, "docker-compose", "starts the agent's compose project");
    }
    // What would make `up` fail after the files are written is found before (DESIGN 7).
    b.preflight(layer, Check::Engine, &[compose.as_str()]);
    if s.require_limits {
        b.preflight(layer, Check::Limits, &[compose.as_str()]);
    } else {
        b.warn(layer, Severity::Warning, "sandbox.require_limits is off: the agent runs without a CPU limit, and without the memory and pids limits where the kernel cannot enforce them. A runaway agent can then starve this host.");
    }
    if egress && a.egress.proxy_image.as_str() == crate::answers::PROXY_IMAGE {
        let base = super::images::pin(&super::egress::proxy_base(), "the proxy's base image", f, layer, b);
        let dockerfile = super::egress::proxy_dockerfile(&base.reference, base.tag.as_deref())?;
        if !matches!(f.images.get(crate::answers::PROXY_IMAGE), Some(ImageFact::Here { .. })) {
            b.warn(layer, Severity::Note, format!("The proxy's image ({}) is built on this host from Debian 12's squid-openssl, the squid that can check a tunnel's TLS name: the build fetches {} and the package from deb.debian.org.", crate::answers::PROXY_IMAGE, base.reference));
        }
        b.preflight(
            layer,
            Check::ProxyImage { image: crate::answers::PROXY_IMAGE.to_owned(), dockerfile },
            &[compose.as_str()],
        );
    }
    if s.publish_gateway {
        b.preflight(
            layer,
            Check::PortFree {
                port: s.gateway_port.get(),
                // On a Mac the runtime's own process forwards published ports (lsof cuts
                // command names at 9 characters).
                owners: match f.platform.mac() {
                    Some(_) => ["com.docke", "vpnkit-br", "OrbStack", "limactl"].map(String::from).to_vec(),
                    None => vec!["docker-proxy".into()],
                },
                what: format!("sandbox.gateway_port {}", s.gateway_port),
            },
            &[compose.as_str()],
        );
    }
    // Every directory the agent writes exists, the agent's, before its container starts:
    // Docker makes a missing bind source as root, and the agent (not root) then cannot
    // write its state (OpenClaw crash-loops on EACCES).
    let (uid, gid) = agent_ids(a, f);
    let (owner, group) = (uid.to_string(), gid.to_string());
    let mut writable: Vec<(String, &str, &str)> = vec![
        (s.state_dir.to_string(), "0700", "the agent's state directory, the agent's own"),
        (s.workspace.to_string(), "0700", "the agent's workspace, the agent's own"),
        (a.monitoring.log_dir.to_string(), "0750", "the agent's log directory, the agent's own"),
    ];
    if s.profile == Profile::Openclaw {
        // OpenClaw's own backup archives land here; the agent's user writes them.
        writable.push((openclaw::backups_dir(a), "0700", "a directory for OpenClaw's own backup archives"));
    }
    for (dir, mode, why) in &writable {
        b.on_change(
            layer,
            &["install", "-d", "-m", mode, "-o", owner.as_str(), "-g", group.as_str(), dir.as_str()],
            *why,
            &[compose.as_str()],
        )
        .prepares = true;
    }
    super::runtime::plan(a, f, b);
    let up = project_argv(f, &compose, &["up", "-d"]);
    b.on_change(layer, &up, "start or update the agent and its proxy", &[compose.as_str()]).undo =
        Some(project_argv(f, &compose, &["down"]));
    if s.profile == Profile::Openclaw {
        let config = s.config_dir.join(crate::host::agent::CONFIG);
        b.on_change(
            layer,
            &project_argv(f, &compose, &["restart", "agent"]),
            "OpenClaw reads its new settings",
            &[config.as_str()],
        )
        .rerun_needs_old = true;
        // Started is not running: the apply waits until the gateway answers its health
        // endpoint (OpenClaw's /healthz, no login needed), from inside the container.
        let mut argv = project_argv(f, &compose, &["exec", "-T", "agent"]);
        argv.extend(HEALTHCHECK.iter().skip(1).map(|a| a.replace("{port}", &s.gateway_port.to_string())));
        let ready = b.on_change(
            layer,
            &argv,
            format!("wait until OpenClaw's gateway answers (up to {} s)", READY_SECS),
            &[compose.as_str(), config.as_str()],
        );
        ready.retry_secs = READY_SECS;
        ready.rerun_needs_old = true;
    }
    if let Some(v) = &f.docker_version
        && !crate::host::docker_dns_fixed(v)
    {
        b.warn(layer, Severity::Warning, format!(
            "Docker engine {v} predates the fix for CVE-2024-29018: containers on internal networks could leak data out through DNS. Upgrade to 26.0.0, 25.0.4 or 23.0.11 or later (a distribution may have backported the fix: check its changelog)."
        ));
    }
    if f.tools.docker && f.platform.mac().is_none() {
        b.warn(layer, Severity::Note, "Ports Docker publishes bypass ufw. clawguard publishes nothing but 127.0.0.1; check `docker ps` for other containers that publish on 0.0.0.0.");
    }
    if s.publish_gateway {
        b.warn(layer, Severity::Note, format!("The gateway is published on 127.0.0.1:{} only; reach it from elsewhere through an SSH tunnel (ssh -L {0}:127.0.0.1:{0}).", s.gateway_port));
    }
    Ok(())
}

/// How long the apply waits for OpenClaw's gateway to answer after it (re)starts: a first
/// start prepares its state and plugins (about a minute on a small host).
pub const READY_SECS: u32 = 240;

/// OpenClaw's health probe (its own compose file's): `/healthz` on the gateway's port,
/// inside the container, with the Node it runs on. `{port}` is the gateway's.
const HEALTHCHECK: [&str; 4] = [
    "CMD",
    "node",
    "-e",
    "fetch('http://127.0.0.1:{port}/healthz').then(r=>{if(!r.ok){console.error('the gateway answered HTTP '+r.status);process.exit(1)}},e=>{console.error('the gateway does not answer yet: '+(e.cause?.code||e.message));process.exit(1)})",
];

/// How to get the agent's image when it is neither here nor pullable.
fn image_how(a: &Answers, f: &Facts) -> String {
    match a.sandbox.profile {
        Profile::Openclaw if a.sandbox.image.is_local_build() => {
            let small = f.memory_mib.is_some_and(|m| m < 2048);
            format!(
                "{}OpenClaw's image is built on this host from its source: git clone https://github.com/openclaw/openclaw && cd openclaw && sudo docker build -t {} . (the build needs 2 GB of memory). Or leave sandbox.image at OpenClaw's official image, {}, which is pulled",
                if small { "this host has less than the 2 GB of memory building OpenClaw needs: " } else { "" },
                a.sandbox.image,
                crate::answers::OPENCLAW_IMAGE,
            )
        }
        Profile::Openclaw => format!(
            "check that this host reaches its registry (`sudo docker pull {}` says why), then run clawguard again; or build OpenClaw here (2 GB of memory): git clone https://github.com/openclaw/openclaw && cd openclaw && sudo docker build -t openclaw:local . and set sandbox.image = \"openclaw:local\"",
            a.sandbox.image
        ),
        Profile::Generic => {
            format!("build or pull {} on this host, or set sandbox.image to an image you can pull", a.sandbox.image)
        }
    }
}

/// A bind mount's source as the engine is given it: on a Mac the path it resolves to
/// (`/private/var/…` for `/var/…`): Docker Desktop compares a bind's source with its shared
/// directories literally and refuses `/var/…` as not shared (docker/for-mac#1298).
fn bind_source(f: &Facts, path: &str) -> String {
    if f.platform.mac().is_some() { super::macos::resolved(path) } else { path.to_owned() }
}

/// The uid and gid the agent runs as and owns its files by: the answers' on Linux; on a
/// Mac, the user who runs the container runtime. Its VM reads shared files with that
/// user's rights (Docker Desktop: "file access is mapped to host user", docker/for-mac#117;
/// colima and OrbStack run their VM as that user too), so files of uid 64000 with mode
/// 0600/0700 would be unreadable inside; Docker Desktop shows a bind mount's files as the
/// container user's own (docker-archive/classicswarm#2971), and in a VM whose shares keep
/// the host's owners the same uid is their owner. Inside the VM that uid is no account of
/// this Mac.
pub fn agent_ids(a: &Answers, f: &Facts) -> (u32, u32) {
    match f.platform.mac().and_then(|m| m.runtime_user.as_ref()) {
        Some(u) => (u.uid, u.gid),
        None => (a.sandbox.uid.get(), a.sandbox.gid.get()),
    }
}

/// The agent's uid and gid must be nobody's with power on this host: without a user
/// namespace a container's uid is the host's (PITFALLS 26), so an escape lands as that
/// user — on cloud images uid 1000 is the admin with passwordless sudo.
fn agent_identity(a: &Answers, f: &Facts, b: &mut Builder) {
    if let Some(mac) = f.platform.mac() {
        match (&mac.runtime_user, mac.docker) {
            (Some(u), Some(rt)) => b.warn(Layer::Sandbox, Severity::Note, format!("On this Mac the agent's files are {}'s (uid {}), who runs {}: its VM reads shared files with that user's rights, so files of another uid would be unreadable inside. The agent runs as uid {} inside the VM, which is no account of this Mac (sandbox.uid and sandbox.gid apply on Linux).", u.name, u.uid, rt.name(), u.uid)),
            (None, Some(rt)) => b.warn(Layer::Sandbox, Severity::Warning, format!("Who runs {} cannot be told (its socket is not there yet): the agent's files are made for uid {}, which {}'s VM cannot read if another user runs it. Start {} as its user, then run clawguard again.", rt.name(), a.sandbox.uid, rt.name(), rt.name())),
            _ => {}
        }
        if mac.runtime_user.is_some() {
            return;
        }
    }
    let (uid, gid) = (a.sandbox.uid.get(), a.sandbox.gid.get());
    let fix =
        "set sandbox.uid and sandbox.gid to a number no account uses (the default, 64000, is kept free for the agent)";
    for acct in f.accounts.iter().filter(|acct| acct.uid == uid) {
        if acct.login_shell {
            b.block(Layer::Sandbox, Refusal::Unsafe, format!("The agent's uid {uid} is the login user `{}`: a container escape would land as that user{}. {fix}.", acct.name,
                if acct.privileged_groups.is_empty() { String::new() } else { format!(", a member of {}", acct.privileged_groups.join(", ")) }));
        } else if !acct.privileged_groups.is_empty() {
            b.block(
                Layer::Sandbox,
                Refusal::Unsafe,
                format!(
                    "The agent's uid {uid} is `{}`, a member of {}: {fix}.",
                    acct.name,
                    acct.privileged_groups.join(", ")
                ),
            );
        } else {
            b.warn(Layer::Sandbox, Severity::Note, format!("The agent's uid {uid} is the account `{}` (no login, no privileged group): files the agent writes belong to it.", acct.name));
        }
    }
    if let Some((group, _)) = f.privileged_gids.iter().find(|(_, g)| *g == gid) {
        b.block(
            Layer::Sandbox,
            Refusal::Unsafe,
            format!("The agent's gid {gid} is the group `{group}`, which is as good as root here: {fix}."),
        );
    }
}

/// The keys the agent's container gets as files: the answers' services that are in the
/// vault (compose refuses a secret whose file is missing), and for OpenClaw its gateway
/// token. `clawguard secrets unlock` writes the same list.
pub fn agent_keys(a: &Answers, f: &Facts) -> Vec<String> {
    if a.skip.contains(&Layer::Credentials) {
        return Vec::new();
    }
    // clawguard's own keys never: the answers refuse them, and this holds if they did not.
    let mut keys: Vec<String> = a
        .credentials
        .services
        .iter()
        .filter(|c| !c.is_clawguards())
        .map(|c| c.to_string())
        .filter(|c| f.vault_keys.contains(c))
        .collect();
    let gateway = openclaw::GATEWAY_KEY.to_owned();
    if openclaw::wants_gateway_key(a) && f.vault_keys.contains(&gateway) && !keys.contains(&gateway) {
        keys.push(gateway);
    }
    keys
}

/// `docker compose -p clawguard -f COMPOSE VERB…`: every command on the agent's project
/// (apply, the proxy's reload, the pause around a backup) names it the same way.
pub fn project_argv(facts: &Facts, compose: &str, verb: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = compose_argv(facts).into_iter().map(str::to_owned).collect();
    argv.extend(["-p", PROJECT, "-f", compose].map(str::to_owned));
    argv.extend(verb.iter().map(|s| s.to_string()));
    argv
}

/// Container ids in `docker ps -q` output; anything else (a runner without an engine may
/// answer in words) is not one.
pub fn container_ids(ps: &str) -> Vec<String> {
    ps.split_whitespace()
        .filter(|w| w.len() >= 12 && w.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Resolved;

    const OPENCLAW: &str = crate::answers::OPENCLAW_IMAGE;

    fn plan_with(fact: Option<ImageFact>) -> crate::plan::Plan {
        let a = Answers::default();
        let mut f = Facts::default();
        f.tools.docker = true;
        f.tools.compose = true;
        if let Some(fact) = fact {
            f.images.insert(a.sandbox.image.to_string(), fact);
        }
        crate::layers::plan(&a, &f).unwrap()
    }

    fn compose(p: &crate::plan::Plan) -> &str {
        &p.file(&compose_file(&Answers::default())).unwrap().content
    }

    #[test]
    fn the_proxy_the_forwarder_and_the_proxys_base_are_pinned_and_recorded() {
        let (dp, dg, db) = (
            format!("sha256:{}", "a".repeat(64)),
            format!("sha256:{}", "b".repeat(64)),
            format!("sha256:{}", "d".repeat(64)),
        );
        let mut a = Answers::default();
        a.sandbox.publish_gateway = true;
        let mut f = Facts::default();
        f.tools.docker = true;
        f.tools.compose = true;
        f.images
            .insert("alpine/socat:latest".into(), ImageFact::Remote(Resolved { digest: dg.clone(), bytes: 5_000_000 }));
        f.images.insert("debian:12-slim".into(), ImageFact::Remote(Resolved { digest: db.clone(), bytes: 29_000_000 }));
        let plan = crate::layers::plan(&a, &f).unwrap();
        let text = &plan.file(&compose_file(&a)).unwrap().content;
        assert!(
            text.contains(&format!(
                "# Tag \"latest\", resolved to this digest when clawguard planned it.\n    image: \"alpine/socat@{dg}\""
            )),
            "{text}"
        );
        assert!(argvs(&plan).contains(&format!("docker pull alpine/socat@{dg}")));
        // The proxy clawguard builds: its base pinned in the Dockerfile the build uses.
        let dockerfile = plan.preflight.iter().find_map(|p| match &p.check {
            Check::ProxyImage { dockerfile, .. } => Some(dockerfile.clone()),
            _ => None,
        });
        let dockerfile = dockerfile.expect("the proxy's image is built");
        assert!(
            dockerfile.contains(&format!(
                "# Tag \"12-slim\", resolved to this digest when clawguard planned it.\nFROM debian@{db}"
            )),
            "{dockerfile}"
        );
        // Both are records a re-run reads back, offline.
        let mut pins = crate::answers::recorded_pins(text);
        pins.extend(crate::answers::recorded_pins(&dockerfile));
        assert!(pins.contains(&("alpine/socat:latest".to_owned(), dg.clone())), "{pins:?}");
        assert!(pins.contains(&("debian:12-slim".to_owned(), db.clone())), "{pins:?}");
        // A proxy image the answers name is pinned like the forwarder.
        a.egress.proxy_image = "ghcr.io/example/squid:6".parse().unwrap();
        f.images.insert("ghcr.io/example/squid:6".into(), ImageFact::Here { digest: Some(dp.clone()) });
        let plan = crate::layers::plan(&a, &f).unwrap();
        let text = &plan.file(&compose_file(&a)).unwrap().content;
        assert!(text.contains(&format!("image: \"ghcr.io/example/squid@{dp}\"")), "{text}");
        assert!(!plan.preflight.iter().any(|p| matches!(p.check, Check::ProxyImage { .. })), "nothing is built");
    }

    fn argvs(p: &crate::plan::Plan) -> Vec<String> {
        p.commands.iter().map(|c| c.argv.join(" ")).collect()
    }

    #[test]
    fn the_agents_image_is_pinned_where_its_digest_is_known_and_pulled_only_when_missing() {
        let d = format!("sha256:{}", "c".repeat(64));
        let pinned = format!("ghcr.io/openclaw/openclaw@{d}");
        // Its registry said: pulled by the digest, then named by its tag; the compose file pins it.
        let remote = plan_with(Some(ImageFact::Remote(Resolved { digest: d.clone(), bytes: 412_000_000 })));
        assert!(compose(&remote).contains(&format!("image: \"{pinned}\"")), "{}", compose(&remote));
        assert!(compose(&remote).contains("# Tag \"2026.9.6\", resolved to this digest"), "{}", compose(&remote));
        let cmds = argvs(&remote);
        let at = |s: &str| cmds.iter().position(|c| c.starts_with(s)).unwrap_or_else(|| panic!("{s}: {cmds:#?}"));
        assert!(
            at(&format!("docker pull {pinned}"))
                < at(&format!("docker tag {pinned} ghcr.io/openclaw/openclaw:2026.9.6"))
        );
        assert!(at("docker tag") < at("docker-compose") || at("docker tag") < at("docker compose"), "{cmds:#?}");
        let why = &remote.commands[at("docker pull")].why;
        assert!(why.contains("412 MB"), "the review says how big: {why}");
        assert!(
            !remote
                .preflight
                .iter()
                .any(|p| matches!(p.check, Check::Image { ref image, .. } if image.contains("openclaw")))
        );
        // Already here, pulled at that digest: the same compose file, nothing pulled.
        let here = plan_with(Some(ImageFact::Here { digest: Some(d.clone()) }));
        assert_eq!(compose(&here), compose(&remote));
        assert!(!argvs(&here).iter().any(|c| c.starts_with("docker pull") || c.starts_with("docker tag")));
        // Nobody could say: the tag, a warning, and the readiness check pulls it.
        let unknown = plan_with(Some(ImageFact::Unknown("cannot reach ghcr.io".into())));
        assert!(compose(&unknown).contains("image: \"ghcr.io/openclaw/openclaw:2026.9.6\""));
        assert!(unknown.warnings.iter().any(|w| w.text.contains("could not be looked up (cannot reach ghcr.io)")));
        assert!(unknown.preflight.iter().any(
            |p| matches!(p.check, Check::Image { ref image, .. } if image == "ghcr.io/openclaw/openclaw:2026.9.6")
        ));
        // Neither answers now (offline, no root), but the applied compose file recorded the
        // digest for this tag: the same file, nothing pulled, no warning.
        let dir = tempfile::tempdir().unwrap();
        let root = crate::target::Root::new(dir.path());
        let path = dir.path().join(compose_file(&Answers::default()).trim_start_matches('/'));
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, compose(&remote)).unwrap();
        let mut f = Facts::default().for_answers(&root, &Answers::default());
        assert_eq!(f.recorded_images.get("ghcr.io/openclaw/openclaw:2026.9.6"), Some(&d));
        f.tools.docker = true;
        f.tools.compose = true;
        f.images.insert(OPENCLAW.into(), ImageFact::Unknown("cannot reach ghcr.io".into()));
        let offline = crate::layers::plan(&Answers::default(), &f).unwrap();
        assert_eq!(compose(&offline), compose(&remote));
        assert!(!argvs(&offline).iter().any(|c| c.starts_with("docker pull")));
        assert!(!offline.warnings.iter().any(|w| w.text.contains("could not be looked up")));
        // Another tag in the answers: the record is not for it.
        let mut other = Answers::default();
        other.sandbox.image = "ghcr.io/openclaw/openclaw:2026.10.6".parse().unwrap();
        let p = crate::layers::plan(&other, &f).unwrap();
        assert!(
            p.file(&compose_file(&other)).unwrap().content.contains("image: \"ghcr.io/openclaw/openclaw:2026.10.6\"")
        );
        // OpenClaw's readiness: its /healthz, from inside, retried; the compose file's health check too.
        let ready = remote.commands.iter().find(|c| c.argv.contains(&"exec".to_owned())).expect("a readiness step");
        assert_eq!(ready.retry_secs, READY_SECS);
        assert!(ready.argv.iter().any(|a| a.contains("http://127.0.0.1:18789/healthz")), "{:?}", ready.argv);
        assert!(compose(&remote).contains("healthcheck:"), "{}", compose(&remote));
    }
}
