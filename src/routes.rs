//! Every documented route, registered in one place. The server and the OpenAPI document are
//! both collected from this list (`openapi::collect`), so neither can list a route the other
//! lacks; the 405-with-`Allow` answers are derived from the same collection.

use utoipa_actix_web::service_config::ServiceConfig;

use crate::http::ops;
use crate::{
    attachments, auth, bulletins, exports, hazards, import, notifications, open311, organizations,
    patrols, premises, public, regions, roster, stats, sync, uploads, users, webhooks,
};

pub fn register(cfg: &mut ServiceConfig) {
    cfg.service(ops::healthz)
        .service(ops::readyz)
        .service(
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
                .configure(uploads::routes::configure)
                .configure(notifications::routes::configure)
                .configure(public::routes::configure)
                .configure(webhooks::routes::configure)
                .configure(open311::keys::configure)
                .configure(stats::routes::configure)
                .configure(exports::routes::configure)
                .configure(bulletins::routes::configure)
                .configure(patrols::routes::configure)
                .configure(sync::routes::configure),
        )
        .service(
            utoipa_actix_web::scope(open311::model::PREFIX).configure(open311::routes::configure),
        );
}
