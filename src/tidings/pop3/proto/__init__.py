"""The sans-IO POP3 protocol core (RFC 1939, RFC 2449, RFC 2595, RFC 5034): no I/O here.

`parser.CommandParser` turns client bytes into `commands.Command`s and `events`;
`responses` and `message` turn replies and stored messages into bytes.
"""
