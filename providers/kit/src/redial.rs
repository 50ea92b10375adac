//! How long to wait before dialling a server again: doubling delays, each with jitter, so that
//! the hosts that lost one server together do not all redial it in the same instant.

use std::time::Duration;

/// Between half and all of `delay`, at random ("equal jitter").
pub fn jittered(delay: Duration) -> Duration {
    delay.mul_f64(0.5 + fastrand::f64() * 0.5)
}

/// async-nats's own schedule (at once, then 2 ms doubling to 4 s), jittered.
pub fn nats_delay(attempts: usize) -> Duration {
    if attempts <= 1 {
        return Duration::ZERO;
    }
    let doublings = u32::try_from(attempts - 1).unwrap_or(u32::MAX);
    let delay = Duration::from_millis(2_u64.saturating_pow(doublings)).min(Duration::from_secs(4));
    jittered(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jittered_delay_is_between_half_and_all_and_varies() {
        let delay = Duration::from_secs(1);
        let delays: Vec<Duration> = (0..100).map(|_| jittered(delay)).collect();
        assert!(delays.iter().all(|d| *d >= delay / 2 && *d <= delay));
        assert!(delays.iter().any(|d| *d != delays[0]), "{delays:?}");
        assert_eq!(nats_delay(1), Duration::ZERO);
        assert!(
            nats_delay(40) <= Duration::from_secs(4) && nats_delay(40) >= Duration::from_secs(2)
        );
    }
}
