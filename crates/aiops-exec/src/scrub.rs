//! Removing secret values from text before it leaves the executor.

use std::borrow::Cow;

/// What a secret value is replaced with.
pub const REDACTED: &str = "[REDACTED]";

/// Lines of a multi-line secret at least this long are scrubbed on their own too (a PEM
/// key printed line by line, or one line of it quoted in an error).
const MIN_LINE_LEN: usize = 8;

/// Replaces every occurrence of every secret in `text` with `[REDACTED]`.
///
/// Occurrences are found anywhere, also inside longer words (substring matches). Besides
/// the value itself, these forms of each secret are scrubbed:
/// - its JSON-escaped form (what a JSON dump of the value shows, e.g. `\"` or `\n`);
/// - its base64 encodings (standard and URL-safe, with and without padding);
/// - for a secret that is itself base64 (a TSIG key, say): the form without padding, the
///   other alphabet, and the decoded text when that is printable UTF-8;
/// - each line (of at least 8 characters) of a multi-line secret.
///
/// Empty secrets are ignored; all others are scrubbed however short (fail closed).
/// At each position the longest matching form wins.
pub fn scrub(text: &str, secrets: &[&str]) -> String {
    let mut forms: Vec<String> = Vec::new();
    for secret in secrets {
        add_forms(secret, &mut forms);
    }
    if forms.is_empty() || text.is_empty() {
        return text.to_owned();
    }
    forms.sort_by(|a, b| b.len().cmp(&a.len()).then_with(|| a.cmp(b)));
    forms.dedup();

    let pattern = forms
        .iter()
        .map(|f| regex::escape(f))
        .collect::<Vec<_>>()
        .join("|");
    match regex::RegexBuilder::new(&pattern)
        .size_limit(64 << 20)
        .build()
    {
        Ok(re) => re.replace_all(text, REDACTED).into_owned(),
        // A pattern too large to compile: replace the forms one by one, longest first.
        Err(_) => {
            let mut out = text.to_owned();
            for form in &forms {
                if out.contains(form.as_str()) {
                    out = out.replace(form.as_str(), REDACTED);
                }
            }
            out
        }
    }
}

fn push(forms: &mut Vec<String>, form: Cow<'_, str>) {
    if !form.is_empty() && !forms.iter().any(|f| f == form.as_ref()) {
        forms.push(form.into_owned());
    }
}

fn add_forms(secret: &str, forms: &mut Vec<String>) {
    if secret.is_empty() {
        return;
    }
    push(forms, Cow::Borrowed(secret));

    // As a JSON string shows it (without the quotes).
    if let Ok(json) = serde_json::to_string(secret) {
        let inner = &json[1..json.len() - 1];
        if inner != secret {
            push(forms, Cow::Owned(inner.to_owned()));
        }
    }

    // Base64 encodings of the value.
    let std = base64_encode(secret.as_bytes(), STD_ALPHABET);
    let url = base64_encode(secret.as_bytes(), URL_ALPHABET);
    for enc in [&std, &url] {
        push(forms, Cow::Owned(enc.trim_end_matches('=').to_owned()));
        push(forms, Cow::Borrowed(enc.as_str()));
    }

    // A secret that is itself base64: its unpadded form, the other alphabet, its decoding.
    let trimmed = secret.trim();
    if let Some(bytes) = base64_decode(trimmed) {
        let unpadded = trimmed.trim_end_matches('=');
        push(forms, Cow::Borrowed(unpadded));
        let swapped: String = unpadded
            .chars()
            .map(|c| match c {
                '+' => '-',
                '/' => '_',
                '-' => '+',
                '_' => '/',
                other => other,
            })
            .collect();
        push(forms, Cow::Owned(swapped));
        if let Ok(decoded) = std::str::from_utf8(&bytes)
            && decoded.len() >= 4
            && decoded.chars().all(|c| !c.is_control() || c == '\n')
        {
            push(forms, Cow::Owned(decoded.to_owned()));
        }
    }

    // Lines of a multi-line secret.
    if secret.contains('\n') {
        for line in secret.lines() {
            let line = line.trim();
            if line.len() >= MIN_LINE_LEN {
                push(forms, Cow::Borrowed(line));
            }
        }
    }
}

const STD_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL_ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Padded base64 of `data`.
pub(crate) fn base64_encode(data: &[u8], alphabet: &[u8; 64]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let idx = |shift: u32| char::from(alphabet[((n >> shift) & 63) as usize]);
        out.push(idx(18));
        out.push(idx(12));
        out.push(if chunk.len() > 1 { idx(6) } else { '=' });
        out.push(if chunk.len() > 2 { idx(0) } else { '=' });
    }
    out
}

/// Decodes standard or URL-safe base64 (padding optional). `None` when `text` is not
/// base64, or is too short to be worth treating as an encoded secret (under 8 chars).
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if body.len() < 8 || text.len() - body.len() > 2 || body.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(body.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in body.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(((acc >> bits) & 0xff) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_plain_occurrences_everywhere() {
        let out = scrub("pw=hunter2; again hunter2!", &["hunter2"]);
        assert_eq!(out, "pw=[REDACTED]; again [REDACTED]!");
    }

    #[test]
    fn replaces_substrings_inside_words() {
        assert_eq!(
            scrub("xxhunter2yy", &["hunter2"]),
            "xx[REDACTED]yy".to_string()
        );
    }

    #[test]
    fn empty_secret_and_no_secret_are_noops() {
        assert_eq!(scrub("abc", &[]), "abc");
        assert_eq!(scrub("abc", &[""]), "abc");
        assert_eq!(scrub("", &["abc"]), "");
    }

    #[test]
    fn base64_tsig_secret_and_its_variants() {
        let secret = "iOuKzCRCXhUCe0NVNGIfDW9o7HlhteXt5oFauuxu764=";
        let text = format!(
            "key {secret} / unpadded iOuKzCRCXhUCe0NVNGIfDW9o7HlhteXt5oFauuxu764 / url iOuKzCRCXhUCe0NVNGIfDW9o7HlhteXt5oFauuxu764"
        );
        let out = scrub(&text, &[secret]);
        assert!(!out.contains("iOuKzCRC"), "{out}");
        assert_eq!(out.matches(REDACTED).count(), 3, "{out}");
        // Regex metacharacters (+ / =) are taken literally.
        let out = scrub("a+b=c", &["+b="]);
        assert_eq!(out, "a[REDACTED]c");
    }

    #[test]
    fn base64_encoding_of_a_secret_is_scrubbed() {
        // "s3cr3t-value" in base64, as a tool that encodes values would print it.
        let enc = base64_encode(b"s3cr3t-value", STD_ALPHABET);
        assert_eq!(enc, "czNjcjN0LXZhbHVl");
        let out = scrub(&format!("Authorization: Basic {enc}"), &["s3cr3t-value"]);
        assert_eq!(out, "Authorization: Basic [REDACTED]");
    }

    #[test]
    fn decoded_form_of_a_base64_secret_is_scrubbed() {
        let secret = base64_encode(b"correct horse battery", STD_ALPHABET);
        let out = scrub("the password is correct horse battery", &[&secret]);
        assert_eq!(out, "the password is [REDACTED]");
    }

    #[test]
    fn json_escaped_forms() {
        let secret = "pa\"ss\\word";
        let json = serde_json::json!({ "msg": secret }).to_string();
        let out = scrub(&json, &[secret]);
        assert!(!out.contains("ss\\\\word"), "{out}");
        assert_eq!(out, r#"{"msg":"[REDACTED]"}"#);
    }

    #[test]
    fn multi_line_secrets_line_by_line() {
        let secret = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFFGGGG\n-----END KEY-----";
        let out = scrub("error near line EEEEFFFFGGGG of key", &[secret]);
        assert_eq!(out, "error near line [REDACTED] of key");
    }

    #[test]
    fn longest_match_wins_and_several_secrets() {
        let out = scrub("abcdef abc def", &["abc", "abcdef", "def"]);
        assert_eq!(out, "[REDACTED] [REDACTED] [REDACTED]");
    }

    #[test]
    fn base64_round_trip() {
        for data in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
            let enc = base64_encode(data, STD_ALPHABET);
            if enc.trim_end_matches('=').len() >= 8 {
                assert_eq!(base64_decode(&enc).as_deref(), Some(data));
            }
        }
        assert_eq!(base64_encode(b"foobar", STD_ALPHABET), "Zm9vYmFy");
        assert_eq!(base64_encode(b"fooba", STD_ALPHABET), "Zm9vYmE=");
        assert_eq!(base64_decode("not base64!"), None);
        assert_eq!(
            base64_decode("Zm9vYmFyYmE=").as_deref(),
            Some(&b"foobarba"[..])
        );
        assert_eq!(base64_decode("Zm9vYmE="), None, "too short to be a secret");
    }
}
