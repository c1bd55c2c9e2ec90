//! SCIM 2.0 over real HTTP: the requests Microsoft Entra ID (with and without the
//! `aadOptscim062020` flag) and Okta send, as their documentation records them, and what
//! they do to offboarding: suspension at once, a departure needing action, reactivation,
//! DELETE moving everything to the archive account. Filters, paging, errors in SCIM's
//! format (never a 500), token scope and organisation isolation.

use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const CORE: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
const PATCH: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

async fn scim_token(t: &TestApp, org: &Org) -> String {
    meishi::service::scim::create_token_for_org(&t.app, Some(&org.slug), "idp")
        .await
        .expect("SCIM token")
        .1
}

/// A SCIM call: status, content type, body.
async fn scim(
    t: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, String, Value) {
    let mut req = t.http.request(method, format!("{}/scim/v2{path}", t.url));
    if !token.is_empty() {
        req = req.bearer_auth(token);
    }
    if let Some(b) = body {
        req = req.header("content-type", "application/scim+json").body(b.to_string());
    }
    let res = req.send().await.expect("request");
    let status = res.status();
    let ct = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string())
        .unwrap_or_default();
    let text = res.text().await.unwrap();
    let v = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text).unwrap_or(Value::String(text))
    };
    (status, ct, v)
}

/// Asserts a SCIM error: status, `scimType` when given, SCIM's schema and media type.
#[track_caller]
fn assert_scim_error(got: &(StatusCode, String, Value), status: StatusCode, scim_type: Option<&str>) {
    assert_eq!(got.0, status, "{}", got.2);
    assert_eq!(got.1, "application/scim+json", "{}", got.2);
    assert_eq!(
        got.2["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{}",
        got.2
    );
    assert_eq!(got.2["status"], status.as_u16().to_string(), "{}", got.2);
    if let Some(t) = scim_type {
        assert_eq!(got.2["scimType"], t, "{}", got.2);
    }
}

/// The user Entra ID creates (its documented request, trimmed of nothing meishi needs).
fn entra_user(user_name: &str, external_id: &str) -> Value {
    json!({
        "schemas": [CORE, ENTERPRISE],
        "externalId": external_id,
        "userName": user_name,
        "active": true,
        "addresses": [{"primary": true, "type": "work", "formatted": "東京都千代田区"}],
        "displayName": "山田 賢治",
        "emails": [{"primary": true, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "山田 賢治", "familyName": "山田", "givenName": "賢治"},
        "roles": [],
        "title": "営業",
        ENTERPRISE: {"department": "営業部", "employeeNumber": "1001"}
    })
}

async fn create(t: &TestApp, token: &str, body: Value) -> String {
    let (s, ct, v) = scim(t, token, Method::POST, "/Users", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(ct, "application/scim+json");
    v["id"].as_str().unwrap().to_string()
}

async fn patch(t: &TestApp, token: &str, id: &str, ops: Value) -> (StatusCode, String, Value) {
    scim(
        t,
        token,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"schemas": [PATCH], "Operations": ops})),
    )
    .await
}

async fn signed_in(t: &TestApp, org: &Org, email: &str) -> reqwest::Client {
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let res = client
        .post(format!("{}/api/v1/session", t.url))
        .json(&json!({"organization": org.slug, "email": email, "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    client
}

async fn me(t: &TestApp, client: &reqwest::Client) -> StatusCode {
    client
        .get(format!("{}/api/v1/me", t.url))
        .send()
        .await
        .unwrap()
        .status()
}

/// A provisioned user with a password, a card with a contact, a tag, an API token and a
/// console session: (id, API token, session).
async fn working_user(t: &TestApp, org: &Org, scim_token: &str, email: &str) -> (String, String, reqwest::Client) {
    let id = create(t, scim_token, entra_user(email, &format!("ext-{email}"))).await;
    let (s, v) = t
        .call(
            &org.admin,
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"password": PASSWORD})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let token = token_for(t, org, email).await;
    let card = t
        .card(&token, json!({"full_name": "顧客 一郎", "company": "取引先株式会社"}))
        .await;
    let (s, _) = t
        .post(
            &token,
            &format!("/api/v1/cards/{card}/contacts"),
            json!({"kind": "call"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, _) = t.post(&token, "/api/v1/tags", json!({"name": "重要顧客"})).await;
    assert_eq!(s, StatusCode::CREATED);
    let session = signed_in(t, org, email).await;
    assert_eq!(me(t, &session).await, StatusCode::OK);
    (id, token, session)
}

async fn departures(t: &TestApp, org: &Org, status: &str) -> Vec<Value> {
    let (s, v) = t.get(&org.admin, &format!("/api/v1/departures?status={status}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

async fn user(t: &TestApp, org: &Org, id: &str) -> Value {
    let (s, v) = t.get(&org.admin, &format!("/api/v1/users/{id}")).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v
}

#[tokio::test]
async fn entra_without_the_flag_deprovisions_with_a_string_boolean_and_provisions_again() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;

    // Entra's "Test connection": a random user by filter, an empty list.
    let (s, ct, v) = scim(
        &t,
        &idp,
        Method::GET,
        "/Users?filter=userName+eq+%22non-existent-user-f1b2c3%22",
        None,
    )
    .await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/scim+json"), "{v}");
    assert_eq!(v["totalResults"], 0);
    assert_eq!(v["Resources"], json!([]));

    let (id, token, session) = working_user(&t, &org, &idp, "yamada@acme.example.jp").await;
    let (s, _, v) = scim(&t, &idp, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["userName"], "yamada@acme.example.jp");
    assert_eq!(v["name"]["givenName"], "賢治");
    assert_eq!(v[ENTERPRISE]["department"], "営業部");
    assert_eq!(v["active"], true);

    // Unassignment: Entra's PATCH without the flag.
    let got = patch(
        &t,
        &idp,
        &id,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.2);
    assert_eq!(got.2["active"], false, "PATCH answers 200 with the resource");
    assert_eq!(got.2["displayName"], "山田 賢治", "SCIM keeps the provider's name");

    let u = user(&t, &org, &id).await;
    assert_eq!(u["status"], "suspended");
    assert_eq!(u["display_name"], "山田 賢治(退職済み)");
    assert_eq!(
        t.get(&token, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "the token stops"
    );
    assert_eq!(me(&t, &session).await, StatusCode::UNAUTHORIZED, "the session stops");

    // A departure needing action (要対応): a retirement today, no successor yet.
    let flagged = departures(&t, &org, "needs_action").await;
    assert_eq!(flagged.len(), 1, "{flagged:?}");
    let d = &flagged[0];
    assert_eq!(d["user_id"], id.as_str());
    assert_eq!(d["kind"], "retirement");
    assert_eq!(d["status"], "scheduled");
    assert_eq!(d["attention_days"], 0);
    assert_eq!(d["successor_id"], "");
    assert!(d["created_by"].as_str().unwrap().starts_with("scim:"), "{d}");
    assert!(d["suspended_at"].is_string());
    let (s, r) = t
        .get(
            &org.admin,
            &format!("/api/v1/departures/{}/readiness", d["id"].as_str().unwrap()),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "readiness of the opened departure: {r}");

    // Audited as the identity provider.
    let suspended = t.audit(&org, "user.suspend").await;
    assert_eq!(suspended.len(), 1);
    assert!(suspended[0]["actor_id"].as_str().unwrap().starts_with("scim:"));
    let opened = t.audit(&org, "departure.create").await;
    assert_eq!(opened[0]["actor_id"], suspended[0]["actor_id"]);

    // The same PATCH again changes nothing and opens nothing more.
    let again = patch(
        &t,
        &idp,
        &id,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    assert_eq!(again.0, StatusCode::OK);
    assert_eq!(t.audit(&org, "departure.create").await.len(), 1);

    // Assigned again: reactivated, the pending departure cancelled.
    let back = patch(
        &t,
        &idp,
        &id,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    )
    .await;
    assert_eq!(back.0, StatusCode::OK, "{}", back.2);
    assert_eq!(back.2["active"], true);
    let u = user(&t, &org, &id).await;
    assert_eq!(u["status"], "active");
    assert_eq!(u["display_name"], "山田 賢治");
    assert_eq!(departures(&t, &org, "cancelled").await.len(), 1);
    assert!(departures(&t, &org, "needs_action").await.is_empty());
    assert_eq!(
        t.get(&token, "/api/v1/me").await.0,
        StatusCode::UNAUTHORIZED,
        "revoked tokens stay revoked"
    );
    let (_, cards) = t.get(&org.admin, &format!("/api/v1/cards?owner_id={id}")).await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 1, "nothing moved");
}

#[tokio::test]
async fn entra_with_the_flag_replaces_without_a_path_with_dotted_and_urn_names() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let (boss, _) = t.user(&org, "boss@acme.example.jp", "上司 一郎", "member").await;
    let (id, _, _) = working_user(&t, &org, &idp, "sato@acme.example.jp").await;

    let got = patch(
        &t,
        &idp,
        &id,
        json!([
            {"op": "replace", "value": {
                "name.givenName": "花子",
                "name.familyName": "佐藤",
                "displayName": "佐藤 花子",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "経理部",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager": boss
            }},
            {"op": "Add", "path": "emails[type eq \"work\"].value", "value": "hanako@acme.example.jp"}
        ]),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.2);
    assert_eq!(got.2["name"]["givenName"], "花子");
    assert_eq!(got.2["name"]["familyName"], "佐藤");
    assert_eq!(got.2[ENTERPRISE]["department"], "経理部");
    assert_eq!(got.2[ENTERPRISE]["manager"]["value"], boss.as_str());
    assert_eq!(got.2[ENTERPRISE]["employeeNumber"], "1001", "untouched attributes stay");
    let u = user(&t, &org, &id).await;
    assert_eq!(u["display_name"], "佐藤 花子");
    assert_eq!(u["email"], "hanako@acme.example.jp");
    assert_eq!(
        t.audit(&org, "user.update").await.len(),
        2,
        "the password and this change"
    );

    // Soft delete with the flag: a replace without a path whose value holds active false.
    let got = patch(&t, &idp, &id, json!([{"op": "replace", "value": {"active": false}}])).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.2);
    assert_eq!(user(&t, &org, &id).await["status"], "suspended");
    let flagged = departures(&t, &org, "needs_action").await;
    assert_eq!(flagged.len(), 1);
    assert_eq!(flagged[0]["successor_id"], boss.as_str(), "the SCIM manager takes over");
}

#[tokio::test]
async fn okta_looks_up_creates_puts_without_active_and_deactivates_without_a_path() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let (s, _, v) = scim(
        &t,
        &idp,
        Method::GET,
        "/Users?filter=userName%20eq%20%22tanaka%40acme.example.jp%22&startIndex=1&count=100",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["totalResults"], 0);
    // Okta's documented create.
    let id = create(
        &t,
        &idp,
        json!({
            "schemas": [CORE],
            "userName": "tanaka@acme.example.jp",
            "name": {"givenName": "Jiro", "familyName": "Tanaka"},
            "emails": [{"primary": true, "value": "tanaka@acme.example.jp", "type": "work"}],
            "displayName": "Jiro Tanaka",
            "locale": "ja-JP",
            "externalId": "00u1abcd",
            "groups": [],
            "password": "ignored-by-meishi",
            "active": true
        }),
    )
    .await;
    let (s, _, v) = scim(
        &t,
        &idp,
        Method::GET,
        "/Users?filter=userName%20eq%20%22TANAKA%40acme.example.jp%22",
        None,
    )
    .await;
    assert_eq!(
        (s, v["totalResults"].as_i64()),
        (StatusCode::OK, Some(1)),
        "userName is case-insensitive"
    );
    assert_eq!(v["Resources"][0]["id"], id.as_str());

    // A custom integration PUTs the whole user without `active`: the user stays active.
    let (s, _, v) = scim(
        &t,
        &idp,
        Method::PUT,
        &format!("/Users/{id}"),
        Some(json!({
            "schemas": [CORE],
            "id": id,
            "userName": "tanaka@acme.example.jp",
            "name": {"givenName": "Jiro", "familyName": "Tanaka"},
            "emails": [{"primary": true, "value": "tanaka@acme.example.jp", "type": "work"}],
            "displayName": "田中 次郎"
        })),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["active"], true);
    let u = user(&t, &org, &id).await;
    assert_eq!(
        (u["status"].as_str(), u["display_name"].as_str()),
        (Some("active"), Some("田中 次郎"))
    );

    // Okta's deactivation: a PATCH without a path.
    let got = patch(&t, &idp, &id, json!([{"op": "replace", "value": {"active": false}}])).await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.2);
    assert_eq!(got.2["active"], false);
    assert_eq!(user(&t, &org, &id).await["status"], "suspended");
    let flagged = departures(&t, &org, "needs_action").await;
    assert_eq!(flagged.len(), 1);
    // …and its reactivation.
    let got = patch(&t, &idp, &id, json!([{"op": "replace", "value": {"active": true}}])).await;
    assert_eq!(got.0, StatusCode::OK);
    assert_eq!(user(&t, &org, &id).await["status"], "active");
    assert_eq!(departures(&t, &org, "cancelled").await.len(), 1);
    // A PUT that says active false deprovisions too.
    let (s, _, _) = scim(
        &t,
        &idp,
        Method::PUT,
        &format!("/Users/{id}"),
        Some(json!({"schemas": [CORE], "userName": "tanaka@acme.example.jp", "active": false})),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(user(&t, &org, &id).await["status"], "suspended");
}

#[tokio::test]
async fn delete_moves_everything_to_the_archive_in_one_batch_then_to_the_trash() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let (id, token, _) = working_user(&t, &org, &idp, "yamada@acme.example.jp").await;
    let second = t
        .card(&token, json!({"full_name": "顧客 二郎", "company": "別会社"}))
        .await;
    // Entra first soft-deletes (PATCH active false), then DELETEs 30 days later.
    assert_eq!(
        patch(
            &t,
            &idp,
            &id,
            json!([{"op": "Replace", "path": "active", "value": "False"}])
        )
        .await
        .0,
        StatusCode::OK
    );
    let (s, _, v) = scim(&t, &idp, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let gone = scim(&t, &idp, Method::GET, &format!("/Users/{id}"), None).await;
    assert_scim_error(&gone, StatusCode::NOT_FOUND, None);
    let again = scim(&t, &idp, Method::DELETE, &format!("/Users/{id}"), None).await;
    assert_scim_error(&again, StatusCode::NOT_FOUND, None);

    // In the trash, nothing lost: the two cards, their contact and the tag are the archive's.
    let u = user(&t, &org, &id).await;
    assert_eq!(u["status"], "deleted");
    let (s, archive) = t.get(&org.admin, "/api/v1/archive-account").await;
    assert_eq!(s, StatusCode::OK);
    let archive_id = archive["id"].as_str().unwrap();
    let (_, cards) = t.get(&org.admin, &format!("/api/v1/cards?owner_id={archive_id}")).await;
    assert_eq!(cards["items"].as_array().unwrap().len(), 2);
    let (_, c) = t.get(&org.admin, &format!("/api/v1/cards/{second}")).await;
    assert_eq!(c["owner_id"], archive_id);
    let (_, batches) = t.get(&org.admin, "/api/v1/transfers").await;
    let batches = batches["items"].as_array().unwrap();
    assert_eq!(batches.len(), 1, "one batch");
    assert_eq!(
        (
            batches[0]["cards"].as_i64(),
            batches[0]["contacts"].as_i64(),
            batches[0]["tags"].as_i64()
        ),
        (Some(2), Some(1), Some(1))
    );
    assert!(
        batches[0]["tag_name"]
            .as_str()
            .unwrap()
            .starts_with("旧所有者: 山田 賢治 ("),
        "{}",
        batches[0]
    );
    assert!(
        batches[0]["actor_id"].as_str().unwrap().starts_with("scim:"),
        "{}",
        batches[0]
    );
    let deleted = t.audit(&org, "user.delete").await;
    assert!(deleted[0]["actor_id"].as_str().unwrap().starts_with("scim:"));
    // The departure it had opened is settled; the user can be restored (never purged by SCIM).
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/users/{id}/restore"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // A user who owns nothing goes straight to the trash, no batch.
    let empty = create(&t, &idp, entra_user("empty@acme.example.jp", "ext-empty")).await;
    let (s, _, _) = scim(&t, &idp, Method::DELETE, &format!("/Users/{empty}"), None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(user(&t, &org, &empty).await["status"], "deleted");
    let (_, batches) = t.get(&org.admin, "/api/v1/transfers").await;
    assert_eq!(batches["items"].as_array().unwrap().len(), 1);
}

async fn names(t: &TestApp, idp: &str, filter: &str) -> Vec<String> {
    let path = format!("/Users?filter={}&sortBy=userName", urlencode(filter));
    let (s, _, v) = scim(t, idp, Method::GET, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{filter}: {v}");
    let mut out: Vec<String> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["userName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(v["totalResults"].as_u64(), Some(out.len() as u64), "{filter}");
    out.sort();
    out
}

fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn filters_on_the_listed_attributes_and_paging() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    for (n, ext) in [("alice", "E1"), ("bob", "E2"), ("carol", "E3"), ("dave", "")] {
        let mut body = json!({
            "schemas": [CORE],
            "userName": format!("{n}@corp.example.jp"),
            "displayName": format!("{n} Example"),
            "emails": [{"value": format!("{n}.mail@corp.example.jp"), "primary": true}],
        });
        if !ext.is_empty() {
            body["externalId"] = json!(ext);
        }
        create(&t, &idp, body).await;
    }
    let carol = names(&t, &idp, "userName eq \"carol@corp.example.jp\"").await;
    assert_eq!(carol, ["carol@corp.example.jp"]);
    let (s, _, v) = scim(
        &t,
        &idp,
        Method::GET,
        "/Users?filter=userName%20eq%20%22carol%40corp.example.jp%22",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let carol_id = v["Resources"][0]["id"].as_str().unwrap().to_string();
    patch(
        &t,
        &idp,
        &carol_id,
        json!([{"op": "replace", "path": "active", "value": false}]),
    )
    .await;

    let all = |v: &[&str]| v.iter().map(|n| format!("{n}@corp.example.jp")).collect::<Vec<_>>();
    assert_eq!(
        names(&t, &idp, "userName sw \"al\" or userName sw \"b\"").await,
        all(&["alice", "bob"])
    );
    assert_eq!(
        names(&t, &idp, "userName co \"AR\"").await,
        all(&["carol"]),
        "co, any case"
    );
    assert_eq!(
        names(&t, &idp, "userName ew \"@corp.example.jp\" and externalId eq \"E2\"").await,
        all(&["bob"])
    );
    assert_eq!(names(&t, &idp, "externalId pr").await, all(&["alice", "bob", "carol"]));
    let no_external = names(&t, &idp, "not (externalId pr)").await;
    assert_eq!(
        no_external,
        ["admin@acme.example.jp", "dave@corp.example.jp"],
        "the admin too"
    );
    assert_eq!(
        names(&t, &idp, "externalId ne \"E1\" and userName ew \"corp.example.jp\"").await,
        all(&["bob", "carol", "dave"])
    );
    assert_eq!(
        names(&t, &idp, "emails.value eq \"bob.mail@corp.example.jp\"").await,
        all(&["bob"])
    );
    assert_eq!(names(&t, &idp, "emails[value co \"dave.\"]").await, all(&["dave"]));
    assert_eq!(names(&t, &idp, "emails co \"ALICE\"").await, all(&["alice"]));
    assert_eq!(names(&t, &idp, "active eq false").await, all(&["carol"]));
    assert_eq!(
        names(&t, &idp, "active eq true and userName ne \"admin@acme.example.jp\"").await,
        all(&["alice", "bob", "dave"])
    );
    assert_eq!(names(&t, &idp, "displayName eq \"BOB example\"").await, all(&["bob"]));
    assert_eq!(
        names(
            &t,
            &idp,
            "(displayName sw \"a\" or displayName sw \"d\") and active eq true"
        )
        .await,
        all(&["alice", "dave"])
    );
    assert!(names(&t, &idp, "userName eq \"nobody\"").await.is_empty());

    // Paging: 5 users (the admin too), sorted by userName, two at a time.
    let mut seen = Vec::new();
    for start in [1, 3, 5] {
        let (s, _, v) = scim(
            &t,
            &idp,
            Method::GET,
            &format!("/Users?startIndex={start}&count=2&sortBy=userName"),
            None,
        )
        .await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(v["totalResults"], 5);
        assert_eq!(v["startIndex"], start);
        assert_eq!(v["itemsPerPage"], if start == 5 { 1 } else { 2 });
        seen.extend(
            v["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["userName"].as_str().unwrap().to_string()),
        );
    }
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    assert_eq!(seen.len(), 5);
    let (_, _, v) = scim(&t, &idp, Method::GET, "/Users?count=0", None).await;
    assert_eq!(
        (v["totalResults"].as_i64(), v["Resources"].as_array().map(Vec::len)),
        (Some(5), Some(0))
    );
    let (_, _, v) = scim(&t, &idp, Method::GET, "/Users?startIndex=99", None).await;
    assert_eq!(
        (v["totalResults"].as_i64(), v["itemsPerPage"].as_i64()),
        (Some(5), Some(0))
    );
    // The same search as POST /.search.
    let (s, _, v) = scim(
        &t,
        &idp,
        Method::POST,
        "/Users/.search",
        Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"d\"", "count": 10})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["totalResults"], 1);
}

#[tokio::test]
async fn bad_filters_paths_values_and_collisions_are_scim_errors_never_500() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let id = create(&t, &idp, entra_user("a@acme.example.jp", "X1")).await;

    for filter in [
        "userName eq",
        "userName xx \"a\"",
        "((userName eq \"a\"",
        "nickName eq \"x\"",
        "name.givenName eq \"x\"",
        "active gt true",
        "userName eq 12",
    ] {
        let got = scim(
            &t,
            &idp,
            Method::GET,
            &format!("/Users?filter={}", urlencode(filter)),
            None,
        )
        .await;
        assert_scim_error(&got, StatusCode::BAD_REQUEST, Some("invalidFilter"));
    }
    let bad_number = scim(&t, &idp, Method::GET, "/Users?count=many", None).await;
    assert_scim_error(&bad_number, StatusCode::BAD_REQUEST, Some("invalidValue"));

    // userName taken (without regard to case), also by an admin-made user's e-mail.
    let taken = scim(
        &t,
        &idp,
        Method::POST,
        "/Users",
        Some(entra_user("A@acme.example.jp", "X2")),
    )
    .await;
    assert_scim_error(&taken, StatusCode::CONFLICT, Some("uniqueness"));
    let admins = scim(
        &t,
        &idp,
        Method::POST,
        "/Users",
        Some(entra_user("admin@acme.example.jp", "X3")),
    )
    .await;
    assert_scim_error(&admins, StatusCode::CONFLICT, Some("uniqueness"));
    let other = create(&t, &idp, entra_user("b@acme.example.jp", "X4")).await;
    let renamed = patch(
        &t,
        &idp,
        &other,
        json!([{"op": "replace", "path": "userName", "value": "a@acme.example.jp"}]),
    )
    .await;
    assert_scim_error(&renamed, StatusCode::CONFLICT, Some("uniqueness"));

    let no_name = scim(
        &t,
        &idp,
        Method::POST,
        "/Users",
        Some(json!({"schemas": [CORE], "displayName": "x"})),
    )
    .await;
    assert_scim_error(&no_name, StatusCode::BAD_REQUEST, Some("invalidValue"));
    let not_json = t
        .http
        .post(format!("{}/scim/v2/Users", t.url))
        .bearer_auth(&idp)
        .header("content-type", "application/scim+json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(not_json.status(), StatusCode::BAD_REQUEST);
    let v: Value = not_json.json().await.unwrap();
    assert_eq!(v["scimType"], "invalidSyntax");
    let wrong_type = scim(
        &t,
        &idp,
        Method::POST,
        "/Users",
        Some(json!({"schemas": [CORE], "userName": 5})),
    )
    .await;
    assert_scim_error(&wrong_type, StatusCode::BAD_REQUEST, Some("invalidValue"));

    for (ops, kind) in [
        (
            json!([{"op": "replace", "path": "nickName", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "name.middle", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "emails[type eq", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "path": "urn:example:unknown:User:x", "value": "x"}]),
            "invalidPath",
        ),
        (
            json!([{"op": "replace", "value": {"favouriteColour": "blue"}}]),
            "invalidPath",
        ),
        (json!([{"op": "replace", "path": "id", "value": "x"}]), "mutability"),
        (
            json!([{"op": "replace", "path": "active", "value": "maybe"}]),
            "invalidValue",
        ),
        (json!([{"op": "remove", "path": "userName"}]), "invalidValue"),
        (json!([{"op": "remove", "path": "active"}]), "invalidValue"),
        (
            json!([{"op": "move", "path": "userName", "value": "x"}]),
            "invalidSyntax",
        ),
        (json!([{"op": "add", "path": "title"}]), "invalidValue"),
    ] {
        let got = patch(&t, &idp, &id, ops.clone()).await;
        assert_scim_error(&got, StatusCode::BAD_REQUEST, Some(kind));
    }
    let no_schema = scim(
        &t,
        &idp,
        Method::PATCH,
        &format!("/Users/{id}"),
        Some(json!({"Operations": []})),
    )
    .await;
    assert_scim_error(&no_schema, StatusCode::BAD_REQUEST, Some("invalidSyntax"));
    // Nothing changed by the refused operations.
    let (_, _, v) = scim(&t, &idp, Method::GET, &format!("/Users/{id}"), None).await;
    assert_eq!(v["userName"], "a@acme.example.jp");
    assert_eq!(v["active"], true);

    let unknown = scim(
        &t,
        &idp,
        Method::GET,
        "/Users/00000000-0000-0000-0000-000000000000",
        None,
    )
    .await;
    assert_scim_error(&unknown, StatusCode::NOT_FOUND, None);
    let groups = scim(&t, &idp, Method::GET, "/Groups", None).await;
    assert_scim_error(&groups, StatusCode::NOT_FOUND, None);

    // The last active administrator cannot be deprovisioned: a SCIM error, not a 500.
    let (_, _, admin) = scim(
        &t,
        &idp,
        Method::GET,
        "/Users?filter=userName%20eq%20%22admin%40acme.example.jp%22",
        None,
    )
    .await;
    let admin_id = admin["Resources"][0]["id"].as_str().unwrap().to_string();
    let last = patch(
        &t,
        &idp,
        &admin_id,
        json!([{"op": "replace", "value": {"active": false}}]),
    )
    .await;
    assert_scim_error(&last, StatusCode::BAD_REQUEST, None);
    assert_eq!(user(&t, &org, &admin_id).await["status"], "active");
}

#[tokio::test]
async fn attribute_selection_and_the_enterprise_extension_as_a_whole() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let id = create(&t, &idp, entra_user("a@acme.example.jp", "X1")).await;
    let (_, _, v) = scim(
        &t,
        &idp,
        Method::GET,
        &format!("/Users/{id}?attributes=userName,name.givenName,{ENTERPRISE}:department"),
        None,
    )
    .await;
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "id, schemas and what was asked: {v}");
    assert_eq!(v["name"], json!({"givenName": "賢治"}));
    assert_eq!(v[ENTERPRISE], json!({"department": "営業部"}));
    let (_, _, v) = scim(&t, &idp, Method::GET, "/Users?excludedAttributes=name,emails,id", None).await;
    for r in v["Resources"].as_array().unwrap() {
        assert!(r["name"].is_null() && r["emails"].is_null(), "{r}");
        assert!(r["id"].is_string(), "id is always returned");
    }
    // PATCH on the extension as a whole (scim2-tester does this), then its removal.
    let got = patch(
        &t,
        &idp,
        &id,
        json!([{"op": "replace", "path": ENTERPRISE, "value": {"schemas": [ENTERPRISE], "department": "経理部", "employeeNumber": "2002"}}]),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.2);
    assert_eq!(
        got.2[ENTERPRISE],
        json!({"department": "経理部", "employeeNumber": "2002"})
    );
    let got = patch(&t, &idp, &id, json!([{"op": "remove", "path": ENTERPRISE}])).await;
    assert_eq!(got.0, StatusCode::OK);
    assert!(got.2[ENTERPRISE].is_null());
    assert_eq!(got.2["schemas"], json!([CORE]));
}

#[tokio::test]
async fn discovery_documents_say_what_is_offered() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let (s, ct, v) = scim(&t, &idp, Method::GET, "/ServiceProviderConfig", None).await;
    assert_eq!((s, ct.as_str()), (StatusCode::OK, "application/scim+json"));
    assert_eq!(v["patch"]["supported"], true);
    assert_eq!(v["bulk"]["supported"], false);
    assert_eq!(v["filter"]["supported"], true);
    assert_eq!(v["authenticationSchemes"][0]["type"], "oauthbearertoken");
    let (_, _, v) = scim(&t, &idp, Method::GET, "/ResourceTypes", None).await;
    assert_eq!(v["totalResults"], 1, "Users only, no Groups");
    assert_eq!(v["Resources"][0]["schemaExtensions"][0]["schema"], ENTERPRISE);
    let (_, _, v) = scim(&t, &idp, Method::GET, "/Schemas", None).await;
    let ids: Vec<&str> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [CORE, ENTERPRISE]);
    let (s, _, v) = scim(&t, &idp, Method::GET, &format!("/Schemas/{ENTERPRISE}"), None).await;
    assert_eq!(s, StatusCode::OK);
    let attrs: Vec<&str> = v["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(attrs, ["employeeNumber", "department", "manager"]);
}

#[tokio::test]
async fn tokens_open_only_their_own_door_and_revoked_ones_none() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (idp_token, idp) = meishi::service::scim::create_token_for_org(&t.app, Some("acme"), "okta")
        .await
        .unwrap();
    assert_eq!(scim(&t, &idp, Method::GET, "/Users", None).await.0, StatusCode::OK);
    // A SCIM token is no API token, and an API token no SCIM token.
    assert_eq!(t.get(&idp, "/api/v1/me").await.0, StatusCode::UNAUTHORIZED);
    assert_eq!(t.get(&idp, "/api/v1/users").await.0, StatusCode::UNAUTHORIZED);
    let api = scim(&t, &org.admin, Method::GET, "/Users", None).await;
    assert_scim_error(&api, StatusCode::UNAUTHORIZED, None);
    let none = scim(&t, "", Method::GET, "/ServiceProviderConfig", None).await;
    assert_scim_error(&none, StatusCode::UNAUTHORIZED, None);
    // Revoked: refused at once; audited both ways.
    meishi::service::scim::revoke_token_for_org(&t.app, Some("acme"), &idp_token.id)
        .await
        .unwrap();
    let revoked = scim(&t, &idp, Method::GET, "/Users", None).await;
    assert_scim_error(&revoked, StatusCode::UNAUTHORIZED, None);
    assert_eq!(t.audit(&org, "scim_token.create").await.len(), 1);
    assert_eq!(t.audit(&org, "scim_token.revoke").await.len(), 1);
    let created = &t.audit(&org, "scim_token.create").await[0];
    assert!(!created.to_string().contains(&idp), "the secret is never audited");
}

#[tokio::test]
async fn an_organisations_token_sees_and_changes_only_its_organisations_users() {
    let t = spawn().await;
    let a = t.org("acme").await;
    let b = t.org("beta").await;
    let idp_a = scim_token(&t, &a).await;
    let idp_b = scim_token(&t, &b).await;
    let in_b = create(&t, &idp_b, entra_user("same@example.jp", "B1")).await;
    // The same userName is free in another organisation.
    let in_a = create(&t, &idp_a, entra_user("same@example.jp", "A1")).await;
    let (_, _, v) = scim(
        &t,
        &idp_a,
        Method::GET,
        "/Users?filter=externalId%20eq%20%22B1%22",
        None,
    )
    .await;
    assert_eq!(v["totalResults"], 0);
    let (_, _, v) = scim(&t, &idp_a, Method::GET, "/Users", None).await;
    assert_eq!(v["totalResults"], 2, "acme's admin and its user");
    assert!(
        v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["id"] != in_b.as_str())
    );
    assert_scim_error(
        &scim(&t, &idp_a, Method::GET, &format!("/Users/{in_b}"), None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_scim_error(
        &patch(
            &t,
            &idp_a,
            &in_b,
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_scim_error(
        &scim(&t, &idp_a, Method::DELETE, &format!("/Users/{in_b}"), None).await,
        StatusCode::NOT_FOUND,
        None,
    );
    assert_eq!(user(&t, &b, &in_b).await["status"], "active");
    assert_eq!(user(&t, &a, &in_a).await["status"], "active");
}

#[tokio::test]
async fn every_request_is_noted_in_a_bounded_log() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    for _ in 0..105 {
        scim(&t, &idp, Method::GET, "/Users?filter=userName%20eq%20%22x%22", None).await;
    }
    scim(&t, &idp, Method::GET, "/Users?filter=bad", None).await;
    let admin = meishi::service::Actor {
        org_id: org_id(&t, &org).await,
        user_id: org.admin_id.clone(),
        role: meishi::domain::Role::Admin,
        session: None,
    };
    let log = meishi::service::scim::recent_requests(&t.app, &admin, 1000)
        .await
        .unwrap();
    assert_eq!(log.len(), 100, "the newest 100 kept");
    assert_eq!(log[0].status, 400);
    assert_eq!(log[0].operation, "GET /Users?filter=bad");
    assert!(!log[0].detail.is_empty());
    assert_eq!(log[1].status, 200);
    let tokens = meishi::service::scim::tokens(&t.app, &admin).await.unwrap();
    assert!(tokens[0].last_used_at.is_some());
}

async fn org_id(t: &TestApp, org: &Org) -> String {
    meishi::service::auth::resolve_org(&t.app, Some(&org.slug))
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn the_opened_departure_falls_due_at_the_days_end_and_a_later_reactivation_completes_it() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let (id, _, _) = working_user(&t, &org, &idp, "yamada@acme.example.jp").await;
    patch(
        &t,
        &idp,
        &id,
        json!([{"op": "Replace", "path": "active", "value": "False"}]),
    )
    .await;
    let d = departures(&t, &org, "needs_action").await.remove(0);
    let moment: chrono::DateTime<chrono::Utc> = d["suspend_moment"].as_str().unwrap().parse().unwrap();
    t.clock.set(moment + chrono::Duration::minutes(1));
    meishi::service::scheduler::tick(&t.app).await.expect("tick");
    let after = departures(&t, &org, "needs_action").await;
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0]["status"], "needs_action",
        "suspended, still holding: 要対応 until handed over"
    );
    assert_eq!(user(&t, &org, &id).await["status"], "suspended");
    // No longer pending: the provider's reactivation brings the user back and the departure
    // is settled (done), not cancelled.
    let back = patch(
        &t,
        &idp,
        &id,
        json!([{"op": "Replace", "path": "active", "value": "True"}]),
    )
    .await;
    assert_eq!(back.0, StatusCode::OK, "{}", back.2);
    assert_eq!(user(&t, &org, &id).await["status"], "active");
    assert_eq!(departures(&t, &org, "done").await.len(), 1);
    assert!(departures(&t, &org, "cancelled").await.is_empty());
}

/// Raced on the engine under test (PostgreSQL is where a check and its write could
/// interleave): eight creates of one userName at once make one user and seven `uniqueness`
/// conflicts; eight deactivations at once suspend once and open one departure. Never a 500.
#[tokio::test]
async fn racing_requests_make_one_user_and_one_departure() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let url = format!("{}/scim/v2", t.url);
    let send = |method: reqwest::Method, path: String, body: Value| {
        let (client, url, idp) = (t.http.clone(), url.clone(), idp.clone());
        tokio::spawn(async move {
            client
                .request(method, format!("{url}{path}"))
                .bearer_auth(idp)
                .header("content-type", "application/scim+json")
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
        })
    };
    let creates: Vec<_> = (0..8)
        .map(|i| {
            let name = if i % 2 == 0 {
                "race@acme.example.jp"
            } else {
                "RACE@acme.example.jp"
            };
            send(
                Method::POST,
                "/Users".into(),
                json!({"schemas": [CORE], "userName": name}),
            )
        })
        .collect();
    let mut statuses = Vec::new();
    for c in creates {
        statuses.push(c.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::CREATED).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::CONFLICT).count(),
        7,
        "{statuses:?}"
    );
    let (_, _, v) = scim(
        &t,
        &idp,
        Method::GET,
        "/Users?filter=userName%20eq%20%22race%40acme.example.jp%22",
        None,
    )
    .await;
    assert_eq!(v["totalResults"], 1);
    let id = v["Resources"][0]["id"].as_str().unwrap().to_string();

    let off = json!({"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": false}}]});
    let patches: Vec<_> = (0..8)
        .map(|_| send(Method::PATCH, format!("/Users/{id}"), off.clone()))
        .collect();
    for p in patches {
        assert_eq!(p.await.unwrap(), StatusCode::OK);
    }
    assert_eq!(t.audit(&org, "user.suspend").await.len(), 1, "suspended once");
    assert_eq!(t.audit(&org, "departure.create").await.len(), 1, "one departure");
}

#[tokio::test]
async fn a_departure_opened_without_a_successor_gets_one_before_its_plan_is_approved() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let (heir, _) = t.user(&org, "heir@acme.example.jp", "後任 次郎", "member").await;
    let (id, _, _) = working_user(&t, &org, &idp, "yamada@acme.example.jp").await;
    patch(&t, &idp, &id, json!([{"op": "replace", "value": {"active": false}}])).await;
    let d = departures(&t, &org, "needs_action").await.remove(0);
    let path = format!("/api/v1/departures/{}", d["id"].as_str().unwrap());
    let (s, v) = t
        .call(
            &org.admin,
            Method::PUT,
            &format!("{path}/plan"),
            Some(json!({"items": []})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let refused = t.post(&org.admin, &format!("{path}/plan/approve"), json!({})).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, Some("successor_id"));
    let (s, v) = t
        .call(&org.admin, Method::PATCH, &path, Some(json!({"successor_id": heir})))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t.post(&org.admin, &format!("{path}/plan/approve"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, v) = t.post(&org.admin, &format!("{path}/plan/execute"), json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, cards) = t.get(&org.admin, &format!("/api/v1/cards?owner_id={heir}")).await;
    assert_eq!(
        cards["items"].as_array().unwrap().len(),
        1,
        "handed over to the named successor"
    );
}

#[tokio::test]
async fn an_attribute_update_leaves_a_departure_an_admin_kept_after_reactivating_by_hand() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let idp = scim_token(&t, &org).await;
    let (id, _, _) = working_user(&t, &org, &idp, "yamada@acme.example.jp").await;
    patch(&t, &idp, &id, json!([{"op": "replace", "value": {"active": false}}])).await;
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/users/{id}/reactivate"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let got = patch(
        &t,
        &idp,
        &id,
        json!([{"op": "replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "総務部"}]),
    )
    .await;
    assert_eq!(got.0, StatusCode::OK, "{}", got.2);
    assert_eq!(departures(&t, &org, "needs_action").await.len(), 1, "still on the desk");
    assert!(departures(&t, &org, "cancelled").await.is_empty());
}
