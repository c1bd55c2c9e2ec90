//! `meishi audit verify` and `meishi audit export`: the audit log's hash chain walked, and
//! the log written out for archiving.

use crate::domain::{Error, Result};
use crate::service::audit::{self, ArchiveFormat};
use crate::service::{Actor, App, auth};
use clap::Subcommand;
use std::io::Write;

#[derive(Subcommand)]
pub enum AuditCommand {
    /// Walk each organisation's audit chain and report its first broken link (exit code 1
    /// if any); prints each organisation's head (seq and hash) to record elsewhere
    Verify {
        #[command(flatten)]
        db: super::Db,
        /// Only this organisation (default: every organisation)
        #[arg(long)]
        org: Option<String>,
    },
    /// Write the organisation's audit log, in chain order with its hashes, to standard output
    Export {
        #[command(flatten)]
        db: super::Db,
        /// csv or jsonl
        #[arg(long, default_value = "jsonl")]
        format: String,
        /// The organisation's slug, when the server has several
        #[arg(long)]
        org: Option<String>,
    },
}

pub async fn run(command: AuditCommand) -> Result<()> {
    match command {
        AuditCommand::Verify { db, org } => verify(&super::open_org(&db.database).await?, org.as_deref()).await,
        AuditCommand::Export { db, format, org } => {
            let format = ArchiveFormat::parse(&format)?;
            export(&super::open_org(&db.database).await?, org.as_deref(), format).await
        }
    }
}

async fn verify(app: &App, org: Option<&str>) -> Result<()> {
    let mut broken = 0;
    for v in audit::verify(app, org).await? {
        match &v.broken {
            None => println!(
                "{}: ok, {} events; head {} {}",
                v.org_slug, v.verified, v.head_seq, v.head_hash
            ),
            Some(b) => {
                broken += 1;
                let at =
                    b.at.map(|t| format!(" at {}", t.format("%Y-%m-%d %H:%M:%S%.6f UTC")))
                        .unwrap_or_default();
                let event = b.event_id.as_deref().map(|id| format!(" ({id})")).unwrap_or_default();
                println!(
                    "{}: BROKEN at event {}{event}{at}: {}; {} events verified before it; head {} {}",
                    v.org_slug, b.seq, b.why, v.verified, v.head_seq, v.head_hash
                );
            }
        }
    }
    if broken > 0 {
        return Err(Error::conflict(format!(
            "the audit log of {broken} organisation(s) does not verify"
        )));
    }
    Ok(())
}

async fn export(app: &App, org: Option<&str>, format: ArchiveFormat) -> Result<()> {
    let org = auth::resolve_org(app, org).await?;
    let mut archive = audit::archive(app, &Actor::system(&org.id), format).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout());
    let io = |e: std::io::Error| Error::internal(format!("writing the export: {e}"));
    while let Some(chunk) = archive.next_chunk().await? {
        out.write_all(&chunk).map_err(io)?;
    }
    out.flush().map_err(io)?;
    eprintln!(
        "exported {} events of {}; head {} {}",
        archive.head_seq, org.slug, archive.head_seq, archive.head_hash
    );
    Ok(())
}
