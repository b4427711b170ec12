//! What a room plays, and the free IWADs the service hands to browser players: a host tells
//! the rendezvous its IWAD's hash and file name, the holder of the join secret reads them before
//! joining (`peek_game`); `/play/iwad/<sha256>` serves only free IWADs (a commercial one given
//! to the service is never on its shelf), whole and as they hash, and a few slow downloads from
//! one address cannot hold the service's bandwidth: each source gets two at once, the service
//! sixteen, and a slot comes back when its download ends or its client goes.

mod common;

use std::time::{Duration, Instant};

use common::*;
use doomlink_net::identity::Identity;
use doomlink_net::online::{host_room, HostOptions};
use doomlink_net::rendezvous::iwads::{IwadShelf, DOWNLOADS_PER_SOURCE};
use doomlink_net::rendezvous::Limits;
use doomlink_net::signaling::{GameFile, GameInfo, Message};
use doomlink_net::webrtc::peer::RtcOptions;
use futures_util::{SinkExt, StreamExt};
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_tungstenite::tungstenite::Message as Ws;

/// Debian's freedoom package, which scripts/setup installs.
const FREEDOOM1: &str = "/usr/share/games/doom/freedoom1.wad";

fn freedoom1_hex() -> String {
    let bytes = std::fs::read(FREEDOOM1)
        .unwrap_or_else(|e| panic!("{FREEDOOM1}: {e} (scripts/setup installs freedoom)"));
    doomlink_net::iwads::hex(&Sha256::digest(bytes).into())
}

/// A GET of `path` from the source address `from`: the response's head, and the connection
/// with its body not read yet.
async fn get_from(
    from: [u8; 4],
    to: std::net::SocketAddr,
    path: &str,
) -> (String, tokio::net::TcpStream) {
    let sock = tokio::net::TcpSocket::new_v4().unwrap();
    sock.bind((std::net::Ipv4Addr::from(from), 0).into())
        .unwrap();
    let mut s = sock.connect(to).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: {to}\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut head = Vec::new();
    let mut b = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(Duration::from_secs(5), s.read(&mut b))
            .await
            .expect("a response head within 5 s")
            .unwrap();
        assert_eq!(n, 1, "closed before the head ended: {head:?}");
        head.push(b[0]);
    }
    (String::from_utf8_lossy(&head).into_owned(), s)
}

fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| {
            l.to_ascii_lowercase()
                .strip_prefix("content-length: ")
                .map(str::to_owned)
        })
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no content-length: {head}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_free_iwads_are_served_whole_and_a_source_gets_two_downloads_at_once() {
    let dir = test_dir("iwads");
    // A file given to the service that is not a free IWAD (as DOOM2.WAD would be).
    let other = dir.join("doom2.wad");
    std::fs::write(&other, b"IWAD\x01\x00\x00\x00\x0c\x00\x00\x00not free").unwrap();
    let other_hex =
        doomlink_net::iwads::hex(&Sha256::digest(std::fs::read(&other).unwrap()).into());
    let (shelf, skipped) = IwadShelf::from_files(&[FREEDOOM1.into(), other]);
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let mut cfg = test_serve_config(Limits::default(), &[]);
    cfg.iwads = std::sync::Arc::new(shelf);
    let rv = TestRendezvous::start_with(cfg).await;
    let hex = freedoom1_hex();
    let path = format!("/play/iwad/{hex}");

    // Whole, as it hashes, named by its hash for caches.
    let (head, mut s) = get_from([127, 0, 0, 1], rv.addr, &path).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("immutable"), "{head}");
    let len = content_length(&head);
    let mut body = vec![0u8; len];
    s.read_exact(&mut body).await.unwrap();
    assert_eq!(len as u64, std::fs::metadata(FREEDOOM1).unwrap().len());
    assert_eq!(doomlink_net::iwads::hex(&Sha256::digest(&body).into()), hex);

    // Not free, not a hash, not a file: nothing.
    for p in [
        format!("/play/iwad/{other_hex}"),
        format!("/play/iwad/{}", hex.to_uppercase()),
        "/play/iwad/..%2f..%2fCargo.toml".into(),
        "/play/iwad/".into(),
    ] {
        let (head, _) = get_from([127, 0, 0, 1], rv.addr, &p).await;
        assert!(head.starts_with("HTTP/1.1 404"), "{p}: {head}");
    }

    // Two downloads from one address that read nothing hold its share; a third is refused at
    // once, another address still gets its IWAD.
    let mut held = Vec::new();
    for _ in 0..DOWNLOADS_PER_SOURCE {
        let (head, s) = get_from([127, 0, 0, 2], rv.addr, &path).await;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        held.push(s);
    }
    let (head, _) = get_from([127, 0, 0, 2], rv.addr, &path).await;
    assert!(head.starts_with("HTTP/1.1 429"), "{head}");
    let (head, _) = get_from([127, 0, 0, 3], rv.addr, &path).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The held ones hang up: their slots come back.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let (head, _) = get_from([127, 0, 0, 2], rv.addr, &path).await;
        if head.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(Instant::now() < deadline, "slots not given back: {head}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_says_what_it_plays_and_the_join_secret_reads_it() {
    let rv = TestRendezvous::start(Limits::default()).await;
    let mut opts = HostOptions::new(
        rv.addr.to_string(),
        Identity::ephemeral().expect("an identity"),
    );
    opts.rtc = RtcOptions::default();
    let said = GameInfo {
        iwad: "ab".repeat(32),
        iwad_file: "freedoom2.wad".into(),
        iwad_size: 1234,
        files: vec![GameFile {
            sha256: "cd".repeat(32),
            name: "maps.wad".into(),
            size: 99,
        }],
        mode: "deathmatch".into(),
        map: "MAP01".into(),
        skill: 2,
    };
    opts.game = Some(said.clone());
    let room = host_room(opts).await.expect("a room");
    let peek = |secret: String| Message::PeekGame {
        room: room.room.clone(),
        secret,
    };
    let ask = |m: Message| async move {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", rv.addr))
            .await
            .unwrap();
        ws.send(Ws::Text(m.encode().unwrap().into())).await.unwrap();
        loop {
            match tokio::time::timeout(Duration::from_secs(5), ws.next()).await {
                Ok(Some(Ok(Ws::Text(t)))) => return Message::decode(t.as_str()).unwrap(),
                Ok(Some(Ok(_))) => continue,
                other => panic!("no answer: {other:?}"),
            }
        }
    };
    // The message reaches the service after `hosted`: ask until it is there.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let got = ask(peek(room.invite.secret.clone())).await;
        let want = Message::Game(said.clone());
        if got == want {
            break;
        }
        assert!(Instant::now() < deadline, "{got:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let wrong = ask(peek("wrong-wrong-wrong-wrong".into())).await;
    assert!(matches!(wrong, Message::Error { .. }), "{wrong:?}");
}
