//! meishi: a self-hosted business-card and contact server whose offboarding (退職者対応) is
//! first class. See ARCHITECTURE.md for the map of this crate.

pub mod cli;
pub mod domain;
pub mod http;
pub mod service;
pub mod store;

// The console's texts in Japanese and English (locales/app.yml), compiled in.
rust_i18n::i18n!("locales", fallback = "ja");
