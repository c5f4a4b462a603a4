//! `clawguard export cloud-init`: user-data that installs clawguard from its Debian package
//! and applies one answers file at a server's first boot.
//!
//! At first boot nobody is logged in to confirm an SSH port move, and nothing may roll it
//! back by itself either (a rollback then would be as blind as the move). So the apply runs
//! with no confirmation timeout: sshd listens on the old port and the new one, ufw lets both
//! in, until the first login on the new port runs `sudo clawguard confirm` — which is what
//! proves the new port is reachable through the provider's own firewall. Nothing secret
//! goes into user-data: any process on the server can read it back from the metadata
//! service.
//!
//! The body is JSON, which YAML reads as it is: every string is quoted by serde_json, so no
//! answer can smuggle a YAML key or a line into the config.

use crate::answers::{Answers, DEFAULT_PATH};

/// Where the package is downloaded to on the new server.
pub const DEB: &str = "/var/cache/clawguard.deb";

/// A URL a new server downloads the package from: https only (the hash pins the bytes,
/// https keeps the download from being watched or stalled by whoever sits in between).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackageUrl(String);

impl std::str::FromStr for PackageUrl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let ok = s.starts_with("https://")
            && s.len() > "https://".len()
            && s.chars().all(|c| c.is_ascii_graphic() && !matches!(c, '"' | '\'' | '\\' | '`' | '<' | '>' | '{' | '}'));
        if ok {
            Ok(PackageUrl(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a URL clawguard downloads from: type an https:// address without spaces or quotes, e.g. https://files.example.net/clawguard_0.1.0-1_amd64.deb"
            ))
        }
    }
}

impl PackageUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The user-data (`#cloud-config`) for `answers`, installing the package found at `url`
/// whose SHA-256 is `sha256` (64 hex digits).
pub fn cloud_init(answers: &Answers, url: &PackageUrl, sha256: &str) -> String {
    assert!(sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()), "a SHA-256 in hex");
    use base64::Engine as _;
    let answers_toml = answers.to_toml();
    // The URL and the hash reach the shell as arguments ($0, $1), never inside its text.
    let fetch = format!(
        "set -eu; curl -fsSL --proto =https --retry 5 -o {DEB} \"$0\"; echo \"$1  {DEB}\" | sha256sum -c -; DEBIAN_FRONTEND=noninteractive apt-get install -y {DEB}"
    );
    let body = serde_json::json!({
        "write_files": [{
            "path": DEFAULT_PATH,
            "owner": "root:root",
            "permissions": "0644",
            "encoding": "b64",
            "content": base64::engine::general_purpose::STANDARD.encode(answers_toml.as_bytes()),
        }],
        "runcmd": [
            ["sh", "-c", fetch, url.as_str(), sha256],
            ["clawguard", "apply", "--yes", "--confirm-timeout", "0"],
        ],
    });
    let port = answers.ssh.port;
    let ssh = if answers.skip.contains(&crate::answers::Layer::Ssh) {
        "# SSH is left as the image has it (`skip` names it).\n".to_owned()
    } else {
        format!(
            "# SSH: nobody is logged in at first boot to confirm a port move, so sshd answers on\n\
             # its old port (22 on a fresh image) AND on {port} until you log in on {port} and run\n\
             # `sudo clawguard confirm` (that login proves the provider's firewall lets {port} in);\n\
             # nothing rolls it back by itself.\n"
        )
    };
    format!(
        "#cloud-config\n\
         # Made by `clawguard export cloud-init` ({version}). At first boot it installs clawguard\n\
         # from its Debian package (checked against its SHA-256), writes the answers to\n\
         # {DEFAULT_PATH} and runs `clawguard apply`.\n\
         {ssh}\
         # No keys are in here: user-data can be read back from the metadata service. After\n\
         # the first login: `sudo clawguard secrets set NAME` for each key.\n\
         {body}\n",
        version = env!("CARGO_PKG_VERSION"),
        body = serde_json::to_string_pretty(&body).expect("JSON"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_that_is_not_plain_https_is_refused_with_what_to_type() {
        for bad in
            ["http://x/c.deb", "https://", "https://x/c d.deb", "https://x/\"c.deb", "ftp://x", "https://x/$(id)`"]
        {
            let e = bad.parse::<PackageUrl>().unwrap_err();
            assert!(e.contains("https://"), "{bad}: {e}");
        }
        assert!("https://files.example.net/clawguard_0.1.0-1_amd64.deb?x=1".parse::<PackageUrl>().is_ok());
    }

    #[test]
    fn the_body_is_json_so_no_answer_can_add_a_line_or_a_key() {
        let a =
            Answers::parse("version = 1\n[egress]\nallowed_hosts = [\"api.openai.com\"]\n[ssh]\nport = 2200\n", "test")
                .unwrap();
        let url = "https://files.example.net/c.deb".parse().unwrap();
        let text = cloud_init(&a, &url, &"ab".repeat(32));
        assert!(text.starts_with("#cloud-config\n"));
        let body: serde_json::Value = serde_json::from_str(&text[text.find('{').unwrap()..]).expect("the body is JSON");
        assert_eq!(body.as_object().unwrap().len(), 2, "{body}");
        assert!(text.contains("(22 on a fresh image) AND on 2200"), "{text}");
        assert_eq!(body["runcmd"][0][3], "https://files.example.net/c.deb");
    }
}
