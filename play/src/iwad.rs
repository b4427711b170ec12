//! Finding and checking WADs on the host, before a guest ever sees them.
//!
//! The search follows Chocolate Doom's own (d_iwad.c): DOOMWADDIR, DOOMWADPATH, the XDG data
//! dirs' `games/doom` (~/.local/share, /usr/local/share, /usr/share), in Chocolate Doom's order
//! of IWAD names. On a machine set up by scripts/setup that finds Freedoom.

use std::path::{Path, PathBuf};

pub use doomlink_net::iwads::sha256_file;

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
    #[error("{path}: not the IWAD the host plays ({wanted}); another would desync the game: pass that file with --iwad")]
    NotTheHosts { path: PathBuf, wanted: String },
    #[error(
        "the host plays {wanted}, which this computer does not have (looked in {dirs}); {hint}"
    )]
    HostsNotFound {
        wanted: String,
        dirs: String,
        hint: &'static str,
    },
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

/// The file name of a WAD's path, as others are told it ("freedoom2.wad"); empty if none.
pub fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
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

/// The host's IWAD as people know it: `freedoom2.wad, Freedoom: Phase 2 (0.12.1)`, or the file
/// name and the start of its hash.
pub fn describe(sha256: &[u8; 32], file: &str) -> String {
    let free = doomlink_net::iwads::free_iwad(sha256);
    let name = if file.is_empty() {
        free.map_or("an IWAD", |w| w.file)
    } else {
        file
    };
    match free {
        Some(w) => format!("{name}, {}", w.title),
        None => format!(
            "{name}, SHA-256 {}…",
            &doomlink_net::iwads::hex(sha256)[..16]
        ),
    }
}

/// The IWAD to join a game with whose host plays the file `file` with SHA-256 `sha256`: the
/// one given if it is that file (else an error naming the host's), or else the one on this
/// computer that is (the host's file name in the search directories first, then every IWAD
/// found), or an error saying which IWAD to get.
pub fn iwad_for_host(
    sha256: &[u8; 32],
    file: &str,
    given: Option<&Path>,
) -> Result<PathBuf, WadError> {
    if let Some(p) = given {
        check_iwad(p)?;
        let got = sha256_file(p).map_err(|e| WadError::Unreadable(p.into(), e))?;
        if &got != sha256 {
            return Err(WadError::NotTheHosts {
                path: p.into(),
                wanted: describe(sha256, file),
            });
        }
        return Ok(p.to_path_buf());
    }
    let dirs = search_dirs();
    // Only a plain file name is looked for by name: the host's word is not a path here.
    let plain = !file.is_empty() && !file.contains(['/', '\\']) && !file.starts_with('.');
    let by_name = dirs
        .iter()
        .filter(|_| plain)
        .map(|d| d.join(file))
        .filter(|p| p.is_file());
    let mut tried = Vec::new();
    for p in by_name.chain(find_iwads().into_iter().map(|(p, _)| p)) {
        if tried.contains(&p) {
            continue;
        }
        if sha256_file(&p).is_ok_and(|h| &h == sha256) {
            return Ok(p);
        }
        tried.push(p);
    }
    Err(WadError::HostsNotFound {
        wanted: describe(sha256, file),
        dirs: dirs
            .iter()
            .map(|d| d.display().to_string())
            .collect::<Vec<_>>()
            .join(", "),
        hint: if doomlink_net::iwads::free_iwad(sha256).is_some() {
            "install it (apt-get install freedoom) or pass it with --iwad FILE"
        } else {
            "pass your copy with --iwad FILE"
        },
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

    #[test]
    fn a_given_iwad_that_is_not_the_hosts_is_named_with_the_hosts() {
        let dir = std::env::temp_dir().join(format!("dl-host-wad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mine = dir.join("mine.wad");
        let mut wad = b"IWAD".to_vec();
        wad.extend_from_slice(&1u32.to_le_bytes());
        wad.extend_from_slice(&12u32.to_le_bytes());
        wad.extend_from_slice(&[0; 16]);
        std::fs::write(&mine, &wad).unwrap();
        let hash = sha256_file(&mine).unwrap();
        assert_eq!(iwad_for_host(&hash, "x.wad", Some(&mine)).unwrap(), mine);
        let freedoom2 = doomlink_net::iwads::FREE_IWADS[1].sha256;
        let mut other = [0u8; 32];
        for (i, b) in other.iter_mut().enumerate() {
            *b = u8::from_str_radix(&freedoom2[2 * i..2 * i + 2], 16).unwrap();
        }
        let e = iwad_for_host(&other, "freedoom2.wad", Some(&mine))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains(
                "mine.wad: not the IWAD the host plays (freedoom2.wad, Freedoom: Phase 2 (0.12.1))"
            ),
            "{e}"
        );
        assert!(!e.contains('\n'));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
