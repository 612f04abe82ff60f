//! [`IngestServer`]: the `IngestService` gRPC implementation, and the
//! background tasks behind it.

use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

use shadowkpi_domain::symbol::normalize_symbol;
use shadowkpi_proto::v1::ingest_service_server::IngestService;
use shadowkpi_proto::v1::{GetStatsRequest, GetStatsResponse, IngestCounters, SubscribeRequest};
use shadowkpi_runtime::Shutdown;
use shadowkpi_store::Store;
use tokio::sync::mpsc;
use tokio_util::task::TaskTracker;
use tonic::{Request, Response, Status};

use crate::ack::{Acks, run_acker};
use crate::config::IngestConfig;
use crate::error::IngestError;
use crate::hub::{Hub, response_stream};
use crate::pipeline::Pipeline;
use crate::positional::{self, Positional};
use crate::reader::{Reader, run_lag};
use crate::stats::{Stats, add_counters};

/// Largest `max_batch` a request may ask for.
const MAX_BATCH_LIMIT: usize = 10_000;

/// How long acknowledgements may still be written after shutdown.
const ACK_DRAIN: std::time::Duration = std::time::Duration::from_secs(5);

#[derive(Debug)]
struct Inner {
    store: Arc<dyn Store>,
    cfg: IngestConfig,
    hub: Arc<Hub>,
    stats: Arc<Stats>,
    shutdown: Shutdown,
    tasks: TaskTracker,
}

/// The `IngestService` implementation. Creating it starts the reader,
/// pipeline, acker and lag tasks on the current Tokio runtime; they stop when
/// `shutdown` triggers, and [`IngestServer::stopped`] waits for them.
#[derive(Debug, Clone)]
pub struct IngestServer {
    inner: Arc<Inner>,
}

impl IngestServer {
    /// A server reading `cfg.stream` from `store`.
    pub fn new(store: Arc<dyn Store>, cfg: IngestConfig, shutdown: Shutdown) -> Self {
        let hub = Arc::new(Hub::new());
        let acks = Arc::new(Acks::default());
        let stats = Arc::new(Stats::new());
        let token = shutdown.token();
        let tasks = TaskTracker::new();
        let (tx, rx) = mpsc::channel(4);
        tracing::info!(
            store = %store.describe(),
            stream = %cfg.stream,
            group = %cfg.group,
            consumer = %cfg.consumer,
            "ingest ready; the feed is read while subscribers are connected"
        );
        let pipeline = Pipeline::new(cfg.clone(), hub.clone(), acks.clone(), stats.clone());
        tasks.spawn(pipeline.run(rx, token.clone()));
        tasks.spawn(
            Reader {
                store: store.clone(),
                cfg: cfg.clone(),
                hub: hub.clone(),
                acks: acks.clone(),
                stats: stats.clone(),
                tx,
                shutdown: token.clone(),
            }
            .run(),
        );
        tasks.spawn(run_acker(
            acks,
            store.clone(),
            cfg.clone(),
            stats.clone(),
            {
                let hub = hub.clone();
                move || hub.is_empty()
            },
            token.clone(),
            ACK_DRAIN,
        ));
        tasks.spawn(run_lag(store.clone(), cfg.clone(), stats.clone(), token));
        Self {
            inner: Arc::new(Inner {
                store,
                cfg,
                hub,
                stats,
                shutdown,
                tasks,
            }),
        }
    }

    /// The store it reads (its readiness follows it).
    pub fn store(&self) -> Arc<dyn Store> {
        self.inner.store.clone()
    }

    /// Resolves once every background task has finished, the acker's last
    /// round of acknowledgements included. They finish after `shutdown`
    /// triggered and the last subscriber left; the host awaits this once the
    /// gRPC server stopped serving.
    pub fn stopped(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let tasks = self.inner.tasks.clone();
        async move {
            tasks.close();
            tasks.wait().await;
        }
    }

    /// The configuration.
    pub fn config(&self) -> &IngestConfig {
        &self.inner.cfg
    }

    /// The counters of `GetStats`.
    pub fn stats(&self) -> GetStatsResponse {
        let i = &self.inner;
        let symbols = i.stats.symbols();
        let mut totals = IngestCounters::default();
        let mut ticks_total = 0;
        for s in &symbols {
            ticks_total += s.ticks;
            if let Some(c) = &s.counters {
                add_counters(&mut totals, c);
            }
        }
        // Rejects without a readable symbol count in the totals too.
        totals.rejected = i.stats.rejected.load(Relaxed);
        GetStatsResponse {
            stream: i.cfg.stream.clone(),
            group: i.cfg.group.clone(),
            consumer: i.cfg.consumer.clone(),
            entries_read: i.stats.entries_read.load(Relaxed),
            ticks_total,
            rejected_total: totals.rejected,
            acked_total: i.stats.acked.load(Relaxed),
            lag: i.stats.lag.load(Relaxed),
            subscribers: i.hub.len() as u32,
            totals: Some(totals),
            symbols,
            redis_connected: i.stats.redis_up(),
            claimed_total: i.stats.claimed.load(Relaxed),
        }
    }

    /// The normalised symbol filter, the batch size and the subscriber name
    /// of a request.
    fn subscription(
        &self,
        req: &SubscribeRequest,
    ) -> Result<(Vec<String>, usize, String), IngestError> {
        let i = &self.inner;
        if i.shutdown.is_triggered() {
            return Err(IngestError::ShuttingDown);
        }
        let mut filter = Vec::with_capacity(req.symbols.len());
        for raw in &req.symbols {
            let s = normalize_symbol(raw).ok_or_else(|| {
                IngestError::invalid("symbols", format!("`{raw}` is empty once normalised"))
            })?;
            if !filter.contains(&s) {
                filter.push(s);
            }
        }
        let max_batch = match req.max_batch as usize {
            0 => i.cfg.max_batch,
            n => n.min(MAX_BATCH_LIMIT),
        };
        let name = if req.subscriber.is_empty() {
            "anonymous".to_string()
        } else {
            req.subscriber.chars().take(128).collect()
        };
        Ok((filter, max_batch, name))
    }

    /// A subscription from a feed position ([`crate::positional`]).
    async fn positional_stream(
        &self,
        req: SubscribeRequest,
    ) -> Result<crate::TickStream, IngestError> {
        let (filter, max_batch, name) = self.subscription(&req)?;
        let i = &self.inner;
        let position = positional::resolve(i.store.as_ref(), &i.cfg, &req.from).await?;
        let (tx, rx) = mpsc::channel(4);
        let p = Positional {
            store: i.store.clone(),
            cfg: i.cfg.clone(),
            name,
            filter,
            max_batch,
            position,
            skip: req.skip_ticks,
        };
        i.tasks.spawn(p.run(tx, i.shutdown.token()));
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    fn subscribe_stream(&self, req: SubscribeRequest) -> Result<crate::TickStream, IngestError> {
        let i = &self.inner;
        let (filter, max_batch, name) = self.subscription(&req)?;
        let sub = i.hub.add(
            name,
            filter,
            max_batch,
            i.cfg.subscriber_buffer,
            i.cfg.max_subscribers,
        )?;
        tracing::info!(
            subscriber = %sub.name,
            id = sub.id,
            symbols = ?req.symbols,
            max_batch,
            "subscriber joined"
        );
        Ok(Box::pin(response_stream(
            i.hub.clone(),
            sub,
            i.shutdown.token(),
        )))
    }
}

#[tonic::async_trait]
impl IngestService for IngestServer {
    type SubscribeStream = crate::TickStream;

    async fn subscribe(
        &self,
        request: Request<SubscribeRequest>,
    ) -> Result<Response<Self::SubscribeStream>, Status> {
        let req = request.into_inner();
        if !req.from.is_empty() {
            return Ok(Response::new(self.positional_stream(req).await?));
        }
        if req.skip_ticks > 0 {
            return Err(IngestError::invalid(
                "skip_ticks",
                "only a subscription with `from` skips ticks",
            )
            .into());
        }
        Ok(Response::new(self.subscribe_stream(req)?))
    }

    async fn get_stats(
        &self,
        _request: Request<GetStatsRequest>,
    ) -> Result<Response<GetStatsResponse>, Status> {
        Ok(Response::new(self.stats()))
    }
}
