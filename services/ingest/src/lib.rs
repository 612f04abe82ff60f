//! `ingestd`: the front door of shadowkpi.
//!
//! Reads the market feed from a Redis Stream through a consumer group, decodes
//! and normalises ticks, puts them in order and fans them out to every gRPC
//! subscriber (`IngestService.Subscribe`). It does not simulate or store KPIs.
//!
//! # Layout
//! - [`Args`]: flags of the binary.
//! - [`IngestServer`]: the gRPC service.
//! - [`host`], [`spawn`], [`run`]: serving it.

use std::process::ExitCode;
use std::sync::Arc;

use shadowkpi_proto::v1::ingest_service_server::{IngestService, IngestServiceServer};
use shadowkpi_proto::v1::{GetStatsRequest, GetStatsResponse, SubscribeRequest, SubscribeResponse};
use shadowkpi_runtime::app::{Ports, run_service};
use shadowkpi_runtime::{ServiceArgs, ServiceHost, ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store, StoreOptions};
use tonic::{Request, Response, Status};

/// Default gRPC port.
pub const GRPC_PORT: u16 = 50051;
/// Default metrics port.
pub const METRICS_PORT: u16 = 9101;

/// `ingestd` flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "ingestd",
    version,
    about = "shadowkpi ingest service: market feed from a Redis Stream to gRPC subscribers",
    after_help = "Examples:\n  ingestd --redis-url redis://127.0.0.1:6379\n  REDIS_URL=redis://redis:6379 SHADOWKPI_LOG_FORMAT=json ingestd"
)]
pub struct Args {
    /// Flags shared by every service.
    #[command(flatten)]
    pub service: ServiceArgs,
}

/// The `IngestService` implementation.
#[derive(Debug, Clone)]
pub struct IngestServer {
    #[allow(dead_code)]
    store: Arc<dyn Store>,
    #[allow(dead_code)]
    shutdown: Shutdown,
}

impl IngestServer {
    /// A server reading from `store`.
    pub fn new(store: Arc<dyn Store>, shutdown: Shutdown) -> Self {
        Self { store, shutdown }
    }
}

type TickStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<SubscribeResponse, Status>> + Send + 'static>,
>;

#[tonic::async_trait]
impl IngestService for IngestServer {
    type SubscribeStream = TickStream;

    async fn subscribe(
        &self,
        _request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        Err(Status::unimplemented("Subscribe is not implemented yet"))
    }

    async fn get_stats(
        &self,
        _request: Request<GetStatsRequest>,
    ) -> Result<Response<GetStatsResponse>, Status> {
        Err(Status::unimplemented("GetStats is not implemented yet"))
    }
}

/// The gRPC host of the service.
pub fn host(server: IngestServer) -> ServiceHost {
    ServiceHost::new("ingestd").add_service(IngestServiceServer::new(server))
}

/// Serves the service on `listener` in the background (tests, all-in-one).
pub fn spawn(
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, shadowkpi_runtime::server::ServeError> {
    host(IngestServer::new(store, shutdown.clone())).spawn_on(listener, shutdown)
}

/// Runs the binary.
pub async fn run(args: Args) -> ExitCode {
    let ports = Ports {
        grpc: GRPC_PORT,
        metrics: METRICS_PORT,
    };
    let redis_url = args.service.redis_url.clone();
    run_service("ingestd", &args.service, ports, |shutdown| async move {
        let store: Arc<dyn Store> =
            Arc::new(RedisStore::open(&redis_url, StoreOptions::default())?);
        Ok::<_, shadowkpi_store::StoreError>(host(IngestServer::new(store, shutdown)))
    })
    .await
}
