//! The page parameters of the keyset-paged lists (`/api/v1/approvals`, `/api/v1/intents`):
//! `limit` and the opaque `cursor` a previous page answered as `next_cursor`.

use aiops_core::ErrorCode;
use aiops_store::{Cursor, CursorList};

use super::ApiError;

/// Items per page when the client does not say.
pub(super) const DEFAULT_LIMIT: u32 = 50;
/// The most a page holds: a page is one bounded read, whatever the client asks.
pub(super) const MAX_LIMIT: u32 = 500;

/// The page size: default [`DEFAULT_LIMIT`]; 0 or more than [`MAX_LIMIT`] is a 422.
pub(super) fn limit(given: Option<u32>) -> Result<u32, ApiError> {
    match given.unwrap_or(DEFAULT_LIMIT) {
        n @ 1..=MAX_LIMIT => Ok(n),
        _ => Err(ApiError::new(
            ErrorCode::InvalidRequest,
            format!("limit must be between 1 and {MAX_LIMIT}"),
        )),
    }
}

/// The cursor of `list`, if given; one this daemon did not issue for `list` is a 400.
pub(crate) fn cursor(given: Option<&str>, list: CursorList) -> Result<Option<Cursor>, ApiError> {
    given
        .map(|token| Cursor::decode(token, list))
        .transpose()
        .map_err(|e| ApiError::new(ErrorCode::BadRequest, e.to_string()))
}
