"""What every hosted (or self-hosted, over HTTP) embedding model shares: a token estimate in place of the
model's tokenizer, and the default chunking of a model with a wide input window."""

from __future__ import annotations

import math
import re

# The reference implementation's chunking (512 tokens, 50 overlap) was sized for a 512-token hosted model;
# a model with a wider window still gets it: retrieval quality falls as chunks grow (one vector per
# chunk), and it keeps the token estimate's error far below any window.
HOSTED_CHUNK_TOKENS = 512
HOSTED_CHUNK_OVERLAP = 50

_WORD = re.compile(r"\S+")


class EstimatingTokenizer:
    """A conservative token count for models whose tokenizer is not on this machine (no download is
    allowed): the larger of UTF-8 bytes / 3 and words x 4/3.

    Why those figures: byte-pair tokenizers (OpenAI's cl100k, Cohere's) average about 4 bytes a token on
    English prose and 0.75 words a token, so each estimate overshoots prose by about a third; code,
    numbers and non-Latin scripts run at fewer bytes a token, and the byte term's headroom covers most of
    them. Overestimating only makes chunks smaller than they could be; underestimating would let a chunk
    overrun the window (Cohere truncates, OpenAI refuses), so the error leans one way on purpose."""

    def count(self, text: str) -> int:
        if not text:
            return 0
        by_bytes = math.ceil(len(text.encode("utf-8")) / 3)
        by_words = math.ceil(len(_WORD.findall(text)) * 4 / 3)
        return max(by_bytes, by_words)
