//! The shared `main` of every service binary.

use std::future::Future;
use std::process::ExitCode;

use crate::config::ServiceArgs;
use crate::server::{Limits, ServiceHost};
use crate::shutdown::Shutdown;
use crate::telemetry::{TelemetryConfig, init};

/// Ports of a service (docs/contract.md, "Binaries and ports").
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// gRPC port.
    pub grpc: u16,
    /// Prometheus `/metrics` port.
    pub metrics: u16,
}

/// Runs a service until SIGINT/SIGTERM: telemetry, `/metrics`, the gRPC host
/// built by `build`, graceful drain, telemetry flush. Returns the process exit
/// code (0 after a clean shutdown, 2 for bad configuration, 1 otherwise).
pub async fn run_service<F, Fut, E>(
    name: &str,
    args: &ServiceArgs,
    ports: Ports,
    build: F,
) -> ExitCode
where
    F: FnOnce(Shutdown) -> Fut,
    Fut: Future<Output = Result<ServiceHost, E>>,
    E: std::fmt::Display,
{
    let telemetry = match init(&TelemetryConfig::new(
        name,
        args.log_format,
        &args.log_level,
    )) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{name}: {e}");
            return ExitCode::from(2);
        }
    };
    let shutdown = Shutdown::on_signals();
    let metrics_addr = match args.metrics_addr(ports.metrics) {
        Ok(a) => a,
        Err(e) => {
            tracing::error!(error = %e, "bad configuration");
            return ExitCode::from(2);
        }
    };
    let token = match args.auth.token() {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(error = %e, "bad configuration");
            telemetry.shutdown();
            return ExitCode::from(2);
        }
    };
    // The same token for the peers this service calls.
    if let Some(Err(e)) = token.clone().map(crate::auth::use_client_token) {
        tracing::error!(error = %e, "bad configuration");
        telemetry.shutdown();
        return ExitCode::from(2);
    }
    let tls = match (args.tls.config(), args.peer_tls.client_tls()) {
        (Ok(server), Ok(client)) => {
            if let Some(Err(e)) = client.map(crate::tls::use_client_tls) {
                tracing::error!(error = %e, "bad configuration");
                telemetry.shutdown();
                return ExitCode::from(2);
            }
            server
        }
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(error = %e, "bad configuration");
            telemetry.shutdown();
            return ExitCode::from(2);
        }
    };
    let host = match build(shutdown.clone()).await {
        Ok(h) => h
            .with_limits(Limits::from(args))
            .with_auth(token)
            .with_tls(tls),
        Err(e) => {
            tracing::error!(error = %e, "cannot start service");
            telemetry.shutdown();
            return ExitCode::from(2);
        }
    };
    if let Some(addr) = metrics_addr {
        match crate::metrics::spawn(addr, shutdown.token(), Some(host.health_view())).await {
            Ok(bound) => {
                tracing::info!(%bound, "metrics endpoint listening on /metrics, /livez, /readyz")
            }
            Err(e) => {
                tracing::error!(%addr, error = %e, "cannot bind metrics endpoint");
                telemetry.shutdown();
                return ExitCode::from(1);
            }
        }
    }
    let addr = args.grpc_addr(ports.grpc);
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => l,
        Err(e) => {
            tracing::error!(%addr, error = %e, "cannot bind grpc listener");
            return ExitCode::from(1);
        }
    };
    let result = host.serve(listener, shutdown.clone()).await;
    shutdown.trigger();
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::from(1)
        }
    }
}
