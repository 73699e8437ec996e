"""Flicker and time of `stylegram video` on the synthetic clip (stylegram.video.testclip).

Three clips are measured with one warping error (stylegram.video.metrics, flow from the input frames):
(a) `stylegram video` (warm start + temporal term), (b) the same frames stylized one by one with the
first-frame settings, (c) the input clip itself. For every later frame of (a) it also records the
iteration at which its style-transfer loss (content + style + tv, the temporal term left out) first reaches
the final loss of the same frame stylized on its own in (b), and the seconds per frame by role.

    .venv/bin/python benchmarks/video_flicker.py --size 128 --iterations 100 --temporal-weights 30,10,100 \
        --json docs/video-flicker.json --strip docs/video-strip.jpg --animation docs/video-flicker.webp
    .venv/bin/python benchmarks/video_flicker.py --size 256 --iterations 300 --first 3 --second 0 --timing-only \
        --json docs/video-time-256.json
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
from PIL import Image

from stylegram.settings import StylizeSettings
from stylegram.video.io import open_clip
from stylegram.video.metrics import input_flows, warping_error
from stylegram.video.pipeline import prepare_clip, run_frames
from stylegram.video.settings import DEFAULT_TEMPORAL_WEIGHT, VideoSettings, later_settings
from stylegram.video.testclip import make_test_clip

STYLE = Path(__file__).resolve().parents[1] / "examples" / "starry_night.jpg"


def _transfer_loss(progress, settings: StylizeSettings) -> float:
    return (settings.content_weight * progress.content + settings.style_weight * progress.style
            + settings.tv_weight * progress.tv)


def run_video(folder: Path, out: Path, video: VideoSettings) -> dict:
    """(a): every frame through the video pipeline; per frame its seconds, iterations and loss history."""
    prepared = prepare_clip(open_clip(folder), [STYLE], video, out)
    histories: list[list[float]] = []
    rows = []

    def on_progress(progress) -> None:
        histories[-1].append(_transfer_loss(progress, video.first))

    def on_frame(done) -> None:
        rows.append({"frame": done.frame.index, "later": done.frame.previous is not None, "seconds": done.seconds,
                     "iterations": done.iterations, "style_cache": list(done.style_cache),
                     "history": histories[-1]})
        histories.append([])

    histories.append([])
    run_frames(prepared.frames, [STYLE], video, on_frame=on_frame, callback=on_progress)
    images = [np.asarray(Image.open(f.output), dtype=np.float32) / 255 for f in prepared.frames]
    return {"frames": rows, "images": images, "cuts": [f.index for f in prepared.frames if f.previous is None][1:]}


def run_one_by_one(folder: Path, settings: StylizeSettings) -> dict:
    """(b): every frame stylized on its own, as `stylegram stylize` would."""
    from stylegram.engine import stylize

    rows, images = [], []
    for path in sorted(folder.glob("*.png")):
        history: list[float] = []
        started = time.perf_counter()
        result = stylize(path, [STYLE], settings, callback=lambda p, h=history: h.append(_transfer_loss(p, settings)))
        rows.append({"frame": len(rows), "seconds": time.perf_counter() - started, "iterations": result.iterations,
                     "final_loss": history[-1], "history": history})
        images.append(result.image)
    return {"frames": rows, "images": images}


def iterations_to_reach(video_rows: list[dict], alone_rows: list[dict], within: float) -> list[int | None]:
    """For each later frame of (a): the first iteration whose loss is within ``within`` (0.05: 5%) of (b)'s
    final loss for that frame (None: never, within its bound)."""
    found = []
    for row in (r for r in video_rows if r["later"]):
        goal = (1 + within) * alone_rows[row["frame"]]["final_loss"]
        found.append(next((i + 1 for i, loss in enumerate(row["history"]) if loss <= goal), None))
    return found


def first_frame_reach(alone_rows: list[dict], within: float) -> list[int]:
    """For each frame of (b): the first iteration within ``within`` of its own final loss."""
    return [next(i + 1 for i, loss in enumerate(r["history"]) if loss <= (1 + within) * r["final_loss"])
            for r in alone_rows]


def seconds_per_frame(rows: list[dict]) -> dict:
    by_role = {"first": [r["seconds"] for r in rows if not r["later"]],
               "later": [r["seconds"] for r in rows if r["later"]]}
    return {role: float(np.median(values)) if values else None for role, values in by_role.items()}


def strip(rows: list[list[np.ndarray]], path: Path, frames: range) -> None:
    """Consecutive frames side by side, one row per clip, as a JPEG."""
    tiles = [np.concatenate([row[t] for t in frames], axis=1) for row in rows]
    Image.fromarray(np.clip(np.concatenate(tiles, axis=0) * 255 + 0.5, 0, 255).astype(np.uint8)).save(path, quality=90)


def animation(rows: list[list[np.ndarray]], path: Path, fps: int = 5) -> None:
    """The clips side by side, frame by frame, as an animated WebP (or GIF by suffix)."""
    pictures = [Image.fromarray(np.clip(np.concatenate([row[t] for row in rows], axis=1) * 255 + 0.5, 0, 255)
                                .astype(np.uint8)) for t in range(len(rows[0]))]
    pictures[0].save(path, save_all=True, append_images=pictures[1:], duration=1000 // fps, loop=0, quality=85)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=128, help="frame width (height: 2/3 of it)")
    parser.add_argument("--iterations", type=int, default=100, help="bound of a first frame (and of (b))")
    parser.add_argument("--later-iterations", type=int, default=0, help="bound of a later frame (0: the default)")
    parser.add_argument("--later-scales", type=int, default=1)
    parser.add_argument("--temporal-weights", default=str(DEFAULT_TEMPORAL_WEIGHT), help="comma-separated; "
                        "each is a run of (a); the first one's frames make the pictures")
    parser.add_argument("--first", type=int, default=6, help="frames before the cut")
    parser.add_argument("--second", type=int, default=4, help="frames after the cut")
    parser.add_argument("--precision", default="auto")
    parser.add_argument("--timing-only", action="store_true", help="(a) only: seconds per frame, no (b)")
    parser.add_argument("--json"), parser.add_argument("--strip"), parser.add_argument("--animation")
    args = parser.parse_args()
    first = StylizeSettings(size=args.size, iterations=args.iterations, precision=args.precision)
    later = replace(later_settings(first, args.later_iterations or None), scales=args.later_scales)
    clip = make_test_clip(args.size, round(args.size * 2 / 3), args.first, args.second)
    flows = input_flows(clip.frames, clip.cuts)
    report = {"settings": {"size": args.size, "iterations": args.iterations, "later_iterations": later.iterations,
                           "later_scales": later.scales, "precision": args.precision},
              "warping_error_input": warping_error(clip.frames, flows), "video": []}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "clip"
        folder.mkdir()
        for index, frame in enumerate(clip.frames):
            Image.fromarray(frame).save(folder / f"{index:04d}.png")
        runs = [run_video(folder, Path(tmp) / f"out{i}", VideoSettings(first, later, float(w)))
                for i, w in enumerate(args.temporal_weights.split(","))]
        b = None if args.timing_only else run_one_by_one(folder, first)
    if b is not None:
        report["one_by_one"] = {"warping_error": warping_error(b["images"], flows),
                                "seconds_per_frame": float(np.median([r["seconds"] for r in b["frames"]])),
                                "iterations_to_5pc": first_frame_reach(b["frames"], 0.05),
                                "iterations_to_2pc": first_frame_reach(b["frames"], 0.02)}
    for weight, a in zip(args.temporal_weights.split(","), runs):
        row = {"temporal_weight": float(weight), "cuts_found": a["cuts"], "cuts_true": clip.cuts,
               "warping_error": warping_error(a["images"], flows), "seconds_per_frame": seconds_per_frame(a["frames"]),
               "iterations": [r["iterations"] for r in a["frames"]]}
        if b is not None:
            row |= {"over_one_by_one": row["warping_error"] / report["one_by_one"]["warping_error"],
                    "over_input": row["warping_error"] / report["warping_error_input"],
                    "later_iterations_to_5pc": iterations_to_reach(a["frames"], b["frames"], 0.05),
                    "later_iterations_to_2pc": iterations_to_reach(a["frames"], b["frames"], 0.02),
                    "later_loss_at_end_over_one_by_one": [r["history"][-1] / b["frames"][r["frame"]]["final_loss"]
                                                          for r in a["frames"] if r["later"]]}
        report["video"].append(row)
    print(json.dumps(report, indent=1))
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=1) + "\n")
    rows = [[f / 255 for f in clip.frames], runs[0]["images"]] + ([b["images"]] if b else [])
    if args.strip:
        strip(rows, Path(args.strip), range(1, 6))
    if args.animation:
        animation(rows, Path(args.animation))


if __name__ == "__main__":
    main()
