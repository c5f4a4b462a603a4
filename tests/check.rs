//! `clawguard check`, the daily security check, on an applied root: quiet when nothing
//! changed, loud (exit 3, a webhook post) when a managed file was changed behind
//! clawguard's back.

mod common;

use common::cli::code_text;
use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

/// A webhook on 127.0.0.1 that takes one request (or none within 3 s) and answers 200.
fn webhook() -> (u16, std::thread::JoinHandle<Option<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    listener.set_nonblocking(true).unwrap();
    let server = std::thread::spawn(move || {
        let t = std::time::Instant::now();
        let mut conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if t.elapsed() < std::time::Duration::from_secs(3) => {
                    std::thread::sleep(std::time::Duration::from_millis(20))
                }
                Err(_) => return None,
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(std::time::Duration::from_secs(5))).unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        while let Ok(n) = conn.read(&mut chunk) {
            if n == 0 {
                break;
            }
            buf.extend_from_slice(&chunk[..n]);
            let text = String::from_utf8_lossy(&buf);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                let len: usize = head
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap_or(0))
                    })
                    .unwrap_or(0);
                if body.len() >= len {
                    break;
                }
            }
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").unwrap();
        Some(String::from_utf8_lossy(&buf).into_owned())
    });
    (port, server)
}

/// Sets the monitoring answers' alert lines (replacing earlier ones).
fn alert_to(answers: &std::path::Path, lines: &str) {
    let text = fs::read_to_string(answers).unwrap();
    let kept: Vec<&str> =
        text.lines().filter(|l| !l.starts_with("alert_") && !l.starts_with("telegram_chat")).collect();
    let text = kept.join("\n").replace("[monitoring]", &format!("[monitoring]\n{lines}"));
    fs::write(answers, text + "\n").unwrap();
}

#[test]
fn check_is_quiet_after_an_apply_and_alerts_on_a_changed_file() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let (code, out) = code_text(&["apply", "--yes", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(root.path().join("etc/clawguard/answers.toml").exists(), "apply saves the answers for the check");
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("nothing needs you"), "{out}");

    // Someone opens the proxy to the world.
    let squid = root.path().join("opt/clawguard/agent/proxy/squid.conf");
    let text = fs::read_to_string(&squid).unwrap().replace("http_access deny all", "http_access allow all");
    fs::write(&squid, text).unwrap();

    // A webhook on 127.0.0.1 that records what it is sent.
    let (port, server) = webhook();
    let answers = root.path().join("etc/clawguard/answers.toml");
    let mut text = fs::read_to_string(&answers).unwrap();
    text = text.replace("[monitoring]\n", &format!("[monitoring]\nalert_webhook = \"http://127.0.0.1:{port}/hook\"\n"));
    fs::write(&answers, text).unwrap();

    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("DANGER: /opt/clawguard/agent/proxy/squid.conf was changed since clawguard wrote it"),
        "{out}"
    );
    let request = server.join().unwrap().expect("the alert was posted");
    assert!(request.starts_with("POST /hook"), "{request}");
    assert!(request.contains("squid.conf was changed since clawguard wrote it"), "{request}");
}

#[test]
fn an_automatic_rollback_is_reported_until_a_later_apply_is_committed() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let state = root.path().join("var/lib/clawguard");
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    fs::create_dir_all(&state).unwrap();
    fs::write(
        state.join("last-rollback"),
        format!("{}: not confirmed within the time limit; rolled back\n", now - 3600),
    )
    .unwrap();
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("rolled back automatically"), "{out}");
    // A later apply was committed (and confirmed): the old rollback is history, not news.
    let (code, out) = code_text(&["apply", "--yes", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert!(!out.contains("rolled back automatically"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(code_text(&["status", "--root", r]).1.contains("Last automatic rollback"), "status keeps the history");
}

#[test]
fn check_speaks_json_for_machines() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    let (code, out) = code_text(&["check", "--json", "--no-alert", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["needs_attention"], false);
    fs::remove_file(root.path().join("etc/fail2ban/jail.d/zz-clawguard.local")).unwrap();
    let (code, out) = code_text(&["check", "--json", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["needs_attention"], true);
    let danger = v["findings"].as_array().unwrap().iter().find(|f| f["severity"] == "danger").expect("a danger");
    assert!(danger["text"].as_str().unwrap().contains("zz-clawguard.local is missing"), "{danger}");
    // For machines: a stable id, and the layer it concerns (the missing file's).
    assert_eq!(danger["id"], "host.managed-missing", "{danger}");
    assert_eq!(danger["layer"], "firewall", "{danger}");
}

/// Each format as its service reads it; an alert only with news; a resolved finding said
/// once; a failed delivery said on stderr and in the next run.
#[test]
fn alerts_go_out_in_each_format_and_only_with_news() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    let squid = root.path().join("opt/clawguard/agent/proxy/squid.conf");
    let original = fs::read_to_string(&squid).unwrap();
    fs::write(&squid, original.replace("http_access deny all", "http_access allow all")).unwrap();
    let answers = root.path().join("etc/clawguard/answers.toml");
    let last = root.path().join("var/lib/clawguard/last-alert.toml");
    // The bot's token lives in the vault, never in the answers.
    common::set_secret(root.path(), "clawguard-telegram", "123456:ABC-bot-token");

    type Expect<'a> = (&'a str, &'a dyn Fn(&str) -> bool);
    let expect: [Expect; 5] = [
        ("slack", &|r| r.starts_with("POST /hook") && r.contains("{\"text\":\"clawguard check on")),
        ("discord", &|r| r.contains("\"content\":\"clawguard check on")),
        ("ntfy", &|r| {
            let r = r.to_ascii_lowercase();
            r.contains("title: clawguard check on")
                && r.contains("priority: high")
                && r.contains("\r\n\r\nclawguard check on")
        }),
        ("json", &|r| {
            r.contains("\"new\":[{") && r.contains("\"severity\":\"danger\"") && r.contains("\"resolved\":[]")
        }),
        ("telegram", &|r| {
            r.starts_with("POST /bot123456:ABC-bot-token/sendMessage") && r.contains("\"chat_id\":-1001234567890")
        }),
    ];
    for (format, ok) in expect {
        let (port, server) = webhook();
        let (url, extra) = if format == "telegram" {
            (format!("http://127.0.0.1:{port}"), "telegram_chat = -1001234567890\n")
        } else {
            (format!("http://127.0.0.1:{port}/hook"), "")
        };
        alert_to(&answers, &format!("alert_webhook = \"{url}\"\nalert_format = \"{format}\"\n{extra}"));
        let _ = fs::remove_file(&last);
        let (code, out) = code_text(&["check", "--root", r]);
        assert_eq!(code, Some(3), "{format}: {out}");
        let request = server.join().unwrap().unwrap_or_else(|| panic!("{format}: nothing was posted: {out}"));
        assert!(ok(&request), "{format}: {request}");
        assert!(request.contains("squid.conf was changed since clawguard wrote it"), "{format}: {request}");
    }

    // The same finding the next day: no alert (exit 3 still says it needs you).
    let (port, server) = webhook();
    alert_to(&answers, &format!("alert_webhook = \"http://127.0.0.1:{port}/hook\"\nalert_format = \"slack\"\n"));
    let _ = fs::remove_file(&last);
    assert_eq!(code_text(&["check", "--root", r]).0, Some(3));
    assert!(server.join().unwrap().is_some());
    let (port, server) = webhook();
    alert_to(&answers, &format!("alert_webhook = \"http://127.0.0.1:{port}/hook\"\nalert_format = \"slack\"\n"));
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert_eq!(server.join().unwrap(), None, "a finding already alerted was sent again");

    // Fixed: said once as resolved, then quiet.
    fs::write(&squid, &original).unwrap();
    let (port, server) = webhook();
    alert_to(&answers, &format!("alert_webhook = \"http://127.0.0.1:{port}/hook\"\nalert_format = \"slack\"\n"));
    assert_eq!(code_text(&["check", "--root", r]).0, Some(0));
    let request = server.join().unwrap().expect("the resolution was not said");
    assert!(request.contains("RESOLVED: /opt/clawguard/agent/proxy/squid.conf was changed"), "{request}");

    // Nobody listens: said on stderr now, and as a finding of the next run.
    fs::write(&squid, original.replace("http_access deny all", "http_access allow all")).unwrap();
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    alert_to(&answers, &format!("alert_webhook = \"http://127.0.0.1:{closed}/hook\"\nalert_format = \"slack\"\n"));
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("warning: the alert (slack format) was not delivered"), "{out}");
    let (_, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert!(out.contains("WARNING: The last alert did not reach you"), "{out}");
}

/// The vault and the keys unlocked for the agent are compared with what clawguard wrote:
/// a key replaced, removed or slipped in is a DANGER; `secrets set` records its own change.
#[test]
fn a_key_changed_behind_clawguards_back_is_found() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    let set = |name: &str, value: &[u8]| {
        let mut c = common::cli::command(&[])
            .args(["secrets", "--root", r, "set", name])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .spawn()
            .unwrap();
        c.stdin.take().unwrap().write_all(value).unwrap();
        assert!(c.wait().unwrap().success());
    };
    set("openai", b"sk-first");
    assert_eq!(code_text(&["secrets", "--root", r, "unlock"]).0, Some(0));
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(0), "{out}");

    // The agent (which owns its unlocked copy) rewrites it.
    let unlocked = root.path().join("run/clawguard/secrets/openai");
    fs::set_permissions(&unlocked, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
    fs::write(&unlocked, "sk-attacker").unwrap();
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("DANGER: /run/clawguard/secrets/openai was changed since clawguard wrote it"), "{out}");
    assert_eq!(code_text(&["secrets", "--root", r, "unlock"]).0, Some(0));
    assert_eq!(code_text(&["check", "--no-alert", "--root", r]).0, Some(0));

    // A sealed key replaced by another sealed file, and one slipped in.
    let vault = root.path().join("etc/clawguard/vault");
    set("anthropic", b"sk-ant");
    fs::copy(vault.join("anthropic.age"), vault.join("openai.age")).unwrap();
    fs::copy(vault.join("anthropic.age"), vault.join("gmail.age")).unwrap();
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("/etc/clawguard/vault/openai.age was changed since clawguard wrote it"), "{out}");
    assert!(out.contains("/etc/clawguard/vault/gmail.age is in the vault but clawguard did not put it there"), "{out}");
    // Setting the keys through clawguard is not tampering.
    fs::remove_file(vault.join("gmail.age")).unwrap();
    set("openai", b"sk-second");
    assert_eq!(code_text(&["secrets", "--root", r, "unlock"]).0, Some(0));
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
}

/// A watched certificate, served by a real `openssl s_server` on 127.0.0.1 and made by the
/// test's own CA (the check trusts it through SSL_CERT_FILE): valid and far from expiry
/// (quiet), expiring within the window, for another name, and from an unknown CA.
#[test]
fn watched_certificates_are_checked_for_expiry_chain_and_name() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    let pki = tempfile::tempdir().unwrap();
    let p = |f: &str| pki.path().join(f).to_str().unwrap().to_owned();
    let openssl = |args: &[&str]| {
        let o =
            Command::new("openssl").args(args).output().expect("openssl is not installed (scripts/test installs it)");
        assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
    };
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &p("ca.key"),
        "-out",
        &p("ca.pem"),
        "-days",
        "400",
        "-subj",
        "/CN=clawguard test CA",
    ]);
    let issue = |name: &str, cn: &str, days: &str| {
        fs::write(p("ext"), format!("subjectAltName=DNS:{cn}\n")).unwrap();
        openssl(&[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            &p(&format!("{name}.key")),
            "-out",
            &p("csr"),
            "-subj",
            &format!("/CN={cn}"),
        ]);
        openssl(&[
            "x509",
            "-req",
            "-in",
            &p("csr"),
            "-CA",
            &p("ca.pem"),
            "-CAkey",
            &p("ca.key"),
            "-CAcreateserial",
            "-out",
            &p(&format!("{name}.pem")),
            "-days",
            days,
            "-extfile",
            &p("ext"),
        ]);
    };
    issue("good", "localhost", "90");
    issue("soon", "localhost", "5");
    issue("other", "other.test", "90");

    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let answers = root.path().join("etc/clawguard/answers.toml");
    let text = fs::read_to_string(&answers)
        .unwrap()
        .replace("certificates = []", &format!("certificates = [\"localhost:{port}\"]"));
    fs::write(&answers, text).unwrap();
    let serve = |name: &str| {
        let child = Command::new("openssl")
            .args([
                "s_server",
                "-quiet",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
                &p(&format!("{name}.pem")),
                "-key",
                &p(&format!("{name}.key")),
            ])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let t = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(t.elapsed() < std::time::Duration::from_secs(10), "s_server did not start");
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        child
    };
    let check = |trust: bool| {
        let mut c = common::cli::command(&[]);
        c.args(["check", "--no-alert", "--root", r]).env_remove("SSH_CONNECTION");
        if trust {
            c.env("SSL_CERT_FILE", p("ca.pem"));
        }
        let o = c.output().unwrap();
        (o.status.code(), String::from_utf8_lossy(&o.stdout).into_owned())
    };
    let cases: [(&str, bool, Option<i32>, &str); 4] = [
        ("good", true, Some(0), ""),
        ("soon", true, Some(3), "WARNING: The certificate of localhost:PORT expires on"),
        ("other", true, Some(3), "DANGER: The certificate of localhost:PORT is not valid: 62 (hostname mismatch)"),
        (
            "good",
            false,
            Some(3),
            "DANGER: The certificate of localhost:PORT is not valid: 21 (unable to verify the first certificate)",
        ),
    ];
    for (cert, trust, code, says) in cases {
        let mut server = serve(cert);
        let (got, out) = check(trust);
        let _ = server.kill();
        let _ = server.wait();
        assert_eq!(got, code, "{cert} (trusted CA: {trust}):\n{out}");
        assert!(out.contains(&says.replace("PORT", &port.to_string())), "{cert} (trusted CA: {trust}):\n{out}");
        if code == Some(0) {
            assert!(!out.contains("certificate"), "{out}");
        }
    }
    // Nothing listens: said, not a silent pass.
    let (_, out) = check(true);
    assert!(out.contains(&format!("localhost:{port} could not be reached over TLS")), "{out}");
}

/// Asked for, a weekly "still alive" alert comes when nothing else was sent for a week.
#[test]
fn a_still_alive_alert_comes_weekly_when_asked() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    let answers = root.path().join("etc/clawguard/answers.toml");
    let (port, server) = webhook();
    alert_to(&answers, &format!("alert_webhook = \"http://127.0.0.1:{port}/hook\"\nalert_still_alive = true\n"));
    assert_eq!(code_text(&["check", "--root", r]).0, Some(0));
    let request = server.join().unwrap().expect("no still-alive alert");
    assert!(request.contains("still alive, all clear."), "{request}");
    let (port, server) = webhook();
    alert_to(&answers, &format!("alert_webhook = \"http://127.0.0.1:{port}/hook\"\nalert_still_alive = true\n"));
    assert_eq!(code_text(&["check", "--root", r]).0, Some(0));
    assert_eq!(server.join().unwrap(), None, "a second still-alive within the week");
}

/// A small tmpfs mounted at a path under a test root, unmounted when dropped.
struct Tmpfs(std::path::PathBuf);

impl Tmpfs {
    fn mount(at: &std::path::Path, options: &str) -> Tmpfs {
        fs::create_dir_all(at).unwrap();
        let o = Command::new("mount").args(["-t", "tmpfs", "-o", options, "tmpfs"]).arg(at).output().unwrap();
        assert!(o.status.success(), "mounting a tmpfs (the test needs root): {}", String::from_utf8_lossy(&o.stderr));
        Tmpfs(at.to_owned())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_file_system_is_reported_by_space_and_by_inodes() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let logs = root.path().join("var/log");
    let _tmpfs = Tmpfs::mount(&logs, "size=1m,nr_inodes=40");
    // Control: an empty file system.
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(!out.contains("has used"), "{out}");
    fs::write(logs.join("big.log"), vec![b'x'; 940 * 1024]).unwrap();
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("WARNING: The file system holding /var/log has used 9"), "{out}");
    assert!(out.contains("of its space"), "{out}");
    fs::write(logs.join("big.log"), vec![b'x'; 1024 * 1024]).unwrap_or_default();
    let (_, out) = code_text(&["check", "--root", r]);
    assert!(out.contains("DANGER: The file system holding /var/log has used 100% of its space"), "{out}");
    fs::remove_file(logs.join("big.log")).unwrap();
    for i in 0..38 {
        let _ = fs::write(logs.join(format!("{i}.log")), "");
    }
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("of its inodes") && !out.contains("of its space"), "{out}");
}

/// Writes one sshd login as a journal entry (export format, through systemd's own
/// `systemd-journal-remote`) into the root's journal directory.
fn journal_login(root: &std::path::Path, name: &str, at_micros: u128, line: &str) {
    journal_entry(root, name, at_micros, "sshd-session", 0, line)
}

/// Writes one journal entry as journald would record it for a process named `comm` of
/// user `uid` (the fields journald stamps itself and no sender can write).
fn journal_entry(root: &std::path::Path, name: &str, at_micros: u128, comm: &str, uid: u32, line: &str) {
    let machine = "0123456789abcdef0123456789abcdef";
    let dir = root.join("var/log/journal").join(machine);
    fs::create_dir_all(&dir).unwrap();
    let export = root.join(format!("{name}.export"));
    fs::write(
        &export,
        format!(
            "__REALTIME_TIMESTAMP={at_micros}\n__MONOTONIC_TIMESTAMP=1000000\n_BOOT_ID={machine}\n_MACHINE_ID={machine}\n_HOSTNAME=vps\n_COMM={comm}\n_UID={uid}\nSYSLOG_IDENTIFIER=sshd-session\n_PID=4242\nPRIORITY=6\nMESSAGE={line}\n\n"
        ),
    )
    .unwrap();
    let remote = ["/usr/lib/systemd/systemd-journal-remote", "/lib/systemd/systemd-journal-remote"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
        .expect("systemd-journal-remote is missing: apt-get install systemd-journal-remote (scripts/test does)");
    let o = Command::new(remote).arg("-o").arg(dir.join(format!("{name}.journal"))).arg(&export).output().unwrap();
    assert!(o.status.success(), "systemd-journal-remote: {}", String::from_utf8_lossy(&o.stderr));
    fs::remove_file(export).unwrap();
}

#[test]
fn a_login_with_an_unknown_key_is_found_in_the_journal() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let (code, out) = code_text(&["apply", "--yes", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    let micros = || std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_micros();
    // No auth.log on this host: the journal is where sshd's logins are.
    journal_login(
        root.path(),
        "usual",
        micros() - 60_000_000,
        "Accepted publickey for debian from 203.0.113.5 port 50000 ssh2: ED25519 SHA256:usualkeyusualkeyusualkeyusualkeyusualkey123",
    );
    // Before the first run, lines a stranger or a local user wrote: a user name sshd logs
    // verbatim inside its own message, and a process that named itself sshd. Neither is a
    // login, so neither is learned as normal (eve's key below stays news).
    journal_login(
        root.path(),
        "banner",
        micros() - 50_000_000,
        "Invalid user x]: Accepted publickey for debian from 198.51.100.7 port 41000 ssh2: ED25519 SHA256:evekeyevekeyevekeyevekeyevekeyevekeyevekey1 from 198.51.100.7 port 41000",
    );
    journal_entry(
        root.path(),
        "named-sshd",
        micros() - 40_000_000,
        "sshd",
        1000,
        "Accepted publickey for debian from 198.51.100.7 port 41000 ssh2: ED25519 SHA256:evekeyevekeyevekeyevekeyevekeyevekeyevekey1",
    );
    journal_entry(
        root.path(),
        "named-sshd-root",
        micros() - 30_000_000,
        "sshd",
        1000,
        "Accepted password for root from 198.51.100.66 port 1 ssh2",
    );
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(0), "the first run learns:\n{out}");
    assert!(out.contains("Learned 1 SSH login(s) from the journal"), "only sshd's own login is learned:\n{out}");
    assert!(!out.contains("198.51.100.66"), "{out}");
    // Control: the same key from the same address again is not news.
    journal_login(
        root.path(),
        "again",
        micros(),
        "Accepted publickey for debian from 203.0.113.5 port 50001 ssh2: ED25519 SHA256:usualkeyusualkeyusualkeyusualkeyusualkey123",
    );
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(0), "a known login is not news:\n{out}");
    journal_login(
        root.path(),
        "eve",
        micros(),
        "Accepted publickey for debian from 198.51.100.7 port 41000 ssh2: ED25519 SHA256:evekeyevekeyevekeyevekeyevekeyevekeyevekey1",
    );
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("`debian` logged in over SSH with a key never seen before (SHA256:evekey"), "{out}");
    assert!(out.contains("198.51.100.7"), "{out}");
    let (code, out) = code_text(&["check", "--root", r]);
    assert_eq!(code, Some(0), "a login already reported is news again:\n{out}");
}

/// A FIFO where auth.log or one of the check's own records should be: the check does not
/// wait on it (the unit would hang, and the daily check silently stop); it says what it
/// could not read. A regular auth.log is the control.
#[test]
fn a_fifo_at_auth_log_or_at_a_record_is_said_never_waited_on() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let (code, out) = code_text(&["apply", "--yes", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    let mkfifo = |p: &std::path::Path| {
        let c = std::ffi::CString::new(p.to_str().unwrap()).unwrap();
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    };
    let auth_log = root.path().join("var/log/auth.log");
    fs::create_dir_all(auth_log.parent().unwrap()).unwrap();
    fs::write(&auth_log, "").unwrap();
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(0), "control:\n{out}");
    fs::remove_file(&auth_log).unwrap();
    mkfifo(&auth_log);
    let seen = root.path().join("var/lib/clawguard/seen.toml");
    fs::remove_file(&seen).unwrap();
    mkfifo(&seen);
    let o = Command::new("timeout")
        .args(["60", common::bin(), "check", "--no-alert", "--root", r])
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert_eq!(o.status.code(), Some(3), "{out}");
    assert!(out.contains("/var/log/auth.log cannot be read") && out.contains("is a FIFO"), "{out}");
    assert!(out.contains("seen.toml) cannot be read"), "{out}");
}

/// A key's comment is the attacker's text: slipped into authorized_keys with Slack and
/// Discord markup, a mention and terminal escapes, it reaches each sink escaped for it —
/// no mention, no link, no markup, no escape sequence obeyed — and still says what it is.
#[test]
fn attacker_text_in_a_finding_is_escaped_for_each_sink() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    assert_eq!(code_text(&["check", "--no-alert", "--root", r]).0, Some(0), "the first run learns");
    let key = root.path().join("evil");
    let o =
        Command::new("ssh-keygen").args(["-q", "-t", "ed25519", "-N", "", "-C", "x", "-f"]).arg(&key).output().unwrap();
    assert!(o.status.success());
    let public = fs::read_to_string(key.with_extension("pub")).unwrap();
    // (The finding quotes a comment's first 40 characters.)
    let evil = "\u{1b}[2J<!channel>@everyone[a](http://e.x)<http://e.x|b>";
    let line = format!("{} {}\n", public.split_whitespace().take(2).collect::<Vec<_>>().join(" "), evil);
    let keys = root.path().join("home/debian/.ssh/authorized_keys");
    let mut text = fs::read_to_string(&keys).unwrap();
    text.push_str(&line);
    fs::write(&keys, text).unwrap();
    let answers = root.path().join("etc/clawguard/answers.toml");
    let last = root.path().join("var/lib/clawguard/last-alert.toml");

    // What the check had learned before the key came: each run below sees it as new.
    let seen = root.path().join("var/lib/clawguard/seen.toml");
    let learned = fs::read_to_string(&seen).unwrap();
    // The target's hostname is the image maker's text too: a window title and a screen clear.
    fs::write(root.path().join("etc/hostname"), "vps\u{1b}]0;pwned\u{7}\u{1b}[2J\n").unwrap();
    // The terminal: the escape sequence is shown, not obeyed; the finding is there.
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("A new SSH key lets `debian` log in") && out.contains("\\u{1b}[2J"), "{out}");
    assert!(!out.contains('\u{1b}'), "a raw escape reached the terminal:\n{out:?}");

    type Expect<'a> = (&'a str, &'a dyn Fn(&str) -> bool);
    let expect: [Expect; 4] = [
        ("slack", &|r| r.contains("&lt;!channel&gt;") && !r.contains("<!channel>") && !r.contains("<http://")),
        ("discord", &|r| {
            r.contains("\"allowed_mentions\":{\"parse\":[]}") && !r.contains("[a](") && r.contains("\\\\@everyone")
        }),
        ("telegram", &|r| !r.contains("parse_mode") && r.contains("<!channel>")),
        ("json", &|r| r.contains("<!channel>")),
    ];
    for (format, ok) in expect {
        let (port, server) = webhook();
        let (url, extra) = if format == "telegram" {
            (format!("http://127.0.0.1:{port}"), "telegram_chat = -1001234567890\n")
        } else {
            (format!("http://127.0.0.1:{port}/hook"), "")
        };
        if format == "telegram" {
            common::set_secret(root.path(), "clawguard-telegram", "123456:ABC-bot-token");
        }
        alert_to(&answers, &format!("alert_webhook = \"{url}\"\nalert_format = \"{format}\"\n{extra}"));
        let _ = fs::remove_file(&last);
        fs::write(&seen, &learned).unwrap();
        let (code, out) = code_text(&["check", "--root", r]);
        assert_eq!(code, Some(3), "{format}: {out}");
        let request = server.join().unwrap().unwrap_or_else(|| panic!("{format}: nothing was posted: {out}"));
        assert!(request.contains("A new SSH key lets "), "{format}: {request}");
        assert!(ok(&request), "{format}: {request}");
        if format != "json" {
            assert!(
                !request.contains("\\u001b") && !request.contains('\u{1b}'),
                "{format}: an escape went out: {request}"
            );
        }
    }
}

/// Logs rotated by the real logrotate between two checks, the new file grown past the old
/// offset before the next run: what was written before the rotation (in `.1`) and the
/// new file's start are both read — a new key's login at auth.log's start, a refused
/// request at the start of the proxy's log. A refused request buried under more allowed
/// ones than a run reads is not dropped in silence: the check says how much it left out.
#[test]
fn rotated_logs_are_read_from_where_the_last_run_stopped_and_a_cap_is_said() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    let auth = root.path().join("var/log/auth.log");
    fs::create_dir_all(auth.parent().unwrap()).unwrap();
    let proxy = root.path().join("var/lib/docker/volumes/clawguard-agent_proxy-logs/_data/access.log");
    fs::create_dir_all(proxy.parent().unwrap()).unwrap();
    let login = |key: &str, from: &str| {
        format!(
            "Dec  7 10:00:00 vps sshd[42]: Accepted publickey for debian from {from} port 50000 ssh2: ED25519 SHA256:{key}\n"
        )
    };
    let allowed =
        "1764331204.000      2 172.20.0.3 TCP_TUNNEL/200 120 CONNECT allowed.test:443 - HIER_DIRECT/10.0.0.2 -\n";
    let denied = |host: &str| {
        format!("1764331200.123      5 172.20.0.3 TCP_DENIED/403 3921 GET http://{host}/ - HIER_NONE/- text/html\n")
    };
    let append = |p: &std::path::Path, s: &str| {
        use std::io::Write;
        fs::OpenOptions::new().append(true).create(true).open(p).unwrap().write_all(s.as_bytes()).unwrap();
    };
    append(&auth, &login("usualkeyusualkeyusualkeyusualkeyusualkey123", "203.0.113.5"));
    append(&proxy, allowed);
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(0), "the first run learns:\n{out}");

    // Written before the rotation: a refused request (it ends up in access.log.1).
    append(&proxy, &denied("before-rotation.test"));
    let conf = root.path().join("logrotate.conf");
    fs::write(
        &conf,
        format!(
            "{} {{\n  create 0640 root adm\n  rotate 4\n  missingok\n}}\n{} {{\n  copytruncate\n  rotate 4\n  missingok\n}}\n",
            auth.display(),
            proxy.display()
        ),
    )
    .unwrap();
    let o = Command::new("logrotate")
        .args(["-f", "-s"])
        .arg(root.path().join("logrotate.state"))
        .arg(&conf)
        .output()
        .expect("logrotate is missing: apt-get install logrotate (scripts/test does)");
    assert!(o.status.success(), "logrotate: {}", String::from_utf8_lossy(&o.stderr));
    assert!(root.path().join("var/log/auth.log.1").exists());
    // The new files start with what matters and grow past the old offsets.
    append(&auth, &login("evekeyevekeyevekeyevekeyevekeyevekeyevekey1", "198.51.100.7"));
    append(&auth, &login("usualkeyusualkeyusualkeyusualkeyusualkey123", "203.0.113.5").repeat(3));
    append(&proxy, &denied("after-rotation.test"));
    append(&proxy, &allowed.repeat(3));
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("with a key never seen before (SHA256:evekey"), "the new auth.log's first line:\n{out}");
    assert!(
        out.contains("refused 2 request(s)")
            && out.contains("before-rotation.test")
            && out.contains("after-rotation.test"),
        "{out}"
    );
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(0), "read already:\n{out}");

    // One refused request, then more allowed ones than a run reads (64 MiB).
    append(&proxy, &denied("buried.test"));
    let flood = allowed.repeat((65 << 20) / allowed.len());
    append(&proxy, &flood);
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("were not looked at, so requests it refused there were not counted"), "{out}");
}

/// An apply cut off in the middle (killed after its second file): the check does not say
/// "nothing needs you" — it says the apply was interrupted and what to run. Finishing it
/// (apply again) is the control.
#[test]
fn an_interrupted_apply_is_a_finding_until_it_is_finished() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let clean = common::fixture_root("debian12-cloud");
    assert_eq!(code_text(&["apply", "--yes", "--root", clean.path().to_str().unwrap()]).0, Some(0));
    let journal = fs::read_to_string(clean.path().join("var/lib/clawguard/journal")).unwrap();
    let label = journal
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(_, label)| label))
        .filter(|l| l.starts_with("write "))
        .nth(1)
        .expect("a second write in the journal")
        .to_owned();
    let o = common::cli::command(&[])
        .args(["apply", "--yes", "--root", r])
        .env_remove("SSH_CONNECTION")
        .env(clawguard::target::CRASH_ENV, &label)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(137), "did not stop at {label}");
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(
        out.contains("DANGER: An apply was interrupted: generation") && out.contains("sudo clawguard apply"),
        "{out}"
    );
    assert_eq!(code_text(&["apply", "--yes", "--root", r]).0, Some(0));
    let (code, out) = code_text(&["check", "--no-alert", "--root", r]);
    assert!(!out.contains("An apply was interrupted"), "{out}");
    assert_eq!(code, Some(0), "{out}");
}
