# The gateway on a slim Python 3.11 base, as an unprivileged user.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
# The product only: gateway/ and signing/ (bench/, tests/ and docs/ stay out; see .dockerignore).
COPY pyproject.toml README.md ./
COPY gateway ./gateway
COPY signing ./signing
RUN pip install '.[fast]' && useradd --system --uid 10001 --no-create-home gateway
COPY config/gateway.example.toml /etc/gateway/gateway.example.toml

USER gateway
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=5s --retries=3 \
    CMD python -c "import os,sys,urllib.request; port=os.environ.get('GATEWAY_PORT','8080'); sys.exit(urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=2).status != 200)"
CMD ["python", "-m", "gateway", "serve", "--host", "0.0.0.0"]
