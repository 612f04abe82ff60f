//! One retry policy for every retry loop: exponential backoff with a cap.
//!
//! [`RetryPolicy`] says how long to wait after the n-th failed attempt and
//! how many attempts to make (exportd's batches, the feed publisher's
//! pipelines); [`Backoff`] keeps that state for a loop that never gives up
//! but must not hammer a store that is down (ingestd's reader and acker).

use std::time::Duration;

/// Attempts and the waits between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts, the first included (at least 1).
    pub max_attempts: u32,
    /// Wait after the first failed attempt; doubles for each further one.
    pub backoff: Duration,
    /// Longest wait between attempts.
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// The wait after the `attempt`-th (1-based) failed attempt.
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        self.backoff.saturating_mul(factor).min(self.max_backoff)
    }

    /// True when another attempt may follow the `attempt`-th failed one.
    pub fn retries_after(&self, attempt: u32) -> bool {
        attempt < self.max_attempts
    }
}

/// The backoff state of a loop that retries for ever: after each failure it
/// waits [`RetryPolicy::delay`] of the failures so far, and a success starts
/// over.
#[derive(Debug)]
pub struct Backoff {
    policy: RetryPolicy,
    failures: u32,
    until: Option<tokio::time::Instant>,
}

impl Default for Backoff {
    /// 100 ms doubling up to 2 s.
    fn default() -> Self {
        Self::new(RetryPolicy::default())
    }
}

impl Backoff {
    /// No failure yet; `policy.max_attempts` is not used (it never gives up).
    pub fn new(policy: RetryPolicy) -> Self {
        Self {
            policy,
            failures: 0,
            until: None,
        }
    }

    /// Records a failure and returns the wait before the next attempt.
    pub fn fail(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let d = self.policy.delay(self.failures);
        self.until = Some(tokio::time::Instant::now() + d);
        d
    }

    /// Records a success.
    pub fn reset(&mut self) {
        self.failures = 0;
        self.until = None;
    }

    /// The current wait, while failing.
    pub fn current(&self) -> Option<Duration> {
        (self.failures > 0).then(|| self.policy.delay(self.failures))
    }

    /// True when the wait has passed.
    pub fn due(&self) -> bool {
        self.until.is_none_or(|u| tokio::time::Instant::now() >= u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy {
            max_attempts: 5,
            backoff: Duration::from_millis(100),
            max_backoff: Duration::from_millis(350),
        };
        assert_eq!(p.delay(1), Duration::from_millis(100));
        assert_eq!(p.delay(2), Duration::from_millis(200));
        assert_eq!(p.delay(3), Duration::from_millis(350));
        assert_eq!(p.delay(40), Duration::from_millis(350));
        assert!(p.retries_after(4) && !p.retries_after(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_backoff_waits_longer_after_each_failure_and_starts_over_on_success() {
        let mut b = Backoff::default();
        assert_eq!((b.current(), b.due()), (None, true));
        let waits: Vec<u128> = (0..6).map(|_| b.fail().as_millis()).collect();
        assert_eq!(waits, [100, 200, 400, 800, 1600, 2000]);
        assert_eq!(b.current(), Some(Duration::from_secs(2)));
        assert!(!b.due());
        tokio::time::advance(Duration::from_millis(1999)).await;
        assert!(!b.due());
        tokio::time::advance(Duration::from_millis(1)).await;
        assert!(b.due());
        b.reset();
        assert_eq!((b.current(), b.due()), (None, true));
        assert_eq!(b.fail(), Duration::from_millis(100));
    }
}
