//! The daily security check (`clawguard check`, run by `clawguard-check.timer`): what
//! changed since clawguard applied — files edited by hand or missing, answers not applied
//! yet, sshd's effective settings — what a takeover leaves (ufw off, fail2ban down, a new
//! account or SSH key: `seen.rs`), and what needs a person: an overdue confirmation, an
//! automatic rollback, keys in plaintext, a full disk. It changes nothing on the host; it
//! records what it saw, for the next run. An alert goes to the webhook when one is set.

pub mod alert;
mod backups;
pub mod certificates;
pub mod container;
mod credentials;
mod disks;
mod files;
pub mod logins;
pub mod openclaw;
pub mod proxy;
mod records;
pub mod seen;
mod services;
mod sshd;
pub mod tail;
pub mod updates;

use backups::backups;
use credentials::credentials;
use disks::disks;
use files::managed_files;
use records::records;
use seen::seen_since_last_run;
use services::services;
use sshd::sshd_drift;

use crate::answers::Answers;
use crate::apply::Store;
use crate::host::Facts;
use crate::layers;
use crate::plan::Severity;
use crate::render::RenderError;
use crate::target::Root;
use crate::target::Runner;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What kind of finding this is, stable across releases and wording
    /// (`firewall.ufw-inactive`): a family (a layer's key, or `host`), a dot, the kind.
    pub id: &'static str,
    /// The layer it concerns: the family's, or — for a managed file — the file's layer.
    pub layer: Option<crate::answers::Layer>,
    pub severity: Severity,
    pub text: String,
}

pub(crate) fn finding(id: &'static str, severity: Severity, text: impl Into<String>) -> Finding {
    Finding { id, layer: layer_of(id), severity, text: text.into() }
}

/// The layer an id's family names (None: `host`, the host or clawguard itself).
fn layer_of(id: &str) -> Option<crate::answers::Layer> {
    use crate::answers::Layer;
    match id.split('.').next()? {
        "sandbox" => Some(Layer::Sandbox),
        "credentials" => Some(Layer::Credentials),
        "ssh" => Some(Layer::Ssh),
        "firewall" => Some(Layer::Firewall),
        "egress" => Some(Layer::Egress),
        "monitoring" => Some(Layer::Monitoring),
        "backup" => Some(Layer::Backup),
        _ => None,
    }
}

impl Finding {
    /// The same finding, about a file of `layer` (a managed file's findings are its layer's).
    fn in_layer(mut self, layer: Option<crate::answers::Layer>) -> Finding {
        if layer.is_some() {
            self.layer = layer;
        }
        self
    }
}

/// Runs every check against `root`; the services are asked through `runner`.
pub fn run(answers: &Answers, facts: &Facts, root: &Root, runner: &Runner) -> Result<Vec<Finding>, RenderError> {
    let mut out = Vec::new();
    let plan = layers::plan(answers, facts)?;
    let store = Store::new(root);
    // The records are what the check compares with: unreadable records are a finding, not
    // an empty list (that would hide every hand edit).
    let managed = match store.managed() {
        Ok(m) => m,
        Err(e) => {
            out.push(finding("host.records-unreadable", Severity::Danger, format!("clawguard's records under {} cannot be read ({e}): nothing could be compared with what was applied. Run `sudo clawguard check`; if it fails there too, the records were damaged: see /etc/clawguard/RECOVERY.md.", crate::target::STATE_DIR)));
            Default::default()
        }
    };
    out.extend(managed_files(&plan, root, &managed));
    out.extend(records(&store));
    out.extend(services(answers, facts, root, runner, &managed));
    out.extend(credentials(root));
    let compose_applied = managed.contains_key(&crate::layers::sandbox::compose_file(answers));
    let agent = crate::layers::sandbox::agent_ids(answers, facts);
    out.extend(container::check(answers, agent, &facts.recorded_images, runner, compose_applied));
    // OpenClaw's proxy check sends its loopback canary through the proxy, which refuses
    // it: that one request is ours, not the agent reaching off its list.
    let own = openclaw::check(answers, facts, runner);
    out.extend(own.findings);
    out.extend(certificates::check(&answers.monitoring.certificates, answers.monitoring.certificate_days.get()));
    out.extend(sshd_drift(&plan, runner, &managed));
    out.extend(seen_since_last_run(answers, facts, root, runner, &store, &managed, &own.canaries));
    out.extend(updates::check(runner, facts.packages.contains("unattended-upgrades")));
    for e in &facts.plaintext_env_files {
        out.push(finding(
            "credentials.plaintext-env",
            Severity::Warning,
            format!("{} holds {} key(s) in plaintext.", e.path, e.keys),
        ));
    }
    out.extend(disks(root, &["/", "/var/log", "/var/lib/docker", answers.monitoring.log_dir.as_str()]));
    out.extend(backups(answers, root, &managed));
    Ok(out)
}

/// Whether the findings need a person (anything above a note).
pub fn needs_attention(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity >= Severity::Warning)
}

/// How JSON names a severity.
pub(crate) fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Note => "note",
        Severity::Warning => "warning",
        Severity::Danger => "danger",
    }
}

/// The findings as JSON, for machines.
pub fn json(host: &str, findings: &[Finding]) -> String {
    let items: Vec<serde_json::Value> =
        findings.iter().map(|f| serde_json::json!({ "id": f.id, "layer": f.layer.map(|l| serde_json::to_value(l).unwrap_or_default()), "severity": severity_word(f.severity), "text": f.text })).collect();
    serde_json::json!({ "host": host, "needs_attention": needs_attention(findings), "findings": items }).to_string()
}

/// The findings as text, one per line.
pub fn report(host: &str, findings: &[Finding]) -> String {
    let mut s = format!("clawguard check on {host}: ");
    let serious = findings.iter().filter(|f| f.severity >= Severity::Warning).count();
    s.push_str(&if serious == 0 { "nothing needs you.".to_owned() } else { format!("{serious} finding(s) need you.") });
    for f in findings {
        let tag = match f.severity {
            Severity::Note => "note",
            Severity::Warning => "WARNING",
            Severity::Danger => "DANGER",
        };
        s.push_str(&format!("\n{tag}: {}", f.text));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::services::ports_cover;

    /// Each finding's id is written once, shaped `family.kind`, its family a layer's or
    /// `host`: machines rely on them staying put.
    #[test]
    fn finding_ids_are_unique_and_name_their_family() {
        // Every file of the check, so one added later is scanned too.
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/check");
        let sources: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "rs"))
            .map(|p| std::fs::read_to_string(p).unwrap())
            .collect();
        assert!(sources.len() > 10, "{}: the check's files", dir.display());
        let mut seen = std::collections::BTreeSet::new();
        for src in &sources {
            let code = src.split("#[cfg(test)]").next().unwrap();
            for (at, _) in code.match_indices("finding(") {
                let rest = code[at + "finding(".len()..].trim_start();
                let Some(rest) = rest.strip_prefix('"') else { continue };
                let id = &rest[..rest.find('"').unwrap()];
                let (family, kind) = id.split_once('.').unwrap_or_else(|| panic!("{id}: no family"));
                assert!(family == "host" || super::layer_of(id).is_some(), "{id}: unknown family");
                assert!(
                    !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                    "{id}"
                );
                assert!(seen.insert(id.to_owned()), "{id} is used twice");
            }
        }
        assert!(seen.len() > 90, "{} ids found: the scan missed calls", seen.len());
    }

    #[test]
    fn fail2ban_port_lists() {
        assert!(ports_cover("2222", 2222));
        assert!(ports_cover("ssh, 2222", 2222));
        assert!(ports_cover("ssh", 22));
        assert!(ports_cover("1:65535", 2222));
        assert!(!ports_cover("22", 2222));
        assert!(!ports_cover("ssh", 2222));
        assert!(!ports_cover("2223:3000", 2222));
        assert!(!ports_cover("", 2222));
        assert!(!ports_cover("22222", 2222));
    }
}
