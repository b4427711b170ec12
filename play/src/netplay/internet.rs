//! Internet play for the window.
//!
//! - [`InternetNetplay`]: Internet play as the window's Host and Join screens need it — a room at
//!   the rendezvous from Settings (its invite link shown over the lobby), joining an invite link,
//!   with the extra STUN/TURN servers from Settings besides those the rendezvous hands out. The
//!   protocol is doomlink-net's; the HostIO is [`crate::internet::InternetHost`], the same the
//!   command line plays on.

use crate::game::{GameSettings, ServerRole};
use crate::internet::{
    host_hub_sharing, iwad_for_room_preferring, join_client_fetching, rtc_options_with, runtime,
    session_config, session_config_sharing, InternetHost,
};
use crate::launch::Hosted;
use crate::launch::Launched;
use crate::netplay::{
    CodeExchange, HostOptions, InternetOptions, ManualSide, NetGameRequest, NetplayError,
};
use crate::netview::NetView;
use crate::wadcache::{WadCache, DEFAULT_DOWNLOAD_CAP};
use crate::wadshare::{own_files, Fetching, DEFAULT_SEND_CAP};
use doomlink_kernel::Kernel;
use doomlink_net::identity::Identity;
use doomlink_net::online::{HostOptions as RoomOptions, JoinOptions};
use doomlink_net::signaling::invite::InviteLink;
use doomlink_net::webrtc::peer::RtcOptions;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

/// The UDP port Chocolate Doom's server listens on inside the virtual network of an Internet
/// game (no real port: the joiner's `-connect` names the hub's virtual address and this port).
const GAME_PORT: u16 = 2342;

/// How long a joiner waits for its link to the host before saying it cannot be reached.
const JOIN_CONNECT_TIMEOUT: Duration = Duration::from_secs(12);

/// The environment variable that binds the window's WebRTC sockets to one IPv4 address. For
/// tests: webrtc 0.21 leaves loopback out of a wildcard bind, so a game on 127.0.0.1 needs
/// `DOOMLINK_RTC_BIND=127.0.0.1` (what `--rtc-bind` is on the command line).
pub const RTC_BIND_ENV: &str = "DOOMLINK_RTC_BIND";

/// Internet play for the window.
#[derive(Debug, Clone, Default)]
pub struct InternetNetplay {
    /// Where WebRTC binds; None: every interface of both families.
    pub rtc_bind: Option<Ipv4Addr>,
}

/// Everything an Internet game needs kept alive besides its guest: the tokio runtime its tasks
/// run on (the room at the rendezvous, the links), and the kernel.
struct Session {
    // Dropped in order: the host's tasks end with the runtime.
    _host: Arc<InternetHost>,
    _kernel: Kernel,
    _rt: tokio::runtime::Runtime,
}

impl InternetNetplay {
    /// As the environment says ([`RTC_BIND_ENV`]); a bad value is a one-line error.
    pub fn from_env() -> Result<InternetNetplay, String> {
        let rtc_bind = match std::env::var(RTC_BIND_ENV) {
            Ok(v) if !v.trim().is_empty() => Some(
                v.trim()
                    .parse::<Ipv4Addr>()
                    .map_err(|_| format!("{RTC_BIND_ENV}={v:?} is not an IPv4 address"))?,
            ),
            _ => None,
        };
        Ok(InternetNetplay { rtc_bind })
    }

    /// WebRTC options: the bind address and the player's extra STUN/TURN servers (the
    /// rendezvous adds its own to these).
    fn rtc(&self, internet: &InternetOptions) -> RtcOptions {
        rtc_options_with(self.rtc_bind, internet.ice_servers.clone())
    }

    /// Registers a room at the rendezvous from Settings and starts the server guest in it.
    pub fn host(
        &self,
        request: &NetGameRequest,
        options: &HostOptions,
    ) -> Result<Launched, NetplayError> {
        let rendezvous = request.internet.rendezvous.clone().ok_or_else(|| {
            NetplayError::Failed(
                "no rendezvous is set: add one (host:port of a `doomlink serve`) in Settings"
                    .into(),
            )
        })?;
        let rt = runtime().map_err(failed)?;
        // Joiners who lack the game's PWADs (or its free IWAD) are sent them.
        let (cfg, files) = session_config_sharing(
            &request.player_name,
            &request.game.iwad,
            &request.game.pwads,
            DEFAULT_SEND_CAP,
        )
        .map_err(failed)?;
        let data_dir = &request.game.data_dir;
        std::fs::create_dir_all(data_dir).map_err(|e| {
            NetplayError::Failed(format!("cannot create {}: {e}", data_dir.display()))
        })?;
        // The persistent certificate: its fingerprint is in the link.
        let identity = Identity::load_or_create(data_dir).map_err(failed)?;
        let mut room_opts = RoomOptions::new(rendezvous, identity);
        room_opts.name = request.player_name.clone();
        room_opts.rtc = self.rtc(&request.internet);
        room_opts.tls = request.internet.trust();
        room_opts.players = options.game.players.unwrap_or(0);
        room_opts.game = Some(crate::roomgame::game_info(&cfg, Some(&options.game)));
        let (host, _sink, invite) = rt
            .block_on(host_hub_sharing(room_opts, cfg, files))
            .map_err(|e| NetplayError::Failed(format!("cannot host over the Internet: {e}")))?;
        let link = invite.to_doomlink_url();
        // On stdout too, on a line of its own as `doomlink host --internet` prints it: for a
        // terminal, and for scripts (scripts/screenshots-internet starts a joiner with it).
        println!("{link}");
        let args = options.server_args(GAME_PORT, &request.player_name);
        let (guest, kernel) = start_guest(&host, request, args)?;
        let net: Arc<dyn NetView> = host.clone();
        Ok(Launched {
            guest,
            keep_alive: Some(Box::new(Hosted {
                link,
                keep: Box::new(Session {
                    _host: host,
                    _kernel: kernel,
                    _rt: rt,
                }),
            })),
            net: Some(net),
        })
    }

    /// Joins an invite link (checked again here: the window may be handed any text).
    pub fn join(&self, request: &NetGameRequest, link: &str) -> Result<Launched, NetplayError> {
        let invite = InviteLink::parse(link.trim()).map_err(failed)?;
        let rt = runtime().map_err(failed)?;
        // The room's IWAD if this computer has it and Settings' is another; why not, if not.
        let mut request = request.clone();
        let tls = request.internet.trust();
        let cache = WadCache::open(&request.game.data_dir)
            .map_err(failed)?
            .watched(request.progress.clone());
        request.game.iwad =
            iwad_for_room_preferring(&rt, &invite, &tls, &request.game.iwad, Some(&cache))
                .map_err(failed)?;
        let (cfg, _) = session_config_sharing(
            &request.player_name,
            &request.game.iwad,
            &request.game.pwads,
            0,
        )
        .map_err(failed)?;
        // What the host plays and this computer lacks comes from the host, into the cache.
        let fetching = Fetching {
            cache,
            cap: DEFAULT_DOWNLOAD_CAP,
            own: own_files(&request.game.iwad, &request.game.pwads).map_err(failed)?,
        };
        let mut rtc = self.rtc(&request.internet);
        rtc.connect_timeout = JOIN_CONNECT_TIMEOUT;
        let opts = JoinOptions {
            name: request.player_name.clone(),
            rtc,
            tls: request.internet.trust(),
        };
        let (host, _sink, hub) = rt
            .block_on(join_client_fetching(&invite, opts, cfg, Some(fetching)))
            .map_err(|e| NetplayError::Failed(format!("cannot join {}: {e}", invite.rendezvous)))?;
        let here = host.files_here();
        if here.listed {
            request.game.pwads = here.pwads;
            if let Some(iwad) = here.iwad {
                request.game.iwad = iwad;
            }
        }
        let args = vec!["-connect".to_string(), format!("{hub}:{GAME_PORT}")];
        let (guest, kernel) = start_guest(&host, &request, args)?;
        let net: Arc<dyn NetView> = host.clone();
        Ok(Launched {
            guest,
            keep_alive: Some(Box::new(Session {
                _host: host,
                _kernel: kernel,
                _rt: rt,
            })),
            net: Some(net),
        })
    }
}

impl InternetNetplay {
    /// A dedicated room on a `doomlink serve` (`options.server`, with its admin token): the room
    /// is made with this game's options, then joined like any invite link; the lobby shows the
    /// room's link for the others.
    pub fn host_on_server(
        &self,
        request: &NetGameRequest,
        options: &HostOptions,
    ) -> Result<Launched, NetplayError> {
        let room = doomlink_net::admin_api::RoomRequest {
            name: Some(format!("{}'s game", request.player_name)),
            game: options.game.clone(),
            // The server picks its IWAD by file name: ask for the one this player has.
            iwad: request
                .game
                .iwad
                .file_name()
                .map(|f| f.to_string_lossy().into_owned()),
            // Players reach a room made from the window by its link only.
            lan_port: None,
            // The server plays PWADs it has, by file name: ask for this player's.
            files: request
                .game
                .pwads
                .iter()
                .filter_map(|p| p.file_name().map(|f| f.to_string_lossy().into_owned()))
                .collect(),
        };
        let created = runtime()
            .map_err(failed)?
            .block_on(doomlink_net::admin_api::create_room_with(
                &options.server,
                &options.admin_token,
                &room,
                &request.internet.trust(),
            ))
            .map_err(failed)?;
        println!("{}", created.link);
        let launched = self.join(request, &created.link)?;
        Ok(Launched {
            guest: launched.guest,
            keep_alive: Some(Box::new(Hosted {
                link: created.link,
                keep: Box::new(launched.keep_alive),
            })),
            net: launched.net,
        })
    }

    /// A game by manual codes (no rendezvous; one host, one joiner), over
    /// [`crate::internet`]'s manual offer/answer: the extra STUN servers from Settings give the
    /// codes server-reflexive candidates (TURN needs a rendezvous's credentials: not used here).
    pub fn manual(
        &self,
        request: &NetGameRequest,
        side: &ManualSide,
        codes: &CodeExchange,
    ) -> Result<Launched, NetplayError> {
        use crate::internet::{manual_answer, manual_offer};
        let rt = runtime().map_err(failed)?;
        let cfg = session_config(&request.player_name, &request.game.iwad).map_err(failed)?;
        let stun: Vec<String> = request
            .internet
            .ice_servers
            .iter()
            .flat_map(|s| s.urls.iter())
            .filter(|u| u.starts_with("stun:"))
            .cloned()
            .collect();
        let why = |e: anyhow::Error| NetplayError::Failed(format!("{e:#}"));
        let (host, args) = match side {
            ManualSide::Host(options) => {
                let offer = manual_offer(&rt, &request.game.data_dir, cfg, self.rtc_bind, &stun)
                    .map_err(why)?;
                // On stdout too, on a line of its own, as the command line prints it.
                println!("{}", offer.code());
                codes.set_ours(offer.code());
                let answer = codes
                    .wait_theirs()
                    .ok_or_else(|| NetplayError::Failed("cancelled".into()))?;
                let (host, _sink) = offer.accept(&rt, answer.trim()).map_err(why)?;
                // One joiner per manual game.
                let game = GameSettings {
                    players: Some(2),
                    ..options.game.clone()
                };
                let args = game.server_args(ServerRole::Player {
                    port: GAME_PORT,
                    name: None,
                });
                (host, args)
            }
            ManualSide::Join(offer) => {
                let answer =
                    manual_answer(&rt, offer.trim(), cfg, self.rtc_bind, &stun).map_err(why)?;
                println!("{}", answer.code());
                codes.set_ours(answer.code());
                let (host, _sink, hub) = answer.connect(&rt).map_err(why)?;
                (
                    host,
                    vec!["-connect".to_string(), format!("{hub}:{GAME_PORT}")],
                )
            }
        };
        let (guest, kernel) = start_guest(&host, request, args)?;
        let net: Arc<dyn NetView> = host.clone();
        Ok(Launched {
            guest,
            keep_alive: Some(Box::new(Session {
                _host: host,
                _kernel: kernel,
                _rt: rt,
            })),
            net: Some(net),
        })
    }
}

fn failed(e: impl std::fmt::Display) -> NetplayError {
    NetplayError::Failed(e.to_string())
}

/// A kernel on `host` and the guest started in it, with `args` before the player's name and
/// the request's own arguments.
fn start_guest(
    host: &Arc<InternetHost>,
    request: &NetGameRequest,
    args: Vec<String>,
) -> Result<(crate::guest::DoomGuest, Kernel), NetplayError> {
    crate::netplay::start_net_guest(host.clone(), &host.sink, request, args)
        .map_err(NetplayError::Failed)
}
