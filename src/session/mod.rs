//! The front door: the one way a front end applies. The wizard, `--plain` and `clawguard
//! apply` load a target ([`load`]), build the same [`Request`] from it, show
//! [`Request::plan`] (the plan it will execute, exactly), call [`run`] with a progress
//! sink, and print the [`Outcome`] with `report::outcome`. `confirm` and `uninstall` make
//! their requests from the answers a generation kept (`kept.rs`). It stands above the
//! engine, backups and the vault, and below every front end.

mod kept;
mod load;

use crate::answers::Answers;
pub use crate::apply::Keys;
use crate::apply::{After, ApplyError, Event, Options, Report};
use crate::host::Facts;
use crate::plan::{Plan, Stage};
use crate::render::RenderError;
use crate::target::{Root, Runner};
pub use kept::{KeptError, complete_move, move_ssh_back};
pub use load::{LoadError, Loaded, load};

/// Everything an apply needs, the same from every front end.
#[derive(Clone)]
pub struct Request {
    pub answers: Answers,
    pub facts: Facts,
    pub root: Root,
    pub runner: Runner,
    /// Which stage of an SSH port move to plan: [`stage`] of the runner, or
    /// [`Stage::Complete`] for `confirm`.
    pub stage: Stage,
    /// Keys typed in this front end; the plan counts them as in the vault already.
    pub keys: Keys,
    /// Seconds to confirm an SSH or firewall change; 0 arms no automatic rollback.
    pub confirm_timeout: u64,
    /// Overwrite managed files edited by hand (they are kept in the backup).
    pub force: bool,
    /// `SSH_CONNECTION` of the login this runs in (found through sudo).
    pub ssh_connection: Option<String>,
    /// What confirming the change leads to (`clawguard uninstall`'s first step says so).
    pub then: After,
    /// Only these layers' steps run (None: every layer's). `confirm` completes an SSH move
    /// with SSH and the firewall alone: a layer the apply left out (an image that could not
    /// be pulled) is not tried again behind the user's back, and offline it cannot stall.
    pub only: Option<Vec<crate::answers::Layer>>,
    /// The generation whose confirmed SSH move this apply completes (`confirm`'s): a
    /// rollback takes the two back together.
    pub completes: Option<u32>,
}

/// What one apply did, and what the user does next.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub report: Report,
    /// The target, as the user named it (for "not run on …").
    pub target: String,
    pub next: Option<Next>,
    /// Why the recovery kit should be made now (see `backup::kit_needed`).
    pub kit: Option<String>,
}

/// A change waiting for a login on the new port to be confirmed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Next {
    pub port: u16,
    pub old_ports: Vec<u16>,
    pub user: String,
    /// The address the admin reached this host at, when known.
    pub host: Option<String>,
    /// Seconds since the epoch; meaningful when `automatic`.
    pub deadline: u64,
    /// A watchdog rolls back at the deadline (`--confirm-timeout 0` arms none).
    pub automatic: bool,
    pub armed_with: Option<String>,
    /// How a login over SSH calls clawguard (see [`confirm_program`]).
    pub clawguard: String,
}

/// How a command sent over SSH (`ssh host sudo … confirm`) finds clawguard: by name where
/// sudo's PATH has its directory (Debian's and Ubuntu's `secure_path` has /usr/local/bin
/// and /usr/bin), by its path on a Mac, where sudo keeps the caller's PATH and sshd gives a
/// command only /usr/bin:/bin:/usr/sbin:/sbin (sshd(8), "PATH: set to the default PATH").
pub fn confirm_program(platform: crate::target::Kind, installed: &str) -> String {
    let dir = installed.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
    let on_path: &[&str] = match platform {
        crate::target::Kind::Linux => &["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"],
        crate::target::Kind::MacOs => &["/usr/bin", "/bin", "/usr/sbin", "/sbin"],
    };
    if on_path.contains(&dir) { "clawguard".to_owned() } else { installed.to_owned() }
}

impl Next {
    /// The login that proves the new port works.
    pub fn login(&self) -> String {
        let host = self.host.clone().unwrap_or_else(|| "<this host>".into());
        format!("ssh -o IdentitiesOnly=yes -p {} {}@{host}", self.port, self.user)
    }
}

/// The stage of a port move an apply with `runner` makes: a target whose services are
/// not run (an image) gets the final SSH settings at once, since nobody could confirm.
/// `confirm` completes a move with [`Stage::Complete`].
pub fn stage(runner: &Runner) -> Stage {
    if runner.runs_commands() { Stage::Move } else { Stage::Complete }
}

impl Request {
    /// The facts the plan is made from: the keys typed here count as in the vault.
    fn planned_facts(&self) -> Facts {
        let mut facts = self.facts.clone().for_answers(&self.root, &self.answers);
        facts.vault_keys.extend(self.keys.keys().cloned());
        facts.vault_keys.extend(self.generated().into_iter().map(str::to_owned));
        facts
    }

    /// Keys clawguard makes itself on this apply (nobody types them): OpenClaw's gateway
    /// token, when the vault has none.
    fn generated(&self) -> Vec<&'static str> {
        let gateway = crate::layers::openclaw::GATEWAY_KEY;
        let have = self.facts.vault_keys.iter().chain(self.keys.keys()).any(|k| k == gateway);
        if crate::layers::openclaw::wants_gateway_key(&self.answers) && !have { vec![gateway] } else { Vec::new() }
    }

    /// Finds out what the agent's images are (its own, the proxy's, the forwarder's) before the plan is shown: on this host already
    /// (through the runner), else what its registry says (digest and download size), so
    /// the plan pins it by digest and the review says what will be pulled. Asked once per
    /// image reference; a front end calls this before it shows a plan.
    pub fn ask_images(&mut self) {
        let a = &self.answers;
        let mut images = vec![a.sandbox.image.clone()];
        if !a.skip.contains(&crate::answers::Layer::Egress) {
            images.push(a.egress.proxy_image.clone());
            // The proxy's own image is built here: its base is what gets pinned.
            if a.egress.proxy_image.as_str() == crate::answers::PROXY_IMAGE {
                images.push(crate::layers::egress::proxy_base());
            }
        }
        if a.sandbox.publish_gateway {
            images.push(a.sandbox.gateway_image.clone());
        }
        images.retain(|i| !self.facts.images.contains_key(i.as_str()));
        // Side by side: each may wait for its registry.
        let (runner, engine, live) = (&self.runner, self.facts.tools.docker, self.root.is_live());
        let facts: Vec<_> = std::thread::scope(|s| {
            let asked: Vec<_> = images.iter().map(|i| s.spawn(move || ask_image(i, runner, engine, live))).collect();
            asked
                .into_iter()
                .map(|h| h.join().unwrap_or_else(|_| crate::host::ImageFact::Unknown("the lookup panicked".into())))
                .collect()
        });
        for (image, fact) in images.iter().zip(facts) {
            self.facts.images.insert(image.to_string(), fact);
        }
    }

    /// Asks what the agent's image is ([`Request::ask_images`]), then plans: what a front
    /// end previews before it asks to apply.
    pub fn prepare(&mut self) -> Result<Plan, RenderError> {
        self.ask_images();
        self.plan()
    }

    /// The plan this request executes: what the front end shows is exactly this.
    pub fn plan(&self) -> Result<Plan, RenderError> {
        let mut plan = crate::layers::plan_for(&self.answers, &self.planned_facts(), self.stage)?;
        if let Some(only) = &self.only {
            plan.retain_layers(only);
        }
        Ok(plan)
    }

    fn options(&self, keys: Keys) -> Options {
        Options {
            keys,
            force: self.force,
            runner: self.runner.clone(),
            confirm_timeout: self.confirm_timeout,
            ssh_connection: self.ssh_connection.clone(),
            // Where the running binary cannot be told (no /proc in a chroot), the installed one.
            exe: std::env::current_exe().unwrap_or_else(|_| self.facts.clawguard.path().into()),
            then: self.then,
            completes: self.completes,
        }
    }
}

/// How long a registry may take to say what an image is (the review waits for it).
const REGISTRY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15);

/// What is known of `image`: on the engine (asked through `runner`), else — when this is
/// the host that pulls it (`live`), from this machine's network — what its registry says.
/// A target reached through a runner has a network of its own: its registry is not asked
/// from here, and the image is pulled by what the answers give.
pub fn ask_image(
    image: &crate::answers::ImageRef,
    runner: &Runner,
    engine: bool,
    live: bool,
) -> crate::host::ImageFact {
    use crate::host::ImageFact;
    if engine && runner.runs_commands() {
        let format = "{{json .RepoDigests}}";
        if let crate::target::runner::Ran::Ok(out) =
            runner.run(&["docker", "image", "inspect", "--format", format, image.as_str()])
        {
            // `["ghcr.io/openclaw/openclaw@sha256:…"]`: the digest this repository gave it.
            let repo = image.without_tag();
            let digest = serde_json::from_str::<Vec<String>>(out.trim())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|d| d.split_once('@').filter(|(r, _)| *r == repo).map(|(_, d)| d.to_owned()))
                .find(|d| crate::answers::is_digest(d));
            return ImageFact::Here { digest: image.digest().map(str::to_owned).or(digest) };
        }
    }
    if image.is_local_build() {
        return ImageFact::Unknown("an image built on this host".into());
    }
    if !runner.runs_commands() {
        return ImageFact::NotAsked;
    }
    if !live {
        return ImageFact::Unknown("its registry is asked only on the host itself, not through --runner".into());
    }
    match crate::registry::resolve(image, REGISTRY_TIMEOUT) {
        Ok(r) => ImageFact::Remote(r),
        Err(why) => ImageFact::Unknown(why),
    }
}

/// Stores the typed keys, then applies the request's plan. The keys go first: the plan
/// already hands them to the agent.
pub fn run(req: &Request, progress: &mut dyn FnMut(Event)) -> Result<Outcome, ApplyError> {
    let plan = req.plan()?;
    let report = crate::apply::apply(&plan, &req.root, &req.options(keys(req)?), progress)?;
    let next = report.pending.as_ref().map(|p| {
        let users = crate::layers::ssh::allowed_users(&req.answers, &req.facts);
        Next {
            port: p.new_port.unwrap_or(req.answers.ssh.port.get()),
            old_ports: p.old_ports.clone(),
            user: users.first().cloned().unwrap_or_else(|| "USER".into()),
            host: req.facts.ssh_connection.as_ref().map(|c| match c.server {
                std::net::IpAddr::V6(a) => format!("[{a}]"),
                a => a.to_string(),
            }),
            deadline: p.deadline,
            automatic: p.automatic(),
            armed_with: report.armed_with.clone(),
            clawguard: confirm_program(req.facts.platform.kind(), req.facts.clawguard.path()),
        }
    });
    let kit = crate::backup::kit_needed(&req.answers, &req.root);
    Ok(Outcome { report, target: req.root.dir().display().to_string(), next, kit })
}

/// The keys this apply stores: those typed, and those clawguard makes itself.
fn keys(req: &Request) -> Result<Keys, ApplyError> {
    let mut keys = req.keys.clone();
    for name in req.generated() {
        // 32 random bytes, hex: OpenClaw warns about tokens under 24 characters.
        let bytes =
            crate::vault::random_bytes::<32>().map_err(|e| ApplyError::KeyName(name.to_owned(), e.to_string()))?;
        keys.insert(name.to_owned(), bytes.iter().map(|b| format!("{b:02x}")).collect());
    }
    Ok(keys)
}
