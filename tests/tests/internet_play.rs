//! Internet play through the real binary on 127.0.0.1: `doomlink serve` (signaling, STUN, TURN),
//! `doomlink host --internet --rendezvous` prints an invite link, `doomlink join LINK` joins over
//! WebRTC, and 2, 3 or 4 peers play `test_tics()` gametics with equal demos. Manual codes (`host
//! --internet --manual` ↔ `join CODE`) play with no rendezvous at all. A link whose fingerprint
//! was altered is refused, and a bad link or code is one line that names what is wrong. A game
//! through a rendezvous that speaks TLS (`wss://`, a CA made in the test) plays the same.

use doomlink_e2e::*;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The arguments of a headless peer over WebRTC on 127.0.0.1 recording `record`.
fn peer_args(dir: &Path, seed: u64, tics: u32, record: &str) -> Vec<String> {
    doomlink_e2e::peer_args(Bind::Rtc("127.0.0.1"), dir, seed, tics, record)
}

/// `doomlink host --internet --rendezvous 127.0.0.1:PORT` with `extra` arguments; returns the
/// host and the link it printed. Its stderr goes to `dir/err`.
fn host_with_link(port: u16, dir: &Path, extra: &[String]) -> (KillOnDrop, String) {
    host_at_with_link(&format!("127.0.0.1:{port}"), dir, extra)
}

/// [`host_with_link`] at the rendezvous `rendezvous` as `--rendezvous` takes it.
fn host_at_with_link(rendezvous: &str, dir: &Path, extra: &[String]) -> (KillOnDrop, String) {
    let mut host_cmd = Command::new(doomlink());
    host_cmd
        .args(["host", "--internet", "--rendezvous", rendezvous])
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(log_file(&dir.join("err")));
    spawn_until_link(&mut host_cmd, &dir.join("err"))
}

fn host_game_args(players: usize) -> Vec<String> {
    [
        "--players",
        &players.to_string(),
        "--deathmatch",
        "--warp",
        "1",
        "1",
    ]
    .map(String::from)
    .to_vec()
}

/// serve + host --players N + N-1 joiners of its link, all at once: `tics` gametics, equal demos.
fn play_over_rendezvous(players: usize) {
    let tics = test_tics();
    let rv_dir = Scratch::new("rv");
    let (_serve, port) = serve(rv_dir.path(), &[]);
    let h = Scratch::new("inet-host");
    let mut extra = host_game_args(players);
    extra.extend(peer_args(h.path(), 11, tics, "host"));
    let (mut host, link) = host_with_link(port, h.path(), &extra);
    let dirs: Vec<Scratch> = (1..players)
        .map(|i| Scratch::new(&format!("inet-join{i}")))
        .collect();
    let started = Instant::now();
    let mut joins: Vec<KillOnDrop> = dirs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let child = Command::new(doomlink())
                .args(["join", &link])
                .args(peer_args(d.path(), 12 + i as u64, tics, "join"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file(&d.path().join("err")))
                .spawn()
                .unwrap();
            KillOnDrop(child)
        })
        .collect();
    for (j, d) in joins.iter_mut().zip(&dirs) {
        let limit = game_limit(tics).saturating_sub(started.elapsed());
        wait_success(&mut j.0, limit, "a joiner", &d.path().join("err"));
    }
    println!(
        "{players} peers, joins to end of game: {:?}",
        started.elapsed()
    );
    wait_success(
        &mut host.0,
        Duration::from_secs(30),
        "the host",
        &h.path().join("err"),
    );
    let mut demos = vec![h.path().join("host.lmp")];
    demos.extend(dirs.iter().map(|d| d.path().join("join.lmp")));
    assert_demos_equal(&demos, players, tics);
}

#[test]
fn serve_host_and_join_a_link_play_a_game() {
    play_over_rendezvous(2);
}

/// `serve --tls-cert --tls-key`, `host --rendezvous wss://… --rendezvous-ca`, and `join LINK
/// --rendezvous-ca`: the link says TLS and the two play a game with equal demos.
#[test]
fn a_host_and_a_joiner_play_through_a_tls_rendezvous() {
    let tics = test_tics().min(700);
    let rv_dir = Scratch::new("rvtls");
    let ca = doomlink_net::testing::TestCa::new(rv_dir.path(), "a");
    let (cert, key) = (
        rv_dir.path().join("cert.pem"),
        rv_dir.path().join("key.pem"),
    );
    ca.issue(&cert, &key);
    let (_serve, port) = serve(
        rv_dir.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    let ca_args = [
        "--rendezvous-ca".to_string(),
        ca.ca_file.display().to_string(),
    ];
    let h = Scratch::new("inet-tls-host");
    // Before the peer's arguments: those end with the game's own, after `--`.
    let mut extra = host_game_args(2);
    extra.extend(ca_args.clone());
    extra.extend(peer_args(h.path(), 11, tics, "host"));
    let (mut host, link) = host_at_with_link(&format!("wss://127.0.0.1:{port}"), h.path(), &extra);
    assert!(link.contains("tls=1"), "{link}");
    let j = Scratch::new("inet-tls-join");
    let started = Instant::now();
    let mut join = KillOnDrop(
        Command::new(doomlink())
            .args(["join", &link])
            .args(&ca_args)
            .args(peer_args(j.path(), 12, tics, "join"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&j.path().join("err")))
            .spawn()
            .unwrap(),
    );
    wait_success(
        &mut join.0,
        game_limit(tics),
        "the joiner",
        &j.path().join("err"),
    );
    wait_success(
        &mut host.0,
        Duration::from_secs(30).max(game_limit(tics).saturating_sub(started.elapsed())),
        "the host",
        &h.path().join("err"),
    );
    let demos = [h.path().join("host.lmp"), j.path().join("join.lmp")];
    assert_demos_equal(&demos, 2, tics);
}

#[test]
fn three_peers_play_over_webrtc() {
    play_over_rendezvous(3);
}

#[test]
fn four_peers_play_over_webrtc() {
    play_over_rendezvous(4);
}

/// Reads the first line a child prints on stdout, then keeps draining the rest.
fn first_line(child: &mut Child, what: &str, err: &Path) -> String {
    let line = first_stdout_line(child).trim_end_matches('\n').to_string();
    assert!(
        !line.is_empty(),
        "{what} printed no code\n{}",
        read_log(err)
    );
    line
}

/// A code alone on its line: one base64url token, short enough for a chat message.
fn assert_code_line(line: &str, what: &str) {
    assert!(
        line.len() < 200
            && line
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{what}: not a code alone on its line: {line:?}"
    );
}

#[test]
fn manual_codes_play_a_game_with_no_rendezvous() {
    let tics = test_tics();
    let (h, j) = (Scratch::new("manual-host"), Scratch::new("manual-join"));
    let mut host = KillOnDrop(
        Command::new(doomlink())
            .args(["host", "--internet", "--manual"])
            .args(host_game_args(2))
            .args(peer_args(h.path(), 21, tics, "host"))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(log_file(&h.path().join("err")))
            .spawn()
            .unwrap(),
    );
    let offer = first_line(&mut host.0, "the host", &h.path().join("err"));
    assert_code_line(&offer, "offer");
    let started = Instant::now();
    let mut join = KillOnDrop(
        Command::new(doomlink())
            .args(["join", &offer])
            .args(peer_args(j.path(), 22, tics, "join"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log_file(&j.path().join("err")))
            .spawn()
            .unwrap(),
    );
    let answer = first_line(&mut join.0, "the joiner", &j.path().join("err"));
    assert_code_line(&answer, "answer");
    assert_ne!(offer, answer);
    // The answer goes back the way a person would paste it: one line on the host's stdin, and
    // not at once: the joiner's ICE is already checking and must not give up (webrtc's own
    // checking limit is 8 s) while the host is still pasting.
    std::thread::sleep(Duration::from_secs(10));
    {
        let mut stdin = host.0.stdin.take().unwrap();
        writeln!(stdin, "{answer}").unwrap();
    }
    wait_success(
        &mut join.0,
        game_limit(tics),
        "the joiner",
        &j.path().join("err"),
    );
    println!(
        "manual codes, answer to end of game: {:?}",
        started.elapsed()
    );
    wait_success(
        &mut host.0,
        Duration::from_secs(30),
        "the host",
        &h.path().join("err"),
    );
    assert_demos_equal(
        &[h.path().join("host.lmp"), j.path().join("join.lmp")],
        2,
        tics,
    );
}

/// The same base64url text with one character changed (still base64url, same length).
fn altered(text: &str, at: usize) -> String {
    let mut b = text.as_bytes().to_vec();
    b[at] = if b[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(b).unwrap()
}

/// A rendezvous and a two-player host of 100 tics recording `host`, with a scratch directory
/// for one joiner: what the tests of a single joiner start from.
struct TwoPlayerRoom {
    _serve: KillOnDrop,
    _rv: Scratch,
    host: KillOnDrop,
    host_dir: Scratch,
    join_dir: Scratch,
    link: String,
}

impl TwoPlayerRoom {
    fn start(tag: &str, seed: u64) -> TwoPlayerRoom {
        let rv = Scratch::new(&format!("rv-{tag}"));
        let (serve, port) = serve(rv.path(), &[]);
        let host_dir = Scratch::new(&format!("{tag}-host"));
        let mut extra = host_game_args(2);
        extra.extend(peer_args(host_dir.path(), seed, 100, "host"));
        let (host, link) = host_with_link(port, host_dir.path(), &extra);
        TwoPlayerRoom {
            _serve: serve,
            _rv: rv,
            host,
            host_dir,
            join_dir: Scratch::new(&format!("{tag}-join")),
            link,
        }
    }
}

#[test]
fn a_link_with_a_tampered_fingerprint_is_refused() {
    let room = TwoPlayerRoom::start("fp", 31);
    let (h, j, link, mut host) = (&room.host_dir, &room.join_dir, room.link.clone(), room.host);
    // fp=<43 base64url characters>: change the first one. Everything else (room, secret) is
    // right, so only the fingerprint check can refuse.
    let at = link.find("fp=").expect("the link has fp=") + 3;
    let tampered = altered(&link, at);
    let started = Instant::now();
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["join", &tampered])
            .args(peer_args(j.path(), 32, 100, "join")),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the joiner accepted it: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("fingerprint"), "{err}");
    println!("refused in {:?}: {}", started.elapsed(), err.trim());
    assert!(
        !j.path().join("join.lmp").exists(),
        "the joiner's game must not have started"
    );
    // The host is not hurt by a refused joiner: still waiting for its players.
    assert!(
        host.0.try_wait().unwrap().is_none(),
        "the host ended: {}",
        read_log(&h.path().join("err"))
    );
}

/// A valid offer code, made the way a host makes one (a real peer connection on 127.0.0.1).
fn some_code(kind: doomlink_net::online::manual::CodeKind) -> String {
    use doomlink_net::online::manual::{CandidateType, CodeCandidate, ManualCode};
    ManualCode {
        kind,
        ufrag: "abcdEFGH".into(),
        pwd: "0123456789abcdefghijklmnop".into(),
        fingerprint: doomlink_net::identity::Fingerprint([7; 32]),
        candidates: vec![CodeCandidate {
            kind: CandidateType::Host,
            addr: "127.0.0.1:40000".parse().unwrap(),
        }],
    }
    .encode()
}

fn one_line_error(args: &[&str], stdin: Option<&str>) -> String {
    let mut cmd = Command::new(doomlink());
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    {
        let mut i = child.stdin.take().unwrap();
        if let Some(text) = stdin {
            let _ = writeln!(i, "{text}");
        }
    }
    let mut child = KillOnDrop(child);
    let st = wait_with_deadline(
        &mut child.0,
        Duration::from_secs(60),
        "doomlink",
        String::new,
    );
    let mut err = String::new();
    std::io::Read::read_to_string(child.0.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(!st.success(), "{args:?} succeeded: {err}");
    // The host's hint (paste the answer here) is a line of its own before the error.
    let last = err.trim().lines().last().unwrap_or("").to_string();
    let errors = err
        .lines()
        .filter(|l| !l.contains("paste their answer"))
        .count();
    assert_eq!(errors, 1, "{args:?}: more than one line: {err}");
    assert!(!err.contains("panicked"), "{err}");
    last
}

#[test]
fn bad_codes_are_one_line_naming_what_is_wrong() {
    use doomlink_net::online::manual::CodeKind;
    let offer = some_code(CodeKind::Offer);
    let answer = some_code(CodeKind::Answer);
    let g = ["--headless", "--iwad", FREEDOOM1, "--rtc-bind", "127.0.0.1"];
    let join = |code: &str| {
        let mut a = vec!["join", code];
        a.extend(g);
        one_line_error(&a, None)
    };
    let e = join(&altered(&offer, 20));
    assert!(e.contains("offer code") && e.contains("damaged"), "{e}");
    let e = join(&answer);
    assert!(e.contains("answer code where an offer code"), "{e}");
    let e = join(&offer[..offer.len() - 8]);
    assert!(e.contains("offer code"), "{e}");

    // The host: an offer code out, then garbage or an offer back in.
    let d = Scratch::new("manual-bad");
    let dd = d.path().display().to_string();
    let mut host = vec!["host", "--internet", "--manual", "--data-dir", &dd];
    host.extend(g);
    let e = one_line_error(&host, Some("this is not a code"));
    assert!(e.contains("answer code") && e.contains("base64url"), "{e}");
    let e = one_line_error(&host, Some(&offer));
    assert!(e.contains("offer code where an answer code"), "{e}");
    let e = one_line_error(&host, None);
    assert!(e.contains("no answer code"), "{e}");

    // --internet needs a rendezvous or --manual; a manual game has one joiner.
    let e = one_line_error(&["host", "--internet", "--headless"], None);
    assert!(e.contains("--rendezvous") && e.contains("--manual"), "{e}");
    let e = one_line_error(
        &[
            "host",
            "--internet",
            "--manual",
            "--players",
            "3",
            "--headless",
        ],
        None,
    );
    assert!(e.contains("one joiner"), "{e}");
}

#[test]
fn a_bad_link_is_one_line_naming_the_bad_part() {
    let out = run_with_deadline(
        Command::new(doomlink()).args([
            "join",
            "doomlink://join/127.0.0.1:9/room?fp=nonsense#secret",
            "--headless",
            "--iwad",
            FREEDOOM1,
        ]),
        Duration::from_secs(60),
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("fingerprint") || err.contains("fp"), "{err}");
}

/// A joiner's arguments without `--iwad`: the IWAD is the one the room plays.
fn peer_args_without_iwad(dir: &Path, seed: u64, tics: u32, record: &str) -> Vec<String> {
    let mut args = peer_args(dir, seed, tics, record);
    let at = args.iter().position(|a| a == "--iwad").unwrap();
    args.drain(at..at + 2);
    args
}

/// The room says what it plays (freedoom1.wad here): a joiner given another IWAD is refused
/// at once with one line naming the host's, a joiner with no IWAD anywhere that takes no
/// downloads (`--max-download 0`; else the host sends its free IWAD) is told which to get,
/// and a joiner that names none plays with the right one although the best one found on this
/// machine (freedoom2.wad) is another: both demos equal.
#[test]
fn a_joiner_takes_the_iwad_the_room_plays_or_says_which_it_needs() {
    let room = TwoPlayerRoom::start("iwad", 41);
    let (h, j, link, mut host) = (&room.host_dir, &room.join_dir, room.link.clone(), room.host);

    let mut args: Vec<String> = vec!["join".into(), link.clone()];
    args.extend(peer_args(j.path(), 42, 100, "join"));
    let at = args.iter().position(|a| a == FREEDOOM1).unwrap();
    args[at] = FREEDOOM2.into();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let err = one_line_error(&args, None);
    assert_eq!(
        err,
        format!(
            "doomlink: {FREEDOOM2}: not the IWAD the host plays (freedoom1.wad, Freedoom: Phase 1 \
             (0.12.1)); another would desync the game: pass that file with --iwad"
        )
    );

    let nowhere = j.path().join("no-wads");
    std::fs::create_dir_all(&nowhere).unwrap();
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["join", &link, "--max-download", "0"])
            .args(peer_args_without_iwad(j.path(), 42, 100, "join"))
            .env("HOME", &nowhere)
            .env("XDG_DATA_DIRS", &nowhere)
            .env_remove("XDG_DATA_HOME")
            .env_remove("DOOMWADDIR")
            .env_remove("DOOMWADPATH"),
        Duration::from_secs(60),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(
        err.contains(
            "the host plays freedoom1.wad, Freedoom: Phase 1 (0.12.1), which this computer does \
             not have (looked in "
        ) && err.contains("install it (apt-get install freedoom) or pass it with --iwad FILE"),
        "{err}"
    );
    assert!(!j.path().join("join.lmp").exists(), "no game started");

    let mut joiner = KillOnDrop(
        Command::new(doomlink())
            .args(["join", &link])
            .args(peer_args_without_iwad(j.path(), 42, 100, "join"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&j.path().join("err")))
            .spawn()
            .unwrap(),
    );
    wait_success(
        &mut joiner.0,
        game_limit(100),
        "the joiner",
        &j.path().join("err"),
    );
    wait_success(
        &mut host.0,
        Duration::from_secs(30),
        "the host",
        &h.path().join("err"),
    );
    assert_demos_equal(
        &[h.path().join("host.lmp"), j.path().join("join.lmp")],
        2,
        100,
    );
}
