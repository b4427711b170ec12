//! The bot: Chocolate Doom 3.0's client protocol, sans-IO (packets and instants in, packets
//! out).

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use doomlink_net::chocolate::PacketType;

pub(super) const SYN: u16 = PacketType::Syn as u16;
pub(super) const REJECTED: u16 = PacketType::Rejected as u16;
pub(super) const KEEPALIVE: u16 = PacketType::Keepalive as u16;
pub(super) const WAITING_DATA: u16 = PacketType::WaitingData as u16;
pub(super) const GAMESTART: u16 = PacketType::GameStart as u16;
pub(super) const GAMEDATA: u16 = PacketType::GameData as u16;
pub(super) const GAMEDATA_ACK: u16 = PacketType::GameDataAck as u16;
pub(super) const DISCONNECT: u16 = PacketType::Disconnect as u16;
pub(super) const DISCONNECT_ACK: u16 = PacketType::DisconnectAck as u16;
pub(super) const RELIABLE_ACK: u16 = PacketType::ReliableAck as u16;
pub(super) const GAMEDATA_RESEND: u16 = PacketType::GameDataResend as u16;
pub(super) const LAUNCH: u16 = PacketType::Launch as u16;
pub(super) const RELIABLE: u16 = doomlink_net::chocolate::RELIABLE;

pub(super) const MAGIC: u32 = doomlink_net::chocolate::SYN_MAGIC;

pub(super) const VERSION: &str = "Chocolate Doom 3.0.0";
pub(super) const PROTOCOL: &str = "CHOCOLATE_DOOM_0";
/// Freedoom: Phase 1's and its DEHACKED lump's SHA-1, as a real client sends them.
pub(super) const WAD_SHA1: [u8; 20] =
    *b"\x7e\x7f\x8b\xef\x8d\x5f\xe6\xdb\x3d\x90\xb0\x27\x81\x66\xce\x9e\x3a\xfb\x59\x70";
pub(super) const DEH_SHA1: [u8; 20] =
    *b"\xda\xaf\x56\xc1\xdc\xc0\x8a\x2e\x76\x68\x81\x48\x11\xb2\xca\xb0\xcc\x7d\x52\xc1";
pub(super) const BACKUPTICS: u32 = 128;
pub(super) const TICS_PER_SEC: u64 = 35;

/// Where a bot is in its life.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    /// Connected, in the server's lobby.
    Lobby,
    /// The game is launched; waiting for the server's game start.
    Starting,
    InGame,
    /// Played its tics; disconnecting.
    Leaving,
    Done,
    Failed(String),
}

/// What a bot measured.
#[derive(Debug, Clone, Default)]
pub struct BotStats {
    pub tics_sent: u32,
    /// The game's tics received from the server, in order (the receive window's start, up to
    /// the game's length).
    pub tics_received: u32,
    /// From the game start to the last tic received.
    pub game_time: Duration,
    /// For each tic received after this bot sent its own command for it: the time since, in
    /// microseconds (the server sends a tic once the other players' commands for it are in, so
    /// a bot whose game started a little late may get a few tics before it made them: those are
    /// not timed).
    pub tic_delays_us: Vec<u32>,
    /// In game: how late the runner woke the bot for its tic timer, in microseconds (the load
    /// generator's own delay, which a tic's delay includes: it tells the bots' share of a slow
    /// tic from the server's).
    pub timer_lag_us: Vec<u32>,
    /// Resend requests this bot sent, and the server's it answered.
    pub resends_asked: u32,
    pub resends_answered: u32,
}

/// A sent tic: its number, when, and its encoded ticcmd diff.
#[derive(Clone)]
pub(super) struct SentTic {
    seq: u32,
    at: Instant,
    diff: Vec<u8>,
}

/// The movement part of a ticcmd (ticcmd_t) that a bot varies.
#[derive(Clone, Copy, Default, PartialEq)]
pub(super) struct Cmd {
    forward: i8,
    side: i8,
    turn: i16,
    buttons: u8,
    consistancy: u8,
}

/// One bot: the client side of Chocolate Doom's protocol, sans-IO.
pub struct Bot {
    phase: Phase,
    name: String,
    /// Launch (when the controller) once the lobby has this many players.
    room_size: u8,
    /// Leave after playing this many tics.
    game_tics: u32,
    rng: u64,
    out: VecDeque<Vec<u8>>,
    // net_connection_t
    reliable_send_seq: u8,
    reliable_recv_seq: u8,
    /// Reliable packets not yet acknowledged, oldest first, with when each was last sent.
    unacked: VecDeque<(u8, Vec<u8>, Option<Instant>)>,
    last_send: Option<Instant>,
    last_recv: Instant,
    /// When the first SYN went (the connect timeout runs from it).
    created: Instant,
    syn_sent: Option<Instant>,
    launched: bool,
    /// The controller launches only while this is set ([`run`] holds every room until all
    /// its bots are in their lobbies).
    pub may_launch: bool,
    // In game.
    pub(crate) start: Option<Instant>,
    maketic: u32,
    sent: Vec<Option<SentTic>>,
    last_cmd: Cmd,
    recv_start: u32,
    /// Tics received ahead of `recv_start`, by index from it.
    recv_have: [bool; BACKUPTICS as usize],
    /// When a resend was asked for each missing tic, by index from `recv_start`.
    resend_at: [Option<Instant>; BACKUPTICS as usize],
    leave_tries: u32,
    leave_sent: Option<Instant>,
    pub stats: BotStats,
}

/// Reads a packet's fields; every read is checked (a short or malformed packet gives None).
pub(super) struct Reader<'a> {
    b: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(b: &'a [u8]) -> Self {
        Reader { b, pos: 0 }
    }
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let s = self.b.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(s)
    }
    fn u8(&mut self) -> Option<u8> {
        self.bytes(1).map(|b| b[0])
    }
    fn u16(&mut self) -> Option<u16> {
        self.bytes(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.bytes(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Option<&'a str> {
        let rest = self.b.get(self.pos..)?;
        let end = rest.iter().position(|&c| c == 0)?;
        self.pos += end + 1;
        std::str::from_utf8(&rest[..end]).ok()
    }
}

pub(super) fn put_string(p: &mut Vec<u8>, s: &str) {
    p.extend_from_slice(s.as_bytes());
    p.push(0);
}

/// NET_ExpandTicNum: the full tic number nearest `relative` whose low byte is `b`.
pub(super) fn expand_tic(relative: u32, b: u8) -> u32 {
    let l = relative & 0xff;
    let b = b as u32;
    let mut r = (relative & !0xff) | b;
    if l < 0x40 && b > 0xb0 {
        r = r.wrapping_sub(0x100);
    }
    if l > 0xb0 && b < 0x40 {
        r += 0x100;
    }
    r
}

/// The game settings the controller proposes (what `doomlink join … -warp 1 1 -skill 3` sends
/// for Freedoom 1: coop, E1M1, skill 3, ticdup 1, extratics 1).
pub(super) fn settings() -> Vec<u8> {
    let mut p = vec![1, 1, 0, 0, 0, 0, 1, 1, 2, 6, 0, 1];
    p.extend_from_slice(&0u32.to_be_bytes()); // timelimit
    p.extend_from_slice(&[0xff, 0, 1, 0, 0]); // loadgame, random, players, console, class
    p
}

impl Bot {
    /// A bot named `name` that launches when its room has `room_size` players and leaves after
    /// `game_tics` tics; `seed` varies its moves.
    pub fn new(name: &str, room_size: u8, game_tics: u32, seed: u64, now: Instant) -> Self {
        Bot {
            phase: Phase::Connecting,
            name: name.to_string(),
            room_size,
            game_tics,
            rng: seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1,
            out: VecDeque::new(),
            reliable_send_seq: 0,
            reliable_recv_seq: 0,
            unacked: VecDeque::new(),
            last_send: None,
            last_recv: now,
            created: now,
            syn_sent: None,
            launched: false,
            may_launch: true,
            start: None,
            maketic: 0,
            sent: vec![None; BACKUPTICS as usize],
            last_cmd: Cmd::default(),
            recv_start: 0,
            recv_have: [false; BACKUPTICS as usize],
            resend_at: [None; BACKUPTICS as usize],
            leave_tries: 0,
            leave_sent: None,
            stats: BotStats::default(),
        }
    }

    pub fn phase(&self) -> &Phase {
        &self.phase
    }

    /// Done or failed: nothing more to send.
    pub fn finished(&self) -> bool {
        matches!(self.phase, Phase::Done | Phase::Failed(_))
    }

    /// The next packet to send, if any.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.out.pop_front()
    }

    /// When [`Bot::handle_timeout`] wants to be called next.
    pub fn poll_timeout(&self, now: Instant) -> Instant {
        match (&self.phase, self.start) {
            (Phase::InGame, Some(start)) if self.maketic < self.game_tics => {
                let next =
                    start + Duration::from_micros(self.maketic as u64 * 1_000_000 / TICS_PER_SEC);
                next.max(now).min(now + Duration::from_millis(100))
            }
            _ => now + Duration::from_millis(50),
        }
    }

    fn send(&mut self, now: Instant, p: Vec<u8>) {
        self.last_send = Some(now);
        self.out.push_back(p);
    }

    fn header(t: u16) -> Vec<u8> {
        t.to_be_bytes().to_vec()
    }

    /// NET_Conn_NewReliable: queued, sent by the timer until acknowledged.
    fn send_reliable(&mut self, now: Instant, t: u16, body: &[u8]) {
        let seq = self.reliable_send_seq;
        self.reliable_send_seq = seq.wrapping_add(1);
        let mut p = Self::header(t | RELIABLE);
        p.push(seq);
        p.extend_from_slice(body);
        self.unacked.push_back((seq, p, None));
        self.run_reliable(now);
    }

    fn run_reliable(&mut self, now: Instant) {
        if let Some((_, p, last)) = self.unacked.front_mut() {
            if last.is_none_or(|t| now.duration_since(t) > Duration::from_secs(1)) {
                *last = Some(now);
                let p = p.clone();
                self.send(now, p);
            }
        }
    }

    pub(crate) fn syn(&self) -> Vec<u8> {
        let mut p = Self::header(SYN);
        p.extend_from_slice(&MAGIC.to_be_bytes());
        put_string(&mut p, VERSION);
        p.push(1);
        put_string(&mut p, PROTOCOL);
        // gamemode retail, mission doom, lowres_turn 0, drone 0, max_players, is_freedoom.
        p.extend_from_slice(&[3, 0, 0, 0, self.room_size, 1]);
        p.extend_from_slice(&WAD_SHA1);
        p.extend_from_slice(&DEH_SHA1);
        p.push(0); // player class
        put_string(&mut p, &self.name);
        p
    }

    pub(crate) fn fail(&mut self, why: String) {
        self.phase = Phase::Failed(why);
    }

    /// A packet from the server. Malformed packets are ignored, as the real client does.
    pub fn handle(&mut self, now: Instant, packet: &[u8]) {
        let mut r = Reader::new(packet);
        let Some(mut t) = r.u16() else { return };
        self.last_recv = now;
        if t & RELIABLE != 0 {
            let Some(seq) = r.u8() else { return };
            let fresh = seq == self.reliable_recv_seq;
            if fresh {
                self.reliable_recv_seq = self.reliable_recv_seq.wrapping_add(1);
            }
            let mut ack = Self::header(RELIABLE_ACK);
            ack.push(self.reliable_recv_seq);
            self.send(now, ack);
            if !fresh {
                return;
            }
            t &= !RELIABLE;
        }
        match t {
            RELIABLE_ACK => {
                if let (Some(seq), Some((front, _, _))) = (r.u8(), self.unacked.front()) {
                    if seq == front.wrapping_add(1) {
                        self.unacked.pop_front();
                        self.run_reliable(now);
                    }
                }
            }
            SYN if self.phase == Phase::Connecting
                && r.string().is_some()
                && r.string() == Some(PROTOCOL) =>
            {
                self.phase = Phase::Lobby;
            }
            REJECTED if self.phase == Phase::Connecting => {
                let why = r.string().unwrap_or("(unreadable)").to_string();
                self.fail(format!("rejected: {why}"));
            }
            WAITING_DATA => {
                let (Some(players), Some(_drones), Some(_ready), Some(_max), Some(controller)) =
                    (r.u8(), r.u8(), r.u8(), r.u8(), r.u8())
                else {
                    return;
                };
                if self.phase == Phase::Lobby
                    && self.may_launch
                    && controller == 1
                    && players >= self.room_size
                    && !self.launched
                {
                    self.launched = true;
                    self.send_reliable(now, LAUNCH, &[]);
                }
            }
            LAUNCH if self.phase == Phase::Lobby && r.u8().is_some() => {
                self.phase = Phase::Starting;
                self.send_reliable(now, GAMESTART, &settings());
            }
            GAMESTART => {
                // Settings: 12 bytes, the time limit, loadgame, random, players, console player.
                let ok = r.bytes(12).is_some() && r.u32().is_some() && r.bytes(2).is_some();
                let (Some(players), Some(console)) = (r.u8(), r.u8()) else {
                    return;
                };
                if !ok || self.phase != Phase::Starting {
                    return;
                }
                if (console as i8) < 0 || console >= players {
                    self.fail(format!(
                        "game start with console player {console} of {players}"
                    ));
                    return;
                }
                self.phase = Phase::InGame;
                self.start = Some(now);
            }
            GAMEDATA if (self.phase == Phase::InGame || self.phase == Phase::Leaving) => {
                if let (Some(seq), Some(n)) = (r.u8(), r.u8()) {
                    self.game_data(now, seq, n);
                }
            }
            GAMEDATA_RESEND => {
                if let (Some(start), Some(n)) = (r.u32(), r.u8()) {
                    self.resend_tics(now, start, n);
                }
            }
            DISCONNECT => {
                self.send(now, Self::header(DISCONNECT_ACK));
                if self.phase != Phase::Leaving {
                    self.fail("disconnected by the server".into());
                } else {
                    self.phase = Phase::Done;
                }
            }
            DISCONNECT_ACK if self.phase == Phase::Leaving => {
                self.phase = Phase::Done;
            }
            _ => {}
        }
    }

    /// GAMEDATA from the server: tics `seq..seq+n` (low byte of the first) are in.
    fn game_data(&mut self, now: Instant, seq: u8, n: u8) {
        let first = expand_tic(self.recv_start, seq);
        let mut highest = None;
        for i in 0..n as u32 {
            let tic = first.wrapping_add(i);
            let Some(idx) = tic.checked_sub(self.recv_start) else {
                continue;
            };
            if idx >= BACKUPTICS || self.recv_have[idx as usize] {
                continue;
            }
            self.recv_have[idx as usize] = true;
            highest = highest.max(Some(idx));
            if let Some(s) = &self.sent[(tic % BACKUPTICS) as usize] {
                if s.seq == tic {
                    let us = now.duration_since(s.at).as_micros().min(u32::MAX as u128) as u32;
                    self.stats.tic_delays_us.push(us);
                }
            }
        }
        // A gap before what just came: ask for it once now (NET_CL_ParseGameData).
        if let Some(h) = highest {
            let mut from = h;
            while from > 0
                && !self.recv_have[from as usize - 1]
                && self.resend_at[from as usize - 1].is_none()
            {
                from -= 1;
            }
            if from < h {
                self.ask_resend(now, from, h - 1);
            }
        }
        self.advance_window(now);
    }

    fn advance_window(&mut self, now: Instant) {
        let mut k = 0;
        while k < BACKUPTICS as usize && self.recv_have[k] {
            k += 1;
        }
        if k == 0 {
            return;
        }
        self.recv_have.copy_within(k.., 0);
        self.recv_have[BACKUPTICS as usize - k..].fill(false);
        self.resend_at.copy_within(k.., 0);
        self.resend_at[BACKUPTICS as usize - k..].fill(None);
        self.recv_start += k as u32;
        // Once the other players have left, the server sends a lone player up to ten tics ahead
        // with nobody's commands in them (NET_SV_PumpSendQueue): not the game's, not counted.
        let counted = self.recv_start.min(self.game_tics);
        if counted > self.stats.tics_received {
            self.stats.tics_received = counted;
            if let Some(start) = self.start {
                self.stats.game_time = now.duration_since(start);
            }
        }
    }

    /// Asks the server to resend tics at window indexes `from..=to`.
    fn ask_resend(&mut self, now: Instant, from: u32, to: u32) {
        let mut p = Self::header(GAMEDATA_RESEND);
        p.extend_from_slice(&(self.recv_start + from).to_be_bytes());
        p.push((to - from + 1).min(255) as u8);
        for i in from..=to {
            self.resend_at[i as usize] = Some(now);
        }
        self.stats.resends_asked += 1;
        self.send(now, p);
    }

    /// The server asks for our tics `start..start+n` again: those we still have are sent.
    fn resend_tics(&mut self, now: Instant, start: u32, n: u8) {
        let have: Vec<u32> = (start as u64..start as u64 + n as u64)
            .filter_map(|t| u32::try_from(t).ok())
            .filter(|&t| {
                self.sent[(t % BACKUPTICS) as usize]
                    .as_ref()
                    .is_some_and(|s| s.seq == t)
            })
            .collect();
        if let (Some(&lo), Some(&hi)) = (have.first(), have.last()) {
            self.stats.resends_answered += 1;
            self.send_tics(now, lo, hi);
        }
    }

    /// NET_CL_SendTics: GAMEDATA with our tics `from..=to`, acknowledging the server's.
    fn send_tics(&mut self, now: Instant, from: u32, to: u32) {
        let mut p = Self::header(GAMEDATA);
        p.push(self.recv_start as u8);
        p.push(from as u8);
        p.push((to - from + 1) as u8);
        for t in from..=to {
            p.extend_from_slice(&0i16.to_be_bytes()); // latency
            match &self.sent[(t % BACKUPTICS) as usize] {
                Some(s) if s.seq == t => p.extend_from_slice(&s.diff),
                _ => p.push(0),
            }
        }
        self.send(now, p);
    }

    fn random(&mut self) -> u32 {
        // xorshift64*
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        (self.rng.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) as u32
    }

    /// A player's next command: mostly the last one, sometimes a new move; the consistency byte
    /// (the player's x position on a real client) changes most tics.
    fn next_cmd(&mut self) -> Cmd {
        let mut c = self.last_cmd;
        let r = self.random();
        if r.is_multiple_of(8) {
            c.forward = [0i8, 25, 50, -25][(r >> 3) as usize % 4];
        }
        if r % 16 == 1 {
            c.turn = [0i16, 640, -640, 1280][(r >> 5) as usize % 4];
        }
        if r % 32 == 2 {
            c.buttons = [0u8, 1, 2][(r >> 7) as usize % 3];
        }
        if r % 4 != 3 {
            c.consistancy = c.consistancy.wrapping_add((r >> 9) as u8 | 1);
        }
        c
    }

    /// NET_WriteTiccmdDiff of `c` against the last command.
    fn diff(last: &Cmd, c: &Cmd) -> Vec<u8> {
        let mut flags = 0u8;
        let mut body = Vec::new();
        if c.forward != last.forward {
            flags |= 1;
            body.push(c.forward as u8);
        }
        if c.side != last.side {
            flags |= 2;
            body.push(c.side as u8);
        }
        if c.turn != last.turn {
            flags |= 4;
            body.extend_from_slice(&c.turn.to_be_bytes());
        }
        if c.buttons != last.buttons {
            flags |= 8;
            body.push(c.buttons);
        }
        if c.consistancy != last.consistancy {
            flags |= 16;
            body.push(c.consistancy);
        }
        let mut d = vec![flags];
        d.extend_from_slice(&body);
        d
    }

    /// Timers: the SYN, keepalives, reliable retransmission, making tics, resends, leaving.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.phase {
            Phase::Connecting => {
                // The 10 s run from the first SYN: a WebRTC bot's transport may take a while.
                if self.syn_sent.is_none() {
                    self.created = now;
                }
                if now.duration_since(self.created) > Duration::from_secs(10) {
                    self.fail("no answer from the server in 10 s".into());
                    return;
                }
                if self
                    .syn_sent
                    .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1))
                {
                    self.syn_sent = Some(now);
                    let p = self.syn();
                    self.send(now, p);
                }
                return;
            }
            Phase::Done | Phase::Failed(_) => return,
            _ => {}
        }
        if now.duration_since(self.last_recv) > Duration::from_secs(30) {
            self.fail("the server went silent for 30 s".into());
            return;
        }
        self.run_reliable(now);
        if self.phase == Phase::InGame {
            self.make_tics(now);
            self.check_resends(now);
            if self.maketic >= self.game_tics && self.recv_start >= self.game_tics {
                self.phase = Phase::Leaving;
            }
        }
        if self.phase == Phase::Leaving
            && self
                .leave_sent
                .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1))
        {
            if self.leave_tries >= 5 {
                self.phase = Phase::Done;
                return;
            }
            self.leave_tries += 1;
            self.leave_sent = Some(now);
            self.send(now, Self::header(DISCONNECT));
        }
        if self
            .last_send
            .is_none_or(|t| now.duration_since(t) > Duration::from_secs(1))
        {
            self.send(now, Self::header(KEEPALIVE));
        }
    }

    /// Makes the tics due by the clock (35 a second from the game start), each sent with the one
    /// before it; like a real client, never more than BACKUPTICS/2 - 1 ahead of what the server
    /// has sent back.
    fn make_tics(&mut self, now: Instant) {
        let Some(start) = self.start else { return };
        let due =
            (now.duration_since(start).as_micros() as u64 * TICS_PER_SEC / 1_000_000) as u32 + 1;
        while self.maketic < due.min(self.game_tics)
            && self.maketic.saturating_sub(self.recv_start) < BACKUPTICS / 2 - 1
        {
            let c = self.next_cmd();
            let diff = Self::diff(&self.last_cmd, &c);
            self.last_cmd = c;
            let t = self.maketic;
            self.sent[(t % BACKUPTICS) as usize] = Some(SentTic {
                seq: t,
                at: now,
                diff,
            });
            self.send_tics(now, t.saturating_sub(1), t);
            self.maketic += 1;
            self.stats.tics_sent = self.maketic;
        }
    }

    /// NET_CL_CheckResends: missing tics asked for over 300 ms ago are asked for again; with
    /// nothing at all for a second, the next tic is asked for. Acknowledges when idle.
    fn check_resends(&mut self, now: Instant) {
        let stale = |at: Option<Instant>| {
            at.is_some_and(|t| now.duration_since(t) > Duration::from_millis(300))
        };
        let stalled = now.duration_since(self.last_recv) > Duration::from_secs(1);
        let mut i = 0;
        while i < BACKUPTICS {
            let need = !self.recv_have[i as usize]
                && (stale(self.resend_at[i as usize])
                    || (i == 0 && stalled && self.resend_at[0].is_none()));
            if !need {
                i += 1;
                continue;
            }
            let from = i;
            while i + 1 < BACKUPTICS
                && !self.recv_have[i as usize + 1]
                && stale(self.resend_at[i as usize + 1])
            {
                i += 1;
            }
            self.ask_resend(now, from, i);
            i += 1;
        }
        if self.maketic >= self.game_tics
            && self
                .last_send
                .is_none_or(|t| now.duration_since(t) > Duration::from_millis(200))
        {
            let mut p = Self::header(GAMEDATA_ACK);
            p.push(self.recv_start as u8);
            self.send(now, p);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Instant {
        Instant::now()
    }

    #[test]
    fn expand_tic_follows_net_common() {
        assert_eq!(expand_tic(0x100, 0x05), 0x105);
        assert_eq!(expand_tic(0x1fe, 0x02), 0x202);
        assert_eq!(expand_tic(0x202, 0xfe), 0x1fe);
        assert_eq!(expand_tic(0x280, 0x80), 0x280);
    }

    #[test]
    fn syn_is_what_a_real_client_sends() {
        let b = Bot::new("Surly Gargoyle", 4, 10, 1, now());
        // Captured from `doomlink join` (Chocolate Doom 3.0.1 in wasm) to chocolate-server.
        let real = "000056abe18c43686f636f6c61746520446f6f6d20332e302e30000143484f434f4c4154455f444f4f4d5f30000300000004017e7f8bef8d5fe6db3d90b0278166ce9e3afb5970daaf56c1dcc08a2e7668814811b2cab0cc7d52c1005375726c7920476172676f796c6500";
        let hex: String = b.syn().iter().map(|x| format!("{x:02x}")).collect();
        assert_eq!(hex, real);
        let s = settings();
        assert_eq!(s.len(), 21);
    }

    /// Walks one bot through a server's lobby and game by hand.
    #[test]
    fn bot_connects_launches_plays_and_leaves() {
        let t0 = now();
        let mut b = Bot::new("b", 2, 3, 7, t0);
        b.handle_timeout(t0);
        assert_eq!(b.poll_transmit().map(|p| p[..2].to_vec()), Some(vec![0, 0]));
        // The server's reliable SYN answer.
        let mut syn = vec![0x80, 0, 0];
        put_string(&mut syn, VERSION);
        put_string(&mut syn, PROTOCOL);
        b.handle(t0, &syn);
        assert_eq!(b.phase(), &Phase::Lobby);
        assert_eq!(b.poll_transmit(), Some(vec![0, 10, 1]));
        // Waiting data: 2 players, we are the controller → LAUNCH.
        b.handle(t0, &[0, 4, 2, 0, 0, 2, 1, 0]);
        assert_eq!(b.poll_transmit(), Some(vec![0x80, 15, 0]));
        b.handle(t0, &[0, 10, 1]); // acknowledged
        b.handle(t0, &[0x80, 15, 1, 2]); // the server's LAUNCH
        assert_eq!(b.phase(), &Phase::Starting);
        assert_eq!(b.poll_transmit(), Some(vec![0, 10, 2]));
        assert_eq!(
            b.poll_transmit().map(|p| p[..3].to_vec()),
            Some(vec![0x80, 5, 1])
        );
        let mut start = vec![0x80, 5, 2];
        start.extend_from_slice(&[
            1, 1, 0, 0, 0, 0, 1, 1, 2, 6, 0, 1, 0, 0, 0, 0, 0xff, 0, 2, 1, 0, 0,
        ]);
        b.handle(t0, &start);
        assert_eq!(b.phase(), &Phase::InGame);
        while b.poll_transmit().is_some() {}
        // The clock makes tic 0, then 1 and 2 (each with the one before).
        b.handle_timeout(t0);
        let p = b.poll_transmit().unwrap();
        assert_eq!(&p[..5], &[0, 6, 0, 0, 1]);
        b.handle_timeout(t0 + Duration::from_millis(100));
        let p = b.poll_transmit().unwrap();
        assert_eq!(&p[..5], &[0, 6, 0, 0, 2]);
        let p = b.poll_transmit().unwrap();
        assert_eq!(&p[..5], &[0, 6, 0, 1, 2]);
        assert_eq!(b.stats.tics_sent, 3);
        // Tics 0 and 2 come back: tic 1 is asked for.
        b.handle(t0, &[0, 6, 0, 1, 0, 0, 1, 0]);
        b.handle(t0, &[0, 6, 2, 1, 0, 0, 1, 0]);
        assert_eq!(b.poll_transmit(), Some(vec![0, 11, 0, 0, 0, 1, 1]));
        assert_eq!(b.stats.tics_received, 1);
        b.handle(t0, &[0, 6, 1, 1, 0, 0, 1, 0]);
        assert_eq!(b.stats.tics_received, 3);
        assert_eq!(b.stats.tic_delays_us.len(), 3);
        // The server asks for tics 1..2 again.
        b.handle(t0, &[0, 11, 0, 0, 0, 1, 2]);
        assert_eq!(&b.poll_transmit().unwrap()[..5], &[0, 6, 3, 1, 2]);
        // Game over: leave.
        b.handle_timeout(t0 + Duration::from_millis(120));
        assert_eq!(b.phase(), &Phase::Leaving);
        let sent: Vec<_> = std::iter::from_fn(|| b.poll_transmit()).collect();
        assert!(sent.contains(&vec![0, 8]), "{sent:?}");
        b.handle(t0, &[0, 9]);
        assert!(b.finished());
        assert_eq!(b.phase(), &Phase::Done);
    }

    #[test]
    fn junk_never_panics_and_a_rejection_is_reported() {
        let t0 = now();
        let mut b = Bot::new("b", 4, 100, 3, t0);
        let mut x = 12345u64;
        for len in 0..200usize {
            let p: Vec<u8> = (0..len)
                .map(|_| {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    x as u8
                })
                .collect();
            b.handle(t0, &p);
            for t in [0u16, 4, 5, 6, 11, 0x8000, 0x800f] {
                let mut q = t.to_be_bytes().to_vec();
                q.extend_from_slice(&p[..len.min(9)]);
                b.handle(t0, &q);
            }
        }
        let mut b = Bot::new("b", 4, 100, 3, t0);
        let mut rej = vec![0, 2];
        put_string(&mut rej, "Server is full!");
        b.handle(t0, &rej);
        assert_eq!(
            b.phase(),
            &Phase::Failed("rejected: Server is full!".into())
        );
    }
}
