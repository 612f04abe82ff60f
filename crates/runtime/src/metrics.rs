//! Prometheus metrics: the `/metrics` HTTP endpoint and the gRPC request metrics.
//!
//! Every metric lives in the process-wide default registry, so an all-in-one
//! process that hosts several services exposes all of them on each endpoint.

use std::net::SocketAddr;
use std::sync::LazyLock;

use prometheus::{Encoder, HistogramVec, IntCounterVec, TextEncoder};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// Content type of the Prometheus text exposition format.
pub const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Request metrics of every gRPC server, labelled like go-grpc-prometheus.
pub struct GrpcMetrics {
    /// `grpc_server_handled_total{grpc_service,grpc_method,grpc_code}`.
    pub handled: IntCounterVec,
    /// `grpc_server_handling_seconds{grpc_service,grpc_method}`: time to the
    /// response headers (for streams: time to the start of the stream).
    pub handling_seconds: HistogramVec,
}

/// The gRPC request metrics, registered on first use.
pub static GRPC: LazyLock<GrpcMetrics> = LazyLock::new(|| GrpcMetrics {
    handled: register_counter_vec(
        "grpc_server_handled_total",
        "gRPC requests completed on the server, by status code",
        &["grpc_service", "grpc_method", "grpc_code"],
    ),
    handling_seconds: register_histogram_vec(
        "grpc_server_handling_seconds",
        "time to the response of a gRPC request on the server",
        &["grpc_service", "grpc_method"],
        vec![
            0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
        ],
    ),
});

/// `service_dependency_up{dependency}`: 1 while the dependency answers the
/// host's readiness probe, 0 otherwise.
static DEPENDENCY_UP: LazyLock<prometheus::GaugeVec> = LazyLock::new(|| {
    register_gauge_vec(
        "service_dependency_up",
        "1 while a dependency the service cannot work without answers its readiness probe, 0 otherwise",
        &["dependency"],
    )
});

/// Sets `service_dependency_up{dependency}`.
pub fn dependency_up(dependency: &str, up: bool) {
    DEPENDENCY_UP
        .with_label_values(&[dependency])
        .set(if up { 1.0 } else { 0.0 });
}

/// Registers a counter vector in the default registry; a second registration of
/// the same name (several services in one process) returns a working, unregistered
/// twin instead of failing.
pub fn register_counter_vec(name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let c = IntCounterVec::new(prometheus::Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("invalid metric {name}: {e}"));
    register_or_existing(c)
}

/// Registers a gauge vector in the default registry (see [`register_counter_vec`]).
pub fn register_gauge_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::GaugeVec {
    let g = prometheus::GaugeVec::new(prometheus::Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("invalid metric {name}: {e}"));
    register_or_existing(g)
}

/// Registers a histogram vector in the default registry (see [`register_counter_vec`]).
pub fn register_histogram_vec(
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: Vec<f64>,
) -> HistogramVec {
    let h = HistogramVec::new(
        prometheus::HistogramOpts::new(name, help).buckets(buckets),
        labels,
    )
    .unwrap_or_else(|e| panic!("invalid metric {name}: {e}"));
    register_or_existing(h)
}

fn register_or_existing<C: prometheus::core::Collector + Clone + 'static>(c: C) -> C {
    // Metric names are static and unique per process; a duplicate can only come
    // from a second service instance in the same process, which is harmless.
    let _ = prometheus::default_registry().register(Box::new(c.clone()));
    c
}

/// Renders every registered metric in the Prometheus text format.
pub fn render() -> String {
    let families = prometheus::gather();
    let mut buf = Vec::new();
    if TextEncoder::new().encode(&families, &mut buf).is_err() {
        return String::new();
    }
    String::from_utf8(buf).unwrap_or_default()
}

/// Serves `GET /metrics` on `listener` until `shutdown` is cancelled, and
/// with `health` also `GET /livez` and `GET /readyz`: 200 while the gRPC
/// health says so (overall status, every service name), 503 with the reason
/// otherwise.
pub async fn serve(
    listener: TcpListener,
    shutdown: CancellationToken,
    health: Option<crate::server::HealthView>,
) -> std::io::Result<()> {
    use axum::routing::get;
    let mut app = axum::Router::new().route(
        "/metrics",
        get(|| async { ([(http::header::CONTENT_TYPE, TEXT_FORMAT)], render()) }),
    );
    if let Some(h) = health {
        let live = h.clone();
        app = app
            .route(
                "/livez",
                get(move || {
                    let h = live.clone();
                    async move {
                        if h.live().await {
                            (http::StatusCode::OK, "live\n".to_string())
                        } else {
                            (
                                http::StatusCode::SERVICE_UNAVAILABLE,
                                "not live\n".to_string(),
                            )
                        }
                    }
                }),
            )
            .route(
                "/readyz",
                get(move || {
                    let h = h.clone();
                    async move {
                        match h.ready().await {
                            Ok(()) => (http::StatusCode::OK, "ready\n".to_string()),
                            Err(why) => (
                                http::StatusCode::SERVICE_UNAVAILABLE,
                                format!("not ready: {why}\n"),
                            ),
                        }
                    }
                }),
            );
    }
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { shutdown.cancelled().await })
        .await
}

/// Binds `addr` and serves `/metrics` (and with `health` `/livez`,
/// `/readyz`) in a background task; returns the bound address.
pub async fn spawn(
    addr: SocketAddr,
    shutdown: CancellationToken,
    health: Option<crate::server::HealthView>,
) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    tokio::spawn(async move {
        if let Err(e) = serve(listener, shutdown, health).await {
            tracing::warn!(error = %e, "metrics endpoint stopped");
        }
    });
    Ok(local)
}
