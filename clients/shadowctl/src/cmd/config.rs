//! `shadowctl config show`: the effective configuration, secrets masked, and
//! the execution model sets a soak or dry run can name.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Serialize;
use shadowkpi_domain::params::StrategyParams;

use crate::config::{ConfigFile, KEYS};
use crate::error::{CliError, CliResult};
use crate::globals::GlobalArgs;

/// `shadowctl config …`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration and where each value comes from, and
    /// the execution model sets (`--model NAME`) with every parameter.
    #[command(
        after_help = "Examples:\n  shadowctl config show\n  shadowctl config show --symbols BTCUSDT ETHUSDT --preset touch_join_v1\n  shadowctl config show --profile my_profile.json --symbols BTCUSDT --model strict_50ms --json\n\nWith --symbols it also prints each symbol's effective strategy parameters as a soak of the\nsame --profile/--preset would run them, each with the layer it came from (built-in,\ndefaults, symbols.<SYMBOL>, presets.<NAME>), the symbol's price grid, and the --model set.\nA soak on deployed services resolves against shadowd's profile unless it is sent one with\n--profile; the soak's first lines show what it really ran."
    )]
    Show {
        /// Profile whose `models` to list with the built-in sets, and whose
        /// parameters `--symbols` resolves (default: the built-in profile).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
        /// Show these symbols' effective parameters and where each came from.
        #[arg(long, num_args = 1.., value_name = "SYMBOL")]
        symbols: Vec<String>,
        /// Preset the parameters resolve with (it wins over the profile's
        /// per-symbol entries, as in a soak).
        #[arg(long, value_name = "NAME")]
        preset: Option<String>,
        /// Model set to describe with the parameters.
        #[arg(long, value_name = "NAME", default_value = shadowkpi_domain::engine::model_spec::DEFAULT_SOAK_MODEL)]
        model: String,
    },
}

/// One symbol's effective parameters, where each came from, and its grid.
#[derive(Debug, Serialize)]
pub struct SymbolParams {
    /// Normalised symbol.
    pub symbol: String,
    /// Effective parameters.
    pub params: StrategyParams,
    /// The layer that set each field (`built-in`, `defaults`,
    /// `symbols.<SYMBOL>`, `presets.<NAME>`, `request`), by field name.
    pub sources: BTreeMap<String, String>,
    /// The profile's price and size grid, or `inferred`.
    pub grid: String,
}

/// The parameters of `rows` as one table: a row per field, a column per
/// symbol, each cell the value and its source.
pub fn params_table(rows: &[SymbolParams]) -> comfy_table::Table {
    let mut table = comfy_table::Table::new();
    table.load_preset(comfy_table::presets::UTF8_FULL_CONDENSED);
    table.set_header(
        std::iter::once("parameter".to_string()).chain(rows.iter().map(|r| r.symbol.clone())),
    );
    for (i, field) in StrategyParams::FIELDS.into_iter().enumerate() {
        table.add_row(
            std::iter::once(field.to_string()).chain(rows.iter().map(|r| {
                let from = r.sources.get(field).map_or("built-in", String::as_str);
                format!("{}  ({from})", r.params.values()[i])
            })),
        );
    }
    table.add_row(std::iter::once("grid".to_string()).chain(rows.iter().map(|r| r.grid.clone())));
    table
}

/// One execution model set.
#[derive(Debug, Serialize)]
pub struct ModelSetRow {
    /// The name `--model` takes.
    pub name: String,
    /// `built-in`, `profile`, or `profile (redefines built-in)`.
    pub origin: &'static str,
    /// Every parameter, on one line.
    pub description: String,
}

/// What `config show --json` prints.
#[derive(Debug, Serialize)]
pub struct ConfigDoc {
    /// Every setting.
    pub settings: Vec<Setting>,
    /// The profile the model sets come from.
    pub profile: String,
    /// Every model set, by name.
    pub model_sets: Vec<ModelSetRow>,
    /// With `--symbols`: each symbol's effective parameters.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub symbols: Vec<SymbolParams>,
    /// With `--symbols`: the `--model` set the parameters run with.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<ModelSetRow>,
}

/// The model sets of `profile`, marked by where they come from.
pub fn model_set_rows(profile: &shadowkpi_domain::profile::Profile) -> Vec<ModelSetRow> {
    let builtin = shadowkpi_domain::engine::model_spec::builtin_sets();
    profile
        .model_sets()
        .into_iter()
        .map(|(name, spec)| ModelSetRow {
            origin: match (
                profile.models.contains_key(&name),
                builtin.contains_key(&name),
            ) {
                (true, true) => "profile (redefines built-in)",
                (true, false) => "profile",
                _ => "built-in",
            },
            description: spec.describe(),
            name,
        })
        .collect()
}

/// One setting.
#[derive(Debug, Serialize)]
pub struct Setting {
    /// Key (config file) / flag name.
    pub key: String,
    /// Effective value (passwords masked); `None` when unset.
    pub value: Option<String>,
    /// `flag`, `env`, `file` or `default`.
    pub source: &'static str,
}

fn global_source(matches: &ArgMatches, id: &str) -> Option<ValueSource> {
    matches.value_source(id)
}

/// Runs the command.
pub fn run(
    cmd: ConfigCommand,
    global: &GlobalArgs,
    file: &ConfigFile,
    matches: &ArgMatches,
) -> CliResult<ExitCode> {
    let ConfigCommand::Show {
        profile,
        symbols,
        preset,
        model,
    } = cmd;
    let (profile_name, profile) = match &profile {
        Some(p) => (
            p.display().to_string(),
            shadowd::load_profile(p).map_err(CliError::Usage)?,
        ),
        None => ("built-in".to_string(), shadowd::builtin_profile()),
    };
    let model_sets = model_set_rows(&profile);
    let effective = effective_params(&profile, &symbols, preset.as_deref())?;
    let chosen = if symbols.is_empty() {
        None
    } else {
        let names: Vec<&str> = model_sets.iter().map(|m| m.name.as_str()).collect();
        let row = model_sets.iter().find(|m| m.name == model).ok_or_else(|| {
            CliError::Usage(format!(
                "--model: unknown model set `{model}` (available: {})",
                names.join(", ")
            ))
        })?;
        Some(ModelSetRow {
            name: row.name.clone(),
            origin: row.origin,
            description: row.description.clone(),
        })
    };
    let mut out = Vec::new();
    for (key, env) in KEYS {
        let from_globals = match *key {
            "redis_url" => Some(global.redis_url.clone()),
            "ingest_addr" => Some(global.ingest_addr.clone()),
            "shadow_addr" => Some(global.shadow_addr.clone()),
            "export_addr" => Some(global.export_addr.clone()),
            "dryrun_addr" => Some(global.dryrun_addr.clone()),
            "log_level" => Some(Some(global.log_level.clone())),
            _ => None,
        };
        let file_value = file.values.get(*key).map(|v| v.join(","));
        let (value, source) = match from_globals {
            Some(v) => {
                let src = match global_source(matches, key) {
                    Some(ValueSource::CommandLine) => "flag",
                    Some(ValueSource::EnvVariable) => "env",
                    _ if file_value.is_some() => "file",
                    _ => "default",
                };
                (v, src)
            }
            None => match env.and_then(|e| std::env::var(e).ok()) {
                Some(v) => (Some(v), "env"),
                None => match file_value {
                    Some(v) => (Some(v), "file"),
                    None => (None, "default"),
                },
            },
        };
        let value = value.map(|v| {
            if *key == "redis_url" {
                shadowkpi_runtime::config::redact_url(&v)
            } else {
                v
            }
        });
        out.push(Setting {
            key: key.to_string(),
            value,
            source,
        });
    }
    // The token itself is never shown.
    let token_source = match (
        global_source(matches, "auth_token"),
        global_source(matches, "auth_token_file"),
    ) {
        (Some(ValueSource::CommandLine), _) | (_, Some(ValueSource::CommandLine)) => "flag",
        (Some(ValueSource::EnvVariable), _) | (_, Some(ValueSource::EnvVariable)) => "env",
        _ => "default",
    };
    out.push(Setting {
        key: "auth_token".into(),
        value: match (&global.auth_token, &global.auth_token_file) {
            (Some(_), _) => Some("***".into()),
            (None, Some(f)) => Some(format!("*** (from {})", f.display())),
            (None, None) => None,
        },
        source: token_source,
    });
    // TLS files by path (a path is no secret; the key's content never shows).
    for (key, path) in [
        ("tls_ca", &global.tls.tls_ca),
        ("tls_client_cert", &global.tls.tls_client_cert),
        ("tls_client_key", &global.tls.tls_client_key),
    ] {
        out.push(Setting {
            key: key.into(),
            value: path.as_ref().map(|p| p.display().to_string()),
            source: match global_source(matches, key) {
                Some(ValueSource::CommandLine) => "flag",
                Some(ValueSource::EnvVariable) => "env",
                _ => "default",
            },
        });
    }
    if global.json {
        let doc = ConfigDoc {
            settings: out,
            profile: profile_name,
            model_sets,
            symbols: effective,
            model: chosen,
        };
        println!(
            "{}",
            serde_json::to_string_pretty(&doc).map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        println!(
            "config file: {}",
            file.path
                .as_ref()
                .map_or("none".to_string(), |p| p.display().to_string())
        );
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header(["key", "value", "source"]);
        for s in &out {
            table.add_row([
                s.key.clone(),
                s.value
                    .clone()
                    .unwrap_or_else(|| "(built-in default)".into()),
                s.source.to_string(),
            ]);
        }
        println!("{table}");
        println!("model sets (--model NAME; profile: {profile_name}):");
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header(["name", "origin", "description"]);
        for m in &model_sets {
            table.add_row([m.name.clone(), m.origin.to_string(), m.description.clone()]);
        }
        println!("{table}");
        if let Some(m) = &chosen {
            println!(
                "effective parameters (profile: {profile_name}, preset: {}):",
                preset.as_deref().unwrap_or("none")
            );
            println!("{}", params_table(&effective));
            println!("model set {}: {}", m.name, m.description);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Each of `symbols` resolved on `profile` with `preset`, as a soak does.
fn effective_params(
    profile: &shadowkpi_domain::profile::Profile,
    symbols: &[String],
    preset: Option<&str>,
) -> CliResult<Vec<SymbolParams>> {
    let mut out = Vec::new();
    for raw in symbols {
        let symbol = shadowkpi_domain::symbol::normalize_symbol(raw)
            .ok_or_else(|| CliError::Usage(format!("--symbols: `{raw}` is empty")))?;
        let (params, sources) = profile
            .resolve_explained(&symbol, preset, &Default::default())
            .map_err(|e| CliError::Usage(e.to_string()))?;
        out.push(SymbolParams {
            grid: shadowd::soak::grid_text(profile.instruments.get(&symbol)),
            symbol,
            params,
            sources: sources
                .into_iter()
                .map(|(f, l)| (f.to_string(), l))
                .collect(),
        });
    }
    Ok(out)
}
