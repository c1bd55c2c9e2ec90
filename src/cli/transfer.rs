//! `meishi transfer …`: the transfer use case from the terminal, with a progress display.

use crate::domain::transfer::SelectionInput;
use crate::domain::{Error, Result};
use crate::service::transfers::{self, Outcome, TransferRequest};
use crate::service::{Actor, App, auth, cards};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::{Duration, Instant};

pub struct Args {
    pub org: Option<String>,
    pub from: String,
    pub to: String,
    pub tag: Option<String>,
    pub company: Option<String>,
    pub all: bool,
    pub include_tags: bool,
    pub dry_run: bool,
}

fn spinner() -> ProgressBar {
    let bar = ProgressBar::new_spinner();
    bar.set_style(ProgressStyle::with_template("{spinner} {elapsed_precise} {msg}").expect("template"));
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

pub async fn run(app: &App, a: Args) -> Result<()> {
    let org = auth::resolve_org(app, a.org.as_deref()).await?;
    let actor = Actor::system(&org.id);
    let from = super::user_id(app, &org.id, &a.from, "from").await?;
    let to = super::user_id(app, &org.id, &a.to, "to").await?;
    let selection = match (&a.tag, &a.company, a.all) {
        (Some(t), None, false) => SelectionInput {
            tag_id: Some(cards::tag_named(app, &actor, t, Some(&from)).await?),
            ..Default::default()
        },
        (None, Some(c), false) => SelectionInput {
            company: Some(c.clone()),
            ..Default::default()
        },
        (None, None, true) => SelectionInput {
            all: Some(true),
            ..Default::default()
        },
        _ => {
            return Err(Error::bad_input(
                "selection",
                "give exactly one of --all, --tag NAME, --company NAME",
            ));
        }
    };
    let req = TransferRequest {
        from_user_id: from,
        to_user_id: to,
        selection,
        include_tags: a.include_tags,
        dry_run: a.dry_run,
    };
    let bar = spinner();
    let started = Instant::now();
    let outcome = transfers::transfer(app, &actor, req, &|step| bar.set_message(step.to_string())).await;
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    match outcome? {
        Outcome::Preview(p) => println!(
            "dry run: would move {} cards, {} contacts and {} tags from {} to {}, tagged '{}' ({secs:.2}s)",
            p.cards, p.contacts, p.tags, a.from, a.to, p.tag_name
        ),
        Outcome::Done(t) => println!(
            "transfer {}: moved {} cards, {} contacts and {} tags from {} to {}, tagged '{}' ({secs:.2}s); undo with: meishi transfer undo {}",
            t.id, t.cards, t.contacts, t.tags, a.from, a.to, t.tag_name, t.id
        ),
    }
    Ok(())
}

pub async fn undo(app: &App, org: Option<&str>, id: &str) -> Result<()> {
    let org = auth::resolve_org(app, org).await?;
    let actor = Actor::system(&org.id);
    let bar = spinner();
    let started = Instant::now();
    let result = transfers::undo(app, &actor, id, &|step| bar.set_message(step.to_string())).await;
    bar.finish_and_clear();
    let r = result?;
    println!(
        "undid transfer {}: {} cards restored, {} left alone because they moved again or were deleted ({:.2}s)",
        r.transfer.id,
        r.restored,
        r.skipped,
        started.elapsed().as_secs_f64()
    );
    for id in &r.skipped_card_ids {
        println!("  skipped card {id}");
    }
    Ok(())
}
