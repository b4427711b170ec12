//! The page's side of a netgame: net's sans-IO relay session, the invite link, the signaling
//! messages and the certificate fingerprint check, exported to the page's script
//! (`www/net.js`), which holds the WebSocket and the RTCPeerConnection.
//!
//! The same code as the desktop's: [`Session`] is the session a desktop joiner runs (a client,
//! one link to the host), the link is parsed by [`InviteLink`], every signaling message the page
//! sends or receives goes through [`Message`]'s strict codec, and a host's description and
//! certificate are checked with [`Fingerprint`]. Time is the page's clock
//! (`web_time::Instant`, `performance.now()`).
//!
//! ```text
//! guest datagram (worker → page)  ─► fromGuest ─► Session ─► poll: transmit ─► RTCDataChannel
//! RTCDataChannel message ─► frame ─► Session ─► poll: deliver ─► the guest's ring
//!                                          └► poll: joined, peer_joined, peer_left, closed, chat
//! page timer at nextTimeoutMs ─► timeout (pings, the 10 s liveness)
//! ```
//!
//! A host whose game has PWADs (or DEHACKED files) the page lacks lists them before it lets the
//! page in; the page fetches them over the control channel, as the desktop joiner does
//! ([`PageFetch`]: the session's file exchange, SHA-256 checked, held in memory, at most
//! [`PAGE_DOWNLOAD_CAP`] bytes in all), hands them to the page's script to load, and says Hello
//! again with the game's WADs. The IWAD is the player's (or the service's free one): one the
//! host plays otherwise is refused, as before.

use doomlink_net::relay::session::{CloseReason, Config, Event, LinkId, Output, Session};
use doomlink_net::relay::wire::{ByeReason, Channel, WadEntry};
use doomlink_net::signaling::fingerprint::Fingerprint;
use doomlink_net::signaling::invite::InviteLink;
use doomlink_net::signaling::Message;
use doomlink_net::{LinkStats, WadSet};
use js_sys::{Array, Object, Reflect, Uint8Array};
use sha2::{Digest, Sha256};
use std::net::Ipv4Addr;
use wasm_bindgen::prelude::*;
use web_time::Instant;

/// What a page fetches from a host at most, all files together: they are held in the page's
/// memory (and copied to the guest's).
pub const PAGE_DOWNLOAD_CAP: u64 = 128 * 1024 * 1024;

/// A client session: the page's link to the host, as a desktop joiner's.
#[wasm_bindgen]
pub struct PageSession {
    session: Session,
    link: Option<LinkId>,
    fetch: Option<PageFetch>,
    /// Every PWAD is here and the Hello went again: `files_ready` is the next thing polled.
    ready: Option<Array>,
}

/// The host's PWADs being fetched: its list (IWAD first, as the host loads them), each PWAD's
/// bytes once here (kept by the page, or fetched), and the one under way.
struct PageFetch {
    list: Vec<WadEntry>,
    /// Per entry of `list`: its bytes once here, and whether they were fetched now.
    here: Vec<Option<(Vec<u8>, bool)>>,
    /// Index in `list` of the file under way.
    at: Option<usize>,
    bytes: Vec<u8>,
    hasher: Sha256,
}

impl PageFetch {
    /// The next PWAD not here yet.
    fn missing(&self) -> Option<usize> {
        (0..self.list.len()).find(|&i| !self.list[i].iwad && self.here[i].is_none())
    }
}

/// What the page does with the host's list: fetch these (the PWADs), or the one line why not.
fn plan_fetch(list: &[WadEntry], own_iwad: &[u8; 32]) -> Result<Vec<usize>, String> {
    if list.iter().any(|e| e.iwad && &e.hash != own_iwad) {
        return Err(bye_text(ByeReason::WadMismatch));
    }
    let pwads: Vec<usize> = (0..list.len()).filter(|&i| !list[i].iwad).collect();
    if let Some(e) = pwads.iter().map(|&i| &list[i]).find(|e| !e.offered) {
        return Err(format!(
            "the host plays {} ({} bytes), which it does not send: join from the doomlink app \
             with that file",
            e.name, e.size
        ));
    }
    let total: u64 = pwads.iter().map(|&i| list[i].size).sum();
    if total > PAGE_DOWNLOAD_CAP {
        return Err(format!(
            "the host's files are {:.1} MB, over the {} MB a page fetches: join from the doomlink app",
            total as f64 / 1e6,
            PAGE_DOWNLOAD_CAP >> 20
        ));
    }
    Ok(pwads)
}

#[wasm_bindgen]
impl PageSession {
    /// A joiner named `name` whose IWAD has the SHA-256 `iwad_sha256` (the host refuses
    /// another IWAD: the game would desync); it pings the host every `ping_ms` (default 1000:
    /// a benchmark samples the round trip faster).
    #[wasm_bindgen(constructor)]
    pub fn new(
        name: &str,
        iwad_sha256: &[u8],
        ping_ms: Option<u32>,
    ) -> Result<PageSession, JsError> {
        let iwad: [u8; 32] = iwad_sha256
            .try_into()
            .map_err(|_| JsError::new("the IWAD's hash is not 32 bytes"))?;
        let mut cfg = Config::new(
            name,
            WadSet {
                iwad,
                pwads: Vec::new(),
            },
        );
        if let Some(ms) = ping_ms.filter(|&ms| ms > 0) {
            cfg.ping_interval = std::time::Duration::from_millis(ms.into());
        }
        Ok(PageSession {
            session: Session::client(cfg, Instant::now()),
            link: None,
            fetch: None,
            ready: None,
        })
    }

    /// The link to the host is up (both channels open): the Hello goes out.
    #[wasm_bindgen(js_name = linkUp)]
    pub fn link_up(&mut self) -> Result<(), JsError> {
        let id = self
            .session
            .link_up(Instant::now())
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.link = Some(id);
        Ok(())
    }

    /// The transport lost the link (the peer connection failed or closed).
    #[wasm_bindgen(js_name = linkDown)]
    pub fn link_down(&mut self) {
        if let Some(link) = self.link.take() {
            self.session.link_down(Instant::now(), link);
        }
    }

    /// A datagram the guest sent (`dst_ip` as a u32 in network order's value): false if it
    /// went nowhere (not joined yet, outside the game's network, too large).
    #[wasm_bindgen(js_name = fromGuest)]
    pub fn from_guest(&mut self, src_port: u16, dst_ip: u32, dst_port: u16, data: &[u8]) -> bool {
        self.session
            .send_from_guest(
                Instant::now(),
                src_port,
                Ipv4Addr::from(dst_ip),
                dst_port,
                data,
            )
            .is_ok()
    }

    /// A frame that arrived on either of the link's channels (a frame says what it is).
    pub fn frame(&mut self, bytes: &[u8]) {
        if let Some(link) = self.link {
            self.session.handle_frame(Instant::now(), link, bytes);
        }
    }

    /// The timer the page set from [`PageSession::next_timeout_ms`] fired.
    pub fn timeout(&mut self) {
        self.session.handle_timeout(Instant::now());
    }

    /// Milliseconds until [`PageSession::timeout`] is due (0 if it is), or -1 with no link.
    #[wasm_bindgen(js_name = nextTimeoutMs)]
    pub fn next_timeout_ms(&self) -> f64 {
        match self.session.poll_timeout() {
            Some(at) => at.saturating_duration_since(Instant::now()).as_secs_f64() * 1000.0,
            None => -1.0,
        }
    }

    /// Leaves the game: a Bye to the host.
    pub fn close(&mut self) {
        self.session.close(Instant::now(), ByeReason::Quit);
    }

    /// Sends a chat line to the others.
    pub fn chat(&mut self, text: &str) -> Result<(), JsError> {
        self.session
            .send_chat(Instant::now(), text)
            .map_err(|e| JsError::new(&e.to_string()))
    }

    /// The link's smoothed round trip in milliseconds (from the session's pings), or -1.
    #[wasm_bindgen(js_name = rttMs)]
    pub fn rtt_ms(&self) -> f64 {
        self.stats()
            .and_then(|s| s.rtt)
            .map_or(-1.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// Pongs received on the link so far, and the latest round trip in milliseconds (-1 before
    /// the first): a new sample each time the count moves.
    pub fn pongs(&self) -> f64 {
        self.stats().map_or(0.0, |s| s.pongs_received as f64)
    }

    #[wasm_bindgen(js_name = rttLastMs)]
    pub fn rtt_last_ms(&self) -> f64 {
        self.stats()
            .and_then(|s| s.rtt_last)
            .map_or(-1.0, |d| d.as_secs_f64() * 1000.0)
    }

    /// A file of the host's list this page kept (`sha256` in hex): used instead of fetching
    /// it if its bytes hash to that. False if they do not, or the host does not list it.
    pub fn provide(&mut self, sha256: &str, data: &[u8]) -> bool {
        let Some(f) = self.fetch.as_mut() else {
            return false;
        };
        let got: [u8; 32] = Sha256::digest(data).into();
        if doomlink_net::iwads::hex(&got) != sha256.to_ascii_lowercase() {
            return false;
        }
        let Some(i) = (0..f.list.len())
            .find(|&i| !f.list[i].iwad && f.list[i].hash == got && f.here[i].is_none())
        else {
            return false;
        };
        f.here[i] = Some((data.to_vec(), false));
        true
    }

    /// Fetches the host's PWADs not [provided](PageSession::provide), one after another.
    #[wasm_bindgen(js_name = fetchMissing)]
    pub fn fetch_missing(&mut self) -> Result<(), JsError> {
        self.fetch_next().map_err(|e| JsError::new(&e))
    }

    /// The next thing to do, or `undefined`: `{kind: "transmit", control, frame}`,
    /// `{kind: "deliver", srcIp, srcPort, dstPort, data}`, `{kind: "joined", addr, hub,
    /// peers}`, `{kind: "peer_joined", name}`, `{kind: "peer_left", name, why}`,
    /// `{kind: "closed", why}`, `{kind: "chat", name, text}`, `{kind: "lobby", name, text}`;
    /// when the host's game has PWADs this page lacks: `{kind: "files", files: [{name, size,
    /// sha256}], bytes}` (the script hands over those it kept, [`PageSession::provide`], then
    /// calls [`PageSession::fetch_missing`]), `{kind: "file_progress", name, received, size}`,
    /// `{kind: "files_ready", files: [{name, sha256, data, fetched}]}` (before the Welcome).
    pub fn poll(&mut self) -> JsValue {
        let o = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
        };
        if let Some(files) = self.ready.take() {
            set("kind", "files_ready".into());
            set("files", files.into());
            return o.into();
        }
        let Some(out) = self.session.poll_output() else {
            return JsValue::UNDEFINED;
        };
        match out {
            Output::Transmit(t) => {
                set("kind", "transmit".into());
                set("control", (t.channel == Channel::Control).into());
                set("frame", Uint8Array::from(&t.frame[..]).into());
            }
            Output::Deliver(d) => {
                set("kind", "deliver".into());
                set("srcIp", u32::from(d.src_ip).into());
                set("srcPort", d.src_port.into());
                set("dstPort", d.dst_port.into());
                set("data", Uint8Array::from(&d.data[..]).into());
            }
            Output::Event(e) => match e {
                Event::Joined {
                    addr, hub, peers, ..
                } => {
                    set("kind", "joined".into());
                    set("addr", u32::from(addr).into());
                    set("hub", hub.to_string().into());
                    let names: Array = peers.iter().map(|p| JsValue::from_str(&p.name)).collect();
                    set("peers", names.into());
                }
                Event::PeerJoined { peer, .. } => {
                    set("kind", "peer_joined".into());
                    set("name", peer.name.into());
                }
                Event::PeerLeft { peer, reason, .. } => {
                    set("kind", "peer_left".into());
                    set("name", peer.name.into());
                    set("why", bye_text(reason).into());
                }
                Event::LinkClosed { reason, .. } => {
                    set("kind", "closed".into());
                    set("why", close_text(reason).into());
                }
                Event::Chat { name, text, .. } => {
                    set("kind", "chat".into());
                    set("name", name.into());
                    set("text", text.into());
                }
                Event::Lobby { name, text, .. } => {
                    set("kind", "lobby".into());
                    set("name", name.into());
                    set("text", text.into());
                }
                Event::HostWads(list) => {
                    let own = self.session.config().wads.iwad;
                    match plan_fetch(&list, &own) {
                        Ok(pwads) => {
                            let entries: Array = pwads
                                .iter()
                                .map(|&i| {
                                    let e = &list[i];
                                    let o = Object::new();
                                    let set = |k: &str, v: JsValue| {
                                        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
                                    };
                                    set("name", e.name.clone().into());
                                    set("size", (e.size as f64).into());
                                    set("sha256", doomlink_net::iwads::hex(&e.hash).into());
                                    JsValue::from(o)
                                })
                                .collect();
                            let total: u64 = pwads.iter().map(|&i| list[i].size).sum();
                            set("kind", "files".into());
                            set("files", entries.into());
                            set("bytes", (total as f64).into());
                            self.fetch = Some(PageFetch {
                                here: vec![None; list.len()],
                                list,
                                at: None,
                                bytes: Vec::new(),
                                hasher: Sha256::new(),
                            });
                        }
                        Err(why) => {
                            self.close();
                            set("kind", "closed".into());
                            set("why", why.into());
                        }
                    }
                }
                Event::FileData { data, .. } => {
                    let Some((at, f)) = self.fetch.as_mut().and_then(|f| Some((f.at?, f))) else {
                        set("kind", "none".into());
                        return o.into();
                    };
                    // The session passes only the next bytes, in order, of the file asked for.
                    f.hasher.update(&data);
                    f.bytes.extend_from_slice(&data);
                    let e = &f.list[at];
                    set("kind", "file_progress".into());
                    set("name", e.name.clone().into());
                    set("received", (f.bytes.len() as f64).into());
                    set("size", (e.size as f64).into());
                }
                Event::FileFetched { .. } => match self.file_fetched() {
                    Ok(()) => set("kind", "none".into()),
                    Err(why) => {
                        self.close();
                        set("kind", "closed".into());
                        set("why", why.into());
                    }
                },
                // A client serves nothing.
                Event::FileWanted { .. } => {
                    set("kind", "none".into());
                }
            },
        }
        o.into()
    }
}

impl PageSession {
    /// Asks for the next PWAD of the host's list not here, or, with all here, says Hello
    /// again and makes the files ready for the script.
    fn fetch_next(&mut self) -> Result<(), String> {
        let now = Instant::now();
        let Some(f) = self.fetch.as_mut() else {
            return Ok(());
        };
        if let Some(i) = f.missing() {
            f.at = Some(i);
            f.bytes = Vec::new();
            f.hasher = Sha256::new();
            return self
                .session
                .fetch_file(now, f.list[i].hash, 0)
                .map_err(|e| e.to_string());
        }
        let wads = WadSet {
            iwad: self.session.config().wads.iwad,
            pwads: f.list.iter().filter(|e| !e.iwad).map(|e| e.hash).collect(),
        };
        let files = Array::new();
        for (e, here) in f.list.iter().zip(&f.here) {
            let Some((data, fetched)) = here else {
                continue;
            };
            let o = Object::new();
            let set = |k: &str, v: JsValue| {
                let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
            };
            set("name", e.name.clone().into());
            set("sha256", doomlink_net::iwads::hex(&e.hash).into());
            set("data", Uint8Array::from(&data[..]).into());
            set("fetched", (*fetched).into());
            files.push(&o);
        }
        self.fetch = None;
        self.ready = Some(files);
        self.session
            .hello_again(now, wads)
            .map_err(|e| e.to_string())
    }

    /// The file under way is here: checked, kept, and the next asked for.
    fn file_fetched(&mut self) -> Result<(), String> {
        let Some(f) = self.fetch.as_mut() else {
            return Ok(());
        };
        let Some(at) = f.at.take() else {
            return Ok(());
        };
        let e = &f.list[at];
        let got: [u8; 32] = std::mem::take(&mut f.hasher).finalize().into();
        if got != e.hash || f.bytes.len() as u64 != e.size {
            return Err(format!(
                "the host sent a different {} (its SHA-256 is not the one announced)",
                e.name
            ));
        }
        f.here[at] = Some((std::mem::take(&mut f.bytes), true));
        self.fetch_next()
    }

    /// The link's figures, once there is a link.
    fn stats(&self) -> Option<&LinkStats> {
        self.link.and_then(|l| self.session.link_stats(l))
    }
}

/// Why the link to the host closed, for the player.
fn close_text(reason: CloseReason) -> String {
    match reason {
        CloseReason::TimedOut => "the host was not heard from for 10 s".into(),
        CloseReason::ByeReceived(r) | CloseReason::Refused(r) => bye_text(r),
        CloseReason::Local(_) => "you left the game".into(),
        CloseReason::TransportClosed => "the connection to the host closed".into(),
    }
}

/// A peer's reason for leaving or refusing, for the player.
fn bye_text(reason: ByeReason) -> String {
    match reason {
        ByeReason::Quit => "left the game".into(),
        ByeReason::HubClosing => "the host ended the game".into(),
        ByeReason::IncompatibleVersion => {
            "the host runs another version of doomlink's protocol".into()
        }
        ByeReason::WadMismatch => {
            "the host plays another IWAD: choose the same IWAD file as the host".into()
        }
        ByeReason::NetworkFull => "the game is full".into(),
        ByeReason::ProtocolError => "a protocol error".into(),
        ByeReason::TimedOut => "timed out".into(),
        ByeReason::Kicked => "removed by the host".into(),
        ByeReason::Other(c) => format!("reason {c}"),
    }
}

/// Parses an invite link (either form) and refuses an expired one: `{rendezvous, tls, room,
/// secret, fingerprint}` (the fingerprint as the link spells it), or the link's one-line error.
#[wasm_bindgen(js_name = parseInvite)]
pub fn parse_invite(link: &str) -> Result<JsValue, JsError> {
    let l = InviteLink::parse(link).map_err(|e| JsError::new(&e.to_string()))?;
    let o = Object::new();
    for (k, v) in [
        ("rendezvous", JsValue::from_str(&l.rendezvous)),
        ("tls", l.tls.into()),
        ("room", JsValue::from_str(&l.room)),
        ("secret", JsValue::from_str(&l.secret)),
        ("fingerprint", l.fingerprint.to_base64url().into()),
    ] {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    }
    Ok(o.into())
}

/// A signaling message the page sends, given as JSON: checked by the protocol's codec and
/// encoded by it (an error names what is wrong).
#[wasm_bindgen(js_name = encodeSignal)]
pub fn encode_signal(json: &str) -> Result<String, JsError> {
    let m = Message::decode(json).map_err(|e| JsError::new(&e.to_string()))?;
    m.encode().map_err(|e| JsError::new(&e.to_string()))
}

/// A signaling message the page received: decoded and checked by the protocol's codec (texts
/// for people cleaned), returned as JSON for the page to read.
#[wasm_bindgen(js_name = decodeSignal)]
pub fn decode_signal(text: &str) -> Result<String, JsError> {
    let m = Message::decode(text).map_err(|e| JsError::new(&format!("the rendezvous sent {e}")))?;
    m.encode().map_err(|e| JsError::new(&e.to_string()))
}

/// Checks the host's offer against the link's fingerprint (base64url) before the page's
/// RTCPeerConnection sees it: a rendezvous that swapped the description is refused here.
#[wasm_bindgen(js_name = checkOfferFingerprint)]
pub fn check_offer_fingerprint(sdp: &str, expected: &str) -> Result<(), JsError> {
    let expected =
        Fingerprint::from_base64url(expected).map_err(|e| JsError::new(&e.to_string()))?;
    let got = Fingerprint::from_sdp(sdp)
        .map_err(|e| JsError::new(&format!("the host's description: {e}")))?;
    got.expect(expected)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// Checks the certificate the connected host presented (DER) against the link's fingerprint.
#[wasm_bindgen(js_name = checkCertificate)]
pub fn check_certificate(der: &[u8], expected: &str) -> Result<(), JsError> {
    let expected =
        Fingerprint::from_base64url(expected).map_err(|e| JsError::new(&e.to_string()))?;
    Fingerprint::of_der(der)
        .expect(expected)
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The free IWAD (Freedoom, FreeDM) with this SHA-256 in hex: `{file, title}`, or `undefined`
/// for any other file: the page names what a game needs with it, and only such a file is ever
/// fetched from the service ([`doomlink_net::iwads`]).
#[wasm_bindgen(js_name = freeIwad)]
pub fn free_iwad(sha256: &str) -> JsValue {
    let Some(w) = doomlink_net::iwads::free_iwad_hex(sha256) else {
        return JsValue::UNDEFINED;
    };
    let o = Object::new();
    let _ = Reflect::set(&o, &"file".into(), &w.file.into());
    let _ = Reflect::set(&o, &"title".into(), &w.title.into());
    o.into()
}

/// A `/dev/lobby` record of the page's guest (assets/chocolate-doom/LOBBY.md), read as the
/// desktop's lobby panel reads it: `{state, expected, controller, you, players, maxPlayers,
/// names: [[name, address]…], checks: [[what, matches]…]}`, or `undefined` if it is not a
/// whole record.
#[wasm_bindgen(js_name = parseLobby)]
pub fn parse_lobby(record: &str) -> JsValue {
    use doomlink_net::chocolate::lobby::LobbyReader;
    let mut reader = LobbyReader::default();
    record.lines().for_each(|l| reader.line(l.trim_end()));
    let Some(s) = reader.latest else {
        return JsValue::UNDEFINED;
    };
    let pairs = |v: Vec<(JsValue, JsValue)>| -> Array {
        v.into_iter()
            .map(|(a, b)| Array::of2(&a, &b))
            .collect::<Array>()
    };
    let o = Object::new();
    for (k, v) in [
        ("state", JsValue::from_str(&s.state)),
        ("expected", s.expected.into()),
        ("controller", s.controller.into()),
        ("you", s.you.map_or(JsValue::NULL, |y| (y as u32).into())),
        ("players", s.players.into()),
        ("maxPlayers", s.max_players.into()),
        (
            "names",
            pairs(
                s.names
                    .into_iter()
                    .map(|(n, a)| (n.into(), a.into()))
                    .collect(),
            )
            .into(),
        ),
        (
            "checks",
            pairs(
                s.checks
                    .into_iter()
                    .map(|(w, m)| (w.into(), m.into()))
                    .collect(),
            )
            .into(),
        ),
    ] {
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    }
    o.into()
}
