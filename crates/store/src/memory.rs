//! The in-process backend of [`Store`]: a real, single-process store with the
//! semantics of the Redis commands the trait names (keys with TTLs, hashes,
//! streams with consumer groups, pending entries, `XAUTOCLAIM`, `SCAN`).
//!
//! It backs the all-in-one mode of `shadowctl` when no Redis is configured. It
//! is not a test double: the conformance suite in `tests/conformance.rs` runs
//! the same assertions against it and against a real `redis-server`.
//! Nothing is persisted; everything is lost when the process exits.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::{
    AutoClaimed, Store, StoreError, StoreResult, StreamEntry, StreamId, StreamInfo, WriteCommand,
};

type Fields = Vec<(String, String)>;

/// A stream entry id `<ms>-<seq>`, ordered numerically.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
struct EntryId(u64, u64);

impl EntryId {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "-" => return Some(EntryId(0, 0)),
            "+" => return Some(EntryId(u64::MAX, u64::MAX)),
            _ => {}
        }
        match s.split_once('-') {
            Some((a, b)) => Some(EntryId(a.parse().ok()?, b.parse().ok()?)),
            None => Some(EntryId(s.parse().ok()?, 0)),
        }
    }

    fn next(self) -> Self {
        if self.1 == u64::MAX {
            EntryId(self.0.saturating_add(1), 0)
        } else {
            EntryId(self.0, self.1 + 1)
        }
    }
}

impl std::fmt::Display for EntryId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.0, self.1)
    }
}

#[derive(Debug, Clone)]
struct Pending {
    consumer: String,
    delivered_at: Instant,
}

#[derive(Debug, Default)]
struct Group {
    last_delivered: EntryId,
    pending: BTreeMap<EntryId, Pending>,
}

#[derive(Debug, Default)]
struct StreamData {
    entries: BTreeMap<EntryId, Fields>,
    last_id: EntryId,
    /// Entries ever added (`entries-added`).
    added: u64,
    groups: BTreeMap<String, Group>,
}

#[derive(Debug)]
enum Value {
    Str(String),
    Hash(BTreeMap<String, String>),
    Stream(StreamData),
}

impl Value {
    fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::Stream(_) => "stream",
        }
    }
}

#[derive(Debug)]
struct Slot {
    value: Value,
    expires_at: Option<Instant>,
}

#[derive(Debug, Default)]
struct State {
    keys: HashMap<String, Slot>,
}

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

impl State {
    fn purge(&mut self, key: &str, now: Instant) {
        if self
            .keys
            .get(key)
            .and_then(|s| s.expires_at)
            .is_some_and(|t| t <= now)
        {
            self.keys.remove(key);
        }
    }

    fn get(&mut self, key: &str) -> Option<&mut Slot> {
        self.purge(key, Instant::now());
        self.keys.get_mut(key)
    }

    fn stream(&mut self, key: &str) -> StoreResult<Option<&mut StreamData>> {
        match self.get(key) {
            None => Ok(None),
            Some(Slot {
                value: Value::Stream(s),
                ..
            }) => Ok(Some(s)),
            Some(_) => Err(StoreError::Command(WRONGTYPE.into())),
        }
    }

    /// The live value at `key`, created as `empty()` when there is none (or it
    /// expired), as Redis does for a write to a missing key.
    fn value_or_create(&mut self, key: &str, empty: fn() -> Value) -> StoreResult<&mut Value> {
        if self.get(key).is_none() {
            self.keys.insert(
                key.to_string(),
                Slot {
                    value: empty(),
                    expires_at: None,
                },
            );
        }
        self.keys
            .get_mut(key)
            .map(|slot| &mut slot.value)
            .ok_or_else(|| StoreError::Command(format!("key `{key}` vanished while written")))
    }

    fn stream_or_create(&mut self, key: &str) -> StoreResult<&mut StreamData> {
        match self.value_or_create(key, || Value::Stream(StreamData::default()))? {
            Value::Stream(s) => Ok(s),
            _ => Err(StoreError::Command(WRONGTYPE.into())),
        }
    }

    fn xadd(
        &mut self,
        key: &str,
        id: Option<EntryId>,
        fields: Fields,
        maxlen: Option<u64>,
        now_ms: u64,
    ) -> StoreResult<EntryId> {
        let s = self.stream_or_create(key)?;
        let id = match id {
            Some(id) if id <= s.last_id => {
                return Err(StoreError::Command(
                    "ERR The ID specified in XADD is equal or smaller than the target stream top item"
                        .into(),
                ));
            }
            Some(id) => id,
            None if now_ms > s.last_id.0 => EntryId(now_ms, 0),
            None => s.last_id.next(),
        };
        s.entries.insert(id, fields);
        s.last_id = id;
        s.added += 1;
        if let Some(max) = maxlen {
            while s.entries.len() as u64 > max {
                s.entries.pop_first();
            }
        }
        Ok(id)
    }

    fn apply_one(&mut self, cmd: &WriteCommand, now: Instant, now_ms: u64) -> StoreResult<()> {
        match cmd {
            WriteCommand::HSet { key, fields } => {
                match self.value_or_create(key, || Value::Hash(BTreeMap::new()))? {
                    Value::Hash(h) => {
                        for (f, v) in fields {
                            h.insert(f.to_string(), v.clone());
                        }
                        Ok(())
                    }
                    _ => Err(StoreError::Command(WRONGTYPE.into())),
                }
            }
            WriteCommand::Expire { key, seconds } => {
                if let Some(slot) = self.get(key) {
                    slot.expires_at = Some(now + Duration::from_secs(*seconds));
                }
                Ok(())
            }
            WriteCommand::Set {
                key,
                value,
                ttl_seconds,
            } => {
                self.keys.insert(
                    key.clone(),
                    Slot {
                        value: Value::Str(value.clone()),
                        expires_at: ttl_seconds.map(|t| now + Duration::from_secs(t)),
                    },
                );
                Ok(())
            }
            WriteCommand::XAddIfAbsent {
                key,
                id,
                fields,
                maxlen,
            } => {
                let parsed = EntryId::parse(id)
                    .ok_or_else(|| StoreError::Command(format!("ERR Invalid stream ID `{id}`")))?;
                if self
                    .stream(key)?
                    .is_some_and(|s| s.entries.contains_key(&parsed))
                {
                    return Ok(());
                }
                self.xadd(
                    key,
                    Some(parsed),
                    fields
                        .iter()
                        .map(|(f, v)| (f.to_string(), v.clone()))
                        .collect(),
                    *maxlen,
                    now_ms,
                )
                .map(|_| ())
            }
            WriteCommand::Del { key } => {
                self.keys.remove(key);
                Ok(())
            }
            WriteCommand::HDel { key, fields } => {
                let emptied = match self.get(key) {
                    None => return Ok(()),
                    Some(Slot {
                        value: Value::Hash(h),
                        ..
                    }) => {
                        for f in fields {
                            h.remove(f.as_ref());
                        }
                        h.is_empty()
                    }
                    Some(_) => return Err(StoreError::Command(WRONGTYPE.into())),
                };
                if emptied {
                    self.keys.remove(key);
                }
                Ok(())
            }
        }
    }
}

/// In-process [`Store`].
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
    appended: Notify,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied command
        // behind (each command is applied whole), so poisoning is recoverable.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn read_new(
        &self,
        stream: &str,
        group: &str,
        consumer: &str,
        count: usize,
    ) -> StoreResult<Vec<StreamEntry>> {
        let mut st = self.lock();
        let s = st.stream(stream)?.ok_or_else(|| nogroup(stream, group))?;
        let StreamData {
            entries, groups, ..
        } = s;
        let g = groups
            .get_mut(group)
            .ok_or_else(|| nogroup(stream, group))?;
        let now = Instant::now();
        let mut out = Vec::new();
        for (id, fields) in entries.range(g.last_delivered.next()..) {
            if out.len() >= count {
                break;
            }
            out.push(StreamEntry {
                id: id.to_string(),
                fields: fields.clone(),
            });
            g.pending.insert(
                *id,
                Pending {
                    consumer: consumer.to_string(),
                    delivered_at: now,
                },
            );
            g.last_delivered = *id;
        }
        Ok(out)
    }
}

fn nogroup(stream: &str, group: &str) -> StoreError {
    StoreError::Command(format!(
        "NOGROUP No such key '{stream}' or consumer group '{group}'"
    ))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// Redis-style glob matching for `SCAN MATCH` (`*`, `?`, `[abc]`, `\x`).
fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let (mut star, mut star_t) = (None, 0);
    while t < text.len() {
        if p < pattern.len() {
            match pattern[p] {
                b'*' => {
                    star = Some(p);
                    star_t = t;
                    p += 1;
                    continue;
                }
                b'?' => {
                    p += 1;
                    t += 1;
                    continue;
                }
                b'[' => {
                    if let Some(end) = pattern[p..].iter().position(|&c| c == b']') {
                        let set = &pattern[p + 1..p + end];
                        if set.contains(&text[t]) {
                            p += end + 1;
                            t += 1;
                            continue;
                        }
                    }
                }
                b'\\' if p + 1 < pattern.len() && pattern[p + 1] == text[t] => {
                    p += 2;
                    t += 1;
                    continue;
                }
                c if c == text[t] => {
                    p += 1;
                    t += 1;
                    continue;
                }
                _ => {}
            }
        }
        match star {
            Some(sp) => {
                p = sp + 1;
                star_t += 1;
                t = star_t;
            }
            None => return false,
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[async_trait::async_trait]
impl Store for MemoryStore {
    fn describe(&self) -> String {
        "in-process store".into()
    }

    async fn ping(&self) -> StoreResult<()> {
        Ok(())
    }

    async fn create_group(&self, stream: &str, group: &str) -> StoreResult<()> {
        let mut st = self.lock();
        let s = st.stream_or_create(stream)?;
        s.groups.entry(group.to_string()).or_default();
        Ok(())
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
        let count = count.max(1);
        if pending {
            let mut st = self.lock();
            let s = st.stream(stream)?.ok_or_else(|| nogroup(stream, group))?;
            let StreamData {
                entries, groups, ..
            } = s;
            let g = groups
                .get_mut(group)
                .ok_or_else(|| nogroup(stream, group))?;
            let now = Instant::now();
            let mut out = Vec::new();
            for (id, p) in g.pending.iter_mut() {
                if out.len() >= count {
                    break;
                }
                if p.consumer != consumer {
                    continue;
                }
                p.delivered_at = now;
                out.push(StreamEntry {
                    id: id.to_string(),
                    // A pending entry deleted from the stream reads with no fields.
                    fields: entries.get(id).cloned().unwrap_or_default(),
                });
            }
            return Ok(out);
        }
        let deadline = block.map(|b| Instant::now() + b);
        loop {
            // Register interest before reading, so an append between the read
            // and the wait is not missed.
            let notified = self.appended.notified();
            let out = self.read_new(stream, group, consumer, count)?;
            if !out.is_empty() {
                return Ok(out);
            }
            let Some(deadline) = deadline else {
                return Ok(out);
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || tokio::time::timeout(left, notified).await.is_err() {
                return Ok(Vec::new());
            }
        }
    }

    async fn ack(&self, stream: &str, group: &str, ids: &[String]) -> StoreResult<u64> {
        let mut st = self.lock();
        let Some(s) = st.stream(stream)? else {
            return Ok(0);
        };
        let Some(g) = s.groups.get_mut(group) else {
            return Ok(0);
        };
        Ok(ids
            .iter()
            .filter_map(|id| EntryId::parse(id))
            .filter(|id| g.pending.remove(id).is_some())
            .count() as u64)
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
        let start = EntryId::parse(start)
            .ok_or_else(|| StoreError::Command(format!("ERR Invalid stream ID `{start}`")))?;
        let mut st = self.lock();
        let s = st.stream(stream)?.ok_or_else(|| nogroup(stream, group))?;
        let StreamData {
            entries, groups, ..
        } = s;
        let g = groups
            .get_mut(group)
            .ok_or_else(|| nogroup(stream, group))?;
        let now = Instant::now();
        let mut out = AutoClaimed {
            next: "0-0".into(),
            ..AutoClaimed::default()
        };
        let ids: Vec<EntryId> = g.pending.range(start..).map(|(id, _)| *id).collect();
        for (scanned, id) in ids.into_iter().enumerate() {
            if scanned >= count.max(1) {
                out.next = id.to_string();
                break;
            }
            let Some(p) = g.pending.get_mut(&id) else {
                continue;
            };
            if now.duration_since(p.delivered_at) < min_idle {
                continue;
            }
            match entries.get(&id) {
                Some(fields) => {
                    p.consumer = consumer.to_string();
                    p.delivered_at = now;
                    out.entries.push(StreamEntry {
                        id: id.to_string(),
                        fields: fields.clone(),
                    });
                }
                None => {
                    g.pending.remove(&id);
                    out.deleted.push(id.to_string());
                }
            }
        }
        Ok(out)
    }

    async fn append(
        &self,
        stream: &str,
        entries: &[Vec<(String, String)>],
        maxlen: Option<u64>,
    ) -> StoreResult<Vec<String>> {
        let ids = {
            let mut st = self.lock();
            let ms = now_ms();
            entries
                .iter()
                .map(|f| {
                    st.xadd(stream, None, f.clone(), maxlen, ms)
                        .map(|id| id.to_string())
                })
                .collect::<StoreResult<Vec<_>>>()?
        };
        self.appended.notify_waiters();
        Ok(ids)
    }

    async fn group_lag(&self, stream: &str, group: &str) -> StoreResult<Option<u64>> {
        let mut st = self.lock();
        let Some(s) = st.stream(stream)? else {
            return Ok(None);
        };
        Ok(s.groups
            .get(group)
            .map(|g| s.entries.range(g.last_delivered.next()..).count() as u64))
    }

    async fn pending_count(&self, stream: &str, group: &str) -> StoreResult<u64> {
        let mut st = self.lock();
        Ok(st
            .stream(stream)?
            .and_then(|s| s.groups.get(group))
            .map(|g| g.pending.len() as u64)
            .unwrap_or(0))
    }

    async fn stream_info(&self, stream: &str) -> StoreResult<Option<StreamInfo>> {
        let mut st = self.lock();
        let id = |e: EntryId| StreamId { ms: e.0, seq: e.1 };
        Ok(st.stream(stream)?.map(|s| StreamInfo {
            length: s.entries.len() as u64,
            first_id: s.entries.keys().next().map(|e| id(*e)),
            last_generated_id: id(s.last_id),
            entries_added: s.added,
        }))
    }

    async fn group_position(&self, stream: &str, group: &str) -> StoreResult<Option<StreamId>> {
        let mut st = self.lock();
        Ok(st
            .stream(stream)?
            .and_then(|s| s.groups.get(group))
            .map(|g| StreamId {
                ms: g.last_delivered.0,
                seq: g.last_delivered.1,
            }))
    }

    async fn stream_len(&self, stream: &str) -> StoreResult<u64> {
        let mut st = self.lock();
        Ok(st
            .stream(stream)?
            .map(|s| s.entries.len() as u64)
            .unwrap_or(0))
    }

    async fn stream_range(
        &self,
        stream: &str,
        start: &str,
        end: &str,
        count: Option<usize>,
    ) -> StoreResult<Vec<StreamEntry>> {
        let bad = |s: &str| StoreError::Command(format!("ERR Invalid stream ID `{s}`"));
        let a = match start.strip_prefix('(') {
            Some(after) => EntryId::parse(after).ok_or_else(|| bad(start))?.next(),
            None => EntryId::parse(start).ok_or_else(|| bad(start))?,
        };
        let b = EntryId::parse(end).ok_or_else(|| bad(end))?;
        let mut st = self.lock();
        let Some(s) = st.stream(stream)? else {
            return Ok(Vec::new());
        };
        if a > b {
            return Ok(Vec::new());
        }
        Ok(s.entries
            .range(a..=b)
            .take(count.unwrap_or(usize::MAX))
            .map(|(id, f)| StreamEntry {
                id: id.to_string(),
                fields: f.clone(),
            })
            .collect())
    }

    async fn apply(&self, commands: &[WriteCommand]) -> StoreResult<()> {
        let mut first_err = None;
        {
            let mut st = self.lock();
            let now = Instant::now();
            let ms = now_ms();
            // Non-transactional, like a Redis pipeline: every command runs, the
            // first error is reported.
            for c in commands {
                if let Err(e) = st.apply_one(c, now, ms) {
                    first_err.get_or_insert(e);
                }
            }
        }
        if commands
            .iter()
            .any(|c| matches!(c, WriteCommand::XAddIfAbsent { .. }))
        {
            self.appended.notify_waiters();
        }
        first_err.map_or(Ok(()), Err)
    }

    async fn hgetall(&self, key: &str) -> StoreResult<BTreeMap<String, String>> {
        let mut st = self.lock();
        match st.get(key) {
            None => Ok(BTreeMap::new()),
            Some(Slot {
                value: Value::Hash(h),
                ..
            }) => Ok(h.clone()),
            Some(_) => Err(StoreError::Command(WRONGTYPE.into())),
        }
    }

    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        let mut st = self.lock();
        match st.get(key) {
            None => Ok(None),
            Some(Slot {
                value: Value::Str(s),
                ..
            }) => Ok(Some(s.clone())),
            Some(_) => Err(StoreError::Command(WRONGTYPE.into())),
        }
    }

    async fn scan(&self, pattern: &str) -> StoreResult<Vec<String>> {
        let mut st = self.lock();
        let now = Instant::now();
        st.keys.retain(|_, s| s.expires_at.is_none_or(|t| t > now));
        let mut keys: Vec<String> = st
            .keys
            .keys()
            .filter(|k| glob_match(pattern.as_bytes(), k.as_bytes()))
            .cloned()
            .collect();
        keys.sort();
        Ok(keys)
    }

    async fn pttl(&self, key: &str) -> StoreResult<Option<i64>> {
        let mut st = self.lock();
        Ok(st.get(key).map(|s| match s.expires_at {
            None => -1,
            Some(t) => t.saturating_duration_since(Instant::now()).as_millis() as i64,
        }))
    }

    async fn key_type(&self, key: &str) -> StoreResult<String> {
        let mut st = self.lock();
        Ok(st
            .get(key)
            .map(|s| s.value.type_name())
            .unwrap_or("none")
            .to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn glob_matches_like_redis() {
        assert!(glob_match(
            b"dev:bybit:shadow:latest:*",
            b"dev:bybit:shadow:latest:BTCUSDT"
        ));
        assert!(!glob_match(
            b"dev:bybit:shadow:latest:*",
            b"dev:okx:shadow:latest:BTCUSDT"
        ));
        assert!(glob_match(b"a?c", b"abc"));
        assert!(glob_match(b"a[bx]c", b"axc"));
        assert!(!glob_match(b"a[bx]c", b"ayc"));
        assert!(glob_match(b"*", b""));
        assert!(glob_match(b"*:meta:*", b"dev:x:shadow:meta:ETH"));
    }
}
