//! A browser joining a desktop host, in a network namespace of the bench's own (Chromium
//! gathers no loopback candidate; everything stays inside it): `doomlink serve --web-dir` on
//! 127.0.0.1, `doomlink host --internet` and the browser's WebRTC on the namespace's address.
//! Prints, asserting nothing:
//!
//! - open page → in the host's lobby: the clock starts when the player's page is asked for
//!   (`/play/#join=LINK`, as the invite page's "Play in the browser" opens it), which asks the
//!   room what it plays, finds the IWAD kept in the browser (the uncounted first round fetched
//!   and kept it) and checks its hash; Join (clicked at once) joins the link (signaling, ICE,
//!   DTLS, SCTP, the session's welcome), starts doom.wasm in its worker and connects; it stops
//!   when the host's lobby lists the browser's player (`doomlink: lobby player I NAME
//!   ADDRESS`). Anchor, alternating in the same run: `doomlink join LINK` (headless, warm module
//!   cache) from its start to the same line. Goal: ≤ 3 s.
//! - cold cache: a browser of its own (a fresh profile) opens the same page through a relay that
//!   counts what the service sends over HTTP (page, scripts, kernel, doom.wasm, the IWAD), clicks
//!   Join and waits for the game's first frame; anchor: the size of those files themselves.
//! - round trip browser ↔ desktop: the page's relay session pings the host's every 10 ms over
//!   the datagram channel for 20 s (the time from ping to pong in the page, its event loop
//!   included); anchor: raw UDP ping-pong to an echo on the same address, same count, at the
//!   same pace (and back to back). Chromium alone, two peer connections in one page, back to
//!   back and at the same pace, says what the browser's own path costs. Goal: ≤ 2 ms added at
//!   p99.
//!
//! cargo bench -p doomlink-e2e --bench browser_net   (BROWSER_NET_K=N joins of each, default 6)

use doomlink_e2e::browser::{join_page_url, web_bundle, Browser};
use doomlink_e2e::netns::{private_network_for_this_thread, PRIVATE_HOST_IP};
use doomlink_e2e::*;
use serde_json::json;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Joins per host: a Doom lobby has 4 slots, one is the host's (a gone client's slot stays for
/// Chocolate Doom's 30 s timeout).
const PER_HOST: usize = 3;

/// Opens nothing: joins `link` from an open page (index.html) as `name`, the session pinging
/// the host every `pingMs`, without starting Chocolate Doom. "joined", or the page's error.
const JOIN: &str = "const [link, name, pingMs] = arguments;\
    const done = arguments[arguments.length - 1];\
    (async () => {\
      const iwad = await window.fetchBytes('freedoom1.wad');\
      const iwadHash = new Uint8Array(await crypto.subtle.digest('SHA-256', iwad));\
      window.game = await window.joinGame({ link, name, iwadHash, pingMs });\
      return 'joined';\
    })().then(done, (e) => done(`error: ${e.message}`));";

/// `n` round trips between two RTCPeerConnections in the page over negotiated, unordered,
/// unretransmitted channels, `gapMs` apart: each in milliseconds (the page's clock).
const CHROMIUM_PING: &str =
    "const [n, gapMs] = arguments; const done = arguments[arguments.length - 1];\
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
        if (gapMs > 0) await new Promise((r) => setTimeout(r, gapMs));\
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

fn start_host(rendezvous: u16, dir: &std::path::Path, extra: &[&str]) -> Host {
    let mut cmd = Command::new(doomlink());
    cmd.args(["host", "--internet", "--rendezvous"])
        .arg(format!("127.0.0.1:{rendezvous}"))
        .args(["--name", "benchhost"])
        .args(extra)
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
    let (_serve, port) = serve(
        rv.path(),
        &[
            "--web-dir",
            bundle.path().to_str().unwrap(),
            "--iwad",
            FREEDOOM1,
        ],
    );
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
                host = Some(start_host(port, host_dir.path(), &[]));
            }
            let h = host.as_mut().unwrap();
            let name = format!("{}{round}", if in_browser { "web" } else { "desk" });
            let t0 = Instant::now();
            let _joiner = if in_browser {
                join_from_page(&browser, &join_page_url(port, &h.link), &name);
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
        "  browser (invite page, IWAD kept, join, doom.wasm):    p50 {:.0} ms, max {:.0} ms",
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
    let h = start_host(port, host_dir.path(), &[]);
    browser.open(&page);
    browser.wait_for("window.ready", Duration::from_secs(30));
    let r = browser.execute_async(JOIN, json!([h.link, "pinger", 10]));
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
    let n = rtc.len().max(100);
    let ms =
        |v: Vec<Duration>| -> Vec<f64> { v.iter().map(|d| d.as_secs_f64() * 1000.0).collect() };
    let udp = ms(udp_ping_pong(&sock, to, &[0u8; 24], 100, n));
    // The same at the session's pace, one every 10 ms: threads that sleep between pings wake
    // for each, as the browser's and the host's do.
    let mut paced = Vec::with_capacity(n);
    for _ in 0..n {
        paced.extend(udp_ping_pong(&sock, to, &[0u8; 24], 0, 1));
        std::thread::sleep(Duration::from_millis(10));
    }
    let udp_paced = sorted(ms(paced));
    // Chromium's own stack alone: two peer connections in the page, the same channel setup
    // as the session's datagram channel, one 24-byte message in flight, as many round trips,
    // back to back and then every 10 ms.
    let chromium = |gap: u32| -> Vec<f64> {
        let v = browser.execute_async(CHROMIUM_PING, json!([n, gap]));
        let v: Vec<f64> = v
            .as_array()
            .map(|a| a.iter().filter_map(|v| v.as_f64()).collect())
            .unwrap_or_default();
        assert!(!v.is_empty(), "no chromium ↔ chromium round trips");
        sorted(v)
    };
    let local = chromium(0);
    let local_paced = chromium(10);
    let (rtc, udp) = (sorted(rtc), sorted(udp));
    println!(
        "round trip, {} samples each (browser: a ping every 10 ms for 20 s):",
        rtc.len()
    );
    for (what, v) in [
        ("browser ↔ desktop over WebRTC", &rtc),
        ("raw UDP anchor, back to back", &udp),
        ("raw UDP, one every 10 ms", &udp_paced),
        (
            "chromium ↔ chromium (two peer connections in one page)",
            &local,
        ),
        ("chromium ↔ chromium, one every 10 ms", &local_paced),
    ] {
        println!(
            "  {what:<56} p50 {:.3} ms, p99 {:.3} ms",
            p(v, 50),
            p(v, 99)
        );
    }
    println!(
        "  added at p99 over raw UDP at the same pace: {:.3} ms (goal ≤ 2 ms)",
        p(&rtc, 99) - p(&udp_paced, 99)
    );

    // Cold cache: a fresh browser profile through the counting relay, to the first frame of a
    // two-player game (it starts when the browser is in).
    drop(h);
    let relay = CountingRelay::start(port);
    let cold = Browser::start();
    let _h = start_host(port, host_dir.path(), &["--players", "2"]);
    let t0 = Instant::now();
    join_from_page(&cold, &join_page_url(relay.port, &_h.link), "cold");
    cold.wait_for(
        "window.doom && window.doom.frames.count > 0",
        Duration::from_secs(60),
    );
    let first_frame = t0.elapsed();
    let sent = relay.sent.load(Ordering::Relaxed) as f64;
    let iwad = std::fs::metadata(FREEDOOM1).unwrap().len() as f64;
    // The files the page loads, as they are on disk (the bench's own extras aside).
    let mut files = iwad + doomlink_assets::DOOM_WASM.len() as f64;
    for e in std::fs::read_dir(bundle.path()).unwrap().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if name != "freedoom1.wad" && name != "index.html" {
            files += e.metadata().unwrap().len() as f64;
        }
    }
    let mb = |b: f64| b / 1048576.0;
    println!("cold cache (a fresh browser profile), open → first frame:");
    println!(
        "  {:.2} s; {:.1} MB sent by the service over HTTP; the files themselves {:.1} MB \
         ({:.1} MB of it the IWAD): {:.2}x",
        first_frame.as_secs_f64(),
        mb(sent),
        mb(files),
        mb(iwad),
        sent / files
    );
}

/// Opens the player's page at `url` (a join link in its fragment), waits until it offers to
/// join with the room's IWAD (kept in the browser, or fetched from the service), types `name`
/// and clicks Join.
fn join_from_page(browser: &Browser, url: &str, name: &str) {
    browser.open(url);
    browser.wait_for(
        "document.body.classList.contains('offered')",
        Duration::from_secs(30),
    );
    browser.execute(
        "document.getElementById('name').value = arguments[0];\
         document.getElementById('go').click();",
        json!([name]),
    );
}

/// A TCP relay on 127.0.0.1 to the service that counts the bytes the service sends back.
struct CountingRelay {
    port: u16,
    sent: Arc<AtomicU64>,
}

impl CountingRelay {
    fn start(to: u16) -> CountingRelay {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let sent = Arc::new(AtomicU64::new(0));
        let counted = sent.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().map_while(Result::ok) {
                let Ok(service) = TcpStream::connect(("127.0.0.1", to)) else {
                    continue;
                };
                let (mut c_in, mut s_out) =
                    (client.try_clone().unwrap(), service.try_clone().unwrap());
                std::thread::spawn(move || {
                    let _ = std::io::copy(&mut c_in, &mut s_out);
                    let _ = s_out.shutdown(Shutdown::Write);
                });
                let counted = counted.clone();
                let (mut s_in, mut c_out) = (service, client);
                std::thread::spawn(move || {
                    let mut buf = vec![0u8; 64 * 1024];
                    while let Ok(n @ 1..) = s_in.read(&mut buf) {
                        counted.fetch_add(n as u64, Ordering::Relaxed);
                        if c_out.write_all(&buf[..n]).is_err() {
                            break;
                        }
                    }
                    let _ = c_out.shutdown(Shutdown::Both);
                });
            }
        });
        CountingRelay { port, sent }
    }
}
