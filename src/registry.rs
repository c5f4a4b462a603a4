//! What an image registry says an image reference is, before anything is pulled: its
//! digest (what the compose file then pins) and how much the host will download. The
//! Docker registry HTTP API v2 (the OCI distribution spec), read-only and anonymous: a
//! manifest GET, with the bearer token a registry asks for (`WWW-Authenticate`).
//!
//! The registry is someone else's server: its answers are bounded (time, size), parsed into
//! types, and a manifest counts only when its bytes hash to the digest it is taken for.

use std::time::Duration;

use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::answers::{ImageRef, is_digest};

/// What a registry said of an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// The digest to pull and pin (`sha256:…`): the index's when the image is
    /// multi-platform, so the same pin works on every platform it was built for.
    pub digest: String,
    /// Bytes the host downloads (config and layers, compressed) for its platform.
    pub bytes: u64,
}

/// The most a manifest may be (real ones are a few KiB).
const MAX_MANIFEST: u64 = 4 << 20;

const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json";

/// A manifest or an index: only the fields clawguard reads.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Manifest {
    #[serde(default)]
    media_type: Option<String>,
    /// An index's entries, one per platform.
    #[serde(default)]
    manifests: Option<Vec<Entry>>,
    #[serde(default)]
    config: Option<Blob>,
    #[serde(default)]
    layers: Option<Vec<Blob>>,
}

#[derive(Deserialize)]
struct Entry {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
}

#[derive(Deserialize)]
struct Blob {
    size: u64,
}

#[derive(Deserialize)]
struct Token {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// The platform Docker pulls for on this machine (`amd64`, `arm64`): on a Mac the engine's
/// VM runs Linux on the same architecture.
pub fn architecture() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "arm" => "arm",
        other => other,
    }
}

/// The base URL of a registry, as Docker reaches it: plain HTTP only on the loopback
/// (Docker's own default for insecure registries), HTTPS everywhere else.
fn base(registry: &str) -> String {
    let host =
        registry.rsplit_once(':').filter(|(_, p)| p.bytes().all(|b| b.is_ascii_digit())).map_or(registry, |(h, _)| h);
    let loopback = host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|a| a.is_loopback());
    match registry {
        "docker.io" => "https://registry-1.docker.io".to_owned(),
        r if loopback => format!("http://{r}"),
        r => format!("https://{r}"),
    }
}

/// Asks `image`'s registry for its digest and download size on this architecture, within
/// `timeout`. An image already pinned by digest is checked against that digest.
pub fn resolve(image: &ImageRef, timeout: Duration) -> Result<Resolved, String> {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(3)
        .build()
        .into();
    let registry = image.registry();
    let base = base(registry);
    let repository = image.repository();
    let reference = image.digest().or(image.tag()).unwrap_or("latest");
    let mut client = Client { agent, base, repository, token: None };
    let (digest, top) = client.manifest(reference)?;
    if let Some(pinned) = image.digest()
        && pinned != digest
    {
        return Err(format!(
            "{registry} answered {image} with a manifest whose digest is {digest}, not the one pinned"
        ));
    }
    let arch = architecture();
    let platform = match &top.manifests {
        Some(entries) => {
            let Some(entry) = entries.iter().find(|e| {
                e.platform.as_ref().is_some_and(|p| p.os == "linux" && p.architecture == arch) && is_digest(&e.digest)
            }) else {
                return Err(format!("{image} has no linux/{arch} image: this host cannot run it"));
            };
            let (d, m) = client.manifest(&entry.digest)?;
            if d != entry.digest {
                return Err(format!("{registry} answered {} with another manifest ({d})", entry.digest));
            }
            m
        }
        None => top,
    };
    if platform.manifests.is_some() {
        return Err(format!("{registry} answered {image} with an index inside an index: not an image clawguard pulls"));
    }
    let (Some(config), Some(layers)) = (&platform.config, &platform.layers) else {
        return Err(format!(
            "{registry} answered {image} with a {} that has no config or layers",
            platform.media_type.as_deref().unwrap_or("document")
        ));
    };
    let bytes = layers
        .iter()
        .try_fold(config.size, |n, l| n.checked_add(l.size))
        .ok_or_else(|| format!("{registry} gave sizes for {image} that do not add up"))?;
    Ok(Resolved { digest, bytes })
}

/// One image's conversation with its registry: the agent, where it is, and the bearer
/// token once one was asked for.
struct Client {
    agent: ureq::Agent,
    base: String,
    repository: String,
    token: Option<String>,
}

impl Client {
    /// The manifest at `reference` and the digest of its bytes.
    fn manifest(&mut self, reference: &str) -> Result<(String, Manifest), String> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base, self.repository);
        let mut response = self.get(&url)?;
        if response.status() == 401 && self.token.is_none() {
            let challenge = response
                .headers()
                .get("www-authenticate")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
                .ok_or_else(|| format!("{} asks for a login clawguard does not have", self.base))?;
            self.token = Some(self.bearer(&challenge)?);
            response = self.get(&url)?;
        }
        match response.status().as_u16() {
            200 => {}
            404 => return Err(format!("{} has no {}:{reference}", self.base, self.repository)),
            401 | 403 => {
                return Err(format!(
                    "{} refuses {} without a login (a private image: `docker login` on this host, then pin it by digest)",
                    self.base, self.repository
                ));
            }
            s => return Err(format!("{} answered HTTP {s} for {}:{reference}", self.base, self.repository)),
        }
        let body =
            response.body_mut().with_config().limit(MAX_MANIFEST).read_to_vec().map_err(|e| {
                format!("reading the manifest of {}:{reference} from {}: {e}", self.repository, self.base)
            })?;
        let digest = format!("sha256:{}", hex(&Sha256::digest(&body)));
        let manifest: Manifest = serde_json::from_slice(&body).map_err(|e| {
            format!("{} sent a manifest for {}:{reference} that is not one ({e})", self.base, self.repository)
        })?;
        Ok((digest, manifest))
    }

    fn get(&self, url: &str) -> Result<ureq::http::Response<ureq::Body>, String> {
        let mut req = self.agent.get(url).header("Accept", ACCEPT);
        if let Some(t) = &self.token {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        req.call().map_err(|e| format!("cannot reach {} ({e})", self.base))
    }

    /// An anonymous pull token, from the realm the registry's challenge names.
    fn bearer(&self, challenge: &str) -> Result<String, String> {
        let params = parse_challenge(challenge)
            .ok_or_else(|| format!("{} asks for a login clawguard does not know ({challenge:.80})", self.base))?;
        let realm = params.iter().find(|(k, _)| k == "realm").map(|(_, v)| v.as_str()).unwrap_or_default();
        let plain_ok = realm.starts_with("http://") && self.base.starts_with("http://");
        if !(realm.starts_with("https://") || plain_ok) {
            return Err(format!("{} names a token service that is not HTTPS ({realm:.80})", self.base));
        }
        let mut req = self.agent.get(realm);
        for (k, v) in params.iter().filter(|(k, _)| k == "service" || k == "scope") {
            req = req.query(k, v);
        }
        if !params.iter().any(|(k, _)| k == "scope") {
            req = req.query("scope", format!("repository:{}:pull", self.repository));
        }
        let mut response = req.call().map_err(|e| format!("cannot reach {realm} for a pull token ({e})"))?;
        if response.status() != 200 {
            return Err(format!("{realm} gave no pull token (HTTP {})", response.status()));
        }
        let body = response
            .body_mut()
            .with_config()
            .limit(MAX_MANIFEST)
            .read_to_vec()
            .map_err(|e| format!("reading a pull token from {realm}: {e}"))?;
        let t: Token =
            serde_json::from_slice(&body).map_err(|e| format!("{realm} sent a token that is not JSON ({e})"))?;
        t.token
            .or(t.access_token)
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| format!("{realm} sent no usable token"))
    }
}

/// `Bearer realm="…",service="…",scope="…"` as pairs; None for another scheme.
fn parse_challenge(s: &str) -> Option<Vec<(String, String)>> {
    let rest = s.trim().strip_prefix("Bearer ").or_else(|| s.trim().strip_prefix("bearer "))?;
    let mut out = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (key, after) = rest.split_once('=')?;
        let after = after.strip_prefix('"')?;
        let (value, tail) = after.split_once('"')?;
        out.push((key.trim().to_owned(), value.to_owned()));
        rest = tail.trim_start_matches(',').trim();
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `1.2 GB`, `412 MB`: a download size as a person reads it.
pub fn human(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["bytes", "kB", "MB", "GB"];
    let mut v = bytes as f64;
    let mut unit = 0;
    while v >= 1000.0 && unit < UNITS.len() - 1 {
        v /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} bytes")
    } else if v < 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.0} {}", UNITS[unit])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn challenges_are_read_as_pairs_and_other_schemes_refused() {
        let c = r#"Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:openclaw/openclaw:pull""#;
        let p = parse_challenge(c).unwrap();
        assert_eq!(p[0], ("realm".to_owned(), "https://ghcr.io/token".to_owned()));
        assert_eq!(p[2].1, "repository:openclaw/openclaw:pull");
        assert!(parse_challenge(r#"Basic realm="x""#).is_none());
        assert!(parse_challenge(r#"Bearer realm=unquoted"#).is_none());
    }

    #[test]
    fn only_the_loopback_is_reached_without_tls() {
        assert_eq!(base("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(base("localhost:5000"), "http://localhost:5000");
        assert_eq!(base("ghcr.io"), "https://ghcr.io");
        assert_eq!(base("127.example.com"), "https://127.example.com");
        assert_eq!(base("docker.io"), "https://registry-1.docker.io");
    }

    #[test]
    fn sizes_read_as_people_say_them() {
        assert_eq!(human(512), "512 bytes");
        assert_eq!(human(1_234_000_000), "1.2 GB");
        assert_eq!(human(412_000_000), "412 MB");
    }
}
