"""core.arxiv_ids: new and old style ids, versions, arXiv: prefixes, abs/pdf URLs, invalid strings."""

from __future__ import annotations

import pytest

from dailypapers.core.arxiv_ids import (
    ArxivId,
    InvalidArxivId,
    abs_url,
    is_arxiv_id,
    parse_arxiv_id,
    pdf_url,
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # New style: 4 digits after the dot (2007-2014) and 5 digits (2015-).
        ("0704.0001", ("0704.0001", None)),
        ("1412.7725", ("1412.7725", None)),
        ("2501.01234", ("2501.01234", None)),
        ("2606.28729", ("2606.28729", None)),
        # Versions.
        ("2501.01234v1", ("2501.01234", 1)),
        ("2501.01234v12", ("2501.01234", 12)),
        ("0704.0001v2", ("0704.0001", 2)),
        # Old style, with and without subject class, with versions.
        ("hep-th/9901001", ("hep-th/9901001", None)),
        ("hep-th/9901001v3", ("hep-th/9901001", 3)),
        ("cond-mat/0102536", ("cond-mat/0102536", None)),
        ("math.GT/0309136", ("math.GT/0309136", None)),
        ("math.GT/0309136v2", ("math.GT/0309136", 2)),
        ("quant-ph/0201082v1", ("quant-ph/0201082", 1)),
        # The arXiv: prefix, in any case.
        ("arXiv:2501.01234", ("2501.01234", None)),
        ("arxiv:2501.01234v2", ("2501.01234", 2)),
        ("ARXIV:hep-th/9901001", ("hep-th/9901001", None)),
        ("arXiv:math.GT/0309136v1", ("math.GT/0309136", 1)),
        # Surrounding whitespace.
        ("  2501.01234v2\n", ("2501.01234", 2)),
    ],
)
def test_ids(text: str, expected: tuple[str, int | None]) -> None:
    parsed = parse_arxiv_id(text)
    assert parsed == ArxivId(*expected)
    assert (parsed.id, parsed.version) == expected
    assert is_arxiv_id(text)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://arxiv.org/abs/2501.01234", ("2501.01234", None)),
        ("http://arxiv.org/abs/2501.01234v3", ("2501.01234", 3)),
        ("https://www.arxiv.org/abs/2501.01234", ("2501.01234", None)),
        ("https://export.arxiv.org/abs/2501.01234v1", ("2501.01234", 1)),
        ("https://arxiv.org/abs/2501.01234/", ("2501.01234", None)),
        ("HTTPS://ARXIV.ORG/ABS/2501.01234", ("2501.01234", None)),
        # PDF links, with and without the .pdf suffix (the listing samples use both forms).
        ("https://arxiv.org/pdf/2606.28729", ("2606.28729", None)),
        ("https://arxiv.org/pdf/2509.13323.pdf", ("2509.13323", None)),
        ("https://arxiv.org/pdf/2501.01234v2", ("2501.01234", 2)),
        ("https://arxiv.org/pdf/2501.01234v2.pdf", ("2501.01234", 2)),
        ("https://arxiv.org/pdf/hep-th/9901001v1.pdf", ("hep-th/9901001", 1)),
        # Query strings and fragments are not part of the id.
        ("https://arxiv.org/abs/2501.01234?context=cs.LG", ("2501.01234", None)),
        ("https://arxiv.org/abs/2501.01234v2?context=cs", ("2501.01234", 2)),
        ("https://arxiv.org/pdf/2501.01234v2.pdf?download=1", ("2501.01234", 2)),
        ("https://arxiv.org/pdf/2501.01234.pdf#page=3", ("2501.01234", None)),
        ("https://arxiv.org/abs/2501.01234#S2", ("2501.01234", None)),
        ("https://arxiv.org/html/2501.01234v1", ("2501.01234", 1)),
    ],
)
def test_urls(url: str, expected: tuple[str, int | None]) -> None:
    assert tuple(parse_arxiv_id(url)) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "arXiv:",
        "2501.012",  # too few digits
        "2501.012345",  # too many digits
        "25010.1234",
        "2501-01234",
        "2501.01234v",  # version marker without number
        "2501.01234v2v3",
        "2501.01234 v2",
        "v2",
        "hep-th/990100",  # old style needs 7 digits
        "hep-th/99010012",
        "HEP-TH/9901001",
        "hep-th9901001",
        "/9901001",
        "https://example.org/abs/2501.01234",
        "https://arxiv.org/list/cs.LG/new",
        "https://arxiv.org/abs/",
        "doi:10.48550/arXiv.2501.01234",
        "2501.01234.tex",
        "not an id",
    ],
)
def test_invalid(text: str) -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(text)
    assert not is_arxiv_id(text)


def test_none_is_invalid() -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(None)  # type: ignore[arg-type]


def test_invalid_message_names_the_input_and_is_bounded() -> None:
    with pytest.raises(InvalidArxivId, match="not an arXiv id: 'hello'"):
        parse_arxiv_id("hello")
    with pytest.raises(InvalidArxivId) as info:
        parse_arxiv_id("x" * 10_000)
    assert len(str(info.value)) < 120


def test_invalid_is_a_value_error() -> None:
    assert issubclass(InvalidArxivId, ValueError)


@pytest.mark.parametrize(
    "text",
    [
        "2501.01234v2",
        "arXiv:2501.01234v2",
        "https://arxiv.org/abs/2501.01234v2",
        "https://arxiv.org/pdf/2501.01234v2.pdf?x=1",
    ],
)
def test_all_forms_of_one_paper_agree(text: str) -> None:
    assert parse_arxiv_id(text) == ("2501.01234", 2)


def test_urls_built_from_ids_parse_back() -> None:
    for arxiv_id, version in [("2501.01234", None), ("2501.01234", 3), ("hep-th/9901001", 2)]:
        assert abs_url(arxiv_id, version).startswith("https://arxiv.org/abs/")
        assert pdf_url(arxiv_id, version).startswith("https://arxiv.org/pdf/")
        assert parse_arxiv_id(abs_url(arxiv_id, version)) == (arxiv_id, version)
        assert parse_arxiv_id(pdf_url(arxiv_id, version)) == (arxiv_id, version)


def test_url_builders() -> None:
    assert abs_url("2501.01234") == "https://arxiv.org/abs/2501.01234"
    assert abs_url("2501.01234", 2) == "https://arxiv.org/abs/2501.01234v2"
    assert pdf_url("2501.01234") == "https://arxiv.org/pdf/2501.01234"
    assert pdf_url("hep-th/9901001", 1) == "https://arxiv.org/pdf/hep-th/9901001v1"


@pytest.mark.parametrize("text", ["٢٥٠١.٠١٢٣٤", "２５０１.０１２３４", "2501.01234v２"])
def test_non_ascii_digits_are_not_an_id(text: str) -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id(text)


def test_absurdly_long_old_style_archive_is_not_an_id() -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id("a" * 40 + "/1234567")


def test_absurd_version_is_not_an_id() -> None:
    with pytest.raises(InvalidArxivId):
        parse_arxiv_id("2501.01234v99999999999999999999")
