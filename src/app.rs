//! Assembles the actix application: routes, middleware and error handling. Shared by the binary
//! and the tests, so that tests exercise exactly what runs in production.

use std::sync::Arc;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceFactory, ServiceRequest, ServiceResponse};
use actix_web::middleware::{from_fn, Compress, ErrorHandlers};
use actix_web::{web, App, HttpRequest};

use crate::error::AppError;
use crate::http::{controls, docs, headers, ops, problem};
use crate::{openapi, telemetry, AppState};

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
    let (app, api) = openapi::collect(App::new());
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
        .configure(docs::configure)
        .default_service(web::to(move |req: HttpRequest| {
            let table = route_table.clone();
            async move { table.respond(&req) }
        }))
        .wrap(from_fn(controls::refuse_in_query))
        .wrap(from_fn(crate::open311::http::format_suffix))
        .wrap(ErrorHandlers::new().default_handler(problem::problemize))
        .wrap(metrics)
        .wrap(from_fn(telemetry::access_log))
        .wrap(from_fn(headers::security_headers))
        // Outermost, so it sees each body as finally written (problem+json included): gzip, br
        // or zstd when the client asks (Accept-Encoding). A phone's first sync over a weak link
        // is mostly repeated JSON keys.
        .wrap(Compress::default())
}

/// The HTTP server over `listener`, as the binary runs it (tests start the same one). Slow or
/// idle clients are bounded at every stage: the request head (`header_timeout`, else 408 and
/// close), the body (`body_timeout`, enforced where bodies are read: `http::json::read_within`),
/// and the idle time between keep-alive requests (`keep_alive`).
pub fn serve(
    state: AppState,
    listener: std::net::TcpListener,
    workers: Option<usize>,
) -> std::io::Result<actix_web::dev::Server> {
    let settings = state.settings.clone();
    let mut server = actix_web::HttpServer::new(move || build_app(state.clone()))
        .client_request_timeout(settings.header_timeout)
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .keep_alive(settings.keep_alive)
        .shutdown_timeout(10)
        .listen(listener)?;
    if let Some(n) = workers {
        server = server.workers(n.max(1));
    }
    Ok(server.run())
}
