//! exportd when Redis dies: batches N/B, failures counted and reported (never
//! claimed), fail-fast with UNAVAILABLE, recovery without a restart, and the
//! `redis_export_*` metrics on `/metrics`.
//!
//! Every test here reads deltas of the process-wide metrics, so they take
//! [`METRICS_LOCK`] and run one at a time.

mod export_common;
mod store_hooks;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use export_common::*;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_runtime::status::Reason;
use shadowkpi_store::Store;
use shadowkpi_testkit::{RedisServer, http_get, wait_until};
use store_hooks::{Hooked, Hooks};
use tokio_util::sync::CancellationToken;

static METRICS_LOCK: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const NAMES: [&str; 6] = [
    "redis_export_success_total",
    "redis_export_fail_total",
    "redis_export_batches_total",
    "redis_export_batches_failed_total",
    "redis_export_keys_written_total",
    "redis_export_duration_ms_count",
];

/// The text of `/metrics` (served from this process's registry).
async fn scrape_text() -> String {
    // Each test has its own runtime: serve /metrics from a runtime of its own
    // that outlives them all.
    static ENDPOINT: std::sync::OnceLock<std::net::SocketAddr> = std::sync::OnceLock::new();
    let addr = *ENDPOINT.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let addr = shadowkpi_runtime::metrics::spawn(
                    "127.0.0.1:0".parse().unwrap(),
                    CancellationToken::new(),
                    None,
                )
                .await
                .unwrap();
                tx.send(addr).unwrap();
                std::future::pending::<()>().await;
            });
        });
        rx.recv().unwrap()
    });
    let (status, body) = tokio::task::spawn_blocking(move || http_get(addr, "/metrics"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status, 200);
    body
}

/// The export counters as served on `/metrics`.
async fn scrape() -> BTreeMap<&'static str, f64> {
    let body = scrape_text().await;
    NAMES.iter().map(|n| (*n, metric(&body, n))).collect()
}

fn delta(before: &BTreeMap<&str, f64>, after: &BTreeMap<&str, f64>) -> [f64; 6] {
    NAMES.map(|n| after[n] - before[n])
}

fn symbols(n: usize) -> Vec<IterSummary> {
    let names: Vec<String> = (0..n).map(|i| format!("SYM{i:03}")).collect();
    let ks: Vec<(&str, _)> = names
        .iter()
        .map(|s| (s.as_str(), kpis(3.2, 0.85, Some(250.0), 0.3)))
        .collect();
    vec![summary("r1", 1, &ks)]
}

fn fast_config(max_in_flight: usize) -> exportd::ExportConfig {
    exportd::ExportConfig {
        max_in_flight,
        retry: exportd::RetryPolicy {
            max_attempts: 2,
            backoff: Duration::from_millis(10),
            max_backoff: Duration::from_millis(20),
        },
        breaker: exportd::BreakerConfig {
            threshold: 2,
            cooldown: Duration::from_millis(300),
        },
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn n_symbols_with_batch_size_b_make_ceil_n_over_b_batches_and_metrics() {
    let _guard = METRICS_LOCK.lock().await;
    let server = RedisServer::start();
    let exportd = start_exportd(redis_store(&server.url()), fast_config(4)).await;
    let before = scrape().await;
    let mut o = options();
    o.batch_size = 5;
    let report = export(&exportd, o, &symbols(23)).await.unwrap();
    assert_eq!(report.batches, 5, "ceil(23 / 5)");
    let sizes: Vec<usize> = report
        .batch_reports
        .iter()
        .map(|b| b.symbols.len())
        .collect();
    assert_eq!(sizes, [5, 5, 5, 5, 3]);
    assert_eq!(
        report
            .batch_reports
            .iter()
            .map(|b| b.batch)
            .collect::<Vec<_>>(),
        [1, 2, 3, 4, 5]
    );
    assert_eq!(
        report.batch_reports[4].symbols,
        ["SYM020", "SYM021", "SYM022"]
    );
    assert!(
        report
            .batch_reports
            .iter()
            .all(|b| b.success && b.attempts == 1)
    );
    assert_eq!(report.keys_written, 46);
    let after = scrape().await;
    // success, fail, batches, batches failed, keys, exports
    assert_eq!(delta(&before, &after), [23.0, 0.0, 5.0, 0.0, 46.0, 1.0]);
    let mut c = server.connection();
    assert_eq!(scan(&mut c, "dev:bybit:shadow:latest:*").len(), 23);

    // The mode gauge and the batch histogram are on /metrics too.
    let text = scrape_text().await;
    assert!(
        text.contains("redis_export_mode{type=\"hash\"} 1"),
        "{text}"
    );
    assert!(text.contains("redis_export_mode{type=\"flat\"} 0"));
    assert!(text.contains("redis_export_mode{type=\"stream\"} 0"));
    assert!(text.contains("redis_export_batch_duration_ms_bucket"));
}

/// Kills the Redis server right before the `kill_at`-th pipeline (1-based):
/// a crash at an exact point of an export.
#[derive(Debug)]
struct DiesMidExport {
    server: Mutex<RedisServer>,
    applied: Mutex<usize>,
    kill_at: usize,
}

#[async_trait::async_trait]
impl Hooks for DiesMidExport {
    async fn before_apply(&self) {
        let n = {
            let mut a = self.applied.lock().unwrap();
            *a += 1;
            *a
        };
        if n == self.kill_at {
            self.server.lock().unwrap().stop();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_dying_mid_export_fails_the_rest_and_claims_nothing_then_recovers() {
    let _guard = METRICS_LOCK.lock().await;
    let server = RedisServer::start();
    let url = server.url();
    let store = Arc::new(Hooked {
        inner: redis_store(&url),
        hooks: DiesMidExport {
            server: Mutex::new(server),
            applied: Mutex::new(0),
            kill_at: 3,
        },
    });
    // One pipeline at a time, so "the third pipeline" is well defined.
    let exportd = start_exportd(store.clone(), fast_config(1)).await;
    let before = scrape().await;
    let mut o = options();
    o.batch_size = 2;
    let report = export(&exportd, o.clone(), &symbols(10)).await.unwrap();
    assert_eq!(
        (
            report.batches,
            report.batches_succeeded,
            report.batches_failed
        ),
        (5, 2, 3)
    );
    assert_eq!(
        report.failed_symbols,
        ["SYM004", "SYM005", "SYM006", "SYM007", "SYM008", "SYM009"]
    );
    assert_eq!(report.keys_written, 8, "only the batches that landed");
    let b: Vec<(bool, u32)> = report
        .batch_reports
        .iter()
        .map(|b| (b.success, b.attempts))
        .collect();
    // Batch 3 is retried once (2 attempts), which opens the breaker (threshold
    // 2): batches 4 and 5 fail at once without touching the dead server.
    assert_eq!(
        b,
        [(true, 1), (true, 1), (false, 2), (false, 0), (false, 0)]
    );
    assert!(
        report.batch_reports[2]
            .error
            .starts_with("store unavailable: redis://127.0.0.1:")
    );
    assert!(report.batch_reports[3].error.contains("circuit open"));
    // The machine-readable reasons of the same batches, by name.
    let reasons: Vec<&str> = report
        .batch_reports
        .iter()
        .map(|b| b.reason.as_str())
        .collect();
    assert_eq!(
        reasons,
        [
            "",
            "",
            "STORE_UNREACHABLE",
            "STORE_CIRCUIT_OPEN",
            "STORE_CIRCUIT_OPEN"
        ]
    );
    let after = scrape().await;
    assert_eq!(delta(&before, &after), [4.0, 6.0, 5.0, 3.0, 8.0, 1.0]);

    // Still down: the breaker answers at once (or, after its cool-down, the
    // export fails as a whole): UNAVAILABLE, nothing claimed.
    let err = export(&exportd, o.clone(), &symbols(10)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert!(
        err.message().starts_with("store unavailable"),
        "{}",
        err.message()
    );
    assert!(
        matches!(
            Reason::of_status(&err).map(Reason::as_str),
            Some("STORE_CIRCUIT_OPEN" | "STORE_UNREACHABLE")
        ),
        "{err:?}"
    );

    // Redis back: the same exportd recovers by itself.
    store.hooks.server.lock().unwrap().restart();
    let report = wait_until(Duration::from_secs(20), || {
        let o = o.clone();
        let exportd = &exportd;
        async move { export(exportd, o, &symbols(10)).await.ok() }
    })
    .await
    .expect("export succeeds once Redis is back");
    assert_eq!((report.batches_succeeded, report.batches_failed), (5, 0));
    let mut c = store.hooks.server.lock().unwrap().connection();
    assert_eq!(scan(&mut c, "dev:bybit:shadow:latest:*").len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_redis_fails_fast_with_unavailable_naming_it_without_password() {
    let _guard = METRICS_LOCK.lock().await;
    let mut server = RedisServer::start_with(shadowkpi_testkit::RedisConfig::acl_user(
        "exporter",
        "pw-s3cret",
    ));
    let mut config = fast_config(4);
    config.breaker.cooldown = Duration::from_secs(600);
    let exportd = start_exportd(redis_store(&server.url()), config).await;
    server.stop();
    let before = scrape().await;
    let mut o = options();
    o.batch_size = 10;
    let err = export(&exportd, o.clone(), &symbols(40)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("STORE_UNREACHABLE"),
        "{err:?}"
    );
    let msg = err.message();
    assert!(
        msg.starts_with(&format!(
            "store unavailable: redis://exporter:***@127.0.0.1:{}",
            server.port()
        )),
        "{msg}"
    );
    assert!(
        msg.ends_with("nothing was written (40 symbols in 4 batches failed)"),
        "{msg}"
    );
    assert!(!msg.contains("pw-s3cret"));
    let after = scrape().await;
    assert_eq!(delta(&before, &after), [0.0, 40.0, 4.0, 4.0, 0.0, 1.0]);

    // The breaker is open now: the next export is refused before any attempt.
    let err = export(&exportd, o.clone(), &symbols(40)).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable);
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("STORE_CIRCUIT_OPEN"),
        "{err:?}"
    );
    assert!(err.message().contains("circuit open"), "{}", err.message());
    assert!(!scrape_text().await.contains("pw-s3cret"));
    // A dry run needs no Redis and is not blocked by the breaker.
    o.dry_run = true;
    let preview = export(&exportd, o, &symbols(40)).await.unwrap();
    assert_eq!(preview.dry_run_commands.len(), 160);
}

/// A Redis that stops answering writes (`CLIENT PAUSE … WRITE`) while the
/// connection stays up: each attempt outlives the store's response timeout,
/// and the export fails as a whole with UNAVAILABLE and the reason
/// STORE_TIMEOUT (not STORE_UNREACHABLE), on the status and on the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_that_stops_answering_is_store_timeout() {
    let _guard = METRICS_LOCK.lock().await;
    let server = RedisServer::start();
    let options_with_short_timeout = shadowkpi_store::StoreOptions {
        response_timeout: Duration::from_millis(100),
        ..shadowkpi_store::StoreOptions::default()
    };
    let store: Arc<dyn Store> = Arc::new(
        shadowkpi_store::RedisStore::open(&server.url(), options_with_short_timeout).unwrap(),
    );
    let mut config = fast_config(1);
    config.breaker.threshold = 0;
    let exportd = start_exportd(store, config).await;
    let mut c = server.connection();
    let _: () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(600_000)
        .arg("WRITE")
        .query(&mut c)
        .unwrap();
    let err = export(&exportd, options(), &symbols(2)).await.unwrap_err();
    let _: () = redis::cmd("CLIENT").arg("UNPAUSE").query(&mut c).unwrap();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("STORE_TIMEOUT"),
        "{err:?}"
    );
    assert!(
        err.message()
            .starts_with("store timed out: redis://127.0.0.1:"),
        "{}",
        err.message()
    );
}
