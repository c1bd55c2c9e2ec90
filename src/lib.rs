//! meishi: a self-hosted business-card and contact server whose offboarding (退職者対応) is
//! first class. See ARCHITECTURE.md for the map of this crate.

pub mod cli;
pub mod domain;
/// Card file formats: vCard 2.1/3.0/4.0, Sansan-style CSV, in UTF-8 or Shift_JIS. Pure, no I/O
/// (bytes in, cards out); used by the import and export services.
pub mod formats;
pub mod http;
pub mod metrics;
pub mod service;
pub mod store;

// The console's texts in Japanese and English (locales/app.yml), compiled in.
rust_i18n::i18n!("locales", fallback = "ja");
