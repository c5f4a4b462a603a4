//! Colours, and the wizard's renderer of the core's report lines (the other renderer is
//! `report::ansi`). With NO_COLOR only bold and reverse stay.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};

use crate::report::{self, Tone};

#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    /// `s`, or only its modifiers without colour.
    pub fn paint(&self, s: Style) -> Style {
        if self.color { s } else { Style::default().add_modifier(s.add_modifier) }
    }

    pub fn bold(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    fn tone(&self, t: Tone) -> Style {
        let bold = Modifier::BOLD;
        self.paint(match t {
            Tone::Plain => Style::new(),
            Tone::Heading | Tone::DiffHeader | Tone::Command => Style::new().add_modifier(bold),
            Tone::Added => Style::new().fg(Color::Green),
            Tone::Removed => Style::new().fg(Color::Red),
            Tone::Hunk => Style::new().fg(Color::Cyan),
            Tone::Note => Style::new().fg(Color::Gray),
            Tone::Warning => Style::new().fg(Color::Yellow).add_modifier(bold),
            Tone::Danger => Style::new().fg(Color::Red).add_modifier(bold),
            Tone::Next => Style::new().fg(Color::Yellow).add_modifier(bold),
        })
    }

    /// One report line: a tag in its tone, then the text; a line without a tag in its tone.
    pub fn line(&self, l: &report::Line) -> Line<'static> {
        match l.tag {
            Some(tag) => Line::from(vec![
                Span::styled(tag, self.tone(l.tone)),
                Span::raw(format!(" {}", crate::sink::terminal_line(&l.text))),
            ]),
            None => Line::styled(crate::sink::terminal_line(&l.text).into_owned(), self.tone(l.tone)),
        }
    }
}
