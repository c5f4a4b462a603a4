//! Login users and their SSH keys, with the permission problems that make sshd's
//! `StrictModes` ignore a key without saying why to the client.

use std::os::unix::fs::MetadataExt;

use super::Root;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub name: String,
    pub uid: u32,
    pub home: String,
    /// Number of keys in `~/.ssh/authorized_keys`; None when this process may not read it
    /// (not root): unknown, not zero.
    pub authorized_keys: Option<usize>,
    /// Why sshd's StrictModes would refuse the keys (empty: fine).
    pub strict_modes_problems: Vec<String>,
}

impl UserFacts {
    /// Has keys that sshd will accept.
    pub fn can_log_in_with_key(&self) -> bool {
        self.authorized_keys.is_some_and(|n| n > 0) && self.strict_modes_problems.is_empty()
    }

    /// Has keys, or may have them (unreadable without root).
    pub fn may_have_keys(&self) -> bool {
        self.authorized_keys != Some(0)
    }
}

/// Users who can log in: root and uid ≥ 1000 with a real shell.
pub fn probe(root: &Root) -> Vec<UserFacts> {
    let passwd = root.read("/etc/passwd").unwrap_or_default();
    let mut users = Vec::new();
    for line in passwd.lines() {
        let f: Vec<&str> = line.split(':').collect();
        if f.len() < 7 {
            continue;
        }
        let (name, uid, home, shell) = (f[0], f[2].parse::<u32>().unwrap_or(u32::MAX), f[5], f[6]);
        let login_shell = !(shell.ends_with("nologin") || shell.ends_with("/false") || shell.is_empty());
        if !(uid == 0 || (1000..65534).contains(&uid)) || !login_shell {
            continue;
        }
        let keys_path = format!("{}/.ssh/authorized_keys", home.trim_end_matches('/'));
        let authorized_keys = match std::fs::read_to_string(root.path(&keys_path)) {
            Ok(t) => Some(t.lines().filter(|l| is_key_line(l)).count()),
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => None,
            Err(_) => Some(0),
        };
        let strict_modes_problems =
            if authorized_keys.is_some_and(|n| n > 0) { strict_modes(root, uid, home, &keys_path) } else { Vec::new() };
        users.push(UserFacts {
            name: name.to_owned(),
            uid,
            home: home.to_owned(),
            authorized_keys,
            strict_modes_problems,
        });
    }
    users
}

fn is_key_line(l: &str) -> bool {
    let t = l.trim();
    !t.is_empty() && !t.starts_with('#') && (t.contains("ssh-") || t.contains("ecdsa-") || t.contains("sk-"))
}

/// sshd refuses keys when the home, `~/.ssh` or the keys file is writable by group or
/// others, or owned by someone other than the user or root.
fn strict_modes(root: &Root, uid: u32, home: &str, keys_path: &str) -> Vec<String> {
    let ssh_dir = format!("{}/.ssh", home.trim_end_matches('/'));
    let mut problems = Vec::new();
    for (p, what) in
        [(home, "home directory"), (ssh_dir.as_str(), ".ssh directory"), (keys_path, "authorized_keys file")]
    {
        let Ok(meta) = std::fs::metadata(root.path(p)) else {
            continue;
        };
        let mode = meta.mode() & 0o777;
        if mode & 0o022 != 0 {
            problems.push(format!("{what} {p} is writable by group or others (mode {mode:o}): run `chmod go-w {p}`"));
        }
        if meta.uid() != uid && meta.uid() != 0 {
            problems
                .push(format!("{what} {p} belongs to uid {} instead of the user: run `chown {uid} {p}`", meta.uid()));
        }
    }
    problems
}

/// An entry of /etc/passwd with what makes it powerful: a login shell, and membership of
/// the groups that grant root or the container engine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub login_shell: bool,
    /// Of sudo, adm, docker, wheel, admin: the groups this account is in (primary or not).
    pub privileged_groups: Vec<String>,
}

/// Groups whose members are as good as root on this host (or read its logs).
pub const PRIVILEGED_GROUPS: &[&str] = &["sudo", "adm", "docker", "wheel", "admin"];

/// Every account in /etc/passwd, with its privileged groups from /etc/group.
pub fn accounts(root: &Root) -> Vec<Account> {
    let passwd = root.read("/etc/passwd").unwrap_or_default();
    let group = root.read("/etc/group").unwrap_or_default();
    let groups: Vec<(&str, u32, Vec<&str>)> = group
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4)
                .then(|| (f[0], f[2].parse().unwrap_or(u32::MAX), f[3].split(',').filter(|m| !m.is_empty()).collect()))
        })
        .collect();
    passwd
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            if f.len() < 7 {
                return None;
            }
            let (name, uid, gid, shell) = (f[0], f[2].parse().ok()?, f[3].parse().ok()?, f[6]);
            let login_shell = !(shell.ends_with("nologin") || shell.ends_with("/false") || shell.trim().is_empty());
            let privileged_groups = groups
                .iter()
                .filter(|(g, id, members)| PRIVILEGED_GROUPS.contains(g) && (*id == gid || members.contains(&name)))
                .map(|(g, _, _)| g.to_string())
                .collect();
            Some(Account { name: name.to_owned(), uid, gid, login_shell, privileged_groups })
        })
        .collect()
}

/// The gids of the privileged groups.
pub fn privileged_gids(root: &Root) -> Vec<(String, u32)> {
    root.read("/etc/group")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 3 && PRIVILEGED_GROUPS.contains(&f[0])).then(|| Some((f[0].to_owned(), f[2].parse().ok()?)))?
        })
        .collect()
}
