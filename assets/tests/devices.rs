// SPDX-License-Identifier: GPL-3.0-or-later
//! doom.wasm talking to its host through the kernel's /dev devices: frames on /dev/fb0, events
//! from /dev/input, paced audio on /dev/dsp, titles, progress and errors on /dev/control, and
//! the netgame lobby on /dev/lobby (chocolate-doom/README.md and LOBBY.md describe them).
//!
//! Needs Freedoom (scripts/setup installs it) in /usr/share/games/doom.

mod common;

use common::{data_dir, start, Setup};
use doomlink_kernel::devices::{AudioRing, FrameBuffer, InputEvent, InputQueue, LineChannel};
use doomlink_kernel::{Device, ExitStatus};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn device<D: Device + Clone + 'static>(d: &D) -> Arc<dyn Device> {
    Arc::new(d.clone())
}

#[test]
fn frames_titles_and_progress_reach_the_host() {
    let (fb, control) = (FrameBuffer::new(), LineChannel::new());
    let guest = start(
        Setup {
            iwad: Some("freedoom1.wad"),
            env: vec![("DOOMLINK_TICS", "105".into())],
            devices: vec![("fb0", device(&fb)), ("control", device(&control))],
            ..Default::default()
        },
        &["-warp", "1", "1"],
    );
    let (status, output) = guest.finish(Duration::from_secs(60));
    assert_eq!(status, ExitStatus::Exited(0), "{output}");

    // 105 tics at 35 a second, about one frame each (a wipe adds a few).
    assert!(fb.seq() >= 80, "only {} frames", fb.seq());
    let frame = fb.latest().unwrap();
    assert_eq!(
        (frame.width, frame.height, frame.palette.len()),
        (320, 200, 768)
    );
    let mut colours = frame.pixels.clone();
    colours.sort_unstable();
    colours.dedup();
    assert!(
        colours.len() > 32,
        "a level view has many colours, not {}",
        colours.len()
    );

    let lines = control.drain();
    for expected in [
        "title Freedoom: Phase 1",
        "title Freedoom: Phase 1 \u{2014} E1M1",
        "gametic 35",
        "gametic 70",
        "gametic 105",
    ] {
        assert!(
            lines.iter().any(|l| l == expected),
            "no '{expected}' in {lines:?}"
        );
    }
}

#[test]
fn closing_the_window_and_confirming_quits_with_status_0() {
    let (fb, input) = (FrameBuffer::new(), InputQueue::new());
    let guest = start(
        Setup {
            iwad: Some("freedoom1.wad"),
            devices: vec![("fb0", device(&fb)), ("input", device(&input))],
            ..Default::default()
        },
        &[],
    );
    assert!(
        fb.wait_newer(0, Duration::from_secs(30)).is_some(),
        "no frame:\n{}",
        guest.output()
    );
    std::thread::sleep(Duration::from_millis(300));
    // The window's close button asks "are you sure?"; 'y' confirms.
    input.push(InputEvent::quit());
    std::thread::sleep(Duration::from_millis(300));
    input.push(InputEvent::key_down(b'y' as i32));
    input.push(InputEvent::key_up(b'y' as i32));
    let (status, output) = guest.finish(Duration::from_secs(30));
    assert_eq!(status, ExitStatus::Exited(0), "{output}");
}

#[test]
fn music_and_sound_follow_the_hosts_audio_clock() {
    const RATE: u32 = 44100;
    let dsp = AudioRing::new(RATE, RATE as usize);
    let stop = Arc::new(AtomicBool::new(false));

    // The host's audio callback: 10 ms of samples every 10 ms.
    let consumer = {
        let (dsp, stop) = (dsp.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut chunk = vec![0i16; RATE as usize / 100 * 2];
            let (mut sum_squares, mut samples, mut max_queued) = (0f64, 0u64, 0usize);
            let started = Instant::now();
            let mut ticks = 0u32;
            while !stop.load(Ordering::Relaxed) {
                max_queued = max_queued.max(dsp.queued_frames());
                dsp.pull(&mut chunk, 1.0);
                sum_squares += chunk
                    .iter()
                    .map(|&s| f64::from(s) * f64::from(s))
                    .sum::<f64>();
                samples += chunk.len() as u64;
                ticks += 1;
                let next = started + Duration::from_millis(10) * ticks;
                std::thread::sleep(next.saturating_duration_since(Instant::now()));
            }
            ((sum_squares / samples as f64).sqrt(), max_queued)
        })
    };

    // The title screen plays its music from the first tic. (The OPL module hands each song to
    // the MIDI reader through a file in /data.)
    let data = data_dir("music");
    let guest = start(
        Setup {
            iwad: Some("freedoom1.wad"),
            data: Some(&data),
            env: vec![
                ("DOOMLINK_TICS", "105".into()),
                ("DOOMLINK_AUDIO_RATE", RATE.to_string()),
            ],
            devices: vec![("dsp", device(&dsp))],
        },
        &[],
    );
    let (status, output) = guest.finish(Duration::from_secs(60));
    stop.store(true, Ordering::Relaxed);
    let (rms, max_queued) = consumer.join().unwrap();
    assert_eq!(status, ExitStatus::Exited(0), "{output}");
    assert!(
        output.contains("I_InitSound: 44100 Hz stereo to /dev/dsp"),
        "{output}"
    );

    eprintln!(
        "audio: rms {rms:.1}, at most {max_queued} frames queued, {} underruns",
        dsp.underruns()
    );
    assert!(rms > 100.0, "the title music is missing (rms {rms:.1})");
    // The guest tops up to three 28 ms slices, never more.
    let target = (RATE as usize) * 3 * 28 / 1000;
    assert!(
        max_queued <= target,
        "{max_queued} frames queued, more than {target}"
    );
    assert!(dsp.underruns() <= 3, "{} underruns", dsp.underruns());
}

#[test]
fn an_error_is_reported_on_control_and_ends_with_status_1() {
    let control = LineChannel::new();
    let guest = start(
        Setup {
            devices: vec![("control", device(&control))],
            ..Default::default()
        },
        &["-iwad", "/iwad/none.wad"],
    );
    let (status, output) = guest.finish(Duration::from_secs(30));
    assert_eq!(status, ExitStatus::Exited(1), "{output}");
    let lines = control.drain();
    assert!(
        lines
            .iter()
            .any(|l| l == "error IWAD file '/iwad/none.wad' not found!"),
        "{lines:?}"
    );
}

/// Collects lobby records (the lines from `lobby` to `end`) until one satisfies `until`.
fn lobby_records_until(lobby: &LineChannel, until: impl Fn(&[String]) -> bool) -> Vec<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(30);
    let (mut records, mut current) = (Vec::new(), Vec::new());
    while Instant::now() < deadline {
        let Some(line) = lobby.recv_timeout(Duration::from_millis(100)) else {
            continue;
        };
        if line == "end" {
            let record: Vec<String> = std::mem::take(&mut current);
            let done = until(&record);
            records.push(record);
            if done {
                return records;
            }
        } else if line != "lobby" {
            current.push(line);
        }
    }
    panic!("no such lobby record; got {records:?}");
}

#[test]
fn the_lobby_shows_the_players_and_start_launches_the_game() {
    const TICS: &str = "70";
    let (server_lobby, client_lobby) = (LineChannel::new(), LineChannel::new());
    let (server_data, client_data) = (data_dir("lobby-server"), data_dir("lobby-client"));
    let server = start(
        Setup {
            iwad: Some("freedoom1.wad"),
            data: Some(&server_data),
            env: vec![("DOOMLINK_TICS", TICS.into())],
            devices: vec![("lobby", device(&server_lobby))],
        },
        &["-server", "-port", "2420", "-warp", "1", "1"],
    );
    lobby_records_until(&server_lobby, |r| r.iter().any(|l| l == "state waiting"));

    let client = start(
        Setup {
            iwad: Some("freedoom1.wad"),
            data: Some(&client_data),
            env: vec![("DOOMLINK_TICS", TICS.into())],
            devices: vec![("lobby", device(&client_lobby))],
        },
        &["-connect", "127.0.0.1:2420"],
    );

    let server_view = lobby_records_until(&server_lobby, |r| r.iter().any(|l| l == "players 2 4"));
    let two = server_view.last().unwrap();
    for expected in [
        "state waiting",
        "controller 1",
        "you 0",
        "observers 0",
        "freedoom match 1 1",
    ] {
        assert!(
            two.iter().any(|l| l == expected),
            "no '{expected}' in {two:?}"
        );
    }
    assert!(
        two.iter()
            .any(|l| l.starts_with("player 0 ") && l.ends_with(" local%20client")),
        "{two:?}"
    );
    assert!(
        two.iter()
            .any(|l| l.starts_with("player 1 ") && l.contains(" 127.0.0.1:")),
        "{two:?}"
    );
    assert!(two.iter().any(|l| l.starts_with("wad match ")), "{two:?}");

    let client_view = lobby_records_until(&client_lobby, |r| r.iter().any(|l| l == "players 2 4"));
    let two = client_view.last().unwrap();
    for expected in ["controller 0", "you 1"] {
        assert!(
            two.iter().any(|l| l == expected),
            "no '{expected}' in {two:?}"
        );
    }

    // Only the controller may start; the other's request is refused.
    client_lobby.send("start");
    std::thread::sleep(Duration::from_millis(200));
    server_lobby.send("start");

    for (name, guest, lobby) in [
        ("server", &server, &server_lobby),
        ("client", &client, &client_lobby),
    ] {
        let (status, output) = guest.finish(Duration::from_secs(60));
        assert_eq!(status, ExitStatus::Exited(0), "{name}:\n{output}");
        let records = lobby_records_until(lobby, |r| r.iter().any(|l| l == "state launched"));
        assert!(!records.is_empty());
        if name == "client" {
            assert!(output.contains("'start' ignored"), "{output}");
        }
    }
}
