//! The one way the tests run the clawguard binary: as a person at a shell would, so none
//! of this test process's own environment leaks in — no `SSH_CONNECTION` (a login is
//! found through the process tree, as under sudo), no fault injection
//! (`CLAWGUARD_CRASH_AT`) unless a test sets it, no colour, and no terminal on stdin.

use std::process::{Command, Output, Stdio};

/// `clawguard ARGS` with the environment a test starts from.
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(super::bin());
    c.args(args)
        .env_remove("SSH_CONNECTION")
        .env_remove(clawguard::target::CRASH_ENV)
        .env("NO_COLOR", "1")
        .stdin(Stdio::null());
    c
}

/// Runs `clawguard ARGS`.
pub fn run(args: &[&str]) -> Output {
    run_env::<&str>(args, &[])
}

/// Runs `clawguard ARGS` with these variables set (a runner, a crash point, a key file).
pub fn run_env<V: AsRef<std::ffi::OsStr>>(args: &[&str], env: &[(&str, V)]) -> Output {
    let mut c = command(args);
    c.envs(env.iter().map(|(k, v)| (k, v.as_ref())));
    c.output().unwrap_or_else(|e| panic!("cannot run {}: {e}", super::bin()))
}

/// What it printed, standard output then standard error.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// Its exit code and [`text`].
pub fn code_text(args: &[&str]) -> (Option<i32>, String) {
    code_text_env::<&str>(args, &[])
}

/// [`code_text`] with these variables set.
pub fn code_text_env<V: AsRef<std::ffi::OsStr>>(args: &[&str], env: &[(&str, V)]) -> (Option<i32>, String) {
    let o = run_env(args, env);
    (o.status.code(), text(&o))
}

/// Runs `clawguard ARGS`, which must succeed; what it printed.
pub fn must(args: &[&str]) -> String {
    let o = run(args);
    let out = text(&o);
    assert!(o.status.success(), "clawguard {} ({}):\n{out}", args.join(" "), o.status);
    out
}
