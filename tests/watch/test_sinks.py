"""The sinks of `tidings watch`: event ids and JSON, stdout lines, exec hooks (environment,
stdin, exit status, timeout, concurrency, retries) and webhooks (signature, retries, give up)
against a real HTTP server on loopback."""

from __future__ import annotations

import asyncio
import io
import json
import sys
import time
from pathlib import Path

import pytest
from tests.watch.support import WebhookReceiver

from tidings.watch.events import Event
from tidings.watch.sinks import (
    ExecSink,
    SinkFailed,
    SinkGaveUp,
    StdoutSink,
    WebhookSink,
    sign,
    verify_signature,
)
from tidings.watch.sinks.desktop import DesktopSink, summary

NEW = {"uid": 7, "uidvalidity": 99, "subject": "Invoice 42", "to": ["a@x", "b@x"], "flags": []}


def new_event(**changes: object) -> Event:
    return Event("new", "alice@host:993", "INBOX", {**NEW, **changes})


def test_event_id_is_stable_for_the_same_message() -> None:
    first = new_event()
    again = Event("new", "alice@host:993", "INBOX", {**NEW, "flags": ["\\Seen"]}, time="x")
    assert first.id == again.id and len(first.id) == 64
    assert new_event(uid=8).id != first.id
    assert Event("new", "other", "INBOX", dict(NEW)).id != first.id


def test_watcher_events_differ_by_time() -> None:
    one = Event("disconnected", "a", None, {"reason": "x"}, time="2026-12-03T01:00:00Z")
    two = Event("disconnected", "a", None, {"reason": "x"}, time="2026-12-03T01:00:05Z")
    assert one.id != two.id


def test_json_and_environment() -> None:
    event = new_event(has_attachment=True, size=None)
    data = event.to_json()
    assert data["event"] == "new" and data["id"] == event.id and data["mailbox"] == "INBOX"
    assert data["uid"] == 7 and data["to"] == ["a@x", "b@x"]
    env = event.environment()
    assert env["TIDINGS_EVENT"] == "new" and env["TIDINGS_ID"] == event.id
    assert env["TIDINGS_TO"] == "a@x b@x" and env["TIDINGS_HAS_ATTACHMENT"] == "true"
    assert env["TIDINGS_SIZE"] == "" and env["TIDINGS_SUBJECT"] == "Invoice 42"


def test_stdout_sink_writes_one_flushed_line_per_event() -> None:
    stream = io.StringIO()
    sink = StdoutSink(stream)
    asyncio.run(sink.deliver(new_event()))
    asyncio.run(sink.deliver(new_event(uid=8)))
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["uid"] for line in lines] == [7, 8]
    assert "error" in sink.kinds and StdoutSink(kinds=["new"]).kinds == {"new"}


def hook(tmp_path: Path, body: str) -> list[str]:
    script = tmp_path / "hook.py"
    script.write_text("import json, os, sys, time\n" + body)
    return [sys.executable, str(script)]


def test_exec_sink_gets_environment_and_json_on_stdin(tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    command = hook(
        tmp_path,
        f"data = json.load(sys.stdin)\n"
        f"env = {{k: v for k, v in os.environ.items() if k.startswith('TIDINGS_')}}\n"
        f"open({str(out)!r}, 'w').write(json.dumps({{'data': data, 'env': env}}))\n",
    )
    asyncio.run(ExecSink(command).deliver(new_event()))
    record = json.loads(out.read_text())
    assert record["data"]["subject"] == "Invoice 42"
    assert record["env"]["TIDINGS_UID"] == "7" and record["env"]["TIDINGS_MAILBOX"] == "INBOX"


def test_exec_sink_retries_a_failing_hook_until_it_succeeds(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    command = hook(
        tmp_path,
        f"p = {str(counter)!r}\n"
        "n = int(open(p).read()) + 1 if os.path.exists(p) else 1\n"
        "open(p, 'w').write(str(n))\n"
        "sys.exit(0 if n >= 3 else 1)\n",
    )
    sink = ExecSink(command, backoff_base=0.01, backoff_max=0.02)
    asyncio.run(sink.deliver(new_event()))
    assert counter.read_text() == "3"


def test_exec_sink_gives_up_after_max_attempts(tmp_path: Path) -> None:
    sink = ExecSink(hook(tmp_path, "sys.exit(3)\n"), max_attempts=2, backoff_base=0.01)
    with pytest.raises(SinkGaveUp, match="after 2 attempts: exited with status 3"):
        asyncio.run(sink.deliver(new_event()))


def test_exec_sink_failure_of_a_watcher_event_is_one_attempt(tmp_path: Path) -> None:
    counter = tmp_path / "count"
    command = hook(tmp_path, f"open({str(counter)!r}, 'a').write('x')\nsys.exit(1)\n")
    sink = ExecSink(command, kinds=["error"])
    with pytest.raises(SinkFailed):
        asyncio.run(sink.deliver(Event("error", "a", None, {"message": "m"})))
    assert counter.read_text() == "x"


def test_exec_sink_timeout_kills_the_process_group(tmp_path: Path) -> None:
    child_pid = tmp_path / "child.pid"
    command = hook(
        tmp_path,
        "import subprocess\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
        f"open({str(child_pid)!r}, 'w').write(str(child.pid))\n"
        "time.sleep(60)\n",
    )
    sink = ExecSink(command, timeout=1.0, max_attempts=1)
    started = time.monotonic()
    with pytest.raises(SinkGaveUp, match="timed out after 1s"):
        asyncio.run(sink.deliver(new_event()))
    assert time.monotonic() - started < 10
    pid = int(child_pid.read_text())
    deadline = time.monotonic() + 5
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        status = (
            Path(f"/proc/{pid}/stat").read_text().split()[2]
            if Path(f"/proc/{pid}/stat").exists()
            else "X"
        )
        if status == "Z":
            break
        time.sleep(0.05)
    alive = Path(f"/proc/{pid}/stat").exists() and (
        Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    )
    assert not alive, "the hook's child survived the timeout"


def test_exec_sink_concurrency_limit(tmp_path: Path) -> None:
    log = tmp_path / "log"
    command = hook(
        tmp_path,
        f"open({str(log)!r}, 'a').write(f'start {{time.monotonic()}}\\n')\n"
        "time.sleep(0.3)\n"
        f"open({str(log)!r}, 'a').write(f'end {{time.monotonic()}}\\n')\n",
    )
    sink = ExecSink(command, concurrency=2)

    async def three() -> None:
        await asyncio.gather(*(sink.deliver(new_event(uid=n)) for n in range(3)))

    asyncio.run(three())
    running = peak = 0
    events = sorted(
        (float(t), kind) for kind, t in (line.split() for line in log.read_text().splitlines())
    )
    for _, kind in events:
        running += 1 if kind == "start" else -1
        peak = max(peak, running)
    assert peak == 2


def test_exec_sink_missing_program_is_a_clear_failure(tmp_path: Path) -> None:
    sink = ExecSink([str(tmp_path / "nope")], max_attempts=1)
    with pytest.raises(SinkGaveUp, match="cannot run"):
        asyncio.run(sink.deliver(new_event()))


def test_signature_round_trip() -> None:
    body = b'{"event": "new"}'
    header = sign("s3cret", body)
    assert header.startswith("sha256=") and verify_signature("s3cret", body, header)
    assert not verify_signature("other", body, header)
    assert not verify_signature("s3cret", body + b" ", header)


def test_webhook_posts_signed_json_and_retries_failures() -> None:
    receiver = WebhookReceiver(fail_first=3)

    async def post() -> None:
        sink = WebhookSink(receiver.url, secret="s3cret", backoff_base=0.01)
        try:
            await sink.deliver(new_event())
        finally:
            await sink.close()

    try:
        asyncio.run(post())
        requests = list(receiver.requests)
    finally:
        receiver.close()
    assert len(requests) == 4
    ids = {r.headers["x-tidings-delivery"] for r in requests}
    assert ids == {new_event().id}
    last = requests[-1]
    assert last.headers["x-tidings-event"] == "new"
    assert verify_signature("s3cret", last.body, last.headers["x-tidings-signature"])
    assert json.loads(last.body)["subject"] == "Invoice 42"


def test_webhook_gives_up_on_an_unreachable_url() -> None:
    async def post() -> None:
        sink = WebhookSink("http://127.0.0.1:9/hook", max_attempts=2, backoff_base=0.01)
        try:
            await sink.deliver(new_event())
        finally:
            await sink.close()

    with pytest.raises(SinkGaveUp, match="ConnectError"):
        asyncio.run(post())


def test_desktop_summary_and_missing_program() -> None:
    title, text = summary(new_event(**{"from": "Carol <c@x>"}))
    assert title == "New mail in INBOX" and text == "Carol <c@x>: Invoice 42"
    sink = DesktopSink(program="no-such-notify-send")
    asyncio.run(sink.deliver(new_event()))  # best effort: nothing raised
    assert sink.kinds == {"new"}
