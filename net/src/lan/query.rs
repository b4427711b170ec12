//! LAN discovery with Chocolate Doom 3.0's own server query protocol, so `doomlink lan-list`
//! finds stock `chocolate-server`s and doomlink hosts alike (a doomlink host's guest server
//! answers queries through the LAN bridge, as any Chocolate Doom server does).
//!
//! Owns the two packets of that protocol and a blocking search over a real UDP socket:
//!
//! - [`QUERY`]: `NET_PACKET_TYPE_QUERY` (13), a bare 16-bit type and nothing else
//!   (`net_query.c`, `NET_Query_SendQuery`).
//! - [`QueryResponse`]: `NET_PACKET_TYPE_QUERY_RESPONSE` (14) followed by `net_querydata_t` as
//!   `NET_WriteQueryData` writes it (`net_structrw.c`):
//!
//! ```text
//! u16 type = 14 (big-endian, as every Chocolate Doom integer)
//! str version          e.g. "Chocolate Doom 3.0.0" (NUL-terminated)
//! u8  server_state     0 waiting for the launch, 1 launched/waiting for the start, 2 in game
//! u8  num_players
//! u8  max_players      8 (NET_MAXPLAYERS) until a client connected, then the game's (4: Doom)
//! u8  gamemode         GameMode_t: 0 shareware … 3 retail, 4 indetermined (no client yet)
//! u8  gamemission      GameMission_t: 0 doom, 1 doom2, 2 tnt, 3 plutonia, …
//! str description      `-servername`, "Unnamed server" without it
//! u8  n, str[n]        supported protocols ("CHOCOLATE_DOOM_0"); absent before 3.0
//! ```
//!
//! Decoding follows `NET_ReadQueryData` exactly where it matters for interoperability: the
//! protocol list may be missing or cut short (older servers; the engine then calls the protocol
//! unknown and still accepts the response), bytes after it are ignored, and the two strings
//! shown to people are filtered like `NET_ReadSafeString` (printable ASCII and `\n` only), so a
//! hostile responder cannot put terminal control codes on a user's screen. Everything else that
//! is short or unterminated is a typed [`QueryError`], never a panic.
//!
//! [`search`] sends the query to a broadcast address and/or listed servers from one socket, a
//! few times over the timeout (UDP may drop any of them, as the engine's `QUERY_MAX_ATTEMPTS`
//! allows for), and collects the first valid answer of each responder with its ping.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::time::Duration;
use web_time::Instant;

#[cfg(test)]
mod tests;

/// Chocolate Doom's default game port.
pub const DEFAULT_PORT: u16 = 2342;
/// `NET_PACKET_TYPE_QUERY` in `net_defs.h`.
pub const TYPE_QUERY: u16 = crate::chocolate::PacketType::Query as u16;
/// `NET_PACKET_TYPE_QUERY_RESPONSE` in `net_defs.h`.
pub const TYPE_QUERY_RESPONSE: u16 = crate::chocolate::PacketType::QueryResponse as u16;
/// The whole query packet.
pub const QUERY: [u8; 2] = TYPE_QUERY.to_be_bytes();
/// The one protocol Chocolate Doom 3.0 speaks (`protocol_names` in `net_structrw.c`).
pub const PROTOCOL_CHOCOLATE_DOOM_0: &str = "CHOCOLATE_DOOM_0";
/// The largest UDP payload over IPv4: nothing longer can be one packet.
pub const MAX_PACKET_LEN: usize = 65507;

/// A field of the response, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    PacketType,
    Version,
    ServerState,
    NumPlayers,
    MaxPlayers,
    GameMode,
    GameMission,
    Description,
    Protocol,
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Field::PacketType => "packet type",
            Field::Version => "version",
            Field::ServerState => "server state",
            Field::NumPlayers => "player count",
            Field::MaxPlayers => "maximum player count",
            Field::GameMode => "game mode",
            Field::GameMission => "game mission",
            Field::Description => "description",
            Field::Protocol => "protocol name",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("the packet ends before its {0}")]
    Truncated(Field),
    #[error("the {0} string has no terminating NUL")]
    Unterminated(Field),
    #[error("packet type {0}, want {1}")]
    WrongType(u16, u16),
    #[error("the {0} contains a NUL byte, which would end it early on the wire")]
    NulInString(Field),
    #[error("{0} protocol names; the list holds at most 255")]
    TooManyProtocols(usize),
    #[error("{0} bytes do not fit in one UDP datagram (at most {MAX_PACKET_LEN})")]
    TooLong(usize),
}

/// Checks that `data` is a query (`NET_SV_Packet` looks at the type only; so do we).
pub fn parse_query(data: &[u8]) -> Result<(), QueryError> {
    let mut r = Reader { data, pos: 0 };
    match r.u16(Field::PacketType)? {
        TYPE_QUERY => Ok(()),
        other => Err(QueryError::WrongType(other, TYPE_QUERY)),
    }
}

/// `net_server_state_t`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ServerState {
    /// In the lobby, waiting for the controller to launch the game.
    WaitingLaunch,
    /// Launched, waiting for every player to be ready.
    WaitingStart,
    InGame,
    /// A value Chocolate Doom 3.0 never sends (kept so that it re-encodes as it came).
    Other(u8),
}

impl ServerState {
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => ServerState::WaitingLaunch,
            1 => ServerState::WaitingStart,
            2 => ServerState::InGame,
            v => ServerState::Other(v),
        }
    }
    pub fn to_u8(self) -> u8 {
        match self {
            ServerState::WaitingLaunch => 0,
            ServerState::WaitingStart => 1,
            ServerState::InGame => 2,
            ServerState::Other(v) => v,
        }
    }
    /// Whether a new player can still join (only in the lobby).
    pub fn joinable(self) -> bool {
        self == ServerState::WaitingLaunch
    }
}

impl fmt::Display for ServerState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerState::WaitingLaunch => f.write_str("waiting for players"),
            ServerState::WaitingStart => f.write_str("starting"),
            ServerState::InGame => f.write_str("in game"),
            ServerState::Other(v) => write!(f, "state {v}"),
        }
    }
}

/// `GameMode_t` (`d_mode.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameMode {
    Shareware,
    Registered,
    Commercial,
    Retail,
    /// No client has connected yet, so the server does not know the game.
    Indetermined,
    Other(u8),
}

impl GameMode {
    pub fn from_u8(v: u8) -> Self {
        match v {
            0 => GameMode::Shareware,
            1 => GameMode::Registered,
            2 => GameMode::Commercial,
            3 => GameMode::Retail,
            4 => GameMode::Indetermined,
            v => GameMode::Other(v),
        }
    }
    pub fn to_u8(self) -> u8 {
        match self {
            GameMode::Shareware => 0,
            GameMode::Registered => 1,
            GameMode::Commercial => 2,
            GameMode::Retail => 3,
            GameMode::Indetermined => 4,
            GameMode::Other(v) => v,
        }
    }
}

/// `GameMission_t` (`d_mode.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GameMission {
    Doom,
    Doom2,
    PackTnt,
    PackPlut,
    PackChex,
    PackHacx,
    Heretic,
    Hexen,
    Strife,
    Doom2F,
    None,
    Other(u8),
}

impl GameMission {
    pub fn from_u8(v: u8) -> Self {
        use GameMission::*;
        match v {
            0 => Doom,
            1 => Doom2,
            2 => PackTnt,
            3 => PackPlut,
            4 => PackChex,
            5 => PackHacx,
            6 => Heretic,
            7 => Hexen,
            8 => Strife,
            9 => Doom2F,
            10 => None,
            v => Other(v),
        }
    }
    pub fn to_u8(self) -> u8 {
        use GameMission::*;
        match self {
            Doom => 0,
            Doom2 => 1,
            PackTnt => 2,
            PackPlut => 3,
            PackChex => 4,
            PackHacx => 5,
            Heretic => 6,
            Hexen => 7,
            Strife => 8,
            Doom2F => 9,
            None => 10,
            Other(v) => v,
        }
    }
}

/// A server's answer: `net_querydata_t`. See the module docs for the layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryResponse {
    /// `PACKAGE_STRING` of the server, e.g. "Chocolate Doom 3.0.0" (printable ASCII and `\n`).
    pub version: String,
    pub server_state: ServerState,
    pub num_players: u8,
    pub max_players: u8,
    pub gamemode: GameMode,
    pub gamemission: GameMission,
    /// The server's name (printable ASCII and `\n`).
    pub description: String,
    /// The protocols the server speaks, in its order; `None` when the list is missing or cut
    /// short (the engine reads that as "unknown protocol"). Names are compared, never shown, so
    /// they are kept as sent (invalid UTF-8 replaced).
    pub protocols: Option<Vec<String>>,
}

impl QueryResponse {
    /// Decodes a datagram (type included).
    pub fn parse(data: &[u8]) -> Result<QueryResponse, QueryError> {
        let mut r = Reader { data, pos: 0 };
        let ty = r.u16(Field::PacketType)?;
        if ty != TYPE_QUERY_RESPONSE {
            return Err(QueryError::WrongType(ty, TYPE_QUERY_RESPONSE));
        }
        let version = safe_string(r.cstr(Field::Version)?);
        let server_state = ServerState::from_u8(r.u8(Field::ServerState)?);
        let num_players = r.u8(Field::NumPlayers)?;
        let max_players = r.u8(Field::MaxPlayers)?;
        let gamemode = GameMode::from_u8(r.u8(Field::GameMode)?);
        let gamemission = GameMission::from_u8(r.u8(Field::GameMission)?);
        let description = safe_string(r.cstr(Field::Description)?);
        // As NET_ReadProtocolList: any failure from here on loses the list, not the response.
        let protocols = (|| {
            let n = r.u8(Field::Protocol).ok()?;
            (0..n)
                .map(|_| {
                    r.cstr(Field::Protocol)
                        .ok()
                        .map(|s| String::from_utf8_lossy(s).into_owned())
                })
                .collect()
        })();
        Ok(QueryResponse {
            version,
            server_state,
            num_players,
            max_players,
            gamemode,
            gamemission,
            description,
            protocols,
        })
    }

    /// Encodes as `NET_SV_SendQueryResponse` would.
    pub fn emit(&self) -> Result<Vec<u8>, QueryError> {
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&TYPE_QUERY_RESPONSE.to_be_bytes());
        put_cstr(&mut out, &self.version, Field::Version)?;
        out.extend_from_slice(&[
            self.server_state.to_u8(),
            self.num_players,
            self.max_players,
            self.gamemode.to_u8(),
            self.gamemission.to_u8(),
        ]);
        put_cstr(&mut out, &self.description, Field::Description)?;
        if let Some(list) = &self.protocols {
            let n =
                u8::try_from(list.len()).map_err(|_| QueryError::TooManyProtocols(list.len()))?;
            out.push(n);
            for p in list {
                put_cstr(&mut out, p, Field::Protocol)?;
            }
        }
        if out.len() > MAX_PACKET_LEN {
            return Err(QueryError::TooLong(out.len()));
        }
        Ok(out)
    }

    /// The game's short name as Chocolate Doom's own `-search`/`-localsearch` list prints it
    /// (`GameDescription` in `net_query.c`): "ultdoom", "doom2", "tnt"…; `None` while the server
    /// does not know the game yet.
    pub fn game_name(&self) -> Option<&'static str> {
        if self.gamemode == GameMode::Indetermined {
            return None;
        }
        Some(match self.gamemission {
            GameMission::Doom => match self.gamemode {
                GameMode::Shareware => "swdoom",
                GameMode::Registered => "regdoom",
                GameMode::Retail => "ultdoom",
                _ => "doom",
            },
            GameMission::Doom2 => "doom2",
            GameMission::PackTnt => "tnt",
            GameMission::PackPlut => "plutonia",
            GameMission::PackChex => "chex",
            GameMission::PackHacx => "hacx",
            GameMission::Heretic => "heretic",
            GameMission::Hexen => "hexen",
            GameMission::Strife => "strife",
            _ => "?",
        })
    }

    /// Whether we can play with this server: it speaks Chocolate Doom 3.0's protocol. A server
    /// that sent no list predates 3.0's protocol negotiation and is not compatible either.
    pub fn compatible(&self) -> bool {
        self.protocols
            .as_ref()
            .is_some_and(|l| l.iter().any(|p| p == PROTOCOL_CHOCOLATE_DOOM_0))
    }
}

/// `NET_ReadSafeString`'s filter: `isprint` in the C locale, plus newline.
fn safe_string(raw: &[u8]) -> String {
    raw.iter()
        .filter(|&&b| (0x20..=0x7e).contains(&b) || b == b'\n')
        .map(|&b| b as char)
        .collect()
}

fn put_cstr(out: &mut Vec<u8>, s: &str, field: Field) -> Result<(), QueryError> {
    if s.as_bytes().contains(&0) {
        return Err(QueryError::NulInString(field));
    }
    out.extend_from_slice(s.as_bytes());
    out.push(0);
    Ok(())
}

struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn u8(&mut self, field: Field) -> Result<u8, QueryError> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or(QueryError::Truncated(field))?;
        self.pos += 1;
        Ok(b)
    }
    fn u16(&mut self, field: Field) -> Result<u16, QueryError> {
        let b = self
            .data
            .get(self.pos..self.pos + 2)
            .ok_or(QueryError::Truncated(field))?;
        self.pos += 2;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }
    /// A NUL-terminated string, without its NUL.
    fn cstr(&mut self, field: Field) -> Result<&'a [u8], QueryError> {
        let rest = self.data.get(self.pos..).unwrap_or_default();
        if rest.is_empty() {
            return Err(QueryError::Truncated(field));
        }
        let n = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(QueryError::Unterminated(field))?;
        self.pos += n + 1;
        Ok(&rest[..n])
    }
}

/// The longest [`search`] waits.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 3600);

/// Where and how long [`search`] looks.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// The local address to send from (0.0.0.0: the system picks the interface).
    pub bind_ip: Ipv4Addr,
    /// The broadcast address and game port to query (`None`: no broadcast).
    pub broadcast: Option<SocketAddrV4>,
    /// Servers to query directly as well (those beyond the broadcast domain).
    pub servers: Vec<SocketAddr>,
    /// How long to collect answers (at most [`MAX_TIMEOUT`]).
    pub timeout: Duration,
    /// How many times the query goes out, spread evenly over the timeout (at least 1).
    pub attempts: u32,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            bind_ip: Ipv4Addr::UNSPECIFIED,
            broadcast: Some(SocketAddrV4::new(Ipv4Addr::BROADCAST, DEFAULT_PORT)),
            servers: Vec::new(),
            timeout: Duration::from_millis(1000),
            attempts: 3,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    // `error`, not `source`: the message already says it, and anyhow's `{:#}` would repeat it.
    #[error("cannot open a UDP socket on {ip}: {error}")]
    Bind { ip: Ipv4Addr, error: std::io::Error },
    #[error("cannot send the query to {to}: {error}")]
    Send {
        to: SocketAddr,
        error: std::io::Error,
    },
    #[error("receiving answers failed: {0}")]
    Recv(std::io::Error),
}

/// A server that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundServer {
    /// Where the answer came from: the address to join.
    pub addr: SocketAddr,
    pub info: QueryResponse,
    /// From the last query sent before the answer to the answer.
    pub ping: Duration,
}

impl fmt::Display for FoundServer {
    /// One line: address, name, game and state, players, ping.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let i = &self.info;
        // The description may hold newlines (the engine allows them); this is one line.
        let name = i.description.replace('\n', " ");
        write!(
            f,
            "{}  {}  (",
            self.addr,
            if name.is_empty() { "(no name)" } else { &name }
        )?;
        if let Some(g) = i.game_name() {
            write!(f, "{g}, ")?;
        }
        write!(
            f,
            "{})  {}/{} players  {:.1} ms",
            i.server_state,
            i.num_players,
            i.max_players,
            self.ping.as_secs_f64() * 1e3
        )?;
        if !i.compatible() {
            write!(f, "  [incompatible: {}]", i.version.replace('\n', " "))?;
        }
        Ok(())
    }
}

/// What a search saw besides the servers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchReport {
    /// In order of first answer.
    pub servers: Vec<FoundServer>,
    /// Datagrams that were not a valid query response (or repeated one already counted).
    pub ignored: u64,
}

/// Queries the broadcast address and the listed servers and collects answers for
/// `cfg.timeout`. Blocks for the whole timeout (more servers may still answer).
pub fn search(cfg: &SearchConfig) -> Result<SearchReport, SearchError> {
    let ip = cfg.bind_ip;
    let socket = UdpSocket::bind((ip, 0)).map_err(|error| SearchError::Bind { ip, error })?;
    if cfg.broadcast.is_some() {
        socket
            .set_broadcast(true)
            .map_err(|error| SearchError::Bind { ip, error })?;
    }
    let targets: Vec<SocketAddr> = cfg
        .broadcast
        .map(SocketAddr::V4)
        .into_iter()
        .chain(cfg.servers.iter().copied())
        .collect();
    let attempts = cfg.attempts.max(1);
    // Clamped so that no timeout a user types can overflow the clock's arithmetic.
    let timeout = cfg.timeout.min(MAX_TIMEOUT);
    let start = Instant::now();
    let deadline = start + timeout;
    let spacing = timeout / attempts;
    let mut report = SearchReport::default();
    let mut sent = 0u32;
    let mut last_sent = start;
    let mut buf = vec![0u8; MAX_PACKET_LEN + 1];
    loop {
        let now = Instant::now();
        if sent < attempts && now >= start + spacing * sent {
            for &to in &targets {
                if let Err(error) = socket.send_to(&QUERY, to) {
                    // The first round says whether the address works at all (e.g. no route for
                    // 255.255.255.255); later failures are as transient as UDP loss.
                    if sent == 0 {
                        return Err(SearchError::Send { to, error });
                    }
                }
            }
            last_sent = Instant::now();
            sent += 1;
            continue;
        }
        if now >= deadline {
            break;
        }
        let next_send = if sent < attempts {
            start + spacing * sent
        } else {
            deadline
        };
        let wait = next_send
            .min(deadline)
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        socket
            .set_read_timeout(Some(wait))
            .map_err(SearchError::Recv)?;
        let (n, from) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) => match e.kind() {
                std::io::ErrorKind::WouldBlock
                | std::io::ErrorKind::TimedOut
                | std::io::ErrorKind::Interrupted => continue,
                // ICMP port unreachable from a listed server with nothing on its port.
                std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::ConnectionReset => {
                    continue
                }
                _ => return Err(SearchError::Recv(e)),
            },
        };
        let ping = last_sent.elapsed();
        match QueryResponse::parse(&buf[..n]) {
            Ok(info) if !report.servers.iter().any(|s| s.addr == from) => {
                report.servers.push(FoundServer {
                    addr: from,
                    info,
                    ping,
                });
            }
            _ => report.ignored += 1,
        }
    }
    Ok(report)
}
