# The Swarm lab's node image (Docker engine on Debian), for machines that can
# reach a registry. Without one, `chaosdrill images build` makes the same image
# with debootstrap. Run it with /var/lib/docker on a volume (the lab mounts a
# named one per node); there is no VOLUME here because watchdogs also run this
# image for its docker CLI.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends docker.io iptables iproute2 procps ca-certificates curl \
 && rm -rf /var/lib/apt/lists/*
LABEL chaosdrill.image=swarm-node
CMD ["dockerd"]
