//! The rendezvous's rooms: who hosts, who joined, what may be relayed to whom, and the limits.
//!
//! Owns the room table and every rule about it, and nothing else: no sockets, no clock of its
//! own (every call carries `now`), no JSON. Each call returns the messages to send, as
//! `(connection, message)` pairs; the server puts them on the connections' sockets. This keeps
//! the rules testable without a network, the way the session core is.
//!
//! Rules:
//! - `host` makes a room (id, host secret, join secret, expiry) unless the source address
//!   already holds [`Limits::rooms_per_ip`] rooms or the service holds [`Limits::max_rooms`].
//! - `join` needs the room's join secret, an unexpired room, a present host and a free place
//!   ([`Limits::joiners_per_room`]). The host hears `peer`.
//! - `signal` goes joiner → its host, or host → one of its joiners; nowhere else.
//! - A room ends when its host says `leave`, when its host's socket has been gone for
//!   [`Limits::host_grace`] without a `resume`, or after [`Limits::room_idle`] without any
//!   message from its members (clients send `keepalive`). Its joiners hear `closed`.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::time::{Duration, Instant};

use crate::signaling::{ErrorCode, GameInfo, IceServer, Message};

/// A connection's id, given by the server.
pub type ConnId = u64;

/// The service's limits. [`Limits::default`] suits a small public instance.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_rooms: usize,
    pub rooms_per_ip: usize,
    /// Joiners in a room's signaling at once. A joiner leaves the signaling once its link is
    /// up, so this caps concurrent negotiations; the hub's session caps the players.
    pub joiners_per_room: usize,
    /// WebSocket connections per source address.
    pub connections_per_ip: usize,
    /// Messages a connection may send per second on average, and in a burst.
    pub messages_per_sec: f64,
    pub message_burst: f64,
    /// Rate-limit violations after which a connection is dropped.
    pub max_violations: u32,
    pub room_idle: Duration,
    pub host_grace: Duration,
    /// How long join secrets and TURN credentials of a room are good for (and only while
    /// the room is open).
    pub credential_ttl: Duration,
    /// Bytes a second each TURN allocation relays each way, and its burst in bytes (a DOOM
    /// game is ~10 kB/s a player). The TURN quotas follow from the limits above
    /// ([`super::turn::TurnLimits`]).
    pub turn_bytes_per_sec: u32,
    pub turn_burst_bytes: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_rooms: 1000,
            rooms_per_ip: 4,
            joiners_per_room: 15,
            connections_per_ip: 32,
            messages_per_sec: 20.0,
            message_burst: 60.0,
            max_violations: 50,
            room_idle: Duration::from_secs(300),
            host_grace: Duration::from_secs(20),
            credential_ttl: Duration::from_secs(6 * 3600),
            turn_bytes_per_sec: 256 * 1024,
            turn_burst_bytes: 512 * 1024,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    None,
    Host,
    Joiner(u32),
}

#[derive(Debug)]
struct Conn {
    ip: IpAddr,
    role: Role,
    room: Option<String>,
}

#[derive(Debug)]
struct Room {
    /// The name the host registered with (shown to a joiner who asks first).
    host_name: String,
    /// Who is in the room and how many the game waits for, as the host last said.
    players: Vec<String>,
    expected: u8,
    /// What the room plays as the host said ([`Message::Game`]), empty until it says.
    game: GameInfo,
    host_secret: String,
    join_secret: String,
    host: Option<ConnId>,
    host_gone_since: Option<Instant>,
    joiners: BTreeMap<u32, ConnId>,
    next_peer: u32,
    owner_ip: IpAddr,
    last_activity: Instant,
    /// Unix seconds: the join secret and TURN credentials run out then.
    expires: u64,
    ice: Vec<IceServer>,
}

/// A room that ended, for the server to clean up after (its TURN allocations).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndedRoom {
    pub room: String,
    pub reason: &'static str,
}

pub type Out = Vec<(ConnId, Message)>;

/// Makes what a new room needs: its id, two secrets, and the ICE servers with TURN credentials
/// for it (the server supplies it: randomness and the TURN secrets live there).
pub trait RoomMaker {
    fn room_id(&mut self) -> String;
    fn secret(&mut self) -> String;
    /// The room's ICE servers, the same for all its members (the built-in STUN and TURN).
    fn ice_servers(&self, room: &str, expires: u64) -> Vec<IceServer>;
    /// ICE servers whose credentials are each player's own (external TURN): `player` is 0 for
    /// the host, else the joiner's peer number.
    fn player_ice_servers(&self, room: &str, player: u32, expires: u64) -> Vec<IceServer>;
    fn unix_now(&self) -> u64;
}

/// The room table. See the module docs.
#[derive(Debug)]
pub struct Registry {
    limits: Limits,
    rooms: HashMap<String, Room>,
    conns: HashMap<ConnId, Conn>,
    rooms_by_ip: HashMap<IpAddr, usize>,
    ended: Vec<EndedRoom>,
}

fn err(code: ErrorCode, message: impl Into<String>) -> Message {
    let mut message = message.into();
    message.truncate(crate::signaling::MAX_TEXT_LEN);
    Message::Error { code, message }
}

/// Compares secrets by their SHA-256 digests, without an early exit: timing says nothing about
/// how much of a guess matched, nor about the secret's length.
pub(super) fn same_secret(a: &str, b: &str) -> bool {
    use sha2::{Digest, Sha256};
    let (x, y) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    x.iter()
        .zip(y.iter())
        .fold(0u8, |acc, (p, q)| acc | (p ^ q))
        == 0
}

impl Registry {
    pub fn new(limits: Limits) -> Self {
        Registry {
            limits,
            rooms: HashMap::new(),
            conns: HashMap::new(),
            rooms_by_ip: HashMap::new(),
            ended: Vec::new(),
        }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn room_count(&self) -> usize {
        self.rooms.len()
    }

    /// Rooms that ended since the last call.
    pub fn take_ended(&mut self) -> Vec<EndedRoom> {
        std::mem::take(&mut self.ended)
    }

    /// A new WebSocket connection.
    pub fn connect(&mut self, conn: ConnId, ip: IpAddr) {
        self.conns.insert(
            conn,
            Conn {
                ip,
                role: Role::None,
                room: None,
            },
        );
    }

    /// One decoded message from `conn`.
    pub fn handle(
        &mut self,
        now: Instant,
        conn: ConnId,
        msg: Message,
        maker: &mut dyn RoomMaker,
    ) -> Out {
        let Some(c) = self.conns.get(&conn) else {
            return vec![];
        };
        let (ip, role, room_id) = (c.ip, c.role, c.room.clone());
        if let Some(r) = room_id.as_ref().and_then(|id| self.rooms.get_mut(id)) {
            r.last_activity = now;
        }
        let not_allowed = |what: &str| vec![(conn, err(ErrorCode::NotAllowed, what))];
        let peek_game = matches!(msg, Message::PeekGame { .. });
        match msg {
            Message::Host { name } => {
                if role != Role::None {
                    return not_allowed("this connection is already in a room");
                }
                if self.rooms.len() >= self.limits.max_rooms {
                    return vec![(
                        conn,
                        err(
                            ErrorCode::ServiceFull,
                            "the service holds as many rooms as it can; try later",
                        ),
                    )];
                }
                let held = self.rooms_by_ip.get(&ip).copied().unwrap_or(0);
                if held >= self.limits.rooms_per_ip {
                    return vec![(
                        conn,
                        err(
                            ErrorCode::TooManyRooms,
                            format!("your address already hosts {held} rooms"),
                        ),
                    )];
                }
                let mut id = maker.room_id();
                // A collision is astronomically unlikely; still, never hand out a taken id.
                while self.rooms.contains_key(&id) {
                    id = maker.room_id();
                }
                let expires = maker.unix_now() + self.limits.credential_ttl.as_secs();
                let ice = maker.ice_servers(&id, expires);
                let room = Room {
                    host_name: name,
                    players: Vec::new(),
                    expected: 0,
                    game: Default::default(),
                    host_secret: maker.secret(),
                    join_secret: maker.secret(),
                    host: Some(conn),
                    host_gone_since: None,
                    joiners: BTreeMap::new(),
                    next_peer: 1,
                    owner_ip: ip,
                    last_activity: now,
                    expires,
                    ice: ice.clone(),
                };
                let reply = Message::Hosted {
                    room: id.clone(),
                    host_secret: room.host_secret.clone(),
                    join_secret: room.join_secret.clone(),
                    expires,
                    ice: [ice, maker.player_ice_servers(&id, 0, expires)].concat(),
                };
                tracing::info!(room = %id, %ip, "room opened");
                self.rooms.insert(id.clone(), room);
                *self.rooms_by_ip.entry(ip).or_default() += 1;
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.role = Role::Host;
                    c.room = Some(id);
                }
                vec![(conn, reply)]
            }
            Message::Resume { room, host_secret } => {
                if role != Role::None {
                    return not_allowed("this connection is already in a room");
                }
                let Some(r) = self.rooms.get_mut(&room) else {
                    return vec![(conn, err(ErrorCode::UnknownRoom, format!("no room {room}")))];
                };
                if !same_secret(&r.host_secret, &host_secret) {
                    return vec![(conn, err(ErrorCode::BadSecret, "wrong host secret"))];
                }
                if let Some(old) = r.host.replace(conn) {
                    // The old socket is half-dead; the new one takes over.
                    if let Some(c) = self.conns.get_mut(&old) {
                        c.role = Role::None;
                        c.room = None;
                    }
                }
                r.host_gone_since = None;
                r.last_activity = now;
                let reply = Message::Hosted {
                    room: room.clone(),
                    host_secret: r.host_secret.clone(),
                    join_secret: r.join_secret.clone(),
                    expires: r.expires,
                    ice: [r.ice.clone(), maker.player_ice_servers(&room, 0, r.expires)].concat(),
                };
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.role = Role::Host;
                    c.room = Some(room);
                }
                vec![(conn, reply)]
            }
            Message::Join { room, secret, name } => {
                if role != Role::None {
                    return not_allowed("this connection is already in a room");
                }
                let unix_now = maker.unix_now();
                let Some(r) = self.rooms.get_mut(&room) else {
                    return vec![(conn, err(ErrorCode::UnknownRoom, format!("no room {room}")))];
                };
                if !same_secret(&r.join_secret, &secret) {
                    return vec![(conn, err(ErrorCode::BadSecret, "wrong join secret"))];
                }
                if r.expires <= unix_now {
                    return vec![(
                        conn,
                        err(ErrorCode::UnknownRoom, "the room's invite has expired"),
                    )];
                }
                let Some(host) = r.host else {
                    return not_allowed("the host is away; try again in a moment");
                };
                if r.joiners.len() >= self.limits.joiners_per_room {
                    return vec![(
                        conn,
                        err(
                            ErrorCode::RoomFull,
                            format!(
                                "the room takes {} joiners at once",
                                self.limits.joiners_per_room
                            ),
                        ),
                    )];
                }
                let peer = r.next_peer;
                r.next_peer = r.next_peer.wrapping_add(1).max(1);
                r.joiners.insert(peer, conn);
                r.last_activity = now;
                let ice = [
                    r.ice.clone(),
                    maker.player_ice_servers(&room, peer, r.expires),
                ]
                .concat();
                if let Some(c) = self.conns.get_mut(&conn) {
                    c.role = Role::Joiner(peer);
                    c.room = Some(room.clone());
                }
                tracing::info!(%room, peer, %ip, "joiner in");
                vec![
                    (conn, Message::Joined { peer, ice }),
                    (host, Message::Peer { peer, name }),
                ]
            }
            Message::Signal { peer, data } => {
                let Some(r) = room_id.as_ref().and_then(|id| self.rooms.get(id)) else {
                    return not_allowed("signal before host or join");
                };
                match role {
                    Role::Host => match r.joiners.get(&peer) {
                        Some(&to) => vec![(to, Message::Signal { peer: 0, data })],
                        None => vec![(
                            conn,
                            err(
                                ErrorCode::UnknownPeer,
                                format!("no peer {peer} in the room"),
                            ),
                        )],
                    },
                    Role::Joiner(me) => match r.host {
                        Some(host) => vec![(host, Message::Signal { peer: me, data })],
                        None => not_allowed("the host is away"),
                    },
                    Role::None => not_allowed("signal before host or join"),
                }
            }
            Message::Peek { room, secret } | Message::PeekGame { room, secret } => {
                if role != Role::None {
                    return not_allowed("this connection is already in a room");
                }
                match self.rooms.get(&room) {
                    None => vec![(conn, err(ErrorCode::UnknownRoom, format!("no room {room}")))],
                    Some(r) if !same_secret(&r.join_secret, &secret) => {
                        vec![(conn, err(ErrorCode::BadSecret, "wrong join secret"))]
                    }
                    Some(r) if r.expires <= maker.unix_now() => vec![(
                        conn,
                        err(ErrorCode::UnknownRoom, "the room's invite has expired"),
                    )],
                    Some(r) if peek_game => vec![(conn, Message::Game(r.game.clone()))],
                    Some(r) => vec![(
                        conn,
                        Message::RoomInfo {
                            host: r.host_name.clone(),
                            players: r.players.clone(),
                            expected: r.expected,
                        },
                    )],
                }
            }
            Message::Game(game) => {
                if role != Role::Host {
                    return not_allowed("only the host says what its room plays");
                }
                if let Some(r) = room_id.as_ref().and_then(|id| self.rooms.get_mut(id)) {
                    r.game = game;
                }
                vec![]
            }
            Message::Players { names, expected } => {
                if role != Role::Host {
                    return not_allowed("only the host says who is in its room");
                }
                if let Some(r) = room_id.as_ref().and_then(|id| self.rooms.get_mut(id)) {
                    r.players = names;
                    r.expected = expected;
                }
                vec![]
            }
            Message::Keepalive => vec![],
            Message::Leave => self.leave(now, conn, true),
            Message::Hosted { .. }
            | Message::RoomInfo { .. }
            | Message::Joined { .. }
            | Message::Peer { .. }
            | Message::PeerLeft { .. }
            | Message::Closed { .. }
            | Message::Error { .. } => not_allowed("that message is the service's to send"),
        }
    }

    /// The connection is gone (socket closed or dropped by the server).
    pub fn disconnect(&mut self, now: Instant, conn: ConnId) -> Out {
        let out = self.leave(now, conn, false);
        self.conns.remove(&conn);
        out
    }

    fn leave(&mut self, now: Instant, conn: ConnId, said_leave: bool) -> Out {
        let Some(c) = self.conns.get_mut(&conn) else {
            return vec![];
        };
        let (role, room) = (c.role, c.room.take());
        c.role = Role::None;
        let Some(room) = room else { return vec![] };
        match role {
            Role::Host if said_leave => self.end_room(&room, "host left"),
            Role::Host => {
                if let Some(r) = self.rooms.get_mut(&room) {
                    if r.host == Some(conn) {
                        r.host = None;
                        r.host_gone_since = Some(now);
                    }
                }
                vec![]
            }
            Role::Joiner(peer) => {
                let Some(r) = self.rooms.get_mut(&room) else {
                    return vec![];
                };
                r.joiners.remove(&peer);
                match r.host {
                    Some(h) => vec![(h, Message::PeerLeft { peer })],
                    None => vec![],
                }
            }
            Role::None => vec![],
        }
    }

    fn end_room(&mut self, room: &str, reason: &'static str) -> Out {
        let Some(r) = self.rooms.remove(room) else {
            return vec![];
        };
        tracing::info!(%room, reason, "room closed");
        if let Some(n) = self.rooms_by_ip.get_mut(&r.owner_ip) {
            *n -= 1;
            if *n == 0 {
                self.rooms_by_ip.remove(&r.owner_ip);
            }
        }
        let mut out = Vec::new();
        for conn in r.host.into_iter().chain(r.joiners.into_values()) {
            if let Some(c) = self.conns.get_mut(&conn) {
                c.role = Role::None;
                c.room = None;
            }
            out.push((
                conn,
                Message::Closed {
                    reason: reason.to_owned(),
                },
            ));
        }
        self.ended.push(EndedRoom {
            room: room.to_owned(),
            reason,
        });
        out
    }

    /// Ends rooms whose host is gone past the grace time, idle ones, and expired ones.
    pub fn tick(&mut self, now: Instant, unix_now: u64) -> Out {
        let l = &self.limits;
        let due: Vec<(String, &'static str)> = self
            .rooms
            .iter()
            .filter_map(|(id, r)| {
                let reason = if r
                    .host_gone_since
                    .is_some_and(|t| now.duration_since(t) >= l.host_grace)
                {
                    "host left"
                } else if now.duration_since(r.last_activity) >= l.room_idle {
                    "idle"
                } else if r.expires <= unix_now {
                    "expired"
                } else {
                    return None;
                };
                Some((id.clone(), reason))
            })
            .collect();
        due.into_iter()
            .flat_map(|(id, why)| self.end_room(&id, why))
            .collect()
    }

    /// Ends every room (the service is shutting down).
    pub fn close_all(&mut self) -> Out {
        let ids: Vec<String> = self.rooms.keys().cloned().collect();
        ids.iter()
            .flat_map(|id| self.end_room(id, "the rendezvous is shutting down"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signaling::{Candidate, SignalData};

    struct Maker(u32);
    impl RoomMaker for Maker {
        fn room_id(&mut self) -> String {
            self.0 += 1;
            format!("room{:04}", self.0)
        }
        fn secret(&mut self) -> String {
            self.0 += 1;
            format!("secret-secret-{:06}", self.0)
        }
        fn ice_servers(&self, room: &str, expires: u64) -> Vec<IceServer> {
            vec![IceServer {
                urls: vec!["turn:127.0.0.1:3478".into()],
                username: format!("{expires}:{room}"),
                credential: "x".into(),
            }]
        }
        fn player_ice_servers(&self, room: &str, player: u32, expires: u64) -> Vec<IceServer> {
            vec![IceServer {
                urls: vec!["turn:turn.example.org:3478".into()],
                username: format!("{expires}:{room}-{player}"),
                credential: "y".into(),
            }]
        }
        fn unix_now(&self) -> u64 {
            1000
        }
    }

    fn ip(n: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, n])
    }

    #[test]
    fn a_peek_with_the_join_secret_names_the_host_and_players_and_changes_nothing() {
        let now = Instant::now();
        let mut reg = Registry::new(Limits::default());
        let mut m = Maker(0);
        reg.connect(1, ip(1));
        reg.connect(2, ip(2));
        let out = reg.handle(
            now,
            1,
            Message::Host {
                name: "alice".into(),
            },
            &mut m,
        );
        let Message::Hosted {
            room, join_secret, ..
        } = out[0].1.clone()
        else {
            panic!("{out:?}")
        };
        let peek = |secret: &str| Message::Peek {
            room: room.clone(),
            secret: secret.into(),
        };
        let wrong = reg.handle(now, 2, peek("wrong-wrong-wrong-wrong"), &mut m);
        assert!(matches!(
            wrong[0].1,
            Message::Error {
                code: ErrorCode::BadSecret,
                ..
            }
        ));
        let out = reg.handle(now, 2, peek(&join_secret), &mut m);
        assert_eq!(
            out,
            vec![(
                2,
                Message::RoomInfo {
                    host: "alice".into(),
                    players: vec![],
                    expected: 0,
                }
            )]
        );
        // The host says who is in; the next peek tells it.
        let said = Message::Players {
            names: vec!["alice".into(), "carol".into()],
            expected: 4,
        };
        assert_eq!(reg.handle(now, 1, said.clone(), &mut m), vec![]);
        reg.connect(3, ip(3));
        let out = reg.handle(now, 3, peek(&join_secret), &mut m);
        assert_eq!(
            out[0].1,
            Message::RoomInfo {
                host: "alice".into(),
                players: vec!["alice".into(), "carol".into()],
                expected: 4,
            }
        );
        // The host heard nothing, and the asker may still join (and be peer 1).
        let out = reg.handle(
            now,
            2,
            Message::Join {
                room: room.clone(),
                secret: join_secret,
                name: "b".into(),
            },
            &mut m,
        );
        assert!(matches!(out[0], (2, Message::Joined { peer: 1, .. })));
        // Nobody but the service answers with a RoomInfo, and only the host lists players.
        let info = Message::RoomInfo {
            host: "x".into(),
            players: vec![],
            expected: 0,
        };
        let out = reg.handle(now, 1, info, &mut m);
        assert!(matches!(out[0].1, Message::Error { .. }));
        let out = reg.handle(now, 2, said, &mut m);
        assert!(matches!(
            out[0].1,
            Message::Error {
                code: ErrorCode::NotAllowed,
                ..
            }
        ));
    }

    #[test]
    fn what_a_room_plays_is_the_hosts_to_say_and_the_join_secrets_to_read() {
        let now = Instant::now();
        let mut reg = Registry::new(Limits::default());
        let mut m = Maker(0);
        for c in 1..=3 {
            reg.connect(c, ip(c as u8));
        }
        let out = reg.handle(now, 1, Message::Host { name: "h".into() }, &mut m);
        let Message::Hosted {
            room, join_secret, ..
        } = out[0].1.clone()
        else {
            panic!("{out:?}")
        };
        let peek = |secret: &str| Message::PeekGame {
            room: room.clone(),
            secret: secret.into(),
        };
        let game = |iwad: &str, file: &str| {
            Message::Game(GameInfo {
                iwad: iwad.into(),
                iwad_file: file.into(),
                ..GameInfo::default()
            })
        };
        // Before the host says: an empty answer.
        assert_eq!(
            reg.handle(now, 2, peek(&join_secret), &mut m),
            vec![(2, game("", ""))]
        );
        let said = Message::Game(GameInfo {
            iwad: "ab".repeat(32),
            iwad_file: "freedoom2.wad".into(),
            iwad_size: 1000,
            files: vec![crate::signaling::GameFile {
                sha256: "ef".repeat(32),
                name: "maps.wad".into(),
                size: 99,
            }],
            mode: "deathmatch".into(),
            map: "E1M1".into(),
            skill: 3,
        });
        assert_eq!(reg.handle(now, 1, said.clone(), &mut m), vec![]);
        assert_eq!(
            reg.handle(now, 3, peek(&join_secret), &mut m),
            vec![(3, said.clone())]
        );
        // A wrong secret learns nothing; a joiner may not say what the room plays.
        let wrong = reg.handle(now, 2, peek("wrong-wrong-wrong-wrong"), &mut m);
        assert!(matches!(
            wrong[0].1,
            Message::Error {
                code: ErrorCode::BadSecret,
                ..
            }
        ));
        let join = Message::Join {
            room: room.clone(),
            secret: join_secret.clone(),
            name: "j".into(),
        };
        assert!(matches!(
            reg.handle(now, 2, join, &mut m)[0].1,
            Message::Joined { .. }
        ));
        let out = reg.handle(now, 2, game(&"cd".repeat(32), "doom2.wad"), &mut m);
        assert!(matches!(
            out[0].1,
            Message::Error {
                code: ErrorCode::NotAllowed,
                ..
            }
        ));
        assert_eq!(
            reg.handle(now, 3, peek(&join_secret), &mut m),
            vec![(3, said)]
        );
    }

    #[test]
    fn host_join_signal_leave() {
        let now = Instant::now();
        let mut reg = Registry::new(Limits::default());
        let mut m = Maker(0);
        reg.connect(1, ip(1));
        reg.connect(2, ip(2));
        let out = reg.handle(now, 1, Message::Host { name: "a".into() }, &mut m);
        let Message::Hosted {
            room,
            join_secret,
            ice,
            ..
        } = out[0].1.clone()
        else {
            panic!("{out:?}")
        };
        // The room's servers, then the host's own credentials.
        let users: Vec<&str> = ice.iter().map(|s| s.username.as_str()).collect();
        assert_eq!(users, [format!("22600:{room}"), format!("22600:{room}-0")]);
        let bad = reg.handle(
            now,
            2,
            Message::Join {
                room: room.clone(),
                secret: "wrong-wrong-wrong-wrong".into(),
                name: "b".into(),
            },
            &mut m,
        );
        assert!(matches!(
            bad[0].1,
            Message::Error {
                code: ErrorCode::BadSecret,
                ..
            }
        ));
        let out = reg.handle(
            now,
            2,
            Message::Join {
                room: room.clone(),
                secret: join_secret,
                name: "b".into(),
            },
            &mut m,
        );
        let (2, Message::Joined { peer: 1, ice }) = &out[0] else {
            panic!("{out:?}")
        };
        // The joiner gets the room's servers and credentials of its own.
        let users: Vec<&str> = ice.iter().map(|s| s.username.as_str()).collect();
        assert_eq!(users, [format!("22600:{room}"), format!("22600:{room}-1")]);
        assert!(matches!(out[1], (1, Message::Peer { peer: 1, .. })));
        let data = SignalData::Candidate(Candidate {
            candidate: "candidate:1 1 udp 1 127.0.0.1 9 typ host".into(),
            sdp_mid: None,
            sdp_mline_index: None,
        });
        let out = reg.handle(
            now,
            2,
            Message::Signal {
                peer: 77,
                data: data.clone(),
            },
            &mut m,
        );
        assert_eq!(
            out,
            vec![(
                1,
                Message::Signal {
                    peer: 1,
                    data: data.clone()
                }
            )]
        );
        let out = reg.handle(
            now,
            1,
            Message::Signal {
                peer: 1,
                data: data.clone(),
            },
            &mut m,
        );
        assert_eq!(
            out,
            vec![(
                2,
                Message::Signal {
                    peer: 0,
                    data: data.clone()
                }
            )]
        );
        let out = reg.handle(now, 1, Message::Signal { peer: 9, data }, &mut m);
        assert!(matches!(
            out[0].1,
            Message::Error {
                code: ErrorCode::UnknownPeer,
                ..
            }
        ));
        let out = reg.handle(now, 1, Message::Leave, &mut m);
        assert_eq!(out.len(), 2);
        assert!(out.iter().all(|(_, m)| matches!(m, Message::Closed { .. })));
        assert_eq!(reg.room_count(), 0);
        assert_eq!(reg.take_ended().len(), 1);
    }

    #[test]
    fn limits_and_timeouts() {
        let now = Instant::now();
        let limits = Limits {
            rooms_per_ip: 2,
            ..Limits::default()
        };
        let (grace, idle) = (limits.host_grace, limits.room_idle);
        let mut reg = Registry::new(limits);
        let mut m = Maker(0);
        for c in 1..=3 {
            reg.connect(c, ip(1));
        }
        assert!(matches!(
            reg.handle(
                now,
                1,
                Message::Host {
                    name: String::new()
                },
                &mut m
            )[0]
            .1,
            Message::Hosted { .. }
        ));
        assert!(matches!(
            reg.handle(
                now,
                2,
                Message::Host {
                    name: String::new()
                },
                &mut m
            )[0]
            .1,
            Message::Hosted { .. }
        ));
        let out = reg.handle(
            now,
            3,
            Message::Host {
                name: String::new(),
            },
            &mut m,
        );
        assert!(
            matches!(
                out[0].1,
                Message::Error {
                    code: ErrorCode::TooManyRooms,
                    ..
                }
            ),
            "{out:?}"
        );
        // Host 1's socket drops: the room waits out the grace time, then ends.
        reg.disconnect(now, 1);
        assert_eq!(reg.tick(now + grace / 2, 1000), vec![]);
        reg.tick(now + grace, 1000);
        assert_eq!(reg.room_count(), 1);
        // Room 2 idles out.
        reg.tick(now + idle, 1000);
        assert_eq!(reg.room_count(), 0);
        // Now address 1 may host again.
        assert!(matches!(
            reg.handle(
                now,
                3,
                Message::Host {
                    name: String::new()
                },
                &mut m
            )[0]
            .1,
            Message::Hosted { .. }
        ));
    }
}
