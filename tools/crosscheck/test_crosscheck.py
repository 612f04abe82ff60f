"""Checks of the conversion and of the hftbacktest strategy (python -m unittest)."""

from __future__ import annotations

import os
import sys
import unittest
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import convert  # noqa: E402
import hbt_mm  # noqa: E402
from convert import ASK_DEPTH, BID_DEPTH, BUY_TRADE, SELL_TRADE, Quote, Trade  # noqa: E402

DATA = Path(os.environ.get("CROSSCHECK_DATA", Path(__file__).resolve().parents[2] / "data" / "binance-btcusdt-2024-08-08"))


class LevelBookTest(unittest.TestCase):
    def test_falling_bid_clears_levels_above_rising_bid_keeps_older(self):
        b = convert.LevelBook(0.1)
        ev = b.apply(Quote(0, 100.0, 1.0, 100.1, 2.0))
        self.assertEqual(ev, [(BID_DEPTH, 1000, 1.0), (ASK_DEPTH, 1001, 2.0)])
        # Bid rises to 100.1? Not possible while the ask is there; move both up.
        ev = b.apply(Quote(1, 100.2, 3.0, 100.3, 4.0))
        # Asks below the new best ask (100.1) are cleared; the old bid 100.0 is kept.
        self.assertEqual(ev, [(ASK_DEPTH, 1001, 0.0), (BID_DEPTH, 1002, 3.0), (ASK_DEPTH, 1003, 4.0)])
        self.assertEqual(b.bids, {1000: 1.0, 1002: 3.0})
        self.assertEqual(b.asks, {1003: 4.0})
        # Bid falls to 99.9: both known levels above it are cleared, highest first.
        ev = b.apply(Quote(2, 99.9, 5.0, 100.0, 6.0))
        self.assertEqual(
            ev,
            [(BID_DEPTH, 1002, 0.0), (BID_DEPTH, 1000, 0.0), (BID_DEPTH, 999, 5.0), (ASK_DEPTH, 1000, 6.0)],
        )
        self.assertEqual(b.bids, {999: 5.0})
        self.assertEqual(b.asks, {1000: 6.0, 1003: 4.0})


class MergeTest(unittest.TestCase):
    def test_arrival_order_quotes_first_and_ms_floor(self):
        q = [Quote(1_000_999, 100.0, 1.0, 100.1, 1.0), Quote(1_001_500, 100.0, 2.0, 100.1, 1.0)]
        t = [Trade(1_000_999, 100.1, 0.5, True), Trade(1_001_000, 100.0, 0.25, False)]
        c = convert.convert(q, t, 0.1)
        self.assertEqual(list(c.events["ev"]), [BID_DEPTH, ASK_DEPTH, BUY_TRADE, SELL_TRADE, BID_DEPTH, ASK_DEPTH])
        self.assertEqual(list(c.events["exch_ts"] // 1_000_000), [1000, 1000, 1000, 1001, 1001, 1001])
        self.assertTrue((c.events["exch_ts"] == c.events["local_ts"]).all())
        self.assertEqual(list(c.events["qty"]), [1.0, 1.0, 0.5, 0.25, 2.0, 1.0])
        self.assertEqual(list(c.ms), [1000, 1001])


@unittest.skipUnless((DATA / "usdm_quotes.csv.gz").exists(), f"no sample data in {DATA}")
class SampleDepthTest(unittest.TestCase):
    """hftbacktest's depth, fed the converted sample, shows the CSV's touch at every millisecond."""

    def test_depth_reproduces_csv_touch(self):
        c = convert.load(DATA / "usdm_quotes.csv.gz", DATA / "usdm_trades.csv.gz", "BTCUSDT", 0.1)
        self.assertEqual((c.quote_rows, c.trade_rows), (66_089, 21_313))
        hbt = hbt_mm.build(c.events, 0, False, 0.1, 0.001)
        got = hbt_mm.record_touch(hbt, c.ms)
        hbt.close()
        # At the end of every distinct millisecond but the last (where the data ends).
        self.assertEqual(len(c.ms), 33_017)
        self.assertGreaterEqual(len(got), len(c.ms) - 1)
        n = len(got)
        np.testing.assert_array_equal(got[:, 0].astype(np.int64), c.ms[:n])
        have = c.best_bid_tick[:n] >= 0
        self.assertGreater(have.sum(), 30_000)
        np.testing.assert_array_equal(got[have, 1].astype(np.int64), c.best_bid_tick[:n][have])
        np.testing.assert_array_equal(got[have, 2].astype(np.int64), c.best_ask_tick[:n][have])
        # Sizes at the touch too: the last quote row of each millisecond.
        last_q = {}
        for q in convert.read_quotes(DATA / "usdm_quotes.csv.gz", "BTCUSDT"):
            last_q[q.local_us // 1000] = q
        for i in range(0, len(got), 997):
            ms = int(got[i, 0])
            if ms in last_q:
                self.assertAlmostEqual(got[i, 3], last_q[ms].bid_qty, places=9)
                self.assertAlmostEqual(got[i, 4], last_q[ms].ask_qty, places=9)

    def test_spreading_events_over_nanoseconds_changes_nothing_but_the_count(self):
        # The same cases with every event of a millisecond at one timestamp and spread over
        # nanoseconds: identical fills without partial fills; with them the same volume, while
        # fills that reached the strategy merged now arrive one by one.
        runs = {}
        for spread in (False, True):
            c = convert.load(DATA / "usdm_quotes.csv.gz", DATA / "usdm_trades.csv.gz", "BTCUSDT", 0.1, spread)
            for partial in (False, True):
                hbt = hbt_mm.build(c.events, 10, partial, 0.1, 0.001)
                stats = np.zeros(8, np.int64)
                f, _ = hbt_mm.run_mm(hbt, c.ms, 0.01, 0.05, 0.0006 if partial else 0.0, 100_000, stats)
                hbt.close()
                self.assertEqual(stats[5], 0)
                f = f[: stats[0]]
                # Fills seen at one observation come in hash-map order: sort by time and order.
                f = f[np.lexsort((f[:, hbt_mm.FILL_ORDER], f[:, hbt_mm.FILL_TS_MS]))]
                runs[spread, partial] = (f, stats.copy())
        (fa, sa), (fb, sb) = runs[False, False], runs[True, False]
        np.testing.assert_array_equal(fa, fb)
        self.assertEqual((sa[7], sb[7]), (0, 0))
        (fa, sa), (fb, sb) = runs[False, True], runs[True, True]
        self.assertAlmostEqual(fa[:, hbt_mm.FILL_QTY].sum(), fb[:, hbt_mm.FILL_QTY].sum(), places=9)
        self.assertGreater(sa[7], 0)
        self.assertEqual(sb[7], 0)
        # Each merged observation hid one fill at least.
        self.assertEqual(sa[7], (fa[:, hbt_mm.FILL_EVENTS_MIN] > 1).sum())
        self.assertGreaterEqual(sb[0], sa[0] + sa[7])


class StrategyTest(unittest.TestCase):
    """The hftbacktest strategy on a hand-made feed: one fill, counted once."""

    def test_trade_through_the_bid_fills_once(self):
        q = [Quote(1_000_000, 100.0, 1.0, 100.1, 1.0), Quote(3_000_000, 100.0, 1.0, 100.1, 1.0)]
        # 2 ms after the quote a seller sweeps 100.0 and prints 99.9: our bid (placed at 1000 ms
        # with latency 0) fills through; the ask is untouched.
        t = [Trade(1_002_000, 99.9, 2.0, False)]
        c = convert.convert(q, t, 0.1)
        hbt = hbt_mm.build(c.events, 0, False, 0.1, 0.001)
        stats = np.zeros(8, np.int64)
        fills, _ = hbt_mm.run_mm(hbt, c.ms, 0.01, 0.05, 0.0, 100, stats)
        hbt.close()
        self.assertEqual(stats[5], 0)
        self.assertEqual(stats[0], 1)
        f = fills[0]
        self.assertEqual(int(f[hbt_mm.FILL_TS_MS]), 1002)
        self.assertEqual(f[hbt_mm.FILL_SIDE], 1.0)
        self.assertEqual(int(f[hbt_mm.FILL_PRICE_TICK]), 1000)
        self.assertAlmostEqual(f[hbt_mm.FILL_QTY], 0.01)
        self.assertEqual(f[hbt_mm.FILL_MAKER], 1.0)

    def test_requote_waits_for_the_acknowledgement(self):
        # 10 ms each way. At 1000 ms both sides are placed (they arrive at 1010, answers at 1020).
        # At 1005 the touch moves up a tick: nothing can be cancelled yet. The ask at 100.1 arrives
        # at 1010 on a book whose bid is 100.1, so it is rejected (post-only); the bid rests.
        # At 1015 nothing is acknowledged yet; at 1025 the bid is cancelled and replaced at 100.1
        # and a new ask goes to 100.2.
        rows = [(1000, 100.0, 100.1), (1005, 100.1, 100.2), (1015, 100.1, 100.2), (1025, 100.1, 100.2), (1100, 100.1, 100.2)]
        q = [Quote(ms * 1000, b, 1.0, a, 1.0) for ms, b, a in rows]
        c = convert.convert(q, [], 0.1)
        hbt = hbt_mm.build(c.events, 10, False, 0.1, 0.001)
        stats = np.zeros(8, np.int64)
        hbt_mm.run_mm(hbt, c.ms, 0.01, 0.05, 0.0, 100, stats)
        hbt.close()
        fills, placed, cancels, rejected, hedges, err, steps, merged = stats
        self.assertEqual((err, fills, hedges, merged), (0, 0, 0, 0))
        self.assertEqual(steps, 4)  # the last row ends the data
        self.assertEqual((placed, cancels, rejected), (4, 1, 1))


if __name__ == "__main__":
    unittest.main()
