//! The few Chocolate Doom packets the service looks at (net_structrw.c's layouts): game data for
//! the tic clock, and the GAMESTART whose settings a room enforces.

use doomlink_play::game::GameOptions;

/// Chocolate Doom's NET_PACKET_TYPE_GAMEDATA (6), never sent reliably.
pub(crate) fn is_gamedata(data: &[u8]) -> bool {
    data.len() >= 2 && data[..2] == [0x00, 0x06]
}

/// Chocolate Doom's NET_PACKET_TYPE_GAMESTART (5), sent reliably (bit 15).
pub(crate) const GAMESTART_RELIABLE: [u8; 2] = [0x80, 0x05];

pub(crate) fn is_gamestart(data: &[u8]) -> bool {
    data.len() >= 3 && data[..2] == GAMESTART_RELIABLE
}

/// Rewrites the game settings of a client's GAMESTART packet (net_structrw.c NET_WriteSettings,
/// after the 2-byte type and the reliable sequence byte): deathmatch, nomonsters, fast,
/// respawn, episode, map, skill (0-based), timelimit. Options the room leaves unset keep the
/// controller's values. A packet too short to hold settings is left alone (the server refuses
/// it).
pub fn enforce_settings(d: &mut [u8], g: &GameOptions) {
    const DEATHMATCH: usize = 5;
    const NOMONSTERS: usize = 6;
    const FAST: usize = 7;
    const RESPAWN: usize = 8;
    const EPISODE: usize = 9;
    const MAP: usize = 10;
    const SKILL: usize = 11;
    const TIMELIMIT: usize = 15;
    if d.len() < TIMELIMIT + 4 {
        return;
    }
    d[DEATHMATCH] = match g.mode {
        doomlink_play::game::GameMode::Coop => 0,
        doomlink_play::game::GameMode::Deathmatch => 1,
        doomlink_play::game::GameMode::AltDeath => 2,
    };
    d[NOMONSTERS] = g.nomonsters as u8;
    d[FAST] = g.fast as u8;
    d[RESPAWN] = g.respawn as u8;
    match g.warp {
        Some((Some(e), m)) => {
            d[EPISODE] = e;
            d[MAP] = m;
        }
        Some((None, m)) => {
            d[EPISODE] = 1;
            d[MAP] = m;
        }
        None => {}
    }
    if let Some(s) = g.skill {
        d[SKILL] = s.saturating_sub(1);
    }
    d[TIMELIMIT..TIMELIMIT + 4].copy_from_slice(&g.timer_minutes.unwrap_or(0).to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rooms_game_replaces_the_controllers() {
        // A GAMESTART as NET_WriteSettings makes it: coop, E1M1, skill 2 (0-based), no timer.
        let mut p = vec![
            0x80, 0x05, 0x01, 1, 1, 0, 0, 0, 0, 1, 1, 2, 0, 0, 1, 0, 0, 0, 0, 0, 7, 2, 0, 0, 0,
        ];
        assert!(is_gamestart(&p));
        let g = GameOptions {
            mode: doomlink_play::game::GameMode::Deathmatch,
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
