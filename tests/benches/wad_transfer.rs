//! A 20 MiB PWAD from host to joiner over WebRTC on 127.0.0.1 (the relay session's file
//! exchange on the reliable channel, into the joiner's cache, SHA-256 checked) and through a LAN
//! host's file service (TCP, into the cache the same way), against a raw TCP copy of the same
//! bytes over loopback in the same run (the anchor), and what the host's hub does meanwhile for
//! another player already in: the round trip of its pings.
//!
//! One transfer: a fresh joiner (empty cache) joins the room and fetches the PWAD (timed from its
//! first request to the file checked and stored in its cache); the same joiner joins again with
//! the file cached (nothing fetched). Five rounds; the median, and the best. While they run,
//! a first joiner sits in the room and its link's ping RTT is sampled, then again after the
//! transfers, for the "does a download lag the others" question.
//!
//! cargo bench -p doomlink-e2e --bench wad_transfer
//!
//! Prints figures; asserts nothing.

use doomlink_e2e::pwad::write_changed_e1m1;
use doomlink_e2e::{Scratch, FREEDOOM1};
use doomlink_net::identity::Identity;
use doomlink_net::online::{HostOptions, JoinOptions};
use doomlink_net::rendezvous::{Rendezvous, ServeConfig};
use doomlink_net::webrtc::peer::RtcOptions;
use doomlink_net::ByeReason;
use doomlink_play::internet::{
    host_hub_sharing, join_client_fetching, runtime, session_config_sharing, InternetHost,
};
use doomlink_play::wadcache::WadCache;
use doomlink_play::wadshare::{own_files, Downloaded, Fetching, DEFAULT_SEND_CAP};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const PWAD_PAD: usize = 20 << 20;
const ROUNDS: usize = 5;

fn join(
    rt: &tokio::runtime::Runtime,
    invite: &doomlink_net::signaling::invite::InviteLink,
    data_dir: &Path,
) -> (Arc<InternetHost>, Duration) {
    let opts = JoinOptions {
        name: "joiner".into(),
        rtc: RtcOptions::loopback(),
        tls: Default::default(),
    };
    let (session, _) = session_config_sharing("joiner", Path::new(FREEDOOM1), &[], 0).unwrap();
    let fetching = Fetching {
        cache: WadCache::open(data_dir).unwrap(),
        cap: DEFAULT_SEND_CAP,
        own: own_files(Path::new(FREEDOOM1), &[]).unwrap(),
    };
    let t = Instant::now();
    let (host, _, _) = rt
        .block_on(join_client_fetching(invite, opts, session, Some(fetching)))
        .expect("joined");
    (host, t.elapsed())
}

/// The same bytes through a loopback TCP connection: writer thread, reader here.
/// A whole file downloaded (nothing kept from before).
fn downloaded(name: &str) -> Downloaded {
    Downloaded {
        name: name.into(),
        resumed_from: 0,
    }
}

fn tcp_copy(bytes: Arc<Vec<u8>>) -> Duration {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let t = Instant::now();
    let w = std::thread::spawn(move || {
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(&bytes).unwrap();
    });
    let (mut s, _) = l.accept().unwrap();
    let mut got = Vec::new();
    s.read_to_end(&mut got).unwrap();
    let took = t.elapsed();
    w.join().unwrap();
    took
}

fn p50_p99(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(|a, b| a.total_cmp(b));
    if v.is_empty() {
        return (f64::NAN, f64::NAN);
    }
    let at = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

fn main() {
    let rt = runtime().unwrap();
    let rv_dir = Scratch::new("bench-wads-rv");
    let mut cfg = ServeConfig::new(
        "127.0.0.1:0".parse().unwrap(),
        "127.0.0.1",
        rv_dir.path().into(),
    );
    cfg.stun_port = 0;
    cfg.turn_port = 0;
    let rv = rt.block_on(Rendezvous::bind(cfg)).expect("the rendezvous");
    let rv_addr = rv.http_addr().to_string();
    rt.spawn(rv.run());

    let files = Scratch::new("bench-wads-files");
    let pwad = files.path().join("big.wad");
    write_changed_e1m1(Path::new(FREEDOOM1), &pwad, PWAD_PAD);
    let bytes = Arc::new(std::fs::read(&pwad).unwrap());
    let size = bytes.len() as f64;

    let mut opts = HostOptions::new(rv_addr, Identity::ephemeral().unwrap());
    opts.rtc = RtcOptions::loopback();
    // As the app's host does (`internet::rtc_options_with`): a joiner first known as
    // peer-reflexive is taken at once, not after webrtc's default 1 s.
    opts.rtc.prflx_acceptance_min_wait = Some(Duration::ZERO);
    let (session, host_files) = session_config_sharing(
        "host",
        Path::new(FREEDOOM1),
        std::slice::from_ref(&pwad),
        DEFAULT_SEND_CAP,
    )
    .unwrap();
    let (_hub, _, invite) = rt
        .block_on(host_hub_sharing(opts, session, host_files))
        .expect("a room");

    // A player already in the room (its cache filled first), whose pings the hub keeps sending.
    let settled = Scratch::new("bench-wads-settled");
    let (fetched, _) = join(&rt, &invite, settled.path());
    fetched.node.close(ByeReason::Quit);
    let (player, _) = join(&rt, &invite, settled.path());
    let sample = Arc::new(AtomicBool::new(true));
    let rtts = {
        let (player, sample) = (player.clone(), sample.clone());
        std::thread::spawn(move || {
            let (mut during, mut seen) = (Vec::new(), 0);
            while sample.load(Ordering::Relaxed) {
                for l in player.node.links() {
                    if l.stats.pongs_received > seen {
                        seen = l.stats.pongs_received;
                        if let Some(r) = l.stats.rtt_last {
                            during.push(r.as_secs_f64() * 1e3);
                        }
                    }
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            during
        })
    };

    let lan_service = doomlink_play::lanfiles::serve_lan_files(
        "127.0.0.1:0".parse().unwrap(),
        Path::new(FREEDOOM1),
        std::slice::from_ref(&pwad),
        DEFAULT_SEND_CAP,
    )
    .unwrap();
    let (mut webrtc, mut tcp, mut lan) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let d = Scratch::new(&format!("bench-wads-join{round}"));
        let (first, cold) = join(&rt, &invite, d.path());
        let here = first.files_here();
        assert_eq!(here.downloaded[..], [downloaded("big.wad")]);
        first.node.close(ByeReason::Quit);
        let (second, warm) = join(&rt, &invite, d.path());
        assert!(second.files_here().downloaded.is_empty());
        second.node.close(ByeReason::Quit);
        webrtc.push(here.download_time);
        tcp.push(tcp_copy(bytes.clone()));
        let l = Scratch::new(&format!("bench-wads-lan{round}"));
        let fetching = Fetching {
            cache: WadCache::open(l.path()).unwrap(),
            cap: DEFAULT_SEND_CAP,
            own: own_files(Path::new(FREEDOOM1), &[]).unwrap(),
        };
        let got = doomlink_play::lanfiles::fetch_lan_files(lan_service.local_addr(), &fetching)
            .unwrap()
            .expect("the LAN service answers");
        assert_eq!(got.downloaded[..], [downloaded("big.wad")]);
        lan.push(got.download_time);
        println!(
            "round {round}: join with the download {:.0} ms (the download {:.0} ms), cached {:.0} ms",
            cold.as_secs_f64() * 1e3,
            here.download_time.as_secs_f64() * 1e3,
            warm.as_secs_f64() * 1e3
        );
    }
    sample.store(false, Ordering::Relaxed);
    let during = rtts.join().unwrap();
    // The same player's pings once nothing is moving.
    let quiet_from = player.node.links()[0].stats.pongs_received;
    let mut quiet = Vec::new();
    let mut seen = quiet_from;
    let until = Instant::now() + Duration::from_secs(8);
    while Instant::now() < until {
        for l in player.node.links() {
            if l.stats.pongs_received > seen {
                seen = l.stats.pongs_received;
                if let Some(r) = l.stats.rtt_last {
                    quiet.push(r.as_secs_f64() * 1e3);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }

    let median = |v: &mut Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    let (w, t, n) = (median(&mut webrtc), median(&mut tcp), median(&mut lan));
    let rate = |d: Duration| size / d.as_secs_f64().max(1e-9) / 1e6;
    println!(
        "{:.1} MB PWAD, median of {ROUNDS} (WebRTC best {:.0} ms):",
        size / 1e6,
        webrtc[0].as_secs_f64() * 1e3
    );
    println!(
        "  WebRTC file exchange:  {:>8.0} ms  {:>8.1} MB/s",
        w.as_secs_f64() * 1e3,
        rate(w)
    );
    println!(
        "  raw TCP, loopback:     {:>8.1} ms  {:>8.1} MB/s",
        t.as_secs_f64() * 1e3,
        rate(t)
    );
    println!(
        "  LAN file service:      {:>8.1} ms  {:>8.1} MB/s",
        n.as_secs_f64() * 1e3,
        rate(n)
    );
    println!("  ratio WebRTC/TCP rate: {:>8.4}×", rate(w) / rate(t));
    println!("  ratio LAN/TCP rate:    {:>8.4}×", rate(n) / rate(t));
    let (dp50, dp99) = p50_p99(during);
    let (qp50, qp99) = p50_p99(quiet);
    println!(
        "another player's ping RTT to the hub: during the transfers p50 {dp50:.2} ms p99 \
         {dp99:.2} ms; after them p50 {qp50:.2} ms p99 {qp99:.2} ms"
    );
}
