//! exportd against Redis with TLS (`rediss://`, certificates made by the
//! harness) and with an ACL user (`user:password@`): exports land, a wrong
//! password is a clear error that is not retried, and no password ever shows
//! up in errors, logs or metrics.

mod export_common;

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use export_common::*;
use shadowkpi_runtime::status::Reason;
use shadowkpi_store::{RedisStore, StoreOptions};
use shadowkpi_testkit::{RedisConfig, RedisServer};

/// Waits until `service` at `url` reports NOT_SERVING (its store refused it).
async fn not_ready(url: &str, service: &str) {
    use tonic_health::pb::HealthCheckRequest;
    use tonic_health::pb::health_check_response::ServingStatus;
    use tonic_health::pb::health_client::HealthClient;
    let channel = tonic::transport::Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let health = HealthClient::new(channel);
    let got = shadowkpi_testkit::wait_until(std::time::Duration::from_secs(20), || {
        let mut health = health.clone();
        async move {
            let r = health
                .check(HealthCheckRequest {
                    service: service.to_string(),
                })
                .await
                .ok()?;
            (r.into_inner().status == ServingStatus::NotServing as i32).then_some(())
        }
    })
    .await;
    assert!(
        got.is_some(),
        "{service} at {url} never reported NOT_SERVING"
    );
}

/// Everything logged by this test process.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn logs() -> &'static Logs {
    static LOGS: OnceLock<Logs> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Logs::default();
        let writer = logs.clone();
        tracing_subscriber::fmt()
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .init();
        logs
    })
}

fn logged() -> String {
    String::from_utf8_lossy(&logs().0.lock().unwrap()).into_owned()
}

/// Failed authentications recorded by the server (`ACL LOG`, reason `auth`).
fn auth_failures(c: &mut redis::Connection) -> u64 {
    let entries: Vec<std::collections::HashMap<String, redis::Value>> =
        redis::cmd("ACL").arg("LOG").query(c).unwrap();
    entries
        .iter()
        .filter(|e| matches!(e.get("reason"), Some(redis::Value::BulkString(r)) if r == b"auth"))
        .map(|e| match e.get("count") {
            Some(redis::Value::Int(n)) => *n as u64,
            _ => 0,
        })
        .sum()
}

fn input() -> Vec<shadowkpi_domain::summary::IterSummary> {
    vec![summary(
        "r1",
        1,
        &[
            ("BTC-USDT", kpis(3.2, 0.85, Some(250.0), 0.3)),
            ("ETHUSDT", kpis(2.5, 0.9, Some(120.0), 0.1)),
        ],
    )]
}

/// Exports with `url`, then with the same URL and a wrong password: the
/// latter is FAILED_PRECONDITION naming the store without the password, and
/// each export costs the server the same two failed AUTHs (no retry loop).
async fn check_acl(
    server: &RedisServer,
    url: &str,
    good: &str,
    store: impl Fn(&str) -> RedisStore,
) {
    logs();
    let exportd = start_exportd(Arc::new(store(url)), exportd::ExportConfig::default()).await;
    let report = export(&exportd, options(), &input()).await.unwrap();
    assert_eq!(report.batches_succeeded, 1);
    let mut c = server.connection();
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:BTCUSDT")["p95_latency_ms"],
        "250"
    );

    let wrong = url.replace(good, "wrong-pass");
    let bad = start_exportd(Arc::new(store(&wrong)), exportd::ExportConfig::default()).await;
    // Its readiness probe logs in too: count from after its first (failed)
    // probe, the next one comes 4 s later.
    not_ready(&bad.url(), shadowkpi_proto::service_names::EXPORT).await;
    let before = auth_failures(&mut c);
    let err = export(&bad, options(), &input()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::FailedPrecondition, "{err:?}");
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("STORE_AUTH"),
        "{err:?}"
    );
    let msg = err.message().to_string();
    let shown = url.replace(good, "***");
    assert!(
        msg.starts_with(&format!("store authentication failed: {shown}")),
        "{msg}"
    );
    assert!(msg.ends_with("; nothing was written"), "{msg}");
    let first = auth_failures(&mut c) - before;
    // The store's connection manager retries its connect once; exportd adds
    // no retry of its own for an authentication error.
    assert_eq!(first, 2, "failed AUTHs for one export");
    // Not retried in a loop: a second export costs exactly as many.
    export(&bad, options(), &input()).await.unwrap_err();
    assert_eq!(auth_failures(&mut c) - before, 2 * first);

    let metrics = shadowkpi_runtime::metrics::render();
    let logs = logged();
    assert!(logs.contains("batch failed"), "the failure was logged");
    for secret in [good, "wrong-pass"] {
        assert!(!msg.contains(secret));
        assert!(!logs.contains(secret), "password in logs");
        assert!(!metrics.contains(secret), "password in metrics");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acl_user_exports_and_a_wrong_password_is_a_clear_error_not_retried() {
    let server = RedisServer::start_with(RedisConfig::acl_user("exporter", "acl-s3cret"));
    let url = server.url();
    assert!(url.starts_with("redis://exporter:acl-s3cret@"));
    check_acl(&server, &url, "acl-s3cret", |u| {
        RedisStore::open(u, StoreOptions::default()).unwrap()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_redis_with_an_acl_user_gets_the_export() {
    let server =
        match RedisServer::try_start_tls_with(RedisConfig::acl_user("exporter", "tls-s3cret")) {
            Ok(s) => s,
            Err(why) => {
                eprintln!("\n!!!!! SKIPPING TLS EXPORT TEST: {why} !!!!!\n");
                return;
            }
        };
    let url = server.url();
    assert!(
        url.starts_with("rediss://exporter:tls-s3cret@127.0.0.1:"),
        "{url}"
    );
    let ca = server.ca_cert_pem().unwrap();

    // Without the CA the certificate is not trusted: unavailable, clearly.
    let untrusted = start_exportd(redis_store(&url), exportd::ExportConfig::default()).await;
    let err = export(&untrusted, options(), &input()).await.unwrap_err();
    assert_eq!(err.code(), tonic::Code::Unavailable, "{err:?}");
    assert_eq!(
        Reason::of_status(&err).map(Reason::as_str),
        Some("STORE_UNREACHABLE"),
        "{err:?}"
    );
    assert!(!err.message().contains("tls-s3cret"));

    check_acl(&server, &url, "tls-s3cret", |u| {
        RedisStore::open_with_root_ca(u, StoreOptions::default(), &ca).unwrap()
    })
    .await;
    let mut c = server.connection();
    assert_eq!(
        hgetall(&mut c, "dev:bybit:shadow:latest:ETHUSDT"),
        map(&[
            ("edge_bps", "2.5"),
            ("maker_taker_ratio", "0.9"),
            ("p95_latency_ms", "120"),
            ("risk_ratio", "0.1"),
        ])
    );
    let ttl = ttl(&mut c, "dev:bybit:shadow:meta:ETHUSDT");
    assert!((3590..=3600).contains(&ttl));
}
