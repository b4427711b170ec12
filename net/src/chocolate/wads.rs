//! The WAD checksums a Chocolate Doom client and server compare in the lobby, and the one text
//! a server can put in front of a client: typed views of the three packets involved.
//!
//! ```text
//! SYN           u32 magic (3.0's), str version, u8 n + str[n] protocols,
//!               connect data: u8 gamemode, mission, lowres_turn, drone, max_players,
//!               is_freedoom, sha1 wad[20], sha1 deh[20], u8 player_class; str name
//! WAITING_DATA  u8 num_players, num_drones, ready_players, max_players, is_controller,
//!               consoleplayer; (str name, str address) per player (at most 8);
//!               sha1 wad[20], sha1 deh[20] (the controlling player's), u8 is_freedoom
//! CONSOLE_MESSAGE  str text: the client prints "Message from server:" and the text
//! ```
//!
//! (`net_structrw.c`: `NET_WriteConnectData`, `NET_WriteWaitData`; `net_client.c`:
//! `NET_CL_SendSYN`, `NET_CL_ParseConsoleMessage`; the same in 3.0 and 3.1.) The client's lobby
//! warns when its sums differ from the waiting data's, and says nothing of which file: the
//! LAN bridge uses these views to tell it ([`crate::lan::notice`]).

use super::{short, Header, PacketError, PacketType, SYN_MAGIC};

/// `NET_MAXPLAYERS`: the waiting data lists at most this many players.
const MAX_PLAYERS: usize = 8;

/// A SHA-1 sum as Chocolate Doom sends it.
pub type Sha1 = [u8; 20];

/// What a client loaded (its SYN) or what the game plays (the waiting data): Chocolate Doom's
/// sums over its WADs' directories and over its DEHACKED patches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WadSums {
    pub wad: Sha1,
    pub deh: Sha1,
}

/// Reads a packet's fields in order; every read checks the length.
struct Fields<'a> {
    rest: &'a [u8],
    len: usize,
    what: &'static str,
}

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PacketError> {
        if self.rest.len() < n {
            return Err(short(self.len, self.what));
        }
        let (a, b) = self.rest.split_at(n);
        self.rest = b;
        Ok(a)
    }

    fn u8(&mut self) -> Result<u8, PacketError> {
        Ok(self.take(1)?[0])
    }

    /// A NUL-terminated string, skipped.
    fn string(&mut self) -> Result<(), PacketError> {
        let end = self
            .rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(short(self.len, self.what))?;
        self.rest = &self.rest[end + 1..];
        Ok(())
    }

    fn sums(&mut self) -> Result<WadSums, PacketError> {
        let wad = self.take(20)?.try_into().expect("20 bytes");
        let deh = self.take(20)?.try_into().expect("20 bytes");
        Ok(WadSums { wad, deh })
    }
}

/// The body of an unreliable packet of type `kind`.
fn body<'a>(
    data: &'a [u8],
    kind: PacketType,
    what: &'static str,
) -> Result<Fields<'a>, PacketError> {
    let (h, rest) = Header::parse(data)?;
    if h.kind != kind {
        return Err(PacketError::NotA {
            want: kind,
            got: h.kind,
        });
    }
    if h.reliable.is_some() {
        return Err(PacketError::Delivery(kind));
    }
    Ok(Fields {
        rest,
        len: data.len(),
        what,
    })
}

/// The sums in a 3.0-or-later client's SYN.
pub fn syn_sums(data: &[u8]) -> Result<WadSums, PacketError> {
    const WHAT: &str = "SYN with connect data";
    let mut f = body(data, PacketType::Syn, WHAT)?;
    let magic = f.take(4)?;
    if magic != SYN_MAGIC.to_be_bytes() {
        return Err(PacketError::Magic);
    }
    f.string()?; // version
    for _ in 0..f.u8()? {
        f.string()?; // protocol
    }
    f.take(6)?; // gamemode … is_freedoom
    f.sums()
}

/// The game's sums (its controlling player's) in the server's waiting data.
pub fn waiting_data_sums(data: &[u8]) -> Result<WadSums, PacketError> {
    let mut f = body(data, PacketType::WaitingData, "WAITING_DATA")?;
    let players = usize::from(f.u8()?);
    f.take(5)?; // drones, ready, max, is_controller, consoleplayer
    for _ in 0..players.min(MAX_PLAYERS) {
        f.string()?; // name
        f.string()?; // address
    }
    f.sums()
}

/// A CONSOLE_MESSAGE, unreliable (a client reads it either way; a reliable one would take a
/// sequence number from the server's own connection).
pub fn console_message(text: &str) -> Vec<u8> {
    super::string_packet(PacketType::ConsoleMessage, text)
}

/// Packets as Chocolate Doom writes them, for tests here and of their readers.
#[cfg(test)]
pub(crate) mod build {
    use super::{PacketType, Sha1, SYN_MAGIC};

    fn string(p: &mut Vec<u8>, s: &str) {
        p.extend_from_slice(s.as_bytes());
        p.push(0);
    }

    /// A 3.0 client's SYN as `NET_CL_SendSYN` writes it, from player `name`.
    pub(crate) fn syn(wad: Sha1, deh: Sha1, name: &str) -> Vec<u8> {
        let mut p = (PacketType::Syn as u16).to_be_bytes().to_vec();
        p.extend(SYN_MAGIC.to_be_bytes());
        string(&mut p, "Chocolate Doom 3.0.1");
        p.push(1);
        string(&mut p, "CHOCOLATE_DOOM_0");
        p.extend([3, 0, 0, 0, 4, 1]);
        p.extend(wad);
        p.extend(deh);
        p.push(0);
        string(&mut p, name);
        p
    }

    /// Waiting data as `NET_SV_SendWaitingData` writes it, with `players` players.
    pub(crate) fn waiting(players: u8, wad: Sha1, deh: Sha1) -> Vec<u8> {
        let mut p = (PacketType::WaitingData as u16).to_be_bytes().to_vec();
        p.extend([players, 0, 0, 4, 0, 1]);
        for i in 0..players {
            string(&mut p, &format!("player{i}"));
            string(&mut p, "");
        }
        p.extend(wad);
        p.extend(deh);
        p.push(1);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAD: Sha1 = [0x11; 20];
    const DEH: Sha1 = [0x22; 20];

    fn syn() -> Vec<u8> {
        build::syn(WAD, DEH, "Player")
    }

    fn waiting(players: u8) -> Vec<u8> {
        build::waiting(players, WAD, DEH)
    }

    #[test]
    fn reads_the_sums_a_client_and_a_server_send() {
        let want = WadSums { wad: WAD, deh: DEH };
        assert_eq!(syn_sums(&syn()), Ok(want));
        for players in [0, 1, 3, 8] {
            assert_eq!(waiting_data_sums(&waiting(players)), Ok(want));
        }
    }

    #[test]
    fn every_cut_of_a_packet_is_an_error_not_a_panic() {
        for whole in [syn(), waiting(3)] {
            let read = |d: &[u8]| match whole == syn() {
                true => syn_sums(d),
                false => waiting_data_sums(d),
            };
            // Up to the end of the deh sum, every cut is short.
            let needed = whole.len() - if whole == syn() { 8 } else { 1 };
            for len in 0..needed {
                assert!(read(&whole[..len]).is_err(), "cut at {len}");
            }
            assert!(read(&whole[..needed]).is_ok());
        }
    }

    #[test]
    fn other_packets_are_not_read_as_these() {
        let mut old_magic = syn();
        old_magic[2..6].copy_from_slice(&super::super::SYN_MAGIC_OLD.to_be_bytes());
        assert!(syn_sums(&old_magic).is_err(), "a client before 3.0");
        assert!(syn_sums(&waiting(1)).is_err());
        assert!(waiting_data_sums(&syn()).is_err());
        let mut reliable = waiting(1);
        reliable[0] |= 0x80;
        reliable.insert(2, 0);
        assert_eq!(
            waiting_data_sums(&reliable),
            Err(PacketError::Delivery(PacketType::WaitingData))
        );
        // A player count past 8 reads 8 players, as the client does, then the sums.
        let mut many = waiting(8);
        many[2] = 200;
        assert!(waiting_data_sums(&many).is_ok());
        // Strings without their NUL.
        let unterminated = [&syn()[..10], b"no end"].concat();
        assert!(syn_sums(&unterminated).is_err());
    }

    #[test]
    fn a_console_message_is_its_type_and_one_terminated_string() {
        let p = console_message("get maps.wad\0!");
        let (h, body) = Header::parse(&p).unwrap();
        assert_eq!(h.kind, PacketType::ConsoleMessage);
        assert_eq!(h.reliable, None);
        assert_eq!(body, b"get maps.wad!\0", "an inner NUL would cut the text");
    }
}
