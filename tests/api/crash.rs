//! SIGKILL the real server in the middle of a large transfer: after a restart either every
//! card moved or none did.

use crate::harness::*;
use crate::smtp_sink::Parsed;
use meishi::store::{Store, count, exec};
use reqwest::StatusCode;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const DOUBLINGS: u32 = 16; // 65,536 cards with 2 contacts each

struct Server {
    child: Child,
    url: String,
}

fn start(db: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_meishi"))
        .args(["serve", "--database", db, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start meishi serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server output").expect("line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// Cards (each with two contacts) for `owner`, made by doubling inside the database: test data
/// in a fraction of a second on either engine.
async fn many_cards(store: &Store, org_id: &str, owner: &str) {
    let c = store.conn();
    exec(
        c,
        // With a person: the scheduler's first tick would otherwise place them all.
        "INSERT INTO cards (id, org_id, owner_id, full_name, name_reading, company, company_key, department, title, \
         email, phone, mobile, fax, postal_code, address, url, created_at, updated_at, person_id) \
         VALUES ('c', ?, ?, '山田 顧客', '', '株式会社サンプル', 'サンプル', '', '', '', '', '', '', '', '', '', 0, 0, 1)",
        vec![org_id.into(), owner.into()],
    )
    .await
    .unwrap();
    for round in 0..DOUBLINGS {
        exec(
            c,
            "INSERT INTO cards (id, org_id, owner_id, full_name, name_reading, company, company_key, department, \
             title, email, phone, mobile, fax, postal_code, address, url, created_at, updated_at, person_id) \
             SELECT id || ?, org_id, owner_id, full_name, name_reading, company, company_key, department, title, \
             email, phone, mobile, fax, postal_code, address, url, created_at, updated_at, person_id FROM cards WHERE org_id = ?",
            vec![format!("-{round}").into(), org_id.into()],
        )
        .await
        .unwrap();
    }
    for kind in ["meeting", "call"] {
        exec(
            c,
            "INSERT INTO contacts (id, org_id, card_id, author_id, kind, occurred_at, body, created_at) \
             SELECT id || ?, org_id, id, owner_id, ?, 0, '面談', 0 FROM cards WHERE org_id = ?",
            vec![kind.into(), kind.into(), org_id.into()],
        )
        .await
        .unwrap();
    }
}

async fn owned(store: &Store, user: &str) -> i64 {
    count(
        store.conn(),
        "SELECT COUNT(*) FROM cards WHERE owner_id = ?",
        vec![user.into()],
    )
    .await
    .unwrap()
}

/// Starts the server, asks for a transfer of all of yamada's cards, and kills the server
/// after `kill_after` (or lets the request finish). Returns the answer's status, if any.
async fn run_and_kill(
    db: &str,
    token: &str,
    yamada: &str,
    sato: &str,
    kill_after: Option<Duration>,
) -> (Option<StatusCode>, bool) {
    let mut server = start(db);
    let url = format!("{}/api/v1/transfers", server.url);
    let body = json!({"from_user_id": yamada, "to_user_id": sato, "selection": {"all": true}});
    let request = reqwest::Client::new().post(url).bearer_auth(token).json(&body).send();
    let status = match kill_after {
        None => Some(request.await.expect("answer").status()),
        Some(after) => {
            let request = tokio::spawn(request);
            tokio::time::sleep(after).await;
            server.child.kill().expect("SIGKILL");
            request.await.unwrap().ok().map(|r| r.status())
        }
    };
    server.child.kill().ok();
    server.child.wait().unwrap();
    (status, status.is_some())
}

/// Opens the database as a restarted server would and checks that the cards are all with
/// yamada or all with sato, batch rows and tag links included. When they had moved, puts
/// them back for the next round. Returns how many had moved.
async fn assert_all_or_none(db: &str, yamada: &str, sato: &str, total: i64, answered: bool) -> i64 {
    let store = Store::connect(db).await.unwrap();
    let c = store.conn();
    let state = (
        owned(&store, yamada).await,
        owned(&store, sato).await,
        count(c, "SELECT COUNT(*) FROM transfer_items", vec![]).await.unwrap(),
        count(c, "SELECT COUNT(*) FROM card_tags", vec![]).await.unwrap(),
        count(c, "SELECT COUNT(*) FROM transfers", vec![]).await.unwrap(),
    );
    eprintln!("after the kill: {state:?} (answered: {answered})");
    assert!(
        state == (total, 0, 0, 0, 0) || state == (0, total, total, total, 1),
        "half a transfer: {state:?}"
    );
    if state.1 == total {
        exec(c, "DELETE FROM card_tags", vec![]).await.unwrap();
        exec(c, "DELETE FROM transfer_items", vec![]).await.unwrap();
        exec(
            c,
            "UPDATE cards SET owner_id = ?, last_transfer_id = NULL",
            vec![yamada.into()],
        )
        .await
        .unwrap();
        exec(c, "DELETE FROM transfers", vec![]).await.unwrap();
    }
    state.1
}

#[tokio::test]
async fn a_transfer_killed_midway_moved_all_or_nothing() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (yamada, _) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (sato, _) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let org_id = meishi::service::auth::resolve_org(&t.app, Some("acme"))
        .await
        .unwrap()
        .id;
    many_cards(&t.app.store, &org_id, &yamada).await;
    let total = 1i64 << DOUBLINGS;
    assert_eq!(owned(&t.app.store, &yamada).await, total);

    // How long the whole transfer takes here, uninterrupted; then kill at fractions of it.
    let started = std::time::Instant::now();
    let (status, answered) = run_and_kill(&t.db_url, &org.admin, &yamada, &sato, None).await;
    assert_eq!(status, Some(StatusCode::CREATED));
    let full = started.elapsed();
    assert_all_or_none(&t.db_url, &yamada, &sato, total, answered).await;

    let mut rolled_back = 0;
    for fraction in [0.3, 0.5, 0.7, 0.9] {
        let (status, _) = run_and_kill(&t.db_url, &org.admin, &yamada, &sato, Some(full.mul_f64(fraction))).await;
        if assert_all_or_none(&t.db_url, &yamada, &sato, total, status.is_some()).await == 0 {
            assert!(
                status.is_none(),
                "no answer, and nothing moved: the half-done transaction rolled back"
            );
            rolled_back += 1;
        }
    }
    assert!(
        rolled_back > 0,
        "no kill landed while the transfer was running (full run took {full:?})"
    );

    // The restarted server works on the recovered database.
    let mut server = start(&t.db_url);
    let res = reqwest::Client::new()
        .get(format!("{}/api/v1/transfers", server.url))
        .bearer_auth(&org.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    server.child.kill().unwrap();
    server.child.wait().unwrap();
}

fn start_with(db: &str, env: &[(&str, String)]) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_meishi"));
    cmd.args(["serve", "--database", db, "--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("start meishi serve");
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let url = loop {
        let line = lines.next().expect("server output").expect("line");
        if let Some(rest) = line.split("listening on ").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
    };
    std::thread::spawn(move || for _ in lines {});
    Server { child, url }
}

/// SIGKILL the real server while it delivers a thousand messages; the restarted server (its
/// clock past the dead one's claims) finishes: every message arrives, none twice by Message-ID.
#[tokio::test]
async fn mail_delivery_killed_midway_loses_nothing_and_sends_nothing_twice() {
    let sink = crate::smtp_sink::Sink::start().await;
    let t = spawn().await;
    let org = t.org("outbox").await;
    let org_id = meishi::service::auth::resolve_org(&t.app, Some("outbox"))
        .await
        .unwrap()
        .id;
    let (s, tpl) = t
        .post(
            &org.admin,
            "/api/v1/mail/templates",
            json!({"name": "ご案内", "subject": "{{氏名}}様", "body": "{{氏名}}様\nご案内です。"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tpl}");
    exec(
        t.app.store.conn(),
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1000) \
         INSERT INTO cards (id, org_id, owner_id, full_name, name_reading, company, company_key, department, title, \
         email, phone, mobile, fax, postal_code, address, url, created_at, updated_at, person_id) \
         SELECT 'mail-' || CAST(i AS TEXT), ?, ?, '顧客 ' || CAST(i AS TEXT), '', '甲社', '甲社', '', '', \
         'c' || CAST(i AS TEXT) || '@kou.jp', '', '', '', '', '', '', i, i, i FROM n",
        vec![org_id.clone().into(), org.admin_id.clone().into()],
    )
    .await
    .unwrap();
    let env = |offset: i64| {
        vec![
            ("MEISHI_SMTP_URL", sink.url()),
            ("MEISHI_CLOCK_OFFSET_SECS", offset.to_string()),
        ]
    };
    let t0 = std::time::Instant::now();
    let mut server = start_with(&t.db_url, &env(0));
    eprintln!("started in {:?}", t0.elapsed());
    let res = reqwest::Client::new()
        .post(format!("{}/api/v1/mail/sends", server.url))
        .bearer_auth(&org.admin)
        .json(&json!({"template_id": tpl["id"], "recipients": {"company": "甲社"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    // Kill once a good part, not all, has gone.
    for _ in 0..2000 {
        if sink.received().len() >= 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.child.kill().expect("SIGKILL");
    server.child.wait().unwrap();
    let at_kill = sink.received().len();
    eprintln!("killed at {:?}", t0.elapsed());
    assert!(
        (1..1000).contains(&at_kill),
        "the kill landed mid-delivery: {at_kill} of 1000"
    );
    let c = t.app.store.conn();
    let stuck = count(c, "SELECT COUNT(*) FROM mail_states WHERE status = 'sending'", vec![])
        .await
        .unwrap();
    eprintln!("killed after {at_kill} messages; {stuck} claimed by the dead server");

    // Restarted ten minutes later (as the clock sees it): the dead server's claims have lapsed.
    let mut server = start_with(&t.db_url, &env(600));
    let mut distinct = std::collections::HashSet::new();
    for _ in 0..600 {
        distinct = sink.received().iter().map(|m| m.message_id()).collect();
        let left = count(c, "SELECT COUNT(*) FROM mail_states WHERE status <> 'sent'", vec![])
            .await
            .unwrap();
        if distinct.len() >= 1000 && left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("done at {:?}", t0.elapsed());
    server.child.kill().ok();
    server.child.wait().unwrap();
    let all = sink.received();
    eprintln!("{} deliveries, {} distinct messages", all.len(), distinct.len());
    assert_eq!(distinct.len(), 1000, "every message, once by Message-ID");
    let recipients: std::collections::HashSet<String> = all.iter().flat_map(|m| m.rcpt.clone()).collect();
    assert_eq!(recipients.len(), 1000);
    assert_eq!(
        count(c, "SELECT COUNT(*) FROM mail_states WHERE status = 'sent'", vec![])
            .await
            .unwrap(),
        1000
    );
}
