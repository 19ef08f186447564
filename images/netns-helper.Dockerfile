# The network helper image, for machines that can reach a registry.
# Without one, `chaosdrill images build` makes the same image with debootstrap.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends iptables iproute2 curl ca-certificates procps \
 && rm -rf /var/lib/apt/lists/*
LABEL chaosdrill.image=netns-helper
CMD ["sleep", "infinity"]
