"""The local Swarm lab: Docker-in-Docker nodes forming a real multi-node swarm."""
