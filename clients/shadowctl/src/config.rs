//! `shadowkpi.toml`: a configuration file for everything the flags set.
//!
//! Precedence: flags win over environment variables, environment variables over
//! the file, the file over built-in defaults. The file's keys are the flags'
//! names with `_` for `-` (`redis_url`, `symbols`, `validate_iterations`, …);
//! its values become the flags' defaults, so clap's own precedence does the
//! rest. An unknown key is an error naming the key and the file.
//!
//! The file is `--config PATH`, else `$SHADOWKPI_CONFIG`, else `./shadowkpi.toml`
//! when it exists.

use std::collections::BTreeMap;
use std::path::PathBuf;

use clap::Command;

/// Keys a config file may set, with the environment variable of each.
pub const KEYS: &[(&str, Option<&str>)] = &[
    ("redis_url", Some("REDIS_URL")),
    ("ingest_addr", Some("SHADOWKPI_INGEST_ADDR")),
    ("shadow_addr", Some("SHADOWKPI_SHADOW_ADDR")),
    ("export_addr", Some("SHADOWKPI_EXPORT_ADDR")),
    ("dryrun_addr", Some("SHADOWKPI_DRYRUN_ADDR")),
    ("log_level", Some("SHADOWKPI_LOG")),
    ("symbols", None),
    ("iterations", None),
    ("duration", None),
    ("validate_iterations", None),
    ("preset", None),
    ("profile", None),
    ("model", None),
    ("seed", None),
    ("feed", None),
    ("feed_rate", None),
    ("scenario", None),
    ("artifacts", None),
    ("env", Some("SHADOWKPI_ENV")),
    ("exchange", Some("SHADOWKPI_EXCHANGE")),
    ("ttl", None),
    ("batch_size", None),
    ("pass_below", None),
    ("fail_above", None),
];

/// The loaded file.
#[derive(Debug, Clone, Default)]
pub struct ConfigFile {
    /// Where it was read from.
    pub path: Option<PathBuf>,
    /// Its values, as flag values.
    pub values: BTreeMap<String, Vec<String>>,
}

fn config_path(args: &[String]) -> Option<(PathBuf, bool)> {
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if a == "--config" {
            return it.next().map(|p| (PathBuf::from(p), true));
        }
        if let Some(p) = a.strip_prefix("--config=") {
            return Some((PathBuf::from(p), true));
        }
    }
    if let Ok(p) = std::env::var("SHADOWKPI_CONFIG")
        && !p.is_empty()
    {
        return Some((PathBuf::from(p), true));
    }
    let local = PathBuf::from("shadowkpi.toml");
    local.exists().then_some((local, false))
}

/// Reads the config file named by the arguments or the environment.
pub fn load(args: &[String]) -> Result<ConfigFile, String> {
    let Some((path, _explicit)) = config_path(args) else {
        return Ok(ConfigFile::default());
    };
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read config {}: {e}", path.display()))?;
    parse(&text, &path)
}

/// Parses a config document.
pub fn parse(text: &str, path: &std::path::Path) -> Result<ConfigFile, String> {
    let table: toml::Table = text
        .parse()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let mut values = BTreeMap::new();
    for (k, v) in table {
        if !KEYS.iter().any(|(name, _)| *name == k) {
            return Err(format!(
                "{}: unknown key `{k}` (known: {})",
                path.display(),
                KEYS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            ));
        }
        let scalar = |v: &toml::Value| -> Result<String, String> {
            match v {
                toml::Value::String(s) => Ok(s.clone()),
                toml::Value::Integer(i) => Ok(i.to_string()),
                toml::Value::Float(f) => Ok(f.to_string()),
                toml::Value::Boolean(b) => Ok(b.to_string()),
                other => Err(format!(
                    "{}: `{k}` must be a string or number, got {}",
                    path.display(),
                    other.type_str()
                )),
            }
        };
        let list = match &v {
            toml::Value::Array(a) => a.iter().map(scalar).collect::<Result<Vec<_>, _>>()?,
            other => vec![scalar(other)?],
        };
        values.insert(k, list);
    }
    Ok(ConfigFile {
        path: Some(path.to_path_buf()),
        values,
    })
}

/// `cmd` with the file's values as the defaults of its flags (every subcommand too).
pub fn apply_defaults(mut cmd: Command, file: &ConfigFile) -> Command {
    let ids: Vec<String> = cmd
        .get_arguments()
        .map(|a| a.get_id().to_string())
        .collect();
    for id in ids {
        if let Some(v) = file.values.get(&id) {
            let leaked: Vec<&'static str> = v
                .iter()
                .map(|s| &*Box::leak(s.clone().into_boxed_str()))
                .collect();
            cmd = cmd.mut_arg(id.as_str(), |a| a.default_values(leaked));
        }
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    for name in subs {
        cmd = cmd.mut_subcommand(name.as_str(), |s| apply_defaults(s, file));
    }
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_keys_are_named_with_the_file() {
        let err = parse("redis_ulr = 'x'", std::path::Path::new("shadowkpi.toml")).unwrap_err();
        assert!(
            err.starts_with("shadowkpi.toml: unknown key `redis_ulr`"),
            "{err}"
        );
    }
}
