//! The real binary in a real terminal: a tmux session of a given size, keys sent with
//! `send-keys`, the screen read with `capture-pane`. The session is killed on drop.

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static NEXT: AtomicU32 = AtomicU32::new(0);

pub struct Tmux {
    pub name: String,
}

fn tmux(args: &[&str]) -> String {
    let o = Command::new("tmux").args(args).output().expect("tmux is not installed (scripts/test installs it)");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

impl Tmux {
    /// Starts `command` (a shell command line) in a detached session of `w`×`h`. The
    /// session stays after the command ends, so its last screen can be read.
    pub fn start(command: &str, w: u16, h: u16) -> Tmux {
        let name = format!("cg-{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::SeqCst));
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", &name, "-x", &w.to_string(), "-y", &h.to_string()])
            .arg(format!("{command}; echo '[exited]'; sleep 600"))
            .env_remove("SSH_CONNECTION")
            .status()
            .expect("tmux is not installed (scripts/test installs it)");
        assert!(status.success(), "tmux could not start");
        Tmux { name }
    }

    /// Sends keys as tmux names them (`Enter`, `Tab`, `C-u`, `BSpace`) or literal text.
    pub fn keys(&self, keys: &[&str]) {
        for k in keys {
            tmux(&["send-keys", "-t", &self.name, k]);
            std::thread::sleep(Duration::from_millis(60));
        }
    }

    /// Literal text, never interpreted as key names.
    pub fn text(&self, text: &str) {
        // `--` ends the options: text starting with `-` is still text.
        tmux(&["send-keys", "-t", &self.name, "-l", "--", text]);
        std::thread::sleep(Duration::from_millis(60));
    }

    pub fn screen(&self) -> String {
        tmux(&["capture-pane", "-p", "-t", &self.name])
    }

    /// The screen with its colour and style escape sequences.
    pub fn screen_escaped(&self) -> String {
        tmux(&["capture-pane", "-p", "-e", "-t", &self.name])
    }

    /// The screen and everything that scrolled off it.
    pub fn history(&self) -> String {
        tmux(&["capture-pane", "-p", "-S", "-", "-t", &self.name])
    }

    pub fn resize(&self, w: u16, h: u16) {
        tmux(&["resize-window", "-t", &self.name, "-x", &w.to_string(), "-y", &h.to_string()]);
    }

    /// Waits until the screen shows `text`; the screen on timeout.
    pub fn wait_for(&self, text: &str, secs: u64) -> String {
        let t = Instant::now();
        loop {
            let s = self.screen();
            if s.contains(text) {
                return s;
            }
            assert!(t.elapsed() < Duration::from_secs(secs), "timed out waiting for {text:?}; the screen:\n{s}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        tmux(&["kill-session", "-t", &self.name]);
    }
}
