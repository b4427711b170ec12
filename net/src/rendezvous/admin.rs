//! The service's operations side: the admin API for dedicated rooms, the health check and the
//! Prometheus metrics.
//!
//! The rendezvous knows no wasm and no game: dedicated rooms (a room whose server peer is the
//! service itself, running Chocolate Doom `-dedicated` in a kernel) are the app's. The app hands
//! the service a [`DedicatedRooms`] trait object ([`AdminHandle::set_rooms`]); the HTTP side here
//! only checks the admin token, decodes the request and calls it.
//!
//! - `POST /admin/rooms` (header `Authorization: Bearer TOKEN`, body a JSON [`RoomRequest`]):
//!   creates a room and answers `{"room": …, "link": "doomlink://join/…"}`. 401 without the
//!   right token (or when no token is set: the API is closed then), 503 when the service runs no
//!   dedicated rooms or is draining, 400 for a bad body (a `lan_port` another room has
//!   included), 429 when a limit is reached, 500 when the room could not start (a `lan_port`
//!   another process holds).
//! - `GET /admin/rooms` (same token): the rooms as JSON.
//! - `GET /health`: `rooms N`, `players N`, then `ok` (or `draining`, with 503).
//! - `GET /metrics` (same token; Prometheus's `authorization` scrape setting sends it):
//!   Prometheus text — the rendezvous's own counters, then the rooms' figures from
//!   [`DedicatedRooms::metrics_text`].
//!
//! A source that sent a wrong token [`throttle::MAX_FAILURES`](super::throttle::MAX_FAILURES)
//! times in a minute gets 429 for the rest of that minute, its token unread.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use axum::extract::{ConnectInfo, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::net::SocketAddr;
use std::time::Instant;

use super::Shared;
pub use crate::admin_api::{CreatedRoom, RoomInfo, RoomRequest};

/// Longest admin request body read.
pub const MAX_ADMIN_BODY: usize = 16 * 1024;

/// Why a room could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    #[error("bad room request: {0}")]
    Invalid(String),
    #[error("limit reached: {0}")]
    Limit(String),
    #[error("the service is draining")]
    Draining,
    #[error("the room could not start: {0}")]
    Failed(String),
}

/// The app's dedicated rooms, as the HTTP side sees them.
#[async_trait::async_trait]
pub trait DedicatedRooms: Send + Sync {
    async fn create(&self, req: RoomRequest) -> Result<CreatedRoom, RoomError>;
    fn list(&self) -> Vec<RoomInfo>;
    /// Rooms and players now, for the health check.
    fn counts(&self) -> (usize, usize);
    /// Prometheus text (HELP/TYPE lines included) for the rooms.
    fn metrics_text(&self) -> String;
}

/// The mutable admin state: the token (SIGHUP may change it), the rooms, draining.
#[derive(Default)]
pub(super) struct AdminState {
    pub token: Option<String>,
    pub failures: super::throttle::FailureThrottle,
    pub rooms: Option<Arc<dyn DedicatedRooms>>,
    pub draining: bool,
}

/// Sets the admin side of a bound service (cheap to clone).
#[derive(Clone)]
pub struct AdminHandle(pub(super) Arc<Shared>);

impl AdminHandle {
    /// The bearer token `/admin/*` wants; `None` closes the admin API.
    pub fn set_token(&self, token: Option<String>) {
        self.0.admin().token = token.filter(|t| !t.is_empty());
    }
    pub fn set_rooms(&self, rooms: Arc<dyn DedicatedRooms>) {
        self.0.admin().rooms = Some(rooms);
    }
    /// Draining: no new rooms, and `/health` says so (503) for load balancers.
    pub fn set_draining(&self, on: bool) {
        self.0.admin().draining = on;
    }
}

/// The admin token's check: None when the request may go on, else the answer (401, or 429 for
/// a source that failed too often).
fn refused(shared: &Shared, peer: SocketAddr, headers: &HeaderMap) -> Option<Response> {
    let now = Instant::now();
    let mut admin = shared.admin();
    if admin.failures.blocked(peer.ip(), now) {
        return Some(text(
            StatusCode::TOO_MANY_REQUESTS,
            "too many bad admin tokens from this address; wait a minute",
        ));
    }
    let got = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let ok = admin
        .token
        .as_deref()
        .is_some_and(|want| super::rooms::same_secret(got.trim(), want));
    if ok {
        return None;
    }
    admin.failures.failed(peer.ip(), now);
    drop(admin);
    tracing::warn!(%peer, "admin request without the right token");
    Some(text(StatusCode::UNAUTHORIZED, "bad or missing admin token"))
}

fn text(code: StatusCode, body: impl Into<String>) -> Response {
    let mut s = body.into();
    s.push('\n');
    (code, s).into_response()
}

pub(super) async fn create_room(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    shared.admin_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(no) = refused(&shared, peer, &headers) {
        return no;
    }
    let (rooms, draining) = {
        let a = shared.admin();
        (a.rooms.clone(), a.draining)
    };
    let Some(rooms) = rooms else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "this service runs no dedicated rooms",
        );
    };
    if draining || shared.shutdown.is_shutdown() {
        return text(StatusCode::SERVICE_UNAVAILABLE, "the service is draining");
    }
    if body.len() > MAX_ADMIN_BODY {
        return text(StatusCode::PAYLOAD_TOO_LARGE, "request too large");
    }
    let req: RoomRequest = if body.iter().all(|b| b.is_ascii_whitespace()) {
        RoomRequest::default()
    } else {
        match serde_json::from_slice(&body) {
            Ok(r) => r,
            Err(e) => return text(StatusCode::BAD_REQUEST, format!("bad room request: {e}")),
        }
    };
    match rooms.create(req).await {
        Ok(c) => {
            tracing::info!(room = %c.room, "dedicated room created");
            (
                StatusCode::CREATED,
                serde_json::to_string(&c).unwrap_or_default() + "\n",
            )
                .into_response()
        }
        Err(e) => {
            let code = match e {
                RoomError::Invalid(_) => StatusCode::BAD_REQUEST,
                RoomError::Limit(_) => StatusCode::TOO_MANY_REQUESTS,
                RoomError::Draining => StatusCode::SERVICE_UNAVAILABLE,
                RoomError::Failed(_) => StatusCode::INTERNAL_SERVER_ERROR,
            };
            tracing::warn!(error = %e, "dedicated room refused");
            text(code, e.to_string())
        }
    }
}

pub(super) async fn list_rooms(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    shared.admin_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(no) = refused(&shared, peer, &headers) {
        return no;
    }
    let rooms = shared.admin().rooms.clone();
    let Some(rooms) = rooms else {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            "this service runs no dedicated rooms",
        );
    };
    (
        StatusCode::OK,
        serde_json::to_string(&rooms.list()).unwrap_or_default() + "\n",
    )
        .into_response()
}

pub(super) async fn health(State(shared): State<Arc<Shared>>) -> Response {
    let (rooms, draining) = {
        let a = shared.admin();
        (a.rooms.clone(), a.draining)
    };
    let (n, players) = rooms.map(|r| r.counts()).unwrap_or((0, 0));
    if draining || shared.shutdown.is_shutdown() {
        return text(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("rooms {n}\nplayers {players}\ndraining"),
        );
    }
    text(StatusCode::OK, format!("rooms {n}\nplayers {players}\nok"))
}

pub(super) async fn metrics(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
) -> Response {
    use std::fmt::Write;
    // The figures say who plays where, and making them visits every room: the admin's.
    if let Some(no) = refused(&shared, peer, &headers) {
        return no;
    }
    let mut s = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, v: f64| {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
    };
    metric(
        "doomlink_rendezvous_rooms",
        "gauge",
        "Rooms registered at the rendezvous (hosted by players or by this service).",
        shared.registry().room_count() as f64,
    );
    metric(
        "doomlink_rendezvous_connections",
        "gauge",
        "Open signaling WebSocket connections.",
        shared.conns().len() as f64,
    );
    metric(
        "doomlink_rendezvous_connections_total",
        "counter",
        "Signaling WebSocket connections accepted.",
        (shared.next_conn.load(Ordering::Relaxed) - 1) as f64,
    );
    metric(
        "doomlink_rendezvous_messages_total",
        "counter",
        "Signaling messages received.",
        shared.messages.load(Ordering::Relaxed) as f64,
    );
    metric(
        "doomlink_rendezvous_bad_messages_total",
        "counter",
        "Signaling messages refused (undecodable or rate-limited).",
        shared.bad_messages.load(Ordering::Relaxed) as f64,
    );
    metric(
        "doomlink_admin_requests_total",
        "counter",
        "Admin API requests.",
        shared.admin_requests.load(Ordering::Relaxed) as f64,
    );
    let rooms = shared.admin().rooms.clone();
    if let Some(r) = rooms {
        s.push_str(&r.metrics_text());
    }
    (
        StatusCode::OK,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn room_requests_parse_with_and_without_a_lan_port() {
        // An old client's body (no lan_port) still parses; absent means none.
        let r: RoomRequest = serde_json::from_str(r#"{"players": 2, "mode": "coop"}"#).unwrap();
        assert_eq!(r.lan_port, None);
        assert_eq!(r.game.players, Some(2));
        let r: RoomRequest = serde_json::from_str(r#"{"lan_port": 27000}"#).unwrap();
        assert_eq!(r.lan_port, Some(27000));
        let r: RoomRequest = serde_json::from_str(r#"{"lan_port": null}"#).unwrap();
        assert_eq!(r.lan_port, None);
        // Not a port: refused by the decoder, naming nothing else.
        for bad in [
            r#"{"lan_port": 70000}"#,
            r#"{"lan_port": -1}"#,
            r#"{"lan_port": "x"}"#,
        ] {
            assert!(serde_json::from_str::<RoomRequest>(bad).is_err(), "{bad}");
        }
        // Unknown fields are still refused.
        let e = serde_json::from_str::<RoomRequest>(r#"{"lan_prot": 1}"#).unwrap_err();
        assert!(e.to_string().contains("lan_prot"), "{e}");
        // Without a port the JSON has no lan_port key (services from before it refuse one);
        // with one it round-trips.
        let none = serde_json::to_string(&RoomRequest::default()).unwrap();
        assert!(!none.contains("lan_port"), "{none}");
        let req = RoomRequest {
            lan_port: Some(2342),
            ..RoomRequest::default()
        };
        let back: RoomRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(back, req);
        // The game's keys sit next to the room's, and a whole request round-trips.
        let r: RoomRequest = serde_json::from_str(
            r#"{"name": "dm", "players": 3, "mode": "altdeath", "skill": 5, "warp": [2, 4],
                "timer": 15, "nomonsters": true, "fast": true, "respawn": true,
                "iwad": "freedoom1.wad"}"#,
        )
        .unwrap();
        let want = crate::chocolate::GameSettings {
            players: Some(3),
            mode: crate::chocolate::GameMode::AltDeath,
            skill: Some(5),
            warp: Some((Some(2), 4)),
            timer_minutes: Some(15),
            nomonsters: true,
            fast: true,
            respawn: true,
        };
        assert_eq!(r.game, want);
        assert_eq!(
            (r.name.as_deref(), r.iwad.as_deref()),
            (Some("dm"), Some("freedoom1.wad"))
        );
        let req = r;
        let back: RoomRequest =
            serde_json::from_str(&serde_json::to_string(&req).unwrap()).unwrap();
        assert_eq!(back, req);
    }
}
