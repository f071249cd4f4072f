"""Papermill reports: execute the numbered notebooks, save them with HTML copies, and read back the numbers they record.

A notebook calls :func:`record` for the values a report must show (the held-out table, faithfulness ratios, accuracy);
they are stored in the executed notebook as a JSON output that :func:`read_records` returns, so tests can assert them.
Run all notebooks with ``python -m nlexnb.reports --out reports``.

The notebooks share their first cells through this module: :func:`validate_parameters` checks the papermill
parameters, :func:`setup` loads the classifier and text encoder and the mapper notebook 01 saved (fitting and saving
one where none fits), :func:`notebook_images` gives the photos (:func:`spread` a share of a labelled set, and
:func:`fresh_output` a file for what a notebook writes), and a few table helpers keep pandas code out of the
notebooks.
"""

from __future__ import annotations

from .inputs import fresh_output, notebook_images, spread
from .parameters import PARAMETER_TYPES, validate_parameters
from .records import RECORD_MIME, read_records, record
from .run import main, run_notebooks
from .setup import MAPPER_SOURCES, NotebookSetup, mapper_path, notebook_style, save_mapper, setup

__all__ = [
    "record",
    "read_records",
    "run_notebooks",
    "validate_parameters",
    "notebook_images",
    "spread",
    "fresh_output",
    "notebook_style",
    "setup",
    "NotebookSetup",
    "mapper_path",
    "save_mapper",
    "RECORD_MIME",
    "MAPPER_SOURCES",
    "PARAMETER_TYPES",
    "main",
]
