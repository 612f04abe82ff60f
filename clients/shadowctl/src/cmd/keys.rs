//! `shadowctl keys`: what the KPI store holds, with TTLs (found with SCAN).

use std::process::ExitCode;

use serde::Serialize;
use shadowkpi_domain::export::keys::KeySchema;
use shadowkpi_domain::symbol::normalize_symbol;

use crate::error::{CliError, CliResult};
use crate::globals::GlobalArgs;
use shadowkpi_client::services::connect_redis;

/// Flags of `shadowctl keys`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Examples:\n  shadowctl keys --redis-url redis://127.0.0.1:6379\n  shadowctl keys --env prod --exchange bybit --symbol btc-usdt --json"
)]
pub struct KeysArgs {
    /// `env` of the keys.
    #[arg(long, env = "SHADOWKPI_ENV", default_value = "dev")]
    pub env: String,
    /// `exchange` of the keys.
    #[arg(long, env = "SHADOWKPI_EXCHANGE", default_value = "bybit")]
    pub exchange: String,
    /// Only this symbol.
    #[arg(long)]
    pub symbol: Option<String>,
}

/// One key.
#[derive(Debug, Serialize)]
pub struct KeyRow {
    /// Key name.
    pub key: String,
    /// Redis type.
    #[serde(rename = "type")]
    pub kind: String,
    /// Seconds to live; `None` without expiry.
    pub ttl_s: Option<f64>,
    /// Hash fields, string value or stream length.
    pub value: String,
}

/// Runs the command.
pub async fn run(args: KeysArgs, global: &GlobalArgs) -> CliResult<ExitCode> {
    let Some(url) = &global.redis_url else {
        return Err(CliError::Usage(
            "keys inspects a Redis KPI store: pass --redis-url or set REDIS_URL (the in-process store lives only as long as one shadowctl command)".into(),
        ));
    };
    let schema = KeySchema::new(&args.env, &args.exchange)
        .map_err(|e| CliError::Usage(format!("--{}: {}", e.field, e.reason)))?;
    let store = connect_redis(url).await?;
    let sym =
        match &args.symbol {
            Some(s) => Some(normalize_symbol(s).ok_or_else(|| {
                CliError::Usage(format!("--symbol `{s}` is empty once normalised"))
            })?),
            None => None,
        };
    let err = |e: shadowkpi_store::StoreError| CliError::StoreUnreachable {
        message: e.to_string(),
        hint: Some(shadowkpi_client::services::REDIS_HINT.into()),
    };
    let mut rows = Vec::new();
    for key in store
        .scan(&format!("{}:*", schema.prefix()))
        .await
        .map_err(err)?
    {
        if let Some(s) = &sym {
            let parts: Vec<&str> = key.split(':').collect();
            if parts.get(4).is_none_or(|p| p != s) {
                continue;
            }
        }
        let kind = store.key_type(&key).await.map_err(err)?;
        let ttl_s = store
            .pttl(&key)
            .await
            .map_err(err)?
            .filter(|t| *t >= 0)
            .map(|t| t as f64 / 1000.0);
        let value = match kind.as_str() {
            "hash" => store
                .hgetall(&key)
                .await
                .map_err(err)?
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            "string" => store.get(&key).await.map_err(err)?.unwrap_or_default(),
            "stream" => format!("{} entries", store.stream_len(&key).await.map_err(err)?),
            _ => String::new(),
        };
        rows.push(KeyRow {
            key,
            kind,
            ttl_s,
            value,
        });
    }
    if global.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&rows).map_err(|e| CliError::Service(e.to_string()))?
        );
    } else {
        let mut table = comfy_table::Table::new();
        table
            .load_preset(comfy_table::presets::UTF8_FULL_CONDENSED)
            .set_header(["key", "type", "ttl s", "value"]);
        for r in &rows {
            table.add_row([
                r.key.clone(),
                r.kind.clone(),
                r.ttl_s.map_or("none".into(), |t| format!("{t:.0}")),
                r.value.chars().take(120).collect::<String>(),
            ]);
        }
        println!("{table}");
        println!("{} keys under {}:*", rows.len(), schema.prefix());
    }
    Ok(ExitCode::SUCCESS)
}
