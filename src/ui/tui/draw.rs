//! Drawing: one frame from the app's state. Nothing here changes the state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span, Text};
use ratatui::widgets::{Block, Borders, Clear, Gauge, Paragraph, Wrap};

use super::app::{App, Modal, Screen};
use crate::answers::Layer;
use crate::ui::fields::Kind;

pub fn draw(app: &App, f: &mut Frame) {
    let [title, body, status, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(5), Constraint::Length(1), Constraint::Length(2)])
            .areas(f.area());
    draw_title(app, f, title);
    let [side, main] = Layout::horizontal([Constraint::Length(19), Constraint::Min(30)]).areas(body);
    draw_sidebar(app, f, side);
    match app.screen {
        Screen::Welcome => draw_welcome(app, f, main),
        Screen::Layer(i) => draw_layer(app, f, main, i),
        Screen::Review => draw_review(app, f, main),
        Screen::Apply => draw_apply(app, f, main),
        Screen::Done => draw_done(app, f, main),
    }
    if let Some((err, text)) = &app.status {
        let style = if *err { Style::new().fg(Color::Red) } else { Style::new().fg(Color::Green) };
        f.render_widget(Paragraph::new(text.as_str()).style(app.style(style)), status);
    }
    draw_footer(app, f, footer);
    if let Some(m) = &app.modal {
        draw_modal(app, f, m);
    }
}

fn draw_title(app: &App, f: &mut Frame, area: Rect) {
    let host = app.facts.hostname.clone().unwrap_or_else(|| "this host".into());
    let mut spans = vec![
        Span::styled(
            " clawguard ",
            app.style(Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)),
        ),
        Span::raw(format!(" {host} · {} ", app.facts.os.describe())),
    ];
    if app.dry_run {
        spans.push(Span::styled(" DRY RUN ", app.style(Style::new().fg(Color::Black).bg(Color::Yellow))));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_sidebar(app: &App, f: &mut Frame, area: Rect) {
    let mut lines = Vec::new();
    let mark = |current: bool| if current { "▶ " } else { "  " };
    lines.push(Line::raw(format!("{}Welcome", mark(app.screen == Screen::Welcome))));
    for (i, form) in app.forms.iter().enumerate() {
        let current = app.screen == Screen::Layer(i);
        let state = if app.answers.skip.contains(&form.layer) {
            "–"
        } else if app.visited[i] {
            "✓"
        } else {
            " "
        };
        let text = format!("{}{state} {} {}", mark(current), i + 1, short(form.layer));
        let style =
            if current { app.style(Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan)) } else { Style::new() };
        lines.push(Line::styled(text, style));
    }
    lines.push(Line::raw(format!("{}Review", mark(app.screen == Screen::Review))));
    if !app.dry_run {
        lines.push(Line::raw(format!("{}Apply", mark(app.screen == Screen::Apply))));
        lines.push(Line::raw(format!("{}Done", mark(app.screen == Screen::Done))));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("✓ done – skipped", app.style(Style::new().fg(Color::DarkGray))));
    f.render_widget(Paragraph::new(lines).block(Block::new().borders(Borders::RIGHT)), area);
}

fn short(l: Layer) -> &'static str {
    match l {
        Layer::Sandbox => "Sandbox",
        Layer::Credentials => "Credentials",
        Layer::Ssh => "SSH",
        Layer::Firewall => "Firewall",
        Layer::Egress => "Egress",
        Layer::Monitoring => "Monitoring",
        Layer::Backup => "Backup",
    }
}

fn draw_welcome(app: &App, f: &mut Frame, area: Rect) {
    let fa = &app.facts;
    let bold = app.style(Style::new().add_modifier(Modifier::BOLD));
    let mut lines = vec![
        Line::styled("Make this host a safe home for an AI agent.", bold),
        Line::raw(
            "Seven layers, a few questions each; then the exact changes, before anything is written. Press Enter to start.",
        ),
        Line::raw(""),
        Line::styled("This host", bold),
    ];
    let conn = match &fa.ssh_connection {
        Some(c) => format!("over SSH from {} (port {})", c.client, c.server_port),
        None => "not over SSH (a console)".into(),
    };
    lines.push(Line::raw(format!("  You are connected {conn}.")));
    let ports: Vec<String> = fa.sshd.ports().iter().map(|p| p.to_string()).collect();
    lines.push(Line::raw(format!("  SSH listens on port {}.", ports.join(", "))));
    let keyed: Vec<&str> =
        fa.users.iter().filter(|u| u.authorized_keys().is_some_and(|n| n > 0)).map(|u| u.name.as_str()).collect();
    lines.push(Line::raw(format!(
        "  Users with SSH keys: {}.",
        if keyed.is_empty() { "none".to_owned() } else { keyed.join(", ") }
    )));
    let t = &fa.tools;
    let yes = |b: bool| if b { "yes" } else { "no" };
    lines.push(Line::raw(format!(
        "  Installed: docker {} · compose {} · ufw {} · fail2ban {} · restic {}",
        yes(t.docker),
        yes(t.compose),
        yes(t.ufw),
        yes(t.fail2ban),
        yes(t.restic)
    )));
    lines.push(Line::raw(""));
    let warn = app.style(Style::new().fg(Color::Yellow));
    let mut warnings = Vec::new();
    if keyed.iter().all(|u| *u == "root") {
        warnings.push("No normal user has an SSH key: add one (ssh-copy-id) before SSH can be locked down.".to_owned());
    }
    if fa.ssh_socket {
        warnings.push("ssh.socket owns the SSH port here: a port change restarts the socket.".to_owned());
    }
    if let Some(d) = fa.sshd.effective("passwordauthentication").filter(|d| d.value == "yes") {
        warnings.push(format!("Password logins are on ({}).", d.file));
    }
    if fa.cloud_init {
        warnings.push("cloud-init is installed: it can turn password logins back on; clawguard stops that.".to_owned());
    }
    for e in &fa.plaintext_env_files {
        warnings.push(format!("{} holds {} key(s) in plaintext.", e.path, e.keys));
    }
    if !t.ufw {
        warnings.push("No firewall yet: every listening port is open to the internet.".to_owned());
    }
    if !warnings.is_empty() {
        lines.push(Line::styled("Worth knowing", bold));
        for w in warnings {
            lines.push(Line::styled(format!("  ! {w}"), warn));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::raw(format!("Answers: {}.", app.source)));
    if app.dry_run {
        lines.push(Line::raw(
            "Dry run: nothing is written; the last screen shows the changes and can save the answers.",
        ));
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::new().title(" Welcome ")), area);
}

fn value_of(app: &App, i: usize, k: usize) -> String {
    let field = &app.forms[i].fields[k];
    let st = &app.fields[i][k];
    match &field.kind {
        Kind::Text { .. } => st.text.clone(),
        Kind::Bool { get, .. } => {
            if get(&app.answers) {
                "[x]".into()
            } else {
                "[ ]".into()
            }
        }
        Kind::Choice { get, options, .. } => {
            let cur = get(&app.answers);
            options
                .iter()
                .map(|o| if *o == cur { format!("({o})") } else { o.to_string() })
                .collect::<Vec<_>>()
                .join(" ")
        }
        Kind::List { .. } | Kind::Keys { .. } => String::new(),
    }
}

fn draw_layer(app: &App, f: &mut Frame, area: Rect, i: usize) {
    let form = &app.forms[i];
    let help_height = 4;
    let [intro, fields, help] =
        Layout::vertical([Constraint::Length(4), Constraint::Min(3), Constraint::Length(help_height)]).areas(area);
    let block = Block::new().title(format!(" {} ", form.layer));
    f.render_widget(Paragraph::new(form.intro).wrap(Wrap { trim: true }).block(block), intro);

    let skipped = app.answers.skip.contains(&form.layer);
    let mut lines: Vec<Line> = Vec::new();
    let mut focus_line = 0;
    let label_w = 22usize;
    let focus_style = app.style(Style::new().fg(Color::Black).bg(Color::Cyan));
    let err_style = app.style(Style::new().fg(Color::Red));
    for (k, field) in form.fields.iter().enumerate() {
        let focused = k == app.focus;
        let st = &app.fields[i][k];
        if focused {
            focus_line = lines.len();
        }
        let label = format!("{:<label_w$}", field.label);
        let label_span = if focused { Span::styled(label, focus_style) } else { Span::raw(label) };
        let mut spans = vec![Span::raw(if focused { "▶ " } else { "  " }), label_span, Span::raw(" ")];
        match &field.kind {
            Kind::List { .. } => {
                lines.push(Line::from(spans));
                for (n, item) in st.items.iter().enumerate() {
                    let sel = focused && st.sel == n;
                    let text = format!("      - {item}");
                    lines.push(if sel { Line::styled(text, focus_style) } else { Line::raw(text) });
                    if sel {
                        focus_line = lines.len() - 1;
                    }
                }
                let adding = focused && st.sel == st.items.len();
                let cursor = if adding { "█" } else { "" };
                let add = format!("      + {}{cursor}", st.text);
                lines.push(if adding {
                    Line::styled(add, app.style(Style::new().add_modifier(Modifier::BOLD)))
                } else {
                    Line::raw(add)
                });
                if adding {
                    focus_line = lines.len() - 1;
                }
            }
            Kind::Keys { services } => {
                lines.push(Line::from(spans));
                let names = services(&app.answers);
                if names.is_empty() {
                    lines.push(Line::raw("      (no services listed)"));
                }
                for (n, name) in names.iter().enumerate() {
                    let sel = focused && st.sel == n;
                    let state = if app.secrets.contains_key(name) {
                        "entered, stored on apply".to_owned()
                    } else if app.facts.vault_keys.contains(name) {
                        "in the vault".to_owned()
                    } else {
                        "not set".to_owned()
                    };
                    let typed = if sel && !st.text.is_empty() {
                        format!(" {}█", "•".repeat(st.text.chars().count()))
                    } else if sel {
                        " █".into()
                    } else {
                        String::new()
                    };
                    let text = format!("      {name:<14} {state}{typed}");
                    lines.push(if sel { Line::styled(text, focus_style) } else { Line::raw(text) });
                    if sel {
                        focus_line = lines.len() - 1;
                    }
                }
            }
            Kind::Text { .. } if focused => {
                let chars: Vec<char> = st.text.chars().collect();
                let pos = st.cursor_pos().min(chars.len());
                spans.push(Span::raw(chars[..pos].iter().collect::<String>()));
                match chars.get(pos) {
                    Some(c) => {
                        spans.push(Span::styled(c.to_string(), Style::new().add_modifier(Modifier::REVERSED)));
                        spans.push(Span::raw(chars[pos + 1..].iter().collect::<String>()));
                    }
                    None => spans.push(Span::raw("█")),
                }
                lines.push(Line::from(spans));
            }
            Kind::Text { .. } => {
                spans.push(Span::raw(st.text.clone()));
                lines.push(Line::from(spans));
            }
            _ => {
                spans.push(Span::raw(value_of(app, i, k)));
                lines.push(Line::from(spans));
            }
        }
        if let Some(e) = &st.error {
            lines.push(Line::styled(format!("      ✗ {e}"), err_style));
        }
        if k == 0 && skipped {
            lines.push(Line::styled(
                format!("      Skipped. Left unprotected: {}", crate::layers::unprotected(form.layer)),
                app.style(Style::new().fg(Color::Yellow)),
            ));
        }
    }
    let height = fields.height as usize;
    let scroll = focus_line.saturating_sub(height.saturating_sub(3));
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((scroll as u16, 0)), fields);

    let help_text = form.fields.get(app.focus).map(|f| f.help).unwrap_or("");
    f.render_widget(
        Paragraph::new(help_text)
            .wrap(Wrap { trim: true })
            .style(app.style(Style::new().fg(Color::Gray)))
            .block(Block::new().borders(Borders::TOP).title(" About this setting ")),
        help,
    );
}

fn draw_review(app: &App, f: &mut Frame, area: Rect) {
    let r = &app.review;
    let title = format!(" Review — {} change(s) · line {}/{} ", r.changes, r.scroll + 1, r.lines.len());
    f.render_widget(
        Paragraph::new(Text::from(r.lines.clone())).scroll((r.scroll as u16, 0)).block(Block::new().title(title)),
        area,
    );
}

fn draw_apply(app: &App, f: &mut Frame, area: Rect) {
    let Some(v) = &app.apply else { return };
    let [overall, step, log] =
        Layout::vertical([Constraint::Length(3), Constraint::Length(3), Constraint::Min(3)]).areas(area);
    let ratio = (v.done as f64 / v.total.max(1) as f64).min(1.0);
    f.render_widget(
        Gauge::default()
            .block(Block::bordered().title(" Overall "))
            .gauge_style(app.style(Style::new().fg(Color::Cyan)))
            .label(format!("{}/{} steps", v.done.min(v.total), v.total))
            .ratio(ratio),
        overall,
    );
    let step_ratio = if v.result.is_some() { 1.0 } else { 0.5 };
    f.render_widget(
        Gauge::default()
            .block(Block::bordered().title(" Current step "))
            .gauge_style(app.style(Style::new().fg(Color::Green)))
            .label(v.current.clone())
            .ratio(step_ratio),
        step,
    );
    let mut lines: Vec<Line> = v.log.iter().map(|l| Line::raw(format!("✓ {l}"))).collect();
    if let Some(Err(e)) = &v.result {
        lines.push(Line::styled("Stopped:", app.style(Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))));
        for l in e.lines() {
            lines.push(Line::styled(l.to_owned(), app.style(Style::new().fg(Color::Red))));
        }
    }
    let skip = lines.len().saturating_sub(log.height.saturating_sub(2) as usize);
    f.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .scroll((skip as u16, 0))
            .block(Block::bordered().title(" Log ")),
        log,
    );
}

fn draw_done(app: &App, f: &mut Frame, area: Rect) {
    let bold = app.style(Style::new().add_modifier(Modifier::BOLD));
    let mut lines = Vec::new();
    if let Some(Ok(report)) = app.apply.as_ref().and_then(|a| a.result.as_ref()) {
        match report.generation {
            Some(n) => lines.push(Line::styled(
                format!(
                    "Applied generation {n}: {} file(s) written, {} command(s) run.",
                    report.written.len(),
                    report.ran.len()
                ),
                bold,
            )),
            None => lines.push(Line::styled("Nothing needed changing.", bold)),
        }
        for w in &report.written {
            lines.push(Line::raw(format!("  wrote {w}")));
        }
        for c in &report.ran {
            lines.push(Line::raw(format!("  ran   {c}")));
        }
        for c in &report.skipped {
            lines.push(Line::raw(format!("  not run (other root): {c}")));
        }
        for (layers, why) in &report.not_applied {
            let names: Vec<String> = layers.iter().map(|l| l.to_string()).collect();
            lines.push(Line::styled(
                format!("NOT APPLIED: {}: {why}", names.join(" and ")),
                app.style(Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)),
            ));
        }
        lines.push(Line::raw(""));
        if let Some(p) = &report.pending {
            let port = p.new_port.unwrap_or(app.answers.ssh.port.get());
            let users = crate::layers::ssh::allowed_users(&app.answers, &app.facts);
            let user = users.first().cloned().unwrap_or_else(|| "USER".into());
            let left = app.countdown().unwrap_or(0);
            lines.push(Line::styled(
                if p.automatic() {
                    format!("Next: confirm within {left} s, or everything rolls back by itself.")
                } else {
                    "Next: confirm a login on the new port; the old port stays open until then.".to_owned()
                },
                app.style(Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)),
            ));
            lines.push(Line::raw("Keep this session open. In a NEW terminal:"));
            lines.push(Line::styled(format!("    ssh -o IdentitiesOnly=yes -p {port} {user}@<this host>"), bold));
            lines.push(Line::styled("    sudo clawguard confirm", bold));
        } else {
            lines.push(Line::raw("Nothing waits for confirmation. `clawguard status` shows what was applied."));
        }
    }
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::new().title(" Done ")), area);
}

fn draw_footer(app: &App, f: &mut Frame, area: Rect) {
    let key_style = app.style(Style::new().fg(Color::Black).bg(Color::Gray));
    let mut spans = Vec::new();
    for (k, what) in app.keys() {
        if !k.is_empty() {
            spans.push(Span::styled(format!(" {k} "), key_style));
        }
        spans.push(Span::raw(format!(" {what}  ")));
    }
    f.render_widget(Paragraph::new(Line::from(spans)).wrap(Wrap { trim: true }), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn draw_modal(app: &App, f: &mut Frame, m: &Modal) {
    let (title, lines): (&str, Vec<Line>) = match m {
        Modal::Help => (
            " Help ",
            vec![
                Line::raw("Tab / Shift-Tab, ↑ ↓   move between questions"),
                Line::raw("Enter                  go on (stays if a field is wrong)"),
                Line::raw("Esc                    back"),
                Line::raw("Space, ← →             toggle or choose"),
                Line::raw("type, Enter / Del      add to / remove from a list"),
                Line::raw("Ctrl-U                 clear the field"),
                Line::raw("?                      this help"),
                Line::raw("q, Ctrl-Q              quit (asks if answers are unsaved)"),
                Line::raw(""),
                Line::raw("Each question is checked as you type, with the same rules"),
                Line::raw("as the answers file. Nothing is written before you apply."),
            ],
        ),
        Modal::Quit => (" Quit? ", vec![Line::raw("Your answers are not saved."), Line::raw("Quit anyway? y / n")]),
        Modal::Save { path, error } => {
            let mut l = vec![Line::raw("Save the answers (no secrets are in them) to:"), Line::raw(format!("{path}█"))];
            if let Some(e) = error {
                l.push(Line::styled(e.clone(), app.style(Style::new().fg(Color::Red))));
            }
            (" Save answers ", l)
        }
    };
    let area = centered(f.area(), 66, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), area);
}
