//! The IWADs anyone may pass on, known by their SHA-256: Freedoom's two phases and FreeDM, as
//! Debian 12 packages them (freedoom and freedm 0.12.1).
//!
//! Owns the one list the service consults before it hands an IWAD to a browser and the page
//! consults to name the IWAD a game needs. A file is free only if its hash is here: a name says
//! nothing (anyone can call DOOM2.WAD `freedoom2.wad`), and a commercial IWAD is never in the
//! list, so it is never served. Another Freedoom release has other hashes; add its row.

/// One free IWAD release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FreeIwad {
    /// The file name Chocolate Doom knows it by (it tells the game's mission from the name).
    pub file: &'static str,
    /// What players call it.
    pub title: &'static str,
    /// SHA-256 of the file, lower-case hex.
    pub sha256: &'static str,
}

/// Every free IWAD known, by hash.
pub const FREE_IWADS: &[FreeIwad] = &[
    FreeIwad {
        file: "freedoom1.wad",
        title: "Freedoom: Phase 1 (0.12.1)",
        sha256: "84c3a912f2973892a8025d09d65f5053b1ee2304968a5a172526d683a185b885",
    },
    FreeIwad {
        file: "freedoom2.wad",
        title: "Freedoom: Phase 2 (0.12.1)",
        sha256: "c72de2af7e2d0c17f6213e751a167e2f1913278aaf37ae6957854fe3cd6588ca",
    },
    FreeIwad {
        file: "freedm.wad",
        title: "FreeDM (0.12.1)",
        sha256: "f8fddaa129c03d6898eca9111ce139310335952b7b133090a369b153b8f92efe",
    },
];

/// Lower-case hex of a hash.
pub fn hex(hash: &[u8; 32]) -> String {
    hash.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a file, read in pieces (an IWAD is tens of megabytes).
#[cfg(feature = "signaling")]
pub fn sha256_file(path: &std::path::Path) -> std::io::Result<[u8; 32]> {
    use sha2::{Digest, Sha256};
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match f.read(&mut buf)? {
            0 => return Ok(h.finalize().into()),
            n => h.update(&buf[..n]),
        }
    }
}

/// The free IWAD with this hash, if it is one.
pub fn free_iwad(hash: &[u8; 32]) -> Option<&'static FreeIwad> {
    let hex = hex(hash);
    FREE_IWADS.iter().find(|w| w.sha256 == hex)
}

/// The free IWAD whose hash is the hex `sha256` (either case), if it is one.
pub fn free_iwad_hex(sha256: &str) -> Option<&'static FreeIwad> {
    FREE_IWADS
        .iter()
        .find(|w| w.sha256.eq_ignore_ascii_case(sha256))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_well_formed_and_distinct() {
        for w in FREE_IWADS {
            assert_eq!(w.sha256.len(), 64, "{}", w.file);
            assert!(w
                .sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)));
            assert_eq!(free_iwad_hex(&w.sha256.to_uppercase()), Some(w));
        }
        let mut all: Vec<_> = FREE_IWADS.iter().map(|w| w.sha256).collect();
        all.dedup();
        assert_eq!(all.len(), FREE_IWADS.len());
    }

    #[test]
    fn only_listed_hashes_are_free() {
        assert_eq!(free_iwad(&[0; 32]), None);
        let mut h = [0u8; 32];
        for (i, pair) in FREE_IWADS[1].sha256.as_bytes().chunks(2).enumerate() {
            h[i] = u8::from_str_radix(std::str::from_utf8(pair).unwrap(), 16).unwrap();
        }
        assert_eq!(free_iwad(&h).map(|w| w.file), Some("freedoom2.wad"));
        h[31] ^= 1;
        assert_eq!(free_iwad(&h), None);
        assert_eq!(free_iwad_hex("c72de2af"), None);
    }
}
