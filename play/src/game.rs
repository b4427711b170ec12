//! A game's settings on the command line: [`GameOptionArgs`], the options `doomlink host`,
//! `doomlink run` and `doomlink room create` take, checked by clap, and the [`GameSettings`]
//! they make (the one settings type, in net's `chocolate` module, with its Chocolate Doom
//! arguments).

use clap::Args;

pub use doomlink_net::chocolate::{GameMode, GameSettings, ServerRole};

/// The game options a host or a dedicated room takes (Chocolate Doom's own flags, checked).
#[derive(Args, Clone, Debug)]
pub struct GameOptionArgs {
    #[arg(long, conflicts_with_all = ["altdeath", "coop"])]
    pub deathmatch: bool,
    #[arg(long, conflicts_with = "coop")]
    pub altdeath: bool,
    #[arg(long)]
    pub coop: bool,
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    pub skill: Option<u8>,
    /// `E M` (Doom) or `M` (Doom II).
    #[arg(long, num_args = 1..=2, value_names = ["E", "M"])]
    pub warp: Vec<u8>,
    /// End each level after MIN minutes (deathmatch).
    #[arg(long, value_name = "MIN")]
    pub timer: Option<u32>,
    #[arg(long)]
    pub nomonsters: bool,
    #[arg(long)]
    pub fast: bool,
    #[arg(long)]
    pub respawn: bool,
}

impl GameOptionArgs {
    /// The mode asked for, if any.
    pub fn mode(&self) -> Option<GameMode> {
        if self.deathmatch {
            Some(GameMode::Deathmatch)
        } else if self.altdeath {
            Some(GameMode::AltDeath)
        } else if self.coop {
            Some(GameMode::Coop)
        } else {
            None
        }
    }

    /// As the game takes them (coop unless a mode is asked for); players are the caller's.
    pub fn settings(&self) -> GameSettings {
        let warp = match self.warp.as_slice() {
            [m] => Some((None, *m)),
            [e, m] => Some((Some(*e), *m)),
            _ => None, // clap takes 1 or 2 values
        };
        GameSettings {
            players: None,
            mode: self.mode().unwrap_or(GameMode::Coop),
            skill: self.skill,
            warp,
            timer_minutes: self.timer,
            nomonsters: self.nomonsters,
            fast: self.fast,
            respawn: self.respawn,
        }
    }
}
