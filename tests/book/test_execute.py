"""papermill execution: parameters injected, up-to-date notebooks skipped, failures leave nothing behind."""

from __future__ import annotations

import nbformat
import papermill
import pytest

from corrrelax_lib.book.execute import execute_notebook

SOURCE = '''# %% tags=["parameters"]
seed = 0
fail = False

# %%
if fail:
    raise ValueError("cell failed on purpose")
print(f"seed={seed}")
'''


@pytest.fixture
def notebook(tmp_path):
    source = tmp_path / "01_example.py"
    source.write_text(SOURCE)
    library = tmp_path / "lib"
    library.mkdir()
    (library / "module.py").write_text("VALUE = 1\n")
    return source, tmp_path / "out" / "01_example.ipynb", library


def run(notebook, parameters, force=False, settings=None):
    source, output, library = notebook
    return execute_notebook(source, output, parameters, settings=settings or {}, cwd=source.parent,
                            library_root=library, force=force)


def outputs(path) -> str:
    cells = nbformat.read(path, as_version=4).cells
    return "".join(out.get("text", "") for cell in cells for out in cell.get("outputs", []))


def test_parameters_are_injected_and_unknown_ones_ignored(notebook):
    assert run(notebook, {"seed": 7, "not_declared": 1})
    assert "seed=7" in outputs(notebook[1])


def test_up_to_date_notebook_is_not_executed_again(notebook):
    assert run(notebook, {"seed": 1})
    assert not run(notebook, {"seed": 1, "not_declared": 2})  # only declared parameters count
    assert run(notebook, {"seed": 2})
    assert run(notebook, {"seed": 2}, force=True)
    (notebook[2] / "module.py").write_text("VALUE = 2\n")  # library changed
    assert run(notebook, {"seed": 2})
    assert run(notebook, {"seed": 2}, settings={"correlax": {"n_masks": 64}})  # the study's settings changed
    assert not run(notebook, {"seed": 2}, settings={"correlax": {"n_masks": 64}})


def test_failing_cell_raises_and_leaves_no_output(notebook):
    with pytest.raises(papermill.PapermillExecutionError, match="cell failed on purpose"):
        run(notebook, {"fail": True})
    assert not notebook[1].exists()
    assert list(notebook[1].parent.iterdir()) == []


def test_failure_keeps_the_previous_good_output(notebook):
    assert run(notebook, {"seed": 3})
    with pytest.raises(papermill.PapermillExecutionError):
        run(notebook, {"fail": True})
    assert "seed=3" in outputs(notebook[1])
