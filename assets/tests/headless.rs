// SPDX-License-Identifier: GPL-3.0-or-later
//! doom.wasm run headless in the doomlink kernel: netgames between guests of one kernel (over
//! 127.0.0.1) that end by themselves (DOOMLINK_TICS) with identical demos. That demos play back
//! to native Chocolate Doom's gametic counts is checked once, through the `doomlink` binary
//! (tests/tests/guest_doom.rs).
//!
//! Needs Freedoom (scripts/setup installs it) in /usr/share/games/doom.

mod common;

use common::{assert_same_game, data_dir, start, Setup};
use doomlink_kernel::ExitStatus;
use std::time::Duration;

/// A peer that stops by itself after `tics` tics, recording peer.lmp in `data`.
fn peer<'a>(iwad: &'a str, data: &'a std::path::Path, tics: usize) -> Setup<'a> {
    Setup {
        iwad: Some(iwad),
        data: Some(data),
        env: vec![("DOOMLINK_TICS", tics.to_string())],
        ..Default::default()
    }
}

#[test]
fn two_peer_netgame_ends_by_itself_with_equal_demos() {
    const TICS: usize = 140;
    let (server_data, client_data) = (data_dir("server"), data_dir("client"));
    let server = start(
        peer("freedoom1.wad", &server_data, TICS),
        &[
            "-server", "-port", "2400", "-nodes", "2", "-record", "peer", "-warp", "1", "1",
        ],
    );
    std::thread::sleep(Duration::from_millis(500));
    let client = start(
        peer("freedoom1.wad", &client_data, TICS),
        &["-connect", "127.0.0.1:2400", "-record", "peer"],
    );

    let (status, client_output) = client.finish(Duration::from_secs(60));
    assert_eq!(status, ExitStatus::Exited(0), "client:\n{client_output}");
    let (status, output) = server.finish(Duration::from_secs(60));
    assert_eq!(status, ExitStatus::Exited(0), "server:\n{output}");
    assert!(output.contains("Demo peer.lmp recorded"), "{output}");
    // Private: nothing was sent outside 127.0.0.1 (the kernel's host would have refused it,
    // and net_posix.c reports a refused send).
    for text in [&output, &client_output] {
        assert!(
            !text.contains("sendto") && !text.contains("master"),
            "{text}"
        );
    }

    let a = std::fs::read(server_data.join("peer.lmp")).unwrap();
    let b = std::fs::read(client_data.join("peer.lmp")).unwrap();
    assert_same_game(&a, &b, TICS, 2);
    assert_eq!((a[8], b[8]), (0, 1), "consoleplayer");
}

#[test]
fn dedicated_server_serves_two_clients() {
    const TICS: usize = 105;
    // Game options, -iwad included, belong to the clients: net_dedicated.c refuses them.
    let server = start(Setup::default(), &["-dedicated", "-port", "2410"]);
    std::thread::sleep(Duration::from_millis(300));
    let (data1, data2) = (data_dir("dedicated-1"), data_dir("dedicated-2"));
    let first = start(
        peer("freedoom2.wad", &data1, TICS),
        &[
            "-connect",
            "127.0.0.1:2410",
            "-nodes",
            "2",
            "-record",
            "peer",
            "-warp",
            "1",
        ],
    );
    std::thread::sleep(Duration::from_millis(300));
    let second = start(
        peer("freedoom2.wad", &data2, TICS),
        &["-connect", "127.0.0.1:2410", "-record", "peer"],
    );

    for (name, guest) in [("first", &first), ("second", &second)] {
        let (status, output) = guest.finish(Duration::from_secs(60));
        assert_eq!(status, ExitStatus::Exited(0), "{name} client:\n{output}");
    }
    let a = std::fs::read(data1.join("peer.lmp")).unwrap();
    let b = std::fs::read(data2.join("peer.lmp")).unwrap();
    assert_same_game(&a, &b, TICS, 2);

    // A dedicated server runs until it is stopped.
    assert!(
        server.handle.try_status().is_none(),
        "the dedicated server ended early"
    );
    server.handle.kill();
    server.handle.wait();
}
