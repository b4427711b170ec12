//! The query packets against bytes a real `chocolate-server -privateserver` sent, every
//! truncation of them, hostile strings, the encoder's limits, a proptest, and [`search`] against
//! fake servers on 127.0.0.1 (unicast only: broadcasting tests run in network namespaces, see
//! tests/tests/lan_discovery.rs).

use super::*;
use proptest::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// What Debian's chocolate-server 3.0.0 answered to [`QUERY`] with no client connected.
const NATIVE: &[u8] = b"\x00\x0eChocolate Doom 3.0.0\x00\x00\x00\x08\x04\x00Unnamed server\x00\x01CHOCOLATE_DOOM_0\x00";

fn native() -> QueryResponse {
    QueryResponse {
        version: "Chocolate Doom 3.0.0".into(),
        server_state: ServerState::WaitingLaunch,
        num_players: 0,
        max_players: 8,
        gamemode: GameMode::Indetermined,
        gamemission: GameMission::Doom,
        description: "Unnamed server".into(),
        protocols: Some(vec![PROTOCOL_CHOCOLATE_DOOM_0.into()]),
    }
}

#[test]
fn a_native_servers_answer_decodes_and_reencodes_byte_for_byte() {
    let r = QueryResponse::parse(NATIVE).unwrap();
    assert_eq!(r, native());
    assert_eq!(r.emit().unwrap(), NATIVE);
    assert!(r.compatible());
    assert_eq!(r.game_name(), None, "no client yet: the game is not known");
}

#[test]
fn the_query_is_a_bare_type() {
    assert_eq!(QUERY, [0, 13]);
    assert_eq!(parse_query(&QUERY), Ok(()));
    // The server reads the type and nothing else, so anything after it is ignored.
    assert_eq!(parse_query(&[0, 13, 0xff, 0]), Ok(()));
    assert_eq!(
        parse_query(&[]),
        Err(QueryError::Truncated(Field::PacketType))
    );
    assert_eq!(
        parse_query(&[0]),
        Err(QueryError::Truncated(Field::PacketType))
    );
    assert_eq!(
        parse_query(&[13, 0]),
        Err(QueryError::WrongType(0x0d00, TYPE_QUERY))
    );
    assert_eq!(
        parse_query(NATIVE),
        Err(QueryError::WrongType(TYPE_QUERY_RESPONSE, TYPE_QUERY))
    );
}

#[test]
fn wrong_types_are_refused() {
    assert_eq!(
        QueryResponse::parse(&QUERY),
        Err(QueryError::WrongType(TYPE_QUERY, TYPE_QUERY_RESPONSE))
    );
    let mut swapped = NATIVE.to_vec();
    swapped.swap(0, 1);
    assert_eq!(
        QueryResponse::parse(&swapped),
        Err(QueryError::WrongType(0x0e00, TYPE_QUERY_RESPONSE))
    );
    // A SYN (type 0), a master server answer (type 3 on the master protocol) and so on.
    for ty in (0u16..=16).filter(|&t| t != TYPE_QUERY_RESPONSE) {
        let mut p = NATIVE.to_vec();
        p[..2].copy_from_slice(&ty.to_be_bytes());
        assert_eq!(
            QueryResponse::parse(&p),
            Err(QueryError::WrongType(ty, TYPE_QUERY_RESPONSE))
        );
    }
}

/// Every prefix of a real answer: the exact error, or (inside the protocol list, which older
/// servers do not send) the response without its list.
#[test]
fn every_truncation_is_a_typed_error_or_loses_only_the_protocol_list() {
    let version_end = 2 + "Chocolate Doom 3.0.0".len(); // index of its NUL
    let desc_start = version_end + 1 + 5;
    let desc_end = desc_start + "Unnamed server".len();
    for len in 0..NATIVE.len() {
        let got = QueryResponse::parse(&NATIVE[..len]);
        let want = match len {
            0 | 1 => Err(QueryError::Truncated(Field::PacketType)),
            2 => Err(QueryError::Truncated(Field::Version)),
            l if l <= version_end => Err(QueryError::Unterminated(Field::Version)),
            l if l == version_end + 1 => Err(QueryError::Truncated(Field::ServerState)),
            l if l == version_end + 2 => Err(QueryError::Truncated(Field::NumPlayers)),
            l if l == version_end + 3 => Err(QueryError::Truncated(Field::MaxPlayers)),
            l if l == version_end + 4 => Err(QueryError::Truncated(Field::GameMode)),
            l if l == version_end + 5 => Err(QueryError::Truncated(Field::GameMission)),
            l if l == desc_start => Err(QueryError::Truncated(Field::Description)),
            l if l <= desc_end => Err(QueryError::Unterminated(Field::Description)),
            _ => Ok(QueryResponse {
                protocols: None,
                ..native()
            }),
        };
        assert_eq!(got, want, "prefix of {len} bytes");
    }
    assert_eq!(QueryResponse::parse(NATIVE), Ok(native()));
}

#[test]
fn protocol_lists_empty_unknown_and_trailing_bytes() {
    let base = &NATIVE[..NATIVE.len() - 1 - PROTOCOL_CHOCOLATE_DOOM_0.len() - 1]; // up to the count
    let with = |tail: &[u8]| QueryResponse::parse(&[base, tail].concat()).unwrap();
    let empty = with(&[0]);
    assert_eq!(empty.protocols, Some(vec![]));
    assert!(!empty.compatible());
    let two = with(b"\x02FORK_1\x00CHOCOLATE_DOOM_0\x00");
    assert_eq!(
        two.protocols,
        Some(vec!["FORK_1".to_string(), PROTOCOL_CHOCOLATE_DOOM_0.into()])
    );
    assert!(two.compatible());
    assert!(!with(b"\x01FORK_1\x00").compatible());
    // A name that only looks like ours once control codes are removed is not ours.
    assert!(!with(b"\x01CHOCOLATE\x01_DOOM_0\x00").compatible());
    // Invalid UTF-8 in a name is kept (replaced), not fatal.
    assert_eq!(
        with(b"\x01\xff\x00").protocols,
        Some(vec!["\u{fffd}".to_string()])
    );
    // Bytes after the list are ignored, as the engine ignores them.
    assert_eq!(with(b"\x01CHOCOLATE_DOOM_0\x00extra\x00\xff"), native());
    assert!(!QueryResponse {
        protocols: None,
        ..native()
    }
    .compatible());
}

#[test]
fn shown_strings_lose_control_codes_and_non_ascii() {
    let mut p = b"\x00\x0eChoc\x1b[2J\x00\x02\x03\x04\x01\x01".to_vec();
    p.extend_from_slice(b"\x07evil\rname\n\xc3\xa9\x7f\x00\x01CHOCOLATE_DOOM_0\x00");
    let r = QueryResponse::parse(&p).unwrap();
    assert_eq!(r.version, "Choc[2J");
    assert_eq!(r.description, "evilname\n");
    assert_eq!(
        (r.server_state, r.num_players, r.max_players),
        (ServerState::InGame, 3, 4)
    );
    assert_eq!(
        (r.gamemode, r.gamemission),
        (GameMode::Registered, GameMission::Doom2)
    );
}

#[test]
fn the_encoder_refuses_what_the_wire_cannot_carry() {
    let nul = |f: fn(&mut QueryResponse)| {
        let mut r = native();
        f(&mut r);
        r.emit()
    };
    assert_eq!(
        nul(|r| r.version.push('\0')),
        Err(QueryError::NulInString(Field::Version))
    );
    assert_eq!(
        nul(|r| r.description = "a\0b".into()),
        Err(QueryError::NulInString(Field::Description))
    );
    assert_eq!(
        nul(|r| r.protocols = Some(vec!["\0".into()])),
        Err(QueryError::NulInString(Field::Protocol))
    );
    assert_eq!(
        nul(|r| r.protocols = Some(vec!["P".into(); 256])),
        Err(QueryError::TooManyProtocols(256))
    );
    assert!(nul(|r| r.protocols = Some(vec!["P".into(); 255])).is_ok());
    assert_eq!(
        nul(|r| r.description = "x".repeat(MAX_PACKET_LEN)),
        Err(QueryError::TooLong(
            NATIVE.len() - "Unnamed server".len() + MAX_PACKET_LEN
        ))
    );
}

#[test]
fn enums_keep_unknown_values_and_game_names_match_the_engine() {
    for v in 0..=255u8 {
        assert_eq!(ServerState::from_u8(v).to_u8(), v);
        assert_eq!(GameMode::from_u8(v).to_u8(), v);
        assert_eq!(GameMission::from_u8(v).to_u8(), v);
    }
    assert!(matches!(GameMission::from_u8(11), GameMission::Other(11)));
    assert!(ServerState::WaitingLaunch.joinable() && !ServerState::InGame.joinable());
    let name = |mode, mission| {
        QueryResponse {
            gamemode: mode,
            gamemission: mission,
            ..native()
        }
        .game_name()
    };
    use GameMission as Mi;
    use GameMode as Mo;
    assert_eq!(name(Mo::Shareware, Mi::Doom), Some("swdoom"));
    assert_eq!(name(Mo::Registered, Mi::Doom), Some("regdoom"));
    assert_eq!(name(Mo::Retail, Mi::Doom), Some("ultdoom"));
    assert_eq!(name(Mo::Commercial, Mi::Doom), Some("doom"));
    assert_eq!(name(Mo::Commercial, Mi::Doom2), Some("doom2"));
    assert_eq!(name(Mo::Commercial, Mi::PackPlut), Some("plutonia"));
    assert_eq!(name(Mo::Commercial, Mi::Doom2F), Some("?"));
    assert_eq!(name(Mo::Indetermined, Mi::Doom2), None);
}

#[test]
fn a_found_server_is_one_line() {
    let mut info = native();
    info.description = "Bob's\ngame".into();
    info.gamemode = GameMode::Retail;
    info.num_players = 2;
    info.max_players = 4;
    let f = FoundServer {
        addr: "10.0.0.2:2342".parse().unwrap(),
        info,
        ping: Duration::from_micros(1500),
    };
    assert_eq!(
        f.to_string(),
        "10.0.0.2:2342  Bob's game  (ultdoom, waiting for players)  2/4 players  1.5 ms"
    );
    let old = FoundServer {
        info: QueryResponse {
            protocols: None,
            ..native()
        },
        ..f
    };
    assert_eq!(
        old.to_string(),
        "10.0.0.2:2342  Unnamed server  (waiting for players)  0/8 players  1.5 ms  [incompatible: Chocolate Doom 3.0.0]"
    );
}

fn shown_string() -> impl Strategy<Value = String> {
    proptest::string::string_regex("[ -~\n]{0,40}").unwrap()
}

fn any_response() -> impl Strategy<Value = QueryResponse> {
    (
        shown_string(),
        any::<[u8; 5]>(),
        shown_string(),
        proptest::option::of(proptest::collection::vec(
            proptest::string::string_regex("[^\0]{0,20}").unwrap(),
            0..5,
        )),
    )
        .prop_map(|(version, b, description, protocols)| QueryResponse {
            version,
            server_state: ServerState::from_u8(b[0]),
            num_players: b[1],
            max_players: b[2],
            gamemode: GameMode::from_u8(b[3]),
            gamemission: GameMission::from_u8(b[4]),
            description,
            protocols,
        })
}

proptest! {
    #[test]
    fn responses_round_trip(r in any_response()) {
        let bytes = r.emit().unwrap();
        prop_assert_eq!(QueryResponse::parse(&bytes), Ok(r));
    }

    /// Random bytes (half of them behind a valid type) never panic, and whatever decodes
    /// re-encodes to something that decodes to the same.
    #[test]
    fn any_input_decodes_or_errs(body in proptest::collection::vec(any::<u8>(), 0..200), typed in any::<bool>()) {
        let data = if typed { [&TYPE_QUERY_RESPONSE.to_be_bytes()[..], &body].concat() } else { body };
        let _ = parse_query(&data);
        if let Ok(r) = QueryResponse::parse(&data) {
            let again = r.emit().unwrap();
            prop_assert_eq!(QueryResponse::parse(&again), Ok(r));
        }
    }

    /// A valid answer cut anywhere is an error, or the same answer without its protocol list.
    #[test]
    fn truncated_responses(r in any_response(), cut in any::<prop::sample::Index>()) {
        let bytes = r.emit().unwrap();
        let len = cut.index(bytes.len());
        if let Ok(got) = QueryResponse::parse(&bytes[..len]) {
            prop_assert_eq!(got, QueryResponse { protocols: None, ..r });
        }
    }
}

/// A fake server on 127.0.0.1: answers each query with `reply(n)` (n counts queries) until
/// stopped.
fn fake_server(
    reply: impl Fn(u32) -> Vec<Vec<u8>> + Send + 'static,
) -> (SocketAddr, Arc<AtomicBool>, std::thread::JoinHandle<u32>) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_millis(20))).unwrap();
    let addr = s.local_addr().unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let st = stop.clone();
    let t = std::thread::spawn(move || {
        let mut buf = [0u8; 64];
        let mut n = 0;
        while !st.load(Ordering::Relaxed) {
            if let Ok((len, from)) = s.recv_from(&mut buf) {
                if parse_query(&buf[..len]).is_ok() {
                    for d in reply(n) {
                        let _ = s.send_to(&d, from);
                    }
                    n += 1;
                }
            }
        }
        n
    });
    (addr, stop, t)
}

#[test]
fn search_collects_each_server_once_and_ignores_junk() {
    let answer = QueryResponse {
        num_players: 2,
        max_players: 4,
        gamemode: GameMode::Retail,
        ..native()
    };
    let a = answer.clone();
    // Answers every query with junk, an echoed query and the answer twice.
    let (good, stop1, t1) = fake_server(move |_| {
        vec![
            b"junk".to_vec(),
            QUERY.to_vec(),
            a.emit().unwrap(),
            a.emit().unwrap(),
        ]
    });
    let (silent, stop2, t2) = fake_server(|_| vec![]);
    let cfg = SearchConfig {
        bind_ip: Ipv4Addr::LOCALHOST,
        broadcast: None,
        servers: vec![good, silent, "127.0.0.1:9".parse().unwrap()],
        timeout: Duration::from_millis(600),
        attempts: 3,
    };
    let t0 = Instant::now();
    let report = search(&cfg).unwrap();
    assert!(
        t0.elapsed() >= cfg.timeout,
        "waits out the timeout for late answers"
    );
    stop1.store(true, Ordering::Relaxed);
    stop2.store(true, Ordering::Relaxed);
    assert_eq!(t1.join().unwrap(), 3, "three attempts");
    assert_eq!(t2.join().unwrap(), 3);
    assert_eq!(report.servers.len(), 1, "{report:?}");
    let f = &report.servers[0];
    assert_eq!((f.addr, &f.info), (good, &answer));
    assert!(f.ping < cfg.timeout);
    // Junk and the echoed query three times, the duplicate once, then the answer twice twice.
    assert_eq!(report.ignored, 3 * 4 - 1);
}

#[test]
fn search_errors_are_typed() {
    let bad_bind = SearchConfig {
        bind_ip: Ipv4Addr::new(192, 0, 2, 1),
        broadcast: None,
        ..Default::default()
    };
    assert!(matches!(search(&bad_bind), Err(SearchError::Bind { .. })));
    // Broadcasting without SO_BROADCAST's permission is not possible to provoke portably, but a
    // send to port 0 fails everywhere.
    let bad_send = SearchConfig {
        bind_ip: Ipv4Addr::LOCALHOST,
        broadcast: None,
        servers: vec!["127.0.0.1:0".parse().unwrap()],
        ..Default::default()
    };
    assert!(matches!(search(&bad_send), Err(SearchError::Send { .. })));
}

#[test]
fn nothing_answering_is_an_empty_list() {
    let cfg = SearchConfig {
        bind_ip: Ipv4Addr::LOCALHOST,
        broadcast: None,
        servers: vec![],
        timeout: Duration::from_millis(50),
        attempts: 1,
    };
    assert_eq!(search(&cfg).unwrap(), SearchReport::default());
}
