//! The one template engine: minijinja over `templates/`, embedded in the binary.
//!
//! Strict: an undefined variable is an error, never an empty string. `.yml` templates are
//! rendered with JSON escaping (every value is a quoted JSON string, which YAML reads as
//! is), so no value can break the compose file's structure. Other formats take only
//! values the answer types have already restricted to safe characters.

use std::sync::LazyLock;

use minijinja::syntax::SyntaxConfig;
use minijinja::{Environment, UndefinedBehavior};
use serde::Serialize;

macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        /// Every template, by name (its path under `templates/`).
        pub const TEMPLATES: &[(&str, &str)] = &[
            $(($name, include_str!(concat!("../templates/", $name))),)*
        ];
    };
}

templates!(
    "sandbox/docker-compose.yml",
    "credentials/credentials.toml",
    "credentials/clawguard-secrets.service",
    "ssh/00-clawguard.conf",
    "ssh/99-clawguard-ssh.cfg",
    "firewall/zz-clawguard.local",
    "egress/squid.conf",
    "egress/Dockerfile",
    "monitoring/logrotate",
    "monitoring/newsyslog.conf",
    "monitoring/agent-logging.env",
    "monitoring/clawguard-check.service",
    "monitoring/clawguard-check.timer",
    "backup/clawguard-backup.service",
    "backup/clawguard-backup.timer",
    "backup/backup.env",
    "backup/RECOVERY.md",
);

/// A template failed to render: a bug in a template or a layer, never the user's input.
#[derive(Debug, thiserror::Error)]
#[error("template {name} failed to render: {source:#}")]
pub struct RenderError {
    pub name: String,
    #[source]
    pub source: minijinja::Error,
}

static ENV: LazyLock<Environment<'static>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_syntax(
        SyntaxConfig::builder()
            .trim_blocks(true)
            .lstrip_blocks(true)
            .keep_trailing_newline(true)
            .build()
            .expect("valid syntax"),
    );
    // In the compose file every value is a JSON string, and compose would still expand
    // `$VAR` and `${VAR}` in it from the environment of whoever runs it (root's): `$$` is
    // compose's literal `$`, so no value can reach into that environment.
    env.set_formatter(|out, state, value| {
        if matches!(state.auto_escape(), minijinja::AutoEscape::Json) {
            let json = serde_json::to_string(value).map_err(|e| {
                minijinja::Error::new(minijinja::ErrorKind::BadSerialization, "cannot write a value as JSON")
                    .with_source(e)
            })?;
            out.write_str(&json.replace('$', "$$")).map_err(minijinja::Error::from)
        } else {
            minijinja::escape_formatter(out, state, value)
        }
    });
    for (name, source) in TEMPLATES {
        env.add_template(name, source).unwrap_or_else(|e| panic!("template {name} does not parse: {e:#}"));
    }
    env
});

/// Renders template `name` with `ctx`.
pub fn render(name: &str, ctx: impl Serialize) -> Result<String, RenderError> {
    let tmpl = ENV.get_template(name).map_err(|source| RenderError { name: name.to_owned(), source })?;
    tmpl.render(minijinja::value::Serde(ctx)).map_err(|source| RenderError { name: name.to_owned(), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_template_parses() {
        LazyLock::force(&ENV);
        assert_eq!(ENV.templates().count(), TEMPLATES.len());
    }

    #[test]
    fn an_undefined_variable_is_an_error() {
        let err = render("ssh/00-clawguard.conf", minijinja::context! {}).unwrap_err();
        assert!(err.to_string().contains("undefined"), "{err}");
    }
}
