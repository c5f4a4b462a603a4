//! Every command and flag. The `///` comments are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// clawguard hardens a server for a self-hosted AI agent (OpenClaw or any container):
/// agent sandbox, credentials, SSH, firewall and fail2ban, egress allow-list, monitoring,
/// backups and a recovery playbook.
///
/// Start with `clawguard --dry-run` (the wizard) or `clawguard plan`: both show, as diffs,
/// everything clawguard would change on this host, and change nothing. No root needed.
///
/// Without a command, on a terminal, it opens the wizard (`sudo clawguard`), or previews
/// everything without writing (`clawguard --dry-run`, no root needed).
#[derive(Debug, Parser)]
#[command(
    name = "clawguard",
    version,
    propagate_version = true,
    max_term_width = 100,
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub wizard: WizardArgs,
}

/// The wizard's options (used when no command is given).
#[derive(Debug, Args)]
pub struct WizardArgs {
    #[command(flatten)]
    pub common: Common,
    /// Walk through every question and show the changes, but write nothing to the system
    /// (the last screen can save the answers to a file of your choosing). No root needed.
    #[arg(long)]
    pub dry_run: bool,
    /// Ask the questions line by line instead of full screen (serial consoles, screen
    /// readers, dumb terminals).
    #[arg(long)]
    pub plain: bool,
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
    /// Apply the plan: check, back up, write atomically, reload, and (for SSH and
    /// firewall changes) roll back by itself unless confirmed from a new login.
    ///
    /// Refuses changes that would lock you out (no user with a working key), files you
    /// edited by hand since clawguard wrote them (unless --force), and anything the
    /// services' own checkers refuse. On a bare host it first installs the packages the
    /// plan needs (with fresh package lists), then checks, then writes, then activates.
    /// When the agent cannot start (no engine, no image, a failed `up`), the rest of the
    /// hardening is applied without it and the reason is reported. With --root other than
    /// / it writes files only and lists the commands it did not run, unless --runner says
    /// how to run them.
    ///
    /// Exit status: 0 applied (or nothing to do), 4 applied except the layers reported as
    /// NOT APPLIED, 1 refused or failed (rolled back).
    Apply(ApplyArgs),
    /// Confirm an SSH or firewall change from a NEW SSH login (on the new port), which
    /// proves it works; then the old SSH port is closed. Unconfirmed changes are rolled
    /// back when the time runs out.
    Confirm(TargetArgs),
    /// Take back the last applied generation (files restored, commands undone, services
    /// reloaded).
    Rollback(TargetArgs),
    /// Show the last generations, what they changed, and any change waiting for
    /// confirmation.
    Status(TargetArgs),
    /// Put the host back as it was before clawguard: every file it manages as it was before
    /// clawguard first touched it (or gone, when clawguard created it), every command it
    /// ran taken back (its units and timers, its firewall rules, the packages it
    /// installed), then its records removed.
    ///
    /// Shows all of it as diffs and asks first. When SSH listened elsewhere before
    /// clawguard moved it, it goes in two steps, as a port move does: sshd first listens on
    /// its old port as well, and `clawguard confirm` from a new login on that port puts
    /// everything else back; without that login in time, the step is rolled back and
    /// clawguard stays. The vault, its identity, the backups' SSH key, incident evidence
    /// and the agent's data are kept unless --purge. Refuses while a change waits for its
    /// confirmation.
    Uninstall(UninstallArgs),
    /// The daily security check: files changed since clawguard applied them, overdue
    /// confirmations, automatic rollbacks, plaintext keys, a full disk. Exit status 0 when
    /// nothing needs you, 3 when something does (so the systemd unit shows as failed), 1
    /// on an error. Posts the findings to monitoring.alert_webhook when set.
    Check(CheckArgs),
    /// The agent's keys, encrypted in the vault (age, to this host's identity); they reach
    /// the agent as files, never as environment variables.
    Secrets(SecretsArgs),
    /// The hosts the agent's proxy refused since the last decision about each (name, how
    /// many times, first and last), to allow or dismiss one by one. Nothing is let out
    /// until you allow it: `egress allow HOST` adds it to egress.allowed_hosts in the
    /// answers (comments kept) and applies the egress layer alone (squid reads the new
    /// list; the agent keeps running), `egress dismiss HOST` takes it off the list until
    /// the proxy refuses it again.
    Egress(EgressArgs),
    /// Backups off the server with restic: create the repository, back up now, list the
    /// snapshots, make the recovery kit. `clawguard-backup.timer` runs `backup now` nightly.
    Backup(BackupArgs),
    /// Bring a lost host back onto this (fresh) one from its recovery kit: the vault's
    /// identity, then clawguard's answers and vault and the agent's data from the latest
    /// snapshot. Then `clawguard plan` shows, and `sudo clawguard apply` rebuilds, the
    /// hardening.
    Restore(RestoreArgs),
    /// When the agent or this host may have been taken over: stop the agent's compose
    /// project (the agent, and its proxy — its only way out; SSH and the firewall are not
    /// touched), collect the evidence into one archive (auth log or sshd's journal, the
    /// agent's and the proxy's logs, container state, listeners, processes, clawguard's
    /// records), and list every key to rotate with where it is revoked. Then follow
    /// /etc/clawguard/RECOVERY.md.
    Incident(IncidentArgs),
    /// Print the example answers file (every setting, its default and what it does).
    Example,
    /// Write what sets up other servers with these answers (see `export cloud-init --help`).
    #[command(subcommand)]
    Export(ExportWhat),
    /// Print the shell completion script for SHELL (bash, zsh, fish, elvish, powershell).
    ///
    /// The Debian package installs them; by hand, for example:
    /// `clawguard completions bash | sudo tee /usr/share/bash-completion/completions/clawguard`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff), or write one page per command under DIR.
    ///
    /// `clawguard man | man -l -` reads it without installing; the Debian package installs
    /// the pages made with `--out`.
    Man {
        /// Write clawguard.1 and clawguard-COMMAND.1 for each command into DIR.
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// (internal) Wait for a pending confirmation; roll back when the time runs out.
    #[command(hide = true)]
    Watchdog(WatchdogArgs),
    /// (internal, macOS) Load one of clawguard's LaunchDaemons (again), or unload it:
    /// what apply and rollback run.
    #[command(hide = true, subcommand)]
    Launchd(LaunchdAction),
}

#[derive(Debug, Subcommand)]
pub enum LaunchdAction {
    /// Unload the daemon if it is loaded, then load it from its property list.
    Load { plist: String },
    /// Unload the daemon with this label, if it is loaded.
    Unload { label: String },
    /// Start colima at boot as its user (what clawguard's colima daemon runs): first remove
    /// the VM's runtime files left from before this boot (a power cut leaves pid files and
    /// sockets that `colima start` never gets past), then run COLIMA with its arguments.
    ColimaStart {
        /// colima's path, then its arguments.
        #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
        argv: Vec<String>,
    },
}

#[derive(Debug, Args)]
pub struct TargetArgs {
    /// The target's root directory (see `plan --help`).
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
    /// Run the target's commands through PROGRAM (it gets each command as its arguments):
    /// for hosts without systemd, containers, namespaces, tests. Default: run them
    /// directly when the root is /, skip them otherwise.
    #[arg(long, value_name = "PROGRAM")]
    pub runner: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct UninstallArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// Uninstall without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Also remove the vault (the agent's keys, which may exist nowhere else), its
    /// identity, the backups' SSH key, incident evidence and the agent's data (OpenClaw's
    /// own archives, the agent's logs in the default log directory). The off-server
    /// backups can then be opened only with the recovery kit.
    #[arg(long)]
    pub purge: bool,
    /// Seconds to log in on the old SSH port and confirm before the first step is rolled
    /// back by itself; 0 turns the safety net off.
    #[arg(long, value_name = "SECS", default_value_t = crate::apply::DEFAULT_CONFIRM_SECS)]
    pub confirm_timeout: u64,
}

#[derive(Debug, Args)]
pub struct WatchdogArgs {
    #[command(flatten)]
    pub target: TargetArgs,
    /// The generation this watchdog was armed for (what it rolls back from when the
    /// pending record is damaged).
    #[arg(long, requires = "deadline")]
    pub generation: Option<u32>,
    /// When it was armed to act (seconds since the epoch).
    #[arg(long)]
    pub deadline: Option<u64>,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    #[command(flatten)]
    pub common: Common,
    /// Apply without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// Overwrite managed files that were edited by hand (the edits stay in the backup).
    #[arg(long)]
    pub force: bool,
    /// Seconds to confirm an SSH or firewall change from a new login before it is rolled
    /// back by itself; 0 turns the safety net off.
    #[arg(long, value_name = "SECS", default_value_t = crate::apply::DEFAULT_CONFIRM_SECS)]
    pub confirm_timeout: u64,
    /// See `--runner` in `confirm --help`.
    #[arg(long, value_name = "PROGRAM")]
    pub runner: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct EgressArgs {
    #[command(subcommand)]
    pub action: Option<EgressAction>,
    #[command(flatten)]
    pub common: Common,
    /// Allow without asking (required when stdin is not a terminal).
    #[arg(long, short = 'y', global = true)]
    pub yes: bool,
    /// See `--runner` in `confirm --help`.
    #[arg(long, value_name = "PROGRAM", global = true)]
    pub runner: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum EgressAction {
    /// List the refused hosts waiting for a decision (what `clawguard egress` alone does).
    List,
    /// Let the agent reach HOST (a name such as api.mistral.ai, or .example.com for a domain
    /// and its subdomains): added to egress.allowed_hosts in the answers file (comments
    /// kept), then the egress layer alone is applied.
    Allow { host: String },
    /// Take HOST off the list without allowing it; the proxy keeps refusing it, and a later
    /// refusal lists it again.
    Dismiss { host: String },
}

#[derive(Debug, Args)]
pub struct Common {
    /// The answers file. Default: <ROOT>/etc/clawguard/answers.toml if it exists, else the
    /// built-in defaults (see `clawguard example`).
    #[arg(long, value_name = "FILE", global = true)]
    pub answers: Option<PathBuf>,
    /// The target's root directory: `/` for this host, or a mounted image or test root.
    /// Every path clawguard reads goes through it.
    #[arg(long, value_name = "DIR", default_value = "/", global = true)]
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
pub struct SecretsArgs {
    #[command(subcommand)]
    pub action: SecretsAction,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Subcommand)]
pub enum SecretsAction {
    /// Store or replace the key for NAME (e.g. openai). The value is read from a masked
    /// prompt, or from standard input when that is not a terminal — never from the command
    /// line, where other users and the shell history would see it.
    Set {
        /// The service, as listed in credentials.services.
        name: String,
    },
    /// List the stored keys (names and age, never values), and which are due for rotation.
    List,
    /// Remove the key for NAME.
    Rm { name: String },
    /// Move every key of a plaintext .env (default: OpenClaw's ~/.openclaw/.env, when there
    /// is one) into the vault: OPENAI_API_KEY becomes `openai`, ANTHROPIC_API_KEY
    /// `anthropic`, SLACK_BOT_TOKEN `slack`, others their name in lower case. Shows what it
    /// will do and asks; then adds the services to the answers and overwrites and removes
    /// the file. All or nothing: a failure leaves the file and the vault as they were.
    Import {
        /// The .env file (on the target: inside --root when one is given).
        file: Option<std::path::PathBuf>,
        /// Do not ask (for scripts).
        #[arg(long)]
        yes: bool,
    },
    /// Rotate the key for NAME in four steps: make a new key at the provider (clawguard says
    /// where, and how narrow it can be), store it (asked masked; the old one is kept), check
    /// the agent works with it (the keys are unlocked again and the agent restarted), then
    /// revoke the old key at the provider and run `--done`. `--back` returns to the old key.
    Rotate {
        name: String,
        /// The old key is revoked at the provider: forget it.
        #[arg(long, conflicts_with = "back")]
        done: bool,
        /// The new key does not work: the old one again.
        #[arg(long)]
        back: bool,
    },
    /// Re-seal every key in the vault to a new identity and replace the old identity (after
    /// the identity may have been copied). Safe to run again when cut short. Old recovery
    /// kits then open only older backups: make a new one (`backup kit`).
    RotateIdentity,
    /// Decrypt the keys of credentials.services into /run/clawguard/secrets for the agent
    /// (files, mode 0400, owned by the agent's uid); clawguard's own keys (the alert bot's
    /// `telegram`) stay sealed. clawguard-secrets.service runs this at boot.
    Unlock,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    #[command(subcommand)]
    pub action: BackupAction,
    #[command(flatten)]
    pub common: Common,
    /// Reach the agent's engine through PROGRAM (see `confirm --help`), so that `now` can
    /// let the agent make its own archive, or stop it, around the snapshot. Default:
    /// directly when the root is /; for another root the agent is not asked (and its
    /// databases may be copied mid-write).
    #[arg(long, value_name = "PROGRAM", global = true)]
    pub runner: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// Create the restic repository at backup.destination, with a new password kept in the
    /// vault (a repository this host's password already opens is left as it is). `apply`
    /// runs this when backups are set.
    Init,
    /// Back up the agent's config, state and workspace and clawguard's answers and vault
    /// now, then apply the retention (backup.keep_*). Exit status 0: done; 3: a snapshot
    /// was made but some files could not be read (they are named); 1: no snapshot.
    Now,
    /// The snapshots in the repository: when, how old, how big.
    List,
    /// The drill: restic's own check of the repository (reading a tenth of the data), then
    /// the latest snapshot restored into a scratch directory and compared file by file with
    /// the host; every difference is named. Exit status 0: verified; 1: the repository or
    /// the restore failed.
    Verify,
    /// Print this host's own SSH key for an sftp repository (made on first use, kept out of
    /// the backups, carried by the recovery kit), with how to allow it on the backup server.
    Key,
    /// Ask backup.destination whether it answers, before anything is written there:
    /// reachable with no repository yet, a repository this host's password opens, or one
    /// it does not (another host's). Writes nothing.
    Test,
    /// Write the recovery kit: the repository's address, and its password and the vault's
    /// identity sealed with a passphrase you choose (asked twice, or read from
    /// --passphrase-file). Keep it off this server: without it the backups cannot be
    /// opened when this server is gone.
    Kit {
        /// Where to write the kit (a new file, mode 600). Default: print it.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Read the passphrase from the first line of FILE instead of asking.
        #[arg(long, value_name = "FILE")]
        passphrase_file: Option<PathBuf>,
    },
    /// (for restic's RESTIC_PASSWORD_COMMAND) Print the repository's password.
    #[command(hide = true)]
    Password,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The recovery kit (`clawguard backup kit` made it).
    #[arg(long, value_name = "FILE")]
    pub kit: PathBuf,
    /// Read the kit's passphrase from the first line of FILE instead of asking.
    #[arg(long, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// The snapshot to restore (an id from `backup list`). Default: the latest.
    #[arg(long, value_name = "ID", default_value = "latest")]
    pub snapshot: String,
    /// The target's root directory: `/` for this host, or a mounted disk or test root.
    #[arg(long, value_name = "DIR", default_value = "/")]
    pub root: PathBuf,
}

#[derive(Debug, Args)]
pub struct IncidentArgs {
    #[command(flatten)]
    pub common: Common,
    /// Run the target's commands through PROGRAM (see `confirm --help`).
    #[arg(long, value_name = "PROGRAM")]
    pub runner: Option<PathBuf>,
    /// Do not ask before stopping the agent.
    #[arg(long)]
    pub yes: bool,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[command(flatten)]
    pub common: Common,
    /// Print the findings only; do not post them to the webhook.
    #[arg(long)]
    pub no_alert: bool,
    /// Print the findings as JSON (`{"host", "needs_attention", "findings": [{"severity",
    /// "text"}]}`) instead of text; the exit status is the same.
    #[arg(long)]
    pub json: bool,
    /// Ask the services (ufw, fail2ban) through PROGRAM (see `confirm --help`). Default:
    /// directly when the root is /; for another root they are not asked (and it says so).
    #[arg(long, value_name = "PROGRAM")]
    pub runner: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    #[command(flatten)]
    pub common: Common,
    /// Where to write the files (created if missing; must not be `/`).
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ExportWhat {
    /// Print cloud-init user-data that installs clawguard from its Debian package and
    /// applies ANSWERS at a new server's first boot.
    ///
    /// The server downloads the package from --package-url and checks it against the
    /// SHA-256 of --package (the same file, which you upload there). Nobody is logged in
    /// at first boot to confirm an SSH port move, so sshd keeps its old port as well as the
    /// new one until the first login on the new port runs `sudo clawguard confirm`. No key
    /// goes into user-data (it can be read back from the metadata service): set them with
    /// `sudo clawguard secrets set NAME` after that login.
    CloudInit {
        /// The answers to apply (required: a fleet's servers get their answers on purpose).
        #[arg(long, value_name = "FILE")]
        answers: PathBuf,
        /// The Debian package (`scripts/package` built it); its SHA-256 goes into the
        /// user-data.
        #[arg(long, value_name = "DEB")]
        package: PathBuf,
        /// Where the new server downloads that same package (https://).
        #[arg(long, value_name = "URL")]
        package_url: crate::export::PackageUrl,
    },
}
