"""Near-duplicates: shingles, signatures and the pure index, on small hand-written articles."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from tidings.enrich.duplicates import (
    NUM_PERM,
    SEED,
    SHINGLE_WORDS,
    DuplicateIndex,
    duplicate_groups,
    read_signature,
    shingles,
    signature,
    signature_of,
)
from tidings.eval.duplicates import make_variant, summary_line

QUAKE = (
    "A magnitude 6.1 earthquake struck off the coast of northern California early on "
    "Sunday, the United States Geological Survey said, shaking buildings in Eureka and "
    "knocking out power to thousands of homes. There were no immediate reports of serious "
    "injuries. The quake was centred about 30 miles west of Ferndale at a depth of six "
    "miles, and was followed by at least a dozen aftershocks, the largest of magnitude 4.6. "
    "Humboldt County sheriff's deputies checked bridges and roads through the night. "
    "Residents described the shaking as long and rolling, and several shops reported broken "
    "windows and goods thrown from their shelves along the main street of the old town."
)
# The same wire story, lightly edited by another outlet: new headline, credit, a few words
# changed, the last sentence cut, a footer added.
QUAKE_COPY = (
    "Strong quake shakes northern California coast\n\n"
    "EUREKA (AP) - A magnitude 6.1 earthquake struck off the coast of northern California "
    "early Sunday, the United States Geological Survey said, shaking buildings in Eureka and "
    "knocking out power to thousands of homes. There were no immediate reports of serious "
    "injuries. The quake was centred about 30 miles west of Ferndale at a depth of six "
    "miles, and was followed by at least a dozen aftershocks, the biggest of magnitude 4.6. "
    "Humboldt County deputies checked bridges and roads through the night.\n\n"
    "Copyright The Associated Press. All rights reserved."
)
# A different article about the same event: same facts and names, its own words.
QUAKE_OTHER = (
    "Residents of Eureka were jolted awake on Sunday when a 6.1 earthquake hit offshore, "
    "west of Ferndale. Power was cut to thousands of homes in Humboldt County, but officials "
    "said nobody appears to have been badly hurt. Geologists at the USGS recorded more than "
    "twelve aftershocks. 'It just kept rolling,' said one shop owner whose windows shattered. "
    "Sheriff's deputies spent the night inspecting roads and bridges for damage."
)


def unit(*values: float) -> np.ndarray:
    v = np.asarray(values, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_shingles_are_normalised_word_runs() -> None:
    assert shingles("The  Quake, the QUAKE!", size=2) == {"the quake", "quake the"}
    assert shingles("“20-13”  win", size=SHINGLE_WORDS) == {"20 13 win"}
    assert shingles("two words", size=3) == {"two words"}
    assert shingles("  ... ") == set()
    with pytest.raises(ValueError):
        shingles("x", size=0)


def test_signature_bytes_round_trip_and_layout() -> None:
    sig = signature(QUAKE)
    assert sig == signature(QUAKE)  # deterministic: fixed seed, fixed hash
    assert len(sig) == 8 + 4 * NUM_PERM
    version, words, num_perm, seed = struct.unpack_from("<BBHI", sig)
    assert (version, words, num_perm, seed) == (1, SHINGLE_WORDS, NUM_PERM, SEED)
    info, values = read_signature(sig)
    assert (info.shingle_words, info.num_perm, info.seed) == (SHINGLE_WORDS, NUM_PERM, SEED)
    assert values.dtype == np.uint32 and len(values) == NUM_PERM
    assert (
        struct.pack("<BBHI", 1, SHINGLE_WORDS, NUM_PERM, SEED) + values.astype("<u4").tobytes()
        == sig
    )
    # Same set, any order: the same signature.
    assert signature_of(sorted(shingles(QUAKE))) == signature_of(shingles(QUAKE))


def test_signature_values_never_change() -> None:
    # Stored signatures are compared with new ones for as long as articles are kept: a
    # datasketch upgrade (or any change here) that moved these values would silently stop
    # matching copies against the store.
    _, values = read_signature(signature("Colts beat Chiefs 20-13 to clinch playoff berth"))
    assert values[:4].tolist() == [295456572, 138077833, 255337604, 106376466]


def test_unreadable_signatures_are_refused() -> None:
    with pytest.raises(ValueError):
        read_signature(b"\x01\x03")
    with pytest.raises(ValueError):
        read_signature(b"\x09" + signature(QUAKE)[1:])
    with pytest.raises(ValueError):
        read_signature(signature(QUAKE)[:-4])
    other_seed = signature_of(shingles(QUAKE), seed=SEED + 1)
    with pytest.raises(ValueError):
        DuplicateIndex().add(1, other_seed)


def test_identical_text_is_a_duplicate() -> None:
    index = DuplicateIndex()
    index.add(1, signature(QUAKE), unit(1, 0))
    (found,) = index.find(None, signature(QUAKE), unit(1, 0))
    assert found.other_id == 1 and found.jaccard == 1.0
    assert found.cosine == pytest.approx(1.0)


def test_light_rewrite_is_a_duplicate() -> None:
    index = DuplicateIndex()
    index.add(1, signature(QUAKE))
    assert [d.other_id for d in index.find(2, signature(QUAKE_COPY))] == [1]


def test_different_article_on_the_same_event_is_not() -> None:
    index = DuplicateIndex()
    index.add(1, signature(QUAKE))
    assert index.find(None, signature(QUAKE_OTHER)) == []


def test_embeddings_veto_a_word_match() -> None:
    index = DuplicateIndex(cosine_threshold=0.8)
    index.add(1, signature(QUAKE), unit(1, 0))
    assert index.find(None, signature(QUAKE), unit(0, 1)) == []
    # A missing vector on either side: the word match alone decides.
    assert len(index.find(None, signature(QUAKE), None)) == 1


def test_a_held_article_does_not_find_itself_and_remove_forgets() -> None:
    index = DuplicateIndex()
    index.add(1, signature(QUAKE))
    index.add(2, signature(QUAKE_COPY))
    assert [d.other_id for d in index.find(1, signature(QUAKE))] == [2]
    index.remove(2)
    assert 2 not in index and len(index) == 1
    assert index.find(1, signature(QUAKE)) == []
    index.remove(2)  # removing what is not held is not an error
    index.add(1, signature(QUAKE_OTHER))  # re-adding replaces
    assert index.find(None, signature(QUAKE)) == []


def test_empty_text_is_a_duplicate_of_nothing() -> None:
    index = DuplicateIndex()
    index.add(1, signature(""))
    assert index.find(None, signature("")) == []


def test_rebuild_from_stored_triples_equals_incremental() -> None:
    texts = {
        1: QUAKE,
        2: QUAKE_OTHER,
        3: QUAKE_COPY,
        4: QUAKE.replace("Sunday", "Monday"),
        5: "An unrelated note about a school fete on Saturday afternoon.",
    }
    vectors = {k: unit(1, 0.01 * k) for k in texts}
    incremental = DuplicateIndex()
    for k, text in texts.items():
        incremental.add(k, signature(text), vectors[k])
    incremental.add(6, signature(QUAKE))
    incremental.remove(6)
    stored = [(k, signature(t), vectors[k]) for k, t in texts.items()]
    rebuilt = DuplicateIndex.build(reversed(stored))
    for k, sig, vector in stored:
        assert rebuilt.find(k, sig, vector) == incremental.find(k, sig, vector)
    assert {d.other_id for d in rebuilt.find(1, signature(QUAKE), vectors[1])} == {3, 4}


def test_duplicate_groups_root_at_the_lowest_id() -> None:
    groups = duplicate_groups([(7, 3), (9, 7), (20, 12), (12, 15), (5, 5)])
    assert groups == {3: 3, 7: 3, 9: 3, 12: 12, 15: 12, 20: 12, 5: 5}
    assert duplicate_groups([]) == {}


def test_generated_variants_are_deterministic_and_differ() -> None:
    import random

    paragraphs = [s.strip() + "." for s in QUAKE.split(".") if s.strip()]
    a = make_variant(paragraphs, "rewrite", random.Random("x/rewrite"))
    b = make_variant(paragraphs, "rewrite", random.Random("x/rewrite"))
    assert a == b and a[1] != "\n\n".join(paragraphs)
    with pytest.raises(ValueError):
        make_variant(paragraphs, "parody", random.Random(1))


def test_summary_line_reports_pass_and_fail() -> None:
    report = {
        "f1": 0.95,
        "precision": 0.97,
        "recall": 0.93,
        "same_event_false_positives": 2,
        "same_event_negatives": 1000,
        "same_event_fpr": 0.002,
        "signatures_per_second": 900.0,
        "queries_per_second": 3000.0,
    }
    line, ok = summary_line(report, {"duplicates_f1": 0.9})
    assert ok and line.startswith("duplicates: PASS: pair F1 0.950 >= 0.90")
    _, ok = summary_line(report, {"duplicates_f1": 0.96})
    assert not ok
