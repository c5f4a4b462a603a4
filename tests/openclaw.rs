//! The real OpenClaw (from the npm registry, on Node from the npm registry) in the sandbox
//! the `openclaw` profile plans, on a real Docker engine (see `common::engine`): its
//! gateway healthy behind the 127.0.0.1 forwarder with its token from the vault, locked
//! down, its own proxy routing pointed at the squid sidecar by clawguard's config, its key
//! only as a file, reaching the allowed host (and no other) through the proxy. The user's
//! old `openclaw.json` becomes their `settings.json5` and still counts: the model's
//! address comes from it, the key from clawguard's reference. Then the nightly backup as
//! the user runs it, `clawguard backup now`: OpenClaw's own archive while it runs, restic's
//! snapshot of it without the live databases. And the same sandbox under gVisor
//! (`sandbox.runtime = "runsc"`, the engine started with the daemon.json the plan writes):
//! gVisor's kernel answers inside, the same walls hold, and both tests print what the
//! gateway's start and a model call took (the cost the review states).
//!
//! The agent's files live under a target root (`/srv/openclaw/…` in the answers, the
//! defaults); the engine's mount namespace sees that root's `/srv` as its own, so the
//! compose file's paths and clawguard's `--root` name the same files.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use clawguard::answers::Answers;
use clawguard::layers;
use clawguard::target::Root;
use common::engine::{self, Engine};
use common::registry::{self, Registry};
use common::vps::sh;

const SECRET: &str = "sk-test-7c1e-openclaw-reads-it-from-a-file";
const UID: u32 = 64000;

/// Where the agent's trees are on the target (and, through the bind, in the engine).
const BASE: &str = "/srv/openclaw";

fn answers(web_ip: &str) -> Answers {
    let w = BASE;
    let tag = registry::openclaw_tag();
    let text = format!(
        r#"version = 1
[sandbox]
profile = "openclaw"
image = "127.0.0.1:5000/openclaw/openclaw:{tag}"
project_dir = "{w}/agent"
state_dir = "{w}/state"
workspace = "{w}/workspace"
config_dir = "{w}/config"
cpus = "1"
memory = "2G"
pids = 512
tmpfs_size = "256M"
gateway_port = 18789
publish_gateway = true
gateway_image = "clawguard-test/socat:1"
[credentials]
services = ["openai"]
[egress]
allowed_hosts = ["allowed.test"]
proxy_image = "clawguard-test/squid:1"
static_hosts = ["allowed.test={web_ip}", "other.test={web_ip}"]
[monitoring]
log_dir = "{w}/logs"
[backup]
destination = "/var/backups/clawguard-repo"
allow_same_machine = true
"#
    );
    Answers::parse(&text, "test answers").unwrap()
}

fn docker_ok(e: &Engine, args: &[&str]) -> String {
    let (ok, out) = sh(&mut e.docker(args));
    assert!(ok, "docker {}: {out}", args.join(" "));
    out
}

/// The sandbox the `openclaw` profile plans for the real OpenClaw, up on a real engine
/// (started with the engine settings the plan writes) under `runtime`: its files written
/// as apply writes them, its image pulled by digest from a real registry, `up` run.
struct World {
    e: Engine,
    host: tempfile::TempDir,
    root: Root,
    base: std::path::PathBuf,
    _registry: Registry,
    a: Answers,
    facts: clawguard::host::Facts,
    plan: clawguard::plan::Plan,
    users: &'static str,
    agent: String,
    t_images: std::time::Duration,
    t_pull: std::time::Duration,
}

fn world(runtime: clawguard::answers::Runtime) -> World {
    let t0 = Instant::now();
    let host = tempfile::tempdir().unwrap();
    // The engine's settings as the plan writes them (gVisor's runtime, for runsc).
    let mut a = answers("203.0.113.1");
    a.sandbox.runtime = runtime;
    let settings = layers::plan(&a, &clawguard::host::Facts::default())
        .unwrap()
        .file(clawguard::host::DOCKER_DAEMON_JSON)
        .map(|f| f.content.clone());
    let e = Engine::start_with(Some(&host.path().join("var/lib/docker")), settings.as_deref());
    let root = Root::new(host.path());
    let base = host.path().join(BASE.trim_start_matches('/'));
    // The agent's state, workspace and logs are not there yet: the plan makes them, the
    // agent's own (Docker would make them root's, and OpenClaw could not write).
    for d in ["config", "agent"] {
        fs::create_dir_all(base.join(d)).unwrap();
    }
    e.bind(&host.path().join("srv"), "/srv");
    // The user's OpenClaw config from before clawguard: its model's address must survive.
    let users =
        "// my own settings\n{\n  models: { providers: { openai: { baseUrl: \"http://allowed.test/v1\" } } },\n}\n";
    fs::write(base.join("config/openclaw.json"), users).unwrap();

    // OpenClaw's image as its registry serves it: the npm release in an image, pushed to a
    // real registry on the engine's 127.0.0.1 (as ghcr.io would serve the official one).
    let registry::Images { storage, openclaw: pushed } = registry::images();
    let registry = Registry::start(&storage, "127.0.0.1:5000", Some(&format!("/run/netns/{}", e.ns)));
    let images = tempfile::tempdir().unwrap();
    engine::squid_rootfs(&images.path().join("squid"));
    engine::binary_rootfs(&images.path().join("socat"), "/usr/bin/socat");
    let squid_cmd = r#"CMD ["/usr/sbin/squid","-N","-d","1","-f","/etc/squid/squid.conf"]"#;
    e.import(&images.path().join("squid"), "clawguard-test/squid:1", squid_cmd);
    e.import(&images.path().join("socat"), "clawguard-test/socat:1", r#"ENTRYPOINT ["/usr/bin/socat"]"#);
    let t_images = t0.elapsed();

    // The keys through the vault, unlocked as files for the agent's uid: the user's key and
    // the gateway token (which the apply session generates when the vault has none).
    let vault = clawguard::vault::Vault::new(&root);
    vault.set(&"openai".parse().unwrap(), SECRET.as_bytes()).unwrap();
    vault.set(&layers::openclaw::GATEWAY_KEY.parse().unwrap(), b"0123456789abcdef0123456789abcdef").unwrap();
    let unlocked = host.path().join("unlocked");
    let names: Vec<_> = ["openai", layers::openclaw::GATEWAY_KEY].iter().map(|n| n.parse().unwrap()).collect();
    vault.unlock(&unlocked, UID, UID, &names).unwrap();
    for n in ["openai", layers::openclaw::GATEWAY_KEY] {
        e.put_secret(n, &fs::read_to_string(unlocked.join(n)).unwrap(), UID);
    }

    // The plan's files, written as apply writes them (mode and owner).
    let mut a = answers(&e.web_ip);
    a.sandbox.runtime = runtime;
    let mut facts = clawguard::host::probe(&root, None).for_answers(&root, &a);
    // What the front door asks before the review: the registry, from where the engine is.
    let image = a.sandbox.image.clone();
    let ns = format!("/run/netns/{}", e.ns);
    let asked = std::thread::spawn(move || {
        let f = fs::File::open(&ns).unwrap();
        use std::os::unix::io::AsRawFd;
        assert_eq!(unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) }, 0, "entering {ns}");
        clawguard::registry::resolve(&image, std::time::Duration::from_secs(10))
    })
    .join()
    .unwrap()
    .expect("the registry answers");
    assert_eq!(asked.digest, pushed, "the digest the registry gave is the one pushed");
    facts.images.insert(a.sandbox.image.to_string(), clawguard::host::ImageFact::Remote(asked));
    let plan = layers::plan(&a, &facts).unwrap();
    assert!(!plan.blockers.iter().any(|b| b.layer == clawguard::plan::Layer::Sandbox), "{:?}", plan.blockers);
    for f in plan.files.iter().filter(|f| f.path.starts_with(BASE)) {
        let path = host.path().join(f.path.trim_start_matches('/'));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, &f.content).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(f.mode)).unwrap();
        if let clawguard::plan::Owner::Uid(u, g) = f.owner {
            std::os::unix::fs::chown(&path, Some(u), Some(g)).unwrap();
        }
    }
    assert_eq!(fs::read_to_string(base.join("config/settings.json5")).unwrap(), users);
    let config = fs::read_to_string(base.join("config/openclaw.json")).unwrap();
    assert!(!config.contains(SECRET) && config.contains("\"provider\": \"clawguard_openai\""), "{config}");
    // Cross-provider messaging pinned off (OpenClaw's strict schema takes it: the gateway
    // below would not start otherwise).
    assert!(config.contains("\"allowAcrossProviders\": false"), "{config}");
    let up = plan
        .commands
        .iter()
        .find(|c| c.argv.ends_with(&["up".to_string(), "-d".to_string()]))
        .expect("the plan starts the stack")
        .argv
        .clone();
    // The directories the agent writes (state, workspace, logs, OpenClaw's own backups),
    // made as the plan makes them, before `up`.
    let mkdirs: Vec<_> = plan.commands.iter().filter(|c| c.argv[0] == "install").collect();
    assert!(mkdirs.len() >= 4, "the plan makes the agent's directories: {mkdirs:?}");
    for mkdir in mkdirs {
        let (ok, out) = sh(&mut e.in_engine(&mkdir.argv.iter().map(String::as_str).collect::<Vec<_>>()));
        assert!(ok, "{out}");
    }
    for d in ["state", "workspace"] {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(fs::metadata(base.join(d)).unwrap().uid(), UID, "{d} is not the agent's");
    }
    // The image is pulled by its digest, as the plan's step does, before `up`.
    let pull = plan.commands.iter().find(|c| c.argv[..2] == ["docker", "pull"]).expect("the plan pulls the image");
    assert_eq!(pull.argv[2], format!("127.0.0.1:5000/openclaw/openclaw@{pushed}"));
    let t_pull = Instant::now();
    let (ok, out) = sh(&mut e.in_engine(&pull.argv.iter().map(String::as_str).collect::<Vec<_>>()));
    assert!(ok, "{}: {out}", pull.argv.join(" "));
    let t_pull = t_pull.elapsed();
    let args: Vec<&str> = up.iter().map(String::as_str).collect();
    let (ok, out) = sh(&mut e.in_engine(&args));
    assert!(ok, "{} failed:\n{out}", up.join(" "));
    let ps = |svc: &str| {
        let mut argv: Vec<&str> = args[..args.len() - 2].to_vec();
        argv.extend(["ps", "-q", svc]);
        sh(&mut e.in_engine(&argv)).1.trim().to_owned()
    };
    let agent = ps("agent");
    assert!(!agent.is_empty(), "no agent container");
    World { e, host, root, base, _registry: registry, a, facts, plan, users, agent, t_images, t_pull }
}

#[test]
fn the_real_openclaw_runs_locked_down_reaches_only_allowed_hosts_and_reads_its_key_from_a_file() {
    let t0 = Instant::now();
    let World { e, host, root, base, _registry, a, facts, plan, users, agent, t_images, t_pull } =
        world(clawguard::answers::Runtime::Runc);

    // The gateway comes up healthy, reached as the admin reaches it: 127.0.0.1 on the host.
    let healthz = || {
        sh(Command::new("ip").args(["netns", "exec", &e.ns, "curl", "-s", "-m", "3", "http://127.0.0.1:18789/healthz"]))
            .1
    };
    let t_up = Instant::now();
    // The apply's readiness step: OpenClaw's /healthz from inside the container, retried.
    let ready = plan
        .commands
        .iter()
        .find(|c| c.argv.contains(&"exec".to_string()) && c.layer == clawguard::plan::Layer::Sandbox)
        .expect("the plan waits for the gateway");
    let ready_argv: Vec<&str> = ready.argv.iter().map(String::as_str).collect();
    let (first_ok, first) = sh(&mut e.in_engine(&ready_argv));
    let deadline = Instant::now() + std::time::Duration::from_secs(ready.retry_secs.into());
    let mut last = first.clone();
    let answered = first_ok
        || std::iter::from_fn(|| {
            std::thread::sleep(std::time::Duration::from_millis(500));
            let (ok, out) = sh(&mut e.in_engine(&ready_argv));
            last = out;
            (Instant::now() < deadline).then_some(ok)
        })
        .any(|ok| ok);
    assert!(answered, "the readiness step never passed: {last}");
    assert!(first_ok || first.contains("the gateway"), "while it starts, the step says why it waits: {first}");
    let t_ready = t_up.elapsed();
    let healthy = (0..90).any(|_| {
        std::thread::sleep(std::time::Duration::from_secs(1));
        healthz().contains("\"ok\":true")
    });
    assert!(healthy, "the gateway never became healthy:\n{}", sh(&mut e.docker(&["logs", "--tail", "60", &agent])).1);
    let t_healthy = t_up.elapsed();
    let exec = |script: &str| sh(&mut e.docker(&["exec", &agent, "sh", "-c", script]));
    let logs = sh(&mut e.docker(&["logs", &agent])).1;
    assert!(
        logs.contains("routing process HTTP traffic through external proxy"),
        "OpenClaw's own proxy routing is off:\n{logs}"
    );

    // Locked down: not root, read-only root, no capabilities.
    assert_eq!(exec("id -u").1.trim(), UID.to_string());
    let (ok, out) = exec("touch /app/x");
    assert!(!ok && out.contains("Read-only file system"), "{out}");
    let status = exec("cat /proc/self/status").1;
    assert!(status.lines().any(|l| l == "CapEff:\t0000000000000000"), "{status}");
    let inspect = docker_ok(&e, &["inspect", &agent]);
    assert!(inspect.contains("\"ReadonlyRootfs\": true"), "{inspect}");

    // OpenClaw's own check of its proxy path, from its own config: the allowed host
    // passes, the loopback canary is denied (so OpenClaw sent it to the proxy, not to
    // 127.0.0.1).
    let validate = |url: &str| proxy_validate(&exec, url);
    let (ok, report, out) = validate("http://allowed.test/");
    assert!(ok && report["ok"] == true, "openclaw proxy validate (allowed host + loopback canary):\n{out}");
    assert_eq!(report["config"]["proxyUrl"], "http://proxy:3128/", "{out}");
    assert_eq!(report["config"]["source"], "config", "the proxy URL must come from clawguard's config: {out}");
    // A host off the list fails, through OpenClaw's own routing, and never arrives.
    let (ok, report, out) = validate("http://other.test/");
    let other = report["checks"].as_array().and_then(|c| c.iter().find(|c| c["kind"] == "allowed")).cloned();
    assert!(!ok && other.is_some_and(|c| c["ok"] == false), "a host off the list was reachable:\n{out}");
    assert!(!e.requests().contains("other.test"), "other.test was reached:\n{}", e.requests());

    // Approve, don't guess: the refused host is listed; allowing it lets the next request
    // through, with the agent still running and the answers file's comments kept. A host
    // dismissed leaves the list and stays refused.
    let egress_runner = host.path().join("egress-runner");
    e.runner(&egress_runner);
    let mine = host.path().join("my-answers.toml");
    fs::write(&mine, format!("# my answers: keep this comment\n{}", a.to_toml())).unwrap();
    let egress = |args: &[&str]| {
        let o = common::cli::command(&["egress"])
            .args(args)
            .args(["--root", host.path().to_str().unwrap(), "--answers", mine.to_str().unwrap()])
            .args(["--runner", egress_runner.to_str().unwrap()])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        (o.status.success(), out)
    };
    let (_, report, out) = validate("http://third.test/");
    assert!(report["ok"] == false, "third.test was reachable:\n{out}");
    let (ok, list) = egress(&[]);
    assert!(ok && list.contains("other.test") && list.contains("third.test"), "{list}");
    let started = sh(&mut e.docker(&["inspect", "-f", "{{.State.StartedAt}}", &agent])).1;
    let (ok, allowed) = egress(&["allow", "other.test", "--yes"]);
    assert!(ok, "egress allow:\n{allowed}");
    let reachable = (0..20).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(500));
        validate("http://other.test/").0
    });
    let conf = fs::read_to_string(base.join("agent/proxy/squid.conf")).unwrap_or_default();
    assert!(
        reachable,
        "other.test is still refused after `egress allow`:\n{allowed}\n{}\n{conf}",
        validate("http://other.test/").2
    );
    assert_eq!(
        sh(&mut e.docker(&["inspect", "-f", "{{.State.StartedAt}}", &agent])).1,
        started,
        "the agent was restarted"
    );
    let text = fs::read_to_string(&mine).unwrap();
    assert!(text.starts_with("# my answers: keep this comment\n") && text.contains("\"other.test\""), "{text}");
    let (ok, out) = egress(&["dismiss", "third.test"]);
    assert!(ok, "{out}");
    let (ok, list) = egress(&[]);
    assert!(ok && !list.contains("other.test") && !list.contains("third.test"), "{list}");
    let (ok, out) = egress(&["dismiss", "never-refused.test"]);
    assert!(!ok && out.contains("is not on the list of refused hosts"), "{out}");
    assert!(!validate("http://third.test/").0, "a dismissed host stays refused");

    // The key reaches OpenClaw through its file reference: a model call arrives at the
    // (allowed) provider address from the user's settings, with the key, via the proxy.
    let t_call = Instant::now();
    let (_, turn) = exec("cd /tmp && timeout 150 openclaw agent exec hello --model openai/gpt-6-astra --json");
    let t_call = t_call.elapsed();
    let requests = e.requests();
    assert!(
        requests
            .lines()
            .any(|l| l.starts_with("POST allowed.test/v1/") && l.ends_with(&format!("auth=Bearer {SECRET}"))),
        "no model request with the key reached the provider:\nrequests:\n{requests}\nagent exec:\n{turn}"
    );
    // …and is nowhere else: not in docker inspect, the environment, or OpenClaw's config.
    assert!(!inspect.contains(SECRET), "the key is in docker inspect");
    assert!(!exec("cat /proc/1/environ").1.contains(SECRET), "the key is in the gateway's environment");
    assert!(!exec("cat /etc/openclaw/openclaw.json /etc/openclaw/settings.json5").1.contains(SECRET));
    let (ok, out) = exec("openclaw secrets audit --check --json");
    assert!(ok, "openclaw secrets audit --check found plaintext or unresolved references:\n{out}");

    // OpenClaw's own security audit: no critical finding (what it still says is printed).
    let (_, audit) = exec("openclaw security audit --json");
    let report: serde_json::Value = serde_json::from_str(&audit[audit.find('{').unwrap_or(0)..])
        .unwrap_or_else(|e| panic!("openclaw security audit --json is not JSON ({e}):\n{audit}"));
    let findings = report["findings"].as_array().cloned().unwrap_or_default();
    for f in &findings {
        println!("security audit: {} {} — {}", f["severity"], f["checkId"], f["title"]);
    }
    let critical: Vec<_> = findings.iter().filter(|f| f["severity"] == "critical").collect();
    assert!(critical.is_empty(), "critical findings: {critical:#?}\n{audit}");
    // The daily check runs both of OpenClaw's own checks, through the engine: its audit
    // (what it warns of comes through as warnings, named) and its proxy validation (the
    // allowed host passes, the canary is blocked: nothing to say).
    let runner_path = host.path().join("runner");
    e.runner(&runner_path);
    let runner = clawguard::target::Runner::Program(runner_path);
    let own = clawguard::check::openclaw::check(&a, &facts, &runner);
    let warned = findings.iter().filter(|f| f["severity"] == "warn").count();
    // (This world's allowed.test speaks no TLS on 443: the allowed request fails, a note.)
    let serious: Vec<_> = own.findings.iter().filter(|f| f.severity > clawguard::plan::Severity::Note).collect();
    assert_eq!(serious.len(), warned, "{own:#?}\n{audit}");
    assert!(serious.iter().all(|f| f.text.starts_with("OpenClaw's own security audit: ")), "{own:#?}");
    assert!(!own.findings.iter().any(|f| f.id == "egress.openclaw-canary-reached"), "{own:#?}");
    // Its loopback canary went through the proxy and was refused: the check knows it as its own.
    assert_eq!(own.canaries.len(), 1, "{own:#?}");
    // (Read where the daily check reads it: the proxy's log volume, under the root.)
    let log_path = root.path(&clawguard::layers::egress::proxy_access_log(&facts));
    let log = fs::read_to_string(&log_path).unwrap_or_else(|e| panic!("{}: {e}", log_path.display()));
    let refused = clawguard::check::proxy::refused(&log);
    assert!(refused.contains_key(&own.canaries[0]), "the canary is in the proxy's log: {refused:?}");
    // What stock OpenClaw reached for by itself (its start-up requests are off).
    println!("refused by the proxy: {refused:?}");
    // The nightly backup's first step for OpenClaw: its own consistent, verified archive,
    // made while it runs, into the directory the plan gave it; no key inside.
    let argv = clawguard::backup::openclaw_archive_argv(&a, &facts);
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    let (ok, out) = sh(&mut e.in_engine(&args));
    assert!(ok, "{}:\n{out}", argv.join(" "));
    let result: serde_json::Value = serde_json::from_str(&out[out.find('{').unwrap_or(0)..])
        .unwrap_or_else(|e| panic!("backup create --json ({e}):\n{out}"));
    assert_eq!(result["verified"], true, "{out}");
    let name = result["archivePath"].as_str().and_then(|p| p.rsplit('/').next()).expect("archivePath").to_owned();
    let archives = base.join("agent/openclaw-backups");
    let archive = archives.join(&name);
    let meta = fs::metadata(&archive).unwrap_or_else(|e| panic!("{}: {e}", archive.display()));
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), UID);
    let (ok, contents) =
        sh(Command::new("sh").arg("-c").arg(format!("tar xzOf {} | grep -ac '{SECRET}'; true", archive.display())));
    assert!(ok && contents.trim() == "0", "the key is in OpenClaw's archive: {contents}");

    // The nightly backup as the user runs it: OpenClaw's own archive again (it keeps
    // running), restic's snapshot of the agent's trees and the archive, the live databases
    // left out, the older archive pruned.
    let live_dbs = find(&base.join("state"), &|n| n.contains(".sqlite"));
    assert!(!live_dbs.is_empty(), "OpenClaw keeps no database in its state dir: the exclusion below proves nothing");
    let answers_file = host.path().join("etc/clawguard/answers.toml");
    fs::write(&answers_file, a.to_toml()).unwrap();
    let runner = e.dir.path().join("runner.sh");
    e.runner(&runner);
    let clawguard = |args: &[&str]| {
        let o = common::cli::command(&[])
            .args(args)
            .args(["--root", host.path().to_str().unwrap(), "--answers", answers_file.to_str().unwrap()])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "clawguard {}:\n{out}", args.join(" "));
        out
    };
    clawguard(&["backup", "init"]);
    let t_backup = Instant::now();
    let out = clawguard(&["backup", "now", "--runner", runner.to_str().unwrap()]);
    let t_backup = t_backup.elapsed();
    let said = "OpenClaw made its own verified archive (";
    let newer = out
        [out.find(said).unwrap_or_else(|| panic!("no OpenClaw archive for the snapshot:\n{out}")) + said.len()..]
        .split(')')
        .next()
        .unwrap()
        .to_owned();
    assert_ne!(newer, name, "{out}");
    assert_eq!(
        find(&archives, &|n| n.ends_with(".tar.gz")),
        vec![archives.join(&newer)],
        "only the newest archive stays"
    );
    assert_eq!(inspect_state(&e, &agent), "true", "the agent is not running after the snapshot:\n{out}");

    let restic = clawguard::backup::open(&a, &root, &[]).unwrap();
    let snapshot = restic.snapshots(clawguard::backup::TAG).unwrap().pop().expect("a snapshot");
    let restored = tempfile::tempdir().unwrap();
    restic.restore(&snapshot.id, restored.path()).unwrap();
    let got = restored.path().join(BASE.trim_start_matches('/'));
    assert_eq!(
        fs::read(got.join("agent/openclaw-backups").join(&newer)).unwrap(),
        fs::read(archives.join(&newer)).unwrap(),
        "the snapshot's archive differs from OpenClaw's"
    );
    assert_eq!(fs::read_to_string(got.join("config/settings.json5")).unwrap(), users);
    assert!(got.join("workspace").is_dir() && got.join("state").is_dir(), "the agent's trees are not in the snapshot");
    let copied = find(restored.path(), &|n| n.contains(".sqlite"));
    assert!(copied.is_empty(), "live databases copied (their archive holds them): {copied:?}");
    let (ok, listing) = sh(Command::new("tar").arg("tzf").arg(archives.join(&newer)));
    assert!(ok && listing.contains(".sqlite"), "OpenClaw's archive holds no database:\n{listing}");

    println!(
        "backup now (OpenClaw's archive + restic) {:.1}s; images {:.1}s, pull by digest {:.1}s, readiness step passed after {:.1}s, gateway healthy after {:.1}s, a model call {:.2}s, whole test {:.1}s",
        t_backup.as_secs_f64(),
        t_images.as_secs_f64(),
        t_pull.as_secs_f64(),
        t_ready.as_secs_f64(),
        t_healthy.as_secs_f64(),
        t_call.as_secs_f64(),
        t0.elapsed().as_secs_f64()
    );
}

/// Every file under `dir` whose name passes `keep`, sorted.
fn find(dir: &Path, keep: &dyn Fn(&str) -> bool) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            out.extend(find(&path, keep));
        } else if keep(&entry.file_name().to_string_lossy()) {
            out.push(path);
        }
    }
    out.sort();
    out
}

fn inspect_state(e: &Engine, container: &str) -> String {
    docker_ok(e, &["inspect", "-f", "{{.State.Running}}", container]).trim().to_owned()
}

/// The gateway's health endpoint as the admin reaches it (127.0.0.1 on the host), polled
/// for up to `secs`: whether it answered healthy, and after how long.
fn healthy_within(e: &Engine, secs: u64) -> (bool, std::time::Duration) {
    let t = Instant::now();
    let ok = (0..secs).any(|_| {
        std::thread::sleep(std::time::Duration::from_secs(1));
        sh(Command::new("ip").args(["netns", "exec", &e.ns, "curl", "-s", "-m", "3", "http://127.0.0.1:18789/healthz"]))
            .1
            .contains("\"ok\":true")
    });
    (ok, t.elapsed())
}

#[test]
fn the_real_openclaw_runs_under_gvisor_with_the_same_walls() {
    use clawguard::answers::Runtime;
    let w = world(Runtime::Runsc);
    let e = &w.e;
    // The engine runs the agent under gVisor: its kernel, not this host's, answers inside.
    assert_eq!(docker_ok(e, &["inspect", "-f", "{{.HostConfig.Runtime}}", &w.agent]).trim(), "runsc");
    let (healthy, t_healthy) = healthy_within(e, 240);
    let exec = |script: &str| sh(&mut e.docker(&["exec", &w.agent, "sh", "-c", script]));
    assert!(
        healthy,
        "the gateway never became healthy under gVisor:\n{}",
        sh(&mut e.docker(&["logs", "--tail", "60", &w.agent])).1
    );
    let (_, dmesg) = exec("dmesg 2>&1 | head -3; uname -r");
    assert!(dmesg.contains("Starting gVisor"), "not gVisor's kernel inside:\n{dmesg}");
    let host_release = fs::read_to_string("/proc/sys/kernel/osrelease").unwrap();
    assert!(!dmesg.contains(host_release.trim()), "the host's kernel answers inside:\n{dmesg}");
    // The same walls: not root, read-only, no capabilities; the allowed host through the
    // proxy, another host not, the loopback canary refused.
    assert_eq!(exec("id -u").1.trim(), UID.to_string());
    assert!(!exec("touch /app/x").0, "the root filesystem is writable under gVisor");
    let validate = |url: &str| proxy_validate(&exec, url);
    let (ok, report, out) = validate("http://allowed.test/");
    assert!(ok && report["ok"] == true, "the allowed host under gVisor:\n{out}");
    let (ok, _, out) = validate("http://other.test/");
    assert!(!ok, "a host off the list was reachable under gVisor:\n{out}");
    assert!(!e.requests().contains("other.test"), "other.test was reached:\n{}", e.requests());
    // A model call, timed (the review says what gVisor costs).
    let t_call = Instant::now();
    let (_, turn) = exec("cd /tmp && timeout 150 openclaw agent exec hello --model openai/gpt-6-astra --json");
    let t_call = t_call.elapsed();
    assert!(e.requests().contains("POST allowed.test/v1"), "the model call did not arrive:\n{turn}\n{}", e.requests());
    // The daily check reports the runtime, and finds nothing drifted.
    let runner_path = w.host.path().join("runner");
    e.runner(&runner_path);
    let runner = clawguard::target::Runner::Program(runner_path);
    let agent_ids = layers::sandbox::agent_ids(&w.a, &w.facts);
    let found = clawguard::check::container::check(&w.a, agent_ids, &w.facts.recorded_images, &runner, true);
    assert!(found.iter().any(|f| f.id == "sandbox.runtime"), "{found:#?}");
    assert!(!found.iter().any(|f| f.id == "sandbox.container-drift"), "{found:#?}");
    let _ = (&w.root, &w.base, &w.plan, w.users, w.t_images, w.t_pull);
    println!(
        "gVisor: gateway healthy after {:.1}s after `up`; a model call {:.2}s",
        t_healthy.as_secs_f64(),
        t_call.as_secs_f64()
    );
}

/// OpenClaw's own check of its proxy path (`openclaw proxy validate`), run by `exec` in its
/// container: whether it passed, its JSON report, and what it printed.
fn proxy_validate(exec: &dyn Fn(&str) -> (bool, String), url: &str) -> (bool, serde_json::Value, String) {
    let (ok, out) = exec(&format!("openclaw proxy validate --json --timeout-ms 8000 --allowed-url {url}"));
    let report: serde_json::Value = serde_json::from_str(&out[out.find('{').unwrap_or(0)..])
        .unwrap_or_else(|e| panic!("openclaw proxy validate --json is not JSON ({e}):\n{out}"));
    (ok, report, out)
}
