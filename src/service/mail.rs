//! Mail (issue 14): templates only their creator changes, One to One mail from each card's
//! owner (previewed, resolved and queued set-based in one unit of work), the suppression
//! lists, and the outbox's delivery worker over SMTP (lettre).
//!
//! Decisions (README "Mail"):
//! - A member's One to One send covers only their own cards (the sender is the card's owner,
//!   so a member never sends in a colleague's name); an admin's may cover any cards.
//! - "Only a person's latest card counts" is decided within the send's selection: the newest
//!   selected card of the person decides the sender, and if its owner cannot send, the person
//!   gets nothing (a suspended owner's card is never given to another sender).
//! - A template handed over by an admin is re-created under the successor (linked to its
//!   original) and the original removed: the text lives on, the leaver holds nothing.
//! - Delivery is at least once with a stable Message-ID (the outbox row's id): a server that
//!   dies mid-delivery leaves its claimed rows, which go out again after their lease.

use super::{Actor, App, audit, page_limit, paginate, snap};
use crate::domain::lifecycle::Move;
use crate::domain::mail::{self as rules, SendKind, SendStatus, TemplateText};
use crate::domain::model::Page;
use crate::domain::{Email, Error, Result, normalize};
use crate::metrics::Delivery as Delivered;
use crate::store::{self, mail as st};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use utoipa::ToSchema;

pub use st::{MessageRow, NoticePreview, Preview, SendRow, Settings, SkippedCard, Suppression, TemplateRow};

// ---------------------------------------------------------------------------------------------
// Configuration and the SMTP transport

/// How the server sends mail (`meishi serve`: `MEISHI_SMTP_URL`, `MEISHI_MAIL_FROM_DOMAIN`,
/// `MEISHI_PUBLIC_URL`).
#[derive(Debug, Clone)]
pub struct MailConfig {
    /// `smtp://user:pass@host:587?tls=starttls` (`tls`: `starttls`/`required`, `opportunistic`,
    /// `none`; `smtps://` for TLS from the first byte).
    pub smtp_url: String,
    /// Only senders in this domain send; the Message-ID's domain and the reminders' sender.
    pub from_domain: Option<String>,
    /// Where opt-out links point (`https://meishi.example.jp`).
    pub public_url: String,
}

pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    pub config: MailConfig,
}

impl Mailer {
    pub fn new(config: MailConfig) -> Result<Self> {
        let bad = |m: String| Error::bad_input("MEISHI_SMTP_URL", m);
        let mut url = url::Url::parse(&config.smtp_url).map_err(|e| bad(format!("not a URL: {e}")))?;
        let tls: Option<String> = url.query_pairs().find(|(k, _)| k == "tls").map(|(_, v)| v.into_owned());
        let rest: Vec<(String, String)> = url
            .query_pairs()
            .filter(|(k, _)| k != "tls")
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        url.set_query(None);
        let tls = match tls.as_deref() {
            None | Some("none") => None,
            Some("starttls") | Some("required") => Some("required"),
            Some("opportunistic") => Some("opportunistic"),
            Some(other) => return Err(bad(format!("tls={other}: use starttls, opportunistic or none"))),
        };
        if let Some(t) = tls {
            url.query_pairs_mut().append_pair("tls", t);
        }
        if !rest.is_empty() {
            return Err(bad(format!("unknown parameter {}", rest[0].0)));
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url.as_str())
            .map_err(|e| bad(e.to_string()))?
            .timeout(Some(Duration::from_secs(30)))
            .build();
        Ok(Self { transport, config })
    }
}

fn mailer(app: &App) -> Result<&Arc<Mailer>> {
    app.mail.as_ref().ok_or_else(|| {
        Error::unprocessable(
            "mail is not configured on this server: set MEISHI_SMTP_URL (for example \
             smtp://user:pass@smtp.example.jp:587?tls=starttls) and restart meishi",
        )
    })
}

// ---------------------------------------------------------------------------------------------
// Templates

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TemplateInput {
    #[schema(min_length = 1, max_length = 200)]
    pub name: String,
    pub subject: String,
    pub body: String,
    #[serde(default)]
    pub html_body: Option<String>,
    /// Seen (and copyable) by everyone in the organisation; personal otherwise.
    #[serde(default)]
    pub shared: bool,
}

impl TemplateInput {
    fn parse(&self) -> Result<TemplateText> {
        TemplateText::parse(&self.name, &self.subject, &self.body, self.html_body.as_deref())
    }
}

fn may_see(actor: &Actor, t: &TemplateRow) -> bool {
    t.shared || actor.is_admin() || actor.user_id() == Some(t.creator_id.as_str())
}

async fn visible(c: &impl store::Conn, actor: &Actor, id: &str) -> Result<TemplateRow> {
    st::template(c, &actor.org_id, id)
        .await?
        .filter(|t| may_see(actor, t))
        .ok_or_else(|| Error::not_found("template"))
}

fn creator_only(actor: &Actor, t: &TemplateRow) -> Result<()> {
    if actor.user_id() == Some(t.creator_id.as_str()) {
        return Ok(());
    }
    Err(Error::forbidden(format!(
        "only its creator ({}) may change or delete this template, not even an administrator; copy it to make your own",
        t.creator_name
    )))
}

fn acting_user(actor: &Actor) -> Result<&str> {
    actor
        .user_id()
        .ok_or_else(|| Error::unprocessable("a template belongs to a user: act as one"))
}

pub async fn create_template(app: &App, actor: &Actor, input: TemplateInput) -> Result<TemplateRow> {
    let text = input.parse()?;
    let creator = acting_user(actor)?.to_string();
    app.write(actor, async |tx, who| {
        let new = st::NewTemplate {
            creator_id: &creator,
            name: &text.name,
            subject: &text.subject,
            body: &text.body,
            html_body: text.html_body.as_deref(),
            shared: input.shared,
            copied_from: None,
        };
        let id = st::insert_template(tx, who.org_id, new, who.at).await?;
        let t = st::template(tx, who.org_id, &id)
            .await?
            .ok_or_else(|| Error::not_found("template"))?;
        audit(tx, who, "mail_template.create", ("mail_template", &id), None, snap(&t)).await?;
        Ok(t)
    })
    .await
}

pub async fn get_template(app: &App, actor: &Actor, id: &str) -> Result<TemplateRow> {
    visible(app.read(), actor, id).await
}

/// The caller's templates and the shared ones; with `creator_id` (admins, or oneself) only
/// that user's, shared or not.
pub async fn list_templates(
    app: &App,
    actor: &Actor,
    creator_id: Option<&str>,
    cursor: Option<&str>,
    limit: Option<u64>,
) -> Result<Page<TemplateRow>> {
    let limit = page_limit(limit)?;
    if let Some(cr) = creator_id
        && !actor.is_admin()
        && actor.user_id() != Some(cr)
    {
        return Err(Error::forbidden(
            "only administrators may list another user's templates",
        ));
    }
    let after = store::parse_cursor(cursor)?;
    let viewer = actor.user_id().unwrap_or("");
    let rows = st::templates(
        app.read(),
        &actor.org_id,
        viewer,
        creator_id,
        after.as_deref(),
        limit + 1,
    )
    .await?;
    Ok(paginate(rows, limit, |t| t.id.clone()))
}

pub async fn update_template(app: &App, actor: &Actor, id: &str, input: TemplateInput) -> Result<TemplateRow> {
    let text = input.parse()?;
    app.write(actor, async |tx, who| {
        let before = visible(tx, actor, id).await?;
        creator_only(actor, &before)?;
        if !st::update_template(tx, who.org_id, id, &before.creator_id, &text, input.shared, who.at).await? {
            return Err(Error::not_found("template"));
        }
        let after = st::template(tx, who.org_id, id)
            .await?
            .ok_or_else(|| Error::not_found("template"))?;
        audit(
            tx,
            who,
            "mail_template.update",
            ("mail_template", id),
            snap(&before),
            snap(&after),
        )
        .await?;
        Ok(after)
    })
    .await
}

pub async fn delete_template(app: &App, actor: &Actor, id: &str) -> Result<()> {
    app.write(actor, async |tx, who| {
        let before = visible(tx, actor, id).await?;
        creator_only(actor, &before)?;
        st::delete_template(tx, who.org_id, id, Some(&before.creator_id)).await?;
        audit(
            tx,
            who,
            "mail_template.delete",
            ("mail_template", id),
            snap(&before),
            None,
        )
        .await
    })
    .await
}

/// A copy the caller owns (personal) of a template they can see.
pub async fn copy_template(app: &App, actor: &Actor, id: &str) -> Result<TemplateRow> {
    let creator = acting_user(actor)?.to_string();
    app.write(actor, async |tx, who| {
        let original = visible(tx, actor, id).await?;
        let new = st::NewTemplate {
            creator_id: &creator,
            name: &original.name,
            subject: &original.subject,
            body: &original.body,
            html_body: original.html_body.as_deref(),
            shared: false,
            copied_from: Some(&original.id),
        };
        let new_id = st::insert_template(tx, who.org_id, new, who.at).await?;
        let t = st::template(tx, who.org_id, &new_id)
            .await?
            .ok_or_else(|| Error::not_found("template"))?;
        audit(
            tx,
            who,
            "mail_template.copy",
            ("mail_template", &new_id),
            snap(&original),
            snap(&t),
        )
        .await?;
        Ok(t)
    })
    .await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HandedOver {
    /// (original id, new id) pairs.
    pub templates: Vec<(String, String)>,
}

/// Re-creates every template `from` created under `to` (linked to its original, sharing kept)
/// and removes the originals, in one unit of work (a dry run counts). Admins only.
pub async fn hand_over_templates(app: &App, actor: &Actor, from: &str, to: &str, dry_run: bool) -> Result<HandedOver> {
    actor.require_admin()?;
    app.write_or_rehearse(actor, dry_run, async |tx, who| {
        hand_over_in(tx, who, from, to, Move::ToSuccessor).await
    })
    .await
}

/// The hand-over inside a caller's unit of work (a plan's execution, a deletion to the archive).
pub(crate) async fn hand_over_in(
    tx: &store::Tx,
    who: super::Who<'_>,
    from: &str,
    to: &str,
    purpose: Move,
) -> Result<HandedOver> {
    let found =
        |id: &str, field: &str| Error::unprocessable(format!("no user {id} in this organisation")).with_field(field);
    let from_user = store::users::by_id(tx, who.org_id, from)
        .await?
        .ok_or_else(|| found(from, "from_user_id"))?
        .user;
    let to_user = store::users::by_id(tx, who.org_id, to)
        .await?
        .ok_or_else(|| found(to, "to_user_id"))?
        .user;
    super::transfers::check_recipient_in(
        tx,
        who.org_id,
        &to_user,
        &from.to_string().into(),
        "to_user_id",
        purpose,
    )
    .await?;
    let mut done = Vec::new();
    let mut after = None;
    loop {
        let page = st::templates(tx, who.org_id, "", Some(from), after.as_deref(), 200).await?;
        let Some(last) = page.last() else { break };
        after = Some(last.id.clone());
        for t in &page {
            let new = st::NewTemplate {
                creator_id: to,
                name: &t.name,
                subject: &t.subject,
                body: &t.body,
                html_body: t.html_body.as_deref(),
                shared: t.shared,
                copied_from: Some(&t.id),
            };
            let new_id = st::insert_template(tx, who.org_id, new, who.at).await?;
            done.push((t.id.clone(), new_id));
        }
    }
    for (old, _) in &done {
        st::delete_template(tx, who.org_id, old, None).await?;
    }
    if !done.is_empty() {
        super::departures::settle_in(tx, who, &from_user).await?;
        audit(
            tx,
            who,
            "mail_template.hand_over",
            ("user", from),
            Some(serde_json::json!({"from_user_id": from})),
            Some(serde_json::json!({"to_user_id": to, "templates": done})),
        )
        .await?;
    }
    Ok(HandedOver { templates: done })
}

// ---------------------------------------------------------------------------------------------
// Settings and the suppression lists

pub async fn settings(app: &App, actor: &Actor) -> Result<Settings> {
    actor.require_admin()?;
    st::settings(app.read(), &actor.org_id).await
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[schema(as = MailSettingsPatch)]
#[serde(deny_unknown_fields)]
pub struct SettingsPatch {
    pub handover_from: Option<String>,
    pub reminders: Option<bool>,
    pub daily_limit: Option<i64>,
    /// A domain (`example.jp`), or "" for none.
    pub sending_domain: Option<String>,
}

pub async fn update_settings(app: &App, actor: &Actor, p: SettingsPatch) -> Result<Settings> {
    actor.require_admin()?;
    app.write(actor, async |tx, who| {
        let before = st::settings(tx, who.org_id).await?;
        let mut s = before.clone();
        if let Some(h) = p.handover_from {
            if h != "leaver" && h != "successor" {
                return Err(Error::bad_input(
                    "handover_from",
                    "handover_from is leaver or successor",
                ));
            }
            s.handover_from = h;
        }
        if let Some(r) = p.reminders {
            s.reminders = r;
        }
        if let Some(n) = p.daily_limit {
            if !(1..=10_000_000).contains(&n) {
                return Err(Error::bad_input(
                    "daily_limit",
                    "daily_limit is between 1 and 10,000,000",
                ));
            }
            s.daily_limit = n;
        }
        if let Some(d) = p.sending_domain {
            let d = d.trim().trim_start_matches('@').to_lowercase();
            s.sending_domain = if d.is_empty() {
                None
            } else {
                Email::parse("sending_domain", &format!("x@{d}"))?;
                Some(d)
            };
        }
        st::save_settings(tx, who.org_id, &s, who.at).await?;
        audit(
            tx,
            who,
            "mail_settings.update",
            ("organization", who.org_id),
            snap(&before),
            snap(&s),
        )
        .await?;
        Ok(s)
    })
    .await
}

/// The suppression lists' kinds.
const KINDS: [&str; 3] = ["block", "opt_out", "bounce"];

fn suppression_value(kind: &str, raw: &str) -> Result<String> {
    if !KINDS.contains(&kind) {
        return Err(Error::bad_input("kind", "kind is block, opt_out or bounce"));
    }
    if raw.contains('@') {
        return Ok(Email::parse("value", raw)?.as_str().to_string());
    }
    if kind != "block" {
        return Err(Error::bad_input("value", format!("'{raw}' is not an email address")));
    }
    let key = normalize::company(raw);
    if key.is_empty() {
        return Err(Error::bad_input("value", "give an email address or a company name"));
    }
    Ok(key)
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuppressionInput {
    /// block, opt_out or bounce.
    pub kind: String,
    /// An email address (any list) or a company name (block list: every card of the company).
    pub value: String,
    #[serde(default)]
    pub reason: String,
}

pub async fn suppressions(app: &App, actor: &Actor, kind: Option<&str>) -> Result<Vec<Suppression>> {
    actor.require_admin()?;
    if let Some(k) = kind
        && !KINDS.contains(&k)
    {
        return Err(Error::bad_input("kind", "kind is block, opt_out or bounce"));
    }
    st::suppressions(app.read(), &actor.org_id, kind, 10_000).await
}

pub async fn add_suppression(app: &App, actor: &Actor, input: SuppressionInput) -> Result<Suppression> {
    actor.require_admin()?;
    let value = suppression_value(&input.kind, &input.value)?;
    let reason = crate::domain::optional_text("reason", &input.reason, 500)?;
    app.write(actor, async |tx, who| {
        st::suppress(tx, who.org_id, &input.kind, &value, &reason, who.at).await?;
        let s = Suppression {
            kind: input.kind.clone(),
            value: value.clone(),
            reason: reason.clone(),
            created_at: who.at,
        };
        audit(
            tx,
            who,
            "mail_suppression.add",
            ("mail_suppression", &value),
            None,
            snap(&s),
        )
        .await?;
        Ok(s)
    })
    .await
}

pub async fn remove_suppression(app: &App, actor: &Actor, kind: &str, value: &str) -> Result<()> {
    actor.require_admin()?;
    if !KINDS.contains(&kind) {
        return Err(Error::bad_input("kind", "kind is block, opt_out or bounce"));
    }
    // A value that no list could hold (not an address where one is needed) is on no list.
    let value = suppression_value(kind, value).map_err(|_| Error::not_found("list entry"))?;
    app.write(actor, async |tx, who| {
        if !st::unsuppress(tx, who.org_id, kind, &value).await? {
            return Err(Error::not_found("list entry"));
        }
        audit(
            tx,
            who,
            "mail_suppression.remove",
            ("mail_suppression", &value),
            Some(serde_json::json!({"kind": kind, "value": value})),
            None,
        )
        .await
    })
    .await
}

/// The token of a message's opt-out link: a keyed hash of its id, so that nobody opts another
/// address out by guessing.
pub fn opt_out_token(secret: &str, message_id: &str) -> String {
    let digest = Sha256::digest(format!("{secret}:{message_id}").as_bytes());
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// A recipient's opt-out through the link in a message (no sign-in): their address goes on the
/// organisation's opt-out list. Returns the address.
pub async fn opt_out(app: &App, message_id: &str, token: &str) -> Result<String> {
    let bad = || Error::not_found("opt-out link");
    let (org_id, recipient, secret) = st::message_for_opt_out(app.read(), message_id).await?.ok_or_else(bad)?;
    if opt_out_token(&secret, message_id) != token {
        return Err(bad());
    }
    let actor = Actor::system(&org_id);
    app.write(&actor, async |tx, who| {
        if st::suppress(tx, who.org_id, "opt_out", &recipient, "配信停止リンク", who.at).await? {
            audit(
                tx,
                who,
                "mail_suppression.opt_out",
                ("mail_suppression", &recipient),
                None,
                Some(serde_json::json!({"kind": "opt_out", "value": recipient, "message_id": message_id})),
            )
            .await?;
        }
        Ok(())
    })
    .await?;
    Ok(recipient)
}

// ---------------------------------------------------------------------------------------------
// One to One sends

#[derive(Debug, Clone, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipientsInput {
    /// Cards of this owner.
    pub owner_id: Option<String>,
    /// Cards with this tag.
    pub tag_id: Option<String>,
    /// Cards of this company (legal forms ignored).
    pub company: Option<String>,
    /// These cards (at most 1,000).
    #[serde(default)]
    pub card_ids: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendInput {
    pub template_id: String,
    pub recipients: RecipientsInput,
    /// When to send (default: now). Until then the send can be cancelled.
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// The selection as the resolution reads it; a member's is narrowed to their own cards.
fn recipients(actor: &Actor, r: &RecipientsInput) -> Result<st::Recipients> {
    let mut out = st::Recipients {
        owner_id: r.owner_id.clone().filter(|s| !s.is_empty()),
        tag_id: r.tag_id.clone().filter(|s| !s.is_empty()),
        company_key: r.company.as_deref().map(normalize::company).filter(|k| !k.is_empty()),
        card_ids: r.card_ids.clone(),
    };
    if out.card_ids.len() > 1000 {
        return Err(Error::bad_input(
            "recipients.card_ids",
            "at most 1,000 card ids; use a tag for more",
        ));
    }
    if out.owner_id.is_none() && out.tag_id.is_none() && out.company_key.is_none() && out.card_ids.is_empty() {
        return Err(Error::bad_input(
            "recipients",
            "choose the recipients: owner_id, tag_id, company or card_ids",
        ));
    }
    if !actor.is_admin() {
        let me = actor.user_id().unwrap_or_default();
        match &out.owner_id {
            Some(o) if o != me => {
                return Err(Error::forbidden(
                    "a member sends One to One mail only from their own cards (the sender is the card's owner)",
                )
                .with_field("recipients.owner_id"));
            }
            _ => out.owner_id = Some(me.to_string()),
        }
    }
    Ok(out)
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewView {
    pub scheduled_at: DateTime<Utc>,
    #[serde(flatten)]
    pub preview: Preview,
}

/// What a send would do, read-only: messages per sender and the skipped cards by name and why.
pub async fn preview(app: &App, actor: &Actor, input: &SendInput) -> Result<PreviewView> {
    let r = recipients(actor, &input.recipients)?;
    visible(app.read(), actor, &input.template_id).await?;
    let at = input.scheduled_at.unwrap_or_else(|| app.now());
    let s = st::settings(app.read(), &actor.org_id).await?;
    let domain = sending_domain(app, &s);
    let preview = st::preview(app.read(), &actor.org_id, &r, at, domain.as_deref()).await?;
    Ok(PreviewView {
        scheduled_at: at,
        preview,
    })
}

/// Every skipped card of a would-be send (the preview's CSV).
pub async fn preview_skipped(app: &App, actor: &Actor, input: &SendInput) -> Result<Vec<SkippedCard>> {
    let r = recipients(actor, &input.recipients)?;
    let at = input.scheduled_at.unwrap_or_else(|| app.now());
    let s = st::settings(app.read(), &actor.org_id).await?;
    let domain = sending_domain(app, &s);
    st::skipped(app.read(), &actor.org_id, &r, at, domain.as_deref(), None).await
}

/// The organisation's sending domain, else the server's.
fn sending_domain(app: &App, s: &Settings) -> Option<String> {
    s.sending_domain
        .clone()
        .or_else(|| app.mail.as_ref().and_then(|m| m.config.from_domain.clone()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SendView {
    #[serde(flatten)]
    pub send: SendRow,
    /// Messages by state: queued, sending, sent, failed, bounced, cancelled.
    pub messages: std::collections::BTreeMap<String, i64>,
}

/// Makes a One to One send: resolves the selection and queues its messages in one unit of
/// work (refused if mail is not configured or the day's limit would be passed).
pub async fn send(app: &App, actor: &Actor, input: SendInput) -> Result<SendView> {
    mailer(app)?;
    let r = recipients(actor, &input.recipients)?;
    let selection = serde_json::to_value(&input.recipients).map_err(|e| Error::internal(e.to_string()))?;
    let id = app
        .write(actor, async |tx, who| {
            st::lock_sends(tx, who.org_id).await?;
            let t = visible(tx, actor, &input.template_id).await?;
            let at = input.scheduled_at.unwrap_or(who.at);
            if at < who.at - chrono::Duration::minutes(1) {
                return Err(Error::bad_input("scheduled_at", "scheduled_at is in the past"));
            }
            let s = st::settings(tx, who.org_id).await?;
            let domain = sending_domain(app, &s);
            let new = st::NewSend {
                kind: SendKind::OneToOne,
                created_by: who.actor_id,
                template_id: Some(&t.id),
                departure_id: None,
                subject: &t.subject,
                body: &t.body,
                html_body: t.html_body.as_deref(),
                selection: selection.clone(),
                scheduled_at: at,
            };
            let id = st::insert_send(tx, who.org_id, &new, who.at).await?;
            let (queued, skipped) = st::enqueue(tx, who.org_id, &id, &r, at, domain.as_deref(), who.at).await?;
            if queued == 0 {
                return Err(Error::unprocessable(format!(
                    "no card of the selection can be sent to ({skipped} skipped); see the preview for why"
                )));
            }
            check_daily_limit(tx, who, &s).await?;
            audit(
                tx,
                who,
                "mail_send.create",
                ("mail_send", &id),
                None,
                Some(
                    serde_json::json!({"template_id": t.id, "recipients": selection, "scheduled_at": at,
                                        "queued": queued, "skipped": skipped}),
                ),
            )
            .await?;
            Ok(id)
        })
        .await?;
    get_send(app, actor, &id).await
}

/// The messages queued today (the organisation's day, in its zone; a send counts on the day it
/// is made, whenever it goes), this send's included, must stay within its limit. The caller
/// took `store::mail::lock_sends` first thing in its unit of work, so that two sends made at
/// once never both pass (taken later, the lock would wait on the other send's foreign-key lock
/// on the same row: a deadlock).
async fn check_daily_limit(tx: &store::Tx, who: super::Who<'_>, s: &Settings) -> Result<()> {
    let org = super::org(tx, who.org_id).await?;
    let policy = org.policy()?;
    let day_start = policy.day_start(policy.today(who.at));
    let n = st::queued_since(tx, who.org_id, day_start).await?;
    if n > s.daily_limit {
        return Err(Error::unprocessable(format!(
            "this send would make {n} messages today, over the organisation's daily limit of {}",
            s.daily_limit
        )));
    }
    Ok(())
}

fn may_see_send(actor: &Actor, s: &SendRow) -> bool {
    actor.is_admin() || (actor.user_id().is_some() && s.created_by.as_deref() == actor.user_id())
}

async fn visible_send(c: &impl store::Conn, actor: &Actor, id: &str) -> Result<SendRow> {
    st::send_by_id(c, &actor.org_id, id)
        .await?
        .filter(|s| may_see_send(actor, s))
        .ok_or_else(|| Error::not_found("send"))
}

pub async fn get_send(app: &App, actor: &Actor, id: &str) -> Result<SendView> {
    let send = visible_send(app.read(), actor, id).await?;
    let messages = st::message_states(app.read(), &actor.org_id, id)
        .await?
        .into_iter()
        .collect();
    Ok(SendView { send, messages })
}

/// Sends newest first: all of them for admins, one's own for members.
pub async fn list_sends(app: &App, actor: &Actor, cursor: Option<&str>, limit: Option<u64>) -> Result<Page<SendRow>> {
    let limit = page_limit(limit)?;
    let before = store::parse_cursor(cursor)?;
    let mine = (!actor.is_admin()).then(|| actor.user_id().unwrap_or_default());
    let rows = st::sends(app.read(), &actor.org_id, mine, before.as_deref(), limit + 1).await?;
    Ok(paginate(rows, limit, |s| s.id.clone()))
}

pub async fn send_messages(
    app: &App,
    actor: &Actor,
    id: &str,
    cursor: Option<&str>,
    limit: Option<u64>,
) -> Result<Page<MessageRow>> {
    visible_send(app.read(), actor, id).await?;
    let limit = page_limit(limit)?;
    let after = cursor.filter(|c| !c.is_empty());
    let rows = st::messages(app.read(), &actor.org_id, id, after, limit + 1).await?;
    Ok(paginate(rows, limit, |m| m.id.clone()))
}

pub async fn send_skipped(app: &App, actor: &Actor, id: &str) -> Result<Vec<SkippedCard>> {
    visible_send(app.read(), actor, id).await?;
    st::send_skips(app.read(), &actor.org_id, id, None).await
}

/// Cancels a send that has not started (its creator or an admin).
pub async fn cancel(app: &App, actor: &Actor, id: &str) -> Result<SendView> {
    app.write(actor, async |tx, who| {
        let before = visible_send(tx, actor, id).await?;
        if !st::cancel(tx, who.org_id, id, who.at).await? {
            return Err(Error::conflict(format!(
                "the send is {} and can no longer be cancelled",
                before.status.as_str()
            )));
        }
        audit(
            tx,
            who,
            "mail_send.cancel",
            ("mail_send", id),
            Some(serde_json::json!({"status": before.status})),
            Some(serde_json::json!({"status": SendStatus::Cancelled})),
        )
        .await
    })
    .await?;
    get_send(app, actor, id).await
}

/// The skipped list as CSV (UTF-8 with BOM, for Excel): name, company, email, owner, reason.
pub fn skipped_csv(rows: &[SkippedCard]) -> Vec<u8> {
    let mut w = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    let _ = w.write_record([
        "card_id",
        "氏名",
        "会社名",
        "メールアドレス",
        "所有者",
        "理由",
        "reason",
    ]);
    for r in rows {
        let _ = w.write_record([
            r.card_id.as_str(),
            &r.full_name,
            &r.company,
            &r.email,
            &r.owner_name,
            r.reason.label_ja(),
            r.reason.as_str(),
        ]);
    }
    w.into_inner().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Delivery

/// How one delivery went: Err((what the server or the connection said, permanent)).
pub(crate) type Delivery = std::result::Result<(), (String, bool)>;

/// How long a claimed message is a worker's before another may take it over.
const LEASE: chrono::Duration = chrono::Duration::minutes(5);
/// Messages claimed at a time.
const BATCH: u64 = 1024;
/// Messages in flight at once, each on its own pooled SMTP connection. lettre writes a
/// message and its closing dot in two writes, which Nagle's algorithm and the server's delayed
/// ACK turn into a 40 ms wait per message on one connection (25 a second); several
/// connections overlap those waits.
const CONNECTIONS: usize = 8;

/// Delivers until nothing is due: starts due sends, claims a batch, and while it goes out over
/// SMTP claims the next (the database work of one batch overlaps the sending of another; the
/// marks of a batch — sent; again later; failed or bounced — are written while the next is
/// sent). Returns how many messages it handled.
pub async fn deliver_due(app: &App, mailer: &Arc<Mailer>, worker: &str) -> Result<usize> {
    let mut total = 0;
    let mut claim = claim_batch(app).await?;
    let mut marking: Option<tokio::task::JoinHandle<Result<()>>> = None;
    while !claim.messages.is_empty() {
        total += claim.messages.len();
        tracing::debug!(%worker, claim = %claim.id, messages = claim.messages.len(), "mail claimed");
        let id = claim.id;
        let (outcomes, next) = tokio::join!(send_batch(mailer, claim.messages), claim_batch(app));
        if let Some(m) = marking.take() {
            m.await
                .map_err(|e| Error::internal(format!("marking delivered mail: {e}")))??;
        }
        marking = Some(tokio::spawn(mark_batch(app.clone(), id, outcomes)));
        claim = match next {
            Ok(c) => c,
            Err(e) => {
                if let Some(m) = marking.take() {
                    let _ = m.await;
                }
                return Err(e);
            }
        };
    }
    if let Some(m) = marking.take() {
        m.await
            .map_err(|e| Error::internal(format!("marking delivered mail: {e}")))??;
    }
    app.write_at(async |tx, _| st::finish_sends(tx).await).await?;
    Ok(total)
}

/// Starts the sends whose time has come and claims a batch of due messages.
pub(crate) async fn claim_batch(app: &App) -> Result<st::Claim> {
    app.write_at(async |tx, now| {
        st::start_due(tx, now).await?;
        st::claim(tx, now, now + LEASE, BATCH).await
    })
    .await
}

/// Sends a batch over up to `CONNECTIONS` pooled connections at once.
async fn send_batch(mailer: &Arc<Mailer>, batch: Vec<st::Outgoing>) -> Vec<(st::Outgoing, Delivery)> {
    futures_util::stream::iter(batch)
        .map(|m| {
            let mailer = mailer.clone();
            async move {
                let outcome = match build(&mailer, &m) {
                    Ok(message) => mailer.transport.send(message).await.map(|_| ()).map_err(|e| {
                        let permanent = e.is_permanent();
                        (e.to_string(), permanent)
                    }),
                    Err(e) => Err((e, true)),
                };
                (m, outcome)
            }
        })
        .buffer_unordered(CONNECTIONS)
        .collect()
        .await
}

/// Writes how a claim's batch went, in one unit of work: again later (4xx, network); failed;
/// bounced (5xx: the address goes on the bounce list); sent.
pub(crate) async fn mark_batch(app: App, claim: String, outcomes: Vec<(st::Outgoing, Delivery)>) -> Result<()> {
    let (sent, failed): (Vec<_>, Vec<_>) = outcomes.into_iter().partition(|(_, outcome)| outcome.is_ok());
    let sent: Vec<&st::Outgoing> = sent.iter().map(|(m, _)| m).collect();
    let failed: Vec<_> = failed
        .into_iter()
        .filter_map(|(m, outcome)| outcome.err().map(|(error, permanent)| (m, error, permanent)))
        .collect();
    let n_sent = sent.len() as u64;
    let (sent, failed, claim) = (&sent, &failed, claim.as_str());
    let mut outcomes = [0u64; 3];
    app.write_at(async |tx, at| {
        for (m, error, permanent) in failed {
            let retry = if *permanent {
                None
            } else {
                rules::retry_at(m.attempts, at)
            };
            st::mark_failed(tx, claim, &m.id, error, retry, *permanent, at).await?;
            if *permanent && m.kind != SendKind::Reminder {
                st::suppress(tx, &m.org_id, "bounce", &m.recipient.to_lowercase(), &short(error), at).await?;
            }
            if retry.is_none() {
                tracing::warn!(message = %m.id, %error, "mail not delivered");
            }
            outcomes[match (permanent, retry) {
                (true, _) => 2,
                (false, None) => 1,
                (false, Some(_)) => 0,
            }] += 1;
        }
        st::mark_sent(tx, claim, sent, at).await
    })
    .await?;
    let metrics = &app.metrics;
    metrics.delivered(Delivered::Sent, n_sent);
    metrics.delivered(Delivered::Retry, outcomes[0]);
    metrics.delivered(Delivered::Failed, outcomes[1]);
    metrics.delivered(Delivered::Bounced, outcomes[2]);
    Ok(())
}

fn short(s: &str) -> String {
    s.chars().take(200).collect()
}

/// The message as it goes out: From the card's owner, a Message-ID from the outbox row (the
/// same on every attempt), an opt-out link in a header and at the end of the text.
pub(crate) fn build(mailer: &Mailer, m: &st::Outgoing) -> std::result::Result<lettre::Message, String> {
    let values = rules::Values {
        name: m.to_name.clone(),
        company: m.company.clone(),
        department: m.department.clone(),
        title: m.title.clone(),
        sender_name: m.from_name.clone(),
        sender_email: m.from_addr.clone(),
        successor_name: m.successor_name.clone(),
        successor_email: m.successor_addr.clone(),
    };
    let from_addr = m
        .from_addr
        .parse()
        .map_err(|e| format!("sender address {}: {e}", m.from_addr))?;
    let to_addr = m
        .recipient
        .parse()
        .map_err(|e| format!("recipient address {}: {e}", m.recipient))?;
    let domain = mailer
        .config
        .from_domain
        .clone()
        .or_else(|| m.from_addr.rsplit_once('@').map(|(_, d)| d.to_string()))
        .unwrap_or_else(|| "meishi.invalid".into());
    let mut text = rules::render(&m.body, &values, false);
    let mut builder = lettre::Message::builder()
        .from(Mailbox::new(Some(m.from_name.clone()), from_addr))
        .to(Mailbox::new(Some(m.to_name.clone()).filter(|n| !n.is_empty()), to_addr))
        .subject(rules::render_subject(&m.subject, &values))
        .message_id(Some(format!("<{}@{domain}>", m.id)));
    if m.kind != SendKind::Reminder {
        let link = format!(
            "{}/mail/opt-out/{}?t={}",
            mailer.config.public_url.trim_end_matches('/'),
            m.id,
            opt_out_token(&m.secret, &m.id)
        );
        text.push_str(&format!(
            "\n\n--\n今後このようなメールの受信を希望されない場合: {link}\n"
        ));
        builder = builder
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe"),
                format!("<{link}>"),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("List-Unsubscribe-Post"),
                "List-Unsubscribe=One-Click".into(),
            ));
    }
    let message = match &m.html_body {
        None => builder.header(ContentType::TEXT_PLAIN).body(text),
        Some(html) => builder.multipart(MultiPart::alternative_plain_html(
            text,
            rules::render(html, &values, true),
        )),
    };
    message.map_err(|e| format!("message: {e}"))
}

/// The delivery worker `meishi serve` starts: rounds back to back while there is mail, a pause
/// of `idle` otherwise; errors are logged and retried.
pub async fn run_worker(app: App, mailer: Arc<Mailer>, idle: Duration) {
    let worker = store::new_id();
    tracing::info!(%worker, "mail worker started");
    loop {
        match deliver_due(&app, &mailer, &worker).await {
            Ok(0) => tokio::time::sleep(idle).await,
            Ok(_) => {}
            Err(e) => {
                tracing::error!(error = %e, "mail delivery round failed");
                tokio::time::sleep(idle).await;
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The customer handover notice (引き継ぎのご挨拶)

/// Who a departure's notice goes to and who takes each customer over.
async fn notice_scope(
    c: &impl store::Conn,
    org_id: &str,
    d: &crate::domain::departure::Departure,
) -> Result<st::NoticeScope> {
    let items = store::departures::plan_items(c, d.id.as_str()).await?;
    let mut lines = Vec::new();
    for line in d.execution_lines(&items) {
        if line.position.is_none() {
            continue;
        }
        let sel = crate::domain::transfer::Selection::parse(&line.selection)?;
        let (pred, values) = store::transfers::selection_sql(org_id, d.user_id.as_str(), &sel);
        lines.push((pred, values, line.successor_id.to_string()));
    }
    Ok(st::NoticeScope {
        departure_id: d.id.to_string(),
        leaver_id: d.user_id.to_string(),
        default_successor: d.successor_id.to_string(),
        lines,
        since: d.created_at,
    })
}

/// The notice's customers for a departure (admins, or the leaver): one per person, with their
/// successor; who had it already; who is left out and why.
pub async fn notice_preview(app: &App, actor: &Actor, departure_id: &str) -> Result<st::NoticePreview> {
    let c = app.read();
    let d = super::departures::find(c, actor, departure_id).await?;
    let scope = notice_scope(c, &actor.org_id, &d).await?;
    st::notice_preview(c, &actor.org_id, &scope).await
}

/// (customers still to notify, customers notified) of a departure, for its readiness.
pub(crate) async fn notice_counts(
    c: &impl store::Conn,
    org_id: &str,
    d: &crate::domain::departure::Departure,
) -> Result<(i64, i64)> {
    let scope = notice_scope(c, org_id, d).await?;
    st::notice_counts(c, org_id, &scope).await
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeInput {
    pub template_id: String,
    /// When to send (default: now).
    pub scheduled_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeResult {
    /// Customers the notice was queued for now.
    pub queued: i64,
    /// Customers who had it before (not sent twice).
    pub already_sent: i64,
    /// The send, when something was queued.
    pub send: Option<SendView>,
}

/// Sends the handover notice of an approved plan to every customer who has not had it: from
/// the leaver (the organisation's default; they must still be active) or from each customer's
/// successor. Re-running sends nothing twice.
pub async fn send_notice(app: &App, actor: &Actor, departure_id: &str, input: NoticeInput) -> Result<NoticeResult> {
    mailer(app)?;
    let outcome = app
        .write(actor, async |tx, who| {
            st::lock_sends(tx, who.org_id).await?;
            let d = super::departures::find(tx, actor, departure_id).await?;
            if !d.plan_status.frozen() {
                return Err(Error::conflict(
                    "the handover notice names the successors of an approved plan: approve the plan first",
                ));
            }
            let t = visible(tx, actor, &input.template_id).await?;
            let at = input.scheduled_at.unwrap_or(who.at);
            if at < who.at - chrono::Duration::minutes(1) {
                return Err(Error::bad_input("scheduled_at", "scheduled_at is in the past"));
            }
            let s = st::settings(tx, who.org_id).await?;
            let leaver = store::users::by_id(tx, who.org_id, d.user_id.as_str())
                .await?
                .ok_or_else(|| Error::not_found("user"))?
                .user;
            if s.handover_from == "leaver" && leaver.status != crate::domain::UserStatus::Active {
                return Err(Error::unprocessable(format!(
                    "{} is no longer active and cannot send; set the organisation's handover notice sender to \
                     the successor (PATCH /api/v1/mail/settings {{\"handover_from\": \"successor\"}})",
                    leaver.display_name
                )));
            }
            let scope = notice_scope(tx, who.org_id, &d).await?;
            let new = st::NewSend {
                kind: SendKind::Handover,
                created_by: who.actor_id,
                template_id: Some(&t.id),
                departure_id: Some(d.id.as_str()),
                subject: &t.subject,
                body: &t.body,
                html_body: t.html_body.as_deref(),
                selection: serde_json::json!({"departure_id": d.id.as_str()}),
                scheduled_at: at,
            };
            let send_id = st::insert_send(tx, who.org_id, &new, who.at).await?;
            let from = (s.handover_from == "leaver").then_some((
                leaver.id.as_str(),
                leaver.display_name.as_str(),
                leaver.email.as_str(),
            ));
            let queued = st::enqueue_notice(tx, who.org_id, &send_id, &scope, from, at, who.at).await?;
            let (_, already_sent) = st::notice_counts(tx, who.org_id, &scope).await?;
            if queued == 0 {
                st::delete_send(tx, who.org_id, &send_id).await?;
                return Ok((None, already_sent));
            }
            st::set_counts(tx, who.org_id, &send_id).await?;
            check_daily_limit(tx, who, &s).await?;
            audit(
                tx,
                who,
                "mail_notice.send",
                ("departure", d.id.as_str()),
                None,
                Some(
                    serde_json::json!({"send_id": send_id, "template_id": t.id, "queued": queued,
                                        "from": s.handover_from}),
                ),
            )
            .await?;
            Ok((Some((send_id, queued)), already_sent))
        })
        .await?;
    match outcome {
        (None, already_sent) => Ok(NoticeResult {
            queued: 0,
            already_sent,
            send: None,
        }),
        (Some((id, queued)), already_sent) => Ok(NoticeResult {
            queued,
            already_sent: already_sent - queued,
            send: Some(get_send(app, actor, &id).await?),
        }),
    }
}

// ---------------------------------------------------------------------------------------------
// Reminders (a scheduler job): leavers without a reported plan a week before their last working
// day, and admins for departures needing action; once a day each, through the outbox

/// Queues today's reminders; returns how many. Nothing without SMTP, nothing for an
/// organisation that turned reminders off.
pub async fn remind(
    app: &App,
    orgs: &std::collections::HashMap<String, crate::domain::model::Organization>,
) -> Result<usize> {
    let Some(mailer) = app.mail.clone() else { return Ok(0) };
    let now = app.now();
    let mut settings: std::collections::HashMap<String, bool> = std::collections::HashMap::new();
    let mut n = 0;
    let leaving = store::departures::scheduled(app.read()).await?;
    let stuck = store::departures::needing_action(app.read()).await?;
    for (org_id, d, to_admins) in leaving
        .into_iter()
        .map(|(o, d)| (o, d, false))
        .chain(stuck.into_iter().map(|(o, d)| (o, d, true)))
    {
        let Some(org) = orgs.get(&org_id) else { continue };
        let Ok(policy) = org.policy() else { continue };
        let today = policy.today(now);
        if !to_admins && !rules::leaver_reminder_due(&d, today) {
            continue;
        }
        let on = match settings.get(&org_id) {
            Some(on) => *on,
            None => {
                let on = st::settings(app.read(), &org_id).await?.reminders;
                settings.insert(org_id.clone(), on);
                on
            }
        };
        if !on {
            continue;
        }
        match remind_one(app, &mailer, org, &d, to_admins, today).await {
            Ok(k) => n += k,
            Err(e) => tracing::error!(departure = %d.id, error = %e, "reminder failed; retrying at the next tick"),
        }
    }
    Ok(n)
}

/// One departure's reminders, in one unit of work: to the leaver, or to each active admin.
async fn remind_one(
    app: &App,
    mailer: &Mailer,
    org: &crate::domain::model::Organization,
    d: &crate::domain::departure::Departure,
    to_admins: bool,
    today: chrono::NaiveDate,
) -> Result<usize> {
    let url = mailer.config.public_url.trim_end_matches('/').to_string();
    app.write(&Actor::system(&org.id), async |tx, who| {
        let Some(leaver) = store::users::by_id(tx, who.org_id, d.user_id.as_str()).await?.map(|r| r.user) else {
            return Ok(0);
        };
        let recipients = if to_admins {
            store::users::active_admins(tx, who.org_id).await?
        } else {
            vec![leaver.clone()]
        };
        let days = (d.last_working_day - today).num_days();
        let (subject, body) = if to_admins {
            (
                format!("【meishi】要対応の退職者: {}", leaver.display_name),
                format!(
                    "{} さんの退職手続きが要対応です。利用停止後もまだ所有しているデータがあります。\n\
                     退職者デスクで引き継ぎを完了してください: {url}/departures/{}\n\n\
                     The departure of {} needs action: they are suspended and still own data.\n",
                    leaver.display_name, d.id, leaver.display_name
                ),
            )
        } else {
            (
                format!("【meishi】引き継ぎ計画の報告をお願いします（最終出社日 {}）", d.last_working_day),
                format!(
                    "{} 様\n\n最終出社日（{}）まであと{days}日です。引き継ぎ計画がまだ報告されていません。\n\
                     「私の引き継ぎ」から、どの名刺を誰に引き継ぐかを報告してください: {url}/me/handover\n\n\
                     Your last working day is {}, in {days} days, and your handover plan is not reported yet: {url}/me/handover\n",
                    leaver.display_name, d.last_working_day, d.last_working_day
                ),
            )
        };
        let mut queued = 0;
        for r in &recipients {
            let key = rules::reminder_key(d.id.as_str(), &r.id, today);
            // Every tick comes here: today's reminder, once queued, is not written again.
            if st::has_key(tx, who.org_id, &key).await? {
                continue;
            }
            let domain = mailer
                .config
                .from_domain
                .clone()
                .or_else(|| r.email.rsplit_once('@').map(|(_, d)| d.to_string()))
                .unwrap_or_else(|| "meishi.invalid".into());
            let new = st::NewSend {
                kind: SendKind::Reminder,
                created_by: None,
                template_id: None,
                departure_id: Some(d.id.as_str()),
                subject: &subject,
                body: &body,
                html_body: None,
                selection: serde_json::json!({"departure_id": d.id.as_str(), "user_id": r.id}),
                scheduled_at: who.at,
            };
            let send_id = st::insert_send(tx, who.org_id, &new, who.at).await?;
            let m = st::OneMessage {
                card_id: None,
                recipient: &r.email,
                to_name: &r.display_name,
                company: "",
                department: "",
                title: "",
                sender_id: None,
                from_name: "meishi",
                from_addr: &format!("meishi@{domain}"),
                successor_name: "",
                successor_addr: "",
                dedupe_key: &key,
            };
            if st::enqueue_one(tx, who.org_id, &send_id, &m, who.at, who.at).await? {
                st::set_counts(tx, who.org_id, &send_id).await?;
                audit(
                    tx,
                    who,
                    "mail_reminder.queue",
                    ("departure", d.id.as_str()),
                    None,
                    Some(serde_json::json!({"to": r.id, "day": today, "admins": to_admins})),
                )
                .await?;
                queued += 1;
            } else {
                st::delete_send(tx, who.org_id, &send_id).await?;
            }
        }
        Ok(queued)
    })
    .await
}
