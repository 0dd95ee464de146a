"""`import genlib` as a notebook user meets it: an installable package whose façade does the common things in a
few lines (each function's docstring example runs as a doctest of the suite; this file checks the rest)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import genlib

ROOT = Path(__file__).resolve().parents[1]


def test_the_readme_notebook_example_runs_as_written() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## From Python or a notebook", 1)[1].split("```python", 1)[1].split("```", 1)[0]
    lines = [line for line in block.strip().splitlines() if line.strip()]
    assert len(lines) <= 5, "the README promises a five-line example"
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)   # noqa: S102 - the README's own code
    fake, data = namespace["fake"], namespace["data"]
    assert fake.shape == (1000, 4) and np.all(np.isfinite(fake)) and np.all(fake >= 0)
    scores = genlib.evaluate(data.test, fake)
    # The trained VAE must beat a model that knows nothing: columns shuffled across rows keep the marginals
    # (AD stays low) but destroy the dependence, which the Kendall error sees.
    shuffled = np.column_stack([np.random.default_rng(0).permutation(fake[:, j]) for j in range(fake.shape[1])])
    assert scores["kendall_error"] < genlib.evaluate(data.test, shuffled)["kendall_error"]


def test_import_genlib_is_instant_and_loads_no_torch() -> None:
    code = "import sys, genlib; print('torch' in sys.modules, sorted(genlib.__all__))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=120)
    loaded, names = out.stdout.split(" ", 1)
    assert loaded == "False", "the façade is imported on first use, not by `import genlib`"
    for name in ("load_dataset", "fit", "sample", "log_likelihood", "evaluate", "save_run", "load_run", "open_store"):
        assert name in names


def test_a_model_without_a_density_is_told_so() -> None:
    gan = genlib.fit("gan", genlib.load_dataset("toy2d", n=300), steps=5)
    with pytest.raises(genlib.api.ModelError, match="gan defines no density"):
        genlib.log_likelihood(gan, np.zeros((5, 2)))


def test_load_run_reads_a_stored_run_by_id(genlab_home) -> None:
    from genlib.cli import main
    assert main(["train", "--model", "gaussian", "--data", "finance", "--out", str(genlab_home / "r"), "--quiet"]) == 0
    (record,) = genlib.open_store().list()
    assert genlib.load_run(record.id).sample(3, seed=0).shape == (3, 4)


def test_the_wheel_holds_genlib_only(tmp_path) -> None:
    """`pip install .` must not install pages/, tests/ or assets/ as top-level packages (it used to fail outright
    on the flat layout)."""
    src = tmp_path / "src"  # a copy of the checkout's top level, so the build leaves nothing in the checkout
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(".git", ".venv", "__pycache__", "*.egg-info", "build",
                                                             ".pytest_cache", "runs", ".genlab"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
                            "-q", "-w", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("genlab-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"genlib", next(t for t in tops if re.fullmatch(r"genlab-[\d.]+\.dist-info", t))}
    entry = zipfile.ZipFile(wheel).read(next(n for n in zipfile.ZipFile(wheel).namelist()
                                             if n.endswith("entry_points.txt"))).decode()
    assert "genlib = genlib.cli:main" in entry


def test_every_facade_function_has_an_example_the_suite_runs() -> None:
    import doctest
    for name in genlib.__all__:
        if name == "__version__":
            continue
        examples = doctest.DocTestFinder().find(getattr(genlib, name), name)[0].examples
        assert examples, f"genlib.{name} has no docstring example"
