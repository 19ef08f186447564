"""Game days: drills run on a schedule from a game day file.

This package keeps what a schedule needs to run safely: the history of
every fire (``history``), the locks that keep one daemon per file and one
drill at a time (``locks``), and the events announced to people
(``events``, ``notify``, ``webhook``).
"""
