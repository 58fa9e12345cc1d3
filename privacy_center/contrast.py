"""Colour contrast (WCAG 2.2): whether a colour can carry text, computed as the browsers see it."""

from __future__ import annotations

import re

HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
# WCAG 2.2 success criterion 1.4.3 (AA): normal text needs 4.5:1 against its background.
AA_TEXT = 4.5


def parse_hex(colour: str) -> tuple[int, int, int]:
    """``#1a2b3c`` or ``#abc`` as red, green and blue from 0 to 255."""
    if not isinstance(colour, str) or not HEX_COLOUR.match(colour):
        raise ValueError(f"{colour!r} is not a hex colour like #0b57d0")
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(digit * 2 for digit in digits)
    return int(digits[0:2], 16), int(digits[2:4], 16), int(digits[4:6], 16)


def relative_luminance(colour: str) -> float:
    def channel(value: int) -> float:
        c = value / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    red, green, blue = (channel(value) for value in parse_hex(colour))
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def contrast_ratio(first: str, second: str) -> float:
    """From 1 (the same colour) to 21 (black on white)."""
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)
