"""bench: what test-time compute buys in a diffusion model, and what it costs."""

__version__ = "0.1.0"
