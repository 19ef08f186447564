"""``chaosdrill init``: a first experiment written from the containers that run.

:mod:`~chaos.scaffold.model` holds the facts (what each container exposes) and
groups them into services; :mod:`~chaos.scaffold.draft` turns them into an
experiment's text, with comments, and never touches an engine;
:mod:`~chaos.scaffold.inspect` reads the facts from the engine.
"""
