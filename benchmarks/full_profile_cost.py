"""What the `full` profile costs on this device: CorRELAX per mammogram, training per epoch and in all.

Two rates are measured in one run, after a warm-up each, on random inputs and a randomly
initialised classifier (the rates do not depend on the weights):

* masked passes per second of the profile's classifier through the CorRELAX engine;
* seconds per training step (forward, focal loss, backward, Adam).

Everything else is worked out from them, the profile and the paper
(:func:`corrrelax_lib.pipeline.throughput.estimate_full_cost`): windows on the paper's mean ROI,
passes per image, steps per epoch from Table 1. The table says which number is which.
On a CPU the batches are smaller than the profile's and the rates are scaled per item.

    python benchmarks/full_profile_cost.py                      # CUDA if available, else the CPU
    python benchmarks/full_profile_cost.py --device cuda --output benchmarks/results/full_profile_cost-h100.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd
import torch

from corrrelax_lib.paths import repository_root
from corrrelax_lib.pipeline.study import Study
from corrrelax_lib.pipeline.throughput import (
    estimate_full_cost,
    format_value,
    measurement_batch_sizes,
    write_cost_estimate,
)


def main() -> None:
    args = _arguments()
    # Batches that fit a short CPU run; on a GPU the profile's own (512 masked windows, 48 crops).
    defaults = measurement_batch_sizes(args.device)
    masked_batch_size = args.masked_batch_size or defaults.get("masked_batch_size")
    training_batch_size = args.training_batch_size or defaults.get("training_batch_size")
    config = Study.open(args.profile, {"device": args.device, "classifier.pretrained_weights": None}).config
    started = time.perf_counter()
    estimate = estimate_full_cost(config, device=args.device, n_batches=args.batches, n_steps=args.steps,
                                  masked_batch_size=masked_batch_size, training_batch_size=training_batch_size)
    seconds = time.perf_counter() - started
    results = repository_root() / "benchmarks" / "results"
    output = args.output or results / f"{args.profile}_profile_cost-{args.device}.json"
    write_cost_estimate(estimate, output)
    with pd.option_context("display.max_colwidth", 60, "display.width", 120):
        print(estimate.to_frame().to_string(index=False, formatters={"value": format_value}))
    print(f"per image {estimate.seconds_per_image / 3600:.2f} h | per epoch {estimate.seconds_per_epoch / 3600:.2f} h "
          f"| {estimate.epochs} epochs {estimate.training_seconds_total / 86400:.2f} days")
    print(f"measured in {seconds:.1f} s; written to {output}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="full")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--batches", type=int, default=2, help="timed batches of masked windows")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps")
    parser.add_argument("--masked-batch-size", type=int, default=None,
                        help="masked windows per pass (default: 32 on a CPU, else the profile's)")
    parser.add_argument("--training-batch-size", type=int, default=None,
                        help="crops per timed step (default: 16 on a CPU, else the profile's)")
    parser.add_argument("--output", type=Path, default=None,
                        help="JSON path (default: benchmarks/results/<profile>_profile_cost-<device>.json)")
    return parser.parse_args()


if __name__ == "__main__":
    main()
