"""LMTP (RFC 2033): local mail delivery from an MTA, one reply per recipient.

Layers as for IMAP: `proto` (sans-IO reader, grammar, replies), `session` (transaction
state and deliveries through `tidings.delivery.Deliverer`), `driver` (the asyncio loop).
"""
