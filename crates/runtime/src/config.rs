//! Flags shared by every service binary, each with an environment fallback.

use std::net::SocketAddr;
use std::time::Duration;

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log shippers.
    Json,
}

/// Flags every service takes. Flatten it into the binary's own `clap::Parser`
/// and call [`ServiceArgs::with_default_ports`] to apply the service's ports.
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// gRPC listen address [default: 0.0.0.0:<service port>].
    #[arg(long, env = "SHADOWKPI_LISTEN", value_name = "ADDR")]
    pub listen: Option<SocketAddr>,

    /// Prometheus `/metrics` listen address [default: 0.0.0.0:<metrics port>];
    /// `off` disables it.
    #[arg(long, env = "SHADOWKPI_METRICS_LISTEN", value_name = "ADDR")]
    pub metrics_listen: Option<String>,

    /// Redis URL (`redis://`, `rediss://` for TLS, `redis://user:pass@host` for ACL);
    /// several comma-separated node URLs for a Redis Cluster.
    #[arg(
        long,
        env = "REDIS_URL",
        default_value = "redis://127.0.0.1:6379",
        hide_env_values = true
    )]
    pub redis_url: String,

    /// Treat `--redis-url` as the seed of a Redis Cluster (several
    /// comma-separated node URLs select cluster mode by themselves).
    #[arg(long, env = "SHADOWKPI_REDIS_CLUSTER")]
    pub redis_cluster: bool,

    /// Log format.
    #[arg(long, env = "SHADOWKPI_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty)]
    pub log_format: LogFormat,

    /// Log filter (`info`, `shadowkpi=debug,info`, …); `RUST_LOG` wins when set.
    #[arg(long, env = "SHADOWKPI_LOG", default_value = "info")]
    pub log_level: String,

    /// How long to drain open streams on shutdown before exiting anyway.
    #[arg(long, env = "SHADOWKPI_DRAIN_TIMEOUT", default_value = "10s", value_parser = parse_duration)]
    pub drain_timeout: Duration,

    /// Deadline of a request's response; client-streaming calls (export) are
    /// exempt and bounded by the client's own deadline.
    #[arg(long, env = "SHADOWKPI_REQUEST_TIMEOUT", default_value = "30s", value_parser = parse_duration)]
    pub request_timeout: Duration,

    /// Requests handled at once over all connections; more are rejected with
    /// RESOURCE_EXHAUSTED instead of queueing.
    #[arg(long, env = "SHADOWKPI_MAX_CONCURRENT", default_value_t = 256)]
    pub max_concurrent: usize,

    // The bearer token the service requires and sends to its peers.
    // (a doc comment here would replace the first flag's help)
    #[allow(missing_docs)]
    #[command(flatten)]
    pub auth: crate::auth::TokenArgs,

    // TLS of the gRPC server.
    #[allow(missing_docs)]
    #[command(flatten)]
    pub tls: crate::tls::ServerTlsArgs,

    // TLS of the calls to `https://` peers.
    #[allow(missing_docs)]
    #[command(flatten)]
    pub peer_tls: crate::tls::ClientTlsArgs,
}

impl ServiceArgs {
    /// The store's connection settings: the defaults, in cluster mode when
    /// `--redis-cluster` is set.
    pub fn store_options(&self) -> shadowkpi_store::StoreOptions {
        shadowkpi_store::StoreOptions {
            cluster: self.redis_cluster,
            ..shadowkpi_store::StoreOptions::default()
        }
    }

    /// Effective gRPC listen address.
    pub fn grpc_addr(&self, default_port: u16) -> SocketAddr {
        self.listen
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], default_port)))
    }

    /// Effective metrics address; `None` when disabled with `off`.
    pub fn metrics_addr(&self, default_port: u16) -> Result<Option<SocketAddr>, String> {
        match self.metrics_listen.as_deref() {
            None => Ok(Some(SocketAddr::from(([0, 0, 0, 0], default_port)))),
            Some("off") | Some("none") | Some("") => Ok(None),
            Some(s) => s
                .parse()
                .map(Some)
                .map_err(|e| format!("invalid --metrics-listen `{s}`: {e}")),
        }
    }
}

pub use shadowkpi_domain::duration::parse_duration;

/// Makes a peer address usable by tonic: `host:port` becomes `http://host:port`.
pub fn normalize_endpoint(addr: &str) -> String {
    let a = addr.trim();
    if a.starts_with("http://") || a.starts_with("https://") {
        a.to_string()
    } else {
        format!("http://{a}")
    }
}

/// Redacts the password of a Redis URL for logs and errors.
pub fn redact_url(url: &str) -> String {
    // scheme://user:password@host → scheme://user:***@host
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let Some((creds, host)) = rest.rsplit_once('@') else {
        return url.to_string();
    };
    match creds.split_once(':') {
        Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
        None if creds.is_empty() => url.to_string(),
        // `redis://password@host` puts the password in the user slot.
        None => format!("{scheme}://***@{host}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_get_a_scheme() {
        assert_eq!(normalize_endpoint("ingestd:50051"), "http://ingestd:50051");
        assert_eq!(normalize_endpoint("http://x:1"), "http://x:1");
        assert_eq!(normalize_endpoint("https://x:1"), "https://x:1");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact_url("redis://alice:s3cret@db:6379/0"),
            "redis://alice:***@db:6379/0"
        );
        assert_eq!(
            redact_url("rediss://:s3cret@db:6380"),
            "rediss://:***@db:6380"
        );
        assert_eq!(redact_url("redis://s3cret@db"), "redis://***@db");
        assert_eq!(redact_url("redis://db:6379"), "redis://db:6379");
    }
}
