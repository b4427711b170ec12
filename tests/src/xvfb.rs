//! An Xvfb server of the test's own, for tests that look at a real window: each starts its own
//! (Xvfb picks a free display itself, so parallel tests never collide) and runs X tools in it.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// An Xvfb server of our own, stopped when dropped.
pub struct Xvfb {
    child: Child,
    pub display: String,
    /// Xvfb's stdout, kept open: it may write its display number again, and a closed pipe
    /// would kill it.
    _stdout: BufReader<std::process::ChildStdout>,
}

impl Xvfb {
    pub fn start() -> Xvfb {
        // -displayfd 1: Xvfb takes the first free display and writes its number on stdout.
        let mut child = Command::new("Xvfb")
            .args([
                "-displayfd",
                "1",
                "-screen",
                "0",
                "1280x800x24",
                "-nolisten",
                "tcp",
            ])
            // Without -noreset the server resets whenever its last client leaves (each
            // xdotool call before the app connects).
            .arg("-noreset")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("Xvfb runs (scripts/setup installs it)");
        let mut line = String::new();
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        stdout.read_line(&mut line).expect("Xvfb says its display");
        let n: u32 = line.trim().parse().unwrap_or_else(|_| {
            let _ = child.kill();
            panic!("Xvfb did not start: {line:?}")
        });
        Xvfb {
            child,
            display: format!(":{n}"),
            _stdout: stdout,
        }
    }

    pub fn cmd(&self, program: &str) -> Command {
        let mut c = Command::new(program);
        c.env("DISPLAY", &self.display);
        c
    }

    /// Runs a tool to its end and returns its stdout; panics with its stderr if it fails.
    pub fn tool(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .cmd(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Asks a window to close, as a window manager's close button does.
    pub fn close_window(&self, window: u32) {
        use x11rb::protocol::xproto::{ClientMessageEvent, ConnectionExt as _, EventMask};
        let (conn, _) = x11rb::connect(Some(&self.display)).expect("connect to Xvfb");
        let atom = |name: &[u8]| {
            conn.intern_atom(false, name)
                .expect("intern_atom")
                .reply()
                .expect("atom")
                .atom
        };
        let (protocols, delete) = (atom(b"WM_PROTOCOLS"), atom(b"WM_DELETE_WINDOW"));
        let ev = ClientMessageEvent::new(
            32,
            window,
            protocols,
            [delete, x11rb::CURRENT_TIME, 0, 0, 0],
        );
        conn.send_event(false, window, EventMask::NO_EVENT, ev)
            .expect("send_event")
            .check()
            .expect("the X server took the close message");
    }
}

impl Drop for Xvfb {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
