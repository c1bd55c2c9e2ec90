//! Backups and restore of a SQLite database, and an organisation's archive
//! (`meishi backup`, `restore`, `export-org`, `import-org`), through the real binary.

use crate::cli::{meishi, text};
use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::Connection;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const DEMO_ADMIN: &str = "admin@example.co.jp";
const DEMO_PASSWORD: &str = "meishi-demo";

fn sqlite_url(p: &Path) -> String {
    format!("sqlite://{}", p.display())
}

/// Runs the binary on a blocking thread, so that the test's server keeps serving meanwhile.
async fn run(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        meishi(&args, "")
    })
    .await
    .unwrap()
}

fn args(a: &[&str]) -> Vec<String> {
    a.iter().map(|s| s.to_string()).collect()
}

#[track_caller]
fn ok(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

#[track_caller]
fn refused(out: &std::process::Output, says: &str) {
    assert!(!out.status.success(), "{}", text(&out.stdout));
    let err = text(&out.stderr);
    assert!(err.contains(says), "expected «{says}» in: {err}");
}

async fn sqlite(p: &Path) -> sqlx::SqliteConnection {
    sqlx::SqliteConnection::connect(&sqlite_url(p))
        .await
        .expect("open SQLite file")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_under_a_write_load_holds_every_acknowledged_card_and_restores_whole() {
    let t = spawn_sqlite().await;
    let org = t.org("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("acme.backup");
    let backup_s = backup.display().to_string();

    // Four clients create cards over HTTP without pause; a card counts once its 201 is in.
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for w in 0..4 {
        let (url, token, acked, stop) = (t.url.clone(), org.admin.clone(), acked.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            let mut n = 0;
            while !stop.load(Ordering::SeqCst) {
                let name = format!("負荷{w}号{n:05}");
                let res = http
                    .post(format!("{url}/api/v1/cards"))
                    .bearer_auth(&token)
                    .json(&json!({"full_name": name, "company": "株式会社ロード"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::CREATED);
                let v: Value = res.json().await.unwrap();
                acked
                    .lock()
                    .unwrap()
                    .push((v["id"].as_str().unwrap().to_string(), name));
                n += 1;
            }
        }));
    }
    while acked.lock().unwrap().len() < 200 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: Vec<(String, String)> = acked.lock().unwrap().clone();
    let out = run(args(&["backup", "--database", &t.db_url, &backup_s])).await;
    let during = acked.lock().unwrap().len() - before.len();
    // The load goes on a little after the backup: those cards must not be in it.
    let after_backup = acked.lock().unwrap().len();
    while acked.lock().unwrap().len() < after_backup + 50 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.await.unwrap();
    }
    let said = ok(&out);
    assert!(said.contains("backed up"), "{said}");
    eprintln!("acknowledged before the backup: {}, during it: {during}", before.len());

    // Never over an existing file, unless asked.
    refused(
        &run(args(&["backup", "--database", &t.db_url, &backup_s])).await,
        "already exists",
    );
    let untouched = std::fs::metadata(&backup).unwrap().len();
    refused(
        &run(args(&[
            "backup",
            "--force",
            "--database",
            &t.db_url,
            t.db_url.trim_start_matches("sqlite://"),
        ]))
        .await,
        "the database itself",
    );

    let restored = dir.path().join("restored.db");
    let said = ok(&run(args(&["restore", "--database", &sqlite_url(&restored), &backup_s])).await);
    assert!(said.contains("restored into"), "{said}");

    let mut c = sqlite(&restored).await;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    let ids: HashSet<String> = sqlx::query_scalar("SELECT id FROM cards")
        .fetch_all(&mut c)
        .await
        .unwrap()
        .into_iter()
        .collect();
    c.close().await.unwrap();
    let missing: Vec<_> = before.iter().filter(|(id, _)| !ids.contains(id)).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged cards missing: {missing:?}",
        missing.len()
    );
    let all: HashSet<String> = acked.lock().unwrap().iter().map(|(id, _)| id.clone()).collect();
    assert!(ids.is_subset(&all), "the backup holds a card nobody created");
    assert!(
        ids.len() < all.len(),
        "cards created after the backup finished are not in it"
    );

    // The restored database serves: the same token, its keyword index right (keyed by the
    // cards' rowids, which the copy kept), the restore in its audit log.
    let r = spawn_on(&sqlite_url(&restored)).await;
    let (probe_id, probe_name) = &before[before.len() / 2];
    let (s, found) = r.get(&org.admin, &format!("/api/v1/cards?q={probe_name}")).await;
    assert_eq!(s, StatusCode::OK, "{found}");
    let found: Vec<&str> = found["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [probe_id.as_str()]);
    let restores = r.audit(&org, "database.restore").await;
    assert_eq!(restores.len(), 1, "{restores:?}");

    // --force replaces the file.
    ok(&run(args(&["backup", "--force", "--database", &t.db_url, &backup_s])).await);
    assert!(std::fs::metadata(&backup).unwrap().len() >= untouched);
}

#[tokio::test]
async fn restore_refuses_a_database_in_use_and_a_file_that_is_no_sound_meishi_backup() {
    let t = spawn_sqlite().await;
    let org = t.org("acme").await;
    t.card(&org.admin, json!({"full_name": "山田 太郎"})).await;
    let dir = tempfile::tempdir().unwrap();
    let backup = dir.path().join("good.backup");
    let backup_s = backup.display().to_string();
    ok(&run(args(&["backup", "--database", &t.db_url, &backup_s])).await);

    // The test's server has the database open.
    refused(
        &run(args(&["restore", "--force", "--database", &t.db_url, &backup_s])).await,
        "in use by a running meishi",
    );
    #[cfg(unix)]
    {
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(t.db_url.trim_start_matches("sqlite://"), &link).unwrap();
        refused(
            &run(args(&[
                "restore",
                "--force",
                "--database",
                &sqlite_url(&link),
                &backup_s,
            ]))
            .await,
            "in use by a running meishi",
        );
        std::fs::remove_file(&link).unwrap();
    }
    let (s, _) = t.get(&org.admin, "/api/v1/me").await;
    assert_eq!(s, StatusCode::OK, "the server's database is left alone");

    let target = dir.path().join("target.db");
    let target_url = sqlite_url(&target);
    let restore = |file: &Path| args(&["restore", "--database", &target_url, &file.display().to_string()]);

    let not_sqlite = dir.path().join("notes.txt");
    std::fs::write(&not_sqlite, "名刺の一覧ではありません\n".repeat(100)).unwrap();
    refused(&run(restore(&not_sqlite)).await, "is not a SQLite database");

    let other = dir.path().join("other.db");
    {
        let mut c = sqlx::SqliteConnection::connect(&format!("{}?mode=rwc", sqlite_url(&other)))
            .await
            .unwrap();
        sqlx::query("CREATE TABLE notes (body TEXT)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    refused(&run(restore(&other)).await, "not a meishi one");

    // A page in the middle overwritten.
    let corrupt = dir.path().join("corrupt.backup");
    let mut bytes = std::fs::read(&backup).unwrap();
    let page = 8192;
    assert!(bytes.len() > 6 * page);
    for b in &mut bytes[3 * page..4 * page] {
        *b = 0x5a;
    }
    std::fs::write(&corrupt, &bytes).unwrap();
    let out = run(restore(&corrupt)).await;
    assert!(!out.status.success());
    let err = text(&out.stderr);
    assert!(
        err.contains("fails SQLite's integrity check") || err.contains("is not a sound SQLite database"),
        "{err}"
    );

    // A backup of a newer meishi.
    let newer = dir.path().join("newer.backup");
    std::fs::copy(&backup, &newer).unwrap();
    {
        let mut c = sqlite(&newer).await;
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    refused(&run(restore(&newer)).await, "newer meishi");
    assert!(!target.exists(), "nothing restored from a bad file");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // Into a database nobody uses: once; again only with --force; --dry-run changes nothing.
    ok(&run(restore(&backup)).await);
    refused(&run(restore(&backup)).await, "--force replaces it");
    {
        let mut c = sqlite(&target).await;
        sqlx::query("DELETE FROM card_tags").execute(&mut c).await.unwrap();
        sqlx::query("UPDATE cards SET title = 'changed since'")
            .execute(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
    }
    let mut dry = restore(&backup);
    dry.push("--dry-run".into());
    let said = ok(&run(dry).await);
    assert!(said.contains("would replace"), "{said}");
    let title = |p: std::path::PathBuf| async move {
        let mut c = sqlite(&p).await;
        let t: String = sqlx::query_scalar("SELECT title FROM cards")
            .fetch_one(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        t
    };
    assert_eq!(title(target.clone()).await, "changed since");
    // A process that died with commits still in the WAL (`-wal` beside the database): the
    // restore checkpoints them into the old file and removes the WAL, so that it is never
    // read against the new one.
    let side = |s: &str| {
        let mut p = target.as_os_str().to_owned();
        p.push(s);
        std::path::PathBuf::from(p)
    };
    {
        let mut c = sqlite(&target).await;
        sqlx::query("PRAGMA wal_autocheckpoint = 0")
            .execute(&mut c)
            .await
            .unwrap();
        sqlx::query("UPDATE cards SET title = 'in the WAL'")
            .execute(&mut c)
            .await
            .unwrap();
        let wal = std::fs::read(side("-wal")).unwrap();
        assert!(!wal.is_empty());
        c.close().await.unwrap();
        std::fs::write(side("-wal"), wal).unwrap();
    }
    let mut force = restore(&backup);
    force.push("--force".into());
    let said = ok(&run(force).await);
    assert!(said.contains("replaced"), "{said}");
    assert!(
        !side("-wal").exists() && !side("-shm").exists(),
        "a stale -wal or -shm beside the restored database"
    );
    assert_eq!(title(target.clone()).await, "");
    let mut c = sqlite(&target).await;
    let check: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut c)
        .await
        .unwrap();
    assert_eq!(check, "ok");
    c.close().await.unwrap();
}

#[tokio::test]
async fn backup_of_a_postgresql_database_gives_the_pg_dump_lines_without_the_password() {
    let out = meishi(
        &[
            "backup",
            "--database",
            "postgres://meishi:s3cret-pw@db.example.jp:5433/meishi?sslmode=require",
            "meishi.dump",
        ],
        "",
    );
    assert!(!out.status.success(), "no backup was made: not a success");
    let err = text(&out.stderr);
    for line in [
        "pg_dump is the tool",
        "pg_dump --format=custom --file=meishi.dump --dbname='postgres://meishi@db.example.jp:5433/meishi?sslmode=require'",
        "pg_restore --no-owner --exit-on-error --dbname='postgres://meishi@db.example.jp:5433/meishi_restored?sslmode=require' meishi.dump",
        "PGPASSWORD",
    ] {
        assert!(err.contains(line), "expected «{line}» in: {err}");
    }
    assert!(!err.contains("s3cret-pw"), "the password is printed: {err}");
    assert!(!Path::new("meishi.dump").exists());
}

/// An archive read back: its header, each table's rows (as JSON texts, sorted), its end.
struct Archive {
    header: Value,
    rows: BTreeMap<String, Vec<String>>,
    end: Value,
}

fn read_archive(p: &Path) -> Archive {
    let text = std::fs::read_to_string(p).unwrap();
    let mut lines = text.lines();
    let header: Value = serde_json::from_str(lines.next().unwrap()).unwrap();
    let mut rows: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut end = Value::Null;
    for l in lines {
        let v: Value = serde_json::from_str(l).unwrap();
        if v.get("end").is_some() {
            end = v["end"].clone();
        } else {
            rows.entry(v["t"].as_str().unwrap().to_string())
                .or_default()
                .push(v["v"].to_string());
        }
    }
    for r in rows.values_mut() {
        r.sort();
    }
    Archive { header, rows, end }
}

/// `b` (an organisation imported from `a`, exported again) holds what `a` holds, row for row,
/// and `imports` more audit events: the imports.
#[track_caller]
fn assert_same_organisation(a: &Archive, b: &Archive, imports: usize) {
    assert_eq!(a.header["organization"]["id"], b.header["organization"]["id"]);
    assert_eq!(a.header["tables"], b.header["tables"]);
    assert_eq!(a.header["people"], b.header["people"]);
    for (table, rows) in &a.rows {
        let other = b.rows.get(table).cloned().unwrap_or_default();
        if table == "audit_events" {
            let extra: Vec<&String> = other.iter().filter(|r| !rows.contains(r)).collect();
            assert_eq!(extra.len(), imports, "{extra:?}");
            assert!(extra.iter().all(|r| r.contains("organization.import")), "{extra:?}");
            assert_eq!(other.len(), rows.len() + imports);
        } else if table == "audit_heads" {
            // The chain's head moved on by the imports' events.
            let seq = |r: &String| {
                serde_json::from_str::<serde_json::Value>(r).unwrap()[1]
                    .as_i64()
                    .unwrap()
            };
            assert_eq!(rows.len(), other.len(), "{table}: row count");
            for (x, y) in rows.iter().zip(&other) {
                assert_eq!(seq(y), seq(x) + imports as i64, "{x} → {y}");
            }
        } else {
            assert_eq!(rows.len(), other.len(), "{table}: row count");
            let differ: Vec<_> = rows.iter().zip(&other).filter(|(x, y)| x != y).take(3).collect();
            assert!(differ.is_empty(), "{table} differs: {differ:?}");
        }
    }
    assert_eq!(a.rows.keys().collect::<Vec<_>>(), b.rows.keys().collect::<Vec<_>>());
}

/// The demo organisation with a row in every table a user's work fills (transfers, plans,
/// history, mail templates, settings, lists, SCIM).
async fn rich_demo(db_url: &str) -> TestApp {
    ok(&meishi(
        &["demo", "--database", db_url, "--no-serve", "--cards", "300"],
        "",
    ));
    let t = spawn_on(db_url).await;
    let admin = meishi::service::auth::create_token(&t.app, Some("demo"), DEMO_ADMIN, "test")
        .await
        .unwrap();
    let (_, deps) = t.get(&admin, "/api/v1/departures").await;
    let dep = deps["items"][0].clone();
    let (s, users) = t.get(&admin, "/api/v1/users?limit=100").await;
    assert_eq!(s, StatusCode::OK, "{users}");
    // A member who is neither the demo's leaver nor their successor.
    let other = users["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["role"] == "member" && u["id"] != dep["user_id"] && u["id"] != dep["successor_id"])
        .map(|u| u["id"].as_str().unwrap().to_string())
        .unwrap();
    let (s, personal) = t.post(&admin, "/api/v1/tags", json!({"name": "自分用"})).await;
    assert_eq!(s, StatusCode::CREATED, "{personal}");
    let (_, cards) = t.get(&admin, "/api/v1/cards?limit=2").await;
    let card = cards["items"][0]["id"].as_str().unwrap().to_string();
    let path = format!("/api/v1/cards/{card}/tags/{}", personal["id"].as_str().unwrap());
    let (s, v) = t.call(&admin, Method::PUT, &path, None).await;
    assert!(s.is_success(), "{v}");
    let (s, v) = t
        .call(
            &admin,
            Method::PATCH,
            &format!("/api/v1/cards/{card}"),
            Some(json!({"title": "部長"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t
        .post(
            &admin,
            "/api/v1/transfers",
            json!({"from_user_id": other, "to_user_id": dep["successor_id"], "selection": {"all": true}, "include_tags": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let plan = json!({"items": [{"selection": {"all": true}, "successor_id": dep["successor_id"]}]});
    let path = format!("/api/v1/departures/{}/plan", dep["id"].as_str().unwrap());
    let (s, v) = t.call(&admin, Method::PUT, &path, Some(plan)).await;
    assert!(s.is_success(), "{v}");
    let template = json!({"name": "ご案内", "subject": "{{会社名}} {{氏名}}様", "body": "{{氏名}}様\nお世話になっております。", "shared": true});
    let (s, v) = t.post(&admin, "/api/v1/mail/templates", template).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (s, v) = t
        .call(
            &admin,
            Method::PATCH,
            "/api/v1/mail/settings",
            Some(json!({"reminders": false})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t
        .post(
            &admin,
            "/api/v1/mail/suppressions",
            json!({"kind": "opt_out", "value": "nomore@example.com"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let (_, idp) = meishi::service::scim::create_token_for_org(&t.app, Some("demo"), "idp")
        .await
        .unwrap();
    let res = t
        .http
        .post(format!("{}/scim/v2/Users", t.url))
        .bearer_auth(&idp)
        .header("content-type", "application/scim+json")
        .body(
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "scim.taro@example.co.jp",
                   "externalId": "9f1c2d3e-0000-4000-8000-000000000001",
                   "name": {"familyName": "SCIM", "givenName": "太郎"}, "emails": [{"value": "scim.taro@example.co.jp", "primary": true}]})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
    // A One to One send that went (the demo has no SMTP server: written as the worker would
    // leave it): a message sent (its text and its state, migration 14's two tables) and a
    // card it skipped.
    let org_id = meishi::service::auth::resolve_org(&t.app, Some("demo"))
        .await
        .unwrap()
        .id;
    let send = "0190aaaa-0000-7000-8000-000000000001";
    for (q, values) in [
        (
            "INSERT INTO mail_sends (id, org_id, kind, subject, body, selection, scheduled_at, status, secret, \
             queued, skipped, created_at) VALUES (?, ?, 'one_to_one', '件名', '本文', '{}', 1, 'done', 's', 1, 1, 1)",
            vec![send.into(), org_id.clone().into()],
        ),
        (
            "INSERT INTO mail_messages (id, org_id, send_id, card_id, recipient, to_name, company, department, title, \
             sender_id, from_name, from_addr, successor_name, successor_addr, created_at, reason) VALUES \
             (? || '.a', ?, ?, 'a', 'a@example.com', '顧客 甲', '甲社', '', '', NULL, '営業', 'sales@example.co.jp', '', '', 1, NULL), \
             (? || '.b', ?, ?, 'b', '', '顧客 乙', '乙社', '', '', NULL, '営業', 'sales@example.co.jp', '', '', 1, 'no_email')",
            vec![
                send.into(),
                org_id.clone().into(),
                send.into(),
                send.into(),
                org_id.clone().into(),
                send.into(),
            ],
        ),
        (
            "INSERT INTO mail_states (id, status, attempts, next_attempt_at, done_at) VALUES (? || '.a', 'sent', 1, 1, 2)",
            vec![send.into()],
        ),
    ] {
        meishi::store::exec(t.app.store.conn(), q, values).await.unwrap();
    }
    t
}

async fn sign_in(t: &TestApp, org: &str, email: &str, password: &str) -> StatusCode {
    let body = json!({"organization": org, "email": email, "password": password});
    t.post("", "/api/v1/session", body).await.0
}

#[tokio::test]
async fn an_organisation_exported_and_imported_into_the_other_engine_is_the_same() {
    let dir = tempfile::tempdir().unwrap();
    let src = fresh_database(dir.path()).await;
    let t = rich_demo(&src).await;
    let a_path = dir.path().join("demo.jsonl");
    let a_s = a_path.display().to_string();
    ok(&run(args(&["export-org", "--database", &src, "--org", "demo", &a_s])).await);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&a_path).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "the archive holds password hashes: owner only");
    }
    let a = read_archive(&a_path);
    assert_eq!(a.header["format"], "meishi-organization");
    for table in [
        "organizations",
        "users",
        "scim_users",
        "tags",
        "cards",
        "card_tags",
        "contacts",
        "card_history",
        "news",
        "person_candidates",
        "transfers",
        "transfer_items",
        "departures",
        "handover_items",
        "mail_settings",
        "mail_suppressions",
        "mail_templates",
        "mail_sends",
        "mail_messages",
        "mail_states",
        "audit_events",
    ] {
        assert!(!a.rows.get(table).is_none_or(Vec::is_empty), "the demo has no {table}");
        assert_eq!(
            a.end["rows"][table].as_u64().unwrap() as usize,
            a.rows[table].len(),
            "{table}"
        );
    }
    let exports = t.audit(&org_of(&t).await, "organization.export").await;
    assert_eq!(exports.len(), 1, "{exports:?}");

    // Into a new SQLite database (from PostgreSQL when that is the engine under test).
    let sqlite_db = sqlite_url(&dir.path().join("imported.db"));
    let said = ok(&run(args(&["import-org", "--database", &sqlite_db, &a_s])).await);
    assert!(said.contains("imported organisation"), "{said}");
    let b_path = dir.path().join("again.jsonl");
    ok(&run(args(&[
        "export-org",
        "--database",
        &sqlite_db,
        &b_path.display().to_string(),
    ]))
    .await);
    let b = read_archive(&b_path);
    assert_same_organisation(&a, &b, 1);
    // The imported log goes on as the same chain: every hash carried over, the import's own
    // event linked to the last one.
    let verified = ok(&run(args(&["audit", "verify", "--database", &sqlite_db])).await);
    assert!(verified.contains("demo: ok"), "{verified}");

    // The database's person numbering moved past the imported people: a new person there never
    // takes an imported one's id.
    {
        let mut c = sqlite(&dir.path().join("imported.db")).await;
        let next: i64 = sqlx::query_scalar("SELECT next FROM person_seq")
            .fetch_one(&mut c)
            .await
            .unwrap();
        let top: i64 = sqlx::query_scalar("SELECT MAX(person_id) FROM cards")
            .fetch_one(&mut c)
            .await
            .unwrap();
        assert!(
            next > top,
            "person_seq {next} is not past the imported people (up to {top})"
        );
        c.close().await.unwrap();
    }
    let i = spawn_on(&sqlite_db).await;
    assert_eq!(sign_in(&i, "demo", DEMO_ADMIN, DEMO_PASSWORD).await, StatusCode::OK);
    assert_eq!(
        sign_in(&i, "demo", DEMO_ADMIN, "wrong password").await,
        StatusCode::UNAUTHORIZED
    );
    let token = meishi::service::auth::create_token(&i.app, Some("demo"), DEMO_ADMIN, "test")
        .await
        .unwrap();
    // The keyword index and people were made for the imported cards.
    let (_, page) = i.get(&token, "/api/v1/cards?limit=50").await;
    let card = &page["items"][7];
    let (s, found) = i
        .get(
            &token,
            &format!("/api/v1/cards?q={}", card["full_name"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{found}");
    assert!(
        found["items"].as_array().unwrap().iter().any(|c| c["id"] == card["id"]),
        "{found}"
    );
    let (s, person) = i
        .get(
            &token,
            &format!("/api/v1/cards/{}/person", card["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{person}");

    // And on to PostgreSQL, when it runs here: SQLite → PostgreSQL.
    if engine() == "postgres" {
        let pg = fresh_database(dir.path()).await;
        ok(&run(args(&["import-org", "--database", &pg, &b_path.display().to_string()])).await);
        let c_path = dir.path().join("third.jsonl");
        ok(&run(args(&["export-org", "--database", &pg, &c_path.display().to_string()])).await);
        assert_same_organisation(&a, &read_archive(&c_path), 2);
        let verified = ok(&run(args(&["audit", "verify", "--database", &pg])).await);
        assert!(verified.contains("demo: ok"), "{verified}");
        let p = spawn_on(&pg).await;
        assert_eq!(sign_in(&p, "demo", DEMO_ADMIN, DEMO_PASSWORD).await, StatusCode::OK);
    }
}

async fn org_of(t: &TestApp) -> Org {
    let admin = meishi::service::auth::create_token(&t.app, Some("demo"), DEMO_ADMIN, "test")
        .await
        .unwrap();
    Org {
        slug: "demo".into(),
        admin_id: String::new(),
        admin,
    }
}

#[tokio::test]
async fn import_org_is_all_or_nothing_and_refuses_a_taken_slug_or_the_same_organisation_twice() {
    let dir = tempfile::tempdir().unwrap();
    let src = fresh_database(dir.path()).await;
    ok(&meishi(
        &["demo", "--database", &src, "--no-serve", "--cards", "120"],
        "",
    ));
    let a_path = dir.path().join("demo.jsonl");
    let a_s = a_path.display().to_string();
    ok(&run(args(&["export-org", "--database", &src, &a_s])).await);
    refused(
        &run(args(&["export-org", "--database", &src, &a_s])).await,
        "already exists",
    );

    // Back into the database it came from: the same ids.
    refused(
        &run(args(&["import-org", "--database", &src, "--as", "demo2", &a_s])).await,
        "already holds the archive's organisation",
    );

    // Cut off: nothing is loaded, and the whole archive loads afterwards.
    let target = sqlite_url(&dir.path().join("target.db"));
    let whole = std::fs::read_to_string(&a_path).unwrap();
    let cut = dir.path().join("cut.jsonl");
    let lines: Vec<&str> = whole.lines().collect();
    std::fs::write(&cut, lines[..lines.len() - 1].join("\n")).unwrap();
    refused(
        &run(args(&["import-org", "--database", &target, &cut.display().to_string()])).await,
        "cut off",
    );
    let other = dir.path().join("other.jsonl");
    let mut bad = lines.clone();
    let foreign = lines[5].replace(a_header_org_id(&whole).as_str(), "01900000-0000-7000-8000-000000000000");
    bad[5] = &foreign;
    std::fs::write(&other, bad.join("\n")).unwrap();
    refused(
        &run(args(&[
            "import-org",
            "--database",
            &target,
            &other.display().to_string(),
        ]))
        .await,
        "another organisation",
    );

    // A slug taken by another organisation: refused, then loaded under --as.
    let init = [
        "init",
        "--database",
        &target,
        "--org",
        "別の会社",
        "--slug",
        "demo",
        "--admin-email",
        "admin@other.example.jp",
        "--admin-name",
        "管理 次郎",
        "--admin-password-stdin",
    ];
    ok(&meishi(&init, "another-long-password\n"));
    refused(
        &run(args(&["import-org", "--database", &target, &a_s])).await,
        "--as NEWSLUG",
    );
    ok(&run(args(&["import-org", "--database", &target, "--as", "sample", &a_s])).await);
    let t = spawn_on(&target).await;
    assert_eq!(sign_in(&t, "sample", DEMO_ADMIN, DEMO_PASSWORD).await, StatusCode::OK);
    assert_eq!(
        sign_in(&t, "demo", "admin@other.example.jp", "another-long-password").await,
        StatusCode::OK
    );
    let token = meishi::service::auth::create_token(&t.app, Some("sample"), DEMO_ADMIN, "test")
        .await
        .unwrap();
    let org = Org {
        slug: "sample".into(),
        admin_id: String::new(),
        admin: token,
    };
    let imports = t.audit(&org, "organization.import").await;
    assert_eq!(imports.len(), 1);
    assert_eq!(imports[0]["after"]["rows"]["cards"], 120, "{}", imports[0]);
    assert_eq!(imports[0]["after"]["from_slug"], "demo");
}

fn a_header_org_id(archive: &str) -> String {
    let h: Value = serde_json::from_str(archive.lines().next().unwrap()).unwrap();
    h["organization"]["id"].as_str().unwrap().to_string()
}

/// The tables of the test's database with an `org_id` column, asked of the database itself.
async fn tables_with_org_id(db_url: &str) -> Vec<String> {
    if engine() == "postgres" {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(
            "SELECT table_name::text FROM information_schema.columns \
             WHERE table_schema = 'public' AND column_name = 'org_id'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
    } else {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::query_scalar(
            "SELECT m.name FROM sqlite_master m, pragma_table_info(m.name) p \
             WHERE m.type = 'table' AND p.name = 'org_id'",
        )
        .fetch_all(&mut c)
        .await
        .unwrap()
    }
}

async fn execute(db_url: &str, statement: &str) {
    if engine() == "postgres" {
        let mut c = sqlx::PgConnection::connect(db_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
    } else {
        let mut c = sqlx::SqliteConnection::connect(db_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(statement.to_string()))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn every_table_holding_organisation_rows_is_in_the_archive_or_left_out_by_name() {
    let t = spawn().await;
    let _org = t.org("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("acme.jsonl");
    ok(&run(args(&[
        "export-org",
        "--database",
        &t.db_url,
        &path.display().to_string(),
    ]))
    .await);
    let a = read_archive(&path);
    let names = |v: &Value| -> HashSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.get("name").unwrap_or(x).as_str().unwrap().to_string())
            .collect()
    };
    let covered: HashSet<String> = names(&a.header["tables"])
        .into_iter()
        .chain(names(&a.header["left_out"]))
        .chain(names(&a.header["rebuilt"]))
        .collect();
    let tables = tables_with_org_id(&t.db_url).await;
    assert!(tables.len() >= 20, "{tables:?}");
    let uncovered: Vec<&String> = tables.iter().filter(|t| !covered.contains(*t)).collect();
    assert!(
        uncovered.is_empty(),
        "tables with org_id that export-org neither copies nor leaves out by name (store::org_archive): {uncovered:?}"
    );

    // A table a later migration adds is refused until the archive knows it.
    execute(
        &t.db_url,
        "CREATE TABLE later_feature (id TEXT PRIMARY KEY, org_id TEXT NOT NULL)",
    )
    .await;
    let again = dir.path().join("again.jsonl");
    refused(
        &run(args(&[
            "export-org",
            "--database",
            &t.db_url,
            &again.display().to_string(),
        ]))
        .await,
        "later_feature",
    );
    assert!(!again.exists(), "no half archive");
}
