//! Layer 2: the list of credentials the vault holds for the agent (names, never values),
//! and warnings about keys lying in plaintext.

use serde::Serialize;

use super::{Builder, ETC, Job, launchd::When};
use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{Layer, Severity};
use crate::render::RenderError;

pub const MANIFEST: &str = "/etc/clawguard/credentials.toml";
pub const UNIT: &str = "/etc/systemd/system/clawguard-secrets.service";

#[derive(Serialize)]
struct Ctx {
    rotate_days: u32,
    services: Vec<String>,
    secrets_dir: &'static str,
}

#[derive(Serialize)]
struct UnitCtx<'a> {
    bin: &'a str,
    dir: &'static str,
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Credentials;
    debug_assert!(MANIFEST.starts_with(ETC));
    let ctx = Ctx {
        rotate_days: a.credentials.rotate_days.get(),
        services: a.credentials.services.iter().map(|s| s.to_string()).collect(),
        secrets_dir: super::secrets_dir(f.platform.kind()),
    };
    // Names only, no values: readable, so that looking needs no root.
    b.file(layer, MANIFEST, "credentials/credentials.toml", &ctx, 0o644, None)?;
    if ctx.services.is_empty() {
        b.warn(layer, Severity::Note, "No credentials are listed: the agent gets no keys from the vault.");
    }
    let missing: Vec<&str> = ctx.services.iter().filter(|s| !f.vault_keys.contains(s)).map(String::as_str).collect();
    if !missing.is_empty() {
        b.warn(layer, Severity::Warning, format!(
            "No key in the vault yet for {}, so the agent does not get {}: run `sudo clawguard secrets set NAME` for each (the value is asked masked, never on the command line).",
            missing.join(", "),
            if missing.len() == 1 { "it" } else { "them" }
        ));
    }
    let bin = f.clawguard.path();
    let job = Job {
        name: "secrets",
        argv: [bin, "secrets", "unlock"].map(String::from).to_vec(),
        when: When::Boot,
        why: "unlock the keys at every boot",
    };
    b.job(layer, f, job, "credentials", UnitCtx { bin, dir: super::secrets_dir(f.platform.kind()) })?;
    let unit = match f.platform.mac() {
        Some(_) => super::launchd::path(&super::launchd::label("secrets")),
        None => UNIT.to_owned(),
    };
    // The keys must be in place before the agent's containers start.
    let compose = super::sandbox::compose_file(a);
    if !f.vault_keys.is_empty() && !a.skip.contains(&Layer::Sandbox) {
        b.on_change(
            layer,
            &[f.clawguard.path(), "secrets", "unlock"],
            "hand the keys to the agent as files",
            &[compose.as_str(), unit.as_str()],
        );
    }
    for env in &f.plaintext_env_files {
        let severity = if env.world_readable { Severity::Danger } else { Severity::Warning };
        b.warn(layer, severity, format!(
            "{} holds {} key(s) in plaintext{}: anyone who reads the disk or a backup has them. Move them into the vault and shred the file.",
            env.path,
            env.keys,
            if env.world_readable { ", readable by every user" } else { "" }
        ));
    }
    Ok(())
}
