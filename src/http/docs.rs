//! `GET /docs`: an interactive reference (Swagger UI) of the OpenAPI document that the server
//! already serves at `/api-spec/openapi.json`. Swagger UI's files are compiled into the binary
//! (utoipa-swagger-ui's `vendored` feature), so the page works on a machine with no internet;
//! "Try it out" sends the bearer token entered under "Authorize". The page is a convenience for
//! people, not part of the API, so it is left out of the OpenAPI document.

use actix_web::web;
use utoipa_swagger_ui::{Config, SwaggerUi};

/// Where the page lives; `/docs` itself redirects to it (Swagger UI loads its files relatively).
const PAGE: &str = "/docs/";

pub fn configure(cfg: &mut web::ServiceConfig) {
    let config = Config::new(["/api-spec/openapi.json"])
        // The default validator badge would fetch from validator.swagger.io: nothing may leave
        // the machine (and the document is checked in CI already).
        .validator_url("none")
        .try_it_out_enabled(true)
        // A token typed into "Authorize" lasts for the tab; never written to localStorage.
        .persist_authorization(false);
    cfg.service(web::redirect("/docs", PAGE))
        .service(SwaggerUi::new(format!("{PAGE}{{_:.*}}")).config(config));
}
