//! The demo organisation: a Japanese trading company with its staff, one of whom is leaving,
//! and a few thousand business cards with contacts and tags. Loaded in one transaction.

mod data;

use super::{App, audit, auth::hash_password, orgs};
use crate::domain::model::{Organization, Tag, User};
use crate::domain::{CardFields, ContactKind, Result, Role};
use crate::store::{self, cards as st, users};
use chrono::{Duration, NaiveTime};

pub const SLUG: &str = "demo";
pub const PASSWORD: &str = "meishi-demo";
const ORG_NAME: &str = "サンプル商事株式会社";

pub struct Demo {
    pub org: Organization,
    pub users: Vec<User>,
    pub cards: usize,
    /// False when the organisation was already there and was left as it was.
    pub loaded: bool,
}

pub async fn load(app: &App, n_cards: usize) -> Result<Demo> {
    let staff = data::users();
    if let Some(org) = store::orgs::by_slug(app.read(), SLUG).await? {
        let users = super::users::list(app, &system_actor(&org, app).await?, None, Some(500))
            .await?
            .items;
        return Ok(Demo {
            org,
            users,
            cards: 0,
            loaded: false,
        });
    }
    let admin = &staff[0];
    let (org, admin_user) = orgs::init(
        app,
        orgs::NewOrganization {
            name: ORG_NAME,
            slug: Some(SLUG),
            admin_email: &admin.email,
            admin_name: &admin.display_name,
            admin_password: PASSWORD,
        },
    )
    .await?;
    let hash = hash_password(PASSWORD)?;
    let (all, now, n_cards) = app
        .write(&super::Actor::system(&org.id), async |tx, who| {
            let mut all = vec![admin_user];
            for u in &staff[1..] {
                let role = if u.admin { Role::Admin } else { Role::Member };
                let user = User::new(store::new_id(), &u.email, &u.display_name, role, who.at);
                users::insert(tx, &org.id, &user, Some(hash.clone())).await?;
                audit(tx, who, "user.create", ("user", &user.id), None, super::snap(&user)).await?;
                all.push(user);
            }
            let tags: Vec<Tag> = data::tag_names()
                .iter()
                .enumerate()
                .map(|(i, name)| Tag {
                    id: store::new_id(),
                    name: name.to_string(),
                    creator_id: Some(all[data::tag_creator(i)].id.clone()),
                    shared: true,
                    created_at: who.at,
                })
                .collect();
            st::insert_tags(tx, &org.id, &tags).await?;

            let mut cards = Vec::new();
            let mut links = Vec::new();
            let mut contacts = Vec::new();
            let generated = data::cards(n_cards, 20261130);
            for c in &generated {
                let id = store::new_id();
                let fields = CardFields::parse(CardFields {
                    full_name: c.full_name.clone(),
                    name_reading: c.name_reading.clone(),
                    company: c.company.clone(),
                    department: c.department.clone(),
                    title: c.title.clone(),
                    email: c.email.clone(),
                    phone: c.phone.clone(),
                    mobile: c.mobile.clone(),
                    fax: c.fax.clone(),
                    postal_code: c.postal_code.clone(),
                    address: c.address.clone(),
                    url: c.url.clone(),
                    exchanged_on: Some(c.exchanged_on),
                })?;
                for t in &c.tags {
                    links.push((id.clone(), tags[*t].id.clone()));
                }
                for k in &c.contacts {
                    let day = c.exchanged_on + Duration::days(k.days_after_exchange.into());
                    contacts.push(st::NewContact {
                        id: store::new_id(),
                        card_id: id.clone(),
                        author_id: all[c.owner].id.clone(),
                        kind: ContactKind::parse("kind", k.kind)?,
                        occurred_at: day
                            .and_time(NaiveTime::from_hms_opt(1, 30, 0).expect("valid time"))
                            .and_utc(),
                        body: k.body.clone(),
                    });
                }
                cards.push(st::NewCard {
                    id,
                    owner_id: all[c.owner].id.clone(),
                    fields,
                    person_id: None,
                });
            }
            let counts = serde_json::json!({
                "users": all.len(), "tags": tags.len(), "cards": cards.len(),
                "contacts": contacts.len(), "card_tags": links.len(),
            });
            // The sample company's people are placed like any arriving cards: the same person
            // held by several members is one person, and their newer cards bring news.
            let arrivals: Vec<super::people::Arrival> = cards
                .iter()
                .map(|c| super::people::Arrival {
                    card_id: c.id.clone(),
                    owner_id: c.owner_id.clone(),
                    fields: c.fields.clone(),
                    created_at: who.at,
                })
                .collect();
            let placed = super::people::Placer::new(&org.id, true)
                .place(tx, &arrivals, false, who.at)
                .await?;
            for (card, p) in cards.iter_mut().zip(placed) {
                card.person_id = p.person_id;
            }
            st::insert_cards(tx, &org.id, cards, who.at).await?;
            st::attach_many(tx, &org.id, links).await?;
            st::insert_contacts(tx, &org.id, contacts, who.at).await?;
            audit(tx, who, "demo.load", ("organization", &org.id), None, Some(counts)).await?;
            Ok((all, who.at, generated.len()))
        })
        .await?;
    // 山田 is leaving: his departure is on the desk, three weeks ahead, plan not yet reported.
    let admin = super::Actor {
        org_id: org.id.clone(),
        user_id: all[0].id.clone(),
        role: Role::Admin,
        session: None,
    };
    let last = (org.policy()?.today(now) + Duration::days(21)).to_string();
    let departure = super::departures::NewDeparture {
        user_id: all[data::LEAVING_USER].id.clone(),
        kind: None,
        retirement_date: last.clone(),
        last_working_day: last,
        successor_id: all[1].id.clone(),
        suspend_at: None,
    };
    super::departures::create(app, &admin, departure).await?;
    Ok(Demo {
        org,
        users: all,
        cards: n_cards,
        loaded: true,
    })
}

/// The leaving member of the demo staff.
pub fn leaving_email() -> String {
    data::users()[data::LEAVING_USER].email.clone()
}

async fn system_actor(org: &Organization, app: &App) -> Result<super::Actor> {
    let admin = users::by_email(app.read(), &org.id, &data::users()[0].email)
        .await?
        .ok_or_else(|| crate::domain::Error::not_found("demo administrator"))?;
    Ok(super::Actor {
        org_id: org.id.clone(),
        user_id: admin.user.id,
        role: Role::Admin,
        session: None,
    })
}
