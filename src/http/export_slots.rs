//! How many CSV downloads run at once: a few overall and fewer per user.
//!
//! A download holds a blocking thread and reads the log for as long as its
//! client reads, so unbounded downloads (even a Reader's own) would take the
//! threads every search and backup needs. Past either bound the request is
//! refused at once (429 `rate_limited`); a slot is given back when its
//! [`ExportSlot`] is dropped, however the download ends.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The bounds and who holds a slot now.
pub struct ExportSlots {
    max: usize,
    max_per_user: usize,
    running: Mutex<Running>,
}

#[derive(Default)]
struct Running {
    total: usize,
    per_user: HashMap<String, usize>,
}

/// Why a download was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Full {
    /// `max_exports` downloads run already.
    Everyone,
    /// This user has `max_exports_per_user` downloads running.
    User,
}

/// One running download's claim; dropping it frees the slot.
pub struct ExportSlot {
    slots: Arc<ExportSlots>,
    user: String,
}

impl ExportSlots {
    pub fn new(max: u32, max_per_user: u32) -> ExportSlots {
        ExportSlots {
            max: max.max(1) as usize,
            max_per_user: max_per_user.max(1) as usize,
            running: Mutex::default(),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Running> {
        self.running.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A slot for `user`, or which bound is reached.
    pub fn claim(self: &Arc<Self>, user: &str) -> Result<ExportSlot, Full> {
        let mut r = self.lock();
        let mine = r.per_user.get(user).copied().unwrap_or(0);
        if mine >= self.max_per_user {
            return Err(Full::User);
        }
        if r.total >= self.max {
            return Err(Full::Everyone);
        }
        r.total += 1;
        r.per_user.insert(user.to_owned(), mine + 1);
        Ok(ExportSlot {
            slots: self.clone(),
            user: user.to_owned(),
        })
    }

    /// Downloads running now.
    pub fn running(&self) -> usize {
        self.lock().total
    }
}

impl Drop for ExportSlot {
    fn drop(&mut self) {
        let mut r = self.slots.lock();
        r.total = r.total.saturating_sub(1);
        if let Some(n) = r.per_user.get_mut(&self.user) {
            *n -= 1;
            if *n == 0 {
                r.per_user.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concurrent_exports_are_capped_overall_and_per_user() {
        let slots = Arc::new(ExportSlots::new(2, 1));
        let a = slots.claim("a").unwrap();
        assert_eq!(slots.claim("a").err(), Some(Full::User));
        let b = slots.claim("b").unwrap();
        assert_eq!(slots.claim("c").err(), Some(Full::Everyone));
        assert_eq!(slots.running(), 2);
        drop(a);
        let _a = slots.claim("a").expect("a dropped slot is given back");
        drop(b);
        let _c = slots.claim("c").unwrap();
        assert_eq!(slots.running(), 2);
    }
}
