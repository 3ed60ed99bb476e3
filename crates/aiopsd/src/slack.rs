//! Slack approvals: request signing (inbound) and Block Kit messages (outbound).
//!
//! Inbound requests are verified exactly as Slack documents: HMAC-SHA256 with the signing
//! secret over `v0:{timestamp}:{raw body}`, hex, prefixed `v0=`, compared in constant time,
//! timestamp within 300 s; only then is the body decoded.

use std::time::Duration;

use aiops_store::ApprovalRecord;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

/// Slack's replay window.
pub const MAX_SKEW_SECS: i64 = 300;

pub const ACTION_APPROVE: &str = "aiops_approve";
pub const ACTION_REJECT: &str = "aiops_reject";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing X-Slack-Request-Timestamp or X-Slack-Signature")]
    Missing,
    #[error("the request timestamp is not a number")]
    BadTimestamp,
    #[error("the request timestamp is outside the 300 s window")]
    Stale,
    #[error("the signature does not match")]
    Mismatch,
}

/// A request whose signature verified: what the replay check remembers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    mac: Vec<u8>,
}

impl Verified {
    /// The replay nonce: the verified MAC in one canonical spelling (`v0=` and lower-case
    /// hex, as Slack sends it). Keyed on the decoded bytes, not the header as received:
    /// hex decoding ignores case, so the same signature spelled in upper or mixed case
    /// verifies too and must count as the same request.
    pub fn nonce(&self) -> String {
        format!("v0={}", hex::encode(&self.mac))
    }
}

/// Verifies a Slack request signature. `now` is Unix seconds.
pub fn verify(
    signing_secret: &[u8],
    timestamp: Option<&str>,
    signature: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<Verified, SignatureError> {
    let (Some(ts), Some(sig)) = (timestamp, signature) else {
        return Err(SignatureError::Missing);
    };
    let ts_num: i64 = ts
        .trim()
        .parse()
        .map_err(|_| SignatureError::BadTimestamp)?;
    if (now - ts_num).abs() > MAX_SKEW_SECS {
        return Err(SignatureError::Stale);
    }
    let expected = sig
        .strip_prefix("v0=")
        .and_then(|h| hex::decode(h).ok())
        .ok_or(SignatureError::Mismatch)?;
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_secret).map_err(|_| SignatureError::Mismatch)?;
    mac.update(b"v0:");
    mac.update(ts.as_bytes());
    mac.update(b":");
    mac.update(body);
    // verify_slice compares in constant time.
    mac.verify_slice(&expected)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(Verified { mac: expected })
}

/// Signs like Slack does; for tests and the local receiver.
pub fn sign(signing_secret: &[u8], timestamp: &str, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(signing_secret).expect("HMAC takes any key length");
    mac.update(b"v0:");
    mac.update(timestamp.as_bytes());
    mac.update(b":");
    mac.update(body);
    format!("v0={}", hex::encode(mac.finalize().into_bytes()))
}

/// A button click from an interaction payload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Click {
    pub slack_user: String,
    pub action_id: String,
    pub approval_id: String,
}

/// Decodes `payload=<json>` (form-encoded) and returns our button clicks.
pub fn parse_interaction(body: &[u8]) -> Result<Vec<Click>, String> {
    let payload = form_urlencoded::parse(body)
        .find(|(k, _)| k == "payload")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| "no `payload` field".to_string())?;
    let v: Value =
        serde_json::from_str(&payload).map_err(|_| "the payload is not JSON".to_string())?;
    if v["type"] != "block_actions" {
        return Ok(Vec::new());
    }
    let user = v["user"]["id"]
        .as_str()
        .ok_or("the payload has no user.id")?
        .to_string();
    Ok(v["actions"]
        .as_array()
        .map(|a| a.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|a| {
            let action_id = a["action_id"].as_str()?;
            if action_id != ACTION_APPROVE && action_id != ACTION_REJECT {
                return None;
            }
            Some(Click {
                slack_user: user.clone(),
                action_id: action_id.to_string(),
                approval_id: a["value"].as_str()?.to_string(),
            })
        })
        .collect())
}

/// Escapes text for Slack mrkdwn (`&`, `<`, `>` are control characters there).
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// What a message shows about its request. Built from stored records: never secrets.
pub struct MessageView<'a> {
    pub approval: &'a ApprovalRecord,
    pub nl: &'a str,
    pub action: &'a str,
    pub diff: &'a str,
    pub outcome: Option<&'a str>,
    /// The groups that own the request's targets: only they (or an admin) may approve.
    pub owners: &'a [String],
}

fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_string()
    } else {
        format!("{}…", text.chars().take(max).collect::<String>())
    }
}

/// The Block Kit message for an approval: buttons while pending, the outcome afterwards.
pub fn message(channel: &str, v: &MessageView<'_>) -> Value {
    let a = v.approval;
    let mut blocks = vec![
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*Approval {}:* `{}` requested by *{}*\n>{}",
            if a.state == aiops_core::ApprovalState::Pending { "needed" } else { "closed" },
            escape(v.action), escape(&a.requester), escape(&clip(v.nl, 500)))}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*Plan* (hash `{}`):\n```{}```", &a.plan_hash[..a.plan_hash.len().min(12)], escape(&clip(v.diff, 2500)))}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
            "approval `{}` · {} approver(s) needed{} · expires {}", escape(&a.id), a.approvals_required,
            if v.owners.is_empty() { String::new() } else { format!(" from *{}*", escape(&v.owners.join(", "))) },
            escape(&a.expires_at))}]}),
    ];
    if a.state == aiops_core::ApprovalState::Pending {
        blocks.push(
            json!({"type": "actions", "block_id": "aiops_decision", "elements": [
                {"type": "button", "action_id": ACTION_APPROVE, "style": "primary", "value": a.id,
                 "text": {"type": "plain_text", "text": "Approve"}},
                {"type": "button", "action_id": ACTION_REJECT, "style": "danger", "value": a.id,
                 "text": {"type": "plain_text", "text": "Reject"}},
            ]}),
        );
    } else {
        let by: Vec<String> = a
            .decisions
            .iter()
            .map(|d| {
                format!(
                    "{} by {} via {}",
                    d.decision,
                    escape(&d.approver),
                    escape(d.channel.as_str())
                )
            })
            .collect();
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
            "*State:* {}{}{}",
            escape(a.state.as_str()),
            if by.is_empty() { String::new() } else { format!(" ({})", by.join(", ")) },
            v.outcome.map(|o| format!("\n*Outcome:* {}", escape(&clip(o, 500)))).unwrap_or_default())}}));
    }
    json!({
        "channel": channel,
        "text": format!("Approval {} for {} requested by {}", a.state, v.action, a.requester),
        "blocks": blocks,
    })
}

/// Calls Slack's Web API (`chat.postMessage`, `chat.update`).
pub struct SlackClient {
    http: reqwest::Client,
    base: String,
}

impl SlackClient {
    pub fn new(base: &str, timeout: Duration) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(SlackClient {
            http,
            base: base.trim_end_matches('/').to_string(),
        })
    }

    /// Returns Slack's answer when `ok` is true; the error names the method and Slack's error.
    pub async fn call(&self, method: &str, bot_token: &str, body: &Value) -> Result<Value, String> {
        let resp = self
            .http
            .post(format!("{}/{method}", self.base))
            .bearer_auth(bot_token)
            .json(body)
            .send()
            .await
            .map_err(|e| format!("{method}: {}", e.without_url()))?;
        let status = resp.status();
        let v: Value = resp
            .json()
            .await
            .map_err(|_| format!("{method}: HTTP {status}, not JSON"))?;
        if v["ok"] == true {
            Ok(v)
        } else {
            Err(format!(
                "{method}: {}",
                v["error"].as_str().unwrap_or("not ok")
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Slack's published example ("Verifying requests from Slack").
    const SECRET: &[u8] = b"8f742231b10e8888abcd99yyyzzz85a5";
    const TS: &str = "1531420618";
    const BODY: &[u8] = b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2Fcommands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c";
    const SIG: &str = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503";

    #[test]
    fn slack_published_example_verifies() {
        assert_eq!(sign(SECRET, TS, BODY), SIG);
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, 1531420618 + 10).map(|v| v.nonce()),
            Ok(SIG.to_string())
        );
    }

    /// Hex decoding ignores case, so one signature has many spellings that all verify; the
    /// replay nonce is the same for every one of them.
    #[test]
    fn every_spelling_of_a_signature_has_one_nonce() {
        let now = 1531420618;
        let hex = SIG.strip_prefix("v0=").unwrap();
        let mixed: String = hex
            .chars()
            .enumerate()
            .map(|(i, c)| {
                if i % 2 == 0 {
                    c.to_ascii_uppercase()
                } else {
                    c
                }
            })
            .collect();
        for spelling in [
            SIG.to_string(),
            format!("v0={}", hex.to_ascii_uppercase()),
            format!("v0={mixed}"),
        ] {
            let verified = verify(SECRET, Some(TS), Some(&spelling), BODY, now).unwrap();
            assert_eq!(verified.nonce(), SIG, "{spelling}");
        }
    }

    #[test]
    fn tampering_staleness_and_wrong_secrets_are_refused() {
        let now = 1531420618;
        let mut tampered = BODY.to_vec();
        tampered[10] ^= 1;
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), &tampered, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, now + 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some(SIG), BODY, now - 301),
            Err(SignatureError::Stale)
        );
        assert_eq!(
            verify(b"another-secret", Some(TS), Some(SIG), BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, None, Some(SIG), BODY, now),
            Err(SignatureError::Missing)
        );
        assert_eq!(
            verify(SECRET, Some("soon"), Some(SIG), BODY, now),
            Err(SignatureError::BadTimestamp)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some("v1=abc"), BODY, now),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(SECRET, Some(TS), Some("v0=zz"), BODY, now),
            Err(SignatureError::Mismatch)
        );
        // a timestamp changed without re-signing
        assert_eq!(
            verify(SECRET, Some("1531420619"), Some(SIG), BODY, now),
            Err(SignatureError::Mismatch)
        );
    }

    #[test]
    fn interactions_yield_our_clicks_only() {
        let payload = json!({"type": "block_actions", "user": {"id": "U1"},
            "actions": [{"action_id": "aiops_approve", "value": "01A"},
                        {"action_id": "something_else", "value": "x"}]});
        let body = format!(
            "payload={}",
            form_urlencoded::byte_serialize(payload.to_string().as_bytes()).collect::<String>()
        );
        assert_eq!(
            parse_interaction(body.as_bytes()).unwrap(),
            [Click {
                slack_user: "U1".into(),
                action_id: "aiops_approve".into(),
                approval_id: "01A".into()
            }]
        );
        assert!(parse_interaction(b"nothing=here").is_err());
        assert!(parse_interaction(b"payload=%7Bnot").is_err());
    }

    #[test]
    fn mrkdwn_is_escaped() {
        assert_eq!(
            escape("<!channel> & <http://x|y>"),
            "&lt;!channel&gt; &amp; &lt;http://x|y&gt;"
        );
    }
}
