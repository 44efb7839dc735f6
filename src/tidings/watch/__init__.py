"""`tidings watch`: an IMAP client that reports mailbox changes as events."""
