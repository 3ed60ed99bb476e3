//! How the core enums are stored: as their snake_case string forms in TEXT columns. Rows
//! decode a column as [`Text`] and parse it; a value no enum knows is a decode error, which
//! the store reports as [`StoreError::Corrupt`](crate::StoreError::Corrupt).

use aiops_core::{ApprovalState, Channel, RequestStatus, Verdict};
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteTypeInfo, SqliteValueRef};
use sqlx::{Decode, Postgres, Sqlite, Type};

/// A TEXT column on its way to a core enum.
pub(crate) struct Text(String);

impl Type<Sqlite> for Text {
    fn type_info() -> SqliteTypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for Text {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as Decode<'r, Sqlite>>::decode(value).map(Text)
    }
}

impl Type<Postgres> for Text {
    fn type_info() -> PgTypeInfo {
        <String as Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <String as Type<Postgres>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Postgres> for Text {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        <String as Decode<'r, Postgres>>::decode(value).map(Text)
    }
}

macro_rules! parsed_from_text {
    ($($enum:ty),*) => {$(
        impl TryFrom<Text> for $enum {
            type Error = String;

            fn try_from(text: Text) -> Result<Self, String> {
                text.0.parse().map_err(|_| format!("unknown value `{}`", text.0))
            }
        }
    )*};
}

parsed_from_text!(RequestStatus, ApprovalState, Verdict, Channel);
