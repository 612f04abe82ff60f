//! `exportd`: publishes KPI summaries to the Redis KPI store.
//!
//! Takes a client stream of `IterSummary` messages (options first), aggregates
//! them per symbol and writes the key schema of the contract in pipelined,
//! idempotent batches. It does not simulate anything.
//!
//! # Layout
//! - [`Args`]: flags of the binary.
//! - [`ExportServer`]: the gRPC service.
//! - [`host`], [`spawn`], [`run`]: serving it.

use std::process::ExitCode;
use std::sync::Arc;

use shadowkpi_proto::v1::export_service_server::{ExportService, ExportServiceServer};
use shadowkpi_proto::v1::{ExportSummariesRequest, ExportSummariesResponse};
use shadowkpi_runtime::app::{Ports, run_service};
use shadowkpi_runtime::{ServiceArgs, ServiceHost, ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store, StoreOptions};
use tonic::{Request, Response, Status, Streaming};

/// Default gRPC port.
pub const GRPC_PORT: u16 = 50053;
/// Default metrics port.
pub const METRICS_PORT: u16 = 9103;

/// `exportd` flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "exportd",
    version,
    about = "shadowkpi export service: KPI summaries to the Redis KPI store",
    after_help = "Examples:\n  exportd --redis-url redis://127.0.0.1:6379\n  REDIS_URL=rediss://user:pass@redis:6380 exportd --log-format json"
)]
pub struct Args {
    /// Flags shared by every service.
    #[command(flatten)]
    pub service: ServiceArgs,
}

/// The `ExportService` implementation.
#[derive(Debug, Clone)]
pub struct ExportServer {
    #[allow(dead_code)]
    store: Arc<dyn Store>,
}

impl ExportServer {
    /// A server writing to `store`.
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self { store }
    }
}

#[tonic::async_trait]
impl ExportService for ExportServer {
    async fn export_summaries(
        &self,
        _request: Request<Streaming<ExportSummariesRequest>>,
    ) -> Result<Response<ExportSummariesResponse>, Status> {
        Err(Status::unimplemented(
            "ExportSummaries is not implemented yet",
        ))
    }
}

/// The gRPC host of the service.
pub fn host(server: ExportServer) -> ServiceHost {
    ServiceHost::new("exportd").add_service(ExportServiceServer::new(server))
}

/// Serves the service on `listener` in the background (tests, all-in-one).
pub fn spawn(
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, shadowkpi_runtime::server::ServeError> {
    host(ExportServer::new(store)).spawn_on(listener, shutdown)
}

/// Runs the binary.
pub async fn run(args: Args) -> ExitCode {
    let ports = Ports {
        grpc: GRPC_PORT,
        metrics: METRICS_PORT,
    };
    let redis_url = args.service.redis_url.clone();
    run_service("exportd", &args.service, ports, |_shutdown| async move {
        let store: Arc<dyn Store> =
            Arc::new(RedisStore::open(&redis_url, StoreOptions::default())?);
        Ok::<_, shadowkpi_store::StoreError>(host(ExportServer::new(store)))
    })
    .await
}
