"""Mask budgets against an independent reference: passes spent vs the outcomes the paper reports.

Drives :func:`corrrelax_lib.pipeline.mask_budget.mask_budget_table` on a profile's classifier and its test
images with findings: every method of :func:`~corrrelax_lib.pipeline.mask_budget.budget_methods` (fixed
counts of the paper's masks, each mask design, adaptive masks, outcome budgets, the profile's default)
against a reference of ``mask_sensitivity.budget_reference_masks`` masks from its own seed. Maps are cached
in the profile's artifacts (the mask-sensitivity chapter reads the same ones).

``--quick`` uses the profile's ``mask_sensitivity.budget_images`` images and its ``budget_region`` (the
chapter's setting); without it every test image with findings and every window of each (whole maps), unless
``-p mask_sensitivity.budget_region …`` says otherwise. The last line reads
``passes_fraction=… pair_agreement=… max_agreement=… map_pearson=…`` for the profile's default method.

    python benchmarks/mask_budget.py --quick
    python benchmarks/mask_budget.py --profile tiny -p classifier.epochs 12 --json mask_budget.json
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from corrrelax_lib.pipeline.mask_budget import mask_budget_table
from corrrelax_lib.pipeline.study import Study


def main() -> None:
    args = _arguments()
    overrides = {key: yaml.safe_load(value) for key, value in args.parameter}
    if not args.quick:
        overrides.setdefault("mask_sensitivity.budget_region", None)
    study = Study.open(args.profile, overrides, progress=False)
    images = study.test_images()
    if args.quick:
        images = images[:study.config.mask_sensitivity.budget_images]
    if args.image_ids:
        images = [image for image in images if image.image_id in args.image_ids]
    start = time.perf_counter()
    table = mask_budget_table(study, images)
    seconds = time.perf_counter() - start
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(table.round(4).to_string(index=False))
    default = table.loc[table["default"]].iloc[0]
    sensitivity = study.config.mask_sensitivity
    region = "whole maps" if sensitivity.budget_region is None else f"{sensitivity.budget_region}-px squares"
    print(f"profile={args.profile} images={len(images)} ({region}) reference={sensitivity.budget_reference_masks} "
          f"masks (seed {sensitivity.budget_reference_seed}) device={study.config.device} "
          f"torch={torch.__version__} cpu={platform.processor() or platform.machine()} seconds={seconds:.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"profile": args.profile, "overrides": overrides, "images": len(images),
                                               "seconds": seconds, "rows": table.to_dict(orient="records")}, indent=1))
    print(f"passes_fraction={default['passes_fraction']:.4f} pair_agreement={default['pair_agreement']:.4f} "
          f"max_agreement={default['max_agreement']:.4f} map_pearson={default['map_pearson']:.4f}")


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="tiny")
    parser.add_argument("--quick", action="store_true",
                        help="the profile's budget_images images and budget_region (chapter 06)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="override a profile setting by its dotted key (value read as YAML)")
    parser.add_argument("--image-ids", nargs="+", help="only these test images (after --quick)")
    parser.add_argument("--json", help="also write the table to this JSON file")
    return parser.parse_args()


if __name__ == "__main__":
    main()
