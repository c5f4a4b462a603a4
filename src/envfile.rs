//! Plaintext `.env` files (OpenClaw's `~/.openclaw/.env`), read once to move their keys
//! into the vault. Values are never shown: errors name the line, not its content.

use crate::answers::Ident;

/// One `NAME=value` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Var {
    /// 1-based, for messages.
    pub line: usize,
    pub name: String,
    pub value: String,
}

/// Reads `NAME=value` lines: blank lines and `#` comments skipped, an optional `export `,
/// values optionally in single or double quotes. A line that is none of these is an error
/// naming its number (a multi-line value, say), so nothing is half-read.
pub fn parse(text: &str) -> Result<Vec<Var>, String> {
    let mut out = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map(str::trim_start).unwrap_or(line);
        let Some((name, value)) = line.split_once('=') else {
            return Err(format!("line {} is not NAME=value", i + 1));
        };
        let name = name.trim();
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(format!("line {}: `{name}` is not a variable name", i + 1));
        }
        let value = value.trim();
        let value = match value.as_bytes() {
            [q @ (b'"' | b'\''), .., last] if last == q && value.len() >= 2 => &value[1..value.len() - 1],
            [b'"' | b'\'', ..] => return Err(format!("line {}: the quote around {name}'s value is not closed", i + 1)),
            _ => value,
        };
        out.push(Var { line: i + 1, name: name.to_owned(), value: value.to_owned() });
    }
    Ok(out)
}

/// The vault name for a variable: the services OpenClaw knows by their usual variable,
/// else the variable's name in lower case with `-` (`MY_TOOL_KEY` → `my-tool-key`).
pub fn service_for(var: &str) -> Result<Ident, String> {
    let known = match var {
        "OPENAI_API_KEY" => "openai",
        "ANTHROPIC_API_KEY" => "anthropic",
        "GEMINI_API_KEY" | "GOOGLE_API_KEY" => "google",
        "MISTRAL_API_KEY" => "mistral",
        "XAI_API_KEY" => "xai",
        "OPENROUTER_API_KEY" => "openrouter",
        "GROQ_API_KEY" => "groq",
        "SLACK_BOT_TOKEN" => "slack",
        "TELEGRAM_BOT_TOKEN" => "telegram",
        "DISCORD_BOT_TOKEN" => "discord",
        "BRAVE_API_KEY" => "brave",
        "OPENCLAW_GATEWAY_TOKEN" => crate::layers::openclaw::GATEWAY_KEY,
        _ => "",
    };
    let name = if known.is_empty() { var.to_ascii_lowercase().replace('_', "-") } else { known.to_owned() };
    let name: Ident =
        name.parse().map_err(|e: crate::answers::Invalid| format!("{var} cannot be a vault name ({})", e.0))?;
    if name.is_clawguards() {
        return Err(format!(
            "{var} would be `{name}`, one of clawguard's own keys, which the agent never gets: rename the variable (or set clawguard's key with `clawguard secrets set {name}`)"
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_export_and_quotes() {
        let vars = parse("# keys\n\nexport OPENAI_API_KEY=\"sk-1 2\"\nSLACK_BOT_TOKEN='xoxb-3'\nPLAIN=a=b\n").unwrap();
        let got: Vec<(&str, &str)> = vars.iter().map(|v| (v.name.as_str(), v.value.as_str())).collect();
        assert_eq!(got, [("OPENAI_API_KEY", "sk-1 2"), ("SLACK_BOT_TOKEN", "xoxb-3"), ("PLAIN", "a=b")]);
        assert_eq!(vars[0].line, 3);
    }

    #[test]
    fn what_is_not_a_variable_is_an_error_that_never_shows_the_value() {
        for (text, want) in [
            ("A=1\nsk-secret-value\n", "line 2 is not NAME=value"),
            ("BAD NAME=sk-secret\n", "line 1: `BAD NAME`"),
            ("K=\"sk-secret\n", "line 1: the quote"),
        ] {
            let e = parse(text).unwrap_err();
            assert!(e.starts_with(want) && !e.contains("sk-secret"), "{e}");
        }
    }

    #[test]
    fn services_by_their_usual_variable() {
        assert_eq!(service_for("OPENAI_API_KEY").unwrap().as_str(), "openai");
        assert_eq!(service_for("OPENCLAW_GATEWAY_TOKEN").unwrap().as_str(), "openclaw-gateway");
        assert_eq!(service_for("MY_TOOL_KEY").unwrap().as_str(), "my-tool-key");
        assert!(service_for("9LIVES").is_err());
        // The agent's Telegram bot is its own `telegram`; clawguard's names are not to be had.
        assert_eq!(service_for("TELEGRAM_BOT_TOKEN").unwrap().as_str(), "telegram");
        let e = service_for("CLAWGUARD_TELEGRAM").unwrap_err();
        assert!(e.contains("one of clawguard's own keys"), "{e}");
    }
}
