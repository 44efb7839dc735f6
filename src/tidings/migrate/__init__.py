"""Moving mail in and out: `tidings import` (mbox, Maildir, another IMAP server) and
`tidings export` (mbox, Maildir).

Readers yield `SourceMessage` (the bytes of one message with its IMAP flags, internal date,
mailbox and UID) or `ImportProblem` (something skipped or repaired, with where and why) and
never stop at a bad message; writers take `SourceMessage`s. The readers of files touch
neither the store nor the network; `importer` stores what they yield, `commands` joins the
two for the CLI.

- `source`: the two shared records and the line-ending rules.
- `headers`: the header fields mail programs keep flags in (Status, X-Status, ...).
- `fromline`: the mbox "From " separator line and its date.
- `gmail`: Google Takeout's X-Gmail-Labels.
- `mbox`: mboxrd read and write (RFC 4155).
- `uidlist`: Dovecot's dovecot-uidlist and dovecot-keywords files.
- `maildir`: Maildir and Maildir++ read and write.
- `imap_source`, `imap_folder`, `imap_gmail`, `imap_resume`: another IMAP server as a
  source, resumable, Gmail's labels followed.
- `importer`: batched, pipelined, deduplicating writes into an account.
- `commands`, `progress`: what the CLI runs, and its progress bar and summary.
"""
