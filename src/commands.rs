//! The commands: each builds its inputs, calls the core, and prints. Errors go back to
//! `main`, which reports them once.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use crate::answers::{self, Answers, AnswersError};
use crate::cli::{Common, PlanArgs, RenderArgs};
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
    Write {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Render(#[from] crate::render::RenderError),
    #[error("{0} check(s) failed: see above. Nothing was written.")]
    Validation(usize),
    #[error("cannot create a staging directory for the checks: {0}")]
    Stage(std::io::Error),
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
    let ssh_connection = std::env::var("SSH_CONNECTION").ok();
    let facts = host::probe(&root, ssh_connection.as_deref());
    let plan = layers::plan(&answers, &facts)?;
    Ok(Loaded {
        root,
        answers,
        facts,
        plan,
        source,
    })
}

pub fn plan(args: &PlanArgs) -> Result<ExitCode, CommandError> {
    let l = load(&args.common)?;
    let color =
        !args.no_color && std::env::var_os("NO_COLOR").is_none() && std::io::stdout().is_terminal();
    let p = preview::preview(&l.plan, &l.root);
    println!(
        "clawguard plan for {} ({}), answers from {}\n",
        l.root.dir().display(),
        l.facts.os.describe(),
        l.source
    );
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
    Ok(if p.has_changes() {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

pub fn render(args: &RenderArgs) -> Result<ExitCode, CommandError> {
    let out = &args.out;
    if out.canonicalize().is_ok_and(|p| p == Path::new("/")) || out.as_os_str().is_empty() {
        return Err(CommandError::OutIsRoot(out.display().to_string()));
    }
    let l = load(&args.common)?;
    let out_root = Root::new(out);
    for f in &l.plan.files {
        let target = out_root.path(&f.path);
        let write = || -> std::io::Result<()> {
            use std::os::unix::fs::PermissionsExt;
            std::fs::create_dir_all(target.parent().expect("paths are absolute"))?;
            std::fs::write(&target, &f.content)?;
            std::fs::set_permissions(&target, std::fs::Permissions::from_mode(f.mode))
        };
        write().map_err(|source| CommandError::Write {
            path: target.display().to_string(),
            source,
        })?;
        println!("{}", target.display());
    }
    eprintln!(
        "{} file(s) written under {} (answers from {}).",
        l.plan.files.len(),
        out.display(),
        l.source
    );
    Ok(ExitCode::SUCCESS)
}

pub fn example() -> ExitCode {
    print!("{}", answers::EXAMPLE);
    ExitCode::SUCCESS
}
