//! The test identities: a requester, approvers, a viewer and an administrator, with the API tokens they present and
//! the Slack app secrets. Only their SHA-256 goes into a daemon's configuration (the
//! daemon harness in `tests/` maps these to its `[[auth.users]]`).

/// A user of the daemon under test.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    pub name: &'static str,
    pub roles: &'static [&'static str],
    /// The bearer token this user presents.
    pub token: &'static str,
    pub slack_id: Option<&'static str>,
}

pub const REQUESTER_TOKEN: &str = "test-requester-token";
pub const APPROVER_TOKEN: &str = "test-approver-token";
pub const APPROVER_SLACK_ID: &str = "UAPPROVER1";

/// `alice`, an operator who requests changes.
pub const REQUESTER: Identity = Identity {
    name: "alice",
    roles: &["operator"],
    token: REQUESTER_TOKEN,
    slack_id: None,
};

/// `bob`, an approver in the groups that own the shipped DNS zones (`netops`) and
/// namespaces (`platform`), also known to Slack.
pub const APPROVER: Identity = Identity {
    name: "bob",
    roles: &["approver", "netops", "platform"],
    token: APPROVER_TOKEN,
    slack_id: Some(APPROVER_SLACK_ID),
};

pub const ADMIN_TOKEN: &str = "test-admin-token";

/// `root`, an administrator of the appliance (may ingest runbooks), not an approver.
pub const ADMIN: Identity = Identity {
    name: "root",
    roles: &["admin"],
    token: ADMIN_TOKEN,
    slack_id: None,
};

pub const OUTSIDER_APPROVER_TOKEN: &str = "test-carol-token";

/// `carol`, an approver of the `payments-team` only: she owns neither the DNS zones nor
/// the other namespaces, so she may not approve changes to them.
pub const OUTSIDER_APPROVER: Identity = Identity {
    name: "carol",
    roles: &["approver", "payments-team"],
    token: OUTSIDER_APPROVER_TOKEN,
    slack_id: None,
};

pub const VIEWER_TOKEN: &str = "test-viewer-token";

/// `vic`, a viewer: reads and asks, changes nothing.
pub const VIEWER: Identity = Identity {
    name: "vic",
    roles: &["viewer"],
    token: VIEWER_TOKEN,
    slack_id: None,
};

/// All of them, in the order a configuration lists them.
pub const ALL: [Identity; 5] = [REQUESTER, APPROVER, ADMIN, OUTSIDER_APPROVER, VIEWER];

/// The Slack app's signing secret: interactions are signed with it as Slack signs them.
pub const SLACK_SIGNING_SECRET: &str = "test-signing-secret-0123456789";

/// Writes the Slack app secret (bot token, signing secret) where a directory secret source
/// reads `slack/app`.
pub fn write_slack_secret(secrets_dir: &std::path::Path, bot_token: &str) {
    let dir = secrets_dir.join("slack");
    std::fs::create_dir_all(&dir).expect("mkdir slack secret dir");
    std::fs::write(
        dir.join("app"),
        serde_json::json!({"bot_token": bot_token, "signing_secret": SLACK_SIGNING_SECRET})
            .to_string(),
    )
    .expect("write the slack secret");
}
