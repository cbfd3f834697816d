//! How sign-in and sign-up attempts are throttled: a caller's attempts are
//! counted per window; past a first bound every answer is slowed down, past a
//! second the caller is locked out until the lock runs out.

use std::time::Duration;

/// What is counted, and for whom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Failed sign-ins for one account (its email).
    LoginAccount,
    /// Failed sign-ins from one client address, whatever the account.
    LoginAddress,
    /// Sign-ups from one client address.
    SignupAddress,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 3] = [
        Scope::LoginAccount,
        Scope::LoginAddress,
        Scope::SignupAddress,
    ];

    /// The longest any scope counts or locks: a row older than this, and not
    /// locked, counts for nothing any more.
    pub fn longest_memory() -> Duration {
        Scope::ALL
            .iter()
            .map(|s| {
                let p = s.policy();
                p.window.max(p.lock_for)
            })
            .max()
            .unwrap_or(Duration::ZERO)
    }

    /// The stored name.
    pub fn as_str(&self) -> &'static str {
        match self {
            Scope::LoginAccount => "login-account",
            Scope::LoginAddress => "login-address",
            Scope::SignupAddress => "signup-address",
        }
    }

    /// The bounds of this scope.
    pub fn policy(&self) -> Policy {
        match self {
            Scope::LoginAccount => Policy {
                slow_after: 3,
                lock_after: 10,
                window: Duration::from_secs(15 * 60),
                lock_for: Duration::from_secs(15 * 60),
            },
            Scope::LoginAddress => Policy {
                slow_after: 20,
                lock_after: 50,
                window: Duration::from_secs(15 * 60),
                lock_for: Duration::from_secs(15 * 60),
            },
            Scope::SignupAddress => Policy {
                slow_after: 5,
                lock_after: 20,
                window: Duration::from_secs(60 * 60),
                lock_for: Duration::from_secs(60 * 60),
            },
        }
    }
}

/// The bounds of one scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Policy {
    /// Attempts in a window answered at full speed.
    pub slow_after: i32,
    /// Attempts in a window after which the caller is locked out.
    pub lock_after: i32,
    /// How long attempts are counted together.
    pub window: Duration,
    /// How long a lock lasts.
    pub lock_for: Duration,
}

/// The longest a single answer is slowed down.
pub const MAX_DELAY_STEPS: u32 = 8;

impl Policy {
    /// How long to wait before answering a caller with `failures` attempts in
    /// the window: nothing up to `slow_after`, then one more `step` for each
    /// attempt beyond, up to [`MAX_DELAY_STEPS`] steps.
    pub fn delay(&self, failures: i32, step: Duration) -> Duration {
        let beyond = failures.saturating_sub(self.slow_after).saturating_add(1);
        if failures < self.slow_after || beyond <= 0 {
            return Duration::ZERO;
        }
        step * (beyond as u32).min(MAX_DELAY_STEPS)
    }

    /// Whether `failures` attempts lock the caller out.
    pub fn locks(&self, failures: i32) -> bool {
        failures >= self.lock_after
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempts_are_free_then_slowed_then_locked() {
        let p = Scope::LoginAccount.policy();
        let step = Duration::from_millis(200);
        assert_eq!(p.delay(0, step), Duration::ZERO);
        assert_eq!(p.delay(2, step), Duration::ZERO);
        assert_eq!(p.delay(3, step), Duration::from_millis(200));
        assert_eq!(p.delay(5, step), Duration::from_millis(600));
        assert_eq!(p.delay(500, step), step * MAX_DELAY_STEPS);
        assert!(!p.locks(9));
        assert!(p.locks(10));
    }

    #[test]
    fn an_address_gets_more_room_than_an_account() {
        let (account, address) = (Scope::LoginAccount.policy(), Scope::LoginAddress.policy());
        assert!(address.slow_after > account.slow_after);
        assert!(address.lock_after > account.lock_after);
    }
}
