"""Dovecot's dovecot-uidlist (versions 3 and 1) and dovecot-keywords files."""

from __future__ import annotations

import pytest

from tidings.migrate.uidlist import (
    Uidlist,
    basename_of,
    format_keywords,
    format_uidlist,
    parse_keywords,
    parse_uidlist,
)

V3 = (
    b"3 V1275660208 N25022 G3085f01b7f11094c501100008c4a11c1\n"
    b"25020 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n"
    b"25021 W1394 S1355 :1276533073.M242911P3632.kurkku:2,F\n"
    b"25000 :1276500000.M1P1.kurkku\n"
    b"not a line\n"
    b"0 :zero.uid\n"
    b"\n"
)


def test_version_3() -> None:
    uidlist = parse_uidlist(V3)
    assert uidlist == Uidlist(
        uidvalidity=1275660208,
        next_uid=25022,
        entries=(
            (25000, "1276500000.M1P1.kurkku"),
            (25020, "1276528487.M364837P9451.kurkku,S=1355,W=1394"),
            (25021, "1276533073.M242911P3632.kurkku"),
        ),
        guid="3085f01b7f11094c501100008c4a11c1",
        bad_lines=(5, 6),
    )
    assert uidlist.uid_by_basename()["1276533073.M242911P3632.kurkku"] == 25021


def test_version_3_fields_in_any_order() -> None:
    uidlist = parse_uidlist(b"3 N7 X1 V42\n5 :a\n")
    assert (uidlist.uidvalidity, uidlist.next_uid, uidlist.guid) == (42, 7, None)


def test_version_1_courier_format() -> None:
    uidlist = parse_uidlist(b"1 1011231234 4\n1 1011231230.123_1.host:2,S\n3 1011231231.9_2.host\n")
    assert uidlist.uidvalidity == 1011231234
    assert uidlist.next_uid == 4
    assert uidlist.entries == ((1, "1011231230.123_1.host"), (3, "1011231231.9_2.host"))


@pytest.mark.parametrize("data", [b"", b"2 12 13\n", b"3 N5\n", b"1 x 5\n", b"3 V1 Nz\n"])
def test_bad_headers_are_refused(data: bytes) -> None:
    with pytest.raises(ValueError, match="dovecot-uidlist"):
        parse_uidlist(data)


def test_format_parses_back() -> None:
    entries = [(9, "b,S=3"), (2, "a")]
    data = format_uidlist(77, 10, entries)
    assert data == b"3 V77 N10\n2 :a\n9 :b,S=3\n"
    assert parse_uidlist(data) == Uidlist(77, 10, ((2, "a"), (9, "b,S=3")))


def test_non_utf8_file_names_match_listdir() -> None:
    uidlist = parse_uidlist(b"3 V1 N2\n1 :caf\xe9:2,S\n")
    assert uidlist.entries == ((1, "caf\udce9"),)
    assert format_uidlist(1, 2, uidlist.entries) == b"3 V1 N2\n1 :caf\xe9\n"


def test_basename() -> None:
    assert basename_of("123.M1P2.host,S=5:2,RS") == "123.M1P2.host,S=5"
    assert basename_of("123.M1P2.host") == "123.M1P2.host"


def test_keywords() -> None:
    data = b"0 $Junk\n1 $NonJunk\n3 work stuff\n26 too far\nx bad\n\n2 \n"
    assert parse_keywords(data) == {0: "$Junk", 1: "$NonJunk", 3: "work stuff"}
    assert format_keywords({1: "b", 0: "a"}) == b"0 a\n1 b\n"
    assert parse_keywords(format_keywords({0: "$Junk", 25: "z"})) == {0: "$Junk", 25: "z"}
