"""The IMAP command grammar (RFC 9051 §9, RFC 3501 §9 and the extensions in commands.py).

    command         = tag SP (command-any / command-auth / command-nonauth /
                      command-select) CRLF

`parse_command(data)` turns one framed command (literals inline, no final CRLF) into a typed
`Command`, or raises `CommandSyntaxError` carrying the tag when one could be read. Which
commands are allowed in which state is the session's table, not the grammar's.
"""

from __future__ import annotations

from collections.abc import Callable

from tidings.imap.proto import commands as c
from tidings.imap.proto.acl import parse_acl_command
from tidings.imap.proto.append import literal_sizes_before, parse_append
from tidings.imap.proto.compress import parse_compress
from tidings.imap.proto.fetch import parse_fetch
from tidings.imap.proto.lexer import Cursor, ParseError
from tidings.imap.proto.metadata import parse_getmetadata, parse_setmetadata
from tidings.imap.proto.notify import parse_notify
from tidings.imap.proto.quota import parse_getquota, parse_getquotaroot, parse_setquota
from tidings.imap.proto.search import parse_search
from tidings.imap.proto.sort import parse_sort, parse_thread


class CommandSyntaxError(Exception):
    """A command that does not parse, with the tag if one was read."""

    def __init__(self, tag: str | None, reason: str) -> None:
        super().__init__(reason)
        self.tag = tag
        self.reason = reason


def parse_tag(data: bytes) -> str | None:
    """The tag at the start of `data` if it is a valid tag followed by a space, else None."""
    cursor = Cursor(data)
    try:
        tag = cursor.tag()
        cursor.sp()
    except ParseError:
        return None
    return tag


def parse_command(data: bytes) -> c.Command:
    """One complete command; raise CommandSyntaxError when it does not parse."""
    cursor = Cursor(data)
    try:
        tag = cursor.tag()
    except ParseError as error:
        raise CommandSyntaxError(None, f"Invalid tag: {error.reason}") from None
    try:
        if cursor.at_end():
            raise ParseError("Missing command")
        cursor.sp()
        name = cursor.keyword("command name")
        uid = False
        if name == "UID":
            # uid = "UID" SP ("COPY" / "MOVE" / "FETCH" / "SEARCH" / "STORE" / uid-expunge)
            cursor.sp()
            name = cursor.keyword("command name")
            if name not in _UID_COMMANDS:
                raise ParseError(f"Unknown command UID {name}")
            uid = True
        parse = _COMMANDS.get(name)
        if parse is None:
            raise ParseError(f"Unknown command {name}")
        return parse(cursor, tag, name, uid)
    except ParseError as error:
        raise CommandSyntaxError(tag, error.reason) from None


_Parse = Callable[[Cursor, str, str, bool], c.Command]


def _no_arguments(command: type[c.Command]) -> _Parse:
    def parse(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
        cursor.end()
        return command(tag)

    return parse


def _authenticate(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """authenticate = "AUTHENTICATE" SP auth-type [SP initial-resp]   (RFC 4959)
    initial-resp    = (base64 / "=")"""
    cursor.sp()
    mechanism = cursor.keyword("mechanism")
    initial = None
    if cursor.maybe_sp():
        raw = cursor.take(_BASE64_CHARS)
        if not raw or not cursor.at_end():
            raise ParseError("Invalid initial response")
        initial = raw.decode("ascii")
    cursor.end()
    return c.Authenticate(tag, mechanism, initial)


_BASE64_CHARS = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")


def _login(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """login = "LOGIN" SP userid SP password ; userid = astring ; password = astring"""
    cursor.sp()
    username = cursor.astring()
    cursor.sp()
    password = cursor.astring()
    cursor.end()
    return c.Login(tag, username, password)


def _enable(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """enable = "ENABLE" 1*(SP capability)   (RFC 5161)"""
    cursor.sp()
    names = [cursor.keyword("capability")]
    while cursor.maybe_sp():
        names.append(cursor.keyword("capability"))
    cursor.end()
    return c.Enable(tag, tuple(names))


def _select(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """select = "SELECT" SP mailbox [select-params] ; examine likewise (RFC 4466 §2.1)"""
    cursor.sp()
    mailbox = cursor.mailbox()
    parameters: tuple[tuple[str, str | None], ...] = ()
    if cursor.maybe_sp():
        parameters = cursor.tagged_ext_params()
    cursor.end()
    return c.Select(tag, mailbox, read_only=name == "EXAMINE", parameters=parameters)


def _create(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """create = "CREATE" SP mailbox [create-params]        (RFC 4466 §2.2)
    create-param    = "USE" SP "(" [use-attr *(SP use-attr)] ")"   (RFC 6154 §6)"""
    cursor.sp()
    mailbox = cursor.mailbox()
    special_use: list[str] = []
    if cursor.maybe_sp():

        def param() -> None:
            if cursor.keyword("parameter") != "USE":
                raise ParseError("Unknown CREATE parameter")
            cursor.sp()
            special_use.extend(cursor.flag_list())

        cursor.paren_list(param)
    cursor.end()
    return c.Create(tag, mailbox, tuple(special_use))


def _one_mailbox(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """delete / subscribe / unsubscribe = NAME SP mailbox"""
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.end()
    if name == "DELETE":
        return c.Delete(tag, mailbox)
    return c.Subscribe(tag, mailbox, subscribe=name == "SUBSCRIBE")


def _rename(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """rename = "RENAME" SP mailbox SP mailbox"""
    cursor.sp()
    old = cursor.mailbox()
    cursor.sp()
    new = cursor.mailbox()
    cursor.end()
    return c.Rename(tag, old, new)


# RFC 5258 §3 selection options this server knows; others are a BAD, as §3 requires.
_SELECTION_OPTIONS = frozenset({"SUBSCRIBED", "REMOTE", "RECURSIVEMATCH", "SPECIAL-USE"})


def _list(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat [SP list-return-opts]

    list-select-opts = "(" [list-select-option *(SP list-select-option)] ")"
    mbox-or-pat     = list-mailbox / patterns
    patterns        = "(" list-mailbox *(SP list-mailbox) ")"
    list-return-opts = "RETURN" SP "(" [return-option *(SP return-option)] ")"
    """
    cursor.sp()
    selection: frozenset[str] = frozenset()
    if cursor.peek() == 0x28:
        selection = frozenset(cursor.paren_list(cursor.keyword, allow_empty=True))
        unknown = selection - _SELECTION_OPTIONS
        if unknown:
            raise ParseError(f"Unknown LIST selection option {min(unknown)}")
        # RFC 5258 §3: RECURSIVEMATCH alone is an error.
        if selection == {"RECURSIVEMATCH"}:
            raise ParseError("RECURSIVEMATCH needs another selection option")
        cursor.sp()
    reference = cursor.mailbox()
    cursor.sp()
    if cursor.peek() == 0x28:
        patterns = cursor.paren_list(cursor.list_mailbox)
    else:
        patterns = (cursor.list_mailbox(),)
    return_options: set[str] = set()
    return_status: tuple[c.StatusItem, ...] = ()
    if cursor.maybe_sp():
        if cursor.keyword("RETURN") != "RETURN":
            raise ParseError("Expected RETURN")
        cursor.sp()

        def option() -> None:
            nonlocal return_status
            # return-option = "SUBSCRIBED" / "CHILDREN" / "SPECIAL-USE" /
            #                 "STATUS" SP "(" status-att *(SP status-att) ")"  (RFC 5819)
            keyword = cursor.keyword("return option")
            if keyword == "STATUS":
                cursor.sp()
                return_status = _status_items(cursor)
            else:
                return_options.add(keyword)

        cursor.paren_list(option, allow_empty=True)
    cursor.end()
    return c.List(tag, reference, patterns, selection, frozenset(return_options), return_status)


def _lsub(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """lsub = "LSUB" SP mailbox SP list-mailbox   (RFC 3501)"""
    cursor.sp()
    reference = cursor.mailbox()
    cursor.sp()
    pattern = cursor.list_mailbox()
    cursor.end()
    return c.Lsub(tag, reference, pattern)


def _status_items(cursor: Cursor) -> tuple[c.StatusItem, ...]:
    """ "(" status-att *(SP status-att) ")" """

    def item() -> c.StatusItem:
        keyword = cursor.keyword("status item")
        try:
            return c.StatusItem(keyword)
        except ValueError:
            raise ParseError(f"Unknown status item {keyword}") from None

    return cursor.paren_list(item)


def _status(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """status = "STATUS" SP mailbox SP "(" status-att *(SP status-att) ")" """
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.sp()
    items = _status_items(cursor)
    cursor.end()
    return c.Status(tag, mailbox, items)


def _append(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """append = "APPEND" SP mailbox 1*append-message  (RFC 3502; see proto/append.py)"""
    return parse_append(cursor, tag)


def is_append_message(pending: bytes) -> bool:
    """Whether `pending` (a command up to a literal header, see
    CommandParser.pending_command) is an APPEND whose next literal is a message, not its
    mailbox name (the first message or a later one of a MULTIAPPEND)."""
    return literal_sizes_before(pending) is not None


def _expunge(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """expunge = "EXPUNGE" ; uid-expunge = "EXPUNGE" SP sequence-set  (RFC 4315 §3)"""
    uids = None
    if uid:
        cursor.sp()
        uids = cursor.sequence_set()
    cursor.end()
    return c.Expunge(tag, uids)


def _search(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    return parse_search(cursor, tag, uid)


def _fetch(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    return parse_fetch(cursor, tag, uid)


_STORE_OPERATIONS = {"": "replace", "+": "add", "-": "remove"}


def _store(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """store = "STORE" SP sequence-set [store-modifiers] SP store-att-flags

    store-modifiers = SP "(" store-modifier *(SP store-modifier) ")"   (RFC 4466)
    store-att-flags = (["+" / "-"] "FLAGS" [".SILENT"]) SP (flag-list / (flag *(SP flag)))
    """
    cursor.sp()
    sequence_set = cursor.sequence_set()
    cursor.sp()
    modifiers: tuple[tuple[str, str | None], ...] = ()
    if cursor.peek() == 0x28:
        modifiers = cursor.tagged_ext_params()
        cursor.sp()
    sign = ""
    if cursor.peek() in (0x2B, 0x2D):
        sign = chr(cursor.data[cursor.pos])
        cursor.pos += 1
    item = cursor.keyword("store item")
    if item not in ("FLAGS", "FLAGS.SILENT"):
        raise ParseError(f"Invalid store item {sign}{item}")
    cursor.sp()
    if cursor.peek() == 0x28:
        flags = cursor.flag_list()
    else:
        flag_items = [cursor.flag()]
        while cursor.maybe_sp():
            flag_items.append(cursor.flag())
        flags = tuple(flag_items)
    cursor.end()
    return c.Store(
        tag,
        sequence_set,
        _STORE_OPERATIONS[sign],
        flags,
        silent=item == "FLAGS.SILENT",
        uid=uid,
        modifiers=modifiers,
    )


def _copy(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """copy = "COPY" SP sequence-set SP mailbox ; move = "MOVE" ... (RFC 6851 §3)"""
    cursor.sp()
    sequence_set = cursor.sequence_set()
    cursor.sp()
    mailbox = cursor.mailbox()
    cursor.end()
    return c.Copy(tag, sequence_set, mailbox, uid=uid, move=name == "MOVE")


def _quota(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """getquota / getquotaroot / setquota (RFC 9208 §7; see proto/quota.py)"""
    if name == "GETQUOTA":
        return parse_getquota(cursor, tag)
    if name == "GETQUOTAROOT":
        return parse_getquotaroot(cursor, tag)
    return parse_setquota(cursor, tag)


def _id(cursor: Cursor, tag: str, name: str, uid: bool) -> c.Command:
    """id = "ID" SP id-params-list   (RFC 2971 §4)
    id-params-list = "(" #(string SP nstring) ")" / nil"""
    cursor.sp()
    if cursor.is_nil():
        cursor.nil()
        cursor.end()
        return c.Id(tag, None)

    def pair() -> tuple[str, str | None]:
        key = cursor.string()
        cursor.sp()
        return key, cursor.nstring()

    parameters = cursor.paren_list(pair, allow_empty=True)
    cursor.end()
    return c.Id(tag, parameters)


_COMMANDS: dict[str, _Parse] = {
    "CAPABILITY": _no_arguments(c.Capability),
    "NOOP": _no_arguments(c.Noop),
    "LOGOUT": _no_arguments(c.Logout),
    "STARTTLS": _no_arguments(c.StartTLS),
    "COMPRESS": lambda cursor, tag, name, uid: parse_compress(cursor, tag),  # RFC 4978
    "AUTHENTICATE": _authenticate,
    "LOGIN": _login,
    "ENABLE": _enable,
    "SELECT": _select,
    "EXAMINE": _select,
    "CREATE": _create,
    "DELETE": _one_mailbox,
    "RENAME": _rename,
    "SUBSCRIBE": _one_mailbox,
    "UNSUBSCRIBE": _one_mailbox,
    "LIST": _list,
    "LSUB": _lsub,
    "NAMESPACE": _no_arguments(c.Namespace),
    "STATUS": _status,
    "APPEND": _append,
    "IDLE": _no_arguments(c.Idle),
    "CHECK": _no_arguments(c.Check),
    "CLOSE": _no_arguments(c.Close),
    "UNSELECT": _no_arguments(c.Unselect),
    "EXPUNGE": _expunge,
    "SEARCH": _search,
    "SORT": lambda cursor, tag, name, uid: parse_sort(cursor, tag, uid),  # RFC 5256
    "THREAD": lambda cursor, tag, name, uid: parse_thread(cursor, tag, uid),
    "FETCH": _fetch,
    "STORE": _store,
    "COPY": _copy,
    "MOVE": _copy,
    "ID": _id,
    "SETACL": lambda cursor, tag, name, uid: parse_acl_command(cursor, tag, name),  # RFC 4314
    "DELETEACL": lambda cursor, tag, name, uid: parse_acl_command(cursor, tag, name),
    "GETACL": lambda cursor, tag, name, uid: parse_acl_command(cursor, tag, name),
    "LISTRIGHTS": lambda cursor, tag, name, uid: parse_acl_command(cursor, tag, name),
    "MYRIGHTS": lambda cursor, tag, name, uid: parse_acl_command(cursor, tag, name),
    "GETQUOTA": _quota,
    "GETQUOTAROOT": _quota,
    "SETQUOTA": _quota,
    "NOTIFY": lambda cursor, tag, name, uid: parse_notify(cursor, tag),  # RFC 5465
    "GETMETADATA": lambda cursor, tag, name, uid: parse_getmetadata(cursor, tag),  # RFC 5464
    "SETMETADATA": lambda cursor, tag, name, uid: parse_setmetadata(cursor, tag),
}
_UID_COMMANDS = frozenset({"COPY", "MOVE", "FETCH", "SEARCH", "STORE", "EXPUNGE", "SORT", "THREAD"})
