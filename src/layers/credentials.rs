//! Layer 2: the list of credentials the vault holds for the agent (names, never values),
//! and warnings about keys lying in plaintext.

use serde::Serialize;

use super::{Builder, ETC, SECRETS_DIR};
use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{Layer, Severity};
use crate::render::RenderError;

pub const MANIFEST: &str = "/etc/clawguard/credentials.toml";

#[derive(Serialize)]
struct Ctx {
    rotate_days: u32,
    services: Vec<String>,
    secrets_dir: &'static str,
}

pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder) -> Result<(), RenderError> {
    let layer = Layer::Credentials;
    debug_assert!(MANIFEST.starts_with(ETC));
    let ctx = Ctx {
        rotate_days: a.credentials.rotate_days.get(),
        services: a.credentials.services.iter().map(|s| s.to_string()).collect(),
        secrets_dir: SECRETS_DIR,
    };
    b.file(layer, MANIFEST, "credentials/credentials.toml", &ctx, 0o600, None)?;
    if ctx.services.is_empty() {
        b.warn(layer, Severity::Note, "No credentials are listed: the agent gets no keys from the vault.");
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
