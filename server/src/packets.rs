//! What the service reads or rewrites of Chocolate Doom's packets (their layouts are net's
//! `chocolate` module): GAMEDATA for the tic clock, and a client's GAMESTART, whose settings a
//! room enforces.

use doomlink_net::chocolate::GameSettings;
use doomlink_net::chocolate::{Header, PacketType, Settings};

pub(crate) use doomlink_net::chocolate::is_gamedata;

/// A client's GAMESTART: reliable, as a client sends it.
pub(crate) fn is_gamestart(data: &[u8]) -> bool {
    matches!(
        Header::parse(data),
        Ok((
            Header {
                kind: PacketType::GameStart,
                reliable: Some(_)
            },
            _
        ))
    )
}

/// Rewrites the game settings of a client's GAMESTART packet: deathmatch, nomonsters, fast,
/// respawn, episode, map, skill (0-based), timelimit. Options the room leaves unset keep the
/// controller's values. Any other packet, and a GAMESTART too short to hold settings (the
/// server refuses it), is left alone.
pub fn enforce_settings(d: &mut [u8], g: &GameSettings) {
    if let Ok(mut s) = Settings::of_gamestart(d) {
        s.enforce(g);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use doomlink_net::chocolate::GameMode;

    #[test]
    fn the_rooms_game_replaces_the_controllers() {
        // A GAMESTART as NET_WriteSettings makes it: coop, E1M1, skill 2 (0-based), no timer.
        let mut p = vec![
            0x80, 0x05, 0x01, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 7, 2, 0, 0, 0,
        ];
        assert!(is_gamestart(&p));
        let g = GameSettings {
            players: None,
            mode: GameMode::Deathmatch,
            skill: Some(4),
            warp: Some((Some(2), 3)),
            timer_minutes: Some(10),
            nomonsters: true,
            fast: false,
            respawn: true,
        };
        enforce_settings(&mut p, &g);
        assert_eq!(
            &p[..15],
            &[0x80, 0x05, 0x01, 1, 1, 1, 1, 0, 1, 2, 3, 3, 0, 0, 1]
        );
        assert_eq!(&p[15..19], &[0, 0, 0, 10]);
        assert_eq!(&p[19..], &[0, 7, 2, 0, 0, 0]);
        // Other packets pass untouched; a short one is left alone.
        assert!(!is_gamestart(&[0x80, 0x06, 0]));
        let mut short = vec![0x80, 0x05, 0x01, 1];
        enforce_settings(&mut short, &g);
        assert_eq!(short, vec![0x80, 0x05, 0x01, 1]);
    }
}
