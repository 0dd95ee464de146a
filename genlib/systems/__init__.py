"""Dynamical systems, each defined once: equations, integrators and constants, importing no other genlib module.

`genlib.data` builds datasets from them and `genlib.dynamics` analyses them (Lyapunov exponents, equation fits,
chaos checks); both import from here, so neither needs the other for the equations.
"""
from __future__ import annotations
