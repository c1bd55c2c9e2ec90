//! メール through the console over HTTP: the template form keeps what was typed and shows each
//! error beside its field (an unknown placeholder by name), only the creator edits or deletes
//! (others copy), the send form's preview names skipped cards with the Japanese reason and its
//! CSV lists them, a send redirects to its page, a member never sees an admin's send, posts
//! without the CSRF token are refused, the settings and lists are admins' only, and without
//! an SMTP server every mail page says to set MEISHI_SMTP_URL.

use crate::console::Browser;
use crate::harness::*;
use crate::smtp_sink::Sink;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use serde_json::json;

async fn signed_in(t: &TestApp, email: &str, lang: &'static str) -> Browser {
    let b = Browser::new(t, lang);
    let res = b.sign_in(email, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    b
}

fn location(res: &reqwest::Response) -> String {
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a post redirects");
    res.headers()[LOCATION].to_str().unwrap().to_string()
}

async fn follow(b: &Browser, res: reqwest::Response) -> String {
    let to = location(&res);
    let (s, html) = b.get(&to).await;
    assert_eq!(s, StatusCode::OK, "{to}");
    html
}

/// The text of the element with this id (up to its closing tag).
fn by_id<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!("id=\"{id}\""))
        .unwrap_or_else(|| panic!("no #{id} in {html}"));
    let rest = &html[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find("</").unwrap() + start;
    &rest[start..end]
}

fn no_missing_texts(path: &str, html: &str) {
    assert!(
        !html.contains('⚠'),
        "{path} misses a translation: {}",
        html.split('⚠')
            .nth(1)
            .unwrap_or("")
            .chars()
            .take(60)
            .collect::<String>()
    );
}

struct Setup {
    t: TestApp,
    org: Org,
    sato: String,
    ito_id: String,
}

/// 佐藤 (member) holds two cards at ABC商事, 伊藤 (member, then suspended) one.
async fn setup(t: TestApp) -> Setup {
    let org = t.org("cmail").await;
    let (_, sato) = t.user(&org, "sato@cmail.example.jp", "佐藤 花子", "member").await;
    let (ito_id, ito) = t.user(&org, "ito@cmail.example.jp", "伊藤 翔太", "member").await;
    for (token, name, email) in [
        (&sato, "田中 一郎", "tanaka@abc.example.jp"),
        (&sato, "鈴木 次郎", "suzuki@abc.example.jp"),
        (&ito, "伊藤 三郎", "saburo@abc.example.jp"),
    ] {
        t.card(
            token,
            json!({"full_name": name, "company": "ABC商事株式会社", "email": email}),
        )
        .await;
    }
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/users/{ito_id}/suspend"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    Setup { t, org, sato, ito_id }
}

async fn template_id(t: &TestApp, token: &str, name: &str) -> String {
    let (s, v) = t.get(token, "/api/v1/mail/templates").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == name)
        .unwrap_or_else(|| panic!("template {name}: {v}"))["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn the_template_form_keeps_the_text_and_shows_each_error_beside_its_field() {
    let x = setup(spawn().await).await;
    let b = signed_in(&x.t, "sato@cmail.example.jp", "ja").await;
    let (s, html) = b.get("/mail/templates/new").await;
    assert_eq!(s, StatusCode::OK);
    for p in [
        "{{氏名}}",
        "{{会社名}}",
        "{{部署名}}",
        "{{役職}}",
        "{{差出人氏名}}",
        "{{差出人メール}}",
        "{{後任者氏名}}",
        "{{後任者メール}}",
    ] {
        let help = &html[html.find("id=\"placeholders\"").expect("the help box")..];
        assert!(help.contains(p), "the help lists {p}");
    }

    // An unknown placeholder: refused beside the body, by name, everything typed kept.
    let res = b
        .post(
            "/mail/templates",
            &[
                ("name", "ご挨拶"),
                ("subject", "{{会社名}} {{氏名}}様"),
                ("body", "{{氏名}}様\r\n{{担当者名}}です"),
                ("html_body", ""),
                ("shared", "1"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    let e = by_id(&html, "e-body");
    assert!(e.contains("{{担当者名}}") && e.contains("使えない差し込み項目"), "{e}");
    assert!(
        html.contains("id=\"f-body\" name=\"body\" rows=\"12\" required aria-invalid=\"true\""),
        "{html}"
    );
    assert!(html.contains("value=\"ご挨拶\""), "the name is kept");
    assert!(html.contains("{{担当者名}}です</textarea>"), "the body is kept");
    assert!(
        html.contains("name=\"shared\" value=\"1\" id=\"f-shared\" checked"),
        "the box stays ticked"
    );
    assert!(!html.contains("id=\"e-subject\""), "only the body is marked");

    // A subject with an unknown placeholder: beside the subject; an empty name beside the name.
    let res = b
        .post(
            "/mail/templates",
            &[("name", "x"), ("subject", "{{Name}}様"), ("body", "本文")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(by_id(&html, "e-subject").contains("{{Name}}"), "{html}");
    let res = b
        .post("/mail/templates", &[("name", " "), ("subject", "s"), ("body", "本文")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(by_id(&res.text().await.unwrap(), "e-name").contains("テンプレート名"));

    // In English the service's own words, still beside the field.
    let en = signed_in(&x.t, "sato@cmail.example.jp", "en").await;
    let res = en
        .post(
            "/mail/templates",
            &[("name", "x"), ("subject", "s"), ("body", "{{担当者名}}")],
        )
        .await;
    let html = res.text().await.unwrap();
    assert!(
        by_id(&html, "e-body").contains("unknown placeholder {{担当者名}}"),
        "{html}"
    );

    // Fixed, it is saved (line breaks as typed) and listed with its creator.
    let res = b
        .post(
            "/mail/templates",
            &[
                ("name", "ご挨拶"),
                ("subject", "{{会社名}} {{氏名}}様"),
                ("body", "{{氏名}}様\r\n{{差出人氏名}}です"),
                ("shared", "1"),
            ],
        )
        .await;
    let html = follow(&b, res).await;
    assert!(
        by_id(&html, "flash").contains("テンプレート「ご挨拶」を作成しました"),
        "{html}"
    );
    assert!(html.contains("佐藤 花子"), "the creator is listed");
    let id = template_id(&x.t, &x.sato, "ご挨拶").await;
    let (_, v) = x.t.get(&x.sato, &format!("/api/v1/mail/templates/{id}")).await;
    assert_eq!(v["body"], "{{氏名}}様\n{{差出人氏名}}です");
    assert_eq!(v["shared"], true);

    // Another user (here the admin) sees it read-only with a copy button, and may not change it.
    let admin = signed_in(&x.t, "admin@cmail.example.jp", "ja").await;
    let (_, list) = admin.get("/mail/templates").await;
    assert!(
        list.contains(&format!("action=\"/mail/templates/{id}/copy\"")),
        "a copy button"
    );
    let (_, page) = admin.get(&format!("/mail/templates/{id}")).await;
    assert!(page.contains("id=\"not-mine\"") && !page.contains("id=\"save-template\""));
    assert!(!page.contains("id=\"delete-template\""), "no delete for others");
    let res = admin
        .post(
            &format!("/mail/templates/{id}"),
            &[("name", "乗っ取り"), ("subject", "s"), ("body", "b")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let res = admin.post(&format!("/mail/templates/{id}/delete"), &[]).await;
    assert!(by_id(&follow(&admin, res).await, "flash").contains("作成者だけ"));
    // The copy is the admin's own, and editable.
    let res = admin.post(&format!("/mail/templates/{id}/copy"), &[]).await;
    let to = location(&res);
    let (_, page) = admin.get(&to).await;
    assert!(by_id(&page, "flash").contains("コピーしました"));
    assert!(page.contains("id=\"save-template\"") && page.contains("id=\"delete-template\""));
    // The creator deletes theirs.
    let res = b.post(&format!("/mail/templates/{id}/delete"), &[]).await;
    assert!(by_id(&follow(&b, res).await, "flash").contains("削除しました"));
    let (s, _) = b.get(&format!("/mail/templates/{id}")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_preview_names_skipped_cards_and_a_member_never_sees_an_admins_send() {
    let sink = Sink::start().await;
    let x = setup(spawn_with_mail(&sink.url()).await).await;
    let admin = signed_in(&x.t, "admin@cmail.example.jp", "ja").await;
    let res = admin
        .post(
            "/mail/templates",
            &[
                ("name", "ご案内"),
                ("subject", "{{氏名}}様へ"),
                ("body", "{{氏名}}様"),
                ("shared", "1"),
            ],
        )
        .await;
    location(&res);
    let tid = template_id(&x.t, &x.org.admin, "ご案内").await;

    // No recipients: the reason above the form.
    let (s, html) = admin.get(&format!("/mail/new?template_id={tid}&preview=1")).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert!(by_id(&html, "send-error").contains("宛先の条件"), "{html}");

    let q = format!(
        "template_id={tid}&company={}&preview=1",
        crate::console_mail::enc("ABC商事")
    );
    let (s, html) = admin.get(&format!("/mail/new?{q}")).await;
    assert_eq!(s, StatusCode::OK, "{html}");
    no_missing_texts("/mail/new", &html);
    assert!(
        by_id(&html, "preview-summary").contains("送信予定 2 通、スキップ 1 件"),
        "{html}"
    );
    let skipped = by_id(&html, "skipped-cards");
    assert!(skipped.contains("伊藤 三郎"), "{skipped}");
    assert!(
        html.contains("伊藤 三郎</strong> (ABC商事株式会社) — 所有者が利用停止・削除済み"),
        "{html}"
    );
    assert!(html.contains("佐藤 花子"), "messages per sender");
    // The CSV of the skipped cards.
    let csv_href = html
        .split("href=\"/mail/new/skipped.csv?")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let csv_href = format!(
        "/mail/new/skipped.csv?{}",
        csv_href.replace("&amp;", "&").replace("&#38;", "&")
    );
    let (s, csv) = admin.get(&csv_href).await;
    assert_eq!(s, StatusCode::OK, "{csv_href} {csv}");
    assert!(
        csv.contains("伊藤 三郎") && csv.contains("所有者が利用停止・削除済み"),
        "{csv}"
    );

    // A scheduled time in the past is refused beside the field; the time is read in Tokyo.
    let res = admin
        .post(
            "/mail/sends",
            &[
                ("template_id", &tid),
                ("company", "ABC商事"),
                ("scheduled_at", "2020-01-01T09:00"),
            ],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(by_id(&res.text().await.unwrap(), "e-scheduled_at").contains("送信日時"));

    // Scheduled an hour ahead (Tokyo time): the send's page, cancellable.
    let later = (x.t.app.now() + chrono::Duration::hours(1))
        .with_timezone(&chrono_tz::Asia::Tokyo)
        .format("%Y-%m-%dT%H:%M")
        .to_string();
    let res = admin
        .post(
            "/mail/sends",
            &[
                ("template_id", &tid),
                ("company", "ABC商事"),
                ("owner_id", ""),
                ("scheduled_at", &later),
            ],
        )
        .await;
    let to = location(&res);
    assert!(to.starts_with("/mail/sends/"), "{to}");
    let send_id = to.trim_start_matches("/mail/sends/").to_string();
    let (_, v) = x.t.get(&x.org.admin, &format!("/api/v1/mail/sends/{send_id}")).await;
    assert_eq!(v["status"], "scheduled");
    let want = chrono::NaiveDateTime::parse_from_str(&later, "%Y-%m-%dT%H:%M").unwrap();
    let got: chrono::DateTime<chrono::Utc> = v["scheduled_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        got.with_timezone(&chrono_tz::Asia::Tokyo).naive_local(),
        want,
        "Tokyo time → UTC"
    );
    let (_, page) = admin.get(&to).await;
    assert!(by_id(&page, "flash").contains("送信を予約しました"), "{page}");
    assert_eq!(by_id(&page, "send-status"), "予約済み");
    assert!(page.contains("伊藤 三郎") && page.contains("id=\"cancel-send\""));
    let (_, history) = admin.get("/mail/sends").await;
    assert!(history.contains(&format!("/mail/sends/{send_id}")) && history.contains("予約済み"));

    // 佐藤 (member) sees neither the admin's send nor it in her history.
    let sato = signed_in(&x.t, "sato@cmail.example.jp", "ja").await;
    let (s, _) = sato.get(&to).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, history) = sato.get("/mail/sends").await;
    assert!(!history.contains(&send_id), "{history}");
    let (s, _) = sato.get(&format!("/mail/sends/{send_id}/skipped.csv")).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let res = sato.post(&format!("{to}/cancel"), &[]).await;
    assert_eq!(res.status(), StatusCode::NOT_FOUND);
    // Nor the admin's owner select; asking for another owner's cards is refused.
    let (_, form) = sato.get(&format!("/mail/new?template_id={tid}")).await;
    assert!(
        !form.contains("<select id=\"f-owner_id\""),
        "no owner select for a member"
    );
    assert!(form.contains("自分の名刺すべて"));
    // Her own cards, all of them: both, from her.
    let me = form
        .split("name=\"owner_id\" value=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap();
    let (s, html) = sato
        .get(&format!("/mail/new?template_id={tid}&owner_id={me}&preview=1"))
        .await;
    assert_eq!(s, StatusCode::OK, "{html}");
    assert!(
        by_id(&html, "preview-summary").contains("送信予定 2 通、スキップ 0 件"),
        "{html}"
    );
    let res = sato
        .post("/mail/sends", &[("template_id", &tid), ("owner_id", &x.ito_id)])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert!(by_id(&res.text().await.unwrap(), "e-owner_id").contains("自分の名刺"));

    // Posts without the CSRF token are refused and change nothing.
    for path in [format!("{to}/cancel"), "/mail/sends".into(), "/mail/templates".into()] {
        let res = admin
            .client
            .post(format!("{}{path}", x.t.url))
            .form(&[("template_id", tid.as_str()), ("company", "ABC商事"), ("name", "n")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{path}");
    }
    // The admin cancels: a redirect with the message; a reload posts nothing.
    let res = admin.post(&format!("{to}/cancel"), &[]).await;
    let page = follow(&admin, res).await;
    assert!(by_id(&page, "flash").contains("キャンセルしました"));
    assert_eq!(by_id(&page, "send-status"), "キャンセル");
    assert!(!page.contains("id=\"cancel-send\""));

    // 佐藤 sends now from her own cards: her send, delivered, shown as 送信完了.
    let res = sato
        .post("/mail/sends", &[("template_id", &tid), ("company", "ABC商事")])
        .await;
    let to = location(&res);
    let id = to.trim_start_matches("/mail/sends/");
    sink.wait_for(2).await;
    let mut status = String::new();
    for _ in 0..200 {
        let (_, page) = sato.get(&to).await;
        status = by_id(&page, "send-status").to_string();
        if status == "送信完了" {
            assert!(page.contains("送信済み 2"), "{page}");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(status, "送信完了");
    let (_, history) = sato.get("/mail/sends").await;
    assert!(history.contains(id) && !history.contains(&send_id));
    assert!(
        sink.received().iter().all(|m| m.mail_from == "sato@cmail.example.jp"),
        "from her"
    );
}

pub(crate) fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[tokio::test]
async fn without_smtp_every_mail_page_says_to_set_meishi_smtp_url_and_settings_are_admins_only() {
    let x = setup(spawn().await).await;
    for lang in ["ja", "en"] {
        let admin = signed_in(&x.t, "admin@cmail.example.jp", lang).await;
        for path in [
            "/mail/templates",
            "/mail/templates/new",
            "/mail/new",
            "/mail/sends",
            "/mail/settings",
        ] {
            let (s, html) = admin.get(path).await;
            assert_eq!(s, StatusCode::OK, "{path}");
            no_missing_texts(path, &html);
            if path != "/mail/templates/new" {
                assert!(
                    html.contains("id=\"mail-off\"") && html.contains("MEISHI_SMTP_URL"),
                    "{path}"
                );
            }
        }
        let (s, _) = admin.get("/mail").await;
        assert_eq!(s, StatusCode::SEE_OTHER);
    }
    let admin = signed_in(&x.t, "admin@cmail.example.jp", "ja").await;
    let res = admin
        .post(
            "/mail/templates",
            &[("name", "t"), ("subject", "s"), ("body", "{{氏名}}様")],
        )
        .await;
    location(&res);
    let tid = template_id(&x.t, &x.org.admin, "t").await;
    // The preview works; there is no send button, and a send is refused naming MEISHI_SMTP_URL.
    let (_, html) = admin
        .get(&format!("/mail/new?template_id={tid}&company=ABC&preview=1"))
        .await;
    assert!(html.contains("id=\"preview\"") && !html.contains("id=\"send-button\""));
    let res = admin
        .post("/mail/sends", &[("template_id", &tid), ("company", "ABC商事")])
        .await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(by_id(&res.text().await.unwrap(), "send-error").contains("MEISHI_SMTP_URL"));

    // Settings: saved with a flash; a bad limit shown with the typed values; the lists.
    let res = admin
        .post(
            "/mail/settings",
            &[
                ("handover_from", "successor"),
                ("daily_limit", "500"),
                ("sending_domain", "cmail.example.jp"),
            ],
        )
        .await;
    let page = follow(&admin, res).await;
    assert!(by_id(&page, "flash").contains("保存しました"));
    let (_, v) = x.t.get(&x.org.admin, "/api/v1/mail/settings").await;
    assert_eq!(v["handover_from"], "successor");
    assert_eq!(v["reminders"], false, "an unticked box turns reminders off");
    assert_eq!(v["daily_limit"], 500);
    assert_eq!(v["sending_domain"], "cmail.example.jp");
    let res = admin
        .post(
            "/mail/settings",
            &[("handover_from", "leaver"), ("daily_limit", "0"), ("reminders", "1")],
        )
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    let html = res.text().await.unwrap();
    assert!(by_id(&html, "settings-error").contains("1日の送信上限"), "{html}");
    assert!(html.contains("value=\"0\""), "the typed limit is kept");
    let res = admin
        .post(
            "/mail/suppressions",
            &[
                ("kind", "opt_out"),
                ("value", "taro@x.example.jp"),
                ("reason", "電話で依頼"),
            ],
        )
        .await;
    let page = follow(&admin, res).await;
    assert!(by_id(&page, "flash").contains("taro@x.example.jp"));
    assert!(page.contains("電話で依頼"));
    let res = admin
        .post("/mail/suppressions", &[("kind", "opt_out"), ("value", "会社名")])
        .await;
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(by_id(&res.text().await.unwrap(), "suppression-error").contains("メールアドレス"));
    let res = admin
        .post(
            "/mail/suppressions",
            &[("kind", "block"), ("value", "株式会社ブロック商事")],
        )
        .await;
    location(&res);
    let (_, v) = x.t.get(&x.org.admin, "/api/v1/mail/suppressions?kind=block").await;
    let value = v[0]["value"].as_str().unwrap().to_string();
    let res = admin
        .post("/mail/suppressions/remove", &[("kind", "block"), ("value", &value)])
        .await;
    assert!(by_id(&follow(&admin, res).await, "flash").contains("削除しました"));
    let (_, v) = x.t.get(&x.org.admin, "/api/v1/mail/suppressions?kind=block").await;
    assert_eq!(v.as_array().unwrap().len(), 0);

    // A member: no settings, no lists.
    let sato = signed_in(&x.t, "sato@cmail.example.jp", "ja").await;
    let (s, _) = sato.get("/mail/settings").await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (_, html) = sato.get("/mail/templates").await;
    assert!(!html.contains("href=\"/mail/settings\""));
    let res = sato
        .post("/mail/suppressions", &[("kind", "opt_out"), ("value", "a@b.jp")])
        .await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
}

/// The departure page's 引き継ぎのご挨拶: waits for an approved plan, lists the customers with
/// their successors, sends once, and says so.
#[tokio::test]
async fn the_departure_page_sends_the_handover_notice_once() {
    let sink = Sink::start().await;
    let t = spawn_with_mail(&sink.url()).await;
    let org = t.org("cnotice").await;
    let (yamada, yamada_t) = t.user(&org, "yamada@cnotice.example.jp", "山田 賢治", "member").await;
    let (sato, _) = t.user(&org, "sato@cnotice.example.jp", "佐藤 花子", "member").await;
    t.card(
        &yamada_t,
        json!({"full_name": "木村 太郎", "company": "甲社", "email": "kimura@kou.example.jp"}),
    )
    .await;
    let (s, tpl) = t
        .post(
            &org.admin,
            "/api/v1/mail/templates",
            json!({"name": "ご挨拶", "subject": "担当交代", "body": "{{氏名}}様 後任は{{後任者氏名}}です", "shared": true}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{tpl}");
    let day = (chrono::Utc::now().date_naive() + chrono::Duration::days(20)).to_string();
    let (s, dep) = t
        .post(
            &org.admin,
            "/api/v1/departures",
            json!({"user_id": yamada, "retirement_date": day, "last_working_day": day, "successor_id": sato}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{dep}");
    let dep = dep["id"].as_str().unwrap().to_string();
    let b = signed_in(&t, "admin@cnotice.example.jp", "ja").await;
    let (_, html) = b.get(&format!("/departures/{dep}")).await;
    assert!(by_id(&html, "notice").contains("引き継ぎのご挨拶"));
    assert!(html.contains("引き継ぎ計画が承認されると"), "{html}");

    t.call(
        &yamada_t,
        reqwest::Method::PUT,
        &format!("/api/v1/departures/{dep}/plan"),
        Some(json!({"items": []})),
    )
    .await;
    let (s, v) = t
        .post(&org.admin, &format!("/api/v1/departures/{dep}/plan/approve"), json!({}))
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (_, html) = b.get(&format!("/departures/{dep}")).await;
    no_missing_texts("/departures/{id}", &html);
    assert!(
        html.contains("未送信 1 名") && html.contains("木村 太郎（甲社） → 佐藤 花子"),
        "{html}"
    );
    let tpl_id = tpl["id"].as_str().unwrap();
    let res = b
        .post(&format!("/departures/{dep}/notice"), &[("template_id", tpl_id)])
        .await;
    let html = follow(&b, res).await;
    assert!(html.contains("1 名に引き継ぎのご挨拶を送りました"), "{html}");
    assert!(html.contains("未送信 0 名・送信済み 1 名"), "{html}");
    let got = sink.wait_for(1).await;
    assert_eq!(got[0].rcpt, vec!["kimura@kou.example.jp".to_string()]);
    // No send button once everyone has had it; a forged post sends nothing twice.
    assert!(!html.contains("引き継ぎのご挨拶を送る"), "{html}");
    let res = b
        .post(&format!("/departures/{dep}/notice"), &[("template_id", tpl_id)])
        .await;
    let html = follow(&b, res).await;
    assert!(html.contains("0 名に引き継ぎのご挨拶を送りました"), "{html}");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert_eq!(sink.received().len(), 1);
}
