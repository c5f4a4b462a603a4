//! Escaping per sink: what clawguard shows may hold text an attacker wrote (a file name
//! in the agent's directories, a key's comment, a host the agent asked its proxy for, a
//! target's hostname, the agent's own output), so every place text leaves clawguard has
//! its own escaping, applied where the text is written out, not where it was found:
//!
//! - a terminal ([`terminal`]): control characters (an escape sequence can clear the
//!   screen above a DANGER line, retitle the window, or move the cursor to overwrite
//!   it) and bidirectional overrides (which reorder what is read) are shown as escapes;
//! - Slack ([`slack`]): `&`, `<` and `>` as Slack's formatting reference says, so no
//!   `<!channel>` mention or `<https://…|link>` can be written;
//! - Discord ([`discord`]): its markdown characters escaped with `\`; the payload also
//!   allows no mention at all and no link preview (`alert.rs`);
//! - Telegram and ntfy ([`plain`]): sent without a parse mode (no markup is read), with
//!   control characters made visible;
//! - JSON: `serde_json` escapes; nothing more is done.
//!
//! The escapes are visible (`\u{1b}`), so a person reading sees that something was there.

use std::borrow::Cow;

/// Whether `c` changes how a terminal shows what follows instead of being shown.
fn hostile(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn escape(s: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !s.chars().any(|c| hostile(c) && !keep(c)) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hostile(c) && !keep(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a terminal: every control character but a newline and a tab made visible.
pub fn terminal(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\n' || c == '\t')
}

/// One line for a terminal: a newline made visible too (a line of a diff, a value).
pub fn terminal_line(s: &str) -> Cow<'_, str> {
    escape(s, |c| c == '\t')
}

/// JSON text (already escaped by `serde_json`: control characters are `\u00XX`) with the
/// bidirectional overrides it leaves as they are escaped the JSON way too (`\u202e`): the
/// document stays valid, and a terminal showing it reorders nothing.
pub fn json(s: &str) -> Cow<'_, str> {
    if !s.chars().any(hostile) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if hostile(c) {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Text for a service that reads no markup: control characters but newlines made visible.
pub fn plain(s: &str) -> String {
    terminal(s).into_owned()
}

/// Text for Slack's `text` field: `&`, `<` and `>` escaped (Slack's own rule), control
/// characters made visible.
pub fn slack(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in terminal(s).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Text for a Discord message: its markdown characters escaped with a backslash (so no
/// `[text](link)`, no `@everyone` that reads as one, no code block that hides a line),
/// control characters made visible.
pub fn discord(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut line_start = true;
    for c in terminal(s).chars() {
        // Headings, lists and quotes only where a line starts; the rest anywhere.
        if "\\*_~`|[]<@".contains(c) || (line_start && "#->".contains(c)) {
            out.push('\\');
        }
        out.push(c);
        line_start = c == '\n';
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_sees_escape_sequences_as_text() {
        let clear = "name\u{1b}[2J\u{1b}[H\u{7}\r\u{9b}31m\u{202e}txt.exe";
        let t = terminal(clear);
        assert!(!t.chars().any(hostile), "{t:?}");
        assert_eq!(t, "name\\u{1b}[2J\\u{1b}[H\\u{7}\\r\\u{9b}31m\\u{202e}txt.exe");
        assert_eq!(terminal("two\nlines\tand a tab"), "two\nlines\tand a tab");
        assert_eq!(terminal_line("two\nlines"), "two\\nlines");
        assert!(matches!(terminal("plain"), Cow::Borrowed(_)));
    }

    #[test]
    fn json_stays_json_with_no_override_left_raw() {
        let doc = serde_json::json!({ "text": "a\u{202e}b\u{1b}[2J" }).to_string();
        let shown = json(&doc);
        assert!(!shown.chars().any(hostile), "{shown:?}");
        let back: serde_json::Value = serde_json::from_str(&shown).unwrap();
        assert_eq!(back["text"], "a\u{202e}b\u{1b}[2J");
    }

    #[test]
    fn each_alert_format_escapes_its_own_markup() {
        let evil = "key <!channel> <https://evil.example|click> & @everyone [x](https://evil.example) `code`\u{1b}[2J";
        let s = slack(evil);
        assert!(!s.contains('<') && !s.contains('>') && s.contains("&lt;!channel&gt;") && s.contains("&amp;"), "{s}");
        assert!(!s.contains('\u{1b}'), "{s}");
        let d = discord(evil);
        assert!(d.contains("\\@everyone") && d.contains("\\[x\\](https:") && d.contains("\\`code\\`"), "{d}");
        assert_eq!(discord("# big\n> quote\n- item - not"), "\\# big\n\\> quote\n\\- item - not");
        assert!(!d.contains('\u{1b}'), "{d}");
        let p = plain(evil);
        assert!(p.contains("<!channel>") && !p.contains('\u{1b}'), "{p}");
    }
}

/// A file's text for a diff or a report: the value of every setting whose name says it
/// holds a key (`apiKey`, `token`, `password`, `client_secret`, `*_API_KEY`…) replaced by
/// `<masked>` — in JSON/JSON5, YAML, TOML, ini and `.env` shapes alike. A value that is a
/// reference rather than a key (an object, a list, `${VAR}`, a path) is left as it is.
/// Diffs show what changes, never a key a file on the target holds in plaintext.
pub fn mask_keys(text: &str) -> Cow<'_, str> {
    if !text.lines().any(|l| masked_line(l).is_some()) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for l in text.split_inclusive('\n') {
        let (body, end) = match l.strip_suffix('\n') {
            Some(b) => (b, "\n"),
            None => (l, ""),
        };
        out.push_str(&masked_line(body).unwrap_or_else(|| body.to_owned()));
        out.push_str(end);
    }
    Cow::Owned(out)
}

/// Whether a setting's name says its value is a key.
fn key_like(name: &str) -> bool {
    let n: String = name.chars().filter(|c| c.is_ascii_alphanumeric()).collect::<String>().to_ascii_lowercase();
    ["apikey", "token", "secret", "password", "passwd", "privatekey", "accesskey", "credential"]
        .iter()
        .any(|k| n.contains(k))
}

/// `line` with its key-like values masked, or None when it has none.
fn masked_line(line: &str) -> Option<String> {
    let b = line.as_bytes();
    let mut out = String::new();
    let mut copied = 0;
    let mut i = 0;
    while i < b.len() {
        if b[i] != b':' && b[i] != b'=' {
            i += 1;
            continue;
        }
        // The name before the separator: optional spaces and a closing quote, then a word.
        let mut j = i;
        while j > 0 && b[j - 1] == b' ' {
            j -= 1;
        }
        if j > 0 && (b[j - 1] == b'"' || b[j - 1] == b'\'') {
            j -= 1;
        }
        let end = j;
        while j > 0 && (b[j - 1].is_ascii_alphanumeric() || b"_-.".contains(&b[j - 1])) {
            j -= 1;
        }
        let name = &line[j..end];
        // The value after it.
        let mut v = i + 1;
        while v < b.len() && b[v] == b' ' {
            v += 1;
        }
        if name.is_empty() || !key_like(name) || v >= b.len() {
            i += 1;
            continue;
        }
        let (start, stop) = match b[v] {
            q @ (b'"' | b'\'') => match line[v + 1..].find(q as char) {
                Some(k) => (v + 1, v + 1 + k),
                None => (v + 1, b.len()),
            },
            b'{' | b'[' | b'$' | b'/' | b'<' => {
                i = v;
                continue;
            }
            _ => {
                // Unquoted: to a comma, a comment or the end (`.env`, YAML, ini).
                let k = line[v..].find([',', ' ', '#']).map_or(b.len(), |k| v + k);
                (v, k)
            }
        };
        let value = &line[start..stop];
        if value.is_empty() || value.starts_with("${") || value.starts_with('/') || value == "null" {
            i = stop.max(i + 1);
            continue;
        }
        out.push_str(&line[copied..start]);
        out.push_str("<masked>");
        copied = stop;
        i = stop.max(i + 1);
    }
    (copied > 0).then(|| {
        out.push_str(&line[copied..]);
        out
    })
}

#[cfg(test)]
mod mask_tests {
    use super::*;

    #[test]
    fn keys_in_every_shape_are_masked_and_references_are_not() {
        let text = r#"{
  "models": { "providers": { "openai": { "apiKey": "sk-live-123", "baseUrl": "https://api.openai.com" } } },
  channels: { telegram: { botToken: '123:abc' } },
  "gateway": { "auth": { "token": { "source": "file", "path": "/run/secrets/openclaw-gateway" } } },
  "env": { "SLACK_TOKEN": "${SLACK_TOKEN}" },
}
OPENAI_API_KEY=sk-env-456
export ANTHROPIC_API_KEY="sk-ant-789" # mine
client_secret: yaml-secret-0
password = "toml-pw"
model = "gpt-5"
"#;
        let m = mask_keys(text);
        for secret in ["sk-live-123", "123:abc", "sk-env-456", "sk-ant-789", "yaml-secret-0", "toml-pw"] {
            assert!(!m.contains(secret), "{secret} is shown:\n{m}");
        }
        for kept in ["https://api.openai.com", "/run/secrets/openclaw-gateway", "${SLACK_TOKEN}", "gpt-5", "# mine"] {
            assert!(m.contains(kept), "{kept} was masked:\n{m}");
        }
        assert_eq!(m.lines().count(), text.lines().count());
        assert!(matches!(mask_keys("model = \"gpt-5\"\n"), Cow::Borrowed(_)));
    }
}
