//! REST handlers under `/api/v1`. Each handler is a thin call into one service function.

pub mod audit;
pub mod cards;
pub mod session;
pub mod transfers;
pub mod users;

use crate::service::App;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<App> {
    OpenApiRouter::new()
        .routes(routes!(session::sign_in, session::sign_out))
        .routes(routes!(session::me))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::get, users::update))
        .routes(routes!(cards::create, cards::list))
        .routes(routes!(cards::get, cards::update, cards::delete))
        .routes(routes!(cards::add_contact, cards::list_contacts))
        .routes(routes!(cards::create_tag, cards::list_tags))
        .routes(routes!(cards::attach_tag, cards::detach_tag))
        .routes(routes!(transfers::create, transfers::list))
        .routes(routes!(transfers::get))
        .routes(routes!(transfers::undo))
        .routes(routes!(audit::list))
}
