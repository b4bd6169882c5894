# loadkit's container image: `loadkit` as the entrypoint, for `loadkit k8s` manifests (master:
# `loadkit run FILE --master ...`, workers: `loadkit worker --master-host ...`) or plain
# `docker run`. Build and push (no registry is assumed; the manifests' default is loadkit:0.1.0):
#   docker build -t registry.example.com/team/loadkit:0.1.0 .
#   docker push registry.example.com/team/loadkit:0.1.0
#   loadkit k8s scenarios/reference.yaml --image registry.example.com/team/loadkit:0.1.0 ...
#
# Base: python:3.11-slim rather than locustio/locust:2.47.x. loadkit pins Locust itself
# (pyproject.toml: locust>=2.47,<2.48), and master and workers run this same image, so they
# always share one Locust version, which is what Locust requires. The Locust image would bring
# its own entrypoint (`locust`), user and a second copy of the dependencies for pip to reconcile
# with ours; the slim image is smaller and plainly Debian (tar, which `kubectl cp` needs, included).
# Every dependency (gevent, pyzmq, numpy, pandas, matplotlib, psutil) installs from a wheel on
# amd64 and arm64: no compiler in either stage.

FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml README.md ./
COPY src ./src
# A wheel, not an editable install: the final image holds the package, not the source tree.
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    MPLCONFIGDIR=/tmp/matplotlib
COPY --from=build /wheels /wheels
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && useradd --uid 10001 --user-group --no-create-home --home-dir /work --shell /usr/sbin/nologin loadkit \
    && mkdir /work && chown loadkit:loadkit /work
# A numeric user, so Kubernetes can check runAsNonRoot (the manifests set runAsUser 10001 too).
USER 10001:10001
WORKDIR /work
ENTRYPOINT ["loadkit"]
CMD ["--help"]
