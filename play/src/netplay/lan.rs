//! LAN play: how a guest's UDP gets to the other players on the local network.
//!
//! - `LanHost`: the kernel's `HostIO` backed by doomlink-net's `LanBridge` (a NAT onto real UDP,
//!   Chocolate Doom's own protocol, so stock Chocolate Doom interoperates), and the window's
//!   [`NetView`] of it (peers, RTT and chat from the bridge's side protocol).
//! - `LanNetplay`: the window's LAN games (host, join, the LAN list) on a `LanBridge`.

use super::start_net_guest;
use crate::netview::{ChatError, ChatLine, NetView, PeerStatus, MAX_CHAT_BYTES};
use crate::sink::KernelSink;
use doomlink_kernel::{Errno, HostIO, Pid};
use doomlink_net::lan::side::{SideConfig, SideRole};
use doomlink_net::lan::{LanBridge, LanError};
use std::net::{Ipv4Addr, SocketAddrV4};
use std::sync::Arc;

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
        request: &crate::netplay::NetGameRequest,
        args: Vec<String>,
        server: Option<std::net::SocketAddr>,
        files: Option<doomlink_net::lan::files::FileServer>,
    ) -> Result<crate::launch::Launched, crate::netplay::NetplayError> {
        use crate::netplay::NetplayError::Failed;
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
        if server.is_none() {
            // Native Chocolate Doom joiners cannot fetch: a lobby message names the files.
            let game = &request.game;
            bridge.name_files_to_native_clients(&crate::lanfiles::game_file_names(
                &game.iwad,
                &game.pwads,
            ));
        }
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
        Ok(crate::launch::Launched {
            guest,
            keep_alive: Some(Box::new((kernel, files))),
            net: Some(host),
        })
    }
}

/// LAN play's part of [`crate::netplay::Netplay`] (the window's AppNetplay picks by
/// transport); LAN play has no codes to trade.
impl LanNetplay {
    pub fn host(
        &self,
        request: &crate::netplay::NetGameRequest,
        options: &crate::netplay::HostOptions,
    ) -> Result<crate::launch::Launched, crate::netplay::NetplayError> {
        use crate::netplay::NetplayError::Failed;
        std::net::UdpSocket::bind((self.bind_ip, options.port))
            .map_err(|e| Failed(format!("cannot host on UDP port {}: {e}", options.port)))?;
        let args = options.server_args(options.port, &request.player_name);
        // Joiners who lack the game's files get them on the game's port number (TCP);
        // without the service the game is still hosted (joiners then need the files already).
        let files = crate::lanfiles::serve_lan_files(
            std::net::SocketAddr::from((self.bind_ip, options.port)),
            &request.game.iwad,
            &request.game.pwads,
            crate::wadshare::DEFAULT_SEND_CAP,
        )
        .map_err(|e| eprintln!("doomlink: {e:#}; joiners must have the game's files"))
        .ok();
        self.start(request, args, None, files)
    }

    pub fn join(
        &self,
        request: &crate::netplay::NetGameRequest,
        address: &str,
    ) -> Result<crate::launch::Launched, crate::netplay::NetplayError> {
        use crate::netplay::NetplayError::Failed;
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
        // A doomlink host says what it plays and sends what this computer lacks; a native
        // one says nothing, and the game is played with this computer's files.
        let failed = |e: anyhow::Error| Failed(format!("{e:#}"));
        let fetching = crate::wadshare::Fetching {
            cache: crate::wadcache::WadCache::open(&request.game.data_dir)
                .map_err(|e| Failed(format!("cannot make the WAD cache: {e}")))?
                .watched(request.progress.clone()),
            cap: crate::wadcache::DEFAULT_DOWNLOAD_CAP,
            own: crate::wadshare::own_files(&request.game.iwad, &request.game.pwads)
                .map_err(failed)?,
        };
        let mut request = request.clone();
        if let Some(here) = crate::lanfiles::fetch_lan_files(real, &fetching).map_err(failed)? {
            request.game.pwads = here.pwads;
            if let Some(iwad) = here.iwad {
                request.game.iwad = iwad;
            }
        }
        self.start(&request, Vec::new(), Some(real), None)
    }

    pub fn lan_games(&self) -> Result<Vec<crate::netplay::LanGame>, crate::netplay::NetplayError> {
        use doomlink_net::lan::query::{search, SearchConfig};
        let cfg = SearchConfig {
            bind_ip: self.bind_ip,
            broadcast: Some(SocketAddrV4::new(self.broadcast_ip, 2342)),
            timeout: std::time::Duration::from_millis(1500),
            ..Default::default()
        };
        let found =
            search(&cfg).map_err(|e| crate::netplay::NetplayError::Failed(e.to_string()))?;
        Ok(found
            .servers
            .into_iter()
            .map(|s| crate::netplay::LanGame {
                name: s.info.description.replace('\n', " "),
                address: s.addr.to_string(),
                players: s.info.num_players,
                max_players: s.info.max_players,
                iwad: format!("{:?}", s.info.gamemission),
            })
            .collect())
    }
}
