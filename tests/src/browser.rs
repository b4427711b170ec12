//! A real browser for the tests: Debian's chromium, headless, driven over W3C WebDriver by
//! Debian's chromedriver, pages served from 127.0.0.1 only (facts measured on this kind of
//! machine: ../shared/notes/browser.md). And the page bundle: the doomlink-web crate built for
//! wasm32-unknown-unknown, turned by wasm-bindgen into the page's module, beside `web/www/`.
//!
//! Network safety: the server binds 127.0.0.1, chromedriver takes commands from 127.0.0.1 only,
//! and the pages fetch nothing beyond the server.

use crate::{free_server_port, repo_command, repo_root, KillOnDrop, Scratch};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The page bundle in a scratch directory: `doomlink_web.js` and its wasm (from the
/// doomlink-web crate, release profile), and `web/www/`'s page and glue.
pub fn web_bundle() -> Scratch {
    let dir = Scratch::new("web");
    let st = repo_command(repo_root().join("scripts/build-web"))
        .arg(dir.path())
        .status()
        .expect("scripts/build-web runs");
    assert!(
        st.success(),
        "scripts/build-web failed (its message is above)"
    );
    dir
}

/// The browser player's page on the service at `127.0.0.1:port`, joining invite `link` (the
/// link in the fragment, as the invite page's "Play in the browser" puts it).
pub fn join_page_url(port: u16, link: &str) -> String {
    // encodeURIComponent's set: everything but letters, digits and -_.!~*'() is escaped.
    let fragment: String = link
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    format!("http://127.0.0.1:{port}/play/#join={fragment}")
}

/// Chocolate Doom's page: the bundle with the desktop's doom.wasm and Freedoom beside it,
/// served, and a browser on it.
pub struct DoomPage {
    pub browser: Browser,
    _server: StaticServer,
    _bundle: Scratch,
}

/// Starts Chocolate Doom in the page with the IWAD fetched from the server and the options of
/// `startDoom` (web/www/doom.js), `canvas: true` meaning the page's canvas (frames, keyboard).
/// The player is `window.doom`; its end, `window.doomExit`.
const START_DOOM: &str = "const [options] = arguments;\
    const done = arguments[arguments.length - 1];\
    window.doomExit = null;\
    window.fetchBytes('freedoom1.wad').then((iwad) => {\
      window.doom = window.startDoom({ ...options,\
        canvas: options.canvas ? document.getElementById('screen') : null,\
        files: { '/iwad/freedoom1.wad': iwad } });\
      window.doom.exited.then((r) => { window.doomExit = r; },\
                              (e) => { window.doomExit = { error: String(e) }; });\
      done(true);\
    }, (e) => done(String(e)));";

impl DoomPage {
    pub fn open() -> DoomPage {
        let bundle = web_bundle();
        std::fs::write(bundle.path().join("doom.wasm"), doomlink_assets::DOOM_WASM).unwrap();
        std::fs::copy(crate::FREEDOOM1, bundle.path().join("freedoom1.wad")).unwrap();
        let server = StaticServer::start(bundle.path());
        let browser = Browser::start();
        browser.open(&server.url("index.html"));
        browser.wait_for("window.ready", Duration::from_secs(30));
        DoomPage {
            browser,
            _server: server,
            _bundle: bundle,
        }
    }

    /// Starts doom.wasm in a worker with argv `args` (freedoom1 at /iwad/freedoom1.wad) and
    /// `env` (`NAME=value`); `canvas`: frames and keys through the page's canvas; `collect`:
    /// /data files to read back at the end.
    pub fn start(&self, args: &[&str], env: &[&str], canvas: bool, collect: &[&str]) {
        self.start_with(json!({"args": args, "env": env, "canvas": canvas, "collect": collect}));
    }

    /// Starts doom.wasm with `startDoom`'s `options` (`args`, `env`, `canvas`, `collect`,
    /// `audio`).
    pub fn start_with(&self, options: Value) {
        let started = self.browser.execute_async(START_DOOM, json!([options]));
        assert_eq!(started, json!(true), "Chocolate Doom did not start");
    }

    /// Runs freedoom1's `demo` as a timedemo (no canvas): what Chocolate Doom printed.
    pub fn timedemo(&self, demo: &str) -> String {
        self.start(
            &["doom", "-iwad", "/iwad/freedoom1.wad", "-timedemo", demo],
            &[],
            false,
            &[],
        );
        let exit = self.exit();
        exit["output"].as_str().unwrap_or_default().to_string()
    }

    /// Waits for the guest's end: `{ status, ms, output, files }`, each collected file an
    /// array of its bytes. Panics if the guest failed (trapped, or the worker did not start).
    pub fn exit(&self) -> Value {
        doom_exit(&self.browser)
    }
}

/// Waits for the end of the page's Chocolate Doom (`window.doomExit`, set when the player's
/// `exited` settles): `{ status, ms, output, files }`, each collected file an array of its
/// bytes. Panics if the guest failed (trapped, or the worker did not start).
pub fn doom_exit(browser: &Browser) -> Value {
    browser.wait_for("window.doomExit", Duration::from_secs(600));
    let exit = browser.execute(
        "const r = window.doomExit;\
         return { status: r.status, ms: r.ms, output: r.output ?? '', error: r.error ?? null,\
                  files: Object.fromEntries(Object.entries(r.files ?? {})\
                    .map(([k, v]) => [k, Array.from(v)])) };",
        json!([]),
    );
    assert_eq!(exit["error"], Value::Null, "the guest failed: {exit}");
    exit
}

/// A static file server on 127.0.0.1 for one directory, with the content types the pages need
/// and the headers that make a page cross-origin isolated (SharedArrayBuffer, Atomics.wait).
pub struct StaticServer {
    pub port: u16,
}

impl StaticServer {
    pub fn start(dir: &Path) -> StaticServer {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let dir = dir.to_path_buf();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let dir = dir.clone();
                std::thread::spawn(move || serve(conn, &dir));
            }
        });
        StaticServer { port }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/{path}", self.port)
    }
}

fn serve(mut conn: TcpStream, dir: &Path) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request = String::new();
    if reader.read_line(&mut request).is_err() {
        return;
    }
    // The headers, up to the blank line.
    let mut line = String::new();
    while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
        line.clear();
    }
    // The path without its query (a page's parameters).
    let path = request.split_whitespace().nth(1).unwrap_or("/");
    let path = path.split('?').next().unwrap_or(path);
    let name = path.trim_start_matches('/');
    let file = (!name.contains("..") && !name.is_empty())
        .then(|| std::fs::read(dir.join(name)).ok())
        .flatten();
    let (status, body, kind) = match file {
        Some(b) => {
            let kind = match name.rsplit('.').next() {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript",
                Some("wasm") => "application/wasm",
                _ => "application/octet-stream",
            };
            ("200 OK", b, kind)
        }
        None => ("404 Not Found", b"not found".to_vec(), "text/plain"),
    };
    let head = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\n\
         Cross-Origin-Opener-Policy: same-origin\r\nCross-Origin-Embedder-Policy: require-corp\r\n\
         Cache-Control: no-store\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

/// Headless chromium in a WebDriver session of its own chromedriver.
pub struct Browser {
    port: u16,
    session: String,
    _driver: KillOnDrop,
}

impl Browser {
    pub fn start() -> Browser {
        Browser::start_with(&[])
    }

    /// A browser started with chromium's `flags` besides the usual ones (`--disable-webgl`:
    /// a machine without WebGL).
    pub fn start_with(flags: &[&str]) -> Browser {
        let port = free_server_port();
        let driver = KillOnDrop(
            Command::new("chromedriver")
                .arg(format!("--port={port}"))
                .arg("--allowed-ips=127.0.0.1")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("chromedriver runs (scripts/setup installs chromium-driver)"),
        );
        // Audio plays without a click: nobody clicks in a test.
        let args: Vec<&str> = [
            "--headless=new",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-features=WebRtcHideLocalIpsWithMdns",
            "--autoplay-policy=no-user-gesture-required",
        ]
        .into_iter()
        .chain(flags.iter().copied())
        .collect();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            // A timedemo or a game runs for minutes inside one asynchronous script.
            "timeouts": {"script": 600_000},
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                "args": args,
            },
        }}});
        // chromedriver takes a moment to listen.
        let deadline = Instant::now() + Duration::from_secs(20);
        let session = loop {
            match webdriver(port, "POST", "/session", Some(&caps)) {
                Ok(v) if v["sessionId"].is_string() => {
                    break v["sessionId"].as_str().unwrap().to_string()
                }
                other if Instant::now() > deadline => panic!("no WebDriver session: {other:?}"),
                _ => std::thread::sleep(Duration::from_millis(200)),
            }
        };
        Browser {
            port,
            session,
            _driver: driver,
        }
    }

    fn command(&self, method: &str, what: &str, body: Option<&Value>) -> Value {
        let path = format!("/session/{}/{what}", self.session);
        webdriver(self.port, method, &path, body).unwrap_or_else(|e| panic!("{what}: {e}"))
    }

    pub fn open(&self, url: &str) {
        self.command("POST", "url", Some(&json!({ "url": url })));
    }

    /// Runs `script` (its last argument is the callback that ends it) with `args`; what it
    /// passed to the callback.
    pub fn execute_async(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "execute/async",
            Some(&json!({ "script": script, "args": args })),
        )
    }

    /// Runs `script` (a function body) with `args`: what it returned.
    pub fn execute(&self, script: &str, args: Value) -> Value {
        self.command(
            "POST",
            "execute/sync",
            Some(&json!({ "script": script, "args": args })),
        )
    }

    /// Performs W3C WebDriver input `actions` (trusted key and pointer events, as a person's),
    /// returning once they are done.
    pub fn actions(&self, actions: Value) {
        self.command("POST", "actions", Some(&json!({ "actions": actions })));
    }

    /// Holds `key` (a WebDriver key: "\u{E013}" is the up arrow) down for `held`, then lets it go.
    pub fn hold_key(&self, key: &str, held: Duration) {
        self.actions(json!([{"type": "key", "id": "keyboard", "actions": [
            {"type": "keyDown", "value": key},
            {"type": "pause", "duration": held.as_millis() as u64},
            {"type": "keyUp", "value": key},
        ]}]));
    }

    /// Clicks the left mouse button at (`x`, `y`) of the page's viewport, in CSS pixels, as a
    /// person would (a trusted move, press and release): for what is drawn on a canvas.
    pub fn click_at(&self, x: f64, y: f64) {
        self.actions(json!([{
            "type": "pointer", "id": "mouse", "parameters": {"pointerType": "mouse"},
            "actions": [
                {"type": "pointerMove", "x": x.round() as i64, "y": y.round() as i64,
                 "origin": "viewport"},
                {"type": "pause", "duration": 100},
                {"type": "pointerDown", "button": 0},
                {"type": "pause", "duration": 50},
                {"type": "pointerUp", "button": 0},
            ],
        }]));
    }

    /// Types `text` (WebDriver keys: "\u{E007}" is Enter) into whatever has the focus, key by
    /// key.
    pub fn type_keys(&self, text: &str) {
        let keys: Vec<Value> = text
            .chars()
            .flat_map(|c| {
                let c = c.to_string();
                [
                    json!({"type": "keyDown", "value": c}),
                    json!({"type": "keyUp", "value": c}),
                ]
            })
            .collect();
        self.actions(json!([{"type": "key", "id": "keyboard", "actions": keys}]));
    }

    /// Types `text` into the element `css` selects, as a person would; for a file input, `text`
    /// is a path on this machine and the browser reads that file (chromedriver runs here).
    pub fn type_into(&self, css: &str, text: &str) {
        let id = self.element(css);
        self.command(
            "POST",
            &format!("element/{id}/value"),
            Some(&json!({ "text": text })),
        );
    }

    /// Clicks the element `css` selects, as a person's click (a trusted event).
    pub fn click(&self, css: &str) {
        let id = self.element(css);
        self.command("POST", &format!("element/{id}/click"), Some(&json!({})));
    }

    /// The WebDriver id of the element `css` selects; panics if there is none.
    fn element(&self, css: &str) -> String {
        let found = self.command(
            "POST",
            "element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        found["element-6066-11e4-a52e-4f735466cecf"]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {found}"))
            .to_string()
    }

    /// The distinct colours on the canvas with id `id` (a game picture has dozens; a blank
    /// canvas one).
    pub fn canvas_colours(&self, id: &str) -> u64 {
        self.execute(
            "const c = document.getElementById(arguments[0]);\
             const px = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;\
             const seen = new Set();\
             for (let i = 0; i < px.length; i += 4) seen.add((px[i] << 16) | (px[i+1] << 8) | px[i+2]);\
             return seen.size;",
            json!([id]),
        )
        .as_u64()
        .unwrap_or(0)
    }

    /// The page as a PNG.
    pub fn screenshot(&self) -> Vec<u8> {
        use base64::Engine;
        let png = self.command("GET", "screenshot", None);
        base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap_or_default())
            .expect("WebDriver's screenshot is base64")
    }

    /// Polls `expression` until it is true, for at most `limit`.
    pub fn wait_for(&self, expression: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        let script = format!("return Boolean({expression});");
        while self.command(
            "POST",
            "execute/sync",
            Some(&json!({"script": script, "args": []})),
        ) != Value::Bool(true)
        {
            assert!(Instant::now() < deadline, "the page never had {expression}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let path = format!("/session/{}", self.session);
        let _ = webdriver(self.port, "DELETE", &path, None);
    }
}

/// One WebDriver command over HTTP/1.1 to 127.0.0.1:`port`: its `value`, or the error's text.
fn webdriver(port: u16, method: &str, path: &str, body: Option<&Value>) -> Result<Value, String> {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).map_err(|e| e.to_string())?;
    conn.set_read_timeout(Some(Duration::from_secs(120))).ok();
    let body = body.map(Value::to_string).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    conn.write_all(request.as_bytes())
        .map_err(|e| e.to_string())?;
    // The body is Content-Length bytes after the headers (chromedriver keeps the connection).
    let mut reader = BufReader::new(conn);
    // An error is a non-2xx status (a script's own result may well have an `error` field).
    let mut status = String::new();
    reader.read_line(&mut status).map_err(|e| e.to_string())?;
    let failed = !status
        .split_whitespace()
        .nth(1)
        .is_some_and(|c| c.starts_with('2'));
    let (mut line, mut length) = (String::new(), 0usize);
    while reader.read_line(&mut line).map_err(|e| e.to_string())? > 2 {
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("content-length") {
                length = v.trim().parse().unwrap_or(0);
            }
        }
        line.clear();
    }
    let mut json = vec![0u8; length];
    reader.read_exact(&mut json).map_err(|e| e.to_string())?;
    let v: Value = serde_json::from_slice(&json).map_err(|e| e.to_string())?;
    if failed {
        Err(format!(
            "{}: {}",
            v["value"]["error"], v["value"]["message"]
        ))
    } else {
        Ok(v["value"].clone())
    }
}
