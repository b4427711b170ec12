//! What a room is, asked of its rendezvous with the invite link's join secret before joining:
//! who hosts it and who is in it ([`peek_room`]), and what it plays ([`peek_game`]). Each
//! question is a connection of its own; nothing reaches the host.

use std::time::Duration;

use super::{OnlineError, RendezvousAddr, Signaling};
use crate::signaling::invite::InviteLink;
use crate::signaling::{ErrorCode, GameInfo, Message};
use crate::tls_client::ClientTls;

/// What the rendezvous tells about a room before joining it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomPeek {
    /// The name the host registered the room with.
    pub host: String,
    /// Who is in the room, as the host last said (empty if it never did).
    pub players: Vec<String>,
    /// How many players the game waits for; 0 if the host did not say.
    pub expected: u8,
}

/// Who hosts the room of an invite link, as the host named itself to the rendezvous, and who is
/// in it: asked
/// with the link's join secret before joining (nothing reaches the host); a TLS rendezvous's
/// certificate is checked against `tls`. The name is
/// stripped of control characters ([`crate::text`]).
pub async fn peek_room(invite: &InviteLink, tls: &ClientTls) -> Result<RoomPeek, OnlineError> {
    let ask = Message::Peek {
        room: invite.room.clone(),
        secret: invite.secret.clone(),
    };
    match ask_rendezvous(invite, tls, ask).await? {
        Message::RoomInfo {
            host,
            players,
            expected,
        } => Ok(RoomPeek {
            host,
            players,
            expected,
        }),
        other => Err(OnlineError::Protocol(format!("{other:?}"))),
    }
}

/// What the room of an invite link plays, asked with its join secret before joining, as the
/// host told the rendezvous ([`HostOptions::game`](super::HostOptions::game)); an empty
/// [`GameInfo`] when it did not (an older host) or the rendezvous does not know the question
/// (an older service). Nothing reaches the host.
pub async fn peek_game(invite: &InviteLink, tls: &ClientTls) -> Result<GameInfo, OnlineError> {
    let ask = Message::PeekGame {
        room: invite.room.clone(),
        secret: invite.secret.clone(),
    };
    match ask_rendezvous(invite, tls, ask).await {
        Ok(Message::Game(game)) => Ok(game),
        Ok(other) => Err(OnlineError::Protocol(format!("{other:?}"))),
        Err(OnlineError::Refused {
            code: ErrorCode::BadMessage,
            ..
        }) => Ok(GameInfo::default()),
        Err(e) => Err(e),
    }
}

/// One question to the rendezvous of `invite` on a connection of its own, and its answer.
async fn ask_rendezvous(
    invite: &InviteLink,
    tls: &ClientTls,
    ask: Message,
) -> Result<Message, OnlineError> {
    const LIMIT: Duration = Duration::from_secs(5);
    let rv = RendezvousAddr {
        host_port: invite.rendezvous.clone(),
        tls: invite.tls,
    };
    let asked = async {
        let mut sig = Signaling::connect(&rv, tls).await?;
        sig.send(ask).await?;
        let answer = sig.recv().await;
        let _ = sig.out.try_send(Message::Leave);
        answer
    };
    tokio::time::timeout(LIMIT, asked)
        .await
        .map_err(|_| OnlineError::Timeout(LIMIT))?
}
