//! Attacks on the rendezvous's TURN server (see `rendezvous::turn`'s docs for the defences),
//! with raw STUN messages, all on loopback (127.0.0.1, and 127.1.x.y for many sources):
//! - a relay to the inside (loopback, private, link-local: cloud metadata) is refused with 403
//!   (CreatePermission, ChannelBind), also when only the second of two peer addresses is
//!   refused, and a Send indication there is dropped;
//! - the service's own STUN/TURN ports are refused even where loopback is allowed;
//! - the credentials of a room that ended get 401;
//! - allocations stop at the quotas (486), in all and per room;
//! - an allocation's relay rate is capped;
//! - 1,000,000 unauthenticated Allocates from 2,000 source addresses leave no state behind
//!   (process RSS; the published server's table grows under a tenth of that), and each 401 is
//!   at most 3.5 times the request's size; the STUN-only port answers nothing but Binding;
//! - with the built-in TURN off (external TURN only) no room is handed TURN credentials and
//!   the TURN port answers nothing but Binding either.
//!
//! The tests take turns (one lock): the memory measurement must not see another test's.

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use doomlink_net::rendezvous::{Limits, Rendezvous, ShutdownHandle};
use doomlink_net::signaling::Message;
use futures_util::{SinkExt, StreamExt};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use tokio::net::UdpSocket;
use tokio::time::timeout;
use tokio_tungstenite::tungstenite::Message as Ws;

static ONE_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

const MAGIC: u32 = 0x2112_a442;
// Message types: method | class bits.
const BINDING: u16 = 0x0001;
const ALLOCATE: u16 = 0x0003;
const REFRESH: u16 = 0x0004;
const CREATE_PERMISSION: u16 = 0x0008;
const CHANNEL_BIND: u16 = 0x0009;
const SEND: u16 = 0x0016;
const DATA_INDICATION: u16 = 0x0017;
const SUCCESS: u16 = 0x0100;
const ERROR: u16 = 0x0110;
// Attributes.
const USERNAME: u16 = 0x0006;
const MESSAGE_INTEGRITY: u16 = 0x0008;
const ERROR_CODE: u16 = 0x0009;
const CHANNEL_NUMBER: u16 = 0x000c;
const LIFETIME: u16 = 0x000d;
const XOR_PEER_ADDRESS: u16 = 0x0012;
const DATA: u16 = 0x0013;
const REALM: u16 = 0x0014;
const NONCE: u16 = 0x0015;
const XOR_RELAYED_ADDRESS: u16 = 0x0016;
const REQUESTED_TRANSPORT: u16 = 0x0019;

/// A STUN message, as sent or received.
#[derive(Debug, Clone)]
struct Stun {
    typ: u16,
    tid: [u8; 12],
    attrs: Vec<(u16, Vec<u8>)>,
}

impl Stun {
    fn new(typ: u16) -> Stun {
        Stun {
            typ,
            tid: rand::random(),
            attrs: vec![],
        }
    }

    fn with(mut self, t: u16, v: impl Into<Vec<u8>>) -> Stun {
        self.attrs.push((t, v.into()));
        self
    }

    fn with_peer(self, peer: SocketAddr) -> Stun {
        let v = xor_address(peer);
        self.with(XOR_PEER_ADDRESS, v)
    }

    /// The wire form; with MESSAGE-INTEGRITY last if `key` is given.
    fn encode(&self, key: Option<&[u8]>) -> Vec<u8> {
        let mut body = Vec::new();
        for (t, v) in &self.attrs {
            body.extend_from_slice(&t.to_be_bytes());
            body.extend_from_slice(&(v.len() as u16).to_be_bytes());
            body.extend_from_slice(v);
            body.resize(body.len().next_multiple_of(4), 0);
        }
        let header = |len: usize| {
            let mut h = Vec::with_capacity(20);
            h.extend_from_slice(&self.typ.to_be_bytes());
            h.extend_from_slice(&(len as u16).to_be_bytes());
            h.extend_from_slice(&MAGIC.to_be_bytes());
            h.extend_from_slice(&self.tid);
            h
        };
        match key {
            None => [header(body.len()), body].concat(),
            Some(key) => {
                let mut m = [header(body.len() + 24), body].concat();
                let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(key).unwrap();
                mac.update(&m);
                m.extend_from_slice(&MESSAGE_INTEGRITY.to_be_bytes());
                m.extend_from_slice(&20u16.to_be_bytes());
                m.extend_from_slice(&mac.finalize().into_bytes());
                m
            }
        }
    }

    fn decode(b: &[u8]) -> Option<Stun> {
        if b.len() < 20 || b[0] & 0xc0 != 0 || b[4..8] != MAGIC.to_be_bytes() {
            return None;
        }
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        let body = b.get(20..20 + len)?;
        let mut attrs = vec![];
        let mut at = 0;
        while at + 4 <= body.len() {
            let t = u16::from_be_bytes([body[at], body[at + 1]]);
            let l = u16::from_be_bytes([body[at + 2], body[at + 3]]) as usize;
            attrs.push((t, body.get(at + 4..at + 4 + l)?.to_vec()));
            at += (4 + l).next_multiple_of(4);
        }
        Some(Stun {
            typ: u16::from_be_bytes([b[0], b[1]]),
            tid: b[8..20].try_into().unwrap(),
            attrs,
        })
    }

    fn attr(&self, t: u16) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(a, _)| *a == t)
            .map(|(_, v)| v.as_slice())
    }

    fn error_code(&self) -> Option<u16> {
        self.attr(ERROR_CODE)
            .map(|v| u16::from(v[2] & 7) * 100 + u16::from(v[3]))
    }
}

fn xor_address(a: SocketAddr) -> Vec<u8> {
    let IpAddr::V4(ip) = a.ip() else {
        panic!("IPv4 only here")
    };
    let mut v = vec![0, 1];
    v.extend_from_slice(&(a.port() ^ (MAGIC >> 16) as u16).to_be_bytes());
    v.extend_from_slice(&(u32::from(ip) ^ MAGIC).to_be_bytes());
    v
}

fn from_xor_address(v: &[u8]) -> SocketAddr {
    let port = u16::from_be_bytes([v[2], v[3]]) ^ (MAGIC >> 16) as u16;
    let ip = u32::from_be_bytes(v[4..8].try_into().unwrap()) ^ MAGIC;
    SocketAddr::new(Ipv4Addr::from(ip).into(), port)
}

/// A TURN client on its own socket (its own 5-tuple), with a room's credentials.
struct Client {
    sock: UdpSocket,
    server: SocketAddr,
    username: String,
    password: String,
    realm: Vec<u8>,
    nonce: Vec<u8>,
    key: Vec<u8>,
}

impl Client {
    async fn new(server: SocketAddr, creds: &(String, String)) -> Client {
        Client {
            sock: UdpSocket::bind("127.0.0.1:0").await.unwrap(),
            server,
            username: creds.0.clone(),
            password: creds.1.clone(),
            realm: vec![],
            nonce: vec![],
            key: vec![],
        }
    }

    /// Sends `m` and waits for its answer (other messages are skipped); None after a second.
    async fn ask(&self, m: &Stun, key: Option<&[u8]>) -> Option<Stun> {
        self.sock
            .send_to(&m.encode(key), self.server)
            .await
            .unwrap();
        let mut buf = [0u8; 2048];
        timeout(Duration::from_secs(1), async {
            loop {
                let (n, _) = self.sock.recv_from(&mut buf).await.unwrap();
                if let Some(r) = Stun::decode(&buf[..n]) {
                    if r.tid == m.tid {
                        return r;
                    }
                }
            }
        })
        .await
        .ok()
    }

    /// `m` with our credentials, sent; its answer.
    async fn ask_signed(&self, m: Stun) -> Stun {
        let m = m
            .with(USERNAME, self.username.as_bytes())
            .with(REALM, self.realm.clone())
            .with(NONCE, self.nonce.clone());
        self.ask(&m, Some(&self.key)).await.expect("an answer")
    }

    /// Allocate, the way clients do it: unauthenticated (401: realm and nonce), then signed.
    /// Returns the answer to the signed request.
    async fn allocate(&mut self) -> Stun {
        let first = self
            .ask(
                &Stun::new(ALLOCATE).with(REQUESTED_TRANSPORT, [17, 0, 0, 0]),
                None,
            )
            .await
            .expect("an answer to Allocate");
        assert_eq!(first.typ, ALLOCATE | ERROR);
        assert_eq!(first.error_code(), Some(401));
        self.realm = first.attr(REALM).unwrap().to_vec();
        self.nonce = first.attr(NONCE).unwrap().to_vec();
        self.key = turn::auth::generate_auth_key(
            &self.username,
            std::str::from_utf8(&self.realm).unwrap(),
            &self.password,
        );
        self.ask_signed(Stun::new(ALLOCATE).with(REQUESTED_TRANSPORT, [17, 0, 0, 0]))
            .await
    }

    /// Allocate, which must succeed; the relayed address.
    async fn allocated(&mut self) -> SocketAddr {
        let r = self.allocate().await;
        assert_eq!(r.typ, ALLOCATE | SUCCESS, "{:?}", r.error_code());
        from_xor_address(r.attr(XOR_RELAYED_ADDRESS).unwrap())
    }

    async fn create_permission(&self, peers: &[SocketAddr]) -> Stun {
        let mut m = Stun::new(CREATE_PERMISSION);
        for &p in peers {
            m = m.with_peer(p);
        }
        self.ask_signed(m).await
    }

    async fn channel_bind(&self, peer: SocketAddr) -> Stun {
        self.ask_signed(
            Stun::new(CHANNEL_BIND)
                .with(CHANNEL_NUMBER, [0x40, 0, 0, 0])
                .with_peer(peer),
        )
        .await
    }

    async fn send(&self, peer: SocketAddr, data: &[u8]) {
        let m = Stun::new(SEND).with_peer(peer).with(DATA, data);
        self.sock
            .send_to(&m.encode(None), self.server)
            .await
            .unwrap();
    }

    /// The next Data indication's data, if one comes within `wait`.
    async fn data(&self, wait: Duration) -> Option<Vec<u8>> {
        let mut buf = [0u8; 2048];
        timeout(wait, async {
            loop {
                let (n, _) = self.sock.recv_from(&mut buf).await.unwrap();
                if let Some(m) = Stun::decode(&buf[..n]) {
                    if m.typ == DATA_INDICATION {
                        return m.attr(DATA).unwrap_or_default().to_vec();
                    }
                }
            }
        })
        .await
        .ok()
    }
}

/// A rendezvous on 127.0.0.1 with STUN and TURN on ports of their own.
struct Rv {
    http: SocketAddr,
    turn: SocketAddr,
    stun: SocketAddr,
    stop: ShutdownHandle,
    dir: std::path::PathBuf,
}

impl Rv {
    async fn start(limits: Limits, allow: &[&str]) -> Rv {
        Self::start_with(common::test_serve_config(limits, allow)).await
    }

    async fn start_with(cfg: doomlink_net::rendezvous::ServeConfig) -> Rv {
        let dir = cfg.data_dir.clone();
        let rv = Rendezvous::bind(cfg).await.expect("rendezvous binds");
        let me = Rv {
            http: rv.http_addr(),
            turn: rv.turn_addr(),
            stun: rv.stun_addr(),
            stop: rv.shutdown_handle(),
            dir,
        };
        assert_ne!(me.turn, me.stun);
        tokio::spawn(rv.run());
        me
    }

    /// Hosts a room: its signaling socket (the room lives while it does) and its TURN
    /// credentials.
    async fn room(&self) -> (Sock, (String, String)) {
        let (ws, ice) = self.hosted().await;
        let turn = ice
            .into_iter()
            .find(|s| s.urls.iter().any(|u| u.starts_with("turn:")))
            .expect("a TURN server in the room's ICE servers");
        (ws, (turn.username, turn.credential))
    }

    /// Hosts a room: its signaling socket and the ICE servers the room was given.
    async fn hosted(&self) -> (Sock, Vec<doomlink_net::signaling::IceServer>) {
        let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://{}/ws", self.http))
            .await
            .unwrap();
        let host = Message::Host { name: "h".into() };
        ws.send(Ws::Text(host.encode().unwrap().into()))
            .await
            .unwrap();
        let Some(Message::Hosted { ice, .. }) = next(&mut ws).await else {
            panic!("no room")
        };
        (ws, ice)
    }
}

impl Drop for Rv {
    fn drop(&mut self) {
        self.stop.shutdown();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

type Sock =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next(ws: &mut Sock) -> Option<Message> {
    loop {
        match timeout(Duration::from_secs(5), ws.next()).await.ok()? {
            Some(Ok(Ws::Text(t))) => return Message::decode(t.as_str()).ok(),
            Some(Ok(Ws::Close(_))) | None | Some(Err(_)) => return None,
            Some(Ok(_)) => {}
        }
    }
}

/// Ends a room: its host leaves, and hears `closed`.
async fn end_room(mut ws: Sock) {
    ws.send(Ws::Text(Message::Leave.encode().unwrap().into()))
        .await
        .unwrap();
    loop {
        match next(&mut ws).await {
            Some(Message::Closed { .. }) => return,
            Some(_) => {}
            None => panic!("no closed"),
        }
    }
}

/// Waits up to `wait` for a datagram on `sock`.
async fn arrives(sock: &UdpSocket, wait: Duration) -> Option<Vec<u8>> {
    let mut buf = [0u8; 2048];
    let (n, _) = timeout(wait, sock.recv_from(&mut buf)).await.ok()?.ok()?;
    Some(buf[..n].to_vec())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_to_the_inside_are_forbidden_and_sends_there_dropped() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // Nothing allowed beyond the public Internet, though the service itself is on loopback.
    let rv = Rv::start(Limits::default(), &[]).await;
    let (_room, creds) = rv.room().await;
    let mut c = Client::new(rv.turn, &creds).await;
    let relayed = c.allocated().await;
    assert_eq!(relayed.ip(), IpAddr::from(Ipv4Addr::LOCALHOST));
    let victim = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let victim_addr = victim.local_addr().unwrap();
    for peer in [
        victim_addr,
        "10.0.0.1:5432".parse().unwrap(),
        "169.254.169.254:80".parse().unwrap(),
        rv.turn,
    ] {
        let r = c.create_permission(&[peer]).await;
        assert_eq!(r.typ, CREATE_PERMISSION | ERROR, "CreatePermission {peer}");
        assert_eq!(r.error_code(), Some(403), "CreatePermission {peer}");
        let r = c.channel_bind(peer).await;
        assert_eq!(r.typ, CHANNEL_BIND | ERROR, "ChannelBind {peer}");
        assert_eq!(r.error_code(), Some(403), "ChannelBind {peer}");
    }
    println!("CreatePermission and ChannelBind for 127.0.0.1, 10.0.0.1, 169.254.169.254: 403");
    // Sends to loopback go nowhere (only ever to 127.0.0.1: this test sends nothing elsewhere).
    for _ in 0..5 {
        c.send(victim_addr, b"let me in").await;
    }
    assert_eq!(arrives(&victim, Duration::from_millis(500)).await, None);
    // The allocation still works for what it may do: a refresh is answered.
    let r = c
        .ask_signed(Stun::new(REFRESH).with(LIFETIME, 600u32.to_be_bytes()))
        .await;
    assert_eq!(r.typ, REFRESH | SUCCESS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_peer_address_is_checked_and_the_services_own_ports_are_refused() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // Loopback allowed (as a test lab would), yet not the service's own STUN/TURN ports.
    let rv = Rv::start(Limits::default(), &["127.0.0.0/8"]).await;
    let (_room, creds) = rv.room().await;
    let mut c = Client::new(rv.turn, &creds).await;
    let relayed = c.allocated().await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer.local_addr().unwrap();

    // One allowed address and one refused: 403, and no permission at all (a permission is for
    // an address, so the allowed one would have let Sends to 127.0.0.1 through).
    for own in [rv.stun, rv.turn] {
        let r = c.create_permission(&[peer_addr, own]).await;
        assert_eq!(r.error_code(), Some(403), "[{peer_addr}, {own}]");
        let r = c.channel_bind(own).await;
        assert_eq!(r.error_code(), Some(403), "ChannelBind {own}");
    }
    c.send(peer_addr, b"no permission").await;
    assert_eq!(arrives(&peer, Duration::from_millis(500)).await, None);

    // The allowed address alone: relayed, both ways.
    let r = c.create_permission(&[peer_addr]).await;
    assert_eq!(r.typ, CREATE_PERMISSION | SUCCESS);
    c.send(peer_addr, b"hello").await;
    assert_eq!(
        arrives(&peer, Duration::from_secs(2)).await.as_deref(),
        Some(&b"hello"[..])
    );
    peer.send_to(b"hello back", relayed).await.unwrap();
    assert_eq!(
        c.data(Duration::from_secs(2)).await.as_deref(),
        Some(&b"hello back"[..])
    );

    // 127.0.0.1 has a permission now, but a Send to the service's own ports is still dropped:
    // a Binding request relayed there would come back through the relay as a Data indication.
    for own in [rv.stun, rv.turn] {
        c.send(own, &Stun::new(BINDING).encode(None)).await;
    }
    assert_eq!(c.data(Duration::from_millis(500)).await, None);
    println!("[allowed, own port] 403 with nothing added; Send to the own ports dropped");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_rooms_credentials_are_refused() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rv = Rv::start(Limits::default(), &[]).await;
    let (room, creds) = rv.room().await;
    let mut before = Client::new(rv.turn, &creds).await;
    before.allocated().await;
    end_room(room).await;
    // Its credentials have not expired (hours to go), but the room is gone.
    let mut after = Client::new(rv.turn, &creds).await;
    let r = after.allocate().await;
    assert_eq!(r.typ, ALLOCATE | ERROR);
    assert_eq!(r.error_code(), Some(401));
    // The old allocation is gone too: a refresh is refused.
    let r = before
        .ask_signed(Stun::new(REFRESH).with(LIFETIME, 600u32.to_be_bytes()))
        .await;
    assert_eq!(r.typ, REFRESH | ERROR);
    assert_eq!(r.error_code(), Some(401));
    println!("an ended room's credentials: 401");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_builtin_turn_off_its_port_answers_stun_only() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let mut cfg = common::test_serve_config(Limits::default(), &["127.0.0.0/8"]);
    cfg.builtin_turn = false;
    let rv = Rv::start_with(cfg).await;
    // A room is handed the STUN server and no TURN credentials.
    let (_room, ice) = rv.hosted().await;
    let urls: Vec<&String> = ice.iter().flat_map(|s| &s.urls).collect();
    assert!(
        urls.iter().all(|u| u.starts_with("stun:")) && !urls.is_empty(),
        "{urls:?}"
    );
    // The TURN port ignores an Allocate (no 401, no nonce) and answers a Binding request.
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&Stun::new(ALLOCATE).encode(None), rv.turn)
        .await
        .unwrap();
    assert_eq!(arrives(&sock, Duration::from_millis(500)).await, None);
    let binding = Stun::new(BINDING);
    sock.send_to(&binding.encode(None), rv.turn).await.unwrap();
    let answer = arrives(&sock, Duration::from_secs(2))
        .await
        .expect("a Binding answer");
    let m = Stun::decode(&answer).unwrap();
    assert_eq!((m.typ, m.tid), (BINDING | SUCCESS, binding.tid));
    println!("built-in TURN off: no TURN handed out, its port answers Binding only");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allocation_quotas_hold() {
    let _turn = ONE_AT_A_TIME.lock().await;
    // A full room is one host: 2 allocations per room's credentials, 3 in all.
    let limits = Limits {
        max_rooms: 3,
        joiners_per_room: 0,
        ..Limits::default()
    };
    let rv = Rv::start(limits, &[]).await;
    let (room_a, a) = rv.room().await;
    let (_room_b, b) = rv.room().await;
    let mut clients = vec![];
    for i in 0..2 {
        let mut c = Client::new(rv.turn, &a).await;
        c.allocated().await;
        println!("room A allocation {i}: ok");
        clients.push(c);
    }
    let mut over = Client::new(rv.turn, &a).await;
    let r = over.allocate().await;
    assert_eq!(r.error_code(), Some(486), "a room's third allocation");
    let mut c = Client::new(rv.turn, &b).await;
    c.allocated().await;
    clients.push(c);
    let mut over = Client::new(rv.turn, &b).await;
    let r = over.allocate().await;
    assert_eq!(r.error_code(), Some(486), "the service's fourth allocation");
    println!("per room and in all: 486");
    // Room A ends: its allocations go (a moment later), and room B may have its second.
    end_room(room_a).await;
    for tries in 1.. {
        tokio::time::sleep(Duration::from_millis(200)).await;
        let mut c = Client::new(rv.turn, &b).await;
        let r = c.allocate().await;
        if r.typ == ALLOCATE | SUCCESS {
            break;
        }
        assert!(tries < 25, "still {:?} after room A ended", r.error_code());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_allocations_relay_rate_is_capped() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let limits = Limits {
        turn_bytes_per_sec: 10_000,
        turn_burst_bytes: 10_000,
        ..Limits::default()
    };
    let rv = Rv::start(limits, &["127.0.0.0/8"]).await;
    let (_room, creds) = rv.room().await;
    let mut c = Client::new(rv.turn, &creds).await;
    c.allocated().await;
    let peer = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let peer_addr = peer.local_addr().unwrap();
    assert_eq!(
        c.create_permission(&[peer_addr]).await.typ,
        CREATE_PERMISSION | SUCCESS
    );
    // 100 kB at once: the burst (10 kB) goes through, the rest is dropped.
    let t0 = std::time::Instant::now();
    for _ in 0..100 {
        c.send(peer_addr, &[7u8; 1000]).await;
    }
    let mut got = 0;
    while let Some(d) = arrives(&peer, Duration::from_millis(300)).await {
        got += d.len();
    }
    let allowed = 10_000.0 + 10_000.0 * t0.elapsed().as_secs_f64();
    println!("relayed {got} of 100000 bytes sent at once (cap: 10 kB burst, 10 kB/s)");
    assert!(got >= 5_000, "{got}");
    assert!(got as f64 <= allowed + 1000.0, "{got} > {allowed}");
}

/// A TURN server as the crate publishes it (`Server::new`, no protection) on 127.0.0.1.
async fn published_server() -> (turn::server::Server, SocketAddr) {
    use turn::relay::relay_static::RelayAddressGeneratorStatic;
    use turn::server::config::{ConnConfig, ServerConfig};
    struct Nobody;
    impl turn::auth::AuthHandler for Nobody {
        fn auth_handle(&self, _: &str, _: &str, _: SocketAddr) -> Result<Vec<u8>, turn::Error> {
            Err(turn::Error::ErrNoSuchUser)
        }
    }
    let sock = Arc::new(UdpSocket::bind("127.0.0.1:0").await.unwrap());
    let addr = sock.local_addr().unwrap();
    let server = turn::server::Server::new(ServerConfig {
        conn_configs: vec![ConnConfig {
            conn: sock,
            relay_addr_generator: Box::new(RelayAddressGeneratorStatic {
                relay_address: Ipv4Addr::LOCALHOST.into(),
                address: "127.0.0.1".into(),
                net: Arc::new(webrtc_util::vnet::net::Net::new(None)),
            }),
        }],
        realm: "doomlink".into(),
        auth_handler: Arc::new(Nobody),
        channel_bind_timeout: Duration::ZERO,
        alloc_close_notify: None,
    })
    .await
    .unwrap();
    (server, addr)
}

/// The process's resident set, in bytes.
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Sends `n` bare 20-byte Allocate requests to `server`, up to 64 in flight; the bytes of
/// the answers and how many came.
/// Sockets on `count` distinct loopback addresses (127.1.x.y: all of 127/8 is this machine).
async fn sources(count: usize) -> Vec<UdpSocket> {
    let mut v = Vec::with_capacity(count);
    for i in 0..count {
        let ip = Ipv4Addr::new(127, 1, (i / 250) as u8, (i % 250 + 1) as u8);
        v.push(UdpSocket::bind((ip, 0)).await.unwrap());
    }
    v
}

/// `n` unauthenticated 20-byte Allocates to `server`, spread over `from` in turn; the bytes
/// and the number of the answers.
async fn flood(server: SocketAddr, n: usize, from: &[UdpSocket]) -> (usize, usize) {
    let (mut bytes, mut answers) = (0, 0);
    let mut buf = [0u8; 2048];
    let mut sent = 0;
    let mut next = 0;
    while sent < n {
        let batch = 64.min(n - sent).min(from.len());
        let socks: Vec<&UdpSocket> = (0..batch).map(|i| &from[(next + i) % from.len()]).collect();
        next = (next + batch) % from.len();
        for sock in &socks {
            let m = Stun::new(ALLOCATE).encode(None);
            assert_eq!(m.len(), 20);
            sock.send_to(&m, server).await.unwrap();
        }
        sent += batch;
        for sock in &socks {
            if let Ok(Ok((len, _))) =
                timeout(Duration::from_millis(200), sock.recv_from(&mut buf)).await
            {
                bytes += len;
                answers += 1;
            }
        }
    }
    (bytes, answers)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthenticated_allocates_leave_no_state_and_amplify_little() {
    let _turn = ONE_AT_A_TIME.lock().await;
    let rv = Rv::start(Limits::default(), &[]).await;
    let from = sources(2_000).await;
    // Warm up (buffers, the runtime's threads), then measure.
    flood(rv.turn, 5_000, &from).await;
    let before = rss();
    let n = 1_000_000;
    let started = std::time::Instant::now();
    let (bytes, answers) = flood(rv.turn, n, &from).await;
    let grew = rss().saturating_sub(before);
    let ratio = bytes as f64 / (answers * 20) as f64;
    println!(
        "{n} unauthenticated 20-byte Allocates from {} addresses in {:.1} s: {answers} answers, \
         {} bytes each on average (reply/request {ratio:.2}); RSS {:.1} MB -> grew {:.2} MB",
        from.len(),
        started.elapsed().as_secs_f64(),
        bytes / answers.max(1),
        before as f64 / 1e6,
        grew as f64 / 1e6
    );
    assert!(answers * 10 >= n * 9, "{answers} answers to {n}");
    assert!(ratio <= 3.5, "reply/request {ratio:.2}");
    assert!(grew < 4 << 20, "RSS grew {grew} bytes");

    // The same against the server as published (no protection): it keeps every nonce.
    // (A tenth of the flood: its nonce table grows with every one.)
    let published = published_server().await;
    let addr = published.1;
    flood(addr, 5_000, &from).await;
    let before = rss();
    let (bytes, answers) = flood(addr, n / 10, &from).await;
    let grew_published = rss().saturating_sub(before);
    println!(
        "the published server, the same flood: {answers} answers, {} bytes each \
         (reply/request {:.2}); RSS grew {:.2} MB",
        bytes / answers.max(1),
        bytes as f64 / (answers * 20) as f64,
        grew_published as f64 / 1e6
    );
    // The measurement sees a nonce map when there is one.
    assert!(
        grew_published > grew + (2 << 20),
        "{grew_published} vs {grew}"
    );
    let _ = published.0.close().await;

    // The STUN-only port: a Binding request is answered, an Allocate is not (no 401, no
    // nonce).
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&Stun::new(ALLOCATE).encode(None), rv.stun)
        .await
        .unwrap();
    assert_eq!(arrives(&sock, Duration::from_millis(500)).await, None);
    let binding = Stun::new(BINDING);
    sock.send_to(&binding.encode(None), rv.stun).await.unwrap();
    let answer = arrives(&sock, Duration::from_secs(2))
        .await
        .expect("a Binding answer");
    let m = Stun::decode(&answer).unwrap();
    assert_eq!((m.typ, m.tid), (BINDING | SUCCESS, binding.tid));
    println!(
        "STUN-only port: Allocate ignored, Binding answered ({} bytes for 20)",
        answer.len()
    );
}
