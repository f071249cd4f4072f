"""nlexnb: make any pretrained image classifier answer in natural language, faithfully and without training data.

Data flows one way: ``load_classifier`` (adapter -> features), ``load_text_encoder`` + ``fit_mapper`` (text ->
classifier-space vectors), then scores -> explanations, zero-shot heads, concept discovery, plots and widgets.
"""

from . import bottleneck, datasets, discover, evaluate, metrics, plots, selection, targets
from ._checks import InputWarning, MapperMismatchWarning, OneLabelWarning, UnnormalisedWarning
from .classifier import Classifier, LabelPrediction, NoFeatureMap, Prediction
from .collection import explain_collection, read_explanations
from .concepts import ConceptBank, load_concepts
from .explain import Explainer, Explanation, HeatMap
from .images import sample_images
from .loading import load_classifier
from .mapper import Mapper, fit_mapper, load_mapper
from .registry import available
from .space import ConceptSpace
from .text import TextEncoder, load_text_encoder
from .zeroshot import ZeroShotClassifier

__version__ = "0.1.0"

__all__ = [
    "explain_collection",
    "read_explanations",
    "Classifier",
    "ConceptBank",
    "ConceptSpace",
    "Explainer",
    "Explanation",
    "HeatMap",
    "InputWarning",
    "LabelPrediction",
    "Mapper",
    "MapperMismatchWarning",
    "NoFeatureMap",
    "OneLabelWarning",
    "Prediction",
    "TextEncoder",
    "UnnormalisedWarning",
    "ZeroShotClassifier",
    "available",
    "bottleneck",
    "datasets",
    "discover",
    "evaluate",
    "fit_mapper",
    "load_classifier",
    "load_concepts",
    "load_mapper",
    "load_text_encoder",
    "metrics",
    "plots",
    "selection",
    "targets",
    "sample_images",
]
