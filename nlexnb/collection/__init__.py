"""Explain a whole collection of images in one call, streamed to a Parquet file that survives interruption.

:func:`explain_collection` reads a folder, a list of images, a labelled set (``(path, label)`` pairs, as
:mod:`nlexnb.datasets` returns) or a torch ``Dataset`` through a ``DataLoader`` (decoding in worker processes), runs the
classifier and the concept selection a batch at a time on the classifier's device, and appends one row per image to a
Parquet file with pyarrow: nothing is accumulated, so memory does not grow with the collection.

**Same answers as one image at a time.** The default greedy selection is computed for the whole batch at once
(candidates, shortlist and Gram-Schmidt greedy as ``[B, S, d]`` tensors; a few host synchronisations per batch, none
per image) and gives the concepts and contributions :meth:`nlexnb.Explainer.explain` gives for each image (tests check
it to 1e-5). Another selection method (``Explainer(selector="nonnegative")`` or your own) runs per image through
:meth:`nlexnb.Explainer.select`; the rest of the batch stays batched.

**Safe to interrupt.** Rows go to part files in ``<out>.partial/``, each written under a temporary name and renamed into
place (an error or Ctrl-C keeps every finished batch; a killed process loses at most ``checkpoint_every`` images). The
final file appears, by an atomic rename, only when every image is done; running the same call again resumes where it
stopped (images whose id is already written are not explained again; every in-memory image, every file whose size
or modification time changed and 8 others spread over the ids are read again and compared with the file by
fingerprint and label, and a collection whose images or labels changed is refused rather than kept as stale rows).
The file records which classifier, mapper, bank and settings wrote it, and a run with different ones is refused
rather than mixed in; a lock file lets one run at a time write it.

**Bad images do not stop a run.** An unreadable, truncated or non-image file is skipped and listed, with the reason, in
``<out stem>.errors.parquet`` (:func:`read_errors`); :func:`read_explanations` reads the rows back as a DataFrame. A
collection none of whose images can be read is an error that names the first reasons (a mistake common to all, such as
paths relative to another folder), and writes nothing.

The package's modules, in the order a run uses them: :mod:`~nlexnb.collection.run` (:func:`explain_collection`),
:mod:`~nlexnb.collection.sources` (the collection as a DataLoader source), :mod:`~nlexnb.collection.batched` (a batch
explained at once, as Arrow rows), :mod:`~nlexnb.collection.ray_engine` (the same on Ray),
:mod:`~nlexnb.collection.parts` (part files, resuming, the final merge, the lock) and :mod:`~nlexnb.collection.files`
(the file's columns and identity, and reading it back).
"""

from .files import COLUMNS, FORMAT, errors_path, read_errors, read_explanations, remove_explanations
from .run import ENGINES, CollectionRun, explain_collection

__all__ = [
    "explain_collection",
    "read_explanations",
    "read_errors",
    "remove_explanations",
    "CollectionRun",
    "ENGINES",
    "errors_path",
    "COLUMNS",
    "FORMAT",
]
