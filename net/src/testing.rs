//! What tests and benchmarks of WebRTC nodes share (the `testing` feature): a guest sink that
//! records what a node delivers, a wait for a node's event, a coturn to relay through
//! ([`coturn`]) and a certificate authority for TLS tests ([`TestCa`]). Not for the app: a real
//! guest is a kernel.

pub mod coturn;

use std::net::SocketAddrV4;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc::UnboundedReceiver;

use crate::lan::GuestSink;
use crate::webrtc::node::NodeEvent;
use crate::Event;

/// One delivery: the guest port it was for, who sent it, the bytes.
pub type Delivered = (u16, SocketAddrV4, Vec<u8>);

/// Records what a node delivers to its "guest".
#[derive(Default)]
pub struct Inbox(pub Mutex<Vec<Delivered>>);

impl GuestSink for Inbox {
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        self.lock().push((dst_port, src, data.to_vec()));
    }
}

impl Inbox {
    pub fn new() -> Arc<Self> {
        Arc::new(Inbox::default())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Delivered>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes what has arrived.
    pub fn take(&self) -> Vec<Delivered> {
        std::mem::take(&mut self.lock())
    }

    /// Waits until `n` datagrams are in (or `limit` passes) and takes them.
    pub async fn wait_for(&self, n: usize, limit: Duration) -> Vec<Delivered> {
        let deadline = tokio::time::Instant::now() + limit;
        loop {
            if self.lock().len() >= n || tokio::time::Instant::now() > deadline {
                return self.take();
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

/// Waits for an event matching `f`, up to `limit`; other events are skipped. None: the time
/// ran out or the node is gone.
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

/// The address a node was given when it joined its game, within `limit`.
pub async fn wait_joined(
    rx: &mut UnboundedReceiver<NodeEvent>,
    limit: Duration,
) -> Option<std::net::Ipv4Addr> {
    match wait_event(rx, limit, |e| {
        matches!(e, NodeEvent::Session(Event::Joined { .. }))
    })
    .await
    {
        Some(NodeEvent::Session(Event::Joined { addr, .. })) => Some(addr),
        _ => None,
    }
}

/// A certificate authority made for a test, its certificate in `ca_file` (PEM).
pub struct TestCa {
    issuer: rcgen::CertifiedIssuer<'static, rcgen::KeyPair>,
    pub ca_file: std::path::PathBuf,
}

impl TestCa {
    /// A new CA named `name`, its certificate written into `dir`.
    pub fn new(dir: &std::path::Path, name: &str) -> TestCa {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        params.distinguished_name.push(
            rcgen::DnType::CommonName,
            format!("doomlink test CA {name}"),
        );
        let issuer =
            rcgen::CertifiedIssuer::self_signed(params, rcgen::KeyPair::generate().unwrap())
                .unwrap();
        let ca_file = dir.join(format!("{name}-ca.pem"));
        std::fs::write(&ca_file, issuer.pem()).unwrap();
        TestCa { issuer, ca_file }
    }

    /// Writes a certificate for 127.0.0.1 and localhost to `cert`, and its key to `key`.
    pub fn issue(&self, cert: &std::path::Path, key: &std::path::Path) {
        let params =
            rcgen::CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".into()])
                .unwrap();
        let pair = rcgen::KeyPair::generate().unwrap();
        let signed = params.signed_by(&pair, &self.issuer).unwrap();
        std::fs::write(cert, signed.pem()).unwrap();
        std::fs::write(key, pair.serialize_pem()).unwrap();
    }

    /// A client that trusts this CA (besides the system's roots).
    pub fn trust(&self) -> crate::tls_client::ClientTls {
        crate::tls_client::ClientTls::with_ca_file(&self.ca_file)
    }
}
