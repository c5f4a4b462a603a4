//! The agent's runtime: runc (the engine's default) or gVisor (`sandbox.runtime = "runsc"`),
//! which Debian packages as `runsc` and the engine learns from its daemon.json. The file is
//! planned like any other (so an apply's backup and a rollback put the old one back), with
//! the user's own settings kept, and the engine reloads it (SIGHUP: running containers keep
//! running).

use super::Builder;
use crate::answers::{Answers, Runtime};
use crate::host::{DOCKER_DAEMON_JSON, Facts};
use crate::plan::{Layer, Refusal, Severity};

/// Where Debian's runsc package puts gVisor.
pub const RUNSC: &str = "/usr/bin/runsc";

/// gVisor's flags as the engine runs it. gVisor's own network stack refuses to start under
/// Debian's docker.io in a network namespace of the engine's ("cannot run with network
/// enabled in root network namespace", runsc 2022-12-19); `--network=host` gives the
/// sandbox the container's own network namespace, so the agent's network (internal, the
/// proxy its one way out) is unchanged, and only the network stack is the host kernel's.
pub const RUNSC_ARGS: &[&str] = &["--network=host"];

/// What the plan tells about gVisor's cost, as `tests/openclaw.rs` measured it with the
/// real OpenClaw 2026.9.6 (`cargo test --test openclaw -- --nocapture` prints both), on
/// clawguard's test machine: 2 CPUs, itself a VM, Debian's runsc on its ptrace platform.
pub const COST: &str = "gVisor costs start time and speed: measured with the real OpenClaw on clawguard's test machine (2 CPUs, itself a VM, gVisor's ptrace platform), its gateway answered 85 s after the start under runsc against 15 s under runc, and a model call through OpenClaw's CLI took 84 s against 26 s. A host with faster virtualisation pays less.";

/// The runtime steps for `a`'s agent: nothing for runc; for runsc, the package, the
/// engine's daemon.json with the runtime added, and the engine's reload.
pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) {
    let layer = Layer::Sandbox;
    if a.sandbox.runtime != Runtime::Runsc {
        return;
    }
    if f.platform.mac().is_some() {
        b.warn(layer, Severity::Warning, "sandbox.runtime = \"runsc\": gVisor runs on Linux only. On this Mac the agent runs in the container runtime's Linux VM with its default runtime (the VM is itself the wall between the agent and macOS).");
        return;
    }
    if !f.packages.contains("runsc") {
        b.package(layer, "runsc", "gVisor, the agent's runtime (sandbox.runtime = \"runsc\")");
    }
    let mut settings = match f.docker_daemon_json.as_deref().map(serde_json::from_str::<serde_json::Value>) {
        None => serde_json::json!({}),
        Some(Ok(v)) if v.is_object() => v,
        Some(_) => {
            b.block(layer, Refusal::Unsafe, format!("{DOCKER_DAEMON_JSON} is not a JSON object, so gVisor cannot be added to it (and the engine would not start with it either): fix it, or set sandbox.runtime = \"runc\", then run clawguard again."));
            return;
        }
    };
    let runtimes =
        settings.as_object_mut().expect("an object").entry("runtimes").or_insert_with(|| serde_json::json!({}));
    let Some(runtimes) = runtimes.as_object_mut() else {
        b.block(layer, Refusal::Unsafe, format!("`runtimes` in {DOCKER_DAEMON_JSON} is not a JSON object: fix it, or set sandbox.runtime = \"runc\", then run clawguard again."));
        return;
    };
    runtimes.insert("runsc".into(), serde_json::json!({ "path": RUNSC, "runtimeArgs": RUNSC_ARGS }));
    let text = serde_json::to_string_pretty(&settings).expect("JSON") + "\n";
    b.raw_file(layer, DOCKER_DAEMON_JSON, text, 0o644);
    b.on_change(
        layer,
        &["systemctl", "reload", "docker"],
        "the engine learns gVisor's runtime (running containers keep running)",
        &[DOCKER_DAEMON_JSON],
    )
    .rerun_needs_old = true;
    b.warn(layer, Severity::Note, format!("The agent runs under gVisor (runsc): a kernel of its own answers the agent's system calls, so a kernel bug the agent can reach is gVisor's, not this host's. {COST} gVisor's network stack is the host's here (runsc {}): the agent's network is unchanged.", RUNSC_ARGS.join(" ")));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_with(daemon_json: Option<&str>) -> crate::plan::Plan {
        let mut a = Answers::default();
        a.sandbox.runtime = Runtime::Runsc;
        let f = Facts { docker_daemon_json: daemon_json.map(str::to_owned), ..Facts::default() };
        crate::layers::plan(&a, &f).unwrap()
    }

    #[test]
    fn gvisor_joins_the_engines_settings_and_the_users_own_stay() {
        let p = plan_with(Some("{\"data-root\": \"/srv/docker\", \"runtimes\": {\"mine\": {\"path\": \"/x\"}}}"));
        let text = &p.file(DOCKER_DAEMON_JSON).expect("daemon.json is planned").content;
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        assert_eq!(v["data-root"], "/srv/docker");
        assert_eq!(v["runtimes"]["mine"]["path"], "/x");
        assert_eq!(v["runtimes"]["runsc"]["path"], RUNSC);
        assert!(p.packages.iter().any(|p| p.name == "runsc"));
        assert!(p.commands.iter().any(|c| c.argv == ["systemctl", "reload", "docker"]));
        let compose = &p.file(&crate::layers::sandbox::compose_file(&Answers::default())).unwrap().content;
        assert!(compose.contains("runtime: \"runsc\""), "{compose}");
        // No file yet: one with the runtime alone.
        let p = plan_with(None);
        let v: serde_json::Value = serde_json::from_str(&p.file(DOCKER_DAEMON_JSON).unwrap().content).unwrap();
        assert_eq!(v, serde_json::json!({ "runtimes": { "runsc": { "path": RUNSC, "runtimeArgs": RUNSC_ARGS } } }));
        // runc, the default: the engine's file is not touched.
        let p = crate::layers::plan(&Answers::default(), &Facts::default()).unwrap();
        assert!(p.file(DOCKER_DAEMON_JSON).is_none());
    }

    #[test]
    fn a_daemon_json_that_is_not_an_object_stops_the_plan_with_what_to_do() {
        for bad in ["[1]", "{ not json", "{\"runtimes\": 3}"] {
            let p = plan_with(Some(bad));
            assert!(
                p.blockers.iter().any(|b| b.text.contains("runsc\\\"") || b.text.contains("sandbox.runtime")),
                "{bad}: {:?}",
                p.blockers
            );
            assert!(p.file(DOCKER_DAEMON_JSON).is_none(), "{bad}");
        }
    }
}
