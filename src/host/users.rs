//! Login users and their SSH keys, with the permission problems that make sshd's
//! `StrictModes` ignore a key without saying why to the client.

use std::os::unix::fs::MetadataExt;

use super::authorized_keys::{self, KeyLine};
use crate::target::Root;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserFacts {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    /// Every group the user is in (the primary one included), by name.
    pub groups: Vec<String>,
    /// The files sshd reads this user's keys from (`AuthorizedKeysFile`, expanded).
    pub key_files: Vec<String>,
    /// The key lines of those files; None when this process may not read them (not root):
    /// unknown, not empty.
    pub keys: Option<Vec<KeyLine>>,
    /// Key files that exist but that sshd — which reads them as the user — cannot read
    /// (a home or .ssh the user cannot enter, a file the user cannot read).
    pub unreadable: Vec<String>,
    /// Why sshd's StrictModes would refuse the keys (empty: fine).
    pub strict_modes_problems: Vec<String>,
    /// The account's state in /etc/shadow; None when it cannot be read (not root).
    pub account: Option<AccountState>,
}

/// What /etc/shadow says about logging in at all, whatever the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AccountState {
    /// The account expired on this day (days since 1970-01-01), or will.
    pub expires: Option<u64>,
    /// The password field is locked (`!…`): sshd refuses such an account when it does not
    /// use PAM.
    pub locked: bool,
}

impl UserFacts {
    /// The number of well-formed keys (None: unknown without root).
    pub fn authorized_keys(&self) -> Option<usize> {
        self.keys.as_ref().map(|k| k.iter().filter(|l| matches!(l, KeyLine::Key(_))).count())
    }

    /// Has keys that sshd will accept.
    pub fn can_log_in_with_key(&self) -> bool {
        self.authorized_keys().is_some_and(|n| n > 0)
            && self.strict_modes_problems.is_empty()
            && self.unreadable.is_empty()
    }

    /// Has keys, or may have them (unreadable without root).
    pub fn may_have_keys(&self) -> bool {
        self.authorized_keys() != Some(0)
    }
}

/// sshd's default `AuthorizedKeysFile`.
pub const DEFAULT_KEY_FILES: &str = ".ssh/authorized_keys .ssh/authorized_keys2";

/// A name sshd takes literally in `AllowUsers` (no pattern characters, nothing that
/// would split it): what passwd may hold is not trusted to be one.
pub fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 32
        && !name.starts_with('-')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

/// The local accounts and groups: /etc/passwd and /etc/group on Linux; on macOS the
/// local directory node (`/var/db/dslocal`), where a Mac keeps its real users — its
/// /etc/passwd lists only system accounts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Directory {
    pub entries: Vec<Entry>,
    /// (name, gid, members) of every group.
    pub groups: Vec<(String, u32, Vec<String>)>,
    /// The first uid of a person's account (1000 on Debian, 501 on macOS).
    pub first_uid: u32,
    pub macos: bool,
}

/// One account as the directory has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: String,
    pub shell: String,
}

impl Entry {
    fn login_shell(&self) -> bool {
        !(self.shell.ends_with("nologin") || self.shell.ends_with("/false") || self.shell.trim().is_empty())
    }
}

/// macOS's local accounts and groups, one property list each.
pub const DSLOCAL_USERS: &str = "/var/db/dslocal/nodes/Default/users";
pub const DSLOCAL_GROUPS: &str = "/var/db/dslocal/nodes/Default/groups";

/// The directory of a Linux root.
pub fn passwd_directory(root: &Root) -> Directory {
    let entries = root
        .read("/etc/passwd")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            (f.len() >= 7).then(|| Entry {
                name: f[0].to_owned(),
                uid: f[2].parse::<u32>().unwrap_or(u32::MAX),
                gid: f[3].parse::<u32>().unwrap_or(u32::MAX),
                home: f[5].to_owned(),
                shell: f[6].to_owned(),
            })
        })
        .collect();
    Directory { entries, groups: group_table(root), first_uid: 1000, macos: false }
}

/// The directory of a macOS root; an error when its records cannot be read (they are
/// root's): unknown, never "no users".
pub fn mac_directory(root: &Root) -> Result<Directory, String> {
    let first = |v: &plist::Value, key: &str| -> Option<String> {
        v.as_dictionary()?.get(key)?.as_array()?.first()?.as_string().map(str::to_owned)
    };
    let records = |dir: &str| -> Result<Vec<plist::Value>, String> {
        let mut names: Vec<String> = std::fs::read_dir(root.path(dir))
            .map_err(|e| format!("{dir}: {e}"))?
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|n| n.ends_with(".plist") && !n.starts_with('.'))
            .collect();
        names.sort();
        names
            .iter()
            .map(|n| {
                super::platform::read_plist(root, &format!("{dir}/{n}"))
                    .and_then(|v| v.ok_or_else(|| format!("{dir}/{n} vanished")))
            })
            .collect()
    };
    let entries = records(DSLOCAL_USERS)?
        .iter()
        .filter_map(|v| {
            Some(Entry {
                name: first(v, "name")?,
                uid: first(v, "uid")?.parse().ok()?,
                gid: first(v, "gid").and_then(|g| g.parse().ok()).unwrap_or(u32::MAX),
                home: first(v, "home").unwrap_or_default(),
                shell: first(v, "shell").unwrap_or_default(),
            })
        })
        .collect();
    let groups = records(DSLOCAL_GROUPS)?
        .iter()
        .filter_map(|v| {
            let members = v
                .as_dictionary()
                .and_then(|d| d.get("users"))
                .and_then(|u| u.as_array())
                .map(|a| a.iter().filter_map(|m| m.as_string().map(str::to_owned)).collect())
                .unwrap_or_default();
            Some((first(v, "name")?, first(v, "gid")?.parse().ok()?, members))
        })
        .collect();
    Ok(Directory { entries, groups, first_uid: 501, macos: true })
}

/// Users who can log in: root and people's accounts (uid from `first_uid`) with a real
/// shell and a plain name, with the keys sshd would read for them (`key_files_setting`:
/// the effective AuthorizedKeysFile).
pub fn probe(root: &Root, dir: &Directory, key_files_setting: Option<&str>) -> Vec<UserFacts> {
    let groups = &dir.groups;
    let shadow = root.read("/etc/shadow");
    let account_of = |name: &str| -> Option<AccountState> {
        if dir.macos {
            // No shadow file: a Mac keeps the password hash in the directory record.
            return Some(AccountState { expires: None, locked: false });
        }
        let line = shadow.as_deref()?.lines().find(|l| l.split(':').next() == Some(name));
        let Some(line) = line else { return Some(AccountState { expires: None, locked: false }) };
        let f: Vec<&str> = line.split(':').collect();
        let pw = f.get(1).copied().unwrap_or_default();
        Some(AccountState {
            expires: f.get(7).and_then(|d| d.parse().ok()),
            // What OpenSSH on Linux takes as locked (`*` alone is "no password", not locked).
            locked: pw.starts_with('!') || pw.contains("*LOCKED*"),
        })
    };
    let mut users = Vec::new();
    for e in &dir.entries {
        let (name, uid, gid, home) = (e.name.as_str(), e.uid, e.gid, e.home.as_str());
        if !(uid == 0 || (dir.first_uid..65534).contains(&uid)) || !e.login_shell() || !plain_name(name) {
            continue;
        }
        let member_of: Vec<String> = groups
            .iter()
            .filter(|(_, id, members)| *id == gid || members.iter().any(|m| m == name))
            .map(|(g, _, _)| g.clone())
            .collect();
        let gids: Vec<u32> = groups.iter().filter(|(g, _, _)| member_of.contains(g)).map(|(_, id, _)| *id).collect();
        let key_files = key_files(key_files_setting.unwrap_or(DEFAULT_KEY_FILES), name, uid, home);
        let mut keys = Some(Vec::new());
        let mut unreadable = Vec::new();
        let mut strict_modes_problems = Vec::new();
        for file in &key_files {
            match std::fs::read_to_string(root.path(file)) {
                Ok(t) => {
                    if let Some(k) = keys.as_mut() {
                        k.extend(authorized_keys::parse(&t));
                    }
                    match user_can_read(root, file, uid, &gids) {
                        Ok(true) => {}
                        Ok(false) => unreadable.push(file.clone()),
                        Err(why) => unreadable.push(format!("{file} ({why})")),
                    }
                    strict_modes_problems.extend(strict_modes(root, uid, home, file));
                }
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => keys = None,
                Err(_) => {}
            }
        }
        strict_modes_problems.dedup();
        users.push(UserFacts {
            name: name.to_owned(),
            uid,
            gid,
            home: home.to_owned(),
            groups: member_of,
            key_files,
            keys,
            unreadable,
            strict_modes_problems,
            account: account_of(name),
        });
    }
    users
}

/// (name, gid, members) of every group.
fn group_table(root: &Root) -> Vec<(String, u32, Vec<String>)> {
    root.read("/etc/group")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() >= 4).then(|| {
                (
                    f[0].to_owned(),
                    f[2].parse().unwrap_or(u32::MAX),
                    f[3].split(',').filter(|m| !m.is_empty()).map(str::to_owned).collect(),
                )
            })
        })
        .collect()
}

/// `AuthorizedKeysFile` for one user: `%h`, `%u`, `%U`, `%%` expanded, relative paths
/// taken from the home; `none` reads no file.
pub fn key_files(setting: &str, name: &str, uid: u32, home: &str) -> Vec<String> {
    let home = home.trim_end_matches('/');
    setting
        .split_whitespace()
        .filter(|p| !p.eq_ignore_ascii_case("none"))
        .map(|p| {
            let p = p
                .replace("%%", "\u{0}")
                .replace("%h", home)
                .replace("%u", name)
                .replace("%U", &uid.to_string())
                .replace('\u{0}', "%");
            if p.starts_with('/') { p } else { format!("{home}/{p}") }
        })
        .collect()
}

/// Whether uid (in groups `gids`) may read `file`: every directory on the way searchable,
/// the file readable — sshd reads the keys as the user. Root may read anything.
fn user_can_read(root: &Root, file: &str, uid: u32, gids: &[u32]) -> Result<bool, String> {
    if uid == 0 {
        return Ok(true);
    }
    let allowed = |meta: &std::fs::Metadata, bit: u32| -> bool {
        let mode = meta.mode();
        if meta.uid() == uid {
            mode & (bit << 6) != 0
        } else if gids.contains(&meta.gid()) {
            mode & (bit << 3) != 0
        } else {
            mode & bit != 0
        }
    };
    let mut dir = String::new();
    let parts: Vec<&str> = file.split('/').filter(|p| !p.is_empty()).collect();
    for (i, part) in parts.iter().enumerate() {
        let is_file = i + 1 == parts.len();
        let meta = std::fs::metadata(root.path(if dir.is_empty() { "/" } else { &dir })).map_err(|e| e.to_string())?;
        if !allowed(&meta, 0o1) {
            return Ok(false);
        }
        dir = format!("{dir}/{part}");
        if is_file {
            let meta = std::fs::metadata(root.path(&dir)).map_err(|e| e.to_string())?;
            return Ok(allowed(&meta, 0o4));
        }
    }
    Ok(true)
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

/// Every account of the directory, with its privileged groups.
pub fn accounts(dir: &Directory) -> Vec<Account> {
    dir.entries
        .iter()
        .filter(|e| e.uid != u32::MAX && e.gid != u32::MAX)
        .map(|e| {
            let privileged_groups = dir
                .groups
                .iter()
                .filter(|(g, id, members)| {
                    PRIVILEGED_GROUPS.contains(&g.as_str()) && (*id == e.gid || members.contains(&e.name))
                })
                .map(|(g, _, _)| g.clone())
                .collect();
            Account { name: e.name.clone(), uid: e.uid, gid: e.gid, login_shell: e.login_shell(), privileged_groups }
        })
        .collect()
}

/// The gids of the privileged groups.
pub fn privileged_gids(dir: &Directory) -> Vec<(String, u32)> {
    dir.groups
        .iter()
        .filter(|(g, _, _)| PRIVILEGED_GROUPS.contains(&g.as_str()))
        .map(|(g, id, _)| (g.clone(), *id))
        .collect()
}
