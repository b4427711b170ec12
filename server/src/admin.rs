//! The rooms as the admin API sees them (`doomlink_net::rendezvous::DedicatedRooms`): create,
//! list, counts for /health, Prometheus text for /metrics.

use crate::lock;
use crate::metrics::published;
use crate::rooms::*;
use doomlink_net::rendezvous::{CreatedRoom, DedicatedRooms, RoomError, RoomInfo, RoomRequest};
use std::sync::atomic::Ordering;

#[async_trait::async_trait]
impl DedicatedRooms for Rooms {
    async fn create(&self, req: RoomRequest) -> Result<CreatedRoom, RoomError> {
        let spec = self.request_spec(&req)?;
        self.start(spec, Kind::Created).await
    }

    fn list(&self) -> Vec<RoomInfo> {
        let mut v: Vec<RoomInfo> = lock(&self.inner.rooms)
            .values()
            .map(|r| RoomInfo {
                room: r.id.clone(),
                name: r.spec.name.clone(),
                link: r.link.clone(),
                players: r.players(),
                max_players: r.spec.players(),
                kind: match r.kind {
                    Kind::Standing => "standing".into(),
                    Kind::Created => "created".into(),
                },
                games: r.games.load(Ordering::Relaxed),
            })
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.room.cmp(&b.room)));
        v
    }

    fn counts(&self) -> (usize, usize) {
        let s = published(self);
        (s.rooms, s.players)
    }

    fn metrics_text(&self) -> String {
        published(self).text.to_string()
    }
}
