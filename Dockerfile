# BPTT Lab: the wheel, built and installed as tests/packaging/test_wheel.py does
# (python -m build, then pip install of the wheel into a fresh virtual environment).
FROM python:3.11-slim

RUN useradd --create-home --uid 10001 bpttlab
ENV VENV=/opt/venv PATH=/opt/venv/bin:$PATH PYTHONDONTWRITEBYTECODE=1

# Dependencies first, so a code change does not reinstall them.
COPY pyproject.toml /src/
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('/src/pyproject.toml','rb'))['project']['dependencies']))" > /tmp/requirements.txt \
 && python -m venv $VENV && $VENV/bin/pip install --no-cache-dir -r /tmp/requirements.txt

COPY . /src
RUN python -m pip install --no-cache-dir build \
 && python -m build --outdir /tmp/dist /src \
 && $VENV/bin/pip install --no-cache-dir /tmp/dist/bpttlab-*.whl \
 && rm -rf /tmp/dist /src

USER bpttlab
WORKDIR /home/bpttlab
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s --retries=3 \
  CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/api/v1/health', timeout=2).status == 200 else 1)"]
CMD ["bpttlab", "serve", "--host", "0.0.0.0"]
