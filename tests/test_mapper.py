"""The data-free mapper: fit from class names and head rows only, save/load safely, map any text."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F

import nlexnb


def rank_of(mapper, classifier, text: str, class_index: int) -> int:
    v = F.normalize(mapper.encode(text), dim=1)
    scores = (v @ F.normalize(classifier.head_weight, dim=1).T)[0]
    return int((scores > scores[class_index]).sum())


def test_mapped_class_names_land_on_their_own_rows(mapper, classifier):
    names = ["tabby, tabby cat", "espresso", "Siberian husky", "space shuttle"]
    index = [classifier.class_names.index(n) for n in names]
    vectors = F.normalize(mapper.encode_labels(names), dim=1)
    nearest = (vectors @ F.normalize(classifier.head_weight, dim=1).T).argmax(1).tolist()
    assert nearest == index


def test_free_text_maps_near_the_class_it_describes(mapper, classifier):
    assert rank_of(mapper, classifier, "a small cup of dark coffee with foam", 967) < 5  # espresso
    assert rank_of(mapper, classifier, "a rocket launching into the sky", classifier.class_names.index("missile")) < 10


def test_shapes_and_empty_input(mapper, classifier):
    assert mapper.encode(["a", "b"]).shape == (2, classifier.num_features)
    assert mapper.encode([]).shape == (0, classifier.num_features)
    assert mapper.encode_labels([]).shape == (0, classifier.num_features)
    with pytest.raises(TypeError):
        mapper.encode([None])


def test_save_and_load_round_trip(mapper, classifier, encoder, tmp_path):
    path = mapper.save(tmp_path / "lite0")
    assert path.suffix == ".safetensors"
    loaded = nlexnb.load_mapper(path, classifier, text_encoder=encoder)
    # bit for bit: the same fingerprint must mean the same vectors, or whichever fills a cache first decides
    assert torch.equal(loaded.encode(["a tabby cat"]), mapper.encode(["a tabby cat"]))
    assert torch.equal(loaded.encode_labels(["tabby", "a red fox"]), mapper.encode_labels(["tabby", "a red fox"]))
    assert loaded.fingerprint == mapper.fingerprint
    assert loaded.meta["classifier_fingerprint"] == classifier.fingerprint
    assert loaded.templates == mapper.templates
    assert {"torch", "timm", "sentence-transformers"} <= set(loaded.meta["versions"])


def test_the_label_memory_holds_for_its_templates_in_any_order(mapper, classifier):
    """A label is a mean over the templates: the same three in another order turned the memory off, and "espresso"
    landed at cosine 0.87 to its own row."""
    espresso = classifier.class_index("espresso")
    reordered = mapper.encode_labels("espresso", templates=list(mapper.templates)[::-1])
    torch.testing.assert_close(reordered, mapper.encode_labels("espresso"), atol=1e-4, rtol=1e-4)
    assert torch.nn.functional.cosine_similarity(reordered, classifier.head_weight[[espresso]]).item() > 0.999


def test_a_mapper_whose_encoder_was_edited_after_the_fit_is_refused(classifier):
    """The map was fitted on the embeddings the encoder gave then; an encoder given a shorter token limit (or new
    weights) kept receiving the old cached vectors, or new ones the map never saw."""
    encoder = nlexnb.load_text_encoder(device="cpu")
    small = nlexnb.fit_mapper(classifier, encoder, classes=list(range(0, 1000, 10)))
    fingerprint = small.fingerprint
    small.encode("striped fur", cache=True)
    encoder.model.max_seq_length = 8
    assert small.fingerprint != fingerprint  # no cache of the map as it was answers for it
    for use in (lambda: small.encode("striped fur", cache=True), lambda: small.encode_labels(["tabby"])):
        with pytest.raises(ValueError, match=r"fitted on 'all-MiniLM-L6-v2-.*' embeddings, but its text encoder is"):
            use()


def test_load_refuses_a_mapper_of_another_precision_or_width_at_load_not_at_first_use(ridge_mapper, encoder, tmp_path):
    """Half precision and mis-shaped tensors (with checksums that match) loaded, then failed at the first text in
    torch's words ("mat1 and mat2 shapes cannot be multiplied")."""
    import copy

    from nlexnb.maps import RidgeMap

    half = copy.deepcopy(ridge_mapper)
    half.net.half()
    path = half.save(tmp_path / "half.safetensors")
    with pytest.raises(ValueError, match=r"not float32 \(\{'net.bias': 'float16', 'net.weight': 'float16'\}\)"):
        nlexnb.load_mapper(path, text_encoder=encoder)
    narrow = copy.deepcopy(ridge_mapper)
    narrow.net = RidgeMap(torch.zeros(100, encoder.dim), torch.zeros(100))
    path = narrow.save(tmp_path / "narrow.safetensors")
    with pytest.raises(ValueError, match="map a text to 100 numbers, but its header says the classifier's features"):
        nlexnb.load_mapper(path, text_encoder=encoder)


def test_load_refuses_damaged_files_and_other_heads(ridge_mapper, encoder, tmp_path):
    path = ridge_mapper.save(tmp_path / "m.safetensors")
    damaged = tmp_path / "damaged.safetensors"
    damaged.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="damaged.safetensors.*not a readable nlexnb mapper"):
        nlexnb.load_mapper(damaged, text_encoder=encoder)
    with pytest.raises(FileNotFoundError):
        nlexnb.load_mapper(tmp_path / "absent.safetensors")
    other = nlexnb.load_classifier("tf_efficientnet_lite0", pretrained=False, device="cpu")
    with pytest.raises(ValueError, match="its class rows differ"):
        nlexnb.load_mapper(path, other, text_encoder=encoder)
    shorter = nlexnb.load_text_encoder(device="cpu")  # the same weights, reading fewer tokens: other embeddings
    shorter.model.max_seq_length = 16
    with pytest.raises(ValueError, match=r"reads embeddings of 'all-MiniLM-L6-v2-.*' \(other weights or settings"):
        nlexnb.load_mapper(path, text_encoder=shorter)


def test_save_is_atomic_and_never_leaves_a_half_written_file(ridge_mapper, tmp_path, monkeypatch):
    path = ridge_mapper.save(tmp_path / "keep.safetensors")
    before = path.read_bytes()

    def explode(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("safetensors.torch.save_file", explode)
    with pytest.raises(OSError, match="disk full"):
        ridge_mapper.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_save_on_a_full_disk_raises_naming_the_file_and_keeps_the_old_one(ridge_mapper, tmp_path, monkeypatch):
    """safetensors raises a full disk as its own error ("Error while serializing: I/O error: ..."), naming no file;
    an explicit save must fail all the same (a cache write only warns)."""
    from safetensors import SafetensorError

    path = ridge_mapper.save(tmp_path / "keep.safetensors")
    before = path.read_bytes()

    def no_space(*args, **kwargs):
        raise SafetensorError("Error while serializing: I/O error: No space left on device (os error 28)")

    monkeypatch.setattr("safetensors.torch.save_file", no_space)
    with pytest.raises(OSError, match=r"\[Errno 28\] No space left on device: '.*keep.safetensors'"):
        ridge_mapper.save(path)
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["keep.safetensors"]


def test_save_and_load_name_a_folder_in_the_way_and_a_file_that_is_no_mapper(ridge_mapper, encoder, tmp_path):
    from safetensors.torch import save_file

    (tmp_path / "m.safetensors").mkdir()  # the error named a hidden temporary file
    with pytest.raises(ValueError, match=r"'.*/m' is saved as '.*/m.safetensors', which is a folder; give another"):
        ridge_mapper.save(tmp_path / "m")
    weights = tmp_path / "weights.safetensors"
    save_file({"weight": torch.ones(2, 2)}, str(weights))  # "KeyError: 'nlexnb'"
    with pytest.raises(ValueError, match=r"is a safetensors file but not an nlexnb mapper: it has no nlexnb header"):
        nlexnb.load_mapper(weights, text_encoder=encoder)


def test_a_label_of_punctuation_only_is_refused_as_zero_shot_refuses_it(ridge_mapper):
    """ "," was mapped as its template alone ("a photo of a ,.")."""
    with pytest.raises(ValueError, match=r"names\[1\] ',' is empty once its punctuation is left out; a label needs"):
        ridge_mapper.encode_labels(["dog", ","])
    assert ridge_mapper.encode_labels(["dog", "t-shirt", "tabby, tabby cat"]).shape[0] == 3


def test_fit_on_a_subset_and_bad_arguments(classifier, encoder):
    sub = nlexnb.fit_mapper(classifier, encoder, classes=range(0, 1000, 10), method="ridge")
    assert sub.meta["num_fit_classes"] == 100
    with pytest.raises(ValueError, match="Unknown mapper method 'lasso'"):
        nlexnb.fit_mapper(classifier, encoder, method="lasso")
    with pytest.raises(TypeError, match="Unknown hyper-parameter"):
        nlexnb.fit_mapper(classifier, encoder, method="ridge", hidden=3)
    with pytest.raises(ValueError, match=r"indices in \[0, 1000\)"):
        nlexnb.fit_mapper(classifier, encoder, classes=[0, 1000], method="ridge")
    with pytest.raises(ValueError, match="exactly one"):
        nlexnb.fit_mapper(classifier, encoder, method="ridge", templates=["no placeholder"])


def test_fit_map_names_an_unknown_method_and_refuses_widths_that_fit_nothing(classifier, encoder):
    """maps.fit_map, public beside fit_mapper, gave a bare KeyError for "krnel" and, with sigma=0, a map whose every
    output was NaN without a word."""
    from nlexnb.maps import fit_map

    names = ["tabby, tabby cat", "espresso", "Siberian husky", "space shuttle"]
    rows = classifier.head_weight[[classifier.class_names.index(n) for n in names]]
    x, groups = encoder.encode(names), torch.arange(len(names))
    with pytest.raises(ValueError, match=r"Unknown mapper method 'krnel'; choose one of \['kernel', 'mlp', 'ridge'\]"):
        fit_map("krnel", x, groups, rows, 0, {})
    for method, hparams, message in [
        ("kernel", {"sigma": 0.0}, "sigma must be a positive finite number, got 0.0"),
        ("kernel", {"alpha": float("nan")}, "alpha must be a positive finite number, got nan"),
        ("mlp", {"dropout": 1.0}, r"dropout must be a probability in \[0, 1\), got 1.0"),
        ("mlp", {"hidden": 2.5}, "hidden must be a whole number, got 2.5"),
    ]:
        with pytest.raises(ValueError, match=message):
            fit_map(method, x, groups, rows, 0, hparams)
    kernel = fit_map("kernel", x, groups, rows, 0, {"sigma": 0.3})
    assert F.cosine_similarity(kernel(x), rows).min() > 0.99  # each name back on its own row


def test_fit_is_deterministic(classifier, encoder):
    a = nlexnb.fit_mapper(classifier, encoder, classes=range(200), seed=3)
    b = nlexnb.fit_mapper(classifier, encoder, classes=range(200), seed=3)
    torch.testing.assert_close(a.encode(["a red fox"]), b.encode(["a red fox"]))


def test_mapped_name_head_reproduces_the_real_head_on_the_photos(mapper, classifier, photos):
    agreement = nlexnb.evaluate.head_agreement(classifier, mapper, list(photos.values()))
    assert agreement >= 0.95


def test_label_memory_changes_known_names_only(classifier, encoder):
    plain = nlexnb.fit_mapper(classifier, encoder, memorize=False, calibrate=False)
    remembered = nlexnb.fit_mapper(classifier, encoder, memorize=True, calibrate=False)
    known = remembered.encode_labels(classifier.class_names[:50])
    torch.testing.assert_close(known, classifier.head_weight[:50], rtol=1e-3, atol=1e-3)
    new = ["a red fox in the snow", "a plate of sushi", "a violin player"]
    torch.testing.assert_close(remembered.encode_labels(new), plain.encode_labels(new), rtol=1e-3, atol=1e-3)
    torch.testing.assert_close(remembered.encode(new), plain.encode(new))  # free text never uses the memory


def test_a_map_fitted_on_glosses_too_still_maps_class_names_onto_their_rows(classifier, encoder, mapper):
    glossed = nlexnb.fit_mapper(classifier, encoder, glosses=True)
    # ImageNet class names: the default fit reads their WordNet glosses; glosses=False fits on the names alone
    assert glossed.meta["glosses"] == mapper.meta["glosses"] is not None
    assert glossed.fingerprint == mapper.fingerprint
    assert nlexnb.fit_mapper(classifier, encoder, glosses=False).meta["glosses"] is None
    known = glossed.encode_labels(classifier.class_names[:50])  # labels are mapped from their names alone
    torch.testing.assert_close(known, classifier.head_weight[:50], rtol=1e-3, atol=1e-3)
    # the bird kite's gloss ("any of several small graceful hawks ...") lands on vulture when the map knows names only
    kite = classifier.class_names.index("kite")
    gloss = nlexnb.labels.imagenet_glosses()[kite]
    rows = F.normalize(classifier.head_weight.float(), dim=1)
    assert int((rows @ F.normalize(glossed.encode(gloss)[0], dim=0)).argmax()) == kite


def test_glosses_must_be_one_per_class(classifier, encoder):
    with pytest.raises(ValueError, match="one entry per class \\(1000\\), got 2"):
        nlexnb.fit_mapper(classifier, encoder, glosses=["a cat", "a dog"])
    with pytest.raises(TypeError, match="glosses must be None, True, False or a list with one entry per class"):
        nlexnb.fit_mapper(classifier, encoder, glosses="a cat")
    with pytest.raises(TypeError, match="glosses must be None, True, False or a list"):
        nlexnb.fit_mapper(classifier, encoder, glosses=5)
    with pytest.raises(TypeError, match="glosses\\[1\\] \\(class 'goldfish.*must be one short definition"):
        nlexnb.fit_mapper(classifier, encoder, glosses=["a fish", ["a small orange fish"]] + [""] * 998)


def test_a_map_fitted_on_class_descriptions_puts_a_description_near_the_class_that_looks_that_way(
    classifier, encoder, mapper
):
    # ImageNet class names: the default fit also reads six phrases per class of what one sees in a photo of it
    tabby = classifier.class_names.index("tabby, tabby cat")
    assert "striped grey fur" in nlexnb.labels.imagenet_descriptions()[tabby]
    assert mapper.meta["descriptions"] is not None
    plain = nlexnb.fit_mapper(classifier, encoder, descriptions=False)
    assert plain.meta["descriptions"] is None and plain.meta["glosses"] == mapper.meta["glosses"]
    # labels are still mapped from their names alone, exactly onto their rows
    torch.testing.assert_close(mapper.encode_labels(classifier.class_names[:50]), classifier.head_weight[:50])
    # a description of what one sees, never fitted on: the described map puts it on the class that looks that way
    rows = F.normalize(classifier.head_weight.float(), dim=1)
    espresso = classifier.class_names.index("espresso")
    text = "a small white cup with golden foam"
    rank = {
        name: (rows @ F.normalize(m.encode(text)[0], dim=0)).argsort(descending=True).tolist().index(espresso)
        for name, m in (("described", mapper), ("plain", plain))
    }
    assert rank["described"] == 0 < rank["plain"], rank


def test_description_texts_name_what_one_sees_and_weigh_as_much_as_a_name():
    texts, groups = nlexnb.mapper.description_texts([["striped grey fur", "pointed ears", "a sofa"], [], ["foam"]], 3)
    assert (
        texts
        == ["a photo of something with striped grey fur, pointed ears and a sofa."] * 3
        + ["a photo of something with foam."] * 3
    )
    assert groups == [0, 0, 0, 2, 2, 2]


def test_class_descriptions_must_be_lists_of_phrases_one_per_class(classifier, encoder):
    with pytest.raises(ValueError, match="descriptions must give one entry per class \\(1000\\), got 1"):
        nlexnb.fit_mapper(classifier, encoder, descriptions=[["fur"]])
    with pytest.raises(TypeError, match="descriptions must be None, True, False or a list"):
        nlexnb.fit_mapper(classifier, encoder, descriptions="striped fur")
    one_string = [["fur"]] * 999 + ["striped fur, pointed ears"]
    with pytest.raises(
        TypeError, match="descriptions\\[999\\] \\(class 'toilet tissue.*must be a list of short phrases"
    ):
        nlexnb.fit_mapper(classifier, encoder, descriptions=one_string)
    with pytest.raises(TypeError, match="descriptions\\[0\\] .*must be a list of short phrases"):
        nlexnb.fit_mapper(classifier, encoder, descriptions=[["fur", ""]] + [[]] * 999)


def test_glosses_true_needs_imagenet_class_names(encoder):
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    clf = nlexnb.load_classifier(model, head="1", class_names=["cat", "dog", "boat"], transform=lambda im: im)
    with pytest.raises(
        ValueError,
        match="glosses=True reads ImageNet-1k.s WordNet glosses.*3 of your own, one per class, each one short def",
    ):
        nlexnb.fit_mapper(clf, encoder, glosses=True)
    with pytest.raises(ValueError, match="descriptions=True reads ImageNet-1k's class descriptions.*list of short"):
        nlexnb.fit_mapper(clf, encoder, descriptions=True)
    described = nlexnb.fit_mapper(clf, encoder, descriptions=[["whiskers", "fur"], [], ["hull", "sail", "water"]])
    assert described.meta["descriptions"] and described.meta["glosses"] is None
    # any iterable of phrases per class, read once (a generator is not consumed by the check)
    lazily = nlexnb.fit_mapper(clf, encoder, descriptions=[iter(["whiskers", "fur"]), (), ("hull", "sail", "water")])
    assert lazily.meta["descriptions"] == described.meta["descriptions"]
    glossed = nlexnb.fit_mapper(clf, encoder, glosses=["a small feline", "", "a vessel on water"])
    assert glossed.meta["glosses"]
    plain = nlexnb.fit_mapper(clf, encoder)  # other class names: no glosses or descriptions unless given
    assert plain.meta["glosses"] is None and plain.meta["descriptions"] is None


def test_a_map_fitted_on_few_classes_says_how_little_it_can_tell_apart(encoder):
    """A kernel map sends every text to a mix of the class rows it was fitted on: on a head of 3 classes, five
    unrelated concepts land in a space of 3 directions, and the fit says so."""
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    clf = nlexnb.load_classifier(model, head="1", class_names=["cat", "dog", "boat"], transform=lambda im: im)
    with pytest.warns(
        UserWarning, match="fitted on 3 classes: a kernel map sends every text to a mix of those 3 class"
    ):
        mapper = nlexnb.fit_mapper(clf, encoder)
    vectors = mapper.encode_labels(["striped fur", "a red car", "snow", "a cup of coffee", "wheels"])
    assert int(torch.linalg.matrix_rank(vectors.double(), rtol=1e-6)) <= 3


def test_free_text_descriptions_retrieve_their_class_at_least_as_well_as_ridge(mapper, ridge_mapper, classifier):
    ours = nlexnb.evaluate.free_text(classifier, mapper)
    ridge = nlexnb.evaluate.free_text(classifier, ridge_mapper)
    assert (ours["rank"] < 5).mean() >= (ridge["rank"] < 5).mean()
    assert (ours["rank"] < 1).mean() >= (ridge["rank"] < 1).mean()


def test_mlp_map_fits_and_round_trips(classifier, encoder, tmp_path):
    classes = list(range(0, 1000, 10))
    mlp = nlexnb.fit_mapper(
        classifier, encoder, classes=classes, method="mlp", epochs=60, calibrate=False, memorize=False
    )
    names = [classifier.class_names[k] for k in classes]
    rows = F.normalize(classifier.head_weight[classes], dim=1)
    nearest = (F.normalize(mlp.encode_labels(names), dim=1) @ rows.T).argmax(1)
    assert (nearest == torch.arange(len(classes))).float().mean() > 0.9  # training names land on their own rows
    loaded = nlexnb.load_mapper(mlp.save(tmp_path / "mlp"), classifier, text_encoder=encoder)
    torch.testing.assert_close(loaded.encode(["a red fox"]), mlp.encode(["a red fox"]))


def test_a_map_that_sends_every_name_to_one_vector_is_refused(classifier, encoder):
    """alpha=1e6 gave a map under which every text scored alike against every class: zero-shot called a cat
    "espresso" without a word."""
    with pytest.raises(ValueError, match="sends every class name to about the same vector"):
        nlexnb.fit_mapper(classifier, encoder, method="ridge", alpha=1e6)
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\), got 1.0"):
        nlexnb.fit_mapper(classifier, encoder, method="mlp", dropout=1.0)


def test_texts_and_templates_come_as_lists_and_files_as_they_are_named(
    ridge_mapper, classifier, encoder, tmp_path, monkeypatch
):
    for texts in ({"striped fur", "wheels"}, {"striped fur": 1}):  # rows in no order to match back; values dropped
        with pytest.raises(TypeError, match="must be a list of strings, got a"):
            ridge_mapper.encode(texts)
    with pytest.raises(TypeError, match="templates must be a list of strings, got a set"):
        ridge_mapper.encode_labels(["cat"], templates={"a {}.", "an {}."})
    with pytest.raises(ValueError, match="Template 'a {}.' is given twice"):
        ridge_mapper.encode_labels(["cat"], templates=["a {}.", "a {}."])
    saved = ridge_mapper.save(tmp_path / "m")
    with pytest.raises(TypeError, match="classifier must be a Classifier .* got TextEncoder"):
        nlexnb.load_mapper(saved, encoder)  # swapped: it failed on a missing attribute
    with pytest.raises(TypeError, match="text_encoder must be a TextEncoder .* got str"):
        nlexnb.load_mapper(saved, classifier, "all-MiniLM-L6-v2")
    monkeypatch.setenv("HOME", str(tmp_path))
    written = ridge_mapper.save("~/mine")  # wrote a folder named "~" in the working directory
    assert written == tmp_path / "mine.safetensors" and written.is_file()
    assert nlexnb.load_mapper("~/mine", classifier, encoder).method == "ridge"


def test_a_mapper_refuses_an_encoder_edited_or_swapped_after_its_fit(classifier, encoder):
    """The map was fitted on the embeddings its encoder gave then: an edited encoder, or another one put in its
    place, would be placed with a map fitted on other embeddings. The error says which of the two happened."""
    from nlexnb.text import TextEncoder

    own = nlexnb.load_text_encoder(device="cpu")
    mapper = nlexnb.fit_mapper(classifier, own, method="ridge")
    with torch.no_grad():
        own.model[0].auto_model.encoder.layer[-1].output.dense.bias.add_(0.1)
    with pytest.raises(ValueError, match="its weights or settings were changed after the fit. Fit the mapper again"):
        mapper.encode(["striped fur"])
    mapper.text_encoder = TextEncoder(encoder.model, "my-own-encoder", torch.device("cpu"))
    with pytest.raises(ValueError, match="it is another text encoder than the one the map was fitted on"):
        mapper.encode_labels(["cat"])


def test_a_first_format_mapper_file_with_a_seen_penalty_that_is_no_number_is_refused(ridge_mapper, encoder, tmp_path):
    """Files of the first format carry no checksum: a penalty of "high" or NaN loaded, and failed (or ranked every
    seen class anyhow) at zero-shot time."""
    import json

    from safetensors import safe_open
    from safetensors.torch import save_file

    path = ridge_mapper.save(tmp_path / "m.safetensors")
    with safe_open(str(path), "pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        meta = json.loads(f.metadata()["nlexnb"])
    for penalty in ("high", float("nan")):
        old = tmp_path / "old.safetensors"
        save_file(tensors, str(old), {"nlexnb": json.dumps({**meta, "format": 1, "seen_penalty": penalty})})
        with pytest.raises(ValueError, match="has seen_penalty .* in its header, not a finite number"):
            nlexnb.load_mapper(old, text_encoder=encoder)


class SmallNet(torch.nn.Module):
    """A small convolutional classifier of the kind a user wraps: features, mean pooling, a linear head ``fc``."""

    def __init__(self, num_classes: int, width: int = 32) -> None:
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, 2, 1), torch.nn.ReLU(), torch.nn.Conv2d(16, width, 3, 2, 1), torch.nn.ReLU()
        )
        self.fc = torch.nn.Linear(width, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))


def small_classifier(names: list[str], model: torch.nn.Module | None = None):
    """``names`` classified by a :class:`SmallNet` (seed 0) on 64 x 64 photos, wrapped as a user's own module."""
    from torchvision import transforms

    torch.manual_seed(0)
    preprocess = transforms.Compose(
        [
            transforms.Resize(64),
            transforms.CenterCrop(64),
            transforms.ToTensor(),
            transforms.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225]),
        ]
    )
    return nlexnb.load_classifier(
        model or SmallNet(len(names)),
        head="fc",
        feature_layer="features",
        class_names=names,
        transform=preprocess,
        device="cpu",
    )


def test_a_mapper_fitted_on_two_classes_says_every_concept_points_one_way_and_the_explanation_says_why(encoder, photos):
    """With two class rows a kernel map sends every text to a mix of them: once centred, every concept direction
    is the difference of the two rows up to sign. The explanation of the tabby named nothing and blamed its rules
    ("paraphrases ..."), and the fit's warning spoke of "at most 2 of the 32 directions"."""

    clf = small_classifier(["cat", "coffee"])
    with pytest.warns(
        UserWarning,
        match=r"every concept maps to the same direction up to sign \(the difference of the two rows\): "
        r"explanations and discovery cannot tell concepts apart; zero-shot still ranks labels",
    ):
        mapper = nlexnb.fit_mapper(clf, encoder)
    assert mapper.concept_directions == 1
    explainer = nlexnb.Explainer(clf, mapper)
    spread = torch.linalg.svdvals(explainer.space.directions.double())
    assert spread[1] / spread[0] < 0.05  # one direction, all but
    explanation = explainer.explain(photos["chelsea"], k=3)
    assert explanation.concepts.empty
    assert explanation.concept_directions == 1
    assert (
        "no concept the explainer may name carries this decision: its mapper was fitted on two classes, so every "
        "concept of the bank maps to the same direction up to sign" in explanation.sentence
    )


def test_a_few_classes_warning_counts_the_directions_concepts_can_differ_in(encoder):
    """Five classes leave concepts 4 directions once centred; 40 classes on 32 features said "at most 40 of the 32
    directions", a bound that binds nothing: no warning then."""
    with pytest.warns(UserWarning, match=r"concepts differ in at most 4 of the 32 directions of SmallNet's features"):
        five = nlexnb.fit_mapper(small_classifier(["cat", "coffee", "dog", "car", "tree"]), encoder, calibrate=False)
    assert five.concept_directions == 4
    many = small_classifier([f"thing number {i}" for i in range(40)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        forty = nlexnb.fit_mapper(many, encoder, calibrate=False)
    assert forty.concept_directions == 32
    mlp = nlexnb.fit_mapper(many, encoder, method="mlp", epochs=5, calibrate=False, memorize=False)
    assert mlp.concept_directions is None  # an MLP's outputs are not bounded to the rows' span


def test_a_head_whose_rows_are_all_zero_or_all_alike_is_refused_before_the_fit(encoder):
    """A head just initialised with zeros was blamed on the hyper-parameters ("sends the class names to NaN ... Try
    other hyper-parameters"; with ridge, "spread is 0.0e+00 ... Try a smaller alpha")."""
    names = ["cat", "coffee", "dog", "car", "tree"]
    zero = SmallNet(len(names))
    torch.nn.init.zeros_(zero.fc.weight)
    for method in ("kernel", "ridge"):
        with pytest.raises(ValueError, match=r"SmallNet's head rows \(its class weights\) are all zero, as in a head"):
            nlexnb.fit_mapper(small_classifier(names, zero), encoder, method=method)
    alike = SmallNet(len(names))
    torch.nn.init.constant_(alike.fc.weight, 0.3)
    with pytest.raises(ValueError, match="are all the same.*Train the head or load its weights first"):
        nlexnb.fit_mapper(small_classifier(names, alike), encoder)


def test_a_map_that_sends_every_name_to_one_vector_is_told_which_way_to_move(encoder):
    """ "Try a smaller alpha (or a wider sigma)" was said of sigma=1e6, whose cure is a narrower sigma, and of ridge,
    which has no sigma."""
    clf = small_classifier(["cat", "coffee", "dog", "car", "tree"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the few-classes warning
        for hparams, advice in [
            ({"sigma": 1e6}, r"Try a narrower sigma \(the default is 0.3\)$"),
            ({"sigma": 1e-5}, r"Try a wider sigma \(the default is 0.3\)$"),
            ({"method": "ridge", "alpha": 1e9}, r"Try a smaller alpha \(the default is 1.0\)$"),
        ]:
            with pytest.raises(ValueError, match="sends every class name to about the same vector.*" + advice):
                nlexnb.fit_mapper(clf, encoder, calibrate=False, **hparams)


def test_a_class_name_of_punctuation_only_is_refused_before_the_fit_with_its_index(encoder):
    """ "?" was fitted on as "a photo of a ?." and failed later inside zero-shot under another index than its own.
    load_classifier refuses it; a classifier built another way is refused by fit_mapper."""
    from nlexnb.classifier import ModuleClassifier

    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3))
    built = ModuleClassifier(  # as load_classifier builds one, without its check of the names
        model,
        "1",
        None,
        None,
        class_names=["cat", "dog", "?"],
        transform=lambda im: im,
        name="mine",
        weights_source="module",
        device="cpu",
    )
    with pytest.raises(ValueError, match=r"class_names\[2\] '\?' has no words to map \(it is punctuation only\)"):
        nlexnb.fit_mapper(built, encoder)


def test_load_mapper_names_a_folder_a_bottleneck_and_another_encoder_for_what_they_are(ridge_mapper, encoder, tmp_path):
    """A folder was "Mapper file not found", a saved bottleneck "Expecting value: line 1 column 1", and another
    encoder "other weights or settings"."""
    from nlexnb import bottleneck
    from nlexnb.text import TextEncoder

    with pytest.raises(ValueError, match=r"is a folder, not a mapper file: .*it holds no \.safetensors file"):
        nlexnb.load_mapper(tmp_path)
    saved = ridge_mapper.save(tmp_path / "m")
    with pytest.raises(ValueError, match=r"is a folder, not a mapper file: give the mapper's .* it holds 'm.safetens"):
        nlexnb.load_mapper(tmp_path)
    other = TextEncoder(encoder.model, "my-own-encoder", torch.device("cpu"))
    with pytest.raises(
        ValueError,
        match=r"it is another text encoder than the one the map was fitted on. Load the mapper with that one .*"
        r"nlexnb.load_text_encoder\('all-MiniLM-L6-v2'\)",
    ):
        nlexnb.load_mapper(saved, text_encoder=other)
    clf = small_classifier(["cat", "coffee", "dog", "car", "tree"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the few-classes warning
        mapper = nlexnb.fit_mapper(clf, encoder, method="ridge", calibrate=False)
    cbm = bottleneck.concept_bottleneck(clf, mapper, ["striped fur", "a cup", "wheels", "leaves", "paws"], n_concepts=2)
    path = cbm.save(tmp_path / "cbm")
    with pytest.raises(ValueError, match=r"is a saved concept bottleneck, not a mapper: load it with nlexnb.bottlen"):
        nlexnb.load_mapper(path)
    assert bottleneck.load_bottleneck(path, clf, mapper, ["striped fur", "a cup", "wheels", "leaves", "paws"])


def test_templates_set_after_the_fit_are_checked_as_the_fit_checks_them(ridge_mapper):
    """One string was kept, and each of its characters used as a template ("Single '{' encountered")."""
    mapper = dataclasses_copy(ridge_mapper)
    with pytest.raises(TypeError, match=r"templates must be a list of strings, got the single string 'a photo of"):
        mapper.templates = "a photo of a {}."
    with pytest.raises(ValueError, match="must hold exactly one '{}' placeholder"):
        mapper.templates = ["a photo"]
    mapper.templates = ["a photo of a {}."]
    assert mapper.templates == ("a photo of a {}.",)
    assert mapper.encode_labels(["cat"]).shape == (1, mapper.feature_dim)


def dataclasses_copy(mapper):
    """Another Mapper object on the same map, so that a test may set its options (the fixture is shared)."""
    import dataclasses

    return dataclasses.replace(mapper, meta=dict(mapper.meta))


def test_one_map_is_named_by_a_string_and_the_listing_reads_as_plain_text(classifier, encoder):
    """method=["kernel"] failed as "unhashable type: 'list'"; the listing showed ``m -> hidden -> hidden -> d``."""
    with pytest.raises(TypeError, match=r"method must be the name of one map, .* got list \['kernel'\]; to compare"):
        nlexnb.fit_mapper(classifier, encoder, method=["kernel"])
    maps = nlexnb.available("maps")
    assert not any("``" in line for line in maps.values())
    assert maps["mlp"].startswith("An MLP, m -> hidden -> hidden -> d, with LayerNorm")
