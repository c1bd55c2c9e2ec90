use crate::harness::*;
use reqwest::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn admin_creates_lists_and_changes_users_with_audit() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (s, u) = t
        .post(
            &org.admin,
            "/api/v1/users",
            json!({"email": " Yamada@Acme.example.JP ", "display_name": "山田 賢治"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{u}");
    assert_eq!(u["email"], "yamada@acme.example.jp");
    assert_eq!(u["role"], "member");
    assert_eq!(u["status"], "active");
    let id = u["id"].as_str().unwrap();

    let (s, list) = t.get(&org.admin, "/api/v1/users").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);

    let (s, u) = t
        .call(
            &org.admin,
            Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"display_name": "山田 健司"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["display_name"], "山田 健司");

    let events = t.audit(&org, "user.update").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["before"]["display_name"], "山田 賢治");
    assert_eq!(events[0]["after"]["display_name"], "山田 健司");
    assert_eq!(events[0]["actor_id"], org.admin_id.as_str());
    assert_eq!(t.audit(&org, "user.create").await.len(), 2);
}

#[tokio::test]
async fn duplicate_email_is_a_conflict_and_changes_nothing() {
    let t = spawn().await;
    let org = t.org("acme").await;
    t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let got = t
        .post(
            &org.admin,
            "/api/v1/users",
            json!({"email": "SATO@acme.example.jp", "display_name": "別人"}),
        )
        .await;
    assert_error(got, StatusCode::CONFLICT, Some("email"));
    let (_, list) = t.get(&org.admin, "/api/v1/users").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn bad_user_input_names_the_field_and_changes_nothing() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let cases = [
        (json!({"display_name": "x"}), "email"),
        (json!({"email": "not-an-email", "display_name": "x"}), "email"),
        (json!({"email": "a@acme.example.jp"}), "display_name"),
        (
            json!({"email": "a@acme.example.jp", "display_name": "  "}),
            "display_name",
        ),
        (
            json!({"email": "a@acme.example.jp", "display_name": "x", "role": "owner"}),
            "role",
        ),
        (
            json!({"email": "a@acme.example.jp", "display_name": "x", "password": "short"}),
            "password",
        ),
        (
            json!({"email": "a@acme.example.jp", "display_name": "x", "colour": "red"}),
            "colour",
        ),
    ];
    for (body, field) in cases {
        let got = t.post(&org.admin, "/api/v1/users", body.clone()).await;
        assert_error(got, StatusCode::BAD_REQUEST, Some(field));
    }
    let (_, list) = t.get(&org.admin, "/api/v1/users").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1, "nothing was created");
    assert!(t.audit(&org, "user.create").await.len() == 1);
}

#[tokio::test]
async fn a_member_cannot_create_users_or_change_roles() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (member_id, member) = t.user(&org, "m@acme.example.jp", "メンバー", "member").await;
    let got = t
        .post(
            &member,
            "/api/v1/users",
            json!({"email": "x@acme.example.jp", "display_name": "x"}),
        )
        .await;
    assert_error(got, StatusCode::FORBIDDEN, None);
    let got = t
        .call(
            &member,
            Method::PATCH,
            &format!("/api/v1/users/{member_id}"),
            Some(json!({"role": "admin"})),
        )
        .await;
    assert_error(got, StatusCode::FORBIDDEN, None);
    let got = t
        .call(
            &member,
            Method::PATCH,
            &format!("/api/v1/users/{}", org.admin_id),
            Some(json!({"display_name": "x"})),
        )
        .await;
    assert_error(got, StatusCode::FORBIDDEN, None);
    // Members may rename themselves and read the organisation's users.
    let (s, _) = t
        .call(
            &member,
            Method::PATCH,
            &format!("/api/v1/users/{member_id}"),
            Some(json!({"display_name": "新しい名前"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let (s, _) = t.get(&member, "/api/v1/users").await;
    assert_eq!(s, StatusCode::OK);
    let got = t.get(&member, "/api/v1/audit").await;
    assert_error(got, StatusCode::FORBIDDEN, None);
}

#[tokio::test]
async fn the_last_admin_keeps_the_admin_role() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let got = t
        .call(
            &org.admin,
            Method::PATCH,
            &format!("/api/v1/users/{}", org.admin_id),
            Some(json!({"role": "member"})),
        )
        .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("role"));
}

#[tokio::test]
async fn password_sign_in_sets_a_strict_http_only_session_cookie() {
    let t = spawn().await;
    let org = t.org("acme").await;
    t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let client = reqwest::Client::builder().cookie_store(true).build().unwrap();
    let login = |password: &'static str| {
        client
            .post(format!("{}/api/v1/session", t.url))
            .json(&json!({"organization": "acme", "email": "sato@acme.example.jp", "password": password}))
            .send()
    };
    let wrong = login("wrong password").await.unwrap();
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    let unknown_org = client
        .post(format!("{}/api/v1/session", t.url))
        .json(&json!({"organization": "nosuchorg", "email": "sato@acme.example.jp", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        unknown_org.status(),
        StatusCode::UNAUTHORIZED,
        "no way to learn which organisations exist"
    );
    let res = login(PASSWORD).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    for part in ["meishi_session=", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(part), "{cookie}");
    }
    assert!(!cookie.contains("Secure"), "plain HTTP: no Secure flag");
    let me = client.get(format!("{}/api/v1/me", t.url)).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<serde_json::Value>().await.unwrap()["email"],
        "sato@acme.example.jp"
    );

    // A cookie-authenticated change from another site is refused.
    let cross = client
        .post(format!("{}/api/v1/tags", t.url))
        .header("origin", "https://evil.example.com")
        .json(&json!({"name": "x"}))
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);

    let out = client.delete(format!("{}/api/v1/session", t.url)).send().await.unwrap();
    assert_eq!(out.status(), StatusCode::NO_CONTENT);
    let me = client.get(format!("{}/api/v1/me", t.url)).send().await.unwrap();
    assert_eq!(me.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        t.audit(&org, "user.sign_in").await.len(),
        1,
        "the failed attempt opened nothing"
    );
    assert_eq!(t.audit(&org, "user.sign_out").await.len(), 1);
}

#[tokio::test]
async fn secure_cookie_behind_tls() {
    let t = spawn().await;
    t.org("acme").await;
    let res = t
        .http
        .post(format!("{}/api/v1/session", t.url))
        .header("x-forwarded-proto", "https")
        .json(&json!({"email": "admin@acme.example.jp", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        StatusCode::OK,
        "a single-organisation server needs no organisation at sign-in"
    );
    assert!(res.headers()["set-cookie"].to_str().unwrap().contains("Secure"));
}

#[tokio::test]
async fn unauthenticated_and_bad_tokens_get_401() {
    let t = spawn().await;
    t.org("acme").await;
    for token in ["", "msh_not-a-real-token"] {
        let got = t.get(token, "/api/v1/users").await;
        assert_error(got, StatusCode::UNAUTHORIZED, None);
    }
    let (s, body) = t.get("", "/healthz").await;
    assert_eq!((s, body.as_str()), (StatusCode::OK, Some("ok")));
}

#[tokio::test]
async fn openapi_document_describes_the_api() {
    let t = spawn().await;
    let (s, doc) = t.get("", "/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    for path in [
        "/api/v1/users",
        "/api/v1/users/{id}",
        "/api/v1/cards",
        "/api/v1/cards/{id}",
        "/api/v1/cards/{id}/contacts",
        "/api/v1/tags",
        "/api/v1/cards/{id}/tags/{tag_id}",
        "/api/v1/audit",
    ] {
        assert!(doc["paths"][path].is_object(), "missing {path}");
    }
    // Query parameters are documented as such, operation ids are unique, 401 is documented.
    let cards = &doc["paths"]["/api/v1/cards"]["get"];
    let limit = cards["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "limit")
        .unwrap();
    assert_eq!(limit["in"], "query");
    assert!(cards["responses"]["401"].is_object() && cards["responses"]["400"].is_object());
    let mut ids: Vec<String> = Vec::new();
    for item in doc["paths"].as_object().unwrap().values() {
        for op in item.as_object().unwrap().values() {
            if let Some(id) = op["operationId"].as_str() {
                assert!(!ids.contains(&id.to_string()), "operationId {id} twice");
                ids.push(id.to_string());
            }
        }
    }
    let res = t.http.get(format!("{}/api/docs", t.url)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let page = res.text().await.unwrap();
    assert!(page.contains("meishi API"));
    assert!(
        !page.contains("https://"),
        "the reference page loads nothing from outside the server"
    );
    let js = t
        .http
        .get(format!("{}/api/docs/scalar.js", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), StatusCode::OK);
    assert_eq!(js.headers()["content-encoding"], "gzip");
    assert!(js.bytes().await.unwrap().len() > 1_000_000, "the vendored script");
}
