//! SSH logins since the last check, from `/var/log/auth.log` or, on hosts without it, the
//! journal. What is normal is learned (which user logs in with which key, from where); a
//! login by a user outside the allowed ones, with a key or from an address never seen for
//! that user, or with a password at all, is news.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::{Finding, finding};
use crate::plan::Severity;

/// The most of auth.log one run reads (the newest, when more was written since).
const AUTH_LOG_CAP: u64 = crate::target::untrusted::MAX_READ;

/// The logins seen so far, and how far the logs were read.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Known {
    /// `user SHA256:…` for key logins, `user password` for the others.
    pub keys: BTreeSet<String>,
    /// `user address`.
    pub from: BTreeSet<String>,
    /// How far auth.log was read, and which file that was.
    pub auth_log: super::tail::Mark,
    /// The journal was read up to this time (seconds since the epoch).
    pub journal_read: u64,
}

/// One login sshd accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Login {
    /// An account name (the shape [`account_name`] allows).
    pub user: String,
    /// The client's address, as parsed.
    pub from: std::net::IpAddr,
    /// `publickey`, `password`, `keyboard-interactive/pam`…
    pub method: String,
    /// The key's fingerprint (sshd logs it at LogLevel VERBOSE, which clawguard sets).
    pub key: Option<String>,
}

/// The programs that log sshd's logins: `sshd`, and `sshd-session` from OpenSSH 9.8 on.
const SSHD: [&str; 2] = ["sshd", "sshd-session"];

/// The methods sshd authenticates with (`auth2.c`'s method names), before any `/submethod`.
const METHODS: [&str; 6] = ["publickey", "password", "keyboard-interactive", "hostbased", "gssapi-with-mic", "none"];

/// A login sshd logged, from one of its messages — the exact grammar of OpenSSH's
/// `auth_log()` (`Accepted <method> for <user> from <address> port <port> ssh2[: <type>
/// <fingerprint>…]`), as the whole message, never a part of one. sshd also logs what a
/// stranger sends (a user name, a banner) inside its other messages: such a message never
/// *starts* with `Accepted`, and a name or address that does not parse is not a login.
pub fn parse_message(message: &str) -> Option<Login> {
    let w: Vec<&str> = message.split(' ').collect();
    let ["Accepted", method, "for", user, "from", from, "port", port, ssh2, info @ ..] = w.as_slice() else {
        return None;
    };
    let (base, sub) = method.split_once('/').unwrap_or((method, ""));
    let sub_ok = sub.bytes().all(|b| b.is_ascii_lowercase() || b == b'-');
    if !METHODS.contains(&base) || !sub_ok || !account_name(user) || port.parse::<u16>().is_err() {
        return None;
    }
    let from: std::net::IpAddr = from.parse().ok()?;
    let key = match (*ssh2, info) {
        ("ssh2", []) => None,
        ("ssh2:", [kind, fingerprint, ..]) => {
            let kind_ok = !kind.is_empty() && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b"-@.".contains(&b));
            let fp = fingerprint.strip_prefix("SHA256:")?;
            let fp_ok = !fp.is_empty() && fp.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b));
            if !kind_ok || !fp_ok {
                return None;
            }
            Some(fingerprint.to_string())
        }
        _ => return None,
    };
    Some(Login { user: user.to_string(), from, method: method.to_string(), key })
}

/// A name an account can have (what `useradd` takes, and Samba's trailing `$`); what sshd
/// prints for an accepted login is always one.
fn account_name(s: &str) -> bool {
    let body = s.strip_suffix('$').unwrap_or(s);
    !body.is_empty()
        && s.len() <= 64
        && !body.starts_with('-')
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
}

/// The program, its PID and the message of one syslog line as rsyslog writes auth.log:
/// `<time> <host> <program>[<pid>]: <message>`, the time either traditional (`Nov  7
/// 11:00:00`) or RFC 3339 (`2026-11-07T11:00:00.000000+00:00`). The header is read from the
/// line's start, so text inside a message never becomes a header.
fn syslog_line(line: &str) -> Option<(&str, u32, &str)> {
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let rest = if MONTHS.iter().any(|m| line.starts_with(m) && line.as_bytes().get(3) == Some(&b' ')) {
        // `Nov  7 11:00:00 ` or `Nov 28 11:00:00 `: the day is padded to two places.
        let (day, rest) = line[4..].trim_start_matches(' ').split_once(' ')?;
        let (time, rest) = rest.split_once(' ')?;
        let time_ok = time.len() == 8
            && time.bytes().enumerate().all(|(i, b)| if i % 3 == 2 { b == b':' } else { b.is_ascii_digit() });
        if day.is_empty() || day.len() > 2 || !day.bytes().all(|b| b.is_ascii_digit()) || !time_ok {
            return None;
        }
        rest
    } else {
        let (stamp, rest) = line.split_once(' ')?;
        let stamp_ok = stamp.len() >= 19
            && stamp.as_bytes()[..4].iter().all(u8::is_ascii_digit)
            && stamp.as_bytes()[10] == b'T'
            && stamp.bytes().all(|b| b.is_ascii_digit() || b"-:T.+Z".contains(&b));
        if !stamp_ok {
            return None;
        }
        rest
    };
    let (_host, rest) = rest.split_once(' ')?;
    let (tag, message) = rest.split_once("]: ")?;
    let (program, pid) = tag.split_once('[')?;
    let pid_ok = !pid.is_empty() && pid.len() <= 10 && pid.bytes().all(|b| b.is_ascii_digit());
    if program.is_empty() || program.contains(' ') || !pid_ok {
        return None;
    }
    Some((program, pid.parse().ok()?, message))
}

/// The logins in auth.log's lines: only lines whose syslog header names sshd.
pub fn parse(log: &str) -> Vec<Login> {
    log.lines()
        .filter_map(syslog_line)
        .filter(|(program, _, _)| SSHD.contains(program))
        .filter_map(|(_, _, message)| parse_message(message))
        .collect()
}

/// The logins in `journalctl -o json` entries: only entries the journal itself stamped as
/// sshd's running as root (`_COMM` and `_UID` are fields journald sets from the kernel's
/// view of the sender, which no sender can write; `SYSLOG_IDENTIFIER` is the sender's word).
pub fn parse_journal(json_lines: &str) -> Vec<Login> {
    json_lines
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|e| e["_COMM"].as_str().is_some_and(|c| SSHD.contains(&c)) && e["_UID"].as_str() == Some("0"))
        // A message that is not valid UTF-8 comes as an array of bytes: not sshd's login.
        .filter_map(|e| e["MESSAGE"].as_str().and_then(parse_message))
        .collect()
}

/// Where this run reads logins from.
pub enum Source<'a> {
    /// auth.log, read from where the last run stopped ([`super::tail`]).
    AuthLog(std::path::PathBuf),
    /// sshd's journal entries since a time (seconds since the epoch), as `journalctl -o json`.
    Journal(&'a dyn Fn(u64) -> Option<String>),
    Nothing,
}

impl Known {
    /// Reads what the logs add since `self`; the findings (none on a `first` run, which
    /// learns) and what is known after.
    pub fn update(&self, source: Source, allowed: &[String], first: bool, now: u64) -> (Vec<Finding>, Known) {
        let mut next = self.clone();
        let mut skipped = None;
        let (logins, from_where) = match source {
            Source::AuthLog(path) => match super::tail::read_since(&path, &self.auth_log, AUTH_LOG_CAP) {
                Ok(t) => {
                    next.auth_log = t.mark;
                    if t.skipped > 0 {
                        skipped = Some(finding(
                            "ssh.auth-log-skipped",
                            Severity::Warning,
                            format!(
                                "auth.log grew by more than the {} MiB the check reads in one run: its oldest {} KiB since the last check were not looked at for SSH logins (a flood of failed logins can bury one). `sudo grep 'Accepted ' /var/log/auth.log` lists them all.",
                                AUTH_LOG_CAP >> 20,
                                t.skipped.div_ceil(1024)
                            ),
                        ));
                    }
                    (parse(&t.text), "auth.log")
                }
                // Without root: said by the caller, which knows it runs without root.
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => return (Vec::new(), next),
                Err(e) => {
                    return (
                        vec![finding(
                            "ssh.auth-log-unreadable",
                            Severity::Warning,
                            format!("/var/log/auth.log cannot be read ({e}): SSH logins are not looked at this time."),
                        )],
                        next,
                    );
                }
            },
            Source::Journal(read) => match read(self.journal_read) {
                Some(t) => {
                    next.journal_read = now;
                    (parse_journal(&t), "the journal")
                }
                None => {
                    return (
                        vec![finding(
                            "ssh.journal-unreadable",
                            Severity::Warning,
                            "sshd's journal cannot be read: SSH logins are not looked at this time.",
                        )],
                        next,
                    );
                }
            },
            Source::Nothing => return (Vec::new(), next),
        };
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
                out.push(finding("ssh.login-new", severity, text));
            }
        }
        out.extend(skipped);
        if first {
            out.push(finding("ssh.logins-learned", Severity::Note, format!("Learned {} SSH login(s) from {from_where}: later logins with another key or from another address are reported.", logins.len())));
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
        assert_eq!(
            (l.user.as_str(), l.from.to_string().as_str(), l.method.as_str()),
            ("debian", "10.0.0.1", "publickey")
        );
        assert_eq!(l.key.as_deref(), Some("SHA256:aaaa"));
        assert_eq!(parse(LOG).len(), 1);
        // rsyslog's RFC 3339 stamp (Debian's default), a one-digit day, OpenSSH 9.8's
        // sshd-session, keyboard-interactive through PAM.
        let more = "2026-11-28T11:00:00.123456+00:00 vps sshd-session[77]: Accepted password for root from 203.0.113.9 port 2 ssh2\n\
            Nov  7 11:00:00 vps sshd[5]: Accepted keyboard-interactive/pam for alice from 2001:db8::1 port 3 ssh2\n";
        let got: Vec<_> = parse(more).into_iter().map(|l| (l.user, l.method)).collect();
        assert_eq!(got, [("root".into(), "password".into()), ("alice".into(), "keyboard-interactive/pam".into())]);
        let j = r#"{"_COMM":"sshd-session","_UID":"0","_PID":"77","MESSAGE":"Accepted password for root from 203.0.113.9 port 2 ssh2"}"#;
        assert_eq!(parse_journal(j)[0].method, "password");
    }

    /// What a stranger controls reaches sshd's log inside sshd's other messages: a user
    /// name (`Invalid user …`, `Connection closed by invalid user …`), a client banner, a
    /// key comment; a local user controls a whole line through `logger`, a process named
    /// `sshd` in the journal. None of them is a login; each has a real login beside it.
    #[test]
    fn text_a_stranger_writes_into_the_log_is_never_a_login() {
        let fake = "Accepted password for root from 203.0.113.66 port 4 ssh2";
        let syslog = [
            format!("Nov 28 11:00:00 vps sshd[9]: Invalid user x]: {fake} from 10.0.0.9 port 5"),
            format!(
                "Nov 28 11:00:00 vps sshd[9]: Connection closed by invalid user ]: {fake} 10.0.0.9 port 5 [preauth]"
            ),
            format!("Nov 28 11:00:00 vps sshd[9]: Bad protocol version identification '{fake}' from 10.0.0.9 port 5"),
            format!(
                "Nov 28 11:00:00 vps sshd[9]: banner exchange: Connection from 10.0.0.9 port 5: invalid format {fake}"
            ),
            format!("Nov 28 11:00:00 vps sshd[9]: Invalid user Nov 28 11:00:00 vps sshd[2]: {fake}"),
            format!(
                "Nov 28 11:00:00 vps sshd[9]: Failed password for invalid user x from 10.0.0.9 port 5 ssh2: {fake}"
            ),
            format!("Nov 28 11:00:00 vps logger[9]: vps sshd[2]: {fake}"),
            format!("Nov 28 11:00:00 vps CRON[9]: {fake}"),
            format!("Nov 28 11:00:00 vps sshd: {fake}"),
            format!("not a stamp vps sshd[9]: {fake}"),
            format!("Nov 28 11:00:00 vps sshd[9]:  {fake}"),
            format!("Nov 28 11:00:00 vps sshd[9]: {fake} extra"),
            "Nov 28 11:00:00 vps sshd[9]: Accepted password for -oProxyCommand=x from 203.0.113.66 port 4 ssh2".into(),
            "Nov 28 11:00:00 vps sshd[9]: Accepted password for root from not-an-address port 4 ssh2".into(),
            "Nov 28 11:00:00 vps sshd[9]: Accepted password for root from 203.0.113.66 port 99999 ssh2".into(),
            "Nov 28 11:00:00 vps sshd[9]: Accepted magic for root from 203.0.113.66 port 4 ssh2".into(),
            "Nov 28 11:00:00 vps sshd[9]: Accepted publickey for root from 203.0.113.66 port 4 ssh2: ED25519 MD5:aa"
                .into(),
        ];
        for line in &syslog {
            assert!(parse(line).is_empty(), "read as a login: {line}");
        }
        let real = format!("Nov 28 11:00:00 vps sshd[9]: {fake}");
        assert_eq!(parse(&real).len(), 1, "positive control");

        let entry = |comm: &str, uid: &str, message: &str| {
            serde_json::json!({ "_COMM": comm, "_UID": uid, "_PID": "9", "SYSLOG_IDENTIFIER": "sshd", "MESSAGE": message })
                .to_string()
        };
        let journal = [
            entry("sshd", "0", &format!("Invalid user x]: {fake} from 10.0.0.9 port 5")),
            entry("sshd", "1000", fake),
            entry("logger", "0", fake),
            entry("sshd", "0", &format!("vps sshd[2]: {fake}")),
            r#"{"_COMM":"sshd","_UID":"0","MESSAGE":[65,99,99]}"#.to_owned(),
        ];
        assert!(parse_journal(&journal.join("\n")).is_empty(), "{journal:?}");
        assert_eq!(parse_journal(&entry("sshd", "0", fake)).len(), 1, "positive control");
        assert_eq!(parse_journal(&entry("sshd-session", "0", fake)).len(), 1, "positive control");
    }

    /// auth.log with `text` in a scratch directory (kept while the source is used).
    fn auth_log(dir: &tempfile::TempDir, text: &str) -> Source<'static> {
        let p = dir.path().join("auth.log");
        std::fs::write(&p, text).unwrap();
        Source::AuthLog(p)
    }

    /// A stranger's lines before the first run are not learned as normal: the real login
    /// with that key later is still news.
    #[test]
    fn a_forged_login_before_the_first_run_is_not_learned() {
        let d = tempfile::tempdir().unwrap();
        let allowed = vec!["debian".to_owned()];
        let forged = "Nov 28 10:00:00 vps sshd[3]: Invalid user x]: Accepted publickey for debian from 198.51.100.4 port 1 ssh2: ED25519 SHA256:bbbb from 198.51.100.4 port 1\n";
        let (_, known) = Known::default().update(auth_log(&d, &format!("{forged}{LOG}")), &allowed, true, 0);
        assert!(
            !known.keys.iter().any(|k| k.contains("bbbb")) && !known.from.iter().any(|k| k.contains("198.51")),
            "{known:?}"
        );
        let real = format!(
            "{forged}{LOG}Nov 28 12:00:00 vps sshd[9]: Accepted publickey for debian from 198.51.100.4 port 1 ssh2: ED25519 SHA256:bbbb\n"
        );
        let (f, _) = known.update(auth_log(&d, &real), &allowed, false, 0);
        assert!(f.iter().any(|f| f.text.contains("SHA256:bbbb")), "{f:?}");
    }

    #[test]
    fn the_first_run_learns_then_a_new_key_or_address_is_news_once() {
        let d = tempfile::tempdir().unwrap();
        let allowed = vec!["debian".to_owned()];
        let (f, known) = Known::default().update(auth_log(&d, LOG), &allowed, true, 0);
        assert!(f.iter().all(|f| f.severity == Severity::Note), "{f:?}");
        let more = format!(
            "{LOG}Nov 28 12:00:00 vps sshd[9]: Accepted publickey for debian from 198.51.100.4 port 1 ssh2: ED25519 SHA256:bbbb\nNov 28 12:00:05 vps sshd[9]: Accepted publickey for debian from 198.51.100.4 port 2 ssh2: ED25519 SHA256:bbbb\n"
        );
        let (f, known) = known.update(auth_log(&d, &more), &allowed, false, 0);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].text.contains("SHA256:bbbb"), "{f:?}");
        // Read already: nothing again.
        let (f, known) = known.update(auth_log(&d, &more), &allowed, false, 0);
        assert!(f.is_empty(), "{f:?}");
        let intruder = "Nov 28 13:00:00 vps sshd[9]: Accepted publickey for mallory from 203.0.113.7 port 3 ssh2: RSA SHA256:cccc\n";
        let (f, _) = known.update(auth_log(&d, intruder), &allowed, false, 0);
        assert!(f[0].severity == Severity::Danger && f[0].text.contains("not an allowed user"), "{f:?}");
    }
}
