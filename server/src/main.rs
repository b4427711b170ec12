//! `doomlink-server`: doomlink's server alone, for machines with no display: the rendezvous for
//! Internet play and dedicated rooms (`serve`), and rooms made on a running service (`room
//! create`). The same commands as `doomlink serve` and `doomlink room`, without the window.

#![forbid(unsafe_code)]

use clap::{Parser, Subcommand};
use doomlink_server::cli::{RoomArgs, ServeArgs};

#[derive(Parser)]
#[command(
    name = "doomlink-server",
    version,
    about = "doomlink's server: the rendezvous for Internet play and dedicated rooms"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the rendezvous for Internet play (signaling, STUN, TURN) and dedicated rooms.
    Serve(ServeArgs),
    /// Dedicated rooms on a running service: `room create --on HOST:PORT` (the token from --token-file or DOOMLINK_ADMIN_TOKEN).
    Room(RoomArgs),
}

fn main() {
    let cli = Cli::parse();
    doomlink_play::log::init(match cli.command {
        Command::Serve(_) => doomlink_play::log::SERVICE,
        Command::Room(_) => doomlink_play::log::PLAYER,
    });
    let result = match cli.command {
        Command::Serve(a) => doomlink_server::cli::serve(a),
        Command::Room(a) => doomlink_server::cli::room(a),
    };
    let code = match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("doomlink-server: {e:#}");
            1
        }
    };
    std::process::exit(code);
}
