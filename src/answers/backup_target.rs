//! Where backups go: a restic repository on another machine (SFTP or rclone), never a
//! path on this one.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::types::{AbsPath, Invalid, UnixUser, invalid, shown, text_value};

// ---------------------------------------------------------------------------------------

/// Where restic keeps the backups, in restic's own syntax.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupTarget {
    /// `sftp:user@host:/path`
    Sftp { user: UnixUser, host: String, path: String },
    /// `rest:https://host:8000/repo`
    Rest { url: String },
    /// `s3:https://s3.example.com/bucket/prefix`
    S3 { url: String },
    /// `/srv/backup` — a directory on this machine.
    Local { path: AbsPath },
}

impl BackupTarget {
    /// The host part, for the remote kinds.
    pub fn host(&self) -> Option<&str> {
        match self {
            BackupTarget::Sftp { host, .. } => Some(host),
            BackupTarget::Rest { url } | BackupTarget::S3 { url } => {
                let after = url.split_once("://").map(|(_, r)| r)?;
                let hostport = after.split('/').next()?;
                let hostport = hostport.rsplit_once('@').map(|(_, h)| h).unwrap_or(hostport);
                if let Some(v6) = hostport.strip_prefix('[') {
                    return v6.split(']').next();
                }
                Some(hostport.split(':').next().unwrap_or(hostport))
            }
            BackupTarget::Local { .. } => None,
        }
    }

    /// Whether this target is on the machine being protected, judged from the text alone
    /// (a local path, `localhost`, a loopback address). The plan adds the host's own names.
    pub fn is_this_machine(&self, own_names: &[String]) -> bool {
        match self.host() {
            None => true,
            Some(h) => {
                let h = h.to_ascii_lowercase();
                h == "localhost"
                    || h.ends_with(".localhost")
                    || h.parse::<IpAddr>().is_ok_and(|a| a.is_loopback() || a.is_unspecified())
                    || own_names.iter().any(|n| n.eq_ignore_ascii_case(&h))
            }
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            BackupTarget::Sftp { .. } => "sftp",
            BackupTarget::Rest { .. } => "rest",
            BackupTarget::S3 { .. } => "s3",
            BackupTarget::Local { .. } => "local",
        }
    }
}

fn url_ok(url: &str) -> bool {
    let Some((scheme, rest)) = url.split_once("://") else {
        return false;
    };
    matches!(scheme, "http" | "https")
        && !rest.is_empty()
        && !rest.starts_with('/')
        && rest.bytes().all(|b| b.is_ascii_graphic() && !b"\"'`<>\\{}|^#".contains(&b))
}

/// A user or password in a URL's authority (`https://user:pw@host/…`).
fn has_userinfo(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().is_some_and(|authority| authority.contains('@'))
}

impl FromStr for BackupTarget {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type a restic repository off this server: `sftp:user@host:/path`, \
                    `rest:https://host:8000/repo` or `s3:https://s3.example.com/bucket`";
        if let Some(rest) = s.strip_prefix("sftp:") {
            let (userhost, path) =
                rest.split_once(':').ok_or_else(|| invalid(format!("{} lacks `:/path`: {hint}", shown(s))))?;
            let (user, host) =
                userhost.split_once('@').ok_or_else(|| invalid(format!("{} lacks `user@`: {hint}", shown(s))))?;
            let user: UnixUser = user.parse()?;
            // A host that starts with `-` would be an option to ssh (restic hands it over).
            let host_ok = host.as_bytes().first().is_some_and(u8::is_ascii_alphanumeric)
                && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.".contains(&b));
            let path_ok = !path.is_empty()
                && !path.starts_with('-')
                && path.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-+@/~".contains(&b));
            if !host_ok || !path_ok {
                return Err(invalid(format!("{} is not a valid sftp repository: {hint}", shown(s))));
            }
            return Ok(BackupTarget::Sftp { user, host: host.to_ascii_lowercase(), path: path.to_owned() });
        }
        for (prefix, what) in [("rest:", "rest-server"), ("s3:", "S3")] {
            if s.strip_prefix(prefix).is_some_and(has_userinfo) {
                return Err(invalid(format!(
                    "the {what} URL carries a user or password: the answers file is readable by every user of this host, so a password never goes there. Give the URL without `user:password@` (a rest-server on a private network, S3 credentials from the environment of the backup unit), or use `sftp:user@host:/path` with an SSH key"
                )));
            }
        }
        if let Some(url) = s.strip_prefix("rest:") {
            if !url_ok(url) {
                return Err(invalid(format!("{} is not a valid rest-server URL: {hint}", shown(s))));
            }
            return Ok(BackupTarget::Rest { url: url.to_owned() });
        }
        if let Some(url) = s.strip_prefix("s3:") {
            if !url_ok(url) {
                return Err(invalid(format!("{} is not a valid S3 URL: {hint}", shown(s))));
            }
            return Ok(BackupTarget::S3 { url: url.to_owned() });
        }
        if s.starts_with('/') {
            return Ok(BackupTarget::Local { path: s.parse()? });
        }
        Err(invalid(format!("{} is not a backup destination: {hint}", shown(s))))
    }
}

impl fmt::Display for BackupTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupTarget::Sftp { user, host, path } => write!(f, "sftp:{user}@{host}:{path}"),
            BackupTarget::Rest { url } => write!(f, "rest:{url}"),
            BackupTarget::S3 { url } => write!(f, "s3:{url}"),
            BackupTarget::Local { path } => write!(f, "{path}"),
        }
    }
}
text_value!(BackupTarget, "a restic repository");
