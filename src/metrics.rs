//! The server's metrics and their Prometheus text exposition (`GET /metrics`, issue 17).
//!
//! Hand-written rather than a crate: there are a dozen series, the text format is a page of
//! the Prometheus documentation, and the crates (`metrics` + `metrics-exporter-prometheus`)
//! keep one recorder per process, which the integration tests (many servers in one process,
//! each counting its own requests) could not tell apart. A `Metrics` belongs to one `App`.
//!
//! What is counted here, in memory (per server: Prometheus adds the servers up): HTTP answers
//! by method, route template (never the raw path: an id in a path would make a series per
//! card) and status, with a latency histogram by method and route; scheduler runs and
//! failures; mail deliveries by outcome. What the database knows (the outbox's depth, due
//! departures, the pool) is read when scraped (`Gauges`, `service::ops::gauges`): server-wide
//! counts, nothing per organisation.

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// The latency histogram's upper bounds, in seconds.
const BUCKETS: [f64; 13] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The route label of a request no route matched (a 404): one series for all of them.
pub const UNMATCHED: &str = "(unmatched)";

#[derive(Default)]
pub struct Metrics {
    /// method → route → the route's answers.
    http: Mutex<HashMap<String, HashMap<String, Route>>>,
    scheduler_runs: AtomicU64,
    scheduler_failures: AtomicU64,
    /// Seconds since the epoch of the last tick that ran (0: none yet).
    scheduler_last_run: AtomicI64,
    mail: [AtomicU64; 4],
}

#[derive(Default)]
struct Route {
    /// status → answers.
    statuses: HashMap<u16, u64>,
    /// Answers at or under each bound of `BUCKETS` (not yet cumulative).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What a mail delivery came to (`service::mail`'s worker).
#[derive(Debug, Clone, Copy)]
pub enum Delivery {
    Sent = 0,
    /// Failed for now; tried again later.
    Retry = 1,
    /// Failed for good (no retry left).
    Failed = 2,
    /// Refused by the recipient's server (5xx): the address goes on the bounce list.
    Bounced = 3,
}

const DELIVERIES: [(Delivery, &str); 4] = [
    (Delivery::Sent, "sent"),
    (Delivery::Retry, "retry"),
    (Delivery::Failed, "failed"),
    (Delivery::Bounced, "bounced"),
];

/// The figures read from the database when scraped; `None` when it did not answer.
#[derive(Debug, Clone, Default)]
pub struct Gauges {
    pub database_up: bool,
    pub outbox_queued: Option<i64>,
    pub outbox_sending: Option<i64>,
    /// Scheduled departures whose suspension moment has passed (the scheduler picks them up
    /// at its next tick).
    pub departures_due: Option<i64>,
    /// Of those, the ones due for longer than `OVERDUE_AFTER`: the scheduler is behind or failing.
    pub departures_overdue: Option<i64>,
    /// Departures whose suspension ran but whose user still holds something.
    pub departures_needs_action: Option<i64>,
    pub pool: Pool,
}

/// The database connection pool of this server.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pool {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// A due departure not run after this long counts as overdue (the scheduler ticks every 30 s
/// by default).
pub const OVERDUE_AFTER: Duration = Duration::from_secs(600);

impl Metrics {
    /// One answer: its method, route template (or `UNMATCHED`), status and time to headers.
    pub fn request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let secs = took.as_secs_f64();
        let mut http = self.http.lock().unwrap_or_else(|p| p.into_inner());
        // Keys are made only for a new series; a known one is found by borrowing.
        if !http.contains_key(method) {
            http.insert(method.to_string(), HashMap::new());
        }
        let Some(routes) = http.get_mut(method) else { return };
        if !routes.contains_key(route) {
            routes.insert(route.to_string(), Route::default());
        }
        let Some(r) = routes.get_mut(route) else { return };
        *r.statuses.entry(status).or_default() += 1;
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            r.buckets[i] += 1;
        }
        r.count += 1;
        r.sum += secs;
    }

    /// One scheduler tick that ran, with the units of work in it that failed (and whether the
    /// tick itself failed); `at` in seconds since the epoch.
    pub fn scheduler_run(&self, failures: u64, at: i64) {
        self.scheduler_runs.fetch_add(1, Relaxed);
        self.scheduler_failures.fetch_add(failures, Relaxed);
        self.scheduler_last_run.store(at, Relaxed);
    }

    pub fn delivered(&self, outcome: Delivery, n: u64) {
        self.mail[outcome as usize].fetch_add(n, Relaxed);
    }

    /// The Prometheus text exposition (version 0.0.4) of everything, with `gauges`.
    pub fn render(&self, gauges: &Gauges) -> String {
        let mut out = String::with_capacity(4096);
        let o = &mut out;
        {
            let http = self.http.lock().unwrap_or_else(|p| p.into_inner());
            let mut routes: Vec<_> = http
                .iter()
                .flat_map(|(m, routes)| routes.iter().map(move |(r, series)| ((m, r), series)))
                .collect();
            routes.sort_by(|a, b| a.0.cmp(&b.0));
            head(
                o,
                "meishi_http_requests_total",
                "counter",
                "HTTP requests answered, by method, route template and status.",
            );
            for ((method, route), r) in &routes {
                let mut statuses: Vec<_> = r.statuses.iter().collect();
                statuses.sort();
                for (status, n) in statuses {
                    let _ = writeln!(
                        o,
                        "meishi_http_requests_total{{method=\"{}\",route=\"{}\",status=\"{status}\"}} {n}",
                        esc(method),
                        esc(route)
                    );
                }
            }
            head(
                o,
                "meishi_http_request_duration_seconds",
                "histogram",
                "Time from a request to its response's headers, by method and route template.",
            );
            for ((method, route), r) in &routes {
                let labels = format!("method=\"{}\",route=\"{}\"", esc(method), esc(route));
                let mut cumulative = 0;
                for (bound, n) in BUCKETS.iter().zip(r.buckets) {
                    cumulative += n;
                    let _ = writeln!(
                        o,
                        "meishi_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                    );
                }
                let _ = writeln!(
                    o,
                    "meishi_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                    r.count
                );
                let _ = writeln!(o, "meishi_http_request_duration_seconds_sum{{{labels}}} {}", r.sum);
                let _ = writeln!(o, "meishi_http_request_duration_seconds_count{{{labels}}} {}", r.count);
            }
        }
        let counter = |o: &mut String, name: &str, help: &str, v: u64| {
            head(o, name, "counter", help);
            let _ = writeln!(o, "{name} {v}");
        };
        counter(
            o,
            "meishi_scheduler_runs_total",
            "Scheduler ticks run by this server.",
            self.scheduler_runs.load(Relaxed),
        );
        counter(
            o,
            "meishi_scheduler_failures_total",
            "Scheduler units of work (a departure, a purge, a job) or whole ticks that failed; retried at the next tick.",
            self.scheduler_failures.load(Relaxed),
        );
        head(
            o,
            "meishi_scheduler_last_run_timestamp_seconds",
            "gauge",
            "When this server's scheduler last ran (0: not yet).",
        );
        let _ = writeln!(
            o,
            "meishi_scheduler_last_run_timestamp_seconds {}",
            self.scheduler_last_run.load(Relaxed)
        );
        head(
            o,
            "meishi_mail_deliveries_total",
            "counter",
            "Mail delivery attempts by this server's worker, by outcome.",
        );
        for (d, name) in DELIVERIES {
            let _ = writeln!(
                o,
                "meishi_mail_deliveries_total{{outcome=\"{name}\"}} {}",
                self.mail[d as usize].load(Relaxed)
            );
        }
        gauges.render(o);
        out
    }
}

impl Gauges {
    fn render(&self, o: &mut String) {
        let gauge = |o: &mut String, name: &str, help: &str, v: Option<i64>| {
            if let Some(v) = v {
                head(o, name, "gauge", help);
                let _ = writeln!(o, "{name} {v}");
            }
        };
        gauge(
            o,
            "meishi_database_up",
            "Whether the database answered this scrape's queries.",
            Some(self.database_up as i64),
        );
        if let (Some(q), Some(s)) = (self.outbox_queued, self.outbox_sending) {
            head(
                o,
                "meishi_mail_outbox_messages",
                "gauge",
                "Messages in the outbox (every server's): queued, or being sent (claimed).",
            );
            let _ = writeln!(o, "meishi_mail_outbox_messages{{status=\"queued\"}} {q}");
            let _ = writeln!(o, "meishi_mail_outbox_messages{{status=\"sending\"}} {s}");
        }
        gauge(
            o,
            "meishi_departures_due",
            "Scheduled departures whose suspension moment has passed, not yet run.",
            self.departures_due,
        );
        gauge(
            o,
            "meishi_departures_overdue",
            "Due departures not run for more than 10 minutes: the scheduler is behind or failing.",
            self.departures_overdue,
        );
        gauge(
            o,
            "meishi_departures_needs_action",
            "Departures suspended whose user still holds something (要対応).",
            self.departures_needs_action,
        );
        head(
            o,
            "meishi_db_pool_connections",
            "gauge",
            "This server's database connections: in use, idle.",
        );
        let p = self.pool;
        let _ = writeln!(
            o,
            "meishi_db_pool_connections{{state=\"in_use\"}} {}",
            p.size.saturating_sub(p.idle)
        );
        let _ = writeln!(o, "meishi_db_pool_connections{{state=\"idle\"}} {}", p.idle);
        gauge(
            o,
            "meishi_db_pool_max_connections",
            "The most connections this server's pool opens.",
            Some(p.max as i64),
        );
    }
}

fn head(o: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(o, "# HELP {name} {help}");
    let _ = writeln!(o, "# TYPE {name} {kind}");
}

/// A label value as the text format wants it: `\`, `"` and newlines escaped.
fn esc(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_count_by_route_and_status_with_cumulative_buckets() {
        let m = Metrics::default();
        m.request("GET", "/api/v1/cards/{id}", 200, Duration::from_millis(3));
        m.request("GET", "/api/v1/cards/{id}", 404, Duration::from_millis(30));
        m.request("POST", "/a\"b", 201, Duration::from_secs(20));
        let text = m.render(&Gauges::default());
        assert!(
            text.contains("meishi_http_requests_total{method=\"GET\",route=\"/api/v1/cards/{id}\",status=\"200\"} 1\n")
        );
        assert!(
            text.contains("meishi_http_requests_total{method=\"GET\",route=\"/api/v1/cards/{id}\",status=\"404\"} 1\n")
        );
        assert!(text.contains("route=\"/a\\\"b\""), "{text}");
        let bucket = |le: &str| {
            format!(
                "meishi_http_request_duration_seconds_bucket{{method=\"GET\",route=\"/api/v1/cards/{{id}}\",le=\"{le}\"}} "
            )
        };
        assert!(text.contains(&(bucket("0.0025") + "0\n")), "{text}");
        assert!(text.contains(&(bucket("0.005") + "1\n")), "{text}");
        assert!(text.contains(&(bucket("0.05") + "2\n")), "{text}");
        assert!(text.contains(&(bucket("+Inf") + "2\n")), "{text}");
        // Over the last bound: only in +Inf.
        assert!(text.contains("route=\"/a\\\"b\",le=\"10\"} 0\n"), "{text}");
        assert!(text.contains("route=\"/a\\\"b\",le=\"+Inf\"} 1\n"), "{text}");
    }
}
