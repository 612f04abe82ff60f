//! `shadowctl config show`: the effective configuration, secrets masked, and
//! the execution model sets a soak or dry run can name.

use std::path::PathBuf;
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
    /// Print the effective configuration and where each value comes from, and
    /// the execution model sets (`--model NAME`) with every parameter.
    Show {
        /// Profile whose `models` to list with the built-in sets (default: the
        /// built-in profile).
        #[arg(long, value_name = "FILE")]
        profile: Option<PathBuf>,
    },
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
    let ConfigCommand::Show { profile } = cmd;
    let (profile_name, profile) = match &profile {
        Some(p) => (
            p.display().to_string(),
            shadowd::load_profile(p).map_err(CliError::Usage)?,
        ),
        None => ("built-in".to_string(), shadowd::builtin_profile()),
    };
    let model_sets = model_set_rows(&profile);
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
        let doc = ConfigDoc {
            settings: out,
            profile: profile_name,
            model_sets,
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
    }
    Ok(ExitCode::SUCCESS)
}
