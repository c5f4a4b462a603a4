//! One module per layer: each turns (answers, facts) into plan steps. No I/O here — the
//! facts were read before, the files are only rendered.

pub mod backup;
mod credentials;
pub mod egress;
pub mod firewall;
mod images;
pub mod launchd;
pub mod macos;
pub mod monitoring;
pub mod openclaw;
pub mod pf;
pub mod runtime;
pub mod sandbox;
pub mod ssh;

use crate::answers::Answers;
use crate::host::Facts;
use crate::plan::{
    Blocker, Check, CommandStep, FileStep, Layer, Owner, Package, Phase, Plan, Preflight, Refusal, Severity, Stage,
    Validator, Warning,
};
use crate::render::{self, RenderError};

/// Where clawguard keeps its own files on the target.
pub const ETC: &str = "/etc/clawguard";
/// Where the vault's decrypted files appear at run time (a tmpfs, never on disk).
pub const SECRETS_DIR: &str = "/run/clawguard/secrets";
/// The same on macOS, which has no /run (its system volume is read-only): /var/run is
/// emptied at every boot, but it is on disk — FileVault is what keeps it unreadable.
pub const MAC_SECRETS_DIR: &str = "/var/run/clawguard/secrets";

/// Where `secrets unlock` puts the keys on this platform.
pub fn secrets_dir(platform: crate::target::Kind) -> &'static str {
    match platform {
        crate::target::Kind::Linux => SECRETS_DIR,
        crate::target::Kind::MacOs => MAC_SECRETS_DIR,
    }
}

/// Builds the whole plan. Fails only on a template bug, never on user input (the
/// answers were validated when they were parsed).
/// The plan for an apply that runs the services' commands ([`Stage::Move`]).
pub fn plan(answers: &Answers, facts: &Facts) -> Result<Plan, RenderError> {
    plan_for(answers, facts, Stage::Move)
}

/// A plan that only installs `packages` (name, why) for `layer`: the same journaled
/// prepare step an apply makes, for a command that needs a tool before any answers exist
/// (`restore` on a fresh host needs restic).
pub fn packages_only(facts: &Facts, layer: Layer, packages: &[(&str, &str)]) -> Plan {
    let mut b = Builder {
        plan: Plan { platform: facts.platform.kind(), ..Plan::default() },
        stage: Stage::Move,
        brew: facts.platform.mac().and_then(|m| m.homebrew.clone()),
        own: facts.clawguard.path().to_owned(),
    };
    for (name, why) in packages {
        b.package(layer, name, why);
    }
    b.finish()
}

/// The plan for one stage of an SSH port move (`confirm` completes it).
pub fn plan_for(answers: &Answers, facts: &Facts, stage: Stage) -> Result<Plan, RenderError> {
    let mut b = Builder {
        plan: Plan { platform: facts.platform.kind(), ..Plan::default() },
        stage,
        brew: None,
        own: facts.clawguard.path().to_owned(),
    };
    if let Some(mac) = facts.platform.mac() {
        b.brew = mac.homebrew.clone();
        b.warn(Layer::Ssh, Severity::Note, format!("macOS {} found: SSH's port is opened by launchd, the firewall is pf with its own anchor, LaunchDaemons run the daily check, the backups and the key unlock, and the Mac is kept awake and patched (see each layer).", mac.version));
    }
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
    // The answers themselves, in the same generation as what they made: a rollback puts
    // back the answers that describe what is in place. 0644: they hold no secrets, and
    // `plan`, `check` and `--dry-run` read them without root.
    // The applied file as it is (the user's comments and order) when it says exactly these
    // answers: `egress allow` edits it in place, and this apply keeps the edit.
    let text = facts
        .applied_answers
        .as_ref()
        .filter(|t| crate::answers::Answers::parse_for(t, "", facts.platform.kind()).is_ok_and(|a| &a == answers))
        .cloned()
        .unwrap_or_else(|| answers.to_toml());
    b.push_file(None, crate::answers::DEFAULT_PATH.to_owned(), text, 0o644, None);
    Ok(b.finish())
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
    stage: Stage,
    /// Homebrew on a Mac (packages come from it there, installed as its owner).
    brew: Option<crate::host::platform::Homebrew>,
    /// clawguard's own path on the target (the LaunchDaemons' load commands call it).
    own: String,
}

/// A job the host runs by itself, described once for both platforms: systemd units from
/// the layer's templates on Linux, a LaunchDaemon on macOS.
pub(crate) struct Job<'a> {
    /// `clawguard-NAME.service` (and `.timer`), or `com.clawguard.NAME`.
    pub name: &'a str,
    /// The program and its arguments (the LaunchDaemon's; the unit's are in its template).
    pub argv: Vec<String>,
    pub when: launchd::When,
    /// Why it is enabled, in a few words.
    pub why: &'a str,
}

impl Builder {
    /// A builder whose steps are thrown away (for a value a layer computes on the way).
    pub(crate) fn scratch() -> Builder {
        Builder { plan: Plan::default(), stage: Stage::Move, brew: None, own: String::new() }
    }

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
        self.push_file(Some(layer), path.into(), content, mode, validator);
        Ok(())
    }

    /// A file whose content the layer computed itself (an existing file with lines neutralised).
    pub fn raw_file(&mut self, layer: Layer, path: impl Into<String>, content: String, mode: u32) {
        self.push_file(Some(layer), path.into(), content, mode, None);
    }

    /// A file the layer computed, with its owner (a group the agent reads it as).
    pub fn owned_file(&mut self, layer: Layer, path: impl Into<String>, content: String, mode: u32, owner: Owner) {
        self.plan.files.push(FileStep { layer: Some(layer), path: path.into(), content, mode, owner, validator: None });
    }

    /// A root-owned file; `layer` None for clawguard's own answers.
    fn push_file(
        &mut self,
        layer: Option<Layer>,
        path: String,
        content: String,
        mode: u32,
        validator: Option<Validator>,
    ) {
        self.plan.files.push(FileStep { layer, path, content, mode, owner: Owner::Root, validator });
    }

    /// A command that runs when the layer says it is needed.
    /// Set `.undo` on the result when a rollback must take the command back.
    pub fn command(&mut self, layer: Layer, argv: &[&str], why: impl Into<String>) -> &mut CommandStep {
        self.on_change(layer, argv, why, &[])
    }

    /// A command that runs only when one of `files` changes (reloads, restarts).
    pub fn on_change(
        &mut self,
        layer: Layer,
        argv: &[impl AsRef<str>],
        why: impl Into<String>,
        files: &[&str],
    ) -> &mut CommandStep {
        self.plan.commands.push(CommandStep {
            layer,
            phase: Phase::Activate,
            argv: argv.iter().map(|s| s.as_ref().to_owned()).collect(),
            why: why.into(),
            when_changed: files.iter().map(|s| s.to_string()).collect(),
            undo: None,
            retry_secs: 0,
            rerun_needs_old: false,
            prepares: false,
        });
        self.plan.commands.last_mut().expect("just pushed")
    }

    /// The checker of the file pushed last.
    pub fn validate_last(&mut self, v: Validator) {
        if let Some(f) = self.plan.files.last_mut() {
            f.validator = Some(v);
        }
    }

    /// A LaunchDaemon, loaded (again) when it or one of `also_when` changes; unloaded
    /// by a rollback. Loading runs a `RunAtLoad` job at once.
    pub fn launch_daemon(&mut self, layer: Layer, d: &launchd::Daemon, why: &str, also_when: &[&str]) {
        let path = d.path();
        self.push_file(Some(layer), path.clone(), d.render(), 0o644, Some(Validator::Launchd));
        // launchd refuses to start a job whose log file cannot be opened (EX_CONFIG): the
        // daemons' log directory exists before the first one is loaded.
        if d.logs() {
            match self.plan.commands.iter_mut().find(|c| c.argv.last().is_some_and(|a| a == launchd::LOG_DIR)) {
                Some(mkdir) => mkdir.when_changed.push(path.clone()),
                None => {
                    let argv = ["install", "-d", "-m", "0755", launchd::LOG_DIR];
                    self.on_change(layer, &argv, "the daemons' log directory", &[path.as_str()]).prepares = true;
                }
            }
        }
        let mut files = vec![path.as_str()];
        files.extend_from_slice(also_when);
        let own = self.own.clone();
        let load = self.on_change(layer, &[own.as_str(), "launchd", "load", &path], why.to_owned(), &files);
        load.undo = Some([own.as_str(), "launchd", "unload", &d.label].map(String::from).to_vec());
        load.rerun_needs_old = true;
    }

    /// A job the host runs by itself, the platform's way (see [`Job`]). On Linux the
    /// units come from `templates/{template_dir}/clawguard-NAME.service` (and `.timer`
    /// for a schedule), rendered with `ctx`.
    pub fn job(
        &mut self,
        layer: Layer,
        facts: &Facts,
        job: Job<'_>,
        template_dir: &str,
        ctx: impl serde::Serialize,
    ) -> Result<(), RenderError> {
        if facts.platform.mac().is_some() {
            let d = launchd::Daemon::root(job.name, job.argv, job.when);
            self.launch_daemon(layer, &d, job.why, &[]);
            return Ok(());
        }
        let unit = format!("clawguard-{}", job.name);
        let service = format!("/etc/systemd/system/{unit}.service");
        self.file(layer, &service, &format!("{template_dir}/{unit}.service"), &ctx, 0o644, None)?;
        let (enable, files): (Vec<String>, Vec<String>) = match job.when {
            launchd::When::Boot => (vec![format!("{unit}.service")], vec![service.clone()]),
            _ => {
                let timer = format!("/etc/systemd/system/{unit}.timer");
                self.file(layer, &timer, &format!("{template_dir}/{unit}.timer"), &ctx, 0o644, None)?;
                (vec!["--now".into(), format!("{unit}.timer")], vec![service.clone(), timer])
            }
        };
        let units = if files.len() == 1 { "systemd reads the new unit" } else { "systemd reads the new units" };
        let files: Vec<&str> = files.iter().map(String::as_str).collect();
        self.on_change(layer, &["systemctl", "daemon-reload"], units, &files);
        let mut argv = vec!["systemctl".to_owned(), "enable".to_owned()];
        argv.extend(enable.iter().cloned());
        let last = *files.last().expect("a unit");
        let e = self.on_change(layer, &argv, job.why.to_owned(), &[last]);
        let target = enable.last().expect("a unit").clone();
        e.undo = Some(["systemctl", "disable", "--now", &target].map(String::from).to_vec());
        e.rerun_needs_old = true;
        Ok(())
    }

    pub fn warn(&mut self, layer: Layer, severity: Severity, text: impl Into<String>) {
        self.plan.warnings.push(Warning { layer, severity, text: text.into() });
    }

    /// Something apply must refuse, before anything changes: first in the report.
    pub fn block(&mut self, layer: Layer, kind: Refusal, text: impl Into<String>) {
        self.plan.blockers.push(Blocker { layer, kind, text: text.into() });
    }

    /// A package the layer needs and the host lacks (Debian's, or Homebrew's formula of the
    /// same name on a Mac). All of them are installed in one step before anything is
    /// checked or written.
    pub fn package(&mut self, layer: Layer, name: &str, why: &str) {
        if !self.plan.packages.iter().any(|p| p.name == name) {
            self.plan.packages.push(Package { layer, name: name.to_owned(), why: why.to_owned() });
        }
    }

    /// Something apply must find true on the live host before it changes anything.
    pub fn preflight(&mut self, layer: Layer, check: Check, files: &[&str]) {
        let when_changed = files.iter().map(|s| s.to_string()).collect();
        self.plan.preflight.push(Preflight { layer, check, when_changed });
    }

    /// The plan, with the packages' prepare step first and the systemd check when any
    /// command needs systemd.
    fn finish(mut self) -> Plan {
        if let Some(layer) = self.plan.commands.iter().find(|c| c.argv[0] == "systemctl").map(|c| c.layer) {
            self.plan.preflight.insert(0, Preflight { layer, check: Check::Systemd, when_changed: vec![] });
        }
        if self.plan.platform == crate::target::Kind::MacOs {
            self.brew_packages();
            return self.plan;
        }
        if let Some(first) = self.plan.packages.first() {
            let names: Vec<String> = self.plan.packages.iter().map(|p| p.name.clone()).collect();
            let mut install: Vec<String> =
                ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-q", "--no-install-recommends"]
                    .iter()
                    .map(|s| s.to_string())
                    .collect();
            install.extend(names.iter().cloned());
            let mut remove: Vec<String> = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "remove", "-y", "-q"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            remove.extend(names.iter().cloned());
            let step = |argv: Vec<String>, why: String, undo| CommandStep {
                layer: first.layer,
                phase: Phase::Prepare,
                argv,
                why,
                when_changed: vec![],
                undo,
                retry_secs: 0,
                rerun_needs_old: false,
                prepares: false,
            };
            // A fresh cloud image has stale or no package lists (PITFALLS 23).
            let update = step(
                ["apt-get", "update", "-q"].iter().map(|s| s.to_string()).collect(),
                "fresh package lists".into(),
                None,
            );
            let install = step(install, format!("install what the layers need: {}", names.join(", ")), Some(remove));
            self.plan.commands.splice(0..0, [update, install]);
        }
        self.plan
    }
}

impl Builder {
    /// On a Mac, what the layers need comes from Homebrew, which refuses to run as root:
    /// it is installed as the owner of Homebrew's prefix, first in the plan, and a
    /// rollback uninstalls it.
    fn brew_packages(&mut self) {
        let Some(first) = self.plan.packages.first() else { return };
        let layer = first.layer;
        let names: Vec<String> = self.plan.packages.iter().map(|p| p.name.clone()).collect();
        let Some(brew) = &self.brew else {
            self.block(layer, Refusal::Unsafe, format!("This Mac has no Homebrew, where clawguard gets {}: install Homebrew (https://brew.sh), or install {} yourself, then run clawguard again.", names.join(", "), if names.len() == 1 { "it" } else { "them" }));
            return;
        };
        if brew.owner_uid == 0 {
            self.block(layer, Refusal::Unsafe, format!("Homebrew's prefix {} belongs to root, and Homebrew does not run as root: give it back to the user who installed it (sudo chown -R USER {0}), or install {} yourself.", brew.prefix, names.join(", ")));
            return;
        }
        let Some(owner) = brew.owner.clone().filter(|o| crate::host::users::plain_name(o)) else {
            self.block(layer, Refusal::Unsafe, format!("Homebrew's owner (uid {}) cannot be told without root (the local accounts are root's), and Homebrew does not run as root: run clawguard with sudo.", brew.owner_uid));
            return;
        };
        let argv = |verb: &str| -> Vec<String> {
            let mut v: Vec<String> = [
                "sudo",
                "-u",
                &owner,
                "-H",
                "env",
                "HOMEBREW_NO_AUTO_UPDATE=1",
                "HOMEBREW_NO_ANALYTICS=1",
                &brew.brew(),
                verb,
            ]
            .iter()
            .map(|s| s.to_string())
            .collect();
            v.extend(names.iter().cloned());
            v
        };
        let step = CommandStep {
            layer,
            phase: Phase::Prepare,
            argv: argv("install"),
            why: format!("install what the layers need with Homebrew, as {owner}: {}", names.join(", ")),
            when_changed: vec![],
            undo: Some(argv("uninstall")),
            retry_secs: 0,
            rerun_needs_old: false,
            prepares: false,
        };
        self.plan.commands.insert(0, step);
    }
}

/// How to call compose on this host: the v2 plugin when present, else v1.
pub fn compose_argv(facts: &Facts) -> Vec<&'static str> {
    if facts.tools.compose_plugin { vec!["docker", "compose"] } else { vec!["docker-compose"] }
}
