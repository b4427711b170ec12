//! `doomlink`: the command line and the app. It only wires the other crates together: the kernel
//! (doomlink-kernel), the guest (doomlink-assets' doom.wasm), the relay (doomlink-net) and the
//! window (eframe/egui).

#![forbid(unsafe_code)]

use doomlink_play::game::{GameOptionArgs, GameSettings, ServerRole};
use doomlink_play::netplay::lan::LanHost;
use doomlink_play::netview::{ChatLine, NetView};
use doomlink_play::sink::KernelSink;
use doomlink_play::{bot, guest, internet, iwad};

use anyhow::{bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use doomlink_kernel::{ExitStatus, HostIO, HostStderr, HostStdout, NoNetwork};
use doomlink_net::lan::{LanBridge, LanConfig};
use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

#[derive(Parser)]
#[command(
    name = "doomlink",
    version,
    about = "Play classic DOOM with friends",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// An invite link (doomlink://join/… or its http(s) form) or a host's manual offer code:
    /// opens the window and joins it, as a URL handler starts doomlink.
    #[arg(value_name = "LINK")]
    link: Option<String>,
}

#[derive(Subcommand)]
enum Command {
    /// Boot the kernel with Chocolate Doom and play.
    Run(RunArgs),
    /// Host a netgame.
    Host(HostArgs),
    /// Join a netgame: ADDRESS[:PORT] on the LAN, an invite link, or a manual offer code.
    Join(JoinArgs),
    /// Run the rendezvous for Internet play (signaling, STUN, TURN).
    Serve(doomlink_server::cli::ServeArgs),
    /// List the games on the local network: doomlink hosts and native Chocolate Doom servers.
    LanList(LanListArgs),
    /// Dedicated rooms on a `doomlink serve`: `room create --on HOST:PORT` (the token from --token-file or DOOMLINK_ADMIN_TOKEN).
    Room(doomlink_server::cli::RoomArgs),
}

/// Options every way of starting a game shares.
#[derive(Args, Clone, Debug)]
struct GameArgs {
    /// The IWAD to play (default: Chocolate Doom's own search; Freedoom on a fresh machine).
    #[arg(long)]
    iwad: Option<PathBuf>,
    /// A PWAD or DEHACKED file to play (repeat for more, in load order). Hosting over the
    /// Internet, joiners who lack it are sent it (up to 256 MiB a file).
    #[arg(long = "file", value_name = "PWAD")]
    files: Vec<PathBuf>,
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

/// Where Internet play's WebRTC sockets bind (default: every interface; tests use 127.0.0.1).
#[derive(Args, Clone, Debug)]
struct RtcArgs {
    /// The local address Internet play's WebRTC binds (default: every interface but loopback).
    #[arg(long, value_name = "IP")]
    rtc_bind: Option<Ipv4Addr>,
    /// A STUN server for Internet play (repeatable), besides any the rendezvous hands out; with
    /// manual codes the only way to learn one's public address.
    #[arg(long, value_name = "HOST:PORT")]
    stun: Vec<String>,
    /// CA certificates (PEM) a TLS rendezvous's certificate may be signed by, besides the
    /// system's roots (a private rendezvous).
    #[arg(long, value_name = "FILE")]
    rendezvous_ca: Option<PathBuf>,
}

impl RtcArgs {
    /// What a TLS rendezvous's certificate is checked against.
    fn trust(&self) -> doomlink_net::tls_client::ClientTls {
        self.rendezvous_ca
            .clone()
            .map(doomlink_net::tls_client::ClientTls::with_ca_file)
            .unwrap_or_default()
    }
}

#[derive(Args)]
struct HostArgs {
    /// Host on the local network (Chocolate Doom's own protocol: native players can join).
    #[arg(long, conflicts_with = "internet")]
    lan: bool,
    /// Host over the Internet: register a room at a rendezvous (--rendezvous) and print its
    /// invite link, or exchange manual codes (--manual).
    #[arg(long)]
    internet: bool,
    /// The rendezvous (`doomlink serve`) to register the room at: HOST:PORT, or
    /// wss://HOST:PORT when it speaks TLS.
    #[arg(long, value_name = "HOST:PORT")]
    rendezvous: Option<String>,
    /// No rendezvous: print an offer code on a line of its own, read the joiner's answer code
    /// (from `doomlink join CODE`) from standard input, and play. One joiner per manual game.
    #[arg(long, requires = "internet", conflicts_with = "rendezvous")]
    manual: bool,
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
    #[command(flatten)]
    options: GameOptionArgs,
    #[command(flatten)]
    lan_args: LanArgs,
    #[command(flatten)]
    game: GameArgs,
}

#[derive(Args)]
struct JoinArgs {
    /// The game to join: ADDRESS[:PORT] on the LAN, an invite link (doomlink://join/…), or a
    /// host's manual offer code (the answer code to send back is printed on a line of its own).
    target: String,
    #[command(flatten)]
    rtc: RtcArgs,
    /// Your name in the game.
    #[arg(long, value_name = "TEXT")]
    name: Option<String>,
    #[command(flatten)]
    lan_args: LanArgs,
    /// The largest file, in MiB, a host may send this computer (its PWADs and DEHACKED files,
    /// or a free IWAD), kept in the data dir's cache by hash. 0: accept none.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    max_download: u64,
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
    doomlink_play::log::init(match cli.command {
        Some(Command::Serve(_)) => doomlink_play::log::SERVICE,
        _ => doomlink_play::log::PLAYER,
    });
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
        Some(Command::Serve(a)) => doomlink_server::cli::serve(a),
        Some(Command::LanList(a)) => lan_list(a),
        Some(Command::Room(a)) => doomlink_server::cli::room(a),
        None => {
            // One window per user and display: a link opened while the app runs goes to it.
            use doomlink_desktop::single_instance::{forward_or_listen, socket_path, Instance};
            let message = cli.link.as_deref().unwrap_or("");
            let instance = match socket_path().and_then(|p| forward_or_listen(&p, message)) {
                Ok(Instance::Forwarded) => {
                    eprintln!("doomlink: handed over to the doomlink window already running");
                    return Ok(0);
                }
                Ok(Instance::Primary(listener)) => Some(listener),
                Err(e) => {
                    // Not fatal: this window just cannot take links from later starts.
                    eprintln!("doomlink: single-instance socket: {e}");
                    None
                }
            };
            let start = match cli.link {
                Some(link) => doomlink_desktop::StartWith::Join(link),
                None => doomlink_desktop::StartWith::Home,
            };
            Ok(doomlink_desktop::run(
                start,
                guest::default_data_dir(),
                Arc::new(window_netplay()?),
                instance,
            )?)
        }
    }
}

/// Everything a headless game needs before it starts, from the shared options.
fn doom_config(g: &GameArgs, args: Vec<String>) -> Result<guest::DoomConfig> {
    Ok(doom_config_with(
        g,
        args,
        iwad::resolve_iwad(g.iwad.as_deref())?,
    ))
}

/// The data directory: `--data-dir`, or the platform's.
fn data_dir(g: &GameArgs) -> PathBuf {
    g.data_dir.clone().unwrap_or_else(guest::default_data_dir)
}

/// [`doom_config`] with an IWAD chosen another way (the one a room plays).
fn doom_config_with(g: &GameArgs, args: Vec<String>, iwad: PathBuf) -> guest::DoomConfig {
    guest::DoomConfig {
        iwad,
        pwads: g.files.clone(),
        data_dir: data_dir(g),
        video: false,
        audio_rate: None,
        tics: g.tics,
        args,
    }
}

/// Runs a headless guest to its end: bot input if asked, lobby snapshots to stderr, and `start`
/// typed on stdin starts a lobby (what Space does natively). Without a view of the network.
fn play_headless(
    host: Arc<dyn HostIO>,
    sink: Option<&KernelSink>,
    cfg: &guest::DoomConfig,
    bot_seed: Option<u64>,
) -> Result<i32> {
    play_headless_net(host, sink, cfg, bot_seed, None)
}

/// How often a headless netgame prints its peers' figures.
const NET_REPORT_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// [`play_headless`] with the netgame's network: `chat TEXT` on stdin sends a chat line, chat
/// from the others is printed as `doomlink: chat NAME: TEXT`, and every ~2 s each peer as
/// `doomlink: net NAME path=P rtt=Nms loss=N% addr=A` (`-` where not known; tests parse these).
fn play_headless_net(
    host: Arc<dyn HostIO>,
    sink: Option<&KernelSink>,
    cfg: &guest::DoomConfig,
    bot_seed: Option<u64>,
    net: Option<Arc<dyn NetView>>,
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
        let net = net.clone();
        std::thread::spawn(move || {
            for line in std::io::stdin().lines().map_while(Result::ok) {
                let line = line.trim();
                if line == "start" {
                    lobby.send("start");
                } else if let Some(text) = line.strip_prefix("chat ") {
                    match &net {
                        Some(n) => {
                            if let Err(e) = n.send_chat(text.trim()) {
                                eprintln!("doomlink: chat not sent: {e}");
                            }
                        }
                        None => eprintln!("doomlink: chat not sent: not a netgame"),
                    }
                }
            }
        });
    }
    let mut chat_seen: Vec<ChatLine> = Vec::new();
    let mut last_report = std::time::Instant::now();
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
        let Some(n) = &net else { continue };
        let chat = n.chat();
        for l in new_chat_lines(&chat_seen, &chat) {
            if !l.mine {
                eprintln!("doomlink: chat {}: {}", l.from, l.text);
            }
        }
        chat_seen = chat;
        if last_report.elapsed() >= NET_REPORT_EVERY {
            last_report = std::time::Instant::now();
            for p in n.peers() {
                eprintln!("doomlink: net {}", net_report_line(&p));
            }
        }
    };
    stop.store(true, Ordering::Relaxed);
    if let Some(b) = bot {
        let _ = b.join();
    }
    Ok(report(status))
}

/// The lines of `now` that `before` did not have. Both are the newest lines of one bounded log,
/// so the new ones are what follows the longest end of `before` that `now` starts with.
fn new_chat_lines<'a>(before: &[ChatLine], now: &'a [ChatLine]) -> &'a [ChatLine] {
    let most = before.len().min(now.len());
    let overlap = (0..=most)
        .rev()
        .find(|&k| before[before.len() - k..] == now[..k])
        .unwrap_or(0);
    &now[overlap..]
}

/// `NAME path=P rtt=Nms loss=N% addr=A`, with `-` for what is not known.
fn net_report_line(p: &doomlink_play::netview::PeerStatus) -> String {
    let dash = || "-".to_string();
    format!(
        "{} path={} rtt={} loss={} addr={} in={} out={} drops={}",
        p.name.clone().unwrap_or_else(|| "?".into()),
        p.path.clone().unwrap_or_else(dash),
        p.rtt
            .map(|r| format!("{:.2}ms", r.as_secs_f64() * 1000.0))
            .unwrap_or_else(dash),
        p.loss
            .map(|l| format!("{:.0}%", l * 100.0))
            .unwrap_or_else(dash),
        p.guest_addr.map(|a| a.to_string()).unwrap_or_else(dash),
        p.dgrams_in,
        p.dgrams_out,
        p.drops,
    )
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
    let setup = doomlink_desktop::GameSetup {
        iwad: iwad::resolve_iwad(g.iwad.as_deref())?,
        pwads: Vec::new(),
        skill: None,
        warp: None,
        tics: g.tics,
        args: g.doom_args.clone(),
    };
    let data_dir = g.data_dir.clone().unwrap_or_else(guest::default_data_dir);
    let start = doomlink_desktop::StartWith::Game(setup);
    Ok(doomlink_desktop::run(
        start,
        data_dir,
        Arc::new(window_netplay()?),
        None,
    )?)
}

/// The window's network play: LAN, and Internet (`DOOMLINK_RTC_BIND`: tests bind WebRTC to
/// 127.0.0.1).
fn window_netplay() -> Result<doomlink_play::netplay::AppNetplay> {
    doomlink_play::netplay::AppNetplay::from_env().map_err(anyhow::Error::msg)
}

/// `doomlink host` / `join` without `--headless`: the window, straight into hosting or joining
/// as its Host and Join pages do, with the command line's sockets, name and servers.
fn net_window(
    g: &GameArgs,
    lan: &LanArgs,
    rtc: &RtcArgs,
    name: &Option<String>,
    rendezvous: Option<String>,
    action: doomlink_play::netplay::NetAction,
) -> Result<i32> {
    let mut netplay = window_netplay()?;
    netplay.lan.bind_ip = lan.lan_bind;
    netplay.lan.broadcast_ip = lan.lan_broadcast;
    if rtc.rtc_bind.is_some() {
        netplay.internet.rtc_bind = rtc.rtc_bind;
    }
    let start = doomlink_play::netplay::NetStart {
        setup: doomlink_desktop::GameSetup {
            iwad: iwad::resolve_iwad(g.iwad.as_deref())?,
            pwads: Vec::new(),
            skill: None,
            warp: None,
            tics: g.tics,
            args: g.doom_args.clone(),
        },
        player_name: name.clone(),
        rendezvous,
        rendezvous_ca_file: rtc.rendezvous_ca.clone(),
        ice_servers: internet::stun_servers(&rtc.stun)?,
        action,
    };
    let data_dir = g.data_dir.clone().unwrap_or_else(guest::default_data_dir);
    Ok(doomlink_desktop::run(
        doomlink_desktop::StartWith::Net(start),
        data_dir,
        Arc::new(netplay),
        None,
    )?)
}

fn lan_host(
    l: &LanArgs,
    name: &Option<String>,
    server: bool,
) -> Result<(Arc<LanHost>, Arc<KernelSink>)> {
    let sink = KernelSink::new();
    let name = name
        .clone()
        .unwrap_or_else(doomlink_play::netplay::lan::default_lan_name);
    let cfg = LanConfig {
        bind_ip: l.lan_bind,
        broadcast_ip: l.lan_broadcast,
        side: Some(doomlink_play::netplay::lan::lan_side_config(&name, server)),
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
        bail!(
            "say how to host: --lan, or --internet --rendezvous HOST:PORT, or --internet --manual"
        );
    }
    if a.internet && !a.manual && a.rendezvous.is_none() {
        bail!(
            "--internet needs --rendezvous HOST:PORT (or --manual, for codes with no rendezvous)"
        );
    }
    if a.manual && a.players.is_some_and(|n| n > 2) {
        bail!("a manual game takes one joiner: --players 2 at most (a rendezvous takes more)");
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
    let settings = GameSettings {
        players: a.players,
        ..a.options.settings()
    };
    if !a.game.headless {
        use doomlink_play::netplay::{HostOptions, NetAction, Transport};
        let options = HostOptions {
            game: GameSettings {
                // Without --players the game starts from the lobby (or when the game is full).
                players: Some(a.players.unwrap_or(if a.manual { 2 } else { 4 })),
                ..settings.clone()
            },
            port: a.port,
            transport: if a.internet {
                Transport::Internet
            } else {
                Transport::Lan
            },
            ..HostOptions::default()
        };
        let action = if a.manual {
            NetAction::HostManual(options)
        } else {
            NetAction::Host(options)
        };
        return net_window(
            &a.game,
            &a.lan_args,
            &a.rtc,
            &a.name,
            a.rendezvous.clone(),
            action,
        );
    }
    // What LAN browsers (lan-list, native -search) show for this game, unless the user set it.
    let title = a
        .name
        .as_deref()
        .map(|n| format!("{n}'s game"))
        .unwrap_or_else(|| "doomlink game".into());
    let named = a.game.doom_args.iter().any(|x| x == "-servername");
    let mut args = settings.server_args(ServerRole::Player {
        port: a.port,
        name: (!named).then_some(title.as_str()),
    });
    args.extend(name_args(&a.name));
    args.extend(a.game.doom_args.iter().cloned());
    let cfg = doom_config(&a.game, args)?;
    if a.internet {
        let rt = internet::runtime()?;
        let (session, files) = internet::session_config_sharing(
            a.name.as_deref().unwrap_or("host"),
            &cfg.iwad,
            &cfg.pwads,
            doomlink_play::wadshare::DEFAULT_SEND_CAP,
        )?;
        if a.manual {
            let (host, sink) = host_manual(&rt, &a.rtc, &cfg, session)?;
            let net: Arc<dyn NetView> = host.clone();
            return play_headless_net(host, Some(&sink), &cfg, a.game.bot_input, Some(net));
        }
        let rendezvous = a.rendezvous.as_deref().unwrap_or_default();
        let (host, sink, invite) = internet::host_with(
            &rt,
            rendezvous,
            &cfg.data_dir,
            session,
            a.rtc.rtc_bind,
            &a.rtc.stun,
            a.rtc.trust(),
            a.players.unwrap_or(0),
            Some(&settings),
            files,
        )?;
        // The link on a line of its own, for people and scripts to pick up.
        println!("{}", invite.to_doomlink_url());
        let net: Arc<dyn NetView> = host.clone();
        return play_headless_net(host, Some(&sink), &cfg, a.game.bot_input, Some(net));
    }
    // Joiners who lack the game's files get them on the game's port number (TCP); without the
    // service the game is still hosted (joiners then need the files already).
    let files_at = SocketAddr::from((a.lan_args.lan_bind, a.port));
    let _files = doomlink_play::lanfiles::serve_lan_files(
        files_at,
        &cfg.iwad,
        &cfg.pwads,
        doomlink_play::wadshare::DEFAULT_SEND_CAP,
    )
    .map_err(|e| eprintln!("doomlink: {e:#}; joiners must have the game's files"))
    .ok();
    let (host, sink) = lan_host(&a.lan_args, &a.name, true)?;
    // Native Chocolate Doom joiners cannot fetch: a lobby message names what the game plays.
    host.bridge
        .name_files_to_native_clients(&doomlink_play::lanfiles::game_file_names(
            &cfg.iwad, &cfg.pwads,
        ));
    let net: Arc<dyn NetView> = host.clone();
    play_headless_net(host, Some(&sink), &cfg, a.game.bot_input, Some(net))
}

/// `doomlink host --internet --manual`: the offer code on a line of its own on stdout, the
/// answer code from one line of stdin, then the link (later stdin lines go to the lobby).
fn host_manual(
    rt: &tokio::runtime::Runtime,
    rtc: &RtcArgs,
    cfg: &guest::DoomConfig,
    session: doomlink_net::Config,
) -> Result<(Arc<internet::InternetHost>, Arc<KernelSink>)> {
    use std::io::Write;
    let offer = internet::manual_offer(rt, &cfg.data_dir, session, rtc.rtc_bind, &rtc.stun)?;
    println!("{}", offer.code());
    std::io::stdout().flush()?;
    eprintln!("doomlink: send the offer code above to the joiner (doomlink join CODE) and paste their answer code here");
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer)? == 0 {
        bail!("no answer code on standard input");
    }
    offer.accept(rt, answer.trim())
}

/// `doomlink join ADDRESS[:PORT]`: connect our guest to a server on the LAN; `join LINK` or
/// `join CODE`: over WebRTC.
fn join(a: JoinArgs) -> Result<i32> {
    if !a.game.headless {
        // The Join page's own check: a bad link, code or address is one line, before the window.
        let target = doomlink_play::netplay::parse_join_target(&a.target)?;
        let action = doomlink_play::netplay::NetAction::Join(target.text().to_string());
        return net_window(&a.game, &a.lan_args, &a.rtc, &a.name, None, action);
    }
    let is_link = a.target.contains("://");
    let is_code = !is_link && internet::looks_like_code(&a.target);
    if is_link || is_code {
        let target = a.target.trim();
        // A damaged link or code is the decoder's one line, before anything else happens.
        let invite = if is_link {
            Some(doomlink_net::signaling::invite::InviteLink::parse(target)?)
        } else {
            internet::check_offer_code(target).context("the offer code")?;
            None
        };
        let rt = internet::runtime()?;
        let cache = doomlink_play::wadcache::WadCache::open(&data_dir(&a.game))
            .with_context(|| {
                format!(
                    "cannot make the WAD cache in {}",
                    data_dir(&a.game).display()
                )
            })?
            .watched(report_downloads());
        // The room says what it plays and who is in it: the IWAD that matches, or why none
        // does, now; then what this computer has and will download, or why the join cannot work.
        let (game, room) = match &invite {
            Some(invite) => doomlink_play::roomgame::peek_everything(&rt, invite, &a.rtc.trust()),
            None => Default::default(),
        };
        let given = a.game.iwad.as_deref();
        let cap = a.max_download.saturating_mul(1 << 20);
        // None: this computer lacks the room's IWAD, a free one the host sends.
        let iwad = doomlink_play::roomgame::iwad_for_game(&game, given, Some(&cache), cap)?;
        let cfg0 = doom_config_with(&a.game, Vec::new(), iwad.clone().unwrap_or_default());
        let name = a.name.as_deref().unwrap_or("player");
        // Its own PWADs count too: a host that plays them does not send them again.
        let (session, own) = match &iwad {
            Some(iwad) => (
                internet::session_config_sharing(name, iwad, &cfg0.pwads, 0)?.0,
                doomlink_play::wadshare::own_files(iwad, &cfg0.pwads)?,
            ),
            None => (
                internet::session_config_without_iwad(name, &cfg0.pwads)?,
                doomlink_play::wadshare::own_files_of(&cfg0.pwads)?,
            ),
        };
        let fetching = doomlink_play::wadshare::Fetching { own, cache, cap };
        if invite.is_some() {
            let preview = doomlink_play::roomgame::JoinPreview::new(&game, room, given, &fetching);
            if let Some(why) = preview.blocker() {
                bail!("{why}");
            }
            // On stdout: what the command found (stderr keeps progress and the one-line errors).
            for line in preview.lines() {
                println!("{line}");
            }
        }
        let (host, sink, hub) = match invite {
            Some(invite) => internet::join_with(
                &rt,
                &invite,
                session,
                a.rtc.rtc_bind,
                &a.rtc.stun,
                a.rtc.trust(),
                Some(fetching),
            )?,
            None => {
                use std::io::Write;
                let answer =
                    internet::manual_answer(&rt, target, session, a.rtc.rtc_bind, &a.rtc.stun)?;
                // The answer code on a line of its own, for people and scripts to pick up.
                println!("{}", answer.code());
                std::io::stdout().flush()?;
                eprintln!(
                    "doomlink: send the answer code above back to the host; waiting for the host"
                );
                answer.connect(&rt)?
            }
        };
        let mut args = vec!["-connect".to_string(), format!("{hub}:2342")];
        args.extend(name_args(&a.name));
        args.extend(a.game.doom_args.iter().cloned());
        // The host's list, when it named other files: those are what the game plays.
        let here = host.files_here();
        for name in &here.downloaded {
            eprintln!("doomlink: downloaded {name} from the host");
        }
        let cfg = match here.listed {
            true => guest::DoomConfig {
                args,
                iwad: here.iwad.unwrap_or(cfg0.iwad.clone()),
                pwads: here.pwads,
                ..cfg0
            },
            false => guest::DoomConfig { args, ..cfg0 },
        };
        if cfg.iwad.as_os_str().is_empty() {
            bail!("the host listed no IWAD, and this computer has none to play with");
        }
        let net: Arc<dyn NetView> = host.clone();
        return play_headless_net(host, Some(&sink), &cfg, a.game.bot_input, Some(net));
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
    // A doomlink host says what it plays and sends what this computer lacks; a native one
    // says nothing, and the game is played with this computer's files.
    let own_iwad = iwad::resolve_iwad(a.game.iwad.as_deref());
    let fetching = doomlink_play::wadshare::Fetching {
        own: match &own_iwad {
            Ok(iwad) => doomlink_play::wadshare::own_files(iwad, &a.game.files)?,
            Err(_) => doomlink_play::wadshare::own_files_of(&a.game.files)?,
        },
        cache: doomlink_play::wadcache::WadCache::open(&data_dir(&a.game))
            .with_context(|| {
                format!(
                    "cannot make the WAD cache in {}",
                    data_dir(&a.game).display()
                )
            })?
            .watched(report_downloads()),
        cap: a.max_download.saturating_mul(1 << 20),
    };
    let here = doomlink_play::lanfiles::fetch_lan_files(real, &fetching)?;
    let (host, sink) = lan_host(&a.lan_args, &a.name, false)?;
    let server = host.bridge.map_remote(real)?;
    let mut args = vec!["-connect".to_string(), server.to_string()];
    args.extend(name_args(&a.name));
    args.extend(a.game.doom_args.iter().cloned());
    let cfg = match here {
        Some(here) => {
            for name in &here.downloaded {
                eprintln!("doomlink: downloaded {name} from the host");
            }
            guest::DoomConfig {
                pwads: here.pwads,
                ..doom_config_with(&a.game, args, here.iwad.context("the host listed no IWAD")?)
            }
        }
        None => doom_config_with(&a.game, args, own_iwad?),
    };
    let net: Arc<dyn NetView> = host.clone();
    play_headless_net(host, Some(&sink), &cfg, a.game.bot_input, Some(net))
}

/// A download's progress for a joiner on a terminal: a line on stderr every 2 s while one
/// runs (the files' names and what came in at the end are printed by the join).
fn report_downloads() -> doomlink_play::wadcache::DownloadProgress {
    use doomlink_play::wadcache::DownloadProgress;
    let progress = DownloadProgress::default();
    let watched = progress.clone();
    let _ = std::thread::Builder::new()
        .name("download-progress".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(2));
            if let Some(p) = watched.get() {
                eprintln!("doomlink: downloading {}", DownloadProgress::line(&p));
            }
        });
    progress
}

/// `doomlink lan-list`: Chocolate Doom's own LAN query, one game a line on stdout.
fn lan_list(a: LanListArgs) -> Result<i32> {
    use doomlink_net::lan::query::{search, SearchConfig};
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
