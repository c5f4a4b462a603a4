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
