"""Concept banks: lists, files, built-ins, deduplication and cached encoding."""

from __future__ import annotations

import pytest
import torch

import nlexnb
from nlexnb.concepts import ConceptBank, description_phrases, load_concepts


def test_bank_from_a_list_deduplicates_with_a_warning():
    with pytest.warns(UserWarning, match="dropped 1 empty, 2 duplicate .* and 1 over-long"):
        bank = ConceptBank(["striped fur", "Striped  fur", "", "whiskers", "whiskers", "long " * 40])
    assert bank.texts == ["striped fur", "whiskers"]
    assert len(bank) == 2 and list(bank) == bank.texts


def test_a_bank_of_only_over_long_texts_says_so_not_that_it_is_empty():
    with pytest.raises(ValueError, match=r"no concept left: all 2 were empty or over-long \(> 120 characters\)"):
        ConceptBank(["a paragraph " * 20, ""])
    with pytest.raises(ValueError, match="is empty: give at least one non-empty concept text"):
        ConceptBank(["", "  "])


def test_a_bank_cleaned_deep_inside_an_explainer_warns_at_the_user_s_line(classifier, ridge_mapper, photos):
    with pytest.warns(UserWarning, match="dropped 1 empty") as caught:
        explainer = nlexnb.Explainer(classifier, ridge_mapper, ["striped fur", "", "coffee"])
    with pytest.warns(UserWarning, match="k=6 is larger than the 2 concepts") as too_many:  # a k asked for
        explainer.explain(photos["coffee"], k=6, heatmaps=False)
    assert {w.filename for w in [*caught, *too_many]} == {__file__}  # this test, not a line inside nlexnb


def test_a_bank_needs_at_least_one_concept():
    with pytest.raises(ValueError, match="empty"):
        ConceptBank(["", "  "])
    with pytest.raises(TypeError, match=r"concepts\[1\] is a int"):
        ConceptBank(["fur", 3])


def test_bank_from_a_text_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# my concepts\nsmall cup\n\nfoam\n")
    bank = ConceptBank.from_file(path)
    assert bank.texts == ["small cup", "foam"] and bank.name == "mine.txt"
    assert load_concepts(str(path)).texts == bank.texts


def test_bad_bank_files_are_named_in_the_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        ConceptBank.from_file(tmp_path / "nowhere.txt")
    binary = tmp_path / "weights.bin"
    binary.write_bytes(bytes(range(256)))
    with pytest.raises(ValueError, match="weights.bin.*not UTF-8 text"):
        ConceptBank.from_file(binary)
    # a table's header and other columns would become concepts ("concept,weight", "striped fur,0.5")
    table = tmp_path / "concepts.csv"
    table.write_text("concept,weight\nstriped fur,0.5\nfoam,0.2\n")
    with pytest.raises(ValueError, match=r"concepts.csv' is a .csv table.*read_csv\(path\)\['concept'\]"):
        load_concepts(str(table))
    tabs = tmp_path / "exported.txt"
    tabs.write_text("concept\tweight\nstriped fur\t0.5\n")
    with pytest.raises(ValueError, match="exported.txt' has a tab on every line"):
        ConceptBank.from_file(tabs)
    some = tmp_path / "mixed.txt"  # "red fur\tcolour" was kept as the concept "red fur colour"
    some.write_text("# mine\nstriped fur\nred fur\tcolour\nfoam\n")
    with pytest.raises(
        ValueError, match=r"mixed.txt' has a tab on line 3 \('red fur\\tcolour'\).*keep the first column"
    ):
        ConceptBank.from_file(some)


def test_invisible_characters_are_left_out_of_the_concepts_a_file_or_a_list_gives(tmp_path):
    """A byte-order mark mid-file, a zero-width space and a soft hyphen stayed in the texts, so "tabby\u200b" was not
    the class name "tabby" where class names are kept out of their own explanations."""
    path = tmp_path / "joined.txt"  # two files joined: the second one's byte-order mark is mid-file
    path.write_bytes("\ufefftabby\u200b\n\ufeffespresso\u00ad\nstriped\u200b fur\n".encode())
    assert ConceptBank.from_file(path).texts == ["tabby", "espresso", "striped fur"]
    assert ConceptBank(["tabby\u200b", "caf\u00e9"]).texts == ["tabby", "café"]


def test_a_name_that_is_neither_a_bank_nor_a_file_says_what_is_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called "red" or "visaul" here
    with pytest.raises(FileNotFoundError, match=r"neither a built-in bank \(broad, default.*\['red'\] for that one"):
        load_concepts("red")  # one concept passed as a string
    with pytest.raises(FileNotFoundError, match="Did you mean 'visual'"):
        load_concepts("visaul")
    with pytest.raises(FileNotFoundError, match="Concept bank file not found: 'mine.txt'"):
        load_concepts("mine.txt")  # a file name: the file is what is missing
    with pytest.raises(
        FileNotFoundError, match=r"not found: 'black/white stripes'.*\['black/white stripes'\] for that"
    ):
        load_concepts("black/white stripes")  # a slash, yet one concept
    (tmp_path / "red").write_text("red\nblue\n")  # a file with that name is read
    assert load_concepts("red").texts == ["red", "blue"]


def test_a_file_s_name_or_path_given_as_the_concepts_points_to_reading_the_file(tmp_path, monkeypatch):
    """ConceptBank('my_concepts.txt') was a bank of one concept, the file's name; a Path said only "got PosixPath"."""
    from pathlib import Path

    monkeypatch.chdir(tmp_path)
    (tmp_path / "my_concepts.txt").write_text("striped fur\nfoam\n")
    with pytest.raises(ValueError, match=r"'my_concepts.txt' names a file.*ConceptBank.from_file\('my_concepts.txt'\)"):
        ConceptBank("my_concepts.txt")
    with pytest.raises(TypeError, match=r"got a path \(PosixPath 'my_concepts.txt'\): .*ConceptBank.from_file\(path\)"):
        ConceptBank(Path("my_concepts.txt"))
    assert ConceptBank.from_file("my_concepts.txt").texts == ["striped fur", "foam"]
    assert ConceptBank(["my_concepts.txt"]).texts == ["my_concepts.txt"]  # a list: the texts as given
    assert ConceptBank("striped fur").texts == ["striped fur"]  # one text that names no file: one concept


def test_a_data_frame_is_refused_rather_than_read_as_its_column_names():
    import pandas as pd

    frame = pd.DataFrame({"concept": ["striped fur", "foam"], "weight": [0.9, 0.1]})
    with pytest.raises(TypeError, match=r"got a pandas DataFrame: its column names .* df\['concept'\].tolist\(\)"):
        load_concepts(frame)
    assert ConceptBank(frame["concept"].tolist()).texts == ["striped fur", "foam"]


def test_built_in_banks_are_a_fresh_bank_on_each_call():
    """ConceptBank.visual() was one shared object: renaming or editing it changed every later default bank."""
    mine = ConceptBank.visual()
    texts = list(mine.texts)
    mine.name, mine.texts[0] = "mine", "edited"
    mine.sources.append("extra")
    again = ConceptBank.visual()
    assert again.name == "visual" and again.texts == texts and len(again.sources) == len(texts)
    assert load_concepts("default").texts == texts and load_concepts(None).name == "visual"


def test_description_phrases_are_short_attributes():
    text = (
        "A small serving of concentrated coffee, usually very dark brown, in a small cup or glass. "
        "It typically has a sleek, aerodynamic body."
    )
    phrases = description_phrases(text)
    assert "a small cup" in phrases and "very dark brown" in phrases and "aerodynamic body" in phrases
    assert "a sleek" not in phrases  # a dangling adjective, not a concept
    assert all(1 <= len(p.split()) <= 8 for p in phrases)


def test_broad_bank_is_large_deduplicated_and_offline():
    bank = ConceptBank.broad()
    assert len(bank) >= 20_000
    assert len({t.lower() for t in bank}) == len(bank)
    assert {"descriptions", "wordnet", "words"} == set(bank.sources)
    assert "a small cup" in bank.texts
    assert len(bank.indices("words")) > 1000


def test_built_ins_by_name_and_addition():
    words = load_concepts("words")
    assert words.name == "words" and "water" in words.texts and "the" not in words.texts
    assert not {"mary", "syria"} & set(words.texts)  # proper nouns name nothing a classifier sees
    both = ConceptBank(["water", "ripples"]) + ConceptBank(["Water", "foam"])
    assert both.texts == ["water", "ripples", "foam"]


def test_your_own_texts_add_to_a_bank():
    bank = ConceptBank(["water", "ripples"], name="pond")
    mine = bank + ["a red collar", "Water"]  # a text already there is kept once
    assert mine.texts == ["water", "ripples", "a red collar"] and mine.indices("user") == [2]
    assert (["a sofa"] + bank).texts == ["a sofa", "water", "ripples"]
    with pytest.warns(UserWarning, match="dropped 1 empty"):
        bank + ["a sofa", " "]  # checked like any bank of yours
    with pytest.raises(TypeError, match=r"adds to another ConceptBank or a list of texts, not str 'a sofa'"):
        bank + "a sofa"


def test_encoding_is_cached_per_mapper(ridge_mapper):
    bank = ConceptBank(["a small cup", "foam", "striped fur"])
    first = bank.encode(ridge_mapper)
    again = bank.encode(ridge_mapper)
    assert first.shape == (3, ridge_mapper.meta["feature_dim"])
    assert (first == again).all()


def test_a_bank_file_in_the_cache_is_used_only_when_it_holds_float32_numbers(ridge_mapper):
    """A cached bank matrix of the right shape was returned as it was: NaN, or float16."""
    from safetensors.torch import save_file

    bank = ConceptBank([f"thing number {i}" for i in range(1000)])
    first = bank.encode(ridge_mapper)
    path = bank_file(ridge_mapper, first)
    stamp = file_metadata(path)
    for damaged in (torch.full_like(first, float("nan")), first.half()):
        save_file({"vectors": damaged.contiguous()}, str(path), stamp)
        again = bank.encode(ridge_mapper)
        assert again.dtype == torch.float32 and torch.equal(again, first)


def bank_file(mapper, vectors: torch.Tensor):
    """The cached matrix of a bank that ``mapper`` encoded as ``vectors``."""
    from nlexnb._store import cache_dir

    return next(p for p in (cache_dir() / "banks").glob(f"{mapper.fingerprint}-*.safetensors") if holds(p, vectors))


def holds(path, vectors: torch.Tensor) -> bool:
    from safetensors.torch import load_file

    return torch.equal(load_file(str(path))["vectors"], vectors.cpu())


def file_metadata(path) -> dict:
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as fh:
        return fh.metadata() or {}


THINGS = [f"thing number {i}" for i in range(1000)]
ITEMS = [f"item number {i}" for i in range(1000)]


def test_a_cached_matrix_of_another_bank_is_recomputed_with_a_warning(ridge_mapper):
    """A bank's cached matrix of the right shape was trusted, whichever concepts it held (a copied or renamed file)."""
    import warnings

    from safetensors.torch import save_file

    things, items = ConceptBank(THINGS).encode(ridge_mapper), ConceptBank(ITEMS).encode(ridge_mapper)
    mine = bank_file(ridge_mapper, items)
    bank_file(ridge_mapper, things).replace(mine)  # the things' vectors under the items' name
    with pytest.warns(UserWarning, match="cached concept vectors .* are of other concepts or another mapper"):
        assert torch.equal(ConceptBank(ITEMS).encode(ridge_mapper), items)
    assert holds(mine, items)  # written again, for these texts
    save_file({"vectors": things.contiguous()}, str(mine), {"bank": "user"})  # a file of before the digest
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # recomputed without a word: almost surely right, and cheap to redo
        assert torch.equal(ConceptBank(ITEMS).encode(ridge_mapper), items)
    assert holds(mine, items)


def test_a_damaged_cached_matrix_that_cannot_be_removed_is_recomputed_with_a_warning(ridge_mapper, undeletable):
    vectors = ConceptBank(THINGS).encode(ridge_mapper)
    path = bank_file(ridge_mapper, vectors)
    path.write_bytes(b"damaged")
    undeletable(path)
    with pytest.warns(UserWarning, match=r"cannot be used and could not be removed \(Permission denied\)"):
        assert torch.equal(ConceptBank(THINGS).encode(ridge_mapper), vectors)


def test_texts_alike_in_unicode_are_one_concept_and_invisible_ones_none():
    with pytest.warns(UserWarning, match="dropped 1 empty, 2 duplicate .*in one Unicode form"):
        bank = ConceptBank(["café", "cafe\u0301", "\u200b", "ｃａｆé", "striped fur"])
    assert bank.texts == ["café", "striped fur"]


def test_a_set_of_concepts_is_one_bank_in_every_run_and_a_dict_is_refused():
    from nlexnb.concepts import load_concepts

    assert load_concepts({"whiskers", "striped fur", "a sofa"}).texts == ["a sofa", "striped fur", "whiskers"]
    with pytest.raises(TypeError, match="got a dict; pass list\\(concepts\\) for its keys"):
        load_concepts({"striped fur": 0.9, "whiskers": 0.1})


def test_a_bank_refuses_weights_sources_spelt_as_one_string_and_sources_it_lacks():
    weights = r"got a dict; pass list\(concepts\) for its keys. A weight per concept is not part of a bank"
    with pytest.raises(TypeError, match=weights):
        ConceptBank({"striped fur": 0.9, "sofa": 0.1})  # the weights were dropped without a word
    assert ConceptBank({"sofa", "striped fur", "fur"}).texts == ["fur", "sofa", "striped fur"]  # one order
    with pytest.raises(TypeError, match="sources must be a list with one source per concept, got the single string"):
        ConceptBank(["a", "b", "c", "d"], sources="mine")
    bank = ConceptBank(["red", "stripes"], sources=["colour", "pattern"])
    with pytest.raises(ValueError, match=r"has no source 'color'; its sources: \['colour', 'pattern'\]"):
        bank.indices("color")
    with pytest.raises(TypeError, match="glosses must be True or False, got 'no'"):
        ConceptBank.wordnet(glosses="no")


def test_a_folder_given_as_a_bank_file_and_a_file_given_as_a_folder_are_named(ridge_mapper, tmp_path):
    (tmp_path / "afile").write_text("striped fur\n")
    with pytest.raises(IsADirectoryError, match="is a folder: give a text file in it"):
        ConceptBank.from_file(tmp_path)
    with pytest.raises(NotADirectoryError, match=r"afile' is a file, not a folder"):
        ridge_mapper.save(tmp_path / "afile" / "sub" / "m.safetensors")  # was "[Errno 17] File exists"
