//! A game's settings as a host chooses them (mode, skill, map, timer, flags), and the
//! Chocolate Doom arguments they become; [`GameOptionArgs`], the same options on a command line.

use clap::Args;

/// The game a host sets up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GameOptions {
    pub mode: GameMode,
    pub skill: Option<u8>,
    /// (episode, map) for Doom 1 IWADs, (None, map) for Doom 2.
    pub warp: Option<(Option<u8>, u8)>,
    pub timer_minutes: Option<u32>,
    pub nomonsters: bool,
    pub fast: bool,
    pub respawn: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GameMode {
    #[default]
    Coop,
    Deathmatch,
    AltDeath,
}

impl GameOptions {
    /// The Chocolate Doom arguments for these options.
    pub fn doom_args(&self) -> Vec<String> {
        let mut a = Vec::new();
        match self.mode {
            GameMode::Coop => {}
            GameMode::Deathmatch => a.push("-deathmatch".into()),
            GameMode::AltDeath => a.push("-altdeath".into()),
        }
        if let Some(s) = self.skill {
            a.extend(["-skill".into(), s.to_string()]);
        }
        match self.warp {
            Some((Some(e), m)) => a.extend(["-warp".into(), e.to_string(), m.to_string()]),
            Some((None, m)) => a.extend(["-warp".into(), m.to_string()]),
            None => {}
        }
        if let Some(t) = self.timer_minutes {
            a.extend(["-timer".into(), t.to_string()]);
        }
        for (on, flag) in [
            (self.nomonsters, "-nomonsters"),
            (self.fast, "-fast"),
            (self.respawn, "-respawn"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a
    }
}

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

    /// As the game takes them (coop unless a mode is asked for).
    pub fn game_options(&self) -> GameOptions {
        let warp = match self.warp.as_slice() {
            [m] => Some((None, *m)),
            [e, m] => Some((Some(*e), *m)),
            _ => None, // clap takes 1 or 2 values
        };
        GameOptions {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn game_options_become_chocolate_doom_args() {
        let o = GameOptions {
            mode: GameMode::Deathmatch,
            skill: Some(4),
            warp: Some((Some(1), 3)),
            timer_minutes: Some(10),
            nomonsters: true,
            fast: false,
            respawn: true,
        };
        assert_eq!(
            o.doom_args().join(" "),
            "-deathmatch -skill 4 -warp 1 3 -timer 10 -nomonsters -respawn"
        );
        assert!(GameOptions::default().doom_args().is_empty());
    }
}
