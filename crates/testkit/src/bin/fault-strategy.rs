//! `fault-strategy`: a `shadowkpi.v1.StrategyService` server for tests, which
//! misbehaves on purpose.
//!
//! Without a fault it is a trivial market maker: at each decision of a symbol
//! it places a post-only buy of one lot at the shown `bid` and a post-only
//! sell of one lot at the shown `ask` on each side where it has no order
//! working, and it forgets an order once it is rejected, cancelled or fully
//! filled. Order ids are per symbol, from 1.
//!
//! `--fault MODE` picks one misbehaviour, starting at the `--after N`-th
//! `DecideRequest` of the session (counting from 1; default 1):
//!
//! | mode             | at decision N                                           |
//! |------------------|---------------------------------------------------------|
//! | `none`           | behaves normally                                        |
//! | `hang`           | never answers it or any later one; keeps the stream open |
//! | `exit`           | the process exits (status 0) without answering          |
//! | `wrong-sequence` | answers with `sequence + 1000`                          |
//! | `no-ready`       | answers `start` with a `decision` (ignores `--after`)   |
//! | `bad-orders`     | answers with malformed orders (see [`bad_orders`])      |
//! | `flood`          | answers with `--flood-count K` post-only buys           |
//!
//! After a one-shot fault (`wrong-sequence`, `bad-orders`, `flood`) it goes
//! back to normal. Like the example strategies it prints `listening on ADDR`
//! once bound (`--listen 127.0.0.1:0` picks a free port) and serves until
//! SIGINT or SIGTERM.

use std::collections::HashMap;
use std::io::Write as _;

use clap::{Parser, ValueEnum};
use shadowkpi_proto::v1::session_request::Event;
use shadowkpi_proto::v1::session_response::Reply;
use shadowkpi_proto::v1::strategy_service_server::{StrategyService, StrategyServiceServer};
use shadowkpi_proto::v1::{
    DecideRequest, Decision, Order, OrderKind, OrderType, OrderUpdateKind, SessionReady,
    SessionRequest, SessionResponse, Side, TimeInForce, WakeOn,
};
use tokio::sync::mpsc;
use tokio_stream::StreamExt as _;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

/// The misbehaviour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Fault {
    /// Behave normally.
    None,
    /// From decision N on, never answer (the stream stays open).
    Hang,
    /// At decision N, exit the process (status 0) without answering.
    Exit,
    /// At decision N, answer with `sequence + 1000`.
    WrongSequence,
    /// Answer `start` with a `decision` instead of `ready`.
    NoReady,
    /// At decision N, answer with seven malformed orders, one per reject reason.
    BadOrders,
    /// At decision N, answer with `--flood-count` post-only buys.
    Flood,
}

/// A StrategyService server that injects one fault.
#[derive(Debug, Parser)]
struct Cli {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:50060")]
    listen: String,
    /// The fault to inject.
    #[arg(long, value_enum, default_value = "none")]
    fault: Fault,
    /// The decision (1-based, per session) at which the fault starts.
    #[arg(long, default_value_t = 1)]
    after: u64,
    /// Number of orders of the `flood` fault.
    #[arg(long, default_value_t = 100)]
    flood_count: u64,
    /// Which decisions to be sent (`SessionReady.wake_on`).
    #[arg(long, value_enum, default_value = "every")]
    wake_on: Wake,
}

/// `--wake-on`.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Wake {
    /// WAKE_ON_EVERY_DECISION.
    Every,
    /// WAKE_ON_CHANGE.
    Change,
}

/// The orders working of one symbol: ids of the bid and the ask.
#[derive(Debug, Default)]
struct Book {
    bid: Option<u64>,
    ask: Option<u64>,
    last_id: u64,
}

/// A post-only limit buy or sell of `client_order_id`.
fn limit(id: u64, side: Side, price: f64, size: f64) -> Order {
    Order {
        kind: OrderKind::Place.into(),
        client_order_id: id,
        side: side.into(),
        r#type: OrderType::Limit.into(),
        time_in_force: TimeInForce::PostOnly.into(),
        price,
        size,
        ..Order::default()
    }
}

/// The trivial market maker's orders.
fn normal(books: &mut HashMap<String, Book>, req: &DecideRequest) -> Vec<Order> {
    let b = books.entry(req.symbol.clone()).or_default();
    for u in &req.updates {
        let gone = match u.kind() {
            OrderUpdateKind::Rejected | OrderUpdateKind::Cancelled => true,
            OrderUpdateKind::Filled => u.done,
            _ => false,
        };
        for slot in [&mut b.bid, &mut b.ask] {
            if gone && *slot == Some(u.client_order_id) {
                *slot = None;
            }
        }
    }
    let (m, g) = (req.market.unwrap_or_default(), req.grid.unwrap_or_default());
    let mut orders = Vec::new();
    for (slot, side, price) in [
        (&mut b.bid, Side::Buy, m.bid),
        (&mut b.ask, Side::Sell, m.ask),
    ] {
        if slot.is_none() && price > 0.0 && g.lot_size > 0.0 {
            b.last_id += 1;
            *slot = Some(b.last_id);
            orders.push(limit(b.last_id, side, price, g.lot_size));
        }
    }
    orders
}

/// The `bad-orders` answer: each order is refused, with the reject reason
/// (`RejectReason`, as counted in `SymbolSummary.rejects`) in its comment.
fn bad_orders(req: &DecideRequest) -> Vec<Order> {
    let (m, g) = (req.market.unwrap_or_default(), req.grid.unwrap_or_default());
    let (bid, lot) = (m.bid, g.lot_size);
    vec![
        // invalid_size: zero.
        limit(9001, Side::Buy, bid, 0.0),
        // invalid_size: negative.
        limit(9002, Side::Buy, bid, -1.0),
        // invalid_size: not finite.
        limit(9003, Side::Buy, bid, f64::NAN),
        // off_grid: half a tick above the bid.
        limit(9004, Side::Buy, bid + g.tick_size * 0.5, lot),
        // unknown_order (a CANCEL_REJECTED update): no such resting order.
        Order {
            kind: OrderKind::Cancel.into(),
            client_order_id: 424_242,
            ..Order::default()
        },
        // unknown_symbol: not the deciding symbol (nor one of the run).
        Order {
            symbol: "NOTINRUN".into(),
            ..limit(9005, Side::Buy, bid, lot)
        },
        // invalid_order: a PLACE without a side.
        limit(9006, Side::Unspecified, bid, lot),
    ]
}

/// The `flood` answer: `count` post-only buys of one lot, the i-th at `i`
/// ticks below the bid (ids `10000 + i`).
fn flood(req: &DecideRequest, count: u64) -> Vec<Order> {
    let (m, g) = (req.market.unwrap_or_default(), req.grid.unwrap_or_default());
    let bid_ticks = (m.bid / g.tick_size).round();
    (1..=count)
        .map(|i| {
            let price = (bid_ticks - i as f64) * g.tick_size;
            limit(10_000 + i, Side::Buy, price, g.lot_size)
        })
        .collect()
}

/// The server: the CLI's fault for every session.
#[derive(Debug)]
struct FaultService {
    cli: Cli,
}

#[tonic::async_trait]
impl StrategyService for FaultService {
    type SessionStream = ReceiverStream<Result<SessionResponse, Status>>;

    async fn session(
        &self,
        request: Request<Streaming<SessionRequest>>,
    ) -> Result<Response<Self::SessionStream>, Status> {
        let (tx, rx) = mpsc::channel(16);
        let inbound = request.into_inner();
        let (fault, after, count) = (self.cli.fault, self.cli.after, self.cli.flood_count);
        let wake_on = match self.cli.wake_on {
            Wake::Every => WakeOn::EveryDecision,
            Wake::Change => WakeOn::Change,
        };
        tokio::spawn(async move {
            let cfg = (fault, after, count, wake_on);
            if let Err(status) = run_session(inbound, &tx, cfg).await {
                let _ = tx.send(Err(status)).await;
            }
        });
        Ok(Response::new(ReceiverStream::new(rx)))
    }
}

/// Answers the requests of one session, injecting the fault.
async fn run_session(
    mut inbound: Streaming<SessionRequest>,
    tx: &mpsc::Sender<Result<SessionResponse, Status>>,
    (fault, after, count, wake_on): (Fault, u64, u64, WakeOn),
) -> Result<(), Status> {
    let mut books = HashMap::new();
    let mut n = 0u64; // DecideRequests seen
    while let Some(req) = inbound.message().await? {
        let reply = match req.event {
            Some(Event::Start(_)) if fault == Fault::NoReady => Reply::Decision(Decision {
                sequence: 0,
                orders: vec![],
            }),
            Some(Event::Start(_)) => Reply::Ready(SessionReady {
                name: "fault-strategy".into(),
                version: env!("CARGO_PKG_VERSION").into(),
                wake_on: wake_on.into(),
            }),
            Some(Event::Decide(d)) => {
                n += 1;
                let (at, from) = (n == after, n >= after);
                let mut sequence = d.sequence;
                let orders = match fault {
                    Fault::Hang if from => continue,
                    Fault::Exit if at => std::process::exit(0),
                    Fault::BadOrders if at => bad_orders(&d),
                    Fault::Flood if at => flood(&d, count),
                    Fault::WrongSequence if at => {
                        sequence += 1000;
                        normal(&mut books, &d)
                    }
                    _ => normal(&mut books, &d),
                };
                Reply::Decision(Decision { sequence, orders })
            }
            None => return Err(Status::invalid_argument("empty request")),
        };
        if tx
            .send(Ok(SessionResponse { reply: Some(reply) }))
            .await
            .is_err()
        {
            break;
        }
    }
    Ok(())
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    #[cfg(unix)]
    if let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
        return;
    }
    let _ = tokio::signal::ctrl_c().await;
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let cli = Cli::parse();
    let listener = tokio::net::TcpListener::bind(&cli.listen).await?;
    println!("listening on {}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let incoming = TcpListenerStream::new(listener).map(|conn| {
        conn.inspect(|s| {
            let _ = s.set_nodelay(true);
        })
    });
    tonic::transport::Server::builder()
        .add_service(StrategyServiceServer::new(FaultService { cli }))
        .serve_with_incoming_shutdown(incoming, shutdown_signal())
        .await?;
    Ok(())
}
