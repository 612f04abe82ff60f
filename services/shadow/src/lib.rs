//! `shadowd`: the shadow-mode engine as a service.
//!
//! Subscribes to `ingestd`, runs the strategy of the domain crate on the live
//! ticks per event-time window, streams an `IterSummary` per window and the
//! Go/No-Go verdict, and optionally forwards summaries to `exportd`. It does
//! not read Redis itself.
//!
//! # Layout
//! - [`Args`]: flags of the binary.
//! - [`ShadowServer`]: the gRPC service.
//! - [`host`], [`spawn`], [`run`]: serving it.

use std::process::ExitCode;

use shadowkpi_proto::v1::shadow_service_server::{ShadowService, ShadowServiceServer};
use shadowkpi_proto::v1::{RunSoakRequest, RunSoakResponse};
use shadowkpi_runtime::app::{Ports, run_service};
use shadowkpi_runtime::{ServiceArgs, ServiceHost, ServingHandle, Shutdown};
use tonic::{Request, Response, Status};

/// Default gRPC port.
pub const GRPC_PORT: u16 = 50052;
/// Default metrics port.
pub const METRICS_PORT: u16 = 9102;

/// `shadowd` flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "shadowd",
    version,
    about = "shadowkpi shadow service: shadow-mode soak and Go/No-Go gate",
    after_help = "Examples:\n  shadowd --ingest-addr 127.0.0.1:50051 --export-addr 127.0.0.1:50053\n  SHADOWKPI_INGEST_ADDR=http://ingestd:50051 shadowd"
)]
pub struct Args {
    /// Flags shared by every service.
    #[command(flatten)]
    pub service: ServiceArgs,
    /// Address of ingestd.
    #[arg(
        long,
        env = "SHADOWKPI_INGEST_ADDR",
        default_value = "http://127.0.0.1:50051"
    )]
    pub ingest_addr: String,
    /// Address of exportd (for auto-export).
    #[arg(
        long,
        env = "SHADOWKPI_EXPORT_ADDR",
        default_value = "http://127.0.0.1:50053"
    )]
    pub export_addr: String,
}

/// Peers of the shadow service.
#[derive(Debug, Clone)]
pub struct ShadowConfig {
    /// Address of ingestd.
    pub ingest_addr: String,
    /// Address of exportd.
    pub export_addr: String,
}

/// The `ShadowService` implementation.
#[derive(Debug, Clone)]
pub struct ShadowServer {
    #[allow(dead_code)]
    config: ShadowConfig,
    #[allow(dead_code)]
    shutdown: Shutdown,
}

impl ShadowServer {
    /// A server with the given peers.
    pub fn new(config: ShadowConfig, shutdown: Shutdown) -> Self {
        Self { config, shutdown }
    }
}

type SoakStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<RunSoakResponse, Status>> + Send + 'static>,
>;

#[tonic::async_trait]
impl ShadowService for ShadowServer {
    type RunSoakStream = SoakStream;

    async fn run_soak(
        &self,
        _request: Request<RunSoakRequest>,
    ) -> Result<Response<Self::RunSoakStream>, Status> {
        Err(Status::unimplemented("RunSoak is not implemented yet"))
    }
}

/// The gRPC host of the service.
pub fn host(server: ShadowServer) -> ServiceHost {
    ServiceHost::new("shadowd").add_service(ShadowServiceServer::new(server))
}

/// Serves the service on `listener` in the background (tests, all-in-one).
pub fn spawn(
    config: ShadowConfig,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, shadowkpi_runtime::server::ServeError> {
    host(ShadowServer::new(config, shutdown.clone())).spawn_on(listener, shutdown)
}

/// Runs the binary.
pub async fn run(args: Args) -> ExitCode {
    let ports = Ports {
        grpc: GRPC_PORT,
        metrics: METRICS_PORT,
    };
    let config = ShadowConfig {
        ingest_addr: args.ingest_addr.clone(),
        export_addr: args.export_addr.clone(),
    };
    run_service("shadowd", &args.service, ports, |shutdown| async move {
        Ok::<_, std::convert::Infallible>(host(ShadowServer::new(config, shutdown)))
    })
    .await
}
