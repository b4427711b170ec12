//! A room's LAN port ([`LanRoom`]): a `LanBridge` on one real UDP port, its players counted by
//! their datagrams, a full room's joiners turned away with Chocolate Doom's own reject.

use crate::config::RoomSpec;
use crate::{lock, GUEST_PORT};
use doomlink_net::chocolate;
use doomlink_net::lan::nat::NatConfig;
use doomlink_net::lan::side::{SideConfig, SideRole};
use doomlink_net::lan::{GuestSink, LanBridge, LanConfig};
use doomlink_net::relay::bucket::TokenBucket;
use doomlink_net::relay::subnet::Subnet;
use doomlink_net::webrtc::node::WebRtcNode;
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The addresses a room's guest sees its LAN players at (the bridge's NAT hands them out). The
/// session's virtual network is another /24 (10.77.0.0/24 by default), whose hub gives client
/// addresses over its whole range, so the two are kept apart by network, not by host number;
/// [`LanRoom::open`] refuses a session subnet that overlaps this one.
pub static LAN_SUBNET: std::sync::LazyLock<Subnet> = std::sync::LazyLock::new(|| {
    Subnet::new(Ipv4Addr::new(10, 78, 0, 0), 24).expect("10.78.0.0/24 is a subnet")
});

/// A LAN player counts as in the room while heard from within this long (Chocolate Doom's
/// clients send at least a keepalive a second, in the lobby and in the game).
pub const LAN_LIVE: Duration = Duration::from_secs(5);
/// A new LAN peer counts against the room's limit this long before the guest has answered it
/// (its SYN is on its way through the guest), so two joiners at once cannot overfill the room.
/// After that, one the guest never answers (junk) takes no place.
pub const LAN_PENDING: Duration = Duration::from_secs(3);
/// LAN peers a room keeps track of at most; a peer unheard for [`LAN_FORGET`] is forgotten.
pub(crate) const LAN_PEERS_MAX: usize = 256;
pub(crate) const LAN_FORGET: Duration = Duration::from_secs(60);

/// True if the two subnets share an address.
pub(crate) fn overlaps(a: &Subnet, b: &Subnet) -> bool {
    let len = a.prefix_len().min(b.prefix_len());
    let mask = u32::MAX << (32 - u32::from(len));
    u32::from(a.network()) & mask == u32::from(b.network()) & mask
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct LanPeerSeen {
    first: Instant,
    last_in: Instant,
    /// The guest's last datagram to it.
    last_out: Option<Instant>,
}

impl LanPeerSeen {
    fn counts(&self, now: Instant) -> bool {
        now.duration_since(self.last_in) < LAN_LIVE
            && (self
                .last_out
                .is_some_and(|t| now.duration_since(t) < LAN_LIVE)
                || now.duration_since(self.first) < LAN_PENDING)
    }
}

/// A room's LAN port: the bridge, the room's LAN players, and the way in to the guest (the
/// bridge delivers here; this admits or refuses the sender, then hands it to the room's
/// [`SettingsGuard`] for the guest's port).
pub(crate) struct LanRoom {
    port: u16,
    players_max: usize,
    bridge: Mutex<Option<LanBridge>>,
    /// The room's hub, for its players (set once it exists).
    pub(crate) hub: std::sync::OnceLock<WebRtcNode>,
    guard: Arc<dyn GuestSink>,
    /// By the virtual address the guest sees (one per real IP and port: the NAT keeps ports).
    pub(crate) peers: Mutex<HashMap<SocketAddrV4, LanPeerSeen>>,
    /// False once the room drains or closes: no new LAN players.
    pub(crate) accepting: AtomicBool,
    /// The service's count of players turned away, which this room adds to.
    refused_total: Arc<AtomicU64>,
    pub(crate) dgrams_in: AtomicU64,
    pub(crate) bytes_in: AtomicU64,
    pub(crate) dgrams_out: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    /// Datagrams from peers the room did not take (full, closing, too many peers).
    pub(crate) refused: AtomicU64,
    /// Players, RTTs and drops as [`LanRoom::pump`] last published them (see
    /// [`LanFigures`]).
    published: Mutex<LanFigures>,
    /// QUERYs the guest may still answer now ([`QUERY_BURST`], [`QUERIES_PER_SEC`]).
    queries: Mutex<TokenBucket>,
    /// The room's files for LAN joiners who lack them (TCP on the same port number).
    files: Mutex<Option<doomlink_net::lan::files::FileServer>>,
}

/// QUERYs (server browsers) a room's guest answers at once, and then per second.
pub(crate) const QUERY_BURST: f64 = 8.0;
pub(crate) const QUERIES_PER_SEC: f64 = 4.0;

/// A LAN room's figures for readers that must not take the locks its datagrams take (the
/// service's metrics): published by the guest's thread while it pumps the port, at most every
/// [`doomlink_net::webrtc::node::PUBLISH_EVERY`].
#[derive(Debug, Clone, Default)]
pub(crate) struct LanFigures {
    at: Option<Instant>,
    pub(crate) players: usize,
    pub(crate) rtts: Vec<f64>,
    pub(crate) drops: u64,
}

impl LanRoom {
    pub(crate) fn open(
        port: u16,
        bind_ip: Ipv4Addr,
        spec: &RoomSpec,
        session: &Subnet,
        guard: Arc<dyn GuestSink>,
        refused_total: Arc<AtomicU64>,
    ) -> anyhow::Result<Arc<LanRoom>> {
        anyhow::ensure!(
            !overlaps(session, &LAN_SUBNET),
            "the session's network {session} overlaps the LAN players' {}",
            *LAN_SUBNET
        );
        let lan = Arc::new(LanRoom {
            port,
            players_max: spec.players() as usize,
            bridge: Mutex::new(None),
            hub: std::sync::OnceLock::new(),
            guard,
            peers: Mutex::new(HashMap::new()),
            accepting: AtomicBool::new(true),
            refused_total,
            dgrams_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            dgrams_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            published: Mutex::default(),
            queries: Mutex::new(TokenBucket::new(
                QUERIES_PER_SEC,
                QUERY_BURST,
                Instant::now(),
            )),
            files: Mutex::new(None),
        });
        let cfg = LanConfig {
            bind_ip,
            // Never used: the room sends only to players' own addresses, no broadcast.
            broadcast_ip: Ipv4Addr::LOCALHOST,
            // Every port below keeps its number: the room's one port is `lan_port` itself.
            fixed_port_below: u16::MAX,
            nat: NatConfig {
                subnet: *LAN_SUBNET,
                hosts: 1..=254,
                idle_timeout: LAN_FORGET,
                // New sources at the NAT's default rate (16 at once, then 4 a second).
                ..NatConfig::default()
            },
            // Pings doomlink joiners (RTTs for the metrics, their lobby's ping); relays chat
            // among the LAN players as `host --lan` does.
            side: Some(SideConfig::new(&spec.name, SideRole::Host)),
        };
        let bridge = LanBridge::new(cfg, lan.clone())?;
        // A native Chocolate Doom joiner cannot fetch the room's files: one whose WADs differ
        // from the game's (its controller's, which Chocolate Doom compares them with) is told
        // which files the room plays.
        bridge.name_files_to_native_clients(&doomlink_play::lanfiles::game_file_names(
            &spec.iwad,
            &spec.files,
        ));
        // The bridge knows ports by the guest's number; the room's is keyed by the real one
        // (so that rooms do not all want 2342) and the guest's 2342 is put in on delivery.
        // Pumped: the room's guest thread reads the port while it waits (RoomIo's wait_fd), so
        // a player's datagram wakes one thread, not a receive thread and then the guest.
        let real = bridge.open_port_pumped(port)?;
        anyhow::ensure!(real == port, "bound {real} instead");
        *lock(&lan.bridge) = Some(bridge);
        Ok(lan)
    }

    /// The port's socket, for the guest's waits (None once closed).
    pub(crate) fn wait_fd(&self) -> Option<std::os::fd::RawFd> {
        lock(&self.bridge).as_ref()?.port_fd(self.port)
    }

    /// Reads what waits on the port (from the guest's thread, see [`LanRoom::wait_fd`]), and
    /// publishes the room's figures when they are due.
    pub(crate) fn pump(&self) {
        let bridge = lock(&self.bridge).clone();
        if let Some(b) = bridge {
            b.pump(self.port);
        }
        let now = Instant::now();
        let due = lock(&self.published).at.is_none_or(|at| {
            now.saturating_duration_since(at) >= doomlink_net::webrtc::node::PUBLISH_EVERY
        });
        if due {
            let figures = LanFigures {
                at: Some(now),
                players: self.players(),
                rtts: self.rtts(),
                drops: self.drops(),
            };
            *lock(&self.published) = figures;
        }
    }

    /// The figures [`LanRoom::pump`] last published.
    pub(crate) fn published(&self) -> LanFigures {
        lock(&self.published).clone()
    }

    /// LAN players in the room now.
    pub(crate) fn players(&self) -> usize {
        let now = Instant::now();
        lock(&self.peers).values().filter(|p| p.counts(now)).count()
    }

    /// The guest's datagram to the LAN player at `dst`.
    pub(crate) fn send(
        &self,
        dst: SocketAddrV4,
        data: &[u8],
    ) -> Result<(), doomlink_kernel::Errno> {
        let Some(bridge) = lock(&self.bridge).clone() else {
            return Err(doomlink_kernel::Errno::NetUnreach);
        };
        // Like a real network: an unreachable host is the sender's error, nothing more.
        bridge
            .send(self.port, dst, data)
            .map_err(|_| doomlink_kernel::Errno::NetUnreach)?;
        if let Some(p) = lock(&self.peers).get_mut(&dst) {
            p.last_out = Some(Instant::now());
        }
        self.dgrams_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Smoothed RTTs (seconds) of the doomlink LAN players in the room (natives answer no ping).
    pub(crate) fn rtts(&self) -> Vec<f64> {
        let Some(bridge) = lock(&self.bridge).clone() else {
            return Vec::new();
        };
        let now = Instant::now();
        let peers = lock(&self.peers).clone();
        bridge
            .side_peers()
            .into_iter()
            .filter(|p| {
                p.guest_addr.is_some_and(|ip| {
                    peers
                        .get(&SocketAddrV4::new(ip, p.side.addr.port()))
                        .is_some_and(|s| s.counts(now))
                })
            })
            .filter_map(|p| p.side.rtt.map(|d| d.as_secs_f64()))
            .collect()
    }

    /// Datagrams the bridge could not route or send.
    pub(crate) fn drops(&self) -> u64 {
        lock(&self.bridge).as_ref().map_or(0, |b| {
            b.stats().dropped_unroutable.load(Ordering::Relaxed)
                + b.stats().send_errors.load(Ordering::Relaxed)
        })
    }

    /// Closes the port (the room is closing). Its LAN players are told as a native server's
    /// shutdown tells them (NET_SV_Shutdown): a DISCONNECT each.
    /// Serves the room's files to LAN joiners (`list` as the session offers them, read from
    /// `files`) on TCP at the room's port, until the room closes. Without it (the TCP port
    /// taken), LAN joiners need the files already.
    pub(crate) fn serve_files(
        &self,
        bind_ip: Ipv4Addr,
        list: Vec<doomlink_net::relay::wire::WadEntry>,
        files: doomlink_play::wadshare::HostFiles,
    ) {
        let at = std::net::SocketAddr::from((bind_ip, self.port));
        match doomlink_net::lan::files::FileServer::start(at, list, Arc::new(files)) {
            Ok(server) => *lock(&self.files) = Some(server),
            Err(e) => tracing::warn!(port = self.port, "the room's files on TCP: {e}"),
        }
    }

    pub(crate) fn close(&self) {
        self.accepting.store(false, Ordering::Relaxed);
        lock(&self.files).take();
        let Some(b) = lock(&self.bridge).take() else {
            return;
        };
        let now = Instant::now();
        let players: Vec<SocketAddrV4> = lock(&self.peers)
            .iter()
            .filter(|(_, p)| p.counts(now))
            .map(|(a, _)| *a)
            .collect();
        for a in players {
            let _ = b.send(self.port, a, &chocolate::DISCONNECT);
        }
        b.close_port(self.port);
    }
}

impl GuestSink for LanRoom {
    fn deliver(&self, _dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        let now = Instant::now();
        // A server browser's QUERY is answered with the game's description, ~25 times its
        // size, to whatever address it claims: the room passes a few a second to the guest, so
        // a spoofed flood of them reflects a trickle, whatever its size.
        if chocolate::is_query(data) {
            if lock(&self.queries).take(now) {
                self.guard.deliver(GUEST_PORT, src, data);
            } else {
                self.refused.fetch_add(1, Ordering::Relaxed);
            }
            return;
        }
        // A player's datagrams: the fast path, every tic.
        let playing = match lock(&self.peers).get_mut(&src) {
            Some(p) if now.duration_since(p.last_in) < LAN_LIVE => {
                p.last_in = now;
                true
            }
            _ => false,
        };
        let refuse = if playing {
            None
        } else {
            // The room's players over WebRTC, joined or joining (as the hub's admission
            // counts): asked only for a newcomer, as it builds the hub's link reports.
            let hub_players = self.hub.get().map_or(0, |h| h.links().len());
            let mut peers = lock(&self.peers);
            let known = peers
                .get(&src)
                .is_some_and(|p| now.duration_since(p.last_in) < LAN_LIVE);
            if known {
                if let Some(p) = peers.get_mut(&src) {
                    p.last_in = now;
                }
                None
            } else if !self.accepting.load(Ordering::Relaxed) {
                Some("The room is closing.")
            } else if hub_players + peers.values().filter(|p| p.counts(now)).count()
                >= self.players_max
            {
                // Chocolate Doom's own words for it.
                Some("Server is full!")
            } else {
                peers.retain(|_, p| now.duration_since(p.last_in) < LAN_FORGET);
                if peers.len() >= LAN_PEERS_MAX {
                    Some("Server is busy.")
                } else {
                    peers.insert(
                        src,
                        LanPeerSeen {
                            first: now,
                            last_in: now,
                            last_out: None,
                        },
                    );
                    None
                }
            }
        };
        if let Some(reason) = refuse {
            self.refused.fetch_add(1, Ordering::Relaxed);
            // A joiner's SYN gets the server's reject (smaller than the SYN: no amplifier);
            // anything else is dropped.
            if chocolate::is_syn(data) {
                self.refused_total.fetch_add(1, Ordering::Relaxed);
                if let Some(b) = lock(&self.bridge).clone() {
                    let _ = b.send(self.port, src, &chocolate::reject(reason));
                }
            }
            return;
        }
        self.dgrams_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.guard.deliver(GUEST_PORT, src, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doomlink_net::chocolate::GameSettings;
    use std::path::PathBuf;

    /// A recording guest: what the LAN room hands on, by source.
    #[derive(Default)]
    struct Seen(Mutex<Vec<(u16, SocketAddrV4, Vec<u8>)>>);
    impl GuestSink for Seen {
        fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
            lock(&self.0).push((dst_port, src, data.to_vec()));
        }
    }

    fn room_of_two() -> RoomSpec {
        RoomSpec {
            name: "lan".into(),
            iwad: PathBuf::from("x.wad"),
            game: GameSettings {
                players: Some(2),
                ..GameSettings::default()
            },
            lan_port: None,
            files: Vec::new(),
        }
    }

    /// A LAN room of two places on a real port of 127.0.0.1: two joiners come in at the guest's
    /// 2342 from LAN addresses apart from the session's, a third hears "Server is full!" and
    /// never reaches the guest; closing tells the players (DISCONNECT) and frees the port.
    #[test]
    fn a_lan_room_takes_players_up_to_its_limit() {
        use std::net::UdpSocket;
        let spec = room_of_two();
        // Overlapping networks are refused.
        let seen = Arc::new(Seen::default());
        let port = {
            let p = UdpSocket::bind("127.0.0.1:0").unwrap();
            p.local_addr().unwrap().port()
        };
        let overlap = Subnet::new(Ipv4Addr::new(10, 78, 0, 0), 16).unwrap();
        assert!(LanRoom::open(
            port,
            Ipv4Addr::LOCALHOST,
            &spec,
            &overlap,
            seen.clone(),
            Arc::new(AtomicU64::new(0))
        )
        .is_err());
        let session = Subnet::default();
        let refused_total = Arc::new(AtomicU64::new(0));
        let lan = LanRoom::open(
            port,
            Ipv4Addr::LOCALHOST,
            &spec,
            &session,
            seen.clone(),
            refused_total.clone(),
        )
        .unwrap();
        // The room's guest thread reads the port while it waits (RoomIo's wait_fd); this
        // thread stands in for it.
        assert!(lan.wait_fd().is_some());
        let guest_stop = Arc::new(AtomicBool::new(false));
        let guest = {
            let (lan, stop) = (lan.clone(), guest_stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    lan.pump();
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        let joiner = || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        };
        let mut syn = vec![0u8, 0];
        syn.extend_from_slice(&1454104972u32.to_be_bytes());
        syn.extend_from_slice(b"connect data");
        assert!(chocolate::is_syn(&syn) && !chocolate::is_syn(&[0, 0, 1, 2, 3, 4, 5]));
        let wait_seen = |n: usize| {
            let t = Instant::now();
            while lock(&seen.0).len() < n {
                assert!(t.elapsed() < Duration::from_secs(5), "not delivered");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let (a, b, c) = (joiner(), joiner(), joiner());
        a.send_to(&syn, ("127.0.0.1", port)).unwrap();
        wait_seen(1);
        b.send_to(&syn, ("127.0.0.1", port)).unwrap();
        wait_seen(2);
        let got = lock(&seen.0).clone();
        for (dst, src, _) in &got {
            assert_eq!(*dst, GUEST_PORT);
            assert!(LAN_SUBNET.contains_host(*src.ip()), "{src}");
            assert!(!session.contains_host(*src.ip()), "{src}");
        }
        // The guest answers both: they are the room's players.
        for (_, src, _) in &got {
            lan.send(*src, b"\x00\x04wait").unwrap();
        }
        let mut buf = [0u8; 64];
        // The next datagram that is the game's (the room's side protocol pings the players).
        let recv = |s: &UdpSocket, buf: &mut [u8]| loop {
            let (n, _) = s.recv_from(buf).unwrap();
            if !doomlink_net::lan::side::is_side_frame(&buf[..n]) {
                break n;
            }
        };
        for s in [&a, &b] {
            let n = recv(s, &mut buf);
            assert_eq!(&buf[..n], b"\x00\x04wait");
        }
        assert_eq!(lan.players(), 2);
        // A server browser's QUERY reaches the guest and takes no place in the room.
        let browser = joiner();
        browser.send_to(&[0, 13], ("127.0.0.1", port)).unwrap();
        wait_seen(3);
        assert_eq!(lan.players(), 2);
        lock(&seen.0).pop();
        // The third is refused with Chocolate Doom's reject, and the guest never sees it.
        c.send_to(&syn, ("127.0.0.1", port)).unwrap();
        let n = recv(&c, &mut buf);
        assert_eq!(&buf[..n], b"\x00\x02Server is full!\x00");
        assert_eq!(lock(&seen.0).len(), 2);
        assert_eq!(lan.refused.load(Ordering::Relaxed), 1);
        // A refused joiner (its SYN) counts in the service's total.
        assert_eq!(refused_total.load(Ordering::Relaxed), 1);
        // Known players go on being delivered.
        a.send_to(b"\x00\x06tic", ("127.0.0.1", port)).unwrap();
        wait_seen(3);
        lan.close();
        assert!(lan.wait_fd().is_none());
        guest_stop.store(true, Ordering::Relaxed);
        guest.join().unwrap();
        for s in [&a, &b] {
            let n = recv(s, &mut buf);
            assert_eq!(&buf[..n], &chocolate::DISCONNECT);
        }
        UdpSocket::bind(("127.0.0.1", port)).expect("the port is free again");
    }

    /// SYNs and QUERYs from 400 source addresses at once (what spoofing makes of a flood): the
    /// guest hears from no more new sources than the bridge's NAT admits (16 at once, then 4 a
    /// second; of those, SYNs past the room's places get the reject instead) and answers no
    /// more QUERYs than the room's rate, from one address or many, so what it sends strangers is
    /// bounded whatever the flood's size; the flood holds the room only for the few seconds a
    /// joiner is pending, then a real one gets in.
    #[test]
    fn a_flood_from_many_sources_reaches_the_guest_at_the_nats_rate_and_leaves_the_room_open() {
        use std::net::UdpSocket;
        let spec = room_of_two();
        let seen = Arc::new(Seen::default());
        let port = UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let lan = LanRoom::open(
            port,
            Ipv4Addr::LOCALHOST,
            &spec,
            &Subnet::default(),
            seen.clone(),
            Arc::new(AtomicU64::new(0)),
        )
        .unwrap();
        let mut syn = vec![0u8, 0];
        syn.extend_from_slice(&1454104972u32.to_be_bytes());
        syn.extend_from_slice(b"connect data");
        let started = Instant::now();
        for i in 0..400u32 {
            let ip = Ipv4Addr::new(127, 4, (i / 200) as u8, (i % 200 + 1) as u8);
            let s = UdpSocket::bind((ip, 0)).unwrap();
            let packet: &[u8] = if i % 2 == 0 { &syn } else { &[0, 13] };
            s.send_to(packet, ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        lan.pump();
        let reached = lock(&seen.0).len();
        let allowed = 16 + (4.0 * started.elapsed().as_secs_f64()).ceil() as usize;
        assert!(
            (2..=allowed).contains(&reached),
            "{reached} of 400 new sources reached the guest (allowed {allowed})"
        );
        // The admitted SYNs' joiners were pending; 3 s on, a real joiner gets in.
        std::thread::sleep(LAN_PENDING + Duration::from_millis(300));
        let joiner = UdpSocket::bind("127.0.0.1:0").unwrap();
        joiner.send_to(&syn, ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        lan.pump();
        let got = lock(&seen.0).clone();
        let last = got.last().expect("delivered");
        assert_eq!(last.1.port(), joiner.local_addr().unwrap().port());
        assert_eq!(last.2, syn);
        // One address (a spoofed victim's) sending QUERYs as fast as it can: the guest sees a
        // few a second, not the flood.
        let victim = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = lock(&seen.0).len();
        let flood_started = Instant::now();
        for _ in 0..2000 {
            victim.send_to(&[0, 13], ("127.0.0.1", port)).unwrap();
        }
        std::thread::sleep(Duration::from_millis(200));
        lan.pump();
        let answered = lock(&seen.0).len() - before;
        let allowed = QUERY_BURST as usize
            + (QUERIES_PER_SEC * flood_started.elapsed().as_secs_f64()).ceil() as usize;
        assert!(
            (1..=allowed).contains(&answered),
            "{answered} of 2000 QUERYs from one address reached the guest (allowed {allowed})"
        );
        lan.close();
    }
}
