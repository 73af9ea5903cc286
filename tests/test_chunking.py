"""Token-bounded Markdown chunking: properties on generated Markdown, examples, and the real tokenizer.

Contract checked here (see ``lightfast.ingest.chunking``):

* every chunk holds at most ``max_tokens`` tokens and its ``token_count`` is ``count(chunk.text)``;
* chunks are numbered 0..n-1, never blank, and the same input always gives the same chunks;
* no word is lost and words stay in order: read chunk by chunk, dropping the words a chunk shares with
  the previous one, the chunks spell out exactly the words of the input;
* what two consecutive chunks share (the overlap) is a suffix of the first and a prefix of the second,
  holds at most ``overlap`` tokens, never carries a heading, and is empty when ``overlap`` is 0;
* a block (heading, paragraph, fenced code block) that fits the budget is never split;
* inside a long paragraph of short sentences, consecutive chunks do share a sentence when overlap > 0.

Generated documents use unique words (``w12``, ``é13``...), so a word identifies its position.
"""

from __future__ import annotations

import itertools
import random
import re
from dataclasses import dataclass, field

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lightfast.embed.fake import WordTokenizer
from lightfast.ingest.chunking import Block, Chunk, chunk_markdown, split_blocks

WORD = re.compile(r"[^\W_]+")  # the WordTokenizer's notion of a word (one word = one token)
count = WordTokenizer().count


def words(text: str) -> list[str]:
    return WORD.findall(text)


# --------------------------------------------------------------------------------------------------
# Generated Markdown
# --------------------------------------------------------------------------------------------------


@dataclass
class Doc:
    text: str
    code_blocks: list[str] = field(default_factory=list)
    headings: list[str] = field(default_factory=list)


@st.composite
def markdown_docs(draw: st.DrawFn) -> Doc:
    """The structure (blocks, their sizes, blank lines) is drawn by Hypothesis, so it shrinks; the small
    details (which alphabet a word uses, punctuation, indentation) come from a seeded ``Random``, which
    keeps generation fast."""
    rng = random.Random(draw(st.integers(0, 2**32)))
    counter = itertools.count()

    def word() -> str:
        return f"{rng.choice(['w', 'x', 'é', 'ж', '数'])}{next(counter)}"

    def long_word() -> str:
        return f"L{'o' * rng.randint(50, 400)}{next(counter)}"

    def sentence(n: int) -> str:
        parts = [long_word() if rng.random() < 0.03 else word() for _ in range(n)]
        if n > 2 and rng.random() < 0.3:
            parts[1] = f"`{parts[1]}`,"
        if n > 3 and rng.random() < 0.3:
            parts[2] = f"[{parts[2]}]({word()})"
        return " ".join(parts) + rng.choice([".", ".", "!", "?", "", ":", "..."])

    kinds = ["heading", "paragraph", "paragraph", "long_paragraph", "code", "list", "rule", "long_word"]
    doc = Doc("")
    out: list[str] = []
    for kind in draw(st.lists(st.sampled_from(kinds), max_size=14)):
        if kind == "heading":
            text = "#" * rng.randint(1, 6) + " " + " ".join(word() for _ in range(draw(st.integers(1, 6))))
            doc.headings.append(text)
        elif kind in ("paragraph", "long_paragraph"):
            sizes = st.integers(1, 15)
            lengths = draw(
                st.lists(sizes, min_size=1, max_size=4)
                if kind == "paragraph"
                else st.lists(sizes, min_size=10, max_size=60)
            )
            text = sentence(lengths[0])
            for n in lengths[1:]:
                text += rng.choice([" ", " ", "\n", "  "]) + sentence(n)
        elif kind == "code":
            marker = rng.choice(["```", "~~~", "````"])
            info = rng.choice(["", "python", "sh"])
            lines = [marker + (f"{info}{next(counter)}" if info else "")]
            for n in draw(st.lists(st.integers(0, 8), max_size=25)):
                body = f"{word()} = {word()}(" + ", ".join(word() for _ in range(n)) + ")" if n else ""
                lines.append(" " * rng.choice([0, 0, 4, 8]) + body)
            lines.append(marker)
            text = "\n".join(lines)
            doc.code_blocks.append(text)
        elif kind == "list":
            text = "\n".join(
                f"- {sentence(n)}" for n in draw(st.lists(st.integers(1, 6), min_size=1, max_size=6))
            )
        elif kind == "rule":
            text = rng.choice(["***", "| --- | --- |", "> ..."])
        else:
            text = long_word()
        out.append(text)
        out.append(draw(st.sampled_from(["\n", "\n\n", "\n\n\n", "\n \n"])))
    doc.text = "".join(out)
    return doc


@st.composite
def budgets(draw: st.DrawFn) -> tuple[int, int]:
    max_tokens = draw(st.integers(1, 120))
    overlap = draw(st.one_of(st.just(0), st.integers(0, max_tokens - 1)))
    return max_tokens, overlap


def chunk(text: str, max_tokens: int, overlap: int) -> list[Chunk]:
    return chunk_markdown(text, max_tokens, overlap, count)


def shared_prefix(previous: list[str], following: list[str]) -> int:
    """How many leading words of ``following`` also occur in ``previous`` (the carried overlap)."""
    seen = set(previous)
    n = 0
    while n < len(following) and following[n] in seen:
        n += 1
    return n


PROPERTY = settings(max_examples=150, deadline=None)


# --------------------------------------------------------------------------------------------------
# Properties
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(markdown_docs())
def test_generator_produces_unique_words(doc: Doc) -> None:
    found = words(doc.text)
    assert len(found) == len(set(found))


@PROPERTY
@given(markdown_docs(), budgets())
def test_chunks_fit_the_budget_and_report_their_token_count(doc: Doc, budget: tuple[int, int]) -> None:
    max_tokens, overlap = budget
    for c in chunk(doc.text, max_tokens, overlap):
        assert c.token_count == count(c.text)
        assert 0 < c.token_count <= max_tokens, c


@PROPERTY
@given(markdown_docs(), budgets())
def test_indexes_are_consecutive_and_chunks_not_blank(doc: Doc, budget: tuple[int, int]) -> None:
    chunks = chunk(doc.text, *budget)
    assert [c.index for c in chunks] == list(range(len(chunks)))
    for c in chunks:
        assert c.text.strip()
        assert c.text == c.text.strip("\n")
    assert bool(chunks) == bool(words(doc.text))


@PROPERTY
@given(markdown_docs(), budgets())
def test_chunking_is_deterministic_and_line_ending_agnostic(doc: Doc, budget: tuple[int, int]) -> None:
    first = chunk(doc.text, *budget)
    assert chunk(doc.text, *budget) == first
    assert chunk(doc.text.replace("\n", "\r\n"), *budget) == first


@PROPERTY
@given(markdown_docs(), budgets())
def test_every_word_is_kept_in_order(doc: Doc, budget: tuple[int, int]) -> None:
    max_tokens, overlap = budget
    chunks = chunk(doc.text, max_tokens, overlap)
    chunk_words = [words(c.text) for c in chunks]

    # Coverage and order: each input word is in some chunk, and the chunk where a word first appears
    # never comes before the chunk where the previous word first appears.
    first_seen: dict[str, int] = {}
    for index, found in enumerate(chunk_words):
        for w in found:
            first_seen.setdefault(w, index)
    input_words = words(doc.text)
    assert set(first_seen) == set(input_words), "chunks lost or invented words"
    firsts = [first_seen[w] for w in input_words]
    assert firsts == sorted(firsts)

    # Stronger: dropping the overlap, the chunks spell out exactly the input's words.
    rebuilt = list(chunk_words[0]) if chunks else []
    for previous, following in itertools.pairwise(chunk_words):
        n = shared_prefix(previous, following)
        assert not set(following[n:]) & set(previous), "a chunk repeats words beyond the overlap"
        rebuilt += following[n:]
    assert rebuilt == input_words


def check_overlap(doc: Doc, max_tokens: int, overlap: int) -> None:
    chunks = chunk(doc.text, max_tokens, overlap)
    heading_words = {w for h in doc.headings for w in words(h)}
    for previous, following in itertools.pairwise(chunks):
        before, after = words(previous.text), words(following.text)
        n = shared_prefix(before, after)
        assert n <= overlap, (previous, following)
        if n:
            assert before[-n:] == after[:n]  # the end of one chunk starts the next
            assert not set(after[:n]) & heading_words, "a heading was carried as overlap"
            # The shared words are shared as text too: the same characters end one chunk and start the next.
            spans = [m.span() for m in WORD.finditer(following.text)]
            assert following.text[spans[0][0] : spans[n - 1][1]] in previous.text


@PROPERTY
@given(markdown_docs(), budgets())
def test_overlap_is_a_bounded_suffix_that_never_carries_a_heading(doc: Doc, budget: tuple[int, int]) -> None:
    check_overlap(doc, *budget)


@st.composite
def sectioned_docs(draw: st.DrawFn) -> tuple[Doc, int, int]:
    """Many short sections and a small budget: headings often end up at the end of a chunk."""
    counter = itertools.count()
    doc = Doc("")
    out: list[str] = []
    for heading_words, paragraphs in draw(
        st.lists(st.tuples(st.integers(1, 3), st.lists(st.integers(1, 8), max_size=3)), max_size=10)
    ):
        heading = "## " + " ".join(f"h{next(counter)}" for _ in range(heading_words))
        doc.headings.append(heading)
        out.append(heading)
        out.extend(" ".join(f"p{next(counter)}" for _ in range(n)) + "." for n in paragraphs)
    doc.text = "\n\n".join(out)
    max_tokens = draw(st.integers(2, 16))
    return doc, max_tokens, draw(st.integers(1, max_tokens - 1))


@settings(max_examples=300, deadline=None)
@given(sectioned_docs())
def test_overlap_never_carries_a_heading_in_short_sections(case: tuple[Doc, int, int]) -> None:
    check_overlap(*case)


@PROPERTY
@given(markdown_docs(), budgets())
def test_blocks_that_fit_are_never_split(doc: Doc, budget: tuple[int, int]) -> None:
    max_tokens, overlap = budget
    chunks = chunk(doc.text, max_tokens, overlap)
    blocks = split_blocks(doc.text)
    # The generated fenced code blocks are recognised as such, whole.
    code = [b.text for b in blocks if b.kind == "code"]
    assert code == doc.code_blocks
    for block in blocks:
        if 0 < count(block.text) <= max_tokens:
            assert any(block.text in c.text for c in chunks), block


def count_with_separators(text: str) -> int:
    """A tokenizer for which the blank line between blocks costs a token (as with BPE tokenizers)."""
    return len(WORD.findall(text)) + text.count("\n\n")


@PROPERTY
@given(markdown_docs(), budgets())
def test_budget_holds_when_separators_cost_tokens(doc: Doc, budget: tuple[int, int]) -> None:
    # The overlap carried into a chunk must leave room for the separators that join it to the new text
    # (this failed before ``_tail`` counted them: 'a.\n\nb?' came out at 3 tokens with max_tokens=2).
    max_tokens, overlap = budget
    for c in chunk_markdown(doc.text, max_tokens, overlap, count_with_separators):
        assert c.token_count == count_with_separators(c.text) <= max_tokens, c


@st.composite
def sentence_paragraphs(draw: st.DrawFn) -> tuple[str, list[str], int, int]:
    """One long paragraph of short sentences: each has at most min(overlap, max/2) tokens."""
    max_tokens = draw(st.integers(2, 60))
    overlap = draw(st.integers(1, max_tokens - 1))
    cap = min(overlap, max_tokens // 2)
    counter = itertools.count()
    sentences = [
        " ".join(f"s{next(counter)}" for _ in range(n)) + draw(st.sampled_from([".", "!", "?"]))
        for n in draw(st.lists(st.integers(1, cap), min_size=max_tokens + 1, max_size=max_tokens + 40))
    ]
    return " ".join(sentences), sentences, max_tokens, overlap


@PROPERTY
@given(sentence_paragraphs())
def test_consecutive_chunks_of_a_long_paragraph_share_a_sentence(
    case: tuple[str, list[str], int, int],
) -> None:
    text, sentences, max_tokens, overlap = case
    chunks = chunk(text, max_tokens, overlap)
    assert len(chunks) >= 2
    for previous, following in itertools.pairwise(chunks):
        # The next chunk starts with whole sentences that end the previous one, its last included.
        last_sentence = next(s for s in reversed(sentences) if previous.text.endswith(s))
        carried = following.text[: following.text.index(last_sentence + " ") + len(last_sentence)]
        assert previous.text.endswith(carried)
        assert carried[0] == "s"
        assert carried == previous.text or previous.text.endswith(" " + carried)  # whole sentences
        n = shared_prefix(words(previous.text), words(following.text))
        assert 0 < n <= overlap

    # Without overlap the very same paragraph gives chunks that share nothing.
    plain = chunk(text, max_tokens, 0)
    for previous, following in itertools.pairwise(plain):
        assert not set(words(previous.text)) & set(words(following.text))
    assert " ".join(c.text for c in plain) == text


# --------------------------------------------------------------------------------------------------
# Examples
# --------------------------------------------------------------------------------------------------


def section(title: str, n: int, level: int = 2) -> str:
    return f"{'#' * level} {title}\n\n" + " ".join(f"{title.lower()}{i}" for i in range(n)) + ".\n"


def test_headings_start_new_chunks_once_a_quarter_of_the_budget_is_used() -> None:
    text = section("Alpha", 30) + "\n" + section("Beta", 30)
    chunks = chunk(text, 100, 20)  # 62 words would fit in one chunk
    assert [c.text.split("\n")[0] for c in chunks] == ["## Alpha", "## Beta"]
    assert not set(words(chunks[0].text)) & set(words(chunks[1].text))  # no overlap across sections


def test_small_sections_stay_with_what_follows() -> None:
    text = "# Guide\n\nA short intro.\n\n" + section("Install", 30) + "\n" + section("Usage", 30)
    chunks = chunk(text, 100, 0)
    assert len(chunks) == 2
    assert chunks[0].text.startswith("# Guide\n\nA short intro.\n\n## Install\n\n")
    assert chunks[1].text.startswith("## Usage")


def test_a_long_paragraph_is_split_at_sentences_with_overlap() -> None:
    text = " ".join(f"Sentence {i} has five words." for i in range(6))
    chunks = chunk(text, 10, 5)
    assert [c.text for c in chunks] == [
        "Sentence 0 has five words. Sentence 1 has five words.",
        "Sentence 1 has five words. Sentence 2 has five words.",
        "Sentence 2 has five words. Sentence 3 has five words.",
        "Sentence 3 has five words. Sentence 4 has five words.",
        "Sentence 4 has five words. Sentence 5 has five words.",
    ]
    assert [c.text for c in chunk(text, 10, 0)] == [
        "Sentence 0 has five words. Sentence 1 has five words.",
        "Sentence 2 has five words. Sentence 3 has five words.",
        "Sentence 4 has five words. Sentence 5 has five words.",
    ]


def test_a_huge_code_block_is_split_at_lines_and_a_long_sentence_at_words() -> None:
    code = "```python\n" + "\n".join(f"x{i} = f(a{i}, b{i})" for i in range(20)) + "\n```"
    chunks = chunk(code, 12, 0)
    assert all(c.token_count <= 12 for c in chunks)
    assert chunks[0].text.split("\n")[:2] == ["```python", "x0 = f(a0, b0)"]
    assert all("\n" in c.text for c in chunks[:-1])  # whole lines
    long_sentence = " ".join(f"word{i}" for i in range(25))
    assert [c.token_count for c in chunk(long_sentence, 10, 0)] == [10, 10, 5]


def test_empty_and_wordless_documents_give_no_chunks() -> None:
    assert chunk("", 10, 2) == []
    assert chunk("\n\n   \n", 10, 2) == []
    assert chunk("***\n\n---\n", 10, 2) == []


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0), (-1, 0), (10, 10), (10, -1), (10, 11)])
def test_invalid_budgets_are_rejected(max_tokens: int, overlap: int) -> None:
    with pytest.raises(ValueError, match=r"max_tokens|overlap"):
        chunk("some text", max_tokens, overlap)


def test_split_blocks_on_a_sample() -> None:
    sample = (
        "# Title\r\n"
        "Intro line one\r\n"
        "intro line two.\r\n"
        "\r\n"
        "  ## Indented heading\n"
        "#not-a-heading\n"
        "    # four spaces is not a heading\n"
        "\n"
        "````md\n"
        "```\n"
        "# inside code\n"
        "\n"
        "```\n"
        "`````\n"
        "~~~\n"
        "tilde code\n"
        "~~~\n"
        "After code.\n"
        "\n\n\n"
        "###### Six\n"
        "####### seven is a paragraph\n"
        "```\n"
        "unterminated\n"
    )
    assert split_blocks(sample) == [
        Block("# Title", "heading"),
        Block("Intro line one\nintro line two.", "paragraph"),
        Block("## Indented heading", "heading"),
        Block("#not-a-heading\n    # four spaces is not a heading", "paragraph"),
        Block("````md\n```\n# inside code\n\n```\n`````", "code"),
        Block("~~~\ntilde code\n~~~", "code"),
        Block("After code.", "paragraph"),
        Block("###### Six", "heading"),
        Block("####### seven is a paragraph", "paragraph"),
        Block("```\nunterminated\n", "code"),
    ]


# --------------------------------------------------------------------------------------------------
# The real tokenizer of all-MiniLM-L6-v2
# --------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def wordpiece() -> object:
    from lightfast.embed.local import WordPieceTokenizer

    return WordPieceTokenizer()


def realistic_markdown() -> str:
    parts = [
        "---\ntitle: Deployment handbook\ntags: [ops, k8s]\n---\n",
        "# Deployment handbook\n",
        "This handbook explains how we ship `lightfast` to production: the CI pipeline, the Helm charts, "
        "rollbacks, and what to do when the pager goes off at 3 a.m. Read it once end to end; after that, "
        "use the table of contents.\n",
    ]
    for n in range(12):
        parts.append(f"## {n + 1}. Rolling out service #{n} (région eu-west-{n % 3}, naïve café mode)\n")
        parts.append(
            " ".join(
                f"Step {i}: run kubectl rollout status deploy/api-{n}-{i} --namespace=prod-{i} and watch "
                f"the p99 latency (≤ {i * 7} ms) on https://grafana.example.com/d/{n}{i}/api?orgId=1&r=5s; "
                "if the error budget burns faster than 2%/h, roll back with `helm rollback`."
                for i in range(14)
            )
            + "\n"
        )
        parts.append(
            "```yaml\n"
            + "\n".join(f"replicas_{i}: {i}  # autoscaled by HPA v2, target CPU {i * 10}%" for i in range(30))
            + "\n```\n"
        )
        parts.append(
            "| Column | Meaning |\n| --- | --- |\n"
            + "\n".join(
                f"| `field_{i}` | Größe des Puffers in KiB — 日本語のテキスト {i} |" for i in range(10)
            )
            + "\n"
        )
        parts.append("Supercalifragilisticexpialidocious" * 40 + "\n")
        parts.append("`" + "".join(f"const v{i}=require('m{i}');" for i in range(120)) + "`\n")
    return "\n".join(parts)


def test_real_tokenizer_chunks_stay_within_the_model_window(wordpiece: object) -> None:
    real_count = wordpiece.count  # type: ignore[attr-defined]
    text = realistic_markdown()
    chunks = chunk_markdown(text, 254, 32, real_count)
    assert len(chunks) > 20
    for c in chunks:
        tokens = real_count(c.text)
        assert c.token_count == tokens
        assert 0 < tokens <= 254, (c.index, tokens)
    # Nothing is lost: every distinct word of the source is in some chunk.
    assert set(words(text)) <= {w for c in chunks for w in words(c.text)}


@settings(max_examples=60, deadline=None)
@given(
    st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]) | st.sampled_from(" \n.#`"),
        max_size=400,
    ),
    st.integers(1, 40),
)
def test_real_tokenizer_budget_holds_for_arbitrary_text(
    wordpiece: object, text: str, max_tokens: int
) -> None:
    real_count = wordpiece.count  # type: ignore[attr-defined]
    chunks = chunk_markdown(text, max_tokens, max_tokens // 3, real_count)
    for c in chunks:
        assert c.token_count == real_count(c.text) <= max_tokens
