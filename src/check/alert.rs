//! The alert: one message per check, in the format of the service that reads it, and only
//! when something changed since the last alert — a finding that is new, or one that was
//! resolved. A finding that persists is not sent again every day. A delivery that fails
//! is said on stderr (the journal, under the timer) and as a finding of the next run.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::Finding;
use crate::answers::AlertFormat;
use crate::plan::Severity;

/// What the last alert covered, kept between runs (`/var/lib/clawguard/last-alert.toml`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastAlert {
    /// The findings that needed a person, as they were worded.
    pub findings: BTreeSet<String>,
    /// Why the last delivery failed, if it did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failed: Option<String>,
    /// When an alert was last delivered (seconds since the epoch).
    #[serde(default)]
    pub sent_at: u64,
}

/// The alert bot's token in the vault: clawguard's own, apart from the agent's `telegram`
/// (OpenClaw's Telegram channel), which the agent may hold.
pub const TELEGRAM_KEY: &str = "clawguard-telegram";

/// A week, for the "still alive" alert.
const WEEK: u64 = 7 * 86_400;

/// What one alert says: the findings new since the last one, those resolved, and how many
/// are still open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message<'a> {
    pub host: &'a str,
    pub new: Vec<&'a Finding>,
    pub resolved: Vec<String>,
    pub open: Vec<&'a Finding>,
    /// Nothing new: the weekly sign that the check still runs.
    pub still_alive: bool,
}

impl LastAlert {
    /// The message for `findings` against what the last alert said; None when there is
    /// nothing new and nothing resolved.
    pub fn message<'a>(&self, host: &'a str, findings: &'a [Finding]) -> Option<Message<'a>> {
        let open: Vec<&Finding> = findings.iter().filter(|f| f.severity >= Severity::Warning).collect();
        let new: Vec<&Finding> = open.iter().copied().filter(|f| !self.findings.contains(&f.text)).collect();
        let resolved: Vec<String> =
            self.findings.iter().filter(|t| !open.iter().any(|f| &f.text == *t)).cloned().collect();
        (!new.is_empty() || !resolved.is_empty()).then_some(Message { host, new, resolved, open, still_alive: false })
    }

    /// The weekly "still alive" message, when one is due at `now`.
    pub fn still_alive<'a>(&self, host: &'a str, findings: &'a [Finding], now: u64) -> Option<Message<'a>> {
        let open: Vec<&Finding> = findings.iter().filter(|f| f.severity >= Severity::Warning).collect();
        (now.saturating_sub(self.sent_at) >= WEEK).then_some(Message {
            host,
            new: Vec::new(),
            resolved: Vec::new(),
            open,
            still_alive: true,
        })
    }

    /// What to keep after `findings` were alerted at `now` (or not: `failed`).
    pub fn after(&self, findings: &[Finding], failed: Option<String>, now: u64) -> LastAlert {
        match failed {
            // Not delivered: the same news goes out next time.
            Some(why) => LastAlert { failed: Some(why), ..self.clone() },
            None => LastAlert {
                findings: findings.iter().filter(|f| f.severity >= Severity::Warning).map(|f| f.text.clone()).collect(),
                failed: None,
                sent_at: now,
            },
        }
    }
}

impl Message<'_> {
    /// The message as text: what is new, what was resolved, what is still open.
    pub fn text(&self) -> String {
        let tag = |f: &Finding| if f.severity == Severity::Danger { "DANGER" } else { "WARNING" };
        let mut s = format!("clawguard check on {}: ", self.host);
        s.push_str(&match (self.new.len(), self.open.len()) {
            (0, 0) if self.still_alive => "still alive, all clear.".to_owned(),
            (0, n) if self.still_alive => format!("still alive; {n} finding(s) still need you."),
            (0, 0) => "all clear.".to_owned(),
            (0, n) => format!("{n} finding(s) still need you."),
            (k, n) => format!("{k} new finding(s); {n} in all need you."),
        });
        for f in &self.new {
            s.push_str(&format!("\nNEW {}: {}", tag(f), f.text));
        }
        for t in &self.resolved {
            s.push_str(&format!("\nRESOLVED: {t}"));
        }
        let old = self.open.iter().filter(|f| !self.new.contains(f)).count();
        if old > 0 {
            s.push_str(&format!("\n({old} older finding(s) still open: `sudo clawguard check` lists them.)"));
        }
        s
    }

    fn json(&self) -> serde_json::Value {
        let item = |f: &&Finding| serde_json::json!({ "id": f.id, "severity": super::severity_word(f.severity), "text": f.text });
        serde_json::json!({
            "host": self.host,
            "needs_attention": !self.open.is_empty(),
            "new": self.new.iter().map(item).collect::<Vec<_>>(),
            "resolved": self.resolved,
            "findings": self.open.iter().map(item).collect::<Vec<_>>(),
        })
    }
}

/// Where and how to post. `telegram_token` is read from the vault for Telegram only.
pub struct Target<'a> {
    pub url: &'a str,
    pub format: AlertFormat,
    pub telegram_chat: Option<i64>,
    pub telegram_token: Option<String>,
}

/// Posts `m` to the target in its format.
pub fn post(t: &Target, m: &Message) -> Result<(), String> {
    let text = m.text();
    let json = |v: serde_json::Value| (t.url.to_owned(), "application/json", v.to_string(), Vec::new());
    let (url, kind, body, headers): (String, &str, String, Vec<(&str, String)>) = match t.format {
        // Each service reads its own markup: the text is escaped for it (`crate::sink`),
        // so a key's comment or a refused host can neither mention everyone nor link.
        AlertFormat::Slack => json(serde_json::json!({ "text": crate::sink::slack(&text) })),
        AlertFormat::Discord => json(serde_json::json!({
            "content": cut(&crate::sink::discord(&text), 2000),
            "allowed_mentions": { "parse": [] },
            // SUPPRESS_EMBEDS: no preview fetched for a link in the text.
            "flags": 4,
        })),
        AlertFormat::Json => json(m.json()),
        AlertFormat::Ntfy => {
            let danger = m.new.iter().chain(&m.open).any(|f| f.severity == Severity::Danger);
            // A header value is one line of visible ASCII (the hostname is the target's).
            let title: String = format!("clawguard check on {}", m.host)
                .chars()
                .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
                .collect();
            let headers = vec![
                ("Title", title),
                ("Priority", if danger { "high" } else { "default" }.to_owned()),
                ("Tags", if m.open.is_empty() { "white_check_mark" } else { "warning" }.to_owned()),
            ];
            (t.url.to_owned(), "text/plain; charset=utf-8", crate::sink::plain(&text), headers)
        }
        AlertFormat::Telegram => {
            let token = t.telegram_token.as_deref().ok_or(
                "the alert bot's token is not in the vault: `sudo clawguard secrets set clawguard-telegram`".to_owned(),
            )?;
            let chat = t.telegram_chat.ok_or("no telegram_chat in the answers".to_owned())?;
            let url = format!("{}/bot{token}/sendMessage", t.url.trim_end_matches('/'));
            // No parse_mode: Telegram reads no markup in the text; no link preview either.
            let body = serde_json::json!({
                "chat_id": chat,
                "text": cut(&crate::sink::plain(&text), 4096),
                "link_preview_options": { "is_disabled": true },
            })
            .to_string();
            (url, "application/json", body, Vec::new())
        }
    };
    let mut req = ureq::post(&url).header("Content-Type", kind);
    for (k, v) in &headers {
        req = req.header(*k, v);
    }
    // The URL may hold the bot's token: it never reaches an error message.
    req.send(body.as_str()).map(|_| ()).map_err(|e| {
        format!(
            "the alert ({} format) was not delivered: {}",
            t.format,
            redact(&e.to_string(), t.telegram_token.as_deref())
        )
    })
}

/// Sends what changed since the last alert to the answers' webhook, and records it.
/// Returns why it failed, if it did (the caller says it on stderr, for the journal).
pub fn deliver(
    answers: &crate::answers::Answers,
    root: &crate::target::Root,
    host: &str,
    findings: &[Finding],
) -> Result<(), String> {
    let Some(url) = &answers.monitoring.alert_webhook else { return Ok(()) };
    let store = crate::apply::Store::new(root);
    let last: LastAlert = match store.last_alert() {
        Ok(Some(last)) => last,
        Ok(None) => LastAlert::default(),
        // Damaged: this alert repeats every finding rather than drop one.
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => LastAlert::default(),
        Err(e) => return Err(format!("what the last alert said cannot be read ({e}): no alert sent")),
    };
    let now = crate::target::now();
    let alive = || answers.monitoring.alert_still_alive.then(|| last.still_alive(host, findings, now)).flatten();
    let Some(m) = last.message(host, findings).or_else(alive) else { return Ok(()) };
    let m = &m;
    let format = answers.monitoring.alert_format;
    let telegram_token = if format == AlertFormat::Telegram {
        let vault = crate::vault::Vault::new(root);
        vault
            .get(&TELEGRAM_KEY.parse().expect("a valid name"))
            .ok()
            .map(|t| String::from_utf8_lossy(&t).trim().to_owned())
    } else {
        None
    };
    let target = Target { url: url.as_str(), format, telegram_chat: answers.monitoring.telegram_chat, telegram_token };
    let sent = post(&target, m);
    let kept = last.after(findings, sent.as_ref().err().cloned(), now);
    if let Err(e) = store.set_last_alert(&toml::to_string(&kept).expect("always serializes")) {
        return Err(format!(
            "the alert was sent, but what it said could not be recorded ({e}): the next run sends it again"
        ));
    }
    sent
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max { s.to_owned() } else { s.chars().take(max - 1).collect::<String>() + "…" }
}

fn redact(s: &str, secret: Option<&str>) -> String {
    match secret {
        Some(t) if !t.is_empty() => s.replace(t, "<token>"),
        _ => s.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::finding;

    #[test]
    fn only_news_is_sent_and_a_resolved_finding_is_said_once() {
        let a = finding("firewall.ufw-inactive", Severity::Danger, "ufw is not active");
        let b = finding("host.disk-full", Severity::Warning, "the disk is 93% full");
        let note = finding("backup.none", Severity::Note, "no backup destination");
        let first = LastAlert::default();
        let m = first.message("h", std::slice::from_ref(&a)).expect("a new finding is news");
        assert_eq!(m.new, vec![&a]);
        let kept = first.after(std::slice::from_ref(&a), None, 1);
        assert!(kept.message("h", std::slice::from_ref(&a)).is_none(), "the same finding again is not news");
        let both = [a.clone(), b.clone(), note];
        let m = kept.message("h", &both).unwrap();
        assert_eq!(m.new, vec![&b]);
        assert!(m.text().contains("NEW WARNING: the disk") && !m.text().contains("NEW DANGER"), "{}", m.text());
        let kept = kept.after(&both, None, 2);
        let m = kept.message("h", std::slice::from_ref(&b)).unwrap();
        assert_eq!(m.resolved, vec!["ufw is not active".to_owned()]);
        let kept = kept.after(std::slice::from_ref(&b), None, 3);
        assert!(kept.message("h", std::slice::from_ref(&b)).is_none());
        // A failed delivery keeps the old state: the news goes out again next time.
        let failed = kept.after(&[a.clone(), b.clone()], Some("refused".into()), 4);
        assert_eq!(failed.findings, kept.findings);
        assert!(failed.message("h", &[a, b.clone()]).is_some());
        // A week after the last alert, a "still alive" is due; not before.
        assert!(kept.still_alive("h", std::slice::from_ref(&b), 3 + WEEK - 1).is_none());
        let m = kept.still_alive("h", std::slice::from_ref(&b), 3 + WEEK).unwrap();
        assert!(m.text().contains("still alive; 1 finding(s) still need you."), "{}", m.text());
    }
}
