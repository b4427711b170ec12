//! The keyboard: egui keys (by physical position, so WASD-style bindings stay put on any layout)
//! to Doom's key codes (doomkeys.h), and the set of keys the guest currently believes are held, so
//! that every one of them can be let go when the window loses focus.

use doomlink_play::kernel::devices::InputEvent;
use eframe::egui::Key;

// Doom key codes (Chocolate Doom's src/doomkeys.h).
pub const KEY_RIGHTARROW: i32 = 0xae;
pub const KEY_LEFTARROW: i32 = 0xac;
pub const KEY_UPARROW: i32 = 0xad;
pub const KEY_DOWNARROW: i32 = 0xaf;
pub const KEY_ESCAPE: i32 = 27;
pub const KEY_ENTER: i32 = 13;
pub const KEY_TAB: i32 = 9;
pub const KEY_F1: i32 = 0x80 + 0x3b;
pub const KEY_F11: i32 = 0x80 + 0x57;
pub const KEY_F12: i32 = 0x80 + 0x58;
pub const KEY_BACKSPACE: i32 = 0x7f;
pub const KEY_PAUSE: i32 = 0xff;
pub const KEY_EQUALS: i32 = 0x3d;
pub const KEY_MINUS: i32 = 0x2d;
pub const KEY_RSHIFT: i32 = 0x80 + 0x36;
pub const KEY_RCTRL: i32 = 0x80 + 0x1d;
pub const KEY_RALT: i32 = 0x80 + 0x38;
pub const KEY_CAPSLOCK: i32 = 0x80 + 0x3a;
pub const KEY_NUMLOCK: i32 = 0x80 + 0x45;
pub const KEY_SCRLCK: i32 = 0x80 + 0x46;
pub const KEY_PRTSCR: i32 = 0x80 + 0x59;
pub const KEY_HOME: i32 = 0x80 + 0x47;
pub const KEY_END: i32 = 0x80 + 0x4f;
pub const KEY_PGUP: i32 = 0x80 + 0x49;
pub const KEY_PGDN: i32 = 0x80 + 0x51;
pub const KEY_INS: i32 = 0x80 + 0x52;
pub const KEY_DEL: i32 = 0x80 + 0x53;

/// The Doom key code for an egui key, or `None` for keys Doom has no code for.
pub fn doom_key(key: Key) -> Option<i32> {
    use Key::*;
    let ascii = |c: u8| Some(c as i32);
    match key {
        ArrowUp => Some(KEY_UPARROW),
        ArrowDown => Some(KEY_DOWNARROW),
        ArrowLeft => Some(KEY_LEFTARROW),
        ArrowRight => Some(KEY_RIGHTARROW),
        Escape => Some(KEY_ESCAPE),
        Tab => Some(KEY_TAB),
        Backspace => Some(KEY_BACKSPACE),
        Enter => Some(KEY_ENTER),
        Space => ascii(b' '),
        Insert => Some(KEY_INS),
        Delete => Some(KEY_DEL),
        Home => Some(KEY_HOME),
        End => Some(KEY_END),
        PageUp => Some(KEY_PGUP),
        PageDown => Some(KEY_PGDN),
        Minus => Some(KEY_MINUS),
        Equals => Some(KEY_EQUALS),
        Plus => ascii(b'+'),
        Comma => ascii(b','),
        Period => ascii(b'.'),
        Slash => ascii(b'/'),
        Backslash => ascii(b'\\'),
        Semicolon => ascii(b';'),
        Quote => ascii(b'\''),
        Backtick => ascii(b'`'),
        OpenBracket => ascii(b'['),
        CloseBracket => ascii(b']'),
        Num0 => ascii(b'0'),
        Num1 => ascii(b'1'),
        Num2 => ascii(b'2'),
        Num3 => ascii(b'3'),
        Num4 => ascii(b'4'),
        Num5 => ascii(b'5'),
        Num6 => ascii(b'6'),
        Num7 => ascii(b'7'),
        Num8 => ascii(b'8'),
        Num9 => ascii(b'9'),
        A => ascii(b'a'),
        B => ascii(b'b'),
        C => ascii(b'c'),
        D => ascii(b'd'),
        E => ascii(b'e'),
        F => ascii(b'f'),
        G => ascii(b'g'),
        H => ascii(b'h'),
        I => ascii(b'i'),
        J => ascii(b'j'),
        K => ascii(b'k'),
        L => ascii(b'l'),
        M => ascii(b'm'),
        N => ascii(b'n'),
        O => ascii(b'o'),
        P => ascii(b'p'),
        Q => ascii(b'q'),
        R => ascii(b'r'),
        S => ascii(b's'),
        T => ascii(b't'),
        U => ascii(b'u'),
        V => ascii(b'v'),
        W => ascii(b'w'),
        X => ascii(b'x'),
        Y => ascii(b'y'),
        Z => ascii(b'z'),
        F1 => Some(KEY_F1),
        F2 => Some(KEY_F1 + 1),
        F3 => Some(KEY_F1 + 2),
        F4 => Some(KEY_F1 + 3),
        F5 => Some(KEY_F1 + 4),
        F6 => Some(KEY_F1 + 5),
        F7 => Some(KEY_F1 + 6),
        F8 => Some(KEY_F1 + 7),
        F9 => Some(KEY_F1 + 8),
        F10 => Some(KEY_F1 + 9),
        F11 => Some(KEY_F11),
        F12 => Some(KEY_F12),
        // Doom has one code per modifier: either shift runs, either ctrl fires, either alt strafes.
        ShiftLeft | ShiftRight => Some(KEY_RSHIFT),
        ControlLeft | ControlRight => Some(KEY_RCTRL),
        AltLeft | AltRight => Some(KEY_RALT),
        CapsLock => Some(KEY_CAPSLOCK),
        NumLock => Some(KEY_NUMLOCK),
        ScrollLock => Some(KEY_SCRLCK),
        PrintScreen => Some(KEY_PRTSCR),
        Pause => Some(KEY_PAUSE),
        _ => None,
    }
}

/// The character a key types on a US layout, for `data3` when the platform sent no text with the
/// key (it sends none while Ctrl is held, for instance).
fn typed_char(code: i32, shift: bool) -> i32 {
    match u8::try_from(code) {
        Ok(c @ b'a'..=b'z') if shift => c.to_ascii_uppercase() as i32,
        Ok(c) if (b' '..=b'~').contains(&c) => c as i32,
        _ => 0,
    }
}

/// Builds Doom key events from egui's and remembers which keys are down on the guest's side.
#[derive(Default)]
pub struct Keyboard {
    held: Vec<i32>,
    /// The index in the output of the last key-down still waiting for the text it typed.
    awaiting_text: Option<usize>,
}

impl Keyboard {
    /// A key press or release, by physical key (falling back to the logical one for keys that
    /// have no position, e.g. media keys).
    pub fn key(
        &mut self,
        physical: Option<Key>,
        logical: Key,
        pressed: bool,
        shift: bool,
        out: &mut Vec<InputEvent>,
    ) {
        let Some(code) = physical.and_then(doom_key).or_else(|| doom_key(logical)) else {
            return;
        };
        if pressed {
            // data2: the key as labelled on the user's layout, when it differs (0 = same).
            let label = doom_key(logical).filter(|&l| l != code).unwrap_or(0);
            let mut ev = InputEvent::key_down(code);
            ev.data2 = label;
            ev.data3 = typed_char(code, shift);
            if !self.held.contains(&code) {
                self.held.push(code);
            }
            self.awaiting_text = Some(out.len());
            out.push(ev);
        } else {
            self.awaiting_text = None;
            self.held.retain(|&k| k != code);
            out.push(InputEvent::key_up(code));
        }
    }

    /// Text the platform says the last key typed (with the user's layout and modifiers):
    /// becomes that key-down's `data3`, which chat and savegame names use.
    pub fn text(&mut self, text: &str, out: &mut [InputEvent]) {
        let Some(i) = self.awaiting_text.take() else {
            return;
        };
        let mut chars = text.chars();
        if let (Some(c), None) = (chars.next(), chars.next()) {
            if c.is_ascii() && !c.is_ascii_control() {
                if let Some(ev) = out.get_mut(i) {
                    ev.data3 = c as i32;
                }
            }
        }
    }

    /// Releases every key the guest thinks is held (the window lost focus: the release would
    /// otherwise never come and the player would run forever).
    pub fn release_all(&mut self, out: &mut Vec<InputEvent>) {
        self.awaiting_text = None;
        out.extend(self.held.drain(..).map(InputEvent::key_up));
    }

    /// Forgets the output indices of this frame (the caller sent the events).
    pub fn end_frame(&mut self) {
        self.awaiting_text = None;
    }

    pub fn held(&self) -> &[i32] {
        &self.held
    }
}

/// What each of Doom's default controls is, for the Settings screen (Chocolate Doom's defaults;
/// the game's own Options menu and default.cfg in the data dir change them).
pub const DEFAULT_BINDINGS: &[(&str, &str)] = &[
    ("Move forward / back", "↑ / ↓"),
    ("Turn left / right", "← / →"),
    ("Strafe left / right", ", / .  (or Alt + ← / →)"),
    ("Fire", "Ctrl, left mouse button"),
    ("Use (open doors, switches)", "Space"),
    ("Run", "Shift"),
    ("Strafe", "Alt, right mouse button"),
    ("Weapons", "1 – 7"),
    ("Automap", "Tab"),
    ("Menu", "Esc"),
    ("Help, save, load and more", "F1 – F10"),
    ("Chat (netgames)", "T"),
    ("Pause", "Pause"),
    ("Fullscreen (doomlink)", "F11 or Alt + Enter"),
    (
        "Grab / release the mouse (doomlink)",
        "click the game / Esc",
    ),
];

#[cfg(test)]
mod tests {
    use super::*;
    use doomlink_play::kernel::devices::EventType;

    #[test]
    fn game_keys_map_to_doomkeys_h() {
        assert_eq!(doom_key(Key::ArrowUp), Some(0xad));
        assert_eq!(doom_key(Key::ControlLeft), Some(0x9d));
        assert_eq!(doom_key(Key::ControlRight), Some(0x9d));
        assert_eq!(doom_key(Key::ShiftLeft), Some(0xb6));
        assert_eq!(doom_key(Key::AltLeft), Some(0xb8));
        assert_eq!(doom_key(Key::Space), Some(b' ' as i32));
        assert_eq!(doom_key(Key::Escape), Some(27));
        assert_eq!(doom_key(Key::Tab), Some(9));
        assert_eq!(doom_key(Key::F1), Some(0xbb));
        assert_eq!(doom_key(Key::F10), Some(0xc4));
        assert_eq!(doom_key(Key::F12), Some(0xd8));
        assert_eq!(doom_key(Key::Num7), Some(b'7' as i32));
        assert_eq!(doom_key(Key::I), Some(b'i' as i32));
        assert_eq!(doom_key(Key::Equals), Some(0x3d));
        assert_eq!(doom_key(Key::BrowserBack), None);
    }

    #[test]
    fn physical_position_wins_and_the_label_goes_in_data2() {
        // The key where a US keyboard has Q, labelled A on an AZERTY layout.
        let mut kb = Keyboard::default();
        let mut out = Vec::new();
        kb.key(Some(Key::Q), Key::A, true, false, &mut out);
        assert_eq!(out[0].kind, EventType::KeyDown);
        assert_eq!((out[0].data1, out[0].data2), (b'q' as i32, b'a' as i32));
    }

    #[test]
    fn typed_text_fills_data3_and_focus_loss_releases_everything() {
        let mut kb = Keyboard::default();
        let mut out = Vec::new();
        kb.key(Some(Key::ArrowUp), Key::ArrowUp, true, false, &mut out);
        kb.key(Some(Key::ShiftLeft), Key::ShiftLeft, true, false, &mut out);
        kb.key(Some(Key::A), Key::A, true, true, &mut out);
        kb.text("A", &mut out);
        assert_eq!(out[2].data3, b'A' as i32);
        kb.key(Some(Key::A), Key::A, false, true, &mut out);
        // Repeats do not duplicate the held set.
        kb.key(Some(Key::ArrowUp), Key::ArrowUp, true, false, &mut out);
        assert_eq!(kb.held(), &[KEY_UPARROW, KEY_RSHIFT]);
        out.clear();
        kb.release_all(&mut out);
        assert_eq!(
            out,
            vec![
                InputEvent::key_up(KEY_UPARROW),
                InputEvent::key_up(KEY_RSHIFT)
            ]
        );
        assert!(kb.held().is_empty());
    }
}
