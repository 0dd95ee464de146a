"""GenLab core: datasets, transforms, generative models, a background training engine, a run store and
metrics. Never imports Streamlit: everything a page does can be done from Python or ``python -m genlib``."""

__version__ = "0.1.0"
