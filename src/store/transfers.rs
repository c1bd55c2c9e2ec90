//! Ownership transfer, set-based: a fixed handful of statements whatever the number of cards.
//!
//! A transfer records one `transfer_items` row per moved card (with the card's previous
//! `last_transfer_id` and whether this transfer added the previous-owner tag), so that undo
//! can restore exactly those cards that no later transfer has moved again.

use super::entities::transfer;
use super::{Conn, count, exec, from_micros, to_micros};
use crate::domain::transfer::{Selection, SelectionInput, Transfer};
use crate::domain::{Result, normalize};
use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Value};

/// The predicate on `cards c` that a selection stands for, with its values.
pub(crate) fn selection_sql(org_id: &str, from: &str, sel: &Selection) -> (String, Vec<Value>) {
    let mut sql = String::from("c.org_id = ? AND c.owner_id = ?");
    let mut values: Vec<Value> = vec![org_id.into(), from.into()];
    match sel {
        Selection::All => {}
        Selection::Tag(tag) => {
            sql.push_str(" AND c.id IN (SELECT card_id FROM card_tags WHERE tag_id = ? AND org_id = ?)");
            values.extend([tag.as_str().into(), org_id.into()]);
        }
        Selection::Company(name) => {
            sql.push_str(" AND c.company_key = ?");
            values.push(normalize::company(name).into());
        }
        Selection::CardIds(ids) => {
            let marks = vec!["?"; ids.len()].join(", ");
            sql.push_str(&format!(" AND c.id IN ({marks})"));
            values.extend(ids.iter().map(|i| Value::from(i.as_str())));
        }
    }
    (sql, values)
}

/// Cards and contacts a selection covers right now.
pub async fn count_selection(c: &impl Conn, org_id: &str, from: &str, sel: &Selection) -> Result<(i64, i64)> {
    let (pred, values) = selection_sql(org_id, from, sel);
    let cards = count(c, &format!("SELECT COUNT(*) FROM cards c WHERE {pred}"), values.clone()).await?;
    let contacts = count(
        c,
        &format!("SELECT COUNT(*) FROM contacts WHERE card_id IN (SELECT c.id FROM cards c WHERE {pred})"),
        values,
    )
    .await?;
    Ok((cards, contacts))
}

pub async fn count_tags_created_by(c: &impl Conn, org_id: &str, user_id: &str) -> Result<i64> {
    count(
        c,
        "SELECT COUNT(*) FROM tags WHERE org_id = ? AND creator_id = ?",
        vec![org_id.into(), user_id.into()],
    )
    .await
}

/// Of the given ids, those that are not cards of `from` in this organisation.
pub async fn foreign_card_ids(
    c: &impl Conn,
    org_id: &str,
    from: &str,
    ids: &[crate::domain::CardId],
) -> Result<Vec<String>> {
    let marks = vec!["?"; ids.len()].join(", ");
    let mut values: Vec<Value> = vec![org_id.into(), from.into()];
    values.extend(ids.iter().map(|i| Value::from(i.as_str())));
    let rows = c
        .query_all_raw(super::sql(
            c,
            &format!("SELECT id FROM cards WHERE org_id = ? AND owner_id = ? AND id IN ({marks})"),
            values,
        ))
        .await?;
    let owned: std::collections::HashSet<String> = rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect();
    Ok(ids
        .iter()
        .filter(|i| !owned.contains(i.as_str()))
        .map(ToString::to_string)
        .collect())
}

/// The organisation-owned, shared tag with this name; created when missing. Idempotent under
/// concurrency: two transfers that create the same tag at once both get it (the second
/// insert does nothing, then reads the first one's row).
pub async fn org_tag(c: &impl Conn, org_id: &str, name: &str, now: DateTime<Utc>) -> Result<String> {
    if let Some(t) = super::cards::tag_by_name(c, org_id, None, name).await? {
        return Ok(t.id);
    }
    exec(
        c,
        "INSERT INTO tags (id, org_id, name, creator_id, shared, created_at) VALUES (?, ?, ?, NULL, ?, ?) \
         ON CONFLICT DO NOTHING",
        vec![
            super::new_id().into(),
            org_id.into(),
            name.into(),
            true.into(),
            to_micros(now).into(),
        ],
    )
    .await?;
    super::cards::tag_by_name(c, org_id, None, name)
        .await?
        .map(|t| t.id)
        .ok_or_else(|| crate::domain::Error::internal(format!("tag '{name}' vanished")))
}

pub struct NewTransfer<'a> {
    pub id: &'a str,
    pub actor_id: Option<&'a str>,
    pub from: &'a str,
    pub to: &'a str,
    pub selection: &'a Selection,
    pub include_tags: bool,
    pub tag_id: &'a str,
    pub tag_name: &'a str,
}

/// Records the batch, then moves the selected cards: four statements in all.
/// Returns the number of cards moved.
pub async fn move_cards(c: &impl Conn, org_id: &str, t: &NewTransfer<'_>, now: DateTime<Utc>) -> Result<i64> {
    let selection = t.selection.to_input().to_stored();
    exec(
        c,
        "INSERT INTO transfers (id, org_id, actor_id, from_user_id, to_user_id, selection, include_tags, tag_id, \
         tag_name, cards, contacts, tags, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, 0, 0, ?)",
        vec![
            t.id.into(),
            org_id.into(),
            t.actor_id.map(str::to_string).into(),
            t.from.into(),
            t.to.into(),
            selection.into(),
            t.include_tags.into(),
            t.tag_id.into(),
            t.tag_name.into(),
            to_micros(now).into(),
        ],
    )
    .await?;
    let (pred, sel_values) = selection_sql(org_id, t.from, t.selection);
    let mut values: Vec<Value> = vec![t.id.into(), t.tag_id.into()];
    values.extend(sel_values.clone());
    let moved = exec(
        c,
        &format!(
            "INSERT INTO transfer_items (transfer_id, card_id, prev_transfer_id, tag_added) \
             SELECT ?, c.id, c.last_transfer_id, \
                    NOT EXISTS (SELECT 1 FROM card_tags ct WHERE ct.card_id = c.id AND ct.tag_id = ?) \
             FROM cards c WHERE {pred}"
        ),
        values,
    )
    .await?;
    exec(
        c,
        "INSERT INTO card_tags (card_id, tag_id, org_id) \
         SELECT card_id, ?, ? FROM transfer_items WHERE transfer_id = ? AND tag_added",
        vec![t.tag_id.into(), org_id.into(), t.id.into()],
    )
    .await?;
    let mut values: Vec<Value> = vec![t.to.into(), t.id.into(), to_micros(now).into()];
    values.extend(sel_values);
    // Straight on the selection's index: the same rows the items were taken from, without
    // first listing their ids and looking each one up again by primary key.
    exec(
        c,
        &format!("UPDATE cards AS c SET owner_id = ?, last_transfer_id = ?, updated_at = ? WHERE {pred}"),
        values,
    )
    .await?;
    Ok(moved as i64)
}

pub async fn count_contacts_of_batch(c: &impl Conn, transfer_id: &str) -> Result<i64> {
    count(
        c,
        "SELECT COUNT(*) FROM contacts WHERE card_id IN (SELECT card_id FROM transfer_items WHERE transfer_id = ?)",
        vec![transfer_id.into()],
    )
    .await
}

/// Hands the tags `from` created over to `to`. A tag whose name `to` already uses gets
/// `clash_suffix` appended (the policy's ` (from's name)`); undo restores both creator and name.
pub async fn hand_over_tags(
    c: &impl Conn,
    org_id: &str,
    transfer_id: &str,
    from: &str,
    to: &str,
    clash_suffix: &str,
) -> Result<i64> {
    let n = exec(
        c,
        "INSERT INTO transfer_tags (transfer_id, tag_id, original_name) \
         SELECT ?, id, name FROM tags WHERE org_id = ? AND creator_id = ?",
        vec![transfer_id.into(), org_id.into(), from.into()],
    )
    .await?;
    exec(
        c,
        "UPDATE tags SET name = name || ? \
         WHERE id IN (SELECT tag_id FROM transfer_tags WHERE transfer_id = ?) \
           AND name IN (SELECT name FROM tags WHERE org_id = ? AND creator_id = ?)",
        vec![clash_suffix.into(), transfer_id.into(), org_id.into(), to.into()],
    )
    .await?;
    exec(
        c,
        "UPDATE tags SET creator_id = ? WHERE id IN (SELECT tag_id FROM transfer_tags WHERE transfer_id = ?)",
        vec![to.into(), transfer_id.into()],
    )
    .await?;
    Ok(n as i64)
}

pub async fn set_counts(c: &impl Conn, transfer_id: &str, cards: i64, contacts: i64, tags: i64) -> Result<()> {
    exec(
        c,
        "UPDATE transfers SET cards = ?, contacts = ?, tags = ? WHERE id = ?",
        vec![cards.into(), contacts.into(), tags.into(), transfer_id.into()],
    )
    .await?;
    Ok(())
}

/// A stored batch as the domain's record; a selection that does not parse is an error.
fn view(m: transfer::Model) -> Result<Transfer> {
    Ok(Transfer {
        selection: SelectionInput::from_stored(&m.selection)?,
        id: m.id.into(),
        actor_id: m.actor_id.map(Into::into),
        from_user_id: m.from_user_id.into(),
        to_user_id: m.to_user_id.into(),
        include_tags: m.include_tags,
        tag_id: m.tag_id.into(),
        tag_name: m.tag_name,
        cards: m.cards,
        contacts: m.contacts,
        tags: m.tags,
        created_at: from_micros(m.created_at),
        undone_at: m.undone_at.map(from_micros),
        undone_by: m.undone_by.map(Into::into),
        restored: m.restored,
        skipped: m.skipped,
    })
}

pub async fn get(c: &impl Conn, org_id: &str, id: &str) -> Result<Option<Transfer>> {
    transfer::Entity::find_by_id(id)
        .filter(transfer::Column::OrgId.eq(org_id))
        .one(c)
        .await?
        .map(view)
        .transpose()
}

/// Newest first.
pub async fn list(c: &impl Conn, org_id: &str, before: Option<String>, limit: u64) -> Result<Vec<Transfer>> {
    let mut q = transfer::Entity::find().filter(transfer::Column::OrgId.eq(org_id));
    if let Some(b) = before {
        q = q.filter(transfer::Column::Id.lt(b));
    }
    q.order_by_desc(transfer::Column::Id)
        .limit(limit)
        .all(c)
        .await?
        .into_iter()
        .map(view)
        .collect()
}

/// Claims the batch for undo; false when it was already undone (by anyone, at any time).
pub async fn mark_undone(c: &impl Conn, org_id: &str, id: &str, by: Option<&str>, now: DateTime<Utc>) -> Result<bool> {
    let n = exec(
        c,
        "UPDATE transfers SET undone_at = ?, undone_by = ? WHERE id = ? AND org_id = ? AND undone_at IS NULL",
        vec![
            to_micros(now).into(),
            by.map(str::to_string).into(),
            id.into(),
            org_id.into(),
        ],
    )
    .await?;
    Ok(n == 1)
}

/// Cards of the batch that undo will not restore: moved again since, or deleted.
pub async fn unrestorable(c: &impl Conn, transfer_id: &str, limit: u64) -> Result<Vec<String>> {
    let rows = c
        .query_all_raw(super::sql(
            c,
            &format!(
                "SELECT ti.card_id FROM transfer_items ti LEFT JOIN cards c ON c.id = ti.card_id \
                 WHERE ti.transfer_id = ? AND (c.id IS NULL OR c.last_transfer_id IS NULL OR c.last_transfer_id <> ?) \
                 ORDER BY ti.card_id LIMIT {limit}"
            ),
            vec![transfer_id.into(), transfer_id.into()],
        ))
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| r.try_get_by_index::<String>(0).ok())
        .collect())
}

/// Gives the batch's cards back to `from` (those whose last move is still this batch),
/// removes the previous-owner tag this batch added, and returns tags handed over.
/// Returns the number of cards restored.
pub async fn restore(c: &impl Conn, org_id: &str, t: &Transfer, now: DateTime<Utc>) -> Result<i64> {
    // Per link of the tag, two primary-key look-ups. Written as scalar subqueries rather than a
    // join so that no plan depends on statistics: right after a transfer PostgreSQL believes
    // the batch has about no items, and with a join it may scan all of them once per link.
    exec(
        c,
        "DELETE FROM card_tags WHERE tag_id = ? \
           AND (SELECT ti.tag_added FROM transfer_items ti WHERE ti.transfer_id = ? AND ti.card_id = card_tags.card_id) \
           AND (SELECT c.last_transfer_id FROM cards c WHERE c.id = card_tags.card_id) = ?",
        vec![t.tag_id.as_str().into(), t.id.as_str().into(), t.id.as_str().into()],
    )
    .await?;
    // Driven by the batch's items (one primary-key look-up of the card per item), not by a
    // scan of all the organisation's cards with a subquery per card.
    let restored = exec(
        c,
        "UPDATE cards SET owner_id = ?, updated_at = ?, last_transfer_id = ti.prev_transfer_id \
         FROM transfer_items ti \
         WHERE ti.transfer_id = ? AND ti.card_id = cards.id AND cards.org_id = ? AND cards.last_transfer_id = ?",
        vec![
            t.from_user_id.as_str().into(),
            to_micros(now).into(),
            t.id.as_str().into(),
            org_id.into(),
            t.id.as_str().into(),
        ],
    )
    .await?;
    exec(
        c,
        "UPDATE tags SET creator_id = ?, name = (\
           SELECT tt.original_name FROM transfer_tags tt WHERE tt.transfer_id = ? AND tt.tag_id = tags.id) \
         WHERE creator_id = ? AND id IN (SELECT tag_id FROM transfer_tags WHERE transfer_id = ?)",
        vec![
            t.from_user_id.as_str().into(),
            t.id.as_str().into(),
            t.to_user_id.as_str().into(),
            t.id.as_str().into(),
        ],
    )
    .await?;
    Ok(restored as i64)
}

pub async fn set_undo_counts(c: &impl Conn, id: &str, restored: i64, skipped: i64) -> Result<()> {
    exec(
        c,
        "UPDATE transfers SET restored = ?, skipped = ? WHERE id = ?",
        vec![restored.into(), skipped.into(), id.into()],
    )
    .await?;
    Ok(())
}
