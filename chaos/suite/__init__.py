"""Resilience suites: every experiment under some paths, one score, one exit code.

``discover`` finds the experiment files, ``schedule`` decides which may run
side by side, ``runner`` runs them through :func:`chaos.running.run`, ``score``
turns the verdicts into the resilience score and the exit code. The reports
(JUnit XML, Markdown) are rendered by :mod:`chaos.report`.
"""

from chaos.suite.result import CaseResult, CaseVerdict, ProbeFigures, SuiteResult
from chaos.suite.runner import run_suite

__all__ = ["CaseResult", "CaseVerdict", "ProbeFigures", "SuiteResult", "run_suite"]
