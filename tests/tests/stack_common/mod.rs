//! Helpers shared by the end-to-end tests that run the whole suite: a private
//! Redis, the four services on `127.0.0.1:0`, a synthetic feed, a channel.

#![allow(dead_code)]

use std::sync::Arc;

use shadowkpi_domain::feed::synthetic::{Scenario, SyntheticConfig};
use shadowkpi_feed::{CancellationToken, PublishOptions, publish_synthetic};
use shadowkpi_runtime::auth::Token;
use shadowkpi_runtime::{ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store, StoreOptions};
use shadowkpi_testkit::RedisServer;
use tonic::transport::Channel;

/// A private Redis and the four services wired to it.
pub struct Stack {
    pub redis: RedisServer,
    pub store: Arc<dyn Store>,
    pub ingest: ServingHandle,
    pub shadow: ServingHandle,
    pub export: ServingHandle,
    pub dryrun: ServingHandle,
}

/// A listener on a free loopback port.
pub async fn listener() -> tokio::net::TcpListener {
    tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap()
}

/// Starts Redis and ingestd, exportd, shadowd and dryrund against it.
pub async fn stack() -> Stack {
    stack_with_token(None).await
}

/// [`stack`] with every service requiring `token` (health and reflection
/// excepted). Their calls to each other carry the token of this process
/// (`shadowkpi_runtime::auth::use_client_token`).
pub async fn stack_with_token(token: Option<Token>) -> Stack {
    stack_secured(token, None).await
}

/// [`stack_with_token`] with every service serving `tls` (its URLs
/// `https://`); their calls to each other use this process's client TLS
/// (`shadowkpi_runtime::tls::use_client_tls`).
pub async fn stack_secured(
    token: Option<Token>,
    tls: Option<tonic::transport::ServerTlsConfig>,
) -> Stack {
    let redis = RedisServer::start();
    let store: Arc<dyn Store> = Arc::new(
        RedisStore::connect(&redis.url(), StoreOptions::default())
            .await
            .unwrap(),
    );
    let shutdown = Shutdown::new();
    let ingest = ingestd::host(ingestd::IngestServer::new(
        store.clone(),
        ingestd::IngestConfig {
            consumer: "e2e".into(),
            ..ingestd::IngestConfig::default()
        },
        shutdown.clone(),
    ))
    .with_auth(token.clone())
    .with_tls(tls.clone())
    .spawn_on(listener().await, shutdown.clone())
    .unwrap();
    let export = exportd::host(exportd::ExportServer::new(store.clone()))
        .with_auth(token.clone())
        .with_tls(tls.clone())
        .spawn_on(listener().await, shutdown.clone())
        .unwrap();
    let shadow = shadowd::host(shadowd::ShadowServer::new(
        shadowd::ShadowConfig {
            ingest_addr: ingest.url(),
            export_addr: export.url(),
        },
        shutdown.clone(),
    ))
    .with_auth(token.clone())
    .with_tls(tls.clone())
    .spawn_on(listener().await, shutdown.clone())
    .unwrap();
    let dryrun = dryrund::host(dryrund::DryRunServer::new(
        dryrund::DryRunConfig {
            ingest_addr: ingest.url(),
        },
        store.clone(),
        shutdown.clone(),
    ))
    .with_auth(token)
    .with_tls(tls)
    .spawn_on(listener().await, shutdown.clone())
    .unwrap();
    Stack {
        redis,
        store,
        ingest,
        shadow,
        export,
        dryrun,
    }
}

/// Publishes `seconds` of event time of the synthetic market (seed 7, 40
/// ticks/s) for `symbols`.
pub async fn feed(store: &dyn Store, symbols: &[&str], seconds: i64, scenario: Scenario) {
    let cfg = SyntheticConfig {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        seed: 7,
        duration_ms: seconds * 1000,
        rate: 40.0,
        scenario,
        ..SyntheticConfig::default()
    };
    let report = publish_synthetic(
        store,
        cfg,
        &PublishOptions::default(),
        CancellationToken::new(),
    )
    .await
    .unwrap();
    assert!(report.ticks > 0);
}

/// A connected channel to `url`.
pub async fn channel(url: &str) -> Channel {
    Channel::from_shared(url.to_string())
        .unwrap()
        .connect()
        .await
        .unwrap()
}

/// Reads a `RunSoak` stream to its end: the windows it streamed and the
/// keys its auto-export wrote.
pub async fn drain_soak(
    mut stream: tonic::Streaming<shadowkpi_proto::v1::RunSoakResponse>,
) -> (usize, u64) {
    use shadowkpi_proto::v1::run_soak_response::Event;
    let (mut windows, mut keys) = (0, 0);
    while let Some(m) = tokio::time::timeout(std::time::Duration::from_secs(120), stream.message())
        .await
        .expect("soak hung")
        .unwrap()
    {
        match m.event.unwrap() {
            Event::Summary(_) => windows += 1,
            Event::ExportReport(r) => keys = r.keys_written,
            _ => {}
        }
    }
    (windows, keys)
}

/// Reads a `Validate` stream to its end: its report.
pub async fn drain_validate(
    mut stream: tonic::Streaming<shadowkpi_proto::v1::ValidateResponse>,
) -> shadowkpi_proto::v1::AccuracyReport {
    use shadowkpi_proto::v1::validate_response::Event;
    let mut report = None;
    while let Some(m) = tokio::time::timeout(std::time::Duration::from_secs(120), stream.message())
        .await
        .expect("validate hung")
        .unwrap()
    {
        if let Some(Event::Report(r)) = m.event {
            report = Some(r);
        }
    }
    report.expect("a report")
}

/// A soak of `iterations` 10 s windows of `symbols` (seed 7) with
/// auto-export into the namespace `e2e`.
pub fn auto_export_soak(symbols: &[&str], iterations: u32) -> shadowkpi_proto::v1::RunSoakRequest {
    shadowkpi_proto::v1::RunSoakRequest {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        iterations,
        window_ms: 10_000,
        seed: 7,
        idle_timeout_ms: 10_000,
        auto_export: true,
        export_options: Some(shadowkpi_proto::v1::ExportOptions {
            env: "e2e".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A dry run of `iterations` 10 s windows of `symbols` (seed 7) against the
/// predictions in the namespace `e2e`.
pub fn e2e_validate(symbols: &[&str], iterations: u32) -> shadowkpi_proto::v1::ValidateRequest {
    shadowkpi_proto::v1::ValidateRequest {
        symbols: symbols.iter().map(|s| s.to_string()).collect(),
        env: "e2e".into(),
        iterations,
        window_ms: 10_000,
        seed: 7,
        idle_timeout_ms: 10_000,
        ..Default::default()
    }
}
