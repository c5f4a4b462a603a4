//! One module per layer: each turns (answers, facts) into plan steps. No I/O here — the
//! facts were read before, the files are only rendered.

mod backup;
mod credentials;
mod egress;
mod firewall;
mod monitoring;
mod sandbox;
pub mod ssh;

use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{CommandStep, FileStep, Layer, Owner, Plan, Severity, Validator, Warning};
use crate::render::{self, RenderError};

/// Where clawguard keeps its own files on the target.
pub const ETC: &str = "/etc/clawguard";
/// Where the vault's decrypted files appear at run time (a tmpfs, never on disk).
pub const SECRETS_DIR: &str = "/run/clawguard/secrets";
/// Where the installed binary lives (systemd units call it).
pub const BIN: &str = "/usr/local/bin/clawguard";

/// Builds the whole plan. Fails only on a template bug, never on user input (the
/// answers were validated when they were parsed).
pub fn plan(answers: &Answers, facts: &Facts) -> Result<Plan, RenderError> {
    let mut b = Builder { plan: Plan::default() };
    let on = |l: Layer| !answers.skip.contains(&l);
    // Credentials first: the keys are unlocked before the agent's containers start.
    if on(Layer::Credentials) {
        credentials::plan(answers, facts, &mut b)?;
    }
    if on(Layer::Sandbox) {
        sandbox::plan(answers, facts, &mut b)?;
    }
    // The firewall's commands come before sshd's reload: the new SSH port is open in ufw
    // before sshd moves to it.
    if on(Layer::Firewall) {
        firewall::plan(answers, facts, &mut b)?;
    }
    if on(Layer::Ssh) {
        ssh::plan(answers, facts, &mut b)?;
    }
    if on(Layer::Egress) {
        egress::plan(answers, facts, &mut b)?;
    }
    if on(Layer::Monitoring) {
        monitoring::plan(answers, facts, &mut b)?;
    }
    if on(Layer::Backup) {
        backup::plan(answers, facts, &mut b)?;
    }
    for l in &answers.skip {
        b.warn(*l, Severity::Warning, format!("Skipped. Left unprotected: {}", unprotected(*l)));
    }
    Ok(b.plan)
}

/// What a skipped layer leaves open, in a sentence.
pub fn unprotected(l: Layer) -> &'static str {
    match l {
        Layer::Sandbox => {
            "the agent runs without a container around it: a prompt injection can run anything on this host as the agent's user."
        }
        Layer::Credentials => {
            "the agent's API keys stay where they are, probably in plaintext; whoever reads the disk or a backup has them."
        }
        Layer::Ssh => "password and root logins stay as they are; brute force and stolen passwords remain a way in.",
        Layer::Firewall => {
            "every listening port stays reachable from the internet, and repeated failed logins are never banned."
        }
        Layer::Egress => {
            "the agent can talk to any host on the internet, so a hijacked agent can send your data anywhere."
        }
        Layer::Monitoring => {
            "nobody notices unexpected logins, a changed config or a full disk; logs grow without limit."
        }
        Layer::Backup => {
            "a lost disk or a taken-over server takes the agent's data with it, and there is no recovery playbook."
        }
    }
}

/// Collects a layer's steps. Keeps the layers short and the step shapes uniform.
pub(crate) struct Builder {
    plan: Plan,
}

impl Builder {
    /// Renders `template` with `ctx` into a root-owned file.
    pub fn file(
        &mut self,
        layer: Layer,
        path: impl Into<String>,
        template: &str,
        ctx: impl serde::Serialize,
        mode: u32,
        validator: Option<Validator>,
    ) -> Result<(), RenderError> {
        let content = render::render(template, ctx)?;
        self.plan.files.push(FileStep { layer, path: path.into(), content, mode, owner: Owner::Root, validator });
        Ok(())
    }

    /// A file whose content the layer computed itself (an existing file with lines neutralised).
    pub fn raw_file(&mut self, layer: Layer, path: impl Into<String>, content: String, mode: u32) {
        self.plan.files.push(FileStep { layer, path: path.into(), content, mode, owner: Owner::Root, validator: None });
    }

    /// A command that runs when the layer says it is needed.
    /// Set `.undo` on the result when a rollback must take the command back.
    pub fn command(&mut self, layer: Layer, argv: &[&str], why: impl Into<String>) -> &mut CommandStep {
        self.plan.commands.push(CommandStep {
            layer,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            why: why.into(),
            when_changed: Vec::new(),
            undo: None,
        });
        self.plan.commands.last_mut().expect("just pushed")
    }

    /// A command that runs only when one of `files` changes (reloads, restarts).
    pub fn on_change(
        &mut self,
        layer: Layer,
        argv: &[&str],
        why: impl Into<String>,
        files: &[&str],
    ) -> &mut CommandStep {
        self.plan.commands.push(CommandStep {
            layer,
            argv: argv.iter().map(|s| s.to_string()).collect(),
            why: why.into(),
            when_changed: files.iter().map(|s| s.to_string()).collect(),
            undo: None,
        });
        self.plan.commands.last_mut().expect("just pushed")
    }

    pub fn warn(&mut self, layer: Layer, severity: Severity, text: impl Into<String>) {
        self.plan.warnings.push(Warning { layer, severity, text: text.into() });
    }

    /// Installs missing Debian packages.
    pub fn install(&mut self, layer: Layer, packages: &[&str], why: &str) {
        if packages.is_empty() {
            return;
        }
        let mut argv = vec!["apt-get", "install", "-y", "--no-install-recommends"];
        argv.extend_from_slice(packages);
        self.command(layer, &argv, why);
    }
}

/// How to call compose on this host: the v2 plugin when present, else v1.
pub fn compose_argv(facts: &Facts) -> Vec<&'static str> {
    if facts.tools.compose_plugin { vec!["docker", "compose"] } else { vec!["docker-compose"] }
}
