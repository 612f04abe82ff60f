//! Storage backends of shadowkpi: the market-feed stream and the KPI store.
//!
//! Services talk to storage only through the [`Store`] trait, so the same code
//! runs against Redis in a deployment and against the in-process backend in
//! all-in-one mode. This crate knows nothing about KPIs or gRPC: it moves
//! strings in and out of keys, hashes and streams with the semantics of the
//! Redis commands it names.
//!
//! # Layout
//! - [`Store`]: the interface (streams with consumer groups, pipelined writes,
//!   reads, `SCAN`).
//! - [`WriteCommand`]: one write of a pipeline, printable for dry runs.
//! - [`redis_backend`]: the Redis backend ([`RedisStore`]).
//! - [`memory`]: the in-process backend ([`MemoryStore`]) for all-in-one mode.
//! - [`StoreError`]: errors, classified so callers can map them to gRPC codes.
#![warn(clippy::unwrap_used)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

pub mod memory;
pub mod redis_backend;

pub use memory::MemoryStore;
pub use redis_backend::{RedisStore, StoreOptions, cluster_error_class, is_cluster_url};

/// One stream entry: its id (`<ms>-<seq>`) and its fields in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamEntry {
    /// Entry id.
    pub id: String,
    /// Field/value pairs, in the order they were written.
    pub fields: Vec<(String, String)>,
}

impl StreamEntry {
    /// The value of a field, if present.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == field)
            .map(|(_, v)| v.as_str())
    }
}

/// A stream entry id, `<ms>-<seq>`, ordered as Redis orders them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// `0-0`: before every entry.
    pub const ZERO: StreamId = StreamId { ms: 0, seq: 0 };

    /// Parses `<ms>-<seq>` or `<ms>` (sequence 0); `None` for anything else.
    pub fn parse(s: &str) -> Option<StreamId> {
        let (ms, seq) = match s.split_once('-') {
            Some((a, b)) => (a.parse().ok()?, b.parse().ok()?),
            None => (s.parse().ok()?, 0),
        };
        Some(StreamId { ms, seq })
    }

    /// The smallest id after this one.
    pub fn successor(self) -> StreamId {
        match self.seq.checked_add(1) {
            Some(seq) => StreamId { ms: self.ms, seq },
            None => StreamId {
                ms: self.ms.saturating_add(1),
                seq: 0,
            },
        }
    }

    /// The largest id before this one (`0-0` stays `0-0`).
    pub fn predecessor(self) -> StreamId {
        match (self.ms, self.seq) {
            (0, 0) => self,
            (ms, 0) => StreamId {
                ms: ms - 1,
                seq: u64::MAX,
            },
            (ms, seq) => StreamId { ms, seq: seq - 1 },
        }
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// What `XINFO STREAM` says of a stream's extent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StreamInfo {
    /// Entries it holds (`XLEN`).
    pub length: u64,
    /// Its first entry, if any.
    pub first_id: Option<StreamId>,
    /// The id of the last entry ever added (`last-generated-id`).
    pub last_generated_id: StreamId,
    /// Entries ever added (`entries-added`): more than `length` once any
    /// was trimmed or deleted.
    pub entries_added: u64,
}

impl StreamInfo {
    /// True when entries after `position` (the last entry a reader read, or
    /// `0-0` before any) may have been trimmed away: the first entry left is
    /// later than the one right after `position` could have been, or the
    /// stream was ever trimmed for a reader at `0-0`. (Redis 7.0 does not
    /// keep `max-deleted-entry-id` when trimming, so this is what a reader
    /// can tell.)
    pub fn lost_after(&self, position: StreamId) -> bool {
        if position == StreamId::ZERO {
            return self.entries_added > self.length;
        }
        match self.first_id {
            Some(first) => first > position.successor(),
            None => self.last_generated_id > position,
        }
    }
}

/// Result of an `XAUTOCLAIM`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AutoClaimed {
    /// Cursor for the next call (`0-0` when the scan is complete).
    pub next: String,
    /// Entries now owned by the claiming consumer.
    pub entries: Vec<StreamEntry>,
    /// Ids that were pending but no longer exist in the stream.
    pub deleted: Vec<String>,
}

/// A hash or stream field name: the names of the KPI store are fixed strings,
/// so they are borrowed rather than allocated for every command.
pub type FieldName = Cow<'static, str>;

/// One write of a non-transactional pipeline.
#[derive(Debug, Clone, PartialEq)]
pub enum WriteCommand {
    /// `HSET key field value [field value …]`.
    HSet {
        /// Key.
        key: String,
        /// Field/value pairs.
        fields: Vec<(FieldName, String)>,
    },
    /// `EXPIRE key seconds`.
    Expire {
        /// Key.
        key: String,
        /// Time to live.
        seconds: u64,
    },
    /// `SET key value [EX seconds]`.
    Set {
        /// Key.
        key: String,
        /// Value.
        value: String,
        /// Time to live, if any.
        ttl_seconds: Option<u64>,
    },
    /// `XADD key [MAXLEN ~ n] id field value …`, skipped when an entry with
    /// that id already exists (so re-exporting is idempotent).
    XAddIfAbsent {
        /// Stream key.
        key: String,
        /// Explicit entry id.
        id: String,
        /// Field/value pairs.
        fields: Vec<(FieldName, String)>,
        /// Approximate length cap.
        maxlen: Option<u64>,
    },
    /// `DEL key`.
    Del {
        /// Key.
        key: String,
    },
    /// `HDEL key field [field …]` (the key disappears with its last field).
    HDel {
        /// Key.
        key: String,
        /// Fields to remove.
        fields: Vec<FieldName>,
    },
}

impl WriteCommand {
    /// The key the command writes.
    pub fn key(&self) -> &str {
        match self {
            WriteCommand::HSet { key, .. }
            | WriteCommand::Expire { key, .. }
            | WriteCommand::Set { key, .. }
            | WriteCommand::XAddIfAbsent { key, .. }
            | WriteCommand::Del { key }
            | WriteCommand::HDel { key, .. } => key,
        }
    }
}

/// Writes one command argument as `redis-cli` reads it: bare when that is
/// unambiguous, otherwise double-quoted with `\"`, `\\`, `\n`, `\r`, `\t` and
/// `\xHH` escapes (an empty value is `""`).
fn write_arg(f: &mut fmt::Formatter<'_>, arg: &str) -> fmt::Result {
    let bare = !arg.is_empty()
        && arg
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\'' && c != '\\');
    if bare {
        return f.write_str(arg);
    }
    f.write_str("\"")?;
    for c in arg.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            c if c.is_control() => {
                let mut buf = [0u8; 4];
                for b in c.encode_utf8(&mut buf).bytes() {
                    write!(f, "\\x{b:02x}")?;
                }
            }
            c => write!(f, "{c}")?,
        }
    }
    f.write_str("\"")
}

impl fmt::Display for WriteCommand {
    /// Renders the command as it would be typed in `redis-cli` (arguments
    /// quoted where needed, see `write_arg`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fn args(f: &mut fmt::Formatter<'_>, args: &[&str]) -> fmt::Result {
            for a in args {
                f.write_str(" ")?;
                write_arg(f, a)?;
            }
            Ok(())
        }
        fn pairs(f: &mut fmt::Formatter<'_>, fields: &[(FieldName, String)]) -> fmt::Result {
            for (k, v) in fields {
                args(f, &[k, v])?;
            }
            Ok(())
        }
        match self {
            WriteCommand::HSet { key, fields } => {
                f.write_str("HSET")?;
                args(f, &[key])?;
                pairs(f, fields)
            }
            WriteCommand::Expire { key, seconds } => {
                f.write_str("EXPIRE")?;
                args(f, &[key])?;
                write!(f, " {seconds}")
            }
            WriteCommand::Set {
                key,
                value,
                ttl_seconds,
            } => {
                f.write_str("SET")?;
                args(f, &[key, value])?;
                match ttl_seconds {
                    Some(t) => write!(f, " EX {t}"),
                    None => Ok(()),
                }
            }
            WriteCommand::XAddIfAbsent {
                key,
                id,
                fields,
                maxlen,
            } => {
                f.write_str("XADD")?;
                args(f, &[key])?;
                if let Some(n) = maxlen {
                    write!(f, " MAXLEN ~ {n}")?;
                }
                args(f, &[id])?;
                pairs(f, fields)
            }
            WriteCommand::Del { key } => {
                f.write_str("DEL")?;
                args(f, &[key])
            }
            WriteCommand::HDel { key, fields } => {
                f.write_str("HDEL")?;
                args(f, &[key])?;
                for field in fields {
                    args(f, &[field])?;
                }
                Ok(())
            }
        }
    }
}

/// Storage errors, classified for callers.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The store cannot be reached (refused, dropped, loading, not a primary).
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Connecting to the store or a command's answer took longer than its
    /// timeout.
    #[error("store timed out: {0}")]
    Timeout(String),
    /// Authentication failed; retrying will not help.
    #[error("store authentication failed: {0}")]
    Auth(String),
    /// The store answered with an error to a command.
    #[error("store command failed: {0}")]
    Command(String),
    /// The URL or options are invalid.
    #[error("invalid store configuration: {0}")]
    Config(String),
}

impl StoreError {
    /// True when retrying later may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Unavailable(_) | StoreError::Timeout(_))
    }
}

/// Result alias of this crate.
pub type StoreResult<T> = Result<T, StoreError>;

/// The storage interface every service uses.
#[async_trait::async_trait]
pub trait Store: Send + Sync + fmt::Debug + 'static {
    /// A short description for logs (`redis://host:6379`, `in-process`), no secrets.
    fn describe(&self) -> String;

    /// `PING`.
    async fn ping(&self) -> StoreResult<()>;

    // ---- streams and consumer groups ----

    /// `XGROUP CREATE stream group 0 MKSTREAM`; an existing group is fine.
    async fn create_group(&self, stream: &str, group: &str) -> StoreResult<()>;

    /// `XREADGROUP GROUP group consumer COUNT count [BLOCK ms] STREAMS stream id`
    /// with id `0` (this consumer's pending entries) when `pending` is true and
    /// `>` (new entries) otherwise. A timeout with nothing to read is `Ok(vec![])`.
    async fn read_group(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
        block: Option<Duration>,
        pending: bool,
    ) -> StoreResult<Vec<StreamEntry>>;

    /// `XACK stream group id…`; returns the number acknowledged.
    async fn ack(&self, stream: &str, group: &str, ids: &[String]) -> StoreResult<u64>;

    /// `XAUTOCLAIM stream group consumer min-idle start COUNT count`.
    async fn autoclaim(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        min_idle: Duration,
        start: &str,
        count: usize,
    ) -> StoreResult<AutoClaimed>;

    /// Appends entries with auto ids (`XADD stream [MAXLEN ~ n] * …`) in one
    /// pipeline; returns the new ids.
    async fn append(
        &self,
        stream: &str,
        entries: &[Vec<(String, String)>],
        maxlen: Option<u64>,
    ) -> StoreResult<Vec<String>>;

    /// Consumer-group lag (`XINFO GROUPS` `lag`, falling back to `pending`);
    /// `None` when the group does not exist.
    async fn group_lag(&self, stream: &str, group: &str) -> StoreResult<Option<u64>>;

    /// Number of entries pending in the group (`XPENDING` summary).
    async fn pending_count(&self, stream: &str, group: &str) -> StoreResult<u64>;

    /// `XLEN`.
    async fn stream_len(&self, stream: &str) -> StoreResult<u64>;

    /// `XINFO STREAM`: the stream's extent; `None` when it does not exist.
    async fn stream_info(&self, stream: &str) -> StoreResult<Option<StreamInfo>>;

    /// The `last-delivered-id` of `group` (`XINFO GROUPS`): where the group
    /// stands; `None` when the group or the stream does not exist.
    async fn group_position(&self, stream: &str, group: &str) -> StoreResult<Option<StreamId>>;

    /// `XRANGE key start end [COUNT n]`; `start` may be exclusive (`(id`).
    async fn stream_range(
        &self,
        stream: &str,
        start: &str,
        end: &str,
        count: Option<usize>,
    ) -> StoreResult<Vec<StreamEntry>>;

    // ---- keys and hashes ----

    /// Runs the commands as one non-transactional pipeline. Fails when any
    /// command failed (the others may have been applied).
    async fn apply(&self, commands: &[WriteCommand]) -> StoreResult<()>;

    /// `HGETALL`; empty when the key does not exist.
    async fn hgetall(&self, key: &str) -> StoreResult<BTreeMap<String, String>>;

    /// `GET`.
    async fn get(&self, key: &str) -> StoreResult<Option<String>>;

    /// Every key matching a glob pattern, found with `SCAN` (never `KEYS`), sorted.
    async fn scan(&self, pattern: &str) -> StoreResult<Vec<String>>;

    /// `PTTL` in milliseconds: `None` when the key does not exist, `Some(-1)`
    /// when it has no expiry.
    async fn pttl(&self, key: &str) -> StoreResult<Option<i64>>;

    /// `TYPE` (`string`, `hash`, `stream`, `none`, …).
    async fn key_type(&self, key: &str) -> StoreResult<String>;
}

/// The readiness probe of a service that cannot work without `store`
/// (`ServiceHost::requires` in shadowkpi-runtime): `PING`, the error as text.
pub fn readiness_probe(
    store: std::sync::Arc<dyn Store>,
) -> impl Fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), String>> + Send>>
+ Send
+ Sync
+ 'static {
    move || {
        let store = store.clone();
        Box::pin(async move { store.ping().await.map_err(|e| e.to_string()) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_print_as_redis_cli_input() {
        let hset = WriteCommand::HSet {
            key: "dev:bybit:shadow:meta:BTCUSDT".into(),
            fields: vec![
                ("profile".into(), String::new()),
                ("params".into(), r#"{"min_lot":0.01}"#.into()),
                ("notes".into(), "a b\n".into()),
                ("edge_bps".into(), "3.2".into()),
            ],
        };
        assert_eq!(
            hset.to_string(),
            r#"HSET dev:bybit:shadow:meta:BTCUSDT profile "" params "{\"min_lot\":0.01}" notes "a b\n" edge_bps 3.2"#
        );
        let xadd = WriteCommand::XAddIfAbsent {
            key: "s".into(),
            id: "1-0".into(),
            fields: vec![("k".into(), "v".into())],
            maxlen: Some(10),
        };
        assert_eq!(xadd.to_string(), "XADD s MAXLEN ~ 10 1-0 k v");
        let set = WriteCommand::Set {
            key: "k".into(),
            value: "250".into(),
            ttl_seconds: Some(3600),
        };
        assert_eq!(set.to_string(), "SET k 250 EX 3600");
    }
}
