//! The OpenAPI 3.1 description, generated from the handlers' annotations. The committed copy in
//! `api-spec/openapi.json` is compared with this in `tests/openapi_drift.rs`.

use actix_web::dev::{ServiceFactory, ServiceRequest};
use actix_web::App;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_actix_web::AppExt;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "firegrid",
        description = "Fire-safety grid management (消防网格化管理): regions in three tiers, \
                       the roster, hazard cases and oversight. Errors are RFC 9457 problem+json.",
        license(name = "MIT", identifier = "MIT"),
    ),
    paths(crate::http::ops::metrics_doc, crate::http::ops::openapi_doc),
    components(schemas(
        crate::error::Problem,
        crate::error::FieldError,
        crate::error::ErrorCode,
        crate::open311::model::Open311Error
    )),
    modifiers(&BearerAuth),
)]
struct ApiDoc;

/// OpenAPI requires a description on every response; where a handler's annotation gives none,
/// the status's reason phrase stands in.
fn describe_responses(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::RefOr;
    for item in api.paths.paths.values_mut() {
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            for (status, response) in op.responses.responses.iter_mut() {
                if let RefOr::T(r) = response {
                    if r.description.trim().is_empty() {
                        r.description = status
                            .parse::<u16>()
                            .ok()
                            .and_then(|s| actix_web::http::StatusCode::from_u16(s).ok())
                            .and_then(|s| s.canonical_reason())
                            .unwrap_or("response")
                            .to_string();
                    }
                }
            }
        }
    }
}

/// Request bodies whose `lat` and `lng` are a point: both numbers or both absent (or null). The
/// server refuses one without the other; a schema says so only with `anyOf`, which utoipa's
/// derive cannot write, so it is added here by name. (A patch is not listed: it may move one
/// coordinate of a point the record already has.)
const POINTS: &[&str] = &["NewHazard", "NewPremises"];

fn state_points(api: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{schema::Schema, RefOr};
    let Some(components) = api.components.as_mut() else {
        return;
    };
    for name in POINTS {
        let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(*name) else {
            panic!("{name}: a request body with a point is not an object schema");
        };
        assert!(
            object.properties.contains_key("lat") && object.properties.contains_key("lng"),
            "{name} has no lat/lng"
        );
        // Extensions serialise flattened into the schema object, which is how a keyword utoipa
        // does not model reaches the document.
        object
            .extensions
            .get_or_insert_with(Default::default)
            .insert(
                "anyOf".into(),
                serde_json::json!([
                    {"properties": {"lat": {"type": "null"}, "lng": {"type": "null"}}},
                    {"required": ["lat", "lng"],
                     "properties": {"lat": {"type": "number"}, "lng": {"type": "number"}}}
                ]),
            );
    }
}

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Registers every route (`routes::register`) on `app` and collects the description from
/// that same registration: the server (`app::build_app`) and the document both come from here.
pub fn collect<T>(app: App<T>) -> (App<T>, utoipa::openapi::OpenApi)
where
    T: ServiceFactory<ServiceRequest, Config = (), Error = actix_web::Error, InitError = ()>,
{
    let (app, mut api) = app
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::register)
        .split_for_parts();
    describe_responses(&mut api);
    state_points(&mut api);
    (app, api)
}

/// The full description, as the server collects it (for `firegrid openapi` and the drift test).
pub fn document() -> utoipa::openapi::OpenApi {
    collect(App::new()).1
}

/// Pretty JSON with a trailing newline, exactly as committed in `api-spec/openapi.json`.
pub fn to_json(api: &utoipa::openapi::OpenApi) -> String {
    let mut s = api
        .to_pretty_json()
        .expect("the OpenAPI document serialises");
    s.push('\n');
    s
}
