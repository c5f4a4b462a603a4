//! How commands reach the target: directly on the live system, through a runner program
//! (tests, hosts without systemd, a container or namespace), or not at all (an image under
//! `--root`: files only, and the activation steps are listed as skipped, as `dpkg --root`
//! does).

use std::path::PathBuf;

/// Starts `cmd` in a session of its own, without a controlling terminal. No child of
/// clawguard may take the terminal: ssh (started by restic, which hands it the terminal's
/// foreground to ask for a password or a new host key) would stop the wizard — q, Esc and
/// Ctrl-C dead — while it waits for an answer nobody sees. Without a terminal, ssh fails
/// at once and says why, and the front end shows it.
pub fn own_session(cmd: &mut std::process::Command) -> &mut std::process::Command {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid(2) is async-signal-safe; between fork and exec nothing else runs.
    unsafe {
        cmd.pre_exec(|| {
            if libc::setsid() < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        })
    }
}

/// Where commands go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Runner {
    /// Run each argv as is (the live system, root `/`).
    Live,
    /// Run `PROGRAM argv…`: the program decides how each command reaches the target.
    Program(PathBuf),
    /// Do not run commands (another root without a runner).
    Skip,
}

/// What happened to one command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ran {
    /// Succeeded, with its output.
    Ok(String),
    Skipped,
    Failed {
        status: String,
        output: String,
    },
}

impl Runner {
    pub fn runs_commands(&self) -> bool {
        !matches!(self, Runner::Skip)
    }

    /// Runs one command whose output someone else controls (the agent, which is assumed
    /// compromised, or an engine that may hang): it is ended after `limit`, and its output
    /// is cut at `max_bytes` (both said in the result, which is then a failure).
    pub fn run_bounded<S: AsRef<str>>(&self, argv: &[S], limit: std::time::Duration, max_bytes: usize) -> Ran {
        use std::io::Read;
        let argv: Vec<&str> = argv.iter().map(AsRef::as_ref).collect();
        let Some((prog, args)) = self.program(&argv) else {
            return if self.runs_commands() {
                Ran::Failed { status: "could not start".into(), output: "empty command".into() }
            } else {
                Ran::Skipped
            };
        };
        let expr = duct::cmd(&prog, &args).before_spawn(|c| {
            own_session(c);
            Ok(())
        });
        let reader = match expr.stdin_null().stderr_to_stdout().unchecked().reader() {
            Ok(r) => std::sync::Arc::new(r),
            Err(e) => return Ran::Failed { status: format!("could not start {prog}"), output: e.to_string() },
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let r = reader.clone();
        std::thread::spawn(move || {
            let mut out = Vec::new();
            let read = (&*r).take(max_bytes as u64 + 1).read_to_end(&mut out);
            let _ = tx.send((read.map(|_| ()), out));
        });
        let (read, out) = match rx.recv_timeout(limit) {
            Ok(done) => done,
            Err(_) => {
                let _ = reader.kill();
                return Ran::Failed {
                    status: format!("ended after {} s", limit.as_secs()),
                    output: format!("`{}` did not finish in time", argv.join(" ")),
                };
            }
        };
        let text = String::from_utf8_lossy(&out[..out.len().min(max_bytes)]).into_owned();
        if out.len() > max_bytes {
            let _ = reader.kill();
            return Ran::Failed {
                status: "output cut".into(),
                output: format!("`{}` wrote more than {max_bytes} bytes", argv.join(" ")),
            };
        }
        match (read, reader.try_wait()) {
            (Ok(()), Ok(Some(o))) if o.status.success() => Ran::Ok(text),
            (Ok(()), Ok(Some(o))) => Ran::Failed {
                status: o.status.code().map(|c| format!("exit status {c}")).unwrap_or_else(|| "killed".into()),
                output: text.trim().to_owned(),
            },
            // With `unchecked`, a read error is the pipe's, not the exit status's.
            (Err(e), _) | (_, Err(e)) => {
                Ran::Failed { status: "could not read its output".into(), output: e.to_string() }
            }
            (Ok(()), Ok(None)) => Ran::Failed { status: "still running".into(), output: text.trim().to_owned() },
        }
    }

    /// The program and arguments `argv` runs as here (None: nothing runs, or nothing to run).
    fn program<'a>(&self, argv: &[&'a str]) -> Option<(String, Vec<&'a str>)> {
        match self {
            Runner::Skip => None,
            Runner::Live => argv.split_first().map(|(first, rest)| (first.to_string(), rest.to_vec())),
            Runner::Program(p) => Some((p.display().to_string(), argv.to_vec())),
        }
    }

    /// Run one command. `argv` is anything that lists strings (`&["ss", "-tln"]`, a
    /// `Vec<String>`), so callers never convert by hand.
    pub fn run<S: AsRef<str>>(&self, argv: &[S]) -> Ran {
        let argv: Vec<&str> = argv.iter().map(AsRef::as_ref).collect();
        let (prog, args): (String, Vec<&str>) = match self {
            Runner::Skip => return Ran::Skipped,
            Runner::Live => match argv.split_first() {
                Some((first, rest)) => (first.to_string(), rest.to_vec()),
                None => return Ran::Failed { status: "could not start".into(), output: "empty command".into() },
            },
            Runner::Program(p) => (p.display().to_string(), argv),
        };
        let expr = duct::cmd(&prog, &args).before_spawn(|c| {
            own_session(c);
            Ok(())
        });
        match expr.stdin_null().stderr_to_stdout().stdout_capture().unchecked().run() {
            Ok(o) if o.status.success() => Ran::Ok(String::from_utf8_lossy(&o.stdout).into_owned()),
            Ok(o) => Ran::Failed {
                status: o.status.code().map(|c| format!("exit status {c}")).unwrap_or_else(|| "killed".into()),
                output: String::from_utf8_lossy(&o.stdout).trim().to_owned(),
            },
            Err(e) => Ran::Failed { status: format!("could not start {prog}"), output: e.to_string() },
        }
    }
}

#[cfg(test)]
mod bounded {
    use std::time::{Duration, Instant};

    use super::*;

    #[test]
    fn a_command_others_control_is_ended_in_time_and_its_output_cut() {
        let r = Runner::Live;
        assert_eq!(r.run_bounded(&["echo", "hi"], Duration::from_secs(5), 100), Ran::Ok("hi\n".into()));
        let t = Instant::now();
        let Ran::Failed { status, .. } = r.run_bounded(&["sleep", "30"], Duration::from_millis(500), 100) else {
            panic!("a hung command passed")
        };
        assert!(status.contains("ended after") && t.elapsed() < Duration::from_secs(5), "{status}");
        let Ran::Failed { status, output } = r.run_bounded(&["yes"], Duration::from_secs(5), 4096) else {
            panic!("an endless output passed")
        };
        assert!(status == "output cut" && output.contains("more than 4096 bytes"), "{status}: {output}");
        let Ran::Failed { status, .. } = r.run_bounded(&["false"], Duration::from_secs(5), 100) else { panic!() };
        assert_eq!(status, "exit status 1");
        assert_eq!(Runner::Skip.run_bounded(&["echo"], Duration::from_secs(1), 1), Ran::Skipped);
    }
}
