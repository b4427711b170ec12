//! A game's settings as a host chooses them (mode, skill, map, timer, flags), and the
//! Chocolate Doom arguments they become.

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
