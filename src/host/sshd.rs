//! What sshd will read: the main config with its `Include`s expanded in order, as sshd
//! itself reads it (first value wins for most keywords; `Port` adds up; lines after a
//! `Match` belong to it).
//!
//! Only parses; never judges. The ssh layer decides what conflicts.

use crate::target::Root;

pub const MAIN: &str = "/etc/ssh/sshd_config";
pub const DROPIN_DIR: &str = "/etc/ssh/sshd_config.d";

/// One `Keyword value` line as sshd will see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directive {
    /// The file it comes from (path inside the root).
    pub file: String,
    pub line: usize,
    /// Lower-case keyword.
    pub key: String,
    pub value: String,
    /// Inside a `Match` block (only applies to some connections).
    pub in_match: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SshdFacts {
    /// The main config exists.
    pub main_present: bool,
    /// sshd has an Ed25519 host key (the default file, or a `HostKey` that names one).
    pub ed25519_host_key: bool,
    /// The main config includes `sshd_config.d/*.conf`, so a drop-in there is read at all.
    pub includes_dropins: bool,
    /// Every directive in reading order, includes expanded.
    pub directives: Vec<Directive>,
    /// The drop-in files present, sorted as sshd reads them.
    pub dropins: Vec<String>,
    /// The raw text of each file read (path inside root, text), for neutralising lines.
    pub files: Vec<(String, String)>,
    /// On macOS, the ports launchd listens on for sshd (Remote Login's 22, clawguard's own
    /// LaunchDaemon): there, `Port` lines are not read (sshd runs as `sshd -i`). Empty
    /// when SSH is off.
    pub launchd_ports: Option<Vec<u16>>,
}

impl SshdFacts {
    /// The value sshd will use for a first-value-wins keyword, outside `Match` blocks.
    pub fn effective(&self, key: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| !d.in_match && d.key == key)
    }

    /// The ports sshd listens on today (22 when none is set).
    pub fn ports(&self) -> Vec<u16> {
        if let Some(ports) = &self.launchd_ports {
            return ports.clone();
        }
        let mut ports: Vec<u16> = self
            .directives
            .iter()
            .filter(|d| !d.in_match && d.key == "port")
            .filter_map(|d| d.value.parse().ok())
            .collect();
        if ports.is_empty() {
            ports.push(22);
        }
        ports.dedup();
        ports
    }

    pub fn text_of(&self, file: &str) -> Option<&str> {
        self.files.iter().find(|(f, _)| f == file).map(|(_, t)| t.as_str())
    }
}

/// Splits an sshd config line into (keyword, value), or None for blanks and comments.
pub fn split_line(line: &str) -> Option<(String, String)> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') {
        return None;
    }
    let idx = t.find(|c: char| c.is_whitespace() || c == '=')?;
    let key = t[..idx].to_ascii_lowercase();
    let value = t[idx..].trim_start_matches(|c: char| c.is_whitespace() || c == '=').trim().to_owned();
    Some((key, value))
}

pub fn probe(root: &Root) -> SshdFacts {
    let mut facts = SshdFacts {
        dropins: root.list(DROPIN_DIR).into_iter().filter(|n| n.ends_with(".conf") && !n.starts_with('.')).collect(),
        ..Default::default()
    };
    let Some(main) = root.read(MAIN) else {
        return facts;
    };
    facts.main_present = true;
    let mut in_match = false;
    read_file(root, MAIN, &main, &mut in_match, &mut facts, 0);
    let host_keys: Vec<&str> =
        facts.directives.iter().filter(|d| !d.in_match && d.key == "hostkey").map(|d| d.value.as_str()).collect();
    facts.ed25519_host_key = if host_keys.is_empty() {
        root.exists("/etc/ssh/ssh_host_ed25519_key")
    } else {
        host_keys.iter().any(|k| k.contains("ed25519") && root.exists(k))
    };
    facts
}

fn read_file(root: &Root, path: &str, text: &str, in_match: &mut bool, facts: &mut SshdFacts, depth: usize) {
    facts.files.push((path.to_owned(), text.to_owned()));
    for (n, line) in text.lines().enumerate() {
        let Some((key, value)) = split_line(line) else {
            continue;
        };
        if key == "include" && depth < 8 {
            for pattern in value.split_whitespace() {
                let pattern = if pattern.starts_with('/') { pattern.to_owned() } else { format!("/etc/ssh/{pattern}") };
                // Debian's `*.conf`, or macOS's `*` (which reads our `.conf` drop-in too).
                if pattern == format!("{DROPIN_DIR}/*.conf") || pattern == format!("{DROPIN_DIR}/*") {
                    facts.includes_dropins = true;
                }
                for file in expand(root, &pattern) {
                    if let Some(t) = root.read(&file) {
                        read_file(root, &file, &t, in_match, facts, depth + 1);
                    }
                }
            }
            continue;
        }
        if key == "match" {
            *in_match = !value.eq_ignore_ascii_case("all");
            continue;
        }
        facts.directives.push(Directive { file: path.to_owned(), line: n + 1, key, value, in_match: *in_match });
    }
}

/// Expands a pattern with `*` in its last component, sorted as glob(3) does.
fn expand(root: &Root, pattern: &str) -> Vec<String> {
    let (dir, name) = pattern.rsplit_once('/').unwrap_or(("", pattern));
    if !name.contains('*') {
        return vec![pattern.to_owned()];
    }
    let (prefix, suffix) = name.split_once('*').unwrap_or((name, ""));
    root.list(dir)
        .into_iter()
        // glob(3) skips hidden files unless the pattern names the dot.
        .filter(|n| !n.starts_with('.') || prefix.starts_with('.'))
        .filter(|n| n.starts_with(prefix) && n.ends_with(suffix) && n.len() >= prefix.len() + suffix.len())
        .map(|n| format!("{dir}/{n}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_on_space_or_equals() {
        assert_eq!(split_line("  Port 2222"), Some(("port".into(), "2222".into())));
        assert_eq!(split_line("PasswordAuthentication=yes"), Some(("passwordauthentication".into(), "yes".into())));
        assert_eq!(split_line("# Port 22"), None);
        assert_eq!(split_line(""), None);
    }

    #[test]
    fn include_globs_skip_hidden_files_as_sshd_does() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("etc/ssh/sshd_config.d");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(d.path().join("etc/ssh/sshd_config"), "Include /etc/ssh/sshd_config.d/*.conf\n").unwrap();
        std::fs::write(dir.join(".hidden.conf"), "Port 1\n").unwrap();
        std::fs::write(dir.join("10-a.conf"), "Port 2\n").unwrap();
        let facts = probe(&Root::new(d.path()));
        assert_eq!(facts.ports(), vec![2]);
        assert_eq!(facts.dropins, vec!["10-a.conf"]);
    }
}
