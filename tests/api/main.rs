//! The integration test binary: every test spawns the app on port 0 with its own database.
//! SQLite by default; PostgreSQL when MEISHI_TEST_POSTGRES_URL is set (a fresh database per test).

mod harness;
mod smtp_sink;

mod audit;
mod audit_chain;
mod backups;
mod cards;
mod cli;
mod console;
mod console_desk;
mod console_lists;
mod console_mail;
mod console_news;
mod console_scim;
mod crash;
mod departures;
mod hardening;
mod imports;
mod isolation;
mod lifecycle;
mod mail;
mod observe;
mod openapi;
mod people;
mod races;
mod scim;
mod search;
mod transfers;
mod unit_of_work;
mod users;
