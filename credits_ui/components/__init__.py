"""Widgets shared by several pages: chip, errors, insufficient-credits block, export, demo controls."""
