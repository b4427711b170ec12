//! Sessions over real WebRTC with real signaling through a real in-process rendezvous, all on
//! 127.0.0.1: handshake, datagrams both ways on the unordered channel, control on the reliable
//! one, 2 to 4 peers, a tampered fingerprint, a forced relay (through the built-in TURN, and
//! through an external coturn with the built-in TURN off; coturn refuses credentials of another
//! secret), the service's shutdown, and a game through a rendezvous that speaks TLS. The coturn
//! tests need Debian's `coturn` (scripts/setup) and fail without it.

mod common;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use doomlink_net::identity::{Fingerprint, Identity};
use doomlink_net::online::{
    host_room, join_room, HostOptions, HostedRoom, JoinOptions, OnlineError,
};
use doomlink_net::rendezvous::turn_rest::{ExternalTurn, Secret};
use doomlink_net::rendezvous::Limits;
use doomlink_net::signaling::invite::InviteLink;
use doomlink_net::signaling::IceServer;
use doomlink_net::testing::coturn::Coturn;
use doomlink_net::webrtc::mux::RtcMux;
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::webrtc::peer::{PathKind, RtcError, RtcOptions};
use doomlink_net::Event;
use tokio::sync::mpsc::UnboundedReceiver;

struct Peer {
    node: WebRtcNode,
    events: UnboundedReceiver<NodeEvent>,
    inbox: Arc<Inbox>,
    addr: Ipv4Addr,
}

/// Hosts a room and feeds every joiner's link to the hub node.
async fn start_hub(rv: &TestRendezvous, rtc: RtcOptions) -> (Peer, InviteLink) {
    start_hub_on(rv, rtc, Edge::None).await
}

/// How the hub's WebRTC is carried.
#[derive(Clone, Copy, PartialEq)]
enum Edge {
    /// A webrtc peer connection per joiner (a player's hub).
    None,
    /// The dedicated service's shared edge: its own thread reads the socket.
    Shared,
    /// A dedicated room's own edge, read by its owner: here a thread of the test's that pumps
    /// it, counting into [`PUMPED`], as the room's guest thread does while it waits.
    Pumped,
}

/// Datagrams the test's own thread read from a pumped edge.
static PUMPED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Hosts a room, through the dedicated service's WebRTC edge if `edge` says so; returns the
/// edge too.
async fn start_hub_on(rv: &TestRendezvous, rtc: RtcOptions, edge: Edge) -> (Peer, InviteLink) {
    let identity = Identity::ephemeral().unwrap();
    let mux = match edge {
        Edge::None => None,
        Edge::Shared => Some(edge_on_loopback(&rtc, &identity)),
        Edge::Pumped => {
            let mux = RtcMux::bind_pumped(
                "127.0.0.1:0".parse().unwrap(),
                &[],
                &rtc,
                identity.clone(),
                Default::default(),
            )
            .unwrap();
            let owner = mux.clone();
            std::thread::spawn(move || loop {
                let n = owner.pump();
                PUMPED.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(1));
            });
            Some(mux)
        }
    };
    let counters = mux.clone();
    let hub = start_hub_with(rv, rtc, identity, mux).await;
    if edge == Edge::Pumped {
        EDGE.with(|e| *e.borrow_mut() = counters);
    }
    hub
}

thread_local! {
    /// The pumped edge of the test running on this thread (the test's body runs on its own
    /// thread under `block_on`), for its figures.
    static EDGE: std::cell::RefCell<Option<RtcMux>> = const { std::cell::RefCell::new(None) };
}

/// The dedicated service's WebRTC edge on 127.0.0.1, speaking as `identity`.
fn edge_on_loopback(rtc: &RtcOptions, identity: &Identity) -> RtcMux {
    RtcMux::bind("127.0.0.1:0".parse().unwrap(), &[], rtc, identity.clone()).unwrap()
}

/// Hosts a room as `identity`, through `edge` (made with the same identity) if given.
async fn start_hub_with(
    rv: &TestRendezvous,
    rtc: RtcOptions,
    identity: Identity,
    edge: Option<RtcMux>,
) -> (Peer, InviteLink) {
    let mut opts = HostOptions::new(rv.host_port(), identity);
    opts.tls = rv.trust.clone();
    opts.mux = edge;
    opts.rtc = rtc;
    let mut room: HostedRoom = host_room(opts).await.expect("room");
    let invite = room.invite.clone();
    let inbox = Inbox::new();
    let (node, events) = WebRtcNode::hub(cfg("hub"), inbox.clone());
    let hub = node.clone();
    tokio::spawn(async move {
        while let Some(j) = room.next_joiner().await {
            match j {
                Ok(j) => {
                    hub.add_link(j.link).expect("hub takes the link");
                }
                Err(e) => eprintln!("joiner failed: {e}"),
            }
        }
    });
    let addr = node.local_addr().unwrap();
    (
        Peer {
            node,
            events,
            inbox,
            addr,
        },
        invite,
    )
}

async fn join(invite: &InviteLink, name: &str, rtc: RtcOptions) -> Peer {
    join_trusting(invite, name, rtc, Default::default()).await
}

/// [`join`] checking a TLS rendezvous's certificate against `tls`.
async fn join_trusting(
    invite: &InviteLink,
    name: &str,
    rtc: RtcOptions,
    tls: doomlink_net::tls_client::ClientTls,
) -> Peer {
    let joined = join_room(
        invite,
        JoinOptions {
            name: name.into(),
            rtc,
            tls,
        },
    )
    .await
    .expect("join");
    let inbox = Inbox::new();
    let (node, mut events) = WebRtcNode::client(cfg(name), inbox.clone());
    node.add_link(joined.link).unwrap();
    let addr = wait_joined(&mut events).await;
    Peer {
        node,
        events,
        inbox,
        addr,
    }
}

/// The node's links once each has its path (or after 5 s). A link's path is asked of its peer
/// connection when the link is added, alongside the session's handshake: it may come a moment
/// after the join.
async fn links_with_paths(node: &WebRtcNode) -> Vec<doomlink_net::webrtc::node::LinkReport> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let links = node.links();
        if links.iter().all(|l| l.path.is_some()) || tokio::time::Instant::now() > deadline {
            return links;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn star(n_clients: usize) {
    star_on(n_clients, Edge::None).await
}

async fn star_on(n_clients: usize, mux: Edge) {
    init_tracing();
    let rv = TestRendezvous::start(Limits::default()).await;
    let (mut hub, invite) = start_hub_on(&rv, RtcOptions::loopback(), mux).await;
    let mut clients = Vec::new();
    for i in 0..n_clients {
        clients.push(join(&invite, &format!("p{i}"), RtcOptions::loopback()).await);
    }
    // Every client is through the handshake on the hub too.
    for _ in 0..n_clients {
        assert!(
            wait_event(&mut hub.events, Duration::from_secs(5), |e| matches!(
                e,
                NodeEvent::Session(Event::PeerJoined { .. })
            ))
            .await
            .is_some()
        );
    }
    // Paths on loopback are direct (host candidates).
    let links = links_with_paths(&hub.node).await;
    assert_eq!(links.len(), n_clients);
    for l in &links {
        let path = l.path.as_ref().expect("path reported");
        assert_eq!(path.kind, PathKind::Direct, "{path:?}");
    }
    // Datagrams both ways between the hub and each client, and client to client via the hub.
    for c in &clients {
        datagrams_flow(&c.node, hub.addr, 2342, &hub.inbox, 40).await;
        datagrams_flow(&hub.node, c.addr, 6000, &c.inbox, 40).await;
    }
    if n_clients >= 2 {
        datagrams_flow(
            &clients[0].node,
            clients[1].addr,
            6001,
            &clients[1].inbox,
            40,
        )
        .await;
        datagrams_flow(
            &clients[n_clients - 1].node,
            clients[0].addr,
            6002,
            &clients[0].inbox,
            40,
        )
        .await;
        // A broadcast from a client reaches everyone else.
        clients[0]
            .node
            .send_from_guest(5000, Ipv4Addr::BROADCAST, 2342, b"hello all")
            .unwrap();
        assert_eq!(hub.inbox.wait_for(1, Duration::from_secs(5)).await.len(), 1);
        for c in &clients[1..] {
            assert_eq!(c.inbox.wait_for(1, Duration::from_secs(5)).await.len(), 1);
        }
    }
    // Control frames on the reliable channel: chat from the last client reaches everyone.
    let last = clients.len() - 1;
    clients[last]
        .node
        .with_session(|s, now| s.send_chat(now, "gg"))
        .unwrap();
    let is_chat =
        |e: &NodeEvent| matches!(e, NodeEvent::Session(Event::Chat { text, .. }) if text == "gg");
    assert!(wait_event(&mut hub.events, Duration::from_secs(5), is_chat)
        .await
        .is_some());
    for c in &mut clients[..last] {
        assert!(wait_event(&mut c.events, Duration::from_secs(5), is_chat)
            .await
            .is_some());
    }
    // RTT is measured on every link by the session's ping.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for l in hub.node.links() {
        assert!(l.stats.rtt.is_some(), "{l:?}");
    }
    // A client leaves cleanly: the hub and the others hear it; the game goes on.
    let gone = clients.pop().unwrap();
    gone.node.close(doomlink_net::ByeReason::Quit);
    assert!(
        wait_event(&mut hub.events, Duration::from_secs(5), |e| matches!(
            e,
            NodeEvent::Session(Event::PeerLeft { .. })
        ))
        .await
        .is_some()
    );
    for c in &clients {
        datagrams_flow(&c.node, hub.addr, 2342, &hub.inbox, 20).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_and_one_client_over_the_rendezvous() {
    star(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_peers_over_the_rendezvous() {
    star(2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_peers_over_the_rendezvous() {
    star(3).await;
}

/// The dedicated service's hub: every joiner on one socket, driven by one thread, speaking the
/// same wire to joiners that are webrtc peer connections.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_peers_through_the_services_webrtc_edge() {
    star_on(3, Edge::Shared).await;
}

/// A dedicated room's own edge: the same star, every datagram read by the owner's thread
/// (`RtcMux::pump`) or, when that thread is not there, by the edge's timer thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_peers_through_a_rooms_own_edge_read_by_its_owner() {
    star_on(3, Edge::Pumped).await;
    let edge = EDGE.with(|e| e.borrow().clone()).expect("the pumped edge");
    let read = edge
        .counters()
        .datagrams_in
        .load(std::sync::atomic::Ordering::Relaxed);
    let pumped = PUMPED.load(std::sync::atomic::Ordering::Relaxed);
    println!("the owner read {pumped} of the edge's {read} datagrams");
    assert!(read > 100, "{read}");
    assert!(
        pumped as u64 * 2 > read,
        "the owner read {pumped} of {read}"
    );
}

/// A frame each way per tic, as a netgame sends them: SCTP's acknowledgements ride in the frames
/// (vendor/rtc-sctp's patch), so the edge sends and receives about one UDP datagram per frame,
/// not the 1.5 of a SACK of its own every second packet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_each_way_costs_about_one_udp_datagram_each_way() {
    use std::sync::atomic::Ordering::Relaxed;
    init_tracing();
    let rv = TestRendezvous::start(Limits::default()).await;
    let rtc = RtcOptions::loopback();
    let identity = Identity::ephemeral().unwrap();
    let edge = edge_on_loopback(&rtc, &identity);
    let (mut hub, invite) = start_hub_with(&rv, rtc, identity, Some(edge.clone())).await;
    let client = join(&invite, "p0", RtcOptions::loopback()).await;
    assert!(
        wait_event(&mut hub.events, Duration::from_secs(5), |e| matches!(
            e,
            NodeEvent::Session(Event::PeerJoined { .. })
        ))
        .await
        .is_some()
    );
    // The handshake's own traffic settles first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let counts = || {
        let c = edge.counters();
        (c.datagrams_in.load(Relaxed), c.datagrams_out.load(Relaxed))
    };
    let (in0, out0) = counts();
    const ROUNDS: u64 = 100;
    let mut answered = 0;
    for _ in 0..ROUNDS {
        client
            .node
            .send_from_guest(5000, hub.addr, 2342, b"ticcmd")
            .unwrap();
        if hub
            .inbox
            .wait_for(1, Duration::from_secs(2))
            .await
            .is_empty()
        {
            continue;
        }
        hub.inbox.take();
        hub.node
            .send_from_guest(2342, client.addr, 5000, b"tics")
            .unwrap();
        if !client
            .inbox
            .wait_for(1, Duration::from_secs(2))
            .await
            .is_empty()
        {
            answered += 1;
        }
        client.inbox.take();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let (in1, out1) = counts();
    let (dgrams_in, dgrams_out) = (in1 - in0, out1 - out0);
    eprintln!("{ROUNDS} rounds ({answered} answered): edge UDP in {dgrams_in}, out {dgrams_out}");
    assert!(
        answered >= ROUNDS * 9 / 10,
        "{answered} of {ROUNDS} rounds answered"
    );
    // Unpatched: ~150 each way. Allowance for the channels' own control traffic (RTT pings).
    assert!(
        dgrams_in <= ROUNDS * 115 / 100 && dgrams_out <= ROUNDS * 115 / 100,
        "{ROUNDS} frames each way took {dgrams_in} UDP datagrams in and {dgrams_out} out"
    );
}

/// A host and a joiner through a rendezvous that speaks TLS only: both verify its certificate
/// (the test's CA), the link says TLS in both its forms, and the game runs as over a plain one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_and_a_joiner_play_through_a_tls_rendezvous() {
    init_tracing();
    let dir = test_dir("tls-game");
    let ca = TestCa::new(&dir, "a");
    let rv = TestRendezvous::start_tls(Limits::default(), &ca).await;
    let (mut hub, invite) = start_hub(&rv, RtcOptions::loopback()).await;
    assert!(invite.tls, "{invite:?}");
    let text = invite.to_doomlink_url();
    assert!(text.contains("tls=1"), "{text}");
    let parsed = InviteLink::parse(&text).unwrap();
    assert_eq!(
        parsed,
        InviteLink::parse(&invite.to_web_url(false)).unwrap()
    );
    let client = join_trusting(&parsed, "p0", RtcOptions::loopback(), rv.trust.clone()).await;
    assert!(
        wait_event(&mut hub.events, Duration::from_secs(5), |e| matches!(
            e,
            NodeEvent::Session(Event::PeerJoined { .. })
        ))
        .await
        .is_some()
    );
    datagrams_flow(&client.node, hub.addr, 2342, &hub.inbox, 40).await;
    datagrams_flow(&hub.node, client.addr, 6000, &client.inbox, 40).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tampered_fingerprint_is_refused_and_says_why() {
    init_tracing();
    let rv = TestRendezvous::start(Limits::default()).await;
    let (_hub, invite) = start_hub(&rv, RtcOptions::loopback()).await;
    let mut tampered = invite.clone();
    tampered.fingerprint = Fingerprint([0x42; 32]);
    // Through the link's text, as a user would paste it.
    let text = tampered.to_doomlink_url();
    let parsed = InviteLink::parse(&text).unwrap();
    let err = join_room(
        &parsed,
        JoinOptions {
            name: "eve".into(),
            rtc: RtcOptions::loopback(),
            tls: Default::default(),
        },
    )
    .await
    .unwrap_err();
    match &err {
        OnlineError::Rtc(RtcError::FingerprintMismatch(m)) => {
            assert_eq!(m.expected, Fingerprint([0x42; 32]));
            assert_eq!(m.got, invite.fingerprint);
        }
        other => panic!("expected a fingerprint mismatch, got {other:?}"),
    }
    let msg = err.to_string();
    assert!(msg.contains("fingerprint does not match"), "{msg}");
    // The genuine link still works afterwards.
    let ok = join(&invite, "bob", RtcOptions::loopback()).await;
    assert_ne!(ok.addr, Ipv4Addr::UNSPECIFIED);
}

/// A hub and one client at `rv`, both relay-only, the client in the hub's game.
async fn relayed_pair(rv: &TestRendezvous) -> (Peer, Peer, InviteLink) {
    let relay = RtcOptions {
        relay_only: true,
        ..RtcOptions::loopback()
    };
    let (mut hub, invite) = start_hub(rv, relay.clone()).await;
    let client = join(&invite, "bob", relay).await;
    assert!(
        wait_event(&mut hub.events, Duration::from_secs(5), |e| matches!(
            e,
            NodeEvent::Session(Event::PeerJoined { .. })
        ))
        .await
        .is_some()
    );
    (hub, client, invite)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_relay_reports_relayed_and_carries_datagrams() {
    init_tracing();
    let rv = TestRendezvous::start(Limits::default()).await;
    let (hub, client, _) = relayed_pair(&rv).await;
    let links = links_with_paths(&hub.node).await;
    let path = links[0].path.clone().expect("path reported");
    assert_eq!(path.kind, PathKind::Relayed, "{path:?}");
    let cpath = links_with_paths(&client.node).await[0]
        .path
        .clone()
        .expect("client path");
    assert_eq!(cpath.kind, PathKind::Relayed, "{cpath:?}");
    // The relayed addresses are the rendezvous's TURN relay on loopback.
    assert!(path.local_addr.starts_with("127.0.0.1:"), "{path:?}");
    datagrams_flow(&client.node, hub.addr, 2342, &hub.inbox, 40).await;
    datagrams_flow(&hub.node, client.addr, 6000, &client.inbox, 40).await;
}

/// The test coturn's `static-auth-secret`.
const COTURN_SECRET: &str = "coturn-test-secret-0123456789";

/// `coturn` as a `[[turn_server]]`, its credentials signed with `secret`.
fn external(coturn: &Coturn, secret: &str) -> ExternalTurn {
    ExternalTurn {
        urls: vec![coturn.url()],
        secret: Secret::new(secret),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_relay_goes_through_an_external_coturn_with_the_builtin_turn_off() {
    init_tracing();
    let coturn = Coturn::start(COTURN_SECRET);
    let mut cfg = test_serve_config(Limits::default(), &[]);
    cfg.builtin_turn = false;
    cfg.turn_servers = vec![external(&coturn, COTURN_SECRET)];
    let rv = TestRendezvous::start_with(cfg).await;
    // A host hears of the STUN server and coturn only: not of the built-in TURN.
    let room = host_room(HostOptions::new(
        rv.host_port(),
        Identity::ephemeral().unwrap(),
    ))
    .await
    .unwrap();
    let urls: Vec<&str> = room
        .ice
        .iter()
        .flat_map(|s| s.urls.iter().map(String::as_str))
        .collect();
    assert_eq!(urls.len(), 2, "{urls:?}");
    assert!(urls[0].starts_with("stun:127.0.0.1:"), "{urls:?}");
    assert_eq!(urls[1], coturn.url());
    drop(room);

    let (hub, client, invite) = relayed_pair(&rv).await;
    // Both ends relay through coturn: their addresses are its allocations' relay ports.
    let on_coturn = |addr: &str| {
        addr.strip_prefix("127.0.0.1:")
            .and_then(|p| p.parse::<u16>().ok())
            .is_some_and(|p| coturn.relay_ports.contains(&p))
    };
    for path in [
        links_with_paths(&hub.node).await[0]
            .path
            .clone()
            .expect("hub path"),
        links_with_paths(&client.node).await[0]
            .path
            .clone()
            .expect("client path"),
    ] {
        assert_eq!(path.kind, PathKind::Relayed, "{path:?}");
        assert!(
            on_coturn(&path.local_addr) && on_coturn(&path.remote_addr),
            "{path:?} is not through coturn's ports {:?}",
            coturn.relay_ports
        );
    }
    datagrams_flow(&client.node, hub.addr, 2342, &hub.inbox, 40).await;
    datagrams_flow(&hub.node, client.addr, 6000, &client.inbox, 40).await;
    // coturn granted the host and the joiner allocations, each under a username of its own.
    coturn.assert_allocated(&invite.room, &["host", "1"]);
}

/// Allocates on `coturn` with `ice`'s credentials: the relayed address, or the error.
async fn coturn_allocate(coturn: &Coturn, ice: &IceServer) -> Result<SocketAddr, String> {
    use webrtc_util::Conn;
    let conn = Arc::new(tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let client = turn::client::Client::new(turn::client::ClientConfig {
        stun_serv_addr: coturn.addr.to_string(),
        turn_serv_addr: coturn.addr.to_string(),
        username: ice.username.clone(),
        password: ice.credential.clone(),
        realm: String::new(),
        software: String::new(),
        rto_in_ms: 0,
        conn,
        vnet: None,
    })
    .await
    .map_err(|e| e.to_string())?;
    client.listen().await.map_err(|e| e.to_string())?;
    let relayed = match client.allocate().await {
        Ok(relay) => relay.local_addr().map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    let _ = client.close().await;
    relayed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn coturn_refuses_credentials_of_another_secret_or_past_their_expiry() {
    init_tracing();
    let coturn = Coturn::start(COTURN_SECRET);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let good = external(&coturn, COTURN_SECRET).ice_server("abcd234567", 0, now + 600);
    let relayed = coturn_allocate(&coturn, &good)
        .await
        .expect("the right secret allocates");
    assert!(
        coturn.relay_ports.contains(&relayed.port()),
        "{relayed} not among {:?}",
        coturn.relay_ports
    );
    let forged =
        external(&coturn, "another-secret-0123456789").ice_server("abcd234567", 0, now + 600);
    let e = coturn_allocate(&coturn, &forged).await.unwrap_err();
    assert!(e.contains("401"), "{e}");
    let expired = external(&coturn, COTURN_SECRET).ice_server("abcd234567", 0, now - 1);
    let e = coturn_allocate(&coturn, &expired).await.unwrap_err();
    assert!(e.contains("401"), "{e}");
    assert_eq!(coturn.allocations().len(), 1, "{}", coturn.log());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutting_the_rendezvous_down_closes_rooms_cleanly() {
    init_tracing();
    let mut rv = TestRendezvous::start(Limits::default()).await;
    let opts = HostOptions::new(rv.host_port(), Identity::ephemeral().unwrap());
    let mut room = host_room(opts).await.unwrap();
    rv.stop.shutdown();
    // The room ends: no more joiners.
    let next = tokio::time::timeout(Duration::from_secs(5), room.next_joiner())
        .await
        .expect("room ends");
    assert!(next.is_none());
    let r = tokio::time::timeout(Duration::from_secs(5), &mut rv.task).await;
    assert!(matches!(r, Ok(Ok(Ok(())))), "{r:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_whose_socket_dropped_resumes_its_room() {
    init_tracing();
    let rv = TestRendezvous::start(Limits::default()).await;
    let id = Identity::ephemeral().unwrap();
    let mut opts = HostOptions::new(rv.host_port(), id.clone());
    opts.rtc = RtcOptions::loopback();
    let room = host_room(opts.clone()).await.unwrap();
    let (name, secret, invite) = (
        room.room.clone(),
        room.host_secret.clone(),
        room.invite.clone(),
    );
    drop(room); // the socket goes, without a leave
    tokio::time::sleep(Duration::from_millis(300)).await;
    let bad = doomlink_net::online::resume_room(opts.clone(), &name, "not-the-host-secret-at-all")
        .await
        .unwrap_err();
    assert!(
        matches!(
            bad,
            OnlineError::Refused {
                code: doomlink_net::signaling::ErrorCode::BadSecret,
                ..
            }
        ),
        "{bad:?}"
    );
    let mut room = doomlink_net::online::resume_room(opts, &name, &secret)
        .await
        .expect("resumed");
    assert_eq!(room.invite, invite, "the same link still works");
    let (joined, j) = tokio::join!(
        join_room(
            &invite,
            JoinOptions {
                name: "bob".into(),
                rtc: RtcOptions::loopback(),
                tls: Default::default(),
            }
        ),
        room.next_joiner()
    );
    joined.expect("joined after resume");
    j.unwrap().expect("host side");
}
