//! `clawguard export cloud-init` as a fleet's admin uses it: user-data that cloud-init's
//! own schema check (Debian's cloud-init, `CLAWGUARD_CLOUD_INIT`, which `scripts/test`
//! unpacks) accepts, pinning the real package's SHA-256, and that — its files written as
//! cloud-init writes them, its apply run — gives a fresh root exactly the files `clawguard
//! apply` gives with the same answers.

mod common;

use common::cli::must;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;

fn cloud_init_tree() -> PathBuf {
    let tree = std::env::var_os("CLAWGUARD_CLOUD_INIT").map(PathBuf::from).expect(
        "CLAWGUARD_CLOUD_INIT is not set: scripts/test unpacks Debian's cloud-init and sets it (the schema check needs it)",
    );
    assert!(tree.join("usr/bin/cloud-init").is_file(), "no cloud-init under {}", tree.display());
    tree
}

/// cloud-init's own `schema --config-file`: (accepted, what it said).
fn schema(file: &Path) -> (bool, String) {
    let tree = cloud_init_tree();
    let o = Command::new("/usr/bin/python3")
        .arg(tree.join("usr/bin/cloud-init"))
        .args(["schema", "--config-file"])
        .arg(file)
        .env("PYTHONPATH", tree.join("usr/lib/python3/dist-packages"))
        .output()
        .unwrap();
    (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
}

#[test]
fn cloud_init_user_data_passes_the_schema_and_sets_up_a_root_as_apply_does() {
    let deb = common::deb();
    let answers = common::fixtures().join("answers/generic.toml");
    let url = "https://files.example.net/clawguard_0.1.0-1_amd64.deb";
    let user_data = must(&[
        "export",
        "cloud-init",
        "--answers",
        answers.to_str().unwrap(),
        "--package",
        deb.to_str().unwrap(),
        "--package-url",
        url,
    ]);
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("user-data");
    fs::write(&file, &user_data).unwrap();
    let (ok, said) = schema(&file);
    assert!(ok && said.contains("Valid cloud-config"), "cloud-init schema:\n{said}\n{user_data}");
    // The checker does refuse: the same body with runcmd broken.
    let broken = work.path().join("broken");
    fs::write(&broken, user_data.replacen("\"runcmd\": [", "\"runcmd\": 3, \"x\": [", 1)).unwrap();
    let (ok, said) = schema(&broken);
    assert!(!ok || said.contains("schema errors"), "cloud-init accepted a broken runcmd:\n{said}");

    let body: serde_json::Value = serde_json::from_str(&user_data[user_data.find('{').unwrap()..]).unwrap();
    // The package is pinned to the real file's hash, passed to the shell as an argument.
    let fetch = &body["runcmd"][0];
    let sha = clawguard::target::sha256(&fs::read(&deb).unwrap());
    assert_eq!(fetch[3], url);
    assert_eq!(fetch[4], sha.as_str());
    assert!(!fetch[2].as_str().unwrap().contains(url), "the URL is inside the shell text");

    // A fresh root set up as cloud-init would (write_files, then the apply; its commands
    // are listed, not run, under --root), next to one set up by `clawguard apply`.
    let booted = common::fixture_root("debian12-cloud");
    for f in body["write_files"].as_array().unwrap() {
        assert_eq!(f["encoding"], "b64");
        let data = base64::engine::general_purpose::STANDARD.decode(f["content"].as_str().unwrap()).unwrap();
        let path = booted.path().join(f["path"].as_str().unwrap().trim_start_matches('/'));
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, data).unwrap();
        let mode = u32::from_str_radix(f["permissions"].as_str().unwrap(), 8).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }
    let apply: Vec<String> =
        body["runcmd"][1].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
    assert_eq!(apply[..2], ["clawguard", "apply"]);
    let mut args: Vec<&str> = apply[1..].iter().map(String::as_str).collect();
    args.extend(["--root", booted.path().to_str().unwrap()]);
    must(&args);
    let by_hand = common::fixture_root("debian12-cloud");
    must(&["apply", "--yes", "--answers", answers.to_str().unwrap(), "--root", by_hand.path().to_str().unwrap()]);
    let files = |root: &Path| {
        let mut f = common::fingerprint(root);
        f.retain(|k, _| !k.starts_with("var/lib/clawguard"));
        f
    };
    let (a, b) = (files(booted.path()), files(by_hand.path()));
    let differ: Vec<&String> = a.keys().chain(b.keys()).filter(|k| a.get(*k) != b.get(*k)).collect();
    assert!(differ.is_empty(), "cloud-init's root differs from apply's: {differ:?}");
    assert!(a.contains_key("etc/ssh/sshd_config.d/00-clawguard.conf"), "nothing was applied");
}

#[test]
fn bad_input_is_refused_with_what_to_give_instead() {
    let answers = common::fixtures().join("answers/generic.toml");
    let deb = common::deb();
    let run = |args: &[&str]| {
        let o = common::cli::command(&[]).args(args).output().unwrap();
        (o.status.success(), String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr))
    };
    let (a, d) = (answers.to_str().unwrap(), deb.to_str().unwrap());
    let (ok, out) = run(&["export", "cloud-init", "--answers", a, "--package", d, "--package-url", "http://x/c.deb"]);
    assert!(!ok && out.contains("https://"), "{out}");
    let (ok, out) = run(&["export", "cloud-init", "--answers", a, "--package", a, "--package-url", "https://x/c.deb"]);
    assert!(!ok && out.contains("is not a Debian package"), "{out}");
    let (ok, out) =
        run(&["export", "cloud-init", "--answers", "/nonexistent", "--package", d, "--package-url", "https://x/c.deb"]);
    assert!(!ok && out.contains("/nonexistent"), "{out}");
}
