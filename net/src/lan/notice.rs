//! Telling a native Chocolate Doom client whose WADs differ what the game plays.
//!
//! A doomlink joiner fetches the host's files before it starts; a stock Chocolate Doom client
//! cannot, and its lobby only warns that its WADs differ, not which. Its protocol carries one
//! text from a server: a console message, which the client prints. So the LAN bridge watches
//! the lobby go by: a client's SYN says the sums of what it loaded
//! ([`crate::chocolate::wads::syn_sums`]); the guest server's waiting data to that client says
//! the game's ([`crate::chocolate::wads::waiting_data_sums`]). When they differ, the client is
//! sent, once, a console message naming the game's files.
//!
//! Owns the clients seen (at most [`MAX_CLIENTS`], the oldest forgotten) and the message. A SYN
//! may come from a forged address, so the message to an address is never longer than the SYN
//! from it: no reflection bigger than its request. Sans-IO: the bridge hands it the datagrams
//! and sends what it returns.

use std::collections::VecDeque;
use std::net::SocketAddr;

use crate::chocolate::wads::{console_message, syn_sums, waiting_data_sums, WadSums};

/// Clients remembered at once.
pub const MAX_CLIENTS: usize = 64;

struct Client {
    addr: SocketAddr,
    sums: WadSums,
    /// The SYN's length: the longest message this address may be sent.
    syn_len: usize,
    told: bool,
}

/// See the module docs.
pub struct WadNotice {
    /// The game's files, as the message names them: `freedoom2.wad + maps.wad`.
    files: String,
    clients: VecDeque<Client>,
}

impl WadNotice {
    /// A notice naming `files` (the game's IWAD and PWADs, in load order).
    pub fn new(files: &[String]) -> WadNotice {
        WadNotice {
            files: files.join(" + "),
            clients: VecDeque::new(),
        }
    }

    /// A datagram from `from` to the guest.
    pub fn inbound(&mut self, from: SocketAddr, data: &[u8]) {
        let Ok(sums) = syn_sums(data) else {
            return;
        };
        self.clients.retain(|c| c.addr != from);
        if self.clients.len() == MAX_CLIENTS {
            self.clients.pop_front();
        }
        self.clients.push_back(Client {
            addr: from,
            sums,
            syn_len: data.len(),
            told: false,
        });
    }

    /// A datagram from the guest to `to`: the message to send `to` after it, if this is the
    /// first waiting data that shows `to`'s WADs differ from the game's.
    pub fn outbound(&mut self, to: SocketAddr, data: &[u8]) -> Option<Vec<u8>> {
        let game = waiting_data_sums(data).ok()?;
        let c = self.clients.iter_mut().find(|c| c.addr == to)?;
        if c.told || c.sums == game {
            return None;
        }
        c.told = true;
        Some(console_message(&message(
            &self.files,
            c.syn_len.saturating_sub(3),
        )))
    }
}

/// The text for a client whose WADs differ, at most `max` bytes.
fn message(files: &str, max: usize) -> String {
    let long =
        format!("Your WADs differ: this game plays {files}. doomlink downloads them for you.");
    let short = format!("Your WADs differ: this game plays {files}");
    for text in [long, short.clone()] {
        if text.len() <= max {
            return text;
        }
    }
    let mut cut = max.saturating_sub(3);
    while !short.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}...", &short[..cut])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chocolate::wads::build;
    use crate::chocolate::{Header, PacketType};

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([192, 168, 1, 20], port))
    }

    /// A 3.0 client's SYN with WAD sum `wad`, player `name`.
    fn syn(wad: u8, name: &str) -> Vec<u8> {
        build::syn([wad; 20], [0; 20], name)
    }

    /// The server's waiting data for a game with WAD sum `wad`.
    fn waiting(wad: u8) -> Vec<u8> {
        build::waiting(1, [wad; 20], [0; 20])
    }

    fn text(packet: &[u8]) -> String {
        let (h, body) = Header::parse(packet).unwrap();
        assert_eq!(h.kind, PacketType::ConsoleMessage);
        String::from_utf8(body[..body.len() - 1].to_vec()).unwrap()
    }

    fn notice() -> WadNotice {
        WadNotice::new(&["freedoom2.wad".into(), "nomonsters-e1m1.wad".into()])
    }

    #[test]
    fn a_client_whose_wads_differ_is_told_the_games_files_once() {
        let mut n = notice();
        let first = syn(1, "Player");
        n.inbound(addr(1), &first);
        let told = n.outbound(addr(1), &waiting(2)).expect("told");
        assert_eq!(
            text(&told),
            "Your WADs differ: this game plays freedoom2.wad + nomonsters-e1m1.wad"
        );
        assert!(told.len() <= first.len(), "no bigger than the SYN");
        // The waiting data keeps coming every second: told once.
        assert_eq!(n.outbound(addr(1), &waiting(2)), None);
        // A long name makes room for the whole message.
        n.inbound(addr(2), &syn(1, &"x".repeat(40)));
        let told = n.outbound(addr(2), &waiting(2)).unwrap();
        assert!(text(&told).ends_with("doomlink downloads them for you."));
        // Connecting again is a new lobby: told again.
        n.inbound(addr(1), &syn(1, "Player"));
        assert!(n.outbound(addr(1), &waiting(2)).is_some());
    }

    #[test]
    fn a_client_with_the_games_wads_and_strangers_are_told_nothing() {
        let mut n = notice();
        n.inbound(addr(1), &syn(2, "Player"));
        assert_eq!(n.outbound(addr(1), &waiting(2)), None, "the same WADs");
        // Waiting data to an address that sent no SYN, and other packets.
        assert_eq!(n.outbound(addr(9), &waiting(3)), None);
        n.inbound(addr(3), &syn(1, "Player"));
        assert_eq!(n.outbound(addr(3), &syn(1, "x")), None);
        assert_eq!(n.outbound(addr(3), &[0, 4, 1]), None, "cut waiting data");
        // Junk as a SYN is not remembered.
        n.inbound(addr(4), &[0, 0, 1, 2]);
        assert_eq!(n.outbound(addr(4), &waiting(3)), None);
    }

    #[test]
    fn a_flood_of_syns_is_remembered_up_to_the_limit_and_the_message_fits_the_smallest() {
        let mut n = notice();
        for port in 0..(MAX_CLIENTS as u16 + 100) {
            n.inbound(addr(1000 + port), &syn(1, "P"));
        }
        assert_eq!(n.clients.len(), MAX_CLIENTS);
        assert_eq!(n.outbound(addr(1000), &waiting(2)), None, "forgotten");
        let last = addr(1000 + MAX_CLIENTS as u16 + 99);
        let told = n.outbound(last, &waiting(2)).unwrap();
        assert!(told.len() <= syn(1, "P").len());
        // A game of many files: cut to fit, still one terminated string.
        let files: Vec<String> = (0..20).map(|i| format!("megawad-part{i}.wad")).collect();
        let mut n = WadNotice::new(&files);
        let s = syn(1, "P");
        n.inbound(addr(1), &s);
        let told = n.outbound(addr(1), &waiting(2)).unwrap();
        assert!(told.len() <= s.len(), "{} > {}", told.len(), s.len());
        assert!(text(&told).ends_with("..."), "{}", text(&told));
    }
}
