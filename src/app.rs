//! Assembles the actix application: routes, middleware and error handling. Shared by the binary
//! and the tests, so that tests exercise exactly what runs in production.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, ErrorHandlers};
use actix_web::{web, App, HttpRequest};
use tracing_actix_web::TracingLogger;
use utoipa_actix_web::service_config::ServiceConfig;
use utoipa_actix_web::AppExt;

use crate::error::AppError;
use crate::http::{ops, problem};
use crate::{
    attachments, auth, hazards, import, notifications, openapi, organizations, premises, regions,
    roster, telemetry, users, AppState,
};

/// Every documented route. The OpenAPI document is collected from this same registration.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz).service(ops::readyz).service(
        utoipa_actix_web::scope("/api/v1")
            .configure(auth::routes::configure)
            .configure(users::routes::configure)
            .configure(regions::routes::configure)
            .configure(organizations::routes::configure)
            .configure(roster::routes::configure)
            .configure(premises::routes::configure)
            .configure(import::routes::configure)
            .configure(hazards::routes::configure)
            .configure(attachments::routes::configure)
            .configure(notifications::routes::configure),
    );
}

pub fn build_app(
    state: AppState,
) -> App<
    impl ServiceFactory<
        ServiceRequest,
        Config = (),
        Response = ServiceResponse<impl MessageBody>,
        Error = actix_web::Error,
        InitError = (),
    >,
> {
    let metrics = state.metrics.clone();
    let (app, api) = App::new()
        .into_utoipa_app()
        .openapi(openapi::base())
        .configure(routes)
        .split_for_parts();
    let api = openapi::finish(api);
    let route_table = Arc::new(problem::RouteTable::from_openapi(&api));
    let spec = Arc::new(openapi::to_json(&api));

    app.app_data(web::Data::new(state))
        .app_data(web::QueryConfig::default().error_handler(|err, _| {
            AppError::bad_request(format!("invalid query string: {err}")).into()
        }))
        .app_data(web::PathConfig::default().error_handler(|_, _| AppError::not_found().into()))
        .route(
            "/api-spec/openapi.json",
            web::get().to(move || {
                let spec = spec.clone();
                async move { ops::serve_spec(spec) }
            }),
        )
        .default_service(web::to(move |req: HttpRequest| {
            let table = route_table.clone();
            async move { table.respond(&req) }
        }))
        .wrap(ErrorHandlers::new().default_handler(problem::problemize))
        .wrap(from_fn(telemetry::request_id_header))
        .wrap(metrics)
        .wrap(TracingLogger::default())
}
