//! `clawguard secrets rotate NAME`: the seed's four steps for replacing a key — a new key
//! from the provider, stored (the old one kept), the agent checked with it, the old one
//! revoked (`--done`) — with a way back (`--back`) until the old key is forgotten.

use std::process::ExitCode;

use super::CommandError;
use crate::answers::Ident;
use crate::services;
use crate::session::Loaded;
use crate::target::{Ran, Runner};

pub fn rotate(l: &Loaded, name: &Ident, done: bool, back: bool) -> Result<ExitCode, CommandError> {
    let vault = crate::vault::Vault::new(&l.root);
    if done {
        vault.finish_rotation(name)?;
        say!("The old key for {name} is forgotten: the rotation is complete.");
        return Ok(ExitCode::SUCCESS);
    }
    if back {
        vault.undo_rotation(name)?;
        say!("The key for {name} is the old one again.");
        hand_over(l)?;
        return Ok(ExitCode::SUCCESS);
    }
    // 1. A new key at the provider, as narrow as it can be.
    say!("1. Make a new key for {name}: {}", services::revoke_at(name.as_str()));
    say!("   Keep it narrow: {}.", services::scope(name.as_str()));
    // 2. Stored; the old one kept until step 4.
    let value = super::secrets::read_key(&format!("2. The new key for {name}:"))?;
    if value.is_empty() {
        return Err(crate::vault::VaultError::Empty(name.to_string()).into());
    }
    vault.rotate(name, value.as_bytes())?;
    say!("2. Stored (encrypted); the old key is kept until you say it is revoked.");
    // 3. The agent gets it, and is checked by the user.
    hand_over(l)?;
    say!("3. Check that the agent works with the new key (send it a message). If it does not:");
    say!("     sudo clawguard secrets rotate {name} --back");
    say!("4. Then revoke the OLD key at {}, and run:", services::revoke_at(name.as_str()));
    say!("     sudo clawguard secrets rotate {name} --done");
    Ok(ExitCode::SUCCESS)
}

/// The keys unlocked again, and the agent restarted so it reads them (on this host, when
/// its project is here); otherwise what to run.
fn hand_over(l: &Loaded) -> Result<(), CommandError> {
    let names = super::secrets::unlock(l)?;
    say!("   The agent's {} key(s) are unlocked again.", names.len());
    let compose = crate::layers::sandbox::compose_file(&l.answers);
    let restart = crate::layers::sandbox::project_argv(&l.facts, &compose, &["restart", "agent"]);
    if l.root.is_live() && l.root.exists(&compose) {
        match Runner::Live.run(&restart) {
            Ran::Failed { output, .. } => say!(
                "   The agent could not be restarted ({}): run `sudo {}`.",
                output.lines().last().unwrap_or_default(),
                restart.join(" ")
            ),
            _ => say!("   The agent was restarted and reads the new key."),
        }
    } else {
        say!("   Restart the agent so it reads it: sudo {}", restart.join(" "));
    }
    Ok(())
}
