//! A browser joining a desktop host, in a network namespace of the bench's own (Chromium
//! gathers no loopback candidate; everything stays inside it): `doomlink serve --web-dir` on
//! 127.0.0.1, `doomlink host --internet` and the browser's WebRTC on the namespace's address.
//! Prints, asserting nothing:
//!
//! - open page → in the host's lobby: the clock starts when the page is asked for
//!   (`/play/index.html`), which then takes the IWAD from the service (28 MB on 127.0.0.1,
//!   standing in for the browser's storage), hashes it, joins the link (signaling, ICE, DTLS,
//!   SCTP, the session's welcome), starts doom.wasm in its worker and connects; it stops when
//!   the host's lobby lists the browser's player (`doomlink: lobby player I NAME ADDRESS`).
//!   Anchor, alternating in the same run: `doomlink join LINK` (headless, warm module cache)
//!   from its start to the same line. Goal: ≤ 3 s.
//! - round trip browser ↔ desktop: the page's relay session pings the host's every 10 ms over
//!   the datagram channel for 20 s (the time from ping to pong in the page, its event loop
//!   included); anchor: raw UDP ping-pong to an echo on the same address, same count. Goal:
//!   ≤ 2 ms added at p99.
//!
//! cargo bench -p doomlink-e2e --bench browser_net   (BROWSER_NET_K=N joins of each, default 6)

use doomlink_e2e::browser::{web_bundle, Browser};
use doomlink_e2e::netns::{private_network_for_this_thread, PRIVATE_HOST_IP};
use doomlink_e2e::*;
use serde_json::json;
use std::io::{BufRead, BufReader};
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

/// Joins per host: a Doom lobby has 4 slots, one is the host's (a gone client's slot stays for
/// Chocolate Doom's 30 s timeout).
const PER_HOST: usize = 3;

/// Opens nothing: joins `link` from an open page as `name`, pinging every `pingMs`, and with
/// `play` starts Chocolate Doom connected to the host. "joined", or the page's error.
const JOIN: &str = "const [link, name, pingMs, play] = arguments;\
    const done = arguments[arguments.length - 1];\
    (async () => {\
      const iwad = await window.fetchBytes('freedoom1.wad');\
      const iwadHash = new Uint8Array(await crypto.subtle.digest('SHA-256', iwad));\
      const game = await window.joinGame({ link, name, iwadHash, pingMs });\
      window.game = game;\
      if (play) {\
        const player = window.startDoom({\
          args: ['doom', '-iwad', '/iwad/freedoom1.wad', '-connect', `${game.hub}:2342`,\
                 '-doomlink-name', name],\
          files: { '/iwad/freedoom1.wad': iwad }, network: (d) => game.send(d) });\
        game.attach(player);\
        window.doom = player;\
      }\
      return 'joined';\
    })().then(done, (e) => done(`error: ${e.message}`));";

/// `n` round trips between two RTCPeerConnections in the page over negotiated, unordered,
/// unretransmitted channels: each in milliseconds (the page's clock).
const CHROMIUM_PING: &str = "const [n] = arguments; const done = arguments[arguments.length - 1];\
    (async () => {\
      const a = new RTCPeerConnection(), b = new RTCPeerConnection();\
      a.onicecandidate = (e) => e.candidate && b.addIceCandidate(e.candidate);\
      b.onicecandidate = (e) => e.candidate && a.addIceCandidate(e.candidate);\
      const init = { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 };\
      const da = a.createDataChannel('x', init), db = b.createDataChannel('x', init);\
      db.onmessage = (m) => db.send(m.data);\
      await a.setLocalDescription(); await b.setRemoteDescription(a.localDescription);\
      await b.setLocalDescription(); await a.setRemoteDescription(b.localDescription);\
      await new Promise((r) => { if (da.readyState === 'open') r(); else da.onopen = r; });\
      const out = [];\
      for (let i = 0; i < n + 100; i++) {\
        const t = performance.now();\
        const back = new Promise((r) => { da.onmessage = r; setTimeout(r, 1000); });\
        da.send(new Uint8Array(24));\
        await back;\
        if (i >= 100) out.push(performance.now() - t);\
      }\
      a.close(); b.close();\
      return out;\
    })().then(done, (e) => done(String(e)));";

struct Host {
    _child: KillOnDrop,
    lines: Receiver<(Instant, String)>,
    link: String,
    joins: usize,
}

fn start_host(rendezvous: u16, dir: &std::path::Path) -> Host {
    let mut cmd = Command::new(doomlink());
    cmd.args(["host", "--internet", "--rendezvous"])
        .arg(format!("127.0.0.1:{rendezvous}"))
        .args(["--name", "benchhost"])
        .args(headless_args(Bind::Rtc(PRIVATE_HOST_IP), dir, 1, 1_000_000))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let (mut child, link) = spawn_until_link(&mut cmd, &dir.join("unused"));
    let stderr = child.0.stderr.take().unwrap();
    let (tx, lines) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send((Instant::now(), line)).is_err() {
                break;
            }
        }
    });
    let host = Host {
        _child: child,
        lines,
        link,
        joins: 0,
    };
    wait_for_player(&host, "benchhost").expect("the host's lobby shows the host");
    host
}

/// When the host's lobby first lists a player called `name` (60 s at most).
fn wait_for_player(host: &Host, name: &str) -> Option<Instant> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (at, line) = host.lines.recv_timeout(left).ok()?;
        if is_lobby_player(&line, name) {
            return Some(at);
        }
    }
}

fn p(sorted: &[f64], q: usize) -> f64 {
    percentile(sorted, q)
}

fn sorted(mut v: Vec<f64>) -> Vec<f64> {
    v.sort_by(f64::total_cmp);
    v
}

fn main() {
    let k: usize = std::env::var("BROWSER_NET_K")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(6);
    private_network_for_this_thread();
    let bundle = web_bundle();
    std::fs::copy(FREEDOOM1, bundle.path().join("freedoom1.wad")).unwrap();
    let rv = Scratch::new("bn-rv");
    let (_serve, port) = serve(rv.path(), &["--web-dir", bundle.path().to_str().unwrap()]);
    let page = format!("http://127.0.0.1:{port}/play/index.html");
    let host_dir = Scratch::new("bn-host");
    let joiner_dir = Scratch::new("bn-joiner");
    let browser = Browser::start();
    let mut host: Option<Host> = None;
    let (mut desktop, mut web) = (Vec::new(), Vec::new());
    // Round 0 warms the module cache, the page's files and chromium (not counted).
    for round in 0..=k {
        for in_browser in [false, true] {
            if host.as_ref().is_none_or(|h| h.joins >= PER_HOST) {
                drop(host.take()); // the old host goes first (its lobby, its port)
                host = Some(start_host(port, host_dir.path()));
            }
            let h = host.as_mut().unwrap();
            let name = format!("{}{round}", if in_browser { "web" } else { "desk" });
            let t0 = Instant::now();
            let _joiner = if in_browser {
                browser.open(&page);
                browser.wait_for("window.ready", Duration::from_secs(30));
                let r = browser.execute_async(JOIN, json!([h.link, name, 1000, true]));
                assert_eq!(r, json!("joined"), "the browser did not join");
                None
            } else {
                Some(KillOnDrop(
                    Command::new(doomlink())
                        .args(["join", &h.link, "--name", &name])
                        .args(headless_args(
                            Bind::Rtc(PRIVATE_HOST_IP),
                            joiner_dir.path(),
                            2,
                            1_000_000,
                        ))
                        .stdin(Stdio::null())
                        .stdout(Stdio::null())
                        .stderr(Stdio::null())
                        .spawn()
                        .unwrap(),
                ))
            };
            let at = wait_for_player(h, &name)
                .unwrap_or_else(|| panic!("{name} never showed in the host's lobby"));
            h.joins += 1;
            if in_browser {
                browser.execute("window.doom?.stop(); window.game?.leave();", json!([]));
                browser.open("about:blank");
            }
            if round > 0 {
                let ms = (at - t0).as_secs_f64() * 1000.0;
                if in_browser { &mut web } else { &mut desktop }.push(ms);
            }
        }
    }
    let (web, desktop) = (sorted(web), sorted(desktop));
    println!("open → in the host's lobby, {k} joins each:");
    println!(
        "  browser (page, IWAD from 127.0.0.1, join, doom.wasm): p50 {:.0} ms, max {:.0} ms",
        p(&web, 50),
        p(&web, 100)
    );
    println!(
        "  desktop anchor (doomlink join LINK):                   p50 {:.0} ms, max {:.0} ms",
        p(&desktop, 50),
        p(&desktop, 100)
    );
    println!(
        "  browser / desktop at p50: {:.2}x (goal: the browser ≤ 3 s)",
        p(&web, 50) / p(&desktop, 50)
    );

    // Round trips: a fresh host, the page's session pinging it every 10 ms.
    drop(host.take());
    let h = start_host(port, host_dir.path());
    browser.open(&page);
    browser.wait_for("window.ready", Duration::from_secs(30));
    let r = browser.execute_async(JOIN, json!([h.link, "pinger", 10, false]));
    assert_eq!(r, json!("joined"), "the browser did not join");
    std::thread::sleep(Duration::from_secs(21));
    let samples = browser.execute("return window.game.rttSamples;", json!([]));
    let rtc: Vec<f64> = samples
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|v| v.as_f64())
        .filter(|&v| v >= 0.0)
        .collect();
    // Raw UDP anchor: an echo on the same address, as many round trips.
    let echo = UdpSocket::bind((PRIVATE_HOST_IP, 0)).unwrap();
    let to = echo.local_addr().unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let sock = UdpSocket::bind((PRIVATE_HOST_IP, 0)).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(1))).unwrap();
    let udp: Vec<f64> = udp_ping_pong(&sock, to, &[0u8; 24], 100, rtc.len().max(100))
        .iter()
        .map(|d| d.as_secs_f64() * 1000.0)
        .collect();
    // Chromium's own stack alone: two peer connections in the page, the same channel setup
    // as the session's datagram channel, one 24-byte message in flight, as many round trips.
    let local = browser.execute_async(CHROMIUM_PING, json!([rtc.len()]));
    let local: Vec<f64> = local
        .as_array()
        .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
        .unwrap_or_default();
    assert!(
        !local.is_empty(),
        "no chromium ↔ chromium round trips: {local:?}"
    );
    let local = sorted(local);
    let (rtc, udp) = (sorted(rtc), sorted(udp));
    println!(
        "round trip, {} samples each (browser: a ping every 10 ms for 20 s):",
        rtc.len()
    );
    println!(
        "  browser ↔ desktop over WebRTC: p50 {:.3} ms, p99 {:.3} ms",
        p(&rtc, 50),
        p(&rtc, 99)
    );
    println!(
        "  raw UDP anchor:                p50 {:.3} ms, p99 {:.3} ms",
        p(&udp, 50),
        p(&udp, 99)
    );
    println!(
        "  chromium ↔ chromium (two peer connections in one page): p50 {:.3} ms, p99 {:.3} ms",
        p(&local, 50),
        p(&local, 99)
    );
    println!(
        "  added at p99: {:.3} ms (goal ≤ 2 ms)",
        p(&rtc, 99) - p(&udp, 99)
    );
}
