//! Shared helpers of the Internet-play tests (the recording sink and the event wait are
//! `doomlink_net::testing`, shared with the e2e tests).
#![allow(dead_code, unused_imports)]

use std::time::Duration;

use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::{Config, WadSet};
use tokio::sync::mpsc::UnboundedReceiver;

pub use doomlink_net::testing::{wait_event, Inbox, TestCa};

pub fn cfg(name: &str) -> Config {
    Config::new(name, WadSet::default())
}

pub async fn wait_joined(rx: &mut UnboundedReceiver<NodeEvent>) -> std::net::Ipv4Addr {
    doomlink_net::testing::wait_joined(rx, Duration::from_secs(10))
        .await
        .expect("no Joined within 10 s")
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
    /// The certificate's reload handle, when the rendezvous speaks TLS.
    pub tls: Option<doomlink_net::rendezvous::tls::TlsReload>,
    /// What its clients trust (the test CA's file when it speaks TLS).
    pub trust: doomlink_net::tls_client::ClientTls,
    pub admin: doomlink_net::rendezvous::AdminHandle,
}

/// A directory of the test's own under the system's temp dir.
pub fn test_dir(what: &str) -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "doomlink-{what}-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A rendezvous on 127.0.0.1 with free ports and a data dir of its own, its TURN relaying to
/// the peers in `allow` besides public ones.
pub fn test_serve_config(
    limits: doomlink_net::rendezvous::Limits,
    allow: &[&str],
) -> doomlink_net::rendezvous::ServeConfig {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "doomlink-rv-{}-{}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    ));
    let mut cfg = doomlink_net::rendezvous::ServeConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1",
        dir,
    );
    cfg.stun_port = 0;
    cfg.turn_port = 0;
    cfg.limits = limits;
    cfg.turn_allow_peers = allow.iter().map(|a| a.parse().unwrap()).collect();
    cfg
}

impl TestRendezvous {
    pub async fn start(limits: doomlink_net::rendezvous::Limits) -> TestRendezvous {
        // Peers on loopback: TURN refuses them unless allowed (forced-relay tests need it).
        Self::start_with(test_serve_config(limits, &["127.0.0.0/8"])).await
    }

    /// A rendezvous as `cfg` says (from [`test_serve_config`], changed as a test needs).
    pub async fn start_with(cfg: doomlink_net::rendezvous::ServeConfig) -> TestRendezvous {
        Self::run(cfg, Default::default()).await
    }

    /// [`TestRendezvous::start`] speaking TLS with a certificate from `ca`, which its clients
    /// ([`TestRendezvous::trust`]) trust.
    pub async fn start_tls(
        limits: doomlink_net::rendezvous::Limits,
        ca: &TestCa,
    ) -> TestRendezvous {
        let mut cfg = test_serve_config(limits, &["127.0.0.0/8"]);
        std::fs::create_dir_all(&cfg.data_dir).unwrap();
        let files = doomlink_net::rendezvous::tls::TlsFiles {
            cert: cfg.data_dir.join("cert.pem"),
            key: cfg.data_dir.join("key.pem"),
        };
        ca.issue(&files.cert, &files.key);
        cfg.tls = Some(files);
        Self::run(cfg, ca.trust()).await
    }

    async fn run(
        cfg: doomlink_net::rendezvous::ServeConfig,
        trust: doomlink_net::tls_client::ClientTls,
    ) -> TestRendezvous {
        use doomlink_net::rendezvous::Rendezvous;
        let dir = cfg.data_dir.clone();
        let rv = Rendezvous::bind(cfg).await.expect("rendezvous binds");
        let (addr, turn, stop) = (rv.http_addr(), rv.turn_addr(), rv.shutdown_handle());
        let (tls, admin) = (rv.tls_handle(), rv.admin_handle());
        let task = tokio::spawn(rv.run());
        TestRendezvous {
            addr,
            turn,
            stop,
            task,
            dir,
            tls,
            trust,
            admin,
        }
    }

    /// The rendezvous as a client names it: `wss://127.0.0.1:PORT` with TLS.
    pub fn host_port(&self) -> String {
        match self.tls {
            Some(_) => format!("wss://{}", self.addr),
            None => self.addr.to_string(),
        }
    }
}

impl Drop for TestRendezvous {
    fn drop(&mut self) {
        self.stop.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
