//! `meishi mail …`: hand a leaver's templates over, preview or make a One to One send, list
//! the sends; the same use cases as the API (`service::mail`), acting as the system.

use crate::domain::{Error, Result};
use crate::service::mail::{self, RecipientsInput, SendInput};
use crate::service::{Actor, auth, cards};
use clap::Subcommand;

#[derive(Subcommand)]
pub enum MailCommand {
    /// Re-create every mail template of one user under another (linked to the originals, which
    /// are removed)
    HandOverTemplates {
        #[command(flatten)]
        db: super::Db,
        /// The organisation's slug, when the server has several
        #[arg(long)]
        org: Option<String>,
        /// The leaving user's email
        #[arg(long)]
        from: String,
        /// The successor's email
        #[arg(long)]
        to: String,
        /// Count what would be handed over, change nothing
        #[arg(long)]
        dry_run: bool,
    },
    /// One to One mail: each card's owner sends to it. With --dry-run, the preview: messages per
    /// sender and every card left out, by name and why
    Send {
        #[command(flatten)]
        db: super::Db,
        #[command(flatten)]
        mail: super::MailArgs,
        /// The organisation's slug, when the server has several
        #[arg(long)]
        org: Option<String>,
        /// The template's id
        #[arg(long)]
        template: String,
        /// Cards of this company
        #[arg(long)]
        company: Option<String>,
        /// Cards with this tag (a shared tag's name)
        #[arg(long)]
        tag: Option<String>,
        /// Cards of this owner (email)
        #[arg(long)]
        owner: Option<String>,
        /// When to send (RFC 3339, e.g. 2026-12-01T09:00:00+09:00); now if not given
        #[arg(long)]
        at: Option<String>,
        /// Preview only
        #[arg(long)]
        dry_run: bool,
    },
    /// The customer handover notice (引き継ぎのご挨拶) of a leaver's approved plan: once per
    /// customer, naming their successor. With --dry-run, the customers and their successors
    Notice {
        #[command(flatten)]
        db: super::Db,
        #[command(flatten)]
        mail: super::MailArgs,
        /// The organisation's slug, when the server has several
        #[arg(long)]
        org: Option<String>,
        /// The leaving user's email
        #[arg(long)]
        user: String,
        /// The template's id (required unless --dry-run)
        #[arg(long)]
        template: Option<String>,
        /// List the customers only
        #[arg(long)]
        dry_run: bool,
    },
    /// The sends, newest first, with their counts
    Sends {
        #[command(flatten)]
        db: super::Db,
        /// The organisation's slug, when the server has several
        #[arg(long)]
        org: Option<String>,
    },
}

pub async fn run(command: MailCommand) -> Result<()> {
    match command {
        MailCommand::HandOverTemplates {
            db,
            org,
            from,
            to,
            dry_run,
        } => {
            let app = super::open_org(&db.database).await?;
            let org = auth::resolve_org(&app, org.as_deref()).await?;
            let actor = Actor::system(&org.id);
            let from_id = super::user_id(&app, &org.id, &from, "from").await?;
            let to_id = super::user_id(&app, &org.id, &to, "to").await?;
            let done = mail::hand_over_templates(&app, &actor, &from_id, &to_id, dry_run).await?;
            let verb = if dry_run { "would hand over" } else { "handed over" };
            println!("{verb} {} mail templates from {from} to {to}", done.templates.len());
            Ok(())
        }
        MailCommand::Send {
            db,
            mail: mail_args,
            org,
            template,
            company,
            tag,
            owner,
            at,
            dry_run,
        } => {
            let app = super::open_org(&db.database).await?;
            let app = mail_args.apply(app, "http://127.0.0.1:8080")?;
            let org = auth::resolve_org(&app, org.as_deref()).await?;
            let actor = Actor::system(&org.id);
            let tag_id = match &tag {
                Some(t) => Some(cards::tag_named(&app, &actor, t, None).await?),
                None => None,
            };
            let owner_id = match &owner {
                Some(o) => Some(super::user_id(&app, &org.id, o, "owner").await?),
                None => None,
            };
            let scheduled_at = at
                .as_deref()
                .map(|s| {
                    chrono::DateTime::parse_from_rfc3339(s)
                        .map(|t| t.with_timezone(&chrono::Utc))
                        .map_err(|_| {
                            Error::bad_input("at", format!("'{s}' is not a time like 2026-12-01T09:00:00+09:00"))
                        })
                })
                .transpose()?;
            let input = SendInput {
                template_id: template,
                recipients: RecipientsInput {
                    owner_id,
                    tag_id,
                    company,
                    card_ids: vec![],
                },
                scheduled_at,
            };
            if dry_run {
                let p = mail::preview(&app, &actor, &input).await?;
                println!("{} messages, {} cards left out", p.preview.messages, p.preview.skipped);
                for s in &p.preview.by_sender {
                    println!("  from {} <{}>: {}", s.display_name, s.email, s.messages);
                }
                for r in &p.preview.by_reason {
                    println!("  left out, {} ({}): {}", r.label, r.reason.as_str(), r.cards);
                }
                for c in &p.preview.skipped_cards {
                    println!(
                        "    {} ({}) — {}: {}",
                        c.full_name,
                        c.company,
                        c.owner_name,
                        c.reason.label_ja()
                    );
                }
                for l in &p.preview.leaving_later {
                    println!(
                        "  {} is suspended at {}: {} cards drop out of later sends",
                        l.display_name, l.suspends_at, l.cards
                    );
                }
                return Ok(());
            }
            let s = mail::send(&app, &actor, input).await?;
            println!(
                "send {}: {} messages queued, {} cards left out; `meishi serve` delivers it at {}",
                s.send.id, s.send.queued, s.send.skipped, s.send.scheduled_at
            );
            Ok(())
        }
        MailCommand::Notice {
            db,
            mail: mail_args,
            org,
            user,
            template,
            dry_run,
        } => {
            let app = super::open_org(&db.database).await?;
            let app = mail_args.apply(app, "http://127.0.0.1:8080")?;
            let org = auth::resolve_org(&app, org.as_deref()).await?;
            let actor = Actor::system(&org.id);
            let user_id = super::user_id(&app, &org.id, &user, "user").await?;
            let d = crate::service::departures::open_for_user(&app, &actor, &user_id)
                .await?
                .ok_or_else(|| Error::not_found(&format!("open departure of {user}")).with_field("user"))?;
            if dry_run {
                let p = mail::notice_preview(&app, &actor, d.id.as_str()).await?;
                println!(
                    "{} customers to tell, {} told before, {} cards left out",
                    p.messages, p.already_sent, p.skipped
                );
                for c in &p.customers {
                    println!("  {} ({}) <{}> → {}", c.full_name, c.company, c.email, c.successor_name);
                }
                return Ok(());
            }
            let template_id =
                template.ok_or_else(|| Error::bad_input("template", "give --template ID (or --dry-run)"))?;
            let input = mail::NoticeInput {
                template_id,
                scheduled_at: None,
            };
            let r = mail::send_notice(&app, &actor, d.id.as_str(), input).await?;
            println!(
                "handover notice queued for {} customers ({} told before, not again)",
                r.queued, r.already_sent
            );
            Ok(())
        }
        MailCommand::Sends { db, org } => {
            let app = super::open_org(&db.database).await?;
            let org = auth::resolve_org(&app, org.as_deref()).await?;
            let actor = Actor::system(&org.id);
            let page = mail::list_sends(&app, &actor, None, Some(500)).await?;
            for s in page.items {
                println!(
                    "{} {} {} {:<10} queued {:>7} skipped {:>7}  {}",
                    s.id,
                    s.created_at.format("%Y-%m-%d %H:%M"),
                    s.kind.as_str(),
                    s.status.as_str(),
                    s.queued,
                    s.skipped,
                    s.subject
                );
            }
            Ok(())
        }
    }
}
