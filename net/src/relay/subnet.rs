//! The virtual IPv4 network of one game: which addresses exist, which one is the hub's, what is
//! a broadcast, and what lies outside (and so is never forwarded).
//!
//! Owns address arithmetic only; who holds which address is the session's business.

use std::fmt;
use std::net::Ipv4Addr;

/// The default virtual network of a game: `10.77.0.0/24`, hub `10.77.0.1`.
pub const DEFAULT_SUBNET: Subnet = Subnet {
    network: 0x0a4d_0000,
    prefix_len: 24,
};

/// Why a [`Subnet`] cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum SubnetError {
    /// Only prefixes that leave at least two host addresses and at most 2^24 are accepted: a
    /// network wider than a /8 would make every broadcast a flood, narrower than /30 has no room
    /// for a hub and one client.
    #[error("prefix length /{0} is outside /8../30")]
    PrefixLen(u8),
    /// The address has host bits set (e.g. 10.77.0.5/24); we refuse rather than guess.
    #[error("{0} has host bits set for /{1}")]
    HostBits(Ipv4Addr, u8),
}

/// Where a destination address leads inside a virtual network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    /// 255.255.255.255 or the subnet's own broadcast address: every peer but the sender.
    Broadcast,
    /// A host address of the subnet (not the network or broadcast address).
    Host(Ipv4Addr),
    /// Anything else (the internet, other private ranges, the network address itself).
    Outside,
}

/// An IPv4 network: a network address and a prefix length between 8 and 30.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Subnet {
    network: u32,
    prefix_len: u8,
}

impl Subnet {
    /// Builds `network/prefix_len`; the host bits of `network` must be zero.
    pub fn new(network: Ipv4Addr, prefix_len: u8) -> Result<Self, SubnetError> {
        if !(8..=30).contains(&prefix_len) {
            return Err(SubnetError::PrefixLen(prefix_len));
        }
        let mask = mask_of(prefix_len);
        let n = u32::from(network);
        if n & !mask != 0 {
            return Err(SubnetError::HostBits(network, prefix_len));
        }
        Ok(Subnet {
            network: n,
            prefix_len,
        })
    }

    pub fn network(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network)
    }

    pub fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    fn mask(&self) -> u32 {
        mask_of(self.prefix_len)
    }

    /// The subnet's directed broadcast address (x.y.z.255 for a /24).
    pub fn broadcast(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network | !self.mask())
    }

    /// How many host addresses there are (254 for a /24).
    pub fn host_count(&self) -> u32 {
        (!self.mask()) - 1
    }

    /// The `n`-th host address, 1-based (`host(1)` is the hub's); `None` outside 1..=host_count.
    pub fn host(&self, n: u32) -> Option<Ipv4Addr> {
        (n >= 1 && n <= self.host_count()).then(|| Ipv4Addr::from(self.network + n))
    }

    /// The host number of `ip` (inverse of [`Subnet::host`]), if it is a host of this subnet.
    pub fn host_index(&self, ip: Ipv4Addr) -> Option<u32> {
        match self.classify(ip) {
            Dest::Host(_) => Some(u32::from(ip) - self.network),
            _ => None,
        }
    }

    /// The hub's address: the first host address.
    pub fn hub_addr(&self) -> Ipv4Addr {
        Ipv4Addr::from(self.network + 1)
    }

    /// True for host addresses of this subnet only (not its network or broadcast address).
    pub fn contains_host(&self, ip: Ipv4Addr) -> bool {
        matches!(self.classify(ip), Dest::Host(_))
    }

    /// Classifies a destination: broadcast, one of our hosts, or outside (dropped).
    pub fn classify(&self, ip: Ipv4Addr) -> Dest {
        let n = u32::from(ip);
        if ip == Ipv4Addr::BROADCAST || n == u32::from(self.broadcast()) {
            Dest::Broadcast
        } else if n & self.mask() == self.network && n != self.network {
            Dest::Host(ip)
        } else {
            Dest::Outside
        }
    }
}

impl Default for Subnet {
    fn default() -> Self {
        DEFAULT_SUBNET
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network(), self.prefix_len)
    }
}

impl fmt::Debug for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

fn mask_of(prefix_len: u8) -> u32 {
    // prefix_len is 8..=30 wherever this is called, so the shift never overflows.
    u32::MAX << (32 - u32::from(prefix_len))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(a: u8, b: u8, c: u8, d: u8) -> Ipv4Addr {
        Ipv4Addr::new(a, b, c, d)
    }

    #[test]
    fn default_is_10_77_0_0_24() {
        let s = Subnet::default();
        assert_eq!(s.to_string(), "10.77.0.0/24");
        assert_eq!(s.hub_addr(), ip(10, 77, 0, 1));
        assert_eq!(s.broadcast(), ip(10, 77, 0, 255));
        assert_eq!(s.host_count(), 254);
        assert_eq!(s.host(2), Some(ip(10, 77, 0, 2)));
        assert_eq!(s.host(254), Some(ip(10, 77, 0, 254)));
        assert_eq!(s.host(0), None);
        assert_eq!(s.host(255), None);
        assert_eq!(s.host_index(ip(10, 77, 0, 9)), Some(9));
        assert_eq!(s.host_index(ip(10, 77, 1, 9)), None);
    }

    #[test]
    fn classify() {
        let s = Subnet::default();
        assert_eq!(s.classify(ip(255, 255, 255, 255)), Dest::Broadcast);
        assert_eq!(s.classify(ip(10, 77, 0, 255)), Dest::Broadcast);
        assert_eq!(s.classify(ip(10, 77, 0, 7)), Dest::Host(ip(10, 77, 0, 7)));
        assert_eq!(s.classify(ip(10, 77, 0, 0)), Dest::Outside);
        assert_eq!(s.classify(ip(10, 77, 1, 7)), Dest::Outside);
        assert_eq!(s.classify(ip(127, 0, 0, 1)), Dest::Outside);
        assert_eq!(s.classify(ip(0, 0, 0, 0)), Dest::Outside);
        // master.chocolate-doom.org or any other public address
        assert_eq!(s.classify(ip(93, 184, 216, 34)), Dest::Outside);
        assert!(s.contains_host(ip(10, 77, 0, 1)));
        assert!(!s.contains_host(ip(10, 77, 0, 255)));
    }

    #[test]
    fn other_prefixes() {
        let s = Subnet::new(ip(192, 168, 4, 0), 22).unwrap();
        assert_eq!(s.broadcast(), ip(192, 168, 7, 255));
        assert_eq!(s.host_count(), 1022);
        assert_eq!(
            s.classify(ip(192, 168, 5, 255)),
            Dest::Host(ip(192, 168, 5, 255))
        );
        let s = Subnet::new(ip(10, 0, 0, 4), 30).unwrap();
        assert_eq!(s.host_count(), 2);
        assert_eq!(s.broadcast(), ip(10, 0, 0, 7));
    }

    #[test]
    fn rejects_bad_subnets() {
        assert_eq!(
            Subnet::new(ip(10, 77, 0, 5), 24),
            Err(SubnetError::HostBits(ip(10, 77, 0, 5), 24))
        );
        assert_eq!(
            Subnet::new(ip(10, 0, 0, 0), 7),
            Err(SubnetError::PrefixLen(7))
        );
        assert_eq!(
            Subnet::new(ip(10, 0, 0, 0), 31),
            Err(SubnetError::PrefixLen(31))
        );
        assert_eq!(
            Subnet::new(ip(10, 0, 0, 0), 32),
            Err(SubnetError::PrefixLen(32))
        );
    }
}
