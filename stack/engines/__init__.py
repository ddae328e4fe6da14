"""Engines: the one seam between the control plane and a container engine (Compose first)."""
