//! The `ExportService`: read the stream, plan, run the batches, report.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use futures::StreamExt;
use shadowkpi_domain::export::{
    ExportMode, KeyWrite, Planner, SymbolExport, collect_symbols, keys_written, normalize_summary,
};
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::export_service_server::ExportService;
use shadowkpi_proto::v1::{
    BatchReport, ExportReport, ExportSummariesRequest, ExportSummariesResponse,
    export_summaries_request::Payload,
};
use shadowkpi_runtime::status::Reason;
use shadowkpi_store::{Store, StoreError, WriteCommand};
use tonic::{Request, Response, Status, Streaming};
use tracing::Instrument;

use crate::breaker::{BreakerConfig, CircuitBreaker};
use crate::error::ExportError;
use crate::job::ExportJob;
use crate::metrics::{METRICS, NO_LABELS};

/// Retries of a failed batch: the runtime's one retry policy.
pub use shadowkpi_runtime::retry::RetryPolicy;

/// Settings of the write path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportConfig {
    /// Pipelines in flight at once per export.
    pub max_in_flight: usize,
    /// Retries of transient failures.
    pub retry: RetryPolicy,
    /// The circuit breaker.
    pub breaker: BreakerConfig,
}

impl Default for ExportConfig {
    fn default() -> Self {
        Self {
            max_in_flight: 4,
            retry: RetryPolicy::default(),
            breaker: BreakerConfig::default(),
        }
    }
}

/// The `ExportService` implementation.
#[derive(Debug, Clone)]
pub struct ExportServer {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    config: ExportConfig,
    breaker: Mutex<CircuitBreaker>,
}

/// One pipeline: the writes of up to `batch_size` symbols.
struct Batch {
    number: u32,
    symbols: Vec<String>,
    commands: Vec<WriteCommand>,
    keys: usize,
}

struct Outcome {
    report: BatchReport,
    error: Option<BatchFailure>,
}

/// The last error of a failed batch and its reason (`STORE_CIRCUIT_OPEN` when
/// the breaker stopped it, else the store error's).
struct BatchFailure {
    error: StoreError,
    reason: Reason,
}

/// The store command of a planned write.
pub fn store_command(w: KeyWrite) -> WriteCommand {
    match w {
        KeyWrite::HSet { key, fields } => WriteCommand::HSet { key, fields },
        KeyWrite::HDel { key, fields } => WriteCommand::HDel { key, fields },
        KeyWrite::Expire { key, seconds } => WriteCommand::Expire { key, seconds },
        KeyWrite::Set {
            key,
            value,
            ttl_seconds,
        } => WriteCommand::Set {
            key,
            value,
            ttl_seconds: Some(ttl_seconds),
        },
        KeyWrite::Del { key } => WriteCommand::Del { key },
        KeyWrite::XAdd {
            key,
            id,
            fields,
            maxlen,
        } => WriteCommand::XAddIfAbsent {
            key,
            id,
            fields,
            maxlen: Some(maxlen),
        },
    }
}

/// Plans the batches one by one as they are pulled. (An iterator type rather
/// than `map` with a closure: the closure's lifetimes trip the `Send` check of
/// the async handler.)
struct BatchPlanner<'a> {
    planner: Planner<'a>,
    chunks: std::iter::Enumerate<std::slice::Chunks<'a, SymbolExport>>,
}

impl Iterator for BatchPlanner<'_> {
    type Item = Batch;

    fn next(&mut self) -> Option<Batch> {
        let (i, chunk) = self.chunks.next()?;
        Some(plan_batch(&mut self.planner, i, chunk))
    }
}

/// The writes of batch `i` (0-based).
fn plan_batch(planner: &mut Planner<'_>, i: usize, chunk: &[SymbolExport]) -> Batch {
    let mut writes = Vec::with_capacity(chunk.len() * 4);
    for s in chunk {
        planner.plan_into(s, &mut writes);
    }
    Batch {
        number: u32::try_from(i + 1).unwrap_or(u32::MAX),
        symbols: chunk.iter().map(|s| s.symbol.clone()).collect(),
        keys: keys_written(&writes),
        commands: writes.into_iter().map(store_command).collect(),
    }
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 1e6).round() / 1e3
}

impl ExportServer {
    /// The store it writes (its readiness follows it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// A server writing to `store` with the default [`ExportConfig`].
    pub fn new(store: Arc<dyn Store>) -> Self {
        Self::with_config(store, ExportConfig::default())
    }

    /// A server writing to `store`.
    pub fn with_config(store: Arc<dyn Store>, config: ExportConfig) -> Self {
        // Register the metrics now, so `/metrics` shows them before the first export.
        let _ = &*METRICS;
        Self {
            inner: Arc::new(Inner {
                store,
                breaker: Mutex::new(CircuitBreaker::new(config.breaker)),
                config,
            }),
        }
    }

    fn breaker(&self) -> std::sync::MutexGuard<'_, CircuitBreaker> {
        // The breaker is a few plain fields: a panic elsewhere cannot leave it torn.
        self.inner
            .breaker
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs one export from its already-read parts (the gRPC handler reads the
    /// stream and calls this).
    pub async fn export(
        &self,
        job: &ExportJob,
        summaries: &[IterSummary],
    ) -> Result<ExportReport, ExportError> {
        let started = Instant::now();
        let symbols = collect_symbols(summaries, job.aggregation);
        let size = job.batch_size.max(1);
        let batch_count = symbols.len().div_ceil(size);
        let mut report = ExportReport {
            symbols: symbols.iter().map(|s| s.symbol.clone()).collect(),
            batches: u32::try_from(batch_count).unwrap_or(u32::MAX),
            mode: shadowkpi_proto::v1::ExportMode::from(job.spec.mode) as i32,
            summaries: u32::try_from(summaries.len()).unwrap_or(u32::MAX),
            dry_run: job.dry_run,
            ..ExportReport::default()
        };
        if job.dry_run {
            let batches = BatchPlanner {
                planner: Planner::new(&job.spec),
                chunks: symbols.chunks(size).enumerate(),
            };
            for b in batches {
                report.keys_written += b.keys as u64;
                report
                    .dry_run_commands
                    .extend(b.commands.iter().map(ToString::to_string));
                report.batch_reports.push(BatchReport {
                    batch: b.number,
                    symbols: b.symbols,
                    keys: b.keys as u64,
                    ..BatchReport::default()
                });
            }
            report.duration_ms = ms(started.elapsed());
            tracing::info!(
                mode = %job.spec.mode,
                symbols = report.symbols.len(),
                commands = report.dry_run_commands.len(),
                "dry run planned, nothing written"
            );
            return Ok(report);
        }

        // Batches are planned one at a time as the pipelines in flight make
        // room, so Redis works on earlier batches meanwhile (planning every
        // batch first left Redis idle for a third of an export). Planning
        // stays on this task: on a blocking thread it was slower, because
        // every batch was then freed on another thread than the one that
        // allocated it.
        let in_flight = self.inner.config.max_in_flight.max(1);
        let batches = BatchPlanner {
            planner: Planner::new(&job.spec),
            chunks: symbols.chunks(size).enumerate(),
        };
        let abort: Arc<OnceLock<StoreError>> = Arc::new(OnceLock::new());
        let outcomes: Vec<Outcome> = futures::stream::iter(batches)
            .map(|b| {
                // One span per pipeline, a child of the export RPC's span.
                let span = tracing::info_span!(
                    "export.batch",
                    batch = b.number,
                    symbols = b.symbols.len()
                );
                self.run_batch(b, abort.clone()).instrument(span)
            })
            .buffered(in_flight)
            .collect()
            .await;
        let m = &*METRICS;
        m.set_mode(job.spec.mode);
        let mut first_error: Option<BatchFailure> = None;
        for o in outcomes {
            let n = o.report.symbols.len() as u64;
            m.batches.with_label_values(NO_LABELS).inc();
            m.batch_duration_ms
                .with_label_values(NO_LABELS)
                .observe(o.report.duration_ms);
            if o.report.success {
                report.batches_succeeded += 1;
                report.keys_written += o.report.keys;
                m.success.with_label_values(NO_LABELS).inc_by(n);
                m.keys_written
                    .with_label_values(NO_LABELS)
                    .inc_by(o.report.keys);
            } else {
                report.batches_failed += 1;
                report
                    .failed_symbols
                    .extend(o.report.symbols.iter().cloned());
                m.fail.with_label_values(NO_LABELS).inc_by(n);
                m.batches_failed.with_label_values(NO_LABELS).inc();
                if first_error.is_none() {
                    first_error = o.error;
                }
            }
            report.batch_reports.push(o.report);
        }
        report.duration_ms = ms(started.elapsed());
        m.duration_ms
            .with_label_values(NO_LABELS)
            .observe(report.duration_ms);
        tracing::info!(
            mode = %job.spec.mode,
            symbols = report.symbols.len(),
            keys = report.keys_written,
            batches = report.batches,
            failed_batches = report.batches_failed,
            duration_ms = report.duration_ms,
            "export finished"
        );

        // Nothing landed: the export as a whole failed, say why with the right code.
        if report.batches_succeeded == 0
            && let Some(BatchFailure { error: e, reason }) = first_error
        {
            return Err(match e {
                StoreError::Auth(_) | StoreError::Config(_) => ExportError::StoreRejected {
                    reason: e.to_string(),
                    cause: reason,
                },
                StoreError::Unavailable(_) | StoreError::Timeout(_) => {
                    ExportError::StoreUnavailable {
                        reason: e.to_string(),
                        cause: reason,
                        symbols: report.failed_symbols.len(),
                        batches: report.batches_failed as usize,
                    }
                }
                // The store answered but refused the writes: the report says which.
                StoreError::Command(_) => return Ok(report),
            });
        }
        Ok(report)
    }

    async fn run_batch(&self, b: Batch, abort: Arc<OnceLock<StoreError>>) -> Outcome {
        let started = Instant::now();
        let policy = self.inner.config.retry;
        let mut attempts = 0u32;
        let mut circuit_open = false;
        let error = loop {
            if let Some(e) = abort.get() {
                break Some(e.clone());
            }
            if !self.breaker().allow(Instant::now()) {
                circuit_open = true;
                break Some(StoreError::Unavailable(format!(
                    "{}: circuit open after repeated failures",
                    self.inner.store.describe()
                )));
            }
            attempts += 1;
            match self.inner.store.apply(&b.commands).await {
                Ok(()) => {
                    self.breaker().record_success();
                    break None;
                }
                Err(e @ (StoreError::Unavailable(_) | StoreError::Timeout(_))) => {
                    if self.breaker().record_failure(Instant::now()) {
                        tracing::warn!(store = %self.inner.store.describe(), "store unreachable, circuit opened");
                    }
                    if attempts >= policy.max_attempts.max(1) {
                        break Some(e);
                    }
                    let delay = policy.delay(attempts);
                    tracing::debug!(batch = b.number, attempts, delay_ms = delay.as_millis() as u64, error = %e, "batch failed, retrying");
                    tokio::time::sleep(delay).await;
                }
                Err(e @ (StoreError::Auth(_) | StoreError::Config(_))) => {
                    // Retrying cannot fix credentials or a bad URL: stop the export.
                    let _ = abort.set(e.clone());
                    break Some(e);
                }
                Err(e @ StoreError::Command(_)) => {
                    // The store is up; it refused a command of this batch.
                    self.breaker().record_success();
                    break Some(e);
                }
            }
        };
        if let Some(e) = &error {
            tracing::warn!(batch = b.number, symbols = b.symbols.len(), attempts, error = %e, "batch failed");
        }
        let failure = error.map(|error| BatchFailure {
            reason: if circuit_open {
                Reason::StoreCircuitOpen
            } else {
                Reason::of_store(&error)
            },
            error,
        });
        Outcome {
            report: BatchReport {
                batch: b.number,
                keys: b.keys as u64,
                success: failure.is_none(),
                attempts,
                duration_ms: ms(started.elapsed()),
                error: failure
                    .as_ref()
                    .map(|f| f.error.to_string())
                    .unwrap_or_default(),
                reason: failure
                    .as_ref()
                    .map(|f| f.reason.as_str().to_string())
                    .unwrap_or_default(),
                symbols: b.symbols,
            },
            error: failure,
        }
    }

    /// Reads the request stream: options first, then summaries.
    async fn read_request(
        &self,
        mut stream: Streaming<ExportSummariesRequest>,
    ) -> Result<(ExportJob, Vec<IterSummary>), ExportError> {
        let first = stream.message().await.map_err(ExportError::Stream)?;
        let options = match first.and_then(|m| m.payload) {
            Some(Payload::Options(o)) => o,
            Some(Payload::Summary(_)) => {
                return Err(ExportError::invalid(
                    "options",
                    "the first message must carry the options, got a summary",
                ));
            }
            None => {
                return Err(ExportError::invalid(
                    "options",
                    "missing: the first message must carry the options",
                ));
            }
        };
        let job = ExportJob::from_options(&options)?;
        if !job.dry_run
            && let Some(left) = self.breaker().open_for(Instant::now())
        {
            // Fail fast: do not even read the summaries.
            return Err(ExportError::CircuitOpen {
                store: self.inner.store.describe(),
                retry_in_ms: left.as_millis() as u64,
            });
        }
        let mut summaries = Vec::new();
        let mut message = 1usize;
        while let Some(m) = stream.message().await.map_err(ExportError::Stream)? {
            message += 1;
            match m.payload {
                Some(Payload::Summary(s)) => {
                    let index = summaries.len();
                    let summary = normalize_summary(IterSummary::from(s))
                        .map_err(|e| ExportError::summary(index, e))?;
                    summaries.push(summary);
                }
                Some(Payload::Options(_)) => {
                    return Err(ExportError::invalid(
                        "options",
                        format!(
                            "sent again in message {message}: only the first message may carry options"
                        ),
                    ));
                }
                None => {
                    return Err(ExportError::invalid(
                        format!("summaries[{}]", summaries.len()),
                        "empty message (neither options nor a summary)",
                    ));
                }
            }
        }
        if summaries.is_empty() {
            return Err(ExportError::invalid(
                "summaries",
                "none received after the options: nothing to export",
            ));
        }
        Ok((job, summaries))
    }
}

#[tonic::async_trait]
impl ExportService for ExportServer {
    async fn export_summaries(
        &self,
        request: Request<Streaming<ExportSummariesRequest>>,
    ) -> Result<Response<ExportSummariesResponse>, Status> {
        let (job, summaries) = self.read_request(request.into_inner()).await?;
        let report = self.export(&job, &summaries).await?;
        Ok(Response::new(ExportSummariesResponse {
            report: Some(report),
        }))
    }
}

/// The effective mode of a report.
pub fn report_mode(report: &ExportReport) -> ExportMode {
    use shadowkpi_proto::v1::ExportMode as W;
    match W::try_from(report.mode) {
        Ok(W::Flat) => ExportMode::Flat,
        Ok(W::Stream) => ExportMode::Stream,
        _ => ExportMode::Hash,
    }
}
