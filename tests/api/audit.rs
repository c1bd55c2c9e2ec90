//! The audit log: the console page (filters by who, what, target and days in the
//! organisation's zone; paging; the CSV in UTF-8 and Shift_JIS), the API's filters, who may
//! read it, and that nothing crosses organisations. Also the console posts that end with a
//! one-time message and a redirect (settings, transfers, imports): a reload never posts again.

use crate::harness::*;
use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use meishi::service::{Actor, auth, orgs};
use reqwest::StatusCode;
use reqwest::header::{CONTENT_TYPE, LOCATION, SET_COOKIE};
use serde_json::json;

/// A browser on the console: its own cookies, redirects not followed, Japanese.
struct Console {
    client: reqwest::Client,
    base: String,
}

struct Got {
    status: StatusCode,
    headers: reqwest::header::HeaderMap,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    fn location(&self) -> String {
        self.headers[LOCATION].to_str().unwrap().to_string()
    }
}

impl Console {
    async fn signed_in(t: &TestApp, org: &Org, email: &str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let c = Console {
            client,
            base: t.url.clone(),
        };
        let res = c
            .client
            .post(format!("{}/login", c.base))
            .header("accept-language", "ja")
            .form(&[
                ("email", email),
                ("password", PASSWORD),
                ("organization", &org.slug),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "signed in as {email}");
        c
    }

    async fn get(&self, path: &str) -> Got {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("accept-language", "ja")
            .send()
            .await
            .unwrap();
        Got {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.bytes().await.unwrap().to_vec(),
        }
    }

    /// The session's CSRF token (every signed-in page carries it in the sign-out form).
    async fn csrf(&self) -> String {
        let html = self.get("/imports").await.text();
        let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        html[at..at + 32].to_string()
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Got {
        let csrf = self.csrf().await;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header("accept-language", "ja")
            .form(&all)
            .send()
            .await
            .unwrap();
        Got {
            status: res.status(),
            headers: res.headers().clone(),
            body: res.bytes().await.unwrap().to_vec(),
        }
    }
}

/// The ids of the events a page of the audit log lists, in order.
fn rows(html: &str) -> Vec<String> {
    html.split("<tr data-id=\"")
        .skip(1)
        .map(|s| s.split('"').next().unwrap().to_string())
        .collect()
}

fn next_link(html: &str) -> Option<String> {
    let at = html.find("rel=\"next\"")?;
    let start = html[..at].rfind("href=\"")? + 6;
    Some(html[start..].split('"').next().unwrap().replace("&#38;", "&"))
}

/// A moment in Tokyo: `day` at `hh:mm` local time.
fn tokyo(day: NaiveDate, hh: u32, mm: u32) -> DateTime<Utc> {
    chrono_tz::Asia::Tokyo
        .from_local_datetime(&day.and_hms_opt(hh, mm, 0).unwrap())
        .unwrap()
        .with_timezone(&Utc)
}

/// An organisation with events on three days (Tokyo): day 1 10:00 the admin creates card A;
/// day 2 00:30 (still day 1 in UTC) the member creates card B; day 3 12:00 the system renames
/// the organisation. The clock then stays on day 3.
struct Story {
    t: TestApp,
    org: Org,
    member_id: String,
    card_a: String,
    card_b: String,
    org_id: String,
    days: [NaiveDate; 3],
}

async fn story() -> Story {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (member_id, member) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let day1 = (Utc::now() + Duration::days(10))
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .date_naive();
    let days = [day1, day1 + Duration::days(1), day1 + Duration::days(2)];
    t.clock.set(tokyo(days[0], 10, 0));
    let card_a = t
        .card(
            &org.admin,
            json!({"full_name": "髙橋 一郎", "company": "株式会社〜テスト"}),
        )
        .await;
    t.clock.set(tokyo(days[1], 0, 30));
    let card_b = t.card(&member, json!({"full_name": "山田 花子"})).await;
    t.clock.set(tokyo(days[2], 12, 0));
    let org_id = auth::actor_from_token(&t.app, &org.admin).await.unwrap().org_id;
    let patch = orgs::SettingsPatch {
        name: Some("アクメ 株式会社".into()),
        ..Default::default()
    };
    orgs::update(&t.app, &Actor::system(&org_id), patch).await.unwrap();
    Story {
        t,
        org,
        member_id,
        card_a,
        card_b,
        org_id,
        days,
    }
}

#[tokio::test]
async fn the_audit_page_filters_by_who_what_target_and_days_in_the_organisations_zone() {
    let s = story().await;
    let admin = Console::signed_in(&s.t, &s.org, "admin@acme.example.jp").await;
    let page = admin.get("/audit").await;
    assert_eq!(page.status, StatusCode::OK);
    let html = page.text();
    assert!(!html.contains('⚠'), "every text translated");
    assert!(html.contains("<title>監査ログ — meishi</title>"));
    assert!(
        html.contains("href=\"/audit\" aria-current=\"page\""),
        "the admin's menu has it"
    );
    assert!(
        html.contains("<option value=\"card.create\""),
        "the actions that occur are the choices"
    );
    assert!(html.contains("<option value=\"organization.update\""));
    assert!(
        html.contains("<option value=\"card\">"),
        "the target types are suggested"
    );
    let english = admin
        .client
        .get(format!("{}/audit?actor=system", admin.base))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains("<title>Audit log — meishi</title>") && !english.contains('⚠'));
    assert!(english.contains("<td class=\"actor\">System</td>") && !english.contains("監査ログ"));
    let newest = rows(&html);
    assert!(
        newest.len() >= 5,
        "user.create ×2, card.create ×2, organization.update, sign-in"
    );

    let filtered = |q: &'static str| {
        let admin = &admin;
        async move {
            let g = admin.get(&format!("/audit?{q}")).await;
            assert_eq!(g.status, StatusCode::OK, "{q}");
            g.text()
        }
    };
    // What.
    let html = filtered("action=card.create").await;
    assert_eq!(rows(&html).len(), 2);
    assert!(html.contains(&s.card_a) && html.contains(&s.card_b));
    assert!(html.contains("<option value=\"card.create\" selected"));
    // Who: a user, or the system.
    let html = admin.get(&format!("/audit?actor={}", s.member_id)).await.text();
    assert_eq!(rows(&html).len(), 1, "only the member's card");
    assert!(html.contains(&s.card_b) && !html.contains(&s.card_a));
    assert!(html.contains("佐藤 美咲"));
    let html = filtered("actor=system").await;
    assert!(html.contains("organization.update") && html.contains("organization.create"));
    assert!(!html.contains(&s.card_a) && !html.contains(&s.card_b));
    assert_eq!(
        html.matches("<td class=\"actor\">システム</td>").count(),
        rows(&html).len(),
        "only what the system did"
    );
    // Target: type and/or id.
    assert_eq!(rows(&filtered("target_type=card").await).len(), 2);
    let html = admin.get(&format!("/audit?target_id={}", s.card_a)).await.text();
    assert_eq!(rows(&html).len(), 1);
    assert!(html.contains("管理 太郎"), "who created it, by name");
    let html = admin
        .get(&format!("/audit?target_type=user&target_id={}", s.card_a))
        .await
        .text();
    assert!(rows(&html).is_empty() && html.contains("id=\"audit-none\""));
    // Days, in Tokyo: card B was made at 00:30 on day 2 (15:30 UTC on day 1).
    let day = |d: NaiveDate, e: NaiveDate| format!("/audit?from={d}&to={e}");
    let html = admin.get(&day(s.days[1], s.days[1])).await.text();
    assert_eq!(rows(&html).len(), 1, "{html}");
    assert!(html.contains(&s.card_b));
    assert!(
        html.contains(&format!("{} 00:30", s.days[1])),
        "shown in the organisation's zone"
    );
    let html = admin.get(&day(s.days[0], s.days[0])).await.text();
    assert_eq!(rows(&html).len(), 1);
    assert!(html.contains(&s.card_a) && html.contains(&format!("{} 10:00", s.days[0])));
    let html = admin.get(&format!("/audit?from={}", s.days[1])).await.text();
    assert!(html.contains(&s.card_b) && !html.contains(&s.card_a));
    assert!(html.contains("organization.update"));
    let html = admin.get(&format!("/audit?to={}", s.days[0])).await.text();
    assert!(html.contains(&s.card_a) && !html.contains(&s.card_b));
    // Everything together.
    let html = admin
        .get(&format!(
            "/audit?action=card.create&actor={}&target_type=card&from={}&to={}",
            s.member_id, s.days[1], s.days[2]
        ))
        .await
        .text();
    assert_eq!(
        rows(&html),
        rows(&admin.get(&format!("/audit?target_id={}", s.card_b)).await.text())
    );
    // Bad filters name themselves, in Japanese.
    let g = admin.get(&day(s.days[2], s.days[0])).await;
    // (Two days, each well-formed, in the wrong order: 422.)
    assert_eq!(g.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(g.text().contains("開始日以降の日付を入力してください"));
    assert!(g.text().contains("aria-invalid=\"true\""));
    let g = admin.get("/audit?from=2026-02-30").await;
    assert_eq!(g.status, StatusCode::BAD_REQUEST);
    assert!(g.text().contains("開始日は YYYY-MM-DD 形式"));
}

#[tokio::test]
async fn the_audit_page_pages_newest_first_keeping_the_filters() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(t.card(&org.admin, json!({"full_name": format!("頁 {i}")})).await);
    }
    let admin = Console::signed_in(&t, &org, "admin@acme.example.jp").await;
    let mut seen = Vec::new();
    let mut path = "/audit?action=card.create&limit=2".to_string();
    let mut pages = 0;
    loop {
        let html = admin.get(&path).await.text();
        pages += 1;
        for id in rows(&html) {
            let at = html.find(&format!("data-id=\"{id}\"")).unwrap();
            let row = html[at..].split("</tr>").next().unwrap();
            seen.push(made.iter().find(|c| row.contains(c.as_str())).unwrap().clone());
        }
        match next_link(&html) {
            Some(next) => {
                assert!(
                    next.contains("action=card.create") && next.contains("limit=2"),
                    "{next}"
                );
                assert!(html.contains("<option value=\"card.create\" selected"));
                path = next;
            }
            None => break,
        }
    }
    assert_eq!(pages, 3);
    made.reverse();
    assert_eq!(seen, made, "newest first, each once");
    let html = admin.get(&path).await.text();
    assert!(html.contains("最新へ"), "a later page links back to the newest");
    let g = admin.get("/audit?cursor=not-a-cursor").await;
    assert_eq!(g.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn the_audit_csv_has_a_bom_or_is_shift_jis_and_holds_the_filtered_events() {
    let s = story().await;
    let admin = Console::signed_in(&s.t, &s.org, "admin@acme.example.jp").await;
    let g = admin.get("/audit.csv?action=card.create").await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.headers[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(
        g.headers["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment; filename=\"audit-")
    );
    assert!(g.body.starts_with(b"\xEF\xBB\xBF"), "UTF-8 with a BOM");
    let read = |text: &str| -> Vec<Vec<String>> {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(text.as_bytes())
            .records()
            .map(|r| r.unwrap().iter().map(str::to_string).collect())
            .collect()
    };
    let table = read(std::str::from_utf8(&g.body[3..]).unwrap());
    assert_eq!(
        table[0],
        [
            "日時 (Asia/Tokyo)",
            "実行者",
            "操作",
            "対象の種類",
            "対象ID",
            "変更前",
            "変更後"
        ]
    );
    assert_eq!(table.len(), 3, "the header and the two card.create events");
    let b = &table[1];
    assert_eq!(b[0], format!("{} 00:30:00", s.days[1]), "the organisation's zone");
    assert_eq!(&b[1..5], ["佐藤 美咲", "card.create", "card", s.card_b.as_str()]);
    assert_eq!(b[5], "", "nothing before a creation");
    let after: serde_json::Value = serde_json::from_str(&b[6]).unwrap();
    assert_eq!(after["full_name"], "山田 花子");
    let a = &table[2];
    assert_eq!(&a[1..5], ["管理 太郎", "card.create", "card", s.card_a.as_str()]);

    // Shift_JIS for Excel: no BOM, every character readable (〜 becomes Windows' ～).
    let g = admin.get("/audit.csv?action=card.create&encoding=shift_jis").await;
    assert_eq!(g.status, StatusCode::OK);
    assert_eq!(g.headers[CONTENT_TYPE], "text/csv; charset=Shift_JIS");
    assert!(std::str::from_utf8(&g.body).is_err(), "not UTF-8");
    let (text, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&g.body);
    assert!(!had_errors);
    assert!(!text.starts_with('\u{feff}'));
    let table = read(&text);
    assert_eq!(table[0][1], "実行者");
    assert_eq!(table[2][1], "管理 太郎");
    let after: serde_json::Value = serde_json::from_str(&table[2][6]).unwrap();
    assert_eq!(after["full_name"], "髙橋 一郎");
    assert_eq!(after["company"], "株式会社～テスト");

    // The other filters apply; the system is named.
    let g = admin.get("/audit.csv?actor=system").await;
    let table = read(std::str::from_utf8(&g.body[3..]).unwrap());
    assert!(table.len() > 2);
    assert!(table[1..].iter().all(|r| r[1] == "システム"));
    assert!(table.iter().all(|r| r[2] != "card.create"));
    let g = admin.get("/audit.csv?actor=system&action=organization.update").await;
    let table = read(std::str::from_utf8(&g.body[3..]).unwrap());
    assert_eq!(table.len(), 2);
    assert_eq!(&table[1][1..3], ["システム", "organization.update"]);
    let before: serde_json::Value = serde_json::from_str(&table[1][5]).unwrap();
    assert_eq!(before["name"], "acme 株式会社");
    let g = admin
        .get(&format!("/audit.csv?from={}&to={}", s.days[1], s.days[1]))
        .await;
    let table = read(std::str::from_utf8(&g.body[3..]).unwrap());
    assert_eq!(table.len(), 2);
    assert_eq!(table[1][4], s.card_b);
    let g = admin.get("/audit.csv?encoding=latin1").await;
    assert_eq!(g.status, StatusCode::BAD_REQUEST);
    assert!(g.text().contains("文字コードは utf-8 か shift_jis"));
}

#[tokio::test]
async fn the_audit_csv_reads_page_after_page_of_a_long_log() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let org_id = auth::actor_from_token(&t.app, &org.admin).await.unwrap().org_id;
    let at = t.app.now();
    for i in 0..1203 {
        let e = meishi::store::audit::NewEvent {
            actor_id: None,
            action: "bulk.test",
            target_type: "thing",
            target_id: &format!("{i:05}"),
            before: None,
            after: Some(json!({"n": i})),
        };
        meishi::store::audit::append(t.app.store.conn(), &org_id, e, at)
            .await
            .unwrap();
    }
    let admin = Console::signed_in(&t, &org, "admin@acme.example.jp").await;
    let g = admin.get("/audit.csv?action=bulk.test").await;
    let text = std::str::from_utf8(&g.body[3..]).unwrap();
    let ids: Vec<String> = csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.unwrap()[4].to_string())
        .collect();
    assert_eq!(ids.len(), 1203, "three pages of the store, each event once");
    assert_eq!(ids[0], "01202");
    assert_eq!(ids[1202], "00000");
}

#[tokio::test]
async fn a_member_may_not_read_the_audit_log() {
    let s = story().await;
    let member = Console::signed_in(&s.t, &s.org, "sato@acme.example.jp").await;
    let g = member.get("/audit").await;
    assert_eq!(g.status, StatusCode::FORBIDDEN);
    assert!(!g.text().contains(&s.card_a));
    let g = member.get("/audit.csv").await;
    assert_eq!(g.status, StatusCode::FORBIDDEN);
    assert!(!g.text().contains(&s.card_a));
    assert!(
        !member.get("/cards").await.text().contains("href=\"/audit\""),
        "no menu entry"
    );
    let token = token_for(&s.t, &s.org, "sato@acme.example.jp").await;
    assert_error(s.t.get(&token, "/api/v1/audit").await, StatusCode::FORBIDDEN, None);
}

#[tokio::test]
async fn another_organisations_events_never_appear() {
    let s = story().await;
    let other = s.t.org("beta").await;
    let (other_user, other_token) = s.t.user(&other, "kato@beta.example.jp", "加藤 次郎", "member").await;
    let theirs = s.t.card(&other_token, json!({"full_name": "他社 名刺"})).await;
    let admin = Console::signed_in(&s.t, &s.org, "admin@acme.example.jp").await;
    // Nothing of theirs, wherever one looks.
    for path in [
        "/audit",
        "/audit?limit=500",
        "/audit.csv",
        "/audit.csv?encoding=shift_jis",
    ] {
        let g = admin.get(path).await;
        assert_eq!(g.status, StatusCode::OK, "{path}");
        let text = match path.contains("shift_jis") {
            true => encoding_rs::SHIFT_JIS.decode(&g.body).0.into_owned(),
            false => g.text(),
        };
        assert!(text.contains(&s.card_a), "{path}: ours are there");
        for theirs in [&theirs, &other_user, &other.admin_id, "加藤 次郎", "他社 名刺"] {
            assert!(!text.contains(theirs), "{path}: {theirs}");
        }
    }
    // Nor when asked for by their ids (the page repeats the filter, but lists nothing).
    for filter in [
        format!("target_id={theirs}"),
        format!("actor={other_user}"),
        format!("actor={}", other.admin_id),
    ] {
        let html = admin.get(&format!("/audit?{filter}")).await.text();
        assert!(rows(&html).is_empty(), "{filter}");
        let csv = admin.get(&format!("/audit.csv?{filter}")).await.text();
        assert_eq!(csv.lines().count(), 1, "{filter}: the header only");
    }
    assert!(rows(&admin.get(&format!("/audit?target_id={theirs}")).await.text()).is_empty());
    let (_, v) =
        s.t.get(&s.org.admin, &format!("/api/v1/audit?target_id={theirs}"))
            .await;
    assert_eq!(v["items"], json!([]));
    // Their admin sees their own, and none of ours.
    let (_, v) = s.t.get(&other.admin, "/api/v1/audit?limit=500").await;
    let text = v.to_string();
    assert!(text.contains(&theirs) && !text.contains(&s.card_a) && !text.contains(&s.org_id));
}

#[tokio::test]
async fn the_api_filters_by_actor_target_type_and_days() {
    let s = story().await;
    let items = |v: &serde_json::Value| v["items"].as_array().unwrap().clone();
    let (st, v) = s.t.get(&s.org.admin, "/api/v1/audit?actor_id=system").await;
    assert_eq!(st, StatusCode::OK, "{v}");
    assert_eq!(items(&v)[0]["action"], "organization.update", "newest first");
    assert!(items(&v).iter().all(|e| e["actor_id"].is_null()));
    assert!(items(&v).iter().any(|e| e["action"] == "organization.create"));
    let (_, v) =
        s.t.get(&s.org.admin, &format!("/api/v1/audit?actor_id={}", s.member_id))
            .await;
    assert_eq!(items(&v).len(), 1);
    let (_, v) = s.t.get(&s.org.admin, "/api/v1/audit?target_type=card").await;
    assert_eq!(items(&v).len(), 2);
    let (_, v) =
        s.t.get(&s.org.admin, &format!("/api/v1/audit?from={0}&to={0}", s.days[1]))
            .await;
    assert_eq!(items(&v).len(), 1);
    assert_eq!(items(&v)[0]["target_id"], s.card_b);
    let (_, v) = s.t.get(&s.org.admin, "/api/v1/audit?action=card.create&limit=1").await;
    assert_eq!(items(&v)[0]["target_id"], s.card_b, "newest first");
    let cursor = v["next_cursor"].as_str().unwrap();
    let (_, v) =
        s.t.get(
            &s.org.admin,
            &format!("/api/v1/audit?action=card.create&limit=1&cursor={cursor}"),
        )
        .await;
    assert_eq!(items(&v)[0]["target_id"], s.card_a);
    assert_eq!(v["next_cursor"], serde_json::Value::Null);
    assert_error(
        s.t.get(&s.org.admin, "/api/v1/audit?from=yesterday").await,
        StatusCode::BAD_REQUEST,
        Some("from"),
    );
    assert_error(
        s.t.get(
            &s.org.admin,
            &format!("/api/v1/audit?from={}&to={}", s.days[1], s.days[0]),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("to"),
    );
}

/// Whether a response sets the one-time message.
fn flashes(g: &Got) -> bool {
    g.headers
        .get_all(SET_COOKIE)
        .iter()
        .any(|c| c.to_str().unwrap().starts_with("meishi_flash=") && !c.to_str().unwrap().contains("Max-Age=0"))
}

#[tokio::test]
async fn saving_settings_redirects_with_a_message_shown_once() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let admin = Console::signed_in(&t, &org, "admin@acme.example.jp").await;
    let fields = [
        ("name", "アクメ 株式会社"),
        ("time_zone", "Asia/Tokyo"),
        ("retired_suffix", "(退職済み)"),
        ("suspend_at", "23:59"),
        ("trash_days", "45"),
        ("previous_owner_tag_format", "旧所有者: {name} ({date})"),
    ];
    let g = admin.post("/settings", &fields).await;
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    assert_eq!(g.location(), "/settings");
    assert!(flashes(&g));
    let first = admin.get("/settings").await.text();
    assert!(first.contains("設定を保存しました。"));
    assert!(first.contains("value=\"45\""));
    let again = admin.get("/settings").await.text();
    assert!(!again.contains("設定を保存しました。"), "shown once");
    assert_eq!(t.audit(&org, "organization.update").await.len(), 1, "saved once");
    // A post that changes nothing answers with the form and its error, no redirect.
    let mut bad = fields;
    bad[4] = ("trash_days", "many");
    let g = admin.post("/settings", &bad).await;
    assert_eq!(g.status, StatusCode::BAD_REQUEST);
    assert!(!flashes(&g));
    assert_eq!(t.audit(&org, "organization.update").await.len(), 1);
    // The archive account.
    let g = admin.post("/settings/archive", &[]).await;
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    let html = admin.get(&g.location()).await.text();
    assert!(html.contains("退職者の名刺管理用アカウントを作成しました。"));
    assert!(!admin.get("/settings").await.text().contains("作成しました"));
}

#[tokio::test]
async fn a_transfer_and_its_undo_redirect_so_a_reload_runs_nothing_again() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (sato, _) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    for i in 0..3 {
        t.card(&org.admin, json!({"full_name": format!("移動 {i}")})).await;
    }
    let admin = Console::signed_in(&t, &org, "admin@acme.example.jp").await;
    let form = [("from", org.admin_id.as_str()), ("to", sato.as_str()), ("mode", "all")];
    let preview = admin.post("/transfers", &form).await;
    assert_eq!(preview.status, StatusCode::OK, "the dry run answers with its counts");
    assert!(preview.text().contains("id=\"preview\""));
    let mut confirmed = form.to_vec();
    confirmed.push(("confirm", "1"));
    let g = admin.post("/transfers", &confirmed).await;
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    let result = g.location();
    assert!(result.starts_with("/transfers?done="), "{result}");
    let first = admin.get(&result).await.text();
    assert!(first.contains("所有者変更を実行しました。"));
    assert!(first.contains("id=\"transfer-done\"") && first.contains("名刺 3 枚"));
    let reload = admin.get(&result).await.text();
    assert!(!reload.contains("所有者変更を実行しました。"), "the message once");
    assert!(reload.contains("id=\"transfer-done\""), "the result page stays");
    let (_, list) = t.get(&org.admin, "/api/v1/transfers").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "transferred once");

    let id = result.trim_start_matches("/transfers?done=");
    let g = admin.post(&format!("/transfers/{id}/undo"), &[]).await;
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    assert_eq!(g.location(), "/transfers");
    let html = admin.get("/transfers").await.text();
    assert!(html.contains("所有者変更を取り消しました（3 枚を戻し"), "{html}");
    assert!(!admin.get("/transfers").await.text().contains("取り消しました（"));
    assert_eq!(t.audit(&org, "transfer.undo").await.len(), 1, "undone once");
}

async fn upload(c: &Console, csv: &str, valid_rows: bool) -> Got {
    let csrf = c.csrf().await;
    let file = reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
        .file_name("cards.csv")
        .mime_str("text/csv")
        .unwrap();
    let mut form = reqwest::multipart::Form::new().text("csrf", csrf).part("file", file);
    if valid_rows {
        form = form.text("valid_rows", "1");
    }
    let res = c
        .client
        .post(format!("{}/imports", c.base))
        .header("accept-language", "ja")
        .multipart(form)
        .send()
        .await
        .unwrap();
    Got {
        status: res.status(),
        headers: res.headers().clone(),
        body: res.bytes().await.unwrap().to_vec(),
    }
}

#[tokio::test]
async fn an_import_redirects_to_its_result_which_survives_reloads() {
    let t = spawn().await;
    let org = t.org("acme").await;
    t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    t.user(&org, "ito@acme.example.jp", "伊藤 翔太", "member").await;
    let sato = Console::signed_in(&t, &org, "sato@acme.example.jp").await;
    let csv = "氏名,会社名,Email(1)\n取込 一郎,株式会社取込,ichiro@torikomi.example.jp\n取込 二郎,株式会社取込,not-an-email\n取込 三郎,株式会社取込,saburo@torikomi.example.jp\n";
    // All or nothing with a bad row: nothing changed, the page answers the post.
    let g = upload(&sato, csv, false).await;
    assert_eq!(g.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!flashes(&g));
    assert!(g.text().contains("何も取り込んでいません"));
    // The valid rows: a redirect to the result.
    let g = upload(&sato, csv, true).await;
    assert_eq!(g.status, StatusCode::SEE_OTHER);
    let result = g.location();
    assert!(result.starts_with("/imports?result="), "{result}");
    let first = sato.get(&result).await;
    assert_eq!(first.status, StatusCode::OK);
    let html = first.text();
    assert!(html.contains("2 件を取り込みました。"), "the message");
    assert!(html.contains("id=\"import-result\"") && html.contains("取り込み 2 件"));
    assert!(html.contains("id=\"import-errors\""), "the skipped line is listed");
    assert!(html.contains("<td>3</td>"), "line 3");
    let reload = sato.get(&result).await.text();
    assert!(!reload.contains("2 件を取り込みました。"), "the message once");
    assert!(
        reload.contains("取り込み 2 件") && reload.contains("<td>3</td>"),
        "the result stays"
    );
    let (_, cards) = t.get(&org.admin, "/api/v1/cards?q=取込").await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 2, "imported once");
    assert_eq!(t.audit(&org, "cards.import").await.len(), 1);
    // Another member cannot read it; an admin can.
    let ito = Console::signed_in(&t, &org, "ito@acme.example.jp").await;
    assert_eq!(ito.get(&result).await.status, StatusCode::NOT_FOUND);
    let admin = Console::signed_in(&t, &org, "admin@acme.example.jp").await;
    assert!(admin.get(&result).await.text().contains("取り込み 2 件"));
    assert_eq!(admin.get("/imports?result=nope").await.status, StatusCode::NOT_FOUND);
}
