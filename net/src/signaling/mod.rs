//! The signaling protocol between doomlink peers and the rendezvous: JSON text messages over
//! one WebSocket per peer.
//!
//! Owns the message types, their limits and their strict decoder; both the service
//! ([`crate::rendezvous`]) and the client side ([`crate::online`]) use exactly these. A message
//! is one JSON object with a `"t"` tag. Unknown tags, unknown fields, wrong types, over-long
//! strings and oversized messages are refused with a typed [`SignalError`]; nothing here panics
//! or allocates beyond the message's own (capped) size.
//!
//! ```text
//! host → service   {"t":"host","name":"alice"}
//! service → host   {"t":"hosted","room":"k3v9x2ab","host_secret":"…","join_secret":"…",
//!                   "expires":1767225600,"ice":[{"urls":["stun:…"]},{"urls":["turn:…"],
//!                   "username":"1767225600:k3v9x2ab","credential":"…"}]}
//! joiner → service {"t":"peek","room":"k3v9x2ab","secret":"…"}    (before joining: who hosts?)
//! service → joiner {"t":"room_info","host":"alice"}
//! host → service   {"t":"game","iwad":"c72de2af…","iwad_file":"freedoom2.wad"}  (what it plays)
//! joiner → service {"t":"peek_game","room":"k3v9x2ab","secret":"…"}  (before joining: which IWAD?)
//! service → joiner {"t":"game","iwad":"c72de2af…","iwad_file":"freedoom2.wad"}
//! joiner → service {"t":"join","room":"k3v9x2ab","secret":"…","name":"bob"}
//! service → joiner {"t":"joined","peer":1,"ice":[…]}
//! service → host   {"t":"peer","peer":1,"name":"bob"}
//! either → service {"t":"signal","peer":1,"data":{"sdp":{"type":"offer","sdp":"v=0…"}}}
//!                   (a joiner's "peer" is ignored: it can only reach its host)
//! service → either {"t":"signal","peer":1,"data":{"candidate":{"candidate":"candidate:…",
//!                   "sdpMid":"0","sdpMLineIndex":0}}}
//! service → host   {"t":"peer_left","peer":1}
//! host → service   {"t":"resume","room":"k3v9x2ab","host_secret":"…"}  (after a dropped socket)
//! either → service {"t":"keepalive"} / {"t":"leave"}
//! service → either {"t":"closed","reason":"host left"}
//! service → either {"t":"error","code":"unknown_room","message":"no room k3v9x2ab"}
//! ```
//!
//! Only SDP descriptions and ICE candidates travel in `signal`: the service relays these two
//! shapes and nothing else, so it cannot be used as a general message relay.
//!
//! This module, invite links and fingerprints need no WebRTC or async runtime (the `signaling`
//! feature): a browser's page builds them for wasm32.

pub mod fingerprint;
pub mod game;
pub mod invite;

pub use game::{GameFile, GameInfo};

use serde::{Deserialize, Serialize};

/// The largest message either side sends or accepts (an SDP with a dozen candidates is ~2 KiB).
pub const MAX_MESSAGE_LEN: usize = 16 * 1024;
/// The largest SDP in a `signal`.
pub const MAX_SDP_LEN: usize = 12 * 1024;
/// The largest ICE candidate line.
pub const MAX_CANDIDATE_LEN: usize = 512;
/// Player names as the rendezvous shows them.
pub const MAX_NAME_LEN: usize = 32;
/// A close reason or error text.
pub const MAX_TEXT_LEN: usize = 256;
/// ICE servers handed out, and URLs per server.
pub const MAX_ICE_SERVERS: usize = 8;
/// Names in a [`Message::Players`] (Chocolate Doom takes 8 players; a room's list may also
/// name who waits in its lobby).
pub const MAX_PLAYERS_LISTED: usize = 16;

/// A STUN or TURN server as WebRTC's configuration takes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IceServer {
    pub urls: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub credential: String,
}

impl IceServer {
    #[cfg(feature = "internet")]
    pub fn to_rtc(&self) -> webrtc::peer_connection::RTCIceServer {
        webrtc::peer_connection::RTCIceServer {
            urls: self.urls.clone(),
            username: self.username.clone(),
            credential: self.credential.clone(),
        }
    }
}

/// An SDP description.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sdp {
    #[serde(rename = "type")]
    pub kind: SdpKind,
    pub sdp: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SdpKind {
    Offer,
    Answer,
}

/// A trickled ICE candidate (the browser's `RTCIceCandidateInit` shape).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Candidate {
    pub candidate: String,
    #[serde(rename = "sdpMid", default, skip_serializing_if = "Option::is_none")]
    pub sdp_mid: Option<String>,
    #[serde(
        rename = "sdpMLineIndex",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub sdp_mline_index: Option<u16>,
}

/// What `signal` carries: a description or a candidate, nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SignalData {
    Sdp(Sdp),
    Candidate(Candidate),
    /// No more candidates from this side.
    EndOfCandidates,
}

/// Error codes the service answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Not JSON, not a known message, a field of the wrong type or too long.
    BadMessage,
    /// Over [`MAX_MESSAGE_LEN`].
    TooLarge,
    /// Sent faster than the service's rate limit; the message was dropped.
    RateLimited,
    UnknownRoom,
    /// Wrong join or host secret.
    BadSecret,
    /// The room has as many joiners as it takes.
    RoomFull,
    /// This address holds as many rooms as it may.
    TooManyRooms,
    /// The service holds as many rooms as it may.
    ServiceFull,
    /// The message does not fit this connection's state (signal before joining, host twice…).
    NotAllowed,
    /// A signal to a peer that is not (or no longer) in the room.
    UnknownPeer,
    /// The service is shutting down.
    ShuttingDown,
}

/// Every message of the protocol.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "t", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    Host {
        #[serde(default)]
        name: String,
    },
    Hosted {
        room: String,
        host_secret: String,
        join_secret: String,
        /// Unix time at which the join secret and TURN credentials run out.
        expires: u64,
        ice: Vec<IceServer>,
    },
    Resume {
        room: String,
        host_secret: String,
    },
    Join {
        room: String,
        secret: String,
        #[serde(default)]
        name: String,
    },
    Joined {
        peer: u32,
        ice: Vec<IceServer>,
    },
    /// Who hosts a room, asked with its join secret before joining (a link opened from
    /// outside the window shows it and waits for the player's answer). Changes nothing.
    Peek {
        room: String,
        secret: String,
    },
    /// The answer to a [`Message::Peek`]: the name the host registered the room with, and
    /// who is in it as the host last said ([`Message::Players`]).
    RoomInfo {
        host: String,
        #[serde(default)]
        players: Vec<String>,
        /// How many players the game waits for; 0 if the host did not say.
        #[serde(default)]
        expected: u8,
    },
    /// Host → service: who is in the room now (sent when it changes), for [`Message::RoomInfo`].
    Players {
        names: Vec<String>,
        #[serde(default)]
        expected: u8,
    },
    /// Host → service: what the room plays (sent once, after `hosted`), for whoever asks with
    /// [`Message::PeekGame`]; and the service's answer to that ([`GameInfo`]: the IWAD, the
    /// PWADs with sizes, mode, map, skill). A service that predates this message answers the
    /// host `bad_message`, and the room goes on.
    Game(GameInfo),
    /// What a room plays, asked with its join secret before joining (the browser player fetches
    /// a free IWAD the service has, or checks the player's own file). Answered with a
    /// [`Message::Game`]. Changes nothing.
    PeekGame {
        room: String,
        secret: String,
    },
    Peer {
        peer: u32,
        #[serde(default)]
        name: String,
    },
    PeerLeft {
        peer: u32,
    },
    Signal {
        #[serde(default)]
        peer: u32,
        data: SignalData,
    },
    Keepalive,
    Leave,
    Closed {
        reason: String,
    },
    Error {
        code: ErrorCode,
        message: String,
    },
}

/// Why a message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignalError {
    #[error("message of {len} bytes exceeds the {max}-byte limit")]
    TooLarge { len: usize, max: usize },
    #[error("not a signaling message: {0}")]
    Malformed(String),
    #[error("{field} is {len} long, the limit is {max}")]
    FieldTooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("invalid {0}")]
    Invalid(&'static str),
}

impl SignalError {
    pub fn code(&self) -> ErrorCode {
        match self {
            SignalError::TooLarge { .. } => ErrorCode::TooLarge,
            _ => ErrorCode::BadMessage,
        }
    }
}

fn check_len(field: &'static str, s: &str, max: usize) -> Result<(), SignalError> {
    if s.len() > max {
        return Err(SignalError::FieldTooLong {
            field,
            len: s.len(),
            max,
        });
    }
    Ok(())
}

fn check_names(names: &[String]) -> Result<(), SignalError> {
    if names.len() > MAX_PLAYERS_LISTED {
        return Err(SignalError::FieldTooLong {
            field: "players",
            len: names.len(),
            max: MAX_PLAYERS_LISTED,
        });
    }
    names
        .iter()
        .try_for_each(|n| check_len("name", n, MAX_NAME_LEN))
}

fn check_ice(ice: &[IceServer]) -> Result<(), SignalError> {
    if ice.len() > MAX_ICE_SERVERS {
        return Err(SignalError::FieldTooLong {
            field: "ice",
            len: ice.len(),
            max: MAX_ICE_SERVERS,
        });
    }
    for s in ice {
        if s.urls.len() > MAX_ICE_SERVERS {
            return Err(SignalError::Invalid("ice urls"));
        }
        for u in &s.urls {
            check_len("ice url", u, MAX_TEXT_LEN)?;
        }
        check_len("ice username", &s.username, MAX_TEXT_LEN)?;
        check_len("ice credential", &s.credential, MAX_TEXT_LEN)?;
    }
    Ok(())
}

impl Message {
    /// Parses and validates one message. The length is checked before any parsing.
    pub fn decode(text: &str) -> Result<Message, SignalError> {
        if text.len() > MAX_MESSAGE_LEN {
            return Err(SignalError::TooLarge {
                len: text.len(),
                max: MAX_MESSAGE_LEN,
            });
        }
        let m: Message = serde_json::from_str(text).map_err(|e| {
            let mut s = e.to_string();
            s.truncate(120);
            SignalError::Malformed(s)
        })?;
        m.validate()?;
        Ok(m.displayable())
    }

    /// The message with the text it carries for people (names, reasons) stripped of what a
    /// terminal or the window must not be handed ([`crate::text`]).
    fn displayable(mut self) -> Message {
        let clean = |s: &mut String| {
            if let std::borrow::Cow::Owned(c) = crate::text::displayable(s) {
                *s = c;
            }
        };
        match &mut self {
            Message::Host { name }
            | Message::Join { name, .. }
            | Message::Peer { name, .. }
            | Message::RoomInfo { host: name, .. } => clean(name),
            Message::Game(g) => g.clean(clean),
            Message::Closed { reason } => clean(reason),
            Message::Error { message, .. } => clean(message),
            _ => {}
        }
        if let Message::RoomInfo { players: names, .. } | Message::Players { names, .. } = &mut self
        {
            names.iter_mut().for_each(clean);
        }
        self
    }

    /// Serializes a message; the encoder refuses what the decoder would.
    pub fn encode(&self) -> Result<String, SignalError> {
        self.validate()?;
        let s = serde_json::to_string(self).map_err(|e| SignalError::Malformed(e.to_string()))?;
        if s.len() > MAX_MESSAGE_LEN {
            return Err(SignalError::TooLarge {
                len: s.len(),
                max: MAX_MESSAGE_LEN,
            });
        }
        Ok(s)
    }

    pub fn validate(&self) -> Result<(), SignalError> {
        use crate::signaling::invite::{valid_room, valid_secret};
        let room = |r: &str| {
            if valid_room(r) {
                Ok(())
            } else {
                Err(SignalError::Invalid("room id"))
            }
        };
        let secret = |s: &str| {
            if valid_secret(s) {
                Ok(())
            } else {
                Err(SignalError::Invalid("secret"))
            }
        };
        match self {
            Message::Host { name } => check_len("name", name, MAX_NAME_LEN),
            Message::Hosted {
                room: r,
                host_secret,
                join_secret,
                ice,
                ..
            } => {
                room(r)?;
                secret(host_secret)?;
                secret(join_secret)?;
                check_ice(ice)
            }
            Message::Resume {
                room: r,
                host_secret,
            } => {
                room(r)?;
                secret(host_secret)
            }
            Message::Join {
                room: r,
                secret: s,
                name,
            } => {
                room(r)?;
                secret(s)?;
                check_len("name", name, MAX_NAME_LEN)
            }
            Message::Peek { room: r, secret: s } | Message::PeekGame { room: r, secret: s } => {
                room(r)?;
                secret(s)
            }
            Message::Game(g) => g.check(),
            Message::RoomInfo { host, players, .. } => {
                check_len("name", host, MAX_NAME_LEN)?;
                check_names(players)
            }
            Message::Players { names, .. } => check_names(names),
            Message::Joined { ice, .. } => check_ice(ice),
            Message::Peer { name, .. } => check_len("name", name, MAX_NAME_LEN),
            Message::Signal { data, .. } => match data {
                SignalData::Sdp(s) => {
                    check_len("sdp", &s.sdp, MAX_SDP_LEN)?;
                    if !s.sdp.starts_with("v=0") {
                        return Err(SignalError::Invalid("sdp"));
                    }
                    Ok(())
                }
                SignalData::Candidate(c) => {
                    check_len("candidate", &c.candidate, MAX_CANDIDATE_LEN)?;
                    if let Some(mid) = &c.sdp_mid {
                        check_len("sdpMid", mid, 32)?;
                    }
                    // An empty candidate is the browsers' end-of-candidates marker; anything
                    // else must look like one.
                    let body = c.candidate.strip_prefix("a=").unwrap_or(&c.candidate);
                    if !body.is_empty() && !body.starts_with("candidate:") {
                        return Err(SignalError::Invalid("candidate"));
                    }
                    Ok(())
                }
                SignalData::EndOfCandidates => Ok(()),
            },
            Message::Closed { reason } => check_len("reason", reason, MAX_TEXT_LEN),
            Message::Error { message, .. } => check_len("message", message, MAX_TEXT_LEN),
            Message::PeerLeft { .. } | Message::Keepalive | Message::Leave => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_player_list_is_bounded_and_cleaned() {
        let list = |n: usize, name: &str| {
            let names: Vec<String> = (0..n).map(|_| format!("\"{name}\"")).collect();
            format!(
                r#"{{"t":"players","names":[{}],"expected":4}}"#,
                names.join(",")
            )
        };
        assert_eq!(
            Message::decode(&list(2, "bo\\u001b[2Jb")).unwrap(),
            Message::Players {
                names: vec!["bo[2Jb".into(), "bo[2Jb".into()],
                expected: 4
            }
        );
        assert!(matches!(
            Message::decode(&list(MAX_PLAYERS_LISTED + 1, "b")),
            Err(SignalError::FieldTooLong {
                field: "players",
                ..
            })
        ));
        let long = "x".repeat(MAX_NAME_LEN + 1);
        assert!(Message::decode(&list(1, &long)).is_err());
        // A RoomInfo without the list (an older service) still reads.
        assert_eq!(
            Message::decode(r#"{"t":"room_info","host":"h"}"#).unwrap(),
            Message::RoomInfo {
                host: "h".into(),
                players: vec![],
                expected: 0
            }
        );
    }

    #[test]
    fn names_and_reasons_arrive_without_terminal_escapes_or_overrides() {
        let peer =
            Message::decode(r#"{"t":"peer","peer":2,"name":"\u001b]0;pwned\u0007bob\u202e"}"#)
                .unwrap();
        assert_eq!(
            peer,
            Message::Peer {
                peer: 2,
                name: "]0;pwnedbob".into()
            }
        );
        let closed = Message::decode(r#"{"t":"closed","reason":"bye\r\u001b[2K"}"#).unwrap();
        assert_eq!(
            closed,
            Message::Closed {
                reason: "bye[2K".into()
            }
        );
    }

    #[test]
    fn messages_round_trip_and_junk_is_typed() {
        let msgs = vec![
            Message::Host {
                name: "alice".into(),
            },
            Message::Join {
                room: "abcd1234".into(),
                secret: "0123456789abcdefABCD".into(),
                name: String::new(),
            },
            Message::Signal {
                peer: 3,
                data: SignalData::Candidate(Candidate {
                    candidate: "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host".into(),
                    sdp_mid: Some("0".into()),
                    sdp_mline_index: Some(0),
                }),
            },
            Message::Signal {
                peer: 0,
                data: SignalData::Sdp(Sdp {
                    kind: SdpKind::Offer,
                    sdp: "v=0\r\n".into(),
                }),
            },
            Message::Error {
                code: ErrorCode::RoomFull,
                message: "full".into(),
            },
            Message::Keepalive,
            Message::Game(GameInfo {
                iwad: "c72de2af7e2d0c17f6213e751a167e2f1913278aaf37ae6957854fe3cd6588ca".into(),
                iwad_file: "freedoom2.wad".into(),
                ..GameInfo::default()
            }),
            Message::Game(GameInfo::default()),
            Message::PeekGame {
                room: "abcd1234".into(),
                secret: "0123456789abcdefABCD".into(),
            },
        ];
        for m in msgs {
            let s = m.encode().unwrap();
            assert_eq!(Message::decode(&s), Ok(m), "{s}");
        }
        for junk in [
            "",
            "{",
            "[]",
            r#"{"t":"nope"}"#,
            r#"{"t":"host","name":5}"#,
            r#"{"t":"host","extra":1}"#,
            r#"{"t":"join","room":"../../etc","secret":"0123456789abcdefABCD"}"#,
            r#"{"t":"signal","peer":1,"data":{"chat":"hello"}}"#,
            r#"{"t":"signal","peer":1,"data":{"sdp":{"type":"offer","sdp":"hello"}}}"#,
            r#"{"t":"game","iwad":"c72de2af"}"#,
            r#"{"t":"game","iwad":"C72DE2AF7E2D0C17F6213E751A167E2F1913278AAF37AE6957854FE3CD6588CA"}"#,
            r#"{"t":"game","iwad":"../../../../../../../../../../../../../../../../../etc/passwd"}"#,
            r#"{"t":"game","iwad_file":"a-file-name-longer-than-32-bytes.wad"}"#,
            r#"{"t":"peek_game","room":"abcd1234"}"#,
        ] {
            let e = Message::decode(junk).unwrap_err();
            assert_eq!(e.code(), ErrorCode::BadMessage, "{junk}: {e}");
        }
        let big = format!(r#"{{"t":"host","name":"{}"}}"#, "x".repeat(MAX_MESSAGE_LEN));
        assert_eq!(
            Message::decode(&big).unwrap_err().code(),
            ErrorCode::TooLarge
        );
    }
}
