//! What the Play screen needs to know about a WAD before the game starts: which maps it has
//! (read from its lump directory), so the episode/map picker offers exactly those, and its title
//! picture.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// A map lump name and how it is passed to `-warp`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapName {
    /// `E1M1` or `MAP01`.
    pub name: String,
    /// `["1", "1"]` or `["1"]`.
    pub warp: Vec<String>,
}

/// Parses `ExMy` (Doom 1 style) and `MAPxx` (Doom 2 style) lump names.
pub fn parse_map_name(lump: &str) -> Option<MapName> {
    let upper = lump.to_ascii_uppercase();
    let b = upper.as_bytes();
    if b.len() == 4
        && b[0] == b'E'
        && b[2] == b'M'
        && b[1].is_ascii_digit()
        && b[3].is_ascii_digit()
        && b[1] != b'0'
        && b[3] != b'0'
    {
        return Some(MapName {
            name: upper.clone(),
            warp: vec![(b[1] as char).to_string(), (b[3] as char).to_string()],
        });
    }
    if let Some(n) = upper.strip_prefix("MAP") {
        if n.len() == 2 && n.bytes().all(|c| c.is_ascii_digit()) {
            let num: u32 = n.parse().ok()?;
            if num >= 1 {
                return Some(MapName {
                    name: upper.clone(),
                    warp: vec![num.to_string()],
                });
            }
        }
    }
    None
}

/// The maps a WAD contains, in lump order without duplicates (a PWAD may replace some).
pub fn list_maps(path: &Path) -> std::io::Result<Vec<MapName>> {
    let mut f = std::fs::File::open(path)?;
    let mut maps: Vec<MapName> = Vec::new();
    for (name, _, _) in lumps(&mut f)? {
        if let Some(m) = parse_map_name(&name) {
            if !maps.iter().any(|x| x.name == m.name) {
                maps.push(m);
            }
        }
    }
    maps.sort_by_key(MapName::warp_key);
    Ok(maps)
}

impl MapName {
    fn warp_key(&self) -> Vec<u32> {
        self.warp.iter().filter_map(|w| w.parse().ok()).collect()
    }
}

/// A WAD's lump directory: (name, file offset, size).
fn lumps(f: &mut std::fs::File) -> std::io::Result<Vec<(String, u64, usize)>> {
    let mut h = [0u8; 12];
    f.seek(SeekFrom::Start(0))?;
    f.read_exact(&mut h)?;
    let count = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as usize;
    let dir = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as u64;
    // Refuse absurd counts before allocating (a directory entry is 16 bytes).
    if count > 1 << 20 {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            "too many lumps",
        ));
    }
    f.seek(SeekFrom::Start(dir))?;
    let mut entries = vec![0u8; count * 16];
    f.read_exact(&mut entries)?;
    Ok(entries
        .chunks_exact(16)
        .map(|e| {
            let pos = u32::from_le_bytes([e[0], e[1], e[2], e[3]]) as u64;
            let size = u32::from_le_bytes([e[4], e[5], e[6], e[7]]) as usize;
            let name = e[8..16]
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c.to_ascii_uppercase() as char)
                .collect();
            (name, pos, size)
        })
        .collect())
}

fn read_lump(f: &mut std::fs::File, lumps: &[(String, u64, usize)], name: &str) -> Option<Vec<u8>> {
    let (_, pos, size) = lumps.iter().rev().find(|(n, _, _)| n == name)?;
    if *size > 4 << 20 {
        return None;
    }
    let mut data = vec![0u8; *size];
    f.seek(SeekFrom::Start(*pos)).ok()?;
    f.read_exact(&mut data).ok()?;
    Some(data)
}

/// A picture in Doom's patch format drawn with a palette: (width, height, RGB rows).
fn draw_patch(patch: &[u8], palette: &[u8]) -> Option<(usize, usize, Vec<u8>)> {
    let u16_at = |i: usize| Some(u16::from_le_bytes([*patch.get(i)?, *patch.get(i + 1)?]) as usize);
    let (w, h) = (u16_at(0)?, u16_at(2)?);
    if w == 0 || h == 0 || w > 1024 || h > 1024 || palette.len() < 768 {
        return None;
    }
    let mut rgb = vec![0u8; w * h * 3];
    for x in 0..w {
        let o = 8 + x * 4;
        let mut p = u32::from_le_bytes(patch.get(o..o + 4)?.try_into().ok()?) as usize;
        // Posts: top, length, pad, pixels, pad; 0xff ends the column.
        while *patch.get(p)? != 0xff {
            let top = patch[p] as usize;
            let len = *patch.get(p + 1)? as usize;
            let pixels = patch.get(p + 3..p + 3 + len)?;
            for (i, &c) in pixels.iter().enumerate() {
                let y = top + i;
                if y < h {
                    let d = (y * w + x) * 3;
                    rgb[d..d + 3].copy_from_slice(&palette[c as usize * 3..c as usize * 3 + 3]);
                }
            }
            p += len + 4;
        }
    }
    Some((w, h, rgb))
}

/// The IWAD's title screen (TITLEPIC with the first PLAYPAL palette), if it has one.
pub fn title_picture(path: &Path) -> Option<(usize, usize, Vec<u8>)> {
    let mut f = std::fs::File::open(path).ok()?;
    let lumps = lumps(&mut f).ok()?;
    let palette = read_lump(&mut f, &lumps, "PLAYPAL")?;
    let patch = read_lump(&mut f, &lumps, "TITLEPIC")?;
    draw_patch(&patch, &palette)
}

/// Doom's five skills, as the New Game menu names them (`-skill 1` … `-skill 5`).
pub const SKILLS: [&str; 5] = [
    "I'm too young to die",
    "Hey, not too rough",
    "Hurt me plenty",
    "Ultra-Violence",
    "Nightmare!",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_names() {
        assert_eq!(parse_map_name("E2M7").unwrap().warp, vec!["2", "7"]);
        assert_eq!(parse_map_name("map09").unwrap().warp, vec!["9"]);
        assert_eq!(parse_map_name("MAP32").unwrap().name, "MAP32");
        assert!(parse_map_name("E1M0").is_none());
        assert!(parse_map_name("MAP00").is_none());
        assert!(parse_map_name("THINGS").is_none());
    }

    #[test]
    fn lists_the_maps_of_a_wad_in_order() {
        let dir = std::env::temp_dir().join(format!("dl-wads-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("t.wad");
        let names = ["E1M2", "THINGS", "E1M1", "E1M2", "MAP01"];
        let mut wad = b"PWAD".to_vec();
        wad.extend_from_slice(&(names.len() as u32).to_le_bytes());
        wad.extend_from_slice(&12u32.to_le_bytes());
        for n in names {
            wad.extend_from_slice(&[0; 8]);
            let mut field = [0u8; 8];
            field[..n.len()].copy_from_slice(n.as_bytes());
            wad.extend_from_slice(&field);
        }
        std::fs::write(&path, wad).unwrap();
        let maps: Vec<String> = list_maps(&path)
            .unwrap()
            .into_iter()
            .map(|m| m.name)
            .collect();
        assert_eq!(maps, vec!["MAP01", "E1M1", "E1M2"]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn freedoom_has_its_episodes_and_a_title_picture() {
        let p = Path::new("/usr/share/games/doom/freedoom1.wad");
        if p.exists() {
            let maps = list_maps(p).unwrap();
            assert!(maps.iter().any(|m| m.name == "E4M9"), "{maps:?}");
            let (w, h, rgb) = title_picture(p).unwrap();
            assert_eq!((w, h, rgb.len()), (320, 200, 320 * 200 * 3));
            assert!(rgb.iter().any(|&c| c > 64), "not all dark");
        }
    }

    #[test]
    fn patches_draw_their_posts() {
        // 2×3 patch: column 0 has one post of 2 pixels at y=1, column 1 is empty.
        let mut p = vec![2, 0, 3, 0, 0, 0, 0, 0];
        p.extend_from_slice(&16u32.to_le_bytes());
        p.extend_from_slice(&22u32.to_le_bytes());
        p.extend_from_slice(&[1, 2, 0, 5, 6, 0, 0xff]); // at 16
        let mut palette = vec![0u8; 768];
        palette[15..18].copy_from_slice(&[1, 2, 3]);
        palette[18..21].copy_from_slice(&[4, 5, 6]);
        let (w, h, rgb) = draw_patch(&p, &palette).unwrap();
        assert_eq!((w, h), (2, 3));
        assert_eq!(&rgb[6..9], &[1, 2, 3]); // (0,1)
        assert_eq!(&rgb[12..15], &[4, 5, 6]); // (0,2)
        assert_eq!(&rgb[3..6], &[0, 0, 0]); // (1,0)
        assert!(draw_patch(&p[..10], &palette).is_none());
    }
}
