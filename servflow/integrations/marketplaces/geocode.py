"""Where a buyer's address is: AMap's (Gaode) geocoding web service when configured, else
(or when it fails or finds nothing) the centroid of the address's city, or of its
province's capital. Coordinates as AMap gives them (GCJ-02, as the demo's outlets)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

import httpx

from servflow.platform.settings import Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Located:
    lat: float
    lng: float
    source: str  # "amap", "city" or "province"


class Geocoder(Protocol):
    def locate(self, *, address: str, city: str, province: str = "") -> Located | None: ...


class AmapGeocoder:
    """GET {url}/v3/geocode/geo?key&address&city → {"status": "1", "geocodes":
    [{"location": "lng,lat"}]}; status 0 (bad key, over quota), no match or a network
    error give None."""

    def __init__(self, *, url: str, key: str, http: httpx.Client | None = None) -> None:
        self.url, self.key = url.rstrip("/"), key
        self.http = http or httpx.Client(timeout=5)

    def locate(self, *, address: str, city: str, province: str = "") -> Located | None:
        try:
            response = self.http.get(
                f"{self.url}/v3/geocode/geo",
                params={"key": self.key, "address": address, "city": city, "output": "JSON"},
            )
            body = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            log.warning("AMap geocoding failed: %s", type(exc).__name__)
            return None
        if not isinstance(body, dict) or str(body.get("status")) != "1":
            info = body.get("info") if isinstance(body, dict) else "?"
            log.warning("AMap geocoding refused: %s", info)
            return None
        for geocode in body.get("geocodes") or []:
            lng, _, lat = str((geocode or {}).get("location") or "").partition(",")
            try:
                return Located(lat=float(lat), lng=float(lng), source="amap")
            except ValueError:
                continue
        return None


# City centres (GCJ-02, to about a kilometre): the municipalities, provincial capitals and
# the largest other cities.
CITY_CENTROIDS: dict[str, tuple[float, float]] = {
    "北京": (39.9042, 116.4074),
    "天津": (39.1256, 117.1902),
    "上海": (31.2304, 121.4737),
    "重庆": (29.5630, 106.5516),
    "石家庄": (38.0428, 114.5149),
    "太原": (37.8706, 112.5489),
    "呼和浩特": (40.8414, 111.7519),
    "沈阳": (41.8057, 123.4315),
    "大连": (38.9140, 121.6147),
    "长春": (43.8171, 125.3235),
    "哈尔滨": (45.8038, 126.5349),
    "南京": (32.0603, 118.7969),
    "苏州": (31.2990, 120.5853),
    "无锡": (31.4912, 120.3119),
    "杭州": (30.2741, 120.1551),
    "宁波": (29.8683, 121.5440),
    "合肥": (31.8206, 117.2272),
    "福州": (26.0745, 119.2965),
    "厦门": (24.4798, 118.0894),
    "南昌": (28.6820, 115.8579),
    "济南": (36.6512, 117.1201),
    "青岛": (36.0671, 120.3826),
    "郑州": (34.7466, 113.6254),
    "武汉": (30.5928, 114.3055),
    "长沙": (28.2282, 112.9388),
    "广州": (23.1291, 113.2644),
    "深圳": (22.5431, 114.0579),
    "佛山": (23.0215, 113.1214),
    "东莞": (23.0207, 113.7518),
    "南宁": (22.8170, 108.3665),
    "海口": (20.0440, 110.1999),
    "成都": (30.5728, 104.0668),
    "贵阳": (26.6470, 106.6302),
    "昆明": (25.0389, 102.7183),
    "拉萨": (29.6520, 91.1721),
    "西安": (34.3416, 108.9398),
    "兰州": (36.0611, 103.8343),
    "西宁": (36.6171, 101.7782),
    "银川": (38.4872, 106.2309),
    "乌鲁木齐": (43.8256, 87.6168),
}
PROVINCE_CAPITALS = {
    "河北": "石家庄",
    "山西": "太原",
    "内蒙古": "呼和浩特",
    "辽宁": "沈阳",
    "吉林": "长春",
    "黑龙江": "哈尔滨",
    "江苏": "南京",
    "浙江": "杭州",
    "安徽": "合肥",
    "福建": "福州",
    "江西": "南昌",
    "山东": "济南",
    "河南": "郑州",
    "湖北": "武汉",
    "湖南": "长沙",
    "广东": "广州",
    "广西": "南宁",
    "海南": "海口",
    "四川": "成都",
    "贵州": "贵阳",
    "云南": "昆明",
    "西藏": "拉萨",
    "陕西": "西安",
    "甘肃": "兰州",
    "青海": "西宁",
    "宁夏": "银川",
    "新疆": "乌鲁木齐",
    "北京": "北京",
    "天津": "天津",
    "上海": "上海",
    "重庆": "重庆",
}


def _match(name: str, keys: Iterable[str]) -> str | None:
    name = name.strip()
    return next((key for key in keys if name.startswith(key)), None) if name else None


class CentroidGeocoder:
    """The centre of the address's city, else of its province's capital; None when
    neither is known."""

    def locate(self, *, address: str, city: str, province: str = "") -> Located | None:
        key = _match(city, CITY_CENTROIDS)
        if key is not None:
            lat, lng = CITY_CENTROIDS[key]
            return Located(lat=lat, lng=lng, source="city")
        capital = _match(province, PROVINCE_CAPITALS)
        if capital is None:
            capital = _match(address, PROVINCE_CAPITALS)
        if capital is not None:
            lat, lng = CITY_CENTROIDS[PROVINCE_CAPITALS[capital]]
            return Located(lat=lat, lng=lng, source="province")
        return None


class FallbackGeocoder:
    """Asks each geocoder in turn; the first answer wins."""

    def __init__(self, *geocoders: Geocoder) -> None:
        self.geocoders = geocoders

    def locate(self, *, address: str, city: str, province: str = "") -> Located | None:
        for geocoder in self.geocoders:
            found = geocoder.locate(address=address, city=city, province=province)
            if found is not None:
                return found
        return None


def geocoder_from_settings(settings: Settings, *, http: httpx.Client | None = None) -> Geocoder:
    """AMap then centroids when `amap_key` is set; centroids alone otherwise."""
    if settings.amap_key:
        amap = AmapGeocoder(url=settings.amap_api_url, key=settings.amap_key, http=http)
        return FallbackGeocoder(amap, CentroidGeocoder())
    return CentroidGeocoder()
