"""Member avatars: an identicon drawn here from the username, so showing one sends no request off the site."""

from __future__ import annotations

import colorsys
import hashlib

GRID = 5  # cells a side; the left half (with the middle column) is drawn, the right half mirrors it
BACKGROUND = "#f0f0f0"


def _colour(digest: bytes) -> str:
    # Any hue; saturation and lightness kept in a band that reads well on the light background.
    hue = int.from_bytes(digest[0:2], "big") / 65536
    lightness = 0.40 + digest[2] / 255 * 0.15
    saturation = 0.45 + digest[3] / 255 * 0.20
    red, green, blue = colorsys.hls_to_rgb(hue, lightness, saturation)
    return f"#{round(red * 255):02x}{round(green * 255):02x}{round(blue * 255):02x}"


def _cells(digest: bytes) -> list[tuple[int, int]]:
    """The filled (column, row) cells: one bit of the hash per cell of the left half, mirrored."""
    bits = int.from_bytes(digest[4:8], "big")
    half = (GRID + 1) // 2
    cells = []
    for column in range(half):
        for row in range(GRID):
            if bits >> (column * GRID + row) & 1:
                cells.append((column, row))
                if column != GRID - 1 - column:
                    cells.append((GRID - 1 - column, row))
    return sorted(cells)


def avatar_svg(username: str, size: int = 64) -> str:
    """A standalone SVG identicon for a username: the same name always gives the same picture.

    Case-insensitive, as usernames are; the document holds no text, link or script, so it is safe to
    serve as image/svg+xml under a strict Content-Security-Policy.
    """
    if size < 1:
        raise ValueError(f"avatar size must be positive, not {size}")
    digest = hashlib.sha256(username.casefold().encode("utf-8", "surrogatepass")).digest()
    # One path of unit squares on a grid with half a cell of margin all round.
    path = "".join(f"M{column + 0.5} {row + 0.5}h1v1h-1z" for column, row in _cells(digest))
    side = GRID + 1
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
        f'viewBox="0 0 {side} {side}" shape-rendering="crispEdges">'
        f'<rect width="{side}" height="{side}" fill="{BACKGROUND}"/>'
        f'<path fill="{_colour(digest)}" d="{path}"/>'
        "</svg>"
    )
