//! `clawguard secrets`: the vault's keys — set, list, rm, unlock, and the identity's
//! rotation; `import` and `rotate` have files of their own.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{CommandError, import, load, rotate};
use crate::cli::{SecretsAction, SecretsArgs};
use crate::session::Loaded;

pub fn secrets(args: &SecretsArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let vault = crate::vault::Vault::new(&l.root);
    let ident = |name: &str| -> Result<crate::answers::Ident, CommandError> {
        name.parse().map_err(|e: crate::answers::Invalid| CommandError::BadName(name.to_owned(), e.0))
    };
    match &args.action {
        SecretsAction::Set { name } => {
            let id = ident(name)?;
            if !l.answers.credentials.services.contains(&id) {
                say_err!(
                    "note: `{id}` is not in credentials.services, so the agent does not get it until you add it there."
                );
            }
            let value = read_key(&format!("Key for {id}:"))?;
            // The same value again changes nothing (a fleet run sets every key each time).
            if vault.get(&id).is_ok_and(|old| old == value.as_bytes()) {
                say!("The vault already holds this key for {id}: unchanged.");
                return Ok(ExitCode::SUCCESS);
            }
            vault.set(&id, value.as_bytes())?;
            say!("Stored the key for {id} in the vault (encrypted). `clawguard secrets unlock` hands it to the agent.");
        }
        SecretsAction::List => {
            let entries = vault.list()?;
            let rotate = u64::from(l.answers.credentials.rotate_days.get());
            for e in &entries {
                let rotating = vault.rotating(&ident(&e.name)?)?;
                let due = if rotating.is_some() {
                    format!(
                        "  ROTATING: revoke the old key at {}, then `clawguard secrets rotate {} --done`",
                        crate::services::revoke_at(&e.name),
                        e.name
                    )
                } else if e.age_days() >= rotate {
                    format!("  ROTATE: older than {rotate} days (`clawguard secrets rotate {}`)", e.name)
                } else {
                    String::new()
                };
                say!("{:<20} set {} day(s) ago{due}", e.name, e.age_days());
            }
            for s in &l.answers.credentials.services {
                if !entries.iter().any(|e| e.name == s.as_str()) {
                    say!("{:<20} not set (clawguard secrets set {s})", s);
                }
            }
        }
        SecretsAction::Rm { name } => {
            vault.remove(&ident(name)?)?;
            say!("Removed the key for {name}.");
        }
        SecretsAction::Import { file, yes } => {
            return import::import(&l, file.as_deref(), args.common.answers.as_deref(), *yes);
        }
        SecretsAction::Rotate { name, done, back } => return rotate::rotate(&l, &ident(name)?, *done, *back),
        SecretsAction::RotateIdentity => {
            let n = vault.rotate_identity()?;
            say!("Re-sealed {n} key(s) to a new vault identity; the old identity is gone from this host.");
            say!(
                "Your recovery kit holds the old identity: it still opens older backups, not this vault. Make a new kit now: `sudo clawguard backup kit`."
            );
        }
        SecretsAction::Unlock => {
            let names = unlock(&l)?;
            let dir = crate::layers::secrets_dir(l.facts.platform.kind());
            say!("Unlocked {} key(s) into {}.", names.len(), l.root.path(dir).display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A key's value: asked masked on a terminal, else read from standard input (never from
/// the command line, where other users and the shell history would see it).
pub(super) fn read_key(prompt: &str) -> Result<String, CommandError> {
    if std::io::stdin().is_terminal() {
        inquire::Password::new(prompt)
            .with_display_mode(inquire::PasswordDisplayMode::Masked)
            .without_confirmation()
            .prompt()
            .map_err(|e| CommandError::ReadSecret(e.to_string()))
    } else {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
            .map_err(|e| CommandError::ReadSecret(e.to_string()))?;
        Ok(s.trim_end_matches(['\n', '\r']).to_owned())
    }
}

/// The agent's keys (the answers' services and, for OpenClaw, its gateway token) into
/// the secrets directory, as files for the agent's uid.
pub(super) fn unlock(l: &Loaded) -> Result<Vec<String>, CommandError> {
    let dest = l.root.path(crate::layers::secrets_dir(l.facts.platform.kind()));
    let mut services = l.answers.credentials.services.clone();
    if crate::layers::openclaw::wants_gateway_key(&l.answers) {
        services.push(crate::layers::openclaw::GATEWAY_KEY.parse().expect("a valid name"));
    }
    let vault = crate::vault::Vault::new(&l.root);
    let (uid, gid) = crate::layers::sandbox::agent_ids(&l.answers, &l.facts);
    Ok(vault.unlock(&dest, uid, gid, &services)?)
}
