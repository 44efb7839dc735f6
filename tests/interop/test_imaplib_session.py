"""Stdlib imaplib against a real server: connection, authentication, TLS and any-state
commands (RFC 9051 §6.1-6.3, RFC 3501 §6.1-6.2)."""

from __future__ import annotations

import base64
import imaplib
import socket

import pytest

from .helpers import (
    TIMEOUT,
    ImapTarget,
    quote,
    response_code,
    run,
    safe_logout,
    tidings_only,
    unverified_context,
)


def capabilities(conn: imaplib.IMAP4) -> list[str]:
    typ, data = conn.capability()
    assert typ == "OK", data
    return data[-1].decode().upper().split()


def test_greeting_is_ok_with_capabilities_rfc9051_7_1_1(imap: ImapTarget) -> None:
    raw = imap.raw(login=False)
    assert raw.greeting.startswith(b"* OK"), raw.greeting
    raw.close()


def test_capability_before_login_offers_tls_and_sasl_rfc9051_6_1_1(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    caps = capabilities(conn)
    for needed in ("IMAP4REV1", "STARTTLS", "AUTH=PLAIN", "SASL-IR", "ID", "ENABLE", "IDLE"):
        assert needed in caps, (needed, caps)
    assert "LOGINDISABLED" not in caps, "plaintext login is allowed on loopback (DESIGN.md)"
    safe_logout(conn)


def test_capability_after_login_lists_the_extensions_rfc9051_6_1_1(imap: ImapTarget) -> None:
    conn = imap.login()
    caps = capabilities(conn)
    for needed in (
        "IMAP4REV1",
        "IDLE",
        "UIDPLUS",
        "MOVE",
        "ID",
        "UNSELECT",
        "ENABLE",
        "NAMESPACE",
        "LITERAL+",
        "SPECIAL-USE",
        "LIST-EXTENDED",
        "LIST-STATUS",
        "ESEARCH",
        "BINARY",
        "SASL-IR",
    ):
        assert needed in caps, (needed, caps)
    assert "STARTTLS" not in caps or imap.name == "dovecot", caps
    safe_logout(conn)


def test_capability_lists_imap4rev1_before_imap4rev2_design(imap: ImapTarget) -> None:
    tidings_only(imap, "Dovecot 2.3 does not implement IMAP4rev2")
    conn = imap.imaplib()
    caps = capabilities(conn)
    assert "IMAP4REV2" in caps, caps
    assert caps.index("IMAP4REV1") < caps.index("IMAP4REV2"), caps
    safe_logout(conn)


def test_noop_answers_ok_in_every_state_rfc9051_6_1_2(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    assert conn.noop()[0] == "OK"
    conn.login(imap.user, imap.password)
    assert conn.noop()[0] == "OK"
    conn.select("INBOX", readonly=True)
    assert conn.noop()[0] == "OK"
    safe_logout(conn)


def test_login_good_password_rfc9051_6_2_3(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    typ, data = conn.login(imap.user, imap.password)
    assert typ == "OK", data
    assert conn.state == "AUTH"
    safe_logout(conn)


def test_login_second_user_rfc9051_6_2_3(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    assert conn.login(imap.user2, imap.password2)[0] == "OK"
    safe_logout(conn)


def test_login_bad_password_is_no_authenticationfailed_rfc5530(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    with pytest.raises(imaplib.IMAP4.error) as info:
        conn.login(imap.user, "wrong password")
    assert "[AUTHENTICATIONFAILED]" in str(info.value), info.value
    # The connection stays usable after a failed login.
    assert conn.login(imap.user, imap.password)[0] == "OK"
    safe_logout(conn)


def test_login_unknown_user_is_no_authenticationfailed_rfc5530(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    with pytest.raises(imaplib.IMAP4.error) as info:
        conn.login("nobody@example.test", "whatever")
    assert "[AUTHENTICATIONFAILED]" in str(info.value), info.value
    safe_logout(conn)


def test_authenticate_plain_rfc4616(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    credentials = f"\0{imap.user}\0{imap.password}".encode()
    typ, data = conn.authenticate("PLAIN", lambda challenge: credentials)
    assert typ == "OK", data
    assert conn.state == "AUTH"
    assert conn.select("INBOX", readonly=True)[0] == "OK"
    safe_logout(conn)


def test_authenticate_plain_bad_password_rfc4616(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    credentials = f"\0{imap.user}\0nope".encode()
    with pytest.raises(imaplib.IMAP4.error) as info:
        conn.authenticate("PLAIN", lambda challenge: credentials)
    assert "[AUTHENTICATIONFAILED]" in str(info.value), info.value
    safe_logout(conn)


def test_authenticate_plain_initial_response_rfc4959(imap: ImapTarget) -> None:
    raw = imap.raw(login=False)
    token = base64.b64encode(f"\0{imap.user}\0{imap.password}".encode()).decode()
    _, tagged = raw.command(f"AUTHENTICATE PLAIN {token}")
    assert b" OK" in tagged, tagged
    raw.close()


def test_authenticate_login_mechanism_draft_murchison_sasl_login(imap: ImapTarget) -> None:
    raw = imap.raw(login=False)
    raw.send(b"L1 AUTHENTICATE LOGIN\r\n")
    assert raw.read_response() == b"+ VXNlcm5hbWU6\r\n"  # "Username:"
    raw.send(base64.b64encode(imap.user.encode()) + b"\r\n")
    assert raw.read_response() == b"+ UGFzc3dvcmQ6\r\n"  # "Password:"
    raw.send(base64.b64encode(imap.password.encode()) + b"\r\n")
    tagged = raw.read_response()
    assert tagged.startswith(b"L1 OK"), tagged


def test_select_after_enable_imap4rev2_has_list_and_no_recent_rfc9051_6_3_2(
    imap: ImapTarget,
) -> None:
    tidings_only(imap, "Dovecot 2.3 does not implement IMAP4rev2")
    raw = imap.raw()
    raw.command("ENABLE IMAP4rev2")
    untagged, tagged = raw.command("SELECT INBOX")
    assert b" OK" in tagged, tagged
    assert not any(b" RECENT" in line for line in untagged), untagged
    assert any(line.startswith(b"* LIST ") and b"INBOX" in line for line in untagged), untagged


def test_authenticate_cancelled_with_star_is_bad_rfc9051_6_2_2(imap: ImapTarget) -> None:
    raw = imap.raw(login=False)
    raw.send(b"A1 AUTHENTICATE PLAIN\r\n")
    assert raw.read_response().startswith(b"+"), "no continuation"
    raw.send(b"*\r\n")
    tagged = raw.read_response()
    assert tagged.startswith(b"A1 BAD"), tagged
    raw.close()


def test_starttls_then_login_rfc9051_6_2_1(imap: ImapTarget) -> None:
    conn = imap.imaplib()
    typ, data = conn.starttls(ssl_context=unverified_context())
    assert typ == "OK", data
    assert isinstance(conn.sock, __import__("ssl").SSLSocket)
    caps = capabilities(conn)
    assert "STARTTLS" not in caps, caps
    assert conn.login(imap.user, imap.password)[0] == "OK"
    assert conn.select("INBOX", readonly=True)[0] == "OK"
    safe_logout(conn)


def test_starttls_after_login_is_bad_rfc9051_6_2_1(imap: ImapTarget) -> None:
    raw = imap.raw()
    _, tagged = raw.command("STARTTLS")
    assert b" BAD" in tagged, tagged
    raw.close()


def test_implicit_tls_port_rfc8314(imap: ImapTarget) -> None:
    conn = imap.imaplib_ssl()
    assert conn.login(imap.user, imap.password)[0] == "OK"
    assert conn.select("INBOX", readonly=True)[0] == "OK"
    safe_logout(conn)


def test_enable_imap4rev2_rfc9051_6_3_1(imap: ImapTarget) -> None:
    tidings_only(imap, "Dovecot 2.3 does not implement IMAP4rev2")
    conn = imap.login()
    typ, data = conn.enable("IMAP4rev2")
    assert typ == "OK", data
    enabled = b" ".join(conn.untagged_responses.pop("ENABLED", [b""]))
    assert b"IMAP4REV2" in enabled.upper(), enabled
    safe_logout(conn)


def test_enable_unknown_extension_is_ok_and_not_listed_rfc5161(imap: ImapTarget) -> None:
    conn = imap.login()
    typ, data = conn.enable("X-NO-SUCH-EXTENSION")
    assert typ == "OK", data
    enabled = b" ".join(x or b"" for x in conn.untagged_responses.pop("ENABLED", [b""]))
    assert b"X-NO-SUCH" not in enabled.upper(), enabled
    safe_logout(conn)


def test_namespace_personal_with_slash_delimiter_rfc2342(imap: ImapTarget) -> None:
    conn = imap.login()
    typ, data = conn.namespace()
    assert typ == "OK", data
    assert data[0].startswith(b'(("" "/")) '), data
    safe_logout(conn)


def test_id_returns_server_parameters_or_nil_rfc2971(imap: ImapTarget) -> None:
    raw = imap.raw(login=False)
    untagged, tagged = raw.command('ID ("name" "interop-test" "version" "1")')
    assert b" OK" in tagged, tagged
    ids = [line for line in untagged if line.upper().startswith(b"* ID ")]
    assert len(ids) == 1, untagged
    assert ids[0].upper().startswith((b"* ID (", b"* ID NIL")), ids
    raw.close()


def test_id_nil_is_accepted_rfc2971(imap: ImapTarget) -> None:
    raw = imap.raw()
    _, tagged = raw.command("ID NIL")
    assert b" OK" in tagged, tagged
    raw.close()


def test_unknown_command_is_bad_rfc9051_7_1_5(imap: ImapTarget) -> None:
    raw = imap.raw()
    _, tagged = raw.command("FROBNICATE now")
    assert tagged.startswith(b"R"), tagged
    assert b" BAD " in tagged, tagged
    # The connection still works.
    _, tagged = raw.command("NOOP")
    assert b" OK" in tagged, tagged
    raw.close()


def test_bad_syntax_is_bad_rfc9051_7_1_5(imap: ImapTarget) -> None:
    raw = imap.raw()
    for line in (
        "SELECT",
        "FETCH",
        "STORE 1 +FLAGS",
        "STATUS INBOX",
        "LOGIN",
        'CREATE "unterminated',
    ):
        _, tagged = raw.command(line)
        assert b" BAD " in tagged, (line, tagged)
    raw.close()


def test_selected_state_command_when_not_selected_is_bad_rfc9051_6_4(imap: ImapTarget) -> None:
    raw = imap.raw()
    for line in ("FETCH 1 FLAGS", "EXPUNGE", "CLOSE", "SEARCH ALL"):
        _, tagged = raw.command(line)
        assert b" BAD " in tagged or b" NO " in tagged, (line, tagged)
    raw.close()


def test_authenticated_command_before_login_is_bad_or_no_rfc9051_6_3(imap: ImapTarget) -> None:
    raw = imap.raw(login=False)
    _, tagged = raw.command("SELECT INBOX")
    assert b" BAD " in tagged or b" NO " in tagged, tagged
    raw.close()


def test_logout_sends_bye_then_ok_rfc9051_6_1_3(imap: ImapTarget) -> None:
    raw = imap.raw()
    untagged, tagged = raw.command("LOGOUT")
    assert any(line.startswith(b"* BYE") for line in untagged), untagged
    assert b" OK" in tagged, tagged
    raw.sock.settimeout(TIMEOUT)
    assert raw.file.read() == b"", "server did not close after LOGOUT"
    raw.close()


def test_imaplib_logout_returns_bye(imap: ImapTarget) -> None:
    conn = imap.login()
    typ, data = conn.logout()
    assert typ == "BYE", (typ, data)


def test_login_with_literal_password_rfc9051_4_3(imap: ImapTarget) -> None:
    raw = imap.raw(login=False)
    password = imap.password.encode()
    _, tagged = raw.command(f"LOGIN {quote(imap.user)} {{{len(password)}}}", password)
    assert b" OK" in tagged, tagged
    raw.close()


def test_check_is_ok_in_selected_state_rfc3501_6_4_1(imap: ImapTarget) -> None:
    conn = imap.login()
    conn.select("INBOX")
    assert conn.check()[0] == "OK"
    safe_logout(conn)


def test_response_code_helper_reads_codes() -> None:
    assert response_code(b"OK [APPENDUID 5 7] done", "APPENDUID") == "5 7"
    assert response_code("NO [NONEXISTENT] no", "NONEXISTENT") == ""
    assert response_code("OK fine", "READ-WRITE") is None


def test_connection_is_closed_when_client_disconnects_abruptly(imap: ImapTarget) -> None:
    # A client vanishing mid-command must not wedge the server for the next client.
    with socket.create_connection((imap.host, imap.port), timeout=TIMEOUT) as sock:
        sock.recv(4096)
        sock.sendall(b"a LOGIN " + imap.user.encode() + b" {5}\r\n")
    raw = imap.raw()
    _, tagged = raw.command("NOOP")
    assert b" OK" in tagged
    raw.close()


def test_run_helper_reports_status(imap: ImapTarget) -> None:
    conn = imap.login()
    assert run(conn, "NOOP")[0] == "OK"
    safe_logout(conn)
