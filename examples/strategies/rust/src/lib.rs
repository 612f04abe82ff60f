//! `quoting-strategy`: an external strategy for shadowkpi, written in Rust
//! (the library; `src/main.rs` is the server's command line).
//!
//! It serves `shadowkpi.v1.StrategyService` (proto/shadowkpi/v1/strategy.proto)
//! and re-implements the built-in quoting market maker from the wire messages
//! alone, so a run against it gives the same orders and fills, bit for bit, as
//! the built-in one. Use it as a template: replace [`Quoter::decide`] with your
//! own rules.
//!
//! A session is in lockstep: the exchange sends `start` (answered `ready`),
//! then one `decide` at a time, each answered by exactly one `decision` that
//! carries the request's `sequence`.

use std::collections::HashMap;
use std::future::Future;

use futures::StreamExt as _;
use shadowkpi_proto::v1::session_request::Event;
use shadowkpi_proto::v1::session_response::Reply;
use shadowkpi_proto::v1::strategy_service_server::{StrategyService, StrategyServiceServer};
use shadowkpi_proto::v1::{
    DecideRequest, Decision, Order, OrderKind, OrderType, OrderUpdate, OrderUpdateKind,
    SessionReady, SessionRequest, SessionResponse, SessionStart, Side, TimeInForce, WakeOn,
};
use tokio::sync::mpsc;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

/// Slack for inventory comparisons, so `n` lots of `0.01` reach a limit of `n × 0.01`.
const INV_EPS: f64 = 1e-9;

/// A symbol's price and size grid (`DecideRequest.grid`). The exchange compares
/// prices as whole numbers of ticks, so the strategy keeps its prices in ticks.
#[derive(Clone, Copy)]
struct Grid {
    tick: f64,
    lot: f64,
}

impl Grid {
    /// Nearest whole number of ticks, rounding half away from zero.
    fn ticks(&self, price: f64) -> i64 {
        let x = price / self.tick;
        (x + 0.5f64.copysign(x)) as i64
    }
    /// The price of `t` ticks (what goes into `Order.price`).
    fn price(&self, t: i64) -> f64 {
        t as f64 * self.tick
    }
    /// Largest tick count at or below `price` (a bid); float noise around a
    /// grid point counts as that point.
    fn ticks_floor(&self, price: f64) -> i64 {
        let t = self.ticks(price);
        if self.price(t) <= price + self.tick * 1e-6 {
            t
        } else {
            t - 1
        }
    }
    /// Smallest tick count at or above `price` (an ask).
    fn ticks_ceil(&self, price: f64) -> i64 {
        let t = self.ticks(price);
        if self.price(t) >= price - self.tick * 1e-6 {
            t
        } else {
            t + 1
        }
    }
    /// `qty` rounded down to whole lots, at least one lot.
    fn order_qty(&self, qty: f64) -> f64 {
        let l = (qty / self.lot).round();
        let l = if l * self.lot <= qty + self.lot * 1e-6 {
            l
        } else {
            l - 1.0
        };
        self.lot * (l.max(0.0) as i64).max(1) as f64
    }
}

/// `+1` for a buy, `-1` for a sell (0 for a side the exchange left unset).
fn sign(side: Side) -> f64 {
    match side {
        Side::Buy => 1.0,
        Side::Sell => -1.0,
        Side::Unspecified => 0.0,
    }
}

/// A quote as we last sent it.
#[derive(Clone, Copy)]
struct Quote {
    id: u64,
    price_ticks: i64,
    /// The exchange accepted it (only then may it be cancelled).
    acked: bool,
}

/// The quoting market maker of one symbol.
#[derive(Default)]
struct Quoter {
    /// `min_lot`, `quote_offset_bps`, `inventory_limit`, `requote_threshold_bps`.
    min_lot: f64,
    offset_bps: f64,
    limit: f64,
    threshold_bps: f64,
    /// Signed position, from the fills reported so far.
    inventory: f64,
    /// Our working quotes: `[bid, ask]`.
    quotes: [Option<Quote>; 2],
    /// Id and signed size of the hedge in flight.
    hedge: Option<(u64, f64)>,
    /// The last order id we used: ids are per symbol, from 1.
    last_id: u64,
    /// Tick size of the previous decision, to rescale prices when it changes.
    tick: Option<f64>,
}

impl Quoter {
    /// Takes in one exchange answer about one of our orders.
    fn on_update(&mut self, u: &OrderUpdate) {
        let id = u.client_order_id;
        match u.kind() {
            OrderUpdateKind::Accepted => {
                for q in self.quotes.iter_mut().flatten() {
                    if q.id == id {
                        q.acked = true;
                    }
                }
            }
            OrderUpdateKind::Rejected => self.forget(id),
            OrderUpdateKind::Filled => {
                self.inventory += sign(u.side()) * u.size;
                // Snap rounding residue so a flat book is exactly flat.
                if self.inventory.abs() < INV_EPS {
                    self.inventory = 0.0;
                }
                if u.done {
                    self.forget(id);
                }
            }
            _ => {} // cancelled, cancel rejected: nothing to do
        }
    }

    /// Drops order `id` from our quotes and hedge.
    fn forget(&mut self, id: u64) {
        for slot in &mut self.quotes {
            if slot.is_some_and(|q| q.id == id) {
                *slot = None;
            }
        }
        if self.hedge.is_some_and(|(h, _)| h == id) {
            self.hedge = None;
        }
    }

    /// A grid can only get finer (it is inferred from the feed): prices kept in
    /// ticks are multiplied by how many new ticks make an old one.
    fn set_tick(&mut self, tick: f64) {
        if let Some(old) = self.tick.replace(tick)
            && old != tick
        {
            let factor = (old / tick).round().max(1.0) as i64;
            for q in self.quotes.iter_mut().flatten() {
                q.price_ticks = q.price_ticks.saturating_mul(factor);
            }
        }
    }

    /// The next order id.
    fn take_id(&mut self) -> u64 {
        self.last_id += 1;
        self.last_id
    }

    /// The orders for the book `bid`/`ask` on grid `g`.
    fn decide(&mut self, bid: f64, ask: f64, g: Grid) -> Vec<Order> {
        let mut orders = Vec::new();
        let (limit, lot) = (self.limit, g.order_qty(self.min_lot));
        let mid = (bid + ask) / 2.0;

        // Hedge: past the limit (a fill can land before a cancel), go back to
        // half the limit with a market order, one at a time.
        if self.hedge.is_none() && self.inventory.abs() > limit + INV_EPS {
            let side = if self.inventory > 0.0 {
                Side::Sell
            } else {
                Side::Buy
            };
            let qty = g.order_qty(self.inventory.abs() - limit / 2.0);
            let id = self.take_id();
            self.hedge = Some((id, sign(side) * qty));
            orders.push(Order {
                kind: OrderKind::Place.into(),
                client_order_id: id,
                side: side.into(),
                r#type: OrderType::Market.into(),
                size: qty,
                ..Order::default()
            });
        }
        // Quote against the inventory we will have once the hedge lands,
        // skewed against it; bids rounded down, asks up, never inside the touch.
        let inv = self.inventory + self.hedge.map_or(0.0, |(_, q)| q);
        let skew_bps = self.offset_bps * (inv / limit).clamp(-1.0, 1.0);
        let bid_px = g
            .ticks_floor(mid * (1.0 - (self.offset_bps + skew_bps) / 1e4))
            .min(g.ticks(bid));
        let ask_px = g
            .ticks_ceil(mid * (1.0 + (self.offset_bps - skew_bps) / 1e4))
            .max(g.ticks(ask));
        let bid_ok = inv + lot <= limit + INV_EPS;
        let ask_ok = inv - lot >= -limit - INV_EPS;

        let sides = [(Side::Buy, bid_px, bid_ok), (Side::Sell, ask_px, ask_ok)];
        for (i, (side, target, allowed)) in sides.into_iter().enumerate() {
            self.quotes[i] = match (allowed, self.quotes[i]) {
                (false, None) => None,
                // An order is cancelled only once it is acknowledged.
                (_, Some(q)) if !q.acked => Some(q),
                (false, Some(q)) => {
                    orders.push(cancel(q.id));
                    None
                }
                (true, None) => Some(self.place(side, target, lot, g, &mut orders)),
                (true, Some(q)) => {
                    let moved_bps = if mid > 0.0 {
                        g.price((target - q.price_ticks).abs()) / mid * 1e4
                    } else {
                        0.0
                    };
                    // Requote: cancel, then place at the target, in that order.
                    if target != q.price_ticks && moved_bps > self.threshold_bps {
                        orders.push(cancel(q.id));
                        Some(self.place(side, target, lot, g, &mut orders))
                    } else {
                        Some(q)
                    }
                }
            };
        }
        orders
    }

    /// Sends a post-only quote and returns it as working.
    fn place(&mut self, side: Side, t: i64, lot: f64, g: Grid, orders: &mut Vec<Order>) -> Quote {
        let id = self.take_id();
        orders.push(Order {
            kind: OrderKind::Place.into(),
            client_order_id: id,
            side: side.into(),
            r#type: OrderType::Limit.into(),
            time_in_force: TimeInForce::PostOnly.into(),
            price: g.price(t),
            size: lot,
            ..Order::default()
        });
        Quote {
            id,
            price_ticks: t,
            acked: false,
        }
    }
}

/// A cancel of order `id`.
fn cancel(id: u64) -> Order {
    Order {
        kind: OrderKind::Cancel.into(),
        client_order_id: id,
        ..Order::default()
    }
}

/// One quoter per symbol of the run, from `SessionStart.symbols`.
fn quoters(start: &SessionStart) -> Result<HashMap<String, Quoter>, Status> {
    let mut out = HashMap::new();
    for s in &start.symbols {
        let p = s.params.unwrap_or_default();
        let (Some(min_lot), Some(offset_bps), Some(limit), Some(threshold_bps)) = (
            p.min_lot,
            p.quote_offset_bps,
            p.inventory_limit,
            p.requote_threshold_bps,
        ) else {
            return Err(Status::invalid_argument(format!(
                "{}: params incomplete",
                s.symbol
            )));
        };
        let q = Quoter {
            min_lot,
            offset_bps,
            limit,
            threshold_bps,
            ..Quoter::default()
        };
        out.insert(s.symbol.clone(), q);
    }
    Ok(out)
}

/// Answers one `decide`: updates first, in order, then the grid, then the book.
fn decide(quoters: &mut HashMap<String, Quoter>, req: DecideRequest) -> Result<Decision, Status> {
    let mut orders = Vec::new();
    // A symbol outside the run: nothing to quote.
    if let Some(q) = quoters.get_mut(&req.symbol) {
        let (Some(market), Some(grid)) = (req.market, req.grid) else {
            return Err(Status::invalid_argument("decide without market or grid"));
        };
        req.updates.iter().for_each(|u| q.on_update(u));
        q.set_tick(grid.tick_size);
        let g = Grid {
            tick: grid.tick_size,
            lot: grid.lot_size,
        };
        orders = q.decide(market.bid, market.ask, g);
    }
    Ok(Decision {
        sequence: req.sequence,
        orders,
    })
}

/// The gRPC service: one independent session per `Session` call.
#[derive(Debug, Clone, Copy)]
pub struct QuotingService {
    wake_on: WakeOn,
}

impl QuotingService {
    /// The service, asking for the decisions `wake_on` says.
    pub fn new(wake_on: WakeOn) -> Self {
        Self { wake_on }
    }
}

/// Serves the strategy on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: tokio::net::TcpListener,
    wake_on: WakeOn,
    shutdown: impl Future<Output = ()>,
) -> Result<(), tonic::transport::Error> {
    // Small messages in lockstep: without TCP_NODELAY each answer can wait
    // for a delayed ACK (tens of ms).
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|s| {
            let _ = s.set_nodelay(true);
        })
    });
    tonic::transport::Server::builder()
        .add_service(StrategyServiceServer::new(QuotingService::new(wake_on)))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

#[tonic::async_trait]
impl StrategyService for QuotingService {
    type SessionStream = ReceiverStream<Result<SessionResponse, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<SessionRequest>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let (inbound, wake_on) = (request.into_inner(), self.wake_on);
        tokio::spawn(async move {
            // A protocol error ends the stream with its status.
            if let Err(status) = run_session(inbound, &tx, wake_on).await {
                let _ = tx.send(Err(status)).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Reads the requests of one session and answers each, in order.
async fn run_session(
    mut inbound: Streaming<SessionRequest>,
    tx: &mpsc::Sender<Result<SessionResponse, Status>>,
    wake_on: WakeOn,
) -> Result<(), Status> {
    let mut state: Option<HashMap<String, Quoter>> = None;
    // `None` from the stream: the exchange closed it, the run is over.
    while let Some(req) = inbound.message().await? {
        let reply = match (req.event, state.as_mut()) {
            (Some(Event::Start(start)), None) => {
                state = Some(quoters(&start)?);
                Reply::Ready(SessionReady {
                    name: "quoting-strategy-rust".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    wake_on: wake_on.into(),
                })
            }
            (Some(Event::Decide(req)), Some(quoters)) => Reply::Decision(decide(quoters, req)?),
            (Some(Event::Start(_)), Some(_)) => {
                return Err(Status::failed_precondition("start sent twice"));
            }
            (Some(Event::Decide(_)), None) => {
                return Err(Status::failed_precondition("decide before start"));
            }
            (None, _) => return Err(Status::invalid_argument("empty request")),
        };
        if tx
            .send(Ok(SessionResponse { reply: Some(reply) }))
            .await
            .is_err()
        {
            break; // the exchange went away
        }
    }
    Ok(())
}
