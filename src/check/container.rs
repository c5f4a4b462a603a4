//! The agent's container as the engine runs it — not as the compose file says: a container
//! recreated by hand (or by an intruder) without a read-only root, as root, with
//! capabilities or a published port is what the file cannot show.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Finding, finding};
use crate::answers::Answers;
use crate::layers::sandbox::PROJECT;
use crate::plan::Severity;
use crate::target::{Ran, Runner};

/// Compares the running agent container with what the answers set. `applied`: the
/// compose file was applied here (so a missing container is news).
pub fn check(
    answers: &Answers,
    agent: (u32, u32),
    recorded: &BTreeMap<String, String>,
    runner: &Runner,
    applied: bool,
) -> Vec<Finding> {
    if answers.skip.contains(&crate::answers::Layer::Sandbox) || !runner.runs_commands() {
        return Vec::new();
    }
    let mut out = states(answers, recorded, runner);
    out.extend(settings(answers, agent, runner, applied));
    out
}

/// Every container of the agent's project that is not running as it should: restarting
/// over and over (`docker ps` lists it among the running), stopped, unhealthy, or made from
/// another image than the digest the applied compose file pinned (`recorded`, by tag).
fn states(answers: &Answers, recorded: &BTreeMap<String, String>, runner: &Runner) -> Vec<Finding> {
    let project = format!("label=com.docker.compose.project={PROJECT}");
    let Ran::Ok(out) = runner.run(&["docker", "ps", "-aq", "--filter", &project]) else { return Vec::new() };
    let ids = crate::layers::sandbox::container_ids(&out);
    if ids.is_empty() {
        return Vec::new();
    }
    let mut argv = vec!["docker".to_owned(), "inspect".to_owned()];
    argv.extend(ids);
    let Ran::Ok(json) = runner.run(&argv) else { return Vec::new() };
    let Ok(Value::Array(all)) = serde_json::from_str::<Value>(&json) else { return Vec::new() };
    let mut out: Vec<Finding> = all.iter().filter_map(state_finding).collect();
    // The digests each container's image was pulled at (its RepoDigests).
    let ids: Vec<String> = all.iter().filter_map(|c| c["Image"].as_str().map(str::to_owned)).collect();
    if ids.is_empty() {
        return out;
    }
    let mut argv = vec!["docker".to_owned(), "image".to_owned(), "inspect".to_owned()];
    argv.extend(ids);
    let images = match runner.run(&argv) {
        Ran::Ok(json) => {
            serde_json::from_str::<Value>(&json).ok().and_then(|v| v.as_array().cloned()).unwrap_or_default()
        }
        _ => Vec::new(),
    };
    for c in &all {
        let service = c["Config"]["Labels"]["com.docker.compose.service"].as_str().unwrap_or_default();
        let Some(tag) = pinned_tag(answers, service) else { continue };
        let Some(want) = recorded.get(&tag) else { continue };
        let image = images.iter().find(|i| i["Id"] == c["Image"]);
        let digests: Vec<&str> = image
            .and_then(|i| i["RepoDigests"].as_array())
            .map(|d| d.iter().filter_map(|x| x.as_str()?.split_once('@').map(|(_, d)| d)).collect())
            .unwrap_or_default();
        out.extend(drift(service, &tag, want, &digests));
    }
    out
}

/// The tag the answers give `service`'s image, when it is one clawguard pins by digest.
fn pinned_tag(answers: &Answers, service: &str) -> Option<String> {
    let image = match service {
        "agent" => &answers.sandbox.image,
        "proxy" => &answers.egress.proxy_image,
        "gateway" => &answers.sandbox.gateway_image,
        _ => return None,
    };
    image.digest().is_none().then(|| image.to_string())
}

/// A container whose image is not the digest clawguard pinned for `tag` (`running`: the
/// digests its image was pulled at): the tag moved, and someone made the container from it.
fn drift(service: &str, tag: &str, pinned: &str, running: &[&str]) -> Option<Finding> {
    if running.contains(&pinned) {
        return None;
    }
    let now = match running.first() {
        Some(d) => format!("image {d}"),
        None => "an image no registry named (built or loaded on this host)".to_owned(),
    };
    Some(finding(
        "sandbox.image-drift",
        Severity::Danger,
        format!(
            "The agent's `{service}` container runs {now}, not {pinned}, the digest clawguard pinned for {tag}: the tag moved and the container was made from it outside clawguard. If that was not you, treat it as an intrusion (see /etc/clawguard/RECOVERY.md); `sudo clawguard apply` puts the pinned image back (and `sudo clawguard plan` says what a newer pin would be)."
        ),
    ))
}

/// What is wrong with one container's state (`docker inspect`), if anything.
fn state_finding(c: &Value) -> Option<Finding> {
    let name = c["Name"].as_str().unwrap_or_default().trim_start_matches('/');
    let service = c["Config"]["Labels"]["com.docker.compose.service"].as_str().unwrap_or("?");
    let st = &c["State"];
    let code = st["ExitCode"].as_i64().unwrap_or(0);
    let restarts = c["RestartCount"].as_i64().unwrap_or(0);
    let logs = format!("`sudo docker logs --tail 50 {name}` says why");
    if st["Restarting"] == true || st["Status"] == "restarting" {
        return Some(finding(
            "sandbox.container-restarting",
            Severity::Danger,
            format!(
                "The agent's `{service}` container restarts over and over (exit code {code}, {restarts} restart(s)): it does not run. {logs}."
            ),
        ));
    }
    match st["Status"].as_str() {
        Some("exited") | Some("dead") => {
            return Some(finding(
                "sandbox.container-stopped",
                Severity::Warning,
                format!(
                    "The agent's `{service}` container is stopped (exit code {code}). {logs}; `sudo clawguard apply` starts it again."
                ),
            ));
        }
        _ => {}
    }
    (st["Health"]["Status"] == "unhealthy").then(|| {
        finding(
            "sandbox.container-unhealthy",
            Severity::Warning,
            format!("The agent's `{service}` container runs but is unhealthy (its own health check fails). {logs}."),
        )
    })
}

/// The agent's container's settings against the plan's.
fn settings(answers: &Answers, agent: (u32, u32), runner: &Runner, applied: bool) -> Vec<Finding> {
    let project = format!("label=com.docker.compose.project={PROJECT}");
    let ids = match runner.run(&[
        "docker",
        "ps",
        "-q",
        "--filter",
        &project,
        "--filter",
        "label=com.docker.compose.service=agent",
    ]) {
        // Container ids only (a runner without an engine may answer in words).
        Ran::Ok(out) => crate::layers::sandbox::container_ids(&out),
        Ran::Failed { output, .. } if applied => {
            return vec![finding(
                "sandbox.engine-unreachable",
                Severity::Warning,
                format!(
                    "The container engine cannot be asked ({}): the agent's container was not checked.",
                    output.lines().last().unwrap_or_default()
                ),
            )];
        }
        _ => return Vec::new(),
    };
    let Some(id) = ids.first() else {
        return if applied {
            vec![finding(
                "sandbox.container-not-running",
                Severity::Warning,
                "The agent's container is not running. `sudo clawguard status`, then `sudo clawguard apply` starts it.",
            )]
        } else {
            Vec::new()
        };
    };
    let Ran::Ok(json) = runner.run(&["docker", "inspect", id]) else {
        return vec![finding(
            "sandbox.container-uninspectable",
            Severity::Warning,
            format!("`docker inspect {id}` failed: the agent's container was not checked."),
        )];
    };
    let Some(c) = serde_json::from_str::<Value>(&json).ok().and_then(|v| v.get(0).cloned()) else {
        return vec![finding(
            "sandbox.container-gone",
            Severity::Warning,
            format!("`docker inspect {id}` gave no container: not checked."),
        )];
    };
    let mut out: Vec<Finding> = Vec::new();
    if c["HostConfig"]["Runtime"] == "runsc" {
        out.push(finding(
            "sandbox.runtime",
            Severity::Note,
            "The agent runs under gVisor (runsc): a kernel of its own answers its system calls, not this host's.",
        ));
    }
    out.extend(differences(answers, agent, &c)
        .into_iter()
        .map(|d| finding("sandbox.container-drift", Severity::Danger, format!("The agent's container runs with {d}. Someone recreated it outside clawguard: if it was not you, treat it as an intrusion (see /etc/clawguard/RECOVERY.md); `docker compose -p {PROJECT} -f {} up -d --force-recreate` puts the planned one back.", crate::layers::sandbox::compose_file(answers)))));
    out
}

/// What the live container has that the plan did not set, in words; `agent` is the uid
/// and gid it runs as (`layers::sandbox::agent_ids`).
pub fn differences(a: &Answers, agent: (u32, u32), c: &Value) -> Vec<String> {
    let s = &a.sandbox;
    let host = &c["HostConfig"];
    let mut out = Vec::new();
    if host["ReadonlyRootfs"] != true {
        out.push("a writable root filesystem (the plan sets read_only)".to_owned());
    }
    let user = c["Config"]["User"].as_str().unwrap_or_default();
    let want = format!("{}:{}", agent.0, agent.1);
    if user != want {
        out.push(format!("user `{}` (the plan sets {want})", if user.is_empty() { "root" } else { user }));
    }
    if host["Privileged"] == true {
        out.push("--privileged".to_owned());
    }
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    };
    if !strings(&host["CapDrop"]).iter().any(|c| c == "ALL") {
        out.push("its capabilities not dropped (the plan drops ALL)".to_owned());
    }
    let allowed: Vec<String> = s.cap_add.iter().map(|c| c.to_string()).collect();
    let extra: Vec<String> = strings(&host["CapAdd"])
        .into_iter()
        .filter(|c| !allowed.iter().any(|a| c.trim_start_matches("CAP_") == a.trim_start_matches("CAP_")))
        .collect();
    if !extra.is_empty() {
        out.push(format!("capabilities {} added", extra.join(", ")));
    }
    if !strings(&host["SecurityOpt"]).iter().any(|o| o.starts_with("no-new-privileges")) {
        out.push("no-new-privileges off".to_owned());
    }
    let num = |v: &Value| v.as_i64().unwrap_or(0);
    // Limits only where the answers require them: a host that cannot enforce them runs
    // without, knowingly (`sandbox.require_limits = false`).
    if s.require_limits {
        let limits = [
            ("memory limit", num(&host["Memory"]), s.memory.bytes() as i64, s.memory.to_string()),
            ("pids limit", num(&host["PidsLimit"]), i64::from(s.pids.get()), s.pids.get().to_string()),
            (
                "CPU limit (nano-CPUs)",
                num(&host["NanoCpus"]),
                (s.cpus.get() * 1e9).round() as i64,
                s.cpus.get().to_string(),
            ),
        ];
        for (what, got, want, shown) in limits {
            if got != want {
                out.push(format!("a {what} of {got} (the plan sets {shown})"));
            }
        }
    }
    if host["PortBindings"].as_object().is_some_and(|p| !p.is_empty()) {
        out.push(format!("published ports {} (the agent publishes none)", host["PortBindings"]));
    }
    // The runtime: gVisor when the answers ask for it (on Linux), the engine's default else.
    let runtime = host["Runtime"].as_str().unwrap_or_default();
    let want_gvisor = s.runtime == crate::answers::Runtime::Runsc;
    if want_gvisor != (runtime == "runsc") {
        let shown = if runtime.is_empty() { "runc" } else { runtime };
        out.push(format!("the runtime `{shown}` (the plan sets {})", s.runtime));
    }
    let mode = host["NetworkMode"].as_str().unwrap_or_default();
    if mode == "host" || mode == "bridge" || mode == "default" {
        out.push(format!("the network `{mode}`, which has a way out besides the proxy"));
    }
    let mounts = c["Mounts"].as_array().cloned().unwrap_or_default();
    if mounts.iter().any(|m| m["Source"].as_str().is_some_and(|src| src.ends_with("docker.sock"))) {
        out.push("the Docker socket mounted (root on the host)".to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_crash_loop_a_stopped_and_an_unhealthy_container_are_findings() {
        let c = |status: &str, restarting: bool, health: &str| {
            serde_json::json!({
                "Name": "/clawguard-agent-agent-1",
                "RestartCount": 7,
                "Config": { "Labels": { "com.docker.compose.service": "agent" } },
                "State": { "Status": status, "Restarting": restarting, "ExitCode": 78, "Health": { "Status": health } },
            })
        };
        let f = state_finding(&c("restarting", true, "")).unwrap();
        assert!(
            f.severity == Severity::Danger && f.text.contains("restarts over and over (exit code 78, 7 restart(s))"),
            "{f:?}"
        );
        assert!(state_finding(&c("exited", false, "")).unwrap().text.contains("is stopped (exit code 78)"));
        assert!(state_finding(&c("running", false, "unhealthy")).unwrap().text.contains("unhealthy"));
        assert!(state_finding(&c("running", false, "healthy")).is_none(), "control");
        assert!(state_finding(&c("running", false, "")).is_none(), "control");
    }

    #[test]
    fn a_container_made_from_a_moved_tag_is_named_with_both_digests() {
        let (d1, d2) = (format!("sha256:{}", "1".repeat(64)), format!("sha256:{}", "2".repeat(64)));
        let f = drift("gateway", "alpine/socat:latest", &d1, &[d2.as_str()]).unwrap();
        assert!(f.text.contains(&format!("runs image {d2}, not {d1}")) && f.id == "sandbox.image-drift", "{f:?}");
        assert!(drift("gateway", "alpine/socat:latest", &d1, &[d2.as_str(), d1.as_str()]).is_none(), "control");
        assert!(drift("proxy", "x:1", &d1, &[]).unwrap().text.contains("no registry named"));
        let a = Answers::default();
        assert_eq!(pinned_tag(&a, "gateway").as_deref(), Some("alpine/socat:latest"));
        assert_eq!(pinned_tag(&a, "agent").as_deref(), Some(crate::answers::OPENCLAW_IMAGE));
        assert_eq!(pinned_tag(&a, "something"), None);
    }
}
