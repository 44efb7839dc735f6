"""Mail migration file formats: mbox and Maildir, read and written without a server.

The layer under a future `tidings import` / `tidings export`. Readers yield `SourceMessage`
(the bytes of one message with its IMAP flags, internal date, mailbox and UID) or
`ImportProblem` (something skipped or repaired, with where and why) and never stop at a bad
message; writers take `SourceMessage`s. Nothing here touches the store or the network.

- `source`: the two shared records and the line-ending rules.
- `headers`: the header fields mail programs keep flags in (Status, X-Status, ...).
- `fromline`: the mbox "From " separator line and its date.
- `gmail`: Google Takeout's X-Gmail-Labels.
- `mbox`: mboxrd read and write (RFC 4155).
- `uidlist`: Dovecot's dovecot-uidlist and dovecot-keywords files.
- `maildir`: Maildir and Maildir++ read and write.
"""
