//! The commands: each builds its inputs, calls the core, and prints. Errors go back to
//! `main`, which reports them once.

use std::io::IsTerminal;
use std::process::ExitCode;

use crate::answers::{self, Answers, AnswersError};
use crate::apply::{self, ApplyError, Event, Options, Runner};
use crate::cli::{
    ApplyArgs, CheckArgs, Common, PlanArgs, RenderArgs, SecretsAction, SecretsArgs, TargetArgs, WatchdogArgs,
    WizardArgs,
};
use crate::host::{self, Facts, Root};
use crate::plan::Plan;
use crate::plan::preview::{self, Style};
use crate::{layers, validate};

/// What can stop a command. Each says what to do.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Answers(#[from] AnswersError),
    #[error(
        "the target root {0} is not a directory: give an existing directory with --root DIR (or leave it out for /)"
    )]
    NoRoot(String),
    #[error(
        "refusing to render into {0}: `render` writes a copy to read; give an empty directory such as --out ./rendered (use `apply` to change the system)"
    )]
    OutIsRoot(String),
    #[error("cannot write {path}: {source}")]
    Write { path: String, source: std::io::Error },
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("{0} check(s) failed: see above. Nothing was written.")]
    Validation(usize),
    #[error("cannot create a staging directory for the checks: {0}")]
    Stage(std::io::Error),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error(
        "not applied: stdin is not a terminal, so clawguard cannot ask. Review with `clawguard plan`, then run `clawguard apply --yes`."
    )]
    NeedYes,
    #[error("not applied: you did not say yes.")]
    Declined,
    #[error(
        "stdin is not a terminal, so the wizard cannot ask anything. Preview with `clawguard plan --answers FILE`, apply with `clawguard apply --answers FILE --yes` (`clawguard example` prints a documented answers file)."
    )]
    NoTerminal,
    #[error(
        "applying changes this system and needs root: run `sudo clawguard`, or look around first with `clawguard --dry-run`."
    )]
    NeedRoot,
    #[error("the terminal failed: {0}")]
    Terminal(std::io::Error),
    #[error("the prompt failed: {0}")]
    Prompt(String),
    #[error(transparent)]
    Vault(#[from] crate::vault::VaultError),
    #[error("`{0}`: {1}")]
    BadName(String, String),
    #[error("cannot read the key: {0}")]
    ReadSecret(String),
    #[error("the answers kept with generation {0} cannot be read: {1}")]
    KeptAnswers(u32, String),
}

/// Answers, facts and plan for a target.
pub struct Loaded {
    pub root: Root,
    pub answers: Answers,
    pub facts: Facts,
    pub plan: Plan,
    /// Where the answers came from, for the report.
    pub source: String,
}

pub fn load(common: &Common) -> Result<Loaded, CommandError> {
    if !common.root.is_dir() {
        return Err(CommandError::NoRoot(common.root.display().to_string()));
    }
    let root = Root::new(&common.root);
    let (answers, source) = match &common.answers {
        Some(path) => (Answers::load(path)?, path.display().to_string()),
        None => {
            let installed = root.path(answers::DEFAULT_PATH);
            if installed.exists() {
                (Answers::load(&installed)?, installed.display().to_string())
            } else {
                (Answers::default(), "the built-in defaults".to_owned())
            }
        }
    };
    let ssh_connection = host::session::ssh_connection(root.is_live());
    let facts = host::probe(&root, ssh_connection.as_deref());
    let plan = layers::plan(&answers, &facts)?;
    Ok(Loaded { root, answers, facts, plan, source })
}

pub fn plan(args: &PlanArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let color = !args.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let p = preview::preview(&l.plan, &l.root);
    println!("clawguard plan for {} ({}), answers from {}\n", l.root.dir().display(), l.facts.os.describe(), l.source);
    print!("{}", preview::report(&p, Style { color }));
    if args.validate {
        let outcomes = validate::run(&l.plan, &l.root).map_err(CommandError::Stage)?;
        println!("\nChecks by the services' own tools:");
        let mut failed = 0;
        for o in &outcomes {
            match &o.result {
                Ok(summary) => println!("  ok    {}: {summary}", o.file),
                Err(why) => {
                    failed += 1;
                    println!("  FAIL  {} ({}):", o.file, o.checker);
                    for line in why.lines() {
                        println!("          {line}");
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

pub fn render(args: &RenderArgs) -> Result<ExitCode, CommandError> {
    let out = &args.out;
    // `..` is refused as typed (`/new/..` names `/` before it exists); what exists is
    // compared once resolved.
    if out.as_os_str().is_empty() || out.components().any(|c| c == std::path::Component::ParentDir) {
        return Err(CommandError::OutIsRoot(out.display().to_string()));
    }
    let l = load(&args.common)?;
    std::fs::create_dir_all(out).map_err(|source| CommandError::Write { path: out.display().to_string(), source })?;
    let out_root = Root::new(out);
    if out_root.is_live() {
        return Err(CommandError::OutIsRoot(out.display().to_string()));
    }
    for f in &l.plan.files {
        // Directories are resolved inside the output; a file that is a symlink is refused.
        let target = out_root.managed(&f.path).map_err(|why| CommandError::Write {
            path: out_root.entry(&f.path).display().to_string(),
            source: std::io::Error::new(std::io::ErrorKind::InvalidInput, why.explain(&f.path)),
        })?;
        crate::apply::atomic::write(&target, f.content.as_bytes(), f.mode)
            .map_err(|source| CommandError::Write { path: target.display().to_string(), source })?;
        println!("{}", target.display());
    }
    eprintln!("{} file(s) written under {} (answers from {}).", l.plan.files.len(), out.display(), l.source);
    Ok(ExitCode::SUCCESS)
}

pub fn check(args: &CheckArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let runner = runner_for(&l.root, &args.runner);
    let findings = crate::check::run(&l.answers, &l.facts, &l.root, &runner)?;
    let host = l.facts.hostname.clone().unwrap_or_else(|| "this host".into());
    let text = crate::check::report(&host, &findings);
    if args.json {
        println!("{}", crate::check::json(&host, &findings));
    } else {
        println!("{text}");
    }
    let attention = crate::check::needs_attention(&findings);
    if attention
        && !args.no_alert
        && let Some(url) = &l.answers.monitoring.alert_webhook
        && let Err(e) = crate::check::alert(url.as_str(), &text)
    {
        eprintln!("warning: {e}");
    }
    Ok(if attention { ExitCode::from(3) } else { ExitCode::SUCCESS })
}

pub fn secrets(args: &SecretsArgs) -> Result<ExitCode, CommandError> {
    use std::io::Read as _;
    let l = load(&args.common)?;
    let vault = crate::vault::Vault::new(&l.root);
    let ident = |name: &str| -> Result<crate::answers::Ident, CommandError> {
        name.parse().map_err(|e: crate::answers::Invalid| CommandError::BadName(name.to_owned(), e.0))
    };
    match &args.action {
        SecretsAction::Set { name } => {
            let id = ident(name)?;
            if !l.answers.credentials.services.contains(&id) {
                eprintln!(
                    "note: `{id}` is not in credentials.services, so the agent does not get it until you add it there."
                );
            }
            let value = if std::io::stdin().is_terminal() {
                inquire::Password::new(&format!("Key for {id}:"))
                    .with_display_mode(inquire::PasswordDisplayMode::Masked)
                    .without_confirmation()
                    .prompt()
                    .map_err(|e| CommandError::ReadSecret(e.to_string()))?
            } else {
                let mut s = String::new();
                std::io::stdin().read_to_string(&mut s).map_err(|e| CommandError::ReadSecret(e.to_string()))?;
                s.trim_end_matches(['\n', '\r']).to_owned()
            };
            vault.set(&id, value.as_bytes())?;
            println!(
                "Stored the key for {id} in the vault (encrypted). `clawguard secrets unlock` hands it to the agent."
            );
        }
        SecretsAction::List => {
            let entries = vault.list()?;
            let rotate = u64::from(l.answers.credentials.rotate_days.get());
            for e in &entries {
                let due =
                    if e.age_days() >= rotate { format!("  ROTATE: older than {rotate} days") } else { String::new() };
                println!("{:<20} set {} day(s) ago{due}", e.name, e.age_days());
            }
            for s in &l.answers.credentials.services {
                if !entries.iter().any(|e| e.name == s.as_str()) {
                    println!("{:<20} not set (clawguard secrets set {s})", s);
                }
            }
        }
        SecretsAction::Rm { name } => {
            vault.remove(&ident(name)?)?;
            println!("Removed the key for {name}.");
        }
        SecretsAction::Unlock => {
            let dest = l.root.path(crate::layers::SECRETS_DIR);
            let names = vault.unlock(&dest, l.answers.sandbox.uid.get(), l.answers.sandbox.gid.get())?;
            println!("Unlocked {} key(s) into {}.", names.len(), dest.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn example() -> ExitCode {
    print!("{}", answers::EXAMPLE);
    ExitCode::SUCCESS
}

fn runner_for(root: &Root, runner: &Option<std::path::PathBuf>) -> Runner {
    match runner {
        Some(p) => Runner::Program(p.clone()),
        None if root.is_live() => Runner::Live,
        None => Runner::Skip,
    }
}

fn target(args: &TargetArgs) -> Result<(Root, Runner), CommandError> {
    if !args.root.is_dir() {
        return Err(CommandError::NoRoot(args.root.display().to_string()));
    }
    let root = Root::new(&args.root);
    let runner = runner_for(&root, &args.runner);
    Ok((root, runner))
}

/// A progress bar on a terminal; plain lines otherwise.
fn progress_bar() -> impl FnMut(Event) {
    let tty = std::io::stderr().is_terminal();
    let bar = indicatif::ProgressBar::hidden();
    move |e| match e {
        Event::Start { steps } => {
            if tty {
                bar.set_draw_target(indicatif::ProgressDrawTarget::stderr());
                bar.set_length(steps as u64);
                bar.set_style(
                    indicatif::ProgressStyle::with_template("{bar:30.cyan/blue} {pos}/{len} {wide_msg}")
                        .expect("valid template"),
                );
            }
        }
        Event::Step { label } => {
            if tty {
                bar.inc(1);
                bar.set_message(label);
            } else {
                eprintln!("  {label}");
            }
        }
        Event::Finish => bar.finish_and_clear(),
    }
}

pub fn apply(args: &ApplyArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let runner = runner_for(&l.root, &args.runner);
    let p = preview::preview(&l.plan, &l.root);
    if p.has_changes() && !args.yes {
        if !std::io::stdin().is_terminal() {
            return Err(CommandError::NeedYes);
        }
        let color = std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
        print!("{}", preview::report(&p, Style { color }));
        let ok = inquire::Confirm::new(&format!(
            "Apply these {} change(s) to {}?",
            p.change_count(),
            l.root.dir().display()
        ))
        .with_default(false)
        .prompt()
        .unwrap_or(false);
        if !ok {
            return Err(CommandError::Declined);
        }
    }
    let opts = Options {
        force: args.force,
        interim: runner.runs_commands(),
        runner,
        confirm_timeout: args.confirm_timeout,
        answers_toml: l.answers.to_toml(),
        ssh_connection: host::session::ssh_connection(l.root.is_live()),
        exe: std::env::current_exe().unwrap_or_else(|_| "clawguard".into()),
    };
    let report = apply::apply(&l.plan, &l.root, &opts, &mut progress_bar())?;
    print_report(&report, &l.root);
    let saved = crate::ui::tui::app::installed_answers(&l.root);
    apply::save_answers(&l.root, &l.answers)
        .map_err(|source| CommandError::Write { path: saved.display().to_string(), source })?;
    if let Some(p) = report.pending.as_ref().filter(|p| !p.automatic()) {
        let users = crate::layers::ssh::allowed_users(&l.answers, &l.facts);
        let user = users.first().map(String::as_str).unwrap_or("USER");
        let port = p.new_port.unwrap_or(l.answers.ssh.port.get());
        println!(
            "\nSSH listens on port {port} and still on {:?}. When a login on the new port works, from a NEW terminal:\n    ssh -o IdentitiesOnly=yes -p {port} {user}@<this host>\n    sudo clawguard confirm\nThat closes the old port. Nothing rolls back by itself (--confirm-timeout 0).",
            p.old_ports
        );
    } else if let Some(p) = &report.pending {
        let users = crate::layers::ssh::allowed_users(&l.answers, &l.facts);
        let user = users.first().map(String::as_str).unwrap_or("USER");
        let port = p.new_port.unwrap_or(l.answers.ssh.port.get());
        println!(
            "\nSSH or firewall settings changed. Keep this session open, and within {} seconds, from a NEW terminal:\n    ssh -o IdentitiesOnly=yes -p {port} {user}@<this host>\n    sudo clawguard confirm\nWithout that, everything is rolled back by itself ({}).",
            args.confirm_timeout,
            report.armed_with.as_deref().unwrap_or("watchdog")
        );
    }
    Ok(exit_for(&report))
}

/// 0 when everything was applied, 4 when some layers were left out (the report says why).
fn exit_for(report: &apply::Report) -> ExitCode {
    if report.not_applied.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(4) }
}

fn print_report(report: &apply::Report, root: &Root) {
    for r in &report.recovered {
        println!("recovered: {r}");
    }
    if let Some(n) = report.installed {
        println!("Installed the packages the plan needs (generation {n}).");
    }
    match report.generation {
        None if !report.not_applied.is_empty() => println!("Nothing else was changed."),
        None if report.skipped.is_empty() => println!("0 changes: the target already matches the answers."),
        None => println!("0 files changed."),
        Some(n) => println!(
            "Applied generation {n}: {} file(s) written, {} command(s) run.",
            report.written.len(),
            report.ran.len()
        ),
    }
    for f in &report.written {
        println!("  wrote {f}");
    }
    for c in &report.ran {
        println!("  ran   {c}");
    }
    for (layers, why) in &report.not_applied {
        let names: Vec<String> = layers.iter().map(|l| l.to_string()).collect();
        println!("NOT APPLIED: {}: {why}", names.join(" and "));
        println!("  The rest is applied. Fix that, then run `sudo clawguard apply` again.");
    }
    if !report.skipped.is_empty() {
        println!(
            "Not run, because the target is {} and not this system (run them there, or give --runner):",
            root.dir().display()
        );
        for c in &report.skipped {
            println!("  skipped {c}");
        }
    }
}

pub fn confirm(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(args)?;
    let ssh = host::session::ssh_connection(root.is_live());
    let pending = apply::confirm(&root, ssh.as_deref())?;
    println!("Confirmed: generation {} stays.", pending.generation);
    // Complete the move: the final SSH drop-in (new port only), then close the old port.
    let store = apply::Store::new(&root);
    let gens = store.generations().map_err(|e| CommandError::KeptAnswers(pending.generation, e.to_string()))?;
    let last = gens.last().map(|g| g.manifest.number).unwrap_or(pending.generation);
    let text = store.answers_of(last).map_err(|e| CommandError::KeptAnswers(last, e.to_string()))?;
    let answers = Answers::parse(&text, "the applied answers")?;
    for _ in 0..2 {
        let facts = host::probe(&root, ssh.as_deref());
        let plan = layers::plan(&answers, &facts)?;
        let opts = Options {
            force: false,
            interim: false,
            runner: runner.clone(),
            confirm_timeout: 0,
            answers_toml: text.clone(),
            ssh_connection: ssh.clone(),
            exe: std::env::current_exe().unwrap_or_else(|_| "clawguard".into()),
        };
        let report = apply::apply(&plan, &root, &opts, &mut progress_bar())?;
        if report.generation.is_some() {
            print_report(&report, &root);
        }
    }
    if let Some(old) = (!pending.old_ports.is_empty()).then_some(&pending.old_ports) {
        println!("The old SSH port(s) {old:?} are closed now.");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn rollback(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(args)?;
    for line in apply::rollback_last(&root, &runner)? {
        println!("{line}");
    }
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: &TargetArgs) -> Result<ExitCode, CommandError> {
    let (root, _) = target(args)?;
    print!("{}", apply::status(&root)?);
    Ok(ExitCode::SUCCESS)
}

pub fn watchdog(args: &WatchdogArgs) -> Result<ExitCode, CommandError> {
    let (root, runner) = target(&args.target)?;
    let armed = args.generation.zip(args.deadline);
    if let Some(done) = apply::watchdog(&root, &runner, armed)? {
        for line in &done {
            println!("{line}");
        }
        if apply::incomplete(&done) {
            return Err(apply::ApplyError::RollbackIncomplete(done).into());
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub fn wizard(args: &WizardArgs) -> Result<ExitCode, CommandError> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CommandError::NoTerminal);
    }
    let l = load(&args.common)?;
    if !args.dry_run && l.root.is_live() && !apply::atomic::running_as_root() {
        return Err(CommandError::NeedRoot);
    }
    if args.plain {
        return plain(args, l);
    }
    let app = crate::ui::tui::App::new(l.answers, l.facts, l.root, args.dry_run, l.source);
    let app = crate::ui::tui::run(app).map_err(CommandError::Terminal)?;
    match app.apply.as_ref().and_then(|a| a.result.as_ref()) {
        Some(Ok(report)) => {
            print_report(report, &app.root);
            return Ok(exit_for(report));
        }
        Some(Err(e)) => eprintln!("Not applied: {e}"),
        None if app.unsaved() => println!("Quit without saving; nothing was written."),
        None => println!("Nothing was written to the system."),
    }
    Ok(ExitCode::SUCCESS)
}

fn plain(args: &WizardArgs, l: Loaded) -> Result<ExitCode, CommandError> {
    let prompt_err = |e: inquire::InquireError| CommandError::Prompt(e.to_string());
    let Some((answers, keys)) = crate::ui::plain::ask(l.answers).map_err(prompt_err)? else {
        println!("Stopped; nothing was written.");
        return Ok(ExitCode::SUCCESS);
    };
    // Plan as if the typed keys were in the vault; they are stored only when you apply.
    let mut facts = l.facts;
    facts.vault_keys.extend(keys.keys().cloned());
    if args.dry_run && !keys.is_empty() {
        println!("Dry run: the {} key(s) you typed are not stored anywhere.", keys.len());
    }
    let plan = layers::plan(&answers, &facts)?;
    let p = preview::preview(&plan, &l.root);
    let color = std::env::var_os("NO_COLOR").is_none();
    println!();
    print!("{}", preview::report(&p, Style { color }));
    if args.dry_run {
        let path = inquire::Text::new("Save the answers to (empty: do not save):")
            .with_default("./answers.toml")
            .with_help_message("A file to reuse with --answers FILE; the answers hold no secrets")
            .prompt_skippable()
            .map_err(prompt_err)?
            .unwrap_or_default();
        if !path.trim().is_empty() {
            let path = std::path::PathBuf::from(path.trim());
            std::fs::write(&path, answers.to_toml())
                .map_err(|source| CommandError::Write { path: path.display().to_string(), source })?;
            println!("Saved to {}. Reuse them with --answers {}", path.display(), path.display());
        }
        return Ok(ExitCode::SUCCESS);
    }
    if !p.has_changes() {
        return Ok(ExitCode::SUCCESS);
    }
    let ok = inquire::Confirm::new(&format!("Apply these {} change(s)?", p.change_count()))
        .with_default(false)
        .prompt()
        .map_err(prompt_err)?;
    if !ok {
        return Err(CommandError::Declined);
    }
    let vault = crate::vault::Vault::new(&l.root);
    for (name, value) in &keys {
        let id: crate::answers::Ident =
            name.parse().map_err(|e: crate::answers::Invalid| CommandError::BadName(name.clone(), e.0))?;
        vault.set(&id, value.as_bytes())?;
    }
    if !keys.is_empty() {
        println!("Stored {} key(s) in the vault (encrypted).", keys.len());
    }
    let runner = runner_for(&l.root, &None);
    let opts = Options {
        force: false,
        interim: runner.runs_commands(),
        runner,
        confirm_timeout: apply::DEFAULT_CONFIRM_SECS,
        answers_toml: answers.to_toml(),
        ssh_connection: host::session::ssh_connection(l.root.is_live()),
        exe: std::env::current_exe().unwrap_or_else(|_| "clawguard".into()),
    };
    let report = apply::apply(&plan, &l.root, &opts, &mut progress_bar())?;
    print_report(&report, &l.root);
    let path = crate::ui::tui::app::installed_answers(&l.root);
    apply::save_answers(&l.root, &answers)
        .map_err(|source| CommandError::Write { path: path.display().to_string(), source })?;
    Ok(exit_for(&report))
}
