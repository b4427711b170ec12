//! The rendezvous's pages: its index, and the page behind the http form of an invite link,
//! which opens the `doomlink://` form and says how to get doomlink.
//!
//! The join page is static but for the room id (checked to be `[A-Za-z0-9_-]` before it gets
//! here); the secret and fingerprint stay in the browser: the script builds the `doomlink://`
//! link from `location`, and the fragment (the secret) is never sent to this server. A page
//! reached over https (this service's TLS, or a TLS proxy in front) adds `tls=1`: the app must
//! then speak `wss://` to the same host and port.

pub const INDEX: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>doomlink rendezvous</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>doomlink rendezvous</h1>
<p>This service introduces doomlink players to each other (WebRTC signaling, STUN and TURN).
It does not host games. To play, get doomlink and open an invite link a friend sends you.</p>
</body></html>
"#;

pub const NOT_FOUND: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Not an invite</title></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>This is not a doomlink invite</h1><p>Ask the host for a new link.</p></body></html>
"#;

/// The invite page for `room` (already validated). `browser_player`: this service serves the
/// browser player at `/play/`, and the page offers it beside the app (the whole link travels in
/// `/play/`'s fragment, so its secret is never sent to this server).
pub fn join_page(room: &str, https: bool, browser_player: bool) -> String {
    let _ = https;
    let (play, instead) = if browser_player {
        (
            r#"<p><a id="play" href="/play/"><strong>Play in the browser</strong></a>
(Chrome, Edge or Firefox; you need your own DOOM IWAD file, or Freedoom's)</p>"#,
            "Or play in the browser, above. ",
        )
    } else {
        ("", "")
    };
    format!(
        r##"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Join a doomlink game</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto">
<h1>You are invited to a doomlink game</h1>
<p>Room <code>{room}</code>. If doomlink is installed it opens now; if not, use a button.</p>
{play}
<p><a id="open" href="#">Open in doomlink</a></p>
<p>Or copy this link into doomlink's <em>Join</em> box:</p>
<p><input id="link" readonly size="60" onclick="this.select()"></p>
<h2>Don't have doomlink?</h2>
<p>{instead}doomlink is free software (GPL-3.0-or-later): Chocolate Doom in a small kernel,
played over the Internet with your friends. Install it from your distribution's packages or
build it from source with <code>cargo install doomlink</code>, then open this page again. You
need your own DOOM IWAD (the shareware <code>doom1.wad</code> works).</p>
<script>
  var query = location.search;
  if (location.protocol === "https:") {{ query += (query ? "&" : "?") + "tls=1"; }}
  var link = "doomlink://join/" + location.host + "/{room}" + query + location.hash;
  document.getElementById("link").value = link;
  document.getElementById("open").href = link;
  var play = document.getElementById("play");
  if (play) {{ play.href = "/play/#join=" + encodeURIComponent(location.href); }}
  if (location.hash.length > 1 && !play) {{ location.href = link; }}
</script>
</body></html>
"##
    )
}
