//! Requests the agent's proxy refused since the last check, from squid's access log (in
//! the proxy's log volume on the host). An agent trying hosts off its allow-list is the
//! clearest sign of a compromised agent — or of a host it needs and nobody allowed.

use std::collections::BTreeMap;

use super::{Finding, finding};
use crate::plan::Severity;

/// One request the proxy refused: when (squid's time, seconds since the epoch), and where
/// to (`other.test`, `other.test:443` for a CONNECT).
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    pub at: f64,
    pub destination: String,
}

/// The refused requests in squid's access log lines (its native format, and clawguard's,
/// which adds how a tunnel ended and the TLS name asked for), oldest first.
pub fn refusals(log: &str) -> Vec<Refusal> {
    let mut out = Vec::new();
    for line in log.lines() {
        // time elapsed client code/status bytes method URL user hierarchy type, then (in
        // clawguard's format) how a tunnel ended and the TLS name the client asked for.
        let f: Vec<&str> = line.split_whitespace().collect();
        let (Some(code), Some(url)) = (f.get(3), f.get(6)) else { continue };
        let at = f.first().and_then(|t| t.parse::<f64>().ok()).filter(|t| t.is_finite()).unwrap_or(0.0);
        // TCP_DENIED, and its variants (TCP_DENIED_ABORTED when the client left first).
        if code.split('/').next().is_some_and(|tag| tag.starts_with("TCP_DENIED")) {
            // A refused CONNECT is logged, then (method `-`) the error squid served inside
            // the tunnel it opened to say so: one refusal.
            if f.get(5) != Some(&"-") {
                out.push(Refusal { at, destination: destination(url) });
            }
            continue;
        }
        // A tunnel to an allowed host closed because its TLS name is another: that name
        // (with the tunnel's port) is what was refused.
        if let (Some(&"terminate"), Some(&sni)) = (f.get(10), f.get(11).filter(|s| **s != "-")) {
            let port = destination(url).rsplit_once(':').map(|(_, p)| p.to_owned()).unwrap_or_else(|| "443".into());
            out.push(Refusal { at, destination: destination(&format!("{sni}:{port}")) });
        }
    }
    out
}

/// The refused requests in squid's access log lines, counted per destination.
pub fn refused(log: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for r in refusals(log) {
        *out.entry(r.destination).or_default() += 1;
    }
    out
}

/// The host of a destination, without its port (`[::1]:443` → `[::1]`).
pub fn host_of(destination: &str) -> &str {
    destination
        .rsplit_once(':')
        .filter(|(h, p)| p.bytes().all(|b| b.is_ascii_digit()) && (!h.contains(':') || h.ends_with(']')))
        .map_or(destination, |(h, _)| h)
}

/// The host (and port, when one is given) of a request's URL; printable, bounded.
fn destination(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    host.chars().filter(|c| c.is_ascii_graphic()).take(80).collect()
}

/// At most this much of the log is read per run (its newest, when there is more; what
/// was left out is said as a finding): a log flooded to hide in stays cheap to check.
pub const MAX_READ: u64 = 64 << 20;

/// The findings for `refused` requests, if there were any. Those to the agent's own
/// services (`own`: host, what it is) are the agent being itself, said apart as a note.
pub fn findings_for(refused: &BTreeMap<String, usize>, own: &[(&str, &str)]) -> Vec<Finding> {
    let host = |d: &str| host_of(d).to_owned();
    let (mine, others): (BTreeMap<String, usize>, BTreeMap<String, usize>) =
        refused.iter().map(|(d, n)| (d.clone(), *n)).partition(|(d, _)| own.iter().any(|(h, _)| *h == host(d)));
    let mut out: Vec<Finding> = finding_for(&others).into_iter().collect();
    if !mine.is_empty() {
        let named: Vec<String> = mine
            .iter()
            .map(|(d, n)| {
                let what = own.iter().find(|(h, _)| *h == host(d)).map_or("", |(_, w)| w);
                format!("{d} ({what}, {n})")
            })
            .collect();
        out.push(finding(
            "egress.refused-agent-service",
            Severity::Note,
            format!(
                "The agent's proxy refused the agent's own services: {}. Stock OpenClaw reaches them by itself; clawguard turns the start-up ones off. If you want one, add its host to egress.allowed_hosts and apply.",
                named.join(", ")
            ),
        ));
    }
    out
}

/// The finding for `refused` requests, if there were any.
pub fn finding_for(refused: &BTreeMap<String, usize>) -> Option<Finding> {
    if refused.is_empty() {
        return None;
    }
    let total: usize = refused.values().sum();
    let mut by_count: Vec<(&String, &usize)> = refused.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let mut named: Vec<String> = by_count.iter().take(10).map(|(h, n)| format!("{h} ({n})")).collect();
    if by_count.len() > 10 {
        named.push(format!("and {} more", by_count.len() - 10));
    }
    Some(finding(
        "egress.refused",
        Severity::Warning,
        format!(
            "The agent's proxy refused {total} request(s) since the last check, to hosts off the allow-list: {}. An agent reaching for hosts nobody allowed is the clearest sign it was taken over (see /etc/clawguard/RECOVERY.md); `sudo clawguard egress` lists them, to allow (`egress allow HOST`) or dismiss (`egress dismiss HOST`) each.",
            named.join(", ")
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_agents_own_services_are_a_note_and_everything_else_still_a_warning() {
        let log = "1 5 172.18.0.3 TCP_DENIED/403 3915 CONNECT telemetry.openclaw.ai:443 - HIER_NONE/- text/html\n\
                   1 5 172.18.0.3 TCP_DENIED/403 3915 CONNECT evil.example:443 - HIER_NONE/- text/html\n\
                   1 5 172.18.0.3 TCP_DENIED/403 3915 GET http://telemetry.openclaw.ai.evil.example/ - HIER_NONE/- text/html\n";
        let own = [("telemetry.openclaw.ai", "its update check")];
        let f = findings_for(&refused(log), &own);
        assert_eq!(f.len(), 2, "{f:?}");
        assert!(f[0].severity == Severity::Warning && f[0].text.contains("evil.example:443 (1)"), "{:?}", f[0]);
        assert!(f[0].text.contains("telemetry.openclaw.ai.evil.example (1)"), "a look-alike is not ours: {:?}", f[0]);
        assert!(
            f[1].severity == Severity::Note && f[1].text.contains("telemetry.openclaw.ai:443 (its update check, 1)")
        );
        assert!(findings_for(&refused(log), &[]).len() == 1, "without a profile's hosts, all are one warning");
    }

    const LOG: &str = "\
1764331200.123      5 172.20.0.3 TCP_DENIED/403 3921 GET http://other.test/ - HIER_NONE/- text/html
1764331201.456      0 172.20.0.3 TCP_TUNNEL/200 4512 CONNECT allowed.test:443 - HIER_DIRECT/10.0.0.2 -
1764331202.789      1 172.20.0.3 TCP_DENIED_ABORTED/403 0 CONNECT other.test:443 - HIER_NONE/- text/html
1764331202.790      0 172.20.0.3 NONE_NONE/000 0 - error:transaction-end-before-headers - HIER_NONE/- -
1764331203.000      1 172.20.0.3 TCP_DENIED/403 3900 GET http://user:pw@other.test:8080/x?y - HIER_NONE/- text/html
1764331204.000      2 172.20.0.3 TCP_MISS/200 120 GET http://allowed.test/ - HIER_DIRECT/10.0.0.2 text/plain
1764331205.000      0 172.20.0.3 NONE_NONE/200 0 CONNECT allowed.test:443 - HIER_NONE/- - terminate fronted.test
1764331205.100      3 172.20.0.3 TCP_TUNNEL/200 1343 CONNECT allowed.test:443 - HIER_DIRECT/10.0.0.2 - splice allowed.test
1764331205.200      0 172.20.0.3 NONE_NONE/200 0 CONNECT allowed.test:443 - HIER_NONE/- - terminate -
1764331206.000    998 172.20.0.3 TCP_DENIED/200 0 CONNECT other.test:80 - HIER_NONE/- - bump -
1764331206.001      0 172.20.0.3 TCP_DENIED/403 3441 - other.test:80 - HIER_NONE/- text/html client-first -
garbage
";

    #[test]
    fn refused_requests_are_counted_by_destination() {
        let r = refused(LOG);
        assert_eq!(r.len(), 5, "{r:?}");
        assert_eq!(r["other.test:80"], 1, "a refused CONNECT and the error served in its tunnel are one refusal");
        assert_eq!(r["fronted.test:443"], 1, "a TLS name refused inside a tunnel is its own destination");
        assert_eq!(r["other.test"], 1);
        assert_eq!(r["other.test:443"], 1);
        assert_eq!(r["other.test:8080"], 1, "the credentials in a URL are not repeated");
        let f = finding_for(&r).unwrap();
        assert!(f.text.contains("refused 5 request(s)"), "{}", f.text);
        assert!(finding_for(&BTreeMap::new()).is_none());
    }

    #[test]
    fn a_crafted_url_cannot_put_lines_or_text_walls_into_an_alert() {
        let long = format!("1 0 c TCP_DENIED/403 0 GET http://{}/ - H -", "a".repeat(500));
        let r = refused(&long);
        assert_eq!(r.keys().next().unwrap().len(), 80);
    }
}
