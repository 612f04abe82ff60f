//! Logging, tracing and W3C trace-context propagation.
//!
//! Every process installs an OpenTelemetry tracer provider, even when nothing
//! is exported, so spans carry trace ids and a `traceparent` received from a
//! client is continued rather than dropped. Spans are exported over OTLP/gRPC
//! only when `OTEL_EXPORTER_OTLP_ENDPOINT` is set.

use std::io::IsTerminal;

use http::HeaderMap;
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::{SdkTracerProvider, SpanExporter};
use tracing_opentelemetry::OpenTelemetrySpanExt;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

use crate::config::LogFormat;

/// Errors while installing telemetry.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// The OTLP exporter could not be built.
    #[error("otlp exporter: {0}")]
    Exporter(String),
    /// The log filter did not parse.
    #[error("invalid log filter `{filter}`: {reason}")]
    Filter {
        /// The filter text.
        filter: String,
        /// Why it did not parse.
        reason: String,
    },
}

/// Keeps the tracer provider alive; [`TelemetryGuard::shutdown`] flushes it.
#[derive(Debug, Clone)]
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
}

impl TelemetryGuard {
    /// Flushes pending spans and stops the exporter.
    pub fn shutdown(&self) {
        let _ = self.provider.force_flush();
        let _ = self.provider.shutdown();
    }

    /// The tracer provider, for tests that inspect spans.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }
}

/// Telemetry settings.
#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// `service.name` of the spans (`OTEL_SERVICE_NAME` wins when set).
    pub service_name: String,
    /// Log output format.
    pub log_format: LogFormat,
    /// Log filter; `RUST_LOG` wins when set.
    pub log_filter: String,
    /// Write logs to stderr (the CLI keeps stdout for results).
    pub stderr: bool,
}

impl TelemetryConfig {
    /// Settings for a service with the given name.
    pub fn new(service_name: impl Into<String>, log_format: LogFormat, log_filter: &str) -> Self {
        Self {
            service_name: service_name.into(),
            log_format,
            log_filter: log_filter.to_string(),
            stderr: false,
        }
    }
}

/// Installs logging and tracing for the process. The OTLP exporter is added when
/// `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Installing twice keeps the first
/// subscriber (tests start several services in one process).
pub fn init(cfg: &TelemetryConfig) -> Result<TelemetryGuard, TelemetryError> {
    let exporter = match std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT") {
        Ok(endpoint) if !endpoint.trim().is_empty() => {
            use opentelemetry_otlp::WithExportConfig;
            let exporter = opentelemetry_otlp::SpanExporter::builder()
                .with_tonic()
                .with_endpoint(endpoint)
                .build()
                .map_err(|e| TelemetryError::Exporter(e.to_string()))?;
            Some(exporter)
        }
        _ => None,
    };
    init_with(cfg, exporter)
}

/// Like [`init`], with an explicit span exporter (tests use an in-memory one).
pub fn init_with<E: SpanExporter + 'static>(
    cfg: &TelemetryConfig,
    exporter: Option<E>,
) -> Result<TelemetryGuard, TelemetryError> {
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let service_name =
        std::env::var("OTEL_SERVICE_NAME").unwrap_or_else(|_| cfg.service_name.clone());
    let mut builder = SdkTracerProvider::builder()
        .with_resource(Resource::builder().with_service_name(service_name).build());
    if let Some(exporter) = exporter {
        builder = builder.with_batch_exporter(exporter);
    }
    let provider = builder.build();
    opentelemetry::global::set_tracer_provider(provider.clone());
    let tracer = provider.tracer("shadowkpi");

    let filter_text = std::env::var("RUST_LOG").unwrap_or_else(|_| cfg.log_filter.clone());
    let filter = EnvFilter::try_new(&filter_text).map_err(|e| TelemetryError::Filter {
        filter: filter_text.clone(),
        reason: e.to_string(),
    })?;
    let fmt_layer = match (cfg.log_format, cfg.stderr) {
        (LogFormat::Json, false) => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .boxed(),
        (LogFormat::Json, true) => tracing_subscriber::fmt::layer()
            .json()
            .with_writer(std::io::stderr)
            .boxed(),
        (LogFormat::Pretty, false) => tracing_subscriber::fmt::layer()
            .compact()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        (LogFormat::Pretty, true) => tracing_subscriber::fmt::layer()
            .compact()
            .with_ansi(std::io::stderr().is_terminal())
            .with_writer(std::io::stderr)
            .boxed(),
    };
    // Spans are traced at INFO whatever the log filter says, so a quiet CLI
    // (`--log-level warn`) still starts and propagates its traces.
    let otel_layer = tracing_opentelemetry::layer()
        .with_tracer(tracer)
        .with_filter(tracing_subscriber::filter::LevelFilter::INFO);
    // A second init in the same process (tests, all-in-one) keeps the first.
    let _ = tracing_subscriber::registry()
        .with(fmt_layer.with_filter(filter))
        .with(otel_layer)
        .try_init();
    Ok(TelemetryGuard { provider })
}

/// Reads W3C trace context from HTTP/2 headers (gRPC metadata).
pub struct HeaderExtractor<'a>(pub &'a HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

/// Writes W3C trace context into gRPC metadata.
pub struct MetadataInjector<'a>(pub &'a mut tonic::metadata::MetadataMap);

impl Injector for MetadataInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(k), Ok(v)) = (
            tonic::metadata::MetadataKey::from_bytes(key.as_bytes()),
            tonic::metadata::MetadataValue::try_from(value),
        ) {
            self.0.insert(k, v);
        }
    }
}

/// The OpenTelemetry context carried by the headers of an incoming request.
pub fn extract_context(headers: &HeaderMap) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Writes the current span's trace context into outgoing metadata.
pub fn inject_current(metadata: &mut tonic::metadata::MetadataMap) {
    let cx = tracing::Span::current().context();
    TraceContextPropagator::new().inject_context(&cx, &mut MetadataInjector(metadata));
}

/// The trace id of the current span as 32 hex digits (all zeros when none).
pub fn current_trace_id() -> String {
    use opentelemetry::trace::TraceContextExt;
    tracing::Span::current()
        .context()
        .span()
        .span_context()
        .trace_id()
        .to_string()
}
