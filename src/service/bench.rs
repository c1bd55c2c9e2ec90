//! What `meishi bench` needs besides the use cases it times: the transfer benchmark's data
//! (bulk setup), the database brought to a settled state before each timed step, the counts
//! every step is checked against, the hand-written SQL meishi is measured against, and the
//! import benchmark's SQL floor. The SQL itself is in `store::bench`; the command line
//! (`cli/bench.rs`, `cli/bench_import.rs`) parses the arguments, times the steps and prints.

use super::{Actor, App};
use crate::domain::model::User;
use crate::domain::{Result, Role, UserStatus};
use crate::store::{self, bench as sb};
use chrono::{DateTime, Utc};
use std::path::Path;

pub use sb::{Baseline, CONTACTS_PER_CARD};

/// The transfer benchmark's organisation, the leaving user and the successor.
pub struct Parties {
    pub org_id: String,
    pub from: String,
    pub to: String,
}

/// The organisations with these slugs and the admin each was made with
/// (`admin@bench.example`): the import benchmark's `--reuse`.
pub async fn bench_orgs(app: &App, slugs: &[&str]) -> Result<Vec<(String, String)>> {
    let c = app.store.conn();
    let mut out = Vec::new();
    for slug in slugs {
        let missing = || {
            crate::domain::Error::bad_input(
                "reuse",
                format!("no organisation '{slug}' with its admin: run --setup-only first"),
            )
        };
        let org = store::orgs::by_slug(c, slug).await?.ok_or_else(missing)?;
        let admin = store::users::by_email(c, &org.id, "admin@bench.example")
            .await?
            .ok_or_else(missing)?;
        out.push((org.id, admin.user.id));
    }
    Ok(out)
}

/// A new active member of the benchmarks' organisations.
fn member(email: String, display_name: String, now: DateTime<Utc>) -> User {
    User {
        id: store::new_id(),
        email,
        display_name,
        role: Role::Member,
        status: UserStatus::Active,
        is_archive: false,
        deleted_at: None,
        created_at: now,
        updated_at: now,
    }
}

/// Adds these active members (email, display name), in one transaction; returns their ids in
/// the same order.
pub async fn insert_members<const N: usize>(
    app: &App,
    org_id: &str,
    members: [(&str, &str); N],
    now: DateTime<Utc>,
) -> Result<[String; N]> {
    let users = members.map(|(email, name)| member(email.into(), name.into(), now));
    app.write(&Actor::system(org_id), async |tx, _| {
        for u in &users {
            store::users::insert(tx, org_id, u, None).await?;
        }
        Ok(())
    })
    .await?;
    Ok(users.map(|u| u.id))
}

/// The organisation with this slug and its two users with these emails, if all three are there.
pub async fn find_parties(app: &App, slug: &str, from_email: &str, to_email: &str) -> Result<Option<Parties>> {
    let Some(org) = store::orgs::by_slug(app.store.conn(), slug).await? else {
        return Ok(None);
    };
    let c = app.store.conn();
    let Some(from) = store::users::by_email(c, &org.id, from_email).await? else {
        return Ok(None);
    };
    let Some(to) = store::users::by_email(c, &org.id, to_email).await? else {
        return Ok(None);
    };
    Ok(Some(Parties {
        org_id: org.id,
        from: from.user.id,
        to: to.user.id,
    }))
}

/// Creates the owner's personal tags (`store::bench::TAGS`); returns their ids.
pub async fn create_tags(app: &App, org_id: &str, owner: &str, now: DateTime<Utc>) -> Result<Vec<String>> {
    app.write(&Actor::system(org_id), async |tx, _| {
        sb::create_tags(tx, org_id, owner, now).await
    })
    .await
}

/// Inserts cards `first..first+n` of `owner` with their contacts and tag links, in one
/// transaction; returns the number of rows written.
pub async fn insert_chunk(
    app: &App,
    org_id: &str,
    owner: &str,
    tag_ids: &[String],
    first: usize,
    n: usize,
    now: DateTime<Utc>,
) -> Result<u64> {
    app.write(&Actor::system(org_id), async |tx, _| {
        sb::insert_chunk(tx, org_id, owner, tag_ids, first, n, now).await
    })
    .await
}

/// Brings the database to a comparable state before a timed step (`store::bench::settle`).
pub async fn settle(app: &App) -> Result<()> {
    sb::settle(&app.store).await
}

/// After the bulk load: PostgreSQL's statistics (`store::bench::analyze`).
pub async fn analyze(app: &App) -> Result<()> {
    sb::analyze(&app.store).await
}

/// Reads the tables once; returns the numbers of cards, contacts and tag links.
pub async fn warm_up(app: &App) -> Result<(i64, i64, i64)> {
    sb::warm_up(&app.store).await
}

/// The owner's cards.
pub async fn count_owned(app: &App, org_id: &str, owner: &str) -> Result<i64> {
    sb::count_owned(&app.store, org_id, owner).await
}

/// Every tag link.
pub async fn count_links(app: &App) -> Result<i64> {
    sb::count_links(&app.store).await
}

/// The cards this transfer moved last (None: the cards never transferred).
pub async fn count_last_transfer(app: &App, org_id: &str, transfer_id: Option<&str>) -> Result<i64> {
    sb::count_last_transfer(&app.store, org_id, transfer_id).await
}

/// The hand-written transfer of all of `from`'s cards to `to` (`store::bench::baseline_transfer`).
pub async fn baseline_transfer(app: &App, org_id: &str, from: &str, to: &str, now: DateTime<Utc>) -> Result<Baseline> {
    app.write(&Actor::system(org_id), async |tx, _| {
        sb::baseline_transfer(tx, org_id, from, to, now).await
    })
    .await
}

/// The hand-written undo of `baseline_transfer`; returns the number of cards given back.
pub async fn baseline_undo(app: &App, org_id: &str, from: &str, b: &Baseline, now: DateTime<Utc>) -> Result<i64> {
    app.write(&Actor::system(org_id), async |tx, _| {
        sb::baseline_undo(tx, org_id, from, b, now).await
    })
    .await
}

/// The pids of the PostgreSQL server processes serving this database, whose CPU time the
/// engine's work includes; none on SQLite (it runs inside this process).
pub async fn backend_pids(app: &App) -> Result<Vec<i32>> {
    if app.store.is_sqlite() {
        return Ok(Vec::new());
    }
    sb::backend_pids(&app.store).await
}

/// Waits for the WAL checkpoint the import's commit started (SQLite), if any.
pub async fn checkpoint_done(app: &App) {
    app.store.checkpoint_done().await
}

/// The organisation's cards.
pub async fn count_cards(app: &App, org_id: &str) -> Result<i64> {
    sb::count_cards(&app.store, org_id).await
}

/// The organisation's people, cards without a person, and news items.
pub async fn count_people(app: &App, org_id: &str) -> Result<(i64, i64, i64)> {
    sb::count_people(&app.store, org_id).await
}

/// The `sqlite3` script of the import benchmark's SQL floor, for this scratch SQLite database
/// (`org_id`'s `owner_id` owns the rows; `plain` is the baseline's database with its
/// `cards_plain` table): reads the definitions of the `cards` indexes, then closes the
/// database, so that `sqlite3` has the file to itself.
pub async fn sql_floor_script(app: App, org_id: &str, owner_id: &str, plain: &Path) -> Result<String> {
    let indexes = store::imports::index_definitions(app.store.conn(), "cards").await?;
    app.store.conn().clone().close().await?;
    Ok(sb::sql_floor_script(&indexes, org_id, owner_id, plain))
}

/// The search benchmark's full-scan baseline (`store::bench::like_page`).
pub async fn like_page(app: &App, org_id: &str, q: &str) -> Result<usize> {
    sb::like_page(&app.store, org_id, q).await
}

/// The keyword index's size and the cards table's, in bytes.
pub async fn search_sizes(app: &App) -> Result<(i64, i64)> {
    sb::search_sizes(&app.store).await
}

/// `meishi bench mail`'s organisation: its admin, the card owners (the last two suspended, so
/// their cards are left out), and a template.
pub struct MailBench {
    pub org_id: String,
    pub admin: Actor,
    pub owners: Vec<String>,
    pub template_id: String,
}

/// Builds the mail benchmark's data: `owners` members, `n` cards among them
/// (`store::bench::insert_mail_cards`), two owners suspended, one template.
pub async fn mail_setup(app: &App, n: usize, owners: usize) -> Result<MailBench> {
    let (org, admin) = super::orgs::init(
        app,
        super::orgs::NewOrganization {
            name: "メールベンチ株式会社",
            slug: Some("mailbench"),
            admin_email: "admin@mailbench.example",
            admin_name: "管理者",
            admin_password: "meishi-bench",
        },
    )
    .await?;
    let actor = Actor {
        org_id: org.id.clone(),
        user_id: admin.id.clone(),
        role: Role::Admin,
        session: None,
    };
    let mut ids = Vec::with_capacity(owners);
    for k in 0..owners {
        let u = super::users::create(
            app,
            &actor,
            super::users::NewUser {
                email: format!("owner{k}@mailbench.example"),
                display_name: format!("営業 {k}"),
                role: None,
                password: None,
            },
        )
        .await?;
        ids.push(u.id);
    }
    let now = app.now();
    app.write(&actor, async |tx, _| {
        sb::insert_mail_cards(tx, &org.id, &ids, n, now).await
    })
    .await?;
    super::mail::update_settings(
        app,
        &actor,
        super::mail::SettingsPatch {
            daily_limit: Some(10_000_000),
            ..Default::default()
        },
    )
    .await?;
    for id in ids.iter().rev().take(2) {
        super::lifecycle::suspend(app, &actor, id).await?;
    }
    let t = super::mail::create_template(
        app,
        &actor,
        super::mail::TemplateInput {
            name: "ご案内".into(),
            subject: "{{会社名}} {{氏名}}様へのご案内".into(),
            body: "{{氏名}}様\n\nいつもお世話になっております。{{差出人氏名}}です。\n新製品のご案内をお送りします。\n"
                .into(),
            html_body: None,
            shared: true,
        },
    )
    .await?;
    sb::analyze(&app.store).await?;
    Ok(MailBench {
        org_id: org.id,
        admin: actor,
        owners: ids,
        template_id: t.id,
    })
}

/// The enqueue's floor (`store::bench::mail_floor`) for the cards of `company_key`, in a
/// transaction that is rolled back; returns the rows it wrote.
pub async fn mail_floor(app: &App, b: &MailBench, company_key: &str) -> Result<u64> {
    app.write_or_rehearse(&b.admin, true, async |tx, who| {
        let new = store::mail::NewSend {
            kind: crate::domain::mail::SendKind::OneToOne,
            created_by: who.actor_id,
            template_id: Some(&b.template_id),
            departure_id: None,
            subject: "floor",
            body: "floor",
            html_body: None,
            selection: serde_json::json!({}),
            scheduled_at: who.at,
        };
        let send_id = store::mail::insert_send(tx, who.org_id, &new, who.at).await?;
        sb::mail_floor(tx, who.org_id, &send_id, company_key, who.at).await
    })
    .await
}

/// The worker's database work alone: claim a batch, mark it sent, until nothing is due; one
/// batch after the other, no SMTP. Returns (messages, seconds claiming, seconds marking).
pub async fn mail_database_alone(app: &App) -> Result<(usize, f64, f64)> {
    let (mut n, mut claiming, mut marking) = (0, 0.0, 0.0);
    loop {
        let started = std::time::Instant::now();
        let claim = super::mail::claim_batch(app).await?;
        claiming += started.elapsed().as_secs_f64();
        if claim.messages.is_empty() {
            break;
        }
        n += claim.messages.len();
        let outcomes = claim.messages.into_iter().map(|m| (m, Ok(()))).collect();
        let started = std::time::Instant::now();
        super::mail::mark_batch(app.clone(), claim.id, outcomes).await?;
        marking += started.elapsed().as_secs_f64();
    }
    Ok((n, claiming, marking))
}
/// lettre alone, sending the messages the worker sent for `send_id` (the same messages, built
/// as they are sent by the worker's own `build`) over `connections` pooled connections of a
/// transport of its own to `smtp_url`, with nothing else: no claim, no mark. Returns how many
/// went out and the seconds it took (the messages are read before the clock starts).
pub async fn mail_lettre_alone(
    app: &App,
    mailer: &super::mail::Mailer,
    send_id: &str,
    smtp_url: &str,
    connections: usize,
) -> Result<(usize, f64)> {
    use futures_util::StreamExt;
    let messages = store::mail::messages_of_send(app.store.conn(), send_id).await?;
    let transport = lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(smtp_url)
        .map_err(|e| crate::domain::Error::internal(e.to_string()))?
        .build();
    let started = std::time::Instant::now();
    let sent = futures_util::stream::iter(messages.iter())
        .map(|m| {
            let t = transport.clone();
            async move {
                let message = super::mail::build(mailer, m).map_err(crate::domain::Error::internal)?;
                lettre::AsyncTransport::send(&t, message)
                    .await
                    .map_err(|e| crate::domain::Error::internal(e.to_string()))
            }
        })
        .buffer_unordered(connections)
        .collect::<Vec<_>>()
        .await;
    let took = started.elapsed().as_secs_f64();
    let ok = sent.iter().filter(|r| r.is_ok()).count();
    Ok((ok, took))
}

/// `meishi bench audit`: `n` units of work in the organisation, each writing one audit event
/// through `super::audit` (the chain: the head read under its lock, the event, the head moved).
pub async fn audited_writes(app: &App, org_id: &str, n: usize) -> Result<()> {
    let actor = Actor::system(org_id);
    for i in 0..n {
        let target = i.to_string();
        app.write(&actor, async |tx, who| {
            let after = serde_json::json!({"n": i});
            super::audit(tx, who, "bench.event", ("bench", &target), None, Some(after)).await
        })
        .await?;
    }
    Ok(())
}

/// The same units of work writing the same event as before the chain: one INSERT each
/// (`store::bench::insert_unchained_event`), in an organisation of their own.
/// `start` numbers the events on from earlier rounds.
pub async fn unchained_writes(app: &App, org_id: &str, start: usize, n: usize) -> Result<()> {
    let actor = Actor::system(org_id);
    for i in start..start + n {
        app.write(&actor, async |tx, who| {
            sb::insert_unchained_event(tx, who.org_id, i as i64, who.at).await
        })
        .await?;
    }
    Ok(())
}

/// Walks the organisation's chain (as `meishi audit verify` does); the events verified.
pub async fn verify_chain(app: &App, slug: &str) -> Result<i64> {
    let v = super::audit::verify(app, Some(slug)).await?;
    match v.first() {
        Some(v) if v.broken.is_none() => Ok(v.verified),
        Some(v) => Err(crate::domain::Error::internal(format!(
            "the chain breaks: {:?}",
            v.broken
        ))),
        None => Err(crate::domain::Error::not_found("organization")),
    }
}

/// `meishi bench http`'s organisation.
pub const HTTP_SLUG: &str = "bench-http";
const HTTP_ADMIN: &str = "admin@bench-http.example";
/// Members the cards are spread over (card `i` is owner `i % 20`'s).
pub const HTTP_OWNERS: usize = 20;
/// Companies the cards are spread over (card `i` is at company `i % 1000`).
pub const HTTP_COMPANIES: usize = 1000;
/// Shared tags; shared tag `k` is on the cards with `i % 20 == k` (5 % of them each).
pub const HTTP_SHARED_TAGS: usize = 5;
/// Cards per INSERT (one unit of work each).
const HTTP_CHUNK: usize = 100_000;

pub use sb::http_card_id;

/// `meishi bench http`'s data as the load generator needs it.
pub struct HttpBench {
    pub org_id: String,
    pub owners: Vec<String>,
    pub shared_tags: Vec<String>,
    /// The personal tag of the first owner, on the cards with `i % 7 == 3`.
    pub personal_tag: String,
    pub cards: usize,
}

/// Company `k`'s name (its key is `normalize::company` of it).
pub fn http_company(k: usize) -> String {
    format!("ベンチ商事{k}株式会社")
}

fn http_owner_email(k: usize) -> String {
    format!("owner{k}@bench-http.example")
}

fn http_shared_tag(k: usize) -> String {
    format!("共有タグ{k}")
}

const HTTP_PERSONAL_TAG: &str = "個人タグ";

/// Builds `meishi bench http`'s data, set-based: the organisation, its admin, 20 members, `n`
/// cards among them (`store::bench::insert_http_cards`, 100,000 per statement), five shared tags
/// and a member's personal tag on some of them. `progress` is told the cards written so far.
pub async fn http_setup(app: &App, n: usize, progress: &dyn Fn(usize)) -> Result<HttpBench> {
    let (org, _admin) = super::orgs::init(
        app,
        super::orgs::NewOrganization {
            name: "HTTPベンチ株式会社",
            slug: Some(HTTP_SLUG),
            admin_email: HTTP_ADMIN,
            admin_name: "管理者",
            admin_password: "meishi-bench",
        },
    )
    .await?;
    let now = app.now();
    let actor = Actor::system(&org.id);
    let owners: Vec<User> = (0..HTTP_OWNERS)
        .map(|k| member(http_owner_email(k), format!("営業 {k}"), now))
        .collect();
    let owner_ids: Vec<String> = owners.iter().map(|u| u.id.clone()).collect();
    let tag = |name: String, creator: &str, shared: bool| crate::domain::model::Tag {
        id: store::new_id(),
        name,
        creator_id: Some(creator.to_string()),
        shared,
        created_at: now,
    };
    let mut tags: Vec<_> = (0..HTTP_SHARED_TAGS)
        .map(|k| tag(http_shared_tag(k), &owner_ids[k % HTTP_OWNERS], true))
        .collect();
    tags.push(tag(HTTP_PERSONAL_TAG.into(), &owner_ids[0], false));
    app.write(&actor, async |tx, _| {
        for u in &owners {
            store::users::insert(tx, &org.id, u, None).await?;
        }
        store::cards::insert_tags(tx, &org.id, &tags).await
    })
    .await?;
    let companies: Vec<sb::HttpCompany> = (0..HTTP_COMPANIES)
        .map(|k| {
            let name = http_company(k);
            sb::HttpCompany {
                key: crate::domain::normalize::company(&name),
                exchanged_on: (chrono::NaiveDate::from_ymd_opt(2024, 1, 1).expect("date")
                    + chrono::Duration::days((k % 700) as i64))
                .to_string(),
                name,
            }
        })
        .collect();
    let name_key = crate::domain::normalize::card_name_key(&crate::domain::CardFields {
        name_reading: "めいし たろう".into(),
        ..Default::default()
    });
    let mut done = 0;
    while done < n {
        let k = HTTP_CHUNK.min(n - done);
        app.write(&actor, async |tx, who| {
            let people = store::people::new_person_ids(tx, k).await?;
            let base = people[0];
            if people.last() != Some(&(base + k as i64 - 1)) {
                return Err(crate::domain::Error::internal("the people's ids are not consecutive"));
            }
            sb::insert_http_cards(
                tx,
                &org.id,
                &owner_ids,
                &companies,
                &name_key,
                done,
                k,
                base - done as i64,
                who.at,
            )
            .await
        })
        .await?;
        done += k;
        progress(done);
    }
    app.write(&actor, async |tx, _| {
        for (k, t) in tags.iter().take(HTTP_SHARED_TAGS).enumerate() {
            sb::tag_http_cards(tx, &org.id, &t.id, 20, k as u32).await?;
        }
        sb::tag_http_cards(tx, &org.id, &tags[HTTP_SHARED_TAGS].id, 7, 3).await?;
        Ok(())
    })
    .await?;
    sb::analyze(&app.store).await?;
    Ok(HttpBench {
        org_id: org.id,
        owners: owner_ids,
        shared_tags: tags.iter().take(HTTP_SHARED_TAGS).map(|t| t.id.clone()).collect(),
        personal_tag: tags[HTTP_SHARED_TAGS].id.clone(),
        cards: n,
    })
}

/// The data a previous `meishi bench http` left in this database.
pub async fn http_existing(app: &App) -> Result<Option<HttpBench>> {
    let c = app.store.conn();
    let Some(org) = store::orgs::by_slug(c, HTTP_SLUG).await? else {
        return Ok(None);
    };
    let mut owners = Vec::new();
    for k in 0..HTTP_OWNERS {
        let Some(u) = store::users::by_email(c, &org.id, &http_owner_email(k)).await? else {
            return Ok(None);
        };
        owners.push(u.user.id);
    }
    let mut shared_tags = Vec::new();
    for k in 0..HTTP_SHARED_TAGS {
        let Some(t) =
            store::cards::tag_by_name(c, &org.id, Some(&owners[k % HTTP_OWNERS]), &http_shared_tag(k)).await?
        else {
            return Ok(None);
        };
        shared_tags.push(t.id);
    }
    let Some(personal) = store::cards::tag_by_name(c, &org.id, Some(&owners[0]), HTTP_PERSONAL_TAG).await? else {
        return Ok(None);
    };
    let cards = sb::count_cards(&app.store, &org.id).await? as usize;
    Ok(Some(HttpBench {
        org_id: org.id,
        owners,
        shared_tags,
        personal_tag: personal.id,
        cards,
    }))
}

/// A new API token of the benchmark's admin (its plaintext).
pub async fn http_token(app: &App) -> Result<String> {
    super::auth::create_token(app, Some(HTTP_SLUG), HTTP_ADMIN, "bench http").await
}
