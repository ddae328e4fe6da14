"""The command line: click commands by area, and ui.py for everything drawn on the terminal."""
