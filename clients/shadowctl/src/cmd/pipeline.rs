//! `shadowctl pipeline`: soak → export → validate → gate, as one traced
//! operation with every phase's artifacts in one run folder.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde::Serialize;
use shadowkpi_domain::accuracy::AccuracyStatus;
use shadowkpi_domain::gate::Verdict;
use shadowkpi_proto::v1::export_service_client::ExportServiceClient;
use shadowkpi_proto::v1::{
    self, ExportMode, ExportOptions, ExportSummariesRequest, export_summaries_request,
};
use tracing::Instrument;

use crate::artifacts::{create_dir, update_latest, write_json};
use crate::cli::GlobalArgs;
use crate::cluster::{Cluster, REDIS_HINT};
use crate::cmd::soak::{SoakFlags, print_table as print_soak};
use crate::cmd::validate::{ValidateFlags, print_table as print_accuracy};
use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::feedplan::FeedPlan;

/// Flags of `shadowctl pipeline`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl pipeline                                   # all-in-one, synthetic feed, in-process store\n  shadowctl pipeline --symbols BTCUSDT ETHUSDT --iterations 48 --duration 60s --validate-iterations 6\n  REDIS_URL=redis://127.0.0.1:6379 shadowctl pipeline  # all-in-one on a real Redis\n  SHADOWKPI_INGEST_ADDR=ingestd:50051 SHADOWKPI_SHADOW_ADDR=shadowd:50052 \\\n  SHADOWKPI_EXPORT_ADDR=exportd:50053 SHADOWKPI_DRYRUN_ADDR=dryrund:50054 shadowctl pipeline\n  shadowctl pipeline --from-artifacts artifacts/soak/latest   # export + validate an earlier soak\n\nArtifacts: artifacts/pipeline/<run_id>/{soak/,EXPORT_REPORT.json,dryrun/,PIPELINE_SUMMARY.json};\nartifacts/pipeline/latest points at the newest run. Exit codes: 0 GO and every KPI\nPASS/WARN, 1 HOLD or a KPI FAIL/NO_PREDICTION/NO_DATA, 2 usage, 3 Redis unreachable."
)]
pub struct PipelineArgs {
    /// Soak settings.
    #[command(flatten)]
    pub soak: SoakFlags,
    /// Dry-run iterations.
    #[arg(long, default_value_t = 6)]
    pub validate_iterations: u32,
    /// Dry-run window length. Longer than the soak's by default: each dry-run
    /// iteration is one sample of each KPI, and on one-minute windows the
    /// window-to-window noise of edge alone exceeds the 30 % FAIL mark; much
    /// longer windows bias the p95 order age upwards against a prediction
    /// made of one-minute p95s. Three minutes balances the two.
    #[arg(long, default_value = "3m", value_parser = shadowkpi_runtime::parse_duration)]
    pub validate_duration: Duration,
    /// `env` of the exported keys.
    #[arg(long, env = "SHADOWKPI_ENV", default_value = "dev")]
    pub env: String,
    /// `exchange` of the exported keys.
    #[arg(long, env = "SHADOWKPI_EXCHANGE", default_value = "bybit")]
    pub exchange: String,
    /// TTL of the exported keys, seconds.
    #[arg(long, default_value_t = 3600)]
    pub ttl: u64,
    /// Skip the soak and export the ITER_SUMMARY files of this folder.
    #[arg(long, value_name = "DIR")]
    pub from_artifacts: Option<PathBuf>,
    /// Stop after the export.
    #[arg(long)]
    pub skip_validate: bool,
    #[doc = "Execution model set of the dry run."]
    #[arg(long, value_name = "NAME", default_value = shadowkpi_domain::engine::model_spec::DEFAULT_DRYRUN_MODEL, long_help = crate::cmd::soak::MODEL_HELP)]
    pub validate_model: String,
    /// Accuracy thresholds.
    #[command(flatten)]
    pub thresholds: ValidateFlags,
}

/// `PIPELINE_SUMMARY.json`.
#[derive(Debug, Serialize)]
pub struct PipelineSummary {
    /// Pipeline run id (also the soak's).
    pub run_id: String,
    /// Where the services ran.
    pub services: String,
    /// Soak verdict (absent with --from-artifacts).
    pub soak_verdict: Option<Verdict>,
    /// Windows soaked or loaded.
    pub windows: usize,
    /// Keys written by the export.
    pub exported_keys: u64,
    /// Export batches that failed.
    pub export_batches_failed: u32,
    /// Overall accuracy (absent with --skip-validate).
    pub accuracy: Option<AccuracyStatus>,
    /// Per-symbol outcome.
    pub symbols: BTreeMap<String, SymbolOutcome>,
    /// Final decision: GO only when the soak is GO and no KPI blocks.
    pub decision: &'static str,
    /// Wall time of each phase, ms.
    pub phase_ms: BTreeMap<&'static str, u64>,
}

/// One symbol of the pipeline summary.
#[derive(Debug, Default, Serialize)]
pub struct SymbolOutcome {
    /// Soak verdict.
    pub soak: Option<Verdict>,
    /// Keys exported for the symbol.
    pub exported_keys: u64,
    /// Accuracy status.
    pub accuracy: Option<AccuracyStatus>,
}

/// Streams `summaries` to exportd with `options`; UNAVAILABLE is exit 3.
pub async fn export(
    cluster: &Cluster,
    options: ExportOptions,
    summaries: &[v1::IterSummary],
) -> CliResult<v1::ExportReport> {
    let channel = shadowkpi_runtime::client::connect("exportd", &cluster.export)
        .await
        .map_err(|e| CliError::Service(e.to_string()))?;
    let mut msgs = vec![ExportSummariesRequest {
        payload: Some(export_summaries_request::Payload::Options(options)),
    }];
    msgs.extend(summaries.iter().map(|s| ExportSummariesRequest {
        payload: Some(export_summaries_request::Payload::Summary(s.clone())),
    }));
    let resp = ExportServiceClient::new(channel)
        .export_summaries(tokio_stream::iter(msgs))
        .await
        .map_err(|s| {
            if s.code() == tonic::Code::Unavailable {
                CliError::StoreUnreachable {
                    message: format!("export: {}", s.message()),
                    hint: Some(REDIS_HINT.into()),
                }
            } else {
                CliError::from_status("export", &s)
            }
        })?;
    Ok(resp.into_inner().report.unwrap_or_default())
}

/// Runs the command.
pub async fn run(args: PipelineArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let span = tracing::info_span!("shadowctl.pipeline");
    async move { run_traced(args, global).await }
        .instrument(span)
        .await
}

async fn run_traced(args: PipelineArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let cluster = Cluster::start(global).await?;
    eprintln!("{}", cluster.describe());
    let result = phases(&args, global, &cluster).await;
    cluster.stop().await;
    result
}

async fn phases(
    args: &PipelineArgs,
    global: &GlobalArgs,
    cluster: &Cluster,
) -> CliResult<ExitCode> {
    let quiet = global.json;
    let mut phase_ms = BTreeMap::new();
    let soak_windows = if args.from_artifacts.is_some() {
        0
    } else {
        args.soak.iterations
    };
    let dry_windows = if args.skip_validate {
        0
    } else {
        args.validate_iterations
    };
    let mut feed = if soak_windows + dry_windows == 0 {
        None
    } else {
        FeedPlan::for_run(
            &args.soak,
            soak_windows,
            dry_windows,
            args.validate_duration,
            cluster,
        )?
        .start(cluster)
        .await?
    };

    // Phase 1: soak (or load).
    let t = Instant::now();
    let root = args.soak.artifacts.join("pipeline");
    let (run_id, run_dir, summaries, soak_doc) = match &args.from_artifacts {
        Some(dir) => {
            let loaded = crate::cmd::export::load_summaries(dir)?.summaries;
            let run_id = crate::cmd::soak::new_run_id("pipeline");
            let run_dir = root.join(&run_id);
            create_dir(&run_dir)?;
            eprintln!(
                "soak: skipped, {} summaries loaded from {}",
                loaded.len(),
                dir.display()
            );
            let wire: Vec<v1::IterSummary> = loaded.iter().map(Into::into).collect();
            (run_id, run_dir, wire, None)
        }
        None => {
            let req = crate::cmd::soak::request(&args.soak, None)?;
            let mut run_dir = PathBuf::new();
            let outcome = crate::cmd::soak::soak(
                cluster,
                &args.soak,
                req,
                |id| {
                    run_dir = root.join(id);
                    run_dir.join("soak")
                },
                quiet,
            )
            .await?;
            eprintln!(
                "soak: {} after {} windows",
                outcome.doc.verdict, outcome.doc.windows
            );
            (
                outcome.run_id.clone(),
                run_dir,
                outcome.summaries.clone(),
                Some(outcome.doc),
            )
        }
    };
    phase_ms.insert("soak", t.elapsed().as_millis() as u64);

    // Phase 2: export.
    let t = Instant::now();
    let options = ExportOptions {
        env: args.env.clone(),
        exchange: args.exchange.clone(),
        ttl_seconds: args.ttl,
        mode: ExportMode::Hash as i32,
        batch_size: 50,
        ..Default::default()
    };
    let report = export(cluster, options, &summaries).await?;
    write_json(
        &run_dir.join("EXPORT_REPORT.json"),
        &ExportReportDoc::from(&report),
    )?;
    eprintln!(
        "export: {} keys for {} symbols in {} batches, {} failed",
        report.keys_written,
        report.symbols.len(),
        report.batches,
        report.batches_failed
    );
    phase_ms.insert("export", t.elapsed().as_millis() as u64);
    if report.batches_failed > 0 {
        return Err(CliError::StoreUnreachable {
            message: format!(
                "export: {} batches failed, symbols not written: {}",
                report.batches_failed,
                report.failed_symbols.join(", ")
            ),
            hint: Some(REDIS_HINT.into()),
        });
    }

    // Phase 3: validate.
    let accuracy = if args.skip_validate {
        None
    } else {
        let t = Instant::now();
        // The dry run gets fresh data: the rest of the feed goes out now.
        if let Some(f) = feed.take() {
            feed = Some(f.continue_for_dry_run().await?);
        }
        let symbols: Vec<String> = report.symbols.clone();
        let req = crate::cmd::validate::request(
            &symbols,
            args.validate_iterations,
            args.validate_duration,
            &args.env,
            &args.exchange,
            args.soak.seed,
            args.soak.idle_timeout,
            &args.thresholds,
            &args.validate_model,
            match &args.soak.profile {
                Some(p) => crate::cmd::soak::read_profile(p)?,
                None => String::new(),
            },
        );
        let (doc, _) =
            crate::cmd::validate::validate(cluster, req, |_| run_dir.join("dryrun"), quiet).await?;
        phase_ms.insert("validate", t.elapsed().as_millis() as u64);
        Some(doc)
    };
    if let Some(t) = feed {
        t.abort();
    }

    // Gate.
    let mut symbols: BTreeMap<String, SymbolOutcome> = BTreeMap::new();
    if let Some(doc) = &soak_doc {
        for (s, d) in &doc.symbols {
            symbols.entry(s.clone()).or_default().soak = Some(d.verdict);
        }
    }
    for b in &report.batch_reports {
        let per = if b.symbols.is_empty() {
            0
        } else {
            b.keys / b.symbols.len() as u64
        };
        for s in &b.symbols {
            symbols.entry(s.clone()).or_default().exported_keys = per;
        }
    }
    if let Some(doc) = &accuracy {
        for s in &doc.symbols {
            symbols.entry(s.symbol.clone()).or_default().accuracy = Some(s.status);
        }
    }
    let soak_go = soak_doc.as_ref().is_none_or(|d| d.verdict.is_go());
    let accuracy_ok = accuracy.as_ref().is_none_or(|d| !d.blocks());
    let summary = PipelineSummary {
        run_id: run_id.clone(),
        services: cluster.describe(),
        soak_verdict: soak_doc.as_ref().map(|d| d.verdict),
        windows: summaries.len(),
        exported_keys: report.keys_written,
        export_batches_failed: report.batches_failed,
        accuracy: accuracy.as_ref().map(|d| d.overall),
        symbols,
        decision: if soak_go && accuracy_ok { "GO" } else { "HOLD" },
        phase_ms,
    };
    write_json(&run_dir.join("PIPELINE_SUMMARY.json"), &summary)?;
    update_latest(&root, &run_id)?;
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        if let Some(doc) = &soak_doc {
            print_soak(doc);
        }
        if let Some(doc) = &accuracy {
            print_accuracy(doc);
        }
        print_summary(&summary);
        println!("artifacts: {}", run_dir.display());
    }
    Ok(if summary.decision == "GO" {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_GATE)
    })
}

fn print_summary(s: &PipelineSummary) {
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED).set_header([
        "symbol",
        "soak verdict",
        "exported keys",
        "accuracy",
    ]);
    for (sym, o) in &s.symbols {
        table.add_row([
            sym.clone(),
            o.soak.map_or("—".into(), |v| v.to_string()),
            o.exported_keys.to_string(),
            o.accuracy.map_or("—".into(), |a| a.label().to_string()),
        ]);
    }
    println!("{table}");
    println!(
        "decision: {} (soak {}, accuracy {})",
        s.decision,
        s.soak_verdict.map_or("skipped".into(), |v| v.to_string()),
        s.accuracy
            .map_or("skipped".into(), |a| a.label().to_string())
    );
}

/// `EXPORT_REPORT.json`.
#[derive(Debug, Serialize)]
pub struct ExportReportDoc {
    /// Symbols exported.
    pub symbols: Vec<String>,
    /// Keys written.
    pub keys_written: u64,
    /// Pipelines.
    pub batches: u32,
    /// Pipelines that succeeded.
    pub batches_succeeded: u32,
    /// Pipelines that failed.
    pub batches_failed: u32,
    /// Symbols that did not land.
    pub failed_symbols: Vec<String>,
    /// Wall time, ms.
    pub duration_ms: f64,
    /// Summaries received.
    pub summaries: u32,
}

impl From<&v1::ExportReport> for ExportReportDoc {
    fn from(r: &v1::ExportReport) -> Self {
        Self {
            symbols: r.symbols.clone(),
            keys_written: r.keys_written,
            batches: r.batches,
            batches_succeeded: r.batches_succeeded,
            batches_failed: r.batches_failed,
            failed_symbols: r.failed_symbols.clone(),
            duration_ms: r.duration_ms,
            summaries: r.summaries,
        }
    }
}
