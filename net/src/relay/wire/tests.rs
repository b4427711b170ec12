//! Wire-format tests: every frame type round-trips, and every kind of malformed input is
//! rejected with the right error (the proptest in tests/fuzz_decoders.rs adds random input).

use super::*;

fn ip(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 77, 0, d)
}

fn sample_frames() -> Vec<Frame<'static>> {
    static PAYLOAD: [u8; 5] = [1, 2, 3, 4, 5];
    vec![
        Frame::Datagram(DatagramFrame {
            src: SocketAddrV4::new(ip(2), 2342),
            dst: SocketAddrV4::new(ip(1), 2342),
            payload: &PAYLOAD,
        }),
        Frame::Datagram(DatagramFrame {
            src: SocketAddrV4::new(ip(3), 50000),
            dst: SocketAddrV4::new(Ipv4Addr::BROADCAST, 2342),
            payload: &[],
        }),
        Frame::Hello(Hello {
            doomlink_version: "0.1.0".into(),
            name: "Ünïcødé player".into(),
            wads: WadSet {
                iwad: [7; 32],
                pwads: vec![[1; 32], [2; 32]],
            },
        }),
        Frame::Welcome(Welcome {
            your_addr: ip(3),
            subnet: Subnet::default(),
            hub_addr: ip(1),
            peers: vec![
                PeerInfo {
                    addr: ip(1),
                    name: "host".into(),
                },
                PeerInfo {
                    addr: ip(2),
                    name: "".into(),
                },
            ],
        }),
        Frame::Bye(Bye {
            reason: ByeReason::WadMismatch,
            message: "your IWAD is not ours".into(),
        }),
        Frame::Ping(0xdead_beef),
        Frame::Pong(7),
        Frame::PeerJoined(PeerInfo {
            addr: ip(4),
            name: "four".into(),
        }),
        Frame::PeerLeft {
            addr: ip(4),
            reason: ByeReason::TimedOut,
        },
        Frame::Chat(Line {
            from: ip(2),
            text: "gg".into(),
        }),
        Frame::Lobby(Line {
            from: ip(1),
            text: "map=E1M1\nskill=3\n".into(),
        }),
        Frame::Wads(vec![
            WadEntry {
                hash: [5; 32],
                size: 28_000_000,
                name: "doom2.wad".into(),
                iwad: true,
                offered: false,
            },
            WadEntry {
                hash: [6; 32],
                size: 4096,
                name: "map01 (fixed).deh".into(),
                iwad: false,
                offered: true,
            },
        ]),
        Frame::FileRequest(FileRequest {
            hash: [6; 32],
            offset: 1 << 33,
            len: MAX_FILE_REQUEST,
        }),
        Frame::FileData(FileData {
            hash: [6; 32],
            offset: 12,
            data: &PAYLOAD,
        }),
    ]
}

#[test]
fn every_frame_type_round_trips() {
    for f in sample_frames() {
        let bytes = f.to_vec().unwrap();
        assert_eq!(bytes.len(), f.buffer_len(), "{f:?}");
        assert_eq!(bytes[0], VERSION);
        assert_eq!(bytes[1], f.type_code());
        assert_eq!(Frame::parse(&bytes).unwrap(), f);
    }
}

#[test]
fn channels() {
    for f in sample_frames() {
        let expect = match f.type_code() {
            frame_type::DATAGRAM | frame_type::PING | frame_type::PONG => Channel::Datagram,
            _ => Channel::Control,
        };
        assert_eq!(f.channel(), expect, "{f:?}");
    }
}

#[test]
fn datagram_layout_extends_the_seed_frame() {
    let d = DatagramFrame {
        src: SocketAddrV4::new(ip(2), 0x1234),
        dst: SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 255), 0x0926),
        payload: b"hi",
    };
    let v = d.to_vec().unwrap();
    // The seed's 7-byte frame: type 0x01, src port BE, 2 reserved bytes, dst port BE.
    assert_eq!(&v[1..8], &[0x01, 0x12, 0x34, 0, 0, 0x09, 0x26]);
    assert_eq!(&v[8..12], &[10, 77, 0, 2]);
    assert_eq!(&v[12..16], &[10, 77, 0, 255]);
    assert_eq!(&v[16..], b"hi");
    // The fast path and the generic emitter agree.
    assert_eq!(v, Frame::Datagram(d).to_vec().unwrap());
    assert_eq!(DatagramFrame::parse(&v).unwrap(), d);
}

#[test]
fn empty_and_one_byte_are_truncated() {
    assert_eq!(Frame::parse(&[]), Err(FrameError::Truncated));
    assert_eq!(Frame::parse(&[VERSION]), Err(FrameError::Truncated));
    assert_eq!(DatagramFrame::parse(&[]), Err(FrameError::Truncated));
}

#[test]
fn unknown_versions_are_rejected_before_the_type() {
    for v in [0u8, 2, 3, 0x7f, 0xff] {
        for ty in [frame_type::DATAGRAM, frame_type::HELLO, 0xee] {
            let mut buf = vec![v, ty];
            buf.extend_from_slice(&[0; 20]);
            assert_eq!(Frame::parse(&buf), Err(FrameError::UnsupportedVersion(v)));
        }
    }
}

#[test]
fn every_unknown_type_code_is_rejected() {
    let known = [
        frame_type::DATAGRAM,
        frame_type::HELLO,
        frame_type::WELCOME,
        frame_type::BYE,
        frame_type::PING,
        frame_type::PONG,
        frame_type::PEER_JOINED,
        frame_type::PEER_LEFT,
        frame_type::CHAT,
        frame_type::LOBBY,
        frame_type::WADS,
        frame_type::FILE_REQUEST,
        frame_type::FILE_DATA,
    ];
    for ty in 0..=255u8 {
        let buf = [VERSION, ty, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let r = Frame::parse(&buf);
        if known.contains(&ty) {
            assert_ne!(r, Err(FrameError::UnknownType(ty)));
        } else {
            assert_eq!(r, Err(FrameError::UnknownType(ty)), "type {ty:#x}");
        }
    }
}

#[test]
fn datagram_bounds() {
    let header = |payload: usize| {
        let mut v = vec![VERSION, frame_type::DATAGRAM, 0, 1, 0, 0, 0, 2];
        v.extend_from_slice(&[10, 77, 0, 2, 10, 77, 0, 1]);
        v.resize(DGRAM_HEADER_LEN + payload, 0xaa);
        v
    };
    for short in 2..DGRAM_HEADER_LEN {
        assert_eq!(
            Frame::parse(&header(0)[..short]),
            Err(FrameError::Truncated),
            "{short}"
        );
    }
    assert_eq!(Frame::parse(&header(0)).unwrap().buffer_len(), 16);
    let max = header(MAX_DGRAM_PAYLOAD);
    match Frame::parse(&max).unwrap() {
        Frame::Datagram(d) => assert_eq!(d.payload.len(), MAX_DGRAM_PAYLOAD),
        f => panic!("{f:?}"),
    }
    let over = header(MAX_DGRAM_PAYLOAD + 1);
    assert_eq!(
        Frame::parse(&over),
        Err(FrameError::Oversized {
            len: MAX_DGRAM_FRAME_LEN + 1,
            max: MAX_FRAME_LEN
        })
    );
    assert!(matches!(
        DatagramFrame::parse(&vec![VERSION; 1 << 20]),
        Err(FrameError::Oversized { .. })
    ));
    let mut reserved = header(3);
    reserved[5] = 1;
    assert_eq!(Frame::parse(&reserved), Err(FrameError::ReservedNonZero));
}

#[test]
fn datagram_emit_refuses_oversized_payloads() {
    let big = vec![0u8; MAX_DGRAM_PAYLOAD + 1];
    let d = DatagramFrame {
        src: SocketAddrV4::new(ip(2), 1),
        dst: SocketAddrV4::new(ip(1), 1),
        payload: &big,
    };
    assert!(matches!(d.to_vec(), Err(FrameError::FieldTooLong { .. })));
    let mut buf = vec![0; MAX_FRAME_LEN + 16];
    assert!(matches!(
        d.emit(&mut buf),
        Err(FrameError::FieldTooLong { .. })
    ));
}

#[test]
fn every_truncation_of_every_control_frame_is_rejected() {
    for f in sample_frames() {
        let bytes = f.to_vec().unwrap();
        let min_len = match f.type_code() {
            frame_type::DATAGRAM => DGRAM_HEADER_LEN,
            // Its bytes are "the rest", at least one of them.
            frame_type::FILE_DATA => 2 + 32 + 8 + 1,
            _ => bytes.len(),
        };
        for cut in 0..min_len {
            let r = Frame::parse(&bytes[..cut]);
            assert!(r.is_err(), "{f:?} cut at {cut} parsed as {r:?}");
        }
    }
}

#[test]
fn trailing_bytes_after_control_frames_are_rejected() {
    for f in sample_frames() {
        if matches!(f.type_code(), frame_type::DATAGRAM | frame_type::FILE_DATA) {
            continue; // a datagram's payload and a file's bytes are "the rest"
        }
        let mut bytes = f.to_vec().unwrap();
        bytes.push(0);
        assert_eq!(
            Frame::parse(&bytes),
            Err(FrameError::TrailingBytes(1)),
            "{f:?}"
        );
        bytes.extend_from_slice(&[1, 2, 3]);
        assert_eq!(Frame::parse(&bytes), Err(FrameError::TrailingBytes(4)));
    }
}

#[test]
fn oversized_control_frames_are_rejected_before_parsing() {
    let mut big = vec![VERSION, frame_type::CHAT];
    big.resize(MAX_CONTROL_FRAME_LEN + 1, 0);
    assert_eq!(
        Frame::parse(&big),
        Err(FrameError::Oversized {
            len: MAX_CONTROL_FRAME_LEN + 1,
            max: MAX_CONTROL_FRAME_LEN
        })
    );
}

#[test]
fn bad_lengths_and_strings() {
    // A Hello whose name claims 33 bytes.
    let mut h = vec![VERSION, frame_type::HELLO, 1, b'1', 33];
    h.extend_from_slice(&[b'a'; 33]);
    h.extend_from_slice(&[0; 33]);
    assert_eq!(
        Frame::parse(&h),
        Err(FrameError::FieldTooLong {
            field: "name",
            len: 33,
            max: MAX_NAME_LEN
        })
    );
    // A name claiming more bytes than the frame has.
    assert_eq!(
        Frame::parse(&[VERSION, frame_type::HELLO, 1, b'1', 10, b'a']),
        Err(FrameError::Truncated)
    );
    // Invalid UTF-8.
    let mut bad = vec![VERSION, frame_type::CHAT, 10, 77, 0, 2, 0, 2, 0xc3, 0x28];
    assert_eq!(Frame::parse(&bad), Err(FrameError::BadUtf8("chat text")));
    bad.truncate(6);
    bad.extend_from_slice(&(MAX_CHAT_LEN as u16 + 1).to_be_bytes());
    bad.resize(bad.len() + MAX_CHAT_LEN + 1, b'x');
    assert!(matches!(
        Frame::parse(&bad),
        Err(FrameError::FieldTooLong {
            field: "chat text",
            ..
        })
    ));
    // 17 PWADs.
    let mut p = vec![VERSION, frame_type::HELLO, 0, 0];
    p.extend_from_slice(&[0; 32]);
    p.push(17);
    p.extend_from_slice(&[0; 32 * 17]);
    assert!(matches!(
        Frame::parse(&p),
        Err(FrameError::FieldTooLong { field: "pwads", .. })
    ));
    // A Welcome with 254 peers.
    let mut w = vec![
        VERSION,
        frame_type::WELCOME,
        10,
        77,
        0,
        2,
        10,
        77,
        0,
        0,
        24,
        10,
        77,
        0,
        1,
    ];
    w.push(254);
    assert!(matches!(
        Frame::parse(&w),
        Err(FrameError::FieldTooLong { field: "peers", .. })
    ));
}

fn welcome_bytes(you: [u8; 4], net: [u8; 4], prefix: u8, hub: [u8; 4], peer: [u8; 4]) -> Vec<u8> {
    let mut w = vec![VERSION, frame_type::WELCOME];
    w.extend_from_slice(&you);
    w.extend_from_slice(&net);
    w.push(prefix);
    w.extend_from_slice(&hub);
    w.push(1);
    w.extend_from_slice(&peer);
    w.push(0);
    w
}

#[test]
fn welcome_addresses_are_validated() {
    let ok = welcome_bytes(
        [10, 77, 0, 2],
        [10, 77, 0, 0],
        24,
        [10, 77, 0, 1],
        [10, 77, 0, 1],
    );
    assert!(Frame::parse(&ok).is_ok());
    let cases = [
        (
            welcome_bytes(
                [10, 77, 0, 2],
                [10, 77, 0, 0],
                31,
                [10, 77, 0, 1],
                [10, 77, 0, 1],
            ),
            "subnet",
        ),
        (
            welcome_bytes(
                [10, 77, 0, 2],
                [10, 77, 0, 9],
                24,
                [10, 77, 0, 1],
                [10, 77, 0, 1],
            ),
            "subnet",
        ),
        (
            welcome_bytes(
                [10, 77, 1, 2],
                [10, 77, 0, 0],
                24,
                [10, 77, 0, 1],
                [10, 77, 0, 1],
            ),
            "assigned address",
        ),
        (
            welcome_bytes(
                [10, 77, 0, 255],
                [10, 77, 0, 0],
                24,
                [10, 77, 0, 1],
                [10, 77, 0, 1],
            ),
            "assigned address",
        ),
        (
            welcome_bytes(
                [10, 77, 0, 2],
                [10, 77, 0, 0],
                24,
                [10, 77, 0, 2],
                [10, 77, 0, 1],
            ),
            "hub address",
        ),
        (
            welcome_bytes(
                [10, 77, 0, 2],
                [10, 77, 0, 0],
                24,
                [8, 8, 8, 8],
                [10, 77, 0, 1],
            ),
            "hub address",
        ),
        (
            welcome_bytes(
                [10, 77, 0, 2],
                [10, 77, 0, 0],
                24,
                [10, 77, 0, 1],
                [10, 77, 0, 2],
            ),
            "peer address",
        ),
        (
            welcome_bytes(
                [10, 77, 0, 2],
                [10, 77, 0, 0],
                24,
                [10, 77, 0, 1],
                [10, 77, 0, 0],
            ),
            "peer address",
        ),
    ];
    for (bytes, what) in cases {
        assert_eq!(Frame::parse(&bytes), Err(FrameError::Invalid(what)));
    }
}

#[test]
fn emit_checks_limits_and_buffer() {
    let long_name = Frame::PeerJoined(PeerInfo {
        addr: ip(2),
        name: "x".repeat(MAX_NAME_LEN + 1),
    });
    assert!(matches!(
        long_name.to_vec(),
        Err(FrameError::FieldTooLong { field: "name", .. })
    ));
    let f = Frame::Ping(1);
    let mut small = [0u8; 5];
    assert_eq!(
        f.emit(&mut small),
        Err(FrameError::BufferTooSmall { need: 6, have: 5 })
    );
    let mut exact = [0u8; 6];
    assert_eq!(f.emit(&mut exact), Ok(6));
    let bad_welcome = Frame::Welcome(Welcome {
        your_addr: ip(1),
        subnet: Subnet::default(),
        hub_addr: ip(1),
        peers: vec![],
    });
    assert_eq!(
        bad_welcome.to_vec(),
        Err(FrameError::Invalid("hub address"))
    );
    let long_lobby = Frame::Lobby(Line {
        from: ip(1),
        text: "y".repeat(MAX_LOBBY_LEN + 1),
    });
    assert!(long_lobby.to_vec().is_err());
    let long_bye = Frame::Bye(Bye {
        reason: ByeReason::Quit,
        message: "z".repeat(MAX_BYE_MESSAGE_LEN + 1),
    });
    assert!(long_bye.to_vec().is_err());
}

#[test]
fn largest_legal_control_frames_fit_the_cap() {
    let welcome = Frame::Welcome(Welcome {
        your_addr: ip(254),
        subnet: Subnet::default(),
        hub_addr: ip(1),
        peers: (1..=253)
            .map(|d| PeerInfo {
                addr: ip(d),
                name: "n".repeat(MAX_NAME_LEN),
            })
            .collect(),
    });
    let v = welcome.to_vec().unwrap();
    assert!(v.len() <= MAX_CONTROL_FRAME_LEN, "{}", v.len());
    assert_eq!(Frame::parse(&v).unwrap(), welcome);
    let hello = Frame::Hello(Hello {
        doomlink_version: "v".repeat(MAX_VERSION_LEN),
        name: "n".repeat(MAX_NAME_LEN),
        wads: WadSet {
            iwad: [0; 32],
            pwads: vec![[9; 32]; MAX_PWADS],
        },
    });
    assert_eq!(Frame::parse(&hello.to_vec().unwrap()).unwrap(), hello);
}

#[test]
fn typed_parsers_reject_other_types() {
    let ping = Frame::Ping(1).to_vec().unwrap();
    assert_eq!(
        DatagramFrame::parse(&ping),
        Err(FrameError::UnexpectedType(frame_type::PING))
    );
    assert_eq!(
        Hello::parse(&ping),
        Err(FrameError::UnexpectedType(frame_type::PING))
    );
    assert_eq!(
        Welcome::parse(&ping),
        Err(FrameError::UnexpectedType(frame_type::PING))
    );
    let bye = Bye {
        reason: ByeReason::Other(200),
        message: String::new(),
    };
    assert_eq!(Bye::parse(&bye.to_vec().unwrap()), Ok(bye));
}

#[test]
fn bye_reasons_round_trip_by_code() {
    for c in 0..=255u8 {
        assert_eq!(ByeReason::from_code(c).code(), c);
    }
}

#[test]
fn truncate_utf8_keeps_char_boundaries() {
    assert_eq!(truncate_utf8("abc", 5), "abc");
    assert_eq!(truncate_utf8("abcdef", 3), "abc");
    assert_eq!(truncate_utf8("ééé", 3), "é");
    assert_eq!(truncate_utf8("ééé", 0), "");
}

#[test]
fn names_and_chat_arrive_without_terminal_escapes_but_lobby_text_as_sent() {
    let evil_name = "\u{1b}[2Jbob\u{202e}";
    let peer = Frame::PeerJoined(PeerInfo {
        addr: Ipv4Addr::new(10, 77, 0, 3),
        name: evil_name.into(),
    });
    let chat = Frame::Chat(Line {
        from: Ipv4Addr::new(10, 77, 0, 3),
        text: "hi\r\u{7}there".into(),
    });
    let lobby = Frame::Lobby(Line {
        from: Ipv4Addr::new(10, 77, 0, 3),
        text: "ready 1\nteam 2\n".into(),
    });
    let (peer, chat, lobby_bytes) = (
        peer.to_vec().unwrap(),
        chat.to_vec().unwrap(),
        lobby.to_vec().unwrap(),
    );
    match Frame::parse(&peer).unwrap() {
        Frame::PeerJoined(p) => assert_eq!(p.name, "[2Jbob"),
        other => panic!("{other:?}"),
    }
    match Frame::parse(&chat).unwrap() {
        Frame::Chat(l) => assert_eq!(l.text, "hithere"),
        other => panic!("{other:?}"),
    }
    assert_eq!(Frame::parse(&lobby_bytes).unwrap(), lobby);
}

fn wads_frame(entries: &[(u8, &[u8])]) -> Vec<u8> {
    let mut v = vec![VERSION, frame_type::WADS, entries.len() as u8];
    for (flags, name) in entries {
        v.extend_from_slice(&[7; 32]);
        v.extend_from_slice(&100u64.to_be_bytes());
        v.push(*flags);
        v.push(name.len() as u8);
        v.extend_from_slice(name);
    }
    v
}

#[test]
fn file_lists_refuse_names_that_are_paths_and_bad_flags() {
    assert!(Frame::parse(&wads_frame(&[(1, b"doom2.wad"), (2, b"maps.wad")])).is_ok());
    for bad in [
        &b"../../.bashrc"[..],
        b"/etc/passwd",
        b"dir/evil.wad",
        b"c:evil.wad",
        b"..\\evil.wad",
        b".hidden",
        b"",
        b"bell\x07.wad",
        b"\xff\xfe.wad",
    ] {
        let bytes = wads_frame(&[(2, bad)]);
        let r = Frame::parse(&bytes);
        assert!(
            matches!(r, Err(FrameError::Invalid(_) | FrameError::BadUtf8(_))),
            "{:?}: {r:?}",
            String::from_utf8_lossy(bad)
        );
    }
    let long = vec![b'a'; MAX_FILE_NAME_LEN + 1];
    assert!(matches!(
        Frame::parse(&wads_frame(&[(2, &long)])),
        Err(FrameError::FieldTooLong { .. })
    ));
    assert_eq!(
        Frame::parse(&wads_frame(&[(4, b"a.wad")])),
        Err(FrameError::Invalid("wad entry flags"))
    );
    assert_eq!(
        Frame::parse(&wads_frame(&[(1, b"a.wad"), (3, b"b.wad")])),
        Err(FrameError::Invalid("wad entries: more than one IWAD"))
    );
    let many: Vec<(u8, &[u8])> = vec![(2, b"a.wad"); MAX_WAD_ENTRIES + 1];
    assert!(matches!(
        Frame::parse(&wads_frame(&many)),
        Err(FrameError::FieldTooLong { .. })
    ));
    // What a decoder refuses, an encoder does not write.
    let evil = Frame::Wads(vec![WadEntry {
        hash: [0; 32],
        size: 1,
        name: "../x.wad".into(),
        iwad: false,
        offered: true,
    }]);
    assert_eq!(evil.to_vec(), Err(FrameError::Invalid("file name")));
}

#[test]
fn file_requests_and_data_are_bounded() {
    let req = |offset: u64, len: u32| {
        let mut v = vec![VERSION, frame_type::FILE_REQUEST];
        v.extend_from_slice(&[6; 32]);
        v.extend_from_slice(&offset.to_be_bytes());
        v.extend_from_slice(&len.to_be_bytes());
        Frame::parse(&v).map(|_| ())
    };
    assert!(req(0, 1).is_ok());
    assert!(req(0, MAX_FILE_REQUEST).is_ok());
    assert!(matches!(
        req(0, MAX_FILE_REQUEST + 1),
        Err(FrameError::FieldTooLong { .. })
    ));
    assert!(matches!(req(0, 0), Err(FrameError::Invalid(_))));
    assert!(matches!(req(u64::MAX - 3, 10), Err(FrameError::Invalid(_))));

    let data = |n: usize| {
        let mut v = vec![VERSION, frame_type::FILE_DATA];
        v.extend_from_slice(&[6; 32]);
        v.extend_from_slice(&0u64.to_be_bytes());
        v.resize(v.len() + n, 0xaa);
        Frame::parse(&v).map(|_| ())
    };
    assert!(data(1).is_ok());
    assert!(data(MAX_FILE_CHUNK).is_ok());
    assert!(matches!(data(0), Err(FrameError::Invalid(_))));
    assert!(matches!(
        data(MAX_FILE_CHUNK + 1),
        Err(FrameError::FieldTooLong { .. })
    ));
    let list = Frame::Wads(
        (0..MAX_WAD_ENTRIES)
            .map(|i| WadEntry {
                hash: [i as u8; 32],
                size: u64::MAX,
                name: "n".repeat(MAX_FILE_NAME_LEN),
                iwad: i == 0,
                offered: true,
            })
            .collect(),
    );
    let v = list.to_vec().unwrap();
    assert!(v.len() <= MAX_CONTROL_FRAME_LEN);
    assert_eq!(Frame::parse(&v).unwrap(), list);
}
