"""The command line ``corrrelax``: data check, training, maps, tables and the book, one subcommand each.

Every subcommand takes ``--profile NAME`` (``book/profiles/<name>.yml``, default ``tiny``) and
``-p KEY VALUE`` overrides with the profile's dotted keys (``-p correlax.n_masks 64``)::

    corrrelax check-data --profile full                  # is $CORRRELAX_DATA a complete VinDr-Mammo copy?
    corrrelax train --profile tiny                       # chapter 04's classifier (DDP under torchrun)
    torchrun --nproc_per_node 2 -m corrrelax_lib.cli explain --profile tiny   # maps, images shared out
    corrrelax explain --maps baselines external          # chapter 08's baselines, chapter 11's scans
    corrrelax evaluate --maps baselines                  # Table 4 and chapter 08's table from the maps, as CSV
    corrrelax book build                                 # compute, execute every chapter, render the HTML book

They read and write the artifacts the chapters use (same :class:`~corrrelax_lib.pipeline.study.Study`), so
maps computed here are only read by the book, and the other way round. ``torchrun`` is
``python -m torch.distributed.run``; with ``--nnodes`` > 1 the artifact folder must be on a filesystem
every node sees (``CORRRELAX_ARTIFACTS``). An error in the data or files is one message naming the file,
exit status 1; ``--debug`` shows its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import yaml

from corrrelax_lib.config import ConfigError, parse_override_pairs
from corrrelax_lib.data.image_store import CachedImageError
from corrrelax_lib.data.sources import DatasetUnavailableError
from corrrelax_lib.data.validation import validate_dataset
from corrrelax_lib.data.vindr import AnnotationError
from corrrelax_lib.distributed.context import DistributedContext
from corrrelax_lib.io.atomic import atomic_write_text
from corrrelax_lib.io.mammogram import MammogramReadError
from corrrelax_lib.metrics.pointing_game import pointing_game_table
from corrrelax_lib.paths import manifest_path
from corrrelax_lib.pipeline.method_comparison import method_comparison
from corrrelax_lib.pipeline.study import FINDINGS, Study
from corrrelax_lib.preprocess.roi import EmptyBreastError

#: The map sets ``explain --maps`` computes.
MAPS = ("correlax", "baselines", "external")

#: Errors about the user's data, files, folders or profile: printed as their message (which names the file and
#: the line or key), not as a traceback; ``--debug`` shows the traceback.
USER_ERRORS: tuple[type[BaseException], ...] = (
    AnnotationError, DatasetUnavailableError, MammogramReadError, EmptyBreastError, CachedImageError, ConfigError,
    OSError,
)


def pointing_game_csv(study: Study) -> Path:
    """Where ``evaluate`` writes Table 4 by default: ``<artifacts>/<profile>/tables/pointing_game.csv``."""
    return study.artifacts_dir / "tables" / "pointing_game.csv"


def check_data(study: Study) -> bool:
    """Generate a generated dataset, or validate a downloaded one against its manifest and print the report.

    Returns:
        Whether the data are usable (for VinDr-Mammo: no missing CSV, column or image, none misplaced, every
        annotation row readable).
    """
    dataset = study.config.data.dataset
    manifest_file = manifest_path(dataset)
    if "generator" in yaml.safe_load(manifest_file.read_text()):
        root = study.prepare_data()
        print(f"[corrrelax] {dataset}: generated at {root} and matches {manifest_file.name}")
        return True
    report = validate_dataset(study.data_root, manifest_file)
    print(report.summary())
    return report.ok


def train(study: Study, context: DistributedContext) -> Path:
    """Train (or find) the study's classifier; every rank takes part. Returns its run folder."""
    return study.classifier(context).directory


def explain(study: Study, context: DistributedContext, maps: Sequence[str] = ("correlax",)) -> int:
    """The study's maps, each rank computing its share of the images; returns how many image maps exist.

    Args:
        study: the profile's study.
        context: this process in the job.
        maps: which of :data:`MAPS`: ``correlax`` (chapter 05's maps of the annotated test images),
            ``baselines`` (chapter 08's methods on the same images), ``external`` (chapter 11's scans).

    The classifier is trained first if it is not yet (with DDP, by every rank). On return every
    image has a complete artifact (all ranks passed each method's final barrier).
    """
    study.classifier(context)
    study = _on_this_rank(study, context)
    count = 0
    if "correlax" in maps:
        count += len(study.correlax_maps(context))
    if "baselines" in maps:
        count += len(study.test_images()) * len(study.baseline_maps(context))
    if "external" in maps:
        count += len(study.external_maps(context)[2])
    return count


def evaluate(study: Study, output: Path | None = None, maps: Sequence[str] = ("correlax",)) -> Path:
    """Gather the tables from the maps ``explain`` wrote (computing none) and write them as CSV, atomically.

    Table 4 (pointing game, paper §4.4) goes to ``output`` (default :func:`pointing_game_csv`); with
    ``"baselines"`` in ``maps``, chapter 08's comparison of every method goes beside it
    (``method_comparison.csv``). Both are gathered before either is written. Returns Table 4's path.

    Raises:
        FileNotFoundError: the classifier is not trained, or an image has no complete map
            (:class:`~corrrelax_lib.distributed.gather.MissingArtifactsError`): run ``explain`` first.
    """
    study.classifier(train=False)
    images, tolerance = study.test_images(), study.config.pointing_game.tolerance
    correlax_maps = study.correlax_maps(compute=False)
    table = pointing_game_table(study.pointing_game_pairs(correlax_maps), study.pointing_game_criteria(), FINDINGS)
    comparison = None
    if "baselines" in maps:
        methods = [*study.correlax_method_maps(maps=correlax_maps), *study.baseline_maps(compute=False)]
        comparison = method_comparison(images, methods, FINDINGS, tolerance=tolerance)[1]
    output = output or pointing_game_csv(study)
    atomic_write_text(output, table.to_csv())
    print(table.to_string())
    if comparison is not None:
        atomic_write_text(output.parent / "method_comparison.csv", comparison.to_csv())
        print(comparison.to_string())
    return output


def package_version() -> str:
    """The installed ``corrrelax_lib`` version (``pyproject.toml``'s), or ``"unknown"`` when run from a bare tree."""
    try:
        return version("corrrelax_lib")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    """``corrrelax`` and its subcommands, each with its own ``--help``."""
    parser = argparse.ArgumentParser(prog="corrrelax", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {package_version()}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--profile", default="tiny", help="book/profiles/<profile>.yml (default: tiny)")
    common.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                        help="override one profile setting by its dotted key, e.g. -p correlax.n_masks 64 "
                             "(repeatable; values read as YAML)")
    common.add_argument("--debug", action="store_true", help="show the traceback of an error in the data or files")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    commands.add_parser("check-data", parents=[common], help="validate (or generate) the profile's data",
                        description="Validate $CORRRELAX_DATA against its manifest, or generate the phantoms.")
    commands.add_parser("train", parents=[common], help="train the classifier (chapter 04; DDP under torchrun)",
                        description="Train (or find) the profile's classifier.")
    explain_parser = commands.add_parser("explain", parents=[common], help="compute maps of the test images",
                                         description="Compute the maps of the test images, shared out by "
                                                     "image across the ranks of a torchrun job.")
    explain_parser.add_argument("--maps", nargs="+", choices=MAPS, default=["correlax"],
                                help="correlax (chapter 05, default), baselines (chapter 08), external (chapter 11)")
    evaluate_parser = commands.add_parser("evaluate", parents=[common], help="tables from the maps, as CSV",
                                          description="Gather Table 4 (and chapter 08's comparison) from the maps "
                                                      "explain wrote, computing none.")
    evaluate_parser.add_argument("--maps", nargs="+", choices=("correlax", "baselines"), default=["correlax"],
                                 help="with baselines, chapter 08's comparison table too")
    evaluate_parser.add_argument("--output", type=Path,
                                 help="the CSV to write (default: <artifacts>/<profile>/tables/pointing_game.csv)")
    book_parser = commands.add_parser("book", parents=[common], help="compute, execute the chapters, render the book",
                                      description="build: compute (train, explain), execute every chapter with "
                                                  "papermill, render the HTML book; notebooks: the chapters only.")
    book_parser.add_argument("action", choices=("build", "notebooks"), nargs="?", default="build")
    book_parser.add_argument("--only", nargs="*", help="chapter stems to execute, e.g. 01_preprocessing")
    book_parser.add_argument("--force", action="store_true", help="re-execute chapters even if up to date")
    return parser


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``corrrelax`` (and ``python -m corrrelax_lib.cli``).

    An error in the user's data, files or profile (:data:`USER_ERRORS`) is printed as one message naming the
    file, and the command exits with status 1; ``--debug`` re-raises it with its traceback.
    """
    args = build_parser().parse_args(argv)
    try:
        _run(args)
    except USER_ERRORS as error:
        if args.debug:
            raise
        print(f"corrrelax {args.command}: error: {error}", file=sys.stderr)
        sys.exit(1)


def _run(args: argparse.Namespace) -> None:
    """Run the parsed subcommand."""
    overrides = parse_override_pairs(args.parameter)
    if args.command == "book":
        from corrrelax_lib.book.build import build_book, run_notebooks  # the book's tools only when asked for

        if args.action == "notebooks":
            run_notebooks(args.profile, overrides, only=args.only, force=args.force)
        else:
            print(f"[book] open {build_book(args.profile, overrides, only=args.only, force=args.force)}")
        return
    study = Study.open(args.profile, overrides)
    if args.command == "check-data":
        sys.exit(0 if check_data(study) else 1)
    # nccl needs a GPU per rank: a CPU profile (tiny) synchronises its ranks with gloo even where CUDA exists.
    backend = "nccl" if study.config.device.startswith("cuda") else "gloo"
    with DistributedContext.from_env(backend=backend) as context:
        # One rank generates (or checks) the data; the others wait rather than write the same files.
        if context.is_main:
            study.prepare_data()
        context.barrier()
        if args.command == "train":
            directory = train(study, context)
            if context.is_main:
                print(f"[corrrelax] classifier: {directory}")
        elif args.command == "explain":
            count = explain(study, context, args.maps)
            if context.is_main:
                print(f"[corrrelax] {count} image maps complete ({', '.join(args.maps)}) under {study.artifacts_dir}")
        elif context.is_main:  # evaluate: a gather, on one process
            print(f"[corrrelax] tables: {evaluate(study, args.output, args.maps).parent}")


def _on_this_rank(study: Study, context: DistributedContext) -> Study:
    """``study`` on this rank's GPU when several processes share the CUDA devices (the trained classifier kept)."""
    if not (context.is_distributed and study.config.device.startswith("cuda")):
        return study
    return study.on_device(f"cuda:{context.local_rank}")


if __name__ == "__main__":
    main()
