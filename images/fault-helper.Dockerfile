# The fault helper image (proxy and HTTP faults, stress-ng), for machines that
# can reach a registry. Without one, `chaosdrill images build` makes the same
# image with debootstrap.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 stress-ng iptables iproute2 procps \
 && rm -rf /var/lib/apt/lists/*
LABEL chaosdrill.image=fault-helper
CMD ["sleep", "infinity"]
