//! The sans-IO protocol core: one [`Session`] per player, either the game's hub or a client.
//!
//! Owns the handshake, address assignment, routing and its checks, liveness, the roster, chat
//! and lobby state, and the live figures. It does no I/O and reads no clock: every input carries
//! an `Instant`, and the caller drains [`Session::poll_output`] after each input and calls
//! [`Session::handle_timeout`] at [`Session::poll_timeout`]. Transports (in-memory, WebRTC, …)
//! only move the frames of [`Output::Transmit`] between links.
//!
//! # Wiring a kernel (the app's side)
//!
//! ```text
//! HostIO::send_dgram(src_port, dst_ip, dst_port, data)
//!     -> session.send_from_guest(now, src_port, Ipv4Addr::from(dst_ip), dst_port, data)
//! transport received bytes on a link
//!     -> session.handle_frame(now, link, &bytes)
//! while let Some(out) = session.poll_output():
//!     Output::Transmit(t) -> transport.send(t.link, t.channel, t.frame)
//!     Output::Deliver(d)  -> kernel.inject_datagram(pid, d.dst_port, d.src_ip, d.src_port, &d.data)
//!     Output::Event(e)    -> UI (roster, chat, a dead link to close in the transport)
//! at session.poll_timeout() -> session.handle_timeout(now)
//! ```
//!
//! # Topology and routing
//!
//! A star: the hub (the peer running the game's server) holds the subnet's first address and
//! one link per client; a client holds one link, to the hub. A client sends everything to the
//! hub; the hub delivers what is for itself and forwards the rest by destination address, fanning
//! broadcasts (255.255.255.255 and the subnet's directed broadcast) out to every member but the
//! sender. The hub checks that everything a client sends carries the source address that
//! client was given (a client cannot speak for another; forgeries are dropped and counted), and
//! nothing addressed outside the subnet is forwarded by anyone (dropped and counted), so a
//! guest's attempt to reach the internet, e.g. Chocolate Doom's master server, goes nowhere.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::{Ipv4Addr, SocketAddrV4};
use web_time::Instant;

mod client;
mod files;
mod hub;
mod types;

pub use files::{FileError, MAX_FILE_REQUEST, REQUESTS_IN_FLIGHT, REQUEST_LEN};

pub use types::{
    CloseReason, Config, Delivery, Event, LinkId, LinkView, Output, Role, SendError, SessionError,
    Transmit,
};

use crate::relay::bucket::TokenBucket;
use crate::relay::stats::{LinkStats, PingTracker, SessionStats};
use crate::relay::subnet::{Dest, Subnet};
use crate::relay::wire::{
    truncate_utf8, Bye, ByeReason, Channel, DatagramFrame, Frame, FrameError, Hello, Line,
    PeerInfo, Welcome, MAX_BYE_MESSAGE_LEN, MAX_DGRAM_PAYLOAD, MAX_LOBBY_LEN, MAX_NAME_LEN,
    MAX_PEERS, MAX_VERSION_LEN,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LinkState {
    /// Hub: waiting for Hello. Client: Hello sent, waiting for Welcome.
    Pending,
    /// Through the handshake; `peer` is the address at the other end.
    Up { peer: Ipv4Addr },
}

#[derive(Debug)]
struct Link {
    state: LinkState,
    opened_at: Instant,
    next_ping: Instant,
    pings: PingTracker,
    stats: LinkStats,
    /// Hub: the chat and lobby lines this client may still send now.
    lines: TokenBucket,
    /// Hub: the joiner was sent the game's file list; what it asked for and is not yet sent.
    serving: Option<files::Serving>,
    /// Files move over this link before its handshake ends: it stays open as long as it is
    /// heard from, however long since it opened.
    moving_files: bool,
}

/// Chat and lobby lines a client may send in a burst, and then per second: a hub relays each
/// to every other player, so one client's flood would be everyone's.
pub const LINE_BURST: f64 = 10.0;
pub const LINES_PER_SEC: f64 = 2.0;

#[derive(Debug, Clone, Copy)]
struct NetInfo {
    addr: Ipv4Addr,
    subnet: Subnet,
    hub: Ipv4Addr,
}

#[derive(Debug, Clone)]
struct Member {
    name: String,
    lobby: Option<String>,
}

/// One player's end of the relay. See the module docs.
#[derive(Debug)]
pub struct Session {
    role: Role,
    cfg: Config,
    /// Our address, subnet and hub: from the start on the hub, from the Welcome on a client.
    net: Option<NetInfo>,
    links: BTreeMap<LinkId, Link>,
    /// Hub: which link holds which address.
    routes: HashMap<Ipv4Addr, LinkId>,
    /// Every member we know of, ourselves included once we have an address.
    roster: BTreeMap<Ipv4Addr, Member>,
    /// Our own lobby state, kept to (re)send when we join.
    my_lobby: Option<String>,
    next_link: u32,
    /// Hub: where the search for a free address starts.
    next_host: u32,
    out: VecDeque<Output>,
    stats: SessionStats,
    closed: bool,
    /// Client: the hub's file list, once it sent one (its WADs differ from ours).
    host_wads: Option<Vec<crate::relay::wire::WadEntry>>,
    /// Client: the file being fetched.
    fetch: Option<files::Fetch>,
}

impl Session {
    /// The game's hub: holds the subnet's first address from the start.
    pub fn hub(cfg: Config, _now: Instant) -> Self {
        let subnet = cfg.subnet;
        let mut s = Session::new(Role::Hub, cfg);
        let addr = subnet.hub_addr();
        s.net = Some(NetInfo {
            addr,
            subnet,
            hub: addr,
        });
        s.roster.insert(
            addr,
            Member {
                name: s.cfg.name.clone(),
                lobby: None,
            },
        );
        s
    }

    /// A joiner: call [`Session::link_up`] once the transport reaches the hub.
    pub fn client(cfg: Config, _now: Instant) -> Self {
        Session::new(Role::Client, cfg)
    }

    fn new(role: Role, mut cfg: Config) -> Self {
        // Cut what we send to what a peer accepts, so our own frames always emit.
        cfg.name = truncate_utf8(&cfg.name, MAX_NAME_LEN).to_owned();
        cfg.doomlink_version = truncate_utf8(&cfg.doomlink_version, MAX_VERSION_LEN).to_owned();
        cfg.wads.pwads.truncate(crate::relay::wire::MAX_PWADS);
        Session {
            role,
            cfg,
            net: None,
            links: BTreeMap::new(),
            routes: HashMap::new(),
            roster: BTreeMap::new(),
            my_lobby: None,
            next_link: 0,
            next_host: 2,
            out: VecDeque::new(),
            stats: SessionStats::default(),
            closed: false,
            host_wads: None,
            fetch: None,
        }
    }

    pub fn role(&self) -> Role {
        self.role
    }

    pub fn config(&self) -> &Config {
        &self.cfg
    }

    /// Our virtual address (the hub's from the start; a client's once welcomed).
    pub fn local_addr(&self) -> Option<Ipv4Addr> {
        self.net.map(|n| n.addr)
    }

    pub fn subnet(&self) -> Option<Subnet> {
        self.net.map(|n| n.subnet)
    }

    pub fn hub_addr(&self) -> Option<Ipv4Addr> {
        self.net.map(|n| n.hub)
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Every member we know of, ourselves included, by address.
    pub fn roster(&self) -> impl Iterator<Item = PeerInfo> + '_ {
        self.roster.iter().map(|(&addr, m)| PeerInfo {
            addr,
            name: m.name.clone(),
        })
    }

    /// A member's latest lobby state.
    pub fn lobby(&self, addr: Ipv4Addr) -> Option<&str> {
        self.roster.get(&addr)?.lobby.as_deref()
    }

    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    pub fn link_stats(&self, link: LinkId) -> Option<&LinkStats> {
        self.links.get(&link).map(|l| &l.stats)
    }

    /// Every open link with its live figures.
    pub fn links(&self) -> impl Iterator<Item = LinkView<'_>> + '_ {
        self.links.iter().map(|(&link, l)| {
            let addr = match l.state {
                LinkState::Up { peer } => Some(peer),
                LinkState::Pending => None,
            };
            LinkView {
                link,
                addr,
                name: addr
                    .and_then(|a| self.roster.get(&a))
                    .map(|m| m.name.as_str()),
                stats: &l.stats,
            }
        })
    }

    /// The app feeds the kernel's count of datagrams dropped at its 256-per-socket injection cap.
    pub fn add_guest_queue_drops(&mut self, n: u64) {
        self.stats.drops_guest_queue += n;
    }

    /// The transport has a new link. On the hub it waits for the client's Hello; on a client it
    /// is the link to the hub, and the Hello goes out at once.
    pub fn link_up(&mut self, now: Instant) -> Result<LinkId, SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if self.role == Role::Client && !self.links.is_empty() {
            return Err(SessionError::AlreadyLinked);
        }
        let id = LinkId(self.next_link);
        self.next_link += 1;
        self.links.insert(
            id,
            Link {
                state: LinkState::Pending,
                opened_at: now,
                next_ping: now,
                pings: PingTracker::new(self.cfg.loss_window),
                stats: LinkStats::default(),
                lines: TokenBucket::new(LINES_PER_SEC, LINE_BURST, now),
                serving: None,
                moving_files: false,
            },
        );
        if self.role == Role::Client {
            let hello = Frame::Hello(Hello {
                doomlink_version: self.cfg.doomlink_version.clone(),
                name: self.cfg.name.clone(),
                wads: self.cfg.wads.clone(),
            });
            self.transmit(id, &hello);
        }
        Ok(id)
    }

    /// The transport lost the link (no Bye): the member at its other end has left.
    pub fn link_down(&mut self, _now: Instant, link: LinkId) {
        self.close_link(link, CloseReason::TransportClosed);
    }

    /// Hub: says Bye (Kicked) to a client and closes its link.
    pub fn kick(&mut self, _now: Instant, link: LinkId) -> Result<(), SessionError> {
        if self.role != Role::Hub {
            return Err(SessionError::NotHub);
        }
        if !self.links.contains_key(&link) {
            return Err(SessionError::UnknownLink(link));
        }
        self.say_bye_and_close(
            link,
            ByeReason::Kicked,
            "",
            CloseReason::Local(ByeReason::Kicked),
        );
        Ok(())
    }

    /// Leaves the game: Bye on every link, then every link closes. The session stays closed.
    pub fn close(&mut self, _now: Instant, reason: ByeReason) {
        // Closed first: the members still linked are about to get a Bye, not a PeerLeft each.
        self.closed = true;
        let ids: Vec<LinkId> = self.links.keys().copied().collect();
        for id in ids {
            self.say_bye_and_close(id, reason, "", CloseReason::Local(reason));
        }
    }

    /// Sends a chat line to every other member.
    pub fn send_chat(&mut self, _now: Instant, text: &str) -> Result<(), SessionError> {
        let net = self.joined()?;
        let frame = Frame::Chat(Line {
            from: net.addr,
            text: text.to_owned(),
        });
        frame.validate()?;
        self.send_to_members(&frame);
        Ok(())
    }

    /// Sets our lobby state (free text: ready flag, colour, game settings on the hub…) and sends
    /// it to every other member; it is also sent to whoever joins later.
    pub fn set_lobby(&mut self, _now: Instant, text: &str) -> Result<(), SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        if text.len() > MAX_LOBBY_LEN {
            return Err(FrameError::FieldTooLong {
                field: "lobby text",
                len: text.len(),
                max: MAX_LOBBY_LEN,
            }
            .into());
        }
        self.my_lobby = Some(text.to_owned());
        if let Some(net) = self.net {
            if let Some(me) = self.roster.get_mut(&net.addr) {
                me.lobby = Some(text.to_owned());
            }
            let frame = Frame::Lobby(Line {
                from: net.addr,
                text: text.to_owned(),
            });
            self.send_to_members(&frame);
        }
        Ok(())
    }

    fn joined(&self) -> Result<NetInfo, SessionError> {
        if self.closed {
            return Err(SessionError::Closed);
        }
        self.net.ok_or(SessionError::NotConnected)
    }

    /// A datagram from the local guest (`HostIO::send_dgram`). Its source address is always
    /// ours; see the module docs for where it goes.
    pub fn send_from_guest(
        &mut self,
        _now: Instant,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), SendError> {
        if data.len() > MAX_DGRAM_PAYLOAD {
            self.stats.drops_too_large += 1;
            return Err(SendError::TooLarge(data.len()));
        }
        let net = match self.net {
            Some(net) if !self.closed => net,
            _ => {
                self.stats.drops_not_connected += 1;
                return Err(SendError::NotConnected);
            }
        };
        let dest = net.subnet.classify(dst_ip);
        if dest == Dest::Outside {
            self.stats.drops_out_of_network += 1;
            return Err(SendError::OutOfNetwork(dst_ip));
        }
        if dest == Dest::Host(net.addr) {
            // To ourselves by our virtual address: the kernel only loops 127/8 back itself.
            self.count_guest_out(data.len());
            self.deliver(SocketAddrV4::new(net.addr, src_port), dst_port, data);
            return Ok(());
        }
        let dgram = DatagramFrame {
            src: SocketAddrV4::new(net.addr, src_port),
            dst: SocketAddrV4::new(dst_ip, dst_port),
            payload: data,
        };
        match (self.role, dest) {
            (Role::Client, _) => {
                let Some(hub_link) = self.up_links().next() else {
                    self.stats.drops_not_connected += 1;
                    return Err(SendError::NotConnected);
                };
                self.forward(&[hub_link], &dgram, None);
            }
            (Role::Hub, Dest::Broadcast) => {
                let to: Vec<LinkId> = self.up_links().collect();
                self.forward(&to, &dgram, None);
            }
            (Role::Hub, _) => match self.routes.get(&dst_ip) {
                Some(&link) => self.forward(&[link], &dgram, None),
                None => {
                    self.stats.drops_no_route += 1;
                    return Err(SendError::NoRoute(dst_ip));
                }
            },
        }
        self.count_guest_out(data.len());
        Ok(())
    }

    fn count_guest_out(&mut self, len: usize) {
        self.stats.guest_dgrams_out += 1;
        self.stats.guest_bytes_out += len as u64;
    }

    /// Bytes the transport received on `link`. Anything malformed or out of place is counted
    /// and dropped; nothing a peer sends can make this panic.
    pub fn handle_frame(&mut self, now: Instant, link: LinkId, bytes: &[u8]) {
        let Some(l) = self.links.get_mut(&link) else {
            self.stats.frames_unknown_link += 1;
            return;
        };
        l.stats.frames_in += 1;
        l.stats.frame_bytes_in += bytes.len() as u64;
        l.stats.last_heard = Some(now);
        let state = l.state;
        let frame = match Frame::parse(bytes) {
            Ok(f) => f,
            Err(FrameError::UnsupportedVersion(_)) if state == LinkState::Pending => {
                // Tell them in our version's Bye, which is all an old peer can read anyway.
                let r = ByeReason::IncompatibleVersion;
                self.say_bye_and_close(link, r, "protocol version 1", CloseReason::Refused(r));
                return;
            }
            Err(_) => {
                l.stats.drops_invalid += 1;
                return;
            }
        };
        match frame {
            Frame::Ping(seq) => self.transmit(link, &Frame::Pong(seq)),
            Frame::Pong(seq) => self.on_pong(now, link, seq),
            Frame::Bye(b) => self.close_link(link, CloseReason::ByeReceived(b.reason)),
            frame => match (self.role, state) {
                (Role::Hub, LinkState::Pending) => self.hub_pending(now, link, frame),
                (Role::Hub, LinkState::Up { peer }) => self.hub_up(now, link, peer, frame, bytes),
                (Role::Client, LinkState::Pending) => self.client_pending(now, link, frame),
                (Role::Client, LinkState::Up { .. }) => self.client_up(link, frame),
            },
        }
    }

    fn on_pong(&mut self, now: Instant, link: LinkId, seq: u32) {
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        if let Some(r) = l.pings.pong(seq, now) {
            l.stats.pongs_received += 1;
            l.stats.rtt_last = Some(r);
            l.stats.rtt = l.pings.rtt.srtt;
            l.stats.rtt_var = l.pings.rtt.rttvar;
            l.stats.loss = l.pings.loss();
        }
    }

    fn invalid(&mut self, link: LinkId) {
        if let Some(l) = self.links.get_mut(&link) {
            l.stats.drops_invalid += 1;
        }
    }

    fn name_of(&self, addr: Ipv4Addr) -> String {
        self.roster
            .get(&addr)
            .map(|m| m.name.clone())
            .unwrap_or_default()
    }

    /// Pings what is due, gives up on old pings, and closes links not heard from in time.
    pub fn handle_timeout(&mut self, now: Instant) {
        let mut dead = Vec::new();
        for (&id, l) in self.links.iter_mut() {
            if now >= deadline(l, &self.cfg) {
                dead.push(id);
                continue;
            }
            if !matches!(l.state, LinkState::Up { .. }) {
                continue;
            }
            let lost = l.pings.expire(now, self.cfg.pong_timeout);
            if lost > 0 {
                l.stats.pings_lost += lost;
                l.stats.loss = l.pings.loss();
            }
            if now >= l.next_ping {
                let seq = l.pings.send(now);
                l.stats.pings_sent += 1;
                // After a stall (the app did not call us for a while) ping once, not in a burst.
                l.next_ping += self.cfg.ping_interval;
                if l.next_ping <= now {
                    l.next_ping = now + self.cfg.ping_interval;
                }
                if let Ok(frame) = Frame::Ping(seq).to_vec() {
                    push_transmit(&mut self.out, id, l, Channel::Datagram, frame);
                }
            }
        }
        for id in dead {
            self.close_link(id, CloseReason::TimedOut);
        }
    }

    /// When [`Session::handle_timeout`] must next be called; `None` while there is no link.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.links
            .values()
            .flat_map(|l| {
                let up = matches!(l.state, LinkState::Up { .. });
                [
                    Some(deadline(l, &self.cfg)),
                    up.then_some(l.next_ping),
                    if up {
                        l.pings.next_expiry(self.cfg.pong_timeout)
                    } else {
                        None
                    },
                ]
            })
            .flatten()
            .min()
    }

    /// The next thing to do, if any. Drain it after every input.
    pub fn poll_output(&mut self) -> Option<Output> {
        self.out.pop_front()
    }

    // ---- helpers ----

    fn up_links(&self) -> impl Iterator<Item = LinkId> + '_ {
        self.links
            .iter()
            .filter(|(_, l)| matches!(l.state, LinkState::Up { .. }))
            .map(|(&id, _)| id)
    }

    /// Sends a control frame to every other member: the hub to each client, a client to its
    /// hub (which relays it).
    fn send_to_members(&mut self, frame: &Frame<'_>) {
        let to: Vec<LinkId> = self.up_links().collect();
        for link in to {
            self.transmit(link, frame);
        }
    }

    fn transmit(&mut self, link: LinkId, frame: &Frame<'_>) {
        // Our own frames are valid by construction (names cut, texts checked): an emit error
        // would be a bug here, not input we must survive.
        let Ok(bytes) = frame.to_vec() else {
            debug_assert!(false, "emitting {frame:?}");
            return;
        };
        if let Some(l) = self.links.get_mut(&link) {
            push_transmit(&mut self.out, link, l, frame.channel(), bytes);
        }
    }

    /// Sends one datagram on each of `links`; `raw` is its already-valid encoding when it is
    /// being forwarded (no re-encoding on the hub's hot path).
    fn forward(&mut self, links: &[LinkId], d: &DatagramFrame<'_>, raw: Option<&[u8]>) {
        let Some((last, rest)) = links.split_last() else {
            return;
        };
        let bytes = match raw {
            Some(r) => r.to_vec(),
            None => match d.to_vec() {
                Ok(v) => v,
                Err(_) => return, // payload size was checked by the caller
            },
        };
        let n = d.payload.len() as u64;
        for link in links {
            if let Some(l) = self.links.get_mut(link) {
                l.stats.dgrams_out += 1;
                l.stats.dgram_bytes_out += n;
            }
        }
        for link in rest {
            self.push_raw(*link, Channel::Datagram, bytes.clone());
        }
        self.push_raw(*last, Channel::Datagram, bytes);
    }

    fn relay_raw(&mut self, links: &[LinkId], channel: Channel, raw: &[u8]) {
        for &link in links {
            self.push_raw(link, channel, raw.to_vec());
        }
    }

    fn push_raw(&mut self, link: LinkId, channel: Channel, bytes: Vec<u8>) {
        if let Some(l) = self.links.get_mut(&link) {
            push_transmit(&mut self.out, link, l, channel, bytes);
        }
    }

    fn deliver(&mut self, src: SocketAddrV4, dst_port: u16, data: &[u8]) {
        self.stats.guest_dgrams_in += 1;
        self.stats.guest_bytes_in += data.len() as u64;
        self.out.push_back(Output::Deliver(Delivery {
            dst_port,
            src_ip: *src.ip(),
            src_port: src.port(),
            data: data.to_vec(),
        }));
    }

    fn event(&mut self, e: Event) {
        self.out.push_back(Output::Event(e));
    }

    fn say_bye_and_close(
        &mut self,
        link: LinkId,
        reason: ByeReason,
        message: &str,
        close: CloseReason,
    ) {
        let message = truncate_utf8(message, MAX_BYE_MESSAGE_LEN).to_owned();
        self.transmit(link, &Frame::Bye(Bye { reason, message }));
        self.close_link(link, close);
    }

    fn close_link(&mut self, link: LinkId, reason: CloseReason) {
        let Some(l) = self.links.remove(&link) else {
            return;
        };
        let peer = match l.state {
            LinkState::Up { peer } => Some(PeerInfo {
                addr: peer,
                name: self.name_of(peer),
            }),
            LinkState::Pending => None,
        };
        match self.role {
            Role::Hub => {
                if let Some(p) = &peer {
                    self.routes.remove(&p.addr);
                    self.roster.remove(&p.addr);
                    if !self.closed {
                        let left = Frame::PeerLeft {
                            addr: p.addr,
                            reason: reason.as_bye(),
                        };
                        self.send_to_members(&left);
                    }
                    self.event(Event::PeerLeft {
                        link: Some(link),
                        peer: p.clone(),
                        reason: reason.as_bye(),
                    });
                }
            }
            Role::Client => {
                // The hub is gone, and with it the game and our address.
                self.net = None;
                self.roster.clear();
            }
        }
        self.event(Event::LinkClosed {
            link,
            peer,
            reason,
            stats: Box::new(l.stats),
        });
    }
}

/// When a link is declared dead: a link still in its handshake gets `link_timeout` from its
/// opening whatever it sends (so garbage cannot keep it alive), an established one
/// `link_timeout` from when it was last heard.
fn deadline(l: &Link, cfg: &Config) -> Instant {
    let since = match l.state {
        LinkState::Pending if !l.moving_files => l.opened_at,
        LinkState::Pending => l.stats.last_heard.unwrap_or(l.opened_at).max(l.opened_at),
        LinkState::Up { .. } => l.stats.last_heard.unwrap_or(l.opened_at).max(l.opened_at),
    };
    since + cfg.link_timeout
}

fn push_transmit(
    out: &mut VecDeque<Output>,
    link: LinkId,
    l: &mut Link,
    channel: Channel,
    frame: Vec<u8>,
) {
    l.stats.frames_out += 1;
    l.stats.frame_bytes_out += frame.len() as u64;
    out.push_back(Output::Transmit(Transmit {
        link,
        channel,
        frame,
    }));
}

#[cfg(test)]
mod tests;
