//! The agent's own config files as the probe finds them. They are the agent's: read as
//! regular files of a bounded size, never through a link, and never taken for absent when
//! they cannot be read.

use std::fs;

use crate::target::Root;

/// OpenClaw's config file in the agent's config directory: clawguard writes it (the
/// sandbox layer's `openclaw.json`), the probe reads what was there before.
pub const CONFIG: &str = "openclaw.json";
/// The user's own settings, included by [`CONFIG`].
pub const SETTINGS: &str = "settings.json5";

/// What is in the agent's config directory: OpenClaw's `openclaw.json` (clawguard's, or
/// the user's before clawguard first ran) and the user's `settings.json5`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AgentConfig {
    /// The directory these were read from (the answers' `sandbox.config_dir`).
    pub dir: String,
    pub config: FileFact,
    pub settings: FileFact,
}

/// One file as the probe found it. A file that is there but cannot be read is never
/// taken for an absent one.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum FileFact {
    #[default]
    Absent,
    Text(String),
    /// There, but not a readable regular UTF-8 file of at most [`AGENT_CONFIG_MAX`] (why).
    Unreadable(String),
}

/// OpenClaw caps each included config file at 2 MB; so does clawguard.
pub const AGENT_CONFIG_MAX: u64 = 2 << 20;

/// Reads the agent's config directory `dir` (see [`AgentConfig`]).
pub fn agent_config(root: &Root, dir: &str) -> AgentConfig {
    let read = |name: &str| -> FileFact {
        let abs = format!("{}/{name}", dir.trim_end_matches('/'));
        let path = root.entry(&abs);
        match fs::symlink_metadata(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return FileFact::Absent,
            Err(e) => return FileFact::Unreadable(e.to_string()),
            Ok(m) if !m.file_type().is_file() => {
                return FileFact::Unreadable("not a regular file (a link, a directory or a device)".into());
            }
            Ok(m) if m.len() > AGENT_CONFIG_MAX => {
                return FileFact::Unreadable(format!("{} bytes, more than the 2 MB OpenClaw reads", m.len()));
            }
            Ok(_) => {}
        }
        match crate::target::atomic::read_string_nofollow(&path) {
            Ok(text) => FileFact::Text(text),
            Err(e) => FileFact::Unreadable(e.to_string()),
        }
    };
    AgentConfig { dir: dir.to_owned(), config: read(CONFIG), settings: read(SETTINGS) }
}
