"""The built-in world: coloured shapes on a plain background, small enough for a CPU.

``scene`` draws scenes, ``language`` speaks about them in GenEval's phrasing, ``detector``
reads them back exactly, and ``model`` / ``clip`` hold the tiny generator and reward that
the project trains on them (weights under ``weights/``).
"""
