//! LaunchDaemons: how a Mac runs clawguard's jobs — the daily check, the backups, the
//! vault's unlock at boot, pf's rules and their expiry, sshd on clawguard's port — what
//! systemd units and timers do on Linux.
//!
//! Rendered with the `plist` crate, never from a template: every value is a typed plist
//! string, so no answer can add a key or break out of the XML. Each one names the user it
//! runs as and its process type (launchd's defaults are root and a throttled "Standard").

use plist::{Dictionary, Value};

/// The jobs' PATH: the system's, then where the container runtimes and Homebrew put
/// their commands.
pub const PATH: &str = "/usr/bin:/bin:/usr/sbin:/sbin:/usr/local/bin:/opt/homebrew/bin:/opt/homebrew/sbin";
/// Where launchd logs clawguard's jobs' output.
pub const LOG_DIR: &str = "/var/log/clawguard";

/// `com.clawguard.NAME`.
pub fn label(name: &str) -> String {
    format!("com.clawguard.{name}")
}

/// Where a daemon's property list lives.
pub fn path(label: &str) -> String {
    format!("{}/{label}.plist", crate::host::platform::LAUNCH_DAEMONS)
}

/// When launchd starts the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Once at every boot (and when loaded).
    Boot,
    /// Every day at this time (a run missed while asleep happens at wake).
    Daily { hour: u8, minute: u8 },
    /// Every so many seconds, and once when loaded.
    Every(u32),
    /// launchd listens on this TCP port and starts the program for each connection
    /// (`inetd`-style: what Apple's Remote Login does on port 22).
    Connection { port: u16 },
}

/// One LaunchDaemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub label: String,
    /// The program and its arguments (absolute path first).
    pub argv: Vec<String>,
    pub when: When,
    /// The user it runs as (root unless said).
    pub user: String,
    /// `Interactive` for sshd's sessions, `Background` for everything else.
    pub interactive: bool,
    /// The home of `user`, for a job run as a user that reads its own files (colima keeps
    /// its VM under `~/.colima`): HOME and the working directory. launchd sets neither.
    pub home: Option<String>,
}

impl Daemon {
    /// Whether launchd writes the job's output to a file under [`LOG_DIR`].
    pub fn logs(&self) -> bool {
        !matches!(self.when, When::Connection { .. })
    }

    pub fn root(name: &str, argv: Vec<String>, when: When) -> Daemon {
        Daemon { label: label(name), argv, when, user: "root".into(), interactive: false, home: None }
    }

    pub fn path(&self) -> String {
        path(&self.label)
    }

    /// The property list, as XML.
    pub fn render(&self) -> String {
        let mut d = Dictionary::new();
        d.insert("Label".into(), self.label.clone().into());
        if let When::Connection { .. } = self.when {
            // Apple's own sshd job starts sshd through this wrapper (it makes missing host
            // keys first).
            d.insert("Program".into(), "/usr/libexec/sshd-keygen-wrapper".into());
        }
        d.insert("ProgramArguments".into(), Value::Array(self.argv.iter().map(|a| a.clone().into()).collect()));
        d.insert("UserName".into(), self.user.clone().into());
        d.insert("ProcessType".into(), if self.interactive { "Interactive" } else { "Background" }.into());
        // launchd's PATH has neither Homebrew's tools nor the runtimes' `docker`.
        let mut env = Dictionary::new();
        env.insert("PATH".into(), PATH.into());
        if let Some(home) = &self.home {
            env.insert("HOME".into(), home.clone().into());
            d.insert("WorkingDirectory".into(), home.clone().into());
        }
        d.insert("EnvironmentVariables".into(), env.into());
        match self.when {
            When::Boot => {
                d.insert("RunAtLoad".into(), true.into());
            }
            When::Daily { hour, minute } => {
                let mut at = Dictionary::new();
                at.insert("Hour".into(), i64::from(hour).into());
                at.insert("Minute".into(), i64::from(minute).into());
                d.insert("StartCalendarInterval".into(), at.into());
            }
            When::Every(secs) => {
                d.insert("RunAtLoad".into(), true.into());
                d.insert("StartInterval".into(), i64::from(secs).into());
            }
            When::Connection { port } => {
                let mut listener = Dictionary::new();
                listener.insert("SockServiceName".into(), port.to_string().into());
                listener.insert("SockType".into(), "stream".into());
                let mut sockets = Dictionary::new();
                sockets.insert("Listeners".into(), listener.into());
                d.insert("Sockets".into(), sockets.into());
                let mut inetd = Dictionary::new();
                inetd.insert("Wait".into(), false.into());
                d.insert("inetdCompatibility".into(), inetd.into());
                d.insert("SessionCreate".into(), true.into());
            }
        }
        match self.when {
            When::Connection { .. } => {
                d.insert("StandardErrorPath".into(), "/dev/null".into());
            }
            _ => {
                let log = format!("{LOG_DIR}/{}.log", self.label.trim_start_matches("com.clawguard."));
                d.insert("StandardOutPath".into(), log.clone().into());
                d.insert("StandardErrorPath".into(), log.into());
            }
        }
        let mut out = Vec::new();
        plist::to_writer_xml(&mut out, &Value::Dictionary(d)).expect("a dictionary of strings serialises");
        let mut text = String::from_utf8(out).expect("plist writes UTF-8");
        text.push('\n');
        text
    }
}

/// The keys launchd needs in each of clawguard's daemons.
pub const REQUIRED_KEYS: &[&str] = &["Label", "ProgramArguments", "UserName", "ProcessType"];

/// What `plutil -lint` and launchd would say of a daemon's property list: it parses, it
/// has the keys, its label is its file name, and it starts something by itself.
pub fn lint(path: &str, text: &str) -> Result<String, String> {
    let v = Value::from_reader_xml(text.as_bytes()).map_err(|e| format!("not a property list: {e}"))?;
    let d = v.as_dictionary().ok_or("the top level is not a dictionary")?;
    for key in REQUIRED_KEYS {
        if !d.contains_key(key) {
            return Err(format!("no {key}: launchd needs it"));
        }
    }
    let label = d.get("Label").and_then(Value::as_string).ok_or("Label is not a string")?;
    if path.rsplit('/').next() != Some(&format!("{label}.plist")) {
        return Err(format!("the label {label} is not the file's name: launchctl would not find it by its label"));
    }
    let argv = d.get("ProgramArguments").and_then(Value::as_array).ok_or("ProgramArguments is not an array")?;
    if !argv.first().and_then(Value::as_string).is_some_and(|p| p.starts_with('/')) {
        return Err("ProgramArguments does not start with an absolute path".into());
    }
    if !argv.iter().all(|a| a.as_string().is_some()) {
        return Err("ProgramArguments holds something that is not a string".into());
    }
    let starts = ["RunAtLoad", "StartCalendarInterval", "StartInterval", "KeepAlive", "Sockets"];
    if !starts.iter().any(|k| d.contains_key(k)) {
        return Err(
            "nothing starts it (no RunAtLoad, StartCalendarInterval, StartInterval, KeepAlive or Sockets)".into()
        );
    }
    Ok(format!("a property list with {} keys, label {label}", d.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_with_markup_stays_a_string() {
        let d = Daemon::root(
            "check",
            vec!["/usr/local/bin/clawguard".into(), "</string><key>KeepAlive</key><true/>".into()],
            When::Daily { hour: 6, minute: 0 },
        );
        let text = d.render();
        assert!(lint(&d.path(), &text).is_ok(), "{text}");
        let v = Value::from_reader_xml(text.as_bytes()).unwrap();
        let dict = v.as_dictionary().unwrap();
        assert!(!dict.contains_key("KeepAlive"));
        assert_eq!(
            dict["ProgramArguments"].as_array().unwrap()[1].as_string(),
            Some("</string><key>KeepAlive</key><true/>")
        );
    }

    #[test]
    fn lint_refuses_what_launchd_would() {
        let good = Daemon::root("backup", vec!["/usr/local/bin/clawguard".into()], When::Boot);
        let text = good.render();
        assert!(lint("/Library/LaunchDaemons/com.clawguard.other.plist", &text).unwrap_err().contains("file's name"));
        assert!(
            lint(&good.path(), &text.replace("<key>UserName</key>", "<key>User</key>"))
                .unwrap_err()
                .contains("UserName")
        );
        assert!(
            lint(&good.path(), &text.replace("<key>RunAtLoad</key>", "<key>Run</key>"))
                .unwrap_err()
                .contains("nothing starts")
        );
        assert!(lint(&good.path(), "<plist><dict>").is_err());
        let relative = Daemon::root("backup", vec!["clawguard".into()], When::Boot);
        assert!(lint(&relative.path(), &relative.render()).unwrap_err().contains("absolute"));
    }
}
