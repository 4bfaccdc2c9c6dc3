# target: slim
# warning: a -slim base lacks compilers, -dev headers, man pages and some tools of the full image
FROM python:3.12-slim
RUN apt-get update && apt-get install -y libpq-dev gcc && apt-get clean && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV LANG=C.UTF-8
CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]
