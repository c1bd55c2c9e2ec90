//! Nothing crosses organisations, by any route: another organisation's rows are "not found".

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn organisation_b_sees_and_touches_nothing_of_a() {
    let t = spawn().await;
    let a = t.org("alpha").await;
    let b = t.org("beta").await;
    let (a_user, a_member) = t.user(&a, "sato@alpha.example.jp", "佐藤", "member").await;
    let card = t
        .card(
            &a_member,
            json!({"full_name": "A社の顧客", "company": "株式会社アルファ"}),
        )
        .await;
    let (_, contact) = t
        .post(
            &a_member,
            &format!("/api/v1/cards/{card}/contacts"),
            json!({"kind": "call", "body": "秘密"}),
        )
        .await;
    assert!(contact["id"].is_string());
    let (_, tag) = t
        .post(&a_member, "/api/v1/tags", json!({"name": "A社タグ", "shared": true}))
        .await;
    let tag = tag["id"].as_str().unwrap().to_string();
    t.call(
        &a_member,
        Method::PUT,
        &format!("/api/v1/cards/{card}/tags/{tag}"),
        None,
    )
    .await;

    // By list and by filter.
    let (_, users) = t.get(&b.admin, "/api/v1/users").await;
    assert_eq!(users["items"].as_array().unwrap().len(), 1, "only B's own admin");
    for path in [
        "/api/v1/cards".to_string(),
        format!("/api/v1/cards?owner_id={a_user}"),
        "/api/v1/cards?company=アルファ".to_string(),
        "/api/v1/tags".to_string(),
    ] {
        let (s, v) = t.get(&b.admin, &path).await;
        assert_eq!(s, StatusCode::OK, "{path}");
        assert_eq!(v["items"].as_array().unwrap().len(), 0, "{path}: {v}");
    }
    // Another organisation's tag is no tag here (as an unknown one).
    let (s, v) = t.get(&b.admin, &format!("/api/v1/cards?tag_id={tag}")).await;
    assert_eq!(
        (s, &v["error"]["field"]),
        (StatusCode::NOT_FOUND, &json!("tag_id")),
        "{v}"
    );
    let (_, audit) = t.get(&b.admin, "/api/v1/audit?limit=500").await;
    let audit = audit["items"].as_array().unwrap();
    assert!(!audit.is_empty());
    assert!(
        audit
            .iter()
            .all(|e| e["target_id"] != card.as_str() && e["target_id"] != a_user.as_str())
    );
    let (_, filtered) = t.get(&b.admin, &format!("/api/v1/audit?target_id={card}")).await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 0);

    // By id: 404, never 403.
    for path in [
        format!("/api/v1/users/{a_user}"),
        format!("/api/v1/cards/{card}"),
        format!("/api/v1/cards/{card}/contacts"),
    ] {
        assert_error(t.get(&b.admin, &path).await, StatusCode::NOT_FOUND, None);
    }
    let card_path = format!("/api/v1/cards/{card}");
    assert_error(
        t.call(&b.admin, Method::PATCH, &card_path, Some(json!({"title": "x"})))
            .await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        t.call(&b.admin, Method::DELETE, &card_path, None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        t.post(&b.admin, &format!("{card_path}/contacts"), json!({"kind": "note"}))
            .await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_error(
        t.call(&b.admin, Method::PUT, &format!("{card_path}/tags/{tag}"), None)
            .await,
        StatusCode::NOT_FOUND,
        None,
    );
    let user_path = format!("/api/v1/users/{a_user}");
    assert_error(
        t.call(&b.admin, Method::PATCH, &user_path, Some(json!({"display_name": "x"})))
            .await,
        StatusCode::NOT_FOUND,
        None,
    );
    // B's own card cannot carry A's tag, nor be given to A's user.
    let b_card = t.card(&b.admin, json!({"full_name": "B社の顧客"})).await;
    assert_error(
        t.call(
            &b.admin,
            Method::PUT,
            &format!("/api/v1/cards/{b_card}/tags/{tag}"),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
    );
    let got = t
        .post(&b.admin, "/api/v1/cards", json!({"full_name": "x", "owner_id": a_user}))
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("owner_id"));

    // A's card is untouched.
    let (_, still) = t.get(&a.admin, &card_path).await;
    assert_eq!(still["full_name"], "A社の顧客");
    assert_eq!(still["tag_ids"], json!([tag]));
    // The same email may exist in both organisations without revealing anything.
    let (s, _) = t
        .post(
            &b.admin,
            "/api/v1/users",
            json!({"email": "sato@alpha.example.jp", "display_name": "別の佐藤"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
}
