//! Reading recorded ticks for replay: JSON Lines of ticks, and Tardis-style
//! CSV (`quotes` and `trades` files, merged by time).
//!
//! # JSON Lines
//! One JSON object per line with the field names of the stream
//! (`{"symbol":"BTCUSDT","seq":1,"ts_server":1700000000000,"bid":…}`); values
//! may be numbers or strings. Each line is decoded with the same rules as a
//! stream entry, so a line ingest would reject is reported here as an error
//! (with its line number) and the caller decides whether to skip it. Blank
//! lines and lines starting with `#` are ignored.
//!
//! # Tardis-style CSV
//! `quotes`: `exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount`;
//! `trades`: `exchange,symbol,timestamp,local_timestamp,id,side,price,amount`.
//! Columns are found by name (any order, extra columns ignored). The kind of a
//! file is told by its header.
//!
//! ## Two clocks
//! `timestamp` is the exchange's time where the message carries one;
//! `local_timestamp` is when the recorder received it. Both are integer
//! microseconds since the epoch. [`MergeClock`] chooses the one rows are
//! merged by and stamped with: [`MergeClock::Local`] (the default, arrival
//! order) or [`MergeClock::Exchange`]. Arrival order is the safe choice:
//! some feeds (Binance spot `bookTicker`) carry no exchange time, so Tardis
//! writes their `timestamp` as the arrival time, and merging them with trades
//! by `timestamp` puts every trade as far after its quotes as the recorder's
//! clock is behind the exchange's. Opening a file for the local clock whose
//! header has no `local_timestamp` is an error naming the file and the column.
//! Merged on the exchange clock, a row whose `timestamp` differs from its
//! `local_timestamp` also carries the latter as the tick's `ts_recv_ms`
//! (floored to ms), from which a model set can take the feed delay.
//!
//! ## Resolution
//! The feed contract's `ts_server` is integer milliseconds; the files are
//! microseconds. [`TardisMerge`] orders rows by the full microsecond value of
//! the chosen clock (a stable merge: on a tie, files given first go first,
//! and rows of one file keep their order; each file must be in time order on
//! that clock, as Tardis writes them), then floors it to milliseconds for the
//! tick's `ts_server_ms`. So ticks come out in microsecond order and several
//! of them may share a millisecond.
//!
//! ## Ticks
//! A quote sets the book and emits a tick with `last_qty = 0`; a trade emits
//! a tick on the current book with `last_qty`, `last_px` and the aggressor
//! `side`. A trade of a symbol whose book is not known yet is printed on a
//! locked book at the trade price. Sequence numbers are assigned per symbol
//! from 1, in output order.

use std::collections::HashMap;
use std::io::BufRead;

use crate::feed::decode::{self, Reject};
use crate::symbol::normalize_symbol;
use crate::tick::{Side, Tick};

/// A line of a replay file that could not be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{source_name}:{line}: {message}")]
pub struct ReplayError {
    /// The file (or stream) name.
    pub source_name: String,
    /// 1-based line number (0 for errors not tied to a line).
    pub line: u64,
    /// What is wrong.
    pub message: String,
    /// True when the whole source is unusable (I/O error, bad header), false
    /// when only this line is.
    pub fatal: bool,
}

impl ReplayError {
    fn line(source: &str, line: u64, message: impl Into<String>) -> Self {
        Self {
            source_name: source.to_string(),
            line,
            message: message.into(),
            fatal: false,
        }
    }

    fn fatal(source: &str, line: u64, message: impl Into<String>) -> Self {
        Self {
            fatal: true,
            ..Self::line(source, line, message)
        }
    }
}

/// The lines of a replay file, one at a time, with their 1-based numbers:
/// what both readers (JSON Lines, Tardis CSV) walk.
#[derive(Debug)]
struct Lines<R> {
    reader: R,
    buf: String,
    /// The number of the line in `buf`.
    line: u64,
    done: bool,
}

impl<R: BufRead> Lines<R> {
    fn new(reader: R) -> Self {
        Self {
            reader,
            buf: String::new(),
            line: 0,
            done: false,
        }
    }

    /// Moves to the next line that is not blank (nor a `#` comment when
    /// `comments`): `None` at the end, a fatal error naming `name` and the
    /// line when the file cannot be read (which also ends it). The line is
    /// then [`current`](Self::current).
    fn advance(&mut self, name: &str, comments: bool) -> Option<Result<(), ReplayError>> {
        while !self.done {
            self.buf.clear();
            match self.reader.read_line(&mut self.buf) {
                // read_line consumed the line (through its newline) before
                // finding it is not UTF-8: only this line is lost.
                Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
                    self.line += 1;
                    return Some(Err(ReplayError::line(
                        name,
                        self.line,
                        "line is not valid UTF-8",
                    )));
                }
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReplayError::fatal(name, self.line, e.to_string())));
                }
                Ok(0) => self.done = true,
                Ok(_) => {
                    self.line += 1;
                    let l = self.buf.trim();
                    if l.is_empty() || (comments && l.starts_with('#')) {
                        continue;
                    }
                    return Some(Ok(()));
                }
            }
        }
        None
    }

    /// The line [`advance`](Self::advance) moved to, trimmed.
    fn current(&self) -> &str {
        self.buf.trim()
    }
}

/// Ticks from JSON Lines. Create it with [`jsonl`].
#[derive(Debug)]
pub struct JsonlTicks<R> {
    lines: Lines<R>,
    name: String,
}

/// Reads ticks from JSON Lines; `name` labels errors.
pub fn jsonl<R: BufRead>(reader: R, name: &str) -> JsonlTicks<R> {
    JsonlTicks {
        lines: Lines::new(reader),
        name: name.to_string(),
    }
}

fn json_scalar(v: &serde_json::Value) -> Option<String> {
    match v {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// Decodes one JSON object into a tick (the rules of a stream entry).
pub fn decode_json_line(line: &str) -> Result<Tick, String> {
    let value: serde_json::Value =
        serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let serde_json::Value::Object(map) = value else {
        return Err("not a JSON object".into());
    };
    let fields: Vec<(String, String)> = map
        .iter()
        .filter_map(|(k, v)| Some((k.clone(), json_scalar(v)?)))
        .collect();
    decode::decode_pairs(&fields).map_err(|r: Reject| format!("{} ({})", r.message, r.reason))
}

impl<R: BufRead> Iterator for JsonlTicks<R> {
    type Item = Result<Tick, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.lines.advance(&self.name, true)? {
            return Some(Err(e));
        }
        Some(
            decode_json_line(self.lines.current())
                .map_err(|m| ReplayError::line(&self.name, self.lines.line, m)),
        )
    }
}

/// The clock Tardis rows are merged by and stamped with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum MergeClock {
    /// `local_timestamp`: when the recorder received the message (arrival
    /// order). The default.
    #[default]
    Local,
    /// `timestamp`: the exchange's time (the arrival time where the message
    /// carries none).
    Exchange,
}

impl MergeClock {
    /// The CSV column this clock reads.
    pub fn column(self) -> &'static str {
        match self {
            MergeClock::Local => "local_timestamp",
            MergeClock::Exchange => "timestamp",
        }
    }

    /// The name users give it (`local`, `exchange`).
    pub fn as_str(self) -> &'static str {
        match self {
            MergeClock::Local => "local",
            MergeClock::Exchange => "exchange",
        }
    }
}

impl std::fmt::Display for MergeClock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for MergeClock {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "local" => Ok(MergeClock::Local),
            "exchange" => Ok(MergeClock::Exchange),
            other => Err(format!(
                "clock must be `local` or `exchange`, got `{other}`"
            )),
        }
    }
}

/// The kind of a Tardis-style CSV file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsvKind {
    /// Top-of-book quotes.
    Quotes,
    /// Trades.
    Trades,
}

/// One row of a Tardis-style CSV file.
#[derive(Debug, Clone, PartialEq)]
pub enum TardisRow {
    /// A top-of-book quote.
    Quote {
        /// Normalised symbol.
        symbol: String,
        /// Time on the merge clock, µs since the epoch.
        ts_us: i64,
        /// The recorder's receive time (`local_timestamp`), µs, carried when
        /// merging on the exchange clock and the row has an exchange time of
        /// its own (`timestamp` ≠ `local_timestamp`).
        recv_us: Option<i64>,
        /// Best bid.
        bid: f64,
        /// Size at the bid.
        bid_qty: f64,
        /// Best ask.
        ask: f64,
        /// Size at the ask.
        ask_qty: f64,
    },
    /// A trade.
    Trade {
        /// Normalised symbol.
        symbol: String,
        /// Time on the merge clock, µs since the epoch.
        ts_us: i64,
        /// The recorder's receive time (`local_timestamp`), µs, carried when
        /// merging on the exchange clock and the row has an exchange time of
        /// its own (`timestamp` ≠ `local_timestamp`).
        recv_us: Option<i64>,
        /// Trade price.
        price: f64,
        /// Trade size.
        amount: f64,
        /// Aggressor side (`unknown` in the file is unspecified).
        side: Side,
    },
}

impl TardisRow {
    /// Time on the merge clock, µs.
    pub fn ts_us(&self) -> i64 {
        match self {
            TardisRow::Quote { ts_us, .. } | TardisRow::Trade { ts_us, .. } => *ts_us,
        }
    }

    /// The recorder's receive time, µs, when the row carries one apart from
    /// the merge clock.
    pub fn recv_us(&self) -> Option<i64> {
        match self {
            TardisRow::Quote { recv_us, .. } | TardisRow::Trade { recv_us, .. } => *recv_us,
        }
    }
}

/// The columns of the receive time (`local_timestamp`) and the exchange
/// time (`timestamp`), read when merging on the exchange clock.
#[derive(Debug, Clone, Copy)]
struct RecvCols {
    local: usize,
    exchange: usize,
}

#[derive(Debug, Clone, Copy)]
enum Cols {
    Quotes {
        symbol: usize,
        ts: usize,
        ask_amount: usize,
        ask_price: usize,
        bid_price: usize,
        bid_amount: usize,
    },
    Trades {
        symbol: usize,
        ts: usize,
        side: usize,
        price: usize,
        amount: usize,
    },
}

/// Rows of one Tardis-style CSV file. Create it with [`tardis_csv`].
#[derive(Debug)]
pub struct TardisCsv<R> {
    lines: Lines<R>,
    name: String,
    cols: Cols,
    recv: Option<RecvCols>,
    clock: MergeClock,
}

/// Opens a Tardis-style CSV file for merging on `clock`: reads the header and
/// tells quotes from trades by their columns. A header without the clock's
/// column (`local_timestamp` or `timestamp`) is an error naming the file and
/// the column.
pub fn tardis_csv<R: BufRead>(
    reader: R,
    name: &str,
    clock: MergeClock,
) -> Result<TardisCsv<R>, ReplayError> {
    let mut lines = Lines::new(reader);
    match lines.advance(name, false) {
        None => {
            return Err(ReplayError::fatal(
                name,
                lines.line,
                "empty file: no CSV header",
            ));
        }
        Some(Err(e)) => return Err(ReplayError { fatal: true, ..e }),
        Some(Ok(())) => {}
    }
    let line = lines.line;
    let header: Vec<String> = lines
        .current()
        .trim_start_matches('\u{feff}')
        .split(',')
        .map(|h| h.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let need = |n: &str| {
        col(n).ok_or_else(|| {
            ReplayError::fatal(name, line, format!("CSV header has no `{n}` column"))
        })
    };
    let ts_col = || {
        col(clock.column()).ok_or_else(|| {
            let hint = match clock {
                MergeClock::Local => {
                    "; merge by the exchange clock (`timestamp`) for files without arrival times"
                }
                MergeClock::Exchange => "",
            };
            ReplayError::fatal(
                name,
                line,
                format!(
                    "CSV header has no `{}` column, which the {} clock merges by{hint}",
                    clock.column(),
                    clock.as_str()
                ),
            )
        })
    };
    let cols = if col("ask_price").is_some() || col("bid_price").is_some() {
        Cols::Quotes {
            symbol: need("symbol")?,
            ts: ts_col()?,
            ask_amount: need("ask_amount")?,
            ask_price: need("ask_price")?,
            bid_price: need("bid_price")?,
            bid_amount: need("bid_amount")?,
        }
    } else if col("price").is_some() && col("amount").is_some() {
        Cols::Trades {
            symbol: need("symbol")?,
            ts: ts_col()?,
            side: need("side")?,
            price: need("price")?,
            amount: need("amount")?,
        }
    } else {
        return Err(ReplayError::fatal(
            name,
            line,
            "CSV header is neither Tardis quotes (bid_price, ask_price, …) nor trades (price, amount, side, …)",
        ));
    };
    let recv = match (clock, col("local_timestamp"), col("timestamp")) {
        (MergeClock::Exchange, Some(local), Some(exchange)) => Some(RecvCols { local, exchange }),
        _ => None,
    };
    Ok(TardisCsv {
        lines,
        name: name.to_string(),
        cols,
        recv,
        clock,
    })
}

impl<R> TardisCsv<R> {
    /// Quotes or trades.
    pub fn kind(&self) -> CsvKind {
        match self.cols {
            Cols::Quotes { .. } => CsvKind::Quotes,
            Cols::Trades { .. } => CsvKind::Trades,
        }
    }

    /// The name errors carry.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The clock rows are stamped with.
    pub fn clock(&self) -> MergeClock {
        self.clock
    }
}

fn cell<'a>(cells: &[&'a str], i: usize, name: &str) -> Result<&'a str, String> {
    cells
        .get(i)
        .map(|c| c.trim().trim_matches('"'))
        .filter(|c| !c.is_empty())
        .ok_or_else(|| format!("column `{name}` is empty"))
}

fn number(cells: &[&str], i: usize, name: &str) -> Result<f64, String> {
    let c = cell(cells, i, name)?;
    match c.parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!(
            "column `{name}` is not a non-negative number: `{c}`"
        )),
    }
}

fn micros(cells: &[&str], i: usize, name: &str) -> Result<i64, String> {
    let c = cell(cells, i, name)?;
    c.parse::<i64>()
        .ok()
        .filter(|t| *t >= 0)
        .ok_or_else(|| format!("column `{name}` is not integer microseconds: `{c}`"))
}

fn symbol(cells: &[&str], i: usize) -> Result<String, String> {
    let c = cell(cells, i, "symbol")?;
    normalize_symbol(c).ok_or_else(|| format!("column `symbol` is empty once normalised: `{c}`"))
}

impl<R: BufRead> TardisCsv<R> {
    fn parse(&self, line: &str) -> Result<TardisRow, String> {
        let cells: Vec<&str> = line.split(',').collect();
        // A row whose exchange time is the arrival time (Tardis writes that
        // for messages without one) carries no receive time of its own.
        let recv_us = match self.recv {
            None => None,
            Some(RecvCols { local, exchange }) => {
                let l = micros(&cells, local, "local_timestamp")?;
                (l != micros(&cells, exchange, "timestamp")?).then_some(l)
            }
        };
        match self.cols {
            Cols::Quotes {
                symbol: s,
                ts,
                ask_amount,
                ask_price,
                bid_price,
                bid_amount,
            } => Ok(TardisRow::Quote {
                symbol: symbol(&cells, s)?,
                ts_us: micros(&cells, ts, self.clock.column())?,
                recv_us,
                bid: number(&cells, bid_price, "bid_price")?,
                bid_qty: number(&cells, bid_amount, "bid_amount")?,
                ask: number(&cells, ask_price, "ask_price")?,
                ask_qty: number(&cells, ask_amount, "ask_amount")?,
            }),
            Cols::Trades {
                symbol: s,
                ts,
                side,
                price,
                amount,
            } => {
                let side = match cells.get(side).map(|c| c.trim().to_ascii_lowercase()) {
                    Some(c) if c == "buy" => Side::Buy,
                    Some(c) if c == "sell" => Side::Sell,
                    _ => Side::Unspecified,
                };
                Ok(TardisRow::Trade {
                    symbol: symbol(&cells, s)?,
                    ts_us: micros(&cells, ts, self.clock.column())?,
                    recv_us,
                    price: number(&cells, price, "price")?,
                    amount: number(&cells, amount, "amount")?,
                    side,
                })
            }
        }
    }
}

impl<R: BufRead> Iterator for TardisCsv<R> {
    type Item = Result<TardisRow, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        if let Err(e) = self.lines.advance(&self.name, false)? {
            return Some(Err(e));
        }
        Some(
            self.parse(self.lines.current())
                .map_err(|m| ReplayError::line(&self.name, self.lines.line, m)),
        )
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Book {
    bid: f64,
    bid_qty: f64,
    ask: f64,
    ask_qty: f64,
}

/// Merges Tardis-style CSV files into ticks, by the microsecond time of the
/// clock they were opened with ([`tardis_csv`]); stable (files given first win
/// ties); `ts_server_ms` is that time floored to milliseconds.
pub struct TardisMerge<I: Iterator> {
    sources: Vec<std::iter::Peekable<I>>,
    books: HashMap<String, Book>,
    seqs: HashMap<String, u64>,
}

impl<I: Iterator> std::fmt::Debug for TardisMerge<I> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TardisMerge")
            .field("sources", &self.sources.len())
            .field("symbols", &self.seqs.len())
            .finish()
    }
}

impl<I> TardisMerge<I>
where
    I: Iterator<Item = Result<TardisRow, ReplayError>>,
{
    /// Merges `sources` (each in time order on its clock; open them all with
    /// the same [`MergeClock`]).
    pub fn new(sources: Vec<I>) -> Self {
        Self {
            sources: sources.into_iter().map(Iterator::peekable).collect(),
            books: HashMap::new(),
            seqs: HashMap::new(),
        }
    }

    fn tick(&mut self, row: TardisRow) -> Tick {
        let (symbol, ts_us) = match &row {
            TardisRow::Quote { symbol, ts_us, .. } | TardisRow::Trade { symbol, ts_us, .. } => {
                (symbol.clone(), *ts_us)
            }
        };
        let seq = self.seqs.entry(symbol.clone()).or_insert(0);
        *seq += 1;
        let seq = *seq;
        let ts_server_ms = ts_us.div_euclid(1000);
        let ts_recv_ms = row.recv_us().map(|r| r.div_euclid(1000));
        match row {
            TardisRow::Quote {
                bid,
                bid_qty,
                ask,
                ask_qty,
                ..
            } => {
                self.books.insert(
                    symbol.clone(),
                    Book {
                        bid,
                        bid_qty,
                        ask,
                        ask_qty,
                    },
                );
                Tick {
                    symbol,
                    seq,
                    ts_server_ms,
                    bid,
                    ask,
                    last_qty: 0.0,
                    bid_qty: Some(bid_qty),
                    ask_qty: Some(ask_qty),
                    last_px: None,
                    side: Side::Unspecified,
                    ts_ingest_ms: 0,
                    ts_recv_ms,
                }
            }
            TardisRow::Trade {
                price,
                amount,
                side,
                ..
            } => {
                let (bid, ask, bid_qty, ask_qty) = match self.books.get(&symbol) {
                    Some(b) => (b.bid, b.ask, Some(b.bid_qty), Some(b.ask_qty)),
                    None => (price, price, None, None),
                };
                Tick {
                    symbol,
                    seq,
                    ts_server_ms,
                    bid,
                    ask,
                    last_qty: amount,
                    bid_qty,
                    ask_qty,
                    last_px: Some(price),
                    side,
                    ts_ingest_ms: 0,
                    ts_recv_ms,
                }
            }
        }
    }
}

impl<I> Iterator for TardisMerge<I>
where
    I: Iterator<Item = Result<TardisRow, ReplayError>>,
{
    type Item = Result<Tick, ReplayError>;

    fn next(&mut self) -> Option<Self::Item> {
        // Errors go out as soon as they are at the head of a source.
        let mut best: Option<(usize, i64)> = None;
        for (i, s) in self.sources.iter_mut().enumerate() {
            match s.peek() {
                None => {}
                Some(Err(_)) => {
                    if let Some(Err(e)) = s.next() {
                        return Some(Err(e));
                    }
                }
                Some(Ok(row)) => {
                    let ts = row.ts_us();
                    if best.is_none_or(|(_, b)| ts < b) {
                        best = Some((i, ts));
                    }
                }
            }
        }
        let (i, _) = best?;
        match self.sources[i].next()? {
            Ok(row) => Some(Ok(self.tick(row))),
            Err(e) => Some(Err(e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jsonl_reads_numbers_and_strings_and_reports_bad_lines() {
        let text = r#"{"symbol":"btc-usdt","seq":1,"ts_server":1700000000000,"bid":60000.1,"ask":"60000.2","last_qty":0}

# a comment
{"symbol":"BTCUSDT","seq":2,"ts_server":1700000000005,"bid":60000.1,"ask":60000.3,"last_qty":0.5,"last_px":60000.3,"side":"buy","bid_qty":1,"ask_qty":2}
{"symbol":"BTCUSDT","seq":3,"ts_server":1700000000009,"bid":60001,"ask":60000,"last_qty":0}
not json
"#;
        let got: Vec<_> = jsonl(text.as_bytes(), "ticks.jsonl").collect();
        assert_eq!(got.len(), 4);
        let t1 = got[0].as_ref().unwrap();
        assert_eq!(
            (t1.symbol.as_str(), t1.seq, t1.ask),
            ("BTCUSDT", 1, 60000.2)
        );
        let t2 = got[1].as_ref().unwrap();
        assert_eq!(
            (t2.side, t2.last_px, t2.bid_qty),
            (Side::Buy, Some(60000.3), Some(1.0))
        );
        let e3 = got[2].as_ref().unwrap_err();
        assert_eq!(e3.line, 5);
        assert!(e3.message.contains("crossed_book"), "{e3}");
        assert!(!e3.fatal);
        let e4 = got[3].as_ref().unwrap_err();
        assert_eq!(e4.line, 6);
        assert!(
            e4.to_string().starts_with("ticks.jsonl:6: not JSON"),
            "{e4}"
        );
    }

    #[test]
    fn a_line_that_is_not_utf8_is_one_bad_line_not_the_end_of_the_file() {
        let mut bytes =
            br#"{"symbol":"BTCUSDT","seq":1,"ts_server":1,"bid":1,"ask":2,"last_qty":0}"#.to_vec();
        bytes.extend_from_slice(b"\n{\"symbol\":\"\xff\"}\n");
        bytes.extend_from_slice(
            br#"{"symbol":"BTCUSDT","seq":2,"ts_server":2,"bid":1,"ask":2,"last_qty":0}"#,
        );
        let got: Vec<_> = jsonl(bytes.as_slice(), "t.jsonl").collect();
        assert_eq!(got.len(), 3);
        let e = got[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.fatal), (2, false));
        assert!(
            e.to_string()
                .starts_with("t.jsonl:2: line is not valid UTF-8"),
            "{e}"
        );
        assert_eq!(got[2].as_ref().unwrap().seq, 2);
        // A header that is not UTF-8 makes the whole CSV file unusable.
        let e = tardis_csv(&b"sym\xffbol,price\n"[..], "q.csv", MergeClock::Local).unwrap_err();
        assert!(e.fatal, "{e}");
    }

    const QUOTES: &str =
        "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
bybit,BTCUSDT,1700000000000000,1700000000000100,1.5,60000.2,60000.1,2.5
bybit,ETHUSDT,1700000000001000,1700000000001100,10,3000.02,3000.01,20
bybit,BTCUSDT,1700000000004000,1700000000004100,1.0,60000.3,60000.2,2.0
";
    const TRADES: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount
bybit,BTCUSDT,1700000000000000,1700000000000200,t1,buy,60000.2,0.1
bybit,BTCUSDT,1700000000002500,1700000000002600,t2,sell,60000.1,0.3
bybit,SOLUSDT,1700000000003000,1700000000003100,t3,unknown,150.5,4
";

    #[test]
    fn csv_kind_is_told_by_the_header() {
        assert_eq!(
            tardis_csv(QUOTES.as_bytes(), "q", MergeClock::Local)
                .unwrap()
                .kind(),
            CsvKind::Quotes
        );
        assert_eq!(
            tardis_csv(TRADES.as_bytes(), "t", MergeClock::Local)
                .unwrap()
                .kind(),
            CsvKind::Trades
        );
        let e = tardis_csv("a,b,c\n1,2,3\n".as_bytes(), "x", MergeClock::Local).unwrap_err();
        assert!(e.fatal && e.message.contains("neither"), "{e}");
        assert!(
            tardis_csv("".as_bytes(), "x", MergeClock::Local)
                .unwrap_err()
                .fatal
        );
    }

    #[test]
    fn blank_lines_are_skipped_and_errors_name_the_line_of_the_file() {
        // Header on line 3, rows on 5 and 7, a bad price on 8.
        let text = "\n\nexchange,symbol,timestamp,local_timestamp,id,side,price,amount\n\n\
            bybit,BTCUSDT,1700000000000000,1700000000000200,t1,buy,60000.2,0.1\n  \n\
            bybit,BTCUSDT,1700000000002500,1700000000002600,t2,sell,60000.1,0.3\n\
            bybit,BTCUSDT,1700000000004000,1700000000004100,t4,buy,x,1\n";
        let rows: Vec<_> = tardis_csv(text.as_bytes(), "t.csv", MergeClock::Local)
            .unwrap()
            .collect();
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert!(rows[0].is_ok() && rows[1].is_ok(), "{rows:?}");
        let e = rows[2].as_ref().unwrap_err();
        assert!(!e.fatal);
        assert!(
            e.to_string()
                .starts_with("t.csv:8: column `price` is not a non-negative number: `x`"),
            "{e}"
        );

        // The header's absence names the file and the line reached.
        let e = tardis_csv("\n  \n".as_bytes(), "blank.csv", MergeClock::Local).unwrap_err();
        assert!(e.fatal && e.message.contains("empty file"), "{e}");
        assert!(e.to_string().starts_with("blank.csv:2"), "{e}");

        // JSON Lines skip `#` comments as well as blank lines.
        let j: Vec<_> = jsonl("# c\n\n{\"oops\n".as_bytes(), "j.jsonl").collect();
        assert_eq!(j.len(), 1);
        assert!(
            j[0].as_ref()
                .unwrap_err()
                .to_string()
                .starts_with("j.jsonl:3: not JSON")
        );
    }

    #[test]
    fn quotes_and_trades_merge_by_time_into_ticks() {
        let q = tardis_csv(QUOTES.as_bytes(), "quotes.csv", MergeClock::Exchange).unwrap();
        let t = tardis_csv(TRADES.as_bytes(), "trades.csv", MergeClock::Exchange).unwrap();
        let ticks: Vec<Tick> = TardisMerge::new(vec![q, t]).map(Result::unwrap).collect();
        let summary: Vec<_> = ticks
            .iter()
            .map(|t| {
                (
                    t.symbol.as_str(),
                    t.seq,
                    t.ts_server_ms - 1_700_000_000_000,
                    t.last_qty,
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                ("BTCUSDT", 1, 0, 0.0), // quote first on a tie
                ("BTCUSDT", 2, 0, 0.1),
                ("ETHUSDT", 1, 1, 0.0),
                ("BTCUSDT", 3, 2, 0.3),
                ("SOLUSDT", 1, 3, 4.0),
                ("BTCUSDT", 4, 4, 0.0),
            ]
        );
        let buy = &ticks[1];
        assert_eq!(
            (buy.bid, buy.ask, buy.last_px, buy.side),
            (60000.1, 60000.2, Some(60000.2), Side::Buy)
        );
        assert_eq!((buy.bid_qty, buy.ask_qty), (Some(2.5), Some(1.5)));
        let sol = &ticks[4];
        assert_eq!(
            (sol.bid, sol.ask, sol.side, sol.bid_qty),
            (150.5, 150.5, Side::Unspecified, None)
        );
    }

    #[test]
    fn bad_rows_are_reported_with_their_line_and_the_merge_goes_on() {
        let quotes = "symbol,timestamp,ask_amount,ask_price,bid_price,bid_amount
BTCUSDT,1000,1,2,1,1
BTCUSDT,2000,1,,1,1
BTCUSDT,x,1,2,1,1
BTCUSDT,4000,1,2,1,1
";
        let q = tardis_csv(quotes.as_bytes(), "q.csv", MergeClock::Exchange).unwrap();
        let got: Vec<_> = TardisMerge::new(vec![q]).collect();
        assert_eq!(got.len(), 4);
        assert!(got[0].is_ok() && got[3].is_ok());
        let e = got[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.fatal), (3, false));
        assert!(e.message.contains("ask_price"), "{e}");
        assert!(got[2].as_ref().unwrap_err().message.contains("timestamp"));
        assert_eq!(got[3].as_ref().unwrap().seq, 2);
    }

    // Spot-like: quotes carry no exchange time (timestamp = local_timestamp),
    // trades carry the exchange's, which runs 1.27 s ahead of the recorder.
    const SPOT_QUOTES: &str =
        "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
binance,BTCUSDT,1723161254000100,1723161254000100,1,61837.64,61837.63,2
binance,BTCUSDT,1723161254000900,1723161254000900,1,61837.65,61837.64,2
binance,BTCUSDT,1723161254300000,1723161254300000,1,61837.70,61837.69,2
";
    const SPOT_TRADES: &str = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount
binance,BTCUSDT,1723161255270000,1723161254000100,1,sell,61837.63,0.02
binance,BTCUSDT,1723161255270500,1723161254000500,2,buy,61837.65,0.04
";

    fn merged(clock: MergeClock) -> Vec<(u8, u64, i64, f64)> {
        let q = tardis_csv(SPOT_QUOTES.as_bytes(), "q.csv", clock).unwrap();
        let t = tardis_csv(SPOT_TRADES.as_bytes(), "t.csv", clock).unwrap();
        TardisMerge::new(vec![q, t])
            .map(Result::unwrap)
            .map(|t| {
                let kind = if t.last_qty > 0.0 { b'T' } else { b'Q' };
                (kind, t.seq, t.ts_server_ms - 1_723_161_254_000, t.bid)
            })
            .collect()
    }

    #[test]
    fn local_clock_merges_in_arrival_order_by_microseconds_and_floors_to_ms() {
        assert_eq!(
            merged(MergeClock::Local),
            vec![
                // a tie at 100 µs: the quotes file was given first
                (b'Q', 1, 0, 61837.63),
                (b'T', 2, 0, 61837.63),
                // 500 µs before 900 µs although both floor to ms 0
                (b'T', 3, 0, 61837.63),
                (b'Q', 4, 0, 61837.64),
                (b'Q', 5, 300, 61837.69),
            ]
        );
    }

    #[test]
    fn exchange_clock_puts_spot_trades_after_the_quotes_they_belong_to() {
        assert_eq!(
            merged(MergeClock::Exchange),
            vec![
                (b'Q', 1, 0, 61837.63),
                (b'Q', 2, 0, 61837.64),
                (b'Q', 3, 300, 61837.69),
                // 1.27 s late, on a book that moved on
                (b'T', 4, 1270, 61837.69),
                (b'T', 5, 1270, 61837.69),
            ]
        );
    }

    #[test]
    fn the_exchange_clock_carries_the_receive_time_of_rows_that_have_one() {
        let recv = |clock| {
            let q = tardis_csv(SPOT_QUOTES.as_bytes(), "q.csv", clock).unwrap();
            let t = tardis_csv(SPOT_TRADES.as_bytes(), "t.csv", clock).unwrap();
            TardisMerge::new(vec![q, t])
                .map(Result::unwrap)
                .map(|t| (t.ts_server_ms, t.ts_recv_ms))
                .collect::<Vec<_>>()
        };
        let base = 1_723_161_254_000;
        assert_eq!(
            recv(MergeClock::Exchange),
            vec![
                // spot quotes: `timestamp` is the arrival time, no clock of
                // their own
                (base, None),
                (base, None),
                (base + 300, None),
                // trades: exchange time 1,270 ms ahead of the receive time,
                // which is floored to ms like `ts_server`
                (base + 1270, Some(base)),
                (base + 1270, Some(base)),
            ]
        );
        // Merged on the local clock, `ts_server` is already the receive time.
        assert!(recv(MergeClock::Local).iter().all(|(_, r)| r.is_none()));
        // USD-M-like: every row has both clocks.
        let q = tardis_csv(QUOTES.as_bytes(), "q.csv", MergeClock::Exchange).unwrap();
        let got: Vec<_> = TardisMerge::new(vec![q])
            .map(Result::unwrap)
            .map(|t| t.ts_recv_ms.map(|r| r - t.ts_server_ms))
            .collect();
        assert_eq!(got, vec![Some(0), Some(0), Some(0)]);
    }

    #[test]
    fn local_clock_on_a_file_without_local_timestamp_names_the_file_and_column() {
        let quotes =
            "symbol,timestamp,ask_amount,ask_price,bid_price,bid_amount\nBTCUSDT,1000,1,2,1,1\n";
        let e = tardis_csv(quotes.as_bytes(), "old_quotes.csv", MergeClock::Local).unwrap_err();
        assert!(e.fatal);
        assert_eq!((e.source_name.as_str(), e.line), ("old_quotes.csv", 1));
        assert!(
            e.to_string()
                .starts_with("old_quotes.csv:1: CSV header has no `local_timestamp` column"),
            "{e}"
        );
        let trades = "symbol,local_timestamp,side,price,amount\nBTCUSDT,1000,buy,2,1\n";
        let e = tardis_csv(trades.as_bytes(), "t.csv", MergeClock::Exchange).unwrap_err();
        assert!(e.message.contains("no `timestamp` column"), "{e}");
        // the same files open on the clock they do have
        assert!(tardis_csv(quotes.as_bytes(), "q", MergeClock::Exchange).is_ok());
        assert!(tardis_csv(trades.as_bytes(), "t", MergeClock::Local).is_ok());
    }

    #[test]
    fn a_bad_clock_cell_names_the_clock_column() {
        let q = "symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
BTCUSDT,1000,x,1,2,1,1
";
        let mut r = tardis_csv(q.as_bytes(), "q.csv", MergeClock::Local).unwrap();
        let e = r.next().unwrap().unwrap_err();
        assert_eq!(e.line, 2);
        assert!(
            e.message
                .contains("column `local_timestamp` is not integer microseconds: `x`"),
            "{e}"
        );
        assert_eq!("Exchange".parse::<MergeClock>(), Ok(MergeClock::Exchange));
        assert!("wall".parse::<MergeClock>().unwrap_err().contains("`wall`"));
    }
}
