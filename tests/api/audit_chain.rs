//! The audit log's hash chain (issue 17): `meishi audit verify` passes on a log as meishi
//! wrote it and names the first broken link after a row is edited, removed or cut off in the
//! database itself; concurrent audited writes in one organisation never fork the chain; the
//! events already there when migration 11 runs are chained; the export (API and command
//! line, CSV and JSON Lines) carries every field and hash, so it verifies on its own.

use crate::harness::*;
use meishi::domain::audit_chain::{ChainedEvent, GENESIS, link_hash};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::process::{Command, Output, Stdio};

fn meishi(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_meishi"))
        .args(args)
        .env_remove("MEISHI_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .output()
        .expect("run meishi")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn verify(t: &TestApp, org: Option<&str>) -> (bool, String) {
    let mut args = vec!["audit", "verify", "--database", t.db_url.as_str()];
    if let Some(o) = org {
        args.extend(["--org", o]);
    }
    let out = meishi(&args);
    (
        out.status.success(),
        format!("{}{}", text(&out.stdout), text(&out.stderr)),
    )
}

async fn org_id(t: &TestApp, slug: &str) -> String {
    meishi::service::auth::resolve_org(&t.app, Some(slug)).await.unwrap().id
}

async fn exec(t: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> u64 {
    meishi::store::exec(t.app.store.conn(), sql, values).await.unwrap()
}

async fn count(t: &TestApp, sql: &str, values: Vec<sea_orm::Value>) -> i64 {
    meishi::store::count(t.app.store.conn(), sql, values).await.unwrap()
}

/// The id of an organisation's event at `seq`.
async fn event_at(t: &TestApp, org_id: &str, seq: i64) -> String {
    let rows = meishi::store::audit::chain_page(t.app.store.conn(), org_id, seq - 1, 1)
        .await
        .unwrap();
    assert_eq!(rows[0].seq, seq);
    rows[0].id.clone()
}

/// An organisation with `n` cards made over the API (a `card.create` event each).
async fn with_cards(t: &TestApp, slug: &str, n: usize) -> Org {
    let org = t.org(slug).await;
    for i in 0..n {
        t.card(
            &org.admin,
            json!({"full_name": format!("顧客 {i}"), "company": "株式会社チェーン"}),
        )
        .await;
    }
    org
}

#[tokio::test]
async fn verify_passes_as_written_and_names_the_first_row_edited_in_the_database() {
    let t = spawn().await;
    let org = with_cards(&t, "chain", 5).await;
    let other = with_cards(&t, "bystander", 2).await;
    let id = org_id(&t, &org.slug).await;
    let events = count(
        &t,
        "SELECT COUNT(*) FROM audit_events WHERE org_id = ?",
        vec![id.clone().into()],
    )
    .await;
    assert!(events >= 5, "{events}");

    let (ok, out) = verify(&t, None);
    assert!(ok, "{out}");
    assert!(out.contains(&format!("chain: ok, {events} events")), "{out}");
    assert!(out.contains("bystander: ok"), "{out}");

    // An edit of one field of event 3, straight in the database.
    let third = event_at(&t, &id, 3).await;
    let changed = exec(
        &t,
        "UPDATE audit_events SET target_id = ? WHERE id = ?",
        vec!["someone-else".into(), third.clone().into()],
    )
    .await;
    assert_eq!(changed, 1);
    let (ok, out) = verify(&t, None);
    assert!(!ok, "an edited event must fail verification: {out}");
    assert!(out.contains(&format!("chain: BROKEN at event 3 ({third})")), "{out}");
    assert!(out.contains("do not match its hash"), "{out}");
    assert!(out.contains("2 events verified before it"), "{out}");
    assert!(
        out.contains("bystander: ok"),
        "another organisation's chain is its own: {out}"
    );
    // --org: only that organisation.
    let (ok, out) = verify(&t, Some(&other.slug));
    assert!(ok, "{out}");
    assert!(!out.contains("chain:"), "{out}");
}

#[tokio::test]
async fn verify_sees_a_removed_event_a_rewritten_hash_and_a_cut_off_end() {
    let t = spawn().await;
    let org = with_cards(&t, "cut", 6).await;
    let id = org_id(&t, &org.slug).await;
    let (ok, out) = verify(&t, Some("cut"));
    assert!(ok, "{out}");

    // The last event removed: the head says there was one more.
    let last = count(
        &t,
        "SELECT MAX(seq) FROM audit_events WHERE org_id = ?",
        vec![id.clone().into()],
    )
    .await;
    exec(
        &t,
        "DELETE FROM audit_events WHERE org_id = ? AND seq = ?",
        vec![id.clone().into(), last.into()],
    )
    .await;
    let (ok, out) = verify(&t, Some("cut"));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("BROKEN at event {last}")), "{out}");
    assert!(out.contains("events were removed at the end"), "{out}");

    // An event in the middle edited with its own hash recomputed: the next link breaks.
    let second = meishi::store::audit::chain_page(t.app.store.conn(), &id, 1, 1)
        .await
        .unwrap()[0]
        .clone();
    let forged = ChainedEvent {
        action: "card.view".into(),
        ..second.clone()
    };
    exec(
        &t,
        "UPDATE audit_events SET action = ?, hash = ? WHERE id = ?",
        vec![
            forged.action.clone().into(),
            forged.computed_hash().into(),
            second.id.clone().into(),
        ],
    )
    .await;
    let third = event_at(&t, &id, 3).await;
    let (ok, out) = verify(&t, Some("cut"));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("BROKEN at event 3 ({third})")), "{out}");
    assert!(out.contains("previous hash"), "{out}");

    // An event removed from the middle: a gap.
    exec(
        &t,
        "DELETE FROM audit_events WHERE id = ?",
        vec![second.id.clone().into()],
    )
    .await;
    let (ok, out) = verify(&t, Some("cut"));
    assert!(!ok, "{out}");
    assert!(out.contains(&format!("BROKEN at event 3 ({third})")), "{out}");
    assert!(out.contains("event 2 is missing"), "{out}");
}

/// Concurrent audited writes in one organisation: every one gets its own place in the chain
/// (PostgreSQL is where two writers could read the same head; SQLite serialises them).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_audited_writes_in_one_organisation_never_fork_the_chain() {
    const WRITERS: usize = 16;
    const EACH: usize = 8;
    let t = spawn().await;
    let org = t.org("busy").await;
    let id = org_id(&t, &org.slug).await;
    let before = count(
        &t,
        "SELECT COUNT(*) FROM audit_events WHERE org_id = ?",
        vec![id.clone().into()],
    )
    .await;
    let mut tasks = Vec::new();
    for w in 0..WRITERS {
        let (url, token) = (t.url.clone(), org.admin.clone());
        tasks.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0..EACH {
                let res = http
                    .post(format!("{url}/api/v1/cards"))
                    .bearer_auth(&token)
                    .json(&json!({"full_name": format!("同時 {w}-{i}"), "company": "株式会社レース"}))
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), StatusCode::CREATED, "{}", res.text().await.unwrap());
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let events = count(
        &t,
        "SELECT COUNT(*) FROM audit_events WHERE org_id = ?",
        vec![id.clone().into()],
    )
    .await;
    assert_eq!(events, before + (WRITERS * EACH) as i64);
    let distinct = count(
        &t,
        "SELECT COUNT(DISTINCT seq) FROM audit_events WHERE org_id = ?",
        vec![id.clone().into()],
    )
    .await;
    assert_eq!(distinct, events, "two events share a place in the chain");
    let (ok, out) = verify(&t, Some("busy"));
    assert!(ok, "{out}");
    assert!(
        out.contains(&format!("busy: ok, {events} events; head {events} ")),
        "{out}"
    );
}

/// Migration 11 chains the events a database already has: undo it by hand on a database
/// with events, run the migrations again, and the log verifies with every event in place.
#[tokio::test]
async fn migration_11_chains_the_events_already_there() {
    let t = spawn().await;
    let org = with_cards(&t, "old", 4).await;
    let id = org_id(&t, &org.slug).await;
    let events = count(
        &t,
        "SELECT COUNT(*) FROM audit_events WHERE org_id = ?",
        vec![id.clone().into()],
    )
    .await;
    for stmt in [
        "DROP INDEX audit_chain",
        "DROP TABLE audit_heads",
        "ALTER TABLE audit_events DROP COLUMN seq",
        "ALTER TABLE audit_events DROP COLUMN prev_hash",
        "ALTER TABLE audit_events DROP COLUMN hash",
        "DELETE FROM schema_migrations WHERE version = 11",
    ] {
        exec(&t, stmt, vec![]).await;
    }
    let ran = meishi::service::migrate(&t.db_url).await.unwrap();
    assert_eq!(ran, 1);
    let (ok, out) = verify(&t, Some("old"));
    assert!(ok, "{out}");
    assert!(out.contains(&format!("old: ok, {events} events")), "{out}");
    // The chain goes on from the head the migration wrote.
    t.card(&org.admin, json!({"full_name": "新しい 顧客"})).await;
    let (ok, out) = verify(&t, Some("old"));
    assert!(ok, "{out}");
    assert!(out.contains(&format!("old: ok, {} events", events + 1)), "{out}");
}

/// Recomputes an archive's chain from its lines alone (what an auditor without meishi does).
fn check_archive(events: &[ChainedEvent]) {
    let mut prev = GENESIS.to_string();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as i64 + 1);
        assert_eq!(e.prev_hash, prev);
        assert_eq!(link_hash(&prev, e), e.hash, "event {}", e.seq);
        prev = e.hash.clone();
    }
}

fn from_jsonl(line: &str) -> ChainedEvent {
    let v: Value = serde_json::from_str(line).unwrap();
    let s = |k: &str| v[k].as_str().unwrap().to_string();
    let json = |k: &str| (!v[k].is_null()).then(|| v[k].to_string());
    ChainedEvent {
        seq: v["seq"].as_i64().unwrap(),
        id: s("id"),
        org_id: s("org_id"),
        actor_id: v["actor_id"].as_str().map(str::to_string),
        action: s("action"),
        target_type: s("target_type"),
        target_id: s("target_id"),
        before_json: json("before"),
        after_json: json("after"),
        at: v["at_micros"].as_i64().unwrap(),
        prev_hash: s("prev_hash"),
        hash: s("hash"),
    }
}

#[tokio::test]
async fn the_export_carries_every_field_and_hash_in_csv_and_jsonl_for_admins_only() {
    let t = spawn().await;
    let org = with_cards(&t, "arch", 3).await;
    let (_, member) = t.user(&org, "member@arch.example.jp", "社員 一郎", "member").await;
    // An edit, so that an event has a `before` too.
    let card = t.card(&org.admin, json!({"full_name": "編集 前"})).await;
    let (s, _) = t
        .call(
            &org.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/cards/{card}"),
            Some(json!({"full_name": "編集 後"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let id = org_id(&t, &org.slug).await;
    let events = count(
        &t,
        "SELECT COUNT(*) FROM audit_events WHERE org_id = ?",
        vec![id.clone().into()],
    )
    .await;

    let get = |token: String, query: &'static str| {
        let req = t
            .http
            .get(format!("{}/api/v1/audit/export{query}", t.url))
            .bearer_auth(token);
        async move { req.send().await.unwrap() }
    };
    let res = get(org.admin.clone(), "").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/jsonl")
    );
    let head = res.headers()["x-meishi-audit-head"].to_str().unwrap().to_string();
    let body = res.text().await.unwrap();
    let lines: Vec<ChainedEvent> = body.lines().map(from_jsonl).collect();
    assert_eq!(lines.len() as i64, events);
    check_archive(&lines);
    assert_eq!(head, format!("{events} {}", lines.last().unwrap().hash));
    let edit = lines.iter().find(|e| e.action == "card.update").expect("the edit");
    assert!(edit.before_json.as_deref().unwrap().contains("編集 前"), "{edit:?}");
    assert!(lines.iter().all(|e| e.org_id == id));

    // CSV: a header, then the same events and hashes.
    let res = get(org.admin.clone(), "?format=csv").await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv_body = res.text().await.unwrap();
    let mut reader = csv::Reader::from_reader(csv_body.as_bytes());
    let header: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    assert_eq!(header[0], "seq");
    assert_eq!(header.last().unwrap(), "hash");
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), lines.len());
    for (row, e) in rows.iter().zip(&lines) {
        let col = |name: &str| &row[header.iter().position(|h| h == name).unwrap()];
        assert_eq!(col("seq"), e.seq.to_string());
        assert_eq!(col("id"), e.id);
        assert_eq!(col("hash"), e.hash);
        assert_eq!(col("before"), e.before_json.as_deref().unwrap_or(""));
        assert_eq!(col("at_micros"), e.at.to_string());
    }

    // Members may not; a bad format is named.
    assert_error(
        t.get(&member, "/api/v1/audit/export").await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        t.get(&org.admin, "/api/v1/audit/export?format=xml").await,
        StatusCode::BAD_REQUEST,
        Some("format"),
    );

    // The command line writes the same JSON Lines and CSV.
    let export = |format| {
        meishi(&[
            "audit",
            "export",
            "--database",
            &t.db_url,
            "--org",
            "arch",
            "--format",
            format,
        ])
    };
    let out = export("jsonl");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), body);
    let out = export("csv");
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), csv_body);
    let out = export("pdf");
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("csv or jsonl"), "{}", text(&out.stderr));
}
