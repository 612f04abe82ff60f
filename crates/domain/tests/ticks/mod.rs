//! Hand-built ticks of one symbol for the engine's scenario tests.

use shadowkpi_domain::params::StrategyParams;
use shadowkpi_domain::tick::{Side, Tick};

/// The symbol of every hand-built tick.
pub const SYM: &str = "BTCUSDT";

/// A book update at `ts` (ms), `seq` = `ts`, no sizes, no trade.
pub fn book(ts: i64, bid: f64, ask: f64) -> Tick {
    Tick {
        symbol: SYM.into(),
        seq: ts as u64,
        ts_server_ms: ts,
        bid,
        ask,
        ..Tick::default()
    }
}

/// `t` carrying a trade of `qty` at `px` whose aggressor sold.
pub fn sell_at(mut t: Tick, px: f64, qty: f64) -> Tick {
    t.last_px = Some(px);
    t.last_qty = qty;
    t.side = Side::Sell;
    t
}

/// Quotes join the touch (offset 0), one lot of 1.0, no requotes, no dwell,
/// mark-out 0 (reference mid = mid in force at the fill), a 0.5 bp maker
/// rebate and a 5.5 bp taker fee.
pub fn touch_params() -> StrategyParams {
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
