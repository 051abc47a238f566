"""Generators: text-to-image models driven from a given noise, differentiably."""

from bench.generators.base import Cond, Generator, generator, generators, load_generator

__all__ = ["Cond", "Generator", "generator", "generators", "load_generator"]
