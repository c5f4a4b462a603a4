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

fn real_uid(pid: u32) -> Option<u32> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("Uid:"))?.split_whitespace().next()?.parse().ok()
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
    fn the_real_uid_is_read_from_proc() {
        let me = fs::read_to_string("/proc/self/status").unwrap();
        let uid: u32 = me
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(real_uid(std::process::id()), Some(uid));
    }

    #[test]
    fn another_root_takes_only_the_variable() {
        // Not the live root: the process tree is not consulted, whatever it holds.
        assert_eq!(ssh_connection(false), std::env::var("SSH_CONNECTION").ok().filter(|v| !v.trim().is_empty()));
    }
}
