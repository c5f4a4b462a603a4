//! The full-screen wizard: terminal setup and restore (also on panic and Ctrl-C), and the
//! event loop that feeds keys to the [`app::App`] and draws it.

pub mod app;
pub mod bindings;
pub mod draw;
pub mod form;
pub mod progress;
pub mod review;
pub mod theme;

use std::io;
use std::time::Duration;

use crossterm::event::{self, Event as TermEvent, KeyEventKind};
use crossterm::execute;
use crossterm::terminal::{EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode};
use ratatui::Terminal;
use ratatui::backend::CrosstermBackend;

pub use app::App;

fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(io::stdout(), LeaveAlternateScreen, crossterm::cursor::Show);
}

/// Runs the wizard until the user quits. The terminal is restored however it ends.
pub fn run(mut app: App) -> io::Result<App> {
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        hook(info);
    }));
    enable_raw_mode()?;
    execute!(io::stdout(), EnterAlternateScreen, crossterm::cursor::Hide)?;
    let result = (|| {
        let mut terminal = Terminal::new(CrosstermBackend::new(io::stdout()))?;
        terminal.clear()?;
        while !app.quit {
            app.tick();
            terminal.draw(|f| draw::draw(&app, f))?;
            if event::poll(Duration::from_millis(250))? {
                match event::read()? {
                    TermEvent::Key(k) if k.kind != KeyEventKind::Release => app.on_key(k),
                    TermEvent::Resize(..) => terminal.autoresize()?,
                    _ => {}
                }
            }
        }
        Ok(())
    })();
    restore();
    let _ = std::panic::take_hook();
    result.map(|_| app)
}
