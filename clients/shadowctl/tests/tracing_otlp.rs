//! One `shadowctl pipeline` is one trace across every service: the four real
//! binaries and the CLI export spans over OTLP to a receiver in this test, and
//! every server span carries the pipeline's trace id and a parent from the
//! calling service.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use shadowkpi_testkit::process::ServiceProcess;
use shadowkpi_testkit::{RedisServer, cargo_bin};

/// A span as received: (service.name, name, trace id, span id, parent id).
#[derive(Debug, Clone)]
struct Received {
    service: String,
    name: String,
    trace: Vec<u8>,
    span: Vec<u8>,
    parent: Vec<u8>,
}

#[derive(Default, Clone)]
struct Collector(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut out = self.0.lock().unwrap();
        for rs in request.into_inner().resource_spans {
            let service = rs
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| a.value.as_ref()?.value.as_ref())
                .map(|v| match v {
                    Value::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for ss in rs.scope_spans {
                for s in ss.spans {
                    out.push(Received {
                        service: service.clone(),
                        name: s.name,
                        trace: s.trace_id,
                        span: s.span_id,
                        parent: s.parent_span_id,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_pipeline_is_one_trace_across_all_services() {
    let collector = Collector::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let otlp = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(collector.clone()))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );

    let redis = RedisServer::start();
    let url = redis.url();
    let env = |name: &'static str| {
        [
            ("OTEL_EXPORTER_OTLP_ENDPOINT", otlp.clone()),
            ("OTEL_SERVICE_NAME", name.to_string()),
        ]
    };
    let start = |bin: &str, args: &[&str], name: &'static str| {
        let e = env(name);
        let envs: Vec<(&str, &str)> = e.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let path = cargo_bin(bin);
        assert!(
            path.exists(),
            "{} is not built: run `cargo build --workspace --bins`",
            path.display()
        );
        ServiceProcess::start(&path, args, &envs)
    };
    let mut ingest = start("ingestd", &["--redis-url", &url], "ingestd");
    let mut export = start("exportd", &["--redis-url", &url], "exportd");
    let (iu, eu) = (ingest.url(), export.url());
    let mut shadow = start(
        "shadowd",
        &["--ingest-addr", &iu, "--export-addr", &eu],
        "shadowd",
    );
    let mut dryrun = start(
        "dryrund",
        &["--redis-url", &url, "--ingest-addr", &iu],
        "dryrund",
    );

    let tmp = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_shadowctl"))
        .current_dir(tmp.path())
        .env("OTEL_EXPORTER_OTLP_ENDPOINT", &otlp)
        .env("OTEL_SERVICE_NAME", "shadowctl")
        .args([
            "pipeline",
            "--json",
            "--feed",
            "synthetic",
            "--redis-url",
            &url,
            "--ingest-addr",
            &iu,
            "--shadow-addr",
            &shadow.url(),
            "--export-addr",
            &eu,
            "--dryrun-addr",
            &dryrun.url(),
            "--iterations",
            "2",
            "--duration",
            "10s",
            "--validate-iterations",
            "1",
            "--min-windows",
            "2",
            "--idle-timeout",
            "10s",
        ])
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "pipeline failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The services flush their spans on SIGTERM.
    for p in [&mut ingest, &mut export, &mut shadow, &mut dryrun] {
        p.terminate();
        assert!(
            p.wait_exit(Duration::from_secs(30))
                .is_some_and(|s| s.success())
        );
    }
    server.abort();

    let spans = collector.0.lock().unwrap().clone();
    let root = spans
        .iter()
        .find(|s| s.service == "shadowctl" && s.name == "shadowctl.pipeline")
        .unwrap_or_else(|| {
            panic!(
                "no pipeline span; got {:?}",
                spans
                    .iter()
                    .map(|s| (&s.service, &s.name))
                    .collect::<Vec<_>>()
            )
        });
    assert!(root.parent.is_empty(), "the pipeline is the root");
    let by_id: BTreeMap<Vec<u8>, &Received> = spans.iter().map(|s| (s.span.clone(), s)).collect();

    // Every server span of the four services is in the pipeline's trace, and
    // its parent is a span of the service that called it.
    let expect = [
        (
            "shadowd",
            "shadowkpi.v1.ShadowService/RunSoak",
            &["shadowctl"][..],
        ),
        (
            "exportd",
            "shadowkpi.v1.ExportService/ExportSummaries",
            &["shadowctl"][..],
        ),
        (
            "dryrund",
            "shadowkpi.v1.DryRunService/Validate",
            &["shadowctl"][..],
        ),
        (
            "ingestd",
            "shadowkpi.v1.IngestService/Subscribe",
            &["shadowd", "dryrund"][..],
        ),
    ];
    for (service, name, callers) in expect {
        let server_spans: Vec<&Received> = spans
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        assert!(!server_spans.is_empty(), "no {name} span from {service}");
        for s in &server_spans {
            assert_eq!(s.trace, root.trace, "{name} is in the pipeline's trace");
            let parent = by_id
                .get(&s.parent)
                .unwrap_or_else(|| panic!("{name}: parent span not received"));
            assert!(
                callers.contains(&parent.service.as_str()),
                "{name}: parent from {}",
                parent.service
            );
            assert_eq!(parent.trace, root.trace);
        }
    }
    // Inner spans: each soak window, each export batch, each dry-run iteration.
    for (service, name, at_least) in [
        ("shadowd", "soak.window", 2),
        ("exportd", "export.batch", 1),
        ("dryrund", "dryrun.iteration", 1),
    ] {
        let inner: Vec<&Received> = spans
            .iter()
            .filter(|s| s.service == service && s.name == name)
            .collect();
        assert!(
            inner.len() >= at_least,
            "{service} {name}: {} spans",
            inner.len()
        );
        assert!(
            inner.iter().all(|s| s.trace == root.trace),
            "{name} in the trace"
        );
    }
    // ingestd served both the soak and the dry run.
    let subscribe_parents: Vec<&str> = spans
        .iter()
        .filter(|s| s.name == "shadowkpi.v1.IngestService/Subscribe")
        .filter_map(|s| by_id.get(&s.parent).map(|p| p.service.as_str()))
        .collect();
    assert!(
        subscribe_parents.contains(&"shadowd") && subscribe_parents.contains(&"dryrund"),
        "{subscribe_parents:?}"
    );
}
