//! Sign-in throttling: how long a key (an account, a client address) must wait after its
//! failures in a row. Pure: the store keeps the counts, the service applies the rule.
//!
//! A few failures cost nothing (a typo); then each failure makes the next attempt wait
//! longer (1, 2, 4, 8, 16 s …); at `lock_at` failures the key is locked for `lock_secs`
//! (a temporary lock, which an admin may lift). A success forgets the account's failures;
//! failures older than `WINDOW_SECS` are forgotten too. An address gets more room than an
//! account: many people may sign in from one office address.

/// Failures further apart than this start again from one.
pub const WINDOW_SECS: i64 = 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// Failures in a row that cost nothing.
    pub free: i64,
    /// At this many failures the key is locked.
    pub lock_at: i64,
    /// How long a lock lasts.
    pub lock_secs: i64,
}

/// One account (organisation + email, whether the account exists or not).
pub const ACCOUNT: Rule = Rule {
    free: 5,
    lock_at: 10,
    lock_secs: 15 * 60,
};

/// One client address (whichever accounts it tries).
pub const ADDRESS: Rule = Rule {
    free: 20,
    lock_at: 50,
    lock_secs: 15 * 60,
};

impl Rule {
    /// Seconds the next attempt must wait after `failures` failures in a row.
    pub fn wait_after(self, failures: i64) -> i64 {
        if failures < self.free {
            0
        } else if failures < self.lock_at {
            1i64 << (failures - self.free).min(20)
        } else {
            self.lock_secs
        }
    }

    /// Whether `failures` is where the lock starts (audited once).
    pub fn locks_at(self, failures: i64) -> bool {
        failures == self.lock_at
    }
}

/// The failures in a row after one more, given when the last one was (`WINDOW_SECS`).
pub fn next_failures(failures: i64, last_at_micros: i64, now_micros: i64) -> i64 {
    if now_micros - last_at_micros > WINDOW_SECS * 1_000_000 {
        1
    } else {
        failures + 1
    }
}

/// Whole seconds until `until` (at least one while it is ahead), for `Retry-After`.
pub fn seconds_until(until_micros: i64, now_micros: i64) -> i64 {
    ((until_micros - now_micros + 999_999) / 1_000_000).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_lock() {
        let waits: Vec<i64> = (1..=11).map(|n| ACCOUNT.wait_after(n)).collect();
        assert_eq!(waits, [0, 0, 0, 0, 1, 2, 4, 8, 16, 900, 900]);
        assert!(ACCOUNT.locks_at(10) && !ACCOUNT.locks_at(11));
        assert_eq!(ADDRESS.wait_after(19), 0);
        assert_eq!(ADDRESS.wait_after(50), 900);
    }

    #[test]
    fn old_failures_are_forgotten() {
        assert_eq!(next_failures(7, 0, 3_600_000_001), 1);
        assert_eq!(next_failures(7, 0, 3_600_000_000), 8);
        assert_eq!(seconds_until(1_500_000, 0), 2);
        assert_eq!(seconds_until(0, 0), 1);
    }
}
