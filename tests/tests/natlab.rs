//! The NAT lab at the level of WebRTC nodes (no Doom guest): which path ICE selects behind which
//! NATs. A rendezvous runs on the lab's "Internet", a hub behind NAT 1 hosts a room, a client
//! behind NAT 2 joins through the invite link, and datagrams flow both ways:
//! - behind two port-preserving NATs the selected path is *direct* (server-reflexive, punched);
//! - behind two symmetric NATs it is *relayed* through the rendezvous's TURN.
//!
//! The lab itself (namespaces, NATs, the guard that removes them) is `doomlink_e2e::natlab`;
//! full games through the real binary are in natlab_play.rs. Needs root; fails loudly without.

use std::sync::{mpsc as std_mpsc, Arc};
use std::time::Duration;

use doomlink_e2e::natlab::{in_ns, Lab, Nat, INET_IP, INET_NET};
use doomlink_net::identity::Identity;
use doomlink_net::online::{host_room, join_room, HostOptions, JoinOptions};
use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
use doomlink_net::signaling::invite::InviteLink;
use doomlink_net::testing::{wait_event, Inbox};
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::webrtc::peer::{PathInfo, PathKind, RtcOptions};
use doomlink_net::{Config, Event, WadSet};

fn cfg(name: &str) -> Config {
    Config::new(name, WadSet::default())
}

/// Runs the future `f` makes on a single-threaded runtime on a thread inside namespace `ns`.
fn block_in_ns<T: Send + 'static, F: std::future::Future<Output = T>>(
    ns: String,
    f: impl FnOnce() -> F + Send + 'static,
) -> std::thread::JoinHandle<T> {
    in_ns(ns, move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(f())
    })
}

/// What the lab's hub saw.
struct Outcome {
    path: PathInfo,
    datagrams_from_joiner: usize,
}

fn play(tag: &str, nat: Nat) -> Outcome {
    let lab = Lab::build(tag, &[nat, nat]);
    let (inv_tx, inv_rx) = std_mpsc::channel::<InviteLink>();
    let (rv_tx, rv_rx) = std_mpsc::channel::<String>();
    let (done_tx, done_rx) = std_mpsc::channel::<()>();
    let dir = std::env::temp_dir().join(format!("doomlink-natlab-{}-{tag}", std::process::id()));

    // The rendezvous, on the "Internet", until the peers are done.
    let rv_dir = dir.clone();
    let rv = block_in_ns(lab.inet(), move || async move {
        let mut cfg = ServeConfig::new((INET_IP, 0).into(), INET_IP.to_string(), rv_dir);
        cfg.stun_port = 0;
        cfg.turn_port = 0;
        cfg.turn_allow_peers = vec![INET_NET.parse().unwrap()];
        let rv = Rendezvous::bind(cfg).await.expect("rendezvous");
        rv_tx.send(rv.http_addr().to_string()).unwrap();
        let stop = rv.shutdown_handle();
        let task = tokio::spawn(rv.run());
        tokio::task::spawn_blocking(move || {
            let _ = done_rx.recv();
        })
        .await
        .unwrap();
        stop.shutdown();
        let _ = task.await;
    });
    let rv_addr = rv_rx
        .recv_timeout(Duration::from_secs(10))
        .expect("rendezvous address");
    // Inside a namespace "every interface" is only the lab's.
    let opts = || RtcOptions {
        bind: vec!["0.0.0.0:0".parse().unwrap()],
        ..RtcOptions::default()
    };

    // The hub behind NAT 1.
    let hub = block_in_ns(lab.host(1), move || async move {
        let mut ho = HostOptions::new(rv_addr, Identity::ephemeral().unwrap());
        ho.rtc = opts();
        let mut room = host_room(ho).await.expect("host a room");
        inv_tx.send(room.invite.clone()).unwrap();
        let joiner = room
            .next_joiner()
            .await
            .expect("a joiner")
            .expect("its link");
        let inbox = Arc::new(Inbox::default());
        let (node, mut ev) = WebRtcNode::hub(cfg("hub"), inbox.clone());
        node.add_link(joiner.link).unwrap();
        wait_event(&mut ev, Duration::from_secs(10), |e| {
            matches!(e, NodeEvent::Session(Event::PeerJoined { .. }))
        })
        .await
        .expect("handshake");
        let got = inbox.wait_for(30, Duration::from_secs(10)).await;
        // Answer so the joiner sees datagrams too.
        for (_, src, _) in got.iter().take(30) {
            let _ = node.send_from_guest(2342, *src.ip(), src.port(), b"pong");
        }
        let path = node.links()[0].path.clone().expect("path reported");
        tokio::time::sleep(Duration::from_secs(1)).await;
        Outcome {
            path,
            datagrams_from_joiner: got.len(),
        }
    });
    let invite = inv_rx
        .recv_timeout(Duration::from_secs(20))
        .expect("invite link");

    // The joiner behind NAT 2.
    let joiner = block_in_ns(lab.host(2), move || async move {
        let joined = join_room(
            &invite,
            JoinOptions {
                name: "joiner".into(),
                rtc: opts(),
                tls: Default::default(),
            },
        )
        .await
        .expect("join");
        let inbox = Arc::new(Inbox::default());
        let (node, mut ev) = WebRtcNode::client(cfg("joiner"), inbox.clone());
        node.add_link(joined.link).unwrap();
        wait_event(&mut ev, Duration::from_secs(10), |e| {
            matches!(e, NodeEvent::Session(Event::Joined { .. }))
        })
        .await
        .expect("Joined");
        let hub = node.links()[0].addr.expect("hub address");
        for i in 0..30u32 {
            node.send_from_guest(5000, hub, 2342, &i.to_be_bytes())
                .unwrap();
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        inbox.wait_for(25, Duration::from_secs(10)).await.len()
    });
    let back = joiner.join().expect("joiner thread");
    let out = hub.join().expect("hub thread");
    drop(done_tx);
    rv.join().expect("rendezvous thread");
    let _ = std::fs::remove_dir_all(&dir);
    drop(lab);
    assert!(back >= 25, "the joiner got {back} of 30 answers");
    out
}

#[test]
fn behind_two_port_preserving_nats_the_path_is_direct() {
    let out = play("nc", Nat::PortPreserving);
    eprintln!("port-preserving NATs: {:?}", out.path);
    assert_eq!(out.path.kind, PathKind::Direct, "{:?}", out.path);
    assert!(out.datagrams_from_joiner >= 25);
}

#[test]
fn behind_two_symmetric_nats_the_path_is_relayed() {
    let out = play("ns", Nat::Symmetric);
    eprintln!("symmetric NATs: {:?}", out.path);
    assert_eq!(out.path.kind, PathKind::Relayed, "{:?}", out.path);
    assert!(out.datagrams_from_joiner >= 25);
}
