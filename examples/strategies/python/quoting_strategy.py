#!/usr/bin/env python3
"""An external strategy for shadowkpi, in Python: the built-in quoting market maker.

This is a gRPC server of `shadowkpi.v1.StrategyService` (proto/shadowkpi/v1/
strategy.proto). A soak (shadowd) or a dry run (dryrund) dials it as
`--strategy http://HOST:PORT` and runs one `Session` stream in lockstep:

    exchange -> SessionRequest{start}     strategy -> SessionResponse{ready}
    exchange -> SessionRequest{decide}    strategy -> SessionResponse{decision}
    ...                                   (exactly one decision per decide)

It re-implements the built-in market maker (crates/domain/src/engine/
strategy.rs, `QuotingStrategy`) from the wire messages alone, bit for bit: a
soak with this strategy gives the same windows as one with the built-in. Python
floats are IEEE doubles, so reproducing Rust's arithmetic only takes care with
rounding (see the helpers below). Start from here to write your own strategy:
keep the session plumbing, replace `QuotingStrategy`.
"""

import argparse
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from concurrent import futures

import grpc

HERE = os.path.dirname(os.path.abspath(__file__))
GEN = os.path.join(HERE, "gen")  # generated stubs (git-ignored)
PROTOS = ("shadowkpi/v1/common.proto", "shadowkpi/v1/strategy.proto")

# ---------------------------------------------------------------- stubs --


def ensure_stubs(proto_dir):
    """Generates the Python stubs into gen/ when missing or older than the protos."""
    outs = [p[:-len(".proto")] + s for p in PROTOS for s in ("_pb2.py", "_pb2_grpc.py")]
    srcs = [os.path.join(proto_dir, p) for p in PROTOS]
    have_srcs = all(os.path.isfile(s) for s in srcs)
    if all(os.path.isfile(os.path.join(GEN, o)) for o in outs):
        if not have_srcs or min(os.path.getmtime(os.path.join(GEN, o)) for o in outs) >= max(
            os.path.getmtime(s) for s in srcs
        ):
            return
    if not have_srcs:
        sys.exit(f"no stubs in {GEN} and no protos in {proto_dir} (--proto-dir, SHADOWKPI_PROTO_DIR)")
    # Generate into a scratch dir, then move each file in place atomically, so
    # servers started side by side never import a half-written stub.
    os.makedirs(GEN, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tmp-", dir=GEN)
    try:
        subprocess.run(
            [sys.executable, "-m", "grpc_tools.protoc", "-I", proto_dir,
             f"--python_out={tmp}", f"--grpc_python_out={tmp}", *PROTOS],
            check=True,
        )
        for o in outs:
            os.makedirs(os.path.dirname(os.path.join(GEN, o)), exist_ok=True)
            os.replace(os.path.join(tmp, o), os.path.join(GEN, o))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# ------------------------------------------- Rust's float rounding, exactly --

I64_MIN, I64_MAX = -(1 << 63), (1 << 63) - 1


def as_i64(x):
    """Rust `x as i64`: truncates toward zero, saturates, NaN is 0."""
    if math.isnan(x):
        return 0
    if math.isinf(x):
        return I64_MAX if x > 0 else I64_MIN
    return max(I64_MIN, min(I64_MAX, int(x)))


def round_i64(x):
    """instrument.rs `round_i64`: half away from zero, as an integer."""
    return as_i64(x + math.copysign(0.5, x))


def f64_round(x):
    """Rust `f64::round`: half away from zero (Python's round() is half to even)."""
    if not math.isfinite(x):
        return x
    t = float(math.trunc(x))  # exact, and so is x - t
    if abs(x - t) >= 0.5:
        t += math.copysign(1.0, x)
    return math.copysign(t, x)  # keeps the sign of -0.3 -> -0.0


def f64_max(a, b):
    """Rust `f64::max`: a NaN argument loses."""
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return a if a > b else b


def clamp(x, lo, hi):
    """Rust `f64::clamp` (a NaN stays NaN; Python's min/max would drop it)."""
    if x < lo:
        x = lo
    if x > hi:
        x = hi
    return x


class Instrument:
    """The symbol's grid (instrument.rs `Instrument`): prices in whole ticks, sizes in lots."""

    def __init__(self, tick_size, lot_size):
        self.tick, self.lot = tick_size, lot_size

    def ticks(self, price):  # nearest
        return round_i64(price / self.tick)

    def price(self, ticks):  # i64 as f64, times the tick
        return float(ticks) * self.tick

    def ticks_floor(self, price):  # a bid: at or below, up to rounding noise
        t = self.ticks(price)
        return t if self.price(t) <= price + self.tick * 1e-6 else t - 1

    def ticks_ceil(self, price):  # an ask: at or above, up to rounding noise
        t = self.ticks(price)
        return t if self.price(t) >= price - self.tick * 1e-6 else t + 1

    def lots_floor(self, qty):
        l = f64_round(qty / self.lot)
        l = l if l * self.lot <= qty + self.lot * 1e-6 else l - 1.0
        return as_i64(f64_max(l, 0.0))

    def order_qty(self, qty):  # whole lots, rounded down, at least one
        return self.lot * float(max(self.lots_floor(qty), 1))


# ------------------------------------------------------------- strategy --

INV_EPS = 1e-9  # slack of inventory comparisons
BUY, SELL = "buy", "sell"
SIGN = {BUY: 1.0, SELL: -1.0}


class Quote:
    """A quote as the strategy last sent it; `acked` once the exchange accepted it."""

    def __init__(self, oid, price_ticks):
        self.id, self.price_ticks, self.acked = oid, price_ticks, False


class QuotingStrategy:
    """The quoting market maker of one symbol (strategy.rs `QuotingStrategy`).

    Quotes a post-only bid and ask of `min_lot` at `quote_offset_bps` around the
    mid, skewed against inventory; does not quote a side whose full fill would
    pass `inventory_limit` (cancels it); requotes when the target moved by more
    than `requote_threshold_bps`; hedges back to half the limit with a market
    order when |inventory| is over the limit. Actions are tuples:
    ("market", id, side, qty), ("place", id, side, price_ticks, qty), ("cancel", id).
    """

    def __init__(self, params):
        self.min_lot = params.min_lot
        self.offset = params.quote_offset_bps
        self.limit = params.inventory_limit  # positive (validated by the service)
        self.threshold = params.requote_threshold_bps
        self.inventory = 0.0  # from the fills reported so far
        self.bid = self.ask = None  # working Quotes
        self.hedge = None  # (id, signed size) of the hedge in flight
        self.next_id = 1
        self.tick_size = None  # the grid's tick at the previous decision

    # An exchange answer (on_event). `kind` is the OrderUpdateKind name.
    def on_update(self, kind, oid, side=None, size=0.0, done=False):
        if kind == "ACCEPTED":
            for q in (self.bid, self.ask):
                if q is not None and q.id == oid:
                    q.acked = True
        elif kind == "REJECTED":
            self.forget(oid)
        elif kind == "FILLED":
            self.inventory += SIGN[side] * size
            if abs(self.inventory) < INV_EPS:  # a flat book is exactly flat
                self.inventory = 0.0
            if done:
                self.forget(oid)
        # CANCELLED, CANCEL_REJECTED: nothing to do.

    def forget(self, oid):
        if self.bid is not None and self.bid.id == oid:
            self.bid = None
        if self.ask is not None and self.ask.id == oid:
            self.ask = None
        if self.hedge is not None and self.hedge[0] == oid:
            self.hedge = None

    # The grid got finer (refine_grid): quote prices are kept in ticks.
    def on_grid(self, tick_size):
        if self.tick_size is not None and tick_size != self.tick_size:
            factor = as_i64(f64_max(f64_round(self.tick_size / tick_size), 1.0))
            for q in (self.bid, self.ask):
                if q is not None:
                    q.price_ticks = max(I64_MIN, min(I64_MAX, q.price_ticks * factor))
        self.tick_size = tick_size

    def take_id(self):
        oid, self.next_id = self.next_id, self.next_id + 1
        return oid

    def place(self, side, ticks, qty, actions):
        oid = self.take_id()
        actions.append(("place", oid, side, ticks, qty))
        return Quote(oid, ticks)

    def decide(self, bid, ask, inst):
        actions, limit = [], self.limit
        lot = inst.order_qty(self.min_lot)
        mid = (bid + ask) / 2.0
        if self.hedge is None and abs(self.inventory) > limit + INV_EPS:
            side = SELL if self.inventory > 0.0 else BUY
            qty = inst.order_qty(abs(self.inventory) - limit / 2.0)
            oid = self.take_id()
            self.hedge = (oid, SIGN[side] * qty)
            actions.append(("market", oid, side, qty))
        # Quote against the inventory we will have once the hedge lands.
        inv = self.inventory + (self.hedge[1] if self.hedge is not None else 0.0)
        skew_bps = self.offset * clamp(inv / limit, -1.0, 1.0)
        bid_px = min(inst.ticks_floor(mid * (1.0 - (self.offset + skew_bps) / 1e4)), inst.ticks(bid))
        ask_px = max(inst.ticks_ceil(mid * (1.0 + (self.offset - skew_bps) / 1e4)), inst.ticks(ask))
        bid_ok = inv + lot <= limit + INV_EPS
        ask_ok = inv - lot >= -limit - INV_EPS
        for side, target, allowed in ((BUY, bid_px, bid_ok), (SELL, ask_px, ask_ok)):
            q = self.bid if side == BUY else self.ask
            if q is None:
                q = self.place(side, target, lot, actions) if allowed else None
            elif not q.acked:
                pass  # an order is cancelled only once it is acknowledged
            elif not allowed:
                actions.append(("cancel", q.id))
                q = None
            else:
                moved_bps = inst.price(abs(target - q.price_ticks)) / mid * 1e4 if mid > 0.0 else 0.0
                if target != q.price_ticks and moved_bps > self.threshold:
                    actions.append(("cancel", q.id))  # requote: cancel, then place
                    q = self.place(side, target, lot, actions)
            if side == BUY:
                self.bid = q
            else:
                self.ask = q
        return actions


# -------------------------------------------------------------- session --


class StrategyService:
    """The StrategyService: one Session per soak or dry run, one strategy per symbol."""

    def __init__(self, pb, common, wake_on):
        self.pb, self.common, self.wake_on = pb, common, wake_on
        self.kinds = {v: k[len("ORDER_UPDATE_KIND_"):] for k, v in pb.OrderUpdateKind.items()}
        self.sides = {common.SIDE_BUY: BUY, common.SIDE_SELL: SELL}

    def Session(self, requests, context):
        pb, strategies = self.pb, None
        for req in requests:
            which = req.WhichOneof("event")
            if which == "start" and strategies is None:
                s = req.start
                strategies = {sym.symbol: QuotingStrategy(sym.params) for sym in s.symbols}
                phase = {v: k for k, v in pb.SessionPhase.items()}.get(s.phase, s.phase)
                print(f"session {s.run_id}: {phase}, "
                      f"{len(strategies)} symbol(s)", file=sys.stderr, flush=True)
                yield pb.SessionResponse(ready=pb.SessionReady(
                    name="quoting-strategy-python", version="0.1.0", wake_on=self.wake_on))
            elif which == "decide" and strategies is not None:
                yield pb.SessionResponse(decision=self.decide(strategies, req.decide, context))
            else:
                context.abort(grpc.StatusCode.FAILED_PRECONDITION,
                              f"unexpected {which}: start first, once, then decide")

    def decide(self, strategies, d, context):
        pb, orders = self.pb, []
        st = strategies.get(d.symbol)
        if st is None:  # a symbol the run did not start: no orders
            return pb.Decision(sequence=d.sequence)
        for u in d.updates:
            kind = self.kinds.get(u.kind, "UNSPECIFIED")
            if kind == "FILLED" and u.side not in self.sides:
                context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"fill of {u.client_order_id} without a side")
            st.on_update(kind, u.client_order_id, self.sides.get(u.side), u.size, u.done)
        st.on_grid(d.grid.tick_size)
        inst = Instrument(d.grid.tick_size, d.grid.lot_size)
        side = {BUY: self.common.SIDE_BUY, SELL: self.common.SIDE_SELL}
        for a in st.decide(d.market.bid, d.market.ask, inst):
            if a[0] == "market":
                orders.append(pb.Order(kind=pb.ORDER_KIND_PLACE, type=pb.ORDER_TYPE_MARKET,
                                       client_order_id=a[1], side=side[a[2]], size=a[3]))
            elif a[0] == "place":
                orders.append(pb.Order(kind=pb.ORDER_KIND_PLACE, type=pb.ORDER_TYPE_LIMIT,
                                       time_in_force=pb.TIME_IN_FORCE_POST_ONLY,
                                       client_order_id=a[1], side=side[a[2]],
                                       price=inst.price(a[3]), size=a[4]))
            else:
                orders.append(pb.Order(kind=pb.ORDER_KIND_CANCEL, client_order_id=a[1]))
        return pb.Decision(sequence=d.sequence, orders=orders)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--listen", default="127.0.0.1:50060", help="HOST:PORT (port 0: any free port)")
    ap.add_argument("--wake-on", choices=("every", "change"), default="change",
                    help="ask for every decision, or only when the book, grid or orders changed")
    ap.add_argument("--proto-dir", default=os.environ.get("SHADOWKPI_PROTO_DIR")
                    or os.path.join(HERE, "..", "..", "..", "proto"),
                    help="the repo's proto/ dir, to generate the stubs from")
    args = ap.parse_args()

    ensure_stubs(os.path.abspath(args.proto_dir))
    sys.path.insert(0, GEN)
    from shadowkpi.v1 import common_pb2, strategy_pb2, strategy_pb2_grpc

    wake_on = {"every": strategy_pb2.WAKE_ON_EVERY_DECISION, "change": strategy_pb2.WAKE_ON_CHANGE}
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    strategy_pb2_grpc.add_StrategyServiceServicer_to_server(
        StrategyService(strategy_pb2, common_pb2, wake_on[args.wake_on]), server)
    port = server.add_insecure_port(args.listen)  # the actual port when 0 was asked
    if not port:
        sys.exit(f"cannot listen on {args.listen}")
    server.start()
    print(f"listening on {args.listen.rpartition(':')[0]}:{port}", flush=True)

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    while not stop.wait(0.5):
        pass
    server.stop(grace=2).wait()


if __name__ == "__main__":
    main()
