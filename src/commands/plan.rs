//! `clawguard plan`: the review of what an apply would change, and with `--validate` the
//! services' own checkers on it. Exits 2 when something would change.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{CommandError, color_on, load, runner_for};
use crate::cli::PlanArgs;
use crate::plan::preview;
use crate::session::Keys;
use crate::{report, validate};

pub fn plan(args: &PlanArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let color = !args.no_color && color_on(std::io::stdout().is_terminal());
    say!("clawguard plan for {} ({}), answers from {}\n", l.root.dir().display(), l.facts.os.describe(), l.source);
    let runner = runner_for(&l.root, &None);
    let mut req = l.request(runner, Keys::new(), 0, false);
    let plan = req.prepare()?;
    let p = preview::preview(&plan, &req.root);
    print!("{}", report::ansi(&report::summary(&p), color));
    say!("\nEvery change:\n");
    print!("{}", report::ansi(&report::review(&p), color));
    if args.validate {
        let outcomes = validate::run(&plan, &req.root).map_err(CommandError::Stage)?;
        say!("\nChecks by the services' own tools:");
        let mut failed = 0;
        for o in &outcomes {
            match &o.result {
                Ok(summary) => say!("  ok    {}: {summary}", o.file),
                Err(why) => {
                    failed += 1;
                    say!("  FAIL  {} ({}):", o.file, o.checker);
                    for line in why.lines() {
                        say!("          {line}");
                    }
                }
            }
        }
        if failed > 0 {
            return Err(CommandError::Validation(failed));
        }
    }
    Ok(if p.has_changes() { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
