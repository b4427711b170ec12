//! What the window shows of a running netgame's network, whatever carries it: the peers with
//! their path, round-trip time and loss (the lobby's ping column and the in-game network
//! overlay), and the lobby's chat. Each transport's wiring implements [`NetView`] (the LAN bridge
//! in `netplay`, the WebRTC node in `internet`); the window only reads it.

pub use doomlink_net::status::{ChatLine, PeerStatus, MAX_CHAT_BYTES};
use std::sync::Mutex;

/// Why a chat line was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChatError {
    #[error("chat is not available in this game")]
    Unavailable,
    #[error("the line is too long (at most {max} bytes)")]
    TooLong { max: usize },
    #[error("{0}")]
    Failed(String),
}

/// A running netgame's network, as the window reads it. Called from the UI thread: cheap and
/// never blocking on the network.
pub trait NetView: Send + Sync {
    /// The peers now, in a stable order.
    fn peers(&self) -> Vec<PeerStatus>;
    /// Sends a chat line to every other player.
    fn send_chat(&self, text: &str) -> Result<(), ChatError>;
    /// The chat so far (bounded: the newest [`ChatLog::KEEP`] lines).
    fn chat(&self) -> Vec<ChatLine>;
}

/// A bounded chat history, for implementations to share.
#[derive(Debug, Default)]
pub struct ChatLog {
    lines: Mutex<std::collections::VecDeque<ChatLine>>,
}

impl ChatLog {
    /// Lines kept.
    pub const KEEP: usize = 100;

    pub fn push(&self, line: ChatLine) {
        let mut l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        if l.len() == Self::KEEP {
            l.pop_front();
        }
        l.push_back(line);
    }

    pub fn lines(&self) -> Vec<ChatLine> {
        let l = self.lines.lock().unwrap_or_else(|e| e.into_inner());
        l.iter().cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chat_log_keeps_the_newest_lines() {
        let log = ChatLog::default();
        for i in 0..ChatLog::KEEP + 5 {
            log.push(ChatLine {
                from: "a".into(),
                text: i.to_string(),
                mine: false,
            });
        }
        let l = log.lines();
        assert_eq!(l.len(), ChatLog::KEEP);
        assert_eq!(l[0].text, "5");
        assert_eq!(l.last().unwrap().text, (ChatLog::KEEP + 4).to_string());
    }
}
