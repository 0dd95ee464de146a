"""GenLab: an interactive dashboard for exploring generative models.

Run with ``make run`` (or ``streamlit run app.py``). Pages are thin: widgets → genlib calls → figures.
"""
from __future__ import annotations

import streamlit as st
import torch

# Streamlit's module watcher walks torch.classes and crashes on it; GenLab needs no hot reload of torch.
torch.classes.__path__ = []

from pages.presentation import presentation_toggle, presenting, shell_styles  # noqa: E402

# Presentation mode (?present=1, pages/presentation.py) starts with the sidebar folded away: the class sees the page.
st.set_page_config(page_title="GenLab", page_icon=":material/science:", layout="wide",
                   initial_sidebar_state="collapsed" if presenting() else "auto")
shell_styles()   # formulas that fit their box on every page; larger type in presentation mode

from genlib.access import redact_paths  # noqa: E402
from genlib.errors import UserError  # noqa: E402
from genlib.store import StoreError  # noqa: E402
from pages.common import job_manager, show_refusal, sidebar_job_monitor, whole_store  # noqa: E402
from pages.presentation import sidebar_navigation  # noqa: E402
from pages.identity import apply_mode, classroom_or_unsure, require_user, sidebar_identity  # noqa: E402

apply_mode()   # a classroom server shows no traceback or server path, from this line on

PAGES = {
    "GenLab": [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/train.py", title="Train", icon=":material/model_training:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/leaderboard:"),
        st.Page("pages/lorenz.py", title="Lorenz lab", icon=":material/cyclone:"),
        st.Page("pages/latent.py", title="Latent explorer", icon=":material/scatter_plot:"),
        st.Page("pages/density.py", title="Density", icon=":material/blur_on:"),
        st.Page("pages/anomaly.py", title="Anomalies", icon=":material/crisis_alert:"),
        st.Page("pages/simulator.py", title="Simulator fitting", icon=":material/tune:"),
        st.Page("pages/runs.py", title="Runs", icon=":material/folder_open:"),
        st.Page("pages/sources.py", title="Sources", icon=":material/menu_book:"),
    ],
}

from genlib.latent import warm_up_umap  # noqa: E402

warm_up_umap()  # umap's first import compiles with numba (10+ s): do it in a background thread at app start
# Hidden: GenLab draws its own navigation (below). With client.showSidebarNavigation = false (.streamlit/config.toml)
# the navigation Streamlit builds from pages/*.py on a fresh server's first run (module names: app, common, …) is
# hidden too, so the first paint never lists a module; the links below are the only navigation a visitor sees.
page = st.navigation(PAGES, position="hidden")
sidebar_navigation(PAGES)
presentation_toggle()
try:  # every page and the job monitor need the run store: an unusable GENLAB_HOME is one line, on every page
    store = whole_store()
    viewer = require_user(str(store.db_path))   # classroom: who this browser is (asks for a name the first time)
    job_manager()
except (StoreError, UserError) as exc:   # UserError: e.g. a GENLAB_MODE that is neither personal nor classroom
    text = redact_paths(str(exc)) if classroom_or_unsure() else str(exc)   # no server path to a class
    st.error(f"GenLab cannot start: {text}", icon=":material/error:")
    st.stop()
sidebar_identity(str(store.db_path))
sidebar_job_monitor()  # pages start jobs in button callbacks, which run before this line
show_refusal()         # a job a callback could not start (a fair-share limit): why, above the page
page.run()
