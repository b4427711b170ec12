//! The admin API's language and its client: the requests and answers of `POST /admin/rooms`
//! and `GET /admin/rooms` (the service side is `rendezvous::admin`), and [`create_room`], what
//! `doomlink room create` and the window's Host → On a server send. HTTP/1.1 through hyper, one
//! request per connection, with bounds on the time and on the answer's size; over TLS, its
//! certificate verified ([`crate::tls_client`]), when the service is named `https://host:port`.

use crate::chocolate::settings::Warp;
use crate::chocolate::{GameMode, GameSettings};
use crate::signaling::invite::RendezvousAddr;
use crate::tls_client::{self, ClientTls, ConnectError};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper_util::rt::TokioIo;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A room to create: its game (players, mode, skill, map, timer, flags) as `doomlink host`
/// takes them, and where it runs; all optional. Its JSON is flat, the game's keys next to
/// `name`, `iwad` and `lan_port` (`{"players": 2, "mode": "deathmatch", "warp": [1, 3]}`), and
/// unknown keys are refused; `serve.toml`'s `[[room]]` tables are the same keys.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "FlatRoomRequest")]
pub struct RoomRequest {
    /// Shown in logs and the room list.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub game: GameSettings,
    /// Which of the service's IWADs (a file name such as `freedoom2.wad`); default: the first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub iwad: Option<String>,
    /// A real UDP port (1–65534) on the service where players also join over the LAN
    /// transport (`doomlink join HOST:PORT`, stock Chocolate Doom `-connect`); absent: invite
    /// link only. Left out of the JSON when absent, so that services from before it (which
    /// refuse unknown fields) still take requests without one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lan_port: Option<u16>,
    /// PWADs and DEHACKED files among the service's (`pwads`), by file name, in load order:
    /// the room's game, sent to joiners who lack them. Left out of the JSON when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<String>,
}

/// What a request's JSON (or a `[[room]]` table) is read as: the room's keys and the game's,
/// flat, unknown ones refused. Not a flattened [`GameSettings`]: serde cannot refuse unknown
/// keys next to a flattened struct, and a flattened field's error loses where it is.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FlatRoomRequest {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    players: Option<u8>,
    #[serde(default)]
    mode: GameMode,
    #[serde(default)]
    skill: Option<u8>,
    #[serde(default, with = "crate::chocolate::settings::warp_list")]
    warp: Option<Warp>,
    #[serde(default)]
    timer: Option<u32>,
    #[serde(default)]
    nomonsters: bool,
    #[serde(default)]
    fast: bool,
    #[serde(default)]
    respawn: bool,
    #[serde(default)]
    iwad: Option<String>,
    #[serde(default)]
    lan_port: Option<u16>,
    #[serde(default)]
    files: Vec<String>,
}

impl From<FlatRoomRequest> for RoomRequest {
    fn from(f: FlatRoomRequest) -> Self {
        RoomRequest {
            name: f.name,
            game: GameSettings {
                players: f.players,
                mode: f.mode,
                skill: f.skill,
                warp: f.warp,
                timer_minutes: f.timer,
                nomonsters: f.nomonsters,
                fast: f.fast,
                respawn: f.respawn,
            },
            iwad: f.iwad,
            lan_port: f.lan_port,
            files: f.files,
        }
    }
}

/// What the admin API answers for a new room.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreatedRoom {
    pub room: String,
    pub link: String,
}

/// A room as `GET /admin/rooms` lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoomInfo {
    pub room: String,
    pub name: String,
    pub link: String,
    pub players: usize,
    pub max_players: u8,
    /// "standing" (from the config) or "created" (admin API).
    pub kind: String,
    /// Games started in this room (standing rooms start a new one after each ends).
    pub games: u64,
}

/// How long reaching the service may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the service may take to answer: creating a room starts a guest.
pub const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);
/// The longest answer read (a created room is a few hundred bytes).
pub const MAX_ANSWER: usize = 1 << 20;

/// Why a request to the admin API failed, in one line.
#[derive(Debug, thiserror::Error)]
pub enum AdminClientError {
    #[error("{0}: not HOST:PORT or https://HOST:PORT")]
    Address(String),
    #[error("not connecting to {addr}: {err}")]
    Untrusted { addr: String, err: String },
    // The io error is in the message, not a `source`: the app prints one line with `{:#}`.
    #[error("cannot reach {addr}: {err}")]
    Connect { addr: String, err: String },
    #[error("{addr}: {err}")]
    Http { addr: String, err: String },
    #[error("{addr} did not answer within {secs} s", secs = ANSWER_TIMEOUT.as_secs())]
    Timeout { addr: String },
    #[error("{addr} refused the admin token (401)")]
    Unauthorized { addr: String },
    #[error("{addr} answered {status}: {message}")]
    Refused {
        addr: String,
        status: u16,
        message: String,
    },
    #[error("{addr} answered something that is not a room")]
    NotARoom { addr: String },
}

/// `POST /admin/rooms` on the service at `on` (`HOST:PORT` of its HTTP side, or
/// `https://HOST:PORT` for TLS checked against the system's roots) with `token`.
pub async fn create_room(
    on: &str,
    token: &str,
    req: &RoomRequest,
) -> Result<CreatedRoom, AdminClientError> {
    create_room_with(on, token, req, &ClientTls::default()).await
}

/// [`create_room`] with what an `https://` service's certificate is checked against.
pub async fn create_room_with(
    on: &str,
    token: &str,
    req: &RoomRequest,
    trust: &ClientTls,
) -> Result<CreatedRoom, AdminClientError> {
    let endpoint = RendezvousAddr::parse(on)
        .map_err(|_| AdminClientError::Address(on.trim().chars().take(80).collect()))?;
    let addr = endpoint.host_port.clone();
    let connect_err = |err: String| AdminClientError::Connect {
        addr: addr.clone(),
        err,
    };
    let stream = tls_client::connect(&addr, endpoint.tls.then_some(trust), CONNECT_TIMEOUT)
        .await
        .map_err(|e| match e {
            ConnectError::Timeout => connect_err(format!("no answer within {CONNECT_TIMEOUT:?}")),
            e @ ConnectError::Untrusted { .. } => AdminClientError::Untrusted {
                addr: addr.clone(),
                err: e.to_string(),
            },
            e => connect_err(e.to_string()),
        })?;
    let http = |e: &dyn std::fmt::Display| AdminClientError::Http {
        addr: addr.clone(),
        err: e.to_string(),
    };
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| http(&e))?;
    let driver = tokio::spawn(conn);
    let body = serde_json::to_vec(req).map_err(|e| http(&e))?;
    let request = hyper::Request::post("/admin/rooms")
        .header(HOST, addr.as_str())
        .header(AUTHORIZATION, format!("Bearer {}", token.trim()))
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| http(&e))?;
    let exchange = async {
        let response = sender.send_request(request).await.map_err(|e| http(&e))?;
        let status = response.status().as_u16();
        let body = Limited::new(response.into_body(), MAX_ANSWER)
            .collect()
            .await
            .map_err(|e| http(&e))?
            .to_bytes();
        Ok::<_, AdminClientError>((status, body))
    };
    let answer = tokio::time::timeout(ANSWER_TIMEOUT, exchange).await;
    driver.abort();
    let (status, body) = answer.map_err(|_| AdminClientError::Timeout { addr: addr.clone() })??;
    let text = String::from_utf8_lossy(&body);
    match status {
        200..=299 => {
            serde_json::from_str(text.trim()).map_err(|_| AdminClientError::NotARoom { addr })
        }
        401 => Err(AdminClientError::Unauthorized { addr }),
        _ => Err(AdminClientError::Refused {
            addr,
            status,
            message: text.trim().lines().next().unwrap_or("").to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// A one-shot HTTP server on 127.0.0.1 that reads a request and writes `answer` raw.
    async fn answering(answer: Vec<u8>) -> String {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut buf = vec![0; 4096];
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(&answer).await;
            let _ = s.shutdown().await;
        });
        addr
    }

    #[tokio::test]
    async fn a_chunk_boundary_inside_a_character_is_read_whole() {
        // "é" (c3 a9) split across two chunks of a refusal.
        let mut a = b"HTTP/1.1 400 Bad Request\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        a.extend_from_slice(
            b"4\r\nbad \r\n1\r\n\xc3\r\n6\r\n\xa9t\xc3\xa9 \xe2\r\n2\r\n\x82\xac\r\n0\r\n\r\n",
        );
        let addr = answering(a).await;
        let e = create_room(&addr, "t", &RoomRequest::default())
            .await
            .unwrap_err();
        assert!(
            matches!(&e, AdminClientError::Refused { status: 400, message, .. } if message == "bad été €"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn a_created_room_is_read_from_a_chunked_answer() {
        let body = br#"{"room":"r1","link":"doomlink://join/x"}"#;
        let mut a = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for part in body.chunks(7) {
            a.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
            a.extend_from_slice(part);
            a.extend_from_slice(b"\r\n");
        }
        a.extend_from_slice(b"0\r\n\r\n");
        let addr = answering(a).await;
        let room = create_room(&addr, "t", &RoomRequest::default())
            .await
            .unwrap();
        assert_eq!(room.room, "r1");
    }

    #[tokio::test]
    async fn an_endless_answer_is_cut_at_the_bound() {
        let mut a = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n",
            MAX_ANSWER + 1
        )
        .into_bytes();
        a.extend(std::iter::repeat_n(b'x', MAX_ANSWER + 1));
        let addr = answering(a).await;
        let e = create_room(&addr, "t", &RoomRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, AdminClientError::Http { .. }), "{e}");
    }

    #[tokio::test]
    async fn junk_instead_of_http_and_a_bad_address_are_one_line_each() {
        let addr = answering(b"SSH-2.0-OpenSSH\r\n".to_vec()).await;
        let e = create_room(&addr, "t", &RoomRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, AdminClientError::Http { .. }), "{e}");
        assert_eq!(e.to_string().lines().count(), 1, "{e}");
        let e = create_room("no port here", "t", &RoomRequest::default())
            .await
            .unwrap_err();
        assert!(matches!(e, AdminClientError::Address(_)), "{e}");
    }
}
