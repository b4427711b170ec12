//! Shared helpers of the Internet-play tests: a guest sink that records deliveries, and waits.
#![allow(dead_code)]

use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use doomlink_net::lan::GuestSink;
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::{Config, Event, WadSet};
use tokio::sync::mpsc::UnboundedReceiver;

/// Records what the session delivers to the "guest".
#[derive(Default)]
pub struct Inbox(pub Mutex<Vec<(u16, SocketAddrV4, Vec<u8>)>>);

impl GuestSink for Inbox {
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        self.0.lock().unwrap().push((dst_port, src, data.to_vec()));
    }
}

impl Inbox {
    pub fn new() -> Arc<Self> {
        Arc::new(Inbox::default())
    }
    pub fn take(&self) -> Vec<(u16, SocketAddrV4, Vec<u8>)> {
        std::mem::take(&mut self.0.lock().unwrap())
    }
    /// Waits until `n` datagrams are in.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<(u16, SocketAddrV4, Vec<u8>)> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.0.lock().unwrap().len() >= n || tokio::time::Instant::now() > deadline {
                return self.take();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

pub fn cfg(name: &str) -> Config {
    Config::new(name, WadSet::default())
}

/// Waits for an event matching `f`, up to `limit`; other events are skipped.
pub async fn wait_event(
    rx: &mut UnboundedReceiver<NodeEvent>,
    limit: Duration,
    mut f: impl FnMut(&NodeEvent) -> bool,
) -> Option<NodeEvent> {
    tokio::time::timeout(limit, async {
        while let Some(ev) = rx.recv().await {
            if f(&ev) {
                return Some(ev);
            }
        }
        None
    })
    .await
    .ok()
    .flatten()
}

pub async fn wait_joined(rx: &mut UnboundedReceiver<NodeEvent>) -> std::net::Ipv4Addr {
    match wait_event(rx, Duration::from_secs(10), |e| {
        matches!(e, NodeEvent::Session(Event::Joined { .. }))
    })
    .await
    {
        Some(NodeEvent::Session(Event::Joined { addr, .. })) => addr,
        other => panic!("no Joined: {other:?}"),
    }
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| "warn,rtc=error,rtc_dtls=error,rtc_ice=error,rtc_sctp=error,webrtc=error,turn=off".into()),
        )
        .with_test_writer()
        .try_init();
}

/// Sends `n` guest datagrams from `from` to `to_ip:to_port` and checks `inbox` got them all
/// (loopback loses nothing in practice; the datagram channel has no retransmits, so allow a
/// rare loss).
pub async fn datagrams_flow(
    from: &WebRtcNode,
    to_ip: std::net::Ipv4Addr,
    to_port: u16,
    inbox: &Inbox,
    n: usize,
) {
    for i in 0..n {
        from.send_from_guest(5000, to_ip, to_port, format!("dgram {i}").as_bytes())
            .unwrap();
    }
    let got = inbox.wait_for(n, Duration::from_secs(5)).await;
    assert!(
        got.len() * 10 >= n * 9,
        "{} of {n} datagrams arrived",
        got.len()
    );
    for (port, src, _) in &got {
        assert_eq!(*port, to_port);
        assert_eq!(src.port(), 5000);
        assert_eq!(Some(*src.ip()), from.local_addr());
    }
}

/// An in-process rendezvous on 127.0.0.1 (HTTP, STUN and TURN on ephemeral ports).
pub struct TestRendezvous {
    pub addr: std::net::SocketAddr,
    pub turn: std::net::SocketAddr,
    pub stop: doomlink_net::rendezvous::ShutdownHandle,
    pub task: tokio::task::JoinHandle<Result<(), doomlink_net::rendezvous::ServeError>>,
    pub dir: std::path::PathBuf,
}

impl TestRendezvous {
    pub async fn start(limits: doomlink_net::rendezvous::Limits) -> TestRendezvous {
        use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
        static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "doomlink-rv-{}-{}",
            std::process::id(),
            N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        let mut cfg = ServeConfig::new("127.0.0.1:0".parse().unwrap(), "127.0.0.1", dir.clone());
        cfg.stun_port = 0;
        cfg.turn_port = 0;
        cfg.limits = limits;
        let rv = Rendezvous::bind(cfg).await.expect("rendezvous binds");
        let (addr, turn, stop) = (rv.http_addr(), rv.turn_addr(), rv.shutdown_handle());
        let task = tokio::spawn(rv.run());
        TestRendezvous {
            addr,
            turn,
            stop,
            task,
            dir,
        }
    }

    pub fn host_port(&self) -> String {
        self.addr.to_string()
    }
}

impl Drop for TestRendezvous {
    fn drop(&mut self) {
        self.stop.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
