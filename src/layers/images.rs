//! Images pinned by digest: the agent's, the proxy's and the forwarder's (the parts that
//! enforce the sandbox), and the base the proxy's own image is built on. A tag is resolved
//! to its digest before the review (on the host, else by its registry), written as
//! `name@sha256:…` with the tag as a comment, and that comment is the record a re-run reads
//! when neither the engine nor the registry answers.

use super::Builder;
use crate::answers::ImageRef;
pub use crate::answers::pin_comment as comment;
use crate::host::{Facts, ImageFact};
use crate::plan::{Check, Layer, Severity};

/// An image as a file names it, and the pull the plan makes for it.
pub struct Pinned {
    /// What `image:` (or `FROM`) says: pinned by digest whenever the digest is known.
    pub reference: String,
    /// The tag a digest was resolved from (the comment next to it).
    pub tag: Option<String>,
    /// Why the image is pulled, when it is (a planned step, before `up`).
    pub pull: Option<String>,
}

/// Pins `image` by digest where it is known (given in the answers, found on the host, or
/// said by its registry, else as last recorded) and says when it cannot be. `what` names
/// it in the review ("OpenClaw's image", "the proxy's image").
/// The reference a file names for `image`: [`pin`]'s, without its warning (for what only
/// needs the name: a checker that runs the image).
pub fn reference(image: &ImageRef, f: &Facts) -> String {
    let mut scratch = Builder::scratch();
    pin(image, "", f, Layer::Sandbox, &mut scratch).reference
}

pub fn pin(image: &ImageRef, what: &str, f: &Facts, layer: Layer, b: &mut Builder) -> Pinned {
    let tag = image.tag().filter(|_| image.digest().is_none()).map(str::to_owned);
    // The digest the applied files recorded for this very tag: what the last resolution
    // gave, kept when neither the engine nor the registry answers now.
    let recorded = f.recorded_images.get(image.as_str()).filter(|_| image.digest().is_none());
    let unpinned = Pinned { reference: image.to_string(), tag: None, pull: None };
    match f.images.get(image.as_str()) {
        Some(ImageFact::Here { digest: Some(d) }) => Pinned { reference: image.pinned(d), tag, pull: None },
        Some(ImageFact::Unknown(_) | ImageFact::NotAsked) | None if recorded.is_some() => {
            Pinned { reference: image.pinned(recorded.expect("checked")), tag, pull: None }
        }
        Some(ImageFact::Here { digest: None }) => unpinned,
        Some(ImageFact::Remote(r)) => Pinned {
            reference: image.pinned(&r.digest),
            tag,
            pull: Some(format!("download {what} {image} ({}, pinned by its digest)", crate::registry::human(r.bytes))),
        },
        Some(ImageFact::Unknown(why)) if !image.is_local_build() => {
            if image.digest().is_none() {
                b.warn(layer, Severity::Warning, format!(
                    "{what} {image} could not be looked up ({why}): it is pulled by its tag when the apply starts the agent, not pinned to a digest. Pin it with its digest (\"{}@sha256:…\") to run exactly the image you checked.",
                    image.without_tag()
                ));
            }
            unpinned
        }
        _ => unpinned,
    }
}

/// [`pin`], and the steps that get the image before `up`: its pull by digest (then its tag
/// on this host, so a re-run finds it offline), or, when it is neither here nor pullable by
/// digest, a readiness check that pulls it by name or says `how` to get it. `when` is the
/// file whose change makes them needed.
pub fn get(image: &ImageRef, what: &str, how: &str, f: &Facts, b: &mut Builder, when: &str) -> Pinned {
    let layer = Layer::Sandbox;
    let pinned = pin(image, what, f, layer, b);
    if let Some(why) = &pinned.pull {
        b.on_change(layer, &["docker", "pull", pinned.reference.as_str()], why.as_str(), &[when]).prepares = true;
        // The tag names what was pulled, on this host: the next run finds the image here
        // (and its digest) without asking the registry, and its tag cannot move under it.
        if pinned.tag.is_some() {
            b.on_change(
                layer,
                &["docker", "tag", pinned.reference.as_str(), image.as_str()],
                "name the pulled image by its tag on this host",
                &[when],
            )
            .prepares = true;
        }
    } else if !matches!(f.images.get(image.as_str()), Some(ImageFact::Here { .. })) {
        b.preflight(layer, Check::Image { image: pinned.reference.clone(), how: how.to_owned() }, &[when]);
    }
    pinned
}
