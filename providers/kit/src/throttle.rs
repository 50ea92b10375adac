//! A log line that anyone can cause at will (an actor refusing a message a client sent) is
//! written at most once per period, with a count of those left out since.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

pub struct LogThrottle {
    limiter: DefaultDirectRateLimiter,
    left_out: AtomicU64,
}

impl LogThrottle {
    /// One line per `period`.
    pub fn per(period: Duration) -> Self {
        let quota = Quota::with_period(period)
            .expect("a log period is longer than zero")
            .allow_burst(NonZeroU32::MIN);
        LogThrottle {
            limiter: RateLimiter::direct(quota),
            left_out: AtomicU64::new(0),
        }
    }

    /// `Some(left_out)` when this line is written, `left_out` lines having been left out since
    /// the last one; `None` when it is left out.
    pub fn admit(&self) -> Option<u64> {
        match self.limiter.check() {
            Ok(()) => Some(self.left_out.swap(0, Ordering::Relaxed)),
            Err(_) => {
                self.left_out.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_period_then_the_count_left_out() {
        let throttle = LogThrottle::per(Duration::from_millis(200));
        assert_eq!(throttle.admit(), Some(0));
        assert_eq!(throttle.admit(), None);
        assert_eq!(throttle.admit(), None);
        std::thread::sleep(Duration::from_millis(250));
        assert_eq!(throttle.admit(), Some(2));
    }
}
