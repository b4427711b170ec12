//! The app's side of the rendezvous: host a room and get an invite link, or join one, and end
//! up with connected [`RtcLink`]s to hand to a [`crate::webrtc::node::WebRtcNode`].
//!
//! Owns the signaling client (one WebSocket to the rendezvous, `wss://` with its certificate
//! verified when the rendezvous speaks TLS, [`crate::signaling`] messages) and
//! the negotiation of each link over it: the host offers, both sides trickle candidates, the
//! joiner checks the host's fingerprint against the link's before it answers, and again against
//! the DTLS certificate once connected.
//!
//! ```ignore
//! // Host: a room, its link, and joiners as they connect.
//! let mut room = host_room(HostOptions::new("rv.example.org:8080", identity)).await?;
//! println!("{}", room.invite);                      // doomlink://join/…
//! let (hub, events) = WebRtcNode::hub(cfg, sink);
//! tokio::spawn(async move {
//!     while let Some(j) = room.next_joiner().await {
//!         match j { Ok(j) => { hub.add_link(j.link)?; } Err(e) => tracing::warn!("{e}") }
//!     }
//! });
//! // Joiner:
//! let link = InviteLink::parse(text)?;
//! let joined = join_room(&link, JoinOptions::default()).await?;   // refuses a wrong fingerprint
//! let (client, events) = WebRtcNode::client(cfg, sink);
//! client.add_link(joined.link)?;
//! ```

pub mod manual;
mod peek;

pub use peek::{peek_game, peek_room, RoomPeek};

use std::collections::HashMap;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message as WsMessage;

use crate::identity::{Fingerprint, Identity};
use crate::signaling::invite::{InviteError, InviteLink, RendezvousAddr};
use crate::signaling::{
    Candidate, ErrorCode, IceServer, Message, SdpKind, SignalData, MAX_MESSAGE_LEN, MAX_NAME_LEN,
    MAX_PLAYERS_LISTED,
};
use crate::tls_client::{ClientTls, ConnectError};
use crate::webrtc::mux::{MuxLink, RtcMux};
use crate::webrtc::node::NodeLink;
use crate::webrtc::peer::{RtcError, RtcLink, RtcOptions};

/// How often a client tells the rendezvous it is still there.
pub const KEEPALIVE: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OnlineError {
    #[error("cannot reach the rendezvous at {addr}: {why}")]
    Connect { addr: String, why: String },
    /// The rendezvous speaks TLS with a certificate this client does not trust (a private
    /// rendezvous needs its CA file in the settings).
    #[error("not connecting to the rendezvous at {addr}: {why}")]
    Untrusted { addr: String, why: String },
    #[error("the rendezvous refused: {message} ({code:?})")]
    Refused { code: ErrorCode, message: String },
    #[error("the rendezvous closed the room: {0}")]
    Closed(String),
    #[error("the rendezvous connection dropped")]
    Dropped,
    #[error("unexpected message from the rendezvous: {0}")]
    Protocol(String),
    #[error(transparent)]
    Invite(#[from] InviteError),
    #[error(transparent)]
    Rtc(#[from] RtcError),
    #[error("no answer from the host within {0:?}")]
    Timeout(Duration),
    /// The descriptions were exchanged but no candidate pair ever worked: UDP between the two
    /// (and to the TURN server, which is UDP too) is blocked or lost.
    #[error("could not reach the host over UDP (ICE failed after {} s): a firewall may block UDP; TURN over TCP is not supported yet", .0.as_secs_f32().round())]
    Unreachable(Duration),
}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn crate::tls_client::ClientIo>>;

/// One signaling connection: a writer task fed by a queue, and the read half.
struct Signaling {
    out: mpsc::Sender<Message>,
    read: futures_util::stream::SplitStream<Ws>,
    writer: JoinHandle<()>,
}

impl Signaling {
    async fn connect(rv: &RendezvousAddr, tls: &ClientTls) -> Result<Signaling, OnlineError> {
        const LIMIT: Duration = Duration::from_secs(10);
        let addr = rv.host_port.clone();
        let url = format!("{}://{addr}/ws", if rv.tls { "wss" } else { "ws" });
        let mut cfg = WebSocketConfig::default();
        cfg.max_message_size = Some(2 * MAX_MESSAGE_LEN);
        cfg.max_frame_size = Some(2 * MAX_MESSAGE_LEN);
        let started = tokio::time::Instant::now();
        let stream = crate::tls_client::connect(&addr, rv.tls.then_some(tls), LIMIT)
            .await
            .map_err(|e| match e {
                ConnectError::Untrusted { .. } => OnlineError::Untrusted {
                    addr: addr.clone(),
                    why: e.to_string(),
                },
                e => OnlineError::Connect {
                    addr: addr.clone(),
                    why: e.to_string(),
                },
            })?;
        let connect = tokio_tungstenite::client_async_with_config(url, stream, Some(cfg));
        let (ws, _) = tokio::time::timeout(LIMIT.saturating_sub(started.elapsed()), connect)
            .await
            .map_err(|_| OnlineError::Connect {
                addr: addr.clone(),
                why: "timed out".into(),
            })?
            .map_err(|e| OnlineError::Connect {
                addr: addr.clone(),
                why: e.to_string(),
            })?;
        let (mut sink, read) = ws.split();
        let (out, mut rx) = mpsc::channel::<Message>(256);
        let writer = tokio::spawn(async move {
            loop {
                let msg = match tokio::time::timeout(KEEPALIVE, rx.recv()).await {
                    Ok(Some(m)) => m,
                    Ok(None) => break,
                    Err(_) => Message::Keepalive,
                };
                let leaving = msg == Message::Leave;
                let Ok(text) = msg.encode() else { continue };
                if sink.send(WsMessage::Text(text.into())).await.is_err() {
                    return;
                }
                if leaving {
                    break;
                }
            }
            let _ = sink.close().await;
        });
        Ok(Signaling { out, read, writer })
    }

    async fn send(&self, m: Message) -> Result<(), OnlineError> {
        self.out.send(m).await.map_err(|_| OnlineError::Dropped)
    }

    /// The next message; errors from the service become [`OnlineError::Refused`], a room end
    /// [`OnlineError::Closed`].
    async fn recv(&mut self) -> Result<Message, OnlineError> {
        loop {
            match self.read.next().await {
                None | Some(Err(_)) => return Err(OnlineError::Dropped),
                Some(Ok(WsMessage::Text(t))) => {
                    return match Message::decode(t.as_str()) {
                        Ok(Message::Error { code, message }) => {
                            Err(OnlineError::Refused { code, message })
                        }
                        Ok(Message::Closed { reason }) => Err(OnlineError::Closed(reason)),
                        Ok(m) => Ok(m),
                        Err(e) => Err(OnlineError::Protocol(e.to_string())),
                    };
                }
                Some(Ok(WsMessage::Close(_))) => return Err(OnlineError::Dropped),
                Some(Ok(_)) => continue,
            }
        }
    }
}

/// What hosting needs.
#[derive(Debug, Clone)]
pub struct HostOptions {
    /// The rendezvous: `host:port`, or `wss://host:port` for one that speaks TLS.
    pub rendezvous: String,
    /// What a TLS rendezvous's certificate is checked against.
    pub tls: ClientTls,
    /// The host's name: in the rendezvous's logs, and told to whoever asks with the room's
    /// join secret ([`peek_room`]) before joining.
    pub name: String,
    /// The host's persistent identity (its fingerprint goes into the link).
    pub identity: Identity,
    /// How many players the game waits for (0: not said): told, with who is in, to whoever
    /// asks with the link ([`HostedRoom::follow_players`]).
    pub players: u8,
    /// What the game plays (IWAD, PWADs with sizes, mode, map, skill): told to the rendezvous
    /// for whoever asks with the link before joining ([`Message::PeekGame`]: a joiner says what
    /// it has and what it will download; the browser player fetches a free IWAD the service
    /// has, or checks the player's own file against it). None: not said.
    pub game: Option<crate::signaling::GameInfo>,
    /// Bind addresses and such; the ICE servers come from the rendezvous (any given here are
    /// used too).
    pub rtc: RtcOptions,
    /// Take joiners through this WebRTC edge (one socket and thread for many rooms: the
    /// dedicated service) instead of a webrtc peer connection each. `rtc`'s binds and ICE
    /// servers are then unused: the edge has its own socket and advertises host candidates.
    pub mux: Option<RtcMux>,
}

impl HostOptions {
    pub fn new(rendezvous: impl Into<String>, identity: Identity) -> Self {
        HostOptions {
            rendezvous: rendezvous.into(),
            tls: ClientTls::default(),
            name: String::new(),
            identity,
            players: 0,
            game: None,
            rtc: RtcOptions::default(),
            mux: None,
        }
    }
}

/// A connected joiner.
#[derive(Debug)]
pub struct Joiner {
    /// The rendezvous's number for it.
    pub peer: u32,
    pub name: String,
    /// Hand it to [`crate::webrtc::node::WebRtcNode::add_link`].
    pub link: NodeLink,
}

/// A room being hosted. Dropping it (or [`HostedRoom::close`]) ends the room.
pub struct HostedRoom {
    pub room: String,
    pub host_secret: String,
    pub invite: InviteLink,
    /// The STUN/TURN servers the rendezvous handed out.
    pub ice: Vec<IceServer>,
    joiners: mpsc::Receiver<Result<Joiner, OnlineError>>,
    task: JoinHandle<()>,
    leave: mpsc::Sender<Message>,
    players: Option<JoinHandle<()>>,
}

/// How often a hosted room looks at who is in it (and tells the rendezvous if that changed).
const PLAYERS_EVERY: Duration = Duration::from_secs(1);

impl std::fmt::Debug for HostedRoom {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostedRoom")
            .field("room", &self.room)
            .field("invite", &self.invite)
            .finish_non_exhaustive()
    }
}

impl HostedRoom {
    /// The next joiner whose link came up, or a joiner's failure (the room goes on); `None`
    /// once the room is over.
    pub async fn next_joiner(&mut self) -> Option<Result<Joiner, OnlineError>> {
        self.joiners.recv().await
    }

    /// Tells the rendezvous who is in the room, for whoever asks with the link before joining
    /// ([`peek_room`]): `players` is read every second and sent when it changed (at most
    /// [`crate::signaling::MAX_PLAYERS_LISTED`] names), `expected` is how many the game waits
    /// for (0: not said). Replaces an earlier call's; stops with the room.
    pub fn follow_players(
        &mut self,
        expected: u8,
        mut players: impl FnMut() -> Vec<String> + Send + 'static,
    ) {
        let out = self.leave.clone();
        let task = tokio::spawn(async move {
            let mut said: Option<Vec<String>> = None;
            loop {
                let mut names = players();
                names.truncate(MAX_PLAYERS_LISTED);
                for n in &mut names {
                    let cut = crate::relay::wire::truncate_utf8(n, MAX_NAME_LEN).len();
                    n.truncate(cut);
                }
                if said.as_ref() != Some(&names) {
                    let msg = Message::Players {
                        names: names.clone(),
                        expected,
                    };
                    if out.send(msg).await.is_err() {
                        break;
                    }
                    said = Some(names);
                }
                tokio::time::sleep(PLAYERS_EVERY).await;
            }
        });
        if let Some(old) = self.players.replace(task) {
            old.abort();
        }
    }

    /// Ends the room at the rendezvous (links already up are not affected).
    pub async fn close(mut self) {
        let _ = self.leave.send(Message::Leave).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.task).await;
    }
}

impl Drop for HostedRoom {
    fn drop(&mut self) {
        // After close() the task is done already; otherwise stop it (its socket closes, and
        // the rendezvous ends the room after its grace time).
        self.task.abort();
        if let Some(p) = &self.players {
            p.abort();
        }
    }
}

/// Registers a room at the rendezvous and starts taking joiners.
pub async fn host_room(opts: HostOptions) -> Result<HostedRoom, OnlineError> {
    let first = Message::Host {
        name: opts.name.clone(),
    };
    open_room(opts, first).await
}

/// Takes a room back after the host's connection to the rendezvous dropped (within the
/// rendezvous's grace time, 20 s by default): the same id, secrets and link.
pub async fn resume_room(
    opts: HostOptions,
    room: &str,
    host_secret: &str,
) -> Result<HostedRoom, OnlineError> {
    let first = Message::Resume {
        room: room.to_owned(),
        host_secret: host_secret.to_owned(),
    };
    open_room(opts, first).await
}

async fn open_room(opts: HostOptions, first: Message) -> Result<HostedRoom, OnlineError> {
    let rv = RendezvousAddr::parse(&opts.rendezvous).map_err(|_| OnlineError::Connect {
        addr: opts.rendezvous.trim().chars().take(80).collect(),
        why: "not host:port or wss://host:port".into(),
    })?;
    let mut sig = Signaling::connect(&rv, &opts.tls).await?;
    sig.send(first).await?;
    let (room, host_secret, join_secret, expires, ice) =
        match tokio::time::timeout(Duration::from_secs(10), sig.recv())
            .await
            .map_err(|_| OnlineError::Timeout(Duration::from_secs(10)))??
        {
            Message::Hosted {
                room,
                host_secret,
                join_secret,
                expires,
                ice,
            } => (room, host_secret, join_secret, expires, ice),
            other => return Err(OnlineError::Protocol(format!("{other:?}"))),
        };
    if let Some(game) = &opts.game {
        // A rendezvous that predates the message refuses it; the host loop lets that pass.
        let mut game = game.clone();
        game.iwad_file =
            crate::relay::wire::truncate_utf8(&game.iwad_file, MAX_NAME_LEN).to_string();
        sig.send(Message::Game(game)).await?;
    }
    let invite = InviteLink {
        rendezvous: rv.host_port.clone(),
        tls: rv.tls,
        room: room.clone(),
        secret: join_secret,
        fingerprint: opts.identity.fingerprint(),
        expires: Some(expires),
    };
    let mut rtc = opts.rtc.clone();
    rtc.identity = Some(opts.identity.clone());
    rtc.ice_servers.extend(ice.iter().cloned());
    let (joiners_tx, joiners) = mpsc::channel(16);
    let leave = sig.out.clone();
    tracing::info!(%room, "hosting");
    let task = tokio::spawn(host_loop(sig, rtc, opts.mux.clone(), joiners_tx));
    Ok(HostedRoom {
        room,
        host_secret,
        invite,
        ice,
        joiners,
        task,
        leave,
        players: None,
    })
}

async fn host_loop(
    mut sig: Signaling,
    rtc: RtcOptions,
    mux: Option<RtcMux>,
    joiners: mpsc::Sender<Result<Joiner, OnlineError>>,
) {
    let mut peers: HashMap<u32, mpsc::Sender<SignalData>> = HashMap::new();
    loop {
        let msg = match sig.recv().await {
            Ok(m) => m,
            Err(e @ (OnlineError::Dropped | OnlineError::Closed(_))) => {
                tracing::info!("room over: {e}");
                break;
            }
            Err(e) => {
                // A refusal of one of our messages (a signal to a peer that just left…): the
                // room goes on.
                tracing::debug!("rendezvous: {e}");
                continue;
            }
        };
        match msg {
            Message::Peer { peer, name } => {
                let (tx, rx) = mpsc::channel(64);
                peers.insert(peer, tx);
                let out = sig.out.clone();
                let joiners = joiners.clone();
                let rtc = rtc.clone();
                let mux = mux.clone();
                tokio::spawn(async move {
                    let r = match mux {
                        Some(mux) => negotiate_mux(peer, &mux, rtc.connect_timeout, out, rx)
                            .await
                            .map(NodeLink::from),
                        None => negotiate_host(peer, rtc, out, rx).await.map(NodeLink::from),
                    };
                    if let Err(e) = &r {
                        tracing::warn!(peer, "joiner failed: {e}");
                    }
                    let _ = joiners
                        .send(r.map(|link| Joiner { peer, name, link }))
                        .await;
                });
            }
            Message::PeerLeft { peer } => {
                peers.remove(&peer);
            }
            Message::Signal { peer, data } => {
                if let Some(tx) = peers.get(&peer) {
                    let _ = tx.try_send(data);
                }
            }
            _ => {}
        }
        peers.retain(|_, tx| !tx.is_closed());
    }
    sig.writer.abort();
}

/// Host side of one joiner: offer, trickle both ways, wait for the channels.
async fn negotiate_host(
    peer: u32,
    rtc: RtcOptions,
    out: mpsc::Sender<Message>,
    mut rx: mpsc::Receiver<SignalData>,
) -> Result<RtcLink, OnlineError> {
    let limit = rtc.connect_timeout;
    let mut link = RtcLink::new(&rtc).await?;
    let offer = link.create_offer().await?;
    let send = |data: SignalData| {
        let out = out.clone();
        async move {
            out.send(Message::Signal { peer, data })
                .await
                .map_err(|_| OnlineError::Dropped)
        }
    };
    send(SignalData::Sdp(offer)).await?;
    let work = async {
        let mut gathering = true;
        // Until the answer: trickle ours, hold theirs.
        loop {
            tokio::select! {
                c = link.next_local_candidate(), if gathering => match c {
                    Some(c) => send(SignalData::Candidate(c)).await?,
                    None => { gathering = false; send(SignalData::EndOfCandidates).await? }
                },
                s = rx.recv() => match s {
                    None => return Err(OnlineError::Closed("the joiner left".into())),
                    Some(SignalData::Sdp(answer)) => {
                        link.accept_answer(&answer, None).await?;
                        break;
                    }
                    Some(SignalData::Candidate(c)) => link.add_candidate(c).await?,
                    Some(SignalData::EndOfCandidates) => {}
                }
            }
        }
        connect_trickling(&mut link, rx, out.clone(), peer).await
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| OnlineError::Timeout(limit))??;
    Ok(link)
}

/// Host side of one joiner through the service's WebRTC edge: offer and our candidates at
/// once (they are known), then the answer and the joiner's candidates until the link is up.
async fn negotiate_mux(
    peer: u32,
    mux: &RtcMux,
    limit: Duration,
    out: mpsc::Sender<Message>,
    mut rx: mpsc::Receiver<SignalData>,
) -> Result<MuxLink, OnlineError> {
    let (link, offer) = mux.new_link()?;
    let send = |data: SignalData| {
        let out = out.clone();
        async move {
            out.send(Message::Signal { peer, data })
                .await
                .map_err(|_| OnlineError::Dropped)
        }
    };
    send(SignalData::Sdp(offer)).await?;
    for c in link.local_candidates().to_vec() {
        send(SignalData::Candidate(c)).await?;
    }
    send(SignalData::EndOfCandidates).await?;
    let work = async {
        let mut answered = false;
        let mut signaling = true;
        loop {
            tokio::select! {
                r = link.wait_up(limit), if answered => return r.map_err(OnlineError::from),
                s = rx.recv(), if signaling => match s {
                    // A joiner leaves the rendezvous once its side is up, which can be before
                    // ours is: after the answer, only the link decides.
                    None if answered => signaling = false,
                    None => return Err(OnlineError::Closed("the joiner left".into())),
                    Some(SignalData::Sdp(answer)) if !answered => {
                        link.accept_answer(&answer)?;
                        answered = true;
                    }
                    Some(SignalData::Sdp(_)) => {}
                    Some(SignalData::Candidate(c)) => link.add_candidate(c),
                    Some(SignalData::EndOfCandidates) => {}
                }
            }
        }
    };
    tokio::time::timeout(limit, work)
        .await
        .map_err(|_| OnlineError::Timeout(limit))??;
    Ok(link)
}

/// After the descriptions: keep trickling both ways until the link is up.
async fn connect_trickling(
    link: &mut RtcLink,
    mut rx: mpsc::Receiver<SignalData>,
    out: mpsc::Sender<Message>,
    peer: u32,
) -> Result<(), OnlineError> {
    let pc = link.pc.clone();
    // Remote candidates go straight to the peer connection (the remote description is set).
    let adder = tokio::spawn(async move {
        while let Some(s) = rx.recv().await {
            if let SignalData::Candidate(c) = s {
                if c.candidate.is_empty() {
                    continue;
                }
                let init = webrtc::peer_connection::RTCIceCandidateInit {
                    candidate: c.candidate,
                    sdp_mid: c.sdp_mid,
                    sdp_mline_index: c.sdp_mline_index,
                    ..Default::default()
                };
                if let Err(e) = pc.add_ice_candidate(init).await {
                    tracing::debug!("remote candidate refused: {e}");
                }
            }
        }
    });
    let r = link
        .wait_connected(|c: Option<Candidate>| {
            let data = match c {
                Some(c) => SignalData::Candidate(c),
                None => SignalData::EndOfCandidates,
            };
            let _ = out.try_send(Message::Signal { peer, data });
        })
        .await;
    adder.abort();
    r.map_err(Into::into)
}

/// What joining needs besides the link.
#[derive(Debug, Clone, Default)]
pub struct JoinOptions {
    pub name: String,
    pub rtc: RtcOptions,
    /// What a TLS rendezvous's certificate is checked against (the link says whether it
    /// speaks TLS).
    pub tls: ClientTls,
}

/// A joiner's connected link to its host.
#[derive(Debug)]
pub struct Joined {
    pub link: RtcLink,
    /// The host's fingerprint, checked.
    pub host_fingerprint: Fingerprint,
}

/// Joins the room of an invite link: signaling through its rendezvous, then a direct (or
/// relayed) link to the host whose certificate must match the link's fingerprint.
pub async fn join_room(invite: &InviteLink, opts: JoinOptions) -> Result<Joined, OnlineError> {
    let rv = RendezvousAddr {
        host_port: invite.rendezvous.clone(),
        tls: invite.tls,
    };
    let mut sig = Signaling::connect(&rv, &opts.tls).await?;
    sig.send(Message::Join {
        room: invite.room.clone(),
        secret: invite.secret.clone(),
        name: opts.name.clone(),
    })
    .await?;
    let limit = opts.rtc.connect_timeout;
    let started = tokio::time::Instant::now();
    // Set once our answer is out: from then on only ICE (UDP) stands between us and the host,
    // so a timeout or failure says that, not "no answer".
    let mut answered = false;
    let r = tokio::time::timeout(limit, join_inner(&mut sig, invite, opts, &mut answered)).await;
    let r = match r {
        Err(_) if answered => Ok(Err(OnlineError::Unreachable(started.elapsed()))),
        Ok(Err(OnlineError::Rtc(RtcError::Failed(_) | RtcError::Timeout(_)))) if answered => {
            Ok(Err(OnlineError::Unreachable(started.elapsed())))
        }
        r => r,
    };
    // Whatever happened, this connection has done its job: say so and close.
    let _ = sig.out.try_send(Message::Leave);
    let writer = sig.writer;
    tokio::spawn(async move {
        let _ = tokio::time::timeout(Duration::from_secs(2), writer).await;
    });
    let link = r.map_err(|_| OnlineError::Timeout(limit))??;
    Ok(Joined {
        link,
        host_fingerprint: invite.fingerprint,
    })
}

async fn join_inner(
    sig: &mut Signaling,
    invite: &InviteLink,
    opts: JoinOptions,
    answered: &mut bool,
) -> Result<RtcLink, OnlineError> {
    let ice = match sig.recv().await? {
        Message::Joined { ice, .. } => ice,
        other => return Err(OnlineError::Protocol(format!("{other:?}"))),
    };
    let mut rtc = opts.rtc;
    rtc.ice_servers.extend(ice);
    let mut link = RtcLink::new(&rtc).await?;
    // Until the offer (and our answer): hold the host's candidates.
    loop {
        match sig.recv().await? {
            Message::Signal {
                data: SignalData::Sdp(offer),
                ..
            } if offer.kind == SdpKind::Offer => {
                // Checked before webrtc sees the offer: a rendezvous that swapped the SDP is
                // refused here, with both fingerprints in the error.
                let answer = link.accept_offer(&offer, Some(invite.fingerprint)).await?;
                sig.send(Message::Signal {
                    peer: 0,
                    data: SignalData::Sdp(answer),
                })
                .await?;
                *answered = true;
                break;
            }
            Message::Signal {
                data: SignalData::Candidate(c),
                ..
            } => link.add_candidate(c).await?,
            Message::Signal { .. } => {}
            other => return Err(OnlineError::Protocol(format!("{other:?}"))),
        }
    }
    // Forward the rendezvous's signals to the trickling step.
    let (tx, rx) = mpsc::channel(64);
    let out = sig.out.clone();
    let pump = async {
        loop {
            match sig.recv().await {
                Ok(Message::Signal { data, .. }) => {
                    let _ = tx.try_send(data);
                }
                Ok(_) => {}
                Err(e) => return e,
            }
        }
    };
    // Our candidates (queued since the answer) trickle out from wait_connected.
    let connect = connect_trickling(&mut link, rx, out.clone(), 0);
    tokio::select! {
        r = connect => r?,
        e = pump => return Err(e),
    }
    Ok(link)
}
