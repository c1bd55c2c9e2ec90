//! REST handlers under `/api/v1`. Each handler is a thin call into one service function.

pub mod audit;
pub mod cards;
pub mod departures;
pub mod imports;
pub mod lifecycle;
pub mod mail;
pub mod people;
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
        .routes(routes!(session::locks))
        .routes(routes!(session::lift_lock))
        .routes(routes!(users::create, users::list))
        .routes(routes!(users::get, users::update, lifecycle::delete))
        .routes(routes!(lifecycle::suspend))
        .routes(routes!(lifecycle::reactivate))
        .routes(routes!(lifecycle::restore))
        .routes(routes!(lifecycle::export))
        .routes(routes!(lifecycle::create_archive, lifecycle::get_archive))
        .routes(routes!(lifecycle::get_org, lifecycle::update_org))
        .routes(routes!(departures::create, departures::list))
        .routes(routes!(departures::get, departures::update, departures::cancel))
        .routes(routes!(departures::get_plan, departures::report_plan))
        .routes(routes!(departures::approve_plan))
        .routes(routes!(departures::return_plan))
        .routes(routes!(departures::request_plan))
        .routes(routes!(departures::execute_plan))
        .routes(routes!(departures::readiness))
        .routes(routes!(departures::notice_preview, departures::send_notice))
        .routes(routes!(cards::create, cards::list))
        .routes(routes!(cards::get, cards::update, cards::delete))
        .routes(routes!(cards::add_contact, cards::list_contacts))
        .routes(routes!(cards::create_tag, cards::list_tags))
        .routes(routes!(cards::attach_tag, cards::detach_tag))
        .routes(routes!(people::list))
        .routes(routes!(people::apply))
        .routes(routes!(people::dismiss))
        .routes(routes!(people::bulk))
        .routes(routes!(people::person))
        .routes(routes!(people::split))
        .routes(routes!(people::confirm))
        .routes(routes!(people::reject))
        .routes(routes!(people::history))
        .routes(routes!(transfers::create, transfers::list))
        .routes(routes!(transfers::get))
        .routes(routes!(transfers::undo))
        .routes(routes!(audit::list))
        .routes(routes!(audit::export))
        .routes(routes!(imports::import))
        .routes(routes!(imports::export))
        .routes(routes!(mail::list_templates, mail::create_template))
        .routes(routes!(mail::hand_over))
        .routes(routes!(
            mail::get_template,
            mail::update_template,
            mail::delete_template
        ))
        .routes(routes!(mail::copy_template))
        .routes(routes!(mail::get_settings, mail::update_settings))
        .routes(routes!(mail::list_suppressions, mail::add_suppression))
        .routes(routes!(mail::remove_suppression))
        .routes(routes!(mail::preview))
        .routes(routes!(mail::preview_skipped))
        .routes(routes!(mail::list_sends, mail::create_send))
        .routes(routes!(mail::get_send))
        .routes(routes!(mail::cancel_send))
        .routes(routes!(mail::send_messages))
        .routes(routes!(mail::send_skipped))
}
