# chaosdrill itself, for running the game day scheduler in a container
# (docs/gameday/compose.yaml). Build from the repository root:
#   docker build -f images/chaosdrill.Dockerfile -t chaosdrill/chaosdrill:local .
FROM python:3.12-slim
WORKDIR /src
COPY pyproject.toml README.md ./
COPY chaos ./chaos
COPY probes ./probes
RUN pip install --no-cache-dir . && rm -rf /src
WORKDIR /drills
ENTRYPOINT ["chaosdrill"]
CMD ["--help"]
