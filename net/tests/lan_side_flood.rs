//! The LAN bridge's side protocol under a spoofed-source flood, on real sockets bound to
//! 127.0.0.1 (nothing here sends anywhere else, nor broadcasts): pings, pongs and chats from
//! many source ports, one of them a client the host's guest talks to, get back at most 1.5 ×
//! their bytes, and reach neither the guest nor the chat.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use doomlink_net::lan::side::{is_side_frame, PeerKind, SideConfig, SideMsg, SideRole};
use doomlink_net::lan::{GuestSink, LanBridge, LanConfig};

/// Counts what reaches the guest, and the side frames among it (there must be none).
#[derive(Default)]
struct Guest {
    dgrams: AtomicU64,
    side_frames: AtomicU64,
}

impl GuestSink for Guest {
    fn deliver(&self, _dst_port: u16, _src: SocketAddrV4, data: &[u8]) {
        self.dgrams.fetch_add(1, Ordering::Relaxed);
        if is_side_frame(data) {
            self.side_frames.fetch_add(1, Ordering::Relaxed);
        }
    }
}

/// Reads whatever waits on each socket; adds its bytes to `back` (by socket) and checks that it
/// is side frames only (the guest sends nothing during the flood).
fn drain(socks: &[UdpSocket], back: &mut [usize]) {
    let mut buf = [0u8; 2048];
    for (s, b) in socks.iter().zip(back.iter_mut()) {
        while let Ok((n, _)) = s.recv_from(&mut buf) {
            assert!(is_side_frame(&buf[..n]), "only side frames come back");
            *b += n;
        }
    }
}

#[test]
fn a_spoofed_flood_on_real_sockets_gets_back_at_most_one_and_a_half_times_its_bytes() {
    const GUEST_PORT: u16 = 60030;
    let guest = Arc::new(Guest::default());
    let cfg = LanConfig {
        bind_ip: Ipv4Addr::LOCALHOST,
        broadcast_ip: Ipv4Addr::LOCALHOST,
        // The longest name makes the bridge's pings and pongs as large as they get.
        side: Some(SideConfig::new(&"H".repeat(32), SideRole::Host)),
        ..Default::default()
    };
    let bridge = LanBridge::new(cfg, guest.clone()).unwrap();
    let port = bridge.open_port(GUEST_PORT).unwrap();
    let target = SocketAddr::from((Ipv4Addr::LOCALHOST, port));

    // The victim: a client the host's guest talks to (so a peer of the side state) that speaks
    // no side protocol; the flood uses its address too.
    let victim = UdpSocket::bind("127.0.0.1:0").unwrap();
    victim
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let virt = bridge.map_remote(victim.local_addr().unwrap()).unwrap();
    bridge.send(GUEST_PORT, virt, b"\x00\x00game").unwrap();
    // The side state's first probe may overtake it: counted as bytes back.
    let mut probed = 0;
    let mut buf = [0u8; 2048];
    loop {
        let (n, _) = victim.recv_from(&mut buf).unwrap();
        if !is_side_frame(&buf[..n]) {
            assert_eq!(&buf[..n], b"\x00\x00game");
            break;
        }
        probed += n;
    }

    // 64 more source ports, and the victim's last.
    let mut socks: Vec<UdpSocket> = (0..64)
        .map(|_| UdpSocket::bind("127.0.0.1:0").unwrap())
        .collect();
    socks.push(victim);
    for s in &socks {
        s.set_nonblocking(true).unwrap();
    }
    let frames: Vec<Vec<u8>> = [
        SideMsg::Ping {
            seq: 1,
            time_us: 1,
            name: "x".into(),
        },
        SideMsg::Chat {
            name: "x".into(),
            text: "spam".into(),
        },
        SideMsg::Pong {
            seq: 0,
            time_us: 0,
            name: "x".into(),
        },
    ]
    .iter()
    .map(|m| m.to_vec().unwrap())
    .collect();

    let mut sent = vec![0usize; socks.len()];
    let mut back = vec![0usize; socks.len()];
    back[socks.len() - 1] = probed;
    let start = Instant::now();
    let mut round = 0;
    while start.elapsed() < Duration::from_secs(3) {
        for (i, s) in socks.iter().enumerate() {
            let f = &frames[(round + i) % frames.len()];
            s.send_to(f, target).unwrap();
            sent[i] += f.len();
        }
        round += 1;
        drain(&socks, &mut back);
        std::thread::sleep(Duration::from_millis(5));
    }
    // Answers still on their way.
    std::thread::sleep(Duration::from_millis(500));
    drain(&socks, &mut back);

    let (sent_all, back_all) = (sent.iter().sum::<usize>(), back.iter().sum::<usize>());
    let ratio = back_all as f64 / sent_all as f64;
    let v = socks.len() - 1;
    let victim_ratio = back[v] as f64 / sent[v] as f64;
    println!(
        "flood from {} ports: {sent_all} bytes sent, {back_all} back, ratio {ratio:.4}; \
         from the victim's address: {} sent, {} back, ratio {victim_ratio:.4}",
        socks.len(),
        sent[v],
        back[v]
    );
    assert!(ratio <= 1.5, "ratio {ratio}");
    assert!(victim_ratio <= 1.5, "victim ratio {victim_ratio}");
    assert!(
        back.iter().take(v).all(|&b| b == 0),
        "sources that are no peer get nothing"
    );
    assert!(bridge.stats().side_frames_in.load(Ordering::Relaxed) > 0);
    // Nothing reached the guest (side frames never do), nor the chat.
    assert_eq!(guest.dgrams.load(Ordering::Relaxed), 0);
    assert_eq!(guest.side_frames.load(Ordering::Relaxed), 0);
    assert_eq!(bridge.chat().1, 0);
    let peers = bridge.side_peers();
    assert_eq!(peers.len(), 1, "the flood made no peer");
    assert_ne!(peers[0].side.kind, PeerKind::Doomlink);
}

/// What the defences must not break: two doomlink bridges whose guests play verify each other
/// with the nonce, measure an RTT and chat.
#[test]
fn two_bridges_still_verify_each_other_and_chat() {
    let bridge = |name: &str, role| {
        let mut side = SideConfig::new(name, role);
        side.ping_interval = Duration::from_millis(200);
        side.pong_timeout = Duration::from_millis(500);
        let cfg = LanConfig {
            bind_ip: Ipv4Addr::LOCALHOST,
            broadcast_ip: Ipv4Addr::LOCALHOST,
            side: Some(side),
            ..Default::default()
        };
        LanBridge::new(cfg, Arc::new(Guest::default())).unwrap()
    };
    let host = bridge("Host", SideRole::Host);
    let client = bridge("Client", SideRole::Client);
    let host_real = host.open_port(60031).unwrap();
    let client_real = client.open_port(60032).unwrap();
    let server = client
        .map_remote(SocketAddr::from((Ipv4Addr::LOCALHOST, host_real)))
        .unwrap();
    let player = host
        .map_remote(SocketAddr::from((Ipv4Addr::LOCALHOST, client_real)))
        .unwrap();
    let started = Instant::now();
    loop {
        // The guests play: 20 datagrams a second each way.
        client.send(60032, server, b"\x00\x06tic").unwrap();
        host.send(60031, player, b"\x00\x06tic").unwrap();
        let verified = |b: &LanBridge| {
            b.side_peers()
                .first()
                .is_some_and(|p| p.side.kind == PeerKind::Doomlink && p.side.rtt.is_some())
        };
        if verified(&host) && verified(&client) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "no verification"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(host.side_peers()[0].side.name.as_deref(), Some("Client"));
    client.send_chat("hello there").unwrap();
    let started = Instant::now();
    while host.chat().1 == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "no chat");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(host.chat().0[0].text, "hello there");
}
