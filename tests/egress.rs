//! The egress allow-list on the real squid, as an attacker would try to get around it:
//! an address instead of a name (with a PTR record of the attacker's own address naming an
//! allowed host), allowed names that resolve to loopback, private or cloud-metadata
//! addresses, plain and CONNECT. Everything runs in a network namespace the test creates,
//! with its own resolver (dnsmasq) and web servers; nothing leaves it.
//!
//! Positive controls: the allowed host still works (plain and CONNECT), a `static_hosts`
//! exception the answers name works, and a naive allow-list (the same file without the
//! address rules) does let the tricks through — so the namespace really exercises them.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::{Child, Command, Stdio};

use clawguard::answers::Answers;

struct Net {
    ns: String,
    children: Vec<Child>,
    dir: tempfile::TempDir,
}

impl Drop for Net {
    fn drop(&mut self) {
        for c in &mut self.children {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip").args(["netns", "pids", &self.ns]).output().map(|o| {
            for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                let _ = Command::new("kill").args(["-9", pid]).status();
            }
        });
        let _ = Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

fn must(cmd: &mut Command) {
    let o = cmd.output().unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e} (scripts/test installs it)"));
    assert!(
        o.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Addresses on the namespace's loopback interface: "public" ones from TEST-NET-3 and the
/// internal ones the tricks aim at.
const ALLOWED_IP: &str = "203.0.113.10";
const ATTACKER_IP: &str = "203.0.113.66";
const PRIVATE_IP: &str = "10.9.9.9";
const EXCEPTION_IP: &str = "10.9.9.8";
const METADATA_IP: &str = "169.254.169.254";

impl Net {
    fn start() -> Net {
        let ns = format!("cgegress-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &ns]).status();
        must(Command::new("ip").args(["netns", "add", &ns]));
        let dir = tempfile::Builder::new().prefix("clawguard-egress-").tempdir().unwrap();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let mut net = Net { ns, children: Vec::new(), dir };
        let ip = |args: &[&str]| must(Command::new("ip").arg("-n").arg(&net.ns).args(args));
        ip(&["link", "set", "lo", "up"]);
        for a in [ALLOWED_IP, ATTACKER_IP, PRIVATE_IP, EXCEPTION_IP, METADATA_IP] {
            ip(&["addr", "add", &format!("{a}/32"), "dev", "lo"]);
        }
        // One web server on every address, port 80 and 443 (CONNECT only needs the port).
        let www = net.dir.path().join("www");
        fs::create_dir_all(&www).unwrap();
        fs::write(www.join("index.html"), "reached\n").unwrap();
        for port in ["80", "443"] {
            let c = net
                .exec(&[
                    "/usr/bin/python3",
                    "-m",
                    "http.server",
                    port,
                    "--bind",
                    "0.0.0.0",
                    "--directory",
                    www.to_str().unwrap(),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap();
            net.children.push(c);
        }
        // The resolver the proxy uses: names the tricks need, and the attacker's PTR.
        let dnsmasq = net
            .exec(&[
                "dnsmasq",
                "--no-daemon",
                "--conf-file=/dev/null",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                &format!("--pid-file={}/dnsmasq.pid", net.dir.path().display()),
                &format!("--host-record=allowed.test,{ALLOWED_IP}"),
                &format!("--host-record=priv.test,{PRIVATE_IP}"),
                &format!("--host-record=meta.test,{METADATA_IP}"),
                "--host-record=loop.test,127.0.0.1",
                "--host-record=loop6.test,::1",
                &format!("--host-record=sub.wild.test,{METADATA_IP}"),
                &format!("--host-record=inside.test,{EXCEPTION_IP}"),
                &format!("--host-record=other-inside.test,{PRIVATE_IP}"),
                &format!("--ptr-record={},allowed.test", reverse(ATTACKER_IP)),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("dnsmasq: {e} (scripts/test installs dnsmasq-base)"));
        net.children.push(dnsmasq);
        net.wait_port("127.0.0.1", 80);
        net.wait_port("127.0.0.1", 443);
        net
    }

    fn exec(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.ns]).args(argv);
        c
    }

    fn wait_port(&self, host: &str, port: u16) {
        common::wait(&format!("{host}:{port} in the namespace"), 20, || {
            self.exec(&["nc", "-z", "-w1", host, &port.to_string()]).status().is_ok_and(|s| s.success())
        });
    }

    /// Starts squid on `conf` (the rendered file, with this test's logs, pid and resolver
    /// added), listening on `port`.
    fn squid(&mut self, name: &str, conf: &str, port: u16) {
        let dir = self.dir.path().join(name);
        fs::create_dir_all(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        let d = dir.display();
        let text = conf.replace("http_port 3128", &format!("http_port 127.0.0.1:{port}")).replace(
            "access_log stdio:/var/log/squid/access.log squid",
            &format!("access_log stdio:{d}/access.log squid"),
        ) + &format!(
            "\n# test environment\nhosts_file none\ndns_nameservers 127.0.0.1\ncache_log {d}/cache.log\npid_filename {d}/squid.pid\ncoredump_dir {d}\ncache_mem 8 MB\nshutdown_lifetime 1 seconds\n"
        );
        let file = dir.join("squid.conf");
        fs::write(&file, text).unwrap();
        let o = Command::new("squid")
            .args(["-k", "parse", "-f", file.to_str().unwrap()])
            .output()
            .expect("squid is installed");
        assert!(o.status.success(), "squid -k parse: {}", String::from_utf8_lossy(&o.stderr));
        let c = self
            .exec(&["squid", "-N", "-f", file.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        self.children.push(c);
        self.wait_port("127.0.0.1", port);
    }

    /// The status of a plain GET through the proxy on `port`.
    fn get(&self, port: u16, url: &str) -> String {
        let proxy = format!("http://127.0.0.1:{port}");
        let o = self
            .exec(&["curl", "-s", "-o", "/dev/null", "-m", "10", "-w", "%{http_code}", "-x", &proxy, url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// The proxy's answer to CONNECT `target` (host:443).
    fn connect(&self, port: u16, target: &str) -> String {
        let proxy = format!("http://127.0.0.1:{port}");
        let url = format!("http://{target}/");
        let o = self
            .exec(&["curl", "-s", "-o", "/dev/null", "-m", "10", "-p", "-w", "%{http_connect}", "-x", &proxy, &url])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }
}

fn reverse(ip: &str) -> String {
    let mut parts: Vec<&str> = ip.split('.').collect();
    parts.reverse();
    format!("{}.in-addr.arpa", parts.join("."))
}

fn squid_conf(answers: &str) -> (String, Vec<String>) {
    let a = Answers::parse(answers, "the test's answers").unwrap();
    let root = common::fixture_root("debian12-cloud");
    let plan = clawguard::layers::plan(&a, &common::facts(root.path(), None)).unwrap();
    let conf = plan.files.iter().find(|f| f.path.ends_with("squid.conf")).expect("a squid.conf").content.clone();
    (conf, plan.warnings.iter().map(|w| w.text.clone()).collect())
}

#[test]
fn the_allow_list_holds_against_addresses_ptr_records_and_internal_destinations() {
    let (conf, warnings) = squid_conf(
        r#"version = 1
[egress]
allowed_hosts = ["allowed.test", "priv.test", "meta.test", "loop.test", "loop6.test", ".wild.test", "inside.test"]
static_hosts = ["inside.test=10.9.9.8", "other-inside.test=10.9.9.9"]
"#,
    );
    assert!(
        warnings.iter().any(|w| w.contains("`inside.test` points inside (10.9.9.8), and the agent may reach it")),
        "the exception is not shown: {warnings:#?}"
    );
    assert!(warnings.iter().any(|w| w.contains("`other-inside.test` points inside") && w.contains("cannot reach it")));
    let mut net = Net::start();
    net.squid("clawguard", &conf, 3128);
    let p = 3128;

    // Positive controls: the allowed host, plain and CONNECT; the named exception.
    assert_eq!(net.get(p, "http://allowed.test/"), "200");
    assert_eq!(net.connect(p, "allowed.test:443"), "200");
    assert_eq!(net.get(p, "http://inside.test/"), "200", "the static_hosts exception");

    // An address instead of a name, even one whose PTR names an allowed host, even the
    // allowed host's own address.
    for url in [
        format!("http://{ATTACKER_IP}/"),
        format!("http://{ALLOWED_IP}/"),
        format!("http://{METADATA_IP}/latest/meta-data/"),
        "http://[::1]/".to_owned(),
        "http://2130706433/".to_owned(),
    ] {
        assert_eq!(net.get(p, &url), "403", "{url}");
    }
    for target in [format!("{ATTACKER_IP}:443"), format!("{ALLOWED_IP}:443"), "[::1]:443".to_owned()] {
        assert_eq!(net.connect(p, &target), "403", "CONNECT {target}");
    }
    // Allowed names that lead inside: private, metadata, loopback (v4 and v6), a
    // subdomain of an allowed domain; a static host that is not on the list.
    for name in ["priv.test", "meta.test", "loop.test", "loop6.test", "sub.wild.test", "other-inside.test"] {
        assert_eq!(net.get(p, &format!("http://{name}/")), "403", "{name}");
        assert_eq!(net.connect(p, &format!("{name}:443")), "403", "CONNECT {name}");
    }

    // The tricks are real: the same allow-list without the address rules lets them through.
    let naive = conf
        .replace(" -n ", " ")
        .lines()
        .filter(|l| !l.starts_with("http_access deny to_address") && !l.starts_with("http_access deny internal"))
        .collect::<Vec<_>>()
        .join("\n");
    net.squid("naive", &naive, 3129);
    assert_eq!(net.get(3129, &format!("http://{ATTACKER_IP}/")), "200", "the PTR trick against a naive list");
    assert_eq!(net.get(3129, "http://meta.test/"), "200", "an allowed name leading to the metadata address");
}
