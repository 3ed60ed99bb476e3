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
    pub fn code(&self) -> &'static str {
        match self {
            CoreError::UnknownAction(_) => "unknown_action",
            CoreError::InvalidParams { .. } => "invalid_params",
            CoreError::InvalidCatalog(_) => "invalid_catalog",
        }
    }
}
