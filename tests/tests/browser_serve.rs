//! The browser player as `doomlink serve` ships it: the files `scripts/build-web` makes, served
//! at /play/ with the service's own doom.wasm, opened in headless chromium from 127.0.0.1.
//! - HTTP: content types, cross-origin isolation, the content hash as ETag (304 on a match),
//!   gzip only when asked, 404 for anything not loaded.
//! - The page as a player meets it: it is cross-origin isolated, shows doom.wasm's hash (the
//!   desktop's file), and after choosing an IWAD file (WebDriver types its path into the file
//!   input, as the file chooser would) the game runs on the canvas.

use doomlink_e2e::browser::{web_bundle, Browser};
use doomlink_e2e::procs::serve;
use doomlink_e2e::{Scratch, FREEDOOM1};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// A raw HTTP/1.1 GET: the status line and headers (lower-case names), and the body's length.
fn get(port: u16, path: &str, headers: &str) -> (String, Vec<(String, String)>, usize) {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{headers}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    let split = all.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&all[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().unwrap_or_default().to_string();
    let fields = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string()))
        .collect();
    (status, fields, all.len() - split - 4)
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map_or("", |(_, v)| v.as_str())
}

/// `doomlink serve --web-dir` on the player's files; its HTTP port once it answers.
fn serve_player(bundle: &Scratch, data: &Scratch) -> (doomlink_e2e::KillOnDrop, u16) {
    let web = bundle.path().to_str().unwrap();
    let (child, port) = serve(data.path(), &["--web-dir", web]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "doomlink serve never listened");
        std::thread::sleep(Duration::from_millis(100));
    }
    (child, port)
}

#[test]
fn serve_ships_the_player_with_isolation_hashes_and_gzip() {
    let (bundle, data) = (web_bundle(), Scratch::new("serve-web"));
    let (_serve, port) = serve_player(&bundle, &data);
    let (status, f, plain) = get(port, "/play/doom.wasm", "");
    assert!(status.contains("200"), "{status}");
    assert_eq!(field(&f, "content-type"), "application/wasm");
    assert_eq!(field(&f, "cross-origin-opener-policy"), "same-origin");
    assert_eq!(field(&f, "cross-origin-embedder-policy"), "require-corp");
    assert_eq!(
        plain,
        doomlink_assets::DOOM_WASM.len(),
        "the service's own doom.wasm"
    );
    let etag = field(&f, "etag").to_string();
    let (status, f, gzipped) = get(port, "/play/doom.wasm", "Accept-Encoding: gzip\r\n");
    assert!(status.contains("200") && field(&f, "content-encoding") == "gzip");
    assert!(gzipped < plain, "gzip {gzipped} of {plain} bytes");
    let (status, _, body) = get(
        port,
        "/play/doom.wasm",
        &format!("If-None-Match: {etag}\r\n"),
    );
    assert!(status.contains("304") && body == 0, "{status}");
    let (status, f, _) = get(port, "/play/", "");
    assert!(status.contains("200"), "{status}");
    assert_eq!(field(&f, "content-type"), "text/html; charset=utf-8");
    for path in ["/play/nosuch.js", "/play/..%2fCargo.toml", "/play/.hidden"] {
        let (status, _, _) = get(port, path, "");
        assert!(status.contains("404"), "{path}: {status}");
    }
    println!("doom.wasm: {plain} bytes, {gzipped} gzipped");
}

#[test]
fn a_player_opens_the_page_chooses_an_iwad_and_plays() {
    let (bundle, data) = (web_bundle(), Scratch::new("serve-web-play"));
    let (_serve, port) = serve_player(&bundle, &data);
    let browser = Browser::start();
    browser.open(&format!("http://127.0.0.1:{port}/play/"));
    browser.wait_for("document.getElementById('iwad')", Duration::from_secs(30));
    assert_eq!(
        browser.execute("return self.crossOriginIsolated;", json!([])),
        json!(true)
    );
    // The about line names the desktop's own doom.wasm by its hash.
    browser.wait_for(
        "document.getElementById('hash').textContent.startsWith('sha256 ')",
        Duration::from_secs(30),
    );
    let shown = browser.execute(
        "return document.getElementById('hash').textContent;",
        json!([]),
    );
    let hash = {
        use sha2::Digest;
        sha2::Sha256::digest(doomlink_assets::DOOM_WASM)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    };
    assert_eq!(shown, json!(format!("sha256 {hash}")));
    browser.type_into("#iwad", FREEDOOM1);
    browser.wait_for(
        "window.doom && window.doom.frames.count > 35",
        Duration::from_secs(60),
    );
    let colours = browser.canvas_colours("screen");
    assert!(
        colours > 32,
        "the canvas shows no game picture ({colours} colours)"
    );
    if let Ok(dir) = std::env::var("DOOMLINK_SCREENSHOT_DIR") {
        let shot = browser.screenshot();
        std::fs::write(std::path::Path::new(&dir).join("browser-play.png"), shot).unwrap();
    }
}
