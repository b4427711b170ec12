//! The rendezvous speaking TLS, attacked and used on 127.0.0.1 with a CA and certificates made
//! in the test: a client that does not trust the certificate is refused with one line, a
//! reload serves the new certificate to new connections while open ones go on (and a bad file
//! leaves the old one in place), the admin API over https, and silent connections that never
//! finish a handshake do not hold up anyone else.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use doomlink_net::admin_api::{create_room, create_room_with, AdminClientError};
use doomlink_net::identity::Identity;
use doomlink_net::online::{host_room, join_room, HostOptions, JoinOptions, OnlineError};
use doomlink_net::rendezvous::{
    CreatedRoom, DedicatedRooms, Limits, RoomError, RoomInfo, RoomRequest,
};
use doomlink_net::signaling::invite::InviteLink;
use doomlink_net::signaling::Message;
use doomlink_net::tls_client::{self, ClientIo, ClientTls, ConnectError};
use doomlink_net::webrtc::peer::RtcOptions;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::WebSocketStream;

type Ws = WebSocketStream<Box<dyn ClientIo>>;

/// A signaling connection to `rv` over TLS, trusting `trust`.
async fn signaling(rv: &TestRendezvous, trust: &ClientTls) -> Result<Ws, ConnectError> {
    let io = tls_client::connect(&rv.addr.to_string(), Some(trust), Duration::from_secs(5)).await?;
    let (ws, _) = tokio_tungstenite::client_async(format!("wss://{}/ws", rv.addr), io)
        .await
        .expect("WebSocket over TLS");
    Ok(ws)
}

/// Registers a room on `ws` and waits for the rendezvous's answer.
async fn hosts(ws: &mut Ws) {
    let host = Message::Host { name: "t".into() };
    ws.send(WsMessage::Text(host.encode().unwrap().into()))
        .await
        .expect("send");
    let answer = tokio::time::timeout(Duration::from_secs(5), ws.next())
        .await
        .expect("an answer within 5 s")
        .expect("the connection is open")
        .expect("a message");
    let WsMessage::Text(t) = answer else {
        panic!("{answer:?}")
    };
    assert!(
        matches!(Message::decode(t.as_str()), Ok(Message::Hosted { .. })),
        "{t}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_without_the_ca_is_refused_in_one_line() {
    init_tracing();
    let dir = test_dir("tls-untrusted");
    let ca = TestCa::new(&dir, "a");
    let rv = TestRendezvous::start_tls(Limits::default(), &ca).await;
    // The host, trusting the system's roots only.
    let err = host_room(HostOptions::new(
        rv.host_port(),
        Identity::ephemeral().unwrap(),
    ))
    .await
    .unwrap_err();
    assert!(matches!(err, OnlineError::Untrusted { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(
        msg.contains("certificate of 127.0.0.1 was not trusted"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1, "{msg}");
    println!("{msg}");
    // Another CA's file does not help either.
    let other = TestCa::new(&dir, "other");
    let mut opts = HostOptions::new(rv.host_port(), Identity::ephemeral().unwrap());
    opts.tls = other.trust();
    let err = host_room(opts).await.unwrap_err();
    assert!(matches!(err, OnlineError::Untrusted { .. }), "{err:?}");
    // A joiner with a TLS link, the same.
    let mut opts = HostOptions::new(rv.host_port(), Identity::ephemeral().unwrap());
    opts.tls = rv.trust.clone();
    let room = host_room(opts).await.expect("the CA's client hosts");
    let link = InviteLink::parse(&room.invite.to_doomlink_url()).unwrap();
    let err = join_room(
        &link,
        JoinOptions {
            name: "eve".into(),
            rtc: RtcOptions::loopback(),
            tls: Default::default(),
        },
    )
    .await
    .unwrap_err();
    assert!(matches!(err, OnlineError::Untrusted { .. }), "{err:?}");
    // Plain WebSocket to the TLS port gets nowhere: the listener speaks TLS only.
    let plain = HostOptions::new(rv.addr.to_string(), Identity::ephemeral().unwrap());
    let err = host_room(plain).await.unwrap_err();
    assert!(matches!(err, OnlineError::Connect { .. }), "{err:?}");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_serves_the_new_certificate_and_a_bad_file_keeps_the_old() {
    init_tracing();
    let dir = test_dir("tls-reload");
    let (a, b) = (TestCa::new(&dir, "a"), TestCa::new(&dir, "b"));
    // More rooms from 127.0.0.1 than the default allows: each check below hosts one.
    let limits = Limits {
        rooms_per_ip: 16,
        ..Limits::default()
    };
    let rv = TestRendezvous::start_tls(limits, &a).await;
    let reload = rv.tls.clone().expect("TLS is on");
    let files = reload.files().clone();
    let mut before = signaling(&rv, &a.trust()).await.expect("CA a is trusted");

    // A certificate from another CA replaces the files; the reload picks it up.
    b.issue(&files.cert, &files.key);
    reload.reload().expect("the new files load");
    let refused = signaling(&rv, &a.trust()).await.err();
    assert!(
        matches!(refused, Some(ConnectError::Untrusted { .. })),
        "{refused:?}"
    );
    let mut after = signaling(&rv, &b.trust())
        .await
        .expect("new connections get the new certificate");
    hosts(&mut after).await;
    // The connection from before the reload goes on.
    hosts(&mut before).await;
    // The dedicated rooms' way in trusts the service's certificate as it is now, and no other
    // (another service's, though from the same CA).
    let local = reload.local_client();
    hosts(
        &mut signaling(&rv, &local)
            .await
            .expect("the service's own certificate"),
    )
    .await;
    let other = TestRendezvous::start_tls(Limits::default(), &b).await;
    let refused = signaling(&other, &local).await.err();
    assert!(
        matches!(refused, Some(ConnectError::Untrusted { .. })),
        "{refused:?}"
    );

    // A broken certificate file: one line naming it, and the certificate in use stays.
    std::fs::write(&files.cert, "-----BEGIN CERTIFICATE-----\nnot base64!\n").unwrap();
    let e = reload.reload().unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("tls_cert {}: ", files.cert.display())),
        "{e}"
    );
    assert_eq!(e.lines().count(), 1, "{e}");
    hosts(&mut signaling(&rv, &b.trust()).await.expect("the old one stays")).await;
    // A missing key file, the same.
    b.issue(&files.cert, &files.key);
    std::fs::remove_file(&files.key).unwrap();
    let e = reload.reload().unwrap_err().to_string();
    assert!(
        e.starts_with(&format!("tls_key {}: ", files.key.display())),
        "{e}"
    );
    // The key of another certificate.
    let elsewhere = doomlink_net::rendezvous::tls::TlsFiles {
        cert: dir.join("other-cert.pem"),
        key: files.key.clone(),
    };
    a.issue(&elsewhere.cert, &elsewhere.key);
    let e = reload.reload().unwrap_err().to_string();
    assert!(e.contains("tls_cert") && e.contains("tls_key"), "{e}");
    hosts(&mut signaling(&rv, &b.trust()).await.expect("the old one stays")).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// A bad certificate or key at start: the service does not start, and says which file.
#[tokio::test]
async fn a_bad_certificate_at_start_names_the_file() {
    let dir = test_dir("tls-start");
    let mut cfg = test_serve_config(Limits::default(), &[]);
    let files = doomlink_net::rendezvous::tls::TlsFiles {
        cert: dir.join("cert.pem"),
        key: dir.join("key.pem"),
    };
    cfg.tls = Some(files.clone());
    let e = doomlink_net::rendezvous::Rendezvous::bind(cfg.clone())
        .await
        .err()
        .expect("no certificate, no start")
        .to_string();
    assert!(
        e.starts_with(&format!("tls_cert {}: ", files.cert.display())),
        "{e}"
    );
    TestCa::new(&dir, "a").issue(&files.cert, &files.key);
    std::fs::write(
        &files.key,
        "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
    )
    .unwrap();
    let e = doomlink_net::rendezvous::Rendezvous::bind(cfg)
        .await
        .err()
        .expect("a bad key, no start")
        .to_string();
    assert!(e.contains(&files.key.display().to_string()), "{e}");
    // Nothing of the key's contents is in the error.
    assert!(!e.contains("AAAA"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Dedicated rooms that make one fixed room: enough to see the admin API answer.
struct OneRoom;

#[async_trait::async_trait]
impl DedicatedRooms for OneRoom {
    async fn create(&self, _req: RoomRequest) -> Result<CreatedRoom, RoomError> {
        Ok(CreatedRoom {
            room: "r1".into(),
            link: "doomlink://join/x".into(),
        })
    }
    fn list(&self) -> Vec<RoomInfo> {
        Vec::new()
    }
    fn counts(&self) -> (usize, usize) {
        (0, 0)
    }
    fn metrics_text(&self) -> String {
        String::new()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_over_https() {
    init_tracing();
    let dir = test_dir("tls-admin");
    let ca = TestCa::new(&dir, "a");
    let rv = TestRendezvous::start_tls(Limits::default(), &ca).await;
    rv.admin.set_token(Some("a-long-enough-admin-token".into()));
    rv.admin.set_rooms(Arc::new(OneRoom));
    let on = format!("https://{}", rv.addr);
    let req = RoomRequest::default();
    let created = create_room_with(&on, "a-long-enough-admin-token", &req, &ca.trust())
        .await
        .expect("a room over https");
    assert_eq!(created.room, "r1");
    // The token is still checked over TLS.
    let e = create_room_with(&on, "wrong", &req, &ca.trust())
        .await
        .unwrap_err();
    assert!(matches!(e, AdminClientError::Unauthorized { .. }), "{e}");
    // Without the CA: refused, one line naming the host.
    let e = create_room(&on, "a-long-enough-admin-token", &req)
        .await
        .unwrap_err();
    assert!(matches!(e, AdminClientError::Untrusted { .. }), "{e}");
    let msg = e.to_string();
    assert!(
        msg.contains("certificate of 127.0.0.1 was not trusted"),
        "{msg}"
    );
    assert_eq!(msg.lines().count(), 1);
    // The invite page over https: its script gives the app a link that says TLS.
    let mut io = tls_client::connect(
        &rv.addr.to_string(),
        Some(&ca.trust()),
        Duration::from_secs(5),
    )
    .await
    .expect("https");
    io.write_all(b"GET /join/abcd2345 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut page = String::new();
    io.read_to_string(&mut page).await.unwrap();
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.contains(r#"location.protocol === "https:""#) && page.contains("tls=1"));
    // Plain HTTP to the TLS listener: an error, not an answer.
    let e = create_room(&rv.addr.to_string(), "a-long-enough-admin-token", &req)
        .await
        .unwrap_err();
    assert!(!matches!(e, AdminClientError::Refused { .. }), "{e}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Connections that never start their handshake are each held by their own task: a client
/// behind them is served at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_connections_do_not_hold_up_the_handshake_of_others() {
    init_tracing();
    let dir = test_dir("tls-silent");
    let ca = TestCa::new(&dir, "a");
    let rv = TestRendezvous::start_tls(Limits::default(), &ca).await;
    let mut silent = Vec::new();
    for _ in 0..8 {
        silent.push(tokio::net::TcpStream::connect(rv.addr).await.unwrap());
    }
    let mut ws = tokio::time::timeout(Duration::from_secs(3), signaling(&rv, &ca.trust()))
        .await
        .expect("served while others are silent")
        .expect("trusted");
    hosts(&mut ws).await;
    let _ = std::fs::remove_dir_all(dir);
}
