//! The seam between the window and network play. The Host, Join and LAN games screens collect
//! what the player wants and call a [`Netplay`] (LAN and Internet play implement it). Calls run
//! on a worker thread, never on the UI thread, so an implementation may block (bind sockets,
//! wait for a server) for as long as it needs.

pub mod internet;
pub mod lan;

pub use internet::InternetNetplay;
pub use lan::LanNetplay;

pub use crate::game::{GameMode, GameSettings};
use crate::guest::DoomConfig;
use crate::launch::Launched;
use crate::sink::KernelSink;
use std::fmt;
use std::sync::Arc;

/// What the Host screen asks for. `game.skill` and `game.warp` come from the Play choice (the
/// same picker is on the Host screen); `game.players` is how many the game waits for before it
/// starts by itself (`-nodes`); the host can also start earlier from the lobby.
#[derive(Debug, Clone, PartialEq)]
pub struct HostOptions {
    pub game: GameSettings,
    /// UDP port the server listens on (`-port`; Chocolate Doom's default is 2342).
    pub port: u16,
    /// Shown to others on the LAN.
    pub game_name: String,
    /// Over the LAN, over the Internet through a rendezvous, or on a server.
    pub transport: Transport,
    /// [`Transport::Server`]: `host:port` of the `doomlink serve` (`https://host:port` when it
    /// speaks TLS), and its admin token.
    pub server: String,
    pub admin_token: String,
}

/// How a hosted game reaches its players.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Transport {
    /// Chocolate Doom's own protocol on the local network (native players can join).
    #[default]
    Lan,
    /// WebRTC through a rendezvous: the host gets an invite link.
    Internet,
    /// A dedicated room on a `doomlink serve` (its admin token needed): the service is the
    /// game's server and this player its first joiner; everyone joins by the room's link.
    Server,
}

/// Internet play's settings (from the Settings page), already checked: the rendezvous to host
/// at, and STUN/TURN servers to use besides those a rendezvous hands out.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct InternetOptions {
    /// `host:port` of a `doomlink serve`, or `wss://host:port` for one that speaks TLS; None:
    /// no rendezvous is set.
    pub rendezvous: Option<String>,
    pub ice_servers: Vec<doomlink_net::signaling::IceServer>,
    /// CA certificates (PEM) a TLS rendezvous's certificate may be signed by, besides the
    /// system's roots: a private rendezvous.
    pub rendezvous_ca_file: Option<std::path::PathBuf>,
}

impl InternetOptions {
    /// What a TLS rendezvous's (or admin API's) certificate is checked against.
    pub fn trust(&self) -> doomlink_net::tls_client::ClientTls {
        self.rendezvous_ca_file
            .clone()
            .map(doomlink_net::tls_client::ClientTls::with_ca_file)
            .unwrap_or_default()
    }
}

impl HostOptions {
    /// Chocolate Doom's arguments for this game's server on `port`, as LAN browsers show it:
    /// the game name, or "NAME's game". The game waits for its players (four when unset).
    pub fn server_args(&self, port: u16, player_name: &str) -> Vec<String> {
        let name = if self.game_name.is_empty() {
            format!("{player_name}'s game")
        } else {
            self.game_name.clone()
        };
        let game = GameSettings {
            players: Some(
                self.game
                    .players_or(doomlink_net::chocolate::settings::MAX_PLAYERS),
            ),
            ..self.game.clone()
        };
        game.server_args(crate::game::ServerRole::Player {
            port,
            name: Some(&name),
        })
    }
}

impl Default for HostOptions {
    fn default() -> Self {
        HostOptions {
            game: GameSettings {
                players: Some(2),
                ..GameSettings::default()
            },
            port: 2342,
            game_name: String::new(),
            transport: Transport::Lan,
            server: String::new(),
            admin_token: String::new(),
        }
    }
}

/// `-warp` arguments as [`GameSettings::warp`] has them: `["1", "3"]` → (Some(1), 3), `["7"]` →
/// (None, 7).
pub fn warp_of(args: &[String]) -> Option<(Option<u8>, u8)> {
    match args {
        [e, m] => Some((Some(e.parse().ok()?), m.parse().ok()?)),
        [m] => Some((None, m.parse().ok()?)),
        _ => None,
    }
}

/// The game side of a netgame request: the guest's configuration as a local game would have it
/// (IWAD, PWADs, data dir, video, the audio rate of this machine's device; `args` empty: the game
/// options are the host's [`HostOptions::game`], or the server's), and the player's name.
#[derive(Debug, Clone)]
pub struct NetGameRequest {
    pub game: DoomConfig,
    pub player_name: String,
    /// Used by Internet play only.
    pub internet: InternetOptions,
    /// A joiner's download of the host's files, for the screen that waits on the join.
    pub progress: crate::wadcache::DownloadProgress,
}

/// A netgame the window starts as it opens (`doomlink host` / `doomlink join` without
/// `--headless`): hosted or joined at once, as the Host and Join pages do, straight into the
/// lobby. What the command line leaves out comes from Settings.
#[derive(Debug, Clone)]
pub struct NetStart {
    /// The IWAD, PWADs, `--tics` and Chocolate Doom's own arguments (kept as given); a host's
    /// game options are its [`HostOptions::game`].
    pub setup: super::launch::GameSetup,
    /// The player's name; None: the Settings' name.
    pub player_name: Option<String>,
    /// The rendezvous to host at; None: the Settings' one.
    pub rendezvous: Option<String>,
    /// The CA file for a TLS rendezvous; None: the Settings' one.
    pub rendezvous_ca_file: Option<std::path::PathBuf>,
    /// STUN/TURN servers besides the Settings' ones.
    pub ice_servers: Vec<doomlink_net::signaling::IceServer>,
    pub action: NetAction,
}

/// What a [`NetStart`] does.
#[derive(Debug, Clone)]
pub enum NetAction {
    /// Host with these options (over the LAN, or at a rendezvous).
    Host(HostOptions),
    /// Host an Internet game by trading codes, with these options.
    HostManual(HostOptions),
    /// Join this address, invite link or offer code (as the Join page's field takes it).
    Join(String),
}

/// What the Join page's one text field holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinTarget {
    /// `host` or `host:port` on the LAN (as [`parse_address`] returns it).
    Address(String),
    /// An invite link, `doomlink://join/…` or its http(s) form (checked).
    Invite(String),
    /// A manual offer code (checked).
    OfferCode(String),
}

impl JoinTarget {
    /// The text to hand to [`Netplay::join`].
    pub fn text(&self) -> &str {
        match self {
            JoinTarget::Address(t) | JoinTarget::Invite(t) | JoinTarget::OfferCode(t) => t,
        }
    }
}

/// Why the Join page's text is not something to join; one line that names the wrong part.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinTextError {
    #[error(transparent)]
    Address(#[from] AddressError),
    #[error(transparent)]
    Invite(#[from] doomlink_net::signaling::invite::InviteError),
    #[error("{0}")]
    Code(doomlink_net::online::manual::CodeError),
}

/// True for text that looks like a link (a scheme), whatever follows.
fn looks_like_link(text: &str) -> bool {
    let lower = text.get(..11).unwrap_or(text).to_ascii_lowercase();
    lower.starts_with("doomlink:") || lower.starts_with("http://") || lower.starts_with("https://")
}

/// Manual codes are long base64url runs: never an address (which is short, or has dots or a
/// colon).
fn looks_like_code(text: &str) -> bool {
    text.len() >= 40
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c.is_whitespace())
}

/// Sorts the Join page's text into an address, an invite link or a manual offer code, and checks
/// it.
pub fn parse_join_target(text: &str) -> Result<JoinTarget, JoinTextError> {
    use doomlink_net::online::manual::{CodeKind, ManualCode};
    use doomlink_net::signaling::invite::InviteLink;
    let text = text.trim();
    if looks_like_link(text) {
        InviteLink::parse(text)?;
        return Ok(JoinTarget::Invite(text.to_string()));
    }
    if looks_like_code(text) {
        ManualCode::decode_kind(text, CodeKind::Offer).map_err(JoinTextError::Code)?;
        return Ok(JoinTarget::OfferCode(text.to_string()));
    }
    Ok(JoinTarget::Address(parse_address(text)?))
}

/// A game found on the LAN.
#[derive(Debug, Clone, PartialEq)]
pub struct LanGame {
    pub name: String,
    /// What to pass to [`Netplay::join`].
    pub address: String,
    pub players: u8,
    pub max_players: u8,
    /// The IWAD the server plays (its file name or game name).
    pub iwad: String,
}

/// Why a netplay action did not start a game.
#[derive(Debug, thiserror::Error)]
pub enum NetplayError {
    /// It was tried and failed; the message is for the player.
    #[error("{0}")]
    Failed(String),
}

/// Network play, as the window needs it. Each method runs on a worker thread.
pub trait Netplay: Send + Sync {
    /// Starts a server with this player in it; the returned guest shows the lobby (its
    /// `/dev/lobby`) until the game starts.
    fn host(
        &self,
        request: &NetGameRequest,
        options: &HostOptions,
    ) -> Result<Launched, NetplayError>;

    /// Joins the server at `address` (as typed and checked by [`parse_address`]: `host` or
    /// `host:port`, the host an IPv4 address or a name).
    fn join(&self, request: &NetGameRequest, address: &str) -> Result<Launched, NetplayError>;

    /// Games currently announced on the LAN.
    fn lan_games(&self) -> Result<Vec<LanGame>, NetplayError>;

    /// An Internet game with one friend and no rendezvous, by trading two codes: puts this
    /// side's code (the host's offer, or the joiner's answer to `side`'s offer) into `codes` as
    /// soon as it exists; a host then waits for the joiner's answer from `codes`.
    fn manual(
        &self,
        request: &NetGameRequest,
        side: &ManualSide,
        codes: &CodeExchange,
    ) -> Result<Launched, NetplayError>;
}

/// Which side of a manual game this player is.
#[derive(Debug, Clone, PartialEq)]
pub enum ManualSide {
    /// The host, with the game's options.
    Host(HostOptions),
    /// A joiner, with the host's offer code.
    Join(String),
}

/// The two codes of a manual game, between the worker that makes the connection and the screen
/// that shows our code and takes theirs.
pub struct CodeExchange {
    ours: std::sync::Mutex<Option<String>>,
    theirs: std::sync::Mutex<std::sync::mpsc::Receiver<String>>,
    /// Wakes the screen when our code is there.
    wake: Box<dyn Fn() + Send + Sync>,
}

impl CodeExchange {
    /// The exchange, and where the screen sends the other side's code.
    pub fn new(
        wake: impl Fn() + Send + Sync + 'static,
    ) -> (Arc<CodeExchange>, std::sync::mpsc::Sender<String>) {
        let (tx, rx) = std::sync::mpsc::channel();
        let x = CodeExchange {
            ours: std::sync::Mutex::new(None),
            theirs: std::sync::Mutex::new(rx),
            wake: Box::new(wake),
        };
        (Arc::new(x), tx)
    }

    /// Our code, for the screen to show (worker side).
    pub fn set_ours(&self, code: &str) {
        *self.ours.lock().unwrap_or_else(|e| e.into_inner()) = Some(code.to_string());
        (self.wake)();
    }

    /// Our code, once made.
    pub fn ours(&self) -> Option<String> {
        self.ours.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Waits for the other side's code; None if the player gave up (the screen went away).
    pub fn wait_theirs(&self) -> Option<String> {
        self.theirs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .recv()
            .ok()
    }
}

/// Checks a typed server address: a host (an IPv4 address or a name; the [`Netplay`]
/// implementation resolves it) and an optional port. Returns it trimmed.
pub fn parse_address(text: &str) -> Result<String, AddressError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(AddressError::Empty);
    }
    let (host, port) = match text.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (text, None),
    };
    let host_ok = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
    if !host_ok {
        return Err(AddressError::BadHost(host.to_string()));
    }
    match port {
        None => Ok(host.to_string()),
        Some(p) => match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(format!("{host}:{n}")),
            _ => Err(AddressError::BadPort(p.to_string())),
        },
    }
}

/// What is wrong with a typed address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AddressError {
    #[error("type the host's address, e.g. 192.168.1.20 or 192.168.1.20:2342")]
    Empty,
    #[error("{0:?} is not an address (e.g. 192.168.1.20, or a host name)")]
    BadHost(String),
    #[error("{0:?} is not a port number (1-65535)")]
    BadPort(String),
}

impl fmt::Display for LanGame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} — {} ({}/{}) at {}",
            self.name, self.iwad, self.players, self.max_players, self.address
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_a_host_and_an_optional_port() {
        assert_eq!(parse_address(" 10.0.0.2 ").unwrap(), "10.0.0.2");
        assert_eq!(parse_address("10.0.0.2:2342").unwrap(), "10.0.0.2:2342");
        assert_eq!(parse_address(""), Err(AddressError::Empty));
        assert_eq!(
            parse_address("doom.example:2342").unwrap(),
            "doom.example:2342"
        );
        assert!(matches!(
            parse_address("a b:2342"),
            Err(AddressError::BadHost(_))
        ));
        assert!(matches!(
            parse_address("10.0.0.2:0"),
            Err(AddressError::BadPort(_))
        ));
        assert!(matches!(
            parse_address("10.0.0.2:99999"),
            Err(AddressError::BadPort(_))
        ));
    }

    #[test]
    fn warp_arguments_become_game_options() {
        let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(warp_of(&a(&["1", "3"])), Some((Some(1), 3)));
        assert_eq!(warp_of(&a(&["12"])), Some((None, 12)));
        assert_eq!(warp_of(&a(&[])), None);
    }

    #[test]
    fn join_text_is_an_address_a_link_or_a_code() {
        let fp = "A".repeat(43);
        let link = format!(
            "doomlink://join/127.0.0.1:7342/room1234?fp={fp}#{}",
            "s".repeat(22)
        );
        assert_eq!(
            parse_join_target(&format!("  {link} ")).unwrap(),
            JoinTarget::Invite(link.clone())
        );
        let web = format!(
            "https://rv.example:443/join/room1234?fp={fp}#{}",
            "s".repeat(22)
        );
        assert!(matches!(parse_join_target(&web), Ok(JoinTarget::Invite(_))));
        assert_eq!(
            parse_join_target("10.0.0.2:2342").unwrap(),
            JoinTarget::Address("10.0.0.2:2342".into())
        );
        // A bad link names the wrong part.
        let e = parse_join_target(&link.replace("fp=", "fq=")).unwrap_err();
        assert!(matches!(e, JoinTextError::Invite(_)), "{e}");
        let e = parse_join_target(&link.replace("room1234", "r!")).unwrap_err();
        assert!(e.to_string().contains("room id"), "{e}");
        // A long base64url run is a code, and a damaged one says so.
        let e = parse_join_target(&"Q".repeat(80)).unwrap_err();
        assert!(matches!(e, JoinTextError::Code(_)), "{e}");
        assert!(matches!(
            parse_join_target(""),
            Err(JoinTextError::Address(_))
        ));
    }
}

/// Boots a kernel on a netgame's HostIO and starts the player's guest in it: `args` (the
/// transport's own: `-server …` or `-connect …`), then the player's name, then the request's
/// arguments. The window's LAN and Internet games both start this way.
pub fn start_net_guest(
    host: Arc<dyn doomlink_kernel::HostIO>,
    sink: &KernelSink,
    request: &NetGameRequest,
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

/// The window's network play: LAN and Internet.
#[derive(Debug, Clone, Default)]
pub struct AppNetplay {
    pub lan: LanNetplay,
    pub internet: InternetNetplay,
}

impl AppNetplay {
    /// LAN defaults, and Internet play as the environment says ([`RTC_BIND_ENV`]).
    pub fn from_env() -> Result<AppNetplay, String> {
        Ok(AppNetplay {
            lan: LanNetplay::default(),
            internet: InternetNetplay::from_env()?,
        })
    }
}

impl Netplay for AppNetplay {
    fn host(
        &self,
        request: &NetGameRequest,
        options: &HostOptions,
    ) -> Result<Launched, NetplayError> {
        match options.transport {
            Transport::Lan => self.lan.host(request, options),
            Transport::Internet => self.internet.host(request, options),
            Transport::Server => self.internet.host_on_server(request, options),
        }
    }

    fn join(&self, request: &NetGameRequest, address: &str) -> Result<Launched, NetplayError> {
        match parse_join_target(address).map_err(|e| NetplayError::Failed(e.to_string()))? {
            JoinTarget::Address(a) => self.lan.join(request, &a),
            JoinTarget::Invite(link) => self.internet.join(request, &link),
            // The window trades codes through manual(), which shows the answer to send back.
            JoinTarget::OfferCode(_) => Err(NetplayError::Failed(
                "an offer code is joined by trading codes (Netplay::manual)".into(),
            )),
        }
    }

    fn manual(
        &self,
        request: &NetGameRequest,
        side: &ManualSide,
        codes: &CodeExchange,
    ) -> Result<Launched, NetplayError> {
        self.internet.manual(request, side, codes)
    }

    fn lan_games(&self) -> Result<Vec<LanGame>, NetplayError> {
        self.lan.lan_games()
    }
}
