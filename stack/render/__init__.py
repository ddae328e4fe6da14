"""Rendering: `context` builds what templates see (from settings and service records), `files`
renders everything into memory and writes only what changed."""
