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
    with pytest.warns(UserWarning, match="k=5 is larger than the 2 concepts") as too_many:
        explainer.explain(photos["coffee"], heatmaps=False)
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


def test_a_name_that_is_neither_a_bank_nor_a_file_says_what_is_accepted(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no file called "red" or "visaul" here
    with pytest.raises(FileNotFoundError, match=r"neither a built-in bank \(broad, default.*\['red'\] for that one"):
        load_concepts("red")  # one concept passed as a string
    with pytest.raises(FileNotFoundError, match="Did you mean 'visual'"):
        load_concepts("visaul")
    with pytest.raises(FileNotFoundError, match="Concept bank file not found: 'mine.txt'"):
        load_concepts("mine.txt")  # a file name: the file is what is missing
    (tmp_path / "red").write_text("red\nblue\n")  # a file with that name is read
    assert load_concepts("red").texts == ["red", "blue"]


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
    from safetensors.torch import load_file, save_file

    from nlexnb._store import cache_dir

    bank = ConceptBank([f"thing number {i}" for i in range(1000)])
    first = bank.encode(ridge_mapper)
    (path,) = [p for p in (cache_dir() / "banks").glob(f"{ridge_mapper.fingerprint}-*.safetensors")
               if load_file(str(p))["vectors"].shape[0] == 1000]  # fmt: skip
    for damaged in (torch.full_like(first, float("nan")), first.half()):
        save_file({"vectors": damaged.contiguous()}, str(path))
        again = bank.encode(ridge_mapper)
        assert again.dtype == torch.float32 and torch.equal(again, first)


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
