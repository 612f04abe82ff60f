//! Hand-built tick scenarios whose KPIs are computed by hand in the comments.

use shadowkpi_domain::engine::{
    ConstantLatency, EngineConfig, Liquidity, ModelSet, OrderSide, RiskAverseQueue, ShadowEngine,
    WindowResult,
};
use shadowkpi_domain::instrument::Instrument;
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::tick::Tick;

mod ticks;
use ticks::{SYM, book, sell_at, touch_params};

fn with_sizes(mut t: Tick, bid_qty: f64, ask_qty: f64) -> Tick {
    t.bid_qty = Some(bid_qty);
    t.ask_qty = Some(ask_qty);
    t
}

/// The grid of every scenario: 0.1 price ticks, 0.05 lots.
fn grid() -> Instrument {
    Instrument::new(0.1, 0.05).expect("valid grid")
}

fn config(params: StrategyParams, models: ModelSet, window_ms: i64) -> EngineConfig {
    EngineConfig::new(window_ms)
        .with_symbol(SYM, params)
        .with_instrument(SYM, grid())
        .with_models(models)
}

fn run(
    params: StrategyParams,
    models: ModelSet,
    window_ms: i64,
    ticks: &[Tick],
) -> Vec<WindowResult> {
    ShadowEngine::run(config(params, models, window_ms), ticks).expect("valid config")
}

fn partial() -> ModelSet {
    ModelSet::builder().partial_fills(true).build()
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn partial_fills_accumulate_inventory_and_finish_the_order() {
    // Partial fills, front of the queue: bid 1.0 @ 100 rests from t=0;
    // sellers hit it with 0.4, 0.35, then 1.0, of which only the remaining
    // 0.25 is ours.
    let ticks = [
        book(0, 100.0, 100.2),
        sell_at(book(100, 100.0, 100.2), 100.0, 0.4),
        sell_at(book(200, 100.0, 100.2), 100.0, 0.35),
        sell_at(book(300, 100.0, 100.2), 100.0, 1.0),
        book(400, 100.0, 100.2),
    ];
    let mut engine =
        ShadowEngine::new(config(touch_params(), partial(), 1_000)).expect("valid config");
    for t in &ticks {
        assert!(engine.on_tick(t).is_empty());
    }
    assert!(close(engine.inventory(SYM).unwrap_or(f64::NAN), 1.0));
    let windows = engine.finish();
    assert_eq!(windows.len(), 1);
    let w = &windows[0].symbols[SYM];
    let qty: Vec<f64> = w.fills.iter().map(|f| f.qty).collect();
    let inv: Vec<f64> = w.fills.iter().map(|f| f.inventory_after).collect();
    let done: Vec<bool> = w.fills.iter().map(|f| f.order_done).collect();
    assert!(
        close(qty[0], 0.4) && close(qty[1], 0.35) && close(qty[2], 0.25),
        "{qty:?}"
    );
    assert!(
        close(inv[0], 0.4) && close(inv[1], 0.75) && close(inv[2], 1.0),
        "{inv:?}"
    );
    assert_eq!(done, [false, false, true]);
    assert!(w.fills.iter().all(|f| f.order_id == w.fills[0].order_id));
    assert_eq!(w.kpis.maker_count, 3);
    // ages 100, 200, 300 from the order sent at t=0
    let ages: Vec<i64> = w.fills.iter().map(|f| f.age_ms).collect();
    assert_eq!(ages, [100, 200, 300]);
}

#[test]
fn rebate_adds_to_edge_and_a_maker_fee_subtracts() {
    // Every fill buys at 100.0 with the mid at 100.1 (mark-out 0):
    // gross = (100.1 − 100.0) / 100.1 × 1e4 = 9.99000999 bp.
    let ticks = [
        book(0, 100.0, 100.2),
        sell_at(book(100, 100.0, 100.2), 100.0, 0.4),
        sell_at(book(200, 100.0, 100.2), 100.0, 0.6),
        book(300, 100.0, 100.2),
    ];
    let gross = 0.1 / 100.1 * 1e4;
    let rebate = run(touch_params(), ModelSet::lenient(), 1_000, &ticks);
    let k = &rebate[0].symbols[SYM].kpis;
    // maker fee −0.5 bp: net = gross + 0.5
    assert!(close(k.edge_bps.unwrap_or(f64::NAN), gross + 0.5), "{k:?}");
    assert_eq!(k.maker_taker_ratio, Some(1.0));

    let paying = StrategyParams {
        maker_fee_bps: 1.0,
        ..touch_params()
    };
    let fee = run(paying, ModelSet::lenient(), 1_000, &ticks);
    let k = &fee[0].symbols[SYM].kpis;
    assert!(close(k.edge_bps.unwrap_or(f64::NAN), gross - 1.0), "{k:?}");
}

#[test]
fn window_without_fills_has_no_ratio_rather_than_zero() {
    let ticks = [
        book(0, 100.0, 100.2),
        book(500, 100.0, 100.2),
        book(1_000, 100.0, 100.2), // closes window 1
        book(1_500, 100.0, 100.2),
    ];
    let windows = run(touch_params(), ModelSet::lenient(), 1_000, &ticks);
    let k = &windows[0].symbols[SYM].kpis;
    assert_eq!(k.maker_taker_ratio, None);
    assert_eq!(k.edge_bps, None);
    assert_eq!(k.p95_latency_ms, None);
    assert_eq!((k.maker_count, k.taker_count, k.total_fills), (0, 0, 0));
    assert_eq!(k.risk_ratio, Some(0.0));
    assert_eq!(windows[0].symbols[SYM].ticks, 2);
}

#[test]
fn latency_lets_a_second_fill_breach_the_limit_and_a_taker_hedge_follows() {
    // Orders take 100 ms to reach the exchange; lot 1, limit 1.5, fees 0/5 bp.
    //
    //   t=0    book 100/101            → bid A@100, ask X@101 sent (live at 100)
    //   t=150  book 100.2/101.2 (+20bp) → requote: B@100.2 replaces A, Y@101.2
    //                                     replaces X (both live at 250)
    //   t=200  book 100/101, sell 1 @100 → A (still live) fills: inv 1;
    //                                     a bid would breach → cancel B (at 300)
    //   t=250  B goes live, better than the 100.0 touch
    //   t=260  sell 2 @100.0            → through B@100.2: B fills, inv 2 > 1.5
    //                                     → hedge: sell 2 − 0.75 = 1.25 (at 360)
    //   t=360  hedge sells 1.25 @ bid 100.0 (taker): inv 0.75
    //
    // risk ratio over [0, 1000) with limit 1.5:
    //   (0·200 + 1·60 + 2·100 + 0.75·640) / 1.5 / 1000 = 740 / 1500 = 0.493333…
    let params = StrategyParams {
        touch_dwell_ms: 0.0,
        min_lot: 1.0,
        quote_offset_bps: 0.0,
        inventory_limit: 1.5,
        requote_threshold_bps: 10.0,
        maker_fee_bps: 0.0,
        taker_fee_bps: 5.0,
        markout_ms: 0.0,
    };
    let models = ModelSet::builder()
        .latency(ConstantLatency {
            feed_ms: 0,
            entry_ms: 100,
            response_ms: 0,
        })
        .build();
    let ticks = [
        book(0, 100.0, 101.0),
        book(100, 100.0, 101.0),
        book(150, 100.2, 101.2),
        sell_at(book(200, 100.0, 101.0), 100.0, 1.0),
        sell_at(book(260, 100.0, 101.0), 100.0, 2.0),
        book(400, 100.0, 101.0),
        book(1_000, 100.0, 101.0),
    ];
    let windows = run(params, models, 1_000, &ticks);
    let w = &windows[0].symbols[SYM];
    let f = &w.fills;
    assert_eq!(f.len(), 3, "{f:?}");
    assert_eq!(
        f.iter()
            .map(|x| (x.side, x.liquidity, x.ts_ms))
            .collect::<Vec<_>>(),
        [
            (OrderSide::Buy, Liquidity::Maker, 200),
            (OrderSide::Buy, Liquidity::Maker, 260),
            (OrderSide::Sell, Liquidity::Taker, 360),
        ]
    );
    assert!(close(f[1].price, 100.2) && close(f[1].inventory_after, 2.0));
    assert!(close(f[2].qty, 1.25) && close(f[2].price, 100.0) && close(f[2].inventory_after, 0.75));
    assert_eq!(
        f.iter().map(|x| x.age_ms).collect::<Vec<_>>(),
        [200, 110, 100]
    );

    let k = &w.kpis;
    assert_eq!((k.maker_count, k.taker_count, k.total_fills), (2, 1, 3));
    assert!(close(k.maker_taker_ratio.unwrap_or(f64::NAN), 2.0 / 3.0));
    assert!(
        close(k.risk_ratio.unwrap_or(f64::NAN), 740.0 / 1500.0),
        "{k:?}"
    );
    // edges with the mid at 100.5 throughout: A +49.75, B +29.85, hedge −49.75 − 5
    let m = 100.5;
    let (ea, eb, eh) = (
        (m - 100.0) / m * 1e4,
        (m - 100.2) / m * 1e4,
        -(m - 100.0) / m * 1e4 - 5.0,
    );
    let expected = (ea + eb + 1.25 * eh) / 3.25;
    assert!(
        close(k.edge_bps.unwrap_or(f64::NAN), expected),
        "{k:?} vs {expected}"
    );
    // ages [200, 110, 100] → winsorised [100.2, 110, 198.2] → p95 = 189.38
    assert!(close(k.p95_latency_ms.unwrap_or(f64::NAN), 189.38), "{k:?}");
    assert!(close(w.inventory_end, 0.75));
}

#[test]
fn quote_that_has_not_dwelled_at_the_touch_does_not_fill() {
    // dwell 50 ms. The bid joins at t=0; a seller hits it at t=30 (too early),
    // again at t=60 (fills). The replacement bid placed at t=60 is hit at
    // t=100 (40 ms: too early) and at t=120 (60 ms: fills).
    let params = StrategyParams {
        touch_dwell_ms: 50.0,
        ..touch_params()
    };
    let ticks = [
        book(0, 100.0, 100.2),
        sell_at(book(30, 100.0, 100.2), 100.0, 5.0),
        sell_at(book(60, 100.0, 100.2), 100.0, 5.0),
        sell_at(book(100, 100.0, 100.2), 100.0, 5.0),
        sell_at(book(120, 100.0, 100.2), 100.0, 5.0),
        book(200, 100.0, 100.2),
    ];
    let windows = run(params.clone(), ModelSet::lenient(), 1_000, &ticks);
    let fills = &windows[0].symbols[SYM].fills;
    assert_eq!(fills.iter().map(|f| f.ts_ms).collect::<Vec<_>>(), [60, 120]);
    assert_eq!(fills.iter().map(|f| f.age_ms).collect::<Vec<_>>(), [60, 60]);

    // Leaving the touch restarts the dwell: at t=20 the best bid moves above
    // us (we are behind), at t=40 it comes back; a hit at t=70 is only 30 ms
    // after we were at the touch again.
    let ticks = [
        book(0, 100.0, 100.2),
        book(20, 100.1, 100.2),
        book(40, 100.0, 100.2),
        sell_at(book(70, 100.0, 100.2), 100.0, 5.0),
        sell_at(book(95, 100.0, 100.2), 100.0, 5.0),
        book(200, 100.0, 100.2),
    ];
    let windows = run(params, ModelSet::lenient(), 1_000, &ticks);
    let fills = &windows[0].symbols[SYM].fills;
    assert_eq!(fills.iter().map(|f| f.ts_ms).collect::<Vec<_>>(), [95]);
}

#[test]
fn requote_resets_age_and_dwell() {
    // dwell 50, requote beyond 5 bp. The bid rests from t=0; at t=40 the mid
    // moves +10 bp and the bid is replaced (new price, age and dwell from 40);
    // a hit at t=80 is 40 ms into the new dwell; the one at t=95 fills with
    // age 55, not 95.
    let params = StrategyParams {
        touch_dwell_ms: 50.0,
        requote_threshold_bps: 5.0,
        ..touch_params()
    };
    let ticks = [
        book(0, 100.0, 100.2),
        book(40, 100.1, 100.3),
        sell_at(book(80, 100.1, 100.3), 100.1, 5.0),
        sell_at(book(95, 100.1, 100.3), 100.1, 5.0),
        book(200, 100.1, 100.3),
    ];
    let windows = run(params, ModelSet::lenient(), 1_000, &ticks);
    let fills = &windows[0].symbols[SYM].fills;
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!((fills[0].ts_ms, fills[0].age_ms), (95, 55));
    assert!(close(fills[0].price, 100.1));
}

#[test]
fn risk_averse_queue_fills_only_after_the_queue_ahead_traded() {
    // We join a bid showing 3.0; sellers trade 1.0, 1.5, 0.8, 2.0 at our
    // price while the bid shows 2.0, 0.5, 0.7, 1.0 after each. Queue ahead:
    // 3 → 2 → 0.5 → (0.8 − 0.5: 0.3 past the front) → … .
    let ticks = [
        with_sizes(book(0, 100.0, 100.2), 3.0, 3.0),
        with_sizes(sell_at(book(100, 100.0, 100.2), 100.0, 1.0), 2.0, 3.0),
        with_sizes(sell_at(book(200, 100.0, 100.2), 100.0, 1.5), 0.5, 3.0),
        with_sizes(sell_at(book(300, 100.0, 100.2), 100.0, 0.8), 0.7, 3.0),
        with_sizes(sell_at(book(400, 100.0, 100.2), 100.0, 2.0), 1.0, 3.0),
        with_sizes(book(500, 100.0, 100.2), 1.0, 3.0),
    ];
    let fills = |models: ModelSet| -> Vec<(i64, f64)> {
        let windows = run(touch_params(), models, 1_000, &ticks);
        let bids = windows[0].symbols[SYM].fills.iter();
        bids.filter(|f| f.side == OrderSide::Buy)
            .map(|f| (f.ts_ms, f.qty))
            .collect()
    };
    // Partial fills: 0.3 at t=300 (the queue is then at the front: 0.7
    // displayed behind us does not move us back), the remaining 0.7 at t=400.
    let got = fills(
        ModelSet::builder()
            .queue(RiskAverseQueue)
            .partial_fills(true)
            .build(),
    );
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, 300);
    assert!(close(got[0].1, 0.3));
    assert_eq!(got[1].0, 400);
    assert!(close(got[1].1, 0.7));

    // Whole-order fills: the full lot as soon as volume went past the front,
    // at t=300; the new bid placed after it joins behind the 0.7 shown and
    // the 2.0 traded at t=400 goes 1.3 past it: a second full lot.
    let got = fills(ModelSet::builder().queue(RiskAverseQueue).build());
    assert_eq!(got, [(300, 1.0), (400, 1.0)]);

    // The front of the queue fills the full lot on the first trade.
    let got = fills(ModelSet::lenient());
    assert_eq!(got[0].0, 100);
    assert!(close(got[0].1, 1.0));
}

#[test]
fn a_shrinking_display_caps_the_queue_ahead() {
    // We join a bid showing 5.0; cancellations take the level down to 0.4
    // with no trade, so at most 0.4 is still ahead of us. A trade of 0.5 at
    // our price goes 0.1 (two lots) past the front: the order fills.
    let ticks = [
        with_sizes(book(0, 100.0, 100.2), 5.0, 3.0),
        with_sizes(book(100, 100.0, 100.2), 5.0, 3.0),
        with_sizes(book(200, 100.0, 100.2), 0.4, 3.0),
        with_sizes(sell_at(book(300, 100.0, 100.2), 100.0, 0.5), 0.4, 3.0),
        with_sizes(book(400, 100.0, 100.2), 0.4, 3.0),
    ];
    let risk_averse = ModelSet::builder().queue(RiskAverseQueue).build();
    let windows = run(touch_params(), risk_averse, 1_000, &ticks);
    let fills = &windows[0].symbols[SYM].fills;
    assert_eq!(fills.len(), 1, "{fills:?}");
    assert_eq!((fills[0].side, fills[0].ts_ms), (OrderSide::Buy, 300));
    assert!(close(fills[0].qty, 1.0) && close(fills[0].price, 100.0));
    // Without the cancellations the same trade leaves 4.5 ahead: no fill.
    let mut crowded = ticks.clone();
    crowded[2] = with_sizes(book(200, 100.0, 100.2), 5.0, 3.0);
    crowded[3] = with_sizes(sell_at(book(300, 100.0, 100.2), 100.0, 0.5), 4.5, 3.0);
    let risk_averse = ModelSet::builder().queue(RiskAverseQueue).build();
    let windows = run(touch_params(), risk_averse, 1_000, &crowded);
    assert!(windows[0].symbols[SYM].fills.is_empty());
}

#[test]
fn the_touch_moving_through_a_quote_fills_it_in_full_at_its_price() {
    // Bid 1.0 @ 100 and ask @ 100.2 rest; the ask comes down to 100.0 (the
    // book moved through our bid): our bid fills in full as maker at 100.0,
    // whatever the size shown, and the ask is left alone.
    let ticks = [
        with_sizes(book(0, 100.0, 100.2), 9.0, 9.0),
        with_sizes(book(100, 100.0, 100.2), 9.0, 9.0),
        with_sizes(book(200, 99.9, 100.0), 9.0, 0.1),
        book(300, 99.9, 100.0),
    ];
    let risk_averse = ModelSet::builder().queue(RiskAverseQueue).build();
    let windows = run(touch_params(), risk_averse, 1_000, &ticks);
    let f = &windows[0].symbols[SYM].fills;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!(
        (f[0].side, f[0].liquidity, f[0].ts_ms),
        (OrderSide::Buy, Liquidity::Maker, 200)
    );
    assert!(close(f[0].price, 100.0) && close(f[0].qty, 1.0));
}

#[test]
fn a_trade_through_the_price_fills_in_full_whatever_its_size() {
    // Our bid @ 100 sits behind 9.0 displayed; a seller prints 0.05 at 99.9,
    // below our price: the level was swept, the whole lot fills.
    let ticks = [
        with_sizes(book(0, 100.0, 100.2), 9.0, 9.0),
        with_sizes(book(100, 100.0, 100.2), 9.0, 9.0),
        with_sizes(sell_at(book(200, 100.0, 100.2), 99.9, 0.05), 9.0, 9.0),
        book(300, 100.0, 100.2),
    ];
    let risk_averse = ModelSet::builder().queue(RiskAverseQueue).build();
    let windows = run(touch_params(), risk_averse, 1_000, &ticks);
    let f = &windows[0].symbols[SYM].fills;
    assert_eq!(f.len(), 1, "{f:?}");
    assert_eq!((f[0].side, f[0].ts_ms), (OrderSide::Buy, 200));
    assert!(close(f[0].qty, 1.0) && close(f[0].price, 100.0));
}

#[test]
fn a_post_only_quote_that_arrives_crossed_is_rejected_and_counted() {
    // Orders take 50 ms. The bid @ 100 is sent at t=0; by t=50 the ask is
    // down at 100.0, so the post-only bid would cross: rejected (and the ask
    // @ 100.2 sent with it rests). The strategy hears of it at t=50
    // (response 0) and bids again at the new touch 99.9 on the t=60 book.
    let models = ModelSet::builder()
        .latency(ConstantLatency {
            feed_ms: 0,
            entry_ms: 50,
            response_ms: 0,
        })
        .build();
    let ticks = [
        book(0, 100.0, 100.2),
        book(40, 99.9, 100.0),
        book(60, 99.9, 100.0),
        book(200, 99.9, 100.0),
        book(999, 99.9, 100.0),
    ];
    let windows = run(touch_params(), models, 1_000, &ticks);
    let w = &windows[0].symbols[SYM];
    assert_eq!(w.rejected_orders, 1);
    // The ask @ 100.2 became live at 50 (nothing crossed it) and never filled.
    assert!(w.fills.is_empty(), "{:?}", w.fills);
    assert_eq!(w.kpis.total_fills, 0);
}

#[test]
fn a_quote_is_not_requoted_to_the_price_it_already_has() {
    // The touch stays at 100 / 100.2 while the sizes change on every tick; with
    // a 0 bp requote threshold the quotes still never move (a requote to the
    // same price would only lose the place in the queue). The queue ahead is
    // 4.0 and shrinks with the display to 0.5; a 0.6 sell at 100 then fills us.
    let params = StrategyParams {
        requote_threshold_bps: 0.0,
        ..touch_params()
    };
    let mut ticks = vec![with_sizes(book(0, 100.0, 100.2), 4.0, 4.0)];
    for (i, q) in [3.5, 3.0, 2.0, 1.0, 0.5].into_iter().enumerate() {
        ticks.push(with_sizes(book(100 * (i as i64 + 1), 100.0, 100.2), q, 4.0));
    }
    ticks.push(with_sizes(
        sell_at(book(700, 100.0, 100.2), 100.0, 0.6),
        0.4,
        4.0,
    ));
    ticks.push(book(800, 100.0, 100.2));
    let risk_averse = ModelSet::builder().queue(RiskAverseQueue).build();
    let windows = run(params, risk_averse, 1_000, &ticks);
    let f = &windows[0].symbols[SYM].fills;
    assert_eq!(f.len(), 1, "{f:?}");
    // the bid was placed once, at t=0: its age is the whole 700 ms
    assert_eq!((f[0].ts_ms, f[0].age_ms), (700, 700));
}

#[test]
fn ticks_of_one_millisecond_make_one_decision_on_the_last_book() {
    // Three updates at t=100 take the bid 100.0 → 100.1 → 100.2. The strategy
    // decides once, on the 100.2 book: one requote (two actions: cancel and
    // place), not two. The new bid @ 100.2 is then hit at t=300.
    let params = StrategyParams {
        requote_threshold_bps: 0.0,
        ..touch_params()
    };
    let ticks = [
        book(0, 100.0, 100.4),
        book(100, 100.1, 100.4),
        book(100, 100.15, 100.4),
        book(100, 100.2, 100.4),
        book(200, 100.2, 100.4),
        sell_at(book(300, 100.2, 100.4), 100.2, 1.0),
        book(400, 100.2, 100.4),
    ];
    let windows = run(params, ModelSet::lenient(), 1_000, &ticks);
    let f = &windows[0].symbols[SYM].fills;
    assert_eq!(f.len(), 1, "{f:?}");
    assert!(close(f[0].price, 100.2), "{f:?}");
    // bid orders: 1 at t=0, its replacement at t=100; ids count every order
    // (bid 1, ask 2, then the replacing bid 3): a second requote would be 4+.
    assert_eq!(f[0].order_id, 3);
    assert_eq!(f[0].age_ms, 200);
}

#[test]
fn windows_follow_event_time_from_the_first_tick() {
    // t0 = 10_000; windows [10_000, 11_000), [11_000, 12_000), …; a gap to
    // 13_500 emits the empty window 3 too, and finish() closes window 4.
    let ticks = [
        book(10_000, 100.0, 100.2),
        book(10_900, 100.0, 100.2),
        book(11_200, 100.0, 100.2),
        book(13_500, 100.0, 100.2),
    ];
    let mut engine = ShadowEngine::new(EngineConfig::new(1_000).with_symbol(SYM, touch_params()))
        .expect("valid config");
    let mut out = Vec::new();
    for t in &ticks {
        out.extend(engine.on_tick(t));
    }
    assert_eq!(engine.t0_ms(), Some(10_000));
    assert_eq!(
        out.iter().map(|w| w.iteration).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(
        (
            out[0].window.start_ms,
            out[0].window.end_ms,
            out[2].window.end_ms
        ),
        (10_000, 11_000, 13_000)
    );
    let ticks_per: Vec<u64> = out.iter().map(|w| w.symbols[SYM].ticks).collect();
    assert_eq!(ticks_per, [2, 1, 0]);
    assert!(out.iter().all(|w| !w.partial));
    let last = engine.finish();
    assert_eq!(last.len(), 1);
    assert_eq!((last[0].iteration, last[0].partial), (4, true));
    assert_eq!(last[0].window.start_ms, 13_000);
    assert!(engine.on_tick(&book(14_000, 1.0, 2.0)).is_empty());
}

#[test]
fn a_window_waits_for_its_markouts() {
    // mark-out 500 ms: a fill at t=900 needs the mid at t=1400, so window 1
    // is emitted only once a tick after 1400 arrives, with that reference mid.
    let params = StrategyParams {
        markout_ms: 500.0,
        ..touch_params()
    };
    let mut engine =
        ShadowEngine::new(EngineConfig::new(1_000).with_symbol(SYM, params)).expect("valid config");
    assert!(engine.on_tick(&book(0, 100.0, 100.2)).is_empty());
    assert!(
        engine
            .on_tick(&sell_at(book(900, 100.0, 100.2), 100.0, 1.0))
            .is_empty()
    );
    assert!(engine.on_tick(&book(1_000, 100.0, 100.2)).is_empty()); // closed, not final
    assert!(engine.on_tick(&book(1_300, 100.4, 100.6)).is_empty()); // mid 100.5 from here
    assert!(engine.on_tick(&book(1_400, 100.6, 100.8)).is_empty()); // at the horizon
    let out = engine.on_tick(&book(1_401, 100.0, 100.2));
    assert_eq!(out.len(), 1);
    let f = &out[0].symbols[SYM].fills[0];
    // the mid in force at 1400 is 100.7; edge = (100.7 − 100) / 100.1 × 1e4 + 0.5
    assert!(close(f.reference_mid.unwrap_or(f64::NAN), 100.7));
    let edge = out[0].symbols[SYM].kpis.edge_bps.unwrap_or(f64::NAN);
    assert!(close(edge, 0.7 / 100.1 * 1e4 + 0.5), "{edge}");
}

#[test]
fn bad_ticks_are_skipped_not_fatal() {
    let mut engine = ShadowEngine::new(EngineConfig::new(1_000)).expect("valid config");
    let mut crossed = book(0, 101.0, 100.0);
    crossed.symbol = "btc-usdt".into();
    engine.on_tick(&crossed);
    engine.on_tick(&book(1, f64::NAN, 100.0));
    engine.on_tick(&Tick {
        symbol: "--".into(),
        ..book(2, 1.0, 2.0)
    });
    assert_eq!(engine.rejected_ticks(), 3);
    assert_eq!(engine.t0_ms(), None);
    let mut ok = book(5, 100.0, 100.2);
    ok.symbol = "btc-usdt".into();
    engine.on_tick(&ok);
    assert_eq!(engine.t0_ms(), Some(5));
    assert_eq!(engine.inventory(SYM), Some(0.0));
}

#[test]
fn clock_drift_is_an_ewma_of_ingest_minus_server_time() {
    // drift samples 10, (skip: no ingest time), 20 → 10, then 10 + 0.1 × 10 = 11
    let mut a = book(0, 100.0, 100.2);
    a.ts_ingest_ms = 10;
    let b = book(100, 100.0, 100.2);
    let mut c = book(200, 100.0, 100.2);
    c.ts_ingest_ms = 220;
    let windows = run(touch_params(), ModelSet::lenient(), 1_000, &[a, b, c]);
    let d = windows[0].symbols[SYM]
        .kpis
        .clock_drift_ms
        .unwrap_or(f64::NAN);
    assert!(close(d, 11.0), "{d}");
}

#[test]
fn a_long_gap_is_jumped_and_an_absurd_timestamp_rejected() {
    let mut engine = ShadowEngine::new(EngineConfig::new(1_000).with_symbol(SYM, touch_params()))
        .expect("valid config");
    assert!(engine.on_tick(&book(0, 100.0, 100.2)).is_empty());
    // 5 000 windows later: window 1 is emitted, the 4 999 empty ones are not
    let out = engine.on_tick(&book(5_000_500, 100.0, 100.2));
    assert_eq!(out.iter().map(|w| w.iteration).collect::<Vec<_>>(), [1]);
    // a timestamp whose window number overflows u32 is rejected
    assert!(engine.on_tick(&book(i64::MAX, 100.0, 100.2)).is_empty());
    assert_eq!(engine.rejected_ticks(), 1);
    let last = engine.finish();
    assert_eq!(last.len(), 1);
    assert_eq!(last[0].iteration, 5_001);
    assert_eq!(last[0].window.start_ms, 5_000_000);
    assert_eq!(last[0].symbols[SYM].ticks, 1);
    // a short gap still emits every empty window
    let mut engine = ShadowEngine::new(EngineConfig::new(1_000).with_symbol(SYM, touch_params()))
        .expect("valid config");
    engine.on_tick(&book(0, 100.0, 100.2));
    let out = engine.on_tick(&book(1_000_500, 100.0, 100.2));
    assert_eq!(out.len(), 1_000);
}

#[test]
fn engine_and_models_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<ModelSet>();
    send::<ShadowEngine>();
}

#[test]
fn a_recorded_feed_delay_holds_back_the_decision_on_a_slow_tick() {
    // The recorder's clock runs 1,000 ms behind the exchange's; the tick at
    // t=100 reached it 150 ms slower than the fastest one. With the recorded
    // feed delay the strategy learns of the fill at t=100 only at 250, so the
    // bid it sends then misses the second trade-through at 200: one fill.
    // Without it, the new bid rests from 100 and fills at 200 too.
    let recv = |mut t: Tick, slower_ms: i64| {
        t.ts_recv_ms = Some(t.ts_server_ms - 1_000 + slower_ms);
        t
    };
    let ticks = [
        recv(with_sizes(book(0, 100.0, 100.2), 9.0, 9.0), 0),
        recv(
            sell_at(with_sizes(book(100, 100.0, 100.2), 9.0, 9.0), 99.9, 0.05),
            150,
        ),
        recv(
            sell_at(with_sizes(book(200, 100.0, 100.2), 9.0, 9.0), 99.9, 0.05),
            0,
        ),
        recv(with_sizes(book(300, 100.0, 100.2), 9.0, 9.0), 0),
    ];
    let fill_times = |models: ModelSet, ticks: &[Tick]| -> Vec<i64> {
        run(touch_params(), models, 1_000, ticks)[0].symbols[SYM]
            .fills
            .iter()
            .map(|f| f.ts_ms)
            .collect()
    };
    let recorded = || ModelSet::builder().recorded_feed(true).build();
    assert_eq!(fill_times(recorded(), &ticks), vec![100]);
    assert_eq!(fill_times(ModelSet::lenient(), &ticks), vec![100, 200]);
    // Ticks without a receive time get the latency model's delay alone.
    let no_recv: Vec<Tick> = ticks
        .iter()
        .cloned()
        .map(|mut t| {
            t.ts_recv_ms = None;
            t
        })
        .collect();
    assert_eq!(fill_times(recorded(), &no_recv), vec![100, 200]);
}

#[test]
fn equity_path_marks_cash_and_inventory_at_the_mid_on_a_one_second_grid() {
    // Quotes at the touch 100 / 101. A seller hits the bid at t=500: buy 1 @
    // 100 as maker with a 0.5 bp rebate, so cash = −100 + 0.005 = −99.995.
    // Then the book lifts to 100.6 / 100.8 (mid 100.7) without reaching the
    // quotes. Samples: the first tick (t=0), the first tick at or after each
    // second (t=1000, t=2000), each window's end, and the last event of the
    // partial window (t=2600).
    let ticks = [
        book(0, 100.0, 101.0),
        sell_at(book(500, 100.0, 101.0), 100.0, 1.0),
        book(999, 100.0, 101.0),
        book(1_000, 100.0, 101.0),
        book(1_500, 100.6, 100.8),
        book(2_000, 100.6, 100.8),
        book(2_600, 100.6, 100.8),
    ];
    let windows = run(touch_params(), ModelSet::lenient(), 2_000, &ticks);
    assert_eq!(windows.len(), 2);
    let w1 = &windows[0].symbols[SYM];
    assert_eq!(w1.fills.len(), 1, "{:?}", w1.fills);
    assert_eq!(
        (w1.fills[0].side, w1.fills[0].liquidity, w1.fills[0].price),
        (OrderSide::Buy, Liquidity::Maker, 100.0)
    );
    let pts = |w: &WindowResult| {
        w.symbols[SYM]
            .path
            .iter()
            .map(|p| (p.t_ms, p.equity, p.inventory))
            .collect::<Vec<_>>()
    };
    let (after_fill, lifted) = (-99.995 + 100.5, -99.995 + 100.7);
    let expect1 = [
        (0, 0.0, 0.0),
        (1_000, after_fill, 1.0),
        (2_000, lifted, 1.0),
    ];
    let expect2 = [(2_000, lifted, 1.0), (2_600, lifted, 1.0)];
    for (got, want) in [
        (pts(&windows[0]), &expect1[..]),
        (pts(&windows[1]), &expect2[..]),
    ] {
        assert_eq!(got.len(), want.len(), "{got:?}");
        for (g, w) in got.iter().zip(want) {
            assert!(
                g.0 == w.0 && close(g.1, w.1) && close(g.2, w.2),
                "{got:?} vs {want:?}"
            );
        }
    }
}

#[test]
fn path_step_is_a_second_or_a_bounded_share_of_a_long_window() {
    use shadowkpi_domain::engine::{MAX_PATH_POINTS, path_step_ms};
    assert_eq!(path_step_ms(60_000), 1_000);
    assert_eq!(path_step_ms(240_000), 1_000);
    assert_eq!(path_step_ms(3_600_000), 15_000);
    assert!(3_600_000 / path_step_ms(3_600_000) <= MAX_PATH_POINTS);
    assert_eq!(path_step_ms(1), 1_000);
}
