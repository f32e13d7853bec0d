"""SecretIndex: whole secrets and runs of 12 characters of their secret part, found and scrubbed."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.judge.secrets import FRAGMENT_CHARS, SecretIndex, public_prefix, secret_fp
from harness.report.evidence import scrub

RNG = random.Random(7)
TOKENS = [
    f"{p}{k}-{RNG.getrandbits(128):032x}"
    for p in ("x", "instagram", "linkedin")
    for k in ("at", "rt")
]
KEY = f"sk-openai-{RNG.getrandbits(160):040x}"


def test_the_public_prefix_is_the_leading_words_ending_in_a_dash():
    assert public_prefix(TOKENS[0]) == "xat-"
    assert public_prefix(KEY) == "sk-openai-"
    assert public_prefix("plainsecretwithoutdashes") == ""
    # a prefix that would leave fewer than 12 characters is no prefix
    assert public_prefix("xat-0123") == ""


@pytest.mark.parametrize("secret", [*TOKENS, KEY])
def test_every_run_of_twelve_characters_of_the_secret_part_is_found(secret: str):
    index = SecretIndex([*TOKENS, KEY])
    body = secret[len(public_prefix(secret)) :]
    for i in range(len(body) - FRAGMENT_CHARS + 1):
        frag = body[i : i + FRAGMENT_CHARS]
        (hit,) = index.find(f'{{"error": "401 with {frag}…"}}')
        assert hit.secret == secret and not hit.whole and hit.chars == FRAGMENT_CHARS


def test_a_longer_fragment_is_reported_with_its_length_and_a_whole_secret_as_whole():
    index = SecretIndex(TOKENS)
    (hit,) = index.find(f"token {TOKENS[2][:30]} and more")
    assert (hit.whole, hit.chars) == (False, 30 - len("instagramat-"))
    (hit,) = index.find(f"Bearer {TOKENS[1]}")
    assert hit.whole and hit.chars == len(TOKENS[1])


def test_prefixes_fingerprints_masks_and_short_pieces_are_not_leaks():
    index = SecretIndex([*TOKENS, KEY])
    body = TOKENS[0][4:]
    text = " ".join(
        [
            "xat- instagramrt- sk-openai-",
            *(secret_fp(s) for s in TOKENS),
            f"{KEY[:3]}{'*' * 30}{KEY[-4:]}",  # the OpenAI fake's masked key
            body[:11],
            body[-11:],
            f"xat-{body[:7]}",
        ]
    )
    assert index.find(text) == []
    assert scrub(text, index) == text


def test_scrub_redacts_whole_secrets_and_fragments_and_keeps_the_rest():
    index = SecretIndex(TOKENS)
    text = f"a {TOKENS[0]} b {TOKENS[1][:18]}… c {TOKENS[2][15:40]} d"
    out = index.scrub(text)
    assert out == (
        f"a [redacted {secret_fp(TOKENS[0])}] b xrt-[redacted part of {secret_fp(TOKENS[1])}]… "
        f"c [redacted part of {secret_fp(TOKENS[2])}] d"
    )
    assert index.find(out) == []


def test_many_secrets_in_a_large_text():
    secrets = [f"xat-{RNG.getrandbits(128):032x}" for _ in range(500)]
    index = SecretIndex(secrets)
    filler = "".join(f"{RNG.getrandbits(64):016x} " for _ in range(20_000))
    text = filler + secrets[321][9:30] + " " + filler
    (hit,) = index.find(text)
    assert hit.secret == secrets[321] and hit.chars == 21
    assert secrets[321][9:30] not in index.scrub(text)


def test_a_fragment_threshold_below_four_is_refused():
    with pytest.raises(ValueError, match="at least 4"):
        SecretIndex(TOKENS, n=3)


def _every_position(index: SecretIndex, text: str) -> list[tuple[int, int, int]]:
    """The definition of SecretIndex.spans, without its probes: every n-gram looked up."""
    out: list[tuple[int, int, int]] = []
    cur: tuple[int, int, int] | None = None
    for i in range(len(text) - index.n + 1):
        k = index._grams.get(text[i : i + index.n])
        if k is None:
            continue
        if cur is not None and cur[0] == k and i <= cur[2]:
            cur = (k, cur[1], i + index.n)
        else:
            if cur is not None:
                out.append(cur)
            cur = (k, i, i + index.n)
    if cur is not None:
        out.append(cur)
    return out


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(
        st.tuples(st.integers(0, len(TOKENS)), st.integers(0, 40), st.integers(0, 40)),
        min_size=1,
        max_size=4,
    ),
    pad=st.lists(st.text("0123456789abcdef -", max_size=25), min_size=5, max_size=5),
)
def test_a_fragment_anywhere_inside_a_run_of_hex_is_found_as_by_a_scan_of_every_position(
    pieces, pad
):
    """The run probes skip runs without a secret; they never skip a fragment, at any offset."""
    secrets = [*TOKENS, KEY]
    index = SecretIndex(secrets)
    text = pad[0]
    for j, (k, a, length) in enumerate(pieces):
        body = secrets[k][len(public_prefix(secrets[k])) :]
        text += body[a : a + length] + pad[j + 1]
    assert index.spans(text) == _every_position(index, text)


def test_a_text_scanned_again_gives_the_same_spans_and_the_memory_stays_bounded():
    index = SecretIndex.of([*TOKENS, KEY])
    assert SecretIndex.of([*TOKENS, KEY]) is index
    body = TOKENS[3][len(public_prefix(TOKENS[3])) :]
    texts = [f"{RNG.getrandbits(64):016x} " * 400 + body[k : k + 14] for k in range(6)]
    first = [index.spans(t) for t in texts]
    first[0].clear()  # a caller's list is its own
    again = [index.spans(t) for t in texts]
    assert again == [SecretIndex([*TOKENS, KEY]).spans(t) for t in texts]
    assert all(len(s) == 1 for s in again)
    index.MEMO_CHARS = 2 * len(texts[0])
    for t in texts:
        index.spans(t + " ")
        assert index._memo_chars <= index.MEMO_CHARS
