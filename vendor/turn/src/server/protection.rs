//! Defences for a server on the open Internet (doomlink patch; see PATCHED.md). Every one is
//! off in [`Protection::default`], which is the server as published.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use ring::hmac;

use super::request::NONCE_LIFETIME;

/// Decides whether a client may reach a peer: `true` lets it.
pub type PeerFilter = Arc<dyn Fn(SocketAddr) -> bool + Send + Sync>;

/// A relay rate: `bytes_per_sec` on average, bursts of `burst` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bandwidth {
    pub bytes_per_sec: u32,
    pub burst: u32,
}

/// What [`Server::with_protection`](super::Server::with_protection) adds to a server.
#[derive(Clone, Default)]
pub struct Protection {
    /// Peers clients may relay to. A CreatePermission or ChannelBind naming a refused peer gets
    /// 403 (Forbidden) and adds nothing; a Send indication to one is dropped.
    pub peer_filter: Option<PeerFilter>,
    /// Nonces that need no server state: the time they were made and a MAC of that time and
    /// the client's IP address under a random key of the server's, good for an hour (as the
    /// published nonces are). Without it every unauthenticated request adds an entry to a map
    /// that nothing sweeps.
    pub stateless_nonces: bool,
    /// Answer a request whose username the auth handler refuses, or whose MESSAGE-INTEGRITY
    /// is wrong, with 401 (Unauthorized, with REALM and NONCE: RFC 5389 sec 10.2.2) rather
    /// than 400.
    pub unauthorized_for_bad_credentials: bool,
    /// Allocations at most on each listener; more get 486 (Allocation Quota Reached).
    pub max_allocations: Option<usize>,
    /// Allocations at most per username on each listener; more get 486.
    pub max_allocations_per_username: Option<usize>,
    /// Each allocation's relay rate, each way (client to peers, peers to client); datagrams
    /// beyond it are dropped.
    pub bandwidth: Option<Bandwidth>,
    /// A STUN server only: Binding requests are answered, everything else is ignored (no 401,
    /// no nonce, no allocation).
    pub stun_only: bool,
}

impl fmt::Debug for Protection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Protection")
            .field("peer_filter", &self.peer_filter.is_some())
            .field("stateless_nonces", &self.stateless_nonces)
            .field(
                "unauthorized_for_bad_credentials",
                &self.unauthorized_for_bad_credentials,
            )
            .field("max_allocations", &self.max_allocations)
            .field(
                "max_allocations_per_username",
                &self.max_allocations_per_username,
            )
            .field("bandwidth", &self.bandwidth)
            .field("stun_only", &self.stun_only)
            .finish()
    }
}

/// A server's [`Protection`] and the key of its stateless nonces.
pub(crate) struct Guard {
    pub(crate) protection: Protection,
    nonce_key: Option<hmac::Key>,
}

impl Default for Guard {
    fn default() -> Self {
        Guard::new(Protection::default())
    }
}

/// Bytes of a stateless nonce before base64: 4 of time, 8 of MAC (16 characters).
const NONCE_TIME_LEN: usize = 4;
const NONCE_MAC_LEN: usize = 8;
/// How far ahead of our clock a nonce's time may be (a clock stepped back).
const NONCE_SKEW_SECS: u64 = 5;

impl Guard {
    pub(crate) fn new(protection: Protection) -> Self {
        let nonce_key = protection.stateless_nonces.then(|| {
            let key: [u8; 32] = rand::random();
            hmac::Key::new(hmac::HMAC_SHA256, &key)
        });
        Guard {
            protection,
            nonce_key,
        }
    }

    /// Whether clients may relay to `peer`.
    pub(crate) fn allows_peer(&self, peer: SocketAddr) -> bool {
        self.protection.peer_filter.as_ref().is_none_or(|f| f(peer))
    }

    /// A stateless nonce for `client`, if they are on.
    pub(crate) fn stateless_nonce(&self, client: IpAddr) -> Option<String> {
        let key = self.nonce_key.as_ref()?;
        let time = (unix_now() as u32).to_be_bytes();
        let mut raw = [0u8; NONCE_TIME_LEN + NONCE_MAC_LEN];
        raw[..NONCE_TIME_LEN].copy_from_slice(&time);
        raw[NONCE_TIME_LEN..].copy_from_slice(&nonce_mac(key, time, client));
        Some(URL_SAFE_NO_PAD.encode(raw))
    }

    /// Whether `nonce` is one of ours for `client` and fresh; None if stateless nonces are off.
    pub(crate) fn stateless_nonce_valid(&self, nonce: &str, client: IpAddr) -> Option<bool> {
        let key = self.nonce_key.as_ref()?;
        let mut raw = [0u8; NONCE_TIME_LEN + NONCE_MAC_LEN + 3];
        let ok = match URL_SAFE_NO_PAD.decode_slice(nonce.as_bytes(), &mut raw) {
            Ok(n) if n == NONCE_TIME_LEN + NONCE_MAC_LEN => {
                let time: [u8; NONCE_TIME_LEN] = raw[..NONCE_TIME_LEN].try_into().unwrap();
                let made = u64::from(u32::from_be_bytes(time));
                // The time is a u32 of unix seconds: fine until 2106.
                let now = unix_now() & u64::from(u32::MAX);
                let fresh = made <= now + NONCE_SKEW_SECS
                    && now.saturating_sub(made) < NONCE_LIFETIME.as_secs();
                let mac = nonce_mac(key, time, client);
                let same = mac
                    .iter()
                    .zip(&raw[NONCE_TIME_LEN..NONCE_TIME_LEN + NONCE_MAC_LEN])
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0;
                fresh && same
            }
            _ => false,
        };
        Some(ok)
    }
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The first bytes of HMAC-SHA256(key, time || client address).
fn nonce_mac(key: &hmac::Key, time: [u8; NONCE_TIME_LEN], client: IpAddr) -> [u8; NONCE_MAC_LEN] {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(&time);
    match client {
        IpAddr::V4(v4) => ctx.update(&v4.octets()),
        IpAddr::V6(v6) => ctx.update(&v6.octets()),
    }
    let tag = ctx.sign();
    let mut out = [0u8; NONCE_MAC_LEN];
    out.copy_from_slice(&tag.as_ref()[..NONCE_MAC_LEN]);
    out
}

/// A token bucket over bytes: an allocation's relay rate one way.
#[derive(Debug)]
pub(crate) struct ByteBucket {
    tokens: f64,
    last: tokio::time::Instant,
    rate: f64,
    burst: f64,
}

impl ByteBucket {
    pub(crate) fn new(b: Bandwidth) -> Self {
        ByteBucket {
            tokens: f64::from(b.burst),
            last: tokio::time::Instant::now(),
            rate: f64::from(b.bytes_per_sec),
            burst: f64::from(b.burst),
        }
    }

    /// Takes `n` bytes' worth if there is that much; false: the datagram is over the rate.
    pub(crate) fn take(&mut self, n: usize) -> bool {
        let now = tokio::time::Instant::now();
        let dt = now.duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + dt * self.rate).min(self.burst);
        if self.tokens >= n as f64 {
            self.tokens -= n as f64;
            true
        } else {
            false
        }
    }
}

/// An allocation's two rates: client to peers, peers to client.
#[derive(Debug)]
pub(crate) struct RateLimits {
    pub(crate) to_peers: util::sync::Mutex<ByteBucket>,
    pub(crate) to_client: util::sync::Mutex<ByteBucket>,
}

impl RateLimits {
    pub(crate) fn new(b: Bandwidth) -> Self {
        RateLimits {
            to_peers: util::sync::Mutex::new(ByteBucket::new(b)),
            to_client: util::sync::Mutex::new(ByteBucket::new(b)),
        }
    }
}

/// A way through an allocation.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Way {
    ToPeers,
    ToClient,
}

/// Whether `limits` (if any) let `n` more bytes go `way`.
pub(crate) fn within(limits: &Option<Arc<RateLimits>>, way: Way, n: usize) -> bool {
    limits.as_ref().is_none_or(|l| match way {
        Way::ToPeers => l.to_peers.lock().take(n),
        Way::ToClient => l.to_client.lock().take(n),
    })
}
