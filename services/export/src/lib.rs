//! `exportd`: publishes KPI summaries to the Redis KPI store.
//!
//! `ExportSummaries` takes a client stream (options first, then `IterSummary`
//! messages), aggregates each symbol's windows (median, mean or last), plans
//! the writes of the contract's key schema (hash, flat or stream layout plus
//! the provenance hash; see `shadowkpi_domain::export`) and runs them as
//! non-transactional pipelines of `batch_size` symbols, several in flight.
//! Every write is idempotent, so a batch that failed is retried with backoff a
//! bounded number of times (never on authentication errors), and exporting the
//! same summaries twice leaves the store as once did. A circuit breaker makes
//! a dead store fail fast with UNAVAILABLE. The answer is the export report:
//! per batch, what was written and what was not. In dry-run mode it holds the
//! exact commands instead, and nothing is written.
//!
//! It does not simulate anything and owns no key schema logic: that is the
//! domain's. It talks to storage only through `shadowkpi_store::Store`.
//!
//! # Layout
//! - [`Args`]: flags of the binary.
//! - [`service`]: [`ExportServer`] (the gRPC service), [`ExportConfig`]
//!   (in-flight pipelines, [`RetryPolicy`], breaker).
//! - [`job`]: validation of the export options.
//! - [`breaker`]: the circuit breaker.
//! - [`metrics`]: the `redis_export_*` metrics.
//! - [`error`]: [`ExportError`] and its gRPC codes.
//! - [`host`], [`spawn`], [`spawn_with`], [`spawn_local`], [`run`]: serving it.
#![warn(clippy::unwrap_used)]

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_proto::v1::export_service_server::ExportServiceServer;
use shadowkpi_runtime::app::{Ports, run_service};
use shadowkpi_runtime::server::ServeError;
use shadowkpi_runtime::{ServiceArgs, ServiceHost, ServingHandle, Shutdown, parse_duration};
use shadowkpi_store::{RedisStore, Store, StoreOptions};

pub mod breaker;
pub mod error;
pub mod job;
pub mod metrics;
pub mod service;

pub use breaker::BreakerConfig;
pub use error::ExportError;
pub use service::{ExportConfig, ExportServer, RetryPolicy};

/// Default gRPC port.
pub const GRPC_PORT: u16 = 50053;
/// Default metrics port.
pub const METRICS_PORT: u16 = 9103;

/// Largest request or response message (a summary of many symbols, the
/// commands of a large dry run).
pub const MAX_MESSAGE_BYTES: usize = 64 << 20;

/// `exportd` flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "exportd",
    version,
    about = "shadowkpi export service: KPI summaries to the Redis KPI store",
    after_help = "Examples:\n  exportd --redis-url redis://127.0.0.1:6379\n  REDIS_URL=rediss://user:pass@redis:6380 exportd --log-format json\n  SSL_CERT_FILE=/etc/redis/ca.crt exportd --redis-url rediss://redis:6380   # private CA\n  exportd --max-in-flight 8 --retry-attempts 5 --breaker-cooldown 10s"
)]
pub struct Args {
    /// Flags shared by every service.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Flags of the write path.
    #[command(flatten)]
    pub export: ExportFlags,
}

/// Write-path flags of `exportd`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExportFlags {
    /// Pipelines in flight at once per export.
    #[arg(long, env = "SHADOWKPI_EXPORT_MAX_IN_FLIGHT", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub max_in_flight: u16,
    /// Attempts per pipeline when Redis is unreachable (the first included).
    #[arg(long, env = "SHADOWKPI_EXPORT_RETRY_ATTEMPTS", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=20))]
    pub retry_attempts: u32,
    /// Wait before the first retry; doubles for each further one (at most 2s).
    #[arg(long, env = "SHADOWKPI_EXPORT_RETRY_BACKOFF", default_value = "100ms", value_parser = parse_duration)]
    pub retry_backoff: Duration,
    /// Consecutive unreachable-store failures that open the circuit breaker (0 disables it).
    #[arg(long, env = "SHADOWKPI_EXPORT_BREAKER_THRESHOLD", default_value_t = 5)]
    pub breaker_threshold: u32,
    /// How long an open breaker fails exports at once before trying Redis again.
    #[arg(long, env = "SHADOWKPI_EXPORT_BREAKER_COOLDOWN", default_value = "5s", value_parser = parse_duration)]
    pub breaker_cooldown: Duration,
    /// Timeout of connecting to Redis.
    #[arg(long, env = "SHADOWKPI_REDIS_CONNECT_TIMEOUT", default_value = "2s", value_parser = parse_duration)]
    pub redis_connect_timeout: Duration,
    /// Timeout of a Redis reply (a whole pipeline).
    #[arg(long, env = "SHADOWKPI_REDIS_RESPONSE_TIMEOUT", default_value = "5s", value_parser = parse_duration)]
    pub redis_response_timeout: Duration,
}

impl ExportFlags {
    /// The write-path configuration.
    pub fn config(&self) -> ExportConfig {
        ExportConfig {
            max_in_flight: usize::from(self.max_in_flight),
            retry: RetryPolicy {
                max_attempts: self.retry_attempts,
                backoff: self.retry_backoff,
                ..RetryPolicy::default()
            },
            breaker: BreakerConfig {
                threshold: self.breaker_threshold,
                cooldown: self.breaker_cooldown,
            },
        }
    }

    /// The Redis connection settings (standalone unless the URL lists
    /// several nodes; `--redis-cluster` is a service-wide flag).
    pub fn store_options(&self) -> StoreOptions {
        StoreOptions {
            connect_timeout: self.redis_connect_timeout,
            response_timeout: self.redis_response_timeout,
            cluster: false,
        }
    }
}

/// The gRPC host of the service.
pub fn host(server: ExportServer) -> ServiceHost {
    let store = server.store();
    ServiceHost::new("exportd")
        .reflect(shadowkpi_proto::FILE_DESCRIPTOR_SET)
        .requires("redis", shadowkpi_store::readiness_probe(store))
        .long_lived("/shadowkpi.v1.ExportService/ExportSummaries")
        .add_service(
            ExportServiceServer::new(server)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
}

/// Serves the service on `listener` in the background (tests, all-in-one),
/// with the default [`ExportConfig`].
pub fn spawn(
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, ServeError> {
    spawn_with(store, ExportConfig::default(), listener, shutdown)
}

/// [`spawn`] with an explicit [`ExportConfig`].
pub fn spawn_with(
    store: Arc<dyn Store>,
    config: ExportConfig,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, ServeError> {
    host(ExportServer::with_config(store, config)).spawn_on(listener, shutdown)
}

/// Starts the service in this process on `127.0.0.1:<free port>` (for the CLI
/// and all-in-one mode); connect to [`ServingHandle::url`], stop with
/// [`ServingHandle::stop`].
pub async fn spawn_local(
    store: Arc<dyn Store>,
    config: ExportConfig,
    shutdown: Shutdown,
) -> Result<ServingHandle, ServeError> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    spawn_with(store, config, listener, shutdown)
}

/// Runs the binary.
pub async fn run(args: Args) -> ExitCode {
    let ports = Ports {
        grpc: GRPC_PORT,
        metrics: METRICS_PORT,
    };
    let redis_url = args.service.redis_url.clone();
    let config = args.export.config();
    let options = StoreOptions {
        cluster: args.service.redis_cluster,
        ..args.export.store_options()
    };
    run_service("exportd", &args.service, ports, |_shutdown| async move {
        let store: Arc<dyn Store> = Arc::new(RedisStore::open(&redis_url, options)?);
        tracing::info!(store = %store.describe(), max_in_flight = config.max_in_flight, "exporting to redis");
        Ok::<_, shadowkpi_store::StoreError>(host(ExportServer::with_config(store, config)))
    })
    .await
}
