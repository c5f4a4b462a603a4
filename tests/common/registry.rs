//! A real image registry for the tests: Debian's `docker-registry` (the CNCF distribution
//! registry) on a loopback address, in this network namespace or one the test made, and
//! images pushed to it over its HTTP API from a root filesystem directory — so clawguard
//! asks a real registry for a digest and a real engine pulls by it, offline.

use std::fs;
use std::io::Read;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

pub struct Registry {
    /// `127.0.0.1:PORT`, as the namespace it runs in sees it.
    pub addr: String,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// Serves `storage` on `addr`, inside the network namespace `netns` (a path under
    /// /proc or /run/netns), or in this one. Waits until it answers.
    pub fn start(storage: &Path, addr: &str, netns: Option<&str>) -> Registry {
        let dir = tempfile::Builder::new().prefix("clawguard-registry-").tempdir().unwrap();
        let config = dir.path().join("config.yml");
        fs::write(
            &config,
            format!(
                "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: false\nhttp:\n  addr: {addr}\n",
                storage.display()
            ),
        )
        .unwrap();
        let which = Command::new("sh").args(["-c", "command -v docker-registry"]).output().unwrap();
        assert!(
            which.status.success(),
            "docker-registry is missing: scripts/test installs it (apt-get install docker-registry)"
        );
        let log = fs::File::create(dir.path().join("registry.log")).unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("nsenter");
                c.arg(format!("--net={ns}")).arg("docker-registry");
                c
            }
            None => Command::new("docker-registry"),
        };
        let child = cmd
            .arg("serve")
            .arg(&config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("docker-registry does not start");
        let r = Registry { addr: addr.to_owned(), child, _dir: dir };
        let probe = |r: &Registry| {
            let argv = ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", "2"];
            let url = format!("http://{}/v2/", r.addr);
            let out = match netns {
                Some(ns) => Command::new("nsenter").arg(format!("--net={ns}")).args(argv).arg(&url).output(),
                None => Command::new(argv[0]).args(&argv[1..]).arg(&url).output(),
            };
            out.is_ok_and(|o| String::from_utf8_lossy(&o.stdout) == "200")
        };
        let t = Instant::now();
        while !probe(&r) {
            assert!(
                t.elapsed() < Duration::from_secs(20),
                "the registry did not answer on {addr}: {}",
                fs::read_to_string(r._dir.path().join("registry.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        r
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free TCP port on 127.0.0.1 of this namespace.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn sha256_file(path: &Path) -> String {
    let mut f = fs::File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    format!("sha256:{}", h.finalize().iter().map(|b| format!("{b:02x}")).collect::<String>())
}

fn upload(base: &str, repo: &str, path: &Path, digest: &str) {
    let agent: ureq::Agent = ureq::Agent::config_builder().http_status_as_error(false).build().into();
    let r = agent.post(&format!("{base}/v2/{repo}/blobs/uploads/")).send_empty().unwrap();
    assert_eq!(r.status(), 202, "starting an upload to {base}");
    let location = r.headers().get("location").unwrap().to_str().unwrap().to_owned();
    let url = if location.starts_with("http") { location } else { format!("{base}{location}") };
    let sep = if url.contains('?') { '&' } else { '?' };
    let len = fs::metadata(path).unwrap().len();
    let mut file = fs::File::open(path).unwrap();
    let r = agent
        .put(&format!("{url}{sep}digest={digest}"))
        .header("Content-Type", "application/octet-stream")
        .header("Content-Length", &len.to_string())
        .send(ureq::SendBody::from_reader(&mut file))
        .unwrap();
    assert_eq!(r.status(), 201, "uploading {} to {base}", path.display());
}

/// Pushes the root filesystem `rootfs` as image `repo:tag` (one gzip layer) to the
/// registry at `http://addr`, with `config` as the image's run config (`Cmd`, `User`…).
/// Returns the manifest's digest, as the registry gives it.
pub fn push(addr: &str, repo: &str, tag: &str, rootfs: &Path, config: serde_json::Value) -> String {
    let work = tempfile::Builder::new().prefix("clawguard-push-").tempdir_in("/var/tmp").unwrap();
    let tar = work.path().join("layer.tar");
    let gz = work.path().join("layer.tar.gz");
    let (ok, out) = super::vps::sh(Command::new("sh").args([
        "-c",
        &format!(
            "tar --numeric-owner -C '{}' -cf '{}' . && gzip -1 -c '{1}' > '{}'",
            rootfs.display(),
            tar.display(),
            gz.display()
        ),
    ]));
    assert!(ok, "making the layer of {}: {out}", rootfs.display());
    let diff_id = sha256_file(&tar);
    let layer = sha256_file(&gz);
    fs::remove_file(&tar).unwrap();
    let image = serde_json::json!({
        "architecture": clawguard::registry::architecture(),
        "os": "linux",
        "config": config,
        "rootfs": { "type": "layers", "diff_ids": [diff_id] },
    });
    let config_path = work.path().join("config.json");
    fs::write(&config_path, serde_json::to_vec(&image).unwrap()).unwrap();
    let config_digest = sha256_file(&config_path);
    let base = format!("http://{addr}");
    upload(&base, repo, &gz, &layer);
    upload(&base, repo, &config_path, &config_digest);
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {
            "mediaType": "application/vnd.docker.container.image.v1+json",
            "size": fs::metadata(&config_path).unwrap().len(),
            "digest": config_digest,
        },
        "layers": [{
            "mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
            "size": fs::metadata(&gz).unwrap().len(),
            "digest": layer,
        }],
    });
    let r = ureq::put(&format!("{base}/v2/{repo}/manifests/{tag}"))
        .header("Content-Type", "application/vnd.docker.distribution.manifest.v2+json")
        .send(serde_json::to_vec(&manifest).unwrap().as_slice())
        .unwrap();
    r.headers().get("docker-content-digest").unwrap().to_str().unwrap().to_owned()
}

/// Where OpenClaw's official image lives in the tests' registries.
pub const OPENCLAW_REPO: &str = "openclaw/openclaw";
/// The proxy's and the forwarder's images there (`:1`).
pub const SQUID_REPO: &str = "clawguard-test/squid";
pub const SOCAT_REPO: &str = "clawguard-test/socat";

/// Its tag, the version the tests run.
pub fn openclaw_tag() -> &'static str {
    super::engine::OPENCLAW.trim_start_matches("openclaw@")
}

/// The tests' registry storage (see [`images`]).
pub struct Images {
    pub storage: PathBuf,
    /// The digest of `openclaw/openclaw:<version>`.
    pub openclaw: String,
}

/// A registry storage holding the real OpenClaw as `openclaw/openclaw:<version>` — built
/// from the npm release the tests already run, as OpenClaw's image runs it (user `node`,
/// the gateway as its command) — and the proxy (this machine's squid) and forwarder (socat)
/// as `clawguard-test/squid:1` and `clawguard-test/socat:1`. Made once per machine under
/// /var/cache/clawguard-tests, with a lock: tests in parallel wait for one another. Serve
/// it with [`Registry::start`] (several registries may serve it at once: they only read).
pub fn images() -> Images {
    // The proxy's image is this machine's squid: built with OpenSSL (peek-and-splice) since
    // the cache's name says so.
    let cache = Path::new("/var/cache/clawguard-tests")
        .join(format!("registry-{}-squid-openssl", super::engine::OPENCLAW.replace('@', "-")));
    fs::create_dir_all(cache.parent().unwrap()).unwrap();
    let lock = fs::File::create(cache.parent().unwrap().join("registry.lock")).unwrap();
    assert_eq!(unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX) }, 0, "locking {}", cache.display());
    let done = cache.join("digest");
    if let Ok(d) = fs::read_to_string(&done) {
        return Images { storage: cache, openclaw: d.trim().to_owned() };
    }
    let _ = fs::remove_dir_all(&cache);
    fs::create_dir_all(&cache).unwrap();
    let rootfs = tempfile::Builder::new().prefix("clawguard-rootfs-").tempdir_in("/var/tmp").unwrap();
    let (openclaw, squid, socat) =
        (rootfs.path().join("openclaw"), rootfs.path().join("squid"), rootfs.path().join("socat"));
    super::engine::openclaw_rootfs(&openclaw);
    super::engine::squid_rootfs(&squid);
    super::engine::binary_rootfs(&socat, "/usr/bin/socat");
    let registry = Registry::start(&cache, &format!("127.0.0.1:{}", free_port()), None);
    let path = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
    let config = serde_json::json!({
        "User": "node",
        "Env": [path, "NODE_ENV=production"],
        "Cmd": ["/usr/local/bin/node", "/app/node_modules/openclaw/openclaw.mjs", "gateway", "run"],
    });
    let digest = push(&registry.addr, OPENCLAW_REPO, openclaw_tag(), &openclaw, config);
    let squid_cmd = serde_json::json!({
        "Env": [path],
        "Cmd": ["/usr/sbin/squid", "-N", "-d", "1", "-f", "/etc/squid/squid.conf"],
    });
    push(&registry.addr, SQUID_REPO, "1", &squid, squid_cmd);
    push(
        &registry.addr,
        SOCAT_REPO,
        "1",
        &socat,
        serde_json::json!({ "Env": [path], "Entrypoint": ["/usr/bin/socat"] }),
    );
    drop(registry);
    fs::write(&done, &digest).unwrap();
    Images { storage: cache, openclaw: digest }
}
