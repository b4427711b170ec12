//! The rendezvous survives junk: bad JSON, binary frames, oversized messages, unknown rooms,
//! wrong secrets, too many rooms per address, floods: each gets a typed error (or, past the
//! hard size cap, a closed socket), and the service still serves a good client afterwards.
//! Also its HTTP side: the invite page and the health check.

mod common;

use std::time::Duration;

use common::*;
use doomlink_net::identity::Identity;
use doomlink_net::online::{host_room, join_room, HostOptions, JoinOptions, OnlineError};
use doomlink_net::rendezvous::Limits;
use doomlink_net::signaling::{ErrorCode, Message};
use doomlink_net::webrtc::peer::RtcOptions;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as Ws;

type Sock =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn connect(rv: &TestRendezvous) -> Sock {
    tokio_tungstenite::connect_async(format!("ws://{}/ws", rv.addr))
        .await
        .unwrap()
        .0
}

/// The next text message, decoded; `None` if the socket closed.
async fn next(ws: &mut Sock) -> Option<Message> {
    loop {
        match tokio::time::timeout(Duration::from_secs(5), ws.next())
            .await
            .expect("an answer")
        {
            Some(Ok(Ws::Text(t))) => {
                return Some(Message::decode(t.as_str()).expect("the service speaks the protocol"))
            }
            Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

async fn expect_error(ws: &mut Sock, code: ErrorCode) {
    match next(ws).await {
        Some(Message::Error { code: c, .. }) if c == code => {}
        other => panic!("expected {code:?}, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_gets_typed_errors_and_the_service_goes_on() {
    init_tracing();
    let limits = Limits {
        rooms_per_ip: 2,
        messages_per_sec: 20.0,
        message_burst: 30.0,
        ..Limits::default()
    };
    let rv = TestRendezvous::start(limits).await;
    let mut ws = connect(&rv).await;

    ws.send(Ws::Text("not json at all".into())).await.unwrap();
    expect_error(&mut ws, ErrorCode::BadMessage).await;
    ws.send(Ws::Text(r#"{"t":"fly","to":"moon"}"#.into()))
        .await
        .unwrap();
    expect_error(&mut ws, ErrorCode::BadMessage).await;
    ws.send(Ws::Text(r#"{"t":"host","name":"x","extra":true}"#.into()))
        .await
        .unwrap();
    expect_error(&mut ws, ErrorCode::BadMessage).await;
    ws.send(Ws::Binary(vec![0xff; 64].into())).await.unwrap();
    expect_error(&mut ws, ErrorCode::BadMessage).await;
    ws.send(Ws::Text(
        format!(r#"{{"t":"host","name":"{}"}}"#, "y".repeat(20_000)).into(),
    ))
    .await
    .unwrap();
    expect_error(&mut ws, ErrorCode::TooLarge).await;
    ws.send(Ws::Text(
        r#"{"t":"join","room":"nosuchroom","secret":"0123456789abcdefABCD"}"#.into(),
    ))
    .await
    .unwrap();
    expect_error(&mut ws, ErrorCode::UnknownRoom).await;
    ws.send(Ws::Text(
        r#"{"t":"signal","peer":1,"data":{"end_of_candidates":null}}"#.into(),
    ))
    .await
    .unwrap();
    let m = next(&mut ws).await;
    assert!(
        matches!(
            m,
            Some(Message::Error {
                code: ErrorCode::NotAllowed | ErrorCode::BadMessage,
                ..
            })
        ),
        "{m:?}"
    );
    ws.send(Ws::Text(r#"{"t":"closed","reason":"I say so"}"#.into()))
        .await
        .unwrap();
    expect_error(&mut ws, ErrorCode::NotAllowed).await;

    // A real room, then a wrong secret for it.
    ws.send(Ws::Text(
        Message::Host { name: "h1".into() }.encode().unwrap().into(),
    ))
    .await
    .unwrap();
    let Some(Message::Hosted { room, .. }) = next(&mut ws).await else {
        panic!("no room")
    };
    let mut other = connect(&rv).await;
    other
        .send(Ws::Text(
            format!(r#"{{"t":"join","room":"{room}","secret":"wrongwrongwrongwrong"}}"#).into(),
        ))
        .await
        .unwrap();
    expect_error(&mut other, ErrorCode::BadSecret).await;
    // Too many rooms from one address.
    other
        .send(Ws::Text(
            Message::Host { name: "h2".into() }.encode().unwrap().into(),
        ))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut other).await,
        Some(Message::Hosted { .. })
    ));
    let mut third = connect(&rv).await;
    third
        .send(Ws::Text(
            Message::Host { name: "h3".into() }.encode().unwrap().into(),
        ))
        .await
        .unwrap();
    expect_error(&mut third, ErrorCode::TooManyRooms).await;

    // A flood: rate-limited, then dropped.
    let mut limited = false;
    for _ in 0..200 {
        if third
            .send(Ws::Text(r#"{"t":"keepalive"}"#.into()))
            .await
            .is_err()
        {
            break;
        }
    }
    while let Some(m) = next(&mut third).await {
        if matches!(
            m,
            Message::Error {
                code: ErrorCode::RateLimited,
                ..
            }
        ) {
            limited = true;
        }
    }
    assert!(limited, "the flood was never rate-limited");

    // Past the hard cap the socket closes; nothing else is affected.
    let mut big = connect(&rv).await;
    let _ = big.send(Ws::Text("z".repeat(100_000).into())).await;
    assert!(
        next(&mut big).await.is_none(),
        "an oversized frame closes that socket"
    );

    // The two junk rooms end when their hosts leave; then a good client hosts and joins.
    ws.send(Ws::Text(r#"{"t":"leave"}"#.into())).await.unwrap();
    other
        .send(Ws::Text(r#"{"t":"leave"}"#.into()))
        .await
        .unwrap();
    assert!(matches!(
        next(&mut ws).await,
        Some(Message::Closed { .. }) | None
    ));
    assert!(matches!(
        next(&mut other).await,
        Some(Message::Closed { .. }) | None
    ));
    let mut opts = HostOptions::new(rv.host_port(), Identity::ephemeral().unwrap());
    opts.rtc = RtcOptions::loopback();
    let mut room = host_room(opts).await.expect("the service still serves");
    let invite = room.invite.clone();
    let (joined, host_side) = tokio::join!(
        join_room(
            &invite,
            JoinOptions {
                name: "ok".into(),
                rtc: RtcOptions::loopback(),
                tls: Default::default(),
            }
        ),
        room.next_joiner()
    );
    joined.expect("joiner connects");
    host_side.expect("a joiner").expect("host connects");

    // A link to a room that is gone is a clean refusal.
    room.close().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let err = join_room(
        &invite,
        JoinOptions {
            name: "late".into(),
            rtc: RtcOptions::loopback(),
            tls: Default::default(),
        },
    )
    .await
    .unwrap_err();
    assert!(
        matches!(
            err,
            OnlineError::Refused {
                code: ErrorCode::UnknownRoom,
                ..
            }
        ),
        "{err:?}"
    );
}

async fn http_get(addr: std::net::SocketAddr, path: &str) -> String {
    let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
    s.write_all(
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").as_bytes(),
    )
    .await
    .unwrap();
    let mut out = String::new();
    tokio::time::timeout(Duration::from_secs(5), s.read_to_string(&mut out))
        .await
        .unwrap()
        .unwrap();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_http_form_of_a_link_serves_a_page_that_opens_doomlink() {
    let rv = TestRendezvous::start(Limits::default()).await;
    let page = http_get(rv.addr, "/join/abcd2345?fp=AAAA&exp=1").await;
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains("doomlink://join/"), "{page}");
    assert!(page.contains("Don't have doomlink?"));
    let bad = http_get(rv.addr, "/join/%3Cscript%3E").await;
    assert!(bad.starts_with("HTTP/1.1 404"), "{bad}");
    assert!(!bad.contains("<script>"));
    assert!(http_get(rv.addr, "/health").await.ends_with("ok\n"));
}

#[tokio::test]
async fn a_bad_service_config_is_a_typed_error() {
    use doomlink_net::rendezvous::{Rendezvous, ServeConfig, ServeError};
    let dir = std::env::temp_dir().join(format!("doomlink-rv-cfg-{}", std::process::id()));
    let cfg = ServeConfig::new("127.0.0.1:0".parse().unwrap(), "not a host!", dir.clone());
    assert!(matches!(
        Rendezvous::bind(cfg).await,
        Err(ServeError::PublicHost(_))
    ));
    let cfg = ServeConfig::new("0.0.0.0:0".parse().unwrap(), "rv.example.org", dir.clone());
    assert!(matches!(
        Rendezvous::bind(cfg).await,
        Err(ServeError::RelayIp)
    ));
    let _ = std::fs::remove_dir_all(&dir);
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// A TCP connection to the service from `source` (another address of 127.0.0.0/8).
async fn connect_from(source: [u8; 4], to: std::net::SocketAddr) -> tokio::net::TcpStream {
    let s = tokio::net::TcpSocket::new_v4().unwrap();
    s.bind((std::net::Ipv4Addr::from(source), 0).into())
        .unwrap();
    s.connect(to).await.unwrap()
}

/// 5,000 connections that send nothing, from one address: the service keeps its per-address
/// share of them (64) and closes the rest as it accepts them, so its descriptors stay bounded,
/// and a player from another address hosts a room within a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_keep_nobody_out() {
    let rv = TestRendezvous::start(Limits::default()).await;
    let limits = doomlink_net::rendezvous::http::HttpLimits::default();
    let before = open_fds();
    let mut idle = Vec::new();
    for _ in 0..5000 {
        idle.push(connect_from([127, 0, 0, 1], rv.addr).await);
    }
    // Give the accept loop time to take (and close) them all.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held_by_service = open_fds() - before - idle.len();
    println!("descriptors the service holds for 5000 idle connections: {held_by_service}");
    assert!(
        held_by_service <= limits.connections_per_ip + 16,
        "{held_by_service} descriptors for idle connections"
    );
    // A real player, from elsewhere, gets its room at once.
    let t0 = std::time::Instant::now();
    let stream = connect_from([127, 0, 0, 2], rv.addr).await;
    let plain = tokio_tungstenite::MaybeTlsStream::Plain(stream);
    let (mut ws, _) = tokio_tungstenite::client_async(format!("ws://{}/ws", rv.addr), plain)
        .await
        .expect("the WebSocket upgrade goes through");
    ws.send(Ws::Text(
        Message::Host {
            name: "late".into(),
        }
        .encode()
        .unwrap()
        .into(),
    ))
    .await
    .unwrap();
    let Some(Message::Hosted { .. }) = next(&mut ws).await else {
        panic!("no room for the late host")
    };
    let took = t0.elapsed();
    println!("a host behind 5000 idle connections got its room in {took:?}");
    assert!(took < Duration::from_secs(1), "{took:?}");
    drop(idle);
}

/// A signaling connection as a proxy in front of the service makes it: from 127.0.0.1, naming
/// the client in `X-Forwarded-For`. The HTTP status if the upgrade is refused.
async fn connect_forwarded(rv: &TestRendezvous, xff: &str) -> Result<Sock, u16> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{}/ws", rv.addr)
        .into_client_request()
        .unwrap();
    req.headers_mut()
        .insert("x-forwarded-for", xff.parse().unwrap());
    match tokio_tungstenite::connect_async(req).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(r)) => Err(r.status().as_u16()),
        Err(e) => panic!("{e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn per_address_limits_count_the_clients_a_trusted_proxy_names_and_no_one_elses() {
    let limits = Limits {
        connections_per_ip: 2,
        ..Limits::default()
    };
    // Behind a proxy on 127.0.0.1: each client has its own two connections.
    let mut cfg = test_serve_config(limits.clone(), &[]);
    cfg.http.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
    let rv = TestRendezvous::start_with(cfg).await;
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(connect_forwarded(&rv, "198.51.100.7").await.unwrap());
    }
    assert_eq!(
        connect_forwarded(&rv, "198.51.100.7").await.err(),
        Some(429)
    );
    // What a client writes left of what the proxy added changes nothing.
    assert_eq!(
        connect_forwarded(&rv, "203.0.113.1, 198.51.100.7")
            .await
            .err(),
        Some(429)
    );
    held.push(connect_forwarded(&rv, "198.51.100.8").await.unwrap());
    // A proxy's own connections are not held to the per-address cap of HTTP connections.
    let mut idle = Vec::new();
    for _ in 0..80 {
        idle.push(connect_from([127, 0, 0, 1], rv.addr).await);
    }
    held.push(connect_forwarded(&rv, "198.51.100.9").await.unwrap());
    drop((held, idle));

    // The same header from an address that is not a trusted proxy is ignored: one source.
    let mut cfg = test_serve_config(limits, &[]);
    cfg.http.trusted_proxies = vec!["127.0.0.2/32".parse().unwrap()];
    let rv = TestRendezvous::start_with(cfg).await;
    let _a = connect_forwarded(&rv, "198.51.100.7").await.unwrap();
    let _b = connect_forwarded(&rv, "198.51.100.8").await.unwrap();
    assert_eq!(
        connect_forwarded(&rv, "198.51.100.9").await.err(),
        Some(429)
    );
}

/// A joiner asks who hosts a link's room before joining: the host's name and who is in the
/// room as the host last said, cleaned of what a terminal must not be handed; a link with a
/// wrong secret learns nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_link_tells_who_hosts_its_room_to_the_holder_of_its_secret_only() {
    use doomlink_net::online::peek_room;
    let rv = TestRendezvous::start(Limits::default()).await;
    let mut opts = HostOptions::new(rv.host_port(), Identity::ephemeral().unwrap());
    opts.name = "alice\u{1b}[31m\u{202e}".into();
    let mut room = host_room(opts).await.unwrap();
    let peeked = peek_room(&room.invite, &Default::default()).await.unwrap();
    assert_eq!(peeked.host, "alice[31m");
    assert_eq!((peeked.players.len(), peeked.expected), (0, 0));

    // The host tells who is in, and tells again when that changes.
    let in_room = std::sync::Arc::new(std::sync::Mutex::new(vec![
        "alice".to_string(),
        "bob\u{7}\u{200b}".to_string(),
    ]));
    let list = in_room.clone();
    room.follow_players(4, move || list.lock().unwrap().clone());
    let players_become = |want: &'static [&'static str]| {
        let invite = room.invite.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let p = peek_room(&invite, &Default::default()).await.unwrap();
                if p.players == want {
                    assert_eq!(p.expected, 4);
                    return;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "players stayed {:?}",
                    p.players
                );
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    };
    players_become(&["alice", "bob"]).await;
    in_room.lock().unwrap().push("carol".into());
    players_become(&["alice", "bob", "carol"]).await;
    let mut forged = room.invite.clone();
    forged.secret = "not-the-secret-of-this-room".into();
    match peek_room(&forged, &Default::default()).await {
        Err(OnlineError::Refused {
            code: ErrorCode::BadSecret,
            ..
        }) => {}
        other => panic!("{other:?}"),
    }
}
