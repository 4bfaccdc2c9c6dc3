# target: alpine
# warning: line 5: pip on musl: packages without musllinux wheels build from source (needs build-base and -dev packages) or fail
# warning: LANG/LC_* are set: musl's locale support differs from glibc's (collation, formats)
# warning: musl's DNS resolver differs from glibc's (no per-query search-domain fallback of the same kind, TCP only since musl 1.2.4): test name resolution of services
FROM python:3.12-alpine
RUN apk add --no-cache postgresql-dev gcc
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
ENV LANG=C.UTF-8
CMD ["gunicorn", "-b", "0.0.0.0:8000", "app:app"]
