//! The `meishi` command line: a thin adapter over the same services as the HTTP API.

mod audit;
mod backup;
mod bench;
mod bench_audit;
mod bench_http;
mod bench_import;
mod bench_mail;
mod bench_search;
mod import;
mod mail;
pub mod smtp_sink;
mod transfer;
mod user;

use crate::domain::{Error, SystemClock};
use crate::service::{App, auth, demo, orgs, scheduler};
use clap::{Args, Parser, Subcommand};
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "meishi",
    version,
    about = "Business-card and contact server with first-class offboarding (退職者対応)"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Db {
    /// Database URL: sqlite://FILE (init, demo, serve and migrate make a missing file) or postgres://USER@HOST/DB
    #[arg(long, env = "MEISHI_DATABASE_URL", default_value = "sqlite://meishi.db")]
    database: String,
}

/// Mail (One to One mail, handover notices, reminders); without an SMTP URL sends are refused.
#[derive(Args, Clone)]
struct MailArgs {
    /// SMTP server: smtp://user:pass@host:587?tls=starttls (tls: starttls, opportunistic, none; smtps:// for TLS)
    #[arg(long, env = "MEISHI_SMTP_URL")]
    smtp_url: Option<String>,
    /// Only owners with an address in this domain send; also the domain of Message-IDs
    #[arg(long, env = "MEISHI_MAIL_FROM_DOMAIN")]
    mail_from_domain: Option<String>,
    /// The server's address as recipients reach it (opt-out links); default: the listen address
    #[arg(long, env = "MEISHI_PUBLIC_URL")]
    public_url: Option<String>,
}

impl MailArgs {
    /// The app with its mailer, if an SMTP URL is set.
    fn apply(&self, app: App, listen_url: &str) -> Result<App, Error> {
        let Some(smtp_url) = self.smtp_url.clone().filter(|u| !u.is_empty()) else {
            tracing::info!("mail is off: set MEISHI_SMTP_URL to send One to One mail, notices and reminders");
            return Ok(app);
        };
        let config = crate::service::mail::MailConfig {
            smtp_url,
            from_domain: self.mail_from_domain.clone().filter(|d| !d.is_empty()),
            public_url: self.public_url.clone().unwrap_or_else(|| listen_url.to_string()),
        };
        Ok(app.with_mail(crate::service::mail::Mailer::new(config)?))
    }
}

/// The HTTP edge: slow clients, connections, import size, proxies (`http::edge::EdgeConfig`).
#[derive(Args, Clone)]
struct EdgeArgs {
    /// Seconds a client has to send a request's headers
    #[arg(long, env = "MEISHI_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    header_timeout_secs: u64,
    /// Seconds a request body may send nothing before it is cut off
    #[arg(long, env = "MEISHI_BODY_TIMEOUT_SECS", default_value_t = 60)]
    body_timeout_secs: u64,
    /// Connections served at once (more wait to be accepted)
    #[arg(long, env = "MEISHI_MAX_CONNECTIONS", default_value_t = 1024)]
    max_connections: usize,
    /// The largest import upload, in MiB
    #[arg(long, env = "MEISHI_IMPORT_LIMIT_MIB", default_value_t = 512)]
    import_limit_mib: u64,
    /// Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (comma-separated IPs)
    #[arg(
        long,
        env = "MEISHI_TRUSTED_PROXIES",
        default_value = "127.0.0.1,::1",
        value_delimiter = ','
    )]
    trusted_proxies: Vec<std::net::IpAddr>,
    /// Serve GET /metrics on the main listener to bearers of this token (better set in the
    /// environment than on the command line, where `ps` shows it)
    #[arg(long, env = "MEISHI_METRICS_TOKEN", hide_env_values = true)]
    metrics_token: Option<String>,
    /// Serve /metrics (no token), /readyz and /healthz on this address too, e.g. 127.0.0.1:9180
    #[arg(long, env = "MEISHI_METRICS_ADDR")]
    metrics_addr: Option<String>,
}

impl EdgeArgs {
    /// The `--metrics-addr` listener, if asked for.
    async fn metrics_listener(&self) -> Result<Option<tokio::net::TcpListener>, Error> {
        match self.metrics_addr.as_deref().map(str::trim).filter(|a| !a.is_empty()) {
            Some(addr) => Ok(Some(listen(addr).await.map_err(|e| e.with_field("metrics_addr"))?)),
            None => Ok(None),
        }
    }

    fn config(&self, public_url: Option<&str>) -> crate::http::edge::EdgeConfig {
        crate::http::edge::EdgeConfig {
            header_timeout: std::time::Duration::from_secs(self.header_timeout_secs.max(1)),
            body_timeout: std::time::Duration::from_secs(self.body_timeout_secs.max(1)),
            max_connections: self.max_connections.max(1),
            import_body_limit: self.import_limit_mib.max(1) * 1024 * 1024,
            trusted_proxies: self.trusted_proxies.clone(),
            public_https: public_url.is_some_and(|u| u.to_ascii_lowercase().starts_with("https://")),
            metrics_token: self
                .metrics_token
                .as_deref()
                .map(str::trim)
                .filter(|t| !t.is_empty())
                .map(Into::into),
        }
    }
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrations run first)
    Serve {
        #[command(flatten)]
        db: Db,
        /// Address to listen on
        #[arg(long, env = "MEISHI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Seconds between scheduler runs (suspensions, attention flags, trash purge)
        #[arg(long, env = "MEISHI_SCHEDULER_INTERVAL", default_value_t = 30)]
        scheduler_interval: u64,
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        edge: EdgeArgs,
        /// Test hook: run the server's clock this many seconds ahead of the wall clock
        #[arg(
            long,
            env = "MEISHI_CLOCK_OFFSET_SECS",
            default_value_t = 0,
            hide = true,
            allow_hyphen_values = true
        )]
        clock_offset_secs: i64,
    },
    /// Run the scheduler once (due suspensions, attention flags, trash purge) and exit
    Tick {
        #[command(flatten)]
        db: Db,
    },
    /// Bring the database schema up to date and exit
    Migrate {
        #[command(flatten)]
        db: Db,
    },
    /// Create an organisation and its first administrator (password read from stdin)
    Init {
        #[command(flatten)]
        db: Db,
        /// The organisation's name, e.g. 株式会社サンプル
        #[arg(long)]
        org: String,
        /// Short ASCII name used at sign-in; derived from --org when it has ASCII letters
        #[arg(long)]
        slug: Option<String>,
        #[arg(long)]
        admin_email: String,
        #[arg(long)]
        admin_name: String,
        /// Read the admin's password from standard input (required: never on the command line)
        #[arg(long, required = true)]
        admin_password_stdin: bool,
    },
    /// Manage API tokens
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage the organisation's SCIM tokens (for Okta, Microsoft Entra ID: /scim/v2)
    ScimToken {
        #[command(subcommand)]
        command: ScimTokenCommand,
    },
    /// Transfer cards from one user to another (所有者変更), or undo a transfer
    #[command(args_conflicts_with_subcommands = true)]
    Transfer {
        #[command(subcommand)]
        command: Option<TransferCommand>,
        #[command(flatten)]
        args: TransferArgs,
    },
    /// Suspend, reactivate, delete, restore or export a user
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage the archive account (退職者の名刺管理用アカウント)
    ArchiveAccount {
        #[command(subcommand)]
        command: ArchiveCommand,
    },
    /// Departures (退職・出向)
    Departure {
        #[command(subcommand)]
        command: DepartureCommand,
    },
    /// Import cards from a vCard or CSV file (all or nothing unless --valid-rows)
    Import {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        args: import::ImportArgs,
    },
    /// Export cards as vCard or CSV to standard output
    Export {
        #[command(flatten)]
        db: Db,
        #[command(flatten)]
        args: import::ExportArgs,
    },
    /// Copy a SQLite database consistently while it is in use (PostgreSQL: prints the pg_dump lines)
    Backup(backup::BackupArgs),
    /// Restore a SQLite database from a backup: checked, refused while a meishi uses the database
    Restore(backup::RestoreArgs),
    /// Write one organisation, everything it holds, to an archive another server can import
    ExportOrg(backup::ExportOrgArgs),
    /// Load an archive made by export-org as a new organisation (either engine)
    ImportOrg(backup::ImportOrgArgs),
    /// Measure meishi against hand-written SQL on the same data
    Bench {
        #[command(subcommand)]
        command: bench_import::AnyBench,
    },
    /// Mail: hand a leaver's templates over, preview or make a One to One send, list the sends
    Mail {
        #[command(subcommand)]
        command: mail::MailCommand,
    },
    /// The audit log: verify its hash chain, export it for archiving
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Run the server on a demo organisation (サンプル商事株式会社) and print the logins
    Demo {
        /// Database URL for the demo data
        #[arg(long, env = "MEISHI_DATABASE_URL", default_value = "sqlite://meishi-demo.db")]
        database: String,
        /// Address to listen on
        #[arg(long, env = "MEISHI_LISTEN", default_value = "127.0.0.1:8080")]
        listen: String,
        /// Number of business cards to generate
        #[arg(long, default_value_t = 2400)]
        cards: usize,
        /// Load the data, print the logins and exit without serving
        #[arg(long)]
        no_serve: bool,
        #[command(flatten)]
        mail: MailArgs,
        #[command(flatten)]
        edge: EdgeArgs,
    },
}

#[derive(Args)]
struct TransferArgs {
    #[command(flatten)]
    db: Db,
    /// The organisation's slug, when the server has several
    #[arg(long)]
    org: Option<String>,
    /// Email of the current owner
    #[arg(long, required = true)]
    from: Option<String>,
    /// Email of the new owner (a successor or the archive account)
    #[arg(long, required = true)]
    to: Option<String>,
    /// Only cards with this tag
    #[arg(long, group = "selection")]
    tag: Option<String>,
    /// Only cards of this company (株式会社X, (株)X and ｘ株式会社 match alike)
    #[arg(long, group = "selection")]
    company: Option<String>,
    /// All of the owner's cards
    #[arg(long, group = "selection")]
    all: bool,
    /// Also hand over the tags the owner created
    #[arg(long)]
    include_tags: bool,
    /// Only show what would move
    #[arg(long)]
    dry_run: bool,
}

#[derive(Subcommand)]
enum TransferCommand {
    /// Undo a transfer: its cards go back unless they moved again since
    Undo {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        org: Option<String>,
        /// The transfer's id, as printed by `meishi transfer`
        id: String,
    },
}

#[derive(Args)]
struct UserArgs {
    #[command(flatten)]
    db: Db,
    /// The organisation's slug, when the server has several
    #[arg(long)]
    org: Option<String>,
    /// The user's email address
    email: String,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Suspend: every session and token stops at once; the name gains the retired suffix
    Suspend(UserArgs),
    /// Reactivate a suspended user; removes the retired suffix
    Reactivate(UserArgs),
    /// Delete (to the trash); refused while the user owns anything, unless --archive
    Delete {
        #[command(flatten)]
        user: UserArgs,
        /// First transfer everything the user owns to the archive account
        #[arg(long)]
        archive: bool,
    },
    /// Bring a deleted user back from the trash, suspended
    Restore(UserArgs),
    /// Print everything the user owns as JSON
    Export(UserArgs),
}

#[derive(Subcommand)]
enum ArchiveCommand {
    /// Create the organisation's archive account if there is none
    Create {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Subcommand)]
enum DepartureCommand {
    /// Print the readiness checklist (引き継ぎ状況) of a user's scheduled departure
    Readiness(UserArgs),
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Print a new API bearer token for a user (only the token, on one line)
    Create {
        #[command(flatten)]
        db: Db,
        /// The user's email address
        #[arg(long)]
        email: String,
        /// A label to recognise the token by
        #[arg(long, default_value = "cli")]
        name: String,
        /// The organisation's slug, when the server has several
        #[arg(long)]
        org: Option<String>,
    },
}

#[derive(Subcommand)]
enum ScimTokenCommand {
    /// Print a new SCIM bearer token for the organisation's identity provider (only the
    /// token, on one line; stored hashed, audited)
    Create {
        #[command(flatten)]
        db: Db,
        /// A label to recognise the token by
        #[arg(long, default_value = "cli")]
        name: String,
        /// The organisation's slug, when the server has several
        #[arg(long)]
        org: Option<String>,
    },
    /// List the organisation's SCIM tokens (id, name, created, last used, revoked)
    List {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        org: Option<String>,
    },
    /// Revoke a SCIM token by its id
    Revoke {
        #[command(flatten)]
        db: Db,
        #[arg(long)]
        org: Option<String>,
        id: String,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = init_logs() {
        eprintln!("error: {e}");
        return ExitCode::FAILURE;
    }
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to standard error, as text or (`MEISHI_LOG_FORMAT=json`) one JSON object a line
/// with the fields of the spans it was logged in (a request's id among them), filtered by
/// `RUST_LOG`.
fn init_logs() -> Result<(), Error> {
    let filter = || {
        tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| "meishi=info,meishi::access=warn,tower_http=warn".into())
    };
    let format = std::env::var("MEISHI_LOG_FORMAT").unwrap_or_default();
    match format.trim().to_ascii_lowercase().as_str() {
        "" | "text" => tracing_subscriber::fmt()
            .with_env_filter(filter())
            .with_writer(std::io::stderr)
            .init(),
        "json" => {
            JSON_LOGS.store(true, std::sync::atomic::Ordering::Relaxed);
            tracing_subscriber::fmt()
                .json()
                .with_current_span(true)
                .with_span_list(true)
                .with_env_filter(filter())
                .with_writer(std::io::stderr)
                .init()
        }
        other => {
            return Err(Error::bad_input(
                "MEISHI_LOG_FORMAT",
                format!("'{other}' is not a log format: text or json"),
            ));
        }
    }
    Ok(())
}

static JSON_LOGS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether logs are JSON lines (then nothing else is written to standard error).
fn json_logs() -> bool {
    JSON_LOGS.load(std::sync::atomic::Ordering::Relaxed)
}

async fn open(database: &str) -> Result<App, Error> {
    open_with_clock(database, Arc::new(SystemClock)).await
}

async fn open_with_clock(database: &str, clock: Arc<dyn crate::domain::Clock>) -> Result<App, Error> {
    App::open(database, clock).await
}

/// Opens the database of a command that works in an organisation. A SQLite file that is not
/// there is not made (an empty new file would only answer "no organisation"), and a database
/// without an organisation is named with the `init` line that makes one.
async fn open_org(database: &str) -> Result<App, Error> {
    let init = format!(
        "meishi init --database {database} --org 株式会社サンプル --admin-email you@example.jp \
         --admin-name 管理者 --admin-password-stdin"
    );
    if let Some(path) = sqlite_file(database)
        && !std::path::Path::new(path).exists()
    {
        return Err(Error::bad_input(
            "database",
            format!(
                "there is no database at {database} (--database or MEISHI_DATABASE_URL names one); \
                 to make one with an organisation: {init}"
            ),
        ));
    }
    let app = open(database).await?;
    if crate::service::orgs::count(&app).await? == 0 {
        return Err(Error::bad_input(
            "database",
            format!("the database {database} holds no organisation yet; make one with: {init}"),
        ));
    }
    Ok(app)
}

/// The file of a `sqlite://` URL (none for an in-memory database or another engine).
fn sqlite_file(url: &str) -> Option<&str> {
    let rest = url.strip_prefix("sqlite:")?;
    let path = rest.trim_start_matches("//");
    let path = path.split('?').next().unwrap_or(path);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

/// The id of the user with this email in the organisation; `field` names the flag at fault.
async fn user_id(app: &App, org_id: &str, email: &str, field: &str) -> Result<String, Error> {
    let actor = crate::service::Actor::system(org_id);
    crate::service::users::by_email(app, &actor, email)
        .await
        .map(|u| u.id)
        .map_err(|e| match e.kind {
            crate::domain::ErrorKind::NotFound => Error::not_found(&format!("user {}", email.trim())).with_field(field),
            _ => e.with_field(field),
        })
}

async fn listen(addr: &str) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::bad_input("listen", format!("cannot listen on {addr}: {e}")))
}

/// Serves with the scheduler: a catch-up tick first (what fell due while the server was down
/// runs now, once), then one every `every_secs`.
async fn serve(
    app: App,
    listener: tokio::net::TcpListener,
    every_secs: u64,
    edge: crate::http::edge::EdgeConfig,
    metrics: Option<tokio::net::TcpListener>,
) -> Result<(), Error> {
    if let Some(l) = metrics {
        let url = format!("http://{}", l.local_addr().map_err(|e| Error::internal(e.to_string()))?);
        tracing::info!(%url, "metrics are served (/metrics, /readyz, /healthz)");
        let app = app.clone();
        tokio::spawn(async move {
            if let Err(e) = crate::http::serve_metrics(app, l).await {
                tracing::error!(error = %e, "the metrics listener stopped");
            }
        });
    }
    match scheduler::tick(&app).await {
        Ok(caught_up) => tracing::info!(?caught_up, "scheduler caught up"),
        Err(e) => tracing::error!(error = %e, "scheduler catch-up failed; it retries at every tick"),
    }
    tokio::spawn(scheduler::run(
        app.clone(),
        std::time::Duration::from_secs(every_secs.max(1)),
    ));
    if let Some(mailer) = app.mail.clone() {
        tokio::spawn(crate::service::mail::run_worker(
            app.clone(),
            mailer,
            std::time::Duration::from_secs(1),
        ));
    }
    crate::http::serve_with(app, listener, edge)
        .await
        .map_err(|e| Error::internal(format!("server: {e}")))
}

async fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Serve {
            db,
            listen: addr,
            scheduler_interval,
            clock_offset_secs,
            mail,
            edge,
        } => {
            let app = if clock_offset_secs == 0 {
                open(&db.database).await?
            } else {
                let offset = chrono::Duration::seconds(clock_offset_secs);
                tracing::warn!(clock_offset_secs, "the server's clock is moved (test hook)");
                open_with_clock(&db.database, Arc::new(crate::domain::OffsetClock(offset))).await?
            };
            let listener = listen(&addr).await?;
            let url = format!(
                "http://{}",
                listener.local_addr().map_err(|e| Error::internal(e.to_string()))?
            );
            let app = mail.apply(app, &url)?;
            let metrics = edge.metrics_listener().await?;
            tracing::info!(%url, "meishi is listening");
            if !json_logs() {
                eprintln!("meishi: listening on {url}  (API reference: {url}/api/docs)");
            }
            let config = edge.config(mail.public_url.as_deref());
            serve(app, listener, scheduler_interval, config, metrics).await
        }
        Command::Tick { db } => {
            let app = open(&db.database).await?;
            let t = scheduler::tick(&app).await?;
            let placed = if t.placed > 0 {
                format!(", placed {}", t.placed)
            } else {
                String::new()
            };
            println!(
                "suspended {}, flagged {}, purged {}{placed}",
                t.suspended, t.flagged, t.purged
            );
            Ok(())
        }
        Command::Migrate { db } => {
            let n = crate::service::migrate(&db.database).await?;
            println!("{n} migration(s) applied");
            Ok(())
        }
        Command::Init {
            db,
            org,
            slug,
            admin_email,
            admin_name,
            admin_password_stdin: _,
        } => {
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| Error::bad_input("password", format!("cannot read the password from stdin: {e}")))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let app = open(&db.database).await?;
            let new = orgs::NewOrganization {
                name: &org,
                slug: slug.as_deref(),
                admin_email: &admin_email,
                admin_name: &admin_name,
                admin_password: password,
            };
            let (org, admin) = orgs::init(&app, new).await?;
            println!(
                "created organisation {} (slug {}) with administrator {}",
                org.name, org.slug, admin.email
            );
            Ok(())
        }
        Command::Token {
            command: TokenCommand::Create { db, email, name, org },
        } => {
            let app = open_org(&db.database).await?;
            println!("{}", auth::create_token(&app, org.as_deref(), &email, &name).await?);
            Ok(())
        }
        Command::ScimToken { command } => scim_token(command).await,
        Command::Transfer {
            command: Some(TransferCommand::Undo { db, org, id }),
            ..
        } => {
            let app = open_org(&db.database).await?;
            transfer::undo(&app, org.as_deref(), &id).await
        }
        Command::Transfer { command: None, args } => {
            let app = open_org(&args.db.database).await?;
            let a = transfer::Args {
                org: args.org,
                from: args.from.unwrap_or_default(),
                to: args.to.unwrap_or_default(),
                tag: args.tag,
                company: args.company,
                all: args.all,
                include_tags: args.include_tags,
                dry_run: args.dry_run,
            };
            transfer::run(&app, a).await
        }
        Command::Bench { command } => match command {
            bench_import::AnyBench::Other(c) => bench::run(c).await,
            bench_import::AnyBench::Import(b) => bench_import::run(b).await,
            bench_import::AnyBench::Search(b) => bench_search::run(b).await,
            bench_import::AnyBench::Mail(b) => bench_mail::run(b).await,
            bench_import::AnyBench::Audit(b) => bench_audit::run(b).await,
            bench_import::AnyBench::Http(b) => bench_http::run(b).await,
        },
        Command::Mail { command } => mail::run(command).await,
        Command::Backup(a) => backup::backup(a).await,
        Command::Restore(a) => backup::restore(a).await,
        Command::ExportOrg(a) => backup::export_org(a).await,
        Command::ImportOrg(a) => backup::import_org(a).await,
        Command::Audit { command } => audit::run(command).await,
        Command::Import { db, args } => import::import(&open_org(&db.database).await?, args).await,
        Command::Export { db, args } => import::export(&open_org(&db.database).await?, args).await,
        Command::User { command } => {
            let (u, action) = match command {
                UserCommand::Suspend(u) => (u, user::Action::Suspend),
                UserCommand::Reactivate(u) => (u, user::Action::Reactivate),
                UserCommand::Delete { user: u, archive } => (u, user::Action::Delete { archive }),
                UserCommand::Restore(u) => (u, user::Action::Restore),
                UserCommand::Export(u) => (u, user::Action::Export),
            };
            let app = open_org(&u.db.database).await?;
            user::run(&app, u.org.as_deref(), &u.email, action).await
        }
        Command::ArchiveAccount {
            command: ArchiveCommand::Create { db, org },
        } => {
            let app = open_org(&db.database).await?;
            user::create_archive(&app, org.as_deref()).await
        }
        Command::Departure {
            command: DepartureCommand::Readiness(u),
        } => {
            let app = open_org(&u.db.database).await?;
            user::readiness(&app, u.org.as_deref(), &u.email).await
        }
        Command::Demo {
            database,
            listen: addr,
            cards,
            no_serve,
            mail,
            edge,
        } => {
            let app = open(&database).await?;
            let listener = if no_serve { None } else { Some(listen(&addr).await?) };
            let d = demo::load(&app, cards).await?;
            let admin_email = d.users.first().map(|u| u.email.clone()).unwrap_or_default();
            let token = auth::create_token(&app, Some(demo::SLUG), &admin_email, "demo").await?;
            let url = match &listener {
                Some(l) => format!("http://{}", l.local_addr().map_err(|e| Error::internal(e.to_string()))?),
                None => format!("http://{addr}"),
            };
            print_demo(&d, &database, &url, &token);
            let app = mail.apply(app, &url)?;
            match listener {
                Some(l) => {
                    let metrics = edge.metrics_listener().await?;
                    serve(app, l, 30, edge.config(mail.public_url.as_deref()), metrics).await
                }
                None => Ok(()),
            }
        }
    }
}

async fn scim_token(command: ScimTokenCommand) -> Result<(), Error> {
    use crate::service::scim;
    let minute = |t: chrono::DateTime<chrono::Utc>| t.format("%Y-%m-%d %H:%M UTC").to_string();
    match command {
        ScimTokenCommand::Create { db, name, org } => {
            let app = open_org(&db.database).await?;
            let (_, secret) = scim::create_token_for_org(&app, org.as_deref(), &name).await?;
            println!("{secret}");
        }
        ScimTokenCommand::List { db, org } => {
            let app = open_org(&db.database).await?;
            for t in scim::tokens_for_org(&app, org.as_deref()).await? {
                println!(
                    "{}\t{}\tcreated {}\tlast used {}\t{}",
                    t.id,
                    t.name,
                    minute(t.created_at),
                    t.last_used_at.map(minute).unwrap_or_else(|| "never".into()),
                    t.revoked_at
                        .map(|r| format!("revoked {}", minute(r)))
                        .unwrap_or_else(|| "valid".into()),
                );
            }
        }
        ScimTokenCommand::Revoke { db, org, id } => {
            let app = open_org(&db.database).await?;
            let t = scim::revoke_token_for_org(&app, org.as_deref(), &id).await?;
            println!("revoked SCIM token {} ({})", t.name, t.id);
        }
    }
    Ok(())
}

fn print_demo(d: &demo::Demo, database: &str, url: &str, token: &str) {
    let leaving = demo::leaving_email();
    if d.loaded {
        println!(
            "デモ組織「{}」を作成しました: 名刺 {} 枚 ({database})",
            d.org.name, d.cards
        );
    } else {
        println!("デモ組織「{}」は作成済みです ({database})", d.org.name);
    }
    println!();
    println!("  URL            {url}/");
    println!("  API reference  {url}/api/docs");
    println!("  organisation   {}", d.org.slug);
    println!("  password       {} (every demo login)", demo::PASSWORD);
    println!();
    for u in &d.users {
        let note = match (u.role, u.email == leaving) {
            (crate::domain::Role::Admin, _) => "  (admin)",
            (_, true) => "  退職予定者 (leaving)",
            _ => "",
        };
        println!("  {:<34} {}{}", u.email, u.display_name, note);
    }
    println!();
    println!("  admin API token: {token}");
    println!("  try: curl -H 'Authorization: Bearer {token}' {url}/api/v1/cards?limit=3");
}
