//! The in-memory transport: several [`Session`]s in one process, joined by a simulated network
//! with seeded loss, delay, jitter, reordering and duplication, driven in virtual time.
//!
//! Owns the wires between sessions and the clock; a test is deterministic (same seed, same run)
//! and never sleeps or opens a socket. Like a WebRTC link, each wire has two channels: the
//! datagram channel suffers everything in [`PathConfig`], the control channel is reliable and
//! ordered (a fixed one-way delay). A killed node is a crash: nothing more leaves or reaches it,
//! it says no Bye, and the others must notice by themselves.
//!
//! Each wire direction draws its losses from its own stream of the seed, and keeps its own
//! figures ([`SimNet::wire_stats`]): driven from real threads (the relay harness in tests/), a seed still
//! replays what happens to each wire's k-th datagram, and a failed run can show which peer
//! stopped sending and when.

pub mod rng;

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};
use std::net::Ipv4Addr;
use std::time::Duration;
use web_time::Instant;

use crate::relay::session::{Config, Delivery, Event, LinkId, Output, SendError, Session};
use crate::relay::wire::Channel;
use crate::sim::rng::SplitMix64;

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

/// What one direction of one wire carried: the frames a link end put on it and what became of
/// them. Kept after the wire closes, so a failed run can show what each peer sent and when.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WireStats {
    /// The far end of the wire.
    pub to: Option<(NodeId, LinkId)>,
    pub datagram_frames_sent: u64,
    pub datagram_frames_lost: u64,
    pub datagram_frames_duplicated: u64,
    pub datagram_frames_reordered: u64,
    pub control_frames_sent: u64,
    /// Frames that reached the far end's session (copies included).
    pub frames_delivered: u64,
    /// Frames sent while this end was dead, or that arrived at a dead far end.
    pub frames_discarded: u64,
    /// Virtual time of the last frame put on the wire, and of the last one delivered.
    pub last_sent: Option<Instant>,
    pub last_delivered: Option<Instant>,
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
    /// The sending end (for its wire's figures) and the receiving end.
    from: (NodeId, LinkId),
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
    /// One random stream per wire direction, drawn from the seed and the sending end: what
    /// happens to the k-th datagram on a wire does not depend on the traffic on other wires.
    /// In virtual time that changes nothing; driven by real threads (app/src/relay.rs), where
    /// wires interleave differently every run, it keeps each wire's fate replayable by seed.
    rngs: HashMap<(NodeId, LinkId), SplitMix64>,
    nodes: Vec<SimNode>,
    /// Each link end and the end it is wired to.
    wires: HashMap<(NodeId, LinkId), (NodeId, LinkId)>,
    /// Per direction, when the last control frame arrives: the next may not arrive before it.
    control_tail: HashMap<(NodeId, LinkId), Instant>,
    heap: BinaryHeap<InFlight>,
    seq: u64,
    stats: SimStats,
    wire_stats: HashMap<(NodeId, LinkId), WireStats>,
}

impl SimNet {
    pub fn new(cfg: SimConfig) -> Self {
        // The only look at the real clock: every later instant is this one plus virtual time.
        let start = Instant::now();
        SimNet {
            rngs: HashMap::new(),
            cfg,
            start,
            now: start,
            nodes: Vec::new(),
            wires: HashMap::new(),
            control_tail: HashMap::new(),
            heap: BinaryHeap::new(),
            seq: 0,
            stats: SimStats::default(),
            wire_stats: HashMap::new(),
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

    /// Each wire direction's figures, by sending end (node, link), in node and link order.
    pub fn wire_stats(&self) -> Vec<((NodeId, LinkId), WireStats)> {
        let mut v: Vec<_> = self.wire_stats.iter().map(|(&k, &w)| (k, w)).collect();
        v.sort_by_key(|(k, _)| *k);
        v
    }

    pub fn config(&self) -> &SimConfig {
        &self.cfg
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
        for (from, to) in [((client, cl), (hub, hl)), ((hub, hl), (client, cl))] {
            self.wire_stats.insert(
                from,
                WireStats {
                    to: Some(to),
                    ..WireStats::default()
                },
            );
            // SplitMix64 scrambles its state, so seeds that differ in a few bits give
            // unrelated streams.
            let salt = ((from.0 as u64) << 32 | u64::from(from.1 .0)).wrapping_add(1);
            let stream = self.cfg.seed ^ salt.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            self.rngs.insert(from, SplitMix64::new(stream));
        }
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
            let wire = self.wire_stats.get_mut(&p.from);
            if !self.nodes[node].alive {
                self.stats.frames_discarded += 1;
                if let Some(w) = wire {
                    w.frames_discarded += 1;
                }
                continue;
            }
            match p.what {
                Carried::Frame(bytes) => {
                    if let Some(w) = wire {
                        w.frames_delivered += 1;
                        w.last_delivered = Some(now);
                    }
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
                                self.schedule(at, (id, *link), far, Carried::Close);
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
            if let Some(w) = self.wire_stats.get_mut(&(from, link)) {
                w.frames_discarded += 1;
            }
            return;
        }
        let Some(&far) = self.wires.get(&(from, link)) else {
            self.stats.frames_discarded += 1;
            return;
        };
        let now = self.now;
        let end = (from, link);
        let wire = self.wire_stats.entry(end).or_default();
        wire.last_sent = Some(now);
        match channel {
            Channel::Control => {
                wire.control_frames_sent += 1;
                self.stats.control_frames_sent += 1;
                let at = self.control_arrival(from, link);
                self.schedule(at, end, far, Carried::Frame(frame));
            }
            Channel::Datagram => {
                wire.datagram_frames_sent += 1;
                self.stats.datagram_frames_sent += 1;
                let p = self.cfg.datagram;
                let seed = self.cfg.seed;
                let rng = self
                    .rngs
                    .entry(end)
                    .or_insert_with(|| SplitMix64::new(seed));
                let lost = rng.chance(p.loss);
                let dup = !lost && rng.chance(p.duplicate);
                let first = (!lost).then(|| datagram_arrival(rng, now, &p));
                let copy = dup.then(|| datagram_arrival(rng, now, &p));
                let wire = self.wire_stats.entry(end).or_default();
                let reordered = [first, copy].iter().flatten().filter(|a| a.1).count() as u64;
                wire.datagram_frames_reordered += reordered;
                self.stats.datagram_frames_reordered += reordered;
                if lost {
                    wire.datagram_frames_lost += 1;
                    self.stats.datagram_frames_lost += 1;
                    return;
                }
                if let Some((at, _)) = copy {
                    wire.datagram_frames_duplicated += 1;
                    self.stats.datagram_frames_duplicated += 1;
                    self.schedule(at, end, far, Carried::Frame(frame.clone()));
                }
                if let Some((at, _)) = first {
                    self.schedule(at, end, far, Carried::Frame(frame));
                }
            }
        }
    }

    fn control_arrival(&mut self, from: NodeId, link: LinkId) -> Instant {
        let tail = self.control_tail.entry((from, link)).or_insert(self.now);
        let at = (self.now + self.cfg.control_delay).max(*tail);
        *tail = at;
        at
    }

    fn schedule(
        &mut self,
        at: Instant,
        from: (NodeId, LinkId),
        to: (NodeId, LinkId),
        what: Carried,
    ) {
        self.seq += 1;
        self.heap.push(InFlight {
            at,
            seq: self.seq,
            from,
            to,
            what,
        });
    }
}

/// When a datagram sent at `now` arrives, and whether it was held back (reordered).
fn datagram_arrival(rng: &mut SplitMix64, now: Instant, p: &PathConfig) -> (Instant, bool) {
    let jitter_ns = rng.below(p.jitter.as_nanos() as u64 + 1);
    let mut at = now + p.delay + Duration::from_nanos(jitter_ns);
    let reordered = rng.chance(p.reorder);
    if reordered {
        at += p.reorder_delay;
    }
    (at, reordered)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::WadSet;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn lossy(seed: u64) -> SimConfig {
        SimConfig {
            seed,
            datagram: PathConfig {
                loss: 0.2,
                delay: ms(10),
                jitter: ms(20),
                reorder: 0.05,
                reorder_delay: ms(30),
                duplicate: 0.05,
            },
            control_delay: ms(10),
        }
    }

    /// A hub and two clients, joined; node 0 is the hub.
    fn star(seed: u64) -> SimNet {
        let mut sim = SimNet::new(lossy(seed));
        let hub = sim.add_hub(Config::new("hub", WadSet::default()));
        for name in ["a", "b"] {
            let c = sim.add_client(Config::new(name, WadSet::default()));
            sim.connect(c, hub);
        }
        sim.run_for(ms(100));
        sim
    }

    /// Client 1 sends 300 numbered datagrams to the hub, one every 10 ms; client 2 sends
    /// `noise` datagrams of its own between each two. Returns the numbers the hub's guest got.
    fn run(seed: u64, noise: usize) -> Vec<u32> {
        let mut sim = star(seed);
        let hub = sim.session(0).local_addr().unwrap();
        let mut got = Vec::new();
        for i in 0..300u32 {
            sim.guest_send(1, 5000, hub, 2342, &i.to_be_bytes())
                .unwrap();
            for _ in 0..noise {
                sim.guest_send(2, 5000, hub, 2342, b"noise").unwrap();
            }
            sim.run_for(ms(10));
            got.extend(
                sim.take_inbox(0)
                    .into_iter()
                    .filter(|(_, d)| d.src_ip == Ipv4Addr::new(10, 77, 0, 2))
                    .map(|(_, d)| u32::from_be_bytes(d.data[..4].try_into().unwrap())),
            );
        }
        got
    }

    /// What happens to a wire's datagrams depends on the seed and that wire's own traffic
    /// only: the relay drives the simulation from real threads, where the wires interleave
    /// differently every run, and a seed must still replay each wire's losses.
    #[test]
    fn a_wires_losses_do_not_depend_on_other_wires() {
        let quiet = run(7, 0);
        assert_eq!(
            quiet,
            run(7, 3),
            "another wire's traffic changed this one's fate"
        );
        assert!(
            quiet.len() < 300 && quiet.len() > 200,
            "lossy: {}",
            quiet.len()
        );
        assert_ne!(quiet, run(8, 0), "another seed, other losses");
    }

    /// Each direction's figures add up: every frame sent was lost, delivered (a duplicate
    /// twice) or is still on its way.
    #[test]
    fn wire_figures_account_for_every_frame() {
        let mut sim = star(3);
        let hub = sim.session(0).local_addr().unwrap();
        let a = sim.session(1).local_addr().unwrap();
        for _ in 0..200 {
            sim.guest_send(1, 5000, hub, 2342, b"up").unwrap();
            sim.guest_send(0, 2342, a, 5000, b"down").unwrap();
            sim.run_for(ms(10));
        }
        sim.run_for(Duration::from_secs(1));
        let wires = sim.wire_stats();
        assert_eq!(wires.len(), 4, "two wires, two directions each");
        let total: u64 = wires.iter().map(|(_, w)| w.datagram_frames_sent).sum();
        assert_eq!(total, sim.stats().datagram_frames_sent);
        for (end, w) in &wires {
            let delivered = w.datagram_frames_sent - w.datagram_frames_lost
                + w.datagram_frames_duplicated
                + w.control_frames_sent;
            // Pings keep going; what was sent in the last 60 ms may still be in flight.
            assert!(
                w.frames_delivered <= delivered && w.frames_delivered + 10 >= delivered,
                "{end:?}: {w:?}"
            );
            let far = w.to.expect("wired");
            assert_eq!(
                wires.iter().find(|(e, _)| *e == far).unwrap().1.to,
                Some(*end)
            );
            assert!(w.last_delivered.is_some() && w.last_sent.is_some());
        }
        let up = wires.iter().find(|(e, _)| e.0 == 1).unwrap().1;
        assert!(
            up.datagram_frames_sent >= 200 && up.datagram_frames_lost > 10,
            "{up:?}"
        );
    }
}
