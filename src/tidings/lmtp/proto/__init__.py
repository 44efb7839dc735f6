"""The LMTP protocol core without I/O: bytes in, typed commands and events out; replies
(with RFC 3463 enhanced status codes) in, bytes out."""
