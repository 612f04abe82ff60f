//! `shadowctl audit`: validate a soak's artifacts and gate them again, offline.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde::Serialize;
use shadowkpi_domain::gate::{GateThresholds, SoakVerdict};
use shadowkpi_domain::kpi::KpiSet;

use crate::error::{CliError, CliResult, EXIT_GATE};
use crate::globals::GlobalArgs;

/// The ITER_SUMMARY JSON Schema shipped with shadowkpi.
pub const ITER_SUMMARY_SCHEMA: &str = include_str!("../../../../schemas/iter_summary.schema.json");

/// Flags of `shadowctl audit`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl audit artifacts/soak/latest\n  shadowctl audit artifacts/soak/latest --fail-on-hold --min-windows 12 --json"
)]
pub struct AuditArgs {
    /// Folder of ITER_SUMMARY_*.json files.
    #[arg(default_value = "artifacts/soak/latest")]
    pub dir: PathBuf,
    /// Exit 1 when the verdict is HOLD.
    #[arg(long)]
    pub fail_on_hold: bool,
    /// Gate: fewest windows a symbol needs [default: 48].
    #[arg(long)]
    pub min_windows: Option<u32>,
}

/// The audit result.
#[derive(Debug, Serialize)]
pub struct AuditDoc {
    /// Folder audited.
    pub dir: String,
    /// Files checked.
    pub files: usize,
    /// Schema violations, `file: path: message`.
    pub schema_errors: Vec<String>,
    /// The gate over the files.
    pub verdict: SoakVerdict,
}

/// Validates one document against the schema; returns the violations.
pub fn schema_errors(
    validator: &jsonschema::Validator,
    file: &Path,
    doc: &serde_json::Value,
) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{}: {}: {e}", file.display(), e.instance_path()))
        .collect()
}

/// Runs the command.
pub async fn run(args: AuditArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let schema: serde_json::Value = serde_json::from_str(ITER_SUMMARY_SCHEMA)
        .map_err(|e| CliError::Service(format!("bundled schema: {e}")))?;
    let validator = jsonschema::validator_for(&schema)
        .map_err(|e| CliError::Service(format!("bundled schema: {e}")))?;
    let files = shadowkpi_client::export::summary_files(&args.dir)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.dir.display())))?;
    if files.is_empty() {
        return Err(CliError::Usage(format!(
            "{} holds no ITER_SUMMARY_*.json files",
            args.dir.display()
        )));
    }
    let mut errors = Vec::new();
    let mut per_symbol: BTreeMap<String, Vec<KpiSet>> = BTreeMap::new();
    for f in &files {
        let text = std::fs::read_to_string(f)
            .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", f.display())))?;
        let doc: serde_json::Value = match serde_json::from_str(&text) {
            Ok(d) => d,
            Err(e) => {
                errors.push(format!("{}: not JSON: {e}", f.display()));
                continue;
            }
        };
        errors.extend(schema_errors(&validator, f, &doc));
        match shadowkpi_domain::export::reader::parse_iter_summary(&text) {
            Ok(s) => {
                for (sym, ss) in s.symbols {
                    per_symbol.entry(sym).or_default().push(ss.summary);
                }
            }
            Err(e) => errors.push(format!("{}: {e}", f.display())),
        }
    }
    let mut thresholds = GateThresholds::default();
    if let Some(m) = args.min_windows {
        thresholds.min_windows = m;
    }
    let verdict = thresholds.evaluate(&per_symbol);
    let doc = AuditDoc {
        dir: args.dir.display().to_string(),
        files: files.len(),
        schema_errors: errors,
        verdict,
    };
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header([
                "symbol",
                "verdict",
                "windows",
                "edge bps",
                "maker/taker",
                "p95 ms",
                "risk",
                "reasons",
            ]);
        let f = |v: Option<f64>, d: usize| v.map_or("—".to_string(), |v| format!("{v:.d$}"));
        for s in &doc.verdict.symbols {
            table.add_row([
                s.symbol.clone(),
                s.verdict.to_string(),
                s.windows.to_string(),
                f(s.aggregate.edge_bps, 2),
                f(s.aggregate.maker_taker_ratio, 3),
                f(s.aggregate.p95_latency_ms, 0),
                f(s.aggregate.risk_ratio, 3),
                s.reasons.join("; "),
            ]);
        }
        println!("{table}");
        for e in &doc.schema_errors {
            println!("schema: {e}");
        }
        println!(
            "{} files, {} schema errors, verdict {}",
            doc.files,
            doc.schema_errors.len(),
            doc.verdict.verdict
        );
    }
    if !doc.schema_errors.is_empty() {
        return Err(CliError::Usage(format!(
            "{} schema errors in {}",
            doc.schema_errors.len(),
            args.dir.display()
        )));
    }
    Ok(if args.fail_on_hold && !doc.verdict.verdict.is_go() {
        ExitCode::from(EXIT_GATE)
    } else {
        ExitCode::SUCCESS
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_schema_accepts_the_example_and_rejects_a_string_kpi() {
        let schema: serde_json::Value = serde_json::from_str(ITER_SUMMARY_SCHEMA).unwrap();
        let v = jsonschema::validator_for(&schema).unwrap();
        let mut doc: serde_json::Value = serde_json::from_str(include_str!(
            "../../../../schemas/examples/ITER_SUMMARY_001.json"
        ))
        .unwrap();
        assert!(schema_errors(&v, Path::new("a.json"), &doc).is_empty());
        let mut bad_path = doc.clone();
        bad_path["symbols"]["BTCUSDT"]["path"][1]["equity"] = serde_json::json!("0.42");
        let errs = schema_errors(&v, Path::new("a.json"), &bad_path);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("/symbols/BTCUSDT/path/1/equity"),
            "{errs:?}"
        );
        doc["symbols"]["BTCUSDT"]["summary"]["edge_bps"] = serde_json::json!("3.2");
        let errs = schema_errors(&v, Path::new("a.json"), &doc);
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].contains("/symbols/BTCUSDT/summary/edge_bps"),
            "{errs:?}"
        );
    }
}
