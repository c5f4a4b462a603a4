//! `--plain`: the same questions, one line at a time (inquire), for serial consoles,
//! screen readers and dumb terminals; then the same diff preview, and (unless dry-run) the
//! same apply with a progress bar.

use inquire::validator::Validation;
use inquire::{Confirm, InquireError, MultiSelect, Select, Text};

use crate::answers::Answers;
use crate::ui::fields::{Field, Kind, forms};

pub use crate::session::Keys;

/// Asks every question; returns the answers and the keys typed, or None when the user
/// pressed Esc / Ctrl-C.
pub fn ask(mut answers: Answers) -> Result<Option<(Answers, Keys)>, InquireError> {
    let mut keys = Keys::new();
    let forms = forms();
    for form in &forms {
        println!("{}", crate::sink::terminal(&format!("\n== {} ==\n{}", form.layer, form.intro)));
        let on = Confirm::new("Set up this layer?")
            .with_default(!answers.skip.contains(&form.layer))
            .with_help_message(crate::layers::unprotected(form.layer))
            .prompt_skippable()?;
        let Some(on) = on else { return Ok(None) };
        answers.skip.retain(|l| *l != form.layer);
        if !on {
            answers.skip.push(form.layer);
            answers.skip.sort();
            continue;
        }
        for field in form.fields.iter().filter(|f| f.key != "skip") {
            if let Kind::Keys { services } = &field.kind {
                for name in services(&answers) {
                    let v = inquire::Password::new(&format!("Key for {name} (empty: keep as it is):"))
                        .with_display_mode(inquire::PasswordDisplayMode::Masked)
                        .without_confirmation()
                        .with_help_message(field.help)
                        .prompt_skippable()?;
                    if let Some(v) = v.filter(|v| !v.is_empty()) {
                        keys.insert(name, v);
                    }
                }
                continue;
            }
            if !ask_field(field, &mut answers)? {
                return Ok(None);
            }
        }
    }
    // What spans several questions: ask the one it names again until it fits.
    while let Err(m) = answers.check() {
        println!("{}", crate::sink::terminal(&format!("\n{}: {}", m.field(), m.message)));
        let Some(field) = forms.iter().flat_map(|f| f.fields.iter()).find(|f| f.key == m.key) else {
            println!("(this comes from the answers file; fix it there)");
            return Ok(None);
        };
        if !ask_field(field, &mut answers)? {
            return Ok(None);
        }
    }
    Ok(Some((answers, keys)))
}

/// One question; false when skipped with Esc.
fn ask_field(field: &Field, answers: &mut Answers) -> Result<bool, InquireError> {
    match &field.kind {
        Kind::Text { get, set } => {
            let (set, base) = (*set, answers.clone());
            let current = get(answers);
            let v = Text::new(&format!("{}:", field.label))
                .with_default(&current)
                .with_help_message(field.help)
                .with_validator(move |s: &str| {
                    let mut a = base.clone();
                    Ok(match set(&mut a, s) {
                        Ok(()) => Validation::Valid,
                        Err(e) => Validation::Invalid(e.0.into()),
                    })
                })
                .prompt_skippable()?;
            let Some(v) = v else { return Ok(false) };
            set(answers, &v).expect("validated");
        }
        Kind::Bool { get, set } => {
            let v = Confirm::new(&format!("{}?", field.label))
                .with_default(get(answers))
                .with_help_message(field.help)
                .prompt_skippable()?;
            let Some(v) = v else { return Ok(false) };
            set(answers, v);
        }
        Kind::Choice { options, get, set } => {
            let cur = get(answers);
            let start = options.iter().position(|o| *o == cur).unwrap_or(0);
            let v = Select::new(&format!("{}:", field.label), options.to_vec())
                .with_starting_cursor(start)
                .with_help_message(field.help)
                .prompt_skippable()?;
            let Some(v) = v else { return Ok(false) };
            set(answers, v);
        }
        // The plain prompts ask questions; `clawguard egress` decides on refused hosts.
        Kind::Keys { .. } | Kind::Refused { .. } => {}
        Kind::List { get, item, set } => {
            // One item per prompt: an item may hold a comma (`--allowed=a,b` is one argument).
            let current = get(answers);
            let shown = if current.is_empty() { "none".to_owned() } else { current.join("  ") };
            let change = Confirm::new(&format!("{}: {shown}. Change?", field.label))
                .with_default(false)
                .with_help_message(field.help)
                .prompt_skippable()?;
            let Some(change) = change else { return Ok(false) };
            if !change {
                return Ok(true);
            }
            let mut items = if current.is_empty() {
                Vec::new()
            } else {
                let all: Vec<usize> = (0..current.len()).collect();
                let Some(kept) = MultiSelect::new(&format!("Keep which of the {}?", field.label), current)
                    .with_default(&all)
                    .prompt_skippable()?
                else {
                    return Ok(false);
                };
                kept
            };
            let item = *item;
            loop {
                let add = Text::new(&format!("Add to {} (one item; empty: done):", field.label))
                    .with_help_message(field.help)
                    .with_validator(move |s: &str| {
                        Ok(match item(s) {
                            Err(e) if !s.trim().is_empty() => Validation::Invalid(e.0.into()),
                            _ => Validation::Valid,
                        })
                    })
                    .prompt_skippable()?;
                match add {
                    None => return Ok(false),
                    Some(a) if a.trim().is_empty() => break,
                    Some(a) => items.push(a.trim().to_owned()),
                }
            }
            if let Err((i, e)) = set(answers, &items) {
                println!(
                    "{}",
                    crate::sink::terminal(&format!(
                        "{} ({}): {}",
                        field.label,
                        items.get(i).map(String::as_str).unwrap_or(""),
                        e.0
                    ))
                );
                return ask_field(field, answers);
            }
        }
    }
    Ok(true)
}
