use crate::service::App;
use axum::Router;

pub fn router() -> Router<App> {
    Router::new()
}
