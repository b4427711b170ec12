//! PWADs the tests make from Freedoom's own lumps: a changed E1M1 (its monsters removed, so a
//! game on it plays differently from the IWAD's), with an unused padding lump to give the file
//! the size a test needs.

use std::path::Path;

/// The lumps that make up a Doom map after its marker, in order.
const MAP_LUMPS: [&str; 10] = [
    "THINGS", "LINEDEFS", "SIDEDEFS", "VERTEXES", "SEGS", "SSECTORS", "NODES", "SECTORS", "REJECT",
    "BLOCKMAP",
];

/// Thing types of Doom's monsters (a map's THINGS entry is x, y, angle, type, flags: 5 × i16).
const MONSTERS: [u16; 18] = [
    3004, 9, 3001, 3002, 58, 3006, 3005, 3003, 16, 7, 65, 64, 66, 67, 68, 69, 71, 84,
];

fn le32(b: &[u8], at: usize) -> usize {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Writes to `out` a PWAD with `iwad`'s E1M1 without its monsters, and a lump `DLPAD` of
/// `pad` bytes (a seeded pattern, so two calls make the same file). Returns how many monsters
/// were removed.
pub fn write_changed_e1m1(iwad: &Path, out: &Path, pad: usize) -> usize {
    let wad = std::fs::read(iwad).unwrap();
    let (count, dir) = (le32(&wad, 4), le32(&wad, 8));
    let lump = |i: usize| {
        let e = dir + 16 * i;
        let name: String = wad[e + 8..e + 16]
            .iter()
            .take_while(|&&c| c != 0)
            .map(|&c| c as char)
            .collect();
        (name, &wad[le32(&wad, e)..le32(&wad, e) + le32(&wad, e + 4)])
    };
    let at = (0..count)
        .find(|&i| lump(i).0 == "E1M1")
        .expect("E1M1 in the IWAD");
    let mut lumps: Vec<(String, Vec<u8>)> = vec![("E1M1".into(), Vec::new())];
    let mut removed = 0;
    for (k, want) in MAP_LUMPS.iter().enumerate() {
        let (name, data) = lump(at + 1 + k);
        assert_eq!(&name, want, "E1M1's lumps in order");
        let data = if name == "THINGS" {
            let mut kept = Vec::new();
            for t in data.chunks(10) {
                let kind = u16::from_le_bytes([t[6], t[7]]);
                if MONSTERS.contains(&kind) {
                    removed += 1;
                } else {
                    kept.extend_from_slice(t);
                }
            }
            kept
        } else {
            data.to_vec()
        };
        lumps.push((name, data));
    }
    let padding: Vec<u8> = (0..pad)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    lumps.push(("DLPAD".into(), padding));

    let mut body = Vec::new();
    let mut entries = Vec::new();
    for (name, data) in &lumps {
        entries.push((12 + body.len(), data.len(), name.clone()));
        body.extend_from_slice(data);
    }
    let mut f = b"PWAD".to_vec();
    f.extend_from_slice(&(lumps.len() as u32).to_le_bytes());
    f.extend_from_slice(&((12 + body.len()) as u32).to_le_bytes());
    f.extend_from_slice(&body);
    for (pos, len, name) in entries {
        f.extend_from_slice(&(pos as u32).to_le_bytes());
        f.extend_from_slice(&(len as u32).to_le_bytes());
        let mut n = [0u8; 8];
        n[..name.len()].copy_from_slice(name.as_bytes());
        f.extend_from_slice(&n);
    }
    std::fs::write(out, f).unwrap();
    removed
}
