//! A circuit breaker in front of the store.
//!
//! After `threshold` consecutive store attempts failed because the store was
//! unreachable, the breaker opens for `cooldown`: batches and new exports fail
//! at once (UNAVAILABLE) instead of each waiting for connect timeouts and
//! retries. After the cool-down, traffic is let through again (half-open); the
//! first success closes the breaker, the first failure opens it for another
//! cool-down. The breaker takes the time as an argument, so it is tested
//! without sleeping.

use std::time::{Duration, Instant};

/// Breaker settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerConfig {
    /// Consecutive unavailable attempts that open the breaker (0 disables it).
    pub threshold: u32,
    /// How long the breaker stays open.
    pub cooldown: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        Self {
            threshold: 5,
            cooldown: Duration::from_secs(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed { failures: u32 },
    Open { until: Instant },
    HalfOpen,
}

/// The breaker state machine (closed → open → half-open → closed).
#[derive(Debug, Clone)]
pub struct CircuitBreaker {
    config: BreakerConfig,
    state: State,
}

impl CircuitBreaker {
    /// A closed breaker.
    pub fn new(config: BreakerConfig) -> Self {
        Self {
            config,
            state: State::Closed { failures: 0 },
        }
    }

    /// How long the breaker stays open from `now`; `None` when requests may go.
    pub fn open_for(&self, now: Instant) -> Option<Duration> {
        match self.state {
            State::Open { until } if now < until => Some(until - now),
            _ => None,
        }
    }

    /// True when an attempt may be made now; moves an expired open breaker to
    /// half-open.
    pub fn allow(&mut self, now: Instant) -> bool {
        match self.state {
            State::Open { until } if now < until => false,
            State::Open { .. } => {
                self.state = State::HalfOpen;
                true
            }
            State::Closed { .. } | State::HalfOpen => true,
        }
    }

    /// Records an attempt that reached the store.
    pub fn record_success(&mut self) {
        self.state = State::Closed { failures: 0 };
    }

    /// Records an attempt that failed because the store was unreachable.
    /// Returns true when this failure opened the breaker.
    pub fn record_failure(&mut self, now: Instant) -> bool {
        if self.config.threshold == 0 {
            return false;
        }
        let open = State::Open {
            until: now + self.config.cooldown,
        };
        match self.state {
            State::Closed { failures } if failures + 1 >= self.config.threshold => {
                self.state = open;
                true
            }
            State::Closed { failures } => {
                self.state = State::Closed {
                    failures: failures + 1,
                };
                false
            }
            State::HalfOpen => {
                self.state = open;
                true
            }
            // A late attempt that started before the breaker opened.
            State::Open { .. } => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn breaker() -> (CircuitBreaker, Instant) {
        let cfg = BreakerConfig {
            threshold: 3,
            cooldown: Duration::from_secs(5),
        };
        (CircuitBreaker::new(cfg), Instant::now())
    }

    #[test]
    fn opens_after_threshold_consecutive_failures_and_fails_fast_until_cooldown() {
        let (mut b, t0) = breaker();
        assert!(!b.record_failure(t0));
        assert!(!b.record_failure(t0));
        assert!(b.allow(t0));
        assert!(b.record_failure(t0), "third failure opens");
        assert!(!b.allow(t0 + Duration::from_secs(1)));
        assert_eq!(
            b.open_for(t0 + Duration::from_secs(1)),
            Some(Duration::from_secs(4))
        );
        // Cool-down over: half-open lets attempts through.
        assert!(b.allow(t0 + Duration::from_secs(5)));
        assert_eq!(b.open_for(t0 + Duration::from_secs(5)), None);
    }

    #[test]
    fn a_success_resets_the_count_and_a_half_open_failure_reopens() {
        let (mut b, t0) = breaker();
        b.record_failure(t0);
        b.record_failure(t0);
        b.record_success();
        assert!(!b.record_failure(t0), "count restarted after a success");
        b.record_failure(t0);
        b.record_failure(t0);
        let t1 = t0 + Duration::from_secs(6);
        assert!(b.allow(t1));
        assert!(b.record_failure(t1), "one failure while half-open reopens");
        assert!(!b.allow(t1 + Duration::from_secs(4)));
        assert!(b.allow(t1 + Duration::from_secs(5)));
        b.record_success();
        assert!(b.allow(t1 + Duration::from_secs(5)));
        assert!(!b.record_failure(t1), "closed again");
    }

    #[test]
    fn threshold_zero_disables_the_breaker() {
        let mut b = CircuitBreaker::new(BreakerConfig {
            threshold: 0,
            cooldown: Duration::from_secs(5),
        });
        let t0 = Instant::now();
        for _ in 0..100 {
            assert!(!b.record_failure(t0));
        }
        assert!(b.allow(t0));
    }
}
