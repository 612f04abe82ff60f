//! The strategy interface of the engine: a strategy of one's own gets the
//! exchange's responses and its decisions in event time through it, and the
//! built-in market maker goes through the same path (a strategy that only
//! forwards to it gives bit-identical windows).

use std::sync::{Arc, Mutex};

use shadowkpi_domain::engine::testfeed::{FeedSpec, merge};
use shadowkpi_domain::engine::{
    BookView, BuiltIn, ConstantLatency, EngineConfig, Liquidity, ModelSet, OrderAction, OrderEvent,
    OrderSide, QuotingStrategy, RejectReason, ShadowEngine, Strategy, StrategyFactory, TimeInForce,
};
use shadowkpi_domain::instrument::Instrument;
use shadowkpi_domain::params::StrategyParams;

mod ticks;
use ticks::{SYM, book, sell_at, touch_params};

/// What a strategy was told, in order.
#[derive(Debug, Clone, PartialEq)]
enum Seen {
    Event(i64, OrderEvent),
    Decision(i64, BookView),
}

/// Buys one lot at the best bid at its first decision and sells it at market
/// as soon as it hears of the fill; records everything it is told.
#[derive(Debug)]
struct BuyThenFlatten {
    log: Arc<Mutex<Vec<Seen>>>,
    placed: bool,
    filled: bool,
    flattened: bool,
}

impl Strategy for BuyThenFlatten {
    fn on_event(&mut self, at_ms: i64, event: &OrderEvent) {
        if matches!(event, OrderEvent::Filled { id: 42, .. }) {
            self.filled = true;
        }
        self.log
            .lock()
            .unwrap()
            .push(Seen::Event(at_ms, event.clone()));
    }

    fn decide(
        &mut self,
        at_ms: i64,
        book: &BookView,
        instrument: &Instrument,
        actions: &mut Vec<OrderAction>,
    ) {
        self.log.lock().unwrap().push(Seen::Decision(at_ms, *book));
        if !self.placed {
            self.placed = true;
            actions.push(OrderAction::Place {
                id: 42,
                side: OrderSide::Buy,
                price_ticks: instrument.ticks(book.bid),
                qty: 1.0,
                tif: TimeInForce::PostOnly,
            });
        } else if self.filled && !self.flattened {
            self.flattened = true;
            actions.push(OrderAction::Market {
                id: 43,
                side: OrderSide::Sell,
                qty: 1.0,
            });
        }
    }

    fn refine_grid(&mut self, _factor: i64) {}
}

/// Builds [`BuyThenFlatten`] and records which symbols it was asked for.
#[derive(Debug, Default)]
struct Factory {
    log: Arc<Mutex<Vec<Seen>>>,
    built: Mutex<Vec<(String, f64)>>,
}

impl StrategyFactory for Factory {
    fn build(&self, symbol: &str, params: &StrategyParams) -> Box<dyn Strategy> {
        self.built
            .lock()
            .unwrap()
            .push((symbol.to_string(), params.min_lot));
        Box::new(BuyThenFlatten {
            log: self.log.clone(),
            placed: false,
            filled: false,
            flattened: false,
        })
    }
}

#[test]
fn a_strategy_of_its_own_hears_its_responses_after_the_latency_and_its_fills_count() {
    // Entry 10 ms, response 5 ms, feed 0, front of the queue.
    // t=0: decides on 100.0/100.2, sends a post-only bid of 1 @ 100.0 (arrives 10,
    //      acknowledged at 15).
    // t=20: takes in Accepted. t=30: a seller hits 100.0 for 1: our bid fills
    //      (maker, −0.5 bp), the response arrives at 35.
    // t=40: takes in the fill (price 100.0, maker, fee −0.5, done) and sends a
    //      market sell of 1 (arrives 50).
    // t=60: the sell executed at 50 against the bid of 100.0 (taker, 5.5 bp);
    //      its response (55) is taken in at 60.
    // t=1000: the last tick is decided on too (at finish); nothing to do.
    let models = ModelSet::builder()
        .latency(ConstantLatency {
            feed_ms: 0,
            entry_ms: 10,
            response_ms: 5,
        })
        .build();
    let factory = Arc::new(Factory::default());
    let config = EngineConfig::new(1_000)
        .with_symbol(SYM, touch_params())
        .with_instrument(SYM, Instrument::new(0.1, 0.05).unwrap())
        .with_models(models)
        .with_strategy(factory.clone());
    let ticks = [
        book(0, 100.0, 100.2),
        book(20, 100.0, 100.2),
        sell_at(book(30, 100.0, 100.2), 100.0, 1.0),
        book(40, 100.0, 100.2),
        book(60, 100.0, 100.2),
        book(1_000, 100.0, 100.2),
    ];
    let windows = ShadowEngine::run(config, &ticks).unwrap();

    assert_eq!(*factory.built.lock().unwrap(), [(SYM.to_string(), 1.0)]);
    let touch = BookView {
        bid: 100.0,
        ask: 100.2,
        ticks: 1,
        ..BookView::default()
    };
    // The decision on the tick with a trade is shown the trade.
    let traded = BookView {
        sold: 1.0,
        last_trade_px: 100.0,
        ..touch
    };
    let log = factory.log.lock().unwrap().clone();
    assert_eq!(
        log,
        [
            Seen::Decision(0, touch),
            Seen::Event(20, OrderEvent::Accepted { id: 42 }),
            Seen::Decision(20, touch),
            Seen::Decision(30, traded),
            Seen::Event(
                40,
                OrderEvent::Filled {
                    id: 42,
                    side: OrderSide::Buy,
                    qty: 1.0,
                    price: 100.0,
                    liquidity: Liquidity::Maker,
                    fee_bps: -0.5,
                    done: true,
                }
            ),
            Seen::Decision(40, touch),
            Seen::Event(
                60,
                OrderEvent::Filled {
                    id: 43,
                    side: OrderSide::Sell,
                    qty: 1.0,
                    price: 100.0,
                    liquidity: Liquidity::Taker,
                    fee_bps: 5.5,
                    done: true,
                }
            ),
            Seen::Decision(60, touch),
            Seen::Decision(1_000, touch),
        ]
    );

    let w = &windows[0].symbols[SYM];
    let fills: Vec<_> = w
        .fills
        .iter()
        .map(|f| (f.order_id, f.side, f.liquidity, f.ts_ms, f.price, f.age_ms))
        .collect();
    assert_eq!(
        fills,
        [
            (42, OrderSide::Buy, Liquidity::Maker, 30, 100.0, 30),
            (43, OrderSide::Sell, Liquidity::Taker, 50, 100.0, 10),
        ]
    );
    assert_eq!(w.kpis.maker_count, 1);
    assert_eq!(w.kpis.taker_count, 1);
    // maker fills / all fills
    assert_eq!(w.kpis.maker_taker_ratio, Some(0.5));
    // mid 100.1, mark-out 0: the buy earns 0.1/100.1 = 9.990 bp + 0.5 rebate,
    // the sell loses 9.990 bp + 5.5 fee; per fill (−5.0 bp in all) −2.5 bp
    let edge = w.kpis.edge_bps.unwrap();
    assert!((edge - -2.5).abs() < 1e-9, "{edge}");
    assert_eq!(w.inventory_end, 0.0);
    assert_eq!(w.rejected_orders, 0);
}

/// Forwards every call to the built-in market maker and counts them.
#[derive(Debug)]
struct Forwarding {
    inner: QuotingStrategy,
    calls: Arc<Mutex<(u64, u64)>>,
}

impl Strategy for Forwarding {
    fn on_event(&mut self, at_ms: i64, event: &OrderEvent) {
        self.calls.lock().unwrap().0 += 1;
        Strategy::on_event(&mut self.inner, at_ms, event);
    }

    fn decide(
        &mut self,
        at_ms: i64,
        book: &BookView,
        instrument: &Instrument,
        actions: &mut Vec<OrderAction>,
    ) {
        self.calls.lock().unwrap().1 += 1;
        Strategy::decide(&mut self.inner, at_ms, book, instrument, actions);
    }

    fn refine_grid(&mut self, factor: i64) {
        Strategy::refine_grid(&mut self.inner, factor);
    }
}

#[derive(Debug, Default)]
struct ForwardingFactory {
    calls: Arc<Mutex<(u64, u64)>>,
}

impl StrategyFactory for ForwardingFactory {
    fn build(&self, _symbol: &str, params: &StrategyParams) -> Box<dyn Strategy> {
        Box::new(Forwarding {
            inner: QuotingStrategy::new(params.clone()),
            calls: self.calls.clone(),
        })
    }
}

#[test]
fn the_built_in_market_maker_behind_the_interface_gives_bit_identical_windows() {
    // Two symbols, ten minutes, the dry run's strict models (random latency,
    // risk-averse queue), the grid inferred from the feed.
    let feed = merge(vec![
        FeedSpec::btc_like(3, 1_700_000_000_000, 600_000).generate(),
        FeedSpec::eth_like(4, 1_700_000_000_000, 600_000).generate(),
    ]);
    let config = || {
        EngineConfig::new(60_000)
            .with_models(ModelSet::strict(11))
            .with_seed(5)
    };
    let built_in = ShadowEngine::run(config(), &feed).unwrap();
    let explicit = ShadowEngine::run(config().with_strategy(Arc::new(BuiltIn)), &feed).unwrap();
    assert_eq!(built_in, explicit);
    let factory = Arc::new(ForwardingFactory::default());
    let forwarded = ShadowEngine::run(config().with_strategy(factory.clone()), &feed).unwrap();
    assert_eq!(built_in, forwarded);

    let (events, decisions) = *factory.calls.lock().unwrap();
    let fills: usize = built_in
        .iter()
        .flat_map(|w| w.symbols.values())
        .map(|s| s.fills.len())
        .sum();
    assert_eq!(built_in.len(), 10);
    assert!(fills > 100, "{fills} fills");
    // every fill is reported, besides the acknowledgements and cancels
    assert!(events as usize > fills, "{events} events, {fills} fills");
    // one decision per millisecond with ticks, at most one per tick
    assert!(
        decisions > 0 && decisions as usize <= feed.len(),
        "{decisions}"
    );
}

/// Sends the orders of its script at its first decision and records what
/// comes back.
#[derive(Debug)]
struct Scripted {
    script: Vec<OrderAction>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl Strategy for Scripted {
    fn on_event(&mut self, at_ms: i64, event: &OrderEvent) {
        self.log
            .lock()
            .unwrap()
            .push(Seen::Event(at_ms, event.clone()));
    }

    fn decide(
        &mut self,
        _at_ms: i64,
        _book: &BookView,
        _instrument: &Instrument,
        actions: &mut Vec<OrderAction>,
    ) {
        actions.append(&mut self.script);
    }

    fn refine_grid(&mut self, _factor: i64) {}
}

#[derive(Debug)]
struct ScriptedFactory {
    script: Vec<OrderAction>,
    log: Arc<Mutex<Vec<Seen>>>,
}

impl StrategyFactory for ScriptedFactory {
    fn build(&self, _symbol: &str, _params: &StrategyParams) -> Box<dyn Strategy> {
        Box::new(Scripted {
            script: self.script.clone(),
            log: self.log.clone(),
        })
    }
}

#[test]
fn malformed_orders_are_rejected_with_their_reason_counted_and_the_run_goes_on() {
    // Lots of 0.05, ticks of 0.1 (price 100.0 = 1,000 ticks); no latency.
    let place = |id: u64, price_ticks: i64, qty: f64| OrderAction::Place {
        id,
        side: OrderSide::Buy,
        price_ticks,
        qty,
        tif: TimeInForce::PostOnly,
    };
    let script = vec![
        place(1, 1_000, f64::NAN),
        place(2, 1_000, 0.0),
        place(3, 1_000, -1.0),
        place(4, 1_000, 0.07), // 1.4 lots
        place(5, 0, 1.0),
        OrderAction::Market {
            id: 6,
            side: OrderSide::Sell,
            qty: f64::INFINITY,
        },
        place(7, 1_000, 1.0), // valid: rests at the bid
        place(7, 999, 1.0),   // its id is still resting
    ];
    let log = Arc::new(Mutex::new(Vec::new()));
    let config = EngineConfig::new(1_000)
        .with_symbol(SYM, touch_params())
        .with_instrument(SYM, Instrument::new(0.1, 0.05).unwrap())
        .with_strategy(Arc::new(ScriptedFactory {
            script,
            log: log.clone(),
        }));
    let ticks = [
        book(0, 100.0, 100.2),
        book(10, 100.0, 100.2),
        sell_at(book(20, 100.0, 100.2), 100.0, 1.0),
        book(30, 100.0, 100.2),
        book(1_000, 100.0, 100.2),
    ];
    let windows = ShadowEngine::run(config, &ticks).unwrap();

    let events: Vec<(u64, &'static str)> = log
        .lock()
        .unwrap()
        .iter()
        .map(|s| match s {
            Seen::Event(_, OrderEvent::Rejected { id, reason }) => (*id, reason.as_str()),
            Seen::Event(_, OrderEvent::Accepted { id }) => (*id, "accepted"),
            Seen::Event(_, OrderEvent::Filled { id, .. }) => (*id, "filled"),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        events,
        [
            (1, "invalid_size"),
            (2, "invalid_size"),
            (3, "invalid_size"),
            (4, "invalid_size"),
            (5, "invalid_price"),
            (6, "invalid_size"),
            (7, "accepted"),
            (7, "duplicate_id"),
            (7, "filled"),
        ]
    );
    let w = &windows[0].symbols[SYM];
    assert_eq!(w.rejected_orders, 7);
    assert_eq!(w.fills.len(), 1);
    assert_eq!((w.fills[0].order_id, w.fills[0].qty), (7, 1.0));
    assert_eq!(w.inventory_end, 1.0);
}

#[test]
fn a_flood_of_orders_is_bounded_per_decision_and_the_excess_rejected() {
    // 70 bids below the touch in one decision: the default bound takes 64,
    // the other 6 are answered too_many_orders and never rest; with a bound
    // of 3, three rest.
    let script: Vec<OrderAction> = (0..70)
        .map(|i| OrderAction::Place {
            id: 100 + i,
            side: OrderSide::Buy,
            price_ticks: 990 - i as i64,
            qty: 1.0,
            tif: TimeInForce::PostOnly,
        })
        .collect();
    let ticks = [book(0, 100.0, 100.2), book(10, 100.0, 100.2)];
    for (bound, taken) in [(None, 64usize), (Some(3), 3)] {
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut config = EngineConfig::new(1_000)
            .with_symbol(SYM, touch_params())
            .with_instrument(SYM, Instrument::new(0.1, 0.05).unwrap())
            .with_strategy(Arc::new(ScriptedFactory {
                script: script.clone(),
                log: log.clone(),
            }));
        if let Some(b) = bound {
            config.max_orders_per_decision = b;
        }
        let windows = ShadowEngine::run(config, &ticks).unwrap();
        let log = log.lock().unwrap();
        let accepted: Vec<u64> = log
            .iter()
            .filter_map(|s| match s {
                Seen::Event(_, OrderEvent::Accepted { id }) => Some(*id),
                _ => None,
            })
            .collect();
        let refused: Vec<u64> = log
            .iter()
            .filter_map(|s| match s {
                Seen::Event(
                    _,
                    OrderEvent::Rejected {
                        id,
                        reason: RejectReason::TooManyOrders,
                    },
                ) => Some(*id),
                _ => None,
            })
            .collect();
        assert_eq!(accepted, (100..100 + taken as u64).collect::<Vec<_>>());
        assert_eq!(refused, (100 + taken as u64..170).collect::<Vec<_>>());
        assert_eq!(
            windows[0].symbols[SYM].rejected_orders,
            (70 - taken) as u64,
            "bound {bound:?}"
        );
        assert!(windows[0].symbols[SYM].fills.is_empty());
    }
}
