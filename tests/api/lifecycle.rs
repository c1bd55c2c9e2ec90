//! Account lifecycle through HTTP: suspend, reactivate, guarded deletion, the archive
//! account, the trash, export, organisation settings.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

async fn signed_in(t: &TestApp, email: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let res = client
        .post(format!("{}/api/v1/session", t.url))
        .json(&json!({"organization": "acme", "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    client
}

async fn me_status(t: &TestApp, client: &reqwest::Client) -> StatusCode {
    client
        .get(format!("{}/api/v1/me", t.url))
        .send()
        .await
        .unwrap()
        .status()
}

async fn user_op(t: &TestApp, org: &Org, id: &str, op: &str) -> (StatusCode, Value) {
    t.post(&org.admin, &format!("/api/v1/users/{id}/{op}"), json!({})).await
}

#[tokio::test]
async fn suspension_closes_every_way_in_at_once_and_keeps_everything() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (yamada, token) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let card = t.card(&token, json!({"full_name": "顧客", "company": "A社"})).await;
    t.post(
        &token,
        &format!("/api/v1/cards/{card}/contacts"),
        json!({"kind": "call"}),
    )
    .await;
    let (_, tag) = t.post(&token, "/api/v1/tags", json!({"name": "重要"})).await;
    let browser = signed_in(&t, "yamada@acme.example.jp").await;
    assert_eq!(me_status(&t, &browser).await, StatusCode::OK);
    assert_eq!(t.get(&token, "/api/v1/me").await.0, StatusCode::OK);

    let (s, u) = user_op(&t, &org, &yamada, "suspend").await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["status"], "suspended");
    assert_eq!(u["display_name"], "山田 賢治(退職済み)");
    assert_eq!(
        me_status(&t, &browser).await,
        StatusCode::UNAUTHORIZED,
        "the session cookie stops"
    );
    assert_eq!(
        t.get(&token, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "the token stops"
    );
    let res = t
        .http
        .post(format!("{}/api/v1/session", t.url))
        .json(&json!({"organization": "acme", "email": "yamada@acme.example.jp", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::UNAUTHORIZED,
        "a suspended user cannot sign in"
    );

    // Everything stays.
    let (_, c) = t.get(&org.admin, &format!("/api/v1/cards/{card}")).await;
    assert_eq!(c["owner_id"], yamada.as_str());
    let (_, contacts) = t.get(&org.admin, &format!("/api/v1/cards/{card}/contacts")).await;
    assert_eq!(contacts["items"].as_array().unwrap().len(), 1);
    let (_, tags) = t.get(&org.admin, "/api/v1/tags").await;
    assert!(tags["items"].as_array().unwrap().iter().any(|x| x["id"] == tag["id"]));

    // Idempotent: a second suspension changes nothing and writes no event.
    let (s, again) = user_op(&t, &org, &yamada, "suspend").await;
    assert_eq!(
        (s, again["display_name"].as_str()),
        (StatusCode::OK, Some("山田 賢治(退職済み)"))
    );
    let events = t.audit(&org, "user.suspend").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["before"]["display_name"], "山田 賢治");
    assert_eq!(events[0]["after"]["status"], "suspended");
}

#[tokio::test]
async fn reactivation_removes_exactly_the_suffix() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (id, token) = t
        .user(&org, "yamada@acme.example.jp", "山田 (退職済み) 賢治", "member")
        .await;
    user_op(&t, &org, &id, "suspend").await;
    let (s, u) = user_op(&t, &org, &id, "reactivate").await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["status"], "active");
    assert_eq!(
        u["display_name"], "山田 (退職済み) 賢治",
        "only the trailing suffix is removed"
    );
    let (s, u) = user_op(&t, &org, &id, "reactivate").await;
    assert_eq!(
        (s, u["display_name"].as_str()),
        (StatusCode::OK, Some("山田 (退職済み) 賢治"))
    );
    assert_eq!(t.audit(&org, "user.reactivate").await.len(), 1);
    // Old credentials were revoked with the suspension; the user signs in again.
    assert_eq!(t.get(&token, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    let browser = signed_in(&t, "yamada@acme.example.jp").await;
    assert_eq!(me_status(&t, &browser).await, StatusCode::OK);
}

#[tokio::test]
async fn admins_cannot_lock_themselves_or_the_last_admin_out_and_members_cannot_at_all() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (member, member_t) = t.user(&org, "m@acme.example.jp", "メンバー", "member").await;
    for op in ["suspend", "reactivate", "restore"] {
        let got = t
            .post(&member_t, &format!("/api/v1/users/{}/{op}", org.admin_id), json!({}))
            .await;
        assert_error(got, StatusCode::FORBIDDEN, None);
    }
    assert_error(
        t.call(&member_t, Method::DELETE, &format!("/api/v1/users/{member}"), None)
            .await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        user_op(&t, &org, &org.admin_id, "suspend").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );
    let got = t
        .call(
            &org.admin,
            Method::DELETE,
            &format!("/api/v1/users/{}", org.admin_id),
            None,
        )
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, None);
    // A second admin may not remove the last *other* active admin either, once alone.
    let (second, second_t) = t.user(&org, "a2@acme.example.jp", "副管理者", "admin").await;
    let (s, _) = t
        .post(&second_t, &format!("/api/v1/users/{}/suspend", org.admin_id), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "two admins: one may suspend the other");
    let got = t
        .post(&second_t, &format!("/api/v1/users/{second}/suspend"), json!({}))
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, None);
    let b = t.org("beta").await;
    assert_error(user_op(&t, &b, &member, "suspend").await, StatusCode::NOT_FOUND, None);
}

#[tokio::test]
async fn deletion_is_refused_with_counts_until_everything_is_transferred() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (yamada, token) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (sato, _) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    for i in 0..3 {
        let card = t.card(&token, json!({"full_name": format!("顧客 {i}")})).await;
        t.post(
            &token,
            &format!("/api/v1/cards/{card}/contacts"),
            json!({"kind": "meeting"}),
        )
        .await;
        t.post(
            &token,
            &format!("/api/v1/cards/{card}/contacts"),
            json!({"kind": "mail"}),
        )
        .await;
    }
    t.post(&token, "/api/v1/tags", json!({"name": "展示会"})).await;
    let path = format!("/api/v1/users/{yamada}");
    let (s, refused) = t.call(&org.admin, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::CONFLICT, "{refused}");
    assert_eq!(
        refused["error"]["details"],
        json!({"cards": 3, "contacts": 6, "tags": 1, "templates": 0})
    );
    let message = refused["error"]["message"].as_str().unwrap();
    assert!(message.contains("3 cards") && message.contains("archive"), "{message}");
    let (_, still) = t.get(&org.admin, &path).await;
    assert_eq!(still["status"], "active", "nothing changed");

    let (s, _) = t
        .post(
            &org.admin,
            "/api/v1/transfers",
            json!({"from_user_id": yamada, "to_user_id": sato, "selection": {"all": true}, "include_tags": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, deleted) = t.call(&org.admin, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["status"], "deleted");
    assert!(deleted["deleted_at"].is_string());
    assert_eq!(t.get(&token, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_error(
        t.call(&org.admin, Method::DELETE, &path, None).await,
        StatusCode::CONFLICT,
        None,
    );
    assert_eq!(t.audit(&org, "user.delete").await.len(), 1);
}

#[tokio::test]
async fn delete_with_archive_moves_everything_to_the_archive_account_in_one_batch() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (yamada, token) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (_, tag) = t.post(&token, "/api/v1/tags", json!({"name": "展示会"})).await;
    for i in 0..2 {
        let card = t.card(&token, json!({"full_name": format!("顧客 {i}")})).await;
        t.post(
            &token,
            &format!("/api/v1/cards/{card}/contacts"),
            json!({"kind": "note"}),
        )
        .await;
    }
    assert_error(
        t.get(&org.admin, "/api/v1/archive-account").await,
        StatusCode::NOT_FOUND,
        None,
    );
    let (s, deleted) = t
        .call(
            &org.admin,
            Method::DELETE,
            &format!("/api/v1/users/{yamada}?archive=true"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{deleted}");
    assert_eq!(deleted["status"], "deleted");
    let (s, archive) = t.get(&org.admin, "/api/v1/archive-account").await;
    assert_eq!(s, StatusCode::OK, "created on demand");
    assert_eq!(archive["is_archive"], true);
    assert_eq!(archive["display_name"], "退職者の名刺管理用アカウント");
    let archive_id = archive["id"].as_str().unwrap();
    let (_, cards) = t.get(&org.admin, &format!("/api/v1/cards?owner_id={archive_id}")).await;
    let cards = cards["items"].as_array().unwrap();
    assert_eq!(cards.len(), 2);
    let (_, batches) = t.get(&org.admin, "/api/v1/transfers").await;
    let batches = batches["items"].as_array().unwrap();
    assert_eq!(batches.len(), 1, "one batch");
    assert_eq!(
        (
            batches[0]["cards"].as_i64(),
            batches[0]["contacts"].as_i64(),
            batches[0]["tags"].as_i64()
        ),
        (Some(2), Some(2), Some(1))
    );
    assert!(
        batches[0]["tag_name"]
            .as_str()
            .unwrap()
            .starts_with("旧所有者: 山田 賢治 (")
    );
    assert!(
        cards
            .iter()
            .all(|c| c["tag_ids"].as_array().unwrap().contains(&batches[0]["tag_id"]))
    );
    let (_, tags) = t.get(&org.admin, "/api/v1/tags").await;
    let handed = tags["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["id"] == tag["id"])
        .unwrap()
        .clone();
    assert_eq!(handed["creator_id"], archive_id);

    // The archive account never signs in and only receives transfers.
    let got = t
        .post(
            &org.admin,
            "/api/v1/cards",
            json!({"full_name": "x", "owner_id": archive_id}),
        )
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("owner_id"));
    assert!(
        meishi::service::auth::create_token(&t.app, Some("acme"), "archive@acme.meishi.invalid", "x")
            .await
            .is_err()
    );
    assert_error(
        user_op(&t, &org, archive_id, "suspend").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );
    let (s, again) = t.post(&org.admin, "/api/v1/archive-account", json!({})).await;
    assert_eq!(
        (s, again["id"].as_str()),
        (StatusCode::OK, Some(archive_id)),
        "one per organisation"
    );
}

#[tokio::test]
async fn restore_within_the_retention_period_and_purge_after_it() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (gone, _) = t.user(&org, "gone@acme.example.jp", "退職 一郎", "member").await;
    let (later, _) = t.user(&org, "later@acme.example.jp", "退職 二郎", "member").await;
    for id in [&gone, &later] {
        let (s, _) = t
            .call(&org.admin, Method::DELETE, &format!("/api/v1/users/{id}"), None)
            .await;
        assert_eq!(s, StatusCode::OK);
    }
    t.clock.advance(chrono::Duration::days(29));
    let (s, back) = user_op(&t, &org, &gone, "restore").await;
    assert_eq!(s, StatusCode::OK, "{back}");
    assert_eq!(back["status"], "suspended");
    assert_eq!(back["display_name"], "退職 一郎(退職済み)");
    assert_error(user_op(&t, &org, &gone, "restore").await, StatusCode::CONFLICT, None);

    assert_eq!(
        meishi::service::scheduler::tick(&t.app).await.unwrap().purged,
        0,
        "29 days: still in the trash"
    );
    t.clock.advance(chrono::Duration::days(2));
    assert_error(
        user_op(&t, &org, &later, "restore").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        None,
    );
    assert_eq!(meishi::service::scheduler::tick(&t.app).await.unwrap().purged, 1);
    assert_error(
        t.get(&org.admin, &format!("/api/v1/users/{later}")).await,
        StatusCode::NOT_FOUND,
        None,
    );
    let (s, _) = t.get(&org.admin, &format!("/api/v1/users/{gone}")).await;
    assert_eq!(s, StatusCode::OK, "the restored user is kept");
    let purged = t.audit(&org, "user.purge").await;
    assert_eq!(purged.len(), 1);
    assert!(purged[0]["actor_id"].is_null());
    assert_eq!(purged[0]["before"]["email"], "later@acme.example.jp");
    assert_eq!(
        meishi::service::scheduler::tick(&t.app).await.unwrap().purged,
        0,
        "once"
    );
}

#[tokio::test]
async fn export_gives_everything_the_user_owns() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (yamada, token) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (_, other) = t.user(&org, "sato@acme.example.jp", "佐藤", "member").await;
    let card = t
        .card(
            &token,
            json!({"full_name": "顧客", "company": "株式会社サンプル", "email": "k@sample.co.jp"}),
        )
        .await;
    t.post(
        &token,
        &format!("/api/v1/cards/{card}/contacts"),
        json!({"kind": "call", "body": "電話"}),
    )
    .await;
    t.post(&token, "/api/v1/tags", json!({"name": "重要"})).await;
    let (s, export) = t.get(&token, &format!("/api/v1/users/{yamada}/export")).await;
    assert_eq!(s, StatusCode::OK, "{export}");
    assert_eq!(export["user"]["email"], "yamada@acme.example.jp");
    assert_eq!(export["cards"][0]["email"], "k@sample.co.jp");
    assert_eq!(export["contacts"][0]["body"], "電話");
    assert_eq!(export["tags"][0]["name"], "重要");
    assert_eq!(export["templates"], json!([]));
    assert_error(
        t.get(&other, &format!("/api/v1/users/{yamada}/export")).await,
        StatusCode::FORBIDDEN,
        None,
    );
    let (s, _) = t.get(&org.admin, &format!("/api/v1/users/{yamada}/export")).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn organisation_settings_and_a_new_suffix_for_the_suspended() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (id, member) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (s, o) = t.get(&member, "/api/v1/organization").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(
        (
            o["time_zone"].as_str(),
            o["retired_suffix"].as_str(),
            o["suspend_at"].as_str()
        ),
        (Some("Asia/Tokyo"), Some("(退職済み)"), Some("23:59"))
    );
    assert_eq!(o["trash_days"], 30);
    user_op(&t, &org, &id, "suspend").await;
    let patch = json!({"retired_suffix": "【退職】", "suspend_at": "18:00", "trash_days": 90, "previous_owner_tag_format": "前任: {name}"});
    let (s, o) = t
        .call(&org.admin, Method::PATCH, "/api/v1/organization", Some(patch.clone()))
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    assert_eq!(o["retired_suffix"], "【退職】");
    let (_, u) = t.get(&org.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(u["display_name"], "山田 賢治【退職】");
    let (_, u) = user_op(&t, &org, &id, "reactivate").await;
    assert_eq!(u["display_name"], "山田 賢治");
    let (_, other) = t.user(&org, "sato@acme.example.jp", "佐藤", "member").await;
    assert_error(
        t.call(&other, Method::PATCH, "/api/v1/organization", Some(patch)).await,
        StatusCode::FORBIDDEN,
        None,
    );
    // A zone name the server's time-zone database does not hold: 422.
    assert_error(
        t.call(
            &org.admin,
            Method::PATCH,
            "/api/v1/organization",
            Some(json!({"time_zone": "Mars/Olympus"})),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("time_zone"),
    );
    for (body, field) in [
        (json!({"suspend_at": "25:00"}), "suspend_at"),
        (json!({"trash_days": 0}), "trash_days"),
        (json!({"retired_suffix": ""}), "retired_suffix"),
        (
            json!({"previous_owner_tag_format": "前任"}),
            "previous_owner_tag_format",
        ),
    ] {
        assert_error(
            t.call(&org.admin, Method::PATCH, "/api/v1/organization", Some(body))
                .await,
            StatusCode::BAD_REQUEST,
            Some(field),
        );
    }
    assert_eq!(t.audit(&org, "organization.update").await.len(), 1);
}
