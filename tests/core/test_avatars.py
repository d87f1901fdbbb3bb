"""core.avatars: a deterministic, self-contained SVG identicon per username."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from dailypapers.core.avatars import avatar_svg

SVG = "{http://www.w3.org/2000/svg}"
NAMES = ["alice", "bob", "carol", "dave", "<script>alert(1)</script>", "\"'&", "名前", ""]


def test_same_username_same_picture():
    assert avatar_svg("alice") == avatar_svg("alice")
    assert avatar_svg("Alice") == avatar_svg("alice")  # usernames are case-insensitive


def test_different_users_differ():
    pictures = {avatar_svg(f"member{i}") for i in range(50)}
    assert len(pictures) == 50


@pytest.mark.parametrize("username", NAMES)
def test_well_formed_standalone_svg(username):
    document = avatar_svg(username)
    root = ET.fromstring(document)
    assert root.tag == f"{SVG}svg"
    # Only drawing elements, no text at all: nothing from the username reaches the document.
    assert {element.tag for element in root.iter()} <= {f"{SVG}svg", f"{SVG}rect", f"{SVG}path"}
    assert all(not (element.text or "").strip() for element in root.iter())


@pytest.mark.parametrize("username", NAMES)
def test_no_script_or_external_reference(username):
    document = avatar_svg(username).lower()
    for forbidden in ("<script", "href", "url(", "javascript:", "<foreignobject", "<image", "<style", " on"):
        assert forbidden not in document
    assert document.count("http://") == 1  # the xmlns namespace name, which is never fetched
    assert "https://" not in document


@pytest.mark.parametrize("size", [16, 64, 200])
def test_size_honoured(size):
    root = ET.fromstring(avatar_svg("alice", size=size))
    assert root.get("width") == root.get("height") == str(size)


def test_grid_is_mirrored():
    for username in ("alice", "bob", "carol"):
        path = ET.fromstring(avatar_svg(username)).find(f"{SVG}path")
        assert path is not None
        cells = {
            (float(x), float(y))
            for x, y in (move.split("h")[0].split() for move in path.get("d", "").split("M")[1:])
        }
        assert cells == {(5.0 - x, y) for x, y in cells}  # column c mirrors column 4 - c (offset 0.5)


def test_rejects_a_size_below_one():
    with pytest.raises(ValueError):
        avatar_svg("alice", size=0)
