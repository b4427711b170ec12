//! One window per user: the first `doomlink` window listens on a Unix socket in the runtime dir;
//! a later `doomlink LINK` (a browser or `xdg-open` opening an invite link) hands the link to it
//! and exits, and the running window raises itself and opens the join. No second window.
//!
//! The wire is one line of UTF-8 per connection: the link, or an empty line for "just show
//! yourself". The listener answers `ok\n` once it has taken the line, so the sender knows it was
//! delivered before it exits. A socket file left by a crashed window is noticed (nobody accepts)
//! and replaced.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest line taken from the socket (an invite link is ~150 bytes).
const MAX_LINE: usize = 4096;

/// Why the single-instance socket could not be used.
#[derive(Debug, thiserror::Error)]
pub enum InstanceError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// The result of starting up.
pub enum Instance {
    /// Another window took the message; this process should exit.
    Forwarded,
    /// We are the window: messages from later starts arrive through this listener.
    Primary(Listener),
}

/// The socket of the running window.
pub struct Listener {
    socket: UnixListener,
    path: PathBuf,
}

/// Where the socket lives: `$XDG_RUNTIME_DIR/doomlink-DISPLAY.sock` (per user, private), else in
/// a private per-user directory in the temp dir (`/tmp/doomlink-UID/run`, 0700, refused if
/// another user made it: a socket planted there would take our links). One window per user *and display*: a second desktop session
/// (another X display or Wayland socket) gets its own window. `DOOMLINK_INSTANCE_SOCKET`
/// overrides it.
pub fn socket_path() -> Result<PathBuf, InstanceError> {
    if let Some(p) = std::env::var_os("DOOMLINK_INSTANCE_SOCKET") {
        return Ok(PathBuf::from(p));
    }
    let display = std::env::var("WAYLAND_DISPLAY")
        .or_else(|_| std::env::var("DISPLAY"))
        .unwrap_or_default();
    let display: String = display
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(Path::new(&dir).join(format!("doomlink-{display}.sock"))),
        None => doomlink_play::net::files::private_temp_dir("run")
            .map(|d| d.join(format!("doomlink-{display}.sock")))
            .map_err(|source| InstanceError::Io {
                path: std::env::temp_dir(),
                source,
            }),
    }
}

/// Hands `message` (a link, or "" to just raise the window) to a running window at `path`, or, if
/// none runs there, becomes the one.
pub fn forward_or_listen(path: &Path, message: &str) -> Result<Instance, InstanceError> {
    let io = |source| InstanceError::Io {
        path: path.to_owned(),
        source,
    };
    if let Ok(stream) = UnixStream::connect(path) {
        if forward(stream, message).is_ok() {
            return Ok(Instance::Forwarded);
        }
        // Connected but no answer: a window that is hung or closing. Take over.
    }
    // Nobody there (or a stale file from a crash): replace it.
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io)?;
    }
    let socket = UnixListener::bind(path).map_err(io)?;
    Ok(Instance::Primary(Listener {
        socket,
        path: path.to_owned(),
    }))
}

fn forward(mut stream: UnixStream, message: &str) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.set_write_timeout(Some(Duration::from_secs(3)))?;
    let line = message.replace(['\n', '\r'], "");
    stream.write_all(line.as_bytes())?;
    stream.write_all(b"\n")?;
    let mut answer = String::new();
    BufReader::new(stream).read_line(&mut answer)?;
    if answer.trim() == "ok" {
        Ok(())
    } else {
        Err(std::io::Error::other("no answer from the running doomlink"))
    }
}

impl Listener {
    /// Serves the socket on a thread for the life of the process: each message goes to
    /// `on_message` (the window's channel, which also wakes the UI).
    pub fn spawn(self, on_message: impl Fn(String) + Send + 'static) {
        let _ = std::thread::Builder::new()
            .name("doomlink-instance".into())
            .spawn(move || {
                for stream in self.socket.incoming() {
                    let Ok(stream) = stream else { continue };
                    if let Some(msg) = read_message(stream) {
                        on_message(msg);
                    }
                }
            });
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Reads one bounded line and answers `ok`. A client that sends junk or nothing in time is
/// dropped; the listener goes on.
fn read_message(stream: UnixStream) -> Option<String> {
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?).take(MAX_LINE as u64);
    let mut buf = Vec::new();
    reader.read_until(b'\n', &mut buf).ok()?;
    if buf.last() != Some(&b'\n') {
        return None;
    }
    buf.pop();
    let msg = String::from_utf8(buf).ok()?;
    let mut stream = stream;
    stream.write_all(b"ok\n").ok()?;
    Some(msg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;

    fn temp_socket(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("doomlink-si-{}-{tag}.sock", std::process::id()))
    }

    #[test]
    fn a_second_start_hands_its_link_to_the_first() {
        let path = temp_socket("fwd");
        let Instance::Primary(l) = forward_or_listen(&path, "").unwrap() else {
            panic!("the first start must listen");
        };
        let (tx, rx) = mpsc::channel();
        l.spawn(move |m| {
            let _ = tx.send(m);
        });
        let link = "doomlink://join/127.0.0.1:7342/abc?fp=x#y";
        assert!(matches!(
            forward_or_listen(&path, link).unwrap(),
            Instance::Forwarded
        ));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), link);
        // Junk on the socket does not stop it.
        let mut junk = UnixStream::connect(&path).unwrap();
        junk.write_all(&[0xff; 100]).unwrap();
        drop(junk);
        assert!(matches!(
            forward_or_listen(&path, "").unwrap(),
            Instance::Forwarded
        ));
        assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), "");
        let _ = std::fs::remove_file(&path);
    }

    #[test]
    fn a_stale_socket_file_is_replaced() {
        let path = temp_socket("stale");
        {
            let _dead = UnixListener::bind(&path).unwrap();
        } // dropped: the file stays, nobody accepts
        assert!(path.exists());
        assert!(matches!(
            forward_or_listen(&path, "x").unwrap(),
            Instance::Primary(_)
        ));
        let _ = std::fs::remove_file(&path);
    }
}
