//! Extractors for the path, the query string and raw bodies whose rejections are our JSON
//! errors: axum's own (`Path`, `Query`, `Bytes`) answer in plain text, and every error
//! answer of this API is `{"error": {"code", "message"}}` (the router fuzz test,
//! `crates/aiopsd/tests/fuzz.rs`, holds every route to it).

use aiops_core::ErrorCode;
use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Path, Query, Request};
use axum::http::StatusCode;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::ApiError;

/// `Path<T>`: a segment that does not decode (percent-encoded bytes that are not UTF-8)
/// or does not fit `T` is a 400 `bad_request`.
pub struct ApiPath<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Path::<T>::from_request_parts(parts, state).await {
            Ok(Path(v)) => Ok(ApiPath(v)),
            Err(r) => Err(path_rejection(r)),
        }
    }
}

fn path_rejection(r: PathRejection) -> ApiError {
    // A route that matched always has its parameters; anything else is the client's path.
    ApiError::new(
        ErrorCode::BadRequest,
        format!("the path is not valid here: {}", r.body_text()),
    )
}

/// `Query<T>`: a query string that does not match `T` (unknown parameters, a number that
/// is not one) is a 422 `invalid_request`.
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        match Query::<T>::from_request_parts(parts, state).await {
            Ok(Query(v)) => Ok(ApiQuery(v)),
            Err(r) => Err(query_rejection(r)),
        }
    }
}

fn query_rejection(r: QueryRejection) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidRequest,
        format!(
            "the query string does not match this route's parameters: {}",
            r.body_text()
        ),
    )
}

/// The raw body: one larger than the route's limit is a 413 `payload_too_large`, one that
/// cannot be read a 400 `bad_request`.
pub struct ApiBytes(pub Bytes);

impl<S> FromRequest<S> for ApiBytes
where
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        match Bytes::from_request(req, state).await {
            Ok(b) => Ok(ApiBytes(b)),
            Err(r) => Err(bytes_rejection(r)),
        }
    }
}

fn bytes_rejection(r: BytesRejection) -> ApiError {
    if r.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            ErrorCode::PayloadTooLarge,
            "the body is larger than the limit",
        )
    } else {
        ApiError::new(
            ErrorCode::BadRequest,
            format!("the body could not be read: {}", r.body_text()),
        )
    }
}

/// An optional JSON body: empty (or only whitespace) is `T::default()`; JSON that does not
/// parse is a 400 `malformed_json`, JSON of the wrong shape a 422 `invalid_request`.
pub fn optional_json<T: Default + DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_data() {
            ApiError::new(
                ErrorCode::InvalidRequest,
                format!("the body does not match the request schema: {e}"),
            )
        } else {
            ApiError::new(
                ErrorCode::MalformedJson,
                format!("the body is not valid JSON: {e}"),
            )
        }
    })
}
