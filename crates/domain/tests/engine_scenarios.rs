//! Hand-built tick scenarios whose KPIs are computed by hand in the comments.

use shadowkpi_domain::engine::{
    ConservativeQueue, ConstantLatency, EngineConfig, Liquidity, ModelSet, OrderSide, ShadowEngine,
    WindowResult,
};
use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::tick::{Side, Tick};

const SYM: &str = "BTCUSDT";

fn book(ts: i64, bid: f64, ask: f64) -> Tick {
    Tick {
        symbol: SYM.into(),
        seq: ts as u64,
        ts_server_ms: ts,
        bid,
        ask,
        ..Tick::default()
    }
}

fn sell_at(mut t: Tick, px: f64, qty: f64) -> Tick {
    t.last_px = Some(px);
    t.last_qty = qty;
    t.side = Side::Sell;
    t
}

fn with_sizes(mut t: Tick, bid_qty: f64, ask_qty: f64) -> Tick {
    t.bid_qty = Some(bid_qty);
    t.ask_qty = Some(ask_qty);
    t
}

/// Quotes join the touch (offset 0), one lot of 1.0, no requotes, no dwell,
/// mark-out 0 (reference mid = mid in force at the fill).
fn touch_params() -> StrategyParams {
    StrategyParams {
        touch_dwell_ms: 0.0,
        min_lot: 1.0,
        quote_offset_bps: 0.0,
        inventory_limit: 10.0,
        requote_threshold_bps: 1_000.0,
        maker_fee_bps: -0.5,
        taker_fee_bps: 5.5,
        markout_ms: 0.0,
    }
}

fn run(
    params: StrategyParams,
    models: ModelSet,
    window_ms: i64,
    ticks: &[Tick],
) -> Vec<WindowResult> {
    let cfg = EngineConfig::new(window_ms)
        .with_symbol(SYM, params)
        .with_models(models);
    ShadowEngine::run(cfg, ticks).expect("valid config")
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[test]
fn partial_fills_accumulate_inventory_and_finish_the_order() {
    // bid 1.0 @ 100 rests from t=0; sellers hit it with 0.4, 0.35, then 1.0,
    // of which only the remaining 0.25 is ours.
    let ticks = [
        book(0, 100.0, 100.2),
        sell_at(book(100, 100.0, 100.2), 100.0, 0.4),
        sell_at(book(200, 100.0, 100.2), 100.0, 0.35),
        sell_at(book(300, 100.0, 100.2), 100.0, 1.0),
        book(400, 100.0, 100.2),
    ];
    let mut engine = ShadowEngine::new(EngineConfig::new(1_000).with_symbol(SYM, touch_params()))
        .expect("valid config");
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
        book(20, 100.05, 100.2),
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
fn conservative_queue_fills_only_after_the_queue_ahead_traded() {
    // We join a bid showing 3.0; sellers trade 1.0, 1.5, 0.8, 2.0 at our
    // price. Queue ahead: 3 → 2 → 0.5 → (0.8 − 0.5 = 0.3 reaches us) → 0.
    let ticks = [
        with_sizes(book(0, 100.0, 100.2), 3.0, 3.0),
        with_sizes(sell_at(book(100, 100.0, 100.2), 100.0, 1.0), 2.0, 3.0),
        with_sizes(sell_at(book(200, 100.0, 100.2), 100.0, 1.5), 0.5, 3.0),
        with_sizes(sell_at(book(300, 100.0, 100.2), 100.0, 0.8), 0.7, 3.0),
        with_sizes(sell_at(book(400, 100.0, 100.2), 100.0, 2.0), 1.0, 3.0),
        with_sizes(book(500, 100.0, 100.2), 1.0, 3.0),
    ];
    let conservative = ModelSet::builder().queue(ConservativeQueue).build();
    let windows = run(touch_params(), conservative, 1_000, &ticks);
    let fills = &windows[0].symbols[SYM].fills;
    let got: Vec<(i64, f64)> = fills.iter().map(|f| (f.ts_ms, f.qty)).collect();
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0].0, 300);
    assert!(close(got[0].1, 0.3));
    assert_eq!(got[1].0, 400);
    assert!(close(got[1].1, 0.7));

    // The lenient queue fills the full lot on the first trade.
    let windows = run(touch_params(), ModelSet::lenient(), 1_000, &ticks);
    let first = &windows[0].symbols[SYM].fills[0];
    assert_eq!(first.ts_ms, 100);
    assert!(close(first.qty, 1.0));
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
