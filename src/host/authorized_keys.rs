//! `authorized_keys` as sshd reads it (sshd(8), AUTHORIZED_KEYS FILE FORMAT): options, key
//! type, base64 blob, comment — and whether sshd would let a key open a login shell for a
//! given client. A line that merely contains `ssh-` is not a key; a key sshd refuses for
//! this login (its type not accepted, `from=` another address, a forced command, expired)
//! does not count as a way in.

use std::net::IpAddr;

use base64::Engine as _;

/// Key types sshd knows (plain and certificate forms).
const KEY_TYPES: &[&str] = &[
    "ssh-ed25519",
    "ssh-rsa",
    "ssh-dss",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
];

/// OpenSSH's default `PubkeyAcceptedAlgorithms` (8.8 and later: no `ssh-rsa` SHA-1
/// signatures, no DSA).
pub const DEFAULT_ACCEPTED: &[&str] = &[
    "ssh-ed25519-cert-v01@openssh.com",
    "ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "ecdsa-sha2-nistp384-cert-v01@openssh.com",
    "ecdsa-sha2-nistp521-cert-v01@openssh.com",
    "sk-ssh-ed25519-cert-v01@openssh.com",
    "sk-ecdsa-sha2-nistp256-cert-v01@openssh.com",
    "rsa-sha2-512-cert-v01@openssh.com",
    "rsa-sha2-256-cert-v01@openssh.com",
    "ssh-ed25519",
    "ecdsa-sha2-nistp256",
    "ecdsa-sha2-nistp384",
    "ecdsa-sha2-nistp521",
    "sk-ssh-ed25519@openssh.com",
    "sk-ecdsa-sha2-nistp256@openssh.com",
    "rsa-sha2-512",
    "rsa-sha2-256",
];

/// One line of an authorized_keys file that is not blank or a comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyLine {
    Key(AuthorizedKey),
    /// Not a key sshd would read (why, in a few words).
    Invalid {
        line: usize,
        why: String,
    },
}

/// A key's options as written (`name` or `name="value"`), names lower-case.
pub type KeyOptions = Vec<(String, Option<String>)>;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizedKey {
    pub line: usize,
    pub key_type: String,
    pub options: KeyOptions,
    /// As `ssh-keygen -lf` prints it: `SHA256:` and the unpadded base64 of the key's hash.
    pub fingerprint: String,
    /// The comment after the key (who it is, usually), without control characters.
    pub comment: String,
}

/// Parses every line; blank lines and comments are skipped.
pub fn parse(text: &str) -> Vec<KeyLine> {
    text.lines()
        .enumerate()
        .filter_map(|(n, l)| {
            let t = l.trim();
            (!t.is_empty() && !t.starts_with('#')).then(|| parse_line(n + 1, t))
        })
        .collect()
}

fn parse_line(line: usize, t: &str) -> KeyLine {
    let invalid = |why: &str| KeyLine::Invalid { line, why: why.to_owned() };
    // Options come first unless the line starts with a key type.
    let first = t.split_whitespace().next().unwrap_or_default();
    let (options, rest) = if is_key_type(first) {
        (Vec::new(), t)
    } else {
        match split_options(t) {
            Some((opts, rest)) => (opts, rest.trim_start()),
            None => return invalid("its options are not closed (an unmatched quote)"),
        }
    };
    let mut parts = rest.split_whitespace();
    let (Some(key_type), Some(blob)) = (parts.next(), parts.next()) else {
        return invalid("it has no key type and key");
    };
    if !is_key_type(key_type) {
        return invalid(&format!("`{}` is not a key type sshd knows", shorten(key_type)));
    }
    let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(blob) else {
        return invalid("the key is not valid base64");
    };
    // The blob starts with the key type again, as an SSH string.
    let inner =
        raw.get(..4).map(|l| u32::from_be_bytes([l[0], l[1], l[2], l[3]]) as usize).and_then(|n| raw.get(4..4 + n));
    if inner != Some(key_type.as_bytes()) {
        return invalid(&format!("the key's data is not a {key_type} key"));
    }
    use sha2::Digest as _;
    let fingerprint =
        format!("SHA256:{}", base64::engine::general_purpose::STANDARD_NO_PAD.encode(sha2::Sha256::digest(&raw)));
    let comment = shorten(&parts.collect::<Vec<_>>().join(" "));
    KeyLine::Key(AuthorizedKey { line, key_type: key_type.to_owned(), options, fingerprint, comment })
}

fn is_key_type(s: &str) -> bool {
    KEY_TYPES.contains(&s)
        || s.strip_suffix("-cert-v01@openssh.com").is_some_and(|b| KEY_TYPES.contains(&b))
        || KEY_TYPES
            .iter()
            .any(|k| k.strip_suffix("@openssh.com").is_some_and(|b| s == format!("{b}-cert-v01@openssh.com")))
}

fn shorten(s: &str) -> String {
    let s: String = s.chars().filter(|c| !c.is_control()).take(40).collect();
    s
}

/// Splits `opt1,opt2="a, b" rest` into the options and the rest (None: unclosed quote).
fn split_options(t: &str) -> Option<(KeyOptions, &str)> {
    let mut opts = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut end = t.len();
    let mut chars = t.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' if quoted => {
                if let Some((_, n)) = chars.next() {
                    cur.push(n);
                }
            }
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ',' if !quoted => opts.push(std::mem::take(&mut cur)),
            c if c.is_whitespace() && !quoted => {
                end = i;
                break;
            }
            c => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    opts.push(cur);
    let opts = opts
        .into_iter()
        .filter(|o| !o.is_empty())
        .map(|o| match o.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.trim_matches('"').to_owned())),
            None => (o.to_ascii_lowercase(), None),
        })
        .collect();
    Some((opts, &t[end..]))
}

/// The signature algorithms sshd accepts, from `PubkeyAcceptedAlgorithms` (or the older
/// `PubkeyAcceptedKeyTypes`) with its `+`, `-` and `^` forms and wildcards.
pub fn accepted_algorithms(value: Option<&str>) -> Vec<String> {
    let defaults = || DEFAULT_ACCEPTED.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let Some(v) = value.map(str::trim).filter(|v| !v.is_empty()) else { return defaults() };
    let known: Vec<String> = DEFAULT_ACCEPTED
        .iter()
        .map(|s| s.to_string())
        .chain(["ssh-rsa", "ssh-dss", "ssh-rsa-cert-v01@openssh.com", "ssh-dss-cert-v01@openssh.com"].map(String::from))
        .collect();
    let expand = |list: &str| -> Vec<String> {
        list.split(',').flat_map(|p| known.iter().filter(|k| wildcard(p, k)).cloned().collect::<Vec<_>>()).collect()
    };
    if let Some(add) = v.strip_prefix('+') {
        let mut out = defaults();
        out.extend(expand(add).into_iter().filter(|a| !DEFAULT_ACCEPTED.contains(&a.as_str())));
        out
    } else if let Some(remove) = v.strip_prefix('-') {
        let gone = expand(remove);
        defaults().into_iter().filter(|a| !gone.contains(a)).collect()
    } else if let Some(first) = v.strip_prefix('^') {
        let mut out = expand(first);
        out.extend(defaults().into_iter().filter(|a| !out.contains(a)).collect::<Vec<_>>());
        out
    } else {
        expand(v)
    }
}

/// The signature algorithms a key of type `key_type` can use.
fn algorithms_for(key_type: &str) -> Vec<String> {
    match key_type {
        "ssh-rsa" => vec!["rsa-sha2-512".into(), "rsa-sha2-256".into(), "ssh-rsa".into()],
        "ssh-rsa-cert-v01@openssh.com" => vec![
            "rsa-sha2-512-cert-v01@openssh.com".into(),
            "rsa-sha2-256-cert-v01@openssh.com".into(),
            "ssh-rsa-cert-v01@openssh.com".into(),
        ],
        other => vec![other.to_owned()],
    }
}

/// sshd's pattern matching: `*` any run, `?` one character.
pub fn wildcard(pattern: &str, s: &str) -> bool {
    fn m(p: &[char], s: &[char]) -> bool {
        match (p.first(), s.first()) {
            (None, None) => true,
            (Some('*'), _) => m(&p[1..], s) || (!s.is_empty() && m(p, &s[1..])),
            (Some('?'), Some(_)) => m(&p[1..], &s[1..]),
            (Some(a), Some(b)) if a == b => m(&p[1..], &s[1..]),
            _ => false,
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let s: Vec<char> = s.chars().collect();
    m(&p, &s)
}

/// Whether `addr` matches a `from=` pattern list: wildcards or CIDR, `!` negates (a
/// negated match refuses outright).
fn from_matches(list: &str, addr: IpAddr) -> bool {
    let text = addr.to_string();
    let mut matched = false;
    for p in list.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (neg, p) = p.strip_prefix('!').map_or((false, p), |r| (true, r));
        let hit = match p.split_once('/') {
            Some((net, bits)) => cidr(net, bits, addr),
            None => wildcard(p, &text),
        };
        if hit && neg {
            return false;
        }
        matched |= hit;
    }
    matched
}

fn cidr(net: &str, bits: &str, addr: IpAddr) -> bool {
    let (Ok(net), Ok(bits)) = (net.parse::<IpAddr>(), bits.parse::<u32>()) else { return false };
    match (net, addr) {
        (IpAddr::V4(n), IpAddr::V4(a)) if bits <= 32 => {
            let mask = if bits == 0 { 0 } else { u32::MAX << (32 - bits) };
            u32::from(n) & mask == u32::from(a) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(a)) if bits <= 128 => {
            let mask = if bits == 0 { 0 } else { u128::MAX << (128 - bits) };
            u128::from(n) & mask == u128::from(a) & mask
        }
        _ => false,
    }
}

/// `YYYYMMDD[HHMM[SS]]` as seconds since the epoch (UTC; sshd reads local time, a day's
/// difference at most).
fn expiry(v: &str) -> Option<u64> {
    let v = v.strip_suffix('Z').unwrap_or(v);
    if !v.chars().all(|c| c.is_ascii_digit()) || ![8, 12, 14].contains(&v.len()) {
        return None;
    }
    let n = |r: std::ops::Range<usize>| v.get(r).map_or(Some(0), |s| s.parse::<i64>().ok());
    let (y, m, d) = (n(0..4)?, n(4..6)?, n(6..8)?);
    let (hh, mm, ss) = (n(8..10)?, n(10..12)?, n(12..14)?);
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y2, m2) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let doy = (153 * m2 + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    u64::try_from(days * 86400 + hh * 3600 + mm * 60 + ss).ok()
}

impl AuthorizedKey {
    /// The `from=` pattern list this key is limited to, if any.
    pub fn from_limit(&self) -> Option<String> {
        self.options.iter().find(|(k, _)| k == "from").map(|(_, v)| v.clone().unwrap_or_default())
    }

    /// Why sshd would not let this key open a login shell for a login from `client` (None:
    /// it would). `accepted` is the effective `PubkeyAcceptedAlgorithms`.
    pub fn refusal(&self, accepted: &[String], client: Option<IpAddr>, now: u64) -> Option<String> {
        let base = self.key_type.as_str();
        if !algorithms_for(base).iter().any(|a| accepted.contains(a)) {
            return Some(format!(
                "its type {base} is not accepted by this sshd (PubkeyAcceptedAlgorithms{})",
                if base == "ssh-dss" { "; DSA keys are refused since OpenSSH 7.0" } else { "" }
            ));
        }
        let opt = |name: &str| self.options.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone().unwrap_or_default());
        if let Some(cmd) = opt("command") {
            return Some(format!("it forces the command `{}` (no login shell)", shorten(&cmd)));
        }
        if let Some(from) = opt("from") {
            match client {
                Some(addr) if !from_matches(&from, addr) => {
                    return Some(format!("it is limited to from=\"{}\", and you connect from {addr}", shorten(&from)));
                }
                _ => {}
            }
        }
        if let Some(t) = opt("expiry-time") {
            match expiry(&t) {
                Some(at) if at <= now => return Some(format!("it expired (expiry-time=\"{}\")", shorten(&t))),
                None => return Some(format!("its expiry-time \"{}\" is not a date sshd reads", shorten(&t))),
                _ => {}
            }
        }
        if self.key_type.contains("-cert-v01@") && opt("cert-authority").is_none() {
            return Some("it is a certificate, not a key (a certificate authority line needs cert-authority)".into());
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ED: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl admin@laptop";

    /// A key blob of type `ty` (the type as an SSH string, then some bytes).
    pub fn blob(ty: &str) -> String {
        let mut raw = (ty.len() as u32).to_be_bytes().to_vec();
        raw.extend(ty.as_bytes());
        raw.extend([0, 0, 0, 32]);
        raw.extend([7u8; 32]);
        base64::engine::general_purpose::STANDARD.encode(raw)
    }

    fn key(line: &str) -> AuthorizedKey {
        match &parse(line)[..] {
            [KeyLine::Key(k)] => k.clone(),
            other => panic!("not a key: {other:?}"),
        }
    }

    #[test]
    fn the_fingerprint_and_comment_are_those_ssh_keygen_shows() {
        let k = key(&format!("from=\"10.0.0.0/8\" {ED}"));
        assert_eq!(k.fingerprint, "SHA256:+DiY3wvvV6TuJJhbpZisF/zLDA0zPMSvHdkr4UvCOqU");
        assert_eq!(k.comment, "admin@laptop");
    }

    #[test]
    fn comments_and_lookalikes_are_not_keys() {
        assert!(parse("# ssh-ed25519 AAAA\n\n").is_empty());
        for bad in [
            "ssh-",
            "see ssh-keygen(1)",
            "ssh-ed25519",
            "ssh-ed25519 not-base64!",
            "ssh-ed25519 AAAAB3NzaC1yc2EAAAADAQABAAABAQ==",
        ] {
            assert!(matches!(&parse(bad)[..], [KeyLine::Invalid { .. }]), "{bad}: {:?}", parse(bad));
        }
        assert_eq!(key(ED).key_type, "ssh-ed25519");
    }

    #[test]
    fn options_with_quoted_commas_are_read() {
        let k = key(&format!("from=\"10.0.0.0/8,192.168.1.*\",no-pty {ED}"));
        assert_eq!(k.options[0], ("from".into(), Some("10.0.0.0/8,192.168.1.*".into())));
        assert_eq!(k.options[1], ("no-pty".into(), None));
    }

    #[test]
    fn what_sshd_refuses_for_this_login() {
        let acc = accepted_algorithms(None);
        let me: IpAddr = "198.51.100.7".parse().unwrap();
        assert_eq!(key(ED).refusal(&acc, Some(me), 0), None);
        let r = |line: String| key(&line).refusal(&acc, Some(me), 1_800_000_000);
        assert!(r(format!("restrict,command=\"/bin/true\" {ED}")).unwrap().contains("forces the command"));
        assert!(r(format!("from=\"203.0.113.0/24\" {ED}")).unwrap().contains("you connect from 198.51.100.7"));
        assert_eq!(r(format!("from=\"198.51.100.0/24\" {ED}")), None);
        assert!(r(format!("from=\"198.51.100.*,!198.51.100.7\" {ED}")).is_some());
        assert!(r(format!("expiry-time=\"20200101\" {ED}")).unwrap().contains("expired"));
        assert_eq!(r(format!("expiry-time=\"20990101\" {ED}")), None);
        let dss = format!("ssh-dss {} old", blob("ssh-dss"));
        assert!(key(&dss).refusal(&acc, None, 0).unwrap().contains("ssh-dss is not accepted"));
        // an RSA key still signs with rsa-sha2-*
        let rsa_acc = accepted_algorithms(Some("rsa-sha2-512"));
        let rsa = format!("ssh-rsa {}", blob("ssh-rsa"));
        assert!(key(&rsa).refusal(&rsa_acc, None, 0).is_none());
        assert!(key(ED).refusal(&rsa_acc, None, 0).is_some());
    }

    #[test]
    fn accepted_algorithms_follow_sshd_modifiers() {
        assert!(!accepted_algorithms(Some("-ssh-ed25519*")).iter().any(|a| a.starts_with("ssh-ed25519")));
        assert!(accepted_algorithms(Some("+ssh-dss")).contains(&"ssh-dss".to_owned()));
        assert_eq!(accepted_algorithms(Some("^ssh-ed25519"))[0], "ssh-ed25519");
        let ecdsa = accepted_algorithms(Some("ecdsa-*"));
        assert!(ecdsa.contains(&"ecdsa-sha2-nistp256".to_owned()) && ecdsa.iter().all(|a| a.starts_with("ecdsa-")));
    }

    #[test]
    fn expiry_dates_are_read() {
        assert_eq!(expiry("19700102"), Some(86400));
        assert_eq!(expiry("202001010000"), Some(1_577_836_800));
        assert_eq!(expiry("2020-01-01"), None);
    }
}
