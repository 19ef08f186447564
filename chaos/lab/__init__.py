"""The local Swarm lab: Docker-in-Docker nodes forming a real multi-node swarm.

* :mod:`chaos.lab.lab`: ``up``, ``status``, ``load``, ``down`` and the lab's
  inventory (what ``chaosdrill lab ...`` calls);
* :mod:`chaos.lab.nodes`: one node: its container, addresses, engine, images;
* :mod:`chaos.lab.tls`: the lab's CA and the certificates of its engines and clients;
* :mod:`chaos.lab.control`: the ``lab`` node controller (stop, pause, isolate);
* :mod:`chaos.lab.stack`: the demo services the swarm examples run against.
"""
