//! Approve, don't guess: the destinations the agent's proxy refused since the last
//! decision about them, from squid's access log, and the decisions (allow, dismiss) that
//! close them. A refused request stays refused until a person says otherwise: nothing here
//! lets traffic out by itself, and allowing goes through the answers and one apply.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::answers::{Answers, DomainPattern};
use crate::check::proxy::{self, Refusal};
use crate::host::Facts;
use crate::target::{Root, STATE_DIR};

/// Where the decisions are kept, under clawguard's state directory.
pub const DECISIONS: &str = "/var/lib/clawguard/egress-decisions.json";

/// One destination waiting for a decision: its host, and the refusals since the last
/// decision about it.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    /// The host as the log names it (a name, or an address the agent asked for).
    pub host: String,
    pub count: usize,
    /// The first and last refusal (seconds since the epoch).
    pub first: f64,
    pub last: f64,
    /// The name, when it is one the allow-list can take (an address never is).
    pub name: Option<DomainPattern>,
}

/// What a person said about a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Allowed,
    Dismissed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    pub verdict: Verdict,
    /// When (seconds since the epoch): refusals after it are news again.
    pub at: u64,
}

/// The decisions, by host.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decisions(pub BTreeMap<String, Decision>);

#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    #[error(
        "{path} cannot be read ({why}): the decisions about refused hosts are unknown. Move it away to start again (every refused host is then listed), or restore it from a backup"
    )]
    Decisions { path: String, why: String },
    #[error("{path} cannot be written ({why}): the decision was not kept")]
    Save { path: String, why: String },
    #[error("the proxy's access log {path} cannot be read ({why}): {what_to_do}")]
    Log { path: String, why: String, what_to_do: &'static str },
    #[error(
        "`{0}` is not on the list of refused hosts: `sudo clawguard egress` lists them (a host is allowed or dismissed by the name it shows)"
    )]
    NotPending(String),
}

impl Decisions {
    /// The decisions kept on `root`; none when there is no file yet. A file that cannot be
    /// read or parsed is an error, never an empty list (which would show every refusal
    /// again as if nobody had looked).
    pub fn load(root: &Root) -> Result<Decisions, EgressError> {
        let fail = |why: String| EgressError::Decisions { path: DECISIONS.into(), why };
        match root.read_untrusted(DECISIONS, 4 << 20) {
            Ok((bytes, false)) => serde_json::from_slice(&bytes).map_err(|e| fail(e.to_string())),
            Ok((_, true)) => Err(fail("it is larger than 4 MiB".into())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Decisions::default()),
            Err(e) => Err(fail(e.to_string())),
        }
    }

    pub fn save(&self, root: &Root) -> Result<(), EgressError> {
        let fail = |why: String| EgressError::Save { path: DECISIONS.into(), why };
        std::fs::create_dir_all(root.path(STATE_DIR)).map_err(|e| fail(e.to_string()))?;
        let text = serde_json::to_string_pretty(self).expect("decisions serialize");
        crate::target::atomic::write(&root.path(DECISIONS), text.as_bytes(), 0o600).map_err(|e| fail(e.to_string()))
    }

    /// `host` decided now.
    pub fn decide(&mut self, host: &str, verdict: Verdict) {
        self.0.insert(host.to_owned(), Decision { verdict, at: crate::target::now() });
    }
}

/// The refusals in `log` that wait for a decision, newest first: not to a host the answers
/// allow now (a refusal from before it was allowed), not older than the last decision
/// about their host, and not to a loopback address (OpenClaw's `proxy validate` canary).
pub fn pending(log: &str, decisions: &Decisions, answers: &Answers) -> Vec<Pending> {
    let mut by_host: BTreeMap<String, Pending> = BTreeMap::new();
    for Refusal { at, destination } in proxy::refusals(log) {
        let host = proxy::host_of(&destination).to_owned();
        if host.trim_matches(['[', ']']).parse::<std::net::IpAddr>().is_ok_and(|a| a.is_loopback()) {
            continue;
        }
        if decisions.0.get(&host).is_some_and(|d| at <= d.at as f64) {
            continue;
        }
        let name = host.parse::<DomainPattern>().ok();
        if name.as_ref().is_some_and(|n| answers.egress.allowed_hosts.iter().any(|a| n.covered_by(a))) {
            continue;
        }
        let p = by_host.entry(host.clone()).or_insert(Pending { host, count: 0, first: at, last: at, name });
        p.count += 1;
        p.first = p.first.min(at);
        p.last = p.last.max(at);
    }
    let mut out: Vec<Pending> = by_host.into_values().collect();
    out.sort_by(|a, b| b.last.total_cmp(&a.last).then(a.host.cmp(&b.host)));
    out
}

/// The proxy's access log on `root`, with the day before it that logrotate keeps as
/// `access.log.1` (their newest [`proxy::MAX_READ`] bytes): the daily check's alert names
/// a refusal that the listing must still show after the night's rotation. Read as
/// something the agent's side writes: never through a link, never a FIFO. None when there
/// is none: the proxy has not run here (yet).
pub fn read_log(root: &Root, facts: &Facts) -> Result<Option<String>, EgressError> {
    let path = crate::layers::egress::proxy_access_log(facts);
    let full = root.path(&path);
    match crate::check::tail::read_newest(&full, proxy::MAX_READ) {
        Ok(tail) => Ok(Some(tail.text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => {
            // Not root, or something other than squid's log where it belongs (a link, a
            // FIFO: squid writes neither), which is worth a look rather than a retry.
            let what_to_do = if e.kind() == std::io::ErrorKind::PermissionDenied {
                "run clawguard as root (sudo)"
            } else {
                "squid writes only plain files there; see what put this one there (/etc/clawguard/RECOVERY.md), and move it away"
            };
            Err(EgressError::Log { path, why: e.to_string(), what_to_do })
        }
    }
}

/// The destinations waiting for a decision on `root` (none when the proxy has no log).
pub fn list(root: &Root, facts: &Facts, answers: &Answers) -> Result<Vec<Pending>, EgressError> {
    let decisions = Decisions::load(root)?;
    Ok(read_log(root, facts)?.map(|log| pending(&log, &decisions, answers)).unwrap_or_default())
}

/// A time as the list shows it (UTC).
pub fn when(at: f64) -> String {
    let secs = at.max(0.0) as i64;
    let (days, rest) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Days since 1970-01-01 to a civil date (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02} UTC", rest / 3600, rest % 3600 / 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LOG: &str = "\
1796600000.000      0 172.20.0.3 TCP_DENIED/403 3921 GET http://other.test/ - HIER_NONE/- text/html - -
1796600100.000      0 172.20.0.3 TCP_DENIED/200 0 CONNECT other.test:443 - HIER_NONE/- - bump -
1796600200.000      0 172.20.0.3 NONE_NONE/200 0 CONNECT api.openai.com:443 - HIER_NONE/- - terminate fronted.test
1796600300.000      0 172.20.0.3 TCP_DENIED/200 0 CONNECT 127.0.0.1:4711 - HIER_NONE/- - bump -
1796600400.000      0 172.20.0.3 TCP_DENIED/200 0 CONNECT 203.0.113.9:443 - HIER_NONE/- - bump -
1796600500.000      0 172.20.0.3 TCP_DENIED/403 3921 GET http://api.openai.com/ - HIER_NONE/- text/html - -
";

    #[test]
    fn refused_hosts_wait_for_a_decision_and_one_makes_older_refusals_old_news() {
        let a = Answers::default();
        let p = pending(LOG, &Decisions::default(), &a);
        let hosts: Vec<(&str, usize)> = p.iter().map(|p| (p.host.as_str(), p.count)).collect();
        // Newest first; a loopback canary and an allowed host (refused before it was) left out.
        assert_eq!(hosts, [("203.0.113.9", 1), ("fronted.test", 1), ("other.test", 2)]);
        let other = &p[2];
        assert_eq!((other.first, other.last), (1_796_600_000.0, 1_796_600_100.0));
        assert!(p[0].name.is_none(), "an address cannot be allowed");
        assert_eq!(other.name.as_ref().map(|n| n.to_string()).as_deref(), Some("other.test"));
        let mut d = Decisions::default();
        d.0.insert("other.test".into(), Decision { verdict: Verdict::Dismissed, at: 1_796_600_050 });
        let p = pending(LOG, &d, &a);
        let other = p.iter().find(|p| p.host == "other.test").unwrap();
        assert_eq!((other.count, other.first), (1, 1_796_600_100.0), "only what came after the decision");
        d.0.insert("other.test".into(), Decision { verdict: Verdict::Dismissed, at: 1_796_600_100 });
        assert!(!pending(LOG, &d, &a).iter().any(|p| p.host == "other.test"));
    }

    #[test]
    fn decisions_that_cannot_be_read_are_an_error_not_an_empty_list() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        assert_eq!(Decisions::load(&root).unwrap(), Decisions::default(), "no file yet: no decisions");
        let mut d = Decisions::default();
        d.decide("other.test", Verdict::Allowed);
        d.save(&root).unwrap();
        assert_eq!(Decisions::load(&root).unwrap(), d);
        std::fs::write(root.path(DECISIONS), "{ not json").unwrap();
        assert!(matches!(Decisions::load(&root), Err(EgressError::Decisions { .. })));
        std::fs::remove_file(root.path(DECISIONS)).unwrap();
        std::os::unix::fs::symlink("/etc/shadow", root.path(DECISIONS)).unwrap();
        assert!(matches!(Decisions::load(&root), Err(EgressError::Decisions { .. })), "a link is not followed");
    }

    /// The check's alert came yesterday; logrotate ran in the night (copytruncate,
    /// delaycompress): the refusal is in `access.log.1`, the log is empty. Still listed.
    #[test]
    fn a_refusal_from_before_the_nights_rotation_is_still_listed() {
        let dir = tempfile::tempdir().unwrap();
        let root = Root::new(dir.path());
        let facts = Facts::default();
        let log = root.path(&crate::layers::egress::proxy_access_log(&facts));
        assert!(read_log(&root, &facts).unwrap().is_none(), "no proxy, no log");
        std::fs::create_dir_all(log.parent().unwrap()).unwrap();
        let rotated = log.with_file_name("access.log.1");
        std::fs::write(&rotated, LOG.lines().nth(1).unwrap().to_owned() + "\n").unwrap();
        std::fs::write(&log, "").unwrap();
        let p = list(&root, &facts, &Answers::default()).unwrap();
        assert_eq!(p.iter().map(|p| p.host.as_str()).collect::<Vec<_>>(), ["other.test"]);
        std::fs::remove_file(&rotated).unwrap();
        assert_eq!(list(&root, &facts, &Answers::default()).unwrap(), []);
        std::os::unix::fs::symlink("/etc/shadow", &rotated).unwrap();
        let e = list(&root, &facts, &Answers::default()).unwrap_err();
        assert!(matches!(e, EgressError::Log { .. }), "a link is refused");
        assert!(e.to_string().contains("see what put this one there"), "not a matter of root: {e}");
    }

    #[test]
    fn times_are_shown_in_utc() {
        assert_eq!(when(0.0), "1970-01-01 00:00 UTC");
        assert_eq!(when(1_796_600_000.5), "2026-12-06 23:33 UTC");
    }
}
