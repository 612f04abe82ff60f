//! `ingestd`: the front door of shadowkpi.
//!
//! Reads the market feed from a Redis Stream through a consumer group, decodes
//! and normalises ticks, puts them in order and fans them out to every gRPC
//! subscriber (`IngestService.Subscribe`). It does not simulate or store KPIs.
//!
//! # How a tick travels
//! 1. The **reader** (`reader.rs`) reads with `XREADGROUP` only while someone is
//!    subscribed: a backlog published before anyone subscribes waits in Redis.
//!    Each session first re-reads this consumer's pending entries and claims
//!    entries idle in dead consumers (`XAUTOCLAIM`); when Redis goes away it
//!    retries with backoff and resumes where the group left off.
//! 2. The **pipeline** (`pipeline.rs`) decodes each entry (bad ones go to the
//!    dead-letter stream with a reason), then runs per symbol the reorder
//!    buffer and the sequence guard of the domain crate, in that order.
//! 3. The **hub** (`hub.rs`) puts released ticks into each subscriber's bounded
//!    queue (drop-oldest, counted); the response stream pulls batches from it,
//!    with the counter increments that belong to them.
//! 4. The **acker** (`ack.rs`) acknowledges an entry only once it left the
//!    service (delivered, dropped on purpose and counted, or dead-lettered).
//!
//! Delivery is at-least-once; the sequence guard drops the duplicates.
//!
//! # Layout
//! - [`Args`], [`IngestArgs`], [`IngestConfig`]: configuration.
//! - [`IngestServer`]: the gRPC service; [`host`], [`spawn`],
//!   [`spawn_with_config`], [`run`] serve it.
//! - [`IngestError`]: errors and their single mapping to gRPC codes.
//!
//! Publishing into the stream is not ingestd's job: the `shadowkpi-feed` crate
//! writes synthetic or replayed feeds (the engine of `shadowctl feed`).
//! - [`metrics`]: the Prometheus metrics.
#![warn(clippy::unwrap_used)]

mod ack;
pub mod config;
pub mod error;
mod hub;
pub mod metrics;
mod pipeline;
mod positional;
mod reader;
mod server;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;

use shadowkpi_proto::v1::SubscribeResponse;
use shadowkpi_proto::v1::ingest_service_server::IngestServiceServer;
use shadowkpi_runtime::app::{Ports, run_service};
use shadowkpi_runtime::{ServiceArgs, ServiceHost, ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store};
use tonic::Status;

pub use config::{IngestArgs, IngestConfig};
pub use error::IngestError;
pub use server::IngestServer;

/// Default gRPC port.
pub const GRPC_PORT: u16 = 50051;
/// Default metrics port.
pub const METRICS_PORT: u16 = 9101;

/// The response stream of `Subscribe`.
pub type TickStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<SubscribeResponse, Status>> + Send + 'static>,
>;

/// `ingestd` flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "ingestd",
    version,
    about = "shadowkpi ingest service: market feed from a Redis Stream to gRPC subscribers",
    after_help = "Examples:\n  ingestd --redis-url redis://127.0.0.1:6379\n  ingestd --stream lob:ticks --group shadow --consumer ingestd-0 --reorder-window 40ms\n  REDIS_URL=redis://redis:6379 SHADOWKPI_LOG_FORMAT=json SHADOWKPI_CONSUMER=ingestd-0 ingestd\n\nThe feed is read only while at least one subscriber is connected; entries\nthat cannot be decoded are copied to <stream>:dlq with a reason."
)]
pub struct Args {
    /// Flags shared by every service.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Flags of the ingest pipeline.
    #[command(flatten)]
    pub ingest: IngestArgs,
}

/// The gRPC host of the service.
pub fn host(server: IngestServer) -> ServiceHost {
    let stopped = server.stopped();
    let store = server.store();
    ServiceHost::new("ingestd")
        .reflect(shadowkpi_proto::FILE_DESCRIPTOR_SET)
        .requires("redis", shadowkpi_store::readiness_probe(store))
        .on_stopped(stopped)
        .add_service(IngestServiceServer::new(server))
}

/// Serves the service on `listener` in the background with the default
/// configuration ([`IngestConfig::default`]: stream `lob:ticks`, group
/// `shadow`, the host name as consumer). See [`spawn_with_config`].
pub fn spawn(
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, shadowkpi_runtime::server::ServeError> {
    spawn_with_config(store, IngestConfig::default(), listener, shutdown)
}

/// Serves the service on `listener` in the background (tests, all-in-one).
///
/// `config` says which stream, group and consumer to read and how
/// ([`IngestConfig::for_stream`] for the defaults on another stream). The
/// background tasks stop when `shutdown` triggers; the handle's
/// [`ServingHandle::join`] (and `stop`) returns once they have finished, the
/// last acknowledgements written. Must be called inside a Tokio runtime.
pub fn spawn_with_config(
    store: Arc<dyn Store>,
    config: IngestConfig,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, shadowkpi_runtime::server::ServeError> {
    host(IngestServer::new(store, config, shutdown.clone())).spawn_on(listener, shutdown)
}

/// Runs the binary.
pub async fn run(args: Args) -> ExitCode {
    let ports = Ports {
        grpc: GRPC_PORT,
        metrics: METRICS_PORT,
    };
    let redis_url = args.service.redis_url.clone();
    let store_options = args.service.store_options();
    let config = args.ingest.to_config();
    run_service("ingestd", &args.service, ports, |shutdown| async move {
        let store: Arc<dyn Store> = Arc::new(RedisStore::open(&redis_url, store_options)?);
        Ok::<_, shadowkpi_store::StoreError>(host(IngestServer::new(store, config, shutdown)))
    })
    .await
}
