FROM ubuntu:22.04 AS base
RUN apt-get update && apt-get install -y --no-install-recommends python3 && apt-get clean && rm -rf /var/lib/apt/lists/*

FROM base AS final
COPY app.py /app.py
CMD ["python3", "/app.py"]
