FROM python:3.12-slim
RUN pip install --no-cache-dir poetry==1.8.3
COPY pyproject.toml poetry.lock ./
RUN poetry install --only main && rm -rf ~/.cache/pypoetry
