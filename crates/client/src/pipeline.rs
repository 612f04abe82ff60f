//! The pipeline: soak (or ITER_SUMMARY files of an earlier one) → export →
//! dry run → gate, with every phase's artifacts in one run folder
//! (`<artifacts>/<run_id>/{soak/,EXPORT_REPORT.json,dryrun/,PIPELINE_SUMMARY.json}`,
//! and `<artifacts>/latest`). The caller plans the requests and the feed; the
//! decision is GO only when the soak is GO and no KPI of the dry run blocks.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use serde::Serialize;
use shadowkpi_domain::accuracy::AccuracyStatus;
use shadowkpi_domain::feed::split::ReplaySplit;
use shadowkpi_domain::gate::Verdict;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::{self, ExportOptions, RunSoakRequest, ValidateRequest};

use crate::artifacts::{create_dir, update_latest, write_json};
use crate::error::{ClientError, ClientResult};
use crate::feedplan::FeedPlan;
use crate::report::ReportDoc;
use crate::services::{Cluster, REDIS_HINT};
use crate::soak::{Observer, SoakSummaryDoc};

/// What a pipeline runs.
#[derive(Debug, Clone)]
pub struct PipelinePlan {
    /// The folder run folders go into (`artifacts/pipeline`).
    pub artifacts: PathBuf,
    /// The soak (ignored with `from_artifacts`).
    pub soak: RunSoakRequest,
    /// Skip the soak and export the ITER_SUMMARY files of this folder.
    pub from_artifacts: Option<PathBuf>,
    /// How the summaries are exported.
    pub export: ExportOptions,
    /// The dry run (its symbols become those the export wrote), or none.
    pub validate: Option<ValidateRequest>,
    /// The feed this process publishes: the soak's part first, the rest
    /// when the dry run starts; none for an external feed.
    pub feed: Option<FeedPlan>,
    /// With a recording: the files and where they split (for the summary).
    pub replay_doc: Option<ReplayDoc>,
}

/// What a pipeline produced.
#[derive(Debug)]
pub struct PipelineOutcome {
    /// `PIPELINE_SUMMARY.json`, with the decision.
    pub summary: PipelineSummary,
    /// The soak's summary (absent with `from_artifacts`).
    pub soak: Option<SoakSummaryDoc>,
    /// The dry run's accuracy report (absent without a dry run).
    pub accuracy: Option<ReportDoc>,
    /// The run folder.
    pub run_dir: PathBuf,
}

/// Runs the pipeline on `cluster`. A failed export batch ends it with an
/// error: [`ClientError::StoreUnreachable`] when every failed batch found the
/// store unusable, [`ClientError::Service`] otherwise.
pub async fn run_pipeline(
    cluster: &Cluster,
    plan: &PipelinePlan,
    observer: &mut dyn Observer,
) -> ClientResult<PipelineOutcome> {
    let mut phase_ms = BTreeMap::new();
    let mut feed = match &plan.feed {
        Some(f) => f.start(cluster).await?,
        None => None,
    };

    // Phase 1: soak (or load).
    let t = Instant::now();
    let root = plan.artifacts.clone();
    let (run_id, run_dir, summaries, soak_doc) = match &plan.from_artifacts {
        Some(dir) => {
            let loaded = crate::export::load_summaries(dir)?.summaries;
            let run_id = shadowd::soak::new_run_id("pipeline");
            let run_dir = root.join(&run_id);
            create_dir(&run_dir)?;
            observer.note(&format!(
                "soak: skipped, {} summaries loaded from {}",
                loaded.len(),
                dir.display()
            ));
            let wire: Vec<v1::IterSummary> = loaded.iter().map(Into::into).collect();
            (run_id, run_dir, wire, None)
        }
        None => {
            let mut run_dir = PathBuf::new();
            let mut req = plan.soak.clone();
            // `now` for a feed published here is where its first entry goes.
            if let Some(f) = &feed
                && req.feed_from == "now"
            {
                req.feed_from.clone_from(&f.position);
            }
            let outcome = crate::soak::run_soak(
                cluster,
                req,
                |id| {
                    run_dir = root.join(id);
                    run_dir.join("soak")
                },
                observer,
            )
            .await?;
            observer.note(&format!(
                "soak: {} after {} windows",
                outcome.doc.verdict, outcome.doc.windows
            ));
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
    let report = crate::export::export_summaries(
        &cluster.export,
        plan.export.clone(),
        summaries.iter().cloned(),
    )
    .await
    .map_err(|s| ClientError::from_status("export", &s))?;
    write_json(
        &run_dir.join("EXPORT_REPORT.json"),
        &ExportReportDoc::from(&report),
    )?;
    observer.note(&format!(
        "export: {} keys for {} symbols in {} batches, {} failed",
        report.keys_written,
        report.symbols.len(),
        report.batches,
        report.batches_failed
    ));
    phase_ms.insert("export", t.elapsed().as_millis() as u64);
    if report.batches_failed > 0 {
        let message = format!(
            "export: {} batches failed, symbols not written: {}",
            report.batches_failed,
            report.failed_symbols.join(", ")
        );
        // Exit 3 when the store could not be used (by the batches' reasons);
        // a command the store refused is a failure of the export (exit 1).
        return Err(if crate::export::failures_store_unusable(&report) {
            ClientError::StoreUnreachable {
                message,
                hint: Some(REDIS_HINT.into()),
            }
        } else {
            ClientError::Service(message)
        });
    }

    // Phase 3: validate.
    let accuracy = if let Some(mut req) = plan.validate.clone() {
        let t = Instant::now();
        // The dry run gets fresh data: the rest of the feed goes out now.
        if let Some(f) = feed.take() {
            let rest = f.continue_for_dry_run().await?;
            if req.feed_from == "now" {
                req.feed_from.clone_from(&rest.position);
            }
            feed = Some(rest);
        }
        // The dry run checks what was exported, nothing else.
        req.symbols = report.symbols.clone();
        let soak: Vec<IterSummary> = summaries.iter().map(Into::into).collect();
        let source = match &plan.from_artifacts {
            Some(dir) => format!("the ITER_SUMMARY files in {}", dir.display()),
            None => format!("the ITER_SUMMARY files of soak {run_id}"),
        };
        let (doc, _) = crate::validate::run_validate(
            cluster,
            req,
            |_| run_dir.join("dryrun"),
            observer,
            Some((&soak, source)),
        )
        .await?;
        phase_ms.insert("validate", t.elapsed().as_millis() as u64);
        Some(doc)
    } else {
        None
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
        replay: plan.replay_doc.clone(),
    };
    write_json(&run_dir.join("PIPELINE_SUMMARY.json"), &summary)?;
    update_latest(&root, &run_id)?;
    Ok(PipelineOutcome {
        summary,
        soak: soak_doc,
        accuracy,
        run_dir,
    })
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
    /// With --replay: the files and where they split.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayDoc>,
}

/// The `replay` section of `PIPELINE_SUMMARY.json`.
#[derive(Debug, Clone, Serialize)]
pub struct ReplayDoc {
    /// The files, as given.
    pub files: Vec<String>,
    /// The split as asked (`70%` or an event time).
    pub split: String,
    /// Where it split and what each part ran.
    #[serde(flatten)]
    pub plan: ReplaySplit,
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
