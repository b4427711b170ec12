//! What a room plays, said before anyone joins: the host tells its rendezvous ([`game_info`]:
//! the IWAD, the PWADs with sizes, mode, map, skill), and a joiner holding the link reads it and
//! the room's players ([`JoinPreview`]): what this computer has, what it would download, and why
//! a join cannot work (the IWAD, a file over its cap, the room full) before it starts.

use std::path::{Path, PathBuf};

use anyhow::Result;
use doomlink_net::chocolate::GameSettings;
use doomlink_net::iwads::{free_iwad, hex};
use doomlink_net::online::{peek_game, peek_room, RoomPeek};
use doomlink_net::relay::wire::WadHash;
use doomlink_net::signaling::invite::InviteLink;
use doomlink_net::signaling::{GameFile, GameInfo};
use doomlink_net::tls_client::ClientTls;
use doomlink_net::Config;

use crate::iwad::{self, describe};
use crate::wadcache::WadCache;
use crate::wadshare::Fetching;

/// What a host tells its rendezvous it plays: its session's files (the offer, IWAD first;
/// without one, the IWAD's hash alone) and its settings.
pub fn game_info(cfg: &Config, settings: Option<&GameSettings>) -> GameInfo {
    let offer = &cfg.offer;
    let iwad = offer.iter().find(|e| e.iwad);
    let mut game = GameInfo {
        iwad: hex(&iwad.map_or(cfg.wads.iwad, |e| e.hash)),
        iwad_file: iwad.map(|e| e.name.clone()).unwrap_or_default(),
        iwad_size: iwad.map_or(0, |e| e.size),
        files: offer
            .iter()
            .filter(|e| !e.iwad)
            .map(|e| GameFile {
                sha256: hex(&e.hash),
                name: e.name.clone(),
                size: e.size,
            })
            .collect(),
        ..GameInfo::default()
    };
    if let Some(s) = settings {
        game.mode = s.mode.as_str().to_string();
        game.skill = s.skill.unwrap_or(0);
        game.map = match s.warp {
            Some((Some(e), m)) => format!("E{e}M{m}"),
            Some((None, m)) => format!("MAP{m:02}"),
            None => String::new(),
        };
    }
    game
}

/// The IWAD to join a room with: the one given if it is the room's (else the error naming the
/// room's), or the room's from the cache or this computer; None when this computer lacks the
/// room's, it is a free one and the host says its size, at most `cap` (the host sends it); when
/// the room does not say, the usual search.
pub fn iwad_for_game(
    game: &GameInfo,
    given: Option<&Path>,
    cache: Option<&WadCache>,
    cap: u64,
) -> Result<Option<PathBuf>> {
    let Some((hash, file)) = game.iwad() else {
        return Ok(Some(iwad::resolve_iwad(given)?));
    };
    if given.is_none() {
        if let Some(p) = cache.and_then(|c| c.find(&hash)) {
            return Ok(Some(p));
        }
    }
    match iwad::iwad_for_host(&hash, &file, given) {
        Ok(p) => Ok(Some(p)),
        Err(_) if sent_by_host(game, &hash, given, cap) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Whether the host will send this computer the room's IWAD: a free one, its size said and
/// within `cap`, and the player named no IWAD of their own.
fn sent_by_host(game: &GameInfo, hash: &WadHash, given: Option<&Path>, cap: u64) -> bool {
    given.is_none() && free_iwad(hash).is_some() && game.iwad_size > 0 && game.iwad_size <= cap
}

/// Where one of a room's files is for this computer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileHere {
    /// Here already (this path).
    Here(PathBuf),
    /// The host will send it (this many bytes).
    Download(u64),
    /// Neither: the one line why.
    Missing(String),
}

/// One of a room's files as the join question shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewFile {
    /// `freedoom2.wad, Freedoom: Phase 2 (0.12.1)` or `maps.wad (1.2 MB)`.
    pub described: String,
    pub here: FileHere,
}

/// A room as a joiner sees it before joining.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct JoinPreview {
    /// Its host and players, if the rendezvous answered.
    pub room: Option<RoomPeek>,
    /// The IWAD, if the host said.
    pub iwad: Option<PreviewFile>,
    pub pwads: Vec<PreviewFile>,
    /// `deathmatch, E1M1, skill 3` (empty when the host said nothing of it).
    pub settings: String,
}

/// `1.2 MB`, `340 kB`, `12 bytes`.
pub fn size_text(bytes: u64) -> String {
    match bytes {
        b if b >= 1_000_000 => format!("{:.1} MB", b as f64 / 1e6),
        b if b >= 1_000 => format!("{} kB", b / 1000),
        b => format!("{b} bytes"),
    }
}

impl JoinPreview {
    /// What `game` needs of this computer (`given`: the IWAD the player chose, if any; `f`: its
    /// own files, cache and cap), with the room's players.
    pub fn new(
        game: &GameInfo,
        room: Option<RoomPeek>,
        given: Option<&Path>,
        f: &Fetching,
    ) -> JoinPreview {
        let here = |hash: &WadHash| f.own.get(hash).cloned().or_else(|| f.cache.find(hash));
        let iwad = game.iwad().map(|(hash, file)| {
            let described = describe(&hash, &file);
            let found = match given {
                Some(_) => iwad::iwad_for_host(&hash, &file, given),
                None => here(&hash)
                    .map(Ok)
                    .unwrap_or_else(|| iwad::iwad_for_host(&hash, &file, None)),
            };
            let here = match found {
                Ok(p) => FileHere::Here(p),
                Err(_) if sent_by_host(game, &hash, given, f.cap) => {
                    FileHere::Download(game.iwad_size)
                }
                Err(e) => FileHere::Missing(e.to_string()),
            };
            PreviewFile { described, here }
        });
        let pwads = game
            .pwads()
            .into_iter()
            .map(|(hash, file)| {
                let described = format!("{} ({})", file.name, size_text(file.size));
                let here = match here(&hash) {
                    Some(p) => FileHere::Here(p),
                    None if file.size > f.cap => FileHere::Missing(over_cap(
                        &format!("{} ({} bytes)", file.name, file.size),
                        f.cap,
                    )),
                    None => FileHere::Download(file.size),
                };
                PreviewFile { described, here }
            })
            .collect();
        JoinPreview {
            room,
            iwad,
            pwads,
            settings: game.settings_line(),
        }
    }

    /// Why joining cannot work, in one line, if it cannot: a file neither here nor to be had,
    /// or the room full.
    pub fn blocker(&self) -> Option<String> {
        let missing = self
            .iwad
            .iter()
            .chain(&self.pwads)
            .find_map(|f| match &f.here {
                FileHere::Missing(why) => Some(why.clone()),
                _ => None,
            });
        missing.or_else(|| {
            let room = self.room.as_ref()?;
            let n = room.players.len();
            (room.expected > 0 && n >= usize::from(room.expected)).then(|| {
                format!(
                    "the room is full: {} of {} players are in ({}); its game has started or is \
                     starting",
                    n,
                    room.expected,
                    room.players.join(", ")
                )
            })
        })
    }

    /// The files this computer would download, and their bytes.
    pub fn to_download(&self) -> (usize, u64) {
        self.iwad
            .iter()
            .chain(&self.pwads)
            .fold((0, 0), |(n, b), f| match f.here {
                FileHere::Download(s) => (n + 1, b + s),
                _ => (n, b),
            })
    }

    /// The question on a terminal: a line each for the room, the IWAD, each PWAD, the settings.
    pub fn lines(&self) -> Vec<String> {
        let mut v = Vec::new();
        if let Some(r) = &self.room {
            let host = if r.host.is_empty() {
                "(no name)"
            } else {
                &r.host
            };
            let expected = match r.expected {
                0 => String::new(),
                n => format!(" of {n}"),
            };
            v.push(format!(
                "the room is {host}'s: {}{expected} players in ({})",
                r.players.len(),
                r.players.join(", ")
            ));
        }
        let status = |f: &PreviewFile| match &f.here {
            FileHere::Here(p) => format!("here ({})", p.display()),
            FileHere::Download(_) => "to download from the host".to_string(),
            FileHere::Missing(why) => why.clone(),
        };
        if let Some(i) = &self.iwad {
            v.push(format!("it plays {}: {}", i.described, status(i)));
        }
        for p in &self.pwads {
            v.push(format!("with {}: {}", p.described, status(p)));
        }
        if !self.settings.is_empty() {
            v.push(format!("game: {}", self.settings));
        }
        v
    }
}

fn over_cap(what: &str, cap: u64) -> String {
    format!("the host plays {what}, over the {cap} bytes this computer accepts from a host: not downloaded")
}

/// What the room of `invite` plays and who is in it, asked of its rendezvous (two questions,
/// each a few seconds at most); what a rendezvous does not answer is left out.
pub fn peek_everything(
    rt: &tokio::runtime::Runtime,
    invite: &InviteLink,
    tls: &ClientTls,
) -> (GameInfo, Option<RoomPeek>) {
    let game = rt.block_on(peek_game(invite, tls)).unwrap_or_else(|e| {
        tracing::debug!("what the room plays: {e}");
        GameInfo::default()
    });
    let room = rt.block_on(peek_room(invite, tls)).ok();
    (game, room)
}

#[cfg(test)]
mod tests {
    use super::*;
    use doomlink_net::relay::wire::WadEntry;

    use crate::wadshare::tests::fetching;

    fn file(hash: u8, name: &str, size: u64) -> GameFile {
        GameFile {
            sha256: hex(&[hash; 32]),
            name: name.into(),
            size,
        }
    }

    #[test]
    fn a_host_says_its_files_and_settings() {
        let offer = vec![
            WadEntry {
                hash: [1; 32],
                size: 10,
                name: "freedoom2.wad".into(),
                iwad: true,
                offered: true,
            },
            WadEntry {
                hash: [2; 32],
                size: 20,
                name: "maps.wad".into(),
                iwad: false,
                offered: true,
            },
        ];
        let settings = GameSettings {
            mode: doomlink_net::chocolate::GameMode::Deathmatch,
            skill: Some(4),
            warp: Some((None, 7)),
            ..GameSettings::default()
        };
        let mut cfg = Config::new(
            "host",
            doomlink_net::WadSet {
                iwad: [1; 32],
                pwads: vec![[2; 32]],
            },
        );
        cfg.offer = offer;
        let g = game_info(&cfg, Some(&settings));
        assert_eq!(g.iwad, hex(&[1; 32]));
        assert_eq!((g.iwad_file.as_str(), g.iwad_size), ("freedoom2.wad", 10));
        assert_eq!(g.files, vec![file(2, "maps.wad", 20)]);
        assert_eq!(g.settings_line(), "deathmatch, MAP07, skill 4");
        let doom1 = GameSettings {
            warp: Some((Some(2), 3)),
            ..GameSettings::default()
        };
        assert_eq!(game_info(&cfg, Some(&doom1)).settings_line(), "coop, E2M3");
        // A session without a file list still says its IWAD.
        cfg.offer.clear();
        assert_eq!(game_info(&cfg, None).iwad, hex(&[1; 32]));
    }

    #[test]
    fn files_here_to_download_and_over_the_cap_are_told_apart() {
        let (mut f, d) = fetching("files", 1000);
        f.own.insert([3; 32], PathBuf::from("/mine/own.wad"));
        let game = GameInfo {
            files: vec![
                file(3, "own.wad", 5),
                file(4, "new.wad", 999),
                file(5, "big.wad", 1001),
            ],
            ..GameInfo::default()
        };
        let p = JoinPreview::new(&game, None, None, &f);
        let here: Vec<&FileHere> = p.pwads.iter().map(|p| &p.here).collect();
        assert_eq!(here[0], &FileHere::Here(PathBuf::from("/mine/own.wad")));
        assert_eq!(here[1], &FileHere::Download(999));
        assert!(
            matches!(here[2], FileHere::Missing(why) if why.contains("big.wad (1001 bytes), over the 1000 bytes"))
        );
        assert_eq!(p.to_download(), (1, 999));
        assert!(p.blocker().unwrap().contains("big.wad"));
        let lines = p.lines();
        assert!(
            lines
                .iter()
                .any(|l| l == "with new.wad (999 bytes): to download from the host"),
            "{lines:?}"
        );
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_full_room_is_said_before_joining() {
        let (f, d) = fetching("full", 1000);
        let room = |players: &[&str], expected| RoomPeek {
            host: "alice".into(),
            players: players.iter().map(|s| s.to_string()).collect(),
            expected,
        };
        let game = GameInfo::default();
        let full = JoinPreview::new(&game, Some(room(&["alice", "bob"], 2)), None, &f);
        assert!(full
            .blocker()
            .unwrap()
            .starts_with("the room is full: 2 of 2"));
        let open = JoinPreview::new(&game, Some(room(&["alice"], 2)), None, &f);
        assert_eq!(open.blocker(), None);
        assert_eq!(
            open.lines(),
            vec!["the room is alice's: 1 of 2 players in (alice)"]
        );
        // A host that said no count is never full.
        let unsaid = JoinPreview::new(&game, Some(room(&["alice", "bob"], 0)), None, &f);
        assert_eq!(unsaid.blocker(), None);
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn a_commercial_iwad_not_here_blocks_and_a_free_one_is_downloaded() {
        let (f, d) = fetching("iwad", 100_000_000);
        let commercial = GameInfo {
            iwad: hex(&[9; 32]),
            iwad_file: "doom2.wad".into(),
            iwad_size: 14_604_584,
            ..GameInfo::default()
        };
        let p = JoinPreview::new(&commercial, None, None, &f);
        let why = p.blocker().expect("a commercial IWAD not here blocks");
        assert!(why.contains("doom2.wad"), "{why}");
        let freedoom2 = doomlink_net::iwads::FREE_IWADS
            .iter()
            .find(|w| w.file == "freedoom2.wad")
            .unwrap();
        let free = GameInfo {
            iwad: freedoom2.sha256.to_string(),
            iwad_file: "freedoom2.wad".into(),
            iwad_size: 28_000_000,
            ..GameInfo::default()
        };
        let p = JoinPreview::new(&free, None, None, &f);
        // Here (Debian's freedoom package) or to be downloaded: never a blocker.
        assert_eq!(p.blocker(), None);
        assert!(matches!(
            p.iwad.unwrap().here,
            FileHere::Here(_) | FileHere::Download(28_000_000)
        ));
        let _ = std::fs::remove_dir_all(&d);
    }
}
