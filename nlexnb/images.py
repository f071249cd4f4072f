"""Turn whatever a user holds (paths, PIL images, arrays, tensors) into preprocessed batches, and ship sample photos.

Every model-facing function in nlexnb accepts the same ``ImageInput``; this module is the one place that converts it.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator, Mapping, Sequence, ValuesView
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from ._checks import InputWarning, UnnormalisedWarning, positive_int, warn_user

ImageLike = Image.Image | np.ndarray | str | os.PathLike
ImageInput = ImageLike | Sequence[ImageLike] | torch.Tensor

__all__ = [
    "ImageInput",
    "ImageLike",
    "UnreadableImageError",
    "to_pil",
    "as_image_list",
    "iter_batches",
    "check_preprocessed",
    "normalisation",
    "preprocessed",
    "sample_images",
]


MAX_ASPECT = 50
"""Images longer than this many times their width (or the other way round) are refused: resizing the short side to
the classifier's input would make the long side enormous (a 100000x1 image needs ~18 GB)."""
MAX_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485
MIN_SIDE = 16
"""Images shorter than this on either side are accepted with a warning: they are enlarged to the classifier's input
(224 pixels for the default), and what a classifier says of a few pixels means little."""

ACCEPTED = "a PIL image, a numpy array (HxW or HxWxC), a uint8 tensor [3,H,W] or a file path"
"""What one image may be, as error messages say it."""

WHOLE_ARGUMENT = ("image", "images")
"""Names that are a whole argument, not one item of it (``images[3]``): errors about an item are prefixed with its
name, so that the one bad image in a list can be found."""


class UnreadableImageError(ValueError):
    """An image file that exists but cannot be decoded: corrupt, truncated, or not an image at all.

    Attributes:
        path: the file. reason: why it could not be read (Pillow's words).
    """

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(f"Cannot read image file {path!r}: it is corrupt, truncated or not an image ({reason})")
        self.path, self.reason = path, reason


def to_pil(image: ImageLike, name: str = "image") -> Image.Image:
    """Convert one image to an RGB PIL image: the one input path of every model-facing function.

    Takes a PIL image, a file path, an HxW[xC] numpy array, or an *integer* (uint8/uint16) torch tensor [C,H,W] or
    [H,W,C] as read by ``torchvision.io.read_image``. Photos are turned upright by their EXIF orientation; greyscale,
    RGBA (composited on white), palette, CMYK and 16-bit images are converted, 16-bit by their bit depth (not by the
    image's own maximum); float arrays must lie in [0, 1] and be finite. An integer array of only 0s and 1s is
    refused (see :func:`_array_to_pil`): a mask is passed as a bool array, read as 0 and 255.

    Args:
        image: the image.
        name: what the caller calls it (``"image"``, ``"images[3]"``), for the error messages.

    Raises:
        FileNotFoundError: the path does not exist.
        UnreadableImageError: (a ValueError) the file is corrupt, truncated or not an image.
        ValueError: a folder or a URL was given, the array has an unsupported shape, dtype or non-finite values, or
            the image is too elongated (:data:`MAX_ASPECT`) or too large.
        TypeError: the object is not an image at all (None, bytes, a list...); the message names ``name``.

    Errors about an item of a list (``name`` not in :data:`WHOLE_ARGUMENT`) begin with its name; a file's name its
    path.
    """
    if isinstance(image, (str, os.PathLike)):
        return _read_file(image)
    if isinstance(image, (Image.Image, np.ndarray, torch.Tensor)):
        try:
            picture = _in_memory_to_pil(image)
        except (ValueError, TypeError) as exc:
            if name in WHOLE_ARGUMENT:
                raise
            raise (TypeError if isinstance(exc, TypeError) else ValueError)(f"{name}: {exc}") from None
        return _checked(picture, name)
    if image is None:
        raise TypeError(f"{name} is None, not an image: expected {ACCEPTED}")
    if isinstance(image, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"{name} is raw bytes, not an image: open them first (PIL.Image.open(io.BytesIO(data))) or save them to "
            "a file"
        )
    raise TypeError(
        f"Expected {ACCEPTED} as {name}, got {type(image).__name__}. Preprocessed batches must be a float "
        "torch.Tensor of shape [N, 3, H, W]."
    )


def _in_memory_to_pil(image: Image.Image | np.ndarray | torch.Tensor) -> Image.Image:
    """A PIL image, an array or an integer tensor as an RGB PIL image (its size not yet checked)."""
    if isinstance(image, Image.Image):
        return _pil_to_rgb(_upright(image))
    if isinstance(image, np.ndarray):
        return _array_to_pil(image)
    return _array_to_pil(_tensor_to_array(image))


def _read_file(image: str | os.PathLike) -> Image.Image:
    text = os.fspath(image)
    if isinstance(text, str) and text.lower().startswith(("http://", "https://", "ftp://")):
        raise ValueError(f"nlexnb does not fetch URLs ({text!r}); download the image and pass the file's path")
    path = Path(text)
    if path.is_dir():
        raise ValueError(f"{str(path)!r} is a folder, not an image file; pass a file, or a list of files in it")
    if not path.is_file():
        raise FileNotFoundError(f"Image file not found: {str(path)!r}")
    try:
        with Image.open(path) as img:
            _check_size(img.size, str(path))
            img.load()
            return _pil_to_rgb(_upright(img))  # size checked above, before decoding
    except UnidentifiedImageError:
        raise UnreadableImageError(str(path), "Pillow does not recognise its format") from None
    except Image.DecompressionBombError as exc:  # over twice MAX_PIXELS: Pillow refuses it before nlexnb sees its size
        raise _too_large(str(path), _bomb_pixels(exc)) from None
    except (OSError, SyntaxError) as exc:
        raise UnreadableImageError(str(path), str(exc)) from exc


def _bomb_pixels(exc: Image.DecompressionBombError) -> int | None:
    """The pixel count Pillow's refusal names ("Image size (196000000 pixels) exceeds limit ..."), None if it names
    none (Pillow gives the number only in its words)."""
    found = re.search(r"\((\d+) pixels\)", str(exc))
    return int(found.group(1)) if found else None


def _too_large(subject: str, pixels: int | None) -> ValueError:
    """The error for an image of more than :data:`MAX_PIXELS` pixels, whether nlexnb or Pillow measured it."""
    count = f"{pixels} pixels" if pixels is not None else f"more than {2 * MAX_PIXELS} pixels"
    return ValueError(f"{subject} has {count}, more than {MAX_PIXELS}; downscale it first")


def _upright(img: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (phones store photos sideways with a tag saying so)."""
    try:
        from PIL import ImageOps

        return ImageOps.exif_transpose(img)
    except Exception:  # a broken EXIF block: the pixels as stored
        return img


def _check_size(size: tuple[int, int], what: str = "image") -> None:
    w, h = size
    subject = "The image" if what in WHOLE_ARGUMENT else what  # else "images[3]", a file path
    if w < 1 or h < 1:
        raise ValueError(f"{subject} is empty ({w}x{h} pixels)")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise ValueError(
            f"{subject} is {w}x{h} pixels, more than {MAX_ASPECT} times longer than wide: resizing it for the "
            "classifier would need an enormous image. Crop it to the region of interest first"
        )
    if w * h > MAX_PIXELS:
        raise _too_large(subject, w * h)
    if min(w, h) < MIN_SIDE:
        warn_user(
            f"{subject} is only {w}x{h} pixels: it is enlarged to the classifier's input size, and predictions and "
            f"explanations of so few pixels mean little. Use an image at least {MIN_SIDE} pixels on each side",
            InputWarning,
        )


def _checked(img: Image.Image, what: str = "image") -> Image.Image:
    _check_size(img.size, what)
    return img


def _tensor_to_array(t: torch.Tensor) -> np.ndarray:
    """An integer image tensor [C,H,W] / [H,W,C] / [H,W] (torchvision.io.read_image) as an HxWxC array."""
    if t.is_floating_point() or t.is_complex():
        raise TypeError(
            f"A float tensor of shape {tuple(t.shape)} is taken as preprocessed only as a batch [N,3,H,W] passed to a "
            "classifier or explainer; as one image pass a uint8 tensor [3,H,W], a PIL image or an array"
        )
    arr = t.detach().cpu().numpy()
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and (arr.shape[-1] not in (1, 3, 4) or arr.shape[1] > 4):
        arr = np.moveaxis(arr, 0, -1)  # torch's channels first; [3, 40, 4] is 40 x 4 RGB, not 3 x 40 RGBA
    return arr


def _pil_to_rgb(img: Image.Image) -> Image.Image:
    if img.mode in ("RGB", "L", "P") and "transparency" in img.info:  # a colour key (PNG tRNS): as alpha is
        img = img.convert("RGBA")
    if img.mode == "RGB":
        return img.copy()
    if img.mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img)
        if img.mode == "F":
            return _array_to_pil(arr.astype(np.float64))
        depth = 65535.0 if img.mode.startswith("I;16") or arr.max(initial=0) <= 65535 else float(2**32 - 1)
        if 0 < arr.max(initial=0) <= 255:  # read by its depth it is black: an 8-bit picture saved as 16-bit
            raise ValueError(
                f"A {img.mode} ({'16' if depth == 65535.0 else '32'}-bit) image holds values only up to "
                f"{int(arr.max())}: read by its bit depth it is black. If it holds 8-bit values, convert it first: "
                "Image.fromarray(np.asarray(image).astype(np.uint8))"
            )
        return _array_to_pil(np.clip(arr.astype(np.float64), 0, None) / depth)
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode == "La":  # premultiplied, as RGBa is; Pillow converts it to LA alone (to RGBA it fails)
        img = img.convert("LA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa"):  # RGBa: premultiplied, undone by the conversion
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    """An HxW[xC] array as an RGB PIL image, its values read by its dtype: uint8 and other integers as 0-255, uint16
    as 0-65535, floats as 0-1, bool as 0 and 255.

    An integer array of only 0s and 1s is refused, not read: it is nearly always a mask (``arr > t`` cast to
    uint8), classified as the black picture its values make, without a word. Reading it as 0 and 255 instead would
    make what a pixel value means depend on the others (a 1 would be white beside 0s and nearly black beside a 2);
    a bool array is the unambiguous way to pass a mask, and the message says so.
    """
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"Image array must be HxW, HxWx3 or HxWx4, got shape {arr.shape}{_shape_hint(arr.shape)}")
    if arr.size == 0:
        raise ValueError(f"Image array is empty (shape {arr.shape})")
    if np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.uint16 and arr.max() == 1 and arr.min() == 0:
        raise ValueError(
            f"Image array of dtype {arr.dtype} holds only 0s and 1s: read as pixel values 0-255 it is black. A mask? "
            "Pass it as bool (arr.astype(bool)) or scaled to 0-255 (arr * 255)"
        )
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        if 0 < arr.max() <= 255:  # as 16-bit, under 0.4% of full brightness: 8-bit values in a uint16 array
            raise ValueError(
                f"A uint16 image array holds values only up to {arr.max()}: read as 16-bit (0-65535) it is black. "
                "For 8-bit values pass arr.astype(np.uint8); a 16-bit image uses the range up to 65535"
            )
        arr = (arr.astype(np.float64) / 65535.0 * 255.0).round().astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if not np.isfinite(arr).all():
            raise ValueError("Image array holds NaN or infinite values; give finite values in [0, 1] (or uint8)")
        if arr.min() < 0 or arr.max() > 1:
            raise ValueError(
                f"Float image arrays must hold values in [0, 1], got [{arr.min():.3g}, {arr.max():.3g}]; "
                "divide by 255 or pass uint8"
            )
        arr = (arr * 255.0).round().astype(np.uint8)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    elif np.issubdtype(arr.dtype, np.integer):
        if arr.min() < 0 or arr.max() > 255:
            raise ValueError(
                f"Integer image arrays of dtype {arr.dtype} must hold values in [0, 255], got "
                f"[{arr.min()}, {arr.max()}]; use uint16 for 16-bit images"
            )
        arr = arr.astype(np.uint8)
    else:
        raise ValueError(f"Unsupported image array dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")
    return _pil_to_rgb(Image.fromarray(np.ascontiguousarray(arr)))


def _shape_hint(shape: tuple[int, ...]) -> str:
    """What an array of a shape no image has most likely is, for the error message."""
    if len(shape) == 3 and shape[0] in (3, 4):
        return " (channels first? use arr.transpose(1, 2, 0))"
    if len(shape) == 4:
        n = shape[0]
        pictures = f"{n} image{'' if n == 1 else 's'}"
        if shape[-1] not in (1, 3, 4) and shape[1] in (1, 3, 4):
            return f" (a batch of {pictures}, channels first? pass list(array.transpose(0, 2, 3, 1)))"
        return f" (a batch of {pictures}? pass list(array))"
    return ""


def as_image_list(images: ImageInput, name: str = "images") -> list[ImageLike]:
    """Normalise a single image or a sequence of images to a list (float tensors are not accepted here).

    ``name`` is what the caller calls the argument; TypeErrors and ValueErrors name it.
    """
    if _is_one_image(images):
        return [images]
    if isinstance(images, torch.Tensor):
        if images.is_floating_point():
            raise TypeError("as_image_list does not take float tensors; pass the tensor batch to the classifier")
        return list(images)
    if images is None:
        raise TypeError(f"{name} is None, not an image: expected {ACCEPTED}, or a list of them")
    if isinstance(images, (Sequence, Iterator)):
        items = list(images)
        if not items:
            raise ValueError(f"{name} is an empty list: give at least one image")
        return items
    hint = (
        ": pass the images as a list, e.g. list(photos.values())" if isinstance(images, (Mapping, ValuesView)) else ""
    )
    raise TypeError(f"Expected {ACCEPTED}, or a list of them, as {name}, got {type(images).__name__}{hint}")


def _is_one_image(images) -> bool:
    """One image (bytes count: :func:`to_pil` says what to do with them), not a list or a batch of them."""
    if isinstance(images, torch.Tensor):
        return not images.is_floating_point() and images.ndim != 4
    return isinstance(images, (Image.Image, np.ndarray, str, os.PathLike, bytes, bytearray, memoryview))


def preprocessed(
    images: ImageInput, transform: Callable[[Image.Image], torch.Tensor], name: str = "images"
) -> torch.Tensor:
    """All images as one preprocessed float batch [N,3,H,W] (see :func:`iter_batches`)."""
    return torch.cat(list(iter_batches(images, transform, batch_size=1 << 30, name=name)))


def normalisation(transform) -> tuple[torch.Tensor, torch.Tensor] | None:
    """The (mean, std) [C] a preprocessing pipeline normalises with (a torchvision ``Normalize`` inside a
    ``Compose``, or a weights' ``ImageClassification`` transform), or None when it has none that can be read."""
    stack = [transform]
    while stack:
        step = stack.pop()
        mean, std = getattr(step, "mean", None), getattr(step, "std", None)
        if mean is not None and std is not None and not callable(mean):
            try:
                mean, std = torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(std, dtype=torch.float32)
            except (TypeError, ValueError):
                return None
            return torch.atleast_1d(mean), torch.atleast_1d(std)  # Normalize(0.5, 0.5): one value for every channel
        stack.extend(getattr(step, "transforms", []) or [])
    return None


DIM_SPREAD = 0.25
"""The spread of values (max - min) above which a float batch all in [0, 1] is warned about as ``ToTensor()`` output
without ``Normalize``: a dim photo's (0 to 0.6) too; a uniform grey or constant test input (no spread) is not."""

LOOSE = 10.0
"""How far (in normalised units) a preprocessed value may lie outside what an image in [0, 1] normalises to before
the batch is refused: far enough for resampling's overshoot and for ``torch.randn`` test inputs, not for pixel
values 0-255 (about 1,000 units out)."""


def check_preprocessed(batch: torch.Tensor, transform, name: str = "images") -> None:
    """Refuse a float batch [N,C,H,W] that cannot be the classifier's own preprocessing of an image, and warn on one
    that looks like an image not yet normalised. With the transform's (mean, std) known, a preprocessed value lies
    in [(0 - mean) / std, (1 - mean) / std] per channel: pixel values 0-255 lie far outside it (a ValueError beyond
    :data:`LOOSE`), and a batch whose every value is in [0, 1] with a wide spread is most likely ``ToTensor()``
    output without ``Normalize`` (a warning: a very bright, washed-out photo, normalised, can also lie there). Both
    were classified silently."""
    norm = normalisation(transform)
    if norm is None or len(norm[0]) not in (1, batch.shape[1]):
        return
    mean, std = (v.to(batch.device).view(1, -1, 1, 1) for v in norm)  # one value (Normalize(0.5, 0.5)) broadcasts
    low, high = (0 - mean) / std - LOOSE, (1 - mean) / std + LOOSE
    outside = (batch < low) | (batch > high)
    if bool(outside.any()):
        raise ValueError(
            f"{name} is a float tensor taken as preprocessed, but its values ({float(batch.min()):.3g} to "
            f"{float(batch.max()):.3g}) are not what the classifier's preprocessing gives an image (about "
            f"{float(low.min() + LOOSE):.2f} to {float(high.max() - LOOSE):.2f}: normalised with mean "
            f"{[round(float(m), 3) for m in norm[0]]} and std {[round(float(v), 3) for v in norm[1]]}). Pixel values "
            "0-255? Pass the images themselves (PIL, uint8 tensors, arrays, paths) and they are preprocessed for you, "
            "or preprocess with classifier.transform"
        )
    # a normalised photo nearly always holds pixels darker than the mean (negative values); a dim one not yet
    # normalised (0 to 0.6) lies in [0, 1] as a bright one does, so the spread asked of it is small
    if float(batch.min()) >= 0 and float(batch.max()) <= 1 and float(batch.max() - batch.min()) > DIM_SPREAD:
        warn_user(
            f"{name} is a float tensor taken as preprocessed, but every value is in [0, 1]: it looks like "
            "ToTensor() output without Normalize, which this classifier's preprocessing applies. Pass the images "
            "themselves (PIL, uint8 tensors, arrays, paths), or preprocess with classifier.transform. (A very bright, "
            "washed-out photo that was normalised can also lie there: then this warning does not apply.)",
            UnnormalisedWarning,
        )


def apply_transform(transform: Callable[[Image.Image], torch.Tensor], picture: Image.Image) -> torch.Tensor:
    """``transform(picture)``, checked to be what a classifier takes: a float tensor [C, H, W]. A transform of a
    user's own (``load_classifier(model, transform=...)``) that gives uint8 values 0-255 was fed to the model as
    they were and answered with confidence; one that gives channels last, a batch, or a PIL image failed in torch's
    words."""
    out = transform(picture)
    fix = "a classifier's transform must turn a PIL image into a float tensor [3, H, W]"
    if not isinstance(out, torch.Tensor):
        kind = type(out).__name__
        raise TypeError(f"The transform returned a {kind}, not a tensor: {fix} (end it with ToTensor(), Normalize)")
    if out.ndim != 3:
        batch = " (a batch? return one image's tensor)" if out.ndim == 4 else ""
        raise ValueError(f"The transform returned a tensor of shape {tuple(out.shape)}{batch}: {fix}")
    if out.shape[0] not in (1, 3, 4) and out.shape[-1] in (1, 3, 4):
        raise ValueError(
            f"The transform returned shape {tuple(out.shape)}, channels last: {fix}, channels first (as ToTensor() "
            "gives)"
        )
    if not out.is_floating_point():
        raise ValueError(
            f"The transform returned {out.dtype} values ({int(out.min())} to {int(out.max())}): {fix}, scaled to "
            "[0, 1] and normalised (ToTensor() or ToDtype(torch.float32, scale=True), then Normalize)"
        )
    return out


def iter_batches(
    images: ImageInput, transform: Callable[[Image.Image], torch.Tensor], batch_size: int, name: str = "images"
) -> Iterator[torch.Tensor]:
    """Yield preprocessed float [B,3,H,W] batches.

    A *float* tensor [N,C,H,W] (or [C,H,W]) is taken as already preprocessed and must be finite. An *integer* tensor
    (uint8, as ``torchvision.io.read_image`` returns) is an image or a batch of images, converted and preprocessed
    like any other image. ``name`` is what the caller calls the argument: errors about it, or about one of its items
    (``images[3]``), say so.
    """
    batch_size = positive_int(batch_size, "batch_size", "images per batch")
    if isinstance(images, torch.Tensor) and images.is_floating_point():
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4:
            raise ValueError(
                f"A preprocessed image tensor must be [N,C,H,W] or [C,H,W], got shape {tuple(images.shape)}"
            )
        if images.shape[1] not in (1, 3) and images.shape[-1] in (1, 3):
            raise ValueError(
                f"A preprocessed image tensor must be channels-first [N,C,H,W], got shape {tuple(images.shape)}; "
                "use x.permute(0, 3, 1, 2)"
            )
        if images.numel() == 0:
            raise ValueError(f"Got an empty image tensor of shape {tuple(images.shape)}")
        if not torch.isfinite(images).all():
            raise ValueError("The preprocessed image tensor holds NaN or infinite values")
        check_preprocessed(images, transform, name)
        for start in range(0, images.shape[0], batch_size):
            yield images[start : start + batch_size]
        return
    one = _is_one_image(images)
    items = as_image_list(images, name)
    for start in range(0, len(items), batch_size):
        chunk = enumerate(items[start : start + batch_size], start)
        pictures = [to_pil(item, name if one else f"{name}[{i}]") for i, item in chunk]
        yield torch.stack([apply_transform(transform, picture) for picture in pictures])


class SamplePhotos(dict):
    """The sample photos by name: a dict whose missing name says which names there are."""

    def __missing__(self, name):
        raise KeyError(f"No sample photo {name!r}; the sample photos are: {', '.join(map(repr, self))}")


def sample_images() -> dict[str, Image.Image]:
    """Real photos that install with the package's dependencies (no network): skimage, scikit-learn, matplotlib.

    Returns:
        Name -> RGB PIL image, in a fixed order: chelsea (a tabby cat), coffee (an espresso), astronaut, rocket,
        motorcycle, china (a temple), flower, grace_hopper (a woman in uniform).
    """
    import matplotlib
    from skimage import data

    photos: dict[str, Image.Image] = SamplePhotos()
    for name in ("chelsea", "coffee", "astronaut", "rocket"):
        photos[name] = to_pil(getattr(data, name)())
    photos["motorcycle"] = to_pil(data.stereo_motorcycle()[0])
    try:
        from sklearn.datasets import load_sample_images

        china, flower = load_sample_images().images
        photos["china"] = to_pil(china)
        photos["flower"] = to_pil(flower)
    except ImportError:  # scikit-learn is optional for this helper
        pass
    hopper = Path(matplotlib.get_data_path()) / "sample_data" / "grace_hopper.jpg"
    if hopper.is_file():
        photos["grace_hopper"] = to_pil(hopper)
    return photos
