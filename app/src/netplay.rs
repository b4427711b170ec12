//! Multiplayer wiring: how a guest's UDP gets to the other players.
//!
//! - `LanHost`: the kernel's `HostIO` backed by doomlink-net's `LanBridge` (a NAT onto real UDP,
//!   Chocolate Doom's own protocol, so stock Chocolate Doom interoperates), and the window's
//!   [`NetView`] of it (peers, RTT and chat from the bridge's side protocol).
//! - `KernelSink`: the way back, from a transport into the kernel's `inject_datagram`.
//! - `GameOptions`: the host's game settings as Chocolate Doom arguments.

use crate::netview::{ChatError, ChatLine, NetView, PeerStatus, MAX_CHAT_BYTES};
use doomlink_kernel::{Errno, HostIO, Kernel, Pid};
use doomlink_net::lan::{GuestSink, LanBridge, LanError};
use doomlink_net::lan_side::{SideConfig, SideRole};
use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::{Arc, Mutex, OnceLock};

/// Delivers datagrams from a transport to the guest that owns the destination port.
#[derive(Default)]
pub struct KernelSink {
    kernel: OnceLock<Kernel>,
    owners: Mutex<HashMap<u16, Pid>>,
}

impl KernelSink {
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
    /// Set once the kernel exists (the kernel needs its HostIO first).
    pub fn attach(&self, kernel: Kernel) {
        let _ = self.kernel.set(kernel);
    }
    pub fn owner_bound(&self, pid: Pid, port: u16) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(port, pid);
    }
    pub fn owner_gone(&self, port: u16) {
        self.owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&port);
    }
    /// Injects into the guest bound on `dst_port`; false if none.
    pub fn inject(&self, dst_port: u16, src_ip: Ipv4Addr, src_port: u16, data: &[u8]) -> bool {
        let Some(kernel) = self.kernel.get() else {
            return false;
        };
        let Some(pid) = self
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&dst_port)
            .copied()
        else {
            return false;
        };
        kernel
            .inject_datagram(pid, dst_port, src_ip, src_port, data)
            .is_ok()
    }
    /// Datagrams the kernel dropped at the 256 cap, over every socket of the guests.
    pub fn queue_drops(&self) -> u64 {
        let Some(kernel) = self.kernel.get() else {
            return 0;
        };
        let pids: Vec<Pid> = self
            .owners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values()
            .copied()
            .collect();
        let mut seen = std::collections::HashSet::new();
        pids.into_iter()
            .filter(|p| seen.insert(*p))
            .flat_map(|p| kernel.socket_stats(p))
            .map(|s| s.dropped)
            .sum()
    }
}

impl GuestSink for KernelSink {
    fn deliver(&self, dst_port: u16, src: SocketAddrV4, data: &[u8]) {
        self.inject(dst_port, *src.ip(), src.port(), data);
    }
}

/// The kernel's HostIO for LAN play.
pub struct LanHost {
    pub bridge: LanBridge,
    pub sink: Arc<KernelSink>,
}

impl HostIO for LanHost {
    fn send_dgram(
        &self,
        _pid: Pid,
        src_port: u16,
        dst_ip: Ipv4Addr,
        dst_port: u16,
        data: &[u8],
    ) -> Result<(), Errno> {
        self.bridge
            .send(src_port, SocketAddrV4::new(dst_ip, dst_port), data)
            .map_err(|e| match e {
                LanError::NoSocket(_) => Errno::BadF,
                // Like a real network: an unreachable host is the sender's error, nothing more.
                _ => Errno::NetUnreach,
            })
    }
    fn on_bind(&self, pid: Pid, port: u16) {
        self.sink.owner_bound(pid, port);
        if let Err(e) = self.bridge.open_port(port) {
            eprintln!("doomlink: {e}");
        }
    }
    fn on_unbind(&self, _pid: Pid, port: u16) {
        self.bridge.close_port(port);
        self.sink.owner_gone(port);
    }
}

/// The side protocol's settings for a LAN game: `host` for the game's server (it relays chat).
pub fn lan_side_config(name: &str, host: bool) -> SideConfig {
    let role = if host {
        SideRole::Host
    } else {
        SideRole::Client
    };
    SideConfig::new(name, role)
}

/// The name to use where the player gave none (Chocolate Doom then picks a random pet name,
/// which the host cannot know).
pub fn default_lan_name() -> String {
    std::env::var("USER")
        .ok()
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "player".into())
}

/// The LAN game's network for the lobby and the overlay: every peer the guest talks to (a
/// native Chocolate Doom among them shows no ping), with RTT and loss from the side protocol's
/// pings, and its chat.
impl NetView for LanHost {
    fn peers(&self) -> Vec<PeerStatus> {
        let direct = self.bridge.side_peers().into_iter().map(|p| PeerStatus {
            name: p.side.name,
            guest_addr: p.guest_addr,
            path: Some("LAN".into()),
            rtt: p.side.rtt,
            loss: p.side.loss,
            dgrams_in: p.side.dgrams_in,
            dgrams_out: p.side.dgrams_out,
            drops: p.side.bad_frames,
        });
        // A client's other players, as the server lists them: their figures are to the server
        // (a client's traffic to them goes through it), hence the path.
        let via_host = self.bridge.side_roster().into_iter().map(|e| PeerStatus {
            name: Some(e.name),
            path: Some("LAN via host".into()),
            rtt: e
                .rtt_us
                .map(|us| std::time::Duration::from_micros(u64::from(us))),
            loss: e.loss_pct.map(|l| f64::from(l) / 100.0),
            ..Default::default()
        });
        direct.chain(via_host).collect()
    }

    fn send_chat(&self, text: &str) -> Result<(), ChatError> {
        if text.len() > MAX_CHAT_BYTES {
            return Err(ChatError::TooLong {
                max: MAX_CHAT_BYTES,
            });
        }
        self.bridge.send_chat(text).map_err(|e| match e {
            LanError::NoSide => ChatError::Unavailable,
            e => ChatError::Failed(e.to_string()),
        })
    }

    fn chat(&self) -> Vec<ChatLine> {
        self.bridge
            .chat()
            .0
            .into_iter()
            .map(|c| ChatLine {
                from: c.from,
                text: c.text,
                mine: c.mine,
            })
            .collect()
    }
}

/// The game a host sets up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GameOptions {
    pub mode: GameMode,
    pub skill: Option<u8>,
    /// (episode, map) for Doom 1 IWADs, (None, map) for Doom 2.
    pub warp: Option<(Option<u8>, u8)>,
    pub timer_minutes: Option<u32>,
    pub nomonsters: bool,
    pub fast: bool,
    pub respawn: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GameMode {
    #[default]
    Coop,
    Deathmatch,
    AltDeath,
}

impl GameOptions {
    /// The Chocolate Doom arguments for these options.
    pub fn doom_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        match self.mode {
            GameMode::Coop => {}
            GameMode::Deathmatch => a.push("-deathmatch".into()),
            GameMode::AltDeath => a.push("-altdeath".into()),
        }
        if let Some(s) = self.skill {
            a.extend(["-skill".into(), s.to_string()]);
        }
        match self.warp {
            Some((Some(e), m)) => a.extend(["-warp".into(), e.to_string(), m.to_string()]),
            Some((None, m)) => a.extend(["-warp".into(), m.to_string()]),
            None => {}
        }
        if let Some(t) = self.timer_minutes {
            a.extend(["-timer".into(), t.to_string()]);
        }
        for (on, flag) in [
            (self.nomonsters, "-nomonsters"),
            (self.fast, "-fast"),
            (self.respawn, "-respawn"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_options_become_chocolate_doom_args() {
        let o = GameOptions {
            mode: GameMode::Deathmatch,
            skill: Some(4),
            warp: Some((Some(1), 3)),
            timer_minutes: Some(10),
            nomonsters: true,
            fast: false,
            respawn: true,
        };
        assert_eq!(
            o.doom_args().join(" "),
            "-deathmatch -skill 4 -warp 1 3 -timer 10 -nomonsters -respawn"
        );
        assert!(GameOptions::default().doom_args().is_empty());
    }
}

/// The kernel's answer to a guest datagram the relay session refused (the session names the
/// WASI errno: EMSGSIZE for a datagram too large, ENETUNREACH for the rest).
pub fn send_errno(e: doomlink_net::SendError) -> doomlink_kernel::Errno {
    match e.wasi_errno() {
        35 => doomlink_kernel::Errno::MsgSize,
        _ => doomlink_kernel::Errno::NetUnreach,
    }
}

/// Boots a kernel on a netgame's HostIO and starts the player's guest in it: `args` (the
/// transport's own: `-server …` or `-connect …`), then the player's name, then the request's
/// arguments. The window's LAN and Internet games both start this way.
pub fn start_net_guest(
    host: Arc<dyn doomlink_kernel::HostIO>,
    sink: &KernelSink,
    request: &crate::gui::netplay::NetGameRequest,
    args: Vec<String>,
) -> Result<(crate::guest::DoomGuest, doomlink_kernel::Kernel), String> {
    let (kernel, module) = crate::guest::boot(host).map_err(|e| format!("{e:#}"))?;
    sink.attach(kernel.clone());
    let mut game = request.game.clone();
    game.args = [
        args,
        vec!["-doomlink-name".into(), request.player_name.clone()],
        game.args,
    ]
    .concat();
    let guest = crate::guest::DoomGuest::start(
        &kernel,
        &module,
        &game,
        Arc::new(doomlink_kernel::HostStdout),
        Arc::new(doomlink_kernel::HostStderr),
    )
    .map_err(|e| format!("{e:#}"))?;
    Ok((guest, kernel))
}

/// LAN play for the window: the Host, Join and LAN games screens run their guests over the LAN
/// bridge, exactly as `doomlink host --lan` / `join` / `lan-list` do.
#[derive(Debug, Clone)]
pub struct LanNetplay {
    pub bind_ip: Ipv4Addr,
    pub broadcast_ip: Ipv4Addr,
}

impl Default for LanNetplay {
    fn default() -> Self {
        LanNetplay {
            bind_ip: Ipv4Addr::UNSPECIFIED,
            broadcast_ip: Ipv4Addr::BROADCAST,
        }
    }
}

impl LanNetplay {
    /// A kernel whose HostIO is a fresh LAN bridge, and the guest started in it.
    fn start(
        &self,
        request: &crate::gui::netplay::NetGameRequest,
        args: Vec<String>,
        server: Option<std::net::SocketAddr>,
    ) -> Result<crate::gui::launch::Launched, crate::gui::netplay::NetplayError> {
        use crate::gui::netplay::NetplayError::Failed;
        let sink = KernelSink::new();
        let name = if request.player_name.is_empty() {
            default_lan_name()
        } else {
            request.player_name.clone()
        };
        let cfg = doomlink_net::lan::LanConfig {
            bind_ip: self.bind_ip,
            broadcast_ip: self.broadcast_ip,
            side: Some(lan_side_config(&name, server.is_none())),
            ..Default::default()
        };
        let bridge = LanBridge::new(cfg, sink.clone()).map_err(|e| Failed(e.to_string()))?;
        let mut args = args;
        if let Some(real) = server {
            let v = bridge.map_remote(real).map_err(|e| Failed(e.to_string()))?;
            args = [vec!["-connect".to_string(), v.to_string()], args].concat();
        }
        let host = Arc::new(LanHost {
            bridge,
            sink: sink.clone(),
        });
        let (guest, kernel) =
            start_net_guest(host.clone(), &sink, request, args).map_err(Failed)?;
        Ok(crate::gui::launch::Launched {
            guest,
            keep_alive: Some(Box::new(kernel)),
            net: Some(host),
        })
    }
}

/// LAN play's part of [`crate::gui::netplay::Netplay`] (the window's AppNetplay picks by
/// transport); LAN play has no codes to trade.
impl LanNetplay {
    pub fn host(
        &self,
        request: &crate::gui::netplay::NetGameRequest,
        options: &crate::gui::netplay::HostOptions,
    ) -> Result<crate::gui::launch::Launched, crate::gui::netplay::NetplayError> {
        use crate::gui::netplay::NetplayError::Failed;
        std::net::UdpSocket::bind((self.bind_ip, options.port))
            .map_err(|e| Failed(format!("cannot host on UDP port {}: {e}", options.port)))?;
        let name = if options.game_name.is_empty() {
            format!("{}'s game", request.player_name)
        } else {
            options.game_name.clone()
        };
        let mut args = vec![
            "-server".to_string(),
            "-port".into(),
            options.port.to_string(),
            "-nodes".into(),
            options.players.to_string(),
            "-servername".into(),
            name,
        ];
        args.extend(options.game.doom_args());
        self.start(request, args, None)
    }

    pub fn join(
        &self,
        request: &crate::gui::netplay::NetGameRequest,
        address: &str,
    ) -> Result<crate::gui::launch::Launched, crate::gui::netplay::NetplayError> {
        use crate::gui::netplay::NetplayError::Failed;
        use std::net::ToSocketAddrs;
        let with_port = if address.contains(':') {
            address.to_string()
        } else {
            format!("{address}:2342")
        };
        let real = with_port
            .to_socket_addrs()
            .ok()
            .and_then(|mut it| it.find(|s| s.is_ipv4()))
            .ok_or_else(|| Failed(format!("cannot find {address}")))?;
        self.start(request, Vec::new(), Some(real))
    }

    pub fn lan_games(
        &self,
    ) -> Result<Vec<crate::gui::netplay::LanGame>, crate::gui::netplay::NetplayError> {
        use doomlink_net::lan_query::{search, SearchConfig};
        let cfg = SearchConfig {
            bind_ip: self.bind_ip,
            broadcast: Some(std::net::SocketAddrV4::new(self.broadcast_ip, 2342)),
            timeout: std::time::Duration::from_millis(1500),
            ..Default::default()
        };
        let found =
            search(&cfg).map_err(|e| crate::gui::netplay::NetplayError::Failed(e.to_string()))?;
        Ok(found
            .servers
            .into_iter()
            .map(|s| crate::gui::netplay::LanGame {
                name: s.info.description.replace('\n', " "),
                address: s.addr.to_string(),
                players: s.info.num_players,
                max_players: s.info.max_players,
                iwad: format!("{:?}", s.info.gamemission),
            })
            .collect())
    }
}
