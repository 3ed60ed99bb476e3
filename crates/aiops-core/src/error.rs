use thiserror::Error;

/// Errors of the catalog and the typed values. `code()` is stable: clients and audit rows use it.
#[derive(Debug, Error)]
pub enum CoreError {
    #[error("unknown action `{0}`: it is not in the catalog")]
    UnknownAction(String),
    #[error("invalid parameters for `{action}`: {}", errors.join("; "))]
    InvalidParams { action: String, errors: Vec<String> },
    #[error("catalog is invalid: {0}")]
    InvalidCatalog(String),
}

impl CoreError {
    pub fn code(&self) -> crate::ErrorCode {
        use crate::ErrorCode;
        match self {
            CoreError::UnknownAction(_) => ErrorCode::UnknownAction,
            CoreError::InvalidParams { .. } => ErrorCode::InvalidParams,
            CoreError::InvalidCatalog(_) => ErrorCode::InvalidCatalog,
        }
    }
}
