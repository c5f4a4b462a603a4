//! Runs each service's own checker on the files a plan would write, as they would be on
//! the target: the plan's files laid over a copy of the target's config in a temporary
//! staging directory (the target itself is never touched).
//!
//! A checker that is not installed is a failure that says how to install it — never a
//! silent pass.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::host::sshd::{DROPIN_DIR, MAIN};
use crate::layers::egress::{TUNNEL_CERT_IN_PROXY, TUNNEL_PEM};
use crate::plan::{FileStep, Plan, Validator};
use crate::target::Root;

/// The result of one checker on one file.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub file: String,
    pub checker: &'static str,
    /// `Ok(summary)` or `Err(what failed, with the checker's own words)`.
    pub result: Result<String, String>,
}

/// Runs every validator the plan names. `root` is the target the plan is for.
pub fn run(plan: &Plan, root: &Root) -> io::Result<Vec<Outcome>> {
    run_for(plan, root, |_| true)
}

/// Runs the validators of the files `wanted` selects, side by side (each checker has its
/// own corner of the staging directory), and returns their outcomes in the plan's order.
pub fn run_for(plan: &Plan, root: &Root, wanted: impl Fn(&FileStep) -> bool) -> io::Result<Vec<Outcome>> {
    let stage = tempfile::Builder::new().prefix("clawguard-validate-").tempdir()?;
    let stage = stage.path();
    let steps: Vec<(&FileStep, &Validator)> =
        plan.files.iter().filter(|s| wanted(s)).filter_map(|s| Some((s, s.validator.as_ref()?))).collect();
    let out = std::thread::scope(|scope| {
        let handles: Vec<_> = steps
            .iter()
            .map(|&(step, v)| {
                scope.spawn(move || match v {
                    Validator::Sshd { expect, client } => sshd(plan, root, stage, expect, client.as_deref()),
                    Validator::Squid { image } => squid(step, stage, image),
                    Validator::Fail2ban { expect } => fail2ban(step, root, stage, expect),
                    Validator::Compose => compose(plan, step, stage),
                    Validator::Logrotate => logrotate(step, stage),
                    Validator::Pf => pf(step, stage),
                    Validator::Launchd => launchd(step, stage),
                })
            })
            .collect();
        handles
            .into_iter()
            .zip(&steps)
            .map(|(h, (step, v))| Outcome {
                file: step.path.clone(),
                checker: v.name(),
                result: h.join().unwrap_or_else(|_| Err("the checker's thread panicked".into())),
            })
            .collect()
    });
    Ok(out)
}

/// Runs a checker; Err when it cannot start (not installed) — with the install hint.
fn run_tool(argv: &[&str], install: &str) -> Result<(i32, String), String> {
    run_tool_fed(argv, install, None)
}

/// [`run_tool`] with `input` on its standard input.
fn run_tool_fed(argv: &[&str], install: &str, input: Option<&str>) -> Result<(i32, String), String> {
    let mut expr = duct::cmd(argv[0], &argv[1..]);
    if let Some(text) = input {
        expr = expr.stdin_bytes(text.as_bytes().to_vec());
    }
    let expr = expr
        .before_spawn(|c| {
            crate::target::runner::own_session(c);
            Ok(())
        })
        .stderr_to_stdout()
        .stdout_capture()
        .unchecked();
    match expr.run() {
        Ok(o) => Ok((o.status.code().unwrap_or(-1), String::from_utf8_lossy(&o.stdout).into_owned())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            Err(format!("`{}` is not installed, so this file cannot be checked: {install}", argv[0]))
        }
        Err(e) => Err(format!("could not run `{}`: {e}", argv[0])),
    }
}

fn write(path: &Path, content: &str) -> Result<(), String> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(|e| format!("staging {}: {e}", dir.display()))?;
    }
    fs::write(path, content).map_err(|e| format!("staging {}: {e}", path.display()))
}

fn staged(stage: &Path, abs: &str) -> PathBuf {
    stage.join(abs.trim_start_matches('/'))
}

fn tail(out: &str) -> String {
    let lines: Vec<&str> = out.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

// ------------------------------------------------------------------------------- macOS

/// pf's rules: the grammar subset clawguard writes, then — on a Mac, where pfctl is —
/// `pfctl -vnf`, which parses without loading.
fn pf(step: &FileStep, stage: &Path) -> Result<String, String> {
    let n =
        crate::layers::pf::check(&step.content).map_err(|e| format!("not pf's grammar as clawguard writes it: {e}"))?;
    let summary = format!("{n} rules in the pf grammar clawguard writes");
    mac_tool(step, stage, &["/sbin/pfctl", "-vnf"], summary)
}

/// A LaunchDaemon: a property list with what launchd needs; `plutil -lint` on a Mac.
fn launchd(step: &FileStep, stage: &Path) -> Result<String, String> {
    let summary = crate::layers::launchd::lint(&step.path, &step.content)?;
    mac_tool(step, stage, &["/usr/bin/plutil", "-lint"], summary)
}

/// macOS's own checker (`argv` then the staged file) where this machine has it; without
/// it (not a Mac) the `summary` of clawguard's own check stands, and says so.
fn mac_tool(step: &FileStep, stage: &Path, argv: &[&str], summary: String) -> Result<String, String> {
    let tool = argv[0];
    if !Path::new(tool).exists() {
        return Ok(format!("{summary} ({tool} is macOS's: not on this machine)"));
    }
    let file = staged(stage, &format!("{}{}", tool.rsplit('/').next().unwrap_or(tool), step.path));
    write(&file, &step.content)?;
    let path = file.to_string_lossy().into_owned();
    let mut full = argv.to_vec();
    full.push(&path);
    let (rc, out) = run_tool(&full, "it comes with macOS")?;
    if rc != 0 {
        return Err(format!("{} refused it:\n{}", argv.join(" "), tail(&out)));
    }
    Ok(format!("{summary}; {}: OK", argv.join(" ")))
}

// ---------------------------------------------------------------------------------- sshd

/// `sshd -t` on the whole assembled config (main file, every drop-in of the target, the
/// plan's files over them), then `sshd -T` compared with the intended values.
fn sshd(
    plan: &Plan,
    root: &Root,
    stage: &Path,
    expect: &[(String, String)],
    client: Option<&str>,
) -> Result<String, String> {
    let base = stage.join("sshd");
    let etc = base.join("etc/ssh");
    let main_text = plan
        .file(MAIN)
        .map(|f| f.content.clone())
        .or_else(|| root.read(MAIN))
        .unwrap_or_else(|| format!("Include {DROPIN_DIR}/*.conf\n"));
    let mut names: BTreeSet<String> =
        root.list(DROPIN_DIR).into_iter().filter(|n| n.ends_with(".conf") && !n.starts_with('.')).collect();
    for f in plan.files.iter().filter(|f| f.path.starts_with(&format!("{DROPIN_DIR}/"))) {
        names.insert(f.path[DROPIN_DIR.len() + 1..].to_owned());
    }
    let retarget = |text: &str| -> String {
        text.lines()
            .map(|l| match crate::host::sshd::split_line(l) {
                Some((k, v)) if k == "include" => {
                    let paths: Vec<String> = v
                        .split_whitespace()
                        .map(|p| {
                            if p.starts_with('/') {
                                format!("{}{p}", base.display())
                            } else {
                                format!("{}/{p}", etc.display())
                            }
                        })
                        .collect();
                    format!("Include {}", paths.join(" "))
                }
                _ => l.to_owned(),
            })
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    };
    write(&etc.join("sshd_config"), &retarget(&main_text))?;
    for name in &names {
        let abs = format!("{DROPIN_DIR}/{name}");
        let text = plan.file(&abs).map(|f| f.content.clone()).or_else(|| root.read(&abs)).unwrap_or_default();
        write(&staged(&base, &abs), &retarget(&text))?;
    }
    // sshd -t refuses to run without its privilege separation directory (PITFALLS 2).
    let _ = fs::create_dir_all("/run/sshd");
    let key = base.join("hostkey");
    let key_s = key.to_string_lossy().into_owned();
    run_tool(&["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", &key_s], "apt-get install openssh-client")?;
    let config = etc.join("sshd_config").to_string_lossy().into_owned();
    let (rc, out) = run_tool(
        &["sshd", "-t", "-f", &config, "-h", &key_s],
        "apt-get install openssh-server (or run from PATH with /usr/sbin)",
    )
    .or_else(|e| {
        if Path::new("/usr/sbin/sshd").exists() {
            run_tool(&["/usr/sbin/sshd", "-t", "-f", &config, "-h", &key_s], "")
        } else {
            Err(e)
        }
    })?;
    if rc != 0 {
        return Err(format!("sshd -t refused the assembled config:\n{}", tail(&out)));
    }
    let user = expect.iter().find(|(k, _)| k == "allowusers").map(|(_, v)| v.as_str()).unwrap_or("nobody");
    let spec = format!("user={user},host=client.example,addr=203.0.113.10");
    let sshd_bin = if Path::new("/usr/sbin/sshd").exists() { "/usr/sbin/sshd" } else { "sshd" };
    let (rc, out) =
        run_tool(&[sshd_bin, "-T", "-f", &config, "-h", &key_s, "-C", &spec], "apt-get install openssh-server")?;
    if rc != 0 {
        return Err(format!("sshd -T failed:\n{}", tail(&out)));
    }
    let n = compare_effective(&out, expect)?;
    // Each allowed user, from the admin's address: what sshd decides with its Match blocks.
    let addr = client.unwrap_or("203.0.113.10");
    let users: Vec<&str> = expect.iter().filter(|(k, _)| k == "allowusers").map(|(_, v)| v.as_str()).collect();
    for user in &users {
        let spec = format!("user={user},host=client.example,addr={addr}");
        let (rc, out) =
            run_tool(&[sshd_bin, "-T", "-f", &config, "-h", &key_s, "-C", &spec], "apt-get install openssh-server")?;
        if rc != 0 {
            return Err(format!("sshd -T -C {spec} failed:\n{}", tail(&out)));
        }
        if let Some(why) = refuses_key_login(&out, user) {
            return Err(format!(
                "for a login of `{user}` from {addr}, sshd itself (its Match blocks evaluated) {why}: that login would be locked out. Change the Match block, or the allowed users."
            ));
        }
    }
    Ok(format!(
        "sshd -t accepts the assembled config; sshd -T shows the {n} intended values; sshd -T -C lets {} in with a key from {addr}",
        users.join(", ")
    ))
}

/// Why `sshd -T -C` output (for `user`) would refuse a key login, if it would.
fn refuses_key_login(out: &str, user: &str) -> Option<String> {
    let values = |key: &str| -> Vec<&str> {
        out.lines().filter_map(|l| l.split_once(' ')).filter(|(k, _)| *k == key).map(|(_, v)| v.trim()).collect()
    };
    let matches = |list: &str| {
        list.split_whitespace().any(|p| crate::host::authorized_keys::wildcard(p.split('@').next().unwrap_or(p), user))
    };
    if values("pubkeyauthentication").first().is_some_and(|v| *v != "yes") {
        return Some("turns public-key authentication off".into());
    }
    let allow = values("allowusers");
    if !allow.is_empty() && !allow.iter().any(|l| matches(l)) {
        return Some(format!("allows only {}", allow.join(" ")));
    }
    if let Some(d) = values("denyusers").into_iter().find(|l| matches(l)) {
        return Some(format!("denies it (DenyUsers {d})"));
    }
    if values("authorizedkeysfile").first().is_some_and(|v| *v == "none")
        && values("authorizedkeyscommand").first().is_none_or(|v| *v == "none")
    {
        return Some("reads no key file (AuthorizedKeysFile none)".into());
    }
    if let Some(c) = values("forcecommand").first().filter(|c| **c != "none") {
        return Some(format!("forces the command `{c}` (no login shell)"));
    }
    let methods = values("authenticationmethods");
    if !methods.is_empty()
        && !methods.iter().any(|m| *m == "any" || m.split_whitespace().any(|list| list == "publickey"))
    {
        return Some(format!("asks for more than a key (AuthenticationMethods {})", methods.join(" ")));
    }
    None
}

/// For each keyword we expect, the set of values sshd reports must equal ours (so an extra
/// `Port` or a lost `AllowUsers` entry fails).
pub fn compare_effective(out: &str, expect: &[(String, String)]) -> Result<usize, String> {
    let keys: BTreeSet<&str> = expect.iter().map(|(k, _)| k.as_str()).collect();
    let mut problems = Vec::new();
    for key in &keys {
        let want: BTreeSet<&str> = expect.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect();
        let got: BTreeSet<&str> = out
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(k, _)| k == key)
            .flat_map(|(_, v)| if *key == "allowusers" { v.split(' ').collect::<Vec<_>>() } else { vec![v] })
            .collect();
        if want != got {
            problems.push(format!("{key}: sshd would use {:?}, clawguard wants {:?}", got, want));
        }
    }
    if problems.is_empty() {
        Ok(expect.len())
    } else {
        Err(format!(
            "sshd -T shows settings other than intended (another file overrides them):\n{}",
            problems.join("\n")
        ))
    }
}

// --------------------------------------------------------------------------------- squid

/// `squid -k parse` in the proxy image, without network, reading the file on its standard
/// input: no bind mount, so it works wherever the engine runs — on a Mac the runtime's VM
/// sees only the directories it shares (colima: its user's home and /tmp/colima), not a
/// temp dir of root's.
pub fn squid_in_container(image: &str) -> Vec<String> {
    [
        "docker",
        "run",
        "--rm",
        "-i",
        "--network",
        "none",
        "--entrypoint",
        "squid",
        image,
        "-k",
        "parse",
        "-f",
        "/dev/stdin",
    ]
    .map(str::to_owned)
    .to_vec()
}

/// squid.conf as the proxy image checks it from its standard input: without the tunnel
/// certificate's path (the file is clawguard's own, and a bind mount of it is what a
/// Mac's runtime VM may not share); squid still parses the ssl-bump port and its rules.
pub fn without_tunnel_cert(conf: &str) -> String {
    conf.replace(&format!(" tls-cert={TUNNEL_CERT_IN_PROXY}"), "")
}

/// This host's squid when it has one built with OpenSSL (a developer's machine, CI);
/// otherwise the squid in the proxy image ([`squid_in_container`]).
fn squid(step: &FileStep, stage: &Path, image: &str) -> Result<String, String> {
    let dir = stage.join("squid");
    let file = dir.join("squid.conf");
    let host_squid = ["/usr/sbin/squid", "/usr/bin/squid"]
        .into_iter()
        .find(|p| Path::new(p).exists() && run_tool(&[p, "-v"], "").is_ok_and(|(_, v)| v.contains("--with-openssl")));
    let (rc, out) = match host_squid {
        Some(bin) => {
            let pem = dir.join("tunnel.pem");
            write(&pem, TUNNEL_PEM)?;
            write(&file, &step.content.replace(TUNNEL_CERT_IN_PROXY, &pem.to_string_lossy()))?;
            run_tool(&[bin, "-k", "parse", "-f", &file.to_string_lossy()], "")?
        }
        None => {
            let argv = squid_in_container(image);
            let argv: Vec<&str> = argv.iter().map(String::as_str).collect();
            let conf = without_tunnel_cert(&step.content);
            let (rc, out) = run_tool_fed(&argv, "", Some(&conf)).map_err(|e| no_squid(image, &e))?;
            // (An image not here yet is pulled by `docker run` itself: "Unable to find image"
            // then says nothing about the file unless the run failed.)
            let missing = rc != 0 && out.contains("Unable to find image");
            if rc == 125 || out.contains("Cannot connect to the Docker daemon") || missing {
                return Err(no_squid(image, &tail(&out)));
            }
            (rc, out)
        }
    };
    squid_verdict(rc, &out, image)
}

/// What `squid -k parse` (exit `rc`, saying `out`) means for the file, checked for the
/// proxy image `image`. A squid built without OpenSSL is known by what it says about the
/// ssl-bump port and its rules — the words of Debian's GnuTLS `squid`, which a test runs.
pub fn squid_verdict(rc: i32, out: &str, image: &str) -> Result<String, String> {
    // A squid built without OpenSSL (Debian's and Ubuntu's `squid`, GnuTLS) knows no
    // ssl_bump: it cannot hold a tunnel to its TLS name.
    let no_openssl = ["option 'ssl-bump'", "ACL type 'at_step'", "ACL type 'ssl::server_name'"];
    if out.contains("FATAL") && no_openssl.iter().any(|s| out.contains(s)) {
        return Err(format!(
            "the squid of `{image}` is built without OpenSSL, so it cannot check the TLS name inside a tunnel (ssl_bump): leave egress.proxy_image at its default (`{}`, built here from Debian's squid-openssl) or name an image whose squid has OpenSSL. squid said:\n{}",
            crate::answers::PROXY_IMAGE,
            tail(out)
        ));
    }
    // "BCP 177" is about the machine the check runs on (no IPv6 loopback), not the file.
    let bad: Vec<&str> = out
        .lines()
        .filter(|l| l.contains("WARNING") || l.contains("ERROR") || l.contains("FATAL"))
        .filter(|l| !l.contains("BCP 177"))
        .collect();
    if rc != 0 || !bad.is_empty() {
        return Err(format!(
            "squid -k parse (exit {rc}) reported:\n{}",
            if bad.is_empty() { tail(out) } else { bad.join("\n") }
        ));
    }
    Ok("squid -k parse: no warnings, no errors".into())
}

fn no_squid(image: &str, why: &str) -> String {
    format!(
        "squid.conf is checked by the squid of the proxy image `{image}`, which cannot run here ({why}). `sudo clawguard apply` installs the engine and gets the image first; to check before that, run `clawguard plan --validate` as root on a host with a running Docker engine, or with squid installed."
    )
}

// ------------------------------------------------------------------------------ fail2ban

/// `fail2ban-client -t` on a copy of the target's /etc/fail2ban (or this machine's, for the
/// package's filters when the target has none) with the jail laid over it, then `-d` to
/// compare the resolved values.
fn fail2ban(step: &FileStep, root: &Root, stage: &Path, expect: &[(String, String, String)]) -> Result<String, String> {
    let dir = stage.join("fail2ban");
    let source = if root.exists("/etc/fail2ban/jail.conf") {
        root.path("/etc/fail2ban")
    } else {
        PathBuf::from("/etc/fail2ban")
    };
    if !source.join("jail.conf").exists() {
        return Err("fail2ban is not installed (no /etc/fail2ban/jail.conf), so the jail cannot be checked: apt-get install fail2ban".into());
    }
    copy_dir(&source, &dir).map_err(|e| format!("copying {}: {e}", source.display()))?;
    let rel = step.path.strip_prefix("/etc/fail2ban/").unwrap_or(&step.path);
    write(&dir.join(rel), &step.content)?;
    // The log sshd writes on this target, staged so the check does not depend on this machine's.
    let log = stage.join("fail2ban-auth.log");
    write(&log, "")?;
    write(&dir.join("paths-overrides.local"), &format!("[DEFAULT]\nsshd_log = {}\n", log.display()))?;
    let d = dir.to_string_lossy().into_owned();
    let (rc, out) = run_tool(&["fail2ban-client", "-c", &d, "-t"], "apt-get install fail2ban")?;
    if rc != 0 || out.contains("ERROR") {
        return Err(format!("fail2ban-client -t (exit {rc}) refused the configuration:\n{}", tail(&out)));
    }
    let (rc, dump) = run_tool(&["fail2ban-client", "-c", &d, "-d"], "apt-get install fail2ban")?;
    if rc != 0 {
        return Err(format!("fail2ban-client -d failed:\n{}", tail(&dump)));
    }
    let mut problems = Vec::new();
    for (jail, key, value) in expect {
        let want = format!("['set', '{jail}', '{key}', {value}]");
        let want_s = format!("['set', '{jail}', '{key}', '{value}']");
        if !dump.lines().any(|l| l.trim() == want || l.trim() == want_s) {
            let got: Vec<&str> = dump.lines().filter(|l| l.contains(&format!("'{jail}', '{key}'"))).collect();
            problems.push(format!(
                "{jail}.{key}: wanted {value}, fail2ban resolved {}",
                if got.is_empty() { "nothing".to_owned() } else { got.join(" ") }
            ));
        }
    }
    if !problems.is_empty() {
        return Err(format!("fail2ban-client -d shows other values than intended:\n{}", problems.join("\n")));
    }
    Ok(format!("fail2ban-client -t accepts the jail; -d shows the {} intended values", expect.len()))
}

fn copy_dir(from: &Path, to: &Path) -> io::Result<()> {
    fs::create_dir_all(to)?;
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        let ft = entry.file_type()?;
        if ft.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else if ft.is_file() {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------- compose

/// `docker compose config -q` (v2) or `docker-compose config -q` (v1) on the project
/// directory staged with the plan's other files in it (env file, squid.conf).
fn compose(plan: &Plan, step: &FileStep, stage: &Path) -> Result<String, String> {
    let dir = Path::new(&step.path).parent().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    for f in plan
        .files
        .iter()
        .filter(|f| Path::new(&f.path).parent().map(|p| p.to_string_lossy()) == Some(dir.as_str().into()))
    {
        write(&staged(&stage.join("compose"), &f.path), &f.content)?;
    }
    let file = staged(&stage.join("compose"), &step.path).to_string_lossy().into_owned();
    let v2 = run_tool(&["docker", "compose", "version"], "").is_ok_and(|(rc, _)| rc == 0);
    let (rc, out) = if v2 {
        run_tool(&["docker", "compose", "-f", &file, "config", "-q"], "")?
    } else {
        run_tool(
            &["docker-compose", "-f", &file, "config", "-q"],
            "apt-get install docker-compose (or the docker compose plugin)",
        )?
    };
    if rc != 0 {
        return Err(format!(
            "{} config refused the compose file:\n{}",
            if v2 { "docker compose" } else { "docker-compose" },
            tail(&out)
        ));
    }
    Ok(format!("{} config -q accepts it", if v2 { "docker compose" } else { "docker-compose" }))
}

// ----------------------------------------------------------------------------- logrotate

fn logrotate(step: &FileStep, stage: &Path) -> Result<String, String> {
    let file = stage.join("logrotate/clawguard-agent");
    write(&file, &step.content)?;
    let state = stage.join("logrotate/state").to_string_lossy().into_owned();
    let f = file.to_string_lossy().into_owned();
    let bin = if Path::new("/usr/sbin/logrotate").exists() { "/usr/sbin/logrotate" } else { "logrotate" };
    let (rc, out) = run_tool(&[bin, "--debug", "--state", &state, &f], "apt-get install logrotate")?;
    if rc != 0 || out.lines().any(|l| l.starts_with("error:")) {
        return Err(format!("logrotate --debug (exit {rc}) reported:\n{}", tail(&out)));
    }
    Ok("logrotate --debug accepts it".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_extra_port_fails_the_effective_check() {
        let expect = vec![("port".to_owned(), "2222".to_owned())];
        assert!(compare_effective("port 2222\nport 22\n", &expect).is_err());
        assert!(compare_effective("port 2222\n", &expect).is_ok());
    }

    #[test]
    fn allowusers_is_compared_as_a_set() {
        let expect = vec![("allowusers".to_owned(), "a".to_owned()), ("allowusers".to_owned(), "b".to_owned())];
        assert!(compare_effective("allowusers a\nallowusers b\n", &expect).is_ok());
        assert!(compare_effective("allowusers a b\n", &expect).is_ok());
        assert!(compare_effective("allowusers a\n", &expect).is_err());
    }
}
