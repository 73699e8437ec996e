"""``stylegram mask``: complementary masks for ``stylize --masks`` (a split or a luminance threshold)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer

from ..errors import InputError
from ..fileio import check_writable_target
from ..images import image_size, load_image, output_format, save_image
from ..masks import SPLITS, split_masks, threshold_masks


def mask(
    content: Annotated[Path, typer.Argument(help="The content image the masks lie over.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The mask (.png); white = the first style here.")],
    split: Annotated[Optional[str], typer.Option(
        "--split", help=f"White on this half: {', '.join(SPLITS)}.")] = None,
    threshold: Annotated[Optional[float], typer.Option(
        "--threshold", help="White where the content's luminance (0-1) is above this.")] = None,
    feather: Annotated[float, typer.Option("--feather", help="Soft seam this many px wide.")] = 0.0,
    complement: Annotated[Optional[Path], typer.Option(
        "--complement", help="Where the complementary mask goes (default: OUTPUT with -complement before the suffix).")]
    = None,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print nothing but errors.")] = False,
) -> None:
    """Write a mask over CONTENT and its complement (the two add up to white), for --masks A,B."""
    if (split is None) == (threshold is None):
        raise InputError("mask: give one of --split or --threshold")
    complement = complement or output.with_name(f"{output.stem}-complement{output.suffix}")
    for path in (output, complement):
        output_format(path)
        check_writable_target(path, option="--output" if path == output else "--complement")
    width, height = image_size(content, "content image")
    if split is not None:
        first, second = split_masks(width, height, split, feather)
    else:
        first, second = threshold_masks(load_image(content, what="content image"), threshold, feather)
    for path, values in ((output, first), (complement, second)):
        save_image(np.repeat(values[..., None], 3, axis=-1), path)
    if not quiet:
        print(f"wrote {output} and {complement} ({width}x{height})", file=sys.stderr)
