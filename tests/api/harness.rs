//! Spawning the app and talking to it over real HTTP.
#![allow(dead_code)] // shared by all test modules; not every module uses every helper

use chrono::Utc;
use meishi::domain::ManualClock;
pub use meishi::http::edge::EdgeConfig;
use meishi::service::{App, auth, orgs};
use meishi::store::Store;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use sqlx::Connection;
use std::sync::Arc;

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub url: String,
    pub db_url: String,
    pub app: App,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// An organisation made for a test, with its admin's token.
pub struct Org {
    pub slug: String,
    pub admin_id: String,
    pub admin: String,
}

pub fn engine() -> &'static str {
    if std::env::var("MEISHI_TEST_POSTGRES_URL").is_ok() {
        "postgres"
    } else {
        "sqlite"
    }
}

/// A fresh, empty database URL for one test.
pub async fn fresh_database(dir: &std::path::Path) -> String {
    match std::env::var("MEISHI_TEST_POSTGRES_URL") {
        Ok(admin_url) => {
            let name = format!("meishi_t_{}", uuid::Uuid::new_v4().simple());
            let mut conn = sqlx::PgConnection::connect(&admin_url)
                .await
                .expect("connect to PostgreSQL");
            sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "CREATE DATABASE {name} ENCODING 'UTF8' TEMPLATE template0"
            )))
            .execute(&mut conn)
            .await
            .expect("create test database");
            let (base, _) = admin_url.rsplit_once('/').expect("postgres URL with a database");
            format!("{base}/{name}")
        }
        Err(_) => format!("sqlite://{}", dir.join("meishi.db").display()),
    }
}

pub async fn spawn() -> TestApp {
    spawn_inner(None, EdgeConfig::default()).await
}

/// The app on a SQLite file whatever the engine under test (SQLite's own features: backup,
/// restore).
pub async fn spawn_sqlite() -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = format!("sqlite://{}", dir.path().join("meishi.db").display());
    serve_at(db_url, dir, None, EdgeConfig::default()).await
}

/// The app serving an existing database (a restored backup, an imported organisation).
pub async fn spawn_on(db_url: &str) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    serve_at(db_url.to_string(), dir, None, EdgeConfig::default()).await
}

/// The app served with this edge (limits, timeouts): the hardening tests make them small.
pub async fn spawn_with_edge(edge: EdgeConfig) -> TestApp {
    spawn_inner(None, edge).await
}

/// The app sending mail to `smtp_url` (a test's SMTP sink), with its delivery worker running
/// (on the test's clock: a retry waits until the test moves the clock on).
pub async fn spawn_with_mail(smtp_url: &str) -> TestApp {
    spawn_inner(Some(smtp_url), EdgeConfig::default()).await
}

/// `spawn_with_mail` with this edge (a metrics token).
pub async fn spawn_with_mail_and_edge(smtp_url: &str, edge: EdgeConfig) -> TestApp {
    spawn_inner(Some(smtp_url), edge).await
}

async fn spawn_inner(smtp_url: Option<&str>, edge: EdgeConfig) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let db_url = fresh_database(dir.path()).await;
    serve_at(db_url, dir, smtp_url, edge).await
}

async fn serve_at(db_url: String, dir: tempfile::TempDir, smtp_url: Option<&str>, edge: EdgeConfig) -> TestApp {
    let store = Store::connect(&db_url).await.expect("connect");
    store.migrate().await.expect("migrate");
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let mut app = App::new(store, clock.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().unwrap());
    if let Some(smtp_url) = smtp_url {
        let config = meishi::service::mail::MailConfig {
            smtp_url: smtp_url.to_string(),
            from_domain: None,
            public_url: url.clone(),
        };
        app = app.with_mail(meishi::service::mail::Mailer::new(config).expect("mailer"));
        let mailer = app.mail.clone().unwrap();
        tokio::spawn(meishi::service::mail::run_worker(
            app.clone(),
            mailer,
            std::time::Duration::from_millis(50),
        ));
    }
    let served = app.clone();
    tokio::spawn(async move { meishi::http::serve_with(served, listener, edge).await });
    TestApp {
        url,
        db_url,
        app,
        clock,
        http: reqwest::Client::new(),
        _dir: dir,
    }
}

impl TestApp {
    /// Creates an organisation and its admin through the service, and a token for the admin.
    pub async fn org(&self, slug: &str) -> Org {
        let email = format!("admin@{slug}.example.jp");
        let new = orgs::NewOrganization {
            name: &format!("{slug} 株式会社"),
            slug: Some(slug),
            admin_email: &email,
            admin_name: "管理 太郎",
            admin_password: PASSWORD,
        };
        let (_, admin) = orgs::init(&self.app, new).await.expect("init org");
        let admin_token = auth::create_token(&self.app, Some(slug), &email, "test")
            .await
            .expect("token");
        Org {
            slug: slug.into(),
            admin_id: admin.id,
            admin: admin_token,
        }
    }

    /// Creates a user over HTTP and returns (id, token).
    pub async fn user(&self, org: &Org, email: &str, name: &str, role: &str) -> (String, String) {
        let body = serde_json::json!({"email": email, "display_name": name, "role": role, "password": PASSWORD});
        let (s, u) = self.call(&org.admin, Method::POST, "/api/v1/users", Some(body)).await;
        assert_eq!(s, StatusCode::CREATED, "{u}");
        let token = auth::create_token(&self.app, Some(&org.slug), email, "test")
            .await
            .expect("token");
        (u["id"].as_str().unwrap().to_string(), token)
    }

    pub async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.http.request(method, format!("{}{path}", self.url));
        if !token.is_empty() {
            req = req.bearer_auth(token);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let res = req.send().await.expect("request");
        let status = res.status();
        let text = res.text().await.expect("body");
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        (status, value)
    }

    pub async fn get(&self, token: &str, path: &str) -> (StatusCode, Value) {
        self.call(token, Method::GET, path, None).await
    }

    pub async fn post(&self, token: &str, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(token, Method::POST, path, Some(body)).await
    }

    pub async fn card(&self, token: &str, body: Value) -> String {
        let (s, c) = self.post(token, "/api/v1/cards", body).await;
        assert_eq!(s, StatusCode::CREATED, "{c}");
        c["id"].as_str().unwrap().to_string()
    }

    /// Audit events of one action, newest first.
    pub async fn audit(&self, org: &Org, action: &str) -> Vec<Value> {
        let (s, v) = self
            .get(&org.admin, &format!("/api/v1/audit?action={action}&limit=500"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        v["items"].as_array().unwrap().clone()
    }
}

/// Asserts a JSON error with this status and field.
#[track_caller]
pub fn assert_error(got: (StatusCode, Value), status: StatusCode, field: Option<&str>) {
    assert_eq!(got.0, status, "{}", got.1);
    assert!(got.1["error"]["code"].is_string(), "{}", got.1);
    assert!(
        got.1["error"]["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{}",
        got.1
    );
    if let Some(f) = field {
        assert_eq!(got.1["error"]["field"], f, "{}", got.1);
    }
}

/// A fresh API token for an existing user.
pub async fn token_for(t: &TestApp, org: &Org, email: &str) -> String {
    auth::create_token(&t.app, Some(&org.slug), email, "test")
        .await
        .expect("token")
}

/// Sets a user's status directly in the database: a test shortcut until the lifecycle
/// endpoints are the way to do it.
pub async fn set_status(t: &TestApp, user_id: &str, status: &str) {
    meishi::store::exec(
        t.app.store.conn(),
        "UPDATE users SET status = ? WHERE id = ?",
        vec![status.into(), user_id.into()],
    )
    .await
    .expect("set status");
}
