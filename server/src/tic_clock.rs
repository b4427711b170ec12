//! How long the service holds a tic: a histogram of the delay from a game datagram arriving
//! for a room's server guest to the guest's next game datagram out.

use crate::lock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Upper bounds (seconds) of the tic delay histogram's buckets.
pub const TIC_BUCKETS: [f64; 14] = [
    0.0001, 0.0002, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.5,
];

/// The delay of a tic through the service: from the game datagram that arrives at the hub for
/// the server guest to the server's next game datagram out — what the service adds to a tic
/// that completes a gametic (the guest's poll, the kernel, the session). Earlier players' tics
/// that wait for the last one are not counted as waiting on the service.
#[derive(Default)]
pub(crate) struct TicClock {
    last_in: Mutex<Option<Instant>>,
    pub(crate) buckets: [AtomicU64; TIC_BUCKETS.len() + 1],
    pub(crate) sum_us: AtomicU64,
}

impl TicClock {
    pub(crate) fn arrived(&self) {
        *lock(&self.last_in) = Some(Instant::now());
    }
    pub(crate) fn left(&self) {
        let Some(t) = lock(&self.last_in).take() else {
            return;
        };
        let d = t.elapsed().as_secs_f64();
        let i = TIC_BUCKETS
            .iter()
            .position(|b| d <= *b)
            .unwrap_or(TIC_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add((d * 1e6) as u64, Ordering::Relaxed);
    }
}
