//! A game's settings as a host, a room request or a server's config chooses them (players,
//! mode, skill, map, timer, flags), their checks, and the Chocolate Doom arguments they become.
//!
//! One type for every place that sets a game up: the command line (`doomlink host`, `doomlink
//! room create`), the window's Host page, the admin API's room requests and `serve.toml`'s
//! standing rooms. [`GameSettings::server_args`] is the one place that turns them into a
//! Chocolate Doom server's command line; a dedicated room's GAMESTART is rewritten to them on
//! the wire ([`super::Settings`]).
//!
//! With the `serde` feature they have a JSON/TOML form, the keys of the admin API and of
//! `[[room]]`: `players`, `mode` (`"coop"`, `"deathmatch"`, `"altdeath"`), `skill`, `warp`
//! (`[E, M]` for Doom, `[M]` for Doom II), `timer` (minutes), `nomonsters`, `fast`, `respawn`;
//! all optional.

#[cfg(feature = "serde")]
use serde::{Deserialize, Serialize};
use std::fmt;

/// Players a Chocolate Doom 3.0 game takes at most (`NET_MAXPLAYERS` is 8, but a Doom game has
/// four player starts).
pub const MAX_PLAYERS: u8 = 4;

/// Deathmatch or not.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(Serialize, Deserialize),
    serde(rename_all = "lowercase")
)]
pub enum GameMode {
    #[default]
    Coop,
    Deathmatch,
    /// Deathmatch 2.0: items respawn (`-altdeath`).
    AltDeath,
}

impl GameMode {
    pub const ALL: [GameMode; 3] = [GameMode::Coop, GameMode::Deathmatch, GameMode::AltDeath];

    /// As the admin API and `serve.toml` spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            GameMode::Coop => "coop",
            GameMode::Deathmatch => "deathmatch",
            GameMode::AltDeath => "altdeath",
        }
    }

    /// What a player reads (the Host page, a room list).
    pub fn label(self) -> &'static str {
        match self {
            GameMode::Coop => "Cooperative",
            GameMode::Deathmatch => "Deathmatch",
            GameMode::AltDeath => "Deathmatch 2.0 (items respawn)",
        }
    }

    /// `net_gamesettings_t.deathmatch`: 0, 1 or 2.
    pub fn deathmatch(self) -> u8 {
        match self {
            GameMode::Coop => 0,
            GameMode::Deathmatch => 1,
            GameMode::AltDeath => 2,
        }
    }
}

/// The map a game starts on: `(Some(episode), map)` for Doom 1 IWADs, `(None, map)` for Doom II.
pub type Warp = (Option<u8>, u8);

/// The game a host or a room sets up. `Default` is what Chocolate Doom does without arguments:
/// cooperative, its default skill, the first map, no timer, monsters on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(Serialize, Deserialize), serde(default))]
pub struct GameSettings {
    /// Players the game waits for before it starts (1–4); None: as many as the place takes
    /// (a player's game: four; a server's room: its `players_per_room`).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub players: Option<u8>,
    pub mode: GameMode,
    /// 1–5; None: Chocolate Doom's default (3).
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub skill: Option<u8>,
    #[cfg_attr(
        feature = "serde",
        serde(with = "warp_list", skip_serializing_if = "Option::is_none")
    )]
    pub warp: Option<Warp>,
    /// End each level after this many minutes (deathmatch).
    #[cfg_attr(
        feature = "serde",
        serde(rename = "timer", skip_serializing_if = "Option::is_none")
    )]
    pub timer_minutes: Option<u32>,
    pub nomonsters: bool,
    pub fast: bool,
    pub respawn: bool,
}

/// Which setting is wrong, and what it should be: `"skill: 1 to 5"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    pub field: &'static str,
    pub message: String,
}

impl fmt::Display for SettingsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for SettingsError {}

/// Where a game's server runs, for [`GameSettings::server_args`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerRole<'a> {
    /// In a player's game (`-server`): the host plays too. `name` is what LAN browsers
    /// (`doomlink lan-list`, native `-search`) show; None leaves Chocolate Doom's default.
    Player { port: u16, name: Option<&'a str> },
    /// Alone in a dedicated room (`-dedicated`). The settings are not arguments: the room
    /// rewrites its GAMESTART to them, whoever launches. The server launches by itself once the
    /// room's `players` are in (`-doomlink-autostart`, doomlink's hook in `net_server.c`): its
    /// joiners come from a link and do not know the room's size.
    Dedicated { port: u16 },
}

impl GameSettings {
    /// The players the game waits for, `default` when unset.
    pub fn players_or(&self, default: u8) -> u8 {
        self.players.unwrap_or(default)
    }

    /// Checks every setting against Chocolate Doom's ranges and `max_players` (a server's
    /// `players_per_room`, or [`MAX_PLAYERS`]).
    pub fn check(&self, max_players: u8) -> Result<(), SettingsError> {
        let bad = |field, message: &str| {
            Err(SettingsError {
                field,
                message: message.to_string(),
            })
        };
        if let Some(p) = self.players {
            if p == 0 || p > max_players {
                return bad("players", &format!("1 to {max_players}"));
            }
        }
        if self.skill.is_some_and(|s| !(1..=5).contains(&s)) {
            return bad("skill", "1 to 5");
        }
        match self.warp {
            None => {}
            Some((None, m)) if (1..=32).contains(&m) => {}
            Some((Some(e), m)) if (1..=4).contains(&e) && (1..=9).contains(&m) => {}
            Some(_) => return bad("warp", "[E, M] (Doom: E 1-4, M 1-9) or [M] (Doom II: 1-32)"),
        }
        if self.timer_minutes.is_some_and(|t| t == 0 || t > 1000) {
            return bad("timer", "1 to 1000 minutes");
        }
        Ok(())
    }

    /// The game's own Chocolate Doom arguments (`-deathmatch -skill 4 -warp 1 3 …`), for a
    /// server or a single-player game; players are the server's business.
    pub fn game_args(&self) -> Vec<String> {
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

    /// Chocolate Doom's command line for the game's server, everywhere doomlink starts one.
    /// Always `-privateserver`: a server never registers with Chocolate Doom's public master
    /// server.
    pub fn server_args(&self, role: ServerRole<'_>) -> Vec<String> {
        let mut a: Vec<String> = Vec::new();
        match role {
            ServerRole::Player { port, name } => {
                a.extend(["-server", "-privateserver", "-port"].map(String::from));
                a.push(port.to_string());
                if let Some(n) = self.players {
                    a.extend(["-nodes".into(), n.to_string()]);
                }
                if let Some(name) = name {
                    a.extend(["-servername".into(), name.to_string()]);
                }
                a.extend(self.game_args());
            }
            ServerRole::Dedicated { port } => {
                a.extend(["-dedicated", "-privateserver", "-port"].map(String::from));
                a.push(port.to_string());
                a.extend([
                    "-doomlink-autostart".into(),
                    self.players_or(MAX_PLAYERS).to_string(),
                ]);
            }
        }
        a
    }
}

/// `warp` as a list: `[E, M]`, `[M]`, or absent.
#[cfg(feature = "serde")]
pub(crate) mod warp_list {
    use super::Warp;
    use serde::{de::Error, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(w: &Option<Warp>, s: S) -> Result<S::Ok, S::Error> {
        match w {
            Some((Some(e), m)) => s.collect_seq([e, m]),
            Some((None, m)) => s.collect_seq([m]),
            None => s.collect_seq::<[u8; 0]>([]),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Warp>, D::Error> {
        match Vec::<u8>::deserialize(d)?.as_slice() {
            [] => Ok(None),
            [m] => Ok(Some((None, *m))),
            [e, m] => Ok(Some((Some(*e), *m))),
            _ => Err(D::Error::custom("warp: [E, M] or [M]")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deathmatch() -> GameSettings {
        GameSettings {
            players: Some(3),
            mode: GameMode::Deathmatch,
            skill: Some(4),
            warp: Some((Some(1), 3)),
            timer_minutes: Some(10),
            nomonsters: true,
            fast: false,
            respawn: true,
        }
    }

    #[test]
    fn settings_become_chocolate_doom_args() {
        let g = deathmatch();
        assert_eq!(
            g.game_args().join(" "),
            "-deathmatch -skill 4 -warp 1 3 -timer 10 -nomonsters -respawn"
        );
        assert!(GameSettings::default().game_args().is_empty());
        assert_eq!(
            g.server_args(ServerRole::Player {
                port: 2342,
                name: Some("alice's game")
            })
            .join(" "),
            "-server -privateserver -port 2342 -nodes 3 -servername alice's game \
             -deathmatch -skill 4 -warp 1 3 -timer 10 -nomonsters -respawn"
        );
        assert_eq!(
            GameSettings::default()
                .server_args(ServerRole::Player {
                    port: 7,
                    name: None
                })
                .join(" "),
            "-server -privateserver -port 7"
        );
        assert_eq!(
            g.server_args(ServerRole::Dedicated { port: 2342 })
                .join(" "),
            "-dedicated -privateserver -port 2342 -doomlink-autostart 3"
        );
    }

    #[test]
    fn every_setting_out_of_range_is_named() {
        type Spoil = fn(&mut GameSettings);
        let cases: [(Spoil, &str); 9] = [
            (|g| g.players = Some(0), "players"),
            (|g| g.players = Some(4), "players"),
            (|g| g.skill = Some(0), "skill"),
            (|g| g.skill = Some(6), "skill"),
            (|g| g.warp = Some((Some(5), 1)), "warp"),
            (|g| g.warp = Some((Some(1), 10)), "warp"),
            (|g| g.warp = Some((None, 33)), "warp"),
            (|g| g.timer_minutes = Some(0), "timer"),
            (|g| g.timer_minutes = Some(1001), "timer"),
        ];
        for (spoil, field) in cases {
            let mut g = deathmatch();
            assert_eq!(g.check(3), Ok(()));
            spoil(&mut g);
            assert_eq!(g.check(3).map_err(|e| e.field), Err(field), "{g:?}");
        }
        assert_eq!(GameSettings::default().check(1), Ok(()));
    }

    // serde_json comes with the `internet` feature.
    #[cfg(feature = "internet")]
    #[test]
    fn the_json_form_round_trips_with_the_admin_api_keys() {
        let g = deathmatch();
        let j = serde_json::to_string(&g).unwrap();
        assert_eq!(
            j,
            r#"{"players":3,"mode":"deathmatch","skill":4,"warp":[1,3],"timer":10,"nomonsters":true,"fast":false,"respawn":true}"#
        );
        assert_eq!(serde_json::from_str::<GameSettings>(&j).unwrap(), g);
        let doom2: GameSettings =
            serde_json::from_str(r#"{"warp":[7],"mode":"altdeath"}"#).unwrap();
        assert_eq!(
            (doom2.warp, doom2.mode),
            (Some((None, 7)), GameMode::AltDeath)
        );
        assert_eq!(
            serde_json::from_str::<GameSettings>("{}").unwrap(),
            GameSettings::default()
        );
        for bad in [
            r#"{"warp":[1,2,3]}"#,
            r#"{"mode":"ctf"}"#,
            r#"{"skill":-1}"#,
        ] {
            assert!(serde_json::from_str::<GameSettings>(bad).is_err(), "{bad}");
        }
    }
}
