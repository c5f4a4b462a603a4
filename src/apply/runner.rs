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
