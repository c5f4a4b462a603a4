//! What clawguard knows of each service whose key the vault may hold: where a key is
//! revoked (and made), and how narrow a key the agent needs — for `incident`, `secrets
//! rotate` and the wizard's credentials screen. Names are the vault's; others get the
//! service's console.

pub fn revoke_at(name: &str) -> &'static str {
    match name {
        "openai" => "https://platform.openai.com/api-keys",
        "anthropic" => "https://console.anthropic.com/settings/keys",
        "gmail" | "google" => "https://myaccount.google.com/permissions (and the app password or OAuth client)",
        "slack" => "https://api.slack.com/apps → your app → OAuth & Permissions → revoke tokens",
        "telegram" => "BotFather: /revoke",
        "discord" => "https://discord.com/developers/applications → Bot → Reset Token",
        "github" => "https://github.com/settings/tokens",
        "openclaw-gateway" => {
            "clawguard's own: `clawguard secrets rotate openclaw-gateway` with a new random value (`openssl rand -hex 32`)"
        }
        "clawguard-restic" => "the backup repository: `restic key add`, then `restic key remove` the old key",
        "clawguard-telegram" => "BotFather: /revoke (the alert bot)",
        _ => "the service's own console",
    }
}

/// The narrowest key the agent needs from `name`, in a sentence.
pub fn scope(name: &str) -> &'static str {
    match name {
        "openai" => "a project key limited to the models the agent uses, with a monthly budget cap on the project",
        "anthropic" => "a key in a workspace of its own, with a spend limit on that workspace",
        "gmail" | "google" => "an OAuth client or app password for one mailbox the agent owns, never your own account",
        "slack" => {
            "a bot token with only the scopes it uses (chat:write, channels:history of its channels), not a user token"
        }
        "telegram" => "a bot of its own from BotFather; it sees only the chats it is added to",
        "discord" => "a bot of its own, invited with only the permissions it uses",
        "github" => "a fine-grained token for the repositories it works on, read-only where it can be",
        "openclaw-gateway" => "made by clawguard; rotating it logs out every client of the gateway",
        "clawguard-restic" => {
            "the backup repository's password: rotating it needs `restic key add` and `restic key remove`"
        }
        "clawguard-telegram" => "clawguard's alert bot: a bot of its own, in the one chat it posts to",
        _ => "the narrowest key the service offers: one purpose, one project, a spend limit",
    }
}
