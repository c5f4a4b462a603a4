//! Answers that parse but would be dangerous, or merely huge: each refused (or rendered
//! harmless) with what to do, and the accepted neighbours as positive controls.

mod common;

use std::fs;
use std::process::Command;

use clawguard::answers::Answers;

fn parse(body: &str) -> Result<Answers, String> {
    Answers::parse(&format!("version = 1\n{body}\n"), "test").map_err(|e| e.to_string())
}

#[test]
fn a_refused_huge_value_is_not_echoed_back() {
    let huge = "a".repeat(1 << 20);
    for body in [
        format!("[monitoring]\nalert_webhook = \"http://{huge}\""),
        format!("[egress]\nallowed_hosts = [\"{huge}!\"]"),
        format!("[sandbox]\nworkspace = \"{huge}\""),
        format!("[ssh]\n{huge} = 1"),
        format!("[{huge}]\nport = 1"),
        format!("[ssh]\nport = \"{huge}\""),
        format!("[ssh]\nport = {huge}"),
    ] {
        let e = parse(&body).unwrap_err();
        assert!(e.len() < 2_000, "a {}-byte message", e.len());
        assert!(e.contains("characters)"), "{e}");
    }
}

#[test]
fn fifty_thousand_hosts_are_checked_and_an_overlap_among_them_found() {
    let hosts: Vec<String> = (0..50_000).map(|i| format!("\"h{i}.example.com\"")).collect();
    assert!(parse(&format!("[egress]\nallowed_hosts = [{}]", hosts.join(","))).is_ok());
    let mut with_overlap = hosts.clone();
    with_overlap.push("\".h4242.example.com\"".into());
    let e = parse(&format!("[egress]\nallowed_hosts = [{}]", with_overlap.join(","))).unwrap_err();
    assert!(e.contains("`h4242.example.com` is already covered by `.h4242.example.com`"), "{e}");
    let mut dup = hosts;
    dup.push("\"h7.example.com\"".into());
    assert!(parse(&format!("[egress]\nallowed_hosts = [{}]", dup.join(","))).unwrap_err().contains("listed twice"));
}

#[test]
fn webhooks_to_this_machine_may_be_plain_http_and_only_they() {
    for ok in [
        "http://127.0.0.1:9000/hook",
        "http://localhost/hook?x=1",
        "http://[::1]:8080/a",
        "https://hooks.example.com/a@b",
    ] {
        assert!(parse(&format!("[monitoring]\nalert_webhook = \"{ok}\"")).is_ok(), "{ok}");
    }
    for bad in [
        "http://localhost@evil.example/",
        "http://127.0.0.1:80@evil.example/",
        "http://localhost.evil.example/",
        "https://user:pw@hooks.example.com/",
    ] {
        assert!(parse(&format!("[monitoring]\nalert_webhook = \"{bad}\"")).is_err(), "{bad}");
    }
}

#[test]
fn the_agent_may_not_get_a_login_users_ssh_directory() {
    let root = common::fixture_root("debian12-cloud");
    let work = tempfile::tempdir().unwrap();
    let answers = work.path().join("a.toml");
    for (dir, refused) in
        [("/home/debian", true), ("/home", true), ("/home/debian/.ssh/x", true), ("/home/debian/agent", false)]
    {
        fs::write(&answers, format!("version = 1\n[sandbox]\nworkspace = \"{dir}\"\n")).unwrap();
        let o = common::cli::command(&[])
            .args(["apply", "--yes", "--root", root.path().to_str().unwrap(), "--answers", answers.to_str().unwrap()])
            .env_remove("SSH_CONNECTION")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
        assert_eq!(!o.status.success(), refused, "{dir}: {text}");
        if refused {
            assert!(text.contains("debian's ~/.ssh"), "{dir}: {text}");
        }
    }
}

/// compose expands `$VAR` and `${VAR}` from the environment of whoever runs it (root): no
/// answer may reach into it. Checked with the real docker-compose.
#[test]
fn no_answer_reaches_into_roots_environment_through_compose() {
    let a = parse(
        "[sandbox]\nprofile = \"generic\"\nimage = \"busybox:local\"\ncommand = [\"sh\", \"-c\", \"echo ${ROOT_SECRET} $ROOT_SECRET $$ROOT_SECRET\"]",
    )
    .unwrap();
    let root = common::fixture_root("debian12-cloud");
    let plan = clawguard::layers::plan(&a, &common::facts(root.path(), None)).unwrap();
    let compose = plan.files.iter().find(|f| f.path.ends_with("docker-compose.yml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    // The project's other files, which compose reads (its env files).
    let project = compose.path.rsplit_once('/').unwrap().0;
    for f in plan.files.iter().filter(|f| f.path.starts_with(project)) {
        fs::write(dir.path().join(f.path.rsplit_once('/').unwrap().1), &f.content).unwrap();
    }
    let file = dir.path().join("docker-compose.yml");
    let config = |text: &str| {
        fs::write(&file, text).unwrap();
        let o = Command::new("docker-compose")
            .args(["-f", file.to_str().unwrap(), "config"])
            .env("ROOT_SECRET", "LEAKED-FROM-ROOT")
            .output()
            .expect("docker-compose is installed (scripts/test installs it)");
        assert!(o.status.success(), "docker-compose config: {}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let out = config(&compose.content);
    assert!(!out.contains("LEAKED-FROM-ROOT"), "{out}");
    // `config` prints the value escaped again: `$$` for each literal `$`.
    assert!(
        out.contains("echo $${ROOT_SECRET} $$ROOT_SECRET $$$$ROOT_SECRET"),
        "the command is not kept as typed:\n{out}"
    );
    // positive control: the same file with the `$` unescaped does expand
    let out = config(&compose.content.replace("$$", "$"));
    assert!(out.contains("LEAKED-FROM-ROOT"), "{out}");
}
