//! The departures desk and 私の引き継ぎ through the console's forms: tabs with counts, the
//! next-step buttons, registration errors beside their fields with the values kept, send
//! back with a comment, the admin writing the plan for the user, the live line count, the
//! readiness CSV, and the leaving user's banner on every page.

use crate::console::Browser;
use crate::harness::*;
use reqwest::StatusCode;
use reqwest::header::LOCATION;

struct Desk {
    t: TestApp,
    admin: Browser,
    users: Vec<meishi::domain::model::User>,
}

impl Desk {
    fn id(&self, email: &str) -> String {
        self.users.iter().find(|u| u.email == email).unwrap().id.clone()
    }
}

async fn desk() -> Desk {
    let t = spawn().await;
    let users = meishi::service::demo::load(&t.app, 200).await.unwrap().users;
    let admin = Browser::new(&t, "ja");
    admin.sign_in("admin@example.co.jp", "meishi-demo").await;
    Desk { t, admin, users }
}

fn day(days: i64) -> String {
    (chrono::Utc::now().with_timezone(&chrono_tz::Asia::Tokyo).date_naive() + chrono::Duration::days(days)).to_string()
}

/// `<a … id="tab-{tab}" …>label<span class="count…">N</span>`: the count on a tab.
fn tab_count(html: &str, tab: &str) -> usize {
    let at = html.find(&format!("id=\"tab-{tab}\"")).expect("the tab");
    let rest = &html[at..];
    let open = rest.find("<span class=\"count").unwrap();
    let start = open + rest[open..].find('>').unwrap() + 1;
    let end = start + rest[start..].find('<').unwrap();
    rest[start..end].parse().unwrap()
}

#[tokio::test]
async fn the_desk_has_tabs_with_counts_and_one_next_step_per_row() {
    let d = desk().await;
    // The demo's 山田 is leaving in three weeks, plan not reported: 予定, next step: ask.
    let (s, html) = d.admin.get("/departures").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(tab_count(&html, "upcoming"), 1, "{html}");
    assert_eq!(tab_count(&html, "needs_action"), 0);
    assert!(
        html.contains("山田 賢治") && html.contains("計画の報告を依頼"),
        "{html}"
    );
    assert!(html.contains("2/7") || html.contains("3/7"), "readiness x/y: {html}");
    let yamada = d.id("yamada.kenji@example.co.jp");
    let q = meishi::service::departures::DepartureQuery {
        status: None,
        attention: false,
        cursor: None,
        limit: None,
    };
    let org = meishi::service::auth::resolve_org(&d.t.app, Some("demo"))
        .await
        .unwrap();
    let sys = meishi::service::Actor::system(&org.id);
    let dep = meishi::service::departures::list(&d.t.app, &sys, q)
        .await
        .unwrap()
        .items[0]
        .clone();
    assert_eq!(dep.user_id, yamada);

    let res = d.admin.post(&format!("/departures/{}/request", dep.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, detail) = d.admin.get(res.headers()[LOCATION].to_str().unwrap()).await;
    assert!(detail.contains("引き継ぎ計画の報告を依頼しました"), "the flash");
    let (_, html) = d.admin.get("/departures").await;
    assert!(
        html.contains("依頼済み") && !html.contains("計画の報告を依頼</button>"),
        "{html}"
    );

    // 山田 sees the banner on every page, and the request on his page.
    let yamada_b = Browser::new(&d.t, "ja");
    yamada_b.sign_in("yamada.kenji@example.co.jp", "meishi-demo").await;
    for page in ["/cards", "/imports", "/me/handover"] {
        let (_, html) = yamada_b.get(page).await;
        assert!(
            html.contains("id=\"leaving-banner\"") && html.contains("あと 21 日"),
            "{page}: {html}"
        );
    }
    let (_, mine) = yamada_b.get("/me/handover").await;
    assert!(mine.contains("管理者から引き継ぎ計画の報告を依頼されています"));
    let (_, other) = d.admin.get("/cards").await;
    assert!(!other.contains("leaving-banner"), "nobody else sees it");

    // The live count of a plan line, and a line that selects nothing is refused beside it.
    let (s, out) = yamada_b
        .get(&format!(
            "/me/handover/count?departure_id={}&i=0&company_0=%E5%AD%98%E5%9C%A8%E3%81%97%E3%81%AA%E3%81%84",
            dep.id
        ))
        .await;
    assert_eq!(s, StatusCode::OK);
    assert!(
        out.contains("id=\"count_0\"") && out.contains("0 件") && out.contains("bad"),
        "{out}"
    );
    let sato = d.id("sato.misaki@example.co.jp");
    let res = yamada_b
        .post(
            "/me/handover/plan",
            &[
                ("departure_id", dep.id.as_str()),
                ("company_0", "存在しない"),
                ("to_0", &sato),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("value=\"存在しない\""), "the value is kept");
    assert!(html.contains("class=\"field-error\""), "the error sits at the line");

    // Reported: next step 承認; the admin sends it back with a comment instead.
    let res = yamada_b
        .post("/me/handover/plan", &[("departure_id", dep.id.as_str())])
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, html) = d.admin.get("/departures").await;
    assert!(html.contains(">承認</button>"), "{html}");
    let long = "長".repeat(1001);
    let res = d
        .admin
        .post(&format!("/departures/{}/return", dep.id), &[("comment", &long)])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"comment-error\"") && html.contains(&long),
        "the error beside the field, the comment kept"
    );
    let res = d
        .admin
        .post(
            &format!("/departures/{}/return", dep.id),
            &[("comment", "タグごとに分けてください")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, mine) = yamada_b.get("/me/handover").await;
    assert!(
        mine.contains("タグごとに分けてください") && mine.contains("差し戻し"),
        "{mine}"
    );

    // The admin writes the plan for him, then approves it from the desk.
    let res = d
        .admin
        .post(
            &format!("/departures/{}/plan", dep.id),
            &[("departure_id", dep.id.as_str())],
        )
        .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let res = d.admin.post(&format!("/departures/{}/approve", dep.id), &[]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, detail) = d.admin.get(&format!("/departures/{}", dep.id)).await;
    assert!(detail.contains("引き継ぎ計画を承認しました") && detail.contains("承認済み"));
    assert!(
        detail.contains("計画済み"),
        "the cards are planned, not left over: {detail}"
    );
    assert!(!detail.contains("残り"), "{detail}");

    // The readiness checklist as CSV: UTF-8 with BOM, and Shift_JIS.
    let res = d
        .admin
        .client
        .get(format!("{}/departures/{}/readiness.csv", d.t.url, dep.id))
        .header(reqwest::header::ACCEPT_LANGUAGE, "ja")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap();
    assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "BOM");
    let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
    assert!(
        text.starts_with("ユーザー,最終出社日,停止日時,項目,状態,件数"),
        "{text}"
    );
    assert!(
        text.contains("山田 賢治") && text.contains("JST") && text.contains("計画済み"),
        "{text}"
    );
    let res = d
        .admin
        .client
        .get(format!(
            "{}/departures/{}/readiness.csv?encoding=shift_jis",
            d.t.url, dep.id
        ))
        .header(reqwest::header::ACCEPT_LANGUAGE, "ja")
        .send()
        .await
        .unwrap();
    let bytes = res.bytes().await.unwrap();
    let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&bytes);
    assert!(!bad && decoded.contains("まだ所有している名刺"), "{decoded}");
}

#[tokio::test]
async fn registration_errors_sit_beside_their_fields_and_keep_the_values() {
    let d = desk().await;
    let (_, html) = d.admin.get("/departures").await;
    let form = &html[html.find("id=\"register\"").unwrap()..];
    assert!(!form.contains(" selected"), "nothing pre-selected: {form}");

    let ito = d.id("ito.shota@example.co.jp");
    let res = d
        .admin
        .post(
            "/departures",
            &[
                ("user_id", &ito),
                ("kind", "secondment"),
                ("retirement_date", &day(10)),
                ("last_working_day", &day(10)),
                ("successor_id", ""),
                ("suspend_at", ""),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"successor_id-error\""), "beside the successor");
    assert!(html.contains(&format!("value=\"{ito}\" selected")), "the user is kept");
    assert!(html.contains("value=\"secondment\" selected") && html.contains(&format!("value=\"{}\"", day(10))));

    let past = d
        .admin
        .post(
            "/departures",
            &[
                ("user_id", &ito),
                ("kind", "retirement"),
                ("retirement_date", &day(10)),
                ("last_working_day", &day(-2)),
                ("successor_id", &d.id("sato.misaki@example.co.jp")),
            ],
        )
        .await;
    // Well-formed, but in the past: 422, beside the field.
    assert_eq!(past.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(past.text().await.unwrap().contains("id=\"last_working_day-error\""));

    // 山田 has a departure already: a message that says so, beside the user.
    let yamada = d.id("yamada.kenji@example.co.jp");
    let dup = d
        .admin
        .post(
            "/departures",
            &[
                ("user_id", &yamada),
                ("kind", "retirement"),
                ("retirement_date", &day(10)),
                ("last_working_day", &day(10)),
                ("successor_id", &d.id("sato.misaki@example.co.jp")),
            ],
        )
        .await;
    assert_eq!(dup.status(), StatusCode::CONFLICT);
    let html = dup.text().await.unwrap();
    assert!(
        html.contains("id=\"user_id-error\"")
            && html.contains("山田 賢治 さんにはすでに予定されている退職・出向があります"),
        "{html}"
    );
}
