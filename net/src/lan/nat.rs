//! The LAN bridge's address table: real UDP endpoints of stock Chocolate Doom players on the LAN
//! ↔ the virtual endpoints the local guest sees them as.
//!
//! Owns the mapping only (sans-IO, timestamps in, no sockets): the bridge's socket code asks it
//! who a datagram from the LAN appears to come from ([`NatTable::inbound`]) and where a guest's
//! datagram to a virtual address really goes ([`NatTable::outbound`]).
//!
//! One real IP address is one virtual host, and ports pass through unchanged, so two players on
//! one real machine (different ports) appear as one virtual host with two ports, just as they
//! are. Virtual addresses are handed out deterministically: the lowest free host number of the
//! configured range, in order of first contact, so the same sequence of contacts always yields
//! the same addresses (tests and logs can name them). A mapping unused for `idle_timeout` is
//! forgotten and its address becomes free again.
//!
//! Anyone can send a LAN port a datagram from a spoofed address, and each new address takes a
//! virtual host. So new mappings are rate-limited (`new_burst` at once, then `new_per_sec`),
//! and when the range is full the mapping unused longest is taken back if it has been idle for
//! `reclaim_idle` (a player sends every tic, a spoofed address once): a flood of spoofed
//! sources can neither fill the table for good nor make the guest answer at its rate.

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4};
use std::ops::RangeInclusive;
use std::time::Duration;
use web_time::Instant;

use crate::relay::bucket::TokenBucket;
use crate::relay::subnet::{Dest, Subnet};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatConfig {
    /// The virtual network the guest lives in.
    pub subnet: Subnet,
    /// Host numbers within `subnet` that LAN players may be given (default 128..=254: the lower
    /// half stays for relay peers).
    pub hosts: RangeInclusive<u32>,
    /// A mapping not used in either direction for this long is forgotten (default 60 s).
    pub idle_timeout: Duration,
    /// New mappings made in a burst, and then per second (default 16, then 4).
    pub new_burst: u32,
    pub new_per_sec: u32,
    /// With the range full, the mapping unused longest is taken back for a new host if it has
    /// been unused this long (default 10 s).
    pub reclaim_idle: Duration,
}

impl Default for NatConfig {
    fn default() -> Self {
        NatConfig {
            subnet: Subnet::default(),
            hosts: 128..=254,
            idle_timeout: Duration::from_secs(60),
            new_burst: 16,
            new_per_sec: 4,
            reclaim_idle: Duration::from_secs(10),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NatError {
    #[error("host range {0:?} is empty or not inside the subnet")]
    BadRange(RangeInclusive<u32>),
    #[error("every virtual address of the LAN range is taken")]
    Exhausted,
    #[error("too many new LAN hosts at once")]
    Busy,
    #[error("{0} is outside the virtual network")]
    OutsideNetwork(Ipv4Addr),
    #[error("no LAN player holds {0}")]
    NoMapping(Ipv4Addr),
}

/// Where a guest's datagram goes on the real LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outbound {
    /// To this real endpoint.
    Unicast(SocketAddr),
    /// To the LAN's broadcast on this port (what `-localsearch` needs to find stock servers).
    Broadcast(u16),
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    vip: Ipv4Addr,
    last_used: Instant,
}

/// The table. See the module docs.
#[derive(Debug, Clone)]
pub struct NatTable {
    cfg: NatConfig,
    by_real: HashMap<IpAddr, Entry>,
    by_virtual: BTreeMap<Ipv4Addr, IpAddr>,
    /// New mappings' rate (made at the first contact: the table has no clock of its own).
    newcomers: Option<TokenBucket>,
}

impl NatTable {
    pub fn new(cfg: NatConfig) -> Result<Self, NatError> {
        let (lo, hi) = (*cfg.hosts.start(), *cfg.hosts.end());
        if lo == 0 || lo > hi || hi > cfg.subnet.host_count() {
            return Err(NatError::BadRange(cfg.hosts));
        }
        Ok(NatTable {
            cfg,
            by_real: HashMap::new(),
            by_virtual: BTreeMap::new(),
            newcomers: None,
        })
    }

    pub fn len(&self) -> usize {
        self.by_real.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_real.is_empty()
    }

    /// A datagram arrived from `real` on the LAN: the virtual endpoint the guest sees it from.
    /// Allocates a virtual address on first contact.
    pub fn inbound(&mut self, now: Instant, real: SocketAddr) -> Result<SocketAddrV4, NatError> {
        self.expire(now);
        let ip = canonical(real.ip());
        if let Some(e) = self.by_real.get_mut(&ip) {
            e.last_used = now;
            return Ok(SocketAddrV4::new(e.vip, real.port()));
        }
        let (rate, burst) = (
            f64::from(self.cfg.new_per_sec),
            f64::from(self.cfg.new_burst),
        );
        let newcomers = self
            .newcomers
            .get_or_insert_with(|| TokenBucket::new(rate, burst, now));
        if !newcomers.take(now) {
            return Err(NatError::Busy);
        }
        let vip = match self.lowest_free() {
            Some(vip) => vip,
            None => self.reclaim(now).ok_or(NatError::Exhausted)?,
        };
        self.by_real.insert(
            ip,
            Entry {
                vip,
                last_used: now,
            },
        );
        self.by_virtual.insert(vip, ip);
        Ok(SocketAddrV4::new(vip, real.port()))
    }

    /// The guest sends to `dst`: where that is on the LAN. Never allocates: the guest can only
    /// reach LAN players it has heard from (or everyone, by broadcast).
    pub fn outbound(&mut self, now: Instant, dst: SocketAddrV4) -> Result<Outbound, NatError> {
        self.expire(now);
        match self.cfg.subnet.classify(*dst.ip()) {
            Dest::Broadcast => Ok(Outbound::Broadcast(dst.port())),
            Dest::Outside => Err(NatError::OutsideNetwork(*dst.ip())),
            Dest::Host(vip) => {
                let ip = *self.by_virtual.get(&vip).ok_or(NatError::NoMapping(vip))?;
                if let Some(e) = self.by_real.get_mut(&ip) {
                    e.last_used = now;
                }
                Ok(Outbound::Unicast(SocketAddr::new(ip, dst.port())))
            }
        }
    }

    /// With the range full: frees the mapping unused longest if it has been unused for
    /// `reclaim_idle`, and returns its virtual address.
    fn reclaim(&mut self, now: Instant) -> Option<Ipv4Addr> {
        let (&ip, e) = self.by_real.iter().min_by_key(|(_, e)| e.last_used)?;
        if now.saturating_duration_since(e.last_used) < self.cfg.reclaim_idle {
            return None;
        }
        let vip = e.vip;
        self.by_real.remove(&ip);
        self.by_virtual.remove(&vip);
        Some(vip)
    }

    /// The virtual address of a real one, if mapped (no refresh).
    pub fn virtual_of(&self, real: IpAddr) -> Option<Ipv4Addr> {
        self.by_real.get(&canonical(real)).map(|e| e.vip)
    }

    /// The real address behind a virtual one, if mapped (no refresh).
    pub fn real_of(&self, vip: Ipv4Addr) -> Option<IpAddr> {
        self.by_virtual.get(&vip).copied()
    }

    /// Forgets mappings idle for `idle_timeout`; returns them (real, virtual), lowest virtual
    /// first.
    pub fn expire(&mut self, now: Instant) -> Vec<(IpAddr, Ipv4Addr)> {
        let timeout = self.cfg.idle_timeout;
        let stale: Vec<(IpAddr, Ipv4Addr)> = self
            .by_virtual
            .iter()
            .filter(|(_, ip)| {
                self.by_real
                    .get(ip)
                    .is_some_and(|e| now.saturating_duration_since(e.last_used) >= timeout)
            })
            .map(|(&vip, &ip)| (ip, vip))
            .collect();
        for (ip, vip) in &stale {
            self.by_real.remove(ip);
            self.by_virtual.remove(vip);
        }
        stale
    }

    /// When the next mapping would expire.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.by_real
            .values()
            .map(|e| e.last_used + self.cfg.idle_timeout)
            .min()
    }

    fn lowest_free(&self) -> Option<Ipv4Addr> {
        self.cfg
            .hosts
            .clone()
            .filter_map(|h| self.cfg.subnet.host(h))
            .find(|vip| !self.by_virtual.contains_key(vip))
    }
}

/// An IPv4 peer seen over an IPv6 socket (::ffff:a.b.c.d) is the same peer as over IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    fn lan(d: u8, port: u16) -> SocketAddr {
        SocketAddr::from(([192, 168, 1, d], port))
    }

    fn vip(d: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 77, 0, d)
    }

    fn secs(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn allocation_is_deterministic_in_first_contact_order() {
        let t0 = Instant::now();
        let run = || {
            let mut t = NatTable::new(NatConfig::default()).unwrap();
            [lan(20, 2342), lan(5, 2342), lan(20, 40000), lan(7, 2342)]
                .into_iter()
                .map(|a| t.inbound(t0, a).unwrap())
                .collect::<Vec<_>>()
        };
        let a = run();
        assert_eq!(
            a,
            vec![
                SocketAddrV4::new(vip(128), 2342),
                SocketAddrV4::new(vip(129), 2342),
                // Same real host, another port: same virtual host, port kept.
                SocketAddrV4::new(vip(128), 40000),
                SocketAddrV4::new(vip(130), 2342),
            ]
        );
        assert_eq!(a, run());
    }

    #[test]
    fn outbound_maps_back_and_broadcasts() {
        let t0 = Instant::now();
        let mut t = NatTable::new(NatConfig::default()).unwrap();
        let v = t.inbound(t0, lan(20, 2342)).unwrap();
        assert_eq!(
            t.outbound(t0, SocketAddrV4::new(*v.ip(), 2342)),
            Ok(Outbound::Unicast(lan(20, 2342)))
        );
        assert_eq!(
            t.outbound(t0, SocketAddrV4::new(*v.ip(), 5555)),
            Ok(Outbound::Unicast(lan(20, 5555)))
        );
        assert_eq!(
            t.outbound(t0, SocketAddrV4::new(Ipv4Addr::BROADCAST, 2342)),
            Ok(Outbound::Broadcast(2342))
        );
        assert_eq!(
            t.outbound(t0, SocketAddrV4::new(vip(255), 2342)),
            Ok(Outbound::Broadcast(2342))
        );
        assert_eq!(
            t.outbound(t0, SocketAddrV4::new(vip(200), 2342)),
            Err(NatError::NoMapping(vip(200)))
        );
        let master = Ipv4Addr::new(93, 184, 216, 34);
        assert_eq!(
            t.outbound(t0, SocketAddrV4::new(master, 2342)),
            Err(NatError::OutsideNetwork(master))
        );
        assert_eq!(t.real_of(vip(128)), Some(lan(20, 0).ip()));
        assert_eq!(t.virtual_of(lan(20, 0).ip()), Some(vip(128)));
    }

    #[test]
    fn idle_mappings_expire_and_free_their_address() {
        let t0 = Instant::now();
        let mut t = NatTable::new(NatConfig::default()).unwrap();
        t.inbound(t0, lan(1, 1)).unwrap();
        t.inbound(t0 + secs(30), lan(2, 1)).unwrap();
        assert_eq!(t.poll_timeout(), Some(t0 + secs(60)));
        // Use keeps a mapping alive, in either direction.
        t.outbound(t0 + secs(50), SocketAddrV4::new(vip(128), 1))
            .unwrap();
        assert!(t.expire(t0 + secs(89)).is_empty());
        assert_eq!(t.expire(t0 + secs(90)), vec![(lan(2, 0).ip(), vip(129))]);
        // The freed address is the lowest free one again.
        assert_eq!(
            t.inbound(t0 + secs(91), lan(3, 9)).unwrap(),
            SocketAddrV4::new(vip(129), 9)
        );
        assert_eq!(t.len(), 2);
        assert_eq!(t.expire(t0 + secs(200)).len(), 2, "both idle by now");
        assert!(t.is_empty());
        assert_eq!(t.poll_timeout(), None);
    }

    #[test]
    fn exhaustion_and_bad_ranges() {
        let t0 = Instant::now();
        let cfg = NatConfig {
            hosts: 253..=254,
            ..NatConfig::default()
        };
        let mut t = NatTable::new(cfg).unwrap();
        t.inbound(t0, lan(1, 1)).unwrap();
        t.inbound(t0, lan(2, 1)).unwrap();
        assert_eq!(t.inbound(t0, lan(3, 1)), Err(NatError::Exhausted));
        // Known hosts still map.
        assert!(t.inbound(t0, lan(1, 7)).is_ok());
        #[allow(clippy::reversed_empty_ranges)] // an empty range is the point
        let empty = 10..=9;
        for bad in [0..=10, empty, 200..=255] {
            let cfg = NatConfig {
                hosts: bad.clone(),
                ..NatConfig::default()
            };
            assert_eq!(NatTable::new(cfg).unwrap_err(), NatError::BadRange(bad));
        }
    }

    fn spoofed(i: u32) -> SocketAddr {
        SocketAddr::from(([203, 0, (i / 256) as u8, (i % 256) as u8], 2342))
    }

    #[test]
    fn a_flood_of_new_sources_is_held_to_the_rate() {
        let t0 = Instant::now();
        let mut t = NatTable::new(NatConfig::default()).unwrap();
        // 1000 spoofed sources at once: the burst gets addresses, the rest are refused.
        let made = (0..1000)
            .filter(|&i| t.inbound(t0, spoofed(i)).is_ok())
            .count();
        assert_eq!(made, 16);
        assert_eq!(t.inbound(t0, spoofed(5000)), Err(NatError::Busy));
        // 100 a second for 10 s: 4 a second more.
        let mut made = 0;
        for i in 0..1000u32 {
            let at = t0 + Duration::from_millis(10 * u64::from(i) + 10);
            made += usize::from(t.inbound(at, spoofed(10_000 + i)).is_ok());
        }
        assert!((39..=41).contains(&made), "{made}");
        // Known hosts are never held back.
        assert!(t.inbound(t0 + secs(10), spoofed(0)).is_ok());
    }

    #[test]
    fn a_full_range_gives_a_new_host_the_address_unused_longest_once_it_is_idle() {
        let t0 = Instant::now();
        let cfg = NatConfig {
            hosts: 201..=210,
            new_burst: 1000,
            ..NatConfig::default()
        };
        let mut t = NatTable::new(cfg).unwrap();
        let player = lan(7, 2342);
        let pv = t.inbound(t0, player).unwrap();
        for i in 0..9 {
            t.inbound(t0 + secs(1), spoofed(i)).unwrap();
        }
        // Full, and nobody idle long enough: the newcomer waits.
        assert_eq!(t.inbound(t0 + secs(2), lan(8, 1)), Err(NatError::Exhausted));
        // The player plays on; the spoofed ones never come back. 12 s on, one of them is
        // taken back, never the player.
        for s in 2..=12 {
            t.inbound(t0 + secs(s), player).unwrap();
        }
        let got = t.inbound(t0 + secs(12), lan(8, 1)).unwrap();
        assert_ne!(*got.ip(), *pv.ip());
        assert_eq!(t.real_of(*got.ip()), Some(lan(8, 1).ip()));
        let spoofed_left = (0..9).filter(|&i| t.virtual_of(spoofed(i).ip()).is_some());
        assert_eq!(spoofed_left.count(), 8);
        assert_eq!(t.virtual_of(player.ip()), Some(*pv.ip()));
        assert_eq!(t.len(), 10);
    }

    #[test]
    fn ipv6_and_mapped_ipv4_peers() {
        let t0 = Instant::now();
        let mut t = NatTable::new(NatConfig::default()).unwrap();
        let v4 = t.inbound(t0, lan(9, 2342)).unwrap();
        let mapped = SocketAddr::new(
            IpAddr::V6(Ipv4Addr::new(192, 168, 1, 9).to_ipv6_mapped()),
            2342,
        );
        assert_eq!(t.inbound(t0, mapped).unwrap(), v4, "same peer");
        let v6 = SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1)), 2342);
        let v = t.inbound(t0, v6).unwrap();
        assert_eq!(*v.ip(), vip(129));
        assert_eq!(t.outbound(t0, v), Ok(Outbound::Unicast(v6)));
    }
}
