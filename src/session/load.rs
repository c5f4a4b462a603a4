//! What every front end starts from: a target root, the answers for it (a file, the
//! applied copy, or the defaults of its platform), the facts probed from it, and the SSH
//! login this runs in.

use std::path::Path;

use super::{Keys, Request, stage};
use crate::answers::{self, Answers, AnswersError};
use crate::apply::After;
use crate::host::{self, Facts};
use crate::target::{Root, Runner};

/// Answers and facts for a target, and the login this runs in.
pub struct Loaded {
    pub root: Root,
    pub answers: Answers,
    pub facts: Facts,
    /// Where the answers came from, for the report.
    pub source: String,
    /// `SSH_CONNECTION` of this login (found through sudo).
    pub ssh_connection: Option<String>,
}

/// Why a target could not be loaded. Each says what to type instead.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(
        "the target root {0} is not a directory: give an existing directory with --root DIR (or leave it out for /)"
    )]
    NoRoot(String),
    #[error(transparent)]
    Answers(#[from] AnswersError),
}

/// Loads the target at `root` with the answers at `answers`, or else the applied copy
/// (`<root>/etc/clawguard/answers.toml`), or else the defaults of the target's platform.
pub fn load(root: &Path, answers: Option<&Path>) -> Result<Loaded, LoadError> {
    if !root.is_dir() {
        return Err(LoadError::NoRoot(root.display().to_string()));
    }
    let root = Root::new(root);
    let platform = host::platform::kind(&root);
    let (answers, source) = match answers {
        Some(path) => (Answers::load_for(path, platform)?, path.display().to_string()),
        None => {
            let installed = root.path(answers::DEFAULT_PATH);
            if installed.exists() {
                (Answers::load_for(&installed, platform)?, installed.display().to_string())
            } else {
                (Answers::defaults_for(platform), "the built-in defaults".to_owned())
            }
        }
    };
    let ssh_connection = host::login::ssh_connection(root.is_live());
    let facts = host::probe(&root, ssh_connection.as_deref()).for_answers(&root, &answers);
    Ok(Loaded { root, answers, facts, source, ssh_connection })
}

impl Loaded {
    /// The one request every front end applies with.
    pub fn request(self, runner: Runner, keys: Keys, confirm_timeout: u64, force: bool) -> Request {
        Request {
            answers: self.answers,
            facts: self.facts,
            root: self.root,
            stage: stage(&runner),
            runner,
            keys,
            confirm_timeout,
            force,
            ssh_connection: self.ssh_connection,
            then: After::Complete,
            only: None,
            completes: None,
        }
    }
}
