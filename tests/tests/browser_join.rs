//! A browser joins a desktop host: `doomlink serve --web-dir` serves the page, `doomlink host
//! --internet` prints an invite link, and Debian's chromium (headless) joins it from the page
//! with net's own session, link and signaling code (doomlink-web) over its RTCPeerConnection.
//! The two play a deathmatch and record it; the browser's demo, read back from its in-memory
//! /data, equals the host's; so do three players' in a dedicated room, two of them browsers. A
//! person's way in is the invite page's "Play in the browser": the page asks the room which IWAD
//! it plays, fetches it from the service when that is a free one the service has (once: then it
//! is kept in the browser), else checks the player's own file before joining. A host's PWAD the
//! page lacks is fetched from the host and loaded (the demos of a game on a changed map agree),
//! and kept: the next game with it fetches nothing.
//! A link whose fingerprint is not the host's is refused in the page with the desktop's one-line
//! error, and so is another IWAD.
//!
//! Network safety: each test runs in a network namespace of its own (its thread's; Chromium
//! gathers no candidate on loopback): the service on 127.0.0.1, the host's WebRTC and the
//! browser's on the namespace's one address, nothing reachable beyond it.

use doomlink_e2e::browser::{doom_exit, web_bundle, Browser};
use doomlink_e2e::netns::{private_network_for_this_thread, PRIVATE_HOST_IP};
use doomlink_e2e::*;
use serde_json::{json, Value};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Joins `link` from the page as "browser" with freedoom1 (fetched from the service) and, once
/// welcomed (with the host's PWADs, fetched from it, when it plays some), starts Chocolate Doom
/// connected to the host with `extra` arguments, recording
/// `join.lmp`, ending after `tics` gametics. "started", or the page's error.
const JOIN_AND_PLAY: &str = "const [link, tics, extra] = arguments;\
    const done = arguments[arguments.length - 1];\
    (async () => {\
      const iwad = await window.fetchBytes('freedoom1.wad');\
      const iwadHash = new Uint8Array(await crypto.subtle.digest('SHA-256', iwad));\
      const game = await window.joinGame({ link, name: 'browser', iwadHash });\
      window.doomExit = null;\
      const player = window.startDoom({\
        args: ['doom', '-iwad', '/iwad/freedoom1.wad', ...game.files.args,\
               '-connect', `${game.hub}:2342`, '-record', 'join', ...extra],\
        env: [`DOOMLINK_TICS=${tics}`],\
        files: { '/iwad/freedoom1.wad': iwad, ...game.files.files },\
        collect: ['join.lmp'], network: (d) => game.send(d) });\
      game.attach(player);\
      window.game = game;\
      player.exited.then((r) => { window.doomExit = r; },\
                         (e) => { window.doomExit = { error: String(e) }; });\
      return 'started';\
    })().then(done, (e) => done(`error: ${e.message}`));";

/// The games of this file, one at a time: each runs two to four Chocolate Doom guests in real
/// time (browsers among them), which is what two cores hold.
fn one_game_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static GAMES: std::sync::Mutex<()> = std::sync::Mutex::new(());
    GAMES.lock().unwrap_or_else(|e| e.into_inner())
}

/// The service with the page bundle (and freedoom1 beside it) at /play/, in this thread's
/// private network.
struct Service {
    _serve: KillOnDrop,
    port: u16,
    dir: Scratch,
    _bundle: Scratch,
}

fn service() -> Service {
    service_with(&[])
}

/// [`service`] with more `doomlink serve` arguments (`--iwad`: the IWADs it offers; without
/// one it offers the first it finds, freedoom2.wad, while the hosts here play freedoom1.wad).
fn service_with(extra: &[&str]) -> Service {
    private_network_for_this_thread();
    let bundle = web_bundle();
    std::fs::copy(FREEDOOM1, bundle.path().join("freedoom1.wad")).unwrap();
    let dir = Scratch::new("browser-rv");
    let mut args = vec!["--web-dir", bundle.path().to_str().unwrap()];
    args.extend(extra);
    let (serve, port) = serve(dir.path(), &args);
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

/// The player page in a fresh browser, once the service listens (it may be starting still).
/// `doomlink serve` with the player page (and freedoom1.wad beside it, for pages that fetch it)
/// and one standing room of freedoom1 with the `[[room]]` keys `keys`, in a private network.
struct RoomService {
    _serve: KillOnDrop,
    port: u16,
    link: String,
    dir: Scratch,
    _bundle: Scratch,
}

fn room_service(name: &str, keys: &str) -> RoomService {
    private_network_for_this_thread();
    let bundle = web_bundle();
    std::fs::copy(FREEDOOM1, bundle.path().join("freedoom1.wad")).unwrap();
    let dir = Scratch::new(name);
    let cfg = dir.path().join("serve.toml");
    std::fs::write(&cfg, format!("[[room]]\niwad = \"{FREEDOOM1}\"\n{keys}")).unwrap();
    let log = dir.path().join("serve.log");
    let (mut cmd, port) = serve_command(&doomlink(), dir.path());
    cmd.args(["--rtc-bind", PRIVATE_HOST_IP, "--config"])
        .arg(&cfg)
        .arg("--web-dir")
        .arg(bundle.path())
        .env("DOOMLINK_ADMIN_TOKEN", "test-token-0123456789")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&log));
    let mut serve = KillOnDrop(cmd.spawn().unwrap());
    let link = serve_rooms(&mut serve.0, 1, &log).remove(0).1;
    RoomService {
        _serve: serve,
        port,
        link,
        dir,
        _bundle: bundle,
    }
}

fn page(svc: &Service) -> Browser {
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", svc.port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the service does not listen"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let browser = Browser::start();
    browser.open(&format!("http://127.0.0.1:{}/play/index.html", svc.port));
    browser.wait_for("window.ready", Duration::from_secs(30));
    browser
}

/// Waits for the page's game to end well and writes the demo it recorded to `to`.
fn browser_demo(browser: &Browser, to: PathBuf) -> PathBuf {
    let exit = doom_exit(browser);
    assert_eq!(exit["status"], json!(0), "the browser's game: {exit}");
    let demo: Vec<u8> = exit["files"]["join.lmp"]
        .as_array()
        .expect("the page read join.lmp back")
        .iter()
        .map(|b| b.as_u64().unwrap() as u8)
        .collect();
    std::fs::write(&to, demo).unwrap();
    to
}

#[test]
fn a_browser_joins_a_desktop_host_and_both_record_the_same_game() {
    let _one = one_game_at_a_time();
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
    let joined = browser.execute_async(JOIN_AND_PLAY, json!([link, tics, []]));
    assert_eq!(joined, json!("started"), "the browser did not join");
    println!("link to game started: {:?}", started.elapsed());
    let demo = browser_demo(&browser, h.path().join("browser.lmp"));
    wait_success(
        &mut host.0,
        Duration::from_secs(60),
        "the host",
        &svc.dir.path().join("host-err"),
    );
    println!("{tics} tics, link to both ends: {:?}", started.elapsed());
    assert_demos_equal(&[h.path().join("host.lmp"), demo], 2, tics);
    let rtt = browser.execute("return window.game.rttMs();", json!([]));
    println!("session RTT seen by the browser: {rtt} ms");
}

/// A game of `tics` between a desktop host playing `pwad` (its files in `dir`, seed `seed`) and
/// the page's player, joined from `browser`: checks the page loaded the PWAD and whether it
/// `fetched` it (else it was kept from before), and that both demos agree.
fn play_pwad_game(
    svc: &Service,
    browser: &Browser,
    pwad: &std::path::Path,
    dir: &std::path::Path,
    seed: u64,
    tics: u32,
    fetched: bool,
) {
    let mut extra: Vec<String> = ["--players", "2", "--deathmatch", "--warp", "1", "1"]
        .map(String::from)
        .to_vec();
    extra.extend(["--file".to_string(), pwad.to_str().unwrap().to_string()]);
    extra.extend(peer_args(
        Bind::Rtc(PRIVATE_HOST_IP),
        dir,
        seed,
        tics,
        "host",
    ));
    let (mut host, link) = host(svc, &extra);
    let joined = browser.execute_async(JOIN_AND_PLAY, json!([link, tics, []]));
    assert_eq!(joined, json!("started"), "the browser did not join");
    let files = browser.execute("return window.game.files;", json!([]));
    assert_eq!(
        files["args"],
        json!(["-file", "/pwad/0/nomonsters-e1m1.wad"])
    );
    let want: &[&str] = if fetched {
        &["nomonsters-e1m1.wad"]
    } else {
        &[]
    };
    assert_eq!(files["fetched"], json!(want), "fetched or kept");
    let demo = browser_demo(browser, dir.join("browser.lmp"));
    wait_success(
        &mut host.0,
        Duration::from_secs(60),
        "the host",
        &svc.dir.path().join("host-err"),
    );
    assert_demos_equal(&[dir.join("host.lmp"), demo], 2, tics);
}

#[test]
fn a_browser_fetches_the_hosts_pwad_once_and_both_record_the_same_game() {
    let _one = one_game_at_a_time();
    let tics = test_tics().min(2000);
    let svc = service();
    let files = Scratch::new("browser-pwad-files");
    // Freedoom's E1M1 without its monsters: a page that played without it would desync.
    let pwad = files.path().join("nomonsters-e1m1.wad");
    let removed = pwad::write_changed_e1m1(std::path::Path::new(FREEDOOM1), &pwad, 3 << 20);
    assert!(removed > 0);
    let browser = page(&svc);
    let h = Scratch::new("browser-pwad-host");
    play_pwad_game(&svc, &browser, &pwad, h.path(), 23, tics, true);
    // The next game with the same PWAD, from the same browser: kept, so nothing is fetched.
    let h2 = Scratch::new("browser-pwad-host2");
    play_pwad_game(&svc, &browser, &pwad, h2.path(), 24, tics.min(300), false);
}

#[test]
fn a_link_with_another_fingerprint_or_another_iwad_is_refused_in_the_browser() {
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
    // The genuine link with another IWAD: the host refuses it, and the page says which to get.
    let refused: Value = browser.execute_async(
        "const [link] = arguments; const done = arguments[arguments.length - 1];\
         window.joinGame({ link, name: 'bob', iwadHash: new Uint8Array(32) })\
           .then(() => done('joined'), (e) => done(e.message));",
        json!([link]),
    );
    assert_eq!(
        refused,
        json!(
            "the host closed the link: the host plays another IWAD: choose the same IWAD file \
             as the host"
        )
    );
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

/// A person's way in: the invite link's web page offers "Play in the browser", which opens the
/// player with the link; they type a name, choose their IWAD file, and are in the host's game.
#[test]
fn a_player_follows_the_invite_page_into_the_hosts_game() {
    let _one = one_game_at_a_time();
    let svc = service();
    let h = Scratch::new("browser-host-page");
    let mut extra: Vec<String> = ["--players", "2", "--warp", "1", "1", "--name", "Hosty"]
        .map(String::from)
        .to_vec();
    extra.extend(headless_args(Bind::Rtc(PRIVATE_HOST_IP), h.path(), 5, 2100));
    let (_host, link) = host(&svc, &extra);
    let browser = play_from_invite_page(&link);
    browser.wait_for(
        "location.pathname === '/play/' && document.getElementById('room')?.textContent",
        Duration::from_secs(30),
    );
    let room = browser.execute(
        "return document.getElementById('room').textContent;",
        json!([]),
    );
    assert!(
        room.as_str().unwrap_or_default().starts_with("room "),
        "the page names the room: {room}"
    );
    // The room's IWAD, asked before joining: this service does not offer it, so the page asks
    // for the player's own copy, and checks the file it is given before joining.
    browser.wait_for(
        "document.getElementById('iwad-label').textContent.includes('freedoom1.wad')",
        Duration::from_secs(30),
    );
    let game = text_of(&browser, "game");
    assert_eq!(game, "This game plays Freedoom: Phase 1 (0.12.1).");
    browser.execute("document.getElementById('name').value = '';", json!([]));
    browser.type_into("#name", "Alice");
    browser.type_into("#iwad", FREEDOOM2);
    browser.wait_for(
        "document.getElementById('error').textContent",
        Duration::from_secs(30),
    );
    assert!(
        text_of(&browser, "error").starts_with(
            "freedoom2.wad is not the host's IWAD: the host plays freedoom1.wad (SHA-256 "
        ),
        "{}",
        text_of(&browser, "error")
    );
    assert_eq!(
        browser.execute("return !!window.doom;", json!([])),
        json!(false),
        "nothing started"
    );
    browser.type_into("#iwad", FREEDOOM1);
    browser.wait_for(
        "window.doom && window.doom.frames.count > 70",
        Duration::from_secs(60),
    );
    let colours = browser.canvas_colours("screen");
    assert!(colours > 32, "the canvas shows no game ({colours} colours)");
    // The picture sits where the desktop's letterbox puts it: 4:3, a whole multiple of the
    // frame, inside the window.
    let placed = browser.execute(
        "const r = document.getElementById('screen').getBoundingClientRect();\
         const d = devicePixelRatio;\
         return [r.width * d, r.height * d, innerWidth * d, innerHeight * d].map(Math.round);",
        json!([]),
    );
    let [w, h, win_w, win_h] = [0, 1, 2, 3].map(|i| placed[i].as_u64().unwrap_or(0));
    assert!(
        w >= 320 && w % 320 == 0 && w * 3 == h * 4 && w <= win_w && h <= win_h,
        "the picture is {w}×{h} in a {win_w}×{win_h} window"
    );
    assert_eq!(
        browser.execute(
            "return document.body.classList.contains('lobby');",
            json!([])
        ),
        json!(false),
        "the lobby is gone once the game runs"
    );
    // The bar over the game names who else plays, and the ping once measured.
    browser.wait_for(
        "document.getElementById('bar').textContent.includes('ping')",
        Duration::from_secs(10),
    );
    let bar = browser.execute(
        "return document.getElementById('bar').textContent;",
        json!([]),
    );
    let bar = bar.as_str().unwrap_or_default();
    assert!(bar.starts_with("Alice with Hosty"), "{bar}");
    if let Ok(dir) = std::env::var("DOOMLINK_SCREENSHOT_DIR") {
        let shot = browser.screenshot();
        std::fs::write(std::path::Path::new(&dir).join("browser-join.png"), shot).unwrap();
    }
}

/// A browser on the invite page of `link` (its http form), having clicked "Play in the
/// browser".
fn play_from_invite_page(link: &str) -> Browser {
    play_from_invite_page_in(link, Browser::start())
}

fn play_from_invite_page_in(link: &str, browser: Browser) -> Browser {
    let web = doomlink_net::signaling::invite::InviteLink::parse(link)
        .unwrap()
        .to_web_url(false);
    browser.open(&web);
    browser.wait_for("document.getElementById('play')", Duration::from_secs(30));
    browser.click("#play");
    browser
}

/// A headless desktop player joining `link` for `tics` tics, logging to `dir`/err; its stdin
/// takes `chat TEXT` lines.
fn desktop_joins(link: &str, dir: &Scratch, seed: u64, tics: u32) -> KillOnDrop {
    KillOnDrop(
        Command::new(doomlink())
            .args(["join", link])
            .args(headless_args(
                Bind::Rtc(PRIVATE_HOST_IP),
                dir.path(),
                seed,
                tics,
            ))
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.path().join("err")))
            .spawn()
            .unwrap(),
    )
}

/// Clicks what the page's lobby panel draws as `text`, where egui drew it.
fn click_in_lobby(browser: &Browser, text: &str) {
    let at = browser.execute(
        "const at = window.netScreens.at(arguments[0]); return at ? Array.from(at) : null;",
        json!([text]),
    );
    let (Some(x), Some(y)) = (at[0].as_f64(), at[1].as_f64()) else {
        panic!("the lobby panel does not show {text:?}");
    };
    browser.click_at(x, y);
}

/// Waits (up to 30 s) until the log at `path` has a line with `text`.
fn wait_logged(path: &std::path::Path, text: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !std::fs::read_to_string(path)
        .unwrap_or_default()
        .contains(text)
    {
        assert!(
            Instant::now() < deadline,
            "no {text:?} in {}:\n{}",
            path.display(),
            std::fs::read_to_string(path).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn text_of(browser: &Browser, id: &str) -> String {
    let t = browser.execute(
        "return document.getElementById(arguments[0]).textContent;",
        json!([id]),
    );
    t.as_str().unwrap_or_default().to_string()
}

/// Requests this page made for IWADs from the service (the browser's own record of them).
fn iwad_requests(browser: &Browser) -> u64 {
    let n = browser.execute(
        "return performance.getEntriesByType('resource')\
           .filter((e) => e.name.includes('/play/iwad/')).length;",
        json!([]),
    );
    n.as_u64().unwrap()
}

/// The service offers the free IWAD the host plays: the page says so, fetches it on Join with
/// a progress bar, checks and keeps it, and joins into the lobby panel; the next visit finds it
/// kept and fetches nothing, and its Leave, clicked in the panel, ends the game.
#[test]
fn the_page_fetches_the_hosts_free_iwad_once_and_keeps_it() {
    let _one = one_game_at_a_time();
    let svc = service_with(&["--iwad", FREEDOOM1]);
    let h = Scratch::new("browser-host-fetch");
    // Three players: the game waits in its lobby, where both visits join.
    let mut extra: Vec<String> = ["--players", "3", "--name", "Hosty"]
        .map(String::from)
        .to_vec();
    extra.extend(headless_args(Bind::Rtc(PRIVATE_HOST_IP), h.path(), 7, 2100));
    let (_host, link) = host(&svc, &extra);
    let browser = play_from_invite_page(&link);
    browser.wait_for(
        "document.body.classList.contains('offered')",
        Duration::from_secs(30),
    );
    let size = std::fs::metadata(FREEDOOM1).unwrap().len();
    assert_eq!(
        text_of(&browser, "game"),
        format!(
            "This game plays Freedoom: Phase 1 (0.12.1). Joining fetches it ({:.1} MB) and \
             keeps it in this browser.",
            size as f64 / 1048576.0
        )
    );
    browser.execute("document.getElementById('name').value = '';", json!([]));
    browser.type_into("#name", "Fetcher");
    browser.click("#go");
    let joined = "document.getElementById('bar').textContent.startsWith('Fetcher with Hosty')";
    browser.wait_for(joined, Duration::from_secs(60));
    assert_eq!(
        text_of(&browser, "fetched"),
        "freedoom1.wad: kept in this browser"
    );
    // The game waits for a third player: the page shows the desktop's lobby panel (egui, on a
    // canvas of its own) as the guest describes it, with the path and ping to the host.
    browser.wait_for(
        "document.body.classList.contains('lobby') && window.netScreens.painted() > 0 && \
         window.netScreens.text().includes('direct') && / ms$/m.test(window.netScreens.text())",
        Duration::from_secs(30),
    );
    let shown = browser.execute("return window.netScreens.text();", json!([]));
    let shown = shown.as_str().unwrap_or_default();
    for line in [
        "Waiting for players",
        "2 of 4 players in · waiting",
        "Hosty",
        "Fetcher (you)",
        "direct",
        "The host starts the game.",
        "Leave",
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "the lobby does not show {line:?}:\n{shown}"
        );
    }
    if let Ok(dir) = std::env::var("DOOMLINK_SCREENSHOT_DIR") {
        let shot = browser.screenshot();
        std::fs::write(std::path::Path::new(&dir).join("browser-lobby.png"), shot).unwrap();
    }
    let progress = browser.execute(
        "const p = document.getElementById('progress'); return [p.value, p.max];",
        json!([]),
    );
    assert_eq!(progress, json!([size, size]), "the bar went to the end");
    assert!(iwad_requests(&browser) >= 1);

    // The next visit: kept, checked, joined, nothing fetched.
    let here = browser.execute("return location.href;", json!([]));
    browser.open("about:blank");
    browser.open(here.as_str().unwrap());
    browser.wait_for(
        "document.getElementById('game').textContent.includes('kept in this browser')",
        Duration::from_secs(30),
    );
    browser.click("#go");
    browser.wait_for(joined, Duration::from_secs(60));
    assert_eq!(
        iwad_requests(&browser),
        0,
        "the kept IWAD was fetched again"
    );
    // Leave, clicked in the lobby panel as a person clicks it: the guest leaves the lobby and
    // the game ends on the page.
    browser.wait_for(
        "document.body.classList.contains('lobby') && window.netScreens.at('Leave')",
        Duration::from_secs(30),
    );
    click_in_lobby(&browser, "Leave");
    browser.wait_for(
        "document.getElementById('error').textContent.startsWith('The game ended')",
        Duration::from_secs(30),
    );
}

/// A dedicated room of `doomlink serve` takes browsers as it takes the app: two browsers and a
/// desktop player play one deathmatch, and the three demos are equal.
#[test]
fn two_browsers_and_a_desktop_player_share_a_dedicated_room() {
    let _one = one_game_at_a_time();
    let tics = test_tics().min(2000);
    let room = room_service(
        "browser-room",
        "name = \"three\"\nplayers = 3\nmode = \"deathmatch\"\nwarp = [1, 3]\nskill = 4\n",
    );
    let (dir, port, link) = (&room.dir, room.port, room.link.clone());
    let desk = Scratch::new("browser-room-desk");
    let mut desktop = KillOnDrop(
        Command::new(doomlink())
            .args(["join", &link])
            .args(headless_args(
                Bind::Rtc(PRIVATE_HOST_IP),
                desk.path(),
                41,
                tics,
            ))
            .args(["--", "-nodes", "3", "-record", "desk"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&desk.path().join("err")))
            .spawn()
            .unwrap(),
    );
    let browsers: Vec<Browser> = (0..2)
        .map(|_| {
            let b = Browser::start();
            b.open(&format!("http://127.0.0.1:{port}/play/index.html"));
            b.wait_for("window.ready", Duration::from_secs(30));
            b
        })
        .collect();
    for b in &browsers {
        let joined = b.execute_async(JOIN_AND_PLAY, json!([link, tics, ["-nodes", "3"]]));
        assert_eq!(joined, json!("started"), "a browser did not join");
    }
    let mut demos: Vec<PathBuf> = browsers
        .iter()
        .enumerate()
        .map(|(k, b)| browser_demo(b, dir.path().join(format!("browser{k}.lmp"))))
        .collect();
    wait_success(
        &mut desktop.0,
        Duration::from_secs(60),
        "the desktop player",
        &desk.path().join("err"),
    );
    demos.push(desk.path().join("desk.lmp"));
    assert_demos_equal(&demos, 3, tics);
}

/// A browser that is first into a dedicated room controls its lobby, as the app's first player
/// does: the page's lobby panel carries chat both ways and offers Start, and Start, clicked there
/// as a person clicks it, starts the game for the desktop player in the room too; in the game the
/// desktop's network overlay shows chat and, on the backquote key, the peers.
#[test]
fn a_browser_first_into_a_dedicated_room_starts_the_game_from_its_lobby() {
    let _one = one_game_at_a_time();
    // Four places and two players: nothing starts by itself.
    let room = room_service("browser-room-start", "name = \"four\"\nplayers = 4\n");
    let link = room.link.clone();
    let browser = play_from_invite_page(&link);
    browser.wait_for(
        "document.body.classList.contains('offered')",
        Duration::from_secs(30),
    );
    browser.click("#go");
    browser.wait_for(
        "document.body.classList.contains('lobby') && \
         window.netScreens.text().includes('Start the game')",
        Duration::from_secs(60),
    );
    let desk = Scratch::new("browser-room-start-desk");
    let mut desktop = desktop_joins(&link, &desk, 43, 300);
    browser.wait_for(
        "window.netScreens.text().includes('2 of 4 players in')",
        Duration::from_secs(60),
    );
    // Chat both ways in the lobby: typed into the panel's field, and from the desktop player.
    click_in_lobby(&browser, "Say something, Enter sends");
    browser.type_keys("hello from the page\u{E007}");
    wait_logged(
        &desk.path().join("err"),
        "doomlink: chat Browser player: hello from the page",
    );
    writeln!(
        desktop.0.stdin.as_mut().unwrap(),
        "chat hello from the desktop"
    )
    .unwrap();
    browser.wait_for(
        "window.netScreens.text().includes('hello from the desktop')",
        Duration::from_secs(30),
    );
    click_in_lobby(&browser, "Start the game");
    browser.wait_for(
        "!document.body.classList.contains('lobby') && window.doom.frames.count > 70",
        Duration::from_secs(60),
    );
    // In the game: a chat line shows over the picture for a while, and the backquote key (the
    // game has the keys again) lists the peers, as on the desktop.
    writeln!(desktop.0.stdin.as_mut().unwrap(), "chat during the game").unwrap();
    browser.wait_for(
        "/: during the game$/m.test(window.netScreens.text())",
        Duration::from_secs(30),
    );
    browser.type_keys("`");
    browser.wait_for(
        "/^RTT$/m.test(window.netScreens.text())",
        Duration::from_secs(10),
    );
    assert!(
        browser
            .execute("return document.activeElement.id;", json!([]))
            .as_str()
            == Some("screen"),
        "the game has the keyboard once the lobby is gone"
    );
    if let Ok(dir) = std::env::var("DOOMLINK_SCREENSHOT_DIR") {
        let shot = browser.screenshot();
        std::fs::write(std::path::Path::new(&dir).join("browser-overlay.png"), shot).unwrap();
    }
    // The desktop player's game ran its 300 tics: it started too.
    wait_success(
        &mut desktop.0,
        Duration::from_secs(60),
        "the desktop player",
        &desk.path().join("err"),
    );
}

/// A browser without WebGL cannot draw the desktop's screens: the page says so in one line and
/// plays the game without them.
#[test]
fn a_browser_without_webgl_plays_without_the_lobby_panel() {
    let _one = one_game_at_a_time();
    let room = room_service("browser-room-nogl", "name = \"two\"\nplayers = 2\n");
    let browser = play_from_invite_page_in(&room.link, Browser::start_with(&["--disable-webgl"]));
    browser.wait_for(
        "document.body.classList.contains('offered')",
        Duration::from_secs(30),
    );
    browser.click("#go");
    browser.wait_for(
        "document.getElementById('error').textContent.endsWith('playing without the lobby panel.')",
        Duration::from_secs(60),
    );
    let desk = Scratch::new("browser-room-nogl-desk");
    let mut desktop = desktop_joins(&room.link, &desk, 47, 200);
    browser.wait_for(
        "window.doom && window.doom.frames.count > 70",
        Duration::from_secs(60),
    );
    wait_success(
        &mut desktop.0,
        Duration::from_secs(60),
        "the desktop player",
        &desk.path().join("err"),
    );
}
