"""Stdlib imaplib and raw lines against a real server: mailbox commands (RFC 9051 §6.3,
RFC 3501 §6.3, LIST-EXTENDED RFC 5258, LIST-STATUS RFC 5819, SPECIAL-USE RFC 6154)."""

from __future__ import annotations

import imaplib
import re

import pytest

from .helpers import (
    ImapTarget,
    RawImap,
    deviation,
    expect_no,
    make_message,
    quote,
    response_code,
    run,
    safe_logout,
    tidings_only,
    unique_name,
)

LIST_LINE = re.compile(rb'^\* (LIST|LSUB) \(([^)]*)\) (NIL|"[^"]*") (.*)\r\n$', re.IGNORECASE)


def mailbox_name(token: bytes) -> str:
    """The name from a LIST line's last field: quoted string, atom or literal."""
    if token.startswith(b'"'):
        return token[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\").decode()
    if token.startswith(b"{"):
        return token.split(b"}\r\n", 1)[1].decode()
    return token.decode()


def listing(raw: RawImap, command: str) -> dict[str, set[str]]:
    """Run a LIST/LSUB command; returns {name: {attributes, lower-cased}}."""
    untagged, tagged = raw.command(command)
    assert b" OK" in tagged, (command, tagged)
    result: dict[str, set[str]] = {}
    for line in untagged:
        match = LIST_LINE.match(line)
        if match:
            attrs = {a.lower() for a in match.group(2).decode().split()}
            result[mailbox_name(match.group(4))] = attrs
    return result


def status_lines(untagged: list[bytes]) -> dict[str, dict[str, int]]:
    """Parse `* STATUS name (ITEM n ...)` lines."""
    result: dict[str, dict[str, int]] = {}
    for line in untagged:
        match = re.match(rb'^\* STATUS ("(?:[^"\\]|\\.)*"|\S+) \(([^)]*)\)', line, re.IGNORECASE)
        if match:
            values = match.group(2).decode().split()
            items = {values[i].upper(): int(values[i + 1]) for i in range(0, len(values), 2)}
            result[mailbox_name(match.group(1))] = items
    return result


def append(imap: ImapTarget, mailbox: str, count: int, flags: str = "") -> None:
    conn = imap.login()
    for number in range(count):
        typ, data = conn.append(mailbox, flags or None, None, make_message(f"m{number}"))
        assert typ == "OK", data
    safe_logout(conn)


# --- SELECT / EXAMINE -----------------------------------------------------------------------


def test_select_reports_flags_exists_uidvalidity_uidnext_rfc9051_6_3_2(
    imap: ImapTarget, mailbox: str
) -> None:
    append(imap, mailbox, 2)
    raw = imap.raw()
    untagged, tagged = raw.command(f"SELECT {mailbox}")
    assert response_code(tagged, "READ-WRITE") == "", tagged
    text = b"".join(untagged).decode()
    assert re.search(r"^\* FLAGS \(.*\\Seen.*\)", text, re.M), text
    assert re.search(r"^\* 2 EXISTS", text, re.M), text
    assert re.search(r"^\* OK \[UIDVALIDITY [1-9]\d*\]", text, re.M), text
    assert re.search(r"^\* OK \[UIDNEXT 3\]", text, re.M), text
    permanent = re.search(r"^\* OK \[PERMANENTFLAGS \(([^)]*)\)\]", text, re.M)
    assert permanent is not None, text
    assert "\\*" in permanent.group(1) and "\\Deleted" in permanent.group(1), permanent.group(1)


def test_select_with_imaplib_returns_exists_count_rfc9051_6_3_2(
    client: imaplib.IMAP4, mailbox: str, imap: ImapTarget
) -> None:
    append(imap, mailbox, 3)
    typ, data = client.select(mailbox)
    assert (typ, data) == ("OK", [b"3"])
    assert client.response("READ-WRITE")[1] != [None]
    assert client.response("UIDNEXT")[1] == [b"4"]


def test_examine_is_read_only_rfc9051_6_3_3(imap: ImapTarget, mailbox: str) -> None:
    append(imap, mailbox, 1)
    raw = imap.raw()
    untagged, tagged = raw.command(f"EXAMINE {mailbox}")
    assert response_code(tagged, "READ-ONLY") == "", tagged
    assert any(re.match(rb"^\* 1 EXISTS", line) for line in untagged), untagged
    # STORE in a read-only mailbox changes nothing (Dovecot answers OK "Store ignored").
    raw.command("STORE 1 +FLAGS (\\Flagged)")
    untagged, _ = raw.command("FETCH 1 FLAGS")
    assert b"\\Flagged" not in b"".join(untagged), untagged


def test_examine_with_imaplib_readonly_rfc9051_6_3_3(client: imaplib.IMAP4, mailbox: str) -> None:
    typ, data = client.select(mailbox, readonly=True)
    assert (typ, data) == ("OK", [b"0"])
    assert client.response("READ-ONLY")[1] != [None]


NO_CODE_IN_DOVECOT = (
    "Dovecot 2.3 answers a bare 'NO Mailbox doesn't exist' to SELECT/EXAMINE/STATUS; the "
    "Tidings issue requires NO [NONEXISTENT] (RFC 5530 §3) for every missing mailbox"
)


@pytest.mark.parametrize("command", ["SELECT", "EXAMINE", "STATUS"])
def test_missing_mailbox_is_no_nonexistent_rfc5530(
    request: pytest.FixtureRequest, imap: ImapTarget, command: str
) -> None:
    deviation(request, imap, "dovecot", NO_CODE_IN_DOVECOT)
    raw = imap.raw()
    suffix = " (MESSAGES)" if command == "STATUS" else ""
    _, tagged = raw.command(f"{command} {unique_name('missing')}{suffix}")
    assert b" NO [NONEXISTENT]" in tagged, tagged


def test_select_missing_mailbox_is_no_rfc9051_6_3_2(client: imaplib.IMAP4) -> None:
    expect_no(lambda: client.select(unique_name("missing")))
    assert client.state == "AUTH"


def test_failed_select_leaves_selected_state_rfc9051_6_3_2(
    client: imaplib.IMAP4, mailbox: str
) -> None:
    client.select(mailbox)
    typ, _ = run(client, "SELECT", unique_name("missing"))
    assert typ == "NO"
    # A failed SELECT leaves no mailbox selected: FETCH is now BAD.
    with pytest.raises(imaplib.IMAP4.error, match="BAD"):
        run(client, "FETCH", "1", "FLAGS")


def test_inbox_is_case_insensitive_rfc9051_5_1(client: imaplib.IMAP4) -> None:
    assert client.select("inbox", readonly=True)[0] == "OK"
    assert client.status("iNbOx", "(MESSAGES)")[0] == "OK"


# --- CREATE / DELETE / RENAME ---------------------------------------------------------------


def test_create_then_duplicate_is_no_alreadyexists_rfc5530(client: imaplib.IMAP4) -> None:
    name = unique_name()
    assert client.create(name)[0] == "OK"
    typ, data = client.create(name)
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0], data
    assert client.delete(name)[0] == "OK"


def test_create_inbox_is_no_rfc9051_6_3_4(client: imaplib.IMAP4) -> None:
    typ, data = client.create("INBOX")
    assert typ == "NO", data


def test_create_with_trailing_delimiter_rfc9051_6_3_4(client: imaplib.IMAP4) -> None:
    name = unique_name()
    assert client.create(name + "/")[0] == "OK"
    typ, data = client.list('""', name)
    assert typ == "OK" and data[0] is not None and name.encode() in data[0], data
    client.delete(name)


def test_delete_missing_is_no_nonexistent_rfc5530(client: imaplib.IMAP4) -> None:
    typ, data = client.delete(unique_name("missing"))
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data


def test_delete_inbox_is_no_rfc9051_6_3_5(client: imaplib.IMAP4) -> None:
    typ, data = client.delete("INBOX")
    assert typ == "NO", data


def test_delete_removes_mailbox_and_messages_rfc9051_6_3_5(
    imap: ImapTarget, client: imaplib.IMAP4
) -> None:
    name = unique_name()
    client.create(name)
    append(imap, name, 2)
    assert client.delete(name)[0] == "OK"
    expect_no(lambda: client.select(name))
    # Re-created, it is empty and has a fresh UIDVALIDITY or restarts from the same UIDNEXT.
    client.create(name)
    assert client.select(name)[1] == [b"0"]
    client.close()
    client.delete(name)


def test_rename_moves_messages_and_old_name_disappears_rfc9051_6_3_6(
    imap: ImapTarget, client: imaplib.IMAP4
) -> None:
    old, new = unique_name(), unique_name()
    client.create(old)
    append(imap, old, 2)
    assert client.rename(old, new)[0] == "OK"
    assert client.select(new)[1] == [b"2"]
    client.close()
    expect_no(lambda: client.select(old))
    client.delete(new)


def test_rename_moves_children_rfc9051_6_3_6(client: imaplib.IMAP4) -> None:
    old, new = unique_name(), unique_name()
    client.create(old)
    client.create(f"{old}/child")
    assert client.rename(old, new)[0] == "OK"
    assert client.select(f"{new}/child")[0] == "OK"
    client.close()
    _, data = client.list('""', f"{old}*")
    assert data == [None], data
    client.delete(f"{new}/child")
    client.delete(new)


def test_rename_missing_is_no_nonexistent_rfc5530(client: imaplib.IMAP4) -> None:
    typ, data = client.rename(unique_name("missing"), unique_name())
    assert typ == "NO" and b"[NONEXISTENT]" in data[0], data


def test_rename_onto_existing_is_no_alreadyexists_rfc5530(client: imaplib.IMAP4) -> None:
    first, second = unique_name(), unique_name()
    client.create(first)
    client.create(second)
    typ, data = client.rename(first, second)
    assert typ == "NO" and b"[ALREADYEXISTS]" in data[0], data
    client.delete(first)
    client.delete(second)


def test_rename_inbox_moves_messages_and_leaves_inbox_empty_rfc9051_6_3_6(
    request: pytest.FixtureRequest, fresh_imap: ImapTarget
) -> None:
    if fresh_imap.name == "dovecot":
        request.applymarker(
            pytest.mark.xfail(
                strict=True,
                reason="Dovecot answers NO 'Renaming INBOX isn't supported'; RFC 9051 §6.3.6 "
                "defines it and the Tidings issue requires it",
            )
        )
    append(fresh_imap, "INBOX", 2)
    conn = fresh_imap.login()
    target = unique_name("old-inbox")
    typ, data = conn.rename("INBOX", target)
    assert typ == "OK", data
    assert conn.select(target)[1] == [b"2"]
    conn.close()
    assert conn.select("INBOX")[1] == [b"0"]
    safe_logout(conn)


# --- SUBSCRIBE / LSUB / LIST ----------------------------------------------------------------


def test_subscribe_unsubscribe_and_lsub_rfc3501_6_3_9(imap: ImapTarget, mailbox: str) -> None:
    raw = imap.raw()
    _, tagged = raw.command(f"SUBSCRIBE {mailbox}")
    assert b" OK" in tagged, tagged
    assert mailbox in listing(raw, f'LSUB "" "{mailbox}"')
    assert mailbox in listing(raw, f'LIST (SUBSCRIBED) "" "{mailbox}*"')
    _, tagged = raw.command(f"UNSUBSCRIBE {mailbox}")
    assert b" OK" in tagged, tagged
    assert mailbox not in listing(raw, f'LSUB "" "{mailbox}"')


def test_subscribe_with_imaplib_rfc9051_6_3_7(client: imaplib.IMAP4, mailbox: str) -> None:
    assert client.subscribe(mailbox)[0] == "OK"
    typ, data = client.lsub('""', mailbox)
    assert typ == "OK" and data[0] is not None and mailbox.encode() in data[0], data
    assert client.unsubscribe(mailbox)[0] == "OK"
    assert client.lsub('""', mailbox)[1] == [None]


def test_list_empty_pattern_returns_delimiter_rfc9051_6_3_9(imap: ImapTarget) -> None:
    raw = imap.raw()
    untagged, tagged = raw.command('LIST "" ""')
    assert b" OK" in tagged
    assert len(untagged) == 1, untagged
    assert re.match(rb'^\* LIST \(\\Noselect\) "/" ""\r\n$', untagged[0], re.I), untagged


def test_list_star_and_percent_wildcards_rfc9051_6_3_9(imap: ImapTarget) -> None:
    raw = imap.raw()
    top = unique_name()
    for name in (top, f"{top}/a", f"{top}/a/deep", f"{top}/b"):
        _, tagged = raw.command(f"CREATE {name}")
        assert b" OK" in tagged, tagged
    assert set(listing(raw, f'LIST "" "{top}/*"')) == {f"{top}/a", f"{top}/a/deep", f"{top}/b"}
    assert set(listing(raw, f'LIST "" "{top}/%"')) == {f"{top}/a", f"{top}/b"}
    assert set(listing(raw, f'LIST "{top}/" "%"')) == {f"{top}/a", f"{top}/b"}
    assert set(listing(raw, f'LIST "" "{top}*"')) == {top, f"{top}/a", f"{top}/a/deep", f"{top}/b"}
    assert set(listing(raw, f'LIST "" "{top}%"')) == {top}
    everything = listing(raw, 'LIST "" "*"')
    assert {"INBOX", top, f"{top}/a/deep"} <= set(everything)
    assert set(listing(raw, 'LIST "" "%"')) >= {"INBOX", top}
    assert f"{top}/a" not in listing(raw, 'LIST "" "%"')
    for name in (f"{top}/a/deep", f"{top}/a", f"{top}/b", top):
        raw.command(f"DELETE {name}")


def test_list_reports_children_attributes_rfc5258_4(imap: ImapTarget) -> None:
    raw = imap.raw()
    top = unique_name()
    raw.command(f"CREATE {top}")
    raw.command(f"CREATE {top}/leaf")
    found = listing(raw, f'LIST "" "{top}*" RETURN (CHILDREN)')
    assert "\\haschildren" in found[top], found
    assert "\\hasnochildren" in found[f"{top}/leaf"], found
    raw.command(f"DELETE {top}/leaf")
    raw.command(f"DELETE {top}")


def test_list_imaplib_wildcards_rfc9051_6_3_9(client: imaplib.IMAP4) -> None:
    typ, data = client.list()
    assert typ == "OK"
    assert any(b'"/" INBOX' in line or b'"/" "INBOX"' in line for line in data if line), data


def test_list_extended_subscribed_selection_rfc5258_3_1(imap: ImapTarget) -> None:
    raw = imap.raw()
    top = unique_name()
    raw.command(f"CREATE {top}")
    raw.command(f"CREATE {top}/sub")
    raw.command(f"SUBSCRIBE {top}/sub")
    found = listing(raw, 'LIST (SUBSCRIBED) "" "*"')
    assert f"{top}/sub" in found and top not in found, found
    assert "\\subscribed" in found[f"{top}/sub"], found
    found = listing(raw, f'LIST "" "{top}*" RETURN (SUBSCRIBED)')
    assert "\\subscribed" in found[f"{top}/sub"] and "\\subscribed" not in found[top], found
    raw.command(f"UNSUBSCRIBE {top}/sub")
    raw.command(f"DELETE {top}/sub")
    raw.command(f"DELETE {top}")


def test_list_extended_subscribed_recursivematch_rfc5258_3_5(imap: ImapTarget) -> None:
    raw = imap.raw()
    top = unique_name()
    raw.command(f"CREATE {top}")
    raw.command(f"CREATE {top}/sub")
    raw.command(f"SUBSCRIBE {top}/sub")
    untagged, tagged = raw.command(f'LIST (SUBSCRIBED RECURSIVEMATCH) "" "{top}%"')
    assert b" OK" in tagged, tagged
    text = b"".join(untagged).decode()
    assert "CHILDINFO" in text.upper() and "SUBSCRIBED" in text.upper(), text
    raw.command(f"UNSUBSCRIBE {top}/sub")
    raw.command(f"DELETE {top}/sub")
    raw.command(f"DELETE {top}")


def test_list_return_status_rfc5819(imap: ImapTarget, mailbox: str) -> None:
    append(imap, mailbox, 3, flags="(\\Seen)")
    append(imap, mailbox, 1)
    raw = imap.raw()
    untagged, tagged = raw.command(
        f'LIST "" "{mailbox}" RETURN (CHILDREN SPECIAL-USE STATUS (MESSAGES UNSEEN))'
    )
    assert b" OK" in tagged, tagged
    assert any(LIST_LINE.match(line) for line in untagged), untagged
    assert status_lines(untagged)[mailbox] == {"MESSAGES": 4, "UNSEEN": 1}, untagged
    # STATUS follows its LIST line.
    kinds = [line.split()[1].upper() for line in untagged]
    assert kinds.index(b"LIST") < kinds.index(b"STATUS"), untagged


def test_special_use_attributes_on_default_mailboxes_rfc6154_2(imap: ImapTarget) -> None:
    raw = imap.raw()
    expected = {
        "Drafts": "\\drafts",
        "Sent": "\\sent",
        "Junk": "\\junk",
        "Trash": "\\trash",
        "Archive": "\\archive",
    }
    found = listing(raw, 'LIST "" "*" RETURN (SPECIAL-USE)')
    for name, attribute in expected.items():
        assert name in found and attribute in found[name], (name, found)
    assert not any(a in found["INBOX"] for a in expected.values()), found["INBOX"]
    selected = listing(raw, 'LIST (SPECIAL-USE) "" "*"')
    assert set(selected) == set(expected), selected


def test_plain_list_also_shows_special_use_rfc6154_2(imap: ImapTarget) -> None:
    raw = imap.raw()
    found = listing(raw, 'LIST "" "%"')
    assert "\\sent" in found["Sent"] and "\\trash" in found["Trash"], found


def test_namespace_and_list_agree_on_delimiter_rfc2342(imap: ImapTarget) -> None:
    raw = imap.raw()
    untagged, _ = raw.command('LIST "" "INBOX"')
    assert re.match(rb'^\* LIST \([^)]*\) "/" "?INBOX"?\r\n$', untagged[0], re.I), untagged


def test_modified_utf7_mailbox_name_rfc3501_5_1_3(imap: ImapTarget) -> None:
    raw = imap.raw()
    suffix = unique_name()
    encoded = f"Entw&APw-rfe-{suffix}"  # "Entwürfe-..." in modified UTF-7
    _, tagged = raw.command(f'CREATE "{encoded}"')
    assert b" OK" in tagged, tagged
    assert encoded in listing(raw, f'LIST "" "*{suffix}"')
    _, tagged = raw.command(f'SELECT "{encoded}"')
    assert b" OK" in tagged, tagged
    raw.command("CLOSE")
    _, tagged = raw.command(f'DELETE "{encoded}"')
    assert b" OK" in tagged, tagged


def test_invalid_modified_utf7_is_refused_rfc3501_5_1_3(imap: ImapTarget) -> None:
    raw = imap.raw()
    _, tagged = raw.command(f'CREATE "bad-&Jjo!-{unique_name()}"')
    assert b" NO" in tagged or b" BAD" in tagged, tagged


def test_utf8_mailbox_names_after_enable_imap4rev2_rfc9051_5_1(imap: ImapTarget) -> None:
    tidings_only(imap, "Dovecot 2.3 does not implement IMAP4rev2")
    raw = imap.raw()
    suffix = unique_name()
    _, tagged = raw.command(f'CREATE "Entw&APw-rfe-{suffix}"')
    assert b" OK" in tagged, tagged
    _, tagged = raw.command("ENABLE IMAP4rev2")
    assert b" OK" in tagged, tagged
    found = listing(raw, f'LIST "" "*{suffix}"')
    assert f"Entwürfe-{suffix}" in found, found
    _, tagged = raw.command(f'DELETE "Entwürfe-{suffix}"'.encode())
    assert b" OK" in tagged, tagged


# --- STATUS ---------------------------------------------------------------------------------


def test_status_rfc3501_items_rfc9051_6_3_11(imap: ImapTarget, mailbox: str) -> None:
    append(imap, mailbox, 2, flags="(\\Seen)")
    append(imap, mailbox, 1)
    raw = imap.raw()
    untagged, tagged = raw.command(f"STATUS {mailbox} (MESSAGES UIDNEXT UIDVALIDITY UNSEEN RECENT)")
    assert b" OK" in tagged, tagged
    items = status_lines(untagged)[mailbox]
    assert items["MESSAGES"] == 3 and items["UIDNEXT"] == 4 and items["UNSEEN"] == 1, items
    assert items["UIDVALIDITY"] > 0 and items["RECENT"] in (0, 3), items


def test_status_uidvalidity_matches_select_rfc9051_6_3_11(
    client: imaplib.IMAP4, mailbox: str
) -> None:
    typ, data = client.status(mailbox, "(UIDVALIDITY)")
    assert typ == "OK", data
    validity = re.search(rb"UIDVALIDITY (\d+)", data[0])
    assert validity is not None, data
    client.select(mailbox)
    assert client.response("UIDVALIDITY")[1] == [validity.group(1)]


def test_status_size_rfc8438(imap: ImapTarget, mailbox: str) -> None:
    message = make_message("sized")
    conn = imap.login()
    conn.append(mailbox, None, None, message)
    raw = imap.raw()
    untagged, tagged = raw.command(f"STATUS {mailbox} (SIZE)")
    assert b" OK" in tagged, tagged
    assert status_lines(untagged)[mailbox] == {"SIZE": len(message)}, untagged


def test_status_deleted_rfc9051_6_3_11(imap: ImapTarget, mailbox: str) -> None:
    tidings_only(imap, "STATUS DELETED is new in RFC 9051; Dovecot 2.3 answers BAD")
    append(imap, mailbox, 2, flags="(\\Deleted)")
    append(imap, mailbox, 1)
    raw = imap.raw()
    untagged, tagged = raw.command(f"STATUS {mailbox} (MESSAGES DELETED)")
    assert b" OK" in tagged, tagged
    assert status_lines(untagged)[mailbox] == {"MESSAGES": 3, "DELETED": 2}, untagged


def test_status_missing_mailbox_is_no_rfc9051_6_3_11(client: imaplib.IMAP4) -> None:
    typ, data = client.status(unique_name("missing"), "(MESSAGES)")
    assert typ == "NO", data


def test_status_of_quoted_name_with_space_rfc9051_6_3_11(client: imaplib.IMAP4) -> None:
    name = f"with space {unique_name()}"
    assert client.create(quote(name))[0] == "OK"
    typ, data = client.status(quote(name), "(MESSAGES)")
    assert typ == "OK" and b"MESSAGES 0" in data[0], data
    client.delete(quote(name))
