//! The SSH login this process runs in — also under `sudo`, which resets the environment
//! (Debian's and Ubuntu's default `env_reset`), so `SSH_CONNECTION` is gone (PITFALLS 21).
//!
//! On the live system the truth is in the process tree: sshd starts the login's first
//! process with `SSH_CONNECTION` in its environment, and every command of that login
//! descends from it (below the root-owned `sshd`, or `sshd-session` since OpenSSH 9.8,
//! that serves the connection). That first process carries the value sshd set; a value
//! exported later by hand in a shell further down does not count. Reading another user's `/proc/PID/environ` needs
//! root, which `sudo` gives; without root the user's own processes are readable.

use std::fs;

/// `SSH_CONNECTION` of the login this process belongs to. On the live root it is read from
/// the process tree, falling back to this process's own variable; for any other root
/// (an image, a test root) only the variable counts: the login is not the target's.
pub fn ssh_connection(live: bool) -> Option<String> {
    let own = std::env::var("SSH_CONNECTION").ok().filter(|v| !v.trim().is_empty());
    if !live {
        return own;
    }
    from_process_tree(std::process::id()).or(own)
}

/// Walks up from `pid` to the nearest sshd process owned by root, then takes
/// `SSH_CONNECTION` from the first process below it on the way back that has one: the
/// login's first process, whose environment sshd composed. A user can name a process
/// `sshd` or export a variable in a shell, but cannot make a root-owned sshd nor change
/// the environment an already running login shell started with.
pub fn from_process_tree(pid: u32) -> Option<String> {
    let mut path = vec![pid];
    let mut cur = pid;
    for _ in 0..64 {
        let parent = ppid(cur)?;
        if parent <= 1 {
            return None;
        }
        if comm(parent).is_some_and(|c| c == "sshd" || c.starts_with("sshd-")) && real_uid(parent) == Some(0) {
            return path.iter().rev().find_map(|p| environ_var(*p, "SSH_CONNECTION"));
        }
        path.push(parent);
        cur = parent;
    }
    None
}

/// macOS has no /proc: there `ps` reads the same from the kernel (root sees every
/// process's environment, as sudo gives).
fn no_proc() -> bool {
    !std::path::Path::new("/proc/self/stat").exists()
}

/// One field of `ps -o FIELD= -p PID`.
fn ps(pid: u32, field: &str) -> Option<String> {
    let out = duct::cmd!("ps", "-ww", "-o", format!("{field}="), "-p", pid.to_string())
        .stderr_null()
        .stdout_capture()
        .unchecked()
        .run()
        .ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned()).filter(|s| !s.is_empty())
}

/// `NAME`'s value in `ps -E -o command=` output (the command, then the environment):
/// the last occurrence, so that text in the command's own arguments cannot pose as it.
/// `SSH_CONNECTION`'s value has four fields.
fn from_ps_environment(line: &str, name: &str) -> Option<String> {
    let prefix = format!(" {name}=");
    let at = line.rfind(&prefix)? + prefix.len();
    let fields: Vec<&str> = line[at..].split_whitespace().take(4).collect();
    (fields.len() == 4).then(|| fields.join(" "))
}

fn real_uid(pid: u32) -> Option<u32> {
    if no_proc() {
        return ps(pid, "ruid")?.parse().ok();
    }
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
}

fn ppid(pid: u32) -> Option<u32> {
    if no_proc() {
        return ps(pid, "ppid")?.parse().ok();
    }
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn comm(pid: u32) -> Option<String> {
    if no_proc() {
        return ps(pid, "ucomm");
    }
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_owned())
}

fn environ_var(pid: u32, name: &str) -> Option<String> {
    if no_proc() {
        let out = duct::cmd!("ps", "-E", "-ww", "-o", "command=", "-p", pid.to_string())
            .stderr_null()
            .stdout_capture()
            .unchecked()
            .run()
            .ok()?;
        return from_ps_environment(&String::from_utf8_lossy(&out.stdout), name);
    }
    let env = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let prefix = format!("{name}=");
    env.split(|b| *b == 0)
        .filter_map(|kv| std::str::from_utf8(kv).ok())
        .find_map(|kv| kv.strip_prefix(&prefix).map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_ps_shows_on_a_mac_is_read_after_the_command() {
        let line = "-zsh -c echo SSH_CONNECTION=6.6.6.6 1 6.6.6.6 22 TERM=xterm SSH_CONNECTION=203.0.113.9 51234 192.0.2.10 2222 USER=alice";
        assert_eq!(from_ps_environment(line, "SSH_CONNECTION").as_deref(), Some("203.0.113.9 51234 192.0.2.10 2222"));
        assert_eq!(from_ps_environment("-zsh USER=alice", "SSH_CONNECTION"), None);
        assert_eq!(from_ps_environment("-zsh SSH_CONNECTION=1.2.3.4 5", "SSH_CONNECTION"), None);
    }

    #[test]
    fn ppid_of_this_process_is_read_from_proc() {
        assert_eq!(ppid(std::process::id()), Some(std::os::unix::process::parent_id()));
    }

    #[test]
    fn the_real_uid_is_read_from_the_process_table() {
        // SAFETY: getuid(2) cannot fail and touches no memory.
        let uid = unsafe { libc::getuid() };
        assert_eq!(real_uid(std::process::id()), Some(uid));
    }

    #[test]
    fn another_root_takes_only_the_variable() {
        // Not the live root: the process tree is not consulted, whatever it holds.
        assert_eq!(ssh_connection(false), std::env::var("SSH_CONNECTION").ok().filter(|v| !v.trim().is_empty()));
    }
}
