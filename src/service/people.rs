//! Same person (名寄せ), news and card history as use cases.
//!
//! Every path that adds cards (creation, import, demo) places them with a `Placer`: the
//! lookup keys find the people a card may be (`store::people`), the domain decides
//! (`domain::person::place`), and the person, the new keys, the candidates and the news are
//! written in the card's own transaction, a batch at a time.

use super::{Actor, App, Who, audit, page_limit, paginate, snap};
use crate::domain::model::{Card, Page};
use crate::domain::person::{
    self, CANDIDATE_CAP, CandidateReason, CareerStep, NewsFor, NewsKind, NewsStatus, NewsValues, PersonCard,
    PersonKeys, Recency,
};
use crate::domain::{CardFields, Error, Result};
use crate::store::{self, cards as st_cards, people as st, users};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};
use utoipa::ToSchema;

/// A card arriving: what placing it needs.
pub struct Arrival {
    pub card_id: String,
    pub owner_id: String,
    pub fields: CardFields,
    pub created_at: DateTime<Utc>,
}

/// Where an arriving card went.
#[derive(Debug, Clone)]
pub struct Placed {
    /// Its person; None when it is an exact duplicate that is skipped.
    pub person_id: Option<i64>,
    /// The card of the same owner and person with the very same fields, if there is one.
    pub duplicate_of: Option<String>,
}

/// Batches an import has placed but may not have written yet: it writes a batch while the
/// next one is prepared (one in the channel, one being written, `service::imports`), so the
/// cards of the last few batches are kept here for the next batches to be compared with (one
/// more than can be unwritten).
const RECENT_BATCHES: usize = 3;

/// Places arriving cards, batch after batch, in one transaction.
pub struct Placer {
    org_id: String,
    /// Whether arrivals bring news (not for cards placed after the fact by `place_unplaced`).
    news: bool,
    recent: VecDeque<Vec<PersonCard>>,
    /// Candidate keys found held by `CANDIDATE_CAP` people already: too common, neither looked
    /// up nor written again by this placer (a name like 佐藤 一郎 in a large import).
    common: HashSet<i64>,
}

impl Placer {
    pub fn new(org_id: &str, news: bool) -> Self {
        Self {
            org_id: org_id.to_string(),
            news,
            recent: VecDeque::new(),
            common: HashSet::new(),
        }
    }

    /// Places a batch: each card joins the person it is the same as or becomes a new one,
    /// candidates and news are recorded, and (with `skip_duplicates`) exact duplicates are left
    /// out (their `person_id` is None). Cards of the batch are compared with each other too.
    pub async fn place(
        &mut self,
        c: &impl store::Conn,
        arrivals: &[Arrival],
        skip_duplicates: bool,
        now: DateTime<Utc>,
    ) -> Result<Vec<Placed>> {
        let cards: Vec<PersonCard> = arrivals
            .iter()
            .map(|a| {
                PersonCard::new(
                    a.card_id.clone(),
                    0,
                    a.owner_id.clone(),
                    a.fields.clone(),
                    Recency::of(a.fields.exchanged_on, a.created_at),
                )
            })
            .collect();
        let keys: Vec<Vec<person::LookupKey>> = cards
            .iter()
            .map(|c| person::lookup_keys(&self.org_id, &c.keys))
            .collect();
        let keys: Vec<Vec<person::LookupKey>> = keys
            .into_iter()
            .map(|ks| {
                ks.into_iter()
                    .filter(|k| k.strong || !self.common.contains(&k.hash))
                    .collect()
            })
            .collect();
        let mut hashes: Vec<i64> = keys.iter().flatten().map(|k| k.hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        let mut stored: HashMap<i64, Vec<i64>> = HashMap::new();
        for (k, p) in st::people_for_keys(c, &hashes).await? {
            stored.entry(k).or_default().push(p);
        }
        for k in keys.iter().flatten() {
            if !k.strong && stored.get(&k.hash).is_some_and(|p| p.len() >= CANDIDATE_CAP) {
                self.common.insert(k.hash);
            }
        }
        // The people worth loading: those of strong keys, and of candidate keys not too common.
        let mut wanted: HashSet<i64> = HashSet::new();
        for k in keys.iter().flatten() {
            if let Some(people) = stored.get(&k.hash)
                && (k.strong || people.len() < CANDIDATE_CAP)
            {
                wanted.extend(people);
            }
        }
        let wanted: Vec<i64> = wanted.into_iter().collect();
        let mut known: HashMap<i64, Vec<PersonCard>> = HashMap::new();
        let mut seen: HashSet<String> = HashSet::new();
        for pc in st::cards_of_people(c, &self.org_id, &wanted).await? {
            seen.insert(pc.card_id.clone());
            known.entry(pc.person_id).or_default().push(pc);
        }
        for pc in self.recent.iter().flatten() {
            if wanted.contains(&pc.person_id) && seen.insert(pc.card_id.clone()) {
                known.entry(pc.person_id).or_default().push(pc.clone());
            }
        }

        let mut added: HashMap<i64, Vec<i64>> = HashMap::new(); // keys of this batch's people
        let mut new_keys = Vec::new();
        let mut candidates = Vec::new();
        let mut news: Vec<NewsFor> = Vec::new();
        // Enough new ids for every card of the batch to be a new person (unused ones are gaps).
        let mut fresh = st::new_person_ids(c, arrivals.len()).await?.into_iter();
        let mut placed_cards = Vec::with_capacity(arrivals.len());
        let mut out = Vec::with_capacity(arrivals.len());
        for ((a, mut card), ks) in arrivals.iter().zip(cards).zip(&keys) {
            let holders = |k: &person::LookupKey, added: &HashMap<i64, Vec<i64>>| -> (usize, Vec<i64>) {
                let s = stored.get(&k.hash).map(Vec::as_slice).unwrap_or_default();
                let l = added.get(&k.hash).map(Vec::as_slice).unwrap_or_default();
                (s.len() + l.len(), s.iter().chain(l).copied().collect())
            };
            let mut people: Vec<i64> = Vec::new();
            for k in ks {
                let (n, holders) = holders(k, &added);
                if k.strong || n < CANDIDATE_CAP {
                    people.extend(holders);
                }
            }
            people.sort_unstable();
            people.dedup();
            let compared: Vec<PersonCard> = people.iter().filter_map(|p| known.get(p)).flatten().cloned().collect();
            let p = person::place(&card, &compared);
            if skip_duplicates && p.duplicate_of.is_some() {
                out.push(Placed {
                    person_id: None,
                    duplicate_of: p.duplicate_of,
                });
                continue;
            }
            let person_id = match p.person_id {
                Some(p) => p,
                None => fresh.next().ok_or_else(|| Error::internal("out of new person ids"))?,
            };
            for k in ks {
                let (n, holders) = holders(k, &added);
                if !holders.contains(&person_id) && (k.strong || n < CANDIDATE_CAP) {
                    new_keys.push((k.hash, person_id));
                    added.entry(k.hash).or_default().push(person_id);
                }
            }
            for (other, other_card, reason) in p.candidates {
                candidates.push(st::NewCandidate {
                    person_id,
                    other_person_id: other,
                    card_id: a.card_id.clone(),
                    other_card_id: other_card,
                    reason,
                });
            }
            if self.news {
                news.extend(p.news);
            }
            card.person_id = person_id;
            known.entry(person_id).or_default().push(card.clone());
            placed_cards.push(card);
            out.push(Placed {
                person_id: Some(person_id),
                duplicate_of: p.duplicate_of,
            });
        }
        st::add_keys(c, &new_keys).await?;
        st::add_candidates(c, &self.org_id, candidates, now).await?;
        st::add_news(c, &self.org_id, news, now).await?;
        self.recent.push_back(placed_cards);
        if self.recent.len() > RECENT_BATCHES {
            self.recent.pop_front();
        }
        Ok(out)
    }
}

/// Cards per page when placing cards that have no person (a database from before same-person
/// matching, or an import that ran with matching off).
const UNPLACED_PAGE: u64 = 5000;

/// Places cards that have no person yet, organisation by organisation, without news (nothing arrived: the
/// cards were there), at most `pages` pages; a page per unit of work. The scheduler runs it
/// at every tick. A card placed meanwhile by another server is left as that server placed it.
pub async fn place_unplaced(app: &App, org_ids: &[String], pages: u64) -> Result<u64> {
    let mut placed = 0;
    let mut budget = pages;
    for org_id in org_ids {
        if !st::has_unplaced(app.read(), org_id).await? {
            continue;
        }
        let actor = Actor::system(org_id);
        let mut placer = Placer::new(org_id, false);
        while budget > 0 {
            budget -= 1;
            let n = app
                .write(&actor, async |tx, who| {
                    let cards = st::unplaced_cards(tx, org_id, UNPLACED_PAGE).await?;
                    let arrivals: Vec<Arrival> = cards
                        .into_iter()
                        .map(|pc| Arrival {
                            card_id: pc.card_id,
                            owner_id: pc.owner_id,
                            created_at: DateTime::from_timestamp_micros(pc.recency.created_at).unwrap_or_default(),
                            fields: pc.fields,
                        })
                        .collect();
                    let done = placer.place(tx, &arrivals, false, who.at).await?;
                    let pairs: Vec<(String, i64)> = arrivals
                        .iter()
                        .zip(&done)
                        .filter_map(|(a, p)| p.person_id.map(|id| (a.card_id.clone(), id)))
                        .collect();
                    st::place_cards(tx, org_id, &pairs).await?;
                    Ok(pairs.len() as u64)
                })
                .await?;
            placed += n;
            if n < UNPLACED_PAGE {
                break;
            }
        }
    }
    Ok(placed)
}

/// After a card's fields changed, its person is found by its new values too (the old keys
/// stay: a key only ever points at people to compare with).
pub(crate) async fn keys_changed(c: &impl store::Conn, org_id: &str, card: &Card) -> Result<()> {
    let Some(person) = card.person_id.as_deref().and_then(|p| p.parse::<i64>().ok()) else {
        return Ok(());
    };
    let fields = card_fields(card);
    let pairs: Vec<(i64, i64)> = person::lookup_keys(org_id, &PersonKeys::of(&fields))
        .into_iter()
        .filter(|k| k.strong)
        .map(|k| (k.hash, person))
        .collect();
    st::add_keys(c, &pairs).await
}

pub(crate) fn card_fields(c: &Card) -> CardFields {
    CardFields {
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
        exchanged_on: c.exchanged_on,
    }
}

// --- history ---

/// Why a card's fields changed.
pub const BY_EDIT: &str = "edit";
pub const BY_NEWS: &str = "news";

/// A card's values that are not its fields (who holds it, its tags, its person, its times).
const NOT_FIELDS: [&str; 8] = [
    "id",
    "owner_id",
    "tag_ids",
    "extra",
    "person_id",
    "created_at",
    "updated_at",
    "last_transfer_id",
];

/// The fields that differ between two versions of a card: (before, after), as JSON objects.
fn changed(before: &Card, after: &Card) -> Option<(serde_json::Value, serde_json::Value)> {
    let (serde_json::Value::Object(b), serde_json::Value::Object(a)) = (snap(before)?, snap(after)?) else {
        return None;
    };
    let mut old = serde_json::Map::new();
    let mut new = serde_json::Map::new();
    for (field, was) in b {
        let now = a.get(&field).cloned().unwrap_or_default();
        if !NOT_FIELDS.contains(&field.as_str()) && was != now {
            old.insert(field.clone(), was);
            new.insert(field, now);
        }
    }
    (!old.is_empty()).then_some((old.into(), new.into()))
}

/// Keeps the previous values of a change of a card (nothing when nothing changed).
pub(crate) async fn record_change(
    tx: &store::Tx,
    who: Who<'_>,
    before: &Card,
    after: &Card,
    reason: &str,
) -> Result<()> {
    let Some((old, new)) = changed(before, after) else {
        return Ok(());
    };
    let row = st::HistoryRow {
        id: store::new_id(),
        card_id: before.id.clone(),
        actor_id: who.actor_id.map(str::to_string),
        reason: reason.to_string(),
        before: old,
        after: new,
        at: who.at,
    };
    st::add_history(tx, who.org_id, &[row]).await
}

/// One change of a card: who, when, why (`edit`, `news`), the changed fields before and after.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HistoryEntry {
    pub id: String,
    pub card_id: String,
    pub actor_id: Option<String>,
    pub reason: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    pub at: DateTime<Utc>,
}

fn entry(h: st::HistoryRow) -> HistoryEntry {
    HistoryEntry {
        id: h.id,
        card_id: h.card_id,
        actor_id: h.actor_id,
        reason: h.reason,
        before: h.before,
        after: h.after,
        at: h.at,
    }
}

/// A card's changes, oldest first (everyone in the organisation may read cards).
pub async fn history(app: &App, actor: &Actor, card_id: &str) -> Result<Vec<HistoryEntry>> {
    let c = app.read();
    card_in_org(c, actor, card_id).await?;
    Ok(st::history_of(c, &actor.org_id, &[card_id.to_string()])
        .await?
        .into_iter()
        .map(entry)
        .collect())
}

async fn card_in_org(c: &impl store::Conn, actor: &Actor, id: &str) -> Result<Card> {
    st_cards::get_card(c, &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("card"))
}

// --- the person of a card ---

/// A card of the person, with who holds it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HeldCard {
    pub card: Card,
    pub owner_name: String,
    /// Whether its owner can still be reached (active, not the archive account).
    pub owner_active: bool,
}

/// Another person this one may be, for someone to confirm or reject.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Candidate {
    pub id: String,
    pub reason: CandidateReason,
    /// A card of the other person.
    pub card: HeldCard,
}

/// The person a card is of: every card of theirs in the organisation (any owner), the open
/// candidates, and their career (経歴) over all their cards and their history.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct PersonView {
    pub person_id: Option<String>,
    pub cards: Vec<HeldCard>,
    pub candidates: Vec<Candidate>,
    pub career: Vec<CareerStep>,
}

async fn held(c: &impl store::Conn, org_id: &str, cards: Vec<Card>) -> Result<Vec<HeldCard>> {
    let mut names: HashMap<String, (String, bool)> = HashMap::new();
    let mut out = Vec::with_capacity(cards.len());
    for card in cards {
        if !names.contains_key(&card.owner_id) {
            let owner = users::by_id(c, org_id, &card.owner_id).await?;
            let v = owner.map_or((String::new(), false), |o| {
                let active = o.user.status == crate::domain::UserStatus::Active && !o.user.is_archive;
                (o.user.display_name, active)
            });
            names.insert(card.owner_id.clone(), v);
        }
        let (owner_name, owner_active) = names[&card.owner_id].clone();
        out.push(HeldCard {
            card,
            owner_name,
            owner_active,
        });
    }
    Ok(out)
}

fn person_of(card: &Card) -> Option<i64> {
    card.person_id.as_deref().and_then(|p| p.parse().ok())
}

async fn cards_of_person(c: &impl store::Conn, org_id: &str, person: i64) -> Result<Vec<Card>> {
    let ids: Vec<String> = st::cards_of_people(c, org_id, &[person])
        .await?
        .into_iter()
        .map(|pc| pc.card_id)
        .collect();
    st_cards::cards_by_ids(c, org_id, &ids).await
}

pub async fn person(app: &App, actor: &Actor, card_id: &str) -> Result<PersonView> {
    let c = app.read();
    let card = card_in_org(c, actor, card_id).await?;
    let Some(person) = person_of(&card) else {
        let career = career_of(c, &actor.org_id, std::slice::from_ref(&card)).await?;
        return Ok(PersonView {
            person_id: None,
            cards: held(c, &actor.org_id, super::cards::shown(c, actor, vec![card]).await?).await?,
            candidates: Vec::new(),
            career,
        });
    };
    let mut cards = cards_of_person(c, &actor.org_id, person).await?;
    // Newest first (the exchange date, then the creation).
    cards.sort_by_key(|k| std::cmp::Reverse(Recency::of(k.exchanged_on, k.created_at)));
    let career = career_of(c, &actor.org_id, &cards).await?;
    let mut candidates = Vec::new();
    for row in st::open_candidates_of(c, &actor.org_id, person).await? {
        let other_card = if row.person_id == person {
            &row.other_card_id
        } else {
            &row.card_id
        };
        // The card that raised it may be gone; any card of the other person stands for them.
        let other_person = if row.person_id == person {
            row.other_person_id
        } else {
            row.person_id
        };
        let shown = match st_cards::get_card(c, &actor.org_id, other_card).await? {
            Some(k) => Some(k),
            None => cards_of_person(c, &actor.org_id, other_person)
                .await?
                .into_iter()
                .next(),
        };
        if let Some(k) = shown {
            let k = super::cards::shown(c, actor, vec![k]).await?;
            let card = held(c, &actor.org_id, k).await?.remove(0);
            candidates.push(Candidate {
                id: row.id,
                reason: row.reason,
                card,
            });
        }
    }
    Ok(PersonView {
        person_id: Some(person.to_string()),
        cards: held(c, &actor.org_id, super::cards::shown(c, actor, cards).await?).await?,
        candidates,
        career,
    })
}

/// The career over these cards: each card's values as first known (its exchange date or
/// creation), and each change of company, department or title after it.
async fn career_of(c: &impl store::Conn, org_id: &str, cards: &[Card]) -> Result<Vec<CareerStep>> {
    let ids: Vec<String> = cards.iter().map(|k| k.id.clone()).collect();
    let mut changes: HashMap<String, Vec<st::HistoryRow>> = HashMap::new();
    for h in st::history_of(c, org_id, &ids).await? {
        changes.entry(h.card_id.clone()).or_default().push(h);
    }
    let mut seen = Vec::new();
    for k in cards {
        let step = |since: NaiveDate, co: &str, dept: &str, title: &str| CareerStep {
            since,
            company: co.to_string(),
            department: dept.to_string(),
            title: title.to_string(),
        };
        let field = |v: &serde_json::Value, f: &str| v.get(f).and_then(|x| x.as_str()).map(str::to_string);
        let set = |cur: &mut (String, String, String), v: &serde_json::Value| {
            for (f, to) in [
                ("company", &mut cur.0),
                ("department", &mut cur.1),
                ("title", &mut cur.2),
            ] {
                if let Some(s) = field(v, f) {
                    *to = s;
                }
            }
        };
        let changes: Vec<&st::HistoryRow> = changes.get(&k.id).into_iter().flatten().collect();
        // The card as it was first: its current values with every change undone, newest first.
        let mut cur = (k.company.clone(), k.department.clone(), k.title.clone());
        for h in changes.iter().rev() {
            set(&mut cur, &h.before);
        }
        seen.push(step(
            Recency::of(k.exchanged_on, k.created_at).day,
            &cur.0,
            &cur.1,
            &cur.2,
        ));
        // Then each change, in the order it was made (a stable sort keeps same-day ones so).
        for h in changes {
            set(&mut cur, &h.after);
            seen.push(step(h.at.date_naive(), &cur.0, &cur.1, &cur.2));
        }
    }
    Ok(person::career(seen))
}

/// Who may decide about a card's person: an administrator or the card's owner.
fn may_decide(actor: &Actor, card: &Card) -> Result<()> {
    if actor.is_admin() || card.owner_id == actor.user_id {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only the card's owner or an administrator may decide who its person is",
        ))
    }
}

/// Takes a card out of its person (a wrong match): it becomes a person of its own, and the
/// decision that the two are not one is kept (no candidate between them is raised again).
pub async fn split(app: &App, actor: &Actor, card_id: &str) -> Result<PersonView> {
    app.write(actor, async |tx, who| {
        let card = card_in_org(tx, actor, card_id).await?;
        may_decide(actor, &card)?;
        let Some(old) = person_of(&card) else {
            return Err(Error::unprocessable("this card has no person yet"));
        };
        let others: Vec<PersonCard> = st::cards_of_people(tx, &actor.org_id, &[old])
            .await?
            .into_iter()
            .filter(|k| k.card_id != card.id)
            .collect();
        let Some(stays) = others.first() else {
            return Err(Error::unprocessable(
                "this card is the only card of its person: nothing to split",
            ));
        };
        let new = st::new_person_ids(tx, 1).await?[0];
        st::set_people(tx, &actor.org_id, &[(card.id.clone(), new)]).await?;
        let pairs: Vec<(i64, i64)> = person::lookup_keys(&actor.org_id, &PersonKeys::of(&card_fields(&card)))
            .into_iter()
            .map(|k| (k.hash, new))
            .collect();
        st::add_keys(tx, &pairs).await?;
        st::record_apart(
            tx,
            &actor.org_id,
            (new, card.id.clone()),
            (old, stays.card_id.clone()),
            who.actor_id,
            who.at,
        )
        .await?;
        let detail =
            serde_json::json!({"card_id": card.id, "from_person": old.to_string(), "to_person": new.to_string()});
        audit(tx, who, "person.split", ("card", &card.id), None, Some(detail)).await?;
        Ok(())
    })
    .await?;
    person(app, actor, card_id).await
}

/// Decides a candidate: confirming makes the two people one (the other person's cards join
/// this card's person); rejecting keeps them apart for good. Either way it is audited.
pub async fn decide(app: &App, actor: &Actor, candidate_id: &str, confirm: bool) -> Result<()> {
    app.write(actor, async |tx, who| {
        let row = st::get_candidate(tx, &actor.org_id, candidate_id)
            .await?
            .ok_or_else(|| Error::not_found("candidate"))?;
        if row.status != "open" {
            return Err(Error::conflict(format!("this candidate was already {}", row.status)));
        }
        // An administrator, or the owner of a card of either person.
        let mut allowed = actor.is_admin();
        if !allowed {
            for p in [row.person_id, row.other_person_id] {
                allowed |= st::cards_of_people(tx, &actor.org_id, &[p])
                    .await?
                    .iter()
                    .any(|k| k.owner_id == actor.user_id);
            }
        }
        if !allowed {
            return Err(Error::forbidden(
                "only an administrator or the owner of one of the cards may decide",
            ));
        }
        let status = if confirm { "confirmed" } else { "rejected" };
        if !st::decide_candidate(tx, &actor.org_id, candidate_id, status, who.actor_id, who.at).await? {
            return Err(Error::conflict("this candidate was decided meanwhile"));
        }
        let detail = serde_json::json!({
            "person_id": row.person_id.to_string(), "other_person_id": row.other_person_id.to_string(),
            "card_id": row.card_id, "other_card_id": row.other_card_id, "reason": row.reason,
        });
        if confirm {
            let (into, from) = (row.person_id, row.other_person_id);
            let moved = st::cards_of_people(tx, &actor.org_id, &[from]).await?;
            st::merge_people(tx, &actor.org_id, from, into).await?;
            let pairs: Vec<(i64, i64)> = moved
                .iter()
                .flat_map(|k| person::lookup_keys(&actor.org_id, &PersonKeys::of(&k.fields)))
                .map(|k| (k.hash, into))
                .collect();
            st::add_keys(tx, &pairs).await?;
            st::repoint_candidates(tx, &actor.org_id, from, into).await?;
            audit(
                tx,
                who,
                "person.merge",
                ("person_candidate", candidate_id),
                None,
                Some(detail),
            )
            .await?;
        } else {
            audit(
                tx,
                who,
                "person.keep_apart",
                ("person_candidate", candidate_id),
                None,
                Some(detail),
            )
            .await?;
        }
        Ok(())
    })
    .await
}

// --- news ---

/// A news item: a newer card of the same person says this card's person changed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct News {
    pub id: String,
    pub card_id: String,
    /// The card's owner (who is told).
    pub owner_id: String,
    /// 人事異動 (`personnel`) or 連絡先変更 (`contact`).
    pub kind: NewsKind,
    pub status: NewsStatus,
    /// The card's name and current values of the fields the news is about.
    pub full_name: String,
    pub current: NewsValues,
    /// The newest values (what applying copies onto the card).
    pub values: NewsValues,
    /// The newer card the values come from.
    pub source_card_id: String,
    /// How many arrivals folded into this item (同じ人物のニュースが複数ある場合).
    pub arrivals: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub decided_by: Option<String>,
    pub decided_at: Option<DateTime<Utc>>,
}

fn news_view(r: st::NewsRow) -> News {
    let f = &r.card;
    let cur = |v: &Option<String>, now: &str| v.as_ref().map(|_| now.to_string());
    let current = NewsValues {
        company: cur(&r.values.company, &f.company),
        department: cur(&r.values.department, &f.department),
        title: cur(&r.values.title, &f.title),
        email: cur(&r.values.email, &f.email),
        phone: cur(&r.values.phone, &f.phone),
        mobile: cur(&r.values.mobile, &f.mobile),
        postal_code: cur(&r.values.postal_code, &f.postal_code),
        address: cur(&r.values.address, &f.address),
    };
    News {
        id: r.id,
        card_id: r.card_id,
        owner_id: r.owner_id,
        kind: r.kind,
        status: r.status,
        full_name: r.card.full_name.clone(),
        current,
        values: r.values,
        source_card_id: r.source_card_id,
        arrivals: r.arrivals,
        created_at: r.created_at,
        updated_at: r.updated_at,
        decided_by: r.decided_by,
        decided_at: r.decided_at,
    }
}

/// Which news to list: the caller's own cards unless an administrator names a user or a card;
/// open items unless a status (or `all`) is given.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct NewsQuery {
    pub owner_id: Option<String>,
    pub card_id: Option<String>,
    pub kind: Option<String>,
    /// open (default), applied, dismissed or all
    pub status: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u64>,
}

pub async fn list_news(app: &App, actor: &Actor, q: NewsQuery) -> Result<Page<News>> {
    let limit = page_limit(q.limit)?;
    let after = store::parse_cursor(q.cursor.as_deref())?;
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_string)
    };
    let (owner_id, card_id) = (given(&q.owner_id), given(&q.card_id));
    if !actor.is_admin() && owner_id.as_deref().is_some_and(|o| o != actor.user_id) {
        return Err(Error::forbidden("members see the news of their own cards only").with_field("owner_id"));
    }
    // Admins naming a card or a user see theirs; everyone else sees their own cards'.
    let owner_id = if actor.is_admin() && (owner_id.is_some() || card_id.is_some()) {
        owner_id
    } else {
        Some(actor.user_id.clone())
    };
    let kind = given(&q.kind).map(|k| NewsKind::parse("kind", &k)).transpose()?;
    let status = match given(&q.status).as_deref() {
        None => Some(NewsStatus::Open),
        Some("all") => None,
        Some(s) => Some(NewsStatus::parse("status", s)?),
    };
    let rows = st::list_news(
        app.read(),
        &actor.org_id,
        st::NewsFilter {
            owner_id,
            card_id,
            kind,
            status,
            after,
        },
        limit + 1,
    )
    .await?;
    let page = paginate(rows, limit, |r| r.id.clone());
    Ok(Page {
        items: page.items.into_iter().map(news_view).collect(),
        next_cursor: page.next_cursor,
    })
}

/// Open news on the caller's cards (the console's header).
pub async fn open_count(app: &App, actor: &Actor) -> Result<i64> {
    st::count_open_news_of_owner(app.read(), &actor.org_id, &actor.user_id).await
}

/// What to do with a news item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NewsAction {
    /// Copy the new values onto the card (its previous values go to the card's history).
    Apply,
    Dismiss,
}

impl NewsAction {
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        match raw.trim() {
            "apply" => Ok(Self::Apply),
            "dismiss" => Ok(Self::Dismiss),
            other => Err(Error::bad_input(
                field,
                format!("'{other}' is not one of: apply, dismiss"),
            )),
        }
    }
}

/// Applies or dismisses one open item, in the caller's unit of work.
async fn settle_news(tx: &store::Tx, actor: &Actor, who: Who<'_>, id: &str, action: NewsAction) -> Result<News> {
    let row = st::get_news(tx, &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("news"))?;
    if !actor.is_admin() && row.owner_id != actor.user_id {
        return Err(Error::not_found("news"));
    }
    if row.status != NewsStatus::Open {
        return Err(Error::conflict(format!(
            "this news was already {}",
            row.status.as_str()
        )));
    }
    let status = match action {
        NewsAction::Apply => {
            let before = card_in_org(tx, actor, &row.card_id).await?;
            let fields = CardFields::parse(row.values.applied_to(&card_fields(&before)))?;
            st_cards::update_card(tx, &actor.org_id, &before.id, fields, who.at).await?;
            let after = card_in_org(tx, actor, &row.card_id).await?;
            record_change(tx, who, &before, &after, BY_NEWS).await?;
            keys_changed(tx, &actor.org_id, &after).await?;
            NewsStatus::Applied
        }
        NewsAction::Dismiss => NewsStatus::Dismissed,
    };
    if !st::close_news(tx, &actor.org_id, id, status, who.actor_id, who.at).await? {
        return Err(Error::conflict("this news was settled meanwhile"));
    }
    let done = st::get_news(tx, &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::internal("news vanished"))?;
    let action_name = match action {
        NewsAction::Apply => "news.apply",
        NewsAction::Dismiss => "news.dismiss",
    };
    let view = news_view(done);
    audit(tx, who, action_name, ("news", id), None, snap(&view)).await?;
    Ok(view)
}

pub async fn act_on_news(app: &App, actor: &Actor, id: &str, action: NewsAction) -> Result<News> {
    app.write(actor, async |tx, who| settle_news(tx, actor, who, id, action).await)
        .await
}

/// At most this many items in one bulk action.
pub const MAX_BULK_NEWS: usize = 1000;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkNews {
    pub action: NewsAction,
    #[schema(min_items = 1)]
    pub ids: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BulkNewsResult {
    pub action: NewsAction,
    pub done: u64,
}

/// Applies or dismisses several items at once: all or none (one unit of work; the first item
/// that cannot be settled is the error, naming it).
pub async fn bulk_news(app: &App, actor: &Actor, b: BulkNews) -> Result<BulkNewsResult> {
    if b.ids.is_empty() {
        return Err(Error::bad_input("ids", "name at least one news item"));
    }
    if b.ids.len() > MAX_BULK_NEWS {
        return Err(Error::bad_input(
            "ids",
            format!("at most {MAX_BULK_NEWS} news items at once"),
        ));
    }
    let mut ids = b.ids.clone();
    ids.sort();
    ids.dedup();
    app.write(actor, async |tx, who| {
        for id in &ids {
            settle_news(tx, actor, who, id, b.action).await.map_err(|e| {
                Error {
                    message: format!("news {id}: {}", e.message),
                    ..e
                }
                .with_field("ids")
            })?;
        }
        Ok(BulkNewsResult {
            action: b.action,
            done: ids.len() as u64,
        })
    })
    .await
}
