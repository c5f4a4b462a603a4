//! pf, the packet filter of macOS: clawguard's rules as data, rendered into its own anchor
//! (`com.apple/clawguard`, which macOS's own `/etc/pf.conf` evaluates through
//! `anchor "com.apple/*"` — so an OS update that resets pf.conf does not drop them), and
//! a checker of the grammar subset clawguard writes (pf.conf(5)), for hosts without
//! `pfctl`: every line the layer renders must parse as one of these shapes.

use std::fmt;

/// The anchor clawguard's rules load into.
pub const ANCHOR: &str = "com.apple/clawguard";
/// The file that holds them.
pub const ANCHOR_FILE: &str = "/etc/pf.anchors/com.clawguard";
/// Addresses that opened connections to SSH too fast (pf's `overload`: fail2ban's job).
pub const ABUSE_TABLE: &str = "clawguard_abuse";
/// Addresses never blocked (fail2ban's `ignoreip`, the admin's own address).
pub const TRUSTED_TABLE: &str = "clawguard_trusted";

/// One rule of the anchor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rule {
    /// `table <NAME> persist [{ ADDRESS, … }]`
    Table { name: &'static str, addresses: Vec<String> },
    /// `block drop in quick from <TABLE> to any`
    BlockFromTable(&'static str),
    /// `block drop in all`: the default for what no rule passes.
    BlockIn,
    /// `pass in quick on lo0 all`
    PassLoopback,
    /// `pass out all keep state`: replies to what this host opens come back in.
    PassOut,
    /// `pass in quick inet6 proto ipv6-icmp all`: IPv6 does not work without neighbour
    /// discovery.
    PassIcmp6,
    /// `pass in quick inet proto udp from any port 67 to any port 68`: DHCP's answers.
    PassDhcp,
    /// `pass in quick proto tcp from <TABLE> to any port PORT no state`: trusted addresses
    /// (the admin's among them) reach the port without the rate limit — and without
    /// state, so the SSH session that applies, already open when pf is first enabled
    /// (pf has no state for it, and a stateful rule only matches a connection's first
    /// packet), keeps flowing.
    PassTcpFrom { table: &'static str, port: u16 },
    /// `pass in quick proto tcp from any to any port PORT no state`: a port SSH listens on
    /// until the move is confirmed — sessions open on it before pf was enabled go on.
    PassTcpStateless { port: u16 },
    /// A TCP port open to all; with `limit`, an address opening more than `conns`
    /// connections in `secs` seconds goes into the abuse table and its connections are
    /// cut (no cap on connections at once: parallel logins of a fleet tool are fine).
    PassTcp { port: u16, limit: Option<Limit> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit {
    pub conns: u32,
    pub secs: u32,
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Table { name, addresses } if addresses.is_empty() => write!(f, "table <{name}> persist"),
            Rule::Table { name, addresses } => write!(f, "table <{name}> persist {{ {} }}", addresses.join(", ")),
            Rule::PassTcpFrom { table, port } => {
                write!(f, "pass in quick proto tcp from <{table}> to any port {port} no state")
            }
            Rule::PassTcpStateless { port } => {
                write!(f, "pass in quick proto tcp from any to any port {port} no state")
            }
            Rule::BlockFromTable(t) => write!(f, "block drop in quick from <{t}> to any"),
            Rule::BlockIn => write!(f, "block drop in all"),
            Rule::PassLoopback => write!(f, "pass in quick on lo0 all"),
            Rule::PassOut => write!(f, "pass out all keep state"),
            Rule::PassIcmp6 => write!(f, "pass in quick inet6 proto ipv6-icmp all"),
            Rule::PassDhcp => write!(f, "pass in quick inet proto udp from any port 67 to any port 68"),
            Rule::PassTcp { port, limit: None } => {
                write!(f, "pass in quick proto tcp from any to any port {port} flags S/SA keep state")
            }
            Rule::PassTcp { port, limit: Some(l) } => write!(
                f,
                "pass in quick proto tcp from any to any port {port} flags S/SA keep state (max-src-conn-rate {}/{}, overload <{ABUSE_TABLE}> flush global)",
                l.conns, l.secs
            ),
        }
    }
}

/// The anchor's text: a header comment and one rule per line.
pub fn render(rules: &[Rule]) -> String {
    let mut out = String::from(
        "# Managed by clawguard: loaded into the pf anchor com.apple/clawguard at boot by\n# /Library/LaunchDaemons/com.clawguard.pf.plist. Edit the answers, not this file.\n",
    );
    for r in rules {
        out.push_str(&r.to_string());
        out.push('\n');
    }
    out
}

/// Checks `text` against the grammar subset clawguard writes; the number of rules, or the
/// first line that is not one of its shapes (with what was expected there).
pub fn check(text: &str) -> Result<usize, String> {
    let mut n = 0;
    let mut tables = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let toks: Vec<&str> = tokens(line);
        check_rule(&toks, &mut tables).map_err(|why| format!("line {}: `{line}`: {why}", i + 1))?;
        n += 1;
    }
    Ok(n)
}

/// Splits a rule into words; `(`, `)`, `{`, `}` and `,` are words of their own.
fn tokens(line: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in line.char_indices() {
        let special = matches!(c, '(' | ')' | ',' | '{' | '}');
        if c.is_whitespace() || special {
            if let Some(s) = start.take() {
                out.push(&line[s..i]);
            }
            if special {
                out.push(&line[i..i + 1]);
            }
        } else if start.is_none() {
            start = Some(i);
        }
    }
    if let Some(s) = start {
        out.push(&line[s..]);
    }
    out
}

fn table_ref<'a>(tok: Option<&&'a str>, tables: &[String]) -> Result<&'a str, String> {
    let t = tok.ok_or("a table <name> expected")?;
    let name = t.strip_prefix('<').and_then(|r| r.strip_suffix('>')).ok_or(format!("`{t}` is not a <table>"))?;
    if !tables.iter().any(|d| d == name) {
        return Err(format!("table <{name}> is used before it is declared"));
    }
    Ok(name)
}

fn port(tok: Option<&&str>) -> Result<u16, String> {
    let t = tok.ok_or("a port number expected")?;
    t.parse::<u16>().ok().filter(|p| *p > 0).ok_or(format!("`{t}` is not a port (1-65535)"))
}

fn check_rule(t: &[&str], tables: &mut Vec<String>) -> Result<(), String> {
    let mut it = t.iter().peekable();
    let expect = |it: &mut std::iter::Peekable<std::slice::Iter<&str>>, word: &str| -> Result<(), String> {
        match it.next() {
            Some(w) if *w == word => Ok(()),
            Some(w) => Err(format!("`{word}` expected, found `{w}`")),
            None => Err(format!("`{word}` expected at the end")),
        }
    };
    match it.next().copied() {
        Some("table") => {
            let t = it.next().ok_or("a table name expected")?;
            let name =
                t.strip_prefix('<').and_then(|r| r.strip_suffix('>')).ok_or(format!("`{t}` is not a <table>"))?;
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                return Err(format!("`{name}` is not a table name"));
            }
            expect(&mut it, "persist")?;
            tables.push(name.to_owned());
            if it.peek() == Some(&&"{") {
                it.next();
                loop {
                    let a = *it.next().ok_or("an address expected")?;
                    let (ip, prefix) = a.split_once('/').map_or((a, None), |(i, p)| (i, Some(p)));
                    let ip: std::net::IpAddr = ip.parse().map_err(|_| format!("`{a}` is not an address"))?;
                    let max = if ip.is_ipv4() { 32 } else { 128 };
                    if let Some(p) = prefix
                        && !p.parse::<u8>().is_ok_and(|p| p <= max)
                    {
                        return Err(format!("`{a}` has no valid prefix length"));
                    }
                    match it.next().copied() {
                        Some(",") => continue,
                        Some("}") => break,
                        Some(w) => return Err(format!("`,` or `}}` expected, found `{w}`")),
                        None => return Err("`}` expected".into()),
                    }
                }
            }
        }
        Some(action @ ("block" | "pass")) => {
            if action == "block" {
                expect(&mut it, "drop")?;
            }
            let dir = it.next().ok_or("`in` or `out` expected")?;
            if !matches!(*dir, "in" | "out") {
                return Err(format!("`in` or `out` expected, found `{dir}`"));
            }
            if it.peek() == Some(&&"quick") {
                it.next();
            }
            if it.peek() == Some(&&"on") {
                it.next();
                let ifname = it.next().ok_or("an interface expected")?;
                if !ifname.chars().all(|c| c.is_ascii_alphanumeric()) {
                    return Err(format!("`{ifname}` is not an interface"));
                }
            }
            if matches!(it.peek(), Some(&&("inet" | "inet6"))) {
                it.next();
            }
            let mut proto = None;
            if it.peek() == Some(&&"proto") {
                it.next();
                let p = *it.next().ok_or("a protocol expected")?;
                if !matches!(p, "tcp" | "udp" | "ipv6-icmp" | "icmp") {
                    return Err(format!("`{p}` is not a protocol clawguard writes"));
                }
                proto = Some(p);
            }
            match it.next().copied() {
                Some("all") => {}
                Some("from") => {
                    for side in ["from", "to"] {
                        if side == "to" {
                            expect(&mut it, "to")?;
                        }
                        match it.next().copied() {
                            Some("any") => {}
                            Some(t) if t.starts_with('<') => {
                                table_ref(Some(&t), tables)?;
                            }
                            Some(t) => return Err(format!("`any` or a <table> expected after `{side}`, found `{t}`")),
                            None => return Err(format!("an address expected after `{side}`")),
                        }
                        if it.peek() == Some(&&"port") {
                            if !matches!(proto, Some("tcp" | "udp")) {
                                return Err("`port` needs `proto tcp` or `proto udp`".into());
                            }
                            it.next();
                            port(it.next())?;
                        }
                    }
                }
                Some(w) => return Err(format!("`all` or `from` expected, found `{w}`")),
                None => return Err("`all` or `from … to …` expected".into()),
            }
            if it.peek() == Some(&&"flags") {
                it.next();
                if it.next() != Some(&"S/SA") {
                    return Err("`flags S/SA` is the only flags clawguard writes".into());
                }
            }
            if it.peek() == Some(&&"no") {
                if action != "pass" {
                    return Err("`no state` on a block rule".into());
                }
                it.next();
                expect(&mut it, "state")?;
            } else if it.peek() == Some(&&"keep") {
                if action != "pass" {
                    return Err("`keep state` on a block rule".into());
                }
                it.next();
                expect(&mut it, "state")?;
                if it.peek() == Some(&&"(") {
                    it.next();
                    loop {
                        match it.next().copied() {
                            Some("max-src-conn") => {
                                let n = it.next().ok_or("a number expected")?;
                                n.parse::<u32>().map_err(|_| format!("`{n}` is not a number"))?;
                            }
                            Some("max-src-conn-rate") => {
                                let r = it.next().ok_or("a rate N/SECONDS expected")?;
                                let ok = r.split_once('/').is_some_and(|(a, b)| {
                                    a.parse::<u32>().is_ok_and(|a| a > 0) && b.parse::<u32>().is_ok_and(|b| b > 0)
                                });
                                if !ok {
                                    return Err(format!("`{r}` is not a rate N/SECONDS"));
                                }
                            }
                            Some("overload") => {
                                table_ref(it.next(), tables)?;
                                if it.peek() == Some(&&"flush") {
                                    it.next();
                                    if it.peek() == Some(&&"global") {
                                        it.next();
                                    }
                                }
                            }
                            Some(w) => return Err(format!("`{w}` is not a state option clawguard writes")),
                            None => return Err("`)` expected".into()),
                        }
                        match it.next().copied() {
                            Some(",") => continue,
                            Some(")") => break,
                            Some(w) => return Err(format!("`,` or `)` expected, found `{w}`")),
                            None => return Err("`)` expected".into()),
                        }
                    }
                }
            }
        }
        Some(w) => return Err(format!("`table`, `block` or `pass` expected, found `{w}`")),
        None => {}
    }
    match it.next() {
        Some(w) => Err(format!("`{w}` after the end of the rule")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_rules() -> Vec<Rule> {
        vec![
            Rule::Table { name: ABUSE_TABLE, addresses: vec![] },
            Rule::Table {
                name: TRUSTED_TABLE,
                addresses: vec!["127.0.0.0/8".into(), "::1".into(), "2001:db8::/32".into()],
            },
            Rule::BlockFromTable(ABUSE_TABLE),
            Rule::BlockIn,
            Rule::PassLoopback,
            Rule::PassOut,
            Rule::PassIcmp6,
            Rule::PassDhcp,
            Rule::PassTcp { port: 2222, limit: Some(Limit { conns: 5, secs: 600 }) },
            Rule::PassTcp { port: 443, limit: None },
            Rule::PassTcpFrom { table: TRUSTED_TABLE, port: 2222 },
            Rule::PassTcpStateless { port: 22 },
        ]
    }

    #[test]
    fn every_shape_clawguard_writes_parses() {
        assert_eq!(check(&render(&all_rules())), Ok(12));
    }

    #[test]
    fn what_is_not_in_the_subset_is_refused_with_its_line() {
        let base = render(&all_rules());
        for (bad, why) in [
            ("pass in quick proto tcp from any to any port 70000", "not a port"),
            ("pass in quick proto tcp from any to any port 22 flags S/SA keep state (max-src-conn-rate 5)", "rate"),
            ("block drop in quick from <nowhere> to any", "before it is declared"),
            ("pass in quick proto tcp from any to any port 22 keep state (overload clawguard_abuse)", "not a <table>"),
            ("pass in quick proto tcp from any to any port 22 keep state (max-src-conn 3", "`)` expected"),
            ("pass in quick from any to any port 22", "needs `proto tcp`"),
            ("pass in quick proto tcp from 10.0.0.1 to any", "`any` or a <table>"),
            ("block in all", "`drop` expected"),
            ("pass in all\nrdr pass on en0", "`table`, `block` or `pass`"),
            ("pass in quick proto tcp from any to any port 22 flags S/SA keep state extra", "after the end"),
            ("table <bad-name> persist", "not a table name"),
            ("table <t> persist { 10.0.0.0/33 }", "prefix"),
            ("table <t> persist { 10.0.0.1\npass all }", "`}` expected"),
            ("table <t> persist { 10.0.0.1 } pass in all", "after the end"),
            ("table <t> persist { evil.example }", "not an address"),
            ("block drop in all keep state", "on a block rule"),
            ("block drop in all no state", "on a block rule"),
            ("pass in quick proto tcp from any to any port 22 no keep", "`state` expected"),
        ] {
            let text = format!("{base}{bad}\n");
            let err = check(&text).unwrap_err();
            assert!(err.contains(why), "{bad}: {err}");
            assert!(bad.lines().any(|l| err.contains(&format!("`{l}`"))), "names the line: {bad}: {err}");
        }
    }
}
