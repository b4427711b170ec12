//! A light load generator: bots that speak Chocolate Doom 3.0's network protocol as a client does
//! (`net_client.c`, `net_common.c`, `net_structrw.c` of Debian's chocolate-doom 3.0.1), so that a
//! server's capacity can be measured at saturation (hundreds of players) without running a game
//! per player. A real player runs the whole game to make each ticcmd; a bot makes up a plausible
//! one (a random walk of movement, a changing consistency byte: the same 5–9 bytes on the wire),
//! so the server sees a real client's traffic: the SYN with the connect data, the lobby (the first
//! bot, the controller, launches when the room is full), reliable packets with their
//! acknowledgements and retransmissions, the game start, GAMEDATA 35 times a second carrying the
//! last two tics as a real client's `extratics = 1` does, acknowledging the server's tics, resend
//! requests both ways, and a clean disconnect.
//!
//! [`Bot`] is the protocol, sans-IO (packets and instants in, packets out); [`run`] drives many
//! bots on one thread with tokio, each over UDP (a socket on 127.0.0.1) or over WebRTC by a
//! room's invite link (a doomlink session client, as `doomlink join LINK` has, bound to
//! 127.0.0.1).
//!
//! Bots play among themselves: their consistency bytes are made up, so a real player in the same
//! game would stop at Chocolate Doom's "consistency failure".

use std::net::SocketAddr;
use std::time::{Duration, Instant};

// Packet types (net_defs.h).
mod bot;

pub use bot::{Bot, BotStats, Phase};

/// What [`run`] reports of one bot.
#[derive(Debug, Clone)]
pub struct BotReport {
    pub room: usize,
    pub phase: Phase,
    pub stats: BotStats,
    /// From the run's start to this bot's joining (its transport up, for WebRTC) and to its
    /// game's start.
    pub joined_after: Option<Duration>,
    pub started_after: Option<Duration>,
}

/// Events [`run`] tells its caller while the bots play.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEvent {
    /// Every bot is in game (or failed).
    AllInGame,
    /// The first bot left its game.
    FirstLeft,
}

/// Where a room's bots join.
#[derive(Debug, Clone)]
pub enum Target {
    /// A server's UDP port: Chocolate Doom's packets as they are (native `chocolate-server`, or a
    /// `doomlink serve` room's LAN port).
    Udp(SocketAddr),
    /// A doomlink invite link: each bot joins over WebRTC through the link's rendezvous, as
    /// `doomlink join LINK` does, and its packets ride the session to the room's guest.
    Link(String),
}

/// A bot's way to its server.
enum Transport {
    Udp(tokio::net::UdpSocket),
    Rtc {
        node: doomlink_net::webrtc::node::WebRtcNode,
        hub: std::net::Ipv4Addr,
        rx: tokio::sync::mpsc::UnboundedReceiver<Vec<u8>>,
    },
}

/// The guest side of a WebRTC bot: datagrams the session delivers go to the bot's task.
struct ChannelSink(tokio::sync::mpsc::UnboundedSender<Vec<u8>>);

impl doomlink_net::lan::GuestSink for ChannelSink {
    fn deliver(&self, _dst_port: u16, _src: std::net::SocketAddrV4, data: &[u8]) {
        let _ = self.0.send(data.to_vec());
    }
}

/// The bot's guest port on its virtual address (any; a client's is ephemeral).
const RTC_BOT_PORT: u16 = 40000;
/// The room guest's server port.
const SERVER_PORT: u16 = 2342;

impl Transport {
    async fn open(
        target: &Target,
        name: &str,
        session: Option<&doomlink_net::relay::session::Config>,
    ) -> Result<Transport, String> {
        match target {
            Target::Udp(server) => {
                let sock = tokio::net::UdpSocket::bind("127.0.0.1:0")
                    .await
                    .map_err(|e| e.to_string())?;
                sock.connect(server).await.map_err(|e| e.to_string())?;
                Ok(Transport::Udp(sock))
            }
            Target::Link(link) => {
                use doomlink_net::online::{join_room, JoinOptions};
                let invite = doomlink_net::signaling::invite::InviteLink::parse(link)
                    .map_err(|e| e.to_string())?;
                let mut rtc = doomlink_play::internet::rtc_options_with(
                    Some([127, 0, 0, 1].into()),
                    Vec::new(),
                );
                rtc.connect_timeout = Duration::from_secs(20);
                let opts = JoinOptions {
                    name: name.to_string(),
                    rtc,
                    tls: Default::default(),
                };
                let joined = join_room(&invite, opts).await.map_err(|e| e.to_string())?;
                let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
                let mut cfg = session.ok_or("no session settings")?.clone();
                cfg.name = name.to_string();
                let (node, _events) = doomlink_net::webrtc::node::WebRtcNode::client(
                    cfg,
                    std::sync::Arc::new(ChannelSink(tx)),
                );
                node.add_link(joined.link).map_err(|e| e.to_string())?;
                let deadline = Instant::now() + Duration::from_secs(15);
                let hub = loop {
                    if let Some(h) = node.with_session(|s, _| s.local_addr().and(s.hub_addr())) {
                        break h;
                    }
                    if Instant::now() > deadline {
                        return Err("the room did not welcome the bot in 15 s".into());
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                };
                Ok(Transport::Rtc { node, hub, rx })
            }
        }
    }

    async fn send(&self, p: &[u8]) {
        // A refused or dropped send is what a lost packet is: the protocol's timers send again.
        match self {
            Transport::Udp(sock) => {
                let _ = sock.send(p).await;
            }
            Transport::Rtc { node, hub, .. } => {
                let _ = node.send_from_guest(RTC_BOT_PORT, *hub, SERVER_PORT, p);
            }
        }
    }

    /// The next packet from the server (None: the transport is gone).
    async fn recv(&mut self, buf: &mut [u8]) -> Option<Vec<u8>> {
        match self {
            Transport::Udp(sock) => loop {
                match sock.recv(buf).await {
                    Ok(n) => return Some(buf[..n].to_vec()),
                    // An earlier packet found no server yet (ICMP port unreachable): it was
                    // lost, as the protocol allows; the SYN goes again.
                    Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => continue,
                    Err(_) => return None,
                }
            },
            Transport::Rtc { rx, .. } => rx.recv().await,
        }
    }

    fn close(&self) {
        if let Transport::Rtc { node, .. } = self {
            node.close(doomlink_net::relay::wire::ByeReason::Quit);
        }
    }
}

/// What the bots of one [`run`] share: counts of who has reached the lobby and the game (every
/// room's launch waits for the first; the caller hears of the second), the reports, and the
/// join limiter.
struct Run<E> {
    total: usize,
    per_room: usize,
    tics: u32,
    limit: Duration,
    began: Instant,
    in_lobby: std::cell::Cell<usize>,
    in_game: std::cell::Cell<usize>,
    left: std::cell::Cell<bool>,
    events: E,
    reports: std::cell::RefCell<Vec<BotReport>>,
    /// WebRTC joins go a few at a time, as players arrive.
    joins: tokio::sync::Semaphore,
    /// The session settings of WebRTC bots (the IWAD's hash is taken once).
    session: Option<doomlink_net::relay::session::Config>,
}

impl<E: Fn(RunEvent)> Run<E> {
    fn reached_lobby(&self) {
        self.in_lobby.set(self.in_lobby.get() + 1);
    }

    fn reached_game(&self) {
        self.in_game.set(self.in_game.get() + 1);
        if self.in_game.get() == self.total {
            (self.events)(RunEvent::AllInGame);
        }
    }

    /// Bot `k` of room `room`: joins, plays, leaves, reports.
    async fn bot(&self, room: usize, k: usize, target: &Target) {
        let deadline = tokio::time::Instant::now() + self.limit;
        let name = format!("bot{room}-{k}");
        let seed = (room * self.per_room + k) as u64 + 1;
        let mut bot = Bot::new(&name, self.per_room as u8, self.tics, seed, Instant::now());
        let transport = {
            let _permit = self.joins.acquire().await;
            Transport::open(target, &name, self.session.as_ref()).await
        };
        let joined_after = transport.is_ok().then(|| self.began.elapsed());
        let (mut in_lobby, mut in_game) = (false, false);
        match transport {
            Err(e) => bot.fail(format!("cannot join: {e}")),
            Ok(mut t) => {
                bot.may_launch = false;
                bot.handle_timeout(Instant::now());
                let mut buf = [0u8; 2048];
                loop {
                    while let Some(p) = bot.poll_transmit() {
                        t.send(&p).await;
                    }
                    if !in_lobby && !matches!(bot.phase(), Phase::Connecting) {
                        in_lobby = true;
                        self.reached_lobby();
                    }
                    bot.may_launch = self.in_lobby.get() == self.total;
                    if !in_game && matches!(bot.phase(), Phase::InGame | Phase::Failed(_)) {
                        in_game = true;
                        self.reached_game();
                    }
                    if matches!(bot.phase(), Phase::Leaving | Phase::Done) && !self.left.get() {
                        self.left.set(true);
                        (self.events)(RunEvent::FirstLeft);
                    }
                    if bot.finished() || tokio::time::Instant::now() >= deadline {
                        break;
                    }
                    let wake = tokio::time::Instant::from_std(bot.poll_timeout(Instant::now()));
                    tokio::select! {
                        p = t.recv(&mut buf) => match p {
                            Some(p) => bot.handle(Instant::now(), &p),
                            None => bot.fail("the transport closed".into()),
                        },
                        _ = tokio::time::sleep_until(wake.min(deadline)) => {
                            if matches!(bot.phase(), Phase::InGame) {
                                let lag = tokio::time::Instant::now().saturating_duration_since(wake);
                                bot.stats.timer_lag_us.push(lag.as_micros().min(u32::MAX as u128) as u32);
                            }
                            bot.handle_timeout(Instant::now())
                        }
                    }
                }
                t.close();
            }
        }
        // A bot that never got there must not hold up the others' launch or the caller.
        if !in_lobby {
            self.reached_lobby();
        }
        if !in_game {
            self.reached_game();
        }
        self.reports.borrow_mut().push(BotReport {
            room,
            phase: bot.phase().clone(),
            stats: bot.stats.clone(),
            joined_after,
            started_after: bot.start.map(|t| t.duration_since(self.began)),
        });
    }
}

/// Runs `per_room` bots in each room of `rooms` (on one thread; over UDP from 127.0.0.1, or over
/// WebRTC bound to 127.0.0.1), each playing `tics` tics; returns every bot's report when all are
/// done or `limit` has passed. No room launches its game before every bot is in its lobby, so
/// that every game runs at once. `events` hears of [`RunEvent`]s as they happen.
pub fn run(
    rooms: &[Target],
    per_room: usize,
    tics: u32,
    limit: Duration,
    events: impl Fn(RunEvent) + 'static,
) -> std::io::Result<Vec<BotReport>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let session = match rooms.iter().any(|r| matches!(r, Target::Link(_))) {
        true => Some(
            doomlink_play::internet::session_config("bot", std::path::Path::new(crate::FREEDOOM1))
                .map_err(std::io::Error::other)?,
        ),
        false => None,
    };
    let shared = std::rc::Rc::new(Run {
        total: rooms.len() * per_room,
        per_room,
        tics,
        limit,
        began: Instant::now(),
        in_lobby: Default::default(),
        in_game: Default::default(),
        left: Default::default(),
        events,
        reports: Default::default(),
        joins: tokio::sync::Semaphore::new(16),
        session,
    });
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async {
        let mut tasks = Vec::new();
        for (room, target) in rooms.iter().enumerate() {
            for k in 0..per_room {
                let (shared, target) = (shared.clone(), target.clone());
                tasks.push(tokio::task::spawn_local(async move {
                    shared.bot(room, k, &target).await
                }));
            }
        }
        for t in tasks {
            let _ = t.await;
        }
        // Let the last Byes go out.
        tokio::time::sleep(Duration::from_millis(200)).await;
    });
    let mut v = shared.reports.take();
    v.sort_by_key(|r| r.room);
    Ok(v)
}
