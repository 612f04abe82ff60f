//! `shadowctl config show`: the effective configuration, secrets masked.

use std::process::ExitCode;

use clap::ArgMatches;
use clap::parser::ValueSource;
use serde::Serialize;

use crate::cli::GlobalArgs;
use crate::config::{ConfigFile, KEYS};
use crate::error::{CliError, CliResult};

/// `shadowctl config …`.
#[derive(Debug, clap::Subcommand)]
pub enum ConfigCommand {
    /// Print the effective configuration and where each value comes from.
    Show,
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
    _cmd: ConfigCommand,
    global: &GlobalArgs,
    file: &ConfigFile,
    matches: &ArgMatches,
) -> CliResult<ExitCode> {
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
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out).map_err(|e| CliError::Service(e.to_string()))?
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
    }
    Ok(ExitCode::SUCCESS)
}
