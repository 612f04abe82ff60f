//! The Redis backend of [`Store`]: one server, or a Redis Cluster.
//!
//! Against one server, short commands share one reconnecting
//! [`ConnectionManager`]. Blocking `XREADGROUP … BLOCK` reads get a dedicated
//! connection whose response timeout is longer than the block time, so a long
//! block never stalls other commands and is never mistaken for a dead server.
//!
//! Against a cluster (several comma-separated node URLs, or
//! [`StoreOptions::cluster`] with one seed) commands go through redis-rs'
//! cluster client, which routes each by its key's slot and follows `MOVED` and
//! `ASK` itself. What a cluster changes underneath the same [`Store`]
//! semantics:
//! - [`Store::apply`] splits a pipeline by slot (a cluster pipeline must not
//!   span slots) and keeps the commands of a key in their order;
//! - [`Store::scan`] runs `SCAN` on every primary (on a cluster it would cover
//!   one random node);
//! - the blocking read has a cluster connection of its own;
//! - `PING` (readiness) must be answered by every primary;
//! - cluster errors that reach shadowkpi after redis-rs' own retries are
//!   classified (see [`cluster_error_class`]) and counted in
//!   `shadow_redis_cluster_errors_total{code,class}`.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use redis::aio::{
    ConnectionLike, ConnectionManager, ConnectionManagerConfig, MultiplexedConnection,
};
use redis::cluster::{ClusterClient, ClusterClientBuilder};
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{
    MultipleNodeRoutingInfo, ResponsePolicy, RoutingInfo, SingleNodeRoutingInfo, Slot,
};
use redis::{AsyncConnectionConfig, ErrorKind, RedisError, Value};
use tokio::sync::{Mutex, OnceCell};

use crate::{
    AutoClaimed, Store, StoreError, StoreResult, StreamEntry, StreamId, StreamInfo, WriteCommand,
};

/// Connection settings.
#[derive(Debug, Clone, Copy)]
pub struct StoreOptions {
    /// Timeout of establishing a connection.
    pub connect_timeout: Duration,
    /// Timeout of a (non-blocking) command.
    pub response_timeout: Duration,
    /// Treat the URL as the seed of a Redis Cluster even when it names one
    /// node (`--redis-cluster`); several comma-separated URLs always do.
    pub cluster: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
            cluster: false,
        }
    }
}

/// True when `url` (a `REDIS_URL`) selects cluster mode by itself: it lists
/// several comma-separated node URLs.
pub fn is_cluster_url(url: &str) -> bool {
    url.split(',').filter(|u| !u.trim().is_empty()).count() > 1
}

/// Adds an explicit-id stream entry only when that id is not there yet, so a
/// re-export leaves the stream exactly as it was.
const XADD_IF_ABSENT: &str = r"
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) > 0 then return 0 end
local args = {KEYS[1]}
if ARGV[2] ~= '' then
  table.insert(args, 'MAXLEN'); table.insert(args, '~'); table.insert(args, ARGV[2])
end
table.insert(args, ARGV[1])
for i = 3, #ARGV do table.insert(args, ARGV[i]) end
redis.call('XADD', unpack(args))
return 1
";

/// The connections of one server.
struct Single {
    client: redis::Client,
    manager: OnceCell<ConnectionManager>,
    blocking: Mutex<Option<MultiplexedConnection>>,
}

/// The connections of a cluster.
struct Cluster {
    /// The node URLs (the seeds) and the private CA, if any, for the
    /// blocking reader's own client.
    nodes: Vec<String>,
    certs: Option<redis::TlsCertificates>,
    /// Client of the short commands.
    client: ClusterClient,
    conn: OnceCell<ClusterConnection>,
    blocking: Mutex<Option<ClusterConnection>>,
}

enum Backend {
    Single(Single),
    Cluster(Cluster),
}

/// Redis-backed [`Store`].
pub struct RedisStore {
    backend: Backend,
    display: String,
    options: StoreOptions,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.display)
            .field("cluster", &self.is_cluster())
            .finish()
    }
}

impl RedisStore {
    /// Parses the URL; connects lazily on first use (and again after failures),
    /// so a service can start before Redis does. Several comma-separated URLs,
    /// or [`StoreOptions::cluster`], select a Redis Cluster: the URLs are its
    /// seeds, and they must agree on scheme, user and password.
    pub fn open(url: &str, options: StoreOptions) -> StoreResult<Self> {
        Self::open_inner(url, options, None)
    }

    /// Like [`RedisStore::open`], for `rediss://` URLs whose server certificate
    /// is signed by the CA in `root_ca_pem` (PEM) instead of one the system
    /// trusts. (A private CA can also be given to [`RedisStore::open`] through
    /// the `SSL_CERT_FILE` environment variable.)
    pub fn open_with_root_ca(
        url: &str,
        options: StoreOptions,
        root_ca_pem: &[u8],
    ) -> StoreResult<Self> {
        Self::open_inner(url, options, Some(root_ca_pem))
    }

    fn open_inner(
        url: &str,
        options: StoreOptions,
        root_ca_pem: Option<&[u8]>,
    ) -> StoreResult<Self> {
        let nodes: Vec<String> = url
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(String::from)
            .collect();
        let display = nodes
            .iter()
            .map(|u| redact(u))
            .collect::<Vec<_>>()
            .join(",");
        let bad =
            |e: RedisError| StoreError::Config(format!("redis url {display}: {}", e.kind_str()));
        if nodes.is_empty() {
            return Err(StoreError::Config("redis url is empty".into()));
        }
        let certs = root_ca_pem.map(|pem| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.to_vec()),
        });
        let backend = if nodes.len() > 1 || options.cluster {
            let client = cluster_builder(&nodes, options, options.response_timeout, certs.clone())
                .build()
                .map_err(bad)?;
            Backend::Cluster(Cluster {
                nodes,
                certs,
                client,
                conn: OnceCell::new(),
                blocking: Mutex::new(None),
            })
        } else {
            let client = match certs {
                Some(c) => redis::Client::build_with_tls(nodes[0].as_str(), c),
                None => redis::Client::open(nodes[0].as_str()),
            }
            .map_err(bad)?;
            Backend::Single(Single {
                client,
                manager: OnceCell::new(),
                blocking: Mutex::new(None),
            })
        };
        Ok(Self {
            backend,
            display,
            options,
        })
    }

    /// Opens and checks the connection with `PING`.
    pub async fn connect(url: &str, options: StoreOptions) -> StoreResult<Self> {
        let s = Self::open(url, options)?;
        s.ping().await?;
        Ok(s)
    }

    /// True when this store talks to a Redis Cluster.
    pub fn is_cluster(&self) -> bool {
        matches!(self.backend, Backend::Cluster(_))
    }

    async fn manager(&self, single: &Single) -> StoreResult<ConnectionManager> {
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.options.connect_timeout))
            .set_response_timeout(Some(self.options.response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        single
            .manager
            .get_or_try_init(|| async {
                single
                    .client
                    .get_connection_manager_with_config(cfg)
                    .await
                    .map_err(|e| self.classify(e))
            })
            .await
            .cloned()
    }

    async fn cluster_conn(&self, cluster: &Cluster) -> StoreResult<ClusterConnection> {
        cluster
            .conn
            .get_or_try_init(|| async {
                cluster
                    .client
                    .get_async_connection()
                    .await
                    .map_err(|e| self.classify(e))
            })
            .await
            .cloned()
    }

    async fn query(&self, cmd: &redis::Cmd) -> StoreResult<Value> {
        let reply = match &self.backend {
            Backend::Single(s) => run(&mut self.manager(s).await?, cmd).await,
            Backend::Cluster(c) => run(&mut self.cluster_conn(c).await?, cmd).await,
        };
        reply.map_err(|e| self.classify(e))
    }

    /// Runs a pipeline; on a cluster its keys must share a slot.
    async fn pipeline(&self, pipe: &redis::Pipeline) -> StoreResult<Vec<Value>> {
        let reply = match &self.backend {
            Backend::Single(s) => pipe.query_async(&mut self.manager(s).await?).await,
            Backend::Cluster(c) => pipe.query_async(&mut self.cluster_conn(c).await?).await,
        };
        reply.map_err(|e| self.classify(e))
    }

    /// Runs a blocking command on the dedicated connection (made on first use
    /// with a response timeout of `block` plus the command timeout), dropping
    /// it after a failure so the next read reconnects.
    async fn query_blocking(&self, cmd: &redis::Cmd, block: Duration) -> StoreResult<Value> {
        let patience = block + self.options.response_timeout;
        match &self.backend {
            Backend::Single(s) => {
                let cfg = AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(self.options.connect_timeout))
                    .set_response_timeout(Some(patience));
                self.run_dedicated(&s.blocking, cmd, || async {
                    s.client
                        .get_multiplexed_async_connection_with_config(&cfg)
                        .await
                })
                .await
            }
            Backend::Cluster(cl) => {
                let builder = cluster_builder(&cl.nodes, self.options, patience, cl.certs.clone());
                self.run_dedicated(&cl.blocking, cmd, || async {
                    builder.build()?.get_async_connection().await
                })
                .await
            }
        }
    }

    /// Runs `cmd` on the connection kept in `slot`, made with `connect` when
    /// there is none; a failure drops it so the next call connects again.
    async fn run_dedicated<C, F, Fut>(
        &self,
        slot: &Mutex<Option<C>>,
        cmd: &redis::Cmd,
        connect: F,
    ) -> StoreResult<Value>
    where
        C: ConnectionLike + Clone + Send,
        F: FnOnce() -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<C>>,
    {
        let mut guard = slot.lock().await;
        let mut c = match guard.as_ref() {
            Some(c) => c.clone(),
            None => guard
                .insert(connect().await.map_err(|e| self.classify(e))?)
                .clone(),
        };
        drop(guard);
        let reply = run(&mut c, cmd).await;
        if reply.is_err() {
            *slot.lock().await = None;
        }
        reply.map_err(|e| self.classify(e))
    }

    /// `XINFO <what> stream`; `None` when the stream does not exist.
    async fn xinfo(&self, what: &str, stream: &str) -> StoreResult<Option<Value>> {
        let mut cmd = redis::cmd("XINFO");
        cmd.arg(what).arg(stream);
        match self.query(&cmd).await {
            Ok(v) => Ok(Some(v)),
            Err(StoreError::Command(m)) if m.contains("no such key") => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn classify(&self, e: RedisError) -> StoreError {
        classify(&self.display, e)
    }

    /// `host`/`port` of every primary, from `CLUSTER SLOTS` as the cluster
    /// client knows them (so `SCAN` can be routed to each).
    async fn primaries(&self, conn: &mut ClusterConnection) -> StoreResult<Vec<(String, u16)>> {
        let reply = conn
            .route_command(
                redis::cmd("CLUSTER").arg("SLOTS").clone(),
                RoutingInfo::SingleNode(SingleNodeRoutingInfo::Random),
            )
            .await
            .map_err(|e| self.classify(e))?;
        let mut out = Vec::new();
        for range in items(&reply) {
            // [start, end, [host, port, id, …], replicas…]
            if let Some(primary) = items(range).get(2) {
                let node = items(primary);
                if let (Some(host), Some(port)) = (
                    node.first().and_then(as_string),
                    node.get(1).and_then(as_u64),
                ) && let Ok(port) = u16::try_from(port)
                {
                    out.push((host, port));
                }
            }
        }
        out.sort();
        out.dedup();
        if out.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "{}: CLUSTER SLOTS lists no primary",
                self.display
            )));
        }
        Ok(out)
    }
}

impl RedisStore {
    /// `SCAN` to the end on one server, or on the cluster node `node`.
    async fn scan_node(
        &self,
        conn: &mut Option<ClusterConnection>,
        node: Option<(String, u16)>,
        pattern: &str,
        keys: &mut Vec<String>,
    ) -> StoreResult<()> {
        let mut cursor = "0".to_string();
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000);
            let reply = match (conn.as_mut(), &node) {
                (Some(c), Some((host, port))) => c
                    .route_command(
                        cmd,
                        RoutingInfo::SingleNode(SingleNodeRoutingInfo::ByAddress {
                            host: host.clone(),
                            port: *port,
                        }),
                    )
                    .await
                    .map_err(|e| self.classify(e))?,
                _ => self.query(&cmd).await?,
            };
            let parts = items(&reply);
            cursor = parts
                .first()
                .and_then(as_string)
                .unwrap_or_else(|| "0".into());
            if let Some(batch) = parts.get(1) {
                keys.extend(items(batch).iter().filter_map(as_string));
            }
            if cursor == "0" {
                return Ok(());
            }
        }
    }
}

/// A cluster client over `nodes` whose commands time out after `response`.
fn cluster_builder(
    nodes: &[String],
    options: StoreOptions,
    response: Duration,
    certs: Option<redis::TlsCertificates>,
) -> ClusterClientBuilder {
    let mut b = ClusterClientBuilder::new(nodes.iter().map(String::as_str))
        .connection_timeout(options.connect_timeout)
        .response_timeout(response)
        // redis-rs retries redirects, TRYAGAIN and lost nodes itself (and
        // refreshes the slot map); bound how long it may keep trying, so
        // the caller's own retry and breaker stay in charge.
        .retries(6)
        .min_retry_wait(50)
        .max_retry_wait(1_000)
        .overall_response_timeout(Some(response + options.response_timeout));
    if let Some(c) = certs {
        b = b.certs(c);
    }
    b
}

async fn run<C: ConnectionLike + Send>(c: &mut C, cmd: &redis::Cmd) -> redis::RedisResult<Value> {
    cmd.query_async::<Value>(c).await
}

/// How a cluster error that reached shadowkpi (after redis-rs' own retries)
/// is handled: `retry` (the topology is moving: `MOVED`, `ASK`, `TRYAGAIN`),
/// `unavailable` (part of the cluster is down: `CLUSTERDOWN`, `MASTERDOWN`, a
/// node it cannot reach), `bug` (`CROSSSLOT`: a command shadowkpi should never
/// send). `None` for errors that are not cluster errors.
pub fn cluster_error_class(code: &str) -> Option<&'static str> {
    match code {
        "MOVED" | "ASK" | "TRYAGAIN" => Some("retry"),
        "CLUSTERDOWN" | "MASTERDOWN" | "NOTFOUND" => Some("unavailable"),
        "CROSSSLOT" => Some("bug"),
        _ => None,
    }
}

/// `shadow_redis_cluster_errors_total{code,class}`.
static CLUSTER_ERRORS: LazyLock<prometheus::IntCounterVec> = LazyLock::new(|| {
    register_counter_vec(
        "shadow_redis_cluster_errors_total",
        "Redis Cluster errors that reached shadowkpi after the client's own retries, by code and class (retry, unavailable, bug)",
        &["code", "class"],
    )
});

/// Registers a counter vector in the default registry every service renders
/// (as `shadowkpi_runtime::metrics` does; this crate cannot depend on it). A
/// second registration (two stores in one process) keeps the first.
fn register_counter_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::IntCounterVec {
    let c = prometheus::IntCounterVec::new(prometheus::Opts::new(name, help), labels)
        .unwrap_or_else(|e| panic!("invalid metric {name}: {e}"));
    let _ = prometheus::default_registry().register(Box::new(c.clone()));
    c
}

trait KindStr {
    fn kind_str(&self) -> String;
}

impl KindStr for RedisError {
    fn kind_str(&self) -> String {
        // Never echo the URL: redis-rs errors may contain it.
        format!("{:?}", self.kind())
    }
}

/// Maps a redis-rs error to a [`StoreError`] without leaking credentials.
fn classify(display: &str, e: RedisError) -> StoreError {
    let text = redact_text(&e.to_string());
    if matches!(e.kind(), ErrorKind::AuthenticationFailed)
        || e.code()
            .is_some_and(|c| c == "NOAUTH" || c == "WRONGPASS" || c == "NOPERM")
    {
        return StoreError::Auth(format!("{display}: {text}"));
    }
    let code = if matches!(e.kind(), ErrorKind::ClusterConnectionNotFound) {
        Some("NOTFOUND")
    } else {
        e.code()
    };
    if let Some(code) = code
        && let Some(class) = cluster_error_class(code)
    {
        CLUSTER_ERRORS.with_label_values(&[code, class]).inc();
        return match class {
            "bug" => StoreError::Command(text),
            _ => StoreError::Unavailable(format!("{display}: {text}")),
        };
    }
    if e.is_timeout() {
        return StoreError::Timeout(format!("{display}: {text}"));
    }
    if e.is_io_error() || e.is_connection_refusal() || e.is_connection_dropped() {
        return StoreError::Unavailable(format!("{display}: {text}"));
    }
    if matches!(e.kind(), ErrorKind::InvalidClientConfig) {
        return StoreError::Config(format!("{display}: {text}"));
    }
    if e.code()
        .is_some_and(|c| c == "LOADING" || c == "MASTERDOWN" || c == "BUSY")
    {
        return StoreError::Unavailable(format!("{display}: {text}"));
    }
    StoreError::Command(text)
}

/// Redacts the password of a URL (`redis://user:***@host`).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.rsplit_once('@') {
        Some((creds, host)) => match creds.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}"),
            None if creds.is_empty() => url.to_string(),
            None => format!("{scheme}://***@{host}"),
        },
        None => url.to_string(),
    }
}

fn redact_text(s: &str) -> String {
    // Error texts may embed a URL; redact any `scheme://user:pass@` in them.
    s.split(' ')
        .map(|w| {
            if w.contains("://") {
                redact(w)
            } else {
                w.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command whose buffers already hold `args` arguments of `bytes` bytes
/// in all (besides the name).
fn sized_cmd(name: &str, args: usize, bytes: usize) -> redis::Cmd {
    let mut cmd = redis::Cmd::with_capacity(args + 1, name.len() + bytes);
    cmd.arg(name);
    cmd
}

fn as_string(v: &Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(String::from_utf8_lossy(b).into_owned()),
        Value::SimpleString(s) => Some(s.clone()),
        Value::VerbatimString { text, .. } => Some(text.clone()),
        Value::Int(i) => Some(i.to_string()),
        Value::Double(d) => Some(d.to_string()),
        Value::Okay => Some("OK".into()),
        _ => None,
    }
}

fn as_u64(v: &Value) -> Option<u64> {
    match v {
        Value::Int(i) => u64::try_from(*i).ok(),
        other => as_string(other).and_then(|s| s.parse().ok()),
    }
}

fn items(v: &Value) -> &[Value] {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => &[],
    }
}

fn parse_fields(v: &Value) -> Vec<(String, String)> {
    let flat = match v {
        Value::Map(m) => {
            return m
                .iter()
                .filter_map(|(k, v)| Some((as_string(k)?, as_string(v)?)))
                .collect();
        }
        other => items(other),
    };
    flat.chunks(2)
        .filter_map(|c| match c {
            [k, v] => Some((as_string(k)?, as_string(v)?)),
            _ => None,
        })
        .collect()
}

/// A reply of alternating names and values (RESP2) or a map (RESP3), by name.
fn field_map(v: &Value) -> BTreeMap<String, Value> {
    match v {
        Value::Map(m) => m
            .iter()
            .filter_map(|(k, v)| Some((as_string(k)?, v.clone())))
            .collect(),
        other => items(other)
            .chunks(2)
            .filter_map(|c| match c {
                [k, v] => Some((as_string(k)?, v.clone())),
                _ => None,
            })
            .collect(),
    }
}

fn parse_entries(v: &Value) -> Vec<StreamEntry> {
    items(v)
        .iter()
        .filter_map(|e| match items(e) {
            [id, fields] => Some(StreamEntry {
                id: as_string(id)?,
                fields: parse_fields(fields),
            }),
            _ => None,
        })
        .collect()
}

/// Takes a string out of a reply value, reusing its buffer (no copy): a feed
/// read is ten-odd fields per entry, thousands of entries per read.
fn into_string(v: Value) -> Option<String> {
    match v {
        Value::BulkString(b) => Some(
            String::from_utf8(b)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        ),
        other => as_string(&other),
    }
}

fn into_items(v: Value) -> Vec<Value> {
    match v {
        Value::Array(a) | Value::Set(a) => a,
        _ => Vec::new(),
    }
}

/// [`parse_fields`], taking the reply apart instead of copying it.
fn take_fields(v: Value) -> Vec<(String, String)> {
    match v {
        Value::Map(m) => m
            .into_iter()
            .filter_map(|(k, v)| Some((into_string(k)?, into_string(v)?)))
            .collect(),
        other => {
            let flat = into_items(other);
            let mut out = Vec::with_capacity(flat.len() / 2);
            let mut it = flat.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                if let (Some(k), Some(v)) = (into_string(k), into_string(v)) {
                    out.push((k, v));
                }
            }
            out
        }
    }
}

/// [`parse_entries`], taking the reply apart instead of copying it.
fn take_entries(v: Value) -> Vec<StreamEntry> {
    into_items(v)
        .into_iter()
        .filter_map(|e| {
            let mut parts = into_items(e).into_iter();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(id), Some(fields), None) => Some(StreamEntry {
                    id: into_string(id)?,
                    fields: take_fields(fields),
                }),
                _ => None,
            }
        })
        .collect()
}

/// The pipeline of `commands`, in their order.
fn write_pipeline<'a>(
    commands: impl ExactSizeIterator<Item = &'a WriteCommand>,
) -> redis::Pipeline {
    let mut pipe = redis::Pipeline::with_capacity(commands.len());
    for c in commands {
        match c {
            // The hot commands of an export get buffers of their final
            // size: growing them argument by argument cost as much as
            // everything else exportd does per symbol.
            WriteCommand::HSet { key, fields } => {
                let bytes =
                    key.len() + fields.iter().map(|(f, v)| f.len() + v.len()).sum::<usize>();
                let mut cmd = sized_cmd("HSET", 1 + 2 * fields.len(), bytes);
                cmd.arg(key);
                for (f, v) in fields {
                    cmd.arg(f).arg(v);
                }
                pipe.add_command(cmd);
            }
            WriteCommand::Expire { key, seconds } => {
                let mut cmd = sized_cmd("EXPIRE", 2, key.len() + 20);
                cmd.arg(key).arg(*seconds);
                pipe.add_command(cmd);
            }
            WriteCommand::Set {
                key,
                value,
                ttl_seconds,
            } => {
                let cmd = pipe.cmd("SET").arg(key).arg(value);
                if let Some(t) = ttl_seconds {
                    cmd.arg("EX").arg(*t);
                }
            }
            WriteCommand::XAddIfAbsent {
                key,
                id,
                fields,
                maxlen,
            } => {
                let cmd = pipe
                    .cmd("EVAL")
                    .arg(XADD_IF_ABSENT)
                    .arg(1)
                    .arg(key)
                    .arg(id)
                    .arg(maxlen.map(|n| n.to_string()).unwrap_or_default());
                for (f, v) in fields {
                    cmd.arg(f).arg(v);
                }
            }
            WriteCommand::Del { key } => {
                pipe.cmd("DEL").arg(key);
            }
            WriteCommand::HDel { key, fields } => {
                pipe.cmd("HDEL").arg(key).arg(fields);
            }
        }
    }
    pipe
}

#[async_trait::async_trait]
impl Store for RedisStore {
    fn describe(&self) -> String {
        self.display.clone()
    }

    async fn ping(&self) -> StoreResult<()> {
        let Backend::Cluster(cluster) = &self.backend else {
            return self.query(&redis::cmd("PING")).await.map(|_| ());
        };
        // Ready means every primary answers: a cluster missing one cannot
        // serve its slots (until a replica has taken over).
        let mut conn = self.cluster_conn(cluster).await?;
        conn.route_command(
            redis::cmd("PING"),
            RoutingInfo::MultiNode((
                MultipleNodeRoutingInfo::AllMasters,
                Some(ResponsePolicy::AllSucceeded),
            )),
        )
        .await
        .map(|_| ())
        .map_err(|e| self.classify(e))
    }

    async fn create_group(&self, stream: &str, group: &str) -> StoreResult<()> {
        let mut cmd = redis::cmd("XGROUP");
        cmd.arg("CREATE")
            .arg(stream)
            .arg(group)
            .arg("0")
            .arg("MKSTREAM");
        match self.query(&cmd).await {
            Ok(_) => Ok(()),
            Err(StoreError::Command(m)) if m.contains("BUSYGROUP") => Ok(()),
            Err(e) => Err(e),
        }
    }

    async fn read_group(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Option<Duration>,
        pending: bool,
    ) -> StoreResult<Vec<StreamEntry>> {
        let mut cmd = redis::cmd("XREADGROUP");
        cmd.arg("GROUP")
            .arg(group)
            .arg(consumer)
            .arg("COUNT")
            .arg(count.max(1));
        if let Some(b) = block {
            cmd.arg("BLOCK").arg(b.as_millis() as u64);
        }
        cmd.arg("STREAMS")
            .arg(stream)
            .arg(if pending { "0" } else { ">" });
        let reply = match block {
            Some(b) => self.query_blocking(&cmd, b).await?,
            None => self.query(&cmd).await?,
        };
        let mut out = Vec::new();
        match reply {
            Value::Map(m) => {
                for (_, entries) in m {
                    out.extend(take_entries(entries));
                }
            }
            other => {
                for s in into_items(other) {
                    let mut parts = into_items(s);
                    if parts.len() == 2
                        && let Some(entries) = parts.pop()
                    {
                        out.extend(take_entries(entries));
                    }
                }
            }
        }
        Ok(out)
    }

    async fn ack(&self, stream: &str, group: &str, ids: &[String]) -> StoreResult<u64> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut cmd = redis::cmd("XACK");
        cmd.arg(stream).arg(group).arg(ids);
        Ok(as_u64(&self.query(&cmd).await?).unwrap_or(0))
    }

    async fn autoclaim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        start: &str,
        count: usize,
    ) -> StoreResult<AutoClaimed> {
        let mut cmd = redis::cmd("XAUTOCLAIM");
        cmd.arg(stream)
            .arg(group)
            .arg(consumer)
            .arg(min_idle.as_millis() as u64)
            .arg(start)
            .arg("COUNT")
            .arg(count.max(1));
        let reply = self.query(&cmd).await?;
        let parts = items(&reply);
        Ok(AutoClaimed {
            next: parts
                .first()
                .and_then(as_string)
                .unwrap_or_else(|| "0-0".into()),
            entries: parts.get(1).map(parse_entries).unwrap_or_default(),
            deleted: parts
                .get(2)
                .map(|d| items(d).iter().filter_map(as_string).collect())
                .unwrap_or_default(),
        })
    }

    async fn append(
        &self,
        stream: &str,
        entries: &[Vec<(String, String)>],
        maxlen: Option<u64>,
    ) -> StoreResult<Vec<String>> {
        if entries.is_empty() {
            return Ok(Vec::new());
        }
        let mut pipe = redis::pipe();
        for fields in entries {
            let cmd = pipe.cmd("XADD").arg(stream);
            if let Some(n) = maxlen {
                cmd.arg("MAXLEN").arg("~").arg(n);
            }
            cmd.arg("*");
            for (k, v) in fields {
                cmd.arg(k).arg(v);
            }
        }
        let ids = self.pipeline(&pipe).await?;
        Ok(ids.iter().filter_map(as_string).collect())
    }

    async fn group_lag(&self, stream: &str, group: &str) -> StoreResult<Option<u64>> {
        let Some(reply) = self.xinfo("GROUPS", stream).await? else {
            return Ok(None);
        };
        for g in items(&reply) {
            let fields = field_map(g);
            if fields.get("name").and_then(as_string).as_deref() != Some(group) {
                continue;
            }
            // `lag` is absent before Redis 7 and nil when it cannot be computed.
            let lag = fields.get("lag").and_then(as_u64);
            let pending = fields.get("pending").and_then(as_u64).unwrap_or(0);
            return Ok(Some(lag.unwrap_or(pending)));
        }
        Ok(None)
    }

    async fn stream_info(&self, stream: &str) -> StoreResult<Option<StreamInfo>> {
        let Some(reply) = self.xinfo("STREAM", stream).await? else {
            return Ok(None);
        };
        let fields = field_map(&reply);
        let id = |name: &str| {
            fields
                .get(name)
                .and_then(as_string)
                .and_then(|s| StreamId::parse(&s))
        };
        let first_id = fields
            .get("first-entry")
            .and_then(|e| items(e).first().and_then(as_string))
            .and_then(|s| StreamId::parse(&s));
        Ok(Some(StreamInfo {
            length: fields.get("length").and_then(as_u64).unwrap_or(0),
            first_id,
            last_generated_id: id("last-generated-id").unwrap_or_default(),
            entries_added: fields.get("entries-added").and_then(as_u64).unwrap_or(0),
        }))
    }

    async fn group_position(&self, stream: &str, group: &str) -> StoreResult<Option<StreamId>> {
        let Some(reply) = self.xinfo("GROUPS", stream).await? else {
            return Ok(None);
        };
        Ok(items(&reply)
            .iter()
            .map(field_map)
            .find(|f| f.get("name").and_then(as_string).as_deref() == Some(group))
            .and_then(|f| f.get("last-delivered-id").and_then(as_string))
            .and_then(|s| StreamId::parse(&s)))
    }

    async fn pending_count(&self, stream: &str, group: &str) -> StoreResult<u64> {
        let mut cmd = redis::cmd("XPENDING");
        cmd.arg(stream).arg(group);
        match self.query(&cmd).await {
            Ok(v) => Ok(items(&v).first().and_then(as_u64).unwrap_or(0)),
            Err(StoreError::Command(m)) if m.contains("NOGROUP") => Ok(0),
            Err(e) => Err(e),
        }
    }

    async fn stream_len(&self, stream: &str) -> StoreResult<u64> {
        let mut cmd = redis::cmd("XLEN");
        cmd.arg(stream);
        Ok(as_u64(&self.query(&cmd).await?).unwrap_or(0))
    }

    async fn stream_range(
        &self,
        stream: &str,
        start: &str,
        end: &str,
        count: Option<usize>,
    ) -> StoreResult<Vec<StreamEntry>> {
        let mut cmd = redis::cmd("XRANGE");
        cmd.arg(stream).arg(start).arg(end);
        if let Some(n) = count {
            cmd.arg("COUNT").arg(n);
        }
        Ok(take_entries(self.query(&cmd).await?))
    }

    async fn apply(&self, commands: &[WriteCommand]) -> StoreResult<()> {
        if commands.is_empty() {
            return Ok(());
        }
        let Backend::Cluster(cluster) = &self.backend else {
            return self
                .pipeline(&write_pipeline(commands.iter()))
                .await
                .map(|_| ());
        };
        // One pipeline per slot, each in the commands' order (HSET before
        // EXPIRE of a key), all sent at once over the cluster connection.
        let mut by_slot: Vec<(Slot, Vec<&WriteCommand>)> = Vec::new();
        let mut index: std::collections::HashMap<Slot, usize> = std::collections::HashMap::new();
        for c in commands {
            let slot = Slot::for_key(c.key());
            let i = *index.entry(slot).or_insert_with(|| {
                by_slot.push((slot, Vec::new()));
                by_slot.len() - 1
            });
            by_slot[i].1.push(c);
        }
        let conn = self.cluster_conn(cluster).await?;
        let mut tasks = tokio::task::JoinSet::new();
        for (_, group) in by_slot {
            let pipe = write_pipeline(group.into_iter());
            let mut conn = conn.clone();
            tasks.spawn(async move { pipe.query_async::<Vec<Value>>(&mut conn).await });
        }
        let mut first_error = None;
        while let Some(done) = tasks.join_next().await {
            let result = done.map_err(|e| StoreError::Command(format!("pipeline task: {e}")))?;
            if let Err(e) = result
                && first_error.is_none()
            {
                first_error = Some(self.classify(e));
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    async fn hgetall(&self, key: &str) -> StoreResult<BTreeMap<String, String>> {
        let mut cmd = redis::cmd("HGETALL");
        cmd.arg(key);
        Ok(parse_fields(&self.query(&cmd).await?).into_iter().collect())
    }

    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(key);
        Ok(as_string(&self.query(&cmd).await?))
    }

    async fn scan(&self, pattern: &str) -> StoreResult<Vec<String>> {
        let mut keys = Vec::new();
        match &self.backend {
            Backend::Single(_) => {
                let mut conn = None;
                self.scan_node(&mut conn, None, pattern, &mut keys).await?;
            }
            Backend::Cluster(cluster) => {
                // SCAN covers one node: run it on every primary.
                let mut conn = self.cluster_conn(cluster).await?;
                for node in self.primaries(&mut conn).await? {
                    let mut conn = Some(conn.clone());
                    self.scan_node(&mut conn, Some(node), pattern, &mut keys)
                        .await?;
                }
            }
        }
        keys.sort();
        keys.dedup();
        Ok(keys)
    }

    async fn pttl(&self, key: &str) -> StoreResult<Option<i64>> {
        let mut cmd = redis::cmd("PTTL");
        cmd.arg(key);
        match self.query(&cmd).await? {
            Value::Int(-2) => Ok(None),
            Value::Int(n) => Ok(Some(n)),
            other => Err(StoreError::Command(format!(
                "unexpected PTTL reply {other:?}"
            ))),
        }
    }

    async fn key_type(&self, key: &str) -> StoreResult<String> {
        let mut cmd = redis::cmd("TYPE");
        cmd.arg(key);
        Ok(as_string(&self.query(&cmd).await?).unwrap_or_else(|| "none".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_redacted() {
        assert_eq!(redact("redis://u:p@h:1/0"), "redis://u:***@h:1/0");
        assert_eq!(redact("rediss://:p@h:1"), "rediss://:***@h:1");
        assert_eq!(redact("redis://h:1"), "redis://h:1");
    }
}
