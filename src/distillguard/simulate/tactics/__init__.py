"""Red-team tactics: evasive campaign behaviour and the legitimate traffic that resembles it.

Each tactic is a knob of ``Campaign`` or ``Population`` (``scenario.py``), off by default, so
the built-in scenarios are unchanged. See docs/simulator.md and docs/redteam.md.
"""
