"""CorRELAX engine throughput against the raw model and a naive per-window implementation.

One run measures, on the same model, device, dtype and batch size:

* raw: ``features_and_logits`` on one batch of masked windows held in memory, as many passes as the
  engine makes;
* engine: :class:`CorRELAX` on ``--windows`` windows × ``--n-masks`` masks (masked passes per second);
* naive: the authors' scheme, one window at a time, a fresh mask set per window, sets of 128
  masks, every feature vector and prediction stored, correlations computed at the end;
* adaptive masks: on ``--adaptive-windows`` windows, the mean fraction of ``--reference-masks``
  used and the largest |ρ_dist − ρ_dist(reference)|;
* peak memory of the engine with 256 and with 2560 masks (CUDA: allocated bytes; CPU: the
  resident set of a fresh process), which must not grow with the mask count;
* the paper's cost: seconds per mean-size ROI (885 × 2497 px, every window) at ``--n-masks-roi`` masks and
  ``--passes-fraction`` of them (a mask budget's measured share), and the 357 test images with findings;
* with ``--precision-windows``, the largest |ρ(bf16 autocast) − ρ(float32)| over that many windows (CUDA).

``--compile`` wraps the model with ``torch.compile`` (raw and engine alike); ``--json`` writes every number.

The last line reads ``ratio_vs_raw=… speedup_vs_naive=… adaptive_mask_fraction=… adaptive_max_err=…``.

    python benchmarks/correlax_throughput.py                      # small_cnn at 64 px on the CPU
    python benchmarks/correlax_throughput.py --run-dir artifacts/tiny/models/small_cnn-<fingerprint>
    python benchmarks/correlax_throughput.py --backbone efficientnet_v2_s --window-size 256 --stride 48 \\
        --batch-size 512 --device cuda
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import subprocess
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

from corrrelax_lib.attribution.adaptive import AdaptiveMasks
from corrrelax_lib.attribution.correlax import CompiledClassifier, CorRELAX, window_correlations
from corrrelax_lib.attribution.masks import RandomMasks
from corrrelax_lib.data.labels import LABELS
from corrrelax_lib.metrics.paper import authors_images_with_findings
from corrrelax_lib.models.classifier import MultiLabelClassifier
from corrrelax_lib.models.device import autocast, resolve_device
from corrrelax_lib.pipeline.throughput import paper_roi_windows
from corrrelax_lib.training.run import load_run
from corrrelax_lib.windows.grid import window_grid


def main() -> None:
    args = _arguments()
    if args.memory_probe:
        print(json.dumps(_peak_memory(args)))
        return
    device = resolve_device(args.device)
    model = _model(args).to(device)
    image, foreground = _image(args)
    explainer = _explainer(model, args, args.n_masks)
    selection = _first_windows(explainer, image, args.windows)
    if args.compile:  # compile (and warm up) before the timed run
        explainer.explain(image, foreground, windows=_first_windows(explainer, image, 2))
    maps = explainer.explain(image, foreground, windows=selection)
    engine = maps.metadata["masks_per_second"]
    passes = maps.metadata["masked_passes"]
    raw = _raw_passes_per_second(model, args, image, passes, device)
    naive = _naive_passes_per_second(model, args, image, selection, device)
    print(f"device={device} backbone={args.backbone} window={args.window_size} masks={args.n_masks} "
          f"windows={maps.metadata['windows']} batch={maps.metadata['batch_size']}")
    print(f"raw model: {raw:,.0f} passes/s | engine: {engine:,.0f} masked passes/s | naive: {naive:,.0f} passes/s")

    reference_explainer = _explainer(model, args, args.reference_masks)
    adaptive_selection = _first_windows(reference_explainer, image, args.adaptive_windows)
    reference = reference_explainer.explain(image, foreground, windows=adaptive_selection)
    adaptive_rule = AdaptiveMasks(tolerance=args.tolerance, z=args.z, min_masks=args.min_masks)
    adaptive = _explainer(model, args, args.reference_masks, adaptive_rule).explain(
        image, foreground, windows=adaptive_selection)
    computed = adaptive.masks_used > 0
    fraction = adaptive.masks_used[computed].mean() / args.reference_masks
    error = np.nanmax(np.abs(adaptive.window_rho_dist - reference.window_rho_dist))
    print(f"adaptive ({adaptive_rule}): {fraction:.3f} of {args.reference_masks} masks, "
          f"max |error| {error:.4f} on {int(computed.sum())} windows")

    peaks = {n: _probe_memory(args, n) for n in (256, 2560)}
    print(f"peak memory: 256 masks {peaks[256] / 2**20:,.1f} MiB, 2560 masks {peaks[2560] / 2**20:,.1f} MiB, "
          f"ratio {peaks[2560] / peaks[256]:.3f}")
    roi_windows = paper_roi_windows(args.window_size, args.stride, 2497, 885)
    roi_seconds = roi_windows * (args.n_masks_roi * args.passes_fraction + 1) / engine
    test_images = authors_images_with_findings()
    print(f"mean ROI 885 x 2497: {roi_windows} windows x {args.n_masks_roi} masks x {args.passes_fraction:g} = "
          f"{roi_seconds:,.1f} s per image; {test_images} test images: {roi_seconds * test_images / 3600:,.2f} h")
    precision = _precision_gap(model, args, image, device) if args.precision_windows else math.nan
    if args.precision_windows:
        print(f"bf16 autocast vs float32: max |delta rho| {precision:.5f} on {args.precision_windows} windows "
              f"({'pass' if precision < 0.005 else 'FAIL'}: < 0.005)")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"device": str(device), "gpu": torch.cuda.get_device_name(device) if device.type == "cuda"
                       else None, "torch": torch.__version__, "backbone": args.backbone, "compile": args.compile,
                       "window_size": args.window_size, "batch_size": maps.metadata["batch_size"],
                       "raw_passes_per_second": raw, "engine_passes_per_second": engine, "ratio_vs_raw": engine / raw,
                       "naive_passes_per_second": naive, "adaptive_mask_fraction": fraction,
                       "adaptive_max_err": float(error), "peak_memory_bytes": peaks, "roi_windows": roi_windows,
                       "n_masks_roi": args.n_masks_roi, "passes_fraction": args.passes_fraction,
                       "seconds_per_roi": roi_seconds, "test_images": test_images,
                       "test_set_hours": roi_seconds * test_images / 3600, "bf16_max_abs_delta_rho": precision},
                      handle, indent=1)
    print(f"ratio_vs_raw={engine / raw:.3f} speedup_vs_naive={engine / naive:.2f} "
          f"adaptive_mask_fraction={fraction:.3f} adaptive_max_err={error:.4f}")


def _model(args: argparse.Namespace) -> torch.nn.Module:
    if args.run_dir:
        model = load_run(args.run_dir).model.eval()
    else:
        torch.manual_seed(0)
        model = MultiLabelClassifier(args.backbone, len(LABELS)).eval()
    return model


def _image(args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray]:
    """A smooth random texture, ``(H, W, 3)`` in [0, 1], all of it breast (no background to skip)."""
    generator = torch.Generator().manual_seed(0)
    noise = torch.rand(1, 3, args.image_height // 16, args.image_width // 16, generator=generator)
    image = F.interpolate(noise, size=(args.image_height, args.image_width), mode="bilinear")[0].permute(1, 2, 0)
    return image.numpy(), np.ones((args.image_height, args.image_width), dtype=bool)


def _explainer(model: torch.nn.Module, args: argparse.Namespace, n_masks: int,
               adaptive: AdaptiveMasks | None = None) -> CorRELAX:
    return CorRELAX(model, LABELS, window_size=args.window_size, stride=args.stride, n_masks=n_masks,
                    batch_size=args.batch_size, adaptive=adaptive, device=args.device, compile=args.compile,
                    progress=False)


def _first_windows(explainer: CorRELAX, image: np.ndarray, count: int) -> np.ndarray:
    """The first ``count`` windows in row-major order, as a grid selection."""
    grid = window_grid(image.shape[0], image.shape[1], explainer.window_size, explainer.stride)
    selection = np.zeros(grid.n_rows * grid.n_cols, dtype=bool)
    selection[:count] = True
    return selection.reshape(grid.shape)


@torch.no_grad()
def _raw_passes_per_second(model: torch.nn.Module, args: argparse.Namespace, image: np.ndarray, passes: int,
                           device: torch.device) -> float:
    """The model alone on one batch of masked copies of the first window, kept in memory."""
    window = torch.as_tensor(image[:args.window_size, :args.window_size].transpose(2, 0, 1), device=device)
    inputs = window * RandomMasks(args.batch_size, args.window_size, device=device)[0:args.batch_size]
    if device.type == "cuda":  # as the engine: channels-last model and inputs
        model = model.to(memory_format=torch.channels_last)
        inputs = inputs.contiguous(memory_format=torch.channels_last)
    forward = CompiledClassifier(model).features_and_logits if args.compile else model.features_and_logits
    for _ in range(2):  # warm-up (and compilation)
        with autocast(device):
            forward(inputs)
    _synchronise(device)
    start = time.perf_counter()
    for _ in range(max(1, passes // args.batch_size)):
        with autocast(device):
            forward(inputs)
    _synchronise(device)
    return max(1, passes // args.batch_size) * args.batch_size / (time.perf_counter() - start)


@torch.no_grad()
def _naive_passes_per_second(model: torch.nn.Module, args: argparse.Namespace, image: np.ndarray,
                             selection: np.ndarray, device: torch.device) -> float:
    """One window at a time with its own masks, sets of 128, everything stored, correlated at the end."""
    origins = np.argwhere(selection) * args.stride
    start = time.perf_counter()
    for index, (y, x) in enumerate(origins):
        window = torch.as_tensor(image[y:y + args.window_size, x:x + args.window_size].transpose(2, 0, 1),
                                 device=device)[None]
        masks = RandomMasks(args.n_masks, args.window_size, seed=index, device=device)
        with autocast(device):
            h, logits = model.features_and_logits(window)
        features, predictions = [], []
        for first in range(0, args.n_masks, 128):
            with autocast(device):
                h_masked, logits_masked = model.features_and_logits(window * masks[first:first + 128])
            features.append(h_masked.float().cpu().numpy())
            predictions.append(torch.sigmoid(logits_masked.float()).cpu().numpy())
        h_all, y_all = np.concatenate(features), np.concatenate(predictions)
        h0, y0 = h.float().cpu().numpy()[0], torch.sigmoid(logits.float()).cpu().numpy()[0]
        s_h = h_all @ h0 / (np.linalg.norm(h_all, axis=1) * np.linalg.norm(h0))
        s_y = y_all @ y0 / (np.linalg.norm(y_all, axis=1) * np.linalg.norm(y0))
        np.corrcoef(np.vstack([s_h, s_y, y_all.T]))
    return len(origins) * args.n_masks / (time.perf_counter() - start)


@torch.no_grad()
def _precision_gap(model: torch.nn.Module, args: argparse.Namespace, image: np.ndarray, device: torch.device) -> float:
    """Largest |ρ(bf16 autocast) − ρ(float32)| of Eq. 3–4 over ``--precision-windows`` windows, same masks."""
    masks = RandomMasks(args.n_masks, args.window_size, device=device)
    origins = window_grid(image.shape[0], image.shape[1], args.window_size, args.stride).origins()
    largest = 0.0
    for y, x in origins[:args.precision_windows]:
        window = torch.as_tensor(image[y:y + args.window_size, x:x + args.window_size].transpose(2, 0, 1),
                                 device=device)[None]
        rho = []
        for dtype in (torch.bfloat16, None):
            with torch.autocast(device.type, dtype=dtype or torch.float32, enabled=dtype is not None):
                h, logits = model.features_and_logits(window.contiguous(memory_format=torch.channels_last))
                outputs = [model.features_and_logits(window * masks[first:first + args.batch_size])
                           for first in range(0, args.n_masks, args.batch_size)]
            h_masked = torch.cat([o[0].float() for o in outputs])
            y_masked = torch.sigmoid(torch.cat([o[1].float() for o in outputs]))
            distance, per_class = window_correlations(h[0].float().cpu(), torch.sigmoid(logits[0].float()).cpu(),
                                                      h_masked.cpu(), y_masked.cpu())
            rho.append(np.array([distance, *per_class]))
        largest = max(largest, float(np.nanmax(np.abs(rho[0] - rho[1]))))
    return largest


def _probe_memory(args: argparse.Namespace, n_masks: int) -> int:
    """Peak memory of one engine run with ``n_masks`` masks, measured in a fresh process."""
    command = [sys.executable, __file__, "--memory-probe", "--n-masks", str(n_masks)]
    for name in ("backbone", "window_size", "stride", "batch_size", "device", "image_height", "image_width"):
        command += [f"--{name.replace('_', '-')}", str(getattr(args, name))]
    if args.run_dir:
        command += ["--run-dir", args.run_dir]
    return json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout.splitlines()[-1])


def _peak_memory(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    model = _model(args).to(device)
    image, foreground = _image(args)
    explainer = _explainer(model, args, args.n_masks)
    explainer.explain(image, foreground, windows=_first_windows(explainer, image, 4))
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device)
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _synchronise(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backbone", default="small_cnn")
    parser.add_argument("--run-dir", help="a trained classifier run folder (default: random weights)")
    parser.add_argument("--window-size", type=int, default=64)
    parser.add_argument("--stride", type=int, default=16)
    parser.add_argument("--image-height", type=int, default=600)
    parser.add_argument("--image-width", type=int, default=400)
    parser.add_argument("--n-masks", type=int, default=256)
    parser.add_argument("--windows", type=int, default=48)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--reference-masks", type=int, default=2560)
    parser.add_argument("--adaptive-windows", type=int, default=24)
    parser.add_argument("--tolerance", type=float, default=0.025)
    parser.add_argument("--z", type=float, default=3.0)
    parser.add_argument("--min-masks", type=int, default=256)
    parser.add_argument("--compile", action="store_true", help="wrap the model with torch.compile")
    parser.add_argument("--n-masks-roi", type=int, default=2560, help="masks per window of the paper's cost")
    parser.add_argument("--passes-fraction", type=float, default=1.0,
                        help="share of those masks a mask budget spends (benchmarks/mask_budget.py)")
    parser.add_argument("--precision-windows", type=int, default=0, help="windows of the bf16 vs float32 check")
    parser.add_argument("--json", help="write every number to this JSON file")
    parser.add_argument("--memory-probe", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


if __name__ == "__main__":
    main()
