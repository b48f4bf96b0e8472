"""Customer use cases: one record per person across channels — phone, WeCom external id,
Douyin/Tmall/JD buyer ids — merged by rules with an audit; addresses with coordinates,
assets with warranties; search and a profile within the caller's scope."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from servflow.customers import repo
from servflow.customers.models import (
    Customer,
    CustomerAddress,
    CustomerAsset,
    CustomerIdentity,
    CustomerMerge,
    SignoffLink,
    Survey,
)
from servflow.customers.rules import RATING_RANGE, Nps, is_detractor, nps_by
from servflow.org import service as org
from servflow.org.rules import Principal
from servflow.platform.base import utcnow
from servflow.platform.errors import AppError, Conflict, Invalid, NotFound

log = logging.getLogger(__name__)

lock_customer = repo.lock_customer
customer_by_phone = repo.get_customer_by_phone
IDENTITY_KINDS = ("phone", "wecom", "douyin", "tmall", "jd", "contact")
PLACEHOLDER_NAMES = ("匿名客户", "")


def _home(session: Session, lat: float | None, lng: float | None) -> str:
    """The org path of the outlet nearest to the customer ("" when not located)."""
    if lat is None:
        return ""
    unit = org.nearest_outlet(session, lat=lat, lng=lng or 0.0).unit
    return unit.path if unit is not None else ""


def link_or_create_customer(
    session: Session,
    *,
    name: str,
    phone: str | None,
    address: str = "",
    city: str = "",
    lat: float | None = None,
    lng: float | None = None,
) -> tuple[Customer, bool]:
    """The customer with this phone, created (with the address) when new.

    Concurrent reports for one new phone both end with the same row: the insert ignores a
    conflict on the unique phone. A known customer gets the address added when it is new.
    A different name given with a known phone does not rename the customer (a phone is
    shared in a household) nor vanish: it is kept as a `contact` identity, found by search
    and shown on the profile; a customer known only by a placeholder takes the name.

    Returns:
        The customer and whether it was created.
    """
    phone = (phone or "").strip() or None
    name = name.strip()
    created = False
    home = _home(session, lat, lng)
    if phone is None:
        customer = Customer(name=name or "匿名客户", phone=None, org_path=home)
        session.add(customer)
        session.flush()
        created = True
    else:
        created = repo.insert_customer_once(session, name=name, phone=phone, org_path=home)
        found = repo.get_customer_by_phone(session, phone=phone)
        assert found is not None
        customer = found
        repo.add_identity_once(session, customer_id=customer.id, kind="phone", value=phone)
        _keep_name(session, customer, name, phone)
    if not customer.org_path and home:
        customer.org_path = home
    known = {(a.address, a.lat, a.lng) for a in customer.addresses}
    if (address or lat is not None) and (address, lat, lng) not in known:
        session.add(
            CustomerAddress(customer=customer, address=address, city=city, lat=lat, lng=lng)
        )
        session.flush()
    return customer, created


def _keep_name(session: Session, customer: Customer, name: str, phone: str) -> None:
    if not name or name == customer.name:
        return
    if customer.name in (*PLACEHOLDER_NAMES, phone):
        customer.name = name
        return
    log.info("customer %s (%s) reached as %r: kept as a contact", customer.id, customer.name, name)
    repo.add_identity_once(
        session, customer_id=customer.id, kind="contact", value=f"{name}/{phone}"[:200]
    )


def link_identity(
    session: Session, *, customer: Customer, kind: str, value: str, by: str
) -> Customer:
    """Adds a channel identity to `customer`. When another customer already holds it, the
    two are one person (rule `same_<kind>`): the newer record is merged into the older.

    Returns:
        The customer that holds the identity now.
    """
    if kind not in IDENTITY_KINDS:
        raise Invalid(f"kind: one of {', '.join(IDENTITY_KINDS)}", errors={"kind": "unknown"})
    value = value.strip()[:200]
    if not value:
        return customer
    owner = repo.owner_of(session, kind=kind, value=value)
    if owner is None:
        repo.add_identity_once(session, customer_id=customer.id, kind=kind, value=value)
        return customer
    if owner == customer.id:
        return customer
    kept, merged = sorted((owner, customer.id))
    merge(
        session, kept_id=kept, merged_id=merged, rule=f"same_{kind}", by=by, detail={"value": value}
    )
    found = repo.get_customer(session, customer_id=kept)
    assert found is not None
    return found


def merge(
    session: Session,
    *,
    kept_id: int,
    merged_id: int,
    rule: str,
    by: str,
    detail: dict[str, Any] | None = None,
) -> CustomerMerge:
    """Moves everything of `merged_id` to `kept_id` and records who merged by which rule.
    The merged record stays (its orders point at it) but is empty; its phone moves to the
    kept customer as an identity."""
    if kept_id == merged_id:
        raise Invalid(
            "other_id: a customer cannot be merged with itself", errors={"other_id": "same"}
        )
    kept = repo.get_customer(session, customer_id=kept_id)
    merged = repo.get_customer(session, customer_id=merged_id)
    if kept is None or merged is None:
        raise NotFound("no such customer")
    moved = repo.move_children(session, from_id=merged_id, to_id=kept_id)
    if merged.phone:
        repo.add_identity_once(session, customer_id=kept_id, kind="phone", value=merged.phone)
    audit = CustomerMerge(
        kept_id=kept_id,
        merged_id=merged_id,
        rule=rule,
        by=by,
        detail={**(detail or {}), "moved": moved, "merged_name": merged.name},
        created_at=utcnow(),
    )
    session.add(audit)
    session.flush()
    session.expire_all()
    return audit


def location(session: Session, *, customer_id: int) -> tuple[float, float] | None:
    """Where the customer's latest located address is, if any."""
    customer = repo.get_customer(session, customer_id=customer_id)
    located = [a for a in (customer.addresses if customer else []) if a.lat is not None]
    if not located:
        return None
    return located[-1].lat or 0.0, located[-1].lng or 0.0


def add_asset(
    session: Session,
    *,
    customer_id: int,
    product: str,
    serial_no: str = "",
    order_id: str = "",
    installed_on: date | None = None,
    warranty_until: date | None = None,
) -> CustomerAsset:
    asset = CustomerAsset(
        customer_id=customer_id,
        product=product[:200],
        serial_no=serial_no[:100],
        order_id=order_id[:200],
        installed_on=installed_on,
        warranty_until=warranty_until,
        created_at=utcnow(),
    )
    session.add(asset)
    session.flush()
    return asset


def search_customers(
    session: Session, user: Principal, *, text: str, limit: int, offset: int
) -> tuple[list[Customer], int]:
    """Customers within the caller's scope by name, phone, contact name or channel id."""
    return repo.search(
        session, text=text.strip()[:100], scope_path=user.scope_path, limit=limit, offset=offset
    )


@dataclass
class Profile:
    customer: Customer
    identities: list[CustomerIdentity]
    assets: list[CustomerAsset]
    surveys: list[Survey]
    merges: list[CustomerMerge]
    merged_ids: list[int] = field(default_factory=list)


def visible_customer(session: Session, user: Principal, *, customer_id: int) -> Customer:
    """The customer, or NotFound when unknown or outside the caller's scope (alike)."""
    customer = repo.get_customer(session, customer_id=customer_id)
    if customer is None or not repo.is_visible(
        session, customer_id=customer_id, scope_path=user.scope_path
    ):
        raise NotFound(f"no customer {customer_id}")
    return customer


def profile(session: Session, user: Principal, *, customer_id: int) -> Profile:
    """Everything known of a customer in scope (the orders come from the orders domain)."""
    customer = visible_customer(session, user, customer_id=customer_id)
    merges = repo.merges_into(session, customer_id=customer_id)
    ids = [customer_id, *(m.merged_id for m in merges)]
    return Profile(
        customer=customer,
        identities=repo.identities(session, customer_id=customer_id),
        assets=repo.assets(session, customer_ids=ids),
        surveys=repo.surveys(session, customer_ids=ids),
        merges=merges,
        merged_ids=ids[1:],
    )


# ---- sign-off and NPS -----------------------------------------------------------------------

LINK_TTL = timedelta(hours=72)
MAX_COMMENT = 500


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_signoff_link(
    session: Session,
    *,
    order_id: str,
    customer_id: int | None,
    org_path: str,
    region: str,
    outlet: str,
    engineer: str,
    now: datetime,
    node_id: str = "",
) -> tuple[str, SignoffLink]:
    """A one-time link for the customer (the token is shown once; only its hash is kept).
    `node_id`: the order's waiting sign-off step the customer's answer completes ("" for
    a survey only)."""
    token = secrets.token_urlsafe(32)
    link = SignoffLink(
        token_hash=_hash(token),
        order_id=order_id,
        customer_id=customer_id,
        org_path=org_path,
        region=region,
        outlet=outlet,
        engineer=engineer,
        node_id=node_id,
        expires_at=now + LINK_TTL,
        created_at=now,
    )
    session.add(link)
    session.flush()
    return token, link


def open_link(session: Session, *, token: str, now: datetime) -> SignoffLink:
    """The link of `token` while it can be signed; NotFound (saying which) when unknown,
    used or expired."""
    link = repo.link_by_hash(session, token_hash=_hash(token[:100]))
    if link is None:
        raise NotFound("this sign-off link is unknown")
    if link.used_at is not None:
        raise NotFound("this sign-off link was used: the service is signed off")
    if link.expires_at <= now:
        raise NotFound("this sign-off link expired: ask the engineer for a new one")
    return link


def link_to_sign(session: Session, *, token: str, now: datetime) -> SignoffLink:
    """The link of `token` for a sign-off: unknown is NotFound, expired (unused) is 410;
    a used link is returned, its answer being compared by `sign_off`."""
    link = repo.link_by_hash(session, token_hash=_hash(token[:100]))
    if link is None:
        raise NotFound("this sign-off link is unknown")
    if link.used_at is None and link.expires_at <= now:
        raise AppError(
            f"this sign-off link expired at {link.expires_at:%Y-%m-%d %H:%M} UTC:"
            " ask the engineer for a new one",
            status_code=410,
            reason="expired",
        )
    return link


def check_answer(rating: int, comment: str) -> None:
    """Invalid (naming the field) unless the rating is 0-10 and the comment short enough."""
    if not RATING_RANGE[0] <= rating <= RATING_RANGE[1]:
        raise Invalid("rating: 0 to 10", errors={"rating": "must be 0 to 10"})
    if len(comment) > MAX_COMMENT:
        raise Invalid(f"comment: at most {MAX_COMMENT} characters", errors={"comment": "too long"})


def _same_answer(survey: Survey, *, rating: int, comment: str, signature_file: str | None) -> bool:
    same = survey.rating == rating and survey.comment == comment.strip()
    return same and (signature_file is None or survey.signature_file == signature_file)


def answered(
    session: Session, link: SignoffLink, *, rating: int, comment: str, signature_file: str | None
) -> Survey | None:
    """The survey of a used link when this answer is the one it was signed with (a double
    tap, a retry): answered alike. None for an unused link.

    Raises:
        Conflict: the link was used with another answer (`signature_file` None: only the
            rating and comment are compared).
    """
    if link.used_at is None:
        return None
    survey = repo.survey_of_order(session, order_id=link.order_id)
    if survey is None or not _same_answer(
        survey, rating=rating, comment=comment, signature_file=signature_file
    ):
        raise Conflict(
            f"this sign-off link was used at {link.used_at:%Y-%m-%d %H:%M} UTC with another"
            " answer: a link signs once",
            reason="used",
        )
    return survey


def sign_off(
    session: Session,
    *,
    token: str,
    rating: int,
    comment: str,
    signature_file: str,
    now: datetime,
) -> tuple[Survey, bool]:
    """Records the customer's sign-off once (the link is spent by a conditional UPDATE); a
    detractor's score (0-6) marks a follow-up.

    Returns:
        The survey, and True when this call recorded it (False: the same answer was
        recorded before, by an earlier or a concurrent call).

    Raises:
        Conflict: the link was used with another answer.
    """
    check_answer(rating, comment)
    link = link_to_sign(session, token=token, now=now)
    kept = answered(session, link, rating=rating, comment=comment, signature_file=signature_file)
    if kept is not None:
        return kept, False
    if not repo.use_link(session, link_id=link.id, now=now):
        # A concurrent call spent it first (and has committed: the UPDATE waited for it).
        session.expire(link)
        kept = answered(
            session, link, rating=rating, comment=comment, signature_file=signature_file
        )
        if kept is None:
            raise Conflict("this sign-off link is being used right now: try again")
        return kept, False
    survey = Survey(
        order_id=link.order_id,
        customer_id=link.customer_id,
        org_path=link.org_path,
        region=link.region,
        outlet=link.outlet,
        engineer=link.engineer,
        rating=rating,
        comment=comment.strip(),
        signature_file=signature_file,
        follow_up=is_detractor(rating),
        created_at=now,
    )
    session.add(survey)
    session.flush()
    return survey, True


def step_submitted(session: Session, *, link_id: int, now: datetime) -> None:
    """Records that the order took the link's sign-off as its step."""
    repo.step_submitted(session, link_id=link_id, now=now)


def customer_name(session: Session, *, customer_id: int | None) -> str:
    customer = repo.get_customer(session, customer_id=customer_id or 0)
    return customer.name if customer is not None else ""


def nps_report(session: Session, user: Principal, *, group_by: str) -> list[Nps]:
    if group_by not in ("region", "outlet", "engineer"):
        raise Invalid("group_by: region, outlet or engineer", errors={"group_by": "unknown"})
    return nps_by(repo.ratings(session, group_by=group_by, scope_path=user.scope_path))


def follow_ups(session: Session, user: Principal, *, limit: int = 100) -> list[Survey]:
    return repo.follow_ups(session, scope_path=user.scope_path, limit=limit)


def find_by_phone(session: Session, *, phone: str) -> Customer | None:
    return repo.get_customer_by_phone(session, phone=phone)


def has_identity(session: Session, *, kind: str, value: str) -> bool:
    return repo.owner_of(session, kind=kind, value=value) is not None


def has_asset(session: Session, *, customer_id: int, serial_no: str) -> bool:
    return any(a.serial_no == serial_no for a in repo.assets(session, customer_ids=[customer_id]))


# ---- a detractor's follow-up ------------------------------------------------------------

FOLLOW_UP_DEFINITION = "nps_followup"
FOLLOW_UP_DEFINITION_FILE = Path(__file__).parent / "data" / "nps_followup.json"


def follow_up_definition() -> dict[str, Any]:
    """The follow-up pipeline (a report, then the call-back task for role
    `customer_care` of the rated order's scope); published when none is, and again when
    it changed while the latest version is still the one shipped (`system`'s): a
    designer's version is kept."""
    raw: dict[str, Any] = json.loads(FOLLOW_UP_DEFINITION_FILE.read_text(encoding="utf-8"))
    return raw


@dataclass(frozen=True)
class FollowUpToOpen:
    """What the follow-up order of a detractor's survey starts with."""

    survey_id: int
    order_id: str
    survey_order_id: str
    rating: int
    comment: str
    region: str
    outlet: str
    customer: dict[str, Any]


def follow_up_order_id(survey_order_id: str) -> str:
    """One follow-up order per survey (a survey is one per order): its workflow id."""
    safe = "".join(ch for ch in survey_order_id if ch.isalnum() or ch in "-_")[:180]
    return f"nps-{safe}"


def follow_ups_to_open(session: Session, *, limit: int = 50) -> list[FollowUpToOpen]:
    """Detractors' surveys (0-6) whose follow-up order is not opened yet, oldest first."""
    opening = []
    for survey in repo.follow_ups_to_open(session, limit=limit):
        customer = repo.get_customer(session, customer_id=survey.customer_id or 0)
        where = customer.addresses[0] if customer is not None and customer.addresses else None
        opening.append(
            FollowUpToOpen(
                survey_id=survey.id,
                order_id=follow_up_order_id(survey.order_id),
                survey_order_id=survey.order_id,
                rating=survey.rating,
                comment=survey.comment,
                region=survey.region,
                outlet=survey.outlet,
                customer={
                    "name": customer.name if customer is not None else "匿名客户",
                    "phone": (customer.phone or "") if customer is not None else "",
                    "address": where.address if where is not None else "",
                    "city": where.city if where is not None else "",
                    "lat": where.lat if where is not None else None,
                    "lng": where.lng if where is not None else None,
                },
            )
        )
    return opening


def follow_up_opened(session: Session, *, survey_id: int, order_id: str) -> bool:
    """Records that the survey's follow-up order is open; True for the first call only."""
    return repo.mark_follow_up(session, survey_id=survey_id, order_id=order_id)
