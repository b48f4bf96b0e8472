"""Demand forecast per part × region from the consumption journal (Holt-Winters
exponential smoothing, statsmodels), the safety level it suggests, and its backtest error
against a seasonal-naive baseline on the same history."""

from __future__ import annotations

import math
import statistics
import warnings
from collections.abc import Sequence
from datetime import datetime, timedelta

from pydantic import BaseModel
from sqlalchemy.orm import Session

from servflow.inventory import repo
from servflow.org import service as org
from servflow.platform.base import utcnow
from servflow.platform.errors import invalid_field

WEEKS_OF_HISTORY = 104
SEASON_WEEKS = 52
SERVICE_Z = 1.65
"""The normal quantile of a 95% cycle service level."""


class Backtest(BaseModel):
    """Errors on the held-out tail: the model's and the seasonal-naive baseline's."""

    holdout: int
    mape: float | None
    smape: float
    baseline_smape: float


class ForecastPublic(BaseModel):
    sku: str
    region: str
    history_weeks: int
    weekly_history: list[int]
    weekly_forecast: list[float]
    method: str
    suggested_safety_level: int
    lead_time_weeks: float
    backtest: Backtest | None


def weekly_series(times: Sequence[tuple[datetime, int]], *, end: datetime, weeks: int) -> list[int]:
    """Units per week for the `weeks` weeks ending at `end`, oldest first."""
    series = [0] * weeks
    start = end - timedelta(weeks=weeks)
    for at, qty in times:
        if start <= at < end:
            series[min(weeks - 1, int((at - start) / timedelta(weeks=1)))] += qty
    return series


def fit_forecast(series: Sequence[float], *, season: int, horizon: int) -> tuple[list[float], str]:
    """The next `horizon` values: additive Holt-Winters when the history holds two full
    seasons, Holt's linear trend when it holds at least four points, else the mean."""
    values = [float(v) for v in series]
    if len(values) < 4 or not any(values):
        mean = statistics.fmean(values) if values else 0.0
        return [mean] * horizon, "mean"
    from statsmodels.tsa.holtwinters import ExponentialSmoothing

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if len(values) >= 2 * season:
            model = ExponentialSmoothing(
                values,
                trend="add",
                seasonal="add",
                seasonal_periods=season,
                initialization_method="estimated",
            )
            method = f"holt-winters (additive, season {season})"
        else:
            model = ExponentialSmoothing(values, trend="add", initialization_method="estimated")
            method = "holt (additive trend)"
        fitted = model.fit()
        forecast = [max(0.0, float(v)) for v in fitted.forecast(horizon)]
    return forecast, method


def _smape(actual: Sequence[float], predicted: Sequence[float]) -> float:
    terms = [
        0.0 if a == p == 0 else 2 * abs(a - p) / (abs(a) + abs(p))
        for a, p in zip(actual, predicted, strict=True)
    ]
    return round(100 * statistics.fmean(terms), 2)


def _mape(actual: Sequence[float], predicted: Sequence[float]) -> float | None:
    pairs = [(a, p) for a, p in zip(actual, predicted, strict=True) if a]
    if not pairs:
        return None
    return round(100 * statistics.fmean(abs(a - p) / abs(a) for a, p in pairs), 2)


def backtest(series: Sequence[float], *, season: int, holdout: int) -> Backtest | None:
    """Fits on all but the last `holdout` points and scores the forecast of those, beside
    the seasonal-naive forecast (the same period one season earlier)."""
    if len(series) < holdout + max(4, season):
        return None
    train, test = list(series[:-holdout]), list(series[-holdout:])
    predicted, _ = fit_forecast(train, season=season, horizon=holdout)
    naive = [train[len(train) - season + (i % season)] for i in range(holdout)]
    return Backtest(
        holdout=holdout,
        mape=_mape(test, predicted),
        smape=_smape(test, predicted),
        baseline_smape=_smape(test, naive),
    )


def safety_level(
    forecast: Sequence[float], history: Sequence[float], lead_time_weeks: float
) -> int:
    """Demand over the lead time plus `SERVICE_Z` standard deviations of weekly demand
    over it: what covers the lead time 95% of the time."""
    weekly = statistics.fmean(forecast) if forecast else 0.0
    sigma = statistics.pstdev(history) if len(history) > 1 else 0.0
    return math.ceil(weekly * lead_time_weeks + SERVICE_Z * sigma * math.sqrt(lead_time_weeks))


def forecast_part(
    session: Session,
    *,
    scope_path: str | None,
    sku: str,
    region: str | None,
    horizon_weeks: int = 4,
    now: datetime | None = None,
) -> ForecastPublic:
    """The forecast of `sku` in `region` (a region code or name within the caller's scope;
    every region when None, HQ only)."""
    part = repo.get_part_by_sku(session, sku=sku)
    if part is None:
        raise invalid_field("sku", f"no part '{sku}'")
    warehouse_ids: list[int] | None = None
    lead_hours = 24
    if region:
        unit = org.region_in_scope(session, code_or_name=region, scope_path=scope_path)
        stores, _ = repo.page_warehouses(
            session,
            region_ids=org.unit_ids_in_scope(scope_path=unit.path),
            limit=10_000,
            offset=0,
        )
        warehouse_ids = [w.id for w in stores]
        if stores:
            lead_hours = max(w.lead_time_hours for w in stores)
    elif scope_path is not None:
        raise invalid_field("region", "name a region within your scope")
    rows = repo.consumption_rows(session, part_id=part.id, warehouse_ids=warehouse_ids)
    history = weekly_series(rows, end=now or utcnow(), weeks=WEEKS_OF_HISTORY)
    first = next((i for i, v in enumerate(history) if v), len(history))
    history = history[first:]
    forecast, method = fit_forecast(history, season=SEASON_WEEKS, horizon=horizon_weeks)
    lead_weeks = round(max(lead_hours, 24) / (24 * 7), 3)
    return ForecastPublic(
        sku=sku,
        region=region or "",
        history_weeks=len(history),
        weekly_history=history,
        weekly_forecast=[round(v, 2) for v in forecast],
        method=method,
        suggested_safety_level=safety_level(forecast, history, lead_weeks),
        lead_time_weeks=lead_weeks,
        backtest=backtest(history, season=SEASON_WEEKS, holdout=min(8, max(1, len(history) // 5))),
    )
