//! Internet play wiring: the kernel's HostIO onto a WebRTC session node (doomlink-net's
//! `WebRtcNode`), hosting a room at a rendezvous and joining an invite link, a game from manual
//! offer/answer codes with no rendezvous at all ([`manual_offer`], [`manual_answer`]). The protocol work is all in doomlink-net; this owns
//! the tokio runtime, the deadlines a user waits on, and the glue to a kernel.

use crate::iwad;
use crate::netview::{ChatError, ChatLine, ChatLog, NetView, PeerStatus, MAX_CHAT_BYTES};
use crate::sink::KernelSink;
use crate::wadshare::{Exchange, Fetching, FilesHere, HostFiles};
use anyhow::{Context, Result};
use doomlink_kernel::{Errno, HostIO, Pid};
use doomlink_net::identity::Identity;
use doomlink_net::online::manual::{
    CodeError, CodeKind, ManualCode, ManualError, ManualHost, ManualJoin,
};
use doomlink_net::online::{
    host_room, join_room, peek_game, peek_room, HostOptions, JoinOptions, OnlineError, RoomPeek,
};
use doomlink_net::signaling::invite::InviteLink;
use doomlink_net::signaling::IceServer;
use doomlink_net::tls_client::ClientTls;
use doomlink_net::webrtc::node::{NodeEvent, WebRtcNode};
use doomlink_net::webrtc::peer::{PathKind, RtcError, RtcOptions};
use doomlink_net::Event;
use doomlink_net::{ByeReason, Config, WadSet};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The kernel's HostIO for Internet play: guest datagrams enter the session node.
pub struct InternetHost {
    pub node: WebRtcNode,
    pub sink: Arc<KernelSink>,
    /// Our name, for our own chat lines.
    pub name: String,
    /// Chat heard from the node's events (see [`spawn_event_reader`]).
    pub chat: Arc<ChatLog>,
    /// A joiner's: see [`InternetHost::files_here`].
    files_here: std::sync::Mutex<FilesHere>,
}

/// Which end of the game a node is, and what it does with the game's files.
enum Side {
    /// The hub: answers joiners' file requests from these.
    Hub(HostFiles),
    /// A joiner: the events of its file exchange and handshake go here, to [`attach_client`].
    Client(tokio::sync::mpsc::UnboundedSender<Event>),
}

/// Reads the node's events for as long as it runs, keeping the chat for the window, serving
/// the hub's files and handing a joiner's exchange its events. Holds the host weakly: the node
/// (and with it this task) ends when the last handle to the host is dropped.
fn spawn_event_reader(
    mut events: tokio::sync::mpsc::UnboundedReceiver<NodeEvent>,
    host: std::sync::Weak<InternetHost>,
    side: Side,
) -> Arc<ChatLog> {
    let chat = Arc::new(ChatLog::default());
    let log = chat.clone();
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            let NodeEvent::Session(e) = e else { continue };
            match (e, &side) {
                (Event::Chat { name, text, .. }, _) => log.push(ChatLine {
                    from: name,
                    text,
                    mine: false,
                }),
                (
                    Event::FileWanted {
                        link,
                        hash,
                        offset,
                        len,
                    },
                    Side::Hub(files),
                ) => {
                    if let Some(host) = host.upgrade() {
                        files.serve(&host.node, link, hash, offset, len);
                    }
                }
                (
                    e @ (Event::HostWads(_)
                    | Event::FileData { .. }
                    | Event::FileFetched { .. }
                    | Event::LinkClosed { .. }
                    | Event::Joined { .. }),
                    Side::Client(tx),
                ) => {
                    let _ = tx.send(e);
                }
                _ => {}
            }
        }
    });
    chat
}

impl InternetHost {
    /// A session node for `cfg` (the hub, or a client) with a fresh kernel sink, its events read
    /// for the chat and the game's files (see [`Side`]). Must run inside the tokio runtime.
    fn start(cfg: Config, side: Side) -> Arc<InternetHost> {
        let sink = KernelSink::new();
        let name = cfg.name.clone();
        let (node, events) = match side {
            Side::Hub(_) => WebRtcNode::hub(cfg, sink.clone()),
            Side::Client(_) => WebRtcNode::client(cfg, sink.clone()),
        };
        Arc::new_cyclic(|me| {
            let chat = spawn_event_reader(events, me.clone(), side);
            InternetHost {
                node,
                sink,
                name,
                chat,
                files_here: std::sync::Mutex::new(FilesHere::default()),
            }
        })
    }

    /// A HostIO over a node someone else drives (a dedicated room's hub, whose events the
    /// room reads itself): no chat is kept, no files are served.
    pub fn over(node: WebRtcNode, sink: Arc<KernelSink>, name: String) -> InternetHost {
        InternetHost {
            node,
            sink,
            name,
            chat: Arc::new(ChatLog::default()),
            files_here: std::sync::Mutex::new(FilesHere::default()),
        }
    }

    /// The files a joiner plays with, when the host's list named other ones than it asked with:
    /// the IWAD (if another) and the PWADs it found in its cache or downloaded.
    pub fn files_here(&self) -> FilesHere {
        self.files_here
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl NetView for InternetHost {
    fn peers(&self) -> Vec<PeerStatus> {
        self.node
            .links()
            .into_iter()
            .map(|l| PeerStatus {
                name: l.name.clone(),
                guest_addr: l.addr,
                path: l.path.as_ref().map(|p| match p.kind {
                    PathKind::Direct => "direct".to_string(),
                    PathKind::Relayed => "relayed (TURN)".to_string(),
                }),
                rtt: l.stats.rtt,
                loss: (l.stats.pings_sent > 0).then_some(l.stats.loss),
                dgrams_in: l.stats.dgrams_in,
                dgrams_out: l.stats.dgrams_out,
                drops: l.stats.drops() + l.send_queue_drops,
            })
            .collect()
    }

    fn send_chat(&self, text: &str) -> Result<(), ChatError> {
        if text.len() > MAX_CHAT_BYTES {
            return Err(ChatError::TooLong {
                max: MAX_CHAT_BYTES,
            });
        }
        self.node
            .with_session(|s, now| s.send_chat(now, text))
            .map_err(|e| ChatError::Failed(e.to_string()))?;
        self.chat.push(ChatLine {
            from: self.name.clone(),
            text: text.to_string(),
            mine: true,
        });
        Ok(())
    }

    fn chat(&self) -> Vec<ChatLine> {
        self.chat.lines()
    }
}

impl HostIO for InternetHost {
    fn send_dgram(
        &self,
        _pid: Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        self.node
            .send_from_guest(src_port, dst_ip, dst_port, data)
            .map_err(crate::sink::send_errno)
    }
    fn on_bind(&self, pid: Pid, port: u16) {
        self.sink.owner_bound(pid, port);
    }
    fn on_unbind(&self, _pid: Pid, port: u16) {
        self.sink.owner_gone(port);
    }
}

/// The runtime Internet play's tasks run on while the game plays on its own thread.
pub fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?)
}

/// The runtime of `doomlink serve`: the same two workers as a player's.
///
/// One current-thread runtime was measured too (`cargo bench -p doomlink-e2e --bench
/// capacity`, 4 rooms): 34-35.5 ms of service CPU per room-second instead of 45.5 (1.8-2.1× native
/// instead of 2.2-2.5×), because a datagram's many task hops (webrtc's driver, the channel's
/// reader, the guest, the writer, the driver again) stop being cross-thread wakeups. It was not
/// taken: one thread gets one fair share of a busy machine, and with the players on the same
/// two cores the eight-room test (`dedicated`) lost players to the stalls, twice in two runs.
pub fn service_runtime() -> Result<tokio::runtime::Runtime> {
    runtime()
}

/// The session settings: our name and the IWAD's hash, which a joiner must share with the host.
pub fn session_config(name: &str, iwad: &Path) -> Result<Config> {
    use sha2::{Digest, Sha256};
    let bytes =
        std::fs::read(iwad).with_context(|| format!("{}: cannot read it", iwad.display()))?;
    let iwad_hash: [u8; 32] = Sha256::digest(&bytes).into();
    Ok(Config::new(
        name,
        WadSet {
            iwad: iwad_hash,
            pwads: Vec::new(),
        },
    ))
}

/// [`session_config`] for a host whose game is `iwad` and `pwads` (in load order): joiners
/// must have the same PWADs too, and those who lack some are sent them (PWADs up to `cap`
/// bytes, the IWAD if it is a free one; [`crate::wadshare`]).
pub fn session_config_sharing(
    name: &str,
    iwad: &Path,
    pwads: &[PathBuf],
    cap: u64,
) -> Result<(Config, HostFiles)> {
    let (wads, offer, files) = crate::wadshare::host_files(iwad, pwads, cap)?;
    let mut cfg = Config::new(name, wads);
    cfg.offer = offer;
    Ok((cfg, files))
}

/// A joiner's session settings when it has no IWAD and the room's free one comes from the
/// host: its PWADs, and no IWAD hash (all zeros, which no file has), so the host lists its
/// files and the exchange fetches the IWAD with what else is missing.
pub fn session_config_without_iwad(name: &str, pwads: &[PathBuf]) -> Result<Config> {
    let pwads = pwads
        .iter()
        .map(|p| {
            doomlink_net::iwads::sha256_file(p)
                .with_context(|| format!("{}: cannot read it", p.display()))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Config::new(
        name,
        WadSet {
            iwad: [0; 32],
            pwads,
        },
    ))
}

fn rtc_bind(bind: Option<Ipv4Addr>) -> Option<Vec<SocketAddr>> {
    bind.map(|ip| vec![SocketAddr::from((ip, 0))])
}

/// How long a joiner waits for its link to the host (signaling, ICE, DTLS, channels) before it
/// says the host cannot be reached: well inside the 15 s a user with blocked UDP may wait.
pub const JOIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(12);

/// How long a manual joiner waits for the host once it has printed its answer code: the host
/// has to paste it first, which is human time.
pub const MANUAL_CONNECT_TIMEOUT: Duration = Duration::from_secs(120);

/// Extra STUN servers as the command line gives them (`HOST:PORT`, or a full `stun:` URL).
pub fn stun_servers(stun: &[String]) -> Result<Vec<IceServer>> {
    stun.iter()
        .map(|s| {
            let hp = s.strip_prefix("stun:").unwrap_or(s);
            anyhow::ensure!(
                doomlink_net::signaling::invite::valid_host_port(hp),
                "STUN server {s:?} is not HOST:PORT"
            );
            Ok(IceServer {
                urls: vec![format!("stun:{hp}")],
                username: String::new(),
                credential: String::new(),
            })
        })
        .collect()
}

/// The WebRTC options of one side of Internet play, with `--stun` servers.
fn rtc_options(bind: Option<Ipv4Addr>, stun: &[String]) -> Result<RtcOptions> {
    Ok(rtc_options_with(bind, stun_servers(stun)?))
}

/// The WebRTC options of one side of Internet play: where to bind, and ICE servers besides the
/// rendezvous's (the window's Settings, the command line's `--stun`).
pub fn rtc_options_with(bind: Option<Ipv4Addr>, ice_servers: Vec<IceServer>) -> RtcOptions {
    let mut rtc = RtcOptions::default();
    if let Some(b) = rtc_bind(bind) {
        rtc.bind = b;
    }
    rtc.ice_servers = ice_servers;
    // A joiner's checks reach the host before its trickled candidates, so the host first knows
    // it as peer-reflexive; that is a path proven to work, so take it at once rather than after
    // webrtc's default 1 s (a third of a join on loopback otherwise).
    rtc.prflx_acceptance_min_wait = Some(Duration::ZERO);
    rtc
}

/// A joiner's client node on a connected link: waits for the host's welcome and returns the
/// HostIO and the hub's virtual address.
///
/// When the host plays other files than `cfg` names, its list comes first: the joiner fetches
/// what it lacks into `fetching`'s cache (or says which file it cannot get), then is welcomed;
/// [`InternetHost::files_here`] then says which files to play with.
async fn attach_client(
    cfg: Config,
    link: doomlink_net::webrtc::peer::RtcLink,
    fetching: Option<Fetching>,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, Ipv4Addr)> {
    let (tx, mut events) = tokio::sync::mpsc::unbounded_channel();
    let host = InternetHost::start(cfg, Side::Client(tx));
    let client = &host.node;
    client.add_link(link)?;
    let mut exchange = Exchange::new(fetching);
    let limit = Duration::from_secs(15);
    let mut deadline = Instant::now() + limit;
    let hub = loop {
        if let Some(h) = client.with_session(|s, _| s.local_addr().and(s.hub_addr())) {
            break h;
        }
        let wait = tokio::time::sleep(Duration::from_millis(20));
        tokio::select! {
            e = events.recv() => {
                let Some(e) = e else { anyhow::bail!("the connection to the host ended") };
                if let Err(err) = exchange.event(client, &e) {
                    client.close(ByeReason::Quit);
                    return Err(err);
                }
                if matches!(e, Event::FileData { .. }) {
                    // Bytes keep coming: the host is there.
                    deadline = Instant::now() + limit;
                }
                if let Event::LinkClosed { reason, .. } = e {
                    anyhow::bail!("the host closed the connection ({reason:?})");
                }
            }
            _ = wait => {}
        }
        if exchange.stalled() || Instant::now() >= deadline {
            client.close(ByeReason::Quit);
            match exchange.stopped_download() {
                Some(line) => anyhow::bail!(line),
                None => anyhow::bail!("the host did not welcome us within 15 s"),
            }
        }
    };
    *host.files_here.lock().unwrap_or_else(|e| e.into_inner()) = exchange.files_here();
    let sink = host.sink.clone();
    Ok((host, sink, hub))
}

/// A link that never came up after the codes were exchanged is UDP that does not get through;
/// say that rather than webrtc's words. `joiner`: we are the joiner (the other end is the host).
fn manual_connect_error(e: ManualError, started: Instant, joiner: bool) -> anyhow::Error {
    match e {
        ManualError::Rtc(RtcError::Failed(_) | RtcError::Timeout(_)) if joiner => {
            OnlineError::Unreachable(started.elapsed()).into()
        }
        ManualError::Rtc(RtcError::Failed(_) | RtcError::Timeout(_)) => anyhow::anyhow!(
            "could not reach the joiner over UDP (ICE failed after {} s): a firewall may block \
             UDP on either side; TURN needs a rendezvous (--rendezvous)",
            started.elapsed().as_secs_f32().round()
        ),
        e => e.into(),
    }
}

/// The host's side of a manual game: the offer code to send to the joiner, and then
/// [`ManualOffer::accept`] with the answer code that comes back. One joiner per manual game.
pub struct ManualOffer {
    host: ManualHost,
    cfg: Config,
}

/// Makes the host's offer (gathering every candidate: host ones, and server-reflexive ones from
/// the `stun` servers) with the host's persistent certificate from `data_dir`.
pub fn manual_offer(
    rt: &tokio::runtime::Runtime,
    data_dir: &Path,
    cfg: Config,
    bind: Option<Ipv4Addr>,
    stun: &[String],
) -> Result<ManualOffer> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let mut rtc = rtc_options(bind, stun)?;
    rtc.identity = Some(Identity::load_or_create(data_dir)?);
    let host = rt.block_on(ManualHost::start(&rtc))?;
    Ok(ManualOffer { host, cfg })
}

impl ManualOffer {
    /// One line, for the joiner.
    pub fn code(&self) -> &str {
        self.host.offer_code()
    }

    /// Takes the joiner's answer code, waits for the link, and makes the hub node.
    pub fn accept(
        self,
        rt: &tokio::runtime::Runtime,
        answer: &str,
    ) -> Result<(Arc<InternetHost>, Arc<KernelSink>)> {
        // A bad code is the user's paste, not the network: say so before anything else.
        ManualCode::decode_kind(answer, CodeKind::Answer).context("the answer code")?;
        let ManualOffer { host, cfg } = self;
        rt.block_on(async move {
            let started = Instant::now();
            let link = host
                .accept(answer)
                .await
                .map_err(|e| manual_connect_error(e, started, false))?;
            let host = InternetHost::start(cfg, Side::Hub(HostFiles::default()));
            host.node.add_link(link)?;
            let sink = host.sink.clone();
            Ok((host, sink))
        })
    }
}

/// The joiner's side of a manual game: the answer code to send back, then
/// [`ManualAnswer::connect`].
pub struct ManualAnswer {
    join: ManualJoin,
    cfg: Config,
}

/// Reads the host's offer code and makes the answer. The DTLS certificate the host presents
/// must have the offer code's fingerprint (checked when the link comes up).
pub fn manual_answer(
    rt: &tokio::runtime::Runtime,
    offer: &str,
    cfg: Config,
    bind: Option<Ipv4Addr>,
    stun: &[String],
) -> Result<ManualAnswer> {
    ManualCode::decode_kind(offer, CodeKind::Offer).context("the offer code")?;
    let mut rtc = rtc_options(bind, stun)?;
    rtc.connect_timeout = MANUAL_CONNECT_TIMEOUT;
    // ICE starts checking as soon as the answer exists, and would call the link failed after
    // its disconnected + failed timeouts (8 s) while the host is still pasting. Once up, a dead
    // link is still reported by the session's own 10 s liveness pings.
    rtc.ice_failed_timeout = MANUAL_CONNECT_TIMEOUT;
    let join = rt.block_on(ManualJoin::start(offer, &rtc))?;
    Ok(ManualAnswer { join, cfg })
}

impl ManualAnswer {
    /// One line, for the host.
    pub fn code(&self) -> &str {
        self.join.answer_code()
    }

    /// Waits for the link (the host has to paste our code first) and the host's welcome;
    /// returns the HostIO and the hub's virtual address (where the guest connects).
    pub fn connect(
        self,
        rt: &tokio::runtime::Runtime,
    ) -> Result<(Arc<InternetHost>, Arc<KernelSink>, Ipv4Addr)> {
        let ManualAnswer { join, cfg } = self;
        rt.block_on(async move {
            let started = Instant::now();
            let link = join
                .connect()
                .await
                .map_err(|e| manual_connect_error(e, started, true))?;
            attach_client(cfg, link, None).await
        })
    }
}

/// Whether a `doomlink join` target is meant as a manual offer code rather than an address: a
/// code is base64url with neither '.' nor ':', and longer than any DNS label (63).
pub fn looks_like_code(target: &str) -> bool {
    // Whitespace from a chat's line wrapping is no part of a code (the decoder skips it too).
    let t: Vec<u8> = target
        .bytes()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    t.len() > 63
        && t.iter()
            .all(|&b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Why a target that looks like a code is not one (the decoder's own words), if it is not.
pub fn check_offer_code(target: &str) -> Result<(), CodeError> {
    ManualCode::decode_kind(target, CodeKind::Offer).map(|_| ())
}

/// Registers a room at `rendezvous` and takes joiners into a hub node for as long as the runtime
/// runs. Returns the host's HostIO and the invite link.
pub fn host(
    rt: &tokio::runtime::Runtime,
    rendezvous: &str,
    data_dir: &Path,
    cfg: Config,
    bind: Option<Ipv4Addr>,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, InviteLink)> {
    host_with(
        rt,
        rendezvous,
        data_dir,
        cfg,
        bind,
        &[],
        ClientTls::default(),
        0,
        None,
        HostFiles::default(),
    )
}

/// [`host`] with extra STUN servers (besides the rendezvous's), checking a TLS rendezvous's
/// certificate against `tls`, telling whoever asks with the link that the game waits for
/// `players` (0: not said) and what it plays (`cfg`'s files, and `settings` if given).
#[allow(clippy::too_many_arguments)]
pub fn host_with(
    rt: &tokio::runtime::Runtime,
    rendezvous: &str,
    data_dir: &Path,
    cfg: Config,
    bind: Option<Ipv4Addr>,
    stun: &[String],
    tls: ClientTls,
    players: u8,
    settings: Option<&crate::game::GameSettings>,
    files: HostFiles,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, InviteLink)> {
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let identity = Identity::load_or_create(data_dir)?;
    let mut opts = HostOptions::new(rendezvous, identity);
    opts.name = cfg.name.clone();
    opts.rtc = rtc_options(bind, stun)?;
    opts.tls = tls;
    opts.players = players;
    opts.game = Some(crate::roomgame::game_info(&cfg, settings));
    rt.block_on(host_hub_sharing(opts, cfg, files))
}

/// Registers a room at a rendezvous (`opts`) and takes its joiners into a hub node for as long
/// as the runtime runs: the host's HostIO, its sink, and the room's invite link.
pub async fn host_hub(
    opts: HostOptions,
    cfg: Config,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, InviteLink)> {
    host_hub_sharing(opts, cfg, HostFiles::default()).await
}

/// [`host_hub`] sending joiners who lack them the game's `files` (`cfg.offer` lists them; see
/// [`session_config_sharing`]).
pub async fn host_hub_sharing(
    opts: HostOptions,
    cfg: Config,
    files: HostFiles,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, InviteLink)> {
    let expected = opts.players;
    let mut room = host_room(opts).await?;
    let invite = room.invite.clone();
    let own_name = cfg.name.clone();
    let host = InternetHost::start(cfg, Side::Hub(files));
    let taker = host.node.clone();
    let node = host.node.clone();
    room.follow_players(expected, move || {
        let joined = node.published_links();
        std::iter::once(own_name.clone())
            .chain(
                joined
                    .iter()
                    .filter(|l| l.addr.is_some())
                    .map(|l| l.name.clone().unwrap_or_default()),
            )
            .collect()
    });
    tokio::spawn(async move {
        while let Some(j) = room.next_joiner().await {
            match j {
                Ok(j) => {
                    if let Err(e) = taker.add_link(j.link) {
                        eprintln!("doomlink: {} could not join: {e}", j.name);
                    }
                }
                Err(e) => eprintln!("doomlink: a joiner failed: {e}"),
            }
        }
    });
    let sink = host.sink.clone();
    Ok((host, sink, invite))
}

/// Joins an invite link: connects to the host, waits for the welcome, and returns the HostIO and
/// the hub's virtual address (where the guest connects).
pub fn join(
    rt: &tokio::runtime::Runtime,
    invite: &InviteLink,
    cfg: Config,
    bind: Option<Ipv4Addr>,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, Ipv4Addr)> {
    join_with(rt, invite, cfg, bind, &[], ClientTls::default(), None)
}

/// [`join`] with extra STUN servers (besides the rendezvous's), checking a TLS rendezvous's
/// certificate against `tls`. A host that cannot be reached within [`JOIN_CONNECT_TIMEOUT`] is
/// an error that says UDP does not get through.
pub fn join_with(
    rt: &tokio::runtime::Runtime,
    invite: &InviteLink,
    cfg: Config,
    bind: Option<Ipv4Addr>,
    stun: &[String],
    tls: ClientTls,
    fetching: Option<Fetching>,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, Ipv4Addr)> {
    let mut rtc = rtc_options(bind, stun)?;
    rtc.connect_timeout = JOIN_CONNECT_TIMEOUT;
    let opts = JoinOptions {
        name: cfg.name.clone(),
        rtc,
        tls,
    };
    rt.block_on(join_client_fetching(invite, opts, cfg, fetching))
}

/// Connects to the host of `invite` and waits for its welcome: the HostIO, its sink, and the
/// hub's virtual address (where the guest connects).
pub async fn join_client(
    invite: &InviteLink,
    opts: JoinOptions,
    cfg: Config,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, Ipv4Addr)> {
    join_client_fetching(invite, opts, cfg, None).await
}

/// [`join_client`] fetching the host's files this computer lacks into `fetching`'s cache
/// (see [`attach_client`]).
pub async fn join_client_fetching(
    invite: &InviteLink,
    opts: JoinOptions,
    cfg: Config,
    fetching: Option<Fetching>,
) -> Result<(Arc<InternetHost>, Arc<KernelSink>, Ipv4Addr)> {
    let joined = join_room(invite, opts).await?;
    attach_client(cfg, joined.link, fetching).await
}

/// The IWAD to join the room of `invite` with, for a player whose IWAD is a preference rather
/// than a choice (the window's, from Settings or the search): `preferred` if the room plays it,
/// does not say, or plays a free IWAD this computer lacks (the host sends it); else the room's
/// from the cache or this computer, else the error naming it.
pub fn iwad_for_room_preferring(
    rt: &tokio::runtime::Runtime,
    invite: &InviteLink,
    tls: &ClientTls,
    preferred: &Path,
    cache: Option<&crate::wadcache::WadCache>,
) -> Result<PathBuf> {
    let game = rt.block_on(peek_game(invite, tls)).unwrap_or_default();
    match game.iwad() {
        Some((hash, _)) if iwad::sha256_file(preferred).is_ok_and(|h| h == hash) => {
            Ok(preferred.to_path_buf())
        }
        Some((hash, file)) => {
            if let Some(p) = cache.and_then(|c| c.find(&hash)) {
                return Ok(p);
            }
            match iwad::iwad_for_host(&hash, &file, None) {
                Ok(p) => Ok(p),
                Err(_) if doomlink_net::iwads::free_iwad(&hash).is_some() => {
                    Ok(preferred.to_path_buf())
                }
                Err(e) => Err(e.into()),
            }
        }
        None => Ok(preferred.to_path_buf()),
    }
}

/// The room of invite `link` as the question before joining shows it: who is in it, what it
/// plays and what this computer has of that (`f`), asked of its rendezvous without joining.
/// Blocks for a few seconds at most.
pub fn peek_join(
    link: &str,
    tls: &ClientTls,
    f: &Fetching,
) -> Result<crate::roomgame::JoinPreview> {
    let invite = InviteLink::parse(link)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (game, room) = crate::roomgame::peek_everything(&rt, &invite, tls);
    Ok(crate::roomgame::JoinPreview::new(&game, room, None, f))
}

/// Who hosts the room of invite `link` (the name it registered with) and who is in it, asked of
/// its rendezvous without joining (a TLS rendezvous's certificate checked against `tls`); blocks
/// for at most a few seconds. For the question a link opened from outside the window waits on.
pub fn peek(link: &str, tls: &ClientTls) -> Result<RoomPeek> {
    let invite = InviteLink::parse(link)?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(rt.block_on(peek_room(&invite, tls))?)
}
