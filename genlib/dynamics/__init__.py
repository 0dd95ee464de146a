"""Analysis of dynamical systems: simulate Lorenz-63 in the lab, measure chaos (Lyapunov exponents), fit equations.

The system itself (equations, integrators, constants) is defined in :mod:`genlib.systems.lorenz`; its names are
re-exported here for convenience.
"""
from __future__ import annotations

from genlib.dynamics.lorenz import (
    METHODS,
    DynamicsError,
    Trajectory,
    separation,
    simulate,
)
from genlib.dynamics.lyapunov import (
    BenettinResult,
    RosensteinResult,
    benettin,
    benettin_rhs,
    delay_embed,
    lyapunov_by_coordinate,
    rosenstein,
)
from genlib.systems.lorenz import (
    BETA,
    LYAPUNOV_REFERENCE,
    RHO,
    SIGMA,
    LorenzError,
    lorenz_derivative,
    on_attractor,
    step_euler,
    step_rk4,
)

__all__ = [
    "BETA",
    "LYAPUNOV_REFERENCE",
    "METHODS",
    "RHO",
    "SIGMA",
    "BenettinResult",
    "DynamicsError",
    "LorenzError",
    "RosensteinResult",
    "Trajectory",
    "benettin",
    "benettin_rhs",
    "delay_embed",
    "lorenz_derivative",
    "lyapunov_by_coordinate",
    "on_attractor",
    "rosenstein",
    "separation",
    "simulate",
    "step_euler",
    "step_rk4",
]
