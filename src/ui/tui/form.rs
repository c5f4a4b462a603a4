//! The layers' screens: each question an input — text, list, masked keys, toggle, choice —
//! with its bindings (what each key does, shown in the footer and Help) and its drawing.
//! Every edit goes straight into the answers through the answers' own types; an error
//! stays next to its field until it is fixed.

use crossterm::event::KeyCode;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::bindings::{BACKTAB, Binding, DOWN, ENTER, ESC, Key, LEFT, RIGHT, TAB, UP, bind, ch};
use super::theme::Theme;
use crate::answers::Answers;
use crate::session::Keys;
use crate::ui::fields::{Form, Kind, forms};

/// What the user is typing into a field, and what is wrong with it.
#[derive(Debug, Clone, Default)]
pub struct FieldState {
    pub text: String,
    pub items: Vec<String>,
    /// In a list: the selected item, or `items.len()` for the "add" row. In the keys: the
    /// selected service.
    pub sel: usize,
    pub error: Option<String>,
    /// In a text field: the cursor, as a character index; None is after the last one.
    pub cursor: Option<usize>,
}

impl FieldState {
    /// Where the cursor is, as a character index.
    pub fn cursor_pos(&self) -> usize {
        self.cursor.unwrap_or_else(|| self.text.chars().count())
    }

    fn byte_at(&self, pos: usize) -> usize {
        self.text.char_indices().nth(pos).map(|(b, _)| b).unwrap_or(self.text.len())
    }

    /// Applies an editing key or a typed character to the text.
    fn edit(&mut self, code: KeyCode) {
        let pos = self.cursor_pos();
        let len = self.text.chars().count();
        match code {
            KeyCode::Left => self.cursor = Some(pos.saturating_sub(1)),
            KeyCode::Right => self.cursor = if pos + 1 >= len { None } else { Some(pos + 1) },
            KeyCode::Home => self.cursor = Some(0),
            KeyCode::End => self.cursor = None,
            KeyCode::Backspace if pos > 0 => {
                let b = self.byte_at(pos - 1);
                self.text.remove(b);
                self.cursor = self.cursor.map(|_| pos - 1);
            }
            KeyCode::Delete if pos < len => {
                let b = self.byte_at(pos);
                self.text.remove(b);
                if pos + 1 >= len {
                    self.cursor = None;
                }
            }
            KeyCode::Char(c) => {
                let b = self.byte_at(pos);
                self.text.insert(b, c);
                self.cursor = self.cursor.map(|p| p + 1);
            }
            _ => {}
        }
    }

    fn on_add_row(&self) -> bool {
        self.sel == self.items.len()
    }
}

/// What a key on a layer screen asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    Next,
    Prev,
    Down,
    Up,
    Enter,
    Back,
    /// Cursor movement and deletion inside the text.
    Edit,
    Clear,
    Toggle,
    ToggleBack,
    Remove,
    /// On a refused host: let the agent reach it.
    Allow,
    /// On a refused host: take it off the list, still refused.
    Dismiss,
}

/// What the wizard does after a key on a layer screen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Stay,
    /// Enter with every field valid: the next layer (or the review).
    GoOn,
    Back,
    /// Enter refused: say why.
    Refused(String),
    /// A refused host dismissed: the decision is the front end's to keep.
    Dismiss(String),
}

/// The seven layer screens: their questions, what is typed in them, and the focus.
pub struct LayerForms {
    pub forms: Vec<Form>,
    pub fields: Vec<Vec<FieldState>>,
    pub focus: usize,
    /// LayerForms gone through with Enter (the sidebar's ✓).
    pub visited: [bool; 7],
    /// The hosts the proxy refused, waiting for a decision; or why they cannot be known.
    pub refused: Result<Vec<crate::egress::Pending>, String>,
}

const EDIT: [Key; 6] = [
    LEFT,
    RIGHT,
    Key::Code(KeyCode::Home),
    Key::Code(KeyCode::End),
    Key::Code(KeyCode::Backspace),
    Key::Code(KeyCode::Delete),
];

impl LayerForms {
    /// `refused`: what `crate::egress::list` says for the target (the Egress screen's list).
    pub fn new(answers: &Answers, refused: Result<Vec<crate::egress::Pending>, String>) -> LayerForms {
        let forms = forms();
        let fields = forms
            .iter()
            .map(|form| {
                form.fields
                    .iter()
                    .map(|f| match &f.kind {
                        Kind::Text { get, .. } => FieldState { text: get(answers), ..Default::default() },
                        Kind::List { get, .. } => {
                            let items = get(answers);
                            FieldState { sel: items.len(), items, ..Default::default() }
                        }
                        _ => FieldState::default(),
                    })
                    .collect()
            })
            .collect();
        LayerForms { forms, fields, focus: 0, visited: [false; 7], refused }
    }

    fn kind(&self, i: usize) -> &Kind {
        &self.forms[i].fields[self.focus].kind
    }

    /// Whether printable keys go into the focused field (so `q` and `?` are letters).
    pub fn takes_text(&self, i: usize) -> bool {
        match self.kind(i) {
            Kind::Text { .. } | Kind::Keys { .. } => true,
            Kind::List { .. } => self.fields[i][self.focus].on_add_row(),
            Kind::Bool { .. } | Kind::Choice { .. } | Kind::Refused { .. } => false,
        }
    }

    /// What the keys do on layer `i` with the focused field.
    pub fn bindings(&self, i: usize) -> Vec<Binding<Msg>> {
        let mut b = vec![bind(&[TAB], "Tab", "next", Msg::Next), bind(&[BACKTAB], "S-Tab", "previous", Msg::Prev)];
        match self.kind(i) {
            Kind::Text { .. } => b.extend([
                bind(&[DOWN], "", "next", Msg::Next),
                bind(&[UP], "", "previous", Msg::Prev),
                bind(&EDIT, "←→⌫", "edit", Msg::Edit),
                bind(&[Key::Ctrl('u')], "^U", "clear", Msg::Clear),
                bind(&[ENTER], "Enter", "go on", Msg::Enter),
            ]),
            Kind::Bool { .. } => b.extend([
                bind(&[DOWN], "", "next", Msg::Next),
                bind(&[UP], "", "previous", Msg::Prev),
                bind(&[ch(' '), LEFT, RIGHT], "Space", "toggle", Msg::Toggle),
                bind(&[ENTER], "Enter", "go on", Msg::Enter),
            ]),
            Kind::Choice { .. } => b.extend([
                bind(&[DOWN], "", "next", Msg::Next),
                bind(&[UP], "", "previous", Msg::Prev),
                bind(&[ch(' '), RIGHT], "Space/→", "choose", Msg::Toggle),
                bind(&[LEFT], "", "choose", Msg::ToggleBack),
                bind(&[ENTER], "Enter", "go on", Msg::Enter),
            ]),
            Kind::List { .. } => b.extend([
                bind(&[DOWN], "↑↓", "select", Msg::Down),
                bind(&[UP], "", "select", Msg::Up),
                bind(&[Key::Code(KeyCode::Delete), Key::Code(KeyCode::Backspace)], "Del", "remove", Msg::Remove),
                bind(&[Key::Ctrl('u')], "^U", "clear", Msg::Clear),
                bind(&[ENTER], "Enter", "add / go on", Msg::Enter),
            ]),
            Kind::Refused { .. } => b.extend([
                bind(&[DOWN], "↑↓", "select", Msg::Down),
                bind(&[UP], "", "select", Msg::Up),
                bind(&[ch('a')], "a", "allow", Msg::Allow),
                bind(&[ch('d')], "d", "dismiss", Msg::Dismiss),
                bind(&[ENTER], "Enter", "go on", Msg::Enter),
            ]),
            Kind::Keys { .. } => b.extend([
                bind(&[DOWN], "↑↓", "service", Msg::Down),
                bind(&[UP], "", "service", Msg::Up),
                bind(&[Key::Code(KeyCode::Backspace)], "", "erase", Msg::Remove),
                bind(&[ENTER], "Enter", "store key / go on", Msg::Enter),
            ]),
        }
        b.push(bind(&[ESC], "Esc", "back", Msg::Back));
        b
    }

    /// A printable character for the focused field (when it takes text).
    pub fn typed(&mut self, i: usize, c: char, answers: &mut Answers) {
        if !self.takes_text(i) {
            return;
        }
        let f = self.focus;
        let st = &mut self.fields[i][f];
        match &self.forms[i].fields[f].kind {
            Kind::Text { set, .. } => {
                st.edit(KeyCode::Char(c));
                let text = st.text.clone();
                st.error = set(answers, &text).err().map(|e| e.0);
            }
            Kind::List { item, .. } => {
                st.text.push(c);
                st.error = item(st.text.trim()).err().map(|e| e.0);
            }
            Kind::Keys { services } if !services(answers).is_empty() => st.text.push(c),
            _ => {}
        }
    }

    /// What a binding's message does on layer `i` (`code`: the key, for the edit keys).
    pub fn update(&mut self, i: usize, msg: Msg, code: KeyCode, answers: &mut Answers, secrets: &mut Keys) -> Step {
        let n = self.forms[i].fields.len();
        let f = self.focus;
        let st = &mut self.fields[i][f];
        let kind = &self.forms[i].fields[f].kind;
        match (msg, kind) {
            (Msg::Next, _) => self.focus = (f + 1) % n,
            (Msg::Prev, _) => self.focus = (f + n - 1) % n,
            (Msg::Back, _) => return Step::Back,
            (Msg::Edit | Msg::Clear, Kind::Text { set, .. }) => {
                if msg == Msg::Clear {
                    st.text.clear();
                    st.cursor = None;
                } else {
                    st.edit(code);
                }
                let text = st.text.clone();
                st.error = set(answers, &text).err().map(|e| e.0);
            }
            (Msg::Clear, Kind::List { .. }) if st.on_add_row() => {
                st.text.clear();
                st.error = None;
            }
            (Msg::Toggle | Msg::ToggleBack, Kind::Bool { get, set }) => {
                let v = get(answers);
                set(answers, !v);
            }
            (Msg::Toggle | Msg::ToggleBack, Kind::Choice { options, get, set }) => {
                let cur = get(answers);
                let pos = options.iter().position(|o| *o == cur).unwrap_or(0);
                let step = if msg == Msg::Toggle { 1 } else { options.len() - 1 };
                set(answers, options[(pos + step) % options.len()]);
            }
            (Msg::Down, Kind::List { .. }) if !st.on_add_row() => st.sel += 1,
            (Msg::Up, Kind::List { .. }) if st.sel > 0 => st.sel -= 1,
            (Msg::Down, Kind::Keys { services }) if st.sel + 1 < services(answers).len() => {
                st.sel += 1;
                st.text.clear();
            }
            (Msg::Up, Kind::Keys { .. }) if st.sel > 0 => {
                st.sel -= 1;
                st.text.clear();
            }
            (Msg::Down, Kind::Refused { .. }) if self.refused.as_ref().is_ok_and(|r| st.sel + 1 < r.len()) => {
                st.sel += 1
            }
            (Msg::Up, Kind::Refused { .. }) if st.sel > 0 => st.sel -= 1,
            (Msg::Allow, Kind::Refused { into }) => return self.allow(i, into, answers),
            (Msg::Dismiss, Kind::Refused { .. }) => {
                let Some(p) = self.refused.as_mut().ok().filter(|r| st.sel < r.len()).map(|r| r.remove(st.sel)) else {
                    return Step::Stay;
                };
                st.sel = st.sel.min(self.refused.as_ref().map_or(0, |r| r.len().saturating_sub(1)));
                return Step::Dismiss(p.host);
            }
            (Msg::Down, _) => self.focus = (f + 1).min(n - 1),
            (Msg::Up, _) => self.focus = f.saturating_sub(1),
            (Msg::Remove, Kind::List { set, .. }) if !st.on_add_row() => {
                st.items.remove(st.sel);
                st.error = set(answers, &st.items).err().map(|(_, e)| e.0);
            }
            (Msg::Remove, Kind::List { .. } | Kind::Keys { .. }) => {
                st.text.pop();
                st.error = None;
            }
            (Msg::Enter, Kind::List { item, set, .. }) if st.on_add_row() && !st.text.trim().is_empty() => {
                let new = st.text.trim().to_owned();
                let mut items = st.items.clone();
                items.push(new.clone());
                match item(&new).map_err(|e| e.0).and_then(|()| set(answers, &items).map_err(|(_, e)| e.0)) {
                    Ok(()) => {
                        st.items = items;
                        st.text.clear();
                        st.sel = st.items.len();
                        st.error = None;
                    }
                    Err(e) => st.error = Some(e),
                }
            }
            (Msg::Enter, Kind::Keys { services }) if !st.text.is_empty() => {
                if let Some(name) = services(answers).get(st.sel) {
                    secrets.insert(name.clone(), std::mem::take(&mut st.text));
                    st.error = None;
                }
            }
            (Msg::Enter, _) => return self.go_on(i, answers),
            _ => {}
        }
        Step::Stay
    }

    /// The selected refused host into the list field `into` of layer `i` (and so into the
    /// answers, through the list's own checks); an address is refused with why.
    fn allow(&mut self, i: usize, into: &str, answers: &mut Answers) -> Step {
        let sel = self.fields[i][self.focus].sel;
        let Some(p) = self.refused.as_ref().ok().and_then(|r| r.get(sel)).cloned() else { return Step::Stay };
        let Some(name) = &p.name else {
            return Step::Refused(format!(
                "{} is an address: the allow-list takes names only (an agent asking for an address is worth a look: d dismisses it)",
                p.host
            ));
        };
        let Some(k) = self.forms[i].fields.iter().position(|f| f.key == into) else { return Step::Stay };
        let Kind::List { set, .. } = &self.forms[i].fields[k].kind else { return Step::Stay };
        let list = &mut self.fields[i][k];
        let mut items = list.items.clone();
        items.push(name.to_string());
        if let Err((_, e)) = set(answers, &items) {
            return Step::Refused(e.0);
        }
        list.sel = items.len();
        list.items = items;
        if let Ok(r) = self.refused.as_mut() {
            r.remove(sel);
            let st = &mut self.fields[i][self.focus];
            st.sel = st.sel.min(r.len().saturating_sub(1));
        }
        Step::Stay
    }

    /// Enter on a layer: stays on a wrong field (its error says what to type), else goes on.
    fn go_on(&mut self, i: usize, answers: &Answers) -> Step {
        if let Some(pos) = self.fields[i].iter().position(|f| f.error.is_some()) {
            self.focus = pos;
            return Step::Refused("Fix the field marked in red first (the message says what to type).".into());
        }
        if let Err(e) = answers.check()
            && let Some(pos) = self.forms[i].fields.iter().position(|f| f.key == e.key)
        {
            self.fields[i][pos].error = Some(e.message);
            self.focus = pos;
            return Step::Refused("Fix the field marked in red first.".into());
        }
        self.visited[i] = true;
        Step::GoOn
    }

    /// Layer `i`'s screen: what it protects, its questions, and help on the focused one.
    pub fn draw(&self, f: &mut Frame, area: Rect, i: usize, ctx: &Ctx) {
        let form = &self.forms[i];
        let [intro, fields, help] =
            Layout::vertical([Constraint::Length(4), Constraint::Min(3), Constraint::Length(4)]).areas(area);
        let block = Block::new().title(format!(" {} ", form.layer));
        f.render_widget(Paragraph::new(form.intro).wrap(Wrap { trim: true }).block(block), intro);
        let (lines, focus_line) = self.lines(i, ctx);
        let scroll = focus_line.saturating_sub((fields.height as usize).saturating_sub(3));
        f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).scroll((scroll as u16, 0)), fields);
        let help_text = form.fields.get(self.focus).map(|f| f.help).unwrap_or("");
        f.render_widget(
            Paragraph::new(help_text)
                .wrap(Wrap { trim: true })
                .style(ctx.theme.paint(Style::new().fg(Color::Gray)))
                .block(Block::new().borders(Borders::TOP).title(" About this setting ")),
            help,
        );
    }

    fn lines(&self, i: usize, ctx: &Ctx) -> (Vec<Line<'static>>, usize) {
        let form = &self.forms[i];
        let skipped = ctx.answers.skip.contains(&form.layer);
        let mut lines: Vec<Line> = Vec::new();
        let mut focus_line = 0;
        let focus_style = ctx.theme.paint(Style::new().fg(Color::Black).bg(Color::Cyan));
        let selected = |lines: &mut Vec<Line<'static>>, text: String, sel: bool, focus_line: &mut usize| {
            if sel {
                *focus_line = lines.len();
                lines.push(Line::styled(text, focus_style));
            } else {
                lines.push(Line::raw(text));
            }
        };
        for (k, field) in form.fields.iter().enumerate() {
            let focused = k == self.focus;
            let st = &self.fields[i][k];
            if focused {
                focus_line = lines.len();
            }
            let label = format!("{:<22}", field.label);
            let mut spans = vec![
                Span::raw(if focused { "▶ " } else { "  " }),
                if focused { Span::styled(label, focus_style) } else { Span::raw(label) },
                Span::raw(" "),
            ];
            match &field.kind {
                Kind::List { .. } => {
                    lines.push(Line::from(spans));
                    for (n, item) in st.items.iter().enumerate() {
                        selected(&mut lines, format!("      - {item}"), focused && st.sel == n, &mut focus_line);
                    }
                    let adding = focused && st.on_add_row();
                    let add = format!("      + {}{}", st.text, if adding { "█" } else { "" });
                    if adding {
                        focus_line = lines.len();
                        lines.push(Line::styled(add, ctx.theme.paint(Style::new().add_modifier(Modifier::BOLD))));
                    } else {
                        lines.push(Line::raw(add));
                    }
                }
                Kind::Keys { services } => {
                    lines.push(Line::from(spans));
                    let names = services(ctx.answers);
                    if names.is_empty() {
                        lines.push(Line::raw("      (no services listed)"));
                    }
                    for (n, name) in names.iter().enumerate() {
                        let sel = focused && st.sel == n;
                        let due = ctx.answers.credentials.rotate_days.get() as u64;
                        let state = if ctx.secrets.contains_key(name) {
                            "entered, stored on apply".to_owned()
                        } else if let Some(k) = ctx.key_states.get(name) {
                            if k.rotating {
                                format!("ROTATING: revoke the old key, then `secrets rotate {name} --done`")
                            } else if k.age_days >= due {
                                format!("{} days old, ROTATE (`secrets rotate {name}`)", k.age_days)
                            } else {
                                format!("in the vault, {} day(s) old", k.age_days)
                            }
                        } else if ctx.vault_keys.contains(name) {
                            "in the vault".to_owned()
                        } else {
                            "not set".to_owned()
                        };
                        // Never the key: one dot per character typed.
                        let typed = match (sel, st.text.is_empty()) {
                            (true, false) => format!(" {}█", "•".repeat(st.text.chars().count())),
                            (true, true) => " █".into(),
                            _ => String::new(),
                        };
                        selected(&mut lines, format!("      {name:<14} {state}{typed}"), sel, &mut focus_line);
                        // The narrowest key the agent needs, for the service being typed.
                        if sel {
                            lines.push(Line::styled(
                                format!("        narrowest key: {}", crate::services::scope(name)),
                                ctx.theme.paint(Style::new().fg(Color::DarkGray)),
                            ));
                        }
                    }
                }
                Kind::Refused { .. } => {
                    lines.push(Line::from(spans));
                    match &self.refused {
                        Err(why) => lines
                            .push(Line::styled(format!("      ✗ {why}"), ctx.theme.paint(Style::new().fg(Color::Red)))),
                        Ok(r) if r.is_empty() => lines.push(Line::raw("      (none since the last decision)")),
                        Ok(r) => {
                            for (n, p) in r.iter().enumerate() {
                                // Month, day and time (UTC) keep a row within 80 columns.
                                let last = crate::egress::when(p.last);
                                let last = last.get(5..16).unwrap_or(&last);
                                let text = format!("      {:<30} {:>4}×  last {last}", p.host, p.count);
                                selected(&mut lines, text, focused && st.sel == n, &mut focus_line);
                            }
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
                Kind::Bool { get, .. } => {
                    spans.push(Span::raw(if get(ctx.answers) { "[x]" } else { "[ ]" }));
                    lines.push(Line::from(spans));
                }
                Kind::Choice { get, options, .. } => {
                    let cur = get(ctx.answers);
                    let shown: Vec<String> =
                        options.iter().map(|o| if *o == cur { format!("({o})") } else { o.to_string() }).collect();
                    spans.push(Span::raw(shown.join(" ")));
                    lines.push(Line::from(spans));
                }
            }
            if let Some(e) = &st.error {
                lines.push(Line::styled(format!("      ✗ {e}"), ctx.theme.paint(Style::new().fg(Color::Red))));
            }
            if k == 0 && skipped {
                lines.push(Line::styled(
                    format!("      Skipped. Left unprotected: {}", crate::layers::unprotected(form.layer)),
                    ctx.theme.paint(Style::new().fg(Color::Yellow)),
                ));
            }
        }
        (lines, focus_line)
    }
}

/// What drawing a layer reads besides the layer itself.
pub struct Ctx<'a> {
    pub answers: &'a Answers,
    pub secrets: &'a Keys,
    pub vault_keys: &'a [String],
    pub key_states: &'a std::collections::BTreeMap<String, crate::host::KeyState>,
    pub theme: Theme,
}
