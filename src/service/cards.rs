//! Cards, contacts and tags. Everyone in the organisation reads cards (they are company
//! assets); the owner and admins change them. Tags are personal (seen by their creator) or
//! shared (seen by all).

use super::{Actor, App, audit, page_limit, paginate, people, snap};
use crate::domain::model::{Card, CardTag, Contact, Page, Tag};
use crate::domain::{CardFields, ContactKind, Error, Result, UserStatus, date, optional_text, required_text};
use crate::store::{self, cards as st, users};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer};
use utoipa::ToSchema;

/// Distinguishes "absent" (None) from "null" (Some(None)) in a PATCH body.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCard {
    /// The owner; the caller unless given (admins only may give another user).
    pub owner_id: Option<String>,
    #[serde(default)]
    pub full_name: String,
    #[serde(default)]
    pub name_reading: String,
    #[serde(default)]
    pub company: String,
    #[serde(default)]
    pub department: String,
    #[serde(default)]
    pub title: String,
    #[serde(default)]
    pub email: String,
    #[serde(default)]
    pub phone: String,
    #[serde(default)]
    pub mobile: String,
    #[serde(default)]
    pub fax: String,
    #[serde(default)]
    pub postal_code: String,
    #[serde(default)]
    pub address: String,
    #[serde(default)]
    pub url: String,
    /// YYYY-MM-DD
    pub exchanged_on: Option<String>,
}

/// Fields to change; absent fields stay as they are. `exchanged_on: null` clears the date.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CardPatch {
    pub full_name: Option<String>,
    pub name_reading: Option<String>,
    pub company: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub mobile: Option<String>,
    pub fax: Option<String>,
    pub postal_code: Option<String>,
    pub address: Option<String>,
    pub url: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    pub exchanged_on: Option<Option<String>>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewContact {
    pub kind: ContactKind,
    /// When it happened (RFC 3339); now unless given.
    pub occurred_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub body: String,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTag {
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// Shared tags are visible to the whole organisation; personal ones (default) to you.
    #[serde(default)]
    pub shared: bool,
}

fn may_change(actor: &Actor, card: &Card) -> Result<()> {
    if actor.is_admin() || card.owner_id == actor.user_id {
        Ok(())
    } else {
        Err(Error::forbidden(
            "only the card's owner or an administrator may change it",
        ))
    }
}

async fn card_in_org(c: &impl store::Conn, actor: &Actor, id: &str) -> Result<Card> {
    st::get_card(c, &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("card"))
}

fn parse_date(field: &str, raw: Option<&str>) -> Result<Option<chrono::NaiveDate>> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) => date(field, s).map(Some),
    }
}

pub fn fields_of(n: &NewCard) -> Result<CardFields> {
    CardFields::parse(CardFields {
        full_name: n.full_name.clone(),
        name_reading: n.name_reading.clone(),
        company: n.company.clone(),
        department: n.department.clone(),
        title: n.title.clone(),
        email: n.email.clone(),
        phone: n.phone.clone(),
        mobile: n.mobile.clone(),
        fax: n.fax.clone(),
        postal_code: n.postal_code.clone(),
        address: n.address.clone(),
        url: n.url.clone(),
        exchanged_on: parse_date("exchanged_on", n.exchanged_on.as_deref())?,
    })
}

/// The owner a new card may be given: the caller, or for admins any active user.
async fn owner_for(c: &impl store::Conn, actor: &Actor, owner_id: Option<&str>) -> Result<String> {
    let Some(owner_id) = owner_id.filter(|o| *o != actor.user_id) else {
        return Ok(actor.user_id.clone());
    };
    if !actor.is_admin() {
        return Err(Error::forbidden("members register cards for themselves only").with_field("owner_id"));
    }
    let owner = users::by_id(c, &actor.org_id, owner_id).await?.ok_or_else(|| {
        Error::unprocessable(format!("no user {owner_id} in this organisation")).with_field("owner_id")
    })?;
    if owner.user.status != UserStatus::Active || owner.user.is_archive {
        return Err(Error::unprocessable("cards can only be registered for active users").with_field("owner_id"));
    }
    Ok(owner.user.id)
}

pub async fn create(app: &App, actor: &Actor, n: NewCard) -> Result<Card> {
    let fields = fields_of(&n)?;
    app.write(actor, async |tx, who| {
        let owner_id = owner_for(tx, actor, n.owner_id.as_deref()).await?;
        let id = store::new_id();
        let arrival = people::Arrival {
            card_id: id.clone(),
            owner_id: owner_id.clone(),
            fields: fields.clone(),
            created_at: who.at,
        };
        let placed = people::Placer::new(&actor.org_id, true)
            .place(tx, &[arrival], false, who.at)
            .await?;
        st::insert_cards(
            tx,
            &actor.org_id,
            vec![st::NewCard {
                id: id.clone(),
                owner_id,
                fields,
                person_id: placed[0].person_id,
            }],
            who.at,
        )
        .await?;
        let card = card_in_org(tx, actor, &id).await?;
        audit(tx, who, "card.create", ("card", &id), None, snap(&card)).await?;
        Ok(card)
    })
    .await
}

pub async fn get(app: &App, actor: &Actor, id: &str) -> Result<Card> {
    let c = app.read();
    shown_one(c, actor, card_in_org(c, actor, id).await?).await
}

/// The order of a card listing. The API lists by id; the console by exchange date unless asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CardSort {
    #[default]
    Id,
    /// 名刺交換日: newest first, cards without a date last.
    Exchanged,
    /// 会社名: the normalised company name.
    Company,
    /// 氏名: the reading (hiragana and katakana alike), else the name.
    Name,
}

impl CardSort {
    pub fn parse(field: &str, raw: &str) -> Result<Self> {
        match raw.trim() {
            "id" => Ok(CardSort::Id),
            "exchanged" => Ok(CardSort::Exchanged),
            "company" => Ok(CardSort::Company),
            "name" => Ok(CardSort::Name),
            other => Err(Error::bad_input(
                field,
                format!("'{other}' is not one of: id, exchanged, company, name"),
            )),
        }
    }
    pub fn as_str(self) -> &'static str {
        match self {
            CardSort::Id => "id",
            CardSort::Exchanged => "exchanged",
            CardSort::Company => "company",
            CardSort::Name => "name",
        }
    }
    fn order(self) -> st::CardOrder {
        match self {
            CardSort::Id => st::CardOrder::Id,
            CardSort::Exchanged => st::CardOrder::ExchangedDesc,
            CardSort::Company => st::CardOrder::Company,
            CardSort::Name => st::CardOrder::Name,
        }
    }
}

#[derive(Default)]
pub struct CardQuery<'a> {
    pub owner_id: Option<&'a str>,
    pub tag_id: Option<&'a str>,
    pub company: Option<&'a str>,
    /// Free-text search.
    pub q: Option<&'a str>,
    pub sort: CardSort,
    pub cursor: Option<&'a str>,
    pub limit: Option<u64>,
}

fn filter_of(q: &CardQuery<'_>) -> st::CardFilter {
    let given = |v: Option<&str>| v.map(str::trim).filter(|v| !v.is_empty()).map(str::to_string);
    st::CardFilter {
        owner_id: given(q.owner_id),
        tag_id: given(q.tag_id),
        company: given(q.company),
        q: given(q.q),
    }
}

/// A page's cursor: the last card's id, then its sort key (none in id order, but for a keyword
/// search on SQLite, which pages by the index's rowid: store::search). The id is a
/// fixed-width UUID, so the key is whatever follows it.
const ID_WIDTH: usize = 36;

fn parse_cursor(cursor: Option<&str>) -> Result<Option<st::After>> {
    let Some(c) = cursor.filter(|c| !c.is_empty()) else {
        return Ok(None);
    };
    let bad = || Error::bad_input("cursor", "not a cursor returned by this listing");
    let (id, key) = (c.get(..ID_WIDTH).ok_or_else(bad)?, &c[ID_WIDTH..]);
    let id = store::parse_cursor(Some(id))?.ok_or_else(bad)?;
    Ok(Some(st::After {
        key: key.to_string(),
        id,
    }))
}

/// A tag filter names a tag the caller may see: another user's personal tag is no tag at all.
async fn check_tag_filter(app: &App, actor: &Actor, tag_id: Option<&str>) -> Result<()> {
    match tag_id.map(str::trim).filter(|t| !t.is_empty()) {
        Some(tag) => visible_tag(app.read(), actor, tag)
            .await
            .map(|_| ())
            .map_err(|e| e.with_field("tag_id")),
        None => Ok(()),
    }
}

/// One page of the cards that match every given filter, in the asked order.
pub async fn list(app: &App, actor: &Actor, q: CardQuery<'_>) -> Result<Page<Card>> {
    let limit = page_limit(q.limit)?;
    let after = parse_cursor(q.cursor)?;
    check_tag_filter(app, actor, q.tag_id).await?;
    let rows = st::list_cards(
        app.read(),
        &actor.org_id,
        filter_of(&q),
        q.sort.order(),
        after,
        limit + 1,
    )
    .await?;
    let page = paginate(rows, limit, |l| format!("{}{}", l.card.id, l.key));
    Ok(Page {
        items: page.items.into_iter().map(|l| visible(actor, l.card, l.tags)).collect(),
        next_cursor: page.next_cursor,
    })
}

/// How many cards match the query's filters (its order and cursor aside).
pub async fn count(app: &App, actor: &Actor, q: &CardQuery<'_>) -> Result<u64> {
    check_tag_filter(app, actor, q.tag_id).await?;
    st::count_cards(app.read(), &actor.org_id, filter_of(q)).await
}

/// The organisation's cards among `ids`; ids of no such card are left out.
pub async fn get_many(app: &App, actor: &Actor, ids: &[String]) -> Result<Vec<Card>> {
    if ids.len() > crate::domain::transfer::MAX_CARD_IDS {
        return Err(Error::bad_input("card_ids", "too many cards"));
    }
    let cards = st::cards_by_ids(app.read(), &actor.org_id, ids).await?;
    shown(app.read(), actor, cards).await
}

pub async fn update(app: &App, actor: &Actor, id: &str, p: CardPatch) -> Result<Card> {
    app.write(actor, async |tx, who| {
        let before = card_in_org(tx, actor, id).await?;
        may_change(actor, &before)?;
        let pick = |new: Option<String>, old: &str| new.unwrap_or_else(|| old.to_string());
        let exchanged_on = match p.exchanged_on {
            None => before.exchanged_on,
            Some(v) => parse_date("exchanged_on", v.as_deref())?,
        };
        let (full_name, company) = (pick(p.full_name, &before.full_name), pick(p.company, &before.company));
        // Without a name and a company the card would be nothing; whether a patch leaves it so
        // depends on what the card holds now, so it is 422 here (400 when creating).
        if full_name.trim().is_empty() && company.trim().is_empty() {
            return Err(Error::unprocessable("a card needs a name or a company").with_field("full_name"));
        }
        let fields = CardFields::parse(CardFields {
            full_name,
            name_reading: pick(p.name_reading, &before.name_reading),
            company,
            department: pick(p.department, &before.department),
            title: pick(p.title, &before.title),
            email: pick(p.email, &before.email),
            phone: pick(p.phone, &before.phone),
            mobile: pick(p.mobile, &before.mobile),
            fax: pick(p.fax, &before.fax),
            postal_code: pick(p.postal_code, &before.postal_code),
            address: pick(p.address, &before.address),
            url: pick(p.url, &before.url),
            exchanged_on,
        })?;
        st::update_card(tx, &actor.org_id, id, fields, who.at).await?;
        let after = card_in_org(tx, actor, id).await?;
        people::record_change(tx, who, &before, &after, people::BY_EDIT).await?;
        people::keys_changed(tx, &actor.org_id, &after).await?;
        audit(tx, who, "card.update", ("card", id), snap(&before), snap(&after)).await?;
        shown_one(tx, actor, after).await
    })
    .await
}

/// Deletes a card with its contacts; the audit event keeps what was deleted.
pub async fn delete(app: &App, actor: &Actor, id: &str) -> Result<()> {
    app.write(actor, async |tx, who| {
        let card = card_in_org(tx, actor, id).await?;
        may_change(actor, &card)?;
        let contacts = st::count_contacts_of_card(tx, &actor.org_id, id).await?;
        st::delete_card(tx, &actor.org_id, id).await?;
        let mut before = snap(&card);
        if let Some(serde_json::Value::Object(m)) = &mut before {
            m.insert("contacts_deleted".into(), contacts.into());
        }
        audit(tx, who, "card.delete", ("card", id), before, None).await?;
        Ok(())
    })
    .await
}

// --- contacts ---

pub async fn add_contact(app: &App, actor: &Actor, card_id: &str, n: NewContact) -> Result<Contact> {
    let body = optional_text("body", &n.body, 10_000)?;
    app.write(actor, async |tx, who| {
        let card = card_in_org(tx, actor, card_id).await?;
        may_change(actor, &card)?;
        let id = store::new_id();
        let row = st::NewContact {
            id: id.clone(),
            card_id: card.id.clone(),
            author_id: actor.user_id.clone(),
            kind: n.kind,
            occurred_at: n.occurred_at.unwrap_or(who.at),
            body,
        };
        st::insert_contacts(tx, &actor.org_id, vec![row], who.at).await?;
        let contact = st::get_contact(tx, &actor.org_id, &id)
            .await?
            .ok_or_else(|| Error::internal("contact vanished"))?;
        audit(tx, who, "contact.create", ("contact", &id), None, snap(&contact)).await?;
        Ok(contact)
    })
    .await
}

pub async fn list_contacts(
    app: &App,
    actor: &Actor,
    card_id: &str,
    cursor: Option<&str>,
    limit: Option<u64>,
) -> Result<Page<Contact>> {
    let limit = page_limit(limit)?;
    let after = store::parse_cursor(cursor)?;
    let c = app.read();
    card_in_org(c, actor, card_id).await?;
    let items = st::list_contacts(c, &actor.org_id, card_id, after, limit + 1).await?;
    Ok(paginate(items, limit, |c| c.id.clone()))
}

// --- tags ---

pub async fn create_tag(app: &App, actor: &Actor, n: NewTag) -> Result<Tag> {
    let name = required_text("name", &n.name, 100)?;
    app.write(actor, async |tx, who| {
        if st::tag_by_name(tx, &actor.org_id, Some(&actor.user_id), &name)
            .await?
            .is_some()
        {
            return Err(Error::conflict(format!("you already have a tag named '{name}'")).with_field("name"));
        }
        let tag = Tag {
            id: store::new_id(),
            name,
            creator_id: Some(actor.user_id.clone()),
            shared: n.shared,
            created_at: who.at,
        };
        st::insert_tags(tx, &actor.org_id, std::slice::from_ref(&tag)).await?;
        audit(tx, who, "tag.create", ("tag", &tag.id), None, snap(&tag)).await?;
        Ok(tag)
    })
    .await
}

pub async fn list_tags(app: &App, actor: &Actor, cursor: Option<&str>, limit: Option<u64>) -> Result<Page<Tag>> {
    let limit = page_limit(limit)?;
    let after = store::parse_cursor(cursor)?;
    let items = st::list_tags(
        app.read(),
        &actor.org_id,
        &actor.user_id,
        actor.is_admin(),
        after,
        limit + 1,
    )
    .await?;
    Ok(paginate(items, limit, |t| t.id.clone()))
}

/// The id of the tag named `name` (`Tag::pick_named`: `owner`'s own, else the one shared tag).
pub async fn tag_named(app: &App, actor: &Actor, name: &str, owner: Option<&str>) -> Result<String> {
    let tags = st::tags_named(app.read(), &actor.org_id, name.trim()).await?;
    Ok(Tag::pick_named(&tags, owner, name)?.id.clone())
}

/// A tag the actor may see (`Tag::visible_to`). Others are "not found".
async fn visible_tag(c: &impl store::Conn, actor: &Actor, tag_id: &str) -> Result<Tag> {
    let tag = st::get_tag(c, &actor.org_id, tag_id)
        .await?
        .ok_or_else(|| Error::not_found("tag"))?;
    if tag.visible_to(&actor.user_id, actor.is_admin()) {
        Ok(tag)
    } else {
        Err(Error::not_found("tag"))
    }
}

/// Cards as the actor may see them, with their tags' names: the tags they may not see
/// (another user's personal ones, `Tag::visible_to`) are left out of `tags` and `tag_ids`.
/// One query for the tags of the whole page, whatever its size.
pub(crate) async fn shown(c: &impl store::Conn, actor: &Actor, cards: Vec<Card>) -> Result<Vec<Card>> {
    let mut ids: Vec<String> = cards.iter().flat_map(|k| k.tag_ids.iter().cloned()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(cards);
    }
    let tags: std::collections::HashMap<String, Tag> = st::tags_by_ids(c, &actor.org_id, &ids)
        .await?
        .into_iter()
        .map(|t| (t.id.clone(), t))
        .collect();
    Ok(cards
        .into_iter()
        .map(|k| {
            let on: Vec<Tag> = k.tag_ids.iter().filter_map(|t| tags.get(t).cloned()).collect();
            visible(actor, k, on)
        })
        .collect())
}

/// `card` with those of `tags` (every tag on it, in order) the actor may see.
pub(crate) fn visible(actor: &Actor, mut card: Card, tags: Vec<Tag>) -> Card {
    card.tags = tags
        .into_iter()
        .filter(|t| t.visible_to(&actor.user_id, actor.is_admin()))
        .map(|t| CardTag {
            id: t.id,
            name: t.name,
            shared: t.shared,
        })
        .collect();
    card.tag_ids = card.tags.iter().map(|t| t.id.clone()).collect();
    card
}

/// One card as the actor may see it (`shown`).
pub(crate) async fn shown_one(c: &impl store::Conn, actor: &Actor, card: Card) -> Result<Card> {
    Ok(shown(c, actor, vec![card]).await?.remove(0))
}

pub async fn attach_tag(app: &App, actor: &Actor, card_id: &str, tag_id: &str) -> Result<Card> {
    app.write(actor, async |tx, who| {
        let card = card_in_org(tx, actor, card_id).await?;
        may_change(actor, &card)?;
        visible_tag(tx, actor, tag_id).await?;
        if st::attach(tx, &actor.org_id, card_id, tag_id).await? {
            let link = serde_json::json!({"card_id": card_id, "tag_id": tag_id});
            audit(tx, who, "card.tag_attach", ("card", card_id), None, Some(link)).await?;
        }
        let card = card_in_org(tx, actor, card_id).await?;
        shown_one(tx, actor, card).await
    })
    .await
}

pub async fn detach_tag(app: &App, actor: &Actor, card_id: &str, tag_id: &str) -> Result<Card> {
    app.write(actor, async |tx, who| {
        let card = card_in_org(tx, actor, card_id).await?;
        may_change(actor, &card)?;
        visible_tag(tx, actor, tag_id).await?;
        if !st::detach(tx, &actor.org_id, card_id, tag_id).await? {
            return Err(Error::not_found("tag on this card"));
        }
        let link = serde_json::json!({"card_id": card_id, "tag_id": tag_id});
        audit(tx, who, "card.tag_detach", ("card", card_id), Some(link), None).await?;
        let card = card_in_org(tx, actor, card_id).await?;
        shown_one(tx, actor, card).await
    })
    .await
}
