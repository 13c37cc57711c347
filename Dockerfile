# One image, two commands (Cloud Run or any container host; docs/deploy.md):
#   web:    jetstream serve --host 0.0.0.0     (the default; listens on $PORT, 8080 if unset)
#   worker: jetstream worker --workers 2
# Nothing is written inside the image: jobs live in PostgreSQL (JETSTREAM_JOB_STORE), results in
# gs:// (JETSTREAM_RESULTS_DIR), scratch trees under /tmp; secrets come from Secret Manager.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY bot ./bot
COPY schemas ./schemas
COPY experiments ./experiments
COPY outcomes ./outcomes
RUN python -m venv /opt/venv && /opt/venv/bin/pip install .

# The default branch's configs baked in are what the daily run analyses; merges fetch their own.
ENV PATH=/opt/venv/bin:$PATH JETSTREAM_CONFIG_ROOT=/app JETSTREAM_WORK_DIR=/tmp/jetstream-work
RUN useradd --system --uid 10001 --no-create-home jetstream
USER jetstream

EXPOSE 8080
ENTRYPOINT ["jetstream"]
CMD ["serve", "--host", "0.0.0.0"]
