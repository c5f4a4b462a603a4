//! The Debian package `scripts/package` builds, as dpkg and man see it: files under /usr
//! only, no maintainer script (installing it starts and changes nothing), the binary's
//! version, a manual page for every command `--help` lists that `man` renders, completions
//! that bash loads. The install on a booted Debian is in `fresh_host`.

mod common;

use std::path::Path;
use std::process::Command;

fn run(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    let out = String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{cmd:?} failed:\n{out}");
    out
}

#[test]
fn the_package_holds_the_binary_its_manual_and_completions_and_no_script() {
    let deb = common::deb();
    let control = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(control.path()));
    let mut scripts: Vec<String> = std::fs::read_dir(control.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    scripts.retain(|n| n != "control" && n != "md5sums");
    assert!(scripts.is_empty(), "maintainer scripts would run at install: {scripts:?}");
    let fields = std::fs::read_to_string(control.path().join("control")).unwrap();
    assert!(fields.contains("Package: clawguard\n") && fields.contains("Depends: libc6"), "{fields}");
    assert!(!fields.contains("Recommends:"), "apt would install (and start) them: {fields}");

    let tree = tempfile::tempdir().unwrap();
    run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(tree.path()));
    let listing = run(Command::new("dpkg-deb").arg("-c").arg(&deb));
    for line in listing.lines() {
        let path = line.split_whitespace().nth(5).unwrap_or_default();
        assert!(path == "./" || path.starts_with("./usr/"), "outside /usr: {line}");
    }
    let bin = tree.path().join("usr/bin/clawguard");
    assert_eq!(run(Command::new(&bin).arg("--version")).trim(), format!("clawguard {}", env!("CARGO_PKG_VERSION")));

    // `man clawguard` and a page per command, rendered by man itself from the package.
    let man = |page: &str| {
        let out = run(Command::new("man")
            .env("MANPATH", tree.path().join("usr/share/man"))
            .env("MANWIDTH", "100")
            .args(["--nh", "--nj", "-P", "cat", page]));
        // Bold and underline as overstrikes (`c\bc`): keep the last character of each.
        let mut text = String::new();
        for c in out.chars() {
            if c == '\u{8}' {
                text.pop();
            } else {
                text.push(c);
            }
        }
        text
    };
    let main = man("clawguard");
    assert!(main.contains("NAME") && main.contains("SUBCOMMANDS"), "{main}");
    let commands = common::help_commands(&bin, &[]);
    assert!(commands.len() > 10, "{commands:?}");
    for c in &commands {
        assert!(main.contains(&format!("clawguard-{c}(1)")), "man clawguard does not list {c}:\n{main}");
        let page = man(&format!("clawguard-{c}"));
        assert!(page.contains(&format!("clawguard-{c}")), "man clawguard-{c}:\n{page}");
    }

    // bash loads the completion and offers the commands.
    let completion = tree.path().join("usr/share/bash-completion/completions/clawguard");
    let offered = run(Command::new("bash").arg("-c").arg(format!(
        "source {}; COMP_WORDS=(clawguard ''); COMP_CWORD=1; COMP_LINE='clawguard '; COMP_POINT=10; _clawguard clawguard '' clawguard; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        completion.display()
    )));
    for c in &commands {
        assert!(offered.lines().any(|l| l == c), "bash does not offer {c}:\n{offered}");
    }
    for f in ["usr/share/zsh/vendor-completions/_clawguard", "usr/share/fish/vendor_completions.d/clawguard.fish"] {
        assert!(Path::new(&tree.path().join(f)).is_file(), "{f} missing");
    }
    let copyright = std::fs::read_to_string(tree.path().join("usr/share/doc/clawguard/copyright")).unwrap();
    assert!(copyright.contains("MIT"), "{copyright}");
}
