//! The in-memory transport: several [`Session`]s in one process, joined by a simulated network
//! with seeded loss, delay, jitter, reordering and duplication, driven in virtual time.
//!
//! Owns the wires between sessions and the clock; a test is deterministic (same seed, same run)
//! and never sleeps or opens a socket. Like issue 7's WebRTC links, each wire has two channels:
//! the datagram channel suffers everything in [`PathConfig`], the control channel is reliable and
//! ordered (a fixed one-way delay). A killed node is a crash: nothing more leaves or reaches it,
//! it says no Bye, and the others must notice by themselves.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use crate::rng::SplitMix64;
use crate::session::{Config, Delivery, Event, LinkId, Output, SendError, Session};
use crate::wire::Channel;

/// What the datagram channel of every wire does to a frame, each direction independently.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PathConfig {
    /// Probability a frame is lost.
    pub loss: f64,
    /// One-way base delay.
    pub delay: Duration,
    /// Extra delay, uniform in [0, jitter]; frames overtake each other when it exceeds their
    /// spacing, as on a real path.
    pub jitter: Duration,
    /// Probability a frame is held back a further `reorder_delay` (reordering beyond jitter).
    pub reorder: f64,
    pub reorder_delay: Duration,
    /// Probability a frame arrives twice (the copy with its own delay).
    pub duplicate: f64,
}

impl PathConfig {
    /// A perfect path with a fixed delay.
    pub fn ideal(delay: Duration) -> Self {
        PathConfig {
            loss: 0.0,
            delay,
            jitter: Duration::ZERO,
            reorder: 0.0,
            reorder_delay: Duration::ZERO,
            duplicate: 0.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SimConfig {
    pub seed: u64,
    pub datagram: PathConfig,
    /// One-way delay of the reliable control channel.
    pub control_delay: Duration,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 1,
            datagram: PathConfig::ideal(Duration::from_millis(10)),
            control_delay: Duration::from_millis(10),
        }
    }
}

/// What the simulated network did, for tests to check their premises against.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SimStats {
    pub datagram_frames_sent: u64,
    pub datagram_frames_lost: u64,
    pub datagram_frames_duplicated: u64,
    pub datagram_frames_reordered: u64,
    pub control_frames_sent: u64,
    /// Frames that arrived at a dead node or over a closed wire.
    pub frames_discarded: u64,
}

pub type NodeId = usize;

/// One simulated player: its session, and what its guest and UI received.
#[derive(Debug)]
pub struct SimNode {
    pub session: Session,
    /// Datagrams delivered to this node's guest, with their arrival time.
    pub inbox: Vec<(Instant, Delivery)>,
    pub events: Vec<(Instant, Event)>,
    pub alive: bool,
}

#[derive(Debug)]
enum Carried {
    Frame(Vec<u8>),
    /// The far end closed the link: the transport tells this end (after in-flight control).
    Close,
}

#[derive(Debug)]
struct InFlight {
    at: Instant,
    seq: u64,
    to: (NodeId, LinkId),
    what: Carried,
}

// Min-heap by (arrival, send order): equal arrival times keep send order, so the control
// channel stays ordered and runs are deterministic.
impl Ord for InFlight {
    fn cmp(&self, o: &Self) -> Ordering {
        (o.at, o.seq).cmp(&(self.at, self.seq))
    }
}
impl PartialOrd for InFlight {
    fn partial_cmp(&self, o: &Self) -> Option<Ordering> {
        Some(self.cmp(o))
    }
}
impl PartialEq for InFlight {
    fn eq(&self, o: &Self) -> bool {
        (self.at, self.seq) == (o.at, o.seq)
    }
}
impl Eq for InFlight {}

/// The simulated network and its clock.
#[derive(Debug)]
pub struct SimNet {
    cfg: SimConfig,
    start: Instant,
    now: Instant,
    rng: SplitMix64,
    nodes: Vec<SimNode>,
    /// Each link end and the end it is wired to.
    wires: HashMap<(NodeId, LinkId), (NodeId, LinkId)>,
    /// Per direction, when the last control frame arrives: the next may not arrive before it.
    control_tail: HashMap<(NodeId, LinkId), Instant>,
    heap: BinaryHeap<InFlight>,
    seq: u64,
    stats: SimStats,
}

impl SimNet {
    pub fn new(cfg: SimConfig) -> Self {
        // The only look at the real clock: every later instant is this one plus virtual time.
        let start = Instant::now();
        SimNet {
            rng: SplitMix64::new(cfg.seed),
            cfg,
            start,
            now: start,
            nodes: Vec::new(),
            wires: HashMap::new(),
            control_tail: HashMap::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            stats: SimStats::default(),
        }
    }

    pub fn now(&self) -> Instant {
        self.now
    }

    /// Virtual time since the simulation started.
    pub fn elapsed(&self) -> Duration {
        self.now - self.start
    }

    pub fn stats(&self) -> SimStats {
        self.stats
    }

    pub fn set_datagram_path(&mut self, path: PathConfig) {
        self.cfg.datagram = path;
    }

    pub fn add_hub(&mut self, cfg: Config) -> NodeId {
        let s = Session::hub(cfg, self.now);
        self.add(s)
    }

    pub fn add_client(&mut self, cfg: Config) -> NodeId {
        let s = Session::client(cfg, self.now);
        self.add(s)
    }

    fn add(&mut self, session: Session) -> NodeId {
        self.nodes.push(SimNode {
            session,
            inbox: Vec::new(),
            events: Vec::new(),
            alive: true,
        });
        self.nodes.len() - 1
    }

    /// Wires `client` to `hub` (both links come up now; the client's Hello leaves at once).
    /// Returns (the client's link, the hub's link).
    pub fn connect(&mut self, client: NodeId, hub: NodeId) -> (LinkId, LinkId) {
        let now = self.now;
        let hl = self.nodes[hub].session.link_up(now).expect("hub link_up");
        let cl = self.nodes[client]
            .session
            .link_up(now)
            .expect("client link_up");
        self.wires.insert((client, cl), (hub, hl));
        self.wires.insert((hub, hl), (client, cl));
        self.pump(hub);
        self.pump(client);
        (cl, hl)
    }

    pub fn node(&self, id: NodeId) -> &SimNode {
        &self.nodes[id]
    }

    pub fn session(&self, id: NodeId) -> &Session {
        &self.nodes[id].session
    }

    /// Takes what a node's guest received so far.
    pub fn take_inbox(&mut self, id: NodeId) -> Vec<(Instant, Delivery)> {
        std::mem::take(&mut self.nodes[id].inbox)
    }

    /// The node's guest sends a datagram now.
    pub fn guest_send(
        &mut self,
        id: NodeId,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), SendError> {
        self.act(id, |s, now| {
            s.send_from_guest(now, src_port, dst_ip, dst_port, data)
        })
    }

    /// Calls into a node's session now (chat, lobby, close…) and carries out what follows.
    pub fn act<R>(&mut self, id: NodeId, f: impl FnOnce(&mut Session, Instant) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.nodes[id].session, now);
        self.pump(id);
        r
    }

    /// Puts raw bytes on a node's link as if its session had sent them: for tests of a peer
    /// that misbehaves (forged sources, garbage).
    pub fn inject_frame(&mut self, from: NodeId, link: LinkId, channel: Channel, frame: Vec<u8>) {
        self.send(from, link, channel, frame);
    }

    /// Crashes a node: from now on nothing leaves or reaches it.
    pub fn kill(&mut self, id: NodeId) {
        self.nodes[id].alive = false;
    }

    pub fn run_for(&mut self, d: Duration) {
        let until = self.now + d;
        self.run_until(until);
    }

    /// Advances virtual time to `until`, delivering frames and firing session timers in order.
    pub fn run_until(&mut self, until: Instant) {
        let mut spins = 0u32;
        loop {
            let next_frame = self.heap.peek().map(|p| p.at);
            let next_timer = self
                .nodes
                .iter()
                .filter(|n| n.alive)
                .filter_map(|n| n.session.poll_timeout())
                .min();
            let next = match (next_frame, next_timer) {
                (Some(a), Some(b)) => a.min(b),
                (a, b) => match a.or(b) {
                    Some(t) => t,
                    None => break,
                },
            };
            if next > until {
                break;
            }
            if next <= self.now {
                spins += 1;
                // A session whose deadline does not move after handle_timeout would spin here
                // forever: that is a bug worth a loud failure in a test.
                assert!(spins < 100_000, "a session's timeout does not advance");
            } else {
                spins = 0;
                self.now = next;
            }
            self.step();
        }
        self.now = self.now.max(until);
    }

    /// Delivers everything due now, then fires due timers.
    fn step(&mut self) {
        let now = self.now;
        while self.heap.peek().is_some_and(|p| p.at <= now) {
            let Some(p) = self.heap.pop() else { break };
            let (node, link) = p.to;
            if !self.nodes[node].alive {
                self.stats.frames_discarded += 1;
                continue;
            }
            match p.what {
                Carried::Frame(bytes) => {
                    self.nodes[node].session.handle_frame(now, link, &bytes);
                }
                Carried::Close => {
                    self.wires.remove(&(node, link));
                    self.nodes[node].session.link_down(now, link);
                }
            }
            self.pump(node);
        }
        for id in 0..self.nodes.len() {
            let due = self.nodes[id].alive
                && self.nodes[id]
                    .session
                    .poll_timeout()
                    .is_some_and(|t| t <= now);
            if due {
                self.nodes[id].session.handle_timeout(now);
                self.pump(id);
            }
        }
    }

    /// Carries out a node's outputs.
    fn pump(&mut self, id: NodeId) {
        let now = self.now;
        while let Some(out) = self.nodes[id].session.poll_output() {
            match out {
                Output::Transmit(t) => self.send(id, t.link, t.channel, t.frame),
                Output::Deliver(d) => self.nodes[id].inbox.push((now, d)),
                Output::Event(e) => {
                    if let Event::LinkClosed { link, .. } = &e {
                        // Like a transport dropping its connection: the far end hears of it
                        // after whatever control frames are still on their way.
                        if let Some(far) = self.wires.remove(&(id, *link)) {
                            if self.nodes[id].alive {
                                let at = self.control_arrival(id, *link);
                                self.schedule(at, far, Carried::Close);
                            }
                        }
                    }
                    self.nodes[id].events.push((now, e));
                }
            }
        }
    }

    fn send(&mut self, from: NodeId, link: LinkId, channel: Channel, frame: Vec<u8>) {
        if !self.nodes[from].alive {
            self.stats.frames_discarded += 1;
            return;
        }
        let Some(&far) = self.wires.get(&(from, link)) else {
            self.stats.frames_discarded += 1;
            return;
        };
        match channel {
            Channel::Control => {
                self.stats.control_frames_sent += 1;
                let at = self.control_arrival(from, link);
                self.schedule(at, far, Carried::Frame(frame));
            }
            Channel::Datagram => {
                self.stats.datagram_frames_sent += 1;
                let p = self.cfg.datagram;
                if self.rng.chance(p.loss) {
                    self.stats.datagram_frames_lost += 1;
                    return;
                }
                if self.rng.chance(p.duplicate) {
                    self.stats.datagram_frames_duplicated += 1;
                    let at = self.datagram_arrival(&p);
                    self.schedule(at, far, Carried::Frame(frame.clone()));
                }
                let at = self.datagram_arrival(&p);
                self.schedule(at, far, Carried::Frame(frame));
            }
        }
    }

    fn datagram_arrival(&mut self, p: &PathConfig) -> Instant {
        let jitter_ns = self.rng.below(p.jitter.as_nanos() as u64 + 1);
        let mut at = self.now + p.delay + Duration::from_nanos(jitter_ns);
        if self.rng.chance(p.reorder) {
            self.stats.datagram_frames_reordered += 1;
            at += p.reorder_delay;
        }
        at
    }

    fn control_arrival(&mut self, from: NodeId, link: LinkId) -> Instant {
        let tail = self.control_tail.entry((from, link)).or_insert(self.now);
        let at = (self.now + self.cfg.control_delay).max(*tail);
        *tail = at;
        at
    }

    fn schedule(&mut self, at: Instant, to: (NodeId, LinkId), what: Carried) {
        self.seq += 1;
        self.heap.push(InFlight {
            at,
            seq: self.seq,
            to,
            what,
        });
    }
}
