"""Dynamical systems: integrate Lorenz-63 and measure chaos (Lyapunov exponents)."""
from __future__ import annotations

from genlib.dynamics.lorenz import (
    BETA,
    LYAPUNOV_REFERENCE,
    METHODS,
    RHO,
    SIGMA,
    DynamicsError,
    Trajectory,
    lorenz_derivative,
    on_attractor,
    separation,
    simulate,
    step_euler,
    step_rk4,
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
