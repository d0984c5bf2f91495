# One image for the API (default command) and the worker (`python -m worker.main`).
FROM python:3.11-slim
WORKDIR /app
COPY pyproject.toml devstack.py ./
COPY shared ./shared
COPY worker ./worker
COPY api ./api
RUN pip install --no-cache-dir . && useradd --create-home goalflow
USER goalflow
EXPOSE 8000
CMD ["uvicorn", "api.app:app", "--host", "0.0.0.0", "--port", "8000"]
