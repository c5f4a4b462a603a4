//! `clawguard incident`: ask, contain, collect, and say what to rotate (`crate::incident`).

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{CommandError, load};

pub fn incident(args: &crate::cli::IncidentArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let runner = super::runner_for(&l.root, &args.runner);
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CommandError::Failed(
                "stdin is not a terminal, so clawguard cannot ask: run `sudo clawguard incident --yes` to stop the agent and collect the evidence".into(),
            ));
        }
        let go = inquire::Confirm::new("Stop the agent and its proxy now, and collect the evidence?")
            .with_default(true)
            .with_help_message("SSH and the firewall are not touched")
            .prompt()
            .map_err(|e| CommandError::Prompt(e.to_string()))?;
        if !go {
            return Err(CommandError::Declined);
        }
    }
    let r = crate::incident::run(&l.answers, &l.facts, &l.root, &runner)
        .map_err(|e| CommandError::Failed(e.to_string()))?;
    match &r.stopped {
        Some(Ok(())) => say!(
            "1. The agent's project is stopped: the agent runs no more, and its proxy (its only way out) is down. SSH and the firewall are as they were."
        ),
        Some(Err(e)) => say!(
            "1. THE AGENT COULD NOT BE STOPPED ({e}): stop it by hand (`sudo docker stop $(sudo docker ps -q)`) or cut the host off."
        ),
        None => say!("1. Nothing to stop here (no agent's project, or its engine is not reachable from here)."),
    }
    match &r.keys_removed {
        Some(Ok((dir, n))) => say!(
            "   The {n} key(s) unlocked for the agent were removed from {dir} (the vault keeps them; once rotated, `sudo clawguard secrets unlock` puts the new ones there)."
        ),
        Some(Err(e)) => say!("   THE KEYS UNLOCKED FOR THE AGENT COULD NOT ALL BE REMOVED ({e}): remove them by hand."),
        None => {}
    }
    say!(
        "2. The evidence is in {} ({} item(s)); copy it off this server before you rebuild anything.",
        r.archive.display(),
        r.collected.len()
    );
    for m in &r.missing {
        say!("   not collected: {m}");
    }
    let name = r.archive.file_name().map(|n| format!("clawguard-{}", n.to_string_lossy())).unwrap_or_default();
    match super::give_to_sudo_user(&l, &r.archive, &name) {
        Some(Ok(copy)) => {
            say!("   A copy is yours to take: {copy} (mode 600). From your own machine: scp -P PORT USER@HOST:{copy} .")
        }
        Some(Err(e)) => say!("   A copy for you could not be made ({e}): `sudo cp` it from {}.", r.archive.display()),
        None => {}
    }
    if r.rotate.is_empty() {
        say!("3. The vault holds no keys; rotate any the agent had elsewhere (.env files, its config).");
    } else {
        say!("3. Rotate every key the agent or clawguard held (revoke the old one where it was issued):");
        for (name, at) in &r.rotate {
            say!("   {name}: {at}");
        }
    }
    say!(
        "Then follow /etc/clawguard/RECOVERY.md (rebuild, restore the data with `clawguard restore`, new keys in the vault)."
    );
    let failed = matches!(r.stopped, Some(Err(_))) || matches!(r.keys_removed, Some(Err(_)));
    Ok(if failed { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
