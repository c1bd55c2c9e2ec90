//! The real `meishi` binary against a real database.

use crate::harness::*;
use reqwest::StatusCode;
use std::io::Write;
use std::process::{Command, Output, Stdio};

pub(crate) fn meishi(args: &[&str], stdin: &str) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meishi"))
        .args(args)
        .env_remove("MEISHI_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run meishi");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

pub(crate) fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn init_then_token_then_the_api_accepts_it() {
    let t = spawn().await;
    let db = t.db_url.as_str();
    let init = [
        "init",
        "--database",
        db,
        "--org",
        "株式会社サンプル",
        "--slug",
        "sample",
        "--admin-email",
        "admin@sample.jp",
        "--admin-name",
        "管理 花子",
        "--admin-password-stdin",
    ];
    let out = meishi(&init, "s3cret-password\n");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sample"));

    let again = meishi(&init, "s3cret-password\n");
    assert!(!again.status.success(), "a second init for the same organisation fails");
    assert!(
        text(&again.stderr).contains("already exists"),
        "{}",
        text(&again.stderr)
    );

    let out = meishi(
        &[
            "token",
            "create",
            "--database",
            db,
            "--email",
            "admin@sample.jp",
            "--name",
            "ci",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "only the token: {stdout:?}");
    let token = stdout.trim();
    let (s, me) = t.get(token, "/api/v1/me").await;
    assert_eq!(s, StatusCode::OK, "{me}");
    assert_eq!(me["display_name"], "管理 花子");

    let out = meishi(
        &["token", "create", "--database", db, "--email", "nobody@sample.jp"],
        "",
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("not found"), "{}", text(&out.stderr));

    // The password went in hashed: signing in with it works.
    let res = t
        .http
        .post(format!("{}/api/v1/session", t.url))
        .json(&serde_json::json!({"organization": "sample", "email": "admin@sample.jp", "password": "s3cret-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
}

#[tokio::test]
async fn init_rejects_bad_input() {
    let t = spawn().await;
    let db = t.db_url.as_str();
    let out = meishi(
        &[
            "init",
            "--database",
            db,
            "--org",
            "株式会社サンプル",
            "--admin-email",
            "a@b.jp",
            "--admin-name",
            "x",
            "--admin-password-stdin",
        ],
        "long-enough-pw",
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("slug"), "{}", text(&out.stderr));
    let out = meishi(
        &[
            "init",
            "--database",
            db,
            "--org",
            "Sample",
            "--admin-email",
            "nope",
            "--admin-name",
            "x",
            "--admin-password-stdin",
        ],
        "long-enough-pw",
    );
    assert!(text(&out.stderr).contains("not an email"), "{}", text(&out.stderr));
    let out = meishi(
        &[
            "init",
            "--database",
            db,
            "--org",
            "Sample",
            "--admin-email",
            "a@b.jp",
            "--admin-name",
            "x",
            "--admin-password-stdin",
        ],
        "short",
    );
    assert!(text(&out.stderr).contains("8 characters"), "{}", text(&out.stderr));
    let out = meishi(&["serve", "--database", "mysql://x"], "");
    assert!(text(&out.stderr).contains("neither"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn demo_data_loads_and_is_served() {
    let t = spawn().await;
    let out = meishi(&["demo", "--database", &t.db_url, "--no-serve"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("yamada.kenji@example.co.jp"), "{stdout}");
    assert!(stdout.contains("退職予定者"), "{stdout}");
    let token = stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("admin API token: "))
        .expect("token line")
        .to_string();

    let (s, users) = t.get(&token, "/api/v1/users?limit=500").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(users["items"].as_array().unwrap().len(), 9);
    let mut cards = 0;
    let mut cursor = String::new();
    loop {
        let (_, page) = t.get(&token, &format!("/api/v1/cards?limit=500&cursor={cursor}")).await;
        cards += page["items"].as_array().unwrap().len();
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.into(),
            None => break,
        }
    }
    assert!(cards >= 2000, "{cards} cards");
    let (_, tags) = t.get(&token, "/api/v1/tags").await;
    assert!(tags["items"].as_array().unwrap().len() >= 5);
    let (_, page) = t.get(&token, "/api/v1/cards?limit=50").await;
    let with_contacts = page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect::<Vec<_>>();
    let mut contacts = 0;
    for id in with_contacts {
        let (_, c) = t.get(&token, &format!("/api/v1/cards/{id}/contacts")).await;
        contacts += c["items"].as_array().unwrap().len();
    }
    assert!(contacts > 0);

    let (_, departures) = t.get(&token, "/api/v1/departures").await;
    let departures = departures["items"].as_array().unwrap();
    assert_eq!(departures.len(), 1, "山田's departure is on the desk");
    assert_eq!(departures[0]["plan_status"], "none");

    // Running it again keeps the data and prints the logins again.
    let out = meishi(&["demo", "--database", &t.db_url, "--no-serve"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("作成済み"));
}

#[test]
fn every_command_explains_itself() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["migrate", "--help"],
        vec!["init", "--help"],
        vec!["token", "create", "--help"],
        vec!["demo", "--help"],
    ] {
        let out = meishi(&args, "");
        assert!(out.status.success());
        let first = text(&out.stdout).lines().next().unwrap_or("").to_string();
        assert!(first.len() > 10, "{args:?}: {first:?}");
    }
}

#[tokio::test]
async fn transfer_and_undo_from_the_terminal() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, yamada) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (sato_id, _) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (s, tag) = t
        .post(&yamada, "/api/v1/tags", serde_json::json!({"name": "重要顧客"}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let vip = t
        .card(
            &yamada,
            serde_json::json!({"full_name": "顧客 A", "company": "株式会社サンプル"}),
        )
        .await;
    t.card(
        &yamada,
        serde_json::json!({"full_name": "顧客 B", "company": "東洋精機"}),
    )
    .await;
    t.call(
        &yamada,
        reqwest::Method::PUT,
        &format!("/api/v1/cards/{vip}/tags/{}", tag["id"].as_str().unwrap()),
        None,
    )
    .await;
    let db = t.db_url.as_str();
    let base = [
        "transfer",
        "--database",
        db,
        "--from",
        "yamada@acme.example.jp",
        "--to",
        "sato@acme.example.jp",
    ];
    fn with<'a>(base: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        base.iter().chain(extra).copied().collect()
    }

    let out = meishi(&with(&base, &["--all", "--dry-run"]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).starts_with("dry run: would move 2 cards, 0 contacts"),
        "{}",
        text(&out.stdout)
    );

    let out = meishi(&with(&base, &["--tag", "重要顧客"]), "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("moved 1 cards"), "{}", text(&out.stdout));
    let out = meishi(&with(&base, &["--company", "ｻﾝﾌﾟﾙ"]), "");
    assert!(!out.status.success(), "nothing of that company is left");
    assert!(text(&out.stderr).contains("matches none"), "{}", text(&out.stderr));

    let out = meishi(&with(&base, &["--all"]), "");
    let stdout = text(&out.stdout);
    assert!(stdout.contains("moved 1 cards"), "{stdout}");
    let id = stdout
        .split("undo with: meishi transfer undo ")
        .nth(1)
        .unwrap()
        .trim()
        .to_string();
    let (_, cards) = t.get(&org.admin, &format!("/api/v1/cards?owner_id={sato_id}")).await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 2);
    let events = t.audit(&org, "transfer.create").await;
    assert_eq!(events.len(), 2);
    assert!(
        events[0]["actor_id"].is_null(),
        "run from the command line, not by a user"
    );

    let out = meishi(&["transfer", "undo", "--database", db, &id], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 cards restored, 0 left alone"),
        "{}",
        text(&out.stdout)
    );
    let out = meishi(&["transfer", "undo", "--database", db, &id], "");
    assert!(
        text(&out.stderr).contains("already been undone"),
        "{}",
        text(&out.stderr)
    );

    let out = meishi(&base, "");
    assert!(!out.status.success(), "a selection is required");
    let out = meishi(&with(&base, &["--all", "--tag", "x"]), "");
    assert!(!out.status.success(), "only one selection");
    let out = meishi(
        &[
            "transfer",
            "--database",
            db,
            "--from",
            "nobody@acme.example.jp",
            "--to",
            "sato@acme.example.jp",
            "--all",
        ],
        "",
    );
    assert!(text(&out.stderr).contains("not found"), "{}", text(&out.stderr));
}

#[tokio::test]
async fn user_lifecycle_from_the_terminal() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (id, token) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    t.card(&token, serde_json::json!({"full_name": "顧客", "company": "A社"}))
        .await;
    let db = t.db_url.as_str();
    let user = |op: &str, extra: &[&str]| {
        let mut args = vec!["user", op, "--database", db, "yamada@acme.example.jp"];
        args.extend(extra);
        meishi(&args, "")
    };
    let out = user("suspend", &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout).trim(),
        "山田 賢治(退職済み) <yamada@acme.example.jp>: suspended"
    );
    assert_eq!(t.get(&token, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let out = user("reactivate", &[]);
    assert_eq!(text(&out.stdout).trim(), "山田 賢治 <yamada@acme.example.jp>: active");

    let out = user("export", &[]);
    let export: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(export["cards"][0]["full_name"], "顧客");

    let out = user("delete", &[]);
    assert!(!out.status.success());
    assert!(
        text(&out.stderr).contains("still owns 1 cards"),
        "{}",
        text(&out.stderr)
    );
    let out = meishi(&["archive-account", "create", "--database", db], "");
    assert!(text(&out.stdout).contains("created"), "{}", text(&out.stdout));
    let out = user("delete", &["--archive"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).ends_with(": deleted\n"));
    let (_, u) = t.get(&org.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(u["status"], "deleted");
    let out = user("restore", &[]);
    assert!(text(&out.stdout).contains("suspended"), "{}", text(&out.stdout));
    let events = t.audit(&org, "user.suspend").await;
    assert!(
        events.iter().all(|e| e["actor_id"].is_null()),
        "the command line acts as the system"
    );
}

#[tokio::test]
async fn the_cli_previews_and_queues_one_to_one_mail_and_hands_templates_over() {
    let t = spawn().await;
    let org = t.org("climail").await;
    let db = t.db_url.as_str();
    let (suzuki, suzuki_t) = t.user(&org, "suzuki@climail.example.jp", "鈴木 一郎", "member").await;
    let (_, sato_t) = t.user(&org, "sato@climail.example.jp", "佐藤 花子", "member").await;
    let (s, tpl) = t
        .post(
            &suzuki_t,
            "/api/v1/mail/templates",
            serde_json::json!({"name": "ご案内", "subject": "{{氏名}}様", "body": "本文", "shared": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tpl}");
    let tpl = tpl["id"].as_str().unwrap().to_string();
    t.card(
        &suzuki_t,
        serde_json::json!({"full_name": "山本 太郎", "company": "甲社", "email": "yamamoto@kou.jp"}),
    )
    .await;
    t.card(
        &sato_t,
        serde_json::json!({"full_name": "田中 一郎", "company": "甲社", "email": "tanaka@kou.jp"}),
    )
    .await;
    let (s, _) = t
        .post(
            &org.admin,
            &format!("/api/v1/users/{suzuki}/suspend"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);

    let send = [
        "mail",
        "send",
        "--database",
        db,
        "--template",
        &tpl,
        "--company",
        "甲社",
    ];
    let mut preview = send.to_vec();
    preview.push("--dry-run");
    let out = meishi(&preview, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 messages, 1 cards left out"), "{stdout}");
    assert!(
        stdout.contains("山本 太郎") && stdout.contains("所有者が利用停止・削除済み"),
        "{stdout}"
    );

    // Without an SMTP server the send is refused, saying how to set one up.
    let out = meishi(&send, "");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("MEISHI_SMTP_URL"), "{}", text(&out.stderr));
    let mut configured = send.to_vec();
    configured.extend(["--smtp-url", "smtp://127.0.0.1:2525"]);
    let out = meishi(&configured, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("1 messages queued, 1 cards left out"),
        "{}",
        text(&out.stdout)
    );
    let out = meishi(&["mail", "sends", "--database", db], "");
    assert!(
        text(&out.stdout).contains("one_to_one scheduled"),
        "{}",
        text(&out.stdout)
    );

    let out = meishi(
        &[
            "mail",
            "hand-over-templates",
            "--database",
            db,
            "--from",
            "suzuki@climail.example.jp",
            "--to",
            "sato@climail.example.jp",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("handed over 1 mail templates"),
        "{}",
        text(&out.stdout)
    );
    let (_, list) = t.get(&sato_t, "/api/v1/mail/templates").await;
    assert_eq!(list["items"][0]["copied_from"], tpl.as_str());

    // The handover notice of an approved plan: listed, then queued once.
    let (sato, _) = (list["items"][0]["creator_id"].as_str().unwrap().to_string(), ());
    let (kato, kato_t) = t.user(&org, "kato@climail.example.jp", "加藤 四郎", "member").await;
    t.card(
        &kato_t,
        serde_json::json!({"full_name": "林 五郎", "company": "乙社", "email": "hayashi@otsu.jp"}),
    )
    .await;
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(20)).to_string();
    let (s, dep) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            serde_json::json!({"user_id": kato, "retirement_date": day, "last_working_day": day, "successor_id": sato}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dep}");
    let dep = dep["id"].as_str().unwrap();
    t.call(
        &kato_t,
        reqwest::Method::PUT,
        &format!("/api/v1/departures/{dep}/plan"),
        Some(serde_json::json!({"items": []})),
    )
    .await;
    t.post(
        &org.admin,
        &format!("/api/v1/departures/{dep}/plan/approve"),
        serde_json::json!({}),
    )
    .await;
    let notice = ["mail", "notice", "--database", db, "--user", "kato@climail.example.jp"];
    let mut dry = notice.to_vec();
    dry.push("--dry-run");
    let out = meishi(&dry, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("林 五郎 (乙社) <hayashi@otsu.jp> → 佐藤 花子"),
        "{}",
        text(&out.stdout)
    );
    let handed = list["items"][0]["id"].as_str().unwrap();
    let mut send = notice.to_vec();
    send.extend(["--template", handed, "--smtp-url", "smtp://127.0.0.1:2525"]);
    let out = meishi(&send, "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("queued for 1 customers (0 told before"),
        "{}",
        text(&out.stdout)
    );
    let out = meishi(&send, "");
    assert!(
        text(&out.stdout).contains("queued for 0 customers (1 told before"),
        "{}",
        text(&out.stdout)
    );
}

#[tokio::test]
async fn a_command_names_the_database_it_opened_when_there_is_no_file_or_no_organisation() {
    // No file: nothing is made, and the answer says where it looked and how to make one.
    let dir = tempfile::tempdir().unwrap();
    let missing = format!("sqlite://{}", dir.path().join("none.db").display());
    let out = meishi(&["user", "suspend", "--database", &missing, "a@sample.jp"], "");
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(err.contains(&format!("there is no database at {missing}")), "{err}");
    assert!(err.contains("meishi init --database"), "{err}");
    assert!(!dir.path().join("none.db").exists(), "no empty file is made");

    // A database without an organisation (the server made its tables) on either engine.
    let t = spawn().await;
    let out = meishi(
        &[
            "token",
            "create",
            "--database",
            &t.db_url,
            "--email",
            "a@sample.jp",
            "--name",
            "x",
        ],
        "",
    );
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains(&format!("the database {} holds no organisation yet", t.db_url)),
        "{err}"
    );
    assert!(!err.contains("several organisations"), "{err}");
}

#[tokio::test]
async fn scim_tokens_from_the_terminal_create_list_and_revoke() {
    let t = spawn().await;
    t.org("acme").await;
    let db = t.db_url.as_str();
    let out = meishi(
        &[
            "scim-token",
            "create",
            "--database",
            db,
            "--org",
            "acme",
            "--name",
            "okta",
        ],
        "",
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let token = text(&out.stdout).trim().to_string();
    assert!(
        token.starts_with("mscim_") && !token.contains('\n'),
        "only the token: {token}"
    );
    let res = t
        .http
        .get(format!("{}/scim/v2/Users", t.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);

    let out = meishi(&["scim-token", "list", "--database", db, "--org", "acme"], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let list = text(&out.stdout);
    assert!(list.contains("\tokta\t") && list.contains("\tvalid"), "{list}");
    assert!(!list.contains(&token), "the secret is never shown again");
    let id = list.split('\t').next().unwrap().to_string();

    let out = meishi(&["scim-token", "revoke", "--database", db, "--org", "acme", &id], "");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("revoked SCIM token okta"));
    let again = meishi(&["scim-token", "revoke", "--database", db, "--org", "acme", &id], "");
    assert!(!again.status.success(), "revoked already");
    let res = t
        .http
        .get(format!("{}/scim/v2/Users", t.url))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let out = meishi(&["scim-token", "create", "--help"], "");
    assert!(out.status.success());
}

/// `meishi bench http`, small and short: it builds its cards, starts its servers (two on
/// PostgreSQL), checks that each scenario's page is what it asks for, and every scenario runs
/// without an error. (Its figures are BENCHMARKS.md's; none is asserted here.)
#[tokio::test]
async fn bench_http_runs_every_scenario_without_an_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = fresh_database(dir.path()).await;
    let servers = if engine() == "postgres" { "1,2" } else { "1" };
    let args = [
        "bench",
        "http",
        "--database",
        &db,
        "--cards",
        "2000",
        "--seconds",
        "1",
        "--warmup-seconds",
        "0",
        "--connections",
        "4",
        "--servers",
        servers,
    ];
    let out = meishi(&args, "");
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{stdout}\n{}", text(&out.stderr));
    let results: Vec<&str> = stdout.lines().filter(|l| l.starts_with("RESULT bench=http ")).collect();
    let mut expected = vec![
        "bare",
        "first_page_without_http",
        "first_page_raw_sql",
        "first_page",
        "owner",
        "tag",
        "company",
        "deep_cursor",
        "mixed",
    ];
    if engine() == "postgres" {
        expected.extend(["first_page", "mixed"]);
    }
    let scenarios: Vec<&str> = results
        .iter()
        .filter_map(|l| l.split_whitespace().find_map(|f| f.strip_prefix("scenario=")))
        .collect();
    assert_eq!(scenarios, expected, "{stdout}");
    for l in &results {
        assert!(l.contains(" errors=0 "), "{l}");
        assert!(!l.contains(" requests=0 "), "{l}");
        // Every row after the bare handler is also set against the raw-SQL limit.
        if !l.contains(" scenario=bare ") {
            let ratio: f64 = l
                .split_whitespace()
                .find_map(|f| f.strip_prefix("ratio_to_raw_sql="))
                .and_then(|r| r.parse().ok())
                .unwrap_or(f64::NAN);
            assert!(ratio.is_finite() && ratio > 0.0, "{l}");
        }
    }
}
