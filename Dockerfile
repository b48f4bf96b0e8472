# One image for the worker and the API (docker-compose.yml picks the command).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
# The `servflow` command (docker compose run api servflow migrate), editable: code and data
# stay in /app.
RUN pip install --no-cache-dir --no-deps -e . && rm -rf servflow.egg-info
RUN useradd --system servflow && chown -R servflow /app
USER servflow
ENV PYTHONUNBUFFERED=1
CMD ["python", "worker.py"]
