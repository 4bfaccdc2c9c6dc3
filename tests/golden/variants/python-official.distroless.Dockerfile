# target: distroless
# warning: gcr.io/distroless/python3-debian12 sets its own ENTRYPOINT; reset so CMD runs as in the original
# warning: distroless has no package manager: libpq5 must come from the base
FROM python:3.12 AS builder
RUN apt-get update && apt-get install -y libpq-dev gcc && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV LANG=C.UTF-8
CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]

# runtime stage added by imgopt: only what the program needs to run
FROM gcr.io/distroless/python3-debian12
ENTRYPOINT []
ENV LANG=C.UTF-8
COPY --from=builder /app /app
COPY --from=builder /usr/local/lib/python3.12/site-packages /usr/local/lib/python3.12/site-packages
COPY --from=builder /usr/local/bin /usr/local/bin
WORKDIR /app
CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]
USER 65532:65532
