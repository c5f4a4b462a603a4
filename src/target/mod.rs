//! The ground floor: what any module may use to touch a target. The root every path is
//! resolved in ([`Root`]), the opener for what others control ([`untrusted`]), atomic
//! writes ([`atomic`]), the way commands reach the target ([`Runner`]), clawguard's own
//! records directory, the clock and the hash every record uses, and the fault-injection
//! boundary. Nothing here imports anything above it: host facts, layers, the engine and
//! the front ends all stand on it.

pub mod atomic;
pub mod root;
pub mod runner;
pub mod untrusted;

pub use root::{NotAFile, Root};
pub use runner::{Ran, Runner, own_session};

/// clawguard's records on a target (through the root): generations, journal, pending
/// confirmation, what the check learned.
pub const STATE_DIR: &str = "/var/lib/clawguard";

/// Which operating system a target runs, as answers' defaults and the plan record it
/// (apply picks its live checks by it). The facts of each are `host::Platform`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    #[default]
    Linux,
    MacOs,
}

/// The SHA-256 of `data` in lowercase hex, as every record stores it.
pub fn sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let d = Sha256::digest(data);
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// Seconds since the epoch (0 if the clock is before it), as every record stores time.
pub fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0)
}

/// Set to a journal entry (`begin 1`, `armed 1`, `write /etc/…`, `wrote /etc/…`, `run 3`,
/// `ran 3`, `commit 1`) or to `did 3` (command 3 ran, not yet journaled) to stop the process
/// right there, as a kill would: the fault-injection tests
/// use it to prove every step boundary is safe.
pub const CRASH_ENV: &str = "CLAWGUARD_CRASH_AT";

/// Stops the process here if the fault-injection variable names this boundary (the
/// kill-between-steps tests of apply and restore).
pub fn boundary(label: &str) {
    if std::env::var(CRASH_ENV).is_ok_and(|v| v == label) {
        eprintln!("clawguard: stopping at `{label}` ({CRASH_ENV})");
        std::process::exit(137);
    }
}

/// The part of a failed command's output a person needs: a Python traceback (docker-compose
/// v1) is reduced to its error lines, anything else to its last lines.
pub fn gist(output: &str) -> String {
    let lines: Vec<&str> = output.lines().map(str::trim_end).filter(|l| !l.trim().is_empty()).collect();
    // docker-compose says what went wrong on `ERROR:` lines (often twice, per container
    // and per service); the rest is progress and Python's traceback.
    let mut errors: Vec<&str> = Vec::new();
    for l in lines.iter().filter_map(|l| l.strip_prefix("ERROR:")).map(str::trim) {
        let reason = l.split_once("  ").map_or(l, |(_, r)| r.trim());
        if !errors.contains(&reason) {
            errors.push(reason);
        }
    }
    if !errors.is_empty() {
        return errors.join("\n");
    }
    if output.contains("Traceback (most recent call last)") {
        return lines.last().copied().unwrap_or_default().to_owned();
    }
    lines[lines.len().saturating_sub(6)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::gist;

    #[test]
    fn compose_output_is_reduced_to_its_errors_once() {
        let out = "Creating clawguard-agent_proxy_1 ... done\nCreating clawguard-agent_agent_1 ... error\n\nERROR: for clawguard-agent_agent_1  Cannot create container for service agent: NanoCPUs can not be set\nERROR: for agent  Cannot create container for service agent: NanoCPUs can not be set\nEncountered errors while bringing up the project.\n";
        assert_eq!(gist(out), "Cannot create container for service agent: NanoCPUs can not be set");
        let tb =
            "Traceback (most recent call last):\n  File \"x\", line 1\nrequests.exceptions.ConnectionError: refused\n";
        assert_eq!(gist(tb), "requests.exceptions.ConnectionError: refused");
    }
}
