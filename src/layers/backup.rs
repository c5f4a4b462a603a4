//! Layer 7: restic backups off the server on a timer, and the host's recovery playbook.

use serde::Serialize;

use super::launchd::When;
use super::sandbox::compose_file;
use super::{Builder, ETC, Job, compose_argv, ssh};
use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{Layer, Severity};
use crate::render::RenderError;

pub const ENV_FILE: &str = "/etc/clawguard/backup.env";
pub const SERVICE: &str = "/etc/systemd/system/clawguard-backup.service";
pub const TIMER: &str = "/etc/systemd/system/clawguard-backup.timer";
pub const RECOVERY: &str = "/etc/clawguard/RECOVERY.md";

#[derive(Serialize)]
struct Ctx {
    hostname: String,
    os: String,
    destination: Option<String>,
    /// As restic takes it.
    repository: Option<String>,
    clawguard_bin: String,
    env_file: &'static str,
    paths: Vec<String>,
    keep_daily: u32,
    keep_weekly: u32,
    keep_monthly: u32,
    schedule: String,
    services: Vec<String>,
    compose: String,
    compose_file: String,
    log_dir: String,
    users: Vec<String>,
    /// Where SSH listens once applied (several when the SSH layer is skipped).
    ssh_port: String,
    /// The agent runs in clawguard's compose project (the sandbox layer is on).
    sandbox: bool,
    macos: bool,
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Backup;
    let bk = &a.backup;
    let s = &a.sandbox;
    let mut users = ssh::allowed_users(a, f);
    if users.is_empty() {
        users.push("YOUR-USER".into());
    }
    let ctx = Ctx {
        hostname: f.hostname.clone().unwrap_or_else(|| "this server".into()),
        os: f.os.describe().to_owned(),
        destination: bk.destination.as_ref().map(|d| d.to_string()),
        repository: bk.destination.as_ref().map(|d| d.to_string()),
        clawguard_bin: f.clawguard.path().to_owned(),
        env_file: ENV_FILE,
        paths: vec![s.state_dir.to_string(), s.workspace.to_string(), s.config_dir.to_string(), ETC.to_owned()],
        keep_daily: bk.keep_daily.get(),
        keep_weekly: bk.keep_weekly.get(),
        keep_monthly: bk.keep_monthly.get(),
        schedule: bk.schedule.to_string(),
        services: a.credentials.services.iter().map(|c| c.to_string()).collect(),
        compose: compose_argv(f).join(" ") + " -p " + super::sandbox::PROJECT,
        compose_file: compose_file(a),
        log_dir: a.monitoring.log_dir.to_string(),
        users,
        ssh_port: if a.skip.contains(&Layer::Ssh) {
            f.sshd.ports().iter().map(u16::to_string).collect::<Vec<_>>().join(" or ")
        } else {
            a.ssh.port.to_string()
        },
        sandbox: !a.skip.contains(&Layer::Sandbox),
        macos: f.platform.mac().is_some(),
    };
    b.file(layer, RECOVERY, "backup/RECOVERY.md", &ctx, 0o644, None)?;
    let Some(dest) = &bk.destination else {
        b.warn(layer, Severity::Warning, "No backup destination: nothing is backed up, and a lost or taken-over server takes the agent's data with it. Set backup.destination to an off-server restic repository (sftp:, rest:, s3:).");
        return Ok(());
    };
    let own_names: Vec<String> = f.hostname.iter().cloned().collect();
    if dest.is_this_machine(&own_names) {
        b.warn(layer, Severity::Danger, format!("BACKUPS ON THIS SAME MACHINE ({dest}): they die with the disk, and whoever takes the server over can delete them. Use an off-server repository as soon as you can."));
    }
    b.file(layer, ENV_FILE, "backup/backup.env", &ctx, 0o600, None)?;
    if let Some(hb) = f.platform.mac().and_then(|m| m.homebrew.as_ref()) {
        b.warn(layer, Severity::Warning, format!("restic comes from Homebrew ({}), which its owner ({}) can write: clawguard's backup LaunchDaemon runs it as root, so that account can become root by replacing it. Keep it an administrator you trust.", hb.prefix, hb.owner.as_deref().unwrap_or("not known without root")));
    }
    if !f.tools.restic {
        b.package(layer, "restic", "the backup program");
    }
    // The repository and its password (in the vault), at a new destination.
    b.on_change(
        layer,
        &[f.clawguard.path(), "backup", "init"],
        "create the restic repository (its password goes in the vault)",
        &[ENV_FILE],
    )
    .rerun_needs_old = true;
    debug_assert!(SERVICE.ends_with("clawguard-backup.service") && TIMER.ends_with("clawguard-backup.timer"));
    let job = Job {
        name: "backup",
        argv: [ctx.clawguard_bin.as_str(), "backup", "now"].map(String::from).to_vec(),
        when: When::Daily { hour: bk.schedule.hour(), minute: bk.schedule.minute() },
        why: "back up daily",
    };
    b.job(layer, f, job, "backup", &ctx)?;
    b.warn(layer, Severity::Note, "The repository's password is kept in the vault. Make the recovery kit and keep it off this server (`sudo clawguard backup kit --out FILE`): without it the backups cannot be opened when this server is gone.");
    Ok(())
}
