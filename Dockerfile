# One image for the API (default command) and the worker (`python -m worker.main`).
FROM python:3.11-slim
ENV PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY pyproject.toml devstack.py ./
COPY shared ./shared
COPY worker ./worker
COPY api ./api
# The build leaves build/ and an egg-info in /app, on the path of every process.
RUN pip install --no-cache-dir . && rm -rf build *.egg-info \
    && useradd --create-home --uid 10001 goalflow
USER goalflow
EXPOSE 8000
# With API keys required (GOALFLOW_AUTH on, the default): off, it refuses 0.0.0.0.
CMD ["python", "-m", "api", "--host", "0.0.0.0", "--port", "8000"]
