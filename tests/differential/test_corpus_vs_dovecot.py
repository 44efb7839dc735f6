"""Differential test: Tidings against Dovecot over the shared test corpus.

Every message of the corpus is APPENDed, in the same order, with the same flags and internal
date, into a fresh mailbox on each server. Then for each message we FETCH, one item per command,
ENVELOPE, BODYSTRUCTURE, RFC822.SIZE, BODY.PEEK[HEADER], BODY.PEEK[TEXT], BODY.PEEK[1],
BODY.PEEK[2.1] (where that part exists in Dovecot's BODYSTRUCTURE) and BINARY.SIZE[1], and run
a set of UID SEARCHes; the answers must be the same bytes. The only differences tolerated are the
ones described in DEVIATIONS.md, each recognised by a rule in `DEVIATION_RULES` below.

One test per FETCH item and one per SEARCH, each listing every message that differs with both
servers' bytes around the first difference; the terminal summary says how many messages were
identical on every item. The full report is written to the session's temp dir (path printed).

Set TIDINGS_DIFF_TARGET=dovecot to compare Dovecot against a second Dovecot (checks the harness
itself: everything must be identical). TIDINGS_CORPUS overrides the corpus directory;
TIDINGS_DIFF_REPORT names the file for the full report (default: in pytest's temp dir).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, TypeGuard

import pytest
from tests.differential.raw_imap import (
    SUMMARY_KEY,
    Atom,
    Literal,
    ProtocolError,
    RawImap,
    Reply,
    Str,
    Value,
    canonical,
    parse_fetch,
    parse_value,
    quote,
    search_numbers,
)
from tests.support.corpus import corpus_dir, corpus_files

pytestmark = pytest.mark.dovecot


CORPUS = corpus_files()

# (what we send, the item name the server answers with)
FETCH_ITEMS: list[tuple[str, bytes]] = [
    ("ENVELOPE", b"ENVELOPE"),
    ("BODYSTRUCTURE", b"BODYSTRUCTURE"),
    ("RFC822.SIZE", b"RFC822.SIZE"),
    ("BODY.PEEK[HEADER]", b"BODY[HEADER]"),
    ("BODY.PEEK[TEXT]", b"BODY[TEXT]"),
    ("BODY.PEEK[1]", b"BODY[1]"),
    ("BODY.PEEK[2.1]", b"BODY[2.1]"),
    ("BINARY.SIZE[1]", b"BINARY.SIZE[1]"),
]


def _utf8(text: str) -> list[bytes | Literal]:
    return [Literal(text.encode())]


# (test id, arguments after "UID SEARCH "); a Literal is sent as a synchronizing literal.
SEARCHES: list[tuple[str, list[bytes | Literal]]] = [
    ("HEADER Message-ID empty", [b'HEADER Message-ID ""']),
    ("HEADER X-Mailer empty", [b'HEADER X-Mailer ""']),
    ("HEADER In-Reply-To example", [b'HEADER In-Reply-To "example"']),
    ("HEADER List-Id lists", [b'HEADER List-Id "lists"']),
    ("HEADER Content-Type multipart", [b'HEADER Content-Type "multipart"']),
    ("FROM barry", [b'FROM "barry"']),
    ("FROM example.org", [b'FROM "example.org"']),
    ("FROM Francois utf8", [b"CHARSET UTF-8 FROM ", *_utf8("François")]),
    ("TO example.com", [b'TO "example.com"']),
    ("SUBJECT Re:", [b'SUBJECT "Re:"']),
    ("SUBJECT Zurich utf8", [b"CHARSET UTF-8 SUBJECT ", *_utf8("Zürich")]),
    ("SUBJECT Nihongo utf8", [b"CHARSET UTF-8 SUBJECT ", *_utf8("日本語")]),
    ("SUBJECT spasibo lowercase utf8", [b"CHARSET UTF-8 SUBJECT ", *_utf8("спасибо")]),
    ("SUBJECT Sao Paulo utf8", [b"CHARSET UTF-8 SUBJECT ", *_utf8("São Paulo")]),
    ("SUBJECT emoji utf8", [b"CHARSET UTF-8 SUBJECT ", *_utf8("😀")]),
    ("SUBJECT Istanbul utf8", [b"CHARSET UTF-8 SUBJECT ", *_utf8("İstanbul")]),
    ("BODY invoice", [b'BODY "invoice"']),
    ("BODY python", [b'BODY "python"']),
    ("BODY Gruesse utf8", [b"CHARSET UTF-8 BODY ", *_utf8("Grüße")]),
    ("TEXT Zurich utf8", [b"CHARSET UTF-8 TEXT ", *_utf8("Zürich")]),
    ("TEXT multipart", [b'TEXT "multipart"']),
    ("LARGER 10000", [b"LARGER 10000"]),
    ("LARGER 500000", [b"LARGER 500000"]),
    ("SMALLER 1500", [b"SMALLER 1500"]),
    ("SENTBEFORE 1-Jan-2010", [b"SENTBEFORE 1-Jan-2010"]),
    ("SENTSINCE 1-Feb-2023", [b"SENTSINCE 1-Feb-2023"]),
    ("SENTON 29-Jan-2023", [b"SENTON 29-Jan-2023"]),
    ("ON 3-Jan-2023", [b"ON 3-Jan-2023"]),
    ("BEFORE 5-Jan-2023", [b"BEFORE 5-Jan-2023"]),
    ("SINCE 15-Jan-2023", [b"SINCE 15-Jan-2023"]),
    ("SEEN", [b"SEEN"]),
    ("FLAGGED UNSEEN", [b"FLAGGED UNSEEN"]),
    ("KEYWORD $Forwarded", [b"KEYWORD $Forwarded"]),
    ("OR FROM python SUBJECT Re:", [b'OR FROM "python" SUBJECT "Re:"']),
    ("NOT HEADER Message-ID empty", [b'NOT HEADER Message-ID ""']),
]

_TIMEZONES = [UTC, timezone(timedelta(hours=-4)), timezone(timedelta(hours=2))]


def internal_date(index: int) -> bytes:
    """A distinct, deterministic internal date per message: noon local time (so the calendar
    date is the same in every zone involved) on one of 20 days of January 2023."""
    moment = datetime(2023, 1, 1 + index % 20, 12, 0, 0, tzinfo=_TIMEZONES[index % 3])
    return moment.strftime("%d-%b-%Y %H:%M:%S %z").encode()


def flags_for(index: int) -> bytes:
    flags = []
    if index % 3 == 0:
        flags.append(b"\\Seen")
    if index % 5 == 0:
        flags.append(b"\\Flagged")
    if index % 7 == 0:
        flags.append(b"$Forwarded")
    return b"(" + b" ".join(flags) + b")"


# -- observations ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Observed:
    """What one server answered for one item: the tagged status and the item's value and raw
    bytes (None when the item was missing from the FETCH response)."""

    status: bytes
    value: Value = None
    raw: bytes | None = None
    # For BINARY.SIZE (when the servers differ): the length of the same server's own
    # BINARY.PEEK[] of that section.
    decoded_length: int | None = None

    def canonical(self) -> bytes | None:
        return None if self.raw is None else canonical(self.value)

    def show(self) -> bytes:
        return self.raw if self.raw is not None else b"<no item; tagged " + self.status + b">"


@dataclass
class Mailbox:
    """One server's copy of the corpus: its connection and which message is at which seq."""

    conn: RawImap
    name: bytes
    server: Any = None
    seq_of: dict[int, int] = field(default_factory=dict)  # corpus index -> sequence number
    uid_of: dict[int, int] = field(default_factory=dict)  # corpus index -> UID
    append_status: dict[int, bytes] = field(default_factory=dict)

    def index_of_uid(self) -> dict[int, int]:
        return {uid: index for index, uid in self.uid_of.items()}


def load(server: Any) -> Mailbox:
    """Log in, create a fresh mailbox and APPEND the corpus into it, then SELECT it."""
    conn = RawImap(server.host, server.imap_port)
    try:
        return _load(conn, server)
    except BaseException:
        conn.sock.close()
        raise


def _load(conn: RawImap, server: Any) -> Mailbox:
    conn.login(server.user, server.password)
    name = b"diff-" + uuid.uuid4().hex[:12].encode()
    reply = conn.command(b"CREATE ", name)
    assert reply.status == b"OK", reply.tagged
    box = Mailbox(conn, name, server)
    sequence = 0
    for index, path in enumerate(CORPUS):
        reply = conn.command(
            b"APPEND ",
            name,
            b" ",
            flags_for(index),
            b' "',
            internal_date(index),
            b'" ',
            Literal(path.read_bytes()),
        )
        box.append_status[index] = reply.status
        if reply.status == b"OK":
            sequence += 1
            box.seq_of[index] = sequence
    reply = conn.command(b"SELECT ", name)
    assert reply.status == b"OK", reply.tagged
    uids = conn.command(b"FETCH 1:* (UID)")
    uid_by_seq = {}
    for line in uids.untagged:
        parsed = parse_fetch(line)
        if parsed and b"UID" in parsed[1]:
            value = parsed[1][b"UID"][0]
            assert isinstance(value, Atom)
            uid_by_seq[parsed[0]] = int(value.value)
    box.uid_of = {index: uid_by_seq[seq] for index, seq in box.seq_of.items() if seq in uid_by_seq}
    return box


DISCONNECTED = b"DISCONNECTED"


def reconnect(box: Mailbox) -> None:
    """After the server dropped the connection (Dovecot does on some broken messages)."""
    box.conn.sock.close()
    box.conn = RawImap(box.server.host, box.server.imap_port)
    box.conn.login(box.server.user, box.server.password)
    reply = box.conn.command(b"SELECT ", box.name)
    assert reply.status == b"OK", reply.tagged


def fetch_one(box: Mailbox, index: int, request: str, answer: bytes) -> Observed:
    seq = box.seq_of.get(index)
    if seq is None:
        return Observed(b"NOT APPENDED " + box.append_status.get(index, b"?"))
    try:
        reply = box.conn.command(b"FETCH %d (" % seq, request.encode(), b")")
    except (OSError, ProtocolError):
        reconnect(box)
        return Observed(DISCONNECTED)
    for line in reply.untagged:
        parsed = parse_fetch(line)
        if parsed is None or parsed[0] != seq:
            continue
        for name, (value, raw) in parsed[1].items():
            if name == answer:
                return Observed(reply.status, value, raw)
    return Observed(reply.status)


def with_decoded_length(box: Mailbox, index: int, request: str, observed: Observed) -> Observed:
    """Add the length of BINARY.PEEK[section] to a BINARY.SIZE[section] observation."""
    section = request[len("BINARY.SIZE") :]
    binary = fetch_one(box, index, "BINARY.PEEK" + section, b"BINARY" + section.encode())
    if binary.status != b"OK" or not isinstance(binary.value, Str):
        return observed
    return Observed(observed.status, observed.value, observed.raw, len(binary.value.value))


# -- part numbers (to know whether BODY[2.1] exists) -------------------------------------------
def part_exists(structure: Value, path: list[int]) -> bool:
    """Whether section `path` (e.g. [2, 1]) exists in a BODYSTRUCTURE (RFC 3501 §6.4.5: the
    parts of a multipart are numbered from 1; a message that is not multipart has only part 1;
    the parts of a message/rfc822 part are those of the message it encapsulates)."""
    if not path:
        return True
    if _is_multipart(structure):
        children = _children(structure)
        return 1 <= path[0] <= len(children) and _deeper(children[path[0] - 1], path[1:])
    return path[0] == 1 and _deeper(structure, path[1:])


def _deeper(part: Value, rest: list[int]) -> bool:
    if not rest:
        return True
    if _is_multipart(part):
        return part_exists(part, rest)
    if isinstance(part, list) and _is_message_rfc822(part):
        return part_exists(part[8], rest)
    return False


def _is_multipart(node: Value) -> TypeGuard[list[Value]]:
    return isinstance(node, list) and bool(node) and isinstance(node[0], list)


def _children(node: list[Value]) -> list[Value]:
    """The leading run of lists (the parts); the subtype string ends it."""
    children: list[Value] = []
    for child in node:
        if not isinstance(child, list):
            break
        children.append(child)
    return children


def _is_message_rfc822(node: list[Value]) -> bool:
    def text(value: Value) -> bytes:
        return value.value.lower() if isinstance(value, Str) else b""

    return len(node) > 8 and text(node[0]) == b"message" and text(node[1]) in (b"rfc822", b"global")


# -- allowed deviations (DEVIATIONS.md) ---------------------------------------------------------
def d1_string_form(item: str, ref: Observed, target: Observed) -> bool:
    """D1: the same strings, one server sending a quoted string where the other sends a literal
    (RFC 3501 §4.3, RFC 9051 §4.3), as long as every quoted string of the target is a valid
    quoted string (7-bit, no CR or LF: RFC 3501 §9 QUOTED-CHAR)."""
    return (
        ref.status == target.status
        and ref.raw is not None
        and target.raw is not None
        and ref.canonical() == target.canonical()
        and all(_valid_quoted(s) for s in _strings(target.value) if not s.literal)
    )


def _strings(value: Value) -> Iterator[Str]:
    if isinstance(value, Str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _valid_quoted(string: Str) -> bool:
    return not any(b in b"\r\n\0" or b >= 0x80 for b in string.value)


def d2_dovecot_drops_binary(item: str, ref: Observed, target: Observed) -> bool:
    """D2: Dovecot closes the connection when a BINARY fetch meets content it cannot decode
    (broken base64); the target answers instead (OK with its decoding, or NO)."""
    return (
        item.startswith("BINARY")
        and ref.status == DISCONNECTED
        and target.status.split(b" ")[0] in (b"OK", b"NO")
    )


def d3_dovecot_binary_size(item: str, ref: Observed, target: Observed) -> bool:
    """D3: Dovecot's BINARY.SIZE[n] disagrees with the length of its own BINARY[n]; the target
    answers that length, as RFC 3516 §4.2 defines BINARY.SIZE."""
    return (
        item.startswith("BINARY.SIZE")
        and ref.status == target.status == b"OK"
        and ref.decoded_length is not None
        and ref.raw != str(ref.decoded_length).encode()
        and target.raw == str(ref.decoded_length).encode()
    )


def d4_dovecot_refuses_binary_size(item: str, ref: Observed, target: Observed) -> bool:
    """D4: Dovecot answers BINARY.SIZE[n] with NO [PARSE] although it serves BINARY[n] of
    the same section (a multipart part); the target answers OK with the length of its own
    BINARY[n], as RFC 3516 §4.2 defines BINARY.SIZE."""
    return (
        item.startswith("BINARY.SIZE")
        and ref.status == b"NO [PARSE]"
        and ref.raw is None
        and ref.decoded_length is not None
        and target.status == b"OK"
        and target.decoded_length is not None
        and target.raw == str(target.decoded_length).encode()
    )


DEVIATION_RULES: dict[str, Callable[[str, Observed, Observed], bool]] = {
    "D1 string form (quoted vs literal)": d1_string_form,
    "D2 Dovecot disconnects on undecodable BINARY": d2_dovecot_drops_binary,
    "D3 Dovecot BINARY.SIZE inconsistent with its BINARY": d3_dovecot_binary_size,
    "D4 Dovecot refuses BINARY.SIZE of a section it serves": d4_dovecot_refuses_binary_size,
}


def classify(item: str, ref: Observed, target: Observed) -> str | None:
    """None when identical, the deviation's name when allowed, else "DIFFERENT"."""
    if ref.status == target.status and ref.raw == target.raw:
        return None
    for name, rule in DEVIATION_RULES.items():
        if rule(item, ref, target):
            return name
    return "DIFFERENT"


def excerpt(ref: bytes, target: bytes, width: int = 120) -> str:
    """Both byte strings around their first difference."""
    at = next(
        (i for i, (a, b) in enumerate(zip(ref, target, strict=False)) if a != b),
        min(len(ref), len(target)),
    )
    start = max(0, at - width // 3)
    return (
        f"    first difference at byte {at} (lengths {len(ref)} vs {len(target)})\n"
        f"    dovecot: {ref[start : start + width]!r}\n"
        f"    tidings: {target[start : start + width]!r}"
    )


# -- the comparison, run once per session ------------------------------------------------------
@dataclass
class Finding:
    message: str
    verdict: str
    ref: Observed
    target: Observed


@dataclass
class Comparison:
    target_name: str
    append: dict[str, tuple[bytes, bytes]]
    fetch: dict[str, list[Finding]]  # item -> findings (only non-identical ones)
    fetch_checked: dict[str, int]
    search: dict[str, tuple[list[str], list[str], bytes, bytes]]
    messages_identical: int
    messages_equivalent: int
    report_path: Path | None = None


def compare(reference: Mailbox, target: Mailbox) -> Comparison:
    append = {
        CORPUS[i].name: (reference.append_status[i], target.append_status[i])
        for i in range(len(CORPUS))
        if reference.append_status[i] != target.append_status[i]
    }
    fetch: dict[str, list[Finding]] = {request: [] for request, _ in FETCH_ITEMS}
    checked = dict.fromkeys(fetch, 0)
    identical = equivalent = 0
    for index, path in enumerate(CORPUS):
        structure = fetch_one(reference, index, "BODYSTRUCTURE", b"BODYSTRUCTURE").value
        verdicts = []
        for request, answer in FETCH_ITEMS:
            if request == "BODY.PEEK[2.1]" and not part_exists(structure, [2, 1]):
                continue
            ref = fetch_one(reference, index, request, answer)
            tgt = fetch_one(target, index, request, answer)
            checked[request] += 1
            if request.startswith("BINARY.SIZE") and (ref.status, ref.raw) != (tgt.status, tgt.raw):
                ref = with_decoded_length(reference, index, request, ref)
                tgt = with_decoded_length(target, index, request, tgt)
            verdict = classify(request, ref, tgt)
            verdicts.append(verdict)
            if verdict is not None:
                fetch[request].append(Finding(path.name, verdict, ref, tgt))
        if all(v is None for v in verdicts):
            identical += 1
        elif all(v != "DIFFERENT" for v in verdicts):
            equivalent += 1
    search = {}
    ref_names, tgt_names = reference.index_of_uid(), target.index_of_uid()
    for search_id, args in SEARCHES:
        ref_reply = reference.conn.command(b"UID SEARCH ", *args)
        tgt_reply = target.conn.command(b"UID SEARCH ", *args)
        search[search_id] = (
            _names(ref_reply, ref_names),
            _names(tgt_reply, tgt_names),
            ref_reply.status,
            tgt_reply.status,
        )
    return Comparison("", append, fetch, checked, search, identical, equivalent)


def _names(reply: Reply, index_of_uid: dict[int, int]) -> list[str]:
    return [
        CORPUS[index_of_uid[uid]].name if uid in index_of_uid else f"uid{uid}?"
        for uid in search_numbers(reply)
    ]


def write_report(result: Comparison, path: Path) -> None:
    lines = [f"Differential report: Dovecot vs {result.target_name}, {len(CORPUS)} messages", ""]
    lines += [*summary_lines(result), ""]
    for request, findings in result.fetch.items():
        lines.append(
            f"== FETCH {request}: {len(findings)} of {result.fetch_checked[request]} not identical"
        )
        for finding in findings:
            lines.append(
                f"  {finding.message}: {finding.verdict}"
                + (
                    f" (dovecot's own BINARY length: {finding.ref.decoded_length})"
                    if finding.ref.decoded_length is not None
                    else ""
                )
            )
            lines.append(f"    dovecot: {finding.ref.status!r} {finding.ref.show()!r}")
            lines.append(f"    target:  {finding.target.status!r} {finding.target.show()!r}")
    lines.append("")
    for search_id, (ref, tgt, ref_status, tgt_status) in result.search.items():
        mark = "same" if (ref, ref_status) == (tgt, tgt_status) else "DIFFERENT"
        lines.append(f"== SEARCH {search_id}: {mark}")
        lines.append(f"    dovecot {ref_status!r}: {' '.join(ref)}")
        lines.append(f"    target  {tgt_status!r}: {' '.join(tgt)}")
    path.write_text("\n".join(lines) + "\n")


def summary_lines(result: Comparison) -> list[str]:
    total = len(CORPUS)
    searches_same = sum(1 for ref, tgt, rs, ts in result.search.values() if (ref, rs) == (tgt, ts))
    lines = [
        f"differential ({result.target_name} vs Dovecot): {result.messages_identical} of {total} "
        f"messages identical on every item; {result.messages_equivalent} more identical up to "
        f"allowed deviations (DEVIATIONS.md); {searches_same} of {len(result.search)} searches "
        "identical",
    ]
    for request, findings in result.fetch.items():
        different = sum(1 for f in findings if f.verdict == "DIFFERENT")
        lines.append(
            f"  {request:<20} {different:4d} different, "
            f"{len(findings) - different:4d} allowed, of {result.fetch_checked[request]}"
        )
    if result.append:
        lines.append(f"  APPEND status differs for {len(result.append)} messages")
    if result.report_path:
        lines.append(f"  full report: {result.report_path}")
    return lines


@pytest.fixture(scope="module")
def comparison(
    dovecot: Any,
    target_server: Any,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Comparison]:
    assert CORPUS, f"no .eml files in {corpus_dir()} (set TIDINGS_CORPUS)"
    reference = load(dovecot)
    try:
        target = load(target_server)
    except BaseException:
        reference.conn.close()
        raise
    try:
        result = compare(reference, target)
    finally:
        reference.conn.close()
        target.conn.close()
    result.target_name = os.environ.get("TIDINGS_DIFF_TARGET", "tidings")
    chosen = os.environ.get("TIDINGS_DIFF_REPORT")
    result.report_path = (
        Path(chosen) if chosen else tmp_path_factory.mktemp("differential") / "report.txt"
    )
    write_report(result, result.report_path)
    request.config.stash[SUMMARY_KEY] = summary_lines(result)
    yield result


# -- the tests ----------------------------------------------------------------------------------
def test_append_accepted_alike(comparison: Comparison) -> None:
    """Both servers accept (or refuse) the same messages."""
    assert not comparison.append, "\n".join(
        f"{name}: dovecot {ref!r}, target {tgt!r}" for name, (ref, tgt) in comparison.append.items()
    )


@pytest.mark.parametrize("request_item", [request for request, _ in FETCH_ITEMS])
def test_fetch_item(comparison: Comparison, request_item: str) -> None:
    """FETCH <item> answers the same bytes for every message, up to DEVIATIONS.md."""
    different = [f for f in comparison.fetch[request_item] if f.verdict == "DIFFERENT"]
    if different:
        report = [
            f"{len(different)} of {comparison.fetch_checked[request_item]} messages differ "
            f"on {request_item} (full report: {comparison.report_path}):"
        ]
        for finding in different[:25]:
            report.append(
                f"  {finding.message} (tagged: dovecot {finding.ref.status!r}, "
                f"target {finding.target.status!r})"
            )
            report.append(excerpt(finding.ref.show(), finding.target.show()))
        if len(different) > 25:
            report.append(f"  ... and {len(different) - 25} more")
        pytest.fail("\n".join(report), pytrace=False)


@pytest.mark.parametrize("search_id", [search_id for search_id, _ in SEARCHES])
def test_search(comparison: Comparison, search_id: str) -> None:
    """UID SEARCH <criteria> finds the same messages (mapped back to corpus files)."""
    ref, tgt, ref_status, tgt_status = comparison.search[search_id]
    assert tgt_status == ref_status, f"tagged status: dovecot {ref_status!r}, target {tgt_status!r}"
    missing = sorted(set(ref) - set(tgt))
    extra = sorted(set(tgt) - set(ref))
    assert not missing and not extra, (
        f"{search_id}: dovecot found {len(ref)}, target {len(tgt)}; "
        f"only dovecot: {missing}; only target: {extra}"
    )


def test_parser_roundtrip_on_samples() -> None:
    """The harness's own parser: literals, quoted escapes, nested lists, sections."""
    line = (
        b'* 3 FETCH (UID 7 BODY[HEADER.FIELDS (A B)] {3}\r\nabc ENVELOPE ("a\\"b" NIL '
        b'(("x" NIL "y" "z"))) RFC822.SIZE 12)'
    )
    parsed = parse_fetch(line)
    assert parsed is not None
    seq, items = parsed
    assert seq == 3
    assert items[b"BODY[HEADER.FIELDS (A B)]"][0] == Str(b"abc", literal=True)
    envelope = items[b"ENVELOPE"][0]
    assert isinstance(envelope, list) and envelope[0] == Str(b'a"b', literal=False)
    assert items[b"RFC822.SIZE"][1] == b"12"
    assert canonical(parse_value(b"{2}\r\nab", 0)[0]) == b'"ab"'
    assert quote(b'a"b') == b'"a\\"b"'
