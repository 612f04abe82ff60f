//! `shadowctl health`: checks `grpc.health.v1` of the four services.

use std::process::ExitCode;
use std::time::{Duration, Instant};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use shadowkpi_proto::service_names;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

use crate::error::{CliError, CliResult};
use crate::globals::GlobalArgs;

/// Which service to check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceKind {
    /// ingestd.
    Ingest,
    /// shadowd.
    Shadow,
    /// exportd.
    Export,
    /// dryrund.
    Dryrun,
}

/// Flags of `shadowctl health`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl health\n  shadowctl health --service ingest   # exit 0 only when ingestd is ready (SERVING)\n  SHADOWKPI_INGEST_ADDR=ingestd:50051 shadowctl health --json\n\nready: the health of the service's own name, NOT_SERVING while it drains or while the\nRedis it cannot work without (ingestd, exportd, dryrund) does not answer.\nlive: the overall health (\"\"), SERVING while the process serves. Exit 0 when every\nservice checked is ready, 1 otherwise."
)]
pub struct HealthArgs {
    /// Check only these services (default: all four).
    #[arg(long, value_enum, num_args = 1..)]
    pub service: Vec<ServiceKind>,
    /// Deadline of each check.
    #[arg(long, default_value = "3s", value_parser = shadowkpi_runtime::parse_duration)]
    pub timeout: Duration,
}

/// One row of the health table.
#[derive(Debug, Serialize)]
pub struct HealthRow {
    /// Binary name.
    pub service: &'static str,
    /// Address checked.
    pub address: String,
    /// Readiness, the health of the service's own name: `SERVING`,
    /// `NOT_SERVING` (draining, or a dependency it cannot work without, its
    /// Redis, does not answer), `UNREACHABLE: …`.
    pub status: String,
    /// Liveness, the overall health (`""`): `SERVING` while the process
    /// serves, whatever its dependencies do.
    pub live: String,
    /// Round trip of the checks.
    pub latency_ms: f64,
}

impl HealthRow {
    fn healthy(&self) -> bool {
        self.status == "SERVING"
    }
}

fn target(kind: ServiceKind, g: &GlobalArgs) -> (&'static str, &'static str, String) {
    let (name, svc, addr, port) = match kind {
        ServiceKind::Ingest => (
            "ingestd",
            service_names::INGEST,
            &g.ingest_addr,
            ingestd::GRPC_PORT,
        ),
        ServiceKind::Shadow => (
            "shadowd",
            service_names::SHADOW,
            &g.shadow_addr,
            shadowd::GRPC_PORT,
        ),
        ServiceKind::Export => (
            "exportd",
            service_names::EXPORT,
            &g.export_addr,
            exportd::GRPC_PORT,
        ),
        ServiceKind::Dryrun => (
            "dryrund",
            service_names::DRYRUN,
            &g.dryrun_addr,
            dryrund::GRPC_PORT,
        ),
    };
    let addr = addr.clone().unwrap_or_else(|| format!("127.0.0.1:{port}"));
    (name, svc, shadowkpi_runtime::normalize_endpoint(&addr))
}

/// Checks one service.
pub async fn check(
    name: &'static str,
    service: &str,
    address: String,
    timeout: Duration,
) -> HealthRow {
    let start = Instant::now();
    let checked = tokio::time::timeout(timeout, async {
        let channel = shadowkpi_runtime::client::connect(name, &address)
            .await
            .map_err(|e| e.reason)?;
        let mut client = HealthClient::new(channel);
        let mut ask = async |service: &str| {
            use tonic_health::pb::health_check_response::ServingStatus;
            client
                .check(HealthCheckRequest {
                    service: service.to_string(),
                })
                .await
                .map(|resp| {
                    ServingStatus::try_from(resp.into_inner().status)
                        .map(|s| s.as_str_name().to_string())
                        .unwrap_or_else(|_| "UNKNOWN".into())
                })
                .map_err(|s| format!("{:?}: {}", s.code(), s.message()))
        };
        let ready = ask(service).await?;
        let live = ask(shadowkpi_runtime::server::LIVENESS).await?;
        Ok::<_, String>((ready, live))
    })
    .await;
    let (status, live) = match checked {
        Ok(Ok(pair)) => pair,
        Ok(Err(e)) => {
            let s = format!("UNREACHABLE: {e}");
            (s.clone(), s)
        }
        Err(_) => {
            let s = format!("UNREACHABLE: no answer within {}ms", timeout.as_millis());
            (s.clone(), s)
        }
    };
    HealthRow {
        service: name,
        address,
        status,
        live,
        latency_ms: (start.elapsed().as_secs_f64() * 1e4).round() / 10.0,
    }
}

/// Runs the command: exit 0 when every checked service is SERVING, 1 otherwise.
pub async fn run(args: HealthArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let kinds = if args.service.is_empty() {
        vec![
            ServiceKind::Ingest,
            ServiceKind::Shadow,
            ServiceKind::Export,
            ServiceKind::Dryrun,
        ]
    } else {
        args.service.clone()
    };
    let checks = kinds.iter().map(|k| {
        let (name, svc, addr) = target(*k, global);
        check(name, svc, addr, args.timeout)
    });
    let rows = futures::future::join_all(checks).await;
    let all_ok = rows.iter().all(HealthRow::healthy);
    if global.json {
        let out = serde_json::to_string_pretty(&rows)
            .map_err(|e| CliError::Service(format!("json: {e}")))?;
        println!("{out}");
    } else {
        let mut table = Table::new();
        table.load_preset(UTF8_FULL_CONDENSED).set_header([
            "service",
            "address",
            "ready",
            "live",
            "latency ms",
        ]);
        for r in &rows {
            table.add_row([
                r.service.to_string(),
                r.address.clone(),
                r.status.clone(),
                r.live.clone(),
                format!("{:.1}", r.latency_ms),
            ]);
        }
        println!("{table}");
        println!(
            "{}/{} ready",
            rows.iter().filter(|r| r.healthy()).count(),
            rows.len()
        );
    }
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
