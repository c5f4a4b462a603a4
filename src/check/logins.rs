//! SSH logins since the last check, from `/var/log/auth.log` or, on hosts without it, the
//! journal. What is normal is learned (which user logs in with which key, from where); a
//! login by a user outside the allowed ones, with a key or from an address never seen for
//! that user, or with a password at all, is news.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Finding, finding};
use crate::plan::Severity;

/// The logins seen so far, and how far the logs were read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Known {
    /// `user SHA256:…` for key logins, `user password` for the others.
    pub keys: BTreeSet<String>,
    /// `user address`.
    pub from: BTreeSet<String>,
    /// Bytes of auth.log already read.
    pub auth_log_read: u64,
    /// The journal was read up to this time (seconds since the epoch).
    pub journal_read: u64,
}

/// One login sshd accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    pub user: String,
    pub from: String,
    /// `publickey`, `password`, `keyboard-interactive/pam`…
    pub method: String,
    /// The key's fingerprint (sshd logs it at LogLevel VERBOSE, which clawguard sets).
    pub key: Option<String>,
}

/// The logins in sshd's log lines (syslog or `journalctl -o short-unix`).
pub fn parse(log: &str) -> Vec<Login> {
    let clean = |s: &str| s.chars().filter(|c| !c.is_control()).take(64).collect::<String>();
    log.lines()
        .filter_map(|l| {
            let rest = &l[l.find("]: Accepted ")? + 12..];
            let (method, rest) = rest.split_once(" for ")?;
            let (user, rest) = rest.split_once(" from ")?;
            let (from, rest) = rest.split_once(" port ")?;
            let key = rest.split_whitespace().find(|w| w.starts_with("SHA256:")).map(clean);
            Some(Login { user: clean(user), from: clean(from), method: clean(method), key })
        })
        .collect()
}

/// Where this run reads logins from.
pub enum Source<'a> {
    /// The whole of auth.log.
    AuthLog(Vec<u8>),
    /// sshd's journal entries since a time (seconds since the epoch).
    Journal(&'a dyn Fn(u64) -> Option<String>),
    Nothing,
}

impl Known {
    /// Reads what the logs add since `self`; the findings (none on a `first` run, which
    /// learns) and what is known after.
    pub fn update(&self, source: Source, allowed: &[String], first: bool, now: u64) -> (Vec<Finding>, Known) {
        let mut next = self.clone();
        let (text, from_where) = match source {
            Source::AuthLog(bytes) => {
                // A file shorter than what was read was rotated: read it from its start.
                let start = if (bytes.len() as u64) < self.auth_log_read { 0 } else { self.auth_log_read as usize };
                next.auth_log_read = bytes.len() as u64;
                (String::from_utf8_lossy(&bytes[start..]).into_owned(), "auth.log")
            }
            Source::Journal(read) => match read(self.journal_read) {
                Some(t) => {
                    next.journal_read = now;
                    (t, "the journal")
                }
                None => {
                    return (
                        vec![finding(
                            Severity::Warning,
                            "sshd's journal cannot be read: SSH logins are not looked at this time.",
                        )],
                        next,
                    );
                }
            },
            Source::Nothing => return (Vec::new(), next),
        };
        let logins = parse(&text);
        let mut out = Vec::new();
        let mut said = BTreeSet::new();
        for l in &logins {
            let key = format!("{} {}", l.user, l.key.as_deref().unwrap_or("password"));
            let from = format!("{} {}", l.user, l.from);
            let news = if !l.method.starts_with("publickey") {
                Some((
                    Severity::Danger,
                    format!(
                        "`{}` logged in over SSH with a {} from {}: clawguard turned password logins off, so something turned them back on. If it was not you, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.",
                        l.user, l.method, l.from
                    ),
                ))
            } else if !allowed.is_empty() && !allowed.contains(&l.user) {
                Some((
                    Severity::Danger,
                    format!(
                        "`{}` logged in over SSH from {}, and is not an allowed user ({}): sshd's AllowUsers was changed. If it was not you, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.",
                        l.user,
                        l.from,
                        allowed.join(", ")
                    ),
                ))
            } else if !first && !next.keys.contains(&key) {
                Some((
                    Severity::Warning,
                    format!(
                        "`{}` logged in over SSH with a key never seen before ({}) from {}. If it was not you, remove the key and treat it as an intrusion: see /etc/clawguard/RECOVERY.md.",
                        l.user,
                        l.key.as_deref().unwrap_or("?"),
                        l.from
                    ),
                ))
            } else if !first && !next.from.contains(&from) {
                Some((
                    Severity::Warning,
                    format!(
                        "`{}` logged in over SSH from {}, an address never seen for this user before. If it was not you, treat it as an intrusion: see /etc/clawguard/RECOVERY.md.",
                        l.user, l.from
                    ),
                ))
            } else {
                None
            };
            next.keys.insert(key);
            next.from.insert(from);
            if let Some((severity, text)) = news
                && said.insert(text.clone())
            {
                out.push(finding(severity, text));
            }
        }
        if first {
            out.push(finding(Severity::Note, format!("Learned {} SSH login(s) from {from_where}: later logins with another key or from another address are reported.", logins.len())));
        }
        (out, next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "Nov 28 11:00:00 vps sshd[4242]: Accepted publickey for debian from 10.0.0.1 port 50000 ssh2: ED25519 SHA256:aaaa\n\
        Nov 28 11:00:01 vps sshd[4242]: Connection closed by 10.0.0.9 port 1\n";

    #[test]
    fn accepted_lines_are_read_from_syslog_and_the_journal() {
        let l = &parse(LOG)[0];
        assert_eq!((l.user.as_str(), l.from.as_str(), l.method.as_str()), ("debian", "10.0.0.1", "publickey"));
        assert_eq!(l.key.as_deref(), Some("SHA256:aaaa"));
        let j = "1764327600.123456 vps sshd-session[77]: Accepted password for root from 203.0.113.9 port 2 ssh2\n";
        assert_eq!(parse(j)[0].method, "password");
        assert_eq!(parse(LOG).len(), 1);
    }

    #[test]
    fn the_first_run_learns_then_a_new_key_or_address_is_news_once() {
        let allowed = vec!["debian".to_owned()];
        let (f, known) = Known::default().update(Source::AuthLog(LOG.into()), &allowed, true, 0);
        assert!(f.iter().all(|f| f.severity == Severity::Note), "{f:?}");
        let more = format!(
            "{LOG}Nov 28 12:00:00 vps sshd[9]: Accepted publickey for debian from 198.51.100.4 port 1 ssh2: ED25519 SHA256:bbbb\nNov 28 12:00:05 vps sshd[9]: Accepted publickey for debian from 198.51.100.4 port 2 ssh2: ED25519 SHA256:bbbb\n"
        );
        let (f, known) = known.update(Source::AuthLog(more.clone().into()), &allowed, false, 0);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].text.contains("SHA256:bbbb"), "{f:?}");
        // Read already: nothing again.
        let (f, _) = known.update(Source::AuthLog(more.into()), &allowed, false, 0);
        assert!(f.is_empty(), "{f:?}");
        let intruder = "Nov 28 13:00:00 vps sshd[9]: Accepted publickey for mallory from 203.0.113.7 port 3 ssh2: RSA SHA256:cccc\n";
        let (f, _) = known.update(Source::AuthLog(intruder.into()), &allowed, false, 0);
        assert!(f[0].severity == Severity::Danger && f[0].text.contains("not an allowed user"), "{f:?}");
    }
}
