"""Turn whatever a user holds (paths, PIL images, arrays, tensors) into preprocessed batches, and ship sample photos.

Every model-facing function in nlexnb accepts the same ``ImageInput``; this module is the one place that converts it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

ImageLike = Image.Image | np.ndarray | str | os.PathLike
ImageInput = ImageLike | Sequence[ImageLike] | torch.Tensor

__all__ = ["ImageInput", "ImageLike", "to_pil", "as_image_list", "iter_batches", "sample_images"]


def to_pil(image: ImageLike) -> Image.Image:
    """Convert one image (PIL image, HxW[xC] array or file path) to an RGB PIL image.

    Greyscale, RGBA (composited on white), palette, CMYK and 16-bit images are converted; float arrays must lie in
    [0, 1].

    Raises:
        FileNotFoundError: the path does not exist.
        ValueError: the file is not a readable image, or the array has an unsupported shape or dtype.
        TypeError: the object is not an image at all.
    """
    if isinstance(image, (str, os.PathLike)):
        path = Path(image)
        if not path.is_file():
            raise FileNotFoundError(f"Image file not found: {str(path)!r}")
        try:
            with Image.open(path) as img:
                img.load()
                return _pil_to_rgb(img)
        except (UnidentifiedImageError, OSError, SyntaxError) as exc:
            raise ValueError(
                f"Cannot read image file {str(path)!r}: it is corrupt, truncated or not an image ({exc})"
            ) from exc
    if isinstance(image, Image.Image):
        return _pil_to_rgb(image)
    if isinstance(image, np.ndarray):
        return _array_to_pil(image)
    raise TypeError(
        f"Expected a PIL image, a numpy array (HxW or HxWxC) or a file path, got {type(image).__name__}. "
        "Preprocessed batches must be a torch.Tensor of shape [N, 3, H, W]."
    )


def _pil_to_rgb(img: Image.Image) -> Image.Image:
    if img.mode == "RGB":
        return img.copy()
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(img, dtype=np.float64)
        return _array_to_pil(arr / max(arr.max(), 1.0))
    if img.mode == "P":
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(background, rgba).convert("RGB")
    return img.convert("RGB")


def _array_to_pil(arr: np.ndarray) -> Image.Image:
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ValueError(f"Image array must be HxW, HxWx3 or HxWx4, got shape {arr.shape}")
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype == np.uint16:
        arr = (arr.astype(np.float64) / 65535.0 * 255.0).round().astype(np.uint8)
    elif np.issubdtype(arr.dtype, np.floating):
        if np.nanmin(arr) < 0 or np.nanmax(arr) > 1:
            raise ValueError("Float image arrays must hold values in [0, 1]; scale them or pass uint8")
        arr = (arr * 255.0).round().astype(np.uint8)
    elif arr.dtype == bool:
        arr = arr.astype(np.uint8) * 255
    else:
        raise ValueError(f"Unsupported image array dtype {arr.dtype}; use uint8, uint16 or float in [0, 1]")
    return _pil_to_rgb(Image.fromarray(np.ascontiguousarray(arr)))


def as_image_list(images: ImageInput) -> list[ImageLike]:
    """Normalise a single image or a sequence of images to a list (tensors are not accepted here)."""
    if isinstance(images, (Image.Image, np.ndarray, str, os.PathLike)):
        return [images]
    if isinstance(images, torch.Tensor):
        raise TypeError("as_image_list does not take tensors; pass the tensor batch to the classifier directly")
    if isinstance(images, Sequence) or isinstance(images, Iterator):
        items = list(images)
        if not items:
            raise ValueError("Got an empty list of images")
        return items
    raise TypeError(f"Expected an image, a file path or a list of them, got {type(images).__name__}")


def iter_batches(
    images: ImageInput, transform: Callable[[Image.Image], torch.Tensor], batch_size: int
) -> Iterator[torch.Tensor]:
    """Yield preprocessed [B,3,H,W] batches. A 4-D tensor is taken as preprocessed; a 3-D tensor as one image."""
    if isinstance(images, torch.Tensor):
        if images.ndim == 3:
            images = images.unsqueeze(0)
        if images.ndim != 4:
            raise ValueError(
                f"A preprocessed image tensor must be [N,C,H,W] or [C,H,W], got shape {tuple(images.shape)}"
            )
        for start in range(0, images.shape[0], batch_size):
            yield images[start : start + batch_size]
        return
    items = as_image_list(images)
    for start in range(0, len(items), batch_size):
        yield torch.stack([transform(to_pil(item)) for item in items[start : start + batch_size]])


def sample_images() -> dict[str, Image.Image]:
    """Real photos that install with the package's dependencies (no network): skimage, scikit-learn, matplotlib.

    Returns:
        Name -> RGB PIL image, in a fixed order: chelsea (a tabby cat), coffee (an espresso), astronaut, rocket,
        motorcycle, china (a temple), flower, grace_hopper (a woman in uniform).
    """
    import matplotlib
    from skimage import data

    photos: dict[str, Image.Image] = {}
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
