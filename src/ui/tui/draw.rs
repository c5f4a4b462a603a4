//! One frame from the app's state: the frame around the components (title, sidebar,
//! status, footer), the Welcome, and the dialogs. Nothing here changes the state.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::app::{App, Modal, Screen};
use super::bindings;
use crate::answers::Layer;

pub fn draw(app: &App, f: &mut Frame) {
    let [title, body, status, footer] =
        Layout::vertical([Constraint::Length(1), Constraint::Min(5), Constraint::Length(1), Constraint::Length(2)])
            .areas(f.area());
    draw_title(app, f, title);
    let [side, main] = Layout::horizontal([Constraint::Length(19), Constraint::Min(30)]).areas(body);
    draw_sidebar(app, f, side);
    let theme = app.theme;
    match app.screen {
        Screen::Welcome => draw_welcome(app, f, main),
        Screen::Layer(i) => {
            let ctx = super::form::Ctx {
                answers: app.answers(),
                secrets: &app.req.keys,
                vault_keys: &app.req.facts.vault_keys,
                key_states: &app.req.facts.key_states,
                theme,
            };
            app.layers.draw(f, main, i, &ctx)
        }
        Screen::Review => app.review.draw(f, main, theme),
        Screen::Apply => {
            if let Some(p) = &app.apply {
                p.draw(f, main, theme)
            }
        }
        Screen::Done => {
            if let Some(Ok(o)) = app.finished() {
                app.done.draw(o, app.now(), f, main, theme)
            }
        }
    }
    if let Some((err, text)) = &app.status {
        let style = if *err { Style::new().fg(Color::Red) } else { Style::new().fg(Color::Green) };
        f.render_widget(Paragraph::new(text.as_str()).style(theme.paint(style)), status);
    }
    draw_footer(app, f, footer);
    if let Some(m) = &app.modal {
        draw_modal(app, f, m);
    }
}

fn draw_title(app: &App, f: &mut Frame, area: Rect) {
    let facts = &app.req.facts;
    let host = facts.hostname.clone().unwrap_or_else(|| "this host".into());
    let mut spans = vec![
        Span::styled(
            " clawguard ",
            app.theme.paint(Style::new().fg(Color::Black).bg(Color::Cyan).add_modifier(Modifier::BOLD)),
        ),
        Span::raw(format!(" {host} · {} ", facts.os.describe())),
    ];
    if app.dry_run {
        spans.push(Span::styled(" DRY RUN ", app.theme.paint(Style::new().fg(Color::Black).bg(Color::Yellow))));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_sidebar(app: &App, f: &mut Frame, area: Rect) {
    let mark = |current: bool| if current { "▶ " } else { "  " };
    let mut lines = vec![Line::raw(format!("{}Welcome", mark(app.screen == Screen::Welcome)))];
    for (i, form) in app.layers.forms.iter().enumerate() {
        let current = app.screen == Screen::Layer(i);
        let state = if app.answers().skip.contains(&form.layer) {
            "–"
        } else if app.layers.visited[i] {
            "✓"
        } else {
            " "
        };
        let text = format!("{}{state} {} {}", mark(current), i + 1, short(form.layer));
        let style = if current {
            app.theme.paint(Style::new().add_modifier(Modifier::BOLD).fg(Color::Cyan))
        } else {
            Style::new()
        };
        lines.push(Line::styled(text, style));
    }
    lines.push(Line::raw(format!("{}Review", mark(app.screen == Screen::Review))));
    if !app.dry_run {
        lines.push(Line::raw(format!("{}Apply", mark(app.screen == Screen::Apply))));
        lines.push(Line::raw(format!("{}Done", mark(app.screen == Screen::Done))));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("✓ done – skipped", app.theme.paint(Style::new().fg(Color::DarkGray))));
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

/// What the host is like, in plain words, and what is worth knowing before starting.
fn draw_welcome(app: &App, f: &mut Frame, area: Rect) {
    let fa = &app.req.facts;
    let bold = app.theme.bold();
    let mut lines = vec![
        Line::styled("Make this host a safe home for an AI agent.", bold),
        Line::raw(
            "Seven layers, a few questions each; then the exact changes, before anything is written. Press Enter to start.",
        ),
        Line::raw(""),
        Line::styled("This host", bold),
    ];
    if let Some(mac) = fa.platform.mac() {
        lines.push(Line::raw(format!("  macOS {} found. What differs from a Linux server:", mac.version)));
        lines.extend(mac.differences().into_iter().map(|d| Line::raw(format!("  · {d}"))));
    }
    let conn = match &fa.ssh_connection {
        Some(c) => format!("over SSH from {} (port {})", c.client, c.server_port),
        None => "not over SSH (a console)".into(),
    };
    lines.push(Line::raw(format!("  You are connected {conn}.")));
    let ports: Vec<String> = fa.sshd.ports().iter().map(|p| p.to_string()).collect();
    lines.push(Line::raw(format!("  SSH listens on port {}.", ports.join(", "))));
    let normal = || fa.users.iter().filter(|u| u.uid != 0);
    let keyed: Vec<&str> =
        normal().filter(|u| u.authorized_keys().is_some_and(|n| n > 0)).map(|u| u.name.as_str()).collect();
    let unknown: Vec<&str> = normal().filter(|u| u.keys.is_none()).map(|u| u.name.as_str()).collect();
    let mut known = if keyed.is_empty() { "none".to_owned() } else { keyed.join(", ") };
    if !unknown.is_empty() {
        known.push_str(&format!(" (cannot see the keys of {} without root)", unknown.join(", ")));
    }
    lines.push(Line::raw(format!("  Users with SSH keys: {known}.")));
    let t = &fa.tools;
    let yes = |b: bool| if b { "yes" } else { "no" };
    let firewall = match fa.platform.mac() {
        Some(_) => "pf built in".to_owned(),
        None => format!("ufw {} · fail2ban {}", yes(t.ufw), yes(t.fail2ban)),
    };
    lines.push(Line::raw(format!(
        "  Installed: docker {} · compose {} · {firewall} · restic {}",
        yes(t.docker),
        yes(t.compose),
        yes(t.restic)
    )));
    lines.push(Line::raw(""));
    let mut warnings = Vec::new();
    if keyed.is_empty() && unknown.is_empty() {
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
    if fa.platform.mac().is_some() {
        // pf is always there; whether clawguard's anchor is loaded is the plan's to say.
    } else if !t.ufw {
        warnings.push("No firewall yet: every listening port is open to the internet.".to_owned());
    } else if !fa.ufw.enabled && !fa.ufw.unreadable {
        warnings.push("ufw is installed but not active: every listening port is open to the internet.".to_owned());
    }
    if !warnings.is_empty() {
        lines.push(Line::styled("Worth knowing", bold));
        let warn = app.theme.paint(Style::new().fg(Color::Yellow));
        lines.extend(warnings.into_iter().map(|w| Line::styled(format!("  ! {w}"), warn)));
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

/// The keys that work now, whole hints packed into the footer's rows.
fn draw_footer(app: &App, f: &mut Frame, area: Rect) {
    let key_style = app.theme.paint(Style::new().fg(Color::Black).bg(Color::Gray));
    let hints = bindings::hints(&app.bindings());
    let rows = bindings::pack(&hints, area.width as usize, area.height as usize);
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|row| {
            let mut spans = Vec::new();
            for (k, what) in row {
                if !k.is_empty() {
                    spans.push(Span::styled(format!(" {k} "), key_style));
                }
                spans.push(Span::raw(format!(" {what}  ")));
            }
            Line::from(spans)
        })
        .collect();
    f.render_widget(Paragraph::new(lines), area);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect { x: area.x + (area.width - w) / 2, y: area.y + (area.height - h) / 2, width: w, height: h }
}

fn draw_modal(app: &App, f: &mut Frame, m: &Modal) {
    let (title, lines): (&str, Vec<Line>) = match m {
        Modal::Help => {
            // The keys of the screen under the dialog: the same bindings that act on them.
            let mut l: Vec<Line> = bindings::hints(&app.screen_bindings())
                .into_iter()
                .map(|(k, d)| Line::raw(format!("{k:<12} {d}")))
                .collect();
            l.push(Line::raw(""));
            l.push(Line::raw("Each question is checked as you type, with the same rules"));
            l.push(Line::raw("as the answers file. Nothing is written before you apply."));
            (" Help ", l)
        }
        Modal::Quit => (" Quit? ", vec![Line::raw("Your answers are not saved."), Line::raw("Quit anyway? y / n")]),
        Modal::Save { path, error } => {
            let mut l = vec![Line::raw("Save the answers (no secrets are in them) to:"), Line::raw(format!("{path}█"))];
            if let Some(e) = error {
                l.push(Line::styled(e.clone(), app.theme.paint(Style::new().fg(Color::Red))));
            }
            (" Save answers ", l)
        }
    };
    let area = centered(f.area(), 66, lines.len() as u16 + 2);
    f.render_widget(Clear, area);
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::bordered().title(title)), area);
}
