//! Same person (名寄せ), personnel-change news and card history, through the API.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn person(card: &Value) -> String {
    card["person_id"]
        .as_str()
        .expect("a placed card has a person")
        .to_string()
}

async fn get_card(t: &TestApp, token: &str, id: &str) -> Value {
    let (s, c) = t.get(token, &format!("/api/v1/cards/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    c
}

async fn news(t: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let (s, v) = t.get(token, &format!("/api/v1/news{query}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn upload_csv(t: &TestApp, token: &str, query: &str, csv: &str) -> Value {
    let res = t
        .http
        .post(format!("{}/api/v1/imports{query}", t.url))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv.to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.json().await.unwrap()
}

#[tokio::test]
async fn variant_kanji_kana_and_widths_are_one_person_and_a_shared_address_is_not() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, sato) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (_, ito) = t.user(&org, "ito@acme.example.jp", "伊藤 翔太", "member").await;

    // 髙橋 = 高橋, the space and the mail's case aside.
    let a = t
        .card(
            &sato,
            json!({"full_name": "髙橋 一郎", "email": "ichiro@example.jp", "company": "株式会社サンプル"}),
        )
        .await;
    let b = t
        .card(
            &ito,
            json!({"full_name": "高橋一郎", "email": "Ichiro@Example.jp", "company": "(株)サンプル"}),
        )
        .await;
    let (ca, cb) = (get_card(&t, &sato, &a).await, get_card(&t, &sato, &b).await);
    assert_eq!(
        person(&ca),
        person(&cb),
        "髙橋 一郎 and 高橋一郎 with one address are one person"
    );

    // ヤマモト = やまもと = ﾔﾏﾓﾄ, the phone written three ways.
    let k1 = t
        .card(&sato, json!({"full_name": "ヤマモト タロウ", "phone": "03-1234-5678"}))
        .await;
    let k2 = t
        .card(
            &ito,
            json!({"full_name": "やまもと たろう", "phone": "+81 3 1234 5678"}),
        )
        .await;
    let k3 = t
        .card(&ito, json!({"full_name": "ﾔﾏﾓﾄ ﾀﾛｳ", "mobile": "0312345678"}))
        .await;
    let p = person(&get_card(&t, &sato, &k1).await);
    for k in [&k2, &k3] {
        assert_eq!(person(&get_card(&t, &sato, k).await), p);
    }

    // The person's cards, with who holds them.
    let (s, view) = t.get(&sato, &format!("/api/v1/cards/{a}/person")).await;
    assert_eq!(s, StatusCode::OK, "{view}");
    let holders: Vec<&str> = view["cards"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["owner_name"].as_str().unwrap())
        .collect();
    assert_eq!(holders.len(), 2, "{view}");
    assert!(
        holders.contains(&"佐藤 美咲") && holders.contains(&"伊藤 翔太"),
        "{view}"
    );

    // A shared info@ address joins nobody: two people, one candidate to decide.
    let x = t
        .card(&sato, json!({"full_name": "佐藤 一郎", "email": "info@example.jp"}))
        .await;
    let y = t
        .card(&ito, json!({"full_name": "鈴木 花子", "email": "info@example.jp"}))
        .await;
    let (cx, cy) = (get_card(&t, &sato, &x).await, get_card(&t, &sato, &y).await);
    assert_ne!(person(&cx), person(&cy), "a shared address alone never merges");
    let (_, view) = t.get(&sato, &format!("/api/v1/cards/{x}/person")).await;
    let candidates = view["candidates"].as_array().unwrap();
    assert_eq!(candidates.len(), 1, "{view}");
    assert_eq!(candidates[0]["reason"], "email");
    assert_eq!(candidates[0]["card"]["card"]["id"], y.as_str());
    let cid = candidates[0]["id"].as_str().unwrap().to_string();

    // Someone who holds neither card may not decide; the owner rejects: kept apart for good.
    let (_, outsider) = t.user(&org, "kato@acme.example.jp", "加藤 愛", "member").await;
    let (s, _) = t
        .post(&outsider, &format!("/api/v1/person-candidates/{cid}/reject"), json!({}))
        .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = t
        .post(&sato, &format!("/api/v1/person-candidates/{cid}/reject"), json!({}))
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let (s, _) = t
        .post(&sato, &format!("/api/v1/person-candidates/{cid}/reject"), json!({}))
        .await;
    assert_eq!(s, StatusCode::CONFLICT, "decided once");
    // A later card of the same two raises nothing again.
    t.card(
        &ito,
        json!({"full_name": "鈴木 花子", "email": "info@example.jp", "title": "受付"}),
    )
    .await;
    let (_, view) = t.get(&sato, &format!("/api/v1/cards/{x}/person")).await;
    assert!(view["candidates"].as_array().unwrap().is_empty(), "{view}");
    assert_eq!(t.audit(&org, "person.keep_apart").await.len(), 1);

    // Another organisation's identical card is nobody's match.
    let other = t.org("beta").await;
    let z = t
        .card(
            &other.admin,
            json!({"full_name": "髙橋 一郎", "email": "ichiro@example.jp"}),
        )
        .await;
    let (_, view) = t.get(&other.admin, &format!("/api/v1/cards/{z}/person")).await;
    assert_eq!(view["cards"].as_array().unwrap().len(), 1, "{view}");
    assert!(news(&t, &sato, "").await.is_empty());
}

#[tokio::test]
async fn news_collapses_points_forwards_and_applying_keeps_the_history() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, sato) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (ito_id, ito) = t.user(&org, "ito@acme.example.jp", "伊藤 翔太", "member").await;
    let base = json!({"full_name": "田中 一郎", "email": "tanaka@example.jp", "company": "株式会社サンプル",
        "department": "営業部", "title": "主任", "phone": "03-1111-2222"});
    let with = |changes: Value| {
        let mut v = base.clone();
        for (k, x) in changes.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };
    let old = t.card(&sato, with(json!({"exchanged_on": "2024-04-01"}))).await;
    // A newer card: promoted, and a mobile number.
    let newer = t
        .card(
            &ito,
            with(json!({"exchanged_on": "2026-04-01", "title": "課長", "mobile": "090-1234-5678"})),
        )
        .await;
    let mine = news(&t, &sato, "").await;
    assert_eq!(mine.len(), 2, "人事異動 and 連絡先変更 on the older card: {mine:?}");
    let personnel = mine.iter().find(|n| n["kind"] == "personnel").unwrap();
    assert_eq!(personnel["card_id"], old.as_str());
    assert_eq!(personnel["values"]["title"], "課長");
    assert_eq!(personnel["current"]["title"], "主任");
    assert_eq!(personnel["arrivals"], 1);
    let contact = mine.iter().find(|n| n["kind"] == "contact").unwrap();
    assert_eq!(contact["values"]["mobile"], "090-1234-5678");
    assert!(contact["values"].get("email").is_none(), "only what changed: {contact}");
    assert!(
        news(&t, &ito, "").await.is_empty(),
        "the newer card has nothing to learn"
    );

    // Several news for one person on one card: one item, the newest values, counted.
    t.card(&ito, with(json!({"exchanged_on": "2026-06-01", "title": "部長"})))
        .await;
    let mine = news(&t, &sato, "?kind=personnel").await;
    assert_eq!(mine.len(), 1);
    assert_eq!(
        (mine[0]["values"]["title"].as_str(), mine[0]["arrivals"].as_i64()),
        (Some("部長"), Some(2))
    );
    // An older card arriving late is told about the newest; the newer ones are not told about it.
    let oldest = t
        .card(&ito, with(json!({"exchanged_on": "2020-04-01", "title": "担当"})))
        .await;
    let about_oldest = news(&t, &ito, "?kind=personnel").await;
    let n = about_oldest
        .iter()
        .find(|n| n["card_id"] == oldest.as_str())
        .expect("news on the late, older card");
    assert_eq!(n["values"]["title"], "部長");
    assert_eq!(
        news(&t, &sato, "?kind=personnel").await[0]["arrivals"],
        2,
        "news never points backwards"
    );

    // Members see their own cards' news only; admins by user or card.
    assert_error(
        t.get(&sato, &format!("/api/v1/news?owner_id={ito_id}")).await,
        StatusCode::FORBIDDEN,
        Some("owner_id"),
    );
    let by_card = news(&t, &org.admin, &format!("?card_id={old}")).await;
    assert_eq!(by_card.len(), 2);
    // 伊藤's: the 課長 card learns of the 部長 one; the oldest of both changes (title, mobile).
    assert_eq!(news(&t, &org.admin, &format!("?owner_id={ito_id}")).await.len(), 3);
    assert_error(
        t.get(&sato, "/api/v1/news?kind=gossip").await,
        StatusCode::BAD_REQUEST,
        Some("kind"),
    );

    // Apply: the card takes the new values, the old ones go to its history.
    let pid = mine[0]["id"].as_str().unwrap().to_string();
    let (s, applied) = t.post(&ito, &format!("/api/v1/news/{pid}/apply"), json!({})).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not ito's card: {applied}");
    let (s, applied) = t.post(&sato, &format!("/api/v1/news/{pid}/apply"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{applied}");
    assert_eq!(applied["status"], "applied");
    let card = get_card(&t, &sato, &old).await;
    assert_eq!(
        (card["title"].as_str(), card["phone"].as_str()),
        (Some("部長"), Some("03-1111-2222"))
    );
    let (_, history) = t.get(&sato, &format!("/api/v1/cards/{old}/history")).await;
    let h = history.as_array().unwrap();
    assert_eq!(h.len(), 1, "{history}");
    assert_eq!(
        (h[0]["reason"].as_str(), h[0]["before"]["title"].as_str()),
        (Some("news"), Some("主任"))
    );
    assert_eq!(h[0]["after"]["title"], "部長");
    assert!(
        h[0]["before"].get("company").is_none(),
        "only changed fields: {history}"
    );
    let (s, _) = t.post(&sato, &format!("/api/v1/news/{pid}/apply"), json!({})).await;
    assert_eq!(s, StatusCode::CONFLICT, "applied once");

    // Dismiss the contact news; a manual edit is history too, and the career shows both.
    let cid = contact["id"].as_str().unwrap();
    let (s, d) = t.post(&sato, &format!("/api/v1/news/{cid}/dismiss"), json!({})).await;
    assert_eq!((s, d["status"].as_str()), (StatusCode::OK, Some("dismissed")));
    assert!(news(&t, &sato, "").await.is_empty());
    assert_eq!(news(&t, &sato, "?status=all").await.len(), 2);
    let (s, _) = t
        .call(
            &sato,
            reqwest::Method::PATCH,
            &format!("/api/v1/cards/{old}"),
            Some(json!({"company": "B商事株式会社"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, history) = t.get(&sato, &format!("/api/v1/cards/{old}/history")).await;
    assert_eq!(history[1]["reason"], "edit");
    assert_eq!(history[1]["before"]["company"], "株式会社サンプル");
    let (_, view) = t.get(&sato, &format!("/api/v1/cards/{old}/person")).await;
    let titles: Vec<&str> = view["career"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["title"].as_str().unwrap())
        .collect();
    assert_eq!(
        titles.first(),
        Some(&"担当"),
        "the career starts with the oldest card: {view}"
    );
    assert!(titles.contains(&"課長") && titles.contains(&"部長"), "{view}");
    assert_eq!(
        view["career"].as_array().unwrap().last().unwrap()["company"],
        "B商事株式会社",
        "{view}"
    );
    assert_eq!(t.audit(&org, "news.apply").await.len(), 1);
    assert_eq!(t.audit(&org, "news.dismiss").await.len(), 1);
    let _ = newer;
}

#[tokio::test]
async fn bulk_news_readiness_transfer_and_split() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (yamada_id, yamada) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (sato_id, sato) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let mut mine = Vec::new();
    for i in 0..3 {
        let name = format!("顧客 {i}");
        mine.push(
            t.card(
                &yamada,
                json!({"full_name": name, "email": format!("c{i}@example.jp"), "title": "主任",
                "exchanged_on": "2024-01-01"}),
            )
            .await,
        );
        t.card(
            &sato,
            json!({"full_name": name, "email": format!("c{i}@example.jp"), "title": "課長",
            "exchanged_on": "2026-01-01"}),
        )
        .await;
    }
    let open = news(&t, &yamada, "").await;
    assert_eq!(open.len(), 3);

    // Readiness counts the leaver's unprocessed news.
    let last = "2099-03-31";
    let (s, d) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            json!({"user_id": yamada_id, "retirement_date": last,
            "last_working_day": last, "successor_id": sato_id}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    let did = d["id"].as_str().unwrap();
    let item = |r: &Value| {
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["key"] == "news")
            .unwrap()
            .clone()
    };
    let (_, r) = t.get(&org.admin, &format!("/api/v1/departures/{did}/readiness")).await;
    assert_eq!(
        (item(&r)["count"].as_i64(), item(&r)["state"].as_str()),
        (Some(3), Some("open")),
        "{r}"
    );

    // Bulk: all or nothing; an unknown id fails the whole batch and names it.
    let ids: Vec<&str> = open.iter().map(|n| n["id"].as_str().unwrap()).collect();
    let bad = "01900000-0000-7000-8000-000000000000";
    let (s, v) = t
        .post(
            &yamada,
            "/api/v1/news/bulk",
            json!({"action": "dismiss", "ids": [ids[0], bad]}),
        )
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains(bad), "{v}");
    assert_eq!(news(&t, &yamada, "").await.len(), 3, "nothing settled");
    let (s, v) = t
        .post(
            &yamada,
            "/api/v1/news/bulk",
            json!({"action": "apply", "ids": [ids[0], ids[1]]}),
        )
        .await;
    assert_eq!((s, v["done"].as_u64()), (StatusCode::OK, Some(2)), "{v}");
    assert_eq!(get_card(&t, &yamada, &mine[0]).await["title"], "課長");
    let (_, r) = t.get(&org.admin, &format!("/api/v1/departures/{did}/readiness")).await;
    assert_eq!(item(&r)["count"], 1);
    assert_error(
        t.post(&yamada, "/api/v1/news/bulk", json!({"action": "apply", "ids": []}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("ids"),
    );

    // A transfer moves the open news with its card.
    let (s, v) = t
        .post(
            &org.admin,
            "/api/v1/transfers",
            json!({"from_user_id": yamada_id, "to_user_id": sato_id,
            "selection": {"card_ids": [mine[2]]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert!(news(&t, &yamada, "").await.is_empty());
    let moved = news(&t, &sato, "").await;
    assert_eq!(moved.len(), 1);
    assert_eq!(moved[0]["card_id"], mine[2].as_str());

    // Split a wrong match: the card becomes its own person, and stays so.
    let before = person(&get_card(&t, &yamada, &mine[0]).await);
    let (s, v) = t
        .post(&yamada, &format!("/api/v1/cards/{}/person/split", mine[0]), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let after = person(&get_card(&t, &yamada, &mine[0]).await);
    assert_ne!(before, after);
    assert_eq!(v["cards"].as_array().unwrap().len(), 1, "{v}");
    let (s, v) = t
        .post(&yamada, &format!("/api/v1/cards/{}/person/split", mine[0]), json!({}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "alone already: {v}");
    assert_eq!(t.audit(&org, "person.split").await.len(), 1);
}

#[tokio::test]
async fn an_import_places_its_cards_brings_news_and_skips_exact_duplicates() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, sato) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let earlier = t
        .card(
            &sato,
            json!({"full_name": "渡辺 大輔", "mobile": "080-9999-0000", "company": "北海道物産株式会社",
            "title": "係長", "exchanged_on": "2023-05-01"}),
        )
        .await;
    // The admin's import: the same person (same mobile), now at another company; and a pair of
    // strangers sharing info@; and the same row twice.
    let csv = "full_name,company,title,mobile,email,exchanged_on\n\
               渡邊 大輔,株式会社東北商会,部長,080-9999-0000,,2026-02-01\n\
               佐藤 一郎,A社,,,info@example.jp,\n\
               鈴木 花子,B社,,,info@example.jp,\n\
               佐藤 一郎,A社,,,info@example.jp,\n";
    let r = upload_csv(&t, &org.admin, "", csv).await;
    assert_eq!(
        (r["imported"].as_u64(), r["duplicates"].as_u64()),
        (Some(3), Some(1)),
        "{r}"
    );
    assert_eq!(r["duplicate_lines"][0]["line"], 5, "{r}");
    let n = news(&t, &sato, "").await;
    assert_eq!(n.len(), 1, "{n:?}");
    assert_eq!(
        (n[0]["card_id"].as_str(), n[0]["values"]["company"].as_str()),
        (Some(earlier.as_str()), Some("株式会社東北商会"))
    );
    let (_, view) = t.get(&sato, &format!("/api/v1/cards/{earlier}/person")).await;
    assert_eq!(view["cards"].as_array().unwrap().len(), 2, "邊 = 辺: {view}");

    // The whole file again: everything is a duplicate, nothing lands, no news doubles.
    let r = upload_csv(&t, &org.admin, "", csv).await;
    assert_eq!(
        (r["imported"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(4)),
        "{r}"
    );
    assert_eq!(news(&t, &sato, "").await[0]["arrivals"], 1);
    let r = upload_csv(&t, &org.admin, "?on_duplicate=keep", csv).await;
    assert_eq!(r["imported"], 4, "{r}");
    let (_, listed) = t.get(&org.admin, "/api/v1/cards?limit=500").await;
    let infos: Vec<&Value> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["email"] == "info@example.jp")
        .collect();
    let people: std::collections::HashSet<String> = infos.iter().map(|c| person(c)).collect();
    assert_eq!(
        (infos.len(), people.len()),
        (5, 2),
        "佐藤 一郎 and 鈴木 花子 stay two people"
    );
}

#[tokio::test]
async fn cards_without_a_person_are_placed_by_the_scheduler() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, sato) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    // Two cards of one person, as a database from before matching holds them: no person.
    let a = t
        .card(
            &sato,
            json!({"full_name": "山本 太郎", "email": "t@example.jp", "title": "主任"}),
        )
        .await;
    let b = t
        .card(
            &sato,
            json!({"full_name": "山本太郎", "email": "T@example.jp", "title": "課長"}),
        )
        .await;
    meishi::store::exec(t.app.store.conn(), "UPDATE cards SET person_id = NULL", vec![])
        .await
        .unwrap();
    assert!(get_card(&t, &sato, &a).await["person_id"].is_null());
    let ticked = meishi::service::scheduler::tick(&t.app).await.unwrap();
    assert_eq!(ticked.placed, 2);
    let (pa, pb) = (
        person(&get_card(&t, &sato, &a).await),
        person(&get_card(&t, &sato, &b).await),
    );
    assert_eq!(pa, pb, "placed as one person");
    assert_eq!(
        meishi::service::scheduler::tick(&t.app).await.unwrap().placed,
        0,
        "once"
    );
    // A card arriving later finds them.
    let c = t
        .card(
            &sato,
            json!({"full_name": "山本 太郎", "email": "t@example.jp", "title": "部長"}),
        )
        .await;
    assert_eq!(person(&get_card(&t, &sato, &c).await), pa);
}
