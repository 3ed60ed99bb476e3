//! The OpenAPI 3.1 document of this API, generated from the handlers' annotations and the
//! wire types of `aiops-api`, served at `GET /api/v1/openapi.json`.

use axum::Json;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "aiopsd",
        description = "Natural language in, one safe, audited infrastructure change out."
    ),
    paths(
        super::intents::submit,
        super::intents::parse,
        super::intents::get,
        super::approvals::list,
        super::approvals::show,
        super::approvals::approve,
        super::approvals::reject,
        super::slack::interactions,
        super::quarantine::list,
        super::documents::ingest,
        super::ops::healthz,
        super::ops::readyz,
        super::ops::metrics,
        super::ops::verify_audit,
        super::ops::catalog,
        document,
    ),
    components(schemas(aiops_api::ErrorResponse)),
    modifiers(&Bearer),
    security(("bearer" = []), ())
)]
struct ApiDoc;

/// The bearer-token security scheme (anonymous calls are allowed where policy allows).
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The whole document: paths, and every wire type's schema.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut doc = ApiDoc::openapi();
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    doc.merge(aiops_api::ApiSchemas::openapi());
    doc
}

#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "operations",
    responses((status = 200, description = "This document", body = Object)))]
pub(super) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi())
}
