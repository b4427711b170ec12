//! A browser joins a desktop host: `doomlink serve --web-dir` serves the page, `doomlink host
//! --internet` prints an invite link, and Debian's chromium (headless) joins it from the page
//! with net's own session, link and signaling code (doomlink-web) over its RTCPeerConnection.
//! The two play a deathmatch and record it; the browser's demo, read back from its in-memory
//! /data, equals the host's. A link whose fingerprint is not the host's is refused in the page
//! with the desktop's one-line error.
//!
//! Network safety: each test runs in a network namespace of its own (its thread's; Chromium
//! gathers no candidate on loopback): the service on 127.0.0.1, the host's WebRTC and the
//! browser's on the namespace's one address, nothing reachable beyond it.

use doomlink_e2e::browser::{doom_exit, web_bundle, Browser};
use doomlink_e2e::netns::{private_network_for_this_thread, PRIVATE_HOST_IP};
use doomlink_e2e::*;
use serde_json::{json, Value};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Joins `link` from the page as "browser" with freedoom1 (fetched from the service) and, once
/// welcomed, starts Chocolate Doom connected to the host, recording `join.lmp`, ending after
/// `tics` gametics. "started", or the page's error.
const JOIN_AND_PLAY: &str = "const [link, tics] = arguments;\
    const done = arguments[arguments.length - 1];\
    (async () => {\
      const iwad = await window.fetchBytes('freedoom1.wad');\
      const iwadHash = new Uint8Array(await crypto.subtle.digest('SHA-256', iwad));\
      const game = await window.joinGame({ link, name: 'browser', iwadHash });\
      window.doomExit = null;\
      const player = window.startDoom({\
        args: ['doom', '-iwad', '/iwad/freedoom1.wad', '-connect', `${game.hub}:2342`,\
               '-record', 'join'],\
        env: [`DOOMLINK_TICS=${tics}`], files: { '/iwad/freedoom1.wad': iwad },\
        collect: ['join.lmp'], network: (d) => game.send(d) });\
      game.attach(player);\
      window.game = game;\
      player.exited.then((r) => { window.doomExit = r; },\
                         (e) => { window.doomExit = { error: String(e) }; });\
      return 'started';\
    })().then(done, (e) => done(`error: ${e.message}`));";

/// The service with the page bundle (and freedoom1 beside it) at /play/, in this thread's
/// private network.
struct Service {
    _serve: KillOnDrop,
    port: u16,
    dir: Scratch,
    _bundle: Scratch,
}

fn service() -> Service {
    private_network_for_this_thread();
    let bundle = web_bundle();
    std::fs::copy(FREEDOOM1, bundle.path().join("freedoom1.wad")).unwrap();
    let dir = Scratch::new("browser-rv");
    let (serve, port) = serve(dir.path(), &["--web-dir", bundle.path().to_str().unwrap()]);
    Service {
        _serve: serve,
        port,
        dir,
        _bundle: bundle,
    }
}

/// `doomlink host --internet` at the service, WebRTC on the private network's address: the
/// host and its link.
fn host(svc: &Service, extra: &[String]) -> (KillOnDrop, String) {
    let mut cmd = Command::new(doomlink());
    cmd.args(["host", "--internet", "--rendezvous"])
        .arg(format!("127.0.0.1:{}", svc.port))
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&svc.dir.path().join("host-err")));
    spawn_until_link(&mut cmd, &svc.dir.path().join("host-err"))
}

fn page(svc: &Service) -> Browser {
    let browser = Browser::start();
    browser.open(&format!("http://127.0.0.1:{}/play/index.html", svc.port));
    browser.wait_for("window.ready", Duration::from_secs(30));
    browser
}

#[test]
fn a_browser_joins_a_desktop_host_and_both_record_the_same_game() {
    let tics = test_tics().min(2000);
    let svc = service();
    let h = Scratch::new("browser-host");
    let mut extra: Vec<String> = ["--players", "2", "--deathmatch", "--warp", "1", "1"]
        .map(String::from)
        .to_vec();
    extra.extend(peer_args(
        Bind::Rtc(PRIVATE_HOST_IP),
        h.path(),
        21,
        tics,
        "host",
    ));
    let (mut host, link) = host(&svc, &extra);
    let browser = page(&svc);
    let started = Instant::now();
    let joined = browser.execute_async(JOIN_AND_PLAY, json!([link, tics]));
    assert_eq!(joined, json!("started"), "the browser did not join");
    println!("link to game started: {:?}", started.elapsed());
    let exit = doom_exit(&browser);
    assert_eq!(exit["status"], json!(0), "the browser's game: {exit}");
    wait_success(
        &mut host.0,
        Duration::from_secs(60),
        "the host",
        &svc.dir.path().join("host-err"),
    );
    println!("{tics} tics, link to both ends: {:?}", started.elapsed());
    let demo: Vec<u8> = exit["files"]["join.lmp"]
        .as_array()
        .expect("the page read join.lmp back")
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    let joined_demo = h.path().join("browser.lmp");
    std::fs::write(&joined_demo, demo).unwrap();
    assert_demos_equal(&[h.path().join("host.lmp"), joined_demo], 2, tics);
    let rtt = browser.execute("return window.game.rttMs();", json!([]));
    println!("session RTT seen by the browser: {rtt} ms");
}

#[test]
fn a_link_with_another_fingerprint_is_refused_in_the_browser() {
    let svc = service();
    let h = Scratch::new("browser-host-fp");
    let extra = headless_args(Bind::Rtc(PRIVATE_HOST_IP), h.path(), 3, 700);
    let (_host, link) = host(&svc, &extra);
    // Another 43-character fingerprint in the same link.
    let (head, rest) = link.split_once("fp=").unwrap();
    let tampered = format!("{head}fp={}{}", "A".repeat(43), &rest[43..]);
    let browser = page(&svc);
    let refused: Value = browser.execute_async(
        "const [link] = arguments; const done = arguments[arguments.length - 1];\
         window.joinGame({ link, name: 'eve', iwadHash: new Uint8Array(32) })\
           .then(() => done('joined'), (e) => done(e.message));",
        json!([tampered]),
    );
    let text = refused.as_str().unwrap_or_default();
    assert!(
        text.starts_with("the host's certificate fingerprint does not match the link"),
        "{refused}"
    );
    assert!(!text.contains('\n'), "one line: {text}");
    // A link that is not one, and an expired one: the link's own errors.
    let (head, rest) = link.split_once("exp=").expect("the link has an expiry");
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    let expired = format!("{head}exp=1{}", &rest[digits..]);
    for (bad, says) in [
        (
            "https://example.invalid/nothing",
            "invite link must start with",
        ),
        (&*expired, "invite link expired"),
    ] {
        let said = browser.execute_async(
            "const [link] = arguments; const done = arguments[arguments.length - 1];\
             window.readInvite(link).then(() => done('parsed'), (e) => done(e.message));",
            json!([bad]),
        );
        assert!(
            said.as_str().unwrap_or_default().starts_with(says),
            "{bad}: {said}"
        );
    }
}
