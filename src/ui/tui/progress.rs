//! Apply and Done: the one apply path (`session::run`) in a thread, its progress
//! as gauges and a log (✓ done, ✗ the step that failed), then the core's outcome lines —
//! the same `clawguard apply` prints.

use std::sync::mpsc::{Receiver, TryRecvError};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};

use super::theme::Theme;
use crate::apply::{ApplyError, Event};
use crate::session::{self, Outcome, Request};

enum Msg {
    Progress(Event),
    Finished(Box<Result<Outcome, ApplyError>>),
}

pub struct Progress {
    rx: Option<Receiver<Msg>>,
    pub total: usize,
    pub done: usize,
    pub current: String,
    /// The steps started, in order.
    pub log: Vec<String>,
    pub result: Option<Result<Outcome, ApplyError>>,
}

impl Progress {
    /// Starts applying `req` in a thread.
    pub fn start(req: Request) -> Progress {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let progress_tx = tx.clone();
            let mut progress = move |e: Event| {
                let _ = progress_tx.send(Msg::Progress(e));
            };
            let result = session::run(&req, &mut progress);
            let _ = tx.send(Msg::Finished(Box::new(result)));
        });
        Progress::shown(1, 0, "starting", Vec::new(), None).receiving(rx)
    }

    /// A view of an apply in some state (the tests draw each one).
    pub fn shown(
        total: usize,
        done: usize,
        current: &str,
        log: Vec<String>,
        result: Option<Result<Outcome, ApplyError>>,
    ) -> Progress {
        Progress { rx: None, total, done, current: current.into(), log, result }
    }

    fn receiving(mut self, rx: Receiver<Msg>) -> Progress {
        self.rx = Some(rx);
        self
    }

    pub fn running(&self) -> bool {
        self.result.is_none()
    }

    pub fn failed(&self) -> bool {
        matches!(self.result, Some(Err(_)))
    }

    /// Collects what the apply thread sent; true when it just finished.
    pub fn tick(&mut self) -> bool {
        let Some(rx) = self.rx.as_ref() else { return false };
        loop {
            match rx.try_recv() {
                Ok(Msg::Progress(Event::Start { steps })) => self.total = steps.max(1),
                Ok(Msg::Progress(Event::Step { label })) => {
                    self.done += 1;
                    self.log.push(label.clone());
                    self.current = label;
                }
                Ok(Msg::Progress(Event::Finish)) => self.done = self.total,
                Ok(Msg::Finished(result)) => {
                    self.result = Some(*result);
                    self.rx = None;
                    return true;
                }
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => {
                    self.result = Some(Err(ApplyError::Vanished));
                    self.rx = None;
                    return true;
                }
            }
        }
    }

    pub fn draw(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let [overall, step, log] =
            Layout::vertical([Constraint::Length(3), Constraint::Length(3), Constraint::Min(3)]).areas(area);
        f.render_widget(
            Gauge::default()
                .block(Block::bordered().title(" Overall "))
                .gauge_style(theme.paint(Style::new().fg(Color::Cyan)))
                .label(format!("{}/{} steps", self.done.min(self.total), self.total))
                .ratio((self.done as f64 / self.total.max(1) as f64).min(1.0)),
            overall,
        );
        f.render_widget(
            Gauge::default()
                .block(Block::bordered().title(" Current step "))
                .gauge_style(theme.paint(Style::new().fg(Color::Green)))
                .label(self.current.clone())
                .ratio(if self.running() { 0.5 } else { 1.0 }),
            step,
        );
        let red = theme.paint(Style::new().fg(Color::Red));
        let last = self.log.len().saturating_sub(1);
        let mut lines: Vec<Line> = self
            .log
            .iter()
            .enumerate()
            .map(|(i, l)| match (i == last, &self.result) {
                (true, None) => Line::raw(format!("▸ {l}")),
                (true, Some(Err(_))) => Line::styled(format!("✗ {l}"), red),
                _ => Line::raw(format!("✓ {l}")),
            })
            .collect();
        if let Some(Err(e)) = &self.result {
            lines.push(Line::styled("Stopped:", theme.paint(Style::new().fg(Color::Red).add_modifier(Modifier::BOLD))));
            lines.extend(e.to_string().lines().map(|l| Line::styled(l.to_owned(), red)));
        }
        // The end of the log stays in view, counted in wrapped rows.
        let width = log.width.saturating_sub(2).max(1) as usize;
        let rows: usize = lines.iter().map(|l| l.width().max(1).div_ceil(width)).sum();
        let skip = rows.saturating_sub(log.height.saturating_sub(2) as usize);
        f.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .scroll((skip as u16, 0))
                .block(Block::bordered().title(" Log ")),
            log,
        );
    }
}

/// The Done screen: the outcome, as `clawguard apply` prints it, with the time left. What
/// the user must do next (confirm from a new login, within the time left) is pinned at the
/// bottom, always in view; the rest scrolls above it (↑ ↓ PgUp PgDn). Once a new login
/// confirmed, the countdown gives way to that.
#[derive(Debug, Default)]
pub struct Done {
    /// Rows scrolled down in the upper part.
    pub scroll: u16,
    /// What became of the confirmation the outcome waits for, once known: no countdown
    /// any more.
    pub settled: Option<Settled>,
}

/// How a wait for confirmation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settled {
    Confirmed,
    RolledBack,
}

/// What a key does on the Done screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DoneMsg {
    Scroll(i16),
}

impl Done {
    pub fn bindings() -> Vec<super::bindings::Binding<DoneMsg>> {
        use super::bindings::{DOWN, Key, UP, bind};
        use crossterm::event::KeyCode;
        vec![
            bind(&[UP], "↑↓", "scroll", DoneMsg::Scroll(-1)),
            bind(&[DOWN], "", "", DoneMsg::Scroll(1)),
            bind(&[Key::Code(KeyCode::PageUp)], "", "", DoneMsg::Scroll(-10)),
            bind(&[Key::Code(KeyCode::PageDown)], "", "", DoneMsg::Scroll(10)),
        ]
    }

    pub fn update(&mut self, m: DoneMsg) {
        let DoneMsg::Scroll(by) = m;
        self.scroll = self.scroll.saturating_add_signed(by);
    }

    /// Whether the confirmation the outcome waits for arrived, or the watchdog rolled the
    /// generation back: its pending record is gone, and the generation says which.
    pub fn watch(&mut self, o: &Outcome, root: &crate::target::Root) {
        let (Some(_), Some(n), None) = (&o.next, o.report.generation, self.settled) else { return };
        let store = crate::apply::Store::new(root);
        if !matches!(store.pending(), Ok(None)) {
            return;
        }
        use crate::apply::store::GenerationState as G;
        self.settled = match store.generations() {
            Ok(g) => match g.iter().find(|g| g.manifest.number == n).map(|g| g.state) {
                Some(G::Committed) => Some(Settled::Confirmed),
                Some(G::RolledBack) => Some(Settled::RolledBack),
                _ => None,
            },
            Err(_) => None,
        };
    }

    pub fn draw(&self, o: &Outcome, now: u64, f: &mut Frame, area: Rect, theme: Theme) {
        let all = crate::report::outcome(o, now);
        // The next step starts at its blank line before the `Next:` line.
        let split =
            all.iter().position(|l| l.tone == crate::report::Tone::Next).map_or(all.len(), |i| i.saturating_sub(1));
        let (body, next) = all.split_at(split);
        let settled = |text: &str| vec![theme.line(&crate::report::Line::new(crate::report::Tone::Next, text))];
        let next: Vec<Line> = match self.settled.filter(|_| !next.is_empty()) {
            Some(Settled::Confirmed) => {
                settled("Confirmed from a new login: the change stays, nothing rolls back by itself. q quits.")
            }
            Some(Settled::RolledBack) => settled(
                "Not confirmed in time: everything this apply changed was rolled back by itself. `clawguard status` says what; q quits.",
            ),
            None => next.iter().map(|l| theme.line(l)).collect(),
        };
        let width = area.width.max(1) as usize;
        let rows = |ls: &[Line]| ls.iter().map(|l| l.width().max(1).div_ceil(width)).sum::<usize>() as u16;
        let mut body: Vec<Line> = body.iter().map(|l| theme.line(l)).collect();
        // All of it fits: one page, the next step right under the rest.
        if rows(&body) + rows(&next) < area.height {
            body.extend(next);
            f.render_widget(Paragraph::new(body).wrap(Wrap { trim: false }).block(Block::new().title(" Done ")), area);
            return;
        }
        let pinned = rows(&next).min(area.height.saturating_sub(3));
        let [top, bottom] = Layout::vertical([Constraint::Min(2), Constraint::Length(pinned)]).areas(area);
        let overflow = rows(&body).saturating_sub(top.height.saturating_sub(1));
        let scroll = self.scroll.min(overflow);
        let title = if overflow > 0 { " Done — ↑↓ scroll " } else { " Done " };
        f.render_widget(
            Paragraph::new(body).wrap(Wrap { trim: false }).scroll((scroll, 0)).block(Block::new().title(title)),
            top,
        );
        f.render_widget(Paragraph::new(next).wrap(Wrap { trim: false }), bottom);
    }
}
