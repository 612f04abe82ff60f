//! The real `ingestd` binary honours the runtime contract.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_health_reflection_metrics_and_drains_on_sigterm() {
    let redis = shadowkpi_testkit::RedisServer::start();
    shadowkpi_testkit::process::check_service_binary(
        std::path::Path::new(env!("CARGO_BIN_EXE_ingestd")),
        shadowkpi_proto::service_names::INGEST,
        &["--redis-url", &redis.url()],
    )
    .await;
}

/// `/readyz` follows Redis (503 naming the service while it is down, 200 once
/// it is back) while `/livez` stays 200: the HTTP view of the gRPC health,
/// for probes that cannot speak gRPC over TLS.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_readiness_follows_redis_and_liveness_does_not() {
    use std::time::Duration;
    let mut redis = shadowkpi_testkit::RedisServer::start();
    let p = shadowkpi_testkit::process::ServiceProcess::start(
        std::path::Path::new(env!("CARGO_BIN_EXE_ingestd")),
        &["--redis-url", &redis.url()],
        &[],
    );
    let get = |path: &str| shadowkpi_testkit::http_get(p.metrics, path).unwrap();
    let becomes = |path: &'static str, code: u16| async move {
        shadowkpi_testkit::wait_until(Duration::from_secs(40), || async move {
            let (c, body) = get(path);
            (c == code).then_some(body)
        })
        .await
        .unwrap_or_else(|| panic!("{path} never answered {code}"))
    };
    assert_eq!(becomes("/readyz", 200).await, "ready\n");
    redis.stop();
    let body = becomes("/readyz", 503).await;
    assert_eq!(body, "not ready: shadowkpi.v1.IngestService NOT_SERVING\n");
    assert_eq!(get("/livez"), (200, "live\n".to_string()));
    redis.restart();
    assert_eq!(becomes("/readyz", 200).await, "ready\n");
}
