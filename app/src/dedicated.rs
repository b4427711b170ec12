//! Dedicated rooms: `doomlink serve` hosting games itself. Each room's server peer is the service:
//! Chocolate Doom `-dedicated` (a server with no player of its own) in a kernel whose HostIO is a
//! hub [`WebRtcNode`]; players join by the room's invite link, or — in a room with a `lan_port` —
//! over the LAN transport at that real UDP port (`doomlink join IP:PORT`, stock `-connect`).
//! A room's WebRTC links go through an [`RtcMux`] (sans-IO peer connections on one UDP socket):
//! by default the room's own socket, read by the room's guest thread while it waits, as a LAN
//! port is (`rtc_edge = "per-room"`); or the service's shared edge threads, each reading one
//! socket for every room dealt to it (`"shared"`: fewer ports, a thread wake more per datagram).
//! A webrtc peer connection per player, each with its own driver task, sockets and channel
//! tasks, cost a room 2-3 times its game's CPU.
//!
//! Design:
//! - A room is a `host_room` client of the service's own rendezvous on 127.0.0.1 — the same
//!   code path as `doomlink host --internet`. The rendezvous then treats service rooms and
//!   player-hosted rooms alike (signaling, TURN credentials, expiry, the `closed` on shutdown),
//!   there is one implementation of hosting to trust, and the net crate keeps knowing no wasm.
//!   The link is rewritten to the public address (the room was registered over loopback).
//! - One kernel per room, chosen by measuring (`cargo bench -p doomlink-e2e --bench capacity`,
//!   2-core machine): 16 idle `-dedicated` guests in one shared kernel take 0.6 MB and 1.0 ms/s
//!   of CPU each and start in 0.1 ms; in a kernel each, 1.4 MB and 1.2 ms/s and 1.1 ms (the
//!   module comes from the compiled-module cache; one epoch thread serves every kernel). A
//!   playing four-player room costs the service 10-13 ms of CPU a second over the LAN transport
//!   and 22-28 ms over WebRTC, and 3-10 MB, so a kernel of its own adds ~2% CPU and ~15%
//!   memory to a room. For that, a room's memory
//!   cap, kill, trap and HostIO are its own, with no routing by pid between rooms to get wrong
//!   and nothing shared that one room's failure could take down.
//! - The room's game options: Chocolate Doom's dedicated server takes them from the first player
//!   to join (the controller), and refuses them on its own command line. The service enforces
//!   the room's options instead by rewriting the settings of the controller's GAMESTART packet
//!   on its way into the server guest ([`enforce_settings`]); the server then hands every player
//!   those settings, so all agree. The room's server launches the game itself once the room's
//!   player count is in (`-doomlink-autostart`, assets' dl_netserver.h); the controller may
//!   still start it earlier (its `-nodes` or the lobby's `start`), as natively.
//! - A room whose guest traps, I_Errors or exits is closed (its players get Bye HubClosing), logged
//!   and counted (`doomlink_rooms_failed_total`); other rooms go on. Standing rooms (from the
//!   config) start a new guest — a new game — after each game ends (its players all gone);
//!   rooms made through the admin API close after their one game.
//! - Limits: rooms, players per room (more joiners are turned away at the hub, and LAN joiners
//!   get Chocolate Doom's own "Server is full!" reject; both count the other transport's
//!   players), the guest's memory (the kernel's per-guest cap).
//! - LAN joins ([`LanRoom`]): a room with a `lan_port` also holds a [`LanBridge`] (the NAT of
//!   `doomlink host --lan`) with that one real port. Its NAT hands LAN players addresses of
//!   [`LAN_SUBNET`], apart from the session's /24, so the guest's HostIO routes each datagram by
//!   its destination: a LAN address to the bridge, anything else to the hub. Deliveries from
//!   the bridge go through the same [`SettingsGuard`] as the hub's. The bridge lives as long as
//!   the room, so a standing room's next guest (which binds 2342 again) is reached the same way.
//!   A LAN player has no link to count, so it counts from its datagrams: heard within
//!   [`LAN_LIVE`] and answered by the guest (or new, within [`LAN_PENDING`]).
//! - Guest CPU time: each guest runs on its own thread (the kernel names it `guest-PID`); the
//!   service finds its thread id when it starts and reads `/proc/self/task/TID/stat`.
//!
//! Test hook (tests only): `DOOMLINK_TEST_FAIL_ROOM=NAME:SECS` makes the service kill the guest
//! of the room named NAME SECS seconds after its first player came, through the kernel, without it being a
//! planned stop — the path a trap takes.

use crate::serve_config::{game_of, lan_port_of, RoomLimits, RoomSpec, RtcEdge};
use doomlink_kernel::{
    ExitStatus, GuestModule, Kernel, KernelConfig, OutputSink, ProcessHandle, ProcessSpec,
};
use doomlink_net::identity::Identity;
use doomlink_net::lan::{GuestSink, LanBridge, LanConfig};
use doomlink_net::lan_nat::NatConfig;
use doomlink_net::lan_side::{SideConfig, SideRole};
use doomlink_net::mux::{MuxCounters, RtcMux};
use doomlink_net::node::{NodeEvent, WebRtcNode};
use doomlink_net::online::{host_room, HostOptions};
use doomlink_net::rendezvous::{CreatedRoom, DedicatedRooms, RoomError, RoomInfo, RoomRequest};
use doomlink_net::subnet::Subnet;
use doomlink_net::wire::ByeReason;
use doomlink_net::Config;
use doomlink_play::internet::{session_config, InternetHost};
use doomlink_play::netview::ChatLog;
use doomlink_play::{game::GameOptions, sink::KernelSink};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// What the rooms need from the service.
#[derive(Debug, Clone)]
pub struct RoomsConfig {
    /// The rendezvous as the rooms reach it (127.0.0.1:PORT).
    pub local_rendezvous: SocketAddr,
    /// `host:port` players reach the rendezvous at (goes into links).
    pub public_rendezvous: String,
    /// Room data (the service's identity) lives here.
    pub data_dir: PathBuf,
    pub iwads: Vec<PathBuf>,
    pub limits: RoomLimits,
    /// Where the rooms' WebRTC socket binds (tests: 127.0.0.1); None: every interface.
    pub rtc_bind: Option<Ipv4Addr>,
    /// Its port; 0: any free one. With several threads, the first of consecutive ports.
    pub rtc_port: u16,
    /// WebRTC edge threads (each its own socket), for the shared edge.
    pub rtc_threads: usize,
    /// A WebRTC socket per room (read by its guest) or the shared edge threads.
    pub rtc_edge: RtcEdge,
    /// Addresses to advertise besides the socket's own (the public address of a server behind
    /// a 1:1 NAT).
    pub rtc_advertise: Vec<std::net::IpAddr>,
    /// Where rooms' LAN ports bind (None: 0.0.0.0; tests: 127.0.0.1).
    pub lan_bind: Option<Ipv4Addr>,
    /// The service's STUN and TURN UDP ports as bound: no room's `lan_port`.
    pub stun_turn_ports: [u16; 2],
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Standing,
    Created,
}

/// The guest running in a room now.
struct Guest {
    process: ProcessHandle,
    /// The guest's thread, for its CPU time.
    tid: Option<u32>,
}

struct Room {
    id: String,
    spec: RoomSpec,
    kind: Kind,
    link: String,
    hub: WebRtcNode,
    /// The room's LAN port, if it has one.
    lan: Option<Arc<LanRoom>>,
    /// The room's own WebRTC socket (`rtc_edge = "per-room"`), read by its guest.
    rtc: Option<RtcMux>,
    sink: Arc<KernelSink>,
    kernel: Kernel,
    module: GuestModule,
    guest: Mutex<Option<Guest>>,
    /// CPU seconds of this room's earlier guests (standing rooms restart theirs).
    cpu_done: Mutex<f64>,
    games: AtomicU64,
    /// How long the service holds a tic (see [`TicClock`]).
    tics: Arc<TicClock>,
    /// Set before a planned stop, so the supervisor does not call it a failure.
    stopping: AtomicBool,
    /// Ends the joiner-taking task (and with it the room at the rendezvous).
    stop_joiners: tokio::sync::watch::Sender<bool>,
}

impl Room {
    fn guest(&self) -> MutexGuard<'_, Option<Guest>> {
        self.guest.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Players in the room over either transport.
    fn players(&self) -> usize {
        self.hub.links().iter().filter(|l| l.addr.is_some()).count() + self.lan_players()
    }
    fn lan_players(&self) -> usize {
        self.lan.as_ref().map_or(0, |l| l.players())
    }
    fn cpu_seconds(&self) -> f64 {
        let done = *self.cpu_done.lock().unwrap_or_else(|e| e.into_inner());
        done + self
            .guest()
            .as_ref()
            .and_then(|g| g.tid)
            .and_then(thread_cpu_seconds)
            .unwrap_or(0.0)
    }
}

struct Inner {
    cfg: Mutex<RoomsConfig>,
    rooms: Mutex<HashMap<String, Arc<Room>>>,
    /// Rooms being created (they count against the limit already).
    pending: AtomicU64,
    identity: Identity,
    /// Every room's WebRTC: a socket and a thread each (see `doomlink_net::mux`); rooms are
    /// dealt to them in turn, so rooms spread over cores. Opened with the first room: a
    /// service that hosts none opens no WebRTC port.
    edges: Mutex<Vec<RtcMux>>,
    next_edge: AtomicU64,
    /// The per-room sockets' figures, kept across rooms (the metrics are totals).
    room_edge_counters: Arc<MuxCounters>,
    rt: tokio::runtime::Handle,
    /// Serialises guest starts, so a new guest thread is told apart from the others.
    spawn_lock: Mutex<()>,
    wad_hashes: Mutex<HashMap<PathBuf, Config>>,
    draining: AtomicBool,
    created_total: AtomicU64,
    failed_total: AtomicU64,
    games_total: AtomicU64,
    refused_players_total: AtomicU64,
    /// The test hook (see the module docs).
    fail_room: Option<(String, Duration)>,
}

/// The service's dedicated rooms. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    inner: Arc<Inner>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Rooms {
    /// Must be called inside the service's tokio runtime.
    pub fn new(cfg: RoomsConfig) -> anyhow::Result<Rooms> {
        std::fs::create_dir_all(&cfg.data_dir)?;
        let identity = Identity::load_or_create(&cfg.data_dir)?;
        let fail_room = std::env::var("DOOMLINK_TEST_FAIL_ROOM").ok().and_then(|v| {
            let (name, secs) = v.rsplit_once(':')?;
            Some((
                name.to_string(),
                Duration::from_secs_f64(secs.parse().ok()?),
            ))
        });
        Ok(Rooms {
            inner: Arc::new(Inner {
                cfg: Mutex::new(cfg),
                rooms: Mutex::new(HashMap::new()),
                pending: AtomicU64::new(0),
                identity,
                edges: Mutex::new(Vec::new()),
                next_edge: AtomicU64::new(0),
                room_edge_counters: Arc::default(),
                rt: tokio::runtime::Handle::current(),
                spawn_lock: Mutex::new(()),
                wad_hashes: Mutex::new(HashMap::new()),
                draining: AtomicBool::new(false),
                created_total: AtomicU64::new(0),
                failed_total: AtomicU64::new(0),
                games_total: AtomicU64::new(0),
                refused_players_total: AtomicU64::new(0),
                fail_room,
            }),
        })
    }

    /// New limits and IWADs (SIGHUP). Running rooms keep theirs.
    pub fn set_limits(&self, limits: RoomLimits, iwads: Vec<PathBuf>) {
        let mut c = lock(&self.inner.cfg);
        c.limits = limits;
        c.iwads = iwads;
    }

    /// Names of the standing rooms running now.
    pub fn standing_names(&self) -> Vec<String> {
        lock(&self.inner.rooms)
            .values()
            .filter(|r| r.kind == Kind::Standing)
            .map(|r| r.spec.name.clone())
            .collect()
    }

    /// Starts a standing room (from the config).
    pub async fn start_standing(&self, spec: RoomSpec) -> Result<CreatedRoom, RoomError> {
        self.start(spec, Kind::Standing).await
    }

    /// Closes a standing room by name (SIGHUP: it left the config).
    pub fn close_standing(&self, name: &str) {
        let rooms: Vec<Arc<Room>> = lock(&self.inner.rooms)
            .values()
            .filter(|r| r.kind == Kind::Standing && r.spec.name == name)
            .cloned()
            .collect();
        for r in rooms {
            tracing::info!(room = %r.id, name, "standing room removed from the config");
            self.close(&r);
        }
    }

    /// SIGTERM: no new rooms or players; games may finish within `bound`; then every player
    /// is told the room closes (Bye HubClosing) and the guests stop.
    pub async fn drain(&self, bound: Duration) {
        self.inner.draining.store(true, Ordering::Relaxed);
        let rooms: Vec<Arc<Room>> = lock(&self.inner.rooms).values().cloned().collect();
        for r in &rooms {
            let _ = r.stop_joiners.send(true);
            if let Some(l) = &r.lan {
                l.accepting.store(false, Ordering::Relaxed);
            }
        }
        let deadline = Instant::now() + bound;
        while Instant::now() < deadline && rooms.iter().any(|r| r.players() > 0) {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        for r in &rooms {
            self.close(r);
        }
        // Let the Byes go out before the runtime stops.
        tokio::time::sleep(Duration::from_millis(300)).await;
        tracing::info!(rooms = rooms.len(), "dedicated rooms drained");
    }

    fn config_for(&self, iwad: &Path, name: &str) -> Result<Config, RoomError> {
        if let Some(c) = lock(&self.inner.wad_hashes).get(iwad) {
            let mut c = c.clone();
            c.name = name.to_string();
            return Ok(c);
        }
        let c = session_config(name, iwad).map_err(|e| RoomError::Failed(format!("{e:#}")))?;
        lock(&self.inner.wad_hashes).insert(iwad.to_path_buf(), c.clone());
        Ok(c)
    }

    async fn start(&self, spec: RoomSpec, kind: Kind) -> Result<CreatedRoom, RoomError> {
        if self.inner.draining.load(Ordering::Relaxed) {
            return Err(RoomError::Draining);
        }
        let cfg = lock(&self.inner.cfg).clone();
        {
            let n =
                lock(&self.inner.rooms).len() as u64 + self.inner.pending.load(Ordering::Relaxed);
            if n >= cfg.limits.rooms as u64 {
                return Err(RoomError::Limit(format!(
                    "{} rooms at most",
                    cfg.limits.rooms
                )));
            }
        }
        self.inner.pending.fetch_add(1, Ordering::Relaxed);
        let r = self.start_inner(spec, kind, cfg).await;
        self.inner.pending.fetch_sub(1, Ordering::Relaxed);
        r
    }

    async fn start_inner(
        &self,
        spec: RoomSpec,
        kind: Kind,
        cfg: RoomsConfig,
    ) -> Result<CreatedRoom, RoomError> {
        let fail = |e: String| RoomError::Failed(e);
        let session = {
            let this = self.clone();
            let (iwad, name) = (spec.iwad.clone(), spec.name.clone());
            tokio::task::spawn_blocking(move || this.config_for(&iwad, &name))
                .await
                .map_err(|e| fail(e.to_string()))??
        };
        let sink = KernelSink::new();
        let tics = Arc::new(TicClock::default());
        let guard: Arc<dyn GuestSink> = Arc::new(SettingsGuard {
            inner: sink.clone(),
            game: spec.game.clone(),
            tics: tics.clone(),
        });
        // The WebRTC edge and the LAN port first: a port that is taken fails the room before
        // anything registers.
        let (edge, own_edge) = self.edge_for_room(&cfg).map_err(fail)?;
        let lan = match spec.lan_port {
            None => None,
            Some(port) => Some(
                LanRoom::open(
                    port,
                    cfg.lan_bind.unwrap_or(Ipv4Addr::UNSPECIFIED),
                    &spec,
                    &session.subnet,
                    guard.clone(),
                    Arc::downgrade(&self.inner),
                )
                .map_err(|e| fail(format!("lan_port {port}: {e}")))?,
            ),
        };
        let mut opts = HostOptions::new(
            cfg.local_rendezvous.to_string(),
            self.inner.identity.clone(),
        );
        opts.name = spec.name.clone();
        opts.mux = Some(edge.clone());
        let rtc = own_edge.then_some(edge);
        let hosted = host_room(opts).await;
        let mut hosted = match hosted {
            Ok(h) => h,
            Err(e) => {
                if let Some(l) = &lan {
                    l.close();
                }
                return Err(fail(format!("registering at the rendezvous: {e}")));
            }
        };
        let mut invite = hosted.invite.clone();
        invite.rendezvous = cfg.public_rendezvous.clone();
        let link = invite.to_doomlink_url();
        let id = hosted.room.clone();

        let (hub, events) = WebRtcNode::hub(session, guard);
        if let Some(l) = &lan {
            let _ = l.hub.set(hub.clone());
        }
        spawn_event_drain(id.clone(), events);
        let host_io = Arc::new(RoomIo {
            inner: InternetHost {
                node: hub.clone(),
                sink: sink.clone(),
                name: spec.name.clone(),
                chat: Arc::new(ChatLog::default()),
            },
            tics: tics.clone(),
            lan: lan.clone(),
            rtc: rtc.clone(),
        });
        let memory = cfg.limits.guest_memory;
        let (kernel, module) = tokio::task::spawn_blocking(move || {
            let kernel = Kernel::new(
                KernelConfig {
                    cache_dir: Some(doomlink_play::guest::cache_dir()),
                    memory_limit: memory,
                },
                host_io,
            )?;
            let module = kernel.load(doomlink_assets::DOOM_WASM)?;
            anyhow::Ok((kernel, module))
        })
        .await
        .map_err(|e| fail(e.to_string()))?
        .map_err(|e| {
            if let Some(l) = &lan {
                l.close();
            }
            fail(format!("{e:#}"))
        })?;
        sink.attach(kernel.clone());
        let (stop_tx, mut stop_rx) = tokio::sync::watch::channel(false);
        let room = Arc::new(Room {
            id: id.clone(),
            spec,
            kind,
            link: link.clone(),
            hub: hub.clone(),
            lan,
            rtc,
            sink,
            kernel,
            module,
            guest: Mutex::new(None),
            cpu_done: Mutex::new(0.0),
            games: AtomicU64::new(0),
            tics,
            stopping: AtomicBool::new(false),
            stop_joiners: stop_tx,
        });
        if let Err(e) = self.start_guest(&room) {
            if let Some(l) = &room.lan {
                l.close();
            }
            return Err(fail(format!("{e:#}")));
        }
        lock(&self.inner.rooms).insert(id.clone(), room.clone());
        self.inner.created_total.fetch_add(1, Ordering::Relaxed);
        tracing::info!(room = %id, name = %room.spec.name, kind = ?kind, players = room.spec.players, lan_port = ?room.spec.lan_port, "dedicated room open");

        // Joiners: into the hub while the room has places.
        {
            let room = room.clone();
            let inner = self.inner.clone();
            tokio::spawn(async move {
                loop {
                    let j = tokio::select! {
                        j = hosted.next_joiner() => j,
                        _ = stop_rx.changed() => break,
                    };
                    let Some(j) = j else { break };
                    match j {
                        Ok(j) => {
                            if room.hub.links().len() + room.lan_players()
                                >= room.spec.players as usize
                            {
                                inner.refused_players_total.fetch_add(1, Ordering::Relaxed);
                                tracing::info!(room = %room.id, joiner = %j.name, "room full; joiner turned away");
                                continue; // dropping the link closes it
                            }
                            if let Err(e) = room.hub.add_link(j.link) {
                                tracing::warn!(room = %room.id, joiner = %j.name, "could not join: {e}");
                            } else {
                                tracing::info!(room = %room.id, joiner = %j.name, "player joined");
                            }
                        }
                        Err(e) => tracing::warn!(room = %room.id, "a joiner failed: {e}"),
                    }
                }
                hosted.close().await;
            });
        }
        // The supervisor: failures, the end of a game, the test hook.
        {
            let this = self.clone();
            let room = room.clone();
            std::thread::Builder::new()
                .name(format!("room-{id}"))
                .spawn(move || this.supervise(room))
                .map_err(|e| fail(e.to_string()))?;
        }
        Ok(CreatedRoom { room: id, link })
    }

    /// The WebRTC edge a new room's players go through, and whether it is the room's own.
    /// Per room: a socket of its own, at the first free port from `rtc_port` (or any). Shared:
    /// the edges open with the first room, then rooms are dealt to them in turn.
    fn edge_for_room(&self, cfg: &RoomsConfig) -> Result<(RtcMux, bool), String> {
        if cfg.rtc_edge == RtcEdge::PerRoom {
            let ip = cfg.rtc_bind.unwrap_or(Ipv4Addr::UNSPECIFIED);
            let ports: Vec<u16> = match cfg.rtc_port {
                0 => vec![0],
                p => (0..cfg.limits.rooms.max(1))
                    .map_while(|i| p.checked_add(i as u16))
                    .collect(),
            };
            let mut last = None;
            for port in ports {
                let bind = SocketAddr::from((ip, port));
                match RtcMux::bind_pumped(
                    bind,
                    &cfg.rtc_advertise,
                    &doomlink_net::peer::RtcOptions::default(),
                    self.inner.identity.clone(),
                    self.inner.room_edge_counters.clone(),
                ) {
                    Ok(e) => return Ok((e, true)),
                    Err(e) => last = Some((bind, e)),
                }
            }
            return Err(match last {
                Some((bind, e)) if cfg.rtc_port == 0 => {
                    format!("cannot open the room's WebRTC port {bind}: {e}")
                }
                Some((_, e)) => format!(
                    "no free WebRTC port for the room from {} (limits.rooms ports): {e}",
                    cfg.rtc_port
                ),
                None => "no WebRTC port for the room".to_string(),
            });
        }
        let mut edges = lock(&self.inner.edges);
        if edges.is_empty() {
            for i in 0..cfg.rtc_threads.max(1) {
                // A fixed port: consecutive ports from it, one per thread (the config checks
                // they fit).
                let port = match cfg.rtc_port {
                    0 => 0,
                    p => p.saturating_add(i as u16),
                };
                let bind = SocketAddr::from((cfg.rtc_bind.unwrap_or(Ipv4Addr::UNSPECIFIED), port));
                let edge = RtcMux::bind(
                    bind,
                    &cfg.rtc_advertise,
                    &doomlink_net::peer::RtcOptions::default(),
                    self.inner.identity.clone(),
                );
                match edge {
                    Ok(e) => edges.push(e),
                    Err(e) => {
                        edges.clear();
                        return Err(format!("cannot open the rooms' WebRTC port {bind}: {e}"));
                    }
                }
            }
        }
        let turn = self.inner.next_edge.fetch_add(1, Ordering::Relaxed) as usize;
        Ok((edges[turn % edges.len()].clone(), false))
    }

    /// Starts a fresh `-dedicated` guest in the room's kernel.
    fn start_guest(&self, room: &Room) -> anyhow::Result<()> {
        let _one = lock(&self.inner.spawn_lock);
        let before = guest_threads();
        // -privateserver: never register with Chocolate Doom's master server.
        // -doomlink-autostart: the server launches the game once the room's players are in
        // (its joiners come from a link and do not know the room's size).
        let port = GUEST_PORT.to_string();
        let players = room.spec.players.to_string();
        let mut spec = ProcessSpec::new([
            "doom",
            "-dedicated",
            "-privateserver",
            "-port",
            port.as_str(),
            "-doomlink-autostart",
            players.as_str(),
        ]);
        let out: Arc<dyn OutputSink> = Arc::new(LogSink(room.id.clone()));
        spec.stdout = out.clone();
        spec.stderr = out;
        let process = room.kernel.spawn(&room.module, spec)?;
        // The new thread appears as soon as the spawn returns; give it a moment at most.
        let mut tid = None;
        for _ in 0..50 {
            tid = guest_threads().into_iter().find(|t| !before.contains(t));
            if tid.is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        *room.guest() = Some(Guest { process, tid });
        room.games.fetch_add(1, Ordering::Relaxed);
        self.inner.games_total.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    fn supervise(&self, room: Arc<Room>) {
        let mut had_players = false;
        // When the current game's first player came (the test hook counts from there).
        let mut first_player: Option<Instant> = None;
        loop {
            // Wait on a handle of our own, not under the guest's lock: the metrics handler
            // takes that lock on a runtime worker, and a supervisor re-taking it every 250 ms
            // starved it there (the unfair mutex), stalling every room's network with it.
            let process = {
                let g = room.guest();
                let Some(g) = g.as_ref() else { return };
                g.process.clone()
            };
            let status = process.wait_timeout(Duration::from_millis(250));
            if room.stopping.load(Ordering::Relaxed) {
                return;
            }
            if let Some(st) = status {
                // Not a planned stop: the room has failed.
                self.inner.failed_total.fetch_add(1, Ordering::Relaxed);
                match &st {
                    ExitStatus::Trapped(m) => {
                        tracing::error!(room = %room.id, name = %room.spec.name, trap = %m, "room's guest trapped; room closed")
                    }
                    other => {
                        tracing::error!(room = %room.id, name = %room.spec.name, status = %other, "room's guest ended; room closed")
                    }
                }
                self.close(&room);
                return;
            }
            if let Some((name, after)) = &self.inner.fail_room {
                if *name == room.spec.name && first_player.is_some_and(|t| t.elapsed() >= *after) {
                    if let Some(g) = room.guest().as_ref() {
                        let _ = room.kernel.kill(g.process.pid());
                    }
                }
            }
            let players = room.players();
            if players > 0 {
                had_players = true;
                first_player.get_or_insert_with(Instant::now);
            } else if had_players {
                had_players = false;
                first_player = None;
                tracing::info!(room = %room.id, "game over: every player left");
                match room.kind {
                    Kind::Created => {
                        self.close(&room);
                        return;
                    }
                    Kind::Standing => {
                        if let Err(e) = self.restart_guest(&room) {
                            tracing::error!(room = %room.id, "cannot start a new game: {e:#}");
                            self.inner.failed_total.fetch_add(1, Ordering::Relaxed);
                            self.close(&room);
                            return;
                        }
                        tracing::info!(room = %room.id, games = room.games.load(Ordering::Relaxed), "new game");
                    }
                }
            }
        }
    }

    fn restart_guest(&self, room: &Room) -> anyhow::Result<()> {
        let old = room.guest().take();
        if let Some(g) = old {
            let cpu = g.tid.and_then(thread_cpu_seconds).unwrap_or(0.0);
            g.process.kill();
            g.process.wait();
            *room.cpu_done.lock().unwrap_or_else(|e| e.into_inner()) += cpu;
        }
        if let Some(l) = &room.lan {
            // The last game's players are gone; the next game's come afresh.
            lock(&l.peers).clear();
        }
        self.start_guest(room)
    }

    /// Closes a room: players hear Bye HubClosing, the guest stops, the rendezvous forgets it.
    fn close(&self, room: &Arc<Room>) {
        room.stopping.store(true, Ordering::Relaxed);
        let _ = room.stop_joiners.send(true);
        {
            let hub = room.hub.clone();
            let _enter = self.inner.rt.enter();
            hub.close(ByeReason::HubClosing);
        }
        if let Some(g) = room.guest().as_ref() {
            g.process.kill();
        }
        if let Some(l) = &room.lan {
            l.close();
        }
        if lock(&self.inner.rooms).remove(&room.id).is_some() {
            tracing::info!(room = %room.id, name = %room.spec.name, "dedicated room closed");
        }
    }

    fn request_spec(&self, req: &RoomRequest) -> Result<RoomSpec, RoomError> {
        let cfg = lock(&self.inner.cfg).clone();
        let (players, game) = game_of(req, cfg.limits.players_per_room)
            .map_err(|(k, m)| RoomError::Invalid(format!("{k}: {m}")))?;
        let iwad = match &req.iwad {
            None => cfg.iwads.first().cloned().ok_or_else(|| {
                RoomError::Invalid("iwad: this service has no IWADs configured".into())
            })?,
            Some(w) => cfg
                .iwads
                .iter()
                .find(|p| {
                    p.file_name()
                        .is_some_and(|n| n.to_string_lossy().eq_ignore_ascii_case(w))
                })
                .cloned()
                .ok_or_else(|| {
                    RoomError::Invalid(format!("iwad: {w:?} is not one of this service's"))
                })?,
        };
        // The config's rules for a `lan_port` (`lan_port_of`), against the rooms running now;
        // except that 0 is refused rather than meaning none (asking for port 0 is a mistake;
        // none is leaving it out). A port another process holds (or a room still starting)
        // fails later, at the bind, before anything else of the room is made.
        let lan_port = match req.lan_port {
            Some(0 | u16::MAX) => {
                return Err(RoomError::Invalid(
                    "lan_port: 1 to 65534 (leave it out for none)".into(),
                ))
            }
            p => {
                let mut taken: std::collections::HashSet<u16> = lock(&self.inner.rooms)
                    .values()
                    .filter_map(|r| r.spec.lan_port)
                    .collect();
                lan_port_of(p, cfg.stun_turn_ports, &mut taken)
                    .map_err(|m| RoomError::Invalid(format!("lan_port: {m}")))?
            }
        };
        Ok(RoomSpec {
            name: req.name.clone().unwrap_or_else(|| "room".into()),
            iwad,
            players,
            game,
            lan_port,
        })
    }
}

#[async_trait::async_trait]
impl DedicatedRooms for Rooms {
    async fn create(&self, req: RoomRequest) -> Result<CreatedRoom, RoomError> {
        let spec = self.request_spec(&req)?;
        self.start(spec, Kind::Created).await
    }

    fn list(&self) -> Vec<RoomInfo> {
        let mut v: Vec<RoomInfo> = lock(&self.inner.rooms)
            .values()
            .map(|r| RoomInfo {
                room: r.id.clone(),
                name: r.spec.name.clone(),
                link: r.link.clone(),
                players: r.players(),
                max_players: r.spec.players,
                kind: match r.kind {
                    Kind::Standing => "standing".into(),
                    Kind::Created => "created".into(),
                },
                games: r.games.load(Ordering::Relaxed),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.room.cmp(&b.room)));
        v
    }

    fn counts(&self) -> (usize, usize) {
        let rooms = lock(&self.inner.rooms);
        (rooms.len(), rooms.values().map(|r| r.players()).sum())
    }

    fn metrics_text(&self) -> String {
        metrics_text(self)
    }
}

/// Prometheus text for the rooms and the process.
fn metrics_text(rooms: &Rooms) -> String {
    use std::fmt::Write;
    let list: Vec<Arc<Room>> = lock(&rooms.inner.rooms).values().cloned().collect();
    let mut s = String::new();
    let head = |s: &mut String, name: &str, kind: &str, help: &str| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}");
    };
    let inner = &rooms.inner;
    // Taken apart from the list below: a lock guard made in a `for`'s head lives to the end
    // of the loop, and edge_sum takes the same lock.
    let edge_links: usize = lock(&inner.edges).iter().map(|e| e.links()).sum::<usize>()
        + list
            .iter()
            .filter_map(|r| r.rtc.as_ref())
            .map(|e| e.links())
            .sum::<usize>();
    for (name, kind, help, v) in [
        (
            "doomlink_rooms",
            "gauge",
            "Dedicated rooms running.",
            list.len() as f64,
        ),
        (
            "doomlink_players",
            "gauge",
            "Players in dedicated rooms.",
            list.iter().map(|r| r.players()).sum::<usize>() as f64,
        ),
        (
            "doomlink_rooms_created_total",
            "counter",
            "Dedicated rooms opened.",
            inner.created_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_webrtc_edge_links",
            "gauge",
            "WebRTC links at the rooms' edges (connecting, up, or closing).",
            edge_links as f64,
        ),
        (
            "doomlink_webrtc_edge_datagrams_in_total",
            "counter",
            "UDP datagrams the rooms' WebRTC port received (STUN, DTLS, SCTP; every room).",
            edge_sum(inner, |c| &c.datagrams_in),
        ),
        (
            "doomlink_webrtc_edge_datagrams_out_total",
            "counter",
            "UDP datagrams the rooms' WebRTC port sent.",
            edge_sum(inner, |c| &c.datagrams_out),
        ),
        (
            "doomlink_webrtc_edge_unknown_dropped_total",
            "counter",
            "Datagrams dropped at the rooms' WebRTC port: from an address no link knows, and not a binding request for one.",
            edge_sum(inner, |c| &c.unknown_dropped),
        ),
        (
            "doomlink_webrtc_edge_send_failed_total",
            "counter",
            "Datagrams the rooms' WebRTC port could not send (socket buffer full).",
            edge_sum(inner, |c| &c.send_failed),
        ),
        (
            "doomlink_rooms_failed_total",
            "counter",
            "Dedicated rooms closed because their guest trapped, I_Errored or ended.",
            inner.failed_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_games_total",
            "counter",
            "Games started in dedicated rooms (a standing room starts one after each ends).",
            inner.games_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_players_refused_total",
            "counter",
            "Joiners turned away because their room was full.",
            inner.refused_players_total.load(Ordering::Relaxed) as f64,
        ),
        (
            "doomlink_draining",
            "gauge",
            "1 while the service drains (SIGTERM).",
            inner.draining.load(Ordering::Relaxed) as u8 as f64,
        ),
    ] {
        head(&mut s, name, kind, help);
        let _ = writeln!(s, "{name} {v}");
    }
    if let Some((cpu, rss)) = process_figures() {
        head(
            &mut s,
            "process_cpu_seconds_total",
            "counter",
            "CPU time of the whole service.",
        );
        let _ = writeln!(s, "process_cpu_seconds_total {cpu}");
        head(
            &mut s,
            "process_resident_memory_bytes",
            "gauge",
            "Resident memory of the service.",
        );
        let _ = writeln!(s, "process_resident_memory_bytes {rss}");
    }
    // Per room, labelled by room id.
    type Fig = (&'static str, &'static str, &'static str);
    const PER_ROOM: [Fig; 14] = [
        (
            "doomlink_room_players",
            "gauge",
            "Players in the room (WebRTC and LAN).",
        ),
        (
            "doomlink_room_datagrams_in_total",
            "counter",
            "Game datagrams from the room's players.",
        ),
        (
            "doomlink_room_datagrams_out_total",
            "counter",
            "Game datagrams to the room's players.",
        ),
        (
            "doomlink_room_bytes_in_total",
            "counter",
            "Payload bytes from the room's players.",
        ),
        (
            "doomlink_room_bytes_out_total",
            "counter",
            "Payload bytes to the room's players.",
        ),
        (
            "doomlink_room_drops_total",
            "counter",
            "Datagrams dropped: invalid, unroutable, full send queues, full guest socket queues, from LAN peers the room did not take.",
        ),
        (
            "doomlink_room_rtt_seconds",
            "gauge",
            "Mean smoothed round-trip time to the room's players.",
        ),
        (
            "doomlink_room_rtt_max_seconds",
            "gauge",
            "Largest smoothed round-trip time to a player of the room.",
        ),
        (
            "doomlink_room_guest_cpu_seconds_total",
            "counter",
            "CPU time of the room's Chocolate Doom guest threads.",
        ),
        (
            "doomlink_room_lan_players",
            "gauge",
            "Players in the room over the LAN transport (its lan_port); also in doomlink_room_players.",
        ),
        (
            "doomlink_room_lan_datagrams_in_total",
            "counter",
            "Game datagrams from the room's LAN players; also in doomlink_room_datagrams_in_total.",
        ),
        (
            "doomlink_room_lan_datagrams_out_total",
            "counter",
            "Game datagrams to the room's LAN players; also in doomlink_room_datagrams_out_total.",
        ),
        (
            "doomlink_room_lan_bytes_in_total",
            "counter",
            "Payload bytes from the room's LAN players; also in doomlink_room_bytes_in_total.",
        ),
        (
            "doomlink_room_lan_bytes_out_total",
            "counter",
            "Payload bytes to the room's LAN players; also in doomlink_room_bytes_out_total.",
        ),
    ];
    let figures: Vec<(String, [f64; 14])> = list
        .iter()
        .map(|r| {
            let links = r.hub.links();
            let mut f = [0.0; 14];
            f[0] = links.iter().filter(|l| l.addr.is_some()).count() as f64;
            let mut rtts: Vec<f64> = links
                .iter()
                .filter_map(|l| l.stats.rtt.map(|d| d.as_secs_f64()))
                .collect();
            if let Some(lan) = &r.lan {
                let n = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64;
                f[9] = lan.players() as f64;
                f[10] = n(&lan.dgrams_in);
                f[11] = n(&lan.dgrams_out);
                f[12] = n(&lan.bytes_in);
                f[13] = n(&lan.bytes_out);
                f[0] += f[9];
                f[1] += f[10];
                f[2] += f[11];
                f[3] += f[12];
                f[4] += f[13];
                f[5] += (n(&lan.refused) as u64 + lan.drops()) as f64;
                rtts.extend(lan.rtts());
            }
            for l in &links {
                f[1] += l.stats.dgrams_in as f64;
                f[2] += l.stats.dgrams_out as f64;
                f[3] += l.stats.dgram_bytes_in as f64;
                f[4] += l.stats.dgram_bytes_out as f64;
                f[5] += (l.stats.drops() + l.send_queue_drops) as f64;
            }
            f[5] += r.sink.queue_drops() as f64;
            if !rtts.is_empty() {
                f[6] = rtts.iter().sum::<f64>() / rtts.len() as f64;
                f[7] = rtts.iter().cloned().fold(0.0, f64::max);
            }
            f[8] = r.cpu_seconds();
            (r.id.clone(), f)
        })
        .collect();
    for (i, (name, kind, help)) in PER_ROOM.iter().enumerate() {
        head(&mut s, name, kind, help);
        for (id, f) in &figures {
            let _ = writeln!(s, "{name}{{room=\"{id}\"}} {}", f[i]);
        }
    }
    let name = "doomlink_room_tic_delay_seconds";
    head(
        &mut s,
        name,
        "histogram",
        "Delay of a tic through the service: the game datagram completing a tic in, to the server's next game datagram out.",
    );
    for r in &list {
        let mut acc = 0;
        for (i, b) in r.tics.buckets.iter().enumerate() {
            acc += b.load(Ordering::Relaxed);
            let le = TIC_BUCKETS
                .get(i)
                .map(|b| b.to_string())
                .unwrap_or_else(|| "+Inf".into());
            let _ = writeln!(s, "{name}_bucket{{room=\"{}\",le=\"{le}\"}} {acc}", r.id);
        }
        let _ = writeln!(
            s,
            "{name}_sum{{room=\"{}\"}} {}\n{name}_count{{room=\"{}\"}} {acc}",
            r.id,
            r.tics.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            r.id
        );
    }
    s
}

/// Drains a hub's events (nobody reads a dedicated room's chat), logging joins and leaves.
fn spawn_event_drain(room: String, mut events: tokio::sync::mpsc::UnboundedReceiver<NodeEvent>) {
    tokio::spawn(async move {
        while let Some(e) = events.recv().await {
            tracing::debug!(room = %room, event = ?e, "hub");
        }
    });
}

/// The guest's stdout and stderr, into the service's log a line at a time.
struct LogSink(String);
impl OutputSink for LogSink {
    fn write(&self, data: &[u8]) {
        for line in String::from_utf8_lossy(data).lines() {
            let line = line.trim();
            if !line.is_empty() {
                tracing::info!(room = %self.0, "guest: {line}");
            }
        }
    }
}

/// Thread ids of this process's guest threads.
fn guest_threads() -> Vec<u32> {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    dir.filter_map(|e| e.ok())
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|c| c.starts_with("guest-"))
        })
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .collect()
}

/// Clock ticks per second of /proc's CPU figures (USER_HZ: 100 on Linux).
const USER_HZ: f64 = 100.0;

/// utime + stime of one of our threads, in seconds.
fn thread_cpu_seconds(tid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat")).ok()?;
    cpu_of_stat(&stat)
}

fn cpu_of_stat(stat: &str) -> Option<f64> {
    // The command name may hold spaces; the fields after its closing parenthesis are fixed.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = f.get(11)?.parse().ok()?;
    let stime: f64 = f.get(12)?.parse().ok()?;
    Some((utime + stime) / USER_HZ)
}

/// The service's CPU seconds and resident bytes.
fn process_figures() -> Option<(f64, u64)> {
    let cpu = cpu_of_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)?;
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some((cpu, pages * 4096))
}

/// Delivers to the room's guest, enforcing the room's game on the controller's GAMESTART.
struct SettingsGuard {
    inner: Arc<KernelSink>,
    game: GameOptions,
    tics: Arc<TicClock>,
}

impl GuestSink for SettingsGuard {
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        if is_gamedata(data) {
            self.tics.arrived();
        }
        if is_gamestart(data) {
            let mut d = data.to_vec();
            enforce_settings(&mut d, &self.game);
            self.inner.deliver(dst_port, src, &d);
        } else {
            self.inner.deliver(dst_port, src, data);
        }
    }
}

/// The room guest's HostIO: the hub node's, timing tics on their way out; datagrams to a LAN
/// player's address go to the room's LAN bridge instead, and the guest's waits read the room's
/// LAN port and its own WebRTC socket.
struct RoomIo {
    inner: InternetHost,
    tics: Arc<TicClock>,
    lan: Option<Arc<LanRoom>>,
    rtc: Option<RtcMux>,
}

impl doomlink_kernel::HostIO for RoomIo {
    fn send_dgram(
        &self,
        pid: doomlink_kernel::Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), doomlink_kernel::Errno> {
        if is_gamedata(data) {
            self.tics.left();
        }
        if let Some(lan) = &self.lan {
            if LAN_SUBNET.contains_host(dst_ip) {
                return lan.send(SocketAddrV4::new(dst_ip, dst_port), data);
            }
        }
        self.inner.send_dgram(pid, src_port, dst_ip, dst_port, data)
    }
    fn on_bind(&self, pid: doomlink_kernel::Pid, port: u16) {
        self.inner.on_bind(pid, port);
    }
    fn on_unbind(&self, pid: doomlink_kernel::Pid, port: u16) {
        self.inner.on_unbind(pid, port);
    }
    fn wait_fds(&self) -> Vec<std::os::fd::RawFd> {
        let lan = self.lan.as_ref().and_then(|l| l.wait_fd());
        let rtc = self.rtc.as_ref().map(|e| e.socket_fd());
        lan.into_iter().chain(rtc).collect()
    }
    fn pump(&self) {
        if let Some(rtc) = &self.rtc {
            rtc.pump();
        }
        if let Some(lan) = &self.lan {
            lan.pump();
        }
    }
}

/// The guest's server port in the room's kernel (WebRTC players reach it at the hub's address).
const GUEST_PORT: u16 = 2342;

/// The addresses a room's guest sees its LAN players at (the bridge's NAT hands them out). The
/// session's virtual network is another /24 (10.77.0.0/24 by default), whose hub gives client
/// addresses over its whole range, so the two are kept apart by network, not by host number;
/// [`LanRoom::open`] refuses a session subnet that overlaps this one.
pub static LAN_SUBNET: std::sync::LazyLock<Subnet> = std::sync::LazyLock::new(|| {
    Subnet::new(Ipv4Addr::new(10, 78, 0, 0), 24).expect("10.78.0.0/24 is a subnet")
});

/// A LAN player counts as in the room while heard from within this long (Chocolate Doom's
/// clients send at least a keepalive a second, in the lobby and in the game).
pub const LAN_LIVE: Duration = Duration::from_secs(5);
/// A new LAN peer counts against the room's limit this long before the guest has answered it
/// (its SYN is on its way through the guest), so two joiners at once cannot overfill the room.
/// After that, one the guest never answers (junk) takes no place.
pub const LAN_PENDING: Duration = Duration::from_secs(3);
/// LAN peers a room keeps track of at most; a peer unheard for [`LAN_FORGET`] is forgotten.
const LAN_PEERS_MAX: usize = 256;
const LAN_FORGET: Duration = Duration::from_secs(60);

/// Chocolate Doom's NET_PACKET_TYPE_DISCONNECT (8): the other end is going.
const DISCONNECT: [u8; 2] = [0x00, 0x08];

/// Chocolate Doom's NET_PACKET_TYPE_SYN (0) with its magic number (net_client.c
/// NET_CL_SendSYN; the old one too, which the server rejects by its version): a client's
/// connect, which alone is answered when refused — junk is only dropped.
fn is_syn(data: &[u8]) -> bool {
    const MAGIC: [u32; 2] = [1454104972, 3436803284];
    data.len() >= 6
        && data[..2] == [0x00, 0x00]
        && MAGIC.contains(&u32::from_be_bytes([data[2], data[3], data[4], data[5]]))
}

/// A NET_PACKET_TYPE_REJECTED (2) with its reason, as net_server.c's NET_SV_SendReject makes it:
/// the client shows the reason and gives up.
fn reject_packet(reason: &str) -> Vec<u8> {
    let mut p = vec![0x00, 0x02];
    p.extend_from_slice(reason.as_bytes());
    p.push(0);
    p
}

/// True if the two subnets share an address.
fn overlaps(a: &Subnet, b: &Subnet) -> bool {
    let len = a.prefix_len().min(b.prefix_len());
    let mask = u32::MAX << (32 - u32::from(len));
    u32::from(a.network()) & mask == u32::from(b.network()) & mask
}

#[derive(Debug, Clone, Copy)]
struct LanPeerSeen {
    first: Instant,
    last_in: Instant,
    /// The guest's last datagram to it.
    last_out: Option<Instant>,
}

impl LanPeerSeen {
    fn counts(&self, now: Instant) -> bool {
        now.duration_since(self.last_in) < LAN_LIVE
            && (self
                .last_out
                .is_some_and(|t| now.duration_since(t) < LAN_LIVE)
                || now.duration_since(self.first) < LAN_PENDING)
    }
}

/// A room's LAN port: the bridge, the room's LAN players, and the way in to the guest (the
/// bridge delivers here; this admits or refuses the sender, then hands it to the room's
/// [`SettingsGuard`] for the guest's port).
struct LanRoom {
    port: u16,
    players_max: usize,
    bridge: Mutex<Option<LanBridge>>,
    /// The room's hub, for its players (set once it exists).
    hub: std::sync::OnceLock<WebRtcNode>,
    guard: Arc<dyn GuestSink>,
    /// By the virtual address the guest sees (one per real IP and port: the NAT keeps ports).
    peers: Mutex<HashMap<SocketAddrV4, LanPeerSeen>>,
    /// False once the room drains or closes: no new LAN players.
    accepting: AtomicBool,
    service: std::sync::Weak<Inner>,
    dgrams_in: AtomicU64,
    bytes_in: AtomicU64,
    dgrams_out: AtomicU64,
    bytes_out: AtomicU64,
    /// Datagrams from peers the room did not take (full, closing, too many peers).
    refused: AtomicU64,
}

impl LanRoom {
    fn open(
        port: u16,
        bind_ip: Ipv4Addr,
        spec: &RoomSpec,
        session: &Subnet,
        guard: Arc<dyn GuestSink>,
        service: std::sync::Weak<Inner>,
    ) -> anyhow::Result<Arc<LanRoom>> {
        anyhow::ensure!(
            !overlaps(session, &LAN_SUBNET),
            "the session's network {session} overlaps the LAN players' {}",
            *LAN_SUBNET
        );
        let lan = Arc::new(LanRoom {
            port,
            players_max: spec.players as usize,
            bridge: Mutex::new(None),
            hub: std::sync::OnceLock::new(),
            guard,
            peers: Mutex::new(HashMap::new()),
            accepting: AtomicBool::new(true),
            service,
            dgrams_in: AtomicU64::new(0),
            bytes_in: AtomicU64::new(0),
            dgrams_out: AtomicU64::new(0),
            bytes_out: AtomicU64::new(0),
            refused: AtomicU64::new(0),
        });
        let cfg = LanConfig {
            bind_ip,
            // Never used: the room sends only to players' own addresses, no broadcast.
            broadcast_ip: Ipv4Addr::LOCALHOST,
            // Every port below keeps its number: the room's one port is `lan_port` itself.
            fixed_port_below: u16::MAX,
            nat: NatConfig {
                subnet: *LAN_SUBNET,
                hosts: 1..=254,
                idle_timeout: LAN_FORGET,
            },
            // Pings doomlink joiners (RTTs for the metrics, their lobby's ping); relays chat
            // among the LAN players as `host --lan` does.
            side: Some(SideConfig::new(&spec.name, SideRole::Host)),
        };
        let bridge = LanBridge::new(cfg, lan.clone())?;
        // The bridge knows ports by the guest's number; the room's is keyed by the real one
        // (so that rooms do not all want 2342) and the guest's 2342 is put in on delivery.
        // Pumped: the room's guest thread reads the port while it waits (RoomIo's wait_fd), so
        // a player's datagram wakes one thread, not a receive thread and then the guest.
        let real = bridge.open_port_pumped(port)?;
        anyhow::ensure!(real == port, "bound {real} instead");
        *lock(&lan.bridge) = Some(bridge);
        Ok(lan)
    }

    /// The port's socket, for the guest's waits (None once closed).
    fn wait_fd(&self) -> Option<std::os::fd::RawFd> {
        lock(&self.bridge).as_ref()?.port_fd(self.port)
    }

    /// Reads what waits on the port (from the guest's thread, see [`LanRoom::wait_fd`]).
    fn pump(&self) {
        let bridge = lock(&self.bridge).clone();
        if let Some(b) = bridge {
            b.pump(self.port);
        }
    }

    /// LAN players in the room now.
    fn players(&self) -> usize {
        let now = Instant::now();
        lock(&self.peers).values().filter(|p| p.counts(now)).count()
    }

    /// The guest's datagram to the LAN player at `dst`.
    fn send(&self, dst: SocketAddrV4, data: &[u8]) -> Result<(), doomlink_kernel::Errno> {
        let Some(bridge) = lock(&self.bridge).clone() else {
            return Err(doomlink_kernel::Errno::NetUnreach);
        };
        // Like a real network: an unreachable host is the sender's error, nothing more.
        bridge
            .send(self.port, dst, data)
            .map_err(|_| doomlink_kernel::Errno::NetUnreach)?;
        if let Some(p) = lock(&self.peers).get_mut(&dst) {
            p.last_out = Some(Instant::now());
        }
        self.dgrams_out.fetch_add(1, Ordering::Relaxed);
        self.bytes_out
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        Ok(())
    }

    /// Smoothed RTTs (seconds) of the doomlink LAN players in the room (natives answer no ping).
    fn rtts(&self) -> Vec<f64> {
        let Some(bridge) = lock(&self.bridge).clone() else {
            return Vec::new();
        };
        let now = Instant::now();
        let peers = lock(&self.peers).clone();
        bridge
            .side_peers()
            .into_iter()
            .filter(|p| {
                p.guest_addr.is_some_and(|ip| {
                    peers
                        .get(&SocketAddrV4::new(ip, p.side.addr.port()))
                        .is_some_and(|s| s.counts(now))
                })
            })
            .filter_map(|p| p.side.rtt.map(|d| d.as_secs_f64()))
            .collect()
    }

    /// Datagrams the bridge could not route or send.
    fn drops(&self) -> u64 {
        lock(&self.bridge).as_ref().map_or(0, |b| {
            b.stats().dropped_unroutable.load(Ordering::Relaxed)
                + b.stats().send_errors.load(Ordering::Relaxed)
        })
    }

    /// Closes the port (the room is closing). Its LAN players are told as a native server's
    /// shutdown tells them (NET_SV_Shutdown): a DISCONNECT each.
    fn close(&self) {
        self.accepting.store(false, Ordering::Relaxed);
        let Some(b) = lock(&self.bridge).take() else {
            return;
        };
        let now = Instant::now();
        let players: Vec<SocketAddrV4> = lock(&self.peers)
            .iter()
            .filter(|(_, p)| p.counts(now))
            .map(|(a, _)| *a)
            .collect();
        for a in players {
            let _ = b.send(self.port, a, &DISCONNECT);
        }
        b.close_port(self.port);
    }
}

impl GuestSink for LanRoom {
    fn deliver(&self, _dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        let now = Instant::now();
        // A player's datagrams: the fast path, every tic.
        let playing = match lock(&self.peers).get_mut(&src) {
            Some(p) if now.duration_since(p.last_in) < LAN_LIVE => {
                p.last_in = now;
                true
            }
            _ => false,
        };
        let refuse = if playing {
            None
        } else {
            // The room's players over WebRTC, joined or joining (as the hub's admission
            // counts): asked only for a newcomer, as it builds the hub's link reports.
            let hub_players = self.hub.get().map_or(0, |h| h.links().len());
            let mut peers = lock(&self.peers);
            let known = peers
                .get(&src)
                .is_some_and(|p| now.duration_since(p.last_in) < LAN_LIVE);
            if known {
                if let Some(p) = peers.get_mut(&src) {
                    p.last_in = now;
                }
                None
            } else if !self.accepting.load(Ordering::Relaxed) {
                Some("The room is closing.")
            } else if hub_players + peers.values().filter(|p| p.counts(now)).count()
                >= self.players_max
            {
                // Chocolate Doom's own words for it.
                Some("Server is full!")
            } else {
                peers.retain(|_, p| now.duration_since(p.last_in) < LAN_FORGET);
                if peers.len() >= LAN_PEERS_MAX {
                    Some("Server is busy.")
                } else {
                    peers.insert(
                        src,
                        LanPeerSeen {
                            first: now,
                            last_in: now,
                            last_out: None,
                        },
                    );
                    None
                }
            }
        };
        if let Some(reason) = refuse {
            self.refused.fetch_add(1, Ordering::Relaxed);
            // A joiner's SYN gets the server's reject (smaller than the SYN: no amplifier);
            // anything else is dropped.
            if is_syn(data) {
                if let Some(svc) = self.service.upgrade() {
                    svc.refused_players_total.fetch_add(1, Ordering::Relaxed);
                }
                if let Some(b) = lock(&self.bridge).clone() {
                    let _ = b.send(self.port, src, &reject_packet(reason));
                }
            }
            return;
        }
        self.dgrams_in.fetch_add(1, Ordering::Relaxed);
        self.bytes_in
            .fetch_add(data.len() as u64, Ordering::Relaxed);
        self.guard.deliver(GUEST_PORT, src, data);
    }
}

/// Upper bounds (seconds) of the tic delay histogram's buckets.
pub const TIC_BUCKETS: [f64; 14] = [
    0.0001, 0.0002, 0.0005, 0.001, 0.0015, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.5,
];

/// The delay of a tic through the service: from the game datagram that arrives at the hub for
/// the server guest to the server's next game datagram out — what the service adds to a tic
/// that completes a gametic (the guest's poll, the kernel, the session). Earlier players' tics
/// that wait for the last one are not counted as waiting on the service.
#[derive(Default)]
struct TicClock {
    last_in: Mutex<Option<Instant>>,
    buckets: [AtomicU64; TIC_BUCKETS.len() + 1],
    sum_us: AtomicU64,
}

impl TicClock {
    fn arrived(&self) {
        *lock(&self.last_in) = Some(Instant::now());
    }
    fn left(&self) {
        let Some(t) = lock(&self.last_in).take() else {
            return;
        };
        let d = t.elapsed().as_secs_f64();
        let i = TIC_BUCKETS
            .iter()
            .position(|b| d <= *b)
            .unwrap_or(TIC_BUCKETS.len());
        self.buckets[i].fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add((d * 1e6) as u64, Ordering::Relaxed);
    }
}

/// Chocolate Doom's NET_PACKET_TYPE_GAMEDATA (6), never sent reliably.
fn is_gamedata(data: &[u8]) -> bool {
    data.len() >= 2 && data[..2] == [0x00, 0x06]
}

/// Chocolate Doom's NET_PACKET_TYPE_GAMESTART (5), sent reliably (bit 15).
const GAMESTART_RELIABLE: [u8; 2] = [0x80, 0x05];

fn is_gamestart(data: &[u8]) -> bool {
    data.len() >= 3 && data[..2] == GAMESTART_RELIABLE
}

/// Rewrites the game settings of a client's GAMESTART packet (net_structrw.c NET_WriteSettings,
/// after the 2-byte type and the reliable sequence byte): deathmatch, nomonsters, fast,
/// respawn, episode, map, skill (0-based), timelimit. Options the room leaves unset keep the
/// controller's values. A packet too short to hold settings is left alone (the server refuses
/// it).
pub fn enforce_settings(d: &mut [u8], g: &GameOptions) {
    const DEATHMATCH: usize = 5;
    const NOMONSTERS: usize = 6;
    const FAST: usize = 7;
    const RESPAWN: usize = 8;
    const EPISODE: usize = 9;
    const MAP: usize = 10;
    const SKILL: usize = 11;
    const TIMELIMIT: usize = 15;
    if d.len() < TIMELIMIT + 4 {
        return;
    }
    d[DEATHMATCH] = match g.mode {
        doomlink_play::game::GameMode::Coop => 0,
        doomlink_play::game::GameMode::Deathmatch => 1,
        doomlink_play::game::GameMode::AltDeath => 2,
    };
    d[NOMONSTERS] = g.nomonsters as u8;
    d[FAST] = g.fast as u8;
    d[RESPAWN] = g.respawn as u8;
    match g.warp {
        Some((Some(e), m)) => {
            d[EPISODE] = e;
            d[MAP] = m;
        }
        Some((None, m)) => {
            d[EPISODE] = 1;
            d[MAP] = m;
        }
        None => {}
    }
    if let Some(s) = g.skill {
        d[SKILL] = s.saturating_sub(1);
    }
    d[TIMELIMIT..TIMELIMIT + 4].copy_from_slice(&g.timer_minutes.unwrap_or(0).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rooms_game_replaces_the_controllers() {
        // A GAMESTART as NET_WriteSettings makes it: coop, E1M1, skill 2 (0-based), no timer.
        let mut p = vec![
            0x80, 0x05, 0x01, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 7, 2, 0, 0, 0,
        ];
        assert!(is_gamestart(&p));
        let g = GameOptions {
            mode: doomlink_play::game::GameMode::Deathmatch,
            skill: Some(4),
            warp: Some((Some(2), 3)),
            timer_minutes: Some(10),
            nomonsters: true,
            fast: false,
            respawn: true,
        };
        enforce_settings(&mut p, &g);
        assert_eq!(
            &p[..15],
            &[0x80, 0x05, 0x01, 1, 1, 1, 1, 0, 1, 2, 3, 3, 0, 0, 1]
        );
        assert_eq!(&p[15..19], &[0, 0, 0, 10]);
        assert_eq!(&p[19..], &[0, 7, 2, 0, 0, 0]);
        // Other packets pass untouched; a short one is left alone.
        assert!(!is_gamestart(&[0x80, 0x06, 0]));
        let mut short = vec![0x80, 0x05, 0x01, 1];
        enforce_settings(&mut short, &g);
        assert_eq!(short, vec![0x80, 0x05, 0x01, 1]);
    }

    /// A recording guest: what the LAN room hands on, by source.
    #[derive(Default)]
    struct Seen(Mutex<Vec<(u16, SocketAddrV4, Vec<u8>)>>);
    impl GuestSink for Seen {
        fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
            lock(&self.0).push((dst_port, src, data.to_vec()));
        }
    }

    /// A LAN room of two places on a real port of 127.0.0.1: two joiners come in at the guest's
    /// 2342 from LAN addresses apart from the session's, a third hears "Server is full!" and
    /// never reaches the guest; closing tells the players (DISCONNECT) and frees the port.
    #[test]
    fn a_lan_room_takes_players_up_to_its_limit() {
        use std::net::UdpSocket;
        let spec = RoomSpec {
            name: "lan".into(),
            iwad: PathBuf::from("x.wad"),
            players: 2,
            game: GameOptions::default(),
            lan_port: None,
        };
        // Overlapping networks are refused.
        let seen = Arc::new(Seen::default());
        let port = {
            let p = UdpSocket::bind("127.0.0.1:0").unwrap();
            p.local_addr().unwrap().port()
        };
        let overlap = Subnet::new(Ipv4Addr::new(10, 78, 0, 0), 16).unwrap();
        assert!(LanRoom::open(
            port,
            Ipv4Addr::LOCALHOST,
            &spec,
            &overlap,
            seen.clone(),
            std::sync::Weak::new()
        )
        .is_err());
        let session = Subnet::default();
        let lan = LanRoom::open(
            port,
            Ipv4Addr::LOCALHOST,
            &spec,
            &session,
            seen.clone(),
            std::sync::Weak::new(),
        )
        .unwrap();
        // The room's guest thread reads the port while it waits (RoomIo's wait_fd); this
        // thread stands in for it.
        assert!(lan.wait_fd().is_some());
        let guest_stop = Arc::new(AtomicBool::new(false));
        let guest = {
            let (lan, stop) = (lan.clone(), guest_stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    lan.pump();
                    std::thread::sleep(Duration::from_millis(2));
                }
            })
        };
        let joiner = || {
            let s = UdpSocket::bind("127.0.0.1:0").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            s
        };
        let mut syn = vec![0u8, 0];
        syn.extend_from_slice(&1454104972u32.to_be_bytes());
        syn.extend_from_slice(b"connect data");
        assert!(is_syn(&syn) && !is_syn(&[0, 0, 1, 2, 3, 4, 5]));
        let wait_seen = |n: usize| {
            let t = Instant::now();
            while lock(&seen.0).len() < n {
                assert!(t.elapsed() < Duration::from_secs(5), "not delivered");
                std::thread::sleep(Duration::from_millis(10));
            }
        };
        let (a, b, c) = (joiner(), joiner(), joiner());
        a.send_to(&syn, ("127.0.0.1", port)).unwrap();
        wait_seen(1);
        b.send_to(&syn, ("127.0.0.1", port)).unwrap();
        wait_seen(2);
        let got = lock(&seen.0).clone();
        for (dst, src, _) in &got {
            assert_eq!(*dst, GUEST_PORT);
            assert!(LAN_SUBNET.contains_host(*src.ip()), "{src}");
            assert!(!session.contains_host(*src.ip()), "{src}");
        }
        // The guest answers both: they are the room's players.
        for (_, src, _) in &got {
            lan.send(*src, b"\x00\x04wait").unwrap();
        }
        let mut buf = [0u8; 64];
        // The next datagram that is the game's (the room's side protocol pings the players).
        let recv = |s: &UdpSocket, buf: &mut [u8]| loop {
            let (n, _) = s.recv_from(buf).unwrap();
            if !doomlink_net::lan_side::is_side_frame(&buf[..n]) {
                break n;
            }
        };
        for s in [&a, &b] {
            let n = recv(s, &mut buf);
            assert_eq!(&buf[..n], b"\x00\x04wait");
        }
        assert_eq!(lan.players(), 2);
        // The third is refused with Chocolate Doom's reject, and the guest never sees it.
        c.send_to(&syn, ("127.0.0.1", port)).unwrap();
        let n = recv(&c, &mut buf);
        assert_eq!(&buf[..n], b"\x00\x02Server is full!\x00");
        assert_eq!(lock(&seen.0).len(), 2);
        assert_eq!(lan.refused.load(Ordering::Relaxed), 1);
        // Known players go on being delivered.
        a.send_to(b"\x00\x06tic", ("127.0.0.1", port)).unwrap();
        wait_seen(3);
        lan.close();
        assert!(lan.wait_fd().is_none());
        guest_stop.store(true, Ordering::Relaxed);
        guest.join().unwrap();
        for s in [&a, &b] {
            let n = recv(s, &mut buf);
            assert_eq!(&buf[..n], &DISCONNECT);
        }
        UdpSocket::bind(("127.0.0.1", port)).expect("the port is free again");
    }

    #[test]
    fn thread_cpu_comes_from_proc_stat() {
        let stat = "42 (guest 1) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1 0";
        assert_eq!(cpu_of_stat(stat), Some(3.0));
    }
}

/// How `doomlink serve` runs: the validated settings and the config file they came from (for
/// SIGHUP), with command-line overrides already applied.
pub struct Service {
    pub settings: crate::serve_config::ServeSettings,
    pub config_file: Option<PathBuf>,
    /// Re-applies the command line's overrides to a reloaded file.
    pub overrides: Box<dyn Fn(&mut crate::serve_config::ServeSettings) + Send + Sync>,
}

/// The service's data dir (TURN secret, identity): `data_dir/serve`.
pub fn service_data_dir(s: &crate::serve_config::ServeSettings) -> PathBuf {
    s.data_dir
        .clone()
        .unwrap_or_else(doomlink_play::guest::default_data_dir)
        .join("serve")
}

/// `doomlink serve`: the rendezvous and the dedicated rooms until SIGTERM/SIGINT (drain, then
/// exit); SIGHUP reloads the config file.
pub fn serve(svc: Service) -> anyhow::Result<()> {
    use anyhow::Context;
    use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DOOMLINK_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
    let s = svc.settings.clone();
    let data_dir = service_data_dir(&s);
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let public = s
        .public_addr
        .clone()
        .unwrap_or_else(|| s.listen.ip().to_string());
    let mut cfg = ServeConfig::new(s.listen, public.clone(), data_dir.clone());
    cfg.stun_port = s.stun_port;
    cfg.turn_port = s.turn_port;
    // Every dedicated room registers from 127.0.0.1: lift the per-address caps by as many.
    cfg.limits.rooms_per_ip += s.limits.rooms;
    cfg.limits.connections_per_ip += s.limits.rooms;
    cfg.limits.max_rooms += s.limits.rooms;
    let rt = doomlink_play::internet::service_runtime()?;
    rt.block_on(async move {
        let rv = Rendezvous::bind(cfg).await?;
        let stop = rv.shutdown_handle();
        let admin = rv.admin_handle();
        admin.set_token(s.admin_token.clone());
        let http = rv.http_addr();
        let local = if http.ip().is_unspecified() {
            SocketAddr::from((Ipv4Addr::LOCALHOST, http.port()))
        } else {
            http
        };
        let public_host = if public.contains(':') && !public.starts_with('[') {
            format!("[{public}]")
        } else {
            public.clone()
        };
        let rooms = Rooms::new(RoomsConfig {
            local_rendezvous: local,
            public_rendezvous: format!("{public_host}:{}", http.port()),
            data_dir: data_dir.clone(),
            iwads: s.iwads.clone(),
            limits: s.limits.clone(),
            rtc_bind: s.rtc_bind,
            rtc_port: s.rtc_port,
            rtc_threads: s.rtc_threads,
            rtc_edge: s.rtc_edge,
            rtc_advertise: advertised_ips(s.public_addr.as_deref()),
            lan_bind: s.lan_bind,
            stun_turn_ports: [rv.stun_addr().port(), rv.turn_addr().port()],
        })?;
        if s.limits.rooms > 0 {
            admin.set_rooms(Arc::new(rooms.clone()));
        }
        println!(
            "doomlink serve: listening on {} (STUN/TURN on UDP {}, {})",
            http,
            rv.stun_addr(),
            rv.turn_addr()
        );
        tracing::info!(http = %http, rooms_limit = s.limits.rooms, standing = s.standing.len(), "service up");
        let running = tokio::spawn(rv.run());
        for spec in s.standing.clone() {
            start_standing_logged(&rooms, spec).await;
        }
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate())?;
        let mut int = signal(SignalKind::interrupt())?;
        let mut hup = signal(SignalKind::hangup())?;
        let mut current = s.clone();
        loop {
            tokio::select! {
                _ = term.recv() => break,
                _ = int.recv() => break,
                _ = hup.recv() => {
                    reload(&svc, &mut current, &rooms, &admin).await;
                }
            }
        }
        tracing::info!(drain_seconds = current.drain_seconds, "draining");
        admin.set_draining(true);
        rooms.drain(Duration::from_secs(current.drain_seconds)).await;
        stop.shutdown();
        match tokio::time::timeout(Duration::from_secs(5), running).await {
            Ok(Ok(r)) => r?,
            Ok(Err(e)) => anyhow::bail!("the rendezvous task failed: {e}"),
            Err(_) => tracing::warn!("the rendezvous did not stop within 5 s"),
        }
        tracing::info!("stopped");
        anyhow::Ok(())
    })?;
    // Guest threads that are still unwinding must not hold the exit up.
    rt.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}

/// A counter summed over the rooms' WebRTC edges.
fn edge_sum(inner: &Inner, f: impl Fn(&doomlink_net::mux::MuxCounters) -> &AtomicU64) -> f64 {
    let shared: u64 = lock(&inner.edges)
        .iter()
        .map(|e| f(e.counters()).load(Ordering::Relaxed))
        .sum();
    (shared + f(&inner.room_edge_counters).load(Ordering::Relaxed)) as f64
}

/// `public_addr` as addresses for the rooms' WebRTC to advertise: itself if an IP, else what
/// it resolves to (once, at start).
fn advertised_ips(public_addr: Option<&str>) -> Vec<std::net::IpAddr> {
    use std::net::ToSocketAddrs;
    let Some(p) = public_addr else {
        return Vec::new();
    };
    if let Ok(ip) = p.trim_matches(['[', ']']).parse() {
        return vec![ip];
    }
    match (p, 0).to_socket_addrs() {
        Ok(addrs) => addrs.map(|a| a.ip()).filter(|ip| ip.is_ipv4()).collect(),
        Err(e) => {
            tracing::warn!(
                public_addr = p,
                "cannot resolve public_addr for WebRTC: {e}"
            );
            Vec::new()
        }
    }
}

async fn start_standing_logged(rooms: &Rooms, spec: RoomSpec) {
    let name = spec.name.clone();
    match rooms.start_standing(spec).await {
        Ok(c) => {
            tracing::info!(room = %c.room, name = %name, link = %c.link, "standing room");
            // The link on a line of its own, as `host --internet` prints it.
            println!("{name} {}", c.link);
        }
        Err(e) => tracing::error!(name = %name, "standing room did not start: {e}"),
    }
}

/// SIGHUP: re-read the config; limits, the admin token, IWADs and standing rooms take effect
/// now (a room's `lan_port` is part of the room: changing it restarts that room). Addresses
/// and ports (listen, public_addr, STUN/TURN, rtc_bind, lan_bind, data_dir) need a restart.
async fn reload(
    svc: &Service,
    current: &mut crate::serve_config::ServeSettings,
    rooms: &Rooms,
    admin: &doomlink_net::rendezvous::AdminHandle,
) {
    let Some(path) = &svc.config_file else {
        tracing::warn!("SIGHUP: no config file to reload");
        return;
    };
    let mut new = match crate::serve_config::load(path) {
        Ok(n) => n,
        Err(e) => {
            tracing::error!("SIGHUP: config not reloaded: {e}");
            return;
        }
    };
    (svc.overrides)(&mut new);
    if new.listen != current.listen
        || new.public_addr != current.public_addr
        || new.stun_port != current.stun_port
        || new.turn_port != current.turn_port
        || new.rtc_bind != current.rtc_bind
        || new.rtc_port != current.rtc_port
        || new.rtc_threads != current.rtc_threads
        || new.rtc_edge != current.rtc_edge
        || new.lan_bind != current.lan_bind
        || new.data_dir != current.data_dir
    {
        tracing::warn!("SIGHUP: addresses, ports and data_dir changed in the file take a restart; kept as they are");
    }
    admin.set_token(new.admin_token.clone());
    rooms.set_limits(new.limits.clone(), new.iwads.clone());
    let running = rooms.standing_names();
    for old in &current.standing {
        let kept = new.standing.iter().find(|n| n.name == old.name);
        if kept != Some(old) {
            rooms.close_standing(&old.name);
        }
    }
    for spec in &new.standing {
        let same = current.standing.iter().any(|o| o == spec);
        if !(same && running.contains(&spec.name)) {
            start_standing_logged(rooms, spec.clone()).await;
        }
    }
    tracing::info!(
        standing = new.standing.len(),
        rooms_limit = new.limits.rooms,
        "config reloaded"
    );
    current.admin_token = new.admin_token;
    current.limits = new.limits;
    current.iwads = new.iwads;
    current.standing = new.standing;
    current.drain_seconds = new.drain_seconds;
}
