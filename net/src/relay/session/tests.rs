//! Unit tests of the core, driven by hand: frames are carried between sessions by these tests,
//! so every step of the protocol is visible. Multi-peer runs over a lossy network are in
//! tests/sim.rs.

use super::*;
use crate::relay::wire::frame_type;
use crate::relay::wire::WadSet;
use std::time::Duration;

fn wads() -> WadSet {
    WadSet {
        iwad: [1; 32],
        pwads: vec![],
    }
}

fn ip(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, d)
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn drain(s: &mut Session) -> Vec<Output> {
    std::iter::from_fn(|| s.poll_output()).collect()
}

fn transmits(outs: &[Output]) -> Vec<&Transmit> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Transmit(t) => Some(t),
            _ => None,
        })
        .collect()
}

fn deliveries(outs: &[Output]) -> Vec<&Delivery> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Deliver(d) => Some(d),
            _ => None,
        })
        .collect()
}

fn events(outs: &[Output]) -> Vec<&Event> {
    outs.iter()
        .filter_map(|o| match o {
            Output::Event(e) => Some(e),
            _ => None,
        })
        .collect()
}

/// A hub and `n` clients, handshakes done by hand. Returns the hub, the clients, and for each
/// client (its link id, the hub's link id for it).
struct Star {
    t0: Instant,
    hub: Session,
    clients: Vec<Session>,
    links: Vec<(LinkId, LinkId)>,
}

impl Star {
    fn new(n: usize) -> Star {
        let t0 = Instant::now();
        let hub = Session::hub(Config::new("host", wads()), t0);
        let mut s = Star {
            t0,
            hub,
            clients: Vec::new(),
            links: Vec::new(),
        };
        for i in 0..n {
            let c = Session::client(Config::new(format!("p{i}"), wads()), t0);
            s.join(c);
        }
        s
    }

    /// Links `c` up with the hub and runs the handshake; returns what everyone output.
    fn join(&mut self, mut c: Session) -> Vec<Vec<Output>> {
        let hl = self.hub.link_up(self.t0).unwrap();
        let cl = c.link_up(self.t0).unwrap();
        self.clients.push(c);
        self.links.push((cl, hl));
        self.flush()
    }

    /// Carries every pending transmit until nothing moves; returns the non-transmit outputs:
    /// index 0 is the hub, 1.. the clients.
    fn flush(&mut self) -> Vec<Vec<Output>> {
        let mut rest: Vec<Vec<Output>> = vec![Vec::new(); self.clients.len() + 1];
        loop {
            let mut moved = false;
            for o in drain(&mut self.hub) {
                match o {
                    Output::Transmit(t) => {
                        moved = true;
                        let i = self.links.iter().position(|l| l.1 == t.link).unwrap();
                        let cl = self.links[i].0;
                        self.clients[i].handle_frame(self.t0, cl, &t.frame);
                    }
                    o => rest[0].push(o),
                }
            }
            for i in 0..self.clients.len() {
                for o in drain(&mut self.clients[i]) {
                    match o {
                        Output::Transmit(t) => {
                            moved = true;
                            let hl = self.links[i].1;
                            self.hub.handle_frame(self.t0, hl, &t.frame);
                        }
                        o => rest[i + 1].push(o),
                    }
                }
            }
            if !moved {
                return rest;
            }
        }
    }
}

#[test]
fn handshake_assigns_addresses_in_order() {
    let s = Star::new(3);
    assert_eq!(s.hub.local_addr(), Some(ip(1)));
    for (i, c) in s.clients.iter().enumerate() {
        assert_eq!(c.local_addr(), Some(ip(2 + i as u8)));
        assert_eq!(c.hub_addr(), Some(ip(1)));
        assert_eq!(c.subnet(), Some(Subnet::default()));
    }
    let roster: Vec<_> = s.hub.roster().map(|p| (p.addr, p.name)).collect();
    assert_eq!(
        roster,
        vec![
            (ip(1), "host".to_string()),
            (ip(2), "p0".into()),
            (ip(3), "p1".into()),
            (ip(4), "p2".into())
        ]
    );
    // The last client learned the others from its Welcome, the first from PeerJoined.
    assert_eq!(s.clients[0].roster().count(), 4);
    assert_eq!(s.clients[2].roster().count(), 4);
    let views: Vec<_> = s.hub.links().map(|v| (v.addr, v.name)).collect();
    assert_eq!(views[0], (Some(ip(2)), Some("p0")));
}

#[test]
fn joined_and_peer_joined_events() {
    let t0 = Instant::now();
    let mut hub = Session::hub(Config::new("host", wads()), t0);
    let mut c = Session::client(Config::new("joe", wads()), t0);
    let hl = hub.link_up(t0).unwrap();
    let cl = c.link_up(t0).unwrap();
    let hello = drain(&mut c);
    hub.handle_frame(t0, hl, &transmits(&hello)[0].frame);
    let outs = drain(&mut hub);
    assert_eq!(
        events(&outs),
        vec![&Event::PeerJoined {
            link: Some(hl),
            peer: PeerInfo {
                addr: ip(2),
                name: "joe".into()
            }
        }]
    );
    let t = transmits(&outs);
    assert_eq!(t.len(), 1);
    c.handle_frame(t0, cl, &t[0].frame);
    let outs = drain(&mut c);
    assert_eq!(
        events(&outs),
        vec![&Event::Joined {
            addr: ip(2),
            hub: ip(1),
            subnet: Subnet::default(),
            peers: vec![PeerInfo {
                addr: ip(1),
                name: "host".into()
            }]
        }]
    );
}

#[test]
fn datagrams_are_routed_by_destination() {
    let mut s = Star::new(2);
    let t0 = s.t0;
    // client 0 -> client 1 through the hub
    s.clients[0]
        .send_from_guest(t0, 5000, ip(3), 2342, b"to three")
        .unwrap();
    let rest = s.flush();
    assert!(
        deliveries(&rest[0]).is_empty(),
        "the hub's guest is not the target"
    );
    assert!(deliveries(&rest[1]).is_empty());
    assert_eq!(
        deliveries(&rest[2]),
        vec![&Delivery {
            dst_port: 2342,
            src_ip: ip(2),
            src_port: 5000,
            data: b"to three".to_vec()
        }]
    );
    // client 1 -> hub
    s.clients[1]
        .send_from_guest(t0, 6000, ip(1), 2342, b"to hub")
        .unwrap();
    let rest = s.flush();
    assert_eq!(deliveries(&rest[0])[0].src_ip, ip(3));
    assert_eq!(deliveries(&rest[0])[0].src_port, 6000);
    // hub -> client 0
    s.hub
        .send_from_guest(t0, 2342, ip(2), 5000, b"reply")
        .unwrap();
    let rest = s.flush();
    assert_eq!(deliveries(&rest[1])[0].src_ip, ip(1));
    assert_eq!(deliveries(&rest[1])[0].data, b"reply");
    // The figures follow.
    let hub_link_0 = s.links[0].1;
    let st = s.hub.link_stats(hub_link_0).unwrap();
    assert_eq!((st.dgrams_in, st.dgram_bytes_in), (1, 8));
    assert_eq!((st.dgrams_out, st.dgram_bytes_out), (1, 5));
    assert_eq!(s.hub.stats().guest_dgrams_in, 1);
    assert_eq!(s.hub.stats().guest_dgrams_out, 1);
    assert_eq!(s.clients[1].stats().guest_dgrams_in, 1);
}

#[test]
fn broadcasts_fan_out_to_everyone_but_the_sender() {
    let mut s = Star::new(3);
    let t0 = s.t0;
    for dst in [Ipv4Addr::BROADCAST, ip(255)] {
        s.clients[1]
            .send_from_guest(t0, 5000, dst, 2342, b"anyone?")
            .unwrap();
        let rest = s.flush();
        assert_eq!(deliveries(&rest[0]).len(), 1, "hub");
        assert_eq!(deliveries(&rest[1]).len(), 1);
        assert_eq!(deliveries(&rest[2]).len(), 0, "not back to the sender");
        assert_eq!(deliveries(&rest[3]).len(), 1);
        assert!(deliveries(&rest[3]).iter().all(|d| d.src_ip == ip(3)));
    }
    s.hub
        .send_from_guest(t0, 2342, Ipv4Addr::BROADCAST, 5000, b"all")
        .unwrap();
    let rest = s.flush();
    assert!(deliveries(&rest[0]).is_empty());
    assert!((1..4).all(|i| deliveries(&rest[i]).len() == 1));
}

#[test]
fn forged_sources_are_dropped_and_counted() {
    let mut s = Star::new(2);
    let t0 = s.t0;
    let (_, hl0) = s.links[0];
    // Client 0 (10.77.0.2) claims to be client 1 (10.77.0.3), then the hub.
    for fake in [ip(3), ip(1), Ipv4Addr::new(8, 8, 8, 8)] {
        let forged = DatagramFrame {
            src: SocketAddrV4::new(fake, 2342),
            dst: SocketAddrV4::new(ip(3), 2342),
            payload: b"evil",
        }
        .to_vec()
        .unwrap();
        s.hub.handle_frame(t0, hl0, &forged);
    }
    let rest = s.flush();
    assert!(rest.iter().all(|r| deliveries(r).is_empty()));
    let st = s.hub.link_stats(hl0).unwrap();
    assert_eq!(st.drops_forged, 3);
    assert_eq!(st.dgrams_in, 0);
    // Chat and lobby lines in someone else's name too.
    let chat = Frame::Chat(Line {
        from: ip(3),
        text: "I am three".into(),
    });
    s.hub.handle_frame(t0, hl0, &chat.to_vec().unwrap());
    let rest = s.flush();
    assert!(events(&rest[0]).is_empty());
    assert!(events(&rest[2]).is_empty());
    assert_eq!(s.hub.link_stats(hl0).unwrap().drops_forged, 4);
}

#[test]
fn a_client_drops_what_the_hub_should_never_send() {
    let mut s = Star::new(2);
    let t0 = s.t0;
    let (cl0, _) = s.links[0];
    let bad = [
        // from ourselves
        (ip(2), ip(2)),
        // from outside the subnet
        (Ipv4Addr::new(1, 2, 3, 4), ip(2)),
        // to someone else
        (ip(3), ip(4)),
    ];
    for (src, dst) in bad {
        let f = DatagramFrame {
            src: SocketAddrV4::new(src, 1),
            dst: SocketAddrV4::new(dst, 1),
            payload: b"x",
        }
        .to_vec()
        .unwrap();
        s.clients[0].handle_frame(t0, cl0, &f);
    }
    assert!(deliveries(&drain(&mut s.clients[0])).is_empty());
    let st = s.clients[0].link_stats(cl0).unwrap();
    assert_eq!((st.drops_forged, st.drops_invalid), (2, 1));
}

#[test]
fn out_of_network_destinations_are_dropped_and_counted() {
    let mut s = Star::new(1);
    let t0 = s.t0;
    let master = Ipv4Addr::new(93, 184, 216, 34);
    for dst in [
        master,
        Ipv4Addr::new(10, 77, 1, 2),
        ip(0),
        Ipv4Addr::LOCALHOST,
    ] {
        assert_eq!(
            s.clients[0].send_from_guest(t0, 1, dst, 2342, b"register"),
            Err(SendError::OutOfNetwork(dst))
        );
        assert_eq!(
            s.hub.send_from_guest(t0, 1, dst, 2342, b"register"),
            Err(SendError::OutOfNetwork(dst))
        );
    }
    assert_eq!(s.clients[0].stats().drops_out_of_network, 4);
    assert_eq!(s.hub.stats().drops_out_of_network, 4);
    // A client that bypasses its own check is stopped by the hub.
    let (_, hl) = s.links[0];
    let f = DatagramFrame {
        src: SocketAddrV4::new(ip(2), 1),
        dst: SocketAddrV4::new(master, 2342),
        payload: b"x",
    }
    .to_vec()
    .unwrap();
    s.hub.handle_frame(t0, hl, &f);
    assert!(transmits(&drain(&mut s.hub)).is_empty());
    assert_eq!(s.hub.link_stats(hl).unwrap().drops_out_of_network, 1);
    assert_eq!(SendError::OutOfNetwork(master).wasi_errno(), 40);
}

#[test]
fn unassigned_hosts_have_no_route() {
    let mut s = Star::new(1);
    let t0 = s.t0;
    assert_eq!(
        s.hub.send_from_guest(t0, 1, ip(9), 1, b"?"),
        Err(SendError::NoRoute(ip(9)))
    );
    assert_eq!(s.hub.stats().drops_no_route, 1);
    s.clients[0].send_from_guest(t0, 1, ip(9), 1, b"?").unwrap();
    s.flush();
    assert_eq!(s.hub.link_stats(s.links[0].1).unwrap().drops_no_route, 1);
}

#[test]
fn guest_edge_cases() {
    let t0 = Instant::now();
    let mut c = Session::client(Config::new("c", wads()), t0);
    assert_eq!(
        c.send_from_guest(t0, 1, ip(1), 1, b"early"),
        Err(SendError::NotConnected)
    );
    assert_eq!(c.stats().drops_not_connected, 1);
    let mut hub = Session::hub(Config::new("h", wads()), t0);
    let big = vec![0; MAX_DGRAM_PAYLOAD + 1];
    let e = hub.send_from_guest(t0, 1, ip(2), 1, &big).unwrap_err();
    assert_eq!(e, SendError::TooLarge(MAX_DGRAM_PAYLOAD + 1));
    assert_eq!(e.wasi_errno(), 35);
    assert_eq!(hub.stats().drops_too_large, 1);
    // The largest datagram goes through.
    let max = vec![7; MAX_DGRAM_PAYLOAD];
    hub.send_from_guest(t0, 1, ip(1), 9, &max).unwrap();
    // To our own virtual address: looped back to our guest.
    hub.send_from_guest(t0, 1234, ip(1), 2342, b"me").unwrap();
    let d = drain(&mut hub);
    assert_eq!(deliveries(&d).len(), 2);
    assert_eq!(deliveries(&d)[1].src_ip, ip(1));
    assert_eq!(deliveries(&d)[1].src_port, 1234);
    // Broadcast with nobody there: fine, nobody hears.
    hub.send_from_guest(t0, 1, Ipv4Addr::BROADCAST, 1, b"x")
        .unwrap();
    assert!(drain(&mut hub).is_empty());
    hub.add_guest_queue_drops(3);
    hub.add_guest_queue_drops(2);
    assert_eq!(hub.stats().drops_guest_queue, 5);
}

fn refused_with(hub_cfg: Config, client_cfg: Config) -> (Vec<Output>, Vec<Output>) {
    let t0 = Instant::now();
    let mut hub = Session::hub(hub_cfg, t0);
    let mut c = Session::client(client_cfg, t0);
    let hl = hub.link_up(t0).unwrap();
    let cl = c.link_up(t0).unwrap();
    hub.handle_frame(t0, hl, &transmits(&drain(&mut c))[0].frame);
    let hub_out = drain(&mut hub);
    for t in transmits(&hub_out) {
        c.handle_frame(t0, cl, &t.frame);
    }
    (hub_out, drain(&mut c))
}

#[test]
fn wad_mismatch_is_refused() {
    let other = WadSet {
        iwad: [1; 32],
        pwads: vec![[5u8; 32]],
    };
    let (hub_out, c_out) = refused_with(Config::new("h", wads()), Config::new("c", other));
    let t = transmits(&hub_out);
    assert_eq!(t.len(), 1);
    let Frame::Bye(b) = Frame::parse(&t[0].frame).unwrap() else {
        panic!()
    };
    assert_eq!(b.reason, ByeReason::WadMismatch);
    assert!(matches!(
        events(&hub_out)[..],
        [Event::LinkClosed {
            peer: None,
            reason: CloseReason::Refused(ByeReason::WadMismatch),
            ..
        }]
    ));
    assert!(matches!(
        events(&c_out)[..],
        [Event::LinkClosed {
            reason: CloseReason::ByeReceived(ByeReason::WadMismatch),
            ..
        }]
    ));
}

#[test]
fn a_full_network_refuses() {
    // A /30 holds a hub and one client.
    let mut cfg = Config::new("h", wads());
    cfg.subnet = Subnet::new(Ipv4Addr::new(10, 9, 0, 0), 30).unwrap();
    let t0 = Instant::now();
    let mut hub = Session::hub(cfg, t0);
    let mut outcomes = Vec::new();
    for i in 0..2 {
        let mut c = Session::client(Config::new(format!("c{i}"), wads()), t0);
        let hl = hub.link_up(t0).unwrap();
        let cl = c.link_up(t0).unwrap();
        hub.handle_frame(t0, hl, &transmits(&drain(&mut c))[0].frame);
        for t in transmits(&drain(&mut hub)) {
            c.handle_frame(t0, cl, &t.frame);
        }
        outcomes.push(c.local_addr());
        drain(&mut c);
    }
    assert_eq!(outcomes, vec![Some(Ipv4Addr::new(10, 9, 0, 2)), None]);
}

#[test]
fn another_protocol_version_is_refused() {
    let t0 = Instant::now();
    let mut hub = Session::hub(Config::new("h", wads()), t0);
    let hl = hub.link_up(t0).unwrap();
    hub.handle_frame(t0, hl, &[2, frame_type::HELLO, 0, 0]);
    let out = drain(&mut hub);
    let Frame::Bye(b) = Frame::parse(&transmits(&out)[0].frame).unwrap() else {
        panic!()
    };
    assert_eq!(b.reason, ByeReason::IncompatibleVersion);
    assert!(hub.links().next().is_none());
}

#[test]
fn garbage_is_counted_not_fatal() {
    let mut s = Star::new(1);
    let t0 = s.t0;
    let (cl, hl) = s.links[0];
    for junk in [&[][..], &[1], &[1, 0xee, 0], &[1, frame_type::HELLO, 9]] {
        s.hub.handle_frame(t0, hl, junk);
        s.clients[0].handle_frame(t0, cl, junk);
    }
    // A second Hello, a Welcome sent to the hub: not allowed there.
    let w = Frame::Welcome(Welcome {
        your_addr: ip(2),
        subnet: Subnet::default(),
        hub_addr: ip(1),
        peers: vec![],
    })
    .to_vec()
    .unwrap();
    s.hub.handle_frame(t0, hl, &w);
    assert_eq!(s.hub.link_stats(hl).unwrap().drops_invalid, 5);
    assert_eq!(s.clients[0].link_stats(cl).unwrap().drops_invalid, 4);
    // Frames on a link nobody has.
    s.hub.handle_frame(t0, LinkId(99), &w);
    assert_eq!(s.hub.stats().frames_unknown_link, 1);
    // Still working.
    s.clients[0]
        .send_from_guest(t0, 1, ip(1), 2, b"ok")
        .unwrap();
    assert_eq!(deliveries(&s.flush()[0]).len(), 1);
}

#[test]
fn pings_measure_rtt_and_loss() {
    let t0 = Instant::now();
    let mut hub = Session::hub(Config::new("h", wads()), t0);
    let mut c = Session::client(Config::new("c", wads()), t0);
    let hl = hub.link_up(t0).unwrap();
    let cl = c.link_up(t0).unwrap();
    hub.handle_frame(t0, hl, &transmits(&drain(&mut c))[0].frame);
    for t in transmits(&drain(&mut hub)) {
        c.handle_frame(t0, cl, &t.frame);
    }
    drain(&mut c);
    assert_eq!(
        hub.poll_timeout(),
        Some(t0),
        "first ping right after the handshake"
    );
    // Ten rounds: the hub pings every second, the client answers 40 ms later; every third ping
    // is lost.
    for round in 0..10u64 {
        let now = t0 + Duration::from_secs(round);
        hub.handle_timeout(now);
        let out = drain(&mut hub);
        let pings = transmits(&out);
        assert_eq!(pings.len(), 1, "round {round}");
        assert_eq!(pings[0].channel, Channel::Datagram);
        assert_eq!(pings[0].frame[1], frame_type::PING);
        if round % 3 == 2 {
            continue;
        }
        c.handle_frame(now + ms(20), cl, &pings[0].frame);
        let pong = drain(&mut c);
        hub.handle_frame(now + ms(40), hl, &transmits(&pong)[0].frame);
        assert!(drain(&mut hub).is_empty());
    }
    hub.handle_timeout(t0 + Duration::from_secs(10) + ms(1));
    let st = hub.link_stats(hl).unwrap();
    assert_eq!(st.rtt, Some(ms(40)));
    assert_eq!(st.rtt_last, Some(ms(40)));
    assert_eq!(st.pings_sent, 11);
    assert_eq!(st.pongs_received, 7);
    // Lost pings are given up on 2 s after they left: rounds 2, 5 and 8; the ping of 10 s is
    // still in flight.
    assert_eq!(st.pings_lost, 3);
    assert!((st.loss - 0.3).abs() < 1e-9, "{}", st.loss);
    assert_eq!(st.last_heard, Some(t0 + Duration::from_secs(9) + ms(40)));
}

#[test]
fn a_silent_link_is_declared_dead_after_the_timeout() {
    let mut s = Star::new(2);
    let t0 = s.t0;
    let (_, hl0) = s.links[0];
    // Client 1 keeps talking, client 0 is silent.
    let mut now = t0;
    let mut closed = Vec::new();
    let mut left_seen_by_1 = false;
    for _ in 0..12 {
        now += Duration::from_secs(1);
        s.hub.handle_timeout(now);
        s.clients[1].handle_timeout(now);
        for o in drain(&mut s.hub) {
            match o {
                Output::Transmit(t) if t.link == s.links[1].1 => {
                    s.clients[1].handle_frame(now, s.links[1].0, &t.frame)
                }
                Output::Event(e) => closed.push((now, e)),
                _ => {}
            }
        }
        for o in drain(&mut s.clients[1]) {
            match o {
                Output::Transmit(t) => s.hub.handle_frame(now, s.links[1].1, &t.frame),
                Output::Event(Event::PeerLeft { peer, reason, .. }) => {
                    assert_eq!((peer.addr, reason), (ip(2), ByeReason::TimedOut));
                    left_seen_by_1 = true;
                }
                _ => {}
            }
        }
    }
    let when_dead = closed
        .iter()
        .find_map(|(t, e)| match e {
            Event::LinkClosed {
                link,
                reason: CloseReason::TimedOut,
                peer,
                ..
            } if *link == hl0 => {
                assert_eq!(peer.as_ref().unwrap().addr, ip(2));
                Some(*t)
            }
            _ => None,
        })
        .expect("client 0 declared dead");
    // Last heard at t0 (the handshake): dead at t0 + 10 s.
    assert_eq!(when_dead, t0 + Duration::from_secs(10));
    assert!(left_seen_by_1);
    assert_eq!(s.hub.links().count(), 1);
    assert!(s.hub.roster().all(|p| p.addr != ip(2)));
    // The address is not reused right away.
    let mut c = Session::client(Config::new("new", wads()), now);
    let hl = s.hub.link_up(now).unwrap();
    let cl = c.link_up(now).unwrap();
    s.hub
        .handle_frame(now, hl, &transmits(&drain(&mut c))[0].frame);
    for t in transmits(&drain(&mut s.hub)) {
        if t.link == hl {
            c.handle_frame(now, cl, &t.frame);
        }
    }
    assert_eq!(c.local_addr(), Some(ip(4)));
}

#[test]
fn a_handshake_that_never_finishes_times_out() {
    let t0 = Instant::now();
    let mut hub = Session::hub(Config::new("h", wads()), t0);
    let hl = hub.link_up(t0).unwrap();
    // Garbage does not keep a pending link alive.
    hub.handle_frame(t0 + Duration::from_secs(9), hl, &[1, 0xee, 0]);
    assert_eq!(hub.poll_timeout(), Some(t0 + Duration::from_secs(10)));
    hub.handle_timeout(t0 + Duration::from_secs(10));
    assert!(matches!(
        events(&drain(&mut hub))[..],
        [Event::LinkClosed {
            reason: CloseReason::TimedOut,
            peer: None,
            ..
        }]
    ));
    assert_eq!(hub.poll_timeout(), None);
    let mut c = Session::client(Config::new("c", wads()), t0);
    c.link_up(t0).unwrap();
    assert_eq!(c.link_up(t0), Err(SessionError::AlreadyLinked));
    c.handle_timeout(t0 + Duration::from_secs(10));
    drain(&mut c);
    // The link is gone: a new one may be tried.
    assert!(c.link_up(t0 + Duration::from_secs(10)).is_ok());
}

#[test]
fn chat_and_lobby_reach_every_member() {
    let mut s = Star::new(2);
    let t0 = s.t0;
    s.hub.set_lobby(t0, "map=MAP01 skill=4").unwrap();
    s.clients[0].send_chat(t0, "hello all").unwrap();
    s.clients[1].set_lobby(t0, "ready").unwrap();
    let rest = s.flush();
    let chat = |e: &&Event| matches!(e, Event::Chat { from, name, text } if *from == ip(2) && name == "p0" && text == "hello all");
    assert!(events(&rest[0]).iter().any(chat));
    assert!(!events(&rest[1]).iter().any(chat), "no echo to the sender");
    assert!(events(&rest[2]).iter().any(chat));
    assert_eq!(s.clients[0].lobby(ip(1)), Some("map=MAP01 skill=4"));
    assert_eq!(s.clients[0].lobby(ip(3)), Some("ready"));
    assert_eq!(s.hub.lobby(ip(3)), Some("ready"));
    // A newcomer gets the lobby states on joining.
    let mut c = Session::client(Config::new("late", wads()), t0);
    c.set_lobby(t0, "spectator").unwrap();
    let rest = s.join(c);
    assert_eq!(s.clients[2].lobby(ip(1)), Some("map=MAP01 skill=4"));
    assert_eq!(s.clients[2].lobby(ip(3)), Some("ready"));
    assert_eq!(s.clients[0].lobby(ip(4)), Some("spectator"));
    assert!(events(&rest[1])
        .iter()
        .any(|e| matches!(e, Event::PeerJoined { peer, .. } if peer.name == "late")));
    // Too long, or before joining.
    let long = "x".repeat(crate::relay::wire::MAX_CHAT_LEN + 1);
    assert!(s.hub.send_chat(t0, &long).is_err());
    let mut lone = Session::client(Config::new("c", wads()), t0);
    assert_eq!(lone.send_chat(t0, "hi"), Err(SessionError::NotConnected));
}

#[test]
fn a_clients_chat_flood_is_cut_to_its_rate_before_the_hub_relays_it() {
    let mut s = Star::new(2);
    let t0 = s.t0;
    // Chat events from the flooding client (10.77.0.2) among one member's outputs.
    let chats = |out: &[Output]| {
        events(out)
            .into_iter()
            .filter(|e| matches!(e, Event::Chat { from, .. } if *from == ip(2)))
            .count()
    };
    for i in 0..30 {
        s.clients[0].send_chat(t0, &format!("spam {i}")).unwrap();
        s.clients[0].set_lobby(t0, &format!("lobby {i}")).unwrap();
    }
    let rest = s.flush();
    let burst = LINE_BURST as usize;
    let seen_by_hub = chats(&rest[0]);
    let relayed = chats(&rest[2]);
    // Chat and lobby lines share the budget: the burst, and not one line more.
    assert!(seen_by_hub <= burst && seen_by_hub > 0, "{seen_by_hub}");
    assert_eq!(relayed, seen_by_hub);
    let hub_link = s.links[0].1;
    let flood = |s: &Star| {
        s.hub
            .links()
            .find(|l| l.link == hub_link)
            .map(|l| l.stats.drops_flood)
            .unwrap()
    };
    assert_eq!(flood(&s), 60 - burst as u64);
    // A second later, the rate's worth goes through again; the other client was never limited.
    s.t0 = t0 + Duration::from_secs(1);
    let t1 = s.t0;
    for i in 0..5 {
        s.clients[0].send_chat(t1, &format!("later {i}")).unwrap();
    }
    s.clients[1].send_chat(t1, "mine").unwrap();
    let rest = s.flush();
    let later = chats(&rest[2]);
    assert_eq!(later, LINES_PER_SEC as usize);
    assert!(events(&rest[1])
        .iter()
        .any(|e| matches!(e, Event::Chat { text, .. } if text == "mine")));
}

#[test]
fn kick_and_close() {
    let mut s = Star::new(2);
    let t0 = s.t0;
    let (_, hl0) = s.links[0];
    s.hub.kick(t0, hl0).unwrap();
    assert_eq!(s.hub.kick(t0, hl0), Err(SessionError::UnknownLink(hl0)));
    let rest = s.flush();
    assert!(events(&rest[1]).iter().any(|e| matches!(
        e,
        Event::LinkClosed {
            reason: CloseReason::ByeReceived(ByeReason::Kicked),
            ..
        }
    )));
    assert_eq!(s.clients[0].local_addr(), None);
    assert!(events(&rest[2]).iter().any(|e| matches!(
        e,
        Event::PeerLeft {
            reason: ByeReason::Kicked,
            ..
        }
    )));
    assert_eq!(
        s.clients[1].kick(t0, s.links[1].0),
        Err(SessionError::NotHub)
    );
    s.hub.close(t0, ByeReason::HubClosing);
    let out = drain(&mut s.hub);
    // One Bye to the remaining client, no PeerLeft about anyone: the game is over.
    let sent: Vec<u8> = transmits(&out).iter().map(|t| t.frame[1]).collect();
    assert_eq!(sent, vec![frame_type::BYE]);
    s.clients[1].handle_frame(t0, s.links[1].0, &transmits(&out)[0].frame);
    let c1 = drain(&mut s.clients[1]);
    assert!(s.hub.is_closed());
    assert!(events(&c1).iter().any(|e| matches!(
        e,
        Event::LinkClosed {
            reason: CloseReason::ByeReceived(ByeReason::HubClosing),
            ..
        }
    )));
    assert_eq!(
        s.hub.send_from_guest(t0, 1, ip(1), 1, b"x"),
        Err(SendError::NotConnected)
    );
    assert_eq!(s.hub.link_up(t0), Err(SessionError::Closed));
    assert_eq!(s.hub.poll_timeout(), None);
}

#[test]
fn long_names_are_cut_to_fit_the_wire() {
    let t0 = Instant::now();
    let mut c = Session::client(Config::new("é".repeat(40), wads()), t0);
    assert_eq!(c.config().name.len(), 32);
    c.link_up(t0).unwrap();
    let out = drain(&mut c);
    assert!(Hello::parse(&transmits(&out)[0].frame).is_ok());
}

#[test]
fn a_session_can_move_to_another_thread() {
    // The app may own the session on a network thread and feed it from the kernel's.
    fn is_send<T: Send>() {}
    is_send::<Session>();
    is_send::<crate::sim::SimNet>();
}
