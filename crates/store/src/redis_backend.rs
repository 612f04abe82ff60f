//! The Redis backend of [`Store`].
//!
//! Short commands share one reconnecting [`ConnectionManager`]. Blocking
//! `XREADGROUP … BLOCK` reads get a dedicated connection whose response timeout
//! is longer than the block time, so a long block never stalls other commands
//! and is never mistaken for a dead server.

use std::collections::BTreeMap;
use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(2),
            response_timeout: Duration::from_secs(5),
        }
    }
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

/// Redis-backed [`Store`].
pub struct RedisStore {
    client: redis::Client,
    display: String,
    options: StoreOptions,
    manager: OnceCell<ConnectionManager>,
    blocking: Mutex<Option<MultiplexedConnection>>,
}

impl std::fmt::Debug for RedisStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStore")
            .field("url", &self.display)
            .finish()
    }
}

impl RedisStore {
    /// Parses the URL; connects lazily on first use (and again after failures),
    /// so a service can start before Redis does.
    pub fn open(url: &str, options: StoreOptions) -> StoreResult<Self> {
        let display = redact(url);
        let client = redis::Client::open(url)
            .map_err(|e| StoreError::Config(format!("redis url {display}: {}", e.kind_str())))?;
        Ok(Self {
            client,
            display,
            options,
            manager: OnceCell::new(),
            blocking: Mutex::new(None),
        })
    }

    /// Like [`RedisStore::open`], for a `rediss://` URL whose server certificate
    /// is signed by the CA in `root_ca_pem` (PEM) instead of one the system
    /// trusts. (A private CA can also be given to [`RedisStore::open`] through
    /// the `SSL_CERT_FILE` environment variable.)
    pub fn open_with_root_ca(
        url: &str,
        options: StoreOptions,
        root_ca_pem: &[u8],
    ) -> StoreResult<Self> {
        let display = redact(url);
        let client = redis::Client::build_with_tls(
            url,
            redis::TlsCertificates {
                client_tls: None,
                root_cert: Some(root_ca_pem.to_vec()),
            },
        )
        .map_err(|e| StoreError::Config(format!("redis url {display}: {}", e.kind_str())))?;
        Ok(Self {
            client,
            display,
            options,
            manager: OnceCell::new(),
            blocking: Mutex::new(None),
        })
    }

    /// Opens and checks the connection with `PING`.
    pub async fn connect(url: &str, options: StoreOptions) -> StoreResult<Self> {
        let s = Self::open(url, options)?;
        s.ping().await?;
        Ok(s)
    }

    async fn conn(&self) -> StoreResult<ConnectionManager> {
        let cfg = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(self.options.connect_timeout))
            .set_response_timeout(Some(self.options.response_timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        self.manager
            .get_or_try_init(|| async {
                self.client
                    .get_connection_manager_with_config(cfg)
                    .await
                    .map_err(|e| classify(&self.display, e))
            })
            .await
            .cloned()
    }

    async fn query(&self, cmd: &redis::Cmd) -> StoreResult<Value> {
        let mut c = self.conn().await?;
        cmd.query_async::<Value>(&mut c)
            .await
            .map_err(|e| classify(&self.display, e))
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

    async fn blocking_conn(&self, block: Duration) -> StoreResult<MultiplexedConnection> {
        let mut guard = self.blocking.lock().await;
        if let Some(c) = guard.as_ref() {
            return Ok(c.clone());
        }
        let cfg = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.options.connect_timeout))
            .set_response_timeout(Some(block + self.options.response_timeout));
        let c = self
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await
            .map_err(|e| classify(&self.display, e))?;
        *guard = Some(c.clone());
        Ok(c)
    }
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

#[async_trait::async_trait]
impl Store for RedisStore {
    fn describe(&self) -> String {
        self.display.clone()
    }

    async fn ping(&self) -> StoreResult<()> {
        self.query(&redis::cmd("PING")).await.map(|_| ())
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
            Some(b) => {
                let mut c = self.blocking_conn(b).await?;
                match cmd.query_async::<Value>(&mut c).await {
                    Ok(v) => v,
                    Err(e) => {
                        // Drop the dedicated connection so the next read reconnects.
                        *self.blocking.lock().await = None;
                        return Err(classify(&self.display, e));
                    }
                }
            }
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
        let mut c = self.conn().await?;
        let ids: Vec<Value> = pipe
            .query_async(&mut c)
            .await
            .map_err(|e| classify(&self.display, e))?;
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
        let mut c = self.conn().await?;
        pipe.query_async::<Vec<Value>>(&mut c)
            .await
            .map(|_| ())
            .map_err(|e| classify(&self.display, e))
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
        let mut cursor = "0".to_string();
        let mut keys = Vec::new();
        loop {
            let mut cmd = redis::cmd("SCAN");
            cmd.arg(&cursor)
                .arg("MATCH")
                .arg(pattern)
                .arg("COUNT")
                .arg(1000);
            let reply = self.query(&cmd).await?;
            let parts = items(&reply);
            cursor = parts
                .first()
                .and_then(as_string)
                .unwrap_or_else(|| "0".into());
            if let Some(batch) = parts.get(1) {
                keys.extend(items(batch).iter().filter_map(as_string));
            }
            if cursor == "0" {
                break;
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
