//! OpenClaw's own checks, run in its container by the daily check: `openclaw security
//! audit --json` (its catalog of named findings: a critical one is a DANGER, a warning a
//! warning) and `openclaw proxy validate --json` (the proxy is in OpenClaw's path, an
//! allowed host passes, and its loopback canary is blocked).
//!
//! What comes back is the agent's output — the thing assumed compromised: time-limited,
//! size-capped, parsed into types, ids checked to a shape, titles cut; it can add findings
//! but never hide clawguard's own (those come from outside the container).

use std::time::Duration;

use serde::Deserialize;

use super::{Finding, finding};
use crate::answers::{Answers, Layer, Profile};
use crate::host::Facts;
use crate::plan::Severity;
use crate::target::{Ran, Runner};

/// Each of OpenClaw's checks may take this long (its audit reads its whole state).
const LIMIT: Duration = Duration::from_secs(120);
/// And print this much.
const MAX_OUTPUT: usize = 1 << 20;

#[derive(Deserialize)]
struct Audit {
    findings: Vec<AuditFinding>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AuditFinding {
    check_id: String,
    severity: String,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct Validation {
    ok: bool,
    #[serde(default)]
    checks: Vec<ValidationCheck>,
}

#[derive(Deserialize)]
struct ValidationCheck {
    kind: String,
    ok: bool,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    error: Option<String>,
}

/// What OpenClaw's own checks found, and what they sent through the proxy to be refused.
#[derive(Debug, Default)]
pub struct Own {
    pub findings: Vec<Finding>,
    /// The loopback canaries `proxy validate` sent (`127.0.0.1:PORT`, as the proxy's log
    /// names a destination): refused by the proxy on purpose, this run.
    pub canaries: Vec<String>,
}

/// OpenClaw's own findings, when the agent is OpenClaw and runs.
pub fn check(answers: &Answers, facts: &Facts, runner: &Runner) -> Own {
    if answers.sandbox.profile != Profile::Openclaw
        || answers.skip.contains(&Layer::Sandbox)
        || !runner.runs_commands()
        || !running(answers, facts, runner)
    {
        return Own::default();
    }
    let compose = crate::layers::sandbox::compose_file(answers);
    let exec = |args: &[&str]| {
        let mut verb = vec!["exec", "-T", "agent", "openclaw"];
        verb.extend(args);
        runner.run_bounded(&crate::layers::sandbox::project_argv(facts, &compose, &verb), LIMIT, MAX_OUTPUT)
    };
    let mut own = Own { findings: audit(exec(&["security", "audit", "--json"])), canaries: Vec::new() };
    if !answers.skip.contains(&Layer::Egress)
        && let Some(host) = answers.egress.allowed_hosts.first()
    {
        // An allowed host, so OpenClaw's own test request is not one the proxy refuses.
        let url = format!("https://{host}/");
        let ran = exec(&["proxy", "validate", "--json", "--timeout-ms", "8000", "--allowed-url", &url]);
        own.canaries = canaries(&ran);
        own.findings.extend(validation(ran));
    }
    own
}

/// The loopback canaries a validation report names (`http://127.0.0.1:PORT/`), as the
/// proxy's log names their destination.
fn canaries(ran: &Ran) -> Vec<String> {
    let (Ran::Ok(output) | Ran::Failed { output, .. }) = ran else { return Vec::new() };
    let Some(v) = document::<Validation>(output) else { return Vec::new() };
    v.checks
        .iter()
        .filter(|c| c.kind == "denied")
        .filter_map(|c| c.url.as_deref()?.strip_prefix("http://127.0.0.1:")?.strip_suffix('/').map(str::to_owned))
        .filter(|port| port.parse::<u16>().is_ok())
        .map(|port| format!("127.0.0.1:{port}"))
        .collect()
}

/// Whether the agent's container runs (its state is `container.rs`'s finding otherwise).
fn running(answers: &Answers, facts: &Facts, runner: &Runner) -> bool {
    let compose = crate::layers::sandbox::compose_file(answers);
    let argv = crate::layers::sandbox::project_argv(facts, &compose, &["ps", "-q", "agent"]);
    let Ran::Ok(ids) = runner.run_bounded(&argv, Duration::from_secs(60), 64 << 10) else { return false };
    let ids = crate::layers::sandbox::container_ids(&ids);
    let Some(id) = ids.first() else { return false };
    matches!(
        runner.run_bounded(&["docker", "inspect", "--format", "{{.State.Running}}", id], Duration::from_secs(60), 1024),
        Ran::Ok(s) if s.trim() == "true"
    )
}

/// The JSON document in an output that may begin with log lines.
fn document<'a, T: Deserialize<'a>>(out: &'a str) -> Option<T> {
    serde_json::from_str(&out[out.find('{')?..]).ok()
}

/// A name OpenClaw gives a check: its catalog's shape (`gateway.bind_no_auth`), nothing else.
fn check_id(s: &str) -> Option<&str> {
    (!s.is_empty() && s.len() <= 80 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-:".contains(&b)))
        .then_some(s)
}

fn cut(s: &str, n: usize) -> String {
    let one_line: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    match one_line.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &one_line[..i]),
        None => one_line,
    }
}

fn audit(ran: Ran) -> Vec<Finding> {
    let how = "`sudo docker exec $(sudo docker ps -q --filter label=com.docker.compose.service=agent) openclaw security audit` says more";
    let out = match ran {
        Ran::Ok(out) => out,
        Ran::Skipped => return Vec::new(),
        Ran::Failed { status, output } => {
            // It exits non-zero when it found something: its report still counts.
            if let Some(a) = document::<Audit>(&output) {
                return audit_findings(a, how);
            }
            return vec![finding(
                "sandbox.openclaw-audit-failed",
                Severity::Warning,
                format!("OpenClaw's own security audit did not run ({status}: {}): {how}.", cut(&output, 200)),
            )];
        }
    };
    match document::<Audit>(&out) {
        Some(a) => audit_findings(a, how),
        None => vec![finding(
            "sandbox.openclaw-audit-unreadable",
            Severity::Warning,
            format!("OpenClaw's own security audit did not answer with its report ({}): {how}.", cut(&out, 200)),
        )],
    }
}

fn audit_findings(a: Audit, how: &str) -> Vec<Finding> {
    a.findings
        .iter()
        .filter_map(|f| {
            let severity = match f.severity.as_str() {
                "critical" => Severity::Danger,
                "warn" | "warning" => Severity::Warning,
                _ => return None,
            };
            let id = check_id(&f.check_id).unwrap_or("(an unnamed check)");
            Some(finding(
                "sandbox.openclaw-audit",
                severity,
                format!("OpenClaw's own security audit: {id} — {} ({}). {how}.", cut(&f.title, 160), f.severity),
            ))
        })
        .collect()
}

fn validation(ran: Ran) -> Vec<Finding> {
    let output = match &ran {
        Ran::Ok(o) => o.as_str(),
        Ran::Failed { output, .. } => output.as_str(),
        Ran::Skipped => return Vec::new(),
    };
    let Some(v) = document::<Validation>(output) else {
        return vec![finding(
            "egress.openclaw-validate-unreadable",
            Severity::Warning,
            format!("OpenClaw's own proxy check did not answer with its report ({}).", cut(output, 200)),
        )];
    };
    if v.ok {
        return Vec::new();
    }
    v.checks
        .iter()
        .filter(|c| !c.ok)
        .map(|c| {
            let url = c.url.as_deref().map(|u| cut(u, 80)).unwrap_or_default();
            let why = c.error.as_deref().map(|e| cut(e, 160)).unwrap_or_default();
            if c.kind == "denied" {
                finding("egress.openclaw-canary-reached", Severity::Danger, format!("OpenClaw reached {url} through its proxy, which must block it ({why}): the agent's way out is not the allow-list. Run `sudo clawguard apply`; if it stays, see /etc/clawguard/RECOVERY.md."))
            } else {
                finding("egress.openclaw-allowed-unreachable", Severity::Note, format!("OpenClaw's own proxy check could not reach the allowed {url} ({why}): the host, or this server's network, may be down."))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openclaws_findings_count_by_severity_and_its_output_is_data() {
        let report = r#"warming up
{"findings":[{"checkId":"gateway.bind_no_auth","severity":"critical","title":"Gateway without auth"},
{"checkId":"fs.perms","severity":"warn","title":"World-readable\u001b[2J state"},
{"checkId":"summary","severity":"info","title":"Attack surface"},
{"checkId":"x\nDANGER: forged","severity":"critical","title":"t"}]}"#;
        let f = audit(Ran::Ok(report.into()));
        assert_eq!(f.len(), 3, "{f:?}");
        assert!(f[0].severity == Severity::Danger && f[0].text.contains("gateway.bind_no_auth — Gateway without auth"));
        assert!(f[1].severity == Severity::Warning && !f[1].text.contains('\u{1b}'), "{:?}", f[1]);
        assert!(f[2].text.contains("(an unnamed check)") && !f[2].text.contains('\n'), "{:?}", f[2]);
        // Exit 1 with its report: the report counts. Anything else is said, not taken as clean.
        let failed = Ran::Failed { status: "exit status 1".into(), output: report.into() };
        assert_eq!(audit(failed).len(), 3);
        let junk = audit(Ran::Ok("Error: no config".into()));
        assert!(junk.len() == 1 && junk[0].text.contains("did not answer with its report"), "{junk:?}");
        let hung = audit(Ran::Failed { status: "ended after 120 s".into(), output: "did not finish".into() });
        assert!(hung[0].text.contains("did not run (ended after 120 s"), "{hung:?}");
    }

    #[test]
    fn a_canary_that_gets_through_is_a_danger_and_an_allowed_host_down_a_note() {
        let v = r#"{"ok":false,"checks":[{"kind":"allowed","ok":false,"url":"https://api.openai.com/","error":"timeout"},
{"kind":"denied","ok":false,"url":"http://127.0.0.1:41234/","error":"Denied loopback canary was reachable"}]}"#;
        let f = validation(Ran::Failed { status: "exit status 1".into(), output: v.into() });
        assert_eq!(f.iter().map(|f| f.severity).collect::<Vec<_>>(), [Severity::Note, Severity::Danger], "{f:?}");
        assert!(validation(Ran::Ok(r#"{"ok":true,"checks":[]}"#.into())).is_empty());
        // The canary it sent is known as this run's own; nothing else is.
        let ok = r#"{"ok":true,"checks":[{"kind":"allowed","ok":true,"url":"https://a.test/"},
{"kind":"denied","ok":true,"url":"http://127.0.0.1:40857/"},{"kind":"denied","ok":true,"url":"http://10.0.0.1:80/"}]}"#;
        assert_eq!(canaries(&Ran::Ok(ok.into())), ["127.0.0.1:40857"]);
    }
}
