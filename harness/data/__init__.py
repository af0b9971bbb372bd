"""Loading data safely: confined image paths, checked image decoding, per-row errors.

Public helpers for task loaders, built-in or third-party. Every problem is a
:class:`harness.DataError` that names the file, the row and the fix::

    from harness.data import RowGuard, confined_path, load_image

    guard = RowGuard("mytask", on_error="skip", skipped=skipped)
    for number, row in enumerate(rows, start=1):
        sample = guard.run(manifest, number, lambda row=row: make(row))
    guard.report()

``on_error="raise"`` stops at the first bad row; ``"skip"`` logs it, appends
a :class:`Skipped` to the caller's list and goes on.

Images: :func:`image_ref` checks an image when its row is read (a damaged
file fails at once, naming file and row) and returns an :class:`ImageRef`
that holds only the path or the encoded bytes; pixels are decoded per batch
(:func:`harness.models.inputs.prompt_images`) and dropped after, so memory does not
grow with the dataset. :func:`load_image` decodes at once.

Both check the header first: more pixels than the cap of :func:`image_limits`
(default :data:`DEFAULT_MAX_PIXELS`, about three times the 12.8 MP a
Qwen2.5-VL processor keeps at most) are refused, or downscaled when the run
chose ``oversize="downscale"``; an aspect ratio beyond
:data:`MAX_ASPECT_RATIO` (which Qwen-VL processors reject mid-generation) is
refused. Either way the error names the file and row.

A task over images subclasses :class:`ImageTask` (:mod:`harness.data.task`);
its loaders read rows with :mod:`harness.data.readers` (JSONL, CSV, parquet,
``datasets`` folders), answers with :mod:`harness.data.labels`, and declare
public copies on the Hub with :class:`HubDataset` (:mod:`harness.data.sources`).
These modules are the public surface the built-in tasks use too.
"""

from harness.data.images import ImageRef, image_ref, load_image
from harness.data.limits import (
    DEFAULT_MAX_PIXELS,
    MAX_ASPECT_RATIO,
    MAX_LIMIT,
    MAX_SYNTHETIC,
    ImageLimits,
    check_limit,
    check_synthetic_count,
    image_limits,
    use_image_limits,
)
from harness.data.paths import confined_entry, confined_image, confined_path, walk_dirs, walk_files
from harness.data.rows import ON_ERROR, RowGuard, Skipped, check_on_error, row_error
from harness.data.sources import HubDataset
from harness.data.task import LETTERS, ImageTask, check_split, rng_for, synthetic_count

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "MAX_ASPECT_RATIO",
    "MAX_LIMIT",
    "MAX_SYNTHETIC",
    "ON_ERROR",
    "ImageLimits",
    "ImageRef",
    "ImageTask",
    "HubDataset",
    "LETTERS",
    "RowGuard",
    "Skipped",
    "check_limit",
    "check_on_error",
    "check_split",
    "check_synthetic_count",
    "confined_entry",
    "confined_image",
    "confined_path",
    "image_limits",
    "image_ref",
    "load_image",
    "rng_for",
    "row_error",
    "synthetic_count",
    "use_image_limits",
    "walk_dirs",
    "walk_files",
]
