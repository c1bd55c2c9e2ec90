//! 組織設定 → SCIM in the console: the endpoint to paste into the identity provider, a token
//! created (shown once) and revoked through the forms, the last requests listed.

use crate::console::Browser;
use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::LOCATION;

fn no_missing_text(html: &str, what: &str) {
    assert!(
        !html.contains('⚠'),
        "{what} misses a translation: {}",
        html.split('⚠')
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(60)
            .collect::<String>()
    );
}

#[tokio::test]
async fn the_scim_page_creates_a_token_shown_once_lists_requests_and_revokes_it() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let b = Browser::new(&t, "ja");
    b.sign_in("admin@acme.example.jp", PASSWORD).await;
    let (_, settings) = b.get("/settings").await;
    assert!(
        settings.contains("href=\"/settings/scim\""),
        "組織設定 links to the SCIM page"
    );

    let (s, html) = b.get("/settings/scim").await;
    assert_eq!(s, StatusCode::OK);
    no_missing_text(&html, "/settings/scim");
    let host = t.url.trim_start_matches("http://");
    assert!(
        html.contains(&format!("http://{host}/scim/v2")),
        "the endpoint to paste"
    );
    assert!(html.contains("id=\"scim-no-tokens\""));
    assert!(html.contains("id=\"scim-no-requests\""));

    // A missing name: the error beside the field, nothing created.
    let res = b.post("/settings/scim/tokens", &[("name", "  ")]).await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("aria-invalid=\"true\" aria-describedby=\"scim-error\""),
        "{html}"
    );
    assert!(html.contains("id=\"scim-no-tokens\""));

    let res = b.post("/settings/scim/tokens", &[("name", "Okta 本番")]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/settings/scim");
    let (_, html) = b.get("/settings/scim").await;
    assert!(html.contains("SCIM トークンを作成しました。"), "the flash message");
    let at = html.find("<code>mscim_").expect("the new token, shown once") + 6;
    let secret: String = html[at..].chars().take_while(|c| *c != '<').collect();
    assert!(html.contains("Okta 本番"));
    assert!(html.contains("未使用"));
    let (_, again) = b.get("/settings/scim").await;
    assert!(!again.contains(&secret), "not shown a second time");

    // The token works on /scim/v2; the request is listed with its result.
    let res = t
        .http
        .get(format!("{}/scim/v2/Users?filter=userName%20eq%20%22x%22", t.url))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = t
        .http
        .get(format!("{}/scim/v2/Users?filter=nonsense", t.url))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let (_, html) = b.get("/settings/scim").await;
    assert!(html.contains("GET /Users?filter=userName eq &#34;x&#34;"), "{html}");
    assert!(html.contains("200 OK"));
    assert!(html.contains("<strong>400</strong>"));
    assert!(!html.contains("未使用"), "last used is shown");

    // The provider deprovisions someone: the desk's 要対応 tab and the departure page show it
    // with no successor yet, the audit log names the identity provider.
    let res = t
        .http
        .post(format!("{}/scim/v2/Users", t.url))
        .bearer_auth(&secret)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"leaver@acme.example.jp","displayName":"退職 太郎"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let leaver: serde_json::Value = res.json().await.unwrap();
    let res = t
        .http
        .patch(format!("{}/scim/v2/Users/{}", t.url, leaver["id"].as_str().unwrap()))
        .bearer_auth(&secret)
        .header("content-type", "application/scim+json")
        .body(r#"{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"Replace","path":"active","value":"False"}]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (s, desk) = b.get("/departures?tab=needs_action").await;
    assert_eq!(s, StatusCode::OK);
    assert!(desk.contains("退職 太郎(退職済み)"), "{desk}");
    let departure: String = desk
        .split("href=\"/departures/")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_string();
    let (s, page) = b.get(&format!("/departures/{departure}")).await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        page.contains("未定（ID プロバイダーが停止。引き継ぎ先を指定してください）"),
        "{page}"
    );
    let (_, audit) = b.get("/audit?action=user.suspend").await;
    assert!(audit.contains("ID プロバイダー (SCIM)"), "{audit}");

    // Revoke through the form: the token stops at once.
    let id: String = html
        .split("action=\"/settings/scim/tokens/")
        .nth(1)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let res = b.post(&format!("/settings/scim/tokens/{id}/revoke"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = b.get("/settings/scim").await;
    assert!(html.contains("SCIM トークン「Okta 本番」を失効させました。"));
    assert!(html.contains("失効"));
    assert!(
        !html.contains(&format!("/settings/scim/tokens/{id}/revoke")),
        "no second revoke button"
    );
    let res = t
        .http
        .get(format!("{}/scim/v2/Users", t.url))
        .bearer_auth(&secret)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let (_, audit) = b.get("/audit?action=scim_token.create").await;
    assert!(audit.contains("scim_token.create"));

    // English, and members are kept out.
    let en = Browser::new(&t, "en-US,en;q=0.9");
    en.sign_in("admin@acme.example.jp", PASSWORD).await;
    let (s, html) = en.get("/settings/scim").await;
    assert_eq!(s, StatusCode::OK);
    no_missing_text(&html, "/settings/scim in English");
    assert!(html.contains("Recent requests"));
    t.user(&org, "member@acme.example.jp", "一般 花子", "member").await;
    let m = Browser::new(&t, "ja");
    m.sign_in("member@acme.example.jp", PASSWORD).await;
    assert_eq!(m.get("/settings/scim").await.0, StatusCode::FORBIDDEN);
}
