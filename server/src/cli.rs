//! The server's command line, shared by `doomlink serve` / `doomlink room` and the
//! `doomlink-server` binary: the options of `serve` (which override the config file, now and on
//! every SIGHUP) and of `room create` (a room made through a service's admin API).

use anyhow::{anyhow, Result};
use clap::{Args, Subcommand};
use doomlink_play::game::{GameOptionArgs, GameSettings};
use doomlink_play::{internet, iwad};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

#[derive(Args)]
pub struct ServeArgs {
    /// HTTP and WebSocket signaling address [default: 0.0.0.0:7342].
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: Option<SocketAddr>,
    /// The address players reach this machine at (goes into links and STUN/TURN answers).
    #[arg(long, value_name = "IP")]
    pub public_addr: Option<String>,
    /// [default: 3478]
    #[arg(long, value_name = "P")]
    pub stun_port: Option<u16>,
    /// [default: 3478]
    #[arg(long, value_name = "P")]
    pub turn_port: Option<u16>,
    /// Where the TURN secret and the service's identity are kept (default: the platform data dir).
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// The TOML config (documented in packaging/serve.toml); flags given here override it.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Only parse and validate the config: print "ok" or a one-line error naming the key.
    #[arg(long, requires = "config")]
    pub check_config: bool,
    /// A file whose first line is the admin API's bearer token (`doomlink room create`). Or
    /// the environment's DOOMLINK_ADMIN_TOKEN, or the config's admin_token_file, or systemd's
    /// credential `admin-token`; none: the API is closed. Never on the command line, where
    /// every user of the machine can read it.
    #[arg(long, value_name = "FILE")]
    pub admin_token_file: Option<PathBuf>,
    /// The HTTP listener's certificate chain (PEM): with --tls-key, it speaks TLS only (https,
    /// wss). Both files are re-read on SIGHUP.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM). Read, never logged.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The browser player's files (made by scripts/build-web), served at /play/.
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// An IWAD dedicated rooms may use (repeat; the first is the default).
    #[arg(long, value_name = "FILE")]
    pub iwad: Vec<PathBuf>,
    /// A PWAD or DEHACKED file dedicated rooms may play (repeat; a room names it by file name:
    /// `files` in the config, `room create --file`). Joiners who lack it are sent it.
    #[arg(long, value_name = "FILE")]
    pub pwad: Vec<PathBuf>,
    /// Dedicated rooms at most (0: none).
    #[arg(long, value_name = "N")]
    pub max_rooms: Option<usize>,
    /// Seconds SIGTERM waits for games to end before telling players the room closes.
    #[arg(long, value_name = "S")]
    pub drain_seconds: Option<u64>,
    /// Where dedicated rooms' WebRTC socket binds (default: every interface; tests 127.0.0.1).
    #[arg(long, value_name = "IP")]
    pub rtc_bind: Option<Ipv4Addr>,
    /// The UDP port every dedicated room's WebRTC goes through (default: any free port).
    #[arg(long, value_name = "PORT")]
    pub rtc_port: Option<u16>,
    /// Where dedicated rooms' LAN ports (`lan_port` in the config, `room create --lan-port`)
    /// bind (default: every interface; tests 127.0.0.1).
    #[arg(long, value_name = "IP")]
    pub lan_bind: Option<Ipv4Addr>,
}

/// `doomlink room create`: a dedicated room on a `doomlink serve`.
#[derive(Args)]
pub struct RoomArgs {
    #[command(subcommand)]
    pub action: RoomAction,
}

#[derive(Subcommand)]
pub enum RoomAction {
    /// Create a room and print its invite link on a line of its own (with --lan-port, its LAN
    /// address on stderr).
    Create(RoomCreateArgs),
}

#[derive(Args)]
pub struct RoomCreateArgs {
    /// The service: HOST:PORT of its HTTP side, or https://HOST:PORT when it speaks TLS.
    #[arg(long, value_name = "HOST:PORT")]
    pub on: String,
    /// CA certificates (PEM) to trust for an https:// service besides the system's: a
    /// service with a certificate from a private CA.
    #[arg(long, value_name = "FILE")]
    pub ca_file: Option<PathBuf>,
    /// A file whose first line is the service's admin token; without it, the environment's
    /// DOOMLINK_ADMIN_TOKEN.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
    /// The room's name (logs, the room list).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
    /// Players the room takes.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=4))]
    pub players: Option<u8>,
    /// One of the service's IWADs, by file name (default: its first).
    #[arg(long, value_name = "FILE")]
    pub iwad: Option<String>,
    /// A UDP port (1-65534, free, not another room's) where the service also takes players
    /// over the LAN transport (`doomlink join HOST:PORT`, Chocolate Doom `-connect`); the
    /// address goes to stderr, stdout keeps the link alone. Default: invite link only.
    #[arg(long, value_name = "PORT")]
    pub lan_port: Option<u16>,
    /// One of the service's PWADs or DEHACKED files (`pwads`, `--pwad`), by file name (repeat,
    /// in load order): the room plays it and sends it to joiners who lack it.
    #[arg(long = "file", value_name = "NAME")]
    pub files: Vec<String>,
    #[command(flatten)]
    pub options: GameOptionArgs,
}

/// `doomlink serve`: the rendezvous for Internet play, and dedicated rooms.
pub fn serve(a: ServeArgs) -> Result<i32> {
    use crate::config as serve_config;
    let mut settings = match &a.config {
        Some(p) => match serve_config::load(p) {
            Ok(s) => s,
            Err(e) if a.check_config => {
                eprintln!("doomlink: {e}");
                return Ok(1);
            }
            Err(e) => return Err(e.into()),
        },
        None => serve_config::ServeSettings::default(),
    };
    // The command line wins over the file, now and on every SIGHUP reload.
    let overrides = {
        let (listen, public, stun, turn) =
            (a.listen, a.public_addr.clone(), a.stun_port, a.turn_port);
        let token = admin_token(a.admin_token_file.as_deref())?;
        let (data_dir, iwads, web_dir) = (a.data_dir.clone(), a.iwad.clone(), a.web_dir.clone());
        let pwads = a.pwad.clone();
        let (max_rooms, drain, rtc) = (a.max_rooms, a.drain_seconds, a.rtc_bind);
        let (lan_bind, rtc_port) = (a.lan_bind, a.rtc_port);
        let tls = a
            .tls_cert
            .clone()
            .zip(a.tls_key.clone())
            .map(|(cert, key)| doomlink_net::rendezvous::tls::TlsFiles { cert, key });
        move |s: &mut serve_config::ServeSettings| {
            if let Some(v) = listen {
                s.listen = v;
            }
            if public.is_some() {
                s.public_addr = public.clone();
            }
            if let Some(v) = stun {
                s.stun_port = v;
            }
            if let Some(v) = turn {
                s.turn_port = v;
            }
            if data_dir.is_some() {
                s.data_dir = data_dir.clone();
            }
            if web_dir.is_some() {
                s.web_dir = web_dir.clone();
            }
            if token.is_some() {
                s.admin_token = token.clone();
            }
            if !iwads.is_empty() {
                s.iwads = iwads.clone();
            }
            if !pwads.is_empty() {
                s.pwads = pwads.clone();
            }
            if let Some(v) = max_rooms {
                s.limits.rooms = v;
            }
            if let Some(v) = drain {
                s.drain_seconds = v;
            }
            if rtc.is_some() {
                s.rtc_bind = rtc;
            }
            if let Some(p) = rtc_port {
                s.rtc_port = p;
            }
            if lan_bind.is_some() {
                s.lan_bind = lan_bind;
            }
            if tls.is_some() {
                s.tls = tls.clone();
            }
        }
    };
    overrides(&mut settings);
    if settings.admin_token.is_none() {
        settings.admin_token = credential_token()?;
    }
    if a.check_config {
        println!("ok");
        return Ok(0);
    }
    if settings.iwads.is_empty() {
        // Rooms made through the admin API need an IWAD; Freedoom if it is installed.
        if let Ok(w) = iwad::resolve_iwad(None) {
            settings.iwads.push(w);
        }
    }
    if settings.web_dir.is_none() {
        settings.web_dir = installed_web_dir();
    }
    crate::service::serve(crate::service::Service {
        settings,
        config_file: a.config.clone(),
        overrides: Box::new(overrides),
    })?;
    Ok(0)
}

/// The environment variable that may hold an admin token (the service's, or the one `room
/// create` sends).
pub const TOKEN_ENV: &str = "DOOMLINK_ADMIN_TOKEN";

/// The admin token from `--admin-token-file` or the environment, if either gives one.
fn admin_token(file: Option<&Path>) -> Result<Option<String>> {
    if let Some(f) = file {
        return Ok(Some(
            crate::config::read_token_file(f).map_err(|m| anyhow!("--admin-token-file {m}"))?,
        ));
    }
    match std::env::var(TOKEN_ENV) {
        Ok(t) => {
            crate::config::check_token(&t).map_err(|m| anyhow!("{TOKEN_ENV}: {m}"))?;
            Ok(Some(t))
        }
        Err(_) => Ok(None),
    }
}

/// systemd's credential `admin-token` (the unit's LoadCredential), when nothing else set one.
fn credential_token() -> Result<Option<String>> {
    let Some(dir) = std::env::var_os("CREDENTIALS_DIRECTORY") else {
        return Ok(None);
    };
    let path = Path::new(&dir).join("admin-token");
    if !path.is_file() {
        return Ok(None);
    }
    Ok(Some(
        crate::config::read_token_file(&path).map_err(|m| anyhow!("admin token credential {m}"))?,
    ))
}

/// `doomlink room create`: POST /admin/rooms through the admin API's client.
pub fn room(a: RoomArgs) -> Result<i32> {
    let RoomAction::Create(c) = a.action;
    let token = match &c.token_file {
        Some(f) => crate::config::read_token_file(f).map_err(|m| anyhow!("--token-file {m}"))?,
        None => std::env::var(TOKEN_ENV).map_err(|_| {
            anyhow!("the admin token: --token-file FILE, or {TOKEN_ENV} in the environment")
        })?,
    };
    let req = doomlink_net::admin_api::RoomRequest {
        name: c.name.clone(),
        game: GameSettings {
            players: c.players,
            ..c.options.settings()
        },
        iwad: c.iwad.clone(),
        lan_port: c.lan_port,
        files: c.files.clone(),
    };
    let trust = c
        .ca_file
        .clone()
        .map(doomlink_net::tls_client::ClientTls::with_ca_file)
        .unwrap_or_default();
    let created = internet::runtime()?.block_on(doomlink_net::admin_api::create_room_with(
        &c.on, &token, &req, &trust,
    ))?;
    if let Some(p) = c.lan_port {
        // The service's host as `--on` named it; stdout stays the one link line for scripts.
        let on = doomlink_net::signaling::invite::RendezvousAddr::parse(&c.on)
            .map_or_else(|_| c.on.trim().to_string(), |a| a.host_port);
        let host = on.rsplit_once(':').map_or(on.as_str(), |h| h.0);
        eprintln!("doomlink: LAN players join with `doomlink join {host}:{p}`");
    }
    println!("{}", created.link);
    Ok(0)
}

/// The browser player's files a package installed beside the binary (`BIN/../share/doomlink/web`
/// for the doomlink package's `doomlink serve`, `…/doomlink-server/web` for the server's), if
/// its page is there: an installed service serves the player without being told where it is.
fn installed_web_dir() -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let share = exe.parent()?.parent()?.join("share");
    ["doomlink", "doomlink-server"]
        .iter()
        .map(|p| share.join(p).join("web"))
        .find(|d| d.join("play.html").is_file())
}
