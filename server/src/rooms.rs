//! The rooms: each a Chocolate Doom `-dedicated` guest in a kernel of its own, with its hub
//! (WebRTC) and LAN port; made from the config (standing) or the admin API (created), watched
//! until their game ends, and closed.

use crate::config::{game_of, lan_port_of, RoomLimits, RoomSpec, RtcEdge};
use crate::lan_room::*;
use crate::procstat::*;
use crate::room_io::*;
use crate::tic_clock::TicClock;
use crate::{lock, GUEST_PORT};
use doomlink_kernel::{
    ExitStatus, GuestModule, Kernel, KernelConfig, OutputSink, ProcessHandle, ProcessSpec,
};
use doomlink_net::chocolate::ServerRole;
use doomlink_net::identity::Identity;
use doomlink_net::lan::GuestSink;
use doomlink_net::online::{host_room, HostOptions};
use doomlink_net::relay::wire::ByeReason;
use doomlink_net::rendezvous::{CreatedRoom, RoomError, RoomRequest};
use doomlink_net::webrtc::mux::{MuxCounters, RtcMux};
use doomlink_net::webrtc::node::WebRtcNode;
use doomlink_net::Config;
use doomlink_play::internet::{session_config_sharing, InternetHost};
use doomlink_play::sink::KernelSink;
use doomlink_play::wadshare::{HostFiles, DEFAULT_SEND_CAP};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// A room's IWAD and PWADs, as a key.
type RoomFiles = (PathBuf, Vec<PathBuf>);

/// What the rooms need from the service.
#[derive(Debug, Clone)]
pub struct RoomsConfig {
    /// The rendezvous as the rooms reach it (127.0.0.1:PORT).
    pub local_rendezvous: SocketAddr,
    /// When the rendezvous speaks TLS: what the rooms trust on their way in (the service's
    /// own certificate, which is for the public name, not for 127.0.0.1).
    pub local_tls: Option<doomlink_net::tls_client::ClientTls>,
    /// `host:port` players reach the rendezvous at (goes into links).
    pub public_rendezvous: String,
    /// Room data (the service's identity) lives here.
    pub data_dir: PathBuf,
    pub iwads: Vec<PathBuf>,
    /// The PWADs rooms may play (a room request names them by file name).
    pub pwads: Vec<PathBuf>,
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
pub(crate) enum Kind {
    Standing,
    Created,
}

/// The guest running in a room now.
pub(crate) struct Guest {
    process: ProcessHandle,
    /// The guest's thread, for its CPU time.
    tid: Option<u32>,
}

pub(crate) struct Room {
    pub(crate) id: String,
    pub(crate) spec: RoomSpec,
    pub(crate) kind: Kind,
    pub(crate) link: String,
    pub(crate) hub: WebRtcNode,
    /// The room's LAN port, if it has one.
    pub(crate) lan: Option<Arc<LanRoom>>,
    /// The room's own WebRTC socket (`rtc_edge = "per-room"`), read by its guest.
    pub(crate) rtc: Option<RtcMux>,
    pub(crate) sink: Arc<KernelSink>,
    kernel: Kernel,
    module: GuestModule,
    guest: Mutex<Option<Guest>>,
    /// CPU seconds of this room's earlier guests (standing rooms restart theirs).
    cpu_done: Mutex<f64>,
    pub(crate) games: AtomicU64,
    /// How long the service holds a tic (see [`TicClock`]).
    pub(crate) tics: Arc<TicClock>,
    /// Set before a planned stop, so the supervisor does not call it a failure.
    stopping: AtomicBool,
    /// Ends the joiner-taking task (and with it the room at the rendezvous).
    stop_joiners: tokio::sync::watch::Sender<bool>,
}

impl Room {
    fn guest(&self) -> MutexGuard<'_, Option<Guest>> {
        self.guest.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// [`Room::players`] from the figures the hub and the LAN port published (no lock their
    /// datagrams take): for the service's metrics and health.
    pub(crate) fn published_players(&self) -> usize {
        self.hub
            .published_links()
            .iter()
            .filter(|l| l.addr.is_some())
            .count()
            + self.lan.as_ref().map_or(0, |l| l.published().players)
    }
    /// Players in the room over either transport.
    pub(crate) fn players(&self) -> usize {
        self.hub.links().iter().filter(|l| l.addr.is_some()).count() + self.lan_players()
    }
    fn lan_players(&self) -> usize {
        self.lan.as_ref().map_or(0, |l| l.players())
    }
    pub(crate) fn cpu_seconds(&self) -> f64 {
        let done = *self.cpu_done.lock().unwrap_or_else(|e| e.into_inner());
        done + self
            .guest()
            .as_ref()
            .and_then(|g| g.tid)
            .and_then(thread_cpu_seconds)
            .unwrap_or(0.0)
    }
}

pub(crate) struct Inner {
    cfg: Mutex<RoomsConfig>,
    pub(crate) rooms: Mutex<HashMap<String, Arc<Room>>>,
    /// Rooms being created (they count against the limit already).
    pending: AtomicU64,
    identity: Identity,
    /// Every room's WebRTC: a socket and a thread each (see `doomlink_net::webrtc::mux`); rooms are
    /// dealt to them in turn, so rooms spread over cores. Opened with the first room: a
    /// service that hosts none opens no WebRTC port.
    pub(crate) edges: Mutex<Vec<RtcMux>>,
    next_edge: AtomicU64,
    /// The per-room sockets' figures, kept across rooms (the metrics are totals).
    pub(crate) room_edge_counters: Arc<MuxCounters>,
    rt: tokio::runtime::Handle,
    /// Serialises guest starts, so a new guest thread is told apart from the others.
    spawn_lock: Mutex<()>,
    /// Session settings and the files they offer, by IWAD and PWADs (hashing is slow).
    wad_hashes: Mutex<HashMap<RoomFiles, (Config, HostFiles)>>,
    pub(crate) draining: AtomicBool,
    pub(crate) created_total: AtomicU64,
    pub(crate) failed_total: AtomicU64,
    pub(crate) games_total: AtomicU64,
    pub(crate) refused_players_total: Arc<AtomicU64>,
    /// The test hook (see the module docs).
    fail_room: Option<(String, Duration)>,
    /// The figures `/metrics` and `/health` serve.
    pub(crate) published: crate::metrics::Published,
}

/// The service's dedicated rooms. Cheap to clone.
#[derive(Clone)]
pub struct Rooms {
    pub(crate) inner: Arc<Inner>,
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
                refused_players_total: Arc::new(AtomicU64::new(0)),
                fail_room,
                published: Default::default(),
            }),
        })
    }

    /// New limits and IWADs (SIGHUP). Running rooms keep theirs.
    pub fn set_limits(&self, limits: RoomLimits, iwads: Vec<PathBuf>, pwads: Vec<PathBuf>) {
        let mut c = lock(&self.inner.cfg);
        c.limits = limits;
        c.iwads = iwads;
        c.pwads = pwads;
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

    /// The room's session settings (its files, which joiners who lack them are sent: PWADs,
    /// and the IWAD if it is a free one) and the files to serve.
    fn config_for(
        &self,
        iwad: &Path,
        files: &[PathBuf],
        name: &str,
    ) -> Result<(Config, HostFiles), RoomError> {
        let key = (iwad.to_path_buf(), files.to_vec());
        if let Some((c, f)) = lock(&self.inner.wad_hashes).get(&key) {
            let mut c = c.clone();
            c.name = name.to_string();
            return Ok((c, f.clone()));
        }
        let made = session_config_sharing(name, iwad, files, DEFAULT_SEND_CAP)
            .map_err(|e| RoomError::Failed(format!("{e:#}")))?;
        lock(&self.inner.wad_hashes).insert(key, made.clone());
        Ok(made)
    }

    pub(crate) async fn start(&self, spec: RoomSpec, kind: Kind) -> Result<CreatedRoom, RoomError> {
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
        let (session, files) = {
            let this = self.clone();
            let (iwad, pwads, name) = (spec.iwad.clone(), spec.files.clone(), spec.name.clone());
            tokio::task::spawn_blocking(move || this.config_for(&iwad, &pwads, &name))
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
                    self.inner.refused_players_total.clone(),
                )
                .map_err(|e| fail(format!("lan_port {port}: {e}")))?,
            ),
        };
        if let Some(l) = &lan {
            l.serve_files(
                cfg.lan_bind.unwrap_or(Ipv4Addr::UNSPECIFIED),
                session.offer.clone(),
                files.clone(),
            );
        }
        let local = match &cfg.local_tls {
            Some(_) => format!("wss://{}", cfg.local_rendezvous),
            None => cfg.local_rendezvous.to_string(),
        };
        let mut opts = HostOptions::new(local, self.inner.identity.clone());
        opts.tls = cfg.local_tls.clone().unwrap_or_default();
        opts.name = spec.name.clone();
        opts.game = Some(doomlink_play::roomgame::game_info(
            &session,
            Some(&spec.game),
        ));
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
        spawn_event_drain(id.clone(), events, hub.clone(), files);
        {
            // The room's players for the join question: WebRTC players by name, LAN players
            // (whose names the game keeps to itself) as such.
            let (hub, lan) = (hub.clone(), lan.clone());
            hosted.follow_players(spec.players(), move || {
                let lan_players = lan.as_ref().map_or(0, |l| l.published().players);
                hub.published_links()
                    .iter()
                    .filter(|l| l.addr.is_some())
                    .map(|l| l.name.clone().unwrap_or_default())
                    .chain(std::iter::repeat_n("LAN player".to_string(), lan_players))
                    .collect()
            });
        }
        let host_io = Arc::new(RoomIo {
            inner: InternetHost::over(hub.clone(), sink.clone(), spec.name.clone()),
            tics: tics.clone(),
            lan: lan.clone(),
            rtc: rtc.clone(),
        });
        let memory = cfg.limits.guest_memory;
        let (kernel, module) = tokio::task::spawn_blocking(move || {
            let kernel = Kernel::new(
                KernelConfig {
                    cache_dir: doomlink_play::guest::cache_dir(),
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
        tracing::info!(room = %id, name = %room.spec.name, kind = ?kind, players = room.spec.players(), lan_port = ?room.spec.lan_port, "dedicated room open");

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
                                >= room.spec.players() as usize
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
                    &doomlink_net::webrtc::peer::RtcOptions::default(),
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
                    &doomlink_net::webrtc::peer::RtcOptions::default(),
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
        let mut argv = vec!["doom".to_string()];
        argv.extend(
            room.spec
                .game
                .server_args(ServerRole::Dedicated { port: GUEST_PORT }),
        );
        let mut spec = ProcessSpec::new(argv);
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

    pub(crate) fn request_spec(&self, req: &RoomRequest) -> Result<RoomSpec, RoomError> {
        let cfg = lock(&self.inner.cfg).clone();
        let game = game_of(req, cfg.limits.players_per_room)
            .map_err(|e| RoomError::Invalid(e.to_string()))?;
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
        let files = crate::config::files_of(&req.files, &cfg.pwads)
            .map_err(|m| RoomError::Invalid(format!("files: {m}")))?;
        Ok(RoomSpec {
            name: req.name.clone().unwrap_or_else(|| "room".into()),
            iwad,
            game,
            lan_port,
            files,
        })
    }
}
