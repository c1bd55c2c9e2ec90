//! Ownership transfer (所有者変更) through HTTP.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

struct Fixture {
    t: TestApp,
    org: Org,
    yamada: String,
    yamada_t: String,
    sato: String,
}

/// 山田 (leaving) owns five cards with contacts and tags; 佐藤 is the successor.
async fn fixture() -> Fixture {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (yamada, yamada_t) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (sato, _) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    Fixture {
        t,
        org,
        yamada,
        yamada_t,
        sato,
    }
}

impl Fixture {
    async fn cards_of(&self, user: &str) -> Vec<Value> {
        let (s, v) = self
            .t
            .get(&self.org.admin, &format!("/api/v1/cards?owner_id={user}&limit=500"))
            .await;
        assert_eq!(s, StatusCode::OK);
        v["items"].as_array().unwrap().clone()
    }
    async fn transfer(&self, body: Value) -> (StatusCode, Value) {
        self.t.post(&self.org.admin, "/api/v1/transfers", body).await
    }
    async fn card_with_contacts(&self, name: &str, company: &str, contacts: usize) -> String {
        let id = self
            .t
            .card(&self.yamada_t, json!({"full_name": name, "company": company}))
            .await;
        for i in 0..contacts {
            let (s, _) = self
                .t
                .post(
                    &self.yamada_t,
                    &format!("/api/v1/cards/{id}/contacts"),
                    json!({"kind": "meeting", "body": format!("面談 {i}")}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED);
        }
        id
    }
    async fn tag(&self, token: &str, name: &str, shared: bool) -> String {
        let (s, v) = self
            .t
            .post(token, "/api/v1/tags", json!({"name": name, "shared": shared}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        v["id"].as_str().unwrap().to_string()
    }
    async fn attach(&self, card: &str, tag: &str) {
        let (s, v) = self
            .t
            .call(
                &self.yamada_t,
                Method::PUT,
                &format!("/api/v1/cards/{card}/tags/{tag}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
}

#[tokio::test]
async fn all_cards_move_with_contacts_and_the_previous_owner_tag() {
    let f = fixture().await;
    // 2026-03-31 23:30 in Tokyo is still the 31st there, though the 31st 14:30 UTC.
    f.t.clock.set("2026-03-31T14:30:00Z".parse().unwrap());
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(f.card_with_contacts(&format!("顧客 {i}"), "株式会社サンプル", 2).await);
    }
    let (s, batch) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["cards"], 5);
    assert_eq!(batch["contacts"], 10);
    assert_eq!(batch["tags"], 0);
    assert_eq!(batch["tag_name"], "旧所有者: 山田 賢治 (2026-03-31)");
    assert_eq!(f.cards_of(&f.yamada).await.len(), 0);
    let moved = f.cards_of(&f.sato).await;
    assert_eq!(moved.len(), 5);
    let tag_id = batch["tag_id"].as_str().unwrap();
    assert!(
        moved
            .iter()
            .all(|c| c["tag_ids"].as_array().unwrap().iter().any(|t| t == tag_id))
    );
    for id in &ids {
        let (_, contacts) = f.t.get(&f.org.admin, &format!("/api/v1/cards/{id}/contacts")).await;
        assert_eq!(
            contacts["items"].as_array().unwrap().len(),
            2,
            "contacts stay with their card"
        );
    }
    // The previous-owner tag is shared: everyone finds the cards by it.
    let (_, tags) = f.t.get(&f.yamada_t, "/api/v1/tags").await;
    let tag = tags["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == tag_id)
        .cloned()
        .expect("visible to members");
    assert_eq!(tag["shared"], true);
    assert!(tag["creator_id"].is_null(), "owned by the organisation");
    let (_, by_tag) = f.t.get(&f.yamada_t, &format!("/api/v1/cards?tag_id={tag_id}")).await;
    assert_eq!(by_tag["items"].as_array().unwrap().len(), 5);

    let events = f.t.audit(&f.org, "transfer.create").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["target_id"], batch["id"]);
    assert_eq!(events[0]["after"]["cards"], 5);
    assert_eq!(events[0]["actor_id"], f.org.admin_id.as_str());
    let (s, listed) = f.t.get(&f.org.admin, "/api/v1/transfers").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(listed["items"][0]["id"], batch["id"]);
    let (s, one) =
        f.t.get(
            &f.org.admin,
            &format!("/api/v1/transfers/{}", batch["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!((s, &one["cards"]), (StatusCode::OK, &json!(5)));
}

#[tokio::test]
async fn the_tag_date_is_the_organisations_day_and_the_tag_is_reused() {
    let f = fixture().await;
    f.t.clock.set("2026-03-31T15:30:00Z".parse().unwrap()); // 2026-04-01 00:30 in Tokyo
    let a = f.card_with_contacts("顧客 A", "A社", 0).await;
    let b = f.card_with_contacts("顧客 B", "B社", 0).await;
    let (_, first) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"card_ids": [a]}}))
        .await;
    assert_eq!(first["tag_name"], "旧所有者: 山田 賢治 (2026-04-01)");
    let (_, second) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"card_ids": [b]}}))
        .await;
    assert_eq!(
        second["tag_id"], first["tag_id"],
        "same previous owner and day: one tag"
    );
}

#[tokio::test]
async fn selection_by_tag_by_company_and_by_ids() {
    let f = fixture().await;
    let vip = f.tag(&f.yamada_t, "重要顧客", false).await;
    let a = f.card_with_contacts("顧客 A", "株式会社サンプル", 1).await;
    let b = f.card_with_contacts("顧客 B", "ｻﾝﾌﾟﾙ株式会社", 1).await;
    let c = f.card_with_contacts("顧客 C", "(株)サンプル", 0).await;
    let d = f.card_with_contacts("顧客 D", "サンプル商事", 3).await;
    let e = f.card_with_contacts("顧客 E", "東洋精機", 0).await;
    f.attach(&d, &vip).await;
    f.attach(&e, &vip).await;

    let (s, by_tag) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"tag_id": vip}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{by_tag}");
    assert_eq!(
        (by_tag["cards"].as_i64(), by_tag["contacts"].as_i64()),
        (Some(2), Some(3))
    );

    let (s, by_company) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"company": "㈱サンプル"}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{by_company}");
    assert_eq!(
        (by_company["cards"].as_i64(), by_company["contacts"].as_i64()),
        (Some(3), Some(2))
    );
    assert_eq!(f.cards_of(&f.yamada).await.len(), 0);

    // Back with explicit ids: only the named ones move.
    let (s, by_ids) =
        f.t.post(
            &f.org.admin,
            "/api/v1/transfers",
            json!({"from_user_id": f.sato, "to_user_id": f.yamada, "selection": {"card_ids": [a, c]}}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{by_ids}");
    assert_eq!(by_ids["cards"], 2);
    let back: Vec<_> = f
        .cards_of(&f.yamada)
        .await
        .iter()
        .map(|c| c["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(back.len(), 2);
    assert!(back.contains(&a) && back.contains(&c) && !back.contains(&b));
    assert_eq!(by_ids["tag_name"].as_str().unwrap().split(' ').nth(1), Some("佐藤"));
}

#[tokio::test]
async fn include_tags_hands_over_the_tags_themselves() {
    let f = fixture().await;
    let own = f.tag(&f.yamada_t, "展示会2025", false).await;
    let clash = f.tag(&f.yamada_t, "要フォロー", true).await;
    let (_, sato_t) = (
        f.sato.clone(),
        crate::harness::token_for(&f.t, &f.org, "sato@acme.example.jp").await,
    );
    let sato_own = f.tag(&sato_t, "要フォロー", false).await;
    let card = f.card_with_contacts("顧客", "A社", 0).await;
    f.attach(&card, &own).await;

    let body =
        json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}, "include_tags": true});
    let (_, preview) = f.transfer(json!({"dry_run": true, "from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}, "include_tags": true})).await;
    assert_eq!(preview["tags"], 2);
    let (s, batch) = f.transfer(body).await;
    assert_eq!(s, StatusCode::CREATED, "{batch}");
    assert_eq!(batch["tags"], 2);
    let (_, tags) = f.t.get(&sato_t, "/api/v1/tags").await;
    let tags = tags["items"].as_array().unwrap();
    let find = |id: &str| {
        tags.iter()
            .find(|t| t["id"] == id)
            .cloned()
            .expect("the successor sees it")
    };
    assert_eq!(find(&own)["creator_id"], f.sato.as_str());
    assert_eq!(
        find(&own)["name"],
        "展示会2025",
        "a tag, not a copy: same id, same name"
    );
    assert_eq!(
        find(&clash)["name"],
        "要フォロー (山田 賢治)",
        "renamed where the successor has the name already"
    );
    assert_eq!(find(&sato_own)["name"], "要フォロー");
    let (_, card_now) = f.t.get(&sato_t, &format!("/api/v1/cards/{card}")).await;
    assert!(
        card_now["tag_ids"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t == own.as_str())
    );

    // Undo gives the tags back under their own names.
    let (s, _) =
        f.t.post(
            &f.org.admin,
            &format!("/api/v1/transfers/{}/undo", batch["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (_, tags) = f.t.get(&f.yamada_t, "/api/v1/tags").await;
    let tags = tags["items"].as_array().unwrap();
    let back = tags.iter().find(|t| t["id"] == clash.as_str()).unwrap();
    assert_eq!(
        (back["name"].as_str(), back["creator_id"].as_str()),
        (Some("要フォロー"), Some(f.yamada.as_str()))
    );
}

#[tokio::test]
async fn a_dry_run_counts_exactly_what_the_real_run_moves_and_changes_nothing() {
    let f = fixture().await;
    let vip = f.tag(&f.yamada_t, "重要顧客", false).await;
    for i in 0..4 {
        let id = f.card_with_contacts(&format!("顧客 {i}"), "株式会社サンプル", i).await;
        if i % 2 == 0 {
            f.attach(&id, &vip).await;
        }
    }
    f.card_with_contacts("他社", "東洋精機", 5).await;
    for selection in [
        json!({"tag_id": vip}),
        json!({"company": "サンプル"}),
        json!({"all": true}),
    ] {
        let audit_before = f.t.get(&f.org.admin, "/api/v1/audit?limit=500").await.1["items"]
            .as_array()
            .unwrap()
            .len();
        let cards_before = f.cards_of(&f.yamada).await;
        let tags_before = f.t.get(&f.org.admin, "/api/v1/tags").await.1;
        let body =
            json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": selection, "include_tags": true});
        let mut dry = body.clone();
        dry["dry_run"] = json!(true);
        let (s, preview) = f.transfer(dry).await;
        assert_eq!(s, StatusCode::OK, "{preview}");
        assert_eq!(preview["dry_run"], true);
        assert_eq!(f.cards_of(&f.yamada).await, cards_before, "nothing changed");
        let audit_after = f.t.get(&f.org.admin, "/api/v1/audit?limit=500").await.1["items"]
            .as_array()
            .unwrap()
            .len();
        assert_eq!(audit_before, audit_after);
        assert_eq!(
            f.t.get(&f.org.admin, "/api/v1/tags").await.1,
            tags_before,
            "no tag made or handed over"
        );

        let (s, real) = f.transfer(body).await;
        assert_eq!(s, StatusCode::CREATED, "{real}");
        for k in ["cards", "contacts", "tags", "tag_name"] {
            assert_eq!(preview[k], real[k], "{selection}: {k}");
        }
        let (s, _) =
            f.t.post(
                &f.org.admin,
                &format!("/api/v1/transfers/{}/undo", real["id"].as_str().unwrap()),
                json!({}),
            )
            .await;
        assert_eq!(s, StatusCode::OK);
    }
}

#[tokio::test]
async fn refusals_change_nothing() {
    let f = fixture().await;
    let card = f.card_with_contacts("顧客", "A社", 1).await;
    let other = spawn_other_org_user(&f).await;
    let (gone, _) = f.t.user(&f.org, "gone@acme.example.jp", "退職 済", "member").await;
    let (resting, _) = f.t.user(&f.org, "rest@acme.example.jp", "休職 中", "member").await;
    set_status(&f.t, &gone, "deleted").await;
    set_status(&f.t, &resting, "suspended").await;
    let unknown = "01a22a10-0000-7000-8000-000000000000";
    let all = json!({"all": true});
    let cases = [
        (
            json!({"from_user_id": f.yamada, "to_user_id": resting, "selection": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to_user_id",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": gone, "selection": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to_user_id",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": unknown, "selection": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to_user_id",
        ),
        (
            json!({"from_user_id": unknown, "to_user_id": f.sato, "selection": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "from_user_id",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": f.yamada, "selection": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to_user_id",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": other, "selection": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "to_user_id",
        ),
        (
            json!({"from_user_id": f.sato, "to_user_id": f.yamada, "selection": all}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "selection",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"tag_id": unknown}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "selection.tag_id",
        ),
        (
            json!({"from_user_id": f.sato, "to_user_id": f.yamada, "selection": {"card_ids": [card]}}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "selection.card_ids",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true, "company": "A社"}}),
            StatusCode::BAD_REQUEST,
            "selection",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {}}),
            StatusCode::BAD_REQUEST,
            "selection",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"card_ids": []}}),
            StatusCode::BAD_REQUEST,
            "selection.card_ids",
        ),
        (
            json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"owner": "x"}}),
            StatusCode::BAD_REQUEST,
            "selection.owner",
        ),
        (
            json!({"from_user_id": f.yamada, "selection": all}),
            StatusCode::BAD_REQUEST,
            "to_user_id",
        ),
    ];
    for (body, status, field) in cases {
        let got = f.transfer(body.clone()).await;
        assert_error(got, status, Some(field));
    }
    assert_eq!(f.cards_of(&f.yamada).await.len(), 1);
    let (_, list) = f.t.get(&f.org.admin, "/api/v1/transfers").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert!(f.t.audit(&f.org, "transfer.create").await.is_empty());
    let (_, tags) = f.t.get(&f.org.admin, "/api/v1/tags").await;
    assert_eq!(
        tags["items"].as_array().unwrap().len(),
        0,
        "no previous-owner tag left behind"
    );

    // A suspended user may give cards away (that is what departures do).
    set_status(&f.t, &f.yamada, "suspended").await;
    let (s, _) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": all}))
        .await;
    assert_eq!(s, StatusCode::CREATED);
}

#[tokio::test]
async fn undo_restores_exactly_skips_moved_again_and_only_once() {
    let f = fixture().await;
    let (kato, _) = f.t.user(&f.org, "kato@acme.example.jp", "加藤", "member").await;
    let keep = f.tag(&f.yamada_t, "既存", true).await;
    let mut ids = Vec::new();
    for i in 0..4 {
        ids.push(f.card_with_contacts(&format!("顧客 {i}"), "A社", 1).await);
    }
    f.attach(&ids[0], &keep).await;
    let before: Vec<Value> = f.cards_of(&f.yamada).await;
    let (_, first) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}}))
        .await;
    let first_id = first["id"].as_str().unwrap().to_string();
    // One card moves on to 加藤, one is deleted by its new owner.
    let (s, second) = f
        .transfer(json!({"from_user_id": f.sato, "to_user_id": kato, "selection": {"card_ids": [ids[1]]}}))
        .await;
    assert_eq!(s, StatusCode::CREATED, "{second}");
    let (s, _) =
        f.t.call(&f.org.admin, Method::DELETE, &format!("/api/v1/cards/{}", ids[2]), None)
            .await;
    assert_eq!(s, StatusCode::NO_CONTENT);

    let (s, undo) =
        f.t.post(&f.org.admin, &format!("/api/v1/transfers/{first_id}/undo"), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK, "{undo}");
    assert_eq!(undo["restored"], 2);
    assert_eq!(undo["skipped"], 2);
    let mut skipped: Vec<_> = undo["skipped_card_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    skipped.sort();
    let mut expected = vec![ids[1].clone(), ids[2].clone()];
    expected.sort();
    assert_eq!(skipped, expected);
    assert_eq!(undo["transfer"]["undone_by"], f.org.admin_id.as_str());

    let now: Vec<Value> = f.cards_of(&f.yamada).await;
    let restored: Vec<_> = now.iter().map(|c| c["id"].as_str().unwrap()).collect();
    assert_eq!(restored, vec![ids[0].as_str(), ids[3].as_str()]);
    // Exactly as before: same fields and tags (the previous-owner tag is gone, 既存 stays).
    for card in &now {
        let old = before.iter().find(|b| b["id"] == card["id"]).unwrap();
        assert_eq!(card["tag_ids"], old["tag_ids"]);
        assert_eq!(card["full_name"], old["full_name"]);
    }
    let (_, moved_on) = f.t.get(&f.org.admin, &format!("/api/v1/cards?owner_id={kato}")).await;
    assert_eq!(
        moved_on["items"].as_array().unwrap().len(),
        1,
        "the card that moved on stays moved"
    );

    let again =
        f.t.post(&f.org.admin, &format!("/api/v1/transfers/{first_id}/undo"), json!({}))
            .await;
    assert_error(again, StatusCode::CONFLICT, None);
    assert_eq!(f.t.audit(&f.org, "transfer.undo").await.len(), 1);

    // Undoing the second transfer gives 佐藤 the card back; then nothing is left to skip.
    let (s, undo2) =
        f.t.post(
            &f.org.admin,
            &format!("/api/v1/transfers/{}/undo", second["id"].as_str().unwrap()),
            json!({}),
        )
        .await;
    assert_eq!((s, undo2["restored"].as_i64()), (StatusCode::OK, Some(1)));
}

#[tokio::test]
async fn undo_of_a_later_transfer_reopens_the_earlier_one() {
    let f = fixture().await;
    let (kato, _) = f.t.user(&f.org, "kato@acme.example.jp", "加藤", "member").await;
    let card = f.card_with_contacts("顧客", "A社", 0).await;
    let (_, t1) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}}))
        .await;
    let (_, t2) = f
        .transfer(json!({"from_user_id": f.sato, "to_user_id": kato, "selection": {"all": true}}))
        .await;
    let undo = |id: &Value| format!("/api/v1/transfers/{}/undo", id.as_str().unwrap());
    let (_, u2) = f.t.post(&f.org.admin, &undo(&t2["id"]), json!({})).await;
    assert_eq!(u2["restored"], 1);
    let (_, u1) = f.t.post(&f.org.admin, &undo(&t1["id"]), json!({})).await;
    assert_eq!(
        u1["restored"], 1,
        "after the later batch is undone, the earlier one restores the card"
    );
    let (_, c) = f.t.get(&f.org.admin, &format!("/api/v1/cards/{card}")).await;
    assert_eq!(c["owner_id"], f.yamada.as_str());
    assert_eq!(c["tag_ids"], json!([]));
}

#[tokio::test]
async fn members_get_403_and_other_organisations_see_nothing() {
    let f = fixture().await;
    f.card_with_contacts("顧客", "A社", 0).await;
    let (_, batch) = f
        .transfer(json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}}))
        .await;
    let id = batch["id"].as_str().unwrap();
    let body = json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}, "dry_run": true});
    assert_error(
        f.t.post(&f.yamada_t, "/api/v1/transfers", body).await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        f.t.get(&f.yamada_t, "/api/v1/transfers").await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        f.t.get(&f.yamada_t, &format!("/api/v1/transfers/{id}")).await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        f.t.post(&f.yamada_t, &format!("/api/v1/transfers/{id}/undo"), json!({}))
            .await,
        StatusCode::FORBIDDEN,
        None,
    );

    let b = f.t.org("beta").await;
    let (_, list) = f.t.get(&b.admin, "/api/v1/transfers").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0);
    assert_error(
        f.t.get(&b.admin, &format!("/api/v1/transfers/{id}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        f.t.post(&b.admin, &format!("/api/v1/transfers/{id}/undo"), json!({}))
            .await,
        StatusCode::NOT_FOUND,
        None,
    );
    let got =
        f.t.post(
            &b.admin,
            "/api/v1/transfers",
            json!({"from_user_id": f.yamada, "to_user_id": b.admin_id, "selection": {"all": true}}),
        )
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("from_user_id"));
    assert_eq!(f.cards_of(&f.sato).await.len(), 1, "A's cards untouched");
}

/// A user of another organisation.
async fn spawn_other_org_user(f: &Fixture) -> String {
    let b = f.t.org("beta").await;
    b.admin_id
}
