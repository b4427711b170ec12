//! Throttling of failed admin-token attempts, per source.
//!
//! Owns a bounded table: a source (an IPv4 address, or an IPv6 /64, which one host can fill)
//! that failed [`MAX_FAILURES`] times within [`WINDOW`] is refused (429) until its window
//! ends, without its token being looked at; guessing a 16-character token at that rate takes
//! longer than the universe has. At most [`MAX_SOURCES`] sources are remembered; when the table
//! is full, the expired go first, then the one whose window is oldest.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Failed attempts a source may make per window.
pub const MAX_FAILURES: u32 = 10;
/// The window failures are counted over.
pub const WINDOW: Duration = Duration::from_secs(60);
/// Sources remembered at once.
pub const MAX_SOURCES: usize = 4096;

/// Failed attempts per source, with time as an input.
#[derive(Debug, Default)]
pub struct FailureThrottle {
    by_source: HashMap<IpAddr, (Instant, u32)>,
}

/// The key a source is counted under, here and in the service's per-address limits: IPv4
/// addresses (IPv4-mapped ones too) as they are, IPv6 addresses by /64, which one host holds.
pub fn source_key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl FailureThrottle {
    /// Whether `ip` has used up its failures for now.
    pub fn blocked(&self, ip: IpAddr, now: Instant) -> bool {
        self.by_source
            .get(&source_key(ip))
            .is_some_and(|&(start, n)| now.duration_since(start) < WINDOW && n >= MAX_FAILURES)
    }

    /// Counts a failed attempt from `ip`.
    pub fn failed(&mut self, ip: IpAddr, now: Instant) {
        let key = source_key(ip);
        if !self.by_source.contains_key(&key) && self.by_source.len() >= MAX_SOURCES {
            self.by_source
                .retain(|_, &mut (start, _)| now.duration_since(start) < WINDOW);
            if self.by_source.len() >= MAX_SOURCES {
                if let Some(oldest) = self
                    .by_source
                    .iter()
                    .min_by_key(|(_, &(start, _))| start)
                    .map(|(k, _)| *k)
                {
                    self.by_source.remove(&oldest);
                }
            }
        }
        let e = self.by_source.entry(key).or_insert((now, 0));
        if now.duration_since(e.0) >= WINDOW {
            *e = (now, 0);
        }
        e.1 = e.1.saturating_add(1);
    }

    /// Sources remembered now.
    pub fn len(&self) -> usize {
        self.by_source.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_source.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn a_source_is_refused_after_its_failures_until_its_window_ends() {
        let t0 = Instant::now();
        let mut t = FailureThrottle::default();
        let ip = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1));
        let other = IpAddr::V4(Ipv4Addr::new(192, 0, 2, 2));
        for i in 0..MAX_FAILURES {
            assert!(!t.blocked(ip, t0), "blocked after {i}");
            t.failed(ip, t0);
        }
        assert!(t.blocked(ip, t0));
        assert!(t.blocked(ip, t0 + WINDOW - Duration::from_millis(1)));
        assert!(!t.blocked(other, t0), "another source pays for it");
        assert!(!t.blocked(ip, t0 + WINDOW));
        // A new window starts from nothing.
        t.failed(ip, t0 + WINDOW);
        assert!(!t.blocked(ip, t0 + WINDOW));
    }

    #[test]
    fn an_ipv6_host_cannot_escape_by_changing_its_interface_id() {
        let t0 = Instant::now();
        let mut t = FailureThrottle::default();
        for i in 0..MAX_FAILURES as u16 {
            t.failed(
                IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0, 0, 0, i)),
                t0,
            );
        }
        assert!(t.blocked(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 9, 9, 9, 9)),
            t0
        ));
        assert!(!t.blocked(
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 0, 0, 0, 1)),
            t0
        ));
        // An IPv4-mapped address is its IPv4 address.
        for _ in 0..MAX_FAILURES {
            t.failed(IpAddr::V6(Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped()), t0);
        }
        assert!(t.blocked(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)), t0));
    }

    #[test]
    fn a_flood_of_sources_stays_within_the_table() {
        let t0 = Instant::now();
        let mut t = FailureThrottle::default();
        for i in 0..(MAX_SOURCES as u32 * 3) {
            let now = t0 + Duration::from_micros(u64::from(i));
            t.failed(IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i)), now);
            assert!(t.len() <= MAX_SOURCES);
        }
        // The newest are still counted.
        assert_eq!(t.len(), MAX_SOURCES);
    }
}
