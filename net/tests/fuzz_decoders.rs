//! Random input to every decoder and to the session's frame handler: nothing may panic, and
//! whatever does parse re-encodes to the very same bytes (no two encodings of one frame).

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant};

use doomlink_net::relay::wire::{
    frame_type, Bye, DatagramFrame, Frame, Hello, Line, PeerInfo, Welcome, VERSION,
};
use doomlink_net::{ByeReason, Config, Session, Subnet, WadSet};
use proptest::prelude::*;

const TYPES: [u8; 10] = [
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
];

/// Random bytes, and random bodies behind a valid envelope (which reach much deeper).
fn inputs() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..64),
        proptest::collection::vec(any::<u8>(), 0..2048),
        (
            proptest::sample::select(TYPES.to_vec()),
            proptest::collection::vec(any::<u8>(), 0..600)
        )
            .prop_map(|(ty, body)| {
                let mut v = vec![VERSION, ty];
                v.extend(body);
                v
            }),
        // Welcome-shaped: a plausible address block, then noise.
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|body| {
            let mut v = vec![
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
            v.extend(body);
            v
        }),
    ]
}

fn check_decoders(bytes: &[u8]) {
    if let Ok(f) = Frame::parse(bytes) {
        let out = f.to_vec().unwrap();
        assert_eq!(f.buffer_len(), out.len());
        // Parsing strips what people must not be shown from names and chat; otherwise the
        // encoding is canonical.
        assert_eq!(
            Frame::parse(&out).unwrap(),
            f,
            "parsing its encoding gives it back"
        );
        if out.len() == bytes.len() {
            assert_eq!(out, bytes, "canonical encoding");
        }
    }
    if let Ok(d) = DatagramFrame::parse(bytes) {
        assert_eq!(d.to_vec().unwrap(), bytes);
    }
    let _ = Hello::parse(bytes);
    let _ = Welcome::parse(bytes);
    let _ = Bye::parse(bytes);
    // Chocolate Doom's lobby packets, as the LAN bridge reads every datagram it carries.
    let _ = doomlink_net::chocolate::wads::syn_sums(bytes);
    let _ = doomlink_net::chocolate::wads::waiting_data_sums(bytes);
}

fn addr() -> impl Strategy<Value = Ipv4Addr> {
    (2u8..=254).prop_map(|d| Ipv4Addr::new(10, 77, 0, d))
}

/// Text as a frame carries it after parsing: without the characters the parser strips from
/// what people see (the wire's unit tests check that stripping).
fn text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(".{{0,{max}}}"))
        .unwrap()
        .prop_map(move |s| {
            let s = doomlink_net::text::displayable(&s).into_owned();
            doomlink_net::relay::wire::truncate_utf8(&s, max).to_owned()
        })
}

fn frames() -> impl Strategy<Value = Frame<'static>> {
    prop_oneof![
        (
            addr(),
            any::<u16>(),
            addr(),
            any::<u16>(),
            proptest::collection::vec(any::<u8>(), 0..200)
        )
            .prop_map(|(s, sp, d, dp, p)| {
                let payload: &'static [u8] = Box::leak(p.into_boxed_slice());
                Frame::Datagram(DatagramFrame {
                    src: SocketAddrV4::new(s, sp),
                    dst: SocketAddrV4::new(d, dp),
                    payload,
                })
            }),
        (
            text(32),
            text(32),
            any::<[u8; 32]>(),
            proptest::collection::vec(any::<[u8; 32]>(), 0..=16)
        )
            .prop_map(|(v, n, iwad, pwads)| Frame::Hello(Hello {
                doomlink_version: v,
                name: n,
                wads: WadSet { iwad, pwads }
            })),
        (proptest::collection::vec((addr(), text(32)), 0..20)).prop_map(|peers| {
            Frame::Welcome(Welcome {
                your_addr: Ipv4Addr::new(10, 77, 0, 1),
                subnet: Subnet::default(),
                hub_addr: Ipv4Addr::new(10, 77, 0, 254),
                peers: peers
                    .into_iter()
                    .filter(|(a, _)| *a != Ipv4Addr::new(10, 77, 0, 1))
                    .map(|(addr, name)| PeerInfo { addr, name })
                    .collect(),
            })
        }),
        (any::<u8>(), text(256)).prop_map(|(r, message)| Frame::Bye(Bye {
            reason: ByeReason::from_code(r),
            message
        })),
        any::<u32>().prop_map(Frame::Ping),
        any::<u32>().prop_map(Frame::Pong),
        (addr(), text(32)).prop_map(|(addr, name)| Frame::PeerJoined(PeerInfo { addr, name })),
        (addr(), any::<u8>()).prop_map(|(addr, r)| Frame::PeerLeft {
            addr,
            reason: ByeReason::from_code(r)
        }),
        (addr(), text(512)).prop_map(|(from, text)| Frame::Chat(Line { from, text })),
        (addr(), text(4096)).prop_map(|(from, text)| Frame::Lobby(Line { from, text })),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4000))]

    #[test]
    fn decoders_never_panic(bytes in inputs()) {
        check_decoders(&bytes);
    }

    #[test]
    fn mutated_valid_frames_never_panic(f in frames(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..4), cut in any::<usize>()) {
        let mut bytes = f.to_vec().unwrap();
        for (i, x) in flips {
            let n = bytes.len();
            bytes[i % n] ^= x;
        }
        check_decoders(&bytes);
        let n = bytes.len();
        check_decoders(&bytes[..cut % (n + 1)]);
    }

    #[test]
    fn valid_frames_round_trip(f in frames()) {
        let bytes = f.to_vec().unwrap();
        prop_assert_eq!(Frame::parse(&bytes).unwrap(), f);
    }

    #[test]
    fn sessions_survive_random_frames(frames in proptest::collection::vec(inputs(), 1..20)) {
        let t0 = Instant::now();
        let wads = WadSet::default();
        let mut hub = Session::hub(Config::new("h", wads.clone()), t0);
        let mut client = Session::client(Config::new("c", wads.clone()), t0);
        let hl = hub.link_up(t0).unwrap();
        let cl = client.link_up(t0).unwrap();
        // Half of the runs with a joined client, so Up-state handlers see the noise too.
        let mut pending_hello = Vec::new();
        while let Some(o) = client.poll_output() {
            if let doomlink_net::Output::Transmit(t) = o { pending_hello.push(t.frame) }
        }
        if frames.len() % 2 == 0 {
            for f in &pending_hello { hub.handle_frame(t0, hl, f); }
            while let Some(o) = hub.poll_output() {
                if let doomlink_net::Output::Transmit(t) = o { client.handle_frame(t0, cl, &t.frame); }
            }
        }
        for (i, f) in frames.iter().enumerate() {
            let now = t0 + Duration::from_millis(i as u64 * 300);
            hub.handle_frame(now, hl, f);
            client.handle_frame(now, cl, f);
            hub.handle_timeout(now);
            client.handle_timeout(now);
            while hub.poll_output().is_some() {}
            while client.poll_output().is_some() {}
        }
    }
}
