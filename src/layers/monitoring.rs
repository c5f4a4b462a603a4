//! Layer 6: the agent's logging settings, log rotation, and the daily security check's
//! timer.

use serde::Serialize;

use super::launchd::When;
use super::sandbox::{CONTAINER_LOG_DIR, logging_env};
use super::{Builder, Job};
use crate::answers::{Answers, Rotation};
use crate::host::Facts;
use crate::host::own_binary::{self, OwnBinary};
use crate::plan::{Layer, Severity, Validator};
use crate::render::RenderError;

pub const LOGROTATE: &str = "/etc/logrotate.d/clawguard-agent";
/// macOS rotates logs with newsyslog.
pub const NEWSYSLOG: &str = "/etc/newsyslog.d/clawguard-agent.conf";
pub const CHECK_SERVICE: &str = "/etc/systemd/system/clawguard-check.service";
pub const CHECK_TIMER: &str = "/etc/systemd/system/clawguard-check.timer";

#[derive(Serialize)]
struct Ctx {
    /// newsyslog's `when` for the rotation (macOS).
    rotation_when: &'static str,
    clawguard_log_dir: &'static str,
    log_dir: String,
    container_log_dir: &'static str,
    rotation: String,
    keep: u32,
    retain_days: u32,
    uid: u32,
    gid: u32,
    log_level: String,
    categories: Vec<String>,
    profile: String,
    clawguard_bin: String,
    answers_path: &'static str,
    check_time: String,
    /// The recovery playbook exists (the backup layer writes it).
    recovery: bool,
    /// The proxy's access log on the host, when there is a proxy.
    proxy_log: Option<String>,
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Monitoring;
    let m = &a.monitoring;
    let days = m.retain_days.get();
    let keep = match m.rotation {
        Rotation::Daily => days,
        Rotation::Weekly => days.div_ceil(7),
        Rotation::Monthly => days.div_ceil(30),
    };
    let rotation_when = match m.rotation {
        Rotation::Daily => "$D0",
        Rotation::Weekly => "$W0D0",
        Rotation::Monthly => "$M1D0",
    };
    let ctx = Ctx {
        rotation_when,
        clawguard_log_dir: super::launchd::LOG_DIR,
        log_dir: m.log_dir.to_string(),
        container_log_dir: CONTAINER_LOG_DIR,
        rotation: m.rotation.to_string(),
        keep,
        retain_days: days,
        uid: super::sandbox::agent_ids(a, f).0,
        gid: super::sandbox::agent_ids(a, f).1,
        log_level: m.log_level.to_string(),
        categories: m.categories.iter().map(|c| c.to_string()).collect(),
        profile: a.sandbox.profile.to_string(),
        clawguard_bin: f.clawguard.path().to_owned(),
        answers_path: crate::answers::DEFAULT_PATH,
        check_time: m.check_time.to_string(),
        recovery: !a.skip.contains(&Layer::Backup),
        // On a Mac the proxy's volume is inside the runtime's Linux VM, not on this disk.
        proxy_log: (!a.skip.contains(&Layer::Egress)
            && !a.skip.contains(&Layer::Sandbox)
            && f.platform.mac().is_none())
        .then(|| super::egress::proxy_access_log(f)),
    };
    b.file(layer, logging_env(a), "monitoring/agent-logging.env", &ctx, 0o644, None)?;
    if f.platform.mac().is_some() {
        b.file(layer, NEWSYSLOG, "monitoring/newsyslog.conf", &ctx, 0o644, None)?;
    } else {
        b.file(layer, LOGROTATE, "monitoring/logrotate", &ctx, 0o644, Some(Validator::Logrotate))?;
        if !f.tools.logrotate {
            b.package(layer, "logrotate", "rotates the agent's logs");
        }
    }
    if !m.certificates.is_empty() && !f.packages.contains("openssl") && f.platform.mac().is_none() {
        b.package(layer, "openssl", "the daily check reads the watched certificates with it");
    }
    debug_assert!(CHECK_SERVICE.ends_with("clawguard-check.service") && CHECK_TIMER.ends_with("clawguard-check.timer"));
    let job = Job {
        name: "check",
        argv: [ctx.clawguard_bin.as_str(), "check", "--answers", ctx.answers_path].map(String::from).to_vec(),
        when: When::Daily { hour: m.check_time.hour(), minute: m.check_time.minute() },
        why: "run the security check daily",
    };
    b.job(layer, f, job, "monitoring", &ctx)?;
    if let Some(mac) = f.platform.mac() {
        super::macos::always_on(mac, b);
    }
    if m.alert_webhook.is_none() {
        b.warn(layer, Severity::Note, "No alert webhook: the daily check's findings go only to the journal and `clawguard status`. Set monitoring.alert_webhook to be told.");
    }
    match &f.clawguard {
        OwnBinary::Installed(_) => {}
        OwnBinary::Missing => b.warn(layer, Severity::Warning, format!(
            "clawguard is not installed on the target ({}), where the daily check, the backups and the key unlock at boot call it: install the clawguard package (sudo apt install ./clawguard_*.deb), or sudo install -m 755 ./clawguard {}",
            own_binary::PLACES.join(" or "),
            own_binary::DEFAULT
        )),
        OwnBinary::Replaceable { path, why } => b.warn(layer, Severity::Danger, format!(
            "clawguard runs from {path}, but {why}: its units run as root, so they will not call it there (whoever can replace it would be root at the next timer). Install it where only root can write: install the clawguard package, or sudo install -m 755 {path} {}",
            own_binary::DEFAULT
        )),
    }
    if !f.tools.systemd && f.platform.mac().is_none() {
        b.warn(
            layer,
            Severity::Warning,
            "No systemd on the target: the daily check and backup timers will not run by themselves.",
        );
    }
    Ok(())
}
