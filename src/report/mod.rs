//! What clawguard tells the user, as typed lines built once here: the review of a plan
//! ([`review`]) and the outcome of an apply ([`outcome`]). Two thin renderers draw them:
//! [`ansi`] for the commands and `--plain`, and the wizard's ratatui one
//! (`ui::tui::draw`). A front end never formats a diff, a tag or a next step itself.

mod status;

use std::fmt::Write as _;

use crate::plan::preview::{FileChange, Preview, shell_words};
use crate::plan::{Layer, Phase, Severity};
use crate::session::Outcome;

pub use status::status;

/// What a line is, which is how each renderer colours it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    /// A section or a summary: bold.
    Heading,
    /// A diff's `---`/`+++` header.
    DiffHeader,
    Added,
    Removed,
    Hunk,
    Note,
    Warning,
    /// What will make apply refuse, or what was not applied.
    Danger,
    /// What to type next: bold.
    Command,
    /// What the user must do next: yellow, bold.
    Next,
}

/// One line of a report: an optional tag (`DANGER:`, `run:`) in the line's tone, then text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub tone: Tone,
    pub tag: Option<&'static str>,
    pub text: String,
    /// The layer the line belongs to (the wizard jumps there).
    pub layer: Option<Layer>,
    /// The first line of a file's diff (the wizard's next/previous file).
    pub starts_file: bool,
}

impl Line {
    pub fn new(tone: Tone, text: impl Into<String>) -> Line {
        Line { tone, tag: None, text: text.into(), layer: None, starts_file: false }
    }
    pub fn tagged(tone: Tone, tag: &'static str, text: impl Into<String>) -> Line {
        Line { tag: Some(tag), ..Line::new(tone, text) }
    }
    fn of(mut self, layer: Option<Layer>) -> Line {
        self.layer = layer;
        self
    }
}

fn severity(s: Severity) -> (Tone, &'static str) {
    match s {
        Severity::Note => (Tone::Note, "  note:"),
        Severity::Warning => (Tone::Warning, "  warning:"),
        Severity::Danger => (Tone::Danger, "  DANGER:"),
    }
}

/// The plan against the target, as `clawguard plan` prints it and the wizard's Review
/// shows it. What makes apply refuse comes first, before any diff.
pub fn review(p: &Preview) -> Vec<Line> {
    let mut out = Vec::new();
    if !p.plan.blockers.is_empty() {
        out.push(Line::new(Tone::Danger, "Apply refuses this plan until these are fixed:"));
        for b in &p.plan.blockers {
            out.push(Line::tagged(Tone::Danger, "DANGER:", format!("[{}] {}", b.layer, b.text)).of(Some(b.layer)));
        }
        out.push(Line::new(Tone::Plain, ""));
    }
    let prepare: Vec<_> = p.commands.iter().filter(|c| c.phase == Phase::Prepare).collect();
    if !prepare.is_empty() {
        out.push(Line::new(Tone::Heading, "== Before anything is checked or written =="));
        for c in prepare {
            out.push(Line::tagged(Tone::Heading, "  run:", format!("{}   # {}", shell_words(&c.argv), c.why)));
        }
        out.push(Line::new(Tone::Plain, ""));
    }
    let sections = Layer::ALL.into_iter().map(Some).chain([None]);
    for layer in sections {
        let files: Vec<_> = p.files.iter().filter(|f| f.step.layer == layer).collect();
        let Some(layer) = layer else {
            // clawguard's own answers: shown only when they change.
            for f in files.iter().filter(|f| f.change != FileChange::Unchanged) {
                out.push(Line::new(Tone::Heading, "== The answers, kept for the next run and the daily check =="));
                file_lines(&mut out, f, None);
            }
            continue;
        };
        let at = Some(layer);
        let commands: Vec<_> = p.commands.iter().filter(|c| c.layer == layer && c.phase == Phase::Activate).collect();
        let packages: Vec<_> = p.plan.packages.iter().filter(|k| k.layer == layer).collect();
        out.push(Line::new(Tone::Heading, format!("== {layer} ==")).of(at));
        for f in &files {
            file_lines(&mut out, f, at);
        }
        for k in &packages {
            out.push(Line::tagged(Tone::Heading, "  install:", format!("{}   # {}", k.name, k.why)).of(at));
        }
        for c in &commands {
            out.push(Line::tagged(Tone::Heading, "  run:", format!("{}   # {}", shell_words(&c.argv), c.why)).of(at));
        }
        for w in p.plan.warnings.iter().filter(|w| w.layer == layer) {
            let (tone, tag) = severity(w.severity);
            out.push(Line { tag: Some(tag), ..Line::new(tone, w.text.clone()) }.of(at));
        }
        if files.iter().all(|f| f.change == FileChange::Unchanged) && commands.is_empty() && packages.is_empty() {
            out.push(Line::new(Tone::Plain, "  nothing to change").of(at));
        }
        out.push(Line::new(Tone::Plain, "").of(at));
    }
    let n = p.change_count();
    out.push(Line::new(
        Tone::Heading,
        if n == 0 {
            "No changes: the host matches the answers.".to_owned()
        } else {
            format!("{n} change(s) would be made. Nothing was written.")
        },
    ));
    out
}

/// The plan on one screen: what apply refuses, then one line per layer saying what
/// changes in words (files, what is installed or pulled, SSH's move), with its warnings.
/// The diffs are [`review`]'s.
pub fn summary(p: &Preview) -> Vec<Line> {
    let mut out = Vec::new();
    for b in &p.plan.blockers {
        out.push(Line::tagged(Tone::Danger, "DANGER:", format!("[{}] {}", b.layer, b.text)).of(Some(b.layer)));
    }
    let n = p.change_count();
    if n == 0 {
        out.push(Line::new(Tone::Heading, "No changes: the host matches the answers."));
        return out;
    }
    if !p.plan.packages.is_empty() && p.commands.iter().any(|c| c.phase == Phase::Prepare) {
        let names: Vec<&str> = p.plan.packages.iter().map(|k| k.name.as_str()).collect();
        out.push(Line::tagged(Tone::Heading, "First:", format!("install {}", names.join(", "))));
    }
    for layer in Layer::ALL {
        let at = Some(layer);
        let files: Vec<_> =
            p.files.iter().filter(|f| f.step.layer == at && f.change != FileChange::Unchanged).collect();
        let commands: Vec<_> = p.commands.iter().filter(|c| c.layer == layer && c.phase == Phase::Activate).collect();
        let mut what = Vec::new();
        let new = files.iter().filter(|f| f.change == FileChange::New).count();
        match (new, files.len() - new) {
            (0, 0) => {}
            (n, 0) => what.push(format!("{n} new file(s)")),
            (0, c) => what.push(format!("{c} file(s) changed")),
            (n, c) => what.push(format!("{n} new file(s), {c} changed")),
        }
        if let Some(pull) = commands.iter().find(|c| c.argv.get(1).is_some_and(|a| a == "pull")) {
            what.push(pull.why.clone());
        }
        if layer == Layer::Ssh
            && let Some(m) = &p.plan.ssh_move
            && files.iter().any(|f| f.step.path == crate::layers::ssh::DROPIN)
        {
            what.push(if m.interim {
                format!(
                    "SSH moves to port {} ({} stays open until you confirm from a new login)",
                    m.new_port,
                    ports(&m.old_ports)
                )
            } else {
                format!("SSH moves to port {}", m.new_port)
            });
        }
        if !commands.is_empty() {
            what.push(format!("{} command(s)", commands.len()));
        }
        let warned =
            p.plan.warnings.iter().filter(|w| w.layer == layer && w.severity >= crate::plan::Severity::Warning).count();
        let tone = match (warned, what.is_empty()) {
            (0, true) => Tone::Plain,
            (0, false) => Tone::Heading,
            _ => Tone::Warning,
        };
        let mut text = if what.is_empty() { "no change".to_owned() } else { what.join("; ") };
        if warned > 0 {
            text.push_str(&format!("; {warned} warning(s), with the diffs"));
        }
        out.push(Line::new(tone, format!("{layer}: {text}")).of(at));
    }
    out.push(Line::new(Tone::Heading, format!("{n} change(s) in all.")));
    out
}

fn ports(ports: &[u16]) -> String {
    let p: Vec<String> = ports.iter().map(u16::to_string).collect();
    match p.len() {
        0 => "the old port".to_owned(),
        1 => format!("port {}", p[0]),
        _ => format!("ports {}", p.join(", ")),
    }
}

fn file_lines(out: &mut Vec<Line>, f: &crate::plan::preview::FileDiff, layer: Option<Layer>) {
    let what = match f.change {
        FileChange::New => format!("new file, mode {:o}, {}", f.step.mode, f.step.owner),
        FileChange::Changed => "changed".to_owned(),
        FileChange::Mode { from } => format!("mode {from:o} -> {:o}", f.step.mode),
        FileChange::Unreadable => "cannot be read without root: not compared; run with sudo to see its diff".to_owned(),
        FileChange::Refused(why) => format!("REFUSED: {}", why.explain("it")),
        FileChange::Unchanged => "unchanged".to_owned(),
    };
    let check = f.step.validator.as_ref().map(|v| format!("  [checked by {}]", v.name())).unwrap_or_default();
    let tone = if matches!(f.change, FileChange::Refused(_)) { Tone::Danger } else { Tone::Plain };
    out.push(
        Line {
            starts_file: f.change != FileChange::Unchanged,
            ..Line::new(tone, format!("  {} ({what}){check}", f.step.path))
        }
        .of(layer),
    );
    if f.plaintext_keys {
        out.push(
            Line::tagged(
                Tone::Warning,
                "WARNING:",
                format!(
                    "{} holds what looks like a key in plaintext (masked above): put it in the vault (`sudo clawguard secrets set NAME`, or `secrets import` for a .env) and take it out of the file — the vault hands it to the agent as a file",
                    f.step.path
                ),
            )
            .of(layer),
        );
    }
    diff_lines(out, &f.diff, layer);
}

/// A unified diff, each line in its tone.
fn diff_lines(out: &mut Vec<Line>, diff: &str, layer: Option<Layer>) {
    for l in diff.lines() {
        let tone = if l.starts_with("+++") || l.starts_with("---") {
            Tone::DiffHeader
        } else if l.starts_with('+') {
            Tone::Added
        } else if l.starts_with('-') {
            Tone::Removed
        } else if l.starts_with("@@") {
            Tone::Hunk
        } else {
            Tone::Plain
        };
        out.push(Line::new(tone, format!("    {l}")).of(layer));
    }
}

/// What `clawguard uninstall` will do, before it asks: each file it puts back as a diff
/// from what is there to what was there before clawguard, the commands that take back
/// what clawguard ran, how SSH gets back to its old port(s), and what is kept or lost.
pub fn uninstall(r: &crate::uninstall::Restoration, move_back: Option<(&[u16], &[u16])>, purge: bool) -> Vec<Line> {
    use crate::uninstall::Original;
    let mut out = vec![Line::new(Tone::Heading, "== Files put back as they were before clawguard ==")];
    let changing: Vec<_> = r.changing().collect();
    if changing.is_empty() {
        out.push(Line::new(Tone::Plain, "  (every file is already as it was)"));
    }
    for f in changing {
        let what = match (&f.original, &f.current) {
            (Original::Absent, _) => "clawguard created it: removed".to_owned(),
            (Original::Content { mode, .. }, None) => format!("gone now: written back, mode {mode:o}"),
            (Original::Content { mode, .. }, Some(_)) if f.edited => {
                format!("restored, mode {mode:o}; it was edited since clawguard wrote it, and those edits go too")
            }
            (Original::Content { mode, .. }, Some(_)) => format!("restored, mode {mode:o}"),
        };
        out.push(Line { starts_file: true, ..Line::new(Tone::Plain, format!("  {} ({what})", f.path)) });
        diff_lines(&mut out, &f.diff(), None);
    }
    for f in r.kept() {
        out.push(Line::tagged(Tone::Note, "  note:", format!("{} stays as it is: clawguard created it, and it was changed since (yours now). Remove it yourself if you do not want it.", f.path)));
    }
    if !r.undo.is_empty() {
        out.push(Line::new(Tone::Plain, ""));
        out.push(Line::new(Tone::Heading, "== Commands that take back what clawguard ran (newest first) =="));
        for u in &r.undo {
            out.push(Line::tagged(
                Tone::Command,
                "run:",
                format!("{}    (takes back: {})", shell_words(&u.argv), shell_words(&u.undoes)),
            ));
        }
    }
    out.push(Line::new(Tone::Plain, ""));
    if let Some((now, before)) = move_back {
        let list = |p: &[u16]| p.iter().map(u16::to_string).collect::<Vec<_>>().join(", ");
        out.push(Line::new(Tone::Heading, "== SSH, in two steps =="));
        out.push(Line::tagged(Tone::Warning, "  warning:", format!(
            "sshd listens on port {} now and listened on {} before clawguard. First it listens on both (the firewall lets both in); then you log in on port {} from a new terminal and run `sudo clawguard confirm`, and only that puts everything above back. Without that login in time, the first step is rolled back by itself and clawguard stays.",
            list(now), list(before), before[0]
        )));
        out.push(Line::new(Tone::Plain, ""));
    }
    if purge {
        out.push(Line::tagged(Tone::Danger, "  DANGER:", "--purge: the vault (the agent's keys, which may exist nowhere else), its identity, the backups' SSH key, incident evidence and the agent's data (OpenClaw's own archives, the agent's logs, its project's Docker volumes) are removed too. The off-server backups can then be opened only with the recovery kit's passphrase."));
    } else {
        out.push(Line::tagged(Tone::Note, "  note:", "Kept: the vault (/etc/clawguard/vault) and its identity, the backups' SSH key and incident evidence under /var/lib/clawguard, the agent's data (OpenClaw's own archives, the agent's logs); the off-server backups are not touched. `--purge` removes these too."));
    }
    out
}

/// What an apply did and what the user does next, the same in every front end. `now`
/// (seconds since the epoch) gives the time left to confirm.
pub fn outcome(o: &Outcome, now: u64) -> Vec<Line> {
    let r = &o.report;
    let mut out = Vec::new();
    for line in &r.recovered {
        out.push(Line::new(Tone::Plain, format!("recovered: {line}")));
    }
    if let Some(n) = r.installed {
        out.push(Line::new(Tone::Plain, format!("Installed the packages the plan needs (generation {n}).")));
    }
    out.push(Line::new(
        Tone::Heading,
        match r.generation {
            None if !r.not_applied.is_empty() => "Nothing else was changed.".to_owned(),
            None if r.skipped.is_empty() => "0 changes: the target already matches the answers.".to_owned(),
            None => "0 files changed.".to_owned(),
            Some(n) => {
                format!("Applied generation {n}: {} file(s) written, {} command(s) run.", r.written.len(), r.ran.len())
            }
        },
    ));
    out.extend(r.written.iter().map(|f| Line::new(Tone::Plain, format!("  wrote {f}"))));
    out.extend(r.ran.iter().map(|c| Line::new(Tone::Plain, format!("  ran   {c}"))));
    for (layers, why) in &r.not_applied {
        let names: Vec<String> = layers.iter().map(|l| l.to_string()).collect();
        out.push(Line::tagged(Tone::Danger, "NOT APPLIED:", format!("{}: {why}", names.join(" and "))));
        out.push(Line::new(Tone::Plain, "  The rest is applied. Fix that, then run `sudo clawguard apply` again."));
    }
    if !r.skipped.is_empty() {
        out.push(Line::new(
            Tone::Plain,
            format!(
                "Not run, because the target is {} and not this system (run them there, or give --runner):",
                o.target
            ),
        ));
        out.extend(r.skipped.iter().map(|c| Line::new(Tone::Plain, format!("  skipped {c}"))));
    }
    if let Some(why) = &o.kit {
        out.push(Line::tagged(Tone::Danger, "RECOVERY KIT:", why.clone()));
    }
    let Some(next) = &o.next else {
        if r.generation.is_some() {
            out.push(Line::new(
                Tone::Plain,
                "Nothing waits for confirmation. `clawguard status` shows what was applied.",
            ));
        }
        return out;
    };
    out.push(Line::new(Tone::Plain, ""));
    out.push(Line::new(
        Tone::Next,
        if next.automatic {
            format!(
                "Next: confirm within {} s, or everything this apply changed is rolled back by itself ({}).",
                next.deadline.saturating_sub(now),
                next.armed_with.as_deref().unwrap_or("watchdog")
            )
        } else {
            "Next: confirm a login on the new port. Nothing rolls back by itself (--confirm-timeout 0).".to_owned()
        },
    ));
    if !next.old_ports.is_empty() {
        let old: Vec<String> = next.old_ports.iter().map(u16::to_string).collect();
        out.push(Line::new(
            Tone::Plain,
            format!("SSH listens on port {} and still on {} until then.", next.port, old.join(", ")),
        ));
    }
    out.push(Line::new(Tone::Plain, "Keep this session open. From a NEW terminal:"));
    out.push(Line::new(Tone::Command, format!("    {}", next.login())));
    out.push(Line::new(Tone::Command, format!("    sudo {} confirm", next.clawguard)));
    if !next.old_ports.is_empty() {
        // After the move, a login on the old port waits for a timeout without a word.
        out.push(Line::new(
            Tone::Plain,
            format!(
                "Then the old port closes: where your ~/.ssh/config names this host, set `Port {}` there.",
                next.port
            ),
        ));
    }
    out
}

/// ANSI text, for a terminal (`color`) or a pipe.
pub fn ansi(lines: &[Line], color: bool) -> String {
    let paint = |tone: Tone, s: &str| -> String {
        let code = match tone {
            Tone::Plain => return s.to_owned(),
            Tone::Heading | Tone::DiffHeader | Tone::Command => "1",
            Tone::Added => "32",
            Tone::Removed => "31",
            Tone::Hunk => "36",
            Tone::Note => "2",
            Tone::Warning => "33",
            Tone::Danger => "1;31",
            Tone::Next => "1;33",
        };
        if color && !s.is_empty() { format!("\x1b[{code}m{s}\x1b[0m") } else { s.to_owned() }
    };
    // A line's text may hold what the target holds (a diff of a file on it, a name):
    // shown, never obeyed, by the terminal.
    let mut out = String::new();
    for l in lines {
        let text = crate::sink::terminal_line(&l.text);
        let _ = match l.tag {
            Some(tag) => writeln!(out, "{} {}", paint(l.tone, tag), text),
            None => writeln!(out, "{}", paint(l.tone, &text)),
        };
    }
    out
}
