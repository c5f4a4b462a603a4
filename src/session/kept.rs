//! Requests made from the answers a generation kept, not from a front end: `confirm`'s
//! completion of an SSH move and `uninstall`'s first step (SSH back on its old port). They
//! go through the same [`Request`] and [`run`] as every apply.

use super::{Keys, Outcome, Request, run};
use crate::answers::{Answers, AnswersError, Layer};
use crate::apply::{After, ApplyError, Event, GenerationState, Pending, Store};
use crate::host;
use crate::plan::Stage;
use crate::target::{Root, Runner};

/// Why a confirmed move could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum KeptError {
    #[error("the answers kept with generation {0} cannot be read: {1} (`sudo clawguard status` lists the generations)")]
    KeptAnswers(u32, String),
    #[error(transparent)]
    Answers(#[from] AnswersError),
    #[error(transparent)]
    Apply(#[from] ApplyError),
    #[error("sshd's port before clawguard: {0}")]
    OldPort(String),
}

/// Which generation's answers.
#[derive(Debug, Clone, Copy)]
enum Which {
    /// The newest generation (whatever its state): what `confirm` completes.
    Newest,
    /// The newest committed one: what the host runs now.
    Committed,
}

/// The answers `which` generation applied, and its number (`fallback` when there is none).
fn kept_answers(root: &Root, which: Which, fallback: u32) -> Result<(u32, Answers), KeptError> {
    let store = Store::new(root);
    let gens = store.generations().map_err(|e| KeptError::KeptAnswers(fallback, e.to_string()))?;
    let n = match which {
        Which::Newest => gens.last(),
        Which::Committed => gens.iter().rev().find(|g| g.state == GenerationState::Committed),
    }
    .map_or(fallback, |g| g.manifest.number);
    let text = store.answers_of(n).map_err(|e| KeptError::KeptAnswers(n, e.to_string()))?;
    Ok((n, Answers::parse(&text, "the applied answers")?))
}

/// Completes the SSH move `pending` confirmed: SSH and the firewall alone (a layer the
/// apply left out is not tried again behind the user's back, and offline it cannot
/// stall), planned at [`Stage::Complete`], each generation recording the one it completes
/// so a rollback takes the two back together. Two rounds: the drop-in, then the old
/// port's rule. One outcome for both, or None when nothing was left to change.
pub fn complete_move(
    root: &Root,
    runner: &Runner,
    ssh: Option<&str>,
    pending: &Pending,
    progress: &mut dyn FnMut(Event),
) -> Result<Option<Outcome>, KeptError> {
    let (_, answers) = kept_answers(root, Which::Newest, pending.generation)?;
    let mut done: Option<Outcome> = None;
    for _ in 0..2 {
        let req = Request {
            facts: host::probe(root, ssh).for_answers(root, &answers),
            answers: answers.clone(),
            root: root.clone(),
            runner: runner.clone(),
            stage: Stage::Complete,
            keys: Keys::new(),
            confirm_timeout: 0,
            force: false,
            ssh_connection: ssh.map(str::to_owned),
            then: After::Complete,
            only: Some(vec![Layer::Ssh, Layer::Firewall]),
            completes: Some(pending.generation),
        };
        let o = run(&req, progress)?;
        if o.report.generation.is_some() {
            done = Some(match done.take() {
                None => o,
                Some(mut first) => {
                    first.report.absorb(o.report);
                    first
                }
            });
        }
    }
    Ok(done)
}

/// `uninstall`'s first step: the answers the host runs now with SSH on `port` (its port
/// before clawguard) and only the SSH and firewall layers, as an ordinary apply — lockout
/// checks, the services' own checkers, both ports open, confirm-or-rollback. `then` says
/// what confirming it leads to.
pub fn move_ssh_back(
    root: &Root,
    runner: Runner,
    ssh: Option<String>,
    port: u16,
    confirm_timeout: u64,
    then: After,
) -> Result<Request, KeptError> {
    let (_, mut answers) = kept_answers(root, Which::Committed, 0)?;
    answers.ssh.port = port.to_string().parse().map_err(|e: crate::answers::Invalid| KeptError::OldPort(e.0))?;
    for l in Layer::ALL.into_iter().filter(|l| !matches!(l, Layer::Ssh | Layer::Firewall)) {
        if !answers.skip.contains(&l) {
            answers.skip.push(l);
        }
    }
    Ok(Request {
        facts: host::probe(root, ssh.as_deref()).for_answers(root, &answers),
        answers,
        root: root.clone(),
        runner,
        stage: Stage::Move,
        keys: Keys::new(),
        confirm_timeout,
        // Hand edits are put back too: the user saw the diffs and said yes.
        force: true,
        ssh_connection: ssh,
        then,
        only: None,
        completes: None,
    })
}
