"""Delivery: the rules that put a message from an MTA into a mailbox.

Shared by LMTP (`tidings.lmtp`) and `tidings deliver` (the CLI), so both file mail the same
way: recipient lookup with plus addressing, Return-Path/Delivered-To, Junk routing, quotas.
"""
