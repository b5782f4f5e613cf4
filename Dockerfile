# BPTT Lab: the same install step as the README's `make serve` (make install).
FROM python:3.11-slim

RUN apt-get update \
 && apt-get install -y --no-install-recommends make \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --create-home --uid 10001 bpttlab

WORKDIR /app
ENV VENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml Makefile ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && python -m venv $VENV && $VENV/bin/pip install --no-cache-dir -r /tmp/requirements.txt

COPY . .
RUN make install VENV=$VENV && chown -R bpttlab /app

USER bpttlab
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=2).status == 200 else 1)"]
CMD ["bpttlab", "serve", "--host", "0.0.0.0"]
