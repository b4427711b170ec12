//! Random input to every Internet-play decoder: invite links, manual codes, signaling messages,
//! the SDP fingerprint reader and the rendezvous's room rules. Nothing may panic; what parses
//! re-encodes to something that parses the same; inputs past each decoder's cap are refused
//! before any work (bounded memory).

use std::net::IpAddr;
use std::time::{Duration, Instant};

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use doomlink_net::identity::Fingerprint;
use doomlink_net::online::manual::{CodeError, ManualCode, MAX_CODE_TEXT};
use doomlink_net::rendezvous::rooms::{Registry, RoomMaker};
use doomlink_net::rendezvous::Limits;
use doomlink_net::signaling::invite::{InviteLink, MAX_LINK_LEN};
use doomlink_net::signaling::{IceServer, Message, SignalError, MAX_MESSAGE_LEN};
use proptest::prelude::*;

/// Text that looks like a link more often than random text would.
fn link_like() -> impl Strategy<Value = String> {
    let part = "[A-Za-z0-9_.:\\[\\]/?#=&%-]{0,60}";
    prop_oneof![
        any::<String>(),
        (part, part, part, part)
            .prop_map(|(a, b, c, d)| format!("doomlink://join/{a}/{b}?fp={c}#{d}")),
        (part, part).prop_map(|(a, b)| format!("http://{a}/join/{b}")),
        (
            "[a-z0-9.]{1,20}",
            0u32..70000,
            "[a-z0-9_-]{0,40}",
            "[A-Za-z0-9_-]{40,46}",
            any::<u64>(),
            "[A-Za-z0-9_-]{0,70}",
            // The TLS key: absent, right, wrong, twice, in the web form's query.
            prop::sample::select(vec!["", "&tls=1", "&tls=0", "&tls=1&tls=1", "&tls"]),
            any::<bool>(),
        )
            .prop_map(|(h, p, r, f, e, s, tls, web)| if web {
                format!("https://{h}:{p}/join/{r}?fp={f}&exp={e}{tls}#{s}")
            } else {
                format!("doomlink://join/{h}:{p}/{r}?fp={f}&exp={e}{tls}#{s}")
            }),
    ]
}

/// Bytes with a valid version byte and checksum, so the decoder's body parsing is reached.
fn code_like() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[A-Za-z0-9_-]{0,300}",
        proptest::collection::vec(any::<u8>(), 0..300).prop_map(|mut body| {
            if !body.is_empty() {
                body[0] = 1;
            }
            use sha2::Digest;
            let sum = sha2::Sha256::digest(&body);
            body.extend_from_slice(&sum[..4]);
            URL_SAFE_NO_PAD.encode(body)
        }),
    ]
}

fn message_like() -> impl Strategy<Value = String> {
    let tags = prop::sample::select(vec![
        "host",
        "hosted",
        "resume",
        "join",
        "joined",
        "peer",
        "peer_left",
        "signal",
        "keepalive",
        "leave",
        "closed",
        "error",
        "nope",
    ]);
    prop_oneof![
        any::<String>(),
        (tags, "[ -~]{0,200}").prop_map(|(t, rest)| format!(r#"{{"t":"{t}",{rest}}}"#)),
        ("[ -~]{0,300}").prop_map(|s| format!(r#"{{"t":"signal","peer":1,"data":{s}}}"#)),
        (0usize..4, "[a-z]{1,8}").prop_map(|(depth, k)| {
            // Deep nesting: serde_json's recursion limit must hold.
            let open = format!(r#"{{"{k}":"#).repeat(depth * 40);
            format!(r#"{{"t":"host","name":{open}1}}"#)
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn invite_links_never_panic(s in link_like()) {
        if let Ok(link) = InviteLink::parse_at(&s, 0) {
            prop_assert_eq!(InviteLink::parse_at(&link.to_doomlink_url(), 0), Ok(link.clone()));
            // The web form's scheme carries TLS: https when the link is TLS.
            prop_assert_eq!(InviteLink::parse_at(&link.to_web_url(false), 0), Ok(link.clone()));
            let https = InviteLink { tls: true, ..link };
            prop_assert_eq!(InviteLink::parse_at(&https.to_web_url(true), 0), Ok(https));
        } else {
            let e = InviteLink::parse_at(&s, 0).unwrap_err().to_string();
            prop_assert!(!e.contains('\n') && e.len() < 200, "{}", e);
        }
    }

    #[test]
    fn manual_codes_never_panic(s in code_like()) {
        if let Ok(code) = ManualCode::decode(&s) {
            prop_assert_eq!(ManualCode::decode(&code.encode()), Ok(code.clone()));
            // And the SDP made from it yields the same code.
            let sdp = code.to_sdp().sdp;
            prop_assert_eq!(ManualCode::from_sdp(code.kind, &sdp), Ok(code));
        }
    }

    #[test]
    fn signaling_messages_never_panic(s in message_like()) {
        if let Ok(m) = Message::decode(&s) {
            let again = m.encode().expect("what decodes encodes");
            prop_assert_eq!(Message::decode(&again), Ok(m));
        }
    }

    #[test]
    fn sdp_fingerprints_never_panic(s in "[ -~\r\n]{0,400}", fp in any::<[u8; 32]>()) {
        let _ = Fingerprint::from_sdp(&s);
        let with = format!("{s}\r\na=fingerprint:sha-256 {}\r\n", Fingerprint(fp).to_sdp_hex());
        let _ = Fingerprint::from_sdp(&with);
    }

    /// Any sequence of (decodable) messages from a few connections keeps the room table sane.
    #[test]
    fn the_room_rules_never_panic(steps in proptest::collection::vec((0u64..4, message_like(), any::<bool>()), 0..40)) {
        let mut reg = Registry::new(Limits { rooms_per_ip: 2, joiners_per_room: 2, ..Limits::default() });
        let mut maker = Maker(0);
        let t0 = Instant::now();
        for c in 0..4 { reg.connect(c, IpAddr::from([127, 0, 0, 1 + (c as u8 % 2)])); }
        for (i, (conn, text, drop)) in steps.into_iter().enumerate() {
            let now = t0 + Duration::from_secs(i as u64 * 7);
            if let Ok(m) = Message::decode(&text) {
                let _ = reg.handle(now, conn, m, &mut maker);
            }
            if drop {
                let _ = reg.disconnect(now, conn);
                reg.connect(conn, IpAddr::from([127, 0, 0, 1]));
            }
            let _ = reg.tick(now, 1000 + i as u64);
            prop_assert!(reg.room_count() <= 4);
        }
    }
}

struct Maker(u32);
impl RoomMaker for Maker {
    fn room_id(&mut self) -> String {
        self.0 += 1;
        format!("room{:06}", self.0)
    }
    fn secret(&mut self) -> String {
        self.0 += 1;
        format!("secret-secret-{:06}", self.0)
    }
    fn ice_servers(&self, _: &str, _: u64) -> Vec<IceServer> {
        vec![]
    }
    fn player_ice_servers(&self, _: &str, _: u32, _: u64) -> Vec<IceServer> {
        vec![]
    }
    fn unix_now(&self) -> u64 {
        1000
    }
}

#[test]
fn oversized_inputs_are_refused_before_any_work() {
    let huge = "a".repeat(10 * 1024 * 1024);
    assert!(InviteLink::parse(&huge).is_err());
    assert!(huge.len() > MAX_LINK_LEN);
    assert_eq!(
        ManualCode::decode(&huge),
        Err(CodeError::TooLong(huge.len()))
    );
    assert!(huge.len() > MAX_CODE_TEXT);
    assert!(matches!(
        Message::decode(&huge),
        Err(SignalError::TooLarge {
            max: MAX_MESSAGE_LEN,
            ..
        })
    ));
}
