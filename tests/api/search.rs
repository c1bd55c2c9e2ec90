//! Keyword search (`GET /api/v1/cards?q=`) over the keyword index (store::search): substrings
//! of one field, one- and two-character Japanese keywords, kana and widths, variant kanji,
//! phone digits, company legal forms, LIKE's characters, filters, organisations, paging, and
//! the index kept by edits, deletes and imports (the large one too).

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn enc(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Every card id a listing gives, following its cursors; `query` is the rest of the query string.
async fn found(t: &TestApp, token: &str, q: &str, query: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("/api/v1/cards?q={}&cursor={cursor}{query}", enc(q));
        let (s, v) = t.get(token, &path).await;
        assert_eq!(s, StatusCode::OK, "{path}: {v}");
        out.extend(
            v["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_string()),
        );
        match v["next_cursor"].as_str() {
            Some(c) => cursor = enc(c),
            None => return out,
        }
    }
}

/// `found`, sorted, for comparing sets.
async fn set(t: &TestApp, token: &str, q: &str) -> Vec<String> {
    let mut v = found(t, token, q, "").await;
    v.sort();
    v
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

async fn card(t: &TestApp, token: &str, fields: Value) -> String {
    t.card(token, fields).await
}

#[tokio::test]
async fn short_keywords_kana_in_any_width_and_variant_kanji() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    let yamamoto = card(
        &t,
        a,
        json!({"full_name": "山本 太郎", "name_reading": "やまもと たろう"}),
    )
    .await;
    let taka_old = card(&t, a, json!({"full_name": "髙橋 一郎", "name_reading": "ﾀｶﾊｼ ｲﾁﾛｳ"})).await;
    let taka = card(
        &t,
        a,
        json!({"full_name": "高橋 花子", "name_reading": "タカハシ ハナコ"}),
    )
    .await;
    let tanaka = card(&t, a, json!({"full_name": "田中 健太", "company": "山田商事"})).await;
    let both = sorted(vec![taka_old.clone(), taka.clone()]);
    for q in ["やまもと", "ヤマモト", "ﾔﾏﾓﾄ", "ヤマ モト", "山本", "本太", "まもと"] {
        assert_eq!(set(&t, a, q).await, vec![yamamoto.clone()], "q={q}");
    }
    for q in ["高橋", "髙橋", "橋", "髙", "高", "たかはし", "ﾀｶﾊｼ", "カハ"] {
        assert_eq!(set(&t, a, q).await, both, "q={q}");
    }
    assert_eq!(set(&t, a, "山").await, sorted(vec![yamamoto.clone(), tanaka.clone()]));
    assert_eq!(set(&t, a, "田").await, vec![tanaka.clone()]);
    assert_eq!(set(&t, a, "花").await, vec![taka.clone()]);
    assert_eq!(set(&t, a, "一郎").await, vec![taka_old.clone()]);
    assert_eq!(set(&t, a, "鑫").await, Vec::<String>::new());
    assert_eq!(set(&t, a, "山本花子").await, Vec::<String>::new());
}

#[tokio::test]
async fn phones_with_or_without_hyphens_and_mail_fragments() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    let ichiro = card(
        &t,
        a,
        json!({"full_name": "田中 一郎", "phone": "03-1234-5678", "mobile": "090-1111-2222",
               "email": "Ichiro.Tanaka@Sample.co.jp"}),
    )
    .await;
    let other = card(
        &t,
        a,
        json!({"full_name": "鈴木 花子", "phone": "06-9999-0000", "email": "h@x.jp"}),
    )
    .await;
    for q in [
        "0312345678",
        "03-1234",
        "1234-5678",
        "３４５６",
        "03-1234-5678",
        "090-1111",
        "09011112222",
        "ichiro.t",
        "TANAKA@SAMPLE",
        "sample.co",
        "@sample",
    ] {
        assert_eq!(set(&t, a, q).await, vec![ichiro.clone()], "q={q}");
    }
    assert_eq!(set(&t, a, "9999").await, vec![other.clone()]);
    assert_eq!(set(&t, a, "x.jp").await, vec![other.clone()]);
    assert_eq!(set(&t, a, "5678-03").await, Vec::<String>::new());
    assert_eq!(set(&t, a, "0").await, sorted(vec![ichiro, other]), "a single digit");
}

#[tokio::test]
async fn company_legal_forms_aside_and_like_characters_literal() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    let kk = card(&t, a, json!({"full_name": "A", "company": "株式会社サンプル"})).await;
    let shoji = card(&t, a, json!({"full_name": "B", "company": "ｻﾝﾌﾟﾙ商事(株)"})).await;
    let pct = card(&t, a, json!({"full_name": "C", "company": "100%テック"})).await;
    let under = card(&t, a, json!({"full_name": "D", "department": "a_b課"})).await;
    let plain = card(
        &t,
        a,
        json!({"full_name": "E", "company": "100テック", "department": "ab課"}),
    )
    .await;
    let sample = sorted(vec![kk.clone(), shoji.clone()]);
    for q in [
        "(株)サンプル",
        "㈱サンプル",
        "サンプル",
        "さんぷる",
        "株式会社サンプル",
        "サンプル株式会社",
    ] {
        assert_eq!(set(&t, a, q).await, sample, "q={q}");
    }
    assert_eq!(set(&t, a, "株式会社").await, vec![kk.clone()], "as typed too");
    assert_eq!(set(&t, a, "商事(株)").await, vec![shoji.clone()]);
    assert_eq!(set(&t, a, "%").await, vec![pct.clone()]);
    assert_eq!(set(&t, a, "0%テ").await, vec![pct.clone()]);
    assert_eq!(set(&t, a, "_").await, vec![under.clone()]);
    assert_eq!(set(&t, a, "a_b").await, vec![under.clone()]);
    assert_eq!(set(&t, a, "テック").await, sorted(vec![pct, plain.clone()]));
    assert_eq!(set(&t, a, "ab").await, [plain]);
}

#[tokio::test]
async fn a_match_never_runs_from_one_field_into_the_next() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    // 山田 | 田中商事 | x | 事業部: the bigrams 山田, 田中 … 商事, 事業 meet where fields do.
    let id = card(
        &t,
        a,
        json!({"full_name": "山田", "company": "田中商事", "department": "x", "title": "事業部長"}),
    )
    .await;
    for q in ["山田", "田中", "商事", "事業部", "山", "x"] {
        assert_eq!(set(&t, a, q).await, vec![id.clone()], "q={q}");
    }
    for q in ["山田田中", "田田", "田田中", "商事事業", "事事", "事x", "商事x事業"] {
        assert_eq!(set(&t, a, q).await, Vec::<String>::new(), "q={q}");
    }
}

#[tokio::test]
async fn each_organisation_finds_only_its_own_cards() {
    let t = spawn().await;
    let acme = t.org("acme").await;
    let other = t.org("other").await;
    let mine = card(
        &t,
        &acme.admin,
        json!({"full_name": "山本 太郎", "phone": "03-1234-5678"}),
    )
    .await;
    let theirs = card(
        &t,
        &other.admin,
        json!({"full_name": "山本 太郎", "phone": "03-1234-5678"}),
    )
    .await;
    for q in ["山本", "山", "1234", "03-1234-5678", "太郎"] {
        assert_eq!(set(&t, &acme.admin, q).await, vec![mine.clone()], "q={q}");
        assert_eq!(set(&t, &other.admin, q).await, vec![theirs.clone()], "q={q}");
    }
}

#[tokio::test]
async fn with_the_owner_tag_and_company_filters() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (sato, sato_t) = t.user(&org, "sato@acme.example.jp", "佐藤", "member").await;
    let a = &org.admin;
    let mut by_sato = Vec::new();
    for (i, co) in ["株式会社サンプル", "サンプル商事", "株式会社サンプル"]
        .iter()
        .enumerate()
    {
        by_sato.push(card(&t, &sato_t, json!({"full_name": format!("山本 {i}"), "company": co})).await);
    }
    let admins = card(&t, a, json!({"full_name": "山本 9", "company": "株式会社サンプル"})).await;
    assert_eq!(set(&t, a, "山本").await.len(), 4);
    let owner = found(&t, a, "山本", &format!("&owner_id={sato}")).await;
    assert_eq!(sorted(owner), sorted(by_sato.clone()));
    let company = found(&t, a, "山", &format!("&company={}", enc("(株)サンプル"))).await;
    assert_eq!(
        sorted(company),
        sorted(vec![by_sato[0].clone(), by_sato[2].clone(), admins])
    );
    let (s, tag) = t
        .post(&sato_t, "/api/v1/tags", json!({"name": "重要", "shared": true}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tag}");
    let tag = tag["id"].as_str().unwrap();
    let (s, _) = t
        .call(
            &sato_t,
            Method::PUT,
            &format!("/api/v1/cards/{}/tags/{tag}", by_sato[1]),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        found(&t, a, "本", &format!("&tag_id={tag}")).await,
        vec![by_sato[1].clone()]
    );
    assert_eq!(
        found(&t, a, "商事", &format!("&tag_id={tag}&owner_id={sato}")).await,
        vec![by_sato[1].clone()]
    );
    assert!(found(&t, a, "株式会社", &format!("&tag_id={tag}")).await.is_empty());
}

#[tokio::test]
async fn paging_with_a_small_limit_gives_every_match_exactly_once() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    let mut yamada = Vec::new();
    for i in 0..13 {
        yamada.push(
            card(
                &t,
                a,
                json!({"full_name": format!("山田 {i}"), "name_reading": "やまだ", "phone": format!("03-0000-{i:04}")}),
            )
            .await,
        );
        card(&t, a, json!({"full_name": format!("田中 {i}")})).await;
    }
    for (q, limit) in [
        ("山", 1),
        ("山田", 5),
        ("ヤマダ", 4),
        ("山田 1", 2),
        ("03-0000", 3),
        ("田", 7),
    ] {
        let got = found(&t, a, q, &format!("&limit={limit}")).await;
        let mut unique = got.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), got.len(), "q={q}: a card twice");
        if q == "田" {
            assert_eq!(got.len(), 26);
        } else if q == "山田 1" {
            assert_eq!(
                unique,
                sorted(vec![
                    yamada[1].clone(),
                    yamada[10].clone(),
                    yamada[11].clone(),
                    yamada[12].clone()
                ])
            );
        } else {
            assert_eq!(unique, sorted(yamada.clone()), "q={q}");
        }
    }
    let (s, v) = t.get(a, "/api/v1/cards?q=x&cursor=nonsense").await;
    assert_error((s, v), StatusCode::BAD_REQUEST, Some("cursor"));
}

#[tokio::test]
async fn an_edited_card_is_found_by_its_new_fields_and_a_deleted_one_no_more() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    let id = card(&t, a, json!({"full_name": "山本 太郎", "phone": "03-1234-5678"})).await;
    let keep = card(&t, a, json!({"full_name": "山本 花子"})).await;
    let (s, v) = t
        .call(
            a,
            Method::PATCH,
            &format!("/api/v1/cards/{id}"),
            Some(json!({"full_name": "髙橋 太郎", "phone": "06-1111-2222"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(set(&t, a, "山本").await, vec![keep.clone()]);
    assert_eq!(set(&t, a, "高橋").await, vec![id.clone()]);
    assert_eq!(set(&t, a, "太郎").await, vec![id.clone()]);
    assert!(set(&t, a, "1234").await.is_empty());
    assert_eq!(set(&t, a, "06-1111").await, vec![id.clone()]);
    let (s, _) = t.call(a, Method::DELETE, &format!("/api/v1/cards/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert!(set(&t, a, "高橋").await.is_empty());
    assert!(set(&t, a, "髙").await.is_empty());
    assert_eq!(set(&t, a, "山").await, [keep]);
}

async fn import_csv(t: &TestApp, token: &str, csv: String) -> Value {
    let res = t
        .http
        .post(format!("{}/api/v1/imports", t.url))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .expect("upload");
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn imported_cards_are_found_and_a_large_import_builds_the_index_too() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    let r = import_csv(
        &t,
        a,
        "氏名,氏名（カナ）,会社名,電話番号,Email(1)\n髙橋 一郎,たかはし いちろう,(株)ミライ,03-5555-1234,ichiro@mirai.jp\n"
            .into(),
    )
    .await;
    assert_eq!(r["imported"], 1, "{r}");
    let one = set(&t, a, "高橋").await;
    assert_eq!(one.len(), 1);
    for q in ["タカハシ", "株式会社ミライ", "0355551234", "mirai.jp", "橋"] {
        assert_eq!(set(&t, a, q).await, one, "q={q}");
    }
    // More than the 10,000 rows after which an SQLite import builds the card indexes at its end.
    let rows = 10_500;
    let mut csv = String::from("氏名,会社名,携帯電話,Email(1)\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "検索 {i}号,株式会社ケンサク{},090-{i:04}-0000,user{i}@c{}.example.jp\n",
            i % 7,
            i % 7
        ));
    }
    let r = import_csv(&t, a, csv).await;
    assert_eq!(r["imported"], rows, "{r}");
    assert_eq!(set(&t, a, "user10499@").await.len(), 1);
    assert_eq!(set(&t, a, "user0@").await.len(), 1);
    assert_eq!(set(&t, a, "090-1049").await.len(), 11, "0901049… and 090-10490…10499");
    assert_eq!(set(&t, a, "090-0123-0000").await.len(), 1);
    assert_eq!(found(&t, a, "ケンサク3", "&limit=500").await.len(), rows / 7);
    let all = found(&t, a, "検", "&limit=500").await;
    assert_eq!(all.len(), rows);
    assert_eq!(set(&t, a, "高橋").await, one, "the first import's card is still there");
}

/// PostgreSQL chooses how it finds a page (a walk in id order, the index's candidates fetched
/// and sorted, or a walk after a count) from the planner's statistics: with them gathered, on
/// a few thousand cards and page sizes that put each keyword on each side of those choices,
/// every way gives every match exactly once. (SQLite has one way; the test holds there too.)
#[tokio::test]
async fn every_way_to_a_page_gives_the_same_matches_once_statistics_are_gathered() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let a = &org.admin;
    let rows = 6000;
    let mut csv = String::from("氏名,会社名,部署名,電話番号,Email(1)\n");
    let mut cards = Vec::new();
    for i in 0..rows {
        let (name, company, dept) = (
            format!("試験 {i}"),
            format!("会社{:02}", i % 100),
            ["営業部", "開発部", "総務部"][i % 3],
        );
        let (phone, mail) = (format!("03-{i:04}-{}", i % 7), format!("u{i}@d{}.example", i % 37));
        csv.push_str(&format!("{name},{company},{dept},{phone},{mail}\n"));
        let phone_digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        cards.push([name.replace(' ', ""), company, dept.to_string(), phone_digits, mail]);
    }
    let r = import_csv(&t, a, csv).await;
    assert_eq!(r["imported"], rows, "{r}");
    if !t.app.store.is_sqlite() {
        meishi::store::exec(t.app.store.conn(), "ANALYZE card_search", vec![])
            .await
            .unwrap();
    }
    let expected = |terms: &[&str]| {
        cards
            .iter()
            .filter(|f| f.iter().any(|v| terms.iter().any(|t| v.contains(t))))
            .count()
    };
    // Every card; one in three; one in a hundred (several grams); one in thirty-seven; a few;
    // one; none; a phone number with and without its hyphen.
    for (q, terms) in [
        ("試験", vec!["試験"]),
        ("営業部", vec!["営業部"]),
        ("会社07", vec!["会社07"]),
        ("@d5.example", vec!["@d5.example"]),
        ("試験12", vec!["試験12"]),
        ("u4242@", vec!["u4242@"]),
        ("鑫", vec![]),
        ("03-1234", vec!["031234"]),
    ] {
        let want = expected(&terms);
        for limit in [7, 50, 500] {
            if want / limit > 40 {
                continue; // too many pages to follow
            }
            let got = found(&t, a, q, &format!("&limit={limit}")).await;
            let mut unique = got.clone();
            unique.sort();
            unique.dedup();
            assert_eq!(unique.len(), got.len(), "q={q} limit={limit}: a card twice");
            assert_eq!(got.len(), want, "q={q} limit={limit}");
        }
    }
}
