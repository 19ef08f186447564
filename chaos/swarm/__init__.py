"""Docker Swarm: the inventory of a swarm's nodes, connections to their engines,
and how a node is stopped, paused or isolated (node controllers)."""
