//! `dryrund`: checks shadow predictions against a fresh, stricter dry run.
//!
//! Reads predicted KPIs and their provenance from the KPI store, subscribes to
//! `ingestd` for a fresh window of the live feed, runs the same strategy through
//! the request's execution model set (`model_set`, default `dryrun`, from the
//! request's profile or the built-in one), and reports MAPE per KPI with
//! PASS/WARN/FAIL, naming the dry run's set and the soak's.
//!
//! # Layout
//! - [`Args`]: flags of the binary.
//! - [`DryRunServer`]: the gRPC service.
//! - [`validate`]: one validation, from request to report.
//! - [`error`]: [`error::DryRunError`] and its mapping to gRPC codes.
//! - [`metrics`]: accuracy gauges.
//! - [`host`], [`spawn`], [`run`]: serving it.
//!
//! # How predictions are judged
//! See `shadowkpi_domain::accuracy`: MAPE per KPI over the iterations where the
//! KPI was measured, relative to `max(|prediction|, floor)`; `PASS` < 15 %,
//! `WARN` 15–30 %, `FAIL` > 30 %; a missing prediction is `NO_PREDICTION`, a
//! KPI never measured in the dry run `NO_DATA`. A symbol's status is its worst
//! KPI's, the report's the worst symbol's.
#![warn(clippy::unwrap_used)]

pub mod error;
pub mod metrics;
pub mod validate;

use std::process::ExitCode;
use std::sync::Arc;

use shadowkpi_domain::profile::Profile;
use tracing::Instrument;

use shadowkpi_proto::v1::dry_run_service_server::{DryRunService, DryRunServiceServer};
use shadowkpi_proto::v1::{ValidateRequest, ValidateResponse};
use shadowkpi_runtime::app::{Ports, run_service};
use shadowkpi_runtime::{ServiceArgs, ServiceHost, ServingHandle, Shutdown};
use shadowkpi_store::{RedisStore, Store};
use tonic::{Request, Response, Status};

/// Default gRPC port.
pub const GRPC_PORT: u16 = 50054;
/// Default metrics port.
pub const METRICS_PORT: u16 = 9104;

/// `dryrund` flags.
#[derive(Debug, Clone, clap::Parser)]
#[command(
    name = "dryrund",
    version,
    about = "shadowkpi dry-run service: prediction accuracy validation",
    after_help = "Examples:\n  dryrund --redis-url redis://127.0.0.1:6379 --ingest-addr 127.0.0.1:50051\n  SHADOWKPI_INGEST_ADDR=http://ingestd:50051 REDIS_URL=redis://redis:6379 dryrund"
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
}

/// Peers of the dry-run service.
#[derive(Debug, Clone)]
pub struct DryRunConfig {
    /// Address of ingestd.
    pub ingest_addr: String,
}

/// The `DryRunService` implementation.
#[derive(Debug, Clone)]
pub struct DryRunServer {
    config: DryRunConfig,
    store: Arc<dyn Store>,
    profile: Arc<Profile>,
    shutdown: Shutdown,
}

impl DryRunServer {
    /// A server reading predictions from `store`. Parameters of a prediction
    /// without provenance come from the built-in profile.
    pub fn new(config: DryRunConfig, store: Arc<dyn Store>, shutdown: Shutdown) -> Self {
        let profile = Profile::builtin();
        Self {
            config,
            store,
            profile: Arc::new(profile),
            shutdown,
        }
    }
}

type ValidateStream = std::pin::Pin<
    Box<dyn tokio_stream::Stream<Item = Result<ValidateResponse, Status>> + Send + 'static>,
>;

#[tonic::async_trait]
impl DryRunService for DryRunServer {
    type ValidateStream = ValidateStream;

    async fn validate(
        &self,
        request: Request<ValidateRequest>,
    ) -> Result<Response<Self::ValidateStream>, Status> {
        let plan = validate::plan(request.get_ref(), &self.profile)?;
        let (tx, rx) = tokio::sync::mpsc::channel(256);
        tokio::spawn(
            validate::run(
                plan,
                self.config.clone(),
                self.store.clone(),
                tx,
                self.shutdown.token().child_token(),
            )
            .instrument(tracing::Span::current()),
        );
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

/// The gRPC host of the service.
pub fn host(server: DryRunServer) -> ServiceHost {
    let store = server.store.clone();
    ServiceHost::new("dryrund")
        .reflect(shadowkpi_proto::FILE_DESCRIPTOR_SET)
        .requires("redis", shadowkpi_store::readiness_probe(store))
        .add_service(DryRunServiceServer::new(server))
}

/// Serves the service on `listener` in the background (tests, all-in-one).
pub fn spawn(
    config: DryRunConfig,
    store: Arc<dyn Store>,
    listener: tokio::net::TcpListener,
    shutdown: Shutdown,
) -> Result<ServingHandle, shadowkpi_runtime::server::ServeError> {
    host(DryRunServer::new(config, store, shutdown.clone())).spawn_on(listener, shutdown)
}

/// Runs the binary.
pub async fn run(args: Args) -> ExitCode {
    let ports = Ports {
        grpc: GRPC_PORT,
        metrics: METRICS_PORT,
    };
    let config = DryRunConfig {
        ingest_addr: args.ingest_addr.clone(),
    };
    let redis_url = args.service.redis_url.clone();
    let store_options = args.service.store_options();
    run_service("dryrund", &args.service, ports, |shutdown| async move {
        let store: Arc<dyn Store> = Arc::new(RedisStore::open(&redis_url, store_options)?);
        Ok::<_, shadowkpi_store::StoreError>(host(DryRunServer::new(config, store, shutdown)))
    })
    .await
}
