//! Where the four services are: deployed (addresses given) or started
//! in-process on loopback ports (all-in-one), and which store they use.
//!
//! All-in-one mode runs the real services over real gRPC, exactly the code of a
//! deployment. Without `--redis-url`/`REDIS_URL` they share an in-process store;
//! with it they use that Redis, and an unreachable Redis is an error (exit 3),
//! never a silent fallback.

use std::sync::Arc;

use shadowkpi_runtime::{ServingHandle, Shutdown, normalize_endpoint};
use shadowkpi_store::{MemoryStore, RedisStore, Store, StoreOptions};
use tokio::net::TcpListener;

use crate::error::{ClientError, ClientResult};

/// Hint printed when Redis cannot be reached.
pub const REDIS_HINT: &str = "start Redis (e.g. `redis-server --port 6379 --save ''` or `docker compose up -d redis`), check REDIS_URL, or unset REDIS_URL to use the in-process store";

/// Where the services are: every address unset (and no other) means
/// all-in-one; a Redis URL is the store (and, deployed, the one this process
/// reads directly).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceAddrs {
    /// Redis URL of the feed and KPI store.
    pub redis_url: Option<String>,
    /// Address of ingestd.
    pub ingest_addr: Option<String>,
    /// Address of shadowd.
    pub shadow_addr: Option<String>,
    /// Address of exportd.
    pub export_addr: Option<String>,
    /// Address of dryrund.
    pub dryrun_addr: Option<String>,
}

/// The services a command talks to.
#[derive(Debug)]
pub struct Cluster {
    /// ingestd URL.
    pub ingest: String,
    /// shadowd URL.
    pub shadow: String,
    /// exportd URL.
    pub export: String,
    /// dryrund URL.
    pub dryrun: String,
    /// The store, when this process knows it (all-in-one, or `--redis-url`).
    pub store: Option<Arc<dyn Store>>,
    /// True when the services run in this process.
    pub in_process: bool,
    handles: Vec<ServingHandle>,
    shutdown: Shutdown,
}

/// Connects to a Redis URL and checks it answers; exit 3 otherwise.
pub async fn connect_redis(url: &str) -> ClientResult<Arc<dyn Store>> {
    let store = RedisStore::connect(url, StoreOptions::default())
        .await
        .map_err(|e| ClientError::StoreUnreachable {
            message: format!(
                "redis at {} is unreachable: {e}",
                shadowkpi_runtime::config::redact_url(url)
            ),
            hint: Some(REDIS_HINT.into()),
        })?;
    Ok(Arc::new(store))
}

async fn loopback() -> ClientResult<TcpListener> {
    TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| ClientError::Service(format!("cannot bind a loopback port: {e}")))
}

fn serve_err(e: shadowkpi_runtime::server::ServeError) -> ClientError {
    ClientError::Service(format!("cannot start an in-process service: {e}"))
}

impl Cluster {
    /// Uses the configured addresses, or starts all four services in-process
    /// when none is configured.
    pub async fn start(global: &ServiceAddrs) -> ClientResult<Cluster> {
        let any_remote = global.ingest_addr.is_some()
            || global.shadow_addr.is_some()
            || global.export_addr.is_some()
            || global.dryrun_addr.is_some();
        if any_remote {
            let addr = |a: &Option<String>, port: u16| {
                normalize_endpoint(a.as_deref().unwrap_or(&format!("127.0.0.1:{port}")))
            };
            let store = match &global.redis_url {
                Some(url) => Some(connect_redis(url).await?),
                None => None,
            };
            return Ok(Cluster {
                ingest: addr(&global.ingest_addr, ingestd::GRPC_PORT),
                shadow: addr(&global.shadow_addr, shadowd::GRPC_PORT),
                export: addr(&global.export_addr, exportd::GRPC_PORT),
                dryrun: addr(&global.dryrun_addr, dryrund::GRPC_PORT),
                store,
                in_process: false,
                handles: Vec::new(),
                shutdown: Shutdown::new(),
            });
        }
        let store: Arc<dyn Store> = match &global.redis_url {
            Some(url) => connect_redis(url).await?,
            None => Arc::new(MemoryStore::new()),
        };
        Self::in_process(store).await
    }

    /// Starts all four services in-process on loopback ports over `store`.
    pub async fn in_process(store: Arc<dyn Store>) -> ClientResult<Cluster> {
        let shutdown = Shutdown::new();
        let (li, ls, le, ld) = (
            loopback().await?,
            loopback().await?,
            loopback().await?,
            loopback().await?,
        );
        let url = |l: &TcpListener| {
            l.local_addr()
                .map(|a| format!("http://{a}"))
                .map_err(|e| ClientError::Service(e.to_string()))
        };
        let (ingest, shadow, export, dryrun) = (url(&li)?, url(&ls)?, url(&le)?, url(&ld)?);
        let handles = vec![
            ingestd::spawn(store.clone(), li, shutdown.clone()).map_err(serve_err)?,
            shadowd::spawn(
                shadowd::ShadowConfig {
                    ingest_addr: ingest.clone(),
                    export_addr: export.clone(),
                },
                ls,
                shutdown.clone(),
            )
            .map_err(serve_err)?,
            exportd::spawn(store.clone(), le, shutdown.clone()).map_err(serve_err)?,
            dryrund::spawn(
                dryrund::DryRunConfig {
                    ingest_addr: ingest.clone(),
                },
                store.clone(),
                ld,
                shutdown.clone(),
            )
            .map_err(serve_err)?,
        ];
        Ok(Cluster {
            ingest,
            shadow,
            export,
            dryrun,
            store: Some(store),
            in_process: true,
            handles,
            shutdown,
        })
    }

    /// One line saying where the services and the store are, for stderr.
    pub fn describe(&self) -> String {
        let store = match &self.store {
            Some(s) => s.describe(),
            None => "the services' own Redis".to_string(),
        };
        if self.in_process {
            format!(
                "all-in-one: ingestd, shadowd, exportd and dryrund run in this process; store: {store}{}",
                if store.starts_with("in-process") {
                    " (set REDIS_URL to use Redis)"
                } else {
                    ""
                }
            )
        } else {
            format!(
                "services: ingestd {} · shadowd {} · exportd {} · dryrund {}; store: {store}",
                self.ingest, self.shadow, self.export, self.dryrun
            )
        }
    }

    /// Stops in-process services (a no-op for deployed ones).
    pub async fn stop(self) {
        self.shutdown.trigger();
        for h in self.handles {
            let _ = h.join().await;
        }
    }
}
