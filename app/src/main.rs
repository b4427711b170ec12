//! `doomlink`: the command line and the app. It only wires the other crates together: the kernel
//! (doomlink-kernel), the guest (doomlink-assets' doom.wasm), the relay (doomlink-net) and the
//! window (eframe/egui).

use doomlink::netplay::{GameMode, GameOptions, KernelSink, LanHost};
use doomlink::{bot, guest, internet, iwad};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use doomlink_kernel::{ExitStatus, HostIO, HostStderr, HostStdout, NoNetwork};
use doomlink_net::lan::{LanBridge, LanConfig};
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Parser)]
#[command(name = "doomlink", version, about = "Play classic DOOM with friends")]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Boot the kernel with Chocolate Doom and play.
    Run(RunArgs),
    /// Host a netgame.
    Host(HostArgs),
    /// Join a netgame: ADDRESS[:PORT] on the LAN, or an invite link.
    Join(JoinArgs),
    /// Run the rendezvous for Internet play (signaling, STUN, TURN).
    Serve(ServeArgs),
    /// List the games on the local network: doomlink hosts and native Chocolate Doom servers.
    LanList(LanListArgs),
}

/// Options every way of starting a game shares.
#[derive(Args, Clone, Debug)]
struct GameArgs {
    /// The IWAD to play (default: Chocolate Doom's own search; Freedoom on a fresh machine).
    #[arg(long)]
    iwad: Option<PathBuf>,
    /// Where config, saves and demos go (default: the platform data dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// No window and no audio device.
    #[arg(long)]
    headless: bool,
    /// Feed the game a seeded random walk of key presses (for tests and benchmarks).
    #[arg(long, value_name = "SEED")]
    bot_input: Option<u64>,
    /// End the game cleanly after N gametics (demos are written).
    #[arg(long, value_name = "N")]
    tics: Option<u32>,
    /// Chocolate Doom's own arguments, after `--`.
    #[arg(last = true)]
    doom_args: Vec<String>,
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    game: GameArgs,
}

/// Where LAN play opens its real sockets.
#[derive(Args, Clone, Debug)]
struct LanArgs {
    /// The local address LAN sockets bind to (default: every interface).
    #[arg(long, value_name = "IP", default_value = "0.0.0.0")]
    lan_bind: Ipv4Addr,
    /// Where a broadcast from the game (-localsearch) goes on the real network.
    #[arg(long, value_name = "IP", default_value = "255.255.255.255")]
    lan_broadcast: Ipv4Addr,
}

#[derive(Args)]
struct ServeArgs {
    /// HTTP and WebSocket signaling address.
    #[arg(long, value_name = "ADDR:PORT", default_value = "0.0.0.0:7342")]
    listen: SocketAddr,
    /// The address players reach this machine at (goes into links and STUN/TURN answers).
    #[arg(long, value_name = "IP")]
    public_addr: Option<String>,
    #[arg(long, value_name = "P", default_value_t = 3478)]
    stun_port: u16,
    #[arg(long, value_name = "P", default_value_t = 3478)]
    turn_port: u16,
    /// Where the TURN secret is kept (default: the platform data dir).
    #[arg(long)]
    data_dir: Option<PathBuf>,
}

/// Where Internet play's WebRTC sockets bind (default: every interface; tests use 127.0.0.1).
#[derive(Args, Clone, Debug)]
struct RtcArgs {
    #[arg(long, value_name = "IP")]
    rtc_bind: Option<Ipv4Addr>,
}

#[derive(Args)]
struct HostArgs {
    /// Host on the local network (Chocolate Doom's own protocol: native players can join).
    #[arg(long, conflicts_with = "internet")]
    lan: bool,
    /// Host over the Internet: register a room at a rendezvous and print its invite link.
    #[arg(long, requires = "rendezvous")]
    internet: bool,
    /// The rendezvous (`doomlink serve`) to register the room at.
    #[arg(long, value_name = "HOST:PORT")]
    rendezvous: Option<String>,
    #[command(flatten)]
    rtc: RtcArgs,
    /// The UDP port of the game.
    #[arg(long, default_value_t = 2342)]
    port: u16,
    /// Start the game when this many players are in (otherwise the host starts it).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=4))]
    players: Option<u8>,
    /// Your name in the game.
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,
    #[arg(long, conflicts_with_all = ["altdeath", "coop"])]
    deathmatch: bool,
    #[arg(long, conflicts_with = "coop")]
    altdeath: bool,
    #[arg(long)]
    coop: bool,
    #[arg(long, value_parser = clap::value_parser!(u8).range(1..=5))]
    skill: Option<u8>,
    /// `E M` (Doom) or `M` (Doom II).
    #[arg(long, num_args = 1..=2, value_names = ["E", "M"])]
    warp: Vec<u8>,
    /// End each level after MIN minutes (deathmatch).
    #[arg(long, value_name = "MIN")]
    timer: Option<u32>,
    #[arg(long)]
    nomonsters: bool,
    #[arg(long)]
    fast: bool,
    #[arg(long)]
    respawn: bool,
    #[command(flatten)]
    lan_args: LanArgs,
    #[command(flatten)]
    game: GameArgs,
}

#[derive(Args)]
struct JoinArgs {
    /// The game to join: ADDRESS[:PORT] on the LAN, or an invite link (doomlink://join/…).
    target: String,
    #[command(flatten)]
    rtc: RtcArgs,
    /// Your name in the game.
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,
    #[command(flatten)]
    lan_args: LanArgs,
    #[command(flatten)]
    game: GameArgs,
}

#[derive(Args)]
struct LanListArgs {
    #[command(flatten)]
    lan_args: LanArgs,
    /// The game port to ask on.
    #[arg(long, default_value_t = 2342)]
    port: u16,
    /// How long to wait for answers.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    timeout_ms: u64,
}

fn main() {
    let cli = Cli::parse();
    let code = match run_cli(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("doomlink: {e:#}");
            1
        }
    };
    std::process::exit(code);
}

fn run_cli(cli: Cli) -> Result<i32> {
    match cli.command {
        Some(Command::Run(a)) => run(a),
        Some(Command::Host(a)) => host(a),
        Some(Command::Join(a)) => join(a),
        Some(Command::Serve(a)) => serve(a),
        Some(Command::LanList(a)) => lan_list(a),
        None => Ok(doomlink::gui::run(
            doomlink::gui::StartWith::Home,
            guest::default_data_dir(),
            Arc::new(doomlink::netplay::LanNetplay::default()),
        )?),
    }
}

/// Everything a game needs before it starts, from the shared options.
fn doom_config(g: &GameArgs, args: Vec<String>) -> Result<guest::DoomConfig> {
    if !g.headless {
        bail!("the window is not built yet; add --headless");
    }
    Ok(guest::DoomConfig {
        iwad: iwad::resolve_iwad(g.iwad.as_deref())?,
        pwads: Vec::new(),
        data_dir: g.data_dir.clone().unwrap_or_else(guest::default_data_dir),
        video: false,
        audio_rate: None,
        tics: g.tics,
        args,
    })
}

/// Runs a headless guest to its end: bot input if asked, lobby snapshots to stderr, and `start`
/// typed on stdin starts a lobby (what Space does natively).
fn play_headless(
    host: Arc<dyn HostIO>,
    sink: Option<&KernelSink>,
    cfg: &guest::DoomConfig,
    bot_seed: Option<u64>,
) -> Result<i32> {
    let (kernel, module) = guest::boot(host)?;
    if let Some(s) = sink {
        s.attach(kernel.clone());
    }
    let g = guest::DoomGuest::start(
        &kernel,
        &module,
        cfg,
        Arc::new(HostStdout),
        Arc::new(HostStderr),
    )
    .context("starting Chocolate Doom")?;
    let stop = Arc::new(AtomicBool::new(false));
    let bot = bot_seed.map(|seed| bot::spawn(seed, g.input.clone(), stop.clone()));
    {
        let lobby = g.lobby.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                if line.trim() == "start" {
                    lobby.send("start");
                }
            }
        });
    }
    let status = loop {
        if let Some(st) = g
            .process
            .wait_timeout(std::time::Duration::from_millis(200))
        {
            break st;
        }
        for line in g.lobby.drain() {
            if ["players ", "state ", "player "]
                .iter()
                .any(|k| line.starts_with(k))
            {
                eprintln!("doomlink: lobby {line}");
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    if let Some(b) = bot {
        let _ = b.join();
    }
    Ok(report(status))
}

/// `doomlink run`: one local game.
fn run(a: RunArgs) -> Result<i32> {
    if !a.game.headless {
        return run_window(&a.game);
    }
    let cfg = doom_config(&a.game, a.game.doom_args.clone())?;
    play_headless(Arc::new(NoNetwork), None, &cfg, a.game.bot_input)
}

/// `doomlink run` without `--headless`: the window, straight into the game.
fn run_window(g: &GameArgs) -> Result<i32> {
    let setup = doomlink::gui::GameSetup {
        iwad: iwad::resolve_iwad(g.iwad.as_deref())?,
        pwads: Vec::new(),
        skill: None,
        warp: None,
        tics: g.tics,
        args: g.doom_args.clone(),
    };
    let data_dir = g.data_dir.clone().unwrap_or_else(guest::default_data_dir);
    let start = doomlink::gui::StartWith::Game(setup);
    Ok(doomlink::gui::run(
        start,
        data_dir,
        Arc::new(doomlink::netplay::LanNetplay::default()),
    )?)
}

fn lan_host(l: &LanArgs) -> Result<(Arc<LanHost>, Arc<KernelSink>)> {
    let sink = KernelSink::new();
    let cfg = LanConfig {
        bind_ip: l.lan_bind,
        broadcast_ip: l.lan_broadcast,
        ..Default::default()
    };
    let bridge = LanBridge::new(cfg, sink.clone())?;
    Ok((
        Arc::new(LanHost {
            bridge,
            sink: sink.clone(),
        }),
        sink,
    ))
}

fn name_args(name: &Option<String>) -> Vec<String> {
    name.iter()
        .flat_map(|n| ["-doomlink-name".to_string(), n.clone()])
        .collect()
}

/// `doomlink host --lan`: a server in our guest, on a real UDP port.
fn host(a: HostArgs) -> Result<i32> {
    if !a.lan && !a.internet {
        bail!("say how to host: --lan, or --internet --rendezvous HOST:PORT");
    }
    if a.lan {
        // Say so now, in one line, rather than as a socket error from inside the game.
        std::net::UdpSocket::bind((a.lan_args.lan_bind, a.port)).with_context(|| {
            format!(
                "cannot host on UDP port {} of {}",
                a.port, a.lan_args.lan_bind
            )
        })?;
    }
    let mode = if a.deathmatch {
        GameMode::Deathmatch
    } else if a.altdeath {
        GameMode::AltDeath
    } else {
        GameMode::Coop
    };
    let warp = match a.warp.as_slice() {
        [] => None,
        [m] => Some((None, *m)),
        [e, m] => Some((Some(*e), *m)),
        _ => unreachable!("clap takes 1 or 2 values"),
    };
    let opts = GameOptions {
        mode,
        skill: a.skill,
        warp,
        timer_minutes: a.timer,
        nomonsters: a.nomonsters,
        fast: a.fast,
        respawn: a.respawn,
    };
    let mut args = vec!["-server".to_string(), "-port".into(), a.port.to_string()];
    // What LAN browsers (lan-list, native -search) show for this game, unless the user set it.
    if !a.game.doom_args.iter().any(|x| x == "-servername") {
        let title = a
            .name
            .as_deref()
            .map(|n| format!("{n}'s game"))
            .unwrap_or_else(|| "doomlink game".into());
        args.extend(["-servername".into(), title]);
    }
    if let Some(n) = a.players {
        args.extend(["-nodes".into(), n.to_string()]);
    }
    args.extend(opts.doom_args());
    args.extend(name_args(&a.name));
    args.extend(a.game.doom_args.iter().cloned());
    let cfg = doom_config(&a.game, args)?;
    if a.internet {
        let rendezvous = a.rendezvous.as_deref().unwrap_or_default();
        let rt = internet::runtime()?;
        let session = internet::session_config(a.name.as_deref().unwrap_or("host"), &cfg.iwad)?;
        let (host, sink, invite) =
            internet::host(&rt, rendezvous, &cfg.data_dir, session, a.rtc.rtc_bind)?;
        // The link on a line of its own, for people and scripts to pick up.
        println!("{}", invite.to_doomlink_url());
        return play_headless(host, Some(&sink), &cfg, a.game.bot_input);
    }
    let (host, sink) = lan_host(&a.lan_args)?;
    play_headless(host, Some(&sink), &cfg, a.game.bot_input)
}

/// `doomlink serve`: the rendezvous for Internet play.
fn serve(a: ServeArgs) -> Result<i32> {
    let data_dir = a
        .data_dir
        .unwrap_or_else(guest::default_data_dir)
        .join("serve");
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let public = a.public_addr.unwrap_or_else(|| a.listen.ip().to_string());
    let mut cfg = doomlink_net::rendezvous::ServeConfig::new(a.listen, public, data_dir);
    cfg.stun_port = a.stun_port;
    cfg.turn_port = a.turn_port;
    internet::serve(cfg)?;
    Ok(0)
}

/// `doomlink join ADDRESS[:PORT]`: connect our guest to a server on the LAN.
fn join(a: JoinArgs) -> Result<i32> {
    if a.target.contains("://") {
        let invite = doomlink_net::invite::InviteLink::parse(a.target.trim())?;
        let rt = internet::runtime()?;
        let cfg0 = doom_config(&a.game, Vec::new())?;
        let session = internet::session_config(a.name.as_deref().unwrap_or("player"), &cfg0.iwad)?;
        let (host, sink, hub) = internet::join(&rt, &invite, session, a.rtc.rtc_bind)?;
        let mut args = vec!["-connect".to_string(), format!("{hub}:2342")];
        args.extend(name_args(&a.name));
        args.extend(a.game.doom_args.iter().cloned());
        let cfg = guest::DoomConfig { args, ..cfg0 };
        return play_headless(host, Some(&sink), &cfg, a.game.bot_input);
    }
    let with_port = if a.target.contains(':') {
        a.target.clone()
    } else {
        format!("{}:2342", a.target)
    };
    let real: SocketAddr = with_port
        .to_socket_addrs()
        .ok()
        .and_then(|mut it| it.find(|s| s.is_ipv4()))
        .with_context(|| format!("not an address: {:?} (want ADDRESS[:PORT])", a.target))?;
    let (host, sink) = lan_host(&a.lan_args)?;
    let server = host.bridge.map_remote(real)?;
    let mut args = vec!["-connect".to_string(), server.to_string()];
    args.extend(name_args(&a.name));
    args.extend(a.game.doom_args.iter().cloned());
    let cfg = doom_config(&a.game, args)?;
    play_headless(host, Some(&sink), &cfg, a.game.bot_input)
}

/// `doomlink lan-list`: Chocolate Doom's own LAN query, one game a line on stdout.
fn lan_list(a: LanListArgs) -> Result<i32> {
    use doomlink_net::lan_query::{search, SearchConfig};
    let cfg = SearchConfig {
        bind_ip: a.lan_args.lan_bind,
        broadcast: Some(std::net::SocketAddrV4::new(
            a.lan_args.lan_broadcast,
            a.port,
        )),
        timeout: std::time::Duration::from_millis(a.timeout_ms),
        ..Default::default()
    };
    let found = search(&cfg)?.servers;
    for game in &found {
        println!("{game}");
    }
    if found.is_empty() {
        eprintln!("doomlink: no games found on {}", a.lan_args.lan_broadcast);
    }
    Ok(0)
}

/// Says how a guest ended when that is not a plain exit, and returns the status to exit with.
fn report(status: ExitStatus) -> i32 {
    match &status {
        ExitStatus::Exited(_) => {}
        ExitStatus::Trapped(msg) => eprintln!("doomlink: the game crashed: {msg}"),
        ExitStatus::Killed => eprintln!("doomlink: the game was stopped"),
    }
    status.code()
}
