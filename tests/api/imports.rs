//! Import and export of cards over HTTP and the command line: real-client vCard samples,
//! Sansan-style CSV in every encoding, every bad input, both modes, the round trip into an
//! empty organisation, rights and isolation.

use crate::harness::*;
use reqwest::StatusCode;
use serde_json::{Value, json};

fn sample(name: &str) -> Vec<u8> {
    std::fs::read(format!("{}/tests/data/imports/{name}", env!("CARGO_MANIFEST_DIR"))).expect("sample file")
}

async fn upload(t: &TestApp, token: &str, query: &str, content_type: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let res = t
        .http
        .post(format!("{}/api/v1/imports{query}", t.url))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .expect("upload");
    let status = res.status();
    (status, res.json().await.unwrap_or(Value::Null))
}

async fn download(t: &TestApp, token: &str, query: &str) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let res = t
        .http
        .get(format!("{}/api/v1/exports{query}", t.url))
        .bearer_auth(token)
        .send()
        .await
        .expect("download");
    let (status, headers) = (res.status(), res.headers().clone());
    (status, headers, res.bytes().await.unwrap().to_vec())
}

async fn all_cards(t: &TestApp, token: &str) -> Vec<Value> {
    let (s, v) = t.get(token, "/api/v1/cards?limit=500").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["items"].as_array().unwrap().clone()
}

fn by_name<'a>(cards: &'a [Value], name: &str) -> &'a Value {
    cards
        .iter()
        .find(|c| c["full_name"] == name)
        .unwrap_or_else(|| panic!("no card named {name} in {cards:#?}"))
}

#[tokio::test]
async fn vcard_samples_of_every_client_family() {
    let t = spawn().await;
    let org = t.org("acme").await;
    for (file, n) in [
        ("iphone.vcf", 2),
        ("android.vcf", 1),
        ("google.vcf", 1),
        ("outlook.vcf", 1),
        ("thunderbird.vcf", 1),
    ] {
        let (s, r) = upload(&t, &org.admin, "", "text/vcard", sample(file)).await;
        assert_eq!(s, StatusCode::OK, "{file}: {r}");
        assert_eq!(r["imported"], n, "{file}: {r}");
        assert_eq!(r["format"], "vcard");
    }
    let cards = all_cards(&t, &org.admin).await;
    let names: Vec<&str> = cards.iter().map(|c| c["full_name"].as_str().unwrap()).collect();
    assert_eq!(cards.len(), 6, "{names:?}");

    let c = by_name(&cards, "田中 一郎"); // iPhone
    assert_eq!(c["name_reading"], "タナカ イチロウ");
    assert_eq!(c["company"], "株式会社サンプル");
    assert_eq!(c["department"], "営業本部 第一営業部");
    assert_eq!(c["title"], "課長");
    assert_eq!(c["email"], "ichiro.tanaka@sample.co.jp");
    assert_eq!(c["mobile"], "090-1111-2222");
    assert_eq!(c["phone"], "03-1234-5678");
    assert_eq!(c["fax"], "03-1234-5679");
    assert_eq!(c["postal_code"], "100-0005");
    assert_eq!(c["address"], "東京都千代田区丸の内1-1-1");
    assert_eq!(c["url"], "https://www.sample.co.jp");
    let extra = c["extra"]["vcard"].to_string();
    assert!(
        extra.contains("ichiro@home.example"),
        "the second email is kept: {extra}"
    );
    assert!(
        extra.contains("後任は佐藤さん"),
        "the folded note is kept whole: {extra}"
    );
    let co = by_name(&cards, "株式会社エグザンプル");
    assert_eq!(co["company"], "株式会社エグザンプル");

    let c = by_name(&cards, "鈴木 花子"); // Android 2.1 quoted-printable
    assert_eq!(c["name_reading"], "スズキ ハナコ");
    assert_eq!(c["company"], "大阪商事株式会社");
    assert_eq!(c["department"], "総務部");
    assert_eq!(c["title"], "主任");
    assert_eq!(c["mobile"], "080-2222-3333");
    assert_eq!(c["email"], "hanako.suzuki@example.co.jp");
    assert_eq!(c["address"], "大阪府大阪市北区梅田1-1-1");
    assert_eq!(c["postal_code"], "530-0001");
    let extra = c["extra"]["vcard"].to_string();
    assert!(extra.contains("長いメモはソフト改行で続きます"), "{extra}");

    let c = by_name(&cards, "山本 健太"); // Google
    assert_eq!(c["name_reading"], "ヤマモト ケンタ");
    assert_eq!(c["company"], "名古屋精機(株)");
    assert_eq!(c["email"], "kenta.yamamoto@example.com");
    assert_eq!(c["address"], "愛知県名古屋市中村区名駅1-1-1");
    assert!(c["url"].as_str().unwrap().contains("www.example.com"), "{c}");
    assert!(c["extra"]["vcard"].to_string().contains("BDAY"));
    assert_eq!(c["tag_ids"].as_array().unwrap().len(), 2, "CATEGORIES become tags");

    let c = by_name(&cards, "髙橋 美咲"); // Outlook, Shift_JIS
    assert_eq!(c["name_reading"], "ﾀｶﾊｼ ﾐｻｷ");
    assert_eq!(c["company"], "株式会社ミライ①");
    assert_eq!(c["department"], "経営企画室");
    assert_eq!(c["fax"], "03-5555-1235");
    assert_eq!(c["address"], "東京都港区芝公園4-2-8");
    assert!(
        c["extra"]["vcard"].to_string().contains("港区芝公園"),
        "the QP label is decoded"
    );

    let c = by_name(&cards, "渡辺 大輔"); // Thunderbird 4.0
    assert_eq!(c["name_reading"], "ワタナベ ダイスケ");
    assert_eq!(c["email"], "daisuke.watanabe@example.org");
    assert_eq!(c["mobile"], "080-9999-0000");
    assert_eq!(c["company"], "北海道物産株式会社");

    let events = t.audit(&org, "cards.import").await;
    assert_eq!(events.len(), 5, "one audit event per import, not per card");
    assert_eq!(events[0]["after"]["imported"], 1);
}

#[tokio::test]
async fn csv_in_utf8_with_and_without_bom_and_shift_jis() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (sato, _) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    // The same three cards in each file: after the first, each import finds them all exact
    // duplicates and skips them (listed), unless asked to keep them.
    for (i, (file, query, encoding)) in [
        ("sansan_utf8.csv", "", "utf-8"),
        ("sansan_utf8_bom.csv", "", "utf-8"),
        ("sansan_sjis.csv", "", "shift_jis"),
        ("sansan_sjis.csv", "?encoding=shift_jis", "shift_jis"),
        ("sansan_sjis.csv", "?on_duplicate=keep", "shift_jis"),
    ]
    .into_iter()
    .enumerate()
    {
        let (s, r) = upload(&t, &org.admin, query, "text/csv", sample(file)).await;
        assert_eq!(s, StatusCode::OK, "{file}: {r}");
        let kept = i == 0 || query.contains("keep");
        assert_eq!(r["imported"], if kept { 3 } else { 0 }, "{file}: {r}");
        assert_eq!(r["duplicates"], if i == 0 { 0 } else { 3 }, "{file}: {r}");
        assert_eq!(r["encoding"], encoding, "{file}");
        assert_eq!(r["warnings"][0]["field"], "会社名（英語）", "{r}");
        if i > 0 {
            assert_eq!(r["duplicate_lines"].as_array().unwrap().len(), 3, "{r}");
        }
    }
    let cards = all_cards(&t, &org.admin).await;
    assert_eq!(cards.len(), 6);
    for c in cards.iter().filter(|c| c["full_name"] == "髙橋 一郎") {
        assert_eq!(
            c["address"], "東京都千代田区丸の内1-1-1 サンプルビル①",
            "髙 and ① survive"
        );
        assert_eq!(c["exchanged_on"], "2026-04-01");
        assert_eq!(c["tag_ids"].as_array().unwrap().len(), 2);
        assert_eq!(c["extra"]["csv"]["会社名（英語）"], "Sample Inc.");
    }
    let (_, tags) = t.get(&org.admin, "/api/v1/tags").await;
    assert_eq!(
        tags["items"].as_array().unwrap().len(),
        2,
        "tags are reused, not duplicated: {tags}"
    );
    let hanako = cards.iter().find(|c| c["full_name"] == "佐藤 花子").unwrap();
    assert_eq!(hanako["address"], "大阪府大阪市北区梅田1-1-1\n梅田ビル3階");

    // An owner column assigns owners per row.
    let csv = "氏名,会社名,名刺所有者ユーザID\n木村 拓也,A社,sato@acme.example.jp\n".to_string();
    let (s, r) = upload(&t, &org.admin, "", "text/csv; charset=utf-8", csv.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let (_, list) = t.get(&org.admin, &format!("/api/v1/cards?owner_id={sato}")).await;
    assert_eq!(list["items"][0]["full_name"], "木村 拓也");
}

#[tokio::test]
async fn bad_input_names_line_and_field_and_imports_nothing() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let csv = "氏名,会社名,Email(1),名刺交換日,好きな色\n\
               田中 一郎,A社,tanaka@a.example.jp,2026-04-01,青\n\
               ,,,,赤\n\
               佐藤,B社,sato@,2026-04-01,\n\
               鈴木,C社,suzuki@c.example.jp,2026/02/30,\n\
               高田,D社,takada@d.example.jp\n\
               小林,E社,kobayashi@e.example.jp,,\n";
    let (s, v) = upload(&t, &org.admin, "", "text/csv", csv.into()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let d = &v["error"]["details"];
    assert_eq!(d["error_count"], 4, "{v}");
    let got: Vec<(u64, String)> = d["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["line"].as_u64().unwrap(), e["field"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(
        got,
        vec![
            (3, "氏名".into()),
            (4, "Email(1)".into()),
            (5, "名刺交換日".into()),
            (6, "".into())
        ]
    );
    assert_eq!(d["warnings"][0]["field"], "好きな色", "an unknown column is reported");
    assert!(all_cards(&t, &org.admin).await.is_empty(), "all or nothing");
    assert!(t.audit(&org, "cards.import").await.is_empty());

    // valid_rows: the good rows land, the bad ones are listed.
    let (s, r) = upload(&t, &org.admin, "?mode=valid_rows", "text/csv", csv.into()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (r["imported"].as_u64(), r["error_count"].as_u64()),
        (Some(2), Some(4)),
        "{r}"
    );
    assert_eq!(all_cards(&t, &org.admin).await.len(), 2);

    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01".to_vec();
    let truncated_vcard =
        b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:3.0\r\nFN:y".to_vec();
    let truncated_csv = "氏名,会社名\nx,A社\ny,\"B社".as_bytes().to_vec();
    let mut sjis = sample("sansan_sjis.csv");
    sjis.extend_from_slice(b"\n");
    for (name, query, ct, body, field) in [
        ("binary", "?mode=valid_rows", "application/octet-stream", png, "file"),
        ("not a card CSV", "", "text/csv", b"foo,bar\n1,2\n".to_vec(), "file"),
        ("not a vCard", "", "text/vcard", b"hello world\n".to_vec(), "file"),
        (
            "truncated vCard",
            "?mode=valid_rows",
            "text/vcard",
            truncated_vcard,
            "file",
        ),
        ("truncated CSV", "?mode=valid_rows", "text/csv", truncated_csv, "file"),
        (
            "Shift_JIS said to be UTF-8",
            "?encoding=utf-8&mode=valid_rows",
            "text/csv",
            sjis,
            "encoding",
        ),
        (
            "UTF-8 said to be Shift_JIS",
            "?encoding=shift_jis&mode=valid_rows",
            "text/csv",
            sample("sansan_utf8.csv"),
            "encoding",
        ),
        ("empty", "", "text/csv", vec![], "file"),
    ] {
        let got = upload(&t, &org.admin, query, ct, body).await;
        assert_error(got.clone(), StatusCode::UNPROCESSABLE_ENTITY, Some(field));
        assert!(
            got.1["error"]["message"].as_str().unwrap().len() > 10,
            "{name}: {}",
            got.1
        );
    }
    assert_eq!(all_cards(&t, &org.admin).await.len(), 2, "nothing half-imported");
    let got = upload(&t, &org.admin, "?mode=maybe", "text/csv", b"x".to_vec()).await;
    assert_error(got, StatusCode::BAD_REQUEST, Some("mode"));
}

/// The cards as one organisation sees them, comparable across organisations: tag names and
/// owner emails instead of ids.
async fn summary(t: &TestApp, token: String) -> Vec<Value> {
    {
        let cards = all_cards(t, &token).await;
        let (_, tags) = t.get(&token, "/api/v1/tags?limit=500").await;
        let (_, users) = t.get(&token, "/api/v1/users?limit=500").await;
        let tag_name = |id: &Value| {
            tags["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == *id)
                .unwrap()["name"]
                .clone()
        };
        let email = |id: &Value| {
            users["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|x| x["id"] == *id)
                .unwrap()["email"]
                .clone()
        };
        let mut out: Vec<Value> = cards
            .iter()
            .map(|c| {
                let mut c = c.clone();
                let mut names: Vec<String> = c["tag_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| tag_name(i).as_str().unwrap().to_string())
                    .collect();
                names.sort();
                c["tag_ids"] = json!(names);
                // The tags the card carries, by name (ids differ between organisations).
                let mut shown: Vec<(String, bool)> = c["tags"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| (x["name"].as_str().unwrap().to_string(), x["shared"].as_bool().unwrap()))
                    .collect();
                shown.sort();
                c["tags"] = json!(shown);
                c["owner_id"] = email(&c["owner_id"]);
                for k in ["id", "created_at", "updated_at", "person_id"] {
                    c.as_object_mut().unwrap().remove(k);
                }
                c
            })
            .collect();
        out.sort_by_key(|c| c.to_string());
        out
    }
}

/// Cards with every field, tags and two owners; export; import into an empty organisation
/// whose users have the same emails; the same cards come back.
#[tokio::test]
async fn round_trip_into_an_empty_organisation() {
    let t = spawn().await;
    let a = t.org("alpha").await;
    let (_, sato) = t.user(&a, "sato@example.jp", "佐藤 美咲", "member").await;
    let full = |name: &str, n: u32| {
        json!({
            "full_name": name, "name_reading": "タナカ イチロウ", "company": "株式会社サンプル; \"引用\", 髙①",
            "department": "営業本部 第一営業部", "title": "課長", "email": format!("p{n}@sample.co.jp"),
            "phone": "03-1234-5678", "mobile": "090-1111-2222", "fax": "03-1234-5679",
            "postal_code": "100-0005", "address": "東京都千代田区丸の内1-1-1\nサンプルビル 12階",
            "url": "https://www.sample.co.jp/a?b=1;c=2", "exchanged_on": "2026-04-01"
        })
    };
    let c1 = t.card(&a.admin, full("田中 一郎", 1)).await;
    let c2 = t.card(&sato, full("鈴木 花子", 2)).await;
    t.card(&sato, json!({"company": "会社だけ株式会社"})).await;
    for (token, card, tag) in [(&a.admin, &c1, "展示会"), (&sato, &c2, "重要"), (&sato, &c2, "展示会")] {
        let (_, tg) = t.post(token, "/api/v1/tags", json!({"name": tag})).await;
        let id = tg["id"].as_str().unwrap_or_default().to_string();
        let (s, v) = t
            .call(
                token,
                reqwest::Method::PUT,
                &format!("/api/v1/cards/{card}/tags/{id}"),
                None,
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // A card with what only a vCard holds (kept in extra).
    let (s, _) = upload(&t, &a.admin, "", "text/vcard", sample("google.vcf")).await;
    assert_eq!(s, StatusCode::OK);

    let before = summary(&t, a.admin.clone()).await;
    assert_eq!(before.len(), 4);

    for (i, query) in [
        "?format=csv",
        "?format=csv&header=ja&encoding=shift_jis",
        "?format=vcard",
        "?format=vcard&version=3.0",
    ]
    .iter()
    .enumerate()
    {
        let (s, headers, file) = download(&t, &a.admin, query).await;
        assert_eq!(s, StatusCode::OK, "{query}");
        assert!(
            headers["content-disposition"]
                .to_str()
                .unwrap()
                .starts_with("attachment; filename="),
            "{headers:?}"
        );
        let slug = format!("beta{i}");
        let b = t.org(&slug).await;
        t.user(&b, "sato@example.jp", "佐藤 美咲", "member").await;
        // The admin's email differs per organisation: map it through the owner column.
        let a_admin = "admin@alpha.example.jp";
        let b_admin = format!("admin@{slug}.example.jp");
        let file = if query.contains("shift_jis") {
            let (text, _, _) = encoding_rs::SHIFT_JIS.decode(&file);
            let mut out = Vec::new();
            meishi::formats::to_shift_jis(&text.replace(a_admin, &b_admin), &mut out);
            out
        } else {
            String::from_utf8(file).unwrap().replace(a_admin, &b_admin).into_bytes()
        };
        let ct = if query.contains("vcard") {
            "text/vcard"
        } else {
            "text/csv"
        };
        let (s, r) = upload(&t, &b.admin, "", ct, file).await;
        assert_eq!(s, StatusCode::OK, "{query}: {r}");
        assert_eq!(r["imported"], 4, "{query}: {r}");
        let mut after = summary(&t, b.admin.clone()).await;
        for c in after.iter_mut() {
            if c["owner_id"] == b_admin.as_str() {
                c["owner_id"] = json!(a_admin);
            }
        }
        assert_eq!(after, before, "{query}");
    }
}

#[tokio::test]
async fn members_import_and_export_their_own_cards_only() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let (sato_id, sato) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (ito_id, ito) = t.user(&org, "ito@acme.example.jp", "伊藤 翔太", "member").await;
    let csv = b"full_name,company\nx,A\n".to_vec();
    let got = upload(&t, &sato, &format!("?owner_id={ito_id}"), "text/csv", csv.clone()).await;
    assert_error(got, StatusCode::FORBIDDEN, Some("owner_id"));
    let (s, r) = upload(&t, &sato, "", "text/csv", csv.clone()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let with_owner = b"full_name,owner\ny,ito@acme.example.jp\nz,nobody@acme.example.jp\n".to_vec();
    let (s, v) = upload(&t, &sato, "", "text/csv", with_owner.clone()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["details"]["errors"][0]["field"], "owner");
    assert_eq!(
        v["error"]["details"]["error_count"], 1,
        "another member's row; nobody's is hers: {v}"
    );
    assert_eq!(v["error"]["details"]["warning_count"], 1, "{v}");
    // Admins import for anyone; a row of someone who is not a user here is the admin's.
    let (s, r) = upload(&t, &org.admin, "?mode=valid_rows", "text/csv", with_owner).await;
    assert_eq!((s, r["imported"].as_u64()), (StatusCode::OK, Some(2)), "{r}");
    assert_eq!(r["warnings"][0]["line"], 3, "{r}");
    let (s, r) = upload(&t, &org.admin, &format!("?owner_id={ito_id}"), "text/csv", csv).await;
    assert_eq!(s, StatusCode::OK, "{r}");

    let (s, _, body) = download(&t, &sato, "?format=csv").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert_eq!(text.lines().count(), 2, "only her own card: {text}");
    let got = download(&t, &sato, &format!("?format=csv&owner_id={ito_id}")).await;
    assert_eq!(got.0, StatusCode::FORBIDDEN);
    let (s, _, body) = download(&t, &org.admin, &format!("?format=csv&owner_id={ito_id}")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 3);
    let (s, _, body) = download(&t, &ito, &format!("?format=vcard&owner_id={sato_id}")).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{}", String::from_utf8_lossy(&body));
    assert_eq!(t.audit(&org, "cards.export").await.len(), 2);

    // Tags in an export: a member sees shared tags and her own, not the admin's personal ones.
    let (_, cards) = t.get(&sato, &format!("/api/v1/cards?owner_id={sato_id}")).await;
    let card = cards["items"][0]["id"].as_str().unwrap().to_string();
    for (token, tag) in [
        (&org.admin, json!({"name": "社内メモ"})),
        (&org.admin, json!({"name": "共有", "shared": true})),
        (&sato, json!({"name": "私の"})),
    ] {
        let (_, tg) = t.post(token, "/api/v1/tags", tag).await;
        let path = format!("/api/v1/cards/{card}/tags/{}", tg["id"].as_str().unwrap());
        let (s, v) = t.call(token, reqwest::Method::PUT, &path, None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    let tags_of = |body: Vec<u8>| {
        let mut r = csv::Reader::from_reader(body.as_slice());
        let i = r.headers().unwrap().iter().position(|h| h == "tags").unwrap();
        r.records().next().unwrap().unwrap()[i].to_string()
    };
    let (_, _, body) = download(&t, &sato, "?format=csv").await;
    assert_eq!(tags_of(body), "共有;私の");
    let (_, _, body) = download(&t, &org.admin, &format!("?format=csv&owner_id={sato_id}")).await;
    assert_eq!(tags_of(body), "共有;社内メモ;私の");
}

#[tokio::test]
async fn organisations_stay_apart() {
    let t = spawn().await;
    let a = t.org("alpha").await;
    let b = t.org("beta").await;
    let (s, _) = upload(&t, &a.admin, "", "text/csv", sample("sansan_utf8.csv")).await;
    assert_eq!(s, StatusCode::OK);
    let (s, _, body) = download(&t, &b.admin, "?format=csv").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(String::from_utf8(body).unwrap().lines().count(), 1, "only the header");
    // Another organisation's user is nobody here: the card is the importing admin's.
    let csv = b"full_name,owner\nx,admin@alpha.example.jp\n".to_vec();
    let (s, v) = upload(&t, &b.admin, "", "text/csv", csv).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(
        v["warnings"][0]["message"]
            .as_str()
            .unwrap()
            .contains("<admin@alpha.example.jp>"),
        "{v}"
    );
    let (_, me) = t.get(&a.admin, "/api/v1/me").await;
    let admin_a = me["id"].as_str().unwrap_or_default().to_string();
    let (_, me) = t.get(&b.admin, "/api/v1/me").await;
    let (_, cards) = t.get(&b.admin, "/api/v1/cards").await;
    assert_eq!(cards["items"][0]["owner_id"], me["id"], "{cards}");
    let cards = json!({"items": all_cards(&t, &a.admin).await});
    assert!(
        cards["items"].as_array().unwrap().iter().all(|c| c["full_name"] != "x"),
        "{cards}"
    );
    let got = download(&t, &b.admin, &format!("?format=csv&owner_id={admin_a}")).await;
    assert_eq!(got.0, StatusCode::NOT_FOUND);
    let got = upload(
        &t,
        &b.admin,
        &format!("?owner_id={admin_a}"),
        "text/csv",
        b"full_name\nx\n".to_vec(),
    )
    .await;
    assert_error(got, StatusCode::UNPROCESSABLE_ENTITY, Some("owner_id"));
}

#[tokio::test]
async fn multipart_upload() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let form = reqwest::multipart::Form::new().text("note", "x").part(
        "file",
        reqwest::multipart::Part::bytes(sample("outlook.vcf"))
            .file_name("outlook.vcf")
            .mime_str("text/x-vcard")
            .unwrap(),
    );
    let res = t
        .http
        .post(format!("{}/api/v1/imports", t.url))
        .bearer_auth(&org.admin)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let r: Value = res.json().await.unwrap();
    assert_eq!(r["imported"], 1, "{r}");
}

#[tokio::test]
async fn import_and_export_from_the_terminal() {
    let t = spawn().await;
    let org = t.org("acme").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cards.csv");
    std::fs::write(&path, sample("sansan_sjis.csv")).unwrap();
    let run = |args: &[&str]| {
        std::process::Command::new(env!("CARGO_BIN_EXE_meishi"))
            .args(args)
            .env_remove("MEISHI_DATABASE_URL")
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let db = t.db_url.as_str();
    let admin = "admin@acme.example.jp";
    let out = run(&["import", "--database", db, path.to_str().unwrap(), "--owner", admin]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("imported 3 of 3 rows (csv, shift_jis)"), "{stdout}");
    let _ = org;

    let out = run(&["export", "--database", db, "--format", "csv", "--header", "ja"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("氏名,氏名（カナ）,会社名"), "{text}");
    assert!(text.contains("髙橋 一郎"));
    let out = run(&["export", "--database", db, "--format", "csv", "--encoding", "shift_jis"]);
    let (decoded, _, bad) = encoding_rs::SHIFT_JIS.decode(&out.stdout);
    assert!(!bad && decoded.contains("サンプルビル①"), "{decoded}");

    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, "氏名,Email(1)\nx,nope\n").unwrap();
    let out = run(&["import", "--database", db, bad.to_str().unwrap(), "--owner", admin]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("line 2: Email(1)"), "{stderr}");
}

/// An export larger than a page (the export reads 5,000 cards a page, ahead of the writer):
/// every card comes out once, with its own tags and owner, whatever page it sits on.
#[tokio::test]
async fn an_export_of_many_pages_gives_every_card_once_with_its_tags() {
    let t = spawn().await;
    let a = t.org("pages").await;
    let (_, sato) = t.user(&a, "sato@example.jp", "佐藤 美咲", "member").await;
    let admin = "admin@pages.example.jp";
    let mut file = String::from("full_name,company,tags,owner\n");
    let mut want = Vec::new();
    for i in 0..12_345 {
        let owner = if i % 3 == 0 { "sato@example.jp" } else { admin };
        let tags = match i % 4 {
            0 => "展示会",
            1 => "展示会;重要",
            _ => "",
        };
        file.push_str(&format!("名刺 {i},会社{},{tags},{owner}\n", i % 17));
        want.push(format!("名刺 {i}|{tags}|{owner}"));
    }
    let (s, r) = upload(&t, &a.admin, "", "text/csv", file.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["imported"], 12_345, "{r}");

    let (s, _, out) = download(&t, &a.admin, "?format=csv").await;
    assert_eq!(s, StatusCode::OK);
    let mut rdr = csv::Reader::from_reader(out.as_slice());
    let head = rdr.headers().unwrap().clone();
    let col = |n: &str| head.iter().position(|h| h == n).unwrap();
    let (name, tags, owner) = (col("full_name"), col("tags"), col("owner"));
    let mut got: Vec<String> = rdr
        .records()
        .map(|r| {
            let r = r.unwrap();
            format!("{}|{}|{}", &r[name], &r[tags], &r[owner])
        })
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got.len(), want.len());
    assert_eq!(got, want);

    // A member's export: their own cards only, all of them.
    let (s, _, out) = download(&t, &sato, "?format=vcard").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.matches("BEGIN:VCARD").count(), 4_115);
}

/// Problems found after several batches were already written (an import writes 5,000 cards a
/// batch while it reads on): still nothing is kept, in either mode for a broken file.
#[tokio::test]
async fn a_problem_after_the_first_batches_still_imports_nothing() {
    let t = spawn().await;
    let org = t.org("late").await;
    let rows = |n: usize| -> String {
        let mut s = String::from("full_name,company,tags\n");
        for i in 0..n {
            s.push_str(&format!("名刺 {i},会社{},展示会\n", i % 7));
        }
        s
    };
    // A bad row near the end, all or nothing.
    let mut file = rows(12_000);
    file.push_str(",,重要\n"); // no name, no company
    file.push_str(&rows(10)[23..]);
    let (s, v) = upload(&t, &org.admin, "", "text/csv", file.clone().into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["details"]["errors"][0]["line"], 12_002, "{v}");
    // A file cut off inside a quoted field, after 12,000 good rows: a broken file.
    let mut cut = rows(12_000);
    cut.push_str("\"名刺 の途中,会社");
    for mode in ["", "?mode=valid_rows"] {
        let (s, v) = upload(&t, &org.admin, mode, "text/csv", cut.clone().into_bytes()).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{mode}: {v}");
        assert!(v["error"]["message"].as_str().unwrap().contains("truncated"), "{v}");
    }
    let (_, listed) = t.get(&org.admin, "/api/v1/cards?limit=1").await;
    assert!(listed["items"].as_array().unwrap().is_empty(), "nothing kept: {listed}");
    let (_, tags) = t.get(&org.admin, "/api/v1/tags?limit=10").await;
    assert!(tags["items"].as_array().unwrap().is_empty(), "no tag kept: {tags}");

    // valid_rows with the bad row: the 12,000 good rows land, with their tag; the last ten
    // lines repeat the first ten exactly: duplicates, skipped and listed.
    let (s, r) = upload(&t, &org.admin, "?mode=valid_rows", "text/csv", file.into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(
        (
            r["imported"].as_u64(),
            r["error_count"].as_u64(),
            r["duplicates"].as_u64()
        ),
        (Some(12_000), Some(1), Some(10)),
        "{r}"
    );
    assert_eq!(r["duplicate_lines"][0]["line"], 12_003, "{r}");
    let (s, _, out) = download(&t, &org.admin, "?format=csv").await;
    assert_eq!(s, StatusCode::OK);
    let text = String::from_utf8(out).unwrap();
    assert_eq!(text.lines().count(), 12_001, "a header and every card");
    assert_eq!(text.matches(",展示会,").count(), 12_000);
}

/// The explicit indexes of `cards`, by name (the primary key's aside).
async fn card_indexes(t: &TestApp) -> Vec<String> {
    use sea_orm::ConnectionTrait;
    let c = t.app.store.conn();
    let backend = c.get_database_backend();
    let q = if backend == sea_orm::DatabaseBackend::Postgres {
        "SELECT indexname::text FROM pg_indexes WHERE tablename = 'cards' AND indexname <> 'cards_pkey' ORDER BY 1"
    } else {
        "SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'cards' AND sql IS NOT NULL ORDER BY 1"
    };
    let rows = c
        .query_all_raw(sea_orm::Statement::from_string(backend, q))
        .await
        .unwrap();
    rows.iter().map(|r| r.try_get_by_index::<String>(0).unwrap()).collect()
}

/// A large import into a small table (on SQLite it drops the indexes of `cards` after two
/// batches and builds them again before its commit): afterwards both indexes are there and
/// agree with the table, and a large import that fails late leaves them as they were.
#[tokio::test]
async fn a_large_import_leaves_the_card_indexes_whole() {
    let t = spawn().await;
    let org = t.org("large").await;
    let want: Vec<String> = ["cards_company", "cards_org", "cards_owner", "cards_person"]
        .map(String::from)
        .to_vec();
    assert_eq!(card_indexes(&t).await, want);
    let rows = |n: usize| -> String {
        let mut s = String::from("full_name,company,email\n");
        for i in 0..n {
            s.push_str(&format!("名刺 {i},会社{},\n", i % 7));
        }
        s
    };
    // Fails after five batches were written: nothing kept, the indexes back.
    let mut bad = rows(25_000);
    bad.push_str("名刺,会社,メールではない\n"); // a malformed email
    let (s, v) = upload(&t, &org.admin, "", "text/csv", bad.into_bytes()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_eq!(v["error"]["details"]["errors"][0]["line"], 25_002, "{v}");
    assert_eq!(card_indexes(&t).await, want);

    let (s, r) = upload(&t, &org.admin, "", "text/csv", rows(25_000).into_bytes()).await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(r["imported"], 25_000, "{r}");
    assert_eq!(card_indexes(&t).await, want);
    let c = t.app.store.conn();
    if c.get_database_backend() == sea_orm::DatabaseBackend::Sqlite {
        use sea_orm::ConnectionTrait;
        let row = c
            .query_one_raw(sea_orm::Statement::from_string(
                c.get_database_backend(),
                "PRAGMA integrity_check",
            ))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            row.try_get_by_index::<String>(0).unwrap(),
            "ok",
            "every index entry matches its row"
        );
    }
    // The company index answers: one company's cards, and only them.
    let (s, listed) = t.get(&org.admin, "/api/v1/cards?company=会社3&limit=200").await;
    assert_eq!(s, StatusCode::OK, "{listed}");
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), 200, "{listed}");
    assert!(items.iter().all(|c| c["company"] == "会社3"), "{listed}");

    // A second import, smaller than the table now: it keeps the indexes up to date as it goes
    // (the same cards again: kept, not skipped as duplicates).
    let (s, r) = upload(
        &t,
        &org.admin,
        "?on_duplicate=keep",
        "text/csv",
        rows(12_000).into_bytes(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    assert_eq!(card_indexes(&t).await, want);
    let (_, listed) = t.get(&org.admin, "/api/v1/cards?company=会社3&limit=1").await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_export_from_another_organisation_imports_with_its_unknown_owners_mapped_or_falling_back() {
    let t = spawn().await;
    let a = t.org("alpha").await;
    let (_, sato) = t.user(&a, "sato@alpha.example.jp", "佐藤 美咲", "member").await;
    let (_, kato) = t.user(&a, "kato@alpha.example.jp", "加藤 健", "member").await;
    for (token, name) in [(&sato, "田中 一郎"), (&sato, "鈴木 花子"), (&kato, "高橋 次郎")] {
        t.card(token, json!({"full_name": name, "company": "株式会社サンプル"}))
            .await;
    }
    let b = t.org("beta").await;
    let (kimura_id, _) = t.user(&b, "kimura@beta.example.jp", "木村 拓", "member").await;
    for query in ["?format=csv", "?format=vcard"] {
        let (s, _, file) = download(&t, &a.admin, query).await;
        assert_eq!(s, StatusCode::OK);
        let ct = if query.contains("vcard") {
            "text/vcard"
        } else {
            "text/csv"
        };

        // Nobody mapped: every card comes in, owned by the importing admin, and the answer
        // warns once for each owner who is not a user here.
        let (s, r) = upload(&t, &b.admin, "?on_duplicate=keep", ct, file.clone()).await;
        assert_eq!(s, StatusCode::OK, "{query}: {r}");
        assert_eq!(r["imported"], 3, "{query}: {r}");
        assert_eq!(r["warning_count"], 2, "{query}: {r}");
        let warned: Vec<&str> = r["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["message"].as_str().unwrap())
            .collect();
        assert!(
            warned.iter().any(|m| m.contains("<sato@alpha.example.jp>")),
            "{warned:?}"
        );
        assert!(
            warned.iter().any(|m| m.contains("<kato@alpha.example.jp>")),
            "{warned:?}"
        );

        // One owner mapped to a user here: theirs go to that user, the other falls back.
        let q = "?owner_mapping=SATO@alpha.example.jp%3Dkimura%40beta.example.jp&on_duplicate=keep";
        let (s, r) = upload(&t, &b.admin, q, ct, file.clone()).await;
        assert_eq!(s, StatusCode::OK, "{query}: {r}");
        assert_eq!(r["imported"], 3, "{query}: {r}");
        assert_eq!(r["warning_count"], 1, "{query}: {r}");
    }
    let cards = all_cards(&t, &b.admin).await;
    let kimuras = cards.iter().filter(|c| c["owner_id"] == kimura_id.as_str()).count();
    assert_eq!(kimuras, 4, "two cards of sato's, by CSV and by vCard");
    assert_eq!(cards.len(), 12, "nothing dropped");

    // A mapping that names nobody here is refused before anything is read.
    let (_, _, file) = download(&t, &a.admin, "?format=csv").await;
    // (Malformed: 400; naming nobody here: 422.)
    for (bad, status) in [
        (
            "sato@alpha.example.jp%3Dnobody%40beta.example.jp",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
        ("no-equals-sign", StatusCode::BAD_REQUEST),
    ] {
        let (s, r) = upload(&t, &b.admin, &format!("?owner_mapping={bad}"), "text/csv", file.clone()).await;
        assert_eq!(s, status, "{r}");
        assert_eq!(r["error"]["field"], "owner_mapping", "{r}");
    }
    assert_eq!(all_cards(&t, &b.admin).await.len(), 12);
}

#[tokio::test]
async fn an_android_vcard_with_one_bad_byte_comes_in_with_a_warning_for_that_line() {
    let t = spawn().await;
    let a = t.org("alpha").await;
    // Android's 2.1 export: UTF-8 quoted-printable; ORG holds 0xFF, which UTF-8 never has.
    let file = "BEGIN:VCARD\r\nVERSION:2.1\r\n\
        N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=B1=B1=E7=94=B0;=E5=A4=AA=E9=83=8E;;;\r\n\
        FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E5=B1=B1=E7=94=B0=20=E5=A4=AA=E9=83=8E\r\n\
        ORG;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:=E6=A0=AA=E5=BC=8F=FF=E4=BC=9A=E7=A4=BE\r\n\
        EMAIL;HOME:yamada@example.jp\r\nEND:VCARD\r\n";
    for query in ["", "?mode=valid_rows"] {
        let (s, r) = upload(
            &t,
            &a.admin,
            &format!("{query}{}on_duplicate=keep", if query.is_empty() { "?" } else { "&" }),
            "text/vcard",
            file.as_bytes().to_vec(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{query}: {r}");
        assert_eq!(r["imported"], 1, "{r}");
        assert_eq!(r["warning_count"], 1, "{r}");
        assert_eq!(r["warnings"][0]["line"], 5, "{r}");
        assert_eq!(r["warnings"][0]["field"], "encoding", "{r}");
        assert!(r["warnings"][0]["message"].as_str().unwrap().starts_with("ORG:"), "{r}");
    }
    let cards = all_cards(&t, &a.admin).await;
    assert_eq!(cards.len(), 2);
    assert_eq!(cards[0]["full_name"], "山田 太郎");
    assert_eq!(cards[0]["company"], "株式\u{FFFD}会社");
}
