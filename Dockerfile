# One image for the worker and the API (docker-compose.yml picks the command).
FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY . .
RUN useradd --system servflow && chown -R servflow /app
USER servflow
ENV PYTHONUNBUFFERED=1
CMD ["python", "worker.py"]
