//! Removing secret values from text before it leaves the executor.

use std::borrow::Cow;

use base64::Engine;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD, URL_SAFE};

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
    let std = STANDARD.encode(secret);
    let url = URL_SAFE.encode(secret);
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

/// Decodes the unpadded body of a base64 text. Lenient about the unused bits of the last
/// character: anything that decodes is a form worth scrubbing.
const DECODER: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes standard or URL-safe base64 (padding optional, up to two `=`). `None` when
/// `text` is not base64, or is too short to be worth treating as an encoded secret (under
/// 8 chars).
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let body = text.trim_end_matches('=');
    if body.len() < 8 || text.len() - body.len() > 2 {
        return None;
    }
    // Either alphabet: the URL-safe characters mapped onto the standard ones.
    let standard: String = body
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            other => other,
        })
        .collect();
    DECODER.decode(standard).ok()
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
        let enc = STANDARD.encode(b"s3cr3t-value");
        assert_eq!(enc, "czNjcjN0LXZhbHVl");
        let out = scrub(&format!("Authorization: Basic {enc}"), &["s3cr3t-value"]);
        assert_eq!(out, "Authorization: Basic [REDACTED]");
    }

    #[test]
    fn both_alphabets_of_the_encoding_are_scrubbed() {
        let secret = "pass>>word??";
        let (std, url) = (STANDARD.encode(secret), URL_SAFE.encode(secret));
        assert_eq!(
            (std.as_str(), url.as_str()),
            ("cGFzcz4+d29yZD8/", "cGFzcz4-d29yZD8_")
        );
        let out = scrub(&format!("std {std} url {url}"), &[secret]);
        assert_eq!(out, "std [REDACTED] url [REDACTED]");
    }

    #[test]
    fn decoded_form_of_a_base64_secret_is_scrubbed() {
        let secret = STANDARD.encode(b"correct horse battery");
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
    fn base64_decoding() {
        for data in [
            &b"foobarba"[..],
            b"foobarbaz",
            b"foobarbazq",
            b"pass>>word??",
        ] {
            let std = STANDARD.encode(data);
            assert_eq!(base64_decode(&std).as_deref(), Some(data), "{std}");
            let url = URL_SAFE.encode(data);
            assert_eq!(base64_decode(&url).as_deref(), Some(data), "{url}");
            let unpadded = std.trim_end_matches('=');
            assert_eq!(base64_decode(unpadded).as_deref(), Some(data), "{unpadded}");
        }
        assert_eq!(base64_decode("not base64!"), None);
        assert_eq!(
            base64_decode("Zm9vYmFyYmE=").as_deref(),
            Some(&b"foobarba"[..])
        );
        // Short padding and both alphabets in one text are still read.
        assert_eq!(
            base64_decode("Zm9vYmFyYg=").as_deref(),
            Some(&b"foobarb"[..])
        );
        assert_eq!(
            base64_decode("cGFzcz4-d29yZD8/").as_deref(),
            Some(&b"pass>>word??"[..])
        );
        assert_eq!(base64_decode("Zm9vYmFyYg==="), None, "three pad characters");
        assert_eq!(base64_decode("Zm9vYmFyY"), None, "a length no encoding has");
        assert_eq!(base64_decode("Zm9vYmE="), None, "too short to be a secret");
    }
}
