//! Splitting a recording in two by event time: a first part for the soak and
//! the rest for the dry run (what `shadowctl pipeline --replay` runs).
//!
//! [`plan_split`] takes the event times of a recording (in feed order) and a
//! [`SplitRequest`], and returns a [`ReplaySplit`]: the split instant, and per
//! part its span, its ticks, the windows it runs and which of its ticks are
//! published.
//!
//! # Windows of a part
//! A part's windows start at its first tick (`t0`), as the engine's do. `n`
//! windows of `w` need event time up to `t0 + n·w + tail`, where `tail` is the
//! mark-out horizon plus a margin ([`SplitRequest::tail_ms`]): the engine emits
//! a window only once event time passed its end plus the mark-out. Without a
//! window count the part runs as many whole windows as it holds, i.e.
//! `⌊(span − tail) / w⌋` where `span` is last minus first tick time. Only the
//! ticks before `t0 + n·w + tail` are published: the service stops after its
//! `n` windows, and ticks it left unread would reach the next reader (the dry
//! run) ahead of its own part.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

/// Where to split.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SplitAt {
    /// This fraction (0 < f < 1) of the recording's event-time span.
    Fraction(f64),
    /// This event time, ms since the epoch: earlier ticks are the soak's.
    Ms(i64),
}

impl FromStr for SplitAt {
    type Err = String;

    /// `70%` (a fraction of the span, strictly between 0 and 100) or an
    /// event time in ms since the epoch (`1723161450000`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if let Some(p) = t.strip_suffix('%') {
            let v: f64 = p.trim().parse().map_err(|_| {
                format!("`{s}` is not a percentage (expected e.g. `70%` or an event time in ms)")
            })?;
            if !(v > 0.0 && v < 100.0) {
                return Err(format!(
                    "`{s}`: the percentage must be strictly between 0 and 100"
                ));
            }
            return Ok(SplitAt::Fraction(v / 100.0));
        }
        t.parse::<i64>().map(SplitAt::Ms).map_err(|_| {
            format!("`{s}` is neither a percentage (`70%`) nor an event time in ms since the epoch")
        })
    }
}

impl fmt::Display for SplitAt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitAt::Fraction(x) => write!(f, "{}%", x * 100.0),
            SplitAt::Ms(ms) => write!(f, "{ms}"),
        }
    }
}

/// What to plan.
#[derive(Debug, Clone, PartialEq)]
pub struct SplitRequest {
    /// Where to split.
    pub at: SplitAt,
    /// The soak's window length, ms.
    pub soak_window_ms: i64,
    /// Soak windows; `None` for as many whole windows as the soak part holds.
    pub soak_windows: Option<u32>,
    /// The dry run's window length, ms.
    pub dry_window_ms: i64,
    /// Dry-run windows; `None` for as many as the rest holds, `Some(0)` for
    /// no dry run.
    pub dry_windows: Option<u32>,
    /// Event time a part needs past its last window's end (mark-out horizon
    /// plus a margin), ms.
    pub tail_ms: i64,
}

/// One part of a split recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PartPlan {
    /// Event time of its first tick, ms.
    pub first_ms: i64,
    /// Event time of its last tick, ms.
    pub last_ms: i64,
    /// Ticks in the part.
    pub ticks: usize,
    /// Windows it runs.
    pub windows: u32,
    /// Their length, ms.
    pub window_ms: i64,
    /// Ticks before this event time are published (`first_ms + windows ·
    /// window_ms + tail`).
    pub publish_until_ms: i64,
    /// Ticks published.
    pub published: usize,
}

impl PartPlan {
    /// Last minus first tick time, ms.
    pub fn span_ms(&self) -> i64 {
        self.last_ms - self.first_ms
    }

    /// True when a tick at `ts` of this part is published.
    pub fn publishes(&self, ts: i64) -> bool {
        ts < self.publish_until_ms
    }
}

/// The plan of a split recording.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReplaySplit {
    /// Ticks before this event time (ms) are the soak's, the rest the dry run's.
    pub split_ms: i64,
    /// Event time of the recording's first and last tick, ms.
    pub span_ms: (i64, i64),
    /// The soak's part.
    pub soak: PartPlan,
    /// The dry run's part (`None` without a dry run).
    pub dry_run: Option<PartPlan>,
}

impl ReplaySplit {
    /// True when a tick at `ts` belongs to the soak's part.
    pub fn is_soak(&self, ts: i64) -> bool {
        ts < self.split_ms
    }
}

/// Why a recording cannot be split as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum SplitError {
    /// No ticks.
    #[error("{label}: no ticks")]
    Empty {
        /// The files.
        label: String,
    },
    /// The split instant leaves a part empty.
    #[error(
        "{label}: --split {at} is at {} ({split_ms}), which leaves the {part} part empty: the recording spans {} ({first_ms}) to {} ({last_ms})",
        format_utc(*.split_ms), format_utc(*.first_ms), format_utc(*.last_ms)
    )]
    EmptyPart {
        /// The files.
        label: String,
        /// As asked.
        at: String,
        /// The split instant, ms.
        split_ms: i64,
        /// `soak` or `dry-run`.
        part: &'static str,
        /// First tick, ms.
        first_ms: i64,
        /// Last tick, ms.
        last_ms: i64,
    },
    /// A part is shorter than its windows need.
    #[error(
        "{label}: the {part} part spans {} but {windows} {} of {} {} {} ({} of mark-outs after the last one included)",
        format_span(*.span_ms),
        if *.windows == 1 { "window" } else { "windows" },
        format_span(*.window_ms),
        if *.windows == 1 { "needs" } else { "need" },
        format_span(*.windows as i64 * *.window_ms + *.tail_ms),
        format_span(*.tail_ms)
    )]
    TooShort {
        /// The files.
        label: String,
        /// `soak` or `dry-run`.
        part: &'static str,
        /// The part's span, ms.
        span_ms: i64,
        /// Windows asked for (1 when not even one fits).
        windows: u32,
        /// Window length, ms.
        window_ms: i64,
        /// Tail, ms.
        tail_ms: i64,
    },
    /// A window length is not positive.
    #[error("{field} must be positive, got {value} ms")]
    Invalid {
        /// The flag.
        field: &'static str,
        /// Its value, ms.
        value: i64,
    },
}

/// Plans the split of a recording whose ticks have these event times (feed
/// order); `label` (the file names) prefixes errors.
pub fn plan_split(ts: &[i64], req: &SplitRequest, label: &str) -> Result<ReplaySplit, SplitError> {
    for (field, value) in [
        ("--duration", req.soak_window_ms),
        ("--validate-duration", req.dry_window_ms),
    ] {
        if value <= 0 {
            return Err(SplitError::Invalid { field, value });
        }
    }
    let (Some(&first), Some(&last)) = (ts.iter().min(), ts.iter().max()) else {
        return Err(SplitError::Empty {
            label: label.to_string(),
        });
    };
    let split_ms = match req.at {
        SplitAt::Fraction(f) => first + ((last - first) as f64 * f).round() as i64,
        SplitAt::Ms(ms) => ms,
    };
    let with_dry = req.dry_windows != Some(0);
    let empty = |part| SplitError::EmptyPart {
        label: label.to_string(),
        at: req.at.to_string(),
        split_ms,
        part,
        first_ms: first,
        last_ms: last,
    };
    if split_ms <= first {
        return Err(empty("soak"));
    }
    if with_dry && split_ms > last {
        return Err(empty("dry-run"));
    }
    let soak = part(
        ts.iter().copied().filter(|&t| t < split_ms),
        req.soak_window_ms,
        req.soak_windows,
        req.tail_ms,
    )
    .map_err(|e| e.named(label, "soak"))?;
    let dry_run = if with_dry {
        Some(
            part(
                ts.iter().copied().filter(|&t| t >= split_ms),
                req.dry_window_ms,
                req.dry_windows,
                req.tail_ms,
            )
            .map_err(|e| e.named(label, "dry-run"))?,
        )
    } else {
        None
    };
    Ok(ReplaySplit {
        split_ms,
        span_ms: (first, last),
        soak,
        dry_run,
    })
}

struct Short {
    span_ms: i64,
    windows: u32,
    window_ms: i64,
    tail_ms: i64,
}

impl Short {
    fn named(self, label: &str, part: &'static str) -> SplitError {
        SplitError::TooShort {
            label: label.to_string(),
            part,
            span_ms: self.span_ms,
            windows: self.windows,
            window_ms: self.window_ms,
            tail_ms: self.tail_ms,
        }
    }
}

fn part(
    ts: impl Iterator<Item = i64> + Clone,
    window_ms: i64,
    windows: Option<u32>,
    tail_ms: i64,
) -> Result<PartPlan, Short> {
    let first = ts.clone().min().unwrap_or_default();
    let last = ts.clone().max().unwrap_or_default();
    let span = last - first;
    let fit = (span - tail_ms).max(0) / window_ms;
    let n = match windows {
        Some(n) => n,
        None => u32::try_from(fit).unwrap_or(u32::MAX).max(1),
    };
    if i64::from(n) > fit {
        return Err(Short {
            span_ms: span,
            windows: n,
            window_ms,
            tail_ms,
        });
    }
    let until = first + i64::from(n) * window_ms + tail_ms;
    Ok(PartPlan {
        first_ms: first,
        last_ms: last,
        ticks: ts.clone().count(),
        windows: n,
        window_ms,
        publish_until_ms: until,
        published: ts.filter(|&t| t < until).count(),
    })
}

/// A span for people: `4m 10s`, `48m`, `1h 2m 3.5s`, `250ms`.
pub fn format_span(ms: i64) -> String {
    if ms < 1000 {
        return format!("{ms}ms");
    }
    let (h, m, s, rest) = (ms / 3_600_000, ms / 60_000 % 60, ms / 1000 % 60, ms % 1000);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if s > 0 || rest > 0 {
        let sec = if rest == 0 {
            format!("{s}s")
        } else {
            let frac = format!("{rest:03}");
            format!("{s}.{}s", frac.trim_end_matches('0'))
        };
        parts.push(sec);
    }
    parts.join(" ")
}

/// `2024-08-09T00:00:56.313Z` for epoch milliseconds (RFC 3339, UTC); a time
/// before 1970 is written as its number.
pub fn format_utc(ms: i64) -> String {
    match u64::try_from(ms) {
        Ok(ms) => humantime::format_rfc3339_millis(
            std::time::UNIX_EPOCH + std::time::Duration::from_millis(ms),
        )
        .to_string(),
        Err(_) => format!("{ms} ms (before 1970)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_723_161_240_000;

    #[test]
    fn utc_formats_epoch_milliseconds() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(1_723_161_656_313), "2024-08-09T00:00:56.313Z");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_utc(-1), "-1 ms (before 1970)");
    }

    /// One tick every 100 ms for `secs` seconds.
    fn ticks(secs: i64) -> Vec<i64> {
        (0..secs * 10).map(|i| T0 + i * 100).collect()
    }

    fn req(at: SplitAt) -> SplitRequest {
        SplitRequest {
            at,
            soak_window_ms: 30_000,
            soak_windows: None,
            dry_window_ms: 30_000,
            dry_windows: None,
            tail_ms: 1_500,
        }
    }

    #[test]
    fn split_parses_a_percentage_or_an_event_time() {
        assert_eq!("70%".parse::<SplitAt>(), Ok(SplitAt::Fraction(0.7)));
        assert_eq!(
            " 1723161450000 ".parse::<SplitAt>(),
            Ok(SplitAt::Ms(1_723_161_450_000))
        );
        for bad in ["0%", "100%", "-5%", "abc%", "70 percent", "1.5"] {
            let e = bad.parse::<SplitAt>().unwrap_err();
            assert!(e.contains(bad.trim_end_matches('%')), "{bad}: {e}");
        }
    }

    #[test]
    fn seventy_percent_fits_whole_windows_in_each_part() {
        // 344 s, as the USD-M recording: 70 % is at +240.8 s.
        let ts = ticks(344);
        let p = plan_split(&ts, &req(SplitAt::Fraction(0.7)), "f").unwrap();
        assert_eq!(p.split_ms, T0 + 240_730);
        assert_eq!(p.span_ms, (T0, T0 + 343_900));
        // Soak: 0 … 240.7 s, span 240.7 s; (240.7 − 1.5) / 30 = 7 windows.
        assert_eq!(p.soak.ticks, 2408);
        assert_eq!(p.soak.span_ms(), 240_700);
        assert_eq!(p.soak.windows, 7);
        assert_eq!(p.soak.publish_until_ms, T0 + 211_500);
        assert_eq!(p.soak.published, 2115);
        // Dry run: 240.8 … 343.9 s, span 103.1 s → 3 windows.
        let d = p.dry_run.clone().unwrap();
        assert_eq!((d.first_ms, d.ticks, d.windows), (T0 + 240_800, 1032, 3));
        assert_eq!(d.publish_until_ms, T0 + 240_800 + 91_500);
        assert_eq!(d.published, 915);
        assert!(p.is_soak(T0 + 240_729) && !p.is_soak(T0 + 240_730));
    }

    #[test]
    fn an_event_time_split_and_asked_windows() {
        let ts = ticks(344);
        let mut r = req(SplitAt::Ms(T0 + 100_000));
        r.soak_windows = Some(3);
        r.dry_windows = Some(0);
        let p = plan_split(&ts, &r, "f").unwrap();
        assert_eq!(p.soak.ticks, 1000);
        assert_eq!((p.soak.windows, p.soak.published), (3, 915));
        assert_eq!(p.dry_run, None);
    }

    #[test]
    fn too_short_parts_name_the_numbers() {
        let ts = ticks(250);
        let mut r = req(SplitAt::Fraction(0.99));
        r.soak_window_ms = 60_000;
        r.soak_windows = Some(48);
        let e = plan_split(&ts, &r, "usdm_quotes.csv.gz").unwrap_err();
        assert_eq!(
            e.to_string(),
            "usdm_quotes.csv.gz: the soak part spans 4m 7.4s but 48 windows of 1m need 48m 1.5s (1.5s of mark-outs after the last one included)"
        );
        // The rest (2.5 s) holds no 30 s window.
        let e = plan_split(&ts, &req(SplitAt::Fraction(0.99)), "f").unwrap_err();
        assert_eq!(
            e.to_string(),
            "f: the dry-run part spans 2.4s but 1 window of 30s needs 31.5s (1.5s of mark-outs after the last one included)"
        );
    }

    #[test]
    fn a_split_outside_the_recording_or_no_ticks_is_refused() {
        let ts = ticks(100);
        let e = plan_split(&ts, &req(SplitAt::Ms(T0)), "f").unwrap_err();
        assert!(
            matches!(e, SplitError::EmptyPart { part: "soak", .. }),
            "{e}"
        );
        assert!(e.to_string().contains("2024-08-08T23:54:00.000Z"), "{e}");
        let e = plan_split(&ts, &req(SplitAt::Ms(T0 + 200_000)), "f").unwrap_err();
        assert!(
            matches!(
                e,
                SplitError::EmptyPart {
                    part: "dry-run",
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(
            plan_split(&[], &req(SplitAt::Fraction(0.5)), "a.csv").unwrap_err(),
            SplitError::Empty {
                label: "a.csv".into()
            }
        );
        let mut r = req(SplitAt::Fraction(0.5));
        r.soak_window_ms = 0;
        assert!(
            plan_split(&ts, &r, "f")
                .unwrap_err()
                .to_string()
                .contains("--duration")
        );
    }

    #[test]
    fn spans_and_times_read_as_people_write_them() {
        assert_eq!(format_span(250_000), "4m 10s");
        assert_eq!(format_span(48 * 60_000), "48m");
        assert_eq!(format_span(3_723_500), "1h 2m 3.5s");
        assert_eq!(format_span(250), "250ms");
        assert_eq!(format_utc(1_723_161_656_313), "2024-08-09T00:00:56.313Z");
    }
}
