//! A check shared by the Vault source's unit tests (against a fake server) and its
//! integration tests (against OpenBao); both include this file with `#[path]`, and the
//! including module imports `SecretError`.

use super::SecretError;

/// `err` is [`SecretError::Unavailable`] and its message names each of `needles`.
#[track_caller]
pub fn assert_unavailable(err: &SecretError, needles: &[&str]) {
    assert!(
        matches!(err, SecretError::Unavailable(m) if needles.iter().all(|n| m.contains(n))),
        "{err}"
    );
}
