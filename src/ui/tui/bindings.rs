//! Key bindings as data. Each component lists its bindings; the same list decides what a
//! key does, fills the footer and the Help dialog — so the three cannot disagree.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// A key a binding answers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// The key without Ctrl or Alt (Shift is part of the key: BackTab, `?`).
    Code(KeyCode),
    Ctrl(char),
}

impl Key {
    fn matches(self, e: &KeyEvent) -> bool {
        let ctrl = e.modifiers.intersects(KeyModifiers::CONTROL | KeyModifiers::ALT);
        match self {
            Key::Ctrl(c) => e.modifiers.contains(KeyModifiers::CONTROL) && e.code == KeyCode::Char(c),
            Key::Code(code) => !ctrl && e.code == code,
        }
    }
}

pub const ENTER: Key = Key::Code(KeyCode::Enter);
pub const ESC: Key = Key::Code(KeyCode::Esc);
pub const TAB: Key = Key::Code(KeyCode::Tab);
pub const BACKTAB: Key = Key::Code(KeyCode::BackTab);
pub const UP: Key = Key::Code(KeyCode::Up);
pub const DOWN: Key = Key::Code(KeyCode::Down);
pub const LEFT: Key = Key::Code(KeyCode::Left);
pub const RIGHT: Key = Key::Code(KeyCode::Right);
pub const F1: Key = Key::Code(KeyCode::F(1));

pub const fn ch(c: char) -> Key {
    Key::Code(KeyCode::Char(c))
}

/// What a set of keys does.
#[derive(Debug, Clone)]
pub struct Binding<A> {
    pub keys: Vec<Key>,
    /// How the footer and Help name the keys: "Tab/↓".
    pub label: &'static str,
    pub does: &'static str,
    pub act: A,
}

/// A binding; `label` empty keeps it out of the footer and Help (a key that only repeats
/// another, such as ↓ next to Tab).
pub fn bind<A>(keys: &[Key], label: &'static str, does: &'static str, act: A) -> Binding<A> {
    Binding { keys: keys.to_vec(), label, does, act }
}

/// The first binding that answers to `e`.
pub fn find<A: Clone>(bindings: &[Binding<A>], e: &KeyEvent) -> Option<A> {
    bindings.iter().find(|b| b.keys.iter().any(|k| k.matches(e))).map(|b| b.act.clone())
}

/// What the footer and Help show: (keys, what they do), without the unlabelled ones.
pub fn hints<A>(bindings: &[Binding<A>]) -> Vec<(&'static str, &'static str)> {
    bindings.iter().filter(|b| !b.label.is_empty()).map(|b| (b.label, b.does)).collect()
}

/// Packs hints into rows of `width` columns, never breaking one; what does not fit in
/// `rows` is left out (Help lists everything). Each row is a list of hints.
pub fn pack(
    hints: &[(&'static str, &'static str)],
    width: usize,
    rows: usize,
) -> Vec<Vec<(&'static str, &'static str)>> {
    let mut out: Vec<Vec<_>> = vec![Vec::new()];
    let mut used = 0;
    for &(k, d) in hints {
        let w = hint_width(k, d);
        if used + w > width && !out.last().is_some_and(Vec::is_empty) {
            if out.len() == rows {
                break;
            }
            out.push(Vec::new());
            used = 0;
        }
        out.last_mut().expect("one row").push((k, d));
        used += w;
    }
    out
}

/// Columns a hint takes in the footer: " key " then " does  ".
pub fn hint_width(key: &str, does: &str) -> usize {
    let key = if key.is_empty() { 0 } else { key.chars().count() + 2 };
    key + does.chars().count() + 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints_are_packed_whole_into_the_rows() {
        let hints = [("Tab/↓", "next"), ("S-Tab/↑", "previous"), ("Enter", "go on"), ("Esc", "back"), ("F1", "help")];
        let rows = pack(&hints, 30, 2);
        assert_eq!(rows.len(), 2);
        for row in &rows {
            assert!(row.iter().map(|(k, d)| hint_width(k, d)).sum::<usize>() <= 30, "{rows:?}");
        }
        assert_eq!(rows.concat(), hints[..rows.concat().len()].to_vec());
    }

    #[test]
    fn a_binding_is_found_by_its_keys_and_ctrl_is_not_the_plain_key() {
        let b = vec![bind(&[ch('q')], "q", "quit", 1), bind(&[Key::Ctrl('q')], "^Q", "quit now", 2)];
        assert_eq!(find(&b, &KeyEvent::new(KeyCode::Char('q'), KeyModifiers::NONE)), Some(1));
        assert_eq!(find(&b, &KeyEvent::new(KeyCode::Char('q'), KeyModifiers::CONTROL)), Some(2));
        assert_eq!(find(&b, &KeyEvent::new(KeyCode::Char('x'), KeyModifiers::NONE)), None);
    }
}
