//! Issue 16, hardening: what an attacker or a careless client finds, through the real
//! interface on both engines. Sign-in throttling and sessions, input refused cleanly at the
//! edge, the CSV export's formula guard, the security headers.

use crate::console::Browser;
use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A sign-in over the API, as a script sends it; `from` is the client address a trusted
/// proxy (the test's loopback peer) reports.
async fn sign_in(
    t: &TestApp,
    org: &Org,
    email: &str,
    password: &str,
    from: &str,
) -> (StatusCode, Option<String>, Value) {
    let res = t
        .http
        .post(format!("{}/api/v1/session", t.url))
        .header("x-forwarded-for", from)
        .json(&json!({"organization": org.slug, "email": email, "password": password}))
        .send()
        .await
        .unwrap();
    let status = res.status();
    let retry = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_string());
    (status, retry, res.json().await.unwrap_or(Value::Null))
}

/// The console's sign-in form as `b` posts it, with `headers` (a proxy's, an Origin).
async fn console_login(
    t: &TestApp,
    b: &Browser,
    headers: &[(&str, &str)],
    email: &str,
    next: Option<&str>,
) -> reqwest::Response {
    let mut req = b.client.post(format!("{}/login", t.url));
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut fields = vec![("email", email), ("password", PASSWORD), ("organization", "")];
    fields.extend(next.map(|n| ("next", n)));
    req.form(&fields).send().await.unwrap()
}

fn session_cookie(res: &reqwest::Response) -> Option<String> {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("meishi_session=") && !c.starts_with("meishi_session=;"))
        .map(|c| c.split(';').next().unwrap().to_string())
}

#[tokio::test]
async fn sign_in_is_throttled_per_account_with_the_same_answers_for_an_unknown_one() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (_, member) = t.user(&org, "hanako@acme.example.jp", "花子", "member").await;
    let admin = "admin@acme.example.jp";
    let nobody = "nobody@acme.example.jp";
    // Five failures cost nothing; then the next attempt must wait, even with the right password.
    let mut answers = Vec::new();
    for email in [admin, nobody] {
        let mut seen = Vec::new();
        for _ in 0..5 {
            let (s, retry, body) = sign_in(&t, &org, email, "wrong password!", "192.0.2.1").await;
            seen.push((s, retry, body));
        }
        let (s, retry, body) = sign_in(&t, &org, email, PASSWORD, "192.0.2.1").await;
        seen.push((s, retry, body));
        answers.push(seen);
    }
    for (s, retry, body) in &answers[0][..5] {
        assert_eq!(*s, StatusCode::UNAUTHORIZED, "{body}");
        assert!(retry.is_none());
    }
    let (s, retry, body) = &answers[0][5];
    assert_eq!(*s, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(retry.as_deref(), Some("1"));
    assert_eq!(body["error"]["code"], "too_many_requests");
    // The account that does not exist answers exactly the same.
    assert_eq!(answers[0], answers[1]);

    // The delays grow as the failures go on, then the account is locked.
    let mut waits = vec![];
    loop {
        let (s, retry, body) = sign_in(&t, &org, admin, "wrong password!", "192.0.2.1").await;
        match s {
            StatusCode::UNAUTHORIZED => continue,
            StatusCode::TOO_MANY_REQUESTS => {
                let secs: i64 = retry.unwrap().parse().unwrap();
                waits.push(secs);
                if secs >= 900 {
                    break;
                }
                t.clock.advance(chrono::Duration::seconds(secs));
            }
            other => panic!("{other}: {body}"),
        }
    }
    assert_eq!(waits, [1, 2, 4, 8, 16, 900]);
    let locks = t.audit(&org, "sign_in.lock").await;
    assert_eq!(locks.len(), 1, "{locks:?}");
    assert_eq!(locks[0]["after"]["subject"], admin);
    assert!(!t.audit(&org, "user.sign_in_failed").await.is_empty());

    // The admin sees the lock (a member may not) and lifts it: the right password works again.
    assert_error(
        t.get(&member, "/api/v1/sign-in-locks").await,
        StatusCode::FORBIDDEN,
        None,
    );
    let (s, list) = t.get(&org.admin, "/api/v1/sign-in-locks").await;
    assert_eq!(s, StatusCode::OK, "{list}");
    let lock = list
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["subject"] == admin)
        .expect("the admin's lock is listed")
        .clone();
    assert_eq!(lock["kind"], "account");
    assert_eq!(lock["failures"], 10);
    let id = lock["id"].as_str().unwrap();
    let (s, _) = t
        .call(
            &org.admin,
            reqwest::Method::DELETE,
            &format!("/api/v1/sign-in-locks/{id}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(t.audit(&org, "sign_in.unlock").await.len(), 1);
    let (s, _, body) = sign_in(&t, &org, admin, PASSWORD, "192.0.2.1").await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // Keys whose failures no longer count are deleted by the scheduler (made-up names too).
    let rows = || async {
        meishi::store::count(t.app.store.conn(), "SELECT COUNT(*) FROM sign_in_throttle", vec![])
            .await
            .unwrap()
    };
    assert!(rows().await >= 3);
    t.clock.advance(chrono::Duration::hours(2));
    meishi::service::scheduler::tick(&t.app).await.unwrap();
    assert_eq!(rows().await, 0);
}

#[tokio::test]
async fn concurrent_wrong_passwords_get_no_more_tries_than_one_after_another() {
    let t = spawn().await;
    let org = t.org("acme").await;
    // Twenty at once, each on another address: the account's count is taken under its row's
    // lock, so exactly the five free failures are tried (the clock stands still) and the rest wait.
    let tries = (0..20).map(|i| {
        let (t, org) = (&t, &org);
        async move {
            sign_in(
                t,
                org,
                "admin@acme.example.jp",
                "wrong password!",
                &format!("192.0.2.{}", i + 1),
            )
            .await
            .0
        }
    });
    let answers = futures_util::future::join_all(tries).await;
    let tried = answers.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let waited = answers.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((tried, waited), (5, 15), "{answers:?}");
}

#[tokio::test]
async fn sign_in_is_throttled_per_client_address_and_the_console_says_so() {
    let t = spawn().await;
    let org = t.org("acme").await;
    // Twenty failures from one address, each on another account, cost nothing ...
    for i in 0..20 {
        let (s, _, body) = sign_in(
            &t,
            &org,
            &format!("u{i}@acme.example.jp"),
            "wrong password!",
            "198.51.100.7",
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{body}");
    }
    // ... then that address waits, whichever account it tries; another address does not.
    let (s, retry, _) = sign_in(&t, &org, "admin@acme.example.jp", PASSWORD, "198.51.100.7").await;
    assert_eq!(s, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry.as_deref(), Some("1"));
    let (s, _, body) = sign_in(&t, &org, "admin@acme.example.jp", PASSWORD, "198.51.100.8").await;
    assert_eq!(s, StatusCode::OK, "{body}");

    // The console's sign-in page tells why, in the page's language, with Retry-After.
    for (lang, text) in [
        ("ja", "サインインの試行が多すぎる"),
        ("en", "Too many sign-in attempts"),
    ] {
        let from = [("accept-language", lang), ("x-forwarded-for", "198.51.100.7")];
        let res = console_login(&t, &Browser::new(&t, lang), &from, "admin@acme.example.jp", None).await;
        assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
        assert!(res.headers().get("retry-after").is_some());
        let html = res.text().await.unwrap();
        assert!(html.contains(text), "{html}");
    }

    // The admin sees the address on the users page and lifts its lock there.
    let admin = Browser::new(&t, "ja");
    let from = [("x-forwarded-for", "203.0.113.1")];
    let res = console_login(&t, &admin, &from, "admin@acme.example.jp", None).await;
    assert!(res.status().is_redirection(), "{}", res.status());
    let (_, html) = admin.get("/users").await;
    assert!(
        html.contains("サインインのロック") && html.contains("198.51.100.7"),
        "{html}"
    );
    let at = html.find("/sign-in-locks/").unwrap() + "/sign-in-locks/".len();
    let id = &html[at..at + html[at..].find('/').unwrap()];
    let res = admin.post(&format!("/sign-in-locks/{id}/lift"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = admin.get("/users").await;
    assert!(
        html.contains("ロックを解除しました") && !html.contains("198.51.100.7"),
        "{html}"
    );
    assert_eq!(t.audit(&org, "sign_in.unlock").await.len(), 1);
    let (s, _, body) = sign_in(&t, &org, "admin@acme.example.jp", PASSWORD, "198.51.100.7").await;
    assert_eq!(s, StatusCode::OK, "{body}");
}

#[tokio::test]
async fn a_password_change_asks_for_the_current_one_and_ends_every_other_way_in() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (id, token) = t.user(&org, "hanako@acme.example.jp", "花子", "member").await;
    // Two console sessions of the member, and their API token.
    let mut cookies = vec![];
    for _ in 0..2 {
        let res = t
            .http
            .post(format!("{}/api/v1/session", t.url))
            .json(&json!({"email": "hanako@acme.example.jp", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
        cookies.push(session_cookie(&res).unwrap());
    }
    let patch = |cookie: &str, body: Value| {
        t.http
            .patch(format!("{}/api/v1/users/{id}", t.url))
            .header("cookie", cookie.to_string())
            .json(&body)
            .send()
    };
    let me = |cookie: String| {
        t.http
            .get(format!("{}/api/v1/me", t.url))
            .header("cookie", cookie)
            .send()
    };
    // Without the current password, with a wrong one, to a common password (well-formed,
    // refused: 422) or a short one (malformed: 400): refused.
    let unprocessable = StatusCode::UNPROCESSABLE_ENTITY;
    for (body, field, status) in [
        (
            json!({"password": "a brand new secret"}),
            "current_password",
            unprocessable,
        ),
        (
            json!({"password": "a brand new secret", "current_password": "not it at all"}),
            "current_password",
            unprocessable,
        ),
        (
            json!({"password": "Password123", "current_password": PASSWORD}),
            "password",
            unprocessable,
        ),
        (
            json!({"password": "short", "current_password": PASSWORD}),
            "password",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        let res = patch(&cookies[0], body.clone()).await.unwrap();
        assert_eq!(res.status(), status, "{body}");
        let v: Value = res.json().await.unwrap();
        assert_eq!(v["error"]["field"], field, "{body}: {v}");
    }
    // The right one: this session stays, the other session and the token are over.
    let res = patch(
        &cookies[0],
        json!({"password": "a brand new secret", "current_password": PASSWORD}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(me(cookies[0].clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(me(cookies[1].clone()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    assert_error(t.get(&token, "/api/v1/me").await, StatusCode::UNAUTHORIZED, None);
    let events = t.audit(&org, "user.update").await;
    assert_eq!(events[0]["after"]["password_changed"], true, "{events:?}");
    assert_eq!(events[0]["after"]["sessions_ended"], 1);
    assert_eq!(events[0]["after"]["tokens_revoked"], 1);

    // An admin's change (no current password needed) ends the member's last session too.
    let (s, v) = t
        .call(
            &org.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{id}"),
            Some(json!({"password": "another new secret"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(me(cookies[0].clone()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    // Changing one's own password with a token also needs the current one.
    let (s, v) = t
        .call(
            &org.admin,
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", org.admin_id),
            Some(json!({"password": "another new secret"})),
        )
        .await;
    assert_error((s, v), StatusCode::UNPROCESSABLE_ENTITY, Some("current_password"));
    // Wrong current passwords count like wrong sign-ins: a borrowed session cannot try many.
    let wrong = json!({"password": "another new secret", "current_password": "guess guess"});
    let path = format!("/api/v1/users/{}", org.admin_id);
    for _ in 0..5 {
        let got = t
            .call(&org.admin, reqwest::Method::PATCH, &path, Some(wrong.clone()))
            .await;
        assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("current_password"));
    }
    let got = t.call(&org.admin, reqwest::Method::PATCH, &path, Some(wrong)).await;
    assert_error(got, StatusCode::TOO_MANY_REQUESTS, None);
}

#[tokio::test]
async fn a_sign_in_from_another_site_is_refused() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let body = json!({"organization": org.slug, "email": "admin@acme.example.jp", "password": PASSWORD});
    let res = t
        .http
        .post(format!("{}/api/v1/session", t.url))
        .header("origin", "https://evil.example")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&res).is_none());
    let b = Browser::new(&t, "en");
    let evil = [("origin", "https://evil.example")];
    let res = console_login(&t, &b, &evil, "admin@acme.example.jp", None).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(session_cookie(&res).is_none());
    // A browser that says the post is cross-site, without an Origin, is refused too.
    let res = t
        .http
        .post(format!("{}/api/v1/session", t.url))
        .header("sec-fetch-site", "cross-site")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // From our own pages it works.
    let host = t.url.trim_start_matches("http://").to_string();
    let res = t
        .http
        .post(format!("{}/api/v1/session", t.url))
        .header("origin", format!("http://{host}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(session_cookie(&res).is_some());
}

#[tokio::test]
async fn an_unknown_organisation_costs_a_password_check_like_a_known_one() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let checks = || t.app.password_checks.load(std::sync::atomic::Ordering::Relaxed);
    let unknown_org = Org {
        slug: "no-such-org".into(),
        admin_id: String::new(),
        admin: String::new(),
    };
    let before = checks();
    let (s, _, unknown) = sign_in(
        &t,
        &unknown_org,
        "admin@acme.example.jp",
        "wrong password!",
        "192.0.2.9",
    )
    .await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(checks(), before + 1, "the unknown organisation ran the password check");
    let (s, _, known) = sign_in(&t, &org, "admin@acme.example.jp", "wrong password!", "192.0.2.9").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(checks(), before + 2);
    assert_eq!(unknown, known, "the same answer");
}

#[tokio::test]
async fn control_characters_are_refused_at_the_edge_naming_the_field() {
    let t = spawn().await;
    let org = t.org("acme").await;
    // Unauthenticated: the sign-in body.
    for field in ["organization", "email", "password"] {
        let mut body = json!({"organization": "acme", "email": "admin@acme.example.jp", "password": PASSWORD});
        body[field] = json!(format!("a\u{0}b"));
        assert_error(
            t.post("", "/api/v1/session", body).await,
            StatusCode::BAD_REQUEST,
            Some(field),
        );
    }
    // A path id, a query filter, a JSON string (nested too).
    assert_error(
        t.get(&org.admin, "/api/v1/cards/abc%00def").await,
        StatusCode::BAD_REQUEST,
        Some("path"),
    );
    assert_error(
        t.get(&org.admin, "/api/v1/cards?q=a%00").await,
        StatusCode::BAD_REQUEST,
        Some("q"),
    );
    assert_error(
        t.get(&org.admin, "/api/v1/cards?company=%01x").await,
        StatusCode::BAD_REQUEST,
        Some("company"),
    );
    assert_error(
        t.post(&org.admin, "/api/v1/cards", json!({"full_name": "山田\u{0}太郎"}))
            .await,
        StatusCode::BAD_REQUEST,
        Some("full_name"),
    );
    assert_error(
        t.post(
            &org.admin,
            "/api/v1/users",
            json!({"email": "x@acme.example.jp", "display_name": "x\u{7}"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        Some("display_name"),
    );
    // The console's sign-in form.
    let res = console_login(&t, &Browser::new(&t, "en"), &[], "admin\u{0}@acme.example.jp", None).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    // Line breaks and tabs in text stay allowed.
    let (s, v) = t
        .post(
            &org.admin,
            "/api/v1/cards",
            json!({"full_name": "山田 太郎", "address": "東京都\n千代田区"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
}

#[tokio::test]
async fn redirect_targets_stay_on_this_site() {
    let t = spawn().await;
    let b = Browser::new(&t, "en");
    let location = |res: &reqwest::Response| {
        res.headers()
            .get("location")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    };
    for (next, want) in [
        ("/%09/evil.example", "/"),
        ("/%0a/evil.example", "/"),
        ("//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/%5Cevil.example", "/"),
        ("https://evil.example/", "/"),
        ("/cards?tag=1", "/cards?tag=1"),
        ("/cards/../users", "/users"),
        ("/a%0d%0aSet-Cookie:%20x=1", "/aSet-Cookie:%20x=1"),
    ] {
        let res = b
            .client
            .get(format!("{}/lang/en?next={next}", t.url))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(location(&res), want, "{next}");
    }
    // A form's field that ends up in a redirect (the list of a suppression) cannot break it.
    t.org("acme").await;
    let admin = Browser::new(&t, "en");
    admin.sign_in("admin@acme.example.jp", PASSWORD).await;
    let res = admin
        .post(
            "/mail/suppressions/remove",
            &[("kind", "block\r\nSet-Cookie: x=1"), ("value", "a@b.jp")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert!(
        !location(&res).contains('\n') && location(&res).starts_with("/mail/settings"),
        "{}",
        location(&res)
    );
    // The sign-in form's `next` follows the same rule.
    let res = console_login(&t, &b, &[], "admin@acme.example.jp", Some("/\t/evil.example")).await;
    assert!(res.status().is_redirection(), "{}", res.status());
    assert_eq!(location(&res), "/");
}

/// A raw HTTP/1.1 exchange: writes `request`, reads until the server closes (or `wait` passes).
async fn raw(url: &str, request: &[u8], wait: Duration) -> Option<String> {
    let addr = url.trim_start_matches("http://");
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(request).await.unwrap();
    let mut out = Vec::new();
    match tokio::time::timeout(wait, s.read_to_end(&mut out)).await {
        Ok(_) => Some(String::from_utf8_lossy(&out).into_owned()),
        Err(_) => None,
    }
}

fn json_body(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or(Value::Null)
}

#[tokio::test]
async fn every_error_is_in_the_json_error_shape() {
    let t = spawn().await;
    let org = t.org("acme").await;
    // A method the path does not have.
    let (s, v) = t.call(&org.admin, reqwest::Method::PUT, "/api/v1/me", None).await;
    assert_error((s, v.clone()), StatusCode::METHOD_NOT_ALLOWED, None);
    assert_eq!(v["error"]["code"], "method_not_allowed");
    // A request line of 100,000 characters (hyper's own answer).
    let q = "x".repeat(100_000);
    let req = format!("GET /api/v1/cards?q={q} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let answer = raw(&t.url, req.as_bytes(), Duration::from_secs(30)).await.unwrap();
    assert!(
        answer.starts_with("HTTP/1.1 414"),
        "{}",
        &answer[..answer.len().min(200)]
    );
    assert_eq!(json_body(&answer)["error"]["code"], "uri_too_long", "{answer}");
    // Headers too large.
    let many: String = (0..200).map(|i| format!("X-H{i}: {i}\r\n")).collect();
    let req = format!("GET /api/v1/me HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n");
    let answer = raw(&t.url, req.as_bytes(), Duration::from_secs(30)).await.unwrap();
    assert!(answer.starts_with("HTTP/1.1 431"), "{answer}");
    assert_eq!(json_body(&answer)["error"]["code"], "headers_too_large", "{answer}");
    // A form post with the wrong content type (axum's plain-text rejection).
    let res = t
        .http
        .post(format!("{}/login", t.url))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert!(res.status().is_client_error());
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let v: Value = res.json().await.unwrap();
    assert!(v["error"]["code"].is_string(), "{v}");
    // JSON with trailing garbage.
    let res = t
        .http
        .post(format!("{}/api/v1/cards", t.url))
        .bearer_auth(&org.admin)
        .header("content-type", "application/json")
        .body(r#"{"full_name":"a"} xx"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let v: Value = res.json().await.unwrap();
    assert_eq!(v["error"]["code"], "bad_request", "{v}");
    let (_, page) = t.get(&org.admin, "/api/v1/cards").await;
    assert_eq!(page["items"].as_array().unwrap().len(), 0, "nothing was created");
    // A JSON body over the limit.
    let big = json!({"full_name": "x".repeat(3 * 1024 * 1024)});
    let (s, v) = t.post(&org.admin, "/api/v1/cards", big).await;
    assert_error((s, v.clone()), StatusCode::PAYLOAD_TOO_LARGE, Some("body"));
}

#[tokio::test]
async fn keyword_wildcards_match_only_themselves() {
    let t = spawn().await;
    let org = t.org("acme").await;
    t.card(&org.admin, json!({"full_name": "山田 太郎", "company": "山田商事"}))
        .await;
    let discount = t
        .card(&org.admin, json!({"full_name": "佐藤 花子", "company": "100%商会"}))
        .await;
    let (s, v) = t.get(&org.admin, "/api/v1/cards?q=%25").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let ids: Vec<&str> = v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [discount.as_str()]);
    let (_, v) = t.get(&org.admin, "/api/v1/cards?q=_").await;
    assert!(v["items"].as_array().unwrap().is_empty(), "{v}");
}

#[tokio::test]
async fn the_sending_domain_is_matched_as_written_not_as_a_pattern() {
    let t = spawn().await;
    let org = t.org("limits").await;
    let (_, aoki) = t.user(&org, "aoki@limits.example.jp", "青木 一郎", "member").await;
    t.card(
        &aoki,
        json!({"full_name": "山本 太郎", "company": "ABC商事", "email": "yamamoto@abc.jp"}),
    )
    .await;
    let (s, tpl) = t
        .post(
            &org.admin,
            "/api/v1/mail/templates",
            json!({"name": "ご案内", "subject": "ご案内", "body": "{{氏名}}様", "shared": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tpl}");
    let input = json!({"template_id": tpl["id"], "recipients": {"company": "ABC商事"}});
    // `limits_example.jp`: as a LIKE pattern its `_` would match the `.` of aoki's address.
    let (s, v) = t
        .call(
            &org.admin,
            reqwest::Method::PATCH,
            "/api/v1/mail/settings",
            Some(json!({"sending_domain": "limits_example.jp"})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, p) = t.post(&org.admin, "/api/v1/mail/preview", input).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["by_reason"][0]["reason"], "sender_domain", "{p}");
    assert_eq!(p["by_reason"][0]["cards"], 1, "{p}");
}

async fn import_csv(t: &TestApp, token: &str, csv: Vec<u8>) -> (StatusCode, Value) {
    let res = t
        .http
        .post(format!("{}/api/v1/imports?format=csv", t.url))
        .bearer_auth(token)
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn imports_have_a_body_limit_and_a_row_limit() {
    let t = spawn_with_edge(EdgeConfig {
        import_body_limit: 64 * 1024,
        ..EdgeConfig::default()
    })
    .await;
    let org = t.org("acme").await;
    let mut big = b"full_name,company\n".to_vec();
    while big.len() < 100 * 1024 {
        big.extend_from_slice("山田 太郎,山田商事\n".as_bytes());
    }
    let (s, v) = import_csv(&t, &org.admin, big).await;
    assert_error((s, v.clone()), StatusCode::PAYLOAD_TOO_LARGE, Some("body"));

    // One row of 2 MiB (a quote never closed, or a huge cell) stops at 1 MiB.
    let t = spawn().await;
    let org = t.org("acme").await;
    let mut csv = b"full_name,note\n\"a\",\"".to_vec();
    csv.extend(std::iter::repeat_n(b'x', 2 * 1024 * 1024));
    csv.extend_from_slice(b"\"\n");
    let (s, v) = import_csv(&t, &org.admin, csv).await;
    // A well-formed upload whose content cannot be read: 422.
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().contains("1 MiB"), "{v}");
}

#[tokio::test]
async fn a_control_character_deep_in_an_imported_file_is_a_line_error_not_a_500() {
    let t = spawn().await;
    let org = t.org("acme").await;
    for (column, at) in [("full_name", 0), ("memo", 1)] {
        let mut csv = String::from("full_name,memo\n");
        for i in 0..30_000 {
            csv.push_str(&format!("山田 太郎{i},メモ\n"));
        }
        let bad = if at == 0 {
            "山田\u{0}太郎,メモ\n"
        } else {
            "山田 花子,メ\u{0}モ\n"
        };
        csv.push_str(bad);
        let (s, v) = import_csv(&t, &org.admin, csv.into_bytes()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{column}: {v}");
        assert_eq!(v["error"]["details"]["errors"][0]["line"], 30_002, "{column}: {v}");
    }
}

#[tokio::test]
async fn warning_lists_are_capped_with_a_count() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let unknown: Vec<String> = (0..150).map(|i| format!("col{i}")).collect();
    let csv = format!(
        "full_name,{}\n山田 太郎,{}\n",
        unknown.join(","),
        vec!["v"; 150].join(",")
    );
    let (s, v) = import_csv(&t, &org.admin, csv.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["warnings"].as_array().unwrap().len(), 100);
    assert_eq!(v["warning_count"], 150);
}

#[tokio::test]
async fn slow_clients_are_cut_off_and_connections_are_limited() {
    let t = spawn_with_edge(EdgeConfig {
        header_timeout: Duration::from_secs(1),
        body_timeout: Duration::from_secs(1),
        ..EdgeConfig::default()
    })
    .await;
    // Half the headers, then nothing: the server closes the connection.
    let closed = raw(&t.url, b"GET /healthz HTTP/1.1\r\nHost: x\r\n", Duration::from_secs(30)).await;
    assert!(closed.is_some(), "the connection was closed");
    // Half a body, then nothing: the request ends (an error answer or a closed connection).
    let req = b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"email\"";
    let ended = raw(&t.url, req, Duration::from_secs(30)).await;
    assert!(ended.is_some(), "the request was cut off");

    // Two connections at most: a third waits until one goes.
    let t = spawn_with_edge(EdgeConfig {
        max_connections: 2,
        header_timeout: Duration::from_secs(120),
        ..EdgeConfig::default()
    })
    .await;
    let addr = t.url.trim_start_matches("http://").to_string();
    let mut held = vec![];
    for _ in 0..2 {
        let mut s = tokio::net::TcpStream::connect(&addr).await.unwrap();
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.unwrap();
        held.push(s);
    }
    // Let the server take both before the third arrives.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let third = tokio::spawn({
        let url = t.url.clone();
        async move {
            raw(
                &url,
                b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                Duration::from_secs(60),
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(!third.is_finished(), "the third connection waits while two are held");
    drop(held);
    let answer = third.await.unwrap().expect("served once a connection went");
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

async fn export_csv(t: &TestApp, token: &str, query: &str) -> Vec<u8> {
    let res = t
        .http
        .get(format!("{}/api/v1/exports?format=csv{query}", t.url))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    res.bytes().await.unwrap().to_vec()
}

#[tokio::test]
async fn csv_exports_keep_formulas_from_running() {
    let t = spawn().await;
    let org = t.org("acme").await;
    t.card(
        &org.admin,
        json!({"full_name": "=HYPERLINK(\"http://evil.example\",\"x\")", "company": "+81 商事", "department": "@SUM(A1)", "title": "-1+1"}),
    )
    .await;
    let text = String::from_utf8(export_csv(&t, &org.admin, "").await).unwrap();
    for cell in ["'=HYPERLINK", "'+81 商事", "'@SUM(A1)", "'-1+1"] {
        assert!(text.contains(cell), "{cell} in {text}");
    }
    let sjis = export_csv(&t, &org.admin, "&encoding=shift_jis&header=ja").await;
    let (decoded, _, _) = encoding_rs::SHIFT_JIS.decode(&sjis);
    assert!(
        decoded.contains("'+81 商事") && decoded.contains("\"'=HYPERLINK"),
        "{decoded}"
    );
    let raw_text = String::from_utf8(export_csv(&t, &org.admin, "&formula_guard=false").await).unwrap();
    assert!(
        raw_text.contains("\"=HYPERLINK") && raw_text.contains(",+81 商事,"),
        "{raw_text}"
    );
    // meishi's own import takes the guard off again: the file read back is the very card
    // (an exact duplicate, every field the same).
    let (s, v) = import_csv(&t, &org.admin, text.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["duplicates"], 1, "{v}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_pages_run_no_inline_script() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let card = t.card(&org.admin, json!({"full_name": "山田 太郎"})).await;
    let b = Browser::new(&t, "ja");
    b.sign_in("admin@acme.example.jp", PASSWORD).await;
    for path in ["/login", "/api/v1/me", "/healthz", "/nowhere", "/static/console.js"] {
        let res = t.http.get(format!("{}{path}", t.url)).send().await.unwrap();
        let h = res.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("script-src 'self' 'unsafe-inline'"),
            "{csp}"
        );
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "not over plain HTTP: {path}"
        );
    }
    // Behind a TLS proxy (trusted: the test's loopback peer) HSTS is sent.
    let res = t
        .http
        .get(format!("{}/login", t.url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        res.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .contains("max-age=")
    );
    // A server whose public URL is https says so on every answer; a server that trusts no
    // proxy believes no `X-Forwarded-*` (no HSTS, and the peer's own address is throttled).
    let https = spawn_with_edge(EdgeConfig {
        public_https: true,
        ..EdgeConfig::default()
    })
    .await;
    let res = https.http.get(format!("{}/healthz", https.url)).send().await.unwrap();
    assert!(res.headers().contains_key("strict-transport-security"));
    let untrusting = spawn_with_edge(EdgeConfig {
        trusted_proxies: vec![],
        ..EdgeConfig::default()
    })
    .await;
    let res = untrusting
        .http
        .get(format!("{}/login", untrusting.url))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(!res.headers().contains_key("strict-transport-security"));
    let other = untrusting.org("other").await;
    for i in 0..20 {
        let from = format!("192.0.2.{i}");
        let (s, _, _) = sign_in(
            &untrusting,
            &other,
            &format!("u{i}@other.example.jp"),
            "wrong password!",
            &from,
        )
        .await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, _, _) = sign_in(&untrusting, &other, "admin@other.example.jp", PASSWORD, "192.0.2.99").await;
    assert_eq!(
        s,
        StatusCode::TOO_MANY_REQUESTS,
        "the peer's address counted, not the claimed ones"
    );

    // The console's pages: no inline script or handler.
    for path in [
        "/cards".to_string(),
        format!("/cards/{card}"),
        "/users".into(),
        format!("/users/{}", org.admin_id),
        "/transfers".into(),
        "/news".into(),
        "/nowhere".into(),
    ] {
        let (_, html) = b.get(&path).await;
        for bad in ["onsubmit=", "onclick=", "onchange=", "javascript:", "<script>"] {
            assert!(!html.contains(bad), "{bad} on {path}");
        }
        for script in html
            .match_indices("<script")
            .map(|(i, _)| &html[i..html[i..].find('>').unwrap() + i])
        {
            assert!(script.contains("src=\"/static/"), "{script} on {path}");
        }
    }
}
