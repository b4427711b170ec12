//! The window's Host → "On a server", through the very code the window calls
//! (`AppNetplay::host` with `Transport::Server`), against a real `doomlink serve` with dedicated
//! rooms on 127.0.0.1: the room is made with the Host screen's options, this player joins it
//! first and gets its invite link, and a headless `doomlink join LINK` on that link plays the
//! game with them — equal demos, and the options the Host screen asked for (deathmatch, E1M2,
//! skill 4) are the game's. A wrong admin token is a one-line error and no room.

use doomlink_e2e::*;
use doomlink_play::game::{GameMode, GameSettings};
use doomlink_play::launch::Hosted;
use doomlink_play::netplay::LanNetplay;
use doomlink_play::netplay::{AppNetplay, InternetNetplay};
use doomlink_play::netplay::{HostOptions, NetGameRequest, Netplay, Transport};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const TOKEN: &str = "a-test-token-0123456789";

fn request(dir: &std::path::Path, tics: u32) -> NetGameRequest {
    NetGameRequest {
        game: doomlink_play::guest::DoomConfig {
            iwad: FREEDOOM1.into(),
            pwads: Vec::new(),
            data_dir: dir.to_path_buf(),
            video: false,
            audio_rate: None,
            tics: Some(tics),
            // The first player starts the game once both are in, as Start in the lobby does.
            args: ["-nodes", "2", "-record", "first"]
                .map(String::from)
                .to_vec(),
        },
        player_name: "Alice".into(),
        internet: Default::default(),
        progress: Default::default(),
    }
}

fn options(server: &str, token: &str) -> HostOptions {
    HostOptions {
        game: GameSettings {
            players: Some(2),
            mode: GameMode::Deathmatch,
            skill: Some(4),
            warp: Some((Some(1), 2)),
            ..GameSettings::default()
        },
        transport: Transport::Server,
        server: server.into(),
        admin_token: token.into(),
        ..HostOptions::default()
    }
}

#[test]
fn hosting_on_a_server_makes_a_room_joins_it_first_and_shares_its_link() {
    let tics = test_tics();
    let svc_dir = Scratch::new("onserver-svc");
    let token_file = svc_dir.path().join("admin-token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let (_svc, port) = serve(
        svc_dir.path(),
        &[
            "--admin-token-file",
            token_file.to_str().unwrap(),
            "--iwad",
            FREEDOOM1,
            "--rtc-bind",
            "127.0.0.1",
        ],
    );
    let on = format!("127.0.0.1:{port}");
    let netplay = AppNetplay {
        lan: LanNetplay::default(),
        internet: InternetNetplay {
            rtc_bind: Some(Ipv4Addr::LOCALHOST),
        },
    };
    let first_dir = Scratch::new("onserver-first");

    // The service may not listen yet: a refused connection is retried, anything else is not.
    let deadline = Instant::now() + Duration::from_secs(60);
    let wrong = loop {
        match netplay.host(
            &request(first_dir.path(), tics),
            &options(&on, "wrong-token"),
        ) {
            Err(e) if e.to_string().contains("cannot reach") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(250));
            }
            Err(e) => break e.to_string(),
            Ok(_) => panic!("a wrong admin token made a room"),
        }
    };
    assert!(wrong.contains("token"), "{wrong}");
    assert_eq!(wrong.lines().count(), 1, "{wrong}");

    let launched = netplay
        .host(&request(first_dir.path(), tics), &options(&on, TOKEN))
        .unwrap_or_else(|e| panic!("hosting on {on}: {e}"));
    let link = launched
        .keep_alive
        .as_ref()
        .and_then(|k| k.downcast_ref::<Hosted>())
        .map(|h| h.link.clone())
        .expect("the lobby gets the room's link to show");
    assert!(
        link.starts_with(&format!("doomlink://join/{on}/")),
        "{link}"
    );
    assert!(
        launched.net.is_some(),
        "the lobby shows the link's path and ping"
    );

    let second_dir = Scratch::new("onserver-second");
    let log = second_dir.path().join("stderr.log");
    let mut second = KillOnDrop(
        Command::new(doomlink())
            .arg("join")
            .arg(&link)
            .args(peer_args(
                Bind::Rtc("127.0.0.1"),
                second_dir.path(),
                5,
                tics,
                "second",
            ))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let status = launched
        .guest
        .process
        .wait_timeout(game_limit(tics))
        .unwrap_or_else(|| panic!("the first player's game did not end\n{}", read_log(&log)));
    assert_eq!(status.code(), 0, "first player: {status:?}");
    let st = wait_with_deadline(&mut second.0, Duration::from_secs(60), "the joiner", || {
        read_log(&log)
    });
    assert!(st.success(), "joiner: {st:?}\n{}", read_log(&log));
    let demos = [
        first_dir.path().join("first.lmp"),
        second_dir.path().join("second.lmp"),
    ];
    assert_demos_equal(&demos, 2, tics);
    // The demo header holds the game's settings: skill (0-based), episode, map, deathmatch.
    let d = std::fs::read(&demos[0]).unwrap();
    assert_eq!(
        (d[1], d[2], d[3], d[4]),
        (3, 1, 2, 1),
        "skill/episode/map/mode"
    );
}
