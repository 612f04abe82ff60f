//! The one driver from the feed to the engine.
//!
//! A soak (shadowd) and a dry run (dryrund) do the same thing with the feed:
//! subscribe to ingestd for their symbols, apply every tick to a
//! [`ShadowEngine`], hand each finished window on, and stop when enough
//! windows are done, the feed ends or goes idle, the service shuts down or the
//! client goes away. They differ only in the engine's models and in what they
//! do with a window; that part is a [`WindowSink`]. Everything else lives here,
//! once, so the two cannot drift (docs/architecture.md, "One driver").
//!
//! # Ending
//! - `iterations` windows handed on: [`DriveEnd::Done`];
//! - the tick stream ends ([`DriveEnd::FeedEnded`]) or brings nothing for
//!   `idle_timeout` ([`DriveEnd::Idle`]): the open window is closed early
//!   (`partial`) and handed on, up to `iterations`;
//! - the sink says the client is gone (a `false` from
//!   [`WindowSink::window`], or [`WindowSink::closed`] resolving):
//!   [`DriveEnd::ClientGone`], nothing more is sent;
//! - the service's cancellation token fires: [`DriveError::Cancelled`];
//! - the tick stream fails: [`DriveError::Feed`];
//! - the run's external strategy stops deciding (it timed out, went away,
//!   answered out of protocol): the windows that ended before the decision
//!   it failed at are handed on (those still waiting for mark-outs marked to
//!   the last mid, as at a feed end), then [`DriveError::Strategy`].
//!
//! # Blocking strategies
//! A strategy in another process answers each decision over the network
//! while the engine waits ([`StrategyFactory::blocks`](shadowkpi_domain::engine::StrategyFactory::blocks)); on a multi-threaded
//! runtime the engine then runs in `block_in_place`, so the worker's other
//! tasks move elsewhere meanwhile.
#![warn(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::future::Future;
use std::time::Duration;

use shadowkpi_domain::engine::{ShadowEngine, StrategyFault, WindowResult};
use shadowkpi_domain::instrument::{Instrument, InstrumentSource};
use shadowkpi_domain::tick::Tick;
use shadowkpi_proto::v1::ingest_service_client::IngestServiceClient;
use shadowkpi_proto::v1::{self, SubscribeRequest, SubscribeResponse};
use shadowkpi_runtime::status::PeerFailure;
use tokio_util::sync::CancellationToken;
use tonic::Streaming;

/// Why driving stopped early.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DriveError {
    /// ingestd could not be reached, refused the subscription, or its tick
    /// stream failed.
    #[error("{0}")]
    Feed(PeerFailure),
    /// The service is shutting down.
    #[error("shutting down")]
    Cancelled,
    /// The run's external strategy stopped deciding.
    #[error("{0}")]
    Strategy(StrategyFault),
}

/// How a drive ended (when it did not fail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DriveEnd {
    /// The planned number of windows was handed on.
    Done,
    /// The tick stream ended; the open window was closed early.
    FeedEnded,
    /// The feed brought nothing for the idle timeout; the open window was
    /// closed early.
    Idle,
    /// The client went away; nothing more should be sent.
    ClientGone,
}

/// What a drive did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveOutcome {
    /// Windows handed on to the sink.
    pub windows: u32,
    /// Why it stopped.
    pub end: DriveEnd,
}

/// When to stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DriveLimits {
    /// Windows to hand on.
    pub iterations: u32,
    /// How long the feed may bring nothing before the open window is closed.
    pub idle_timeout: Duration,
}

/// What a service does with the drive: the only part a soak and a dry run do
/// differently.
pub trait WindowSink {
    /// A finished window, in order, with the feed position read through when
    /// it closed (empty for a live subscription); `false` when the client is
    /// gone.
    fn window(&mut self, w: &WindowResult, position: &str) -> impl Future<Output = bool> + Send;

    /// Resolves when the client is gone (e.g. the response stream closed).
    fn closed(&self) -> impl Future<Output = ()> + Send;

    /// The feed-quality counters ingestd attached to a batch for `symbol`
    /// (increments since the previous batch), before the batch's ticks are
    /// applied. Ignored by default.
    fn counters(&mut self, symbol: &str, counters: &v1::IngestCounters) {
        let _ = (symbol, counters);
    }
}

/// How long a subscription from a feed position keeps asking a vanished
/// ingestd again before the run fails.
pub const RECONNECT_FOR: Duration = Duration::from_secs(60);

/// A run's tick stream from ingestd.
///
/// A live subscription (`from` unset) is the consumer group's: when ingestd
/// goes away the run fails. One from a feed position survives that: it asks
/// again, from the same position, skipping the ticks it already delivered,
/// for up to [`RECONNECT_FOR`], so the run sees exactly the ticks it would
/// have seen (ingestd's positional subscriptions are deterministic).
#[derive(Debug)]
pub struct Feed {
    addr: String,
    symbols: Vec<String>,
    subscriber: String,
    /// The resolved starting position, for a positional subscription.
    start: Option<String>,
    /// The position of the last batch (the last entry read).
    position: String,
    delivered: u64,
    stream: Streaming<SubscribeResponse>,
}

impl Feed {
    /// The resolved feed position the run reads after (positional only).
    pub fn start(&self) -> Option<&str> {
        self.start.as_deref()
    }

    /// The id of the last stream entry read (positional only; empty before
    /// the first batch).
    pub fn position(&self) -> &str {
        &self.position
    }

    /// The next batch: `Ok(None)` when the stream ended.
    pub async fn message(&mut self) -> Result<Option<SubscribeResponse>, tonic::Status> {
        loop {
            match self.stream.message().await {
                Ok(Some(batch)) => {
                    self.delivered += batch.ticks.len() as u64;
                    if !batch.position.is_empty() {
                        self.position.clone_from(&batch.position);
                    }
                    return Ok(Some(batch));
                }
                Ok(None) if self.start.is_none() => return Ok(None),
                Err(s) if self.start.is_none() || !lost_ingestd(&s) => return Err(s),
                // ingestd went away (or is shutting down): ask again.
                end => {
                    let why = match end {
                        Err(s) => s.message().to_string(),
                        _ => "the tick stream ended".to_string(),
                    };
                    tracing::warn!(
                        error = %why,
                        delivered = self.delivered,
                        "lost ingestd, subscribing again from the feed position"
                    );
                    self.reconnect(&why).await?;
                }
            }
        }
    }

    async fn reconnect(&mut self, why: &str) -> Result<(), tonic::Status> {
        let deadline = tokio::time::Instant::now() + RECONNECT_FOR;
        let mut backoff = Duration::from_millis(100);
        loop {
            match open(
                &self.addr,
                &self.symbols,
                &self.subscriber,
                self.start.as_deref().unwrap_or_default(),
                self.delivered,
            )
            .await
            {
                Ok((stream, _)) => {
                    tracing::info!(delivered = self.delivered, "subscribed again");
                    self.stream = stream;
                    return Ok(());
                }
                Err(s) if lost_ingestd(&s) && tokio::time::Instant::now() < deadline => {
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(2));
                }
                Err(s) => {
                    return Err(tonic::Status::unavailable(format!(
                        "ingestd went away ({why}) and did not come back within {} s: {}",
                        RECONNECT_FOR.as_secs(),
                        s.message()
                    )));
                }
            }
        }
    }
}

/// True for a status that says ingestd is gone (transport failure, or it
/// is shutting down), not that it refused the subscription.
fn lost_ingestd(s: &tonic::Status) -> bool {
    use shadowkpi_runtime::status::Reason;
    match Reason::of_status(s) {
        Some(r) => matches!(
            r,
            Reason::ShuttingDown | Reason::StoreUnreachable | Reason::StoreTimeout
        ),
        None => matches!(
            s.code(),
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Cancelled
        ),
    }
}

async fn open(
    addr: &str,
    symbols: &[String],
    subscriber: &str,
    from: &str,
    skip_ticks: u64,
) -> Result<(Streaming<SubscribeResponse>, Option<String>), tonic::Status> {
    let channel = shadowkpi_runtime::client::connect("ingestd", addr)
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let mut stream = IngestServiceClient::new(channel)
        .subscribe(SubscribeRequest {
            symbols: symbols.to_vec(),
            subscriber: subscriber.to_string(),
            max_batch: 0,
            from: from.to_string(),
            skip_ticks,
        })
        .await?
        .into_inner();
    if from.is_empty() {
        return Ok((stream, None));
    }
    // A positional subscription says where it starts, first.
    let first = stream
        .message()
        .await?
        .ok_or_else(|| tonic::Status::unavailable("ingestd ended the subscription at once"))?;
    Ok((stream, Some(first.position)))
}

/// Subscribes to ingestd at `addr` for `symbols` as `subscriber` (a name for
/// its stats, e.g. `shadowd/<run id>`): live through the consumer group when
/// `from` is `None`, else from that feed position (`group`, `now`, `start`
/// or an entry id: `SubscribeRequest.from`).
pub async fn subscribe(
    addr: &str,
    symbols: &[String],
    subscriber: String,
    from: Option<&str>,
) -> Result<Feed, DriveError> {
    let from = from.unwrap_or_default();
    let (stream, start) = open(addr, symbols, &subscriber, from, 0)
        .await
        .map_err(|s| DriveError::Feed(PeerFailure::of_status("subscribe", &s)))?;
    Ok(Feed {
        addr: addr.to_string(),
        symbols: symbols.to_vec(),
        subscriber,
        position: start.clone().unwrap_or_default(),
        start,
        delivered: 0,
        stream,
    })
}

/// Feeds `ticks` into `engine` and the finished windows into `sink` until one
/// of the ends in the module docs.
pub async fn drive<S: WindowSink + Send>(
    engine: &mut ShadowEngine,
    ticks: &mut Feed,
    limits: DriveLimits,
    cancel: &CancellationToken,
    sink: &mut S,
) -> Result<DriveOutcome, DriveError> {
    let mut d = Driver {
        windows: 0,
        grids: BTreeMap::new(),
    };
    if limits.iterations == 0 {
        return Ok(d.outcome(DriveEnd::Done));
    }
    loop {
        let next = tokio::select! {
            () = cancel.cancelled() => return Err(DriveError::Cancelled),
            () = sink.closed() => {
                tracing::info!("client went away");
                return Ok(d.outcome(DriveEnd::ClientGone));
            }
            r = tokio::time::timeout(limits.idle_timeout, ticks.message()) => r,
        };
        let (windows, fault, end) = match next {
            Err(_) => {
                tracing::warn!(
                    idle_ms = limits.idle_timeout.as_millis() as u64,
                    windows = d.windows,
                    planned = limits.iterations,
                    "feed idle, closing the open window"
                );
                let (w, fault) = run_engine(engine, |e| e.finish());
                (w, fault, Some(DriveEnd::Idle))
            }
            Ok(Ok(None)) => {
                tracing::warn!(
                    windows = d.windows,
                    planned = limits.iterations,
                    "feed ended, closing the open window"
                );
                let (w, fault) = run_engine(engine, |e| e.finish());
                (w, fault, Some(DriveEnd::FeedEnded))
            }
            Ok(Err(status)) => {
                return Err(DriveError::Feed(PeerFailure::of_status(
                    "tick stream failed",
                    &status,
                )));
            }
            Ok(Ok(Some(batch))) => {
                for (sym, c) in &batch.counters {
                    sink.counters(sym, c);
                }
                let (w, fault) = run_engine(engine, |e| apply_ticks(e, &batch.ticks));
                (w, fault, None)
            }
        };
        let (windows, fault) = match fault {
            None => (windows, None),
            Some(f) => (complete_before(engine, windows, &f), Some(f)),
        };
        for w in &windows {
            d.log_grids(engine, w);
            if !sink.window(w, ticks.position()).await {
                return Ok(d.outcome(DriveEnd::ClientGone));
            }
            d.windows += 1;
            if d.windows >= limits.iterations {
                return Ok(d.outcome(DriveEnd::Done));
            }
        }
        if let Some(f) = fault {
            tracing::error!(
                windows = d.windows,
                at_ms = f.at_ms,
                "strategy failed, ending the run"
            );
            return Err(DriveError::Strategy(f));
        }
        if let Some(end) = end {
            return Ok(d.outcome(end));
        }
    }
}

/// Runs `step` on the engine (in `block_in_place` when its strategy blocks,
/// on a runtime that allows it) and returns its windows, with the strategy's
/// fault if it failed.
fn run_engine(
    engine: &mut ShadowEngine,
    step: impl FnOnce(&mut ShadowEngine) -> Vec<WindowResult>,
) -> (Vec<WindowResult>, Option<StrategyFault>) {
    let factory = std::sync::Arc::clone(&engine.config().strategy);
    if !factory.blocks() {
        return (step(engine), None);
    }
    let multi = tokio::runtime::Handle::try_current()
        .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
    let out = if multi {
        tokio::task::block_in_place(|| step(engine))
    } else {
        step(engine)
    };
    (out, factory.fault())
}

/// Applies a batch of ticks, stopping at the first tick after which the
/// strategy has failed (a blocking strategy's only).
fn apply_ticks(engine: &mut ShadowEngine, ticks: &[v1::Tick]) -> Vec<WindowResult> {
    let factory = std::sync::Arc::clone(&engine.config().strategy);
    let check = factory.blocks();
    let mut out = Vec::new();
    for t in ticks {
        out.extend(engine.on_tick(&Tick::from(t)));
        if check && factory.fault().is_some() {
            break;
        }
    }
    out
}

/// The windows of a run whose strategy failed that are whole: those that
/// ended at or before the decision it failed at, with the ones still
/// waiting for mark-outs flushed.
fn complete_before(
    engine: &mut ShadowEngine,
    mut windows: Vec<WindowResult>,
    fault: &StrategyFault,
) -> Vec<WindowResult> {
    windows.extend(engine.finish());
    windows.retain(|w| w.window.end_ms <= fault.at_ms);
    windows
}

struct Driver {
    windows: u32,
    /// The grid last logged per symbol.
    grids: BTreeMap<String, (Instrument, InstrumentSource)>,
}

impl Driver {
    fn outcome(&self, end: DriveEnd) -> DriveOutcome {
        DriveOutcome {
            windows: self.windows,
            end,
        }
    }

    /// Logs each symbol's price and size grid the first time a window of it
    /// closes, and again whenever it changed (an inferred grid only refines).
    fn log_grids(&mut self, engine: &ShadowEngine, w: &WindowResult) {
        for sym in w.symbols.keys() {
            let Some(grid) = engine.instrument(sym) else {
                continue;
            };
            if self.grids.get(sym) == Some(&grid) {
                continue;
            }
            let (i, source) = grid;
            tracing::info!(
                symbol = %sym,
                tick_size = i.tick_size,
                lot_size = i.lot_size,
                source = source.as_str(),
                "price grid"
            );
            self.grids.insert(sym.clone(), grid);
        }
    }
}
