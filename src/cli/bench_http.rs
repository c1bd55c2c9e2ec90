//! `meishi bench http` (issue 17, P6): the card list over real HTTP under load. Builds (or
//! reuses) a database of N cards set-based (`service::bench::http_setup`), starts `meishi serve`
//! as child processes on loopback ports with an API token, and a bare axum handler (in this
//! process, on a runtime of its own) that answers every request with the bytes of the first
//! page, captured once: the ceiling. The same generator (one HTTP/1.1 keep-alive connection
//! per `--connections`, closed loop, in this process) drives each scenario for `--seconds`:
//! the first page, the `owner_id`, `tag_id` and `company` filters, a cursor deep into the
//! list, and a mixed load (90 % of those reads, 10 % writes: card edits and contacts). Prints
//! requests/s, p50/p99, errors and the ratio to the bare handler per scenario; `--soak-seconds`
//! runs the mixed load that long and reports the servers' RSS; `--servers 1,2,3` spreads the
//! connections round-robin over that many servers on one PostgreSQL. See BENCHMARKS.md.
//!
//! The generator, the servers and the database share this machine's cores: every figure is
//! theirs together. Each run prints the CPU each of them used, to tell where the time went.

use super::bench::proc_cpu;
use super::bench_import::load_average;
use crate::domain::{Error, Result};
use crate::service::bench::{self as sb, HttpBench as Data};
use axum::body::{Body, Bytes};
use axum::http::{Method, Request, header};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use rand::{Rng, SeedableRng, rngs::StdRng};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct HttpBench {
    /// Database URL. A sqlite:// file is a scratch database: it is deleted and made anew (unless
    /// --reuse). A postgres:// database must be empty (freshly created) unless --reuse.
    #[arg(long, default_value = "sqlite://meishi-bench-http.db")]
    database: String,
    /// Cards built
    #[arg(long, default_value_t = 1_000_000)]
    cards: usize,
    /// Use the cards a previous run left in this database instead of building them
    #[arg(long)]
    reuse: bool,
    /// Only build the data, then stop
    #[arg(long, conflicts_with = "reuse")]
    setup_only: bool,
    /// Connections the load generator keeps open (one request in flight on each)
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// Seconds each scenario is measured
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// Seconds of load before each measurement, not counted
    #[arg(long, default_value_t = 3)]
    warmup_seconds: u64,
    /// After the scenarios, the mixed load for this many seconds: the servers' RSS at its
    /// start and end, and its errors (0: no soak)
    #[arg(long, default_value_t = 0)]
    soak_seconds: u64,
    /// How many servers, in turn, e.g. 1,2,3 (more than one: PostgreSQL only). The first count
    /// runs every scenario; the others the first page and the mixed load.
    #[arg(long, value_delimiter = ',', default_value = "1")]
    servers: Vec<usize>,
    /// The meishi binary the servers run (default: this one)
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

/// What a scenario asks for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// The bare handler, asked the first page's request.
    Bare,
    FirstPage,
    Owner,
    Tag,
    Company,
    DeepCursor,
    Mixed,
}

const READS: [Scenario; 5] = [
    Scenario::FirstPage,
    Scenario::Owner,
    Scenario::Tag,
    Scenario::Company,
    Scenario::DeepCursor,
];

impl Scenario {
    fn name(self) -> &'static str {
        match self {
            Scenario::Bare => "bare handler (ceiling)",
            Scenario::FirstPage => "first page",
            Scenario::Owner => "owner_id",
            Scenario::Tag => "tag_id",
            Scenario::Company => "company",
            Scenario::DeepCursor => "deep cursor",
            Scenario::Mixed => "mixed 90/10",
        }
    }
    fn key(self) -> &'static str {
        match self {
            Scenario::Bare => "bare",
            Scenario::FirstPage => "first_page",
            Scenario::Owner => "owner",
            Scenario::Tag => "tag",
            Scenario::Company => "company",
            Scenario::DeepCursor => "deep_cursor",
            Scenario::Mixed => "mixed",
        }
    }
    fn p99_target_ms(self) -> f64 {
        if self == Scenario::Mixed { 50.0 } else { 20.0 }
    }
}

/// One request: method, path, JSON body.
struct Req {
    method: Method,
    path: String,
    body: Option<String>,
}

impl Req {
    fn get(path: String) -> Self {
        Req {
            method: Method::GET,
            path,
            body: None,
        }
    }
}

/// What the generator picks requests from.
struct Plan {
    token: String,
    data: Data,
    /// `company=` values, percent-encoded.
    companies: Vec<String>,
}

const PAGE: &str = "/api/v1/cards?limit=50";

impl Plan {
    fn new(token: String, data: Data) -> Self {
        let companies = (0..sb::HTTP_COMPANIES)
            .map(|k| url::form_urlencoded::byte_serialize(sb::http_company(k).as_bytes()).collect())
            .collect();
        Plan { token, data, companies }
    }

    /// A card deep into the list: in its second half, a page and more before its end.
    fn deep_card(&self, rng: &mut StdRng) -> usize {
        let n = self.data.cards.max(200);
        rng.random_range(n / 2..n - 100)
    }

    /// A read of the scenario, and how many cards match it.
    fn read(&self, s: Scenario, rng: &mut StdRng) -> (Req, usize) {
        let d = &self.data;
        let n = d.cards;
        // Cards `i < n` with `i % m == k`.
        let share = |m: usize, k: usize| n / m + usize::from(k < n % m);
        let (path, matching) = match s {
            Scenario::Bare | Scenario::FirstPage | Scenario::Mixed => (PAGE.to_string(), n),
            Scenario::Owner => {
                let k = rng.random_range(0..d.owners.len());
                (format!("{PAGE}&owner_id={}", d.owners[k]), share(d.owners.len(), k))
            }
            Scenario::Tag => {
                let k = rng.random_range(0..d.shared_tags.len());
                (format!("{PAGE}&tag_id={}", d.shared_tags[k]), share(20, k))
            }
            Scenario::Company => {
                let k = rng.random_range(0..self.companies.len());
                (
                    format!("{PAGE}&company={}", self.companies[k]),
                    share(self.companies.len(), k),
                )
            }
            Scenario::DeepCursor => {
                let i = self.deep_card(rng);
                (format!("{PAGE}&cursor={}", sb::http_card_id(i)), n - 1 - i)
            }
        };
        (Req::get(path), matching)
    }

    fn pick(&self, s: Scenario, rng: &mut StdRng) -> Req {
        if s != Scenario::Mixed {
            return self.read(s, rng).0;
        }
        let r = rng.random_range(0..100);
        let card = sb::http_card_id(rng.random_range(0..self.data.cards.max(1)));
        match r {
            0..90 => self.read(READS[r % READS.len()], rng).0,
            90..95 => Req {
                method: Method::PATCH,
                path: format!("/api/v1/cards/{card}"),
                body: Some(format!(
                    r#"{{"title":"課長 {r}","department":"営業{}部"}}"#,
                    rng.random_range(1..10)
                )),
            },
            _ => Req {
                method: Method::POST,
                path: format!("/api/v1/cards/{card}/contacts"),
                body: Some(r#"{"kind":"call","body":"ベンチの電話"}"#.into()),
            },
        }
    }
}

type Sender = hyper::client::conn::http1::SendRequest<Body>;

async fn connect(addr: SocketAddr) -> std::io::Result<Sender> {
    let stream = tokio::net::TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
        .await
        .map_err(std::io::Error::other)?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(sender)
}

/// Sends one request on the connection; the status and the whole body.
async fn send(sender: &mut Sender, addr: SocketAddr, token: &str, r: Req) -> std::io::Result<(u16, Bytes)> {
    sender.ready().await.map_err(std::io::Error::other)?;
    let mut b = Request::builder()
        .method(r.method)
        .uri(r.path)
        .header(header::HOST, addr.to_string())
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if r.body.is_some() {
        b = b.header(header::CONTENT_TYPE, "application/json");
    }
    let req = b
        .body(r.body.map(Body::from).unwrap_or_else(Body::empty))
        .map_err(std::io::Error::other)?;
    let res = sender.send_request(req).await.map_err(std::io::Error::other)?;
    let status = res.status().as_u16();
    let body = axum::body::to_bytes(Body::new(res.into_body()), usize::MAX)
        .await
        .map_err(std::io::Error::other)?;
    Ok((status, body))
}

/// One connection's share of a run.
#[derive(Default)]
struct Tally {
    /// Microseconds per request started in the measured window.
    micros: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

impl Tally {
    fn error(&mut self, what: String) {
        self.errors += 1;
        self.first_error.get_or_insert(what);
    }
}

/// One connection: requests one after the other until `until`; those started after `from`
/// are counted. A connection that fails is opened again (and the failure counted).
async fn drive(addr: SocketAddr, plan: Arc<Plan>, s: Scenario, seed: u64, from: Instant, until: Instant) -> Tally {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut t = Tally::default();
    let mut sender: Option<Sender> = None;
    loop {
        let started = Instant::now();
        if started >= until {
            return t;
        }
        let counted = started >= from;
        let conn = match &mut sender {
            Some(c) => c,
            None => match connect(addr).await {
                Ok(c) => sender.insert(c),
                Err(e) => {
                    if counted {
                        t.error(format!("connect {addr}: {e}"));
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
        };
        let req = plan.pick(s, &mut rng);
        let what = format!("{} {}", req.method, req.path);
        let out = send(conn, addr, &plan.token, req).await;
        let took = started.elapsed().as_micros().min(u32::MAX as u128) as u32;
        match out {
            Ok((status, body)) => {
                if counted {
                    t.micros.push(took);
                    if !(200..300).contains(&status) {
                        t.error(format!("{what}: {status} {}", String::from_utf8_lossy(&body)));
                    }
                }
            }
            Err(e) => {
                sender = None;
                if counted {
                    t.micros.push(took);
                    t.error(format!("{what}: {e}"));
                }
            }
        }
    }
}

/// CPU seconds of every PostgreSQL process on this machine (other users' too).
fn postgres_cpu() -> f64 {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    dir.filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|p| p.bytes().all(|b| b.is_ascii_digit()))
        .filter(|p| std::fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "postgres"))
        .map(|p| proc_cpu(&p))
        .sum()
}

/// The machine's busy CPU seconds so far (all cores, every process).
fn machine_cpu() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let f: Vec<f64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: f64 = f.iter().sum();
    let idle = f.get(3).copied().unwrap_or(0.0) + f.get(4).copied().unwrap_or(0.0);
    (total - idle) / 100.0
}

/// A process's resident memory now (VmRSS), in MB.
fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// Where the CPU went during a run.
#[derive(Clone, Copy)]
struct Cpu {
    servers: f64,
    generator: f64,
    postgres: f64,
    machine: f64,
}

fn cpu_now(servers: &[u32]) -> Cpu {
    let busy = machine_cpu();
    Cpu {
        servers: servers.iter().map(|p| proc_cpu(&p.to_string())).sum(),
        generator: proc_cpu("self"),
        postgres: postgres_cpu(),
        machine: busy,
    }
}

/// A run's figures.
struct Outcome {
    requests: usize,
    rps: f64,
    p50: f64,
    p99: f64,
    max: f64,
    errors: u64,
    first_error: Option<String>,
    /// CPU used per wall second (1.0 = one core busy): servers, generator, PostgreSQL, machine.
    cpu: [f64; 4],
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i] as f64 / 1000.0
}

/// Drives `addrs` (connection k goes to `addrs[k % len]`) with `connections` connections for
/// `warmup` + `secs` seconds; the figures of the last `secs`.
async fn load(
    addrs: &[SocketAddr],
    plan: &Arc<Plan>,
    s: Scenario,
    connections: usize,
    warmup: u64,
    secs: u64,
    server_pids: &[u32],
) -> Outcome {
    let start = Instant::now();
    let from = start + Duration::from_secs(warmup);
    let until = from + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|k| {
            let addr = addrs[k % addrs.len()];
            tokio::spawn(drive(addr, plan.clone(), s, 0x5eed + k as u64, from, until))
        })
        .collect();
    measure(tasks, from, until, secs, server_pids).await
}

/// Waits out `tasks` (started to count from `from` to `until`): their figures, with the CPU
/// used by `server_pids`, this process, PostgreSQL and the machine over the measured window.
async fn measure(
    tasks: Vec<tokio::task::JoinHandle<Tally>>,
    from: Instant,
    until: Instant,
    secs: u64,
    server_pids: &[u32],
) -> Outcome {
    tokio::time::sleep_until(from.into()).await;
    let before = cpu_now(server_pids);
    tokio::time::sleep_until(until.into()).await;
    let after = cpu_now(server_pids);
    let mut all = Vec::new();
    let (mut errors, mut first_error) = (0, None);
    for t in tasks {
        let t = t.await.unwrap_or_default();
        all.extend(t.micros);
        errors += t.errors;
        first_error = first_error.or(t.first_error);
    }
    all.sort_unstable();
    let wall = secs.max(1) as f64;
    let per_s = |a: f64, b: f64| (b - a) / wall;
    Outcome {
        requests: all.len(),
        rps: all.len() as f64 / wall,
        p50: percentile(&all, 0.50),
        p99: percentile(&all, 0.99),
        max: all.last().map(|m| *m as f64 / 1000.0).unwrap_or(f64::NAN),
        errors,
        first_error,
        cpu: [
            per_s(before.servers, after.servers),
            per_s(before.generator, after.generator),
            per_s(before.postgres, after.postgres),
            per_s(before.machine, after.machine),
        ],
    }
}

/// The first page's work without HTTP: `connections` tasks in this process, each reading the
/// token's user and the first page through the services, and the page as JSON, as the
/// server's handler does; the ceiling of the server's requests/s on this machine before any
/// HTTP (its CPU is in the generator's column).
async fn without_http(database: &str, token: &str, connections: usize, warmup: u64, secs: u64) -> Result<Outcome> {
    use crate::service::{auth, cards};
    let app = super::open(database).await?;
    let token = Arc::new(token.to_string());
    Ok(in_process(connections, warmup, secs, move || {
        let (app, token) = (app.clone(), token.clone());
        async move {
            let actor = auth::actor_from_token(&app, &token).await?;
            let q = cards::CardQuery {
                limit: Some(50),
                ..Default::default()
            };
            let page = cards::list(&app, &actor, q).await?;
            let body = serde_json::to_vec(&page).map_err(|e| Error::internal(e.to_string()))?;
            Ok(body.len() > 2)
        }
    })
    .await)
}

/// The raw-SQL limit: `connections` tasks in this process, each reading the first page's 50
/// cards with one hand-written SELECT (`store::bench::first_page_raw`: no token, no tags, no
/// JSON). What the database and its driver give on this machine, for any server.
async fn raw_sql(database: &str, org_id: &str, connections: usize, warmup: u64, secs: u64) -> Result<Outcome> {
    let app = super::open(database).await?;
    let org_id = Arc::new(org_id.to_string());
    Ok(in_process(connections, warmup, secs, move || {
        let (app, org_id) = (app.clone(), org_id.clone());
        async move { Ok(crate::store::bench::first_page_raw(&app.store, &org_id).await? == 50) }
    })
    .await)
}

/// `connections` tasks in this process, each running `work` in a closed loop (false: a wrong
/// answer, counted as an error), measured for `secs` after `warmup`.
async fn in_process<F, Fut>(connections: usize, warmup: u64, secs: u64, work: F) -> Outcome
where
    F: Fn() -> Fut + Clone + Send + 'static,
    Fut: std::future::Future<Output = Result<bool>> + Send,
{
    let start = Instant::now();
    let from = start + Duration::from_secs(warmup);
    let until = from + Duration::from_secs(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|_| {
            let work = work.clone();
            tokio::spawn(async move {
                let mut t = Tally::default();
                loop {
                    let began = Instant::now();
                    if began >= until {
                        break;
                    }
                    match work().await {
                        Ok(true) => {
                            if began >= from {
                                t.micros.push(began.elapsed().as_micros() as u32);
                            }
                        }
                        Ok(false) => t.error("a wrong answer (an empty or short page)".into()),
                        Err(e) => t.error(e.to_string()),
                    }
                }
                t
            })
        })
        .collect();
    measure(tasks, from, until, secs, &[]).await
}

/// A `meishi serve` child on a loopback port.
struct Server {
    child: tokio::process::Child,
    addr: SocketAddr,
    pid: u32,
    log: PathBuf,
}

fn free_port() -> Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::internal(format!("no free port: {e}")))?;
    Ok(l.local_addr().map_err(|e| Error::internal(e.to_string()))?.port())
}

async fn start_server(bin: &PathBuf, database: &str, n: usize) -> Result<Server> {
    let port = free_port()?;
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let log = std::env::temp_dir().join(format!("meishi-bench-http-server-{}-{n}.log", std::process::id()));
    let file = std::fs::File::create(&log).map_err(|e| Error::internal(format!("{}: {e}", log.display())))?;
    let mut child = tokio::process::Command::new(bin)
        .args(["serve", "--database", database, "--listen", &addr.to_string()])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(file)
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| Error::internal(format!("cannot start {}: {e}", bin.display())))?;
    let pid = child.id().unwrap_or(0);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Ok(mut s) = connect(addr).await
            && let Ok((200, _)) = send(&mut s, addr, "", Req::get("/healthz".into())).await
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            let tail = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(Error::internal(format!("the server exited ({status}): {tail}")));
        }
        if Instant::now() > deadline {
            return Err(Error::internal(format!(
                "the server on {addr} did not answer /healthz in 120 s"
            )));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Ok(Server { child, addr, pid, log })
}

async fn stop(servers: Vec<Server>) {
    for mut s in servers {
        let _ = s.child.kill().await;
        let _ = std::fs::remove_file(&s.log);
    }
}

/// The bare handler: every request gets `body` as JSON. On a runtime of its own (two threads,
/// like a server process), in a thread that lives as long as this process.
fn start_bare(body: Bytes) -> Result<SocketAddr> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| Error::internal(e.to_string()))?;
    l.set_nonblocking(true).map_err(|e| Error::internal(e.to_string()))?;
    let addr = l.local_addr().map_err(|e| Error::internal(e.to_string()))?;
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(l).expect("listener");
            let app = axum::Router::new().fallback(move || {
                let body = body.clone();
                async move { ([(header::CONTENT_TYPE, "application/json")], body) }
            });
            let _ = axum::serve(listener, app).await;
        });
    });
    Ok(addr)
}

/// One request's JSON answer, which must be a 200.
async fn probe(addr: SocketAddr, plan: &Plan, r: Req) -> Result<(Bytes, serde_json::Value)> {
    let what = format!("{} {}", r.method, r.path);
    let mut c = connect(addr)
        .await
        .map_err(|e| Error::internal(format!("connect {addr}: {e}")))?;
    let (status, body) = send(&mut c, addr, &plan.token, r)
        .await
        .map_err(|e| Error::internal(format!("{what}: {e}")))?;
    if status != 200 {
        return Err(Error::internal(format!(
            "{what}: {status} {}",
            String::from_utf8_lossy(&body)
        )));
    }
    let v = serde_json::from_slice(&body).map_err(|e| Error::internal(format!("{what}: {e}")))?;
    Ok((body, v))
}

/// Each read scenario's page is what it asks for (a full page, a next cursor, every card
/// matching its filter), so that a fast answer cannot be a wrong one. Returns the first page.
async fn check_pages(addr: SocketAddr, plan: &Plan) -> Result<Bytes> {
    let mut rng = StdRng::seed_from_u64(7);
    let mut first = Bytes::new();
    for s in READS {
        let (req, matching) = plan.read(s, &mut rng);
        let path = req.path.clone();
        let (body, v) = probe(addr, plan, req).await?;
        let items = v["items"].as_array().cloned().unwrap_or_default();
        let fail = |why: String| Error::internal(format!("bench check: GET {path}: {why}"));
        if items.len() != matching.min(50) || v["next_cursor"].as_str().is_some() != (matching > 50) {
            return Err(fail(format!(
                "{} cards, next_cursor {}; {matching} match",
                items.len(),
                v["next_cursor"]
            )));
        }
        let query: std::collections::HashMap<String, String> =
            url::form_urlencoded::parse(path.split_once('?').map(|(_, q)| q).unwrap_or("").as_bytes())
                .into_owned()
                .collect();
        for card in &items {
            let ok = match s {
                Scenario::Owner => card["owner_id"] == query["owner_id"].as_str(),
                Scenario::Tag => card["tag_ids"]
                    .as_array()
                    .is_some_and(|t| t.iter().any(|t| t == query["tag_id"].as_str())),
                Scenario::Company => card["company"] == query["company"].as_str(),
                Scenario::DeepCursor => card["id"].as_str() > Some(query["cursor"].as_str()),
                _ => true,
            };
            if !ok {
                return Err(fail(format!("card {} does not match", card["id"])));
            }
        }
        if s == Scenario::FirstPage {
            first = body;
        }
    }
    Ok(first)
}

fn print_header() {
    println!(
        "{:<24} {:>9} {:>8} {:>8} {:>8} {:>7} {:>7} {:>7}  {:>18}  target",
        "scenario", "req/s", "p50 ms", "p99 ms", "max ms", "errors", "/bare", "/raw", "cpu srv/gen/pg/all"
    );
}

/// A row of the table: `ceilings` are the bare handler's and the raw-SQL limit's requests/s
/// (NaN: not measured yet), each printed as the row's ratio to it.
fn print_row(label: &str, o: &Outcome, ceilings: [f64; 2], target: &str) {
    let [bare, raw] = ceilings.map(|c| {
        if c.is_nan() {
            "-".to_string()
        } else {
            format!("{:.2}", o.rps / c)
        }
    });
    println!(
        "{label:<24} {:>9.0} {:>8.2} {:>8.2} {:>8.1} {:>7} {:>7} {:>7}  {:>4.2}/{:.2}/{:.2}/{:.2}  {target}",
        o.rps, o.p50, o.p99, o.max, o.errors, bare, raw, o.cpu[0], o.cpu[1], o.cpu[2], o.cpu[3]
    );
    if let Some(e) = &o.first_error {
        let e: String = e.chars().take(300).collect();
        println!("    first error: {e}");
    }
}

fn verdict(s: Scenario, o: &Outcome, bare_rps: f64) -> String {
    let mut v = Vec::new();
    if s != Scenario::Mixed {
        let ok = o.rps >= bare_rps * 0.5;
        v.push(format!("rps >= 50% of bare: {}", if ok { "met" } else { "NOT met" }));
    }
    let target = s.p99_target_ms();
    v.push(format!(
        "p99 <= {target:.0} ms: {}",
        if o.p99 <= target { "met" } else { "NOT met" }
    ));
    if o.errors > 0 {
        v.push("errors: NOT none".into());
    }
    v.join(", ")
}

fn result_line(
    engine: &str,
    servers: usize,
    s: Scenario,
    o: &Outcome,
    ceilings: [f64; 2],
    n: usize,
    c: usize,
) -> String {
    format!(
        "RESULT bench=http engine={engine} cards={n} connections={c} servers={servers} scenario={} rps={:.0} \
         p50_ms={:.2} p99_ms={:.2} max_ms={:.1} errors={} requests={} ratio_to_bare={:.3} ratio_to_raw_sql={:.3} \
         cpu_servers={:.2} cpu_generator={:.2} cpu_postgres={:.2} cpu_machine={:.2}",
        s.key(),
        o.rps,
        o.p50,
        o.p99,
        o.max,
        o.errors,
        o.requests,
        o.rps / ceilings[0],
        o.rps / ceilings[1],
        o.cpu[0],
        o.cpu[1],
        o.cpu[2],
        o.cpu[3]
    )
}

async fn build(b: &HttpBench) -> Result<Data> {
    let sqlite = b.database.starts_with("sqlite:");
    if sqlite && !b.reuse {
        super::bench::remove_sqlite_file(&b.database)?;
    }
    let app = super::open(&b.database).await?;
    let data = if b.reuse {
        sb::http_existing(&app).await?.ok_or_else(|| {
            Error::bad_input(
                "reuse",
                "no benchmark data here: run once without --reuse (or with --setup-only)",
            )
        })?
    } else {
        if sb::warm_up(&app).await?.0 != 0 {
            return Err(Error::bad_input(
                "database",
                "the database already has cards: give a freshly created one, or --reuse",
            ));
        }
        let bar = ProgressBar::new(b.cards as u64);
        bar.set_style(
            ProgressStyle::with_template("setup {bar:30} {human_pos}/{human_len} cards  {elapsed_precise}")
                .expect("template"),
        );
        let started = Instant::now();
        let d = sb::http_setup(&app, b.cards, &|done| bar.set_position(done as u64)).await?;
        bar.finish_and_clear();
        eprintln!("setup: {} cards in {:.1} s", d.cards, started.elapsed().as_secs_f64());
        d
    };
    if data.cards < 1000 {
        return Err(Error::bad_input("cards", "the benchmark needs at least 1,000 cards"));
    }
    Ok(data)
}

pub async fn run(b: HttpBench) -> Result<()> {
    let sqlite = b.database.starts_with("sqlite:");
    let engine = if sqlite { "sqlite" } else { "postgres" };
    let counts: Vec<usize> = b.servers.iter().copied().filter(|n| *n > 0).collect();
    if counts.is_empty() {
        return Err(Error::bad_input("servers", "give at least one server count"));
    }
    if sqlite && counts.iter().any(|n| *n > 1) {
        return Err(Error::bad_input(
            "servers",
            "several servers share one database on PostgreSQL only; SQLite is one server's file",
        ));
    }
    let data = build(&b).await?;
    let cards = data.cards;
    if b.setup_only {
        println!("data: {cards} cards ({engine}); --reuse runs the load on them");
        return Ok(());
    }
    let token = {
        let app = super::open(&b.database).await?;
        sb::http_token(&app).await?
    };
    let plan = Arc::new(Plan::new(token, data));
    let bin = match &b.server_bin {
        Some(p) => p.clone(),
        None => std::env::current_exe().map_err(|e| Error::internal(e.to_string()))?,
    };
    let (conns, warm, secs) = (b.connections.max(1), b.warmup_seconds, b.seconds.max(1));
    println!(
        "meishi bench http: {engine}, {cards} cards, {conns} connections, {secs} s per scenario (after {warm} s \
         not counted), load {}",
        load_average()
    );
    println!(
        "The load generator (this process), the bare handler (this process, its own runtime), the servers and \
         the database share this machine's {} cores. cpu: cores busy during the run: servers / generator / \
         PostgreSQL (all its processes) / the whole machine (other work included).",
        std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0)
    );
    // The bare handler's requests/s and the raw-SQL limit's, measured in the first round.
    let mut ceilings = [f64::NAN; 2];
    let mut results = Vec::new();
    for (round, &count) in counts.iter().enumerate() {
        let mut servers = Vec::new();
        for k in 0..count {
            servers.push(start_server(&bin, &b.database, k).await?);
        }
        let addrs: Vec<SocketAddr> = servers.iter().map(|s| s.addr).collect();
        let pids: Vec<u32> = servers.iter().map(|s| s.pid).collect();
        let rss_start: Vec<f64> = pids.iter().map(|p| rss_mb(*p)).collect();
        let first = check_pages(addrs[0], &plan).await?;
        println!();
        println!(
            "{count} server(s): {}; RSS after start {:.0} MB",
            addrs.iter().map(|a| a.to_string()).collect::<Vec<_>>().join(", "),
            rss_start.iter().sum::<f64>()
        );
        print_header();
        if round == 0 {
            let bare = start_bare(first.clone())?;
            let o = load(&[bare], &plan, Scenario::Bare, conns, warm, secs, &[]).await;
            ceilings[0] = o.rps;
            print_row(
                Scenario::Bare.name(),
                &o,
                [f64::NAN; 2],
                &format!("{} bytes a page", first.len()),
            );
            results.push(result_line(engine, count, Scenario::Bare, &o, ceilings, cards, conns));
        }
        if round == 0 {
            // Below the server: its work without HTTP, and the page's SQL alone.
            let below = [
                (
                    "first page without HTTP",
                    "the service alone: this process (gen), no target",
                    "first_page_without_http",
                    without_http(&b.database, &plan.token, conns, warm, secs).await?,
                ),
                (
                    "first page's SQL alone",
                    "raw-SQL limit: one SELECT, no token/tags/JSON",
                    "first_page_raw_sql",
                    raw_sql(&b.database, &plan.data.org_id, conns, warm, secs).await?,
                ),
            ];
            ceilings[1] = below[1].3.rps;
            for (label, note, name, o) in below {
                print_row(label, &o, ceilings, note);
                results.push(
                    result_line(engine, count, Scenario::FirstPage, &o, ceilings, cards, conns)
                        .replace("scenario=first_page", &format!("scenario={name}")),
                );
            }
        }
        let scenarios: Vec<Scenario> = if round == 0 {
            READS.iter().copied().chain([Scenario::Mixed]).collect()
        } else {
            vec![Scenario::FirstPage, Scenario::Mixed]
        };
        for s in scenarios {
            let o = load(&addrs, &plan, s, conns, warm, secs, &pids).await;
            print_row(s.name(), &o, ceilings, &verdict(s, &o, ceilings[0]));
            results.push(result_line(engine, count, s, &o, ceilings, cards, conns));
        }
        if round == 0 && b.soak_seconds > 0 {
            results.push(soak(&addrs, &pids, &plan, conns, b.soak_seconds, engine, count).await);
        }
        stop(servers).await;
    }
    println!();
    for r in results {
        println!("{r}");
    }
    Ok(())
}

/// The mixed load for `secs`, a minute at a time: the servers' RSS at its start, after each
/// minute and at its end, and its errors.
async fn soak(
    addrs: &[SocketAddr],
    pids: &[u32],
    plan: &Arc<Plan>,
    conns: usize,
    secs: u64,
    engine: &str,
    count: usize,
) -> String {
    let rss = || pids.iter().map(|p| rss_mb(*p)).sum::<f64>();
    let start_rss = rss();
    println!();
    println!("soak: mixed load for {secs} s; servers' RSS at its start {start_rss:.1} MB");
    let (mut left, mut errors, mut requests, mut worst_p99, mut first_error) = (secs, 0, 0, 0.0f64, None);
    let mut minute = 0;
    while left > 0 {
        let step = left.min(60);
        let o = load(addrs, plan, Scenario::Mixed, conns, 0, step, pids).await;
        left -= step;
        minute += 1;
        errors += o.errors;
        requests += o.requests;
        worst_p99 = worst_p99.max(o.p99);
        first_error = first_error.or(o.first_error);
        println!(
            "  minute {minute:>2}: {:>7.0} req/s  p99 {:>7.2} ms  errors {}  RSS {:.1} MB",
            o.rps,
            o.p99,
            o.errors,
            rss()
        );
    }
    let end_rss = rss();
    println!(
        "soak: {requests} requests, {errors} errors, worst minute's p99 {worst_p99:.2} ms; RSS {start_rss:.1} -> {end_rss:.1} MB"
    );
    if let Some(e) = first_error {
        println!("    first error: {}", e.chars().take(300).collect::<String>());
    }
    format!(
        "RESULT bench=http_soak engine={engine} servers={count} seconds={secs} requests={requests} errors={errors} \
         worst_minute_p99_ms={worst_p99:.2} rss_start_mb={start_rss:.1} rss_end_mb={end_rss:.1}"
    )
}
