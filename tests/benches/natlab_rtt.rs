//! Round trips over WebRTC in the NAT lab: *direct* (two port-preserving NATs, ICE punches
//! through) against *relayed* (two symmetric NATs, the rendezvous's TURN carries every
//! datagram), with raw UDP through the same two NATs as the anchor, all in one run. Prints a
//! table of p50/p99 and the ratios; asserts nothing (timings never go in tests).
//!
//! ```sh
//! CARGO_TARGET_DIR=/work/target cargo bench -p doomlink-e2e --bench natlab_rtt [-- N]
//! ```
//! (as root: the lab is network namespaces; N round trips per measurement, default 1000, each
//! WebRTC measurement cut after 20 s.)
//!
//! Each lab (`doomlink_e2e::natlab`) has a rendezvous on its "Internet" and two sites. The hub
//! behind NAT 1 hosts a room, the client behind NAT 2 joins it through the invite link — the
//! real signaling, STUN and TURN. As in net/examples/bench_webrtc.rs the round trip is
//! session-level: a 64-byte datagram goes client session → datagram channel (SCTP/DTLS/ICE over
//! UDP, through both NATs, or via TURN) → hub session → hub "guest" (a sink that echoes at once)
//! → back; strict ping-pong, one in flight. The anchor: a 64-byte UDP datagram from the client's
//! namespace to the hub's, through NAT 2's MASQUERADE and a port forward on NAT 1, echoed back
//! — the direct path's route, without WebRTC. The raw and WebRTC measurements alternate a few
//! times per lab; the median of each figure is printed.
//!
//! Relayed one-in-flight round trips used to take ~200 ms (while the same links in a game, with
//! steady 35 Hz traffic, reported 1–3 ms): webrtc 0.21.1's driver pushes a relayed packet into
//! its TURN client only after draining the TURN client's output, so the packet left on the
//! driver's next pass — with nothing else in flight, when SCTP's 200 ms delayed-SACK timer
//! fired. `doomlink_net::webrtc::peer::send_frame` now wakes the driver once more after every send (see
//! `flush_relayed` there); net/examples/bench_webrtc.rs measures the same on 127.0.0.1 with a
//! local TURN server, no root needed.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc as std_mpsc, Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use doomlink_e2e::measure::{percentile, udp_ping_pong};
use doomlink_e2e::natlab::{in_ns, Lab, Nat, INET_IP, INET_NET};
use doomlink_net::identity::Identity;
use doomlink_net::lan::GuestSink;
use doomlink_net::online::{host_room, join_room, HostOptions, JoinOptions};
use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::webrtc::peer::{PathKind, RtcOptions};
use doomlink_net::{Config, Event, WadSet};
use tokio::sync::mpsc;

const SIZE: usize = 64;
/// Alternating measurements of each path per lab; the median of each figure is printed.
const REPEATS: usize = 3;
/// At most this long per WebRTC measurement (a relayed path may be slow).
const MEASURE_CAP: Duration = Duration::from_secs(20);
/// The UDP port the anchor's echo listens on behind NAT 1 (forwarded by its router).
const ECHO_PORT: u16 = 9000;

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

/// A runtime made on a lab thread: its worker threads are spawned from that thread and so live
/// in the same namespace. Two workers, as the app's own runtime has.
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// p50 and p99 of `v`, in µs.
fn percentiles(mut v: Vec<Duration>) -> (f64, f64) {
    v.sort();
    let at = |p| percentile(&v, p).as_secs_f64() * 1e6;
    (at(50), at(99))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Raw UDP ping-pong from the client's namespace to the echo behind NAT 1's port forward.
fn raw_udp(lab: &Lab, n: usize) -> Vec<Duration> {
    in_ns(lab.host(2), move || {
        let s = UdpSocket::bind("0.0.0.0:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
        let to = SocketAddr::from((Lab::wan_ip(1), ECHO_PORT));
        udp_ping_pong(&s, to, &[7u8; SIZE], n / 10, n)
    })
    .join()
    .expect("raw UDP thread")
}

/// Commands to the client's thread: measure this many round trips, and send the samples back.
type Measure = (usize, std_mpsc::Sender<(Vec<Duration>, usize)>);

/// One lab's figures, in µs: raw UDP and WebRTC, p50 and p99 each.
struct Figures {
    path: String,
    samples: usize,
    raw: (f64, f64),
    rtc: (f64, f64),
    lost: usize,
}

fn measure_lab(tag: &str, nat: Nat, n: usize) -> Figures {
    let lab = Lab::build(tag, &[nat, nat]);
    lab.forward_udp(1, ECHO_PORT);
    let dir = std::env::temp_dir().join(format!("doomlink-natbench-{}-{tag}", std::process::id()));
    let (stop_tx, stop_rx) = std_mpsc::channel::<()>();
    let stop_rx = Arc::new(Mutex::new(stop_rx));
    let wait_stop = |rx: Arc<Mutex<std_mpsc::Receiver<()>>>| async move {
        tokio::task::spawn_blocking(move || {
            let _ = rx.lock().unwrap().recv();
        })
        .await
        .unwrap();
    };

    // The rendezvous on the "Internet".
    let (rv_tx, rv_rx) = std_mpsc::channel::<String>();
    let (rv_dir, stop) = (dir.clone(), stop_rx.clone());
    let rv = in_ns(lab.inet(), move || {
        runtime().block_on(async move {
            let mut cfg = ServeConfig::new((INET_IP, 0).into(), INET_IP.to_string(), rv_dir);
            cfg.stun_port = 0;
            cfg.turn_port = 0;
            cfg.turn_allow_peers = vec![INET_NET.parse().unwrap()];
            let rv = Rendezvous::bind(cfg).await.expect("rendezvous");
            rv_tx.send(rv.http_addr().to_string()).unwrap();
            let shut = rv.shutdown_handle();
            let task = tokio::spawn(rv.run());
            wait_stop(stop).await;
            shut.shutdown();
            let _ = task.await;
        })
    });
    let rv_addr = rv_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("rendezvous address");
    let opts = || RtcOptions {
        bind: vec!["0.0.0.0:0".parse().unwrap()],
        ..RtcOptions::default()
    };

    // The anchor's echo, behind NAT 1.
    let echo_sock = in_ns(lab.host(1), || {
        UdpSocket::bind(("0.0.0.0", ECHO_PORT)).expect("echo socket")
    })
    .join()
    .unwrap();
    echo_sock
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let echo_stop = Arc::new(AtomicBool::new(false));
    let stop = echo_stop.clone();
    let echo = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        loop {
            match echo_sock.recv_from(&mut buf) {
                Ok((len, from)) => {
                    let _ = echo_sock.send_to(&buf[..len], from);
                }
                Err(_) if stop.load(Ordering::Relaxed) => return,
                Err(_) => {}
            }
        }
    });

    // The hub behind NAT 1: hosts a room and echoes.
    let (inv_tx, inv_rx) = std_mpsc::channel();
    let (path_tx, path_rx) = std_mpsc::channel::<String>();
    let stop = stop_rx.clone();
    let hub = in_ns(lab.host(1), move || {
        runtime().block_on(async move {
            let mut ho = HostOptions::new(rv_addr, Identity::ephemeral().unwrap());
            ho.rtc = opts();
            let mut room = host_room(ho).await.expect("host a room");
            inv_tx.send(room.invite.clone()).unwrap();
            let joiner = room.next_joiner().await.expect("a joiner").expect("link");
            let echo = Arc::new(Echo(OnceLock::new()));
            let (node, _ev) = WebRtcNode::hub(Config::new("hub", WadSet::default()), echo.clone());
            let _ = echo.0.set(node.clone());
            node.add_link(joiner.link).unwrap();
            // The path is known once the link is up; report it when the client measures.
            let deadline = Instant::now() + Duration::from_secs(10);
            let path = loop {
                if let Some(p) = node.links().first().and_then(|l| l.path.clone()) {
                    break p;
                }
                assert!(Instant::now() < deadline, "no path reported");
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let kind = match path.kind {
                PathKind::Direct => "direct",
                PathKind::Relayed => "relayed",
            };
            let _ = path_tx.send(format!(
                "{kind} ({:?}/{:?}) {} ↔ {}",
                path.local, path.remote, path.local_addr, path.remote_addr
            ));
            wait_stop(stop).await;
            drop(node);
        })
    });
    let invite = inv_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("invite link");

    // The client behind NAT 2: joins, then measures on request.
    let (cmd_tx, cmd_rx) = std_mpsc::channel::<Measure>();
    let client = in_ns(lab.host(2), move || {
        runtime().block_on(async move {
            let joined = join_room(
                &invite,
                JoinOptions {
                    name: "bench".into(),
                    rtc: opts(),
                    tls: Default::default(),
                },
            )
            .await
            .expect("join");
            let arrivals = Arc::new(Arrivals(Mutex::new(None)));
            let (node, mut ev) =
                WebRtcNode::client(Config::new("bench", WadSet::default()), arrivals.clone());
            node.add_link(joined.link).unwrap();
            while let Some(ev) = ev.recv().await {
                if matches!(ev, NodeEvent::Session(Event::Joined { .. })) {
                    break;
                }
            }
            let hub: Ipv4Addr = node.links()[0].addr.expect("hub address");
            let (tx, mut rx) = mpsc::unbounded_channel();
            *arrivals.0.lock().unwrap() = Some(tx);
            let payload = [7u8; SIZE];
            while let Ok((n, reply)) = cmd_rx.recv() {
                let mut out = Vec::with_capacity(n);
                let mut lost = 0;
                let began = Instant::now();
                for i in 0..n + n / 10 {
                    // A slow path gets fewer samples rather than minutes of them.
                    if began.elapsed() > MEASURE_CAP && out.len() >= 50 {
                        break;
                    }
                    let t = Instant::now();
                    node.send_from_guest(5000, hub, 2342, &payload).unwrap();
                    match tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
                        Ok(Some(at)) if i >= n / 10 => out.push(at - t),
                        Ok(_) => {}
                        Err(_) => lost += 1,
                    }
                    // A late echo of a lost one must not count as the next one's.
                    while rx.try_recv().is_ok() {}
                }
                let _ = reply.send((out, lost));
            }
        })
    });

    let path = path_rx
        .recv_timeout(Duration::from_secs(30))
        .expect("the link came up");
    let (mut raw50, mut raw99, mut rtc50, mut rtc99, mut lost) =
        (vec![], vec![], vec![], vec![], 0);
    let mut samples = 0;
    for _ in 0..REPEATS {
        let (p50, p99) = percentiles(raw_udp(&lab, n));
        raw50.push(p50);
        raw99.push(p99);
        let (tx, rx) = std_mpsc::channel();
        cmd_tx.send((n, tx)).unwrap();
        let (v, l) = rx.recv().expect("client measured");
        lost += l;
        samples += v.len();
        let (p50, p99) = percentiles(v);
        rtc50.push(p50);
        rtc99.push(p99);
    }
    drop(cmd_tx);
    client.join().expect("client thread");
    drop(stop_tx);
    hub.join().expect("hub thread");
    rv.join().expect("rendezvous thread");
    echo_stop.store(true, Ordering::Relaxed);
    echo.join().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    drop(lab);
    Figures {
        path,
        samples,
        raw: (median(raw50), median(raw99)),
        rtc: (median(rtc50), median(rtc99)),
        lost,
    }
}

fn main() {
    // `cargo bench` passes `--bench`; the first number is N.
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(1000);
    println!(
        "NAT lab round trips of a {SIZE}-byte datagram, {n} per measurement after {} warm-up, \
         median of {REPEATS} alternating measurements",
        n / 10
    );
    let direct = measure_lab("bd", Nat::PortPreserving, n);
    let relayed = measure_lab("br", Nat::Symmetric, n);
    println!(
        "direct lab:  WebRTC path {}, {} samples",
        direct.path, direct.samples
    );
    println!(
        "relayed lab: WebRTC path {}, {} samples",
        relayed.path, relayed.samples
    );
    println!();
    println!(
        "| {:<34} | {:>9} | {:>9} | {:>11} |",
        "what", "p50 µs", "p99 µs", "p99 / raw"
    );
    println!("|{:-<36}|{:-<11}|{:-<11}|{:-<13}|", "", "", "", "");
    let row = |what: &str, (p50, p99): (f64, f64), anchor: f64| {
        println!(
            "| {what:<34} | {p50:>9.0} | {p99:>9.0} | {:>10.2}× |",
            p99 / anchor
        );
    };
    row("raw UDP, port-preserving NATs", direct.raw, direct.raw.1);
    row("WebRTC direct", direct.rtc, direct.raw.1);
    row("raw UDP, symmetric NATs", relayed.raw, relayed.raw.1);
    row("WebRTC relayed (TURN)", relayed.rtc, relayed.raw.1);
    println!();
    println!(
        "relayed / direct: p50 {:.2}×, p99 {:.2}×; lost datagrams: direct {}, relayed {}",
        relayed.rtc.0 / direct.rtc.0,
        relayed.rtc.1 / direct.rtc.1,
        direct.lost,
        relayed.lost
    );
}
