//! What both stores share about keyset-paged lists: reading a cursor, cutting a page of
//! `limit + 1` rows into a page and the next cursor, and the row of a decision with the
//! approval it belongs to.

use crate::{Cursor, CursorList, DecisionRecord, Page, StoreError};

/// The id a cursor of `list` ends at; a cursor of the other list is refused.
pub(crate) fn cursor_id(
    cursor: Option<&Cursor>,
    list: CursorList,
) -> Result<Option<&str>, StoreError> {
    match cursor {
        None => Ok(None),
        Some(c) if c.list() == list => Ok(Some(c.last_id())),
        Some(_) => Err(StoreError::InvalidCursor(
            "a cursor of another list".to_string(),
        )),
    }
}

/// The page's rows (`limit + 1` were asked for) and the cursor of the next page.
pub(crate) fn page_of<T>(
    mut rows: Vec<T>,
    limit: u32,
    list: CursorList,
    id: impl Fn(&T) -> &str,
) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|last| Cursor::after(list, id(last)))
    } else {
        None
    };
    Page { items: rows, next }
}

/// `limit + 1`, as both databases bind it (a 64-bit integer).
pub(crate) fn probe(limit: u32) -> i64 {
    i64::from(limit) + 1
}

/// A decision with the approval it belongs to.
#[derive(sqlx::FromRow)]
pub(crate) struct DecisionRow {
    pub(crate) approval_id: String,
    #[sqlx(flatten)]
    pub(crate) decision: DecisionRecord,
}
