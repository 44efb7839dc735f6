"""Where the shared test messages live: ../shared/corpus beside the checkout."""

from __future__ import annotations

import os
from pathlib import Path


def corpus_dir() -> Path:
    """The corpus folder: $TIDINGS_CORPUS, else ../shared/corpus from the repository root."""
    override = os.environ.get("TIDINGS_CORPUS")
    if override:
        return Path(override)
    return Path(__file__).resolve().parents[2].parent / "shared" / "corpus"


def corpus_files() -> list[Path]:
    """Every .eml file of the corpus, sorted by name."""
    return sorted(corpus_dir().glob("*.eml"))
