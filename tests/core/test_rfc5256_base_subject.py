"""RFC 5256 §2.1 base subject, step by step, and the ABNF of §5 it uses; plus the comparator
folding (i;unicode-casemap as Dovecot computes it, i;ascii-casemap)."""

from __future__ import annotations

import pytest

from tidings.core.base_subject import BaseSubject, base_subject
from tidings.core.collation import ascii_casemap, unicode_casemap


def plain(subject: str | None) -> BaseSubject:
    """The algorithm without case folding, to see the text it keeps."""
    return base_subject(subject, fold=str)


# -- step (1): RFC 2047 decoding, whitespace -------------------------------------------------
def test_step1_encoded_words_are_decoded() -> None:
    assert plain("=?ISO-8859-1?Q?Caf=E9?= au lait").text == "Café au lait"
    assert plain("=?UTF-8?B?w6R0c2No?=").text == "ätsch"


def test_step1_whitespace_between_encoded_words_is_dropped() -> None:
    # RFC 2047 §6.2: linear whitespace between adjacent encoded words is ignored.
    assert plain("=?UTF-8?Q?a?= =?UTF-8?Q?b?=").text == "ab"


def test_step1_tabs_continuations_and_runs_of_spaces_become_one_space() -> None:
    assert plain("a\tb\r\n  c    d").text == "a b c d"


def test_step1_encoded_leader_is_still_a_leader() -> None:
    # Decoding happens first, so an encoded "Re:" is removed like a plain one.
    assert plain("=?UTF-8?Q?Re=3A?= hello") == BaseSubject("hello", True)


# -- step (2): subj-trailer = "(fwd)" / WSP ----------------------------------------------------
def test_step2_trailing_fwd_and_whitespace_are_removed_repeatedly() -> None:
    assert plain("hello (fwd)") == BaseSubject("hello", True)
    assert plain("hello (FWD) (fwd)  ") == BaseSubject("hello", True)
    assert plain("hello   ") == BaseSubject("hello", False)


def test_step2_fwd_inside_the_subject_is_kept() -> None:
    assert plain("(fwd) hello").text == "(fwd) hello"
    assert plain("hello(fwd)x").text == "hello(fwd)x"


# -- step (3): subj-leader = (*subj-blob subj-refwd) / WSP -------------------------------------
@pytest.mark.parametrize(
    "subject",
    ["Re: hello", "RE: hello", "re:hello", "Fw: hello", "FWD: hello", "fwd:hello", "Re : hello"],
)
def test_step3_subj_refwd_is_removed(subject: str) -> None:
    # subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":"
    assert plain(subject) == BaseSubject("hello", True)


def test_step3_refwd_with_a_blob_before_the_colon() -> None:
    assert plain("Re[2]: hello") == BaseSubject("hello", True)
    assert plain("Re [2]: hello") == BaseSubject("hello", True)


def test_step3_blobs_before_refwd_go_with_it() -> None:
    assert plain("[list] Re: hello") == BaseSubject("hello", True)
    assert plain("[a][b] Re: hello") == BaseSubject("hello", True)


def test_step3_leading_whitespace_is_a_leader() -> None:
    assert plain("   hello") == BaseSubject("hello", False)


@pytest.mark.parametrize("subject", ["Reply: hello", "Fwx: hello", "Re hello", "Ref: hello"])
def test_step3_near_misses_are_not_leaders(subject: str) -> None:
    assert plain(subject) == BaseSubject(subject, False)


# -- step (4): a subj-blob prefix, when something is left -------------------------------------
def test_step4_blob_prefix_is_removed_when_text_remains() -> None:
    assert plain("[list] hello") == BaseSubject("hello", False)


def test_step4_a_blob_that_is_everything_stays() -> None:
    # "subj-base = NONWSP *(*WSP NONWSP) ; can be a subj-blob if the blob is the only thing"
    assert plain("[list]") == BaseSubject("[list]", False)
    assert plain("Re: [list]") == BaseSubject("[list]", True)


def test_step4_unbalanced_brackets_are_not_blobs() -> None:
    # BLOBCHAR excludes "[" and "]": "[a[b] x" does not start with a subj-blob.
    assert plain("[a[b] x").text == "[a[b] x"
    assert plain("[open hello").text == "[open hello"


# -- step (5): repeat (3) and (4) ---------------------------------------------------------------
def test_step5_leaders_and_blobs_are_removed_until_none_match() -> None:
    assert plain("Re: [list] Fwd: Re: hello") == BaseSubject("hello", True)
    assert plain("[a] [b] Re: [c] hello") == BaseSubject("hello", True)


# -- step (6): subj-fwd = subj-fwd-hdr subject subj-fwd-trl, then back to (2) ------------------
def test_step6_fwd_wrapper_is_removed_and_the_steps_repeat() -> None:
    assert plain("[fwd: hello]") == BaseSubject("hello", True)
    assert plain("[Fwd: Re: hello (fwd)]") == BaseSubject("hello", True)
    assert plain("Re: [fwd: [fwd: hello]]") == BaseSubject("hello", True)


def test_step6_needs_both_ends() -> None:
    assert plain("[fwd: hello").text == "[fwd: hello"
    # "[fwd: a] b" ends in "b": no subj-fwd, and "[fwd: a]" is a subj-blob prefix (step 4).
    assert plain("[fwd: a] b").text == "b"


# -- step (7) and the whole -----------------------------------------------------------------------
def test_step7_examples_share_one_base_subject() -> None:
    subjects = [
        "Hello",
        "Re: Hello",
        "RE: re: Hello",
        "Fwd: Hello",
        "[fwd: Hello]",
        "[list] Re[3]: Hello (fwd)",
        "  hello  ",
        "=?UTF-8?Q?Re=3A_hello?=",
    ]
    assert {base_subject(s).text for s in subjects} == {"HELLO"}


def test_missing_and_empty_subjects() -> None:
    assert base_subject(None) == BaseSubject("", False)
    assert base_subject("") == BaseSubject("", False)
    assert base_subject("Re:") == BaseSubject("", True)
    assert base_subject("   ") == BaseSubject("", False)


def test_is_reply_or_forward_only_for_refwd_fwd_trailer_and_wrapper() -> None:
    assert not base_subject("[list] hello").is_reply_or_forward
    assert not base_subject("hello ").is_reply_or_forward
    assert base_subject("hello (fwd)").is_reply_or_forward


# -- comparators -----------------------------------------------------------------------------------
def test_ascii_casemap_folds_only_a_to_z() -> None:
    # RFC 4790 §9.2 i;ascii-casemap
    assert ascii_casemap("abc-XYZ_é") == "ABC-XYZ_é"


def test_unicode_casemap_titlecases_then_decomposes() -> None:
    # Dovecot's uni_utf8_to_decomposed_titlecase: "é" -> "E" + combining acute.
    assert unicode_casemap("café") == "CAFE\u0301"
    assert unicode_casemap("Ǆ") == unicode_casemap("ǆ")  # titlecase, not uppercase
    assert unicode_casemap("ß") == "ß"  # no single-character titlecase
    assert unicode_casemap("ﬁ") == "fi"  # compatibility decomposition
    assert unicode_casemap("a\udcff") == "A\ufffd"  # an octet that was not UTF-8


def test_folding_happens_before_the_steps() -> None:
    # A fullwidth left bracket (U+FF3B) decomposes to "[" before the algorithm runs (as in Dovecot).
    assert base_subject("\uff3blist\uff3d hello").text == "HELLO"
