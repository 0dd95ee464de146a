"""``python -m genlib``: the app's functions from the command line, without Streamlit.

- :mod:`.main`: the parser, ``main()`` and the sub-commands datasets, models, train, sample, evaluate, runs;
- :mod:`.lorenz`: ``genlib lorenz simulate|lyapunov|fit``; :mod:`.anomaly`: ``genlib score``.

Heavy libraries (torch, scikit-learn) are imported inside the commands, so ``--help`` stays fast.
"""
from genlib.cli.main import main

__all__ = ["main"]
