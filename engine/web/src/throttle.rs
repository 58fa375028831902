//! Failed logins remembered in memory, per client address, per user name and per known
//! browser: they slow down the answers to further *failures* (never a correct password's),
//! and lock a *name* for the same time a real account is locked in the database, so an
//! unknown user name answers exactly like a known one (no account enumeration). A known
//! browser (see `keys`) passes a lock until it fails as often itself. Per replica: the
//! database lock is what holds across replicas.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Mutex, PoisonError};

use chrono::{DateTime, Utc};

use lianban_core::accounts::{LOCK_AFTER, LOCK_FOR};

/// Entries older than this are forgotten.
const WINDOW: chrono::Duration = chrono::Duration::minutes(15);
/// Above this many entries, old ones are pruned.
const PRUNE_AT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Name(String),
    /// A known browser, by its cookie's signature.
    Device(String),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    failures: i32,
    last: DateTime<Utc>,
    locked_until: Option<DateTime<Utc>>,
}

/// The failure counts.
#[derive(Debug, Default)]
pub(super) struct Throttle {
    entries: Mutex<HashMap<Key, Entry>>,
}

impl Throttle {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Key, Entry>) -> R) -> R {
        f(&mut self.entries.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// Recent failures from this address and for this name (the higher counts).
    pub(super) fn failures(&self, address: IpAddr, name: &str, now: DateTime<Utc>) -> i32 {
        self.with(|map| {
            [Key::Address(address), Key::Name(name.to_lowercase())]
                .iter()
                .filter_map(|k| map.get(k))
                .filter(|e| now - e.last < WINDOW)
                .map(|e| e.failures)
                .max()
                .unwrap_or(0)
        })
    }

    /// Whether the name is locked in memory.
    pub(super) fn name_locked(&self, name: &str, now: DateTime<Utc>) -> bool {
        self.with(|map| {
            map.get(&Key::Name(name.to_lowercase()))
                .and_then(|e| e.locked_until)
                .is_some_and(|until| until > now)
        })
    }

    /// Counts a failure; returns whether the name is now locked.
    pub(super) fn fail(&self, address: IpAddr, name: &str, now: DateTime<Utc>) -> bool {
        self.with(|map| {
            if map.len() > PRUNE_AT {
                map.retain(|_, e| now - e.last < WINDOW || e.locked_until.is_some_and(|u| u > now));
            }
            let mut locked = false;
            for key in [Key::Address(address), Key::Name(name.to_lowercase())] {
                let is_name = matches!(key, Key::Name(_));
                let entry = map.entry(key).or_insert(Entry {
                    failures: 0,
                    last: now,
                    locked_until: None,
                });
                if now - entry.last >= WINDOW {
                    entry.failures = 0;
                }
                entry.failures += 1;
                entry.last = now;
                if is_name && entry.failures >= LOCK_AFTER {
                    entry.failures = 0;
                    entry.locked_until = Some(now + LOCK_FOR);
                }
                if is_name {
                    locked = entry.locked_until.is_some_and(|u| u > now);
                }
            }
            locked
        })
    }

    /// Whether a known browser has failed as often as locks an account (and so is treated
    /// as a stranger until the window passes).
    pub(super) fn device_spent(&self, device: &str, now: DateTime<Utc>) -> bool {
        self.with(|map| {
            map.get(&Key::Device(device.to_owned()))
                .is_some_and(|e| now - e.last < WINDOW && e.failures >= LOCK_AFTER)
        })
    }

    /// Counts a failure of a known browser.
    pub(super) fn fail_device(&self, device: &str, now: DateTime<Utc>) {
        self.with(|map| {
            let entry = map.entry(Key::Device(device.to_owned())).or_insert(Entry {
                failures: 0,
                last: now,
                locked_until: None,
            });
            if now - entry.last >= WINDOW {
                entry.failures = 0;
            }
            entry.failures += 1;
            entry.last = now;
        });
    }

    /// A successful login forgets the name's failures (not the address's).
    pub(super) fn succeed(&self, name: &str) {
        self.with(|map| map.remove(&Key::Name(name.to_lowercase())));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lock_after_ten_failures() {
        let t = Throttle::default();
        let ip: IpAddr = [127, 0, 0, 1].into();
        let now = Utc::now();
        for i in 1..LOCK_AFTER {
            assert!(!t.fail(ip, "Nobody", now), "locked early at {i}");
        }
        assert_eq!(t.failures(ip, "nobody", now), LOCK_AFTER - 1);
        assert!(t.fail(ip, "nobody", now));
        assert!(t.name_locked("NOBODY", now));
        assert!(!t.name_locked("nobody", now + LOCK_FOR));
    }

    #[test]
    fn known_browsers_are_spent_after_as_many_failures() {
        let t = Throttle::default();
        let now = Utc::now();
        for _ in 1..LOCK_AFTER {
            t.fail_device("sig", now);
        }
        assert!(!t.device_spent("sig", now));
        t.fail_device("sig", now);
        assert!(t.device_spent("sig", now));
        assert!(!t.device_spent("other", now));
        assert!(!t.device_spent("sig", now + WINDOW));
    }
}
