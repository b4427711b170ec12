//! The side protocol: every malformed frame is refused with the right error (short, oversized,
//! bad version, unknown type, bad lengths, bad UTF-8, control characters, trailing bytes), a
//! proptest round trip and a no-panic fuzz, and the sans-IO state with injected timestamps: RTT
//! from a ping/pong exchange, the host relaying chat, and probing of a silent peer stopping.

use super::*;
use crate::chocolate::{Header, PacketError, PacketType};
use proptest::prelude::*;

/// The magic read as Chocolate Doom reads a packet's first two bytes is no packet type, with or
/// without the reliable bit: a native peer drops a side frame.
#[test]
fn the_magic_is_no_chocolate_doom_packet() {
    let mut frame = Vec::new();
    ping().emit(&mut frame).unwrap();
    assert!(matches!(
        Header::parse(&frame),
        Err(PacketError::UnknownType(_))
    ));
    assert!(PacketType::from_code(u16::from_be_bytes([MAGIC[0], MAGIC[1]])).is_none());
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

fn ping() -> SideMsg {
    SideMsg::Ping {
        seq: 7,
        time_us: 123_456,
        name: "Imp".into(),
    }
}

fn chat() -> SideMsg {
    SideMsg::Chat {
        name: "Imp".into(),
        text: "hello".into(),
    }
}

#[test]
fn frames_have_the_documented_layout() {
    assert_eq!(
        ping().to_vec().unwrap(),
        b"DLNK\x01\x01\x00\x00\x00\x07\x00\x00\x00\x00\x00\x01\xe2\x40\x03Imp"
    );
    assert_eq!(
        chat().to_vec().unwrap(),
        b"DLNK\x01\x03\x03Imp\x00\x05hello"
    );
    // Read as Chocolate Doom reads a packet type, the magic is no type, reliable bit or not.
    let t = u16::from_be_bytes([MAGIC[0], MAGIC[1]]);
    assert!(t & 0x7fff > 0x100, "{t:#x}");
    assert!(!is_side_frame(&[0x00, 0x00, 0x00]));
    assert!(!is_side_frame(b"\x80\x06DLNK"));
}

#[test]
fn malformed_frames_are_refused() {
    use SideFrameError::*;
    let good = chat().to_vec().unwrap();
    // Every proper prefix is short (or not even a side frame).
    for n in 0..good.len() {
        let e = SideMsg::parse(&good[..n]).unwrap_err();
        assert!(
            matches!(e, NotSide | Truncated(_) | BadLength { .. }),
            "prefix {n}: {e:?}"
        );
    }
    assert_eq!(SideMsg::parse(&[0, 1, 2, 3, 4, 5]), Err(NotSide));
    let mut v = good.clone();
    v[4] = 2;
    assert_eq!(SideMsg::parse(&v), Err(UnsupportedVersion(2)));
    v[4] = 1;
    v[5] = 9;
    assert_eq!(SideMsg::parse(&v), Err(UnknownType(9)));
    let mut t = good.clone();
    t.push(0);
    assert_eq!(SideMsg::parse(&t), Err(Trailing(1)));
    let mut big = good.clone();
    big.resize(MAX_FRAME_LEN + 1, b'a');
    assert_eq!(SideMsg::parse(&big), Err(Oversized(MAX_FRAME_LEN + 1)));
    // Lengths out of range: an empty name, a name over 32, a text over 200 (the frame is still
    // under the cap), an empty text.
    assert!(matches!(
        SideMsg::parse(b"DLNK\x01\x03\x00\x00\x01a"),
        Err(BadLength { what: "name", .. })
    ));
    let mut long_name = b"DLNK\x01\x03\x21".to_vec();
    long_name.extend([b'a'; 33]);
    long_name.extend(b"\x00\x01a");
    assert!(matches!(
        SideMsg::parse(&long_name),
        Err(BadLength {
            what: "name",
            len: 33,
            ..
        })
    ));
    let mut long_text = b"DLNK\x01\x03\x01a\x00\xc9".to_vec();
    long_text.extend([b'a'; 201]);
    assert!(matches!(
        SideMsg::parse(&long_text),
        Err(BadLength {
            what: "chat text",
            len: 201,
            ..
        })
    ));
    assert!(matches!(
        SideMsg::parse(b"DLNK\x01\x03\x01a\x00\x00"),
        Err(BadLength {
            what: "chat text",
            ..
        })
    ));
    // A length promising more than is there.
    assert_eq!(
        SideMsg::parse(b"DLNK\x01\x03\x01a\x00\x09abc"),
        Err(Truncated("chat text"))
    );
    // Bad UTF-8 and control characters (an escape sequence for a terminal).
    assert_eq!(
        SideMsg::parse(b"DLNK\x01\x03\x01a\x00\x02\xc3\x28"),
        Err(BadText("chat text"))
    );
    assert_eq!(
        SideMsg::parse(b"DLNK\x01\x03\x02\x1b[\x00\x01a"),
        Err(BadText("name"))
    );
    // Ping with a bad name, and a ping cut inside its timestamp.
    assert_eq!(
        SideMsg::parse(b"DLNK\x01\x01\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x01\x01\xff"),
        Err(BadText("name"))
    );
    assert_eq!(
        SideMsg::parse(b"DLNK\x01\x02\x00\x00\x00\x01\x00\x00"),
        Err(Truncated("timestamp"))
    );
    // Rosters: too many entries, a loss over 100%, an entry cut short.
    let mut many = b"DLNK\x01\x04\x11".to_vec();
    for _ in 0..17 {
        many.extend(b"\x01a\x00\x00\x00\x01\x00");
    }
    assert!(matches!(
        SideMsg::parse(&many),
        Err(BadLength {
            what: "roster",
            len: 17,
            ..
        })
    ));
    assert!(matches!(
        SideMsg::parse(b"DLNK\x01\x04\x01\x01a\x00\x00\x00\x01\x65"),
        Err(BadLength {
            what: "loss percentage",
            ..
        })
    ));
    assert_eq!(
        SideMsg::parse(b"DLNK\x01\x04\x02\x01a\x00\x00\x00\x01\x00\x01b\x00"),
        Err(Truncated("roster RTT"))
    );
    assert_eq!(
        SideMsg::parse(b"DLNK\x01\x04\x01\x01a\xff\xff\xff\xff\xff"),
        Ok(SideMsg::Roster {
            entries: vec![RosterEntry {
                name: "a".into(),
                rtt_us: None,
                loss_pct: None
            }]
        })
    );
    // emit refuses what parse refuses, and writes nothing then.
    let mut out = vec![1, 2];
    let bad = SideMsg::Chat {
        name: "a".into(),
        text: "x".repeat(201),
    };
    assert!(bad.emit(&mut out).is_err());
    assert_eq!(out, [1, 2]);
    let bad = SideMsg::Pong {
        seq: 1,
        time_us: 1,
        name: String::new(),
    };
    assert!(bad.to_vec().is_err());
}

fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[^\\p{{Cc}}]{{1,{max}}}"))
        .unwrap()
        .prop_filter("byte length", move |s| s.len() <= max)
}

fn any_msg() -> impl Strategy<Value = SideMsg> {
    prop_oneof![
        (any::<u32>(), any::<u64>(), text(MAX_NAME_LEN))
            .prop_map(|(seq, time_us, name)| SideMsg::Ping { seq, time_us, name }),
        (any::<u32>(), any::<u64>(), text(MAX_NAME_LEN))
            .prop_map(|(seq, time_us, name)| SideMsg::Pong { seq, time_us, name }),
        (text(MAX_NAME_LEN), text(MAX_TEXT_LEN))
            .prop_map(|(name, text)| SideMsg::Chat { name, text }),
        proptest::collection::vec(
            (
                text(MAX_NAME_LEN),
                proptest::option::of(0..u32::MAX),
                proptest::option::of(0..=100u8)
            ),
            0..=MAX_ROSTER
        )
        .prop_map(|v| SideMsg::Roster {
            entries: v
                .into_iter()
                .map(|(name, rtt_us, loss_pct)| RosterEntry {
                    name,
                    rtt_us,
                    loss_pct
                })
                .collect()
        }),
    ]
}

proptest! {
    #[test]
    fn every_valid_frame_round_trips(m in any_msg()) {
        let v = m.to_vec().unwrap();
        prop_assert!(v.len() <= MAX_FRAME_LEN);
        prop_assert_eq!(SideMsg::parse(&v), Ok(m));
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..300)) {
        let mut v = MAGIC.to_vec();
        v.push(VERSION);
        v.extend(&body);
        if let Ok(m) = SideMsg::parse(&v) {
            // Whatever parses re-emits to the same bytes.
            prop_assert_eq!(m.to_vec().unwrap(), v);
        }
        let _ = SideMsg::parse(&body);
    }
}

/// Moves every Send from `from` to `to`, as a lossless network would; returns the chat lines
/// `from` yielded for its player.
fn deliver(
    now: Instant,
    from: &mut LanSide,
    from_addr: SocketAddr,
    peers: &mut [(&mut LanSide, SocketAddr)],
) -> Vec<(String, String)> {
    let mut chats = Vec::new();
    while let Some(o) = from.poll_output() {
        match o {
            SideOutput::Send { to, frame, .. } => {
                if let Some((side, _)) = peers.iter_mut().find(|(_, a)| *a == to) {
                    side.handle_frame(now, 2342, from_addr, &frame).unwrap();
                }
            }
            SideOutput::Chat { from, text } => chats.push((from, text)),
        }
    }
    chats
}

#[test]
fn a_ping_pong_exchange_gives_the_rtt() {
    let t0 = Instant::now();
    let (ha, ca) = (addr(2342), addr(50000));
    let mut host = LanSide::new(SideConfig::new("Host", SideRole::Host), t0);
    let mut client = LanSide::new(SideConfig::new("Client", SideRole::Client), t0);
    // The client's guest talks to the server: the server becomes a peer, pinged at once.
    client.guest_sent(t0, 49152, ha);
    assert_eq!(client.poll_timeout(), Some(t0));
    client.handle_timeout(t0);
    let Some(SideOutput::Send {
        local_port,
        to,
        frame,
    }) = client.poll_output()
    else {
        panic!("no ping");
    };
    assert_eq!((local_port, to), (49152, ha));
    assert!(matches!(SideMsg::parse(&frame), Ok(SideMsg::Ping { .. })));
    // The host answers 20 ms later (as it gets it); the pong is back 40 ms after the ping.
    host.handle_frame(t0 + ms(20), 2342, ca, &frame).unwrap();
    let Some(SideOutput::Send { to, frame, .. }) = host.poll_output() else {
        panic!("no pong");
    };
    assert_eq!(to, ca);
    client.handle_frame(t0 + ms(40), 49152, ha, &frame).unwrap();
    let p = &client.peers()[0];
    assert_eq!(p.kind, PeerKind::Doomlink);
    assert_eq!(p.name.as_deref(), Some("Host"));
    assert_eq!(p.rtt, Some(ms(40)));
    assert_eq!(p.loss, Some(0.0));
    assert_eq!((p.pings_sent, p.pongs_received, p.dgrams_out), (1, 1, 1));
    // The host learnt the client from its ping: a doomlink peer with a name.
    let h = &host.peers()[0];
    assert_eq!(
        (h.kind, h.name.as_deref()),
        (PeerKind::Doomlink, Some("Client"))
    );
    // The next ping is due a second later; one that is never answered counts as lost.
    assert_eq!(client.poll_timeout(), Some(t0 + ms(1000)));
    client.handle_timeout(t0 + ms(1000));
    assert!(client.poll_output().is_some());
    client.handle_timeout(t0 + ms(4000));
    let p = &client.peers()[0];
    assert_eq!(p.loss, Some(0.5));
    assert_eq!(p.rtt, Some(ms(40)));
}

#[test]
fn the_host_relays_chat_to_its_other_doomlink_clients() {
    let t0 = Instant::now();
    let ha = addr(2342);
    let (a1, a2, native) = (addr(50001), addr(50002), addr(50003));
    let mut host = LanSide::new(SideConfig::new("Host", SideRole::Host), t0);
    let mut c1 = LanSide::new(SideConfig::new("One", SideRole::Client), t0);
    let mut c2 = LanSide::new(SideConfig::new("Two", SideRole::Client), t0);
    for c in [&mut c1, &mut c2] {
        c.guest_sent(t0, 49152, ha);
        c.handle_timeout(t0);
    }
    // The host's guest also talks to a native client, which never answers.
    host.guest_sent(t0, 2342, native);
    deliver(t0, &mut c1, a1, &mut [(&mut host, ha)]);
    deliver(t0, &mut c2, a2, &mut [(&mut host, ha)]);
    // Pongs back to the clients.
    {
        let mut peers = [(&mut c1, a1), (&mut c2, a2)];
        deliver(t0, &mut host, ha, &mut peers);
    }
    // Nobody to chat with is an error, not a silent loss.
    let mut lonely = LanSide::new(SideConfig::new("Lone", SideRole::Host), t0);
    assert_eq!(lonely.send_chat(t0, "hi"), Err(SideError::NoPeers));
    // One's line reaches the host (shown there) and, relayed, Two; never the native peer, and
    // not back to One.
    c1.send_chat(t0, "gg").unwrap();
    deliver(t0, &mut c1, a1, &mut [(&mut host, ha)]);
    let mut relayed = Vec::new();
    while let Some(o) = host.poll_output() {
        relayed.push(o);
    }
    let sends: Vec<SocketAddr> = relayed
        .iter()
        .filter_map(|o| match o {
            SideOutput::Send { to, .. } => Some(*to),
            _ => None,
        })
        .collect();
    assert_eq!(sends, vec![a2]);
    assert!(relayed.contains(&SideOutput::Chat {
        from: "One".into(),
        text: "gg".into()
    }));
    for o in relayed {
        if let SideOutput::Send { frame, .. } = o {
            c2.handle_frame(t0, 49152, ha, &frame).unwrap();
        }
    }
    assert_eq!(
        c2.poll_output(),
        Some(SideOutput::Chat {
            from: "One".into(),
            text: "gg".into()
        })
    );
    // A client does not relay: a chat it gets yields only its own line.
    assert_eq!(c2.poll_output(), None);
    // A malformed frame is refused and counted against its sender.
    assert!(host.handle_frame(t0, 2342, a1, b"DLNK\x01\x03").is_err());
    let p1 = host.peers().into_iter().find(|p| p.addr == a1).unwrap();
    assert_eq!(p1.bad_frames, 1);
}

#[test]
fn probing_a_silent_peer_stops() {
    let t0 = Instant::now();
    let native = addr(2342);
    let mut side = LanSide::new(SideConfig::new("Me", SideRole::Client), t0);
    let mut pings = 0;
    // The guest talks to a native server for a minute, 35 datagrams a second.
    for tick in 0..60 * 35u64 {
        let now = t0 + Duration::from_micros(tick * 28_571);
        side.guest_sent(now, 49152, native);
        side.guest_received(now, native);
        side.handle_timeout(now);
        while let Some(o) = side.poll_output() {
            assert!(matches!(o, SideOutput::Send { to, .. } if to == native));
            pings += 1;
        }
    }
    assert_eq!(
        pings, 3,
        "a native peer sees max_unanswered pings, then nothing"
    );
    let p = &side.peers()[0];
    assert_eq!(p.kind, PeerKind::Silent);
    assert_eq!((p.rtt, p.loss), (None, None));
    assert!(p.dgrams_in > 2000 && p.dgrams_out > 2000);
    assert_eq!(side.send_chat(t0, "anyone?"), Err(SideError::NoPeers));
    // A peer that later answers after all is a doomlink peer again.
    let pong = SideMsg::Pong {
        seq: 99,
        time_us: 0,
        name: "Late".into(),
    }
    .to_vec()
    .unwrap();
    side.handle_frame(t0 + ms(61_000), 49152, native, &pong)
        .unwrap();
    assert_eq!(side.peers()[0].kind, PeerKind::Doomlink);
}

#[test]
fn quiet_peers_are_forgotten_and_floods_are_bounded() {
    let t0 = Instant::now();
    let mut side = LanSide::new(SideConfig::new("Me", SideRole::Host), t0);
    // Datagrams from strangers never create peers; pings from many addresses stop at the cap.
    side.guest_received(t0, addr(1));
    assert!(side.peers().is_empty());
    let p = ping().to_vec().unwrap();
    for port in 0..1000 {
        let _ = side.handle_frame(t0, 2342, addr(10_000 + port), &p);
    }
    assert_eq!(side.peers().len(), MAX_PEERS);
    side.handle_timeout(t0 + Duration::from_secs(31));
    assert!(side.peers().is_empty(), "forgotten after 30 s of silence");
    // A closed socket takes its peers along.
    side.guest_sent(t0, 7, addr(5));
    side.port_closed(7);
    assert!(side.peers().is_empty());
    // Names are cleaned to what the wire allows.
    let s = LanSide::new(SideConfig::new("\u{1b}[31m", SideRole::Host), t0);
    assert_eq!(s.name(), "[31m");
    let s = LanSide::new(SideConfig::new(&"é".repeat(40), SideRole::Host), t0);
    assert_eq!(s.name().len(), 32);
}

#[test]
fn the_host_lists_each_client_the_others() {
    let t0 = Instant::now();
    let ha = addr(2342);
    let (a1, a2) = (addr(50001), addr(50002));
    let mut host = LanSide::new(SideConfig::new("Host", SideRole::Host), t0);
    let mut c1 = LanSide::new(SideConfig::new("One", SideRole::Client), t0);
    let mut c2 = LanSide::new(SideConfig::new("Two", SideRole::Client), t0);
    // The clients ping the host; the host's guest answers them, so the host pings them too.
    for (c, a) in [(&mut c1, a1), (&mut c2, a2)] {
        c.guest_sent(t0, 49152, ha);
        c.handle_timeout(t0);
        deliver(t0, c, a, &mut [(&mut host, ha)]);
        host.guest_sent(t0, 2342, a);
    }
    let mut answers = Vec::new();
    host.handle_timeout(t0);
    // Pongs, pings and rosters to the clients; the clients' pongs back 2 ms later.
    {
        let mut peers = [(&mut c1, a1), (&mut c2, a2)];
        deliver(t0, &mut host, ha, &mut peers);
    }
    for (c, a) in [(&mut c1, a1), (&mut c2, a2)] {
        while let Some(o) = c.poll_output() {
            if let SideOutput::Send { frame, .. } = o {
                answers.push(a);
                host.handle_frame(t0 + ms(2), 2342, a, &frame).unwrap();
            }
        }
    }
    assert_eq!(answers.len(), 2, "each client answered the host's ping");
    // The next pass's rosters carry the RTTs just measured.
    host.handle_timeout(t0 + ms(1000));
    {
        let mut peers = [(&mut c1, a1), (&mut c2, a2)];
        deliver(t0 + ms(1000), &mut host, ha, &mut peers);
    }
    let want = |name: &str| {
        vec![RosterEntry {
            name: name.into(),
            rtt_us: Some(2000),
            loss_pct: Some(0),
        }]
    };
    assert_eq!(c1.roster(), want("Two"));
    assert_eq!(c2.roster(), want("One"));
    assert!(host.roster().is_empty());
    // A host ignores rosters (only a server sends them).
    let r = SideMsg::Roster { entries: want("X") }.to_vec().unwrap();
    host.handle_frame(t0, 2342, a1, &r).unwrap();
    assert!(host.roster().is_empty());
}
