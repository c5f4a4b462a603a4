//! Apply and Done: the one apply path (`apply::session::run`) in a thread, its progress
//! as gauges and a log (✓ done, ✗ the step that failed), then the core's outcome lines —
//! the same `clawguard apply` prints.

use std::sync::mpsc::{Receiver, TryRecvError};

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Block, Gauge, Paragraph, Wrap};

use super::theme::Theme;
use crate::apply::Event;
use crate::apply::session::{self, Outcome, Request};

enum Msg {
    Progress(Event),
    Finished(Box<Result<Outcome, String>>),
}

pub struct Progress {
    rx: Option<Receiver<Msg>>,
    pub total: usize,
    pub done: usize,
    pub current: String,
    /// The steps started, in order.
    pub log: Vec<String>,
    pub result: Option<Result<Outcome, String>>,
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
            let result = session::run(&req, &mut progress).map_err(|e| e.to_string());
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
        result: Option<Result<Outcome, String>>,
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
                    self.result = Some(Err("the apply stopped without a word (its thread ended)".into()));
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
            lines.extend(e.lines().map(|l| Line::styled(l.to_owned(), red)));
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

/// The Done screen: the outcome, as `clawguard apply` prints it, with the time left.
pub fn draw_done(o: &Outcome, now: u64, f: &mut Frame, area: Rect, theme: Theme) {
    let lines: Vec<Line> = crate::report::outcome(o, now).iter().map(|l| theme.line(l)).collect();
    f.render_widget(Paragraph::new(lines).wrap(Wrap { trim: false }).block(Block::new().title(" Done ")), area);
}
