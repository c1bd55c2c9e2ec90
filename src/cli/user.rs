//! `meishi user …`, `meishi archive-account create`, `meishi departure readiness`: the
//! lifecycle use cases from the terminal, acting as the system (audited without a user).

use crate::domain::departure::ItemState;
use crate::domain::{Error, Result};
use crate::service::{Actor, App, auth, departures, lifecycle, orgs};

pub enum Action {
    Suspend,
    Reactivate,
    Delete { archive: bool },
    Restore,
    Export,
}

async fn find(app: &App, org: Option<&str>, email: &str) -> Result<(Actor, String)> {
    let org = auth::resolve_org(app, org).await?;
    let id = super::user_id(app, &org.id, email, "email").await?;
    Ok((Actor::system(&org.id), id))
}

pub async fn run(app: &App, org: Option<&str>, email: &str, action: Action) -> Result<()> {
    let (actor, id) = find(app, org, email).await?;
    let user = match action {
        Action::Suspend => lifecycle::suspend(app, &actor, &id).await?,
        Action::Reactivate => lifecycle::reactivate(app, &actor, &id).await?,
        Action::Delete { archive } => lifecycle::delete(app, &actor, &id, archive).await?,
        Action::Restore => lifecycle::restore(app, &actor, &id).await?,
        Action::Export => {
            let export = lifecycle::export(app, &actor, &id).await?;
            let json = serde_json::to_string_pretty(&export).map_err(|e| Error::internal(e.to_string()))?;
            println!("{json}");
            return Ok(());
        }
    };
    println!("{} <{}>: {}", user.display_name, user.email, user.status.as_str());
    Ok(())
}

pub async fn create_archive(app: &App, org: Option<&str>) -> Result<()> {
    let org = auth::resolve_org(app, org).await?;
    let (account, created) = lifecycle::archive_account(app, &Actor::system(&org.id)).await?;
    let verb = if created { "created" } else { "already exists" };
    println!("archive account {verb}: {} ({})", account.display_name, account.id);
    Ok(())
}

/// The readiness checklist of a user's scheduled departure.
pub async fn readiness(app: &App, org: Option<&str>, email: &str) -> Result<()> {
    let (actor, id) = find(app, org, email).await?;
    let d = departures::open_for_user(app, &actor, &id)
        .await?
        .ok_or_else(|| Error::not_found(&format!("scheduled departure of {email}")))?;
    let r = departures::readiness(app, &actor, &d.id).await?;
    let policy = orgs::get(app, &actor).await?.policy()?;
    println!(
        "引き継ぎ状況 {email}: last working day {}, suspension {} ({})",
        d.last_working_day,
        policy.local_text(d.suspend_moment),
        d.status.as_str()
    );
    for item in &r.items {
        let n = item.count.unwrap_or(0);
        let (mark, count) = match item.state {
            ItemState::NotAvailable => ("[-]", "not available yet".to_string()),
            ItemState::Done => ("[x]", "done".to_string()),
            _ if item.key == "plan" => ("[ ]", format!("plan {}", r.plan_status.as_str())),
            ItemState::Planned => ("[~]", format!("{n} planned")),
            ItemState::Open => ("[ ]", format!("{n} open")),
        };
        println!("  {mark} {} / {}: {count}", item.label_ja, item.label_en);
    }
    println!("{}", if r.ready { "ready" } else { "not ready" });
    Ok(())
}
