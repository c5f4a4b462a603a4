//! The Review: the plan on one screen first (`report::summary`: what apply refuses, then
//! what changes in each layer, in words); `d` opens the core's full report with every diff
//! (`report::review`, the same lines `clawguard plan` prints), scrolled a line at a time or
//! a file at a time; long lines wrap.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Text;
use ratatui::widgets::{Block, Paragraph, Wrap};

use super::bindings::{Binding, DOWN, ENTER, ESC, Key, UP, bind, ch};
use super::theme::Theme;
use crate::answers::Layer;
use crate::plan::preview;
use crate::report::{self, Line, Tone};
use crate::session::Request;
use crossterm::event::KeyCode;

#[derive(Debug, Clone, Default)]
pub struct Review {
    /// Every diff (`d`).
    pub lines: Vec<Line>,
    /// One screen, shown first (empty: the plan could not be made; `lines` say why).
    pub summary: Vec<Line>,
    /// The diffs are shown, not the summary.
    pub detail: bool,
    pub scroll: usize,
    pub changes: usize,
    /// Why apply would refuse, in one line (the lines say it in full).
    pub blocker: Option<String>,
    /// How many whole lines the last frame showed: a page. Long lines wrap, so a page of
    /// a fixed count would skip the lines that did not fit.
    page: std::cell::Cell<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Msg {
    Down,
    Up,
    PageDown,
    PageUp,
    Top,
    Bottom,
    NextFile,
    PrevFile,
    GoToLayer,
    Diffs,
    Apply,
    Save,
    Back,
}

/// What the wizard does after a key on the Review.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Stay,
    Layer(Layer),
    Apply,
    Save,
    Back,
}

impl Review {
    /// The review of what `req` would do; `dry_run` says nothing will be written.
    pub fn of(req: &Request, dry_run: bool) -> Review {
        let mut r = Review::default();
        if let Err(m) = req.answers.check() {
            let text = format!("`{}`: {}", m.field(), m.message);
            r.lines.push(Line::tagged(Tone::Danger, "Cannot plan yet:", text.clone()));
            r.blocker = Some(text);
            return r;
        }
        let plan = match req.plan() {
            Ok(p) => p,
            Err(e) => {
                r.blocker = Some(e.to_string());
                r.lines.push(Line::tagged(Tone::Danger, "Cannot plan:", e.to_string()));
                return r;
            }
        };
        let p = preview::preview(&plan, &req.root);
        r.changes = p.change_count();
        r.blocker = plan.blockers.first().map(|b| b.text.clone());
        r.lines.push(Line::new(
            Tone::Heading,
            match (r.changes, dry_run, &r.blocker) {
                (0, _, _) => "No changes: the host already matches these answers.".to_owned(),
                (n, true, _) => format!("{n} change(s). Dry run: nothing will be written."),
                (n, false, Some(_)) => format!("{n} change(s). Apply refuses until the DANGER below is fixed."),
                (n, false, None) => format!("{n} change(s). Press a to apply."),
            },
        ));
        if !req.keys.is_empty() {
            let names: Vec<&str> = req.keys.keys().map(String::as_str).collect();
            let when = if dry_run {
                "a dry run stores nothing; they are forgotten on exit."
            } else {
                "stored encrypted in the vault when you apply."
            };
            r.lines.push(Line {
                layer: Some(Layer::Credentials),
                ..Line::new(Tone::Plain, format!("Keys entered for {}: {when}", names.join(", ")))
            });
        }
        r.summary = r.lines.clone();
        r.summary.extend(report::summary(&p));
        r.summary.push(Line::new(
            Tone::Plain,
            "d shows every file's diff and every command; Enter opens a layer's answers.",
        ));
        r.lines.extend(report::review(&p));
        r
    }

    /// The lines on screen: the summary, or every diff.
    pub fn shown(&self) -> &[Line] {
        if self.detail || self.summary.is_empty() { &self.lines } else { &self.summary }
    }

    pub fn bindings(&self, dry_run: bool) -> Vec<Binding<Msg>> {
        let mut b = vec![
            bind(&[DOWN], "↑↓", "scroll", Msg::Down),
            bind(&[UP], "", "scroll", Msg::Up),
            bind(&[Key::Code(KeyCode::PageDown), ch(' ')], "PgDn/PgUp", "page", Msg::PageDown),
            bind(&[Key::Code(KeyCode::PageUp)], "", "page", Msg::PageUp),
            bind(&[Key::Code(KeyCode::Home)], "", "top", Msg::Top),
            bind(&[Key::Code(KeyCode::End)], "", "bottom", Msg::Bottom),
            bind(&[ch('d')], "d", if self.detail { "summary" } else { "every diff" }, Msg::Diffs),
            bind(&[ch('n')], "n/p", "next/prev file", Msg::NextFile),
            bind(&[ch('p')], "", "previous file", Msg::PrevFile),
            bind(&[ENTER], "Enter", "go to layer", Msg::GoToLayer),
        ];
        if !dry_run {
            b.push(bind(&[ch('a')], "a", "apply", Msg::Apply));
        }
        b.push(bind(&[ch('s')], "s", "save answers", Msg::Save));
        b.push(bind(&[ESC], "Esc", "back", Msg::Back));
        b
    }

    pub fn update(&mut self, msg: Msg) -> Step {
        let max = self.shown().len().saturating_sub(1);
        let starts = || {
            self.shown()
                .iter()
                .enumerate()
                .filter(|(_, l)| l.starts_file)
                .map(|(i, _)| i)
                .collect::<Vec<_>>()
                .into_iter()
        };
        match msg {
            Msg::Down => self.scroll = (self.scroll + 1).min(max),
            Msg::Up => self.scroll = self.scroll.saturating_sub(1),
            Msg::PageDown => self.scroll = (self.scroll + self.page()).min(max),
            Msg::PageUp => self.scroll = self.scroll.saturating_sub(self.page()),
            Msg::Top => self.scroll = 0,
            Msg::Bottom => self.scroll = max,
            Msg::NextFile => self.scroll = starts().find(|s| *s > self.scroll).unwrap_or(self.scroll),
            Msg::PrevFile => self.scroll = starts().rfind(|s| *s < self.scroll).unwrap_or(self.scroll),
            Msg::Diffs => {
                self.detail = !self.detail;
                self.scroll = 0;
            }
            Msg::GoToLayer => {
                if let Some(l) = self.shown().iter().skip(self.scroll).find_map(|l| l.layer) {
                    return Step::Layer(l);
                }
            }
            Msg::Apply => return Step::Apply,
            Msg::Save => return Step::Save,
            Msg::Back => return Step::Back,
        }
        Step::Stay
    }

    /// Lines a page moves by: those the last frame showed whole (15 before any frame).
    fn page(&self) -> usize {
        match self.page.get() {
            0 => 15,
            n => n,
        }
    }

    /// From the line at the top, wrapped to the width.
    pub fn draw(&self, f: &mut Frame, area: Rect, theme: Theme) {
        let title = match self.detail || self.summary.is_empty() {
            true => format!(
                " Review — {} change(s) · every diff · line {}/{} ",
                self.changes,
                self.scroll + 1,
                self.lines.len()
            ),
            false => format!(" Review — {} change(s) · summary (d: every diff) ", self.changes),
        };
        let shown: Vec<_> =
            self.shown().iter().skip(self.scroll).take(area.height as usize).map(|l| theme.line(l)).collect();
        // The title takes a row; count the lines whose every wrapped row is on screen.
        let mut rows = 0;
        let whole = shown
            .iter()
            .take_while(|l| {
                rows += Paragraph::new((*l).clone()).wrap(Wrap { trim: false }).line_count(area.width).max(1);
                rows <= area.height.saturating_sub(1) as usize
            })
            .count();
        self.page.set(whole.max(1));
        f.render_widget(
            Paragraph::new(Text::from(shown)).wrap(Wrap { trim: false }).block(Block::new().title(title)),
            area,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    /// Paging through lines that wrap shows every line: none falls between two pages.
    #[test]
    fn a_page_of_wrapped_lines_skips_none() {
        let mut r = Review::default();
        for i in 0..60 {
            let text = if i % 3 == 0 {
                format!("line {i} {}", "long words wrap here ".repeat(6))
            } else {
                format!("line {i}")
            };
            r.lines.push(Line::new(Tone::Plain, text));
        }
        let mut term = Terminal::new(TestBackend::new(40, 12)).unwrap();
        let mut seen = std::collections::BTreeSet::new();
        for _ in 0..40 {
            term.draw(|f| r.draw(f, f.area(), Theme { color: false })).unwrap();
            let screen: String = term.backend().buffer().content().iter().map(|c| c.symbol()).collect();
            for i in 0..60 {
                if screen.contains(&format!("line {i} ")) {
                    seen.insert(i);
                }
            }
            r.update(Msg::PageDown);
        }
        let missing: Vec<_> = (0..60).filter(|i| !seen.contains(i)).collect();
        assert!(missing.is_empty(), "never on screen: {missing:?}");
    }
}
