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
        super::intents::list,
        super::intents::get,
        super::intents::rollback,
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
    security(("bearer" = []))
)]
struct ApiDoc;

/// Routes without bearer authentication: health, (public) metrics, and Slack's endpoint,
/// which Slack's signature authenticates.
const PUBLIC_PATHS: [&str; 4] = [
    "/healthz",
    "/readyz",
    "/metrics",
    "/api/v1/slack/interactions",
];

/// The bearer-token security scheme, required everywhere but [`PUBLIC_PATHS`]; every other
/// operation documents the 401 and 403 the access layer answers before its handler runs.
struct Bearer;

impl utoipa::Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorResponse")))
                        .build(),
                )
                .build()
        };
        for (path, item) in openapi.paths.paths.iter_mut() {
            let public = PUBLIC_PATHS.contains(&path.as_str());
            for op in [item.get.as_mut(), item.post.as_mut()]
                .into_iter()
                .flatten()
            {
                if public {
                    // No credentials: an empty requirement overrides the document's.
                    op.security = Some(vec![
                        utoipa::openapi::security::SecurityRequirement::default(),
                    ]);
                    continue;
                }
                let responses = &mut op.responses.responses;
                responses.entry("401".into()).or_insert_with(|| {
                    error("No credentials, or credentials that are not valid").into()
                });
                responses.entry("403".into()).or_insert_with(|| {
                    error("Policy does not let the caller's roles run this operation").into()
                });
            }
        }
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
