//! The real `exportd` binary honours the runtime contract.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_health_reflection_metrics_and_drains_on_sigterm() {
    let redis = shadowkpi_testkit::RedisServer::start();
    shadowkpi_testkit::process::check_service_binary(
        std::path::Path::new(env!("CARGO_BIN_EXE_exportd")),
        shadowkpi_proto::service_names::EXPORT,
        &["--redis-url", &redis.url()],
    )
    .await;
}
