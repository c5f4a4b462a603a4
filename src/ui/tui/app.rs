//! The wizard's state and what each key does to it. Drawing (in `draw`) only reads this
//! state; the keys each screen accepts are listed by [`App::keys`], which the footer shows,
//! so the help never drifts from the behaviour.

use std::path::PathBuf;
use std::sync::mpsc::{Receiver, TryRecvError};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::answers::{Answers, Layer};
use crate::apply::{self, Event, Report, Runner};
use crate::host::{Facts, Root};
use crate::layers;
use crate::plan::Severity;
use crate::plan::preview::{self, FileChange, shell_words};
use crate::ui::fields::{Form, Kind, forms};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Welcome,
    Layer(usize),
    Review,
    Apply,
    Done,
}

/// What the user is typing into a field, and what is wrong with it.
#[derive(Debug, Clone, Default)]
pub struct FieldState {
    pub text: String,
    pub items: Vec<String>,
    /// In a list: the selected item, or `items.len()` for the "add" row.
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

    /// Applies an editing key to the text; false when the key is not an editing key.
    fn edit(&mut self, code: KeyCode) -> bool {
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
            KeyCode::Backspace => {}
            KeyCode::Delete if pos < len => {
                let b = self.byte_at(pos);
                self.text.remove(b);
                if pos + 1 >= len {
                    self.cursor = None;
                }
            }
            KeyCode::Delete => {}
            KeyCode::Char(c) => {
                let b = self.byte_at(pos);
                self.text.insert(b, c);
                self.cursor = self.cursor.map(|p| p + 1);
            }
            _ => return false,
        }
        true
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    Quit,
    Save { path: String, error: Option<String> },
}

/// The review: the plan against the target, as lines to scroll through.
#[derive(Debug, Clone, Default)]
pub struct Review {
    pub lines: Vec<Line<'static>>,
    /// The layer each line belongs to (for "jump to the layer").
    pub layer_of: Vec<Option<Layer>>,
    /// Where each file's diff starts.
    pub file_starts: Vec<usize>,
    pub scroll: usize,
    pub changes: usize,
    /// A cross-field problem that blocks applying.
    pub blocker: Option<String>,
}

pub enum ApplyMsg {
    Progress(Event),
    Finished(Result<Report, String>),
}

pub struct ApplyView {
    pub rx: Option<Receiver<ApplyMsg>>,
    pub total: usize,
    pub done: usize,
    pub current: String,
    pub log: Vec<String>,
    pub result: Option<Result<Report, String>>,
}

/// Where the answers are saved after an apply.
pub fn installed_answers(root: &Root) -> PathBuf {
    root.path(crate::answers::DEFAULT_PATH)
}

pub struct App {
    pub screen: Screen,
    pub answers: Answers,
    /// The answers as loaded or last saved: quitting with others asks first.
    pub saved: Answers,
    pub facts: Facts,
    pub root: Root,
    pub dry_run: bool,
    pub color: bool,
    pub forms: Vec<Form>,
    pub fields: Vec<Vec<FieldState>>,
    pub focus: usize,
    pub visited: [bool; 7],
    pub review: Review,
    pub modal: Option<Modal>,
    /// A line for the user: (is an error, text).
    pub status: Option<(bool, String)>,
    pub apply: Option<ApplyView>,
    pub quit: bool,
    /// Where the answers came from.
    pub source: String,
    pub runner: Runner,
    /// When a pending confirmation's countdown is shown, "now" (tests freeze it).
    pub now: Option<u64>,
    /// Keys typed on the credentials screen, by service; stored in the vault on apply and
    /// never drawn.
    pub secrets: std::collections::BTreeMap<String, String>,
}

impl App {
    pub fn new(answers: Answers, facts: Facts, root: Root, dry_run: bool, source: String) -> App {
        let forms = forms();
        let runner = if root.is_live() { Runner::Live } else { Runner::Skip };
        let mut app = App {
            screen: Screen::Welcome,
            saved: answers.clone(),
            answers,
            facts,
            root,
            dry_run,
            color: std::env::var_os("NO_COLOR").is_none(),
            fields: Vec::new(),
            forms,
            focus: 0,
            visited: [false; 7],
            review: Review::default(),
            modal: None,
            status: None,
            apply: None,
            quit: false,
            source,
            runner,
            now: None,
            secrets: Default::default(),
        };
        app.load_fields();
        app
    }

    /// Fills every field's text from the answers.
    fn load_fields(&mut self) {
        self.fields = self
            .forms
            .iter()
            .map(|form| {
                form.fields
                    .iter()
                    .map(|f| match &f.kind {
                        Kind::Text { get, .. } => FieldState { text: get(&self.answers), ..Default::default() },
                        Kind::List { get, .. } => {
                            let items = get(&self.answers);
                            FieldState { sel: items.len(), items, ..Default::default() }
                        }
                        _ => FieldState::default(),
                    })
                    .collect()
            })
            .collect();
    }

    pub fn style(&self, s: Style) -> Style {
        if self.color { s } else { Style::default().add_modifier(s.add_modifier) }
    }

    /// The keys that work right now, for the footer.
    pub fn keys(&self) -> Vec<(&'static str, &'static str)> {
        if let Some(m) = &self.modal {
            return match m {
                Modal::Help => vec![("Esc/?", "close")],
                Modal::Quit => vec![("y", "quit without saving"), ("n/Esc", "stay")],
                Modal::Save { .. } => vec![("Enter", "save"), ("Esc", "cancel")],
            };
        }
        match self.screen {
            Screen::Welcome => vec![("Enter", "start"), ("?", "help"), ("q", "quit")],
            Screen::Layer(i) => {
                let mut k = vec![("Tab/↓", "next"), ("S-Tab/↑", "previous")];
                match self.forms[i].fields.get(self.focus).map(|f| &f.kind) {
                    Some(Kind::Text { .. }) => k.push(("type ←→", "edit")),
                    Some(Kind::Bool { .. }) => k.push(("Space", "toggle")),
                    Some(Kind::Choice { .. }) => k.push(("←/→", "choose")),
                    Some(Kind::List { .. }) => {
                        k.push(("type+Enter", "add"));
                        k.push(("Del", "remove"));
                    }
                    Some(Kind::Keys { .. }) => k.push(("type+Enter", "enter key (masked)")),
                    None => {}
                }
                k.extend([("Enter", "go on"), ("Esc", "back"), ("?", "help"), ("^Q", "quit")]);
                if !self.typing() {
                    k.push(("q", "quit"));
                }
                k
            }
            Screen::Review => {
                let mut k = vec![("↑/↓/PgUp/PgDn", "scroll"), ("n/p", "next/prev file"), ("Enter", "go to layer")];
                if self.dry_run {
                    k.push(("s", "save answers"));
                } else {
                    k.push(("a", "apply"));
                    k.push(("s", "save answers"));
                }
                k.extend([("Esc", "back"), ("q", "quit")]);
                k
            }
            Screen::Apply => match self.apply.as_ref().and_then(|a| a.result.as_ref()) {
                Some(Err(_)) => vec![("Esc", "back to review"), ("q", "quit")],
                _ => vec![("", "applying…")],
            },
            Screen::Done => vec![("q/Enter", "quit")],
        }
    }

    /// Whether keys go into a text box (so `q` is a letter, not quit).
    fn typing(&self) -> bool {
        match self.screen {
            Screen::Layer(i) => match self.forms[i].fields.get(self.focus).map(|f| &f.kind) {
                Some(Kind::Text { .. }) | Some(Kind::Keys { .. }) => true,
                Some(Kind::List { .. }) => {
                    let st = &self.fields[i][self.focus];
                    st.sel == st.items.len()
                }
                _ => false,
            },
            _ => false,
        }
    }

    pub fn unsaved(&self) -> bool {
        self.answers != self.saved
    }

    fn ask_quit(&mut self) {
        if self.unsaved() && self.screen != Screen::Done {
            self.modal = Some(Modal::Quit);
        } else {
            self.quit = true;
        }
    }

    /// One key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        if ctrl && key.code == KeyCode::Char('c') {
            self.quit = true;
            return;
        }
        if let Some(modal) = self.modal.clone() {
            self.on_modal_key(modal, key);
            return;
        }
        if ctrl && key.code == KeyCode::Char('q') {
            self.ask_quit();
            return;
        }
        if key.code == KeyCode::Char('?') && self.screen != Screen::Apply {
            self.modal = Some(Modal::Help);
            return;
        }
        match self.screen {
            Screen::Welcome => match key.code {
                KeyCode::Enter => self.go_layer(0),
                KeyCode::Char('q') => self.ask_quit(),
                _ => {}
            },
            Screen::Layer(i) => self.on_layer_key(i, key),
            Screen::Review => self.on_review_key(key),
            Screen::Apply => {
                let failed = matches!(self.apply.as_ref().and_then(|a| a.result.as_ref()), Some(Err(_)));
                match key.code {
                    KeyCode::Esc if failed => self.go_review(),
                    KeyCode::Char('q') if failed => self.ask_quit(),
                    _ => {}
                }
            }
            Screen::Done => {
                if matches!(key.code, KeyCode::Char('q') | KeyCode::Enter | KeyCode::Esc) {
                    self.quit = true;
                }
            }
        }
    }

    fn on_modal_key(&mut self, modal: Modal, key: KeyEvent) {
        match modal {
            Modal::Help => {
                if matches!(key.code, KeyCode::Esc | KeyCode::Char('?') | KeyCode::Enter | KeyCode::Char('q')) {
                    self.modal = None;
                }
            }
            Modal::Quit => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => self.quit = true,
                KeyCode::Char('n') | KeyCode::Esc => self.modal = None,
                _ => {}
            },
            Modal::Save { mut path, .. } => match key.code {
                KeyCode::Esc => self.modal = None,
                KeyCode::Enter => match self.save_to(&PathBuf::from(path.trim())) {
                    Ok(msg) => {
                        self.modal = None;
                        self.status = Some((false, msg));
                    }
                    Err(e) => self.modal = Some(Modal::Save { path, error: Some(e) }),
                },
                KeyCode::Backspace => {
                    path.pop();
                    self.modal = Some(Modal::Save { path, error: None });
                }
                KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                    path.push(c);
                    self.modal = Some(Modal::Save { path, error: None });
                }
                _ => {}
            },
        }
    }

    /// Writes the answers (no secrets: they never are in the answers) to `path`.
    pub fn save_to(&mut self, path: &std::path::Path) -> Result<String, String> {
        if path.as_os_str().is_empty() {
            return Err("type a file name, e.g. ./answers.toml".into());
        }
        if path.is_dir() {
            return Err(format!(
                "{} is a directory: type a file name such as {}/answers.toml",
                path.display(),
                path.display()
            ));
        }
        std::fs::write(path, self.answers.to_toml()).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.saved = self.answers.clone();
        Ok(format!("Answers saved to {}. Reuse them with --answers {}", path.display(), path.display()))
    }

    fn go_layer(&mut self, i: usize) {
        self.screen = Screen::Layer(i);
        self.focus = 0;
        self.status = None;
    }

    fn on_layer_key(&mut self, i: usize, key: KeyEvent) {
        let n = self.forms[i].fields.len();
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let focus = self.focus;
        match key.code {
            KeyCode::Tab => self.focus = (focus + 1) % n,
            KeyCode::BackTab => self.focus = (focus + n - 1) % n,
            KeyCode::Esc => {
                if i == 0 {
                    self.screen = Screen::Welcome
                } else {
                    self.go_layer(i - 1)
                }
            }
            _ => {
                let kind = &self.forms[i].fields[focus].kind;
                match kind {
                    Kind::Text { set, .. } => match key.code {
                        KeyCode::Down => self.focus = (focus + 1).min(n - 1),
                        KeyCode::Up => self.focus = focus.saturating_sub(1),
                        KeyCode::Enter => self.go_on(i),
                        KeyCode::Char('u') if ctrl => {
                            self.fields[i][focus].text.clear();
                            self.fields[i][focus].cursor = None;
                            self.edit_text(i, focus, *set);
                        }
                        KeyCode::Char('q') if ctrl => self.ask_quit(),
                        KeyCode::Char(_) if ctrl => {}
                        code => {
                            let before = self.fields[i][focus].text.clone();
                            if self.fields[i][focus].edit(code) && self.fields[i][focus].text != before {
                                self.edit_text(i, focus, *set);
                            }
                        }
                    },
                    Kind::Bool { get, set } => match key.code {
                        KeyCode::Char(' ') | KeyCode::Left | KeyCode::Right => {
                            let v = get(&self.answers);
                            set(&mut self.answers, !v);
                        }
                        KeyCode::Down => self.focus = (focus + 1).min(n - 1),
                        KeyCode::Up => self.focus = focus.saturating_sub(1),
                        KeyCode::Enter => self.go_on(i),
                        KeyCode::Char('q') => self.ask_quit(),
                        _ => {}
                    },
                    Kind::Choice { options, get, set } => match key.code {
                        KeyCode::Char(' ') | KeyCode::Right | KeyCode::Left => {
                            let cur = get(&self.answers);
                            let pos = options.iter().position(|o| *o == cur).unwrap_or(0);
                            let next = if key.code == KeyCode::Left {
                                (pos + options.len() - 1) % options.len()
                            } else {
                                (pos + 1) % options.len()
                            };
                            set(&mut self.answers, options[next]);
                        }
                        KeyCode::Down => self.focus = (focus + 1).min(n - 1),
                        KeyCode::Up => self.focus = focus.saturating_sub(1),
                        KeyCode::Enter => self.go_on(i),
                        KeyCode::Char('q') => self.ask_quit(),
                        _ => {}
                    },
                    Kind::List { item, set, .. } => {
                        let (item, set) = (*item, *set);
                        self.on_list_key(i, focus, n, key, item, set);
                    }
                    Kind::Keys { services } => {
                        let names = services(&self.answers);
                        let st = &mut self.fields[i][focus];
                        match key.code {
                            KeyCode::Down if st.sel + 1 < names.len() => {
                                st.sel += 1;
                                st.text.clear();
                            }
                            KeyCode::Down => self.focus = (focus + 1).min(n - 1),
                            KeyCode::Up if st.sel > 0 => {
                                st.sel -= 1;
                                st.text.clear();
                            }
                            KeyCode::Up => self.focus = focus.saturating_sub(1),
                            KeyCode::Backspace => {
                                st.text.pop();
                            }
                            KeyCode::Enter if !st.text.is_empty() => {
                                if let Some(name) = names.get(st.sel) {
                                    self.secrets.insert(name.clone(), std::mem::take(&mut st.text));
                                    st.error = None;
                                }
                            }
                            KeyCode::Enter => self.go_on(i),
                            KeyCode::Char('q') if ctrl => self.ask_quit(),
                            KeyCode::Char(c) if !ctrl && !names.is_empty() => st.text.push(c),
                            _ => {}
                        }
                    }
                }
            }
        }
    }

    fn edit_text(&mut self, i: usize, f: usize, set: fn(&mut Answers, &str) -> Result<(), crate::answers::Invalid>) {
        let text = self.fields[i][f].text.clone();
        self.fields[i][f].error = set(&mut self.answers, &text).err().map(|e| e.0);
    }

    fn on_list_key(
        &mut self,
        i: usize,
        f: usize,
        n: usize,
        key: KeyEvent,
        item: fn(&str) -> Result<(), crate::answers::Invalid>,
        set: crate::ui::fields::SetList,
    ) {
        let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
        let st = &mut self.fields[i][f];
        let on_add = st.sel == st.items.len();
        match key.code {
            KeyCode::Down => {
                if st.sel < st.items.len() {
                    st.sel += 1;
                } else {
                    self.focus = (f + 1).min(n - 1);
                }
            }
            KeyCode::Up => {
                if st.sel > 0 {
                    st.sel -= 1;
                } else {
                    self.focus = f.saturating_sub(1);
                }
            }
            KeyCode::Delete | KeyCode::Backspace if !on_add => {
                st.items.remove(st.sel);
                st.error = None;
                let items = st.items.clone();
                if let Err((_, e)) = set(&mut self.answers, &items) {
                    self.fields[i][f].error = Some(e.0);
                }
            }
            KeyCode::Backspace => {
                st.text.pop();
                st.error = None;
            }
            KeyCode::Enter if on_add && !st.text.trim().is_empty() => {
                let new = st.text.trim().to_owned();
                match item(&new) {
                    Err(e) => st.error = Some(e.0),
                    Ok(()) => {
                        let mut items = st.items.clone();
                        items.push(new);
                        match set(&mut self.answers, &items) {
                            Ok(()) => {
                                st.items = items;
                                st.text.clear();
                                st.sel = st.items.len();
                                st.error = None;
                            }
                            Err((_, e)) => st.error = Some(e.0),
                        }
                    }
                }
            }
            KeyCode::Enter => self.go_on(i),
            KeyCode::Char('q') if ctrl => self.ask_quit(),
            KeyCode::Char('q') if !on_add => self.ask_quit(),
            KeyCode::Char('u') if ctrl && on_add => st.text.clear(),
            KeyCode::Char(c) if !ctrl => {
                st.sel = st.items.len();
                st.text.push(c);
                st.error = match item(st.text.trim()) {
                    Ok(()) => None,
                    Err(e) if st.text.trim().is_empty() => Some(e.0),
                    Err(e) => Some(e.0),
                };
            }
            _ => {}
        }
    }

    /// Enter on a layer: stays when a field is wrong (the error is next to it), else goes on.
    fn go_on(&mut self, i: usize) {
        if let Some(pos) = self.fields[i].iter().position(|f| f.error.is_some()) {
            self.focus = pos;
            self.status = Some((true, "Fix the field marked in red first (the message says what to type).".into()));
            return;
        }
        if let Err((field, msg)) = self.answers.check() {
            let form = &self.forms[i];
            if let Some(pos) =
                form.fields.iter().position(|f| field == f.key || field.starts_with(&format!("{}[", f.key)))
            {
                self.fields[i][pos].error = Some(msg);
                self.focus = pos;
                self.status = Some((true, "Fix the field marked in red first.".into()));
                return;
            }
        }
        self.visited[i] = true;
        if i + 1 < self.forms.len() {
            self.go_layer(i + 1);
        } else {
            self.go_review();
        }
    }

    /// Builds the review from the core's plan and shows it.
    pub fn go_review(&mut self) {
        self.screen = Screen::Review;
        self.status = None;
        self.review = self.build_review();
    }

    fn build_review(&self) -> Review {
        let mut r = Review::default();
        let push = |r: &mut Review, line: Line<'static>, layer: Option<Layer>| {
            r.lines.push(line);
            r.layer_of.push(layer);
        };
        if let Err((field, msg)) = self.answers.check() {
            r.blocker = Some(format!("`{field}`: {msg}"));
            push(
                &mut r,
                Line::styled(format!("Cannot plan yet: `{field}`: {msg}"), self.style(Style::new().fg(Color::Red))),
                None,
            );
            return r;
        }
        // Keys typed here count as in the vault: they are stored there when you apply.
        let mut facts = self.facts.clone();
        facts.vault_keys.extend(self.secrets.keys().cloned());
        let plan = match layers::plan(&self.answers, &facts) {
            Ok(p) => p,
            Err(e) => {
                r.blocker = Some(e.to_string());
                push(&mut r, Line::raw(e.to_string()), None);
                return r;
            }
        };
        let p = preview::preview(&plan, &self.root);
        r.changes = p.change_count();
        let bold = self.style(Style::new().add_modifier(Modifier::BOLD));
        for layer in Layer::ALL {
            let files: Vec<_> =
                p.files.iter().filter(|f| f.step.layer == layer && f.change != FileChange::Unchanged).collect();
            let cmds: Vec<_> = p.commands.iter().filter(|c| c.layer == layer).collect();
            let warns: Vec<_> = plan.warnings.iter().filter(|w| w.layer == layer).collect();
            push(&mut r, Line::styled(format!("── {layer} ──"), bold), Some(layer));
            if files.is_empty() && cmds.is_empty() {
                push(&mut r, Line::raw("  nothing to change"), Some(layer));
            }
            for f in files {
                r.file_starts.push(r.lines.len());
                let what = match f.change {
                    FileChange::New => "new file".to_owned(),
                    FileChange::Changed => "changed".to_owned(),
                    FileChange::Mode { from } => format!("mode {from:o} -> {:o}", f.step.mode),
                    FileChange::Unreadable => "cannot be read without root: not compared".to_owned(),
                    FileChange::Refused(why) => format!("REFUSED: {}", why.explain("it")),
                    FileChange::Unchanged => "unchanged".to_owned(),
                };
                push(&mut r, Line::styled(format!("{} ({what})", f.step.path), bold), Some(layer));
                for l in f.diff.lines().filter(|l| !l.starts_with("---") && !l.starts_with("+++")) {
                    let style = if l.starts_with('+') {
                        Style::new().fg(Color::Green)
                    } else if l.starts_with('-') {
                        Style::new().fg(Color::Red)
                    } else if l.starts_with("@@") {
                        Style::new().fg(Color::Cyan)
                    } else {
                        Style::new()
                    };
                    push(&mut r, Line::styled(l.to_owned(), self.style(style)), Some(layer));
                }
            }
            for c in cmds {
                push(
                    &mut r,
                    Line::from(vec![
                        Span::styled("run: ", bold),
                        Span::raw(format!("{}  # {}", shell_words(&c.argv), c.why)),
                    ]),
                    Some(layer),
                );
            }
            for w in warns {
                let (tag, color) = match w.severity {
                    Severity::Note => ("note: ", Color::Gray),
                    Severity::Warning => ("warning: ", Color::Yellow),
                    Severity::Danger => ("DANGER: ", Color::Red),
                };
                push(
                    &mut r,
                    Line::from(vec![
                        Span::styled(tag, self.style(Style::new().fg(color).add_modifier(Modifier::BOLD))),
                        Span::raw(w.text.clone()),
                    ]),
                    Some(layer),
                );
            }
        }
        if !self.secrets.is_empty() {
            let names: Vec<&str> = self.secrets.keys().map(String::as_str).collect();
            r.lines.insert(
                0,
                Line::raw(format!(
                    "Keys entered for {}: {}",
                    names.join(", "),
                    if self.dry_run {
                        "a dry run stores nothing; they are forgotten on exit."
                    } else {
                        "stored encrypted in the vault when you apply."
                    }
                )),
            );
            r.layer_of.insert(0, Some(Layer::Credentials));
            for s in &mut r.file_starts {
                *s += 1;
            }
        }
        let total = if r.changes == 0 {
            "No changes: the host already matches these answers.".to_owned()
        } else {
            format!(
                "{} change(s). {}",
                r.changes,
                if self.dry_run { "Dry run: nothing will be written." } else { "Press a to apply." }
            )
        };
        r.lines.insert(0, Line::styled(total, bold));
        r.layer_of.insert(0, None);
        for s in &mut r.file_starts {
            *s += 1;
        }
        r
    }

    fn on_review_key(&mut self, key: KeyEvent) {
        let max = self.review.lines.len().saturating_sub(1);
        let r = &mut self.review;
        match key.code {
            KeyCode::Down => r.scroll = (r.scroll + 1).min(max),
            KeyCode::Up => r.scroll = r.scroll.saturating_sub(1),
            KeyCode::PageDown | KeyCode::Char(' ') => r.scroll = (r.scroll + 15).min(max),
            KeyCode::PageUp => r.scroll = r.scroll.saturating_sub(15),
            KeyCode::Home => r.scroll = 0,
            KeyCode::End => r.scroll = max,
            KeyCode::Char('n') => {
                if let Some(s) = r.file_starts.iter().find(|s| **s > r.scroll) {
                    r.scroll = *s;
                }
            }
            KeyCode::Char('p') => {
                if let Some(s) = r.file_starts.iter().rev().find(|s| **s < r.scroll) {
                    r.scroll = *s;
                }
            }
            KeyCode::Enter => {
                let layer = r.layer_of.iter().skip(r.scroll).flatten().next().copied();
                if let Some(l) = layer {
                    self.go_layer(l.number() - 1);
                }
            }
            KeyCode::Char('s') => {
                let default = if self.dry_run {
                    "./answers.toml".to_owned()
                } else {
                    installed_answers(&self.root).display().to_string()
                };
                self.modal = Some(Modal::Save { path: default, error: None });
            }
            KeyCode::Char('a') if !self.dry_run => self.start_apply(),
            KeyCode::Esc => self.go_layer(self.forms.len() - 1),
            KeyCode::Char('q') => self.ask_quit(),
            _ => {}
        }
    }

    /// Runs the apply engine in a thread; progress arrives as messages.
    /// Stores the keys typed in the wizard in the vault and forgets them.
    fn store_secrets(&mut self) -> Result<(), String> {
        let vault = crate::vault::Vault::new(&self.root);
        for (name, value) in std::mem::take(&mut self.secrets) {
            let id: crate::answers::Ident = name.parse().map_err(|e: crate::answers::Invalid| e.0)?;
            vault.set(&id, value.as_bytes()).map_err(|e| e.to_string())?;
        }
        // The plan hands the agent the keys the vault holds: read them again.
        self.facts.vault_keys = crate::host::probe(&self.root, None).vault_keys;
        Ok(())
    }

    fn start_apply(&mut self) {
        if let Some(b) = &self.review.blocker {
            self.status = Some((true, format!("Cannot apply: {b}")));
            return;
        }
        if let Err(e) = self.store_secrets() {
            self.status = Some((true, format!("Cannot store the keys: {e}")));
            return;
        }
        let plan = match layers::plan(&self.answers, &self.facts) {
            Ok(p) => p,
            Err(e) => {
                self.status = Some((true, e.to_string()));
                return;
            }
        };
        let (tx, rx) = std::sync::mpsc::channel();
        let root = self.root.clone();
        let opts = apply::Options {
            force: false,
            interim: self.runner.runs_commands(),
            runner: self.runner.clone(),
            confirm_timeout: apply::DEFAULT_CONFIRM_SECS,
            answers_toml: self.answers.to_toml(),
            ssh_connection: crate::host::session::ssh_connection(self.root.is_live()),
            exe: std::env::current_exe().unwrap_or_else(|_| "clawguard".into()),
        };
        std::thread::spawn(move || {
            let progress_tx = tx.clone();
            let mut progress = move |e: Event| {
                let _ = progress_tx.send(ApplyMsg::Progress(e));
            };
            let result = apply::apply(&plan, &root, &opts, &mut progress).map_err(|e| e.to_string());
            let _ = tx.send(ApplyMsg::Finished(result));
        });
        self.apply = Some(ApplyView {
            rx: Some(rx),
            total: 1,
            done: 0,
            current: "starting".into(),
            log: Vec::new(),
            result: None,
        });
        self.screen = Screen::Apply;
    }

    /// Called between keys: collects apply progress.
    pub fn tick(&mut self) {
        let Some(view) = self.apply.as_mut() else { return };
        let Some(rx) = view.rx.as_ref() else { return };
        loop {
            match rx.try_recv() {
                Ok(ApplyMsg::Progress(Event::Start { steps })) => view.total = steps.max(1),
                Ok(ApplyMsg::Progress(Event::Step { label })) => {
                    view.done += 1;
                    view.log.push(label.clone());
                    view.current = label;
                }
                Ok(ApplyMsg::Progress(Event::Finish)) => view.done = view.total,
                Ok(ApplyMsg::Finished(result)) => {
                    let ok = result.is_ok();
                    view.result = Some(result);
                    view.rx = None;
                    if ok {
                        if apply::save_answers(&self.root, &self.answers).is_ok() {
                            self.saved = self.answers.clone();
                        }
                        self.screen = Screen::Done;
                    }
                    break;
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => {
                    view.rx = None;
                    break;
                }
            }
        }
    }

    /// Seconds left before an unconfirmed change rolls back.
    pub fn countdown(&self) -> Option<u64> {
        let report = self.apply.as_ref()?.result.as_ref()?.as_ref().ok()?;
        let p = report.pending.as_ref()?;
        let now = self.now.unwrap_or_else(apply::store::now);
        Some(p.deadline.saturating_sub(now))
    }
}
