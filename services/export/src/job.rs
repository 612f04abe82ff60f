//! The options of one export, validated: [`ExportJob::from_options`].

use shadowkpi_domain::aggregate::Aggregation;
use shadowkpi_domain::export::{
    DEFAULT_BATCH_SIZE, DEFAULT_STREAM_MAXLEN, DEFAULT_TTL_SECONDS, ExportMode, ExportSpec,
    KeySchema, parse_kpis,
};
use shadowkpi_proto::v1;

use crate::error::ExportError;

/// Default `env` segment of the keys.
pub const DEFAULT_ENV: &str = "dev";
/// Default `exchange` segment of the keys.
pub const DEFAULT_EXCHANGE: &str = "bybit";
/// Largest accepted `batch_size`.
pub const MAX_BATCH_SIZE: u32 = 10_000;
/// Largest accepted `ttl_seconds` (Redis keeps expiries in milliseconds as i64).
pub const MAX_TTL_SECONDS: u64 = (i64::MAX / 1000) as u64;

/// A validated export request.
#[derive(Debug, Clone, PartialEq)]
pub struct ExportJob {
    /// Keys, layout, TTL and KPIs.
    pub spec: ExportSpec,
    /// Symbols per pipeline.
    pub batch_size: usize,
    /// Return the commands instead of running them.
    pub dry_run: bool,
    /// How windows are combined per symbol.
    pub aggregation: Aggregation,
}

impl ExportJob {
    /// Validates the options; zero values take the documented defaults (`dev`,
    /// `bybit`, TTL 3600 s, hash mode, batch size 50, the four KPIs, median,
    /// stream cap 10000). Errors name the field (`options.batch_size`).
    pub fn from_options(o: &v1::ExportOptions) -> Result<Self, ExportError> {
        let or = |s: &str, d: &'static str| {
            if s.is_empty() {
                d.to_string()
            } else {
                s.to_string()
            }
        };
        let env = or(&o.env, DEFAULT_ENV);
        let exchange = or(&o.exchange, DEFAULT_EXCHANGE);
        let keys = KeySchema::new(&env, &exchange)
            .map_err(|e| ExportError::invalid(format!("options.{}", e.field), e.reason))?;
        let mode = match v1::ExportMode::try_from(o.mode) {
            Ok(v1::ExportMode::Unspecified | v1::ExportMode::Hash) => ExportMode::Hash,
            Ok(v1::ExportMode::Flat) => ExportMode::Flat,
            Ok(v1::ExportMode::Stream) => ExportMode::Stream,
            Err(_) => {
                return Err(ExportError::invalid(
                    "options.mode",
                    format!(
                        "unknown value {} (expected 1 hash, 2 flat or 3 stream)",
                        o.mode
                    ),
                ));
            }
        };
        let aggregation = match v1::Aggregation::try_from(o.aggregation) {
            Ok(v1::Aggregation::Unspecified | v1::Aggregation::Median) => Aggregation::Median,
            Ok(v1::Aggregation::Mean) => Aggregation::Mean,
            Ok(v1::Aggregation::Last) => Aggregation::Last,
            Err(_) => {
                return Err(ExportError::invalid(
                    "options.aggregation",
                    format!(
                        "unknown value {} (expected 1 median, 2 mean or 3 last)",
                        o.aggregation
                    ),
                ));
            }
        };
        let batch_size = match o.batch_size {
            0 => DEFAULT_BATCH_SIZE,
            n if n > MAX_BATCH_SIZE => {
                return Err(ExportError::invalid(
                    "options.batch_size",
                    format!("must be at most {MAX_BATCH_SIZE}, got {n}"),
                ));
            }
            n => n,
        };
        if o.ttl_seconds > MAX_TTL_SECONDS {
            return Err(ExportError::invalid(
                "options.ttl_seconds",
                format!("must be at most {MAX_TTL_SECONDS}, got {}", o.ttl_seconds),
            ));
        }
        let kpis = parse_kpis(&o.kpis)
            .map_err(|(i, reason)| ExportError::invalid(format!("options.kpis[{i}]"), reason))?;
        Ok(Self {
            spec: ExportSpec {
                keys,
                mode,
                ttl_seconds: if o.ttl_seconds == 0 {
                    DEFAULT_TTL_SECONDS
                } else {
                    o.ttl_seconds
                },
                kpis,
                stream_maxlen: if o.stream_maxlen == 0 {
                    DEFAULT_STREAM_MAXLEN
                } else {
                    o.stream_maxlen
                },
            },
            batch_size: batch_size as usize,
            dry_run: o.dry_run,
            aggregation,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shadowkpi_domain::kpi::Kpi;

    #[test]
    fn zero_values_take_the_documented_defaults() {
        let j = ExportJob::from_options(&v1::ExportOptions::default()).unwrap();
        assert_eq!(j.spec.keys.prefix(), "dev:bybit:shadow");
        assert_eq!(j.spec.mode, ExportMode::Hash);
        assert_eq!(j.spec.ttl_seconds, 3600);
        assert_eq!(j.spec.kpis, Kpi::ALL);
        assert_eq!(j.spec.stream_maxlen, 10_000);
        assert_eq!(j.batch_size, 50);
        assert_eq!(j.aggregation, Aggregation::Median);
        assert!(!j.dry_run);
    }

    #[test]
    fn bad_values_name_the_field() {
        let err = |o: v1::ExportOptions| ExportJob::from_options(&o).unwrap_err().to_string();
        assert_eq!(
            err(v1::ExportOptions {
                batch_size: 20_000,
                ..Default::default()
            }),
            "options.batch_size: must be at most 10000, got 20000"
        );
        assert_eq!(
            err(v1::ExportOptions {
                mode: 9,
                ..Default::default()
            }),
            "options.mode: unknown value 9 (expected 1 hash, 2 flat or 3 stream)"
        );
        assert!(
            err(v1::ExportOptions {
                kpis: vec!["edge_bps".into(), "pnl".into()],
                ..Default::default()
            })
            .starts_with("options.kpis[1]: unknown KPI `pnl`")
        );
        assert!(
            err(v1::ExportOptions {
                exchange: "by:bit".into(),
                ..Default::default()
            })
            .starts_with("options.exchange: `by:bit` contains `:`")
        );
        assert!(
            err(v1::ExportOptions {
                ttl_seconds: u64::MAX,
                ..Default::default()
            })
            .starts_with("options.ttl_seconds: must be at most 9223372036854775,")
        );
        assert!(
            err(v1::ExportOptions {
                aggregation: 7,
                ..Default::default()
            })
            .starts_with("options.aggregation: unknown value 7")
        );
    }
}
