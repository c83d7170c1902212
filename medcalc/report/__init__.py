"""What people read, for the command line and the web service alike: a quote's breakdown and
its steps (``render``), amounts, widths and tables for a terminal (``display``, ``layout``,
``terminal``), and the summary of a scored file (``score_summary``).
"""
