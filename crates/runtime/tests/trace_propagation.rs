//! A trace started by a client continues on the server: the runtime's client
//! interceptor writes `traceparent`, the server layer reads it.

use opentelemetry::trace::{TraceContextExt, TraceId};
use opentelemetry_sdk::trace::InMemorySpanExporter;
use shadowkpi_runtime::client;
use shadowkpi_runtime::config::LogFormat;
use shadowkpi_runtime::telemetry::{TelemetryConfig, init_with};
use shadowkpi_runtime::{ServiceHost, Shutdown};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_trace_id_arrives_at_server_span_with_client_parent() {
    let exporter = InMemorySpanExporter::default();
    let guard = init_with(
        &TelemetryConfig::new("trace-test", LogFormat::Pretty, "info"),
        Some(exporter.clone()),
    )
    .unwrap();

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let handle = ServiceHost::new("trace-test")
        .spawn_on(listener, Shutdown::new())
        .unwrap();

    let client_span = tracing::info_span!("client.operation");
    let (trace_id, client_span_id) = {
        let cx = client_span.context();
        let sc = cx.span().span_context().clone();
        (sc.trace_id(), sc.span_id())
    };
    assert_ne!(trace_id, TraceId::INVALID);

    async {
        let channel = client::connect("trace-test", &handle.url()).await.unwrap();
        let resp = HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: String::new(),
            })
            .await
            .unwrap();
        assert_eq!(resp.into_inner().status, 1, "SERVING");
    }
    .instrument(client_span.clone())
    .await;
    drop(client_span);

    guard.provider().force_flush().unwrap();
    let spans = exporter.get_finished_spans().unwrap();
    let server = spans
        .iter()
        .find(|s| s.name == "grpc.health.v1.Health/Check")
        .unwrap_or_else(|| {
            panic!(
                "no server span; got {:?}",
                spans.iter().map(|s| s.name.clone()).collect::<Vec<_>>()
            )
        });
    assert_eq!(server.span_context.trace_id(), trace_id, "same trace");
    assert_eq!(
        server.parent_span_id, client_span_id,
        "client span is the parent"
    );
    assert_eq!(server.span_kind, opentelemetry::trace::SpanKind::Server);
    handle.stop().await.unwrap();
}
