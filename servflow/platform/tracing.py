"""OpenTelemetry tracing, off by default (settings.tracing): one trace follows an order's
request from the API through the Temporal client to the workflow and its activities.

The API opens a server span per request (api.metrics) and its Temporal client carries
temporalio.contrib.opentelemetry's TracingInterceptor, which puts the span context into
the workflow's headers; the worker's client carries the same interceptor, so the
workflow's and each activity's spans join that trace. Spans are exported by the
OpenTelemetry SDK: "console" writes one JSON object per span to stderr (next to the JSON
logs), "otlp" sends them to settings.tracing_endpoint (needs the
opentelemetry-exporter-otlp-proto-http package).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from temporalio.client import Client

from servflow.platform.settings import Settings

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

_configured: dict[str, Any] = {}


def tracing_on(settings: Settings) -> bool:
    return settings.tracing != "off"


def _exporter(settings: Settings) -> SpanExporter:
    if settings.tracing == "otlp":
        try:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import (  # type: ignore[import-not-found]
                OTLPSpanExporter,
            )
        except ImportError as exc:  # an optional package: say which
            raise RuntimeError(
                "SERVFLOW_TRACING=otlp needs opentelemetry-exporter-otlp-proto-http installed"
            ) from exc
        return OTLPSpanExporter(endpoint=settings.tracing_endpoint or None)  # type: ignore[no-any-return]
    from opentelemetry.sdk.trace.export import ConsoleSpanExporter

    return ConsoleSpanExporter(
        out=sys.stderr, formatter=lambda span: span.to_json(indent=None) + "\n"
    )


def configure_tracing(
    settings: Settings, service: str, *, exporter: SpanExporter | None = None
) -> TracerProvider | None:
    """Installs this process's tracer provider (once; None when tracing is off).

    Args:
        settings: `tracing` ("off", "console", "otlp") and `tracing_endpoint`.
        service: the service.name spans carry ("servflow-api", "servflow-worker").
        exporter: where spans go instead of the settings' choice (tests).
    """
    if not tracing_on(settings) and exporter is None:
        return None
    if "provider" in _configured:
        return _configured["provider"]  # type: ignore[no-any-return]
    from opentelemetry import trace
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": service}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    else:
        provider.add_span_processor(BatchSpanProcessor(_exporter(settings)))
    trace.set_tracer_provider(provider)
    _configured["provider"] = provider
    return provider


def traced(client: Client, settings: Settings, *, force: bool = False) -> Client:
    """`client` with the TracingInterceptor when tracing is on (`force`: whatever the
    settings say), else `client` itself. A worker built on the returned client traces its
    workflows and activities too (the interceptor is also a worker interceptor)."""
    if not (force or tracing_on(settings)):
        return client
    from temporalio.contrib.opentelemetry import TracingInterceptor

    config = client.config()
    config["interceptors"] = [*config["interceptors"], TracingInterceptor()]
    return Client(**config)
