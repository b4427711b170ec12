//! Counted connections: how many are open in all and from each source, each one a [`Slot`]
//! that gives itself back when dropped, whichever way its connection ends (closed, failed, a
//! task cancelled, an upgrade abandoned before it began). The HTTP accept loop and the
//! signaling connections each keep one [`OpenCounts`].

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};

/// Connections open now, in all and per source. Cheap to clone (shared).
#[derive(Debug, Default, Clone)]
pub struct OpenCounts(Arc<Mutex<Counts>>);

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    by_source: HashMap<IpAddr, usize>,
}

/// One open connection from `source`, counted until dropped.
#[derive(Debug)]
pub struct Slot {
    counts: OpenCounts,
    source: IpAddr,
}

impl OpenCounts {
    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// A slot for a connection from `source` if fewer than `total` are open in all and, unless
    /// `per_source` is `None`, fewer than `per_source` from `source`.
    pub fn take(&self, source: IpAddr, total: usize, per_source: Option<usize>) -> Option<Slot> {
        let mut c = self.lock();
        let mine = c.by_source.get(&source).copied().unwrap_or(0);
        if c.total >= total || per_source.is_some_and(|max| mine >= max) {
            return None;
        }
        c.total += 1;
        *c.by_source.entry(source).or_default() += 1;
        Some(Slot {
            counts: self.clone(),
            source,
        })
    }

    /// Open from `source` now.
    pub fn open_from(&self, source: IpAddr) -> usize {
        self.lock().by_source.get(&source).copied().unwrap_or(0)
    }

    /// Sources with a connection open now (the table never holds more).
    pub fn sources(&self) -> usize {
        self.lock().by_source.len()
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut c = self.counts.lock();
        c.total -= 1;
        if let Some(n) = c.by_source.get_mut(&self.source) {
            *n -= 1;
            if *n == 0 {
                c.by_source.remove(&self.source);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_count_in_all_and_per_source_and_give_themselves_back() {
        let open = OpenCounts::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        let a1 = open.take(a, 3, Some(2)).unwrap();
        let a2 = open.take(a, 3, Some(2)).unwrap();
        assert!(open.take(a, 3, Some(2)).is_none());
        let b1 = open.take(b, 3, Some(2)).unwrap();
        assert!(open.take(b, 3, Some(2)).is_none(), "the total");
        assert!(open.take(a, 4, None).is_some(), "no per-source limit");
        drop((a1, a2));
        assert_eq!(open.open_from(a), 0);
        assert_eq!(open.sources(), 1);
        drop(b1);
        assert_eq!(open.sources(), 0);
    }
}
