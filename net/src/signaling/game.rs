//! What a room plays, as its host tells the rendezvous ([`super::Message::Game`]) and a joiner
//! reads it before joining ([`super::Message::PeekGame`]): the IWAD, the PWADs with their sizes,
//! the mode, the first map and the skill. Owns the fields' limits; the strings stay strings on
//! the wire (a rendezvous stores and repeats them) and are read as typed values here.

use serde::{Deserialize, Serialize};

use super::{check_len, SignalError, MAX_NAME_LEN};
use crate::relay::wire::{plain_file_name, WadHash, MAX_FILE_NAME_LEN, MAX_PWADS};

/// The game modes a room may say it plays.
pub const MODES: [&str; 3] = ["coop", "deathmatch", "altdeath"];
/// `E9M9` or `MAP99` at most.
pub const MAX_MAP_LEN: usize = 5;

/// What a room plays. Every field may be empty (the host did not say, or is older).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GameInfo {
    /// The IWAD's SHA-256 in lower-case hex, or empty.
    #[serde(default)]
    pub iwad: String,
    /// The IWAD's file name.
    #[serde(default)]
    pub iwad_file: String,
    /// The IWAD's size in bytes, or 0 when not said.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub iwad_size: u64,
    /// The PWADs and DEHACKED files, in load order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub files: Vec<GameFile>,
    /// One of [`MODES`], or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub mode: String,
    /// The first map (`E1M1`, `MAP01`), or empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub map: String,
    /// 1 to 5, or 0 when not said.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub skill: u8,
}

/// One PWAD or DEHACKED file of a room's game.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GameFile {
    /// SHA-256, lower-case hex.
    pub sha256: String,
    /// A plain file name (as the WAD exchange's lists have them).
    pub name: String,
    pub size: u64,
}

fn is_zero(x: &u8) -> bool {
    *x == 0
}

fn is_zero_u64(x: &u64) -> bool {
    *x == 0
}

fn is_hash(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// A SHA-256 from its lower-case hex (as [`GameInfo`] holds them), if it is one.
pub fn parse_hash(s: &str) -> Option<WadHash> {
    if !is_hash(s) {
        return None;
    }
    let mut h = [0u8; 32];
    for (b, pair) in h.iter_mut().zip(s.as_bytes().chunks(2)) {
        *b = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(h)
}

impl GameInfo {
    /// The IWAD's hash and file name, when the host said.
    pub fn iwad(&self) -> Option<(WadHash, String)> {
        parse_hash(&self.iwad).map(|h| (h, self.iwad_file.clone()))
    }

    /// The PWADs with their hashes.
    pub fn pwads(&self) -> Vec<(WadHash, &GameFile)> {
        self.files
            .iter()
            .filter_map(|f| parse_hash(&f.sha256).map(|h| (h, f)))
            .collect()
    }

    /// `deathmatch, E1M1, skill 3`: what was said of the mode, map and skill (empty if nothing).
    pub fn settings_line(&self) -> String {
        let mut parts: Vec<String> = Vec::new();
        if !self.mode.is_empty() {
            parts.push(self.mode.clone());
        }
        if !self.map.is_empty() {
            parts.push(self.map.clone());
        }
        if self.skill != 0 {
            parts.push(format!("skill {}", self.skill));
        }
        parts.join(", ")
    }

    pub(super) fn check(&self) -> Result<(), SignalError> {
        if !self.iwad.is_empty() && !is_hash(&self.iwad) {
            return Err(SignalError::Invalid("iwad hash"));
        }
        check_len("iwad_file", &self.iwad_file, MAX_NAME_LEN)?;
        if self.files.len() > MAX_PWADS {
            return Err(SignalError::FieldTooLong {
                field: "files",
                len: self.files.len(),
                max: MAX_PWADS,
            });
        }
        for f in &self.files {
            if !is_hash(&f.sha256) {
                return Err(SignalError::Invalid("file hash"));
            }
            check_len("file name", &f.name, MAX_FILE_NAME_LEN)?;
            if !plain_file_name(&f.name) {
                return Err(SignalError::Invalid("file name"));
            }
        }
        if !self.mode.is_empty() && !MODES.contains(&self.mode.as_str()) {
            return Err(SignalError::Invalid("mode"));
        }
        check_len("map", &self.map, MAX_MAP_LEN)?;
        if !self.map.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(SignalError::Invalid("map"));
        }
        if self.skill > 5 {
            return Err(SignalError::Invalid("skill"));
        }
        Ok(())
    }

    /// Strips what a terminal or the window must not be handed from the names.
    pub(super) fn clean(&mut self, clean: impl Fn(&mut String)) {
        clean(&mut self.iwad_file);
        self.files.iter_mut().for_each(|f| clean(&mut f.name));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signaling::Message;

    fn full() -> GameInfo {
        GameInfo {
            iwad: "ab".repeat(32),
            iwad_file: "freedoom2.wad".into(),
            iwad_size: 28_000_000,
            files: vec![GameFile {
                sha256: "cd".repeat(32),
                name: "maps.wad".into(),
                size: 1234,
            }],
            mode: "deathmatch".into(),
            map: "MAP07".into(),
            skill: 4,
        }
    }

    #[test]
    fn a_full_game_and_an_empty_one_round_trip() {
        for g in [full(), GameInfo::default()] {
            let m = Message::Game(g);
            let s = m.encode().unwrap();
            assert_eq!(Message::decode(&s), Ok(m), "{s}");
        }
        // What an older host sends (only the IWAD) still reads.
        let old = r#"{"t":"game","iwad":"","iwad_file":""}"#;
        assert_eq!(Message::decode(old), Ok(Message::Game(GameInfo::default())));
        assert_eq!(full().settings_line(), "deathmatch, MAP07, skill 4");
        assert_eq!(full().pwads()[0].0, [0xcd; 32]);
    }

    #[test]
    fn each_field_out_of_bounds_is_refused() {
        type Spoil = Box<dyn Fn(&mut GameInfo)>;
        let bad: Vec<(&str, Spoil)> = vec![
            ("iwad", Box::new(|g| g.iwad = "AB".repeat(32))),
            ("file hash", Box::new(|g| g.files[0].sha256 = "x".into())),
            (
                "file path",
                Box::new(|g| g.files[0].name = "../x.wad".into()),
            ),
            (
                "hidden file",
                Box::new(|g| g.files[0].name = ".x.wad".into()),
            ),
            ("file name", Box::new(|g| g.files[0].name = "a".repeat(65))),
            (
                "files",
                Box::new(|g| g.files = vec![g.files[0].clone(); MAX_PWADS + 1]),
            ),
            ("mode", Box::new(|g| g.mode = "ctf".into())),
            ("map", Box::new(|g| g.map = "MAP100".into())),
            ("map chars", Box::new(|g| g.map = "E1 M1".into())),
            ("skill", Box::new(|g| g.skill = 6)),
        ];
        for (what, spoil) in bad {
            let mut g = full();
            spoil(&mut g);
            assert!(Message::Game(g.clone()).encode().is_err(), "{what}");
            // Written by hand (as a hostile host would), the decoder refuses it too.
            let json = serde_json::to_string(&Message::Game(g)).unwrap();
            assert!(Message::decode(&json).is_err(), "{what}: {json}");
        }
        let unknown = r#"{"t":"game","iwad":"","iwad_file":"","extra":1}"#;
        assert!(Message::decode(unknown).is_err());
    }

    #[test]
    fn names_lose_bidi_and_control_characters_on_arrival() {
        let mut g = full();
        g.iwad_file = "free\u{202e}doom.wad".into();
        g.files[0].name = "ma\u{202e}ps.wad".into();
        let json = serde_json::to_string(&Message::Game(g)).unwrap();
        let Ok(Message::Game(got)) = Message::decode(&json) else {
            panic!("{json}")
        };
        assert_eq!(got.iwad_file, "freedoom.wad");
        assert_eq!(got.files[0].name, "maps.wad");
    }
}
