use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

fn sample() -> serde_json::Value {
    json!({
        "full_name": "田中 一郎", "name_reading": "タナカ イチロウ", "company": "株式会社サンプル",
        "department": "営業部", "title": "課長", "email": "ichiro.tanaka@sample.co.jp",
        "phone": "03-1234-5678", "mobile": "090-1111-2222", "fax": "03-1234-5679",
        "postal_code": "100-0005", "address": "東京都千代田区丸の内1-1-1", "url": "https://www.sample.co.jp",
        "exchanged_on": "2026-04-01"
    })
}

#[tokio::test]
async fn card_create_read_update_delete_with_audit() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (member_id, member) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (s, card) = t.post(&member, "/api/v1/cards", sample()).await;
    assert_eq!(s, StatusCode::CREATED, "{card}");
    assert_eq!(card["owner_id"], member_id.as_str());
    assert_eq!(card["exchanged_on"], "2026-04-01");
    let id = card["id"].as_str().unwrap();
    for (k, v) in sample().as_object().unwrap() {
        assert_eq!(&card[k], v, "{k}");
    }

    let (s, got) = t.get(&member, &format!("/api/v1/cards/{id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["full_name"], "田中 一郎");

    let patch = json!({"title": "部長", "exchanged_on": null});
    let (s, got) = t
        .call(&member, Method::PATCH, &format!("/api/v1/cards/{id}"), Some(patch))
        .await;
    assert_eq!(s, StatusCode::OK, "{got}");
    assert_eq!(got["title"], "部長");
    assert_eq!(got["department"], "営業部", "untouched fields stay");
    assert!(got["exchanged_on"].is_null());

    let events = t.audit(&org, "card.update").await;
    assert_eq!(events[0]["before"]["title"], "課長");
    assert_eq!(events[0]["after"]["title"], "部長");

    let (s, _) = t
        .post(
            &member,
            &format!("/api/v1/cards/{id}/contacts"),
            json!({"kind": "meeting", "body": "打ち合わせ"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = t
        .call(&member, Method::DELETE, &format!("/api/v1/cards/{id}"), None)
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_error(
        t.get(&member, &format!("/api/v1/cards/{id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let deleted = t.audit(&org, "card.delete").await;
    assert_eq!(deleted[0]["before"]["full_name"], "田中 一郎");
    assert_eq!(deleted[0]["before"]["contacts_deleted"], 1);
    assert_eq!(t.audit(&org, "card.create").await.len(), 1);
}

#[tokio::test]
async fn bad_card_input_names_the_field_and_changes_nothing() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let cases = [
        (json!({}), "full_name"),
        (json!({"full_name": " ", "company": ""}), "full_name"),
        (json!({"full_name": "x", "email": "tanaka@"}), "email"),
        (json!({"full_name": "x", "exchanged_on": "2026-13-01"}), "exchanged_on"),
        (json!({"full_name": "x", "exchanged_on": 20260101}), "exchanged_on"),
        (json!({"full_name": "x", "nickname": "y"}), "nickname"),
    ];
    for (body, field) in cases {
        assert_error(
            t.post(&org.admin, "/api/v1/cards", body).await,
            StatusCode::BAD_REQUEST,
            Some(field),
        );
    }
    // Well-formed, but a phone number with letters beyond ASCII: 422 (no schema says "letter").
    assert_error(
        t.post(
            &org.admin,
            "/api/v1/cards",
            json!({"full_name": "x", "phone": "電話番号"}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("phone"),
    );
    let got = t
        .post(
            &org.admin,
            "/api/v1/cards",
            json!({"full_name": "x", "owner_id": "01a22a10-0000-7000-8000-000000000000"}),
        )
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("owner_id"));
    let (_, list) = t.get(&org.admin, "/api/v1/cards").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert!(t.audit(&org, "card.create").await.is_empty());

    let res = t
        .http
        .post(format!("{}/api/v1/cards", t.url))
        .bearer_auth(&org.admin)
        .body("full_name=x")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let got = t.post(&org.admin, "/api/v1/tags", json!({"shared": true})).await;
    assert_error(got, StatusCode::BAD_REQUEST, Some("name"));
    let card = t.card(&org.admin, json!({"full_name": "x"})).await;
    let got = t
        .post(
            &org.admin,
            &format!("/api/v1/cards/{card}/contacts"),
            json!({"kind": "visit"}),
        )
        .await;
    assert_error(got, StatusCode::BAD_REQUEST, Some("kind"));
    let got = t
        .post(
            &org.admin,
            &format!("/api/v1/cards/{card}/contacts"),
            json!({"kind": "call", "occurred_at": "yesterday"}),
        )
        .await;
    assert_error(got, StatusCode::BAD_REQUEST, Some("occurred_at"));
    let got = t
        .post(
            &org.admin,
            "/api/v1/cards/01a22a10-0000-7000-8000-000000000000/contacts",
            json!({"kind": "call"}),
        )
        .await;
    assert_error(got, StatusCode::NOT_FOUND, None);
    let (_, contacts) = t.get(&org.admin, &format!("/api/v1/cards/{card}/contacts")).await;
    assert_eq!(contacts["items"].as_array().unwrap().len(), 0);
    // A well-formed change that would leave the card without a name or a company: 422.
    let got = t
        .call(
            &org.admin,
            Method::PATCH,
            &format!("/api/v1/cards/{card}"),
            Some(json!({"full_name": " "})),
        )
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("full_name"));
}

#[tokio::test]
async fn filters_and_cursor_paging() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (sato, sato_t) = t.user(&org, "sato@acme.example.jp", "佐藤", "member").await;
    let (_, suzuki_t) = t.user(&org, "suzuki@acme.example.jp", "鈴木", "member").await;
    let companies = [
        "株式会社サンプル",
        "(株)サンプル",
        "ｻﾝﾌﾟﾙ株式会社",
        "㈱サンプル",
        "サンプル商事",
    ];
    for (i, company) in companies.iter().enumerate() {
        t.card(&sato_t, json!({"full_name": format!("人 {i}"), "company": company}))
            .await;
    }
    for i in 0..7 {
        t.card(&suzuki_t, json!({"full_name": format!("鈴木の名刺 {i}")})).await;
    }
    let (_, by_company) = t
        .get(
            &suzuki_t,
            "/api/v1/cards?company=%E3%82%B5%E3%83%B3%E3%83%97%E3%83%AB%E6%A0%AA%E5%BC%8F%E4%BC%9A%E7%A4%BE",
        )
        .await;
    assert_eq!(
        by_company["items"].as_array().unwrap().len(),
        4,
        "サンプル株式会社 matches four spellings, not サンプル商事"
    );
    let (_, by_owner) = t.get(&suzuki_t, &format!("/api/v1/cards?owner_id={sato}")).await;
    assert_eq!(by_owner["items"].as_array().unwrap().len(), 5);

    let (_, tag) = t
        .post(&sato_t, "/api/v1/tags", json!({"name": "重要顧客", "shared": true}))
        .await;
    let tag_id = tag["id"].as_str().unwrap();
    let first = by_owner["items"][0]["id"].as_str().unwrap();
    let (s, card) = t
        .call(
            &sato_t,
            Method::PUT,
            &format!("/api/v1/cards/{first}/tags/{tag_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{card}");
    assert_eq!(card["tag_ids"], json!([tag_id]));
    let (s, _) = t
        .call(
            &sato_t,
            Method::PUT,
            &format!("/api/v1/cards/{first}/tags/{tag_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "attaching twice is harmless");
    let (_, by_tag) = t.get(&suzuki_t, &format!("/api/v1/cards?tag_id={tag_id}")).await;
    assert_eq!(by_tag["items"].as_array().unwrap().len(), 1);
    assert_eq!(t.audit(&org, "card.tag_attach").await.len(), 1);

    let mut seen = Vec::new();
    let mut cursor = String::new();
    loop {
        let (s, page) = t
            .get(&suzuki_t, &format!("/api/v1/cards?limit=5&cursor={cursor}"))
            .await;
        assert_eq!(s, StatusCode::OK, "{page}");
        for c in page["items"].as_array().unwrap() {
            seen.push(c["id"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = c.to_string(),
            None => break,
        }
    }
    assert_eq!(seen.len(), 12);
    let mut unique = seen.clone();
    unique.dedup();
    assert_eq!(unique.len(), 12, "no card twice across pages");
    assert_error(
        t.get(&suzuki_t, "/api/v1/cards?limit=501").await,
        StatusCode::BAD_REQUEST,
        Some("limit"),
    );
    assert_error(
        t.get(&suzuki_t, "/api/v1/cards?limit=ten").await,
        StatusCode::BAD_REQUEST,
        Some("limit"),
    );
    assert_error(
        t.get(&suzuki_t, "/api/v1/cards?cursor=xyz").await,
        StatusCode::BAD_REQUEST,
        Some("cursor"),
    );
    assert_error(
        t.get(&suzuki_t, "/api/v1/cards?colour=red").await,
        StatusCode::BAD_REQUEST,
        Some("colour"),
    );

    let (s, _) = t
        .call(
            &sato_t,
            Method::DELETE,
            &format!("/api/v1/cards/{first}/tags/{tag_id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, by_tag) = t.get(&suzuki_t, &format!("/api/v1/cards?tag_id={tag_id}")).await;
    assert_eq!(by_tag["items"].as_array().unwrap().len(), 0);
}

#[tokio::test]
async fn members_change_only_their_own_cards_and_see_only_their_personal_tags() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, sato) = t.user(&org, "sato@acme.example.jp", "佐藤", "member").await;
    let (suzuki_id, suzuki) = t.user(&org, "suzuki@acme.example.jp", "鈴木", "member").await;
    let card = t.card(&sato, json!({"full_name": "顧客 A"})).await;
    let (s, _) = t.get(&suzuki, &format!("/api/v1/cards/{card}")).await;
    assert_eq!(s, StatusCode::OK, "cards are readable company-wide");
    let path = format!("/api/v1/cards/{card}");
    assert_error(
        t.call(&suzuki, Method::PATCH, &path, Some(json!({"title": "x"}))).await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        t.call(&suzuki, Method::DELETE, &path, None).await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        t.post(&suzuki, &format!("{path}/contacts"), json!({"kind": "note"}))
            .await,
        StatusCode::FORBIDDEN,
        None,
    );
    let got = t
        .post(
            &suzuki,
            "/api/v1/cards",
            json!({"full_name": "x", "owner_id": org.admin_id}),
        )
        .await;
    assert_error(got, StatusCode::FORBIDDEN, Some("owner_id"));
    // Admins may register for another user and change any card.
    let (s, c) = t
        .post(
            &org.admin,
            "/api/v1/cards",
            json!({"full_name": "x", "owner_id": suzuki_id}),
        )
        .await;
    assert_eq!(
        (s, c["owner_id"].as_str()),
        (StatusCode::CREATED, Some(suzuki_id.as_str()))
    );
    let (s, _) = t
        .call(&org.admin, Method::PATCH, &path, Some(json!({"title": "x"})))
        .await;
    assert_eq!(s, StatusCode::OK);

    let (_, personal) = t.post(&sato, "/api/v1/tags", json!({"name": "自分用"})).await;
    let personal = personal["id"].as_str().unwrap();
    let (_, list) = t.get(&suzuki, "/api/v1/tags").await;
    assert!(list["items"].as_array().unwrap().iter().all(|x| x["id"] != personal));
    let (_, list) = t.get(&sato, "/api/v1/tags").await;
    assert!(list["items"].as_array().unwrap().iter().any(|x| x["id"] == personal));
    let own = t.card(&suzuki, json!({"full_name": "鈴木の顧客"})).await;
    let got = t
        .call(
            &suzuki,
            Method::PUT,
            &format!("/api/v1/cards/{own}/tags/{personal}"),
            None,
        )
        .await;
    assert_error(got, StatusCode::NOT_FOUND, None);
    assert_error(
        t.post(&sato, "/api/v1/tags", json!({"name": "自分用"})).await,
        StatusCode::CONFLICT,
        Some("name"),
    );

    // Her personal tag on her card: its id is hers and the admins' only, on the card, in lists
    // and as a filter (another member filtering by it finds no such tag).
    let hers = t.card(&sato, json!({"full_name": "佐藤の顧客"})).await;
    let tag_path = format!("/api/v1/cards/{hers}/tags/{personal}");
    let (s, v) = t.call(&sato, Method::PUT, &tag_path, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["tag_ids"], json!([personal]), "{v}");
    for (token, sees) in [(&sato, true), (&org.admin, true), (&suzuki, false)] {
        let (_, card) = t.get(token, &format!("/api/v1/cards/{hers}")).await;
        assert_eq!(
            card["tag_ids"].as_array().unwrap().contains(&json!(personal)),
            sees,
            "{card}"
        );
        let (_, list) = t.get(token, "/api/v1/cards?limit=100").await;
        let listed = list["items"].as_array().unwrap();
        assert_eq!(
            listed
                .iter()
                .any(|c| c["tag_ids"].as_array().unwrap().contains(&json!(personal))),
            sees,
            "{list}"
        );
        let (s, v) = t.get(token, &format!("/api/v1/cards?tag_id={personal}")).await;
        if sees {
            assert_eq!(
                (s, v["items"][0]["id"].as_str()),
                (StatusCode::OK, Some(hers.as_str())),
                "{v}"
            );
        } else {
            assert_eq!(s, StatusCode::NOT_FOUND, "{v}");
            assert_eq!(v["error"]["field"], "tag_id", "{v}");
        }
    }
}

/// A card's tags as (name, shared), sorted; `tag_ids` must name the same tags.
fn tags_of(card: &serde_json::Value) -> Vec<(String, bool)> {
    let tags = card["tags"].as_array().unwrap_or_else(|| panic!("no tags: {card}"));
    let mut ids: Vec<&str> = tags.iter().map(|t| t["id"].as_str().unwrap()).collect();
    let mut tag_ids: Vec<&str> = card["tag_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    ids.sort_unstable();
    tag_ids.sort_unstable();
    assert_eq!(ids, tag_ids, "tags and tag_ids name the same tags: {card}");
    let mut out: Vec<(String, bool)> = tags
        .iter()
        .map(|t| (t["name"].as_str().unwrap().to_string(), t["shared"].as_bool().unwrap()))
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn cards_carry_their_tags_with_names_as_the_caller_may_see_them() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (sato_id, sato) = t.user(&org, "sato@acme.example.jp", "佐藤", "member").await;
    let (_, suzuki) = t.user(&org, "suzuki@acme.example.jp", "鈴木", "member").await;
    let tag = |token: &str, name: &str, shared: bool| {
        let (t, token, name) = (&t, token.to_string(), name.to_string());
        async move {
            let (s, v) = t
                .post(&token, "/api/v1/tags", json!({"name": name, "shared": shared}))
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
            v["id"].as_str().unwrap().to_string()
        }
    };
    let shared = tag(&org.admin, "重要", true).await;
    let admins = tag(&org.admin, "管理者メモ", false).await;
    let satos = tag(&sato, "自分用", false).await;
    // Three of Sato's cards, each with the shared tag, her personal tag and the admin's.
    let mut cards = Vec::new();
    for i in 0..3 {
        let card = t.card(&sato, json!({"full_name": format!("顧客 {i}")})).await;
        for (token, tag_id) in [(&sato, &shared), (&sato, &satos), (&org.admin, &admins)] {
            let (s, v) = t
                .call(token, Method::PUT, &format!("/api/v1/cards/{card}/tags/{tag_id}"), None)
                .await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        cards.push(card);
    }
    let all = |v: &[(&str, bool)]| v.iter().map(|(n, s)| (n.to_string(), *s)).collect::<Vec<_>>();
    let cases = [
        // The admin sees every tag; Sato the shared one and her own; Suzuki the shared one only.
        (
            &org.admin,
            all(&[("管理者メモ", false), ("自分用", false), ("重要", true)]),
        ),
        (&sato, all(&[("自分用", false), ("重要", true)])),
        (&suzuki, all(&[("重要", true)])),
    ];
    for (token, expected) in &cases {
        let (s, card) = t.get(token, &format!("/api/v1/cards/{}", cards[0])).await;
        assert_eq!(s, StatusCode::OK, "{card}");
        assert_eq!(&tags_of(&card), expected, "{card}");
        let (s, page) = t.get(token, &format!("/api/v1/cards?owner_id={sato_id}&limit=2")).await;
        assert_eq!(s, StatusCode::OK, "{page}");
        let items = page["items"].as_array().unwrap();
        assert_eq!(items.len(), 2, "{page}");
        for card in items {
            assert_eq!(&tags_of(card), expected, "{card}");
        }
        let (s, person) = t.get(token, &format!("/api/v1/cards/{}/person", cards[1])).await;
        assert_eq!(s, StatusCode::OK, "{person}");
        for held in person["cards"].as_array().unwrap() {
            assert_eq!(&tags_of(&held["card"]), expected, "{person}");
        }
    }
    // A change answers with the card as its caller sees it.
    let (s, card) = t
        .call(
            &sato,
            Method::PATCH,
            &format!("/api/v1/cards/{}", cards[2]),
            Some(json!({"title": "部長"})),
        )
        .await;
    assert_eq!((s, tags_of(&card)), (StatusCode::OK, cases[1].1.clone()), "{card}");
    // Sato's own export: her cards without the admin's personal tag.
    let (s, export) = t.get(&sato, &format!("/api/v1/users/{sato_id}/export")).await;
    assert_eq!(s, StatusCode::OK, "{export}");
    let exported = export["cards"].as_array().unwrap();
    assert_eq!(exported.len(), 3, "{export}");
    for card in exported {
        assert_eq!(tags_of(card), cases[1].1, "{card}");
    }
}

/// Every filter of the card list, alone and together, walked a few cards a page to its end:
/// the pages hold exactly the matching cards in id order, each once, with the tags the caller
/// may see. The list's tag filter is a join read in the tag's index order (store::cards);
/// this holds it to the plain definition, computed here from the whole list.
#[tokio::test]
async fn every_filter_pages_through_exactly_the_matching_cards_in_id_order() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (sato, sato_t) = t.user(&org, "sato@acme.example.jp", "佐藤", "member").await;
    let (suzuki, suzuki_t) = t.user(&org, "suzuki@acme.example.jp", "鈴木", "member").await;
    let (_, shared) = t
        .post(&sato_t, "/api/v1/tags", json!({"name": "展示会", "shared": true}))
        .await;
    let (_, personal) = t
        .post(&suzuki_t, "/api/v1/tags", json!({"name": "私用", "shared": false}))
        .await;
    let (shared, personal) = (shared["id"].as_str().unwrap(), personal["id"].as_str().unwrap());
    // Another organisation's cards, tagged too, are never listed.
    let other = t.org("other").await;
    let (_, other_tag) = t
        .post(&other.admin, "/api/v1/tags", json!({"name": "展示会", "shared": true}))
        .await;
    let other_card = t
        .card(&other.admin, json!({"full_name": "他社", "company": "甲社"}))
        .await;
    let (s, _) = t
        .call(
            &other.admin,
            Method::PUT,
            &format!("/api/v1/cards/{other_card}/tags/{}", other_tag["id"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    for i in 0..23 {
        let (token, company) = if i % 2 == 0 {
            (&sato_t, "株式会社甲社")
        } else {
            (&suzuki_t, "乙社")
        };
        let id = t
            .card(token, json!({"full_name": format!("人 {i}"), "company": company}))
            .await;
        for (every, tag) in [(3, shared), (4, personal)] {
            if i % every == 0 {
                let (s, c) = t
                    .call(&org.admin, Method::PUT, &format!("/api/v1/cards/{id}/tags/{tag}"), None)
                    .await;
                assert_eq!(s, StatusCode::OK, "{c}");
            }
        }
    }
    let (_, all) = t.get(&org.admin, "/api/v1/cards?limit=500").await;
    let all = all["items"].as_array().unwrap().clone();
    assert_eq!(all.len(), 23);
    let ids = |cards: &[serde_json::Value]| -> Vec<String> {
        cards.iter().map(|c| c["id"].as_str().unwrap().to_string()).collect()
    };
    let mut sorted = ids(&all);
    sorted.sort();
    assert_eq!(ids(&all), sorted, "the list is in id order");
    let has = |c: &serde_json::Value, tag: &str| c["tag_ids"].as_array().unwrap().iter().any(|t| t == tag);
    type Want<'a> = Box<dyn Fn(&serde_json::Value) -> bool + 'a>;
    let (sa, su) = (sato.clone(), suzuki.clone());
    let cases: Vec<(String, Want)> = vec![
        (String::new(), Box::new(|_| true)),
        (
            format!("owner_id={sato}"),
            Box::new(move |c| c["owner_id"] == sa.as_str()),
        ),
        (format!("tag_id={shared}"), Box::new(move |c| has(c, shared))),
        (format!("tag_id={personal}"), Box::new(move |c| has(c, personal))),
        (
            format!("tag_id={shared}&owner_id={suzuki}"),
            Box::new(move |c| has(c, shared) && c["owner_id"] == su.as_str()),
        ),
        (
            format!("tag_id={shared}&company=%E7%94%B2%E7%A4%BE"),
            Box::new(move |c| has(c, shared) && c["company"] == "株式会社甲社"),
        ),
        (
            "company=%E4%B9%99%E7%A4%BE".into(),
            Box::new(|c| c["company"] == "乙社"),
        ),
    ];
    for (filter, want) in &cases {
        let expected: Vec<String> = ids(&all.iter().filter(|c| want(c)).cloned().collect::<Vec<_>>());
        assert!(!expected.is_empty(), "{filter}: the case selects something");
        let (mut got, mut cursor, mut pages) = (Vec::new(), None::<String>, 0);
        loop {
            let path = match &cursor {
                Some(c) => format!("/api/v1/cards?limit=2&{filter}&cursor={c}"),
                None => format!("/api/v1/cards?limit=2&{filter}"),
            };
            let (s, page) = t.get(&org.admin, &path).await;
            assert_eq!(s, StatusCode::OK, "{path}: {page}");
            let items = page["items"].as_array().unwrap();
            // The admin sees every tag; the page's cards are the whole list's, tags and all.
            for c in items {
                assert_eq!(Some(c), all.iter().find(|a| a["id"] == c["id"]), "{path}");
            }
            got.extend(ids(items));
            pages += 1;
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(got, expected, "{filter}");
        assert_eq!(pages, expected.len().div_ceil(2).max(1), "{filter}: no empty last page");
    }
    // A member does not see another's personal tag, nor may filter by it.
    let (s, e) = t.get(&sato_t, &format!("/api/v1/cards?tag_id={personal}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{e}");
    let (_, page) = t
        .get(&sato_t, &format!("/api/v1/cards?limit=500&tag_id={shared}"))
        .await;
    for c in page["items"].as_array().unwrap() {
        assert!(!has(c, personal), "{c}");
    }
}
