"""Command line: ``python -m corrrelax_lib.book build --profile tiny [-p name value ...]``."""

from __future__ import annotations

import argparse

from corrrelax_lib.book.build import build_book, run_notebooks
from corrrelax_lib.book.profiles import load_profile, parse_overrides
from corrrelax_lib.paths import repository_root


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m corrrelax_lib.book``."""
    parser = argparse.ArgumentParser(prog="python -m corrrelax_lib.book", description=__doc__)
    parser.add_argument("command", choices=["build", "notebooks"],
                        help="build: notebooks + HTML book; notebooks: execute notebooks only")
    parser.add_argument("--profile", default="tiny", help="book/profiles/<profile>.yml (default: tiny)")
    parser.add_argument("-p", "--parameter", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"),
                        help="override one notebook parameter (repeatable), as papermill's -p")
    parser.add_argument("--only", nargs="*", help="notebook stems to execute, e.g. 01_preprocessing")
    parser.add_argument("--force", action="store_true", help="re-execute notebooks even if up to date")
    args = parser.parse_args(argv)
    overrides = parse_overrides(args.parameter)
    if args.command == "notebooks":
        root = repository_root()
        run_notebooks(load_profile(args.profile, overrides, root=root), root, only=args.only, force=args.force)
        return
    index = build_book(args.profile, overrides, only=args.only, force=args.force)
    print(f"[book] open {index}")


if __name__ == "__main__":
    main()
