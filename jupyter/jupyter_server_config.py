"""The book's Jupyter settings, read by `make lab` and `make voila` (corrrelax_lib/book/interactive.py)."""

from pathlib import Path

c = get_config()  # noqa: F821 (defined by traitlets for config files)
here = Path(__file__).resolve().parent

# JupyterLab's settings overrides: lab/settings/overrides.json opens `.py` files as Jupytext notebooks.
c.LabApp.app_settings_dir = str(here / "lab" / "settings")

# Voilà renders the `.py` chapters (jupytext's contents manager reads them as notebooks) with the template of
# voila/templates/corrrelax (no stylesheet from a CDN) and shows a failing cell's traceback.
c.VoilaConfiguration.extension_language_mapping = {".py": "python"}
c.VoilaConfiguration.template = "corrrelax"
c.VoilaConfiguration.show_tracebacks = True
# Jupytext's JupyterLab extension cannot load in Voilà's page (it logs a console error); Voilà needs none of it.
c.VoilaConfiguration.extension_denylist = ["jupyterlab-jupytext"]
# "null" makes Voilà's page typeset with the MathJax 3 it bundles instead of loading MathJax 2 from a CDN.
c.ServerApp.tornado_settings = {"mathjax_url": "null", "mathjax_config": "null"}
