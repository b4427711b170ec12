//! `doomlink serve`: the rendezvous service, all in one process.
//!
//! Owns the service: an HTTP server (axum) with the WebSocket signaling endpoint (`/ws`), the
//! invite page (`GET /join/<room>`, the http form of an invite link), the browser player's files
//! (`GET /play/`, [`web`]) with the free IWADs it is given (`GET /play/iwad/<sha256>`,
//! [`iwads`]) and a health check, plus a
//! STUN server and a TURN server ([`turn`]), and the credentials for external TURN servers
//! (coturn: [`turn_rest`]) when the operator names some. With a certificate and key
//! ([`ServeConfig::tls`]) the HTTP listener speaks TLS only (https, `wss://`), and the
//! certificate reloads ([`tls`]). The operations side — the admin API for the app's dedicated
//! rooms (`/admin/rooms`, bearer token), `GET /health` and `GET /metrics` (Prometheus text) — is
//! [`admin`]. Rooms and their rules live in [`rooms`]; the messages in [`crate::signaling`]. The
//! service relays SDP and ICE candidates between a room's host and its joiners and nothing else;
//! game traffic reaches it only through TURN, when a pair of
//! peers cannot connect directly. TURN relays for open rooms only, to public addresses only
//! (plus the ranges in [`ServeConfig::turn_allow_peers`]), within quotas and a rate: the
//! defences and their reasons are in [`turn`].
//!
//! ```ignore
//! let rv = Rendezvous::bind(ServeConfig::new("0.0.0.0:8080".parse()?, "play.example.org", data_dir)).await?;
//! let stop = rv.shutdown_handle();      // the app calls stop.shutdown() on SIGTERM
//! rv.run().await?;                      // returns once shut down, rooms closed cleanly
//! ```
//!
//! Limits ([`Limits`]): message size (a typed `too_large` error up to twice
//! [`crate::signaling::MAX_MESSAGE_LEN`], a closed socket beyond), messages per second per
//! connection (`rate_limited`, and a dropped connection for a flood), connections and rooms per
//! source address, joiners per room, rooms in all; TURN allocations (in all and per room) and
//! each one's relay rate follow from them. A bad message gets a typed error on its own
//! connection and never ends anything else. Logs are structured (`tracing`).

pub mod admin;
pub mod http;
pub mod iwads;
pub mod page;
pub mod rooms;
pub mod slots;
pub mod throttle;
pub mod tls;
pub mod turn;
pub mod turn_rest;
pub mod web;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::ws::{Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

pub use admin::{AdminHandle, CreatedRoom, DedicatedRooms, RoomError, RoomInfo, RoomRequest};
pub use rooms::{Limits, Registry};

use crate::relay::bucket::TokenBucket;
use crate::signaling::{ErrorCode, IceServer, Message, SignalError, MAX_MESSAGE_LEN};
use rooms::{ConnId, RoomMaker};

/// How the service runs.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// HTTP and WebSocket (signaling) address.
    pub listen: SocketAddr,
    /// The name or address peers reach this machine by: it goes into invite links and into the
    /// STUN/TURN URLs handed to peers. An IPv6 address without brackets is fine.
    pub public_host: String,
    /// The address TURN advertises relayed candidates at (default: `public_host` if it is an
    /// IP address, else the listen address).
    pub relay_ip: Option<IpAddr>,
    /// Where relay sockets are opened (default: the listen address's IP).
    pub relay_bind: Option<IpAddr>,
    /// STUN and TURN UDP ports (3478 for both by default: one server answers both). 0 picks a
    /// free port (tests).
    pub stun_port: u16,
    pub turn_port: u16,
    /// Keeps the TURN secret, so credentials survive a restart.
    pub data_dir: PathBuf,
    pub limits: Limits,
    /// HTTP connections held at once, in all and per source.
    pub http: http::HttpLimits,
    /// Serve invite pages as https (the service sits behind a TLS proxy; implied by `tls`).
    pub https_links: bool,
    /// Speak TLS on the HTTP listener with this certificate and key; None: plain HTTP.
    pub tls: Option<tls::TlsFiles>,
    /// Address ranges TURN may relay to besides the public Internet (loopback, private and
    /// special ranges are refused otherwise: [`turn`]'s docs). Empty by default.
    pub turn_allow_peers: Vec<turn::IpNet>,
    /// External TURN servers (coturn) handed to every room's players with credentials of
    /// their own ([`turn_rest`]), after the built-in ones. Empty by default.
    pub turn_servers: Vec<turn_rest::ExternalTurn>,
    /// Whether the built-in TURN is handed out and relays (default true). Off, its port
    /// answers STUN only: an operator whose relaying is all external TURN.
    pub builtin_turn: bool,
    /// The browser player's files, served under `/play/` ([`web`]); none by default.
    pub web: Arc<web::WebFiles>,
    /// The free IWADs handed to browser players ([`iwads`]); none by default.
    pub iwads: Arc<iwads::IwadShelf>,
}

impl ServeConfig {
    pub fn new(listen: SocketAddr, public_host: impl Into<String>, data_dir: PathBuf) -> Self {
        ServeConfig {
            listen,
            public_host: public_host.into(),
            relay_ip: None,
            relay_bind: None,
            stun_port: 3478,
            turn_port: 3478,
            data_dir,
            limits: Limits::default(),
            http: http::HttpLimits::default(),
            https_links: false,
            tls: None,
            turn_allow_peers: Vec::new(),
            turn_servers: Vec::new(),
            builtin_turn: true,
            web: Arc::default(),
            iwads: Arc::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TURN secret: {0}")]
    Secret(std::io::Error),
    #[error("STUN/TURN: {0}")]
    Relay(std::io::Error),
    #[error("public host {0:?} is not a host name or IP address")]
    PublicHost(String),
    #[error("cannot tell which address TURN should advertise: set relay_ip (the public host is a name and the listen address is unspecified)")]
    RelayIp,
    #[error(transparent)]
    Tls(#[from] tls::TlsError),
    #[error("HTTP server: {0}")]
    Http(std::io::Error),
}

/// Stops a running service: rooms get `closed`, sockets close, [`Rendezvous::run`] returns.
#[derive(Debug, Clone, Default)]
pub struct ShutdownHandle(CancellationToken);

impl ShutdownHandle {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn shutdown(&self) {
        self.0.cancel();
    }
    pub fn is_shutdown(&self) -> bool {
        self.0.is_cancelled()
    }
}

struct Shared {
    registry: Mutex<Registry>,
    conns: Mutex<HashMap<ConnId, mpsc::Sender<Message>>>,
    /// Signaling connections open, per source.
    signaling: slots::OpenCounts,
    next_conn: AtomicU64,
    ice_host: String,
    stun_port: u16,
    turn_port: u16,
    secret: Vec<u8>,
    builtin_turn: bool,
    external_turn: Vec<turn_rest::ExternalTurn>,
    shutdown: ShutdownHandle,
    /// Cancelled once every room's `closed` is queued: connections flush and close.
    conns_stop: CancellationToken,
    relays: turn::Relays,
    limits: Limits,
    https_links: bool,
    web: Arc<web::WebFiles>,
    iwads: Arc<iwads::IwadShelf>,
    /// IWAD downloads under way, in all and per source.
    downloads: slots::OpenCounts,
    /// Each live room's TURN username: good while the room is open, its allocations deleted
    /// when it ends.
    issued: turn::LiveRooms,
    /// The admin API's token and the app's dedicated rooms ([`admin`]).
    admin: Mutex<admin::AdminState>,
    /// Counters for `/metrics`.
    messages: AtomicU64,
    bad_messages: AtomicU64,
    admin_requests: AtomicU64,
}

impl Shared {
    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn conns(&self) -> MutexGuard<'_, HashMap<ConnId, mpsc::Sender<Message>>> {
        self.conns.lock().unwrap_or_else(|e| e.into_inner())
    }
    fn admin(&self) -> MutexGuard<'_, admin::AdminState> {
        self.admin.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts messages on their connections' queues. A full queue means a client that does not
    /// read: its message is dropped (it will time out on its side).
    fn dispatch(&self, out: rooms::Out) {
        let conns = self.conns();
        for (conn, msg) in out {
            if let Some(tx) = conns.get(&conn) {
                if tx.try_send(msg).is_err() {
                    tracing::warn!(conn, "outgoing queue full; message dropped");
                }
            }
        }
    }

    /// Cleans up after rooms that ended: their TURN allocations go.
    fn end_rooms(self: &Arc<Self>) {
        let ended = self.registry().take_ended();
        for e in ended {
            if let Some(username) = self.issued.close(&e.room) {
                let this = self.clone();
                tokio::spawn(async move { this.relays.end_room(username).await });
            }
        }
    }
}

/// The randomness and credentials for new rooms.
struct Maker<'a> {
    shared: &'a Shared,
}

impl RoomMaker for Maker<'_> {
    fn room_id(&mut self) -> String {
        // 10 characters of a-z0-9: about 2^51 ids, unguessable enough that the join secret,
        // not the id, is what keeps strangers out.
        const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";
        (0..10)
            .map(|_| ALPHABET[rand::random_range(0..ALPHABET.len())] as char)
            .collect()
    }
    fn secret(&mut self) -> String {
        URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>())
    }
    fn ice_servers(&self, room: &str, expires: u64) -> Vec<IceServer> {
        let mut servers = vec![IceServer {
            urls: vec![format!(
                "stun:{}:{}",
                self.shared.ice_host, self.shared.stun_port
            )],
            username: String::new(),
            credential: String::new(),
        }];
        if self.shared.builtin_turn {
            let username = turn::turn_username(room, expires);
            self.shared.issued.open(room, username.clone());
            servers.push(IceServer {
                urls: vec![format!(
                    "turn:{}:{}?transport=udp",
                    self.shared.ice_host, self.shared.turn_port
                )],
                credential: turn::turn_password(&self.shared.secret, &username),
                username,
            });
        }
        servers
    }
    fn player_ice_servers(&self, room: &str, player: u32, expires: u64) -> Vec<IceServer> {
        self.shared
            .external_turn
            .iter()
            .map(|t| t.ice_server(room, player, expires))
            .collect()
    }
    fn unix_now(&self) -> u64 {
        turn::unix_now()
    }
}

/// A bound, not yet running service. See the module docs.
pub struct Rendezvous {
    shared: Arc<Shared>,
    listener: tokio::net::TcpListener,
    http_addr: SocketAddr,
    http_limits: http::HttpLimits,
    tls: Option<tls::TlsReload>,
}

impl Rendezvous {
    /// Binds every socket (so a test can read the ports before running) and starts STUN/TURN.
    pub async fn bind(cfg: ServeConfig) -> Result<Rendezvous, ServeError> {
        let host = cfg
            .public_host
            .trim_matches(|c| c == '[' || c == ']')
            .to_owned();
        let host_ip: Option<IpAddr> = host.parse().ok();
        if host_ip.is_none() && !crate::signaling::invite::valid_host_port(&format!("{host}:1")) {
            return Err(ServeError::PublicHost(cfg.public_host));
        }
        let ice_host = match host_ip {
            Some(IpAddr::V6(v6)) => format!("[{v6}]"),
            _ => host.clone(),
        };
        let relay_ip = cfg.relay_ip.or(host_ip).unwrap_or(cfg.listen.ip());
        if relay_ip.is_unspecified() {
            return Err(ServeError::RelayIp);
        }
        // A bad certificate or key stops the start, before any socket is bound.
        let tls = cfg.tls.clone().map(tls::TlsReload::load).transpose()?;
        let secret = turn::load_or_create_secret(&cfg.data_dir).map_err(ServeError::Secret)?;
        let listener = tokio::net::TcpListener::bind(cfg.listen)
            .await
            .map_err(|source| ServeError::Bind {
                addr: cfg.listen,
                source,
            })?;
        let http_addr = listener.local_addr().map_err(|source| ServeError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let relay_bind = cfg.relay_bind.unwrap_or(cfg.listen.ip());
        let issued = turn::LiveRooms::default();
        let relays = turn::Relays::start(turn::RelaySetup {
            bind_ip: cfg.listen.ip(),
            turn_port: cfg.turn_port,
            stun_port: cfg.stun_port,
            relay_ip,
            relay_bind,
            secret: secret.clone(),
            relays: cfg.builtin_turn,
            allow_peers: cfg.turn_allow_peers.clone(),
            limits: turn::TurnLimits::from(&cfg.limits),
            live: issued.clone(),
        })
        .await
        .map_err(ServeError::Relay)?;
        tracing::info!(http = %http_addr, stun = %relays.stun_addr, turn = %relays.turn_addr, public = %ice_host, builtin_turn = cfg.builtin_turn, external_turn = cfg.turn_servers.len(), "rendezvous bound");
        if !cfg.builtin_turn && cfg.turn_servers.is_empty() {
            tracing::warn!("no TURN is handed out (builtin_turn is off and no turn_server is set): players behind strict NATs cannot connect");
        }
        let shared = Arc::new(Shared {
            registry: Mutex::new(Registry::new(cfg.limits.clone())),
            conns: Mutex::new(HashMap::new()),
            signaling: slots::OpenCounts::default(),
            next_conn: AtomicU64::new(1),
            ice_host,
            stun_port: relays.stun_addr.port(),
            turn_port: relays.turn_addr.port(),
            secret,
            builtin_turn: cfg.builtin_turn,
            external_turn: cfg.turn_servers,
            shutdown: ShutdownHandle::new(),
            conns_stop: CancellationToken::new(),
            relays,
            limits: cfg.limits,
            https_links: cfg.https_links || tls.is_some(),
            web: cfg.web.clone(),
            iwads: cfg.iwads.clone(),
            downloads: slots::OpenCounts::default(),
            issued,
            admin: Mutex::new(admin::AdminState::default()),
            messages: AtomicU64::new(0),
            bad_messages: AtomicU64::new(0),
            admin_requests: AtomicU64::new(0),
        });
        Ok(Rendezvous {
            shared,
            listener,
            http_addr,
            http_limits: cfg.http,
            tls,
        })
    }

    /// The HTTP/WebSocket address actually bound.
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }
    pub fn stun_addr(&self) -> SocketAddr {
        self.shared.relays.stun_addr
    }
    pub fn turn_addr(&self) -> SocketAddr {
        self.shared.relays.turn_addr
    }
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        self.shared.shutdown.clone()
    }
    /// Reloads the TLS certificate (SIGHUP) and makes the local client configuration; None
    /// without TLS.
    pub fn tls_handle(&self) -> Option<tls::TlsReload> {
        self.tls.clone()
    }
    /// Sets the admin token and the dedicated rooms ([`admin`]), also while running.
    pub fn admin_handle(&self) -> AdminHandle {
        AdminHandle(self.shared.clone())
    }

    /// Serves until [`ShutdownHandle::shutdown`]; then closes every room (members hear
    /// `closed`), gives the sockets a moment to flush, and stops STUN/TURN.
    pub async fn run(self) -> Result<(), ServeError> {
        let shared = self.shared.clone();
        let app = Router::new()
            .route("/", get(index))
            .route("/health", get(admin::health))
            .route("/metrics", get(admin::metrics))
            .route(
                "/admin/rooms",
                get(admin::list_rooms).post(admin::create_room),
            )
            .route("/join/{room}", get(join_page))
            .route("/play", get(|| async { Redirect::permanent("/play/") }))
            .route("/play/", get(play_file))
            .route("/play/{file}", get(play_file))
            .route("/play/iwad/{sha256}", get(iwad_file))
            .route("/ws", get(ws_upgrade))
            .with_state(shared.clone());
        let ticker = {
            let shared = shared.clone();
            tokio::spawn(async move {
                let mut every = tokio::time::interval(Duration::from_secs(1));
                loop {
                    every.tick().await;
                    let out = shared.registry().tick(Instant::now(), turn::unix_now());
                    shared.dispatch(out);
                    shared.end_rooms();
                }
            })
        };
        let served = http::serve(
            self.listener,
            app,
            self.http_limits.clone(),
            self.tls,
            shared.shutdown.0.clone(),
        )
        .await;
        // Every room ends with a reason; then the WebSocket tasks send it and close.
        let out = shared.registry().close_all();
        shared.dispatch(out);
        shared.end_rooms();
        shared.conns_stop.cancel();
        ticker.abort();
        // Let the connections flush their `closed` and the TURN deletions run.
        tokio::time::sleep(Duration::from_millis(200)).await;
        shared.relays.close().await;
        tracing::info!("rendezvous stopped");
        served.map_err(ServeError::Http)
    }
}

/// Binds and runs the service until `shutdown` fires.
pub async fn serve(cfg: ServeConfig, shutdown: ShutdownHandle) -> Result<(), ServeError> {
    let rv = Rendezvous::bind(cfg).await?;
    let own = rv.shutdown_handle();
    tokio::spawn(async move {
        shutdown.0.cancelled().await;
        own.shutdown();
    });
    rv.run().await
}

async fn index() -> Html<&'static str> {
    Html(page::INDEX)
}

async fn join_page(State(shared): State<Arc<Shared>>, Path(room): Path<String>) -> Response {
    if !crate::signaling::invite::valid_room(&room) {
        return (StatusCode::NOT_FOUND, Html(page::NOT_FOUND)).into_response();
    }
    Html(page::join_page(
        &room,
        shared.https_links,
        shared.web.has("play.html"),
    ))
    .into_response()
}

async fn play_file(
    State(shared): State<Arc<Shared>>,
    file: Option<Path<String>>,
    headers: axum::http::HeaderMap,
) -> Response {
    let name = file.map(|Path(f)| f).unwrap_or_default();
    shared.web.respond(&name, &headers)
}

async fn iwad_file(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(sha256): Path<String>,
) -> Response {
    if !shared.iwads.has(&sha256) {
        return (
            StatusCode::NOT_FOUND,
            "This service does not hand out that IWAD.\n",
        )
            .into_response();
    }
    let ip = throttle::source_key(peer.ip());
    let Some(slot) =
        shared
            .downloads
            .take(ip, iwads::MAX_DOWNLOADS, Some(iwads::DOWNLOADS_PER_SOURCE))
    else {
        tracing::debug!(%ip, "IWAD download refused: too many under way");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many downloads under way; try again in a minute\n",
        )
            .into_response();
    };
    shared.iwads.respond(&sha256, slot).await
}

async fn ws_upgrade(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> Response {
    // An IPv6 host holds a /64: counted as one address.
    let ip = throttle::source_key(peer.ip());
    if shared.shutdown.is_shutdown() {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down\n").into_response();
    }
    // Given back when dropped, whichever way the connection ends.
    let Some(slot) = shared
        .signaling
        .take(ip, usize::MAX, Some(shared.limits.connections_per_ip))
    else {
        tracing::warn!(%ip, "too many connections from one address");
        return (
            StatusCode::TOO_MANY_REQUESTS,
            "too many connections from your address\n",
        )
            .into_response();
    };
    // Up to twice the protocol's limit a message is read and answered with a typed error;
    // beyond that the socket library refuses it and the connection closes. The slot goes with
    // the callback: an upgrade that never completes drops it unrun, and the slot with it.
    ws.max_message_size(2 * MAX_MESSAGE_LEN)
        .max_frame_size(2 * MAX_MESSAGE_LEN)
        .on_upgrade(move |socket| async move {
            connection(socket, ip, shared.clone()).await;
            drop(slot);
        })
}

async fn connection(socket: WebSocket, ip: IpAddr, shared: Arc<Shared>) {
    let conn = shared.next_conn.fetch_add(1, Ordering::Relaxed);
    let (tx, mut rx) = mpsc::channel::<Message>(256);
    shared.conns().insert(conn, tx.clone());
    shared.registry().connect(conn, ip);
    tracing::debug!(conn, %ip, "connection open");
    let (mut sink, mut stream) = socket.split();
    let mut bucket = TokenBucket::new(
        shared.limits.messages_per_sec,
        shared.limits.message_burst,
        Instant::now(),
    );
    let mut violations = 0u32;
    let stop = shared.conns_stop.clone();
    // A client that says nothing at all for this long is gone (clients keep alive every 20 s).
    let silence = shared.limits.room_idle.max(Duration::from_secs(60));
    let reply = |code: ErrorCode, message: String| Message::Error { code, message };
    loop {
        tokio::select! {
            out = rx.recv() => {
                let Some(msg) = out else { break };
                let closing = matches!(msg, Message::Closed { .. });
                let Ok(text) = msg.encode() else { continue };
                if sink.send(WsMessage::Text(text.into())).await.is_err() {
                    break;
                }
                if closing {
                    let _ = sink.send(WsMessage::Close(None)).await;
                    break;
                }
            }
            inc = tokio::time::timeout(silence, stream.next()) => {
                let text = match inc {
                    Err(_) => { tracing::debug!(conn, "silent too long"); break }
                    Ok(None) | Ok(Some(Err(_))) | Ok(Some(Ok(WsMessage::Close(_)))) => break,
                    Ok(Some(Ok(WsMessage::Text(t)))) => t,
                    Ok(Some(Ok(WsMessage::Binary(_)))) => {
                        let _ = tx.try_send(reply(ErrorCode::BadMessage, "messages are JSON text".into()));
                        continue;
                    }
                    Ok(Some(Ok(_))) => continue, // ping/pong: answered by the library
                };
                shared.messages.fetch_add(1, Ordering::Relaxed);
                if !bucket.take(Instant::now()) {
                    shared.bad_messages.fetch_add(1, Ordering::Relaxed);
                    violations += 1;
                    if violations > shared.limits.max_violations {
                        tracing::warn!(conn, %ip, "message flood; dropping the connection");
                        break;
                    }
                    let _ = tx.try_send(reply(ErrorCode::RateLimited, "slow down".into()));
                    continue;
                }
                match Message::decode(text.as_str()) {
                    Ok(msg) => {
                        let out = {
                            let mut maker = Maker { shared: &shared };
                            shared.registry().handle(Instant::now(), conn, msg, &mut maker)
                        };
                        shared.dispatch(out);
                        shared.end_rooms();
                    }
                    Err(e) => {
                        shared.bad_messages.fetch_add(1, Ordering::Relaxed);
                        tracing::debug!(conn, %ip, error = %e, "bad message");
                        let _ = tx.try_send(reply(e.code(), error_text(&e)));
                    }
                }
            }
            _ = stop.cancelled() => {
                // run() queued the room's `closed` before cancelling: flush, then go.
                while let Ok(msg) = rx.try_recv() {
                    if let Ok(text) = msg.encode() {
                        let _ = sink.send(WsMessage::Text(text.into())).await;
                    }
                }
                let _ = sink.send(WsMessage::Close(None)).await;
                break;
            }
        }
    }
    shared.conns().remove(&conn);
    let out = shared.registry().disconnect(Instant::now(), conn);
    shared.dispatch(out);
    shared.end_rooms();
    tracing::debug!(conn, "connection closed");
}

fn error_text(e: &SignalError) -> String {
    let mut s = e.to_string();
    s.truncate(crate::signaling::MAX_TEXT_LEN);
    s
}
