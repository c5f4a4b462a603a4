//! `clawguard check`: the daily security check, its report, and the alert when there is news.

use std::process::ExitCode;

use super::{CommandError, load, runner_for};
use crate::cli::CheckArgs;

pub fn check(args: &CheckArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let runner = runner_for(&l.root, &args.runner);
    let findings = crate::check::run(&l.answers, &l.facts, &l.root, &runner)?;
    let host = l.facts.hostname.clone().unwrap_or_else(|| "this host".into());
    let text = crate::check::report(&host, &findings);
    if args.json {
        // JSON is for machines: escaped the JSON way (a `say!` escape would not parse).
        println!("{}", crate::sink::json(&crate::check::json(&host, &findings)));
    } else {
        say!("{text}");
    }
    let attention = crate::check::needs_attention(&findings);
    if !args.no_alert
        && let Err(e) = crate::check::alert::deliver(&l.answers, &l.root, &host, &findings)
    {
        say_err!("warning: {e}");
    }
    Ok(if attention { ExitCode::from(3) } else { ExitCode::SUCCESS })
}
