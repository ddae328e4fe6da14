"""What the commands do: bring the stack up (an explicit step list), wait for readiness, check
ports, pull images, back up, restore, update, rotate, and the after-ready setup of each service.

ops uses services, render, engines, config and doctor; it never prints by itself: every line
for the user goes through the `Ui` it is handed (stack.ops.events), which the CLI implements.
"""
