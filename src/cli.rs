//! Every command and flag. The `///` comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// clawguard hardens a server for a self-hosted AI agent (OpenClaw or any container):
/// agent sandbox, credential vault, SSH, firewall and fail2ban, egress allow-list,
/// monitoring, backups and a recovery playbook.
///
/// Start with `clawguard plan`: it shows, as diffs, everything clawguard would change on
/// this host, and changes nothing. No root needed.
#[derive(Debug, Parser)]
#[command(
    name = "clawguard",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Show what clawguard would change, layer by layer, as unified diffs and commands.
    ///
    /// Reads the target (never writes to it) and needs no root. Exit status: 0 when the
    /// host already matches the answers, 2 when something would change, 1 on an error
    /// (bad answers, a failed check).
    Plan(PlanArgs),
    /// Write the rendered config files under a directory, to read them.
    ///
    /// Each file lands at its target path below DIR (DIR/etc/ssh/sshd_config.d/…).
    /// Nothing outside DIR is written.
    Render(RenderArgs),
    /// Print the example answers file (every setting, its default and what it does).
    Example,
}

#[derive(Debug, Args)]
pub struct Common {
    /// The answers file. Default: <ROOT>/etc/clawguard/answers.toml if it exists, else the
    /// built-in defaults (see `clawguard example`).
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// The target's root directory: `/` for this host, or a mounted image or test root.
    /// Every path clawguard reads goes through it.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub common: Common,
    /// Also run each service's own checker on the rendered files (sshd -t and -T,
    /// squid -k parse, fail2ban-client -t and -d, docker compose config, logrotate -d).
    /// A checker that is not installed is reported as a failure.
    #[arg(long)]
    pub validate: bool,
    /// No colours (also when NO_COLOR is set or the output is not a terminal).
    #[arg(long)]
    pub no_color: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub common: Common,
    /// Where to write the files (created if missing; must not be `/`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}
