//! ニュース and the person of a card through the console: the news page and the menu's badge,
//! apply/dismiss as form posts (flash, redirect, the card changed, its history) and as htmx
//! (the row fragment and the badge), bulk (all or none), another user's news refused, and the
//! card page's other cards, career, candidates, confirm, reject and split.

use crate::console::Browser;
use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::{Value, json};

struct Setup {
    t: TestApp,
    org: Org,
    sato: String,
    ito: String,
    ito_id: String,
    /// 佐藤's older card of 田中 一郎 and 伊藤's newer one.
    older: String,
    newer: String,
    /// 佐藤's card of 鈴木 花子 (news from 伊藤's newer card).
    suzuki: String,
}

/// 佐藤 holds older cards of 田中 一郎 and 鈴木 花子; 伊藤 registers newer ones (later exchange
/// dates): 佐藤 gets a 人事異動 and a 連絡先変更 on 田中 and a 人事異動 on 鈴木.
async fn setup() -> Setup {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, sato) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (ito_id, ito) = t.user(&org, "ito@acme.example.jp", "伊藤 翔太", "member").await;
    let older = t
        .card(
            &sato,
            json!({"full_name": "田中 一郎", "email": "tanaka@example.jp", "company": "旧商事株式会社",
                   "title": "課長", "exchanged_on": "2024-04-01"}),
        )
        .await;
    let newer = t
        .card(
            &ito,
            json!({"full_name": "田中 一郎", "email": "tanaka@example.jp", "company": "新興業株式会社",
                   "title": "部長", "phone": "03-1111-2222", "exchanged_on": "2025-10-01"}),
        )
        .await;
    let suzuki = t
        .card(
            &sato,
            json!({"full_name": "鈴木 花子", "email": "hanako@example.jp", "company": "丸山物産",
                   "department": "営業部", "exchanged_on": "2024-01-10"}),
        )
        .await;
    t.card(
        &ito,
        json!({"full_name": "鈴木 花子", "email": "hanako@example.jp", "company": "丸山物産",
               "department": "経営企画部", "exchanged_on": "2025-02-01"}),
    )
    .await;
    Setup {
        t,
        org,
        sato,
        ito,
        ito_id,
        older,
        newer,
        suzuki,
    }
}

async fn news_of(t: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (s, v) = t.get(token, &format!("/api/v1/news{query}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

fn news_id(items: &[Value], card: &str, kind: &str) -> String {
    items
        .iter()
        .find(|n| n["card_id"] == card && n["kind"] == kind)
        .unwrap_or_else(|| panic!("a {kind} news on {card}: {items:?}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The number in the menu's badge (0 when there is none).
fn badge(html: &str) -> usize {
    let at = html.find("id=\"news-badge\"").expect("the badge");
    let rest = &html[at..];
    let end = rest.find("</a>").unwrap();
    match rest[..end].find("class=\"nav-count\"") {
        None => 0,
        Some(i) => {
            let start = i + rest[i..].find('>').unwrap() + 1;
            let stop = start + rest[start..].find('<').unwrap();
            rest[start..stop].trim().parse().unwrap()
        }
    }
}

async fn signed_in(t: &TestApp, email: &str) -> Browser {
    let b = Browser::new(t, "ja");
    let res = b.sign_in(email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    b
}

async fn follow(b: &Browser, res: reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a post redirects");
    let to = res.headers()[LOCATION].to_str().unwrap().to_string();
    let (s, html) = b.get(&to).await;
    assert_eq!(s, StatusCode::OK, "{to}");
    html
}

#[tokio::test]
async fn the_news_page_lists_counts_applies_and_dismisses_by_form_and_by_htmx() {
    let x = setup().await;
    let b = signed_in(&x.t, "sato@acme.example.jp").await;
    let items = news_of(&x.t, &x.sato, "").await;
    assert_eq!(items.len(), 3, "{items:?}");

    let (s, html) = b.get("/news").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(badge(&html), 3, "the badge counts my open news");
    for text in [
        "田中 一郎",
        "鈴木 花子",
        "人事異動",
        "連絡先変更",
        "旧商事株式会社",
        "新興業株式会社",
        "課長",
        "部長",
        "03-1111-2222",
        "経営企画部",
        "選択したニュースを反映",
        "選択したニュースを却下",
    ] {
        assert!(html.contains(text), "{text}: {html}");
    }
    // The kind filter.
    let (_, contact) = b.get("/news?kind=contact").await;
    assert!(
        contact.contains("03-1111-2222") && !contact.contains("経営企画部"),
        "{contact}"
    );

    // Apply 田中's 人事異動 as a plain form post: back to the list with the message.
    let personnel = news_id(&items, &x.older, "personnel");
    let res = b
        .post(&format!("/news/{personnel}/apply"), &[("back", "/news?kind=personnel")])
        .await;
    assert_eq!(res.headers()[LOCATION], "/news?kind=personnel");
    let html = follow(&b, res).await;
    assert!(html.contains("「田中 一郎」のニュースを名刺に反映しました。"), "{html}");
    assert_eq!(badge(&html), 2);
    let (_, card) = x.t.get(&x.sato, &format!("/api/v1/cards/{}", x.older)).await;
    assert_eq!(card["company"], "新興業株式会社");
    assert_eq!(card["title"], "部長");
    // Posting again (a stale page): an error message, nothing changes.
    let res = b.post(&format!("/news/{personnel}/apply"), &[]).await;
    let html = follow(&b, res).await;
    assert!(
        html.contains("このニュースはすでに処理されています。") && html.contains("role=\"alert\""),
        "{html}"
    );

    // The card page: history (ニュースの反映, before → after), career, the other card and its holder.
    let (_, page) = b.get(&format!("/cards/{}", x.older)).await;
    for text in [
        "変更履歴",
        "ニュースの反映",
        "佐藤 美咲",
        "旧商事株式会社",
        "経歴",
        "同じ人物の名刺",
        "伊藤 翔太",
        "この名刺のニュース",
        "03-1111-2222",
    ] {
        assert!(page.contains(text), "{text}: {page}");
    }
    assert!(
        page.contains(&format!("href=\"/cards/{}\"", x.newer)),
        "links the other card"
    );
    let career = &page[page.find("id=\"career-table\"").unwrap()..];
    let (old, new) = (
        career.find("旧商事株式会社").unwrap(),
        career.find("新興業株式会社").unwrap(),
    );
    assert!(old < new, "career oldest first");

    // Dismiss 鈴木's news with htmx: the row fragment with the message, and the badge (oob).
    let suzuki = news_id(&items, &x.suzuki, "personnel");
    let (s, fragment) = b
        .post_htmx(&format!("/news/{suzuki}/dismiss"), &[("back", "/news")])
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(fragment.starts_with(&format!("<tr id=\"news-{suzuki}\"")), "{fragment}");
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert!(
        fragment.contains("「鈴木 花子」のニュースを却下しました。"),
        "{fragment}"
    );
    assert!(fragment.contains("却下済み"), "{fragment}");
    assert!(fragment.contains("hx-swap-oob=\"true\""), "{fragment}");
    assert_eq!(badge(&format!("{fragment}</a>")), 1);
    let (_, card) = x.t.get(&x.sato, &format!("/api/v1/cards/{}", x.suzuki)).await;
    assert_eq!(card["department"], "営業部", "dismissing leaves the card");

    // The status filter shows what was done.
    let (_, done) = b.get("/news?status=dismissed").await;
    assert!(
        done.contains("鈴木 花子") && done.contains("却下済み") && !done.contains("田中 一郎"),
        "{done}"
    );
    let (_, en) = {
        let e = Browser::new(&x.t, "en");
        e.sign_in("sato@acme.example.jp", PASSWORD).await;
        e.get("/news?status=all").await
    };
    assert!(
        en.contains("Personnel change") && en.contains("Dismissed") && !en.contains('⚠'),
        "{en}"
    );
}

#[tokio::test]
async fn bulk_is_all_or_none_and_another_users_news_is_refused() {
    let x = setup().await;
    let b = signed_in(&x.t, "sato@acme.example.jp").await;
    let items = news_of(&x.t, &x.sato, "").await;
    let ids: Vec<String> = items.iter().map(|n| n["id"].as_str().unwrap().to_string()).collect();

    // Nothing selected: the page again, the reason above the list.
    let res = b.post("/news/bulk", &[("action", "apply"), ("back", "/news")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("反映または却下するニュースを選択してください。"),
        "{html}"
    );

    // One of the selection already settled: nothing changes, the ticks are kept.
    let _ =
        x.t.post(&x.sato, &format!("/api/v1/news/{}/dismiss", ids[0]), json!({}))
            .await;
    let fields: Vec<(&str, &str)> = [("action", "apply"), ("back", "/news")]
        .into_iter()
        .chain(ids.iter().map(|i| ("ids", i.as_str())))
        .collect();
    let res = b.post("/news/bulk", &fields).await;
    assert_eq!(res.status(), StatusCode::CONFLICT);
    let html = res.text().await.unwrap();
    assert!(html.contains("どれも変更していません"), "{html}");
    let tick = |id: &str| {
        let at = html
            .find(&format!("name=\"ids\" value=\"{id}\""))
            .expect("the row's checkbox");
        html[at..at + html[at..].find('>').unwrap()].contains(" checked")
    };
    assert!(tick(&ids[1]) && tick(&ids[2]), "the ticks are kept");
    assert_eq!(news_of(&x.t, &x.sato, "").await.len(), 2, "all or none");

    // The rest in one go.
    let fields: Vec<(&str, &str)> = [("action", "dismiss"), ("back", "/news")]
        .into_iter()
        .chain(ids[1..].iter().map(|i| ("ids", i.as_str())))
        .collect();
    let html = follow(&b, b.post("/news/bulk", &fields).await).await;
    assert!(html.contains("2 件のニュースを却下しました。"), "{html}");
    assert!(
        html.contains("未処理のニュースはありません。"),
        "the empty state explains: {html}"
    );
    assert_eq!(badge(&html), 0);

    // 伊藤 cannot act on 佐藤's news, with or without htmx; a member cannot list it either.
    let open =
        x.t.card(
            &x.ito,
            json!({"full_name": "田中 一郎", "email": "tanaka@example.jp", "company": "第三工業",
                   "exchanged_on": "2026-01-05"}),
        )
        .await;
    let _ = open;
    let mine = news_of(&x.t, &x.sato, "").await;
    let target = mine[0]["id"].as_str().unwrap().to_string();
    let ib = signed_in(&x.t, "ito@acme.example.jp").await;
    let res = ib.post(&format!("/news/{target}/apply"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    let (s, _) = ib.post_htmx(&format!("/news/{target}/dismiss"), &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = ib.get(&format!("/news?owner={}", "someone-else")).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    assert_eq!(news_of(&x.t, &x.sato, "").await.len(), 1, "still open");

    // An administrator sees 佐藤's news by picking the user.
    let admin = signed_in(&x.t, "admin@acme.example.jp").await;
    let sato_id = {
        let (_, me) = x.t.get(&x.sato, "/api/v1/me").await;
        me["id"].as_str().unwrap().to_string()
    };
    let (s, html) = admin.get(&format!("/news?owner={sato_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        html.contains("第三工業") && html.contains("佐藤 美咲 さんの名刺"),
        "{html}"
    );
    let _ = (&x.org, &x.ito_id);
}

#[tokio::test]
async fn the_card_page_decides_candidates_and_splits() {
    let x = setup().await;
    // A shared info@ address: two people, a candidate (same mail address).
    let a =
        x.t.card(&x.sato, json!({"full_name": "佐藤 一郎", "email": "info@example.jp"}))
            .await;
    x.t.card(&x.ito, json!({"full_name": "鈴木 次郎", "email": "info@example.jp"}))
        .await;
    // The same name only: a candidate (same name).
    let m =
        x.t.card(&x.sato, json!({"full_name": "山本 太郎", "company": "北商会"}))
            .await;
    let n =
        x.t.card(&x.ito, json!({"full_name": "山本 太郎", "company": "南商会"}))
            .await;
    let b = signed_in(&x.t, "sato@acme.example.jp").await;

    let (_, page) = b.get(&format!("/cards/{a}")).await;
    assert!(
        page.contains("名寄せの候補") && page.contains("同じメールアドレス"),
        "{page}"
    );
    assert!(page.contains("鈴木 次郎") && page.contains("別人として扱う"), "{page}");
    let action = |page: &str, decision: &str| -> String {
        let end = page.find(&format!("/{decision}\"")).expect("a decision form");
        let start = page[..end].rfind("action=\"").unwrap() + 8;
        format!("{}/{decision}", &page[start..end])
    };
    let html = follow(&b, b.post(&action(&page, "reject"), &[]).await).await;
    assert!(html.contains("別人として扱います。"), "{html}");
    assert!(!html.contains("名寄せの候補"), "decided: {html}");

    // Confirm the same-name candidate: the two cards are one person.
    let (_, page) = b.get(&format!("/cards/{m}")).await;
    assert!(
        page.contains("同姓同名") && page.contains("同一人物としてまとめる"),
        "{page}"
    );
    let html = follow(&b, b.post(&action(&page, "confirm"), &[]).await).await;
    assert!(html.contains("同一人物としてまとめました。"), "{html}");
    assert!(
        html.contains(&format!("href=\"/cards/{n}\"")) && html.contains("南商会"),
        "{html}"
    );

    // Split it off again: the confirm step first, then the post.
    assert!(html.contains("この名刺を別人として分ける"));
    let (_, ask) = b.get(&format!("/cards/{m}?confirm=split")).await;
    assert!(ask.contains("id=\"split-confirm\""), "{ask}");
    let html = follow(&b, b.post(&format!("/cards/{m}/split"), &[]).await).await;
    assert!(html.contains("この名刺を別の人物として分けました。"), "{html}");
    assert!(html.contains("この人物の名刺は、この1枚だけです。"), "{html}");
    // Nothing left to split: the reason, in Japanese, as an alert.
    let html = follow(&b, b.post(&format!("/cards/{m}/split"), &[]).await).await;
    assert!(
        html.contains("role=\"alert\"") && !html.contains("nothing to split"),
        "{html}"
    );

    // Another member who holds none of the cards sees no buttons and may not decide.
    let (_, kato) = x.t.user(&x.org, "kato@acme.example.jp", "加藤 愛", "member").await;
    let _ = kato;
    let k = signed_in(&x.t, "kato@acme.example.jp").await;
    let (_, page) = k.get(&format!("/cards/{}", x.older)).await;
    assert!(page.contains("同じ人物の名刺") && page.contains("伊藤 翔太"), "{page}");
    assert!(!page.contains("この名刺を別人として分ける"), "{page}");
    let res = k.post(&format!("/cards/{}/split", x.older), &[]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// Uploads a CSV through the console's import form, the duplicates box as given.
async fn upload(t: &TestApp, b: &Browser, csv: &str, skip_duplicates: bool) -> reqwest::Response {
    let csrf = b.csrf().await;
    let file = reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
        .file_name("cards.csv")
        .mime_str("text/csv")
        .unwrap();
    let mut form = reqwest::multipart::Form::new()
        .text("csrf", csrf)
        .text("duplicates_choice", "1")
        .part("file", file);
    if skip_duplicates {
        form = form.text("skip_duplicates", "1");
    }
    b.client
        .post(format!("{}/imports", t.url))
        .header("accept-language", "ja")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn the_import_page_skips_exact_duplicates_by_default_and_lists_them() {
    let x = setup().await;
    let b = signed_in(&x.t, "sato@acme.example.jp").await;
    let (_, form) = b.get("/imports").await;
    assert!(
        form.contains("完全に重複する名刺はスキップする")
            && form.contains("name=\"skip_duplicates\" value=\"1\" checked"),
        "checked by default: {form}"
    );
    let csv = "氏名,会社名,Email(1)\n取込 一郎,株式会社取込,ichiro@torikomi.example.jp\n";
    let first = follow(&b, upload(&x.t, &b, csv, true).await).await;
    assert!(first.contains("1 件"), "{first}");
    let again = follow(&b, upload(&x.t, &b, csv, true).await).await;
    assert!(again.contains("重複のためスキップ 1 件"), "{again}");
    let table = &again[again.find("id=\"import-duplicate-lines\"").expect("the lines")..];
    assert!(
        table.contains("<td>2</td>") && table.contains("href=\"/cards/"),
        "{table}"
    );
    let kept = follow(&b, upload(&x.t, &b, csv, false).await).await;
    assert!(kept.contains("重複していたが登録 1 件"), "{kept}");
    let (_, cards) = x.t.get(&x.sato, "/api/v1/cards?q=取込").await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 2, "skipped once, kept once");
}

#[tokio::test]
async fn readiness_counts_the_leavers_news_and_links_to_them() {
    let x = setup().await;
    let sato_id = {
        let (_, me) = x.t.get(&x.sato, "/api/v1/me").await;
        me["id"].as_str().unwrap().to_string()
    };
    let day = (chrono::Utc::now() + chrono::Duration::days(20))
        .date_naive()
        .to_string();
    let (s, d) =
        x.t.post(
            &x.org.admin,
            "/api/v1/departures",
            json!({"user_id": sato_id, "retirement_date": day, "last_working_day": day, "successor_id": x.ito_id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let admin = signed_in(&x.t, "admin@acme.example.jp").await;
    let (_, page) = admin.get(&format!("/departures/{}", d["id"].as_str().unwrap())).await;
    let item = &page[page.find("data-key=\"news\"").expect("the news item")..];
    let item = &item[..item.find("</li>").unwrap()];
    assert!(item.contains("残り 3 件"), "{item}");
    assert!(item.contains(&format!("href=\"/news?owner={sato_id}\"")), "{item}");
    let b = signed_in(&x.t, "sato@acme.example.jp").await;
    let (_, mine) = b.get("/me/handover").await;
    assert!(mine.contains("href=\"/news\" class=\"news-link\""), "{mine}");
}
