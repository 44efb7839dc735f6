"""LMTP session semantics: the transaction state table, recipients, and deliveries."""
