"""Game days: drills (experiments and suites) fired on a schedule from a game day file.

The schedule's logic is pure (no engine, no clock of its own): ``model`` is
the file's format, ``clock`` reads wall-clock times in the file's zone,
``calendar`` holds windows and blackout, ``fires`` the raw schedule of each
drill (``trigger`` hands it to APScheduler), ``admission`` whether a fire may
go ahead given what already ran, ``catchup`` what to do about fires missed
while no scheduler ran, and ``plan`` simulates the next fires. ``loader``
reads a file and reports its problems at ``FILE:LINE:COL``.

What a schedule needs to run safely: the history of every fire
(``history``), the locks that keep one daemon per file and one drill at a
time (``locks``), running one drill (``drill``), and the events announced to
people (``events``, ``notify``, ``webhook``).
"""
