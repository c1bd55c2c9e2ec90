//! The web console over real HTTP: every page in both languages, sign-in, CSRF, the
//! offboarding flow through its forms. (The browser tests in e2e/ drive the same in Chromium.)

use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::{ACCEPT_LANGUAGE, LOCATION};

pub(crate) struct Browser {
    pub(crate) client: reqwest::Client,
    base: String,
    lang: &'static str,
}

impl Browser {
    pub(crate) fn new(t: &TestApp, lang: &'static str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        Browser {
            client,
            base: t.url.clone(),
            lang,
        }
    }
    pub(crate) async fn sign_in(&self, email: &str, password: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/login", self.base))
            .header(ACCEPT_LANGUAGE, self.lang)
            .form(&[
                ("email", email),
                ("password", password),
                ("organization", ""),
                ("next", "/"),
            ])
            .send()
            .await
            .unwrap()
    }
    pub(crate) async fn get(&self, path: &str) -> (StatusCode, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header(ACCEPT_LANGUAGE, self.lang)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }
    /// The page's CSRF token, as its forms carry it.
    pub(crate) async fn csrf(&self) -> String {
        let (_, html) = self.get("/cards").await;
        let at = html.find("name=\"csrf\" value=\"").expect("a form with a CSRF token") + 19;
        html[at..at + 32].to_string()
    }
    pub(crate) async fn post(&self, path: &str, fields: &[(&str, &str)]) -> reqwest::Response {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.client
            .post(format!("{}{path}", self.base))
            .header(ACCEPT_LANGUAGE, self.lang)
            .form(&all)
            .send()
            .await
            .unwrap()
    }
    /// A post as htmx sends it (`HX-Request: true`): the answer is a fragment, not a redirect.
    pub(crate) async fn post_htmx(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, String) {
        let csrf = self.csrf().await;
        let mut all: Vec<(&str, &str)> = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        let res = self
            .client
            .post(format!("{}{path}", self.base))
            .header(ACCEPT_LANGUAGE, self.lang)
            .header("HX-Request", "true")
            .form(&all)
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    }
}

async fn demo(t: &TestApp) -> Vec<meishi::domain::model::User> {
    meishi::service::demo::load(&t.app, 200).await.unwrap().users
}

#[tokio::test]
async fn every_page_renders_in_japanese_and_english_without_missing_texts() {
    let t = spawn().await;
    let users = demo(&t).await;
    let yamada = users.iter().find(|u| u.email == "yamada.kenji@example.co.jp").unwrap();
    for lang in ["ja", "en-US,en;q=0.9"] {
        let b = Browser::new(&t, lang);
        let (s, login) = b.get("/login").await;
        assert_eq!(s, StatusCode::OK);
        let code = if lang == "ja" { "ja" } else { "en" };
        assert!(login.contains(&format!("<html lang=\"{code}\">")), "{login}");
        let res = b.sign_in("admin@example.co.jp", "meishi-demo").await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER);
        let (_, cards) = b.get("/cards?limit=1").await;
        let card_id = cards
            .split("href=\"/cards/")
            .nth(2)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_string();
        for path in [
            "/cards".to_string(),
            "/cards?q=山田".to_string(),
            "/cards/new".to_string(),
            format!("/cards/{card_id}"),
            "/users".to_string(),
            format!("/users/{}", yamada.id),
            "/departures".to_string(),
            "/transfers".to_string(),
            "/settings".to_string(),
            "/settings/scim".to_string(),
            "/me/handover".to_string(),
            "/imports".to_string(),
            "/news".to_string(),
            "/news?status=all".to_string(),
        ] {
            let (s, html) = b.get(&path).await;
            assert_eq!(s, StatusCode::OK, "{path}");
            assert!(
                !html.contains('⚠'),
                "{path} in {lang} misses a translation: {}",
                html.split('⚠')
                    .nth(1)
                    .unwrap_or("")
                    .chars()
                    .take(60)
                    .collect::<String>()
            );
            assert!(html.contains(&format!("<html lang=\"{code}\">")), "{path}");
            assert!(
                !html.contains("src=\"http") && !html.contains("stylesheet\" href=\"http"),
                "{path} loads nothing from outside"
            );
            if code == "en" {
                assert!(
                    !html.contains("名刺一覧") && !html.contains("サインアウト"),
                    "{path}: no Japanese chrome on an English page"
                );
            } else {
                assert!(
                    !html.contains("Sign out"),
                    "{path}: no English chrome on a Japanese page"
                );
            }
        }
    }
}

#[tokio::test]
async fn sign_in_errors_the_language_switch_and_redirects() {
    let t = spawn().await;
    demo(&t).await;
    let b = Browser::new(&t, "ja");
    let (s, _) = b.get("/cards").await;
    assert_eq!(s, StatusCode::SEE_OTHER, "not signed in: to the sign-in page");
    let res = b.sign_in("admin@example.co.jp", "wrong-password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("メールアドレスまたはパスワードが違います")
    );
    let res = b
        .client
        .get(format!("{}/lang/en?next=/login", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/login");
    let (_, login) = b.get("/login").await;
    assert!(
        login.contains("<html lang=\"en\">"),
        "the switch wins over Accept-Language"
    );
    let res = b
        .client
        .get(format!("{}/lang/ja?next=https://evil.example.com", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/", "never redirected off the site");
    let res = b
        .client
        .get(format!("{}/lang/ja?next=/%5Cevil.example.com", t.url))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/", "nor by a backslash");
}

#[tokio::test]
async fn forms_without_the_csrf_token_or_from_another_site_are_refused() {
    let t = spawn().await;
    demo(&t).await;
    let b = Browser::new(&t, "ja");
    b.sign_in("admin@example.co.jp", "meishi-demo").await;
    let res = b
        .client
        .post(format!("{}/cards", t.url))
        .form(&[("full_name", "CSRF 太郎")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(res.text().await.unwrap().contains("送信は受け付けられませんでした"));
    let csrf = b.csrf().await;
    let res = b
        .client
        .post(format!("{}/cards", t.url))
        .header("origin", "https://evil.example.com")
        .form(&[("csrf", csrf.as_str()), ("full_name", "CSRF 太郎")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let (_, list) = b.get("/cards?q=CSRF").await;
    assert!(!list.contains("CSRF 太郎"), "nothing was created");
    let res = b
        .post("/cards", &[("full_name", "正規 太郎"), ("company", "株式会社テスト")])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_field_error_appears_next_to_the_field_in_the_pages_language() {
    let t = spawn().await;
    demo(&t).await;
    let b = Browser::new(&t, "ja");
    b.sign_in("admin@example.co.jp", "meishi-demo").await;
    let res = b
        .post("/cards", &[("full_name", "誤り 太郎"), ("email", "not-an-email")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"e-email\""), "the error sits at the email field");
    assert!(html.contains("メールアドレスの形式が正しくありません"));
    assert!(
        !html.contains("is not an email address"),
        "no English on a Japanese page"
    );
}

#[tokio::test]
async fn the_offboarding_flow_through_the_forms() {
    let t = spawn().await;
    let users = demo(&t).await;
    let id = |email: &str| users.iter().find(|u| u.email == email).unwrap().id.clone();
    // 山田's departure comes with the demo; 伊藤 is the one registered here.
    let (ito, sato) = (id("ito.shota@example.co.jp"), id("sato.misaki@example.co.jp"));
    let admin = Browser::new(&t, "ja");
    admin.sign_in("admin@example.co.jp", "meishi-demo").await;
    let today = chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive();
    let last = (today + chrono::Duration::days(10)).to_string();
    let res = admin
        .post(
            "/departures",
            &[
                ("user_id", &ito),
                ("kind", "retirement"),
                ("retirement_date", &last),
                ("last_working_day", &last),
                ("successor_id", &sato),
                ("suspend_at", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let detail = res.headers()[LOCATION].to_str().unwrap().to_string();
    let (_, html) = admin.get(&detail).await;
    assert!(
        html.contains(&format!("{last} 23:59 JST")),
        "the suspension moment in Tokyo time"
    );
    assert!(html.contains("未報告"));

    // A company 伊藤 holds cards of: a plan line must select at least one card.
    let org = meishi::service::auth::resolve_org(&t.app, Some("demo")).await.unwrap();
    let sys = meishi::service::Actor::system(&org.id);
    let q = meishi::service::cards::CardQuery {
        owner_id: Some(&ito),
        tag_id: None,
        company: None,
        q: None,
        sort: Default::default(),
        cursor: None,
        limit: Some(1),
    };
    let company = meishi::service::cards::list(&t.app, &sys, q).await.unwrap().items[0]
        .company
        .clone();
    let leaving = Browser::new(&t, "ja");
    leaving.sign_in("ito.shota@example.co.jp", "meishi-demo").await;
    let (_, mine) = leaving.get("/me/handover").await;
    let departure_id = detail.trim_start_matches("/departures/");
    assert!(mine.contains(departure_id));
    let res = leaving
        .post(
            "/me/handover/plan",
            &[
                ("departure_id", departure_id),
                ("company_0", &company),
                ("to_0", &id("suzuki.daisuke@example.co.jp")),
            ],
        )
        .await;
    let status = res.status();
    assert_eq!(status, StatusCode::SEE_OTHER, "{}", res.text().await.unwrap());
    let (_, mine) = leaving.get("/me/handover").await;
    assert!(
        mine.contains("引き継ぎ計画を報告しました"),
        "the flash after the redirect"
    );
    let (_, again) = leaving.get("/me/handover").await;
    assert!(!again.contains("引き継ぎ計画を報告しました"), "shown once");

    let res = admin.post(&format!("{detail}/approve"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = admin.post(&format!("{detail}/preview"), &[]).await;
    let preview = res.text().await.unwrap();
    assert!(preview.contains("実行すると次のとおり移ります"), "{preview}");
    let res = admin.post(&format!("{detail}/execute"), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a post ends in a redirect");
    let (_, done) = admin.get(&detail).await;
    assert!(done.contains("所有者変更を実行しました"));
    assert!(done.contains("準備完了"), "ready after execution");
    assert!(
        done.contains("旧所有者: 伊藤 翔太"),
        "the batches are listed with their tag"
    );
}

#[tokio::test]
async fn an_open_plan_item_counts_the_cards_it_covers_not_cards_left() {
    // Before a plan is reported, 引き継ぎ計画の対象の名刺 covers 0 cards: it is open, and its
    // count is the cards covered ("0 件"), not cards left to do ("残り 0 件" read as nothing left).
    let t = spawn().await;
    demo(&t).await;
    let leaving = Browser::new(&t, "ja");
    leaving.sign_in("yamada.kenji@example.co.jp", "meishi-demo").await;
    let (status, mine) = leaving.get("/me/handover").await;
    assert_eq!(status, StatusCode::OK);
    let at = mine.find("data-key=\"cards_planned\"").expect("the item");
    let item = &mine[at..at + mine[at..].find("</li>").unwrap()];
    assert!(item.contains("<strong>0 件</strong>"), "{item}");
    assert!(!item.contains("残り"), "{item}");
    let at = mine.find("data-key=\"cards\"").expect("the item");
    let item = &mine[at..at + mine[at..].find("</li>").unwrap()];
    assert!(item.contains("残り"), "what is still held is left to do: {item}");
}
