//! A store that forwards every call to a real one, running a test's hooks
//! first on the calls a test wants to intercept (a crash at an exact point, a
//! slow command).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use shadowkpi_store::{AutoClaimed, Store, StoreResult, StreamEntry, WriteCommand};

/// What a test does right before some calls of a [`Hooked`] store.
#[async_trait::async_trait]
pub trait Hooks: Send + Sync + std::fmt::Debug + 'static {
    /// Runs before every `apply` (one pipeline of writes).
    async fn before_apply(&self) {}
    /// Runs before every `ack`.
    async fn before_ack(&self) {}
}

/// `inner` with `hooks` run before the calls they name.
#[derive(Debug)]
pub struct Hooked<H> {
    pub inner: Arc<dyn Store>,
    pub hooks: H,
}

#[async_trait::async_trait]
impl<H: Hooks> Store for Hooked<H> {
    fn describe(&self) -> String {
        self.inner.describe()
    }
    async fn ping(&self) -> StoreResult<()> {
        self.inner.ping().await
    }
    async fn create_group(&self, stream: &str, group: &str) -> StoreResult<()> {
        self.inner.create_group(stream, group).await
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
        self.inner
            .read_group(stream, group, consumer, count, block, pending)
            .await
    }
    async fn ack(&self, stream: &str, group: &str, ids: &[String]) -> StoreResult<u64> {
        self.hooks.before_ack().await;
        self.inner.ack(stream, group, ids).await
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
        self.inner
            .autoclaim(stream, group, consumer, min_idle, start, count)
            .await
    }
    async fn append(
        &self,
        stream: &str,
        entries: &[Vec<(String, String)>],
        maxlen: Option<u64>,
    ) -> StoreResult<Vec<String>> {
        self.inner.append(stream, entries, maxlen).await
    }
    async fn group_lag(&self, stream: &str, group: &str) -> StoreResult<Option<u64>> {
        self.inner.group_lag(stream, group).await
    }
    async fn pending_count(&self, stream: &str, group: &str) -> StoreResult<u64> {
        self.inner.pending_count(stream, group).await
    }
    async fn stream_len(&self, stream: &str) -> StoreResult<u64> {
        self.inner.stream_len(stream).await
    }
    async fn stream_info(&self, stream: &str) -> StoreResult<Option<shadowkpi_store::StreamInfo>> {
        self.inner.stream_info(stream).await
    }
    async fn group_position(
        &self,
        stream: &str,
        group: &str,
    ) -> StoreResult<Option<shadowkpi_store::StreamId>> {
        self.inner.group_position(stream, group).await
    }
    async fn stream_range(
        &self,
        stream: &str,
        start: &str,
        end: &str,
        count: Option<usize>,
    ) -> StoreResult<Vec<StreamEntry>> {
        self.inner.stream_range(stream, start, end, count).await
    }
    async fn apply(&self, commands: &[WriteCommand]) -> StoreResult<()> {
        self.hooks.before_apply().await;
        self.inner.apply(commands).await
    }
    async fn hgetall(&self, key: &str) -> StoreResult<BTreeMap<String, String>> {
        self.inner.hgetall(key).await
    }
    async fn get(&self, key: &str) -> StoreResult<Option<String>> {
        self.inner.get(key).await
    }
    async fn scan(&self, pattern: &str) -> StoreResult<Vec<String>> {
        self.inner.scan(pattern).await
    }
    async fn pttl(&self, key: &str) -> StoreResult<Option<i64>> {
        self.inner.pttl(key).await
    }
    async fn key_type(&self, key: &str) -> StoreResult<String> {
        self.inner.key_type(key).await
    }
}
