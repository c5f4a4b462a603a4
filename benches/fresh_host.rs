//! The first apply on a fresh host, measured: a bare Debian 12 booted with systemd as PID 1
//! (`tests/common/booted.rs`), clawguard installed and run over SSH with sudo exactly as in
//! `tests/fresh_host.rs`. Reports the whole first `sudo clawguard apply --yes` and the part
//! that is not package download and installation (timed from the progress lines as they
//! arrive). Run as root: `cargo bench --bench fresh_host` (it needs debootstrap,
//! systemd-container and socat; the base is cached in /var/cache/clawguard-tests).
//! Under `cargo test` (no `--bench`) it only says how to run it.

#[path = "../tests/common/booted.rs"]
#[allow(dead_code)]
mod booted;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        println!("fresh_host: a benchmark of minutes on a booted VPS; run it with `cargo bench --bench fresh_host`");
        return;
    }
    let vps = booted::Booted::up("bookworm", 40);
    let stripped = vps.work.path().join("clawguard");
    let bin = env!("CARGO_BIN_EXE_clawguard");
    assert!(Command::new("strip").args(["-o", stripped.to_str().unwrap(), bin]).status().unwrap().success());
    vps.upload("debian", 22, None, &stripped, "clawguard");
    assert_eq!(vps.ssh("debian", 22, None, "sudo install -m 755 clawguard /usr/local/bin/").0, 0);

    let mut argv = vec!["hostns".to_owned()];
    argv.extend(vps.ssh_args("debian", 22, None));
    argv.push("sudo clawguard apply --yes".into());
    let refs: Vec<&str> = argv.iter().map(String::as_str).collect();
    let t0 = Instant::now();
    let mut child = vps.script_cmd(&refs).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let err = BufReader::new(child.stderr.take().unwrap());
    let mut marks: Vec<(f64, String)> = Vec::new();
    for line in err.lines().map_while(Result::ok) {
        marks.push((t0.elapsed().as_secs_f64(), line));
    }
    let out = child.wait_with_output().unwrap();
    let total = t0.elapsed().as_secs_f64();
    let at = |needle: &str| marks.iter().find(|(_, l)| l.contains(needle)).map(|(t, _)| *t);
    let start = at("running apt-get update").expect("no package step: was the VPS not fresh?");
    let end = at("checking that the host is ready").expect("no readiness check after the packages");
    println!("first apply on a fresh Debian 12 (exit {:?}):", out.status.code());
    println!("  total                          {total:6.1} s");
    println!("  packages (apt update+install)  {:6.1} s", end - start);
    println!("  everything else                {:6.1} s", total - (end - start));
    for (t, l) in &marks {
        println!("    {t:6.1}  {l}");
    }
}
