//! The SSH login this process runs in — also under `sudo`, which resets the environment
//! (Debian's and Ubuntu's default `env_reset`), so `SSH_CONNECTION` is gone (PITFALLS 21).
//!
//! On the live system the truth is in the process tree: sshd starts the login's first
//! process with `SSH_CONNECTION` in its environment, and every command of that login
//! descends from it. The nearest ancestor whose parent is sshd (`sshd`, or `sshd-session`
//! since OpenSSH 9.8) carries the value sshd set; a value exported later by hand in a
//! shell further down does not count. Reading another user's `/proc/PID/environ` needs
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

/// Walks up from `pid` to the process sshd started and returns its `SSH_CONNECTION`.
pub fn from_process_tree(pid: u32) -> Option<String> {
    let mut pid = pid;
    for _ in 0..64 {
        let parent = ppid(pid)?;
        if parent <= 1 {
            return None;
        }
        if comm(parent).is_some_and(|c| c == "sshd" || c.starts_with("sshd-")) {
            return environ_var(pid, "SSH_CONNECTION");
        }
        pid = parent;
    }
    None
}

fn ppid(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may contain spaces: fields follow the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn comm(pid: u32) -> Option<String> {
    fs::read_to_string(format!("/proc/{pid}/comm")).ok().map(|s| s.trim_end().to_owned())
}

fn environ_var(pid: u32, name: &str) -> Option<String> {
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
    fn ppid_of_this_process_is_read_from_proc() {
        assert_eq!(ppid(std::process::id()), Some(std::os::unix::process::parent_id()));
    }

    #[test]
    fn another_root_takes_only_the_variable() {
        // Not the live root: the process tree is not consulted, whatever it holds.
        assert_eq!(ssh_connection(false), std::env::var("SSH_CONNECTION").ok().filter(|v| !v.trim().is_empty()));
    }
}
