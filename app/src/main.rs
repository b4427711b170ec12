//! `doomlink`: the command line and the app. It only wires the other crates together: the kernel
//! (doomlink-kernel), the guest (doomlink-assets' doom.wasm), the relay (doomlink-net) and the
//! window (eframe/egui).

mod bot;
mod guest;
mod iwad;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use doomlink_kernel::{ExitStatus, HostStderr, HostStdout, NoNetwork};
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
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
}

#[derive(Args)]
struct RunArgs {
    #[command(flatten)]
    game: GameArgs,
    /// Chocolate Doom's own arguments, after `--`.
    #[arg(last = true)]
    doom_args: Vec<String>,
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
        None => anyhow::bail!("the window is not built yet; use `doomlink run --headless`"),
    }
}

/// `doomlink run`: one local game.
fn run(a: RunArgs) -> Result<i32> {
    let iwad = iwad::resolve_iwad(a.game.iwad.as_deref())?;
    let data_dir = a
        .game
        .data_dir
        .clone()
        .unwrap_or_else(guest::default_data_dir);
    if !a.game.headless {
        anyhow::bail!("the window is not built yet; use `doomlink run --headless`");
    }
    let (kernel, module) = guest::boot(Arc::new(NoNetwork))?;
    let cfg = guest::DoomConfig {
        iwad,
        pwads: Vec::new(),
        data_dir,
        video: false,
        audio_rate: None,
        tics: a.game.tics,
        args: a.doom_args,
    };
    let g = guest::DoomGuest::start(
        &kernel,
        &module,
        &cfg,
        Arc::new(HostStdout),
        Arc::new(HostStderr),
    )
    .context("starting Chocolate Doom")?;
    let stop = Arc::new(AtomicBool::new(false));
    let bot = a
        .game
        .bot_input
        .map(|seed| bot::spawn(seed, g.input.clone(), stop.clone()));
    let status = g.process.wait();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    if let Some(b) = bot {
        let _ = b.join();
    }
    Ok(report(status))
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
