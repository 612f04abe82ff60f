//! The soak client: `RunSoak` on shadowd, its artifacts written as the
//! windows arrive (`ITER_SUMMARY_NNN.json`, then `SOAK_SUMMARY.json`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Serialize;
use shadowkpi_domain::gate::{GateThresholds, SoakVerdict, Verdict};
use shadowkpi_domain::kpi::KpiSet;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::summary::IterSummary;
use shadowkpi_proto::v1::run_soak_response::Event;
use shadowkpi_proto::v1::shadow_service_client::ShadowServiceClient;
use shadowkpi_proto::v1::{self, RunSoakRequest};

use crate::artifacts::{create_dir, write_json};
use crate::error::{ClientError, ClientResult};
use crate::services::Cluster;

/// What a caller sees of a running soak or dry run (a progress bar, the
/// soak's first lines); every method does nothing by default.
pub trait Observer {
    /// A phase (`soak`, `dry run`) of `len` windows begins.
    fn phase_started(&mut self, _phase: &str, _len: u64) {}
    /// A line worth telling a person (what a phase did).
    fn note(&mut self, _line: &str) {}
    /// The soak started: run id, profile, model set, each symbol's
    /// parameters and where they came from.
    fn soak_started(&mut self, _started: &v1::SoakStarted) {}
    /// The run reached `position` (windows or iterations done).
    fn advanced(&mut self, _position: u64) {}
    /// The run's stream ended.
    fn finished(&mut self) {}
}

/// An observer that sees nothing.
#[derive(Debug, Default, Clone, Copy)]
pub struct Quiet;

impl Observer for Quiet {}

/// `SOAK_SUMMARY.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SoakSummaryDoc {
    /// Format version.
    pub schema_version: String,
    /// Run id.
    pub run_id: String,
    /// GO or HOLD.
    pub verdict: Verdict,
    /// Windows completed.
    pub windows: u32,
    /// Windows requested.
    pub iterations: u32,
    /// Window length, ms.
    pub window_ms: u64,
    /// Profile or preset.
    pub profile: String,
    /// Feed description.
    pub source: String,
    /// The execution model set of the soak.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<shadowkpi_domain::summary::ModelSetInfo>,
    /// Gate thresholds.
    pub thresholds: GateThresholds,
    /// Per-symbol verdict, aggregates and reasons.
    pub symbols: BTreeMap<String, SymbolDoc>,
}

/// One symbol of `SOAK_SUMMARY.json`.
#[derive(Debug, Clone, Serialize)]
pub struct SymbolDoc {
    /// GO or HOLD.
    pub verdict: Verdict,
    /// Median KPIs over the windows.
    pub aggregate: KpiSet,
    /// Windows with data.
    pub windows: u32,
    /// Every missed threshold.
    pub reasons: Vec<String>,
    /// Effective parameters.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub params: Option<StrategyParams>,
    /// Where each parameter came from, by field: `built-in`, `defaults`,
    /// `symbols.<SYMBOL>`, `presets.<NAME>` or `request`.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub param_sources: BTreeMap<String, String>,
    /// The price and size grid: the profile's, or `inferred`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<String>,
}

/// What a soak produced.
#[derive(Debug, Clone)]
pub struct SoakOutcome {
    /// Run id.
    pub run_id: String,
    /// Folder of the artifacts.
    pub dir: PathBuf,
    /// The summaries, in order.
    pub summaries: Vec<v1::IterSummary>,
    /// The gate verdict.
    pub verdict: SoakVerdict,
    /// The summary document written.
    pub doc: SoakSummaryDoc,
    /// The auto-export report, if requested.
    pub export_report: Option<v1::ExportReport>,
}

/// Runs a soak on `cluster` and writes its artifacts (ITER_SUMMARY_NNN.json
/// per window, then SOAK_SUMMARY.json) into `dir_for(run_id)` (created).
pub async fn run_soak(
    cluster: &Cluster,
    request: RunSoakRequest,
    dir_for: impl FnOnce(&str) -> PathBuf,
    observer: &mut dyn Observer,
) -> ClientResult<SoakOutcome> {
    let channel = shadowkpi_runtime::client::connect("shadowd", &cluster.shadow)
        .await
        .map_err(|e| ClientError::Service(e.to_string()))?;
    // A window summary carries every symbol's equity path: more than the
    // default 4 MiB for a few thousand symbols.
    let mut stream = ShadowServiceClient::new(channel)
        .max_decoding_message_size(exportd::MAX_MESSAGE_BYTES)
        .run_soak(request.clone())
        .await
        .map_err(|s| ClientError::from_status("soak", &s))?
        .into_inner();

    observer.phase_started("soak", u64::from(request.iterations));
    let mut run_id = String::new();
    let mut dir = PathBuf::new();
    let mut summaries = Vec::new();
    let mut params = BTreeMap::new();
    let mut profile = String::new();
    let mut model = None;
    let mut sources = BTreeMap::new();
    let mut verdict_wire = None;
    let mut export_report = None;
    let mut dir_for = Some(dir_for);
    while let Some(msg) = stream
        .message()
        .await
        .map_err(|s| ClientError::from_status("soak", &s))?
    {
        match msg.event {
            Some(Event::Started(s)) => {
                observer.soak_started(&s);
                run_id = s.run_id.clone();
                profile = s.profile.clone();
                model = s.model.map(Into::into);
                params = s.params;
                sources = s.param_sources;
                dir = dir_for.take().map(|f| f(&run_id)).unwrap_or_default();
                create_dir(&dir)?;
            }
            Some(Event::Summary(s)) => {
                let doc = IterSummary::from(&s);
                write_json(
                    &dir.join(format!("ITER_SUMMARY_{:03}.json", s.iteration)),
                    &doc,
                )?;
                observer.advanced(u64::from(s.iteration));
                summaries.push(s);
            }
            Some(Event::Verdict(v)) => verdict_wire = Some(v),
            Some(Event::ExportReport(r)) => export_report = Some(r),
            None => {}
        }
    }
    observer.finished();
    let verdict_wire = verdict_wire
        .ok_or_else(|| ClientError::Service("shadowd ended the soak without a verdict".into()))?;
    let verdict = SoakVerdict::from(&verdict_wire);
    let thresholds: GateThresholds = verdict_wire
        .thresholds
        .as_ref()
        .map(Into::into)
        .unwrap_or_default();
    let base = StrategyParams::default();
    let doc = SoakSummaryDoc {
        schema_version: shadowkpi_domain::summary::SCHEMA_VERSION.into(),
        run_id: run_id.clone(),
        verdict: verdict.verdict,
        windows: verdict_wire.windows,
        iterations: request.iterations,
        window_ms: request.window_ms,
        profile,
        source: summaries
            .first()
            .map(|s| s.source.clone())
            .unwrap_or_default(),
        model,
        thresholds,
        symbols: verdict
            .symbols
            .iter()
            .map(|s| {
                (
                    s.symbol.clone(),
                    SymbolDoc {
                        verdict: s.verdict,
                        aggregate: s.aggregate.clone(),
                        windows: s.windows,
                        reasons: s.reasons.clone(),
                        params: params
                            .get(&s.symbol)
                            .map(|p| shadowkpi_proto::convert::params_over(&base, p)),
                        param_sources: sources
                            .get(&s.symbol)
                            .map(|p| p.sources.clone())
                            .unwrap_or_default(),
                        grid: sources.get(&s.symbol).map(|p| p.grid.clone()),
                    },
                )
            })
            .collect(),
    };
    write_json(&dir.join("SOAK_SUMMARY.json"), &doc)?;
    Ok(SoakOutcome {
        run_id,
        dir,
        summaries,
        verdict,
        doc,
        export_report,
    })
}
