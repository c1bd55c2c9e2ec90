//! The cards and users lists of the console over real HTTP: kana-folded search, sorts with
//! their paging, combined filters, the count, choosing cards for a transfer; the users list's
//! search, status filter, badges and CSV; the 404 page; the flash after a post.

use crate::console::Browser;
use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

/// The ids of the cards a page links to, in the page's order (each once).
fn card_ids(html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in html.split("href=\"/cards/").skip(1) {
        let id = &part[..part.len().min(36)];
        if id.len() == 36 && id.as_bytes()[8] == b'-' && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

/// The page's "next page" link, if any.
fn next_link(html: &str) -> Option<String> {
    let at = html.find("rel=\"next\"")?;
    let start = html[..at].rfind("href=\"")? + 6;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&#38;", "&").replace("&amp;", "&"))
}

/// Every card of a listing, following its pages.
async fn all_pages(b: &Browser, first: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut path = Some(first.to_string());
    let mut pages = 0;
    while let Some(p) = path {
        let (s, html) = b.get(&p).await;
        assert_eq!(s, StatusCode::OK, "{p}: {html}");
        out.extend(card_ids(&html));
        path = next_link(&html);
        pages += 1;
        assert!(pages < 20, "paging ends");
    }
    out
}

struct Cards {
    t: TestApp,
    org: Org,
    /// 営業 花子 (member) and her token.
    hanako: (String, String),
    /// In the order made: ヤマモト タロウ, やまもと じろう (花子's), アオキ, 伊藤 (no reading), ﾔﾏﾓﾄ ｻﾌﾞﾛｳ.
    ids: Vec<String>,
    tag: String,
}

async fn cards_fixture() -> Cards {
    let t = spawn().await;
    let org = t.org("acme").await;
    let hanako = t.user(&org, "hanako@acme.example.jp", "営業 花子", "member").await;
    let mut ids = Vec::new();
    for (name, reading, company, date, owner) in [
        (
            "山本 太郎",
            "ヤマモト タロウ",
            "株式会社サンプル",
            Some("2026-01-10"),
            None,
        ),
        (
            "山本 次郎",
            "やまもと じろう",
            "(株)サンプル",
            Some("2026-03-01"),
            Some(&hanako.0),
        ),
        ("青木 花子", "アオキ ハナコ", "東洋商事", None, None),
        ("伊藤 一郎", "", "アルファ株式会社", Some("2025-12-31"), None),
        ("山本 三郎", "ﾔﾏﾓﾄ ｻﾌﾞﾛｳ", "サンプル株式会社", Some("2026-02-01"), None),
    ] {
        let mut body = json!({"full_name": name, "name_reading": reading, "company": company, "exchanged_on": date});
        if let Some(o) = owner {
            body["owner_id"] = json!(o);
        }
        ids.push(t.card(&org.admin, body).await);
    }
    let (s, tag) = t
        .post(&org.admin, "/api/v1/tags", json!({"name": "重要", "shared": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tag}");
    let tag = tag["id"].as_str().unwrap().to_string();
    for i in [0, 1, 4] {
        let path = format!("/api/v1/cards/{}/tags/{tag}", ids[i]);
        let (s, v) = t.call(&org.admin, reqwest::Method::PUT, &path, None).await;
        assert!(s.is_success(), "{v}");
    }
    Cards {
        t,
        org,
        hanako,
        ids,
        tag,
    }
}

async fn admin(t: &TestApp, lang: &'static str) -> Browser {
    let b = Browser::new(t, lang);
    let res = b.sign_in("admin@acme.example.jp", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    b
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

#[tokio::test]
async fn a_keyword_in_hiragana_finds_katakana_readings_and_the_other_way_round() {
    let f = cards_fixture().await;
    let yamamoto = sorted(vec![f.ids[0].clone(), f.ids[1].clone(), f.ids[4].clone()]);
    let b = admin(&f.t, "ja").await;
    for q in ["やまもと", "ヤマモト", "ﾔﾏﾓﾄ", "やま もと", "山本"] {
        let (s, v) =
            f.t.get(&f.org.admin, &format!("/api/v1/cards?q={}", urlencoding(q)))
                .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let got: Vec<String> = v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["id"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(sorted(got), yamamoto, "API q={q}");
        let (_, html) = b.get(&format!("/cards?q={}", urlencoding(q))).await;
        assert_eq!(sorted(card_ids(&html)), yamamoto, "console q={q}");
        assert!(html.contains("3 件"), "the count for q={q}");
    }
    // One card's reading, hiragana typed: only that card.
    let (_, html) = b.get(&format!("/cards?q={}", urlencoding("たろう"))).await;
    assert_eq!(card_ids(&html), vec![f.ids[0].clone()]);
    // An edited card is found by its new reading.
    let (s, _) =
        f.t.call(
            &f.org.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/cards/{}", f.ids[2]),
            Some(json!({"name_reading": "あおき はなこ"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, html) = b.get(&format!("/cards?q={}", urlencoding("アオキ"))).await;
    assert_eq!(card_ids(&html), vec![f.ids[2].clone()]);
    // LIKE's own characters are plain text.
    let (_, html) = b.get("/cards?q=%25").await;
    assert!(card_ids(&html).is_empty());
    assert!(html.contains("0 件"));
}

#[tokio::test]
async fn the_migration_fills_the_search_keys_of_existing_cards() {
    let f = cards_fixture().await;
    let db = f.t.app.store.conn();
    // The database as it was before migration 4 (and 5, the keyword index).
    let index: &[&str] = if f.t.app.store.is_sqlite() {
        &["DROP TABLE card_grams", "DROP TABLE card_chars"]
    } else {
        &["DROP TABLE card_search"]
    };
    for stmt in index.iter().chain(&[
        "ALTER TABLE cards DROP COLUMN name_key",
        "DELETE FROM schema_migrations WHERE version IN (4, 5)",
    ]) {
        meishi::store::exec(db, stmt, vec![]).await.expect(stmt);
    }
    assert_eq!(f.t.app.store.migrate().await.unwrap(), 2);
    let b = admin(&f.t, "ja").await;
    let (_, html) = b.get(&format!("/cards?q={}", urlencoding("やまもと"))).await;
    assert_eq!(card_ids(&html).len(), 3, "{html}");
    let all = all_pages(&b, "/cards?sort=name&limit=2").await;
    assert_eq!(
        all,
        [3, 5, 2, 1, 4].map(|i| f.ids[i - 1].clone()).to_vec(),
        "the name keys too"
    );
}

#[tokio::test]
async fn each_sort_keeps_its_order_across_pages() {
    let f = cards_fixture().await;
    let b = admin(&f.t, "ja").await;
    let order = |idx: &[usize]| idx.iter().map(|i| f.ids[i - 1].clone()).collect::<Vec<_>>();
    // 名刺交換日, newest first, the card without a date last (the default).
    let exchanged = order(&[2, 5, 1, 4, 3]);
    assert_eq!(all_pages(&b, "/cards").await, exchanged);
    assert_eq!(all_pages(&b, "/cards?limit=2").await, exchanged);
    assert_eq!(all_pages(&b, "/cards?sort=exchanged&limit=1").await, exchanged);
    // 会社名: the normalised name (株式会社/(株) aside), then the card's id.
    assert_eq!(
        all_pages(&b, "/cards?sort=company&limit=2").await,
        order(&[4, 1, 2, 5, 3])
    );
    // 氏名: the reading (hiragana, katakana and half-width alike), else the name.
    assert_eq!(all_pages(&b, "/cards?sort=name&limit=2").await, order(&[3, 5, 2, 1, 4]));
    // Sorted and filtered at once.
    assert_eq!(
        all_pages(&b, &format!("/cards?sort=name&limit=1&q={}", urlencoding("やまもと"))).await,
        order(&[5, 2, 1])
    );
    let (s, html) = b.get("/cards?sort=salary").await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{html}");
    // The API keeps its id order.
    let (_, v) = f.t.get(&f.org.admin, "/api/v1/cards?limit=2").await;
    let first: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, vec![f.ids[0].as_str(), f.ids[1].as_str()]);
}

#[tokio::test]
async fn tag_company_owner_and_keyword_filter_together_with_the_count() {
    let f = cards_fixture().await;
    let b = admin(&f.t, "en").await;
    let admin_id = &f.org.admin_id;
    let q = |tag: &str, company: &str, owner: &str, text: &str| {
        format!(
            "/cards?tag={tag}&company={}&owner={owner}&q={}",
            urlencoding(company),
            urlencoding(text)
        )
    };
    // 重要 is on 1, 2 and 5; all three are サンプル's; 2 is 花子's.
    let (_, html) = b.get(&q(&f.tag, "(株)サンプル", admin_id, "やまもと")).await;
    assert_eq!(
        sorted(card_ids(&html)),
        sorted(vec![f.ids[0].clone(), f.ids[4].clone()])
    );
    assert!(html.contains("2 cards"), "the count of the filtered list");
    let (_, html) = b.get(&q(&f.tag, "サンプル", admin_id, "たろう")).await;
    assert_eq!(card_ids(&html), vec![f.ids[0].clone()]);
    let (_, html) = b.get(&q(&f.tag, "サンプル", &f.hanako.0, "")).await;
    assert_eq!(card_ids(&html), vec![f.ids[1].clone()]);
    let (_, html) = b.get(&q(&f.tag, "東洋商事", "", "")).await;
    assert!(card_ids(&html).is_empty());
    assert!(html.contains("0 cards"));
    let (_, html) = b.get(&q("", "", "", "")).await;
    assert!(html.contains("5 cards"));
    // The filters are kept in the next page's link.
    let (_, html) = b.get(&format!("{}&limit=1", q(&f.tag, "サンプル", admin_id, ""))).await;
    let next = next_link(&html).expect("a second page");
    assert!(next.contains(&format!("tag={}", f.tag)) && next.contains(&format!("owner={admin_id}")));
    assert_eq!(
        sorted(all_pages(&b, &format!("{}&limit=1", q(&f.tag, "サンプル", admin_id, ""))).await),
        sorted(vec![f.ids[0].clone(), f.ids[4].clone()])
    );
}

#[tokio::test]
async fn admins_choose_cards_on_the_list_and_reach_the_transfer_preview() {
    let f = cards_fixture().await;
    let b = admin(&f.t, "ja").await;
    let (_, list) = b.get("/cards").await;
    assert!(list.contains("選択した名刺の所有者変更"));
    assert!(list.contains(&format!("name=\"card\" value=\"{}\"", f.ids[0])));
    // Two of the admin's cards: their owner is the transfer's from-user.
    let (s, html) = b.get(&format!("/transfers?card={}&card={}", f.ids[0], f.ids[4])).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(html.contains("名刺一覧で選択した名刺"));
    assert!(html.contains("2 枚"));
    assert!(
        html.contains(&format!("value=\"{},{}\"", f.ids[0], f.ids[4]))
            || html.contains(&format!("value=\"{},{}\"", f.ids[4], f.ids[0]))
    );
    assert!(html.contains(&format!("<option value=\"{}\" selected>", f.org.admin_id)));
    assert!(html.contains("value=\"cards\" checked"));
    let card_ids_value = html
        .split("name=\"card_ids\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let res = b
        .post(
            "/transfers",
            &[
                ("from", &f.org.admin_id),
                ("to", &f.hanako.0),
                ("mode", "cards"),
                ("card_ids", &card_ids_value),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::OK);
    let preview = res.text().await.unwrap();
    assert!(preview.contains("id=\"preview\""), "{preview}");
    assert!(preview.contains("名刺 2 枚"), "{preview}");
    // Cards of two owners: said clearly, with who holds how many.
    let (s, html) = b.get(&format!("/transfers?card={}&card={}", f.ids[0], f.ids[1])).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(html.contains("選択した名刺の所有者が複数います"), "{html}");
    assert!(
        html.contains("営業 花子 (1)") && html.contains("管理 太郎 (1)"),
        "{html}"
    );
    // Members choose nothing.
    let member = Browser::new(&f.t, "ja");
    member.sign_in("hanako@acme.example.jp", PASSWORD).await;
    let (_, list) = member.get("/cards").await;
    assert!(!list.contains("name=\"card\""));
}

#[tokio::test]
async fn posts_on_cards_end_with_a_flash_shown_once() {
    let f = cards_fixture().await;
    let b = admin(&f.t, "ja").await;
    let res = b
        .post("/cards", &[("full_name", "新規 太郎"), ("company", "株式会社テスト")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_string();
    let (_, html) = b.get(&to).await;
    assert!(html.contains("名刺を登録しました。"), "{html}");
    let (_, again) = b.get(&to).await;
    assert!(!again.contains("名刺を登録しました。"), "once");
    let id = to.trim_start_matches("/cards/");
    for (path, fields, message) in [
        (
            format!("/cards/{id}"),
            vec![("full_name", "新規 次郎")],
            "名刺を保存しました。",
        ),
        (
            format!("/cards/{id}/contacts"),
            vec![("kind", "meeting"), ("body", "初回訪問")],
            "コンタクトを記録しました。",
        ),
        (
            format!("/cards/{id}/tags"),
            vec![("tag_id", f.tag.as_str())],
            "タグを付けました。",
        ),
        (
            format!("/cards/{id}/tags/{}/detach", f.tag),
            vec![],
            "タグを外しました。",
        ),
        (format!("/cards/{id}/delete"), vec![], "名刺を削除しました。"),
    ] {
        let res = b.post(&path, &fields).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{path}");
        let to = res.headers()[LOCATION].to_str().unwrap().to_string();
        let (_, html) = b.get(to.split('#').next().unwrap()).await;
        assert!(html.contains(message), "{path}: {message}");
    }
    // An error keeps the form and shows no flash.
    let res = b.post("/cards", &[("full_name", "誤り"), ("email", "nope")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
}

struct People {
    t: TestApp,
    org: Org,
    active: String,
    leaving: String,
    departure: String,
    suspended: String,
    deleted: String,
    archive: String,
}

async fn people() -> People {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (active, _) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (leaving, _) = t.user(&org, "ito@acme.example.jp", "伊藤 翔太", "member").await;
    let (suspended, _) = t.user(&org, "kimura@acme.example.jp", "木村 恵", "member").await;
    let (deleted, _) = t.user(&org, "mori@acme.example.jp", "森 健一", "member").await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
    let last = (today + chrono::Duration::days(10)).to_string();
    let (s, d) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            json!({"user_id": leaving, "successor_id": active, "retirement_date": last, "last_working_day": last}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let departure = d["id"].as_str().unwrap().to_string();
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/users/{suspended}/suspend"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t
        .call(
            &org.admin,
            reqwest::Method::DELETE,
            &format!("/api/v1/users/{deleted}"),
            None,
        )
        .await;
    assert!(s.is_success(), "{v}");
    let (s, v) = t.post(&org.admin, "/api/v1/archive-account", json!({})).await;
    assert!(s.is_success(), "{v}");
    let archive = v["id"].as_str().unwrap().to_string();
    t.card(&org.admin, json!({"full_name": "取引先 一郎", "owner_id": active}))
        .await;
    People {
        t,
        org,
        active,
        leaving,
        departure,
        suspended,
        deleted,
        archive,
    }
}

/// The user ids a users page links to.
fn user_ids(html: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in html.split("href=\"/users/").skip(1) {
        let id = &part[..part.len().min(36)];
        if id.len() == 36 && !out.iter().any(|o| o == id) {
            out.push(id.to_string());
        }
    }
    out
}

#[tokio::test]
async fn the_users_list_searches_filters_by_status_and_shows_who_is_leaving() {
    let p = people().await;
    let b = admin(&p.t, "ja").await;
    let (s, html) = b.get("/users").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(user_ids(&html).len(), 6, "everyone, trash included");
    assert!(
        html.contains(&format!("href=\"/departures/{}\"", p.departure)),
        "the 退職予定 badge links the departure"
    );
    assert!(html.contains("退職予定"));
    let row = |html: &str, id: &str| {
        html.split(&format!("href=\"/users/{id}\""))
            .nth(1)
            .unwrap()
            .split("</tr>")
            .next()
            .unwrap()
            .to_string()
    };
    assert!(row(&html, &p.archive).contains("アーカイブ"), "the archive account");
    assert!(!row(&html, &p.archive).contains("利用中"));

    let status = |s: &str| format!("/users?status={s}");
    let (_, html) = b.get(&status("active")).await;
    assert_eq!(
        sorted(user_ids(&html)),
        sorted(vec![p.org.admin_id.clone(), p.active.clone(), p.leaving.clone()])
    );
    let (_, html) = b.get(&status("departing")).await;
    assert_eq!(user_ids(&html), vec![p.leaving.clone()]);
    assert!(html.contains("1 人"));
    let (_, html) = b.get(&status("suspended")).await;
    assert_eq!(user_ids(&html), vec![p.suspended.clone()]);
    let (_, html) = b.get(&status("archive")).await;
    assert_eq!(user_ids(&html), vec![p.archive.clone()]);
    let (_, html) = b.get(&status("deleted")).await;
    assert_eq!(user_ids(&html), vec![p.deleted.clone()]);
    let (s, _) = b.get(&status("retired")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let (_, html) = b.get(&format!("/users?q={}", urlencoding("佐藤美咲"))).await;
    assert_eq!(user_ids(&html), vec![p.active.clone()], "spaces in the name ignored");
    let (_, html) = b.get("/users?q=ITO%40").await;
    assert_eq!(user_ids(&html), vec![p.leaving.clone()], "by email, any case");
    let (_, html) = b.get("/users?q=ito&status=suspended").await;
    assert!(user_ids(&html).is_empty(), "search and status together");
    assert!(html.contains("条件に合うユーザーはいません"));

    // The user page names the departure's last working day and links it.
    let (_, html) = b.get(&format!("/users/{}", p.leaving)).await;
    assert!(
        html.contains(&format!("href=\"/departures/{}\"", p.departure)),
        "{html}"
    );
    assert!(html.contains("最終出社日"));
    let (_, html) = b.get(&format!("/users/{}", p.archive)).await;
    assert!(html.contains("アーカイブ") && !html.contains(">利用中<"));
    let en = admin(&p.t, "en").await;
    let (_, html) = en.get(&format!("/users/{}", p.archive)).await;
    assert!(html.contains(">Archive<"), "{html}");
}

#[tokio::test]
async fn the_users_csv_is_the_list_as_shown() {
    let p = people().await;
    let b = admin(&p.t, "ja").await;
    let res = b
        .client
        .get(format!("{}/users.csv?status=active", p.t.url))
        .header(reqwest::header::ACCEPT_LANGUAGE, "ja")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(res.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );
    let bytes = res.bytes().await.unwrap();
    assert_eq!(&bytes[..3], b"\xEF\xBB\xBF", "UTF-8 with a BOM");
    let text = std::str::from_utf8(&bytes[3..]).unwrap();
    let lines: Vec<&str> = text.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines[0], "表示名,メールアドレス,権限,状態,名刺,コンタクト,タグ");
    assert_eq!(lines.len(), 4, "the header and the three active users: {text}");
    assert!(
        lines.contains(&"佐藤 美咲,sato@acme.example.jp,メンバー,利用中,1,0,0"),
        "{text}"
    );
    assert!(
        lines.contains(&"伊藤 翔太,ito@acme.example.jp,メンバー,利用中 (退職予定),0,0,0"),
        "{text}"
    );
    let (_, html) = b.get("/users?status=active").await;
    assert!(
        html.contains("href=\"/users.csv?q=&#38;status=active\""),
        "the link keeps the filter: {}",
        html.split("users-csv").next().unwrap_or_default()
    );
    // English headers on an English page; members get nothing.
    let en = admin(&p.t, "en").await;
    let res = en
        .client
        .get(format!("{}/users.csv?q=sato", p.t.url))
        .header(reqwest::header::ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    let text = res.text().await.unwrap();
    assert!(
        text.starts_with("\u{FEFF}Display name,Email,Role,Status,Cards,Contacts,Tags\r\n"),
        "{text}"
    );
    assert!(
        text.contains("佐藤 美咲,sato@acme.example.jp,Member,Active,1,0,0\r\n"),
        "{text}"
    );
    let member = Browser::new(&p.t, "ja");
    member.sign_in("sato@acme.example.jp", PASSWORD).await;
    let (s, _) = member.get("/users.csv").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn posts_on_users_end_with_a_flash() {
    let p = people().await;
    let b = admin(&p.t, "ja").await;
    let res = b
        .post(
            "/users",
            &[
                ("email", "new@acme.example.jp"),
                ("display_name", "新人 一郎"),
                ("role", "member"),
                ("password", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let to = res.headers()[LOCATION].to_str().unwrap().to_string();
    let (_, html) = b.get(&to).await;
    assert!(html.contains("新人 一郎 さんを追加しました。"), "{html}");
    let new = to.trim_start_matches("/users/").to_string();
    for (action, message) in [
        ("suspend", "の利用を停止しました。"),
        ("reactivate", "新人 一郎 の利用を再開しました。"),
        ("delete", "新人 一郎 を削除しました"),
        ("restore", "をゴミ箱から戻しました。"),
    ] {
        let res = b.post(&format!("/users/{new}/{action}"), &[]).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
        let (_, html) = b.get(&format!("/users/{new}")).await;
        assert!(html.contains(message), "{action}: {html}");
    }
    // Deleting a user who holds cards through the archive account.
    let res = b
        .post(&format!("/users/{}/delete", p.active), &[("archive", "1")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = b.get(&format!("/users/{}", p.active)).await;
    assert!(
        html.contains("退職者の名刺管理用アカウントへ移して削除しました"),
        "{html}"
    );
    // A refused action shows its error, no flash.
    let res = b.post(&format!("/users/{}/delete", p.org.admin_id), &[]).await;
    assert!(res.status().is_client_error());
}

#[tokio::test]
async fn unknown_console_urls_get_a_404_page_in_the_pages_language() {
    let t = spawn().await;
    t.org("acme").await;
    let anonymous = Browser::new(&t, "ja");
    let (s, html) = anonymous.get("/no/such/page").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        html.contains("<html lang=\"ja\">") && html.contains("ページが見つかりません"),
        "{html}"
    );
    let b = admin(&t, "en-US,en;q=0.9").await;
    let (s, html) = b.get("/cardz").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        html.contains("<html lang=\"en\">") && html.contains("Page not found"),
        "{html}"
    );
    assert!(html.contains("href=\"/cards\""), "with the menu when signed in");
    let ja = admin(&t, "ja").await;
    let (_, html) = ja.get("/cardz").await;
    assert!(
        html.contains("ログアウト") && !html.contains("サインアウト"),
        "the console says ログアウト"
    );
    let (_, login) = anonymous.get("/login").await;
    assert!(login.contains("ログイン") && !login.contains("サインイン"));
    // The API keeps its JSON 404.
    let (s, v) = t.get("", "/api/v1/nothing-here").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_eq!(v["error"]["code"], "not_found", "{v}");
}

fn urlencoding(s: &str) -> String {
    let mut out = String::new();
    for b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(*b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
