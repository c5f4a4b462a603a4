//! The recovery kit: what a new machine needs when this one is gone — where the backups
//! are, the password that opens them, and the vault's identity (which the backups never
//! hold) — the last two sealed with a passphrase the user chooses (age's scrypt). It is
//! made on request and kept off the server; clawguard keeps no copy.

use age::secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The shortest passphrase accepted: the kit may sit in a mailbox or a cloud drive.
pub const MIN_PASSPHRASE: usize = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kit {
    pub host: String,
    pub made: String,
    pub repository: String,
    /// age, armored, sealed with the passphrase: [`Opened`] as TOML.
    pub sealed: String,
}

/// What the sealed part holds.
#[derive(Serialize, Deserialize)]
pub struct Opened {
    pub password: String,
    pub identity: String,
    /// The private key clawguard reaches an sftp repository with (none for other kinds,
    /// or from before there was one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_key: Option<String>,
}

impl std::fmt::Debug for Opened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Opened { .. }")
    }
}

#[derive(Debug, thiserror::Error)]
pub enum KitError {
    #[error("the passphrase is {0} characters long: give at least {MIN_PASSPHRASE} (a few words are easy to keep)")]
    ShortPassphrase(usize),
    #[error("the passphrase does not open this kit (or the kit was changed)")]
    WrongPassphrase,
    #[error("this is not a clawguard recovery kit: {0}")]
    NotAKit(String),
    #[error(
        "this kit asks for scrypt work 2^{0}, more than clawguard's kits ever do (2^18; 2^20 is taken): it was not made by clawguard, or was changed"
    )]
    TooCostly(u8),
    #[error("cannot seal the kit: {0}")]
    Seal(String),
}

/// scrypt's cost for sealing a kit: 2^18 (256 MiB of memory, about a second on a small
/// VPS), age's usual target, fixed so that any machine that restores can open it.
const WORK_FACTOR: u8 = 18;

impl Kit {
    pub fn seal(host: &str, made: &str, repository: &str, opened: &Opened, passphrase: &str) -> Result<Kit, KitError> {
        let n = passphrase.chars().count();
        if n < MIN_PASSPHRASE {
            return Err(KitError::ShortPassphrase(n));
        }
        let mut recipient = age::scrypt::Recipient::new(SecretString::from(passphrase.to_owned()));
        // A fixed cost, not one measured on this machine: the kit is opened on another
        // (a small new VPS, under load while it is set up), which must not refuse it.
        recipient.set_work_factor(WORK_FACTOR);
        let plain = toml::to_string(opened).map_err(|e| KitError::Seal(e.to_string()))?;
        let sealed = age::encrypt_and_armor(&recipient, plain.as_bytes()).map_err(|e| KitError::Seal(e.to_string()))?;
        // The host's name as the kit can carry it (a target's hostname is its maker's text).
        let host: String =
            host.chars().map(|c| if c.is_ascii_alphanumeric() || "-._".contains(c) { c } else { '-' }).collect();
        let host = if host.starts_with(|c: char| c.is_ascii_alphanumeric()) { host } else { format!("host{host}") };
        Ok(Kit { host, made: made.into(), repository: repository.into(), sealed })
    }

    pub fn open(&self, passphrase: &str) -> Result<Opened, KitError> {
        const MAX_WORK_FACTOR: u8 = 20;
        let mut identity = age::scrypt::Identity::new(SecretString::from(passphrase.to_owned()));
        // age allows what would take about 16 s on this machine right now; a kit sealed on
        // a faster one may ask more. Up to 2^20 (1 GiB, seconds anywhere) is taken.
        identity.set_max_work_factor(MAX_WORK_FACTOR);
        let armored = age::armor::ArmoredReader::new(self.sealed.as_bytes());
        let decryptor = age::Decryptor::new_buffered(armored).map_err(|e| KitError::NotAKit(e.to_string()))?;
        let mut reader = decryptor.decrypt(std::iter::once(&identity as &dyn age::Identity)).map_err(|e| match e {
            age::DecryptError::ExcessiveWork { required, .. } => KitError::TooCostly(required),
            _ => KitError::WrongPassphrase,
        })?;
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut reader, &mut plain).map_err(|_| KitError::WrongPassphrase)?;
        toml::from_str(&plain).map_err(|e| KitError::NotAKit(e.to_string()))
    }

    /// The kit as a file: what it is and what to do with it, then the values.
    pub fn to_text(&self) -> String {
        let values = toml::to_string(self).expect("a kit serializes");
        format!(
            "# clawguard recovery kit for {host}, made {made}.\n\
             #\n\
             # Keep this file OFF the server (a password manager, a printed copy in a drawer).\n\
             # With it and its passphrase, on a new machine:\n\
             #     sudo clawguard restore --kit THIS-FILE\n\
             # brings back the agent's data, clawguard's answers and the vault's keys; then\n\
             # `sudo clawguard apply` rebuilds the hardening.\n\
             # Without it the backups cannot be opened, and every key in the vault must be\n\
             # issued anew. The password and the vault's identity below are sealed with your\n\
             # passphrase; the repository's address is not secret.\n\n{values}",
            host = self.host,
            made = self.made,
        )
    }

    /// A kit from its text. The unsealed fields are anyone's to edit, so they are checked
    /// as the answers are before anything uses or prints them: the repository is a backup
    /// destination the answers would take, the host a host name, the date a date.
    pub fn parse(text: &str) -> Result<Kit, KitError> {
        let kit: Kit = toml::from_str(text).map_err(|e| KitError::NotAKit(e.to_string()))?;
        if let Err(e) = kit.repository.parse::<crate::answers::BackupTarget>() {
            return Err(KitError::NotAKit(format!("its repository is not a destination clawguard takes: {e}")));
        }
        let host_ok = !kit.host.is_empty()
            && kit.host.len() <= 253
            && kit.host.as_bytes()[0].is_ascii_alphanumeric()
            && kit.host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._".contains(&b));
        if !host_ok {
            return Err(KitError::NotAKit(format!("its host `{}` is not a host name", kit.host.escape_debug())));
        }
        if kit.made.is_empty()
            || kit.made.len() > 40
            || !kit.made.bytes().all(|b| b.is_ascii_digit() || b"-:TZ+. ".contains(&b))
        {
            return Err(KitError::NotAKit(format!("its date `{}` is not a date", kit.made.escape_debug())));
        }
        Ok(kit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opened() -> Opened {
        Opened { password: "restic-pw".into(), identity: "AGE-SECRET-KEY-1XYZ".into(), ssh_key: None }
    }

    /// The kit's cost is fixed, not measured on the machine that made it: a slower or busier
    /// machine restoring opens it. One that asks for more than clawguard ever seals with is
    /// refused before the work, and said apart from a wrong passphrase.
    #[test]
    fn a_kit_opens_on_a_slower_machine_and_a_costly_one_is_named() {
        let kit = Kit::seal("vps", "2026-11-28T10:00:00Z", "sftp:b@h:/r", &opened(), "correct horse battery").unwrap();
        let header = {
            let mut r = age::armor::ArmoredReader::new(kit.sealed.as_bytes());
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut r, &mut bytes).unwrap();
            String::from_utf8_lossy(&bytes[..120]).into_owned()
        };
        assert!(header.contains(" 18\n"), "sealed at 2^18: {header}");
        assert!(kit.open("correct horse battery").is_ok());
        assert!(matches!(kit.open("wrong horse battery"), Err(KitError::WrongPassphrase)));
        // The same kit with its stanza's cost raised to 2^30 (as a crafted kit would: doing
        // that work would take 128 GiB of memory).
        let mut bytes = Vec::new();
        std::io::Read::read_to_end(&mut age::armor::ArmoredReader::new(kit.sealed.as_bytes()), &mut bytes).unwrap();
        let at = bytes.windows(4).position(|w| w == b" 18\n").unwrap();
        bytes[at + 1..at + 3].copy_from_slice(b"30");
        let mut out = Vec::new();
        let mut w = age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
        std::io::Write::write_all(&mut w, &bytes).unwrap();
        w.finish().unwrap();
        let sealed = String::from_utf8(out).unwrap();
        let t = std::time::Instant::now();
        let err = Kit { sealed, ..kit }.open("correct horse battery").err().unwrap_or_else(|| panic!("refused"));
        assert!(matches!(err, KitError::TooCostly(30)), "{err}");
        assert!(t.elapsed() < std::time::Duration::from_secs(2), "the work was done before refusing");
    }

    /// The kit's unsealed fields are anyone's to edit: an sftp host that ssh would read as
    /// an option, a host or date carrying escapes or lines, are refused before use.
    #[test]
    fn a_kit_whose_open_fields_were_crafted_is_refused() {
        let kit = Kit::seal("vps", "2026-11-28T10:00:00Z", "sftp:b@h:/r", &opened(), "correct horse battery").unwrap();
        assert!(Kit::parse(&kit.to_text()).is_ok(), "control");
        for (field, bad) in [
            ("repository", "sftp:b@-oProxyCommand=touch:/r"),
            ("repository", "-oProxyCommand=x"),
            ("host", "vps\\u001b[2J"),
            ("host", "-vps"),
            ("made", "today\\nDANGER: fake"),
        ] {
            let mut text = kit.to_text();
            let line = text.lines().find(|l| l.starts_with(&format!("{field} = "))).unwrap().to_owned();
            text = text.replace(&line, &format!("{field} = \"{bad}\""));
            let e = Kit::parse(&text).unwrap_err().to_string();
            assert!(e.contains("not a"), "{field} = {bad}: {e}");
        }
    }

    #[test]
    fn a_kit_opens_with_its_passphrase_only() {
        let kit = Kit::seal("vps", "2026-11-28", "sftp:b@h:/r", &opened(), "correct horse battery").unwrap();
        assert!(!kit.to_text().contains("restic-pw") && !kit.to_text().contains("AGE-SECRET-KEY"));
        let back = Kit::parse(&kit.to_text()).unwrap();
        assert_eq!(back, kit);
        let o = back.open("correct horse battery").unwrap();
        assert_eq!((o.password.as_str(), o.identity.as_str()), ("restic-pw", "AGE-SECRET-KEY-1XYZ"));
        assert!(matches!(back.open("wrong horse battery"), Err(KitError::WrongPassphrase)));
        assert!(matches!(Kit::seal("vps", "d", "r", &opened(), "short"), Err(KitError::ShortPassphrase(5))));
        assert!(matches!(Kit::parse("hello"), Err(KitError::NotAKit(_))));
    }
}
