//! Finding and checking WADs on the host, before a guest ever sees them.
//!
//! The search follows Chocolate Doom's own (d_iwad.c): DOOMWADDIR, DOOMWADPATH, the XDG data
//! dirs' `games/doom` (~/.local/share, /usr/local/share, /usr/share), in Chocolate Doom's order
//! of IWAD names. On a machine set up by scripts/setup that finds Freedoom.

use std::path::{Path, PathBuf};

/// The IWADs Chocolate Doom knows for Doom, in its order of preference.
pub const IWAD_NAMES: &[(&str, &str)] = &[
    ("doom2.wad", "Doom II"),
    ("plutonia.wad", "Final Doom: Plutonia Experiment"),
    ("tnt.wad", "Final Doom: TNT: Evilution"),
    ("doom.wad", "Doom"),
    ("doom1.wad", "Doom Shareware"),
    ("doom2f.wad", "Doom II: L'Enfer sur Terre"),
    ("chex.wad", "Chex Quest"),
    ("hacx.wad", "Hacx"),
    ("freedoom2.wad", "Freedoom: Phase 2"),
    ("freedoom1.wad", "Freedoom: Phase 1"),
    ("freedm.wad", "FreeDM"),
];

/// Why a WAD cannot be used; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum WadError {
    #[error("{0}: cannot read it: {1}")]
    Unreadable(PathBuf, std::io::Error),
    #[error("{0}: not a WAD file (no IWAD/PWAD header)")]
    NotAWad(PathBuf),
    #[error("{0}: damaged WAD (its directory lies outside the file)")]
    Damaged(PathBuf),
    #[error("{0}: a PWAD, not an IWAD; pass it as a PWAD (-file) with an IWAD")]
    NotAnIwad(PathBuf),
    #[error("no IWAD found (looked in {0}); install Freedoom (apt-get install freedoom) or pass --iwad FILE")]
    NoneFound(String),
}

/// The kind a WAD header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WadKind {
    Iwad,
    Pwad,
}

/// Checks a WAD's header and directory bounds; returns its kind.
pub fn check_wad(path: &Path) -> Result<WadKind, WadError> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).map_err(|e| WadError::Unreadable(path.into(), e))?;
    let len = f
        .metadata()
        .map_err(|e| WadError::Unreadable(path.into(), e))?
        .len();
    let mut h = [0u8; 12];
    f.read_exact(&mut h)
        .map_err(|_| WadError::NotAWad(path.into()))?;
    let kind = match &h[0..4] {
        b"IWAD" => WadKind::Iwad,
        b"PWAD" => WadKind::Pwad,
        _ => return Err(WadError::NotAWad(path.into())),
    };
    let lumps = u32::from_le_bytes([h[4], h[5], h[6], h[7]]) as u64;
    let dir = u32::from_le_bytes([h[8], h[9], h[10], h[11]]) as u64;
    if dir.checked_add(lumps * 16).is_none_or(|end| end > len) || lumps == 0 {
        return Err(WadError::Damaged(path.into()));
    }
    Ok(kind)
}

/// Checks that `path` is a usable IWAD.
pub fn check_iwad(path: &Path) -> Result<(), WadError> {
    match check_wad(path)? {
        WadKind::Iwad => Ok(()),
        WadKind::Pwad => Err(WadError::NotAnIwad(path.into())),
    }
}

/// The directories searched, in order.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(d) = std::env::var_os("DOOMWADDIR") {
        dirs.push(PathBuf::from(d));
    }
    if let Some(p) = std::env::var_os("DOOMWADPATH") {
        dirs.extend(std::env::split_paths(&p));
    }
    let data_home = std::env::var_os("XDG_DATA_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")));
    if let Some(d) = data_home {
        dirs.push(d.join("games/doom"));
    }
    let data_dirs =
        std::env::var("XDG_DATA_DIRS").unwrap_or_else(|_| "/usr/local/share:/usr/share".into());
    dirs.extend(
        data_dirs
            .split(':')
            .filter(|s| !s.is_empty())
            .map(|d| PathBuf::from(d).join("games/doom")),
    );
    dirs
}

/// Every IWAD found, best first, with its game's name.
pub fn find_iwads() -> Vec<(PathBuf, &'static str)> {
    let dirs = search_dirs();
    let mut found = Vec::new();
    for (name, title) in IWAD_NAMES {
        for d in &dirs {
            let p = d.join(name);
            if p.is_file() && check_iwad(&p).is_ok() {
                found.push((p, *title));
                break;
            }
        }
    }
    found
}

/// The IWAD to play: the one given (checked), or the best one found.
pub fn resolve_iwad(given: Option<&Path>) -> Result<PathBuf, WadError> {
    if let Some(p) = given {
        check_iwad(p)?;
        return Ok(p.to_path_buf());
    }
    find_iwads()
        .into_iter()
        .next()
        .map(|(p, _)| p)
        .ok_or_else(|| {
            let dirs: Vec<String> = search_dirs()
                .iter()
                .map(|d| d.display().to_string())
                .collect();
            WadError::NoneFound(dirs.join(", "))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_wads_are_named_in_one_line() {
        let dir = std::env::temp_dir().join(format!("dl-wad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let junk = dir.join("junk.wad");
        std::fs::write(&junk, b"hello, not a wad").unwrap();
        let e = check_iwad(&junk).unwrap_err().to_string();
        assert!(
            e.contains("junk.wad") && e.contains("not a WAD") && !e.contains('\n'),
            "{e}"
        );
        let lying = dir.join("lying.wad");
        let mut h = b"IWAD".to_vec();
        h.extend_from_slice(&100u32.to_le_bytes());
        h.extend_from_slice(&12u32.to_le_bytes());
        std::fs::write(&lying, &h).unwrap();
        assert!(matches!(check_iwad(&lying), Err(WadError::Damaged(_))));
        let missing = dir.join("missing.wad");
        assert!(check_iwad(&missing)
            .unwrap_err()
            .to_string()
            .contains("missing.wad"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
