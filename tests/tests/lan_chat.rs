//! Chat and ping over the LAN transport: a host and two joiners, separate `doomlink` processes
//! on 127.0.0.1. doomlink's side protocol rides on the bridges' own sockets next to Chocolate
//! Doom's packets: each process reports an RTT for its peers (`doomlink: net …` on stderr), a
//! chat line typed on one joiner's stdin reaches the host and, relayed by the host, the other
//! joiner (`doomlink: chat NAME: TEXT`), and the game still plays to its end with equal demos.

use doomlink_e2e::*;
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Proc {
    child: Child,
    stdin: Option<ChildStdin>,
    dir: Scratch,
    demo: PathBuf,
    name: String,
    /// Every stderr line so far.
    err: Arc<Mutex<Vec<String>>>,
}

impl Proc {
    fn lines(&self) -> Vec<String> {
        self.err.lock().unwrap().clone()
    }

    fn logs(&self) -> String {
        let out = read_log(&self.dir.path().join("log"));
        format!(
            "--- {} stdout\n{out}\n--- {} stderr\n{}",
            self.name,
            self.name,
            self.lines().join("\n")
        )
    }

    /// Peers this process reported an RTT for, by name.
    fn peers_with_rtt(&self, want_path: &str) -> Vec<String> {
        let mut names: Vec<String> = self
            .lines()
            .iter()
            .filter_map(|l| parse_net_line(l))
            .filter(|(_, path, rtt)| path == want_path && rtt.is_some())
            .map(|(name, _, _)| name)
            .collect();
        names.sort();
        names.dedup();
        names
    }

    fn say(&mut self, text: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "chat {text}").unwrap();
        stdin.flush().unwrap();
    }
}

impl Drop for Proc {
    /// A failed assertion must not leave a game waiting in its lobby forever.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `doomlink: net NAME path=P rtt=Nms loss=…` → (NAME, P, RTT in ms if known).
fn parse_net_line(line: &str) -> Option<(String, String, Option<f64>)> {
    let rest = line.strip_prefix("doomlink: net ")?;
    let (name, fields) = rest.split_once(" path=")?;
    let (path, fields) = fields.split_once(" rtt=")?;
    let fields = format!("rtt={fields}");
    let path = path.to_string();
    let rtt = fields
        .split(' ')
        .find_map(|f| f.strip_prefix("rtt="))?
        .strip_suffix("ms")
        .and_then(|v| v.parse::<f64>().ok());
    Some((name.to_string(), path, rtt))
}

fn spawn(role: &[String], i: usize, name: &str, tics: u32) -> Proc {
    let dir = Scratch::new(&format!("lan-chat-{i}"));
    let mut child = Command::new(doomlink())
        .args(role)
        .args(["--name", name])
        .args(peer_args(
            Bind::Lan("127.0.0.1"),
            dir.path(),
            300 + i as u64,
            tics,
            &format!("peer{i}"),
        ))
        .stdin(Stdio::piped())
        .stdout(log_file(&dir.path().join("log")))
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = Arc::new(Mutex::new(Vec::new()));
    {
        let err = err.clone();
        let stderr = child.stderr.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err.lock().unwrap().push(line);
            }
        });
    }
    Proc {
        stdin: child.stdin.take(),
        child,
        demo: dir.path().join(format!("peer{i}.lmp")),
        dir,
        name: name.to_string(),
        err,
    }
}

fn wait_until(
    procs: &mut [Proc],
    what: &str,
    limit: Duration,
    mut ok: impl FnMut(&[Proc]) -> bool,
) {
    let start = Instant::now();
    while !ok(procs) {
        if start.elapsed() > limit {
            let logs: Vec<String> = procs.iter().map(Proc::logs).collect();
            for p in procs.iter_mut() {
                let _ = p.child.kill();
            }
            panic!("{what}: not within {limit:?}\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn heard(p: &Proc, line: &str) -> bool {
    p.lines().iter().any(|l| l == line)
}

#[test]
fn lan_chat_and_ping_between_three_processes() {
    let tics = test_tics();
    let bin = doomlink(); // builds first, so the timings below are the game's
    assert!(bin.exists());
    let t0 = Instant::now();
    let port = free_server_port();
    let host = [
        "host",
        "--lan",
        "--port",
        &port.to_string(),
        "--players",
        "3",
        "--deathmatch",
        "--warp",
        "1",
        "1",
    ]
    .map(String::from);
    let join = ["join".to_string(), format!("127.0.0.1:{port}")];
    let mut procs = vec![
        spawn(&host, 0, "Host", tics),
        spawn(&join, 1, "One", tics),
        spawn(&join, 2, "Two", tics),
    ];

    // Every process measures an RTT to its peers: the host to both joiners, each joiner to the
    // host (a client talks to its server only); each joiner learns the other's RTT to the host
    // from the host's roster.
    wait_until(&mut procs, "RTTs reported", Duration::from_secs(60), |p| {
        p[0].peers_with_rtt("LAN") == ["One", "Two"]
            && p[1].peers_with_rtt("LAN") == ["Host"]
            && p[2].peers_with_rtt("LAN") == ["Host"]
            && p[1].peers_with_rtt("LAN via host") == ["Two"]
            && p[2].peers_with_rtt("LAN via host") == ["One"]
    });
    assert!(
        procs[0].peers_with_rtt("LAN via host").is_empty(),
        "the host has no roster"
    );
    eprintln!("RTTs reported after {:?}", t0.elapsed());
    for p in &procs {
        for (name, _, rtt) in p.lines().iter().filter_map(|l| parse_net_line(l)) {
            if let Some(ms) = rtt {
                assert!(ms > 0.0, "{}: RTT to {name} is {ms} ms", p.name);
            }
        }
    }

    // One's line reaches the host and, relayed, Two; Two's answer reaches the host and One.
    procs[1].say("hello from one");
    wait_until(
        &mut procs,
        "One's chat line arrives",
        Duration::from_secs(20),
        |p| {
            heard(&p[0], "doomlink: chat One: hello from one")
                && heard(&p[2], "doomlink: chat One: hello from one")
        },
    );
    procs[2].say("hi one, from two");
    wait_until(
        &mut procs,
        "Two's chat line arrives",
        Duration::from_secs(20),
        |p| {
            heard(&p[0], "doomlink: chat Two: hi one, from two")
                && heard(&p[1], "doomlink: chat Two: hi one, from two")
        },
    );
    eprintln!("chat both ways after {:?}", t0.elapsed());
    // Nobody hears their own line back.
    assert!(!procs[1]
        .lines()
        .iter()
        .any(|l| l.starts_with("doomlink: chat One:")));
    assert!(!procs[2]
        .lines()
        .iter()
        .any(|l| l.starts_with("doomlink: chat Two:")));

    // The game plays to its end, unchanged by the side traffic.
    let limit = game_limit(tics);
    let start = Instant::now();
    for p in &mut procs {
        let Some(st) = wait_or_kill(&mut p.child, limit.saturating_sub(start.elapsed())) else {
            panic!("{} did not finish in {limit:?}\n{}", p.name, p.logs());
        };
        assert!(st.success(), "{} exited with {st}\n{}", p.name, p.logs());
    }
    eprintln!("game over after {:?}", t0.elapsed());
    let demos: Vec<PathBuf> = procs.iter().map(|p| p.demo.clone()).collect();
    assert_demos_equal(&demos, 3, tics);
}
