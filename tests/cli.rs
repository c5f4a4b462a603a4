//! The binary as a user runs it: exit codes, error messages for bad answers (and that
//! nothing is written then), `render`, `--help`.

mod common;

use common::cli::run;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn text(o: &Output) -> (String, String) {
    (String::from_utf8_lossy(&o.stdout).into_owned(), String::from_utf8_lossy(&o.stderr).into_owned())
}

/// Each class of bad input: (answers text, the field the error must name, a piece of the
/// bad value or the hint the error must show).
const BAD: &[(&str, &str, &str)] = &[
    ("[ssh]\nport = 0", "ssh.port", "from 1 to 65535"),
    ("[ssh]\nport = 65536", "ssh.port", "65536"),
    ("[ssh]\nport = \"22a\"", "ssh.port", "\"22a\""),
    ("[ssh]\nallowed_users = [\"ad\\nmin\"]", "ssh.allowed_users[0]", "\"ad\\nmin\""),
    ("[ssh]\nallowed_users = [\"ad min\"]", "ssh.allowed_users[0]", "\"ad min\""),
    ("[ssh]\nallowed_users = [\"ad\\\"min\"]", "ssh.allowed_users[0]", "login name"),
    ("[ssh]\nallowed_users = [\"-oProxyCommand\"]", "ssh.allowed_users[0]", "\"-oProxyCommand\""),
    ("[egress]\nallowed_hosts = [\"http://x.com\"]", "egress.allowed_hosts[0]", "URL"),
    ("[egress]\nallowed_hosts = [\"*.x.com\"]", "egress.allowed_hosts[0]", "`.x.com`"),
    ("[egress]\nallowed_hosts = [\"a b\"]", "egress.allowed_hosts[0]", "\"a b\""),
    ("[egress]\nallowed_hosts = [\"10.1.2.3\"]", "egress.allowed_hosts[0]", "IP address"),
    ("[egress]\nallowed_hosts = [\"x.com\\nhttp_access allow all\"]", "egress.allowed_hosts[0]", "not a host name"),
    (
        "[egress]\nallowed_hosts = [\".example.com\", \"sub.example.com\"]",
        "egress.allowed_hosts[1]",
        "covered by `.example.com`",
    ),
    ("[backup]\ndestination = \"/srv/backup\"", "backup.destination", "allow_same_machine"),
    ("[backup]\ndestination = \"sftp:me@localhost:/backup\"", "backup.destination", "same machine"),
    ("[ssh]\nprot = 2222", "ssh.prot", "unknown field"),
    ("[monitoring]\nalert_webhook = \"https://x.example/a\\nb\"", "monitoring.alert_webhook", "https://"),
    ("[sandbox]\nworkspace = \"/srv/work space\"", "sandbox.workspace", "absolute path"),
    ("[sandbox]\nmemory = \"2\"", "sandbox.memory", "no unit"),
    // Mounts that would hand the agent the host, the engine, clawguard's own secrets or its
    // allow-list (however the path is spelled).
    ("[sandbox]\nworkspace = \"/\"", "sandbox.workspace", "the whole host"),
    ("[sandbox]\nstate_dir = \"/var/run\"", "sandbox.state_dir", "/var/run"),
    ("[sandbox]\nstate_dir = \"/run/docker.sock\"", "sandbox.state_dir", "/run/docker.sock"),
    ("[sandbox]\nconfig_dir = \"/etc/clawguard/vault\"", "sandbox.config_dir", "/etc/clawguard"),
    ("[sandbox]\nconfig_dir = \"/etc\"", "sandbox.config_dir", "/etc/clawguard"),
    ("[sandbox]\nstate_dir = \"/var/lib\"", "sandbox.state_dir", "which the agent must never reach"),
    ("[sandbox]\nworkspace = \"/opt/clawguard/agent/ws\"", "sandbox.workspace", "compose project"),
    ("[sandbox]\nworkspace = \"//etc/./cron.d/\"", "sandbox.workspace", "`/etc/cron.d`"),
    ("[monitoring]\nlog_dir = \"/root/logs\"", "monitoring.log_dir", "/root"),
    (
        "[monitoring]\nalert_webhook = \"http://localhost@evil.example/x\"",
        "monitoring.alert_webhook",
        "user name or password",
    ),
    (
        "[monitoring]\nalert_webhook = \"http://127.0.0.1.evil.example/x\"",
        "monitoring.alert_webhook",
        "plain http to another machine",
    ),
];

#[test]
fn bad_answers_are_refused_with_the_field_named_and_nothing_written() {
    let root = common::fixture_root("debian12-cloud");
    let before = common::fingerprint(root.path());
    let work = tempfile::tempdir().unwrap();
    for (i, (body, field, needle)) in BAD.iter().enumerate() {
        let answers = work.path().join(format!("bad{i}.toml"));
        fs::write(&answers, format!("version = 1\n{body}\n")).unwrap();
        let a = answers.to_str().unwrap();
        let r = root.path().to_str().unwrap();

        let o = run(&["plan", "--answers", a, "--root", r]);
        let (out, err) = text(&o);
        assert_eq!(o.status.code(), Some(1), "plan accepted {body:?}\n{out}\n{err}");
        assert!(err.contains(&format!("`{field}`")), "{body:?}: error does not name `{field}`: {err}");
        assert!(err.contains(needle), "{body:?}: error lacks {needle:?}: {err}");
        assert!(out.is_empty(), "{body:?}: plan printed something before failing: {out}");

        let dest = work.path().join(format!("out{i}"));
        let o = run(&["render", "--answers", a, "--root", r, "--out", dest.to_str().unwrap()]);
        assert_eq!(o.status.code(), Some(1), "render accepted {body:?}");
        assert!(!dest.exists(), "render wrote {dest:?} for bad answers {body:?}");
    }
    assert_eq!(before, common::fingerprint(root.path()), "the target root changed");
}

#[test]
fn a_backup_on_this_machine_is_accepted_only_with_the_flag_and_a_loud_warning() {
    let root = common::fixture_root("debian12-cloud");
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[backup]\ndestination = \"/srv/backup\"\nallow_same_machine = true\n").unwrap();
    let o = run(&["plan", "--answers", answers.to_str().unwrap(), "--root", root.path().to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(out.contains("DANGER: BACKUPS ON THIS SAME MACHINE"), "{out}");
}

#[test]
fn plan_exits_2_with_diffs_and_writes_nothing() {
    let root = common::fixture_root("debian12-cloud");
    let before = common::fingerprint(root.path());
    let o = run(&["plan", "--root", root.path().to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    for layer in ["== 1. Agent sandbox ==", "== 3. SSH ==", "== 7. Backup and recovery =="] {
        assert!(out.contains(layer), "{layer} missing");
    }
    assert!(out.contains("+++ /etc/ssh/sshd_config.d/00-clawguard.conf") && out.contains("+Port 2222"), "{out}");
    assert!(out.contains("run: ufw limit 2222/tcp"), "{out}");
    assert!(!out.contains("\x1b["), "colour codes with NO_COLOR");
    assert_eq!(before, common::fingerprint(root.path()));
}

/// Lays the rendered files and the matching ufw state onto a root, as an apply would.
fn harden(root: &Path) {
    let o = run(&["render", "--root", root.to_str().unwrap(), "--out", root.to_str().unwrap()]);
    assert!(o.status.success(), "{:?}", text(&o));
    common::fake_tools(root);
    fs::create_dir_all(root.join("etc/ufw")).unwrap();
    fs::create_dir_all(root.join("etc/default")).unwrap();
    fs::write(root.join("etc/ufw/ufw.conf"), "ENABLED=yes\nLOGLEVEL=low\n").unwrap();
    fs::write(
        root.join("etc/default/ufw"),
        "IPV6=yes\nDEFAULT_INPUT_POLICY=\"DROP\"\nDEFAULT_OUTPUT_POLICY=\"ACCEPT\"\n",
    )
    .unwrap();
    let comment = "636c617767756172643a20535348"; // "clawguard: SSH"
    fs::write(
        root.join("etc/ufw/user.rules"),
        format!("### tuple ### limit tcp 2222 0.0.0.0/0 any 0.0.0.0/0 in comment={comment}\n"),
    )
    .unwrap();
    fs::write(
        root.join("etc/ufw/user6.rules"),
        format!("### tuple ### limit tcp 2222 ::/0 any ::/0 in comment={comment}\n"),
    )
    .unwrap();
}

#[test]
fn plan_exits_0_when_the_host_already_matches_and_2_after_a_change() {
    let root = common::fixture_root("debian12-cloud");
    harden(root.path());
    let r = root.path().to_str().unwrap();
    let o = run(&["plan", "--root", r]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}");
    assert!(out.contains("No changes"), "{out}");

    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    fs::write(&answers, "version = 1\n[ssh]\nport = 2200\n[firewall]\nextra_ports = [443]\n").unwrap();
    let o = run(&["plan", "--root", r, "--answers", answers.to_str().unwrap()]);
    let (out, _) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}");
    assert!(out.contains("-Port 2222") && out.contains("+Port 2200"), "{out}");
    assert!(!out.contains("ufw delete"), "the current port must stay open until the move is confirmed: {out}");
    assert!(out.contains("run: ufw limit 2200/tcp") && out.contains("run: ufw allow 443/tcp"), "{out}");
    assert!(out.contains("run: systemctl reload ssh"), "{out}");
    assert!(!out.contains("ufw --force enable"), "ufw is already on: {out}");
}

#[test]
fn stale_clawguard_ufw_rules_are_removed_others_are_left_alone() {
    let root = common::fixture_root("debian12-cloud");
    harden(root.path());
    let rules = root.path().join("etc/ufw/user.rules");
    let mut text_rules = fs::read_to_string(&rules).unwrap();
    text_rules.push_str(
        "### tuple ### allow tcp 8443 0.0.0.0/0 any 0.0.0.0/0 in comment=636c617767756172643a20657874726120706f7274\n",
    );
    text_rules.push_str("### tuple ### allow tcp 9000 0.0.0.0/0 any 0.0.0.0/0 in\n");
    fs::write(&rules, text_rules).unwrap();
    let (out, _) = text(&run(&["plan", "--root", root.path().to_str().unwrap()]));
    assert!(out.contains("run: ufw delete allow 8443/tcp"), "{out}");
    assert!(!out.contains("9000"), "a rule clawguard did not add was touched: {out}");
}

#[test]
fn render_writes_every_file_under_out_only() {
    let root = common::fixture_root("ubuntu2404-socket");
    let before = common::fingerprint(root.path());
    let out = tempfile::tempdir().unwrap();
    let answers = common::fixtures().join("answers/rest-backup.toml");
    let o = run(&[
        "render",
        "--root",
        root.path().to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
        "--answers",
        answers.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{:?}", text(&o));
    let conf = fs::read_to_string(out.path().join("etc/ssh/sshd_config.d/00-clawguard.conf")).unwrap();
    assert!(conf.contains("AllowUsers debian ops"), "{conf}");
    use std::os::unix::fs::PermissionsExt;
    // Files keep the plan's modes: backup.env (it may hold a repository's credentials) 600.
    let mode = fs::metadata(out.path().join("etc/clawguard/backup.env")).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(out.path().join("opt/clawguard/agent/squid.conf").exists());
    assert_eq!(before, common::fingerprint(root.path()));
}

#[test]
fn render_refuses_the_system_root_and_plan_a_missing_root() {
    let o = run(&["render", "--out", "/"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("refusing to render into /"));
    let o = run(&["plan", "--root", "/nonexistent/clawguard-root"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("--root DIR"), "{}", text(&o).1);
    let o = run(&["plan", "--answers", "/nonexistent/answers.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("cannot read the answers file"), "{}", text(&o).1);
}

#[test]
fn help_explains_each_command() {
    let (out, _) = text(&run(&["--help"]));
    for cmd in ["plan", "render", "example"] {
        assert!(out.contains(cmd), "{out}");
    }
    let (out, _) = text(&run(&["plan", "--help"]));
    assert!(out.contains("Exit status") && out.contains("--validate") && out.contains("--root"), "{out}");
    let (out, _) = text(&run(&["render", "--help"]));
    assert!(out.contains("--out"), "{out}");
}

#[test]
fn plan_validate_reports_each_checker() {
    let root = common::fixture_root("debian12-cloud");
    let o = run(&["plan", "--validate", "--root", root.path().to_str().unwrap()]);
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(2), "{out}\n{err}");
    for what in [
        "sshd -t accepts",
        "squid -k parse: no warnings",
        "fail2ban-client -t accepts",
        "config -q accepts",
        "logrotate --debug accepts",
    ] {
        assert!(out.contains(what), "{what} missing:\n{out}");
    }
}

#[test]
fn plan_validate_fails_loudly_when_a_checker_is_missing() {
    let root = common::fixture_root("debian12-cloud");
    // A PATH with nothing on it: every checker is missing.
    let empty = tempfile::tempdir().unwrap();
    let o = common::cli::command(&[])
        .args(["plan", "--validate", "--root", root.path().to_str().unwrap()])
        .env("PATH", empty.path())
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(1), "{out}");
    assert!(out.contains("FAIL") && out.contains("is not installed"), "{out}");
    assert!(err.contains("check(s) failed"), "{err}");
}

#[test]
fn example_prints_the_documented_defaults() {
    let (out, _) = text(&run(&["example"]));
    assert!(out.contains("version = 1") && out.contains("port = 2222"), "{out}");
}

#[test]
fn secrets_are_stored_encrypted_listed_by_name_and_unlocked_as_files() {
    use std::io::Write as _;
    use std::os::unix::fs::PermissionsExt;
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let value = "sk-live-0123456789abcdef";
    let mut child = common::cli::command(&[])
        .args(["secrets", "--root", r, "set", "openai"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(format!("{value}\n").as_bytes()).unwrap();
    assert!(child.wait().unwrap().success());
    let sealed = fs::read(root.path().join("etc/clawguard/vault/openai.age")).unwrap();
    assert!(!String::from_utf8_lossy(&sealed).contains(value), "stored in plaintext");
    let identity = root.path().join("var/lib/clawguard/vault-identity.txt");
    assert_eq!(fs::metadata(&identity).unwrap().permissions().mode() & 0o777, 0o600);

    let (out, _) = text(&run(&["secrets", "--root", r, "list"]));
    assert!(out.contains("openai") && out.contains("set 0 day(s) ago"), "{out}");
    assert!(out.contains("anthropic") && out.contains("not set"), "{out}");
    assert!(!out.contains(value));

    // The plan now hands the key to the agent; the others are still missing.
    let (out, _) = text(&run(&["plan", "--root", r]));
    assert!(out.contains(r#"secrets: ["openai","openclaw-gateway"]"#), "{out}");
    assert!(out.contains("No key in the vault yet for anthropic, gmail, slack"), "{out}");
    assert!(!out.contains(value));

    let o = run(&["secrets", "--root", r, "unlock"]);
    assert!(o.status.success(), "{:?}", text(&o));
    let file = root.path().join("run/clawguard/secrets/openai");
    assert_eq!(fs::read_to_string(&file).unwrap(), value);
    assert_eq!(fs::metadata(&file).unwrap().permissions().mode() & 0o777, 0o400);

    let o = run(&["secrets", "--root", r, "rm", "Bad Name"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(text(&o).1.contains("`Bad Name`"), "{:?}", text(&o));
    assert!(run(&["secrets", "--root", r, "rm", "openai"]).status.success());
    assert!(!root.path().join("etc/clawguard/vault/openai.age").exists());
}

#[test]
fn plan_without_root_does_not_mistake_unreadable_keys_for_missing_ones() {
    use std::os::unix::fs::PermissionsExt;
    let root = common::fixture_root("debian12-cloud");
    // Readable by anyone, except the user's ~/.ssh (0700, as on a real host).
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    fs::set_permissions(root.path().join("home/debian"), fs::Permissions::from_mode(0o755)).unwrap();
    let (code, out) = as_nobody(root.path(), &["plan"]);
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("cannot be read without root"), "{out}");
    assert!(!out.contains("nobody could log in"), "an unreadable key file was taken for no key:\n{out}");
    assert!(out.contains("+AllowUsers debian"), "{out}");
}

#[test]
fn looking_needs_no_root_after_an_apply_either() {
    use std::os::unix::fs::PermissionsExt;
    let root = common::fixture_root("debian12-cloud");
    common::fake_tools(root.path());
    fs::set_permissions(root.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // ufw keeps its rules root's own, as on a real host.
    fs::create_dir_all(root.path().join("etc/ufw")).unwrap();
    for f in ["user.rules", "user6.rules"] {
        fs::write(root.path().join("etc/ufw").join(f), "*filter\nCOMMIT\n").unwrap();
        fs::set_permissions(root.path().join("etc/ufw").join(f), fs::Permissions::from_mode(0o640)).unwrap();
    }
    let o = common::cli::command(&[])
        .args(["apply", "--yes", "--root"])
        .arg(root.path())
        .env_remove("SSH_CONNECTION")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o).1);
    let as_nobody = |args: &[&str]| as_nobody(root.path(), args);
    let (code, out) = as_nobody(&["plan"]);
    assert!(matches!(code, Some(0 | 2)), "{out}");
    assert!(!out.contains("error:"), "{out}");
    assert!(out.contains("ufw's rules cannot be read without root"), "unknown, said so:\n{out}");
    assert!(out.contains("/etc/clawguard/credentials.toml (unchanged)"), "{out}");
    let (code, out) = as_nobody(&["check", "--no-alert"]);
    assert!(matches!(code, Some(0 | 3)), "{out}");
    assert!(!out.contains("error:") && !out.contains("records under"), "{out}");
    assert!(!out.contains("is missing"), "an unreadable file is not a missing one:\n{out}");
    let (code, out) = as_nobody(&["status"]);
    assert_eq!(code, Some(0), "{out}");
    // An answers file from before 0.2 (mode 600) gets a hint that helps.
    let answers = root.path().join("etc/clawguard/answers.toml");
    fs::set_permissions(&answers, fs::Permissions::from_mode(0o600)).unwrap();
    let (code, out) = as_nobody(&["plan"]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("Run it with sudo, or make the file readable: it holds no secrets"), "{out}");
}

/// Runs clawguard with `args --root ROOT` as the user nobody (no root, no groups): the
/// exit code and stdout+stderr.
fn as_nobody(root: &std::path::Path, args: &[&str]) -> (Option<i32>, String) {
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", common::bin()])
        .args(args)
        .arg("--root")
        .arg(root)
        .env_remove("SSH_CONNECTION")
        .env("NO_COLOR", "1")
        .output()
        .expect("setpriv (util-linux) is missing");
    let (out, err) = text(&o);
    (o.status.code(), format!("{out}{err}"))
}

#[test]
fn secrets_import_moves_a_plaintext_env_into_the_vault_all_or_nothing() {
    let env = "# OpenClaw\nexport OPENAI_API_KEY=\"sk-import-1\"\nANTHROPIC_API_KEY='sk-ant-import-2'\nMY_TOOL_KEY=tool-import-3\n";
    let values = ["sk-import-1", "sk-ant-import-2", "tool-import-3"];
    let setup = || {
        let root = common::fixture_root("debian12-cloud");
        let dir = root.path().join("home/debian/.openclaw");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join(".env"), env).unwrap();
        root
    };
    let env_path = |root: &Path| root.join("home/debian/.openclaw/.env");

    // The second key's vault file is a directory (it can be neither read nor replaced):
    // the .env, the vault and the answers stay as they were. (The undo of keys already
    // written is pinned in vault.rs.)
    let root = setup();
    let r = root.path().to_str().unwrap();
    fs::create_dir_all(root.path().join("etc/clawguard/vault/anthropic.age")).unwrap();
    let o = run(&["secrets", "import", "--yes", "--root", r]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}{err}");
    assert_eq!(fs::read_to_string(env_path(root.path())).unwrap(), env);
    assert!(!root.path().join("etc/clawguard/vault/openai.age").exists(), "a key of the failed import stayed");
    assert!(!root.path().join("etc/clawguard/answers.toml").exists());
    // A line that is not NAME=value, or a link instead of the file: refused, nothing written.
    let root = setup();
    let r = root.path().to_str().unwrap();
    fs::write(env_path(root.path()), format!("{env}sk-stray-value\n")).unwrap();
    let (out, err) = text(&run(&["secrets", "import", "--yes", "--root", r]));
    assert!(err.contains("line 5 is not NAME=value") && !err.contains("sk-stray-value"), "{out}{err}");
    assert!(!root.path().join("etc/clawguard/vault").exists());
    fs::remove_file(env_path(root.path())).unwrap();
    fs::write(root.path().join("elsewhere"), env).unwrap();
    std::os::unix::fs::symlink("/elsewhere", env_path(root.path())).unwrap();
    let o = run(&["secrets", "import", "--yes", "--root", r, "/home/debian/.openclaw/.env"]);
    assert!(!o.status.success() && text(&o).1.contains("cannot be read"), "{:?}", text(&o));
    assert_eq!(fs::read_to_string(root.path().join("elsewhere")).unwrap(), env);

    // The whole way: found by itself, every key in the vault, the services in the
    // answers, the plaintext gone; no value ever printed.
    let root = setup();
    let r = root.path().to_str().unwrap();
    let o = run(&["secrets", "import", "--yes", "--root", r]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("OPENAI_API_KEY") && out.contains("→ openai") && out.contains("→ my-tool-key"), "{out}");
    for v in values {
        assert!(!out.contains(v) && !err.contains(v), "a value was printed: {out}{err}");
    }
    assert!(!env_path(root.path()).exists(), "the plaintext .env is still there");
    let answers = fs::read_to_string(root.path().join("etc/clawguard/answers.toml")).unwrap();
    assert!(answers.contains("\"my-tool-key\""), "{answers}");
    let o = run(&["secrets", "unlock", "--root", r]);
    assert!(o.status.success(), "{:?}", text(&o));
    for (name, v) in ["openai", "anthropic", "my-tool-key"].iter().zip(values) {
        assert_eq!(fs::read_to_string(root.path().join("run/clawguard/secrets").join(name)).unwrap(), v);
    }

    // The user's own answers file is edited, not rewritten: comments and order stay, the
    // services already listed are not listed twice.
    let root = setup();
    let r = root.path().to_str().unwrap();
    let mine = "# my server\nversion = 1\n\n[ssh]\nport = 2200 # the provider allows it\n\n[credentials]\n# what the agent uses\nservices = [\"openai\"]\n";
    fs::create_dir_all(root.path().join("etc/clawguard")).unwrap();
    fs::write(root.path().join("etc/clawguard/answers.toml"), mine).unwrap();
    let o = run(&["secrets", "import", "--yes", "--root", r]);
    assert!(o.status.success(), "{:?}", text(&o));
    let edited = fs::read_to_string(root.path().join("etc/clawguard/answers.toml")).unwrap();
    assert_eq!(
        edited,
        mine.replace("services = [\"openai\"]", "services = [\"openai\", \"anthropic\", \"my-tool-key\"]"),
        "{edited}"
    );
}

/// The user (or the agent running as them) controls their home: a `~/.openclaw` that is a
/// link to another place is not followed, by the probe or by `secrets import` — its keys
/// would go into the vault, to the agent, and the file be wiped. A FIFO at `.env` is
/// refused at once. A real directory is the positive control.
#[test]
fn secrets_import_follows_no_link_the_user_owns_and_waits_on_no_fifo() {
    let env = "OPENAI_API_KEY=sk-from-elsewhere\n";
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let elsewhere = root.path().join("root/.secret");
    fs::create_dir_all(&elsewhere).unwrap();
    fs::write(elsewhere.join(".env"), env).unwrap();
    let link = root.path().join("home/debian/.openclaw");
    std::os::unix::fs::symlink("/root/.secret", &link).unwrap();
    std::os::unix::fs::lchown(&link, Some(1000), Some(1000)).unwrap();
    for args in [
        &["secrets", "import", "--yes", "--root", r][..],
        &["secrets", "import", "--yes", "--root", r, "/home/debian/.openclaw/.env"],
    ] {
        let o = run(args);
        let (out, err) = text(&o);
        assert!(!o.status.success(), "{out}{err}");
        assert!(
            err.contains("no OpenClaw .env was found")
                || err.contains("/home/debian/.openclaw is a symbolic link that uid 1000 owns"),
            "{out}{err}"
        );
        assert_eq!(fs::read_to_string(elsewhere.join(".env")).unwrap(), env, "the file the link points to was touched");
        assert!(!root.path().join("etc/clawguard/vault").exists(), "a key reached the vault");
    }

    fs::remove_file(&link).unwrap();
    fs::create_dir_all(&link).unwrap();
    let fifo = std::ffi::CString::new(link.join(".env").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let o = Command::new("timeout")
        .args(["20", common::bin(), "secrets", "import", "--yes", "--root", r, "/home/debian/.openclaw/.env"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(1), "{:?}", text(&o));
    assert!(text(&o).1.contains("is a FIFO"), "{:?}", text(&o));

    // Control: the same file in the user's own directory is imported.
    fs::remove_file(link.join(".env")).unwrap();
    fs::write(link.join(".env"), env).unwrap();
    let o = run(&["secrets", "import", "--yes", "--root", r]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(root.path().join("etc/clawguard/vault/openai.age").exists());
}

#[test]
fn secrets_rotate_walks_the_four_steps_with_a_way_back() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let with_stdin = |args: &[&str], input: &str| {
        use std::io::Write;
        let mut child = common::cli::command(&[])
            .args(args)
            .env_remove("SSH_CONNECTION")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    };
    let unlocked = || {
        assert!(run(&["secrets", "unlock", "--root", r]).status.success());
        fs::read_to_string(root.path().join("run/clawguard/secrets/openai")).unwrap()
    };
    let o = with_stdin(&["secrets", "rotate", "openai", "--root", r], "sk-new\n");
    assert!(!o.status.success() && text(&o).1.contains("no key named `openai`"), "{:?}", text(&o));
    assert!(with_stdin(&["secrets", "set", "openai", "--root", r], "sk-old\n").status.success());
    // The same value again (a fleet run sets every key each time) rewrites nothing.
    let sealed = root.path().join("etc/clawguard/vault/openai.age");
    let before = fs::read(&sealed).unwrap();
    let o = with_stdin(&["secrets", "set", "openai", "--root", r], "sk-old\n");
    assert!(o.status.success() && text(&o).0.contains("unchanged"), "{:?}", text(&o));
    assert_eq!(fs::read(&sealed).unwrap(), before, "the same key was sealed again");

    // Steps 1–3: where to make it and how narrow, stored, handed to the agent.
    let o = with_stdin(&["secrets", "rotate", "openai", "--root", r], "sk-new\n");
    let (out, err) = text(&o);
    assert!(o.status.success(), "{out}{err}");
    assert!(out.contains("https://platform.openai.com/api-keys") && out.contains("budget cap"), "{out}");
    assert!(out.contains("--back") && out.contains("--done") && !out.contains("sk-new"), "{out}");
    assert_eq!(unlocked(), "sk-new");
    let (list, _) = text(&run(&["secrets", "list", "--root", r]));
    assert!(list.contains("ROTATING") && !list.contains("sk-"), "{list}");
    // The way back, then through to the end.
    assert!(run(&["secrets", "rotate", "openai", "--back", "--root", r]).status.success());
    assert_eq!(unlocked(), "sk-old");
    assert!(with_stdin(&["secrets", "rotate", "openai", "--root", r], "sk-new\n").status.success());
    let o = run(&["secrets", "rotate", "openai", "--done", "--root", r]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert_eq!(unlocked(), "sk-new");
    let (list, _) = text(&run(&["secrets", "list", "--root", r]));
    assert!(!list.contains("ROTATING"), "{list}");
    assert!(!run(&["secrets", "rotate", "openai", "--done", "--root", r]).status.success());

    // The vault's own identity: every key re-sealed, still opening; the kit must be remade.
    let identity = || fs::read_to_string(root.path().join("var/lib/clawguard/vault-identity.txt")).unwrap();
    let before = identity();
    let o = run(&["secrets", "rotate-identity", "--root", r]);
    let (out, err) = text(&o);
    assert!(o.status.success() && out.contains("Re-sealed 1 key(s)") && out.contains("backup kit"), "{out}{err}");
    assert_ne!(identity(), before);
    assert_eq!(unlocked(), "sk-new");
}

#[test]
fn the_manual_and_every_shell_completion_name_every_command_help_lists() {
    let bin = Path::new(common::bin());
    let mut commands: Vec<Vec<String>> = common::help_commands(bin, &[]).into_iter().map(|c| vec![c]).collect();
    for group in ["secrets", "backup", "export"] {
        commands.extend(common::help_commands(bin, &[group]).into_iter().map(|c| vec![group.to_owned(), c]));
    }
    assert!(commands.len() > 20, "fewer commands than expected: {commands:?}");
    let pages = tempfile::tempdir().unwrap();
    let o = run(&["man", "--out", pages.path().to_str().unwrap()]);
    assert!(o.status.success(), "{:?}", text(&o));
    let (main_page, _) = text(&run(&["man"]));
    assert!(main_page.contains(".TH clawguard 1"), "{main_page}");
    let completions: Vec<(&str, String)> = ["bash", "zsh", "fish"]
        .iter()
        .map(|shell| {
            let o = run(&["completions", shell]);
            assert!(o.status.success(), "{shell}: {:?}", text(&o));
            (*shell, text(&o).0)
        })
        .collect();
    for path in &commands {
        let page = format!("clawguard-{}.1", path.join("-"));
        let body = fs::read_to_string(pages.path().join(&page)).unwrap_or_else(|e| panic!("no man page {page}: {e}"));
        assert!(body.contains(".SH NAME"), "{page}:\n{body}");
        let name = path.last().unwrap();
        if path.len() == 1 {
            let roff = format!("clawguard\\-{}(1)", name.replace('-', "\\-"));
            assert!(main_page.contains(&roff), "clawguard(1) does not list {roff}:\n{main_page}");
        }
        for (shell, script) in &completions {
            let named = match *shell {
                // fish: `-a "NAME"` offered after the parent command.
                "fish" => script.contains(&format!("-a \"{name}\"")),
                // zsh: `'NAME:description'`; bash: the word in a `opts="…"` list.
                "zsh" => script.contains(&format!("'{name}:")),
                _ => script.contains(&format!(" {name} ")) || script.contains(&format!(" {name}\"")),
            };
            assert!(named, "the {shell} completion does not offer `{}`", path.join(" "));
        }
    }
    // Hidden plumbing is in neither.
    assert!(!pages.path().join("clawguard-watchdog.1").exists());
    assert!(!main_page.contains("watchdog"));
}

/// `incident` copies what the agent wrote as data: a link in its log directory to the
/// host's shadow file is not followed (the archive has no password hash), a FIFO there is
/// not waited on, and a file name with escape sequences reaches the terminal made visible.
/// The agent's real log is collected (the positive control).
#[test]
fn incident_copies_no_link_and_waits_on_no_fifo_in_the_agents_log_directory() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    fs::write(root.path().join("etc/shadow"), "root:$6$secrethash:19000:0:99999:7:::\n").unwrap();
    let logs = root.path().join("var/log/clawguard-agent");
    fs::create_dir_all(&logs).unwrap();
    fs::write(logs.join("agent.log"), "the agent's own log line\n").unwrap();
    std::os::unix::fs::symlink("/etc/shadow", logs.join("app.log")).unwrap();
    std::os::unix::fs::lchown(logs.join("app.log"), Some(64000), Some(64000)).unwrap();
    // The agent's keys, unlocked for it: containment takes them away (the vault keeps them).
    let unlocked = root.path().join("run/clawguard/secrets");
    fs::create_dir_all(&unlocked).unwrap();
    fs::write(unlocked.join("openai"), "sk-unlocked").unwrap();
    let fifo = std::ffi::CString::new(logs.join("pipe\u{1b}[2J.log").to_str().unwrap()).unwrap();
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o600) }, 0);
    let o = Command::new("timeout")
        .args(["60", common::bin(), "incident", "--yes", "--root", r])
        .env("NO_COLOR", "1")
        // Run through sudo by `debian`: the archive is handed to them.
        .env("SUDO_UID", "1000")
        .env("SUDO_GID", "1000")
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert_eq!(o.status.code(), Some(0), "{out}{err}");
    let mine = fs::read_dir(root.path().join("home/debian"))
        .unwrap()
        .flatten()
        .find(|e| e.file_name().to_string_lossy().starts_with("clawguard-incident-"))
        .unwrap_or_else(|| panic!("no copy for the sudo user:\n{out}"));
    {
        use std::os::unix::fs::MetadataExt;
        let m = mine.metadata().unwrap();
        assert_eq!((m.uid(), m.mode() & 0o777), (1000, 0o600), "{out}");
    }
    assert!(out.contains("A copy is yours to take: /home/debian/clawguard-incident-"), "{out}");
    assert!(out.contains("not collected: /var/log/clawguard-agent/app.log") && out.contains("symbolic link"), "{out}");
    assert!(
        out.contains("not collected: /var/log/clawguard-agent/pipe\\u{1b}[2J.log") && out.contains("FIFO"),
        "{out}"
    );
    assert!(!out.contains('\u{1b}'), "a raw escape reached the terminal: {out:?}");
    assert!(out.contains("The 1 key(s) unlocked for the agent were removed from /run/clawguard/secrets"), "{out}");
    assert!(!unlocked.join("openai").exists(), "the unlocked key is still there");
    let archive = out.split_whitespace().find(|w| w.ends_with(".tar.gz")).expect("the archive's path").to_owned();
    let listing = Command::new("tar").args(["-xzOf", &archive]).output().unwrap();
    let all = String::from_utf8_lossy(&listing.stdout);
    assert!(all.contains("the agent's own log line"), "the agent's log was not collected");
    assert!(!all.contains("secrethash"), "the shadow file went into the evidence");
}

/// The agent's directory that is a link (to /etc here) is mounted where the link leads:
/// the plan refuses it on the place it really is, and nothing is written. The same
/// directory as a real one is the control.
#[test]
fn an_agent_directory_that_links_to_etc_is_refused_where_it_leads() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let (out, err) = text(&run(&["plan", "--no-color", "--root", r]));
    assert!(!out.contains("is a symbolic link to"), "control:\n{out}{err}");
    let state = root.path().join("srv/openclaw/state");
    fs::create_dir_all(state.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink("/etc", &state).unwrap();
    let before = common::fingerprint(root.path());
    let (out, err) = text(&run(&["plan", "--no-color", "--root", r]));
    assert!(
        out.contains("sandbox.state_dir `/srv/openclaw/state` is a symbolic link to `/etc`")
            && out.contains("which the agent must never reach"),
        "{out}{err}"
    );
    let o = run(&["apply", "--yes", "--root", r]);
    assert!(!o.status.success(), "{:?}", text(&o));
    assert!(
        text(&o).1.contains("is a symbolic link to `/etc`") && text(&o).1.contains("Nothing was changed"),
        "{:?}",
        text(&o)
    );
    assert_eq!(common::fingerprint(root.path()), before, "a refused apply wrote something");
}

/// clawguard's own keys (the alert bot, the backups' password) and the agent's keys are
/// separate namespaces: the agent's Telegram bot imported from its .env is its own
/// `telegram`, clawguard's alert bot is `clawguard-telegram`, and answers that list one of
/// clawguard's names for the agent are refused with what to do. Unlocked for the agent:
/// its key, never clawguard's.
#[test]
fn clawguards_own_keys_never_reach_the_agent() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    common::set_secret(root.path(), "clawguard-telegram", "111:clawguards-alert-bot");
    let dir = root.path().join("home/debian/.openclaw");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(".env"), "TELEGRAM_BOT_TOKEN=222:the-agents-bot\n").unwrap();
    let o = run(&["secrets", "import", "--yes", "--root", r]);
    assert!(o.status.success(), "{:?}", text(&o));
    assert!(text(&o).0.contains("→ telegram"), "{:?}", text(&o));
    let answers = fs::read_to_string(root.path().join("etc/clawguard/answers.toml")).unwrap();
    assert!(answers.contains("\"telegram\"") && !answers.contains("clawguard-telegram"), "{answers}");
    let o = run(&["secrets", "unlock", "--root", r]);
    assert!(o.status.success(), "{:?}", text(&o));
    let unlocked = root.path().join("run/clawguard/secrets");
    assert_eq!(fs::read_to_string(unlocked.join("telegram")).unwrap(), "222:the-agents-bot");
    assert!(!unlocked.join("clawguard-telegram").exists(), "clawguard's alert bot was handed to the agent");

    // Listing clawguard's name for the agent: refused, with what to do; nothing written.
    let bad = root.path().join("bad.toml");
    fs::write(&bad, "version = 1\n[credentials]\nservices = [\"openai\", \"clawguard-telegram\"]\n").unwrap();
    let before = common::fingerprint(root.path());
    let o = run(&["apply", "--yes", "--root", r, "--answers", bad.to_str().unwrap()]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "{out}{err}");
    assert!(err.contains("credentials.services") && err.contains("one of clawguard's own keys"), "{out}{err}");
    assert_eq!(common::fingerprint(root.path()), before, "a refused apply wrote something");
    // A variable that would land in clawguard's namespace is not imported.
    fs::write(dir.join(".env"), "CLAWGUARD_RESTIC=x\n").unwrap();
    let o = run(&["secrets", "import", "--yes", "--root", r]);
    assert!(!o.status.success() && text(&o).1.contains("one of clawguard's own keys"), "{:?}", text(&o));
}

/// A key a file on the target holds in plaintext never reaches a diff: not in `plan`, not
/// in the conflict an apply refuses; the plan says where it should go instead.
#[test]
fn keys_in_the_targets_files_are_masked_in_every_diff() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let config = root.path().join("srv/openclaw/config");
    fs::create_dir_all(&config).unwrap();
    let secret = "sk-live-plaintext-4242";
    fs::write(
        config.join("openclaw.json"),
        format!("{{\n  \"models\": {{ \"providers\": {{ \"openai\": {{ \"apiKey\": \"{secret}\" }} }} }}\n}}\n"),
    )
    .unwrap();
    let (out, err) = text(&run(&["plan", "--no-color", "--root", r]));
    assert!(!out.contains(secret) && !err.contains(secret), "a key reached the plan:\n{out}{err}");
    assert!(out.contains("\"apiKey\": \"<masked>\""), "{out}");
    assert!(out.contains("openclaw.json holds what looks like a key in plaintext"), "{out}");

    // Applied, then a key typed into a managed file by hand: the refused apply's conflict
    // diff masks it too.
    let o = run(&["apply", "--yes", "--root", r]);
    assert!(o.status.success(), "{:?}", text(&o));
    let managed = root.path().join("opt/clawguard/agent/agent-logging.env");
    let mut t = fs::read_to_string(&managed).unwrap();
    t.push_str(&format!("SLACK_BOT_TOKEN={secret}\n"));
    fs::write(&managed, t).unwrap();
    let answers = root.path().join("etc/clawguard/answers.toml");
    let a = fs::read_to_string(&answers).unwrap().replace("log_level = \"info\"", "log_level = \"debug\"");
    fs::write(&answers, a).unwrap();
    let o = run(&["apply", "--yes", "--root", r]);
    let (out, err) = text(&o);
    assert!(!o.status.success(), "the hand edit was not a conflict:\n{out}{err}");
    assert!(err.contains("agent-logging.env") && err.contains("SLACK_BOT_TOKEN=<masked>"), "{out}{err}");
    assert!(!out.contains(secret) && !err.contains(secret), "a key reached the conflict:\n{out}{err}");
}

/// A key limited with `from=` is the admin's way in only from those addresses: when the
/// admin's own address is not known (no SSH session), the plan says so instead of counting
/// it as a way in. With the admin's address known and allowed, nothing is said (control).
#[test]
fn a_from_limited_key_is_not_silently_the_way_in_when_the_address_is_unknown() {
    let root = common::fixture_root("debian12-cloud");
    let r = root.path().to_str().unwrap();
    let keys = root.path().join("home/debian/.ssh/authorized_keys");
    let original = fs::read_to_string(&keys).unwrap();
    let limited: String =
        original.lines().filter(|l| l.starts_with("ssh-")).map(|l| format!("from=\"10.0.0.0/8\" {l}\n")).collect();
    assert!(!limited.is_empty(), "{original}");
    fs::write(&keys, limited).unwrap();
    let (out, err) = text(&run(&["plan", "--no-color", "--root", r]));
    assert!(
        out.contains("`debian` can log in only with key(s) limited to from=\"10.0.0.0/8\"")
            && out.contains("not known here"),
        "{out}{err}"
    );
    let o = common::cli::command(&[])
        .args(["plan", "--no-color", "--root", r])
        .env("SSH_CONNECTION", "10.1.2.3 50000 10.0.0.5 22")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let (out, _) = text(&o);
    assert!(!out.contains("can log in only with key(s) limited"), "{out}");
}
