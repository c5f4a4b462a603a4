//! OpenClaw's own settings, for the `openclaw` profile: proxy-env variables alone miss
//! much of its traffic, and its keys must reach it as file references, never as values.
//!
//! clawguard writes `openclaw.json` (what `OPENCLAW_CONFIG_PATH` names) and never the
//! user's settings: that file `$include`s `settings.json5`, the user's own, and sets only
//! what the sandbox depends on (the proxy, the gateway's bind, port and token, the keys'
//! references, the log file). OpenClaw merges an include's siblings over it, so those win
//! and everything else the user set stays. On the first run an `openclaw.json` that is
//! not clawguard's becomes `settings.json5`, byte for byte (comments kept).

use serde_json::{Map, Value, json};

use super::Builder;
use crate::answers::Answers;
use crate::host::agent::{CONFIG, SETTINGS};
use crate::host::{Facts, FileFact};
use crate::plan::{Layer, Owner, Refusal, Severity};

/// clawguard's suggestions, included before [`SETTINGS`] (which overrides them).
pub const DEFAULTS: &str = "clawguard-defaults.json5";
/// The vault's key for the gateway's token (generated on the first apply).
pub const GATEWAY_KEY: &str = "openclaw-gateway";
/// Where `openclaw backup create` writes its archives in the container, and on the host
/// (in the compose project, outside the trees OpenClaw refuses to archive into).
pub const CONTAINER_BACKUPS: &str = "/var/backups/openclaw";
pub fn backups_dir(a: &Answers) -> String {
    a.sandbox.project_dir.join("openclaw-backups")
}

/// OpenClaw's own services, which stock OpenClaw reaches by itself (its update check and
/// telemetry, the model catalog, ClawHub for skills and plugins), as OpenClaw 2026.9's
/// code names them (`DEFAULT_TELEMETRY_ENDPOINT`, `DEFAULT_REMOTE_MODEL_CATALOG_URL`,
/// `DEFAULT_CLAWHUB_URL`): a request to one refused by the proxy is OpenClaw being itself.
pub const SERVICE_HOSTS: [(&str, &str); 3] = [
    ("telemetry.openclaw.ai", "its update check"),
    ("catalog.openclaw.ai", "its model catalog"),
    ("clawhub.ai", "ClawHub, its skills and plugins hub"),
];

/// Where the config directory is mounted in the container (read-only).
pub const CONTAINER_CONFIG_DIR: &str = "/etc/openclaw";
/// The first line of a config clawguard wrote.
const MARK: &str = "// Managed by clawguard.";

/// The OpenClaw setting that takes a service's key, for the services OpenClaw knows by
/// one key. Others are handed to the container as files and named in the plan.
pub fn setting_for(service: &str) -> Option<&'static [&'static str]> {
    Some(match service {
        "openai" => &["models", "providers", "openai", "apiKey"],
        "anthropic" => &["models", "providers", "anthropic", "apiKey"],
        "google" | "gemini" => &["models", "providers", "google", "apiKey"],
        "mistral" => &["models", "providers", "mistral", "apiKey"],
        "xai" => &["models", "providers", "xai", "apiKey"],
        "openrouter" => &["models", "providers", "openrouter", "apiKey"],
        "groq" => &["models", "providers", "groq", "apiKey"],
        "slack" => &["channels", "slack", "botToken"],
        "telegram" => &["channels", "telegram", "botToken"],
        "discord" => &["channels", "discord", "token"],
        "brave" => &["plugins", "entries", "brave", "config", "webSearch", "apiKey"],
        _ => return None,
    })
}

/// Whether the plan gives OpenClaw a gateway token from the vault.
pub fn wants_gateway_key(a: &Answers) -> bool {
    a.sandbox.profile == crate::answers::Profile::Openclaw
        && !a.skip.contains(&Layer::Sandbox)
        && !a.skip.contains(&Layer::Credentials)
}

/// The provider name of a key's file reference (OpenClaw: `^[a-z][a-z0-9_-]{0,63}$`;
/// service names are identifiers of that alphabet, `-` and `_` included).
fn provider(key: &str) -> String {
    format!("clawguard_{}", key.to_ascii_lowercase())
}

/// Adds the config files. `keys`: the secrets the container gets (in the vault or typed
/// now), each mounted at `/run/secrets/NAME`; `proxy`: the proxy's URL when egress is on.
pub(super) fn plan(a: &Answers, f: &Facts, b: &mut Builder, keys: &[String], proxy: Option<&str>) {
    let layer = Layer::Sandbox;
    let s = &a.sandbox;
    let dir = s.config_dir.as_str();
    let (config_path, settings_path) = (s.config_dir.join(CONFIG), s.config_dir.join(SETTINGS));
    if f.agent_config.dir != dir {
        b.block(
            layer,
            Refusal::Unsafe,
            format!("{dir} was not read (the facts are of {}): run clawguard again", f.agent_config.dir),
        );
        return;
    }
    let unreadable = |b: &mut Builder, path: &str, why: &str| {
        b.block(layer, Refusal::Unsafe, format!("{path} cannot be read ({why}): clawguard keeps OpenClaw's own settings in it and will not write over what it cannot read. Make it a regular file (or move it away) and run clawguard again."));
    };
    // The user's settings: kept as they are; on the first run, the old openclaw.json.
    let ours = |t: &str| t.starts_with(MARK);
    let settings = match (&f.agent_config.settings, &f.agent_config.config) {
        (FileFact::Unreadable(why), _) => return unreadable(b, &settings_path, why),
        (_, FileFact::Unreadable(why)) => return unreadable(b, &config_path, why),
        (FileFact::Text(t), FileFact::Text(old)) if !ours(old) => {
            b.warn(layer, Severity::Warning, format!("{config_path} was not written by clawguard and {settings_path} exists too: clawguard's openclaw.json replaces it (the old one is kept in this generation's backup). Move any of its settings you still want into {SETTINGS}."));
            t.clone()
        }
        (FileFact::Text(t), _) => t.clone(),
        (FileFact::Absent, FileFact::Text(old)) if !ours(old) => {
            b.warn(layer, Severity::Note, format!("OpenClaw's settings in {config_path} move to {settings_path}, unchanged; clawguard's openclaw.json includes them and adds only what the sandbox needs."));
            old.clone()
        }
        (FileFact::Absent, _) => format!(
            "// Your own OpenClaw settings (JSON5). {CONFIG} next to this file includes them;\n// the few settings it sets itself (proxy, gateway, keys, log file) win.\n{{\n}}\n"
        ),
    };
    // The agent's own and nobody else's (OpenClaw's audit calls a readable config
    // critical): a user's old config may hold keys in plaintext. Mounted read-only.
    let (uid, gid) = super::sandbox::agent_ids(a, f);
    let owner = || Owner::Uid(uid, gid);
    b.owned_file(layer, settings_path, settings, 0o600, owner());

    // Suggestions the user's settings may override: the Control UI's origins (the
    // gateway is reached through an SSH tunnel to 127.0.0.1) and a limit on failed logins.
    let port = s.gateway_port.get();
    let mut defaults = json!({
        "gateway": {
            "controlUi": { "allowedOrigins": [format!("http://127.0.0.1:{port}"), format!("http://localhost:{port}")] },
            "auth": { "rateLimit": { "maxAttempts": 10, "windowMs": 60000, "lockoutMs": 300000 } },
        }
    });
    // Stock OpenClaw reaches its own services when it starts (an update check, the model
    // catalog): behind the allow-list the proxy would refuse them every start, and the
    // daily check would report each as an agent reaching off its list. Off unless the user
    // turns them on (and allows their hosts).
    if proxy.is_some() {
        defaults["update"] = json!({ "checkOnStart": false });
        defaults["models"] = json!({ "catalogRefresh": { "enabled": false } });
        b.warn(layer, Severity::Note, format!(
            "OpenClaw's own start-up requests are off in {DEFAULTS}: its update check ({}) and its model catalog refresh ({}); the allow-list would refuse them. To have one, turn it on in {SETTINGS} (update.checkOnStart, models.catalogRefresh.enabled) and add its host to egress.allowed_hosts.",
            SERVICE_HOSTS[0].0, SERVICE_HOSTS[1].0
        ));
    }
    let text = format!(
        "{MARK} clawguard's suggestions for OpenClaw; {SETTINGS} overrides any of them.\n{}\n",
        serde_json::to_string_pretty(&defaults).expect("a JSON value")
    );
    b.owned_file(layer, s.config_dir.join(DEFAULTS), text, 0o600, owner());

    let mut config = Map::new();
    config.insert("$include".into(), json!([format!("./{DEFAULTS}"), format!("./{SETTINGS}")]));
    let mut providers = Map::new();
    let mut unused = Vec::new();
    for key in keys {
        providers.insert(
            provider(key),
            json!({ "source": "file", "path": format!("/run/secrets/{key}"), "mode": "singleValue" }),
        );
        if key == GATEWAY_KEY {
            continue;
        }
        match setting_for(key) {
            Some(at) => set_ref(&mut config, at, key),
            None => unused.push(key.as_str()),
        }
    }
    // Inside the container the gateway listens on the agent's network only (no route in
    // but the 127.0.0.1 forwarder); unpublished, on its loopback.
    let mut gateway = json!({
        "mode": "local",
        "port": s.gateway_port.get(),
        "bind": if s.publish_gateway { "lan" } else { "loopback" },
    });
    if keys.iter().any(|k| k == GATEWAY_KEY) {
        gateway["auth"] =
            json!({ "mode": "token", "token": { "source": "file", "provider": provider(GATEWAY_KEY), "id": "value" } });
    } else if s.publish_gateway {
        b.block(layer, Refusal::Unsafe, "The gateway is published but has no token (the credentials layer, which keeps it, is skipped): set sandbox.publish_gateway = false, or do not skip credentials");
    }
    config.insert("gateway".into(), gateway);
    if !providers.is_empty() {
        config.insert("secrets".into(), json!({ "providers": providers }));
    }
    // A message that arrived on one provider (a stranger on a public Slack) never makes the
    // agent send on another (the owner's Telegram): OpenClaw allows that by default
    // (`allowAcrossProviders !== false` in 2026.9), so it is pinned off here.
    let mut tools = json!({ "message": { "crossContext": { "allowAcrossProviders": false } } });
    match proxy {
        Some(url) => {
            // OpenClaw's own routing (fetch, node:http, WebSockets), and web_fetch's switch
            // to use it; loopback (its own gateway) stays direct.
            config.insert("proxy".into(), json!({ "enabled": true, "proxyUrl": url, "loopbackMode": "gateway-only" }));
            tools["web"] = json!({ "fetch": { "useTrustedEnvProxy": true } });
        }
        None => {
            config.insert("proxy".into(), json!({ "enabled": false }));
        }
    }
    config.insert("tools".into(), tools);
    config.insert("logging".into(), json!({ "file": format!("{}/openclaw.log", super::sandbox::CONTAINER_LOG_DIR) }));
    let text = format!(
        "{MARK} A change made here by hand is reported as a conflict: put your own\n// settings in {SETTINGS} next to this file (included below, after {DEFAULTS};\n// what is set here wins over both).\n// Keys are references to files the vault hands over, never values.\n{}\n",
        serde_json::to_string_pretty(&Value::Object(config)).expect("a JSON value")
    );
    b.owned_file(layer, config_path, text, 0o600, owner());
    if !unused.is_empty() {
        b.warn(layer, Severity::Note, format!(
            "OpenClaw has no single setting for {}: the key is in the container at /run/secrets/NAME; reference it from {SETTINGS} as {{ source: \"file\", provider: \"clawguard_NAME\", id: \"value\" }}.",
            unused.join(", ")
        ));
    }
}

/// Sets the file reference of `key` at the path `at`, making the objects on the way.
fn set_ref(config: &mut Map<String, Value>, at: &[&str], key: &str) {
    let mut node = config;
    for part in &at[..at.len() - 1] {
        node = node.entry(*part).or_insert_with(|| json!({})).as_object_mut().expect("objects only");
    }
    node.insert(at[at.len() - 1].into(), json!({ "source": "file", "provider": provider(key), "id": "value" }));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::AgentConfig;

    fn facts(config: FileFact, settings: FileFact, keys: &[&str]) -> Facts {
        Facts {
            agent_config: AgentConfig { dir: crate::answers::DEFAULT_CONFIG_DIR.into(), config, settings },
            vault_keys: keys.iter().map(|k| k.to_string()).collect(),
            ..Facts::default()
        }
    }

    fn files(f: &Facts) -> (crate::plan::Plan, String, String) {
        let plan = crate::layers::plan(&Answers::default(), f).unwrap();
        let get = |name: &str| {
            plan.file(&format!("{}/{name}", crate::answers::DEFAULT_CONFIG_DIR)).map(|f| f.content.clone())
        };
        let (c, s) = (get(CONFIG).unwrap_or_default(), get(SETTINGS).unwrap_or_default());
        (plan, c, s)
    }

    fn json(config: &str) -> Value {
        let body: String = config.lines().filter(|l| !l.starts_with("//")).collect::<Vec<_>>().join("\n");
        serde_json::from_str(&body).unwrap()
    }

    #[test]
    fn keys_reach_openclaw_as_file_references_never_as_values() {
        let f = facts(FileFact::Absent, FileFact::Absent, &["openai", "slack", "gmail", GATEWAY_KEY]);
        let (plan, config, settings) = files(&f);
        let v = json(&config);
        assert_eq!(v["$include"], json!(["./clawguard-defaults.json5", "./settings.json5"]));
        assert_eq!(
            v["models"]["providers"]["openai"]["apiKey"],
            json!({"source": "file", "provider": "clawguard_openai", "id": "value"})
        );
        assert_eq!(v["channels"]["slack"]["botToken"]["provider"], "clawguard_slack");
        assert_eq!(
            v["secrets"]["providers"]["clawguard_openai"],
            json!({"source": "file", "path": "/run/secrets/openai", "mode": "singleValue"})
        );
        assert_eq!(v["gateway"]["auth"]["token"]["provider"], "clawguard_openclaw-gateway");
        assert_eq!(v["proxy"]["proxyUrl"], "http://proxy:3128");
        assert_eq!(v["tools"]["web"]["fetch"]["useTrustedEnvProxy"], true);
        // gmail has no single OpenClaw setting: named, still handed over as a file.
        assert!(v["secrets"]["providers"]["clawguard_gmail"].is_object());
        assert!(plan.warnings.iter().any(|w| w.text.contains("no single setting for gmail")), "{:?}", plan.warnings);
        assert!(settings.contains("Your own OpenClaw settings"));
        assert!(!plan.blockers.iter().any(|b| b.layer == Layer::Sandbox), "{:?}", plan.blockers);
    }

    #[test]
    fn the_users_openclaw_json_becomes_their_settings_byte_for_byte() {
        let old = "// mine\n{ agents: { defaults: { model: 'x' } }, gateway: { bind: 'lan' } }\n";
        let (_, config, settings) = files(&facts(FileFact::Text(old.into()), FileFact::Absent, &[]));
        assert_eq!(settings, old);
        assert!(config.starts_with(MARK));
        // The next run: the config is clawguard's, the settings stay as the user edits them.
        let edited = format!("{old}// edited\n");
        let (_, again, settings) = files(&facts(FileFact::Text(config.clone()), FileFact::Text(edited.clone()), &[]));
        assert_eq!((again, settings), (config, edited));
    }

    #[test]
    fn settings_that_cannot_be_read_stop_the_plan_rather_than_be_replaced() {
        for (config, settings) in [
            (FileFact::Absent, FileFact::Unreadable("not a regular file".into())),
            (FileFact::Unreadable("Permission denied".into()), FileFact::Absent),
        ] {
            let (plan, ..) = files(&facts(config, settings, &[]));
            assert!(plan.blockers.iter().any(|b| b.text.contains("cannot be read")), "{:?}", plan.blockers);
            assert!(plan.file(&format!("{}/{SETTINGS}", crate::answers::DEFAULT_CONFIG_DIR)).is_none());
        }
    }

    #[test]
    fn a_link_a_fifo_or_an_oversized_file_is_unreadable_not_absent() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("srv/openclaw/config");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(d.path().join("secret"), "shadow").unwrap();
        std::os::unix::fs::symlink("/secret", dir.join(SETTINGS)).unwrap();
        rustix::fs::mknodat(rustix::fs::CWD, dir.join(CONFIG), rustix::fs::FileType::Fifo, 0o644.into(), 0).unwrap();
        let root = crate::target::Root::new(d.path());
        let read = crate::host::agent_config(&root, crate::answers::DEFAULT_CONFIG_DIR);
        assert!(matches!(read.settings, FileFact::Unreadable(_)), "{:?}", read.settings);
        assert!(matches!(read.config, FileFact::Unreadable(_)), "{:?}", read.config);
        std::fs::remove_file(dir.join(SETTINGS)).unwrap();
        std::fs::remove_file(dir.join(CONFIG)).unwrap();
        std::fs::write(dir.join(SETTINGS), vec![b' '; (crate::host::AGENT_CONFIG_MAX + 1) as usize]).unwrap();
        let read = crate::host::agent_config(&root, crate::answers::DEFAULT_CONFIG_DIR);
        assert!(matches!(read.settings, FileFact::Unreadable(ref w) if w.contains("2 MB")), "{:?}", read.settings);
        assert_eq!(read.config, FileFact::Absent);
    }
}
