//! `clawguard check`, the daily security check, on an applied root: quiet when nothing
//! changed, loud (exit 3, a webhook post) when a managed file was changed behind
//! clawguard's back.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;
use std::process::Command;

fn run(args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new(common::bin()).args(args).env_remove("SSH_CONNECTION").output().unwrap();
    (o.status.code(), format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr)))
}

#[test]
fn check_is_quiet_after_an_apply_and_alerts_on_a_changed_file() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let (code, out) = run(&["apply", "--yes", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(root.path().join("etc/clawguard/answers.toml").exists(), "apply saves the answers for the check");
    let (code, out) = run(&["check", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("nothing needs you"), "{out}");

    // Someone opens the proxy to the world.
    let squid = root.path().join("opt/clawguard/agent/squid.conf");
    let text = fs::read_to_string(&squid).unwrap().replace("http_access deny all", "http_access allow all");
    fs::write(&squid, text).unwrap();

    // A webhook on 127.0.0.1 that records what it is sent.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
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
        String::from_utf8_lossy(&buf).into_owned()
    });
    let answers = root.path().join("etc/clawguard/answers.toml");
    let mut text = fs::read_to_string(&answers).unwrap();
    text = text.replace("[monitoring]\n", &format!("[monitoring]\nalert_webhook = \"http://127.0.0.1:{port}/hook\"\n"));
    fs::write(&answers, text).unwrap();

    let (code, out) = run(&["check", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("DANGER: /opt/clawguard/agent/squid.conf was changed since clawguard wrote it"), "{out}");
    let request = server.join().unwrap();
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
    let (code, out) = run(&["check", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    assert!(out.contains("rolled back automatically"), "{out}");
    // A later apply was committed (and confirmed): the old rollback is history, not news.
    let (code, out) = run(&["apply", "--yes", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = run(&["check", "--no-alert", "--root", r]);
    assert!(!out.contains("rolled back automatically"), "{out}");
    assert_eq!(code, Some(0), "{out}");
    assert!(run(&["status", "--root", r]).1.contains("Last automatic rollback"), "status keeps the history");
}

#[test]
fn check_speaks_json_for_machines() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    assert_eq!(run(&["apply", "--yes", "--root", r]).0, Some(0));
    let (code, out) = run(&["check", "--json", "--no-alert", "--root", r]);
    assert_eq!(code, Some(0), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap_or_else(|e| panic!("{e}: {out}"));
    assert_eq!(v["needs_attention"], false);
    fs::remove_file(root.path().join("etc/fail2ban/jail.d/zz-clawguard.local")).unwrap();
    let (code, out) = run(&["check", "--json", "--no-alert", "--root", r]);
    assert_eq!(code, Some(3), "{out}");
    let v: serde_json::Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(v["needs_attention"], true);
    let danger = v["findings"].as_array().unwrap().iter().find(|f| f["severity"] == "danger").expect("a danger");
    assert!(danger["text"].as_str().unwrap().contains("zz-clawguard.local is missing"), "{danger}");
}
