//! Chocolate Doom's netgame lobby as doom.wasm describes it on `/dev/lobby`
//! (assets/chocolate-doom/LOBBY.md): text records parsed into snapshots. The desktop's lobby
//! panel and the browser player's read the same records with this.

/// One lobby snapshot (the lines between `lobby` and `end`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LobbySnapshot {
    pub state: String,
    pub expected: u32,
    pub controller: bool,
    pub you: Option<usize>,
    pub players: u32,
    pub max_players: u32,
    pub names: Vec<(String, String)>,
    /// `(what, matches)` for `wad`, `deh`, `freedoom`.
    pub checks: Vec<(String, bool)>,
}

impl LobbySnapshot {
    pub fn launched(&self) -> bool {
        self.state == "launched"
    }
}

/// Decodes a percent-encoded field (`%20` → space; `%00` alone is the empty string).
pub fn decode_field(f: &str) -> String {
    if f == "%00" {
        return String::new();
    }
    let b = f.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Collects lines into snapshots.
#[derive(Default)]
pub struct LobbyReader {
    building: Option<LobbySnapshot>,
    pub latest: Option<LobbySnapshot>,
}

impl LobbyReader {
    pub fn line(&mut self, line: &str) {
        let mut fields = line.split(' ');
        let key = fields.next().unwrap_or("");
        let rest: Vec<&str> = fields.collect();
        let num = |i: usize| rest.get(i).and_then(|v| v.parse::<u32>().ok()).unwrap_or(0);
        if key == "lobby" {
            self.building = Some(LobbySnapshot::default());
            return;
        }
        if key == "end" {
            if let Some(s) = self.building.take() {
                self.latest = Some(s);
            }
            return;
        }
        let Some(s) = self.building.as_mut() else {
            return;
        };
        match key {
            "state" => s.state = rest.first().map(|v| decode_field(v)).unwrap_or_default(),
            "expected" => s.expected = num(0),
            "controller" => s.controller = num(0) == 1,
            "you" => s.you = rest.first().and_then(|v| v.parse().ok()),
            "players" => {
                s.players = num(0);
                s.max_players = num(1);
            }
            "player" => {
                let name = rest.get(1).map(|v| decode_field(v)).unwrap_or_default();
                let addr = rest.get(2).map(|v| decode_field(v)).unwrap_or_default();
                s.names.push((name, addr));
            }
            "wad" | "deh" | "freedoom" => {
                s.checks
                    .push((key.to_string(), rest.first() == Some(&"match")));
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_lobby_md_example() {
        let mut r = LobbyReader::default();
        for l in "lobby\nstate waiting\nexpected 0\ncontroller 1\nyou 0\nplayers 2 4\nobservers 0\n\
                  player 0 Fearless%20Pinky local%20server\nplayer 1 Sleepy%20Imp 10.13.0.2:49152\n\
                  wad match aa aa\ndeh mismatch bb cc\nend"
            .lines()
        {
            r.line(l.trim());
        }
        let s = r.latest.unwrap();
        assert_eq!(s.state, "waiting");
        assert!(s.controller);
        assert_eq!((s.players, s.max_players), (2, 4));
        assert_eq!(s.names[0], ("Fearless Pinky".into(), "local server".into()));
        assert_eq!(s.checks, vec![("wad".into(), true), ("deh".into(), false)]);
        assert_eq!(decode_field("%00"), "");
        assert_eq!(decode_field("100%25"), "100%");
    }
}
