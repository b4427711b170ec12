//! A netgame relayed through Debian's coturn, the external TURN an operator puts beside
//! `doomlink serve`: the service's rendezvous (in this process) names a coturn child on
//! 127.0.0.1 as its `[[turn_server]]`, with its built-in TURN off; the host and the joiner use
//! relayed candidates only, and two Chocolate Doom guests, each in its own kernel, play
//! `test_tics()` gametics of bot input with equal demos. Both ends of the link are coturn's
//! relay ports, and coturn's log shows an allocation for each player under its own username.
//! Needs `turnserver` (scripts/setup installs coturn) and fails without it.

use doomlink_e2e::*;
use doomlink_kernel::ExitStatus;
use doomlink_net::identity::Identity;
use doomlink_net::online::{HostOptions, JoinOptions};
use doomlink_net::rendezvous::turn_rest::{ExternalTurn, Secret};
use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
use doomlink_net::testing::coturn::Coturn;
use doomlink_net::webrtc::peer::{PathKind, RtcOptions};
use doomlink_play::guest::{self, DoomConfig, DoomGuest};
use doomlink_play::internet::{host_hub, join_client, runtime, session_config, InternetHost};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The test coturn's `static-auth-secret`.
const SECRET: &str = "coturn-play-secret-0123456789";

/// Chocolate Doom with `args` on `net`, recording into `dir`, bot input from `seed`.
fn start_player(
    net: &Arc<InternetHost>,
    dir: &Path,
    tics: u32,
    args: &[String],
    seed: u64,
    stop: &Arc<AtomicBool>,
) -> (DoomGuest, doomlink_kernel::CaptureSink) {
    let (kernel, module) = guest::boot(net.clone()).expect("a kernel");
    net.sink.attach(kernel.clone());
    let cfg = DoomConfig {
        iwad: FREEDOOM1.into(),
        pwads: vec![],
        data_dir: dir.into(),
        video: false,
        audio_rate: None,
        tics: Some(tics),
        args: args.to_vec(),
    };
    let (g, log) = start_logged_guest(&kernel, &module, &cfg);
    doomlink_play::bot::spawn(seed, g.input.clone(), stop.clone());
    (g, log)
}

/// Whether `addr` (`ip:port` as ICE reports it) is one of coturn's relay ports.
fn on_coturn(coturn: &Coturn, addr: &str) -> bool {
    addr.strip_prefix("127.0.0.1:")
        .and_then(|p| p.parse::<u16>().ok())
        .is_some_and(|p| coturn.relay_ports.contains(&p))
}

#[test]
fn two_players_play_a_game_relayed_through_coturn() {
    let tics = test_tics();
    let coturn = Coturn::start(SECRET);
    let rt = runtime().unwrap();
    let rv_dir = Scratch::new("coturn-rv");
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1",
        rv_dir.path().into(),
    );
    cfg.stun_port = 0;
    cfg.turn_port = 0;
    cfg.builtin_turn = false;
    cfg.turn_servers = vec![ExternalTurn {
        urls: vec![coturn.url()],
        secret: Secret::new(SECRET),
    }];
    let rv = rt
        .block_on(Rendezvous::bind(cfg))
        .expect("the rendezvous binds");
    let rv_addr = rv.http_addr().to_string();
    let rv_stop = rv.shutdown_handle();
    rt.spawn(rv.run());
    let relay = RtcOptions {
        relay_only: true,
        ..RtcOptions::loopback()
    };
    let stop = Arc::new(AtomicBool::new(false));

    // The host: a room, its hub node, and the game's server guest on it.
    let h = Scratch::new("coturn-host");
    let mut opts = HostOptions::new(rv_addr, Identity::ephemeral().unwrap());
    opts.rtc = relay.clone();
    let session = session_config("host", Path::new(FREEDOOM1)).unwrap();
    let (host, _, invite) = rt.block_on(host_hub(opts, session)).expect("a room");
    let host_args: Vec<String> = [
        "-server",
        "-nodes",
        "2",
        "-deathmatch",
        "-warp",
        "1",
        "1",
        "-record",
        "host",
    ]
    .map(String::from)
    .to_vec();
    let (host_guest, host_log) = start_player(&host, h.path(), tics, &host_args, 21, &stop);

    // The joiner, over its relayed link to the hub.
    let j = Scratch::new("coturn-join");
    let opts = JoinOptions {
        name: "joiner".into(),
        rtc: relay,
        tls: Default::default(),
    };
    let session = session_config("joiner", Path::new(FREEDOOM1)).unwrap();
    let (client, _, hub) = rt
        .block_on(join_client(&invite, opts, session))
        .expect("joined through coturn");
    let join_args: Vec<String> = ["-connect", &format!("{hub}:2342"), "-record", "join"]
        .map(String::from)
        .to_vec();
    let (join_guest, join_log) = start_player(&client, j.path(), tics, &join_args, 22, &stop);

    // Both ends of the link relay through coturn.
    let deadline = Instant::now() + Duration::from_secs(10);
    let paths = loop {
        let paths: Vec<_> = [&host, &client]
            .iter()
            .filter_map(|n| n.node.links().first().and_then(|l| l.path.clone()))
            .collect();
        if paths.len() == 2 || Instant::now() > deadline {
            break paths;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    assert_eq!(paths.len(), 2, "both ends report their path: {paths:?}");
    for p in &paths {
        assert_eq!(p.kind, PathKind::Relayed, "{p:?}");
        assert!(
            on_coturn(&coturn, &p.local_addr) && on_coturn(&coturn, &p.remote_addr),
            "{p:?} is not through coturn's relay ports {:?}",
            coturn.relay_ports
        );
    }

    let limit = game_limit(tics);
    let started = Instant::now();
    let mut ends = Vec::new();
    for g in [&host_guest, &join_guest] {
        ends.push(
            g.process
                .wait_timeout(limit.saturating_sub(started.elapsed()))
                .or_else(|| {
                    g.process.kill();
                    None
                }),
        );
    }
    stop.store(true, Ordering::Relaxed);
    if ends.iter().any(|e| *e != Some(ExitStatus::Exited(0))) {
        let tail = |t: String| {
            let lines: Vec<&str> = t.lines().collect();
            lines[lines.len().saturating_sub(30)..].join("\n")
        };
        panic!(
            "the game through coturn failed: host {:?}, joiner {:?}\n--- host:\n{}\n--- joiner:\n{}\n--- coturn:\n{}",
            ends[0],
            ends[1],
            tail(host_log.text()),
            tail(join_log.text()),
            tail(coturn.log())
        );
    }
    assert_demos_equal(
        &[h.path().join("host.lmp"), j.path().join("join.lmp")],
        2,
        tics,
    );
    coturn.assert_allocated(&invite.room, &["host", "1"]);
    rv_stop.shutdown();
}
