//! The exchange side of the strategy API (`proto/shadowkpi/v1/strategy.proto`):
//! a soak's or a dry run's strategy running in another process.
//!
//! [`connect`] dials the strategy's `StrategyService`, opens one `Session`
//! and performs the handshake (`start` → `ready`); the [`RemoteStrategy`] it
//! returns is the run's [`StrategyFactory`], so the engine drives the
//! external strategy through exactly the interface the built-in market maker
//! implements (docs/strategy-api.md).
//!
//! # Lockstep
//! Each decision the engine asks a symbol's strategy for becomes one
//! `DecideRequest` (with the exchange's answers that arrived since the
//! symbol's previous decision) and blocks until its `Decision` is back, so
//! event time never advances without the strategy. Latency is the model
//! set's: the orders are stamped with the decision's event time. With
//! `WAKE_ON_CHANGE` a decision is sent only when the touch, the grid or the
//! symbol's orders changed; the others are empty decisions made here, and
//! their market data is folded into the next request.
//!
//! # Orders
//! Wire orders become [`OrderAction`]s on the symbol's grid. What the
//! gateway cannot read as an order is answered rejected with a reason
//! ([`OrderAction::Refused`]), like an exchange would: an off-grid or
//! non-finite price, another symbol, a missing kind, side or type. The
//! exchange itself rejects a bad size, a duplicate id or an unknown cancel.
//! A `REPLACE` is a cancel and a place in the same instant.
//!
//! # Faults
//! A strategy that does not answer within the timeout, closes the session,
//! or answers out of protocol (another sequence, a second `ready`, bytes that
//! do not decode) stops deciding: [`StrategyFactory::fault`] says what
//! happened and at which event time, and the caller ends the run there. The
//! session runs on a thread of its own, which ends when the last handle is
//! dropped (at most [`CLOSE_GRACE`] after it, however the strategy behaves).
#![warn(clippy::unwrap_used)]

use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use shadowkpi_domain::engine::{
    BookView, Liquidity, OrderAction, OrderEvent, OrderSide, RejectReason, Strategy,
    StrategyFactory, StrategyFault, TimeInForce,
};
use shadowkpi_domain::instrument::Instrument;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::summary::StrategyInfo;
use shadowkpi_proto::v1::session_request::Event;
use shadowkpi_proto::v1::session_response::Reply;
use shadowkpi_proto::v1::strategy_service_client::StrategyServiceClient;
use shadowkpi_proto::v1::{self, SessionRequest, SessionResponse};
use tokio::sync::{mpsc as tmpsc, oneshot};
use tokio_stream::wrappers::UnboundedReceiverStream;

/// Default of [`SessionConfig::timeout`]: how long one answer may take.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the session waits for the strategy to close its side once the
/// run has ended, before the connection is dropped.
pub const CLOSE_GRACE: Duration = Duration::from_secs(1);

/// The most a request may set as [`Endpoint::timeout`].
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);

/// Where an external strategy is and how long it may take to answer: a
/// validated `StrategyEndpoint`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host:port` or URL.
    pub address: String,
    /// How long one answer may take.
    pub timeout: Duration,
}

impl Endpoint {
    /// Validates a request's `strategy` endpoint; the error names the field
    /// (`strategy.address`, `strategy.timeout_ms`) and what is wrong.
    pub fn from_wire(e: &v1::StrategyEndpoint) -> Result<Self, (&'static str, String)> {
        let address = e.address.trim();
        if address.is_empty() {
            return Err((
                "strategy.address",
                "required (host:port of the strategy)".into(),
            ));
        }
        if address.contains(char::is_whitespace) {
            return Err((
                "strategy.address",
                format!("`{address}` contains whitespace"),
            ));
        }
        let timeout = match e.timeout_ms {
            0 => DEFAULT_TIMEOUT,
            ms => Duration::from_millis(ms),
        };
        if timeout > MAX_TIMEOUT {
            return Err((
                "strategy.timeout_ms",
                format!(
                    "{} is more than the maximum {}",
                    e.timeout_ms,
                    MAX_TIMEOUT.as_millis()
                ),
            ));
        }
        Ok(Self {
            address: address.to_string(),
            timeout,
        })
    }

    /// The wire form.
    pub fn to_wire(&self) -> v1::StrategyEndpoint {
        v1::StrategyEndpoint {
            address: self.address.clone(),
            timeout_ms: u64::try_from(self.timeout.as_millis()).unwrap_or(u64::MAX),
        }
    }
}

impl SessionConfig {
    /// The session of a run at `endpoint` whose symbols run with `params`.
    pub fn new(
        endpoint: &Endpoint,
        run_id: &str,
        phase: Phase,
        params: &BTreeMap<String, StrategyParams>,
        max_orders_per_decision: usize,
        model_set: &str,
        seed: u64,
    ) -> Self {
        Self {
            address: endpoint.address.clone(),
            timeout: endpoint.timeout,
            run_id: run_id.to_string(),
            phase,
            symbols: params.iter().map(|(s, p)| (s.clone(), p.clone())).collect(),
            max_orders_per_decision,
            model_set: model_set.to_string(),
            seed,
        }
    }
}

/// The phase a session runs ([`v1::SessionPhase`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// A soak.
    Soak,
    /// A dry run.
    DryRun,
}

/// What [`connect`] needs.
#[derive(Debug, Clone)]
pub struct SessionConfig {
    /// The strategy's gRPC address (`host:port` or URL).
    pub address: String,
    /// How long of wall time one answer (the handshake included) may take.
    pub timeout: Duration,
    /// The run's id.
    pub run_id: String,
    /// The run's phase.
    pub phase: Phase,
    /// The run's symbols (normalised) with their parameters.
    pub symbols: Vec<(String, StrategyParams)>,
    /// [`EngineConfig::max_orders_per_decision`](shadowkpi_domain::engine::EngineConfig::max_orders_per_decision).
    pub max_orders_per_decision: usize,
    /// The run's model set's name.
    pub model_set: String,
    /// The run's seed.
    pub seed: u64,
}

/// What went wrong with a strategy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// It could not be reached, or refused the session.
    Unreachable,
    /// It did not answer within the timeout.
    Timeout,
    /// It closed the session or the connection broke.
    Disconnected,
    /// It answered out of protocol.
    Garbage,
}

impl FaultKind {
    /// The kind as messages spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unreachable => "unreachable",
            Self::Timeout => "timeout",
            Self::Disconnected => "disconnected",
            Self::Garbage => "garbage",
        }
    }
}

/// Why a strategy could not be used or stopped deciding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("strategy at {address}: {what}")]
pub struct SessionError {
    /// What went wrong.
    pub kind: FaultKind,
    /// The address dialled.
    pub address: String,
    /// What happened, for people.
    pub what: String,
}

/// The strategy as the run's provenance records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StrategyIdentity {
    /// What it said in `ready`.
    pub name: String,
    /// What it said in `ready`.
    pub version: String,
    /// Where it was dialled.
    pub address: String,
}

/// What a session did, for logs and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SessionStats {
    /// `DecideRequest`s sent (round trips).
    pub requests: u64,
    /// Decisions answered here without a round trip (`WAKE_ON_CHANGE`).
    pub skipped: u64,
}

/// One message from the session's thread.
enum Incoming {
    Message(SessionResponse),
    Failed(FaultKind, String),
}

/// What every symbol's handle shares: the session.
struct Session {
    identity: StrategyIdentity,
    timeout: Duration,
    wake_on_change: bool,
    requests: tmpsc::UnboundedSender<SessionRequest>,
    answers: Mutex<mpsc::Receiver<Incoming>>,
    /// Fires when the last handle goes, so the session's thread ends.
    closed: Option<oneshot::Sender<()>>,
    sequence: AtomicU64,
    skipped: AtomicU64,
    fault: OnceLock<(StrategyFault, FaultKind)>,
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(tx) = self.closed.take() {
            let _ = tx.send(());
        }
    }
}

impl Session {
    /// Sends `request` and waits for the next answer.
    fn exchange(&self, request: SessionRequest) -> Result<SessionResponse, (FaultKind, String)> {
        if self.requests.send(request).is_err() {
            return Err(self.ended());
        }
        let answers = self
            .answers
            .lock()
            .map_err(|_| (FaultKind::Disconnected, "session poisoned".to_string()))?;
        match answers.recv_timeout(self.timeout) {
            Ok(Incoming::Message(m)) => Ok(m),
            Ok(Incoming::Failed(kind, what)) => Err((kind, what)),
            Err(RecvTimeoutError::Timeout) => Err((
                FaultKind::Timeout,
                format!("no answer within {}", humanize(self.timeout)),
            )),
            Err(RecvTimeoutError::Disconnected) => Err(self.ended()),
        }
    }

    fn ended(&self) -> (FaultKind, String) {
        (FaultKind::Disconnected, "the session ended".to_string())
    }

    fn fail(&self, kind: FaultKind, at_ms: i64, context: &str, what: &str) {
        let message = format!(
            "strategy `{}` at {} ({}) {}: {}",
            self.identity.name,
            self.identity.address,
            kind.as_str(),
            context,
            what
        );
        if self
            .fault
            .set((
                StrategyFault {
                    at_ms,
                    message: message.clone(),
                },
                kind,
            ))
            .is_ok()
        {
            tracing::error!(at_ms, kind = kind.as_str(), "{message}");
        }
    }
}

/// The run's external strategy: a [`StrategyFactory`] whose symbols decide
/// through one session with the strategy process.
#[derive(Clone)]
pub struct RemoteStrategy {
    session: Arc<Session>,
}

impl fmt::Debug for RemoteStrategy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteStrategy")
            .field("identity", &self.session.identity)
            .finish_non_exhaustive()
    }
}

impl RemoteStrategy {
    /// Name, version and address of the strategy.
    pub fn identity(&self) -> &StrategyIdentity {
        &self.session.identity
    }

    /// The strategy as summaries and provenance record it.
    pub fn info(&self) -> StrategyInfo {
        let id = &self.session.identity;
        StrategyInfo {
            name: id.name.clone(),
            version: id.version.clone(),
            address: id.address.clone(),
        }
    }

    /// What the session did so far.
    pub fn stats(&self) -> SessionStats {
        let requests = self.session.sequence.load(Ordering::Relaxed);
        SessionStats {
            requests,
            skipped: self.session.skipped.load(Ordering::Relaxed),
        }
    }

    /// What went wrong, with its kind, once the strategy failed.
    pub fn fault_kind(&self) -> Option<FaultKind> {
        self.session.fault.get().map(|(_, k)| *k)
    }
}

impl StrategyFactory for RemoteStrategy {
    fn build(&self, symbol: &str, _params: &StrategyParams) -> Box<dyn Strategy> {
        Box::new(RemoteSymbol {
            session: Arc::clone(&self.session),
            symbol: symbol.to_string(),
            updates: Vec::new(),
            last_sent: None,
            folded: None,
            skipped: 0,
        })
    }

    fn fault(&self) -> Option<StrategyFault> {
        self.session.fault.get().map(|(f, _)| f.clone())
    }

    fn blocks(&self) -> bool {
        true
    }
}

/// One symbol's strategy: its side of the session.
struct RemoteSymbol {
    session: Arc<Session>,
    symbol: String,
    /// Answers of the exchange not yet sent.
    updates: Vec<v1::OrderUpdate>,
    /// Touch and grid of the last request sent.
    last_sent: Option<(f64, f64, Instrument)>,
    /// Market data of decisions not sent (`WAKE_ON_CHANGE`).
    folded: Option<BookView>,
    skipped: u32,
}

impl fmt::Debug for RemoteSymbol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteSymbol")
            .field("symbol", &self.symbol)
            .finish_non_exhaustive()
    }
}

impl Strategy for RemoteSymbol {
    fn on_event(&mut self, _at_ms: i64, event: &OrderEvent) {
        if self.session.fault.get().is_none() {
            self.updates.push(update_to_wire(event));
        }
    }

    fn decide(
        &mut self,
        at_ms: i64,
        book: &BookView,
        instrument: &Instrument,
        actions: &mut Vec<OrderAction>,
    ) {
        let session = &self.session;
        if session.fault.get().is_some() {
            return;
        }
        let unchanged = self.updates.is_empty()
            && self
                .last_sent
                .is_some_and(|(b, a, i)| b == book.bid && a == book.ask && i == *instrument);
        if session.wake_on_change && unchanged {
            match &mut self.folded {
                Some(f) => f.fold(book),
                None => self.folded = Some(*book),
            }
            self.skipped = self.skipped.saturating_add(1);
            session.skipped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let market = match self.folded.take() {
            Some(mut f) => {
                f.fold(book);
                f
            }
            None => *book,
        };
        let sequence = session.sequence.fetch_add(1, Ordering::Relaxed) + 1;
        let request = SessionRequest {
            event: Some(Event::Decide(v1::DecideRequest {
                sequence,
                symbol: self.symbol.clone(),
                at_ms,
                market: Some(market_to_wire(&market)),
                grid: Some(v1::Grid {
                    tick_size: instrument.tick_size,
                    lot_size: instrument.lot_size,
                }),
                updates: std::mem::take(&mut self.updates),
                skipped: std::mem::take(&mut self.skipped),
            })),
        };
        let context = format!(
            "at decision {sequence} ({} at event time {at_ms})",
            self.symbol
        );
        let decision = match session.exchange(request) {
            Ok(SessionResponse {
                reply: Some(Reply::Decision(d)),
            }) if d.sequence == sequence => d,
            Ok(SessionResponse {
                reply: Some(Reply::Decision(d)),
            }) => {
                let what = format!("answered sequence {} instead of {sequence}", d.sequence);
                session.fail(FaultKind::Garbage, at_ms, &context, &what);
                return;
            }
            Ok(SessionResponse {
                reply: Some(Reply::Ready(_)),
            }) => {
                session.fail(FaultKind::Garbage, at_ms, &context, "sent `ready` again");
                return;
            }
            Ok(SessionResponse { reply: None }) => {
                session.fail(FaultKind::Garbage, at_ms, &context, "sent an empty message");
                return;
            }
            Err((kind, what)) => {
                session.fail(kind, at_ms, &context, &what);
                return;
            }
        };
        self.last_sent = Some((book.bid, book.ask, *instrument));
        for o in &decision.orders {
            order_from_wire(o, &self.symbol, instrument, actions);
        }
    }

    fn refine_grid(&mut self, _factor: i64) {
        // Every request carries the grid; the strategy rescales its own.
    }
}

/// Dials the strategy, opens a session and performs the handshake. Blocks
/// (up to the timeout plus the connect timeout): call it where blocking is
/// allowed (`spawn_blocking` on an async runtime).
pub fn connect(config: SessionConfig) -> Result<RemoteStrategy, SessionError> {
    let address = config.address.clone();
    let error = |kind, what: String| SessionError {
        kind,
        address: address.clone(),
        what,
    };
    let (req_tx, req_rx) = tmpsc::unbounded_channel();
    let (ans_tx, ans_rx) = mpsc::channel();
    let (closed_tx, closed_rx) = oneshot::channel();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| error(FaultKind::Unreachable, format!("no runtime: {e}")))?;
    let addr = config.address.clone();
    std::thread::Builder::new()
        .name("strategy-session".into())
        .spawn(move || runtime.block_on(run_session(addr, req_rx, ans_tx, closed_rx)))
        .map_err(|e| error(FaultKind::Unreachable, format!("no thread: {e}")))?;

    let start = v1::SessionStart {
        run_id: config.run_id.clone(),
        phase: match config.phase {
            Phase::Soak => v1::SessionPhase::Soak,
            Phase::DryRun => v1::SessionPhase::DryRun,
        } as i32,
        symbols: config
            .symbols
            .iter()
            .map(|(s, p)| v1::SessionSymbol {
                symbol: s.clone(),
                params: Some(p.into()),
            })
            .collect(),
        max_orders_per_decision: u32::try_from(config.max_orders_per_decision).unwrap_or(u32::MAX),
        model_set: config.model_set.clone(),
        seed: config.seed,
    };
    let mut session = Session {
        identity: StrategyIdentity {
            name: String::new(),
            version: String::new(),
            address: config.address.clone(),
        },
        // The handshake also waits for the connection.
        timeout: config.timeout + Duration::from_secs(5),
        wake_on_change: false,
        requests: req_tx,
        answers: Mutex::new(ans_rx),
        closed: Some(closed_tx),
        sequence: AtomicU64::new(0),
        skipped: AtomicU64::new(0),
        fault: OnceLock::new(),
    };
    let ready = match session.exchange(SessionRequest {
        event: Some(Event::Start(start)),
    }) {
        Ok(SessionResponse {
            reply: Some(Reply::Ready(r)),
        }) => r,
        Ok(other) => {
            let what = match other.reply {
                Some(Reply::Decision(_)) => "answered `start` with a decision, not `ready`",
                _ => "answered `start` with an empty message, not `ready`",
            };
            return Err(error(FaultKind::Garbage, what.to_string()));
        }
        Err((kind, what)) => {
            let kind = match kind {
                FaultKind::Disconnected => FaultKind::Unreachable,
                k => k,
            };
            return Err(error(kind, format!("handshake: {what}")));
        }
    };
    if ready.name.trim().is_empty() {
        return Err(error(
            FaultKind::Garbage,
            "`ready` has no name (required)".to_string(),
        ));
    }
    session.identity.name = ready.name;
    session.identity.version = ready.version;
    session.wake_on_change = ready.wake_on == v1::WakeOn::Change as i32;
    session.timeout = config.timeout;
    tracing::info!(
        strategy = %session.identity.name,
        version = %session.identity.version,
        address = %session.identity.address,
        wake_on_change = session.wake_on_change,
        "strategy session open"
    );
    Ok(RemoteStrategy {
        session: Arc::new(session),
    })
}

/// [`connect`] from async code: the handshake runs on a blocking thread.
pub async fn open(config: SessionConfig) -> Result<RemoteStrategy, SessionError> {
    let address = config.address.clone();
    tokio::task::spawn_blocking(move || connect(config))
        .await
        .unwrap_or_else(|e| {
            Err(SessionError {
                kind: FaultKind::Unreachable,
                address,
                what: format!("the handshake did not complete: {e}"),
            })
        })
}

/// The session's thread: the gRPC call, forwarding the strategy's messages
/// until the call ends or the last handle is dropped.
async fn run_session(
    address: String,
    requests: tmpsc::UnboundedReceiver<SessionRequest>,
    answers: mpsc::Sender<Incoming>,
    mut closed: oneshot::Receiver<()>,
) {
    let fail = |kind, what: String| {
        let _ = answers.send(Incoming::Failed(kind, what));
    };
    let channel = tokio::select! {
        c = shadowkpi_runtime::client::connect_external("strategy", &address) => c,
        _ = &mut closed => return,
    };
    let channel = match channel {
        Ok(c) => c,
        Err(e) => return fail(FaultKind::Unreachable, e.reason),
    };
    let mut client = StrategyServiceClient::new(channel)
        .max_decoding_message_size(16 * 1024 * 1024)
        .max_encoding_message_size(16 * 1024 * 1024);
    let call = client.session(UnboundedReceiverStream::new(requests));
    let mut stream = tokio::select! {
        r = call => match r {
            Ok(r) => r.into_inner(),
            Err(s) => return fail(status_kind(&s), status_text(&s)),
        },
        _ = &mut closed => return,
    };
    loop {
        tokio::select! {
            m = stream.message() => match m {
                Ok(Some(m)) => {
                    if answers.send(Incoming::Message(m)).is_err() {
                        return;
                    }
                }
                Ok(None) => {
                    return fail(FaultKind::Disconnected, "the strategy closed the session".into());
                }
                Err(s) => return fail(status_kind(&s), status_text(&s)),
            },
            _ = &mut closed => {
                // The run is over: let the strategy finish its side, briefly.
                let _ = tokio::time::timeout(CLOSE_GRACE, async {
                    while let Ok(Some(_)) = stream.message().await {}
                })
                .await;
                return;
            }
        }
    }
}

/// A failed call's kind: undecodable bytes are garbage, anything else a
/// broken session.
fn status_kind(s: &tonic::Status) -> FaultKind {
    let m = s.message();
    if s.code() == tonic::Code::Internal && (m.contains("decode") || m.contains("protocol")) {
        FaultKind::Garbage
    } else {
        FaultKind::Disconnected
    }
}

fn status_text(s: &tonic::Status) -> String {
    format!("the call failed with {:?}: {}", s.code(), s.message())
}

fn humanize(d: Duration) -> String {
    if d.subsec_millis() == 0 {
        format!("{}s", d.as_secs())
    } else {
        format!("{}ms", d.as_millis())
    }
}

fn market_to_wire(b: &BookView) -> v1::MarketView {
    v1::MarketView {
        bid: b.bid,
        ask: b.ask,
        bid_qty: b.bid_qty,
        ask_qty: b.ask_qty,
        bought: b.bought,
        sold: b.sold,
        last_trade_px: b.last_trade_px,
        ticks: b.ticks,
    }
}

/// The wire spelling of a reject reason.
pub fn reason_to_wire(r: RejectReason) -> v1::RejectReason {
    match r {
        RejectReason::PostOnlyWouldCross => v1::RejectReason::PostOnlyWouldCross,
        RejectReason::NoBook => v1::RejectReason::NoBook,
        RejectReason::InvalidSize => v1::RejectReason::InvalidSize,
        RejectReason::InvalidPrice => v1::RejectReason::InvalidPrice,
        RejectReason::DuplicateId => v1::RejectReason::DuplicateId,
        RejectReason::TooManyOrders => v1::RejectReason::TooManyOrders,
        RejectReason::OffGrid => v1::RejectReason::OffGrid,
        RejectReason::UnknownSymbol => v1::RejectReason::UnknownSymbol,
        RejectReason::UnknownOrder => v1::RejectReason::UnknownOrder,
        RejectReason::InvalidOrder => v1::RejectReason::InvalidOrder,
    }
}

fn side_to_wire(s: OrderSide) -> v1::Side {
    match s {
        OrderSide::Buy => v1::Side::Buy,
        OrderSide::Sell => v1::Side::Sell,
    }
}

/// The wire form of one exchange answer.
pub fn update_to_wire(ev: &OrderEvent) -> v1::OrderUpdate {
    use v1::OrderUpdateKind as K;
    let mut u = v1::OrderUpdate::default();
    match *ev {
        OrderEvent::Accepted { id } => {
            u.client_order_id = id;
            u.kind = K::Accepted as i32;
        }
        OrderEvent::Rejected { id, reason } => {
            u.client_order_id = id;
            u.kind = K::Rejected as i32;
            u.reason = reason_to_wire(reason) as i32;
        }
        OrderEvent::Filled {
            id,
            side,
            qty,
            price,
            liquidity,
            fee_bps,
            done,
        } => {
            u.client_order_id = id;
            u.kind = K::Filled as i32;
            u.side = side_to_wire(side) as i32;
            u.price = price;
            u.size = qty;
            u.liquidity = match liquidity {
                Liquidity::Maker => v1::Liquidity::Maker,
                Liquidity::Taker => v1::Liquidity::Taker,
            } as i32;
            u.fee_bps = fee_bps;
            u.done = done;
        }
        OrderEvent::Cancelled { id } => {
            u.client_order_id = id;
            u.kind = K::Cancelled as i32;
        }
        OrderEvent::CancelRejected { id } => {
            u.client_order_id = id;
            u.kind = K::CancelRejected as i32;
            u.reason = v1::RejectReason::UnknownOrder as i32;
        }
    }
    u
}

/// Reads one wire order of `symbol`'s decision on `grid` as the engine's
/// requests (a `REPLACE` is two), pushing them onto `out`. What cannot be an
/// order is pushed as [`OrderAction::Refused`] with the reason.
pub fn order_from_wire(o: &v1::Order, symbol: &str, grid: &Instrument, out: &mut Vec<OrderAction>) {
    use v1::OrderKind as K;
    let id = o.client_order_id;
    if !o.symbol.is_empty() && o.symbol != symbol {
        out.push(OrderAction::Refused {
            id,
            reason: RejectReason::UnknownSymbol,
        });
        return;
    }
    match K::try_from(o.kind) {
        Ok(K::Cancel) => out.push(OrderAction::Cancel { id }),
        Ok(K::Place) => out.push(placed(o, id, grid)),
        Ok(K::Replace) => {
            out.push(OrderAction::Cancel { id });
            out.push(placed(o, o.new_client_order_id, grid));
        }
        Ok(K::Unspecified) | Err(_) => out.push(OrderAction::Refused {
            id,
            reason: RejectReason::InvalidOrder,
        }),
    }
}

/// The order a `PLACE` (or a `REPLACE`'s new order) asks for, as `id`.
fn placed(o: &v1::Order, id: u64, grid: &Instrument) -> OrderAction {
    let refused = |reason| OrderAction::Refused { id, reason };
    let side = match v1::Side::try_from(o.side) {
        Ok(v1::Side::Buy) => OrderSide::Buy,
        Ok(v1::Side::Sell) => OrderSide::Sell,
        _ => return refused(RejectReason::InvalidOrder),
    };
    match v1::OrderType::try_from(o.r#type) {
        Ok(v1::OrderType::Market) => OrderAction::Market {
            id,
            side,
            qty: o.size,
        },
        Ok(v1::OrderType::Limit) => {
            let tif = match v1::TimeInForce::try_from(o.time_in_force) {
                Ok(v1::TimeInForce::PostOnly) => TimeInForce::PostOnly,
                Ok(v1::TimeInForce::Gtc | v1::TimeInForce::Unspecified) => TimeInForce::Gtc,
                Err(_) => return refused(RejectReason::InvalidOrder),
            };
            if !(o.price.is_finite() && o.price > 0.0) {
                return refused(RejectReason::InvalidPrice);
            }
            let ticks = grid.ticks(o.price);
            if (grid.price(ticks) - o.price).abs() > grid.tick_size * 1e-6 {
                return refused(RejectReason::OffGrid);
            }
            OrderAction::Place {
                id,
                side,
                price_ticks: ticks,
                qty: o.size,
                tif,
            }
        }
        _ => refused(RejectReason::InvalidOrder),
    }
}
