import imaplib
import pytest

@pytest.mark.dovecot
def test_smoke(dovecot):
    m = imaplib.IMAP4(dovecot.host, dovecot.imap_port)
    assert m.login(dovecot.user, dovecot.password)[0] == "OK"
    typ, data = m.list()
    assert typ == "OK" and any(b"\\Archive" in d for d in data)
    assert m.append("INBOX", None, None, b"Subject: x\r\n\r\ny\r\n")[0] == "OK"
    m.select("INBOX")
    assert m.fetch("1", "(BODY[])")[1][0][1] == b"Subject: x\r\n\r\ny\r\n"
    m.logout()
