//! Decoding a market-feed entry (stream fields or a JSON Lines record) into a
//! [`Tick`], and encoding a tick back into fields.
//!
//! The field names are the contract of docs/contract.md ("The market feed"):
//! `symbol`, `seq`, `ts_server` (integer milliseconds), `bid`, `ask`,
//! `last_qty`, and optionally `bid_qty`, `ask_qty`, `last_px`, `side`
//! (`buy`/`sell`, any case). Unknown fields are ignored; when a field appears
//! twice the first one counts. An entry that cannot be decoded yields a
//! [`Reject`] whose [`RejectReason`] has a stable snake_case label (the
//! `reason` of the dead-letter stream and of the `shadow_ingest_rejected_total`
//! metric) and whose message names the field.
//!
//! [`decode_raw`] allocates nothing: it borrows the raw symbol so a caller can
//! cache its normalisation (the ingest hot path does).

use std::fmt;

use crate::symbol::normalize_symbol;
use crate::tick::{Side, Tick};

/// Field names of the feed contract.
pub mod field {
    /// Symbol, any spelling (`BTC-USDT`, `btc/usdt`).
    pub const SYMBOL: &str = "symbol";
    /// Exchange sequence number.
    pub const SEQ: &str = "seq";
    /// Exchange event time, integer milliseconds since the epoch.
    pub const TS_SERVER: &str = "ts_server";
    /// Best bid price.
    pub const BID: &str = "bid";
    /// Best ask price.
    pub const ASK: &str = "ask";
    /// Size of the last trade.
    pub const LAST_QTY: &str = "last_qty";
    /// Size at the best bid (optional).
    pub const BID_QTY: &str = "bid_qty";
    /// Size at the best ask (optional).
    pub const ASK_QTY: &str = "ask_qty";
    /// Price of the last trade (optional).
    pub const LAST_PX: &str = "last_px";
    /// Aggressor side of the last trade (optional).
    pub const SIDE: &str = "side";
    /// Wall-clock time, integer milliseconds since the epoch, that a replay
    /// or synthetic publisher paced the entry to (optional). `0` says the
    /// entry was published unpaced, so its `ts_server` bears no relation to
    /// the wall clock. Absent on a live feed, whose `ts_server` is on the
    /// wall clock. See [`super::ingest_time_ms`].
    pub const TS_WALL: &str = "ts_wall";
    /// When the feed's recorder received the event, integer milliseconds
    /// since the epoch on the recorder's clock (optional; replays of
    /// recordings with two clocks, e.g. Tardis `local_timestamp` merged on the
    /// exchange clock).
    pub const TS_RECV: &str = "ts_recv";
}

/// The [`field::TS_WALL`] value of an unpaced entry.
pub const TS_WALL_UNPACED: &str = "0";

/// Why an entry was rejected. [`RejectReason::as_str`] is the stable label.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RejectReason {
    /// A required field is absent.
    MissingField,
    /// A numeric field does not parse (or is not an integer where one is needed).
    NotANumber,
    /// A price or size is NaN or infinite.
    Nan,
    /// A price, size, sequence or timestamp is negative.
    Negative,
    /// The best bid is above the best ask.
    CrossedBook,
    /// The symbol is empty once normalised.
    EmptySymbol,
    /// `side` is neither `buy` nor `sell`.
    BadSide,
}

impl RejectReason {
    /// Every reason, in label order.
    pub const ALL: [RejectReason; 7] = [
        RejectReason::BadSide,
        RejectReason::CrossedBook,
        RejectReason::EmptySymbol,
        RejectReason::MissingField,
        RejectReason::Nan,
        RejectReason::Negative,
        RejectReason::NotANumber,
    ];

    /// The stable snake_case label (`missing_field`, `crossed_book`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::MissingField => "missing_field",
            RejectReason::NotANumber => "not_a_number",
            RejectReason::Nan => "nan",
            RejectReason::Negative => "negative",
            RejectReason::CrossedBook => "crossed_book",
            RejectReason::EmptySymbol => "empty_symbol",
            RejectReason::BadSide => "bad_side",
        }
    }

    /// Parses a label back into a reason.
    pub fn from_label(label: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == label)
    }
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An entry that could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Reject {
    /// The classified reason.
    pub reason: RejectReason,
    /// The offending field.
    pub field: &'static str,
    /// A human-readable message naming the field (and the value, shortened).
    pub message: String,
}

impl Reject {
    fn new(reason: RejectReason, field: &'static str, message: String) -> Self {
        Self {
            reason,
            field,
            message,
        }
    }
}

/// A decoded tick whose symbol is still the raw, borrowed spelling. The
/// symbol is guaranteed to normalise to something non-empty.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RawTick<'a> {
    /// The symbol as written by the feed.
    pub symbol: &'a str,
    /// Sequence number.
    pub seq: u64,
    /// Event time, ms.
    pub ts_server_ms: i64,
    /// Best bid.
    pub bid: f64,
    /// Best ask.
    pub ask: f64,
    /// Last trade size (0 when none).
    pub last_qty: f64,
    /// Size at the bid.
    pub bid_qty: Option<f64>,
    /// Size at the ask.
    pub ask_qty: Option<f64>,
    /// Last trade price.
    pub last_px: Option<f64>,
    /// Aggressor side.
    pub side: Side,
    /// The [`field::TS_WALL`] of a replayed entry: `Some(0)` unpaced,
    /// `Some(ms)` paced to that wall-clock time, `None` a live entry.
    pub ts_wall_ms: Option<i64>,
    /// The [`field::TS_RECV`], when present.
    pub ts_recv_ms: Option<i64>,
}

/// The `ts_ingest_ms` ingest stamps on a tick it read at wall-clock
/// `read_at_ms`, chosen so that `clock_drift_ms` (the EWMA of
/// `ts_ingest_ms − ts_server_ms`) measures what it should for each kind of
/// feed:
///
/// - live (`ts_wall` absent): `read_at_ms`, so drift is receive time minus
///   exchange time;
/// - a paced replay (`ts_wall` = the wall time the publisher paced the entry
///   to): `ts_server_ms + (read_at_ms − ts_wall)`, so drift is how late ingest
///   read the entry against the replay's own schedule (wall-clock ms, whatever
///   the speed), not the age of the recording;
/// - an unpaced replay (`ts_wall` = 0): `0`, "unknown", so the engine skips the
///   tick and drift is absent (not applicable) rather than the recording's age.
pub fn ingest_time_ms(ts_wall_ms: Option<i64>, ts_server_ms: i64, read_at_ms: i64) -> i64 {
    match ts_wall_ms {
        None => read_at_ms,
        Some(0) => 0,
        Some(wall) => ts_server_ms.saturating_add(read_at_ms.saturating_sub(wall)),
    }
}

impl RawTick<'_> {
    /// The tick with `symbol` (the normalised spelling of [`RawTick::symbol`])
    /// and no ingest time.
    pub fn into_tick(self, symbol: String) -> Tick {
        Tick {
            symbol,
            seq: self.seq,
            ts_server_ms: self.ts_server_ms,
            bid: self.bid,
            ask: self.ask,
            last_qty: self.last_qty,
            bid_qty: self.bid_qty,
            ask_qty: self.ask_qty,
            last_px: self.last_px,
            side: self.side,
            ts_ingest_ms: 0,
            ts_recv_ms: self.ts_recv_ms,
        }
    }
}

/// True when `raw` normalises to a non-empty symbol, without allocating.
pub fn has_symbol(raw: &str) -> bool {
    raw.bytes().any(|b| b.is_ascii_alphanumeric())
}

/// Decodes fields into a [`RawTick`] (no allocation on success).
pub fn decode_raw<'a, I>(fields: I) -> Result<RawTick<'a>, Reject>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let mut slots: [Option<&'a str>; 12] = [None; 12];
    const NAMES: [&str; 12] = [
        field::SYMBOL,
        field::SEQ,
        field::TS_SERVER,
        field::BID,
        field::ASK,
        field::LAST_QTY,
        field::BID_QTY,
        field::ASK_QTY,
        field::LAST_PX,
        field::SIDE,
        field::TS_WALL,
        field::TS_RECV,
    ];
    for (k, v) in fields {
        if let Some(i) = NAMES.iter().position(|n| *n == k)
            && slots[i].is_none()
        {
            slots[i] = Some(v);
        }
    }
    let [
        symbol,
        seq,
        ts,
        bid,
        ask,
        last_qty,
        bid_qty,
        ask_qty,
        last_px,
        side,
        ts_wall,
        ts_recv,
    ] = slots;

    let symbol = required(symbol, field::SYMBOL)?;
    if !has_symbol(symbol) {
        return Err(Reject::new(
            RejectReason::EmptySymbol,
            field::SYMBOL,
            format!(
                "field `symbol` is empty once normalised: `{}`",
                shorten(symbol)
            ),
        ));
    }
    let seq = parse_u64(required(seq, field::SEQ)?, field::SEQ)?;
    let ts_server_ms = parse_ts(required(ts, field::TS_SERVER)?, field::TS_SERVER)?;
    let bid = parse_amount(required(bid, field::BID)?, field::BID)?;
    let ask = parse_amount(required(ask, field::ASK)?, field::ASK)?;
    let last_qty = parse_amount(required(last_qty, field::LAST_QTY)?, field::LAST_QTY)?;
    let bid_qty = optional(bid_qty, field::BID_QTY)?;
    let ask_qty = optional(ask_qty, field::ASK_QTY)?;
    let last_px = optional(last_px, field::LAST_PX)?;
    let ts_wall_ms = match ts_wall.map(str::trim) {
        None | Some("") => None,
        Some(w) => Some(parse_ts(w, field::TS_WALL)?),
    };
    let ts_recv_ms = match ts_recv.map(str::trim) {
        None | Some("") => None,
        Some(r) => Some(parse_ts(r, field::TS_RECV)?),
    };
    let side = match side.map(str::trim) {
        None | Some("") => Side::Unspecified,
        Some(s) if s.eq_ignore_ascii_case("buy") => Side::Buy,
        Some(s) if s.eq_ignore_ascii_case("sell") => Side::Sell,
        Some(s) => {
            return Err(Reject::new(
                RejectReason::BadSide,
                field::SIDE,
                format!("field `side` must be `buy` or `sell`, got `{}`", shorten(s)),
            ));
        }
    };
    if bid > ask {
        return Err(Reject::new(
            RejectReason::CrossedBook,
            field::BID,
            format!("crossed book: field `bid` {bid} is above field `ask` {ask}"),
        ));
    }
    Ok(RawTick {
        symbol,
        seq,
        ts_server_ms,
        bid,
        ask,
        last_qty,
        bid_qty,
        ask_qty,
        last_px,
        side,
        ts_wall_ms,
        ts_recv_ms,
    })
}

/// Decodes fields into a [`Tick`] with a normalised symbol.
pub fn decode<'a, I>(fields: I) -> Result<Tick, Reject>
where
    I: IntoIterator<Item = (&'a str, &'a str)>,
{
    let raw = decode_raw(fields)?;
    // decode_raw checked that the symbol has an alphanumeric character.
    let symbol = normalize_symbol(raw.symbol).unwrap_or_default();
    Ok(raw.into_tick(symbol))
}

/// Decodes owned field pairs, as a stream entry holds them.
pub fn decode_pairs(fields: &[(String, String)]) -> Result<Tick, Reject> {
    decode(fields.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// Encodes a tick as feed fields, in contract order. Optional fields are
/// written only when present; `side` only when specified. Numbers use the
/// shortest representation that reads back to the same `f64`.
pub fn encode(tick: &Tick) -> Vec<(String, String)> {
    let mut out = Vec::with_capacity(11);
    out.push((field::SYMBOL.into(), tick.symbol.clone()));
    out.push((field::SEQ.into(), tick.seq.to_string()));
    out.push((field::TS_SERVER.into(), tick.ts_server_ms.to_string()));
    out.push((field::BID.into(), tick.bid.to_string()));
    out.push((field::ASK.into(), tick.ask.to_string()));
    out.push((field::LAST_QTY.into(), tick.last_qty.to_string()));
    if let Some(q) = tick.bid_qty {
        out.push((field::BID_QTY.into(), q.to_string()));
    }
    if let Some(q) = tick.ask_qty {
        out.push((field::ASK_QTY.into(), q.to_string()));
    }
    if let Some(p) = tick.last_px {
        out.push((field::LAST_PX.into(), p.to_string()));
    }
    match tick.side {
        Side::Buy => out.push((field::SIDE.into(), "buy".into())),
        Side::Sell => out.push((field::SIDE.into(), "sell".into())),
        Side::Unspecified => {}
    }
    if let Some(r) = tick.ts_recv_ms {
        out.push((field::TS_RECV.into(), r.to_string()));
    }
    out
}

fn required<'a>(v: Option<&'a str>, name: &'static str) -> Result<&'a str, Reject> {
    v.ok_or_else(|| {
        Reject::new(
            RejectReason::MissingField,
            name,
            format!("field `{name}` is missing"),
        )
    })
}

fn not_a_number(name: &'static str, v: &str, what: &str) -> Reject {
    Reject::new(
        RejectReason::NotANumber,
        name,
        format!("field `{name}` is not {what}: `{}`", shorten(v)),
    )
}

fn negative(name: &'static str, v: &str) -> Reject {
    Reject::new(
        RejectReason::Negative,
        name,
        format!("field `{name}` is negative: `{}`", shorten(v)),
    )
}

fn parse_u64(v: &str, name: &'static str) -> Result<u64, Reject> {
    let t = v.trim();
    if let Ok(n) = t.parse::<u64>() {
        return Ok(n);
    }
    if t.parse::<i64>().is_ok_and(|n| n < 0) {
        return Err(negative(name, v));
    }
    Err(not_a_number(name, v, "an unsigned integer"))
}

fn parse_ts(v: &str, name: &'static str) -> Result<i64, Reject> {
    match v.trim().parse::<i64>() {
        Ok(n) if n < 0 => Err(negative(name, v)),
        Ok(n) => Ok(n),
        Err(_) => Err(not_a_number(name, v, "integer milliseconds")),
    }
}

fn parse_amount(v: &str, name: &'static str) -> Result<f64, Reject> {
    let x: f64 = v
        .trim()
        .parse()
        .map_err(|_| not_a_number(name, v, "a number"))?;
    if !x.is_finite() {
        return Err(Reject::new(
            RejectReason::Nan,
            name,
            format!("field `{name}` is not finite: `{}`", shorten(v)),
        ));
    }
    if x < 0.0 {
        return Err(negative(name, v));
    }
    // -0.0 reads as 0.
    Ok(x + 0.0)
}

fn optional(v: Option<&str>, name: &'static str) -> Result<Option<f64>, Reject> {
    match v {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => parse_amount(s, name).map(Some),
    }
}

/// At most 32 characters of a value, for messages.
fn shorten(v: &str) -> String {
    const MAX: usize = 32;
    if v.chars().count() <= MAX {
        v.to_string()
    } else {
        let mut s: String = v.chars().take(MAX).collect();
        s.push('…');
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn good() -> Vec<(&'static str, &'static str)> {
        vec![
            ("symbol", "btc-usdt"),
            ("seq", "42"),
            ("ts_server", "1700000000123"),
            ("bid", "60000.1"),
            ("ask", "60000.2"),
            ("last_qty", "0.5"),
            ("bid_qty", "1.25"),
            ("ask_qty", "2"),
            ("last_px", "60000.2"),
            ("side", "BUY"),
        ]
    }

    fn with(name: &str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        good()
            .into_iter()
            .map(|(k, v)| if k == name { (k, value) } else { (k, v) })
            .collect()
    }

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        good().into_iter().filter(|(k, _)| *k != name).collect()
    }

    #[test]
    fn a_complete_entry_decodes_and_normalises_the_symbol() {
        let t = decode(good()).unwrap();
        assert_eq!(t.symbol, "BTCUSDT");
        assert_eq!(t.seq, 42);
        assert_eq!(t.ts_server_ms, 1_700_000_000_123);
        assert_eq!((t.bid, t.ask, t.last_qty), (60000.1, 60000.2, 0.5));
        assert_eq!(
            (t.bid_qty, t.ask_qty, t.last_px),
            (Some(1.25), Some(2.0), Some(60000.2))
        );
        assert_eq!(t.side, Side::Buy);
    }

    #[test]
    fn optional_fields_may_be_absent_or_empty() {
        let mut f = without("bid_qty");
        f.retain(|(k, _)| *k != "side" && *k != "last_px");
        f.push(("ask_qty", ""));
        let t = decode(f).unwrap();
        assert_eq!(
            (t.bid_qty, t.last_px, t.side),
            (None, None, Side::Unspecified)
        );
        // The first ask_qty ("2") counts.
        assert_eq!(t.ask_qty, Some(2.0));
    }

    #[test]
    fn every_defect_has_its_reason_and_names_the_field() {
        type Case = (
            Vec<(&'static str, &'static str)>,
            RejectReason,
            &'static str,
        );
        let cases: Vec<Case> = vec![
            (without("bid"), RejectReason::MissingField, "bid"),
            (without("symbol"), RejectReason::MissingField, "symbol"),
            (
                without("ts_server"),
                RejectReason::MissingField,
                "ts_server",
            ),
            (with("ask", "abc"), RejectReason::NotANumber, "ask"),
            (with("seq", "1.5"), RejectReason::NotANumber, "seq"),
            (
                with("ts_server", "1700000000.5"),
                RejectReason::NotANumber,
                "ts_server",
            ),
            (with("bid", "NaN"), RejectReason::Nan, "bid"),
            (with("bid_qty", "inf"), RejectReason::Nan, "bid_qty"),
            (with("last_qty", "-1"), RejectReason::Negative, "last_qty"),
            (with("seq", "-3"), RejectReason::Negative, "seq"),
            (with("bid", "60000.3"), RejectReason::CrossedBook, "bid"),
            (with("symbol", "--/"), RejectReason::EmptySymbol, "symbol"),
            (with("side", "sideways"), RejectReason::BadSide, "side"),
        ];
        for (fields, reason, name) in cases {
            let r = decode(fields).unwrap_err();
            assert_eq!((r.reason, r.field), (reason, name), "{}", r.message);
            assert!(r.message.contains(&format!("`{name}`")), "{}", r.message);
        }
    }

    #[test]
    fn a_locked_book_is_accepted() {
        let t = decode(with("bid", "60000.2")).unwrap();
        assert_eq!(t.bid, t.ask);
    }

    #[test]
    fn labels_round_trip() {
        for r in RejectReason::ALL {
            assert_eq!(RejectReason::from_label(r.as_str()), Some(r));
        }
        let mut labels: Vec<_> = RejectReason::ALL.iter().map(|r| r.as_str()).collect();
        let sorted = {
            let mut s = labels.clone();
            s.sort_unstable();
            s
        };
        assert_eq!(labels, sorted);
        labels.dedup();
        assert_eq!(labels.len(), 7);
    }

    #[test]
    fn encode_then_decode_is_the_identity() {
        let t = decode(good()).unwrap();
        let fields = encode(&t);
        assert_eq!(decode_pairs(&fields).unwrap(), t);
        let plain = Tick {
            symbol: "ETHUSDT".into(),
            seq: 1,
            ts_server_ms: 5,
            bid: 3000.01,
            ask: 3000.02,
            ..Tick::default()
        };
        let fields = encode(&plain);
        assert_eq!(fields.len(), 6);
        assert_eq!(decode_pairs(&fields).unwrap(), plain);
    }

    #[test]
    fn long_values_are_shortened_in_messages() {
        let long = "x".repeat(100);
        let leaked: &'static str = Box::leak(long.into_boxed_str());
        let r = decode(with("bid", leaked)).unwrap_err();
        assert!(r.message.len() < 80, "{}", r.message);
    }

    #[test]
    fn ts_wall_is_read_and_a_bad_one_is_rejected_naming_it() {
        assert_eq!(decode_raw(good()).unwrap().ts_wall_ms, None);
        let mut f = good();
        f.push(("ts_wall", "1764650000250"));
        assert_eq!(decode_raw(f).unwrap().ts_wall_ms, Some(1_764_650_000_250));
        let mut f = good();
        f.push(("ts_wall", TS_WALL_UNPACED));
        assert_eq!(decode_raw(f).unwrap().ts_wall_ms, Some(0));
        let mut f = good();
        f.push(("ts_wall", "soon"));
        let r = decode_raw(f).unwrap_err();
        assert_eq!((r.reason, r.field), (RejectReason::NotANumber, "ts_wall"));
        let mut f = good();
        f.push(("ts_wall", "-5"));
        assert_eq!(decode_raw(f).unwrap_err().reason, RejectReason::Negative);
    }

    #[test]
    fn ts_recv_is_read_encoded_and_a_bad_one_is_rejected_naming_it() {
        assert_eq!(decode(good()).unwrap().ts_recv_ms, None);
        let mut f = good();
        f.push(("ts_recv", "1723161254000"));
        let t = decode(f).unwrap();
        assert_eq!(t.ts_recv_ms, Some(1_723_161_254_000));
        let fields = encode(&t);
        assert!(fields.contains(&("ts_recv".to_string(), "1723161254000".to_string())));
        let back = decode(fields.iter().map(|(k, v)| (k.as_str(), v.as_str()))).unwrap();
        assert_eq!(back, t);
        let mut f = good();
        f.push(("ts_recv", "later"));
        let r = decode_raw(f).unwrap_err();
        assert_eq!((r.reason, r.field), (RejectReason::NotANumber, "ts_recv"));
        let mut f = good();
        f.push(("ts_recv", "-1"));
        let r = decode_raw(f).unwrap_err();
        assert_eq!((r.reason, r.field), (RejectReason::Negative, "ts_recv"));
    }

    #[test]
    fn ingest_time_makes_drift_live_lateness_or_absent() {
        // A live entry: drift is receive minus exchange time.
        assert_eq!(ingest_time_ms(None, 1_000, 1_250), 1_250);
        // A 2024 recording paced by a replay: read 40 ms after the wall time it
        // was paced to, so ts_ingest − ts_server = 40 whatever the recording's age.
        let ts_server = 1_723_161_256_313;
        let due = 1_764_650_000_000;
        assert_eq!(
            ingest_time_ms(Some(due), ts_server, due + 40) - ts_server,
            40
        );
        // Read before its due time (a publisher ahead of schedule): negative.
        assert_eq!(
            ingest_time_ms(Some(due), ts_server, due - 3) - ts_server,
            -3
        );
        // Unpaced: unknown, so the engine leaves drift absent.
        assert_eq!(ingest_time_ms(Some(0), ts_server, due), 0);
    }
}
