//! Instruments: the price and size grid of a symbol.
//!
//! Every price the simulated exchange compares is an integer number of ticks
//! (`round(price / tick_size)`), never a float within an epsilon; quotes are
//! placed on the grid (bids rounded down, asks up) and sizes in whole lots
//! (rounded down, at least one lot).
//!
//! A symbol without a configured instrument gets one inferred from its feed
//! ([`GridInference`]): the tick is the coarsest power of ten that every
//! observed price is a multiple of, and the lot likewise for sizes. The
//! inference only ever refines (a finer grid contains every point of a
//! coarser one), so quotes placed before it settled are still on the grid.

use serde::{Deserialize, Serialize};

/// The grid of one symbol.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Instrument {
    /// Price increment.
    pub tick_size: f64,
    /// Size increment (and the smallest order).
    pub lot_size: f64,
}

/// An instrument value the simulation cannot use.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{field} must be positive and finite, got {value}")]
pub struct InstrumentError {
    /// `tick_size` or `lot_size`.
    pub field: &'static str,
    /// The value given.
    pub value: f64,
}

impl Instrument {
    /// A checked instrument: both increments positive and finite.
    pub fn new(tick_size: f64, lot_size: f64) -> Result<Self, InstrumentError> {
        let i = Self {
            tick_size,
            lot_size,
        };
        i.validate()?;
        Ok(i)
    }

    /// Checks both increments.
    pub fn validate(&self) -> Result<(), InstrumentError> {
        for (field, value) in [("tick_size", self.tick_size), ("lot_size", self.lot_size)] {
            if !(value.is_finite() && value > 0.0) {
                return Err(InstrumentError { field, value });
            }
        }
        Ok(())
    }

    /// The price as a whole number of ticks (nearest).
    pub fn ticks(&self, price: f64) -> i64 {
        round_i64(price / self.tick_size)
    }

    /// The price of `ticks` ticks.
    pub fn price(&self, ticks: i64) -> f64 {
        ticks as f64 * self.tick_size
    }

    /// The largest number of ticks whose price is at or below `price` (a bid).
    pub fn ticks_floor(&self, price: f64) -> i64 {
        let t = self.ticks(price);
        // Within rounding noise of a grid point, it is that point.
        if self.price(t) <= price + self.tick_size * 1e-6 {
            t
        } else {
            t - 1
        }
    }

    /// The smallest number of ticks whose price is at or above `price` (an ask).
    pub fn ticks_ceil(&self, price: f64) -> i64 {
        let t = self.ticks(price);
        if self.price(t) >= price - self.tick_size * 1e-6 {
            t
        } else {
            t + 1
        }
    }

    /// `qty` as whole lots, rounded down.
    pub fn lots_floor(&self, qty: f64) -> i64 {
        let l = (qty / self.lot_size).round();
        let l = if l * self.lot_size <= qty + self.lot_size * 1e-6 {
            l
        } else {
            l - 1.0
        };
        l.max(0.0) as i64
    }

    /// `qty` rounded down to whole lots, at least one lot.
    pub fn order_qty(&self, qty: f64) -> f64 {
        self.lot_size * self.lots_floor(qty).max(1) as f64
    }
}

/// `x` rounded half away from zero, as an integer. The float `round` is a
/// library call on a baseline x86-64 target; this is an add and a truncating
/// conversion, on the hot path of every tick.
pub fn round_i64(x: f64) -> i64 {
    (x + 0.5f64.copysign(x)) as i64
}

/// Where a symbol's instrument came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InstrumentSource {
    /// The profile's `instruments` section.
    Configured,
    /// Inferred from the prices and sizes of the feed.
    Inferred,
}

impl InstrumentSource {
    /// `configured` or `inferred`, as serialised.
    pub fn as_str(self) -> &'static str {
        match self {
            InstrumentSource::Configured => "configured",
            InstrumentSource::Inferred => "inferred",
        }
    }
}

/// Coarsest power of ten tried (prices of 10,000 and up on a 10,000 grid).
const COARSEST_EXP: i32 = 4;
/// Finest power of ten tried (1e-10).
const FINEST_EXP: i32 = -10;

/// The exponent `e` of the coarsest `10^e` that `x` is a multiple of, for
/// `x > 0`; [`FINEST_EXP`] when none is (a binary fraction, say).
fn grid_exponent(x: f64) -> i32 {
    let mut e = COARSEST_EXP;
    while e > FINEST_EXP {
        if on_grid(x, 10f64.powi(e)) {
            return e;
        }
        e -= 1;
    }
    FINEST_EXP
}

/// True when `x` is a whole multiple of `step` (up to rounding noise).
#[inline]
fn on_grid(x: f64, step: f64) -> bool {
    let n = round_i64(x / step) as f64;
    n >= 1.0 && (n * step - x).abs() <= step * 1e-6
}

/// Infers a symbol's grid from what the feed shows; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GridInference {
    price_exp: Option<i32>,
    size_exp: Option<i32>,
    /// `10^price_exp` and `10^size_exp`, so a value already on the grid costs
    /// one division (the common case, on every tick).
    price_step: f64,
    size_step: f64,
    /// What [`instrument`](Self::instrument) returns, kept up to date when an
    /// exponent changes (asked on every tick).
    current: Instrument,
}

impl Default for GridInference {
    fn default() -> Self {
        Self::new()
    }
}

impl GridInference {
    /// Nothing observed yet.
    pub fn new() -> Self {
        Self {
            price_exp: None,
            size_exp: None,
            price_step: f64::NAN,
            size_step: f64::NAN,
            current: Self::grid_of(None, None),
        }
    }

    fn grid_of(price_exp: Option<i32>, size_exp: Option<i32>) -> Instrument {
        Instrument {
            tick_size: 10f64.powi(price_exp.unwrap_or(-2)),
            lot_size: 10f64.powi(size_exp.unwrap_or(-3)),
        }
    }

    /// Takes a price into account (non-positive and non-finite are ignored).
    #[inline]
    pub fn observe_price(&mut self, price: f64) {
        if price.is_finite() && price > 0.0 && !on_grid(price, self.price_step) {
            let e = grid_exponent(price);
            let e = self.price_exp.map_or(e, |p| p.min(e));
            self.price_exp = Some(e);
            self.price_step = 10f64.powi(e);
            self.current = Self::grid_of(self.price_exp, self.size_exp);
        }
    }

    /// Takes a size into account (zero, negative and non-finite are ignored).
    #[inline]
    pub fn observe_size(&mut self, qty: f64) {
        if qty.is_finite() && qty > 0.0 && !on_grid(qty, self.size_step) {
            let e = grid_exponent(qty);
            let e = self.size_exp.map_or(e, |p| p.min(e));
            self.size_exp = Some(e);
            self.size_step = 10f64.powi(e);
            self.current = Self::grid_of(self.price_exp, self.size_exp);
        }
    }

    /// The grid inferred so far: price increments default to `0.01` and size
    /// increments to `0.001` until a value of each kind was seen.
    pub fn instrument(&self) -> Instrument {
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prices_round_onto_the_grid_in_the_quoting_direction() {
        let i = Instrument::new(0.1, 0.001).unwrap();
        assert_eq!(i.ticks(60_000.1), 600_001);
        assert_eq!(i.ticks_floor(60_000.17), 600_001);
        assert_eq!(i.ticks_ceil(60_000.11), 600_002);
        // an exact grid point stays where it is despite float noise
        assert_eq!(i.ticks_floor(0.1 + 0.2), 3);
        assert_eq!(i.ticks_ceil(0.1 + 0.2), 3);
        assert_eq!(i.lots_floor(0.0299999), 29);
        assert_eq!(i.lots_floor(0.03), 30);
        assert_eq!(i.order_qty(0.0004), 0.001);
        assert!((i.order_qty(0.0105) - 0.010).abs() < 1e-12);
    }

    #[test]
    fn bad_increments_are_named() {
        assert_eq!(
            Instrument::new(0.0, 1.0).unwrap_err().to_string(),
            "tick_size must be positive and finite, got 0"
        );
        assert_eq!(
            Instrument::new(0.1, f64::NAN).unwrap_err().field,
            "lot_size"
        );
        assert!(Instrument::new(-0.1, 1.0).is_err());
    }

    #[test]
    fn inference_finds_the_coarsest_grid_every_value_is_on() {
        let mut g = GridInference::new();
        assert_eq!(g.instrument(), Instrument::new(0.01, 0.001).unwrap());
        g.observe_price(60_000.0);
        assert_eq!(g.instrument().tick_size, 10_000.0);
        g.observe_price(60_010.0);
        assert_eq!(g.instrument().tick_size, 10.0);
        g.observe_price(60_010.3);
        assert!((g.instrument().tick_size - 0.1).abs() < 1e-15);
        g.observe_price(0.0);
        g.observe_price(f64::NAN);
        assert!((g.instrument().tick_size - 0.1).abs() < 1e-15);
        g.observe_size(0.003);
        g.observe_size(1.25);
        assert!((g.instrument().lot_size - 0.001).abs() < 1e-18);
    }
}
