//! The agent sandbox and the egress allow-list on a real Docker engine (see
//! `common::engine`): the rendered compose project is brought up with test images (a
//! busybox agent stand-in, this machine's squid), set only through the image answers, and
//! checked from the outside (`docker inspect`) and from the inside (the agent's shell).

mod common;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use clawguard::answers::Answers;
use clawguard::layers;
use clawguard::target::Root;
use common::engine::{self, Engine};
use common::vps::sh;
use common::wait;

const SECRET: &str = "sk-test-4f9a2c-never-in-env";

fn answers(work: &Path, web_ip: &str, hosts: &[&str]) -> Answers {
    let w = work.display();
    let hosts: Vec<String> = hosts.iter().map(|h| format!("\"{h}\"")).collect();
    let text = format!(
        r#"version = 1
[sandbox]
profile = "generic"
image = "clawguard-test/agent:1"
command = ["sleep", "3600"]
project_dir = "{w}/agent"
state_dir = "{w}/state"
workspace = "{w}/workspace"
config_dir = "{w}/config"
cpus = "0.5"
memory = "256M"
pids = 64
tmpfs_size = "16M"
gateway_port = 8080
publish_gateway = true
gateway_image = "clawguard-test/socat:1"
[credentials]
services = ["openai"]
[egress]
allowed_hosts = [{hosts}]
proxy_image = "clawguard-test/squid:1"
static_hosts = ["allowed.test={web_ip}", "other.test={web_ip}"]
[monitoring]
log_dir = "{w}/logs"
"#,
        hosts = hosts.join(", ")
    );
    Answers::parse(&text, "test answers").unwrap()
}

/// Writes the plan's files of the compose project into place (as apply would) and returns
/// the compose commands the plan runs for them. `host` holds the vault.
fn render(a: &Answers, host: &Path) -> Vec<Vec<String>> {
    let facts = clawguard::host::probe(&Root::new(host), None);
    let plan = layers::plan(a, &facts).unwrap();
    // Written anew and renamed into place, as apply writes: a file mounted into a container
    // by itself would stay the old one there.
    for f in plan.files.iter().filter(|f| f.path.starts_with(a.sandbox.project_dir.as_str())) {
        fs::create_dir_all(Path::new(&f.path).parent().unwrap()).unwrap();
        let tmp = format!("{}.new", f.path);
        fs::write(&tmp, &f.content).unwrap();
        fs::rename(&tmp, &f.path).unwrap();
    }
    plan.commands.iter().filter(|c| c.argv[0].starts_with("docker")).map(|c| c.argv.clone()).collect()
}

fn run_in(e: &Engine, argv: &[String]) -> (bool, String) {
    let args: Vec<&str> = argv.iter().map(String::as_str).collect();
    sh(&mut e.in_engine(&args))
}

fn agent_sh(e: &Engine, cid: &str, script: &str) -> (bool, String) {
    sh(&mut e.docker(&["exec", cid, "sh", "-c", script]))
}

fn inspect(e: &Engine, cid: &str, format: &str) -> String {
    let (ok, out) = sh(&mut e.docker(&["inspect", "-f", format, cid]));
    assert!(ok, "{out}");
    out.trim().to_owned()
}

#[test]
fn the_agent_is_locked_down_and_reaches_only_the_allowed_hosts() {
    let t0 = Instant::now();
    // The host's root; the engine keeps its data in the root's /var/lib/docker, as on a host.
    let host = tempfile::tempdir().unwrap();
    let e = Engine::start_with_data(Some(&host.path().join("var/lib/docker")));
    let work = tempfile::Builder::new().prefix("clawguard-sandbox-").tempdir().unwrap();
    for d in ["state", "workspace", "config", "logs"] {
        fs::create_dir_all(work.path().join(d)).unwrap();
    }
    sh(Command::new("chown").args(["-R", "64000:64000", work.path().to_str().unwrap()]));
    let images = tempfile::tempdir().unwrap();
    engine::busybox_rootfs(&images.path().join("agent"));
    engine::squid_rootfs(&images.path().join("squid"));
    engine::binary_rootfs(&images.path().join("socat"), "/usr/bin/socat");
    e.import(&images.path().join("agent"), "clawguard-test/agent:1", r#"CMD ["sleep","3600"]"#);
    let squid_cmd = r#"CMD ["/usr/sbin/squid","-N","-d","1","-f","/etc/squid/squid.conf"]"#;
    e.import(&images.path().join("squid"), "clawguard-test/squid:1", squid_cmd);
    e.import(&images.path().join("socat"), "clawguard-test/socat:1", r#"ENTRYPOINT ["/usr/bin/socat"]"#);
    // The key goes through the vault: stored encrypted, unlocked as a file for uid 64000 (the default agent uid).
    let vault = clawguard::vault::Vault::new(&Root::new(host.path()));
    vault.set(&"openai".parse().unwrap(), SECRET.as_bytes()).unwrap();
    let unlocked = host.path().join("unlocked");
    vault.unlock(&unlocked, 64000, 64000, &["openai".parse().unwrap()]).unwrap();
    e.put_secret("openai", &fs::read_to_string(unlocked.join("openai")).unwrap(), 64000);
    let t_images = t0.elapsed();

    let a = answers(work.path(), &e.web_ip, &["allowed.test"]);
    let cmds = render(&a, host.path());
    let up = cmds
        .iter()
        .find(|c| c.ends_with(&["up".to_string(), "-d".to_string()]))
        .expect("the plan starts the stack")
        .clone();
    let (ok, out) = run_in(&e, &up);
    assert!(ok, "{} failed:\n{out}", up.join(" "));
    // The proxy image checks squid.conf from its standard input, as `plan --validate` does
    // where the host has no squid (a Mac: no bind mount the runtime's VM may not share).
    let squid_conf = clawguard::layers::plan(&a, &clawguard::host::probe(&Root::new(host.path()), None))
        .unwrap()
        .files
        .iter()
        .find(|f| f.path.ends_with("proxy/squid.conf"))
        .expect("the plan writes squid.conf")
        .content
        .clone();
    let check = |conf: &str| {
        let argv = clawguard::validate::squid_in_container("clawguard-test/squid:1");
        let conf = clawguard::validate::without_tunnel_cert(conf);
        let mut c = e.docker(&argv[1..].iter().map(String::as_str).collect::<Vec<_>>());
        c.stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(conf.as_bytes()).unwrap();
        let o = child.wait_with_output().unwrap();
        (o.status.success(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
    };
    let (ok, out) = check(&squid_conf);
    assert!(ok && out.contains("Processing: http_access") && !out.contains("FATAL"), "{out}");
    let (_, out) = check("http_port 3128\nno_such_directive on\n");
    assert!(out.contains("unrecognized: 'no_such_directive'"), "a bad file is refused by the same check:\n{out}");
    let ps = |svc: &str| {
        let mut argv: Vec<String> = up[..up.len() - 2].to_vec();
        argv.extend(["ps".into(), "-q".into(), svc.into()]);
        run_in(&e, &argv).1.trim().to_owned()
    };
    let (agent, proxy) = (ps("agent"), ps("proxy"));
    assert!(!agent.is_empty() && !proxy.is_empty(), "containers: agent={agent:?} proxy={proxy:?}");
    let listening = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(200));
        agent_sh(&e, &agent, "echo | nc -w 1 proxy 3128 >/dev/null").0
    });
    assert!(
        listening,
        "the proxy does not listen:\n{}\n{}",
        sh(&mut e.docker(&["logs", &proxy])).1,
        sh(&mut e.docker(&["ps", "-a"])).1 + &sh(&mut e.docker(&["logs", "--tail", "20", &ps("proxy")])).1
    );

    // Inside: not root, read-only, no exec from /tmp, no capabilities, no new privileges.
    assert_eq!(agent_sh(&e, &agent, "id -u").1.trim(), "64000");
    let (ok, out) = agent_sh(&e, &agent, "touch /x");
    assert!(!ok && out.contains("Read-only file system"), "{out}");
    let (ok, out) = agent_sh(&e, &agent, "cp /bin/busybox /tmp/bb && /tmp/bb true");
    assert!(!ok && out.contains("Permission denied"), "executing from /tmp: {out}");
    let status = agent_sh(&e, &agent, "cat /proc/self/status").1;
    assert!(status.lines().any(|l| l == "CapEff:\t0000000000000000"), "{status}");
    assert!(status.lines().any(|l| l == "NoNewPrivs:\t1"), "{status}");
    assert!(
        agent_sh(&e, &agent, "touch /home/node 2>/dev/null; touch /workspace/ok && touch /state/ok").0,
        "the workspace and state are writable"
    );
    assert!(!agent_sh(&e, &agent, "touch /config/x").0, "the config is read-only");

    // Outside: the limits and log caps the answers asked for.
    assert_eq!(inspect(&e, &agent, "{{.HostConfig.Memory}}"), (256u64 << 20).to_string());
    assert_eq!(inspect(&e, &agent, "{{.HostConfig.NanoCpus}}"), "500000000");
    assert_eq!(inspect(&e, &agent, "{{.HostConfig.PidsLimit}}"), "64");
    assert_eq!(inspect(&e, &agent, "{{.HostConfig.ReadonlyRootfs}}"), "true");
    assert_eq!(inspect(&e, &agent, "{{json .HostConfig.CapDrop}}"), r#"["ALL"]"#);
    assert_eq!(
        inspect(
            &e,
            &agent,
            "{{.HostConfig.LogConfig.Type}} {{index .HostConfig.LogConfig.Config \"max-size\"}} {{index .HostConfig.LogConfig.Config \"max-file\"}}"
        ),
        "json-file 10m 5"
    );
    // Published: only the gateway, only on 127.0.0.1, through the forwarder; the agent and
    // the proxy publish nothing.
    let gateway = ps("gateway");
    assert!(!gateway.is_empty(), "no gateway forwarder");
    assert_eq!(
        inspect(&e, &gateway, "{{json .HostConfig.PortBindings}}"),
        r#"{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]}"#
    );
    for c in [&agent, &proxy] {
        assert!(matches!(inspect(&e, c, "{{json .HostConfig.PortBindings}}").as_str(), "{}" | "null"));
    }
    assert_eq!(
        inspect(&e, &gateway, "{{.Config.User}} {{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapDrop}}"),
        r#"65534:65534 true ["ALL"]"#
    );
    let (ok, out) = sh(&mut e.docker(&["exec", "-d", &agent, "nc", "-ll", "-p", "8080", "-e", "echo", "gateway-ok"]));
    assert!(ok, "{out}");
    let reach = |addr: &str| {
        sh(Command::new("ip").args(["netns", "exec", &e.ns, "sh", "-c", &format!("echo | nc -w 2 {addr} 8080")])).1
    };
    wait("the gateway on 127.0.0.1", 20, || reach("127.0.0.1").contains("gateway-ok"));
    let outside = e.web_ip.rsplit_once('.').map(|(net, _)| format!("{net}.1")).unwrap();
    assert!(!reach(&outside).contains("gateway-ok"), "the gateway answers on {outside}, not only on 127.0.0.1");

    // Egress: the allowed host through the proxy; nothing else, not even with CONNECT.
    let (ok, out) = agent_sh(&e, &agent, "wget -q -O - http://allowed.test/");
    assert!(ok && out.contains("hello from the allowed host"), "allowed host: {out}");
    let (ok, out) = agent_sh(&e, &agent, "wget -q -O - http://other.test/");
    assert!(!ok && out.contains("403"), "a host not on the list: {out}");
    // A tunnel, then a plain request inside it: what comes back through. squid answers a
    // refused CONNECT with 200 and then closes (its port peeks at TLS names, so it keeps
    // the refusal for inside the tunnel): refused means nothing gets through.
    let through = |target: &str| {
        agent_sh(
            &e,
            &agent,
            &format!(
                "(printf 'CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'; sleep 1; printf 'GET / HTTP/1.0\\r\\nHost: allowed.test\\r\\n\\r\\n'; sleep 2) | timeout 6 nc proxy 3128"
            ),
        )
        .1
    };
    let hello = "hello from the allowed host";
    assert!(through("allowed.test:80").contains(hello), "CONNECT to the allowed host on 80 (Node tunnels http:// too)");
    assert!(!through("other.test:80").contains(hello), "CONNECT to a host not on the list");
    assert!(!through("allowed.test:25").contains(hello), "CONNECT to a port other than 80 and 443");
    // Around the proxy: no route out, and no DNS to the outside.
    let (ok, out) = agent_sh(&e, &agent, &format!("wget -Y off -q -T 3 -O - http://{}/", e.web_ip));
    assert!(!ok, "a direct connection bypassed the proxy: {out}");
    let (ok, out) =
        sh(Command::new("ip").args(["netns", "exec", &e.ns, "busybox", "nslookup", "control.example", &e.web_ip]));
    assert!(ok && out.contains(&e.web_ip), "control: the outside DNS answers the engine's namespace: {out}");
    let (ok, out) = agent_sh(&e, &agent, "timeout 15 nslookup leak.example");
    assert!(!ok || !out.contains(&e.web_ip), "the agent resolved an outside name (DNS leak):\n{out}");

    // Secrets: a file for the agent, never in its environment or in docker inspect.
    assert_eq!(agent_sh(&e, &agent, "cat /run/secrets/openai").1.trim(), SECRET);
    assert!(!sh(&mut e.docker(&["inspect", &agent])).1.contains(SECRET), "the secret is in docker inspect");
    assert!(!agent_sh(&e, &agent, "cat /proc/1/environ; env").1.contains(SECRET), "the secret is in the environment");

    // A new allow-list reaches squid without restarting the agent.
    let started = inspect(&e, &agent, "{{.State.StartedAt}}");
    let a2 = answers(work.path(), &e.web_ip, &["allowed.test", "other.test"]);
    let cmds2 = render(&a2, host.path());
    let reconfigure = cmds2.iter().find(|c| c.contains(&"HUP".to_string())).expect("the plan reconfigures squid");
    let (ok, out) = run_in(&e, reconfigure);
    assert!(ok, "{out}");
    wait("the new host to be allowed", 20, || agent_sh(&e, &agent, "wget -q -O - http://other.test/").0);
    assert_eq!(inspect(&e, &agent, "{{.State.StartedAt}}"), started, "the agent was restarted");

    // The daily check asks the engine how the agent really runs: the planned container
    // passes; one recreated by hand without the lockdown is named.
    // A host with auth.log (SSH logins are read from there, not from a journal).
    fs::create_dir_all(host.path().join("var/log")).unwrap();
    fs::write(host.path().join("var/log/auth.log"), "").unwrap();
    let answers_file = work.path().join("answers.toml");
    fs::write(&answers_file, a2.to_toml()).unwrap();
    let runner = work.path().join("runner.sh");
    fs::write(
        &runner,
        format!(
            "#!/bin/sh\ncase \"$1\" in\n  docker) DOCKER_HOST=unix://{} exec \"$@\" ;;\n  ss) exec ip netns exec {} \"$@\" ;;\n  apt-get) APT_CONFIG={}/apt.conf exec \"$@\" ;;\n  *) echo \"not in this test: $*\" >&2; exit 99 ;;\nesac\n",
            e.sock().display(),
            e.ns,
            work.path().display()
        ),
    )
    .unwrap();
    sh(Command::new("chmod").args(["755", runner.to_str().unwrap()]));
    // apt on the host root's package state (none installed here).
    fs::create_dir_all(host.path().join("var/lib/dpkg")).unwrap();
    fs::write(host.path().join("var/lib/dpkg/status"), "").unwrap();
    fs::write(work.path().join("apt.conf"), format!("Dir \"{}/\";\n", host.path().display())).unwrap();
    let check = || {
        let o = common::cli::command(&[])
            .args([
                "check",
                "--no-alert",
                "--root",
                host.path().to_str().unwrap(),
                "--runner",
                runner.to_str().unwrap(),
            ])
            .args(["--answers", answers_file.to_str().unwrap()])
            .output()
            .unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
    };
    // What the proxy refused above is counted from its access log (in its volume, on the
    // host) and named by destination; the planned container passes.
    let (code, out) = check();
    assert!(!out.contains("The agent's container runs with"), "the planned container is reported:\n{out}");
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("WARNING: The agent's proxy refused"), "{out}");
    let log = host.path().join("var/lib/docker/volumes/clawguard-agent_proxy-logs/_data/access.log");
    for host in ["other.test (", "other.test:80 (1)", "allowed.test:25 (1)"] {
        assert!(out.contains(host), "{host}:\n{out}\n{}", fs::read_to_string(&log).unwrap_or_default());
    }
    let (code, out) = check();
    assert_eq!(code, Some(0), "refused requests already reported are news again:\n{out}");
    // The log rotated as the monitoring layer's logrotate config does it (copytruncate,
    // as the proxy's user); what comes after is read, and only that.
    let plan = clawguard::layers::plan(&a2, &clawguard::host::probe(&Root::new(host.path()), None)).unwrap();
    let conf = plan
        .file(clawguard::layers::monitoring::LOGROTATE)
        .unwrap()
        .content
        .replace("/var/lib/docker/volumes/", &format!("{}/var/lib/docker/volumes/", host.path().display()));
    fs::write(work.path().join("logrotate.conf"), &conf).unwrap();
    let (ok, out) = sh(Command::new("logrotate")
        .args(["-f", "-s"])
        .arg(work.path().join("logrotate.state"))
        .arg(work.path().join("logrotate.conf")));
    assert!(ok, "logrotate: {out}\n{conf}");
    assert!(log.with_file_name("access.log.1").exists(), "not rotated:\n{conf}");
    let (ok, out) = agent_sh(&e, &agent, "wget -q -O - http://third.test/");
    assert!(!ok && out.contains("403"), "{out}");
    wait("squid to log the refusal", 10, || fs::read_to_string(&log).unwrap_or_default().contains("third.test"));
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("refused 1 request(s)") && out.contains("third.test (1)"), "{out}");
    let text = fs::read(&log).unwrap();
    assert!(text[0].is_ascii_digit(), "squid kept writing at its old offset after the truncation: {:?}", &text[..16]);
    assert_eq!(check().0, Some(0));

    // A container nobody planned, publishing to every address past ufw: named once as new;
    // the publishing is said as long as it lasts.
    let (ok, miner) = sh(&mut e.docker(&[
        "run",
        "-d",
        "--name",
        "miner",
        "-p",
        "9999:80",
        "clawguard-test/agent:1",
        "sleep",
        "3600",
    ]));
    assert!(ok, "{miner}");
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("A new container `miner` (image clawguard-test/agent:1)"), "{out}");
    assert!(out.contains("`miner` publishes 0.0.0.0:9999->80/tcp"), "{out}");
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    assert!(!out.contains("A new container"), "a container already reported is news every day:\n{out}");
    let (ok, out) = sh(&mut e.docker(&["rm", "-f", "miner"]));
    assert!(ok, "{out}");
    let (code, out) = check();
    assert_eq!(code, Some(0), "{out}");

    // `incident`: the agent and its proxy stop (the agent, started again, has no way out),
    // and the evidence is in one archive.
    let gateway = ps("gateway");
    let o = common::cli::command(&[])
        .args(["incident", "--yes", "--root", host.path().to_str().unwrap(), "--runner", runner.to_str().unwrap()])
        .args(["--answers", answers_file.to_str().unwrap()])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{out}");
    assert!(out.contains("1. The agent's project is stopped"), "{out}");
    assert!(out.contains("openai: https://platform.openai.com/api-keys"), "the keys to rotate:\n{out}");
    for c in [&agent, &proxy] {
        assert_eq!(inspect(&e, c, "{{.State.Running}}"), "false", "{out}");
    }
    // Even started again by hand, the agent has no way out: its proxy stays down.
    let (ok, out) = sh(&mut e.docker(&["start", &agent]));
    assert!(ok, "{out}");
    let proxy_answers = |cid: &str| agent_sh(&e, cid, "echo | nc -w 2 proxy 3128 >/dev/null").0;
    assert!(!proxy_answers(&agent), "the agent reaches its proxy after the incident");
    let archive = fs::read_dir(host.path().join("var/lib/clawguard"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("no evidence archive");
    let (ok, listing) = sh(Command::new("tar").arg("-tzf").arg(&archive));
    assert!(ok, "{listing}");
    for item in
        ["containers.txt", "project-inspect.json", "logs-", "files/var/log/auth.log", "proxy-logs/_data/access.log"]
    {
        assert!(listing.contains(item), "{item} is not in the archive:\n{listing}");
    }
    let (ok, log) = sh(Command::new("tar").arg("-xzOf").arg(&archive).arg("--wildcards").arg("*/access.log"));
    assert!(ok && log.contains("TCP_DENIED"), "the proxy's refusals are in the evidence: {log}");

    // Back as it was, for what follows.
    let (ok, out) = sh(&mut e.docker(&["start", &proxy, &gateway]));
    assert!(ok, "{out}");
    wait("the proxy to answer the agent again (control)", 30, || proxy_answers(&agent));

    let (ok, out) = sh(&mut e.docker(&["rm", "-f", &agent]));
    assert!(ok, "{out}");
    let (ok, evil) = sh(&mut e.docker(&[
        "run",
        "-d",
        "--label",
        "com.docker.compose.project=clawguard-agent",
        "--label",
        "com.docker.compose.service=agent",
        "clawguard-test/agent:1",
        "sleep",
        "3600",
    ]));
    assert!(ok, "{evil}");
    let (code, out) = check();
    assert_eq!(code, Some(3), "{out}");
    for what in ["a writable root filesystem", "user `root`", "its capabilities not dropped", "no-new-privileges off"] {
        assert!(out.contains(&format!("DANGER: The agent's container runs with {what}")), "{what}:\n{out}");
    }
    let (ok, out) = sh(&mut e.docker(&["rm", "-f", evil.trim()]));
    assert!(ok, "{out}");

    // A container of the agent's project that crash-loops (as the real OpenClaw did on
    // EACCES, `Restarting (78)`): `docker ps` lists it among the running; the check says
    // it does not run.
    let (ok, looping) = sh(&mut e.docker(&[
        "run",
        "-d",
        "--restart",
        "always",
        "--label",
        "com.docker.compose.project=clawguard-agent",
        "--label",
        "com.docker.compose.service=agent",
        "clawguard-test/agent:1",
        "sh",
        "-c",
        "exit 78",
    ]));
    assert!(ok, "{looping}");
    let mut seen = String::new();
    let found = (0..30).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(500));
        seen = check().1;
        seen.contains("DANGER: The agent's `agent` container restarts over and over (exit code 78")
    });
    assert!(found, "the crash loop was not found:\n{seen}");
    let (ok, out) = sh(&mut e.docker(&["rm", "-f", looping.trim()]));
    assert!(ok, "{out}");

    let mut down: Vec<String> = up[..up.len() - 2].to_vec();
    down.extend(["down".into(), "-t".into(), "1".into()]);
    let (ok, out) = run_in(&e, &down);
    assert!(ok, "{out}");
    eprintln!("sandbox test: images {:.1} s, whole test {:.1} s", t_images.as_secs_f64(), t0.elapsed().as_secs_f64());
}

/// A tag that moved on its registry: the container made from it afterwards runs another
/// image than the digest clawguard pinned, and the daily check names both digests. A real
/// registry (read by a real engine) serves the tag, pushed twice.
#[test]
fn a_container_made_from_a_moved_tag_is_reported_by_the_check() {
    use common::registry::{Registry, free_port, push};
    let e = Engine::start();
    let storage = tempfile::tempdir().unwrap();
    let pusher = Registry::start(storage.path(), &format!("127.0.0.1:{}", free_port()), None);
    let _served = Registry::start(storage.path(), "127.0.0.1:5000", Some(&format!("/run/netns/{}", e.ns)));
    let images = tempfile::tempdir().unwrap();
    engine::binary_rootfs(&images.path().join("socat"), "/usr/bin/socat");
    engine::busybox_rootfs(&images.path().join("other"));
    let config = serde_json::json!({ "Entrypoint": ["/usr/bin/socat"] });
    let pinned = push(&pusher.addr, "t/socat", "1", &images.path().join("socat"), config.clone());
    let tag = "127.0.0.1:5000/t/socat:1";
    let (ok, out) = sh(&mut e.docker(&["pull", &format!("127.0.0.1:5000/t/socat@{pinned}")]));
    assert!(ok, "{out}");
    // The tag moves: the same name now gives another image.
    let moved = push(&pusher.addr, "t/socat", "1", &images.path().join("other"), config);
    assert_ne!(moved, pinned);
    let (ok, out) = sh(&mut e.docker(&["pull", tag]));
    assert!(ok, "{out}");

    let mut a = Answers::default();
    a.sandbox.gateway_image = tag.parse().unwrap();
    let recorded = std::collections::BTreeMap::from([(tag.to_owned(), pinned.clone())]);
    let runner_path = e.dir.path().join("runner.sh");
    e.runner(&runner_path);
    let runner = clawguard::target::Runner::Program(runner_path);
    let create = |image: &str| {
        let (ok, out) = sh(&mut e.docker(&[
            "create",
            "--label",
            &format!("com.docker.compose.project={}", layers::sandbox::PROJECT),
            "--label",
            "com.docker.compose.service=gateway",
            image,
        ]));
        assert!(ok, "{out}");
        out.trim().to_owned()
    };
    let drift = |ours: &str| {
        let found = clawguard::check::container::check(&a, (64000, 64000), &recorded, &runner, true);
        let drift: Vec<_> = found.into_iter().filter(|f| f.id == "sandbox.image-drift").collect();
        let (ok, out) = sh(&mut e.docker(&["rm", ours]));
        assert!(ok, "{out}");
        drift
    };
    // Control: the container made from the pinned digest is what the plan says.
    let ours = create(&format!("127.0.0.1:5000/t/socat@{pinned}"));
    assert!(drift(&ours).is_empty(), "the pinned image was reported");
    // Made from the tag after it moved: named, with both digests.
    let theirs = create(tag);
    let found = drift(&theirs);
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].text.contains(&moved) && found[0].text.contains(&pinned), "{found:#?}");
}
