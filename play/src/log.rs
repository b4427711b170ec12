//! One tracing subscriber for every doomlink command: `RUST_LOG` says what is shown (the
//! `tracing_subscriber` filter syntax, e.g. `RUST_LOG=debug` or `RUST_LOG=doomlink_net=trace`),
//! else the command's own default; lines go to stderr, coloured only on a terminal.

/// The filter of a player's commands (the window, host, join, …): doomlink's own warnings, and
/// nothing of the crates under it, whose WebRTC stack logs every failed send as an error (a
/// firewalled joiner would get screens of them before its one-line reason).
pub const PLAYER: &str = "off,doomlink=warn,doomlink_net=warn,doomlink_play=warn,\
    doomlink_kernel=warn,doomlink_desktop=warn,doomlink_server=warn";

/// The filter of `serve`: everything at info, the service's log being its record.
pub const SERVICE: &str = "info";

/// Installs the subscriber, once per process; `default` ([`PLAYER`] or [`SERVICE`]) is the
/// filter when `RUST_LOG` is unset or unreadable.
pub fn init(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
