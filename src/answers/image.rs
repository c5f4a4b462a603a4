//! A container image reference as the compose file and the registry take it.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::{Deserialize, Serialize, Serializer};

use super::types::{Invalid, invalid, shown, string_value, text_value};

// ---------------------------------------------------------------------------------------

/// A container image reference (`openclaw:local`, `ghcr.io/org/agent:1.2@sha256:…`), in
/// Docker's grammar: `[registry/]path[:tag][@sha256:<64 hex>]`. The first component is a
/// registry when it has a `.` or a `:` or is `localhost`, as Docker reads it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ImageRef(String);

impl FromStr for ImageRef {
    type Err = Invalid;
    fn from_str(s: &str) -> Result<Self, Invalid> {
        let hint = "type one such as `ghcr.io/openclaw/openclaw:2026.9.6`, `openclaw:local` or \
                    `ghcr.io/org/agent:1.2@sha256:<64 hex digits>`";
        let ok = !s.is_empty()
            && s.len() <= 255
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-/:@".contains(&b));
        if !ok {
            return Err(invalid(format!(
                "{} is not an image name: {hint} (lower-case letters, digits and `. _ - / : @`)",
                shown(s)
            )));
        }
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d)),
            None => (s, None),
        };
        if let Some(d) = digest
            && !is_digest(d)
        {
            return Err(invalid(format!(
                "{} has a digest Docker would not accept (`@sha256:` and 64 hex digits): {hint}",
                shown(s)
            )));
        }
        let r = ImageRef(s.to_owned());
        let (_, path, tag) = r.parts(name);
        let component_ok = |c: &str| {
            !c.is_empty()
                && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
                && c.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        };
        let tag_ok = tag.is_none_or(|t| {
            !t.is_empty() && t.len() <= 128 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        });
        let (registry, _, _) = r.parts(r.name());
        let registry_ok = registry.is_none_or(|h| {
            let (host, port) = h.split_once(':').map_or((h, None), |(h, p)| (h, Some(p)));
            component_ok(host)
                && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
        });
        if !path.split('/').all(component_ok) || !tag_ok || !registry_ok {
            return Err(invalid(format!("{} is not an image name: {hint}", shown(s))));
        }
        Ok(r)
    }
}

/// `sha256:` and 64 lower-case hex digits: the only digest clawguard pins to.
pub fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:")
        .is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

impl ImageRef {
    /// Registry, repository path and tag of `name` (the reference without its digest).
    fn parts<'a>(&self, name: &'a str) -> (Option<&'a str>, &'a str, Option<&'a str>) {
        let (registry, rest) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" => (Some(first), rest),
            _ => (None, name),
        };
        match rest.rsplit_once(':') {
            Some((path, tag)) => (registry, path, Some(tag)),
            None => (registry, rest, None),
        }
    }

    fn name(&self) -> &str {
        self.0.split_once('@').map_or(self.0.as_str(), |(n, _)| n)
    }

    /// The pinned digest (`sha256:…`), when the reference has one.
    pub fn digest(&self) -> Option<&str> {
        self.0.split_once('@').map(|(_, d)| d)
    }

    /// The tag, when the reference names one.
    pub fn tag(&self) -> Option<&str> {
        self.parts(self.name()).2
    }

    /// The registry's host (and port) as Docker resolves it: `docker.io` when none is named.
    pub fn registry(&self) -> &str {
        self.parts(self.name()).0.unwrap_or("docker.io")
    }

    /// The repository's path on its registry (`library/` added for Docker Hub's own).
    pub fn repository(&self) -> String {
        let (registry, path, _) = self.parts(self.name());
        if registry.is_none() && !path.contains('/') { format!("library/{path}") } else { path.to_owned() }
    }

    /// The reference without tag or digest, as written (`ghcr.io/openclaw/openclaw`).
    pub fn without_tag(&self) -> String {
        let name = self.name();
        match self.tag() {
            Some(t) => name[..name.len() - t.len() - 1].to_owned(),
            None => name.to_owned(),
        }
    }

    /// The same image pinned to `digest` (`name@sha256:…`; the tag does not count once a
    /// digest is given, so it is left out).
    pub fn pinned(&self, digest: &str) -> String {
        format!("{}@{digest}", self.without_tag())
    }

    /// An image built on this host (OpenClaw's convention, tag `local`): no registry has it.
    pub fn is_local_build(&self) -> bool {
        self.digest().is_none() && self.tag() == Some("local")
    }
}

string_value!(ImageRef);

/// The comment above a pinned reference: `tag` as the answers give it (quoted as JSON).
pub fn pin_comment(tag: &str) -> String {
    format!("# Tag {}, resolved to this digest when clawguard planned it.", serde_json::json!(tag))
}

/// The pins recorded in `text` (a compose file or a Dockerfile clawguard wrote): each
/// [`pin_comment`] and the reference on the next line (`image: "…"` or `FROM …`), as (the tag
/// as the answers give it, its digest). Anything else in the file is not a record.
pub fn recorded_pins(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(l) = lines.next() {
        let Some(tag) = l
            .strip_prefix("# Tag \"")
            .and_then(|t| t.strip_suffix("\", resolved to this digest when clawguard planned it."))
        else {
            continue;
        };
        let Some(next) = lines.next() else { break };
        let image = next
            .strip_prefix("image: \"")
            .and_then(|i| i.strip_suffix('"'))
            .or_else(|| next.strip_prefix("FROM ").map(str::trim));
        let Some(pinned) = image.and_then(|i| i.parse::<ImageRef>().ok()) else { continue };
        let Some(digest) = pinned.digest().map(str::to_owned) else { continue };
        let Ok(tagged) = format!("{}:{tag}", pinned.without_tag()).parse::<ImageRef>() else { continue };
        out.push((tagged.to_string(), digest));
    }
    out
}

text_value!(ImageRef, "a container image name");
