//! The wizard's state: the [`Request`] the user builds by answering, the screen shown,
//! and the components that own their keys and drawing (`form`, `review`, `progress`).
//! Every key goes through [`App::bindings`]: the same list the footer and Help show.

use std::path::PathBuf;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::bindings::{self, Binding, ENTER, ESC, F1, Key, bind, ch};
use super::form::{self, LayerForms};
use super::progress::{Done, DoneMsg, Progress};
use super::review::{self, Review};
use super::theme::Theme;
use crate::answers::Answers;
use crate::apply::{ApplyError, DEFAULT_CONFIRM_SECS};
use crate::session::Loaded;
use crate::session::{Outcome, Request};
use crate::target::Runner;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Screen {
    Welcome,
    Layer(usize),
    Review,
    Apply,
    Done,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Modal {
    Help,
    Quit,
    Save { path: String, error: Option<String> },
}

/// A component's bindings, as the wizard's.
fn lift<M>(b: Vec<Binding<M>>, f: fn(M) -> Act) -> Vec<Binding<Act>> {
    b.into_iter().map(|b| Binding { keys: b.keys, label: b.label, does: b.does, act: f(b.act) }).collect()
}

/// What a key asks of the wizard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Act {
    Start,
    Layer(form::Msg),
    Review(review::Msg),
    /// After a failed apply: back to the Review.
    Retry,
    Help,
    AskQuit,
    /// Ctrl-C: quits at once, except while applying.
    Interrupt,
    Quit,
    Close,
    SaveTo,
    Erase,
    /// On the Backup screen: ask the destination whether it answers (in the background).
    TestDestination,
    Done(DoneMsg),
}

pub struct App {
    pub screen: Screen,
    /// What the user is building: the answers, the keys typed, the target.
    pub req: Request,
    /// The answers as loaded or last saved: quitting with others asks first.
    pub saved: Answers,
    pub dry_run: bool,
    pub theme: Theme,
    pub layers: LayerForms,
    pub review: Review,
    pub modal: Option<Modal>,
    /// A line for the user: (is an error, text).
    pub status: Option<(bool, String)>,
    pub apply: Option<Progress>,
    pub quit: bool,
    /// Where the answers came from.
    pub source: String,
    /// When a pending confirmation's countdown is shown, "now" (tests freeze it).
    pub now: Option<u64>,
    /// The destination test under way: its answer arrives here.
    pub reach: Option<std::sync::mpsc::Receiver<String>>,
    pub done: Done,
}

impl App {
    pub fn new(l: Loaded, dry_run: bool) -> App {
        let runner = if l.root.is_live() { Runner::Live } else { Runner::Skip };
        let source = l.source.clone();
        let refused = crate::egress::list(&l.root, &l.facts, &l.answers).map_err(|e| e.to_string());
        let req = l.request(runner, Default::default(), DEFAULT_CONFIRM_SECS, false);
        App {
            screen: Screen::Welcome,
            saved: req.answers.clone(),
            layers: LayerForms::new(&req.answers, refused),
            req,
            dry_run,
            theme: Theme { color: std::env::var_os("NO_COLOR").is_none() },
            review: Review::default(),
            modal: None,
            status: None,
            apply: None,
            quit: false,
            source,
            now: None,
            reach: None,
            done: Done::default(),
        }
    }

    /// A refused host dismissed on the Egress screen: kept as a decision, except in a dry
    /// run (which writes nothing).
    fn dismiss(&mut self, host: &str) {
        if self.dry_run {
            self.status = Some((false, format!("{host} dismissed here; a dry run keeps no decision.")));
            return;
        }
        let kept = crate::egress::Decisions::load(&self.req.root).and_then(|mut d| {
            d.decide(host, crate::egress::Verdict::Dismissed);
            d.save(&self.req.root)
        });
        self.status = Some(match kept {
            Ok(()) => (false, format!("{host} dismissed: it stays refused, and is listed again if refused again.")),
            Err(e) => (true, e.to_string()),
        });
    }

    pub fn answers(&self) -> &Answers {
        &self.req.answers
    }

    pub fn unsaved(&self) -> bool {
        self.req.answers != self.saved
    }

    /// The last apply's result, once it ended.
    pub fn finished(&self) -> Option<&Result<Outcome, ApplyError>> {
        self.apply.as_ref()?.result.as_ref()
    }

    /// The last apply's result, once it ended, for the exit: the error stays typed.
    pub fn into_finished(self) -> Option<Result<Outcome, ApplyError>> {
        self.apply?.result
    }

    /// Whether printable keys are text for the focused input (`q` and `?` are letters).
    fn typing(&self, modal: Option<&Modal>) -> bool {
        match (modal, self.screen) {
            (Some(Modal::Save { .. }), _) => true,
            (Some(_), _) => false,
            (None, Screen::Layer(i)) => self.layers.takes_text(i),
            _ => false,
        }
    }

    /// What every key does right now: the footer shows these, Help lists them, and
    /// [`App::on_key`] obeys them.
    pub fn bindings(&self) -> Vec<Binding<Act>> {
        self.bindings_with(self.modal.as_ref())
    }

    /// The bindings of the screen itself, under any dialog (Help lists these).
    pub fn screen_bindings(&self) -> Vec<Binding<Act>> {
        self.bindings_with(None)
    }

    fn bindings_with(&self, modal: Option<&Modal>) -> Vec<Binding<Act>> {
        let mut b = match modal {
            Some(Modal::Help) => vec![bind(&[ESC, F1, ch('?'), ENTER, ch('q')], "Esc", "close", Act::Close)],
            Some(Modal::Quit) => vec![
                bind(&[ch('y'), ch('Y')], "y", "quit without saving", Act::Quit),
                bind(&[ch('n'), ESC], "n/Esc", "stay", Act::Close),
            ],
            Some(Modal::Save { .. }) => vec![
                bind(&[ENTER], "Enter", "save", Act::SaveTo),
                bind(&[Key::Code(KeyCode::Backspace)], "", "erase", Act::Erase),
                bind(&[ESC], "Esc", "cancel", Act::Close),
            ],
            None => match self.screen {
                Screen::Welcome => vec![bind(&[ENTER], "Enter", "start", Act::Start)],
                Screen::Layer(i) => {
                    let mut b = lift(self.layers.bindings(i), Act::Layer);
                    if self.layers.forms[i].layer == crate::plan::Layer::Backup
                        && self.req.answers.backup.destination.is_some()
                    {
                        b.push(bind(&[Key::Ctrl('t')], "^T", "test destination", Act::TestDestination));
                    }
                    b
                }
                Screen::Review => lift(self.review.bindings(self.dry_run), Act::Review),
                Screen::Apply if self.apply.as_ref().is_some_and(Progress::failed) => {
                    vec![bind(&[ESC], "Esc", "back to review", Act::Retry)]
                }
                Screen::Apply => vec![bind(&[], "wait", "applying… it ends by itself", Act::Close)],
                Screen::Done => {
                    let mut b = lift(Done::bindings(), Act::Done);
                    b.push(bind(&[ENTER, ESC, ch('q')], "q/Enter", "quit", Act::Quit));
                    b
                }
            },
        };
        if modal.is_none() && !(self.screen == Screen::Apply && self.apply.as_ref().is_some_and(Progress::running)) {
            if self.typing(modal) {
                b.push(bind(&[F1], "F1", "help", Act::Help));
                b.push(bind(&[Key::Ctrl('q')], "^Q", "quit", Act::AskQuit));
            } else {
                b.push(bind(&[F1, ch('?')], "F1/?", "help", Act::Help));
                if self.screen != Screen::Done {
                    b.push(bind(&[ch('q'), Key::Ctrl('q')], "q", "quit", Act::AskQuit));
                }
            }
        }
        b.push(bind(&[Key::Ctrl('c')], "", "quit now", Act::Interrupt));
        b
    }

    /// One key press.
    pub fn on_key(&mut self, key: KeyEvent) {
        match bindings::find(&self.bindings(), &key) {
            Some(act) => self.act(act, &key),
            None => {
                // Text: a printable character, without Ctrl or Alt.
                let KeyCode::Char(c) = key.code else { return };
                if key.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT) {
                    return;
                }
                match (&mut self.modal, self.screen) {
                    (Some(Modal::Save { path, error }), _) => {
                        path.push(c);
                        *error = None;
                    }
                    (None, Screen::Layer(i)) => {
                        self.layers.typed(i, c, &mut self.req.answers);
                    }
                    _ => {}
                }
            }
        }
    }

    fn act(&mut self, act: Act, key: &KeyEvent) {
        match act {
            Act::Start => self.go_layer(0),
            Act::Layer(msg) => {
                let Screen::Layer(i) = self.screen else { return };
                match self.layers.update(i, msg, key.code, &mut self.req.answers, &mut self.req.keys) {
                    form::Step::Stay => {}
                    form::Step::GoOn if i + 1 < self.layers.forms.len() => self.go_layer(i + 1),
                    form::Step::GoOn => self.go_review(),
                    form::Step::Back if i == 0 => self.screen = Screen::Welcome,
                    form::Step::Back => self.go_layer(i - 1),
                    form::Step::Refused(why) => self.status = Some((true, why)),
                    form::Step::Dismiss(host) => self.dismiss(&host),
                }
            }
            Act::Done(msg) => self.done.update(msg),
            Act::Review(msg) => match self.review.update(msg) {
                review::Step::Stay => {}
                review::Step::Layer(l) => self.go_layer(l.number() - 1),
                review::Step::Apply => self.start_apply(),
                review::Step::Save => {
                    let default = if self.dry_run {
                        "./answers.toml".to_owned()
                    } else {
                        self.req.root.path(crate::answers::DEFAULT_PATH).display().to_string()
                    };
                    self.modal = Some(Modal::Save { path: default, error: None });
                }
                review::Step::Back => self.go_layer(self.layers.forms.len() - 1),
            },
            Act::Retry => self.go_review(),
            Act::TestDestination => self.test_destination(),
            Act::Help => self.modal = Some(Modal::Help),
            Act::AskQuit if self.unsaved() && self.screen != Screen::Done => self.modal = Some(Modal::Quit),
            Act::AskQuit | Act::Quit => self.quit = true,
            Act::Interrupt if self.apply.as_ref().is_some_and(Progress::running) => {
                self.status = Some((
                    true,
                    "Applying: stopping now would leave the change half done. It ends by itself in a moment.".into(),
                ));
            }
            Act::Interrupt => self.quit = true,
            Act::Close => self.modal = None,
            Act::Erase => {
                if let Some(Modal::Save { path, error }) = &mut self.modal {
                    path.pop();
                    *error = None;
                }
            }
            Act::SaveTo => {
                let Some(Modal::Save { path, .. }) = &self.modal else { return };
                let path = path.clone();
                match self.save_to(&PathBuf::from(path.trim())) {
                    Ok(msg) => {
                        self.modal = None;
                        self.status = Some((false, msg));
                    }
                    Err(e) => self.modal = Some(Modal::Save { path, error: Some(e) }),
                }
            }
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
        std::fs::write(path, self.req.answers.to_toml())
            .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        self.saved = self.req.answers.clone();
        Ok(format!("Answers saved to {}. Reuse them with --answers {}", path.display(), path.display()))
    }

    /// Shows layer `i`'s screen.
    pub fn go_layer(&mut self, i: usize) {
        self.screen = Screen::Layer(i);
        self.layers.focus = 0;
        self.status = None;
    }

    /// Builds the review from the core's plan and shows it.
    pub fn go_review(&mut self) {
        self.screen = Screen::Review;
        self.status = None;
        self.req.ask_images();
        self.review = Review::of(&self.req, self.dry_run);
    }

    /// Applies the request in a thread; the keys typed go with it and the wizard forgets
    /// them.
    fn start_apply(&mut self) {
        if let Some(b) = &self.review.blocker {
            self.status = Some((true, format!("Cannot apply: {b}")));
            return;
        }
        let mut req = self.req.clone();
        req.keys = std::mem::take(&mut self.req.keys);
        // The plan now finds the keys in the vault: count them there.
        self.req.facts.vault_keys.extend(req.keys.keys().cloned());
        self.apply = Some(Progress::start(req));
        self.screen = Screen::Apply;
        self.status = None;
    }

    /// Called between keys: collects apply progress.
    pub fn tick(&mut self) {
        if let Some(rx) = &self.reach
            && let Ok(said) = rx.try_recv()
        {
            let failed = said.starts_with('✗');
            self.status = Some((failed, said));
            self.reach = None;
        }
        let Some(p) = self.apply.as_mut() else { return };
        if p.tick() && matches!(p.result, Some(Ok(_))) {
            self.saved = self.req.answers.clone();
            self.screen = Screen::Done;
        }
        if self.screen == Screen::Done
            && let Some(Some(Ok(o))) = self.apply.as_ref().map(|p| p.result.as_ref())
        {
            self.done.watch(o, &self.req.root);
        }
    }

    /// Asks `backup.destination` (as answered now) whether it answers, in the background:
    /// nothing is written there; the status line says what it found.
    fn test_destination(&mut self) {
        if self.reach.is_some() {
            return;
        }
        let (answers, root) = (self.req.answers.clone(), self.req.root.clone());
        let own: Vec<String> = self.req.facts.hostname.iter().cloned().collect();
        let at = answers.backup.destination.as_ref().map(|d| d.to_string()).unwrap_or_default();
        let (tx, rx) = std::sync::mpsc::channel();
        self.status = Some((false, format!("Testing {at}…")));
        std::thread::spawn(move || {
            let said = match crate::backup::reach(&answers, &root, &own) {
                Ok(crate::backup::Reach::Opens) => {
                    format!("✓ {at} answers; its repository opens with this host's password.")
                }
                Ok(crate::backup::Reach::Empty) => format!("✓ {at} answers; the repository is created when you apply."),
                Ok(crate::backup::Reach::Foreign) => {
                    format!("✗ {at} holds another host's repository: choose another path.")
                }
                Err(e) => format!("✗ {e}"),
            };
            let _ = tx.send(said);
        });
        self.reach = Some(rx);
    }

    /// Seconds since the epoch, for the countdown.
    pub fn now(&self) -> u64 {
        self.now.unwrap_or_else(crate::target::now)
    }
}
