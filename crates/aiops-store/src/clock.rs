//! Timestamps as the stores write and compare them: RFC 3339 text (UTC), and milliseconds
//! since the Unix epoch for deadlines.

use crate::StoreError;

/// An RFC 3339 timestamp in milliseconds since the Unix epoch.
pub(crate) fn rfc3339_ms(text: &str) -> Result<i64, StoreError> {
    let t = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map_err(|e| StoreError::Query(format!("bad timestamp {text}: {e}")))?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000)
        .map_err(|_| StoreError::Query(format!("timestamp out of range: {text}")))
}

/// Milliseconds since the epoch as the store writes timestamps (RFC 3339, UTC).
pub(crate) fn rfc3339_of(ms: i64) -> Result<String, StoreError> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .ok_or_else(|| StoreError::Query(format!("cutoff out of range: {ms} ms")))
}
