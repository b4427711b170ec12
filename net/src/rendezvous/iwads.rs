//! The free IWADs the service hands to browser players, under `/play/iwad/<sha256>`.
//!
//! Owns the shelf: which files are served (by hash) and how. Only a file whose SHA-256 is in
//! [`crate::iwads::FREE_IWADS`] goes on the shelf, so a commercial IWAD an operator gives a
//! dedicated room is never handed out, whatever it is called. Bodies stream from disk in
//! [`CHUNK`]-byte reads (no IWAD is held in memory), and a download holds a slot of the
//! service's download counts ([`MAX_DOWNLOADS`] at once in all, [`DOWNLOADS_PER_SOURCE`] per
//! source address) until its body is done or dropped: a few requests cannot make the service
//! push gigabytes at once. The page checks the hash of what it got before it keeps or uses it,
//! so a file replaced on disk after the start is refused there, never played.

use std::collections::HashMap;
use std::path::PathBuf;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::slots::Slot;
use crate::iwads::{free_iwad, FreeIwad};

/// Downloads at once, in all.
pub const MAX_DOWNLOADS: usize = 16;
/// Downloads at once from one source address (a browser fetches one IWAD; two tabs, two).
pub const DOWNLOADS_PER_SOURCE: usize = 2;
/// Bytes read from disk per body chunk.
pub const CHUNK: usize = 64 * 1024;

struct ShelfIwad {
    path: PathBuf,
    len: u64,
    free: &'static FreeIwad,
}

/// The free IWADs served, by hash (lower-case hex).
#[derive(Default)]
pub struct IwadShelf {
    files: HashMap<String, ShelfIwad>,
}

impl std::fmt::Debug for IwadShelf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&str> = self.files.values().map(|w| w.free.file).collect();
        names.sort();
        f.debug_struct("IwadShelf").field("files", &names).finish()
    }
}

impl IwadShelf {
    /// The shelf of those `paths` that are free IWADs; each other path is named in the second
    /// value with why it is not served (one line each, for the service's log).
    pub fn from_files(paths: &[PathBuf]) -> (IwadShelf, Vec<String>) {
        let mut shelf = IwadShelf::default();
        let mut skipped = Vec::new();
        for path in paths {
            let hashed = crate::iwads::sha256_file(path)
                .and_then(|h| Ok((h, std::fs::metadata(path)?.len())));
            match hashed {
                Err(e) => skipped.push(format!("{}: not served: {e}", path.display())),
                Ok((hash, len)) => match free_iwad(&hash) {
                    Some(free) => {
                        shelf.files.insert(
                            free.sha256.to_string(),
                            ShelfIwad {
                                path: path.clone(),
                                len,
                                free,
                            },
                        );
                    }
                    None => skipped.push(format!(
                        "{}: not served to browsers: not a free IWAD (Freedoom, FreeDM) by its hash",
                        path.display()
                    )),
                },
            }
        }
        (shelf, skipped)
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether the IWAD with this hash (lower-case hex) is served.
    pub fn has(&self, sha256: &str) -> bool {
        self.files.contains_key(sha256)
    }

    /// The response to a GET of `/play/iwad/<sha256>`; `slot` is the download's count, held
    /// until the body is done.
    pub async fn respond(&self, sha256: &str, slot: Slot) -> Response {
        let Some(w) = self.files.get(sha256) else {
            return (
                StatusCode::NOT_FOUND,
                "This service does not hand out that IWAD.\n",
            )
                .into_response();
        };
        let file = match tokio::fs::File::open(&w.path).await {
            Ok(f) => f,
            Err(e) => {
                tracing::warn!(path = %w.path.display(), "IWAD not readable: {e}");
                return (
                    StatusCode::NOT_FOUND,
                    "That IWAD is gone from this service.\n",
                )
                    .into_response();
            }
        };
        let chunks = futures_util::stream::unfold(
            (file, slot, w.len),
            |(mut file, slot, left)| async move {
                use tokio::io::AsyncReadExt;
                if left == 0 {
                    return None;
                }
                let mut buf = vec![0u8; CHUNK.min(left as usize)];
                match file.read(&mut buf).await {
                    // Shorter than at the start: end the body short, the page's hash check
                    // refuses it.
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        Some((
                            Ok::<_, std::io::Error>(Bytes::from(buf)),
                            (file, slot, left - n as u64),
                        ))
                    }
                    Err(e) => Some((Err(e), (file, slot, 0))),
                }
            },
        );
        let mut out = HeaderMap::new();
        let mut set = |k: header::HeaderName, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                out.insert(k, v);
            }
        };
        set(header::CONTENT_TYPE, "application/octet-stream");
        set(header::CONTENT_LENGTH, &w.len.to_string());
        set(
            header::CONTENT_DISPOSITION,
            &format!("attachment; filename=\"{}\"", w.free.file),
        );
        // Named by its hash: the same URL is always the same bytes.
        set(header::CACHE_CONTROL, "public, max-age=31536000, immutable");
        set(header::ETAG, &format!("\"{sha256}\""));
        set(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        );
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        (StatusCode::OK, out, Body::from_stream(chunks)).into_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_free_iwads_go_on_the_shelf() {
        let dir = std::env::temp_dir().join(format!("dl-shelf-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A WAD that is not Freedom's (as a commercial IWAD would be), named like Freedoom.
        let fake = dir.join("freedoom2.wad");
        std::fs::write(&fake, b"IWAD\x01\x00\x00\x00\x0c\x00\x00\x00").unwrap();
        let missing = dir.join("nosuch.wad");
        let (shelf, skipped) = IwadShelf::from_files(&[fake, missing]);
        assert!(shelf.is_empty());
        assert_eq!(skipped.len(), 2, "{skipped:?}");
        assert!(skipped[0].contains("not a free IWAD"), "{skipped:?}");
        assert!(skipped[1].contains("nosuch.wad: not served"), "{skipped:?}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
