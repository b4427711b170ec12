//! WADs travel with a game, through the real binary on 127.0.0.1: a host plays a
//! PWAD the test makes (Freedoom's E1M1 without its monsters, padded past several requests),
//! a joiner without it downloads it from the host before it is welcomed, keeps it in its data
//! dir's cache by hash, and both play the game with equal demos; the same joiner's next join
//! downloads nothing. A file over the joiner's cap is refused with one line before a byte
//! moves; a host that goes away mid-download leaves one line and, beside the cache, the part
//! received, which the next join (to another host of the same file) resumes.
//! Over WebRTC (an invite link at a rendezvous) and over the LAN (the host's file service on
//! its game's port number; the LAN cut in a namespace whose loopback is slowed to cut it).

use doomlink_e2e::pwad::write_changed_e1m1;
use doomlink_e2e::*;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn rtc_peer(dir: &Path, seed: u64, tics: u32, record: &str) -> Vec<String> {
    peer_args(Bind::Rtc("127.0.0.1"), dir, seed, tics, record)
}

/// A host of a 2-player deathmatch on E1M1 with `pwad`, at the rendezvous on `port`.
fn host(port: u16, dir: &Path, pwad: &Path, tics: u32) -> (KillOnDrop, String) {
    let mut cmd = Command::new(doomlink());
    cmd.args([
        "host",
        "--internet",
        "--rendezvous",
        &format!("127.0.0.1:{port}"),
    ])
    .args(["--players", "2", "--deathmatch", "--warp", "1", "1"])
    .arg("--file")
    .arg(pwad)
    .args(rtc_peer(dir, 51, tics, "host"))
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(log_file(&dir.join("err")));
    spawn_until_link(&mut cmd, &dir.join("err"))
}

/// Every file under the joiner's WAD cache, relative to it.
fn cache_listing(data_dir: &Path) -> Vec<String> {
    let mut v = Vec::new();
    let root = data_dir.join("wads");
    for e in std::fs::read_dir(&root).into_iter().flatten().flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match std::fs::read_dir(e.path()) {
            Ok(inner) => v.extend(
                inner
                    .flatten()
                    .map(|f| format!("{name}/{}", f.file_name().to_string_lossy())),
            ),
            Err(_) => v.push(name),
        }
    }
    v.sort();
    v
}

fn sha256_hex(p: &Path) -> String {
    doomlink_net::iwads::hex(&doomlink_net::iwads::sha256_file(p).unwrap())
}

/// Waits for the joiner (stderr in `join_dir/TAG.err`) and the host (in `host_dir/err`) to
/// play their game started at `started` to its end, and checks their demos are equal.
fn finish_game(
    host: &mut KillOnDrop,
    host_dir: &Path,
    join: &mut KillOnDrop,
    join_dir: &Path,
    started: Instant,
    tics: u32,
    tag: &str,
) {
    let limit = game_limit(tics);
    let join_err = join_dir.join(format!("{tag}.err"));
    wait_success(&mut join.0, limit, "the joiner", &join_err);
    let rest = limit.saturating_sub(started.elapsed());
    wait_success(&mut host.0, rest, "the host", &host_dir.join("err"));
    assert_demos_equal(
        &[
            host_dir.join("host.lmp"),
            join_dir.join(format!("{tag}.lmp")),
        ],
        2,
        tics,
    );
}

/// One game: a fresh rendezvous and host with `pwad`; the joiner with data dir `join_dir`
/// plays `tics` with it. Returns the joiner's stdout (what the room plays, said before
/// joining) and stderr.
fn play_one_game(pwad: &Path, join_dir: &Path, tics: u32, tag: &str) -> String {
    let rv = Scratch::new(&format!("wads-rv-{tag}"));
    let (_serve, port) = serve(rv.path(), &[]);
    let h = Scratch::new(&format!("wads-host-{tag}"));
    let (mut host, link) = host(port, h.path(), pwad, tics);
    let started = Instant::now();
    let mut join = KillOnDrop(
        Command::new(doomlink())
            .args(["join", &link])
            .args(rtc_peer(join_dir, 52, tics, tag))
            .stdin(Stdio::null())
            .stdout(log_file(&join_dir.join(format!("{tag}.out"))))
            .stderr(log_file(&join_dir.join(format!("{tag}.err"))))
            .spawn()
            .unwrap(),
    );
    finish_game(&mut host, h.path(), &mut join, join_dir, started, tics, tag);
    format!(
        "{}{}",
        read_log(&join_dir.join(format!("{tag}.out"))),
        read_log(&join_dir.join(format!("{tag}.err")))
    )
}

#[test]
fn a_joiner_downloads_the_hosts_pwad_once_and_plays_it() {
    let files = Scratch::new("wads-files");
    let pwad = files.path().join("nomonsters-e1m1.wad");
    let removed = write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 1 << 20);
    assert!(removed > 0, "E1M1 had monsters to remove");
    let j = Scratch::new("wads-join");

    let err = play_one_game(&pwad, j.path(), test_tics(), "first");
    // Before joining, the room says what it plays and what will be downloaded.
    let size = std::fs::metadata(&pwad).unwrap().len();
    for said in [
        "it plays freedoom1.wad, Freedoom: Phase 1".to_string(),
        format!(
            "with nomonsters-e1m1.wad ({}): to download from the host",
            doomlink_play::roomgame::size_text(size)
        ),
        "game: deathmatch, E1M1".to_string(),
        "the room is ".to_string(),
    ] {
        assert!(err.contains(&said), "{said:?} in {err}");
    }
    assert!(
        err.contains("downloaded nomonsters-e1m1.wad from the host"),
        "{err}"
    );
    let want = format!("{}/nomonsters-e1m1.wad", sha256_hex(&pwad));
    assert_eq!(cache_listing(j.path()), vec![want.clone()]);
    let cached: PathBuf = j.path().join("wads").join(&want);
    assert_eq!(
        std::fs::read(&cached).unwrap(),
        std::fs::read(&pwad).unwrap()
    );

    // The next game with the same PWAD: found in the cache by hash, nothing downloaded.
    let err = play_one_game(&pwad, j.path(), 300, "second");
    assert!(!err.contains("downloaded"), "{err}");
    assert!(
        err.contains("with nomonsters-e1m1.wad (") && err.contains("): here ("),
        "{err}"
    );
    assert_eq!(cache_listing(j.path()), vec![want]);
}

#[test]
fn a_file_over_the_joiners_cap_is_refused_before_a_byte_moves() {
    let files = Scratch::new("wads-cap-files");
    let pwad = files.path().join("big.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 3 << 20);
    let rv = Scratch::new("wads-cap-rv");
    let (_serve, port) = serve(rv.path(), &[]);
    let h = Scratch::new("wads-cap-host");
    let (mut host, link) = host(port, h.path(), &pwad, 100);
    let j = Scratch::new("wads-cap-join");
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["join", &link, "--max-download", "2"])
            .args(rtc_peer(j.path(), 53, 100, "join")),
        Duration::from_secs(60),
    );
    assert_refused_over_cap(&out, &pwad, j.path(), &mut host);
    assert!(!j.path().join("join.lmp").exists());
}

/// `doomlink join LINK` for 100 tics with data dir `dir`, recording `record`, its stderr in
/// `dir/err_file`.
fn join_quietly(link: &str, dir: &Path, record: &str, err_file: &str) -> KillOnDrop {
    KillOnDrop(
        Command::new(doomlink())
            .args(["join", link])
            .args(rtc_peer(dir, 54, 100, record))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join(err_file)))
            .spawn()
            .unwrap(),
    )
}

/// The size of the part of an unfinished download in the joiner's cache, if there is one.
fn kept_part(data_dir: &Path) -> Option<u64> {
    let part = cache_listing(data_dir)
        .into_iter()
        .find(|f| f.starts_with(".partial-"))?;
    Some(
        std::fs::metadata(data_dir.join("wads").join(part))
            .ok()?
            .len(),
    )
}

#[test]
fn a_download_cut_by_the_host_going_is_resumed_by_the_next_join() {
    let files = Scratch::new("wads-gone-files");
    let pwad = files.path().join("huge.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 200 << 20);
    let rv = Scratch::new("wads-gone-rv");
    let (_serve, port) = serve(rv.path(), &[]);
    let h = Scratch::new("wads-gone-host");
    let (mut host1, link) = host(port, h.path(), &pwad, 100);
    let j = Scratch::new("wads-gone-join");
    let mut join = join_quietly(&link, j.path(), "join", "err");
    let (kept, failed) = cut_once_a_part_is_kept(&mut host1, &mut join, j.path(), &pwad);
    assert!(failed.contains("huge.wad"), "{failed}");

    // The next join, to another host of the same file, asks only for the rest.
    let h2 = Scratch::new("wads-gone-host2");
    let (mut host2, link) = host(port, h2.path(), &pwad, 100);
    let started = Instant::now();
    let mut join = join_quietly(&link, j.path(), "again", "again.err");
    assert_resumed_and_played(
        &mut host2,
        h2.path(),
        &mut join,
        j.path(),
        started,
        kept,
        &pwad,
    );
}

/// Waits until the joiner (stderr in `join_dir/err`) has kept a few MB of its download of
/// `pwad` (huge.wad), then kills `host`: the joiner ends with one failing line after its
/// progress lines (each of 209.8 MB) saying the part is kept, and the part is the only file in
/// its cache. Returns the part's size and the failing line.
fn cut_once_a_part_is_kept(
    host: &mut KillOnDrop,
    join: &mut KillOnDrop,
    join_dir: &Path,
    pwad: &Path,
) -> (u64, String) {
    let err = || read_log(&join_dir.join("err"));
    let started = Instant::now();
    while kept_part(join_dir).unwrap_or(0) < 4 << 20 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no download under way: {}",
            err()
        );
        assert!(join.0.try_wait().unwrap().is_none(), "{}", err());
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = host.0.kill();
    let st = wait_or_kill(&mut join.0, Duration::from_secs(60)).expect("the joiner ends");
    let err = err();
    assert!(!st.success(), "{err}");
    // Progress lines every 2 s while the download ran, then the failure in one line.
    let lines: Vec<&str> = err.trim().lines().collect();
    let (progress, rest): (Vec<&str>, Vec<&str>) = lines
        .iter()
        .partition(|l| l.starts_with("doomlink: downloading huge.wad: "));
    assert_eq!(rest.len(), 1, "{err}");
    assert!(rest[0].contains("the next join resumes it"), "{err}");
    assert!(
        progress.iter().all(|l| l.ends_with(" of 209.8 MB")),
        "{err}"
    );
    // Nothing in the cache proper: only the part, beside it.
    let listing = cache_listing(join_dir);
    assert_eq!(listing.len(), 1, "{listing:?}");
    let kept = kept_part(join_dir).expect("the part is kept");
    let size = std::fs::metadata(pwad).unwrap().len();
    assert!(kept >= 4 << 20 && kept < size, "{kept} of {size}");
    (kept, rest[0].to_string())
}

/// The game of the joiner's next join (to `host`, started at `started`) is played to its end
/// with equal demos, its stderr (`again.err`) says the download resumed at the `kept` size, and
/// the cache holds `pwad` under its hash and nothing else.
fn assert_resumed_and_played(
    host: &mut KillOnDrop,
    host_dir: &Path,
    join: &mut KillOnDrop,
    join_dir: &Path,
    started: Instant,
    kept: u64,
    pwad: &Path,
) {
    finish_game(host, host_dir, join, join_dir, started, 100, "again");
    let err = read_log(&join_dir.join("again.err"));
    let said = format!(
        "doomlink: downloaded huge.wad (resumed at {:.1} MB) from the host",
        kept as f64 / 1e6
    );
    assert!(err.contains(&said), "want {said:?} in: {err}");
    assert_eq!(
        cache_listing(join_dir),
        vec![format!("{}/huge.wad", sha256_hex(pwad))]
    );
}

/// A LAN host of a 2-player deathmatch on E1M1 with `pwad`, on a free port; returned once its
/// file service answers (a joiner asks for the host's files as it starts).
fn lan_host(dir: &Path, pwad: &Path, tics: u32, seed: u64) -> (KillOnDrop, u16) {
    let port = free_server_port();
    let mut host = KillOnDrop(
        Command::new(doomlink())
            .args(["host", "--lan", "--port", &port.to_string()])
            .args(["--players", "2", "--deathmatch", "--warp", "1", "1"])
            .arg("--file")
            .arg(pwad)
            .args(peer_args(Bind::Lan("127.0.0.1"), dir, seed, tics, "host"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&dir.join("err")))
            .spawn()
            .unwrap(),
    );
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        let err = || read_log(&dir.join("err"));
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the host serves no files: {}",
            err()
        );
        assert!(host.0.try_wait().unwrap().is_none(), "{}", err());
        std::thread::sleep(Duration::from_millis(20));
    }
    (host, port)
}

/// A join refused for a file over its `--max-download 2`: one line naming `pwad` and the cap,
/// nothing in the cache, the host unhurt.
fn assert_refused_over_cap(
    out: &std::process::Output,
    pwad: &Path,
    join_dir: &Path,
    host: &mut KillOnDrop,
) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    let size = std::fs::metadata(pwad).unwrap().len();
    let name = pwad.file_name().unwrap().to_string_lossy();
    assert!(
        err.contains(&format!("{name} ({size} bytes), over the 2097152 bytes")),
        "{err}"
    );
    assert!(cache_listing(join_dir).is_empty());
    assert!(host.0.try_wait().unwrap().is_none(), "the host is not hurt");
}

/// One LAN game on a fresh port: a host with `pwad`, the joiner with data dir `join_dir` plays
/// `tics` with it. Returns the joiner's stderr.
fn play_one_lan_game(pwad: &Path, join_dir: &Path, tics: u32, tag: &str) -> String {
    let h = Scratch::new(&format!("wads-lan-host-{tag}"));
    let (mut host, port) = lan_host(h.path(), pwad, tics, 61);
    let started = Instant::now();
    let err_log = join_dir.join(format!("{tag}.err"));
    let mut join = KillOnDrop(
        Command::new(doomlink())
            .args(["join", &format!("127.0.0.1:{port}")])
            .args(peer_args(Bind::Lan("127.0.0.1"), join_dir, 62, tics, tag))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log_file(&err_log))
            .spawn()
            .unwrap(),
    );
    finish_game(&mut host, h.path(), &mut join, join_dir, started, tics, tag);
    read_log(&err_log)
}

#[test]
fn a_lan_joiner_downloads_the_hosts_pwad_once_and_plays_it() {
    let files = Scratch::new("wads-lan-files");
    let pwad = files.path().join("nomonsters-e1m1.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 1 << 20);
    let j = Scratch::new("wads-lan-join");

    let err = play_one_lan_game(&pwad, j.path(), test_tics(), "first");
    assert!(
        err.contains("downloaded nomonsters-e1m1.wad from the host"),
        "{err}"
    );
    let want = format!("{}/nomonsters-e1m1.wad", sha256_hex(&pwad));
    assert_eq!(cache_listing(j.path()), vec![want.clone()]);

    let err = play_one_lan_game(&pwad, j.path(), 300, "second");
    assert!(!err.contains("downloaded"), "{err}");
    assert_eq!(cache_listing(j.path()), vec![want]);
}

#[test]
fn a_lan_file_over_the_joiners_cap_is_refused_before_a_byte_moves() {
    let files = Scratch::new("wads-lan-cap-files");
    let pwad = files.path().join("big.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 3 << 20);
    let h = Scratch::new("wads-lan-cap-host");
    let (mut host, port) = lan_host(h.path(), &pwad, 100, 63);
    let j = Scratch::new("wads-lan-cap-join");
    let out = run_with_deadline(
        Command::new(doomlink())
            .args(["join", &format!("127.0.0.1:{port}"), "--max-download", "2"])
            .args(peer_args(Bind::Lan("127.0.0.1"), j.path(), 64, 100, "join")),
        Duration::from_secs(60),
    );
    assert_refused_over_cap(&out, &pwad, j.path(), &mut host);
}

/// The LAN side of a download cut by the host going: the same 200 MB PWAD through a LAN host's
/// file service, in a network namespace of the test's own whose loopback is held to 400 Mbit/s
/// (the service moves it in well under a second on a bare loopback, too fast to cut at a known
/// point). The host goes once a few MB have arrived: one line, the part kept beside the cache;
/// another LAN host of the same file: the joiner asks only for the rest, and they play.
#[test]
fn a_lan_download_cut_by_the_host_going_is_resumed_by_the_next_join() {
    doomlink();
    let files = Scratch::new("wads-lan-gone-files");
    let pwad = files.path().join("huge.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 200 << 20);
    netns::loopback_only_network_for_this_thread();
    netns::must(
        "tc",
        &[
            "qdisc", "add", "dev", "lo", "root", "tbf", "rate", "400mbit", "burst", "256kb",
            "latency", "100ms",
        ],
    );
    let h = Scratch::new("wads-lan-gone-host");
    let (mut host1, port) = lan_host(h.path(), &pwad, 100, 65);
    let j = Scratch::new("wads-lan-gone-join");
    let lan_join = |record: &str, err_file: &str, port: u16| {
        KillOnDrop(
            Command::new(doomlink())
                .args(["join", &format!("127.0.0.1:{port}")])
                .args(peer_args(Bind::Lan("127.0.0.1"), j.path(), 66, 100, record))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(log_file(&j.path().join(err_file)))
                .spawn()
                .unwrap(),
        )
    };
    let mut join = lan_join("join", "err", port);
    let (kept, _) = cut_once_a_part_is_kept(&mut host1, &mut join, j.path(), &pwad);

    let h2 = Scratch::new("wads-lan-gone-host2");
    let (mut host2, port) = lan_host(h2.path(), &pwad, 100, 67);
    let started = Instant::now();
    let mut join = lan_join("again", "again.err", port);
    assert_resumed_and_played(
        &mut host2,
        h2.path(),
        &mut join,
        j.path(),
        started,
        kept,
        &pwad,
    );
}

/// A joiner with no IWAD anywhere (and no `--iwad`) joins a room that plays a free one: the
/// question before joining says it will be downloaded, the host sends it with the PWAD, and
/// both play with equal demos.
#[test]
fn a_joiner_without_any_iwad_gets_the_rooms_free_iwad_from_the_host() {
    let files = Scratch::new("wads-iwad-files");
    let pwad = files.path().join("nomonsters-e1m1.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, 0);
    let rv = Scratch::new("wads-iwad-rv");
    let (_serve, port) = serve(rv.path(), &[]);
    let h = Scratch::new("wads-iwad-host");
    let tics = 300;
    let (mut host, link) = host(port, h.path(), &pwad, tics);
    let j = Scratch::new("wads-iwad-join");
    let nowhere = j.path().join("no-wads");
    std::fs::create_dir_all(&nowhere).unwrap();
    let mut args = rtc_peer(j.path(), 55, tics, "join");
    let at = args.iter().position(|a| a == "--iwad").unwrap();
    args.drain(at..at + 2);
    let started = Instant::now();
    let mut join = KillOnDrop(
        Command::new(doomlink())
            .args(["join", &link])
            .args(&args)
            .env("HOME", &nowhere)
            .env("XDG_DATA_DIRS", &nowhere)
            .env_remove("XDG_DATA_HOME")
            .env_remove("DOOMWADDIR")
            .env_remove("DOOMWADPATH")
            .stdin(Stdio::null())
            .stdout(log_file(&j.path().join("out")))
            .stderr(log_file(&j.path().join("err")))
            .spawn()
            .unwrap(),
    );
    let limit = game_limit(tics) + Duration::from_secs(30);
    wait_success(&mut join.0, limit, "the joiner", &j.path().join("err"));
    let rest = limit.saturating_sub(started.elapsed());
    wait_success(&mut host.0, rest, "the host", &h.path().join("err"));
    assert_demos_equal(
        &[h.path().join("host.lmp"), j.path().join("join.lmp")],
        2,
        tics,
    );
    let out = read_log(&j.path().join("out"));
    assert!(
        out.contains(
            "it plays freedoom1.wad, Freedoom: Phase 1 (0.12.1): to download from the host"
        ),
        "{out}"
    );
    let err = read_log(&j.path().join("err"));
    assert!(
        err.contains("downloaded freedoom1.wad from the host"),
        "{err}"
    );
    let want = format!("{}/freedoom1.wad", sha256_hex(Path::new(FREEDOOM1)));
    assert!(
        cache_listing(j.path()).contains(&want),
        "{:?}",
        cache_listing(j.path())
    );
}
