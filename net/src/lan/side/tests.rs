//! The side protocol: every malformed frame is refused with the right error (short, oversized,
//! bad version, unknown type, bad lengths, bad UTF-8, control characters, trailing bytes), a
//! proptest round trip and a no-panic fuzz, and the sans-IO state with injected timestamps: RTT
//! from a ping/pong exchange, the host relaying chat, and probing of a silent peer stopping.
//! Then its defences against spoofed sources: a flood from strangers gets nothing, chat from
//! peers not verified goes nowhere, a flooding peer gets at most 1.5 × its bytes, and only a
//! pong with the right nonce verifies.

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

/// A side's outputs: its sends (to, frame) and the chat lines for its player.
type Drained = (Vec<(SocketAddr, Vec<u8>)>, Vec<(String, String)>);

fn drain(side: &mut LanSide) -> Drained {
    let (mut sends, mut chats) = (Vec::new(), Vec::new());
    while let Some(o) = side.poll_output() {
        match o {
            SideOutput::Send { to, frame, .. } => sends.push((to, frame)),
            SideOutput::Chat { from, text } => chats.push((from, text)),
        }
    }
    (sends, chats)
}

/// Moves every Send from `from` to `peers`, as a lossless network would; returns the chat lines
/// `from` yielded for its player.
fn deliver(
    now: Instant,
    from: &mut LanSide,
    from_addr: SocketAddr,
    peers: &mut [(&mut LanSide, SocketAddr)],
) -> Vec<(String, String)> {
    let (sends, chats) = drain(from);
    for (to, frame) in sends {
        if let Some((side, _)) = peers.iter_mut().find(|(_, a)| *a == to) {
            side.handle_frame(now, 2342, from_addr, &frame).unwrap();
        }
    }
    chats
}

/// What [`settle`] saw: the chat lines each side yielded (by index), and every frame sent
/// (from, to, bytes), also those to addresses no side holds (dropped).
type Settled = (
    Vec<(usize, String, String)>,
    Vec<(SocketAddr, SocketAddr, usize)>,
);

/// Moves every Send among `sides` to its addressee, as a lossless network would, until nothing
/// more is sent.
fn settle(now: Instant, sides: &mut [(&mut LanSide, SocketAddr)]) -> Settled {
    let (mut chats, mut wire) = (Vec::new(), Vec::new());
    loop {
        let mut frames = Vec::new();
        for (i, (side, from)) in sides.iter_mut().enumerate() {
            let (sends, lines) = drain(side);
            frames.extend(sends.into_iter().map(|(to, f)| (*from, to, f)));
            chats.extend(lines.into_iter().map(|(f, t)| (i, f, t)));
        }
        if frames.is_empty() {
            return (chats, wire);
        }
        for (from, to, frame) in frames {
            wire.push((from, to, frame.len()));
            if let Some((side, _)) = sides.iter_mut().find(|(_, a)| *a == to) {
                side.handle_frame(now, 2342, from, &frame).unwrap();
            }
        }
    }
}

/// A client's guest and the host's talk (the game's datagrams, both ways): each is a peer of
/// the other, with some bytes received.
fn play(now: Instant, host: &mut LanSide, ha: SocketAddr, client: &mut LanSide, ca: SocketAddr) {
    client.guest_sent(now, 49152, ha);
    host.guest_sent(now, 2342, ca);
    client.guest_received(now, ha, 100);
    host.guest_received(now, ca, 100);
}

fn line(from: &str, text: &str) -> (String, String) {
    (from.into(), text.into())
}

fn kind_of(side: &LanSide, a: SocketAddr) -> Option<PeerKind> {
    side.peers().iter().find(|p| p.addr == a).map(|p| p.kind)
}

fn ping_of(frame: &[u8]) -> (u32, u64) {
    match SideMsg::parse(frame) {
        Ok(SideMsg::Ping { seq, time_us, .. }) => (seq, time_us),
        other => panic!("not a ping: {other:?}"),
    }
}

fn pong(seq: u32, time_us: u64) -> Vec<u8> {
    let name = "Forger".into();
    SideMsg::Pong { seq, time_us, name }.to_vec().unwrap()
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
    // The ping overtakes the server's answer to the game: the host does not know the client
    // yet, so it neither answers nor learns it.
    host.handle_frame(t0 + ms(10), 2342, ca, &frame).unwrap();
    assert_eq!((host.poll_output(), host.ignored_frames()), (None, 1));
    assert!(host.peers().is_empty());
    // Once the host's guest answered the client, the host answers the ping 20 ms after it was
    // sent; the pong is back 40 ms after the ping.
    host.guest_sent(t0 + ms(15), 2342, ca);
    client.guest_received(t0 + ms(16), ha, 40);
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
    // The client's ping proved nothing to the host (anyone can send one); answering the host's
    // own ping does.
    let h = &host.peers()[0];
    assert_eq!((h.kind, h.name.as_deref()), (PeerKind::Probing, None));
    host.handle_timeout(t0 + ms(40));
    settle(t0 + ms(40), &mut [(&mut host, ha), (&mut client, ca)]);
    let h = &host.peers()[0];
    assert_eq!(
        (h.kind, h.name.as_deref()),
        (PeerKind::Doomlink, Some("Client"))
    );
    // Verified both ways, they chat.
    client.send_chat(t0 + ms(50), "hi").unwrap();
    host.send_chat(t0 + ms(50), "hello").unwrap();
    let (chats, _) = settle(t0 + ms(50), &mut [(&mut host, ha), (&mut client, ca)]);
    assert_eq!(
        chats,
        [
            (0, "Client".to_string(), "hi".to_string()),
            (1, "Host".to_string(), "hello".to_string())
        ]
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

/// Three verified doomlink players around a host, and a native client the host's guest talks to.
fn three_players(
    t0: Instant,
) -> (
    [LanSide; 3],
    [SocketAddr; 3],
    SocketAddr, // the native client
) {
    let addrs = [addr(2342), addr(50001), addr(50002)];
    let native = addr(50003);
    let mut host = LanSide::new(SideConfig::new("Host", SideRole::Host), t0);
    let mut c1 = LanSide::new(SideConfig::new("One", SideRole::Client), t0);
    let mut c2 = LanSide::new(SideConfig::new("Two", SideRole::Client), t0);
    play(t0, &mut host, addrs[0], &mut c1, addrs[1]);
    play(t0, &mut host, addrs[0], &mut c2, addrs[2]);
    host.guest_sent(t0, 2342, native);
    host.guest_received(t0, native, 100);
    for s in [&mut host, &mut c1, &mut c2] {
        s.handle_timeout(t0);
    }
    settle(
        t0,
        &mut [
            (&mut host, addrs[0]),
            (&mut c1, addrs[1]),
            (&mut c2, addrs[2]),
        ],
    );
    for a in &addrs[1..] {
        assert_eq!(kind_of(&host, *a), Some(PeerKind::Doomlink));
    }
    assert_eq!(kind_of(&host, native), Some(PeerKind::Probing));
    for c in [&c1, &c2] {
        assert_eq!(kind_of(c, addrs[0]), Some(PeerKind::Doomlink));
    }
    ([host, c1, c2], addrs, native)
}

#[test]
fn the_host_relays_chat_to_its_other_doomlink_clients() {
    let t0 = Instant::now();
    let ([mut host, mut c1, mut c2], [ha, a1, a2], _native) = three_players(t0);
    // Nobody to chat with is an error, not a silent loss.
    let mut lonely = LanSide::new(SideConfig::new("Lone", SideRole::Host), t0);
    assert_eq!(lonely.send_chat(t0, "hi"), Err(SideError::NoPeers));
    // One's line reaches the host (shown there) and, relayed, Two; never the native peer, and
    // not back to One.
    c1.send_chat(t0, "gg").unwrap();
    deliver(t0, &mut c1, a1, &mut [(&mut host, ha)]);
    let (sends, chats) = drain(&mut host);
    assert_eq!(sends.iter().map(|(to, _)| *to).collect::<Vec<_>>(), [a2]);
    assert_eq!(chats, [line("One", "gg")]);
    for (_, frame) in sends {
        c2.handle_frame(t0, 49152, ha, &frame).unwrap();
    }
    // A client does not relay: a chat it gets yields only its own line.
    assert_eq!(drain(&mut c2), (vec![], vec![line("One", "gg")]));
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
    let mut pings = Vec::new();
    // The guest talks to a native server for a minute, 35 datagrams a second each way.
    for tick in 0..60 * 35u64 {
        let now = t0 + Duration::from_micros(tick * 28_571);
        side.guest_sent(now, 49152, native);
        side.guest_received(now, native, 40);
        side.handle_timeout(now);
        let (sends, _) = drain(&mut side);
        assert!(sends.iter().all(|(to, _)| *to == native));
        pings.extend(sends.into_iter().map(|(_, f)| f));
    }
    assert_eq!(
        pings.len(),
        3,
        "a native peer sees max_unanswered pings, then nothing"
    );
    let p = &side.peers()[0];
    assert_eq!(p.kind, PeerKind::Silent);
    assert_eq!((p.rtt, p.loss), (None, None));
    assert!(p.dgrams_in > 2000 && p.dgrams_out > 2000);
    assert_eq!(p.bytes_in, p.dgrams_in * 40);
    assert_eq!(side.send_chat(t0, "anyone?"), Err(SideError::NoPeers));
    // A pong that does not echo our first ping's nonce proves nothing.
    let late = t0 + ms(60_500);
    let (seq, nonce) = ping_of(&pings[0]);
    side.handle_frame(late, 49152, native, &pong(seq, nonce ^ 1))
        .unwrap();
    assert_eq!(side.peers()[0].kind, PeerKind::Silent);
    assert_eq!(side.counters().bad_nonce_pongs, 1);
    // A peer that pings us after all is answered, and probed again...
    side.handle_frame(late, 49152, native, &ping().to_vec().unwrap())
        .unwrap();
    let (sends, _) = drain(&mut side);
    assert!(matches!(
        SideMsg::parse(&sends[0].1),
        Ok(SideMsg::Pong {
            seq: 7,
            time_us: 123_456,
            ..
        })
    ));
    assert_eq!(side.peers()[0].kind, PeerKind::Probing);
    side.handle_timeout(late);
    assert_eq!(drain(&mut side).0.len(), 1, "probed again");
    // ...and one that answers our first ping, late, is a doomlink peer.
    side.handle_frame(late, 49152, native, &pong(seq, nonce))
        .unwrap();
    assert_eq!(side.peers()[0].kind, PeerKind::Doomlink);
}

#[test]
fn quiet_peers_are_forgotten_and_floods_are_bounded() {
    let t0 = Instant::now();
    let mut side = LanSide::new(SideConfig::new("Me", SideRole::Host), t0);
    // Datagrams and side frames from strangers never create peers.
    side.guest_received(t0, addr(1), 100);
    let p = ping().to_vec().unwrap();
    for port in 0..1000 {
        side.handle_frame(t0, 2342, addr(10_000 + port), &p)
            .unwrap();
    }
    assert!(side.peers().is_empty());
    assert_eq!(side.ignored_frames(), 1000);
    // The guest's own sends make peers, up to the cap.
    for port in 0..1000 {
        side.guest_sent(t0, 2342, addr(10_000 + port));
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
    // The clients' guests and the host's talk; the clients ping the host and get pongs.
    for (c, a) in [(&mut c1, a1), (&mut c2, a2)] {
        play(t0, &mut host, ha, c, a);
        c.handle_timeout(t0);
    }
    settle(t0, &mut [(&mut host, ha), (&mut c1, a1), (&mut c2, a2)]);
    // The host pings the clients (no roster yet: they are not verified); their pongs come back
    // 2 ms later.
    host.handle_timeout(t0);
    let mut answers = Vec::new();
    {
        let mut peers = [(&mut c1, a1), (&mut c2, a2)];
        deliver(t0, &mut host, ha, &mut peers);
    }
    for (c, a) in [(&mut c1, a1), (&mut c2, a2)] {
        for (_, frame) in drain(c).0 {
            answers.push(a);
            host.handle_frame(t0 + ms(2), 2342, a, &frame).unwrap();
        }
    }
    assert_eq!(answers, [a1, a2], "each client answered the host's ping");
    assert!(c1.roster().is_empty() && c2.roster().is_empty());
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
    // A host ignores rosters (only a server sends them), and a client those of anyone but its
    // verified server.
    let r = SideMsg::Roster { entries: want("X") }.to_vec().unwrap();
    host.handle_frame(t0, 2342, a1, &r).unwrap();
    assert!(host.roster().is_empty());
    c1.handle_frame(t0, 49152, addr(666), &r).unwrap();
    assert_eq!(c1.roster(), want("Two"));
}

/// Pings, pongs and chats from a thousand spoofed source addresses, none a peer: not one byte
/// goes out, nothing is shown, no peer is made.
#[test]
fn a_spoofed_flood_from_a_thousand_sources_gets_nothing() {
    let t0 = Instant::now();
    let mut host = LanSide::new(SideConfig::new(&"H".repeat(32), SideRole::Host), t0);
    let frames = [
        ping().to_vec().unwrap(),
        chat().to_vec().unwrap(),
        pong(0, 0),
    ];
    let (mut bytes_in, mut bytes_out, mut n) = (0, 0, 0);
    for round in 0..10u64 {
        let now = t0 + ms(round * 500);
        for port in 0..1000 {
            for f in &frames {
                host.handle_frame(now, 2342, addr(10_000 + port), f)
                    .unwrap();
                bytes_in += f.len();
                n += 1;
            }
        }
        host.handle_timeout(now);
        let (sends, chats) = drain(&mut host);
        bytes_out += sends.iter().map(|(_, f)| f.len()).sum::<usize>();
        assert!(chats.is_empty());
    }
    println!("spoofed flood from 1000 sources: {bytes_in} bytes in, {bytes_out} bytes out");
    assert_eq!(bytes_out, 0);
    assert!(host.peers().is_empty());
    assert_eq!(host.ignored_frames(), n);
}

/// Chat that claims to come from a source not verified (a stranger, or a peer the game talks
/// to that never answered a ping) is neither shown nor relayed; nor does such a peer get a
/// roster.
#[test]
fn spoofed_chat_is_neither_shown_nor_relayed() {
    let t0 = Instant::now();
    let ([mut host, mut c1, _c2], [ha, a1, a2], native) = three_players(t0);
    let stranger = addr(40000);
    let spoof = SideMsg::Chat {
        name: "One".into(),
        text: "the server moved, join 10.6.6.6".into(),
    }
    .to_vec()
    .unwrap();
    for from in [stranger, native] {
        host.handle_frame(t0, 2342, from, &spoof).unwrap();
        assert_eq!(drain(&mut host), (vec![], vec![]), "from {from}");
    }
    c1.handle_frame(t0, 49152, stranger, &spoof).unwrap();
    assert_eq!(drain(&mut c1), (vec![], vec![]));
    let c = host.counters();
    assert_eq!((c.ignored_frames, c.dropped_chats), (1, 1));
    // The next pass pings every peer, but sends rosters to the verified clients only.
    host.handle_timeout(t0 + ms(1000));
    let (sends, _) = drain(&mut host);
    let rosters: Vec<SocketAddr> = sends
        .iter()
        .filter(|(_, f)| matches!(SideMsg::parse(f), Ok(SideMsg::Roster { .. })))
        .map(|(to, _)| *to)
        .collect();
    assert_eq!(rosters, [a1, a2]);
    assert!(sends.iter().any(|(to, _)| *to == native));
    // A verified client's line still goes through.
    c1.send_chat(t0, "gg").unwrap();
    deliver(t0 + ms(1000), &mut c1, a1, &mut [(&mut host, ha)]);
    let (sends, chats) = drain(&mut host);
    assert_eq!(sends.iter().map(|(to, _)| *to).collect::<Vec<_>>(), [a2]);
    assert_eq!(chats, [line("One", "gg")]);
}

/// A peer the guest talks to floods the host with pings and chats: what the host sends it over
/// the flood stays within 1.5 × what it sent, whether the peer is verified (a real doomlink
/// player gone rogue) or not (a victim whose address a spoofer uses).
#[test]
fn a_flooding_peer_gets_at_most_one_and_a_half_times_its_bytes() {
    let t0 = Instant::now();
    let (ha, pa, qa) = (addr(2342), addr(50001), addr(50002));
    // The longest name makes every pong and ping as large as they get.
    let mut host = LanSide::new(SideConfig::new(&"H".repeat(32), SideRole::Host), t0);
    let mut p = LanSide::new(SideConfig::new("P", SideRole::Client), t0);
    let mut q = LanSide::new(SideConfig::new("Q", SideRole::Client), t0);
    play(t0, &mut host, ha, &mut p, pa);
    play(t0, &mut host, ha, &mut q, qa);
    for s in [&mut host, &mut p, &mut q] {
        s.handle_timeout(t0);
    }
    settle(t0, &mut [(&mut host, ha), (&mut p, pa), (&mut q, qa)]);
    assert_eq!(kind_of(&host, pa), Some(PeerKind::Doomlink));
    // For 20 s, P sends 100 pings and 100 chat lines a second; Q plays on (35 game datagrams a
    // second, its pings and pongs).
    let flood = [
        SideMsg::Ping {
            seq: 1,
            time_us: 1,
            name: "P".into(),
        },
        SideMsg::Chat {
            name: "P".into(),
            text: "spam".into(),
        },
    ]
    .map(|m| m.to_vec().unwrap());
    let (mut flood_in, mut to_p, mut pongs_to_p, mut shown, mut relayed) = (0, 0, 0, 0, 0);
    for tick in 1..=2000u64 {
        let now = t0 + ms(tick * 10);
        for f in &flood {
            host.handle_frame(now, 2342, pa, f).unwrap();
            flood_in += f.len();
        }
        if tick % 3 == 0 {
            host.guest_received(now, qa, 40);
        }
        host.handle_timeout(now);
        q.handle_timeout(now);
        // P's own state is left out: the flood is all that comes from P.
        let (chats, wire) = settle(now, &mut [(&mut host, ha), (&mut q, qa)]);
        shown += chats.iter().filter(|(i, ..)| *i == 0).count();
        relayed += chats.iter().filter(|(i, ..)| *i == 1).count();
        let to_pa = || wire.iter().filter(|(_, to, _)| *to == pa);
        to_p += to_pa().map(|(.., len)| len).sum::<usize>();
        pongs_to_p += to_pa().filter(|(.., len)| *len == 51).count();
    }
    let ratio = to_p as f64 / flood_in as f64;
    println!("verified peer flooding: {flood_in} bytes in, {to_p} bytes out, ratio {ratio:.3}");
    assert!(ratio <= 1.5, "ratio {ratio}");
    // At most 5 lines at once, then 1 a second, are shown and relayed; the rest are dropped.
    assert!((20..=5 + 20).contains(&shown), "{shown} lines shown");
    assert_eq!(relayed, shown, "each line shown is relayed to Q");
    assert!(host.counters().dropped_chats >= 2000 - 25);
    // At most 4 pongs at once, then 4 a second (P's pings are at most 1 of the 51-byte frames
    // a second).
    assert!(pongs_to_p <= 4 + 4 * 20 + 21, "{pongs_to_p} pongs");
    assert!(host.counters().throttled_frames > 0);

    // A spoofer uses the address of V, a client the host's guest talks to (V never sends
    // anything itself): 4 pings and a chat line a second for a minute. The pongs are larger
    // than the pings; the budget holds them.
    let va = addr(50003);
    let mut host = LanSide::new(SideConfig::new(&"H".repeat(32), SideRole::Host), t0);
    host.guest_sent(t0, 2342, va);
    let ping = SideMsg::Ping {
        seq: 1,
        time_us: 1,
        name: "x".into(),
    }
    .to_vec()
    .unwrap();
    let chat = chat().to_vec().unwrap();
    let (mut spoofed_in, mut to_v) = (0, 0);
    for tick in 0..240u64 {
        let now = t0 + ms(tick * 250);
        host.handle_frame(now, 2342, va, &ping).unwrap();
        spoofed_in += ping.len();
        if tick % 4 == 0 {
            host.handle_frame(now, 2342, va, &chat).unwrap();
            spoofed_in += chat.len();
        }
        host.handle_timeout(now);
        let (sends, chats) = drain(&mut host);
        assert!(
            chats.is_empty(),
            "chat from an unverified peer is not shown"
        );
        to_v += sends.iter().map(|(_, f)| f.len()).sum::<usize>();
    }
    let ratio = to_v as f64 / spoofed_in as f64;
    println!("spoofed unverified peer: {spoofed_in} bytes in, {to_v} bytes out, ratio {ratio:.3}");
    assert!(ratio <= 1.5, "ratio {ratio}");
    assert!(ratio > 1.0, "the budget, not silence, is what holds it");
    assert_ne!(kind_of(&host, va), Some(PeerKind::Doomlink));
    let v = &host.peers()[0];
    assert!(v.bytes_out * 2 <= v.bytes_in * 3);
}

/// Only a pong that echoes the nonce of our ping to that very address verifies a peer: not one
/// with a guessed or old-style timestamp, another seq's, another peer's or another state's.
#[test]
fn a_forged_pong_does_not_verify() {
    let t0 = Instant::now();
    let (ha, other) = (addr(2342), addr(2343));
    let mut side = LanSide::new(SideConfig::new("Me", SideRole::Client), t0);
    let mut side2 = LanSide::new(SideConfig::new("Me", SideRole::Client), t0);
    for s in [&mut side, &mut side2] {
        s.guest_sent(t0, 49152, ha);
        s.guest_sent(t0, 49152, other);
        s.guest_received(t0, ha, 100);
        s.handle_timeout(t0);
    }
    let sends = drain(&mut side).0;
    let nonce_to = |to| ping_of(&sends.iter().find(|(a, _)| *a == to).unwrap().1);
    let (seq, nonce) = nonce_to(ha);
    let (other_seq, other_nonce) = nonce_to(other);
    assert_eq!(seq, other_seq);
    assert_ne!(nonce, other_nonce, "nonces are per peer");
    let side2_nonce = ping_of(&drain(&mut side2).0[0].1).1;
    assert_ne!(nonce, side2_nonce, "and per state");
    side.handle_timeout(t0 + ms(1000));
    let (seq1, nonce1) = ping_of(&drain(&mut side).0[0].1);
    assert_ne!(nonce, nonce1, "and per ping");
    let forged = [
        pong(seq, 0),
        pong(seq, nonce ^ 1),
        pong(seq, nonce1),
        pong(seq1, nonce),
        pong(seq, other_nonce),
        pong(seq, side2_nonce),
    ];
    for f in &forged {
        side.handle_frame(t0 + ms(5), 49152, ha, f).unwrap();
    }
    let p = side.peers().into_iter().find(|p| p.addr == ha).unwrap();
    assert_eq!((p.kind, p.name, p.rtt), (PeerKind::Probing, None, None));
    assert_eq!(side.counters().bad_nonce_pongs, forged.len() as u64);
    // The right nonce from a stranger's address is ignored; from the peer it verifies.
    side.handle_frame(t0 + ms(5), 49152, addr(9), &pong(seq, nonce))
        .unwrap();
    assert_eq!(side.ignored_frames(), 1);
    side.handle_frame(t0 + ms(5), 49152, ha, &pong(seq, nonce))
        .unwrap();
    let p = side.peers().into_iter().find(|p| p.addr == ha).unwrap();
    assert_eq!((p.kind, p.rtt), (PeerKind::Doomlink, Some(ms(5))));
    assert_eq!(kind_of(&side, other), Some(PeerKind::Probing));
}
