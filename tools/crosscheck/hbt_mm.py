"""The touch-joining market maker on hftbacktest.

The same strategy shadowkpi runs with ``quote_offset_bps=0,
requote_threshold_bps=0, touch_dwell_ms=0``:

* one post-only (GTX) order of ``lot`` per side, at the best bid / best ask;
* a side is not quoted while a fill of it would take |position| beyond
  ``limit`` (position as known from the fills received, plus the hedge in
  flight);
* when the touch moves away from a working order's price (or its side is no
  longer allowed) the order is cancelled -- only once its acknowledgement has
  been received, since hftbacktest refuses to cancel an unacknowledged order --
  and a new one is placed at the new touch at the same time;
* when |position| exceeds ``limit`` (fills landing while a cancel travels) a
  market order brings it back to half the limit; one hedge is in flight at a
  time. Hedges are counted separately;
* it decides once per distinct feed timestamp: ``wait_next_feed`` returns only
  after every event of that millisecond has been processed.

Fills are counted from the order responses the strategy sees (see README.md
for why the local state's own counters cannot be used with partial fills).
"""

from __future__ import annotations

import numpy as np
from numba import njit, types
from numba.typed import Dict

from hftbacktest import (
    BacktestAsset,
    HashMapMarketDepthBacktest,
)
from hftbacktest.order import (
    CANCELED,
    EXPIRED,
    FILLED,
    GTX,
    GTC,
    LIMIT,
    MARKET,
    NEW,
    PARTIALLY_FILLED,
)

#: Columns of the fill record array.
FILL_TS_MS, FILL_ORDER, FILL_SIDE, FILL_PRICE_TICK, FILL_QTY, FILL_MAKER, FILL_EVENTS_MIN = range(7)

EPS = 1e-9
NS_PER_MS = 1_000_000


@njit(cache=False)
def run_mm(hbt, feed_ms, lot, limit, qty_pad, max_fills, stats):
    """Runs the strategy to the end of the data.

    ``feed_ms`` are the distinct milliseconds of the feed, ascending: the
    strategy decides once at the end of each (after every event of it and every
    response that arrived by then). Between decisions it only reads responses,
    one timestamp at a time, so that fills reaching it at distinct timestamps
    are counted one by one.

    ``qty_pad`` is added to each quote's size as sent to hftbacktest (the
    partial-fill workaround, see README.md); fills are counted up to the
    nominal ``lot`` only.

    Returns the fill records (``max_fills`` rows, first ``stats[0]`` used) and
    the quotes sent (order id, ms, side, price tick).
    ``stats``: [fills, orders placed, cancels sent, post-only rejections,
    hedges sent, error code (0 = ran to the end), decisions, observations that
    merged several fills].
    """
    asset = 0
    fills = np.zeros((max_fills, 7), dtype=np.float64)
    nfills = 0
    sent = np.zeros((max_fills, 4), dtype=np.int64)  # order id, sent ms, side, price tick
    nsent = 0
    nominal = Dict.empty(key_type=types.uint64, value_type=types.float64)
    seen = Dict.empty(key_type=types.uint64, value_type=types.float64)
    side_of = Dict.empty(key_type=types.uint64, value_type=types.float64)
    expired = Dict.empty(key_type=types.uint64, value_type=types.float64)
    next_id = np.uint64(1)
    bid_id = np.uint64(0)
    ask_id = np.uint64(0)
    hedge_id = np.uint64(0)
    hedge_signed = 0.0
    pos = 0.0
    placed = 0
    cancels = 0
    rejected = 0
    hedges = 0
    steps = 0
    merged = 0
    err = 0
    ended = False
    # The first call starts the clock at the first event.
    rc = hbt.wait_next_feed(True, 0)
    if rc == 1:
        ended = True
    for i in range(len(feed_ms)):
        if ended or err != 0:
            break
        decide_at = feed_ms[i] * NS_PER_MS + (NS_PER_MS - 1)
        while True:
            orders = hbt.orders(asset)
            # Fills and final states, from the responses received so far.
            values = orders.values()
            while values.has_next():
                o = values.get()
                oid = o.order_id
                if oid not in nominal:
                    continue
                nom = nominal[oid]
                cum = min(o.qty - o.leaves_qty, nom)
                d = cum - seen[oid]
                if d > EPS:
                    several = d > o.exec_qty + EPS
                    if several:
                        merged += 1
                    if nfills < max_fills:
                        fills[nfills, FILL_TS_MS] = hbt.current_timestamp // NS_PER_MS
                        fills[nfills, FILL_ORDER] = oid
                        fills[nfills, FILL_SIDE] = side_of[oid]
                        fills[nfills, FILL_PRICE_TICK] = o.exec_price_tick
                        fills[nfills, FILL_QTY] = d
                        fills[nfills, FILL_MAKER] = 1.0 if o.arr[0].maker else 0.0
                        fills[nfills, FILL_EVENTS_MIN] = 2.0 if several else 1.0
                    nfills += 1
                    seen[oid] = cum
                    pos += side_of[oid] * d
                    if abs(pos) < EPS:
                        pos = 0.0
                if o.status == EXPIRED and cum <= EPS and o.time_in_force == GTX and oid not in expired:
                    rejected += 1
                    expired[oid] = 1.0
                done = o.status == FILLED or o.status == CANCELED or o.status == EXPIRED or cum >= nom - EPS
                if done:
                    if oid == bid_id:
                        bid_id = np.uint64(0)
                    if oid == ask_id:
                        ask_id = np.uint64(0)
                    if oid == hedge_id:
                        hedge_id = np.uint64(0)
                        hedge_signed = 0.0
                    # A padded quote whose nominal size is filled: cancel the pad.
                    if o.status == PARTIALLY_FILLED and o.req == 0:
                        hbt.cancel(asset, oid, False)
            cur = hbt.current_timestamp
            if cur >= decide_at:
                break
            rc = hbt.wait_next_feed(True, decide_at - cur)
            if rc == 1:
                ended = True
                break
            if rc != 0 and rc != 2 and rc != 3:
                err = rc
                break
        if ended or err != 0:
            break

        steps += 1
        depth = hbt.depth(asset)
        orders = hbt.orders(asset)
        best_bid = depth.best_bid_tick
        best_ask = depth.best_ask_tick
        tick = depth.tick_size
        if best_bid <= -(2**62) or best_ask >= 2**62 or best_bid >= best_ask:
            continue

        if hedge_id == 0 and abs(pos) > limit + EPS:
            q = round((abs(pos) - limit / 2.0) / depth.lot_size) * depth.lot_size
            oid = next_id
            next_id += np.uint64(1)
            nominal[oid] = q
            seen[oid] = 0.0
            if pos > 0:
                side_of[oid] = -1.0
                hbt.submit_sell_order(asset, oid, best_bid * tick, q, GTC, MARKET, False)
                hedge_signed = -q
            else:
                side_of[oid] = 1.0
                hbt.submit_buy_order(asset, oid, best_ask * tick, q, GTC, MARKET, False)
                hedge_signed = q
            hedge_id = oid
            hedges += 1
        inv = pos + (hedge_signed if hedge_id != 0 else 0.0)
        bid_ok = inv + lot <= limit + EPS
        ask_ok = inv - lot >= -limit - EPS

        for s in range(2):
            buy = s == 0
            cur_id = bid_id if buy else ask_id
            touch = best_bid if buy else best_ask
            ok = bid_ok if buy else ask_ok
            if cur_id != 0:
                o = orders.get(cur_id)
                if o is None:
                    cur_id = np.uint64(0)
                elif (not ok) or o.price_tick != touch:
                    if (o.status == NEW or o.status == PARTIALLY_FILLED) and o.req == 0:
                        hbt.cancel(asset, cur_id, False)
                        cancels += 1
                        cur_id = np.uint64(0)
                    # else: not acknowledged yet (or a cancel is travelling): wait.
            if cur_id == 0 and ok:
                oid = next_id
                next_id += np.uint64(1)
                nominal[oid] = lot
                seen[oid] = 0.0
                if buy:
                    side_of[oid] = 1.0
                    hbt.submit_buy_order(asset, oid, touch * tick, lot + qty_pad, GTX, LIMIT, False)
                else:
                    side_of[oid] = -1.0
                    hbt.submit_sell_order(asset, oid, touch * tick, lot + qty_pad, GTX, LIMIT, False)
                placed += 1
                if nsent < max_fills:
                    sent[nsent, 0] = oid
                    sent[nsent, 1] = hbt.current_timestamp // NS_PER_MS
                    sent[nsent, 2] = 1 if buy else -1
                    sent[nsent, 3] = touch
                    nsent += 1
                cur_id = oid
            if buy:
                bid_id = cur_id
            else:
                ask_id = cur_id

        # Forget the orders that are done (their last state was read above).
        hbt.clear_inactive_orders(asset)
        for k in list(nominal.keys()):
            if orders.get(k) is None:
                del nominal[k]
                del seen[k]
                del side_of[k]
                if k in expired:
                    del expired[k]

    stats[0] = nfills
    stats[1] = placed
    stats[2] = cancels
    stats[3] = rejected
    stats[4] = hedges
    stats[5] = err
    stats[6] = steps
    stats[7] = merged
    return fills, sent[:nsent]


def build(events: np.ndarray, latency_ms: int, partial: bool, tick_size: float, lot_size: float):
    """The hftbacktest instance of one case."""
    lat = latency_ms * NS_PER_MS
    asset = (
        BacktestAsset()
        .data(events)
        .linear_asset(1.0)
        .constant_order_latency(lat, lat)
        .risk_adverse_queue_model()
        .tick_size(tick_size)
        .lot_size(lot_size)
        .trading_value_fee_model(0.0, 0.0)
        .last_trades_capacity(0)
    )
    asset = asset.partial_fill_exchange() if partial else asset.no_partial_fill_exchange()
    return HashMapMarketDepthBacktest([asset])


@njit(cache=False)
def record_touch(hbt, feed_ms):
    """Replays the data without orders; at the end of every feed millisecond:
    [ms, best bid tick, best ask tick, best bid qty, best ask qty]. Used to check
    the conversion."""
    out = np.zeros((len(feed_ms), 5), dtype=np.float64)
    n = 0
    rc = hbt.wait_next_feed(False, 0)
    for i in range(len(feed_ms)):
        if rc == 1:
            break
        at = feed_ms[i] * NS_PER_MS + (NS_PER_MS - 1)
        if hbt.current_timestamp < at:
            rc = hbt.elapse(at - hbt.current_timestamp)
        d = hbt.depth(0)
        out[n, 0] = feed_ms[i]
        out[n, 1] = d.best_bid_tick
        out[n, 2] = d.best_ask_tick
        out[n, 3] = d.best_bid_qty
        out[n, 4] = d.best_ask_qty
        n += 1
    return out[:n]
