//! Departures (退職・出向) through HTTP: registering one, the handover plan, readiness, and the
//! scheduler that suspends on time and flags what is not ready: in-process with the manual
//! clock, and through the real binary (catch-up after downtime, two servers, the CLI).

use crate::harness::*;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use meishi::service::scheduler::{self, Tick};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().expect("an RFC 3339 time")
}

/// 2 March 2026, 10:00 in Tokyo: "now" for the in-process tests.
const NOW: &str = "2026-03-02T01:00:00Z";

fn body(user: &str, successor: &str, last: &str) -> Value {
    json!({"user_id": user, "successor_id": successor, "retirement_date": last, "last_working_day": last})
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("an id").to_string()
}

fn ids(page: &Value) -> Vec<String> {
    page["items"].as_array().expect("items").iter().map(id).collect()
}

async fn tick(t: &TestApp) -> Tick {
    scheduler::tick(&t.app).await.expect("tick")
}

/// The organisation's day (Asia/Tokyo has no daylight saving time) of a UTC moment.
fn tokyo_day(t: DateTime<Utc>) -> NaiveDate {
    (t + Duration::hours(9)).date_naive()
}

struct Fixture {
    t: TestApp,
    org: Org,
    /// 山田, leaving.
    yamada: String,
    yamada_t: String,
    /// 佐藤 and 鈴木, successors; 田中, the default successor.
    sato: String,
    sato_t: String,
    suzuki: String,
    tanaka: String,
}

async fn fixture() -> Fixture {
    let t = spawn().await;
    t.clock.set(at(NOW));
    let org = t.org("acme").await;
    let (yamada, yamada_t) = t.user(&org, "yamada@acme.example.jp", "山田 賢治", "member").await;
    let (sato, sato_t) = t.user(&org, "sato@acme.example.jp", "佐藤 美咲", "member").await;
    let (suzuki, _) = t.user(&org, "suzuki@acme.example.jp", "鈴木 一郎", "member").await;
    let (tanaka, _) = t.user(&org, "tanaka@acme.example.jp", "田中 花子", "member").await;
    Fixture {
        t,
        org,
        yamada,
        yamada_t,
        sato,
        sato_t,
        suzuki,
        tanaka,
    }
}

impl Fixture {
    async fn create(&self, body: Value) -> (StatusCode, Value) {
        self.t.post(&self.org.admin, "/api/v1/departures", body).await
    }
    /// 山田's departure, last working day (and retirement) `last`, default successor 田中.
    async fn depart(&self, last: &str) -> Value {
        let (s, d) = self.create(body(&self.yamada, &self.tanaka, last)).await;
        assert_eq!(s, StatusCode::CREATED, "{d}");
        d
    }
    async fn departure(&self, id: &str) -> Value {
        let (s, d) = self.t.get(&self.org.admin, &format!("/api/v1/departures/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{d}");
        d
    }
    async fn list(&self, token: &str, query: &str) -> Vec<String> {
        let (s, v) = self.t.get(token, &format!("/api/v1/departures{query}")).await;
        assert_eq!(s, StatusCode::OK, "{query}: {v}");
        ids(&v)
    }
    async fn user(&self, id: &str) -> Value {
        let (s, u) = self.t.get(&self.org.admin, &format!("/api/v1/users/{id}")).await;
        assert_eq!(s, StatusCode::OK, "{u}");
        u
    }
    async fn cards_of(&self, user: &str) -> Vec<String> {
        let (s, v) = self
            .t
            .get(&self.org.admin, &format!("/api/v1/cards?owner_id={user}&limit=500"))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let mut ids = ids(&v);
        ids.sort();
        ids
    }
    /// A card of 山田's with `contacts` contacts.
    async fn card(&self, name: &str, company: &str, contacts: usize) -> String {
        let card = self
            .t
            .card(&self.yamada_t, json!({"full_name": name, "company": company}))
            .await;
        for i in 0..contacts {
            let path = format!("/api/v1/cards/{card}/contacts");
            let (s, v) = self
                .t
                .post(
                    &self.yamada_t,
                    &path,
                    json!({"kind": "meeting", "body": format!("面談 {i}")}),
                )
                .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
        card
    }
    /// A personal tag of 山田's on these cards.
    async fn tag(&self, name: &str, cards: &[&str]) -> String {
        let (s, v) = self
            .t
            .post(&self.yamada_t, "/api/v1/tags", json!({"name": name, "shared": false}))
            .await;
        assert_eq!(s, StatusCode::CREATED, "{v}");
        let tag = id(&v);
        for card in cards {
            let path = format!("/api/v1/cards/{card}/tags/{tag}");
            let (s, v) = self.t.call(&self.yamada_t, Method::PUT, &path, None).await;
            assert_eq!(s, StatusCode::OK, "{v}");
        }
        tag
    }
    /// The organisation's 「停止の直前に承認済みの引き継ぎ計画を自動実行する」.
    async fn execute_before_suspension(&self, on: bool) {
        let patch = json!({"execute_plan_before_suspension": on});
        let (s, o) = self
            .t
            .call(&self.org.admin, Method::PATCH, "/api/v1/organization", Some(patch))
            .await;
        assert_eq!(s, StatusCode::OK, "{o}");
    }
    async fn put_plan(&self, token: &str, departure: &str, plan: Value) -> (StatusCode, Value) {
        let path = format!("/api/v1/departures/{departure}/plan");
        self.t.call(token, Method::PUT, &path, Some(plan)).await
    }
    async fn approve(&self, token: &str, departure: &str) -> (StatusCode, Value) {
        let path = format!("/api/v1/departures/{departure}/plan/approve");
        self.t.post(token, &path, json!({})).await
    }
    async fn readiness(&self, token: &str, departure: &str) -> Value {
        let path = format!("/api/v1/departures/{departure}/readiness");
        let (s, r) = self.t.get(token, &path).await;
        assert_eq!(s, StatusCode::OK, "{r}");
        r
    }
    /// Audit events of one action about one target, newest first.
    async fn audit_of(&self, action: &str, target: &str) -> Vec<Value> {
        let mut events = self.t.audit(&self.org, action).await;
        events.retain(|e| e["target_id"] == target);
        events
    }
}

/// One readiness item by key.
fn item<'a>(r: &'a Value, key: &str) -> &'a Value {
    r["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == key)
        .unwrap_or_else(|| panic!("no readiness item {key}: {r}"))
}

#[tokio::test]
async fn creating_a_departure_validates_each_field_and_computes_the_suspension_in_tokyo() {
    let f = fixture().await;
    let with = |patch: Value| {
        let mut b = body(&f.yamada, &f.sato, "2026-03-31");
        for (k, v) in patch.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    let unknown = "01a22a10-0000-7000-8000-000000000000";
    let (resting, _) = f.t.user(&f.org, "rest@acme.example.jp", "休職 中", "member").await;
    let (s, v) =
        f.t.post(&f.org.admin, &format!("/api/v1/users/{resting}/suspend"), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // Dates that do not fit (after the retirement date, in the past) are well-formed: 422;
    // a date that is no date is malformed: 400.
    let cases = [
        (
            json!({"retirement_date": "2026-03-30"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "last_working_day",
        ),
        (
            json!({"last_working_day": "2026-03-01", "retirement_date": "2026-03-01"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "last_working_day",
        ),
        (
            json!({"last_working_day": "31/03/2026"}),
            StatusCode::BAD_REQUEST,
            "last_working_day",
        ),
        (
            json!({"retirement_date": "2026-02-30"}),
            StatusCode::BAD_REQUEST,
            "retirement_date",
        ),
        (json!({"suspend_at": "25:00"}), StatusCode::BAD_REQUEST, "suspend_at"),
        (
            json!({"successor_id": f.yamada}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "successor_id",
        ),
        (
            json!({"successor_id": resting}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "successor_id",
        ),
        (
            json!({"successor_id": unknown}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "successor_id",
        ),
        (json!({"user_id": unknown}), StatusCode::UNPROCESSABLE_ENTITY, "user_id"),
        (json!({"user_id": resting}), StatusCode::UNPROCESSABLE_ENTITY, "user_id"),
    ];
    for (patch, status, field) in cases {
        let got = f.create(with(patch.clone())).await;
        assert_eq!(got.0, status, "{patch}: {}", got.1);
        assert_error(got, status, Some(field));
    }
    assert_error(
        f.t.post(&f.yamada_t, "/api/v1/departures", with(json!({}))).await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert!(f.list(&f.org.admin, "").await.is_empty(), "nothing was created");
    assert!(f.t.audit(&f.org, "departure.create").await.is_empty());

    // The end of the last working day in Tokyo is 14:59 UTC.
    let (s, d) = f.create(with(json!({}))).await;
    assert_eq!(s, StatusCode::CREATED, "{d}");
    assert_eq!(d["suspend_moment"], "2026-03-31T14:59:00Z");
    assert_eq!(d["user_id"], f.yamada.as_str());
    assert_eq!(d["successor_id"], f.sato.as_str());
    assert_eq!(
        (d["kind"].as_str(), d["status"].as_str(), d["plan_status"].as_str()),
        (Some("retirement"), Some("scheduled"), Some("none"))
    );
    assert!(d["suspend_at"].is_null() && d["attention_days"].is_null() && d["suspended_at"].is_null());
    assert_eq!(d["created_by"], f.org.admin_id.as_str());
    let got = f.create(with(json!({"last_working_day": "2026-03-20"}))).await;
    assert_error(got, StatusCode::CONFLICT, None);

    // A per-departure suspension time; a secondment.
    let (s, other) = f
        .create(
            json!({"user_id": f.suzuki, "successor_id": f.sato, "kind": "secondment",
            "retirement_date": "2026-03-31", "last_working_day": "2026-03-31", "suspend_at": "18:00"}),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED, "{other}");
    assert_eq!(other["suspend_moment"], "2026-03-31T09:00:00Z");
    assert_eq!(
        (other["suspend_at"].as_str(), other["kind"].as_str()),
        (Some("18:00"), Some("secondment"))
    );

    let events = f.t.audit(&f.org, "departure.create").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["target_id"], d["id"]);
    assert_eq!(events[1]["actor_id"], f.org.admin_id.as_str());
    assert_eq!(events[1]["after"]["suspend_moment"], "2026-03-31T14:59:00Z");
}

#[tokio::test]
async fn patch_recomputes_and_cancel_ends_all_change() {
    let f = fixture().await;
    let d = f.depart("2026-03-31").await;
    let path = format!("/api/v1/departures/{}", id(&d));
    let patch = |b: Value| f.t.call(&f.org.admin, Method::PATCH, &path, Some(b));

    let (s, p) = patch(json!({"last_working_day": "2026-03-20", "suspend_at": "18:00"})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        (p["last_working_day"].as_str(), p["retirement_date"].as_str()),
        (Some("2026-03-20"), Some("2026-03-31"))
    );
    assert_eq!(p["suspend_moment"], "2026-03-20T09:00:00Z");
    let (s, p) = patch(json!({"suspend_at": null, "successor_id": f.sato})).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(
        p["suspend_moment"], "2026-03-20T14:59:00Z",
        "back to the organisation's 23:59"
    );
    assert_eq!(p["successor_id"], f.sato.as_str());
    assert_eq!(f.departure(&id(&d)).await["suspend_moment"], "2026-03-20T14:59:00Z");

    // Well-formed dates that do not fit (after the retirement date, in the past): 422.
    assert_error(
        patch(json!({"last_working_day": "2026-04-01"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("last_working_day"),
    );
    assert_error(
        patch(json!({"last_working_day": "2026-03-01"})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("last_working_day"),
    );
    assert_error(
        patch(json!({"successor_id": f.yamada})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("successor_id"),
    );
    assert_error(
        f.t.call(&f.yamada_t, Method::PATCH, &path, Some(json!({"kind": "secondment"})))
            .await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_error(
        f.t.call(&f.yamada_t, Method::DELETE, &path, None).await,
        StatusCode::FORBIDDEN,
        None,
    );
    assert_eq!(
        f.departure(&id(&d)).await["last_working_day"],
        "2026-03-20",
        "refusals change nothing"
    );

    let (s, c) = f.t.call(&f.org.admin, Method::DELETE, &path, None).await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(c["status"], "cancelled");
    assert_eq!(f.departure(&id(&d)).await["status"], "cancelled");
    assert_error(patch(json!({"kind": "secondment"})).await, StatusCode::CONFLICT, None);
    assert_error(
        f.t.call(&f.org.admin, Method::DELETE, &path, None).await,
        StatusCode::CONFLICT,
        None,
    );
    assert_error(
        f.put_plan(&f.yamada_t, &id(&d), json!({"items": []})).await,
        StatusCode::CONFLICT,
        None,
    );
    // A cancelled departure leaves room for a new one; the scheduler ignores it.
    f.t.clock.set(at("2026-03-21T00:00:00Z"));
    assert_eq!(tick(&f.t).await.suspended, 0);
    assert_eq!(f.user(&f.yamada).await["status"], "active");
    let again = f.depart("2026-03-31").await;
    assert_ne!(again["id"], d["id"]);

    let updates = f.audit_of("departure.update", &id(&d)).await;
    assert_eq!(updates.len(), 2, "one event per successful PATCH");
    assert_eq!(updates[1]["before"]["last_working_day"], "2026-03-31");
    assert_eq!(updates[1]["after"]["last_working_day"], "2026-03-20");
    assert_eq!(updates[0]["actor_id"], f.org.admin_id.as_str());
    let cancels = f.audit_of("departure.cancel", &id(&d)).await;
    assert_eq!(cancels.len(), 1);
    assert_eq!(
        (
            cancels[0]["before"]["status"].as_str(),
            cancels[0]["after"]["status"].as_str()
        ),
        (Some("scheduled"), Some("cancelled"))
    );
}

#[tokio::test]
async fn listing_filters_members_see_their_own_and_other_organisations_nothing() {
    let f = fixture().await;
    let (kimura, _) = f.t.user(&f.org, "kimura@acme.example.jp", "木村 拓", "member").await;
    let suzuki_t = token_for(&f.t, &f.org, "suzuki@acme.example.jp").await;
    let done = id(&f.depart("2026-03-05").await);
    let (_, overdue) = f.create(body(&kimura, &f.sato, "2026-03-10")).await;
    let overdue = id(&overdue);
    let (_, upcoming) = f.create(body(&f.suzuki, &f.sato, "2026-03-31")).await;
    let upcoming = id(&upcoming);
    let (_, cancelled) = f.create(body(&f.tanaka, &f.sato, "2026-03-20")).await;
    let cancelled = id(&cancelled);
    let (s, _) =
        f.t.call(
            &f.org.admin,
            Method::DELETE,
            &format!("/api/v1/departures/{cancelled}"),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    f.t.clock.set(at("2026-03-06T00:00:00Z"));
    let ticked = tick(&f.t).await;
    assert_eq!(
        (ticked.suspended, ticked.flagged),
        (1, 1),
        "山田 suspended, 木村 flagged"
    );
    f.t.clock.set(at("2026-03-11T00:00:00Z")); // 木村's moment passed; no tick since

    let admin = &f.org.admin;
    assert_eq!(
        f.list(admin, "").await,
        [done.as_str(), overdue.as_str(), cancelled.as_str(), upcoming.as_str()],
        "soonest first"
    );
    assert_eq!(f.list(admin, "?status=upcoming").await, [upcoming.as_str()]);
    assert_eq!(f.list(admin, "?status=overdue").await, [overdue.as_str()]);
    assert_eq!(f.list(admin, "?status=done").await, [done.as_str()]);
    assert_eq!(f.list(admin, "?status=cancelled").await, [cancelled.as_str()]);
    assert_eq!(f.list(admin, "?attention=true").await, [overdue.as_str()]);
    assert_eq!(f.list(admin, "?limit=2").await, [done.as_str(), overdue.as_str()]);
    let (_, page) = f.t.get(admin, "/api/v1/departures?limit=2").await;
    let next = page["next_cursor"].as_str().expect("a next page").to_string();
    assert_eq!(
        f.list(admin, &format!("?limit=2&cursor={next}")).await,
        [cancelled.as_str(), upcoming.as_str()]
    );
    assert_error(
        f.t.get(admin, "/api/v1/departures?status=soon").await,
        StatusCode::BAD_REQUEST,
        Some("status"),
    );

    // A member sees their own departure and nobody else's.
    assert_eq!(f.list(&suzuki_t, "").await, [upcoming.as_str()]);
    assert_eq!(f.list(&f.sato_t, "").await, Vec::<String>::new());
    let (s, own) = f.t.get(&suzuki_t, &format!("/api/v1/departures/{upcoming}")).await;
    assert_eq!((s, own["id"].as_str()), (StatusCode::OK, Some(upcoming.as_str())));
    let readiness = format!("/api/v1/departures/{upcoming}/readiness");
    assert_eq!(f.t.get(&suzuki_t, &readiness).await.0, StatusCode::OK);
    for path in [
        format!("/api/v1/departures/{overdue}"),
        format!("/api/v1/departures/{overdue}/plan"),
        format!("/api/v1/departures/{overdue}/readiness"),
    ] {
        assert_error(f.t.get(&suzuki_t, &path).await, StatusCode::NOT_FOUND, None);
    }

    // Another organisation's admin: as if none existed.
    let b = f.t.org("beta").await;
    assert!(f.list(&b.admin, "").await.is_empty());
    assert!(f.list(&b.admin, "?attention=true").await.is_empty());
    let base = format!("/api/v1/departures/{upcoming}");
    let refusals = [
        (Method::GET, base.clone(), None),
        (Method::PATCH, base.clone(), Some(json!({"kind": "secondment"}))),
        (Method::DELETE, base.clone(), None),
        (Method::GET, format!("{base}/plan"), None),
        (Method::PUT, format!("{base}/plan"), Some(json!({"items": []}))),
        (Method::POST, format!("{base}/plan/approve"), Some(json!({}))),
        (Method::POST, format!("{base}/plan/execute"), Some(json!({}))),
        (Method::GET, format!("{base}/readiness"), None),
    ];
    for (method, path, body) in refusals {
        let got = f.t.call(&b.admin, method.clone(), &path, body).await;
        assert_eq!(got.0, StatusCode::NOT_FOUND, "{method} {path}: {}", got.1);
        assert_error(got, StatusCode::NOT_FOUND, None);
    }
    let (b_user, _) = f.t.user(&b, "ito@beta.example.jp", "伊藤", "member").await;
    assert_error(
        f.t.post(&b.admin, "/api/v1/departures", body(&f.sato, &b_user, "2026-03-31"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("user_id"),
    );
    assert_error(
        f.t.post(&b.admin, "/api/v1/departures", body(&b_user, &f.sato, "2026-03-31"))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("successor_id"),
    );
    let d = f.departure(&upcoming).await;
    assert_eq!(
        (d["status"].as_str(), d["kind"].as_str()),
        (Some("scheduled"), Some("retirement"))
    );
}

#[tokio::test]
async fn the_handover_plan_is_reported_approved_and_executed_as_undoable_batches() {
    let f = fixture().await;
    let d = id(&f.depart("2026-03-31").await);
    // Tagged → 佐藤 (even when the company would match too: the first line wins);
    // サンプル in any spelling → 鈴木; the rest, with 山田's tags → 田中.
    let c1 = f.card("顧客 1", "東洋精機", 1).await;
    let c2 = f.card("顧客 2", "株式会社サンプル", 2).await;
    let c3 = f.card("顧客 3", "ｻﾝﾌﾟﾙ株式会社", 0).await;
    let c4 = f.card("顧客 4", "(株)サンプル", 3).await;
    let c5 = f.card("顧客 5", "山田商店", 1).await;
    let c6 = f.card("顧客 6", "", 0).await;
    let vip = f.tag("重要顧客", &[&c1, &c2]).await;
    let fair = f.tag("展示会2025", &[&c5]).await;

    let r = f.readiness(&f.yamada_t, &d).await;
    assert_eq!(
        (r["ready"].as_bool(), r["plan_status"].as_str()),
        (Some(false), Some("none"))
    );
    assert_eq!(item(&r, "cards")["count"], 6);

    let plan = json!({"items": [
        {"selection": {"tag_id": vip}, "successor_id": f.sato},
        {"selection": {"company": "株式会社サンプル"}, "successor_id": f.suzuki},
    ]});
    // Refusals first: a bad line names its field; someone else's departure is not found.
    let bad = json!({"items": [{"selection": {"all": true}, "successor_id": f.yamada}]});
    assert_error(
        f.put_plan(&f.yamada_t, &d, bad).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        Some("items[0].successor_id"),
    );
    let bad = json!({"items": [{"selection": {}, "successor_id": f.sato}]});
    assert_error(
        f.put_plan(&f.yamada_t, &d, bad).await,
        StatusCode::BAD_REQUEST,
        Some("items[0].selection"),
    );
    assert_error(
        f.put_plan(&f.sato_t, &d, plan.clone()).await,
        StatusCode::NOT_FOUND,
        None,
    );

    let (s, p) = f.put_plan(&f.yamada_t, &d, plan.clone()).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    assert_eq!(p["status"], "reported");
    assert_eq!(p["default_successor_id"], f.tanaka.as_str());
    assert_eq!(p["items"].as_array().unwrap().len(), 2);
    assert_eq!(
        (
            p["items"][1]["position"].as_i64(),
            p["items"][1]["successor_id"].as_str()
        ),
        (Some(1), Some(f.suzuki.as_str()))
    );
    let (s, got) = f.t.get(&f.yamada_t, &format!("/api/v1/departures/{d}/plan")).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(got["items"], p["items"]);
    let dep = f.departure(&d).await;
    assert_eq!(
        (dep["plan_status"].as_str(), dep["plan_reported_by"].as_str()),
        (Some("reported"), Some(f.yamada.as_str()))
    );

    let r = f.readiness(&f.yamada_t, &d).await;
    assert_eq!(r["ready"], false, "{r}");
    assert_eq!(r["plan_status"], "reported");
    assert_eq!(
        (
            item(&r, "plan")["done"].as_bool(),
            item(&r, "plan")["available"].as_bool()
        ),
        (Some(false), Some(true))
    );
    assert_eq!(
        item(&r, "cards")["count"],
        6,
        "reported, not approved: every owned card is open"
    );
    assert_eq!(item(&r, "contacts")["count"], 7);
    assert_eq!(item(&r, "tags")["count"], 2);
    assert_eq!(item(&r, "templates")["available"], true, "{r}");
    assert_eq!(item(&r, "templates")["count"], 0, "{r}");
    assert_eq!(
        (item(&r, "news")["count"].as_i64(), item(&r, "news")["state"].as_str()),
        (Some(0), Some("done"))
    );

    let execute = |dry: bool| {
        let (t, admin) = (&f.t, &f.org.admin);
        let path = format!("/api/v1/departures/{d}/plan/execute?dry_run={dry}");
        async move { t.post(admin, &path, json!({})).await }
    };
    assert_error(execute(false).await, StatusCode::CONFLICT, None);
    assert_error(f.approve(&f.yamada_t, &d).await, StatusCode::FORBIDDEN, None);
    let (s, approved) = f.approve(&f.org.admin, &d).await;
    assert_eq!(s, StatusCode::OK, "{approved}");
    assert_eq!(approved["status"], "approved");
    assert_eq!(f.departure(&d).await["plan_approved_by"], f.org.admin_id.as_str());
    assert_error(
        f.put_plan(&f.yamada_t, &d, plan.clone()).await,
        StatusCode::CONFLICT,
        None,
    );
    assert_error(f.approve(&f.org.admin, &d).await, StatusCode::CONFLICT, None);
    assert_error(
        f.t.post(&f.yamada_t, &format!("/api/v1/departures/{d}/plan/execute"), json!({}))
            .await,
        StatusCode::FORBIDDEN,
        None,
    );
    let r = f.readiness(&f.org.admin, &d).await;
    assert_eq!(r["ready"], true, "an approved plan covers every card: {r}");

    // The dry run: exact counts per line, nothing changed.
    let transfers_before = f.t.get(&f.org.admin, "/api/v1/transfers").await.1;
    let (s, dry) = execute(true).await;
    assert_eq!(s, StatusCode::OK, "{dry}");
    assert_eq!(dry["dry_run"], true);
    let lines = |v: &Value| -> Vec<(Value, Value, i64, i64, i64)> {
        v["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| {
                let n = |k: &str| l[k].as_i64().unwrap();
                (
                    l["position"].clone(),
                    l["successor_id"].clone(),
                    n("cards"),
                    n("contacts"),
                    n("tags"),
                )
            })
            .collect()
    };
    let expected = vec![
        (json!(0), json!(f.sato), 2, 3, 0),
        (json!(1), json!(f.suzuki), 2, 3, 0),
        (Value::Null, json!(f.tanaka), 2, 1, 2),
    ];
    assert_eq!(lines(&dry), expected);
    assert!(
        dry["transfers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["transfer_id"].is_null())
    );
    assert_eq!(f.cards_of(&f.yamada).await.len(), 6, "a dry run moves nothing");
    assert_eq!(f.t.get(&f.org.admin, "/api/v1/transfers").await.1, transfers_before);
    assert!(f.t.audit(&f.org, "departure.plan_execute").await.is_empty());
    assert!(f.t.audit(&f.org, "transfer.create").await.is_empty());
    assert_eq!(f.departure(&d).await["plan_status"], "approved");

    // For real: the same counts, each line its own batch.
    let (s, done) = execute(false).await;
    assert_eq!(s, StatusCode::OK, "{done}");
    assert_eq!(done["dry_run"], false);
    assert_eq!(lines(&done), expected);
    let batch_ids: Vec<String> = done["transfers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["transfer_id"].as_str().expect("a batch").to_string())
        .collect();
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    assert_eq!(f.cards_of(&f.yamada).await, Vec::<String>::new());
    assert_eq!(f.cards_of(&f.sato).await, sorted(vec![c1.clone(), c2.clone()]));
    assert_eq!(f.cards_of(&f.suzuki).await, sorted(vec![c3.clone(), c4.clone()]));
    assert_eq!(f.cards_of(&f.tanaka).await, sorted(vec![c5.clone(), c6.clone()]));
    let (_, tags) = f.t.get(&f.org.admin, "/api/v1/tags").await;
    for tag in [&vip, &fair] {
        let t = tags["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == tag.as_str())
            .unwrap();
        assert_eq!(
            t["creator_id"],
            f.tanaka.as_str(),
            "山田's tags go to the default successor"
        );
    }
    let (_, listed) = f.t.get(&f.org.admin, "/api/v1/transfers").await;
    let mut listed = ids(&listed);
    listed.sort();
    assert_eq!(listed, sorted(batch_ids.clone()));
    for (batch, to) in batch_ids.iter().zip([&f.sato, &f.suzuki, &f.tanaka]) {
        let (s, b) = f.t.get(&f.org.admin, &format!("/api/v1/transfers/{batch}")).await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(
            (b["from_user_id"].as_str(), b["to_user_id"].as_str()),
            (Some(f.yamada.as_str()), Some(to.as_str()))
        );
    }
    let (_, p) = f.t.get(&f.org.admin, &format!("/api/v1/departures/{d}/plan")).await;
    assert_eq!(p["status"], "executed");
    assert_eq!(p["items"][0]["transfer_id"], batch_ids[0].as_str());
    assert_eq!(p["items"][1]["transfer_id"], batch_ids[1].as_str());
    let dep = f.departure(&d).await;
    assert_eq!(dep["status"], "scheduled", "executing the plan does not suspend");
    assert!(dep["plan_executed_at"].is_string());
    let r = f.readiness(&f.org.admin, &d).await;
    assert_eq!(
        (r["ready"].as_bool(), item(&r, "cards")["count"].as_i64()),
        (Some(true), Some(0))
    );
    assert_error(execute(false).await, StatusCode::CONFLICT, None);

    // Every batch is undoable on its own.
    let (s, undo) =
        f.t.post(
            &f.org.admin,
            &format!("/api/v1/transfers/{}/undo", batch_ids[1]),
            json!({}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{undo}");
    assert_eq!(undo["restored"], 2);
    assert_eq!(f.cards_of(&f.yamada).await, sorted(vec![c3.clone(), c4.clone()]));
    assert_eq!(f.cards_of(&f.sato).await.len(), 2, "the other batches stay");

    let reported = f.audit_of("departure.plan_report", &d).await;
    assert_eq!(reported.len(), 1);
    assert_eq!(reported[0]["actor_id"], f.yamada.as_str());
    assert_eq!(reported[0]["after"]["items"].as_array().unwrap().len(), 2);
    let approved = f.audit_of("departure.plan_approve", &d).await;
    assert_eq!(approved.len(), 1);
    assert_eq!(approved[0]["actor_id"], f.org.admin_id.as_str());
    let executed = f.audit_of("departure.plan_execute", &d).await;
    assert_eq!(executed.len(), 1, "the dry run left no event");
    assert_eq!(executed[0]["actor_id"], f.org.admin_id.as_str());
    assert_eq!(executed[0]["after"]["transfers"].as_array().unwrap().len(), 3);
    assert_eq!(f.t.audit(&f.org, "transfer.create").await.len(), 3);
}

/// After the plan ran, cards 山田 owns again (an undone batch) or anew are covered by nothing:
/// the plan does not run a second time, so readiness must count them.
#[tokio::test]
async fn readiness_counts_cards_left_after_the_plan_ran() {
    let f = fixture().await;
    let d = id(&f.depart("2026-03-31").await);
    f.card("顧客 1", "東洋精機", 0).await;
    let (s, _) = f.put_plan(&f.yamada_t, &d, json!({"items": []})).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
    let (s, done) =
        f.t.post(&f.org.admin, &format!("/api/v1/departures/{d}/plan/execute"), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK, "{done}");
    f.card("新規の顧客", "A社", 0).await;
    let r = f.readiness(&f.org.admin, &d).await;
    assert_eq!(
        item(&r, "cards")["count"],
        1,
        "a card made after the plan ran has no successor: {r}"
    );
    assert_eq!(r["ready"], false, "{r}");
}

#[tokio::test]
async fn the_scheduler_suspends_at_the_moment_once_and_without_an_actor() {
    let f = fixture().await;
    let d = id(&f.depart("2026-03-31").await);
    let me = |token: String| {
        let t = &f.t;
        async move { t.get(&token, "/api/v1/me").await.0 }
    };

    f.t.clock.set(at("2026-03-31T14:58:59Z"));
    assert_eq!(tick(&f.t).await.suspended, 0, "a second early: nobody");
    assert_eq!(me(f.yamada_t.clone()).await, StatusCode::OK);
    assert_eq!(f.departure(&d).await["status"], "scheduled");

    f.t.clock.set(at("2026-03-31T14:59:00Z"));
    assert_eq!(tick(&f.t).await.suspended, 1);
    let u = f.user(&f.yamada).await;
    assert_eq!(u["status"], "suspended");
    assert_eq!(u["display_name"], "山田 賢治(退職済み)");
    assert!(u["display_name"].as_str().unwrap().ends_with("(退職済み)"));
    assert_eq!(
        me(f.yamada_t.clone()).await,
        StatusCode::UNAUTHORIZED,
        "the token stopped"
    );
    let dep = f.departure(&d).await;
    assert_eq!(dep["status"], "done");
    assert_eq!(dep["suspended_at"], "2026-03-31T14:59:00Z");
    assert_eq!(f.list(&f.org.admin, "?status=done").await, [d.as_str()]);

    let suspended = f.audit_of("departure.suspend", &d).await;
    assert_eq!(suspended.len(), 1);
    assert!(suspended[0]["actor_id"].is_null(), "the system acted: {}", suspended[0]);
    assert_eq!(suspended[0]["after"]["status"], "done");
    let user_events = f.audit_of("user.suspend", &f.yamada).await;
    assert_eq!(user_events.len(), 1);
    assert!(user_events[0]["actor_id"].is_null());

    f.t.clock.advance(Duration::hours(1));
    assert_eq!(tick(&f.t).await, Tick::default(), "nothing left to do");
    assert_eq!(f.audit_of("departure.suspend", &d).await.len(), 1);
    assert_eq!(f.audit_of("user.suspend", &f.yamada).await.len(), 1);
    assert_eq!(f.user(&f.yamada).await["display_name"], "山田 賢治(退職済み)");
}

#[tokio::test]
async fn the_scheduler_executes_an_approved_plan_first_when_the_organisation_asks() {
    let f = fixture().await;
    let (s, o) =
        f.t.call(
            &f.org.admin,
            Method::PATCH,
            "/api/v1/organization",
            Some(json!({"execute_plan_before_suspension": true})),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{o}");
    let d = id(&f.depart("2026-03-31").await);
    let vip_card = f.card("顧客 1", "東洋精機", 1).await;
    let other = f.card("顧客 2", "A社", 2).await;
    let vip = f.tag("重要顧客", &[&vip_card]).await;
    let plan = json!({"items": [{"selection": {"tag_id": vip}, "successor_id": f.sato}]});
    assert_eq!(f.put_plan(&f.yamada_t, &d, plan).await.0, StatusCode::OK);
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);

    f.t.clock.set(at("2026-03-31T15:00:00Z"));
    assert_eq!(tick(&f.t).await.suspended, 1);
    assert_eq!(f.cards_of(&f.sato).await, [vip_card]);
    assert_eq!(f.cards_of(&f.tanaka).await, [other]);
    assert!(f.cards_of(&f.yamada).await.is_empty());
    assert_eq!(f.user(&f.yamada).await["status"], "suspended");
    let executed = f.audit_of("departure.plan_execute", &d).await;
    assert_eq!(executed.len(), 1);
    assert!(executed[0]["actor_id"].is_null());
    let dep = f.departure(&d).await;
    assert_eq!(
        (dep["status"].as_str(), dep["plan_status"].as_str()),
        (Some("done"), Some("executed")),
        "{dep}"
    );
    assert!(dep["suspended_at"].is_string(), "{dep}");

    f.t.clock.advance(Duration::minutes(5));
    tick(&f.t).await;
    assert_eq!(f.audit_of("departure.suspend", &d).await.len(), 1, "suspended once");
    assert_eq!(f.audit_of("departure.plan_execute", &d).await.len(), 1, "executed once");
}

/// A plan that can no longer run (its successor was suspended after the approval) must not
/// keep the leaving user's access open past the moment, nor hold up other departures.
#[tokio::test]
async fn a_plan_that_cannot_run_does_not_stop_the_suspensions() {
    let f = fixture().await;
    let patch = json!({"execute_plan_before_suspension": true});
    let (s, _) =
        f.t.call(&f.org.admin, Method::PATCH, "/api/v1/organization", Some(patch))
            .await;
    assert_eq!(s, StatusCode::OK);
    let d = id(&f.depart("2026-03-31").await);
    f.card("顧客 1", "東洋精機", 0).await;
    let plan = json!({"items": [{"selection": {"all": true}, "successor_id": f.sato}]});
    assert_eq!(f.put_plan(&f.yamada_t, &d, plan).await.0, StatusCode::OK);
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
    let (_, other) = f.create(body(&f.suzuki, &f.tanaka, "2026-03-31")).await;
    let (s, _) =
        f.t.post(&f.org.admin, &format!("/api/v1/users/{}/suspend", f.sato), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK);

    f.t.clock.set(at("2026-03-31T15:00:00Z"));
    let ticked = scheduler::tick(&f.t.app).await;
    assert!(ticked.is_ok(), "the tick failed: {ticked:?}");
    assert_eq!(
        f.user(&f.yamada).await["status"],
        "suspended",
        "山田's access ends on time"
    );
    assert_eq!(f.user(&f.suzuki).await["status"], "suspended", "鈴木 is not held up");
    assert_eq!(f.departure(&id(&other)).await["status"], "done");
}

#[tokio::test]
async fn a_departure_not_ready_is_flagged_seven_days_and_one_day_before() {
    let f = fixture().await;
    let d = id(&f.depart("2026-03-31").await);
    f.card("顧客 1", "東洋精機", 0).await;
    // 鈴木's plan is approved: ready, never flagged.
    let (_, ready) = f.create(body(&f.suzuki, &f.sato, "2026-03-31")).await;
    let ready = id(&ready);
    assert_eq!(
        f.put_plan(&f.org.admin, &ready, json!({"items": []})).await.0,
        StatusCode::OK
    );
    assert_eq!(f.approve(&f.org.admin, &ready).await.0, StatusCode::OK);

    f.t.clock.set(at("2026-03-23T14:59:00Z")); // 23 March 23:59 in Tokyo: eight days left
    assert_eq!(tick(&f.t).await.flagged, 0);
    assert!(f.list(&f.org.admin, "?attention=true").await.is_empty());

    f.t.clock.set(at("2026-03-23T15:00:00Z")); // 24 March in Tokyo: seven days left
    assert_eq!(tick(&f.t).await.flagged, 1);
    assert_eq!(f.list(&f.org.admin, "?attention=true").await, [d.as_str()]);
    assert_eq!(f.departure(&d).await["attention_days"], 7);
    let events = f.audit_of("departure.attention", &d).await;
    assert_eq!(events.len(), 1);
    assert!(events[0]["actor_id"].is_null());
    assert_eq!(events[0]["after"]["attention_days"], 7);
    f.t.clock.advance(Duration::hours(20));
    assert_eq!(tick(&f.t).await.flagged, 0, "not twice for the same threshold");
    assert_eq!(f.audit_of("departure.attention", &d).await.len(), 1);
    // Changing something other than the last working day keeps the flag (and flags no twice).
    let path = format!("/api/v1/departures/{d}");
    let (st, patched) =
        f.t.call(&f.org.admin, Method::PATCH, &path, Some(json!({"kind": "secondment"})))
            .await;
    assert_eq!(st, StatusCode::OK, "{patched}");
    assert_eq!(patched["attention_days"], 7);
    assert_eq!(tick(&f.t).await.flagged, 0);

    f.t.clock.set(at("2026-03-29T15:00:00Z")); // 30 March in Tokyo: one day left
    assert_eq!(tick(&f.t).await.flagged, 1);
    assert_eq!(f.departure(&d).await["attention_days"], 1);
    assert_eq!(f.list(&f.org.admin, "?attention=true").await, [d.as_str()]);
    assert_eq!(f.audit_of("departure.attention", &d).await.len(), 2);
    assert_eq!(
        f.audit_of("departure.attention", &d).await[0]["after"]["attention_days"],
        1
    );
    f.t.clock.set(at("2026-03-31T01:00:00Z"));
    assert_eq!(tick(&f.t).await.flagged, 0);
    assert_eq!(f.audit_of("departure.attention", &d).await.len(), 2);

    assert!(f.departure(&ready).await["attention_days"].is_null());
    assert!(f.audit_of("departure.attention", &ready).await.is_empty());

    // Approving the plan makes the departure ready: it leaves the attention list.
    assert_eq!(
        f.put_plan(&f.org.admin, &d, json!({"items": []})).await.0,
        StatusCode::OK
    );
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
    assert!(f.departure(&d).await["attention_days"].is_null());
    assert!(f.list(&f.org.admin, "?attention=true").await.is_empty());
}

/// `meishi serve` with the clock two days ahead, and extra arguments; killed when dropped.
struct Server {
    child: Child,
}

const TWO_DAYS: &str = "172800";

impl Server {
    fn launch(db: &str, extra: &[&str]) -> Server {
        let child = Command::new(env!("CARGO_BIN_EXE_meishi"))
            .args(["serve", "--database", db, "--listen", "127.0.0.1:0"])
            .args(extra)
            .env_remove("MEISHI_DATABASE_URL")
            .env_remove("MEISHI_SCHEDULER_INTERVAL")
            .env("MEISHI_CLOCK_OFFSET_SECS", TWO_DAYS)
            .env("RUST_LOG", "warn")
            .stderr(Stdio::piped())
            .stdout(Stdio::null())
            .spawn()
            .expect("start meishi serve");
        Server { child }
    }

    /// Waits for the "listening on" line; the rest of the output is passed on to the test's.
    fn listening(&mut self) -> String {
        let mut lines = BufReader::new(self.child.stderr.take().unwrap()).lines();
        let mut seen = String::new();
        let url = loop {
            let Some(Ok(line)) = lines.next() else {
                panic!("meishi serve stopped before listening:\n{seen}");
            };
            if let Some(rest) = line.split("listening on ").nth(1) {
                break rest.split_whitespace().next().unwrap().to_string();
            }
            seen.push_str(&line);
            seen.push('\n');
        };
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                eprintln!("[meishi serve] {line}");
            }
        });
        url
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.child.kill().ok();
        self.child.wait().ok();
    }
}

/// Polls until the departure is done, for up to `secs` seconds.
async fn wait_done(f: &Fixture, d: &str, secs: u64) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if f.departure(d).await["status"] == "done" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "not suspended after {secs} s: {}",
            f.departure(d).await
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// A departure due tomorrow in Tokyo, against the real clock: two days on, it is past due.
/// (Tomorrow rather than today, so that it cannot be refused in the last minute of a day.)
async fn due_in_two_days(f: &Fixture) -> String {
    f.t.clock.set(Utc::now());
    let tomorrow = (tokyo_day(Utc::now()) + Duration::days(1)).to_string();
    id(&f.depart(&tomorrow).await)
}

#[tokio::test]
async fn a_server_that_was_down_catches_up_on_start() {
    let f = fixture().await;
    let d = due_in_two_days(&f).await;
    assert_eq!(f.user(&f.yamada).await["status"], "active");
    let mut server = Server::launch(&f.t.db_url, &[]);
    let url = server.listening();
    wait_done(&f, &d, 10).await;
    let u = f.user(&f.yamada).await;
    assert_eq!(u["status"], "suspended");
    assert!(u["display_name"].as_str().unwrap().ends_with("(退職済み)"));
    let events = f.audit_of("departure.suspend", &d).await;
    assert_eq!(events.len(), 1);
    assert!(events[0]["actor_id"].is_null());
    // The server that caught up serves requests too.
    let res = reqwest::Client::new()
        .get(format!("{url}/api/v1/departures/{d}"))
        .bearer_auth(&f.org.admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(server.running());
}

#[tokio::test]
async fn two_servers_on_one_database_suspend_exactly_once() {
    let f = fixture().await;
    let d = due_in_two_days(&f).await;
    let args = ["--scheduler-interval", "1"];
    let mut servers = [Server::launch(&f.t.db_url, &args), Server::launch(&f.t.db_url, &args)];
    for s in &mut servers {
        s.listening();
    }
    wait_done(&f, &d, 15).await;
    tokio::time::sleep(std::time::Duration::from_secs(2)).await; // a couple more ticks each
    for (i, s) in servers.iter_mut().enumerate() {
        assert!(s.running(), "server {i} stopped");
    }
    drop(servers);
    assert_eq!(
        f.audit_of("departure.suspend", &d).await.len(),
        1,
        "{} engine",
        engine()
    );
    assert_eq!(
        f.audit_of("user.suspend", &f.yamada).await.len(),
        1,
        "{} engine",
        engine()
    );
    assert_eq!(f.user(&f.yamada).await["status"], "suspended");
}

fn meishi(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_meishi"))
        .args(args)
        .env_remove("MEISHI_DATABASE_URL")
        .env("RUST_LOG", "warn")
        .output()
        .expect("run meishi");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.success(), text(&out.stdout), text(&out.stderr))
}

#[tokio::test]
async fn the_cli_prints_readiness_and_ticks() {
    let f = fixture().await;
    let db = f.t.db_url.clone();
    f.t.clock.set(Utc::now());
    let tomorrow = (tokyo_day(Utc::now()) + Duration::days(1)).to_string();
    let d = id(&f.depart(&tomorrow).await);
    f.card("顧客 1", "東洋精機", 0).await;
    f.card("顧客 2", "A社", 0).await;
    let readiness = ["departure", "readiness", "yamada@acme.example.jp", "--database", &db];

    let (ok, out, err) = meishi(&readiness);
    assert!(ok, "{err}");
    let line = |needle: &str| {
        out.lines()
            .find(|l| l.contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}:\n{out}"))
            .to_string()
    };
    assert!(line("Handover plan approved").contains("[ ]"), "{out}");
    let cards = line("Cards still owned");
    assert!(cards.contains("[ ]") && cards.contains("2 open"), "{out}");
    assert!(line("Contacts still owned").contains("[x]"), "no contacts: {out}");
    assert!(line("Mail templates still owned").contains("[x]"), "none: {out}");
    assert!(line("Unprocessed news").contains("[x]"), "no news: {out}");
    assert_eq!(out.lines().last(), Some("not ready"), "{out}");

    assert_eq!(
        f.put_plan(&f.yamada_t, &d, json!({"items": []})).await.0,
        StatusCode::OK
    );
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
    let (ok, out, err) = meishi(&readiness);
    assert!(ok, "{err}");
    assert!(!out.contains("[ ]"), "{out}");
    assert_eq!(out.lines().last(), Some("ready"), "{out}");

    let (ok, _, err) = meishi(&["departure", "readiness", "sato@acme.example.jp", "--database", &db]);
    assert!(!ok, "no departure for 佐藤");
    assert!(err.contains("not found"), "{err}");

    // A departure already past due for the real clock: registered while the in-process clock
    // was ten days back, with its last working day five days ago.
    let (kimura, _) = f.t.user(&f.org, "kimura@acme.example.jp", "木村 拓", "member").await;
    f.t.clock.set(Utc::now() - Duration::days(10));
    let past = (tokyo_day(Utc::now()) - Duration::days(5)).to_string();
    let (s, due) = f.create(body(&kimura, &f.sato, &past)).await;
    assert_eq!(s, StatusCode::CREATED, "{due}");
    f.t.clock.set(Utc::now());

    let (ok, out, err) = meishi(&["tick", "--database", &db]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "suspended 1, flagged 0, purged 0");
    assert_eq!(f.user(&kimura).await["status"], "suspended");
    assert_eq!(f.departure(&id(&due)).await["status"], "done");
    assert_eq!(f.user(&f.yamada).await["status"], "active");
    let (ok, out, err) = meishi(&["tick", "--database", &db]);
    assert!(ok, "{err}");
    assert!(out.starts_with("suspended 0, flagged "), "{out}");
    assert_eq!(f.audit_of("departure.suspend", &id(&due)).await.len(), 1);
}

/// An approved plan that nobody executed runs right before the suspension: the default, for
/// new organisations and (by migration) existing ones.
#[tokio::test]
async fn an_approved_plan_runs_before_the_suspension_by_default() {
    let f = fixture().await;
    let (_, o) = f.t.get(&f.org.admin, "/api/v1/organization").await;
    assert_eq!(o["execute_plan_before_suspension"], true, "on by default: {o}");
    let d = id(&f.depart("2026-03-31").await);
    let cards = [f.card("顧客 1", "東洋精機", 1).await, f.card("顧客 2", "A社", 0).await];
    assert_eq!(
        f.put_plan(&f.yamada_t, &d, json!({"items": []})).await.0,
        StatusCode::OK
    );
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
    let r = f.readiness(&f.org.admin, &d).await;
    assert_eq!(r["ready"], true, "the plan will run: {r}");
    assert_eq!(item(&r, "cards")["state"], "planned", "planned, not done: {r}");
    assert_eq!(item(&r, "cards")["count"], 2);

    f.t.clock.set(at("2026-03-31T15:00:00Z"));
    assert_eq!(tick(&f.t).await.suspended, 1);
    let mut expected = cards.to_vec();
    expected.sort();
    assert_eq!(f.cards_of(&f.tanaka).await, expected, "the plan ran");
    let dep = f.departure(&d).await;
    assert_eq!(
        (dep["status"].as_str(), dep["plan_status"].as_str()),
        (Some("done"), Some("executed"))
    );
    let r = f.readiness(&f.org.admin, &d).await;
    assert_eq!(
        (r["ready"].as_bool(), r["suspended"].as_bool()),
        (Some(true), Some(true)),
        "{r}"
    );
}

/// With the setting off, an approved plan does not run: the account stops on time, and the
/// departure needs action (要対応) with the counts until the user holds nothing. Executing the
/// plan then (after the suspension) settles it; undoing a batch opens it again.
#[tokio::test]
async fn with_the_setting_off_a_lapsed_plan_leaves_the_departure_needing_action() {
    let f = fixture().await;
    f.execute_before_suspension(false).await;
    let d = id(&f.depart("2026-03-31").await);
    f.card("顧客 1", "東洋精機", 2).await;
    f.card("顧客 2", "A社", 0).await;
    f.tag("見込み客", &[]).await;
    assert_eq!(
        f.put_plan(&f.yamada_t, &d, json!({"items": []})).await.0,
        StatusCode::OK
    );
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
    let r = f.readiness(&f.org.admin, &d).await;
    assert_eq!(r["ready"], false, "nobody will run the plan: {r}");
    assert_eq!(item(&r, "cards")["state"], "open", "{r}");

    f.t.clock.set(at("2026-03-31T15:00:00Z"));
    assert_eq!(tick(&f.t).await.suspended, 1);
    assert_eq!(f.user(&f.yamada).await["status"], "suspended", "on time all the same");
    let dep = f.departure(&d).await;
    assert_eq!(dep["status"], "needs_action", "{dep}");
    assert_eq!(dep["attention_days"], 0, "flagged: {dep}");
    assert_eq!(f.list(&f.org.admin, "?status=needs_action").await, [d.as_str()]);
    assert_eq!(f.list(&f.org.admin, "?attention=true").await, [d.as_str()]);
    assert!(f.list(&f.org.admin, "?status=done").await.is_empty(), "not done");
    let r = f.readiness(&f.org.admin, &d).await;
    assert_eq!(
        (r["ready"].as_bool(), r["suspended"].as_bool()),
        (Some(false), Some(true)),
        "{r}"
    );
    assert_eq!(
        (
            item(&r, "cards")["count"].as_i64(),
            item(&r, "contacts")["count"].as_i64(),
            item(&r, "tags")["count"].as_i64()
        ),
        (Some(2), Some(2), Some(1)),
        "{r}"
    );
    assert_eq!(
        item(&r, "cards")["state"],
        "open",
        "after the suspension only holding nothing counts"
    );

    // A later tick changes nothing: it stays on the desk.
    f.t.clock.advance(Duration::days(3));
    tick(&f.t).await;
    assert_eq!(f.departure(&d).await["status"], "needs_action");

    // The execute button works after the suspension, and settles the departure.
    let path = format!("/api/v1/departures/{d}/plan/execute");
    let (s, x) = f.t.post(&f.org.admin, &path, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{x}");
    assert_eq!(f.cards_of(&f.tanaka).await.len(), 2);
    let dep = f.departure(&d).await;
    assert_eq!(
        (dep["status"].as_str(), dep["attention_days"].is_null()),
        (Some("done"), true),
        "{dep}"
    );
    assert_eq!(f.audit_of("departure.done", &d).await.len(), 1);
    assert_eq!(f.readiness(&f.org.admin, &d).await["ready"], true);

    // Undoing the batch gives the cards back to the suspended user: needs action again.
    let batch = x["transfers"][0]["transfer_id"].as_str().unwrap().to_string();
    let (s, u) =
        f.t.post(&f.org.admin, &format!("/api/v1/transfers/{batch}/undo"), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(f.departure(&d).await["status"], "needs_action");
    assert_eq!(f.audit_of("departure.reopen", &d).await.len(), 1);
    // …and a manual transfer of everything settles it as well.
    let body =
        json!({"from_user_id": f.yamada, "to_user_id": f.sato, "selection": {"all": true}, "include_tags": true});
    let (s, t) = f.t.post(&f.org.admin, "/api/v1/transfers", body).await;
    assert_eq!(s, StatusCode::CREATED, "{t}");
    assert_eq!(f.departure(&d).await["status"], "done");
}

/// A plan that fails right before the suspension leaves the departure needing action, with
/// the failure recorded; an admin fixes the plan's successor and executes it.
#[tokio::test]
async fn a_plan_that_fails_before_the_suspension_needs_action() {
    let f = fixture().await;
    let d = id(&f.depart("2026-03-31").await);
    f.card("顧客 1", "東洋精機", 0).await;
    let plan = json!({"items": [{"selection": {"all": true}, "successor_id": f.sato}]});
    assert_eq!(f.put_plan(&f.yamada_t, &d, plan).await.0, StatusCode::OK);
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
    let (s, _) =
        f.t.post(&f.org.admin, &format!("/api/v1/users/{}/suspend", f.sato), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK);
    f.t.clock.set(at("2026-03-31T15:00:00Z"));
    assert_eq!(tick(&f.t).await.suspended, 1);
    assert_eq!(f.user(&f.yamada).await["status"], "suspended");
    assert_eq!(f.departure(&d).await["status"], "needs_action");
    assert_eq!(f.audit_of("departure.plan_execute_failed", &d).await.len(), 1);
    assert_eq!(f.cards_of(&f.yamada).await.len(), 1, "nothing half moved");
    // The successor is back: the plan runs.
    let (s, _) =
        f.t.post(&f.org.admin, &format!("/api/v1/users/{}/reactivate", f.sato), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK);
    let (s, x) =
        f.t.post(&f.org.admin, &format!("/api/v1/departures/{d}/plan/execute"), json!({}))
            .await;
    assert_eq!(s, StatusCode::OK, "{x}");
    assert_eq!(f.departure(&d).await["status"], "done");
}

/// The plan can be sent back with a comment and asked for; a line that selects no card is
/// refused naming the line; a successor who is leaving too, or the archive account, is refused.
#[tokio::test]
async fn plans_are_sent_back_requested_and_checked_line_by_line() {
    let f = fixture().await;
    let d = id(&f.depart("2026-03-31").await);
    f.card("顧客 1", "東洋精機", 0).await;
    let path = format!("/api/v1/departures/{d}/plan/request");
    let (s, v) = f.t.post(&f.org.admin, &path, json!({})).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert!(v["plan_requested_at"].is_string());
    assert_eq!(
        f.t.post(&f.yamada_t, &path, json!({})).await.0,
        StatusCode::FORBIDDEN,
        "admins only"
    );

    let none = json!({"items": [{"selection": {"company": "存在しない会社"}, "successor_id": f.sato}]});
    let refused = f.put_plan(&f.yamada_t, &d, none).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, Some("items[0].selection"));
    let (_, other) = f.create(body(&f.suzuki, &f.tanaka, "2026-03-31")).await;
    assert_eq!(other["status"], "scheduled");
    let leaving = json!({"items": [{"selection": {"company": "東洋精機"}, "successor_id": f.suzuki}]});
    let refused = f.put_plan(&f.yamada_t, &d, leaving).await;
    assert_error(refused, StatusCode::UNPROCESSABLE_ENTITY, Some("items[0].successor_id"));

    let good = json!({"items": [{"selection": {"company": "東洋精機"}, "successor_id": f.sato}]});
    assert_eq!(f.put_plan(&f.yamada_t, &d, good.clone()).await.0, StatusCode::OK);
    let path = format!("/api/v1/departures/{d}/plan/return");
    let blank = f.t.post(&f.org.admin, &path, json!({"comment": " "})).await;
    assert_error(blank, StatusCode::BAD_REQUEST, Some("comment"));
    let (s, v) =
        f.t.post(
            &f.org.admin,
            &path,
            json!({"comment": "会社ではなくタグで分けてください"}),
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["plan_status"].as_str(), v["plan_comment"].as_str()),
        (Some("returned"), Some("会社ではなくタグで分けてください"))
    );
    assert_eq!(
        f.approve(&f.org.admin, &d).await.0,
        StatusCode::CONFLICT,
        "sent back: not approvable"
    );
    assert_eq!(f.audit_of("departure.plan_return", &d).await.len(), 1);
    // The user sees the comment, reports again, and the comment goes.
    assert_eq!(
        f.departure(&d).await["plan_comment"],
        "会社ではなくタグで分けてください"
    );
    assert_eq!(f.put_plan(&f.yamada_t, &d, good).await.0, StatusCode::OK);
    assert!(f.departure(&d).await["plan_comment"].is_null());
    assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
}

/// A departed user whose departure needs action is deleted to the archive account: the cards
/// go there, the departure is done, the user goes to the trash.
#[tokio::test]
async fn deleting_a_departed_user_to_the_archive_settles_the_departure() {
    let f = fixture().await;
    f.execute_before_suspension(false).await;
    let d = id(&f.depart("2026-03-31").await);
    f.card("顧客 1", "東洋精機", 1).await;
    f.t.clock.set(at("2026-03-31T15:00:00Z"));
    assert_eq!(tick(&f.t).await.suspended, 1);
    assert_eq!(f.departure(&d).await["status"], "needs_action");
    let refused =
        f.t.call(
            &f.org.admin,
            Method::DELETE,
            &format!("/api/v1/users/{}", f.yamada),
            None,
        )
        .await;
    assert_error(refused, StatusCode::CONFLICT, None);
    let (s, u) =
        f.t.call(
            &f.org.admin,
            Method::DELETE,
            &format!("/api/v1/users/{}?archive=true", f.yamada),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK, "{u}");
    assert_eq!(u["status"], "deleted");
    assert_eq!(f.departure(&d).await["status"], "done");
}

/// Every audit event of one action, all pages.
async fn all_audit(f: &Fixture, action: &str) -> Vec<Value> {
    all_pages(f, &format!("/api/v1/audit?action={action}&limit=100")).await
}

/// Every item of a paged list.
async fn all_pages(f: &Fixture, first: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor = String::new();
    loop {
        let path = format!("{first}{cursor}");
        let (s, v) = f.t.get(&f.org.admin, &path).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        events.extend(v["items"].as_array().unwrap().iter().cloned());
        match v["next_cursor"].as_str() {
            Some(c) => cursor = format!("&cursor={c}"),
            None => return events,
        }
    }
}

/// Issue 17: a thousand departures due in the same minute, three servers ticking every second
/// on one database, one of them killed while it works through them. Each account is suspended
/// once, each plan executed once (its card moved to the successor once), one audit event of
/// each kind per departure, nothing half done.
#[tokio::test]
async fn a_thousand_departures_due_at_once_with_three_servers_ticking_happen_once_each() {
    use futures_util::StreamExt;
    const N: usize = 1000;
    let f = fixture().await;
    f.t.clock.set(Utc::now());
    let tomorrow = (tokyo_day(Utc::now()) + Duration::days(1)).to_string();
    let plan = json!({"items": [{"selection": {"all": true}, "successor_id": f.sato}]});
    let made: Vec<(String, String, String)> = futures_util::stream::iter(0..N)
        .map(|i| {
            let (f, tomorrow, plan) = (&f, &tomorrow, &plan);
            async move {
                let new = json!({"email": format!("leaver{i}@acme.example.jp"), "display_name": format!("退職 {i}"), "role": "member"});
                let (s, u) = f.t.post(&f.org.admin, "/api/v1/users", new).await;
                assert_eq!(s, StatusCode::CREATED, "{u}");
                let user = id(&u);
                let card = f
                    .t
                    .card(&f.org.admin, json!({"full_name": format!("顧客 {i}"), "company": "東洋精機", "owner_id": user}))
                    .await;
                let (s, d) = f.create(body(&user, &f.tanaka, tomorrow)).await;
                assert_eq!(s, StatusCode::CREATED, "{d}");
                let d = id(&d);
                assert_eq!(f.put_plan(&f.org.admin, &d, plan.clone()).await.0, StatusCode::OK);
                assert_eq!(f.approve(&f.org.admin, &d).await.0, StatusCode::OK);
                (user, card, d)
            }
        })
        .buffer_unordered(8)
        .collect()
        .await;

    let args = ["--scheduler-interval", "1"];
    let mut servers: Vec<Server> = (0..3).map(|_| Server::launch(&f.t.db_url, &args)).collect();
    for s in &mut servers {
        s.listening();
    }
    // The first server is killed (SIGKILL) once some of the departures are done: whatever it
    // was in the middle of is rolled back, and the others take it over.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(600);
    let done = || async { all_audit(&f, "departure.suspend").await.len() };
    while done().await == 0 {
        assert!(std::time::Instant::now() < deadline, "nothing suspended");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    servers[0].child.kill().expect("kill the first server");
    servers[0].child.wait().ok();
    loop {
        let n = done().await;
        if n >= N {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{n} of {N} suspended in time");
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
    tokio::time::sleep(std::time::Duration::from_secs(2)).await; // a couple more ticks each
    for (i, s) in servers.iter_mut().enumerate().skip(1) {
        assert!(s.running(), "server {i} stopped");
    }
    drop(servers);

    let count = |events: Vec<Value>| {
        let mut per: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for e in events {
            *per.entry(e["target_id"].as_str().unwrap_or_default().to_string())
                .or_default() += 1;
        }
        per
    };
    let suspended = count(all_audit(&f, "departure.suspend").await);
    let executed = count(all_audit(&f, "departure.plan_execute").await);
    let users = count(all_audit(&f, "user.suspend").await);
    for (user, card, d) in &made {
        assert_eq!(
            suspended.get(d),
            Some(&1),
            "departure.suspend of {d} ({} engine)",
            engine()
        );
        assert_eq!(
            executed.get(d),
            Some(&1),
            "departure.plan_execute of {d} ({} engine)",
            engine()
        );
        assert_eq!(
            users.get(user),
            Some(&1),
            "user.suspend of {user} ({} engine)",
            engine()
        );
        assert_eq!(f.departure(d).await["status"], "done");
        assert_eq!(f.user(user).await["status"], "suspended");
        let (s, c) = f.t.get(&f.org.admin, &format!("/api/v1/cards/{card}")).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        assert_eq!(c["owner_id"], f.sato.as_str(), "card of {user}");
    }
    assert_eq!(suspended.len(), N);
    assert_eq!(executed.len(), N);
    // One transfer per plan: the leaver's card, moved once.
    let transfers = all_pages(&f, "/api/v1/transfers?limit=100").await;
    let mut from: Vec<&str> = transfers.iter().map(|t| t["from_user_id"].as_str().unwrap()).collect();
    from.sort_unstable();
    from.dedup();
    assert_eq!((transfers.len(), from.len()), (N, N), "{} engine", engine());
}

/// A handover plan that has to wait for a card another unit of work holds (an edit of that
/// card, which will write its audit event next) must not hold the audit chain's head while it
/// waits: PostgreSQL would find the two waiting on each other and fail one of them (the card
/// edit's 500 or the plan's). The audit events of a unit are written last, just before its
/// commit, so the plan's first line (a transfer and its event) leaves the head free. On
/// PostgreSQL the test holds the second line's card in a transaction of its own, waits until
/// the plan waits for it, then takes the head as the edit would; on SQLite (one writer at a
/// time, no such wait) the plan simply runs.
#[tokio::test]
async fn a_plan_waiting_for_a_card_another_unit_holds_leaves_the_audit_chain_free() {
    use sea_orm::TransactionTrait;
    let f = fixture().await;
    let d = id(&f.depart("2026-03-31").await);
    let first = f.card("顧客 1", "東洋精機", 0).await;
    let second = f.card("顧客 2", "株式会社サンプル", 0).await;
    let vip = f.tag("重要顧客", &[&first]).await;
    let plan = json!({"items": [
        {"selection": {"tag_id": vip}, "successor_id": f.sato},
        {"selection": {"company": "株式会社サンプル"}, "successor_id": f.suzuki},
    ]});
    let (s, p) = f.put_plan(&f.yamada_t, &d, plan).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let (s, p) = f.approve(&f.org.admin, &d).await;
    assert_eq!(s, StatusCode::OK, "{p}");
    let db = f.t.app.store.conn();
    let org_id = meishi::service::auth::resolve_org(&f.t.app, Some(&f.org.slug))
        .await
        .unwrap()
        .id;
    let holder = if engine() == "postgres" {
        let tx = db.begin().await.unwrap();
        let n = meishi::store::count(
            &tx,
            "SELECT COUNT(*) FROM (SELECT id FROM cards WHERE id = ? FOR UPDATE) held",
            vec![second.clone().into()],
        )
        .await
        .unwrap();
        assert_eq!(n, 1);
        Some(tx)
    } else {
        None
    };
    let (url, admin) = (f.t.url.clone(), f.org.admin.clone());
    let path = format!("{url}/api/v1/departures/{d}/plan/execute?dry_run=false");
    let execute = tokio::spawn(async move {
        let res = reqwest::Client::new()
            .post(path)
            .bearer_auth(admin)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        (res.status(), res.text().await.unwrap())
    });
    if let Some(tx) = holder {
        // The plan has moved the first card and waits for the second.
        let waiting = "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() \
                       AND wait_event_type = 'Lock' AND pid <> pg_backend_pid()";
        let mut waited = 0;
        while meishi::store::count(db, waiting, vec![]).await.unwrap() == 0 {
            assert!(waited < 300, "the plan never waited for the held card");
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            waited += 1;
        }
        let head = tokio::time::timeout(
            std::time::Duration::from_secs(20),
            meishi::store::count(
                &tx,
                "SELECT COUNT(*) FROM (SELECT seq FROM audit_heads WHERE org_id = ? FOR UPDATE) head",
                vec![org_id.clone().into()],
            ),
        )
        .await;
        assert!(
            matches!(head, Ok(Ok(1))),
            "the plan held the audit chain's head while it waited for a card: {head:?}"
        );
        tx.rollback().await.unwrap();
    }
    let (s, body) = execute.await.unwrap();
    assert_eq!(s, StatusCode::OK, "{body}");
    assert!(f.cards_of(&f.sato).await.contains(&first));
    assert!(f.cards_of(&f.suzuki).await.contains(&second));
    let (ok, out, err) = meishi(&["audit", "verify", "--database", &f.t.db_url]);
    assert!(ok, "{out}{err}");
}
