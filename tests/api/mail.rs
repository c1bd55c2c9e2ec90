//! Mail (issue 14) through HTTP and a real SMTP server: templates only their creator changes,
//! One to One mail from each card's owner with its skips by name, delivery with retries and
//! bounces, opt-out links, cancelling, and the refusal when no SMTP server is configured.

use crate::harness::*;
use crate::smtp_sink::{Parsed, Sink};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn template(t: &TestApp, token: &str, body: Value) -> Value {
    let (s, v) = t.post(token, "/api/v1/mail/templates", body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

fn guide() -> Value {
    json!({"name": "ご案内", "subject": "{{会社名}} {{氏名}}様へのご案内",
           "body": "{{氏名}}様\n\nいつもお世話になっております。{{差出人氏名}} ({{差出人メール}}) です。", "shared": true})
}

async fn card(t: &TestApp, token: &str, name: &str, email: &str, day: Option<&str>) -> String {
    let mut body = json!({"full_name": name, "company": "ABC商事株式会社", "department": "営業部", "email": email});
    if let Some(d) = day {
        body["exchanged_on"] = json!(d);
    }
    t.card(token, body).await
}

/// Polls a send until it is `status` (up to 20 s).
async fn wait_send(t: &TestApp, token: &str, id: &str, status: &str) -> Value {
    for _ in 0..400 {
        let (s, v) = t.get(token, &format!("/api/v1/mail/sends/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        if v["status"] == status {
            return v;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("send {id} never became {status}");
}

async fn messages(t: &TestApp, token: &str, send: &str) -> Vec<Value> {
    let (s, v) = t.get(token, &format!("/api/v1/mail/sends/{send}/messages")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

/// An organisation `slug` whose admin holds `n` cards of company 甲社 (ids `{prefix}-1`…,
/// addresses `{prefix}1@abc.jp`…, made in one statement), and a template of its admin's.
async fn customers(t: &TestApp, slug: &str, prefix: &str, n: i64) -> (Org, Value) {
    let org = t.org(slug).await;
    let tpl = template(t, &org.admin, guide()).await;
    let org_id = meishi::service::auth::resolve_org(&t.app, Some(slug)).await.unwrap().id;
    let owner = org.admin_id.as_str();
    meishi::store::exec(
        t.app.store.conn(),
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) \
         INSERT INTO cards (id, org_id, owner_id, full_name, name_reading, company, company_key, department, title, \
         email, phone, mobile, fax, postal_code, address, url, created_at, updated_at, person_id) \
         SELECT ? || '-' || CAST(i AS TEXT), ?, ?, '顧客 ' || CAST(i AS TEXT), '', '甲社', '甲社', '', '', \
         ? || CAST(i AS TEXT) || '@abc.jp', '', '', '', '', '', '', i, i, i FROM n",
        vec![n.into(), prefix.into(), org_id.into(), owner.into(), prefix.into()],
    )
    .await
    .unwrap();
    (org, tpl)
}

/// Sends `tpl` to the organisation's 甲社 cards; every one of the `n` is queued. Returns the
/// send's id.
async fn send_to_customers(t: &TestApp, org: &Org, tpl: &Value, n: i64) -> String {
    let (s, send) = t
        .post(
            &org.admin,
            "/api/v1/mail/sends",
            json!({"template_id": tpl["id"], "recipients": {"company": "甲社"}}),
        )
        .await;
    assert_eq!((s, send["queued"].as_i64()), (StatusCode::CREATED, Some(n)), "{send}");
    send["id"].as_str().unwrap().to_string()
}

/// After a moment for stragglers: the sink received `n` messages, each once (by Message-ID).
async fn received_each_once(sink: &Sink, n: usize) {
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let got = sink.received();
    let distinct: std::collections::HashSet<String> = got.iter().map(|m| m.message_id()).collect();
    assert_eq!((got.len(), distinct.len()), (n, n), "every message once");
}

#[tokio::test]
async fn templates_only_their_creator_changes_and_a_leaver_hands_them_over() {
    let t = spawn().await;
    let org = t.org("tmpl").await;
    let (yamada, yamada_t) = t.user(&org, "yamada@tmpl.example.jp", "山田 賢治", "member").await;
    let (sato, sato_t) = t.user(&org, "sato@tmpl.example.jp", "佐藤 花子", "member").await;

    // An unknown placeholder is refused at save time, by name and field.
    let mut bad = guide();
    bad["body"] = json!("{{氏名}}様 {{担当者名}}");
    let got = t.post(&yamada_t, "/api/v1/mail/templates", bad).await;
    assert_error(got.clone(), StatusCode::BAD_REQUEST, Some("body"));
    assert!(
        got.1["error"]["message"].as_str().unwrap().contains("{{担当者名}}"),
        "{}",
        got.1
    );

    let shared = template(&t, &yamada_t, guide()).await;
    let mut personal = guide();
    personal["name"] = json!("個人用");
    personal["shared"] = json!(false);
    let personal = template(&t, &yamada_t, personal).await;
    let shared_id = shared["id"].as_str().unwrap();
    let personal_id = personal["id"].as_str().unwrap();

    // Nobody but the creator changes or deletes one: not a colleague, not an admin.
    let mut edit = guide();
    edit["subject"] = json!("変更");
    for token in [&sato_t, &org.admin] {
        let got = t
            .call(
                token,
                Method::PUT,
                &format!("/api/v1/mail/templates/{shared_id}"),
                Some(edit.clone()),
            )
            .await;
        assert_error(got, StatusCode::FORBIDDEN, None);
        let got = t
            .call(
                token,
                Method::DELETE,
                &format!("/api/v1/mail/templates/{shared_id}"),
                None,
            )
            .await;
        assert_error(got, StatusCode::FORBIDDEN, None);
    }
    let (s, v) = t
        .call(
            &yamada_t,
            Method::PUT,
            &format!("/api/v1/mail/templates/{shared_id}"),
            Some(edit),
        )
        .await;
    assert_eq!((s, v["subject"].as_str()), (StatusCode::OK, Some("変更")), "{v}");

    // A personal template is not seen by a colleague; a shared one is, and a copy is theirs.
    assert_eq!(
        t.get(&sato_t, &format!("/api/v1/mail/templates/{personal_id}")).await.0,
        StatusCode::NOT_FOUND
    );
    let (s, list) = t.get(&sato_t, "/api/v1/mail/templates").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "{list}");
    let (s, copy) = t
        .post(&sato_t, &format!("/api/v1/mail/templates/{shared_id}/copy"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{copy}");
    assert_eq!(
        (copy["creator_id"].as_str(), copy["copied_from"].as_str()),
        (Some(sato.as_str()), Some(shared_id))
    );
    let (s, _) = t
        .call(
            &sato_t,
            Method::DELETE,
            &format!("/api/v1/mail/templates/{}", copy["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    // A leaver's templates count: the deletion guard says so, readiness lists them.
    let got = t
        .call(&org.admin, Method::DELETE, &format!("/api/v1/users/{yamada}"), None)
        .await;
    assert_error(got.clone(), StatusCode::CONFLICT, None);
    assert_eq!(got.1["error"]["details"]["templates"], 2, "{}", got.1);
    let today = chrono::Utc::now().date_naive() + chrono::Duration::days(10);
    let (s, dep) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            json!({"user_id": yamada, "retirement_date": today.to_string(), "last_working_day": today.to_string(),
                   "successor_id": sato}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dep}");
    let dep_id = dep["id"].as_str().unwrap();
    let (s, r) = t
        .get(&org.admin, &format!("/api/v1/departures/{dep_id}/readiness"))
        .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let item = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "templates")
        .unwrap()
        .clone();
    assert_eq!(
        (
            item["available"].as_bool(),
            item["count"].as_i64(),
            item["done"].as_bool()
        ),
        (Some(true), Some(2), Some(false)),
        "{r}"
    );

    // The admin hands them over in one step: a dry run changes nothing; then re-created under
    // the successor, linked to the originals, which are gone.
    let hand = |dry: bool| json!({"from_user_id": yamada, "to_user_id": sato, "dry_run": dry});
    let (s, v) = t.post(&org.admin, "/api/v1/mail/templates/hand-over", hand(true)).await;
    assert_eq!(
        (s, v["templates"].as_array().unwrap().len()),
        (StatusCode::OK, 2),
        "{v}"
    );
    let (s, v) = t.post(&sato_t, "/api/v1/mail/templates/hand-over", hand(false)).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = t
        .post(&org.admin, "/api/v1/mail/templates/hand-over", hand(false))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, mine) = t
        .get(&sato_t, &format!("/api/v1/mail/templates?creator_id={sato}"))
        .await;
    let mine = mine["items"].as_array().unwrap();
    assert_eq!(mine.len(), 2);
    let mut linked: Vec<&str> = mine.iter().map(|m| m["copied_from"].as_str().unwrap()).collect();
    linked.sort();
    let mut originals = vec![shared_id, personal_id];
    originals.sort();
    assert_eq!(linked, originals);
    assert!(mine.iter().any(|m| m["name"] == "個人用" && m["shared"] == false));
    assert_eq!(
        t.get(&org.admin, &format!("/api/v1/mail/templates/{shared_id}"))
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, r) = t
        .get(&org.admin, &format!("/api/v1/departures/{dep_id}/readiness"))
        .await;
    let item = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "templates")
        .unwrap()
        .clone();
    assert_eq!(
        (item["count"].as_i64(), item["done"].as_bool()),
        (Some(0), Some(true)),
        "{r}"
    );
    assert_eq!(t.audit(&org, "mail_template.hand_over").await.len(), 1);
    assert_eq!(t.audit(&org, "mail_template.create").await.len(), 2);
}

#[tokio::test]
async fn one_to_one_mail_goes_from_each_owner_and_names_every_card_it_leaves_out() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("oto").await;
    let (a, a_t) = t.user(&org, "aoki@oto.example.jp", "青木 一郎", "member").await;
    let (b, b_t) = t.user(&org, "baba@oto.example.jp", "馬場 二郎", "member").await;
    let (c, c_t) = t.user(&org, "chiba@oto.example.jp", "千葉 三郎", "member").await;
    let tpl = template(&t, &org.admin, guide()).await;
    let tpl_id = tpl["id"].as_str().unwrap().to_string();

    let yamamoto = card(&t, &a_t, "山本 太郎", "yamamoto@abc.jp", None).await;
    let tanaka_old = card(&t, &a_t, "田中 一郎", "tanaka@abc.jp", Some("2025-01-01")).await;
    let tanaka_new = card(&t, &c_t, "田中 一郎", "Tanaka@abc.jp", Some("2026-05-01")).await;
    let _ito = card(&t, &b_t, "伊藤 三郎", "ito@abc.jp", None).await;
    let _kimura = card(&t, &a_t, "木村 四郎", "", None).await;
    let _sato = card(&t, &a_t, "佐藤 花子", "info@abc.jp", Some("2026-01-01")).await;
    let suzuki = card(&t, &c_t, "鈴木 次郎", "info@abc.jp", Some("2026-06-01")).await;
    let _takahashi = card(&t, &a_t, "高橋 五郎", "optout@abc.jp", None).await;
    let _watanabe = card(&t, &a_t, "渡辺 六郎", "blocked@abc.jp", None).await;
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/users/{b}/suspend"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    for (kind, value) in [("opt_out", "OptOut@abc.jp"), ("block", "blocked@abc.jp")] {
        let (s, v) = t
            .post(
                &org.admin,
                "/api/v1/mail/suppressions",
                json!({"kind": kind, "value": value}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }

    let input = json!({"template_id": tpl_id, "recipients": {"company": "ABC商事"}});
    let (s, p) = t.post(&org.admin, "/api/v1/mail/preview", input.clone()).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["messages"].as_i64(), p["skipped"].as_i64()),
        (Some(3), Some(6)),
        "{p}"
    );
    let senders: Vec<(String, i64)> = p["by_sender"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["user_id"].as_str().unwrap().to_string(),
                s["messages"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(senders, vec![(c.clone(), 2), (a.clone(), 1)]);
    let reason_of = |name: &str| {
        p["skipped_cards"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["full_name"] == name)
            .map(|s| s["reason"].as_str().unwrap().to_string())
    };
    assert_eq!(reason_of("伊藤 三郎").as_deref(), Some("owner_suspended"));
    assert_eq!(reason_of("田中 一郎").as_deref(), Some("older_card"));
    assert_eq!(reason_of("木村 四郎").as_deref(), Some("no_email"));
    assert_eq!(reason_of("佐藤 花子").as_deref(), Some("duplicate_address"));
    assert_eq!(reason_of("高橋 五郎").as_deref(), Some("opted_out"));
    assert_eq!(reason_of("渡辺 六郎").as_deref(), Some("blocked"));

    // The skipped list as CSV, with the reasons in Japanese.
    let res = t
        .http
        .post(format!("{}/api/v1/mail/preview/skipped", t.url))
        .bearer_auth(&org.admin)
        .json(&input)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    assert_eq!(csv.lines().count(), 7, "{csv}");
    assert!(
        csv.contains("伊藤 三郎") && csv.contains("所有者が利用停止・削除済み"),
        "{csv}"
    );

    // A member sends only from their own cards.
    let mut theirs = input.clone();
    theirs["recipients"]["owner_id"] = json!(c);
    assert_error(
        t.post(&a_t, "/api/v1/mail/preview", theirs).await,
        StatusCode::FORBIDDEN,
        Some("recipients.owner_id"),
    );
    let (s, mine) = t.post(&a_t, "/api/v1/mail/preview", input.clone()).await;
    assert_eq!(s, StatusCode::OK, "{mine}");
    assert!(
        mine["by_sender"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["user_id"] == a.as_str()),
        "{mine}"
    );

    let (s, send) = t.post(&org.admin, "/api/v1/mail/sends", input.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{send}");
    assert_eq!(
        (send["queued"].as_i64(), send["skipped"].as_i64()),
        (Some(3), Some(6)),
        "{send}"
    );
    let send_id = send["id"].as_str().unwrap().to_string();
    let got = sink.wait_for(3).await;
    let done = wait_send(&t, &org.admin, &send_id, "done").await;
    assert_eq!(done["messages"], json!({"sent": 3}), "{done}");
    assert_eq!(sink.received().len(), 3, "one message per recipient");

    let to = |addr: &str| {
        got.iter()
            .find(|m| m.rcpt == vec![addr.to_string()])
            .expect(addr)
            .clone()
    };
    let m = to("yamamoto@abc.jp");
    assert_eq!(
        (m.from_addr(), m.from_name()),
        ("aoki@oto.example.jp".into(), "青木 一郎".into())
    );
    assert_eq!(m.subject(), "ABC商事株式会社 山本 太郎様へのご案内");
    let text = m.text();
    assert!(
        text.starts_with("山本 太郎様") && text.contains("青木 一郎 (aoki@oto.example.jp)"),
        "{text}"
    );
    assert!(
        m.message_id().contains(&format!("{send_id}.{yamamoto}")),
        "{}",
        m.message_id()
    );
    let unsubscribe = m.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert_eq!(
        m.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    assert_eq!(
        to("tanaka@abc.jp").from_addr(),
        "chiba@oto.example.jp",
        "the newest card's owner sends"
    );
    assert_eq!(to("info@abc.jp").from_addr(), "chiba@oto.example.jp");
    let msgs = messages(&t, &org.admin, &send_id).await;
    let cards: Vec<&str> = msgs.iter().map(|m| m["card_id"].as_str().unwrap()).collect();
    for id in [&yamamoto, &tanaka_new, &suzuki] {
        assert!(cards.contains(&id.as_str()));
    }
    assert!(!cards.contains(&tanaka_old.as_str()));
    let (s, skipped) = t
        .get(&org.admin, &format!("/api/v1/mail/sends/{send_id}/skipped"))
        .await;
    assert_eq!((s, skipped.as_array().unwrap().len()), (StatusCode::OK, 6), "{skipped}");
    assert_eq!(t.audit(&org, "mail_send.create").await.len(), 1);
    // The member sees their own sends only; the admin's is not theirs.
    assert_eq!(
        t.get(&a_t, &format!("/api/v1/mail/sends/{send_id}")).await.0,
        StatusCode::NOT_FOUND
    );

    // The opt-out link: the page asks, the post puts the address on the opt-out list.
    let link = unsubscribe.trim_matches(|c| c == '<' || c == '>').to_string();
    assert!(link.starts_with(&format!("{}/mail/opt-out/", t.url)), "{link}");
    let page = t.http.get(&link).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.text().await.unwrap().contains("配信を停止する"));
    let forged = format!("{}x", &link[..link.len() - 1]);
    assert_eq!(
        t.http.post(&forged).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );
    let done = t
        .http
        .post(&link)
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(done.status(), StatusCode::OK);
    let (_, lists) = t.get(&org.admin, "/api/v1/mail/suppressions?kind=opt_out").await;
    let values: Vec<&str> = lists
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["value"].as_str().unwrap())
        .collect();
    assert_eq!(values, vec!["optout@abc.jp", "yamamoto@abc.jp"]);
    let (_, p) = t.post(&org.admin, "/api/v1/mail/preview", input).await;
    assert_eq!(p["messages"], 2, "the opted-out address is skipped next time: {p}");
}

#[tokio::test]
async fn a_temporary_failure_is_retried_and_a_permanent_one_goes_on_the_bounce_list() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("retry").await;
    let tpl = template(&t, &org.admin, guide()).await;
    card(&t, &org.admin, "山本 太郎", "ok@abc.jp", None).await;
    card(&t, &org.admin, "田中 一郎", "gone@abc.jp", None).await;
    sink.temp_fail_next(1);
    sink.reject("gone@abc.jp");
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}});
    let (s, send) = t.post(&org.admin, "/api/v1/mail/sends", input.clone()).await;
    assert_eq!(s, StatusCode::CREATED, "{send}");
    let send_id = send["id"].as_str().unwrap().to_string();

    // First round: 451 for ok@ (queued again, a minute later), 550 for gone@ (bounced).
    let expected: Vec<(String, String, i64)> = vec![
        ("gone@abc.jp".into(), "bounced".into(), 1),
        ("ok@abc.jp".into(), "queued".into(), 1),
    ];
    let mut states = Vec::new();
    for _ in 0..400 {
        states = messages(&t, &org.admin, &send_id)
            .await
            .iter()
            .map(|m| {
                let text = |k: &str| m[k].as_str().unwrap().to_string();
                (text("recipient"), text("status"), m["attempts"].as_i64().unwrap())
            })
            .collect::<Vec<_>>();
        states.sort();
        if states == expected {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(states, expected);
    assert!(sink.received().is_empty());
    let msgs = messages(&t, &org.admin, &send_id).await;
    assert!(msgs.iter().all(|m| m["last_error"].is_string()), "{msgs:?}");

    // A minute on, the retry goes through.
    t.clock.advance(chrono::Duration::seconds(61));
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].rcpt, vec!["ok@abc.jp".to_string()]);
    let done = wait_send(&t, &org.admin, &send_id, "done").await;
    assert_eq!(done["messages"], json!({"bounced": 1, "sent": 1}), "{done}");

    // The bounce is on the list and skipped next time.
    let (_, lists) = t.get(&org.admin, "/api/v1/mail/suppressions?kind=bounce").await;
    assert_eq!(lists[0]["value"], "gone@abc.jp", "{lists}");
    let (_, p) = t.post(&org.admin, "/api/v1/mail/preview", input).await;
    assert_eq!(
        p["by_reason"],
        json!([{"reason": "bounced", "label": "不達", "cards": 1}]),
        "{p}"
    );
}

#[tokio::test]
async fn a_scheduled_send_is_cancelled_until_it_starts_and_then_nothing_goes() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("cancel").await;
    let tpl = template(&t, &org.admin, guide()).await;
    card(&t, &org.admin, "山本 太郎", "yamamoto@abc.jp", None).await;
    let at = t.app.now() + chrono::Duration::hours(1);
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}, "scheduled_at": at});
    let (s, send) = t.post(&org.admin, "/api/v1/mail/sends", input.clone()).await;
    assert_eq!(
        (s, send["status"].as_str()),
        (StatusCode::CREATED, Some("scheduled")),
        "{send}"
    );
    let id = send["id"].as_str().unwrap();
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/mail/sends/{id}/cancel"), json!({}))
        .await;
    assert_eq!((s, v["status"].as_str()), (StatusCode::OK, Some("cancelled")), "{v}");
    assert_eq!(v["messages"], json!({"cancelled": 1}));
    assert_error(
        t.post(&org.admin, &format!("/api/v1/mail/sends/{id}/cancel"), json!({}))
            .await,
        StatusCode::CONFLICT,
        None,
    );
    t.clock.advance(chrono::Duration::hours(2));
    // Another send now goes (the worker is running), the cancelled one never does.
    let mut now = input.clone();
    now.as_object_mut().unwrap().remove("scheduled_at");
    let (s, second) = t.post(&org.admin, "/api/v1/mail/sends", now).await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    wait_send(&t, &org.admin, second["id"].as_str().unwrap(), "done").await;
    assert_eq!(sink.received().len(), 1);
    let (s, past) = t
        .post(&org.admin, "/api/v1/mail/sends", {
            let mut p = input;
            p["scheduled_at"] = json!(t.app.now() - chrono::Duration::hours(1));
            p
        })
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{past}");
    assert_eq!(past["error"]["field"], "scheduled_at");
}

#[tokio::test]
async fn without_an_smtp_server_a_send_is_refused_with_how_to_set_one_up() {
    let t = spawn().await;
    let org = t.org("nosmtp").await;
    let tpl = template(&t, &org.admin, guide()).await;
    card(&t, &org.admin, "山本 太郎", "yamamoto@abc.jp", None).await;
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}});
    let (s, p) = t.post(&org.admin, "/api/v1/mail/preview", input.clone()).await;
    assert_eq!(
        (s, p["messages"].as_i64()),
        (StatusCode::OK, Some(1)),
        "a preview needs no SMTP: {p}"
    );
    let got = t.post(&org.admin, "/api/v1/mail/sends", input).await;
    assert_error(got.clone(), StatusCode::UNPROCESSABLE_ENTITY, None);
    assert!(
        got.1["error"]["message"].as_str().unwrap().contains("MEISHI_SMTP_URL"),
        "{}",
        got.1
    );
    let (_, sends) = t.get(&org.admin, "/api/v1/mail/sends").await;
    assert_eq!(sends["items"], json!([]));
    assert_error(
        t.post(
            &org.admin,
            "/api/v1/mail/preview",
            json!({"template_id": tpl["id"], "recipients": {}}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("recipients"),
    );
}

#[tokio::test]
async fn the_handover_notice_names_each_customers_successor_and_is_never_sent_twice() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("notice").await;
    let (yamada, yamada_t) = t.user(&org, "yamada@notice.example.jp", "山田 賢治", "member").await;
    let (sato, _) = t.user(&org, "sato@notice.example.jp", "佐藤 花子", "member").await;
    let (suzuki, _) = t.user(&org, "suzuki@notice.example.jp", "鈴木 一郎", "member").await;
    let mut body = guide();
    body["subject"] = json!("担当交代のご挨拶");
    body["body"] = json!("{{氏名}}様\n後任の{{後任者氏名}}（{{後任者メール}}）が担当いたします。\n{{差出人氏名}}");
    let tpl = template(&t, &yamada_t, body).await;

    let c = |name: &str, company: &str, email: &str, day: &str| json!({"full_name": name, "company": company, "email": email, "exchanged_on": day});
    t.card(&yamada_t, c("木村 太郎", "甲社", "kimura@kou.jp", "2026-01-01"))
        .await;
    t.card(&yamada_t, c("中村 次郎", "乙社", "nakamura@otsu.jp", "2025-01-01"))
        .await;
    t.card(&yamada_t, c("中村 次郎", "乙社", "nakamura@otsu.jp", "2026-02-01"))
        .await;
    t.card(&yamada_t, c("森 三郎", "乙社", "", "2026-01-01")).await;
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(20)).to_string();
    let (s, dep) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            json!({"user_id": yamada, "retirement_date": day, "last_working_day": day, "successor_id": sato}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dep}");
    let dep = dep["id"].as_str().unwrap().to_string();
    let notice = format!("/api/v1/departures/{dep}/notice");
    let send = json!({"template_id": tpl["id"]});

    // Not before the plan is approved: the notice names the successors.
    assert_error(
        t.post(&yamada_t, &notice, send.clone()).await,
        StatusCode::CONFLICT,
        None,
    );
    let plan = json!({"items": [{"selection": {"company": "乙社"}, "successor_id": suzuki}]});
    let (s, v) = t
        .call(
            &yamada_t,
            Method::PUT,
            &format!("/api/v1/departures/{dep}/plan"),
            Some(plan),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/departures/{dep}/plan/approve"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // The preview: one notice per person, each with the successor the plan gives the card.
    let (s, p) = t.get(&yamada_t, &notice).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (
            p["messages"].as_i64(),
            p["already_sent"].as_i64(),
            p["skipped"].as_i64()
        ),
        (Some(2), Some(0), Some(2)),
        "{p}"
    );
    let successor_of = |name: &str| {
        p["customers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["full_name"] == name)
            .unwrap()["successor_id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(successor_of("木村 太郎"), sato);
    assert_eq!(successor_of("中村 次郎"), suzuki);
    let (_, r) = t.get(&org.admin, &format!("/api/v1/departures/{dep}/readiness")).await;
    let item = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "notice")
        .unwrap()
        .clone();
    assert_eq!(
        (
            item["count"].as_i64(),
            item["done"].as_bool(),
            item["optional"].as_bool()
        ),
        (Some(2), Some(false), Some(true)),
        "{r}"
    );

    let (s, v) = t.post(&yamada_t, &notice, send.clone()).await;
    assert_eq!((s, v["queued"].as_i64()), (StatusCode::OK, Some(2)), "{v}");
    let got = sink.wait_for(2).await;
    let to = |addr: &str| {
        got.iter()
            .find(|m| m.rcpt == vec![addr.to_string()])
            .expect(addr)
            .clone()
    };
    let kimura = to("kimura@kou.jp");
    assert_eq!(
        kimura.from_addr(),
        "yamada@notice.example.jp",
        "from the leaver by default"
    );
    assert!(
        kimura.text().contains("後任の佐藤 花子（sato@notice.example.jp）"),
        "{}",
        kimura.text()
    );
    assert!(
        to("nakamura@otsu.jp")
            .text()
            .contains("後任の鈴木 一郎（suzuki@notice.example.jp）")
    );

    // Re-running sends nothing twice; readiness shows it done.
    let (s, v) = t.post(&org.admin, &notice, send.clone()).await;
    assert_eq!(
        (s, v["queued"].as_i64(), v["already_sent"].as_i64()),
        (StatusCode::OK, Some(0), Some(2)),
        "{v}"
    );
    assert!(v["send"].is_null());
    let (_, r) = t.get(&org.admin, &format!("/api/v1/departures/{dep}/readiness")).await;
    let item = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "notice")
        .unwrap()
        .clone();
    assert_eq!(
        (item["count"].as_i64(), item["done"].as_bool()),
        (Some(0), Some(true)),
        "{r}"
    );

    // After the plan ran the customers are the successors' cards; still nobody twice. A new
    // customer of the leaver's, moved with the plan, gets it from the successor if the
    // organisation says so.
    t.card(&yamada_t, c("林 四郎", "丙社", "hayashi@hei.jp", "2026-03-01"))
        .await;
    let (s, executed) = t
        .post(&org.admin, &format!("/api/v1/departures/{dep}/plan/execute"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{executed}");
    let (s, v) = t
        .call(
            &org.admin,
            Method::PATCH,
            "/api/v1/mail/settings",
            Some(json!({"handover_from": "successor"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        executed["templates"], 1,
        "the leaver's template went to the successor with the plan: {v}"
    );
    assert_error(t.post(&org.admin, &notice, send).await, StatusCode::NOT_FOUND, None);
    let (_, handed) = t
        .get(&org.admin, &format!("/api/v1/mail/templates?creator_id={sato}"))
        .await;
    let send = json!({"template_id": handed["items"][0]["id"]});
    let (s, v) = t.post(&org.admin, &notice, send).await;
    assert_eq!(
        (s, v["queued"].as_i64(), v["already_sent"].as_i64()),
        (StatusCode::OK, Some(1), Some(2)),
        "{v}"
    );
    let got = sink.wait_for(3).await;
    assert_eq!(got.len(), 3);
    let hayashi = got
        .iter()
        .find(|m| m.rcpt == vec!["hayashi@hei.jp".to_string()])
        .unwrap();
    assert_eq!(hayashi.from_addr(), "sato@notice.example.jp");
    assert_eq!(t.audit(&org, "mail_notice.send").await.len(), 2);
}

#[tokio::test]
async fn reminders_go_once_a_day_to_leavers_without_a_plan_and_to_admins_for_departures_needing_action() {
    use meishi::service::scheduler::tick;
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("remind").await;
    let (yamada, _) = t.user(&org, "yamada@remind.example.jp", "山田 賢治", "member").await;
    let (kato, kato_t) = t.user(&org, "kato@remind.example.jp", "加藤 四郎", "member").await;
    let (sato, _) = t.user(&org, "sato@remind.example.jp", "佐藤 花子", "member").await;
    t.card(&kato_t, json!({"full_name": "顧客 一郎", "company": "甲社"}))
        .await;
    let today = chrono::Utc::now().date_naive();
    for (user, day) in [
        (&yamada, today + chrono::Duration::days(5)),
        (&kato, today + chrono::Duration::days(1)),
    ] {
        let (s, v) = t
            .post(
                &org.admin,
                "/api/v1/departures",
                json!({"user_id": user, "retirement_date": day.to_string(), "last_working_day": day.to_string(),
                       "successor_id": sato}),
            )
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
    }
    // Day 0: both leavers have no plan and leave within a week.
    assert_eq!(tick(&t.app).await.unwrap().reminded, 2);
    assert_eq!(tick(&t.app).await.unwrap().reminded, 0, "once a day");
    let got = sink.wait_for(2).await;
    let to_yamada = got
        .iter()
        .find(|m| m.rcpt == vec!["yamada@remind.example.jp".to_string()])
        .unwrap();
    assert!(
        to_yamada.subject().contains("引き継ぎ計画の報告をお願いします"),
        "{}",
        to_yamada.subject()
    );
    assert!(to_yamada.text().contains("/handover"), "{}", to_yamada.text());
    assert!(
        to_yamada.header("List-Unsubscribe").is_none(),
        "a reminder is no bulk mail"
    );

    // Three days on: 加藤 was suspended still holding a card (要対応), so the admin is told; 山田
    // is reminded again.
    t.clock.advance(chrono::Duration::days(3));
    let tk = tick(&t.app).await.unwrap();
    assert_eq!((tk.suspended, tk.reminded), (1, 2), "{tk:?}");
    let got = sink.wait_for(4).await;
    let to_admin = got
        .iter()
        .find(|m| m.rcpt == vec!["admin@remind.example.jp".to_string()])
        .unwrap();
    assert!(
        to_admin.subject().contains("要対応の退職者: 加藤 四郎"),
        "{}",
        to_admin.subject()
    );
    assert_eq!(tick(&t.app).await.unwrap().reminded, 0);
    assert_eq!(t.audit(&org, "mail_reminder.queue").await.len(), 4);

    // The organisation turns them off.
    let (s, v) = t
        .call(
            &org.admin,
            Method::PATCH,
            "/api/v1/mail/settings",
            Some(json!({"reminders": false})),
        )
        .await;
    assert_eq!((s, v["reminders"].as_bool()), (StatusCode::OK, Some(false)), "{v}");
    t.clock.advance(chrono::Duration::days(1));
    assert_eq!(tick(&t.app).await.unwrap().reminded, 0);
}

#[tokio::test]
async fn the_daily_limit_the_sending_domain_and_leavers_are_applied_before_anything_is_queued() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("limits").await;
    let (aoki, aoki_t) = t.user(&org, "aoki@limits.example.jp", "青木 一郎", "member").await;
    let (sato, _) = t.user(&org, "sato@limits.example.jp", "佐藤 花子", "member").await;
    let tpl = template(&t, &org.admin, guide()).await;
    for (name, email) in [
        ("山本 太郎", "yamamoto@abc.jp"),
        ("田中 一郎", "tanaka@abc.jp"),
        ("木村 四郎", "kimura@abc.jp"),
    ] {
        card(&t, &aoki_t, name, email, None).await;
    }
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}});

    // A daily limit of 2: the send of 3 is refused whole; nothing queued.
    let (s, v) = t
        .call(
            &org.admin,
            Method::PATCH,
            "/api/v1/mail/settings",
            Some(json!({"daily_limit": 2})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = t.post(&org.admin, "/api/v1/mail/sends", input.clone()).await;
    assert_error(got.clone(), StatusCode::UNPROCESSABLE_ENTITY, None);
    assert!(
        got.1["error"]["message"].as_str().unwrap().contains("daily limit of 2"),
        "{}",
        got.1
    );
    assert_eq!(t.get(&org.admin, "/api/v1/mail/sends").await.1["items"], json!([]));
    assert_error(
        t.call(
            &org.admin,
            Method::PATCH,
            "/api/v1/mail/settings",
            Some(json!({"daily_limit": 0})),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("daily_limit"),
    );
    t.call(
        &org.admin,
        Method::PATCH,
        "/api/v1/mail/settings",
        Some(json!({"daily_limit": 100})),
    )
    .await;

    // Senders outside the sending domain are left out, by name.
    let (s, v) = t
        .call(
            &org.admin,
            Method::PATCH,
            "/api/v1/mail/settings",
            Some(json!({"sending_domain": "@Other.example.jp"})),
        )
        .await;
    assert_eq!(
        (s, v["sending_domain"].as_str()),
        (StatusCode::OK, Some("other.example.jp")),
        "{v}"
    );
    let (_, p) = t.post(&org.admin, "/api/v1/mail/preview", input.clone()).await;
    assert_eq!(
        p["by_reason"],
        json!([{"reason": "sender_domain", "label": "所有者のアドレスが送信ドメイン外", "cards": 3}]),
        "{p}"
    );
    t.call(
        &org.admin,
        Method::PATCH,
        "/api/v1/mail/settings",
        Some(json!({"sending_domain": ""})),
    )
    .await;

    // 青木 leaves in ten days: a send now names him as dropping out later; one scheduled after
    // his suspension leaves his cards out.
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(10)).to_string();
    let (s, dep) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            json!({"user_id": aoki, "retirement_date": day, "last_working_day": day, "successor_id": sato}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dep}");
    let (_, p) = t.post(&org.admin, "/api/v1/mail/preview", input.clone()).await;
    assert_eq!(p["messages"], 3, "{p}");
    assert_eq!(p["leaving_later"][0]["user_id"], aoki.as_str(), "{p}");
    assert_eq!(p["leaving_later"][0]["cards"], 3);
    let mut later = input.clone();
    later["scheduled_at"] = json!(t.app.now() + chrono::Duration::days(12));
    let (_, p) = t.post(&org.admin, "/api/v1/mail/preview", later).await;
    assert_eq!(p["by_reason"][0]["reason"], "owner_leaving", "{p}");
    assert_eq!(p["messages"], 0);
}

/// Four workers (as four servers on one database would run) deliver 300 messages: each claimed
/// by one of them, each delivered once.
#[tokio::test]
async fn several_workers_on_one_database_deliver_each_message_once() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let mailer = t.app.mail.clone().unwrap();
    for _ in 0..3 {
        tokio::spawn(meishi::service::mail::run_worker(
            t.app.clone(),
            mailer.clone(),
            std::time::Duration::from_millis(20),
        ));
    }
    let (org, tpl) = customers(&t, "workers", "w", 300).await;
    let send = send_to_customers(&t, &org, &tpl, 300).await;
    wait_send(&t, &org.admin, &send, "done").await;
    received_each_once(&sink, 300).await;
}

/// Rewriting the outbox's state table while a batch is out (PostgreSQL's `VACUUM FULL` moves
/// every row, so the addresses a claim noted are stale when it marks them; SQLite's `VACUUM`):
/// every message is still marked sent, once, and the send ends.
#[tokio::test]
async fn a_table_rewrite_during_delivery_leaves_no_message_unmarked() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let (org, tpl) = customers(&t, "rewrite", "r", 1000).await;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let rewrites = {
        let (app, stop) = (t.app.clone(), stop.clone());
        tokio::spawn(async move {
            let rewrite = if app.store.is_sqlite() {
                "VACUUM"
            } else {
                "VACUUM FULL mail_states"
            };
            let mut done = 0;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                // SQLite's VACUUM may find the database busy; a rewrite that did not happen
                // is simply not counted.
                if meishi::store::exec(app.store.conn(), rewrite, vec![]).await.is_ok() {
                    done += 1;
                }
                tokio::time::sleep(std::time::Duration::from_millis(2)).await;
            }
            done
        })
    };
    let send = send_to_customers(&t, &org, &tpl, 1000).await;
    wait_send(&t, &org.admin, &send, "done").await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let rewrites = rewrites.await.unwrap();
    assert!(rewrites > 0, "the table was rewritten during the delivery");
    let listed = messages(&t, &org.admin, &send).await;
    assert!(
        listed.iter().all(|m| m["status"] == "sent"),
        "every message marked sent"
    );
    received_each_once(&sink, 1000).await;
}

/// Eight sends of 3 messages made at once against a daily limit of 10: three get through, the
/// others are refused; the day never holds more than the limit (a race on PostgreSQL).
#[tokio::test]
async fn concurrent_sends_never_pass_the_daily_limit_together() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("race").await;
    let tpl = template(&t, &org.admin, guide()).await;
    for (name, email) in [
        ("山本 太郎", "yamamoto@abc.jp"),
        ("田中 一郎", "tanaka@abc.jp"),
        ("木村 四郎", "kimura@abc.jp"),
    ] {
        card(&t, &org.admin, name, email, None).await;
    }
    t.call(
        &org.admin,
        Method::PATCH,
        "/api/v1/mail/settings",
        Some(json!({"daily_limit": 10})),
    )
    .await;
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}});
    let sends = (0..8).map(|_| t.post(&org.admin, "/api/v1/mail/sends", input.clone()));
    let results = futures_util::future::join_all(sends).await;
    let made = results.iter().filter(|(s, _)| *s == StatusCode::CREATED).count();
    for (s, v) in &results {
        assert!(
            *s == StatusCode::CREATED || *s == StatusCode::UNPROCESSABLE_ENTITY,
            "{s} {v}"
        );
    }
    assert_eq!(made, 3, "3 sends of 3 fit in 10: {results:?}");
}

/// Migration 14 moves each message's delivery state out of the outbox's text rows into
/// `mail_states`: undo it by hand on a database whose send has a message in each state
/// (sent, failed, claimed by a server that died, queued, and a skipped card), run the
/// migrations again, and every message keeps its state; the worker then delivers the lapsed
/// claim and the queued one, and nothing else.
#[tokio::test]
async fn migration_14_keeps_every_messages_delivery_state() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("mig14").await;
    let tpl = template(&t, &org.admin, guide()).await;
    for (name, email) in [
        ("送信 済", "sent@abc.jp"),
        ("失敗 済", "failed@abc.jp"),
        ("送信 中", "sending@abc.jp"),
        ("待ち 中", "queued@abc.jp"),
        ("宛先 無", ""),
    ] {
        card(&t, &org.admin, name, email, None).await;
    }
    let at = t.app.now() + chrono::Duration::hours(1);
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}, "scheduled_at": at});
    let (s, send) = t.post(&org.admin, "/api/v1/mail/sends", input).await;
    assert_eq!((s, send["queued"].as_i64()), (StatusCode::CREATED, Some(4)), "{send}");
    let send_id = send["id"].as_str().unwrap().to_string();
    let c = t.app.store.conn();
    let run = async |stmt: &str, values: Vec<sea_orm::Value>| {
        meishi::store::exec(c, stmt, values).await.unwrap();
    };
    // The outbox as migration 13 left it: the state in the text row.
    for stmt in [
        "ALTER TABLE mail_messages ADD COLUMN status TEXT NOT NULL DEFAULT 'queued'",
        "ALTER TABLE mail_messages ADD COLUMN attempts BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE mail_messages ADD COLUMN next_attempt_at BIGINT NOT NULL DEFAULT 0",
        "ALTER TABLE mail_messages ADD COLUMN claimed_by TEXT",
        "ALTER TABLE mail_messages ADD COLUMN lease_until BIGINT",
        "ALTER TABLE mail_messages ADD COLUMN done_at BIGINT",
        "ALTER TABLE mail_messages ADD COLUMN last_error TEXT",
        "ALTER TABLE mail_messages ADD COLUMN sent_at BIGINT",
        "UPDATE mail_messages SET next_attempt_at = (SELECT s.next_attempt_at FROM mail_states s WHERE s.id = mail_messages.id) \
         WHERE reason IS NULL",
        "UPDATE mail_messages SET status = 'skipped', done_at = created_at WHERE reason IS NOT NULL",
        "DROP TABLE mail_states",
        "CREATE INDEX mail_messages_due ON mail_messages (next_attempt_at) WHERE done_at IS NULL",
        "DELETE FROM schema_migrations WHERE version = 14",
    ] {
        run(stmt, vec![]).await;
    }
    let now = meishi::store::to_micros(t.app.now());
    let old = |addr: &str, sets: &str| {
        (
            format!("UPDATE mail_messages SET {sets} WHERE send_id = ? AND recipient = ?"),
            vec![send_id.clone().into(), sea_orm::Value::from(addr.to_string())],
        )
    };
    for (q, v) in [
        old(
            "sent@abc.jp",
            &format!("status = 'sent', attempts = 1, sent_at = {now}, done_at = {now}"),
        ),
        old(
            "failed@abc.jp",
            &format!("status = 'failed', attempts = 5, last_error = '421 try later', done_at = {now}"),
        ),
        // Claimed by a server that died: its lease ends before the send's time.
        old(
            "sending@abc.jp",
            &format!("status = 'sending', attempts = 1, claimed_by = 'dead', lease_until = {now}"),
        ),
    ] {
        run(&q, v).await;
    }

    assert_eq!(meishi::service::migrate(&t.db_url).await.unwrap(), 1);
    let mut states: Vec<(String, String, i64, Option<String>, bool)> = messages(&t, &org.admin, &send_id)
        .await
        .iter()
        .map(|m| {
            (
                m["recipient"].as_str().unwrap().to_string(),
                m["status"].as_str().unwrap().to_string(),
                m["attempts"].as_i64().unwrap(),
                m["last_error"].as_str().map(str::to_string),
                m["sent_at"].is_string(),
            )
        })
        .collect();
    states.sort();
    let s = |x: &str| x.to_string();
    assert_eq!(
        states,
        vec![
            (s("failed@abc.jp"), s("failed"), 5, Some(s("421 try later")), false),
            (s("queued@abc.jp"), s("queued"), 0, None, false),
            (s("sending@abc.jp"), s("sending"), 1, None, false),
            (s("sent@abc.jp"), s("sent"), 1, None, true),
        ]
    );
    let (_, skipped) = t
        .get(&org.admin, &format!("/api/v1/mail/sends/{send_id}/skipped"))
        .await;
    assert_eq!(skipped.as_array().unwrap().len(), 1, "{skipped}");
    assert_eq!(skipped[0]["reason"], "no_email", "{skipped}");

    // At the send's time the lapsed claim and the queued message go (the claimed one with the
    // Message-ID it had), the sent and failed ones do not.
    t.clock.advance(chrono::Duration::hours(2));
    let done = wait_send(&t, &org.admin, &send_id, "done").await;
    assert_eq!(done["messages"], json!({"failed": 1, "sent": 3}), "{done}");
    let mut to: Vec<String> = sink.received().iter().flat_map(|m| m.rcpt.clone()).collect();
    to.sort();
    assert_eq!(to, vec![s("queued@abc.jp"), s("sending@abc.jp")]);
}
