//! The Ansible role (`ansible/roles/clawguard`), run by ansible-core from PyPI against three
//! bare Debian hosts booted with systemd (`common::booted`), as a fleet is run: one
//! `ansible-playbook` for all of them, each host's answers in a file of its own, a key from
//! the inventory handed to the vault. One host's provider firewall drops the new SSH port:
//! its confirmation over a new login cannot come, so Ansible reports it and the host rolls
//! itself back, while the other two are hardened and confirmed. A second run changes
//! nothing; `--check --diff` shows a host's plan and changes nothing; ansible-lint is clean.
//! Needs root (network namespaces), debootstrap, systemd-nspawn and the venv `scripts/test`
//! makes (CLAWGUARD_ANSIBLE); a missing one fails the test.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use common::booted::Booted;

fn ansible_bin(tool: &str) -> PathBuf {
    let dir = std::env::var_os("CLAWGUARD_ANSIBLE")
        .unwrap_or_else(|| "/var/cache/clawguard-tests/ansible-2.19.14/bin".into());
    let p = Path::new(&dir).join(tool);
    assert!(
        p.exists(),
        "{} is missing: scripts/test installs ansible-core and ansible-lint (CLAWGUARD_ANSIBLE)",
        p.display()
    );
    p
}

fn repo(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

/// One of the venv's tools, with the venv first on PATH (ansible-lint runs ansible).
fn tool(name: &str) -> Command {
    let mut c = Command::new(ansible_bin(name));
    let bin = ansible_bin("ansible").parent().unwrap().display().to_string();
    c.env("PATH", format!("{bin}:{}", std::env::var("PATH").unwrap())).env("NO_COLOR", "1");
    c
}

/// Runs ansible-playbook with `args`; (exit code, output, seconds).
fn playbook(dir: &Path, args: &[&str]) -> (i32, String, f64) {
    let t = Instant::now();
    let o = tool("ansible-playbook")
        .args(["-i", dir.join("inventory.yml").to_str().unwrap()])
        .arg(repo("ansible/site.yml"))
        .args(args)
        .env("ANSIBLE_CONFIG", dir.join("ansible.cfg"))
        // ssh's control sockets of this run only: never a master left by another run whose
        // hosts had the same addresses.
        .env("ANSIBLE_SSH_CONTROL_PATH_DIR", dir.join("cp"))
        .env("ANSIBLE_LOCAL_TEMP", dir.join("tmp"))
        .env("ANSIBLE_NOCOLOR", "1")
        .env("ANSIBLE_FORCE_COLOR", "0")
        .output()
        .unwrap();
    let out = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    (o.status.code().unwrap_or(-1), out, t.elapsed().as_secs_f64())
}

/// The PLAY RECAP line of `host`.
fn recap<'a>(out: &'a str, host: &str) -> &'a str {
    out.lines()
        .rev()
        .find(|l| l.starts_with(&format!("{host} ")) && l.contains("ok="))
        .unwrap_or_else(|| panic!("no recap for {host}:\n{out}"))
}

fn expect(vps: &Booted, port: u16, cmd: &str, code: i32) -> String {
    let (rc, out) = vps.ssh("debian", port, None, cmd);
    assert_eq!(rc, code, "`{cmd}` on port {port}:\n{out}");
    out
}

#[test]
fn the_role_hardens_a_fleet_and_a_host_whose_new_port_fails_rolls_itself_back() {
    let lint = tool("ansible-lint")
        .args(["--offline", "site.yml", "roles/clawguard"])
        .current_dir(repo("ansible"))
        .output()
        .unwrap();
    let said = format!("{}{}", String::from_utf8_lossy(&lint.stdout), String::from_utf8_lossy(&lint.stderr));
    assert!(lint.status.success() && said.contains("0 failure(s), 0 warning(s)"), "ansible-lint:\n{said}");

    // Three bare hosts, booted side by side, each with what a cloud image has (python3).
    let hosts: Vec<Booted> = std::thread::scope(|s| {
        let handles: Vec<_> = [31u8, 32, 33]
            .into_iter()
            .map(|net| {
                s.spawn(move || {
                    let vps = Booted::up("bookworm", net);
                    let (ok, out) = vps.exec(&["sh", "-c", "apt-get update -q && apt-get install -y -q python3"]);
                    assert!(ok, "python3 on the cloud image: {out}");
                    vps
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let names = ["agent-1", "agent-2", "agent-3"];
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("answers")).unwrap();
    let mut inventory = String::from("agents:\n  hosts:\n");
    for (name, vps) in names.iter().zip(&hosts) {
        inventory.push_str(&format!(
            "    {name}:\n      ansible_host: {}\n      ansible_ssh_private_key_file: {}\n      ansible_ssh_common_args: >-\n        -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o IdentitiesOnly=yes\n        -o ProxyCommand=\"{}\"\n",
            vps.vps_ip,
            vps.key().display(),
            vps.proxy_command()
        ));
        // The agent itself is not part of this test (no image to build): its layers are
        // skipped. agent-2's answers are an inventory variable, the others' a file each.
        let answers = "version = 1\nskip = [\"sandbox\", \"egress\", \"backup\"]\n[ssh]\nport = 2222\n";
        if *name == "agent-2" {
            inventory.push_str("      clawguard_answers: |\n");
            for line in answers.lines() {
                inventory.push_str(&format!("        {line}\n"));
            }
        } else {
            fs::write(dir.path().join(format!("answers/{name}.toml")), answers).unwrap();
        }
    }
    inventory.push_str(&format!(
        "  vars:\n    ansible_user: debian\n    ansible_port: 2222\n    clawguard_first_port: 22\n    clawguard_confirm_timeout: 45\n    clawguard_package: {}\n    clawguard_answers_file: \"{{{{ inventory_dir }}}}/answers/{{{{ inventory_hostname }}}}.toml\"\n    clawguard_secrets:\n      anthropic: sk-ant-fleet-0123456789\n",
        common::deb().display()
    ));
    fs::write(dir.path().join("inventory.yml"), inventory).unwrap();
    fs::write(
        dir.path().join("ansible.cfg"),
        format!(
            "[defaults]\nroles_path = {}\ninterpreter_python = /usr/bin/python3\nforks = 3\ntimeout = 15\n",
            repo("ansible/roles").display()
        ),
    )
    .unwrap();

    // agent-3's provider drops the new SSH port (its cloud firewall was not opened).
    let bad = &hosts[2];
    let (ok, out) = bad.hostns(&["iptables", "-A", "OUTPUT", "-p", "tcp", "--dport", "2222", "-j", "REJECT"]);
    assert!(ok, "{out}");

    let (rc, first, first_secs) = playbook(dir.path(), &[]);
    assert_ne!(rc, 0, "a failed host makes the run fail:\n{first}");
    for name in &names[..2] {
        let line = recap(&first, name);
        assert!(
            line.contains("failed=0") && line.contains("unreachable=0") && !line.contains("changed=0"),
            "{line}\n{first}"
        );
    }
    let line = recap(&first, names[2]);
    assert!(line.contains("unreachable=1") || line.contains("failed=1"), "{line}\n{first}");
    for vps in &hosts[..2] {
        assert!(!vps.wait_port(22, 3), "port 22 still answers on a confirmed host");
        let status = expect(vps, 2222, "sudo clawguard status", 0);
        assert!(status.contains("No change is waiting for confirmation"), "{status}");
        expect(vps, 2222, "sudo clawguard secrets list | grep -q anthropic", 0);
        expect(vps, 2222, "sudo ufw status | grep -q 'Status: active'", 0);
    }
    // The bad host rolls itself back once its time is up: port 22 as before, nothing kept.
    let t = Instant::now();
    while !bad.exec(&["test", "-e", "/var/lib/clawguard/last-rollback"]).0 {
        assert!(t.elapsed().as_secs() < 120, "agent-3 did not roll itself back");
        std::thread::sleep(std::time::Duration::from_secs(1));
    }
    let status = expect(bad, 22, "sudo clawguard status", 0);
    assert!(status.contains("Last automatic rollback") && status.contains("not confirmed"), "{status}");
    expect(bad, 22, "test ! -e /etc/ssh/sshd_config.d/00-clawguard.conf", 0);

    // A second run over the two good hosts: nothing changes.
    let (rc, second, second_secs) = playbook(dir.path(), &["--limit", "agent-1,agent-2"]);
    assert_eq!(rc, 0, "{second}");
    for name in &names[..2] {
        let line = recap(&second, name);
        assert!(line.contains("changed=0") && line.contains("failed=0"), "{line}\n{second}");
    }

    // A move someone applied by hand and has not confirmed is not the role's to confirm,
    // even when the role's answers now say the same: the role plans nothing, applies
    // nothing, and leaves the proof to a person (or the watchdog).
    expect(
        &hosts[1],
        2222,
        "printf '%s\\n' 'version = 1' \"skip = ['sandbox', 'egress', 'backup']\" '[ssh]' 'port = 2233' > /tmp/a.toml && sudo clawguard apply --answers /tmp/a.toml --yes --confirm-timeout 900",
        0,
    );
    let inventory = fs::read_to_string(dir.path().join("inventory.yml")).unwrap();
    assert_eq!(inventory.matches("        port = 2222\n").count(), 1, "agent-2's inline answers: {inventory}");
    fs::write(dir.path().join("inventory.yml"), inventory.replace("        port = 2222\n", "        port = 2233\n"))
        .unwrap();
    let (rc, pending, _) = playbook(dir.path(), &["--limit", "agent-2"]);
    assert_eq!(rc, 0, "{pending}");
    assert!(recap(&pending, "agent-2").contains("changed=0"), "{pending}");
    let status = expect(&hosts[1], 2222, "sudo clawguard status", 0);
    assert!(
        !status.contains("No change is waiting for confirmation"),
        "the role confirmed a move it did not make:\n{status}"
    );

    // --check --diff on a host whose answers changed: the plan as the diff, nothing written.
    fs::write(
        dir.path().join("answers/agent-1.toml"),
        "version = 1\nskip = [\"sandbox\", \"egress\", \"backup\"]\n[ssh]\nport = 2222\n[fail2ban]\nmaxretry = 7\n",
    )
    .unwrap();
    let jail = expect(&hosts[0], 2222, "sudo cat /etc/fail2ban/jail.d/zz-clawguard.local", 0);
    let (rc, check, check_secs) = playbook(dir.path(), &["--limit", "agent-1", "--check", "--diff"]);
    assert_eq!(rc, 0, "{check}");
    assert!(check.contains("+maxretry = 7") || check.contains("maxretry = 7"), "the plan is not shown:\n{check}");
    assert!(recap(&check, "agent-1").contains("changed=1"), "{check}");
    assert_eq!(expect(&hosts[0], 2222, "sudo cat /etc/fail2ban/jail.d/zz-clawguard.local", 0), jail, "--check wrote");

    // The bad host, once its provider lets the port in, is hardened by the next run.
    let (ok, out) = bad.hostns(&["iptables", "-D", "OUTPUT", "-p", "tcp", "--dport", "2222", "-j", "REJECT"]);
    assert!(ok, "{out}");
    let (rc, third, _) = playbook(dir.path(), &["--limit", "agent-3"]);
    assert_eq!(rc, 0, "{third}");
    assert!(!bad.wait_port(22, 3), "agent-3 still answers on 22 after its confirmed run");

    // The wall times, for the notes (a passing test's output is not shown).
    let figures = format!(
        "ansible: first run (3 hosts, one failing) {first_secs:.1} s; second run (2 hosts) {second_secs:.1} s; --check --diff (1 host) {check_secs:.1} s\n"
    );
    let out = repo("target/test-figures");
    fs::create_dir_all(&out).unwrap();
    fs::write(out.join("ansible.txt"), &figures).unwrap();
    eprint!("{figures}");
}
