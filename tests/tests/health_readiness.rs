//! Health that tells the truth: ingestd, exportd and dryrund report their own
//! service name `NOT_SERVING` while their Redis does not answer (readiness:
//! Kubernetes stops routing to them) and `""` `SERVING` all along (liveness:
//! no restart), then `SERVING` again once Redis is back; shadowd, which needs
//! no Redis, stays `SERVING`. `shadowctl health` shows both.

mod stack_common;

use std::time::Duration;

use shadowkpi_proto::service_names;
use shadowkpi_testkit::{cargo_bin, wait_until};
use stack_common::{channel, stack};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

/// Long enough for a few readiness rounds (every 2 s, backing off to 10 s
/// while failing; probes of at most 2 s).
const SETTLE: Duration = Duration::from_secs(40);

async fn status(url: &str, service: &str) -> ServingStatus {
    let resp = HealthClient::new(channel(url).await)
        .check(HealthCheckRequest {
            service: service.to_string(),
        })
        .await
        .unwrap_or_else(|e| panic!("health of `{service}` at {url}: {e}"));
    ServingStatus::try_from(resp.into_inner().status).unwrap()
}

/// Waits until `service` at `url` reports `want`.
async fn becomes(url: &str, service: &str, want: ServingStatus) {
    let got = wait_until(SETTLE, || async {
        (status(url, service).await == want).then_some(())
    })
    .await;
    assert!(got.is_some(), "{service} at {url} did not become {want:?}");
}

fn dependency_gauge() -> Option<f64> {
    let text = shadowkpi_runtime::metrics::render();
    text.lines()
        .find_map(|l| l.strip_prefix("service_dependency_up{dependency=\"redis\"} "))
        .map(|v| v.trim().parse().unwrap())
}

/// `shadowctl health --json` against the stack: (service, ready, live) rows
/// and the exit code.
fn shadowctl_health(s: &stack_common::Stack) -> (Vec<(String, String, String)>, i32) {
    let out = std::process::Command::new(cargo_bin("shadowctl"))
        .args(["--json", "health", "--timeout", "5s"])
        .env("SHADOWKPI_INGEST_ADDR", s.ingest.url())
        .env("SHADOWKPI_SHADOW_ADDR", s.shadow.url())
        .env("SHADOWKPI_EXPORT_ADDR", s.export.url())
        .env("SHADOWKPI_DRYRUN_ADDR", s.dryrun.url())
        .env_remove("SHADOWKPI_CONFIG")
        .output()
        .expect("shadowctl runs");
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "shadowctl health --json: {e}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let rows = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["service"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
                r["live"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    (rows, out.status.code().unwrap())
}

fn row(service: &str, ready: &str, live: &str) -> (String, String, String) {
    (service.into(), ready.into(), live.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_redis_and_liveness_stays_up() {
    let mut s = stack().await;
    let with_redis = [
        (s.ingest.url(), service_names::INGEST),
        (s.export.url(), service_names::EXPORT),
        (s.dryrun.url(), service_names::DRYRUN),
    ];
    for (url, name) in &with_redis {
        assert_eq!(status(url, name).await, ServingStatus::Serving, "{name}");
        assert_eq!(status(url, "").await, ServingStatus::Serving, "{name} live");
    }
    assert_eq!(dependency_gauge(), Some(1.0));
    let (rows, code) = shadowctl_health(&s);
    assert_eq!(code, 0, "{rows:?}");
    assert_eq!(
        rows,
        [
            row("ingestd", "SERVING", "SERVING"),
            row("shadowd", "SERVING", "SERVING"),
            row("exportd", "SERVING", "SERVING"),
            row("dryrund", "SERVING", "SERVING"),
        ]
    );

    // Redis gone: not ready, still live.
    s.redis.stop();
    for (url, name) in &with_redis {
        becomes(url, name, ServingStatus::NotServing).await;
        assert_eq!(status(url, "").await, ServingStatus::Serving, "{name} live");
    }
    let shadow = service_names::SHADOW;
    assert_eq!(
        status(&s.shadow.url(), shadow).await,
        ServingStatus::Serving
    );
    assert_eq!(dependency_gauge(), Some(0.0));
    let (rows, code) = shadowctl_health(&s);
    assert_eq!(code, 1, "a service not ready is exit 1: {rows:?}");
    assert_eq!(
        rows,
        [
            row("ingestd", "NOT_SERVING", "SERVING"),
            row("shadowd", "SERVING", "SERVING"),
            row("exportd", "NOT_SERVING", "SERVING"),
            row("dryrund", "NOT_SERVING", "SERVING"),
        ]
    );

    // Redis back on the same port: ready again.
    s.redis.restart();
    for (url, name) in &with_redis {
        becomes(url, name, ServingStatus::Serving).await;
    }
    assert_eq!(dependency_gauge(), Some(1.0));
    assert_eq!(shadowctl_health(&s).1, 0);
}
