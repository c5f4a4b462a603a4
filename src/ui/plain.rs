//! `--plain`: the same questions, one line at a time (inquire), for serial consoles,
//! screen readers and dumb terminals; then the same diff preview, and (unless dry-run) the
//! same apply with a progress bar.

use inquire::validator::Validation;
use inquire::{Confirm, InquireError, Select, Text};

use crate::answers::Answers;
use crate::ui::fields::{Field, Form, Kind, forms};

/// Keys typed at the prompts, by service (stored in the vault on apply, never shown).
pub type Keys = std::collections::BTreeMap<String, String>;

/// Asks every question; returns the answers and the keys typed, or None when the user
/// pressed Esc / Ctrl-C.
pub fn ask(mut answers: Answers) -> Result<Option<(Answers, Keys)>, InquireError> {
    let mut keys = Keys::new();
    let forms = forms();
    for form in &forms {
        println!("\n== {} ==\n{}", form.layer, form.intro);
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
    while let Err((key, msg)) = answers.check() {
        println!("\n{key}: {msg}");
        let Some(field) = find(&forms, &key) else {
            println!("(this comes from the answers file; fix it there)");
            return Ok(None);
        };
        if !ask_field(field, &mut answers)? {
            return Ok(None);
        }
    }
    Ok(Some((answers, keys)))
}

fn find<'a>(forms: &'a [Form], key: &str) -> Option<&'a Field> {
    forms.iter().flat_map(|f| f.fields.iter()).find(|f| key == f.key || key.starts_with(&format!("{}[", f.key)))
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
        Kind::Keys { .. } => {}
        Kind::List { get, item, set } => {
            let (item, set_list) = (*item, *set);
            let current = get(answers).join(", ");
            let v = Text::new(&format!("{} (comma-separated):", field.label))
                .with_default(&current)
                .with_help_message(field.help)
                .with_validator(move |s: &str| {
                    for part in split_list(s) {
                        if let Err(e) = item(&part) {
                            return Ok(Validation::Invalid(e.0.into()));
                        }
                    }
                    Ok(Validation::Valid)
                })
                .prompt_skippable()?;
            let Some(v) = v else { return Ok(false) };
            if let Err((_, e)) = set_list(answers, &split_list(&v)) {
                println!("{}: {e}", field.label);
                return ask_field(field, answers);
            }
        }
    }
    Ok(true)
}

pub fn split_list(s: &str) -> Vec<String> {
    s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect()
}
