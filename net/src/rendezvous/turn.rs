//! The rendezvous's STUN and TURN servers (webrtc-rs's `turn` crate, vendored with defences:
//! vendor/turn/PATCHED.md) and their credentials.
//!
//! Owns the TURN REST credential scheme — username `"<expiry>:<room>"`, password
//! `base64(HMAC-SHA1(secret, username))` — the secret's file in the data dir, which peers the
//! relay may reach, and the servers' life. A TURN server answers STUN Binding requests too; when
//! `stun_port` differs from `turn_port` a second server on it answers Binding requests and
//! nothing else: a plain STUN server. With the built-in TURN off
//! (`ServeConfig::builtin_turn`, the operator's relaying all external: [`super::turn_rest`])
//! the TURN port answers Binding requests only as well.
//!
//! A TURN server on the open Internet is a relay that anyone holding credentials can point at
//! any address, and a UDP responder anyone can point at anyone. Its defences, and why:
//! - **Peers** ([`PeerPolicy`]): a client may relay to public unicast addresses only. Loopback,
//!   private (10/8, 172.16/12, 192.168/16), link-local, CGNAT (100.64/10), multicast,
//!   unspecified, broadcast, 0/8, 240/4, benchmarking, 192.0.0/24, documentation, IPv6 ULA,
//!   link- and site-local, `::/96`, and the IPv6 forms that carry a refused IPv4 address
//!   (mapped, NAT64, 6to4, Teredo) are refused: through the relay they would reach the
//!   service's own machine and network (a cloud metadata endpoint at 169.254.169.254, a
//!   database on 10.x, a daemon bound to 127.0.0.1) from inside. An operator who needs a range
//!   (a LAN deployment, a test lab) allows it (`ServeConfig::turn_allow_peers`). The service's
//!   own TURN and STUN ports are refused on its own addresses and on loopback (and on every
//!   allowed address when it listens on all of them), so the relay cannot loop into itself.
//!   A CreatePermission or ChannelBind for a refused peer gets 403 and adds nothing, even when
//!   only one of its addresses is refused; a Send indication to one is dropped.
//! - **Credentials live with their room** ([`LiveRooms`]): a username is good only while its
//!   room is open. When the room ends its allocations are deleted and its username gets 401,
//!   however far off its expiry is, so a leaked credential dies with its game.
//! - **Quotas** ([`TurnLimits`]): allocations in all (every room full, a host and its
//!   joiners each: `max_rooms × (joiners_per_room + 1)`) and per room's username (twice a full
//!   room: the host makes one per joiner's link, and links are remade); more get 486
//!   (Allocation Quota Reached).
//! - **Bandwidth**: each allocation relays at most [`Limits::turn_bytes_per_sec`] each way,
//!   with bursts of [`Limits::turn_burst_bytes`] (a DOOM game is ~10 kB/s a player), so one
//!   credential is not a flood cannon.
//! - **Nothing kept for strangers**: nonces are stateless (their time and a MAC of it and the
//!   client's address), so unauthenticated requests leave no state; the crate as published
//!   kept every nonce it handed out, for ever. A 401 is 60 bytes for a 20-byte Allocate (3×:
//!   a realm and a 16-character nonce, 3.8× with the published 32), a Binding answer 40, and
//!   the STUN-only port answers nothing but Binding requests, so neither port is much of an
//!   amplifier.
//! - **Quiet logs**: what any datagram can cause (a failed request, a packet at a relay port
//!   without a permission) logs at debug or trace, not error or info.
//!
//! Each defence has a test that attacks it, on 127.0.0.1: `net/tests/turn_attacks.rs`.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tokio::net::UdpSocket;
use turn::auth::{generate_auth_key, AuthHandler};
use turn::relay::relay_static::RelayAddressGeneratorStatic;
use turn::server::config::{ConnConfig, ServerConfig};
use turn::server::{Bandwidth, Protection, Server};
use webrtc_util::vnet::net::Net;

use super::rooms::Limits;

/// The realm TURN clients authenticate in.
pub const REALM: &str = "doomlink";
/// The file in the data dir holding the TURN secret.
pub const SECRET_FILE: &str = "turn-secret";

/// The TURN REST password for `username`.
pub fn turn_password(secret: &[u8], username: &str) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(username.as_bytes());
    STANDARD.encode(mac.finalize().into_bytes())
}

/// The TURN REST username for a room.
pub fn turn_username(room: &str, expires: u64) -> String {
    format!("{expires}:{room}")
}

pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// A range of IP addresses, `ADDRESS/PREFIX` (`10.0.0.0/8`, `fd00::/8`; a bare address is
/// itself alone): what [`PeerPolicy`] allows beyond the public Internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IpNet {
    addr: IpAddr,
    prefix: u8,
}

/// Why a string is not an [`IpNet`]; its message names the string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct IpNetError(String);

impl IpNet {
    /// `addr/prefix`; an error if the prefix is too long or `addr` has bits set past it.
    pub fn new(addr: IpAddr, prefix: u8) -> Result<IpNet, IpNetError> {
        let (bits, width) = bits_of(addr);
        if prefix > width {
            return Err(IpNetError(format!(
                "{addr}/{prefix}: an {} prefix is at most /{width}",
                if addr.is_ipv4() { "IPv4" } else { "IPv6" }
            )));
        }
        let net = IpNet { addr, prefix };
        if bits != net.network_bits() {
            let first = match addr {
                IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::from(net.network_bits() as u32)),
                IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::from(net.network_bits())),
            };
            return Err(IpNetError(format!(
                "{addr}/{prefix} has bits set past its prefix (the range is {first}/{prefix})"
            )));
        }
        Ok(net)
    }

    /// Whether `ip` is in the range (an IPv4 range holds no IPv6 address, nor the reverse).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let (bits, width) = bits_of(ip);
        width == bits_of(self.addr).1 && self.masked(bits) == self.network_bits()
    }

    fn network_bits(&self) -> u128 {
        self.masked(bits_of(self.addr).0)
    }

    fn masked(&self, bits: u128) -> u128 {
        let width = bits_of(self.addr).1;
        match width - self.prefix {
            128 => 0,
            host => bits >> host << host,
        }
    }
}

fn bits_of(ip: IpAddr) -> (u128, u8) {
    match ip {
        IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
        IpAddr::V6(v6) => (u128::from(v6), 128),
    }
}

impl std::str::FromStr for IpNet {
    type Err = IpNetError;
    fn from_str(s: &str) -> Result<IpNet, IpNetError> {
        let bad = || {
            IpNetError(format!(
                "{s:?} is not an IP address or ADDRESS/PREFIX range"
            ))
        };
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s.trim(), None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| bad())?;
        let prefix = match prefix {
            Some(p) => p.parse::<u8>().map_err(|_| bad())?,
            None => bits_of(addr).1,
        };
        IpNet::new(addr, prefix)
    }
}

impl std::fmt::Display for IpNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.prefix)
    }
}

/// IPv4 ranges no relay goes to unless allowed: this host, private networks, shared and
/// special-purpose space (RFC 6890), documentation, benchmarking, multicast and reserved.
const REFUSED_V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network", the unspecified address
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata services)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // documentation
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // documentation
    ([203, 0, 113, 0], 24),  // documentation
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, and the broadcast address
];

/// IPv6 ranges refused unless allowed (besides those that carry a refused IPv4 address).
const REFUSED_V6: &[(Ipv6Addr, u8)] = &[
    (Ipv6Addr::UNSPECIFIED, 96), // ::, ::1, IPv4-compatible
    (Ipv6Addr::new(0x64, 0xff9b, 1, 0, 0, 0, 0, 0), 48), // local-use NAT64
    (Ipv6Addr::new(0x100, 0, 0, 0, 0, 0, 0, 0), 64), // discard-only
    (Ipv6Addr::new(0x2001, 2, 0, 0, 0, 0, 0, 0), 48), // benchmarking
    (Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0), 32), // documentation
    (Ipv6Addr::new(0x3fff, 0, 0, 0, 0, 0, 0, 0), 20), // documentation
    (Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7), // unique local
    (Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 0), 10), // link-local
    (Ipv6Addr::new(0xfec0, 0, 0, 0, 0, 0, 0, 0), 10), // site-local
    (Ipv6Addr::new(0xff00, 0, 0, 0, 0, 0, 0, 0), 8), // multicast
];

/// The IPv4 address an IPv6 address stands for, if it is one of the forms that carry one:
/// IPv4-mapped (`::ffff:a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`), 6to4 (`2002:aabb:ccdd::`),
/// Teredo (`2001:0:…`, the client's address inverted in the last 32 bits).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let low = |hi: u16, lo: u16| Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo));
    if let Some(v4) = ip.to_ipv4_mapped() {
        Some(v4)
    } else if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        Some(low(s[6], s[7]))
    } else if s[0] == 0x2002 {
        Some(low(s[1], s[2]))
    } else if s[..2] == [0x2001, 0] {
        Some(low(!s[6], !s[7]))
    } else {
        None
    }
}

/// Whether the relay refuses `ip` unless the operator allows it. See the module docs.
pub fn refused_by_default(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => REFUSED_V4.iter().any(|&(net, prefix)| {
            IpNet {
                addr: net.into(),
                prefix,
            }
            .contains(v4.into())
        }),
        IpAddr::V6(v6) => {
            embedded_v4(v6).is_some_and(|v4| refused_by_default(v4.into()))
                || REFUSED_V6.iter().any(|&(net, prefix)| {
                    IpNet {
                        addr: net.into(),
                        prefix,
                    }
                    .contains(v6.into())
                })
        }
    }
}

/// An IPv4-mapped IPv6 address as the IPv4 address it is.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Which peers the TURN relay may reach. See the module docs.
#[derive(Debug, Clone)]
pub struct PeerPolicy {
    allow: Vec<IpNet>,
    own_ips: Vec<IpAddr>,
    own_ports: Vec<u16>,
    listens_everywhere: bool,
}

impl PeerPolicy {
    /// Public addresses and those in `allow`, except the service's own `ports` (TURN, STUN)
    /// on `own_ips`, on loopback, and — if `listens_everywhere` — on every allowed address.
    pub fn new(
        allow: Vec<IpNet>,
        own_ips: Vec<IpAddr>,
        own_ports: Vec<u16>,
        listens_everywhere: bool,
    ) -> Self {
        PeerPolicy {
            allow,
            own_ips: own_ips.into_iter().map(canonical).collect(),
            own_ports,
            listens_everywhere,
        }
    }

    /// Whether a client may relay to `peer`.
    pub fn allows(&self, peer: SocketAddr) -> bool {
        let ip = canonical(peer.ip());
        let allowed = self
            .allow
            .iter()
            .any(|n| n.contains(ip) || n.contains(peer.ip()));
        let own_port = self.own_ports.contains(&peer.port());
        if own_port
            && (ip.is_loopback()
                || ip.is_unspecified()
                || self.own_ips.contains(&ip)
                || (self.listens_everywhere && allowed))
        {
            return false;
        }
        allowed || !refused_by_default(peer.ip())
    }
}

/// Every open room's TURN username, by room: credentials are good only while their room is
/// open (the service adds a room's username when it makes the room and takes it away when the
/// room ends).
#[derive(Debug, Clone, Default)]
pub struct LiveRooms(Arc<Mutex<HashMap<String, String>>>);

impl LiveRooms {
    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// `room` is open, with TURN `username`.
    pub fn open(&self, room: &str, username: String) {
        self.map().insert(room.to_owned(), username);
    }

    /// `room` ended: its username, to delete its allocations by.
    pub fn close(&self, room: &str) -> Option<String> {
        self.map().remove(room)
    }

    /// Whether `username` is the TURN username of open `room`.
    pub fn is_live(&self, room: &str, username: &str) -> bool {
        self.map().get(room).is_some_and(|u| u == username)
    }
}

/// The TURN server's quotas and relay rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TurnLimits {
    /// Allocations at once, in all.
    pub max_allocations: usize,
    /// Allocations at once under one room's credentials.
    pub allocations_per_room: usize,
    /// Each allocation's relay rate each way, and its burst.
    pub bytes_per_sec: u32,
    pub burst_bytes: u32,
}

impl From<&Limits> for TurnLimits {
    /// Every room full (a host and its joiners, an allocation each), and a room's credentials
    /// twice a full room: a host behind a NAT that needs TURN makes one per joiner's link, and
    /// a link that is remade makes new ones while the old ones time out.
    fn from(l: &Limits) -> Self {
        let full_room = l.joiners_per_room.saturating_add(1);
        TurnLimits {
            max_allocations: l.max_rooms.saturating_mul(full_room),
            allocations_per_room: full_room.saturating_mul(2),
            bytes_per_sec: l.turn_bytes_per_sec,
            burst_bytes: l.turn_burst_bytes,
        }
    }
}

/// Checks TURN REST credentials: a well-formed, unexpired username of an open room (signed
/// with our secret: the key returned is made from the password that signature is).
struct RestAuth {
    secret: Vec<u8>,
    live: LiveRooms,
}

impl AuthHandler for RestAuth {
    fn auth_handle(
        &self,
        username: &str,
        realm: &str,
        src_addr: SocketAddr,
    ) -> Result<Vec<u8>, turn::Error> {
        let bad = |why: &str| {
            tracing::debug!(%src_addr, username, why, "TURN credentials refused");
            turn::Error::Other(why.to_owned())
        };
        let (expiry, room) = username
            .split_once(':')
            .ok_or_else(|| bad("username is not expiry:room"))?;
        let expiry: u64 = expiry.parse().map_err(|_| bad("expiry is not a number"))?;
        if !crate::signaling::invite::valid_room(room) {
            return Err(bad("bad room id"));
        }
        if expiry <= unix_now() {
            return Err(bad("expired"));
        }
        if !self.live.is_live(room, username) {
            return Err(bad("no such open room"));
        }
        let password = turn_password(&self.secret, username);
        Ok(generate_auth_key(username, realm, &password))
    }
}

/// A STUN-only server's (the separate STUN port, and the TURN port with the built-in TURN
/// off): no allocation for anyone (it ignores every request but Binding before asking).
struct NoAuth;

impl AuthHandler for NoAuth {
    fn auth_handle(&self, _: &str, _: &str, _: SocketAddr) -> Result<Vec<u8>, turn::Error> {
        Err(turn::Error::Other("this port serves STUN only".into()))
    }
}

/// Loads the TURN secret from the data dir, or makes one (32 random bytes, owner-only).
pub fn load_or_create_secret(data_dir: &Path) -> std::io::Result<Vec<u8>> {
    let path = data_dir.join(SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => match URL_SAFE_NO_PAD.decode(s.trim()) {
            Ok(v) if v.len() >= 16 => Ok(v),
            _ => Err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!(
                    "{} is not a TURN secret; move it away to make a new one",
                    path.display()
                ),
            )),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let secret: [u8; 32] = rand::random();
            std::fs::create_dir_all(data_dir)?;
            match crate::files::create_private(&path, URL_SAFE_NO_PAD.encode(secret).as_bytes()) {
                Ok(()) => Ok(secret.to_vec()),
                // Another process made one first: theirs is the secret.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    load_or_create_secret(data_dir)
                }
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// The running STUN/TURN servers.
pub struct Relays {
    turn: Server,
    stun: Option<Server>,
    pub turn_addr: SocketAddr,
    pub stun_addr: SocketAddr,
}

/// What [`Relays::start`] needs.
#[derive(Debug, Clone)]
pub struct RelaySetup {
    /// Where the servers listen: `bind_ip:turn_port`, and `bind_ip:stun_port` if different
    /// (port 0 picks one).
    pub bind_ip: IpAddr,
    pub turn_port: u16,
    pub stun_port: u16,
    /// The address allocations are advertised at.
    pub relay_ip: IpAddr,
    /// Where relay sockets are opened.
    pub relay_bind: IpAddr,
    pub secret: Vec<u8>,
    /// Whether the TURN port relays; false: it answers STUN Binding requests only (the
    /// operator's relaying is all external TURN).
    pub relays: bool,
    /// Peer ranges allowed beyond the public Internet ([`PeerPolicy`]).
    pub allow_peers: Vec<IpNet>,
    pub limits: TurnLimits,
    /// The open rooms, whose credentials alone are good.
    pub live: LiveRooms,
}

impl Relays {
    /// Binds the servers' sockets and starts them with every defence of the module docs.
    pub async fn start(setup: RelaySetup) -> std::io::Result<Relays> {
        let RelaySetup {
            bind_ip,
            turn_port,
            stun_port,
            relay_ip,
            relay_bind,
            secret,
            relays,
            allow_peers,
            limits,
            live,
        } = setup;
        let turn_sock = Arc::new(UdpSocket::bind(SocketAddr::new(bind_ip, turn_port)).await?);
        let turn_addr = turn_sock.local_addr()?;
        let stun_sock = if stun_port == turn_port && turn_port != 0 {
            None
        } else {
            Some(Arc::new(
                UdpSocket::bind(SocketAddr::new(bind_ip, stun_port)).await?,
            ))
        };
        let stun_addr = match &stun_sock {
            Some(s) => s.local_addr()?,
            None => turn_addr,
        };
        let policy = PeerPolicy::new(
            allow_peers,
            vec![relay_ip, relay_bind, bind_ip],
            vec![turn_addr.port(), stun_addr.port()],
            bind_ip.is_unspecified(),
        );
        let conn = |conn: Arc<UdpSocket>| ConnConfig {
            conn,
            relay_addr_generator: Box::new(RelayAddressGeneratorStatic {
                relay_address: relay_ip,
                address: relay_bind.to_string(),
                net: Arc::new(Net::new(None)),
            }),
        };
        let io = |e: turn::Error| std::io::Error::other(e.to_string());
        let auth: Arc<dyn AuthHandler + Send + Sync> = if relays {
            Arc::new(RestAuth { secret, live })
        } else {
            Arc::new(NoAuth)
        };
        let turn = Server::with_protection(
            ServerConfig {
                conn_configs: vec![conn(turn_sock)],
                realm: REALM.to_owned(),
                auth_handler: auth,
                channel_bind_timeout: std::time::Duration::ZERO,
                alloc_close_notify: None,
            },
            Protection {
                peer_filter: Some(Arc::new(move |peer| {
                    let ok = policy.allows(peer);
                    if !ok {
                        tracing::debug!(%peer, "TURN peer refused");
                    }
                    ok
                })),
                stateless_nonces: true,
                unauthorized_for_bad_credentials: true,
                max_allocations: Some(limits.max_allocations),
                max_allocations_per_username: Some(limits.allocations_per_room),
                bandwidth: Some(Bandwidth {
                    bytes_per_sec: limits.bytes_per_sec,
                    burst: limits.burst_bytes,
                }),
                stun_only: !relays,
            },
        )
        .await
        .map_err(io)?;
        let stun = match stun_sock {
            None => None,
            Some(sock) => Some(
                Server::with_protection(
                    ServerConfig {
                        conn_configs: vec![conn(sock)],
                        realm: REALM.to_owned(),
                        auth_handler: Arc::new(NoAuth),
                        channel_bind_timeout: std::time::Duration::ZERO,
                        alloc_close_notify: None,
                    },
                    Protection {
                        stun_only: true,
                        ..Protection::default()
                    },
                )
                .await
                .map_err(io)?,
            ),
        };
        Ok(Relays {
            turn,
            stun,
            turn_addr,
            stun_addr,
        })
    }

    /// Drops a room's allocations (its relayed game traffic stops).
    pub async fn end_room(&self, username: String) {
        if let Err(e) = self.turn.delete_allocations_by_username(username).await {
            tracing::debug!("deleting allocations: {e}");
        }
    }

    pub async fn close(&self) {
        let _ = self.turn.close().await;
        if let Some(s) = &self.stun {
            let _ = s.close().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rest_credentials_check_signature_expiry_and_the_room() {
        let live = LiveRooms::default();
        let auth = RestAuth {
            secret: b"topsecret".to_vec(),
            live: live.clone(),
        };
        let src: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let user = turn_username("abcd1234", unix_now() + 60);
        assert!(auth.auth_handle(&user, REALM, src).is_err(), "no such room");
        live.open("abcd1234", user.clone());
        let key = auth.auth_handle(&user, REALM, src).unwrap();
        assert_eq!(
            key,
            generate_auth_key(&user, REALM, &turn_password(b"topsecret", &user))
        );
        // Another expiry for the same room is not the username the room was given.
        let other = turn_username("abcd1234", unix_now() + 120);
        assert!(auth.auth_handle(&other, REALM, src).is_err());
        assert!(auth
            .auth_handle(&turn_username("abcd1234", 5), REALM, src)
            .is_err());
        assert!(auth.auth_handle("nonsense", REALM, src).is_err());
        assert_eq!(live.close("abcd1234"), Some(user.clone()));
        assert!(
            auth.auth_handle(&user, REALM, src).is_err(),
            "the room ended"
        );
        // RFC 2104 test vector shape: HMAC-SHA1 is 20 bytes, 28 chars of base64.
        assert_eq!(turn_password(b"k", "u").len(), 28);
    }

    #[test]
    fn ip_nets_parse_and_contain() {
        let net: IpNet = "10.0.0.0/8".parse().unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::ffff:10.0.0.1".parse().unwrap()));
        assert_eq!(net.to_string(), "10.0.0.0/8");
        let one: IpNet = "192.0.2.7".parse().unwrap();
        assert_eq!(one.to_string(), "192.0.2.7/32");
        assert!(one.contains("192.0.2.7".parse().unwrap()));
        assert!(!one.contains("192.0.2.8".parse().unwrap()));
        let all: IpNet = "::/0".parse().unwrap();
        assert!(all.contains("2001:db8::1".parse().unwrap()));
        assert!(!all.contains("1.2.3.4".parse().unwrap()));
        let v6: IpNet = "fd00::/8".parse().unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        for (bad, says) in [
            ("10.0.0.1/8", "the range is 10.0.0.0/8"),
            ("10.0.0.0/33", "at most /32"),
            ("fd00::/129", "at most /128"),
            ("ten/8", "not an IP address"),
            ("10.0.0.0/x", "not an IP address"),
            ("", "not an IP address"),
        ] {
            let e = bad.parse::<IpNet>().unwrap_err().to_string();
            assert!(e.contains(says), "{bad}: {e}");
        }
    }

    #[test]
    fn internal_and_special_addresses_are_refused_by_default() {
        for ip in [
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "240.0.0.1",
            "198.18.0.1",
            "198.19.255.255",
            "192.0.0.9",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "::",
            "::1",
            "::127.0.0.1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "64:ff9b:1::1",
            "2002:0a00:0001::1",
            "2002:7f00:0001::1",
            "2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo for 127.0.0.1
            "2001:db8::1",
            "3fff::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "2001:2::1",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(refused_by_default(ip), "{ip} should be refused");
        }
        for ip in [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2002:0808:0808::1",
            "2606:4700::1111",
        ] {
            let ip: IpAddr = ip.parse().unwrap();
            assert!(!refused_by_default(ip), "{ip} should be allowed");
        }
    }

    #[test]
    fn the_policy_allows_ranges_but_never_the_services_own_ports() {
        // A public address (a pure function: nothing is sent anywhere).
        let relay: IpAddr = "5.6.7.8".parse().unwrap();
        let policy = PeerPolicy::new(
            vec![
                "10.0.0.0/8".parse().unwrap(),
                "127.0.0.0/8".parse().unwrap(),
            ],
            vec![relay],
            vec![3478, 3479],
            false,
        );
        let allows = |s: &str| policy.allows(s.parse().unwrap());
        assert!(allows("8.8.8.8:3478"), "another server's STUN port");
        assert!(allows("10.1.2.3:5000"));
        assert!(allows("[::ffff:10.1.2.3]:5000"));
        assert!(allows("127.0.0.1:5000"));
        assert!(!allows("192.168.1.1:5000"));
        assert!(allows("5.6.7.8:40000"), "an allocation's relay port");
        assert!(!allows("5.6.7.8:3478"));
        assert!(!allows("5.6.7.8:3479"));
        assert!(!allows("[::ffff:5.6.7.8]:3478"));
        assert!(!allows("127.0.0.1:3478"), "loopback reaches the service");
        assert!(
            allows("10.1.2.3:3478"),
            "not the service's address when it listens on one"
        );
        let everywhere = PeerPolicy::new(
            vec!["10.0.0.0/8".parse().unwrap()],
            vec![relay],
            vec![3478],
            true,
        );
        assert!(!everywhere.allows("10.1.2.3:3478".parse().unwrap()));
        assert!(everywhere.allows("10.1.2.3:3479".parse().unwrap()));
    }

    #[test]
    fn turn_limits_follow_the_room_limits() {
        let l = Limits::default();
        let t = TurnLimits::from(&l);
        assert_eq!(t.max_allocations, l.max_rooms * (l.joiners_per_room + 1));
        assert_eq!(t.allocations_per_room, 2 * (l.joiners_per_room + 1));
        assert!(t.bytes_per_sec >= 100_000, "ten players' worth at least");
    }
}
