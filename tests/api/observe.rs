//! Operating a server (issue 17) through real HTTP: `/metrics` only for the token's bearer
//! (or on its own listener), counting answers by route template; the database's figures
//! (due departures, the outbox) and the mail worker's outcomes; `/readyz`; the request id on
//! every answer; JSON logs from the real binary carrying the request's id.

use crate::harness::*;
use crate::smtp_sink::Sink;
use chrono::{DateTime, Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const TOKEN: &str = "metrics-s3cret-token";

fn with_token() -> EdgeConfig {
    EdgeConfig {
        metrics_token: Some(TOKEN.into()),
        ..EdgeConfig::default()
    }
}

async fn metrics(t: &TestApp) -> String {
    let res = t
        .http
        .get(format!("{}/metrics", t.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain; version=0.0.4")
    );
    res.text().await.unwrap()
}

/// The value of one series (`name{labels}` exactly as exposed), if present.
fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_need_the_token_and_count_answers_by_route_template() {
    let t = spawn_with_edge(with_token()).await;
    let org = t.org("kanshi").await;
    let no = t.http.get(format!("{}/metrics", t.url)).send().await.unwrap();
    assert_eq!(no.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(no.headers()["www-authenticate"], "Bearer");
    let body: Value = no.json().await.unwrap();
    assert_eq!(body["error"]["code"], "unauthenticated");
    let wrong = t
        .http
        .get(format!("{}/metrics", t.url))
        .bearer_auth("metrics-s3cret-tokeN")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    // An API token is not the metrics token.
    let api = t
        .http
        .get(format!("{}/metrics", t.url))
        .bearer_auth(&org.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::UNAUTHORIZED);

    let a = t.card(&org.admin, json!({"full_name": "計測 一郎"})).await;
    let b = t.card(&org.admin, json!({"full_name": "計測 二郎"})).await;
    for id in [&a, &b] {
        assert_eq!(
            t.get(&org.admin, &format!("/api/v1/cards/{id}")).await.0,
            StatusCode::OK
        );
    }
    assert_eq!(
        t.get(&org.admin, "/api/v1/cards/0190e2c4-0000-7000-8000-000000000000")
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        t.get(&org.admin, "/api/v1/no-such-thing").await.0,
        StatusCode::NOT_FOUND
    );

    let text = metrics(&t).await;
    let card = "meishi_http_requests_total{method=\"GET\",route=\"/api/v1/cards/{id}\"";
    assert_eq!(value(&text, &format!("{card},status=\"200\"}}")), Some(2.0), "{text}");
    assert_eq!(value(&text, &format!("{card},status=\"404\"}}")), Some(1.0), "{text}");
    assert_eq!(
        value(
            &text,
            "meishi_http_requests_total{method=\"POST\",route=\"/api/v1/cards\",status=\"201\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            "meishi_http_requests_total{method=\"GET\",route=\"(unmatched)\",status=\"404\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert!(
        !text.contains(&a) && !text.contains("no-such-thing"),
        "raw paths never become labels: {text}"
    );
    let hist = "meishi_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/cards/{id}\"}";
    assert_eq!(value(&text, hist), Some(3.0), "{text}");
    let inf = "meishi_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/cards/{id}\",le=\"+Inf\"}";
    assert_eq!(value(&text, inf), Some(3.0), "{text}");
    // The unauthorised scrapes were answers too; this one is counted after it is rendered.
    assert_eq!(
        value(
            &text,
            "meishi_http_requests_total{method=\"GET\",route=\"/metrics\",status=\"401\"}"
        ),
        Some(3.0),
        "{text}"
    );
    assert_eq!(value(&text, "meishi_database_up"), Some(1.0), "{text}");
    assert!(value(&text, "meishi_db_pool_max_connections").unwrap() >= 1.0, "{text}");
    assert!(
        value(&text, "meishi_db_pool_connections{state=\"idle\"}").is_some(),
        "{text}"
    );
    // No organisation's name or slug in a server-wide endpoint.
    assert!(!text.contains("kanshi"), "{text}");

    // Counters move: two more reads of a card.
    for _ in 0..2 {
        t.get(&org.admin, &format!("/api/v1/cards/{a}")).await;
    }
    let text = metrics(&t).await;
    assert_eq!(value(&text, &format!("{card},status=\"200\"}}")), Some(4.0), "{text}");

    // Without a token configured, /metrics is not served on the main listener.
    let plain = spawn().await;
    let res = plain
        .http
        .get(format!("{}/metrics", plain.url))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found", "{body}");
}

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

#[tokio::test]
async fn due_overdue_and_needs_action_departures_and_scheduler_runs_are_read_from_the_database() {
    let t = spawn_with_edge(with_token()).await;
    // 2 March 2026, 10:00 in Tokyo.
    t.clock.set(at("2026-03-02T01:00:00Z"));
    let org = t.org("leave").await;
    let (yamada, yamada_t) = t.user(&org, "yamada@leave.example.jp", "山田 賢治", "member").await;
    let (tanaka, _) = t.user(&org, "tanaka@leave.example.jp", "田中 花子", "member").await;
    t.card(&yamada_t, json!({"full_name": "顧客 一郎"})).await;
    let body = json!({"user_id": yamada, "successor_id": tanaka, "retirement_date": "2026-03-03", "last_working_day": "2026-03-03"});
    let (s, d) = t.post(&org.admin, "/api/v1/departures", body).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let text = metrics(&t).await;
    assert_eq!(value(&text, "meishi_departures_due"), Some(0.0), "{text}");
    assert_eq!(value(&text, "meishi_scheduler_runs_total"), Some(0.0), "{text}");

    // Two days on, nobody has ticked: due, and overdue.
    t.clock.advance(Duration::days(2));
    let text = metrics(&t).await;
    assert_eq!(value(&text, "meishi_departures_due"), Some(1.0), "{text}");
    assert_eq!(value(&text, "meishi_departures_overdue"), Some(1.0), "{text}");
    assert_eq!(value(&text, "meishi_departures_needs_action"), Some(0.0), "{text}");

    // A tick suspends 山田, who still holds a card: needs action.
    let tick = meishi::service::scheduler::tick(&t.app).await.unwrap();
    assert_eq!(tick.suspended, 1);
    let text = metrics(&t).await;
    assert_eq!(value(&text, "meishi_departures_due"), Some(0.0), "{text}");
    assert_eq!(value(&text, "meishi_departures_overdue"), Some(0.0), "{text}");
    assert_eq!(value(&text, "meishi_departures_needs_action"), Some(1.0), "{text}");
    assert_eq!(value(&text, "meishi_scheduler_runs_total"), Some(1.0), "{text}");
    assert_eq!(value(&text, "meishi_scheduler_failures_total"), Some(0.0), "{text}");
    assert_eq!(
        value(&text, "meishi_scheduler_last_run_timestamp_seconds"),
        Some(t.app.now().timestamp() as f64),
        "{text}"
    );
}

/// Polls the metrics until `ok` holds (up to 20 s); returns the last text.
async fn metrics_until(t: &TestApp, ok: impl Fn(&str) -> bool) -> String {
    let mut text = String::new();
    for _ in 0..400 {
        text = metrics(t).await;
        if ok(&text) {
            return text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("the metrics never got there:\n{text}");
}

#[tokio::test]
async fn the_outbox_depth_and_delivery_outcomes_follow_the_mail_worker() {
    let sink = Sink::start().await;
    let t = spawn_with_mail_and_edge(&sink.url(), with_token()).await;
    let org = t.org("post").await;
    let (s, tpl) = t
        .post(
            &org.admin,
            "/api/v1/mail/templates",
            json!({"name": "ご案内", "subject": "{{氏名}}様", "body": "{{氏名}}様 いつもお世話になっております。", "shared": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tpl}");
    for (name, email) in [("山本 太郎", "ok@abc.jp"), ("田中 一郎", "gone@abc.jp")] {
        t.card(
            &org.admin,
            json!({"full_name": name, "company": "ABC商事株式会社", "email": email}),
        )
        .await;
    }
    sink.temp_fail_next(1);
    sink.reject("gone@abc.jp");
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}});
    let (s, send) = t.post(&org.admin, "/api/v1/mail/sends", input).await;
    assert_eq!(s, StatusCode::CREATED, "{send}");

    // First round: ok@ fails for now (queued again for a minute later), gone@ bounces.
    let retry = "meishi_mail_deliveries_total{outcome=\"retry\"}";
    let bounced = "meishi_mail_deliveries_total{outcome=\"bounced\"}";
    let text = metrics_until(&t, |m| value(m, retry) == Some(1.0) && value(m, bounced) == Some(1.0)).await;
    assert_eq!(
        value(&text, "meishi_mail_outbox_messages{status=\"queued\"}"),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "meishi_mail_outbox_messages{status=\"sending\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "meishi_mail_deliveries_total{outcome=\"sent\"}"),
        Some(0.0),
        "{text}"
    );

    // A minute on, the retry goes: the outbox is empty.
    t.clock.advance(Duration::seconds(61));
    sink.wait_for(1).await;
    let sent = "meishi_mail_deliveries_total{outcome=\"sent\"}";
    let text = metrics_until(&t, |m| value(m, sent) == Some(1.0)).await;
    assert_eq!(
        value(&text, "meishi_mail_outbox_messages{status=\"queued\"}"),
        Some(0.0),
        "{text}"
    );
    assert_eq!(
        value(&text, "meishi_mail_deliveries_total{outcome=\"failed\"}"),
        Some(0.0),
        "{text}"
    );
}

#[tokio::test]
async fn readyz_asks_the_database_and_says_503_when_it_does_not_answer() {
    let t = spawn_with_edge(with_token()).await;
    let (s, v) = t.get("", "/readyz").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "ready");
    let (s, v) = t.get("", "/healthz").await;
    assert_eq!((s, v), (StatusCode::OK, Value::String("ok".into())));

    t.app.store.conn().close_by_ref().await.unwrap();
    let (s, v) = t.get("", "/readyz").await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
    assert_eq!(v["error"]["code"], "unavailable", "{v}");
    assert_eq!(v["error"]["message"], "the database does not answer", "{v}");
    // Liveness does not ask the database; the scrape still answers, saying so.
    assert_eq!(t.get("", "/healthz").await.0, StatusCode::OK);
    let text = metrics(&t).await;
    assert_eq!(value(&text, "meishi_database_up"), Some(0.0), "{text}");
    assert_eq!(value(&text, "meishi_departures_due"), None, "{text}");
}

#[tokio::test]
async fn every_answer_carries_the_request_id_it_was_given_or_a_new_one() {
    let t = spawn().await;
    let org = t.org("rid").await;
    let get = |path: &str, id: Option<&str>| {
        let mut req = t.http.get(format!("{}{path}", t.url));
        if let Some(id) = id {
            req = req.header("x-request-id", id);
        }
        req.send()
    };
    // API success and error, console page, SCIM error, unmatched path, readiness.
    for path in [
        "/api/v1/me",
        "/login",
        "/scim/v2/Users",
        "/nowhere",
        "/api/nowhere",
        "/readyz",
    ] {
        let res = get(path, Some("abc-123.XYZ_9")).await.unwrap();
        assert_eq!(
            res.headers()["x-request-id"],
            "abc-123.XYZ_9",
            "{path} ({})",
            res.status()
        );
    }
    let res = t
        .http
        .get(format!("{}/api/v1/me", t.url))
        .bearer_auth(&org.admin)
        .header("x-request-id", "from-the-proxy")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["x-request-id"], "from-the-proxy");

    // None, or one that is not sane: a new one each time.
    let mut seen = Vec::new();
    for id in [None, Some("has space"), Some(&"x".repeat(129)[..]), None] {
        let res = get("/api/v1/me", id).await.unwrap();
        let got = res.headers()["x-request-id"].to_str().unwrap().to_string();
        assert_eq!(got.len(), 32, "{got}");
        assert!(got.bytes().all(|b| b.is_ascii_hexdigit()), "{got}");
        assert!(!seen.contains(&got));
        seen.push(got);
    }
}

/// `meishi serve` with JSON logs and a metrics listener; killed when dropped.
struct Served {
    child: Child,
    lines: std::sync::mpsc::Receiver<String>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

impl Served {
    /// The next log line (every one must be a JSON object) that `pick` accepts.
    fn next(&self, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(std::time::Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("no log line: {what}"));
            let v: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            assert!(v["timestamp"].is_string() && v["level"].is_string(), "{v}");
            if pick(&v) {
                return v;
            }
        }
    }
}

#[tokio::test]
async fn json_logs_from_the_binary_carry_the_request_id_and_route() {
    let t = spawn().await;
    let org = t.org("logs").await;
    let mut child = Command::new(env!("CARGO_BIN_EXE_meishi"))
        .args(["serve", "--database", &t.db_url, "--listen", "127.0.0.1:0"])
        .args(["--metrics-addr", "127.0.0.1:0"])
        .env_remove("MEISHI_DATABASE_URL")
        .env_remove("MEISHI_METRICS_TOKEN")
        .env("MEISHI_LOG_FORMAT", "json")
        .env("RUST_LOG", "meishi=info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start meishi serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let served = Served { child, lines };
    let message = |v: &Value, m: &str| v["fields"]["message"] == m;
    let url = served.next("listening", |v| message(v, "meishi is listening"))["fields"]["url"]
        .as_str()
        .unwrap()
        .to_string();
    let metrics_url = served.next("metrics listener", |v| {
        v["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.starts_with("metrics are served"))
    })["fields"]["url"]
        .as_str()
        .unwrap()
        .to_string();

    let http = reqwest::Client::new();
    let res = http
        .get(format!("{url}/api/v1/me"))
        .bearer_auth(&org.admin)
        .header("x-request-id", "log-test-42")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let line = served.next("the access line", |v| {
        message(v, "answered") && v["span"]["request_id"] == "log-test-42"
    });
    assert_eq!(line["target"], "meishi::access", "{line}");
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["fields"]["status"], 200, "{line}");
    assert_eq!(line["span"]["route"], "/api/v1/me", "{line}");
    assert_eq!(line["span"]["method"], "GET", "{line}");
    assert!(
        line["spans"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["request_id"] == "log-test-42"),
        "{line}"
    );

    // The metrics listener answers without a token; the main one does not serve /metrics.
    let text = http
        .get(format!("{metrics_url}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        value(
            &text,
            "meishi_http_requests_total{method=\"GET\",route=\"/api/v1/me\",status=\"200\"}"
        ),
        Some(1.0),
        "{text}"
    );
    let ready = http.get(format!("{metrics_url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let main = http.get(format!("{url}/metrics")).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND);
}

#[test]
fn an_unknown_log_format_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_meishi"))
        .args(["migrate", "--database", "sqlite::memory:"])
        .env("MEISHI_LOG_FORMAT", "xml")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("'xml' is not a log format"), "{err}");
}
