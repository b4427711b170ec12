//! Guests joined by doomlink-net's relay session core, over the in-memory transport: several
//! kernels in one process, with a simulated network (seeded loss, delay, jitter, reordering,
//! duplication) between their sessions. Used by the end-to-end tests of netgames over the relay;
//! the WebRTC transport wires the same session core to real data channels.

use crate::netplay::KernelSink;
use doomlink_kernel::{Errno, HostIO, Pid};
use doomlink_net::sim::{NodeId, SimConfig, SimNet};
use doomlink_net::{Config, WadSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A simulated network run in real time: a pump thread advances it to the wall clock every
/// millisecond and delivers what arrived into each peer's kernel.
pub struct SimRelay {
    sim: Mutex<SimNet>,
    sinks: Mutex<Vec<(NodeId, Arc<KernelSink>)>>,
    stop: AtomicBool,
}

impl SimRelay {
    pub fn new(cfg: SimConfig) -> Arc<Self> {
        let relay = Arc::new(SimRelay {
            sim: Mutex::new(SimNet::new(cfg)),
            sinks: Mutex::new(Vec::new()),
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

    fn pump(&self) {
        let mut deliveries = Vec::new();
        {
            let mut sim = self.sim();
            for (node, sink) in self.sinks.lock().unwrap_or_else(|e| e.into_inner()).iter() {
                for (_, d) in sim.take_inbox(*node) {
                    deliveries.push((sink.clone(), d));
                }
            }
        }
        for (sink, d) in deliveries {
            sink.inject(d.dst_port, d.src_ip, d.src_port, &d.data);
        }
    }

    /// Adds a peer: the first one is the hub (the game's server), the others join it.
    pub fn add_peer(self: &Arc<Self>, name: &str) -> Arc<SimPeer> {
        let cfg = Config::new(name, WadSet::default());
        let sink = KernelSink::new();
        let mut sim = self.sim();
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        let node = if sinks.is_empty() {
            sim.add_hub(cfg)
        } else {
            let n = sim.add_client(cfg);
            let hub = sinks[0].0;
            sim.connect(n, hub);
            n
        };
        sinks.push((node, sink.clone()));
        Arc::new(SimPeer {
            relay: self.clone(),
            node,
            sink,
        })
    }

    /// Crashes a peer: nothing more leaves or reaches it.
    pub fn kill(&self, peer: &SimPeer) {
        self.sim().kill(peer.node);
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// One peer's HostIO: its guest's datagrams enter the simulated network at its node.
pub struct SimPeer {
    relay: Arc<SimRelay>,
    node: NodeId,
    pub sink: Arc<KernelSink>,
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
        self.relay
            .sim()
            .guest_send(self.node, src_port, dst_ip, dst_port, data)
            .map_err(crate::netplay::send_errno)
    }
    fn on_bind(&self, pid: Pid, port: u16) {
        self.sink.owner_bound(pid, port);
    }
    fn on_unbind(&self, _pid: Pid, port: u16) {
        self.sink.owner_gone(port);
    }
}
