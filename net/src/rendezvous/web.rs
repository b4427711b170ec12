//! The browser player's files, served under `/play/`: the page, its scripts, the kernel built
//! for the browser (doomlink-web) and doom.wasm itself, the same file the desktop and the
//! dedicated rooms run.
//!
//! Owns: the files in memory (read once, from the directory `scripts/build-web` makes, at most
//! [`MAX_WEB_BYTES`] in all), their content types, and the headers a page needs: cross-origin
//! isolation (COOP/COEP, for the worker's SharedArrayBuffer and Atomics.wait), a content hash
//! as the ETag (a browser revalidates and gets 304 until a file changes), and gzip for a client
//! that takes it. Only the names loaded are served: a request names a file, never a path.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

/// The most bytes of files the service holds for the player (doom.wasm is ~2 MiB, the kernel
/// ~1 MiB): a wrong directory fails the start instead of filling memory.
pub const MAX_WEB_BYTES: u64 = 64 << 20;

#[derive(Debug, thiserror::Error)]
pub enum WebFilesError {
    #[error("cannot read the browser player's files in {dir}: {source}")]
    Io {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("{dir} holds more than {} MiB: not the browser player's files", MAX_WEB_BYTES >> 20)]
    TooLarge { dir: PathBuf },
}

struct WebFile {
    body: Vec<u8>,
    /// The body gzipped, where that is smaller.
    gzip: Option<Vec<u8>>,
    content_type: &'static str,
    /// `"` + 16 hex digits of the body's SHA-256 + `"`.
    etag: String,
}

/// The player's files by name.
#[derive(Default)]
pub struct WebFiles {
    files: HashMap<String, WebFile>,
}

impl std::fmt::Debug for WebFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut names: Vec<&String> = self.files.keys().collect();
        names.sort();
        f.debug_struct("WebFiles").field("files", &names).finish()
    }
}

fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css; charset=utf-8",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// A file name a request may ask for: letters, digits, `.`, `_`, `-`, not starting with `.`.
fn servable(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && name.len() <= 128
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'_' || b == b'-')
}

impl WebFiles {
    /// The regular files directly in `dir` whose names may be served (others are skipped).
    pub fn from_dir(dir: &Path) -> Result<WebFiles, WebFilesError> {
        let io = |source| WebFilesError::Io {
            dir: dir.to_path_buf(),
            source,
        };
        let mut files = WebFiles::default();
        let mut total = 0u64;
        for entry in std::fs::read_dir(dir).map_err(io)? {
            let entry = entry.map_err(io)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let meta = entry.metadata().map_err(io)?;
            if !meta.is_file() || !servable(&name) {
                continue;
            }
            total += meta.len();
            if total > MAX_WEB_BYTES {
                return Err(WebFilesError::TooLarge {
                    dir: dir.to_path_buf(),
                });
            }
            files.insert(&name, std::fs::read(entry.path()).map_err(io)?);
        }
        Ok(files)
    }

    /// Adds (or replaces) the file `name` (the service's own doom.wasm).
    pub fn insert(&mut self, name: &str, body: Vec<u8>) {
        let hash = Sha256::digest(&body);
        let etag = format!(
            "\"{}\"",
            hash[..8]
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        let gzip = gz
            .write_all(&body)
            .and_then(|()| gz.finish())
            .ok()
            .filter(|g| g.len() < body.len());
        self.files.insert(
            name.to_string(),
            WebFile {
                gzip,
                content_type: content_type(name),
                etag,
                body,
            },
        );
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// Whether the file `name` is served.
    pub fn has(&self, name: &str) -> bool {
        self.files.contains_key(name)
    }

    /// The response to a GET of `/play/<name>` with the request's `headers`.
    pub fn respond(&self, name: &str, headers: &HeaderMap) -> Response {
        let name = if name.is_empty() { "play.html" } else { name };
        let Some(file) = self.files.get(name).filter(|_| servable(name)) else {
            let why = if self.is_empty() {
                "This service has no browser player."
            } else {
                "No such file."
            };
            return (StatusCode::NOT_FOUND, why).into_response();
        };
        let mut out = HeaderMap::new();
        let mut set = |k: header::HeaderName, v: &str| {
            if let Ok(v) = HeaderValue::from_str(v) {
                out.insert(k, v);
            }
        };
        // Cross-origin isolation: the worker's shared memory and Atomics.wait need both.
        set(
            header::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
        set(
            header::HeaderName::from_static("cross-origin-embedder-policy"),
            "require-corp",
        );
        set(
            header::HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        );
        set(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        // Kept, and revalidated by its hash on every use: a new build is seen at once.
        set(header::CACHE_CONTROL, "no-cache");
        set(header::ETAG, &file.etag);
        set(header::VARY, "Accept-Encoding");
        let matches = headers
            .get(header::IF_NONE_MATCH)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|t| t.trim() == file.etag || t.trim() == "*")
            });
        if matches {
            return (StatusCode::NOT_MODIFIED, out).into_response();
        }
        set(header::CONTENT_TYPE, file.content_type);
        let takes_gzip = headers
            .get(header::ACCEPT_ENCODING)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(',')
                    .any(|e| e.split(';').next().is_some_and(|e| e.trim() == "gzip"))
            });
        match &file.gzip {
            Some(gz) if takes_gzip => {
                set(header::CONTENT_ENCODING, "gzip");
                (StatusCode::OK, out, gz.clone()).into_response()
            }
            _ => (StatusCode::OK, out, file.body.clone()).into_response(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files() -> WebFiles {
        let mut f = WebFiles::default();
        f.insert("play.html", b"<!doctype html><p>play</p>".repeat(20));
        f.insert("doom.wasm", vec![0; 4096]);
        f
    }

    fn get(f: &WebFiles, name: &str, headers: &[(&'static str, &str)]) -> Response {
        let mut h = HeaderMap::new();
        for (k, v) in headers {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        f.respond(name, &h)
    }

    fn header<'a>(r: &'a Response, k: &str) -> &'a str {
        r.headers()
            .get(k)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    #[test]
    fn files_come_with_their_type_isolation_headers_and_hash() {
        let f = files();
        let r = get(&f, "doom.wasm", &[]);
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "content-type"), "application/wasm");
        assert_eq!(header(&r, "cross-origin-opener-policy"), "same-origin");
        assert_eq!(header(&r, "cross-origin-embedder-policy"), "require-corp");
        assert_eq!(header(&r, "content-encoding"), "");
        let etag = header(&r, "etag").to_string();
        assert_eq!(etag.len(), 18);
        // The page itself is the directory's index.
        assert_eq!(
            header(&get(&f, "", &[]), "content-type"),
            "text/html; charset=utf-8"
        );
        // Revalidation by the hash; another hash gets the file.
        let r = get(&f, "doom.wasm", &[("if-none-match", &etag)]);
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        let r = get(
            &f,
            "doom.wasm",
            &[("if-none-match", "\"0000000000000000\"")],
        );
        assert_eq!(r.status(), StatusCode::OK);
    }

    #[test]
    fn gzip_only_for_a_client_that_takes_it() {
        let f = files();
        let r = get(&f, "doom.wasm", &[("accept-encoding", "br, gzip;q=0.8")]);
        assert_eq!(header(&r, "content-encoding"), "gzip");
        let r = get(&f, "doom.wasm", &[("accept-encoding", "br, gzipped")]);
        assert_eq!(header(&r, "content-encoding"), "");
    }

    #[test]
    fn only_loaded_names_are_served() {
        let f = files();
        for name in [
            "nosuch.js",
            "../Cargo.toml",
            "..",
            ".hidden",
            "a/b",
            "doom.wasm/x",
        ] {
            assert_eq!(get(&f, name, &[]).status(), StatusCode::NOT_FOUND, "{name}");
        }
        assert_eq!(
            get(&WebFiles::default(), "play.html", &[]).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn a_directory_loads_its_servable_files_and_a_huge_one_is_refused() {
        let dir = std::env::temp_dir().join(format!("dl-web-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(dir.join("play.html"), "<p>").unwrap();
        std::fs::write(dir.join(".secret"), "no").unwrap();
        std::fs::write(dir.join("sub/x.js"), "no").unwrap();
        let f = WebFiles::from_dir(&dir).unwrap();
        assert_eq!(format!("{f:?}"), r#"WebFiles { files: ["play.html"] }"#);
        let big = std::fs::File::create(dir.join("big.bin")).unwrap();
        big.set_len(MAX_WEB_BYTES + 1).unwrap();
        assert!(matches!(
            WebFiles::from_dir(&dir),
            Err(WebFilesError::TooLarge { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(WebFiles::from_dir(&dir).is_err());
    }
}
