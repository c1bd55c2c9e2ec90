//! The `meishi` command line: a thin adapter over the same services as the HTTP API.

mod bench;
mod transfer;

use crate::domain::{Error, SystemClock};
use crate::service::{App, auth, demo, orgs};
use crate::store::Store;
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
    /// Database URL: sqlite://FILE (created if missing) or postgres://USER@HOST/DB
    #[arg(long, env = "MEISHI_DATABASE_URL", default_value = "sqlite://meishi.db")]
    database: String,
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
    /// Transfer cards from one user to another (所有者変更), or undo a transfer
    #[command(args_conflicts_with_subcommands = true)]
    Transfer {
        #[command(subcommand)]
        command: Option<TransferCommand>,
        #[command(flatten)]
        args: TransferArgs,
    },
    /// Measure meishi against hand-written SQL on the same data
    Bench {
        #[command(subcommand)]
        command: bench::BenchCommand,
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

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "meishi=info,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let runtime = tokio::runtime::Runtime::new().expect("tokio runtime");
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn open(database: &str) -> Result<App, Error> {
    let store = Store::connect(database).await?;
    store.migrate().await?;
    Ok(App::new(store, Arc::new(SystemClock)))
}

async fn listen(addr: &str) -> Result<tokio::net::TcpListener, Error> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| Error::bad_input("listen", format!("cannot listen on {addr}: {e}")))
}

async fn serve(app: App, listener: tokio::net::TcpListener) -> Result<(), Error> {
    crate::http::serve(app, listener)
        .await
        .map_err(|e| Error::internal(format!("server: {e}")))
}

async fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Serve { db, listen: addr } => {
            let app = open(&db.database).await?;
            let listener = listen(&addr).await?;
            let url = format!(
                "http://{}",
                listener.local_addr().map_err(|e| Error::internal(e.to_string()))?
            );
            tracing::info!(%url, "meishi is listening");
            eprintln!("meishi: listening on {url}  (API reference: {url}/api/docs)");
            serve(app, listener).await
        }
        Command::Migrate { db } => {
            let store = Store::connect(&db.database).await?;
            let n = store.migrate().await?;
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
            let app = open(&db.database).await?;
            println!("{}", auth::create_token(&app, org.as_deref(), &email, &name).await?);
            Ok(())
        }
        Command::Transfer {
            command: Some(TransferCommand::Undo { db, org, id }),
            ..
        } => {
            let app = open(&db.database).await?;
            transfer::undo(&app, org.as_deref(), &id).await
        }
        Command::Transfer { command: None, args } => {
            let app = open(&args.db.database).await?;
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
        Command::Bench { command } => bench::run(command).await,
        Command::Demo {
            database,
            listen: addr,
            cards,
            no_serve,
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
            match listener {
                Some(l) => serve(app, l).await,
                None => Ok(()),
            }
        }
    }
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
