//! `clawguard egress`: the hosts the agent's proxy refused, and a person's decision on
//! each — allow (the answers, then the egress layer alone) or dismiss.

use std::io::IsTerminal;
use std::process::ExitCode;

use super::{CommandError, load, runner_for};
use crate::answers::{self, DomainPattern, Layer};
use crate::cli::{EgressAction, EgressArgs};
use crate::egress::{self as approvals, Decisions, Verdict};
use crate::plan::preview;
use crate::session::{Keys, Loaded};

pub fn egress(args: &EgressArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    match &args.action {
        None | Some(EgressAction::List) => list(&l),
        Some(EgressAction::Dismiss { host }) => dismiss(&l, host),
        Some(EgressAction::Allow { host }) => allow(l, args, host),
    }
}

fn list(l: &Loaded) -> Result<ExitCode, CommandError> {
    if approvals::read_log(&l.root, &l.facts)?.is_none() {
        say!(
            "The agent's proxy has logged nothing on this host yet (is the sandbox applied? `sudo clawguard status` says)."
        );
        return Ok(ExitCode::SUCCESS);
    }
    let pending = approvals::list(&l.root, &l.facts, &l.answers)?;
    if pending.is_empty() {
        say!("The agent's proxy refused no host since the last decision about it.");
        return Ok(ExitCode::SUCCESS);
    }
    say!("The agent's proxy refused these hosts (newest first); nothing reaches them until you allow it:");
    say!("");
    say!("  {:<40} {:>6}  {:<20}  {:<20}", "host", "times", "first", "last");
    for p in &pending {
        say!("  {:<40} {:>6}  {:<20}  {:<20}", p.host, p.count, approvals::when(p.first), approvals::when(p.last));
    }
    say!("");
    say!(
        "`sudo clawguard egress allow HOST` lets the agent reach one; `sudo clawguard egress dismiss HOST` takes it off this list."
    );
    if pending.iter().any(|p| p.name.is_none()) {
        say!(
            "An address is never allowed (the allow-list takes names): an agent asking for one is worth a look (/etc/clawguard/RECOVERY.md)."
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn dismiss(l: &Loaded, host: &str) -> Result<ExitCode, CommandError> {
    let pending = approvals::list(&l.root, &l.facts, &l.answers)?;
    let Some(p) = pending.iter().find(|p| p.host == host.trim().to_ascii_lowercase()) else {
        return Err(approvals::EgressError::NotPending(host.to_owned()).into());
    };
    let mut d = Decisions::load(&l.root)?;
    d.decide(&p.host, Verdict::Dismissed);
    d.save(&l.root)?;
    say!("{} is off the list; the proxy keeps refusing it, and lists it again if it is refused again.", p.host);
    Ok(ExitCode::SUCCESS)
}

fn allow(l: Loaded, args: &EgressArgs, host: &str) -> Result<ExitCode, CommandError> {
    let name: DomainPattern =
        host.trim().parse().map_err(|e: answers::Invalid| CommandError::BadName(host.to_owned(), e.0))?;
    if let Some(by) = l.answers.egress.allowed_hosts.iter().find(|a| name.covered_by(a)) {
        say!("{name} is allowed already (by `{by}` in egress.allowed_hosts).");
        return Ok(ExitCode::SUCCESS);
    }
    if l.answers.skip.contains(&Layer::Egress) {
        return Err(CommandError::Stop(
            "the egress layer is skipped in the answers, so there is no allow-list to add to (the agent reaches any host). Take \"egress\" out of `skip` and apply first.".into(),
        ));
    }
    // The answers file this came from (or the applied copy), edited in place.
    let path = match &args.common.answers {
        Some(p) => p.clone(),
        None => l.root.path(answers::DEFAULT_PATH),
    };
    let shown = path.display().to_string();
    let edited = match std::fs::read_to_string(&path) {
        Ok(text) => answers::allow_hosts(&text, &l.answers.egress.allowed_hosts, std::slice::from_ref(&name), &shown)?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut a = l.answers.clone();
            a.egress.allowed_hosts.push(name.clone());
            a.to_toml()
        }
        Err(e) => return Err(CommandError::Stop(format!("{shown} cannot be read ({e}): nothing was allowed"))),
    };
    let new = answers::Answers::parse_for(&edited, &shown, l.facts.platform.kind())?;
    // The egress layer alone: squid reads the new list, nothing else is touched.
    let root = l.root.clone();
    let runner = runner_for(&root, &args.runner);
    let applied_copy = path == root.path(answers::DEFAULT_PATH);
    let mut req = Loaded { answers: new, ..l }.request(runner, Keys::new(), 0, false);
    req.only = Some(vec![Layer::Egress]);
    if applied_copy {
        // The apply writes the applied copy itself: as edited, comments and all.
        req.facts.applied_answers = Some(edited.clone());
    }
    let plan = req.prepare()?;
    let p = preview::preview(&plan, &req.root);
    say!(
        "Allowing {name}: egress.allowed_hosts gains it in {shown}, and the proxy reads the new list (the agent keeps running)."
    );
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CommandError::Stop(format!(
                "not allowed: stdin is not a terminal, so clawguard cannot ask. Run `sudo clawguard egress allow {name} --yes`."
            )));
        }
        super::apply::show_review(&p)?;
        super::apply::ask_yes(&format!("Let the agent reach {name}?"))?;
    }
    let code = super::apply::run(&req)?;
    if !applied_copy {
        crate::target::atomic::write(&path, edited.as_bytes(), 0o644)
            .map_err(|e| CommandError::Write { path: shown.clone(), source: e })?;
    }
    let mut d = Decisions::load(&root)?;
    d.decide(&name.to_string(), Verdict::Allowed);
    d.save(&root)?;
    Ok(code)
}
