"""JupyterLab and Voilà over the chapters: ``make lab``, ``make voila CHAPTER=10_explorer``.

``python -m corrrelax_lib.book.interactive lab`` starts JupyterLab and ``... voila 10_explorer`` serves one
chapter with Voilà, on 127.0.0.1 over this checkout, with the repository's Jupyter settings (``jupyter/``)
first on Jupyter's config and data paths (``JUPYTER_CONFIG_PATH``, ``JUPYTER_PATH``), never in the user's home:

- ``jupyter/jupyter_server_config.py``: JupyterLab reads its settings overrides from ``jupyter/lab/settings/``
  (``overrides.json``: a ``.py`` file opens as a Jupytext notebook); Voilà renders ``.py`` files (which
  jupytext's contents manager reads as notebooks) with the ``corrrelax`` template.
- ``jupyter/voila/templates/corrrelax/``: Voilà's ``lab`` template without its Font Awesome stylesheets from a
  CDN (Voilà's own scripts bundle Font Awesome), so a chapter renders offline.
- ``jupyter/kernels/python3/``: the kernel that the chapters' headers name (``python3``, "Python 3"), run by
  this Python. With ``[tool.jupytext]`` in ``pyproject.toml`` (no version stamps in the header), a chapter
  saved from JupyterLab keeps its text.

Voilà runs as a Jupyter Server extension (``/voila/render/notebooks/<chapter>.py``) rather than as the
``voila`` command, whose contents manager is fixed and does not know jupytext: ``voila notebooks/x.py``
would serve the chapter as a file (403, not allowlisted) or as one code cell.

Example:
    >>> command = voila_command("10_explorer", port=8866)  # doctest: +SKIP
    >>> subprocess.Popen(command, env=jupyter_environment())  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from corrrelax_lib.paths import repository_root

#: The repository's Jupyter config and data folder.
JUPYTER_DIR = repository_root() / "jupyter"
#: The only address the servers listen on.
LOOPBACK = "127.0.0.1"


def jupyter_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """``environ`` (default: this process's) with :data:`JUPYTER_DIR` first on Jupyter's config and data paths."""
    environ = dict(os.environ if environ is None else environ)
    for variable in ("JUPYTER_CONFIG_PATH", "JUPYTER_PATH"):
        environ[variable] = os.pathsep.join(filter(None, [str(JUPYTER_DIR), environ.get(variable)]))
    return environ


def chapter_path(chapter: str, root_dir: Path | None = None) -> Path:
    """``notebooks/<chapter>.py`` relative to ``root_dir`` (default: the checkout), e.g. for ``"10_explorer"``.

    Raises:
        FileNotFoundError: there is no such chapter; the message lists the chapters.
    """
    root_dir = root_dir or repository_root()
    path = Path("notebooks") / f"{Path(chapter).stem}.py"
    if not (root_dir / path).is_file():
        chapters = ", ".join(sorted(source.stem for source in (root_dir / "notebooks").glob("*.py")))
        raise FileNotFoundError(f"no chapter {chapter!r} in {root_dir / 'notebooks'}; the chapters: {chapters}")
    return path


def lab_command(*, port: int, root_dir: Path | None = None, token: str | None = None) -> list[str]:
    """Command line of JupyterLab over ``root_dir`` (default: the checkout) on 127.0.0.1:``port``.

    ``token`` is the server's token (default: Jupyter makes one and prints the URL with it). Run it with
    :func:`jupyter_environment`.
    """
    return _server_command("jupyterlab", port=port, root_dir=root_dir, token=token)


def voila_command(chapter: str, *, port: int, root_dir: Path | None = None, token: str | None = None) -> list[str]:
    """Command line of a Jupyter server on 127.0.0.1:``port`` whose start page is ``chapter`` in Voilà.

    The chapter is rendered at :func:`voila_url`; ``root_dir`` and ``token`` as for :func:`lab_command`.

    Raises:
        FileNotFoundError: there is no such chapter.
    """
    url = voila_url(chapter_path(chapter, root_dir))
    return _server_command("jupyter_server", port=port, root_dir=root_dir, token=token,
                           options=[f"--ServerApp.default_url={url}"])


def voila_url(path: Path) -> str:
    """The URL path where Voilà renders the notebook at ``path`` (relative to the server's root)."""
    return f"/voila/render/{path.as_posix()}"


def _server_command(module: str, *, port: int, root_dir: Path | None, token: str | None,
                    options: list[str] | None = None) -> list[str]:
    """``python -m <module>`` listening on 127.0.0.1:``port`` only, serving ``root_dir``, opening no browser."""
    command = [sys.executable, "-m", module, f"--ServerApp.root_dir={root_dir or repository_root()}",
               f"--ServerApp.ip={LOOPBACK}", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
               "--ServerApp.open_browser=False", *(options or [])]
    if token is not None:
        command.append(f"--IdentityProvider.token={token}")
    if os.geteuid() == 0:  # Jupyter refuses to run as root unless told
        command.append("--ServerApp.allow_root=True")
    return command


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m corrrelax_lib.book.interactive``: replaces this process by the server."""
    parser = argparse.ArgumentParser(prog="python -m corrrelax_lib.book.interactive",
                                     description="JupyterLab or Voilà over the chapters, on 127.0.0.1.")
    apps = parser.add_subparsers(dest="app", required=True)
    lab = apps.add_parser("lab", help="JupyterLab over the checkout: open notebooks/<chapter>.py")
    lab.add_argument("--port", type=int, default=8888, help="port on 127.0.0.1 (default: 8888)")
    voila = apps.add_parser("voila", help="one chapter in Voilà")
    voila.add_argument("chapter", help="the chapter's name, e.g. 10_explorer")
    voila.add_argument("--port", type=int, default=8866, help="port on 127.0.0.1 (default: 8866)")
    args = parser.parse_args(argv)
    try:
        command = lab_command(port=args.port) if args.app == "lab" else voila_command(args.chapter, port=args.port)
    except FileNotFoundError as error:
        parser.exit(1, f"{error}\n")
    os.execve(command[0], command, jupyter_environment())


if __name__ == "__main__":
    main()
