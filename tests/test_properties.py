"""What holds for any input, checked on many (Hypothesis): an explanation is the same however its question is
written, scales with its features, adds up to what ablation measures; zero-shot and the map follow the order of what
they are given. Each property reads as a rule a user can rely on."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

import nlexnb
from nlexnb.explain import measured_drop
from nlexnb.targets import ClassLogit
from nlexnb.zeroshot import ZeroShotClassifier

BANK = [
    "striped fur", "whiskers", "a small cup", "foam", "dark liquid", "grass", "a car wheel", "snow", "a brick wall",
    "feathers", "a wooden table", "blue sky", "pointed ears", "metal", "water",
]  # fmt: skip


@pytest.fixture(scope="module")
def explainer(classifier, ridge_mapper):
    return nlexnb.Explainer(classifier, ridge_mapper, BANK)


@pytest.fixture(scope="module")
def features(explainer, photos):
    return explainer.classifier.features(list(photos.values()))


@pytest.fixture(scope="module")
def labels_classifier(classifier, ridge_mapper):
    return ZeroShotClassifier(classifier, ridge_mapper, ["a cat", "a cup of coffee", "a rocket", "a flower", "a bike"])


def noisy(features: torch.Tensor, which: int, seed: int, noise: float) -> torch.Tensor:
    """A sample photo's features, moved by non-negative noise (features after a ReLU-like activation are >= 0)."""
    g = torch.Generator().manual_seed(seed)
    f = features[which % len(features)]
    return (f + noise * torch.rand(f.shape, generator=g) * f.mean()).clamp_min(0)


@given(st.integers(0, 20), st.integers(0, 2**16), st.floats(0, 2), st.integers(0, 999), st.integers(1, 6))
def test_contributions_add_up_to_the_measured_drop_for_any_features(explainer, features, which, seed, noise, c, k):
    f = noisy(features, which, seed, noise)
    chosen, gains = explainer.select(f, c, k)
    assert len(chosen) == len(set(chosen)) <= k and all(g > 0 for g in gains)
    directions = explainer.directions[chosen]
    measured = measured_drop(explainer.classifier, f, directions, ClassLogit(c)) if chosen else 0.0
    assert sum(gains) == pytest.approx(measured, rel=1e-3, abs=1e-4)


@given(st.integers(0, 20), st.integers(0, 2**16), st.floats(0.01, 100), st.integers(0, 999))
def test_scaling_the_features_scales_the_contributions_and_keeps_the_concepts(explainer, features, which, seed, s, c):
    f = noisy(features, which, seed, 0.5)
    chosen, gains = explainer.select(f, c, 4)
    scaled, scaled_gains = explainer.select(f * s, c, 4)
    assert scaled == chosen
    assert np.allclose(scaled_gains, np.array(gains) * s, rtol=1e-3, atol=1e-5)


@given(st.integers(0, 999), st.sampled_from(["int", "numpy", "name", "target"]))
def test_a_class_asked_by_index_numpy_integer_name_or_target_is_one_question(explainer, features, c, form):
    clf = explainer.classifier
    asked = {"int": c, "numpy": np.int64(c), "name": clf.class_names[c], "target": ClassLogit(c)}[form]
    assert explainer.select(features[0], asked, 3) == explainer.select(features[0], c, 3)


@given(st.permutations(range(5)))
def test_reordering_zero_shot_labels_reorders_their_scores(labels_classifier, ridge_mapper, features, order):
    labels = [labels_classifier.labels[i] for i in order]
    reordered = ZeroShotClassifier(labels_classifier.classifier, ridge_mapper, labels)
    before, after = labels_classifier.logits_from_features(features), reordered.logits_from_features(features)
    assert torch.allclose(after, before[:, list(order)], atol=1e-4)
    assert [labels[i] for i in after.argmax(1)] == [labels_classifier.labels[i] for i in before.argmax(1)]


@given(st.lists(st.sampled_from(BANK), min_size=1, max_size=6))
def test_the_map_sends_each_text_to_one_place_whatever_comes_with_it(ridge_mapper, texts):
    together = ridge_mapper.encode(texts)
    alone = torch.cat([ridge_mapper.encode([t]) for t in texts])
    assert torch.allclose(together, alone, atol=1e-4)  # duplicates and order change nothing for the others


@given(st.text(max_size=40))
def test_a_text_has_the_same_words_however_its_letters_are_encoded(text):
    """Words are runs of letters of any script, lower case, the same whether accents come composed or decomposed,
    so a people named with accents, a class name's head and a concept's colours are read alike everywhere."""
    import unicodedata

    from nlexnb.concepts import names_a_people
    from nlexnb.labels import words

    found = words(text)
    assert all(w[0].isalpha() and all(ch.isalpha() or unicodedata.combining(ch) for ch in w) for w in found)
    assert found == words(unicodedata.normalize("NFD", text)) == words(unicodedata.normalize("NFC", text))
    assert names_a_people(text) == names_a_people(unicodedata.normalize("NFD", text))
