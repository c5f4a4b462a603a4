//! The certificates the answers name (`monitoring.certificates`): fetched from the service
//! itself with `openssl s_client`, verified against the system's trust store with the
//! host's name, and their expiry compared with the warning window.

use std::time::Duration;

use super::{Finding, finding};
use crate::answers::TlsEndpoint;
use crate::plan::Severity;

/// Each endpoint's certificate: not valid (chain, name, expired) is a DANGER, expiring
/// within `days` a WARNING, unreachable a WARNING.
pub fn check(endpoints: &[TlsEndpoint], days: u32) -> Vec<Finding> {
    endpoints.iter().filter_map(|e| one(e, days)).collect()
}

fn one(e: &TlsEndpoint, days: u32) -> Option<Finding> {
    let connect = format!("{}:{}", e.host, e.port);
    let fetched =
        duct::cmd!("openssl", "s_client", "-connect", &connect, "-servername", &e.host, "-verify_hostname", &e.host,)
            .stdin_bytes(Vec::new())
            .stderr_to_stdout()
            .stdout_capture()
            .unchecked()
            .start()
            .and_then(|h| wait(h, Duration::from_secs(15)));
    let out = match fetched {
        Ok(out) => out,
        Err(why) if why.kind() == std::io::ErrorKind::NotFound => {
            return Some(finding(
                "monitoring.certificate-no-openssl",
                Severity::Warning,
                format!(
                    "The certificate of {e} was not checked: openssl is not installed (`sudo clawguard apply` installs it)."
                ),
            ));
        }
        Err(why) => {
            return Some(finding(
                "monitoring.certificate-unchecked",
                Severity::Warning,
                format!("The certificate of {e} was not checked: {why}."),
            ));
        }
    };
    let verify = out.lines().rev().find_map(|l| l.trim().strip_prefix("Verify return code: ")).map(str::to_owned);
    let Some(pem) = out.find("-----BEGIN CERTIFICATE-----").and_then(|b| {
        let end = out[b..].find("-----END CERTIFICATE-----")? + b + "-----END CERTIFICATE-----".len();
        Some(out[b..end].to_owned())
    }) else {
        let why = out.lines().find(|l| l.contains("error") || l.contains("errno")).unwrap_or("no answer").trim();
        return Some(finding(
            "monitoring.certificate-unreachable",
            Severity::Warning,
            format!("{e} could not be reached over TLS ({why}): its certificate was not checked."),
        ));
    };
    if let Some(v) = verify.filter(|v| !v.starts_with("0 ")) {
        return Some(finding(
            "monitoring.certificate-invalid",
            Severity::Danger,
            format!(
                "The certificate of {e} is not valid: {v}. Clients refuse it (or, worse, are taught to click through). Renew or fix it."
            ),
        ));
    }
    let secs = u64::from(days) * 86_400;
    let end = duct::cmd!("openssl", "x509", "-noout", "-enddate").stdin_bytes(pem.clone()).stderr_null().read().ok()?;
    let end = end.trim().trim_start_matches("notAfter=").to_owned();
    let expiring = duct::cmd!("openssl", "x509", "-noout", "-checkend", secs.to_string())
        .stdin_bytes(pem)
        .stdout_null()
        .unchecked()
        .run()
        .ok()?;
    (!expiring.status.success()).then(|| {
        finding("monitoring.certificate-expiring", Severity::Warning, format!("The certificate of {e} expires on {end}, within {days} days: renew it (certbot renew, or your provider's tool)."))
    })
}

/// The output of `h`, or a timeout (the process is killed).
fn wait(h: duct::Handle, limit: Duration) -> std::io::Result<String> {
    let t = std::time::Instant::now();
    loop {
        if let Some(o) = h.try_wait()? {
            return Ok(String::from_utf8_lossy(&o.stdout).into_owned());
        }
        if t.elapsed() > limit {
            let _ = h.kill();
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                format!("no answer within {} s", limit.as_secs()),
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
