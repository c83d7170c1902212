"""Analyses over many claims: what a reform costs the funds (``impact``), how a platform's
settlements compare (``reconcile``), synthetic populations (``synthetic``), charts, and the
text views of impact and reconciliation reports.
"""
