"""Contracts and the small kernel every recovery service shares.

Services import from here; they never import from one another.
"""
