"""Where a message of Gmail's All Mail goes, from its X-GM-LABELS.

Gmail keeps each message once and shows it in a folder per label
(developers.google.com/gmail/imap/imap-extensions#access_to_gmail_labels_x-gm-labels). An
import reads `[Gmail]/All Mail` only and files each message under every label it carries:
the first becomes `SourceMessage.mailbox`, the others `labels`, so the message is fetched
once whatever the number of its labels. The system labels:

- `\\Inbox` is INBOX, `\\Sent` and `\\Draft` the folders with those special uses (RFC 6154
  §2), which the Importer maps onto the account's Sent and Drafts;
- `\\Starred` is the \\Flagged flag (Gmail sets it too) and `\\Important` the `$Important`
  keyword (RFC 8457 §3), not folders: filing every starred or important message twice
  would only duplicate it;
- `\\Spam` and `\\Trash` are not in All Mail; a message that carries one anyway is left out
  unless Spam and Trash were asked for;
- a message without any label (archived) goes to Archive.

INBOX comes first, then Sent and Drafts, then user labels as Gmail lists them: a message
lands primarily where a person would look for it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

IMPORTANT = "$Important"
"""RFC 8457 §3: the keyword for a message the user (or a filter) marked important."""

ARCHIVE = "Archive"
"""Where a message without labels goes (the account's \\Archive mailbox)."""

_FOLDER_LABELS = {
    "\\inbox": None,  # INBOX, whatever the listing says
    "\\sent": "\\Sent",
    "\\draft": "\\Drafts",
    "\\drafts": "\\Drafts",
    "\\spam": "\\Junk",
    "\\trash": "\\Trash",
}
_NOT_FILED = frozenset({"\\all", "\\flagged", "\\important"})
"""Special uses of Gmail folders that are not label targets (see the module docstring);
\\Junk and \\Trash are not either, unless Spam and Trash are asked for."""


@dataclass(frozen=True, slots=True)
class Placement:
    """Where one message goes: `mailbox` first, copies in `labels`, `flags` to add."""

    mailbox: str
    labels: tuple[str, ...]
    flags: frozenset[str]


class ListedFolder(Protocol):
    """What `GmailLabels` needs of one listed folder: its source name, Tidings name, use."""

    @property
    def source(self) -> str: ...
    @property
    def name(self) -> str: ...
    @property
    def special_use(self) -> str | None: ...


class GmailLabels:
    """The label -> Tidings mailbox map of one Gmail account, from its folder listing."""

    def __init__(self, folders: Sequence[ListedFolder], *, spam_and_trash: bool = False):
        self.spam_and_trash = spam_and_trash
        by_use = {f.special_use: f.name for f in folders if f.special_use}
        self._system: dict[str, str] = {}
        for label, use in _FOLDER_LABELS.items():
            self._system[label] = "INBOX" if use is None else by_use.get(use, use[1:])
        self._user = {f.source: f.name for f in folders}
        skipped = _NOT_FILED if spam_and_trash else _NOT_FILED | {"\\junk", "\\trash"}
        self.targets: list[tuple[str, str | None]] = [
            (f.name, f.special_use) for f in folders if (f.special_use or "").lower() not in skipped
        ]
        """Every mailbox a label may need, with its special use, for `open_mailbox`."""
        if not any(name == ARCHIVE or use == "\\Archive" for name, use in self.targets):
            self.targets.append((ARCHIVE, "\\Archive"))

    def place(self, labels: Sequence[str]) -> Placement | None:
        """Where a message with X-GM-LABELS `labels` goes; None to leave it out."""
        places: list[str] = []
        flags: set[str] = set()
        for label in labels:
            key = label.lower()
            if key == "\\starred":
                flags.add("\\Flagged")
                continue
            if key == "\\important":
                flags.add(IMPORTANT)
                continue
            if key in ("\\spam", "\\trash") and not self.spam_and_trash:
                return None
            if label.startswith("\\"):
                target = self._system.get(key)
            else:
                target = self._user.get(label, label)
            if target is not None and target not in places:
                places.append(target)
        places.sort(key=self._rank)
        if not places:
            places = [ARCHIVE]
        return Placement(places[0], tuple(places[1:]), frozenset(flags))

    def _rank(self, name: str) -> int:
        if name == "INBOX":
            return 0
        if name == self._system["\\sent"]:
            return 1
        if name == self._system["\\drafts"]:
            return 2
        return 3
