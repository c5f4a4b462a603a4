//! `clawguard uninstall`: show what goes back, ask, then either put it all back or — when
//! SSH listened elsewhere before clawguard — first move SSH back through the ordinary
//! guarded apply, leaving the rest to `clawguard confirm` from a login on the old port.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{CommandError, color_on, progress_bar, target};
use crate::apply::After;
use crate::cli::UninstallArgs;
use crate::host;
use crate::report;
use crate::session;
use crate::target::{Root, Runner};
use crate::uninstall;

pub fn uninstall(args: &UninstallArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(&args.target)?;
    if root.is_live() && !crate::target::atomic::running_as_root() {
        return Err(CommandError::Stop(
            "uninstalling changes this system and reads clawguard's backups, which only root can: run `sudo clawguard uninstall`. Nothing was changed.".into(),
        ));
    }
    let restoration = uninstall::restoration(&root)?;
    let ssh = host::login::ssh_connection(root.is_live());
    let facts = host::probe(&root, ssh.as_deref());
    let now = facts.sshd.ports();
    let before = restoration.ssh_ports(&root).map_err(|e| {
        CommandError::Stop(format!(
            "cannot read sshd's settings as they were before clawguard: {e}. Nothing was changed."
        ))
    })?;
    // The old port must be proven over a new login before the way in now goes: only where
    // clawguard runs the services (an image is just written back).
    // On a Mac, launchd (not sshd_config) held the port before clawguard: rolling back
    // turns Remote Login back to what it was (its port 22 first: the newest generation,
    // which closed it, is undone first) before clawguard's own daemon goes.
    let move_back = runner.runs_commands()
        && facts.sshd.main_present
        && facts.platform.mac().is_none()
        && !before.iter().all(|p| now.contains(p));
    let color = color_on(std::io::stdout().is_terminal());
    print!(
        "{}",
        report::ansi(&report::uninstall(&restoration, move_back.then_some((&now[..], &before[..])), args.purge), color)
    );
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CommandError::Stop(
                "not uninstalled: stdin is not a terminal, so clawguard cannot ask. Read the above, then run `clawguard uninstall --yes`.".into(),
            ));
        }
        let ok = inquire::Confirm::new(&format!("Put {} back as it was before clawguard?", root.dir().display()))
            .with_default(false)
            .prompt()
            .unwrap_or(false);
        if !ok {
            return Err(CommandError::Stop("not uninstalled: you did not say yes. Nothing was changed.".into()));
        }
    }
    let then = After::Uninstall { purge: args.purge };
    if move_back {
        let o = session::run(
            &session::move_ssh_back(&root, runner.clone(), ssh, before[0], args.confirm_timeout, then)?,
            &mut progress_bar(),
        )?;
        print!("{}", report::ansi(&report::outcome(&o, crate::target::now()), color));
        if o.report.pending.is_some() {
            say!(
                "\nStep 1 of 2 done: SSH listens on port {} again as well. Nothing else was put back yet: that is what `sudo clawguard confirm`, from a new login on port {}, does.",
                before[0],
                before[0]
            );
            return Ok(ExitCode::SUCCESS);
        }
    }
    finish(&root, &runner, args.purge)
}

/// The last step (now, or from `confirm`): every generation taken back, the records
/// removed, and what was kept.
pub fn finish(root: &Root, runner: &Runner, purge: bool) -> Result<ExitCode, CommandError> {
    let done = uninstall::finish(root, runner, purge)?;
    for line in &done.lines {
        say!("{line}");
    }
    if let Some(problem) = &done.ssh_problem {
        return Err(CommandError::Stop(problem.clone()));
    }
    if !done.kept.is_empty() {
        say!("Kept (`clawguard uninstall --purge` had removed them): {}", done.kept.join(", "));
    }
    say!(
        "clawguard is uninstalled from {}: every file it managed is as it was before. The program itself stays: `sudo apt-get remove clawguard` (or delete the binary you installed).",
        root.dir().display()
    );
    Ok(ExitCode::SUCCESS)
}
