"""Settings of the worker, API and CLI, read from SERVFLOW_* environment variables."""

from __future__ import annotations

from decimal import Decimal
from functools import cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="SERVFLOW_", extra="ignore")

    temporal_address: str = "localhost:7233"
    temporal_namespace: str = "default"
    task_queue: str = "servflow"
    temporal_ui_url: str = "http://localhost:8233"

    database_url: str = "sqlite:///var/servflow.db"

    worker_max_concurrent_activities: int = Field(default=100, ge=1)
    worker_max_concurrent_workflow_tasks: int = Field(default=100, ge=1)
    worker_max_cached_workflows: int = Field(default=2000, ge=0)
    worker_metrics_address: str = Field(
        default="", description="host:port of the worker's Prometheus metrics; empty: off"
    )

    api_host: str = "127.0.0.1"
    api_port: int = 8000
    jwt_secret: str = Field(default="", description="empty: one is generated under var/")
    jwt_ttl_minutes: int = 12 * 60
    auth_cache_seconds: float = Field(default=30, ge=0, description="0: look up every request")

    jwt_max_ttl_minutes: int = Field(default=24 * 60, ge=1, description="no token lives longer")
    demo: bool = Field(
        default=False,
        description="`make run`'s demo: demo users and generated secrets are allowed",
    )
    actor_key: str = Field(
        default="", description="HMAC key proving submitted steps' actors (API and worker)"
    )
    payload_key: str = Field(
        default="", description="base64 AES-256 key of the Temporal payload codec"
    )
    codec_allowed_origins: str = Field(
        default="http://localhost:8233", description="Temporal UI origins the codec answers"
    )
    ledger_key: str = Field(
        default="", description="base64 Ed25519 seed (32 bytes) signing ledger checkpoints"
    )
    settlement_ceiling: Decimal = Field(
        default=Decimal("20000.00"), ge=0, description="an order above it waits for approval"
    )
    login_attempts_per_minute: int = Field(default=10, ge=1)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    step_wait_seconds: float = Field(
        default=20, gt=0, le=120, description="how long a step submission waits for the order"
    )
    step_watch_listen: bool = Field(
        default=True, description="on PostgreSQL, LISTEN/NOTIFY wakes the long polls at once"
    )
    step_watch_fallback_seconds: float = Field(
        default=5, gt=0, description="long polls re-read the store this often while listening"
    )
    reconcile_every_seconds: float = Field(
        default=60, ge=0, description="the worker repairs the read model this often; 0: off"
    )

    wecom_webhook_url: str = Field(
        default="", description="group robot for escalations of regions without their own"
    )
    wecom_api_base: str = "https://qyapi.weixin.qq.com"
    wecom_corp_id: str = ""
    wecom_agent_id: int = 0
    wecom_secret: str = Field(default="", description="the app's secret (gettoken)")
    wecom_token: str = Field(default="", description="callback Token")
    wecom_encoding_aes_key: str = Field(default="", description="callback EncodingAESKey")
    wecom_region_webhooks: str = Field(
        default="", description="region=robot webhook URL, comma-separated (escalations)"
    )
    wecom_user_map: str = Field(
        default="", description="username=WeCom userid, comma-separated; else the username"
    )
    wecom_robot_per_minute: int = Field(default=20, ge=1, le=20)
    notify_relay_every_seconds: float = Field(
        default=2, ge=0, description="the worker delivers the outbox this often; 0: off"
    )
    notify_max_attempts: int = Field(default=8, ge=1)
    notify_claim_seconds: float = Field(
        default=30, gt=0, description="a relay holds a message this long while sending it"
    )
    intake_definition_key: str = Field(
        default="installation", description="the pipeline a paid marketplace order runs"
    )
    douyin_app_key: str = ""
    douyin_app_secret: str = ""
    uploads_dir: str = Field(default="var/uploads", description="photos and signatures")
    # Uploads in an S3-compatible store instead of uploads_dir (docs/channels.md).
    upload_store: Literal["disk", "s3"] = "disk"
    upload_s3_endpoint: str = Field(default="", description="e.g. https://oss-cn-beijing...")
    upload_s3_bucket: str = ""
    upload_s3_access_key: str = ""
    upload_s3_secret_key: str = ""
    upload_s3_region: str = "us-east-1"
    upload_s3_prefix: str = Field(default="uploads/", description="key prefix in the bucket")
    # Texts (the customer's sign-off link) by Alibaba Cloud SMS; "": logged (docs/channels.md).
    sms_provider: Literal["", "aliyun"] = ""
    sms_endpoint: str = "https://dysmsapi.aliyuncs.com"
    sms_region: str = "cn-hangzhou"
    sms_access_key_id: str = ""
    sms_access_key_secret: str = ""
    sms_sign_name: str = Field(default="", description="the approved signature, e.g. 某某服务")
    sms_template_code: str = Field(default="", description="SMS_…; its parameter: ${link}")
    public_base_url: str = Field(
        default="", description="https://… the customers' links start with; empty: relative"
    )
    intake_every_seconds: float = Field(
        default=10, ge=0, description="the worker polls feeds and retries intake; 0: off"
    )
    tmall_tmc_url: str = Field(default="", description="TOP router for TMC; empty: no Tmall")
    tmall_app_key: str = ""
    tmall_app_secret: str = ""
    jd_api_url: str = Field(default="", description="JOS router; empty: no JD polling")
    jd_app_key: str = ""
    jd_app_secret: str = ""
    # Marketplace open APIs (writeback, Douyin order detail/decrypt) and geocoding:
    # docs/marketplaces.md. Empty: that platform's writeback rows stay pending.
    douyin_api_url: str = Field(default="", description="https://openapi-fxg.jinritemai.com")
    douyin_shop_id: str = ""
    douyin_sign_method: Literal["hmac-sha256", "md5"] = "hmac-sha256"
    tmall_api_url: str = Field(default="", description="TOP router; empty: the TMC one")
    tmall_session: str = Field(default="", description="the seller's TOP session key")
    tmall_sign_method: Literal["md5", "hmac", "hmac-sha256"] = "md5"
    jd_access_token: str = ""
    writeback_max_attempts: int = Field(default=8, ge=1)
    amap_key: str = Field(default="", description="AMap (Gaode) web service key; empty: centroids")
    amap_api_url: str = "https://restapi.amap.com"

    log_format: Literal["text", "json"] = Field(
        default="text", description='"json": one JSON object per line, for production'
    )
    tracing: Literal["off", "console", "otlp"] = Field(
        default="off", description="OpenTelemetry spans API -> workflow -> activity (tracing.py)"
    )
    tracing_endpoint: str = Field(default="", description='OTLP/HTTP URL when tracing="otlp"')


@cache
def get_settings() -> Settings:
    return Settings()
