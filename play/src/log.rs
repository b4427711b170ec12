//! One tracing subscriber for every doomlink command: `RUST_LOG` says what is shown (the
//! `tracing_subscriber` filter syntax, e.g. `RUST_LOG=debug` or `RUST_LOG=doomlink_net=trace`),
//! else the command's own default; lines go to stderr, coloured only on a terminal.

/// Installs the subscriber, once per process; `default` is the filter when `RUST_LOG` is unset
/// or unreadable ("info" for the service, whose log is its record; "warn" for a player).
pub fn init(default: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
