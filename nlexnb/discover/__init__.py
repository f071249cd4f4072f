"""Fine-grained concept discovery: read what the classifier's class rows and image features encode, in words.

Every function ranks the concepts of a :class:`~nlexnb.space.ConceptSpace` by their direction (the same unit directions
explanations select and ablate) against a vector of the classifier's own space: a class row ``W[c]``
(:func:`class_concepts`), the difference of two rows (:func:`contrast`: what separates husky from malamute), the
features of a set of images (:func:`image_concepts`, :func:`subconcepts`), or the other way round, a free text against
all rows (:func:`nearest_classes`). Class names and names of peoples are left out, as in explanations, and a table
says each word once (:func:`concept_words`; ``per_word=None`` lists every concept).

Each function takes a classifier and a mapper (and ``bank=``), or a concept space alone in their place
(``class_concepts(space, "espresso")``), or an :class:`~nlexnb.Explainer`, which stands for its space (its classifier,
mapper and bank: ``class_concepts(explainer, "espresso")``), and returns a :class:`ConceptTable`: ``.table`` (a
DataFrame), ``.plot()`` and a rich display; it also behaves as its table (``result["concept"]``, ``len(result)``).

Three more read a whole explained collection (the rows :func:`nlexnb.explain_collection` writes and
:func:`nlexnb.read_explanations` reads back) rather than the model: :func:`collection_concepts` (the concepts each
predicted class's explanations lean on), :func:`error_concepts` (concepts named more often on wrong predictions than on
right ones, given a definition of right) and :func:`context_reliance` (how much of each explanation is carried by
concepts of the surroundings rather than the object). They return a :class:`ConceptTable` too.
"""

from __future__ import annotations

from ..kinds import concept_words
from ._args import resolve_class
from .explained import collection_concepts, context_reliance, error_concepts
from .images import image_concepts, subconcepts
from .rows import class_concepts, contrast, nearest_classes
from .table import Chance, ConceptTable, plot

__all__ = [
    "Chance",
    "ConceptTable",
    "resolve_class",
    "concept_words",
    "class_concepts",
    "contrast",
    "image_concepts",
    "subconcepts",
    "nearest_classes",
    "collection_concepts",
    "error_concepts",
    "context_reliance",
    "plot",
]
