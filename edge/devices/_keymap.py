"""Key codes of a keyboard-wedge QR scanner → text, assembled into lines.

A USB QR scanner in keyboard mode "types" its payload with the US layout and ends with Enter.
What such a wedge can send, and so what this decoder understands:

- ASCII letters, digits and US-layout punctuation, with Shift (``|`` is Shift+Backslash) and
  Caps Lock; the numeric keypad's digits and operators.
- Characters outside ASCII (Vietnamese letters with diacritics) only when the scanner is set to
  emit them as Ctrl+Shift+U, hex digits, then a space (the Linux/IBus Unicode entry many scanners
  offer as "Linux Unicode" or "Unicode (Ctrl+Shift+U)" output). Windows Alt+numpad sequences are
  not understood on Linux. A scanner in plain keyboard mode drops or mangles diacritics; a
  payload with a key that has no US-layout meaning gets U+FFFD so that parsing fails visibly
  rather than silently. For full UTF-8, a scanner in USB-serial (CDC) mode is the better choice.

A pause longer than ``timeout`` between two keys discards the partial line (a person typing on a
keyboard mistaken for a scanner, or a scan cut off).
"""

from __future__ import annotations

from edge.errors import ValidationError

KEY_ENTER, KEY_KPENTER = 28, 96
KEY_LEFTSHIFT, KEY_RIGHTSHIFT = 42, 54
KEY_LEFTCTRL, KEY_RIGHTCTRL = 29, 97
KEY_LEFTALT, KEY_RIGHTALT = 56, 100
KEY_CAPSLOCK = 58
KEY_SPACE = 57
KEY_U = 22
KEY_BACKSPACE = 14

# code: (plain, shifted)
US_KEYS: dict[int, tuple[str, str]] = {
    2: ("1", "!"), 3: ("2", "@"), 4: ("3", "#"), 5: ("4", "$"), 6: ("5", "%"), 7: ("6", "^"),
    8: ("7", "&"), 9: ("8", "*"), 10: ("9", "("), 11: ("0", ")"), 12: ("-", "_"), 13: ("=", "+"),
    15: ("\t", "\t"),
    16: ("q", "Q"), 17: ("w", "W"), 18: ("e", "E"), 19: ("r", "R"), 20: ("t", "T"),
    21: ("y", "Y"), 22: ("u", "U"), 23: ("i", "I"), 24: ("o", "O"), 25: ("p", "P"),
    26: ("[", "{"), 27: ("]", "}"),
    30: ("a", "A"), 31: ("s", "S"), 32: ("d", "D"), 33: ("f", "F"), 34: ("g", "G"),
    35: ("h", "H"), 36: ("j", "J"), 37: ("k", "K"), 38: ("l", "L"), 39: (";", ":"),
    40: ("'", '"'), 41: ("`", "~"), 43: ("\\", "|"),
    44: ("z", "Z"), 45: ("x", "X"), 46: ("c", "C"), 47: ("v", "V"), 48: ("b", "B"),
    49: ("n", "N"), 50: ("m", "M"), 51: (",", "<"), 52: (".", ">"), 53: ("/", "?"),
    57: (" ", " "),
    55: ("*", "*"), 74: ("-", "-"), 78: ("+", "+"), 98: ("/", "/"), 117: ("=", "="),
    71: ("7", "7"), 72: ("8", "8"), 73: ("9", "9"), 75: ("4", "4"), 76: ("5", "5"),
    77: ("6", "6"), 79: ("1", "1"), 80: ("2", "2"), 81: ("3", "3"), 82: ("0", "0"),
    83: (".", "."),
    86: ("<", ">"),  # the ISO key next to left Shift, as the US layout maps it
}
_MODIFIERS = {KEY_LEFTSHIFT, KEY_RIGHTSHIFT, KEY_LEFTCTRL, KEY_RIGHTCTRL, KEY_LEFTALT,
              KEY_RIGHTALT}
_HEX = set("0123456789abcdefABCDEF")
REPLACEMENT = "\ufffd"


class LineAssembler:
    """Feed evdev key events (code, value, timestamp); get back each completed line."""

    def __init__(self, *, timeout: float = 0.3, max_length: int = 2048) -> None:
        self.timeout = timeout
        self.max_length = max_length
        self._chars: list[str] = []
        self._held: set[int] = set()
        self._caps = False
        self._unicode: list[str] | None = None
        self._last: float | None = None
        self.discarded = 0  # partial lines dropped after a pause (counted, never logged)

    def reset(self) -> None:
        self._chars.clear()
        self._unicode = None

    @property
    def pending(self) -> bool:
        return bool(self._chars) or self._unicode is not None

    def feed(self, code: int, value: int, timestamp: float) -> str | None:
        """Process one EV_KEY event; returns the line when Enter completes one."""
        if value == 0:
            self._held.discard(code)
            return None
        if code in _MODIFIERS:
            self._held.add(code)
            return None
        if self._last is not None and timestamp - self._last > self.timeout and self.pending:
            self.discarded += 1
            self.reset()
        self._last = timestamp
        shift = bool(self._held & {KEY_LEFTSHIFT, KEY_RIGHTSHIFT})
        ctrl = bool(self._held & {KEY_LEFTCTRL, KEY_RIGHTCTRL})
        if code == KEY_CAPSLOCK:
            self._caps = not self._caps
            return None
        if ctrl and shift and code == KEY_U:
            self._commit_unicode()
            self._unicode = []
            return None
        if self._unicode is not None:
            plain = US_KEYS.get(code, ("", ""))[0]
            if plain in _HEX and plain and len(self._unicode) < 6:
                self._unicode.append(plain)
                return None
            self._commit_unicode()
            if code == KEY_SPACE:
                return None
        if code in (KEY_ENTER, KEY_KPENTER):
            line = "".join(self._chars)
            self._chars.clear()
            return line if line else None
        if code == KEY_BACKSPACE:
            if self._chars:
                self._chars.pop()
            return None
        if ctrl or self._held & {KEY_LEFTALT, KEY_RIGHTALT}:
            self._append(REPLACEMENT)
            return None
        pair = US_KEYS.get(code)
        if pair is None:
            self._append(REPLACEMENT)
            return None
        char = pair[1] if shift else pair[0]
        if self._caps and char.isalpha():
            char = char.swapcase()
        self._append(char)
        return None

    def _commit_unicode(self) -> None:
        if self._unicode is None:
            return
        digits, self._unicode = "".join(self._unicode), None
        try:
            self._append(chr(int(digits, 16)) if digits else REPLACEMENT)
        except (ValueError, OverflowError):
            self._append(REPLACEMENT)

    def _append(self, char: str) -> None:
        if len(self._chars) >= self.max_length:
            self.reset()
            raise ValidationError("qr", f"payload longer than {self.max_length} characters",
                                  message_vi="Mã QR quá dài, không phải mã của thẻ CCCD.")
        self._chars.append(char)
