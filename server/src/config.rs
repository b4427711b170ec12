//! `doomlink serve`'s TOML config (documented key by key in packaging/serve.toml): parsing,
//! validation with errors that name the key, and the room specs it holds. Command-line flags
//! override the file; `--check-config` parses and validates only.

use doomlink_net::chocolate::settings::MAX_PLAYERS;
use doomlink_net::chocolate::{GameSettings, SettingsError};
use doomlink_net::rendezvous::tls::TlsFiles;
use doomlink_net::rendezvous::turn::IpNet;
use doomlink_net::rendezvous::turn_rest::{self, ExternalTurn};
use doomlink_net::rendezvous::RoomRequest;
use serde::Deserialize;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Why a config is no good; the message names the key.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    // The io error is in the message, not a `source`: the app prints one line with `{:#}`.
    #[error("{path}: cannot read it: {err}")]
    Read { path: PathBuf, err: std::io::Error },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{key}: {message}")]
    Invalid { key: String, message: String },
}

fn invalid(key: impl Into<String>, message: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        key: key.into(),
        message: message.into(),
    }
}

/// One WebRTC edge thread per core, up to 16.
/// Which sockets dedicated rooms' WebRTC goes through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RtcEdge {
    /// `rtc_threads` sockets, each read by its own thread for every room dealt to it: few
    /// ports to open, but a player's datagram wakes that thread and then the room's guest.
    Shared,
    /// A socket per room, read by the room's guest thread itself while it waits (as a LAN
    /// room's port is): one wake per datagram, a port per room.
    PerRoom,
}

fn default_rtc_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(16))
}

/// The file, as written.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeFile {
    pub listen: Option<SocketAddr>,
    pub public_addr: Option<String>,
    pub stun_port: Option<u16>,
    pub turn_port: Option<u16>,
    pub data_dir: Option<PathBuf>,
    pub admin_token: Option<String>,
    pub admin_token_file: Option<PathBuf>,
    /// The HTTP listener's certificate chain and key (PEM): with them it speaks TLS only.
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    pub rtc_bind: Option<Ipv4Addr>,
    pub rtc_port: Option<u16>,
    pub rtc_threads: Option<usize>,
    pub rtc_edge: Option<RtcEdge>,
    pub lan_bind: Option<Ipv4Addr>,
    pub iwads: Option<Vec<PathBuf>>,
    /// PWADs and DEHACKED files rooms may play (`files` in a room names them).
    pub pwads: Option<Vec<PathBuf>>,
    /// The browser player's files (what `scripts/build-web` makes), served under `/play/`.
    pub web_dir: Option<PathBuf>,
    pub drain_seconds: Option<u64>,
    /// Address ranges (`"10.0.0.0/8"`) TURN may relay to besides the public Internet.
    pub turn_allow_peers: Option<Vec<String>>,
    /// Proxies in front of the service (`"127.0.0.1"`, ranges too) whose `X-Forwarded-For`
    /// names the client for the per-address limits.
    pub trusted_proxies: Option<Vec<String>>,
    /// Whether the built-in TURN is handed out besides the `[[turn_server]]`s (default true).
    pub builtin_turn: Option<bool>,
    /// External TURN servers (coturn with `use-auth-secret`): `[[turn_server]]`.
    #[serde(default, rename = "turn_server")]
    pub turn_servers: Vec<TurnServerFile>,
    #[serde(default)]
    pub limits: LimitsFile,
    /// Standing rooms: `[[room]]`, the admin API's room request keys (`name` required, `iwad`
    /// a path).
    #[serde(default, rename = "room")]
    pub rooms: Vec<RoomRequest>,
}

/// A `[[turn_server]]`: its URLs and the file holding its `static-auth-secret` (a file, so
/// the secret is in neither the config nor a command line).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TurnServerFile {
    #[serde(default)]
    pub urls: Vec<String>,
    pub secret_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub rooms: Option<usize>,
    pub players_per_room: Option<u8>,
    pub guest_memory_mb: Option<usize>,
}

/// Limits on dedicated rooms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomLimits {
    /// Dedicated rooms at once (0: no dedicated rooms; the admin API answers 503).
    pub rooms: usize,
    pub players_per_room: u8,
    /// The kernel's memory cap for a room's guest.
    pub guest_memory: usize,
}

impl RoomSpec {
    /// The players the room takes, and starts its game with.
    pub fn players(&self) -> u8 {
        self.game.players_or(MAX_PLAYERS)
    }
}

impl Default for RoomLimits {
    fn default() -> Self {
        RoomLimits {
            rooms: 16,
            players_per_room: 4,
            guest_memory: 64 << 20,
        }
    }
}

/// A room to run: its game (enforced on the game's start; its `players` always set) and its
/// IWAD.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomSpec {
    pub name: String,
    pub iwad: PathBuf,
    pub game: GameSettings,
    /// The real UDP port the room also takes LAN-transport players at (`doomlink join IP:PORT`,
    /// stock Chocolate Doom `-connect`); None: WebRTC only.
    pub lan_port: Option<u16>,
    /// The room's PWADs and DEHACKED files, in load order (sent to joiners who lack them).
    pub files: Vec<PathBuf>,
}

/// A room's `files` (file names) as paths among the service's `pwads`: each must be one of
/// them (a name, never a path: a room request must not make the service read other files),
/// at most 16, none twice.
pub fn files_of(names: &[String], pwads: &[PathBuf]) -> Result<Vec<PathBuf>, String> {
    let max = doomlink_net::relay::wire::MAX_PWADS;
    if names.len() > max {
        return Err(format!("{max} files at most"));
    }
    let mut v: Vec<PathBuf> = Vec::new();
    for n in names {
        let p = pwads
            .iter()
            .find(|p| {
                p.file_name()
                    .is_some_and(|f| f.to_string_lossy() == n.as_str())
            })
            .ok_or_else(|| format!("{n:?} is not one of this service's pwads"))?;
        if v.contains(p) {
            return Err(format!("{n:?} twice"));
        }
        v.push(p.clone());
    }
    Ok(v)
}

/// The whole, validated configuration.
#[derive(Debug, Clone)]
pub struct ServeSettings {
    pub listen: SocketAddr,
    pub public_addr: Option<String>,
    pub stun_port: u16,
    pub turn_port: u16,
    pub data_dir: Option<PathBuf>,
    pub admin_token: Option<String>,
    /// TLS on the HTTP listener (https, wss); the files are re-read on SIGHUP.
    pub tls: Option<TlsFiles>,
    pub rtc_bind: Option<Ipv4Addr>,
    /// The UDP port dedicated rooms' WebRTC goes through; 0: any free port. With several
    /// `rtc_threads` (or per-room sockets), the first of as many consecutive ports.
    pub rtc_port: u16,
    /// WebRTC edge threads, each with its own socket; rooms are dealt to them in turn (shared
    /// edge only).
    pub rtc_threads: usize,
    pub rtc_edge: RtcEdge,
    /// Where rooms' LAN ports (`lan_port`) bind; None: every interface (0.0.0.0).
    pub lan_bind: Option<Ipv4Addr>,
    /// The IWADs rooms may use; the first is the default.
    pub iwads: Vec<PathBuf>,
    /// The PWADs and DEHACKED files rooms may play, named by file name in a room's `files`.
    pub pwads: Vec<PathBuf>,
    /// The browser player's files, served under `/play/` with the service's doom.wasm.
    pub web_dir: Option<PathBuf>,
    /// How long SIGTERM waits for games to end before telling players the room closes.
    pub drain_seconds: u64,
    /// Address ranges TURN may relay to besides the public Internet (private, loopback and
    /// other special ranges are refused otherwise).
    pub turn_allow_peers: Vec<IpNet>,
    /// Proxies whose `X-Forwarded-For` names the client (none by default: the header is
    /// ignored).
    pub trusted_proxies: Vec<IpNet>,
    /// Whether the built-in TURN is handed out (off: its port answers STUN only).
    pub builtin_turn: bool,
    /// External TURN servers, with their secrets read from their files.
    pub turn_servers: Vec<ExternalTurn>,
    pub limits: RoomLimits,
    pub standing: Vec<RoomSpec>,
}

impl ServeSettings {
    /// The UDP ports the rooms' WebRTC may take, when fixed (`rtc_port` set): a port per room
    /// up to `limits.rooms`, or one per shared edge thread.
    pub fn rtc_ports(&self) -> Option<std::ops::RangeInclusive<u16>> {
        let n = match self.rtc_edge {
            RtcEdge::PerRoom => self.limits.rooms.max(1),
            RtcEdge::Shared => self.rtc_threads.max(1),
        };
        (self.rtc_port != 0).then(|| {
            self.rtc_port
                ..=self
                    .rtc_port
                    .saturating_add((n - 1).min(u16::MAX as usize) as u16)
        })
    }
}

impl Default for ServeSettings {
    fn default() -> Self {
        ServeSettings {
            listen: SocketAddr::from(([0, 0, 0, 0], 7342)),
            public_addr: None,
            stun_port: 3478,
            turn_port: 3478,
            data_dir: None,
            admin_token: None,
            tls: None,
            rtc_bind: None,
            rtc_port: 0,
            rtc_threads: default_rtc_threads(),
            rtc_edge: RtcEdge::PerRoom,
            lan_bind: None,
            iwads: Vec::new(),
            pwads: Vec::new(),
            web_dir: None,
            drain_seconds: 20,
            turn_allow_peers: Vec::new(),
            trusted_proxies: Vec::new(),
            builtin_turn: true,
            turn_servers: Vec::new(),
            limits: RoomLimits::default(),
            standing: Vec::new(),
        }
    }
}

/// Reads and validates a config file.
pub fn load(path: &Path) -> Result<ServeSettings, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|err| ConfigError::Read {
        path: path.to_path_buf(),
        err,
    })?;
    parse(&text, path)
}

/// Parses and validates config text (`path` only names it in errors).
pub fn parse(text: &str, path: &Path) -> Result<ServeSettings, ConfigError> {
    let file: ServeFile = toml::from_str(text).map_err(|e| {
        // toml's message spans lines (it quotes the source); its first line and the key at the
        // error's position make the one line.
        let first = e.message().lines().next().unwrap_or("not TOML").to_string();
        match e.span().and_then(|s| key_at(text, s.start)) {
            Some((key, line)) if !first.contains(&key) => ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("{key} (line {line}): {first}"),
            },
            Some((_, line)) => ConfigError::Parse {
                path: path.to_path_buf(),
                message: format!("{first} (line {line})"),
            },
            None => ConfigError::Parse {
                path: path.to_path_buf(),
                message: first,
            },
        }
    })?;
    let mut s = ServeSettings::default();
    if let Some(v) = file.listen {
        s.listen = v;
    }
    s.public_addr = file.public_addr;
    if let Some(p) = &s.public_addr {
        if p.trim().is_empty() || p.contains(char::is_whitespace) || p.contains('/') {
            return Err(invalid("public_addr", "not a host name or IP address"));
        }
    }
    s.stun_port = file.stun_port.unwrap_or(s.stun_port);
    s.turn_port = file.turn_port.unwrap_or(s.turn_port);
    s.data_dir = file.data_dir;
    s.admin_token = match (file.admin_token, file.admin_token_file) {
        (Some(_), Some(_)) => {
            return Err(invalid(
                "admin_token_file",
                "set admin_token or admin_token_file, not both",
            ))
        }
        (Some(t), None) => Some(t),
        (None, Some(f)) => Some(read_token_file(&f).map_err(|m| invalid("admin_token_file", m))?),
        (None, None) => None,
    };
    if let Some(t) = &s.admin_token {
        check_token(t).map_err(|m| invalid("admin_token", m))?;
    }
    s.tls = match (file.tls_cert, file.tls_key) {
        (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
        (None, None) => None,
        (Some(_), None) => return Err(invalid("tls_key", "tls_cert needs tls_key too")),
        (None, Some(_)) => return Err(invalid("tls_cert", "tls_key needs tls_cert too")),
    };
    s.rtc_bind = file.rtc_bind;
    s.rtc_port = file.rtc_port.unwrap_or(0);
    if let Some(n) = file.rtc_threads {
        if !(1..=64).contains(&n) {
            return Err(invalid("rtc_threads", "between 1 and 64"));
        }
        s.rtc_threads = n;
    }
    s.rtc_edge = file.rtc_edge.unwrap_or(s.rtc_edge);
    if s.rtc_port != 0
        && s.rtc_edge == RtcEdge::Shared
        && s.rtc_port as usize + s.rtc_threads - 1 > 65535
    {
        return Err(invalid(
            "rtc_port",
            "too high for rtc_threads consecutive ports",
        ));
    }
    s.lan_bind = file.lan_bind;
    s.web_dir = file.web_dir;
    if let Some(d) = file.drain_seconds {
        if d > 3600 {
            return Err(invalid("drain_seconds", "at most 3600"));
        }
        s.drain_seconds = d;
    }
    for (i, p) in file.turn_allow_peers.iter().flatten().enumerate() {
        let net = p
            .parse::<IpNet>()
            .map_err(|e| invalid(format!("turn_allow_peers[{i}]"), e.to_string()))?;
        s.turn_allow_peers.push(net);
    }
    for (i, p) in file.trusted_proxies.iter().flatten().enumerate() {
        let net = p
            .parse::<IpNet>()
            .map_err(|e| invalid(format!("trusted_proxies[{i}]"), e.to_string()))?;
        s.trusted_proxies.push(net);
    }
    s.builtin_turn = file.builtin_turn.unwrap_or(true);
    for (i, t) in file.turn_servers.iter().enumerate() {
        // Named with the line of the key when it is there, as a parse error is.
        let key = |k: &str| {
            let name = format!("turn_server[{i}].{k}");
            match line_of(text, &name) {
                Some(line) => format!("{name} (line {line})"),
                None => name,
            }
        };
        if t.urls.is_empty() {
            return Err(invalid(key("urls"), "at least one turn: or turns: URL"));
        }
        for u in &t.urls {
            turn_rest::check_url(u).map_err(|e| invalid(key("urls"), e.to_string()))?;
        }
        let Some(f) = &t.secret_file else {
            return Err(invalid(
                key("secret_file"),
                "missing: the file with the server's static-auth-secret",
            ));
        };
        let secret = turn_rest::read_secret_file(f)
            .map_err(|e| invalid(key("secret_file"), e.to_string()))?;
        s.turn_servers.push(ExternalTurn {
            urls: t.urls.clone(),
            secret,
        });
    }
    if let Some(n) = file.limits.rooms {
        if n > 10_000 {
            return Err(invalid("limits.rooms", "at most 10000"));
        }
        s.limits.rooms = n;
    }
    if let Some(n) = file.limits.players_per_room {
        if !(1..=4).contains(&n) {
            return Err(invalid("limits.players_per_room", "1 to 4"));
        }
        s.limits.players_per_room = n;
    }
    if let Some(mb) = file.limits.guest_memory_mb {
        if !(16..=4096).contains(&mb) {
            return Err(invalid("limits.guest_memory_mb", "16 to 4096"));
        }
        s.limits.guest_memory = mb << 20;
    }
    s.iwads = file.iwads.unwrap_or_default();
    for (i, w) in s.iwads.iter().enumerate() {
        if !w.is_file() {
            return Err(invalid(
                format!("iwads[{i}]"),
                format!("{}: no such file", w.display()),
            ));
        }
    }
    s.pwads = file.pwads.unwrap_or_default();
    for (i, w) in s.pwads.iter().enumerate() {
        if !w.is_file() {
            return Err(invalid(
                format!("pwads[{i}]"),
                format!("{}: no such file", w.display()),
            ));
        }
    }
    let mut names = std::collections::HashSet::new();
    let mut lan_ports = std::collections::HashSet::new();
    for (i, r) in file.rooms.iter().enumerate() {
        let key = format!("room[{i}]");
        let Some(name) = r.name.clone() else {
            return Err(invalid(format!("{key}.name"), "missing"));
        };
        if !names.insert(name.clone()) {
            return Err(invalid(format!("{key}.name"), "two rooms have this name"));
        }
        let lan_port = lan_port_of(r.lan_port, [s.stun_port, s.turn_port], &mut lan_ports)
            .map_err(|m| invalid(format!("{key}.lan_port"), m))?;
        if let (Some(p), Some(range)) = (lan_port, s.rtc_ports()) {
            if range.contains(&p) {
                return Err(invalid(
                    format!("{key}.lan_port"),
                    format!(
                        "{p} is among the rooms' WebRTC ports ({}-{})",
                        range.start(),
                        range.end()
                    ),
                ));
            }
        }
        let iwad = match r.iwad.as_ref().map(PathBuf::from) {
            Some(p) => {
                if !p.is_file() {
                    return Err(invalid(
                        format!("{key}.iwad"),
                        format!("{}: no such file", p.display()),
                    ));
                }
                p.clone()
            }
            None => s.iwads.first().cloned().ok_or_else(|| {
                invalid(
                    format!("{key}.iwad"),
                    "missing (and no iwads list to default to)",
                )
            })?,
        };
        let game = game_of(r, s.limits.players_per_room)
            .map_err(|e| invalid(format!("{key}.{}", e.field), e.message))?;
        let files = files_of(&r.files, &s.pwads).map_err(|m| invalid(format!("{key}.files"), m))?;
        s.standing.push(RoomSpec {
            name,
            iwad,
            game,
            lan_port,
            files,
        });
    }
    if s.standing.len() > s.limits.rooms {
        return Err(invalid(
            "limits.rooms",
            format!(
                "{} standing rooms but a limit of {}",
                s.standing.len(),
                s.limits.rooms
            ),
        ));
    }
    if s.rtc_port != 0
        && s.rtc_edge == RtcEdge::PerRoom
        && s.rtc_port as usize + s.limits.rooms.max(1) - 1 > 65535
    {
        return Err(invalid(
            "rtc_port",
            "too high for a port per room (limits.rooms consecutive ports)",
        ));
    }
    Ok(s)
}

/// The admin token kept in `path`: its first line, trimmed. An error in one line.
pub fn read_token_file(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    check_token(&token).map_err(|m| format!("{}: {m}", path.display()))?;
    Ok(token)
}

/// A token long enough not to be guessed, and printable.
pub fn check_token(t: &str) -> Result<(), String> {
    if t.len() < 16 {
        return Err("too short: use at least 16 characters".into());
    }
    if t.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err("spaces or control characters in the token".into());
    }
    Ok(())
}

/// A room's `lan_port` (the config's, and the admin API's after it refused 0): None for 0 or
/// absent; an error for a port another room (`taken`; the port is added to it) or the
/// service's STUN/TURN (`stun_turn`, also UDP) has, or 65535 (the LAN bridge keeps the numbers
/// of ports below 65535 only).
pub fn lan_port_of(
    port: Option<u16>,
    stun_turn: [u16; 2],
    taken: &mut std::collections::HashSet<u16>,
) -> Result<Option<u16>, String> {
    let p = match port {
        None | Some(0) => return Ok(None),
        Some(p) => p,
    };
    if p == u16::MAX {
        return Err("1 to 65534 (0: none)".into());
    }
    if stun_turn.contains(&p) {
        return Err(format!("{p} is the service's STUN/TURN port"));
    }
    if !taken.insert(p) {
        return Err(format!("{p}: another room has this port"));
    }
    Ok(Some(p))
}

/// The dotted key (`limits.rooms`, `room.iwad`) whose value is at byte `offset`, and its line.
fn key_at(text: &str, offset: usize) -> Option<(String, usize)> {
    let offset = offset.min(text.len());
    let line_no = text[..offset].matches('\n').count() + 1;
    let mut table = String::new();
    // `[[room]]` tables are counted: the key of the second is `room[1].mode`.
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    for (i, line) in text.lines().enumerate() {
        let l = line.trim();
        if l.starts_with('[') {
            let name = l.trim_matches(|c| c == '[' || c == ']').trim().to_string();
            table = if l.starts_with("[[") {
                let n = arrays.entry(name.clone()).or_default();
                *n += 1;
                format!("{name}[{}]", *n - 1)
            } else {
                name
            };
        }
        if i + 1 == line_no {
            let key = l.split_once('=').map(|(k, _)| k.trim().to_string())?;
            return Some((
                if table.is_empty() {
                    key
                } else {
                    format!("{table}.{key}")
                },
                line_no,
            ));
        }
    }
    None
}

/// The line of dotted `key` (as [`key_at`] names keys), if the text has it.
fn line_of(text: &str, key: &str) -> Option<usize> {
    let mut offset = 0;
    for line in text.split_inclusive('\n') {
        if let Some((k, n)) = key_at(text, offset) {
            if k == key {
                return Some(n);
            }
        }
        offset += line.len();
    }
    None
}

/// A room request's game, checked, with its players set (the service's `players_per_room`
/// when the request leaves them out); an error names the field and what is wrong.
pub fn game_of(req: &RoomRequest, max_players: u8) -> Result<GameSettings, SettingsError> {
    req.game.check(max_players)?;
    if let Some(n) = &req.name {
        if n.len() > 64 || n.chars().any(|c| c.is_control()) {
            return Err(SettingsError {
                field: "name",
                message: "at most 64 printable characters".into(),
            });
        }
    }
    Ok(GameSettings {
        players: Some(req.game.players_or(max_players)),
        ..req.game.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rooms_files_are_names_among_the_services_pwads() {
        let pwads = vec![PathBuf::from("/srv/a.wad"), PathBuf::from("/srv/b.deh")];
        let names = |n: &[&str]| n.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            files_of(&names(&["b.deh", "a.wad"]), &pwads),
            Ok(vec![
                PathBuf::from("/srv/b.deh"),
                PathBuf::from("/srv/a.wad")
            ])
        );
        // A path is not a name, even of a listed file; nor is another file, or one twice.
        for bad in [
            &["/srv/a.wad"][..],
            &["../a.wad"],
            &["c.wad"],
            &["a.wad", "a.wad"],
        ] {
            assert!(files_of(&names(bad), &pwads).is_err(), "{bad:?}");
        }
        assert!(files_of(&vec!["a.wad".to_string(); 17], &pwads).is_err());
        // A [[room]] naming one that is not listed is refused with its key.
        let dir = std::env::temp_dir().join(format!("doomlink-cfg-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let iwad = dir.join("x.wad");
        std::fs::write(&iwad, b"IWAD").unwrap();
        let cfg = dir.join("serve.toml");
        std::fs::write(
            &cfg,
            format!(
                "iwads = [\"{}\"]\n[[room]]\nname = \"r\"\nfiles = [\"maps.wad\"]\n",
                iwad.display()
            ),
        )
        .unwrap();
        let e = load(&cfg).unwrap_err().to_string();
        assert!(e.starts_with("room[0].files"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_key_is_named() {
        let e = parse(
            "listen = \"127.0.0.1:1\"\nlistne = 3\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().contains("listne"), "{e}");
        let e = parse("[limits]\nplayers_per_room = 9\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().starts_with("limits.players_per_room"), "{e}");
        let e = parse("[[room]]\nname = \"a\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().starts_with("room[0].iwad"), "{e}");
        // A room's game keys are named with the room's index and the line.
        let two = "[[room]]\nname = \"a\"\n[[room]]\nname = \"b\"\nmode = \"ctf\"\n";
        let e = parse(two, Path::new("x.toml")).unwrap_err().to_string();
        assert!(e.contains("room[1].mode") && e.contains("line 5"), "{e}");
        let e = parse("[[room]]\nname = \"a\"\nmdoe = 1\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("room[0].mdoe"), "{e}");
    }

    #[test]
    fn tls_cert_and_tls_key_go_together() {
        let s = parse(
            "tls_cert = \"/etc/doomlink/cert.pem\"\ntls_key = \"/etc/doomlink/key.pem\"\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(
            s.tls,
            Some(TlsFiles {
                cert: "/etc/doomlink/cert.pem".into(),
                key: "/etc/doomlink/key.pem".into(),
            })
        );
        let e = parse("tls_cert = \"c.pem\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().starts_with("tls_key"), "{e}");
        let e = parse("tls_key = \"k.pem\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().starts_with("tls_cert"), "{e}");
        assert_eq!(ServeSettings::default().tls, None);
    }

    #[test]
    fn turn_allow_peers_are_ranges_and_a_bad_one_is_named() {
        let s = parse(
            "turn_allow_peers = [\"10.0.0.0/8\", \"fd00::/8\", \"192.0.2.7\"]\n",
            Path::new("x.toml"),
        )
        .unwrap();
        let shown: Vec<String> = s.turn_allow_peers.iter().map(|n| n.to_string()).collect();
        assert_eq!(shown, ["10.0.0.0/8", "fd00::/8", "192.0.2.7/32"]);
        let e = parse(
            "turn_allow_peers = [\"10.0.0.0/8\", \"10.0.0.1/8\"]\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.starts_with("turn_allow_peers[1]") && e.contains("10.0.0.0/8"),
            "{e}"
        );
        let e = parse("turn_allow_peers = [\"lan\"]\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("turn_allow_peers[0]"), "{e}");
        assert!(ServeSettings::default().turn_allow_peers.is_empty());
        let s = parse(
            "trusted_proxies = [\"127.0.0.1\", \"10.0.0.0/8\"]\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(s.trusted_proxies.len(), 2);
        let e = parse("trusted_proxies = [\"proxy\"]\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().starts_with("trusted_proxies[0]"), "{e}");
    }

    #[test]
    fn external_turn_servers_are_read_and_a_bad_url_is_named_with_its_line() {
        use std::os::unix::fs::PermissionsExt;
        let secret =
            std::env::temp_dir().join(format!("doomlink-coturn-secret-{}", std::process::id()));
        std::fs::write(&secret, "a-shared-secret-of-some-length\n").unwrap();
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o600)).unwrap();
        let two = format!(
            "builtin_turn = false\n[[turn_server]]\nurls = [\"turn:turn.example.org:3478?transport=udp\"]\nsecret_file = \"{0}\"\n[[turn_server]]\nurls = [\"turns:turn2.example.org:5349\"]\nsecret_file = \"{0}\"\n",
            secret.display()
        );
        let s = parse(&two, Path::new("x.toml")).unwrap();
        assert!(!s.builtin_turn);
        assert_eq!(s.turn_servers.len(), 2);
        assert_eq!(s.turn_servers[1].urls, ["turns:turn2.example.org:5349"]);
        assert_eq!(
            s.turn_servers[0].secret,
            turn_rest::Secret::new("a-shared-secret-of-some-length")
        );
        // The secret shows in no debug print of the settings.
        assert!(!format!("{s:?}").contains("shared-secret"));
        let d = parse("", Path::new("x.toml")).unwrap();
        assert!(d.builtin_turn && d.turn_servers.is_empty());
        // The second server's bad URL: its index, the key and the line, on one line.
        let bad = two.replace("turns:turn2", "stun:turn2");
        let e = parse(&bad, Path::new("x.toml")).unwrap_err().to_string();
        assert!(
            e.starts_with("turn_server[1].urls (line 6): \"stun:turn2"),
            "{e}"
        );
        assert_eq!(e.lines().count(), 1, "{e}");
        let e = parse("[[turn_server]]\nurls = []\n", Path::new("x.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("turn_server[0].urls (line 2)"), "{e}");
        let e = parse(
            "[[turn_server]]\nurls = [\"turn:a.example\"]\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(e.starts_with("turn_server[0].secret_file: missing"), "{e}");
        // The secret itself never goes in the file.
        let e = parse(
            "[[turn_server]]\nurls = [\"turn:a.example\"]\nsecret = \"x\"\n",
            Path::new("x.toml"),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("turn_server[0].secret") && e.contains("line 3"),
            "{e}"
        );
        // A secret file anyone may read is refused, naming the key and not the secret.
        std::fs::set_permissions(&secret, std::fs::Permissions::from_mode(0o644)).unwrap();
        let e = parse(&two, Path::new("x.toml")).unwrap_err().to_string();
        assert!(
            e.starts_with("turn_server[0].secret_file (line 4)") && !e.contains("shared-secret"),
            "{e}"
        );
        std::fs::remove_file(&secret).unwrap();
    }

    #[test]
    fn a_good_file_parses() {
        let s = parse(
            "listen = \"127.0.0.1:7342\"\nadmin_token = \"0123456789abcdef\"\n[limits]\nrooms = 3\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(s.limits.rooms, 3);
        assert_eq!(s.admin_token.as_deref(), Some("0123456789abcdef"));
    }

    #[test]
    fn rtc_ports_and_threads_are_checked() {
        let s = parse(
            "rtc_port = 7343
rtc_threads = 4
",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!((s.rtc_port, s.rtc_threads), (7343, 4));
        let s = parse("", Path::new("x.toml")).unwrap();
        assert_eq!(s.rtc_port, 0);
        assert!((1..=16).contains(&s.rtc_threads));
        for bad in ["rtc_threads = 0", "rtc_threads = 65"] {
            let e = parse(bad, Path::new("x.toml")).unwrap_err();
            assert!(e.to_string().starts_with("rtc_threads"), "{e}");
        }
        let e = parse(
            "rtc_port = 65534
rtc_threads = 3
",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("rtc_port"), "{e}");
    }

    #[test]
    fn the_rtc_edge_is_per_room_unless_told_and_its_ports_are_checked() {
        let s = parse("", Path::new("x.toml")).unwrap();
        assert_eq!(s.rtc_edge, RtcEdge::PerRoom);
        let s = parse(
            "rtc_edge = \"shared\"\nrtc_port = 65534\nrtc_threads = 2\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!(s.rtc_edge, RtcEdge::Shared);
        // Per room: limits.rooms consecutive ports from rtc_port.
        let s = parse(
            "rtc_port = 65000\n[limits]\nrooms = 536\n",
            Path::new("x.toml"),
        )
        .unwrap();
        assert_eq!((s.rtc_port, s.limits.rooms), (65000, 536));
        let e = parse(
            "rtc_port = 65000\n[limits]\nrooms = 537\n",
            Path::new("x.toml"),
        )
        .unwrap_err();
        assert!(e.to_string().starts_with("rtc_port"), "{e}");
        let e = parse("rtc_edge = \"per-thread\"\n", Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().contains("rtc_edge"), "{e}");
        // A standing room's LAN port is not one the rooms' WebRTC may take.
        let wad =
            std::env::temp_dir().join(format!("doomlink-rtcrange-{}.wad", std::process::id()));
        std::fs::write(&wad, b"IWAD").unwrap();
        let room = |port: u16| {
            format!(
                "rtc_port = 7400\n[limits]\nrooms = 10\n[[room]]\nname = \"a\"\niwad = \"{}\"\nlan_port = {port}\n",
                wad.display()
            )
        };
        let e = parse(&room(7409), Path::new("x.toml")).unwrap_err();
        assert!(e.to_string().starts_with("room[0].lan_port"), "{e}");
        assert!(parse(&room(7410), Path::new("x.toml")).is_ok());
        let shared = format!("rtc_edge = \"shared\"\nrtc_threads = 2\n{}", room(7402));
        assert!(parse(&shared, Path::new("x.toml")).is_ok());
        let _ = std::fs::remove_file(&wad);
    }

    #[test]
    fn lan_ports_are_checked() {
        let wad = std::env::temp_dir().join(format!("doomlink-lanport-{}.wad", std::process::id()));
        std::fs::write(&wad, b"IWAD").unwrap();
        let room = |name: &str, port: &str| {
            format!(
                "[[room]]\nname = \"{name}\"\niwad = \"{}\"\n{port}\n",
                wad.display()
            )
        };
        let parse_rooms = |rooms: &[String]| parse(&rooms.concat(), Path::new("x.toml"));
        // Absent and 0 are "none"; a port is kept.
        let s = parse_rooms(&[
            room("a", ""),
            room("b", "lan_port = 0"),
            room("c", "lan_port = 27000"),
            room("d", "lan_port = 27001"),
        ])
        .unwrap();
        let ports: Vec<Option<u16>> = s.standing.iter().map(|r| r.lan_port).collect();
        assert_eq!(ports, vec![None, None, Some(27000), Some(27001)]);
        // Two rooms with one port: the second is named.
        let e = parse_rooms(&[room("a", "lan_port = 27000"), room("b", "lan_port = 27000")])
            .unwrap_err();
        assert!(e.to_string().starts_with("room[1].lan_port"), "{e}");
        // Out of range, wrong type, the STUN/TURN port, 65535: named, one line.
        for bad in [
            "lan_port = 70000",
            "lan_port = -1",
            "lan_port = \"x\"",
            "lan_port = 3478",
            "lan_port = 65535",
        ] {
            let e = parse_rooms(&[room("a", bad)]).unwrap_err().to_string();
            assert!(e.contains("lan_port"), "{bad}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        }
        let s = parse("lan_bind = \"127.0.0.1\"\n", Path::new("x.toml")).unwrap();
        assert_eq!(s.lan_bind, Some(Ipv4Addr::LOCALHOST));
        let _ = std::fs::remove_file(&wad);
    }
}
