//! Guests joined by doomlink-net's relay session core, over the in-memory transport: several
//! kernels in one process, with a simulated network (seeded loss, delay, jitter, reordering,
//! duplication) between their sessions. Used by the end-to-end tests of netgames over the relay;
//! the WebRTC transport wires the same session core to real data channels.
//!
//! Owns the real-time driving of a [`SimNet`] (a pump thread) and, for a test that fails, an
//! account of what each peer's guest sent and received at this boundary ([`SimRelay::report`]):
//! the guests run on real threads, so a run is not replayable step by step, and the account is
//! what tells a silent guest from a lossy path afterwards.

use doomlink_kernel::{Errno, HostIO, Pid};
use doomlink_net::sim::{NodeId, SimConfig, SimNet};
use doomlink_net::{Config, Event, WadSet};
use doomlink_play::sink::KernelSink;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A simulated network run in real time: a pump thread advances it to the wall clock every
/// millisecond and delivers what arrived into each peer's kernel.
pub struct SimRelay {
    sim: Mutex<SimNet>,
    peers: Mutex<Vec<PeerEntry>>,
    pump_stats: Mutex<PumpStats>,
    drop_rule: Mutex<Option<DropRule>>,
    arrival_rule: Mutex<Option<ArrivalRule>>,
    stop: AtomicBool,
}

/// A test's rule for losing particular guest datagrams on purpose (see [`SimRelay::drop_when`]).
type DropRule = Box<dyn FnMut(&GuestDatagram<'_>) -> bool + Send>;
/// The same for datagrams arriving at a guest (see [`SimRelay::drop_arrival_when`]).
type ArrivalRule = Box<dyn FnMut(&Arrival<'_>) -> bool + Send>;

/// A datagram about to be handed to a guest, as an arrival rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct Arrival<'a> {
    /// The receiving peer's index (0 is the hub).
    pub to: usize,
    pub src_ip: Ipv4Addr,
    pub src_port: u16,
    pub dst_port: u16,
    pub data: &'a [u8],
}

/// A datagram a guest sends, as a drop rule sees it.
#[derive(Debug, Clone, Copy)]
pub struct GuestDatagram<'a> {
    /// The sending peer's index (the order of [`SimRelay::add_peer`]; 0 is the hub).
    pub from: usize,
    /// The sender's virtual address (none before its session is welcomed) and port.
    pub src_ip: Option<Ipv4Addr>,
    pub src_port: u16,
    pub dst_ip: Ipv4Addr,
    pub dst_port: u16,
    pub data: &'a [u8],
}

struct PeerEntry {
    node: NodeId,
    name: String,
    sink: Arc<KernelSink>,
    counters: Arc<Mutex<PeerCounters>>,
}

/// What crossed one peer's boundary between its kernel and the relay, in real time.
#[derive(Debug, Default, Clone)]
struct PeerCounters {
    sends_accepted: u64,
    last_send: Option<Instant>,
    /// Sends the session refused, by reason (each became an errno for the guest).
    sends_refused: BTreeMap<String, u64>,
    last_refused: Option<Instant>,
    /// Datagrams the test's drop rule lost on purpose.
    dropped_by_rule: u64,
    /// Datagrams for this guest the test's arrival rule lost on purpose.
    arrivals_dropped_by_rule: u64,
    delivered: u64,
    last_delivered: Option<Instant>,
    /// Deliveries the kernel did not take (no socket bound on the port, or the process gone).
    delivery_refused: u64,
    last_delivery_refused: Option<Instant>,
}

#[derive(Debug, Default)]
struct PumpStats {
    passes: u64,
    last: Option<Instant>,
    /// The longest wait between two pump passes: a starved pump delays every delivery.
    longest_gap: Duration,
}

impl SimRelay {
    pub fn new(cfg: SimConfig) -> Arc<Self> {
        let relay = Arc::new(SimRelay {
            sim: Mutex::new(SimNet::new(cfg)),
            peers: Mutex::new(Vec::new()),
            pump_stats: Mutex::new(PumpStats::default()),
            drop_rule: Mutex::new(None),
            arrival_rule: Mutex::new(None),
            stop: AtomicBool::new(false),
        });
        let pump = relay.clone();
        std::thread::spawn(move || {
            while !pump.stop.load(Ordering::Relaxed) {
                pump.pump();
                std::thread::sleep(Duration::from_millis(1));
            }
        });
        relay
    }

    fn sim(&self) -> MutexGuard<'_, SimNet> {
        let mut s = self.sim.lock().unwrap_or_else(|e| e.into_inner());
        s.run_until(Instant::now());
        s
    }

    fn peers(&self) -> MutexGuard<'_, Vec<PeerEntry>> {
        self.peers.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn pump(&self) {
        let now = Instant::now();
        {
            let mut p = self.pump_stats.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(last) = p.last {
                p.longest_gap = p.longest_gap.max(now - last);
            }
            p.last = Some(now);
            p.passes += 1;
        }
        let mut deliveries = Vec::new();
        {
            let mut sim = self.sim();
            for (index, e) in self.peers().iter().enumerate() {
                for (_, d) in sim.take_inbox(e.node) {
                    deliveries.push((index, e.sink.clone(), e.counters.clone(), d));
                }
            }
        }
        for (index, sink, counters, d) in deliveries {
            let arrival = Arrival {
                to: index,
                src_ip: d.src_ip,
                src_port: d.src_port,
                dst_port: d.dst_port,
                data: &d.data,
            };
            if self.arrival_rule_drops(&arrival) {
                let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
                c.arrivals_dropped_by_rule += 1;
                continue;
            }
            let ok = sink.inject(d.dst_port, d.src_ip, d.src_port, &d.data);
            let now = Instant::now();
            let mut c = counters.lock().unwrap_or_else(|e| e.into_inner());
            if ok {
                c.delivered += 1;
                c.last_delivered = Some(now);
            } else {
                c.delivery_refused += 1;
                c.last_delivery_refused = Some(now);
            }
        }
    }

    /// Adds a peer: the first one is the hub (the game's server), the others join it.
    pub fn add_peer(self: &Arc<Self>, name: &str) -> Arc<SimPeer> {
        let cfg = Config::new(name, WadSet::default());
        let sink = KernelSink::new();
        let counters = Arc::new(Mutex::new(PeerCounters::default()));
        let mut sim = self.sim();
        let mut peers = self.peers();
        let node = if peers.is_empty() {
            sim.add_hub(cfg)
        } else {
            let n = sim.add_client(cfg);
            let hub = peers[0].node;
            sim.connect(n, hub);
            n
        };
        let index = peers.len();
        peers.push(PeerEntry {
            node,
            name: name.to_owned(),
            sink: sink.clone(),
            counters: counters.clone(),
        });
        Arc::new(SimPeer {
            relay: self.clone(),
            node,
            index,
            sink,
            counters,
        })
    }

    /// Crashes a peer: nothing more leaves or reaches it.
    pub fn kill(&self, peer: &SimPeer) {
        self.sim().kill(peer.node);
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Loses every guest datagram for which `rule` says true, as if the path had lost it (the
    /// guest's send succeeds): for tests that need one particular packet lost, which random
    /// loss gives only now and then. The datagram is not sent at all, so the random loss of
    /// the other datagrams is unchanged.
    pub fn drop_when(&self, rule: impl FnMut(&GuestDatagram<'_>) -> bool + Send + 'static) {
        *self.drop_rule.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(rule));
    }

    /// Loses every datagram about to reach a guest for which `rule` says true: it sees what
    /// the network delivers, duplicates included, as a filter in the guest's own network
    /// module would.
    pub fn drop_arrival_when(&self, rule: impl FnMut(&Arrival<'_>) -> bool + Send + 'static) {
        *self.arrival_rule.lock().unwrap_or_else(|e| e.into_inner()) = Some(Box::new(rule));
    }

    /// How many datagrams for peer `index`'s guest the arrival rule lost.
    pub fn arrivals_dropped_by_rule(&self, index: usize) -> u64 {
        self.peers().get(index).map_or(0, |e| {
            e.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .arrivals_dropped_by_rule
        })
    }

    fn arrival_rule_drops(&self, a: &Arrival<'_>) -> bool {
        let mut rule = self.arrival_rule.lock().unwrap_or_else(|e| e.into_inner());
        rule.as_mut().is_some_and(|r| r(a))
    }

    /// How many datagrams peer `index`'s guest sent that the drop rule lost.
    pub fn dropped_by_rule(&self, index: usize) -> u64 {
        self.peers().get(index).map_or(0, |e| {
            e.counters
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .dropped_by_rule
        })
    }

    /// Whether the drop rule loses this datagram.
    fn rule_drops(&self, d: &GuestDatagram<'_>) -> bool {
        let mut rule = self.drop_rule.lock().unwrap_or_else(|e| e.into_inner());
        rule.as_mut().is_some_and(|r| r(d))
    }

    /// What every peer's guest sent and received, each session's links and events, and each
    /// wire's figures, times in seconds since the relay started: for a test to print when a game
    /// failed.
    pub fn report(&self) -> String {
        let sim = self.sim();
        let peers = self.peers();
        let start = sim.now() - sim.elapsed();
        let secs = |t: Option<Instant>| match t {
            Some(t) => format!("{:.2} s", t.saturating_duration_since(start).as_secs_f64()),
            None => "never".into(),
        };
        let mut r = String::new();
        let cfg = sim.config();
        let _ = writeln!(
            r,
            "relay: seed {}, {:.2} s of virtual time; datagram path {:?}",
            cfg.seed,
            sim.elapsed().as_secs_f64(),
            cfg.datagram
        );
        {
            let p = self.pump_stats.lock().unwrap_or_else(|e| e.into_inner());
            let _ = writeln!(
                r,
                "pump: {} passes, longest gap between two {:?}; {:?}",
                p.passes,
                p.longest_gap,
                sim.stats()
            );
        }
        let wires = sim.wire_stats();
        for e in peers.iter() {
            let c = e.counters.lock().unwrap_or_else(|e| e.into_inner()).clone();
            let s = sim.session(e.node);
            let addr = s
                .local_addr()
                .map_or_else(|| "no address".into(), |a| a.to_string());
            let _ = writeln!(
                r,
                "node {} {} ({:?}, {addr}{}):",
                e.node,
                e.name,
                s.role(),
                if sim.node(e.node).alive {
                    ""
                } else {
                    ", killed"
                }
            );
            let _ = writeln!(
                r,
                "  guest sent {} (last at {}), refused {:?} (last at {}), lost by the test's \
                 rule {}; delivered to the guest {} (last at {}), lost by the test's rule {}, \
                 refused by the kernel {} (last at {}); kernel queue drops {}",
                c.sends_accepted,
                secs(c.last_send),
                c.sends_refused,
                secs(c.last_refused),
                c.dropped_by_rule,
                c.delivered,
                secs(c.last_delivered),
                c.arrivals_dropped_by_rule,
                c.delivery_refused,
                secs(c.last_delivery_refused),
                e.sink.queue_drops()
            );
            let _ = writeln!(r, "  session: {:?}", s.stats());
            for l in s.links() {
                let st = l.stats;
                let _ = writeln!(
                    r,
                    "  {} to {} {:?}: last heard {}, frames in/out {}/{}, datagrams in/out \
                     {}/{}, pings {} pongs {} lost {}, rtt {:?}, drops {}",
                    l.link,
                    l.addr.map_or_else(|| "(pending)".into(), |a| a.to_string()),
                    l.name.unwrap_or(""),
                    secs(st.last_heard),
                    st.frames_in,
                    st.frames_out,
                    st.dgrams_in,
                    st.dgrams_out,
                    st.pings_sent,
                    st.pongs_received,
                    st.pings_lost,
                    st.rtt,
                    st.drops()
                );
            }
            for ((_, link), w) in wires.iter().filter(|((n, _), _)| *n == e.node) {
                let _ = writeln!(
                    r,
                    "  wire {link} -> {:?}: datagrams sent {} lost {} duplicated {} reordered \
                     {}, control {}, delivered {}, discarded {}; last sent {}, last delivered {}",
                    w.to,
                    w.datagram_frames_sent,
                    w.datagram_frames_lost,
                    w.datagram_frames_duplicated,
                    w.datagram_frames_reordered,
                    w.control_frames_sent,
                    w.frames_delivered,
                    w.frames_discarded,
                    secs(w.last_sent),
                    secs(w.last_delivered)
                );
            }
            for (t, ev) in &sim.node(e.node).events {
                if matches!(ev, Event::Chat { .. } | Event::Lobby { .. }) {
                    continue;
                }
                let _ = writeln!(r, "  event at {}: {ev:?}", secs(Some(*t)));
            }
        }
        r
    }
}

/// One peer's HostIO: its guest's datagrams enter the simulated network at its node.
pub struct SimPeer {
    relay: Arc<SimRelay>,
    node: NodeId,
    index: usize,
    pub sink: Arc<KernelSink>,
    counters: Arc<Mutex<PeerCounters>>,
}

impl SimPeer {
    /// The peer's address in the virtual network (the hub's is where clients connect).
    pub fn address(&self) -> Option<Ipv4Addr> {
        self.relay.sim().session(self.node).local_addr()
    }
}

impl HostIO for SimPeer {
    fn send_dgram(
        &self,
        _pid: Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        let d = GuestDatagram {
            from: self.index,
            src_ip: self.address(),
            src_port,
            dst_ip,
            dst_port,
            data,
        };
        if self.relay.rule_drops(&d) {
            let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
            c.dropped_by_rule += 1;
            return Ok(());
        }
        let r = self
            .relay
            .sim()
            .guest_send(self.node, src_port, dst_ip, dst_port, data);
        let now = Instant::now();
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        match r {
            Ok(()) => {
                c.sends_accepted += 1;
                c.last_send = Some(now);
                Ok(())
            }
            Err(e) => {
                *c.sends_refused.entry(e.to_string()).or_default() += 1;
                c.last_refused = Some(now);
                Err(doomlink_play::sink::send_errno(e))
            }
        }
    }
    fn on_bind(&self, pid: Pid, port: u16) {
        self.sink.owner_bound(pid, port);
    }
    fn on_unbind(&self, _pid: Pid, port: u16) {
        self.sink.owner_gone(port);
    }
}
