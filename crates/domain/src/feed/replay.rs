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
//! Columns are found by name (any order, extra columns ignored); `timestamp`
//! is microseconds since the epoch. The kind of a file is told by its header.
//! [`TardisMerge`] merges any number of such files by `timestamp` (on a tie,
//! files given first go first; each file must be in time order, as Tardis
//! writes them) and turns rows into ticks: a quote sets the book and emits a
//! tick with `last_qty = 0`; a trade emits a tick on the current book with
//! `last_qty`, `last_px` and the aggressor `side`. A trade of a symbol whose
//! book is not known yet is printed on a locked book at the trade price.
//! Sequence numbers are assigned per symbol from 1, in output order.

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

/// Reads one line into `buf`; `Ok(false)` at the end.
fn read_line<R: BufRead>(r: &mut R, buf: &mut String) -> std::io::Result<bool> {
    buf.clear();
    Ok(r.read_line(buf)? > 0)
}

/// Ticks from JSON Lines. Create it with [`jsonl`].
#[derive(Debug)]
pub struct JsonlTicks<R> {
    reader: R,
    name: String,
    line: u64,
    buf: String,
    done: bool,
}

/// Reads ticks from JSON Lines; `name` labels errors.
pub fn jsonl<R: BufRead>(reader: R, name: &str) -> JsonlTicks<R> {
    JsonlTicks {
        reader,
        name: name.to_string(),
        line: 0,
        buf: String::new(),
        done: false,
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
        while !self.done {
            match read_line(&mut self.reader, &mut self.buf) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReplayError::fatal(
                        &self.name,
                        self.line,
                        e.to_string(),
                    )));
                }
                Ok(false) => self.done = true,
                Ok(true) => {
                    self.line += 1;
                    let l = self.buf.trim();
                    if l.is_empty() || l.starts_with('#') {
                        continue;
                    }
                    return Some(
                        decode_json_line(l)
                            .map_err(|m| ReplayError::line(&self.name, self.line, m)),
                    );
                }
            }
        }
        None
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
        /// Exchange time, µs since the epoch.
        ts_us: i64,
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
        /// Exchange time, µs since the epoch.
        ts_us: i64,
        /// Trade price.
        price: f64,
        /// Trade size.
        amount: f64,
        /// Aggressor side (`unknown` in the file is unspecified).
        side: Side,
    },
}

impl TardisRow {
    /// Exchange time, µs.
    pub fn ts_us(&self) -> i64 {
        match self {
            TardisRow::Quote { ts_us, .. } | TardisRow::Trade { ts_us, .. } => *ts_us,
        }
    }
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
    reader: R,
    name: String,
    line: u64,
    cols: Cols,
    buf: String,
    done: bool,
}

/// Opens a Tardis-style CSV file: reads the header and tells quotes from
/// trades by their columns.
pub fn tardis_csv<R: BufRead>(mut reader: R, name: &str) -> Result<TardisCsv<R>, ReplayError> {
    let mut buf = String::new();
    let mut line = 0;
    loop {
        match read_line(&mut reader, &mut buf) {
            Err(e) => return Err(ReplayError::fatal(name, line, e.to_string())),
            Ok(false) => return Err(ReplayError::fatal(name, line, "empty file: no CSV header")),
            Ok(true) => {
                line += 1;
                if !buf.trim().is_empty() {
                    break;
                }
            }
        }
    }
    let header: Vec<String> = buf
        .trim()
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
    let cols = if col("ask_price").is_some() || col("bid_price").is_some() {
        Cols::Quotes {
            symbol: need("symbol")?,
            ts: need("timestamp")?,
            ask_amount: need("ask_amount")?,
            ask_price: need("ask_price")?,
            bid_price: need("bid_price")?,
            bid_amount: need("bid_amount")?,
        }
    } else if col("price").is_some() && col("amount").is_some() {
        Cols::Trades {
            symbol: need("symbol")?,
            ts: need("timestamp")?,
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
    Ok(TardisCsv {
        reader,
        name: name.to_string(),
        line,
        cols,
        buf,
        done: false,
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

fn micros(cells: &[&str], i: usize) -> Result<i64, String> {
    let c = cell(cells, i, "timestamp")?;
    c.parse::<i64>()
        .ok()
        .filter(|t| *t >= 0)
        .ok_or_else(|| format!("column `timestamp` is not integer microseconds: `{c}`"))
}

fn symbol(cells: &[&str], i: usize) -> Result<String, String> {
    let c = cell(cells, i, "symbol")?;
    normalize_symbol(c).ok_or_else(|| format!("column `symbol` is empty once normalised: `{c}`"))
}

impl<R: BufRead> TardisCsv<R> {
    fn parse(&self, line: &str) -> Result<TardisRow, String> {
        let cells: Vec<&str> = line.split(',').collect();
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
                ts_us: micros(&cells, ts)?,
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
                    ts_us: micros(&cells, ts)?,
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
        while !self.done {
            match read_line(&mut self.reader, &mut self.buf) {
                Err(e) => {
                    self.done = true;
                    return Some(Err(ReplayError::fatal(
                        &self.name,
                        self.line,
                        e.to_string(),
                    )));
                }
                Ok(false) => self.done = true,
                Ok(true) => {
                    self.line += 1;
                    let l = self.buf.trim();
                    if l.is_empty() {
                        continue;
                    }
                    return Some(
                        self.parse(l)
                            .map_err(|m| ReplayError::line(&self.name, self.line, m)),
                    );
                }
            }
        }
        None
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Book {
    bid: f64,
    bid_qty: f64,
    ask: f64,
    ask_qty: f64,
}

/// Merges Tardis-style CSV files by time into ticks.
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
    /// Merges `sources` (each in time order).
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
            tardis_csv(QUOTES.as_bytes(), "q").unwrap().kind(),
            CsvKind::Quotes
        );
        assert_eq!(
            tardis_csv(TRADES.as_bytes(), "t").unwrap().kind(),
            CsvKind::Trades
        );
        let e = tardis_csv("a,b,c\n1,2,3\n".as_bytes(), "x").unwrap_err();
        assert!(e.fatal && e.message.contains("neither"), "{e}");
        assert!(tardis_csv("".as_bytes(), "x").unwrap_err().fatal);
    }

    #[test]
    fn quotes_and_trades_merge_by_time_into_ticks() {
        let q = tardis_csv(QUOTES.as_bytes(), "quotes.csv").unwrap();
        let t = tardis_csv(TRADES.as_bytes(), "trades.csv").unwrap();
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
        let q = tardis_csv(quotes.as_bytes(), "q.csv").unwrap();
        let got: Vec<_> = TardisMerge::new(vec![q]).collect();
        assert_eq!(got.len(), 4);
        assert!(got[0].is_ok() && got[3].is_ok());
        let e = got[1].as_ref().unwrap_err();
        assert_eq!((e.line, e.fatal), (3, false));
        assert!(e.message.contains("ask_price"), "{e}");
        assert!(got[2].as_ref().unwrap_err().message.contains("timestamp"));
        assert_eq!(got[3].as_ref().unwrap().seq, 2);
    }
}
