//! Chocolate Doom 3.0's own packets, as `net_packet.c`, `net_common.c` and `net_structrw.c`
//! write them: one typed view per packet doomlink reads or writes, parse and emit, in the manner
//! of smoltcp's `wire`. A short or malformed packet is a typed [`PacketError`], never a panic.
//!
//! Every Chocolate Doom integer is big-endian. A packet starts with its 16-bit type
//! ([`PacketType`], `net_defs.h`); the top bit ([`RELIABLE`]) marks a reliable packet, which
//! carries an 8-bit sequence number next (`NET_Conn_NewReliable`). Then the body:
//!
//! ```text
//! SYN          u32 magic, str version, protocol list, connect data, str player name
//! REJECTED     str reason
//! WAITING_DATA, CONSOLE_MESSAGE, and the SYN's WAD sums: see [`wads`]
//! GAMESTART    (reliable) net_gamesettings_t: see Settings
//! GAMEDATA     never reliable: tic numbers, acks and ticcmds
//! QUERY/QUERY_RESPONSE   lan::query's (the server browser's two packets)
//! ```
//!
//! [`lobby`] reads the other thing a Chocolate Doom guest says about its netgame: the lobby
//! records it writes to `/dev/lobby`.
//!
//! Who uses it: the LAN query (its packet types), the LAN side protocol (its magic is no
//! packet type), the dedicated rooms of `doomlink serve` (they turn a full room's joiners away
//! with [`reject`], tell a SYN from junk, time GAMEDATA and rewrite a GAMESTART's
//! [`Settings`]), the LAN bridge (it tells a native client whose WADs differ what the game
//! plays, [`wads`]), and the test bots, which speak the client's side.

pub mod lobby;
pub mod settings;
pub mod wads;

pub use settings::{GameMode, GameSettings, ServerRole, SettingsError};

/// The reliable bit of a packet's type.
pub const RELIABLE: u16 = 0x8000;

/// `NET_MAGIC_NUMBER`: a 3.0 client's SYN.
pub const SYN_MAGIC: u32 = 1454104972;
/// `NET_OLD_MAGIC_NUMBER`: a client from before 3.0, which a server answers (with a reject, by
/// its version) rather than drops.
pub const SYN_MAGIC_OLD: u32 = 3436803284;

/// `net_packet_type_t` (`net_defs.h`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u16)]
pub enum PacketType {
    Syn = 0,
    /// Deprecated in 3.0; never sent.
    Ack = 1,
    Rejected = 2,
    Keepalive = 3,
    WaitingData = 4,
    GameStart = 5,
    GameData = 6,
    GameDataAck = 7,
    Disconnect = 8,
    DisconnectAck = 9,
    ReliableAck = 10,
    GameDataResend = 11,
    ConsoleMessage = 12,
    Query = 13,
    QueryResponse = 14,
    Launch = 15,
    NatHolePunch = 16,
}

impl PacketType {
    const ALL: [PacketType; 17] = [
        PacketType::Syn,
        PacketType::Ack,
        PacketType::Rejected,
        PacketType::Keepalive,
        PacketType::WaitingData,
        PacketType::GameStart,
        PacketType::GameData,
        PacketType::GameDataAck,
        PacketType::Disconnect,
        PacketType::DisconnectAck,
        PacketType::ReliableAck,
        PacketType::GameDataResend,
        PacketType::ConsoleMessage,
        PacketType::Query,
        PacketType::QueryResponse,
        PacketType::Launch,
        PacketType::NatHolePunch,
    ];

    /// The type with this number (the reliable bit cleared first), if there is one.
    pub fn from_code(code: u16) -> Option<PacketType> {
        Self::ALL.get(usize::from(code & !RELIABLE)).copied()
    }

    /// Its number on the wire, without the reliable bit.
    pub fn code(self) -> u16 {
        self as u16
    }
}

/// Why bytes are not the packet they were read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacketError {
    #[error("{len} bytes are too short for a {what}")]
    Short { len: usize, what: &'static str },
    #[error("unknown packet type {0:#06x}")]
    UnknownType(u16),
    #[error("a {0:?} packet is not sent that way (reliable or not)")]
    Delivery(PacketType),
    #[error("a {got:?} packet, not a {want:?}")]
    NotA { want: PacketType, got: PacketType },
    #[error("a SYN without 3.0's magic number")]
    Magic,
}

fn short(len: usize, what: &'static str) -> PacketError {
    PacketError::Short { len, what }
}

/// A packet's header: its type, and a reliable packet's sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub kind: PacketType,
    /// `Some(seq)` for a reliable packet.
    pub reliable: Option<u8>,
}

impl Header {
    /// The header and the body after it.
    pub fn parse(data: &[u8]) -> Result<(Header, &[u8]), PacketError> {
        let [hi, lo, rest @ ..] = data else {
            return Err(short(data.len(), "packet type"));
        };
        let code = u16::from_be_bytes([*hi, *lo]);
        let kind = PacketType::from_code(code).ok_or(PacketError::UnknownType(code))?;
        if code & RELIABLE == 0 {
            return Ok((
                Header {
                    kind,
                    reliable: None,
                },
                rest,
            ));
        }
        let [seq, body @ ..] = rest else {
            return Err(short(data.len(), "reliable packet's sequence number"));
        };
        Ok((
            Header {
                kind,
                reliable: Some(*seq),
            },
            body,
        ))
    }

    /// Its bytes on the wire.
    pub fn len(&self) -> usize {
        2 + usize::from(self.reliable.is_some())
    }

    /// Never empty; here for clippy's len-without-is-empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    pub fn emit(&self, out: &mut Vec<u8>) {
        let code = self.kind.code() | if self.reliable.is_some() { RELIABLE } else { 0 };
        out.extend_from_slice(&code.to_be_bytes());
        out.extend(self.reliable);
    }
}

/// A client's connect: an unreliable SYN that starts with either magic number. Only a SYN is
/// answered when a server refuses; anything else that is not a game's packet is dropped.
pub fn is_syn(data: &[u8]) -> bool {
    match Header::parse(data) {
        Ok((
            Header {
                kind: PacketType::Syn,
                reliable: None,
            },
            [a, b, c, d, ..],
        )) => [SYN_MAGIC, SYN_MAGIC_OLD].contains(&u32::from_be_bytes([*a, *b, *c, *d])),
        _ => false,
    }
}

/// A server browser's QUERY: the server answers with its game's description (QUERY_RESPONSE).
pub fn is_query(data: &[u8]) -> bool {
    matches!(
        Header::parse(data),
        Ok((
            Header {
                kind: PacketType::Query,
                reliable: None
            },
            _
        ))
    )
}

/// `NET_SV_SendReject`'s packet: the client shows the reason and gives up. Smaller than the
/// SYN it answers for any reason shorter than a player's name, so it amplifies nothing.
pub fn reject(reason: &str) -> Vec<u8> {
    string_packet(PacketType::Rejected, reason)
}

/// An unreliable packet of type `kind` whose body is one string, `text` (an inner NUL, which
/// would cut it short, left out).
fn string_packet(kind: PacketType, text: &str) -> Vec<u8> {
    let mut p = Vec::with_capacity(3 + text.len());
    Header {
        kind,
        reliable: None,
    }
    .emit(&mut p);
    p.extend(text.bytes().filter(|b| *b != 0));
    p.push(0);
    p
}

/// The packet that tells the other end this one is going.
pub const DISCONNECT: [u8; 2] = (PacketType::Disconnect as u16).to_be_bytes();

/// True for GAMEDATA, the packet a game's tics travel in (never reliable).
pub fn is_gamedata(data: &[u8]) -> bool {
    matches!(
        Header::parse(data),
        Ok((
            Header {
                kind: PacketType::GameData,
                reliable: None
            },
            _
        ))
    )
}

/// The game settings a GAMESTART carries (`net_gamesettings_t` as `NET_WriteSettings` writes
/// it, from the body's start), as a view over the body that reads and rewrites its fields in
/// place: ticdup, extratics, deathmatch, nomonsters, fast, respawn, episode, map, skill
/// (0-based), gameversion, lowres_turn, new_sync, timelimit (u32, minutes), then loadgame,
/// random, num_players, consoleplayer and the player classes, which nothing here touches.
#[derive(Debug)]
pub struct Settings<'a> {
    body: &'a mut [u8],
}

impl<'a> Settings<'a> {
    const DEATHMATCH: usize = 2;
    const NOMONSTERS: usize = 3;
    const FAST: usize = 4;
    const RESPAWN: usize = 5;
    const EPISODE: usize = 6;
    const MAP: usize = 7;
    const SKILL: usize = 8;
    const TIMELIMIT: usize = 12;
    /// The shortest body that holds every field this view touches (through timelimit).
    pub const MIN_LEN: usize = Self::TIMELIMIT + 4;

    /// The settings of a GAMESTART packet (sent reliably, as only a client's is), if it is one.
    pub fn of_gamestart(packet: &'a mut [u8]) -> Result<Settings<'a>, PacketError> {
        let (header, _) = Header::parse(packet)?;
        if header.kind != PacketType::GameStart {
            return Err(PacketError::Delivery(header.kind));
        }
        if header.reliable.is_none() {
            return Err(PacketError::Delivery(PacketType::GameStart));
        }
        let at = header.len();
        Settings::new_checked(&mut packet[at..])
    }

    /// A view over a settings body, if it is long enough.
    pub fn new_checked(body: &'a mut [u8]) -> Result<Settings<'a>, PacketError> {
        if body.len() < Self::MIN_LEN {
            return Err(short(body.len(), "game settings"));
        }
        Ok(Settings { body })
    }

    /// 0 coop, 1 deathmatch, 2 altdeath.
    pub fn deathmatch(&self) -> u8 {
        self.body[Self::DEATHMATCH]
    }
    pub fn set_deathmatch(&mut self, v: u8) {
        self.body[Self::DEATHMATCH] = v;
    }
    pub fn nomonsters(&self) -> bool {
        self.body[Self::NOMONSTERS] != 0
    }
    pub fn set_nomonsters(&mut self, v: bool) {
        self.body[Self::NOMONSTERS] = v.into();
    }
    pub fn fast(&self) -> bool {
        self.body[Self::FAST] != 0
    }
    pub fn set_fast(&mut self, v: bool) {
        self.body[Self::FAST] = v.into();
    }
    pub fn respawn(&self) -> bool {
        self.body[Self::RESPAWN] != 0
    }
    pub fn set_respawn(&mut self, v: bool) {
        self.body[Self::RESPAWN] = v.into();
    }
    pub fn episode(&self) -> u8 {
        self.body[Self::EPISODE]
    }
    pub fn set_episode(&mut self, v: u8) {
        self.body[Self::EPISODE] = v;
    }
    pub fn map(&self) -> u8 {
        self.body[Self::MAP]
    }
    pub fn set_map(&mut self, v: u8) {
        self.body[Self::MAP] = v;
    }
    /// 0-based, as the engine's `skill_t` (the command line's `-skill 4` is 3).
    pub fn skill(&self) -> u8 {
        self.body[Self::SKILL]
    }
    pub fn set_skill(&mut self, v: u8) {
        self.body[Self::SKILL] = v;
    }
    /// Minutes per level; 0: none.
    pub fn timelimit(&self) -> u32 {
        let t = &self.body[Self::TIMELIMIT..Self::TIMELIMIT + 4];
        u32::from_be_bytes([t[0], t[1], t[2], t[3]])
    }
    pub fn set_timelimit(&mut self, v: u32) {
        self.body[Self::TIMELIMIT..Self::TIMELIMIT + 4].copy_from_slice(&v.to_be_bytes());
    }

    /// Makes these the settings `g` chooses: mode, monsters, fast, respawn, timer, and the map
    /// and skill where `g` sets them (the sender's stand otherwise). A dedicated room does this
    /// to its controller's GAMESTART, so the room's game is played whoever launches.
    pub fn enforce(&mut self, g: &GameSettings) {
        self.set_deathmatch(g.mode.deathmatch());
        self.set_nomonsters(g.nomonsters);
        self.set_fast(g.fast);
        self.set_respawn(g.respawn);
        if let Some((episode, map)) = g.warp {
            self.set_episode(episode.unwrap_or(1));
            self.set_map(map);
        }
        if let Some(skill) = g.skill {
            self.set_skill(skill.saturating_sub(1));
        }
        self.set_timelimit(g.timer_minutes.unwrap_or(0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A GAMESTART as NET_WriteSettings makes it: coop, E1M1, skill 2 (0-based), no timer.
    fn gamestart() -> Vec<u8> {
        vec![
            0x80, 0x05, 0x01, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 7, 2, 0, 0, 0,
        ]
    }

    #[test]
    fn every_type_round_trips_with_and_without_the_reliable_bit() {
        for t in PacketType::ALL {
            for reliable in [None, Some(0xAB)] {
                let h = Header { kind: t, reliable };
                let mut out = Vec::new();
                h.emit(&mut out);
                out.push(0x42);
                assert_eq!(out.len(), h.len() + 1);
                assert_eq!(Header::parse(&out), Ok((h, &[0x42][..])));
            }
        }
    }

    #[test]
    fn every_malformed_header_is_an_error() {
        assert_eq!(Header::parse(&[]), Err(short(0, "packet type")));
        assert_eq!(Header::parse(&[0]), Err(short(1, "packet type")));
        for code in 17..=0x7fffu16 {
            for c in [code, code | RELIABLE] {
                assert_eq!(
                    Header::parse(&c.to_be_bytes()),
                    Err(PacketError::UnknownType(c))
                );
            }
        }
        assert_eq!(
            Header::parse(&[0x80, 0x05]),
            Err(short(2, "reliable packet's sequence number"))
        );
    }

    #[test]
    fn syns_are_told_from_junk() {
        let mut syn = vec![0, 0];
        syn.extend(SYN_MAGIC.to_be_bytes());
        syn.extend(b"CHOCOLATE_DOOM_0\0");
        assert!(is_syn(&syn));
        let mut old = vec![0, 0];
        old.extend(SYN_MAGIC_OLD.to_be_bytes());
        assert!(is_syn(&old));
        assert!(!is_syn(&syn[..5]), "a magic cut short");
        assert!(!is_syn(&[0, 0, 1, 2, 3, 4]), "another magic");
        let mut reliable = vec![0x80, 0, 0];
        reliable.extend(SYN_MAGIC.to_be_bytes());
        assert!(!is_syn(&reliable), "a SYN is never reliable");
        assert!(!is_syn(b"DLNK\x01\x01"), "a side frame");
    }

    #[test]
    fn a_reject_is_its_reason_with_no_inner_nul() {
        assert_eq!(reject("Server is full!"), b"\0\x02Server is full!\0");
        assert_eq!(reject("a\0b"), b"\0\x02ab\0");
        let (h, body) = Header::parse(&DISCONNECT).unwrap();
        assert_eq!(
            (h.kind, h.reliable, body.len()),
            (PacketType::Disconnect, None, 0)
        );
    }

    #[test]
    fn gamedata_is_unreliable_only() {
        assert!(is_gamedata(&[0x00, 0x06, 1, 2]));
        assert!(!is_gamedata(&[0x80, 0x06, 1, 2]));
        assert!(!is_gamedata(&[0x00, 0x05]));
        assert!(!is_gamedata(&[0x00]));
    }

    #[test]
    fn a_gamestarts_settings_are_read_and_rewritten_in_place() {
        let mut p = gamestart();
        let mut s = Settings::of_gamestart(&mut p).unwrap();
        assert_eq!(
            (
                s.deathmatch(),
                s.episode(),
                s.map(),
                s.skill(),
                s.timelimit()
            ),
            (0, 1, 1, 2, 0)
        );
        assert!(!s.nomonsters() && !s.fast() && !s.respawn());
        s.set_deathmatch(1);
        s.set_nomonsters(true);
        s.set_respawn(true);
        s.set_episode(2);
        s.set_map(3);
        s.set_skill(3);
        s.set_timelimit(10);
        assert_eq!(
            &p[..],
            &[0x80, 0x05, 0x01, 1, 1, 1, 1, 0, 1, 2, 3, 3, 0, 0, 1, 0, 0, 0, 10, 0, 7, 2, 0, 0, 0]
        );
    }

    #[test]
    fn settings_come_only_from_a_whole_reliable_gamestart() {
        let mut p = gamestart();
        for cut in 0..3 + Settings::MIN_LEN {
            assert!(
                Settings::of_gamestart(&mut p[..cut]).is_err(),
                "cut at {cut}"
            );
        }
        assert!(Settings::of_gamestart(&mut p[..3 + Settings::MIN_LEN]).is_ok());
        let mut unreliable = gamestart();
        unreliable.remove(2);
        unreliable[0] = 0;
        assert_eq!(
            Settings::of_gamestart(&mut unreliable).unwrap_err(),
            PacketError::Delivery(PacketType::GameStart)
        );
        let mut launch = gamestart();
        launch[1] = 15;
        assert_eq!(
            Settings::of_gamestart(&mut launch).unwrap_err(),
            PacketError::Delivery(PacketType::Launch)
        );
    }
}
