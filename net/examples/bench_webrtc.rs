//! Round trip through two sessions over WebRTC on 127.0.0.1 against raw UDP ping-pong on
//! 127.0.0.1, in the same run.
//!
//! WebRTC: a client guest's 64-byte datagram goes client session → datagram channel (SCTP over
//! DTLS over ICE/UDP) → hub session → hub "guest" (a sink that echoes at once) → hub session →
//! channel → client session → client "guest". Raw: a 64-byte UDP datagram to an echoing socket
//! and back. Both are strict ping-pong (one in flight), so each sample is a full round trip.
//! A third row, "relayed", is the WebRTC one with both ends relay-only through the
//! rendezvous's TURN server (`Relays`) on 127.0.0.1: every packet is ChannelData via TURN.
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target cargo run -p doomlink-net --example bench_webrtc [N]
//! ```

use std::net::{IpAddr, Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use doomlink_net::lan::GuestSink;
use doomlink_net::online::manual::{ManualHost, ManualJoin};
use doomlink_net::rendezvous::turn::{
    turn_password, turn_username, LiveRooms, RelaySetup, Relays, TurnLimits,
};
use doomlink_net::rendezvous::Limits;
use doomlink_net::signaling::IceServer;
use doomlink_net::webrtc::node::WebRtcNode;
use doomlink_net::webrtc::peer::RtcOptions;
use doomlink_net::{Config, Event, WadSet};
use tokio::sync::mpsc;

/// The hub's guest: echoes every datagram back to its sender.
struct Echo(OnceLock<WebRtcNode>);
impl GuestSink for Echo {
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        if let Some(hub) = self.0.get() {
            let _ = hub.send_from_guest(dst_port, *src.ip(), src.port(), data);
        }
    }
}

/// The client's guest: hands arrivals to the measuring loop.
struct Arrivals(Mutex<Option<mpsc::UnboundedSender<Instant>>>);
impl GuestSink for Arrivals {
    fn deliver(&self, _: u16, _: SocketAddrV4, _: &[u8]) {
        if let Some(tx) = self.0.lock().unwrap().as_ref() {
            let _ = tx.send(Instant::now());
        }
    }
}

fn pct(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn report(name: &str, mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let (p50, p99) = (pct(&v, 0.50), pct(&v, 0.99));
    println!(
        "{name:>8}: n={} min={:?} p50={:?} p90={:?} p99={:?} max={:?}",
        v.len(),
        v[0],
        p50,
        pct(&v, 0.90),
        p99,
        v[v.len() - 1]
    );
    (p50, p99)
}

async fn raw_udp(n: usize) -> Vec<Duration> {
    let echo = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let echo_addr = echo.local_addr().unwrap();
    tokio::spawn(async move {
        let mut buf = [0u8; 2048];
        while let Ok((len, from)) = echo.recv_from(&mut buf).await {
            let _ = echo.send_to(&buf[..len], from).await;
        }
    });
    let s = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let payload = [7u8; 64];
    let mut buf = [0u8; 2048];
    let mut out = Vec::with_capacity(n);
    for i in 0..n + n / 10 {
        let t = Instant::now();
        s.send_to(&payload, echo_addr).await.unwrap();
        tokio::time::timeout(Duration::from_secs(1), s.recv_from(&mut buf))
            .await
            .unwrap()
            .unwrap();
        if i >= n / 10 {
            out.push(t.elapsed());
        }
    }
    out
}

/// A local TURN server (the rendezvous's, on 127.0.0.1) and relay-only options using it.
async fn relayed_opts() -> (Relays, RtcOptions) {
    let secret = b"bench-secret-bench-secret".to_vec();
    let lo = IpAddr::from(Ipv4Addr::LOCALHOST);
    let username = turn_username(
        "benchroom",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
            + 3600,
    );
    // TURN relays for open rooms only, and to loopback only when allowed.
    let live = LiveRooms::default();
    live.open("benchroom", username.clone());
    let relays = Relays::start(RelaySetup {
        bind_ip: lo,
        turn_port: 0,
        stun_port: 0,
        relay_ip: lo,
        relay_bind: lo,
        secret: secret.clone(),
        relays: true,
        allow_peers: vec!["127.0.0.0/8".parse().unwrap()],
        limits: TurnLimits::from(&Limits::default()),
        live,
    })
    .await
    .expect("TURN server on 127.0.0.1");
    let opts = RtcOptions {
        ice_servers: vec![IceServer {
            urls: vec![format!("turn:{}?transport=udp", relays.turn_addr)],
            credential: turn_password(&secret, &username),
            username,
        }],
        relay_only: true,
        ..RtcOptions::loopback()
    };
    (relays, opts)
}

async fn webrtc(n: usize, opts: RtcOptions) -> (Vec<Duration>, u64) {
    let host = ManualHost::start(&opts).await.unwrap();
    let join = ManualJoin::start(host.offer_code(), &opts).await.unwrap();
    let answer = join.answer_code().to_owned();
    let (h, c) = tokio::join!(host.accept(&answer), join.connect());
    let echo = Arc::new(Echo(OnceLock::new()));
    let (hub, _hub_ev) = WebRtcNode::hub(Config::new("hub", WadSet::default()), echo.clone());
    let _ = echo.0.set(hub.clone());
    let arrivals = Arc::new(Arrivals(Mutex::new(None)));
    let (client, mut cev) =
        WebRtcNode::client(Config::new("bench", WadSet::default()), arrivals.clone());
    hub.add_link(h.unwrap()).unwrap();
    client.add_link(c.unwrap()).unwrap();
    while let Some(ev) = cev.recv().await {
        if matches!(
            ev,
            doomlink_net::webrtc::node::NodeEvent::Session(Event::Joined { .. })
        ) {
            break;
        }
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    *arrivals.0.lock().unwrap() = Some(tx);
    let hub_ip: Ipv4Addr = hub.local_addr().unwrap();
    let payload = [7u8; 64];
    let mut out = Vec::with_capacity(n);
    let mut lost = 0;
    for i in 0..n + n / 10 {
        let t = Instant::now();
        client
            .send_from_guest(5000, hub_ip, 2342, &payload)
            .unwrap();
        match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
            Ok(Some(at)) if i >= n / 10 => out.push(at - t),
            Ok(_) => {}
            Err(_) => lost += 1,
        }
    }
    (out, lost)
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(5000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        println!(
            "round trips of a 64-byte datagram on 127.0.0.1, {n} each after {} warm-up",
            n / 10
        );
        let (raw50, raw99) = report("raw UDP", raw_udp(n).await);
        let (v, lost) = webrtc(n, RtcOptions::loopback()).await;
        let (w50, w99) = report("WebRTC", v);
        println!("   lost: {lost} (datagram channel: unordered, no retransmits)");
        println!(
            "  added: p50 {:?}, p99 {:?} (goal: p99 ≤ 1 ms)",
            w50.saturating_sub(raw50),
            w99.saturating_sub(raw99)
        );
        let (relays, opts) = relayed_opts().await;
        let (v, lost) = webrtc(n, opts).await;
        let (r50, r99) = report("relayed", v);
        println!("   lost: {lost} (both ends relay-only through a TURN server on 127.0.0.1)");
        println!(
            "  added: p50 {:?}, p99 {:?}",
            r50.saturating_sub(raw50),
            r99.saturating_sub(raw99)
        );
        relays.close().await;
    });
}
