//! Ownership transfer (所有者変更): moves cards with their contacts from one user to another
//! in one transaction, tags them with the previous owner, records the batch for undo.

use super::{Actor, App, Who, audit, page_limit, paginate};
use crate::domain::lifecycle::{Move, check_recipient};
use crate::domain::model::{Page, User};
use crate::domain::transfer::{Selection, SelectionInput};
use crate::domain::{Error, Result, UserId, UserStatus};
use crate::store::{self, transfers as st, users};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use crate::domain::transfer::Transfer;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TransferRequest {
    pub from_user_id: String,
    pub to_user_id: String,
    /// Exactly one of `{"all":true}`, `{"tag_id":…}`, `{"company":…}`, `{"card_ids":[…]}`.
    pub selection: SelectionInput,
    /// Also hand the tags `from` created over to `to` (ownership, not a copy).
    #[serde(default)]
    pub include_tags: bool,
    /// Only count what would move; change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// What a dry run reports: exactly what the real run would move.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = TransferPreview)]
pub struct Preview {
    pub dry_run: bool,
    pub from_user_id: String,
    pub to_user_id: String,
    pub selection: SelectionInput,
    pub include_tags: bool,
    pub tag_name: String,
    pub cards: i64,
    pub contacts: i64,
    pub tags: i64,
}

pub enum Outcome {
    Preview(Preview),
    Done(Transfer),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UndoResult {
    pub transfer: Transfer,
    pub restored: i64,
    pub skipped: i64,
    /// The first 100 cards left alone, because they moved again or were deleted.
    pub skipped_card_ids: Vec<String>,
}

/// Progress of a long run, for the command line's display.
pub type Progress<'a> = &'a (dyn Fn(&str) + Sync);

/// Whether `to` may receive cards from `from`: loads whether `to` is leaving and asks the
/// one rule (`domain::lifecycle::check_recipient`).
pub(crate) async fn check_recipient_in(
    c: &impl store::Conn,
    org_id: &str,
    to: &User,
    from: &UserId,
    field: &str,
    purpose: Move,
) -> Result<()> {
    let leaving = store::departures::open_for_user(c, org_id, &to.id).await?.is_some();
    check_recipient(to, leaving, from, field, purpose)
}

/// The two parties of a transfer, their rows locked for the rest of the unit of work.
async fn lock_parties(tx: &store::Tx, org_id: &str, from: &str, to: &str) -> Result<(User, User)> {
    let locked = users::lock(tx, org_id, &[from, to]).await?;
    let find = |id: &str, field: &str| {
        locked
            .iter()
            .find(|u| u.id == id)
            .cloned()
            .ok_or_else(|| Error::unprocessable(format!("no user {id} in this organisation")).with_field(field))
    };
    Ok((find(from, "from_user_id")?, find(to, "to_user_id")?))
}

/// A named tag must exist; explicit card ids must all be cards of `from`.
async fn check_selection(c: &impl store::Conn, org_id: &str, from: &User, selection: &Selection) -> Result<()> {
    if let Selection::Tag(tag) = selection
        && store::cards::get_tag(c, org_id, tag.as_str()).await?.is_none()
    {
        return Err(Error::unprocessable(format!("no tag {tag} in this organisation")).with_field("selection.tag_id"));
    }
    if let Selection::CardIds(ids) = selection {
        let foreign = st::foreign_card_ids(c, org_id, &from.id, ids).await?;
        if !foreign.is_empty() {
            let shown: Vec<_> = foreign.iter().take(crate::formats::MAX_LISTED_ERRORS).collect();
            let message = format!(
                "{} of the given cards are not cards of {}",
                foreign.len(),
                from.display_name
            );
            return Err(Error::unprocessable(message)
                .with_field("selection.card_ids")
                .with_details(serde_json::json!({ "card_ids": shown, "count": foreign.len() })));
        }
    }
    Ok(())
}

pub async fn transfer(app: &App, actor: &Actor, req: TransferRequest, progress: Progress<'_>) -> Result<Outcome> {
    actor.require_admin()?;
    progress("checking");
    let outcome = app
        .write_or_rehearse(actor, req.dry_run, async |tx, who| {
            let outcome = run(tx, who, &req, Move::ToSuccessor, progress).await?;
            if matches!(outcome, Outcome::Done(_)) {
                progress("committing");
            }
            Ok(outcome)
        })
        .await?;
    Ok(outcome)
}

/// The transfer inside the caller's unit of work (used alone, by deletion to the archive
/// account, and by handover plans). Both users' rows are locked before they are checked, so
/// that a concurrent suspension or deletion of either waits (or makes this one wait and then
/// refuse). A preview changes nothing. A leaver whose suspended departure this settles (they
/// hold nothing any more) gets it marked done.
pub(crate) async fn run(
    tx: &store::Tx,
    who: Who<'_>,
    req: &TransferRequest,
    purpose: Move,
    progress: Progress<'_>,
) -> Result<Outcome> {
    let org_id = who.org_id;
    let selection = Selection::parse(&req.selection)?;

    let (from, to) = lock_parties(tx, org_id, &req.from_user_id, &req.to_user_id).await?;
    check_recipient_in(tx, org_id, &to, &UserId::from(from.id.as_str()), "to_user_id", purpose).await?;
    if from.status == UserStatus::Deleted {
        return Err(Error::unprocessable(format!("{} is deleted", from.display_name)).with_field("from_user_id"));
    }
    check_selection(tx, org_id, &from, &selection).await?;
    let policy = super::org(tx, org_id).await?.policy()?;
    let tag_name = policy.previous_owner_tag(&from.display_name, who.at);

    if req.dry_run {
        let (cards, contacts) = st::count_selection(tx, org_id, &from.id, &selection).await?;
        let tags = if req.include_tags {
            st::count_tags_created_by(tx, org_id, &from.id).await?
        } else {
            0
        };
        return Ok(Outcome::Preview(Preview {
            dry_run: true,
            from_user_id: from.id.clone(),
            to_user_id: to.id.clone(),
            selection: selection.to_input(),
            include_tags: req.include_tags,
            tag_name,
            cards,
            contacts,
            tags,
        }));
    }

    progress("tagging and moving cards");
    let id = store::new_id();
    let tag_id = st::org_tag(tx, org_id, &tag_name, who.at).await?;
    let new = st::NewTransfer {
        id: &id,
        actor_id: who.actor_id,
        from: &from.id,
        to: &to.id,
        selection: &selection,
        include_tags: req.include_tags,
        tag_id: &tag_id,
        tag_name: &tag_name,
    };
    let cards = st::move_cards(tx, org_id, &new, who.at).await?;
    progress("counting contacts");
    let contacts = st::count_contacts_of_batch(tx, &id).await?;
    let tags = if req.include_tags {
        progress("handing over tags");
        let clash_suffix = policy.handed_over_tag_suffix(&from.display_name);
        st::hand_over_tags(tx, org_id, &id, &from.id, &to.id, &clash_suffix).await?
    } else {
        0
    };
    if cards == 0 && tags == 0 {
        return Err(
            Error::unprocessable(format!("the selection matches none of {}'s cards", from.display_name))
                .with_field("selection"),
        );
    }
    st::set_counts(tx, &id, cards, contacts, tags).await?;
    let batch = st::get(tx, org_id, &id)
        .await?
        .ok_or_else(|| Error::internal("transfer vanished"))?;
    audit(tx, who, "transfer.create", ("transfer", &id), None, super::snap(&batch)).await?;
    super::departures::settle_in(tx, who, &from).await?;
    Ok(Outcome::Done(batch))
}

pub async fn get(app: &App, actor: &Actor, id: &str) -> Result<Transfer> {
    actor.require_admin()?;
    st::get(app.read(), &actor.org_id, id)
        .await?
        .ok_or_else(|| Error::not_found("transfer"))
}

pub async fn list(app: &App, actor: &Actor, cursor: Option<&str>, limit: Option<u64>) -> Result<Page<Transfer>> {
    actor.require_admin()?;
    let limit = page_limit(limit)?;
    let before = store::parse_cursor(cursor)?;
    let items = st::list(app.read(), &actor.org_id, before, limit + 1).await?;
    Ok(paginate(items, limit, |t| t.id.to_string()))
}

/// Gives the batch's cards back to their previous owner, except those that moved again.
pub async fn undo(app: &App, actor: &Actor, id: &str, progress: Progress<'_>) -> Result<UndoResult> {
    actor.require_admin()?;
    progress("checking");
    app.write(actor, async |tx, who| {
        let batch = st::get(tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| Error::not_found("transfer"))?;
        let (from, _) = lock_parties(tx, &actor.org_id, &batch.from_user_id, &batch.to_user_id).await?;
        if from.status == UserStatus::Deleted {
            return Err(Error::unprocessable(format!(
                "{} has been deleted; the cards cannot go back",
                from.display_name
            )));
        }
        if !st::mark_undone(tx, &actor.org_id, id, who.actor_id, who.at).await? {
            return Err(Error::conflict("this transfer has already been undone"));
        }
        let skipped_card_ids = st::unrestorable(tx, id, 100).await?;
        progress("restoring cards");
        let restored = st::restore(tx, &actor.org_id, &batch, who.at).await?;
        let skipped = batch.cards - restored;
        st::set_undo_counts(tx, id, restored, skipped).await?;
        let transfer = st::get(tx, &actor.org_id, id)
            .await?
            .ok_or_else(|| Error::internal("transfer vanished"))?;
        let after = serde_json::json!({"restored": restored, "skipped": skipped, "skipped_card_ids": skipped_card_ids});
        audit(
            tx,
            who,
            "transfer.undo",
            ("transfer", id),
            super::snap(&batch),
            Some(after),
        )
        .await?;
        // The cards went back to `from`: a leaver's finished departure needs action again.
        super::departures::settle_in(tx, who, &from).await?;
        progress("committing");
        Ok(UndoResult {
            transfer,
            restored,
            skipped,
            skipped_card_ids,
        })
    })
    .await
}
