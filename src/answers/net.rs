//! Answers that name places on the network: domain patterns for the allow-list, TLS
//! endpoints, address ranges, webhook URLs, static host entries.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::types::{Invalid, Port, invalid, shown, string_value, text_value, whole_number};

// ---------------------------------------------------------------------------------------

/// A host name for squid's `dstdomain`: either exactly one host (`api.openai.com`) or a
/// domain with all its subdomains (`.googleapis.com`). Names only — no scheme, port, path,
/// `*` wildcard or IP address.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomainPattern {
    name: String,
    subdomains: bool,
}

impl DomainPattern {
    /// The bare name without the leading dot.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Whether all subdomains match too (squid's leading dot).
    pub fn subdomains(&self) -> bool {
        self.subdomains
    }
    /// Whether every host this pattern matches is matched by `other` too, which makes one
    /// of the two useless (squid warns and ignores one).
    pub fn covered_by(&self, other: &DomainPattern) -> bool {
        if !other.subdomains {
            return !self.subdomains && self.name == other.name;
        }
        self.name == other.name || self.name.ends_with(&format!(".{}", other.name))
    }
}

impl FromStr for DomainPattern {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type a host name such as `api.openai.com`, or `.example.com` for a domain \
                    and all its subdomains";
        if s.is_empty() {
            return Err(invalid(format!("the host name is empty: {hint}")));
        }
        if s.contains("://") || s.contains('/') {
            return Err(invalid(format!("{} is a URL, not a host name: drop the scheme and path; {hint}", shown(s))));
        }
        if s.starts_with("*.") {
            return Err(invalid(format!(
                "{} uses a `*` wildcard: write `{}` instead to allow a domain and all its subdomains",
                shown(s),
                &s[1..]
            )));
        }
        let (subdomains, name) = match s.strip_prefix('.') {
            Some(rest) => (true, rest),
            None => (false, s),
        };
        if name.parse::<IpAddr>().is_ok() || name.trim_matches(['[', ']']).parse::<IpAddr>().is_ok() {
            return Err(invalid(format!(
                "{} is an IP address: the allow-list takes host names (TLS certificates and \
                 CONNECT requests name the host); {hint}",
                shown(s)
            )));
        }
        let lower = name.to_ascii_lowercase();
        let labels: Vec<&str> = lower.split('.').collect();
        let label_ok = |l: &&str| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
        };
        if labels.len() < 2 || !labels.iter().all(label_ok) || lower.len() > 253 {
            return Err(invalid(format!("{} is not a host name: {hint}", shown(s))));
        }
        if labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())) {
            return Err(invalid(format!("{} is not a host name: {hint}", shown(s))));
        }
        Ok(DomainPattern { name: lower, subdomains })
    }
}

impl fmt::Display for DomainPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.subdomains {
            f.write_str(".")?;
        }
        f.write_str(&self.name)
    }
}
text_value!(DomainPattern, "a host name such as api.openai.com");

/// A TLS service whose certificate the daily check watches: `host` or `host:port` (443 by
/// default); the host is a name (the certificate must match it) or `localhost`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsEndpoint {
    pub host: String,
    pub port: u16,
}

impl FromStr for TlsEndpoint {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type a host name and port such as `mail.example.com:993`, or a host alone for 443";
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (
                h,
                p.parse::<Port>()
                    .map_err(|_| invalid(format!("{} has no port number after `:`: {hint}", shown(s))))?
                    .get(),
            ),
            None => (s, 443),
        };
        if host != "localhost" {
            let name: DomainPattern = host
                .parse()
                .map_err(|e: Invalid| invalid(format!("{}: {hint}", e.0.split(':').next().unwrap_or_default())))?;
            if name.subdomains() {
                return Err(invalid(format!(
                    "{} names a whole domain: a certificate is watched on one host; {hint}",
                    shown(s)
                )));
            }
        }
        Ok(TlsEndpoint { host: host.to_ascii_lowercase(), port })
    }
}

impl fmt::Display for TlsEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

text_value!(TlsEndpoint, "a host and port such as mail.example.com:993");

// ---------------------------------------------------------------------------------------

/// An IP address or network (`203.0.113.7`, `10.0.0.0/8`, `2001:db8::/32`) for fail2ban's
/// `ignoreip`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IpNet {
    addr: IpAddr,
    prefix: Option<u8>,
}

impl IpNet {
    pub fn addr(&self) -> IpAddr {
        self.addr
    }
    pub fn host(addr: IpAddr) -> Self {
        IpNet { addr, prefix: None }
    }
    /// Whether `ip` is this address or inside this network.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let bits = |a: IpAddr| -> (u128, u32) {
            match a {
                IpAddr::V4(v) => (u128::from(u32::from(v)), 32),
                IpAddr::V6(v) => (u128::from(v), 128),
            }
        };
        let ((net, width), (other, other_width)) = (bits(self.addr), bits(ip));
        if width != other_width {
            return false;
        }
        let prefix = u32::from(self.prefix.unwrap_or(width as u8));
        let shift = width - prefix;
        shift >= width || (net >> shift) == (other >> shift)
    }
}

impl FromStr for IpNet {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type an IP address or network such as `203.0.113.7` or `10.0.0.0/8`";
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().map_err(|_| invalid(format!("{} is not an IP address: {hint}", shown(s))))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => None,
            Some(p) => Some(
                whole_number(p, 0, max, "the prefix length", max)
                    .map_err(|_| invalid(format!("{} has a bad prefix length: use /0 to /{max}; {hint}", shown(s))))?
                    as u8,
            ),
        };
        Ok(IpNet { addr, prefix })
    }
}

impl fmt::Display for IpNet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.prefix {
            Some(p) => write!(f, "{}/{p}", self.addr),
            None => write!(f, "{}", self.addr),
        }
    }
}
text_value!(IpNet, "an IP address or network");

/// An alert webhook: an `https://` URL (plain `http://` only to this machine), without
/// spaces, quotes or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookUrl(String);

impl FromStr for WebhookUrl {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type an https:// URL such as `https://hooks.slack.com/services/…`";
        let (https, rest) = match (s.strip_prefix("https://"), s.strip_prefix("http://")) {
            (Some(rest), _) => (true, rest),
            (None, Some(rest)) => (false, rest),
            _ => return Err(invalid(format!("{} is not an https:// URL: {hint}", shown(s)))),
        };
        let ok = !rest.is_empty()
            && !rest.starts_with('/')
            && rest.bytes().all(|b| b.is_ascii_graphic() && !b"\"'`<>\\{}|^".contains(&b));
        if !ok {
            return Err(invalid(format!(
                "{} has characters a URL may not contain here (spaces, quotes…): {hint}",
                shown(s)
            )));
        }
        // The host is what comes before the path, query or fragment; credentials in the
        // URL (`user@host`) are refused: they would also hide which host it is.
        let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(invalid(format!(
                "{} has a user name or password before the host (`…@`): give the webhook's own URL, with any token in its path: {hint}",
                shown(s)
            )));
        }
        let host = if let Some(v6) = authority.strip_prefix('[') {
            v6.split(']').next().unwrap_or_default()
        } else {
            authority.rsplit_once(':').map_or(authority, |(h, _)| h)
        };
        let local = matches!(host, "127.0.0.1" | "localhost" | "::1");
        if !https && !local {
            return Err(invalid(format!(
                "{} is plain http to another machine: alerts would cross the network unencrypted. {hint} (plain http:// is only for this machine: 127.0.0.1, localhost, [::1])",
                shown(s)
            )));
        }
        Ok(WebhookUrl(s.to_owned()))
    }
}

string_value!(WebhookUrl);
text_value!(WebhookUrl, "an https:// URL");

// ---------------------------------------------------------------------------------------

/// A host the proxy resolves without DNS: `name=address` (an internal service, or a name
/// pinned to a known address).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StaticHost {
    pub name: DomainPattern,
    pub addr: IpAddr,
}

impl FromStr for StaticHost {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type `name=address`, such as `api.internal.example=10.0.0.5`";
        let (name, addr) = s.split_once('=').ok_or_else(|| invalid(format!("{} lacks `=`: {hint}", shown(s))))?;
        let name: DomainPattern = name.trim().parse()?;
        if name.subdomains() {
            return Err(invalid(format!("{} names a whole domain: give one host name; {hint}", shown(s))));
        }
        let addr = addr
            .trim()
            .parse()
            .map_err(|_| invalid(format!("{} has no valid IP address after `=`: {hint}", shown(s))))?;
        Ok(StaticHost { name, addr })
    }
}

impl fmt::Display for StaticHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.addr)
    }
}
text_value!(StaticHost, "name=address");
