"""Mitigations of reward tampering (docs/mitigations.md): agent kinds whose feedback is changed
so that tampering with the training signal stops paying.

One module per mitigation (its knobs, set-up, learning step and ``VARIANT``); ``common`` holds
the bundle and the learning step they share, ``dispatch`` the kernel traits that pick a
mitigation's code by its mode. The anchored flag (``agent.kind = "flagged"`` with
``flag_rule = "anchored"``) is the baseline they are compared with.
"""
