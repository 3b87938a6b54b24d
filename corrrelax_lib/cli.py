"""Command line: ``corrrelax check-data | train | explain | evaluate --profile tiny [-p name value ...]``.

Each command runs as one process or as every process of a ``torchrun`` job::

    corrrelax check-data --profile full                  # is $CORRRELAX_DATA a complete VinDr-Mammo copy?
    corrrelax train --profile tiny                       # chapter 04's classifier (DDP under torchrun)
    torchrun --nproc_per_node 2 -m corrrelax_lib.cli explain --profile tiny   # maps, images shared out
    corrrelax explain --profile tiny --maps baselines external   # chapter 08's baselines, chapter 11's scans
    corrrelax evaluate --profile tiny --maps baselines   # Table 4 and chapter 08's table from the maps, as CSV

They read and write the artifacts the notebooks use (same folders, same parameters), so maps
computed here are only read by the book build, and the other way round. ``torchrun`` is
``python -m torch.distributed.run``; with ``--nnodes`` > 1 the artifact folder must be on a
filesystem every node sees (``CORRRELAX_ARTIFACTS``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from corrrelax_lib.attribution.correlax_maps import CorrelaxMaps
from corrrelax_lib.book.profiles import Profile, load_profile, parse_overrides
from corrrelax_lib.data.image_store import CachedImageError
from corrrelax_lib.data.sources import DatasetUnavailableError, prepare_dataset
from corrrelax_lib.data.validation import validate_dataset
from corrrelax_lib.data.vindr import AnnotationError
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.distributed.gather import read_artifacts
from corrrelax_lib.io.atomic import atomic_write_text
from corrrelax_lib.io.mammogram import MammogramReadError
from corrrelax_lib.metrics.pointing_game import TABLE4_CRITERIA, pointing_game_table
from corrrelax_lib.paths import manifest_path, repository_root
from corrrelax_lib.pipeline.correlax_images import pointing_game_pairs
from corrrelax_lib.pipeline.method_comparison import CORRELAX_KINDS, correlax_method_maps, method_comparison
from corrrelax_lib.pipeline.profile_baselines import profile_baseline_maps
from corrrelax_lib.pipeline.profile_inputs import (
    FINDINGS,
    profile_classifier,
    profile_correlax,
    profile_external_maps,
    profile_inputs,
    profile_maps,
)
from corrrelax_lib.preprocess.roi import EmptyBreastError

COMMANDS = ("check-data", "train", "explain", "evaluate")

#: The map sets ``explain --maps`` computes.
MAPS = ("correlax", "baselines", "external")


def pointing_game_csv(parameters: Mapping[str, Any]) -> Path:
    """Where ``evaluate`` writes Table 4 by default: ``<artifacts_dir>/tables/pointing_game.csv``."""
    return Path(parameters["artifacts_dir"]) / "tables" / "pointing_game.csv"


def check_data(profile: Profile) -> bool:
    """Generate a generated dataset, or validate a downloaded one against its manifest and print the report.

    Returns:
        Whether the data are usable (for VinDr-Mammo: no missing CSV, column or image, none misplaced).
    """
    manifest_file = manifest_path(profile.dataset, repository_root())
    if "generator" in yaml.safe_load(manifest_file.read_text()):
        root = prepare_dataset(profile.dataset, profile.data_root, repository_root(), workers=2)
        print(f"[corrrelax] {profile.dataset}: generated at {root} and matches {manifest_file.name}")
        return True
    report = validate_dataset(profile.data_root, manifest_file)
    print(report.summary())
    return report.ok


def train(parameters: Mapping[str, Any], context: DistributedContext) -> Path:
    """Train (or find) the profile's classifier; every rank takes part. Returns its run folder."""
    return profile_classifier(parameters, context).directory


def explain(parameters: Mapping[str, Any], context: DistributedContext, maps: Sequence[str] = ("correlax",)) -> int:
    """The profile's maps, each rank computing its share of the images; returns how many image maps exist.

    Args:
        parameters: the profile's notebook parameters.
        context: this process in the job.
        maps: which of :data:`MAPS`: ``correlax`` (chapter 05's maps of the annotated test images),
            ``baselines`` (chapter 08's methods on the same images), ``external`` (chapter 11's scans).

    The classifier is trained first if it is not yet (with DDP, by every rank). On return every
    image has a complete artifact (all ranks passed each method's final barrier).
    """
    inputs = profile_inputs(parameters, context)
    parameters = _rank_parameters(parameters, context)
    count = 0
    if "correlax" in maps:
        count += len(profile_maps(parameters, inputs, context)[1])
    if "baselines" in maps:
        count += len(inputs.images) * len(profile_baseline_maps(parameters, inputs, context))
    if "external" in maps:
        count += len(profile_external_maps(parameters, inputs, context)[2])
    return count


def evaluate(parameters: Mapping[str, Any], output: Path | None = None, maps: Sequence[str] = ("correlax",)) -> Path:
    """Gather the tables from the maps ``explain`` wrote (computing none) and write them as CSV, atomically.

    Table 4 (pointing game, paper §4.4) goes to ``output`` (default :func:`pointing_game_csv`); with
    ``"baselines"`` in ``maps``, chapter 08's comparison of every method goes beside it
    (``method_comparison.csv``). Returns Table 4's path.

    Raises:
        FileNotFoundError: the classifier is not trained, or an image has no complete map
            (:class:`~corrrelax_lib.distributed.gather.MissingArtifactsError`): run ``explain`` first.
    """
    inputs = profile_inputs(parameters, train=False)
    explainer, directory = profile_correlax(parameters, inputs)
    image_ids = [image.image_id for image in inputs.images]
    correlax_maps = read_artifacts(image_ids, directory, explainer.parameters, CorrelaxMaps.load)
    tolerance = parameters["pointing_tolerance"]
    pairs = pointing_game_pairs(inputs.images, correlax_maps, FINDINGS, tolerance=tolerance)
    table = pointing_game_table(pairs, TABLE4_CRITERIA, FINDINGS)
    output = output or pointing_game_csv(parameters)
    atomic_write_text(output, table.to_csv())
    print(table.to_string())
    if "baselines" in maps:
        methods = [*correlax_method_maps(correlax_maps, CORRELAX_KINDS),
                   *profile_baseline_maps(parameters, inputs, compute=False)]
        _, comparison = method_comparison(inputs.images, methods, FINDINGS, tolerance=tolerance)
        atomic_write_text(output.parent / "method_comparison.csv", comparison.to_csv())
        print(comparison.to_string())
    return output


#: Errors about the user's data, files or folders: printed as their message (which names the file and line), not
#: as a traceback; ``--debug`` shows the traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    AnnotationError, DatasetUnavailableError, MammogramReadError, EmptyBreastError, CachedImageError, OSError,
)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``corrrelax`` (and ``python -m corrrelax_lib.cli``).

    An error in the user's data or files (:data:`USER_ERRORS`) is printed as one message naming the file,
    and the command exits with status 1; ``--debug`` re-raises it with its traceback.
    """
    parser = argparse.ArgumentParser(prog="corrrelax", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=COMMANDS,
                        help="check-data: validate the profile's data; train: the classifier; "
                             "explain: maps of the test images; evaluate: Table 4 from the maps")
    parser.add_argument("--profile", default="tiny", help="book/profiles/<profile>.yml (default: tiny)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override one profile parameter (repeatable), as papermill's -p")
    parser.add_argument("--maps", nargs="+", choices=MAPS, default=["correlax"],
                        help="explain: which maps (default: correlax; baselines = chapter 08, external = chapter 11); "
                             "evaluate: with baselines, chapter 08's comparison table too")
    parser.add_argument("--output", type=Path, help="evaluate: the CSV to write (default: "
                                                    "<artifacts>/<profile>/tables/pointing_game.csv)")
    parser.add_argument("--debug", action="store_true", help="show the traceback of an error in the data or files")
    args = parser.parse_args(argv)
    try:
        _run(args)
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"corrrelax {args.command}: error: {error}", file=sys.stderr)
        sys.exit(1)


def _run(args: argparse.Namespace) -> None:
    """Run the parsed command."""
    profile = load_profile(args.profile, parse_overrides(args.parameter))
    if args.command == "check-data":
        sys.exit(0 if check_data(profile) else 1)
    parameters = profile.notebook_parameters()
    # nccl needs a GPU per rank: a CPU profile (tiny) synchronises its ranks with gloo even where CUDA exists.
    backend = "nccl" if str(parameters["device"]).startswith("cuda") else "gloo"
    with DistributedContext.from_env(backend=backend) as context:
        # One rank generates (or checks) the data; the others wait rather than write the same files.
        if context.is_main:
            prepare_dataset(profile.dataset, profile.data_root, repository_root(), workers=2)
        context.barrier()
        if args.command == "train":
            directory = train(parameters, context)
            if context.is_main:
                print(f"[corrrelax] classifier: {directory}")
        elif args.command == "explain":
            count = explain(parameters, context, args.maps)
            if context.is_main:
                print(f"[corrrelax] {count} image maps complete ({', '.join(args.maps)}) under "
                      f"{parameters['artifacts_dir']}")
        elif context.is_main:  # evaluate: a gather, on one process
            print(f"[corrrelax] tables: {evaluate(parameters, args.output, args.maps).parent}")


def _rank_parameters(parameters: Mapping[str, Any], context: DistributedContext) -> dict[str, Any]:
    """``parameters`` with ``device`` set to this rank's GPU when several processes share the CUDA devices."""
    if context.is_distributed and str(parameters["device"]).startswith("cuda"):
        return {**parameters, "device": f"cuda:{context.local_rank}"}
    return dict(parameters)


if __name__ == "__main__":
    main()
