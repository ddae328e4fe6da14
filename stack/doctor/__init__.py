"""`start.py doctor`: what this machine has, what will get in the way of the stack, and which models fit.

probes (the one look at the machine) -> gpu -> advice (models, context) -> checks (all findings);
hardware is the pure arithmetic under advice. Nothing here imports ops or the CLI.
"""
