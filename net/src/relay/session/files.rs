//! A joiner who lacks the game's WADs gets them from the hub before the handshake ends.
//!
//! The hub answers a Hello that names other WADs with the game's file list ([`Frame::Wads`],
//! [`Config::offer`]) instead of a refusal, and keeps the link waiting: the client fetches
//! what it lacks of the offered files, one file at a time, [`REQUESTS_IN_FLIGHT`] requests of
//! [`REQUEST_LEN`] bytes ahead (a hub takes up to [`MAX_FILE_REQUEST`]), and says Hello again with the game's WADs. The hub
//! hands each request to the app ([`Event::FileWanted`]), which reads the file and answers with
//! [`Session::send_file_data`]; the client hands each piece, in order, to the app
//! ([`Event::FileData`]), which stores it and checks the whole against the hash. The session
//! checks the protocol: only offered files, only ranges inside them, no more requests in flight
//! than allowed, only bytes that were asked for and in order; a peer that breaks it is told
//! Bye (protocol error) and its link closed. A link that is fetching stays open as long as
//! bytes keep coming (the link timeout counts from the last frame heard).

use super::*;
use crate::relay::wire::{FileData, FileRequest, WadEntry, WadHash, WadSet, MAX_FILE_CHUNK};

pub use crate::relay::wire::MAX_FILE_REQUEST;

/// Requests a client keeps outstanding on its link, so bytes keep flowing while the next
/// request travels; the most a hub holds for one link.
pub const REQUESTS_IN_FLIGHT: usize = 8;

/// What a client asks for at a time (a hub takes up to [`MAX_FILE_REQUEST`]): 8 × 96 KiB =
/// 768 KiB in flight, under the 1 MiB a dedicated service's WebRTC edge lets a link hold
/// unacknowledged (`webrtc::mux::SEND_QUEUE_CAP`) with room for the game's own frames. Bytes in
/// flight set the rate: over WebRTC on loopback, 2 MiB moved a 20 MiB file in 0.53 s, 512 KiB
/// in 1.5 s (`wad_transfer` bench).
pub const REQUEST_LEN: u32 = 96 * 1024;
const _: () = assert!(REQUEST_LEN <= MAX_FILE_REQUEST);

/// The hub's side of one waiting joiner: it was sent the file list; the ranges it asked for
/// that are not yet sent in full (file, next offset to send, end).
#[derive(Debug, Default)]
pub(super) struct Serving {
    ranges: VecDeque<(WadHash, u64, u64)>,
}

/// The client's fetch of one file.
#[derive(Debug, Clone, Copy)]
pub(super) struct Fetch {
    hash: WadHash,
    size: u64,
    /// Bytes asked for so far (from 0), and bytes received (in order).
    requested: u64,
    received: u64,
}

/// Why the app's file call was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    #[error("the host has not listed its files")]
    NoList,
    #[error("the host does not send that file")]
    NotOffered,
    #[error("a file is being fetched already")]
    Busy,
    #[error("no such request from that link")]
    NotRequested,
    #[error("more bytes than were asked for")]
    TooMuch,
}

impl Session {
    /// Hub: a waiting joiner's Hello names other WADs than the game's.
    pub(super) fn hub_wad_mismatch(&mut self, link: LinkId) {
        let listed = self.links.get(&link).is_some_and(|l| l.serving.is_some());
        if self.cfg.offer.is_empty() || listed {
            // Nothing to send, or it was told the list and still names other files.
            let r = ByeReason::WadMismatch;
            return self.say_bye_and_close(
                link,
                r,
                "the host plays other WADs",
                CloseReason::Refused(r),
            );
        }
        if let Some(l) = self.links.get_mut(&link) {
            l.serving = Some(Serving::default());
            l.moving_files = true;
        }
        let list = Frame::Wads(self.cfg.offer.clone());
        self.transmit(link, &list);
    }

    /// Hub: a waiting joiner asks for a range of an offered file.
    pub(super) fn hub_file_request(&mut self, link: LinkId, req: FileRequest) {
        let offered = self
            .cfg
            .offer
            .iter()
            .find(|e| e.offered && e.hash == req.hash)
            .map(|e| e.size);
        let Some(l) = self.links.get_mut(&link) else {
            return;
        };
        let why = match (&mut l.serving, offered) {
            (None, _) => Some("a file request before the file list"),
            (Some(_), None) => Some("a file the host does not send"),
            (Some(_), Some(size)) if req.offset + u64::from(req.len) > size => {
                Some("a range outside the file")
            }
            (Some(s), Some(_)) if s.ranges.len() >= REQUESTS_IN_FLIGHT => {
                Some("too many file requests at once")
            }
            (Some(s), Some(_)) => {
                let end = req.offset + u64::from(req.len);
                s.ranges.push_back((req.hash, req.offset, end));
                None
            }
        };
        match why {
            Some(why) => self.protocol_error(link, why),
            None => self.event(Event::FileWanted {
                link,
                hash: req.hash,
                offset: req.offset,
                len: req.len,
            }),
        }
    }

    /// Hub: sends `data`, the bytes of file `hash` from `offset`, to `link`, which asked for
    /// them ([`Event::FileWanted`]); the answer to one request may come in several calls, in
    /// order.
    pub fn send_file_data(
        &mut self,
        _now: Instant,
        link: LinkId,
        hash: WadHash,
        offset: u64,
        data: &[u8],
    ) -> Result<(), SessionError> {
        let l = self
            .links
            .get_mut(&link)
            .ok_or(SessionError::UnknownLink(link))?;
        let s = l.serving.as_mut().ok_or(FileError::NotRequested)?;
        let Some(front) = s.ranges.front_mut() else {
            return Err(FileError::NotRequested.into());
        };
        if front.0 != hash || front.1 != offset {
            return Err(FileError::NotRequested.into());
        }
        if data.len() as u64 > front.2 - front.1 {
            return Err(FileError::TooMuch.into());
        }
        front.1 += data.len() as u64;
        if front.1 == front.2 {
            s.ranges.pop_front();
        }
        let mut at = offset;
        for piece in data.chunks(MAX_FILE_CHUNK) {
            let frame = Frame::FileData(FileData {
                hash,
                offset: at,
                data: piece,
            });
            self.transmit(link, &frame);
            at += piece.len() as u64;
        }
        Ok(())
    }

    /// Client: the hub lists the game's files.
    pub(super) fn client_wads(&mut self, link: LinkId, list: Vec<WadEntry>) {
        if self.host_wads.is_some() {
            return self.protocol_error(link, "a second file list");
        }
        self.host_wads = Some(list.clone());
        if let Some(l) = self.links.get_mut(&link) {
            l.moving_files = true;
        }
        self.event(Event::HostWads(list));
    }

    /// Client: fetches file `hash` of the host's list ([`Event::HostWads`]) from byte `from`
    /// (0, or where an earlier download of it stopped); its bytes come as [`Event::FileData`],
    /// then [`Event::FileFetched`]. One file at a time.
    pub fn fetch_file(
        &mut self,
        _now: Instant,
        hash: WadHash,
        from: u64,
    ) -> Result<(), SessionError> {
        let list = self.host_wads.as_ref().ok_or(FileError::NoList)?;
        let size = list
            .iter()
            .find(|e| e.offered && e.hash == hash)
            .ok_or(FileError::NotOffered)?
            .size;
        if self.fetch.is_some() {
            return Err(FileError::Busy.into());
        }
        if from >= size {
            self.event(Event::FileFetched { hash });
            return Ok(());
        }
        self.fetch = Some(Fetch {
            hash,
            size,
            requested: from,
            received: from,
        });
        self.request_more();
        Ok(())
    }

    /// Client: says Hello again, now with `wads` (the game's, which it has now).
    pub fn hello_again(&mut self, _now: Instant, mut wads: WadSet) -> Result<(), SessionError> {
        if self.host_wads.is_none() {
            return Err(FileError::NoList.into());
        }
        if self.fetch.is_some() {
            return Err(FileError::Busy.into());
        }
        let link = self.pending_link().ok_or(SessionError::NotConnected)?;
        wads.pwads.truncate(crate::relay::wire::MAX_PWADS);
        self.cfg.wads = wads;
        let hello = Frame::Hello(Hello {
            doomlink_version: self.cfg.doomlink_version.clone(),
            name: self.cfg.name.clone(),
            wads: self.cfg.wads.clone(),
        });
        self.transmit(link, &hello);
        Ok(())
    }

    /// Client: bytes of the file being fetched.
    pub(super) fn client_file_data(&mut self, link: LinkId, d: FileData<'_>) {
        let Some(f) = self.fetch.as_mut() else {
            return self.protocol_error(link, "file bytes nobody asked for");
        };
        let end = d.offset + d.data.len() as u64;
        if d.hash != f.hash || d.offset != f.received || end > f.requested {
            return self.protocol_error(link, "file bytes out of order");
        }
        f.received = end;
        let (hash, done) = (f.hash, f.received == f.size);
        self.event(Event::FileData {
            hash,
            offset: d.offset,
            data: d.data.to_vec(),
        });
        if done {
            self.fetch = None;
            self.event(Event::FileFetched { hash });
        } else {
            self.request_more();
        }
    }

    /// Client: asks for the next ranges while fewer than [`REQUESTS_IN_FLIGHT`] are unanswered
    /// (every range but the file's last is a whole [`REQUEST_LEN`]).
    fn request_more(&mut self) {
        let Some(link) = self.pending_link() else {
            return;
        };
        let window = (REQUESTS_IN_FLIGHT as u64 - 1) * u64::from(REQUEST_LEN);
        while let Some(f) = self.fetch.as_mut() {
            if f.requested == f.size || f.requested - f.received > window {
                break;
            }
            let len = (f.size - f.requested).min(u64::from(REQUEST_LEN)) as u32;
            let req = Frame::FileRequest(FileRequest {
                hash: f.hash,
                offset: f.requested,
                len,
            });
            f.requested += u64::from(len);
            self.transmit(link, &req);
        }
    }

    /// Client: the one link, while it waits for the Welcome.
    fn pending_link(&self) -> Option<LinkId> {
        self.links
            .iter()
            .find(|(_, l)| l.state == LinkState::Pending)
            .map(|(&id, _)| id)
    }

    fn protocol_error(&mut self, link: LinkId, why: &str) {
        let r = ByeReason::ProtocolError;
        self.say_bye_and_close(link, r, why, CloseReason::Refused(r));
    }
}

#[cfg(test)]
mod tests;
