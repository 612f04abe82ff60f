"""Tardis-style CSV (bookTicker quotes + trades) -> hftbacktest event array.

The conversion gives hftbacktest the same input shadowkpi's engine reads:

* rows of both files are merged by ``local_timestamp`` (arrival order, in
  microseconds), stably, the quotes file first when a quote and a trade arrived
  in the same microsecond;
* every row's time is floored to whole milliseconds (shadowkpi's engine runs
  in integer milliseconds) and used as both the exchange and the local time,
  in nanoseconds (``ms * 1_000_000``): feed latency 0 on both sides;
* hftbacktest's depth keeps every price level it was told about, so each
  bookTicker row is turned into the depth events that leave the book holding
  exactly what a best-bid/offer feed implies (see ``bbo_events``).
"""

from __future__ import annotations

import csv
import gzip
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hftbacktest.types import (
    BUY_EVENT,
    DEPTH_EVENT,
    EXCH_EVENT,
    LOCAL_EVENT,
    SELL_EVENT,
    TRADE_EVENT,
    event_dtype,
)

#: Flags of a bid / ask depth update and of a buy / sell (aggressor) trade.
BID_DEPTH = EXCH_EVENT | LOCAL_EVENT | DEPTH_EVENT | BUY_EVENT
ASK_DEPTH = EXCH_EVENT | LOCAL_EVENT | DEPTH_EVENT | SELL_EVENT
BUY_TRADE = EXCH_EVENT | LOCAL_EVENT | TRADE_EVENT | BUY_EVENT
SELL_TRADE = EXCH_EVENT | LOCAL_EVENT | TRADE_EVENT | SELL_EVENT

QUOTE_COLUMNS = [
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "ask_amount",
    "ask_price",
    "bid_price",
    "bid_amount",
]
TRADE_COLUMNS = [
    "exchange",
    "symbol",
    "timestamp",
    "local_timestamp",
    "id",
    "side",
    "price",
    "amount",
]


class InputError(Exception):
    """A CSV file is missing, malformed or out of order (names file and line)."""


@dataclass
class Quote:
    """One bookTicker row."""

    local_us: int
    bid: float
    bid_qty: float
    ask: float
    ask_qty: float


@dataclass
class Trade:
    """One trade row; ``buy`` is true when the aggressor bought."""

    local_us: int
    price: float
    qty: float
    buy: bool


def _rows(path: Path, columns: list[str]):
    try:
        fh = gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")
    except OSError as e:
        raise InputError(f"{path}: cannot open: {e}") from e
    with fh:
        reader = csv.reader(fh)
        try:
            header = next(reader)
        except StopIteration:
            raise InputError(f"{path}: empty file, expected header {','.join(columns)}") from None
        if header != columns:
            raise InputError(f"{path}:1: header {','.join(header)!r}, expected {','.join(columns)!r}")
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) != len(columns):
                raise InputError(f"{path}:{lineno}: {len(row)} fields, expected {len(columns)}")
            yield lineno, row


def _num(path: Path, lineno: int, field: str, text: str, kind=float):
    try:
        return kind(text)
    except ValueError:
        raise InputError(f"{path}:{lineno}: field `{field}` is {text!r}, expected a number") from None


def read_quotes(path: Path, symbol: str) -> list[Quote]:
    """Reads a bookTicker file, keeping the rows of ``symbol``."""
    out: list[Quote] = []
    last = None
    for lineno, r in _rows(path, QUOTE_COLUMNS):
        if r[1] != symbol:
            continue
        q = Quote(
            local_us=_num(path, lineno, "local_timestamp", r[3], int),
            ask_qty=_num(path, lineno, "ask_amount", r[4]),
            ask=_num(path, lineno, "ask_price", r[5]),
            bid=_num(path, lineno, "bid_price", r[6]),
            bid_qty=_num(path, lineno, "bid_amount", r[7]),
        )
        if not (q.bid > 0 and q.ask > q.bid and q.bid_qty > 0 and q.ask_qty > 0):
            raise InputError(
                f"{path}:{lineno}: expected 0 < bid_price < ask_price and positive amounts, "
                f"got bid {q.bid} x {q.bid_qty}, ask {q.ask} x {q.ask_qty}"
            )
        if last is not None and q.local_us < last:
            raise InputError(f"{path}:{lineno}: local_timestamp {q.local_us} is before {last}")
        last = q.local_us
        out.append(q)
    return out


def read_trades(path: Path, symbol: str) -> list[Trade]:
    """Reads a trades file, keeping the rows of ``symbol``."""
    out: list[Trade] = []
    last = None
    for lineno, r in _rows(path, TRADE_COLUMNS):
        if r[1] != symbol:
            continue
        if r[5] not in ("buy", "sell"):
            raise InputError(f"{path}:{lineno}: field `side` is {r[5]!r}, expected buy or sell")
        t = Trade(
            local_us=_num(path, lineno, "local_timestamp", r[3], int),
            price=_num(path, lineno, "price", r[6]),
            qty=_num(path, lineno, "amount", r[7]),
            buy=r[5] == "buy",
        )
        if not (t.price > 0 and t.qty > 0):
            raise InputError(f"{path}:{lineno}: expected a positive price and amount")
        if last is not None and t.local_us < last:
            raise InputError(f"{path}:{lineno}: local_timestamp {t.local_us} is before {last}")
        last = t.local_us
        out.append(t)
    return out


def merge(quotes: list[Quote], trades: list[Trade]) -> list[Quote | Trade]:
    """Arrival order: by ``local_timestamp``, stable, quotes first on ties."""
    keyed = [(q.local_us, 0, i, q) for i, q in enumerate(quotes)]
    keyed += [(t.local_us, 1, i, t) for i, t in enumerate(trades)]
    keyed.sort(key=lambda k: (k[0], k[1], k[2]))
    return [k[3] for k in keyed]


class LevelBook:
    """The per-level book a best-bid/offer feed implies (what the converter tells hftbacktest).

    A bookTicker row says only where the touch is. When the best bid falls, every
    level above it is gone, so each is set to 0; when it rises, the new level is
    set and the older levels below keep their last size (a BBO feed says nothing
    about them). Asks mirror this.
    """

    def __init__(self, tick_size: float):
        self.tick_size = tick_size
        self.bids: dict[int, float] = {}
        self.asks: dict[int, float] = {}

    def tick(self, price: float) -> int:
        """Price -> integer tick, as hftbacktest rounds it."""
        return int(round(price / self.tick_size))

    def apply(self, q: Quote) -> list[tuple[int, int, float]]:
        """Updates the book with one row; returns its depth events ``(flag, tick, qty)``.

        Order: the bid levels cleared above the new best bid, the ask levels
        cleared below the new best ask, then the new best bid, then the new best
        ask. Clearing first means the book is never crossed in between.
        """
        b, a = self.tick(q.bid), self.tick(q.ask)
        events: list[tuple[int, int, float]] = []
        for t in sorted((t for t in self.bids if t > b), reverse=True):
            del self.bids[t]
            events.append((BID_DEPTH, t, 0.0))
        for t in sorted(t for t in self.asks if t < a):
            del self.asks[t]
            events.append((ASK_DEPTH, t, 0.0))
        self.bids[b] = q.bid_qty
        self.asks[a] = q.ask_qty
        events.append((BID_DEPTH, b, q.bid_qty))
        events.append((ASK_DEPTH, a, q.ask_qty))
        return events


@dataclass
class Converted:
    """The event array plus what a test needs to check it."""

    events: np.ndarray
    #: Per distinct millisecond (ascending): the millisecond, and the best bid/ask
    #: ticks of the last quote row at or before its end (-1 before the first quote).
    ms: np.ndarray
    best_bid_tick: np.ndarray
    best_ask_tick: np.ndarray
    quote_rows: int
    trade_rows: int


def convert(quotes: list[Quote], trades: list[Trade], tick_size: float, spread_ns: bool = True) -> Converted:
    """Builds the hftbacktest event array of the merged feed.

    Every event of a millisecond ``ms`` is stamped ``ms * 1_000_000`` ns, plus,
    with ``spread_ns``, its index within the millisecond (0, 1, 2, ... ns). The
    offset changes no rule -- the events keep their order, and the strategy and
    every order arrival stay on the millisecond grid (``hbt_mm`` acts at the
    last nanosecond of a millisecond) -- but the response to a fill then
    arrives at a timestamp of its own, so fills of one order in one
    millisecond reach the strategy one by one instead of merged (README.md).
    """
    book = LevelBook(tick_size)
    rows: list[tuple[int, int, float, float]] = []  # (flag, ts_ns, px, qty)
    ms_list: list[int] = []
    bb: list[int] = []
    ba: list[int] = []
    cur_b, cur_a = -1, -1
    k = 0
    for r in merge(quotes, trades):
        ms = r.local_us // 1000
        if ms_list and ms_list[-1] != ms:
            bb.append(cur_b)
            ba.append(cur_a)
        if not ms_list or ms_list[-1] != ms:
            ms_list.append(ms)
            k = 0
        if isinstance(r, Quote):
            for flag, t, qty in book.apply(r):
                rows.append((flag, ms * 1_000_000 + (k if spread_ns else 0), t * tick_size, qty))
                k += 1
            cur_b, cur_a = book.tick(r.bid), book.tick(r.ask)
        else:
            rows.append((BUY_TRADE if r.buy else SELL_TRADE, ms * 1_000_000 + (k if spread_ns else 0), r.price, r.qty))
            k += 1
        if k >= 999_999:
            # The last nanosecond of a millisecond is the strategy's.
            raise InputError(f"more than 999,998 events in millisecond {ms}")
    if ms_list:
        bb.append(cur_b)
        ba.append(cur_a)
    ev = np.zeros(len(rows), dtype=event_dtype)
    if rows:
        flags, ts, px, qty = zip(*rows)
        ev["ev"] = np.array(flags, dtype=np.uint64)
        ev["exch_ts"] = np.array(ts, dtype=np.int64)
        ev["local_ts"] = ev["exch_ts"]
        ev["px"] = np.array(px, dtype=np.float64)
        ev["qty"] = np.array(qty, dtype=np.float64)
    return Converted(
        events=ev,
        ms=np.array(ms_list, dtype=np.int64),
        best_bid_tick=np.array(bb, dtype=np.int64),
        best_ask_tick=np.array(ba, dtype=np.int64),
        quote_rows=len(quotes),
        trade_rows=len(trades),
    )


def load(quotes_path: Path, trades_path: Path, symbol: str, tick_size: float, spread_ns: bool = True) -> Converted:
    """Reads both files and converts them."""
    return convert(read_quotes(quotes_path, symbol), read_trades(trades_path, symbol), tick_size, spread_ns)
