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
//! - [`soak`]: one soak, from request validation to verdict.
//! - [`error`]: [`error::ShadowError`] and its mapping to gRPC codes.
//! - [`metrics`]: the live KPI gauges.
//! - [`host`], [`spawn`], [`run`]: serving it.
#![warn(clippy::unwrap_used)]

pub mod error;
pub mod metrics;
pub mod soak;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use shadowkpi_domain::profile::Profile;

use shadowkpi_proto::v1::shadow_service_server::{ShadowService, ShadowServiceServer};
use shadowkpi_proto::v1::{RunSoakRequest, RunSoakResponse};
use shadowkpi_runtime::app::{Ports, run_service};
use shadowkpi_runtime::{ServiceArgs, ServiceHost, ServingHandle, Shutdown};
use tonic::{Request, Response, Status};
use tracing::Instrument;

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
    /// Strategy profile (`profiles/shadow_profiles.json` format); the built-in
    /// profile when unset.
    #[arg(long, env = "SHADOWKPI_PROFILE")]
    pub profile: Option<PathBuf>,
}

/// The profile shipped with shadowkpi (`profiles/shadow_profiles.json`).
pub const BUILTIN_PROFILE: &str = shadowkpi_domain::profile::BUILTIN_PROFILE_JSON;

/// The built-in profile, parsed, with its latency recordings.
pub fn builtin_profile() -> Profile {
    // The shipped file is checked by a unit test; an empty profile is the
    // harmless fallback should it ever not parse.
    Profile::builtin()
}

/// Reads a profile file and the latency recordings its model sets name
/// (relative to the profile's directory); the error names the file.
pub fn load_profile(path: &std::path::Path) -> Result<Profile, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read profile {}: {e}", path.display()))?;
    let mut profile =
        Profile::from_json_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = path.parent().unwrap_or(std::path::Path::new("."));
    profile
        .load_latency_files(|file| {
            let full = dir.join(file);
            std::fs::read_to_string(&full).map_err(|e| format!("{}: {e}", full.display()))
        })
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(profile)
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
    config: ShadowConfig,
    profile: Arc<Profile>,
    shutdown: Shutdown,
}

impl ShadowServer {
    /// A server with the given peers and the built-in profile.
    pub fn new(config: ShadowConfig, shutdown: Shutdown) -> Self {
        Self::with_profile(config, builtin_profile(), shutdown)
    }

    /// A server with the given peers and profile.
    pub fn with_profile(config: ShadowConfig, profile: Profile, shutdown: Shutdown) -> Self {
        Self {
            config,
            profile: Arc::new(profile),
            shutdown,
        }
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
        request: Request<RunSoakRequest>,
    ) -> Result<Response<Self::RunSoakStream>, Status> {
        let plan = soak::plan(request.get_ref(), &self.profile)?;
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        let cancel = self.shutdown.token().child_token();
        let config = self.config.clone();
        tokio::spawn(soak::run(plan, config, tx, cancel).instrument(tracing::Span::current()));
        Ok(Response::new(Box::pin(
            tokio_stream::wrappers::ReceiverStream::new(rx),
        )))
    }
}

/// The gRPC host of the service.
pub fn host(server: ShadowServer) -> ServiceHost {
    ServiceHost::new("shadowd")
        .reflect(shadowkpi_proto::FILE_DESCRIPTOR_SET)
        .add_service(ShadowServiceServer::new(server))
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
    let profile_path = args.profile.clone();
    run_service("shadowd", &args.service, ports, |shutdown| async move {
        let profile = match profile_path {
            Some(p) => load_profile(&p)?,
            None => builtin_profile(),
        };
        Ok::<_, String>(host(ShadowServer::with_profile(config, profile, shutdown)))
    })
    .await
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_builtin_profile_parses() {
        let p = shadowkpi_domain::profile::Profile::from_json_str(super::BUILTIN_PROFILE).unwrap();
        assert!(p.presets.contains_key("maker_bias_uplift_v1"));
    }
}
