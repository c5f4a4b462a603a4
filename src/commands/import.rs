//! `clawguard secrets import [FILE]`: every key of a plaintext `.env` into the vault, the
//! services named in the answers, then the plaintext overwritten and removed — after the
//! user said yes. All or nothing: a failure before the removal leaves the file, the vault
//! and the answers as they were.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::CommandError;
use crate::answers::{self, Ident};
use crate::envfile;
use crate::session::Loaded;
use crate::target::atomic;

fn fail(why: impl Into<String>) -> CommandError {
    CommandError::Import(why.into())
}

/// Which file: the one given, else the single OpenClaw `.env` the probe found.
fn which(l: &Loaded, file: Option<&Path>) -> Result<String, CommandError> {
    if let Some(f) = file {
        return Ok(f.display().to_string());
    }
    match l.facts.plaintext_env_files.as_slice() {
        [one] => Ok(one.path.clone()),
        [] => Err(fail(
            "no OpenClaw .env was found (looked for ~/.openclaw/.env in /root and /home/*): give the file, `clawguard secrets import PATH`",
        )),
        many => Err(fail(format!(
            "several .env files hold keys ({}): import them one at a time, `clawguard secrets import PATH`",
            many.iter().map(|e| e.path.as_str()).collect::<Vec<_>>().join(", ")
        ))),
    }
}

pub fn import(
    l: &Loaded,
    file: Option<&Path>,
    answers_file: Option<&Path>,
    yes: bool,
) -> Result<ExitCode, CommandError> {
    let shown = which(l, file)?;
    // Never through a link the user (or the agent) owns, on the way or at the end: the
    // file is overwritten and removed afterwards, and its keys go to the agent.
    let path =
        l.root.untrusted(&shown).map_err(|e| fail(format!("{shown} cannot be read ({e}): nothing was imported")))?;
    let (bytes, _) = crate::target::untrusted::open_no_links(&path)
        .and_then(|f| crate::target::untrusted::read_capped(f, 1024 * 1024))
        .map_err(|e| fail(format!("{shown} cannot be read ({e}): nothing was imported")))?;
    let text =
        String::from_utf8(bytes).map_err(|_| fail(format!("{shown} is not UTF-8 text: nothing was imported")))?;
    let vars = envfile::parse(&text).map_err(|e| fail(format!("{shown}: {e}; nothing was imported")))?;
    if vars.is_empty() {
        return Err(fail(format!("{shown} holds no NAME=value line: nothing to import")));
    }
    let mut keys: Vec<(Ident, Vec<u8>)> = Vec::new();
    let stored = crate::vault::Vault::new(&l.root).list()?;
    say!("{shown} holds {} key(s); each goes into the vault as:", vars.len());
    for v in &vars {
        let name = envfile::service_for(&v.name).map_err(|e| fail(format!("{shown} line {}: {e}", v.line)))?;
        if v.value.is_empty() {
            return Err(fail(format!(
                "{shown} line {}: {} is empty; remove the line or give it a value",
                v.line, v.name
            )));
        }
        if let Some(other) = keys.iter().position(|(n, _)| *n == name) {
            return Err(fail(format!(
                "{shown}: {} and line {} both become the vault's `{name}`; keep one",
                vars[other].name, v.line
            )));
        }
        let replaces = stored.iter().any(|e| e.name == name.as_str());
        say!("  {:<24} → {name}{}", v.name, if replaces { "  (replaces the stored key)" } else { "" });
        keys.push((name, v.value.clone().into_bytes()));
    }
    // The agent gets what the answers list; OpenClaw's gateway token is its own already.
    let mut a = l.answers.clone();
    let added: Vec<Ident> = keys
        .iter()
        .map(|(n, _)| n.clone())
        .filter(|n| n.as_str() != crate::layers::openclaw::GATEWAY_KEY && !a.credentials.services.contains(n))
        .collect();
    a.credentials.services.extend(added.iter().cloned());
    let answers_path: PathBuf = match answers_file {
        Some(p) => p.to_path_buf(),
        None => l.root.path(answers::DEFAULT_PATH),
    };
    // The user's answers file edited in place (comments kept), or written when there is none.
    let new_answers = if added.is_empty() {
        None
    } else {
        let shown_answers = answers_path.display().to_string();
        Some(match std::fs::read_to_string(&answers_path) {
            Ok(text) => answers::add_services(&text, &added, &shown_answers)?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => a.to_toml(),
            Err(e) => return Err(fail(format!("{shown_answers} cannot be read ({e}): nothing was imported"))),
        })
    };
    if !added.is_empty() {
        say!(
            "credentials.services gains {} in {}.",
            added.iter().map(Ident::as_str).collect::<Vec<_>>().join(", "),
            answers_path.display()
        );
    }
    say!("Then {shown} is overwritten and removed: the keys stay only in the vault (and in its backups).");
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(fail("stdin is not a terminal, so clawguard cannot ask: run it again with --yes"));
        }
        let go = inquire::Confirm::new("Import these keys and remove the plaintext file?")
            .with_default(false)
            .prompt()
            .map_err(|e| CommandError::Prompt(e.to_string()))?;
        if !go {
            return Err(CommandError::Declined);
        }
    }
    let vault = crate::vault::Vault::new(&l.root);
    let undo = vault.set_all(&keys)?;
    if let Some(text) = &new_answers
        && let Err(e) = atomic::write(&answers_path, text.as_bytes(), 0o644)
    {
        undo.undo();
        return Err(fail(format!("{} cannot be written ({e}): nothing was imported", answers_path.display())));
    }
    // Overwritten first (a removed file's blocks would keep the keys), then removed.
    let shred = || -> std::io::Result<()> {
        use std::io::Write as _;
        use std::os::unix::fs::OpenOptionsExt as _;
        let mut f =
            std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(&path)?;
        f.write_all(&vec![0u8; text.len()])?;
        f.sync_all()?;
        atomic::remove(&path)
    };
    if let Err(e) = shred() {
        return Err(fail(format!(
            "the keys are in the vault, but {shown} could not be removed ({e}): remove it yourself (`shred -u {shown}`)"
        )));
    }
    say!("Imported {} key(s); {shown} is gone. `sudo clawguard apply` hands them to the agent as files.", keys.len());
    Ok(ExitCode::SUCCESS)
}
