"""THREAD=ORDEREDSUBJECT and THREAD=REFERENCES (RFC 5256 §2.3, §2.4) as pure functions:
messages in, a forest of ThreadNode out. No I/O and no IMAP encoding (that is
imap/proto/sort.py).

Where the RFC leaves a choice, the steps follow Dovecot's index-thread-*.c, so the answers are
the same as Dovecot's: sent dates fall back to the internal date (§2.2), ties are broken by
mailbox order, and step (3)'s pruning attaches each message to its nearest real ancestor
(which is what repeated promotion of a dummy's children amounts to).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from tidings.core.base_subject import BaseSubject
from tidings.core.message_ids import first_message_id, message_ids


@dataclass(frozen=True, slots=True)
class ThreadMessage:
    """One searched message: `number` is what the client is told (sequence number or UID),
    `order` its place in the mailbox, `date` the sent date as a POSIX timestamp (§2.2: the
    internal date when there is no usable Date field). The header values are raw (undecoded)
    and None when the field is absent."""

    number: int
    order: int
    date: float
    subject: BaseSubject
    has_subject: bool = True
    message_id: str | None = None
    references: str | None = None
    in_reply_to: str | None = None


@dataclass(slots=True)
class ThreadNode:
    """A node of the answer: a message, or a dummy (`message` None) holding its children."""

    message: ThreadMessage | None
    children: list[ThreadNode] = field(default_factory=list)


def _key(node: ThreadNode) -> tuple[float, int]:
    # §2.2: by sent date, then by order in the mailbox; a dummy sorts as its first child.
    while node.message is None:
        node = node.children[0]
    return node.message.date, node.message.order


def _sort(nodes: list[ThreadNode]) -> None:
    nodes.sort(key=_key)


# -------------------------------------------------------------------------- ORDEREDSUBJECT


def ordered_subject(messages: Iterable[ThreadMessage]) -> list[ThreadNode]:
    """RFC 5256 §2.3: sort by base subject, then sent date; one thread per base subject,
    threads ordered by their first message's date. The first message is the root, every
    other one its child (there are no grandchildren)."""
    ordered = sorted(messages, key=lambda m: (m.subject.text, m.date, m.order))
    threads: list[ThreadNode] = []
    current: ThreadMessage | None = None
    for message in ordered:
        if current is not None and current.subject.text == message.subject.text:
            threads[-1].children.append(ThreadNode(message))
            continue
        current = message
        threads.append(ThreadNode(message))
    _sort(threads)
    return threads


# ------------------------------------------------------------------------------ REFERENCES


class _Container:
    """A Message-ID's place in step (1): the message with that ID (None: a dummy)."""

    __slots__ = ("message", "parent")

    def __init__(self) -> None:
        self.message: ThreadMessage | None = None
        self.parent: _Container | None = None

    def has_ancestor(self, other: _Container) -> bool:
        node: _Container | None = self
        while node is not None:
            if node is other:
                return True
            node = node.parent
        return False


def _link(parent: _Container, child: _Container) -> None:
    """Step (1)(A): make `parent` the parent of `child`, unless that makes a loop or the
    child already has a parent (the first link wins)."""
    if parent.has_ancestor(child):
        return
    if child.parent is None:
        child.parent = parent


def _link_messages(messages: Sequence[ThreadMessage], max_refs: int) -> list[_Container]:
    """Step (1) for every message, in mailbox order; all containers, in creation order. Of
    a message's references only the last `max_refs` are linked (see Limits)."""
    by_id: dict[str, _Container] = {}
    containers: list[_Container] = []

    def container(message_id: str | None) -> _Container:
        found = by_id.get(message_id) if message_id is not None else None
        if found is None:
            found = _Container()
            containers.append(found)
            if message_id is not None:
                by_id[message_id] = found
        return found

    for message in sorted(messages, key=lambda m: m.order):
        own_id = first_message_id(message.message_id)
        node = container(own_id)
        if node.message is not None:
            # A duplicate Message-ID: only the first message keeps it (§2.4 (1)(A)).
            node = container(None)
        node.message = message
        # The references: those of References, or else the first ID of In-Reply-To.
        refs = message_ids(message.references) or message_ids(message.in_reply_to)[:1]
        refs = refs[-max_refs:] if max_refs > 0 else []
        parent = None
        if refs:
            parent = container(refs[0])
            for ref in refs[1:]:
                child = container(ref)
                _link(parent, child)
                parent = child
        # (1)(B): the last reference is the parent; a different earlier parent is dropped.
        if node.parent is not None and node.parent is not parent:
            node.parent = None
        if parent is not None:
            _link(parent, node)
    return containers


@dataclass(slots=True)
class _Root:
    """A top-level entry during steps (4) and (5)."""

    node: ThreadNode
    table_parent: _Root | None = None  # (5)(B): the entry this one merges into
    reply_or_forward: bool = False
    ignore: bool = False


def _prune(containers: list[_Container]) -> list[ThreadNode]:
    """Steps (2) and (3): the top level, each message under its nearest real ancestor
    (under the topmost dummy when it has none); dummies without children disappear later."""
    nodes = {id(c): ThreadNode(c.message) for c in containers}
    roots: list[ThreadNode] = []
    for container in containers:
        if container.parent is None:
            roots.append(nodes[id(container)])
            continue
        if container.message is None:
            continue
        parent = container.parent
        while parent.message is None and parent.parent is not None:
            parent = parent.parent
        nodes[id(parent)].children.append(nodes[id(container)])
    return roots


def _sort_roots(roots: list[_Root]) -> None:
    """Step (4): a dummy sorts as its first child; a dummy with one child is replaced by it
    (the deferred part of step (3)); one with none is dropped."""
    for root in roots:
        if root.ignore or root.node.message is not None:
            continue
        children = root.node.children
        if not children:
            root.ignore = True
            continue
        _sort(children)
        if len(children) == 1:
            root.node = children[0]
    roots.sort(key=lambda root: _key(root.node) if not root.ignore else (0.0, 0))


def _first_message(node: ThreadNode) -> ThreadMessage:
    while node.message is None:
        node = node.children[0]
    return node.message


def _gather_subjects(roots: list[_Root]) -> None:
    """Step (5)(A)-(B): the subject table. An entry is replaced by a dummy, or by a message
    that is not a reply or forward when the entry is one."""
    table: dict[str, _Root] = {}
    for root in roots:
        if root.ignore:
            continue
        message = _first_message(root.node)
        if not message.has_subject or not message.subject.text:
            continue
        subject = message.subject.text
        entry = table.get(subject)
        dummy = root.node.message is None
        if entry is None:
            table[subject] = root
        elif entry.node.message is not None and (
            dummy or (entry.reply_or_forward and not message.subject.is_reply_or_forward)
        ):
            entry.table_parent = root
            table[subject] = root
        else:
            root.table_parent = entry
        root.reply_or_forward = message.subject.is_reply_or_forward


def _merge_subjects(roots: list[_Root]) -> bool:
    """Step (5)(C): merge the threads whose subjects matched; whether anything moved."""
    changed = False
    for current in list(roots):
        if current.table_parent is None or current.ignore:
            continue
        changed = True
        entry = current.table_parent
        while entry.table_parent is not None:
            entry = entry.table_parent
        if current.node.message is None:
            # Both dummies: the children become siblings, the current dummy goes.
            entry.node.children.extend(current.node.children)
            current.node.children = []
        elif entry.node.message is None or (
            current.reply_or_forward and not entry.reply_or_forward
        ):
            entry.node.children.append(current.node)
        else:
            dummy = _Root(ThreadNode(None, [entry.node, current.node]))
            entry.table_parent = dummy
            entry.ignore = True
            roots.append(dummy)
        current.ignore = True
    return changed


def _sort_tree(node: ThreadNode) -> None:
    """Step (6): every set of siblings by sent date, deepest first."""
    for child in node.children:
        _sort_tree(child)
    _sort(node.children)


def references(messages: Sequence[ThreadMessage], max_refs: int = 1000) -> list[ThreadNode]:
    """RFC 5256 §2.4 THREAD=REFERENCES; `max_refs` bounds the references linked per message
    (Limits.max_thread_references)."""
    roots = [_Root(node) for node in _prune(_link_messages(messages, max_refs))]
    _sort_roots(roots)
    _gather_subjects(roots)
    if _merge_subjects(roots):
        _sort_roots(roots)
    threads = [root.node for root in roots if not root.ignore]
    for thread in threads:
        _sort_tree(thread)
    return threads


__all__ = ["ThreadMessage", "ThreadNode", "ordered_subject", "references"]
