//! Cards, their contacts, tags and the card↔tag links. Every function is scoped by
//! organisation; a row of another organisation is simply not found.

use super::entities::{card, card_tag, contact, tag};
use super::{Conn, date_from_text, date_to_text, from_micros, is_sqlite, search, to_micros};
use crate::domain::model::{Card, Contact, Tag};
use crate::domain::{CardFields, ContactKind, Result, normalize};
use chrono::{DateTime, Utc};
use sea_orm::sea_query::{Expr, ExprTrait, Query};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, EntityTrait, JoinType, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, Set,
};
use std::collections::HashMap;

/// Rows per multi-row INSERT: well under SQLite's 32,766 and PostgreSQL's 65,535 bind limits.
const CHUNK: usize = 1000;

fn card_view(m: card::Model, tag_ids: Vec<String>) -> Card {
    Card {
        exchanged_on: date_from_text(&m.exchanged_on),
        id: m.id,
        owner_id: m.owner_id,
        full_name: m.full_name,
        name_reading: m.name_reading,
        company: m.company,
        department: m.department,
        title: m.title,
        email: m.email,
        phone: m.phone,
        mobile: m.mobile,
        fax: m.fax,
        postal_code: m.postal_code,
        address: m.address,
        url: m.url,
        tag_ids,
        tags: Vec::new(),
        extra: m.extra.as_deref().and_then(|e| serde_json::from_str(e).ok()),
        person_id: m.person_id.map(|p| p.to_string()),
        created_at: from_micros(m.created_at),
        updated_at: from_micros(m.updated_at),
    }
}

pub struct NewCard {
    pub id: String,
    pub owner_id: String,
    pub fields: CardFields,
    /// The person it is of (`service::people`); None leaves it for `place_unplaced`.
    pub person_id: Option<i64>,
}

fn card_row(org_id: &str, c: NewCard, now: i64) -> card::ActiveModel {
    let f = c.fields;
    let name_key = normalize::card_name_key(&f);
    card::ActiveModel {
        id: Set(c.id),
        org_id: Set(org_id.into()),
        owner_id: Set(c.owner_id),
        company_key: Set(normalize::company(&f.company)),
        name_key: Set(name_key),
        exchanged_on: Set(date_to_text(f.exchanged_on)),
        full_name: Set(f.full_name),
        name_reading: Set(f.name_reading),
        company: Set(f.company),
        department: Set(f.department),
        title: Set(f.title),
        email: Set(f.email),
        phone: Set(f.phone),
        mobile: Set(f.mobile),
        fax: Set(f.fax),
        postal_code: Set(f.postal_code),
        address: Set(f.address),
        url: Set(f.url),
        last_transfer_id: Set(None),
        person_id: Set(c.person_id),
        created_at: Set(now),
        updated_at: Set(now),
        // Only imports set it (store::imports); a PATCH leaves it alone.
        extra: sea_orm::NotSet,
    }
}

/// Inserts many cards with multi-row statements (one per thousand cards), and their entries
/// in the keyword index.
pub async fn insert_cards(c: &impl Conn, org_id: &str, cards: Vec<NewCard>, now: DateTime<Utc>) -> Result<()> {
    let now = to_micros(now);
    let tokens: Vec<_> = cards
        .iter()
        .map(|n| (n.id.clone(), normalize::card_search_tokens(&n.fields)))
        .collect();
    let mut rows = cards.into_iter().map(|n| card_row(org_id, n, now)).peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        card::Entity::insert_many(chunk).exec(c).await?;
    }
    search::add(c, org_id, &tokens).await
}

pub async fn get_card(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Card>> {
    let Some(m) = card::Entity::find_by_id(id)
        .filter(card::Column::OrgId.eq(org_id))
        .one(c)
        .await?
    else {
        return Ok(None);
    };
    let tags = tag_ids_of(c, std::slice::from_ref(&m.id))
        .await?
        .remove(&m.id)
        .unwrap_or_default();
    Ok(Some(card_view(m, tags)))
}

async fn tag_ids_of(c: &impl Conn, card_ids: &[String]) -> Result<HashMap<String, Vec<String>>> {
    let mut out: HashMap<String, Vec<String>> = HashMap::new();
    if card_ids.is_empty() {
        return Ok(out);
    }
    let links = card_tag::Entity::find()
        .filter(card_tag::Column::CardId.is_in(card_ids.iter().cloned()))
        .order_by_asc(card_tag::Column::TagId)
        .all(c)
        .await?;
    for l in links {
        out.entry(l.card_id).or_default().push(l.tag_id);
    }
    Ok(out)
}

#[derive(Default)]
pub struct CardFilter {
    pub owner_id: Option<String>,
    pub tag_id: Option<String>,
    /// Matched on the normalised company name (株式会社X = (株)X = ｘ株式会社…).
    pub company: Option<String>,
    /// Free text, found as a substring of the name, its reading, company, department, title,
    /// email, phone or mobile, with hiragana = katakana and widths folded (`store::search`).
    pub q: Option<String>,
}

/// The order of a card listing; each pages by its own key and then the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CardOrder {
    /// Oldest id first (the API's order).
    #[default]
    Id,
    /// Newest exchange date first, cards without one last; then the newest id.
    ExchangedDesc,
    /// By the normalised company name (`company_key`), then id.
    Company,
    /// By the reading, else the name (`name_key`), then id.
    Name,
}

/// Where the previous page ended: its last card's sort key (empty for `CardOrder::Id`) and id.
pub struct After {
    pub key: String,
    pub id: String,
}

/// The organisation's cards that match every given filter at once.
fn filtered(c: &impl Conn, org_id: &str, f: CardFilter) -> sea_orm::Select<card::Entity> {
    let mut q = card::Entity::find();
    q = match f.tag_id {
        // A join, not `id IN (SELECT card_id …)`: SQLite builds that IN list (every card with
        // the tag) for each page; joined, a page in id order reads the tag's index from the
        // cursor on (`list_cards` orders by `card_tags.card_id`). At most one link per card and
        // tag (the primary key), so no card comes twice. The card's organisation is compared as
        // `org_id || ''`, the same test that no index answers: SQLite, without statistics, takes
        // `org_id = ?` for a few rows, reads the organisation's cards through `cards_org` and
        // sorts them all (1,000,000 cards: 0.5-1 s a page, BENCHMARKS.md P6).
        Some(t) => {
            let link = card_tag::Entity::belongs_to(card::Entity)
                .from(card_tag::Column::CardId)
                .to(card::Column::Id)
                .into();
            let org = Expr::cust(r#""cards"."org_id" || ''"#);
            q.join_rev(JoinType::InnerJoin, link)
                .filter(card_tag::Column::TagId.eq(t))
                .filter(card_tag::Column::OrgId.eq(org_id))
                .filter(org.eq(org_id))
        }
        None => q.filter(card::Column::OrgId.eq(org_id)),
    };
    if let Some(o) = f.owner_id {
        q = q.filter(card::Column::OwnerId.eq(o));
    }
    if let Some(co) = f.company {
        q = q.filter(card::Column::CompanyKey.eq(normalize::company(&co)));
    }
    if let Some(m) = f.q.and_then(|text| search::Query::new(c, &text)) {
        q = q.filter(m.condition(c, org_id));
    }
    q
}

/// A card of a page, with its sort key (`After::key` for the next page) and every tag on it
/// (the service keeps those the caller may see: `Tag::visible_to`).
pub struct Listed {
    pub card: Card,
    pub key: String,
    pub tags: Vec<Tag>,
}

/// A page of the cards that match `f`, in `order`, after `after`.
pub async fn list_cards(
    c: &impl Conn,
    org_id: &str,
    f: CardFilter,
    order: CardOrder,
    after: Option<After>,
    limit: u64,
) -> Result<Vec<Listed>> {
    if order == CardOrder::Id
        && let Some(m) = f.q.as_deref().and_then(|text| search::Query::new(c, text))
    {
        // The index's own order (store::search): the first page stops at its last match.
        let filters = search::Filters {
            owner_id: f.owner_id,
            company_key: f.company.map(|co| normalize::company(&co)),
            tag_id: f.tag_id,
        };
        let rows = search::page(c, org_id, &m, &filters, after.map(|a| (a.id, a.key)), limit).await?;
        let ids: Vec<String> = rows.iter().map(|(m, _)| m.id.clone()).collect();
        let mut tags = tags_of(c, &ids).await?;
        return Ok(rows
            .into_iter()
            .map(|(m, key)| {
                let tags = tags.remove(&m.id).unwrap_or_default();
                listed(m, key, tags)
            })
            .collect());
    }
    // In id order with a tag, the order and the cursor are the link's card id (the same
    // value), so that the planner walks the tag's index (`filtered`).
    let by_link = order == CardOrder::Id && f.tag_id.is_some();
    let tag_alone = by_link && f.owner_id.is_none() && f.company.is_none() && f.q.is_none();
    let (by_link, mut q) = match f.tag_id.clone() {
        // A tag alone: every link of it is a page's card (the link's organisation is the
        // card's), so the page is the tag's first `limit` links after the cursor, then their
        // cards by primary key. Joined instead, PostgreSQL merge-joined `cards_pkey` with the
        // links and read about 1,000 cards for a 5 % tag's first page (BENCHMARKS.md P6).
        // The card's organisation is tested as `org_id || ''`, which no index answers (see
        // `filtered`).
        Some(tag_id) if tag_alone => {
            let mut links = Query::select();
            links
                .column(card_tag::Column::CardId)
                .from(card_tag::Entity)
                .and_where(card_tag::Column::TagId.eq(tag_id))
                .and_where(card_tag::Column::OrgId.eq(org_id));
            if let Some(a) = &after {
                links.and_where(card_tag::Column::CardId.gt(a.id.clone()));
            }
            links
                .order_by(card_tag::Column::CardId, sea_orm::Order::Asc)
                .limit(limit);
            let org = Expr::cust(r#""cards"."org_id" || ''"#);
            let q = card::Entity::find()
                .filter(org.eq(org_id))
                .filter(card::Column::Id.in_subquery(links));
            (false, q)
        }
        _ => (by_link, filtered(c, org_id, f)),
    };
    // Cards without an exchange date sort as '' (after every date, newest first).
    let exchanged = || Expr::cust("COALESCE(exchanged_on, '')");
    let id = || {
        if by_link {
            Expr::col((card_tag::Entity, card_tag::Column::CardId))
        } else {
            Expr::col((card::Entity, card::Column::Id))
        }
    };
    if let Some(a) = after {
        let (key, last) = (a.key, a.id);
        let (col, desc) = match order {
            CardOrder::Id => (None, false),
            CardOrder::ExchangedDesc => (Some(exchanged()), true),
            CardOrder::Company => (Some(Expr::col(card::Column::CompanyKey)), false),
            CardOrder::Name => (Some(Expr::col(card::Column::NameKey)), false),
        };
        q = match (col, desc) {
            (None, _) => q.filter(id().gt(last)),
            (Some(col), false) => q.filter(
                Condition::any()
                    .add(col.clone().gt(key.clone()))
                    .add(Condition::all().add(col.eq(key)).add(id().gt(last))),
            ),
            (Some(col), true) => q.filter(
                Condition::any()
                    .add(col.clone().lt(key.clone()))
                    .add(Condition::all().add(col.eq(key)).add(id().lt(last))),
            ),
        };
    }
    q = match order {
        CardOrder::Id => q.order_by(id(), sea_orm::Order::Asc),
        CardOrder::ExchangedDesc => q
            .order_by(exchanged(), sea_orm::Order::Desc)
            .order_by_desc(card::Column::Id),
        CardOrder::Company => q.order_by_asc(card::Column::CompanyKey).order_by_asc(card::Column::Id),
        CardOrder::Name => q.order_by_asc(card::Column::NameKey).order_by_asc(card::Column::Id),
    };
    let key = |m: &card::Model| match order {
        CardOrder::Id => String::new(),
        CardOrder::ExchangedDesc => m.exchanged_on.clone().unwrap_or_default(),
        CardOrder::Company => m.company_key.clone(),
        CardOrder::Name => m.name_key.clone(),
    };
    if !is_sqlite(c) {
        // PostgreSQL's driver reads rows cheaply, and building JSON costs PostgreSQL more
        // than the rows (BENCHMARKS.md P6): the page's rows, then its tags in one query.
        let rows = q.limit(limit).all(c).await?;
        let ids: Vec<String> = rows.iter().map(|m| m.id.clone()).collect();
        let mut tags = tags_of(c, &ids).await?;
        return Ok(rows
            .into_iter()
            .map(|m| {
                let key = key(&m);
                let tags = tags.remove(&m.id).unwrap_or_default();
                listed(m, key, tags)
            })
            .collect());
    }
    // The page's order again, over the page's rows (the same expressions, so the same
    // collation): the aggregate keeps it.
    let again = match order {
        CardOrder::Id => "c.id",
        CardOrder::ExchangedDesc => "COALESCE(c.exchanged_on, '') DESC, c.id DESC",
        CardOrder::Company => "c.company_key, c.id",
        CardOrder::Name => "c.name_key, c.id",
    };
    let rows = page_json(c, q.limit(limit), again).await?;
    Ok(rows
        .into_iter()
        .map(|(m, tags)| {
            let key = key(&m);
            listed(m, key, tags.into_iter().map(Tag::from).collect())
        })
        .collect())
}

/// A card as `page_json` hands it over: its row (the columns in `card::Model`'s order, as a
/// JSON array), then every tag on it.
type PageRow = (card::Model, Vec<PageTag>);

const PAGE_COLUMNS: &str = "c.id, c.org_id, c.owner_id, c.full_name, c.name_reading, c.company, c.company_key, \
    c.department, c.title, c.email, c.phone, c.mobile, c.fax, c.postal_code, c.address, c.url, c.exchanged_on, \
    c.last_transfer_id, c.created_at, c.updated_at, c.extra, c.name_key, c.person_id";

/// A tag on a card of `page_json`: id, name, shared (0/1), creator, created at.
#[derive(serde::Deserialize)]
struct PageTag(String, String, u8, Option<String>, i64);

impl From<PageTag> for Tag {
    fn from(PageTag(id, name, shared, creator_id, at): PageTag) -> Tag {
        Tag {
            id,
            name,
            creator_id,
            shared: shared == 1,
            created_at: from_micros(at),
        }
    }
}

/// A card of a page from its row, its sort key and its tags.
fn listed(m: card::Model, key: String, tags: Vec<Tag>) -> Listed {
    let ids = tags.iter().map(|t| t.id.clone()).collect();
    Listed {
        card: card_view(m, ids),
        key,
        tags,
    }
}

/// SQLite: the cards `page` selects (a query of whole card rows, ordered and limited), with
/// their tags, as one JSON text, in the order `order` (SQL over the page's rows, aliased `c`).
///
/// Read row by row, sqlx's SQLite driver copies each of the 22 columns of each card and hands
/// each row across the connection's thread: most of a list request's time (BENCHMARKS.md
/// P6). One value per page is one hand-over, and the tags ride along as an array per card, so
/// a page is one statement instead of two.
async fn page_json(c: &impl Conn, page: sea_orm::Select<card::Entity>, order: &str) -> Result<Vec<PageRow>> {
    use sea_orm::QueryTrait;
    let backend = c.get_database_backend();
    let inner = page.build(backend);
    // json(): a JSON value from a subquery loses SQLite's JSON subtype; without it the array
    // would be nested as a string.
    let text = format!(
        "SELECT json_group_array(json_array(json_array({PAGE_COLUMNS}), \
         json((SELECT json_group_array(json_array(t.id, t.name, t.shared, t.creator_id, t.created_at) ORDER BY t.id) \
         FROM card_tags ct JOIN tags t ON t.id = ct.tag_id WHERE ct.card_id = c.id))) ORDER BY {order}) \
         FROM ({}) c",
        inner.sql
    );
    let statement = sea_orm::Statement {
        sql: text,
        values: inner.values,
        db_backend: backend,
    };
    let Some(row) = c.query_one_raw(statement).await? else {
        return Ok(Vec::new());
    };
    let Some(json) = row.try_get_by_index::<Option<String>>(0)? else {
        return Ok(Vec::new());
    };
    serde_json::from_str(&json).map_err(|e| crate::domain::Error::internal(format!("a page of cards as JSON: {e}")))
}

/// Every tag on each of `card_ids`, in tag id order: one query.
async fn tags_of(c: &impl Conn, card_ids: &[String]) -> Result<HashMap<String, Vec<Tag>>> {
    let mut out: HashMap<String, Vec<Tag>> = HashMap::new();
    if card_ids.is_empty() {
        return Ok(out);
    }
    let rows = card_tag::Entity::find()
        .select_only()
        .column(card_tag::Column::CardId)
        .columns([
            tag::Column::Id,
            tag::Column::Name,
            tag::Column::CreatorId,
            tag::Column::Shared,
            tag::Column::CreatedAt,
        ])
        .join(
            JoinType::InnerJoin,
            card_tag::Entity::belongs_to(tag::Entity)
                .from(card_tag::Column::TagId)
                .to(tag::Column::Id)
                .into(),
        )
        .filter(card_tag::Column::CardId.is_in(card_ids.iter().cloned()))
        .order_by_asc(card_tag::Column::TagId)
        .into_tuple::<(String, String, String, Option<String>, bool, i64)>()
        .all(c)
        .await?;
    for (card_id, id, name, creator_id, shared, at) in rows {
        out.entry(card_id).or_default().push(Tag {
            id,
            name,
            creator_id,
            shared,
            created_at: from_micros(at),
        });
    }
    Ok(out)
}

/// How many of the organisation's cards match `f`.
pub async fn count_cards(c: &impl Conn, org_id: &str, f: CardFilter) -> Result<u64> {
    Ok(filtered(c, org_id, f).count(c).await?)
}

/// The organisation's cards among `ids` (any others are left out), in id order.
pub async fn cards_by_ids(c: &impl Conn, org_id: &str, ids: &[String]) -> Result<Vec<Card>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        let rows = card::Entity::find()
            .filter(card::Column::OrgId.eq(org_id))
            .filter(card::Column::Id.is_in(chunk.iter().cloned()))
            .order_by_asc(card::Column::Id)
            .all(c)
            .await?;
        let ids: Vec<String> = rows.iter().map(|m| m.id.clone()).collect();
        let mut tags = tag_ids_of(c, &ids).await?;
        out.extend(rows.into_iter().map(|m| {
            let t = tags.remove(&m.id).unwrap_or_default();
            card_view(m, t)
        }));
    }
    Ok(out)
}

/// Replaces the card's fields and its keyword index entries.
pub async fn update_card(c: &impl Conn, org_id: &str, id: &str, f: CardFields, now: DateTime<Utc>) -> Result<()> {
    let tokens = normalize::card_search_tokens(&f);
    let mut m = card_row(
        org_id,
        NewCard {
            id: id.into(),
            owner_id: String::new(),
            fields: f,
            person_id: None,
        },
        to_micros(now),
    );
    m.id = sea_orm::Unchanged(id.into());
    m.owner_id = sea_orm::NotSet;
    m.org_id = sea_orm::NotSet;
    m.created_at = sea_orm::NotSet;
    m.last_transfer_id = sea_orm::NotSet;
    m.person_id = sea_orm::NotSet;
    card::Entity::update_many()
        .set(m)
        .filter(card::Column::OrgId.eq(org_id))
        .filter(card::Column::Id.eq(id))
        .exec(c)
        .await?;
    search::remove(c, org_id, id).await?;
    search::add(c, org_id, &[(id.to_string(), tokens)]).await
}

/// Deletes the card; its contacts and tag links go with it (ON DELETE CASCADE), its keyword
/// index entries first (an FTS table has no foreign key).
pub async fn delete_card(c: &impl Conn, org_id: &str, id: &str) -> Result<()> {
    search::remove(c, org_id, id).await?;
    card::Entity::delete_many()
        .filter(card::Column::OrgId.eq(org_id))
        .filter(card::Column::Id.eq(id))
        .exec(c)
        .await?;
    Ok(())
}

pub async fn count_contacts_of_card(c: &impl Conn, org_id: &str, card_id: &str) -> Result<u64> {
    Ok(contact::Entity::find()
        .filter(contact::Column::OrgId.eq(org_id))
        .filter(contact::Column::CardId.eq(card_id))
        .count(c)
        .await?)
}

// --- contacts ---

/// A stored contact; a kind that does not parse is an error.
fn contact_view(m: contact::Model) -> Result<Contact> {
    Ok(Contact {
        kind: ContactKind::parse("kind", &m.kind)
            .map_err(|e| crate::domain::Error::internal(format!("contact {}: stored {}", m.id, e.message)))?,
        id: m.id,
        card_id: m.card_id,
        author_id: m.author_id,
        occurred_at: from_micros(m.occurred_at),
        body: m.body,
        created_at: from_micros(m.created_at),
    })
}

pub struct NewContact {
    pub id: String,
    pub card_id: String,
    pub author_id: String,
    pub kind: ContactKind,
    pub occurred_at: DateTime<Utc>,
    pub body: String,
}

pub async fn insert_contacts(c: &impl Conn, org_id: &str, items: Vec<NewContact>, now: DateTime<Utc>) -> Result<()> {
    let now = to_micros(now);
    let mut rows = items
        .into_iter()
        .map(|n| contact::ActiveModel {
            id: Set(n.id),
            org_id: Set(org_id.into()),
            card_id: Set(n.card_id),
            author_id: Set(n.author_id),
            kind: Set(n.kind.as_str().into()),
            occurred_at: Set(to_micros(n.occurred_at)),
            body: Set(n.body),
            created_at: Set(now),
        })
        .peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        contact::Entity::insert_many(chunk).exec(c).await?;
    }
    Ok(())
}

pub async fn get_contact(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Contact>> {
    contact::Entity::find_by_id(id)
        .filter(contact::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(contact_view)
        .transpose()
}

pub async fn list_contacts(
    c: &impl Conn,
    org_id: &str,
    card_id: &str,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<Contact>> {
    let mut q = contact::Entity::find()
        .filter(contact::Column::OrgId.eq(org_id))
        .filter(contact::Column::CardId.eq(card_id));
    if let Some(a) = after {
        q = q.filter(contact::Column::Id.gt(a));
    }
    let rows = q.order_by_asc(contact::Column::Id).limit(limit).all(c).await?;
    rows.into_iter().map(contact_view).collect()
}

// --- tags ---

fn tag_view(m: tag::Model) -> Tag {
    Tag {
        id: m.id,
        name: m.name,
        creator_id: m.creator_id,
        shared: m.shared,
        created_at: from_micros(m.created_at),
    }
}

pub async fn insert_tags(c: &impl Conn, org_id: &str, tags: &[Tag]) -> Result<()> {
    if tags.is_empty() {
        return Ok(());
    }
    let rows = tags.iter().map(|t| tag::ActiveModel {
        id: Set(t.id.clone()),
        org_id: Set(org_id.into()),
        name: Set(t.name.clone()),
        creator_id: Set(t.creator_id.clone()),
        shared: Set(t.shared),
        created_at: Set(to_micros(t.created_at)),
    });
    tag::Entity::insert_many(rows).exec(c).await?;
    Ok(())
}

pub async fn get_tag(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Tag>> {
    Ok(tag::Entity::find_by_id(id)
        .filter(tag::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(tag_view))
}

pub async fn tag_by_name(c: &impl Conn, org_id: &str, creator_id: Option<&str>, name: &str) -> Result<Option<Tag>> {
    let mut q = tag::Entity::find()
        .filter(tag::Column::OrgId.eq(org_id))
        .filter(tag::Column::Name.eq(name));
    q = match creator_id {
        Some(u) => q.filter(tag::Column::CreatorId.eq(u)),
        None => q.filter(tag::Column::CreatorId.is_null()),
    };
    Ok(q.one(c).await?.map(tag_view))
}

/// Tags `viewer` may see: shared ones and their own; `all` for admins.
pub async fn list_tags(
    c: &impl Conn,
    org_id: &str,
    viewer: &str,
    all: bool,
    after: Option<String>,
    limit: u64,
) -> Result<Vec<Tag>> {
    let mut q = tag::Entity::find().filter(tag::Column::OrgId.eq(org_id));
    if !all {
        q = q.filter(
            Condition::any()
                .add(tag::Column::Shared.eq(true))
                .add(tag::Column::CreatorId.eq(viewer)),
        );
    }
    if let Some(a) = after {
        q = q.filter(tag::Column::Id.gt(a));
    }
    Ok(q.order_by_asc(tag::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(tag_view)
        .collect())
}

/// Attaches; returns false when the link already existed.
pub async fn attach(c: &impl Conn, org_id: &str, card_id: &str, tag_id: &str) -> Result<bool> {
    let exists = card_tag::Entity::find_by_id((card_id.to_string(), tag_id.to_string()))
        .one(c)
        .await?
        .is_some();
    if exists {
        return Ok(false);
    }
    card_tag::ActiveModel {
        card_id: Set(card_id.into()),
        tag_id: Set(tag_id.into()),
        org_id: Set(org_id.into()),
    }
    .insert(c)
    .await?;
    Ok(true)
}

pub async fn attach_many(c: &impl Conn, org_id: &str, links: Vec<(String, String)>) -> Result<()> {
    let mut rows = links
        .into_iter()
        .map(|(card_id, tag_id)| card_tag::ActiveModel {
            card_id: Set(card_id),
            tag_id: Set(tag_id),
            org_id: Set(org_id.into()),
        })
        .peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(CHUNK).collect();
        card_tag::Entity::insert_many(chunk).exec(c).await?;
    }
    Ok(())
}

/// Detaches; returns false when there was no such link.
pub async fn detach(c: &impl Conn, org_id: &str, card_id: &str, tag_id: &str) -> Result<bool> {
    let res = card_tag::Entity::delete_many()
        .filter(card_tag::Column::OrgId.eq(org_id))
        .filter(card_tag::Column::CardId.eq(card_id))
        .filter(card_tag::Column::TagId.eq(tag_id))
        .exec(c)
        .await?;
    Ok(res.rows_affected > 0)
}

/// Every tag of the organisation with this name (personal ones of any creator included).
/// The organisation's tags among `ids`.
pub async fn tags_by_ids(c: &impl Conn, org_id: &str, ids: &[String]) -> Result<Vec<Tag>> {
    let mut out = Vec::new();
    for chunk in ids.chunks(500) {
        out.extend(
            tag::Entity::find()
                .filter(tag::Column::OrgId.eq(org_id))
                .filter(tag::Column::Id.is_in(chunk.iter().cloned()))
                .all(c)
                .await?
                .into_iter()
                .map(tag_view),
        );
    }
    Ok(out)
}

pub async fn tags_named(c: &impl Conn, org_id: &str, name: &str) -> Result<Vec<Tag>> {
    Ok(tag::Entity::find()
        .filter(tag::Column::OrgId.eq(org_id))
        .filter(tag::Column::Name.eq(name))
        .order_by_asc(tag::Column::Id)
        .all(c)
        .await?
        .into_iter()
        .map(tag_view)
        .collect())
}

/// Contacts on the cards a user owns, oldest first.
pub async fn contacts_of_owner(c: &impl Conn, org_id: &str, owner_id: &str) -> Result<Vec<Contact>> {
    let cards = Query::select()
        .column(card::Column::Id)
        .from(card::Entity)
        .and_where(card::Column::OrgId.eq(org_id))
        .and_where(card::Column::OwnerId.eq(owner_id))
        .to_owned();
    let rows = contact::Entity::find()
        .filter(contact::Column::OrgId.eq(org_id))
        .filter(contact::Column::CardId.in_subquery(cards))
        .order_by_asc(contact::Column::Id)
        .all(c)
        .await?;
    rows.into_iter().map(contact_view).collect()
}

pub async fn tags_created_by(c: &impl Conn, org_id: &str, user_id: &str) -> Result<Vec<Tag>> {
    let rows = tag::Entity::find()
        .filter(tag::Column::OrgId.eq(org_id))
        .filter(tag::Column::CreatorId.eq(user_id))
        .order_by_asc(tag::Column::Id)
        .all(c)
        .await?;
    Ok(rows.into_iter().map(tag_view).collect())
}
