//! The validating value types every answer is made of.
//!
//! Each type parses from the text a person types (`FromStr`, used by the wizard as you
//! type) and from TOML (`Deserialize`, which goes through the same `FromStr`), and refuses
//! anything that could not safely reach a config file. The error text says what was wrong
//! and what to type instead; the caller adds the field name.
//!
//! The rule that keeps config files safe: every accepted value is made only of characters
//! that cannot end a line, open a quote or start a comment in any file we render.

use std::fmt;
use std::marker::PhantomData;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

/// Why a value was refused: a sentence a person can act on. The field name is added by
/// whoever knows it (serde's path, or the wizard's field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

pub(super) fn invalid(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

/// Shows a value inside an error message with its control characters made visible.
/// A refused value as the message quotes it: escaped, and cut short when long (a 1 MB
/// value is not echoed back).
pub(super) fn shown(s: &str) -> String {
    const MAX: usize = 60;
    let count = s.chars().count();
    if count <= MAX {
        return format!("{s:?}");
    }
    let head: String = s.chars().take(MAX).collect();
    format!("{head:?}… ({count} characters)")
}

/// Implements `Deserialize` through `FromStr` from a TOML string, and `Serialize` through
/// `Display`, so that the file and the wizard share one set of rules.
macro_rules! text_value {
    ($t:ty, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $t;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        f.write_str($expecting)
                    }
                    fn visit_str<E: de::Error>(self, s: &str) -> Result<$t, E> {
                        s.parse().map_err(|e: Invalid| E::custom(e))
                    }
                }
                d.deserialize_str(V)
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    };
}

/// Reads a TOML integer, float or string through the type's `FromStr`, so that numbers
/// written either way (`port = 2222`, `port = "2222"`) meet the same rules.
struct NumberOrText<T>(&'static str, PhantomData<T>);

impl<'de, T: FromStr<Err = Invalid>> Visitor<'de> for NumberOrText<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
    fn visit_i64<E: de::Error>(self, n: i64) -> Result<T, E> {
        self.visit_str(&n.to_string())
    }
    fn visit_u64<E: de::Error>(self, n: u64) -> Result<T, E> {
        self.visit_str(&n.to_string())
    }
    fn visit_f64<E: de::Error>(self, n: f64) -> Result<T, E> {
        self.visit_str(&n.to_string())
    }
    fn visit_str<E: de::Error>(self, s: &str) -> Result<T, E> {
        s.parse().map_err(|e: Invalid| E::custom(e))
    }
}

/// Implements `Deserialize` from a TOML integer *or* a string of digits (people write
/// `port = "2222"`), through `FromStr`; serializes as an integer.
macro_rules! number_value {
    ($t:ty, $expecting:literal) => {
        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(NumberOrText::<$t>($expecting, PhantomData))
            }
        }
        impl Serialize for $t {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_u64(u64::from(self.get()))
            }
        }
    };
}

/// `as_str` and `Display` for a validated string newtype.
macro_rules! string_value {
    ($t:ident) => {
        impl $t {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

pub(super) use {string_value, text_value};

/// Parses a whole number, refusing signs, spaces and letters with a message that names
/// the accepted range.
pub(super) fn whole_number(s: &str, min: u64, max: u64, what: &str, example: u64) -> Result<u64, Invalid> {
    let t = s.trim();
    let hint = format!("type a whole number from {min} to {max} for {what}, e.g. {example}");
    if t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(format!("{} is not a whole number: {hint}", shown(s))));
    }
    match t.parse::<u64>() {
        Ok(n) if (min..=max).contains(&n) => Ok(n),
        _ => Err(invalid(format!("{t} is out of range: {hint}"))),
    }
}

// ---------------------------------------------------------------------------------------

/// A TCP port, 1–65535.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Port(u16);

impl Port {
    pub const fn new_unchecked(n: u16) -> Self {
        Port(n)
    }
    pub fn get(self) -> u16 {
        self.0
    }
}

impl FromStr for Port {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        whole_number(s, 1, 65535, "a TCP port", 2222).map(|n| Port(n as u16))
    }
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}
number_value!(Port, "a port number from 1 to 65535");

/// A bounded whole number: `Count<1, 10>` accepts 1 to 10 and says so when refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Count<const MIN: u32, const MAX: u32>(u32);

impl<const MIN: u32, const MAX: u32> Count<MIN, MAX> {
    /// For defaults written in code; panics on a value outside the range (a bug, not input).
    pub const fn of(n: u32) -> Self {
        assert!(n >= MIN && n <= MAX);
        Count(n)
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl<const MIN: u32, const MAX: u32> FromStr for Count<MIN, MAX> {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        whole_number(s, MIN.into(), MAX.into(), "this setting", MIN.max(1).into()).map(|n| Count(n as u32))
    }
}

impl<const MIN: u32, const MAX: u32> fmt::Display for Count<MIN, MAX> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de, const MIN: u32, const MAX: u32> Deserialize<'de> for Count<MIN, MAX> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberOrText::<Self>("a whole number", PhantomData))
    }
}

impl<const MIN: u32, const MAX: u32> Serialize for Count<MIN, MAX> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}

// ---------------------------------------------------------------------------------------

/// A Unix login name as `useradd` accepts it by default: lower-case letter or `_` first,
/// then letters, digits, `_`, `-`; at most 32 characters. No spaces, quotes, newlines or
/// leading dash can get through, so the name is safe on an `AllowUsers` line.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixUser(String);

impl FromStr for UnixUser {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type a login name such as `admin`: lower-case letters, digits, `_` and `-`, \
                    starting with a letter or `_`, at most 32 characters";
        let mut chars = s.chars();
        let ok_first = matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_');
        let ok_rest = chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if s.is_empty() {
            return Err(invalid(format!("the user name is empty: {hint}")));
        }
        if !(ok_first && ok_rest) || s.len() > 32 {
            return Err(invalid(format!("{} is not a valid user name: {hint}", shown(s))));
        }
        Ok(UnixUser(s.to_owned()))
    }
}

string_value!(UnixUser);
text_value!(UnixUser, "a Unix user name");

// ---------------------------------------------------------------------------------------

/// An absolute path made of plain characters (letters, digits, `_ . - + @ /`), without
/// `..`: safe in YAML, systemd units, logrotate and squid files without quoting.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AbsPath(String);

impl AbsPath {
    /// This path with a relative part appended (the part is ours, not user input).
    pub fn join(&self, rel: &str) -> String {
        format!("{}/{}", self.0.trim_end_matches('/'), rel)
    }

    /// Whether this path and `other` are the same place, or one contains the other.
    pub fn overlaps(&self, other: &str) -> bool {
        let inside = |a: &str, b: &str| a == b || b == "/" || a.starts_with(&format!("{}/", b.trim_end_matches('/')));
        inside(&self.0, other) || inside(other, &self.0)
    }
}

impl FromStr for AbsPath {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type an absolute path such as `/srv/openclaw/workspace` using letters, \
                    digits and `_ . - + @ /`";
        if !s.starts_with('/') {
            return Err(invalid(format!("{} is not an absolute path: {hint}", shown(s))));
        }
        let plain = s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-+@/".contains(&b));
        if !plain {
            return Err(invalid(format!(
                "{} has characters that are not allowed in a path here (spaces, quotes, \
                 newlines…): {hint}",
                shown(s)
            )));
        }
        if s.split('/').any(|c| c == "..") {
            return Err(invalid(format!("{} contains `..`: {hint}", shown(s))));
        }
        // One spelling per place: `//` and `/./` folded, no trailing `/`, so that a path
        // is compared with others (mounts against protected places) as what it names.
        let parts: Vec<&str> = s.split('/').filter(|c| !c.is_empty() && *c != ".").collect();
        Ok(AbsPath(format!("/{}", parts.join("/"))))
    }
}

string_value!(AbsPath);
text_value!(AbsPath, "an absolute path");

/// What a backup leaves out, as restic matches it: a name or glob anywhere (`*.tmp`,
/// `node_modules`), or an absolute path on the target (`/srv/openclaw/state/cache`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExcludePattern(String);

impl ExcludePattern {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ExcludePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for ExcludePattern {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type a name or glob such as `*.tmp` or `node_modules`, or an absolute path such as \
                    `/srv/openclaw/state/cache`, using letters, digits and `_ . - + @ / * ? [ ]`";
        let plain = !s.is_empty()
            && s.len() <= 200
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-+@/*?[]".contains(&b))
            && !s.split('/').any(|c| c == "..");
        if !plain {
            return Err(invalid(format!("{} is not a pattern clawguard passes to restic: {hint}", shown(s))));
        }
        Ok(ExcludePattern(s.to_owned()))
    }
}
text_value!(ExcludePattern, "a name, glob or absolute path to leave out of the backups");

/// One argument of the agent's command: any printable text on one line. It reaches the
/// compose file JSON-quoted, so quotes are fine; control characters are not.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Arg(String);

impl FromStr for Arg {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        if s.chars().any(char::is_control) {
            return Err(invalid(format!(
                "{} contains a control character (newline, tab…): give each argument on one line",
                shown(s)
            )));
        }
        Ok(Arg(s.to_owned()))
    }
}

string_value!(Arg);
text_value!(Arg, "a command argument");

/// A short lower-case identifier (secret names, log categories): `a-z 0-9 _ -`, 1–40.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Ident(String);

impl FromStr for Ident {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.bytes().next().is_some_and(|b| b.is_ascii_lowercase())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        if !ok {
            return Err(invalid(format!(
                "{} is not a valid name: type a short name such as `openai` (lower-case \
                 letters, digits, `_` and `-`, starting with a letter)",
                shown(s)
            )));
        }
        Ok(Ident(s.to_owned()))
    }
}

string_value!(Ident);
text_value!(Ident, "a short name");

/// Vault names that are clawguard's own keys (the alert bot's token, the backups'
/// password): a namespace apart from the agent's keys, so that no name can be both — the
/// agent is never handed one of them, whatever the answers list.
pub const OWN_KEY_PREFIX: &str = "clawguard-";

impl Ident {
    /// Whether this is one of clawguard's own keys ([`OWN_KEY_PREFIX`]).
    pub fn is_clawguards(&self) -> bool {
        self.0.starts_with(OWN_KEY_PREFIX)
    }
}

// ---------------------------------------------------------------------------------------

/// A CPU count for the container (`2`, `0.5`): more than 0, at most 512.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Cpus(f64);

impl Cpus {
    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Cpus {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let t = s.trim();
        let plain = !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        match t.parse::<f64>() {
            Ok(n) if plain && n > 0.0 && n <= 512.0 => Ok(Cpus(n)),
            _ => Err(invalid(format!(
                "{} is not a CPU count: type a number greater than 0 such as `2` or `0.5`",
                shown(s)
            ))),
        }
    }
}

impl fmt::Display for Cpus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl<'de> Deserialize<'de> for Cpus {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NumberOrText::<Self>("a CPU count such as 2 or \"0.5\"", PhantomData))
    }
}

impl Serialize for Cpus {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A size in bytes written with a unit: `100M`, `2G`, `512K` (binary units, as Docker
/// reads them). At least 1M.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ByteSize(u64);

impl ByteSize {
    pub const fn mib(n: u64) -> Self {
        ByteSize(n << 20)
    }
    pub fn bytes(self) -> u64 {
        self.0
    }
    pub fn as_mib(self) -> u64 {
        self.0 >> 20
    }
}

impl FromStr for ByteSize {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type a size with a unit such as `100M` or `2G` (K, M, G)";
        let t = s.trim();
        let (num, unit) = t.split_at(t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len()));
        let shift = match unit.to_ascii_uppercase().as_str() {
            "K" | "KB" | "KIB" => 10,
            "M" | "MB" | "MIB" => 20,
            "G" | "GB" | "GIB" => 30,
            "" => {
                return Err(invalid(format!("{} has no unit: {hint}", shown(s))));
            }
            _ => return Err(invalid(format!("{} is not a size: {hint}", shown(s)))),
        };
        let n: u64 = num.parse().map_err(|_| invalid(format!("{} is not a size: {hint}", shown(s))))?;
        match n.checked_shl(shift) {
            Some(b) if ((1 << 20)..=(1 << 50)).contains(&b) => Ok(ByteSize(b)),
            _ => Err(invalid(format!("{} is out of range: at least 1M; {hint}", shown(s)))),
        }
    }
}

impl fmt::Display for ByteSize {
    /// The largest unit that divides the size exactly, as Docker and tmpfs read it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b.is_multiple_of(1 << 30) {
            write!(f, "{}G", b >> 30)
        } else if b.is_multiple_of(1 << 20) {
            write!(f, "{}M", b >> 20)
        } else {
            write!(f, "{}K", b >> 10)
        }
    }
}
text_value!(ByteSize, "a size such as 2G");

/// A time of day, `HH:MM`, 24-hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TimeOfDay {
    hour: u8,
    minute: u8,
}

impl TimeOfDay {
    pub const fn new(hour: u8, minute: u8) -> Self {
        TimeOfDay { hour, minute }
    }

    pub fn hour(&self) -> u8 {
        self.hour
    }

    pub fn minute(&self) -> u8 {
        self.minute
    }
}

impl FromStr for TimeOfDay {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let err = || invalid(format!("{} is not a time of day: type `HH:MM` such as `03:00`", shown(s)));
        let (h, m) = s.split_once(':').ok_or_else(err)?;
        let two = |x: &str| x.len() == 2 && x.bytes().all(|b| b.is_ascii_digit());
        if !two(h) || !two(m) {
            return Err(err());
        }
        let (hour, minute): (u8, u8) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
        if hour > 23 || minute > 59 {
            return Err(err());
        }
        Ok(TimeOfDay { hour, minute })
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour, self.minute)
    }
}
text_value!(TimeOfDay, "a time of day such as 03:00");

/// A Linux capability to give back to the agent after dropping all (`NET_BIND_SERVICE`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Capability(String);

/// The capabilities an agent may plausibly need back; anything that gives power over the
/// host (SYS_ADMIN, NET_ADMIN, SYS_PTRACE, DAC_OVERRIDE…) is refused.
pub const CAPABILITIES: &[&str] = &["NET_BIND_SERVICE", "CHOWN", "SETUID", "SETGID", "FOWNER", "KILL"];

impl FromStr for Capability {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let upper = s.trim().to_ascii_uppercase();
        let name = upper.trim_start_matches("CAP_").to_owned();
        if CAPABILITIES.contains(&name.as_str()) {
            Ok(Capability(name))
        } else {
            Err(invalid(format!(
                "{} is not a capability clawguard gives back to an agent: choose from {} (the others give power over the host)",
                shown(s),
                CAPABILITIES.join(", ")
            )))
        }
    }
}

string_value!(Capability);
text_value!(Capability, "a capability name");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::answers::{BackupTarget, DomainPattern, ImageRef, IpNet, StaticHost, WebhookUrl};

    fn err<T: FromStr<Err = Invalid>>(s: &str) -> String {
        match s.parse::<T>() {
            Ok(_) => panic!("{s:?} was accepted"),
            Err(e) => e.0,
        }
    }

    #[test]
    fn image_references_are_read_as_docker_reads_them() {
        let d = format!("sha256:{}", "ab".repeat(32));
        let official: ImageRef = "ghcr.io/openclaw/openclaw:2026.9.6".parse().unwrap();
        assert_eq!(
            (official.registry(), official.repository(), official.tag(), official.digest()),
            ("ghcr.io", "openclaw/openclaw".to_owned(), Some("2026.9.6"), None)
        );
        assert_eq!(official.pinned(&d), format!("ghcr.io/openclaw/openclaw@{d}"));
        let hub: ImageRef = "alpine/socat:latest".parse().unwrap();
        assert_eq!((hub.registry(), hub.repository()), ("docker.io", "alpine/socat".to_owned()));
        let library: ImageRef = "busybox".parse().unwrap();
        assert_eq!((library.repository(), library.tag()), ("library/busybox".to_owned(), None));
        // A registry's port is not a tag.
        let local: ImageRef = format!("127.0.0.1:5000/openclaw/openclaw:2026.9.6@{d}").parse().unwrap();
        assert_eq!(
            (local.registry(), local.tag(), local.digest()),
            ("127.0.0.1:5000", Some("2026.9.6"), Some(d.as_str()))
        );
        assert_eq!(local.without_tag(), "127.0.0.1:5000/openclaw/openclaw");
        let port_only: ImageRef = "localhost:5000/agent".parse().unwrap();
        assert_eq!((port_only.registry(), port_only.tag()), ("localhost:5000", None));
        assert!("openclaw:local".parse::<ImageRef>().unwrap().is_local_build());
        assert!(!official.is_local_build());
        // What Docker would refuse, or what would reach the compose file as something else.
        for bad in [
            "ghcr.io/openclaw/openclaw@sha256:abc",
            "ghcr.io/openclaw/openclaw@md5:0123",
            "ghcr.io//openclaw",
            "ghcr.io/openclaw/-openclaw",
            "agent:",
            "agent:a/b",
            "agent@",
        ] {
            assert!(err::<ImageRef>(bad).contains("type one such as"), "{bad}");
        }
    }

    #[test]
    fn ports_refuse_zero_overflow_and_letters() {
        assert_eq!("2222".parse::<Port>().unwrap().get(), 2222);
        assert!(err::<Port>("0").contains("from 1 to 65535"));
        assert!(err::<Port>("65536").contains("out of range"));
        assert!(err::<Port>("22a").contains("not a whole number"));
        assert!(err::<Port>("-1").contains("not a whole number"));
    }

    #[test]
    fn user_names_refuse_what_could_break_a_config_line() {
        assert!("admin".parse::<UnixUser>().is_ok());
        assert!("_svc-1".parse::<UnixUser>().is_ok());
        for bad in ["ad\nmin", "ad min", "ad\"min", "-admin", "Admin", "", "a'b", &"a".repeat(33)] {
            assert!(err::<UnixUser>(bad).contains("login name"), "{bad:?}");
        }
    }

    #[test]
    fn domain_patterns_take_names_only() {
        let p: DomainPattern = ".googleapis.com".parse().unwrap();
        assert!(p.subdomains());
        assert_eq!(p.to_string(), ".googleapis.com");
        assert_eq!("API.OpenAI.com".parse::<DomainPattern>().unwrap().to_string(), "api.openai.com");
        assert!(err::<DomainPattern>("http://x").contains("URL"));
        assert!(err::<DomainPattern>("*.x.com").contains("`.x.com`"));
        assert!(err::<DomainPattern>("a b").contains("not a host name"));
        assert!(err::<DomainPattern>("10.0.0.1").contains("IP address"));
        assert!(err::<DomainPattern>("::1").contains("not a host name") || err::<DomainPattern>("::1").contains("IP"));
        assert!(err::<DomainPattern>("localhost").contains("not a host name"));
        assert!(err::<DomainPattern>("x.com\nhttp_access allow all").contains("not a host name"));
    }

    #[test]
    fn domain_overlap_is_detected_both_ways() {
        let wide: DomainPattern = ".example.com".parse().unwrap();
        let sub: DomainPattern = "sub.example.com".parse().unwrap();
        let apex: DomainPattern = "example.com".parse().unwrap();
        let other: DomainPattern = "notexample.com".parse().unwrap();
        assert!(sub.covered_by(&wide));
        assert!(apex.covered_by(&wide));
        assert!(!wide.covered_by(&sub));
        assert!(!other.covered_by(&wide));
    }

    #[test]
    fn sizes_and_cpus() {
        assert_eq!("2G".parse::<ByteSize>().unwrap().as_mib(), 2048);
        assert_eq!("100M".parse::<ByteSize>().unwrap().to_string(), "100M");
        assert!(err::<ByteSize>("100").contains("no unit"));
        assert!(err::<ByteSize>("1T").contains("not a size"));
        assert!("0.5".parse::<Cpus>().is_ok());
        assert!(err::<Cpus>("0").contains("greater than 0"));
        assert!(err::<Cpus>("1e3").contains("CPU count"));
    }

    #[test]
    fn backup_targets() {
        let t: BackupTarget = "sftp:backup@backup.example.net:/srv/restic/host1".parse().unwrap();
        assert_eq!(t.host(), Some("backup.example.net"));
        assert!(!t.is_this_machine(&[]));
        let t: BackupTarget = "rest:https://127.0.0.1:8000/repo".parse().unwrap();
        assert!(t.is_this_machine(&[]));
        // A password never goes into the answers (readable by every user).
        for url in [
            "rest:https://user:pw@backup.example:8000/repo",
            "rest:https://user@b.example/r",
            "s3:https://k:s@s3.example/b",
        ] {
            let e = err::<BackupTarget>(url);
            assert!(e.contains("user or password") && e.contains("sftp:") && !e.contains("pw@"), "{e}");
        }
        let t: BackupTarget = "rest:https://backup.example/repo@2".parse().unwrap();
        assert!(!t.is_this_machine(&[]), "an @ in the path is not a user");
        let t: BackupTarget = "/srv/backup".parse().unwrap();
        assert!(t.is_this_machine(&[]));
        let t: BackupTarget = "sftp:b@vps1:/x".parse().unwrap();
        assert!(t.is_this_machine(&["vps1".into()]));
        assert!(err::<BackupTarget>("ftp://x").contains("restic repository"));
        assert!(err::<BackupTarget>("sftp:b@h:/x y").contains("sftp"));
        for bad in ["sftp:b@-oProxyCommand=x:/r", "sftp:-l@h:/r", "sftp:b@.h:/r", "sftp:b@h:/r x", "sftp:b@h:-r"] {
            assert!(bad.parse::<BackupTarget>().is_err(), "{bad}");
        }
    }

    #[test]
    fn static_hosts_and_capabilities() {
        let h: StaticHost = "api.internal.example=10.0.0.5".parse().unwrap();
        assert_eq!(h.to_string(), "api.internal.example=10.0.0.5");
        assert!(err::<StaticHost>("x.example").contains("lacks `=`"));
        assert!(err::<StaticHost>(".x.example=10.0.0.1").contains("whole domain"));
        assert!(err::<StaticHost>("x.example=nope").contains("IP address"));
        assert_eq!("cap_net_bind_service".parse::<Capability>().unwrap().to_string(), "NET_BIND_SERVICE");
        assert!(err::<Capability>("SYS_ADMIN").contains("power over the host"));
    }

    #[test]
    fn paths_urls_and_times() {
        assert!(err::<AbsPath>("srv/x").contains("absolute"));
        assert!(err::<AbsPath>("/srv/x y").contains("not allowed"));
        assert!(err::<AbsPath>("/srv/../etc").contains(".."));
        assert!("https://hooks.example.com/a?b=c".parse::<WebhookUrl>().is_ok());
        assert!(err::<WebhookUrl>("http://example.com").contains("https"));
        assert!(err::<WebhookUrl>("https://a b").contains("spaces"));
        assert_eq!("03:00".parse::<TimeOfDay>().unwrap().to_string(), "03:00");
        assert!(err::<TimeOfDay>("3am").contains("HH:MM"));
        assert!(err::<TimeOfDay>("24:00").contains("HH:MM"));
        assert!("10.0.0.0/8".parse::<IpNet>().is_ok());
        assert!(err::<IpNet>("10.0.0.0/33").contains("prefix"));
        let net: IpNet = "198.51.100.0/24".parse().unwrap();
        assert!(net.contains("198.51.100.7".parse().unwrap()));
        assert!(!net.contains("198.51.101.7".parse().unwrap()));
        assert!(!net.contains("::1".parse().unwrap()));
        assert!("0.0.0.0/0".parse::<IpNet>().unwrap().contains("8.8.8.8".parse().unwrap()));
    }
}
